#include "web/freshness.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/kafka.h"
#include "common/log.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Partitions a topic may have here (more are counted as unknown). */
#define MAX_PARTITIONS 1024
/* How long Kafka's answer is kept, and how long Kafka may take. */
#define LIVE_CACHE_MS 1000
#define LIVE_FAILED_MS 5000
#define LIVE_TIMEOUT_MS 1000

struct web_freshness {
    char *topic;
    rd_kafka_t *rk; /* NULL without --brokers */
    pthread_mutex_t lock;
    long long asked_ms; /* monotonic, when Kafka was last asked */
    bool ok;            /* its last answer was complete */
    long long live_at_us;
    int nparts;
    long long ends[MAX_PARTITIONS];
};

static void kafka_log(const rd_kafka_t *rk, int level, const char *facility, const char *buf)
{
    (void)rk;
    enum mochi_log_level l = level <= 3   ? MOCHI_LOG_ERROR
                             : level == 4 ? MOCHI_LOG_WARN
                                          : MOCHI_LOG_DEBUG;
    if (!mochi_log_enabled(l))
        return;
    char quoted[1024];
    mochi_log(l, "kafka", "facility=%s msg=%s", facility,
              mochi_log_quote(quoted, sizeof(quoted), buf));
}

int web_freshness_new(const struct mochi_config *config, const char *brokers, const char *topic,
                      struct web_freshness **out, char *err, size_t errlen)
{
    struct web_freshness *fresh = calloc(1, sizeof(*fresh));
    if (fresh == NULL || (fresh->topic = strdup(topic)) == NULL) {
        free(fresh);
        snprintf(err, errlen, "out of memory");
        return MOCHI_ERR_NOMEM;
    }
    pthread_mutex_init(&fresh->lock, NULL);
    if (brokers != NULL && brokers[0] != '\0') {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, kafka_log);
        int rc = mochi_kafka_set(conf, "bootstrap.servers", brokers, err, errlen);
        if (rc == 0)
            rc = mochi_kafka_set(conf, "client.id", "mochi-web", err, errlen);
        if (rc == 0)
            rc = mochi_kafka_apply_properties(config, conf, err, errlen);
        char why[256] = "";
        /* rd_kafka_new takes conf on success */
        if (rc == 0 &&
            (fresh->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why))) == NULL) {
            snprintf(err, errlen, "Kafka client: %s", why);
            rc = MOCHI_ERR_INVALID;
        }
        if (rc != 0) {
            if (fresh->rk == NULL)
                rd_kafka_conf_destroy(conf);
            web_freshness_destroy(fresh);
            return rc;
        }
    }
    *out = fresh;
    return 0;
}

void web_freshness_destroy(struct web_freshness *fresh)
{
    if (fresh == NULL)
        return;
    if (fresh->rk != NULL)
        rd_kafka_destroy(fresh->rk);
    pthread_mutex_destroy(&fresh->lock);
    free(fresh->topic);
    free(fresh);
}

/* Asks Kafka for every partition's log end, at most once a second (every
 * 5 s while it fails). Called with the lock. */
static void refresh_live(struct web_freshness *fresh)
{
    long long now = mochi_clock_mono_ms();
    if (fresh->asked_ms != 0 &&
        now - fresh->asked_ms < (fresh->ok ? LIVE_CACHE_MS : LIVE_FAILED_MS))
        return;
    fresh->asked_ms = now;
    fresh->ok = false;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(fresh->rk, fresh->topic, NULL);
    rd_kafka_resp_err_t e =
        t ? rd_kafka_metadata(fresh->rk, 0, t, &md, LIVE_TIMEOUT_MS) : RD_KAFKA_RESP_ERR__FAIL;
    int nparts = e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
                         md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR
                     ? md->topics[0].partition_cnt
                     : -1;
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    if (t != NULL)
        rd_kafka_topic_destroy(t);
    if (nparts > MAX_PARTITIONS)
        nparts = MAX_PARTITIONS;
    for (int p = 0; p < nparts; p++) {
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(fresh->rk, fresh->topic, p, &lo, &hi, LIVE_TIMEOUT_MS);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            nparts = -1;
            break;
        }
        fresh->ends[p] = hi;
    }
    if (nparts < 0) {
        mochi_log(MOCHI_LOG_WARN, "web",
                  "msg=\"cannot read the topic's log ends from Kafka; freshness from the "
                  "rollup's progress alone\" error=%s",
                  rd_kafka_err2name(e));
        return;
    }
    fresh->nparts = nparts;
    fresh->live_at_us = mochi_clock_now_us();
    fresh->ok = true;
}

void web_freshness_compute(int n, const long long *next, const long long *end,
                           const long long *end_seen_us, const long long *applied_us,
                           const long long *live_end, long long live_at_us, long long *t_us,
                           long long *behind)
{
    long long t = -1;
    bool unknown = n == 0;
    *behind = 0;
    for (int i = 0; i < n; i++) {
        long long log_end = live_end[i] >= 0 ? live_end[i] : end[i];
        long long tp = -1;
        if (log_end >= 0 && next[i] >= log_end) {
            /* Applied to its end: counted up to when that end was seen, by
             * the rollup or, later, by Kafka now. */
            tp = end[i] >= 0 && next[i] >= end[i] ? end_seen_us[i] : -1;
            if (live_end[i] >= 0 && live_at_us > tp)
                tp = live_at_us;
        } else {
            tp = applied_us[i];
            if (log_end > next[i])
                *behind += log_end - next[i];
        }
        if (tp < 0)
            unknown = true;
        else if (t < 0 || tp < t)
            t = tp;
    }
    *t_us = unknown ? -1 : t;
}

static void format_utc(long long us, char out[32])
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", day, (int)(us % 1000000 / 1000));
}

int web_freshness_get(struct web_freshness *fresh, struct web_db *db, const char *zone,
                      json_t **out)
{
    const char *params[] = {fresh->topic};
    PGresult *res = NULL;
    int rc = web_db_query(
        db, "freshness",
        "SELECT partition, next_offset, coalesce(end_offset, -1),"
        " coalesce((extract(epoch FROM end_seen_at) * 1000000)::bigint, -1),"
        " coalesce((extract(epoch FROM applied_until) * 1000000)::bigint, -1),"
        " (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
        " FROM rollup_progress WHERE topic = $1 AND partition < 1024 ORDER BY partition",
        1, params, &res);
    if (rc != 0)
        return rc;
    /* Partitions: those the rollup recorded, and with Kafka's answer those
     * it has not (which it has counted nothing of). */
    long long next[MAX_PARTITIONS], end[MAX_PARTITIONS], seen[MAX_PARTITIONS],
        applied[MAX_PARTITIONS], live[MAX_PARTITIONS];
    int n = 0;
    long long db_now_us = mochi_clock_now_us();
    for (int p = 0; p < MAX_PARTITIONS; p++)
        next[p] = end[p] = seen[p] = applied[p] = live[p] = -1;
    for (int i = 0; i < PQntuples(res); i++) {
        int p = atoi(PQgetvalue(res, i, 0));
        next[p] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        end[p] = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        seen[p] = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        applied[p] = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        db_now_us = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        if (p + 1 > n)
            n = p + 1;
    }
    int recorded = PQntuples(res);
    PQclear(res);
    long long live_at_us = -1;
    if (fresh->rk != NULL) {
        pthread_mutex_lock(&fresh->lock);
        refresh_live(fresh);
        if (fresh->ok) {
            for (int p = 0; p < fresh->nparts; p++)
                live[p] = fresh->ends[p];
            if (fresh->nparts > n)
                n = fresh->nparts;
            live_at_us = fresh->live_at_us;
        }
        pthread_mutex_unlock(&fresh->lock);
    }
    /* A partition Kafka has and the rollup never recorded: nothing of it
     * is counted. */
    for (int p = 0; p < n; p++)
        if (next[p] < 0)
            next[p] = 0;
    long long t_us = -1, behind = 0;
    web_freshness_compute(n, next, end, seen, applied, live, live_at_us, &t_us, &behind);
    if (recorded == 0 && behind == 0)
        t_us = -1; /* nothing recorded and nothing known behind: no claim */
    const char *state = behind > 0                                              ? "catching_up"
                        : t_us < 0                                              ? "unknown"
                        : (double)(db_now_us - t_us) / 1e6 <= WEB_FRESH_SECONDS ? "current"
                                                                                : "stale";
    json_t *doc = NULL;
    char utc[32];
    if (t_us >= 0) {
        format_utc(t_us, utc);
        double lag = (double)(db_now_us - t_us) / 1e6;
        if (lag < 0)
            lag = 0; /* clocks of the rollup's and this host differ a little */
        doc = json_pack("{s:s, s:f, s:I, s:s, s:i}", "counted_up_to", utc, "lag_seconds",
                        (double)(long long)(lag * 10 + 0.5) / 10, "behind", (json_int_t)behind,
                        "state", state, "partitions", n);
    } else {
        doc = json_pack("{s:n, s:n, s:I, s:s, s:i}", "counted_up_to", "lag_seconds", "behind",
                        (json_int_t)behind, "state", state, "partitions", n);
    }
    if (doc == NULL)
        return MOCHI_ERR_NOMEM;
    if (zone != NULL) {
        json_t *local = json_null();
        if (t_us >= 0) {
            char us[32];
            snprintf(us, sizeof(us), "%lld", t_us);
            const char *p2[] = {us, zone};
            rc = web_db_query(db, "freshness_local",
                              "SELECT CASE WHEN (t AT TIME ZONE $2)::date"
                              " = (now() AT TIME ZONE $2)::date"
                              " THEN to_char(t AT TIME ZONE $2, 'HH24:MI:SS')"
                              " ELSE to_char(t AT TIME ZONE $2, 'YYYY-MM-DD HH24:MI:SS') END"
                              " FROM (SELECT 'epoch'::timestamptz"
                              " + $1::bigint * interval '1 microsecond' AS t) x",
                              2, p2, &res);
            if (rc != 0) {
                json_decref(doc);
                return rc;
            }
            json_decref(local);
            local = json_string(PQgetvalue(res, 0, 0));
            PQclear(res);
        }
        json_object_set_new(doc, "local_time", local);
    }
    *out = doc;
    return 0;
}
