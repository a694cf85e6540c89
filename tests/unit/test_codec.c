/* The page-view codec: wire format, Avro C resolution across schema
 * versions, and hostile input. Bad bodies are written with Avro C itself
 * (using a "permissive" schema where a valid writer could not produce
 * them), so these tests do not trust the decoder under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/error.h"
#include "common/event.h"

#define SITE "0b9e7f3a-5c1d-4e2f-8a6b-9c0d1e2f3a4b"
#define HASH "0123456789abcdef0123456789abcdef"
#define TS INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */

static const char *const V1_JSON =
    "{\"type\":\"record\",\"name\":\"PageView\",\"namespace\":\"mochi\",\"fields\":["
    "{\"name\":\"site_id\",\"type\":{\"type\":\"string\",\"logicalType\":\"uuid\"}},"
    "{\"name\":\"path\",\"type\":\"string\"},"
    "{\"name\":\"referrer\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"visitor_hash\",\"type\":\"string\"},"
    "{\"name\":\"occurred_at\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}}]"
    "}";

#define V1_FIELDS                                                                                  \
    "{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\",\"type\":\"string\"},"          \
    "{\"name\":\"referrer\",\"type\":[\"null\",\"string\"]},"                                      \
    "{\"name\":\"visitor_hash\",\"type\":\"string\"},{\"name\":\"occurred_at\",\"type\":\"long\"}"
#define DAY_FIELD                                                                                  \
    "{\"name\":\"day\",\"type\":[\"null\",{\"type\":\"int\",\"logicalType\":\"date\"}],"           \
    "\"default\":null}"
#define ENTRY_FIELD "{\"name\":\"entry\",\"type\":[\"null\",\"boolean\"],\"default\":null}"
#define SOURCE_FIELD "{\"name\":\"source\",\"type\":[\"null\",\"string\"],\"default\":null}"
#define V2_FIELDS V1_FIELDS "," DAY_FIELD "," ENTRY_FIELD "," SOURCE_FIELD
#define RECORD(fields) "{\"type\":\"record\",\"name\":\"PageView\",\"fields\":[" fields "]}"

/* DESIGN.md's v2, and the test-only v3 of tests/data/schemas-v3. */
static const char *const V2_JSON = RECORD(V2_FIELDS);
static const char *const V3_JSON =
    RECORD(V2_FIELDS ",{\"name\":\"screen\",\"type\":[\"null\",\"string\"],\"default\":null}");
/* Permissive writers: a long where the decoder expects a string length or
 * a union branch, v1 without its last field (to append raw bytes), and v2
 * with a long where it has an int, a boolean or a string length. */
static const char *const PATH_AS_LONG =
    "{\"type\":\"record\",\"name\":\"PageView\",\"fields\":["
    "{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\",\"type\":\"long\"}]}";
static const char *const REFERRER_AS_LONG =
    "{\"type\":\"record\",\"name\":\"PageView\",\"fields\":["
    "{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\",\"type\":\"string\"},"
    "{\"name\":\"referrer\",\"type\":\"long\"}]}";
static const char *const V1_NO_TIME =
    "{\"type\":\"record\",\"name\":\"PageView\",\"fields\":["
    "{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\",\"type\":\"string\"},"
    "{\"name\":\"referrer\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"visitor_hash\",\"type\":\"string\"}]}";
static const char *const DAY_AS_LONG = RECORD(
    V1_FIELDS ",{\"name\":\"day\",\"type\":[\"null\",\"long\"]}," ENTRY_FIELD "," SOURCE_FIELD);
static const char *const DAY_BRANCH_AS_LONG =
    RECORD(V1_FIELDS ",{\"name\":\"day\",\"type\":\"long\"}");
static const char *const ENTRY_AS_LONG = RECORD(
    V1_FIELDS "," DAY_FIELD ",{\"name\":\"entry\",\"type\":[\"null\",\"long\"]}," SOURCE_FIELD);
static const char *const SOURCE_AS_LONG =
    RECORD(V1_FIELDS "," DAY_FIELD "," ENTRY_FIELD ",{\"name\":\"source\",\"type\":[\"null\","
                     "\"long\"]}");

/* TS's UTC date, counted by hand: 1767225600 / 86400. */
#define DAY_TS 20454

/* The fields of raw_event(), in schema order. */
enum { R_SITE, R_PATH, R_REFERRER, R_HASH, R_TIME, R_DAY, R_ENTRY, R_SOURCE, R_SCREEN, NRAW };

/* One field for write_raw(): a string field takes s (n bytes, or strlen
 * when n is 0), a long, an int or a boolean takes l, a union first picks
 * branch. */
struct raw {
    const char *s;
    size_t n;
    int64_t l;
    int branch;
};

static struct {
    char source[1024];
    struct mochi_schema_set *set, *set3;
    struct mochi_codec *cur, *c3; /* schemas/ (writes v2), tests/data/schemas-v3 (v3) */
} g;

static void sample(struct mochi_pageview *ev)
{
    memset(ev, 0, sizeof *ev);
    strcpy(ev->site_id, SITE);
    strcpy(ev->path, "/pricing?plan=pro");
    ev->has_referrer = true;
    strcpy(ev->referrer, "https://news.ycombinator.com");
    strcpy(ev->visitor_hash, HASH);
    ev->occurred_at_us = TS;
    ev->day = DAY_TS;
    ev->entry = true;
    ev->has_source = true;
    strcpy(ev->source, "news.ycombinator.com");
}

/* A valid record of any version: v1 writes v[0..4], v2 v[0..7] (day
 * DAY_TS, an entry from example.com), v3 also v[8] ("screen", null). */
static void raw_event(struct raw v[NRAW])
{
    memset(v, 0, NRAW * sizeof v[0]);
    v[R_SITE].s = SITE;
    v[R_PATH].s = "/pricing";
    v[R_REFERRER].branch = 1;
    v[R_REFERRER].s = "https://example.com";
    v[R_HASH].s = HASH;
    v[R_TIME].l = TS;
    v[R_DAY].branch = 1;
    v[R_DAY].l = DAY_TS;
    v[R_ENTRY].branch = 1;
    v[R_ENTRY].l = 1;
    v[R_SOURCE].branch = 1;
    v[R_SOURCE].s = "example.com";
}

static void put_header(unsigned char *out, uint32_t id)
{
    out[0] = 0;
    out[1] = (unsigned char)(id >> 24);
    out[2] = (unsigned char)(id >> 16);
    out[3] = (unsigned char)(id >> 8);
    out[4] = (unsigned char)id;
}

/* Writes header + the record vals[] with Avro C's generic writer. */
static size_t write_raw(const char *schema_json, uint32_t id, const struct raw *vals,
                        unsigned char *out, size_t cap)
{
    avro_schema_t schema = NULL;
    avro_value_t rec, field, branch;
    assert_int_equal(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema), 0);
    avro_value_iface_t *cls = avro_generic_class_from_schema(schema);
    assert_non_null(cls);
    assert_int_equal(avro_generic_value_new(cls, &rec), 0);
    for (size_t i = 0; i < avro_schema_record_size(schema); i++) {
        assert_int_equal(avro_value_get_by_index(&rec, i, &field, NULL), 0);
        if (avro_value_get_type(&field) == AVRO_UNION) {
            assert_int_equal(avro_value_set_branch(&field, vals[i].branch, &branch), 0);
            field = branch;
        }
        size_t n = vals[i].n != 0 || vals[i].s == NULL ? vals[i].n : strlen(vals[i].s);
        switch (avro_value_get_type(&field)) {
        case AVRO_STRING:
            assert_int_equal(avro_value_set_string_len(&field, (char *)vals[i].s, n + 1), 0);
            break;
        case AVRO_INT64:
            assert_int_equal(avro_value_set_long(&field, vals[i].l), 0);
            break;
        case AVRO_INT32:
            assert_int_equal(avro_value_set_int(&field, (int32_t)vals[i].l), 0);
            break;
        case AVRO_BOOLEAN:
            assert_int_equal(avro_value_set_boolean(&field, (int)vals[i].l), 0);
            break;
        case AVRO_NULL:
            assert_int_equal(avro_value_set_null(&field), 0);
            break;
        default:
            fail_msg("write_raw: unexpected type");
        }
    }
    avro_writer_t w = avro_writer_memory((char *)out + 5, (int64_t)(cap - 5));
    assert_int_equal(avro_value_write(w, &rec), 0);
    size_t len = 5 + (size_t)avro_writer_tell(w);
    put_header(out, id);
    avro_writer_free(w);
    avro_value_decref(&rec);
    avro_value_iface_decref(cls);
    avro_schema_decref(schema);
    return len;
}

static bool all_zero(const struct mochi_pageview *ev)
{
    static const struct mochi_pageview zero;
    return memcmp(ev, &zero, sizeof zero) == 0;
}

/* Decodes and checks the result code; a failure must leave *ev zeroed. */
static void expect_decode(struct mochi_codec *codec, const void *buf, size_t len, int want)
{
    struct mochi_pageview ev;
    memset(&ev, 0xAB, sizeof ev);
    int rc = mochi_codec_decode(codec, buf, len, &ev);
    if (rc != want)
        fail_msg("decode of %zu bytes: got %d (%s), want %d (%s)", len, rc, mochi_strerror(rc),
                 want, mochi_strerror(want));
    if (rc != 0)
        assert_true(all_zero(&ev));
}

static void assert_same(const struct mochi_pageview *a, const struct mochi_pageview *b)
{
    assert_string_equal(a->site_id, b->site_id);
    assert_string_equal(a->path, b->path);
    assert_int_equal(a->has_referrer, b->has_referrer);
    if (a->has_referrer)
        assert_string_equal(a->referrer, b->referrer);
    assert_string_equal(a->visitor_hash, b->visitor_hash);
    assert_true(a->occurred_at_us == b->occurred_at_us);
    assert_int_equal(a->day, b->day);
    assert_int_equal(a->entry, b->entry);
    assert_int_equal(a->has_source, b->has_source);
    if (a->has_source)
        assert_string_equal(a->source, b->source);
}

static size_t encode(struct mochi_codec *codec, const struct mochi_pageview *ev, unsigned char *buf,
                     size_t size)
{
    size_t len = 0;
    int rc = mochi_codec_encode(codec, ev, buf, size, &len);
    if (rc != 0)
        fail_msg("encode: %s", mochi_strerror(rc));
    return len;
}

static void roundtrip(struct mochi_codec *enc, struct mochi_codec *dec,
                      const struct mochi_pageview *ev)
{
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    struct mochi_pageview back;
    size_t len = encode(enc, ev, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(dec, buf, len, &back), 0);
    assert_same(ev, &back);
}

static void path_in(char *out, size_t size, const char *dir, const char *file)
{
    int n = snprintf(out, size, "%s/%s", dir, file);
    assert_true(n > 0 && (size_t)n < size);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[2048];
    path_in(path, sizeof path, dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    static char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return strdup(text);
}

/* A scratch schema directory holding the given manifest and, when
 * with_schemas, copies of the v1, v2 and v3 test schemas. */
static void make_dir(char *dir, const char *manifest, bool with_schemas)
{
    strcpy(dir, "/tmp/mochi-test-codec-XXXXXX");
    assert_non_null(mkdtemp(dir));
    if (manifest != NULL)
        write_file(dir, "manifest.json", manifest);
    if (with_schemas) {
        char path[2048];
        const char *names[] = {"pageview.v1.avsc", "pageview.v2.avsc", "pageview.v3.avsc"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/tests/data/schemas-v3/%s", g.source, names[i]);
            char *text = read_file(path);
            write_file(dir, names[i], text);
            free(text);
        }
    }
}

static void remove_dir(const char *dir)
{
    const char *names[] = {"manifest.json", "pageview.v1.avsc", "pageview.v2.avsc",
                           "pageview.v3.avsc", "x.avsc"};
    char path[2048];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        path_in(path, sizeof path, dir, names[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
}

static int setup(void **state)
{
    (void)state;
    char dir[2048], err[512] = "";
    const char *src = getenv("MOCHI_SOURCE_DIR");
    if (src == NULL || strlen(src) >= sizeof g.source) {
        fprintf(stderr, "MOCHI_SOURCE_DIR is not set (run through ctest)\n");
        return -1;
    }
    strcpy(g.source, src);
    path_in(dir, sizeof dir, src, "schemas");
    if (mochi_schema_set_load(dir, &g.set, err, sizeof err) != 0 ||
        mochi_codec_new(g.set, &g.cur) != 0) {
        fprintf(stderr, "schemas: %s\n", err);
        return -1;
    }
    path_in(dir, sizeof dir, src, "tests/data/schemas-v3");
    if (mochi_schema_set_load(dir, &g.set3, err, sizeof err) != 0 ||
        mochi_codec_new(g.set3, &g.c3) != 0) {
        fprintf(stderr, "v3: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mochi_codec_destroy(g.cur);
    mochi_codec_destroy(g.c3);
    mochi_schema_set_destroy(g.set);
    mochi_schema_set_destroy(g.set3);
    return 0;
}

/* Reads the body of buf[0..len) with Avro C's generic reader and schema
 * json: the caller checks *rec, then calls read_done. */
struct generic {
    avro_schema_t schema;
    avro_value_iface_t *cls;
    avro_value_t rec;
};

static void read_generic(const char *json, const unsigned char *buf, size_t len, struct generic *g2)
{
    assert_int_equal(avro_schema_from_json_length(json, strlen(json), &g2->schema), 0);
    g2->cls = avro_generic_class_from_schema(g2->schema);
    assert_non_null(g2->cls);
    assert_int_equal(avro_generic_value_new(g2->cls, &g2->rec), 0);
    avro_reader_t r = avro_reader_memory((const char *)buf + 5, (int64_t)len - 5);
    assert_int_equal(avro_value_read(r, &g2->rec), 0);
    avro_reader_free(r);
}

static void read_done(struct generic *g2)
{
    avro_value_decref(&g2->rec);
    avro_value_iface_decref(g2->cls);
    avro_schema_decref(g2->schema);
}

/* The branch a union field took, and its value when not null. */
static int union_field(struct generic *g2, const char *name, avro_value_t *value)
{
    avro_value_t field;
    int branch = -1;
    assert_int_equal(avro_value_get_by_name(&g2->rec, name, &field, NULL), 0);
    assert_int_equal(avro_value_get_discriminant(&field, &branch), 0);
    assert_int_equal(avro_value_get_current_branch(&field, value), 0);
    return branch;
}

static void test_roundtrip_all_fields(void **state)
{
    (void)state;
    struct mochi_pageview ev, back;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t len = encode(g.cur, &ev, buf, sizeof buf);
    assert_int_equal(mochi_codec_current_schema_id(g.cur), 2);
    assert_memory_equal(buf, "\x00\x00\x00\x00\x02", 5);
    assert_int_equal(mochi_codec_decode(g.cur, buf, len, &back), 0);
    assert_same(&ev, &back);

    /* The body is plain Avro: Avro C's generic reader agrees. */
    struct generic rd;
    avro_value_t field;
    const char *s = NULL;
    size_t n = 0;
    int32_t day = 0;
    int entry = 0;
    read_generic(V2_JSON, buf, len, &rd);
    assert_int_equal(avro_value_get_by_name(&rd.rec, "path", &field, NULL), 0);
    assert_int_equal(avro_value_get_string(&field, &s, &n), 0);
    assert_string_equal(s, ev.path);
    assert_int_equal(union_field(&rd, "day", &field), 1);
    assert_int_equal(avro_value_get_int(&field, &day), 0);
    assert_int_equal(day, DAY_TS);
    assert_int_equal(union_field(&rd, "entry", &field), 1);
    assert_int_equal(avro_value_get_boolean(&field, &entry), 0);
    assert_true(entry);
    assert_int_equal(union_field(&rd, "source", &field), 1);
    assert_int_equal(avro_value_get_string(&field, &s, &n), 0);
    assert_string_equal(s, "news.ycombinator.com");
    read_done(&rd);
}

/* Every combination a v2 writer may send, back as sent: a direct entry
 * (no referrer, no source), an entry whose source is not its referrer's
 * host (a utm_source), internal navigation, and days either side. */
static void test_roundtrip_v2_fields(void **state)
{
    (void)state;
    struct mochi_pageview ev, back;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    struct generic rd;
    avro_value_t field;

    sample(&ev);
    ev.has_referrer = false;
    ev.has_source = false;
    strcpy(ev.source, "ignored when absent");
    size_t len = encode(g.cur, &ev, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(g.cur, buf, len, &back), 0);
    assert_false(back.has_referrer);
    assert_string_equal(back.referrer, "");
    assert_true(back.entry);
    assert_false(back.has_source);
    assert_string_equal(back.source, "");
    read_generic(V2_JSON, buf, len, &rd);
    assert_int_equal(union_field(&rd, "source", &field), 0); /* written as null */
    read_done(&rd);

    sample(&ev);
    strcpy(ev.source, "newsletter");
    roundtrip(g.cur, g.cur, &ev);

    sample(&ev);
    ev.has_referrer = false;
    ev.entry = false;
    ev.has_source = false;
    roundtrip(g.cur, g.cur, &ev);
    len = encode(g.cur, &ev, buf, sizeof buf);
    read_generic(V2_JSON, buf, len, &rd);
    int entry = 1;
    assert_int_equal(union_field(&rd, "entry", &field), 1); /* false, not null */
    assert_int_equal(avro_value_get_boolean(&field, &entry), 0);
    assert_false(entry);
    read_done(&rd);

    static const int32_t days[] = {DAY_TS - 1, DAY_TS + 1};
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        sample(&ev);
        ev.day = days[i];
        roundtrip(g.cur, g.cur, &ev);
    }
}

static void test_roundtrip_null_referrer(void **state)
{
    (void)state;
    struct mochi_pageview ev, back;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    ev.has_referrer = false;
    size_t len = encode(g.cur, &ev, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(g.cur, buf, len, &back), 0);
    assert_false(back.has_referrer);
    assert_string_equal(back.referrer, "");
}

static void test_roundtrip_non_ascii(void **state)
{
    (void)state;
    static const char *const paths[] = {"/caf%C3%A9", "/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac",
                                        "/\xf0\x9f\x8d\xa1?q=\xe2\x82\xac"};
    struct mochi_pageview ev;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        sample(&ev);
        strcpy(ev.path, paths[i]);
        strcpy(ev.referrer, "https://b\xc3\xbc"
                            "cher.example:8443");
        strcpy(ev.source, "b\xc3\xbc"
                          "cher.example");
        roundtrip(g.cur, g.cur, &ev);
    }
}

static void test_path_limits(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    size_t len = 0;

    sample(&ev);
    memset(ev.path, 'a', MOCHI_PATH_MAX);
    ev.path[0] = '/';
    ev.path[MOCHI_PATH_MAX] = '\0';
    memset(ev.referrer, 'r', MOCHI_REFERRER_MAX);
    ev.referrer[MOCHI_REFERRER_MAX] = '\0';
    memset(ev.source, 's', MOCHI_SOURCE_MAX);
    ev.source[MOCHI_SOURCE_MAX] = '\0';
    ev.occurred_at_us = MOCHI_OCCURRED_AT_MAX_US - 1;
    ev.day = 47482; /* 2100-01-01: the day after occurred_at's, the largest */
    roundtrip(g.cur, g.cur, &ev);
    len = encode(g.cur, &ev, buf, sizeof buf); /* the largest v2 event */
    /* header 5, site_id 1+36, path 2+1024, referrer 1+2+512, hash 1+32,
     * time 8, day 1+3, entry 1+1, source 1+2+253 */
    assert_int_equal(len, 1886);
    assert_true(len <= MOCHI_PAGEVIEW_WIRE_MAX);

    /* One byte over: the buffer holds no NUL. */
    ev.path[MOCHI_PATH_MAX] = 'a';
    assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len), MOCHI_ERR_RANGE);
    assert_int_equal(len, 0);
    ev.path[MOCHI_PATH_MAX] = '\0';
    ev.source[MOCHI_SOURCE_MAX] = 's';
    assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len), MOCHI_ERR_RANGE);

    /* The same from the wire. */
    static char long_path[MOCHI_PATH_MAX + 2];
    struct raw v[NRAW];
    raw_event(v);
    memset(long_path, 'a', MOCHI_PATH_MAX + 1);
    long_path[0] = '/';
    v[R_PATH].s = long_path;
    len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
    expect_decode(g.cur, buf, len, MOCHI_ERR_RANGE);
    long_path[MOCHI_PATH_MAX] = '\0';
    len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
    expect_decode(g.cur, buf, len, 0);

    static char long_source[MOCHI_SOURCE_MAX + 2];
    raw_event(v);
    memset(long_source, 's', MOCHI_SOURCE_MAX + 1);
    v[R_SOURCE].s = long_source;
    len = write_raw(V2_JSON, 2, v, buf, sizeof buf);
    expect_decode(g.cur, buf, len, MOCHI_ERR_RANGE);
    long_source[MOCHI_SOURCE_MAX] = '\0';
    len = write_raw(V2_JSON, 2, v, buf, sizeof buf);
    expect_decode(g.cur, buf, len, 0);
}

static void test_encode_buffer_too_small(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t need = encode(g.cur, &ev, buf, sizeof buf);
    for (size_t size = 0; size < need; size++) {
        size_t len = 99;
        assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, size, &len), MOCHI_ERR_INVALID);
        assert_int_equal(len, 0);
    }
    size_t len = 0;
    assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, need, &len), 0);
    assert_int_equal(len, need);
}

static void test_encode_rejects_bad_events(void **state)
{
    (void)state;
    static const struct {
        const char *field, *value;
        int want;
    } cases[] = {
        {"site_id", "0B9E7F3A-5C1D-4E2F-8A6B-9C0D1E2F3A4B", MOCHI_ERR_RANGE},
        {"site_id", "0b9e7f3a5c1d4e2f8a6b9c0d1e2f3a4b", MOCHI_ERR_RANGE},
        {"site_id", "", MOCHI_ERR_RANGE},
        {"path", "", MOCHI_ERR_RANGE},
        {"path", "pricing", MOCHI_ERR_RANGE},
        {"path", "/a\x01", MOCHI_ERR_UTF8},
        {"path", "/a\x7f", MOCHI_ERR_UTF8},
        {"path", "/a\xc2\x85", MOCHI_ERR_UTF8},        /* C1 control NEL */
        {"path", "/caf\xc3", MOCHI_ERR_UTF8},          /* cut sequence */
        {"path", "/\xc0\xaf", MOCHI_ERR_UTF8},         /* overlong '/' */
        {"path", "/\xed\xa0\x80", MOCHI_ERR_UTF8},     /* surrogate */
        {"path", "/\xf4\x90\x80\x80", MOCHI_ERR_UTF8}, /* > U+10FFFF */
        {"referrer", "", MOCHI_ERR_RANGE},
        {"referrer", "https://a\n", MOCHI_ERR_UTF8},
        {"visitor_hash", "0123456789ABCDEF0123456789ABCDEF", MOCHI_ERR_RANGE},
        {"visitor_hash", "0123456789abcdef0123456789abcde", MOCHI_ERR_RANGE},
        {"visitor_hash", "0123456789abcdef0123456789abcdeg", MOCHI_ERR_RANGE},
        {"source", "", MOCHI_ERR_RANGE},
        {"source", "example.com\t", MOCHI_ERR_UTF8},
        {"source", "\x7f", MOCHI_ERR_UTF8},
        {"source", "b\xc3", MOCHI_ERR_UTF8},
        {"source", "\xc2\x9b", MOCHI_ERR_UTF8}, /* C1 control CSI */
    };
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    size_t len = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sample(&ev);
        char *dst = strcmp(cases[i].field, "site_id") == 0    ? ev.site_id
                    : strcmp(cases[i].field, "path") == 0     ? ev.path
                    : strcmp(cases[i].field, "referrer") == 0 ? ev.referrer
                    : strcmp(cases[i].field, "source") == 0   ? ev.source
                                                              : ev.visitor_hash;
        strcpy(dst, cases[i].value);
        int rc = mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len);
        if (rc != cases[i].want)
            fail_msg("case %zu (%s): got %s", i, cases[i].field, mochi_strerror(rc));
    }

    sample(&ev);
    memset(ev.referrer, 'r', sizeof ev.referrer); /* 513 bytes, no NUL */
    assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len), MOCHI_ERR_RANGE);
    ev.has_referrer = false; /* ignored when absent */
    assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len), 0);

    sample(&ev);
    memset(ev.source, 's', sizeof ev.source); /* 254 bytes, no NUL */
    assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len), MOCHI_ERR_RANGE);
    ev.has_source = false; /* ignored when absent */
    assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len), 0);

    /* Only an entry has a source. */
    sample(&ev);
    ev.entry = false;
    assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len), MOCHI_ERR_RANGE);
    assert_int_equal(len, 0);
    ev.has_source = false;
    assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len), 0);

    static const int64_t times[][2] = {
        {MOCHI_OCCURRED_AT_MIN_US - 1, MOCHI_ERR_RANGE},
        {MOCHI_OCCURRED_AT_MIN_US, 0},
        {MOCHI_OCCURRED_AT_MAX_US - 1, 0},
        {MOCHI_OCCURRED_AT_MAX_US, MOCHI_ERR_RANGE},
        {INT64_MIN, MOCHI_ERR_RANGE},
        {0, MOCHI_ERR_RANGE},
    };
    /* 2000-01-01 is day 10957 and 2099-12-31 day 47481, by hand. */
    static const int32_t days_of[] = {10956, 10957, 47481, 47482, 0, 0};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        sample(&ev);
        ev.occurred_at_us = times[i][0];
        ev.day = days_of[i];
        assert_int_equal(mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len), times[i][1]);
    }

    /* The day: within one of occurred_at's UTC date (UTC-12..UTC+14). One
     * microsecond before TS is the day before. */
    static const struct {
        int64_t at;
        int32_t day;
        int want;
    } days[] = {
        {TS, DAY_TS - 2, MOCHI_ERR_RANGE},
        {TS, DAY_TS - 1, 0},
        {TS, DAY_TS, 0},
        {TS, DAY_TS + 1, 0},
        {TS, DAY_TS + 2, MOCHI_ERR_RANGE},
        {TS - 1, DAY_TS - 2, 0},
        {TS - 1, DAY_TS + 1, MOCHI_ERR_RANGE},
        {TS, 0, MOCHI_ERR_RANGE}, /* an event that forgot its day */
        {TS, INT32_MIN, MOCHI_ERR_RANGE},
        {TS, INT32_MAX, MOCHI_ERR_RANGE},
    };
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        sample(&ev);
        ev.occurred_at_us = days[i].at;
        ev.day = days[i].day;
        int rc = mochi_codec_encode(g.cur, &ev, buf, sizeof buf, &len);
        if (rc != days[i].want)
            fail_msg("day case %zu: got %s", i, mochi_strerror(rc));
    }
}

static void test_decode_short_and_magic(void **state)
{
    (void)state;
    static const unsigned char zeros[4] = {0};
    expect_decode(g.cur, NULL, 0, MOCHI_ERR_TRUNCATED);
    expect_decode(g.cur, zeros, 0, MOCHI_ERR_TRUNCATED);
    for (size_t n = 1; n <= 4; n++)
        expect_decode(g.cur, zeros, n, MOCHI_ERR_TRUNCATED);
    expect_decode(g.cur, "{}", 2, MOCHI_ERR_MAGIC);

    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t len = encode(g.cur, &ev, buf, sizeof buf);
    buf[0] = 0x01;
    expect_decode(g.cur, buf, len, MOCHI_ERR_MAGIC);
}

static void test_decode_unknown_schema_id(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t len = encode(g.cur, &ev, buf, sizeof buf);
    static const uint32_t ids[] = {0, 3, 256, 0x01000002, 0xFFFFFFFF};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        put_header(buf, ids[i]);
        expect_decode(g.cur, buf, len, MOCHI_ERR_SCHEMA_ID);
    }
    put_header(buf, 1);
    expect_decode(g.cur, buf, 5, MOCHI_ERR_TRUNCATED); /* known id, empty body */
    put_header(buf, 2);
    expect_decode(g.cur, buf, 5, MOCHI_ERR_TRUNCATED);
}

static void test_decode_truncated_at_every_length(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    for (int with_referrer = 0; with_referrer < 2; with_referrer++) {
        sample(&ev);
        ev.has_referrer = with_referrer;
        size_t len = encode(g.cur, &ev, buf, sizeof buf);
        for (size_t n = 5; n < len; n++)
            expect_decode(g.cur, buf, n, MOCHI_ERR_TRUNCATED);
        expect_decode(g.cur, buf, len, 0);
    }
    struct raw v[NRAW];
    raw_event(v);
    size_t len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
    for (size_t n = 5; n < len; n++)
        expect_decode(g.cur, buf, n, MOCHI_ERR_TRUNCATED);
    expect_decode(g.cur, buf, len, 0);

    v[R_SCREEN].branch = 1;
    v[R_SCREEN].s = "1920x1080";
    len = write_raw(V3_JSON, 3, v, buf, sizeof buf);
    for (size_t n = 5; n < len; n++)
        expect_decode(g.c3, buf, n, MOCHI_ERR_TRUNCATED);
    expect_decode(g.c3, buf, len, 0);
}

static void test_decode_trailing_bytes(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t len = encode(g.cur, &ev, buf, sizeof buf);
    buf[len] = 0x00;
    expect_decode(g.cur, buf, len + 1, MOCHI_ERR_MALFORMED);
    memcpy(buf + len, "garbage", 7);
    expect_decode(g.cur, buf, len + 7, MOCHI_ERR_MALFORMED);

    /* v2's fields after a v1 header are trailing bytes to v1's schema. */
    put_header(buf, 1);
    expect_decode(g.cur, buf, len, MOCHI_ERR_MALFORMED);
}

/* Under ASan, Avro C 1.11.1 alone aborts on these (see codec.c). */
static void test_decode_hostile_lengths(void **state)
{
    (void)state;
    static const struct {
        int64_t length;
        int want;
    } cases[] = {
        {INT64_C(1) << 40, MOCHI_ERR_TRUNCATED},
        {INT64_MAX, MOCHI_ERR_TRUNCATED},
        {1, MOCHI_ERR_TRUNCATED}, /* no bytes left at all */
        {-1, MOCHI_ERR_MALFORMED},
        {-2, MOCHI_ERR_MALFORMED},
        {INT64_MIN, MOCHI_ERR_MALFORMED},
    };
    unsigned char buf[256];
    struct raw v[NRAW] = {{.s = SITE}, {.l = 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        v[1].l = cases[i].length;
        size_t len = write_raw(PATH_AS_LONG, 1, v, buf, sizeof buf);
        expect_decode(g.cur, buf, len, cases[i].want);
    }
    /* The same as v2's source: the last field, so nothing follows it. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw_event(v);
        v[R_SOURCE].l = cases[i].length;
        size_t len = write_raw(SOURCE_AS_LONG, 2, v, buf, sizeof buf);
        expect_decode(g.cur, buf, len, cases[i].want);
    }
}

static void test_decode_bad_varint_and_branch(void **state)
{
    (void)state;
    unsigned char buf[256];
    struct raw v[NRAW];
    raw_event(v);
    size_t len = write_raw(V1_NO_TIME, 1, v, buf, sizeof buf);
    /* 11 bytes: longer than any 64-bit varint */
    memset(buf + len, 0xFF, 10);
    buf[len + 10] = 0x01;
    expect_decode(g.cur, buf, len + 11, MOCHI_ERR_MALFORMED);
    /* 10 bytes whose last one carries bits past 64 */
    buf[len + 9] = 0x02;
    expect_decode(g.cur, buf, len + 10, MOCHI_ERR_MALFORMED);
    /* 10 bytes at the very limit: INT64_MIN, a valid long but no date */
    buf[len + 9] = 0x01;
    expect_decode(g.cur, buf, len + 10, MOCHI_ERR_RANGE);
    /* continuation bit on the last byte of the message */
    expect_decode(g.cur, buf, len + 9, MOCHI_ERR_TRUNCATED);

    static const int64_t branches[] = {2, -1, INT64_MAX};
    for (size_t i = 0; i < sizeof branches / sizeof branches[0]; i++) {
        struct raw r[NRAW] = {{.s = SITE}, {.s = "/"}, {.l = branches[i]}};
        len = write_raw(REFERRER_AS_LONG, 1, r, buf, sizeof buf);
        expect_decode(g.cur, buf, len, MOCHI_ERR_MALFORMED);
        /* day's union branch */
        raw_event(v);
        v[R_DAY].l = branches[i];
        len = write_raw(DAY_BRANCH_AS_LONG, 2, v, buf, sizeof buf);
        expect_decode(g.cur, buf, len, MOCHI_ERR_MALFORMED);
    }

    /* An int that does not fit in 32 bits, and a boolean byte other than
     * 0 or 1 (the long 1 is the byte 0x02). */
    static const int64_t bad_days[] = {INT64_C(1) << 31, -(INT64_C(1) << 31) - 1, INT64_MAX};
    for (size_t i = 0; i < sizeof bad_days / sizeof bad_days[0]; i++) {
        raw_event(v);
        v[R_DAY].l = bad_days[i];
        len = write_raw(DAY_AS_LONG, 2, v, buf, sizeof buf);
        expect_decode(g.cur, buf, len, MOCHI_ERR_MALFORMED);
    }
    raw_event(v);
    v[R_DAY].l = DAY_TS; /* as a long: the same bytes as the int */
    len = write_raw(DAY_AS_LONG, 2, v, buf, sizeof buf);
    expect_decode(g.cur, buf, len, 0);
    static const int64_t bad_booleans[] = {1, 2, -2, 64};
    for (size_t i = 0; i < sizeof bad_booleans / sizeof bad_booleans[0]; i++) {
        raw_event(v);
        v[R_ENTRY].l = bad_booleans[i];
        len = write_raw(ENTRY_AS_LONG, 2, v, buf, sizeof buf);
        expect_decode(g.cur, buf, len, MOCHI_ERR_MALFORMED);
    }
    raw_event(v);
    v[R_ENTRY].l = -1; /* zigzag 0x01: true */
    len = write_raw(ENTRY_AS_LONG, 2, v, buf, sizeof buf);
    expect_decode(g.cur, buf, len, 0);
}

static void test_decode_bad_text(void **state)
{
    (void)state;
    static const struct {
        int field;
        const char *s;
        size_t n;
        int want;
    } cases[] = {
        {R_PATH, "/caf\xc3", 0, MOCHI_ERR_UTF8},
        {R_PATH, "/a\0b", 4, MOCHI_ERR_UTF8}, /* NUL inside an Avro string */
        {R_PATH, "/a\x01", 0, MOCHI_ERR_UTF8},
        {R_PATH, "/a\x7f", 0, MOCHI_ERR_UTF8},
        {R_PATH, "/\xed\xa0\x80", 0, MOCHI_ERR_UTF8},
        {R_REFERRER, "https://\xff", 0, MOCHI_ERR_UTF8},
        {R_REFERRER, "https://a\r\n", 0, MOCHI_ERR_UTF8},
        {R_SITE, SITE "\0", 37, MOCHI_ERR_RANGE}, /* too long for site_id[] */
        {R_HASH, HASH "\0", 33, MOCHI_ERR_RANGE},
    };
    unsigned char buf[256];
    struct raw v[NRAW];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw_event(v);
        v[cases[i].field].s = cases[i].s;
        v[cases[i].field].n = cases[i].n;
        size_t len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
        expect_decode(g.cur, buf, len, cases[i].want);
    }
    /* The NUL really went over the wire: the path's length prefix is 4. */
    raw_event(v);
    v[R_PATH].s = "/a\0b";
    v[R_PATH].n = 4;
    write_raw(V1_JSON, 1, v, buf, sizeof buf);
    assert_int_equal(buf[5 + 1 + 36], 4 << 1);

    static const struct {
        const char *s;
        size_t n;
        int want;
    } sources[] = {
        {"b\xc3", 0, MOCHI_ERR_UTF8},     {"a\0b", 3, MOCHI_ERR_UTF8},
        {"a\x1b[31m", 0, MOCHI_ERR_UTF8}, {"\xc2\x85", 0, MOCHI_ERR_UTF8},
        {"", 0, MOCHI_ERR_RANGE},
    };
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        raw_event(v);
        v[R_SOURCE].s = sources[i].s;
        v[R_SOURCE].n = sources[i].n;
        size_t len = write_raw(V2_JSON, 2, v, buf, sizeof buf);
        expect_decode(g.cur, buf, len, sources[i].want);
    }
}

static void test_decode_bad_values(void **state)
{
    (void)state;
    static const struct {
        int field;
        const char *s;
        int64_t l;
    } cases[] = {
        {R_SITE, "not-a-uuid", 0},
        {R_SITE, "0B9E7F3A-5C1D-4E2F-8A6B-9C0D1E2F3A4B", 0},
        {R_SITE, "", 0},
        {R_PATH, "pricing", 0},
        {R_PATH, "", 0},
        {R_REFERRER, "", 0}, /* present but empty referrer */
        {R_HASH, "xyz", 0},
        {R_HASH, "0123456789ABCDEF0123456789ABCDEF", 0},
        {R_TIME, NULL, 0},
        {R_TIME, NULL, -1},
        {R_TIME, NULL, MOCHI_OCCURRED_AT_MAX_US},
        {R_TIME, NULL, MOCHI_OCCURRED_AT_MIN_US - 1},
    };
    unsigned char buf[256];
    struct raw v[NRAW];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int version = 1; version <= 2; version++) {
            raw_event(v);
            v[cases[i].field].s = cases[i].s;
            v[cases[i].field].l = cases[i].l;
            size_t len =
                write_raw(version == 1 ? V1_JSON : V2_JSON, (uint32_t)version, v, buf, sizeof buf);
            expect_decode(g.cur, buf, len, MOCHI_ERR_RANGE);
        }
    }

    /* v2's own rules, from the wire: the day within one of the UTC date,
     * and a source only on an entry. */
    static const int64_t days[] = {DAY_TS - 2, DAY_TS + 2, 0, -1, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        raw_event(v);
        v[R_DAY].l = days[i];
        size_t len = write_raw(V2_JSON, 2, v, buf, sizeof buf);
        expect_decode(g.cur, buf, len, MOCHI_ERR_RANGE);
    }
    raw_event(v);
    v[R_ENTRY].l = 0;
    size_t len = write_raw(V2_JSON, 2, v, buf, sizeof buf);
    expect_decode(g.cur, buf, len, MOCHI_ERR_RANGE);
    v[R_SOURCE].branch = 0;
    len = write_raw(V2_JSON, 2, v, buf, sizeof buf);
    expect_decode(g.cur, buf, len, 0);
}

/* v1 messages, written with the v1 schema, read by the v2 codec: DESIGN.md's
 * "day = its UTC date, entry = (referrer is not null), source = its
 * referrer's host", the host without port and leading "www.". */
static void test_v1_read_as_v2(void **state)
{
    (void)state;
    static const struct {
        const char *referrer; /* NULL: none */
        int64_t at;
        int32_t day;
        bool entry;
        const char *source; /* NULL: none */
    } cases[] = {
        {"https://example.com", TS, DAY_TS, true, "example.com"},
        {NULL, TS, DAY_TS, false, NULL}, /* direct or internal: v1 cannot tell */
        {"https://news.ycombinator.com", TS - 1, DAY_TS - 1, true, "news.ycombinator.com"},
        {"https://www.google.com", TS + 86399999999, DAY_TS, true, "google.com"},
        {"http://WWW.Example.COM:8080", TS, DAY_TS, true, "example.com"},
        {"https://www2.example.com", TS, DAY_TS, true, "www2.example.com"},
        {"https://www.", TS, DAY_TS, true,
         "www"}, /* a trailing dot goes, as mochi_domain_source says */
        {"http://[2001:db8::1]:8443", TS, DAY_TS, true, "[2001:db8::1]"},
        {"android-app://com.google.android.gm", TS, DAY_TS, true, "com.google.android.gm"},
        {"https://b\xc3\xbc"
         "cher.example:8443",
         TS, DAY_TS, true,
         "b\xc3\xbc"
         "cher.example"},
        {"not a url", TS, DAY_TS, true, NULL}, /* a referrer, but no host in it */
        {"https://:443", TS, DAY_TS, true, NULL},
        {"https://example.com/path?q=1#f", TS, DAY_TS, true, "example.com"},
    };
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    struct raw v[NRAW];
    struct mochi_pageview ev;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw_event(v);
        v[R_REFERRER].branch = cases[i].referrer != NULL;
        v[R_REFERRER].s = cases[i].referrer;
        v[R_TIME].l = cases[i].at;
        size_t len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
        memset(&ev, 0xAB, sizeof ev);
        int rc = mochi_codec_decode(g.cur, buf, len, &ev);
        if (rc != 0)
            fail_msg("case %zu: %s", i, mochi_strerror(rc));
        assert_int_equal(ev.day, cases[i].day);
        assert_int_equal(ev.entry, cases[i].entry);
        assert_int_equal(ev.has_source, cases[i].source != NULL);
        assert_string_equal(ev.source, cases[i].source != NULL ? cases[i].source : "");
        assert_string_equal(ev.path, "/pricing");
    }

    /* A host longer than any DNS name is cut to MOCHI_SOURCE_MAX bytes at a
     * character boundary: 150 two-byte characters make 300 bytes, 126 of
     * them fit in 253. */
    static char referrer[MOCHI_REFERRER_MAX + 1];
    strcpy(referrer, "https://");
    for (int i = 0; i < 150; i++)
        strcat(referrer, "\xc3\xa9");
    strcat(referrer, ":8080");
    raw_event(v);
    v[R_REFERRER].s = referrer;
    size_t len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(g.cur, buf, len, &ev), 0);
    assert_true(ev.has_source);
    assert_int_equal(strlen(ev.source), 252);
    assert_memory_equal(ev.source, referrer + 8, 252);
}

/* A v2 writer may leave day, entry and source null (their defaults): each
 * unknown one is derived as for v1, and a source counts only beside a
 * known entry. */
static void test_v2_nulls(void **state)
{
    (void)state;
    static const struct {
        int day_branch, entry_branch, entry, source_branch;
        bool has_referrer;
        int32_t want_day;
        bool want_entry;
        const char *want_source;
    } cases[] = {
        /* all null: exactly the v1 reading */
        {0, 0, 0, 0, true, DAY_TS, true, "example.com"},
        {0, 0, 0, 0, false, DAY_TS, false, NULL},
        /* day null, entry known: the written entry and source stay */
        {0, 1, 0, 0, true, DAY_TS, false, NULL},
        {0, 1, 1, 1, false, DAY_TS, true, "example.com"},
        {0, 1, 1, 0, true, DAY_TS, true, NULL}, /* a written "Direct / none" */
        /* day known (the next day), entry null: derived from the referrer,
         * and the written source is not the entry's */
        {1, 0, 0, 1, true, DAY_TS + 1, true, "example.com"},
        {1, 0, 0, 1, false, DAY_TS + 1, false, NULL},
        {1, 0, 0, 0, false, DAY_TS + 1, false, NULL},
    };
    unsigned char buf[256];
    struct raw v[NRAW];
    struct mochi_pageview ev;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw_event(v);
        v[R_REFERRER].branch = cases[i].has_referrer;
        v[R_DAY].branch = cases[i].day_branch;
        v[R_DAY].l = DAY_TS + 1;
        v[R_ENTRY].branch = cases[i].entry_branch;
        v[R_ENTRY].l = cases[i].entry;
        v[R_SOURCE].branch = cases[i].source_branch;
        v[R_SOURCE].s = "example.com";
        if (cases[i].entry_branch == 0)
            v[R_SOURCE].s = "written.example"; /* must not show */
        size_t len = write_raw(V2_JSON, 2, v, buf, sizeof buf);
        memset(&ev, 0xAB, sizeof ev);
        int rc = mochi_codec_decode(g.cur, buf, len, &ev);
        if (rc != 0)
            fail_msg("case %zu: %s", i, mochi_strerror(rc));
        assert_int_equal(ev.day, cases[i].want_day);
        assert_int_equal(ev.entry, cases[i].want_entry);
        assert_int_equal(ev.has_source, cases[i].want_source != NULL);
        assert_string_equal(ev.source, cases[i].want_source != NULL ? cases[i].want_source : "");
    }
}

/* One decoder, v1 and v2 messages in turn: nothing of one message leaks
 * into the next through the codec's reused records. */
static void test_mixed_versions_one_decoder(void **state)
{
    (void)state;
    unsigned char msgs[6][MOCHI_PAGEVIEW_WIRE_MAX];
    size_t lens[6];
    struct mochi_pageview want[6], ev;
    struct raw v[NRAW];

    /* 0: v2 from the encoder, an entry with a utm_source-like source */
    sample(&want[0]);
    strcpy(want[0].source, "newsletter");
    want[0].day = DAY_TS + 1;
    lens[0] = encode(g.cur, &want[0], msgs[0], sizeof msgs[0]);
    /* 1: v1 without a referrer */
    raw_event(v);
    v[R_REFERRER].branch = 0;
    v[R_PATH].s = "/one";
    lens[1] = write_raw(V1_JSON, 1, v, msgs[1], sizeof msgs[1]);
    memset(&want[1], 0, sizeof want[1]);
    strcpy(want[1].site_id, SITE);
    strcpy(want[1].path, "/one");
    strcpy(want[1].visitor_hash, HASH);
    want[1].occurred_at_us = TS;
    want[1].day = DAY_TS;
    /* 2: v2 with every new field null, a referrer */
    raw_event(v);
    v[R_PATH].s = "/two";
    v[R_REFERRER].s = "https://www.bing.com";
    v[R_DAY].branch = v[R_ENTRY].branch = v[R_SOURCE].branch = 0;
    lens[2] = write_raw(V2_JSON, 2, v, msgs[2], sizeof msgs[2]);
    want[2] = want[1];
    strcpy(want[2].path, "/two");
    want[2].has_referrer = true;
    strcpy(want[2].referrer, "https://www.bing.com");
    want[2].entry = true;
    want[2].has_source = true;
    strcpy(want[2].source, "bing.com");
    /* 3: v2 internal navigation, from the encoder */
    sample(&want[3]);
    want[3].has_referrer = false;
    want[3].entry = false;
    want[3].has_source = false;
    want[3].day = DAY_TS - 1;
    lens[3] = encode(g.cur, &want[3], msgs[3], sizeof msgs[3]);
    /* 4: v1 with a referrer; 5: the same v1 as 1 again */
    raw_event(v);
    v[R_REFERRER].s = "https://duckduckgo.com";
    lens[4] = write_raw(V1_JSON, 1, v, msgs[4], sizeof msgs[4]);
    want[4] = want[1];
    strcpy(want[4].path, "/pricing");
    want[4].has_referrer = true;
    strcpy(want[4].referrer, "https://duckduckgo.com");
    want[4].entry = true;
    want[4].has_source = true;
    strcpy(want[4].source, "duckduckgo.com");
    memcpy(msgs[5], msgs[1], lens[1]);
    lens[5] = lens[1];
    want[5] = want[1];

    assert_memory_equal(msgs[0], "\x00\x00\x00\x00\x02", 5);
    assert_memory_equal(msgs[1], "\x00\x00\x00\x00\x01", 5);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 6; i++) {
            size_t k = round == 0 ? i : 5 - i;
            memset(&ev, 0xAB, sizeof ev);
            assert_int_equal(mochi_codec_decode(g.cur, msgs[k], lens[k], &ev), 0);
            assert_same(&want[k], &ev);
            assert_string_equal(ev.referrer, want[k].has_referrer ? want[k].referrer : "");
            assert_string_equal(ev.source, want[k].has_source ? want[k].source : "");
        }
    }
}

/* The test-only v3 reads v1 and v2 messages. */
static void test_v3_reads_older(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    sample(&ev);
    roundtrip(g.cur, g.c3, &ev);
    ev.has_referrer = false;
    ev.has_source = false;
    roundtrip(g.cur, g.c3, &ev);
    assert_int_equal(mochi_codec_current_schema_id(g.c3), 3);

    unsigned char buf[256];
    struct raw v[NRAW];
    raw_event(v);
    v[R_TIME].l = TS - 1;
    size_t len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(g.c3, buf, len, &ev), 0);
    assert_int_equal(ev.day, DAY_TS - 1);
    assert_true(ev.entry);
    assert_string_equal(ev.source, "example.com");
}

/* struct mochi_pageview has no "screen": the v3 encoder writes its default. */
static void test_v3_encoder_writes_defaults(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t len = encode(g.c3, &ev, buf, sizeof buf);
    assert_memory_equal(buf, "\x00\x00\x00\x00\x03", 5);
    expect_decode(g.cur, buf, len, MOCHI_ERR_SCHEMA_ID); /* schemas/ does not know id 3 */
    roundtrip(g.c3, g.c3, &ev);

    struct generic rd;
    avro_value_t field;
    read_generic(V3_JSON, buf, len, &rd);
    assert_int_equal(union_field(&rd, "screen", &field), 0); /* null */
    assert_int_equal(union_field(&rd, "source", &field), 1);
    read_done(&rd);
}

static void test_v3_written_message(void **state)
{
    (void)state;
    unsigned char buf[256];
    struct mochi_pageview ev;
    struct raw v[NRAW];
    raw_event(v);
    v[R_SCREEN].branch = 1;
    v[R_SCREEN].s = "1920x1080";
    size_t len = write_raw(V3_JSON, 3, v, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(g.c3, buf, len, &ev), 0);
    assert_string_equal(ev.path, "/pricing");
    assert_string_equal(ev.referrer, "https://example.com");
    assert_int_equal(ev.day, DAY_TS);
    assert_true(ev.entry && ev.has_source);
    assert_string_equal(ev.source, "example.com");
}

/* A reader whose current schema is v2 but whose manifest lists v3 too:
 * Avro C's resolver skips the writer-only field, after the length check. */
static void test_v2_reader_of_v3(void **state)
{
    (void)state;
    char dir[64], err[512] = "";
    struct mochi_schema_set *set = NULL;
    struct mochi_codec *codec = NULL;
    make_dir(dir,
             "{\"current\": 2, \"schemas\": [{\"id\": 1, \"file\": \"pageview.v1.avsc\"},"
             " {\"id\": 2, \"file\": \"pageview.v2.avsc\"},"
             " {\"id\": 3, \"file\": \"pageview.v3.avsc\"}]}",
             true);
    if (mochi_schema_set_load(dir, &set, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(mochi_codec_new(set, &codec), 0);
    assert_int_equal(mochi_codec_current_schema_id(codec), 2);

    unsigned char buf[256];
    struct mochi_pageview ev;
    struct raw v[NRAW];
    raw_event(v);
    v[R_SCREEN].branch = 1;
    v[R_SCREEN].s = "1920x1080";
    size_t len = write_raw(V3_JSON, 3, v, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(codec, buf, len, &ev), 0);
    assert_string_equal(ev.visitor_hash, HASH);
    assert_string_equal(ev.source, "example.com");
    for (size_t n = 5; n < len; n++)
        expect_decode(codec, buf, n, MOCHI_ERR_TRUNCATED);
    /* The skipped field's length prefix is checked too: Avro C would skip
     * a negative length without complaint. */
    size_t at = len - 1 - strlen("1920x1080");
    buf[at] = 0x01; /* -1 */
    expect_decode(codec, buf, len, MOCHI_ERR_MALFORMED);
    buf[at] = 0x7E; /* 63 */
    expect_decode(codec, buf, len, MOCHI_ERR_TRUNCATED);

    mochi_codec_destroy(codec);
    mochi_schema_set_destroy(set);
    remove_dir(dir);
}

static void expect_load_error(const char *manifest, const char *avsc, int want, const char *needle)
{
    char dir[64], err[512] = "";
    struct mochi_schema_set *set = NULL;
    make_dir(dir, manifest, true);
    if (avsc != NULL)
        write_file(dir, "x.avsc", avsc);
    int rc = mochi_schema_set_load(dir, &set, err, sizeof err);
    if (rc != want || set != NULL || strstr(err, needle) == NULL)
        fail_msg("got %s \"%s\", want %s with \"%s\"", mochi_strerror(rc), err,
                 mochi_strerror(want), needle);
    remove_dir(dir);
}

#define ONLY_X "{\"current\": 1, \"schemas\": [{\"id\": 1, \"file\": \"x.avsc\"}]}"
#define V2_AND_X                                                                                   \
    "{\"current\": 2, \"schemas\": [{\"id\": 1, \"file\": \"pageview.v1.avsc\"},"                  \
    " {\"id\": 2, \"file\": \"pageview.v2.avsc\"}, {\"id\": 3, \"file\": \"x.avsc\"}]}"
#define X_OVER_OLDER                                                                               \
    "{\"current\": 3, \"schemas\": [{\"id\": 1, \"file\": \"pageview.v1.avsc\"},"                  \
    " {\"id\": 2, \"file\": \"pageview.v2.avsc\"}, {\"id\": 3, \"file\": \"x.avsc\"}]}"

static void test_load_errors(void **state)
{
    (void)state;
    char err[512] = "";
    struct mochi_schema_set *set = NULL;
    assert_int_equal(mochi_schema_set_load("/nonexistent/mochi", &set, err, sizeof err),
                     MOCHI_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/mochi/manifest.json"));
    assert_null(set);

    expect_load_error(NULL, NULL, MOCHI_ERR_IO, "manifest.json");
    expect_load_error("{\"current\": 1,", NULL, MOCHI_ERR_INVALID, "manifest.json:1");
    expect_load_error("{\"schemas\": []}", NULL, MOCHI_ERR_INVALID, "manifest.json");
    expect_load_error("{\"current\": 1, \"schemas\": []}", NULL, MOCHI_ERR_INVALID,
                      "manifest.json");
    expect_load_error(
        "{\"current\": 9, \"schemas\": [{\"id\": 1, \"file\": \"pageview.v1.avsc\"}]}", NULL,
        MOCHI_ERR_INVALID, "current id 9");
    expect_load_error("{\"current\": 2, \"schemas\": [{\"id\": 2, \"file\": \"pageview.v2.avsc\"},"
                      " {\"id\": 2, \"file\": \"pageview.v1.avsc\"}]}",
                      NULL, MOCHI_ERR_INVALID, "listed twice");
    expect_load_error(
        "{\"current\": 1, \"schemas\": [{\"id\": 1, \"file\": \"../pageview.v1.avsc\"}]}", NULL,
        MOCHI_ERR_INVALID, "schemas[0]");
    expect_load_error(
        "{\"current\": 0, \"schemas\": [{\"id\": 0, \"file\": \"pageview.v1.avsc\"}]}", NULL,
        MOCHI_ERR_INVALID, "schemas[0]");
    expect_load_error("{\"current\": 1, \"schemas\": [{\"id\": 1, \"file\": \"missing.avsc\"}]}",
                      NULL, MOCHI_ERR_IO, "missing.avsc");
    expect_load_error(ONLY_X, "{\"type\": \"record\",", MOCHI_ERR_INVALID, "x.avsc:1");
    expect_load_error(ONLY_X, "{\"type\": \"nope\"}", MOCHI_ERR_INVALID, "x.avsc");
    expect_load_error(ONLY_X, "\"string\"", MOCHI_ERR_INVALID, "x.avsc");
    expect_load_error(ONLY_X, RECORD("{\"name\":\"site_id\",\"type\":\"string\"}"),
                      MOCHI_ERR_INVALID, "has no field \"path\"");
    expect_load_error(ONLY_X,
                      RECORD(V2_FIELDS ",{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":"
                                       "\"string\"},\"default\":[]}"),
                      MOCHI_ERR_INVALID, "x.avsc: want a record of");
    /* An older schema lacks v2's fields; a writer that is not current may,
     * but it must keep v1's. */
    expect_load_error(
        "{\"current\": 1, \"schemas\": [{\"id\": 1, \"file\": \"pageview.v1.avsc\"}]}", NULL,
        MOCHI_ERR_INVALID, "pageview.v1.avsc: has no field \"day\" (the current schema needs it)");
    expect_load_error(V2_AND_X,
                      RECORD("{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\","
                             "\"type\":\"string\"},{\"name\":\"visitor_hash\",\"type\":\"string\"},"
                             "{\"name\":\"occurred_at\",\"type\":\"long\"}"),
                      MOCHI_ERR_INVALID, "x.avsc: has no field \"referrer\"");
    /* The current schema's own rules. */
    expect_load_error(ONLY_X,
                      RECORD("{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\","
                             "\"type\":\"long\"},{\"name\":\"referrer\",\"type\":[\"null\","
                             "\"string\"]},{\"name\":\"visitor_hash\",\"type\":\"string\"},"
                             "{\"name\":\"occurred_at\",\"type\":\"long\"}," DAY_FIELD
                             "," ENTRY_FIELD "," SOURCE_FIELD),
                      MOCHI_ERR_INVALID, "field \"path\" of the current schema must be string");
    expect_load_error(ONLY_X,
                      RECORD("{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\","
                             "\"type\":\"string\"},{\"name\":\"referrer\",\"type\":[\"string\","
                             "\"null\"]},{\"name\":\"visitor_hash\",\"type\":\"string\"},"
                             "{\"name\":\"occurred_at\",\"type\":\"long\"}," DAY_FIELD
                             "," ENTRY_FIELD "," SOURCE_FIELD),
                      MOCHI_ERR_INVALID, "field \"referrer\"");
    expect_load_error(ONLY_X,
                      RECORD(V1_FIELDS ",{\"name\":\"day\",\"type\":[\"null\",\"long\"]},"
                                       "" ENTRY_FIELD "," SOURCE_FIELD),
                      MOCHI_ERR_INVALID,
                      "field \"day\" of the current schema must be [\"null\", \"int\"]");
    expect_load_error(
        ONLY_X,
        RECORD(V1_FIELDS ",{\"name\":\"day\",\"type\":\"int\"}," ENTRY_FIELD "," SOURCE_FIELD),
        MOCHI_ERR_INVALID, "field \"day\"");
    expect_load_error(
        ONLY_X,
        RECORD(V1_FIELDS "," DAY_FIELD ",{\"name\":\"entry\",\"type\":[\"boolean\",\"null\"]},"
                         "" SOURCE_FIELD),
        MOCHI_ERR_INVALID, "field \"entry\" of the current schema must be [\"null\", \"boolean\"]");
    expect_load_error(ONLY_X,
                      RECORD(V1_FIELDS
                             "," DAY_FIELD "," ENTRY_FIELD
                             ",{\"name\":\"source\",\"type\":[\"null\",\"string\",\"int\"]}"),
                      MOCHI_ERR_INVALID, "field \"source\"");
    expect_load_error(X_OVER_OLDER,
                      RECORD(V2_FIELDS ",{\"name\":\"screen\",\"type\":[\"null\",\"string\"]}"),
                      MOCHI_ERR_INVALID, "field \"screen\" of the current schema needs a default");
    expect_load_error(X_OVER_OLDER,
                      RECORD(V2_FIELDS ",{\"name\":\"screen\",\"type\":[\"null\",\"string\"],"
                                       "\"default\":\"big\"}"),
                      MOCHI_ERR_INVALID, "field \"screen\"");
    /* An older writer that cannot resolve into the current schema. */
    expect_load_error(V2_AND_X,
                      RECORD("{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\","
                             "\"type\":\"boolean\"},{\"name\":\"referrer\",\"type\":[\"null\","
                             "\"string\"]},{\"name\":\"visitor_hash\",\"type\":\"string\"},"
                             "{\"name\":\"occurred_at\",\"type\":\"long\"}"),
                      MOCHI_ERR_INVALID, "schema id 3 does not resolve");
}

/* A writer that has some of v2's fields: those it lacks are derived. Avro
 * C resolves a union branch by branch when it reads, so a writer whose day
 * may be a string loads, and only a message that sends one is refused. */
static void test_partial_writer(void **state)
{
    (void)state;
    static const char *const X_JSON =
        RECORD(V1_FIELDS ",{\"name\":\"day\",\"type\":[\"null\",\"string\"]}");
    char dir[64], err[512] = "";
    struct mochi_schema_set *set = NULL;
    struct mochi_codec *codec = NULL;
    make_dir(dir, V2_AND_X, true);
    write_file(dir, "x.avsc", X_JSON);
    if (mochi_schema_set_load(dir, &set, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(mochi_codec_new(set, &codec), 0);

    unsigned char buf[256];
    struct mochi_pageview ev;
    struct raw v[NRAW];
    raw_event(v);
    v[R_DAY].branch = 0;
    size_t len = write_raw(X_JSON, 3, v, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(codec, buf, len, &ev), 0);
    assert_int_equal(ev.day, DAY_TS);
    assert_true(ev.entry && ev.has_source);
    assert_string_equal(ev.source, "example.com");
    v[R_DAY].branch = 1;
    v[R_DAY].s = "2026-01-01";
    len = write_raw(X_JSON, 3, v, buf, sizeof buf);
    expect_decode(codec, buf, len, MOCHI_ERR_MALFORMED);

    mochi_codec_destroy(codec);
    mochi_schema_set_destroy(set);
    remove_dir(dir);
}

static void test_defaults_of_other_types(void **state)
{
    (void)state;
    char dir[64], err[512] = "";
    struct mochi_schema_set *set = NULL;
    struct mochi_codec *codec = NULL;
    make_dir(dir, X_OVER_OLDER, true);
    write_file(dir, "x.avsc",
               RECORD(V2_FIELDS
                      ",{\"name\":\"n\",\"type\":\"int\",\"default\":-7},"
                      "{\"name\":\"b\",\"type\":\"boolean\",\"default\":true},"
                      "{\"name\":\"d\",\"type\":\"double\",\"default\":1.5},"
                      "{\"name\":\"f\",\"type\":\"float\",\"default\":2},"
                      "{\"name\":\"s\",\"type\":[\"string\",\"null\"],\"default\":\"x\"}"));
    if (mochi_schema_set_load(dir, &set, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(mochi_codec_new(set, &codec), 0);
    struct mochi_pageview ev;
    sample(&ev);
    roundtrip(codec, codec, &ev);
    roundtrip(g.cur, codec, &ev); /* v2 into x */
    mochi_codec_destroy(codec);
    mochi_schema_set_destroy(set);
    remove_dir(dir);
}

static void test_schema_dir_default(void **state)
{
    (void)state;
    assert_int_equal(setenv("MOCHI_SCHEMA_DIR", "/etc/mochi/schemas", 1), 0);
    assert_string_equal(mochi_schema_dir_default(), "/etc/mochi/schemas");
    assert_int_equal(setenv("MOCHI_SCHEMA_DIR", "", 1), 0);
    const char *dir = mochi_schema_dir_default();
    assert_non_null(strstr(dir, "schemas"));
    assert_int_equal(unsetenv("MOCHI_SCHEMA_DIR"), 0);
    assert_string_equal(mochi_schema_dir_default(), dir);

    char err[512] = "";
    struct mochi_schema_set *set = NULL;
    if (mochi_schema_set_load(dir, &set, err, sizeof err) != 0)
        fail_msg("%s", err);
    mochi_schema_set_destroy(set);
    mochi_schema_set_destroy(NULL);
    mochi_codec_destroy(NULL);
}

/* The test copies of v1 and v2 must stay the real ones, and the real v2
 * must be the schema these tests write with (DESIGN.md's). */
static void test_snapshots_match(void **state)
{
    (void)state;
    static const char *const names[] = {"pageview.v1.avsc", "pageview.v2.avsc"};
    char a[2048], b[2048];
    for (size_t i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/schemas/%s", g.source, names[i]);
        snprintf(b, sizeof b, "%s/tests/data/schemas-v3/%s", g.source, names[i]);
        char *ta = read_file(a), *tb = read_file(b);
        assert_string_equal(ta, tb);
        free(ta);
        free(tb);
    }
    snprintf(a, sizeof a, "%s/schemas/pageview.v2.avsc", g.source);
    char *text = read_file(a);
    avro_schema_t file = NULL, here = NULL;
    assert_int_equal(avro_schema_from_json_length(text, strlen(text), &file), 0);
    assert_int_equal(avro_schema_from_json_length(V2_JSON, strlen(V2_JSON), &here), 0);
    assert_int_equal(avro_schema_record_size(file), 8);
    for (int i = 0; i < 8; i++) {
        assert_string_equal(avro_schema_record_field_name(file, i),
                            avro_schema_record_field_name(here, i));
        assert_true(avro_schema_equal(avro_schema_record_field_get_by_index(file, i),
                                      avro_schema_record_field_get_by_index(here, i)));
    }
    avro_schema_decref(file);
    avro_schema_decref(here);
    free(text);
}

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random damage to valid messages: any outcome but a crash, a sanitizer
 * report, or a success that fails validation. */
static void test_decode_mutations(void **state)
{
    (void)state;
    unsigned char base[4][MOCHI_PAGEVIEW_WIRE_MAX], buf[MOCHI_PAGEVIEW_WIRE_MAX];
    size_t len[4];
    struct mochi_pageview ev, out;
    struct raw v[NRAW];
    sample(&ev);
    len[0] = encode(g.cur, &ev, base[0], sizeof base[0]);
    ev.has_referrer = false;
    len[1] = encode(g.c3, &ev, base[1], sizeof base[1]);
    raw_event(v);
    v[R_SCREEN].branch = 1;
    v[R_SCREEN].s = "1920x1080";
    len[2] = write_raw(V3_JSON, 3, v, base[2], sizeof base[2]);
    len[3] = write_raw(V1_JSON, 1, v, base[3], sizeof base[3]);
    for (int i = 0; i < 40000; i++) {
        size_t k = (size_t)(next_random() % 4), n = len[k];
        memcpy(buf, base[k], n);
        int edits = 1 + (int)(next_random() % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = 5 + (size_t)(next_random() % (n - 5));
            buf[at] = (unsigned char)next_random();
        }
        if (next_random() % 4 == 0)
            n = (size_t)(next_random() % (n + 1));
        int rc = mochi_codec_decode(g.c3, buf, n, &out);
        switch (rc) {
        case 0:
            assert_int_equal(mochi_pageview_validate(&out), 0);
            break;
        case MOCHI_ERR_TRUNCATED:
        case MOCHI_ERR_MALFORMED:
        case MOCHI_ERR_UTF8:
        case MOCHI_ERR_RANGE:
            assert_true(all_zero(&out));
            break;
        default:
            fail_msg("unexpected %s", mochi_strerror(rc));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_fields),
        cmocka_unit_test(test_roundtrip_v2_fields),
        cmocka_unit_test(test_roundtrip_null_referrer),
        cmocka_unit_test(test_roundtrip_non_ascii),
        cmocka_unit_test(test_path_limits),
        cmocka_unit_test(test_encode_buffer_too_small),
        cmocka_unit_test(test_encode_rejects_bad_events),
        cmocka_unit_test(test_decode_short_and_magic),
        cmocka_unit_test(test_decode_unknown_schema_id),
        cmocka_unit_test(test_decode_truncated_at_every_length),
        cmocka_unit_test(test_decode_trailing_bytes),
        cmocka_unit_test(test_decode_hostile_lengths),
        cmocka_unit_test(test_decode_bad_varint_and_branch),
        cmocka_unit_test(test_decode_bad_text),
        cmocka_unit_test(test_decode_bad_values),
        cmocka_unit_test(test_v1_read_as_v2),
        cmocka_unit_test(test_v2_nulls),
        cmocka_unit_test(test_mixed_versions_one_decoder),
        cmocka_unit_test(test_v3_reads_older),
        cmocka_unit_test(test_v3_encoder_writes_defaults),
        cmocka_unit_test(test_v3_written_message),
        cmocka_unit_test(test_v2_reader_of_v3),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_partial_writer),
        cmocka_unit_test(test_defaults_of_other_types),
        cmocka_unit_test(test_schema_dir_default),
        cmocka_unit_test(test_snapshots_match),
        cmocka_unit_test(test_decode_mutations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
