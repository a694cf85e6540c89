/* The stream's metrics: registration (which needs no Kafka and no
 * database, so that a program can list them) and the updates that take
 * more than one line. */
#include "stream/metrics.h"
#include "common/clock.h"
#include "common/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_scrape(struct mochi_metrics *reg, void *arg);

int mochi_stream_metrics_new(struct mochi_metrics *registry, const struct mochi_stream_ops *ops,
                             struct mochi_stream_metrics **out)
{
    const char *c = ops->component;
    char name[128];
    static const char *const outcome_label[] = {"outcome"};
    static const char *const lag_labels[] = {"topic", "partition"};
    static const double size_bounds[] = {1, 10, 100, 500, 1000, 2000, 5000, 10000, 50000};
    static const double time_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,   0.25,   0.5,   1,    2.5,   10};
    struct mochi_stream_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return MOCHI_ERR_NOMEM;
    snprintf(name, sizeof(name), "mochi_%s_events_total", c);
    struct mochi_metric_family *events =
        mochi_metrics_counter(registry, name, "events by outcome", 1, outcome_label);
    if (events == NULL)
        goto fail;
    for (; ops->outcomes[m->noutcomes] != NULL; m->noutcomes++) {
        struct mochi_metric **o = &m->outcome[m->noutcomes];
        *o = mochi_metrics_child(events, (const char *[]){ops->outcomes[m->noutcomes]});
        if (*o == NULL)
            goto fail;
    }
    m->invalid = mochi_metrics_child(events, (const char *[]){"invalid"});
    m->too_old = mochi_metrics_child(events, (const char *[]){"too_old"});
    snprintf(name, sizeof(name), "mochi_%s_lag_messages", c);
    m->lag = mochi_metrics_gauge(
        registry, name, "messages between the committed offset and the log end", 2, lag_labels);
    snprintf(name, sizeof(name), "mochi_%s_batch_events", c);
    m->batch_size = mochi_metrics_single(mochi_metrics_histogram(
        registry, name, "events per applied batch", 0, NULL, size_bounds, 9));
    snprintf(name, sizeof(name), "mochi_%s_transaction_seconds", c);
    m->txn_seconds = mochi_metrics_single(mochi_metrics_histogram(
        registry, name, "PostgreSQL time to apply one batch", 0, NULL, time_bounds, 12));
    snprintf(name, sizeof(name), "mochi_%s_partitions_assigned_total", c);
    m->assigned =
        mochi_metrics_single(mochi_metrics_counter(registry, name, "partitions assigned", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_partitions_revoked_total", c);
    m->revoked =
        mochi_metrics_single(mochi_metrics_counter(registry, name, "partitions revoked", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_database_connections_total", c);
    m->reconnects = mochi_metrics_single(mochi_metrics_counter(
        registry, name, "connections made to PostgreSQL, the first included", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_database_up", c);
    m->db_up = mochi_metrics_single(
        mochi_metrics_gauge(registry, name, "1 when PostgreSQL is usable", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_dead_letters_total", c);
    m->dead_letters = mochi_metrics_single(mochi_metrics_counter(
        registry, name, "undecodable messages copied to the dead-letter topic", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_newest_applied_event_timestamp_seconds", c);
    m->newest_applied = mochi_metrics_single(mochi_metrics_gauge(
        registry, name, "occurred_at of the newest event applied (Unix time)", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_newest_applied_event_age_seconds", c);
    m->newest_age = mochi_metrics_single(mochi_metrics_gauge(
        registry, name, "seconds between now and the newest event applied", 0, NULL));
    if (ops->records_progress) {
        snprintf(name, sizeof(name), "mochi_%s_offset_gaps_total", c);
        m->gaps = mochi_metrics_single(mochi_metrics_counter(
            registry, name,
            "batches that started past the offset the database had applied up to, read again "
            "from there",
            0, NULL));
        if (m->gaps == NULL)
            goto fail;
    }
    if (!m->invalid || !m->too_old || !m->lag || !m->batch_size || !m->txn_seconds ||
        !m->assigned || !m->revoked || !m->reconnects || !m->db_up || !m->dead_letters ||
        !m->newest_applied || !m->newest_age)
        goto fail;
    if (ops->add_metrics != NULL && ops->add_metrics(ops->arg, registry) != 0)
        goto fail;
    if (mochi_metrics_on_scrape(registry, on_scrape, m) != 0)
        goto fail;
    *out = m;
    return 0;
fail:
    free(m);
    return MOCHI_ERR_NOMEM;
}

void mochi_stream_metrics_destroy(struct mochi_stream_metrics *m)
{
    free(m);
}

int mochi_stream_print_metrics(const struct mochi_stream_ops *ops, FILE *out)
{
    struct mochi_stream_metrics *m = NULL;
    struct mochi_metrics *registry = mochi_metrics_new();
    int rc = registry != NULL ? mochi_stream_metrics_new(registry, ops, &m) : MOCHI_ERR_NOMEM;
    if (rc == 0)
        rc = mochi_metrics_print_families(registry, out);
    mochi_metrics_destroy(registry); /* first: its scrape hook reads m */
    mochi_stream_metrics_destroy(m);
    return rc;
}

void stream_metrics_applied(struct mochi_stream_metrics *m, const struct stream_batch *b)
{
    if (b->nevents == 0)
        return;
    mochi_metric_observe(m->txn_seconds, (double)b->apply_ms / 1000.0);
    mochi_metric_observe(m->batch_size, (double)b->nevents);
    for (size_t i = 0; i < m->noutcomes; i++)
        mochi_metric_add(m->outcome[i], b->counts.n[i]);
    int64_t newest = 0;
    for (size_t i = 0; i < b->nevents; i++)
        if (b->events[i].ev.occurred_at_us > newest)
            newest = b->events[i].ev.occurred_at_us;
    mochi_metric_set(m->newest_applied, (double)newest / 1e6);
}

void stream_metrics_lag(struct mochi_stream_metrics *m, json_t *stats)
{
    json_t *topics = json_object_get(stats, "topics");
    const char *tname;
    json_t *t;
    json_object_foreach(topics, tname, t)
    {
        const char *pname;
        json_t *p;
        json_object_foreach(json_object_get(t, "partitions"), pname, p)
        {
            if (strcmp(pname, "-1") == 0)
                continue; /* librdkafka's internal unassigned partition */
            json_t *lag = json_object_get(p, "consumer_lag");
            const char *values[] = {tname, pname};
            struct mochi_metric *g = mochi_metrics_child(m->lag, values);
            if (g != NULL && json_is_integer(lag))
                mochi_metric_set(g,
                                 json_integer_value(lag) < 0 ? 0 : (double)json_integer_value(lag));
        }
    }
}

void stream_metrics_lag_clear(struct mochi_stream_metrics *m,
                              const rd_kafka_topic_partition_list_t *parts)
{
    for (int p = 0; p < parts->cnt; p++) {
        char pn[16];
        snprintf(pn, sizeof(pn), "%d", (int)parts->elems[p].partition);
        struct mochi_metric *g =
            mochi_metrics_child(m->lag, (const char *[]){parts->elems[p].topic, pn});
        if (g)
            mochi_metric_set(g, 0);
    }
}

static void on_scrape(struct mochi_metrics *reg, void *arg)
{
    (void)reg;
    struct mochi_stream_metrics *m = arg;
    double newest = mochi_metric_value(m->newest_applied);
    if (newest > 0)
        mochi_metric_set(m->newest_age, (double)mochi_clock_now_us() / 1e6 - newest);
}
