/* Fuzzes the Avro decoder on arbitrary messages, with the real schemas of
 * schemas/ (the source tree's, compiled in).
 *
 * Properties:
 *   - a refusal is one of the documented codes and leaves the event zeroed;
 *   - a decoded event passes mochi_pageview_validate;
 *   - it re-encodes (with the current schema) to bytes that decode to the
 *     same event, and encoding that event again gives the same bytes. */

#include <stdint.h>
#include <string.h>

#include "common/codec.h"
#include "common/error.h"
#include "common/event.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mochi_schema_set *set;
static struct mochi_codec *codec;

static void cleanup(void)
{
    mochi_codec_destroy(codec);
    mochi_schema_set_destroy(set);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    if (mochi_schema_set_load(MOCHI_FUZZ_SCHEMA_DIR, &set, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_avro: %s\n", err);
        abort();
    }
    FUZZ_REQUIRE(mochi_codec_new(set, &codec) == 0);
    atexit(cleanup); /* so that LeakSanitizer's check at exit sees no live buffer */
    return 0;
}

static int same_event(const struct mochi_pageview *a, const struct mochi_pageview *b)
{
    return strcmp(a->site_id, b->site_id) == 0 && strcmp(a->path, b->path) == 0 &&
           a->has_referrer == b->has_referrer &&
           (!a->has_referrer || strcmp(a->referrer, b->referrer) == 0) &&
           strcmp(a->visitor_hash, b->visitor_hash) == 0 && a->occurred_at_us == b->occurred_at_us;
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mochi_pageview ev, back;
    static unsigned char wire[MOCHI_PAGEVIEW_WIRE_MAX], again[MOCHI_PAGEVIEW_WIRE_MAX];
    memset(&ev, 0xa5, sizeof(ev)); /* a refusal must clear it */
    int rc = mochi_codec_decode(codec, data, size, &ev);
    if (rc != 0) {
        FUZZ_REQUIRE(rc == MOCHI_ERR_TRUNCATED || rc == MOCHI_ERR_MAGIC ||
                     rc == MOCHI_ERR_SCHEMA_ID || rc == MOCHI_ERR_MALFORMED ||
                     rc == MOCHI_ERR_UTF8 || rc == MOCHI_ERR_RANGE);
        FUZZ_REQUIRE(all_zero(&ev, sizeof(ev)));
        return 0;
    }
    FUZZ_REQUIRE(mochi_pageview_validate(&ev) == 0);
    size_t len = 0, len2 = 0;
    FUZZ_REQUIRE(mochi_codec_encode(codec, &ev, wire, sizeof(wire), &len) == 0);
    FUZZ_REQUIRE(mochi_codec_decode(codec, wire, len, &back) == 0);
    FUZZ_REQUIRE(same_event(&ev, &back));
    FUZZ_REQUIRE(mochi_codec_encode(codec, &back, again, sizeof(again), &len2) == 0);
    FUZZ_REQUIRE(len2 == len && memcmp(wire, again, len) == 0);
    /* A message written with the current schema reads back byte for byte
     * (the input may use another listed schema or differ in padding). */
    if (size == len && memcmp(data, wire, MOCHI_WIRE_HEADER_LEN) == 0)
        FUZZ_REQUIRE(memcmp(data, wire, len) == 0);
    return 0;
}
