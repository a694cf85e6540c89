#include "collector/beacon.h"
#include "common/domain.h"
#include "common/error.h"
#include "common/utf8.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <strings.h>

static enum beacon_reject copy_field(char *dst, size_t size, const char *src, const char *name,
                                     char *why, size_t whylen);
static bool text_is_clean(const char *s, size_t len, bool utf8_known_valid);
static enum beacon_reject fill_fields(const char *key, const char *url, const char *referrer,
                                      bool utf8_known_valid, struct beacon_fields *fields,
                                      char *why, size_t whylen);
static enum beacon_reject check_text(const struct beacon_fields *fields, bool utf8_known_valid,
                                     char *why, size_t whylen);
static int format_ip(int family, const unsigned char *bin, char *out, size_t size);
static unsigned char ascii_lower(unsigned char c);
static bool is_plain_ascii(unsigned char c);

/* Lower-case ASCII substrings of User-Agents that are not people. Short on
 * purpose: what matters is the traffic that reaches an analytics beacon
 * (crawlers running scripts, headless browsers, monitors, HTTP libraries). */
static const char *const bot_patterns[] = {
    "bot",
    "crawl",
    "spider",
    "slurp",
    "headless",
    "phantomjs",
    "puppeteer",
    "playwright",
    "selenium",
    "lighthouse",
    "pingdom",
    "uptime",
    "monitor",
    "curl/",
    "wget/",
    "python-",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww-perl",
    "httpclient",
    "axios/",
    "node-fetch",
    "undici",
    "scrapy",
    "facebookexternalhit",
    "preview",
    "feedfetcher",
    "mediapartners",
};
#define NBOT_PATTERNS (sizeof(bot_patterns) / sizeof(bot_patterns[0]))

/* utf8_known_valid: s comes from jansson, which has already rejected
 * invalid UTF-8 (and \u escapes that would make it), so only the controls
 * are left to check. */
static bool text_is_clean(const char *s, size_t len, bool utf8_known_valid)
{
    if (!utf8_known_valid && !mochi_utf8_valid(s, len))
        return false;
    return !mochi_utf8_has_control(s, len);
}

static enum beacon_reject copy_field(char *dst, size_t size, const char *src, const char *name,
                                     char *why, size_t whylen)
{
    size_t len = src ? strlen(src) : 0;
    if (len >= size) {
        snprintf(why, whylen, "%s is too long", name);
        return BEACON_INVALID;
    }
    memcpy(dst, src ? src : "", len + 1);
    return BEACON_OK;
}

enum beacon_reject beacon_parse_json(const char *body, size_t len, struct beacon_fields *fields,
                                     char *why, size_t whylen)
{
    json_error_t jerr;
    /* jansson rejects invalid UTF-8 and, without JSON_ALLOW_NUL, \u0000. */
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(why, whylen, "malformed JSON: %s", jerr.text);
        return BEACON_INVALID;
    }
    enum beacon_reject r = BEACON_INVALID;
    if (!json_is_object(root)) {
        snprintf(why, whylen, "body must be a JSON object");
        goto out;
    }
    json_t *k = json_object_get(root, "k");
    json_t *u = json_object_get(root, "u");
    json_t *ref = json_object_get(root, "r");
    if (!json_is_string(k)) {
        snprintf(why, whylen, "\"k\" (tracking key) must be a string");
        goto out;
    }
    if (!json_is_string(u)) {
        snprintf(why, whylen, "\"u\" (page URL) must be a string");
        goto out;
    }
    if (ref != NULL && !json_is_string(ref) && !json_is_null(ref)) {
        snprintf(why, whylen, "\"r\" (referrer) must be a string or null");
        goto out;
    }
    r = fill_fields(json_string_value(k), json_string_value(u),
                    json_is_string(ref) ? json_string_value(ref) : NULL, true, fields, why, whylen);
out:
    json_decref(root);
    return r;
}

enum beacon_reject beacon_from_query(const char *key, const char *url, const char *referrer,
                                     struct beacon_fields *fields, char *why, size_t whylen)
{
    return fill_fields(key, url, referrer, false, fields, why, whylen);
}

static enum beacon_reject fill_fields(const char *key, const char *url, const char *referrer,
                                      bool utf8_known_valid, struct beacon_fields *fields,
                                      char *why, size_t whylen)
{
    if (key == NULL || key[0] == '\0') {
        snprintf(why, whylen, "missing tracking key");
        return BEACON_INVALID;
    }
    if (url == NULL || url[0] == '\0') {
        snprintf(why, whylen, "missing page URL");
        return BEACON_INVALID;
    }
    if (copy_field(fields->key, sizeof(fields->key), key, "tracking key", why, whylen) ||
        copy_field(fields->url, sizeof(fields->url), url, "page URL", why, whylen) ||
        copy_field(fields->referrer, sizeof(fields->referrer), referrer, "referrer", why, whylen))
        return BEACON_INVALID;
    return check_text(fields, utf8_known_valid, why, whylen);
}

enum beacon_reject beacon_check_text(const struct beacon_fields *fields, char *why, size_t whylen)
{
    return check_text(fields, false, why, whylen);
}

static enum beacon_reject check_text(const struct beacon_fields *fields, bool utf8_known_valid,
                                     char *why, size_t whylen)
{
    size_t klen = strlen(fields->key);
    if (klen < 16 || klen > BEACON_KEY_MAX ||
        strspn(fields->key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            klen) {
        snprintf(why, whylen, "malformed tracking key");
        return BEACON_INVALID;
    }
    if (!text_is_clean(fields->url, strlen(fields->url), utf8_known_valid)) {
        snprintf(why, whylen, "page URL has invalid UTF-8 or control characters");
        return BEACON_INVALID;
    }
    if (!text_is_clean(fields->referrer, strlen(fields->referrer), utf8_known_valid)) {
        snprintf(why, whylen, "referrer has invalid UTF-8 or control characters");
        return BEACON_INVALID;
    }
    return BEACON_OK;
}

/* "http://x" + a canonical path, for libcurl to resolve its dot segments */
#define DEDOT_PREFIX "http://x"
#define DEDOT_PREFIX_LEN (sizeof(DEDOT_PREFIX) - 1)

struct beacon_urls {
    CURLU *page;
    CURLU *referrer;
    /* Scratch: a path's canonical form before it is cut (a stray '%' grows
     * to three bytes), behind room for DEDOT_PREFIX; a decoded utm_source. */
    char path[DEDOT_PREFIX_LEN + 3 * BEACON_URL_MAX + 1];
    char value[BEACON_URL_MAX + 1];
};

int beacon_urls_new(struct beacon_urls **out)
{
    struct beacon_urls *urls = calloc(1, sizeof(*urls));
    if (urls == NULL)
        return MOCHI_ERR_NOMEM;
    urls->page = curl_url();
    urls->referrer = curl_url();
    if (urls->page == NULL || urls->referrer == NULL) {
        beacon_urls_destroy(urls);
        return MOCHI_ERR_NOMEM;
    }
    *out = urls;
    return 0;
}

void beacon_urls_destroy(struct beacon_urls *urls)
{
    if (urls == NULL)
        return;
    curl_url_cleanup(urls->page);
    curl_url_cleanup(urls->referrer);
    free(urls);
}

/* Parses url into a reused handle. Setting CURLUPART_URL to NULL first
 * empties the handle: otherwise libcurl would resolve a relative URL
 * against the previous beacon's. */
static CURLUcode parse_url(CURLU *handle, const char *url, unsigned int flags)
{
    CURLUcode rc = curl_url_set(handle, CURLUPART_URL, NULL, 0);
    return rc == CURLUE_OK ? curl_url_set(handle, CURLUPART_URL, url, flags) : rc;
}

static const char hex_digits[] = "0123456789ABCDEF";

/* True when s[i..len) starts with a %XX escape; its byte goes to *byte
 * (libsodium reads the two hex digits, either case). */
static bool escape_at(const char *s, size_t len, size_t i, unsigned char *byte)
{
    if (i + 2 >= len || s[i] != '%')
        return false;
    size_t n = 0;
    return sodium_hex2bin(byte, 1, s + i + 1, 2, NULL, &n, NULL) == 0 && n == 1;
}

/* An ASCII byte that a canonical path keeps escaped: the path's own
 * delimiters, the escape character, space and the controls. */
static bool ascii_stays_escaped(unsigned char b)
{
    return b <= 0x20 || b == 0x7F || b == '/' || b == '?' || b == '#' || b == '%';
}

/* A byte a canonical path keeps as it is, outside an escape: printable
 * ASCII other than '%'. */
static bool is_plain_ascii(unsigned char c)
{
    return c >= 0x20 && c < 0x7F && c != '%';
}

/* Appends n bytes to out[*pos..] when they fit before size - 1; a unit (a
 * character or an escape) is written whole or not at all. */
static bool put_unit(char *out, size_t size, size_t *pos, const void *bytes, size_t n)
{
    if (n > size - 1 - *pos)
        return false;
    memcpy(out + *pos, bytes, n);
    *pos += n;
    return true;
}

static bool put_escape(char *out, size_t size, size_t *pos, unsigned char b)
{
    char e[3] = {'%', hex_digits[b >> 4], hex_digits[b & 15]};
    return put_unit(out, size, pos, e, 3);
}

/* A well-formed UTF-8 sequence of n bytes that is not a C1 control. */
static bool is_printable_utf8(const unsigned char *seq, size_t n)
{
    return n > 1 && !(seq[0] == 0xC2 && seq[1] <= 0x9F);
}

size_t beacon_canonical_path(const char *path, size_t len, char *out, size_t size)
{
    size_t pos = 0, i = 0;
    bool room = true;
    while (i < len && room) {
        unsigned char c = (unsigned char)path[i], b;
        if (c == '%') {
            if (!escape_at(path, len, i, &b)) {
                room = put_unit(out, size, &pos, "%25", 3);
                i++;
            } else if (b < 0x80) {
                room = ascii_stays_escaped(b) ? put_escape(out, size, &pos, b)
                                              : put_unit(out, size, &pos, &b, 1);
                i += 3;
            } else {
                /* Up to four escapes in a row may spell one character. */
                unsigned char seq[4];
                size_t k = 0;
                for (size_t j = i; k < 4 && escape_at(path, len, j, &seq[k]); j += 3)
                    k++;
                size_t n = mochi_utf8_seq_len((const char *)seq, k);
                if (n > 0 && is_printable_utf8(seq, n)) {
                    room = put_unit(out, size, &pos, seq, n);
                    i += 3 * n;
                } else {
                    room = put_escape(out, size, &pos, b);
                    i += 3;
                }
            }
        } else if (c < 0x20 || c == 0x7F) {
            room = put_escape(out, size, &pos, c);
            i++;
        } else if (c < 0x80) {
            /* A run of bytes kept as they are, copied at once (most of a
             * path is): as many as fit, as byte by byte. */
            size_t run = 1;
            while (i + run < len && is_plain_ascii((unsigned char)path[i + run]))
                run++;
            if (run > size - 1 - pos) {
                run = size - 1 - pos;
                room = false;
            }
            memcpy(out + pos, path + i, run);
            pos += run;
            i += run;
        } else {
            /* beacon_check_text has refused such bytes; escaped all the
             * same, so that the output is UTF-8 whatever it is given. */
            size_t n = mochi_utf8_seq_len(path + i, len - i);
            if (n > 0 && is_printable_utf8((const unsigned char *)path + i, n)) {
                room = put_unit(out, size, &pos, path + i, n);
                i += n;
            } else {
                room = put_escape(out, size, &pos, c);
                i++;
            }
        }
    }
    out[pos] = '\0';
    return pos;
}

/* True when path has a "." or ".." segment: decoding %2E can make one
 * after libcurl has resolved the literal ones. */
static bool has_dot_segment(const char *path)
{
    for (const char *p = strstr(path, "/."); p != NULL; p = strstr(p + 1, "/.")) {
        size_t dots = p[2] == '.' ? 2 : 1;
        if (p[1 + dots] == '/' || p[1 + dots] == '\0')
            return true;
    }
    return false;
}

/* Writes the canonical form of the page's path into ev->path. */
static void set_path(struct beacon_urls *urls, const char *path, struct mochi_pageview *ev)
{
    char *full = urls->path + DEDOT_PREFIX_LEN;
    size_t cap = sizeof(urls->path) - DEDOT_PREFIX_LEN;
    size_t n = beacon_canonical_path(path, strlen(path), full, cap);
    char *dedotted = NULL;
    if (has_dot_segment(full)) {
        /* Browsers resolve "%2E%2E" as ".."; libcurl does that for the
         * literal form only, so it gets the decoded path back to resolve.
         * The page handle's parts have already been copied out. */
        memcpy(urls->path, DEDOT_PREFIX, DEDOT_PREFIX_LEN);
        if (parse_url(urls->page, urls->path, 0) == CURLUE_OK &&
            curl_url_get(urls->page, CURLUPART_PATH, &dedotted, 0) == CURLUE_OK) {
            full = dedotted;
            n = strlen(dedotted);
        }
    }
    if (n == 0)
        memcpy(ev->path, "/", 2);
    else /* canonical already: this pass only cuts it */
        beacon_canonical_path(full, n, ev->path, sizeof(ev->path));
    curl_free(dedotted);
}

/* Form-decodes s[0..len) ('+' is a space, %XX a byte, a '%' that starts
 * no escape stays) into out, which has room for len + 1 bytes; returns
 * the decoded length. */
static size_t form_decode(const char *s, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char b;
        if (s[i] == '%' && escape_at(s, len, i, &b)) {
            out[n++] = (char)b;
            i += 3;
        } else {
            out[n++] = s[i] == '+' ? ' ' : s[i];
            i++;
        }
    }
    out[n] = '\0';
    return n;
}

/* Finds the first utm_source in query and writes its source form into
 * origin->source. Returns false when there is none, it is empty or it is
 * not clean text. */
static bool utm_source(struct beacon_urls *urls, const char *query, struct beacon_origin *origin)
{
    static const char name[] = "utm_source";
    const char *p = query;
    for (;;) {
        size_t plen = strcspn(p, "&");
        size_t nlen = strcspn(p, "=&");
        /* Decoding makes one byte of at most three: a name longer than
         * 30 bytes cannot be "utm_source". */
        char decoded[3 * (sizeof(name) - 1) + 1];
        if (nlen <= sizeof(decoded) - 1 && form_decode(p, nlen, decoded) == sizeof(name) - 1 &&
            memcmp(decoded, name, sizeof(name) - 1) == 0) {
            const char *v = nlen < plen ? p + nlen + 1 : p + plen;
            size_t vlen = (size_t)(p + plen - v);
            char *value = urls->value;
            size_t n =
                form_decode(v, vlen < sizeof(urls->value) ? vlen : sizeof(urls->value) - 1, value);
            if (!mochi_utf8_valid(value, n) || mochi_utf8_has_control(value, n))
                return false;
            while (n > 0 && *value == ' ') {
                value++;
                n--;
            }
            n = mochi_utf8_cut(value, n, BEACON_UTM_SOURCE_MAX);
            while (n > 0 && value[n - 1] == ' ')
                n--;
            for (size_t i = 0; i < n; i++)
                origin->source[i] = (char)ascii_lower((unsigned char)value[i]);
            origin->source[n] = '\0';
            return n > 0;
        }
        if (p[plen] == '\0')
            return false;
        p += plen + 1;
    }
}

enum beacon_reject beacon_normalize(struct beacon_urls *urls, const struct beacon_fields *fields,
                                    const char *site_domain, struct mochi_pageview *ev, char *why,
                                    size_t whylen)
{
    return beacon_normalize_origin(urls, fields, site_domain, ev, NULL, why, whylen);
}

enum beacon_reject beacon_normalize_origin(struct beacon_urls *urls,
                                           const struct beacon_fields *fields,
                                           const char *site_domain, struct mochi_pageview *ev,
                                           struct beacon_origin *origin, char *why, size_t whylen)
{
    enum beacon_reject r = BEACON_INVALID;
    char *scheme = NULL, *host = NULL, *path = NULL, *query = NULL;
    char *rscheme = NULL, *rhost = NULL;
    CURLU *page = urls->page;
    CURLU *ref = urls->referrer;
    bool internal = false; /* the referrer is on the site's own host */
    if (parse_url(page, fields->url, 0) != CURLUE_OK ||
        curl_url_get(page, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(page, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(page, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        snprintf(why, whylen, "page URL does not parse");
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(why, whylen, "page URL must be http or https");
        goto out;
    }
    if (!mochi_host_matches_domain(host, strlen(host), site_domain)) {
        snprintf(why, whylen, "page host is not the site's domain");
        r = BEACON_FOREIGN_HOST;
        goto out;
    }
    /* Read before set_path, which may reuse the page handle. */
    if (origin != NULL && curl_url_get(page, CURLUPART_QUERY, &query, 0) != CURLUE_OK)
        query = NULL;
    set_path(urls, path, ev);

    ev->has_referrer = false;
    if (fields->referrer[0] != '\0') {
        if (parse_url(ref, fields->referrer, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
            curl_url_get(ref, CURLUPART_SCHEME, &rscheme, 0) != CURLUE_OK) {
            snprintf(why, whylen, "referrer does not parse");
            goto out;
        }
        /* A referrer without a host (about:blank, data:) says nothing. */
        if (curl_url_get(ref, CURLUPART_HOST, &rhost, 0) == CURLUE_OK && rhost[0] != '\0') {
            size_t hlen = strlen(rhost);
            internal =
                strcasecmp(rhost, host) == 0 || mochi_host_matches_domain(rhost, hlen, site_domain);
            if (!internal) {
                /* libcurl percent-decodes the host ("%ef" is byte 0xEF) and
                 * checks only for ASCII controls and delimiters. */
                if (!text_is_clean(rhost, hlen, false)) {
                    snprintf(why, whylen, "referrer host has invalid UTF-8 or control characters");
                    goto out;
                }
                size_t slen = strlen(rscheme);
                if (slen + 3 + hlen >= sizeof(ev->referrer)) {
                    snprintf(why, whylen, "referrer host is too long");
                    goto out;
                }
                memcpy(ev->referrer, rscheme, slen);
                memcpy(ev->referrer + slen, "://", 3);
                memcpy(ev->referrer + slen + 3, rhost, hlen + 1);
                for (char *p = ev->referrer; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                ev->has_referrer = true;
            }
        }
    }
    if (origin != NULL) {
        /* Internal navigation is never an entry and has no source. */
        origin->entry = !internal;
        origin->source[0] = '\0';
        if (origin->entry && !(query != NULL && utm_source(urls, query, origin)) &&
            ev->has_referrer)
            mochi_domain_source(rhost, strlen(rhost), origin->source, sizeof(origin->source));
        origin->has_source = origin->source[0] != '\0';
    }
    r = BEACON_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(path);
    curl_free(query);
    curl_free(rscheme);
    curl_free(rhost);
    return r;
}

/* For each byte, the bot_patterns (as bits) that start with it; and a
 * filter of the patterns' first two bytes, by their low 5 bits (bit b2 & 31
 * of bot_pairs[b1 & 31]), that rules out most positions of a User-Agent
 * at once. Built once by index_bots. */
static uint32_t bots_by_first[256];
static uint32_t bot_pairs[32];
static pthread_once_t bots_once = PTHREAD_ONCE_INIT;

static void index_bots(void)
{
    _Static_assert(NBOT_PATTERNS <= 32, "bots_by_first holds one bit per pattern");
    for (size_t i = 0; i < NBOT_PATTERNS; i++) {
        const unsigned char *p = (const unsigned char *)bot_patterns[i];
        assert(p[0] != '\0' && p[1] != '\0'); /* bot_pairs needs two bytes */
        bots_by_first[p[0]] |= UINT32_C(1) << i;
        bot_pairs[p[0] & 31] |= UINT32_C(1) << (p[1] & 31);
    }
}

/* Without a branch: User-Agents mix cases, so one would mispredict often. */
static unsigned char ascii_lower(unsigned char c)
{
    return (unsigned char)(c | (((unsigned char)(c - 'A') < 26) << 5));
}

bool beacon_is_bot(const char *user_agent)
{
    if (user_agent == NULL || user_agent[0] == '\0')
        return true;
    pthread_once(&bots_once, index_bots);
    /* One pass over the User-Agent, no copy: at each byte, only the
     * patterns that start with it are compared, case-insensitively. */
    const unsigned char *ua = (const unsigned char *)user_agent;
    for (size_t i = 0; ua[i] != '\0'; i++) {
        /* ua[i + 1] is at most the terminating NUL. The filter reads the
         * bytes as they are: lower-casing changes bit 5 only, which the
         * filter does not look at. */
        if (((bot_pairs[ua[i] & 31] >> (ua[i + 1] & 31)) & 1) == 0)
            continue;
        uint32_t candidates = bots_by_first[ascii_lower(ua[i])];
        while (candidates != 0) {
            int k = __builtin_ctz(candidates);
            candidates &= candidates - 1;
            const char *p = bot_patterns[k];
            size_t j = 1;
            /* A NUL in ua differs from every pattern byte: the compare
             * stops at the end of the User-Agent. */
            while (p[j] != '\0' && ascii_lower(ua[i + j]) == (unsigned char)p[j])
                j++;
            if (p[j] == '\0')
                return true;
        }
    }
    return false;
}

/* The peer's address in binary, IPv4-mapped IPv6 as IPv4. Returns 0 or
 * MOCHI_ERR_INVALID for another address family. */

/* The address as inet_ntop writes it; IPv4 by hand, since glibc's
 * inet_ntop formats it with sprintf, which costs more than the rest of
 * finding the client address. Returns 0 or MOCHI_ERR_INVALID when out is
 * too small. */
static int format_ip(int family, const unsigned char *bin, char *out, size_t size)
{
    if (family != AF_INET)
        return inet_ntop(family, bin, out, (socklen_t)size) ? 0 : MOCHI_ERR_INVALID;
    char text[INET_ADDRSTRLEN];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        unsigned int b = bin[i];
        if (i > 0)
            text[n++] = '.';
        if (b >= 100)
            text[n++] = (char)('0' + b / 100);
        if (b >= 10)
            text[n++] = (char)('0' + b / 10 % 10);
        text[n++] = (char)('0' + b % 10);
    }
    if (n >= size)
        return MOCHI_ERR_INVALID;
    memcpy(out, text, n);
    out[n] = '\0';
    return 0;
}

const char *beacon_forwarded_tail(const char *const values[], const size_t sizes[], size_t n,
                                  char *out, size_t size)
{
    size_t pos = size - 1; /* out[pos..size-1) holds the entries kept so far */
    out[pos] = '\0';
    for (size_t i = n; i-- > 0;) {
        const char *v = values[i];
        size_t len = sizes[i];
        size_t sep = i + 1 < n ? 1 : 0; /* even after an empty value, as the join has */
        if (len + sep > pos) {
            /* Keep the longest tail of v that starts after a comma and
             * fits, then stop: what is left of it is the client's. */
            size_t keep = 0;
            for (size_t c = len; c-- > 0;) {
                if (v[c] != ',')
                    continue;
                if (len - c - 1 + sep > pos)
                    break;
                keep = len - c - 1;
            }
            if (keep > 0) {
                if (sep)
                    out[--pos] = ',';
                pos -= keep;
                memcpy(out + pos, v + len - keep, keep);
            }
            break;
        }
        if (sep)
            out[--pos] = ',';
        pos -= len;
        memcpy(out + pos, v, len);
    }
    memmove(out, out + pos, size - pos);
    return out[0] != '\0' ? out : NULL;
}

int beacon_client_ip(const struct sockaddr *peer, const char *xff,
                     const struct mochi_cidr_list *trusted, char *out, size_t size)
{
    int family;
    unsigned char bin[16];
    const char *const headers[1] = {xff};
    if (mochi_forwarded_client(peer, headers, xff != NULL ? 1 : 0, trusted, &family, bin) != 0)
        return MOCHI_ERR_INVALID;
    return format_ip(family, bin, out, size);
}

const char *beacon_reject_reason(enum beacon_reject reject)
{
    switch (reject) {
    case BEACON_OK:
        return "ok";
    case BEACON_INVALID:
        return "invalid";
    case BEACON_UNKNOWN_SITE:
        return "unknown_site";
    case BEACON_FOREIGN_HOST:
        return "foreign_host";
    }
    return "invalid";
}
