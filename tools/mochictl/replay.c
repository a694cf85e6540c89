/* mochictl replay: rebuild the aggregates of a date range by replaying the
 * topic through the rollup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/names.h"
#include "tools/mochictl/kafka_admin.h"
#include "tools/mochictl/mochictl.h"

static const struct mochi_setting setting_from = {.name = "from",
                                                  .type = MOCHI_SETTING_DATE,
                                                  .required = true,
                                                  .help = "first day to rebuild (a date as the "
                                                          "aggregates hold it: each site's own "
                                                          "local day)"};
static const struct mochi_setting setting_to = {
    .name = "to",
    .type = MOCHI_SETTING_DATE,
    .help = "last day to rebuild (default: today in UTC+14, the newest date anywhere)"};
static const struct mochi_setting setting_group = {.name = "group",
                                                   .type = MOCHI_SETTING_STRING,
                                                   .default_value = MOCHI_GROUP_ROLLUP,
                                                   .help = "the rollup's consumer group"};
/* --rewind's choices, in the order of their index. */
enum rewind { REWIND_EARLIEST, REWIND_TIME };
static const char *const rewind_choices[] = {"earliest", "time", NULL};
static const struct mochi_setting setting_rewind = {
    .name = "rewind",
    .type = MOCHI_SETTING_ENUM,
    .default_value = "earliest",
    .choices = rewind_choices,
    .help = "where the group restarts: 'earliest' (the log start: exact whatever the events' "
            "delays) or 'time' (the first offset at the earliest start of --from in any zone, "
            "10:00 UTC the day before, minus --margin; faster on a long topic; needs a broker "
            "that looks offsets up by time, which the dev broker does not)"};
static const struct mochi_setting setting_margin = {
    .name = "margin",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "1d",
    .min = 0,
    .max = 3650 * MOCHI_MS_PER_DAY,
    .help = "with --rewind time, how much earlier than --from to restart, for events that "
            "reached Kafka late"};

static const struct mochi_setting *const replay_settings[] = {&mochi_setting_database_url,
                                                              &mochi_setting_brokers,
                                                              &mochi_setting_topic,
                                                              &setting_from,
                                                              &setting_to,
                                                              &setting_group,
                                                              &setting_rewind,
                                                              &setting_margin,
                                                              &mochi_setting_log_level,
                                                              NULL};

static const struct mochi_program_spec replay_spec = {
    .name = "mochictl replay",
    .usage = "--from DATE [--to DATE] [--rewind time|earliest]",
    .summary =
        "Rebuilds the daily aggregates (site, page, source and entry-page metrics) of the days "
        "from --from to --to, each site's days in its own time zone as the events carry them: "
        "refuses while a mochi-rollup is running (it holds a PostgreSQL advisory lock while "
        "connected, and the group must have no members), rewinds the rollup's group, resets "
        "the aggregates and the rollup's state of those days, and opens a replay window so that "
        "the rollup accepts their events even when older than the dedupe retention. Then start "
        "mochi-rollup: the days are exact again once its lag is 0. Other days are untouched.",
    .settings = replay_settings,
    .kafka_properties = true,
};

/* Where each partition restarts: the first offset at or after ts_ms, the
 * log end when nothing is that new, or the log start with 'earliest' or
 * when the broker cannot look up by time. */
static int rewind_offsets(rd_kafka_t *rk, const char *topic, const struct partition_offsets *offs,
                          int n, bool by_time, long long ts_ms,
                          rd_kafka_topic_partition_list_t **out)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, topic, offs[i].partition)->offset =
            by_time ? ts_ms : offs[i].low;
    if (by_time) {
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, list, 10000);
        for (int i = 0; i < n; i++) {
            rd_kafka_topic_partition_t *p = &list->elems[i];
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR || p->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr,
                        "mochictl replay: partition %d: no offset by time (%s); "
                        "restarting from the log start\n",
                        (int)p->partition, rd_kafka_err2str(e ? e : p->err));
                p->offset = offs[i].low;
            } else if (p->offset < 0) {
                p->offset = offs[i].high; /* nothing that new */
            }
        }
    }
    *out = list;
    return 0;
}

/* The aggregates, then the rollup's state, of the days from..to; every
 * table keyed by the event's (site-local) day. A view of local day D
 * happened in UTC days D-1..D+1 (zones span UTC-12..UTC+14), which bounds
 * the partitions of rollup_counted (by UTC minute) to search. And the
 * rollup's progress (rollup_progress, the freshness watermark): what lies
 * at or beyond a partition's rewound offset is no longer counted, so a row
 * that claims it moves back there, with no time claimed until the rollup
 * counts again (its rows only move forward). */
static int reset_days(PGconn *conn, const char *from, const char *to,
                      const rd_kafka_topic_partition_list_t *rewound, char *err, size_t errlen)
{
    static const char *const aggregates[] = {"daily_site_metrics", "daily_page_metrics",
                                             "daily_source_metrics", "daily_entry_page_metrics"};
    static const char *const statements[] = {
        "DELETE FROM daily_visitors WHERE date BETWEEN $1::date AND $2::date",
        ("DELETE FROM rollup_counted WHERE day BETWEEN $1::date AND $2::date"
         " AND occurred_minute >= ($1::date - 1)::timestamp AT TIME ZONE 'UTC'"
         " AND occurred_minute < ($2::date + 2)::timestamp AT TIME ZONE 'UTC'"),
        "INSERT INTO rollup_replays (from_day, to_day) VALUES ($1::date, $2::date)",
    };
    /* Each monthly row (sql/010) is the sum of its month's daily rows:
     * the months the days touch are rebuilt from the daily rows left once
     * the days' are gone (the days before and after the range in those
     * months), so that the rollup's counting again adds up to the same. */
    static const char *const monthly[] = {
        ("DELETE FROM monthly_page_metrics"
         " WHERE month BETWEEN date_trunc('month', $1::date) AND $2::date"),
        ("INSERT INTO monthly_page_metrics (site_id, month, path, page_views)"
         " SELECT site_id, date_trunc('month', date)::date, path, sum(page_views)"
         " FROM daily_page_metrics WHERE date >= date_trunc('month', $1::date)"
         " AND date < date_trunc('month', $2::date) + interval '1 month' GROUP BY 1, 2, 3"),
        ("DELETE FROM monthly_entry_page_metrics"
         " WHERE month BETWEEN date_trunc('month', $1::date) AND $2::date"),
        ("INSERT INTO monthly_entry_page_metrics (site_id, month, path, entries)"
         " SELECT site_id, date_trunc('month', date)::date, path, sum(entries)"
         " FROM daily_entry_page_metrics WHERE date >= date_trunc('month', $1::date)"
         " AND date < date_trunc('month', $2::date) + interval '1 month' GROUP BY 1, 2, 3"),
        ("DELETE FROM monthly_source_metrics"
         " WHERE month BETWEEN date_trunc('month', $1::date) AND $2::date"),
        ("INSERT INTO monthly_source_metrics (site_id, month, source, entries, visitors)"
         " SELECT site_id, date_trunc('month', date)::date, source, sum(entries), sum(visitors)"
         " FROM daily_source_metrics WHERE date >= date_trunc('month', $1::date)"
         " AND date < date_trunc('month', $2::date) + interval '1 month' GROUP BY 1, 2, 3"),
    };
    const char *params[2] = {from, to};
    int rc = mochi_db_exec(conn, "BEGIN", err, errlen);
    for (size_t i = 0; rc == 0 && i < sizeof(aggregates) / sizeof(aggregates[0]); i++) {
        char sql[128];
        long long rows = 0;
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE date BETWEEN $1::date AND $2::date",
                 aggregates[i]);
        rc = mochi_db_command(conn, sql, 2, params, &rows, err, errlen);
        if (rc == 0)
            printf("reset %lld rows of %s\n", rows, aggregates[i]);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(monthly) / sizeof(monthly[0]); i++) {
        long long rows = 0;
        rc = mochi_db_command(conn, monthly[i], 2, params, &rows, err, errlen);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(statements) / sizeof(statements[0]); i++) {
        long long rows = 0;
        rc = mochi_db_command(conn, statements[i], 2, params, &rows, err, errlen);
    }
    for (int i = 0; rc == 0 && i < rewound->cnt; i++) {
        char partition[16], offset[24];
        snprintf(partition, sizeof(partition), "%d", (int)rewound->elems[i].partition);
        snprintf(offset, sizeof(offset), "%lld", (long long)rewound->elems[i].offset);
        const char *progress[3] = {rewound->elems[i].topic, partition, offset};
        long long rows = 0;
        rc =
            mochi_db_command(conn,
                             "UPDATE rollup_progress SET next_offset = $3::int8,"
                             " applied_until = NULL, end_seen_at = NULL, updated_at = now()"
                             " WHERE topic = $1 AND partition = $2::int AND next_offset > $3::int8",
                             3, progress, &rows, err, errlen);
    }
    if (rc == 0)
        rc = mochi_db_exec(conn, "COMMIT", err, errlen);
    return rc;
}

/* Commits offsets for the group. An empty group takes a plain commit on
 * Kafka; brokers that want a member (librdkafka's mock cluster) get one:
 * this client joins the group, waits until it holds every partition, and
 * commits as that member. */
static rd_kafka_resp_err_t commit_for_group(rd_kafka_t *rk, const char *topic,
                                            rd_kafka_topic_partition_list_t *list)
{
    rd_kafka_resp_err_t e = rd_kafka_commit(rk, list, 0);
    if (e != RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID && e != RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION)
        return e;
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return e;
    rd_kafka_poll_set_consumer(rk);
    for (int waited = 0; waited < 300; waited++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m)
            rd_kafka_message_destroy(m);
        rd_kafka_topic_partition_list_t *assigned = NULL;
        int held = 0;
        if (rd_kafka_assignment(rk, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            held = assigned->cnt;
            rd_kafka_topic_partition_list_destroy(assigned);
        }
        if (held == list->cnt) {
            e = rd_kafka_commit(rk, list, 0);
            rd_kafka_consumer_close(rk);
            return e;
        }
    }
    rd_kafka_consumer_close(rk);
    return RD_KAFKA_RESP_ERR__TIMED_OUT;
}

int mochictl_replay(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&replay_spec, argc, argv);
    int code = 2;
    PGconn *conn = NULL;
    rd_kafka_t *rk = NULL;
    struct partition_offsets *offs = NULL;
    rd_kafka_topic_partition_list_t *list = NULL;
    char err[512] = "";
    char to[11];
    long long from_day = mochi_config_int(config, &setting_from);
    /* The newest local day anywhere is UTC+14's. */
    long long to_day = mochi_config_str(config, &setting_to)
                           ? mochi_config_int(config, &setting_to)
                           : mochi_day_of_us(mochi_clock_now_us() + 14 * 3600 * INT64_C(1000000));
    bool by_time = mochi_config_enum(config, &setting_rewind) == REWIND_TIME;
    const char *from = mochi_config_str(config, &setting_from);
    mochi_day_format(to_day, to);
    if (to_day < from_day) {
        fprintf(stderr, "mochictl replay: --to (%s) is before --from (%s)\n", to, from);
        goto out;
    }
    code = 1;
    conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    /* 1. No rollup may run: it would count into the rows we reset. */
    bool locked = false;
    /* A rollup that has just exited may hold the lock for a few more
     * milliseconds, until its server process ends: try for 3 s. */
    for (int attempt = 0; attempt < 30 && !locked; attempt++) {
        if (attempt > 0)
            mochi_clock_sleep_ms(100);
        PGresult *res = NULL;
        if (mochi_db_query(conn, "SELECT pg_try_advisory_lock(" MOCHI_ROLLUP_LOCK_KEY ")", 0, NULL,
                           &res, err, sizeof(err)) == 0) {
            locked = PQgetvalue(res, 0, 0)[0] == 't';
            PQclear(res);
        }
    }
    if (!locked) {
        fprintf(stderr, "mochictl replay: a mochi-rollup is connected to this database (it holds "
                        "the rollup lock); stop every mochi-rollup instance first\n");
        goto out;
    }
    const char *group = mochi_config_str(config, &setting_group);
    rk = mochictl_kafka_open(config, group);
    if (rk == NULL)
        goto out;
    int members = mochictl_kafka_group_members(rk, group, err, sizeof(err));
    if (members > 0) {
        fprintf(stderr,
                "mochictl replay: group %s has %d active member%s; stop every mochi-rollup "
                "instance first\n",
                group, members, members == 1 ? "" : "s");
        goto out;
    }
    if (members < 0)
        fprintf(stderr,
                "mochictl replay: note: the broker cannot list group members (%s); "
                "relying on the database lock\n",
                err);

    /* 2. Rewind the group, then reset the days. A failure between the two
     * leaves only a rewound group, which is harmless: run replay again. */
    int n = 0;
    if (mochictl_kafka_offsets(rk, mochi_config_str(config, &mochi_setting_topic), 10000, &offs,
                               &n) != 0)
        goto out;
    /* --from begins first in UTC+14, at 10:00 UTC the day before. */
    long long ts_ms =
        from_day * MOCHI_MS_PER_DAY - 14 * 3600 * 1000LL - mochi_config_ms(config, &setting_margin);
    rewind_offsets(rk, mochi_config_str(config, &mochi_setting_topic), offs, n, by_time, ts_ms,
                   &list);
    rd_kafka_resp_err_t e =
        commit_for_group(rk, mochi_config_str(config, &mochi_setting_topic), list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "mochictl replay: cannot rewind group %s: %s%s\n", group,
                rd_kafka_err2str(e),
                e == RD_KAFKA_RESP_ERR__TIMED_OUT
                    ? " (the group coordinator did not let mochictl join; with the dev broker "
                      "this happens right after the last rollup left: wait for its "
                      "session.timeout.ms and run replay again; nothing was reset)"
                    : "");
        goto out;
    }
    for (int i = 0; i < list->cnt; i++)
        printf("rewound %s partition %d to offset %lld (was %lld)\n", group,
               (int)list->elems[i].partition, (long long)list->elems[i].offset,
               (long long)offs[i].committed);
    if (reset_days(conn, from, to, list, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl replay: cannot reset %s..%s: %s\n", from, to, err);
        goto out;
    }
    printf("replay of %s..%s ready: start mochi-rollup; the days are exact again once "
           "`mochictl lag --group %s` shows 0\n",
           from, to, group);
    code = 0;
out:
    if (list)
        rd_kafka_topic_partition_list_destroy(list);
    free(offs);
    if (rk)
        rd_kafka_destroy(rk);
    PQfinish(conn); /* releases the advisory lock */
    mochi_config_destroy(config);
    return code;
}
