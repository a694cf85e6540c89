#ifndef MOCHI_STREAM_STREAM_H
#define MOCHI_STREAM_STREAM_H

/* The stream library's contract. The consumer loop shared by mochi-consumer and mochi-rollup: a
 * Kafka consumer-group member that reads page-view events in batches, decodes them, and hands each
 * batch to an applier that writes it to PostgreSQL in one transaction; offsets are committed only
 * after that transaction has committed (at-least-once delivery; the applier makes a second apply
 * harmless). It also owns what both daemons need alike:
 *
 *  - cooperative-sticky rebalances: a revoked partition's batch is applied
 *    and committed before it is handed over;
 *  - database outages: consumption pauses (the member keeps polling, so it
 *    stays in the group), the connection is retried with backoff, and the
 *    batch in hand is applied when the server is back;
 *  - gaps: an applier that records how far it has applied each partition
 *    (mochi-rollup) refuses a batch that starts past its records, and the
 *    stream reads that partition again from there (rewind.c), so offsets
 *    committed past messages never applied cannot lose them;
 *  - undecodable messages: copied unchanged to the dead-letter topic (when
 *    the daemon is the one that writes it) with headers naming the error,
 *    source partition and offset, and consumption goes on;
 *  - events older than the retention are refused and counted unless the
 *    applier accepts them (replay);
 *  - day partitions are created before a batch that needs them;
 *  - /metrics with lag per partition, events by outcome, batch sizes and
 *    transaction latency; SIGTERM drains and leaves the group.
 *
 * The library knows none of its clients: each program passes its names,
 * group and outcome labels in mochi_stream_ops, and owns its defaults
 * (such as the --metrics-listen port). Inside: loop.c (the poll loop and
 * rebalances), batch.c (the double buffer and its applier thread),
 * rewind.c (messages handed back), db.c, dlq.c and metrics.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "common/config.h"
#include "common/copy.h"
#include "common/event.h"
#include "common/hash.h"
#include "common/metrics.h"

/* A page view as a batch holds it: struct mochi_pageview's fields, its
 * texts NUL-terminated in the batch's own store (valid while the event is
 * in the batch). A struct mochi_pageview keeps each text in a buffer of
 * its longest length, 1.9 KB an event: the two batches of a stream (room
 * for 2 x 2 x --batch-size events) took 78 MiB that way, and now take
 * about 120 bytes an event plus the texts' own lengths. */
struct mochi_stream_view {
    const char *site_id; /* canonical lowercase UUID text */
    const char *path;
    bool has_referrer;
    const char *referrer; /* "" when !has_referrer */
    const char *visitor_hash;
    int64_t occurred_at_us;
    int32_t day; /* site-local, days since 1970-01-01 */
    bool entry;
    bool has_source;
    const char *source; /* "" when !has_source */
};

/* One decoded event and where it came from. */
struct mochi_stream_event {
    struct mochi_stream_view ev;
    char dedupe_key[MOCHI_HASH_HEX_LEN + 1];
    int64_t minute_us; /* occurred_at truncated to the minute */
    int32_t partition;
    int64_t offset;
};

/* How far a batch goes in one partition of the topic, for an applier that
 * records its progress (mochi-rollup's rollup_progress), and what the
 * stream knows of that partition's end. */
struct mochi_stream_mark {
    int32_t partition;
    /* The offset of the partition's first message in the batch: the member
     * read every message from here to next_offset. An applier that records
     * how far it has applied (next_offset, below) checks that its record
     * reaches this far; if it does not, the messages in between were never
     * applied (mochi_stream_gap). For an idle partition, equal to
     * next_offset. */
    int64_t first_offset;
    /* Every message of the partition below this offset has been applied
     * once the batch commits: its events, and the messages the stream
     * skipped (undecodable, too old). */
    int64_t next_offset;
    /* The broker timestamp (rd_kafka_message_timestamp) of the last of
     * those messages in the batch, in ms since the epoch; -1 when the mark
     * covers no message (an idle partition) or the broker gave none. */
    int64_t last_timestamp_ms;
    /* The partition's log end as the client last knew it (librdkafka's
     * cached high watermark, or the stream's last look-up, whichever is
     * further); -1 when unknown. */
    int64_t end_offset;
    /* When the stream last looked the log end up and found it at or below
     * next_offset, so that every message Kafka had accepted by then is
     * applied with the batch: on mochi_clock_mono_ms()'s clock, taken
     * before the look-up was sent; 0 when there is no such look-up. The
     * applier turns it into an age when it writes (the batch may wait for
     * the database). */
    int64_t end_seen_mono_ms;
};

/* Where an applier's records of a partition end, when a batch (or an idle
 * mark) starts beyond them: the stream drops what it holds of the
 * partition and reads it again from resume_offset. */
struct mochi_stream_gap {
    int32_t partition;
    int64_t resume_offset;
};

/* A batch as the applier sees it. */
struct mochi_stream_batch {
    const char *topic;
    int slot; /* 0 or 1, as given to stage */
    const struct mochi_stream_event *events;
    size_t nevents;
    const struct mochi_stream_mark *marks; /* one per partition the batch covers */
    size_t nmarks;
    /* Filled by an applier that returns MOCHI_ERR_GAP: room for one per
     * mark. */
    struct mochi_stream_gap *gaps;
    size_t *ngaps;
};

/* What an applier reports for a batch: events by outcome label. */
#define MOCHI_STREAM_MAX_OUTCOMES 6
struct mochi_stream_counts {
    uint64_t n[MOCHI_STREAM_MAX_OUTCOMES];
};

struct mochi_stream_ops {
    const char *program;   /* "mochi-consumer": application_name, client.id */
    const char *component; /* "consumer": log component and metric prefix mochi_<component>_ */
    /* Two settings each program defines in its own table, since their
     * defaults are the program's: --group, the consumer group to join, and
     * --metrics-listen, where /metrics and /healthz listen. */
    const struct mochi_setting *group;
    const struct mochi_setting *metrics_listen;
    bool write_dlq; /* this daemon copies undecodable messages to the DLQ */
    /* The applier records how far it has applied each partition (a progress
     * table, below) and checks each batch against it (MOCHI_ERR_GAP): the
     * stream then also applies batches without events (their messages were
     * all skipped), so that their offsets are recorded too, and counts
     * mochi_<component>_offset_gaps_total. */
    bool records_progress;
    /* Outcome labels the applier counts into (counts.n[i] <-> outcomes[i]),
     * NULL-terminated, at most MOCHI_STREAM_MAX_OUTCOMES. The stream adds
     * "invalid" and "too_old" of its own. */
    const char *const *outcomes;
    void *arg;
    /* prepare and apply run on the stream's applier thread (one batch at a
     * time, never both at once), while the main thread polls Kafka and
     * decodes the next batch; accept_old runs on the main thread, so what it
     * shares with the other two needs a lock. idle runs on the main thread
     * while no batch is in flight, never beside prepare or apply. */
    /* Called once after connecting and after each reconnect. Returns 0 or a
     * negative code (MOCHI_ERR_AGAIN: retry). */
    int (*prepare)(void *arg, PGconn *conn);
    /* Optional: prepares a batch on the main thread, before it goes to the
     * applier, so that this work (anything that needs no database)
     * overlaps the previous batch's transaction. slot (0 or 1) names the
     * batch; apply gets the same slot. A batch is staged again only when
     * it changed (more events, or a revoked partition's removed) since.
     * A negative return fails the batch's apply, which is retried. */
    int (*stage)(void *arg, int slot, const struct mochi_stream_event *events, size_t n);
    /* Applies batch->events[0..nevents) in one transaction that it begins
     * and commits (an applier that records its progress writes
     * batch->marks in the same one). Returns 0, MOCHI_ERR_AGAIN (the
     * database went away: the same batch is applied again later), or
     * another negative code (logged; also retried, since dropping a batch
     * would lose data). An applier that records its progress returns
     * MOCHI_ERR_GAP, with nothing applied, when a mark's first_offset lies
     * beyond the offset its records say it has applied up to, and names
     * those partitions in batch->gaps: something skipped messages (a
     * client bug, offsets moved by hand), and the stream reads them again
     * from there instead of committing past them. */
    int (*apply)(void *arg, PGconn *conn, const struct mochi_stream_batch *batch,
                 struct mochi_stream_counts *counts);
    /* Optional: registers the applier's own metrics on the stream's
     * registry, after the stream's (also for --print-metrics, with arg
     * NULL: it then only registers them). Returns 0 or MOCHI_ERR_NOMEM. */
    int (*add_metrics)(void *arg, struct mochi_metrics *registry);
    /* For an event older than the retention: true to apply it anyway
     * (replay). May be NULL. */
    bool (*accept_old)(void *arg, const struct mochi_pageview *ev);
    /* Optional, for an applier that records how far it has read (the
     * marks), so that a reader can tell how fresh its tables are. About
     * once a second, on the main thread while no batch is in flight, it
     * looks up the log end of each partition it has read to the end
     * (partition EOF) and fully applied, and calls idle with those whose
     * end it found there: marks with next_offset the offset applied up to,
     * no last timestamp, end_offset <= next_offset and end_seen_mono_ms
     * just before the look-up. So a partition without traffic still shows
     * as read up to now. Returns 0, MOCHI_ERR_GAP (gaps[0..*ngaps), room
     * for n, name the partitions whose records end before the mark, read
     * again from there as after a batch's gap), or another negative code
     * (MOCHI_ERR_AGAIN: the database went away); tried again a second
     * later either way. */
    int (*idle)(void *arg, PGconn *conn, const char *topic, const struct mochi_stream_mark *ends,
                size_t n, struct mochi_stream_gap *gaps, size_t *ngaps);
};

/* Progress tables, for appliers that record where they have applied each
 * partition: a table (topic, partition, next_offset) in which every
 * message of the partition below next_offset is applied, written in each
 * batch's transaction and only forward (rollup_progress, sql/008;
 * ingest_progress, sql/012; table names one of those). First in a batch's
 * transaction, mochi_stream_progress_check locks the rows of the marks'
 * partitions and checks that each mark's first_offset is at or below its
 * row's next_offset (or that there is no row yet); each partition where it
 * is not goes to gaps[] (room for n) with the row's next_offset, and
 * MOCHI_ERR_GAP is returned: the applier then applies nothing and returns
 * it, and the stream reads those partitions again from there. applied,
 * when not NULL (room for n), gets each mark's row's next_offset as the
 * check read it, -1 where there is no row. Last in the transaction,
 * mochi_stream_progress_advance moves the rows forward to the marks'
 * next_offset. scratch: buffers the caller keeps between calls. Both
 * return 0 or mochi_db_error's class with the reason in err. */
int mochi_stream_progress_check(PGconn *conn, const char *table, const char *topic,
                                const struct mochi_stream_mark *marks, size_t n,
                                struct mochi_copy_buf *scratch, int64_t *applied,
                                struct mochi_stream_gap *gaps, size_t *ngaps, char *err,
                                size_t errlen) __attribute__((warn_unused_result));
int mochi_stream_progress_advance(PGconn *conn, const char *table, const char *topic,
                                  const struct mochi_stream_mark *marks, size_t n,
                                  struct mochi_copy_buf scratch[2], char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The settings the stream reads besides ops->group and ops->metrics_listen,
 * NULL-terminated: a program passes it as its spec's library_settings. */
extern const struct mochi_setting *const mochi_stream_settings[];
/* Members of that table a program may read itself (mochictl prune keeps
 * dedupe state as long as the stream's retention). */
extern const struct mochi_setting mochi_setting_batch_size;
extern const struct mochi_setting mochi_setting_batch_wait;
extern const struct mochi_setting mochi_setting_retention;

/* The stream's metrics (mochi_<component>_...), registered on a registry
 * the caller owns. */
struct mochi_stream_metrics;

/* Registers on registry every metric a stream of ops exposes, named after
 * ops->component, with one events_total child per outcome (ops->outcomes
 * and the stream's own "invalid" and "too_old"). Needs no Kafka and no
 * database: mochi_stream_run uses it, and a program can call it to list its
 * metrics. Also registers a scrape hook on registry that reads *out, so
 * *out must outlive registry's last scrape: destroy the registry (or stop
 * its server) first. Returns 0 with *out (caller owns it) or
 * MOCHI_ERR_NOMEM. */
int mochi_stream_metrics_new(struct mochi_metrics *registry, const struct mochi_stream_ops *ops,
                             struct mochi_stream_metrics **out) __attribute__((warn_unused_result));
/* Frees m (not its metrics, which belong to the registry). NULL is a
 * no-op. */
void mochi_stream_metrics_destroy(struct mochi_stream_metrics *m);

/* Lists on out the families a stream of ops registers, one line each
 * (mochi_metrics_print_families), from a registry of its own: a program's
 * --print-metrics. Returns 0, MOCHI_ERR_NOMEM or MOCHI_ERR_IO. */
int mochi_stream_print_metrics(const struct mochi_stream_ops *ops, FILE *out)
    __attribute__((warn_unused_result));

/* Runs until SIGTERM/SIGINT (mochi_daemon_signals_install must have been
 * called). The program's ops->metrics_listen setting says where /metrics
 * and /healthz listen. Returns the
 * process exit code: 0 after a clean drain, 1 when it could not start or
 * hit a fatal Kafka error, 2 for a configuration error (a -X property
 * librdkafka refused). */
int mochi_stream_run(const struct mochi_config *config, const struct mochi_stream_ops *ops);

#endif
