#include "common/kafka.h"
#include "common/error.h"
#include "common/log.h"

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
