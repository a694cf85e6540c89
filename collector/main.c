/* mochi-collector: beacons in over HTTP, Avro events out to Kafka. main
 * only wires the modules together and runs the poll loop. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/hash.h"
#include "collector/http.h"
#include "common/http_metrics.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/netaddr.h"
#include "collector/producer.h"
#include "collector/sites.h"

static const struct mochi_setting setting_refresh = {
    .name = "refresh-interval",
    .env = "MOCHI_COLLECTOR_REFRESH",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "10s",
    .min = 100,
    .max = 3600 * 1000,
    .help = "how often sites and salts are reloaded from PostgreSQL"};
static const struct mochi_setting setting_threads = {.name = "threads",
                                                     .env = "MOCHI_COLLECTOR_THREADS",
                                                     .type = MOCHI_SETTING_INT,
                                                     .default_value = "0",
                                                     .min = 0,
                                                     .max = 256,
                                                     .help =
                                                         "HTTP worker threads (0: one per CPU)"};
static const struct mochi_setting setting_max_connections = {.name = "max-connections",
                                                             .env =
                                                                 "MOCHI_COLLECTOR_MAX_CONNECTIONS",
                                                             .type = MOCHI_SETTING_INT,
                                                             .default_value = "4096",
                                                             .min = 1,
                                                             .max = 1000000,
                                                             .help = "concurrent HTTP connections"};
static const struct mochi_setting setting_max_per_address = {
    .name = "max-connections-per-address",
    .env = "MOCHI_COLLECTOR_MAX_CONNECTIONS_PER_ADDRESS",
    .type = MOCHI_SETTING_INT,
    .default_value = "64",
    .min = 0,
    .max = 1000000,
    .help = "connections one client address may hold open (0: no limit); --trusted-proxies "
            "are exempt, since behind a proxy every connection comes from it"};
static const struct mochi_setting setting_idle_timeout = {
    .name = "idle-timeout",
    .env = "MOCHI_COLLECTOR_IDLE_TIMEOUT",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "15s",
    .min = 1000,
    .max = 3600 * 1000,
    .help = "a connection with no traffic for this long is closed (between requests, "
            "--header-timeout applies too: the next request's headers are due within it)"};
static const struct mochi_setting setting_header_timeout = {
    .name = "header-timeout",
    .env = "MOCHI_COLLECTOR_HEADER_TIMEOUT",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "10s",
    .min = 0,
    .max = 3600 * 1000,
    .help = "a request's headers must be in within this long of the connection (or its "
            "previous request) (0: no deadline), however slowly they trickle"};
static const struct mochi_setting setting_metrics_listen = {
    .name = "metrics-listen",
    .env = "MOCHI_METRICS_LISTEN",
    .type = MOCHI_SETTING_ADDRESS,
    .default_value = "127.0.0.1:9100",
    .help = "address of /metrics and /healthz, apart from the public beacon port (--listen)"};
static const struct mochi_setting setting_shutdown_timeout = {
    .name = "shutdown-timeout",
    .env = "MOCHI_SHUTDOWN_TIMEOUT",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "10s",
    .min = 0,
    .max = 3600 * 1000,
    .help = "how long SIGTERM waits for Kafka to take what is queued"};

static const struct mochi_setting *const settings[] = {
    &mochi_setting_brokers,    &mochi_setting_topic,     &mochi_setting_database_url,
    &mochi_setting_listen,     &setting_metrics_listen,  &mochi_setting_trusted_proxies,
    &setting_refresh,          &setting_threads,         &setting_max_connections,
    &setting_max_per_address,  &setting_idle_timeout,    &setting_header_timeout,
    &setting_shutdown_timeout, &mochi_setting_log_level, NULL};

/* --print-metrics: the families main's modules register, in the order
 * they do, listed from a registry of their own. */
static int print_metrics(FILE *out)
{
    struct mochi_metrics *metrics = mochi_metrics_new();
    int rc = metrics != NULL ? collector_producer_metrics_describe(metrics) : MOCHI_ERR_NOMEM;
    if (rc == 0)
        rc = collector_sites_metrics_describe(metrics);
    if (rc == 0)
        rc = collector_http_metrics_describe(metrics);
    if (rc == 0)
        rc = mochi_metrics_print_families(metrics, out);
    mochi_metrics_destroy(metrics);
    return rc;
}

static const struct mochi_program_spec spec = {
    .name = "mochi-collector",
    .summary = "Receives page-view beacons over HTTP (POST /api/event, GET /p.gif), hashes the "
               "visitor with the day's salt, and publishes Avro events to Kafka. Serves the "
               "tracker at /mochi.js; /healthz and /metrics are on --metrics-listen. Avro "
               "schemas are read from $MOCHI_SCHEMA_DIR or the build's schemas/ directory. The "
               "database URL should use the mochi_collector role.",
    .settings = settings,
    .kafka_properties = true,
    .print_metrics = print_metrics,
};

/* Each connection takes a descriptor, besides the ~100 the process needs
 * for Kafka, PostgreSQL and itself: raise the soft open-files limit to fit
 * --max-connections where the hard limit allows, else say what will
 * happen. */
static void check_open_files(long max_connections)
{
    struct rlimit lim;
    rlim_t need = (rlim_t)max_connections + 128;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= need)
        return;
    rlim_t was = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= need ? need : lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur >= need) {
        mochi_log(MOCHI_LOG_INFO, "collector",
                  "msg=\"raised the open-files limit\" from=%llu to=%llu", (unsigned long long)was,
                  (unsigned long long)lim.rlim_cur);
        return;
    }
    mochi_log(MOCHI_LOG_WARN, "collector",
              "msg=\"the open-files limit is below --max-connections plus 128: connections past "
              "it will be refused; raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower "
              "--max-connections\" limit=%llu max_connections=%ld",
              (unsigned long long)(getrlimit(RLIMIT_NOFILE, &lim) == 0 ? lim.rlim_cur : was),
              max_connections);
}

/* /healthz: 200 while the Kafka producer is usable. */
static int producer_healthy(void *arg)
{
    return collector_producer_healthy(arg);
}

int main(int argc, char **argv)
{
    /* First of all, so that a SIGTERM arriving during start-up drains too. */
    mochi_daemon_signals_install();
    struct mochi_config *config = mochi_config_load_or_exit(&spec, argc, argv);
    struct mochi_cidr_list trusted = {0};
    struct mochi_schema_set *schemas = NULL;
    struct mochi_metrics *metrics = NULL;
    struct collector_producer *producer = NULL;
    struct collector_sites *sites = NULL;
    struct collector_http *http = NULL;
    struct mochi_metrics_server *metrics_server = NULL;
    char err[512] = "";
    int code = 1;

    if (mochi_hash_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        mochi_log(MOCHI_LOG_ERROR, "collector", "msg=\"library initialisation failed\"");
        goto out;
    }
    /* Validated by the settings table already; parsed here for use. */
    if (mochi_cidr_list_parse(mochi_config_str(config, &mochi_setting_trusted_proxies), &trusted,
                              err, sizeof(err)) != 0)
        goto fail;
    if (mochi_schema_set_load(mochi_schema_dir_default(), &schemas, err, sizeof(err)) != 0)
        goto fail;
    metrics = mochi_metrics_new();
    if (metrics == NULL)
        goto out;
    if (collector_producer_new(config, metrics, &producer, err, sizeof(err)) != 0) {
        code = 2; /* a -X property librdkafka refused: a configuration error */
        goto fail;
    }
    if (collector_sites_start(mochi_config_str(config, &mochi_setting_database_url),
                              mochi_config_ms(config, &setting_refresh), metrics, &sites) != 0)
        goto out;
    if (!collector_sites_wait_ready(sites, 10000))
        mochi_log(MOCHI_LOG_WARN, "collector",
                  "msg=\"sites and salts not loaded yet; beacons get 503 until they are\"");

    long threads = mochi_config_int(config, &setting_threads);
    if (threads == 0)
        threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 2;
    struct collector_http_deps deps = {
        .sites = sites,
        .producer = producer,
        .schemas = schemas,
        .metrics = metrics,
        .trusted_proxies = &trusted,
        .threads = (unsigned int)threads,
        .max_connections = (unsigned int)mochi_config_int(config, &setting_max_connections),
        .max_per_address = (unsigned int)mochi_config_int(config, &setting_max_per_address),
        .idle_timeout_s =
            (unsigned int)((mochi_config_ms(config, &setting_idle_timeout) + 999) / 1000),
        .header_timeout_ms = (int)mochi_config_ms(config, &setting_header_timeout),
    };
    check_open_files((long)deps.max_connections);
    if (collector_http_start(mochi_config_str(config, &mochi_setting_listen), &deps, &http, err,
                             sizeof(err)) != 0)
        goto fail;
    if (mochi_metrics_server_start(metrics, mochi_config_str(config, &setting_metrics_listen),
                                   producer_healthy, producer, &metrics_server, err,
                                   sizeof(err)) != 0)
        goto fail;
    mochi_log(MOCHI_LOG_INFO, "collector",
              "msg=\"started\" listen=%s port=%d threads=%ld topic=%s trusted_proxies=%zu",
              mochi_config_str(config, &mochi_setting_listen), collector_http_port(http), threads,
              mochi_config_str(config, &mochi_setting_topic), trusted.count);

    while (!mochi_daemon_stopping())
        collector_producer_poll(producer, 100);

    mochi_log(MOCHI_LOG_INFO, "collector", "msg=\"stopping: no new connections, draining\"");
    collector_http_quiesce(http);
    collector_http_stop(http); /* requests in progress finish first */
    http = NULL;
    mochi_metrics_server_stop(metrics_server); /* its /healthz reads the producer */
    metrics_server = NULL;
    int undelivered =
        collector_producer_close(producer, (int)mochi_config_ms(config, &setting_shutdown_timeout));
    producer = NULL;
    mochi_log(MOCHI_LOG_INFO, "collector", "msg=\"stopped\" undelivered=%d", undelivered);
    code = 0;
    goto out;
fail:
    fprintf(stderr, "mochi-collector: %s\n", err);
out:
    collector_http_stop(http);
    mochi_metrics_server_stop(metrics_server);
    (void)collector_producer_close(producer, 0);
    collector_sites_destroy(sites);
    mochi_metrics_destroy(metrics);
    mochi_schema_set_destroy(schemas);
    mochi_cidr_list_free(&trusted);
    mochi_config_destroy(config);
    curl_global_cleanup();
    return code;
}
