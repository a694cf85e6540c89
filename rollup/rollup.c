#include "rollup/rollup.h"
#include "common/clock.h"
#include "common/copy.h"
#include "common/db.h"
#include "common/names.h"
#include "common/error.h"
#include "common/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLAYS 32
#define REPLAY_REFRESH_MS 5000

const char *const rollup_outcomes[] = {"counted", "duplicate", "unknown_site", NULL};

struct replay_window {
    long long from_day, to_day; /* days since 1970-01-01, inclusive */
};

/* The arrays of a progress write (write_progress), as array literals. */
enum {
    PROGRESS_PARTITION,
    PROGRESS_NEXT,
    PROGRESS_LAST_MS,
    PROGRESS_END,
    PROGRESS_AGE_MS,
    NPROGRESS
};

struct rollup {
    struct mochi_copy_buf rows;
    struct mochi_copy_buf progress[NPROGRESS];
    struct mochi_copy_buf partitions; /* mochi_stream_progress_check's */
    /* Written by the thread that applies batches, read by the one that
     * polls Kafka (accept_old). */
    pthread_mutex_t replays_lock;
    struct replay_window replays[MAX_REPLAYS];
    size_t nreplays;
    int64_t replays_read_ms; /* mochi_clock_mono_ms(); 0: never */
};

/* One statement per batch, after the batch is copied into a temporary
 * table. Every count is by the day the event carries (its site-local day):
 *   known         events of sites that exist;
 *   copies        one row per page view of the batch (its first copy);
 *   new_views     page views not counted before (rollup_counted), returned
 *                 only when this insert added them, with their day so that
 *                 a replay can forget exactly the views of its days;
 *   views         those page views with what the aggregates need;
 *   firsts        per visitor and day, the earliest of those views (then
 *                 the smaller source), which earns the visitor's day for
 *                 its source ('' for "Direct / none" and non-entries);
 *   earlier       those that can change daily_visitors: a visitor new to
 *                 the day, or a view earlier than the one the row holds.
 *                 Looked up first because an upsert that changes nothing
 *                 still locks the row, which writes WAL and dirties its
 *                 page, and most views are a visitor's second or later
 *                 page of the day (docs/benchmarks-pipeline.md). Rows move
 *                 only to earlier views, so a view that is not earlier
 *                 now never will be;
 *   visitors      daily_visitors rows inserted (a new unique visitor,
 *                 replaced_source NULL) or moved to an earlier first view
 *                 (the credit moves from replaced_source to source);
 *   source_deltas what each (site, day, source) gains or loses;
 * then the four aggregates get what is new, in key order (so that two
 * instances briefly sharing a site during a rebalance lock rows in the same
 * order). A source's visitors therefore always add up to the day's unique
 * visitors, and go to the same source whatever order the views of one
 * visitor arrive in: one collector publishes a site's views in order to
 * one partition (the key is the site), but several collectors interleave
 * theirs as their queues and clocks allow. The monthly lists (sql/010,
 * keyed by the site-local month of the day) get the same deltas summed by
 * month, so that each monthly row stays the sum of its month's daily rows.
 * Those inserts return nothing: PostgreSQL runs a data-modifying CTE to
 * completion whether or not anything reads it, and the statement returns
 * only the page views counted and the events of known sites.
 */
static const char apply_sql[] =
    "WITH known AS ("
    "  SELECT b.* FROM rollup_batch b"
    "  WHERE EXISTS (SELECT 1 FROM sites s WHERE s.id = b.site_id)"
    "), copies AS ("
    "  SELECT DISTINCT ON (site_id, dedupe_key, occurred_minute) * FROM known"
    "  ORDER BY site_id, dedupe_key, occurred_minute, ord"
    "), new_views AS ("
    "  INSERT INTO rollup_counted (site_id, dedupe_key, occurred_minute, day)"
    "  SELECT site_id, dedupe_key, occurred_minute, day FROM copies"
    "  ON CONFLICT DO NOTHING"
    "  RETURNING site_id, dedupe_key, occurred_minute"
    "), views AS ("
    "  SELECT c.site_id, c.day, c.path, c.visitor_hash, c.occurred_at, c.entry,"
    "         CASE WHEN c.entry THEN coalesce(c.source, '') ELSE '' END AS source"
    "  FROM copies c JOIN new_views n USING (site_id, dedupe_key, occurred_minute)"
    "), firsts AS ("
    "  SELECT DISTINCT ON (site_id, day, visitor_hash) site_id, day, visitor_hash,"
    "         occurred_at, source"
    "  FROM views ORDER BY site_id, day, visitor_hash, occurred_at, source"
    "), earlier AS ("
    "  SELECT * FROM firsts f WHERE NOT EXISTS ("
    "    SELECT 1 FROM daily_visitors v WHERE v.site_id = f.site_id"
    "    AND v.date = f.day AND v.visitor_hash = f.visitor_hash"
    "    AND (v.first_at, v.source) <= (f.occurred_at, f.source))"
    "), visitors AS ("
    "  INSERT INTO daily_visitors AS v (site_id, date, visitor_hash, first_at, source)"
    "  SELECT site_id, day, visitor_hash, occurred_at, source FROM earlier"
    "  ORDER BY site_id, day, visitor_hash"
    "  ON CONFLICT (site_id, date, visitor_hash) DO UPDATE SET"
    "    first_at = EXCLUDED.first_at, source = EXCLUDED.source, replaced_source = v.source"
    "  WHERE (EXCLUDED.first_at, EXCLUDED.source) < (v.first_at, v.source)"
    "  RETURNING site_id, date, source, replaced_source"
    "), site_rows AS ("
    "  INSERT INTO daily_site_metrics AS m (site_id, date, page_views, unique_visitors)"
    "  SELECT site_id, date, sum(pv), sum(uv) FROM ("
    "    SELECT site_id, day AS date, count(*) AS pv, 0 AS uv FROM views GROUP BY 1, 2"
    "    UNION ALL"
    "    SELECT site_id, date, 0, count(*) FROM visitors WHERE replaced_source IS NULL"
    "    GROUP BY 1, 2"
    "  ) x GROUP BY site_id, date ORDER BY site_id, date"
    "  ON CONFLICT (site_id, date) DO UPDATE SET"
    "    page_views = m.page_views + EXCLUDED.page_views,"
    "    unique_visitors = m.unique_visitors + EXCLUDED.unique_visitors"
    "), page_rows AS ("
    "  INSERT INTO daily_page_metrics AS m (site_id, date, path, page_views)"
    "  SELECT site_id, day, path, count(*) FROM views"
    "  GROUP BY site_id, day, path ORDER BY site_id, day, path"
    "  ON CONFLICT (site_id, date, path) DO UPDATE SET page_views = m.page_views + "
    "EXCLUDED.page_views"
    "), entry_rows AS ("
    "  INSERT INTO daily_entry_page_metrics AS m (site_id, date, path, entries)"
    "  SELECT site_id, day, path, count(*) FROM views WHERE entry"
    "  GROUP BY site_id, day, path ORDER BY site_id, day, path"
    "  ON CONFLICT (site_id, date, path) DO UPDATE SET entries = m.entries + EXCLUDED.entries"
    "), source_deltas AS ("
    "  SELECT site_id, date, source, sum(e) AS e, sum(n) AS n FROM ("
    "    SELECT site_id, day AS date, source, count(*) AS e, 0 AS n FROM views WHERE entry"
    "    GROUP BY 1, 2, 3"
    "    UNION ALL"
    "    SELECT site_id, date, source, 0, count(*) FROM visitors GROUP BY 1, 2, 3"
    "    UNION ALL"
    "    SELECT site_id, date, replaced_source, 0, -count(*) FROM visitors"
    "    WHERE replaced_source IS NOT NULL GROUP BY 1, 2, 3"
    "  ) x GROUP BY site_id, date, source HAVING sum(e) <> 0 OR sum(n) <> 0"
    "), source_rows AS ("
    "  INSERT INTO daily_source_metrics AS m (site_id, date, source, entries, visitors)"
    "  SELECT site_id, date, source, e, n FROM source_deltas"
    "  ORDER BY site_id, date, source"
    "  ON CONFLICT (site_id, date, source) DO UPDATE SET"
    "    entries = m.entries + EXCLUDED.entries, visitors = m.visitors + EXCLUDED.visitors"
    "), month_page_rows AS ("
    "  INSERT INTO monthly_page_metrics AS m (site_id, month, path, page_views)"
    "  SELECT site_id, date_trunc('month', day)::date, path, count(*) FROM views"
    "  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    "  ON CONFLICT (site_id, month, path) DO UPDATE SET"
    "    page_views = m.page_views + EXCLUDED.page_views"
    "), month_entry_rows AS ("
    "  INSERT INTO monthly_entry_page_metrics AS m (site_id, month, path, entries)"
    "  SELECT site_id, date_trunc('month', day)::date, path, count(*) FROM views WHERE entry"
    "  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    "  ON CONFLICT (site_id, month, path) DO UPDATE SET entries = m.entries + EXCLUDED.entries"
    "), month_source_rows AS ("
    "  INSERT INTO monthly_source_metrics AS m (site_id, month, source, entries, visitors)"
    "  SELECT site_id, date_trunc('month', date)::date, source, sum(e), sum(n)"
    "  FROM source_deltas GROUP BY 1, 2, 3 HAVING sum(e) <> 0 OR sum(n) <> 0"
    "  ORDER BY 1, 2, 3"
    "  ON CONFLICT (site_id, month, source) DO UPDATE SET"
    "    entries = m.entries + EXCLUDED.entries, visitors = m.visitors + EXCLUDED.visitors"
    ")"
    "SELECT (SELECT count(*) FROM views), (SELECT count(*) FROM known)";

/* How far the rollup has counted each partition, for the freshness
 * watermark (sql/008, rollup_progress; sql/009, mochi_freshness): written
 * in the transaction of the batch it describes, so that it never says
 * more than the aggregates hold. Every message below next_offset is
 * counted (or was skipped: undecodable, too old); applied_until is the
 * broker timestamp of the last one; end_offset the log end as the stream
 * knew it; end_seen_at, when the stream found the log end at or below
 * next_offset by a look-up (stream/ends.h): now() less the look-up's age,
 * measured after BEGIN, so that it is never later than the look-up on the
 * server's clock. A row moves forward only: a batch applied again after a
 * crash or by a member that lost the partition (its offsets below the
 * row's) changes nothing, so next_offset is always exactly how far the
 * aggregates go; mochictl replay moves it back itself. $2..$6 are arrays
 * of one element per partition; NULL where a value is unknown. */
static const char progress_sql[] =
    "INSERT INTO rollup_progress AS p"
    "  (topic, partition, next_offset, applied_until, end_offset, end_seen_at, updated_at)"
    " SELECT $1, m.partition, m.next_offset,"
    "  timestamptz 'epoch' + m.last_ms * interval '1 millisecond', m.end_offset,"
    "  now() - m.age_ms * interval '1 millisecond', now()"
    " FROM unnest($2::int[], $3::int8[], $4::int8[], $5::int8[], $6::int8[])"
    "  AS m(partition, next_offset, last_ms, end_offset, age_ms)"
    " ORDER BY m.partition"
    " ON CONFLICT (topic, partition) DO UPDATE SET"
    "  next_offset = EXCLUDED.next_offset,"
    "  applied_until = coalesce(EXCLUDED.applied_until, p.applied_until),"
    "  end_offset = coalesce(EXCLUDED.end_offset, p.end_offset),"
    "  end_seen_at = greatest(EXCLUDED.end_seen_at, p.end_seen_at),"
    "  updated_at = EXCLUDED.updated_at"
    " WHERE p.next_offset <= EXCLUDED.next_offset";

static void read_replays(struct rollup *rollup, PGconn *conn);
static int write_progress(struct rollup *rollup, PGconn *conn, const char *topic,
                          const struct mochi_stream_mark *marks, size_t n, char *err,
                          size_t errlen);

struct rollup *rollup_new(void)
{
    struct rollup *rollup = calloc(1, sizeof(struct rollup));
    if (rollup != NULL)
        pthread_mutex_init(&rollup->replays_lock, NULL);
    return rollup;
}

void rollup_destroy(struct rollup *rollup)
{
    if (rollup == NULL)
        return;
    mochi_copy_free(&rollup->rows);
    for (int i = 0; i < NPROGRESS; i++)
        mochi_copy_free(&rollup->progress[i]);
    mochi_copy_free(&rollup->partitions);
    pthread_mutex_destroy(&rollup->replays_lock);
    free(rollup);
}

int rollup_prepare(void *arg, PGconn *conn)
{
    struct rollup *rollup = arg;
    char err[256];
    rollup->replays_read_ms = 0;
    /* Held for as long as this session lives: mochictl replay takes the
     * same lock exclusively, so it cannot run while a rollup is connected,
     * and a rollup starting during a replay waits for it. */
    int rc = mochi_db_exec(conn, "SELECT pg_advisory_lock_shared(" MOCHI_ROLLUP_LOCK_KEY ")", err,
                           sizeof(err));
    if (rc == 0)
        rc = mochi_db_exec(conn,
                           "CREATE TEMP TABLE IF NOT EXISTS rollup_batch ("
                           " ord integer, site_id uuid, dedupe_key text,"
                           " occurred_minute timestamptz, occurred_at timestamptz, day date,"
                           " path text, visitor_hash text, entry boolean, source text)"
                           " ON COMMIT DELETE ROWS",
                           err, sizeof(err));
    if (rc != 0)
        mochi_log(MOCHI_LOG_WARN, "rollup", "msg=\"cannot prepare the session\" error=\"%s\"", err);
    if (rc == 0)
        read_replays(rollup, conn);
    return rc;
}

/* Caches the open replay windows; called with a live connection only
 * (prepare and apply), so that accept_old never touches the database. */
static void read_replays(struct rollup *rollup, PGconn *conn)
{
    int64_t now_ms = mochi_clock_mono_ms();
    if (rollup->replays_read_ms != 0 && now_ms - rollup->replays_read_ms < REPLAY_REFRESH_MS)
        return;
    rollup->replays_read_ms = now_ms;
    /* A replay's window stays open for a week: long enough for any catch-up. */
    PGresult *res = NULL;
    char err[256];
    if (mochi_db_query(conn,
                       "SELECT from_day - DATE '1970-01-01', to_day - DATE '1970-01-01'"
                       " FROM rollup_replays WHERE requested_at > now() - interval '7 days'"
                       " ORDER BY id DESC LIMIT 32",
                       0, NULL, &res, err, sizeof(err)) != 0) {
        /* The cached windows stay; the batch that follows meets the same
         * database and says what is wrong. */
        mochi_log(MOCHI_LOG_DEBUG, "rollup", "msg=\"cannot read replay windows\" error=\"%s\"",
                  err);
        return;
    }
    pthread_mutex_lock(&rollup->replays_lock);
    rollup->nreplays = 0;
    for (int i = 0; i < PQntuples(res) && i < MAX_REPLAYS; i++)
        rollup->replays[rollup->nreplays++] =
            (struct replay_window){atoll(PQgetvalue(res, i, 0)), atoll(PQgetvalue(res, i, 1))};
    pthread_mutex_unlock(&rollup->replays_lock);
    PQclear(res);
}

bool rollup_accept_old(void *arg, const struct mochi_pageview *ev)
{
    struct rollup *rollup = arg;
    long long day = ev->day; /* replays are by the day the aggregates use */
    bool open = false;
    pthread_mutex_lock(&rollup->replays_lock);
    for (size_t i = 0; i < rollup->nreplays && !open; i++)
        open = day >= rollup->replays[i].from_day && day <= rollup->replays[i].to_day;
    pthread_mutex_unlock(&rollup->replays_lock);
    return open;
}

static void build_rows(struct rollup *rollup, const struct mochi_stream_event *events, size_t n)
{
    struct mochi_copy_buf *rows = &rollup->rows;
    mochi_copy_reset(rows);
    /* rollup_batch's columns (rollup_prepare), in binary (common/copy.h) */
    for (size_t i = 0; i < n; i++) {
        const struct mochi_stream_event *e = &events[i];
        mochi_copyb_row(rows, 10);
        mochi_copyb_int4(rows, (int32_t)i);
        mochi_copyb_uuid(rows, e->ev.site_id);
        mochi_copyb_text(rows, e->dedupe_key);
        mochi_copyb_time(rows, e->minute_us);
        mochi_copyb_time(rows, e->ev.occurred_at_us);
        mochi_copyb_date(rows, e->ev.day);
        mochi_copyb_text(rows, e->ev.path);
        mochi_copyb_text(rows, e->ev.visitor_hash);
        mochi_copyb_bool(rows, e->ev.entry);
        mochi_copyb_text(rows, e->ev.has_source ? e->ev.source : NULL);
    }
}

/* Writes marks[0..n) to rollup_progress (progress_sql) in the session's
 * transaction. Returns 0 or mochi_db_error's class with the reason in
 * err; MOCHI_ERR_NOMEM when the arrays could not be built. */
static int write_progress(struct rollup *rollup, PGconn *conn, const char *topic,
                          const struct mochi_stream_mark *marks, size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    struct mochi_copy_buf *a = rollup->progress;
    for (int i = 0; i < NPROGRESS; i++)
        mochi_copy_array_begin(&a[i]);
    int64_t now_ms = mochi_clock_mono_ms(); /* after BEGIN: now() is earlier */
    for (size_t i = 0; i < n; i++) {
        const struct mochi_stream_mark *m = &marks[i];
        int64_t age = now_ms - m->end_seen_mono_ms;
        mochi_copy_array_int(&a[PROGRESS_PARTITION], m->partition, false);
        mochi_copy_array_int(&a[PROGRESS_NEXT], m->next_offset, false);
        mochi_copy_array_int(&a[PROGRESS_LAST_MS], m->last_timestamp_ms, m->last_timestamp_ms < 0);
        mochi_copy_array_int(&a[PROGRESS_END], m->end_offset, m->end_offset < 0);
        mochi_copy_array_int(&a[PROGRESS_AGE_MS], age > 0 ? age : 0, m->end_seen_mono_ms <= 0);
    }
    const char *params[1 + NPROGRESS] = {topic};
    for (int i = 0; i < NPROGRESS; i++) {
        mochi_copy_array_end(&a[i]);
        if (a[i].failed) {
            snprintf(err, errlen, "out of memory building the progress");
            return MOCHI_ERR_NOMEM;
        }
        params[1 + i] = a[i].data;
    }
    long long rows = 0;
    return mochi_db_command(conn, progress_sql, 1 + NPROGRESS, params, &rows, err, errlen);
}

int rollup_apply(void *arg, PGconn *conn, const struct mochi_stream_batch *batch,
                 struct mochi_stream_counts *counts)
{
    struct rollup *rollup = arg;
    char err[512] = "";
    PGresult *res = NULL;
    read_replays(rollup, conn);
    build_rows(rollup, batch->events, batch->nevents);
    int rc = rollup->rows.failed ? MOCHI_ERR_NOMEM : mochi_db_exec(conn, "BEGIN", err, sizeof(err));
    if (rc == 0)
        rc = mochi_stream_progress_check(conn, "rollup_progress", batch->topic, batch->marks,
                                         batch->nmarks, &rollup->partitions, NULL, batch->gaps,
                                         batch->ngaps, err, sizeof(err));
    /* A batch whose messages were all skipped only moves the progress. */
    if (rc == 0 && batch->nevents > 0) {
        rc = mochi_copy_send_binary(conn, "COPY rollup_batch FROM STDIN (FORMAT binary)",
                                    &rollup->rows, err, sizeof(err));
        if (rc == 0)
            rc = mochi_db_query(conn, apply_sql, 0, NULL, &res, err, sizeof(err));
    }
    if (rc == 0)
        rc = write_progress(rollup, conn, batch->topic, batch->marks, batch->nmarks, err,
                            sizeof(err));
    if (rc == 0)
        rc = mochi_db_exec(conn, "COMMIT", err, sizeof(err));
    if (rc == MOCHI_ERR_GAP) {
        mochi_db_rollback(conn); /* nothing applied; the stream says which */
        return rc;
    }
    if (rc != 0) {
        mochi_db_rollback(conn);
        PQclear(res);
        if (err[0] == '\0')
            snprintf(err, sizeof(err), "%s", mochi_strerror(rc));
        mochi_log(MOCHI_LOG_WARN, "rollup", "msg=\"batch transaction failed\" error=\"%s\"", err);
        return rc == MOCHI_ERR_NOMEM ? MOCHI_ERR_AGAIN : rc;
    }
    memset(counts, 0, sizeof(*counts));
    if (res == NULL)
        return 0;
    long long counted = atoll(PQgetvalue(res, 0, 0));
    long long known = atoll(PQgetvalue(res, 0, 1));
    long long total = (long long)batch->nevents; /* every one is in rollup_batch */
    PQclear(res);
    counts->n[ROLLUP_COUNTED] = (uint64_t)counted;
    counts->n[ROLLUP_DUPLICATE] = (uint64_t)(known - counted);
    counts->n[ROLLUP_UNKNOWN_SITE] = (uint64_t)(total - known);
    return 0;
}

int rollup_idle(void *arg, PGconn *conn, const char *topic, const struct mochi_stream_mark *ends,
                size_t n, struct mochi_stream_gap *gaps, size_t *ngaps)
{
    struct rollup *rollup = arg;
    char err[512] = "";
    int rc = mochi_db_exec(conn, "BEGIN", err, sizeof(err));
    if (rc == 0)
        rc = mochi_stream_progress_check(conn, "rollup_progress", topic, ends, n,
                                         &rollup->partitions, NULL, gaps, ngaps, err, sizeof(err));
    if (rc == 0)
        rc = write_progress(rollup, conn, topic, ends, n, err, sizeof(err));
    if (rc == 0)
        rc = mochi_db_exec(conn, "COMMIT", err, sizeof(err));
    if (rc != 0)
        mochi_db_rollback(conn);
    if (rc != 0 && rc != MOCHI_ERR_GAP)
        mochi_log(MOCHI_LOG_DEBUG, "rollup",
                  "msg=\"cannot record partitions at their end\" error=\"%s\"", err);
    return rc == MOCHI_ERR_NOMEM ? MOCHI_ERR_AGAIN : rc;
}
