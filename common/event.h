#ifndef MOCHI_EVENT_H
#define MOCHI_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/hash.h" /* MOCHI_HASH_HEX_LEN */
#include "common/uuid.h" /* MOCHI_UUID_TEXT_LEN */

/* The page-view event of DESIGN.md ("Kafka topics and the Avro event") as
 * the programs hold it: fixed-size buffers, so that filling, encoding and
 * decoding one needs no allocation of its own. Every text field is
 * NUL-terminated. */

#define MOCHI_PATH_MAX 1024    /* bytes, without the NUL */
#define MOCHI_REFERRER_MAX 512 /* bytes, without the NUL */

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
};

/* Checks every field against the rules above: path 1..1024 bytes, referrer
 * (when present) 1..512 bytes; both valid UTF-8 without C0/C1 control
 * characters or DEL. Buffers need not be NUL-terminated: a field that fills
 * its whole buffer is too long. Returns 0, MOCHI_ERR_UTF8 for bad text or
 * a control character, MOCHI_ERR_RANGE for anything else. */
int mochi_pageview_validate(const struct mochi_pageview *ev) MOCHI_MUST_CHECK;

#endif
