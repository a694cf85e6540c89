#include "common/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool has_byte_below(uint64_t x, unsigned n);
static bool has_byte(uint64_t x, unsigned b);

size_t mochi_utf8_seq_len(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    /* Unicode Table 3-7: the lead byte fixes the length and narrows the
     * first continuation byte, which rules out overlong forms (C0, C1,
     * E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points past
     * U+10FFFF (F4 90.., F5..FF). */
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (len < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

bool mochi_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* ASCII runs are the common case: no call per byte for them. */
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = mochi_utf8_seq_len(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t mochi_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    /* s[max] is the first byte left out: back off while it continues the
     * sequence that the kept part would end in. */
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Each byte of a 64-bit word holding b. */
#define BYTES(b) (UINT64_C(0x0101010101010101) * (b))

/* True when a byte of x is below n (n at most 0x80): a borrow out of a
 * byte reaches its top bit only from a byte below n. */
static bool has_byte_below(uint64_t x, unsigned n)
{
    return ((x - BYTES(n)) & ~x & BYTES(0x80)) != 0;
}

/* True when a byte of x is b. */
static bool has_byte(uint64_t x, unsigned b)
{
    return has_byte_below(x ^ BYTES(b), 1);
}

bool mochi_utf8_has_control(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    /* Eight bytes at a time while none of them is a C0 control, DEL or
     * 0xC2 (the lead byte of the C1 controls): URLs seldom hold any, and
     * byte by byte this is the largest part of checking a beacon's text.
     * The bytes from the first word that holds one are checked one by
     * one below. */
    for (; len - i >= 8; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, sizeof(x));
        if (has_byte_below(x, 0x20) || has_byte(x, 0x7F) || has_byte(x, 0xC2))
            break;
    }
    for (; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            return true;
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] <= 0x9F)
            return true;
    }
    return false;
}

char *mochi_utf8_sanitize(const char *s, size_t len, size_t *out_len)
{
    char *out = malloc(3 * len + 1); /* each byte at worst becomes U+FFFD */
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = mochi_utf8_seq_len(s + i, len - i);
        if (n == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    if (out_len != NULL)
        *out_len = o;
    return out;
}
