#ifndef MOCHI_TEST_HARNESS_H
#define MOCHI_TEST_HARNESS_H

/* Integration-test harness: programs run as real processes against the
 * private PostgreSQL server the ctest fixture "pg" started
 * (scripts/pg-test-server) and against Kafka: dev brokers (mochi-devkafka)
 * that each test starts for itself, or Apache Kafka
 * (scripts/kafka-test-server) when MOCHI_TEST_KAFKA=apache. Every test gets its own database and
 * its own topic names so that tests never see each other's data.
 *
 * Failures inside the harness fail the current cmocka test (fail_msg), so
 * callers need not check most return values. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

/* ---- paths ---- */

/* Absolute path of a built program ("mochictl") in the build tree. */
const char *mochi_test_bin(const char *program);
/* Absolute path below the source tree ("sql", "schemas", "tests/data/x"). */
const char *mochi_test_src(const char *relative);
/* A fresh private temporary directory (removed by mochi_test_cleanup). */
const char *mochi_test_tmpdir(void);
/* A short unique name for this test run: "t<pid>_<n>", usable in database
 * and topic names. */
const char *mochi_test_unique(const char *prefix);

/* ---- processes ---- */

struct mochi_test_proc {
    pid_t pid;
    int stdin_fd;  /* write end of the child's stdin, or -1 */
    int stdout_fd; /* read end of the child's stdout when captured, or -1 */
    char log[512]; /* file holding the child's stderr (and stdout when not captured) */
    char name[64];
    int64_t started_ms; /* mochi_test_now_ms() at the start */
};

/* Starts argv[0] (a path) with extra environment entries "K=V" (NULL-
 * terminated, may be NULL) added to the test's own environment. With
 * pipe_stdio the child's stdin and stdout are pipes held in proc; otherwise
 * stdin is /dev/null and stdout goes to the log file. */
void mochi_test_proc_start(struct mochi_test_proc *proc, char *const argv[],
                           char *const extra_env[], bool pipe_stdio);

/* Reads one line from the child's stdout pipe into buf (without the
 * newline), waiting up to timeout_ms. Returns true on a line. */
bool mochi_test_proc_read_line(struct mochi_test_proc *proc, char *buf, size_t size,
                               int timeout_ms);

/* Writes a line to the child's stdin. */
void mochi_test_proc_write_line(struct mochi_test_proc *proc, const char *line);

/* Sends sig (SIGTERM usually) and waits up to timeout_ms, then SIGKILL.
 * Returns the wait status (use WIFEXITED/WEXITSTATUS). */
int mochi_test_proc_stop(struct mochi_test_proc *proc, int sig, int timeout_ms);

/* kill -9 and reap. */
void mochi_test_proc_kill(struct mochi_test_proc *proc);

/* True while the process runs (reaps it if it exited; *status is set then). */
bool mochi_test_proc_alive(struct mochi_test_proc *proc, int *status);

/* Runs a command to completion (at most timeout_ms, then SIGKILL), with
 * extra_env. Returns the wait status; *out and *err (if non-NULL) receive
 * malloc'd stdout/stderr text, owned by the caller. */
int mochi_test_run(char *const argv[], char *const extra_env[], int timeout_ms, char **out,
                   char **err);

/* As mochi_test_run, with input[0..input_len) as the child's standard
 * input (a file, read at the child's pace); input NULL: /dev/null. */
int mochi_test_run_input(char *const argv[], char *const extra_env[], const char *input,
                         size_t input_len, int timeout_ms, char **out, char **err);

/* The exit code a wait status stands for: 128 + the signal's number for a
 * process a signal ended, as a shell says. */
int mochi_test_exit_code(int status);

/* Runs the built mochictl with args (NULL-terminated, after the program's
 * name) and, for each of database_url, brokers and topic that is not NULL,
 * MOCHI_DATABASE_URL, MOCHI_KAFKA_BROKERS or MOCHI_TOPIC set to it ("" sets
 * it empty). Returns the exit code (mochi_test_exit_code); *out and *err as
 * mochi_test_run. */
int mochi_test_mochictl(const char *database_url, const char *brokers, const char *topic,
                        const char *const args[], int timeout_ms, char **out, char **err);
/* As mochi_test_mochictl, with input[0..input_len) on mochictl's standard
 * input (mochi_test_run_input). */
int mochi_test_mochictl_input(const char *database_url, const char *brokers, const char *topic,
                              const char *const args[], const char *input, size_t input_len,
                              int timeout_ms, char **out, char **err);

/* Reads a whole file into a malloc'd string (caller frees); NULL if absent. */
char *mochi_test_read_file(const char *path);

/* ---- PostgreSQL ---- */

struct mochi_test_db {
    char name[64];
    char conninfo[512]; /* superuser conninfo for this database */
};

/* Creates an empty database on the fixture's server. */
void mochi_test_db_create(struct mochi_test_db *db);
/* Creates a database and applies the migrations with `mochictl migrate`. */
void mochi_test_db_create_migrated(struct mochi_test_db *db);
void mochi_test_db_drop(struct mochi_test_db *db);
/* conninfo for a role (role's password-less trust login) on db. */
void mochi_test_db_conninfo_as(const struct mochi_test_db *db, const char *role, char *buf,
                               size_t size);
PGconn *mochi_test_db_connect(const struct mochi_test_db *db);
/* Runs sql and fails the test on error. */
void mochi_test_db_exec(PGconn *conn, const char *sql);
/* Runs a query returning one integer (first row, first column). */
long long mochi_test_db_int(PGconn *conn, const char *sql);
/* Runs a query returning one text value into buf; false on no row/NULL. */
bool mochi_test_db_text(PGconn *conn, const char *sql, char *buf, size_t size);
/* Fails the test unless each monthly list table (monthly_page_metrics,
 * monthly_entry_page_metrics, monthly_source_metrics) holds exactly the
 * sums of its daily table by month (SQL EXCEPT ALL both ways; keys whose
 * numbers are all zero are left out on both sides). Returns how many
 * monthly rows it compared. */
long long mochi_test_expect_monthly_sums(PGconn *conn);

/* ---- Kafka: the dev broker or Apache Kafka ---- */

/* Which broker the tests run on, from MOCHI_TEST_KAFKA: "dev" (the
 * default: mochi-devkafka, one per test) or "apache" (Apache Kafka from
 * scripts/kafka-test-server: one single-node cluster per test process,
 * started on first use, each test on its own topics). Fails the test on
 * any other value. */
enum mochi_test_kafka_kind { MOCHI_TEST_KAFKA_DEV, MOCHI_TEST_KAFKA_APACHE };
enum mochi_test_kafka_kind mochi_test_kafka_kind(void);

struct mochi_test_kafka {
    enum mochi_test_kafka_kind kind;
    struct mochi_test_proc proc; /* the dev broker */
    char bootstrap[512];
    char dir[300]; /* Apache Kafka: the kafka-test-server directory */
    int nodes;     /* Apache Kafka: nodes in that cluster */
    bool own;      /* Apache Kafka: a cluster of its own, stopped with it */
};

/* Starts the broker of mochi_test_kafka_kind() and creates the topics
 * NULL-terminated topics[] names, each with that many partitions, and the
 * dead-letter topic "<topic>.dlq" when the name does not already end so.
 * brokers is the dev broker's broker count; on Apache Kafka the process's
 * shared single-node cluster is used (replication factor 1). */
void mochi_test_kafka_start(struct mochi_test_kafka *kafka, int brokers, int partitions,
                            const char *const topics[]);
/* mochi_test_kafka_start, and on Apache Kafka sets config (NULL-terminated
 * "name", "value" pairs of topic configs, such as
 * "message.timestamp.after.max.ms") on each topic it creates, .dlq
 * included. The dev broker ignores config: its mock cluster has no topic
 * configs and enforces none of them. */
void mochi_test_kafka_start_config(struct mochi_test_kafka *kafka, int brokers, int partitions,
                                   const char *const topics[], const char *const config[]);
/* The same on the dev broker whatever MOCHI_TEST_KAFKA says. */
void mochi_test_devkafka_start(struct mochi_test_kafka *kafka, int brokers, int partitions,
                               const char *const topics[]);
/* An Apache Kafka cluster of the test's own with nodes (1 or 3) nodes;
 * topics get replication factor min(nodes, 3) and the broker default
 * min.insync.replicas (2 with three nodes). */
void mochi_test_apache_kafka_start(struct mochi_test_kafka *kafka, int nodes, int partitions,
                                   const char *const topics[]);
/* Creates topics (and their .dlq) on a running broker. */
void mochi_test_kafka_create_topics(struct mochi_test_kafka *kafka, int partitions,
                                    const char *const topics[]);
/* A broker control command. The dev broker takes its own ("down 1",
 * "up all", ...); on Apache Kafka "down N"/"down all" kill -9 nodes and
 * "up N"/"up all" start them again on their ports and data. */
void mochi_test_kafka_command(struct mochi_test_kafka *kafka, const char *command);
/* Stops the dev broker or an own cluster; the shared cluster stays up for
 * the process's next test and is stopped by mochi_test_cleanup. */
void mochi_test_kafka_stop(struct mochi_test_kafka *kafka);
/* Stops the process's shared Apache Kafka cluster (mochi_test_cleanup
 * calls it). */
void mochi_test_kafka_shutdown_shared(void);
/* Apache Kafka: the node id leading topic's partition, or fails. */
int mochi_test_kafka_leader(const char *bootstrap, const char *topic, int partition);

/* Reads every message of topic from the beginning until each partition's
 * end (as of the call) and at least min_count messages were read, or
 * timeout_ms passes. Returns a malloc'd array of messages (*count of them),
 * each copied; free with mochi_test_messages_free. */
struct mochi_test_message {
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* the message's timestamp (CreateTime unless the topic says) */
    char *key;
    size_t key_len;
    unsigned char *value;
    size_t len;
    char *headers; /* "name=value\n" per header, in order; "" when none */
};
struct mochi_test_message *mochi_test_kafka_read_all(const char *bootstrap, const char *topic,
                                                     size_t min_count, int timeout_ms,
                                                     size_t *count);
void mochi_test_messages_free(struct mochi_test_message *messages, size_t count);

/* A plain idempotent producer for tests. */
struct mochi_test_producer;
struct mochi_test_producer *mochi_test_producer_new(const char *bootstrap);
/* Produces value (copied) with key to topic (partition by key hash). */
void mochi_test_produce(struct mochi_test_producer *producer, const char *topic, const char *key,
                        const void *value, size_t len);
/* The same with the message timestamp timestamp_ms (0: now). */
void mochi_test_produce_at(struct mochi_test_producer *producer, const char *topic, const char *key,
                           const void *value, size_t len, int64_t timestamp_ms);
/* Waits until everything produced is acknowledged (fails the test after
 * timeout_ms), then frees the producer. */
void mochi_test_producer_close(struct mochi_test_producer *producer, int timeout_ms);

/* The committed offset of group for each partition of topic (-1 where
 * none), into offsets[0..nparts). */
void mochi_test_kafka_committed(const char *bootstrap, const char *group, const char *topic,
                                int nparts, int64_t *offsets);
/* Waits up to timeout_ms until group's committed offset is the log end
 * (as of the call) on every partition of topic that has messages. Returns
 * true then; otherwise prints each partition's committed and end offsets
 * and returns false. nparts <= 256. */
bool mochi_test_kafka_wait_committed(const char *bootstrap, const char *group, const char *topic,
                                     int nparts, int timeout_ms);
/* The log end offset of each partition of topic. */
void mochi_test_kafka_end_offsets(const char *bootstrap, const char *topic, int nparts,
                                  int64_t *offsets);

/* pg_dump of db (schema and data, plain SQL) as a malloc'd string. */
char *mochi_test_pg_dump(const struct mochi_test_db *db);
/* The fixture server's whole log (scripts/pg-test-server's server.log),
 * malloc'd. */
char *mochi_test_pg_server_log(void);

/* ---- a private PostgreSQL server (for tests that stop and start it) ---- */

struct mochi_test_pg {
    char dir[256];
    char host[300]; /* socket directory */
};
void mochi_test_pg_start(struct mochi_test_pg *pg); /* initdb on first start */
void mochi_test_pg_stop(struct mochi_test_pg *pg);
/* A database on the private server with migrations applied. */
void mochi_test_pg_db(struct mochi_test_pg *pg, struct mochi_test_db *db);

/* ---- HTTP ---- */

struct mochi_test_response {
    long status;
    char *body;    /* malloc'd, NUL-terminated */
    char *headers; /* malloc'd raw header block */
};

/* One HTTP request with libcurl: method, url, extra headers
 * (NULL-terminated "Name: value", may be NULL), body (may be NULL). Fails
 * the test when no answer comes (connection refused, timeout). */
void mochi_test_http(const char *method, const char *url, const char *const headers[],
                     const char *body, struct mochi_test_response *response);
/* As mochi_test_http but returns false instead of failing when the request
 * gets no answer. */
bool mochi_test_http_try(const char *method, const char *url, const char *const headers[],
                         const char *body, struct mochi_test_response *response);
/* Repeats the request every 100 ms until it is answered with want_status
 * or timeout_ms passes (a daemon getting ready); *response holds the last
 * answer either way (caller frees). */
void mochi_test_http_until(const char *method, const char *url, const char *const headers[],
                           const char *body, long want_status, int timeout_ms,
                           struct mochi_test_response *response);
void mochi_test_response_free(struct mochi_test_response *response);

/* ---- waiting ---- */

/* The monotonic clock in ms (mochi_clock_mono_ms), for test deadlines. */
int64_t mochi_test_now_ms(void);
/* Connects to 127.0.0.1:port until it accepts or timeout_ms passes. */
bool mochi_test_wait_port(int port, int timeout_ms);
/* A free TCP port on 127.0.0.1 (bind to 0, read, close). */
int mochi_test_free_port(void);

/* ---- the pipeline's daemons ---- */

/* Starts argv (a daemon) with MOCHI_DATABASE_URL for role on db. */
void mochi_test_proc_start_as(struct mochi_test_proc *proc, const struct mochi_test_db *db,
                              const char *role, char *const argv[]);

/* Starts a stream daemon ("mochi-consumer" or "mochi-rollup") with conninfo
 * as its database URL, on bootstrap and topic, /metrics on any free port,
 * 50 ms batch waits, batch_size events per batch (NULL: the default), and a
 * 6 s Kafka session (the broker's minimum) so that a killed member's
 * partitions move within seconds. */
void mochi_test_stream_start(struct mochi_test_proc *proc, const char *program,
                             const char *conninfo, const char *bootstrap, const char *topic,
                             const char *batch_size);
/* The same with more arguments after those (NULL-terminated, at most 8),
 * such as another --group or a -X Kafka property. */
void mochi_test_stream_start_with(struct mochi_test_proc *proc, const char *program,
                                  const char *conninfo, const char *bootstrap, const char *topic,
                                  const char *batch_size, const char *const extra[]);

/* The port a daemon started with "--metrics-listen 127.0.0.1:0" bound, read
 * from its log; fails the test when it does not say within timeout_ms. */
int mochi_test_metrics_port(const struct mochi_test_proc *proc, int timeout_ms);

/* The value of one sample (a metric's name with its labels, as printed)
 * in a /metrics text, or -1 when the text has no such line. */
long long mochi_test_metric_in(const char *text, const char *sample);
/* The same, scraped from http://127.0.0.1:port/metrics. */
long long mochi_test_metric(int port, const char *sample);

/* ---- expectations computed here, never by the code under test ---- */

/* The visitor hash DESIGN.md defines, hex (32 digits and a NUL into out),
 * computed with libsodium directly from today's salt in conn's salts table,
 * the site's id (canonical UUID text), the client's address text and its
 * User-Agent. Fails the test when today has no salt. */
void mochi_test_visitor_hash(PGconn *conn, const char *site_id, const char *ip, const char *ua,
                             char out[33]);

/* ---- mochi-loadgen's oracle ---- */

/* Waits up to timeout_ms until daily_site_metrics and daily_page_metrics
 * equal the expectation mochi-loadgen wrote to the file expect (--expect),
 * by site-local day, then until page_view_events holds as many rows as the
 * aggregates count; fails the test otherwise, and when loadgen saw errors,
 * ambiguous answers or unordered requests. Returns loadgen's count of
 * published (accepted, not bot) beacons. */
long long mochi_test_expect_oracle(PGconn *conn, const char *expect, int timeout_ms);

/* Tables mochi_test_expect_oracle_tables compares besides those two. */
#define MOCHI_TEST_ORACLE_SOURCES 0x1u     /* daily_source_metrics */
#define MOCHI_TEST_ORACLE_ENTRY_PAGES 0x2u /* daily_entry_page_metrics */
#define MOCHI_TEST_ORACLE_ALL 0x3u

/* mochi_test_expect_oracle, comparing also the tables named in tables (a
 * table asked for that does not exist fails the test): rows
 * (site, date, source, entries, visitors) of daily_source_metrics, where
 * "Direct / none" is loadgen's "" and a NULL source reads as "", and
 * (site, date, path, entries) of daily_entry_page_metrics; rows that count
 * nothing are ignored. */
long long mochi_test_expect_oracle_tables(PGconn *conn, const char *expect, int timeout_ms,
                                          unsigned tables);

/* Removes what the harness made (temp dirs); call from a group teardown. */
void mochi_test_cleanup(void);

#endif
