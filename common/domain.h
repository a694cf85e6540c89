#ifndef MOCHI_DOMAIN_H
#define MOCHI_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#define MOCHI_DOMAIN_MAX 253

/* Checks a site's domain ("example.com", "blog.example.co.uk",
 * "localhost") and writes its lowercase form into out: letters, digits and
 * '-' in dot-separated labels of 1 to 63 characters, at most 253 in all, no
 * scheme, port, path or trailing dot (IDNs in their xn-- form). Returns 0,
 * or MOCHI_ERR_INVALID with the reason in err. */
int mochi_domain_normalize(const char *in, char *out, size_t size, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* True when host (len bytes, any case) is domain (lowercase) or a
 * subdomain of it: "example.com" and "www.example.com" match
 * "example.com"; "badexample.com" does not. */
bool mochi_host_matches_domain(const char *host, size_t len, const char *domain);

/* The traffic source a referring host stands for (DESIGN.md, "entries and
 * sources"; docs/paths.md): host[0..len), well-formed UTF-8, with ASCII
 * letters lower-cased, without one leading "www." label or one trailing
 * dot ("WWW.Google.com." is "google.com"; "www2.example.org" and
 * "wwwexample.org" stay), cut to at most size - 1 bytes at a character
 * boundary. Writes it and a NUL into out (size >= 1) and returns its
 * length. Thread-safe. */
size_t mochi_domain_source(const char *host, size_t len, char *out, size_t size);

#endif
