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
static const char *const V2_JSON =
    "{\"type\":\"record\",\"name\":\"PageView\",\"namespace\":\"mochi\",\"fields\":["
    "{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\",\"type\":\"string\"},"
    "{\"name\":\"referrer\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"visitor_hash\",\"type\":\"string\"},{\"name\":\"occurred_at\",\"type\":\"long\"},"
    "{\"name\":\"screen\",\"type\":[\"null\",\"string\"]}]}";
/* Permissive writers: a long where the decoder expects a string length or
 * a union branch, and v1 without its last field (to append raw bytes). */
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

/* One field for write_raw(): a string field takes s (n bytes, or strlen
 * when n is 0), a long takes l, a union first picks branch. */
struct raw {
    const char *s;
    size_t n;
    int64_t l;
    int branch;
};

static struct {
    char source[1024];
    struct mochi_schema_set *v1, *v2;
    struct mochi_codec *c1, *c2;
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
}

/* v[0..4]: a valid v1 record; v[5] (v2's "screen") null. */
static void v1_raw(struct raw v[6])
{
    memset(v, 0, 6 * sizeof v[0]);
    v[0].s = SITE;
    v[1].s = "/pricing";
    v[2].branch = 1;
    v[2].s = "https://example.com";
    v[3].s = HASH;
    v[4].l = TS;
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
 * v1_v2, copies of the v1 and v2 test schemas. */
static void make_dir(char *dir, const char *manifest, bool v1_v2)
{
    strcpy(dir, "/tmp/mochi-test-codec-XXXXXX");
    assert_non_null(mkdtemp(dir));
    if (manifest != NULL)
        write_file(dir, "manifest.json", manifest);
    if (v1_v2) {
        char path[2048];
        const char *names[] = {"pageview.v1.avsc", "pageview.v2.avsc"};
        for (size_t i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/tests/data/schemas-v2/%s", g.source, names[i]);
            char *text = read_file(path);
            write_file(dir, names[i], text);
            free(text);
        }
    }
}

static void remove_dir(const char *dir)
{
    const char *names[] = {"manifest.json", "pageview.v1.avsc", "pageview.v2.avsc", "x.avsc"};
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
    if (mochi_schema_set_load(dir, &g.v1, err, sizeof err) != 0 ||
        mochi_codec_new(g.v1, &g.c1) != 0) {
        fprintf(stderr, "v1: %s\n", err);
        return -1;
    }
    path_in(dir, sizeof dir, src, "tests/data/schemas-v2");
    if (mochi_schema_set_load(dir, &g.v2, err, sizeof err) != 0 ||
        mochi_codec_new(g.v2, &g.c2) != 0) {
        fprintf(stderr, "v2: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mochi_codec_destroy(g.c1);
    mochi_codec_destroy(g.c2);
    mochi_schema_set_destroy(g.v1);
    mochi_schema_set_destroy(g.v2);
    return 0;
}

static void test_roundtrip_all_fields(void **state)
{
    (void)state;
    struct mochi_pageview ev, back;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t len = encode(g.c1, &ev, buf, sizeof buf);
    assert_int_equal(mochi_codec_current_schema_id(g.c1), 1);
    assert_memory_equal(buf, "\x00\x00\x00\x00\x01", 5);
    assert_int_equal(mochi_codec_decode(g.c1, buf, len, &back), 0);
    assert_same(&ev, &back);

    /* The body is plain Avro: Avro C's generic reader agrees. */
    avro_schema_t schema = NULL;
    avro_value_t rec, field;
    const char *s = NULL;
    size_t n = 0;
    assert_int_equal(avro_schema_from_json_length(V1_JSON, strlen(V1_JSON), &schema), 0);
    avro_value_iface_t *cls = avro_generic_class_from_schema(schema);
    assert_int_equal(avro_generic_value_new(cls, &rec), 0);
    avro_reader_t r = avro_reader_memory((const char *)buf + 5, (int64_t)len - 5);
    assert_int_equal(avro_value_read(r, &rec), 0);
    assert_int_equal(avro_value_get_by_name(&rec, "path", &field, NULL), 0);
    assert_int_equal(avro_value_get_string(&field, &s, &n), 0);
    assert_string_equal(s, ev.path);
    avro_reader_free(r);
    avro_value_decref(&rec);
    avro_value_iface_decref(cls);
    avro_schema_decref(schema);
}

static void test_roundtrip_null_referrer(void **state)
{
    (void)state;
    struct mochi_pageview ev, back;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    ev.has_referrer = false;
    size_t len = encode(g.c1, &ev, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(g.c1, buf, len, &back), 0);
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
        roundtrip(g.c1, g.c1, &ev);
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
    ev.occurred_at_us = MOCHI_OCCURRED_AT_MAX_US - 1;
    roundtrip(g.c1, g.c1, &ev);
    len = encode(g.c1, &ev, buf, sizeof buf); /* the largest v1 event */
    assert_int_equal(len, 1624);
    assert_true(len <= MOCHI_PAGEVIEW_WIRE_MAX);

    /* One byte over: the buffer holds no NUL. */
    ev.path[MOCHI_PATH_MAX] = 'a';
    assert_int_equal(mochi_codec_encode(g.c1, &ev, buf, sizeof buf, &len), MOCHI_ERR_RANGE);
    assert_int_equal(len, 0);

    /* The same from the wire. */
    static char long_path[MOCHI_PATH_MAX + 2];
    struct raw v[6];
    v1_raw(v);
    memset(long_path, 'a', MOCHI_PATH_MAX + 1);
    long_path[0] = '/';
    v[1].s = long_path;
    len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
    expect_decode(g.c1, buf, len, MOCHI_ERR_RANGE);
    long_path[MOCHI_PATH_MAX] = '\0';
    len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
    expect_decode(g.c1, buf, len, 0);
}

static void test_encode_buffer_too_small(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t need = encode(g.c1, &ev, buf, sizeof buf);
    for (size_t size = 0; size < need; size++) {
        size_t len = 99;
        assert_int_equal(mochi_codec_encode(g.c1, &ev, buf, size, &len), MOCHI_ERR_INVALID);
        assert_int_equal(len, 0);
    }
    size_t len = 0;
    assert_int_equal(mochi_codec_encode(g.c1, &ev, buf, need, &len), 0);
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
    };
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    size_t len = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sample(&ev);
        char *dst = strcmp(cases[i].field, "site_id") == 0    ? ev.site_id
                    : strcmp(cases[i].field, "path") == 0     ? ev.path
                    : strcmp(cases[i].field, "referrer") == 0 ? ev.referrer
                                                              : ev.visitor_hash;
        strcpy(dst, cases[i].value);
        int rc = mochi_codec_encode(g.c1, &ev, buf, sizeof buf, &len);
        if (rc != cases[i].want)
            fail_msg("case %zu (%s): got %s", i, cases[i].field, mochi_strerror(rc));
    }

    sample(&ev);
    memset(ev.referrer, 'r', sizeof ev.referrer); /* 513 bytes, no NUL */
    assert_int_equal(mochi_codec_encode(g.c1, &ev, buf, sizeof buf, &len), MOCHI_ERR_RANGE);
    ev.has_referrer = false; /* ignored when absent */
    assert_int_equal(mochi_codec_encode(g.c1, &ev, buf, sizeof buf, &len), 0);

    static const int64_t times[][2] = {
        {MOCHI_OCCURRED_AT_MIN_US - 1, MOCHI_ERR_RANGE},
        {MOCHI_OCCURRED_AT_MIN_US, 0},
        {MOCHI_OCCURRED_AT_MAX_US - 1, 0},
        {MOCHI_OCCURRED_AT_MAX_US, MOCHI_ERR_RANGE},
        {INT64_MIN, MOCHI_ERR_RANGE},
        {0, MOCHI_ERR_RANGE},
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        sample(&ev);
        ev.occurred_at_us = times[i][0];
        assert_int_equal(mochi_codec_encode(g.c1, &ev, buf, sizeof buf, &len), times[i][1]);
    }
}

static void test_decode_short_and_magic(void **state)
{
    (void)state;
    static const unsigned char zeros[4] = {0};
    expect_decode(g.c1, NULL, 0, MOCHI_ERR_TRUNCATED);
    expect_decode(g.c1, zeros, 0, MOCHI_ERR_TRUNCATED);
    for (size_t n = 1; n <= 4; n++)
        expect_decode(g.c1, zeros, n, MOCHI_ERR_TRUNCATED);
    expect_decode(g.c1, "{}", 2, MOCHI_ERR_MAGIC);

    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t len = encode(g.c1, &ev, buf, sizeof buf);
    buf[0] = 0x01;
    expect_decode(g.c1, buf, len, MOCHI_ERR_MAGIC);
}

static void test_decode_unknown_schema_id(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t len = encode(g.c1, &ev, buf, sizeof buf);
    static const uint32_t ids[] = {0, 2, 256, 0x01000001, 0xFFFFFFFF};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        put_header(buf, ids[i]);
        expect_decode(g.c1, buf, len, MOCHI_ERR_SCHEMA_ID);
    }
    put_header(buf, 1);
    expect_decode(g.c1, buf, 5, MOCHI_ERR_TRUNCATED); /* known id, empty body */
}

static void test_decode_truncated_at_every_length(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    for (int with_referrer = 0; with_referrer < 2; with_referrer++) {
        sample(&ev);
        ev.has_referrer = with_referrer;
        size_t len = encode(g.c1, &ev, buf, sizeof buf);
        for (size_t n = 5; n < len; n++)
            expect_decode(g.c1, buf, n, MOCHI_ERR_TRUNCATED);
        expect_decode(g.c1, buf, len, 0);
    }
    struct raw v[6];
    v1_raw(v);
    v[5].branch = 1;
    v[5].s = "1920x1080";
    size_t len = write_raw(V2_JSON, 2, v, buf, sizeof buf);
    for (size_t n = 5; n < len; n++)
        expect_decode(g.c2, buf, n, MOCHI_ERR_TRUNCATED);
    expect_decode(g.c2, buf, len, 0);
}

static void test_decode_trailing_bytes(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t len = encode(g.c1, &ev, buf, sizeof buf);
    buf[len] = 0x00;
    expect_decode(g.c1, buf, len + 1, MOCHI_ERR_MALFORMED);
    memcpy(buf + len, "garbage", 7);
    expect_decode(g.c1, buf, len + 7, MOCHI_ERR_MALFORMED);
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
    struct raw v[2] = {{.s = SITE}, {.l = 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        v[1].l = cases[i].length;
        size_t len = write_raw(PATH_AS_LONG, 1, v, buf, sizeof buf);
        expect_decode(g.c1, buf, len, cases[i].want);
    }
}

static void test_decode_bad_varint_and_branch(void **state)
{
    (void)state;
    unsigned char buf[256];
    struct raw v[6];
    v1_raw(v);
    size_t len = write_raw(V1_NO_TIME, 1, v, buf, sizeof buf);
    /* 11 bytes: longer than any 64-bit varint */
    memset(buf + len, 0xFF, 10);
    buf[len + 10] = 0x01;
    expect_decode(g.c1, buf, len + 11, MOCHI_ERR_MALFORMED);
    /* 10 bytes whose last one carries bits past 64 */
    buf[len + 9] = 0x02;
    expect_decode(g.c1, buf, len + 10, MOCHI_ERR_MALFORMED);
    /* 10 bytes at the very limit: INT64_MIN, a valid long but no date */
    buf[len + 9] = 0x01;
    expect_decode(g.c1, buf, len + 10, MOCHI_ERR_RANGE);
    /* continuation bit on the last byte of the message */
    expect_decode(g.c1, buf, len + 9, MOCHI_ERR_TRUNCATED);

    static const int64_t branches[] = {2, -1, INT64_MAX};
    for (size_t i = 0; i < sizeof branches / sizeof branches[0]; i++) {
        struct raw r[3] = {{.s = SITE}, {.s = "/"}, {.l = branches[i]}};
        len = write_raw(REFERRER_AS_LONG, 1, r, buf, sizeof buf);
        expect_decode(g.c1, buf, len, MOCHI_ERR_MALFORMED);
    }
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
        {1, "/caf\xc3", 0, MOCHI_ERR_UTF8},
        {1, "/a\0b", 4, MOCHI_ERR_UTF8}, /* NUL inside an Avro string */
        {1, "/a\x01", 0, MOCHI_ERR_UTF8},
        {1, "/a\x7f", 0, MOCHI_ERR_UTF8},
        {1, "/\xed\xa0\x80", 0, MOCHI_ERR_UTF8},
        {2, "https://\xff", 0, MOCHI_ERR_UTF8},
        {2, "https://a\r\n", 0, MOCHI_ERR_UTF8},
        {0, SITE "\0", 37, MOCHI_ERR_RANGE}, /* too long for site_id[] */
        {3, HASH "\0", 33, MOCHI_ERR_RANGE},
    };
    unsigned char buf[256];
    struct raw v[6];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        v1_raw(v);
        v[cases[i].field].s = cases[i].s;
        v[cases[i].field].n = cases[i].n;
        size_t len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
        expect_decode(g.c1, buf, len, cases[i].want);
    }
    /* The NUL really went over the wire: the path's length prefix is 4. */
    v1_raw(v);
    v[1].s = "/a\0b";
    v[1].n = 4;
    write_raw(V1_JSON, 1, v, buf, sizeof buf);
    assert_int_equal(buf[5 + 1 + 36], 4 << 1);
}

static void test_decode_bad_values(void **state)
{
    (void)state;
    static const struct {
        int field;
        const char *s;
        int64_t l;
    } cases[] = {
        {0, "not-a-uuid", 0},
        {0, "0B9E7F3A-5C1D-4E2F-8A6B-9C0D1E2F3A4B", 0},
        {0, "", 0},
        {1, "pricing", 0},
        {1, "", 0},
        {2, "", 0}, /* present but empty referrer */
        {3, "xyz", 0},
        {3, "0123456789ABCDEF0123456789ABCDEF", 0},
        {4, NULL, 0},
        {4, NULL, -1},
        {4, NULL, MOCHI_OCCURRED_AT_MAX_US},
        {4, NULL, MOCHI_OCCURRED_AT_MIN_US - 1},
    };
    unsigned char buf[256];
    struct raw v[6];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        v1_raw(v);
        v[cases[i].field].s = cases[i].s;
        v[cases[i].field].l = cases[i].l;
        size_t len = write_raw(V1_JSON, 1, v, buf, sizeof buf);
        expect_decode(g.c1, buf, len, MOCHI_ERR_RANGE);
    }
}

static void test_v2_reads_v1(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    sample(&ev);
    roundtrip(g.c1, g.c2, &ev);
    ev.has_referrer = false;
    roundtrip(g.c1, g.c2, &ev);
    assert_int_equal(mochi_codec_current_schema_id(g.c2), 2);
}

/* struct mochi_pageview has no "screen": the v2 encoder writes its default. */
static void test_v2_encoder_writes_defaults(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
    sample(&ev);
    size_t len = encode(g.c2, &ev, buf, sizeof buf);
    assert_memory_equal(buf, "\x00\x00\x00\x00\x02", 5);
    expect_decode(g.c1, buf, len, MOCHI_ERR_SCHEMA_ID); /* v1 set does not know id 2 */
    roundtrip(g.c2, g.c2, &ev);

    avro_schema_t schema = NULL;
    avro_value_t rec, field;
    int branch = -1;
    assert_int_equal(avro_schema_from_json_length(V2_JSON, strlen(V2_JSON), &schema), 0);
    avro_value_iface_t *cls = avro_generic_class_from_schema(schema);
    assert_int_equal(avro_generic_value_new(cls, &rec), 0);
    avro_reader_t r = avro_reader_memory((const char *)buf + 5, (int64_t)len - 5);
    assert_int_equal(avro_value_read(r, &rec), 0);
    assert_int_equal(avro_value_get_by_name(&rec, "screen", &field, NULL), 0);
    assert_int_equal(avro_value_get_discriminant(&field, &branch), 0);
    assert_int_equal(branch, 0); /* null */
    avro_reader_free(r);
    avro_value_decref(&rec);
    avro_value_iface_decref(cls);
    avro_schema_decref(schema);
}

static void test_v2_written_message(void **state)
{
    (void)state;
    unsigned char buf[256];
    struct mochi_pageview ev;
    struct raw v[6];
    v1_raw(v);
    v[5].branch = 1;
    v[5].s = "1920x1080";
    size_t len = write_raw(V2_JSON, 2, v, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(g.c2, buf, len, &ev), 0);
    assert_string_equal(ev.path, "/pricing");
    assert_string_equal(ev.referrer, "https://example.com");
}

/* A reader whose current schema is v1 but whose manifest lists v2 too:
 * Avro C's resolver skips the writer-only field, after the length check. */
static void test_v1_reader_of_v2(void **state)
{
    (void)state;
    char dir[64], err[512] = "";
    struct mochi_schema_set *set = NULL;
    struct mochi_codec *codec = NULL;
    make_dir(dir,
             "{\"current\": 1, \"schemas\": [{\"id\": 1, \"file\": \"pageview.v1.avsc\"},"
             " {\"id\": 2, \"file\": \"pageview.v2.avsc\"}]}",
             true);
    assert_int_equal(mochi_schema_set_load(dir, &set, err, sizeof err), 0);
    assert_int_equal(mochi_codec_new(set, &codec), 0);
    assert_int_equal(mochi_codec_current_schema_id(codec), 1);

    unsigned char buf[256];
    struct mochi_pageview ev;
    struct raw v[6];
    v1_raw(v);
    v[5].branch = 1;
    v[5].s = "1920x1080";
    size_t len = write_raw(V2_JSON, 2, v, buf, sizeof buf);
    assert_int_equal(mochi_codec_decode(codec, buf, len, &ev), 0);
    assert_string_equal(ev.visitor_hash, HASH);
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

#define V1_FIELDS                                                                                  \
    "{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\",\"type\":\"string\"},"          \
    "{\"name\":\"referrer\",\"type\":[\"null\",\"string\"]},"                                      \
    "{\"name\":\"visitor_hash\",\"type\":\"string\"},{\"name\":\"occurred_at\",\"type\":\"long\"}"
#define RECORD(fields) "{\"type\":\"record\",\"name\":\"PageView\",\"fields\":[" fields "]}"
#define ONLY_X "{\"current\": 1, \"schemas\": [{\"id\": 1, \"file\": \"x.avsc\"}]}"
#define V1_AND_X                                                                                   \
    "{\"current\": 1, \"schemas\": [{\"id\": 1, \"file\": \"pageview.v1.avsc\"},"                  \
    " {\"id\": 3, \"file\": \"x.avsc\"}]}"
#define X_OVER_V1                                                                                  \
    "{\"current\": 3, \"schemas\": [{\"id\": 1, \"file\": \"pageview.v1.avsc\"},"                  \
    " {\"id\": 3, \"file\": \"x.avsc\"}]}"

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
    expect_load_error("{\"current\": 1, \"schemas\": [{\"id\": 1, \"file\": \"pageview.v1.avsc\"},"
                      " {\"id\": 1, \"file\": \"pageview.v2.avsc\"}]}",
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
                      RECORD(V1_FIELDS ",{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":"
                                       "\"string\"},\"default\":[]}"),
                      MOCHI_ERR_INVALID, "x.avsc: want a record of");
    /* The current schema's own rules. */
    expect_load_error(ONLY_X,
                      RECORD("{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\","
                             "\"type\":\"long\"},{\"name\":\"referrer\",\"type\":[\"null\","
                             "\"string\"]},{\"name\":\"visitor_hash\",\"type\":\"string\"},"
                             "{\"name\":\"occurred_at\",\"type\":\"long\"}"),
                      MOCHI_ERR_INVALID, "field \"path\" of the current schema must be string");
    expect_load_error(ONLY_X,
                      RECORD("{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\","
                             "\"type\":\"string\"},{\"name\":\"referrer\",\"type\":[\"string\","
                             "\"null\"]},{\"name\":\"visitor_hash\",\"type\":\"string\"},"
                             "{\"name\":\"occurred_at\",\"type\":\"long\"}"),
                      MOCHI_ERR_INVALID, "field \"referrer\"");
    expect_load_error(X_OVER_V1,
                      RECORD(V1_FIELDS ",{\"name\":\"screen\",\"type\":[\"null\",\"string\"]}"),
                      MOCHI_ERR_INVALID, "field \"screen\" of the current schema needs a default");
    expect_load_error(X_OVER_V1,
                      RECORD(V1_FIELDS ",{\"name\":\"screen\",\"type\":[\"null\",\"string\"],"
                                       "\"default\":\"big\"}"),
                      MOCHI_ERR_INVALID, "field \"screen\"");
    /* An older writer that cannot resolve into the current schema. */
    expect_load_error(V1_AND_X,
                      RECORD("{\"name\":\"site_id\",\"type\":\"string\"},{\"name\":\"path\","
                             "\"type\":\"boolean\"},{\"name\":\"referrer\",\"type\":[\"null\","
                             "\"string\"]},{\"name\":\"visitor_hash\",\"type\":\"string\"},"
                             "{\"name\":\"occurred_at\",\"type\":\"long\"}"),
                      MOCHI_ERR_INVALID, "schema id 3 does not resolve");
}

static void test_defaults_of_other_types(void **state)
{
    (void)state;
    char dir[64], err[512] = "";
    struct mochi_schema_set *set = NULL;
    struct mochi_codec *codec = NULL;
    make_dir(dir, X_OVER_V1, true);
    write_file(dir, "x.avsc",
               RECORD(V1_FIELDS
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
    roundtrip(g.c1, codec, &ev); /* v1 into x */
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

/* The test copy of v1 must stay the real v1. */
static void test_v1_snapshot_matches(void **state)
{
    (void)state;
    char a[2048], b[2048];
    snprintf(a, sizeof a, "%s/schemas/pageview.v1.avsc", g.source);
    snprintf(b, sizeof b, "%s/tests/data/schemas-v2/pageview.v1.avsc", g.source);
    char *ta = read_file(a), *tb = read_file(b);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
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
    unsigned char base[3][MOCHI_PAGEVIEW_WIRE_MAX], buf[MOCHI_PAGEVIEW_WIRE_MAX];
    size_t len[3];
    struct mochi_pageview ev, out;
    struct raw v[6];
    sample(&ev);
    len[0] = encode(g.c1, &ev, base[0], sizeof base[0]);
    ev.has_referrer = false;
    len[1] = encode(g.c2, &ev, base[1], sizeof base[1]);
    v1_raw(v);
    v[5].branch = 1;
    v[5].s = "1920x1080";
    len[2] = write_raw(V2_JSON, 2, v, base[2], sizeof base[2]);
    for (int i = 0; i < 30000; i++) {
        size_t k = (size_t)(next_random() % 3), n = len[k];
        memcpy(buf, base[k], n);
        int edits = 1 + (int)(next_random() % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = 5 + (size_t)(next_random() % (n - 5));
            buf[at] = (unsigned char)next_random();
        }
        if (next_random() % 4 == 0)
            n = (size_t)(next_random() % (n + 1));
        int rc = mochi_codec_decode(g.c2, buf, n, &out);
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
        cmocka_unit_test(test_v2_reads_v1),
        cmocka_unit_test(test_v2_encoder_writes_defaults),
        cmocka_unit_test(test_v2_written_message),
        cmocka_unit_test(test_v1_reader_of_v2),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_defaults_of_other_types),
        cmocka_unit_test(test_schema_dir_default),
        cmocka_unit_test(test_v1_snapshot_matches),
        cmocka_unit_test(test_decode_mutations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
