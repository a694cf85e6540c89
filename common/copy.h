#ifndef MOCHI_COPY_H
#define MOCHI_COPY_H

/* Building rows for PostgreSQL's COPY ... FROM STDIN, the fastest way to
 * hand a batch to the server. The consumer and the rollup send theirs in
 * binary (mochi_copyb_*, below); the text format's builders write COPY
 * files (the benchmarks' references, psql's \copy). */

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct mochi_copy_buf {
    char *data; /* owned */
    size_t len, cap;
    int failed; /* an allocation failed: the buffer is unusable */
};

void mochi_copy_reset(struct mochi_copy_buf *buf);
void mochi_copy_free(struct mochi_copy_buf *buf);

/* Append one column; `last` ends the row with a newline, else a tab. */
void mochi_copy_text(struct mochi_copy_buf *buf, const char *text, int last); /* NULL: \N */
void mochi_copy_int(struct mochi_copy_buf *buf, long long value, int last);
/* Appends bytes as they are (for array literals and the like). */
void mochi_copy_raw(struct mochi_copy_buf *buf, const char *bytes, size_t n);
/* An integer array literal for a query parameter ("{1,NULL,3}"): begin
 * resets buf, int appends an element (NULL when null), end closes it with
 * a terminating NUL, so that buf->data is the parameter (unless failed). */
void mochi_copy_array_begin(struct mochi_copy_buf *buf);
void mochi_copy_array_int(struct mochi_copy_buf *buf, long long value, int null);
void mochi_copy_array_end(struct mochi_copy_buf *buf);
/* A timestamptz from UTC microseconds since the epoch. */
void mochi_copy_time(struct mochi_copy_buf *buf, int64_t us, int last);

/* Rows for COPY ... FROM STDIN (FORMAT binary): the server takes each
 * value as it is stored instead of parsing its text (a uuid, a timestamp),
 * and texts need no escaping. A row is mochi_copyb_row with its number of
 * columns, then one call per column, in the statement's column order and
 * of the column's type. The buffer holds rows only, so that rows can be
 * cut and joined; mochi_copy_send_binary adds the format's header and
 * trailer. */
void mochi_copyb_row(struct mochi_copy_buf *buf, int ncolumns);
void mochi_copyb_text(struct mochi_copy_buf *buf, const char *text); /* NULL: NULL */
/* A uuid column from the canonical text; text that is not a UUID fails
 * the buffer (every caller's UUIDs were checked before). */
void mochi_copyb_uuid(struct mochi_copy_buf *buf, const char *text);
/* A uuid column from its 16 bytes (mochi_uuid_parse's). */
void mochi_copyb_uuid_bytes(struct mochi_copy_buf *buf, const unsigned char uuid[16]);
/* A timestamptz column from UTC microseconds since the Unix epoch. */
void mochi_copyb_time(struct mochi_copy_buf *buf, int64_t us);
/* A date column from days since 1970-01-01. */
void mochi_copyb_date(struct mochi_copy_buf *buf, int64_t day);
void mochi_copyb_int4(struct mochi_copy_buf *buf, int32_t value);
void mochi_copyb_bool(struct mochi_copy_buf *buf, int value);
/* Sends one COPY ... FROM STDIN (FORMAT binary) statement fed with rows,
 * inside whatever transaction the session is in. Returns 0 or
 * mochi_db_error's class; MOCHI_ERR_NOMEM for a failed buffer. */
int mochi_copy_send_binary(PGconn *conn, const char *copy_sql, const struct mochi_copy_buf *rows,
                           char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
