#include "collector/producer.h"
#include "common/error.h"
#include "common/kafka.h"
#include "common/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct collector_producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    /* fatal errors, brokers up, and ALL_BROKERS_DOWN seen with no broker
     * up or delivery since; rd_kafka's opaque */
    struct mochi_kafka_watch watch;
    atomic_bool closing; /* purging at shutdown: count failures, log them once */

    struct mochi_metric *delivered;
    struct mochi_metric *failed;
    struct mochi_metric *queue_depth;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
static void on_scrape(struct mochi_metrics *reg, void *arg);

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    struct collector_producer *p = ((struct mochi_kafka_watch *)opaque)->arg;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        mochi_metric_inc(p->delivered);
        atomic_store(&p->watch.all_down, false);
        return;
    }
    mochi_metric_inc(p->failed);
    if (atomic_load(&p->closing))
        return;
    mochi_log(MOCHI_LOG_ERROR, "collector", "msg=\"event not delivered\" error=\"%s\"",
              rd_kafka_err2str(msg->err));
}

static void on_scrape(struct mochi_metrics *reg, void *arg)
{
    (void)reg;
    struct collector_producer *p = arg;
    mochi_metric_set(p->queue_depth, (double)rd_kafka_outq_len(p->rk));
}

/* Registers the producer's families in metrics and keeps their series in
 * p. Returns 0 or MOCHI_ERR_NOMEM. */
static int register_metrics(struct mochi_metrics *metrics, struct collector_producer *p)
{
    p->delivered = mochi_metrics_single(mochi_metrics_counter(
        metrics, "mochi_collector_events_published_total", "events Kafka acknowledged", 0, NULL));
    p->failed = mochi_metrics_single(
        mochi_metrics_counter(metrics, "mochi_collector_delivery_failures_total",
                              "accepted events Kafka did not acknowledge", 0, NULL));
    p->queue_depth = mochi_metrics_single(
        mochi_metrics_gauge(metrics, "mochi_collector_producer_queue_messages",
                            "messages waiting in the producer's local queue", 0, NULL));
    if (p->delivered == NULL || p->failed == NULL || p->queue_depth == NULL)
        return MOCHI_ERR_NOMEM;
    return 0;
}

int collector_producer_metrics_describe(struct mochi_metrics *metrics)
{
    /* Only the series pointers are filled in: nothing else of it is used. */
    struct collector_producer *unused = calloc(1, sizeof(*unused));
    int rc = unused != NULL ? register_metrics(metrics, unused) : MOCHI_ERR_NOMEM;
    free(unused);
    return rc;
}

int collector_producer_new(const struct mochi_config *config, struct mochi_metrics *metrics,
                           struct collector_producer **out, char *err, size_t errlen)
{
    struct collector_producer *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf = NULL;
    int rc = MOCHI_ERR_NOMEM;
    if (p == NULL)
        goto fail;
    atomic_init(&p->closing, false);
    if (register_metrics(metrics, p) != 0)
        goto fail;

    rc = mochi_kafka_conf_new(config, "mochi-collector", &conf, err, errlen);
    if (rc != 0)
        goto fail;
    /* Mochi's defaults, each overridable with -X: an accepted beacon waits
     * for Kafka as long as the process lives (message.timeout.ms=0), in a
     * bounded queue; a full queue turns into 503 for new beacons. */
    static const char *const defaults[][2] = {
        {"message.timeout.ms", "0"},
        /* ~40k events of ~600 bytes: minutes of a busy site's traffic, and
         * within the collector's 64 MiB memory budget. */
        {"queue.buffering.max.messages", "50000"},
        {"queue.buffering.max.kbytes", "24576"},
        /* Fewer, larger produce requests: at 10k beacons/s with 5 ms, the
         * broker (Apache Kafka, 128 partitions) and librdkafka's thread
         * took most of a core, and freshness suffered for it
         * (docs/benchmarks-pipeline.md, "Freshness at 10,000 beacons/s").
         * A beacon's 202 does not wait for it. */
        {"linger.ms", "100"},
        {"compression.type", "lz4"},
        {"statistics.interval.ms", "1000"},
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        rc = mochi_kafka_default(config, conf, defaults[i][0], defaults[i][1], err, errlen);
        if (rc != 0)
            goto fail;
    }
    /* Not overridable: DESIGN.md requires idempotent producers. */
    rc = mochi_kafka_set(conf, "enable.idempotence", "true", err, errlen);
    if (rc != 0)
        goto fail;
    mochi_kafka_watch(conf, &p->watch, "collector", NULL, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);

    char why[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (p->rk == NULL) {
        snprintf(err, errlen, "cannot create the Kafka producer: %s", why);
        rc = MOCHI_ERR_INVALID;
        goto fail;
    }
    conf = NULL; /* rd_kafka_new took ownership */
    p->topic = rd_kafka_topic_new(p->rk, mochi_config_str(config, &mochi_setting_topic), NULL);
    if (p->topic == NULL) {
        snprintf(err, errlen, "cannot create the topic handle: %s",
                 rd_kafka_err2str(rd_kafka_last_error()));
        rc = MOCHI_ERR_INVALID;
        goto fail;
    }
    rc = mochi_metrics_on_scrape(metrics, on_scrape, p);
    if (rc != 0)
        goto fail;
    *out = p;
    return 0;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (p && p->topic)
        rd_kafka_topic_destroy(p->topic);
    if (p && p->rk)
        rd_kafka_destroy(p->rk);
    free(p);
    if (rc == MOCHI_ERR_NOMEM)
        snprintf(err, errlen, "out of memory");
    return rc;
}

int collector_producer_send(struct collector_producer *p, const char *key, size_t key_len,
                            const void *value, size_t len)
{
    if (atomic_load_explicit(&p->watch.fatal, memory_order_relaxed))
        return MOCHI_ERR_INTERNAL;
    if (rd_kafka_produce(p->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value, len,
                         key, key_len, NULL) == 0)
        return 0;
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return MOCHI_ERR_FULL;
    mochi_log(MOCHI_LOG_ERROR, "collector", "msg=\"produce failed\" error=%s",
              rd_kafka_err2name(err));
    return MOCHI_ERR_INTERNAL;
}

void collector_producer_poll(struct collector_producer *p, int timeout_ms)
{
    rd_kafka_poll(p->rk, timeout_ms);
}

bool collector_producer_healthy(struct collector_producer *p)
{
    if (atomic_load(&p->watch.fatal))
        return false;
    if (atomic_load(&p->watch.all_down))
        return false;
    return atomic_load(&p->watch.brokers_up) != 0;
}

int collector_producer_close(struct collector_producer *p, int timeout_ms)
{
    if (p == NULL)
        return 0;
    int queued = rd_kafka_outq_len(p->rk);
    mochi_log(MOCHI_LOG_INFO, "collector", "msg=\"flushing producer\" queued=%d timeout_ms=%d",
              queued, timeout_ms);
    rd_kafka_flush(p->rk, timeout_ms);
    int left = rd_kafka_outq_len(p->rk);
    if (left > 0) {
        /* Purged messages get a failed delivery report: counted and logged
         * by on_delivery as each is served by the poll below. */
        atomic_store(&p->closing, true);
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0);
        mochi_log(MOCHI_LOG_ERROR, "collector",
                  "msg=\"events not delivered before the shutdown deadline\" undelivered=%d", left);
    }
    rd_kafka_topic_destroy(p->topic);
    rd_kafka_destroy(p->rk);
    free(p);
    return left;
}
