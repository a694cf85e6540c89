#ifndef MOCHI_CODEC_H
#define MOCHI_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/event.h"

/* The page-view event in Confluent wire format: byte 0x00, the schema id as
 * 4 big-endian bytes, then the Avro binary body. Schema ids come from
 * schemas/manifest.json (see schemas/README.md); the encoder writes with
 * the manifest's "current" schema, the decoder reads any schema the
 * manifest lists and resolves it into the current one with Avro C's
 * resolver. */

#define MOCHI_WIRE_HEADER_LEN 5

/* A buffer this large holds any valid event encoded with v2 (at most 1,886
 * bytes: v1's 1,624, a day of 4, an entry of 2 and a source of 256). A
 * later current schema may need more; encode says so. */
#define MOCHI_PAGEVIEW_WIRE_MAX 2048

/* The parsed manifest and schemas. Immutable after load: one set may be
 * shared by any number of threads and codecs. */
struct mochi_schema_set;

/* Reads schema_dir/manifest.json and every .avsc file it names, and checks
 * that each listed schema resolves into the current one (fields missing
 * from an older schema need a default), that every one has v1's five
 * fields, and that the current one carries all the fields of struct
 * mochi_pageview (v2's day, entry and source too) with their types. Returns 0 and *out (the caller
 * owns it: mochi_schema_set_destroy), or MOCHI_ERR_IO / MOCHI_ERR_INVALID / MOCHI_ERR_NOMEM with
 * one line naming the file and the fault in err. */
int mochi_schema_set_load(const char *schema_dir, struct mochi_schema_set **out, char *err,
                          size_t errlen) MOCHI_MUST_CHECK;

/* Frees the set; NULL does nothing. Destroy every codec made from it first. */
void mochi_schema_set_destroy(struct mochi_schema_set *set);

/* $MOCHI_SCHEMA_DIR when set and not empty, else the schemas/ directory of
 * the source tree the library was built from. Static or environment
 * storage: do not free. */
const char *mochi_schema_dir_default(void);

/* One thread's encoder and decoder: it reuses its Avro values and buffers
 * between calls and is NOT thread-safe. Give each thread its own. */
struct mochi_codec;

/* Returns 0 and *out (the caller owns it: mochi_codec_destroy), or
 * MOCHI_ERR_NOMEM / MOCHI_ERR_INTERNAL. The codec borrows set, which must
 * outlive it. */
int mochi_codec_new(const struct mochi_schema_set *set, struct mochi_codec **out) MOCHI_MUST_CHECK;

/* Frees the codec; NULL does nothing. */
void mochi_codec_destroy(struct mochi_codec *codec);

/* Validates ev (mochi_pageview_validate) and writes it, in wire format with
 * the current schema id, into buf[0..size). day and entry are always
 * written, source when has_source (else null). Fields the current schema
 * has and struct mochi_pageview lacks get their schema defaults. Returns 0 and
 * the message length in *len, or MOCHI_ERR_RANGE / MOCHI_ERR_UTF8 for a bad
 * event, MOCHI_ERR_INVALID when buf is too small, MOCHI_ERR_INTERNAL. */
int mochi_codec_encode(struct mochi_codec *codec, const struct mochi_pageview *ev, void *buf,
                       size_t size, size_t *len) MOCHI_MUST_CHECK;

/* Reads one wire-format message into *out. On success every field is
 * filled, day, entry and source included: from a v1 writer, or a later one
 * that wrote null, they are derived as DESIGN.md reads a v1 event
 * (mochi_pageview_fill_v1: UTC day; entry = has a referrer; source = the
 * referrer's host without port or leading "www."), day and entry each on
 * its own; a source is taken as written only beside a written entry (a
 * null source there is "Direct / none"). Returns 0, or (with *out zeroed,
 * never half-filled):
 *   MOCHI_ERR_TRUNCATED  empty, shorter than the 5-byte header, or a valid
 *                        start of a body that ends early (this includes a
 *                        length prefix larger than the bytes left);
 *   MOCHI_ERR_MAGIC      first byte is not 0x00 (checked before length, so
 *                        that a short non-Avro message reads as such);
 *   MOCHI_ERR_SCHEMA_ID  the id is not in the manifest;
 *   MOCHI_ERR_MALFORMED  bytes no writer could have produced: negative
 *                        length, bad varint, union branch or boolean, or
 *                        bytes after the record;
 *   MOCHI_ERR_UTF8       a text field is not clean UTF-8 (NUL included);
 *   MOCHI_ERR_RANGE      a field decodes but breaks the event's rules
 *                        (mochi_pageview_validate: a day more than one day
 *                        from the UTC date, a source on a non-entry...). */
int mochi_codec_decode(struct mochi_codec *codec, const void *buf, size_t len,
                       struct mochi_pageview *out) MOCHI_MUST_CHECK;

/* The schema id encode writes. */
uint32_t mochi_codec_current_schema_id(const struct mochi_codec *codec);

#endif
