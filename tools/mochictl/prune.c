/* mochictl prune: retention by dropping whole day partitions, and salts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "tools/mochictl/mochictl.h"
#include "common/salt.h"
#include "stream/stream.h"

static const struct mochi_setting setting_raw = {
    .name = "raw-retention",
    .env = "MOCHI_RAW_RETENTION",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "30d",
    .min = MOCHI_MS_PER_DAY,
    .max = 3650 * MOCHI_MS_PER_DAY,
    .help = "how long raw events (page_view_events) are kept"};
static const struct mochi_setting setting_dry_run = {.name = "dry-run",
                                                     .type = MOCHI_SETTING_FLAG,
                                                     .default_value = "false",
                                                     .help =
                                                         "say what would be dropped, drop nothing"};

static const struct mochi_setting *const prune_settings[] = {
    &mochi_setting_database_url, &setting_raw, &mochi_setting_retention, &setting_dry_run,
    &mochi_setting_log_level,    NULL};

static const struct mochi_program_spec prune_spec = {
    .name = "mochictl prune",
    .usage = "[--raw-retention 30d] [--dedupe-retention 7d] [--dry-run]",
    .summary =
        "Drops the day partitions of page_view_events older than --raw-retention, and "
        "those of ingestion_dedupe, rollup_counted and daily_visitors older than "
        "--dedupe-retention (use the same value as the consumer and rollup: they refuse "
        "events older than it), and deletes the salts of days that have ended everywhere "
        "(day D's at D+1 13:00 UTC: D ends at UTC-12 at noon, plus an hour). A day is dropped "
        "only when all of it is older than the retention: a UTC day for the tables kept by "
        "time, and for daily_visitors (kept by site-local date) a day that has ended in every "
        "zone, so one day later. Aggregates are never pruned.",
    .settings = prune_settings,
};

/* Drops one partition; waits at most 5 s for its lock per try so that it
 * never stalls the pipeline for long. */
static int drop_partition(PGconn *conn, const char *name, char *err, size_t errlen)
{
    /* The name comes from the database (day_partitions), but a name is
     * quoted by the server's rules, never by hand, and schema-qualified. */
    char *quoted = PQescapeIdentifier(conn, name, strlen(name));
    if (quoted == NULL) {
        snprintf(err, errlen, "cannot quote %s: %s", name, PQerrorMessage(conn));
        return MOCHI_ERR_INVALID;
    }
    char sql[512];
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS public.%s", quoted);
    PQfreemem(quoted);
    int rc = MOCHI_ERR_AGAIN;
    for (int attempt = 0; attempt < 5 && rc != 0; attempt++) {
        rc = mochi_db_exec(conn, "SET lock_timeout = '5s'", err, errlen);
        if (rc == 0)
            rc = mochi_db_exec(conn, sql, err, errlen);
    }
    return rc;
}

int mochictl_prune(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&prune_spec, argc, argv);
    int code = 1;
    PGresult *res = NULL;
    char err[512];
    bool dry = mochi_config_flag(config, &setting_dry_run);
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    long long now_ms = mochi_clock_now_us() / 1000;
    /* the first day that is kept: every day before it lies wholly beyond the retention */
    long long raw_keep = (now_ms - mochi_config_ms(config, &setting_raw)) / MOCHI_MS_PER_DAY;
    long long state_keep =
        (now_ms - mochi_config_ms(config, &mochi_setting_retention)) / MOCHI_MS_PER_DAY;
    char raw_day[11], state_day[11];
    mochi_day_format(raw_keep, raw_day);
    mochi_day_format(state_keep, state_day);
    const char *params[] = {raw_day, state_day};
    /* A table partitioned by date holds site-local days: local day D still
     * receives events until D+1 12:00 UTC (UTC-12), so its partition goes
     * one day after the UTC day's. */
    if (mochi_db_query(conn,
                       "SELECT d.partition_name, d.table_name, d.day FROM day_partitions d"
                       " JOIN partitioned_tables t USING (table_name)"
                       " WHERE (d.table_name = 'page_view_events' AND d.day < $1::date)"
                       "    OR (d.table_name <> 'page_view_events' AND NOT t.is_date"
                       "        AND d.day < $2::date)"
                       "    OR (t.is_date AND d.day < $2::date - 1)"
                       " ORDER BY d.day, d.table_name",
                       2, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl prune: %s\n", err);
        goto out;
    }
    int n = PQntuples(res);
    printf("keeping raw events from %s and dedupe state from %s (UTC days; visitors of "
           "site-local days from the day before)\n",
           raw_day, state_day);
    int dropped = 0;
    for (int i = 0; i < n; i++) {
        const char *name = PQgetvalue(res, i, 0);
        if (dry) {
            printf("would drop %s (%s, %s)\n", name, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
            continue;
        }
        if (drop_partition(conn, name, err, sizeof(err)) != 0) {
            fprintf(stderr, "mochictl prune: cannot drop %s: %s\n", name, err);
            goto out;
        }
        printf("dropped %s\n", name);
        dropped++;
    }
    if (n == 0)
        printf("no partition to drop\n");
    if (dry) {
        PGresult *salts = NULL;
        if (mochi_db_query(conn,
                           "SELECT count(*) FROM salts"
                           " WHERE day < mochi_salt_keep_from(now())",
                           0, NULL, &salts, err, sizeof(err)) == 0) {
            printf("would delete %s salt%s of days that have ended everywhere\n",
                   PQgetvalue(salts, 0, 0), strcmp(PQgetvalue(salts, 0, 0), "1") == 0 ? "" : "s");
            PQclear(salts);
        }
    } else {
        int gone = mochi_salt_expire(conn);
        if (gone < 0) {
            fprintf(stderr, "mochictl prune: cannot delete old salts\n");
            goto out;
        }
        printf("deleted %d salt%s of days that have ended everywhere\n", gone,
               gone == 1 ? "" : "s");
        printf("dropped %d partition%s\n", dropped, dropped == 1 ? "" : "s");
    }
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}
