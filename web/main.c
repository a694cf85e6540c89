/* mochi-web: the dashboard and its JSON API (docs/web-api.md). main only
 * reads the settings, wires the modules together and waits for SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/config.h"
#include "common/daemon.h"
#include "common/hash.h"
#include "common/http_metrics.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/netaddr.h"
#include "web/app.h"
#include "web/auth.h"
#include "web/db.h"
#include "web/freshness.h"
#include "web/server.h"

static const struct mochi_setting setting_listen = {.name = "listen",
                                                    .env = "MOCHI_WEB_LISTEN",
                                                    .type = MOCHI_SETTING_ADDRESS,
                                                    .default_value = "127.0.0.1:8090",
                                                    .help = "dashboard and API HTTP address"};
static const struct mochi_setting setting_brokers = {
    .name = "brokers",
    .env = "MOCHI_KAFKA_BROKERS",
    .type = MOCHI_SETTING_STRING,
    .help = "Kafka bootstrap servers (optional): with them the freshness watermark compares the "
            "rollup's progress with the log ends Kafka reports now, so that a stopped rollup "
            "shows as behind; without, it reads the rollup's progress alone"};
static const char *const booleans[] = {"false", "true", NULL};
static const struct mochi_setting setting_secure_cookie = {
    .name = "secure-cookie",
    .env = "MOCHI_WEB_SECURE_COOKIE",
    .type = MOCHI_SETTING_ENUM,
    .default_value = "true",
    .choices = booleans,
    .help = "send the session cookie with Secure (browsers then send it over HTTPS only); "
            "false for a demo on plain http"};
static const struct mochi_setting setting_session_ttl = {
    .name = "session-ttl",
    .env = "MOCHI_WEB_SESSION_TTL",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "14d",
    .min = 2 * 3600 * 1000LL,
    .max = 365 * 86400 * 1000LL,
    .help = "a session ends this long after its last use (the expiry slides, at most once an "
            "hour)"};
static const struct mochi_setting setting_metrics_listen = {
    .name = "metrics-listen",
    .env = "MOCHI_WEB_METRICS_LISTEN",
    .type = MOCHI_SETTING_ADDRESS,
    .default_value = "127.0.0.1:9103",
    .help = "address of /metrics and /healthz, apart from the dashboard's (--listen)"};
static const struct mochi_setting setting_threads = {
    .name = "threads",
    .env = "MOCHI_WEB_THREADS",
    .type = MOCHI_SETTING_INT,
    .default_value = "0",
    .min = 0,
    .max = 256,
    .help = "HTTP worker threads, each with its own PostgreSQL connection (0: two per CPU, at "
            "least 4)"};
static const struct mochi_setting setting_max_connections = {.name = "max-connections",
                                                             .env = "MOCHI_WEB_MAX_CONNECTIONS",
                                                             .type = MOCHI_SETTING_INT,
                                                             .default_value = "1024",
                                                             .min = 1,
                                                             .max = 100000,
                                                             .help = "concurrent HTTP connections"};

static const struct mochi_setting setting_shutdown_timeout = {
    .name = "shutdown-timeout",
    .env = "MOCHI_SHUTDOWN_TIMEOUT",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "10s",
    .min = 0,
    .max = 3600 * 1000,
    .help = "how long SIGTERM waits for the requests in progress to be answered"};

static const struct mochi_setting *const settings[] = {&setting_listen,
                                                       &mochi_setting_database_url,
                                                       &mochi_setting_trusted_proxies,
                                                       &setting_secure_cookie,
                                                       &setting_session_ttl,
                                                       &setting_brokers,
                                                       &mochi_setting_topic,
                                                       &setting_metrics_listen,
                                                       &setting_threads,
                                                       &setting_max_connections,
                                                       &setting_shutdown_timeout,
                                                       &mochi_setting_log_level,
                                                       NULL};

static const char *const gauge_help =
    "1 when the last PostgreSQL query succeeded, 0 when the database could not be reached";

/* --print-metrics: the families the program registers, in order. */
static int print_metrics(FILE *out)
{
    struct mochi_metrics *metrics = mochi_metrics_new();
    int rc = metrics != NULL && mochi_metrics_gauge(metrics, "mochi_web_database_up", gauge_help, 0,
                                                    NULL) != NULL
                 ? web_app_metrics_describe(metrics)
                 : MOCHI_ERR_NOMEM;
    if (rc == 0)
        rc = mochi_metrics_print_families(metrics, out);
    mochi_metrics_destroy(metrics);
    return rc;
}

static const struct mochi_program_spec spec = {
    .name = "mochi-web",
    .summary = "Serves the dashboard (the sites a user may see, each site's numbers by its own "
               "days) and its JSON API under /api/v1/sites/{id}/ from the daily aggregates, with "
               "logins, sessions, API tokens (Bearer) and share links (/share/{slug}); pages, "
               "CSS and JavaScript are embedded. /healthz and /metrics are on --metrics-listen. "
               "The database URL should use the mochi_web role.",
    .settings = settings,
    .kafka_properties = true,
    .print_metrics = print_metrics,
};

int main(int argc, char **argv)
{
    mochi_daemon_signals_install();
    struct mochi_config *config = mochi_config_load_or_exit(&spec, argc, argv);
    struct mochi_cidr_list trusted = {0};
    struct mochi_metrics *metrics = NULL;
    struct web_db *db = NULL;
    struct web_freshness *fresh = NULL;
    struct web_app *app = NULL;
    struct web_server *server = NULL;
    struct mochi_metrics_server *metrics_server = NULL;
    char err[512] = "";
    int code = 1;

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 2)
        cpus = 2;
    if (mochi_hash_init() != 0 || web_auth_init((unsigned int)cpus) != 0) {
        mochi_log(MOCHI_LOG_ERROR, "web", "msg=\"library initialisation failed\"");
        goto out;
    }
    if (mochi_cidr_list_parse(mochi_config_str(config, &mochi_setting_trusted_proxies), &trusted,
                              err, sizeof(err)) != 0)
        goto fail;
    metrics = mochi_metrics_new();
    struct mochi_metric *up = metrics ? mochi_metrics_single(mochi_metrics_gauge(
                                            metrics, "mochi_web_database_up", gauge_help, 0, NULL))
                                      : NULL;
    if (up == NULL)
        goto out;
    if (web_db_new(mochi_config_str(config, &mochi_setting_database_url), up, &db) != 0)
        goto out;
    if (web_freshness_new(config, mochi_config_str(config, &setting_brokers),
                          mochi_config_str(config, &mochi_setting_topic), &fresh, err,
                          sizeof(err)) != 0) {
        code = 2; /* a -X property librdkafka refused: a configuration error */
        goto fail;
    }
    struct web_app_options options = {
        .secure_cookie = mochi_config_enum(config, &setting_secure_cookie) == 1,
        .session_ttl_s = mochi_config_ms(config, &setting_session_ttl) / 1000,
    };
    if (web_app_new(&options, db, fresh, metrics, &app) != 0)
        goto out;

    long threads = mochi_config_int(config, &setting_threads);
    if (threads == 0)
        threads = 2 * cpus > 4 ? 2 * cpus : 4;
    struct web_server_options server_options = {
        .listen = mochi_config_str(config, &setting_listen),
        .threads = (unsigned int)threads,
        .max_connections = (unsigned int)mochi_config_int(config, &setting_max_connections),
        .idle_timeout_s = 30,
        .trusted = &trusted,
        .handler = web_app_handle,
        .arg = app,
    };
    if (web_server_start(&server_options, &server, err, sizeof(err)) != 0)
        goto fail;
    if (mochi_metrics_server_start(metrics, mochi_config_str(config, &setting_metrics_listen), NULL,
                                   NULL, &metrics_server, err, sizeof(err)) != 0)
        goto fail;
    mochi_log(MOCHI_LOG_INFO, "web",
              "msg=\"started\" listen=%s port=%d threads=%ld secure_cookie=%s brokers=%s "
              "trusted_proxies=%zu",
              server_options.listen, web_server_port(server), threads,
              options.secure_cookie ? "true" : "false",
              mochi_config_str(config, &setting_brokers) ? "set" : "none", trusted.count);

    while (!mochi_daemon_stopping())
        usleep(100 * 1000);

    mochi_log(MOCHI_LOG_INFO, "web", "msg=\"stopping: no new connections, draining\"");
    web_server_quiesce(server);
    bool drained = web_server_drain(server, mochi_config_ms(config, &setting_shutdown_timeout));
    web_server_stop(server);
    server = NULL;
    mochi_log(MOCHI_LOG_INFO, "web", "msg=\"stopped\" drained=%s", drained ? "true" : "false");
    code = 0;
    goto out;
fail:
    fprintf(stderr, "mochi-web: %s\n", err);
out:
    web_server_stop(server);
    mochi_metrics_server_stop(metrics_server);
    web_app_destroy(app);
    web_freshness_destroy(fresh);
    web_db_destroy(db);
    mochi_metrics_destroy(metrics);
    mochi_cidr_list_free(&trusted);
    mochi_config_destroy(config);
    return code;
}
