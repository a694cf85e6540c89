#ifndef MOCHI_STREAM_ENDS_H
#define MOCHI_STREAM_ENDS_H

/* Internal to the stream library: where each assigned partition ends, for
 * an applier that records its progress (mochi_stream_ops.idle), so that a
 * reader can say "every event Kafka had accepted by T is applied".
 *
 * Such a claim needs a log end the stream knows was current at a known
 * time. librdkafka's cached high watermark has no age: it is as old as the
 * last fetch response, and while the partitions are paused (the database
 * is away) or the broker is unreachable it stops moving while producers
 * may go on. So the stream looks the end up itself (a ListOffsets round
 * trip, rd_kafka_offsets_for_times for the latest offset), noting the time before it
 * sends: the end it gets back was current at least then. It does so about
 * once a second, only for the partitions that it has read to their end
 * (librdkafka's partition-EOF event, which comes after every message
 * before it) and whose messages are all applied, and only while no batch
 * is in flight: then the offset of that event is exactly what the
 * database holds. The cached watermark still gives a batch its log end,
 * which only says how far behind the batch is.
 *
 * Knows nothing of Kafka: loop.c feeds it the events and the look-ups.
 * Main thread only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream/batch.h"
#include "stream/stream.h"

struct stream_end {
    int32_t partition;
    /* The offset of the partition's last EOF event while no message of it
     * came after that event; -1 otherwise. */
    int64_t eof_offset;
    int64_t end_offset;   /* the log end the last look-up found; -1: none yet */
    int64_t seen_mono_ms; /* mochi_clock_mono_ms() before that look-up was sent */
};

struct stream_ends {
    struct stream_end part[STREAM_MAX_PARTITIONS]; /* the assigned partitions */
    size_t n;
    int64_t next_look_ms; /* mochi_clock_mono_ms() of the next round of look-ups */
};

/* A partition assigned (known from now on, nothing known of its end) or
 * revoked (forgotten). */
void stream_ends_assigned(struct stream_ends *e, int32_t partition);
void stream_ends_revoked(struct stream_ends *e, int32_t partition);

/* A message of partition was taken or handed back: it is not read to its
 * end any more. */
void stream_ends_message(struct stream_ends *e, int32_t partition);
/* A partition-EOF event: every message of partition below offset has been
 * taken (or handed back, which stream_ends_message saw first). */
void stream_ends_eof(struct stream_ends *e, int32_t partition, int64_t offset);

/* Gives a batch's mark what is known of its partition's end: end_offset
 * the further of cached_end (librdkafka's cached high watermark, < 0 when
 * unknown) and the last look-up; end_seen_mono_ms that look-up's time when
 * the mark reaches the end it found, else 0. */
void stream_ends_label(const struct stream_ends *e, struct mochi_stream_mark *mark,
                       int64_t cached_end);

/* The partitions to look up now: read to their end (an EOF event since
 * their last message) and with nothing waiting (waiting(arg, partition):
 * messages taken but not applied, or handed back). Writes them to out
 * (room for STREAM_MAX_PARTITIONS) and returns how many. */
size_t stream_ends_idle(const struct stream_ends *e, bool (*waiting)(void *arg, int32_t partition),
                        void *arg, int32_t *out);

/* A look-up of partition, sent at seen_mono_ms, found its log end at end.
 * Remembers it (stream_ends_label), and when the partition is read to that
 * end, fills *mark for the idle hook (next_offset the EOF offset, no
 * timestamp, end_offset end, end_seen_mono_ms seen_mono_ms) and returns
 * true. */
bool stream_ends_found(struct stream_ends *e, int32_t partition, int64_t end, int64_t seen_mono_ms,
                       struct mochi_stream_mark *mark);

#endif
