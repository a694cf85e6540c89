#ifndef MOCHI_DEVKAFKA_H
#define MOCHI_DEVKAFKA_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "common/error.h"

/* A dev Kafka cluster: librdkafka's mock cluster (rdkafka_mock.h) hosted by
 * an idle producer handle, speaking the Kafka protocol on 127.0.0.1 ports.
 * Clients reach it through bootstrap.servers like any Kafka cluster; it is
 * for development and tests only.
 *
 * The mock of librdkafka 2.0.2 as observed with kcat 1.7.1 and librdkafka
 * clients in other processes (tests/integration/test_devkafka.c):
 *  works: produce and fetch, keyed partitioning, metadata, idempotent and
 *  transactional producers (InitProducerId), balanced consumer groups
 *  (join, sync, heartbeat, leave, rebalance between members) with
 *  OffsetCommit/OffsetFetch (rd_kafka_committed, the admin API's
 *  ListConsumerGroupOffsets), query_watermark_offsets, broker down/up,
 *  response delays (rtt), leader moves and request error injection.
 *  A downed broker refuses connections but keeps leading its partitions
 *  (no leader change: use the leader command), so producers to those
 *  partitions time out until it is up again.
 * Limits, each seen here (and matching the mock's source):
 *  - after the last member of a group leaves, the next member to join
 *    waits session.timeout.ms - 1 s for its assignment (44 s with the
 *    45 s default, 5 s with session.timeout.ms=6000): tests that restart
 *    consumers should lower session.timeout.ms with -X;
 *  - ListOffsets by timestamp (offsets_for_times) answers -1, as if no
 *    message were that recent; only earliest and latest work;
 *  - each partition keeps only its last 5 MiB or 100000 record batches:
 *    older ones are dropped and the low watermark moves, like a tight
 *    retention.bytes, so a replay of a bigger topic misses its start;
 *  - ListGroups/DescribeGroups answer "unsupported feature" and admin
 *    CreateTopics gets no answer: topics come from this program (or the
 *    topic command); a producer's metadata request naming an unknown
 *    topic (kcat -L -t too) creates it with 4 partitions, as
 *    auto.create.topics.enable=true would;
 *  - per the mock's source (not provoked here), producer sequence numbers
 *    are checked only for transactional producers, so a plain idempotent
 *    producer's retried batch is not deduplicated by the broker;
 *  - everything lives in memory and dies with the process. */

struct mochi_devkafka;

/* Starts a mock cluster of brokers (1..9) brokers. props (NULL-terminated
 * "key", "value" pairs, may be NULL) are applied to the hosting handle,
 * e.g. "debug", "mock" (librdkafka's debug logs, the mock's included, then
 * go to stderr at level debug). Returns 0 and the cluster in *out (caller owns it,
 * mochi_devkafka_destroy), or MOCHI_ERR_INVALID / MOCHI_ERR_INTERNAL with
 * the reason in err. */
int mochi_devkafka_new(int brokers, const char *const *props, struct mochi_devkafka **out,
                       char *err, size_t errlen) __attribute__((warn_unused_result));

/* Stops the brokers (clients see their connections close) and frees all.
 * NULL does nothing. */
void mochi_devkafka_destroy(struct mochi_devkafka *devkafka);

/* The bootstrap servers, "127.0.0.1:PORT,..." (owned by devkafka). */
const char *mochi_devkafka_bootstrap(const struct mochi_devkafka *devkafka);

/* Serves the hosting handle's callbacks (logs, errors) without blocking. */
void mochi_devkafka_poll(struct mochi_devkafka *devkafka);

/* True when name is a legal Kafka topic name: 1..249 of [a-zA-Z0-9._-],
 * not "." or "..". */
bool mochi_devkafka_topic_name_valid(const char *name);

/* Creates a topic with partitions partitions (1..256) and replication
 * factor min(3, brokers). Returns 0, or MOCHI_ERR_INVALID with the reason
 * in err (bad name or count, topic exists). */
int mochi_devkafka_create_topic(struct mochi_devkafka *devkafka, const char *name, int partitions,
                                char *err, size_t errlen) __attribute__((warn_unused_result));

/* Runs one control command line (see mochi_devkafka_help) and writes the
 * one-line answer, "ok ..." or "error ...", into reply. Returns 0 when the
 * command succeeded, MOCHI_ERR_INVALID otherwise. An empty or blank line
 * is not a command: returns MOCHI_ERR_NOTFOUND and leaves reply empty. */
int mochi_devkafka_command(struct mochi_devkafka *devkafka, const char *line, char *reply,
                           size_t size);

/* The one-line summary of the control commands. */
const char *mochi_devkafka_help(void);

/* Writes "bootstrap\n" to path through a temporary file in the same
 * directory and rename(2), so a reader sees no file or the whole line.
 * Returns 0, or MOCHI_ERR_IO with the reason in err. */
int mochi_devkafka_write_bootstrap_file(const char *path, const char *bootstrap, char *err,
                                        size_t errlen) __attribute__((warn_unused_result));

#endif
