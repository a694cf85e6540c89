#ifndef COLLECTOR_SITES_H
#define COLLECTOR_SITES_H

/* The collector's cache of sites and daily salts, read from PostgreSQL
 * through the collector's least-privilege role and refreshed by a thread of
 * its own. A collector that loses the database keeps serving from the
 * cache (and says so in its log and metrics). */

#include <stdbool.h>
#include <stdint.h>

#include "collector/zones.h"
#include "common/domain.h"
#include "common/hash.h"
#include "common/metrics.h"
#include "common/uuid.h"

struct collector_sites;

struct collector_site {
    unsigned char id[16];
    char id_text[MOCHI_UUID_TEXT_LEN + 1];
    char domain[MOCHI_DOMAIN_MAX + 1];
    char timezone[COLLECTOR_TIMEZONE_MAX + 1]; /* IANA name, "UTC" by default */
};

/* Registers in metrics the families the cache serves, without starting it
 * (for --print-metrics). Returns 0 or MOCHI_ERR_NOMEM. */
int collector_sites_metrics_describe(struct mochi_metrics *metrics)
    __attribute__((warn_unused_result));

/* Creates the cache and starts its refresher, which connects with
 * conninfo and every refresh_ms loads the sites, the local midnights of
 * their time zones (COLLECTOR_SITES_ZONE_DAYS_BEFORE/_AFTER) and the salts
 * of UTC days today-1 .. today+2 (creating them if absent), and expires
 * old salts (common/salt.h), in memory too, also while the database is
 * away. Returns 0 or a
 * negative code; the caller owns *out (collector_sites_destroy). The first
 * load happens on the refresher thread; collector_sites_wait_ready waits
 * for it. conninfo is copied. */
int collector_sites_start(const char *conninfo, long long refresh_ms, struct mochi_metrics *metrics,
                          struct collector_sites **out) __attribute__((warn_unused_result));

/* Stops the refresher and frees the cache. NULL is a no-op. */
void collector_sites_destroy(struct collector_sites *sites);

/* Waits up to timeout_ms for the first successful load. Returns true when
 * the cache holds sites and today's salt. */
bool collector_sites_wait_ready(struct collector_sites *sites, long long timeout_ms);

/* Looks up a tracking key. Returns 0 and a copy of the site, MOCHI_ERR_NOTFOUND,
 * or MOCHI_ERR_AGAIN before the first load. */
int collector_sites_lookup(struct collector_sites *sites, const char *key,
                           struct collector_site *site) __attribute__((warn_unused_result));

/* The local days whose midnights the cache holds, around the UTC day of
 * each refresh: an instant of UTC day T is on local day T-1, T or T+1, so
 * a cache loaded on day T serves until the database has been away for
 * more than a day, as long as the salts it holds. */
#define COLLECTOR_SITES_ZONE_DAYS_BEFORE 2
#define COLLECTOR_SITES_ZONE_DAYS_AFTER 2

/* The day, in site's time zone, of the instant occurred_at_us
 * (microseconds since the epoch): the day whose salt hashes the visitor
 * and that the event carries. site is a copy from collector_sites_lookup.
 * Returns 0 and *day (days since 1970-01-01), or MOCHI_ERR_AGAIN when the
 * cache cannot tell: before the first load, a zone not loaded yet, or an
 * instant outside the local days loaded (the database has been away for
 * days); the HTTP layer answers 503 then, as for a missing salt. Never a
 * guess. Thread-safe. */
int collector_sites_local_day(struct collector_sites *sites, const struct collector_site *site,
                              int64_t occurred_at_us, long long *day)
    __attribute__((warn_unused_result));

/* Copies the salt of day `day` (a site-local day: the days are the same
 * dates everywhere). The cache holds UTC days today-1 .. today+2 while
 * their salts are kept. Returns 0 or MOCHI_ERR_AGAIN when the cache does
 * not hold it (the database has been unreachable since before the day's
 * salt was made, or the day is past its salt's deletion). */
int collector_sites_salt(struct collector_sites *sites, long long day,
                         unsigned char salt[MOCHI_SALT_LEN]) __attribute__((warn_unused_result));

/* What one beacon needs from the cache: its site, the site-local day of
 * the beacon's instant and that day's salt. */
struct collector_site_day {
    struct collector_site site;
    int day_rc; /* 0, or MOCHI_ERR_AGAIN when the day or its salt is not
                 * known (as collector_sites_local_day or _salt say); then
                 * day and salt are unset */
    long long day;
    unsigned char salt[MOCHI_SALT_LEN]; /* the caller wipes it after use */
};

/* collector_sites_lookup, collector_sites_local_day and
 * collector_sites_salt in one read of the cache, under its lock once (the
 * lock's counter is shared by every HTTP worker: each taking of it moves
 * a cache line between cores), and from one state of the cache. Returns
 * what collector_sites_lookup returns; on 0, out->day_rc says whether the
 * day and its salt are known. Thread-safe. */
int collector_sites_resolve(struct collector_sites *sites, const char *key, int64_t occurred_at_us,
                            struct collector_site_day *out) __attribute__((warn_unused_result));

/* Asks the refresher to reload now (used after an unknown key, at most
 * once a second), without waiting. */
void collector_sites_poke(struct collector_sites *sites);

#endif
