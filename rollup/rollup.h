#ifndef ROLLUP_ROLLUP_H
#define ROLLUP_ROLLUP_H

/* mochi-rollup's applier: one transaction per batch adds the batch's new
 * page views, entries and visitors to daily_site_metrics,
 * daily_page_metrics, daily_entry_page_metrics and daily_source_metrics, by
 * the site-local day each event carries.
 * "New" is decided by the rollup's own state (rollup_counted for page
 * views, daily_visitors for visitors), so applying a batch twice adds
 * nothing and the rollup never waits for the consumer. The same
 * transaction records how far each partition is counted
 * (rollup_progress), for the freshness watermark. */

#include "stream/stream.h"

enum rollup_outcome { ROLLUP_COUNTED, ROLLUP_DUPLICATE, ROLLUP_UNKNOWN_SITE };
extern const char *const rollup_outcomes[];

struct rollup;

struct rollup *rollup_new(void);
void rollup_destroy(struct rollup *rollup);

/* mochi_stream_ops callbacks; arg is the struct rollup. */
int rollup_prepare(void *arg, PGconn *conn);
/* Adds the batch's events to the aggregates and writes its marks to
 * rollup_progress, in one transaction. */
int rollup_apply(void *arg, PGconn *conn, const struct mochi_stream_batch *batch,
                 struct mochi_stream_counts *counts);
/* Writes the partitions found at their end to rollup_progress. */
int rollup_idle(void *arg, PGconn *conn, const char *topic, const struct mochi_stream_mark *ends,
                size_t n, struct mochi_stream_gap *gaps, size_t *ngaps);
/* True when the event's day falls in a replay's days (read from
 * rollup_replays at most every few seconds). */
bool rollup_accept_old(void *arg, const struct mochi_pageview *ev);

#endif
