/* Fuzzes a beacon from the request to the bytes published to Kafka: the
 * JSON or query parser, the collector's normalisation, the Avro codec and
 * the COPY row the consumer writes. Input: one mode byte, then either the
 * POST body (mode even) or the query values k, u and r separated by NUL
 * bytes (mode odd; a missing value is an absent argument).
 *
 * Properties:
 *   - a refusal's reason is non-empty and NUL-terminated in its buffer;
 *     outside the JSON path it is valid UTF-8. jansson's parse errors quote
 *     the body cut anywhere (the review's invalid UTF-8 finding): that
 *     reason is made printable ASCII where the HTTP answer is built
 *     (send_json in collector/http.c), guarded by test_collector;
 *   - accepted fields pass beacon_check_text again;
 *   - a normalised event passes mochi_pageview_validate, has a path
 *     starting with '/' and a referrer of the form scheme://host;
 *   - its path is canonical: every '%' starts an escape with uppercase hex,
 *     and beacon_canonical_path gives it back unchanged;
 *   - beacon_normalize and beacon_normalize_origin agree on the event; the
 *     origin has a source only for an entry, the source is non-empty clean
 *     UTF-8 of at most BEACON_SOURCE_MAX bytes, and a view with a stored
 *     (external) referrer is an entry;
 *   - it encodes, decodes to the same fields and re-encodes to the same
 *     bytes;
 *   - its COPY row has five columns, no raw control byte, and unescapes to
 *     the event's text. */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "collector/beacon.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/copy.h"
#include "common/event.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mochi_schema_set *set;
static struct mochi_codec *codec;
static struct beacon_urls *urls; /* reused between inputs, as a collector worker does */
static struct mochi_copy_buf row;

static void cleanup(void)
{
    mochi_copy_free(&row);
    beacon_urls_destroy(urls);
    mochi_codec_destroy(codec);
    mochi_schema_set_destroy(set);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    if (mochi_schema_set_load(MOCHI_FUZZ_SCHEMA_DIR, &set, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_beacon: %s\n", err);
        abort();
    }
    FUZZ_REQUIRE(mochi_codec_new(set, &codec) == 0);
    FUZZ_REQUIRE(beacon_urls_new(&urls) == 0);
    atexit(cleanup); /* so that LeakSanitizer's check at exit sees no live buffer */
    return 0;
}

static void check_why(const char *why, size_t size, bool utf8)
{
    size_t n = strnlen(why, size);
    FUZZ_REQUIRE(n < size);
    FUZZ_REQUIRE(n > 0);
    FUZZ_REQUIRE(!utf8 || mochi_utf8_valid(why, n));
}

/* The next NUL-separated value of the query form, or NULL when the input
 * has run out. */
static const char *next_value(const char **p, const char *end)
{
    if (*p >= end)
        return NULL;
    const char *v = *p;
    *p += strlen(v) + 1;
    return v;
}

/* Undoes mochi_copy_text's escapes for one column of row[*pos..len),
 * stopping at the column's end; returns false on a byte or escape the
 * writer never produces. A lone \N is NULL (out gets "\N" and *null). */
static bool copy_column(const char *rowtext, size_t len, size_t *pos, char *out, size_t size,
                        bool *null, char *end)
{
    size_t o = 0, i = *pos;
    *null = i + 2 < len && rowtext[i] == '\\' && rowtext[i + 1] == 'N' &&
            (rowtext[i + 2] == '\t' || rowtext[i + 2] == '\n');
    if (*null) {
        *end = rowtext[i + 2];
        *pos = i + 3;
        out[0] = '\0';
        return true;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)rowtext[i];
        if (c == '\t' || c == '\n') {
            *end = (char)c;
            *pos = i + 1;
            out[o] = '\0';
            return true;
        }
        if (c < 0x20 || c == 0x7f)
            return false;
        if (o + 1 >= size)
            return false;
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        if (++i >= len)
            return false;
        switch (rowtext[i]) {
        case '\\':
            out[o++] = '\\';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        default:
            return false;
        }
    }
    return false;
}

static void check_copy(const struct mochi_pageview *ev)
{
    mochi_copy_reset(&row);
    mochi_copy_text(&row, ev->site_id, 0);
    mochi_copy_text(&row, ev->path, 0);
    mochi_copy_text(&row, ev->has_referrer ? ev->referrer : NULL, 0);
    mochi_copy_text(&row, ev->visitor_hash, 0);
    mochi_copy_time(&row, ev->occurred_at_us, 1);
    FUZZ_REQUIRE(!row.failed);
    FUZZ_REQUIRE(row.len > 0 && row.data[row.len - 1] == '\n');
    const char *want[4] = {ev->site_id, ev->path, ev->has_referrer ? ev->referrer : NULL,
                           ev->visitor_hash};
    static char col[2 * MOCHI_PATH_MAX + 2];
    size_t pos = 0;
    for (int c = 0; c < 5; c++) {
        bool null = false;
        char end = 0;
        FUZZ_REQUIRE(copy_column(row.data, row.len, &pos, col, sizeof(col), &null, &end));
        FUZZ_REQUIRE(end == (c == 4 ? '\n' : '\t'));
        if (c < 4) {
            FUZZ_REQUIRE(null == (want[c] == NULL));
            FUZZ_REQUIRE(want[c] == NULL || strcmp(col, want[c]) == 0);
        }
    }
    FUZZ_REQUIRE(pos == row.len);
}

static bool upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* The path properties of docs/paths.md that hold whatever came in. */
static void check_canonical_path(const char *path)
{
    size_t len = strlen(path);
    for (const char *p = strchr(path, '%'); p != NULL; p = strchr(p + 1, '%'))
        FUZZ_REQUIRE(upper_hex(p[1]) && upper_hex(p[2]));
    static char again[MOCHI_PATH_MAX + 1];
    FUZZ_REQUIRE(beacon_canonical_path(path, len, again, sizeof(again)) == len);
    FUZZ_REQUIRE(memcmp(again, path, len + 1) == 0);
}

static void check_origin(const struct beacon_origin *origin, const struct mochi_pageview *ev)
{
    size_t n = strnlen(origin->source, sizeof(origin->source));
    FUZZ_REQUIRE(n < sizeof(origin->source));
    FUZZ_REQUIRE(origin->has_source == (n > 0));
    FUZZ_REQUIRE(!origin->has_source || origin->entry);
    FUZZ_REQUIRE(!ev->has_referrer || origin->entry);
    FUZZ_REQUIRE(mochi_utf8_valid(origin->source, n) && !mochi_utf8_has_control(origin->source, n));
}

static void check_event(const struct mochi_pageview *ev)
{
    FUZZ_REQUIRE(mochi_pageview_validate(ev) == 0);
    FUZZ_REQUIRE(ev->path[0] == '/');
    if (ev->has_referrer) {
        const char *sep = strstr(ev->referrer, "://");
        FUZZ_REQUIRE(sep != NULL && sep != ev->referrer);
        FUZZ_REQUIRE(strpbrk(sep + 3, "/?#@") == NULL);
    }

    static unsigned char wire[MOCHI_PAGEVIEW_WIRE_MAX], again[MOCHI_PAGEVIEW_WIRE_MAX];
    size_t len = 0, len2 = 0;
    FUZZ_REQUIRE(mochi_codec_encode(codec, ev, wire, sizeof(wire), &len) == 0);
    static struct mochi_pageview back;
    FUZZ_REQUIRE(mochi_codec_decode(codec, wire, len, &back) == 0);
    FUZZ_REQUIRE(strcmp(back.site_id, ev->site_id) == 0);
    FUZZ_REQUIRE(strcmp(back.path, ev->path) == 0);
    FUZZ_REQUIRE(back.has_referrer == ev->has_referrer);
    FUZZ_REQUIRE(!ev->has_referrer || strcmp(back.referrer, ev->referrer) == 0);
    FUZZ_REQUIRE(strcmp(back.visitor_hash, ev->visitor_hash) == 0);
    FUZZ_REQUIRE(back.occurred_at_us == ev->occurred_at_us);
    FUZZ_REQUIRE(back.day == ev->day && back.entry == ev->entry);
    FUZZ_REQUIRE(back.has_source == ev->has_source);
    FUZZ_REQUIRE(!ev->has_source || strcmp(back.source, ev->source) == 0);
    FUZZ_REQUIRE(mochi_codec_encode(codec, &back, again, sizeof(again), &len2) == 0);
    FUZZ_REQUIRE(len2 == len && memcmp(again, wire, len) == 0);
    check_copy(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 + 3 * (BEACON_URL_MAX + 1))
        return 0;
    uint8_t mode = data[0];
    /* A NUL-terminated copy: the query form needs C strings. */
    char *text = malloc(size);
    FUZZ_REQUIRE(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    char why[160] = "";
    static struct beacon_fields fields;
    enum beacon_reject r;
    if ((mode & 1) == 0) {
        if (size - 1 > BEACON_BODY_MAX) {
            free(text);
            return 0;
        }
        r = beacon_parse_json(text, size - 1, &fields, why, sizeof(why));
    } else {
        const char *p = text, *end = text + size - 1;
        const char *k = next_value(&p, end);
        const char *u = next_value(&p, end);
        const char *ref = next_value(&p, end);
        r = beacon_from_query(k, u, ref, &fields, why, sizeof(why));
    }
    FUZZ_REQUIRE(r == BEACON_OK || r == BEACON_INVALID);
    if (r != BEACON_OK) {
        check_why(why, sizeof(why), (mode & 1) != 0);
        free(text);
        return 0;
    }
    FUZZ_REQUIRE(beacon_check_text(&fields, why, sizeof(why)) == BEACON_OK);

    static struct mochi_pageview ev;
    memset(&ev, 0, sizeof(ev));
    /* The site's domain: "example.com", or a subdomain named by mode. */
    const char *domain = (mode & 2) ? "shop.example.com" : "example.com";
    static struct mochi_pageview plain;
    memset(&plain, 0, sizeof(plain));
    enum beacon_reject plain_r = beacon_normalize(urls, &fields, domain, &plain, why, sizeof(why));
    static struct beacon_origin origin;
    r = beacon_normalize_origin(urls, &fields, domain, &ev, &origin, why, sizeof(why));
    FUZZ_REQUIRE(r == plain_r);
    if (r != BEACON_OK) {
        FUZZ_REQUIRE(r == BEACON_INVALID || r == BEACON_FOREIGN_HOST);
        check_why(why, sizeof(why), true);
        free(text);
        return 0;
    }
    FUZZ_REQUIRE(strcmp(plain.path, ev.path) == 0);
    FUZZ_REQUIRE(plain.has_referrer == ev.has_referrer);
    FUZZ_REQUIRE(!ev.has_referrer || strcmp(plain.referrer, ev.referrer) == 0);
    check_canonical_path(ev.path);
    check_origin(&origin, &ev);
    /* What handle_beacon adds after normalising. */
    memcpy(ev.site_id, "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f", sizeof(ev.site_id));
    memcpy(ev.visitor_hash, "0123456789abcdef0123456789abcdef", sizeof(ev.visitor_hash));
    ev.occurred_at_us = MOCHI_OCCURRED_AT_MIN_US + (int64_t)mode * 86400000123LL;
    ev.day = (int32_t)mochi_day_of_us(ev.occurred_at_us);
    ev.entry = origin.entry;
    ev.has_source = origin.has_source;
    memcpy(ev.source, origin.source, sizeof(ev.source));
    check_event(&ev);
    free(text);
    return 0;
}
