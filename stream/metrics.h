#ifndef MOCHI_STREAM_METRICS_H
#define MOCHI_STREAM_METRICS_H

/* Internal to the stream library: the metrics a stream updates
 * (mochi_stream_metrics_new in stream.h registers them). Updating a metric
 * is thread-safe (common/metrics.h). */

#include <librdkafka/rdkafka.h>

#include "stream/batch.h"
#include "stream/stream.h"

struct json_t;

struct mochi_stream_metrics {
    struct mochi_metric *outcome[MOCHI_STREAM_MAX_OUTCOMES]; /* ops->outcomes[i] */
    size_t noutcomes;
    struct mochi_metric *invalid; /* undecodable messages */
    struct mochi_metric *too_old; /* events older than the retention, refused */
    struct mochi_metric_family *lag;
    struct mochi_metric *batch_size;
    struct mochi_metric *txn_seconds;
    struct mochi_metric *assigned;
    struct mochi_metric *revoked;
    struct mochi_metric *reconnects;
    struct mochi_metric *db_up;
    struct mochi_metric *dead_letters;
    struct mochi_metric *newest_applied;
    struct mochi_metric *newest_age;
    struct mochi_metric *gaps; /* NULL unless the applier records its progress */
};

/* Counts a batch applied: its size, time, outcomes and newest event. */
void stream_metrics_applied(struct mochi_stream_metrics *m, const struct stream_batch *b);
/* Consumer lag per partition from a librdkafka statistics document. */
void stream_metrics_lag(struct mochi_stream_metrics *m, struct json_t *stats);
/* Sets the lag of revoked partitions to 0: this member no longer reads
 * them, and their gauges would otherwise stay at the last figure. */
void stream_metrics_lag_clear(struct mochi_stream_metrics *m,
                              const rd_kafka_topic_partition_list_t *parts);

#endif
