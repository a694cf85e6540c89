#ifndef MOCHI_NAMES_H
#define MOCHI_NAMES_H

/* Names that several programs must spell alike, in one place: where one
 * program writes a topic, a group or a lock and another reads or takes it
 * (mochictl replay rewinds the rollup's group and takes the rollup's lock),
 * a name written twice is a bug waiting for a rename. Only names shared
 * between programs belong here; a program's own defaults stay with it. */

/* The page-view topic when --topic is not given (every Kafka program and
 * mochi-devkafka's default topics). */
#define MOCHI_TOPIC_DEFAULT "mochi.pageviews"
/* A topic's dead-letter topic is its name followed by this: mochi-consumer
 * writes it, mochictl topics creates it. */
#define MOCHI_DLQ_SUFFIX ".dlq"

/* The consumer groups of mochi-consumer and mochi-rollup when --group is
 * not given; mochictl lag reports both, mochictl replay rewinds the
 * rollup's. */
#define MOCHI_GROUP_INGEST "mochi-ingest"
#define MOCHI_GROUP_ROLLUP "mochi-rollup"

/* The advisory lock (two int4 keys, as SQL arguments) that every
 * mochi-rollup session holds shared and mochictl replay takes exclusively:
 * a replay cannot run while a rollup is connected, and a rollup that starts
 * during a replay waits. */
#define MOCHI_ROLLUP_LOCK_KEY "7163830, 2"

#endif
