#ifndef MOCHI_UTF8_H
#define MOCHI_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The one UTF-8 validator: well-formed as Unicode's Table 3-7 says, so no
 * overlong forms, no surrogates (U+D800..U+DFFF) and nothing above
 * U+10FFFF. Pure functions, thread-safe. */

/* Returns the length (1..4) of the well-formed sequence that starts s,
 * looking at no more than len bytes, or 0 when there is none: a bad lead
 * byte, a sequence cut short by len, a bad continuation byte, an overlong
 * form, a surrogate or a code point past U+10FFFF. len 0 returns 0. */
size_t mochi_utf8_seq_len(const char *s, size_t len);

/* True when s[0..len) is well-formed UTF-8. NUL bytes count as valid
 * here; s may be NULL when len is 0. */
bool mochi_utf8_valid(const char *s, size_t len);

/* The length of the longest prefix of s[0..len) of at most max bytes that
 * does not split a sequence. Expects well-formed s (only continuation
 * bytes are looked at). */
size_t mochi_utf8_cut(const char *s, size_t len, size_t max);

/* True when s[0..len) holds a C0 control (U+0000..U+001F), DEL or a C1
 * control (U+0080..U+009F). Expects well-formed s, in which a C1 control
 * is always the two bytes C2 80..C2 9F. */
bool mochi_utf8_has_control(const char *s, size_t len);

/* A malloc'd copy of s[0..len), NUL-terminated, with each byte that does
 * not start a well-formed sequence replaced by U+FFFD (EF BF BD), for
 * consumers that accept only UTF-8 (Prometheus labels, jansson). Its
 * length goes to *out_len when out_len is not NULL. NULL when out of
 * memory. */
char *mochi_utf8_sanitize(const char *s, size_t len, size_t *out_len);

#endif
