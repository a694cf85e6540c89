#ifndef COLLECTOR_BEACON_H
#define COLLECTOR_BEACON_H

/* The pure part of the collector: reading a beacon, normalising its URLs,
 * telling bots, finding the client address. No I/O here. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/event.h"
#include "common/netaddr.h"

#define BEACON_BODY_MAX 4096
#define BEACON_KEY_MAX 64
#define BEACON_URL_MAX 4096

/* Why a beacon is refused; each maps to one HTTP status and one metric
 * label (beacon_reject_reason). */
enum beacon_reject {
    BEACON_OK = 0,
    BEACON_INVALID,      /* 400 */
    BEACON_UNKNOWN_SITE, /* 404 */
    BEACON_FOREIGN_HOST, /* 403 */
};

/* A beacon's three fields as text, NUL-terminated. */
struct beacon_fields {
    char key[BEACON_KEY_MAX + 1];
    char url[BEACON_URL_MAX + 1];
    char referrer[BEACON_URL_MAX + 1]; /* "" when none */
};

/* Parses a JSON body {"k": ..., "u": ..., "r": ...} ("r" may be absent,
 * null or empty; other members are ignored). Returns BEACON_OK or
 * BEACON_INVALID with a short reason for the client in why. */
enum beacon_reject beacon_parse_json(const char *body, size_t len, struct beacon_fields *fields,
                                     char *why, size_t whylen);

/* Fills fields from query values (any may be NULL). Returns as
 * beacon_parse_json. */
enum beacon_reject beacon_from_query(const char *key, const char *url, const char *referrer,
                                     struct beacon_fields *fields, char *why, size_t whylen);

/* Checks fields->key against the tracking-key alphabet and length, and the
 * URLs for UTF-8 and control characters. Returns BEACON_OK or
 * BEACON_INVALID with why. */
enum beacon_reject beacon_check_text(const struct beacon_fields *fields, char *why, size_t whylen);

/* Two libcurl URL handles that beacon_normalize reuses from one beacon to
 * the next instead of allocating them each time. Not thread-safe: one per
 * thread. */
struct beacon_urls;

/* Returns 0 and a new set in *out (the caller owns it, beacon_urls_destroy),
 * or MOCHI_ERR_NOMEM. */
int beacon_urls_new(struct beacon_urls **out) __attribute__((warn_unused_result));

/* Frees the set. NULL is a no-op. */
void beacon_urls_destroy(struct beacon_urls *urls);

/* Normalises the page URL and the referrer for a site whose domain is
 * site_domain: the path in its canonical form (beacon_canonical_path, after
 * libcurl has dropped the query and fragment and resolved dot segments),
 * "/" when empty, cut to MOCHI_PATH_MAX bytes without splitting a character
 * or a %XX escape; referrer cut to "scheme://host", or none when empty or
 * on the site's own host or domain. Writes into ev->path, ev->has_referrer,
 * ev->referrer. Returns BEACON_OK, BEACON_INVALID (a URL that does not
 * parse, a page URL that is not http or https) or BEACON_FOREIGN_HOST (page
 * host is neither the domain nor a subdomain of it), with why. urls is
 * scratch space, left holding the last URLs parsed. */
enum beacon_reject beacon_normalize(struct beacon_urls *urls, const struct beacon_fields *fields,
                                    const char *site_domain, struct mochi_pageview *ev, char *why,
                                    size_t whylen);

#define BEACON_SOURCE_MAX 253    /* bytes without the NUL: a DNS host name */
#define BEACON_UTM_SOURCE_MAX 64 /* bytes kept of a utm_source value */

/* Where a page view comes from (DESIGN.md, "entries and sources"), an
 * output of its own beside the event. */
struct beacon_origin {
    /* True when the view starts a visit: no referrer, a referrer without a
     * host (about:blank, data:), or one on another host than the site's
     * own host and its subdomains. */
    bool entry;
    /* Entries only: source holds the page URL's utm_source (percent- and
     * '+'-decoded, ASCII lower-cased, spaces trimmed, at most
     * BEACON_UTM_SOURCE_MAX bytes cut at a character boundary) when the
     * query has a non-empty, valid one, else the referrer's host, lower
     * case, without a leading "www." label or a trailing dot. False for
     * "Direct / none" and for every view that is not an entry. */
    bool has_source;
    char source[BEACON_SOURCE_MAX + 1]; /* UTF-8, no control characters; "" without a source */
};

/* beacon_normalize, and in the same pass over the URLs the view's entry
 * and source into *origin (see struct beacon_origin). Returns as
 * beacon_normalize; *origin is set only on BEACON_OK. The query is read for
 * utm_source alone: the first "utm_source" name (case-sensitive, after
 * decoding, as URLSearchParams.get reads it); a value that is not valid
 * UTF-8 or holds control characters once decoded counts as absent. */
enum beacon_reject beacon_normalize_origin(struct beacon_urls *urls,
                                           const struct beacon_fields *fields,
                                           const char *site_domain, struct mochi_pageview *ev,
                                           struct beacon_origin *origin, char *why, size_t whylen);

/* The canonical form of a URL path (docs/paths.md): each %XX escape with
 * uppercase hex, decoded when it stands for an ASCII character other than
 * '/', '?', '#', '%', space and controls, or for a whole well-formed UTF-8
 * character other than a C1 control; escapes of anything else kept; a '%'
 * that starts no escape written %25; raw bytes that are controls or not
 * UTF-8 escaped. Writes at most size - 1 bytes and a NUL into out (size >=
 * 1), never splitting a character or an escape, and returns the length
 * written. Dot segments are not resolved here (beacon_normalize has
 * libcurl do it). Idempotent: the canonical form of a canonical path is
 * itself. */
size_t beacon_canonical_path(const char *path, size_t len, char *out, size_t size);

/* True for an empty User-Agent or one matching a known crawler, headless
 * browser, monitor or HTTP library. */
bool beacon_is_bot(const char *user_agent);

/* Joins n X-Forwarded-For header values (values[i] of sizes[i] bytes, in
 * the order received) with commas into out (size >= 2), keeping the
 * right-most whole entries that fit: proxies append at the end, so the end
 * is what must survive a client's padding at the start. Returns out, or
 * NULL when nothing was kept. */
const char *beacon_forwarded_tail(const char *const values[], const size_t sizes[], size_t n,
                                  char *out, size_t size);

/* Writes the client address as text into out: the TCP peer, or, when the
 * peer is a trusted proxy, the right-most X-Forwarded-For entry that is not
 * a trusted proxy (xff may hold several comma-separated entries, NULL when
 * absent). Entries that are not IP addresses end the walk: what stands to
 * their left cannot be believed. Returns 0 or MOCHI_ERR_INVALID. */
int beacon_client_ip(const struct sockaddr *peer, const char *xff,
                     const struct mochi_cidr_list *trusted, char *out, size_t size)
    __attribute__((warn_unused_result));

/* Metric label for a reject reason. */
const char *beacon_reject_reason(enum beacon_reject reject);

#endif
