/* The freshness watermark from per-partition progress (docs/web-api.md
 * "Freshness"), computed by hand for each case: T is the minimum over the
 * partitions of the time each is counted up to; behind sums what is not
 * applied, against Kafka's log end when it was asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "web/freshness.h"

static void at_end(void **state)
{
    (void)state;
    long long next[] = {10, 4}, end[] = {10, 4}, seen[] = {5000, 3000}, applied[] = {900, 800},
              live[] = {-1, -1};
    long long t = 0, behind = -1;
    web_freshness_compute(2, next, end, seen, applied, live, -1, &t, &behind);
    assert_int_equal(t, 3000); /* the partition whose end was seen longest ago */
    assert_int_equal(behind, 0);
}

static void behind_one(void **state)
{
    (void)state;
    long long next[] = {10, 4}, end[] = {10, 9}, seen[] = {5000, 3000}, applied[] = {900, 800},
              live[] = {-1, -1};
    long long t = 0, behind = -1;
    web_freshness_compute(2, next, end, seen, applied, live, -1, &t, &behind);
    assert_int_equal(t, 800); /* partition 1: its last counted message */
    assert_int_equal(behind, 5);
}

static void kafka_knows_more(void **state)
{
    (void)state;
    /* The rollup saw partition 0 at its end (10); Kafka has 15 now. */
    long long next[] = {10, 4}, end[] = {10, 4}, seen[] = {5000, 3000}, applied[] = {900, 800},
              live[] = {15, 4};
    long long t = 0, behind = -1;
    web_freshness_compute(2, next, end, seen, applied, live, 7000, &t, &behind);
    assert_int_equal(t, 900);
    assert_int_equal(behind, 5);
    /* Kafka agrees with the rollup: counted up to Kafka's answer. */
    live[0] = 10;
    web_freshness_compute(2, next, end, seen, applied, live, 7000, &t, &behind);
    assert_int_equal(t, 7000);
    assert_int_equal(behind, 0);
    /* A partition the rollup never recorded (next 0, end unknown) that
     * Kafka says holds 3 messages. */
    long long next3[] = {10, 0}, end3[] = {10, -1}, seen3[] = {5000, -1}, applied3[] = {900, -1},
              live3[] = {10, 3};
    web_freshness_compute(2, next3, end3, seen3, applied3, live3, 7000, &t, &behind);
    assert_int_equal(t, -1);
    assert_int_equal(behind, 3);
}

static void unknown(void **state)
{
    (void)state;
    long long t = 0, behind = -1;
    web_freshness_compute(0, NULL, NULL, NULL, NULL, NULL, -1, &t, &behind);
    assert_int_equal(t, -1);
    assert_int_equal(behind, 0);
    /* behind with nothing counted yet: no time to claim */
    long long next[] = {0}, end[] = {7}, seen[] = {-1}, applied[] = {-1}, live[] = {-1};
    web_freshness_compute(1, next, end, seen, applied, live, -1, &t, &behind);
    assert_int_equal(t, -1);
    assert_int_equal(behind, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(at_end),
        cmocka_unit_test(behind_one),
        cmocka_unit_test(kafka_knows_more),
        cmocka_unit_test(unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
