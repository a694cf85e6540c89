#ifndef CONSUMER_INGEST_H
#define CONSUMER_INGEST_H

/* mochi-consumer's applier: one transaction per batch records the batch's
 * dedupe keys and inserts the raw events whose keys were new. */

#include "stream/stream.h"

/* Outcome labels, in the order of struct mochi_stream_counts. */
enum ingest_outcome { INGEST_STORED, INGEST_DUPLICATE, INGEST_UNKNOWN_SITE };
extern const char *const ingest_outcomes[];

struct ingest;

struct ingest *ingest_new(void);
void ingest_destroy(struct ingest *ingest);

/* mochi_stream_ops callbacks; arg is the struct ingest. */
int ingest_stage(void *arg, int slot, const struct mochi_stream_event *events, size_t n);
int ingest_apply(void *arg, PGconn *conn, const struct mochi_stream_batch *batch,
                 struct mochi_stream_counts *counts);
int ingest_add_metrics(void *arg, struct mochi_metrics *registry);

#endif
