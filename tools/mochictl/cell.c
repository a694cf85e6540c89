/* Terminal-safe table cells. A path or a source is chosen by whoever sends
 * a beacon: printed raw, "\x1b[2J" clears the operator's screen, a newline
 * forges a row and a wide name pushes the numbers out of their column. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <locale.h>
#include <wchar.h>

#include "common/utf8.h"
#include "tools/mochictl/cell.h"

/* One piece of output: the bytes written for one character of the input
 * (or one invalid byte) and the columns they take. */
struct piece {
    char text[16];
    size_t bytes;
    size_t columns;
};

static unsigned long decode(const unsigned char *s, size_t n);
static bool escaped_code_point(unsigned long cp);
static void next_piece(const char *s, size_t len, size_t *at, bool first, struct piece *piece);
static char *fit(const char *s, size_t len, size_t width, bool pad_to_width);

/* Columns come from glibc's wcwidth in its built-in C.UTF-8 locale, which
 * carries Unicode's width data (East Asian wide, emoji, combining marks):
 * kept current by the C library, not by a table here. The locale is
 * switched for the call only (uselocale is per thread), so nothing else in
 * the program sees it. */
static locale_t utf8_locale(void)
{
    static locale_t loc = (locale_t)0;
    if (loc == (locale_t)0)
        loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    return loc;
}

int mochictl_cell_columns(unsigned long cp)
{
    locale_t loc = utf8_locale();
    if (loc == (locale_t)0 || cp > 0x10FFFF)
        return 1; /* no UTF-8 locale: every character counts one column */
    locale_t old = uselocale(loc);
    int w = wcwidth((wchar_t)cp);
    uselocale(old);
    /* -1: not printable here (unassigned); shown, so it takes a column. */
    return w < 0 ? 1 : w > 2 ? 2 : w;
}

static unsigned long decode(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    unsigned long cp = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3F);
    return cp;
}

static bool escaped_code_point(unsigned long cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
           cp == 0x2029;
}

/* Reads the piece at s[*at] and moves *at past it. */
static void next_piece(const char *s, size_t len, size_t *at, bool first, struct piece *piece)
{
    const unsigned char *u = (const unsigned char *)s + *at;
    size_t n = mochi_utf8_seq_len(s + *at, len - *at);
    if (n == 0 || u[0] < 0x20 || u[0] == 0x7F) {
        piece->bytes = (size_t)snprintf(piece->text, sizeof(piece->text), "\\x%02x", u[0]);
        *at += 1;
    } else if (u[0] == '\\') {
        memcpy(piece->text, "\\\\", 3);
        piece->bytes = 2;
        *at += 1;
    } else {
        unsigned long cp = decode(u, n);
        int columns = mochictl_cell_columns(cp);
        if (escaped_code_point(cp) || (first && columns == 0)) {
            piece->bytes = (size_t)snprintf(piece->text, sizeof(piece->text), "\\u%04lx", cp);
        } else {
            memcpy(piece->text, u, n);
            piece->text[n] = '\0';
            piece->bytes = n;
            piece->columns = (size_t)columns;
            *at += n;
            return;
        }
        *at += n;
    }
    piece->columns = piece->bytes; /* escapes are ASCII */
}

char *mochictl_cell_text(const char *s, size_t len)
{
    return fit(s, len, (size_t)-1 / 8, false);
}

char *mochictl_cell(const char *s, size_t len, size_t width)
{
    return fit(s, len, width, true);
}

/* mochictl_cell, with the padding optional. */
static char *fit(const char *s, size_t len, size_t width, bool pad_to_width)
{
    if (width == 0)
        return calloc(1, 1);
    /* First pass: the columns of the whole text, and so whether it fits. */
    size_t total = 0, at = 0;
    struct piece piece;
    while (at < len && total <= width) {
        next_piece(s, len, &at, at == 0, &piece);
        total += piece.columns;
    }
    bool cut = total > width;
    size_t room = cut ? width - 1 : width; /* width >= 1 when cut */
    /* Each column holds at most 4 bytes of one piece; zero-width pieces
     * add theirs, so grow as needed. */
    size_t cap = (cut ? width * 4 : len * 6) + 16, used = 0, columns = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    at = 0;
    while (at < len) {
        size_t before = at;
        next_piece(s, len, &at, before == 0, &piece);
        if (columns + piece.columns > room)
            break;
        if (used + piece.bytes + 8 > cap) {
            char *bigger = realloc(out, cap * 2 + piece.bytes);
            if (bigger == NULL) {
                free(out);
                return NULL;
            }
            out = bigger;
            cap = cap * 2 + piece.bytes;
        }
        memcpy(out + used, piece.text, piece.bytes);
        used += piece.bytes;
        columns += piece.columns;
    }
    if (cut) {
        memcpy(out + used, "\xE2\x80\xA6", 3); /* U+2026 */
        used += 3;
        columns++;
    }
    size_t pad = pad_to_width && width > columns ? width - columns : 0;
    if (used + pad + 1 > cap) {
        char *bigger = realloc(out, used + pad + 1);
        if (bigger == NULL) {
            free(out);
            return NULL;
        }
        out = bigger;
    }
    memset(out + used, ' ', pad);
    out[used + pad] = '\0';
    return out;
}
