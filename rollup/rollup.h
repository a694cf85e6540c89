#ifndef ROLLUP_ROLLUP_H
#define ROLLUP_ROLLUP_H

/* mochi-rollup's applier: one transaction per batch adds the batch's new
 * page views and new visitors to daily_site_metrics and daily_page_metrics.
 * "New" is decided by the rollup's own state (rollup_counted for page
 * views, daily_visitors for visitors), so applying a batch twice adds
 * nothing and the rollup never waits for the consumer. */

#include "stream/stream.h"

enum rollup_outcome { ROLLUP_COUNTED, ROLLUP_DUPLICATE, ROLLUP_UNKNOWN_SITE };
extern const char *const rollup_outcomes[];

struct rollup;

struct rollup *rollup_new(void);
void rollup_destroy(struct rollup *rollup);

/* mochi_stream_ops callbacks; arg is the struct rollup. */
int rollup_prepare(void *arg, PGconn *conn);
int rollup_apply(void *arg, int slot, PGconn *conn, const struct mochi_stream_event *events,
                 size_t n, struct mochi_stream_counts *counts);
/* True when occurred_at falls in a replay's days (read from rollup_replays
 * at most every few seconds). */
bool rollup_accept_old(void *arg, int64_t occurred_at_us);

#endif
