/* mochi-loadgen: drives a collector with realistic beacons over keep-alive
 * HTTP and writes the oracle of the aggregates they must produce. main only
 * reads the settings and wires traffic, client, oracle and summary. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/loadgen/client.h"
#include "common/config.h"
#include "common/log.h"
#include "tools/loadgen/oracle.h"
#include "tools/loadgen/summary.h"
#include "tools/loadgen/traffic.h"

#define SETTING(n, e, t, d, lo, hi, h)                                                             \
    {                                                                                              \
        .name = n, .env = e, .type = t, .default_value = d, .min = lo, .max = hi, .help = h        \
    }

static const struct mochi_setting settings_table[] = {
    SETTING("url", "MOCHI_LOADGEN_URL", MOCHI_SETTING_STRING, "http://127.0.0.1:8080", 0, 0,
            "collector base URL"),
    {.name = "sites",
     .env = "MOCHI_LOADGEN_SITES",
     .type = MOCHI_SETTING_STRING,
     .required = true,
     .help = "comma-separated tracking_key=domain pairs"},
    SETTING("connections", "MOCHI_LOADGEN_CONNECTIONS", MOCHI_SETTING_INT, "16", 1, 1024,
            "concurrent keep-alive connections"),
    SETTING("rate", "MOCHI_LOADGEN_RATE", MOCHI_SETTING_INT, "0", 0, 10000000,
            "requests per second, 0 = as fast as it can"),
    SETTING("duration", "MOCHI_LOADGEN_DURATION", MOCHI_SETTING_DURATION, "10s", 1,
            7LL * 86400 * 1000, "how long to send; with --count and no --duration, no limit"),
    SETTING("count", "MOCHI_LOADGEN_COUNT", MOCHI_SETTING_INT, NULL, 1, 1000000000000LL,
            "stop after this many requests (doubles and bots included)"),
    SETTING("visitors", "MOCHI_LOADGEN_VISITORS", MOCHI_SETTING_INT, "1000", 1,
            LOADGEN_VISITORS_MAX, "distinct visitors (IP + User-Agent)"),
    SETTING("pages", "MOCHI_LOADGEN_PAGES", MOCHI_SETTING_INT, "50", 1, LOADGEN_PAGES_MAX,
            "distinct paths per site, Zipf-skewed popularity"),
    SETTING("referrer-share", "MOCHI_LOADGEN_REFERRER_SHARE", MOCHI_SETTING_STRING, "0.3", 0, 0,
            "share of beacons with a referrer (search, social or internal), 0 to 1"),
    SETTING("double-share", "MOCHI_LOADGEN_DOUBLE_SHARE", MOCHI_SETTING_STRING, "0.05", 0, 0,
            "share of beacons fired twice, 0 to 1"),
    SETTING("bot-share", "MOCHI_LOADGEN_BOT_SHARE", MOCHI_SETTING_STRING, "0.02", 0, 0,
            "share of beacons from bots, 0 to 1"),
    SETTING("gif-share", "MOCHI_LOADGEN_GIF_SHARE", MOCHI_SETTING_STRING, "0.05", 0, 0,
            "share of beacons sent as GET /p.gif, 0 to 1"),
    SETTING("seed", "MOCHI_LOADGEN_SEED", MOCHI_SETTING_INT, "1", 0, 9223372036854775807LL,
            "RNG seed: one seed, one sequence of beacons"),
    SETTING("forwarded-for", "MOCHI_LOADGEN_FORWARDED_FOR", MOCHI_SETTING_FLAG, "true", 0, 0,
            "send X-Forwarded-For with the visitor's address (collector needs "
            "--trusted-proxies)"),
    SETTING("no-forwarded-for", NULL, MOCHI_SETTING_FLAG, "false", 0, 0,
            "send no X-Forwarded-For: all visitors share loadgen's address"),
    SETTING("minute-guard", "MOCHI_LOADGEN_MINUTE_GUARD", MOCHI_SETTING_DURATION, "300ms", 0, 30000,
            "start no request this close to the end of a UTC minute"),
    SETTING("timeout", "MOCHI_LOADGEN_TIMEOUT", MOCHI_SETTING_DURATION, "10s", 1, 600000,
            "per-request timeout"),
    SETTING("drain-timeout", "MOCHI_LOADGEN_DRAIN_TIMEOUT", MOCHI_SETTING_DURATION, "5s", 0, 600000,
            "at the end, how long to wait for requests in flight"),
    SETTING("expect", "MOCHI_LOADGEN_EXPECT", MOCHI_SETTING_STRING, NULL, 0, 0,
            "write the oracle (expected aggregates, JSON) to this file"),
    SETTING("summary-json", "MOCHI_LOADGEN_SUMMARY_JSON", MOCHI_SETTING_FLAG, "false", 0, 0,
            "print the summary as one JSON object"),
};

#define NSETTINGS (sizeof(settings_table) / sizeof(settings_table[0]))

/* The table above plus the shared log level; filled in by main. */
static const struct mochi_setting *settings[NSETTINGS + 2];

static const struct mochi_program_spec spec = {
    .name = "mochi-loadgen",
    .usage = "--sites KEY=DOMAIN[,...] [OPTIONS]",
    .summary =
        "Sends realistic page-view beacons to a Mochi collector over keep-alive HTTP, prints a\n"
        "summary, and with --expect writes the daily aggregates the pipeline must end with,\n"
        "computed from what was sent and answered (see docs/loadgen.md). Exits 0 when it ran,\n"
        "1 when no request got an answer, 2 on bad settings. SIGINT/SIGTERM stop the run.",
    .settings = settings,
};

static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig);
static int read_share(const struct mochi_config *config, const char *name, double *out);
static int check_writable(const char *path);

static void on_stop_signal(int sig)
{
    (void)sig;
    if (stop_signal < 2)
        stop_signal++; /* a second signal skips the wait for requests in flight */
}

/* Returns 0 with the share in *out, or prints why not and returns -1. */
static int read_share(const struct mochi_config *config, const char *name, double *out)
{
    const char *text = mochi_config_str(config, name);
    char *end = NULL;
    errno = 0;
    *out = strtod(text, &end);
    if (errno == 0 && end != text && *end == '\0' && *out >= 0 && *out <= 1)
        return 0;
    fprintf(stderr, "mochi-loadgen: --%s: expected a number from 0 to 1 (got '%.80s')\n", name,
            text);
    return -1;
}

/* Fails early rather than after the run. Returns 0 or -1 with the reason
 * printed. */
static int check_writable(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "mochi-loadgen: --expect: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    fclose(f);
    remove(tmp);
    return 0;
}

int main(int argc, char **argv)
{
    int status = 2;
    struct mochi_loadgen_site *sites = NULL;
    size_t nsites = 0;
    struct mochi_loadgen_traffic *traffic = NULL;
    struct mochi_loadgen_oracle *oracle = NULL;
    struct mochi_loadgen_run run = {0};
    char err[512] = "", url[2048];
    bool curl_ready = false;
    for (size_t i = 0; i < NSETTINGS; i++)
        settings[i] = &settings_table[i];
    settings[NSETTINGS] = &mochi_setting_log_level;
    struct mochi_config *config = mochi_config_load_or_exit(&spec, argc, argv);

    struct mochi_loadgen_traffic_params tp = {
        .visitors = (size_t)mochi_config_int(config, "visitors"),
        .pages = (size_t)mochi_config_int(config, "pages"),
        .seed = (uint64_t)mochi_config_int(config, "seed"),
    };
    bool duration_set = mochi_config_is_set(config, "duration");
    bool count_set = mochi_config_is_set(config, "count");
    struct mochi_loadgen_client_params cp = {
        .url = url,
        .connections = (int)mochi_config_int(config, "connections"),
        .rate = mochi_config_int(config, "rate"),
        .duration_ms = count_set && !duration_set ? 0 : mochi_config_ms(config, "duration"),
        .count = count_set ? mochi_config_int(config, "count") : 0,
        .minute_guard_ms = mochi_config_ms(config, "minute-guard"),
        .timeout_ms = mochi_config_ms(config, "timeout"),
        .drain_ms = mochi_config_ms(config, "drain-timeout"),
        .forwarded_for = mochi_config_flag(config, "forwarded-for") &&
                         !mochi_config_flag(config, "no-forwarded-for"),
    };
    const char *expect = mochi_config_str(config, "expect");
    const char *base = mochi_config_str(config, "url");
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--; /* "http://host:8080/" and "http://host:8080" are the same collector */
    if ((strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) ||
        blen >= sizeof(url)) {
        fprintf(stderr, "mochi-loadgen: --url: expected http://HOST[:PORT] (got '%.80s')\n", base);
        goto out;
    }
    memcpy(url, base, blen);
    url[blen] = '\0';
    if (read_share(config, "referrer-share", &tp.referrer_share) != 0 ||
        read_share(config, "double-share", &tp.double_share) != 0 ||
        read_share(config, "bot-share", &tp.bot_share) != 0 ||
        read_share(config, "gif-share", &tp.gif_share) != 0)
        goto out;
    if (mochi_loadgen_sites_parse(mochi_config_str(config, "sites"), &sites, &nsites, err,
                                  sizeof(err)) != 0) {
        fprintf(stderr, "mochi-loadgen: --sites: %s\n", err);
        goto out;
    }
    if (expect != NULL && check_writable(expect) != 0)
        goto out;

    status = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: poll(2) returns at once */
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
        signal(SIGPIPE, SIG_IGN) == SIG_ERR || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "mochi-loadgen: cannot start: signals or libcurl refused\n");
        goto out;
    }
    curl_ready = true;
    if (mochi_loadgen_traffic_new(sites, nsites, &tp, &traffic) != 0 ||
        mochi_loadgen_oracle_new(sites, nsites, &oracle) != 0) {
        fprintf(stderr, "mochi-loadgen: out of memory\n");
        goto out;
    }
    char qurl[300];
    mochi_log(MOCHI_LOG_INFO, "loadgen",
              "msg=started url=%s sites=%zu connections=%d rate=%lld duration_ms=%lld count=%lld "
              "seed=%llu",
              mochi_log_quote(qurl, sizeof(qurl), url), nsites, cp.connections, cp.rate,
              cp.duration_ms, cp.count, (unsigned long long)tp.seed);
    if (mochi_loadgen_client_run(&cp, sites, traffic, oracle, &stop_signal, &run, err,
                                 sizeof(err)) != 0) {
        fprintf(stderr, "mochi-loadgen: %s\n", err);
        goto out;
    }
    if (stop_signal)
        mochi_log(MOCHI_LOG_INFO, "loadgen", "msg=\"stopped by signal\"");
    mochi_loadgen_summary_print(stdout, mochi_loadgen_oracle_counts(oracle), &run,
                                mochi_config_flag(config, "summary-json"));
    fflush(stdout);
    if (expect != NULL && mochi_loadgen_oracle_write(oracle, expect, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochi-loadgen: --expect: %s\n", err);
        goto out;
    }
    if (run.answered == 0 && mochi_loadgen_oracle_counts(oracle)->sent > 0) {
        fprintf(stderr, "mochi-loadgen: no request got an answer from %s: %s\n", url,
                run.first_error[0] ? run.first_error : "unknown error");
        goto out;
    }
    status = 0;
out:
    mochi_loadgen_run_free(&run);
    mochi_loadgen_oracle_destroy(oracle);
    mochi_loadgen_traffic_destroy(traffic);
    mochi_loadgen_sites_free(sites, nsites);
    if (curl_ready)
        curl_global_cleanup();
    mochi_config_destroy(config);
    return status;
}
