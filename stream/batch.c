/* The batch double buffer and the applier thread it owns (batch.h). */
#include "stream/batch.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

static void *applier_main(void *arg);
static int stage(struct stream_batches *bs, struct stream_batch *b);
static void apply(struct stream_batches *bs, struct stream_batch *b);
static int settle(struct stream_batches *bs, struct stream_batch *b, bool sync);
static void forget(struct stream_batch *b, const int32_t *parts, size_t n);

int stream_batches_init(struct stream_batches *bs, size_t capacity,
                        const struct stream_batch_hooks *hooks, const char *component)
{
    memset(bs, 0, sizeof(*bs));
    bs->live = true;
    bs->hooks = *hooks;
    pthread_mutex_init(&bs->lock, NULL);
    pthread_cond_init(&bs->cond, NULL);
    for (int i = 0; i < 2; i++) {
        bs->batch[i].slot = i;
        bs->batch[i].events = calloc(capacity + 1, sizeof(*bs->batch[i].events));
        if (bs->batch[i].events == NULL)
            return MOCHI_ERR_NOMEM;
    }
    bs->hand = &bs->batch[0];
    bs->thread_started = pthread_create(&bs->thread, NULL, applier_main, bs) == 0;
    if (!bs->thread_started)
        mochi_log(MOCHI_LOG_WARN, component,
                  "msg=\"cannot start the applier thread, applying on the main thread\"");
    return 0;
}

void stream_batches_fini(struct stream_batches *bs)
{
    if (!bs->live)
        return; /* zeroed, or already done */
    if (bs->thread_started) {
        pthread_mutex_lock(&bs->lock);
        bs->quit = true;
        pthread_cond_broadcast(&bs->cond);
        pthread_mutex_unlock(&bs->lock);
        pthread_join(bs->thread, NULL);
        bs->thread_started = false;
    }
    for (int i = 0; i < 2; i++) {
        free(bs->batch[i].events);
        struct stream_text_block *next;
        for (struct stream_text_block *k = bs->batch[i].text.first; k != NULL; k = next) {
            next = k->next;
            free(k);
        }
    }
    pthread_mutex_destroy(&bs->lock);
    pthread_cond_destroy(&bs->cond);
    memset(bs, 0, sizeof(*bs));
}

struct mochi_stream_mark *stream_batch_mark(struct stream_batch *b, int32_t partition,
                                            int64_t offset, int64_t timestamp_ms)
{
    for (size_t i = 0; i < b->nmarks; i++) {
        struct mochi_stream_mark *mark = &b->marks[i];
        if (mark->partition == partition) {
            if (offset < mark->first_offset)
                mark->first_offset = offset; /* read again from further back */
            if (offset + 1 > mark->next_offset) {
                mark->next_offset = offset + 1;
                mark->last_timestamp_ms = timestamp_ms;
            }
            return mark;
        }
    }
    if (b->nmarks >= STREAM_MAX_PARTITIONS)
        return NULL;
    b->marks[b->nmarks] = (struct mochi_stream_mark){.partition = partition,
                                                     .first_offset = offset,
                                                     .next_offset = offset + 1,
                                                     .last_timestamp_ms = timestamp_ms,
                                                     .end_offset = -1,
                                                     .end_seen_mono_ms = 0};
    return &b->marks[b->nmarks++];
}

/* Blocks of 256 KiB: a batch of 10,000 typical events fills a few. */
#define TEXT_BLOCK_SIZE ((size_t)256 * 1024)

bool stream_batch_text_room(struct stream_batch *b)
{
    struct stream_text *t = &b->text;
    if (t->cur != NULL && t->cur->size - t->cur->used >= STREAM_EVENT_TEXT_MAX)
        return true;
    /* The next block, kept from an earlier batch, or a new one. */
    struct stream_text_block *next = t->cur != NULL ? t->cur->next : t->first;
    if (next == NULL) {
        next = malloc(sizeof(*next) + TEXT_BLOCK_SIZE);
        if (next == NULL)
            return false;
        next->next = NULL;
        next->size = TEXT_BLOCK_SIZE;
        if (t->cur != NULL)
            t->cur->next = next;
        else
            t->first = next;
    }
    next->used = 0;
    t->cur = next;
    return true;
}

static const char *text_copy(struct stream_text *t, const char *text, size_t max)
{
    struct stream_text_block *k = t->cur;
    size_t len = strnlen(text, max);
    char *out = k->data + k->used;
    memcpy(out, text, len);
    out[len] = '\0';
    k->used += len + 1;
    return out;
}

void stream_batch_view(struct stream_batch *b, const struct mochi_pageview *pv,
                       struct mochi_stream_view *view)
{
    struct stream_text *t = &b->text;
    *view = (struct mochi_stream_view){
        .site_id = text_copy(t, pv->site_id, sizeof(pv->site_id) - 1),
        .path = text_copy(t, pv->path, sizeof(pv->path) - 1),
        .has_referrer = pv->has_referrer,
        .referrer = pv->has_referrer ? text_copy(t, pv->referrer, sizeof(pv->referrer) - 1) : "",
        .visitor_hash = text_copy(t, pv->visitor_hash, sizeof(pv->visitor_hash) - 1),
        .occurred_at_us = pv->occurred_at_us,
        .day = pv->day,
        .entry = pv->entry,
        .has_source = pv->has_source,
        .source = pv->has_source ? text_copy(t, pv->source, sizeof(pv->source) - 1) : "",
    };
}

void stream_batch_keep(struct stream_batch *b)
{
    b->nevents++;
    b->staged = false;
}

bool stream_batches_pending(const struct stream_batches *bs)
{
    return bs->flight != NULL || bs->hand->nevents > 0 || bs->hand->nmarks > 0;
}

bool stream_batches_cover(const struct stream_batches *bs, int32_t partition)
{
    for (int k = 0; k < 2; k++) {
        const struct stream_batch *b = k == 0 ? bs->hand : bs->flight;
        for (size_t i = 0; b != NULL && i < b->nmarks; i++)
            if (b->marks[i].partition == partition)
                return true;
    }
    return false;
}

bool stream_batches_landed(struct stream_batches *bs)
{
    pthread_mutex_lock(&bs->lock);
    bool done = bs->done;
    pthread_mutex_unlock(&bs->lock);
    return done;
}

int stream_batches_settle(struct stream_batches *bs, bool sync)
{
    if (bs->flight == NULL)
        return 0;
    if (bs->flying) {
        pthread_mutex_lock(&bs->lock);
        if (!bs->done) {
            /* About to wait for the applier: stage the batch in hand now,
             * while the flight's transaction runs, not after it (the
             * stage hook's promise, stream.h). launch stages it again
             * only if this failed or it changes in between. */
            pthread_mutex_unlock(&bs->lock);
            (void)stage(bs, bs->hand);
            pthread_mutex_lock(&bs->lock);
        }
        while (!bs->done)
            pthread_cond_wait(&bs->cond, &bs->lock);
        bs->done = false;
        pthread_mutex_unlock(&bs->lock);
        bs->flying = false;
    } else {
        bs->flight->rc = stage(bs, bs->flight);
        if (bs->flight->rc == 0)
            apply(bs, bs->flight);
    }
    if (settle(bs, bs->flight, sync) != 0)
        return MOCHI_ERR_AGAIN;
    bs->flight = NULL;
    return 0;
}

int stream_batches_launch(struct stream_batches *bs, bool here, bool sync)
{
    struct stream_batch *b = bs->hand;
    b->rc = stage(bs, b);
    if (b->rc != 0)
        return settle(bs, b, sync);
    if (here || sync || b->nevents == 0 || !bs->thread_started) {
        apply(bs, b);
        return settle(bs, b, sync);
    }
    bs->flight = b;
    bs->hand = b == &bs->batch[0] ? &bs->batch[1] : &bs->batch[0];
    bs->flying = true;
    pthread_mutex_lock(&bs->lock);
    bs->job = true;
    pthread_cond_broadcast(&bs->cond);
    pthread_mutex_unlock(&bs->lock);
    return 0;
}

void stream_batches_forget(struct stream_batches *bs, const int32_t *parts, size_t n)
{
    forget(bs->hand, parts, n);
    if (bs->flight != NULL && !bs->flying) {
        forget(bs->flight, parts, n);
        if (bs->flight->nevents == 0 && bs->flight->nmarks == 0)
            bs->flight = NULL;
    }
}

/* Runs the stage hook on a batch that changed since it was last staged.
 * Returns its result (0 without a stage hook). */
static int stage(struct stream_batches *bs, struct stream_batch *b)
{
    if (bs->hooks.stage == NULL || b->staged || b->nevents == 0)
        return 0;
    int rc = bs->hooks.stage(bs->hooks.arg, b->slot, b->events, b->nevents);
    b->staged = rc == 0;
    return rc;
}

/* Applies b through the hook, timing it; leaves the result in b. */
static void apply(struct stream_batches *bs, struct stream_batch *b)
{
    memset(&b->counts, 0, sizeof(b->counts));
    b->rc = 0;
    b->apply_ms = 0;
    if (b->nevents == 0 && (b->nmarks == 0 || !bs->hooks.apply_empty))
        return;
    int64_t t0 = mochi_clock_mono_ms();
    b->rc = bs->hooks.apply(bs->hooks.arg, b);
    b->apply_ms = mochi_clock_mono_ms() - t0;
}

/* Hands b's result to the settled hook; empties b when it was applied.
 * Returns 0 or MOCHI_ERR_AGAIN (b kept). */
static int settle(struct stream_batches *bs, struct stream_batch *b, bool sync)
{
    bs->hooks.settled(bs->hooks.arg, b, sync);
    if (b->rc != 0)
        return MOCHI_ERR_AGAIN;
    b->nevents = 0;
    b->nmarks = 0;
    /* Its texts' blocks serve the next batch, from the first
     * (stream_batch_text_room empties each as it moves to it). */
    b->text.cur = NULL;
    return 0;
}

static void *applier_main(void *arg)
{
    struct stream_batches *bs = arg;
    pthread_mutex_lock(&bs->lock);
    for (;;) {
        while (!bs->job && !bs->quit)
            pthread_cond_wait(&bs->cond, &bs->lock);
        if (!bs->job)
            break; /* quit, nothing in hand */
        struct stream_batch *b = bs->flight;
        pthread_mutex_unlock(&bs->lock);
        apply(bs, b);
        pthread_mutex_lock(&bs->lock);
        bs->job = false;
        bs->done = true;
        pthread_cond_broadcast(&bs->cond);
    }
    pthread_mutex_unlock(&bs->lock);
    return NULL;
}

/* Drops from b every event and offset of the partitions parts[0..n). */
static void forget(struct stream_batch *b, const int32_t *parts, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < b->nevents; i++) {
        bool gone = false;
        for (size_t p = 0; p < n && !gone; p++)
            gone = parts[p] == b->events[i].partition;
        if (!gone)
            b->events[kept++] = b->events[i];
    }
    if (kept != b->nevents)
        b->staged = false; /* what stage saw changed */
    b->nevents = kept;
    size_t marks = 0;
    for (size_t i = 0; i < b->nmarks; i++) {
        bool gone = false;
        for (size_t p = 0; p < n && !gone; p++)
            gone = parts[p] == b->marks[i].partition;
        if (!gone)
            b->marks[marks++] = b->marks[i];
    }
    b->nmarks = marks;
}
