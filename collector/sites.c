#include "collector/sites.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/error.h"
#include "common/log.h"
#include "common/salt.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* UTC yesterday (UTC-12 is still there until noon), today, tomorrow
 * (UTC+14 from 10:00) and the day after (UTC+14 right after midnight, held
 * ahead so that an outage at midnight changes nothing). */
#define SALT_DAYS (2 + MOCHI_SALT_DAYS_AHEAD)

struct site_entry {
    char key[65];
    struct collector_site site;
};

struct day_salt {
    bool present;
    long long day;
    unsigned char salt[MOCHI_SALT_LEN];
};

struct collector_sites {
    char *conninfo;
    long long refresh_ms;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t wake_lock;
    pthread_cond_t wake;
    bool stopping; /* under wake_lock */
    bool poked;    /* under wake_lock */

    pthread_rwlock_t lock;      /* guards everything below */
    struct site_entry *entries; /* sorted by key */
    size_t count;
    struct collector_zones *zones; /* the entries' zones, loaded with them */
    bool loaded;
    struct day_salt salts[SALT_DAYS];
    int64_t loaded_at_ms; /* mochi_clock_mono_ms() */
    int64_t salts_at_ms;  /* the same; 0: never */

    struct mochi_metric *db_up;
    struct mochi_metric *site_age;
    struct mochi_metric *salt_age;
    struct mochi_metric *salt_days_ahead;
    struct mochi_metric *site_count;
    struct mochi_metric *refresh_errors;
};

static void *refresher(void *arg);
static int load_sites(struct collector_sites *sites, PGconn *conn);
static int load_salts(struct collector_sites *sites, PGconn *conn);
static void forget_expired_salts(struct collector_sites *sites);
static void on_scrape(struct mochi_metrics *reg, void *arg);
static const struct site_entry *find_entry(const struct collector_sites *sites, const char *key);
static int find_salt(const struct collector_sites *sites, long long day,
                     unsigned char salt[MOCHI_SALT_LEN]);
static int find_local_day(const struct collector_sites *sites, const struct collector_site *site,
                          int64_t occurred_at_us, long long *day);

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const struct site_entry *)a)->key, ((const struct site_entry *)b)->key);
}

/* Registers the cache's families in metrics and keeps their series in
 * sites. Returns 0 or MOCHI_ERR_NOMEM. */
static int register_metrics(struct mochi_metrics *metrics, struct collector_sites *sites)
{
    sites->db_up = mochi_metrics_single(
        mochi_metrics_gauge(metrics, "mochi_collector_database_up",
                            "1 when the last refresh from PostgreSQL succeeded", 0, NULL));
    sites->site_age = mochi_metrics_single(
        mochi_metrics_gauge(metrics, "mochi_collector_site_cache_age_seconds",
                            "seconds since the site cache was last loaded", 0, NULL));
    sites->salt_age = mochi_metrics_single(
        mochi_metrics_gauge(metrics, "mochi_collector_salt_cache_age_seconds",
                            "seconds since the salts were last read", 0, NULL));
    sites->salt_days_ahead = mochi_metrics_single(
        mochi_metrics_gauge(metrics, "mochi_collector_salt_days_ahead",
                            "days after today whose salt is cached (2 normally, 1 when "
                            "the day after tomorrow's is missing, 0 when tomorrow's is "
                            "missing, -1 when today's is missing)",
                            0, NULL));
    sites->site_count = mochi_metrics_single(
        mochi_metrics_gauge(metrics, "mochi_collector_sites", "sites in the cache", 0, NULL));
    sites->refresh_errors = mochi_metrics_single(
        mochi_metrics_counter(metrics, "mochi_collector_cache_refresh_errors_total",
                              "failed refreshes of the site and salt cache", 0, NULL));
    if (sites->db_up == NULL || sites->site_age == NULL || sites->salt_age == NULL ||
        sites->salt_days_ahead == NULL || sites->site_count == NULL ||
        sites->refresh_errors == NULL)
        return MOCHI_ERR_NOMEM;
    return 0;
}

int collector_sites_metrics_describe(struct mochi_metrics *metrics)
{
    /* Only the series pointers are filled in: nothing else of it is used. */
    struct collector_sites *unused = calloc(1, sizeof(*unused));
    int rc = unused != NULL ? register_metrics(metrics, unused) : MOCHI_ERR_NOMEM;
    free(unused);
    return rc;
}

int collector_sites_start(const char *conninfo, long long refresh_ms, struct mochi_metrics *metrics,
                          struct collector_sites **out)
{
    struct collector_sites *sites = calloc(1, sizeof(*sites));
    if (sites == NULL)
        return MOCHI_ERR_NOMEM;
    sites->conninfo = strdup(conninfo);
    sites->refresh_ms = refresh_ms;
    pthread_mutex_init(&sites->wake_lock, NULL);
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&sites->wake, &cattr);
    pthread_condattr_destroy(&cattr);
    pthread_rwlock_init(&sites->lock, NULL);

    if (sites->conninfo == NULL || register_metrics(metrics, sites) != 0 ||
        mochi_metrics_on_scrape(metrics, on_scrape, sites) != 0) {
        collector_sites_destroy(sites);
        return MOCHI_ERR_NOMEM;
    }
    if (pthread_create(&sites->thread, NULL, refresher, sites) != 0) {
        collector_sites_destroy(sites);
        return MOCHI_ERR_INTERNAL;
    }
    sites->thread_started = true;
    *out = sites;
    return 0;
}

void collector_sites_destroy(struct collector_sites *sites)
{
    if (sites == NULL)
        return;
    if (sites->thread_started) {
        pthread_mutex_lock(&sites->wake_lock);
        sites->stopping = true;
        pthread_cond_signal(&sites->wake);
        pthread_mutex_unlock(&sites->wake_lock);
        pthread_join(sites->thread, NULL);
    }
    pthread_rwlock_destroy(&sites->lock);
    pthread_cond_destroy(&sites->wake);
    pthread_mutex_destroy(&sites->wake_lock);
    sodium_memzero(sites->salts, sizeof(sites->salts));
    free(sites->entries);
    collector_zones_destroy(sites->zones);
    free(sites->conninfo);
    free(sites);
}

static void on_scrape(struct mochi_metrics *reg, void *arg)
{
    (void)reg;
    struct collector_sites *sites = arg;
    pthread_rwlock_rdlock(&sites->lock);
    bool loaded = sites->loaded;
    int64_t now_ms = mochi_clock_mono_ms();
    double site_age = loaded ? (double)(now_ms - sites->loaded_at_ms) / 1000 : -1;
    double salt_age = sites->salts_at_ms ? (double)(now_ms - sites->salts_at_ms) / 1000 : -1;
    /* The cache holds consecutive days, so its newest day says how far
     * ahead of midnight the collector is: a refresher that cannot reach
     * PostgreSQL leaves it behind as the days pass. */
    long long today = mochi_day_today(), newest = today - 1;
    for (int i = 0; i < SALT_DAYS; i++)
        if (sites->salts[i].present && sites->salts[i].day > newest)
            newest = sites->salts[i].day;
    size_t count = sites->count;
    pthread_rwlock_unlock(&sites->lock);
    mochi_metric_set(sites->site_age, site_age);
    mochi_metric_set(sites->salt_age, salt_age);
    mochi_metric_set(sites->salt_days_ahead, (double)(newest - today));
    mochi_metric_set(sites->site_count, (double)count);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Loads the local midnights of the zones of entries[0..count) around
 * today. Returns 0 and a new table in *out, or a negative code. */
static int load_zones(PGconn *conn, const struct site_entry *entries, size_t count,
                      struct collector_zones **out)
{
    char err[256];
    const char **names = calloc(count + 1, sizeof(*names));
    if (names == NULL)
        return MOCHI_ERR_NOMEM;
    for (size_t i = 0; i < count; i++)
        names[i] = entries[i].site.timezone;
    qsort(names, count, sizeof(*names), compare_names);
    size_t distinct = 0;
    for (size_t i = 0; i < count; i++)
        if (distinct == 0 || strcmp(names[distinct - 1], names[i]) != 0)
            names[distinct++] = names[i];
    long long today = mochi_day_today();
    int rc = collector_zones_load(conn, names, distinct, today - COLLECTOR_SITES_ZONE_DAYS_BEFORE,
                                  today + COLLECTOR_SITES_ZONE_DAYS_AFTER, out, err, sizeof(err));
    free(names);
    if (rc != 0)
        mochi_log(MOCHI_LOG_WARN, "collector", "msg=\"cannot load time zones\" error=\"%s\"", err);
    return rc;
}

/* Says which sites' zones changed between two loads (both sorted by key):
 * from this moment their new views carry days of the new zone. */
static void log_zone_changes(const struct site_entry *old, size_t nold,
                             const struct site_entry *now, size_t nnow)
{
    for (size_t i = 0, j = 0; i < nold && j < nnow;) {
        int c = strcmp(old[i].key, now[j].key);
        if (c == 0 && strcmp(old[i].site.timezone, now[j].site.timezone) != 0)
            mochi_log(MOCHI_LOG_INFO, "collector",
                      "msg=\"site time zone changed\" site=%s from=%s to=%s", now[j].site.id_text,
                      old[i].site.timezone, now[j].site.timezone);
        i += c <= 0;
        j += c >= 0;
    }
}

static int load_sites(struct collector_sites *sites, PGconn *conn)
{
    char err[256];
    PGresult *res = NULL;
    int rc = mochi_db_query(conn, "SELECT tracking_key, id::text, domain, timezone FROM sites", 0,
                            NULL, &res, err, sizeof(err));
    if (rc != 0) {
        mochi_log(MOCHI_LOG_WARN, "collector", "msg=\"cannot load sites\" error=\"%s\"", err);
        return rc;
    }
    int n = PQntuples(res);
    struct site_entry *entries = calloc((size_t)n + 1, sizeof(*entries));
    if (entries == NULL) {
        PQclear(res);
        return MOCHI_ERR_NOMEM;
    }
    size_t count = 0;
    for (int i = 0; i < n; i++) {
        struct site_entry *e = &entries[count];
        const char *key = PQgetvalue(res, i, 0);
        const char *zone = PQgetvalue(res, i, 3);
        if (strlen(key) >= sizeof(e->key) || mochi_uuid_parse(PQgetvalue(res, i, 1), e->site.id) ||
            strlen(PQgetvalue(res, i, 2)) > MOCHI_DOMAIN_MAX || zone[0] == '\0' ||
            strlen(zone) > COLLECTOR_TIMEZONE_MAX)
            continue; /* the schema's CHECKs and trigger make this unreachable */
        strcpy(e->key, key);
        mochi_uuid_format(e->site.id, e->site.id_text);
        strcpy(e->site.domain, PQgetvalue(res, i, 2));
        strcpy(e->site.timezone, zone);
        count++;
    }
    PQclear(res);
    qsort(entries, count, sizeof(*entries), compare_entries);
    struct collector_zones *zones = NULL;
    rc = load_zones(conn, entries, count, &zones);
    if (rc != 0) {
        free(entries);
        return rc;
    }

    pthread_rwlock_wrlock(&sites->lock);
    struct site_entry *old = sites->entries;
    struct collector_zones *old_zones = sites->zones;
    size_t old_count = sites->count;
    sites->entries = entries;
    sites->count = count;
    sites->zones = zones;
    sites->loaded = true;
    sites->loaded_at_ms = mochi_clock_mono_ms();
    pthread_rwlock_unlock(&sites->lock);
    log_zone_changes(old, old_count, entries, count);
    free(old);
    collector_zones_destroy(old_zones);
    if (count != old_count)
        mochi_log(MOCHI_LOG_INFO, "collector", "msg=\"site cache loaded\" sites=%zu zones=%zu",
                  count, collector_zones_count(zones));
    return 0;
}

static int load_salts(struct collector_sites *sites, PGconn *conn)
{
    long long today = mochi_day_today();
    long long keep_from = mochi_salt_keep_from(mochi_clock_now_us());
    struct day_salt fresh[SALT_DAYS];
    memset(fresh, 0, sizeof(fresh));
    /* Made if absent, ahead of the days that need them, so that a database
     * outage at midnight changes nothing. */
    int made = mochi_salt_ensure(conn);
    if (made < 0)
        return made;
    for (int i = 0; i < SALT_DAYS; i++) {
        fresh[i].day = today - 1 + i;
        if (fresh[i].day < keep_from)
            continue; /* deleted, or about to be: no zone is on that day any more */
        int rc = mochi_salt_read(conn, fresh[i].day, fresh[i].salt);
        /* Today's and tomorrow's were just made. Yesterday's and the day
         * after tomorrow's may be missing when the database's clock and
         * ours are a little apart around a deadline. */
        if (rc == MOCHI_ERR_NOTFOUND && (i == 0 || i == SALT_DAYS - 1))
            continue;
        if (rc != 0) {
            sodium_memzero(fresh, sizeof(fresh));
            return rc;
        }
        fresh[i].present = true;
    }
    int expired = mochi_salt_expire(conn);
    if (expired > 0)
        mochi_log(MOCHI_LOG_INFO, "collector", "msg=\"expired old salts\" count=%d", expired);
    pthread_rwlock_wrlock(&sites->lock);
    memcpy(sites->salts, fresh, sizeof(fresh));
    sites->salts_at_ms = mochi_clock_mono_ms();
    pthread_rwlock_unlock(&sites->lock);
    sodium_memzero(fresh, sizeof(fresh));
    return 0;
}

/* Wipes the cached salts whose days have ended everywhere, by our own
 * clock, as the database deletes them: also while it is away. */
static void forget_expired_salts(struct collector_sites *sites)
{
    long long keep_from = mochi_salt_keep_from(mochi_clock_now_us());
    pthread_rwlock_wrlock(&sites->lock);
    for (int i = 0; i < SALT_DAYS; i++) {
        if (sites->salts[i].present && sites->salts[i].day < keep_from) {
            sodium_memzero(sites->salts[i].salt, sizeof(sites->salts[i].salt));
            sites->salts[i].present = false;
        }
    }
    pthread_rwlock_unlock(&sites->lock);
}

static void *refresher(void *arg)
{
    struct collector_sites *sites = arg;
    PGconn *conn = NULL;
    bool db_ok = true; /* the state last logged, so that each change logs once */
    for (;;) {
        char err[512] = "";
        int rc = 0;
        if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
            PQfinish(conn);
            conn = NULL;
            rc = mochi_db_connect(sites->conninfo, "mochi-collector", &conn, err, sizeof(err));
        }
        if (rc == 0)
            rc = load_sites(sites, conn);
        if (rc == 0)
            rc = load_salts(sites, conn);
        forget_expired_salts(sites);
        mochi_metric_set(sites->db_up, rc == 0 ? 1 : 0);
        if (rc != 0) {
            mochi_metric_inc(sites->refresh_errors);
            if (db_ok)
                mochi_log(MOCHI_LOG_WARN, "collector",
                          "msg=\"database unreachable, serving from cache\" error=\"%s\"", err);
            db_ok = false;
        } else if (!db_ok) {
            mochi_log(MOCHI_LOG_INFO, "collector", "msg=\"database reachable again\"");
            db_ok = true;
        }

        pthread_mutex_lock(&sites->wake_lock);
        long long wait_ms =
            rc == 0 ? sites->refresh_ms : (sites->refresh_ms < 1000 ? sites->refresh_ms : 1000);
        struct timespec deadline = mochi_clock_deadline(CLOCK_MONOTONIC, wait_ms);
        while (!sites->stopping && !sites->poked &&
               pthread_cond_timedwait(&sites->wake, &sites->wake_lock, &deadline) == 0) {
        }
        bool stop = sites->stopping;
        sites->poked = false;
        pthread_mutex_unlock(&sites->wake_lock);
        if (stop)
            break;
    }
    PQfinish(conn);
    return NULL;
}

bool collector_sites_wait_ready(struct collector_sites *sites, long long timeout_ms)
{
    int64_t start_ms = mochi_clock_mono_ms();
    for (;;) {
        unsigned char salt[MOCHI_SALT_LEN];
        pthread_rwlock_rdlock(&sites->lock);
        bool loaded = sites->loaded;
        pthread_rwlock_unlock(&sites->lock);
        if (loaded && collector_sites_salt(sites, mochi_day_today(), salt) == 0)
            return true;
        if (mochi_clock_mono_ms() - start_ms >= timeout_ms)
            return false;
        mochi_clock_sleep_ms(20);
    }
}

/* The entry of key, or NULL. Under the lock. */
static const struct site_entry *find_entry(const struct collector_sites *sites, const char *key)
{
    struct site_entry probe;
    if (strlen(key) >= sizeof(probe.key))
        return NULL;
    strcpy(probe.key, key);
    return bsearch(&probe, sites->entries, sites->count, sizeof(probe), compare_entries);
}

/* collector_sites_salt's work. Under the lock. */
static int find_salt(const struct collector_sites *sites, long long day,
                     unsigned char salt[MOCHI_SALT_LEN])
{
    int rc = MOCHI_ERR_AGAIN;
    for (int i = 0; i < SALT_DAYS; i++) {
        if (sites->salts[i].present && sites->salts[i].day == day) {
            memcpy(salt, sites->salts[i].salt, MOCHI_SALT_LEN);
            rc = 0;
        }
    }
    return rc;
}

/* collector_sites_local_day's work. Under the lock. */
static int find_local_day(const struct collector_sites *sites, const struct collector_site *site,
                          int64_t occurred_at_us, long long *day)
{
    if (sites->zones != NULL &&
        collector_zones_local_day(sites->zones, site->timezone, occurred_at_us, day) == 0)
        return 0;
    return MOCHI_ERR_AGAIN;
}

/* The entry of key in *e: 0, MOCHI_ERR_AGAIN before the first load, or
 * MOCHI_ERR_NOTFOUND. Under the lock. */
static int loaded_entry(const struct collector_sites *sites, const char *key,
                        const struct site_entry **e)
{
    if (!sites->loaded)
        return MOCHI_ERR_AGAIN;
    *e = find_entry(sites, key);
    return *e != NULL ? 0 : MOCHI_ERR_NOTFOUND;
}

int collector_sites_lookup(struct collector_sites *sites, const char *key,
                           struct collector_site *site)
{
    const struct site_entry *e = NULL;
    pthread_rwlock_rdlock(&sites->lock);
    int rc = loaded_entry(sites, key, &e);
    if (rc == 0)
        *site = e->site;
    pthread_rwlock_unlock(&sites->lock);
    return rc;
}

int collector_sites_salt(struct collector_sites *sites, long long day,
                         unsigned char salt[MOCHI_SALT_LEN])
{
    pthread_rwlock_rdlock(&sites->lock);
    int rc = find_salt(sites, day, salt);
    pthread_rwlock_unlock(&sites->lock);
    return rc;
}

int collector_sites_local_day(struct collector_sites *sites, const struct collector_site *site,
                              int64_t occurred_at_us, long long *day)
{
    pthread_rwlock_rdlock(&sites->lock);
    int rc = find_local_day(sites, site, occurred_at_us, day);
    pthread_rwlock_unlock(&sites->lock);
    return rc;
}

int collector_sites_resolve(struct collector_sites *sites, const char *key, int64_t occurred_at_us,
                            struct collector_site_day *out)
{
    const struct site_entry *e = NULL;
    pthread_rwlock_rdlock(&sites->lock);
    int rc = loaded_entry(sites, key, &e);
    if (rc == 0) {
        out->site = e->site;
        out->day_rc = find_local_day(sites, &e->site, occurred_at_us, &out->day);
        if (out->day_rc == 0)
            out->day_rc = find_salt(sites, out->day, out->salt);
    }
    pthread_rwlock_unlock(&sites->lock);
    return rc;
}

void collector_sites_poke(struct collector_sites *sites)
{
    pthread_mutex_lock(&sites->wake_lock);
    sites->poked = true;
    pthread_cond_signal(&sites->wake);
    pthread_mutex_unlock(&sites->wake_lock);
}
