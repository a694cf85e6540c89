/* What the stream knows of where each partition ends (stream/ends.c),
 * without Kafka: which partitions are looked up when idle, what a look-up
 * lets the idle hook claim, and what a batch's marks are given. Expected
 * values are written out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream/ends.h"

/* stream_ends_idle's question, answered from a list of busy partitions. */
struct busy {
    int32_t parts[8];
    size_t n;
};

static bool waiting(void *arg, int32_t partition)
{
    const struct busy *busy = arg;
    for (size_t i = 0; i < busy->n; i++)
        if (busy->parts[i] == partition)
            return true;
    return false;
}

static struct stream_ends *ends_new(void)
{
    struct stream_ends *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    return e;
}

/* Only partitions read to their end (an EOF event since their last
 * message) and with nothing waiting are looked up. */
static void idle_partitions_are_read_to_their_end_and_applied(void **state)
{
    (void)state;
    struct stream_ends *e = ends_new();
    struct busy busy = {.parts = {2}, .n = 1};
    int32_t out[STREAM_MAX_PARTITIONS];
    for (int32_t p = 0; p < 4; p++)
        stream_ends_assigned(e, p);
    assert_int_equal(stream_ends_idle(e, waiting, &busy, out), 0); /* no EOF yet */

    stream_ends_eof(e, 0, 10);
    stream_ends_eof(e, 1, 0); /* an empty partition */
    stream_ends_eof(e, 2, 7); /* read to its end, not applied yet */
    stream_ends_eof(e, 3, 5);
    stream_ends_message(e, 3); /* a message after the EOF */
    assert_int_equal(stream_ends_idle(e, waiting, &busy, out), 2);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 1);

    busy.n = 0; /* partition 2's batch applied */
    assert_int_equal(stream_ends_idle(e, waiting, &busy, out), 3);
    assert_int_equal(out[2], 2);

    /* Revoked, then assigned again: nothing known until the next EOF. */
    stream_ends_revoked(e, 0);
    assert_int_equal(stream_ends_idle(e, waiting, &busy, out), 2);
    stream_ends_assigned(e, 0);
    assert_int_equal(stream_ends_idle(e, waiting, &busy, out), 2);
    stream_ends_eof(e, 0, 12);
    assert_int_equal(stream_ends_idle(e, waiting, &busy, out), 3);
    /* Events of partitions not assigned are ignored. */
    stream_ends_eof(e, 9, 1);
    stream_ends_message(e, 9);
    assert_int_equal(stream_ends_idle(e, waiting, &busy, out), 3);
    free(e);
}

/* A look-up that finds the log end where the EOF left the partition lets
 * the idle hook claim it: next_offset the EOF's offset, seen at the time
 * the look-up was sent. One that finds more does not. */
static void look_up_at_the_end_is_claimed(void **state)
{
    (void)state;
    struct stream_ends *e = ends_new();
    stream_ends_assigned(e, 0);
    stream_ends_assigned(e, 1);
    stream_ends_eof(e, 0, 10);
    stream_ends_eof(e, 1, 4);
    struct mochi_stream_mark mark;
    memset(&mark, 0x55, sizeof(mark));
    assert_true(stream_ends_found(e, 0, 10, 5000, &mark));
    assert_int_equal(mark.partition, 0);
    assert_int_equal(mark.next_offset, 10);
    assert_int_equal(mark.last_timestamp_ms, -1);
    assert_int_equal(mark.end_offset, 10);
    assert_int_equal(mark.end_seen_mono_ms, 5000);

    memset(&mark, 0x55, sizeof(mark));
    assert_false(stream_ends_found(e, 1, 6, 5000, &mark));    /* two messages on their way */
    assert_int_equal(mark.next_offset, 0x5555555555555555LL); /* untouched */
    assert_false(stream_ends_found(e, 7, 0, 5000, &mark));    /* not assigned */
    assert_false(stream_ends_found(e, 0, -1, 5000, &mark));   /* no answer */
    stream_ends_message(e, 0);
    assert_false(stream_ends_found(e, 0, 11, 6000, &mark)); /* reading again */
    free(e);
}

/* A batch's mark gets the further of the cached high watermark and the
 * last look-up as its end, and that look-up's time only when the batch
 * reaches the end the look-up found. */
static void batch_marks_are_labelled(void **state)
{
    (void)state;
    struct stream_ends *e = ends_new();
    stream_ends_assigned(e, 0);
    struct mochi_stream_mark mark = {.partition = 0, .next_offset = 20, .end_seen_mono_ms = 99};

    stream_ends_label(e, &mark, 25); /* no look-up yet */
    assert_int_equal(mark.end_offset, 25);
    assert_int_equal(mark.end_seen_mono_ms, 0);
    stream_ends_label(e, &mark, -1001); /* librdkafka's "invalid": unknown */
    assert_int_equal(mark.end_offset, -1);
    assert_int_equal(mark.end_seen_mono_ms, 0);

    struct mochi_stream_mark unused;
    assert_false(stream_ends_found(e, 0, 18, 7000, &unused)); /* no EOF: remembered only */
    stream_ends_label(e, &mark, 25);
    assert_int_equal(mark.end_offset, 25);
    assert_int_equal(mark.end_seen_mono_ms, 7000); /* 20 >= 18: all of then is in */
    stream_ends_label(e, &mark, 12);               /* a stale cache: the look-up is further */
    assert_int_equal(mark.end_offset, 18);
    assert_int_equal(mark.end_seen_mono_ms, 7000);

    assert_false(stream_ends_found(e, 0, 30, 8000, &unused));
    stream_ends_label(e, &mark, 25);
    assert_int_equal(mark.end_offset, 30);
    assert_int_equal(mark.end_seen_mono_ms, 0); /* 20 < 30: it does not reach that end */
    mark.next_offset = 30;
    stream_ends_label(e, &mark, 25);
    assert_int_equal(mark.end_seen_mono_ms, 8000);

    struct mochi_stream_mark other = {.partition = 3, .next_offset = 5};
    stream_ends_label(e, &other, 5); /* a partition not assigned: the cache only */
    assert_int_equal(other.end_offset, 5);
    assert_int_equal(other.end_seen_mono_ms, 0);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_partitions_are_read_to_their_end_and_applied),
        cmocka_unit_test(look_up_at_the_end_is_claimed),
        cmocka_unit_test(batch_marks_are_labelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
