/* Expected texts below are written by hand from the Prometheus text
 * exposition format 0.0.4, not copied from the renderer's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/metrics.h"

#define NTHREADS 4
#define NITER 100000

static char *render(struct mochi_metrics *reg);

/* Returns the rendered text, owned by the caller; fails the test on error. */
static char *render(struct mochi_metrics *reg)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(mochi_metrics_render(reg, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    return out;
}

static void test_empty_and_destroy_null(void **state)
{
    (void)state;
    mochi_metrics_destroy(NULL);
    struct mochi_metrics *reg = mochi_metrics_new();
    assert_non_null(reg);
    char *text = render(reg);
    assert_string_equal(text, "");
    free(text);
    mochi_metrics_destroy(reg);
}

static void test_counter(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    assert_non_null(reg);
    struct mochi_metric_family *plain =
        mochi_metrics_counter(reg, "mochi_beacons_total", "Beacons received.", 0, NULL);
    assert_non_null(plain);
    const char *names[] = {"outcome", "site"};
    struct mochi_metric_family *by =
        mochi_metrics_counter(reg, "mochi_events_total", "Events by outcome.", 2, names);
    assert_non_null(by);
    struct mochi_metric_family *secs =
        mochi_metrics_counter(reg, "mochi_busy_seconds_total", "", 0, NULL);
    assert_non_null(secs);

    struct mochi_metric *total = mochi_metrics_child(plain, NULL);
    assert_non_null(total);
    assert_ptr_equal(mochi_metrics_child(plain, NULL), total);
    mochi_metric_inc(total);
    mochi_metric_add(total, 41);

    struct mochi_metric *stored = mochi_metrics_child(by, (const char *[]){"stored", "a"});
    struct mochi_metric *dup = mochi_metrics_child(by, (const char *[]){"duplicate", "a"});
    assert_non_null(stored);
    assert_non_null(dup);
    assert_ptr_equal(mochi_metrics_child(by, (const char *[]){"stored", "a"}), stored);
    assert_null(mochi_metrics_child(by, (const char *[]){"stored", NULL}));
    mochi_metric_add(stored, 3);
    mochi_metric_inc(dup);

    struct mochi_metric *busy = mochi_metrics_child(secs, NULL);
    mochi_metric_add_double(busy, 0.25);
    mochi_metric_add_double(busy, -5.0); /* counters never go down */
    mochi_metric_add(busy, 2);

    char *text = render(reg);
    assert_string_equal(text, "# HELP mochi_beacons_total Beacons received.\n"
                              "# TYPE mochi_beacons_total counter\n"
                              "mochi_beacons_total 42\n"
                              "# HELP mochi_events_total Events by outcome.\n"
                              "# TYPE mochi_events_total counter\n"
                              "mochi_events_total{outcome=\"stored\",site=\"a\"} 3\n"
                              "mochi_events_total{outcome=\"duplicate\",site=\"a\"} 1\n"
                              "# TYPE mochi_busy_seconds_total counter\n"
                              "mochi_busy_seconds_total 2.25\n");
    free(text);
    assert_true(mochi_metric_value(total) == 42.0);
    assert_true(mochi_metric_value(busy) == 2.25);
    mochi_metrics_destroy(reg);
}

static void test_counter_exact_past_2_53(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    struct mochi_metric_family *family = mochi_metrics_counter(reg, "big_total", "Big.", 0, NULL);
    assert_non_null(family);
    struct mochi_metric *metric = mochi_metrics_child(family, NULL);
    mochi_metric_add(metric, 9007199254740992u); /* 2^53 */
    mochi_metric_inc(metric);
    char *text = render(reg);
    assert_string_equal(text, "# HELP big_total Big.\n"
                              "# TYPE big_total counter\n"
                              "big_total 9007199254740993\n");
    free(text);
    mochi_metrics_destroy(reg);
}

static void test_gauge(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    const char *names[] = {"topic", "partition"};
    struct mochi_metric_family *lag =
        mochi_metrics_gauge(reg, "mochi_consumer_lag", "Messages behind.", 2, names);
    struct mochi_metric_family *misc =
        mochi_metrics_gauge(reg, "misc", "Odd values.", 1, (const char *[]){"kind"});
    struct mochi_metric_family *flight = mochi_metrics_gauge(reg, "in_flight", "Busy.", 0, NULL);
    struct mochi_metric_family *unused =
        mochi_metrics_gauge(reg, "unused", "No children yet.", 1, (const char *[]){"x"});
    assert_non_null(lag);
    assert_non_null(misc);
    assert_non_null(flight);
    assert_non_null(unused);

    mochi_metric_set(mochi_metrics_child(lag, (const char *[]){"mochi.pageviews", "1"}), 17);
    mochi_metric_set(mochi_metrics_child(lag, (const char *[]){"mochi.pageviews", "0"}), 0);
    mochi_metric_set(mochi_metrics_child(misc, (const char *[]){"neg"}), -1.5);
    mochi_metric_set(mochi_metrics_child(misc, (const char *[]){"tenth"}), 0.1);
    mochi_metric_set(mochi_metrics_child(misc, (const char *[]){"big"}), 1e21);
    mochi_metric_set(mochi_metrics_child(misc, (const char *[]){"pinf"}), INFINITY);
    mochi_metric_set(mochi_metrics_child(misc, (const char *[]){"ninf"}), -INFINITY);
    mochi_metric_set(mochi_metrics_child(misc, (const char *[]){"nan"}), NAN);
    struct mochi_metric *busy = mochi_metrics_child(flight, NULL);
    mochi_metric_inc(busy);
    mochi_metric_inc(busy);
    mochi_metric_add(busy, 3);
    mochi_metric_dec(busy);
    mochi_metric_add_double(busy, -0.5);

    char *text = render(reg);
    assert_string_equal(text, "# HELP mochi_consumer_lag Messages behind.\n"
                              "# TYPE mochi_consumer_lag gauge\n"
                              "mochi_consumer_lag{topic=\"mochi.pageviews\",partition=\"1\"} 17\n"
                              "mochi_consumer_lag{topic=\"mochi.pageviews\",partition=\"0\"} 0\n"
                              "# HELP misc Odd values.\n"
                              "# TYPE misc gauge\n"
                              "misc{kind=\"neg\"} -1.5\n"
                              "misc{kind=\"tenth\"} 0.1\n"
                              "misc{kind=\"big\"} 1e+21\n"
                              "misc{kind=\"pinf\"} +Inf\n"
                              "misc{kind=\"ninf\"} -Inf\n"
                              "misc{kind=\"nan\"} NaN\n"
                              "# HELP in_flight Busy.\n"
                              "# TYPE in_flight gauge\n"
                              "in_flight 3.5\n"
                              "# HELP unused No children yet.\n"
                              "# TYPE unused gauge\n");
    free(text);
    mochi_metrics_destroy(reg);
}

static void test_histogram(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    const double bounds[] = {0.5, 1, 2.5, 10};
    struct mochi_metric_family *latency = mochi_metrics_histogram(
        reg, "mochi_pg_seconds", "PostgreSQL latency.", 1, (const char *[]){"op"}, bounds, 4);
    const double small[] = {0.005, 0.1};
    struct mochi_metric_family *batch =
        mochi_metrics_histogram(reg, "batch", "Batch sizes.", 0, NULL, small, 2);
    assert_non_null(latency);
    assert_non_null(batch);

    struct mochi_metric *insert = mochi_metrics_child(latency, (const char *[]){"insert"});
    assert_non_null(insert);
    /* 0.5, 1, 1, 2.5 and 10 sit exactly on bounds: "le" means <=, so each
     * counts in its own bucket. */
    const double values[] = {0.25, 0.5, 1, 1, 2.5, 10, 100};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        mochi_metric_observe(insert, values[i]);
    assert_true(mochi_metric_value(insert) == 7.0);

    char *text = render(reg);
    assert_string_equal(text, "# HELP mochi_pg_seconds PostgreSQL latency.\n"
                              "# TYPE mochi_pg_seconds histogram\n"
                              "mochi_pg_seconds_bucket{op=\"insert\",le=\"0.5\"} 2\n"
                              "mochi_pg_seconds_bucket{op=\"insert\",le=\"1\"} 4\n"
                              "mochi_pg_seconds_bucket{op=\"insert\",le=\"2.5\"} 5\n"
                              "mochi_pg_seconds_bucket{op=\"insert\",le=\"10\"} 6\n"
                              "mochi_pg_seconds_bucket{op=\"insert\",le=\"+Inf\"} 7\n"
                              "mochi_pg_seconds_sum{op=\"insert\"} 115.25\n"
                              "mochi_pg_seconds_count{op=\"insert\"} 7\n"
                              "# HELP batch Batch sizes.\n"
                              "# TYPE batch histogram\n"
                              "batch_bucket{le=\"0.005\"} 0\n"
                              "batch_bucket{le=\"0.1\"} 0\n"
                              "batch_bucket{le=\"+Inf\"} 0\n"
                              "batch_sum 0\n"
                              "batch_count 0\n");
    free(text);
    mochi_metrics_destroy(reg);
}

static void test_escaping(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    struct mochi_metric_family *family = mochi_metrics_counter(
        reg, "esc_total", "Say \"hi\" \\ then\nmore", 1, (const char *[]){"v"});
    assert_non_null(family);
    mochi_metric_inc(mochi_metrics_child(family, (const char *[]){"a\\b\"c\nd"}));
    /* A lone 0xff and a truncated sequence are not UTF-8: each bad byte
     * becomes U+FFFD (EF BF BD); valid multibyte text stays as it is. */
    struct mochi_metric *bad = mochi_metrics_child(family, (const char *[]){"x\xff"
                                                                            "y\xc3"});
    assert_non_null(bad);
    assert_ptr_equal(mochi_metrics_child(family, (const char *[]){"x\xff"
                                                                  "y\xc3"}),
                     bad);
    mochi_metric_inc(mochi_metrics_child(family, (const char *[]){"caf\xc3\xa9"}));
    mochi_metric_inc(mochi_metrics_child(family, (const char *[]){""}));

    char *text = render(reg);
    assert_string_equal(text, "# HELP esc_total Say \"hi\" \\\\ then\\nmore\n"
                              "# TYPE esc_total counter\n"
                              "esc_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"
                              "esc_total{v=\"x\xef\xbf\xbdy\xef\xbf\xbd\"} 0\n"
                              "esc_total{v=\"caf\xc3\xa9\"} 1\n"
                              "esc_total{v=\"\"} 1\n");
    free(text);
    mochi_metrics_destroy(reg);
}

static void test_invalid_registration(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    const double bounds[] = {1, 2};
    const double unsorted[] = {2, 1};
    assert_non_null(mochi_metrics_counter(reg, "ok:name_1", "", 1, (const char *[]){"_l1"}));
    assert_null(mochi_metrics_counter(reg, "ok:name_1", "again", 0, NULL));
    assert_null(mochi_metrics_counter(reg, "1abc", "", 0, NULL));
    assert_null(mochi_metrics_counter(reg, "a-b", "", 0, NULL));
    assert_null(mochi_metrics_counter(reg, "", "", 0, NULL));
    assert_null(mochi_metrics_gauge(reg, "g", "", 1, (const char *[]){"__name"}));
    assert_null(mochi_metrics_gauge(reg, "g", "", 1, (const char *[]){"a:b"}));
    assert_null(mochi_metrics_gauge(reg, "g", "", 2, (const char *[]){"a", "a"}));
    assert_null(mochi_metrics_gauge(reg, "g", "", 5, (const char *[]){"a", "b", "c", "d", "e"}));
    assert_null(mochi_metrics_histogram(reg, "h", "", 1, (const char *[]){"le"}, bounds, 2));
    assert_null(mochi_metrics_histogram(reg, "h", "", 0, NULL, unsorted, 2));
    assert_null(mochi_metrics_histogram(reg, "h", "", 0, NULL, bounds, 0));
    assert_non_null(mochi_metrics_histogram(reg, "h", "", 0, NULL, bounds, 2));
    assert_non_null(mochi_metrics_gauge(reg, "g", "", 4, (const char *[]){"a", "b", "c", "d"}));
    mochi_metrics_destroy(reg);
}

/* mochi_metrics_single: the one series of a plain family, the same one
 * every time; a failed registration gives NULL, not a crash. */
static void test_single(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    struct mochi_metric_family *family =
        mochi_metrics_counter(reg, "plain_total", "Plain.", 0, NULL);
    struct mochi_metric *one = mochi_metrics_single(family);
    assert_non_null(one);
    assert_ptr_equal(one, mochi_metrics_single(family));
    mochi_metric_inc(one);
    mochi_metric_inc(mochi_metrics_single(family));
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(mochi_metrics_render(reg, &text, &len), 0);
    assert_non_null(strstr(text, "\nplain_total 2\n"));
    free(text);
    assert_null(mochi_metrics_single(mochi_metrics_counter(reg, "plain_total", "again", 0, NULL)));
    assert_null(mochi_metrics_single(NULL));
    mochi_metrics_destroy(reg);
}

struct hammer {
    struct mochi_metric *counter;
    struct mochi_metric *gauge;
    struct mochi_metric *histogram;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < NITER; i++) {
        mochi_metric_inc(h->counter);
        mochi_metric_add_double(h->gauge, 1.0);
        mochi_metric_observe(h->histogram, (i % 2) ? 0.5 : 5.0);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    const double bounds[] = {1};
    struct hammer h = {
        mochi_metrics_child(mochi_metrics_counter(reg, "c_total", "C.", 0, NULL), NULL),
        mochi_metrics_child(mochi_metrics_gauge(reg, "g", "G.", 0, NULL), NULL),
        mochi_metrics_child(mochi_metrics_histogram(reg, "h", "H.", 0, NULL, bounds, 1), NULL),
    };
    assert_non_null(h.counter);
    assert_non_null(h.gauge);
    assert_non_null(h.histogram);
    pthread_t threads[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, hammer_thread, &h), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(threads[i], NULL);

    char *text = render(reg);
    /* 4 x 100000 = 400000; half the observations are 0.5, half 5: the sum
     * is 200000 * 5.5 = 1100000, exact in a double. */
    assert_string_equal(text, "# HELP c_total C.\n"
                              "# TYPE c_total counter\n"
                              "c_total 400000\n"
                              "# HELP g G.\n"
                              "# TYPE g gauge\n"
                              "g 400000\n"
                              "# HELP h H.\n"
                              "# TYPE h histogram\n"
                              "h_bucket{le=\"1\"} 200000\n"
                              "h_bucket{le=\"+Inf\"} 400000\n"
                              "h_sum 1100000\n"
                              "h_count 400000\n");
    free(text);
    mochi_metrics_destroy(reg);
}

#define NCHILD 64

struct creator {
    struct mochi_metric_family *family;
    int offset;
    struct mochi_metric *seen[NCHILD];
};

static void *creator_thread(void *arg)
{
    struct creator *c = arg;
    for (int round = 0; round < 20; round++) {
        for (int k = 0; k < NCHILD; k++) {
            int i = (k + c->offset) % NCHILD;
            char value[16];
            snprintf(value, sizeof(value), "p%d", i);
            struct mochi_metric *m = mochi_metrics_child(c->family, (const char *[]){value});
            if (round == 0) {
                c->seen[i] = m;
                mochi_metric_inc(m);
            } else if (m != c->seen[i]) {
                c->seen[i] = NULL; /* reported by the main thread */
            }
        }
    }
    return NULL;
}

static void test_concurrent_children(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    struct mochi_metric_family *family =
        mochi_metrics_counter(reg, "per_partition_total", "P.", 1, (const char *[]){"p"});
    assert_non_null(family);
    struct creator creators[NTHREADS];
    pthread_t threads[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        creators[t].family = family;
        creators[t].offset = t * 17;
        assert_int_equal(pthread_create(&threads[t], NULL, creator_thread, &creators[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(threads[t], NULL);
    for (int i = 0; i < NCHILD; i++) {
        for (int t = 0; t < NTHREADS; t++) {
            assert_non_null(creators[t].seen[i]);
            assert_ptr_equal(creators[t].seen[i], creators[0].seen[i]);
        }
        assert_true(mochi_metric_value(creators[0].seen[i]) == (double)NTHREADS);
    }
    /* Exactly one series per label value: header lines plus NCHILD lines. */
    char *text = render(reg);
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2 + NCHILD);
    free(text);
    mochi_metrics_destroy(reg);
}

struct scrape_state {
    struct mochi_metric_family *depth;
    int calls;
    char order[8];
};

static void scrape_depth(struct mochi_metrics *reg, void *arg)
{
    (void)reg;
    struct scrape_state *s = arg;
    s->calls++;
    strcat(s->order, "a");
    /* Looking a child up from a callback must not deadlock. */
    struct mochi_metric *m = mochi_metrics_child(s->depth, (const char *[]){"main"});
    if (m)
        mochi_metric_set(m, 10.0 * s->calls);
}

static void scrape_second(struct mochi_metrics *reg, void *arg)
{
    (void)reg;
    strcat(((struct scrape_state *)arg)->order, "b");
}

static void test_scrape_callback(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    struct scrape_state s = {NULL, 0, ""};
    s.depth = mochi_metrics_gauge(reg, "queue_depth", "Queued.", 1, (const char *[]){"q"});
    assert_non_null(s.depth);
    assert_int_equal(mochi_metrics_on_scrape(reg, scrape_depth, &s), 0);
    assert_int_equal(mochi_metrics_on_scrape(reg, scrape_second, &s), 0);

    char *text = render(reg);
    assert_string_equal(text, "# HELP queue_depth Queued.\n"
                              "# TYPE queue_depth gauge\n"
                              "queue_depth{q=\"main\"} 10\n");
    free(text);
    text = render(reg);
    assert_string_equal(text, "# HELP queue_depth Queued.\n"
                              "# TYPE queue_depth gauge\n"
                              "queue_depth{q=\"main\"} 20\n");
    free(text);
    assert_int_equal(s.calls, 2);
    assert_string_equal(s.order, "abab");
    mochi_metrics_destroy(reg);
}

/* --print-metrics' listing: one tab-separated line per family, in
 * registration order, values and scrape callbacks left alone. */
static void count_scrape(struct mochi_metrics *reg, void *arg)
{
    (void)reg;
    (*(int *)arg)++;
}

static void test_print_families(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    assert_non_null(reg);
    int scrapes = 0;
    assert_int_equal(mochi_metrics_on_scrape(reg, count_scrape, &scrapes), 0);
    const char *labels[] = {"route", "status"};
    assert_non_null(mochi_metrics_counter(reg, "a_total", "requests", 2, labels));
    assert_non_null(mochi_metrics_gauge(reg, "b", "two\tlines\nof help", 0, NULL));
    const double bounds[] = {1, 2};
    assert_non_null(mochi_metrics_histogram(reg, "c_seconds", "", 0, NULL, bounds, 2));

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(mochi_metrics_print_families(reg, out), 0);
    fclose(out);
    assert_string_equal(text, "a_total\tcounter\troute,status\trequests\n"
                              "b\tgauge\t-\ttwo lines of help\n"
                              "c_seconds\thistogram\t-\t\n");
    assert_int_equal(scrapes, 0);
    free(text);
    mochi_metrics_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_destroy_null),
        cmocka_unit_test(test_counter),
        cmocka_unit_test(test_counter_exact_past_2_53),
        cmocka_unit_test(test_gauge),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_invalid_registration),
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_concurrent_updates),
        cmocka_unit_test(test_concurrent_children),
        cmocka_unit_test(test_scrape_callback),
        cmocka_unit_test(test_print_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
