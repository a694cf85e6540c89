#ifndef MOCHI_STREAM_REWIND_H
#define MOCHI_STREAM_REWIND_H

/* Internal to the stream library: messages handed back while the database
 * is away, and the guard that keeps the offsets from passing them
 * (rewind.c says why). Main thread only. */

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "stream/batch.h"

struct stream_rewinds {
    rd_kafka_t *consumer;
    const char *topic;
    const char *component;
    /* Partitions with a message handed back: next_offset is the offset
     * that must be the next one taken from it. */
    struct stream_mark mark[STREAM_MAX_PARTITIONS];
    size_t n;
};

/* Seeks m's partition back to its rewind, made m's offset unless an
 * earlier one is pending. A failed seek is logged; the rewind stays, so
 * the next message beyond it is handed back and the seek tried again. */
void stream_rewind_hand_back(struct stream_rewinds *r, const rd_kafka_message_t *m);

/* True when m lies beyond a message handed back that was not read again,
 * so that taking it would let the offsets pass that message. m at the
 * rewind itself ends it. */
bool stream_rewind_beyond(struct stream_rewinds *r, const rd_kafka_message_t *m);

/* True when partition has a message handed back that was not read again. */
bool stream_rewind_pending(const struct stream_rewinds *r, int32_t partition);

/* Drops the rewinds of parts (revoked or newly assigned). */
void stream_rewinds_forget(struct stream_rewinds *r, const rd_kafka_topic_partition_list_t *parts);

#endif
