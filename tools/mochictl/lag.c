/* mochictl lag: committed offset, log end offset and lag per group and
 * partition, and each group's state and members. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "tools/mochictl/kafka_admin.h"
#include "tools/mochictl/mochictl.h"

static const struct mochi_setting setting_group = {
    .name = "group",
    .type = MOCHI_SETTING_STRING,
    .help = "one consumer group (default: " MOCHI_GROUP_INGEST " and " MOCHI_GROUP_ROLLUP ")"};
static const struct mochi_setting setting_max_lag = {
    .name = "max-lag",
    .type = MOCHI_SETTING_INT,
    .default_value = "-1",
    .min = -1,
    .max = (long long)1e15,
    .help = "exit 1 when a group's total lag exceeds this (-1: never)"};
static const struct mochi_setting setting_json = {.name = "json",
                                                  .type = MOCHI_SETTING_FLAG,
                                                  .default_value = "false",
                                                  .help = "print JSON instead of a table"};

static const struct mochi_setting *const lag_settings[] = {&mochi_setting_brokers,
                                                           &mochi_setting_topic,
                                                           &setting_group,
                                                           &setting_max_lag,
                                                           &setting_json,
                                                           &mochi_setting_log_level,
                                                           NULL};

static const struct mochi_program_spec lag_spec = {
    .name = "mochictl lag",
    .usage = "[--group G] [--max-lag N] [--json]",
    .summary = "Prints, for each consumer group and partition of the topic, the committed offset, "
               "the log end offset and the lag, with a total per group. A partition the group "
               "never committed counts from the log start (where it would begin). Exit status: "
               "0, 1 when a group's total lag exceeds --max-lag, 2 bad usage, 3 when the offsets "
               "cannot be read. Below each group: its state (Stable, PreparingRebalance, "
               "CompletingRebalance, Empty, Dead) and its members, each with client id, host and "
               "the partitions it holds; a broker that does not describe groups (the dev broker) "
               "leaves them unknown, which is no failure.",
    .settings = lag_settings,
    .kafka_properties = true,
};

/* Prints desc (from mochictl_kafka_describe_group) under the group's rows:
 * its state, then a line per member with the partitions it holds (of topic
 * as numbers, of other topics as topic:partition). */
static void print_members(const char *group, const char *topic, const json_t *desc)
{
    const json_t *members = json_object_get(desc, "members");
    size_t count = json_array_size(members);
    printf("%-16s state %s, %zu member%s\n", group,
           json_string_value(json_object_get(desc, "state")), count, count == 1 ? "" : "s");
    for (size_t i = 0; i < count; i++) {
        const json_t *m = json_array_get(members, i);
        const char *client = json_string_value(json_object_get(m, "client_id"));
        const char *host = json_string_value(json_object_get(m, "host"));
        printf("%-16s member %s on %s holds", group, client ? client : "?", host ? host : "?");
        const json_t *assignment = json_object_get(m, "assignment");
        if (json_array_size(assignment) == 0)
            printf(" nothing");
        for (size_t p = 0; p < json_array_size(assignment); p++) {
            const json_t *a = json_array_get(assignment, p);
            const char *t = json_string_value(json_object_get(a, "topic"));
            long long part = json_integer_value(json_object_get(a, "partition"));
            if (t && strcmp(t, topic) == 0)
                printf("%s%lld", p ? "," : " partitions ", part);
            else
                printf("%s%s:%lld", p ? "," : " partitions ", t ? t : "?", part);
        }
        printf("\n");
    }
}

int mochictl_lag(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&lag_spec, argc, argv);
    const char *topic = mochi_config_str(config, &mochi_setting_topic);
    const char *one = mochi_config_str(config, &setting_group);
    const char *groups[2] = {MOCHI_GROUP_INGEST, MOCHI_GROUP_ROLLUP};
    int ngroups = 2;
    if (one != NULL) {
        groups[0] = one;
        ngroups = 1;
    }
    long long max_lag = mochi_config_int(config, &setting_max_lag);
    bool as_json = mochi_config_flag(config, &setting_json);
    int code = 0;
    json_t *doc = json_pack("{s:s, s:[]}", "topic", topic, "groups");
    if (!as_json)
        printf("%-16s %9s %14s %14s %12s\n", "GROUP", "PARTITION", "COMMITTED", "LOG END", "LAG");
    for (int g = 0; g < ngroups && code != 3; g++) {
        rd_kafka_t *rk = mochictl_kafka_open(config, groups[g]);
        struct partition_offsets *offs = NULL;
        int n = 0;
        if (rk == NULL || mochictl_kafka_offsets(rk, topic, 10000, &offs, &n) != 0) {
            code = 3;
            if (rk)
                rd_kafka_destroy(rk);
            break;
        }
        long long total = 0;
        json_t *parts = json_array();
        for (int i = 0; i < n; i++) {
            long long from = offs[i].committed >= 0 ? offs[i].committed : offs[i].low;
            long long lag = offs[i].high - from;
            if (lag < 0)
                lag = 0;
            total += lag;
            json_array_append_new(parts,
                                  json_pack("{s:i, s:I, s:I, s:I}", "partition", offs[i].partition,
                                            "committed", (json_int_t)offs[i].committed, "log_end",
                                            (json_int_t)offs[i].high, "lag", (json_int_t)lag));
            if (!as_json) {
                char committed[32];
                if (offs[i].committed >= 0)
                    snprintf(committed, sizeof(committed), "%lld", (long long)offs[i].committed);
                else
                    snprintf(committed, sizeof(committed), "-");
                printf("%-16s %9d %14s %14lld %12lld\n", groups[g], (int)offs[i].partition,
                       committed, (long long)offs[i].high, lag);
            }
        }
        bool over = max_lag >= 0 && total > max_lag;
        json_array_append_new(json_object_get(doc, "groups"),
                              json_pack("{s:s, s:o, s:I, s:b}", "group", groups[g], "partitions",
                                        parts, "total_lag", (json_int_t)total, "over_threshold",
                                        over));
        if (!as_json)
            printf("%-16s %9s %14s %14s %12lld%s\n", groups[g], "total", "", "", total,
                   over ? "  (over --max-lag)" : "");
        char why[512] = "";
        json_t *desc = mochictl_kafka_describe_group(rk, groups[g], 10000, why, sizeof(why));
        json_t *gj = json_array_get(json_object_get(doc, "groups"),
                                    json_array_size(json_object_get(doc, "groups")) - 1);
        if (desc != NULL) {
            json_object_update(gj, desc);
            if (!as_json)
                print_members(groups[g], topic, desc);
        } else {
            json_object_set_new(gj, "state", json_null());
            json_object_set_new(gj, "members", json_null());
            json_object_set_new(gj, "state_error", json_string(why));
            if (!as_json)
                printf("%-16s state unknown (broker does not describe groups: %s)\n", groups[g],
                       why);
        }
        json_decref(desc);
        if (over && code == 0)
            code = 1;
        free(offs);
        rd_kafka_destroy(rk);
    }
    if (as_json && code != 3) {
        char *text = json_dumps(doc, JSON_COMPACT);
        puts(text);
        free(text);
    }
    json_decref(doc);
    mochi_config_destroy(config);
    return code;
}
