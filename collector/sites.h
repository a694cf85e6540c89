#ifndef COLLECTOR_SITES_H
#define COLLECTOR_SITES_H

/* The collector's cache of sites and daily salts, read from PostgreSQL
 * through the collector's least-privilege role and refreshed by a thread of
 * its own. A collector that loses the database keeps serving from the
 * cache (and says so in its log and metrics). */

#include <stdbool.h>
#include <stdint.h>

#include "common/domain.h"
#include "common/hash.h"
#include "common/metrics.h"
#include "common/uuid.h"

struct collector_sites;

struct collector_site {
    unsigned char id[16];
    char id_text[MOCHI_UUID_TEXT_LEN + 1];
    char domain[MOCHI_DOMAIN_MAX + 1];
};

/* Registers in metrics the families the cache serves, without starting it
 * (for --print-metrics). Returns 0 or MOCHI_ERR_NOMEM. */
int collector_sites_metrics_describe(struct mochi_metrics *metrics)
    __attribute__((warn_unused_result));

/* Creates the cache and starts its refresher, which connects with
 * conninfo, loads the sites and the salts of today and tomorrow (creating
 * them if absent) and expires old salts, every refresh_ms. Returns 0 or a
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

/* Copies the salt of UTC day `day`. Returns 0 or MOCHI_ERR_AGAIN when the
 * cache does not hold it (the database has been unreachable since before
 * the day's salt was made). */
int collector_sites_salt(struct collector_sites *sites, long long day,
                         unsigned char salt[MOCHI_SALT_LEN]) __attribute__((warn_unused_result));

/* Asks the refresher to reload now (used after an unknown key, at most
 * once a second), without waiting. */
void collector_sites_poke(struct collector_sites *sites);

#endif
