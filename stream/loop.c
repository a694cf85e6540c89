/* The stream's poll loop (stream.h): set up, poll and batch until
 * SIGTERM, drain, leave the group. What happens to a batch once it is
 * full is batch.c's; this file decides when a batch moves on, and holds
 * the Kafka side: rebalances, pausing while the database is away, and
 * committing offsets after the database has the batch's effects. */
#include "stream/batch.h"
#include "stream/db.h"
#include "stream/dlq.h"
#include "stream/ends.h"
#include "stream/metrics.h"
#include "stream/rewind.h"
#include "stream/stream.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/daemon.h"
#include "common/error.h"
#include "common/http_metrics.h"
#include "common/kafka.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct stream {
    const struct mochi_config *config;
    const struct mochi_stream_ops *ops;
    const char *topic;
    size_t batch_max;
    long long batch_wait_ms;
    long long retention_ms;

    rd_kafka_t *consumer;
    struct mochi_kafka_watch watch; /* the consumer's opaque; arg is the stream */
    bool paused;                    /* consumption paused while the database is away */
    bool ever_assigned;             /* a rebalance has given this member partitions */
    struct mochi_schema_set *schemas;
    struct mochi_codec *codec;
    struct mochi_pageview decoded; /* take's, before its texts go to the batch */

    struct mochi_metrics *registry;
    struct mochi_metrics_server *server;
    struct mochi_stream_metrics *metrics;
    struct stream_db db;
    struct stream_dlq dlq;
    struct stream_rewinds rewinds;
    struct stream_batches batches;
    struct stream_ends ends;                                    /* with ops->idle only */
    struct mochi_stream_mark idle_marks[STREAM_MAX_PARTITIONS]; /* for ops->idle */
    struct mochi_stream_gap idle_gaps[STREAM_MAX_PARTITIONS];   /* from ops->idle */
    int64_t idle_warned_ms; /* when a failed idle hook was last logged */
};

/* How often the ends of idle partitions are looked up (ops->idle), how
 * long one look-up may take, and the wait after one failed. */
#define IDLE_INTERVAL_MS 1000
#define END_LOOKUP_TIMEOUT_MS 500
#define IDLE_RETRY_MS 5000

static int start(struct stream *s, char *err, size_t errlen);
static int make_clients(struct stream *s, char *err, size_t errlen);
static int serve(struct stream *s, char *err, size_t errlen);
static void run_loop(struct stream *s);
static void drain(struct stream *s);
static void leave_group(struct stream *s);
static void wait_for_database(struct stream *s);
static bool database_back(struct stream *s);
static int flush_batch(struct stream *s, bool sync);
static void consume(struct stream *s, const rd_kafka_message_t *m, bool room);
static void take(struct stream *s, const rd_kafka_message_t *m, int64_t read_from);
static void read_again(struct stream *s, const struct mochi_stream_gap *gaps, size_t n);
static void look_at_ends(struct stream *s);
static bool partition_waiting(void *arg, int32_t partition);
static void label_ends(struct stream *s, struct stream_batch *b);
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque);
static void set_paused(struct stream *s, bool pause);
static void set_assigned_paused(struct stream *s, rd_kafka_topic_partition_list_t *parts);
static int stage_batch(void *arg, int slot, const struct mochi_stream_event *events, size_t n);
static int apply_batch(void *arg, struct stream_batch *b);
static void settled_batch(void *arg, const struct stream_batch *b, bool sync);
static int store_marks(struct stream *s, const struct stream_batch *b, bool sync);
static int make_consumer(struct stream *s, char *err, size_t errlen);
static void on_stats(void *arg, struct json_t *root);
static int healthy(void *arg);

int mochi_stream_run(const struct mochi_config *config, const struct mochi_stream_ops *ops)
{
    struct stream *s = calloc(1, sizeof(*s));
    char err[512] = "";
    int code = 1;
    if (s == NULL)
        return 1;
    s->config = config;
    s->ops = ops;
    int rc = start(s, err, sizeof(err));
    if (rc == MOCHI_ERR_NOMEM) {
        mochi_log(MOCHI_LOG_ERROR, ops->component, "msg=\"out of memory\"");
        goto out;
    }
    if (rc == 0 && make_clients(s, err, sizeof(err)) != 0) {
        code = 2; /* the configuration's Kafka properties */
        rc = MOCHI_ERR_INVALID;
    }
    if (rc == 0)
        rc = serve(s, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", ops->program, err);
        goto out;
    }
    run_loop(s);
    drain(s);
    code = atomic_load(&s->watch.fatal) ? 1 : 0;
    leave_group(s);
out:
    stream_batches_fini(&s->batches); /* after the batch it holds */
    if (s->consumer && s->ever_assigned)
        rd_kafka_destroy(s->consumer);
    stream_dlq_close(&s->dlq);
    mochi_metrics_server_stop(s->server);
    mochi_metrics_destroy(s->registry);
    mochi_stream_metrics_destroy(s->metrics); /* after the registry's last scrape */
    mochi_codec_destroy(s->codec);
    mochi_schema_set_destroy(s->schemas);
    stream_db_close(&s->db);
    free(s);
    if (code == 0)
        mochi_log(MOCHI_LOG_INFO, ops->component, "msg=\"stopped\"");
    return code;
}

/* Reads the settings and makes what needs neither Kafka nor the network:
 * metrics, batches, the codec. Returns 0, MOCHI_ERR_NOMEM, or another
 * code with the reason in err. */
static int start(struct stream *s, char *err, size_t errlen)
{
    const struct mochi_stream_ops *ops = s->ops;
    s->topic = mochi_config_str(s->config, &mochi_setting_topic);
    s->batch_max = (size_t)mochi_config_int(s->config, &mochi_setting_batch_size);
    s->batch_wait_ms = mochi_config_ms(s->config, &mochi_setting_batch_wait);
    s->retention_ms = mochi_config_ms(s->config, &mochi_setting_retention);
    s->registry = mochi_metrics_new();
    if (s->registry == NULL || mochi_stream_metrics_new(s->registry, ops, &s->metrics) != 0)
        return MOCHI_ERR_NOMEM;
    s->db = (struct stream_db){
        .conninfo = mochi_config_str(s->config, &mochi_setting_database_url),
        .ops = ops,
        .metrics = s->metrics,
    };
    const struct stream_batch_hooks hooks = {
        .arg = s,
        .stage = ops->stage != NULL ? stage_batch : NULL,
        .apply = apply_batch,
        .settled = settled_batch,
        .apply_empty = ops->records_progress, /* its offsets are progress too */
    };
    /* Room for a full batch plus what arrives while the database is away. */
    if (stream_batches_init(&s->batches, s->batch_max * 2, &hooks, ops->component) != 0)
        return MOCHI_ERR_NOMEM;
    int rc = mochi_schema_set_load(mochi_schema_dir_default(), &s->schemas, err, errlen);
    if (rc == 0)
        rc = mochi_codec_new(s->schemas, &s->codec);
    if (rc == MOCHI_ERR_NOMEM)
        snprintf(err, errlen, "out of memory");
    return rc == MOCHI_ERR_NOMEM ? MOCHI_ERR_INTERNAL : rc;
}

/* The consumer, and the dead-letter producer when the program writes the
 * DLQ. Returns 0 or MOCHI_ERR_INVALID with the reason in err. */
static int make_clients(struct stream *s, char *err, size_t errlen)
{
    int rc = make_consumer(s, err, errlen);
    if (rc == 0 && s->ops->write_dlq)
        rc = stream_dlq_open(&s->dlq, s->config, s->ops->program, s->ops->component, s->topic,
                             s->metrics, err, errlen);
    return rc;
}

/* Starts /metrics and tries the database (not fatal: the loop waits for
 * it). Returns 0 or the server's code with the reason in err. */
static int serve(struct stream *s, char *err, size_t errlen)
{
    const char *listen = mochi_config_str(s->config, s->ops->metrics_listen);
    int rc = mochi_metrics_server_start(s->registry, listen, healthy, s, &s->server, err, errlen);
    if (rc != 0)
        return rc;
    char why[512];
    if (stream_db_ensure(&s->db, why, sizeof(why)) != 0)
        s->db.down = true;
    const char *group = mochi_config_str(s->config, s->ops->group);
    mochi_log(MOCHI_LOG_INFO, s->ops->component,
              "msg=\"started\" topic=%s group=%s batch_size=%zu metrics=%s", s->topic, group,
              s->batch_max, listen);
    return 0;
}

/* Polls and batches until SIGTERM or a fatal Kafka error. A batch moves on
 * when it is full or batch-wait has passed since its first message; while
 * the database is away the loop backs off, paused but polling. */
static void run_loop(struct stream *s)
{
    while (!mochi_daemon_stopping() && !atomic_load(&s->watch.fatal)) {
        if (s->db.down) {
            wait_for_database(s);
            if (flush_batch(s, false) == 0 && database_back(s))
                set_paused(s, false);
            continue;
        }
        struct stream_batch *hand = s->batches.hand;
        int64_t deadline = mochi_clock_mono_ms() + s->batch_wait_ms;
        while (hand->nevents < s->batch_max && !mochi_daemon_stopping()) {
            /* Count and commit a landed batch now, not when the next one
             * is ready: the stream may have gone quiet. */
            if (s->batches.flying && stream_batches_landed(&s->batches) &&
                stream_batches_settle(&s->batches, false) != 0)
                break; /* the database went away: back off first */
            look_at_ends(s);
            if (s->db.down)
                break; /* the idle hook found the database away */
            int64_t left = deadline - mochi_clock_mono_ms();
            if (left <= 0)
                break;
            rd_kafka_message_t *m =
                rd_kafka_consumer_poll(s->consumer, (int)(left < 100 ? left : 100));
            if (m == NULL) {
                if (hand->nevents > 0 || hand->nmarks > 0)
                    continue;
                deadline = mochi_clock_mono_ms() + s->batch_wait_ms; /* idle: keep waiting */
                continue;
            }
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                consume(s, m, true);
            else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                stream_ends_eof(&s->ends, m->partition, m->offset);
            else
                mochi_log(MOCHI_LOG_WARN, s->ops->component, "msg=\"consume error\" error=%s",
                          rd_kafka_err2name(m->err));
            rd_kafka_message_destroy(m);
        }
        if (!s->db.down)
            (void)flush_batch(s, false);
    }
}

/* Applies what is in hand (a few tries) before the member leaves. */
static void drain(struct stream *s)
{
    for (int attempt = 0; attempt < 50 && stream_batches_pending(&s->batches); attempt++) {
        if (flush_batch(s, true) == 0)
            break;
        mochi_clock_sleep_ms(100);
    }
    const struct stream_batches *bs = &s->batches;
    size_t left = bs->hand->nevents + (bs->flight ? bs->flight->nevents : 0);
    if (left > 0)
        mochi_log(MOCHI_LOG_WARN, s->ops->component,
                  "msg=\"leaving with a batch not applied; it will be read again\" events=%zu",
                  left);
}

static void leave_group(struct stream *s)
{
    if (!s->ever_assigned) {
        /* librdkafka before 2.3 (Debian 12 has 2.0.2) aborts closing a
         * cooperative-sticky member that was never assigned (librdkafka
         * issue 4312): let the join finish first. What it hands over is
         * neither applied nor committed. */
        int64_t until = mochi_clock_mono_ms() + 10000;
        while (!s->ever_assigned && mochi_clock_mono_ms() < until) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 100);
            if (m != NULL)
                rd_kafka_message_destroy(m);
        }
    }
    if (s->ever_assigned) {
        mochi_log(MOCHI_LOG_INFO, s->ops->component, "msg=\"leaving the group\"");
        rd_kafka_consumer_close(s->consumer); /* revoke callback commits what is in hand */
    } else {
        /* Still unassigned (no broker?): there is nothing to commit, and
         * closing would abort. Leave it to the process exit; the group
         * drops the member after its session timeout. */
        mochi_log(MOCHI_LOG_INFO, s->ops->component,
                  "msg=\"stopping before the first assignment; not closing the consumer\"");
    }
}

/* Backs off while the database is away, paused but polling, so that the
 * member stays in the group and rebalances are served; whatever was
 * fetched before the pause joins the batch in hand (up to twice a batch;
 * beyond, it is handed back). */
static void wait_for_database(struct stream *s)
{
    set_paused(s, true);
    int64_t until = mochi_clock_mono_ms() + stream_db_backoff(&s->db);
    while (mochi_clock_mono_ms() < until && !mochi_daemon_stopping()) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            consume(s, m, s->batches.hand->nevents < s->batch_max * 2);
        else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            stream_ends_eof(&s->ends, m->partition, m->offset);
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
    char why[512];
    if (s->db.down && stream_db_ensure(&s->db, why, sizeof(why)) == 0)
        stream_db_back(&s->db);
    return !s->db.down;
}

/* Moves the batch in hand on: after the one in flight is applied, hands it
 * to the applier (or, with sync, when the database is away or for a
 * revoke or the last batch, applies it here and now). Returns 0 when every
 * batch up to the hand is applied or on its way, MOCHI_ERR_AGAIN when one
 * is still waiting for the database (or the dead-letter topic). */
static int flush_batch(struct stream *s, bool sync)
{
    if (stream_batches_settle(&s->batches, sync) != 0)
        return MOCHI_ERR_AGAIN;
    struct stream_batch *b = s->batches.hand;
    if (b->nevents == 0 && b->nmarks == 0)
        return 0;
    /* Dead letters must be in Kafka before the offsets pass them. */
    if (s->ops->write_dlq && stream_dlq_flush(&s->dlq) != 0)
        return MOCHI_ERR_AGAIN;
    if (s->ops->idle != NULL)
        label_ends(s, b);
    return stream_batches_launch(&s->batches, s->db.down, sync);
}

/* Takes m into the batch in hand when there is room and nothing before it
 * waits to be read again; otherwise hands it back. */
static void consume(struct stream *s, const rd_kafka_message_t *m, bool room)
{
    stream_ends_message(&s->ends, m->partition);
    int64_t read_from = -1;
    /* Out of memory for its texts, it is read again later. */
    if (!stream_rewind_beyond(&s->rewinds, m, &read_from) && room &&
        stream_batch_text_room(s->batches.hand))
        take(s, m, read_from);
    else
        stream_rewind_hand_back(&s->rewinds, m);
}

/* Decodes one message into the batch in hand, or dead-letters or refuses
 * it; its offset is covered by the batch either way. read_from, when not
 * -1, is where the partition was read from up to m: the offsets in between
 * hold no message (rewind.h). */
static void take(struct stream *s, const rd_kafka_message_t *m, int64_t read_from)
{
    struct stream_batch *b = s->batches.hand;
    struct mochi_stream_mark *mark =
        stream_batch_mark(b, m->partition, m->offset, rd_kafka_message_timestamp(m, NULL));
    if (mark != NULL && read_from >= 0 && read_from < mark->first_offset)
        mark->first_offset = read_from;
    struct mochi_stream_event *e = &b->events[b->nevents];
    struct mochi_pageview *pv = &s->decoded;
    int rc = mochi_codec_decode(s->codec, m->payload, m->len, pv);
    int64_t now = mochi_clock_now_us();
    if (rc == 0 && pv->occurred_at_us > now + MOCHI_US_PER_DAY)
        rc = MOCHI_ERR_RANGE; /* from the future: no collector clock is that wrong */
    if (rc != 0) {
        mochi_metric_inc(s->metrics->invalid);
        if (s->ops->write_dlq)
            stream_dlq_send(&s->dlq, m, rc);
        return;
    }
    if (pv->occurred_at_us < now - s->retention_ms * 1000 &&
        !(s->ops->accept_old && s->ops->accept_old(s->ops->arg, pv))) {
        mochi_metric_inc(s->metrics->too_old);
        return;
    }
    stream_batch_view(b, pv, &e->ev);
    mochi_dedupe_key(e->ev.visitor_hash, e->ev.path, strlen(e->ev.path), e->dedupe_key);
    e->minute_us = mochi_minute_of_us(e->ev.occurred_at_us);
    e->partition = m->partition;
    e->offset = m->offset;
    stream_batch_keep(b);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct stream *s = ((struct mochi_kafka_watch *)opaque)->arg;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        mochi_metric_add(s->metrics->assigned, (uint64_t)parts->cnt);
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
        stream_rewinds_forget(&s->rewinds, parts);
        for (int p = 0; p < parts->cnt; p++)
            stream_ends_assigned(&s->ends, parts->elems[p].partition);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        mochi_metric_add(s->metrics->revoked, (uint64_t)parts->cnt);
        /* Finish the work in hand before the partitions move on; what
         * cannot be applied now is dropped, for their new owner to read
         * again from the committed offset. */
        if (flush_batch(s, true) != 0) {
            int32_t ids[STREAM_MAX_PARTITIONS];
            size_t n = 0;
            for (int p = 0; p < parts->cnt && n < STREAM_MAX_PARTITIONS; p++)
                ids[n++] = parts->elems[p].partition;
            stream_batches_forget(&s->batches, ids, n);
        }
        stream_rewinds_forget(&s->rewinds, parts);
        for (int p = 0; p < parts->cnt; p++)
            stream_ends_revoked(&s->ends, parts->elems[p].partition);
        mochi_log(MOCHI_LOG_INFO, s->ops->component, "msg=\"partitions revoked\" count=%d",
                  parts->cnt);
        stream_metrics_lag_clear(s->metrics, parts);
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

/* The batch hooks' stage: the program's, with its own arg. */
static int stage_batch(void *arg, int slot, const struct mochi_stream_event *events, size_t n)
{
    struct stream *s = arg;
    return s->ops->stage(s->ops->arg, slot, events, n);
}

/* The batch hooks' apply: the database part of a batch, on the applier
 * thread (or the main thread while the applier is idle). */
static int apply_batch(void *arg, struct stream_batch *b)
{
    struct stream *s = arg;
    char why[512];
    int rc = stream_db_ensure(&s->db, why, sizeof(why));
    if (rc == 0)
        rc = stream_db_ensure_days(&s->db, b);
    const struct mochi_stream_batch batch = {
        .topic = s->topic,
        .slot = b->slot,
        .events = b->events,
        .nevents = b->nevents,
        .marks = b->marks,
        .nmarks = b->nmarks,
        .gaps = b->gaps,
        .ngaps = &b->ngaps,
    };
    b->ngaps = 0;
    if (rc == 0)
        rc = s->ops->apply(s->ops->arg, s->db.conn, &batch, &b->counts);
    return rc;
}

/* Gives the batch's marks their partitions' ends (ends.h): librdkafka's
 * cached high watermark, and the last look-up's. */
static void label_ends(struct stream *s, struct stream_batch *b)
{
    for (size_t i = 0; i < b->nmarks; i++) {
        int64_t low = -1, high = -1;
        if (rd_kafka_get_watermark_offsets(s->consumer, s->topic, b->marks[i].partition, &low,
                                           &high) != RD_KAFKA_RESP_ERR_NO_ERROR)
            high = -1;
        stream_ends_label(&s->ends, &b->marks[i], high);
    }
}

/* With ops->idle, about once a second while no batch is in flight (so that
 * the connection is free and the offsets of every partition read to its
 * end are applied): looks up the log end of those partitions, all in one
 * ListOffsets round trip per leader, and hands the ones still at their end
 * to the idle hook. When the look-up fails (the broker is away), nothing
 * is claimed this round. */
static void look_at_ends(struct stream *s)
{
    int64_t now = mochi_clock_mono_ms();
    if (s->ops->idle == NULL || s->batches.flight != NULL || now < s->ends.next_look_ms)
        return;
    s->ends.next_look_ms = now + IDLE_INTERVAL_MS;
    int32_t parts[STREAM_MAX_PARTITIONS];
    size_t n = stream_ends_idle(&s->ends, partition_waiting, s, parts);
    if (n == 0)
        return;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) /* the offset field holds the time asked for */
        rd_kafka_topic_partition_list_add(list, s->topic, parts[i])->offset = RD_KAFKA_OFFSET_END;
    int64_t sent = mochi_clock_mono_ms();
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(s->consumer, list, END_LOOKUP_TIMEOUT_MS);
    size_t at_end = 0;
    for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &list->elems[i];
        if (p->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            stream_ends_found(&s->ends, p->partition, p->offset, sent, &s->idle_marks[at_end]))
            at_end++;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* The client logs the broker's trouble; the loop needs not block
         * on it every second. */
        s->ends.next_look_ms = mochi_clock_mono_ms() + IDLE_RETRY_MS;
        mochi_log(MOCHI_LOG_DEBUG, s->ops->component,
                  "msg=\"cannot look up the log ends\" partitions=%zu error=%s", n,
                  rd_kafka_err2name(err));
    }
    if (at_end == 0)
        return;
    char why[512];
    size_t ngaps = 0;
    int rc = stream_db_ensure(&s->db, why, sizeof(why));
    if (rc == 0)
        rc = s->ops->idle(s->ops->arg, s->db.conn, s->topic, s->idle_marks, at_end, s->idle_gaps,
                          &ngaps);
    if (rc == MOCHI_ERR_GAP) {
        read_again(s, s->idle_gaps, ngaps);
    } else if (rc == MOCHI_ERR_AGAIN) {
        stream_db_failed(&s->db); /* the loop waits for it, as after a failed batch */
    } else if (rc != 0 && (s->idle_warned_ms == 0 || now - s->idle_warned_ms >= 60000)) {
        s->idle_warned_ms = now;
        mochi_log(MOCHI_LOG_WARN, s->ops->component,
                  "msg=\"cannot record the partitions at their end\" partitions=%zu error=%s",
                  at_end, mochi_strerror(rc));
    }
}

/* stream_ends_idle's question: has partition messages taken but not yet
 * applied, or handed back? */
static bool partition_waiting(void *arg, int32_t partition)
{
    struct stream *s = arg;
    return stream_batches_cover(&s->batches, partition) ||
           stream_rewind_pending(&s->rewinds, partition);
}

/* The applier found its records of these partitions ending before what
 * the stream read (stream.h, MOCHI_ERR_GAP): messages in between were
 * never applied. Drops what the batches hold of each and reads it again
 * from where the records end, taking nothing beyond until that offset is
 * read (rewind.h); committed offsets never pass the gap. */
static void read_again(struct stream *s, const struct mochi_stream_gap *gaps, size_t n)
{
    int32_t parts[STREAM_MAX_PARTITIONS];
    if (n > STREAM_MAX_PARTITIONS)
        n = STREAM_MAX_PARTITIONS;
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        parts[i] = gaps[i].partition;
        mochi_log(MOCHI_LOG_WARN, s->ops->component,
                  "msg=\"read past what the database applied: reading again from there\" "
                  "partition=%d offset=%lld",
                  (int)gaps[i].partition, (long long)gaps[i].resume_offset);
        if (s->metrics->gaps != NULL)
            mochi_metric_inc(s->metrics->gaps);
    }
    stream_batches_forget(&s->batches, parts, n);
    for (size_t i = 0; i < n; i++)
        stream_rewind_to(&s->rewinds, gaps[i].partition, gaps[i].resume_offset);
}

/* The batch hooks' settled, on the main thread: on success counts the
 * batch and commits its offsets; on failure notes that the database is
 * away (the batch is kept). */
static void settled_batch(void *arg, const struct stream_batch *b, bool sync)
{
    struct stream *s = arg;
    if (b->rc == MOCHI_ERR_GAP) {
        /* Nothing was applied; the rest of the batch is applied again
         * without the partitions to read again. */
        read_again(s, b->gaps, b->ngaps);
        return;
    }
    if (b->rc != 0) {
        if (!s->db.down)
            mochi_log(MOCHI_LOG_WARN, s->ops->component,
                      "msg=\"batch not applied, will retry\" events=%zu error=%s", b->nevents,
                      mochi_strerror(b->rc));
        stream_db_failed(&s->db);
        return;
    }
    stream_metrics_applied(s->metrics, b);
    stream_db_back(&s->db);
    /* A failed commit is only logged here: auto-commit retries it. */
    (void)store_marks(s, b, sync);
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
static int store_marks(struct stream *s, const struct stream_batch *b, bool sync)
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

/* Creates the consumer and subscribes it to the topic. Returns 0 or
 * MOCHI_ERR_INVALID with the reason in err. */
static int make_consumer(struct stream *s, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = NULL;
    int rc = mochi_kafka_conf_new(s->config, s->ops->program, &conf, err, errlen);
    if (rc != 0)
        return rc;
    const char *group = mochi_config_str(s->config, s->ops->group);
    static const char *const defaults[][2] = {
        {"auto.offset.reset", "earliest"},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"statistics.interval.ms", "5000"},
        /* A fetch answers once 64 KiB wait or after 100 ms: at a high
         * rate, fewer fetches of many partitions each (the broker's cost
         * is per request and partition); at a low one, 100 ms more. */
        {"fetch.wait.max.ms", "100"},
        {"fetch.min.bytes", "65536"},
        /* Prefetch: librdkafka's defaults (64 MiB of queued payload, 50 MiB
         * fetches) took a member draining a backlog past 500 MiB of RSS,
         * each small message costing several times its size; 4 MiB of
         * each keeps a member under 128 MiB at the same rate
         * (docs/benchmarks-pipeline.md). A -X message.max.bytes above
         * 4 MiB needs a fetch.max.bytes as large. */
        {"queued.max.messages.kbytes", "4096"},
        {"fetch.max.bytes", "4194304"},
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "1000"},
        /* how soon a refused commit is sent again */
        {"auto.commit.interval.ms", "1000"},
    };
    for (size_t i = 0; rc == 0 && i < sizeof(defaults) / sizeof(defaults[0]); i++)
        rc = mochi_kafka_default(s->config, conf, defaults[i][0], defaults[i][1], err, errlen);
    if (rc == 0)
        rc = mochi_kafka_set(conf, "group.id", group, err, errlen);
    /* Offsets are stored by hand, after the database has the effects
     * (store_marks), and the client commits what is stored, retrying
     * commits the broker refused. */
    if (rc == 0)
        rc = mochi_kafka_set(conf, "enable.auto.commit", "true", err, errlen);
    if (rc == 0)
        rc = mochi_kafka_set(conf, "enable.auto.offset.store", "false", err, errlen);
    /* The EOF event says where a partition read to its end stands (ends.h). */
    if (rc == 0 && s->ops->idle != NULL)
        rc = mochi_kafka_set(conf, "enable.partition.eof", "true", err, errlen);
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    mochi_kafka_watch(conf, &s->watch, s->ops->component, on_stats, s);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    char why[256];
    s->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (s->consumer == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "cannot create the Kafka consumer: %s", why);
        return MOCHI_ERR_INVALID;
    }
    /* conf belongs to the consumer now */
    rd_kafka_poll_set_consumer(s->consumer);
    s->rewinds.consumer = s->consumer;
    s->rewinds.topic = s->topic;
    s->rewinds.component = s->ops->component;

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

/* librdkafka statistics: consumer lag per partition. */
static void on_stats(void *arg, struct json_t *root)
{
    struct stream *s = arg;
    stream_metrics_lag(s->metrics, root);
}

static int healthy(void *arg)
{
    struct stream *s = arg;
    return !atomic_load(&s->watch.fatal);
}
