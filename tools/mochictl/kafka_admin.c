#include "tools/mochictl/kafka_admin.h"
#include "common/clock.h"
#include "common/kafka.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rd_kafka_t *mochictl_kafka_open(const struct mochi_config *config, const char *group)
{
    rd_kafka_conf_t *conf = NULL;
    char err[512] = "";
    /* When mochictl has to join a group (replay on a broker that wants a
     * member to commit), it must speak the daemons' protocol and, should
     * it vanish, be forgotten quickly. */
    if (mochi_kafka_conf_new(config, "mochictl", &conf, err, sizeof(err)) != 0 ||
        mochi_kafka_set(conf, "group.id", group, err, sizeof(err)) != 0 ||
        mochi_kafka_default(config, conf, "partition.assignment.strategy", "cooperative-sticky",
                            err, sizeof(err)) != 0 ||
        mochi_kafka_default(config, conf, "session.timeout.ms", "6000", err, sizeof(err)) != 0 ||
        mochi_kafka_set(conf, "enable.auto.commit", "false", err, sizeof(err)) != 0) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        fprintf(stderr, "mochictl: %s\n", err);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "mochictl: cannot create a Kafka client: %s\n", err);
    }
    return rk;
}

/* Errors a leader change or a broker starting up gives for a moment. */
static bool retriable(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
           e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
           e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
           e == RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE ||
           /* a group's coordinator that moves or still loads its offsets
            * (a broker just started, or the group's first use) */
           e == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
           e == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
           e == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
}

int mochictl_kafka_offsets(rd_kafka_t *rk, const char *topic, int timeout_ms,
                           struct partition_offsets **out, int *count)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
    rd_kafka_topic_destroy(t);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "mochictl: cannot read metadata of %s: %s\n", topic, rd_kafka_err2str(e));
        return -1;
    }
    if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "mochictl: topic %s: %s\n", topic,
                md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "not found");
        rd_kafka_metadata_destroy(md);
        return -1;
    }
    int n = md->topics[0].partition_cnt;
    struct partition_offsets *offs = calloc((size_t)n + 1, sizeof(*offs));
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++) {
        offs[i].partition = md->topics[0].partitions[i].id;
        rd_kafka_topic_partition_list_add(list, topic, offs[i].partition);
    }
    rd_kafka_metadata_destroy(md);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        /* A leader that moves (a broker restarting, a topic just made)
         * answers NOT_LEADER for a moment: ask again, within timeout_ms. */
        for (int waited = 0;; waited += 250) {
            e = rd_kafka_query_watermark_offsets(rk, topic, offs[i].partition, &offs[i].low,
                                                 &offs[i].high, timeout_ms);
            if (!retriable(e) || waited >= timeout_ms)
                break;
            mochi_clock_sleep_ms(250);
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "mochictl: cannot read offsets of %s [%d]: %s\n", topic,
                    (int)offs[i].partition, rd_kafka_err2str(e));
            rc = -1;
        }
    }
    if (rc == 0) {
        for (int waited = 0;; waited += 250) {
            e = rd_kafka_committed(rk, list, timeout_ms);
            if (!retriable(e) || waited >= timeout_ms)
                break;
            mochi_clock_sleep_ms(250);
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "mochictl: cannot read committed offsets: %s\n", rd_kafka_err2str(e));
            rc = -1;
        }
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(list, topic, offs[i].partition);
        offs[i].committed = p && p->offset >= 0 ? p->offset : -1;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (rc != 0) {
        free(offs);
        return rc;
    }
    *out = offs;
    *count = n;
    return 0;
}

int mochictl_kafka_group_members(rd_kafka_t *rk, const char *group, char *err, size_t errlen)
{
    const struct rd_kafka_group_list *groups = NULL;
    rd_kafka_resp_err_t e = rd_kafka_list_groups(rk, group, &groups, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s", rd_kafka_err2str(e));
        return -1;
    }
    int members = 0;
    for (int i = 0; i < groups->group_cnt; i++) {
        if (groups->groups[i].err != RD_KAFKA_RESP_ERR_NO_ERROR &&
            groups->groups[i].err != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
            snprintf(err, errlen, "%s", rd_kafka_err2str(groups->groups[i].err));
            rd_kafka_group_list_destroy(groups);
            return -1;
        }
        members += groups->groups[i].member_cnt;
    }
    rd_kafka_group_list_destroy(groups);
    return members;
}

json_t *mochictl_kafka_describe_group(rd_kafka_t *rk, const char *group, int timeout_ms, char *err,
                                      size_t errlen)
{
    const char *groups[1] = {group};
    char e[256];
    json_t *doc = NULL;
    /* librdkafka 2.0.2 hangs in rd_kafka_destroy after DescribeConsumerGroups
     * met a broker without DescribeGroups (the dev broker); the legacy call
     * fails cleanly there, so it goes first as a probe. */
    const struct rd_kafka_group_list *probe = NULL;
    rd_kafka_resp_err_t pe = rd_kafka_list_groups(rk, group, &probe, timeout_ms);
    if (pe != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s", rd_kafka_err2str(pe));
        return NULL;
    }
    rd_kafka_group_list_destroy(probe);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, e, sizeof(e));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    size_t n = 0;
    const rd_kafka_ConsumerGroupDescription_t **descs = NULL;
    if (ev == NULL) {
        snprintf(err, errlen, "no answer");
        goto out;
    }
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s", rd_kafka_event_error_string(ev));
        goto out;
    }
    descs = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    if (n != 1) {
        snprintf(err, errlen, "the broker described %zu groups, not one", n);
        goto out;
    }
    const rd_kafka_error_t *gerr = rd_kafka_ConsumerGroupDescription_error(descs[0]);
    if (gerr != NULL) {
        snprintf(err, errlen, "%s", rd_kafka_error_string(gerr));
        goto out;
    }
    json_t *members = json_array();
    doc = json_pack(
        "{s:s, s:o}", "state",
        rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(descs[0])),
        "members", members);
    size_t count = rd_kafka_ConsumerGroupDescription_member_count(descs[0]);
    for (size_t i = 0; i < count; i++) {
        const rd_kafka_MemberDescription_t *m =
            rd_kafka_ConsumerGroupDescription_member(descs[0], i);
        const rd_kafka_topic_partition_list_t *parts =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        json_t *assignment = json_array();
        for (int p = 0; parts && p < parts->cnt; p++)
            json_array_append_new(assignment,
                                  json_pack("{s:s, s:i}", "topic", parts->elems[p].topic,
                                            "partition", (int)parts->elems[p].partition));
        const char *instance = rd_kafka_MemberDescription_group_instance_id(m);
        json_array_append_new(
            members, json_pack("{s:s?, s:s?, s:s?, s:s?, s:o}", "client_id",
                               rd_kafka_MemberDescription_client_id(m), "consumer_id",
                               rd_kafka_MemberDescription_consumer_id(m), "host",
                               rd_kafka_MemberDescription_host(m), "group_instance_id",
                               instance && *instance ? instance : NULL, "assignment", assignment));
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    return doc;
}
