/* The stream's metrics (stream/metrics.c) registered on a registry
 * without Kafka or PostgreSQL, as a --print-metrics would, and the updates
 * a batch and a statistics document make. Expected names are written out
 * from docs/metrics.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/clock.h"
#include "stream/metrics.h"

static const char *const outcomes[] = {"stored", "duplicate", NULL};
static const struct mochi_stream_ops ops = {
    .program = "mochi-test",
    .component = "thing",
    .outcomes = outcomes,
};

static char *render(struct mochi_metrics *reg)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(mochi_metrics_render(reg, &out, &len), 0);
    assert_non_null(out);
    return out;
}

static void every_metric_registered_offline(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    struct mochi_stream_metrics *m = NULL;
    assert_int_equal(mochi_stream_metrics_new(reg, &ops, &m), 0);
    char *text = render(reg);
    static const char *const expected[] = {
        "# TYPE mochi_thing_events_total counter",
        "mochi_thing_events_total{outcome=\"stored\"} 0",
        "mochi_thing_events_total{outcome=\"duplicate\"} 0",
        "mochi_thing_events_total{outcome=\"invalid\"} 0",
        "mochi_thing_events_total{outcome=\"too_old\"} 0",
        "# TYPE mochi_thing_lag_messages gauge",
        "# TYPE mochi_thing_batch_events histogram",
        "# TYPE mochi_thing_transaction_seconds histogram",
        "# TYPE mochi_thing_partitions_assigned_total counter",
        "# TYPE mochi_thing_partitions_revoked_total counter",
        "# TYPE mochi_thing_database_connections_total counter",
        "# TYPE mochi_thing_database_up gauge",
        "# TYPE mochi_thing_dead_letters_total counter",
        "# TYPE mochi_thing_newest_applied_event_timestamp_seconds gauge",
        "# TYPE mochi_thing_newest_applied_event_age_seconds gauge",
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        if (strstr(text, expected[i]) == NULL)
            fail_msg("missing: %s\nin:\n%s", expected[i], text);
    assert_int_equal(m->noutcomes, 2);
    free(text);
    mochi_metrics_destroy(reg);
    mochi_stream_metrics_destroy(m);
    mochi_stream_metrics_destroy(NULL);
}

/* An applied batch adds its applier's counts by outcome, its size, and
 * the newest event's time; the age follows at the scrape. */
static void applied_batch_counted(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    struct mochi_stream_metrics *m = NULL;
    assert_int_equal(mochi_stream_metrics_new(reg, &ops, &m), 0);
    struct mochi_stream_event events[3];
    memset(events, 0, sizeof(events));
    int64_t now = mochi_clock_now_us();
    events[0].ev.occurred_at_us = now - 30000000; /* 30 s ago: the newest */
    events[1].ev.occurred_at_us = now - 90000000;
    events[2].ev.occurred_at_us = now - 60000000;
    struct stream_batch b = {.events = events, .nevents = 3, .apply_ms = 20};
    b.counts.n[0] = 2;
    b.counts.n[1] = 1;
    stream_metrics_applied(m, &b);
    assert_true(mochi_metric_value(m->outcome[0]) == 2);
    assert_true(mochi_metric_value(m->outcome[1]) == 1);
    assert_true(mochi_metric_value(m->newest_applied) == (double)(now - 30000000) / 1e6);
    char *text = render(reg);
    assert_non_null(strstr(text, "mochi_thing_batch_events_count 1\n"));
    assert_non_null(strstr(text, "mochi_thing_batch_events_sum 3\n"));
    free(text);
    double age = mochi_metric_value(m->newest_age);
    assert_true(age >= 30 && age < 40);
    mochi_metrics_destroy(reg);
    mochi_stream_metrics_destroy(m);
}

/* Consumer lag per partition from a statistics document; librdkafka's
 * internal partition -1 is skipped, a negative lag reads 0. */
static void lag_from_statistics(void **state)
{
    (void)state;
    struct mochi_metrics *reg = mochi_metrics_new();
    struct mochi_stream_metrics *m = NULL;
    assert_int_equal(mochi_stream_metrics_new(reg, &ops, &m), 0);
    json_t *stats = json_loads("{\"topics\": {\"pv\": {\"partitions\": {"
                               "\"0\": {\"consumer_lag\": 12},"
                               "\"1\": {\"consumer_lag\": -1},"
                               "\"-1\": {\"consumer_lag\": 99}}}}}",
                               0, NULL);
    assert_non_null(stats);
    stream_metrics_lag(m, stats);
    json_decref(stats);
    char *text = render(reg);
    assert_non_null(strstr(text, "mochi_thing_lag_messages{topic=\"pv\",partition=\"0\"} 12\n"));
    assert_non_null(strstr(text, "mochi_thing_lag_messages{topic=\"pv\",partition=\"1\"} 0\n"));
    assert_null(strstr(text, "partition=\"-1\""));
    free(text);
    mochi_metrics_destroy(reg);
    mochi_stream_metrics_destroy(m);
}

/* --print-metrics of a stream daemon: every family, one line each, with
 * its type and label names, from a registry of its own. */
static void print_metrics_lists_families(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(mochi_stream_print_metrics(&ops, out), 0);
    fclose(out);
    static const char *const expected[] = {
        "mochi_thing_events_total\tcounter\toutcome\t",
        "mochi_thing_lag_messages\tgauge\ttopic,partition\t",
        "mochi_thing_batch_events\thistogram\t-\t",
        "mochi_thing_transaction_seconds\thistogram\t-\t",
        "mochi_thing_partitions_assigned_total\tcounter\t-\t",
        "mochi_thing_partitions_revoked_total\tcounter\t-\t",
        "mochi_thing_database_connections_total\tcounter\t-\t",
        "mochi_thing_database_up\tgauge\t-\t",
        "mochi_thing_dead_letters_total\tcounter\t-\t",
        "mochi_thing_newest_applied_event_timestamp_seconds\tgauge\t-\t",
        "mochi_thing_newest_applied_event_age_seconds\tgauge\t-\t",
    };
    size_t lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, sizeof(expected) / sizeof(expected[0]));
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        char *line = strstr(text, expected[i]);
        if (line == NULL || (line != text && line[-1] != '\n'))
            fail_msg("missing: %s\nin:\n%s", expected[i], text);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_metric_registered_offline),
        cmocka_unit_test(applied_batch_counted),
        cmocka_unit_test(lag_from_statistics),
        cmocka_unit_test(print_metrics_lists_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
