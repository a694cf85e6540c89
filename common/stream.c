#include "common/clock.h"
#include "common/stream.h"
#include "common/codec.h"
#include "common/daemon.h"
#include "common/db.h"
#include "common/error.h"
#include "common/http_metrics.h"
#include "common/kafka.h"
#include "common/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARTITIONS 1024
#define KNOWN_DAYS 64
#define MINUTE_US INT64_C(60000000)
#define DAY_US INT64_C(86400000000)

const struct mochi_setting mochi_setting_group = {
    .name = "group",
    .env = "MOCHI_GROUP",
    .type = MOCHI_SETTING_STRING,
    .help = "consumer group (default: the program's, mochi-ingest or mochi-rollup)"};
const struct mochi_setting mochi_setting_batch_size = {
    .name = "batch-size",
    .env = "MOCHI_BATCH_SIZE",
    .type = MOCHI_SETTING_INT,
    .default_value = "10000",
    .min = 1,
    .max = 100000,
    .help = "most events applied in one transaction"};
const struct mochi_setting mochi_setting_batch_wait = {
    .name = "batch-wait",
    .env = "MOCHI_BATCH_WAIT",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "200ms",
    .min = 1,
    .max = 60000,
    .help = "longest wait for a batch to fill before it is applied"};
const struct mochi_setting mochi_setting_retention = {
    .name = "dedupe-retention",
    .env = "MOCHI_DEDUPE_RETENTION",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "7d",
    .min = 3600 * 1000LL,
    .max = 3650 * 86400 * 1000LL,
    .help = "how long dedupe state is kept; older events are refused outside a replay"};
const struct mochi_setting mochi_setting_metrics_listen_consumer = {
    .name = "metrics-listen",
    .env = "MOCHI_METRICS_LISTEN",
    .type = MOCHI_SETTING_ADDRESS,
    .default_value = "127.0.0.1:9101",
    .help = "address of /metrics and /healthz"};
const struct mochi_setting mochi_setting_metrics_listen_rollup = {
    .name = "metrics-listen",
    .env = "MOCHI_METRICS_LISTEN",
    .type = MOCHI_SETTING_ADDRESS,
    .default_value = "127.0.0.1:9102",
    .help = "address of /metrics and /healthz"};

struct partition_mark {
    int32_t partition;
    int64_t next_offset; /* to commit: last offset taken + 1 */
};

/* A batch: events decoded from Kafka, the offsets they cover, and what
 * applying it gave. */
struct batch {
    struct mochi_stream_event *events;
    size_t nevents;
    struct partition_mark marks[MAX_PARTITIONS]; /* offsets the batch covers */
    size_t nmarks;
    bool staged; /* ops->stage has seen the batch as it is */
    int rc;      /* of the last apply (or stage) */
    struct mochi_stream_counts counts;
    int64_t apply_ms;
};

struct stream {
    const struct mochi_config *config;
    const struct mochi_stream_ops *ops;
    const char *topic;
    char dlq_topic[256];
    size_t batch_max;
    long long batch_wait_ms;
    long long retention_ms;

    rd_kafka_t *consumer;
    rd_kafka_t *dlq;
    atomic_int dlq_failures;
    atomic_bool kafka_fatal;
    struct mochi_schema_set *schemas;
    struct mochi_codec *codec;

    PGconn *conn;
    const char *conninfo;
    bool db_down;       /* the batch in hand waits for the database */
    bool paused;        /* consumption paused for it */
    bool ever_assigned; /* a rebalance has given this member partitions */
    long long backoff_ms;
    long long known_days[KNOWN_DAYS];
    size_t nknown_days;

    /* Two batches: the poll loop fills `hand` while the applier thread
     * applies `flight`, so that decoding overlaps the database's work.
     * Batches are applied one at a time and in order: a batch leaves the
     * hand only once the one before it is applied and its offsets
     * committed. flight is NULL when there is none; when an apply failed
     * it stays, not flying, until it is applied again. */
    struct batch batches[2];
    /* Partitions with a message handed back (hand_back): next_offset is
     * the offset that must be the next one taken from it. */
    struct partition_mark rewinds[MAX_PARTITIONS];
    size_t nrewinds;
    struct batch *hand;
    struct batch *flight;
    bool flying; /* the applier has flight */

    pthread_t applier;
    bool applier_started;
    pthread_mutex_t lock; /* guards job, done and quit */
    pthread_cond_t cond;
    bool job, done, quit;

    struct mochi_metrics *metrics;
    struct mochi_metrics_server *server;
    struct mochi_metric_family *lag_family;
    struct mochi_metric *outcome[MOCHI_STREAM_MAX_OUTCOMES + 2];
    struct mochi_metric *batch_size;
    struct mochi_metric *txn_seconds;
    struct mochi_metric *assigned;
    struct mochi_metric *revoked;
    struct mochi_metric *reconnects;
    struct mochi_metric *db_up;
    struct mochi_metric *dlq_count;
    struct mochi_metric *newest_applied;
    struct mochi_metric *newest_age;
};

static int flush_batch(struct stream *s, bool sync);
static void forget_rewinds(struct stream *s, const rd_kafka_topic_partition_list_t *parts);

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- metrics ---- */

static void on_scrape(struct mochi_metrics *reg, void *arg)
{
    (void)reg;
    struct stream *s = arg;
    double newest = mochi_metric_value(s->newest_applied);
    if (newest > 0)
        mochi_metric_set(s->newest_age, (double)wall_us() / 1e6 - newest);
}

static struct mochi_metric *plain(struct mochi_metric_family *f)
{
    return f ? mochi_metrics_child(f, NULL) : NULL;
}

static int make_metrics(struct stream *s)
{
    const char *c = s->ops->component;
    char name[128];
    static const char *const outcome_label[] = {"outcome"};
    static const char *const lag_labels[] = {"topic", "partition"};
    static const double size_bounds[] = {1, 10, 100, 500, 1000, 2000, 5000, 10000, 50000};
    static const double time_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,   0.25,   0.5,   1,    2.5,   10};
    s->metrics = mochi_metrics_new();
    if (s->metrics == NULL)
        return MOCHI_ERR_NOMEM;
    snprintf(name, sizeof(name), "mochi_%s_events_total", c);
    struct mochi_metric_family *events =
        mochi_metrics_counter(s->metrics, name, "events by outcome", 1, outcome_label);
    if (events == NULL)
        return MOCHI_ERR_NOMEM;
    size_t i = 0;
    for (; s->ops->outcomes[i] != NULL; i++)
        s->outcome[i] = mochi_metrics_child(events, (const char *[]){s->ops->outcomes[i]});
    s->outcome[MOCHI_STREAM_MAX_OUTCOMES] =
        mochi_metrics_child(events, (const char *[]){"invalid"});
    s->outcome[MOCHI_STREAM_MAX_OUTCOMES + 1] =
        mochi_metrics_child(events, (const char *[]){"too_old"});
    snprintf(name, sizeof(name), "mochi_%s_lag_messages", c);
    s->lag_family = mochi_metrics_gauge(
        s->metrics, name, "messages between the committed offset and the log end", 2, lag_labels);
    snprintf(name, sizeof(name), "mochi_%s_batch_events", c);
    s->batch_size = plain(mochi_metrics_histogram(s->metrics, name, "events per applied batch", 0,
                                                  NULL, size_bounds, 9));
    snprintf(name, sizeof(name), "mochi_%s_transaction_seconds", c);
    s->txn_seconds = plain(mochi_metrics_histogram(
        s->metrics, name, "PostgreSQL time to apply one batch", 0, NULL, time_bounds, 12));
    snprintf(name, sizeof(name), "mochi_%s_partitions_assigned_total", c);
    s->assigned = plain(mochi_metrics_counter(s->metrics, name, "partitions assigned", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_partitions_revoked_total", c);
    s->revoked = plain(mochi_metrics_counter(s->metrics, name, "partitions revoked", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_database_connections_total", c);
    s->reconnects = plain(mochi_metrics_counter(
        s->metrics, name, "connections made to PostgreSQL, the first included", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_database_up", c);
    s->db_up = plain(mochi_metrics_gauge(s->metrics, name, "1 when PostgreSQL is usable", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_dead_letters_total", c);
    s->dlq_count = plain(mochi_metrics_counter(
        s->metrics, name, "undecodable messages copied to the dead-letter topic", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_newest_applied_event_timestamp_seconds", c);
    s->newest_applied = plain(mochi_metrics_gauge(
        s->metrics, name, "occurred_at of the newest event applied (Unix time)", 0, NULL));
    snprintf(name, sizeof(name), "mochi_%s_newest_applied_event_age_seconds", c);
    s->newest_age = plain(mochi_metrics_gauge(
        s->metrics, name, "seconds between now and the newest event applied", 0, NULL));
    if (s->newest_age == NULL || mochi_metrics_on_scrape(s->metrics, on_scrape, s) != 0)
        return MOCHI_ERR_NOMEM;
    for (size_t k = 0; k < i; k++)
        if (s->outcome[k] == NULL)
            return MOCHI_ERR_NOMEM;
    if (!s->outcome[MOCHI_STREAM_MAX_OUTCOMES] || !s->outcome[MOCHI_STREAM_MAX_OUTCOMES + 1] ||
        !s->lag_family || !s->batch_size || !s->txn_seconds || !s->assigned || !s->revoked ||
        !s->reconnects || !s->db_up || !s->dlq_count || !s->newest_applied)
        return MOCHI_ERR_NOMEM;
    return 0;
}

/* librdkafka statistics: consumer lag per partition. Returning 0 lets
 * librdkafka free json. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    struct stream *s = opaque;
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *topics = root ? json_object_get(root, "topics") : NULL;
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
            struct mochi_metric *m = mochi_metrics_child(s->lag_family, values);
            if (m != NULL && json_is_integer(lag))
                mochi_metric_set(m,
                                 json_integer_value(lag) < 0 ? 0 : (double)json_integer_value(lag));
        }
    }
    json_decref(root);
    return 0;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct stream *s = opaque;
    char quoted[512];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        atomic_store(&s->kafka_fatal, true);
        mochi_log(MOCHI_LOG_ERROR, s->ops->component, "msg=\"fatal Kafka error\" reason=%s",
                  mochi_log_quote(quoted, sizeof(quoted), why));
        return;
    }
    mochi_log(MOCHI_LOG_WARN, s->ops->component, "msg=\"Kafka error\" error=%s reason=%s",
              rd_kafka_err2name((rd_kafka_resp_err_t)err),
              mochi_log_quote(quoted, sizeof(quoted), reason));
}

static int healthy(void *arg)
{
    struct stream *s = arg;
    return !atomic_load(&s->kafka_fatal);
}

/* ---- database ---- */

static int db_ensure(struct stream *s)
{
    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    PQfinish(s->conn);
    s->conn = NULL;
    s->nknown_days = 0; /* partitions may have been dropped meanwhile */
    char err[512] = "";
    int rc = mochi_db_connect(s->conninfo, s->ops->program, &s->conn, err, sizeof(err));
    if (rc == 0 && s->ops->prepare != NULL) {
        rc = s->ops->prepare(s->ops->arg, s->conn);
        if (rc != 0)
            snprintf(err, sizeof(err), "preparing the connection failed: %s", mochi_strerror(rc));
    }
    if (rc != 0) {
        if (!s->db_down)
            mochi_log(MOCHI_LOG_WARN, s->ops->component,
                      "msg=\"database unavailable, pausing consumption\" error=\"%s\"", err);
        PQfinish(s->conn);
        s->conn = NULL;
        mochi_metric_set(s->db_up, 0);
        return MOCHI_ERR_AGAIN;
    }
    mochi_metric_inc(s->reconnects);
    mochi_metric_set(s->db_up, 1);
    return 0;
}

/* Creates the partitions of each day the batch touches, outside the batch
 * transaction (creating a partition locks its parent). */
static int ensure_days(struct stream *s, const struct batch *b)
{
    for (size_t i = 0; i < b->nevents; i++) {
        long long day = b->events[i].ev.occurred_at_us / DAY_US;
        bool known = false;
        for (size_t k = 0; k < s->nknown_days && !known; k++)
            known = s->known_days[k] == day;
        if (known)
            continue;
        char daytext[11], err[512];
        mochi_day_format(day, daytext);
        const char *params[] = {daytext};
        PGresult *res = NULL;
        int rc = mochi_db_query(s->conn, "SELECT mochi_ensure_day($1::date)", 1, params, &res, err,
                                sizeof(err));
        PQclear(res);
        if (rc != 0) {
            mochi_log(MOCHI_LOG_WARN, s->ops->component,
                      "msg=\"cannot create day partitions\" day=%s error=\"%s\"", daytext, err);
            return rc;
        }
        if (s->nknown_days < KNOWN_DAYS)
            s->known_days[s->nknown_days++] = day;
        else
            s->known_days[day % KNOWN_DAYS] = day;
    }
    return 0;
}

/* ---- batch ---- */

static void mark_offset(struct batch *b, int32_t partition, int64_t offset)
{
    for (size_t i = 0; i < b->nmarks; i++) {
        if (b->marks[i].partition == partition) {
            if (offset + 1 > b->marks[i].next_offset)
                b->marks[i].next_offset = offset + 1;
            return;
        }
    }
    if (b->nmarks < MAX_PARTITIONS)
        b->marks[b->nmarks++] = (struct partition_mark){partition, offset + 1};
}

static void dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    struct stream *s = opaque;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&s->dlq_failures, 1);
        mochi_log(MOCHI_LOG_ERROR, s->ops->component,
                  "msg=\"dead letter not delivered\" error=\"%s\"", rd_kafka_err2str(msg->err));
    }
}

static void dead_letter(struct stream *s, const rd_kafka_message_t *m, int err)
{
    mochi_metric_inc(s->outcome[MOCHI_STREAM_MAX_OUTCOMES]);
    if (!s->ops->write_dlq)
        return;
    char partition[16], offset[32];
    snprintf(partition, sizeof(partition), "%d", (int)m->partition);
    snprintf(offset, sizeof(offset), "%lld", (long long)m->offset);
    const char *error = mochi_strerror(err);
    rd_kafka_resp_err_t rc = rd_kafka_producev(
        s->dlq, RD_KAFKA_V_TOPIC(s->dlq_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
        RD_KAFKA_V_HEADER("mochi.error", error, -1),
        RD_KAFKA_V_HEADER("mochi.source.topic", s->topic, -1),
        RD_KAFKA_V_HEADER("mochi.source.partition", partition, -1),
        RD_KAFKA_V_HEADER("mochi.source.offset", offset, -1), RD_KAFKA_V_END);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
        atomic_fetch_add(&s->dlq_failures, 1);
    mochi_metric_inc(s->dlq_count);
    mochi_log(MOCHI_LOG_WARN, s->ops->component,
              "msg=\"undecodable message sent to the dead-letter topic\" error=%s partition=%s "
              "offset=%s",
              error, partition, offset);
}

/* Decodes one message into the batch, or dead-letters or refuses it. */
static void take(struct stream *s, const rd_kafka_message_t *m)
{
    struct batch *b = s->hand;
    mark_offset(b, m->partition, m->offset);
    struct mochi_stream_event *e = &b->events[b->nevents];
    int rc = mochi_codec_decode(s->codec, m->payload, m->len, &e->ev);
    int64_t now = wall_us();
    if (rc == 0 && e->ev.occurred_at_us > now + DAY_US)
        rc = MOCHI_ERR_RANGE; /* from the future: no collector clock is that wrong */
    if (rc != 0) {
        dead_letter(s, m, rc);
        return;
    }
    if (e->ev.occurred_at_us < now - s->retention_ms * 1000 &&
        !(s->ops->accept_old && s->ops->accept_old(s->ops->arg, e->ev.occurred_at_us))) {
        mochi_metric_inc(s->outcome[MOCHI_STREAM_MAX_OUTCOMES + 1]);
        return;
    }
    mochi_dedupe_key(e->ev.visitor_hash, e->ev.path, strlen(e->ev.path), e->dedupe_key);
    e->minute_us = e->ev.occurred_at_us - e->ev.occurred_at_us % MINUTE_US;
    e->partition = m->partition;
    e->offset = m->offset;
    b->nevents++;
    b->staged = false;
}

/* Hands the batch's offsets to the client and asks it to commit them.
 *
 * Offsets are stored (rd_kafka_offsets_store) only here, after the
 * database transaction holding their effects has committed, and the
 * client's auto-commit (enable.auto.commit with enable.auto.offset.store
 * off) commits what is stored: every auto.commit.interval.ms it commits
 * each assigned partition whose stored offset differs from the committed
 * one, and again when partitions are revoked or the consumer closes. So a
 * commit the broker refuses (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION
 * around a rebalance) is sent again at the next interval, also when the
 * partition has gone quiet, and the committed offset converges to what
 * PostgreSQL holds without ever passing it. The commit asked for here only
 * makes the common case prompt. Returns 0 or MOCHI_ERR_AGAIN (logged). */
static int store_marks(struct stream *s, const struct batch *b, bool sync)
{
    if (b->nmarks == 0)
        return 0;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)b->nmarks);
    for (size_t i = 0; i < b->nmarks; i++)
        rd_kafka_topic_partition_list_add(list, s->topic, b->marks[i].partition)->offset =
            b->marks[i].next_offset;
    /* A partition that is not assigned any more fails with _STATE: the
     * revoke path applies what it holds before unassigning, so this is a
     * partition lost without a revoke; its new owner reads it again. */
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(s->consumer, list);
    for (int i = 0; i < list->cnt; i++)
        if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
            mochi_log(MOCHI_LOG_WARN, s->ops->component,
                      "msg=\"offset not stored\" partition=%d offset=%lld error=%s",
                      (int)list->elems[i].partition, (long long)list->elems[i].offset,
                      rd_kafka_err2name(list->elems[i].err));
    rd_kafka_topic_partition_list_destroy(list);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        err = rd_kafka_commit(s->consumer, NULL, sync ? 0 : 1); /* what is stored */
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        /* Not fatal: auto-commit tries again (above); meanwhile the
         * database holds the effects and applying them again is harmless. */
        mochi_log(MOCHI_LOG_WARN, s->ops->component, "msg=\"offset commit failed\" error=%s",
                  rd_kafka_err2name(err));
        return MOCHI_ERR_AGAIN;
    }
    return 0;
}

static void set_paused(struct stream *s, bool pause)
{
    if (s->paused == pause)
        return;
    rd_kafka_topic_partition_list_t *assignment = NULL;
    if (rd_kafka_assignment(s->consumer, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (pause)
            rd_kafka_pause_partitions(s->consumer, assignment);
        else
            rd_kafka_resume_partitions(s->consumer, assignment);
        rd_kafka_topic_partition_list_destroy(assignment);
    }
    s->paused = pause;
}

/* Gives newly assigned partitions the stream's pause state, whichever it
 * is. The client keeps a partition's pause flag across revoke and
 * re-assignment, and set_paused only reaches the partitions assigned at
 * the time: a partition paused during a database outage, revoked, and
 * assigned again after the stream resumed would otherwise stay paused for
 * good, held and never fetched. */
static void set_assigned_paused(struct stream *s, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err = s->paused ? rd_kafka_pause_partitions(s->consumer, parts)
                                        : rd_kafka_resume_partitions(s->consumer, parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        mochi_log(MOCHI_LOG_WARN, s->ops->component,
                  "msg=\"cannot %s assigned partitions\" error=%s", s->paused ? "pause" : "resume",
                  rd_kafka_err2name(err));
}

/* Runs ops->stage on a batch that changed since it was last staged; on the
 * main thread only. Returns its result (0 without a stage hook). */
static int stage_batch(struct stream *s, struct batch *b)
{
    if (s->ops->stage == NULL || b->staged || b->nevents == 0)
        return 0;
    int rc = s->ops->stage(s->ops->arg, (int)(b - s->batches), b->events, b->nevents);
    b->staged = rc == 0;
    return rc;
}

/* The database part of applying a batch; runs on the applier thread, or
 * on the main thread when the applier is idle. Leaves its result in b. */
static void apply_batch(struct stream *s, struct batch *b)
{
    memset(&b->counts, 0, sizeof(b->counts));
    b->rc = 0;
    if (b->nevents == 0)
        return;
    int64_t t0 = mono_ms();
    b->rc = db_ensure(s);
    if (b->rc == 0)
        b->rc = ensure_days(s, b);
    if (b->rc == 0)
        b->rc = s->ops->apply(s->ops->arg, (int)(b - s->batches), s->conn, b->events, b->nevents,
                              &b->counts);
    b->apply_ms = mono_ms() - t0;
}

/* After apply_batch, on the main thread: on success counts the batch,
 * commits its offsets and empties it; on failure notes that the database
 * is away and keeps the batch. Returns 0 or MOCHI_ERR_AGAIN. */
static int finish_batch(struct stream *s, struct batch *b, bool sync_commit)
{
    if (b->rc != 0) {
        if (!s->db_down)
            mochi_log(MOCHI_LOG_WARN, s->ops->component,
                      "msg=\"batch not applied, will retry\" events=%zu error=%s", b->nevents,
                      mochi_strerror(b->rc));
        s->db_down = true;
        if (s->conn != NULL && PQstatus(s->conn) != CONNECTION_OK) {
            PQfinish(s->conn);
            s->conn = NULL;
            mochi_metric_set(s->db_up, 0);
        }
        return MOCHI_ERR_AGAIN;
    }
    if (b->nevents > 0) {
        mochi_metric_observe(s->txn_seconds, (double)b->apply_ms / 1000.0);
        mochi_metric_observe(s->batch_size, (double)b->nevents);
        for (size_t i = 0; s->ops->outcomes[i] != NULL; i++)
            mochi_metric_add(s->outcome[i], b->counts.n[i]);
        int64_t newest = 0;
        for (size_t i = 0; i < b->nevents; i++)
            if (b->events[i].ev.occurred_at_us > newest)
                newest = b->events[i].ev.occurred_at_us;
        mochi_metric_set(s->newest_applied, (double)newest / 1e6);
    }
    if (s->db_down) {
        mochi_log(MOCHI_LOG_INFO, s->ops->component, "msg=\"database back, resuming\"");
        s->db_down = false;
        s->backoff_ms = 0;
    }
    /* A failed commit is only logged here: auto-commit retries it. */
    (void)store_marks(s, b, sync_commit);
    b->nevents = 0;
    b->nmarks = 0;
    return 0;
}

static void *applier_main(void *arg)
{
    struct stream *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->job && !s->quit)
            pthread_cond_wait(&s->cond, &s->lock);
        if (!s->job)
            break; /* quit, nothing in hand */
        struct batch *b = s->flight;
        pthread_mutex_unlock(&s->lock);
        apply_batch(s, b);
        pthread_mutex_lock(&s->lock);
        s->job = false;
        s->done = true;
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Brings the batch in flight to an end: waits for the applier, or applies
 * a batch that failed before once more, then finishes it. */
static int settle_flight(struct stream *s, bool sync_commit)
{
    if (s->flight == NULL)
        return 0;
    if (s->flying) {
        pthread_mutex_lock(&s->lock);
        while (!s->done)
            pthread_cond_wait(&s->cond, &s->lock);
        s->done = false;
        pthread_mutex_unlock(&s->lock);
        s->flying = false;
    } else {
        s->flight->rc = stage_batch(s, s->flight);
        if (s->flight->rc == 0)
            apply_batch(s, s->flight);
    }
    if (finish_batch(s, s->flight, sync_commit) != 0)
        return MOCHI_ERR_AGAIN;
    s->flight = NULL;
    return 0;
}

/* True when the applier has finished the batch in flight. */
static bool flight_landed(struct stream *s)
{
    pthread_mutex_lock(&s->lock);
    bool done = s->done;
    pthread_mutex_unlock(&s->lock);
    return done;
}

static bool pending(const struct stream *s)
{
    return s->flight != NULL || s->hand->nevents > 0 || s->hand->nmarks > 0;
}

/* Moves the batch in hand on: after the one in flight is applied, hands it
 * to the applier (or, with sync, when the database is away or for a
 * revoke or the last batch, applies it here and now). Returns 0 when every
 * batch up to the hand is applied or on its way, MOCHI_ERR_AGAIN when one
 * is still waiting for the database. */
static int flush_batch(struct stream *s, bool sync)
{
    if (settle_flight(s, sync) != 0)
        return MOCHI_ERR_AGAIN;
    struct batch *b = s->hand;
    if (b->nevents == 0 && b->nmarks == 0)
        return 0;
    if (s->ops->write_dlq) {
        /* Dead letters must be in Kafka before the offsets pass them. */
        rd_kafka_flush(s->dlq, 30000);
        if (rd_kafka_outq_len(s->dlq) > 0 || atomic_exchange(&s->dlq_failures, 0) > 0) {
            mochi_log(MOCHI_LOG_WARN, s->ops->component,
                      "msg=\"dead-letter topic unavailable, batch kept\"");
            return MOCHI_ERR_AGAIN;
        }
    }
    b->rc = stage_batch(s, b);
    if (b->rc != 0)
        return finish_batch(s, b, sync);
    if (sync || s->db_down || b->nevents == 0 || !s->applier_started) {
        apply_batch(s, b);
        return finish_batch(s, b, sync);
    }
    s->flight = b;
    s->hand = b == &s->batches[0] ? &s->batches[1] : &s->batches[0];
    s->flying = true;
    pthread_mutex_lock(&s->lock);
    s->job = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* Drops from a batch every event of a revoked partition, when the batch
 * cannot be applied before the partition is handed over: its new owner
 * reads them again from the committed offset. */
static void forget_partitions(struct batch *b, const rd_kafka_topic_partition_list_t *parts)
{
    size_t kept = 0;
    for (size_t i = 0; i < b->nevents; i++) {
        bool gone = false;
        for (int p = 0; p < parts->cnt && !gone; p++)
            gone = parts->elems[p].partition == b->events[i].partition;
        if (!gone)
            b->events[kept++] = b->events[i];
    }
    b->nevents = kept;
    size_t marks = 0;
    for (size_t i = 0; i < b->nmarks; i++) {
        bool gone = false;
        for (int p = 0; p < parts->cnt && !gone; p++)
            gone = parts->elems[p].partition == b->marks[i].partition;
        if (!gone)
            b->marks[marks++] = b->marks[i];
    }
    b->nmarks = marks;
    b->staged = false;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct stream *s = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        mochi_metric_add(s->assigned, (uint64_t)parts->cnt);
        mochi_log(MOCHI_LOG_INFO, s->ops->component, "msg=\"partitions assigned\" count=%d",
                  parts->cnt);
        s->ever_assigned = true;
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e)
                rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, parts);
        }
        set_assigned_paused(s, parts);
        forget_rewinds(s, parts);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        mochi_metric_add(s->revoked, (uint64_t)parts->cnt);
        /* Finish the work in hand before the partitions move on. */
        if (flush_batch(s, true) != 0) {
            forget_partitions(s->hand, parts);
            if (s->flight != NULL) { /* failed, so not flying */
                forget_partitions(s->flight, parts);
                if (s->flight->nevents == 0 && s->flight->nmarks == 0)
                    s->flight = NULL;
            }
        }
        forget_rewinds(s, parts);
        mochi_log(MOCHI_LOG_INFO, s->ops->component, "msg=\"partitions revoked\" count=%d",
                  parts->cnt);
        for (int p = 0; p < parts->cnt; p++) {
            char pn[16];
            snprintf(pn, sizeof(pn), "%d", (int)parts->elems[p].partition);
            struct mochi_metric *m =
                mochi_metrics_child(s->lag_family, (const char *[]){parts->elems[p].topic, pn});
            if (m)
                mochi_metric_set(m, 0);
        }
    } else {
        mochi_log(MOCHI_LOG_WARN, s->ops->component, "msg=\"rebalance error\" error=%s",
                  rd_kafka_err2name(err));
    }
    if (cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

/* ---- set-up ---- */

static int make_clients(struct stream *s, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = NULL;
    int rc = mochi_kafka_conf_new(s->config, s->ops->program, &conf, err, errlen);
    if (rc != 0)
        return rc;
    const char *group = mochi_config_str(s->config, &mochi_setting_group);
    static const char *const defaults[][2] = {
        {"auto.offset.reset", "earliest"},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"statistics.interval.ms", "5000"},
        {"fetch.wait.max.ms", "100"},
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "1000"},
        /* how soon a refused commit is sent again */
        {"auto.commit.interval.ms", "1000"},
    };
    for (size_t i = 0; rc == 0 && i < sizeof(defaults) / sizeof(defaults[0]); i++)
        rc = mochi_kafka_default(s->config, conf, defaults[i][0], defaults[i][1], err, errlen);
    if (rc == 0)
        rc = mochi_kafka_set(conf, "group.id", group ? group : s->ops->default_group, err, errlen);
    /* Offsets are stored by hand, after the database has the effects
     * (store_marks), and the client commits what is stored, retrying
     * commits the broker refused. */
    if (rc == 0)
        rc = mochi_kafka_set(conf, "enable.auto.commit", "true", err, errlen);
    if (rc == 0)
        rc = mochi_kafka_set(conf, "enable.auto.offset.store", "false", err, errlen);
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    rd_kafka_conf_set_error_cb(conf, on_error);
    char why[256];
    s->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (s->consumer == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "cannot create the Kafka consumer: %s", why);
        return MOCHI_ERR_INVALID;
    }
    /* conf belongs to the consumer now */
    rd_kafka_poll_set_consumer(s->consumer);

    if (s->ops->write_dlq) {
        conf = NULL;
        rc = mochi_kafka_conf_new(s->config, s->ops->program, &conf, err, errlen);
        if (rc == 0)
            rc = mochi_kafka_set(conf, "enable.idempotence", "true", err, errlen);
        if (rc != 0) {
            if (conf)
                rd_kafka_conf_destroy(conf);
            return rc;
        }
        rd_kafka_conf_set_opaque(conf, s);
        rd_kafka_conf_set_dr_msg_cb(conf, dlq_delivered);
        s->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
        if (s->dlq == NULL) {
            rd_kafka_conf_destroy(conf);
            snprintf(err, errlen, "cannot create the dead-letter producer: %s", why);
            return MOCHI_ERR_INVALID;
        }
    }
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, s->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(s->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "cannot subscribe to %s: %s", s->topic, rd_kafka_err2str(e));
        return MOCHI_ERR_INVALID;
    }
    return 0;
}

/* ---- handing messages back ----
 *
 * While the database is away, messages fetched before the pause took
 * effect can still arrive (the client drops most at the pause; rarely, and
 * not seen in tests, some get through); past twice a batch there is no
 * room for them, so each is handed back: the partition seeks to its
 * offset, to read it again once the stream resumes. A seek can fail or
 * time out (the client's state is then unknown), and after a seek that did
 * not take effect a pause and resume restart the partition after the last
 * message the client returned, which is the message handed back. Had the
 * fetch position passed a handed-back message, the messages after it
 * would be applied and their offsets committed, and it would be lost.
 *
 * So the stream does not rely on the seek: it remembers, per partition,
 * the offset handed back (rewinds), and takes no message of that
 * partition beyond it until the message at it has been taken; one beyond
 * it means the position did pass it, and is handed back too (seeking
 * again). Offsets are stored only for messages taken, so no offset past
 * a handed-back message is ever committed. The one way past is the broker
 * deleting the message (retention moved the log start beyond it): then
 * there is nothing left to read there, and the rewind is dropped. A revoke
 * or an assignment drops a partition's rewind too: its consumption starts
 * again from the committed offset, which is not past the rewind. */

static struct partition_mark *find_rewind(struct stream *s, int32_t partition)
{
    for (size_t i = 0; i < s->nrewinds; i++)
        if (s->rewinds[i].partition == partition)
            return &s->rewinds[i];
    return NULL;
}

static void drop_rewind(struct stream *s, struct partition_mark *r)
{
    *r = s->rewinds[--s->nrewinds];
}

/* Drops the rewinds of parts (revoked or newly assigned). */
static void forget_rewinds(struct stream *s, const rd_kafka_topic_partition_list_t *parts)
{
    for (int p = 0; p < parts->cnt; p++) {
        struct partition_mark *r = find_rewind(s, parts->elems[p].partition);
        if (r != NULL)
            drop_rewind(s, r);
    }
}

/* Seeks m's partition back to its rewind, made m's offset unless an
 * earlier one is pending. A failed seek is logged; the rewind stays, so
 * the next message beyond it is handed back and the seek tried again. */
static void hand_back(struct stream *s, const rd_kafka_message_t *m)
{
    struct partition_mark *r = find_rewind(s, m->partition);
    if (r == NULL && s->nrewinds < MAX_PARTITIONS) {
        r = &s->rewinds[s->nrewinds++];
        *r = (struct partition_mark){m->partition, m->offset};
    }
    int64_t offset = r != NULL && r->next_offset < m->offset ? r->next_offset : m->offset;
    if (r != NULL)
        r->next_offset = offset;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, s->topic, m->partition)->offset = offset;
    rd_kafka_error_t *error = rd_kafka_seek_partitions(s->consumer, list, 1000);
    rd_kafka_resp_err_t err = error ? rd_kafka_error_code(error) : list->elems[0].err;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        mochi_log(MOCHI_LOG_WARN, s->ops->component,
                  "msg=\"seek back failed, will retry\" partition=%d offset=%lld error=%s",
                  (int)m->partition, (long long)offset, rd_kafka_err2name(err));
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(list);
}

/* True when m lies beyond a message handed back that was not read again,
 * so that taking it would let the offsets pass that message. */
static bool beyond_rewind(struct stream *s, const rd_kafka_message_t *m)
{
    struct partition_mark *r = find_rewind(s, m->partition);
    if (r == NULL || m->offset < r->next_offset)
        return false;
    if (m->offset == r->next_offset) {
        drop_rewind(s, r); /* read again: the partition is whole */
        return false;
    }
    int64_t low = -1, high = -1;
    if (rd_kafka_query_watermark_offsets(s->consumer, s->topic, m->partition, &low, &high, 1000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        low > r->next_offset) {
        mochi_log(MOCHI_LOG_WARN, s->ops->component,
                  "msg=\"messages handed back were deleted by the broker\" partition=%d "
                  "from=%lld log_start=%lld",
                  (int)m->partition, (long long)r->next_offset, (long long)low);
        drop_rewind(s, r);
        return false;
    }
    return true;
}

/* Takes m into the batch in hand when there is room and nothing before it
 * waits to be read again; otherwise hands it back. */
static void consume(struct stream *s, const rd_kafka_message_t *m, bool room)
{
    if (!beyond_rewind(s, m) && room)
        take(s, m);
    else
        hand_back(s, m);
}

/* ---- the loop ---- */

static void wait_for_database(struct stream *s)
{
    set_paused(s, true);
    s->backoff_ms = s->backoff_ms == 0 ? 100 : s->backoff_ms * 2;
    if (s->backoff_ms > 5000)
        s->backoff_ms = 5000;
    int64_t until = mono_ms() + s->backoff_ms;
    /* Keep polling (paused) so that the member stays in the group and
     * rebalances are served; whatever was fetched before the pause joins
     * the batch in hand. */
    while (mono_ms() < until && !mochi_daemon_stopping()) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            consume(s, m, s->hand->nevents < s->batch_max * 2);
        rd_kafka_message_destroy(m);
    }
}

/* After flush_batch has applied everything that waited (or found nothing
 * to apply): true when the database is usable again. A successful apply
 * says so by itself; with nothing in hand (a revoke took every waiting
 * event away) only a connection can tell, and without this check the
 * stream would stay down, paused, with nothing to apply for ever. */
static bool database_back(struct stream *s)
{
    if (s->db_down && db_ensure(s) == 0) {
        mochi_log(MOCHI_LOG_INFO, s->ops->component, "msg=\"database back, resuming\"");
        s->db_down = false;
        s->backoff_ms = 0;
    }
    return !s->db_down;
}

static void run_loop(struct stream *s)
{
    while (!mochi_daemon_stopping() && !atomic_load(&s->kafka_fatal)) {
        if (s->db_down) {
            wait_for_database(s);
            if (flush_batch(s, false) == 0 && database_back(s))
                set_paused(s, false);
            continue;
        }
        int64_t deadline = mono_ms() + s->batch_wait_ms;
        while (s->hand->nevents < s->batch_max && !mochi_daemon_stopping()) {
            /* Count and commit a landed batch now, not when the next one
             * is ready: the stream may have gone quiet. */
            if (s->flying && flight_landed(s) && settle_flight(s, false) != 0)
                break; /* the database went away: back off first */
            int64_t left = deadline - mono_ms();
            if (left <= 0)
                break;
            rd_kafka_message_t *m =
                rd_kafka_consumer_poll(s->consumer, (int)(left < 100 ? left : 100));
            if (m == NULL) {
                if (s->hand->nevents > 0 || s->hand->nmarks > 0)
                    continue;
                deadline = mono_ms() + s->batch_wait_ms; /* idle: keep waiting */
                continue;
            }
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                consume(s, m, true);
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                mochi_log(MOCHI_LOG_WARN, s->ops->component, "msg=\"consume error\" error=%s",
                          rd_kafka_err2name(m->err));
            rd_kafka_message_destroy(m);
        }
        if (!s->db_down)
            (void)flush_batch(s, false);
    }
    /* Draining: apply what is in hand (a few tries), then leave the group. */
    for (int attempt = 0; attempt < 50 && pending(s); attempt++) {
        if (flush_batch(s, true) == 0)
            break;
        struct timespec pause = {0, 100 * 1000000};
        nanosleep(&pause, NULL);
    }
    size_t left = s->hand->nevents + (s->flight ? s->flight->nevents : 0);
    if (left > 0)
        mochi_log(MOCHI_LOG_WARN, s->ops->component,
                  "msg=\"leaving with a batch not applied; it will be read again\" events=%zu",
                  left);
}

int mochi_stream_run(const struct mochi_config *config, const struct mochi_stream_ops *ops)
{
    struct stream *s = calloc(1, sizeof(*s));
    char err[512] = "";
    int code = 1;
    if (s == NULL)
        return 1;
    s->config = config;
    s->ops = ops;
    /* The consumer and the rollup differ in the default of --metrics-listen. */
    const struct mochi_setting *metrics_listen =
        mochi_config_has(config, &mochi_setting_metrics_listen_rollup)
            ? &mochi_setting_metrics_listen_rollup
            : &mochi_setting_metrics_listen_consumer;
    s->topic = mochi_config_str(config, &mochi_setting_topic);
    snprintf(s->dlq_topic, sizeof(s->dlq_topic), "%s.dlq", s->topic);
    s->batch_max = (size_t)mochi_config_int(config, &mochi_setting_batch_size);
    s->batch_wait_ms = mochi_config_ms(config, &mochi_setting_batch_wait);
    s->retention_ms = mochi_config_ms(config, &mochi_setting_retention);
    s->conninfo = mochi_config_str(config, &mochi_setting_database_url);
    atomic_init(&s->dlq_failures, 0);
    atomic_init(&s->kafka_fatal, false);
    /* Room for a full batch plus what arrives while the database is away. */
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    for (int i = 0; i < 2; i++)
        s->batches[i].events = calloc(s->batch_max * 2 + 1, sizeof(*s->batches[i].events));
    s->hand = &s->batches[0];
    if (!s->batches[0].events || !s->batches[1].events || make_metrics(s) != 0) {
        mochi_log(MOCHI_LOG_ERROR, ops->component, "msg=\"out of memory\"");
        goto out;
    }
    if (mochi_schema_set_load(mochi_schema_dir_default(), &s->schemas, err, sizeof(err)) != 0 ||
        mochi_codec_new(s->schemas, &s->codec) != 0) {
        fprintf(stderr, "%s: %s\n", ops->program, err);
        goto out;
    }
    if (make_clients(s, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", ops->program, err);
        code = 2;
        goto out;
    }
    if (mochi_metrics_server_start(s->metrics, mochi_config_str(config, metrics_listen), healthy, s,
                                   &s->server, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", ops->program, err);
        goto out;
    }
    if (db_ensure(s) != 0)
        s->db_down = true; /* not fatal: the loop waits for it */
    mochi_log(MOCHI_LOG_INFO, ops->component,
              "msg=\"started\" topic=%s group=%s batch_size=%zu metrics=%s", s->topic,
              mochi_config_str(config, &mochi_setting_group)
                  ? mochi_config_str(config, &mochi_setting_group)
                  : ops->default_group,
              s->batch_max, mochi_config_str(config, metrics_listen));
    s->applier_started = pthread_create(&s->applier, NULL, applier_main, s) == 0;
    if (!s->applier_started)
        mochi_log(MOCHI_LOG_WARN, ops->component,
                  "msg=\"cannot start the applier thread, applying on the main thread\"");
    run_loop(s);
    code = atomic_load(&s->kafka_fatal) ? 1 : 0;
    if (!s->ever_assigned) {
        /* librdkafka before 2.3 (Debian 12 has 2.0.2) aborts closing a
         * cooperative-sticky member that was never assigned (librdkafka
         * issue 4312): let the join finish first. What it hands over is
         * neither applied nor committed. */
        int64_t until = mono_ms() + 10000;
        while (!s->ever_assigned && mono_ms() < until) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 100);
            if (m != NULL)
                rd_kafka_message_destroy(m);
        }
    }
    if (s->ever_assigned) {
        mochi_log(MOCHI_LOG_INFO, ops->component, "msg=\"leaving the group\"");
        rd_kafka_consumer_close(s->consumer); /* revoke callback commits what is in hand */
    } else {
        /* Still unassigned (no broker?): there is nothing to commit, and
         * closing would abort. Leave it to the process exit; the group
         * drops the member after its session timeout. */
        mochi_log(MOCHI_LOG_INFO, ops->component,
                  "msg=\"stopping before the first assignment; not closing the consumer\"");
    }
    if (s->applier_started) {
        pthread_mutex_lock(&s->lock);
        s->quit = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->applier, NULL);
    }
out:
    if (s->consumer && s->ever_assigned)
        rd_kafka_destroy(s->consumer);
    if (s->dlq) {
        rd_kafka_flush(s->dlq, 10000);
        rd_kafka_destroy(s->dlq);
    }
    mochi_metrics_server_stop(s->server);
    mochi_metrics_destroy(s->metrics);
    mochi_codec_destroy(s->codec);
    mochi_schema_set_destroy(s->schemas);
    PQfinish(s->conn);
    free(s->batches[0].events);
    free(s->batches[1].events);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
    if (code == 0)
        mochi_log(MOCHI_LOG_INFO, ops->component, "msg=\"stopped\"");
    return code;
}
