#include "ingest.h"
#include "copy.h"
#include "db.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

const char *const ingest_outcomes[] = {"stored", "duplicate", "unknown_site", NULL};

struct ingest {
    struct mochi_copy_buf rows;
};

/* A batch goes to the server with COPY into a temporary table, and one
 * statement then (1) keeps the events of sites that exist (a site removed
 * while its events were in Kafka must not fail the batch), (2) records
 * their dedupe keys, getting back only the keys that were new, and (3)
 * inserts one raw event per new key, the first of the batch winning. A
 * second apply of the same batch finds every key present and adds nothing. */
static const char apply_sql[] =
    "WITH known AS ("
    "  SELECT b.* FROM ingest_batch b"
    "  WHERE EXISTS (SELECT 1 FROM sites s WHERE s.id = b.site_id)"
    "), fresh AS ("
    "  INSERT INTO ingestion_dedupe (site_id, dedupe_key, occurred_minute)"
    "  SELECT DISTINCT site_id, dedupe_key, occurred_minute FROM known"
    "  ON CONFLICT DO NOTHING"
    "  RETURNING site_id, dedupe_key, occurred_minute"
    "), stored AS ("
    "  INSERT INTO page_view_events (site_id, path, referrer, visitor_hash, occurred_at)"
    "  SELECT DISTINCT ON (k.site_id, k.dedupe_key, k.occurred_minute)"
    "         k.site_id, k.path, k.referrer, k.visitor_hash, k.occurred_at"
    "  FROM known k JOIN fresh f USING (site_id, dedupe_key, occurred_minute)"
    "  ORDER BY k.site_id, k.dedupe_key, k.occurred_minute, k.ord"
    "  RETURNING 1"
    ")"
    "SELECT (SELECT count(*) FROM stored), (SELECT count(*) FROM known),"
    "       (SELECT count(*) FROM ingest_batch)";

struct ingest *ingest_new(void)
{
    return calloc(1, sizeof(struct ingest));
}

void ingest_destroy(struct ingest *ingest)
{
    if (ingest == NULL)
        return;
    mochi_copy_free(&ingest->rows);
    free(ingest);
}

int ingest_prepare(void *arg, PGconn *conn)
{
    (void)arg;
    char err[256];
    int rc = mochi_db_exec(conn,
                           "CREATE TEMP TABLE IF NOT EXISTS ingest_batch ("
                           " ord integer, site_id uuid, dedupe_key text,"
                           " occurred_minute timestamptz, path text, referrer text,"
                           " visitor_hash text, occurred_at timestamptz)"
                           " ON COMMIT DELETE ROWS",
                           err, sizeof(err));
    if (rc != 0)
        mochi_log(MOCHI_LOG_WARN, "consumer", "msg=\"cannot prepare the session\" error=\"%s\"",
                  err);
    return rc;
}

static void build_rows(struct ingest *ingest, const struct mochi_stream_event *events, size_t n)
{
    struct mochi_copy_buf *rows = &ingest->rows;
    mochi_copy_reset(rows);
    for (size_t i = 0; i < n; i++) {
        const struct mochi_stream_event *e = &events[i];
        mochi_copy_int(rows, (long long)i, 0);
        mochi_copy_text(rows, e->ev.site_id, 0);
        mochi_copy_text(rows, e->dedupe_key, 0);
        mochi_copy_time(rows, e->minute_us, 0);
        mochi_copy_text(rows, e->ev.path, 0);
        mochi_copy_text(rows, e->ev.has_referrer ? e->ev.referrer : NULL, 0);
        mochi_copy_text(rows, e->ev.visitor_hash, 0);
        mochi_copy_time(rows, e->ev.occurred_at_us, 1);
    }
}

int ingest_apply(void *arg, PGconn *conn, const struct mochi_stream_event *events, size_t n,
                 struct mochi_stream_counts *counts)
{
    struct ingest *ingest = arg;
    char err[512] = "";
    PGresult *res = NULL;
    build_rows(ingest, events, n);
    int rc = mochi_copy_apply(conn, "COPY ingest_batch FROM STDIN", &ingest->rows, apply_sql, &res,
                              err, sizeof(err));
    if (rc != 0) {
        mochi_log(MOCHI_LOG_WARN, "consumer", "msg=\"batch transaction failed\" error=\"%s\"", err);
        return rc == MOCHI_ERR_NOMEM ? MOCHI_ERR_AGAIN : rc;
    }
    long long stored = atoll(PQgetvalue(res, 0, 0));
    long long known = atoll(PQgetvalue(res, 0, 1));
    long long total = atoll(PQgetvalue(res, 0, 2));
    PQclear(res);
    counts->n[INGEST_STORED] = (uint64_t)stored;
    counts->n[INGEST_DUPLICATE] = (uint64_t)(known - stored);
    counts->n[INGEST_UNKNOWN_SITE] = (uint64_t)(total - known);
    return 0;
}
