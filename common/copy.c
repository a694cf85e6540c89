#include "copy.h"
#include "db.h"
#include "error.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void reserve(struct mochi_copy_buf *buf, size_t more)
{
    if (buf->failed || buf->len + more <= buf->cap)
        return;
    size_t cap = buf->cap ? buf->cap : 4096;
    while (cap < buf->len + more)
        cap *= 2;
    char *grown = realloc(buf->data, cap);
    if (grown == NULL) {
        buf->failed = 1;
        return;
    }
    buf->data = grown;
    buf->cap = cap;
}

void mochi_copy_reset(struct mochi_copy_buf *buf)
{
    buf->len = 0;
    buf->failed = 0;
}

void mochi_copy_free(struct mochi_copy_buf *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

static void end_column(struct mochi_copy_buf *buf, int last)
{
    reserve(buf, 1);
    if (!buf->failed)
        buf->data[buf->len++] = last ? '\n' : '\t';
}

void mochi_copy_text(struct mochi_copy_buf *buf, const char *text, int last)
{
    if (text == NULL) {
        reserve(buf, 2);
        if (!buf->failed) {
            memcpy(buf->data + buf->len, "\\N", 2);
            buf->len += 2;
        }
        end_column(buf, last);
        return;
    }
    size_t n = strlen(text);
    reserve(buf, 2 * n);
    if (buf->failed)
        return;
    /* COPY text format: backslash escapes for the delimiter, newlines and
     * the backslash itself; everything else is taken as is. */
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        switch (c) {
        case '\\':
            buf->data[buf->len++] = '\\';
            buf->data[buf->len++] = '\\';
            break;
        case '\t':
            buf->data[buf->len++] = '\\';
            buf->data[buf->len++] = 't';
            break;
        case '\n':
            buf->data[buf->len++] = '\\';
            buf->data[buf->len++] = 'n';
            break;
        case '\r':
            buf->data[buf->len++] = '\\';
            buf->data[buf->len++] = 'r';
            break;
        default:
            buf->data[buf->len++] = c;
        }
    }
    end_column(buf, last);
}

void mochi_copy_int(struct mochi_copy_buf *buf, long long value, int last)
{
    reserve(buf, 24);
    if (buf->failed)
        return;
    buf->len += (size_t)snprintf(buf->data + buf->len, 24, "%lld", value);
    end_column(buf, last);
}

void mochi_copy_time(struct mochi_copy_buf *buf, int64_t us, int last)
{
    time_t secs = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    char text[64];
    strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
    char full[80];
    snprintf(full, sizeof(full), "%s.%06ld+00", text, frac);
    mochi_copy_text(buf, full, last);
}

static int send_rows(PGconn *conn, const char *copy_sql, const struct mochi_copy_buf *rows,
                     char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, copy_sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        int rc = mochi_db_error(conn, res, err, errlen);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    if (PQputCopyData(conn, rows->data, (int)rows->len) != 1 || PQputCopyEnd(conn, NULL) != 1)
        return mochi_db_error(conn, NULL, err, errlen);
    res = PQgetResult(conn);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : mochi_db_error(conn, res, err, errlen);
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    return rc;
}

int mochi_copy_apply(PGconn *conn, const char *copy_sql, const struct mochi_copy_buf *rows,
                     const char *apply_sql, PGresult **result, char *err, size_t errlen)
{
    if (rows->failed) {
        snprintf(err, errlen, "out of memory building the batch");
        return MOCHI_ERR_NOMEM;
    }
    PGresult *res = NULL;
    int rc = mochi_db_exec(conn, "BEGIN", err, errlen);
    if (rc == 0)
        rc = send_rows(conn, copy_sql, rows, err, errlen);
    if (rc == 0) {
        res = PQexec(conn, apply_sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
            rc = mochi_db_error(conn, res, err, errlen);
    }
    if (rc == 0)
        rc = mochi_db_exec(conn, "COMMIT", err, errlen);
    if (rc != 0) {
        char ignored[64];
        /* Without a connection the server rolls back by itself. */
        if (PQstatus(conn) == CONNECTION_OK &&
            mochi_db_exec(conn, "ROLLBACK", ignored, sizeof(ignored)) != 0)
            mochi_log(MOCHI_LOG_DEBUG, "db", "msg=\"rollback failed\"");
        PQclear(res);
        return rc;
    }
    *result = res;
    return 0;
}
