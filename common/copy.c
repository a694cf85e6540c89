#include "common/copy.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/error.h"
#include "common/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Formats n digits of v, most significant first. */
static void digits(char *out, long v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
}

void mochi_copy_time(struct mochi_copy_buf *buf, int64_t us, int last)
{
    /* gmtime_r and strftime per value cost more than the rest of a row:
     * the date is computed once per day, the time of day by hand. */
    static _Thread_local int64_t cached_day = INT64_MIN;
    static _Thread_local char date[16];
    int64_t day = mochi_day_of_us(us);
    int64_t in_day_us = us - day * MOCHI_US_PER_DAY; /* 0 .. one day - 1 */
    int64_t in_day = in_day_us / 1000000, frac = in_day_us % 1000000;
    if (day != cached_day) {
        mochi_day_format((long long)day, date);
        strcat(date, " ");
        cached_day = day;
    }
    /* "YYYY-MM-DD HH:MM:SS.ffffff+00": years 0..9999 (mochi_day_format) */
    char text[48];
    size_t n = strlen(date);
    memcpy(text, date, n);
    char *p = text + n;
    digits(p, (long)(in_day / 3600), 2);
    p[2] = ':';
    digits(p + 3, (long)(in_day / 60 % 60), 2);
    p[5] = ':';
    digits(p + 6, (long)(in_day % 60), 2);
    p[8] = '.';
    digits(p + 9, (long)frac, 6);
    memcpy(p + 15, "+00", 4);
    mochi_copy_text(buf, text, last);
}

void mochi_copy_raw(struct mochi_copy_buf *buf, const char *bytes, size_t n)
{
    reserve(buf, n);
    if (buf->failed)
        return;
    memcpy(buf->data + buf->len, bytes, n);
    buf->len += n;
}

void mochi_copy_array_begin(struct mochi_copy_buf *buf)
{
    mochi_copy_reset(buf);
    mochi_copy_raw(buf, "{", 1);
}

void mochi_copy_array_int(struct mochi_copy_buf *buf, long long value, int null)
{
    char text[24];
    const char *sep = buf->len > 1 ? "," : "";
    int len = null ? snprintf(text, sizeof(text), "%sNULL", sep)
                   : snprintf(text, sizeof(text), "%s%lld", sep, value);
    mochi_copy_raw(buf, text, (size_t)len);
}

void mochi_copy_array_end(struct mochi_copy_buf *buf)
{
    mochi_copy_raw(buf, "}", 2); /* and the NUL */
}

/* The binary format (PostgreSQL's "COPY", File Formats): integers in
 * network byte order; a row is its column count (16 bits), then per
 * column a length (32 bits, -1 for NULL) and the value's binary form. */
static void put_be(struct mochi_copy_buf *buf, uint64_t v, int bytes)
{
    reserve(buf, (size_t)bytes);
    if (buf->failed)
        return;
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        buf->data[buf->len + (size_t)i] = (char)(v & 0xff);
    buf->len += (size_t)bytes;
}

void mochi_copyb_row(struct mochi_copy_buf *buf, int ncolumns)
{
    put_be(buf, (uint64_t)ncolumns, 2);
}

void mochi_copyb_text(struct mochi_copy_buf *buf, const char *text)
{
    if (text == NULL) {
        put_be(buf, UINT32_MAX, 4); /* -1 */
        return;
    }
    size_t n = strlen(text);
    put_be(buf, n, 4);
    mochi_copy_raw(buf, text, n);
}

void mochi_copyb_uuid_bytes(struct mochi_copy_buf *buf, const unsigned char uuid[16])
{
    put_be(buf, 16, 4);
    mochi_copy_raw(buf, (const char *)uuid, 16);
}

void mochi_copyb_uuid(struct mochi_copy_buf *buf, const char *text)
{
    unsigned char uuid[16];
    if (mochi_uuid_parse(text, uuid) != 0)
        buf->failed = 1;
    else
        mochi_copyb_uuid_bytes(buf, uuid);
}

/* timestamptz: microseconds since 2000-01-01 00:00 UTC; date: days. */
#define PG_EPOCH_DAY 10957
#define PG_EPOCH_US (PG_EPOCH_DAY * 86400LL * 1000000)

void mochi_copyb_time(struct mochi_copy_buf *buf, int64_t us)
{
    put_be(buf, 8, 4);
    put_be(buf, (uint64_t)(us - PG_EPOCH_US), 8);
}

void mochi_copyb_date(struct mochi_copy_buf *buf, int64_t day)
{
    put_be(buf, 4, 4);
    put_be(buf, (uint64_t)(uint32_t)(int32_t)(day - PG_EPOCH_DAY), 4);
}

void mochi_copyb_int4(struct mochi_copy_buf *buf, int32_t value)
{
    put_be(buf, 4, 4);
    put_be(buf, (uint64_t)(uint32_t)value, 4);
}

void mochi_copyb_bool(struct mochi_copy_buf *buf, int value)
{
    put_be(buf, 1, 4);
    put_be(buf, value ? 1 : 0, 1);
}

int mochi_copy_send_binary(PGconn *conn, const char *copy_sql, const struct mochi_copy_buf *rows,
                           char *err, size_t errlen)
{
    /* The signature, then 32 bits of flags and of header extension: none. */
    static const char header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};
    static const char trailer[2] = {'\377', '\377'}; /* a column count of -1 */
    if (rows->failed) {
        snprintf(err, errlen, "out of memory building the batch (or a malformed UUID)");
        return MOCHI_ERR_NOMEM;
    }
    /* The COPY sub-protocol (PGRES_COPY_IN, then PQputCopyData) is libpq's
     * own: no mochi_db_ helper speaks it. */
    PGresult *res = PQexec(conn, copy_sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        int rc = mochi_db_error(conn, res, err, errlen);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    if (PQputCopyData(conn, header, sizeof(header)) != 1 ||
        (rows->len > 0 && PQputCopyData(conn, rows->data, (int)rows->len) != 1) ||
        PQputCopyData(conn, trailer, sizeof(trailer)) != 1 || PQputCopyEnd(conn, NULL) != 1)
        return mochi_db_error(conn, NULL, err, errlen);
    res = PQgetResult(conn);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : mochi_db_error(conn, res, err, errlen);
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    return rc;
}
