#ifndef MOCHI_STREAM_DLQ_H
#define MOCHI_STREAM_DLQ_H

/* Internal to the stream library: the dead-letter producer, which copies
 * undecodable messages unchanged to <topic>.dlq with headers naming the
 * error, source topic, partition and offset. */

#include <stdatomic.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "common/config.h"
#include "stream/metrics.h"

struct stream_dlq {
    rd_kafka_t *producer;
    const char *source_topic;
    char topic[256];
    const char *component;
    struct mochi_stream_metrics *metrics;
    atomic_int failures; /* since the last stream_dlq_flush */
};

/* Creates the idempotent producer (client.id program) for topic's
 * dead-letter topic. Returns 0, or MOCHI_ERR_INVALID with the reason in
 * err (a -X property librdkafka refused, or no producer). dlq is
 * stream_dlq_close'd either way. */
int stream_dlq_open(struct stream_dlq *dlq, const struct mochi_config *config, const char *program,
                    const char *component, const char *topic, struct mochi_stream_metrics *metrics,
                    char *err, size_t errlen) __attribute__((warn_unused_result));

/* Sends a copy of m, undecodable for err (a MOCHI_ERR_ code); counted and
 * logged. A failure is noted for stream_dlq_flush. */
void stream_dlq_send(struct stream_dlq *dlq, const rd_kafka_message_t *m, int err);

/* Waits (up to 30 s) until every dead letter sent is in Kafka. Returns 0,
 * or MOCHI_ERR_AGAIN when one is not (still queued, or refused since the
 * last flush): the offsets must not pass it yet. */
int stream_dlq_flush(struct stream_dlq *dlq) __attribute__((warn_unused_result));

/* Flushes (up to 10 s) and destroys the producer. On a zeroed dlq, does
 * nothing. */
void stream_dlq_close(struct stream_dlq *dlq);

#endif
