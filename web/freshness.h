#ifndef WEB_FRESHNESS_H
#define WEB_FRESHNESS_H

/* The freshness watermark (docs/web-api.md "Freshness"): from the rollup's
 * progress per partition in rollup_progress, and, with --brokers, the log
 * ends Kafka reports now, so that a stopped rollup shows as behind. Kafka
 * is asked at most once a second, whatever the number of requests.
 * Thread-safe. */

#include <jansson.h>
#include <stdbool.h>

#include "common/config.h"
#include "web/db.h"

/* A freshness older than this with nothing behind is "stale". */
#define WEB_FRESH_SECONDS 10.0

struct web_freshness;

/* brokers: NULL or "" to read rollup_progress alone; config gives the -X
 * properties. topic is copied. Returns 0 and *out (caller owns it), or
 * MOCHI_ERR_INVALID (a -X property librdkafka refused) / MOCHI_ERR_NOMEM
 * with the reason in err. */
int web_freshness_new(const struct mochi_config *config, const char *brokers, const char *topic,
                      struct web_freshness **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void web_freshness_destroy(struct web_freshness *fresh);

/* {"counted_up_to": RFC 3339 UTC | null, "lag_seconds": x.y | null,
 * "behind": N, "state": "current" | "catching_up" | "stale" | "unknown",
 * "partitions": N}, and, when zone is not NULL, "local_time" (HH:MM:SS
 * in that zone, with the date before it when it is not today there) |
 * null. Returns 0 with *out (caller owns it) or a database error. */
int web_freshness_get(struct web_freshness *fresh, struct web_db *db, const char *zone,
                      json_t **out) __attribute__((warn_unused_result));

/* The watermark from per-partition progress, pure (for tests): n
 * partitions with next[i], end[i] (-1: unknown), end_seen_us[i] and
 * applied_us[i] (-1: NULL); live_end[i] the log end Kafka reports now (-1:
 * not asked) as of live_at_us. Sets *t_us (-1: unknown) and *behind. */
void web_freshness_compute(int n, const long long *next, const long long *end,
                           const long long *end_seen_us, const long long *applied_us,
                           const long long *live_end, long long live_at_us, long long *t_us,
                           long long *behind);

#endif
