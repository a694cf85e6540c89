#ifndef MOCHICTL_CELL_H
#define MOCHICTL_CELL_H

#include <stddef.h>

/* Text from the database (paths, sources: whatever a visitor sent) made
 * safe for a terminal and fitted to a table column. Pure, thread-safe. */

/* Returns a newly allocated, NUL-terminated string (the caller frees it)
 * that shows s[0..len) in exactly `width` terminal columns, padded on the
 * right with spaces, or NULL when memory runs out. s may hold any bytes;
 * none of them reaches the terminal as a control:
 * - C0 controls, DEL and each byte of invalid UTF-8 are written \xNN
 *   (lowercase hex: ESC is \x1b), a backslash is written \\ so that an
 *   escape is never ambiguous;
 * - C1 controls (U+0080..U+009F), the bidirectional controls (U+061C,
 *   U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and the line and
 *   paragraph separators (U+2028, U+2029) are written \uXXXX;
 * - the rest is copied as it is, counted as two columns for East Asian
 *   wide characters, none for combining marks, one otherwise.
 * When the text needs more than `width` columns it is cut between two
 * characters or escapes (never inside either, so at a UTF-8 boundary) and
 * ends with "…" (U+2026, one column); a character kept keeps its
 * combining marks. A combining mark with no character before it in s is
 * written \uXXXX, so that it cannot join the column before. */
char *mochictl_cell(const char *s, size_t len, size_t width);

/* Returns a newly allocated string (the caller frees it) showing s[0..len)
 * escaped as mochictl_cell does, neither cut nor padded, or NULL when
 * memory runs out. For text outside a column, such as a heading. */
char *mochictl_cell_text(const char *s, size_t len);

/* The number of columns a well-formed code point takes in the cell above:
 * 0, 1 or 2. Exposed for tests. */
int mochictl_cell_columns(unsigned long cp);

#endif
