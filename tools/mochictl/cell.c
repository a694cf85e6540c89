/* Terminal-safe table cells. A path or a source is chosen by whoever sends
 * a beacon: printed raw, "\x1b[2J" clears the operator's screen, a newline
 * forges a row and a wide name pushes the numbers out of their column. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct range {
    unsigned long lo, hi;
};

/* East Asian wide and fullwidth ranges (Unicode's EastAsianWidth W and F,
 * in blocks), and the common emoji blocks, which terminals draw two wide. */
static const struct range wide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},
    {0xA000, 0xA4CF},   {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
    {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},
    {0x1F300, 0x1F64F}, {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

/* Combining marks and zero-width characters, drawn on the column before. */
static const struct range zero[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A}, {0x064B, 0x065F},
    {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200D}, {0x20D0, 0x20FF}, {0x302A, 0x302F},
    {0x3099, 0x309A}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF},
};

static bool in(const struct range *r, size_t n, unsigned long cp)
{
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi)
            return true;
    return false;
}

int mochictl_cell_columns(unsigned long cp)
{
    if (in(zero, sizeof(zero) / sizeof(zero[0]), cp))
        return 0;
    if (in(wide, sizeof(wide) / sizeof(wide[0]), cp))
        return 2;
    return 1;
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
