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
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "tools/loadgen/oracle.h"
#include "tools/loadgen/summary.h"
#include "tools/loadgen/traffic.h"

#define SETTING(n, e, t, d, lo, hi, h)                                                             \
    {                                                                                              \
        .name = n, .env = e, .type = t, .default_value = d, .min = lo, .max = hi, .help = h        \
    }

/* Indices into settings_table: main reads a setting by its entry. */
enum {
    OPT_URL,
    OPT_SITES,
    OPT_CONNECTIONS,
    OPT_RATE,
    OPT_DURATION,
    OPT_COUNT,
    OPT_VISITORS,
    OPT_PAGES,
    OPT_REFERRER_SHARE,
    OPT_DOUBLE_SHARE,
    OPT_BOT_SHARE,
    OPT_GIF_SHARE,
    OPT_SEED,
    OPT_FORWARDED_FOR,
    OPT_NO_FORWARDED_FOR,
    OPT_MINUTE_GUARD,
    OPT_TIMEOUT,
    OPT_DRAIN_TIMEOUT,
    OPT_EXPECT,
    OPT_SUMMARY_JSON,
    NSETTINGS
};

static const struct mochi_setting settings_table[] = {
    [OPT_URL] = SETTING("url", "MOCHI_LOADGEN_URL", MOCHI_SETTING_STRING, "http://127.0.0.1:8080",
                        0, 0, "collector base URL"),
    [OPT_SITES] = {.name = "sites",
                   .env = "MOCHI_LOADGEN_SITES",
                   .type = MOCHI_SETTING_STRING,
                   .required = true,
                   .help = "comma-separated tracking_key=domain[@time_zone] (IANA name, "
                           "default UTC: the oracle's days are the site's local days)"},
    [OPT_CONNECTIONS] = SETTING("connections", "MOCHI_LOADGEN_CONNECTIONS", MOCHI_SETTING_INT, "16",
                                1, 1024, "concurrent keep-alive connections"),
    [OPT_RATE] = SETTING("rate", "MOCHI_LOADGEN_RATE", MOCHI_SETTING_INT, "0", 0, 10000000,
                         "requests per second, 0 = as fast as it can"),
    [OPT_DURATION] =
        SETTING("duration", "MOCHI_LOADGEN_DURATION", MOCHI_SETTING_DURATION, "10s", 1,
                7 * MOCHI_MS_PER_DAY, "how long to send; with --count and no --duration, no limit"),
    [OPT_COUNT] =
        SETTING("count", "MOCHI_LOADGEN_COUNT", MOCHI_SETTING_INT, NULL, 1, 1000000000000LL,
                "stop after this many requests (doubles and bots included)"),
    [OPT_VISITORS] = SETTING("visitors", "MOCHI_LOADGEN_VISITORS", MOCHI_SETTING_INT, "1000", 1,
                             LOADGEN_VISITORS_MAX, "distinct visitors (IP + User-Agent)"),
    [OPT_PAGES] = SETTING("pages", "MOCHI_LOADGEN_PAGES", MOCHI_SETTING_INT, "50", 1,
                          LOADGEN_PAGES_MAX, "distinct paths per site, Zipf-skewed popularity"),
    [OPT_REFERRER_SHARE] =
        SETTING("referrer-share", "MOCHI_LOADGEN_REFERRER_SHARE", MOCHI_SETTING_STRING, "0.3", 0, 0,
                "share of beacons with a referrer (search, social or internal), 0 to 1"),
    [OPT_DOUBLE_SHARE] = SETTING("double-share", "MOCHI_LOADGEN_DOUBLE_SHARE", MOCHI_SETTING_STRING,
                                 "0.05", 0, 0, "share of beacons fired twice, 0 to 1"),
    [OPT_BOT_SHARE] = SETTING("bot-share", "MOCHI_LOADGEN_BOT_SHARE", MOCHI_SETTING_STRING, "0.02",
                              0, 0, "share of beacons from bots, 0 to 1"),
    [OPT_GIF_SHARE] = SETTING("gif-share", "MOCHI_LOADGEN_GIF_SHARE", MOCHI_SETTING_STRING, "0.05",
                              0, 0, "share of beacons sent as GET /p.gif, 0 to 1"),
    [OPT_SEED] = SETTING("seed", "MOCHI_LOADGEN_SEED", MOCHI_SETTING_INT, "1", 0,
                         9223372036854775807LL, "RNG seed: one seed, one sequence of beacons"),
    [OPT_FORWARDED_FOR] =
        SETTING("forwarded-for", "MOCHI_LOADGEN_FORWARDED_FOR", MOCHI_SETTING_FLAG, "true", 0, 0,
                "send X-Forwarded-For with the visitor's address (collector needs "
                "--trusted-proxies)"),
    [OPT_NO_FORWARDED_FOR] =
        SETTING("no-forwarded-for", NULL, MOCHI_SETTING_FLAG, "false", 0, 0,
                "send no X-Forwarded-For: all visitors share loadgen's address"),
    [OPT_MINUTE_GUARD] =
        SETTING("minute-guard", "MOCHI_LOADGEN_MINUTE_GUARD", MOCHI_SETTING_DURATION, "300ms", 0,
                30000, "start no request this close to the end of a UTC minute"),
    [OPT_TIMEOUT] = SETTING("timeout", "MOCHI_LOADGEN_TIMEOUT", MOCHI_SETTING_DURATION, "10s", 1,
                            600000, "per-request timeout"),
    [OPT_DRAIN_TIMEOUT] =
        SETTING("drain-timeout", "MOCHI_LOADGEN_DRAIN_TIMEOUT", MOCHI_SETTING_DURATION, "5s", 0,
                600000, "at the end, how long to wait for requests in flight"),
    [OPT_EXPECT] = SETTING("expect", "MOCHI_LOADGEN_EXPECT", MOCHI_SETTING_STRING, NULL, 0, 0,
                           "write the oracle (expected aggregates, JSON) to this file"),
    [OPT_SUMMARY_JSON] = SETTING("summary-json", "MOCHI_LOADGEN_SUMMARY_JSON", MOCHI_SETTING_FLAG,
                                 "false", 0, 0, "print the summary as one JSON object"),
};
_Static_assert(sizeof(settings_table) / sizeof(settings_table[0]) == NSETTINGS,
               "an OPT_ index without its entry");

/* The table above plus the shared log level; filled in by main. */
static const struct mochi_setting *settings[NSETTINGS + 2];

static const struct mochi_program_spec spec = {
    .name = "mochi-loadgen",
    .usage = "--sites KEY=DOMAIN[@ZONE][,...] [OPTIONS]",
    .summary =
        "Sends realistic page-view beacons to a Mochi collector over keep-alive HTTP, prints a\n"
        "summary, and with --expect writes the daily aggregates the pipeline must end with,\n"
        "computed from what was sent and answered (see docs/loadgen.md). Exits 0 when it ran,\n"
        "1 when no request got an answer, 2 on bad settings. SIGINT/SIGTERM stop the run.",
    .settings = settings,
};

static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig);
static int read_share(const struct mochi_config *config, const struct mochi_setting *setting,
                      double *out);
static int check_writable(const char *path);

static void on_stop_signal(int sig)
{
    (void)sig;
    if (stop_signal < 2)
        stop_signal++; /* a second signal skips the wait for requests in flight */
}

/* Returns 0 with the share in *out, or prints why not and returns -1. */
static int read_share(const struct mochi_config *config, const struct mochi_setting *setting,
                      double *out)
{
    const char *text = mochi_config_str(config, setting);
    char *end = NULL;
    errno = 0;
    *out = strtod(text, &end);
    if (errno == 0 && end != text && *end == '\0' && *out >= 0 && *out <= 1)
        return 0;
    fprintf(stderr, "mochi-loadgen: --%s: expected a number from 0 to 1 (got '%.80s')\n",
            setting->name, text);
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
        .visitors = (size_t)mochi_config_int(config, &settings_table[OPT_VISITORS]),
        .pages = (size_t)mochi_config_int(config, &settings_table[OPT_PAGES]),
        .seed = (uint64_t)mochi_config_int(config, &settings_table[OPT_SEED]),
    };
    bool duration_set = mochi_config_is_set(config, &settings_table[OPT_DURATION]);
    bool count_set = mochi_config_is_set(config, &settings_table[OPT_COUNT]);
    struct mochi_loadgen_client_params cp = {
        .url = url,
        .connections = (int)mochi_config_int(config, &settings_table[OPT_CONNECTIONS]),
        .rate = mochi_config_int(config, &settings_table[OPT_RATE]),
        .duration_ms =
            count_set && !duration_set ? 0 : mochi_config_ms(config, &settings_table[OPT_DURATION]),
        .count = count_set ? mochi_config_int(config, &settings_table[OPT_COUNT]) : 0,
        .minute_guard_ms = mochi_config_ms(config, &settings_table[OPT_MINUTE_GUARD]),
        .timeout_ms = mochi_config_ms(config, &settings_table[OPT_TIMEOUT]),
        .drain_ms = mochi_config_ms(config, &settings_table[OPT_DRAIN_TIMEOUT]),
        .forwarded_for = mochi_config_flag(config, &settings_table[OPT_FORWARDED_FOR]) &&
                         !mochi_config_flag(config, &settings_table[OPT_NO_FORWARDED_FOR]),
    };
    const char *expect = mochi_config_str(config, &settings_table[OPT_EXPECT]);
    const char *base = mochi_config_str(config, &settings_table[OPT_URL]);
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
    if (read_share(config, &settings_table[OPT_REFERRER_SHARE], &tp.referrer_share) != 0 ||
        read_share(config, &settings_table[OPT_DOUBLE_SHARE], &tp.double_share) != 0 ||
        read_share(config, &settings_table[OPT_BOT_SHARE], &tp.bot_share) != 0 ||
        read_share(config, &settings_table[OPT_GIF_SHARE], &tp.gif_share) != 0)
        goto out;
    if (mochi_loadgen_sites_parse(mochi_config_str(config, &settings_table[OPT_SITES]), &sites,
                                  &nsites, err, sizeof(err)) != 0) {
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
                                mochi_config_flag(config, &settings_table[OPT_SUMMARY_JSON]));
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
