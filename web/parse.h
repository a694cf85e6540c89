#ifndef WEB_PARSE_H
#define WEB_PARSE_H

/* Small parsers for what a browser sends: form bodies, cookies, the next=
 * redirect target. Pure functions, thread-safe; inputs are hostile. */

#include <stdbool.h>
#include <stddef.h>

/* Finds field name in an application/x-www-form-urlencoded body of len
 * bytes and writes its decoded value ('+' is a space, %XX a byte) and a
 * NUL into out. Returns the decoded length, -1 when the field is absent,
 * or -2 when its value does not fit in size - 1 bytes, holds a NUL byte or
 * a malformed escape. The first occurrence wins. */
long web_form_field(const char *body, size_t len, const char *name, char *out, size_t size);

/* Finds cookie name in a Cookie header value ("a=1; b=2") and writes its
 * value and a NUL into out. Returns true when found and it fits. */
bool web_cookie_value(const char *header, const char *name, char *out, size_t size);

/* True when target is a path of this site to redirect to after login:
 * starts with one '/', is not "//..." or "/\\..." (another host to a
 * browser), and holds only printable ASCII without backslashes. */
bool web_local_path(const char *target);

/* base64url without padding of len bytes into out (size >= 4 * len / 3 +
 * 2). Returns out. */
char *web_base64url(const unsigned char *bytes, size_t len, char *out, size_t size);
/* Decodes unpadded base64url text of exactly want bytes' encoding into
 * out[want]. Returns 0 or -1 (wrong length or alphabet). */
int web_base64url_decode(const char *text, unsigned char *out, size_t want);

/* The host[:port] of an Origin or Referer value ("https://a.example:8443/x"
 * gives "a.example:8443") into out. Returns false when value is not an
 * http(s) URL or the host does not fit. */
bool web_url_authority(const char *value, char *out, size_t size);

#endif
