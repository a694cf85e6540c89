#ifndef MOCHI_STREAM_REWIND_H
#define MOCHI_STREAM_REWIND_H

/* Internal to the stream library: messages handed back while the database
 * is away, partitions read again from where the applier's records end (a
 * gap), and the guard that keeps the offsets from passing either
 * (rewind.c says why). Main thread only. */

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "stream/batch.h"

/* A partition to be read again from next_offset. */
struct stream_rewind {
    int32_t partition;
    int64_t next_offset; /* the offset that must be the next one taken */
    bool gap;            /* from stream_rewind_to: no message there is known */
    int64_t beyond;      /* of a gap: the offset last handed back beyond it ... */
    int times;           /* ... and how many times in a row it came first */
};

struct stream_rewinds {
    rd_kafka_t *consumer;
    const char *topic;
    const char *component;
    struct stream_rewind mark[STREAM_MAX_PARTITIONS];
    size_t n;
};

/* Seeks m's partition back to its rewind, made m's offset unless an
 * earlier one is pending. A failed seek is logged; the rewind stays, so
 * the next message beyond it is handed back and the seek tried again. */
void stream_rewind_hand_back(struct stream_rewinds *r, const rd_kafka_message_t *m);

/* Seeks partition back to offset, where the applier's records end (a gap),
 * unless an earlier rewind is pending; as after a hand-back, nothing of the
 * partition beyond offset is taken until offset itself is. */
void stream_rewind_to(struct stream_rewinds *r, int32_t partition, int64_t offset);

/* True when m lies beyond a message handed back (or a gap's start) that
 * was not read again, so that taking it would let the offsets pass that
 * message. m at the rewind itself ends it. When there is nothing left to
 * read there (the broker deleted it, or a gap's partition keeps starting
 * at m after seeks back: no message lies between), the rewind ends too,
 * false is returned and *hole_from is set to the rewind's offset: the
 * caller takes m as read from there. Otherwise *hole_from is left alone. */
bool stream_rewind_beyond(struct stream_rewinds *r, const rd_kafka_message_t *m,
                          int64_t *hole_from);

/* True when partition has a message handed back that was not read again. */
bool stream_rewind_pending(const struct stream_rewinds *r, int32_t partition);

/* Drops the rewinds of parts (revoked or newly assigned). */
void stream_rewinds_forget(struct stream_rewinds *r, const rd_kafka_topic_partition_list_t *parts);

#endif
