/* Progress tables (stream.h, mochi_stream_progress_*): where an applier
 * records, per topic and partition, the offset below which every message
 * is applied, and the check that keeps batches from starting past it. */
#include "stream/stream.h"
#include "common/db.h"
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tables these helpers may name: never text from outside. */
static bool known_table(const char *table)
{
    return strcmp(table, "rollup_progress") == 0 || strcmp(table, "ingest_progress") == 0;
}

static int partitions_array(struct mochi_copy_buf *ids, const struct mochi_stream_mark *marks,
                            size_t n, char *err, size_t errlen)
{
    mochi_copy_array_begin(ids);
    for (size_t i = 0; i < n; i++)
        mochi_copy_array_int(ids, marks[i].partition, 0);
    mochi_copy_array_end(ids);
    if (ids->failed) {
        snprintf(err, errlen, "out of memory building the partitions");
        return MOCHI_ERR_NOMEM;
    }
    return 0;
}

int mochi_stream_progress_check(PGconn *conn, const char *table, const char *topic,
                                const struct mochi_stream_mark *marks, size_t n,
                                struct mochi_copy_buf *scratch, int64_t *applied,
                                struct mochi_stream_gap *gaps, size_t *ngaps, char *err,
                                size_t errlen)
{
    *ngaps = 0;
    for (size_t i = 0; applied != NULL && i < n; i++)
        applied[i] = -1;
    if (!known_table(table)) {
        snprintf(err, errlen, "no progress table %s", table);
        return MOCHI_ERR_INVALID;
    }
    if (n == 0)
        return 0;
    int rc = partitions_array(scratch, marks, n, err, errlen);
    if (rc != 0)
        return rc;
    /* Locked for the transaction: a second member applying the same
     * partition (during a rebalance) waits here for the first to commit,
     * then sees its progress. In partition order, as every batch takes
     * them. */
    char sql[200];
    snprintf(sql, sizeof(sql),
             "SELECT partition, next_offset FROM %s WHERE topic = $1"
             " AND partition = ANY($2::int[]) ORDER BY partition FOR UPDATE",
             table);
    const char *params[2] = {topic, scratch->data};
    PGresult *res = NULL;
    rc = mochi_db_query(conn, sql, 2, params, &res, err, errlen);
    if (rc != 0)
        return rc;
    for (int r = 0; r < PQntuples(res); r++) {
        int32_t partition = (int32_t)atoi(PQgetvalue(res, r, 0));
        long long applied_to = atoll(PQgetvalue(res, r, 1));
        for (size_t i = 0; i < n; i++) {
            if (marks[i].partition != partition)
                continue;
            if (applied != NULL)
                applied[i] = applied_to;
            if (marks[i].first_offset > applied_to)
                gaps[(*ngaps)++] =
                    (struct mochi_stream_gap){.partition = partition, .resume_offset = applied_to};
        }
    }
    PQclear(res);
    return *ngaps > 0 ? MOCHI_ERR_GAP : 0;
}

int mochi_stream_progress_advance(PGconn *conn, const char *table, const char *topic,
                                  const struct mochi_stream_mark *marks, size_t n,
                                  struct mochi_copy_buf scratch[2], char *err, size_t errlen)
{
    if (!known_table(table)) {
        snprintf(err, errlen, "no progress table %s", table);
        return MOCHI_ERR_INVALID;
    }
    if (n == 0)
        return 0;
    int rc = partitions_array(&scratch[0], marks, n, err, errlen);
    if (rc != 0)
        return rc;
    mochi_copy_array_begin(&scratch[1]);
    for (size_t i = 0; i < n; i++)
        mochi_copy_array_int(&scratch[1], marks[i].next_offset, 0);
    mochi_copy_array_end(&scratch[1]);
    if (scratch[1].failed) {
        snprintf(err, errlen, "out of memory building the offsets");
        return MOCHI_ERR_NOMEM;
    }
    char sql[400];
    snprintf(sql, sizeof(sql),
             "INSERT INTO %s AS p (topic, partition, next_offset, updated_at)"
             " SELECT $1, m.partition, m.next_offset, now()"
             " FROM unnest($2::int[], $3::int8[]) AS m(partition, next_offset)"
             " ORDER BY m.partition"
             " ON CONFLICT (topic, partition) DO UPDATE SET"
             " next_offset = EXCLUDED.next_offset, updated_at = EXCLUDED.updated_at"
             " WHERE p.next_offset < EXCLUDED.next_offset",
             table);
    const char *params[3] = {topic, scratch[0].data, scratch[1].data};
    long long rows = 0;
    return mochi_db_command(conn, sql, 3, params, &rows, err, errlen);
}
