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
 * site_domain: path only (no query or fragment), "/" when empty, cut to
 * MOCHI_PATH_MAX bytes at a character boundary; referrer cut to
 * "scheme://host", or none when empty or on the site's own host or domain.
 * Writes into ev->path, ev->has_referrer, ev->referrer. Returns BEACON_OK,
 * BEACON_INVALID (a URL that does not parse, a page URL that is not http or
 * https) or BEACON_FOREIGN_HOST (page host is neither the domain nor a
 * subdomain of it), with why. urls is scratch space, left holding the last
 * URLs parsed. */
enum beacon_reject beacon_normalize(struct beacon_urls *urls, const struct beacon_fields *fields,
                                    const char *site_domain, struct mochi_pageview *ev, char *why,
                                    size_t whylen);

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
