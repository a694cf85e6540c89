#ifndef MOCHI_EVENT_H
#define MOCHI_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/hash.h" /* MOCHI_HASH_HEX_LEN */
#include "common/uuid.h" /* MOCHI_UUID_TEXT_LEN */

/* The page-view event of DESIGN.md ("Kafka topics and the Avro event",
 * and "Site time zones, entries and sources" for PageView v2) as the
 * programs hold it: fixed-size buffers, so that filling, encoding and
 * decoding one needs no allocation of its own. Every text field is
 * NUL-terminated. */

#define MOCHI_PATH_MAX 1024    /* bytes, without the NUL */
#define MOCHI_REFERRER_MAX 512 /* bytes, without the NUL */
/* A source is a referrer's host or a utm_source (at most 64 bytes), so it
 * is sized for the longest DNS name, 253 bytes (RFC 1035's 255 octets on
 * the wire, less the first length octet and the root label). */
#define MOCHI_SOURCE_MAX 253 /* bytes, without the NUL */

/* occurred_at must lie in [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z). */
#define MOCHI_OCCURRED_AT_MIN_US INT64_C(946684800000000)
#define MOCHI_OCCURRED_AT_MAX_US INT64_C(4102444800000000)

struct mochi_pageview {
    char site_id[MOCHI_UUID_TEXT_LEN + 1]; /* canonical lowercase UUID text */
    char path[MOCHI_PATH_MAX + 1];         /* starts with '/', UTF-8, no control chars */
    bool has_referrer;                     /* false: referrer[] is ignored */
    /* scheme://host[:port] only; cutting a URL down to that is the
     * collector's job, the validator checks length and text only. */
    char referrer[MOCHI_REFERRER_MAX + 1];
    char visitor_hash[MOCHI_HASH_HEX_LEN + 1]; /* 32 lowercase hex digits */
    int64_t occurred_at_us;                    /* UTC microseconds since the epoch */
    /* PageView v2. The site-local date of the view, in days since
     * 1970-01-01: never more than one day from occurred_at's UTC date,
     * since every zone lies within UTC-12..UTC+14. */
    int32_t day;
    bool entry;                        /* the view starts a visit (see DESIGN.md) */
    bool has_source;                   /* false: source[] is ignored; only an entry has one */
    char source[MOCHI_SOURCE_MAX + 1]; /* a host or utm_source, as the collector derived it */
};

/* Checks every field against the rules above: path 1..1024 bytes, referrer
 * (when present) 1..512 bytes, source (when present) 1..253 bytes; all
 * three valid UTF-8 without C0/C1 control characters or DEL. day within
 * one day of occurred_at's UTC date; a source only on an entry. Buffers
 * need not be NUL-terminated: a field that fills its whole buffer is too
 * long. Returns 0, MOCHI_ERR_UTF8 for bad text or a control character,
 * MOCHI_ERR_RANGE for anything else. */
int mochi_pageview_validate(const struct mochi_pageview *ev) MOCHI_MUST_CHECK;

/* The source a referrer names: the host of "scheme://host[:port]" without
 * the port, ASCII letters lower-cased and a leading "www." dropped (as the
 * collector drops it for v2: "www.example.com" and "example.com" are one
 * source), cut to MOCHI_SOURCE_MAX bytes at a character boundary. Writes
 * it, NUL-terminated, into out and returns true; returns false with out
 * empty when the text has no "://" or an empty host. An IPv6 literal keeps
 * its brackets. Pure: checks no UTF-8 (mochi_pageview_validate does). */
bool mochi_pageview_referrer_source(const char *referrer, char out[MOCHI_SOURCE_MAX + 1]);

/* Fills day, entry and source of an event that has none, as DESIGN.md
 * reads a v1 event: day = occurred_at's UTC date, entry = it has a
 * referrer, source = mochi_pageview_referrer_source(referrer) on an entry.
 * The v1 collector kept a referrer only when it was on another host, so a
 * v1 direct visit (no referrer) cannot be told from internal navigation
 * and is not an entry. The codec applies this to v1 messages; programs that
 * make events without a collector (tests, benchmarks) may too. */
void mochi_pageview_fill_v1(struct mochi_pageview *ev);

#endif
