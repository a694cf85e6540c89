/* The stream's batch double buffer (stream/batch.c) without Kafka or
 * PostgreSQL: the hand-off between the poll thread and the applier
 * thread, and the staging logic (a batch is staged again only when its
 * events changed; a revoked partition's events are removed; a failed
 * stage or apply is tried again). The hooks record what they were given;
 * the expected values are written out by hand. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/error.h"
#include "stream/batch.h"

#define MAX_CALLS 16

/* What the hooks saw, and how they should answer. */
struct rec {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool gate_closed; /* apply waits while true */
    bool gate_opened; /* set by the thread that opened it */

    int stage_rc[MAX_CALLS]; /* answers, by call; 0 past the end */
    int stage_calls;
    size_t stage_n[MAX_CALLS];
    int stage_slot[MAX_CALLS];
    bool stage_gate_closed[MAX_CALLS]; /* the applier was held when it was staged */

    int apply_rc[MAX_CALLS];
    int apply_calls;
    size_t apply_n[MAX_CALLS];
    int64_t apply_first_offset[MAX_CALLS];
    size_t apply_marks[MAX_CALLS];
    int64_t apply_next_offset[MAX_CALLS]; /* of the first mark */
    pthread_t apply_thread[MAX_CALLS];

    int settled_calls;
    int settled_rc[MAX_CALLS];
    size_t settled_n[MAX_CALLS];
    bool settled_sync[MAX_CALLS];
};

static int stage_hook(void *arg, int slot, const struct mochi_stream_event *events, size_t n)
{
    (void)events;
    struct rec *r = arg;
    int i = r->stage_calls++;
    assert_true(i < MAX_CALLS);
    r->stage_n[i] = n;
    r->stage_slot[i] = slot;
    pthread_mutex_lock(&r->lock);
    r->stage_gate_closed[i] = r->gate_closed;
    pthread_mutex_unlock(&r->lock);
    return r->stage_rc[i];
}

static int apply_hook(void *arg, struct stream_batch *b)
{
    struct rec *r = arg;
    pthread_mutex_lock(&r->lock);
    while (r->gate_closed)
        pthread_cond_wait(&r->cond, &r->lock);
    int i = r->apply_calls++;
    pthread_mutex_unlock(&r->lock);
    if (i >= MAX_CALLS)
        return MOCHI_ERR_INTERNAL;
    r->apply_n[i] = b->nevents;
    r->apply_first_offset[i] = b->events[0].offset;
    r->apply_marks[i] = b->nmarks;
    r->apply_next_offset[i] = b->nmarks > 0 ? b->marks[0].next_offset : -1;
    r->apply_thread[i] = pthread_self();
    b->counts.n[0] = b->nevents;
    return r->apply_rc[i];
}

static void settled_hook(void *arg, const struct stream_batch *b, bool sync)
{
    struct rec *r = arg;
    int i = r->settled_calls++;
    assert_true(i < MAX_CALLS);
    r->settled_rc[i] = b->rc;
    r->settled_n[i] = b->nevents;
    r->settled_sync[i] = sync;
}

struct fixture {
    struct rec rec;
    struct stream_batches bs;
};

static int setup_with(void **state, size_t capacity)
{
    struct fixture *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->rec.lock, NULL);
    pthread_cond_init(&f->rec.cond, NULL);
    const struct stream_batch_hooks hooks = {
        .arg = &f->rec,
        .stage = stage_hook,
        .apply = apply_hook,
        .settled = settled_hook,
    };
    if (stream_batches_init(&f->bs, capacity, &hooks, "test") != 0)
        return -1;
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 8);
}

static int setup_big(void **state)
{
    return setup_with(state, 300);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pthread_mutex_lock(&f->rec.lock);
    f->rec.gate_closed = false;
    pthread_cond_broadcast(&f->rec.cond);
    pthread_mutex_unlock(&f->rec.lock);
    stream_batches_fini(&f->bs);
    stream_batches_fini(&f->bs); /* twice does nothing */
    pthread_mutex_destroy(&f->rec.lock);
    pthread_cond_destroy(&f->rec.cond);
    free(f);
    return 0;
}

/* Adds the event at offset of partition to the batch in hand, as the
 * poll loop does after decoding it. */
static void add(struct stream_batches *bs, int32_t partition, int64_t offset)
{
    struct stream_batch *b = bs->hand;
    stream_batch_mark(b, partition, offset, -1);
    struct mochi_stream_event *e = &b->events[b->nevents];
    memset(e, 0, sizeof(*e));
    e->partition = partition;
    e->offset = offset;
    stream_batch_keep(b);
}

/* Fills pv as a page view whose every text is as long as its field
 * allows, each starting with n so that no two events are alike; a
 * referrer on even n, a source on every third. */
static void longest_view(struct mochi_pageview *pv, int n)
{
    memset(pv, 0, sizeof(*pv));
    snprintf(pv->site_id, sizeof(pv->site_id), "%08d-0000-4000-8000-000000000000", n);
    memset(pv->path, 'p', MOCHI_PATH_MAX);
    memcpy(pv->path, "/000", 4);
    pv->path[1] = (char)('0' + n / 100 % 10);
    pv->path[2] = (char)('0' + n / 10 % 10);
    pv->path[3] = (char)('0' + n % 10);
    pv->has_referrer = n % 2 == 0;
    if (pv->has_referrer)
        memset(pv->referrer, 'r', MOCHI_REFERRER_MAX);
    snprintf(pv->visitor_hash, sizeof(pv->visitor_hash), "%032d", n);
    pv->occurred_at_us = 1000 * (int64_t)n;
    pv->day = n;
    pv->entry = n % 3 == 0;
    pv->has_source = n % 3 == 0;
    if (pv->has_source)
        memset(pv->source, 's', MOCHI_SOURCE_MAX);
}

/* The texts of a batch's events are copies in the batch's own store:
 * 300 events with every text at its longest (over 500 KiB, several
 * blocks), each intact while the batch holds it; once the batch is
 * applied, its blocks serve the next batch. */
static void event_texts_kept_in_the_batch(void **state)
{
    struct fixture *f = *state;
    struct stream_batch *b = f->bs.hand;
    struct mochi_pageview pv;
    for (int n = 0; n < 300; n++) {
        longest_view(&pv, n);
        assert_true(stream_batch_text_room(b));
        stream_batch_mark(b, 1, n, -1);
        struct mochi_stream_event *e = &b->events[b->nevents];
        stream_batch_view(b, &pv, &e->ev);
        e->partition = 1;
        e->offset = n;
        stream_batch_keep(b);
    }
    size_t blocks = 0;
    for (const struct stream_text_block *k = b->text.first; k != NULL; k = k->next)
        blocks++;
    assert_true(blocks >= 2);
    char want[MOCHI_PATH_MAX + 1];
    for (int n = 0; n < 300; n++) {
        const struct mochi_stream_view *v = &b->events[n].ev;
        longest_view(&pv, n);
        assert_string_equal(v->site_id, pv.site_id);
        assert_int_equal(strlen(v->path), MOCHI_PATH_MAX);
        snprintf(want, sizeof(want), "/%03d", n);
        assert_memory_equal(v->path, want, 4);
        assert_string_equal(v->path, pv.path);
        assert_int_equal(v->has_referrer, n % 2 == 0);
        assert_int_equal(strlen(v->referrer), n % 2 == 0 ? MOCHI_REFERRER_MAX : 0);
        assert_int_equal(strlen(v->visitor_hash), MOCHI_HASH_HEX_LEN);
        assert_string_equal(v->visitor_hash, pv.visitor_hash);
        assert_int_equal(v->occurred_at_us, 1000 * (int64_t)n);
        assert_int_equal(v->day, n);
        assert_int_equal(v->entry, n % 3 == 0);
        assert_int_equal(v->has_source, n % 3 == 0);
        assert_int_equal(strlen(v->source), n % 3 == 0 ? MOCHI_SOURCE_MAX : 0);
    }
    const char *first_text = b->events[0].ev.site_id;
    assert_int_equal(stream_batches_launch(&f->bs, false, true), 0);
    assert_int_equal(f->rec.apply_n[0], 300);
    assert_int_equal(f->bs.hand->nevents, 0);

    b = f->bs.hand;
    longest_view(&pv, 7);
    assert_true(stream_batch_text_room(b));
    stream_batch_mark(b, 1, 300, -1);
    stream_batch_view(b, &pv, &b->events[0].ev);
    stream_batch_keep(b);
    assert_ptr_equal(b->events[0].ev.site_id, first_text); /* the same block, from its start */
    assert_string_equal(b->events[0].ev.path, pv.path);
}

static void set_gate(struct rec *r, bool closed)
{
    pthread_mutex_lock(&r->lock);
    r->gate_closed = closed;
    if (!closed)
        r->gate_opened = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to 5 s for the applier to finish the batch in flight. */
static bool wait_landed(struct stream_batches *bs)
{
    for (int i = 0; i < 500; i++) {
        if (stream_batches_landed(bs))
            return true;
        sleep_ms(10);
    }
    return false;
}

static void *open_gate_later(void *arg)
{
    sleep_ms(100);
    set_gate(arg, false);
    return NULL;
}

static void marks_keep_the_offset_after_the_last_taken(void **state)
{
    struct fixture *f = *state;
    struct stream_batch *b = f->bs.hand;
    stream_batch_mark(b, 3, 5, 1005);
    stream_batch_mark(b, 3, 9, 1009);
    stream_batch_mark(b, 3, 7, 1007); /* out of order: the highest wins */
    stream_batch_mark(b, 1, 0, -1);
    assert_int_equal(b->nmarks, 2);
    assert_int_equal(b->marks[0].partition, 3);
    assert_int_equal(b->marks[0].next_offset, 10);
    assert_int_equal(b->marks[0].last_timestamp_ms, 1009); /* the last message's */
    assert_int_equal(b->marks[0].end_offset, -1);          /* not known here */
    assert_int_equal(b->marks[0].end_seen_mono_ms, 0);
    assert_int_equal(b->marks[1].partition, 1);
    assert_int_equal(b->marks[1].next_offset, 1);
    assert_int_equal(b->marks[1].last_timestamp_ms, -1);
    /* A mark without an event (an undecodable message) is pending too. */
    assert_int_equal(b->nevents, 0);
    assert_true(stream_batches_pending(&f->bs));
}

/* A batch handed to the applier is applied on its thread while the main
 * thread fills the other batch; settling waits for it, and the main
 * thread alone sees the result. */
static void hand_off_to_the_applier_thread(void **state)
{
    struct fixture *f = *state;
    struct rec *r = &f->rec;
    struct stream_batch *first = f->bs.hand;
    add(&f->bs, 0, 10);
    add(&f->bs, 1, 20);
    set_gate(r, true);
    assert_int_equal(stream_batches_launch(&f->bs, false, false), 0);
    assert_ptr_equal(f->bs.flight, first);
    assert_true(f->bs.flying);
    assert_ptr_not_equal(f->bs.hand, first);
    assert_int_equal(f->bs.hand->nevents, 0);
    assert_int_equal(r->stage_calls, 1); /* staged on the main thread, before */
    assert_int_equal(r->stage_slot[0], first->slot);

    /* While the applier holds it, the poll loop fills the other batch. */
    add(&f->bs, 0, 11);
    sleep_ms(20);
    assert_false(stream_batches_landed(&f->bs));
    assert_int_equal(r->settled_calls, 0);

    /* settle waits for the applier: the gate opens 100 ms later. */
    pthread_t opener;
    assert_int_equal(pthread_create(&opener, NULL, open_gate_later, r), 0);
    assert_int_equal(stream_batches_settle(&f->bs, false), 0);
    pthread_join(opener, NULL);
    assert_true(r->gate_opened);
    assert_int_equal(r->apply_calls, 1);
    assert_int_equal(r->apply_n[0], 2);
    assert_int_equal(r->apply_first_offset[0], 10);
    assert_false(pthread_equal(r->apply_thread[0], pthread_self()));
    assert_int_equal(r->settled_calls, 1);
    assert_int_equal(r->settled_rc[0], 0);
    assert_int_equal(r->settled_n[0], 2);
    /* The batch in hand was staged while settle waited, not after. */
    assert_int_equal(r->stage_calls, 2);
    assert_int_equal(r->stage_n[1], 1);
    assert_int_equal(r->stage_slot[1], f->bs.hand->slot);
    assert_true(r->stage_gate_closed[1]);
    assert_null(f->bs.flight);
    assert_false(f->bs.flying);
    assert_int_equal(first->nevents, 0); /* emptied for the next hand */
    assert_int_equal(first->nmarks, 0);

    /* The next batch goes the same way, into the emptied first one's
     * place afterwards. */
    assert_int_equal(stream_batches_launch(&f->bs, false, false), 0);
    assert_int_equal(r->stage_calls, 2); /* staged already, unchanged since */
    assert_ptr_equal(f->bs.hand, first);
    assert_true(wait_landed(&f->bs));
    assert_int_equal(stream_batches_settle(&f->bs, false), 0);
    assert_int_equal(r->apply_calls, 2);
    assert_int_equal(r->apply_first_offset[1], 11);
    assert_false(stream_batches_pending(&f->bs));
}

/* here (the database is away) or sync (a revoke, the last batch): the
 * batch is applied on the main thread and settled at once. */
static void applied_here_when_asked(void **state)
{
    struct fixture *f = *state;
    struct rec *r = &f->rec;
    struct stream_batch *first = f->bs.hand;
    add(&f->bs, 2, 5);
    assert_int_equal(stream_batches_launch(&f->bs, false, true), 0);
    assert_ptr_equal(f->bs.hand, first);
    assert_null(f->bs.flight);
    assert_int_equal(r->apply_calls, 1);
    assert_true(pthread_equal(r->apply_thread[0], pthread_self()));
    assert_int_equal(r->settled_calls, 1);
    assert_true(r->settled_sync[0]);

    add(&f->bs, 2, 6);
    assert_int_equal(stream_batches_launch(&f->bs, true, false), 0);
    assert_int_equal(r->apply_calls, 2);
    assert_true(pthread_equal(r->apply_thread[1], pthread_self()));
    assert_false(r->settled_sync[1]);

    /* Offsets without events (undecodable messages) are settled without
     * an apply: their offsets are committed all the same. */
    stream_batch_mark(f->bs.hand, 2, 7, -1);
    assert_int_equal(stream_batches_launch(&f->bs, false, false), 0);
    assert_int_equal(r->apply_calls, 2);
    assert_int_equal(r->settled_calls, 3);
    assert_int_equal(r->settled_n[2], 0);
    assert_int_equal(f->bs.hand->nmarks, 0);
}

/* A batch is staged again only when its events changed since its last
 * stage: not for a second apply of the same batch. */
static void staged_again_only_when_changed(void **state)
{
    struct fixture *f = *state;
    struct rec *r = &f->rec;
    r->apply_rc[0] = MOCHI_ERR_AGAIN; /* the database is away, twice */
    r->apply_rc[1] = MOCHI_ERR_AGAIN;
    add(&f->bs, 0, 1);
    add(&f->bs, 1, 1);
    add(&f->bs, 2, 1);
    assert_int_equal(stream_batches_launch(&f->bs, true, false), MOCHI_ERR_AGAIN);
    assert_int_equal(r->stage_calls, 1);
    assert_int_equal(r->stage_n[0], 3);
    assert_int_equal(r->settled_rc[0], MOCHI_ERR_AGAIN);
    assert_int_equal(f->bs.hand->nevents, 3); /* kept */

    /* Unchanged: applied again, not staged again. */
    assert_int_equal(stream_batches_launch(&f->bs, true, false), MOCHI_ERR_AGAIN);
    assert_int_equal(r->stage_calls, 1);
    assert_int_equal(r->apply_calls, 2);

    /* One more event: staged again, with it. */
    add(&f->bs, 0, 2);
    assert_int_equal(stream_batches_launch(&f->bs, true, false), 0);
    assert_int_equal(r->stage_calls, 2);
    assert_int_equal(r->stage_n[1], 4);
    assert_int_equal(r->apply_calls, 3);
    assert_int_equal(r->apply_n[2], 4);
    assert_int_equal(f->bs.hand->nevents, 0);
}

/* A revoked partition's events and offsets leave the batch in hand, which
 * is then staged again; a revoke that takes nothing away changes nothing. */
static void revoked_partition_removed(void **state)
{
    struct fixture *f = *state;
    struct rec *r = &f->rec;
    r->apply_rc[0] = MOCHI_ERR_AGAIN;
    r->apply_rc[1] = MOCHI_ERR_AGAIN;
    add(&f->bs, 0, 100);
    add(&f->bs, 1, 200);
    add(&f->bs, 0, 101);
    add(&f->bs, 2, 300);
    add(&f->bs, 1, 201);
    assert_int_equal(stream_batches_launch(&f->bs, true, false), MOCHI_ERR_AGAIN);
    assert_int_equal(r->stage_calls, 1);

    /* A revoke of partitions the batch does not hold: not staged again. */
    const int32_t absent[] = {9};
    stream_batches_forget(&f->bs, absent, 1);
    struct stream_batch *b = f->bs.hand;
    assert_int_equal(b->nevents, 5);
    assert_int_equal(stream_batches_launch(&f->bs, true, false), MOCHI_ERR_AGAIN);
    assert_int_equal(r->stage_calls, 1);
    assert_int_equal(r->apply_calls, 2);

    const int32_t revoked[] = {1, 7};
    stream_batches_forget(&f->bs, revoked, 2);
    assert_int_equal(b->nevents, 3);
    assert_int_equal(b->events[0].offset, 100); /* in order */
    assert_int_equal(b->events[1].offset, 101);
    assert_int_equal(b->events[2].offset, 300);
    assert_int_equal(b->nmarks, 2);
    for (size_t i = 0; i < b->nmarks; i++)
        assert_int_not_equal(b->marks[i].partition, 1);

    assert_int_equal(stream_batches_launch(&f->bs, true, false), 0);
    assert_int_equal(r->stage_calls, 2);
    assert_int_equal(r->stage_n[1], 3);
    assert_int_equal(r->apply_n[2], 3);
}

/* A failed stage fails the batch without an apply; it stays in hand and
 * is staged again at the next try. */
static void failed_stage_retried(void **state)
{
    struct fixture *f = *state;
    struct rec *r = &f->rec;
    r->stage_rc[0] = MOCHI_ERR_NOMEM;
    add(&f->bs, 0, 1);
    add(&f->bs, 0, 2);
    assert_int_equal(stream_batches_launch(&f->bs, false, false), MOCHI_ERR_AGAIN);
    assert_int_equal(r->apply_calls, 0);
    assert_int_equal(r->settled_calls, 1);
    assert_int_equal(r->settled_rc[0], MOCHI_ERR_NOMEM);
    assert_null(f->bs.flight);
    assert_int_equal(f->bs.hand->nevents, 2);

    assert_int_equal(stream_batches_launch(&f->bs, false, false), 0);
    assert_int_equal(r->stage_calls, 2);
    assert_true(wait_landed(&f->bs));
    assert_int_equal(stream_batches_settle(&f->bs, false), 0);
    assert_int_equal(r->apply_calls, 1);
    assert_int_equal(r->settled_rc[1], 0);
    assert_int_equal(r->settled_n[1], 2);
}

/* A batch without events (every message skipped) is applied only when the
 * hooks ask for it (an applier that records its progress), and then with
 * its marks; otherwise it is settled at once. */
static void batch_without_events_applied_when_asked(void **state)
{
    struct fixture *f = *state;
    struct rec *r = &f->rec;
    stream_batch_mark(f->bs.hand, 2, 7, 1234);
    assert_int_equal(stream_batches_launch(&f->bs, false, false), 0);
    assert_int_equal(r->apply_calls, 0);
    assert_int_equal(r->settled_calls, 1);
    assert_int_equal(r->settled_rc[0], 0);
    assert_false(stream_batches_pending(&f->bs));

    f->bs.hooks.apply_empty = true;
    stream_batch_mark(f->bs.hand, 2, 8, 1235);
    assert_int_equal(stream_batches_launch(&f->bs, false, false), 0);
    assert_int_equal(r->apply_calls, 1);
    assert_int_equal(r->apply_n[0], 0);
    assert_int_equal(r->apply_marks[0], 1);
    assert_int_equal(r->apply_next_offset[0], 9);
    assert_true(pthread_equal(r->apply_thread[0], pthread_self())); /* nothing to overlap */
    assert_int_equal(r->settled_calls, 2);
    assert_false(stream_batches_pending(&f->bs));
}

/* A batch whose apply failed on the applier stays in flight, not flying,
 * and is applied again by the next settle on the main thread; the batch
 * behind it waits in hand until then. A revoke meanwhile takes its
 * partitions out of the failed flight too. */
static void failed_apply_in_flight_retried(void **state)
{
    struct fixture *f = *state;
    struct rec *r = &f->rec;
    r->apply_rc[0] = MOCHI_ERR_AGAIN;
    add(&f->bs, 0, 1);
    add(&f->bs, 3, 1);
    struct stream_batch *first = f->bs.hand;
    assert_int_equal(stream_batches_launch(&f->bs, false, false), 0);
    add(&f->bs, 0, 2); /* the next batch, in hand */
    assert_true(wait_landed(&f->bs));
    assert_int_equal(stream_batches_settle(&f->bs, false), MOCHI_ERR_AGAIN);
    assert_ptr_equal(f->bs.flight, first);
    assert_false(f->bs.flying);
    assert_int_equal(first->nevents, 2);
    assert_int_equal(r->settled_rc[0], MOCHI_ERR_AGAIN);

    const int32_t revoked[] = {3};
    stream_batches_forget(&f->bs, revoked, 1);
    assert_int_equal(first->nevents, 1);
    assert_int_equal(f->bs.hand->nevents, 1);

    assert_int_equal(stream_batches_settle(&f->bs, false), 0);
    assert_null(f->bs.flight);
    assert_int_equal(r->apply_calls, 2);
    assert_int_equal(r->apply_n[1], 1);
    assert_true(pthread_equal(r->apply_thread[1], pthread_self()));
    assert_int_equal(r->stage_calls, 2); /* the removal restaged it */
    assert_int_equal(r->settled_rc[1], 0);
    assert_int_equal(f->bs.hand->nevents, 1); /* its turn now */
}

/* A failed batch in flight that a revoke empties is dropped. */
static void emptied_flight_dropped(void **state)
{
    struct fixture *f = *state;
    struct rec *r = &f->rec;
    r->apply_rc[0] = MOCHI_ERR_AGAIN;
    add(&f->bs, 4, 1);
    assert_int_equal(stream_batches_launch(&f->bs, false, false), 0);
    assert_true(wait_landed(&f->bs));
    assert_int_equal(stream_batches_settle(&f->bs, false), MOCHI_ERR_AGAIN);
    assert_non_null(f->bs.flight);
    const int32_t revoked[] = {4};
    stream_batches_forget(&f->bs, revoked, 1);
    assert_null(f->bs.flight);
    assert_false(stream_batches_pending(&f->bs));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(marks_keep_the_offset_after_the_last_taken, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(hand_off_to_the_applier_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(applied_here_when_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(staged_again_only_when_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(revoked_partition_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_stage_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_apply_in_flight_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(emptied_flight_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_without_events_applied_when_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(event_texts_kept_in_the_batch, setup_big, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
