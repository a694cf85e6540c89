#ifndef MOCHI_KAFKA_H
#define MOCHI_KAFKA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "common/config.h"

/* librdkafka configuration shared by every Kafka client of Mochi. */

/* Returns a new conf in *out (caller owns it until handed to rd_kafka_new)
 * with bootstrap.servers from the "brokers" setting, client.id, librdkafka's
 * log lines routed to Mochi's logfmt stderr log, and then every -X property
 * of config applied, so that -X wins over Mochi's defaults but not over the
 * settings the caller sets afterwards. Returns 0 or MOCHI_ERR_INVALID with
 * the reason in err. */
int mochi_kafka_conf_new(const struct mochi_config *config, const char *client_id,
                         rd_kafka_conf_t **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Applies every -X key=value pair of config to conf, in order. Returns 0,
 * or MOCHI_ERR_INVALID with "-X KEY: librdkafka's reason" in err. */
int mochi_kafka_apply_properties(const struct mochi_config *config, rd_kafka_conf_t *conf,
                                 char *err, size_t errlen) __attribute__((warn_unused_result));

/* rd_kafka_conf_set that returns 0 or MOCHI_ERR_INVALID with
 * "KEY: reason" in err. */
int mochi_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* Sets key only when -X did not set it: Mochi's default for a property the
 * operator may override. Returns as mochi_kafka_set. */
int mochi_kafka_default(const struct mochi_config *config, rd_kafka_conf_t *conf, const char *key,
                        const char *value, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The error and statistics callbacks every Mochi client installs: errors
 * are logged (one line, under component), a fatal error and a lost
 * cluster are recorded for the client's health check, and each
 * statistics document counts the brokers that are up and is then passed,
 * parsed, to the client's stats hook. The fields are written by
 * librdkafka's callbacks (on the thread that polls) and may be read from
 * any thread. */
struct json_t;
struct mochi_kafka_watch {
    const char *component;
    /* Optional: more from each statistics document (root is borrowed). */
    void (*stats)(void *arg, struct json_t *root);
    void *arg;             /* the client's: also how its other callbacks find it */
    atomic_bool fatal;     /* a fatal error: the client cannot go on */
    atomic_bool all_down;  /* ALL_BROKERS_DOWN, and no broker up since */
    atomic_int brokers_up; /* from the last statistics; -1 before the first */
};

/* Initialises w (which must outlive the client) and installs the
 * callbacks on conf, with w as conf's opaque: a client's own callbacks
 * (delivery reports) find their arg as ((struct mochi_kafka_watch
 * *)opaque)->arg. */
void mochi_kafka_watch(rd_kafka_conf_t *conf, struct mochi_kafka_watch *w, const char *component,
                       void (*stats)(void *arg, struct json_t *root), void *arg);

#endif
