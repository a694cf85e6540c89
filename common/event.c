#include "common/event.h"
#include "common/domain.h"
#include "common/clock.h"
#include "common/utf8.h"

#include <string.h>
#include <strings.h>

static int check_text(const char *s, size_t size);
static bool is_lower_hex(const char *s, size_t len);

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
    int64_t utc_day = mochi_day_of_us(ev->occurred_at_us);
    if (ev->day < utc_day - 1 || ev->day > utc_day + 1)
        return MOCHI_ERR_RANGE;
    if (ev->has_source) {
        if (!ev->entry)
            return MOCHI_ERR_RANGE;
        rc = check_text(ev->source, sizeof ev->source);
        if (rc != 0)
            return rc;
    }
    return 0;
}

bool mochi_pageview_referrer_source(const char *referrer, char out[MOCHI_SOURCE_MAX + 1])
{
    out[0] = '\0';
    const char *host = strstr(referrer, "://");
    if (host == NULL)
        return false;
    host += 3;
    size_t len;
    if (host[0] == '[') { /* [v6]:port: the colons inside are the address's */
        const char *close = strchr(host, ']');
        len = close != NULL ? (size_t)(close - host) + 1 : strlen(host);
    } else {
        len = strcspn(host, ":/?#");
    }
    /* The same source a v2 collector derives from this host. */
    return mochi_domain_source(host, len, out, MOCHI_SOURCE_MAX + 1) > 0;
}

void mochi_pageview_fill_v1(struct mochi_pageview *ev)
{
    /* Out of range for an occurred_at that validation refuses anyway. */
    ev->day = (int32_t)mochi_day_of_us(ev->occurred_at_us);
    ev->entry = ev->has_referrer;
    /* An unterminated referrer fails validation; do not read past it. */
    ev->has_source = ev->entry &&
                     strnlen(ev->referrer, sizeof ev->referrer) < sizeof ev->referrer &&
                     mochi_pageview_referrer_source(ev->referrer, ev->source);
    if (!ev->has_source)
        ev->source[0] = '\0';
}

/* s lives in a buffer of size bytes that must hold a NUL: the text is
 * 1..size-1 bytes of clean UTF-8. */
static int check_text(const char *s, size_t size)
{
    size_t len = strnlen(s, size);
    if (len == 0 || len == size)
        return MOCHI_ERR_RANGE;
    if (!mochi_utf8_valid(s, len) || mochi_utf8_has_control(s, len))
        return MOCHI_ERR_UTF8;
    return 0;
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
