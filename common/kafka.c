#include "common/kafka.h"
#include "common/error.h"
#include "common/log.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void log_cb(const rd_kafka_t *rk, int level, const char *facility, const char *buf)
{
    (void)rk;
    /* syslog levels: 0-3 error, 4 warning, 5-6 notice/info, 7 debug */
    enum mochi_log_level l = level <= 3   ? MOCHI_LOG_ERROR
                             : level == 4 ? MOCHI_LOG_WARN
                             : level <= 6 ? MOCHI_LOG_INFO
                                          : MOCHI_LOG_DEBUG;
    if (!mochi_log_enabled(l))
        return;
    char quoted[1024];
    mochi_log(l, "kafka", "facility=%s msg=%s", facility,
              mochi_log_quote(quoted, sizeof(quoted), buf));
}

int mochi_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                    size_t errlen)
{
    char why[256] = "";
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "%s: %s", key, why);
        return MOCHI_ERR_INVALID;
    }
    return 0;
}

int mochi_kafka_apply_properties(const struct mochi_config *config, rd_kafka_conf_t *conf,
                                 char *err, size_t errlen)
{
    for (size_t i = 0; i < mochi_config_kafka_count(config); i++) {
        const struct mochi_kafka_property *p = mochi_config_kafka(config, i);
        char why[256] = "";
        if (rd_kafka_conf_set(conf, p->key, p->value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "-X %s: %s", p->key, why);
            return MOCHI_ERR_INVALID;
        }
    }
    return 0;
}

int mochi_kafka_default(const struct mochi_config *config, rd_kafka_conf_t *conf, const char *key,
                        const char *value, char *err, size_t errlen)
{
    for (size_t i = 0; i < mochi_config_kafka_count(config); i++)
        if (strcmp(mochi_config_kafka(config, i)->key, key) == 0)
            return 0;
    return mochi_kafka_set(conf, key, value, err, errlen);
}

int mochi_kafka_conf_new(const struct mochi_config *config, const char *client_id,
                         rd_kafka_conf_t **out, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = mochi_kafka_set(conf, "bootstrap.servers",
                             mochi_config_str(config, &mochi_setting_brokers), err, errlen);
    if (rc == 0)
        rc = mochi_kafka_set(conf, "client.id", client_id, err, errlen);
    if (rc == 0) {
        rd_kafka_conf_set_log_cb(conf, log_cb);
        rc = mochi_kafka_apply_properties(config, conf, err, errlen);
    }
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    *out = conf;
    return 0;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct mochi_kafka_watch *w = opaque;
    char quoted[512];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        atomic_store(&w->fatal, true);
        mochi_log(MOCHI_LOG_ERROR, w->component, "msg=\"fatal Kafka error\" error=%s reason=%s",
                  rd_kafka_err2name(orig), mochi_log_quote(quoted, sizeof(quoted), why));
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&w->all_down, true);
    mochi_log(MOCHI_LOG_WARN, w->component, "msg=\"Kafka error\" error=%s reason=%s",
              rd_kafka_err2name((rd_kafka_resp_err_t)err),
              mochi_log_quote(quoted, sizeof(quoted), reason));
}

/* Counts the brokers librdkafka sees as UP (learned brokers only, not the
 * bootstrap entries), then gives the document to the client. Returning 0
 * lets librdkafka free json. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    struct mochi_kafka_watch *w = opaque;
    json_t *root = json_loadb(json, len, 0, NULL);
    if (root == NULL)
        return 0;
    json_t *brokers = json_object_get(root, "brokers");
    if (json_is_object(brokers)) {
        int up = 0;
        const char *name;
        json_t *b;
        json_object_foreach(brokers, name, b)
        {
            const char *state = json_string_value(json_object_get(b, "state"));
            json_int_t id = json_integer_value(json_object_get(b, "nodeid"));
            if (state && strcmp(state, "UP") == 0 && id >= 0)
                up++;
        }
        atomic_store(&w->brokers_up, up);
        if (up > 0)
            atomic_store(&w->all_down, false);
    }
    if (w->stats != NULL)
        w->stats(w->arg, root);
    json_decref(root);
    return 0;
}

void mochi_kafka_watch(rd_kafka_conf_t *conf, struct mochi_kafka_watch *w, const char *component,
                       void (*stats)(void *arg, struct json_t *root), void *arg)
{
    w->component = component;
    w->stats = stats;
    w->arg = arg;
    atomic_init(&w->fatal, false);
    atomic_init(&w->all_down, false);
    atomic_init(&w->brokers_up, -1);
    rd_kafka_conf_set_opaque(conf, w);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_stats_cb(conf, on_stats);
}
