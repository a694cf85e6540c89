/* mochi-bench-probe: end-to-end freshness of the pipeline, for
 * scripts/bench-pipeline.sh. Every --interval it posts one beacon for a
 * dedicated probe site with a path of its own (/probe/<run>/<n>) to the
 * collector, notes when the 202 came back, and between beacons polls
 * daily_page_metrics of the probe site every --poll; a probe's freshness is
 * the time from its 202 to the first poll that sees its path counted. The
 * rollup writes daily_page_metrics and daily_site_metrics in the same
 * transaction, so a path visible in one is visible in the other: the
 * probe also checks at the end that daily_site_metrics counts exactly the
 * probes seen. One clock (CLOCK_MONOTONIC) for both ends.
 *
 * Prints one line of key=value results (milliseconds). Exit status: 0; 1
 * when a beacon was refused or the database failed; 2 on bad settings. */
#include <curl/curl.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/db.h"
#include "common/log.h"

static const struct mochi_setting setting_url = {.name = "url",
                                                 .type = MOCHI_SETTING_STRING,
                                                 .required = true,
                                                 .help = "collector base URL, http://HOST:PORT"};
static const struct mochi_setting setting_key = {.name = "key",
                                                 .type = MOCHI_SETTING_STRING,
                                                 .required = true,
                                                 .help = "tracking key of the probe site"};
static const struct mochi_setting setting_domain = {.name = "domain",
                                                    .type = MOCHI_SETTING_STRING,
                                                    .required = true,
                                                    .help = "domain of the probe site"};
static const struct mochi_setting setting_site_id = {.name = "site-id",
                                                     .type = MOCHI_SETTING_STRING,
                                                     .required = true,
                                                     .help = "id of the probe site"};
static const struct mochi_setting setting_interval = {.name = "interval",
                                                      .type = MOCHI_SETTING_DURATION,
                                                      .default_value = "100ms",
                                                      .min = 10,
                                                      .max = 10000,
                                                      .help = "time between probe beacons"};
static const struct mochi_setting setting_poll = {.name = "poll",
                                                  .type = MOCHI_SETTING_DURATION,
                                                  .default_value = "10ms",
                                                  .min = 1,
                                                  .max = 1000,
                                                  .help = "time between database polls"};
static const struct mochi_setting setting_duration = {.name = "duration",
                                                      .type = MOCHI_SETTING_DURATION,
                                                      .default_value = "30s",
                                                      .min = 1000,
                                                      .max = 3600000,
                                                      .help = "how long to send probes"};
static const struct mochi_setting setting_settle = {
    .name = "settle",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "15s",
    .min = 0,
    .max = 600000,
    .help = "after the last probe, how long to wait for probes not yet visible"};
static const struct mochi_setting setting_run = {.name = "run",
                                                 .type = MOCHI_SETTING_STRING,
                                                 .default_value = "1",
                                                 .help = "run name, part of the probe paths"};

static const struct mochi_setting *const settings[] = {&setting_url,
                                                       &setting_key,
                                                       &setting_domain,
                                                       &setting_site_id,
                                                       &setting_interval,
                                                       &setting_poll,
                                                       &setting_duration,
                                                       &setting_settle,
                                                       &setting_run,
                                                       &mochi_setting_database_url,
                                                       &mochi_setting_log_level,
                                                       NULL};

static const struct mochi_program_spec spec = {
    .name = "mochi-bench-probe",
    .usage = "--url URL --key KEY --domain D --site-id UUID --database-url URL [OPTIONS]",
    .summary = "Posts a beacon with a unique path every --interval and measures the time from "
               "its 202 to its path being counted in daily_page_metrics.",
    .settings = settings,
};

struct probe {
    double answered; /* monotonic seconds of the 202 */
    double seen;     /* first poll that saw it counted; 0: not yet */
};

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static double now_s(void)
{
    return (double)mochi_clock_mono_us() / 1e6;
}

static void sleep_until(double t)
{
    double left = t - now_s();
    if (left > 0)
        mochi_clock_sleep_ms((int64_t)ceil(left * 1000));
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * nmemb;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank. */
static double percentile(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)ceil(q * (double)n);
    return sorted[rank > 0 ? rank - 1 : 0];
}

/* Marks the probes whose path the rollup has counted. Returns 0, or -1 on
 * a database error. */
static int poll_seen(PGconn *conn, const char *site_id, const char *prefix, struct probe *probes,
                     size_t nsent, size_t *nseen)
{
    const char *params[] = {site_id, prefix};
    PGresult *res = NULL;
    char err[512];
    if (mochi_db_query(conn,
                       "SELECT substr(path, length($2) + 1)::int FROM daily_page_metrics"
                       " WHERE site_id = $1::uuid AND starts_with(path, $2)"
                       " AND page_views > 0",
                       2, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochi-bench-probe: poll: %s\n", err);
        return -1;
    }
    double t = now_s();
    for (int i = 0; i < PQntuples(res); i++) {
        long n = atol(PQgetvalue(res, i, 0));
        if (n >= 0 && (size_t)n < nsent && probes[n].seen == 0) {
            probes[n].seen = t;
            (*nseen)++;
        }
    }
    PQclear(res);
    return 0;
}

int main(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&spec, argc, argv);
    int code = 1;
    CURL *curl = NULL;
    PGconn *conn = NULL;
    struct curl_slist *headers = NULL;
    struct probe *probes = NULL;
    double *lat = NULL;

    const double interval = mochi_config_ms(config, &setting_interval) / 1000.0;
    const double poll = mochi_config_ms(config, &setting_poll) / 1000.0;
    const double duration = mochi_config_ms(config, &setting_duration) / 1000.0;
    const double settle = mochi_config_ms(config, &setting_settle) / 1000.0;
    const char *site_id = mochi_config_str(config, &setting_site_id);
    const size_t max_probes = (size_t)(duration / interval) + 2;
    char prefix[128], endpoint[512];
    snprintf(prefix, sizeof(prefix), "/probe/%s/", mochi_config_str(config, &setting_run));
    snprintf(endpoint, sizeof(endpoint), "%s/api/event", mochi_config_str(config, &setting_url));

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    probes = calloc(max_probes, sizeof(*probes));
    lat = calloc(max_probes, sizeof(*lat));
    if (probes == NULL || lat == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        goto out;
    conn = PQconnectdb(mochi_config_str(config, &mochi_setting_database_url));
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "mochi-bench-probe: database: %s", PQerrorMessage(conn));
        goto out;
    }
    curl = curl_easy_init();
    headers = curl_slist_append(NULL, "Content-Type: text/plain;charset=UTF-8");
    if (curl == NULL || headers == NULL)
        goto out;
    curl_easy_setopt(curl, CURLOPT_URL, endpoint);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT,
                     "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);

    size_t nsent = 0, nseen = 0, refused = 0;
    double send_ms_max = 0;
    const double start = now_s();
    double next_send = start, next_poll = start;
    double end_send = start + duration, deadline = end_send + settle;
    while (!stopping) {
        double t = now_s();
        if (t >= end_send && (nseen == nsent || t >= deadline))
            break;
        if (t >= next_send && t < end_send && nsent < max_probes) {
            char body[512];
            snprintf(body, sizeof(body), "{\"k\":\"%s\",\"u\":\"https://%s%s%zu\",\"r\":\"\"}",
                     mochi_config_str(config, &setting_key),
                     mochi_config_str(config, &setting_domain), prefix, nsent);
            curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body);
            double sent = now_s();
            CURLcode rc = curl_easy_perform(curl);
            long status = 0;
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
            double answered = now_s();
            if ((answered - sent) * 1000 > send_ms_max)
                send_ms_max = (answered - sent) * 1000;
            if (rc != CURLE_OK || status != 202) {
                fprintf(stderr, "mochi-bench-probe: probe %zu: %s, status %ld\n", nsent,
                        rc != CURLE_OK ? curl_easy_strerror(rc) : "answered", status);
                refused++;
                probes[nsent].answered = -1; /* never counted */
            } else {
                probes[nsent].answered = answered;
            }
            nsent++;
            next_send += interval;
            if (next_send < answered)
                next_send = answered; /* the collector was slow: do not burst */
        }
        if (now_s() >= next_poll) {
            if (poll_seen(conn, site_id, prefix, probes, nsent, &nseen) != 0)
                goto out;
            next_poll = now_s() + poll;
        }
        double wake = next_poll;
        if (now_s() < end_send && next_send < wake)
            wake = next_send;
        sleep_until(wake);
    }

    /* Check with daily_site_metrics, in one snapshot: it must count
     * exactly the probe paths daily_page_metrics holds (same transaction). */
    const char *params[] = {site_id, prefix};
    PGresult *res = NULL;
    char err[512];
    bool ok = mochi_db_query(conn,
                             "SELECT (SELECT coalesce(sum(page_views), 0) FROM daily_site_metrics"
                             "        WHERE site_id = $1::uuid),"
                             "       (SELECT coalesce(sum(page_views), 0) FROM daily_page_metrics"
                             "        WHERE site_id = $1::uuid AND starts_with(path, $2))",
                             2, params, &res, err, sizeof(err)) == 0 &&
              PQntuples(res) == 1;
    long long site_views = ok ? atoll(PQgetvalue(res, 0, 0)) : -1;
    long long page_views = ok ? atoll(PQgetvalue(res, 0, 1)) : -2;
    PQclear(res);
    size_t n = 0, missing = 0;
    for (size_t i = 0; i < nsent; i++) {
        if (probes[i].answered < 0)
            continue;
        if (probes[i].seen == 0)
            missing++;
        else
            lat[n++] = (probes[i].seen - probes[i].answered) * 1000;
    }
    /* The three slowest probes, as n@seconds-after-start:ms, to tell a
     * start-up effect from a stall in the middle. */
    char slowest[128] = "";
    for (int k = 0; k < 3; k++) {
        size_t worst = nsent;
        for (size_t i = 0; i < nsent; i++) {
            if (probes[i].answered < 0 || probes[i].seen == 0 || probes[i].seen < 0)
                continue;
            if (worst == nsent ||
                probes[i].seen - probes[i].answered > probes[worst].seen - probes[worst].answered)
                worst = i;
        }
        if (worst == nsent)
            break;
        size_t used = strlen(slowest);
        snprintf(slowest + used, sizeof(slowest) - used, "%s%zu@%.1fs:%.0f", k ? "," : "", worst,
                 probes[worst].answered - start,
                 (probes[worst].seen - probes[worst].answered) * 1000);
        probes[worst].seen = -probes[worst].seen; /* skip it next time */
    }
    for (size_t i = 0; i < nsent; i++)
        if (probes[i].seen < 0)
            probes[i].seen = -probes[i].seen;
    /* Every probe, in order, to stderr (the script keeps it with --keep):
     * the timeline behind the percentiles. */
    for (size_t i = 0; i < nsent; i++)
        if (probes[i].answered >= 0 && probes[i].seen > 0)
            fprintf(stderr, "probe %zu at %.2f s: %.0f ms\n", i, probes[i].answered - start,
                    (probes[i].seen - probes[i].answered) * 1000);
    qsort(lat, n, sizeof(*lat), cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += lat[i];
    printf("probes=%zu refused=%zu seen=%zu missing=%zu site_page_views=%lld p50_ms=%.0f "
           "p90_ms=%.0f p99_ms=%.0f max_ms=%.0f min_ms=%.0f mean_ms=%.0f poll_ms=%.0f "
           "interval_ms=%.0f max_post_ms=%.1f slowest=%s\n",
           nsent, refused, n, missing, site_views, percentile(lat, n, 0.50),
           percentile(lat, n, 0.90), percentile(lat, n, 0.99), n ? lat[n - 1] : 0, n ? lat[0] : 0,
           n ? sum / (double)n : 0, poll * 1000, interval * 1000, send_ms_max,
           slowest[0] ? slowest : "-");
    code = refused == 0 && site_views == page_views ? 0 : 1;
    if (site_views != page_views)
        fprintf(stderr,
                "mochi-bench-probe: daily_site_metrics counts %lld page views of the probe site, "
                "daily_page_metrics %lld\n",
                site_views, page_views);
out:
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    PQfinish(conn);
    curl_global_cleanup();
    free(lat);
    free(probes);
    mochi_config_destroy(config);
    return code;
}
