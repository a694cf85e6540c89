#ifndef MOCHI_COPY_H
#define MOCHI_COPY_H

/* Building rows for PostgreSQL's COPY ... FROM STDIN in text format, the
 * fastest way to hand a batch to the server. */

#include <stddef.h>
#include <stdint.h>

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
/* A timestamptz from UTC microseconds since the epoch. */
void mochi_copy_time(struct mochi_copy_buf *buf, int64_t us, int last);

#endif
