/* Fuzzes the Avro decoder on arbitrary messages, with the real schemas of
 * schemas/ (the source tree's, compiled in): v1 and v2 messages, the seed
 * corpus holding both.
 *
 * Properties:
 *   - a refusal is one of the documented codes and leaves the event zeroed;
 *   - a decoded event passes mochi_pageview_validate;
 *   - it re-encodes (with the current schema) to bytes that decode to the
 *     same event (v2's fields included), and encoding that event again
 *     gives the same bytes;
 *   - a current-schema message that wrote day and entry (as every encoder
 *     does) reads back byte for byte. One that left them null reads as a v1
 *     event would, and re-encodes with them filled in. */

#include <avro.h>
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
/* schemas/pageview.v2.avsc, to look at a message's unions with Avro C. */
static const char V2_JSON[] =
    "{\"type\":\"record\",\"name\":\"PageView\",\"fields\":["
    "{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\",\"type\":\"string\"},"
    "{\"name\":\"referrer\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"visitor_hash\",\"type\":\"string\"},{\"name\":\"occurred_at\",\"type\":\"long\"},"
    "{\"name\":\"day\",\"type\":[\"null\",\"int\"]},{\"name\":\"entry\",\"type\":[\"null\","
    "\"boolean\"]},{\"name\":\"source\",\"type\":[\"null\",\"string\"]}]}";
static avro_schema_t v2_schema;
static avro_value_iface_t *v2_class;
static avro_value_t v2_rec;
static avro_reader_t v2_reader;

static void cleanup(void)
{
    avro_reader_free(v2_reader);
    avro_value_decref(&v2_rec);
    avro_value_iface_decref(v2_class);
    avro_schema_decref(v2_schema);
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
    /* V2_JSON is the current schema: update it with the manifest. */
    FUZZ_REQUIRE(mochi_codec_current_schema_id(codec) == 2);
    FUZZ_REQUIRE(avro_schema_from_json_length(V2_JSON, strlen(V2_JSON), &v2_schema) == 0);
    v2_class = avro_generic_class_from_schema(v2_schema);
    FUZZ_REQUIRE(v2_class != NULL && avro_generic_value_new(v2_class, &v2_rec) == 0);
    v2_reader = avro_reader_memory(NULL, 0);
    FUZZ_REQUIRE(v2_reader != NULL);
    atexit(cleanup); /* so that LeakSanitizer's check at exit sees no live buffer */
    return 0;
}

static int same_event(const struct mochi_pageview *a, const struct mochi_pageview *b)
{
    return strcmp(a->site_id, b->site_id) == 0 && strcmp(a->path, b->path) == 0 &&
           a->has_referrer == b->has_referrer &&
           (!a->has_referrer || strcmp(a->referrer, b->referrer) == 0) &&
           strcmp(a->visitor_hash, b->visitor_hash) == 0 &&
           a->occurred_at_us == b->occurred_at_us && a->day == b->day && a->entry == b->entry &&
           a->has_source == b->has_source && (!a->has_source || strcmp(a->source, b->source) == 0);
}

/* True when the v2 message data[0..size), which the codec has accepted,
 * wrote day and entry rather than null. */
static int wrote_day_and_entry(const uint8_t *data, size_t size)
{
    avro_value_t field;
    int day = -1, entry = -1;
    avro_reader_memory_set_source(v2_reader, (const char *)data + MOCHI_WIRE_HEADER_LEN,
                                  (int64_t)(size - MOCHI_WIRE_HEADER_LEN));
    FUZZ_REQUIRE(avro_value_read(v2_reader, &v2_rec) == 0);
    FUZZ_REQUIRE(avro_value_get_by_name(&v2_rec, "day", &field, NULL) == 0 &&
                 avro_value_get_discriminant(&field, &day) == 0);
    FUZZ_REQUIRE(avro_value_get_by_name(&v2_rec, "entry", &field, NULL) == 0 &&
                 avro_value_get_discriminant(&field, &entry) == 0);
    return day == 1 && entry == 1;
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
     * (the input may use another listed schema, differ in padding, or
     * leave v2's fields null; the last can be hidden by padding of the
     * same size elsewhere). */
    if (size == len && memcmp(data, wire, MOCHI_WIRE_HEADER_LEN) == 0 &&
        wrote_day_and_entry(data, size))
        FUZZ_REQUIRE(memcmp(data, wire, len) == 0);
    return 0;
}
