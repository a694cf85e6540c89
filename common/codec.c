#include "common/codec.h"
#include "common/log.h"

#include <avro.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MOCHI_DEFAULT_SCHEMA_DIR
#error "MOCHI_DEFAULT_SCHEMA_DIR is defined by CMakeLists.txt for mochi_common"
#endif

/* The fields of struct mochi_pageview with their types in the current
 * (reader) schema, which must have them all. Every schema in the manifest
 * must have the first NREQUIRED (v1's); the later ones (v2's) may be
 * missing from an older writer, and the decoder then derives them as
 * DESIGN.md says (see fill_v2_fields). A union is ["null", inner]. */
enum {
    F_SITE_ID,
    F_PATH,
    F_REFERRER,
    F_VISITOR_HASH,
    F_OCCURRED_AT,
    F_DAY,
    F_ENTRY,
    F_SOURCE,
    NFIELDS,
    NREQUIRED = F_DAY
};
static const struct {
    const char *name;
    avro_type_t type;
    avro_type_t inner; /* the non-null branch of a union */
    const char *want;
} known_fields[NFIELDS] = {
    {"site_id", AVRO_STRING, AVRO_STRING, "string"},
    {"path", AVRO_STRING, AVRO_STRING, "string"},
    {"referrer", AVRO_UNION, AVRO_STRING, "[\"null\", \"string\"]"},
    {"visitor_hash", AVRO_STRING, AVRO_STRING, "string"},
    {"occurred_at", AVRO_INT64, AVRO_INT64, "long"},
    {"day", AVRO_UNION, AVRO_INT32, "[\"null\", \"int\"]"},
    {"entry", AVRO_UNION, AVRO_BOOLEAN, "[\"null\", \"boolean\"]"},
    {"source", AVRO_UNION, AVRO_STRING, "[\"null\", \"string\"]"},
};
enum { BRANCH_NULL, BRANCH_VALUE }; /* the branches of those unions */

struct schema_entry {
    uint32_t id;
    avro_schema_t writer; /* as the .avsc file says; owned */
    /* The current schema cut down to the fields writer has. Avro C 1.11's
     * resolver refuses a reader field the writer lacks even when it has a
     * default ("Reader field %s doesn't appear in writer"), so decoding
     * resolves into this instead. Such fields are never in struct
     * mochi_pageview, so nothing is lost. Owned. */
    avro_schema_t target;
};

struct mochi_schema_set {
    size_t current;      /* index into entries */
    json_t *current_doc; /* the current .avsc: Avro C drops "default"; owned */
    size_t count;
    struct schema_entry entries[];
};

/* Decoding state for one writer schema. */
struct decode_slot {
    uint32_t id;
    avro_schema_t writer;         /* borrowed from the set */
    avro_value_t target;          /* a record of the entry's target schema */
    avro_value_t resolved;        /* Avro C's resolver, writing into target */
    avro_value_t fields[NFIELDS]; /* known_fields inside target */
    bool has[NFIELDS];            /* false: the writer lacks the field */
};

struct mochi_codec {
    const struct mochi_schema_set *set; /* borrowed */
    avro_value_t enc; /* a current-schema record; defaults are set once, in _new */
    avro_value_t enc_fields[NFIELDS];
    avro_reader_t reader;
    avro_writer_t writer;
    size_t nslots;
    struct decode_slot slots[];
};

struct cursor {
    const unsigned char *p, *end;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int load_json(const char *dir, const char *file, json_t **doc, char *err, size_t errlen);
static int load_entries(struct mochi_schema_set *set, const char *dir, const json_t *schemas,
                        json_int_t current_id, char *err, size_t errlen);
static int load_schema(const char *dir, const char *file, struct schema_entry *e, json_t **keep,
                       char *err, size_t errlen);
static int make_target(const struct mochi_schema_set *set, struct schema_entry *e);
static int codec_build(const struct mochi_schema_set *set, struct mochi_codec **out, char *err,
                       size_t errlen);
static int fill_defaults(const struct mochi_schema_set *set, avro_value_t *rec,
                         const char **bad_field);
static int set_default(avro_value_t *v, const json_t *j);
static int new_record(avro_schema_t s, avro_value_t *rec, avro_value_t fields[NFIELDS],
                      bool has[NFIELDS]);
static int slot_init(struct decode_slot *slot, const struct schema_entry *e);
static bool scannable(avro_schema_t s);
static int scan_value(struct cursor *c, avro_schema_t s);
static int scan_long(struct cursor *c, int64_t *out);
static int scan_skip(struct cursor *c, int64_t n);
static int set_text(avro_value_t *v, const char *text);
static int set_optional_text(avro_value_t *v, bool present, const char *text, avro_value_t *branch);
static int decode(struct mochi_codec *codec, const unsigned char *p, size_t len,
                  struct mochi_pageview *out);
static int get_text(avro_value_t *v, char *dst, size_t size);
static int fill_v2_fields(struct decode_slot *slot, struct mochi_pageview *out);

const char *mochi_schema_dir_default(void)
{
    const char *dir = getenv("MOCHI_SCHEMA_DIR");
    return dir != NULL && dir[0] != '\0' ? dir : MOCHI_DEFAULT_SCHEMA_DIR;
}

int mochi_schema_set_load(const char *schema_dir, struct mochi_schema_set **out, char *err,
                          size_t errlen)
{
    struct mochi_schema_set *set = NULL;
    struct mochi_codec *probe = NULL;
    json_t *manifest = NULL;
    json_t *schemas = NULL;
    json_int_t current_id = 0;
    json_error_t jerr;
    char msg[512];

    *out = NULL;
    int rc = load_json(schema_dir, "manifest.json", &manifest, err, errlen);
    if (rc != 0)
        return rc;
    if (json_unpack_ex(manifest, &jerr, 0, "{s:I, s:o}", "current", &current_id, "schemas",
                       &schemas) != 0 ||
        !json_is_array(schemas) || json_array_size(schemas) == 0) {
        rc = fail(err, errlen, MOCHI_ERR_INVALID,
                  "%s/manifest.json: want {\"current\": ID, \"schemas\": [...]}", schema_dir);
        goto out;
    }
    set = calloc(1, sizeof *set + json_array_size(schemas) * sizeof set->entries[0]);
    if (set == NULL) {
        rc = fail(err, errlen, MOCHI_ERR_NOMEM, "out of memory");
        goto out;
    }
    set->count = json_array_size(schemas);
    rc = load_entries(set, schema_dir, schemas, current_id, err, errlen);
    if (rc == 0 && set->current_doc == NULL)
        rc = fail(err, errlen, MOCHI_ERR_INVALID, "%s/manifest.json: current id %lld is not listed",
                  schema_dir, (long long)current_id);
    for (size_t i = 0; rc == 0 && i < set->count; i++)
        if (make_target(set, &set->entries[i]) != 0)
            rc = fail(err, errlen, MOCHI_ERR_NOMEM, "out of memory");
    /* The rest (field types, defaults, resolution) shows once a codec is
     * built from the set. */
    if (rc == 0) {
        rc = codec_build(set, &probe, msg, sizeof msg);
        if (rc != 0)
            fail(err, errlen, rc, "%s/manifest.json: %s", schema_dir, msg);
    }
    if (rc == 0) {
        *out = set;
        set = NULL;
    }
out:
    mochi_codec_destroy(probe);
    json_decref(manifest);
    mochi_schema_set_destroy(set);
    return rc;
}

void mochi_schema_set_destroy(struct mochi_schema_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->count; i++) {
        if (set->entries[i].writer != NULL)
            avro_schema_decref(set->entries[i].writer);
        if (set->entries[i].target != NULL)
            avro_schema_decref(set->entries[i].target);
    }
    json_decref(set->current_doc);
    free(set);
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Reads dir/file into *doc, which the caller then owns. */
static int load_json(const char *dir, const char *file, json_t **doc, char *err, size_t errlen)
{
    char path[4096];
    json_error_t jerr;

    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return fail(err, errlen, MOCHI_ERR_INVALID, "%s/%s: path too long", dir, file);
    *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (*doc != NULL)
        return 0;
    return fail(err, errlen,
                json_error_code(&jerr) == json_error_cannot_open_file ? MOCHI_ERR_IO
                                                                      : MOCHI_ERR_INVALID,
                "%s:%d: %s", path, jerr.line, jerr.text);
}

static int load_entries(struct mochi_schema_set *set, const char *dir, const json_t *schemas,
                        json_int_t current_id, char *err, size_t errlen)
{
    json_error_t jerr;

    for (size_t i = 0; i < set->count; i++) {
        json_int_t id = 0;
        const char *file = NULL;
        if (json_unpack_ex(json_array_get(schemas, i), &jerr, 0, "{s:I, s:s}", "id", &id, "file",
                           &file) != 0 ||
            id < 1 || id > INT32_MAX || file[0] == '\0' || strchr(file, '/') != NULL)
            return fail(err, errlen, MOCHI_ERR_INVALID,
                        "%s/manifest.json: schemas[%zu]: want {\"id\": 1..2147483647, \"file\": "
                        "a file name in that directory}",
                        dir, i);
        for (size_t j = 0; j < i; j++)
            if (set->entries[j].id == (uint32_t)id)
                return fail(err, errlen, MOCHI_ERR_INVALID,
                            "%s/manifest.json: schema id %lld listed twice", dir, (long long)id);
        set->entries[i].id = (uint32_t)id;
        bool is_current = id == current_id;
        int rc = load_schema(dir, file, &set->entries[i], is_current ? &set->current_doc : NULL,
                             err, errlen);
        if (rc != 0)
            return rc;
        if (is_current)
            set->current = i;
    }
    return 0;
}

/* Parses dir/file into e->writer. The JSON goes through jansson first for
 * line numbers in errors; *keep, when given, gets the document. */
static int load_schema(const char *dir, const char *file, struct schema_entry *e, json_t **keep,
                       char *err, size_t errlen)
{
    json_t *doc = NULL;
    int rc = load_json(dir, file, &doc, err, errlen);
    if (rc != 0)
        return rc;
    char *text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL) {
        rc = fail(err, errlen, MOCHI_ERR_NOMEM, "out of memory");
    } else if (avro_schema_from_json_length(text, strlen(text), &e->writer) != 0) {
        e->writer = NULL;
        rc = fail(err, errlen, MOCHI_ERR_INVALID, "%s/%s: %s", dir, file, avro_strerror());
    } else if (!is_avro_record(e->writer) || !scannable(e->writer)) {
        rc = fail(err, errlen, MOCHI_ERR_INVALID,
                  "%s/%s: want a record of records, unions, null, boolean, int, long, float, "
                  "double, string or bytes (all the decoder's length check knows)",
                  dir, file);
    }
    /* The current schema is what the encoder writes: it needs them all. */
    size_t need = keep != NULL ? NFIELDS : NREQUIRED;
    for (size_t f = 0; rc == 0 && f < need; f++)
        if (avro_schema_record_field_get_index(e->writer, known_fields[f].name) < 0)
            rc = fail(err, errlen, MOCHI_ERR_INVALID, "%s/%s: has no field \"%s\"%s", dir, file,
                      known_fields[f].name, f < NREQUIRED ? "" : " (the current schema needs it)");
    free(text);
    if (rc == 0 && keep != NULL)
        *keep = json_incref(doc);
    json_decref(doc);
    return rc;
}

static int make_target(const struct mochi_schema_set *set, struct schema_entry *e)
{
    avro_schema_t cur = set->entries[set->current].writer;
    e->target = avro_schema_record(avro_schema_name(cur), avro_schema_namespace(cur));
    if (e->target == NULL)
        return MOCHI_ERR_NOMEM;
    for (size_t i = 0; i < avro_schema_record_size(cur); i++) {
        const char *name = avro_schema_record_field_name(cur, (int)i);
        if (avro_schema_record_field_get_index(e->writer, name) >= 0 &&
            avro_schema_record_field_append(e->target, name,
                                            avro_schema_record_field_get_by_index(cur, (int)i)))
            return MOCHI_ERR_NOMEM;
    }
    return 0;
}

int mochi_codec_new(const struct mochi_schema_set *set, struct mochi_codec **out)
{
    int rc = codec_build(set, out, NULL, 0);
    return rc == 0 || rc == MOCHI_ERR_NOMEM ? rc : MOCHI_ERR_INTERNAL;
}

static int codec_build(const struct mochi_schema_set *set, struct mochi_codec **out, char *err,
                       size_t errlen)
{
    const struct schema_entry *cur = &set->entries[set->current];
    const char *bad = "?";
    int rc = MOCHI_ERR_NOMEM;

    *out = NULL;
    struct mochi_codec *codec = calloc(1, sizeof *codec + set->count * sizeof codec->slots[0]);
    if (codec == NULL)
        return fail(err, errlen, rc, "out of memory");
    codec->set = set;
    codec->nslots = set->count;
    codec->reader = avro_reader_memory(NULL, 0);
    codec->writer = avro_writer_memory(NULL, 0);
    bool has[NFIELDS];
    if (codec->reader == NULL || codec->writer == NULL ||
        new_record(cur->writer, &codec->enc, codec->enc_fields, has) != 0) {
        fail(err, errlen, rc, "out of memory");
        goto fail;
    }
    /* The encoder fills the current schema from struct mochi_pageview and
     * the decoder reads the struct back from it: the types must be these. */
    for (size_t f = 0; f < NFIELDS; f++) {
        avro_schema_t t = has[f] ? avro_value_get_schema(&codec->enc_fields[f]) : NULL;
        if (t == NULL || avro_typeof(t) != known_fields[f].type ||
            (is_avro_union(t) &&
             (avro_schema_union_size(t) != 2 ||
              !is_avro_null(avro_schema_union_branch(t, BRANCH_NULL)) ||
              avro_typeof(avro_schema_union_branch(t, BRANCH_VALUE)) != known_fields[f].inner))) {
            rc = fail(err, errlen, MOCHI_ERR_INVALID,
                      "field \"%s\" of the current schema must be %s", known_fields[f].name,
                      known_fields[f].want);
            goto fail;
        }
    }
    if (fill_defaults(set, &codec->enc, &bad) != 0) {
        rc = fail(err, errlen, MOCHI_ERR_INVALID,
                  "field \"%s\" of the current schema needs a default of its own type", bad);
        goto fail;
    }
    for (size_t i = 0; i < set->count; i++) {
        if (slot_init(&codec->slots[i], &set->entries[i]) != 0) {
            rc = fail(err, errlen, MOCHI_ERR_INVALID,
                      "schema id %" PRIu32 " does not resolve into the current one: %s",
                      set->entries[i].id, avro_strerror());
            goto fail;
        }
    }
    *out = codec;
    return 0;
fail:
    mochi_codec_destroy(codec);
    return rc;
}

/* Sets each field of rec (a current-schema record) that struct
 * mochi_pageview does not carry to its default from the .avsc. */
static int fill_defaults(const struct mochi_schema_set *set, avro_value_t *rec,
                         const char **bad_field)
{
    const json_t *field;
    size_t i;
    json_array_foreach(json_object_get(set->current_doc, "fields"), i, field)
    {
        const char *name = json_string_value(json_object_get(field, "name"));
        bool known = false;
        for (size_t f = 0; f < NFIELDS; f++)
            known = known || strcmp(name, known_fields[f].name) == 0;
        if (known)
            continue;
        avro_value_t v;
        if (avro_value_get_by_index(rec, i, &v, NULL) != 0 ||
            set_default(&v, json_object_get(field, "default")) != 0) {
            *bad_field = name;
            return MOCHI_ERR_INVALID;
        }
    }
    return 0;
}

static int set_default(avro_value_t *v, const json_t *j)
{
    avro_value_t branch;

    if (j == NULL)
        return EINVAL;
    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        return json_is_null(j) ? avro_value_set_null(v) : EINVAL;
    case AVRO_BOOLEAN:
        return json_is_boolean(j) ? avro_value_set_boolean(v, json_is_true(j)) : EINVAL;
    case AVRO_INT32:
        if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
            json_integer_value(j) > INT32_MAX)
            return EINVAL;
        return avro_value_set_int(v, (int32_t)json_integer_value(j));
    case AVRO_INT64:
        return json_is_integer(j) ? avro_value_set_long(v, json_integer_value(j)) : EINVAL;
    case AVRO_FLOAT:
        return json_is_number(j) ? avro_value_set_float(v, (float)json_number_value(j)) : EINVAL;
    case AVRO_DOUBLE:
        return json_is_number(j) ? avro_value_set_double(v, json_number_value(j)) : EINVAL;
    case AVRO_STRING:
        return json_is_string(j) ? set_text(v, json_string_value(j)) : EINVAL;
    case AVRO_UNION: /* a union's default belongs to its first branch */
        return avro_value_set_branch(v, 0, &branch) == 0 ? set_default(&branch, j) : EINVAL;
    default: /* bytes and record defaults: not needed so far */
        return EINVAL;
    }
}

/* A generic record of schema s, and views of its known_fields: has[f] says
 * which s holds (load_schema made sure of the first NREQUIRED). */
static int new_record(avro_schema_t s, avro_value_t *rec, avro_value_t fields[NFIELDS],
                      bool has[NFIELDS])
{
    avro_value_iface_t *cls = avro_generic_class_from_schema(s);
    int rc = cls == NULL ? ENOMEM : avro_generic_value_new(cls, rec);
    if (cls != NULL)
        avro_value_iface_decref(cls); /* rec holds a reference of its own */
    for (size_t f = 0; rc == 0 && f < NFIELDS; f++) {
        has[f] = avro_schema_record_field_get_index(s, known_fields[f].name) >= 0;
        if (has[f])
            rc = avro_value_get_by_name(rec, known_fields[f].name, &fields[f], NULL);
        else if (f < NREQUIRED)
            rc = EINVAL;
    }
    return rc;
}

static int slot_init(struct decode_slot *slot, const struct schema_entry *e)
{
    slot->id = e->id;
    slot->writer = e->writer;
    if (new_record(e->target, &slot->target, slot->fields, slot->has) != 0)
        return MOCHI_ERR_INTERNAL;
    avro_value_iface_t *resolver = avro_resolved_writer_new(e->writer, e->target);
    int rc = resolver == NULL ? EINVAL : avro_resolved_writer_new_value(resolver, &slot->resolved);
    if (resolver != NULL)
        avro_value_iface_decref(resolver); /* as above */
    if (rc != 0)
        return MOCHI_ERR_INTERNAL;
    avro_resolved_writer_set_dest(&slot->resolved, &slot->target);
    return 0;
}

void mochi_codec_destroy(struct mochi_codec *codec)
{
    if (codec == NULL)
        return;
    for (size_t i = 0; i < codec->nslots; i++) {
        if (codec->slots[i].resolved.self != NULL)
            avro_value_decref(&codec->slots[i].resolved);
        if (codec->slots[i].target.self != NULL)
            avro_value_decref(&codec->slots[i].target);
    }
    if (codec->enc.self != NULL)
        avro_value_decref(&codec->enc);
    if (codec->reader != NULL)
        avro_reader_free(codec->reader);
    if (codec->writer != NULL)
        avro_writer_free(codec->writer);
    free(codec);
}

uint32_t mochi_codec_current_schema_id(const struct mochi_codec *codec)
{
    return codec->set->entries[codec->set->current].id;
}

/* Hostile bodies and Avro C 1.11.1: read_string() mallocs a string's
 * length prefix + 1 before it looks at the input, so a prefix of 2^40
 * aborts an ASan build (and costs a giant malloc without) and -2 becomes
 * malloc(SIZE_MAX); a string cut short leaks that buffer; skipping a
 * writer-only field with a negative length succeeds; bytes after the
 * record go unnoticed. Its error codes cannot tell "truncated" from
 * "malformed" (ENOSPC for both), and its error text is one process-global
 * buffer. So before Avro C sees a body, scan_value() walks the writer
 * schema over it as Avro's binary encoding lays it out, checking only that
 * each varint, length, union branch and boolean is well-formed and fits in
 * what is left: running out of bytes is TRUNCATED, anything else
 * MALFORMED. Avro C then decodes. scannable() keeps schemas, at load, to
 * the types this walk knows. */
static bool scannable(avro_schema_t s)
{
    bool record = is_avro_record(s);
    size_t n = record             ? avro_schema_record_size(s)
               : is_avro_union(s) ? avro_schema_union_size(s)
                                  : 0;
    for (size_t i = 0; i < n; i++)
        if (!scannable(record ? avro_schema_record_field_get_by_index(s, (int)i)
                              : avro_schema_union_branch(s, (int)i)))
            return false;
    /* not arrays, maps, enums, fixed, or links (recursive types) */
    return is_avro_primitive(s) || record || is_avro_union(s);
}

static int scan_value(struct cursor *c, avro_schema_t s)
{
    int64_t n = 0;
    int rc = 0;

    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return 0;
    case AVRO_BOOLEAN:
        if (c->p == c->end)
            return MOCHI_ERR_TRUNCATED;
        return *c->p++ > 1 ? MOCHI_ERR_MALFORMED : 0;
    case AVRO_INT32:
    case AVRO_INT64:
        rc = scan_long(c, &n);
        if (rc == 0 && is_avro_int32(s) && (n < INT32_MIN || n > INT32_MAX))
            rc = MOCHI_ERR_MALFORMED;
        return rc;
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        return scan_skip(c, is_avro_float(s) ? 4 : 8);
    case AVRO_STRING:
    case AVRO_BYTES:
        rc = scan_long(c, &n);
        return rc != 0 ? rc : n < 0 ? MOCHI_ERR_MALFORMED : scan_skip(c, n);
    case AVRO_UNION:
        rc = scan_long(c, &n);
        if (rc == 0 && (n < 0 || (uint64_t)n >= avro_schema_union_size(s)))
            rc = MOCHI_ERR_MALFORMED;
        return rc != 0 ? rc : scan_value(c, avro_schema_union_branch(s, (int)n));
    case AVRO_RECORD:
        for (size_t i = 0; rc == 0 && i < avro_schema_record_size(s); i++)
            rc = scan_value(c, avro_schema_record_field_get_by_index(s, (int)i));
        return rc;
    default:
        return MOCHI_ERR_MALFORMED; /* scannable() kept these out */
    }
}

/* A zigzag varint of at most 10 bytes whose value fits in 64 bits. */
static int scan_long(struct cursor *c, int64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (c->p == c->end)
            return MOCHI_ERR_TRUNCATED;
        unsigned char b = *c->p++;
        if (shift == 63 && b > 1)
            return MOCHI_ERR_MALFORMED;
        v |= (uint64_t)(b & 0x7F) << shift;
        if ((b & 0x80) == 0)
            break;
    }
    *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    return 0;
}

static int scan_skip(struct cursor *c, int64_t n)
{
    if (n > c->end - c->p)
        return MOCHI_ERR_TRUNCATED;
    c->p += n;
    return 0;
}

int mochi_codec_encode(struct mochi_codec *codec, const struct mochi_pageview *ev, void *buf,
                       size_t size, size_t *len)
{
    avro_value_t *f = codec->enc_fields;
    avro_value_t ref, day, entry, source;
    size_t body = 0;

    *len = 0;
    int rc = mochi_pageview_validate(ev);
    if (rc != 0)
        return rc;
    /* day and entry are never null from an encoder: null is how an older
     * writer's events read (see fill_v2_fields). */
    if (set_text(&f[F_SITE_ID], ev->site_id) != 0 || set_text(&f[F_PATH], ev->path) != 0 ||
        set_text(&f[F_VISITOR_HASH], ev->visitor_hash) != 0 ||
        avro_value_set_long(&f[F_OCCURRED_AT], ev->occurred_at_us) != 0 ||
        set_optional_text(&f[F_REFERRER], ev->has_referrer, ev->referrer, &ref) != 0 ||
        avro_value_set_branch(&f[F_DAY], BRANCH_VALUE, &day) != 0 ||
        avro_value_set_int(&day, ev->day) != 0 ||
        avro_value_set_branch(&f[F_ENTRY], BRANCH_VALUE, &entry) != 0 ||
        avro_value_set_boolean(&entry, ev->entry) != 0 ||
        set_optional_text(&f[F_SOURCE], ev->has_source, ev->source, &source) != 0)
        return MOCHI_ERR_INTERNAL;
    if (size < MOCHI_WIRE_HEADER_LEN)
        return MOCHI_ERR_INVALID;
    unsigned char *p = buf;
    avro_writer_memory_set_dest(codec->writer, (const char *)p + MOCHI_WIRE_HEADER_LEN,
                                (int64_t)(size - MOCHI_WIRE_HEADER_LEN));
    /* Written without measuring first (avro_value_sizeof walks the whole
     * value, as the write does): the memory writer refuses to run past
     * the end, and only then is the size worth knowing, to tell a buffer
     * too small from a failure of Avro C. */
    if (avro_value_write(codec->writer, &codec->enc) != 0) {
        if (avro_value_sizeof(&codec->enc, &body) == 0 && body > size - MOCHI_WIRE_HEADER_LEN)
            return MOCHI_ERR_INVALID;
        return MOCHI_ERR_INTERNAL;
    }
    uint32_t id = mochi_codec_current_schema_id(codec);
    p[0] = 0x00;
    p[1] = (unsigned char)(id >> 24);
    p[2] = (unsigned char)(id >> 16);
    p[3] = (unsigned char)(id >> 8);
    p[4] = (unsigned char)id;
    *len = MOCHI_WIRE_HEADER_LEN + (size_t)avro_writer_tell(codec->writer);
    return 0;
}

static int set_text(avro_value_t *v, const char *text)
{
    /* Declared with char *, but the generic string copies. The size
     * counts the NUL, as everywhere in Avro C's value API. */
    return avro_value_set_string_len(v, (char *)text, strlen(text) + 1);
}

/* Sets the union v (["null", "string"]) to text when present, else null;
 * branch is scratch. */
static int set_optional_text(avro_value_t *v, bool present, const char *text, avro_value_t *branch)
{
    if (avro_value_set_branch(v, present ? BRANCH_VALUE : BRANCH_NULL, branch) != 0)
        return EINVAL;
    return present ? set_text(branch, text) : avro_value_set_null(branch);
}

int mochi_codec_decode(struct mochi_codec *codec, const void *buf, size_t len,
                       struct mochi_pageview *out)
{
    memset(out, 0, sizeof *out);
    int rc = decode(codec, buf, len, out);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

static int decode(struct mochi_codec *codec, const unsigned char *p, size_t len,
                  struct mochi_pageview *out)
{
    struct decode_slot *slot = NULL;
    avro_value_t branch;
    int rc;

    if (len == 0)
        return MOCHI_ERR_TRUNCATED;
    if (p[0] != 0x00)
        return MOCHI_ERR_MAGIC;
    if (len < MOCHI_WIRE_HEADER_LEN)
        return MOCHI_ERR_TRUNCATED;
    uint32_t id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    for (size_t i = 0; i < codec->nslots && slot == NULL; i++)
        if (codec->slots[i].id == id)
            slot = &codec->slots[i];
    if (slot == NULL)
        return MOCHI_ERR_SCHEMA_ID;

    struct cursor c = {p + MOCHI_WIRE_HEADER_LEN, p + len};
    rc = scan_value(&c, slot->writer);
    if (rc != 0)
        return rc;
    if (c.p != c.end)
        return MOCHI_ERR_MALFORMED;
    avro_reader_memory_set_source(codec->reader, (const char *)p + MOCHI_WIRE_HEADER_LEN,
                                  (int64_t)(len - MOCHI_WIRE_HEADER_LEN));
    if (avro_value_read(codec->reader, &slot->resolved) != 0) {
        /* Past the scan: the writer's union took a branch the current
         * schema cannot hold. (avro_strerror() is not thread-safe.) */
        mochi_log(MOCHI_LOG_DEBUG, "codec", "msg=\"avro read failed\" schema_id=%" PRIu32, id);
        return MOCHI_ERR_MALFORMED;
    }

    avro_value_t *f = slot->fields;
    rc = get_text(&f[F_SITE_ID], out->site_id, sizeof out->site_id);
    if (rc == 0)
        rc = get_text(&f[F_PATH], out->path, sizeof out->path);
    if (rc == 0)
        rc = get_text(&f[F_VISITOR_HASH], out->visitor_hash, sizeof out->visitor_hash);
    if (rc == 0 && (avro_value_get_long(&f[F_OCCURRED_AT], &out->occurred_at_us) != 0 ||
                    avro_value_get_current_branch(&f[F_REFERRER], &branch) != 0))
        rc = MOCHI_ERR_MALFORMED;
    if (rc == 0 && avro_value_get_type(&branch) == AVRO_STRING) {
        rc = get_text(&branch, out->referrer, sizeof out->referrer);
        out->has_referrer = true;
    }
    if (rc == 0)
        rc = fill_v2_fields(slot, out);
    return rc != 0 ? rc : mochi_pageview_validate(out);
}

/* day, entry and source from the target record, or, where the writer lacks
 * a field or wrote null (a producer that predates it), as DESIGN.md reads
 * a v1 event: day = occurred_at's UTC date; entry = the event has a
 * referrer, source = that referrer's host (mochi_pageview_fill_v1). A
 * source is only read beside a known entry: with entry unknown, the
 * referrer decides both, and a source written alone is ignored. */
static int fill_v2_fields(struct decode_slot *slot, struct mochi_pageview *out)
{
    avro_value_t *f = slot->fields;
    avro_value_t day, entry, source;
    bool has_day = false, has_entry = false;
    int32_t day_value = 0;
    int entry_value = 0;

    if (slot->has[F_DAY]) {
        if (avro_value_get_current_branch(&f[F_DAY], &day) != 0)
            return MOCHI_ERR_MALFORMED;
        has_day = avro_value_get_type(&day) == AVRO_INT32;
        if (has_day && avro_value_get_int(&day, &day_value) != 0)
            return MOCHI_ERR_MALFORMED;
    }
    if (slot->has[F_ENTRY]) {
        if (avro_value_get_current_branch(&f[F_ENTRY], &entry) != 0)
            return MOCHI_ERR_MALFORMED;
        has_entry = avro_value_get_type(&entry) == AVRO_BOOLEAN;
        if (has_entry && avro_value_get_boolean(&entry, &entry_value) != 0)
            return MOCHI_ERR_MALFORMED;
    }
    if (!has_day || !has_entry)
        mochi_pageview_fill_v1(out);
    if (has_day)
        out->day = day_value;
    if (!has_entry)
        return 0;
    out->entry = entry_value != 0;
    out->has_source = false;
    out->source[0] = '\0';
    if (!slot->has[F_SOURCE])
        return 0;
    if (avro_value_get_current_branch(&f[F_SOURCE], &source) != 0)
        return MOCHI_ERR_MALFORMED;
    if (avro_value_get_type(&source) != AVRO_STRING)
        return 0;
    out->has_source = true;
    return get_text(&source, out->source, sizeof out->source);
}

/* Copies an Avro string into dst[size]. Avro strings may hold NUL bytes,
 * which would silently cut the C string, so they are refused here;
 * mochi_pageview_validate() checks the rest of the text. */
static int get_text(avro_value_t *v, char *dst, size_t size)
{
    const char *s = NULL;
    size_t n = 0; /* counts Avro C's terminating NUL */
    if (avro_value_get_string(v, &s, &n) != 0)
        return MOCHI_ERR_MALFORMED;
    size_t len = n > 0 ? n - 1 : 0;
    if (len >= size)
        return MOCHI_ERR_RANGE;
    if (len > 0) {
        if (memchr(s, '\0', len) != NULL)
            return MOCHI_ERR_UTF8;
        memcpy(dst, s, len);
    }
    dst[len] = '\0';
    return 0;
}
