#include "common/event.h"

#include <string.h>

static int check_text(const char *s, size_t size);
static bool has_control(const char *s, size_t len);
static bool is_lower_hex(const char *s, size_t len);

bool mochi_utf8_valid(const char *s, size_t len)
{
    if (len == 0)
        return true;
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    while (p < end) {
        unsigned char c = *p++;
        if (c < 0x80)
            continue;
        /* Unicode Table 3-7: the lead byte fixes the length and narrows
         * the first continuation byte, which rules out overlong forms
         * (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and
         * code points past U+10FFFF (F4 90.., F5..FF). */
        size_t more;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            more = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return false;
        }
        if ((size_t)(end - p) < more || p[0] < lo || p[0] > hi)
            return false;
        for (size_t i = 1; i < more; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += more;
    }
    return true;
}

int mochi_pageview_validate(const struct mochi_pageview *ev)
{
    /* strnlen first: mochi_uuid_is_canonical expects a terminated string. */
    if (strnlen(ev->site_id, sizeof ev->site_id) != MOCHI_UUID_TEXT_LEN ||
        !mochi_uuid_is_canonical(ev->site_id))
        return MOCHI_ERR_RANGE;
    int rc = check_text(ev->path, sizeof ev->path);
    if (rc != 0)
        return rc;
    if (ev->path[0] != '/')
        return MOCHI_ERR_RANGE;
    if (ev->has_referrer) {
        rc = check_text(ev->referrer, sizeof ev->referrer);
        if (rc != 0)
            return rc;
    }
    if (strnlen(ev->visitor_hash, sizeof ev->visitor_hash) != MOCHI_HASH_HEX_LEN ||
        !is_lower_hex(ev->visitor_hash, MOCHI_HASH_HEX_LEN))
        return MOCHI_ERR_RANGE;
    if (ev->occurred_at_us < MOCHI_OCCURRED_AT_MIN_US ||
        ev->occurred_at_us >= MOCHI_OCCURRED_AT_MAX_US)
        return MOCHI_ERR_RANGE;
    return 0;
}

/* s lives in a buffer of size bytes that must hold a NUL: the text is
 * 1..size-1 bytes of clean UTF-8. */
static int check_text(const char *s, size_t size)
{
    size_t len = strnlen(s, size);
    if (len == 0 || len == size)
        return MOCHI_ERR_RANGE;
    if (!mochi_utf8_valid(s, len) || has_control(s, len))
        return MOCHI_ERR_UTF8;
    return 0;
}

/* Expects valid UTF-8, in which C1 controls (U+0080..U+009F) are always
 * the two bytes C2 80..C2 9F. */
static bool has_control(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            return true;
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] <= 0x9F)
            return true;
    }
    return false;
}

/* Without a branch per character: a hash's digits are random, so a branch
 * on digit-or-letter mispredicts about every other character. */
static bool is_lower_hex(const char *s, size_t len)
{
    unsigned int bad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bad |= (unsigned int)((unsigned char)(c - '0') > 9) &
               (unsigned int)((unsigned char)(c - 'a') > 5);
    }
    return bad == 0;
}
