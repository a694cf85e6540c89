/* mochictl topics ensure: creates the page-view topic and its dead-letter
 * topic with explicit settings, and reports (never changes) existing ones
 * that differ. Production brokers do not create topics on first use, and a
 * broker default (one partition, the broker's retention) is rarely what
 * Mochi wants, so creating them is an operator's step. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/names.h"
#include "tools/mochictl/mochictl.h"

#define TIMEOUT_MS 30000

static const struct mochi_setting setting_partitions = {
    .name = "partitions",
    .type = MOCHI_SETTING_INT,
    .default_value = "6",
    .min = 1,
    .max = 10000,
    .help = "partitions of each topic; sets how many consumers can share the work"};
static const struct mochi_setting setting_replication = {
    .name = "replication-factor",
    .type = MOCHI_SETTING_INT,
    .min = 1,
    .max = 32,
    .help = "copies of each partition (default: 3, or the number of brokers when fewer)"};
static const struct mochi_setting setting_retention = {
    .name = "retention",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "7d",
    .min = 60000,
    .max = 3650 * MOCHI_MS_PER_DAY,
    .help = "how long Kafka keeps page views (retention.ms); mochictl replay can rebuild only "
            "days still in the topic, so this is the replay window"};
static const struct mochi_setting setting_min_isr = {
    .name = "min-insync-replicas",
    .type = MOCHI_SETTING_INT,
    .min = 1,
    .max = 32,
    .help = "replicas that must have a write before it is acknowledged (min.insync.replicas; "
            "default: 2 with a replication factor of 3 or more, else 1)"};
static const struct mochi_setting setting_json = {.name = "json",
                                                  .type = MOCHI_SETTING_FLAG,
                                                  .default_value = "false",
                                                  .help = "print JSON instead of lines"};

static const struct mochi_setting *const topics_settings[] = {
    &mochi_setting_brokers, &mochi_setting_topic,     &setting_partitions,
    &setting_replication,   &setting_retention,       &setting_min_isr,
    &setting_json,          &mochi_setting_log_level, NULL};

static const struct mochi_program_spec topics_spec = {
    .name = "mochictl topics ensure",
    .usage = "[--topic T] [--partitions N] [--replication-factor N] [--retention DURATION] "
             "[--min-insync-replicas N] [--json]",
    .summary =
        "Creates the page-view topic and its dead-letter topic <topic>" MOCHI_DLQ_SUFFIX
        " with the given "
        "partitions, replication factor, retention and min.insync.replicas, and prints one line "
        "per topic: created, ok (exists with these settings) or differs (one more line per "
        "difference, wanted vs has). An existing topic is never changed: adding partitions "
        "would move sites to other partitions and break the order of each site's events, and "
        "the other settings are the operator's to alter. The retention is also the window "
        "mochictl replay can rebuild from. Exit status: 0 every topic created or ok, 1 a topic "
        "differs or could not be created, 2 bad usage, 3 when the brokers cannot be reached.",
    .settings = topics_settings,
    .kafka_properties = true,
};

struct wanted {
    int partitions;
    int replication;
    long long retention_ms;
    int min_isr;
};

enum topic_status { TOPIC_CREATED, TOPIC_OK, TOPIC_DIFFERS, TOPIC_ERROR };
static const char *const status_names[] = {"created", "ok", "differs", "error"};

/* What one topic has, as far as the broker tells. */
struct topic_state {
    char name[256];
    bool exists;
    int partitions;
    int replication; /* the fewest replicas of any partition */
    long long retention_ms, min_isr;
    bool configs_known; /* false when the broker does not answer DescribeConfigs */
    char configs_error[512];
    enum topic_status status;
    char error[512];
};

/* Reads topic's partitions and replication factor from a listing of all
 * topics into st (exists false when the broker does not know it). A listing
 * rather than a look-up by name, because a look-up makes brokers with
 * auto-creation on (and the dev broker, always) create the topic with their
 * defaults. Returns 0, or -1 with the reason in st->error. */
static int read_metadata(rd_kafka_t *rk, struct topic_state *st)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(st->error, sizeof(st->error), "cannot read metadata: %s", rd_kafka_err2str(e));
        return -1;
    }
    st->exists = false;
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (strcmp(t->topic, st->name) != 0 || t->err != RD_KAFKA_RESP_ERR_NO_ERROR ||
            t->partition_cnt < 1)
            continue;
        st->exists = true;
        st->partitions = t->partition_cnt;
        st->replication = t->partitions[0].replica_cnt;
        for (int p = 1; p < t->partition_cnt; p++)
            if (t->partitions[p].replica_cnt < st->replication)
                st->replication = t->partitions[p].replica_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

/* True when topic is listed with every partition led. */
static bool topic_ready(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    bool ready = false;
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (strcmp(t->topic, topic) != 0 || t->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        ready = t->partition_cnt > 0;
        for (int p = 0; ready && p < t->partition_cnt; p++)
            ready = t->partitions[p].leader >= 0;
    }
    rd_kafka_metadata_destroy(md);
    return ready;
}

/* Admin options for op with Mochi's timeouts. Requests go to the
 * controller; a cluster whose metadata names none that it lists (the dev
 * broker says 0) gets them sent to broker_id instead, or they would wait
 * for a controller that never comes. */
static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op, int broker_id)
{
    char err[256];
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(opts, TIMEOUT_MS, err, sizeof(err));
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS)
        rd_kafka_AdminOptions_set_operation_timeout(opts, TIMEOUT_MS, err, sizeof(err));
    if (broker_id >= 0)
        rd_kafka_AdminOptions_set_broker(opts, broker_id, err, sizeof(err));
    return opts;
}

/* Waits for an admin result on q. Returns the event (caller destroys it) or
 * NULL with the reason in err. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, const char *what, char *err, size_t errlen)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS + 5000);
    if (ev == NULL) {
        snprintf(err, errlen, "%s: no answer", what);
        return NULL;
    }
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s: %s", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

/* Creates the topics of st[0..n) that do not exist. A topic someone else
 * created meanwhile is read again and compared like any existing one. */
static void create_missing(rd_kafka_t *rk, struct topic_state *st, int n, const struct wanted *w,
                           int broker_id)
{
    rd_kafka_NewTopic_t *topics[2] = {NULL, NULL};
    size_t count = 0;
    char err[512] = "", num[32];
    for (int i = 0; i < n; i++) {
        if (st[i].exists || st[i].status == TOPIC_ERROR)
            continue;
        rd_kafka_NewTopic_t *nt =
            rd_kafka_NewTopic_new(st[i].name, w->partitions, w->replication, err, sizeof(err));
        if (nt == NULL) {
            st[i].status = TOPIC_ERROR;
            snprintf(st[i].error, sizeof(st[i].error), "%s", err);
            continue;
        }
        snprintf(num, sizeof(num), "%lld", w->retention_ms);
        rd_kafka_resp_err_t e = rd_kafka_NewTopic_set_config(nt, "retention.ms", num);
        snprintf(num, sizeof(num), "%d", w->min_isr);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            e = rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", num);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            st[i].status = TOPIC_ERROR;
            snprintf(st[i].error, sizeof(st[i].error), "%s", rd_kafka_err2str(e));
            rd_kafka_NewTopic_destroy(nt);
            continue;
        }
        topics[count++] = nt;
    }
    if (count == 0)
        return;
    rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, broker_id);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, topics, count, opts, q);
    rd_kafka_event_t *ev = admin_wait(q, "CreateTopics", err, sizeof(err));
    if (ev == NULL && strstr(err, "not supported") != NULL)
        snprintf(err, sizeof(err),
                 "this broker cannot create topics (CreateTopics not supported; "
                 "the dev broker creates its topics when it starts)");
    size_t nres = 0;
    const rd_kafka_topic_result_t **res =
        ev ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &nres)
           : NULL;
    for (int i = 0; i < n; i++) {
        if (st[i].exists || st[i].status == TOPIC_ERROR)
            continue;
        st[i].status = TOPIC_ERROR;
        snprintf(st[i].error, sizeof(st[i].error), "%s", ev ? "no result for this topic" : err);
        for (size_t r = 0; r < nres; r++) {
            if (strcmp(rd_kafka_topic_result_name(res[r]), st[i].name) != 0)
                continue;
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[r]);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
                st[i].status = TOPIC_CREATED;
                st[i].partitions = w->partitions;
                st[i].replication = w->replication;
                st[i].retention_ms = w->retention_ms;
                st[i].min_isr = w->min_isr;
                st[i].configs_known = true;
            } else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                st[i].status = TOPIC_OK; /* compared below */
                if (read_metadata(rk, &st[i]) != 0)
                    st[i].status = TOPIC_ERROR;
                else if (!st[i].exists) {
                    st[i].status = TOPIC_ERROR;
                    snprintf(st[i].error, sizeof(st[i].error),
                             "the broker says it exists but its metadata does not show it");
                }
            } else {
                snprintf(st[i].error, sizeof(st[i].error), "cannot create: %s",
                         rd_kafka_topic_result_error_string(res[r]));
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy_array(topics, count);

    /* Return when the new topics can take writes, so that a program started
     * next does not meet "unknown topic". */
    for (int i = 0; i < n; i++) {
        if (st[i].status != TOPIC_CREATED)
            continue;
        int waited = 0;
        while (!topic_ready(rk, st[i].name) && waited < TIMEOUT_MS) {
            mochi_clock_sleep_ms(200);
            waited += 200;
        }
        if (waited >= TIMEOUT_MS)
            fprintf(stderr, "mochictl: %s was created but has no leaders yet\n", st[i].name);
    }
}

/* Reads retention.ms and min.insync.replicas of the existing topics of
 * st[0..n). A broker that does not answer DescribeConfigs (the dev broker)
 * leaves configs_known false with the reason; that is no failure. */
static void describe_configs(rd_kafka_t *rk, struct topic_state *st, int n, int broker_id)
{
    rd_kafka_ConfigResource_t *resources[2] = {NULL, NULL};
    size_t count = 0;
    char err[512] = "";
    for (int i = 0; i < n; i++)
        if (st[i].exists && st[i].status == TOPIC_OK)
            resources[count++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, st[i].name);
    if (count == 0)
        return;
    rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, broker_id);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, resources, count, opts, q);
    rd_kafka_event_t *ev = admin_wait(q, "DescribeConfigs", err, sizeof(err));
    size_t nres = 0;
    const rd_kafka_ConfigResource_t **res =
        ev ? rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev),
                                                       &nres)
           : NULL;
    for (int i = 0; i < n; i++) {
        if (!st[i].exists || st[i].status != TOPIC_OK)
            continue;
        snprintf(st[i].configs_error, sizeof(st[i].configs_error), "%s",
                 ev ? "no result for this topic" : err);
        for (size_t r = 0; r < nres; r++) {
            if (strcmp(rd_kafka_ConfigResource_name(res[r]), st[i].name) != 0)
                continue;
            if (rd_kafka_ConfigResource_error(res[r]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                snprintf(st[i].configs_error, sizeof(st[i].configs_error), "%s",
                         rd_kafka_ConfigResource_error_string(res[r]));
                break;
            }
            size_t nentries = 0;
            const rd_kafka_ConfigEntry_t **entries =
                rd_kafka_ConfigResource_configs(res[r], &nentries);
            int found = 0;
            for (size_t c = 0; c < nentries; c++) {
                const char *name = rd_kafka_ConfigEntry_name(entries[c]);
                const char *value = rd_kafka_ConfigEntry_value(entries[c]);
                if (value == NULL)
                    continue;
                if (strcmp(name, "retention.ms") == 0) {
                    st[i].retention_ms = strtoll(value, NULL, 10);
                    found++;
                } else if (strcmp(name, "min.insync.replicas") == 0) {
                    st[i].min_isr = strtoll(value, NULL, 10);
                    found++;
                }
            }
            st[i].configs_known = found == 2;
            if (!st[i].configs_known)
                snprintf(st[i].configs_error, sizeof(st[i].configs_error),
                         "the broker did not list retention.ms and min.insync.replicas");
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_ConfigResource_destroy_array(resources, count);
}

/* Adds one difference to diffs (JSON) and prints it unless as_json. */
static void difference(json_t *diffs, bool as_json, const char *setting, long long wanted,
                       long long has)
{
    json_array_append_new(diffs, json_pack("{s:s, s:I, s:I}", "setting", setting, "wanted",
                                           (json_int_t)wanted, "has", (json_int_t)has));
    if (!as_json)
        printf("  %s: wanted %lld, has %lld\n", setting, wanted, has);
}

/* Compares, prints and appends one topic's result to list. */
static void report(const struct topic_state *st, const struct wanted *w, bool as_json, json_t *list)
{
    json_t *diffs = json_array();
    enum topic_status status = st->status;
    if (status == TOPIC_OK &&
        (st->partitions != w->partitions || st->replication != w->replication ||
         (st->configs_known && (st->retention_ms != w->retention_ms || st->min_isr != w->min_isr))))
        status = TOPIC_DIFFERS;
    if (!as_json) {
        printf("%s: %s", st->name, status_names[status]);
        if (status == TOPIC_ERROR)
            printf(" (%s)", st->error);
        else if (status != TOPIC_DIFFERS) {
            printf(" (partitions %d, replication factor %d", st->partitions, st->replication);
            if (st->configs_known)
                printf(", retention.ms %lld, min.insync.replicas %lld", st->retention_ms,
                       st->min_isr);
            else
                printf("; retention unknown on this broker: %s", st->configs_error);
            printf(")");
        }
        printf("\n");
    }
    if (status == TOPIC_DIFFERS) {
        if (st->partitions != w->partitions)
            difference(diffs, as_json, "partitions", w->partitions, st->partitions);
        if (st->replication != w->replication)
            difference(diffs, as_json, "replication factor", w->replication, st->replication);
        if (st->configs_known && st->retention_ms != w->retention_ms)
            difference(diffs, as_json, "retention.ms", w->retention_ms, st->retention_ms);
        if (st->configs_known && st->min_isr != w->min_isr)
            difference(diffs, as_json, "min.insync.replicas", w->min_isr, st->min_isr);
        if (!st->configs_known && !as_json)
            printf("  retention unknown on this broker: %s\n", st->configs_error);
    }
    json_t *obj = json_pack("{s:s, s:s, s:o}", "topic", st->name, "status", status_names[status],
                            "differences", diffs);
    if (status != TOPIC_ERROR) {
        json_object_set_new(obj, "partitions", json_integer(st->partitions));
        json_object_set_new(obj, "replication_factor", json_integer(st->replication));
        json_object_set_new(obj, "retention_ms",
                            st->configs_known ? json_integer(st->retention_ms) : json_null());
        json_object_set_new(obj, "min_insync_replicas",
                            st->configs_known ? json_integer(st->min_isr) : json_null());
    } else {
        json_object_set_new(obj, "error", json_string(st->error));
    }
    json_array_append_new(list, obj);
}

int mochictl_topics_ensure(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&topics_spec, argc, argv);
    const char *topic = mochi_config_str(config, &mochi_setting_topic);
    bool as_json = mochi_config_flag(config, &setting_json);
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    const struct rd_kafka_metadata *md = NULL;
    struct topic_state st[2];
    json_t *list = NULL;
    char err[512] = "";
    int code = 0;

    if (strlen(topic) + sizeof(MOCHI_DLQ_SUFFIX) > sizeof(st[0].name)) {
        fprintf(stderr, "mochictl: --topic is too long\n");
        code = 2;
        goto out;
    }
    /* Asking for a topic's metadata must never create it with the broker's
     * defaults, which would then "differ" from what was wanted. */
    if (mochi_kafka_conf_new(config, "mochictl", &conf, err, sizeof(err)) != 0 ||
        mochi_kafka_default(config, conf, "allow.auto.create.topics", "false", err, sizeof(err)) !=
            0) {
        fprintf(stderr, "mochictl: %s\n", err);
        code = 2;
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "mochictl: cannot create a Kafka client: %s\n", err);
        code = 3;
        goto out;
    }
    conf = NULL; /* rk owns it */

    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->broker_cnt < 1) {
        fprintf(stderr, "mochictl: cannot reach the Kafka brokers %s: %s\n",
                mochi_config_str(config, &mochi_setting_brokers),
                e != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(e) : "no brokers listed");
        code = 3;
        goto out;
    }
    struct wanted w = {
        .partitions = (int)mochi_config_int(config, &setting_partitions),
        .replication = md->broker_cnt < 3 ? md->broker_cnt : 3,
        .retention_ms = mochi_config_ms(config, &setting_retention),
    };
    if (mochi_config_is_set(config, &setting_replication))
        w.replication = (int)mochi_config_int(config, &setting_replication);
    w.min_isr = w.replication >= 3 ? 2 : 1;
    if (mochi_config_is_set(config, &setting_min_isr))
        w.min_isr = (int)mochi_config_int(config, &setting_min_isr);
    if (w.min_isr > w.replication) {
        fprintf(stderr,
                "mochictl: --min-insync-replicas %d is more than the replication factor %d: no "
                "write could ever be acknowledged\n",
                w.min_isr, w.replication);
        code = 2;
        goto out;
    }

    memset(st, 0, sizeof(st));
    snprintf(st[0].name, sizeof(st[0].name), "%s", topic);
    snprintf(st[1].name, sizeof(st[1].name), "%s" MOCHI_DLQ_SUFFIX, topic);
    for (int i = 0; i < 2; i++) {
        st[i].status = TOPIC_OK;
        if (read_metadata(rk, &st[i]) != 0)
            st[i].status = TOPIC_ERROR;
    }
    int32_t controller = rd_kafka_controllerid(rk, 5000);
    int broker_id = md->brokers[0].id;
    for (int i = 0; i < md->broker_cnt; i++)
        if (md->brokers[i].id == controller)
            broker_id = -1;
    create_missing(rk, st, 2, &w, broker_id);
    describe_configs(rk, st, 2, broker_id);

    list = json_array();
    for (int i = 0; i < 2; i++)
        report(&st[i], &w, as_json, list);
    bool differs = false;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *s = json_string_value(json_object_get(json_array_get(list, i), "status"));
        if (strcmp(s, "differs") == 0)
            differs = true;
        if (strcmp(s, "differs") == 0 || strcmp(s, "error") == 0)
            code = 1;
    }
    if (as_json) {
        json_t *doc = json_pack("{s:i, s:O}", "brokers", md->broker_cnt, "topics", list);
        char *text = json_dumps(doc, JSON_COMPACT);
        puts(text);
        free(text);
        json_decref(doc);
    }
    if (differs)
        fprintf(stderr, "mochictl: existing topics are left as they are; a different partition "
                        "count would move sites between partitions and break per-site order, so "
                        "change one only on purpose (kafka-topics.sh, kafka-configs.sh)\n");
out:
    json_decref(list);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    mochi_config_destroy(config);
    return code;
}
