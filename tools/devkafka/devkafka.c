#include "tools/devkafka/devkafka.h"
#include "common/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <librdkafka/rdkafka_mock.h>

#define MAX_BROKERS 9
#define MAX_PARTITIONS 256
#define MAX_RTT_MS 60000
#define MAX_INJECTED_ERRORS 32

struct mochi_devkafka {
    rd_kafka_t *rk; /* idle producer that hosts the cluster */
    rd_kafka_mock_cluster_t *mcluster;
    int brokers;
    char *bootstrap; /* owned copy */
};

/* Kafka API keys a test may want to fail, by protocol name. */
static const struct {
    const char *name;
    int16_t key;
} api_keys[] = {
    {"Produce", 0},          {"Fetch", 1},
    {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8},     {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},       {"LeaveGroup", 13},
    {"SyncGroup", 14},       {"ApiVersions", 18},
    {"InitProducerId", 22},  {"AddPartitionsToTxn", 24},
    {"EndTxn", 26},
};

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
static int parse_int(const char *text, long min, long max, long *out);
static int parse_broker(const struct mochi_devkafka *devkafka, const char *text, int32_t *id,
                        char *err, size_t errlen);
static int parse_api_key(const char *text, int16_t *key);
static int parse_error_code(const char *text, rd_kafka_resp_err_t *code);
static int cmd_broker_state(struct mochi_devkafka *devkafka, bool up, char **args, int nargs,
                            char *reply, size_t size);
static int cmd_topic(struct mochi_devkafka *devkafka, char **args, int nargs, char *reply,
                     size_t size);
static int cmd_rtt(struct mochi_devkafka *devkafka, char **args, int nargs, char *reply,
                   size_t size);
static int cmd_leader(struct mochi_devkafka *devkafka, char **args, int nargs, char *reply,
                      size_t size);
static int cmd_errors(struct mochi_devkafka *devkafka, char **args, int nargs, char *reply,
                      size_t size);

/* librdkafka logs (also those of the mock, with -X debug=mock) as logfmt.
 * Called from librdkafka's threads; mochi_log writes each line at once. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    enum mochi_log_level mlevel = level <= LOG_ERR       ? MOCHI_LOG_ERROR
                                  : level == LOG_WARNING ? MOCHI_LOG_WARN
                                  : level == LOG_DEBUG   ? MOCHI_LOG_DEBUG
                                                         : MOCHI_LOG_INFO;
    if (!mochi_log_enabled(mlevel))
        return;
    char qfac[64], qmsg[1024];
    mochi_log(mlevel, "devkafka", "msg=librdkafka facility=%s text=%s",
              mochi_log_quote(qfac, sizeof(qfac), fac), mochi_log_quote(qmsg, sizeof(qmsg), buf));
}

int mochi_devkafka_new(int brokers, const char *const *props, struct mochi_devkafka **out,
                       char *err, size_t errlen)
{
    int rc = MOCHI_ERR_INTERNAL;
    rd_kafka_conf_t *conf = NULL;
    struct mochi_devkafka *devkafka = NULL;

    if (brokers < 1 || brokers > MAX_BROKERS) {
        snprintf(err, errlen, "broker count must be between 1 and %d", MAX_BROKERS);
        return MOCHI_ERR_INVALID;
    }
    devkafka = calloc(1, sizeof(*devkafka));
    if (devkafka == NULL) {
        snprintf(err, errlen, "out of memory");
        return MOCHI_ERR_NOMEM;
    }
    devkafka->brokers = brokers;

    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    char why[512];
    /* The hosting handle never connects anywhere: it has no bootstrap
     * servers, which librdkafka would warn about at every start. */
    if (rd_kafka_conf_set(conf, "log_level", "3", why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "log_level: %s", why);
        goto out;
    }
    for (size_t i = 0; props && props[i] && props[i + 1]; i += 2) {
        if (rd_kafka_conf_set(conf, props[i], props[i + 1], why, sizeof(why)) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "-X %s: %s", props[i], why);
            rc = MOCHI_ERR_INVALID;
            goto out;
        }
    }
    devkafka->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (devkafka->rk == NULL) {
        snprintf(err, errlen, "cannot create the hosting handle: %s", why);
        goto out;
    }
    conf = NULL; /* owned by devkafka->rk now */

    devkafka->mcluster = rd_kafka_mock_cluster_new(devkafka->rk, brokers);
    if (devkafka->mcluster == NULL) {
        snprintf(err, errlen, "cannot create the mock cluster (no loopback port free?)");
        goto out;
    }
    devkafka->bootstrap = strdup(rd_kafka_mock_cluster_bootstraps(devkafka->mcluster));
    if (devkafka->bootstrap == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = MOCHI_ERR_NOMEM;
        goto out;
    }
    *out = devkafka;
    devkafka = NULL;
    rc = 0;
out:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    mochi_devkafka_destroy(devkafka);
    return rc;
}

void mochi_devkafka_destroy(struct mochi_devkafka *devkafka)
{
    if (devkafka == NULL)
        return;
    /* The cluster needs its handle alive: destroy it first. */
    if (devkafka->mcluster != NULL)
        rd_kafka_mock_cluster_destroy(devkafka->mcluster);
    if (devkafka->rk != NULL)
        rd_kafka_destroy(devkafka->rk);
    free(devkafka->bootstrap);
    free(devkafka);
}

const char *mochi_devkafka_bootstrap(const struct mochi_devkafka *devkafka)
{
    return devkafka->bootstrap;
}

void mochi_devkafka_poll(struct mochi_devkafka *devkafka)
{
    rd_kafka_poll(devkafka->rk, 0);
}

bool mochi_devkafka_topic_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int mochi_devkafka_create_topic(struct mochi_devkafka *devkafka, const char *name, int partitions,
                                char *err, size_t errlen)
{
    if (!mochi_devkafka_topic_name_valid(name)) {
        snprintf(err, errlen, "invalid topic name (1 to 249 letters, digits, '.', '_' or '-')");
        return MOCHI_ERR_INVALID;
    }
    if (partitions < 1 || partitions > MAX_PARTITIONS) {
        snprintf(err, errlen, "partitions must be between 1 and %d", MAX_PARTITIONS);
        return MOCHI_ERR_INVALID;
    }
    int replication = devkafka->brokers < 3 ? devkafka->brokers : 3;
    rd_kafka_resp_err_t kerr =
        rd_kafka_mock_topic_create(devkafka->mcluster, name, partitions, replication);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s", rd_kafka_err2str(kerr));
        return MOCHI_ERR_INVALID;
    }
    char qname[300];
    mochi_log(MOCHI_LOG_INFO, "devkafka",
              "msg=\"topic created\" topic=%s partitions=%d replication=%d",
              mochi_log_quote(qname, sizeof(qname), name), partitions, replication);
    return 0;
}

const char *mochi_devkafka_help(void)
{
    return "commands: down BROKER | up BROKER | rtt BROKER MS | topic NAME PARTITIONS"
           " | leader TOPIC PARTITION BROKER | errors API ERROR... | help"
           " (BROKER is an id from 1 or 'all')";
}

static int parse_int(const char *text, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || n < min || n > max)
        return MOCHI_ERR_INVALID;
    *out = n;
    return 0;
}

/* A broker id from 1 to the broker count, or "all" / -1 for every broker. */
static int parse_broker(const struct mochi_devkafka *devkafka, const char *text, int32_t *id,
                        char *err, size_t errlen)
{
    long n;
    if (strcmp(text, "all") == 0 || strcmp(text, "-1") == 0) {
        *id = -1;
        return 0;
    }
    if (parse_int(text, 1, devkafka->brokers, &n) != 0) {
        snprintf(err, errlen, "no broker '%.40s' (ids 1 to %d, or all)", text, devkafka->brokers);
        return MOCHI_ERR_INVALID;
    }
    *id = (int32_t)n;
    return 0;
}

static int parse_api_key(const char *text, int16_t *key)
{
    for (size_t i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++) {
        if (strcasecmp(text, api_keys[i].name) == 0) {
            *key = api_keys[i].key;
            return 0;
        }
    }
    long n;
    if (parse_int(text, 0, INT16_MAX, &n) != 0)
        return MOCHI_ERR_INVALID;
    *key = (int16_t)n;
    return 0;
}

/* An error by librdkafka's name ("NOT_COORDINATOR", "_TRANSPORT") or code. */
static int parse_error_code(const char *text, rd_kafka_resp_err_t *code)
{
    const struct rd_kafka_err_desc *descs = NULL;
    size_t count = 0;
    rd_kafka_get_err_descs(&descs, &count);
    for (size_t i = 0; i < count; i++) {
        if (descs[i].name != NULL && strcasecmp(text, descs[i].name) == 0) {
            *code = descs[i].code;
            return 0;
        }
    }
    long n;
    if (parse_int(text, -200, 1000, &n) != 0)
        return MOCHI_ERR_INVALID;
    *code = (rd_kafka_resp_err_t)n;
    return 0;
}

static int cmd_broker_state(struct mochi_devkafka *devkafka, bool up, char **args, int nargs,
                            char *reply, size_t size)
{
    const char *verb = up ? "up" : "down";
    char why[128];
    int32_t id;
    if (nargs != 1) {
        snprintf(reply, size, "error usage: %s BROKER", verb);
        return MOCHI_ERR_INVALID;
    }
    if (parse_broker(devkafka, args[0], &id, why, sizeof(why)) != 0) {
        snprintf(reply, size, "error %s", why);
        return MOCHI_ERR_INVALID;
    }
    rd_kafka_resp_err_t kerr = up ? rd_kafka_mock_broker_set_up(devkafka->mcluster, id)
                                  : rd_kafka_mock_broker_set_down(devkafka->mcluster, id);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(reply, size, "error %s", rd_kafka_err2str(kerr));
        return MOCHI_ERR_INVALID;
    }
    snprintf(reply, size, "ok %s %s", verb, args[0]);
    return 0;
}

static int cmd_topic(struct mochi_devkafka *devkafka, char **args, int nargs, char *reply,
                     size_t size)
{
    long partitions;
    char why[256];
    if (nargs != 2 || parse_int(args[1], 1, MAX_PARTITIONS, &partitions) != 0) {
        snprintf(reply, size, "error usage: topic NAME PARTITIONS (1 to %d)", MAX_PARTITIONS);
        return MOCHI_ERR_INVALID;
    }
    if (mochi_devkafka_create_topic(devkafka, args[0], (int)partitions, why, sizeof(why)) != 0) {
        snprintf(reply, size, "error %s", why);
        return MOCHI_ERR_INVALID;
    }
    snprintf(reply, size, "ok topic %s %ld", args[0], partitions);
    return 0;
}

static int cmd_rtt(struct mochi_devkafka *devkafka, char **args, int nargs, char *reply,
                   size_t size)
{
    long ms;
    int32_t id;
    char why[128];
    if (nargs != 2 || parse_int(args[1], 0, MAX_RTT_MS, &ms) != 0) {
        snprintf(reply, size, "error usage: rtt BROKER MS (0 to %d)", MAX_RTT_MS);
        return MOCHI_ERR_INVALID;
    }
    if (parse_broker(devkafka, args[0], &id, why, sizeof(why)) != 0) {
        snprintf(reply, size, "error %s", why);
        return MOCHI_ERR_INVALID;
    }
    rd_kafka_resp_err_t kerr = rd_kafka_mock_broker_set_rtt(devkafka->mcluster, id, (int)ms);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(reply, size, "error %s", rd_kafka_err2str(kerr));
        return MOCHI_ERR_INVALID;
    }
    snprintf(reply, size, "ok rtt %s %ld", args[0], ms);
    return 0;
}

/* Moves a partition's leadership, which broker down/up never does. The
 * mock creates the topic when it does not exist, so a typo makes a topic. */
static int cmd_leader(struct mochi_devkafka *devkafka, char **args, int nargs, char *reply,
                      size_t size)
{
    long partition;
    int32_t id;
    char why[128];
    if (nargs != 3 || !mochi_devkafka_topic_name_valid(args[0]) ||
        parse_int(args[1], 0, MAX_PARTITIONS - 1, &partition) != 0) {
        snprintf(reply, size, "error usage: leader TOPIC PARTITION BROKER");
        return MOCHI_ERR_INVALID;
    }
    if (parse_broker(devkafka, args[2], &id, why, sizeof(why)) != 0) {
        snprintf(reply, size, "error %s", why);
        return MOCHI_ERR_INVALID;
    }
    if (id == -1) {
        snprintf(reply, size, "error leader needs one broker id");
        return MOCHI_ERR_INVALID;
    }
    rd_kafka_resp_err_t kerr =
        rd_kafka_mock_partition_set_leader(devkafka->mcluster, args[0], (int32_t)partition, id);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(reply, size, "error %s", rd_kafka_err2str(kerr));
        return MOCHI_ERR_INVALID;
    }
    snprintf(reply, size, "ok leader %s %ld %d", args[0], partition, (int)id);
    return 0;
}

/* Pushes errors that the next requests of one API key get, in order, on
 * whichever broker serves them. */
static int cmd_errors(struct mochi_devkafka *devkafka, char **args, int nargs, char *reply,
                      size_t size)
{
    int16_t key;
    rd_kafka_resp_err_t codes[MAX_INJECTED_ERRORS];
    if (nargs < 2 || nargs - 1 > MAX_INJECTED_ERRORS) {
        snprintf(reply, size, "error usage: errors API ERROR... (at most %d errors)",
                 MAX_INJECTED_ERRORS);
        return MOCHI_ERR_INVALID;
    }
    if (parse_api_key(args[0], &key) != 0) {
        snprintf(reply, size,
                 "error unknown API '%.60s' (a name such as Produce, Fetch, OffsetCommit, "
                 "JoinGroup, or a key number)",
                 args[0]);
        return MOCHI_ERR_INVALID;
    }
    for (int i = 1; i < nargs; i++) {
        if (parse_error_code(args[i], &codes[i - 1]) != 0) {
            snprintf(reply, size,
                     "error unknown error '%.60s' (a librdkafka name such as "
                     "NOT_COORDINATOR or _TRANSPORT, or a code)",
                     args[i]);
            return MOCHI_ERR_INVALID;
        }
    }
    rd_kafka_mock_push_request_errors_array(devkafka->mcluster, key, (size_t)(nargs - 1), codes);
    snprintf(reply, size, "ok errors %s %d", args[0], nargs - 1);
    return 0;
}

int mochi_devkafka_command(struct mochi_devkafka *devkafka, const char *line, char *reply,
                           size_t size)
{
    char buf[1024];
    char *words[40];
    int nwords = 0;
    reply[0] = '\0';
    if (strlen(line) >= sizeof(buf)) {
        snprintf(reply, size, "error line too long");
        return MOCHI_ERR_INVALID;
    }
    snprintf(buf, sizeof(buf), "%s", line);
    char *save = NULL;
    for (char *w = strtok_r(buf, " \t\r", &save); w != NULL; w = strtok_r(NULL, " \t\r", &save)) {
        if (nwords == (int)(sizeof(words) / sizeof(words[0]))) {
            snprintf(reply, size, "error too many words");
            return MOCHI_ERR_INVALID;
        }
        words[nwords++] = w;
    }
    if (nwords == 0)
        return MOCHI_ERR_NOTFOUND;

    const char *verb = words[0];
    char **args = words + 1;
    int nargs = nwords - 1;
    if (strcmp(verb, "down") == 0)
        return cmd_broker_state(devkafka, false, args, nargs, reply, size);
    if (strcmp(verb, "up") == 0)
        return cmd_broker_state(devkafka, true, args, nargs, reply, size);
    if (strcmp(verb, "topic") == 0)
        return cmd_topic(devkafka, args, nargs, reply, size);
    if (strcmp(verb, "rtt") == 0)
        return cmd_rtt(devkafka, args, nargs, reply, size);
    if (strcmp(verb, "leader") == 0)
        return cmd_leader(devkafka, args, nargs, reply, size);
    if (strcmp(verb, "errors") == 0)
        return cmd_errors(devkafka, args, nargs, reply, size);
    if (strcmp(verb, "help") == 0) {
        snprintf(reply, size, "ok %s", mochi_devkafka_help());
        return 0;
    }
    snprintf(reply, size, "error unknown command '%.60s' (try help)", verb);
    return MOCHI_ERR_INVALID;
}

int mochi_devkafka_write_bootstrap_file(const char *path, const char *bootstrap, char *err,
                                        size_t errlen)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        snprintf(err, errlen, "path too long");
        return MOCHI_ERR_IO;
    }
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return MOCHI_ERR_IO;
    }
    bool written = fprintf(f, "%s\n", bootstrap) > 0;
    written = fflush(f) == 0 && written;
    int saved = errno;
    if (fclose(f) != 0 && written) {
        written = false;
        saved = errno;
    }
    if (!written) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(saved));
        unlink(tmp);
        return MOCHI_ERR_IO;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return MOCHI_ERR_IO;
    }
    return 0;
}
