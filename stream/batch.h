#ifndef MOCHI_STREAM_BATCH_H
#define MOCHI_STREAM_BATCH_H

/* Internal to the stream library: the batch double buffer and its applier
 * thread. The poll loop fills the batch in hand while the applier thread
 * applies the one in flight, so that decoding overlaps the database's
 * work. Batches are applied one at a time and in order: a batch leaves the
 * hand only once the one before it is applied and settled (its offsets
 * committed by the settled hook). A batch whose apply failed stays in
 * flight, not flying, until it is applied again.
 *
 * The module knows nothing of Kafka or PostgreSQL: it calls the hooks it
 * was given. Every function but the hooks' apply runs on the main thread
 * (the one that polls); apply runs on the applier thread, or on the main
 * thread while the applier is idle, never two at once. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream/stream.h"

#define STREAM_MAX_PARTITIONS 1024

/* The texts of a batch's events, in blocks that never move (an event
 * points into them) and are kept for the next batch once this one is
 * emptied. */
struct stream_text_block {
    struct stream_text_block *next;
    size_t used, size;
    char data[];
};

struct stream_text {
    struct stream_text_block *first, *cur;
};

/* The most text one event holds: its five texts at their longest, each
 * with its NUL. */
#define STREAM_EVENT_TEXT_MAX                                                                      \
    (MOCHI_UUID_TEXT_LEN + MOCHI_PATH_MAX + MOCHI_REFERRER_MAX + MOCHI_HASH_HEX_LEN +              \
     MOCHI_SOURCE_MAX + 5)

/* A batch: events decoded from Kafka, the offsets they cover, and what
 * applying it gave. */
struct stream_batch {
    struct mochi_stream_event *events; /* room for stream_batches_init's capacity */
    size_t nevents;
    struct stream_text text;                               /* what the events' texts point to */
    struct mochi_stream_mark marks[STREAM_MAX_PARTITIONS]; /* offsets the batch covers */
    size_t nmarks;
    int slot;    /* 0 or 1, as passed to the stage and apply hooks */
    bool staged; /* the stage hook has seen the batch as it is */
    int rc;      /* of the last apply (or stage) */
    struct mochi_stream_counts counts;
    int64_t apply_ms;
    /* Where the applier found its records short of the batch (rc
     * MOCHI_ERR_GAP). */
    struct mochi_stream_gap gaps[STREAM_MAX_PARTITIONS];
    size_t ngaps;
};

struct stream_batch_hooks {
    void *arg;
    /* Optional, on the main thread: prepares a batch that changed since it
     * was last staged (mochi_stream_ops.stage). A negative return fails
     * the batch, which is settled as failed and tried again later. */
    int (*stage)(void *arg, int slot, const struct mochi_stream_event *events, size_t n);
    /* Applies b (nevents > 0), filling b->counts; returns 0 or a negative
     * code. Runs on the applier thread or on the main thread. */
    int (*apply)(void *arg, struct stream_batch *b);
    /* On the main thread, once b's apply (or stage) is over, with b->rc
     * its result: on 0 counts it and commits its offsets (the batch is
     * emptied afterwards), otherwise notes the failure (the batch is kept
     * and applied again). sync: the commit must be synchronous. */
    void (*settled)(void *arg, const struct stream_batch *b, bool sync);
    /* apply is called for a batch without events but with offsets too
     * (every message was skipped), so that it can record them. */
    bool apply_empty;
};

struct stream_batches {
    struct stream_batch batch[2];
    struct stream_batch *hand;   /* being filled by the poll loop */
    struct stream_batch *flight; /* NULL, or applied (flying) or failed */
    bool flying;                 /* the applier has flight */
    struct stream_batch_hooks hooks;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock; /* guards job, done and quit */
    pthread_cond_t cond;
    bool job, done, quit;
    bool live; /* between init and fini */
};

/* Sets bs up with two batches of capacity events each and starts the
 * applier thread (without one, every batch is applied on the main
 * thread; logged as a warning under component). Returns 0 or
 * MOCHI_ERR_NOMEM. bs is stream_batches_fini'd either way. */
int stream_batches_init(struct stream_batches *bs, size_t capacity,
                        const struct stream_batch_hooks *hooks, const char *component)
    __attribute__((warn_unused_result));
/* Stops the applier thread (after the batch it holds) and frees the
 * batches. On a zeroed bs, or twice, does nothing. */
void stream_batches_fini(struct stream_batches *bs);

/* For each message taken from Kafka: stream_batch_mark makes b cover its
 * offset (whether or not it becomes an event: an undecodable one is
 * committed too), remembering the broker timestamp (ms, -1 for none) of
 * the partition's last message, and once the caller has decoded it into
 * b->events[b->nevents] (which must have room), stream_batch_keep keeps
 * the event and marks b as changed, to be staged again. Returns the
 * partition's mark (NULL when b covers STREAM_MAX_PARTITIONS others). */
struct mochi_stream_mark *stream_batch_mark(struct stream_batch *b, int32_t partition,
                                            int64_t offset, int64_t timestamp_ms);
void stream_batch_keep(struct stream_batch *b);

/* Makes sure b's text store can take one more event's texts (a block with
 * STREAM_EVENT_TEXT_MAX bytes free), before the message is marked: false
 * when out of memory, and the message must then be read again later. */
bool stream_batch_text_room(struct stream_batch *b) __attribute__((warn_unused_result));
/* Copies pv's texts into b's store (stream_batch_text_room must have said
 * there is room) and fills view with them and pv's other fields. */
void stream_batch_view(struct stream_batch *b, const struct mochi_pageview *pv,
                       struct mochi_stream_view *view);

/* True when a batch waits: one in flight, or events or offsets in hand. */
bool stream_batches_pending(const struct stream_batches *bs);
/* True when the batch in hand or the one in flight covers an offset of
 * partition: the partition has messages taken but not yet applied. */
bool stream_batches_cover(const struct stream_batches *bs, int32_t partition);
/* True when the applier has finished the batch in flight. */
bool stream_batches_landed(struct stream_batches *bs);

/* Brings the batch in flight to an end: waits for the applier (staging
 * the batch in hand first, when the flight has not landed yet), or
 * applies a batch that failed before once more (staging it again if it
 * changed), then settles it. Returns 0 (no batch in flight any more) or
 * MOCHI_ERR_AGAIN (it failed again and stays). */
int stream_batches_settle(struct stream_batches *bs, bool sync) __attribute__((warn_unused_result));

/* Moves the batch in hand on, once settle has emptied the flight: stages
 * it, then applies it here (here or sync, or with no events, or without a
 * thread) and settles it, or hands it to the applier and takes the other
 * batch in hand. sync: apply here and commit synchronously (a revoke, the
 * last batch). Returns 0 when it is applied or on its way, or
 * MOCHI_ERR_AGAIN when its stage or apply failed (it is then kept in
 * hand, to be moved on again). */
int stream_batches_launch(struct stream_batches *bs, bool here, bool sync)
    __attribute__((warn_unused_result));

/* Drops the events and offsets of the partitions parts[0..n) from the
 * batch in hand and from a failed batch in flight (a flying one must have
 * been settled first): their new owner reads them again from the
 * committed offset. A batch that lost events is staged again. */
void stream_batches_forget(struct stream_batches *bs, const int32_t *parts, size_t n);

#endif
