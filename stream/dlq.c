/* The dead-letter producer (dlq.h). */
#include "stream/dlq.h"
#include "common/error.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/names.h"

#include <stdio.h>
#include <string.h>

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

int stream_dlq_open(struct stream_dlq *dlq, const struct mochi_config *config, const char *program,
                    const char *component, const char *topic, struct mochi_stream_metrics *metrics,
                    char *err, size_t errlen)
{
    memset(dlq, 0, sizeof(*dlq));
    atomic_init(&dlq->failures, 0);
    dlq->source_topic = topic;
    snprintf(dlq->topic, sizeof(dlq->topic), "%s" MOCHI_DLQ_SUFFIX, topic);
    dlq->component = component;
    dlq->metrics = metrics;
    rd_kafka_conf_t *conf = NULL;
    int rc = mochi_kafka_conf_new(config, program, &conf, err, errlen);
    if (rc == 0)
        rc = mochi_kafka_set(conf, "enable.idempotence", "true", err, errlen);
    if (rc != 0) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_opaque(conf, dlq);
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    char why[256];
    dlq->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (dlq->producer == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "cannot create the dead-letter producer: %s", why);
        return MOCHI_ERR_INVALID;
    }
    /* conf belongs to the producer now */
    return 0;
}

void stream_dlq_send(struct stream_dlq *dlq, const rd_kafka_message_t *m, int err)
{
    char partition[16], offset[32];
    snprintf(partition, sizeof(partition), "%d", (int)m->partition);
    snprintf(offset, sizeof(offset), "%lld", (long long)m->offset);
    const char *error = mochi_strerror(err);
    rd_kafka_resp_err_t rc = rd_kafka_producev(
        dlq->producer, RD_KAFKA_V_TOPIC(dlq->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
        RD_KAFKA_V_HEADER("mochi.error", error, -1),
        RD_KAFKA_V_HEADER("mochi.source.topic", dlq->source_topic, -1),
        RD_KAFKA_V_HEADER("mochi.source.partition", partition, -1),
        RD_KAFKA_V_HEADER("mochi.source.offset", offset, -1), RD_KAFKA_V_END);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
        atomic_fetch_add(&dlq->failures, 1);
    mochi_metric_inc(dlq->metrics->dead_letters);
    mochi_log(MOCHI_LOG_WARN, dlq->component,
              "msg=\"undecodable message sent to the dead-letter topic\" error=%s partition=%s "
              "offset=%s",
              error, partition, offset);
}

int stream_dlq_flush(struct stream_dlq *dlq)
{
    rd_kafka_flush(dlq->producer, 30000);
    if (rd_kafka_outq_len(dlq->producer) > 0 || atomic_exchange(&dlq->failures, 0) > 0) {
        mochi_log(MOCHI_LOG_WARN, dlq->component,
                  "msg=\"dead-letter topic unavailable, batch kept\"");
        return MOCHI_ERR_AGAIN;
    }
    return 0;
}

void stream_dlq_close(struct stream_dlq *dlq)
{
    if (dlq->producer == NULL)
        return;
    rd_kafka_flush(dlq->producer, 10000);
    rd_kafka_destroy(dlq->producer);
    dlq->producer = NULL;
}

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    struct stream_dlq *dlq = opaque;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&dlq->failures, 1);
        mochi_log(MOCHI_LOG_ERROR, dlq->component, "msg=\"dead letter not delivered\" error=\"%s\"",
                  rd_kafka_err2str(msg->err));
    }
}
