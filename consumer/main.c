/* mochi-consumer: group mochi-ingest; deduplicates page views and stores
 * the raw events in PostgreSQL, exactly once. main only wires. */
#include "common/config.h"
#include "common/daemon.h"
#include "common/hash.h"
#include "consumer/ingest.h"
#include "common/log.h"
#include "common/names.h"
#include "stream/stream.h"

/* This program's own settings: their defaults are its own. The stream
 * library's settings (brokers, topic, database, batches) follow them. */
static const struct mochi_setting setting_metrics_listen = {.name = "metrics-listen",
                                                            .env = "MOCHI_METRICS_LISTEN",
                                                            .type = MOCHI_SETTING_ADDRESS,
                                                            .default_value = "127.0.0.1:9101",
                                                            .help =
                                                                "address of /metrics and /healthz"};
static const struct mochi_setting setting_group = {.name = "group",
                                                   .env = "MOCHI_GROUP",
                                                   .type = MOCHI_SETTING_STRING,
                                                   .default_value = MOCHI_GROUP_INGEST,
                                                   .help = "Kafka consumer group to join"};

static const struct mochi_setting *const settings[] = {&setting_group, &setting_metrics_listen,
                                                       &mochi_setting_log_level, NULL};

/* The stream's callbacks; main adds their argument. */
static const struct mochi_stream_ops base_ops = {
    .program = "mochi-consumer",
    .component = "consumer",
    .group = &setting_group,
    .metrics_listen = &setting_metrics_listen,
    .write_dlq = true,
    .records_progress = true,
    .outcomes = ingest_outcomes,
    .stage = ingest_stage,
    .apply = ingest_apply,
    .add_metrics = ingest_add_metrics,
};

/* --print-metrics: the families mochi_stream_run registers. */
static int print_metrics(FILE *out)
{
    return mochi_stream_print_metrics(&base_ops, out);
}

static const struct mochi_program_spec spec = {
    .name = "mochi-consumer",
    .summary = "Consumer-group member (group " MOCHI_GROUP_INGEST
               ") that reads page-view events from Kafka "
               "and, one transaction per batch, records their dedupe keys and stores the new "
               "ones in page_view_events. Offsets are committed after the transaction. "
               "Undecodable messages go to <topic>" MOCHI_DLQ_SUFFIX ". Avro schemas are read from "
               "$MOCHI_SCHEMA_DIR or the build's schemas/ directory. The database URL should use "
               "the mochi_consumer role.",
    .settings = settings,
    .library_settings = mochi_stream_settings,
    .kafka_properties = true,
    .print_metrics = print_metrics,
};

int main(int argc, char **argv)
{
    /* First of all, so that a SIGTERM arriving during start-up drains too. */
    mochi_daemon_signals_install();
    struct mochi_config *config = mochi_config_load_or_exit(&spec, argc, argv);
    int code = 1;
    struct ingest *ingest = ingest_new();
    if (ingest == NULL || mochi_hash_init() != 0) {
        mochi_log(MOCHI_LOG_ERROR, "consumer", "msg=\"initialisation failed\"");
        goto out;
    }
    struct mochi_stream_ops ops = base_ops;
    ops.arg = ingest;
    code = mochi_stream_run(config, &ops);
out:
    ingest_destroy(ingest);
    mochi_config_destroy(config);
    return code;
}
