#ifndef MOCHICTL_KAFKA_ADMIN_H
#define MOCHICTL_KAFKA_ADMIN_H

/* Kafka look-ups for mochictl: partitions, watermarks, committed offsets
 * and group membership, with a plain librdkafka consumer handle. */

#include <stdint.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "common/config.h"

struct partition_offsets {
    int32_t partition;
    int64_t low, high; /* log start and end offsets */
    int64_t committed; /* the group's committed offset, -1 when none */
};

/* A consumer handle for group (not subscribed to anything) with the
 * program's Kafka settings. Returns NULL with the reason printed. */
rd_kafka_t *mochictl_kafka_open(const struct mochi_config *config, const char *group);

/* Offsets of every partition of topic for group: *out is malloc'd (caller
 * frees), *count its length. Returns 0 or -1 with the reason printed. */
int mochictl_kafka_offsets(rd_kafka_t *rk, const char *topic, int timeout_ms,
                           struct partition_offsets **out, int *count);

/* Members of group right now (DescribeGroups), or -1 with the reason in
 * err when the broker cannot tell. */
int mochictl_kafka_group_members(rd_kafka_t *rk, const char *group, char *err, size_t errlen);

/* group's state and members (DescribeConsumerGroups) as a new JSON object
 * (caller owns it): {"state": "Stable", "members": [{"client_id",
 * "consumer_id", "host", "group_instance_id" (may be absent), "assignment":
 * [{"topic", "partition"}]}]}. Returns NULL with the reason in err when the
 * broker cannot tell (the dev broker does not describe groups). */
json_t *mochictl_kafka_describe_group(rd_kafka_t *rk, const char *group, int timeout_ms, char *err,
                                      size_t errlen);

#endif
