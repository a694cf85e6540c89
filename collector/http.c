#include "collector/http.h"
#include "collector/arena.h"
#include "collector/beacon.h"
#include "collector/guard.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/hash.h"
#include "common/http_metrics.h"
#include "common/log.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The tracker, generated from collector/mochi.js at build time. */
extern const char collector_tracker_js[];
extern const size_t collector_tracker_js_len;

/* The public port serves beacons and the tracker only; /metrics and
 * /healthz are on --metrics-listen (main.c), out of visitors' reach. */
_Static_assert(BEACON_SOURCE_MAX == MOCHI_SOURCE_MAX, "a derived source fits the event");

enum route { ROUTE_EVENT, ROUTE_GIF, ROUTE_JS, ROUTE_OTHER, NROUTES };
static const char *const route_names[NROUTES] = {"event", "gif", "tracker", "other"};
static const unsigned int statuses[] = {200, 202, 204, 400, 403, 404, 405, 413, 500, 503};
#define NSTATUSES (sizeof(statuses) / sizeof(statuses[0]))

enum outcome {
    OUT_PUBLISHED, /* enqueued for Kafka */
    OUT_BOT,
    OUT_INVALID,
    OUT_UNKNOWN_SITE,
    OUT_FOREIGN_HOST,
    OUT_QUEUE_FULL,
    OUT_UNAVAILABLE, /* no salt or sites yet, or the producer failed */
    NOUTCOMES
};
static const char *const outcome_names[NOUTCOMES] = {
    "published", "bot", "invalid", "unknown_site", "foreign_host", "queue_full", "unavailable"};

/* A 1x1 transparent GIF. */
static const unsigned char gif_1x1[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

/* What each libmicrohttpd worker thread keeps from one request to the next. */
struct worker {
    struct mochi_codec *codec;
    struct beacon_urls *urls;
    struct arena *json; /* jansson's allocations while a body is parsed */
    /* The thread's own 202 for beacons: libmicrohttpd counts a response's
     * users under the response's mutex at queue and at completion, and a
     * mutex shared by every worker moves between cores on each request. */
    struct MHD_Response *accepted;
    struct request *spares; /* finished POST buffers, for the next ones */
    size_t nspares;
    struct worker *next;
};

/* libmicrohttpd's memory pool per connection (its default is 32 KiB). It
 * holds a request's headers and read buffer, and is zeroed for every
 * request: a beacon needs under 1 KiB of headers and its body is copied
 * out in on_request, so 16 KiB leaves room for cookies while halving that
 * work and the resident memory per keep-alive connection. */
#define CONNECTION_MEMORY (16 * 1024)

/* Spare POST buffers kept per thread: enough for the requests in flight at
 * once on a busy worker, small against the memory budget (4 KiB each). */
#define SPARES_MAX 16

/* Per-thread arena for parsing a beacon body with jansson: a typical beacon
 * takes about 1 KiB of it; a body up to the 4 KiB limit with long strings
 * or many members may need more, and what does not fit comes from malloc. */
#define JSON_ARENA_SIZE (16 * 1024)

struct collector_http {
    struct collector_http_deps deps;
    struct MHD_Daemon *daemon;
    struct collector_guard *guard; /* per-address limit and header deadline */
    int port;

    struct MHD_Response *accepted;  /* 202, empty */
    struct MHD_Response *preflight; /* 204 */
    struct MHD_Response *gif;       /* 200 image/gif */
    struct MHD_Response *tracker;   /* 200 mochi.js */
    struct MHD_Response *queue_full;

    struct mochi_metric *requests[NROUTES][NSTATUSES];
    struct mochi_metric *outcomes[NOUTCOMES];

    pthread_mutex_t workers_lock;
    struct worker *workers; /* every thread's, freed at stop */
    atomic_llong last_poke_ms;
};

/* What a request's headers say, in one walk over them (scan_headers):
 * the User-Agent, the X-Forwarded-For values when a proxy is trusted, and
 * the body's framing. */
#define MAX_XFF_HEADERS 16
struct header_scan {
    const char *ua; /* the first User-Agent (MHD's memory) */
    bool want_xff;
    size_t nxff;                      /* X-Forwarded-For headers seen (may exceed the array) */
    const char *xff[MAX_XFF_HEADERS]; /* their values, in order (MHD's memory) */
    size_t xff_size[MAX_XFF_HEADERS];
    const char *content_length; /* the first Content-Length, or NULL */
    bool lengths_differ;        /* another Content-Length with another value */
    bool transfer_encoding;     /* a Transfer-Encoding header */
};

/* Notes the first User-Agent, the framing headers and, when wanted, every
 * X-Forwarded-For. Names are compared by length and first letter first:
 * most headers are passed over without a strcasecmp (browsers send three
 * Sec-Fetch-* of Content-Length's length, and Accept-Language and
 * Accept-Encoding of X-Forwarded-For's). */
static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    static const char ua_name[] = "User-Agent";
    static const char xff_name[] = "X-Forwarded-For";
    static const char length_name[] = MHD_HTTP_HEADER_CONTENT_LENGTH;
    static const char encoding_name[] = MHD_HTTP_HEADER_TRANSFER_ENCODING;
    struct header_scan *s = cls;
    char first = (char)(key[0] | 0x20); /* lower case, for a letter */
    if (key_size == sizeof(ua_name) - 1 && first == 'u' && strcasecmp(key, ua_name) == 0) {
        if (s->ua == NULL)
            s->ua = value;
    } else if (key_size == sizeof(length_name) - 1 && first == 'c' &&
               strcasecmp(key, length_name) == 0) {
        if (s->content_length == NULL)
            s->content_length = value ? value : "";
        else if (value == NULL || strcmp(value, s->content_length) != 0)
            s->lengths_differ = true;
    } else if (key_size == sizeof(encoding_name) - 1 && first == 't' &&
               strcasecmp(key, encoding_name) == 0) {
        s->transfer_encoding = true;
    } else if (s->want_xff && key_size == sizeof(xff_name) - 1 && first == 'x' && value != NULL &&
               strcasecmp(key, xff_name) == 0) {
        if (s->nxff < MAX_XFF_HEADERS) {
            s->xff[s->nxff] = value;
            s->xff_size[s->nxff] = strnlen(value, value_size);
        }
        s->nxff++;
    }
    return MHD_YES;
}

static void scan_headers(const struct collector_http *http, struct MHD_Connection *conn,
                         struct header_scan *s)
{
    s->ua = NULL;
    s->want_xff = http->deps.trusted_proxies->count > 0;
    s->nxff = 0;
    s->content_length = NULL;
    s->lengths_differ = false;
    s->transfer_encoding = false;
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, scan_header, s);
}

/* libmicrohttpd 0.9.75 takes a request with two different Content-Length
 * headers, or with both Content-Length and Transfer-Encoding, and picks
 * one; a proxy in front may pick the other, and the bytes left over become
 * a request of the attacker's (request smuggling). RFC 9112 says to refuse
 * such a request. */
static bool framing_is_clear(const struct header_scan *s)
{
    return !s->lengths_differ && !(s->content_length != NULL && s->transfer_encoding);
}

/* A POST body being received. */
struct request {
    struct request *next; /* in a worker's spares */
    int64_t arrived_us;
    struct header_scan headers; /* scanned when the headers came in */
    size_t len;
    char body[BEACON_BODY_MAX + 1];
};

static _Thread_local struct worker *thread_worker;

static struct MHD_Response *static_response(const void *data, size_t len, const char *type);
static enum MHD_Result publish_beacon(struct collector_http *http, struct MHD_Connection *conn,
                                      enum route route, const struct header_scan *headers,
                                      const struct beacon_fields *fields,
                                      const struct collector_site_day *sd, int64_t arrived_us);

static void worker_destroy(struct worker *worker)
{
    if (worker == NULL)
        return;
    while (worker->spares != NULL) {
        struct request *next = worker->spares->next;
        free(worker->spares);
        worker->spares = next;
    }
    mochi_codec_destroy(worker->codec);
    beacon_urls_destroy(worker->urls);
    arena_destroy(worker->json);
    if (worker->accepted != NULL)
        MHD_destroy_response(worker->accepted);
    free(worker);
}

/* Returns the calling thread's worker state, made on first use and
 * registered with http, which frees it at stop; NULL when out of memory. */
static struct worker *worker_for_thread(struct collector_http *http)
{
    if (thread_worker != NULL)
        return thread_worker;
    struct worker *worker = calloc(1, sizeof(*worker));
    if (worker == NULL || mochi_codec_new(http->deps.schemas, &worker->codec) != 0 ||
        beacon_urls_new(&worker->urls) != 0 || arena_new(JSON_ARENA_SIZE, &worker->json) != 0 ||
        (worker->accepted = static_response("", 0, NULL)) == NULL) {
        worker_destroy(worker);
        return NULL;
    }
    pthread_mutex_lock(&http->workers_lock);
    worker->next = http->workers;
    http->workers = worker;
    pthread_mutex_unlock(&http->workers_lock);
    thread_worker = worker;
    return thread_worker;
}

/* Returns a POST buffer, a spare of the thread's when it has one; NULL when
 * out of memory. Give it back with request_release. */
static struct request *request_take(struct collector_http *http)
{
    struct worker *worker = worker_for_thread(http);
    if (worker == NULL || worker->spares == NULL)
        return malloc(sizeof(struct request));
    struct request *req = worker->spares;
    worker->spares = req->next;
    worker->nspares--;
    return req;
}

/* Keeps req as a spare of the calling thread's, or frees it. NULL is a
 * no-op. */
static void request_release(struct request *req)
{
    struct worker *worker = thread_worker;
    if (req == NULL)
        return;
    if (worker == NULL || worker->nspares >= SPARES_MAX) {
        free(req);
        return;
    }
    req->next = worker->spares;
    worker->spares = req;
    worker->nspares++;
}

static enum route route_of(const char *url)
{
    if (strcmp(url, "/api/event") == 0)
        return ROUTE_EVENT;
    if (strcmp(url, "/p.gif") == 0)
        return ROUTE_GIF;
    if (strcmp(url, "/mochi.js") == 0)
        return ROUTE_JS;
    return ROUTE_OTHER;
}

static void count_request(struct collector_http *http, enum route route, unsigned int status)
{
    for (size_t i = 0; i < NSTATUSES; i++) {
        if (statuses[i] == status) {
            mochi_metric_inc(http->requests[route][i]);
            return;
        }
    }
}

static enum MHD_Result send_shared(struct collector_http *http, struct MHD_Connection *conn,
                                   enum route route, unsigned int status,
                                   struct MHD_Response *response)
{
    count_request(http, route, status);
    return MHD_queue_response(conn, status, response);
}

/* Answers {key: text} with status; JSON-escaped by jansson. text may quote
 * the client's bytes (jansson's parse errors do, cut anywhere), which need
 * not be UTF-8 and which jansson would then refuse: only printable ASCII is
 * kept, the rest becomes '?', so every bad request gets its answer. */
static enum MHD_Result send_json(struct collector_http *http, struct MHD_Connection *conn,
                                 enum route route, unsigned int status, const char *key,
                                 const char *text)
{
    char clean[256];
    size_t n = 0;
    for (; text[n] != '\0' && n < sizeof(clean) - 1; n++) {
        unsigned char c = (unsigned char)text[n];
        clean[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    clean[n] = '\0';
    json_t *obj = json_pack("{s:s}", key, clean);
    char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (body == NULL)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    if (status == 405)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
                                route == ROUTE_EVENT ? "POST, OPTIONS" : "GET, HEAD");
    if (status == 503)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "5");
    count_request(http, route, status);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct collector_http *http, struct MHD_Connection *conn,
                                  enum route route, unsigned int status, const char *why)
{
    return send_json(http, conn, route, status, "error", why);
}

/* The X-Forwarded-For values to believe, joined (beacon_forwarded_tail),
 * or NULL when there are none or more headers than are kept: then the
 * peer's address is used. */
static const char *forwarded_for(const struct header_scan *s, char *out, size_t size)
{
    if (s->nxff == 0 || s->nxff > MAX_XFF_HEADERS)
        return NULL;
    return beacon_forwarded_tail(s->xff, s->xff_size, s->nxff, out, size);
}

static void poke_sites(struct collector_http *http)
{
    long long now = mochi_clock_mono_ms();
    long long last = atomic_load(&http->last_poke_ms);
    if (now - last >= 1000 && atomic_compare_exchange_strong(&http->last_poke_ms, &last, now))
        collector_sites_poke(http->deps.sites);
}

/* A beacon taken (published, or a bot's, silently dropped): 202, or the
 * GIF for /p.gif. */
static enum MHD_Result send_accepted(struct collector_http *http, struct MHD_Connection *conn,
                                     enum route route)
{
    if (route == ROUTE_GIF)
        return send_shared(http, conn, route, 200, http->gif);
    struct worker *worker = worker_for_thread(http);
    return send_shared(http, conn, route, 202, worker ? worker->accepted : http->accepted);
}

/* The whole path of one beacon: validate, look up, normalise, hash,
 * encode, enqueue. Answers the request. */
static enum MHD_Result handle_beacon(struct collector_http *http, struct MHD_Connection *conn,
                                     enum route route, const struct header_scan *headers,
                                     const struct beacon_fields *fields, int64_t arrived_us)
{
    /* The site, and the site-local day of the beacon's arrival: its salt
     * hashes the visitor, and the event carries it for the rollup to
     * count by. One read of the cache. */
    struct collector_site_day sd;
    int rc = collector_sites_resolve(http->deps.sites, fields->key, arrived_us, &sd);
    if (rc == MOCHI_ERR_AGAIN) {
        mochi_metric_inc(http->outcomes[OUT_UNAVAILABLE]);
        return send_error(http, conn, route, 503, "not ready: sites not loaded yet");
    }
    if (rc != 0) {
        poke_sites(http);
        mochi_metric_inc(http->outcomes[OUT_UNKNOWN_SITE]);
        return send_error(http, conn, route, 404, "unknown tracking key");
    }
    enum MHD_Result ret = publish_beacon(http, conn, route, headers, fields, &sd, arrived_us);
    sodium_memzero(sd.salt, sizeof(sd.salt)); /* no copy of a salt outlives its use */
    return ret;
}

/* handle_beacon's path once the site is known (sd, whose salt the caller
 * wipes). Answers the request. */
static enum MHD_Result publish_beacon(struct collector_http *http, struct MHD_Connection *conn,
                                      enum route route, const struct header_scan *headers,
                                      const struct beacon_fields *fields,
                                      const struct collector_site_day *sd, int64_t arrived_us)
{
    char why[160] = "";
    const struct collector_site *site = &sd->site;
    struct worker *worker = worker_for_thread(http);
    if (worker == NULL) {
        mochi_metric_inc(http->outcomes[OUT_UNAVAILABLE]);
        return send_error(http, conn, route, 500, "out of memory");
    }
    struct mochi_pageview ev;
    struct beacon_origin origin;
    enum beacon_reject reject =
        beacon_normalize_origin(worker->urls, fields, site->domain, &ev, &origin, why, sizeof(why));
    if (reject == BEACON_FOREIGN_HOST) {
        mochi_metric_inc(http->outcomes[OUT_FOREIGN_HOST]);
        return send_error(http, conn, route, 403, why);
    }
    if (reject != BEACON_OK) {
        mochi_metric_inc(http->outcomes[OUT_INVALID]);
        return send_error(http, conn, route, 400, why);
    }

    const char *ua = headers->ua;
    if (beacon_is_bot(ua)) {
        mochi_metric_inc(http->outcomes[OUT_BOT]);
        return send_accepted(http, conn, route);
    }

    if (sd->day_rc != 0) {
        mochi_metric_inc(http->outcomes[OUT_UNAVAILABLE]);
        return send_error(http, conn, route, 503, "not ready: no salt for the site's day");
    }
    char ip[64];
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char xff[1024];
    if (info == NULL ||
        beacon_client_ip(info->client_addr, forwarded_for(headers, xff, sizeof(xff)),
                         http->deps.trusted_proxies, ip, sizeof(ip)) != 0) {
        mochi_metric_inc(http->outcomes[OUT_UNAVAILABLE]);
        return send_error(http, conn, route, 500, "cannot read the client address");
    }
    memcpy(ev.site_id, site->id_text, sizeof(ev.site_id));
    mochi_visitor_hash(sd->salt, site->id, ip, ua, ev.visitor_hash);
    ev.occurred_at_us = arrived_us;
    ev.day = (int32_t)sd->day;
    ev.entry = origin.entry;
    ev.has_source = origin.has_source;
    memcpy(ev.source, origin.source, sizeof(ev.source));

    unsigned char wire[MOCHI_PAGEVIEW_WIRE_MAX];
    size_t len = 0;
    int rc = mochi_codec_encode(worker->codec, &ev, wire, sizeof(wire), &len);
    if (rc != 0) {
        mochi_metric_inc(http->outcomes[OUT_INVALID]);
        return send_error(http, conn, route, 400, "event out of range");
    }
    rc =
        collector_producer_send(http->deps.producer, site->id_text, MOCHI_UUID_TEXT_LEN, wire, len);
    if (rc == MOCHI_ERR_FULL) {
        mochi_metric_inc(http->outcomes[OUT_QUEUE_FULL]);
        return send_shared(http, conn, route, 503, http->queue_full);
    }
    if (rc != 0) {
        mochi_metric_inc(http->outcomes[OUT_UNAVAILABLE]);
        return send_error(http, conn, route, 503, "Kafka producer unavailable");
    }
    mochi_metric_inc(http->outcomes[OUT_PUBLISHED]);
    return send_accepted(http, conn, route);
}

/* A query argument, or NULL when absent; *ok is false when its decoded
 * value holds a NUL byte (%00), which would silently cut it short. */
static const char *query_arg(struct MHD_Connection *conn, const char *name, bool *ok)
{
    const char *value = NULL;
    size_t size = 0;
    if (MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &size) != MHD_YES)
        return NULL;
    if (value != NULL && strlen(value) != size)
        *ok = false;
    return value;
}

/* head: a HEAD request, answered like GET but never publishing. */
static enum MHD_Result handle_get(struct collector_http *http, struct MHD_Connection *conn,
                                  enum route route, bool head)
{
    switch (route) {
    case ROUTE_JS:
        return send_shared(http, conn, route, 200, http->tracker);
    case ROUTE_GIF: {
        char why[160] = "";
        struct beacon_fields fields;
        bool no_nul = true;
        const char *k = query_arg(conn, "k", &no_nul);
        const char *u = query_arg(conn, "u", &no_nul);
        const char *r = query_arg(conn, "r", &no_nul);
        if (!no_nul) {
            mochi_metric_inc(http->outcomes[OUT_INVALID]);
            return send_error(http, conn, route, 400, "NUL byte (%00) in a query argument");
        }
        if (beacon_from_query(k, u, r, &fields, why, sizeof(why)) != BEACON_OK) {
            mochi_metric_inc(http->outcomes[OUT_INVALID]);
            return send_error(http, conn, route, 400, why);
        }
        /* A HEAD (link checkers, prefetchers) is not a page view. */
        if (head)
            return send_shared(http, conn, route, 200, http->gif);
        struct header_scan headers;
        scan_headers(http, conn, &headers);
        return handle_beacon(http, conn, route, &headers, &fields, mochi_clock_now_us());
    }
    default:
        return send_error(http, conn, route, 404, "not found");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct collector_http *http = cls;
    enum route route = route_of(url);
    struct request *req = *req_cls;
    if (req == NULL)
        collector_guard_headers_done(conn); /* the first call: headers are in */

    if (req == NULL && route == ROUTE_EVENT && strcmp(method, "POST") == 0) {
        req = request_take(http);
        if (req == NULL)
            return MHD_NO;
        *req_cls = req; /* released by on_completed, whatever is answered */
        req->arrived_us = mochi_clock_now_us();
        req->len = 0;
        scan_headers(http, conn, &req->headers);
        if (!framing_is_clear(&req->headers)) {
            mochi_metric_inc(http->outcomes[OUT_INVALID]);
            return send_error(http, conn, route, 400,
                              "conflicting Content-Length or Transfer-Encoding headers");
        }
        const char *cl = req->headers.content_length;
        if (cl != NULL && strtoull(cl, NULL, 10) > BEACON_BODY_MAX) {
            mochi_metric_inc(http->outcomes[OUT_INVALID]);
            return send_error(http, conn, route, 413, "body over 4 KiB");
        }
        return MHD_YES;
    }
    if (req != NULL) {
        if (*upload_data_size > 0) {
            if (req->len + *upload_data_size > BEACON_BODY_MAX) {
                /* Past the limit, in a body without a Content-Length to
                 * refuse up front (chunked). libmicrohttpd 0.9.75 cannot
                 * queue a response while a body arrives (MHD_queue_response
                 * refuses), so the refusal is closing the connection now,
                 * rather than reading the rest of what may be gigabytes. */
                mochi_metric_inc(http->outcomes[OUT_INVALID]);
                count_request(http, route, 413);
                return MHD_NO;
            }
            memcpy(req->body + req->len, upload_data, *upload_data_size);
            req->len += *upload_data_size;
            *upload_data_size = 0;
            return MHD_YES;
        }
        char why[160] = "";
        struct beacon_fields fields;
        struct worker *worker = worker_for_thread(http);
        if (worker != NULL)
            arena_json_begin(worker->json);
        /* Copies the fields out and frees jansson's objects before it
         * returns, as the arena requires. */
        enum beacon_reject reject =
            beacon_parse_json(req->body, req->len, &fields, why, sizeof(why));
        if (worker != NULL)
            arena_json_end();
        if (reject != BEACON_OK) {
            mochi_metric_inc(http->outcomes[OUT_INVALID]);
            return send_error(http, conn, route, 400, why);
        }
        return handle_beacon(http, conn, route, &req->headers, &fields, req->arrived_us);
    }

    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (route == ROUTE_EVENT)
        return strcmp(method, "OPTIONS") == 0 ? send_shared(http, conn, route, 204, http->preflight)
                                              : send_error(http, conn, route, 405, "use POST");
    if (route != ROUTE_OTHER && !get)
        return send_error(http, conn, route, 405, "use GET");
    return handle_get(http, conn, route, strcmp(method, "HEAD") == 0);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    request_release(*req_cls);
    *req_cls = NULL;
    collector_guard_request_done(conn); /* the next request's headers are due */
}

static struct MHD_Response *static_response(const void *data, size_t len, const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return NULL;
    if (type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    return r;
}

static int make_responses(struct collector_http *http)
{
    static const char queue_full_body[] = "{\"error\":\"queue full, retry later\"}";
    http->accepted = static_response("", 0, NULL);
    http->preflight = static_response("", 0, NULL);
    http->gif = static_response(gif_1x1, sizeof(gif_1x1), "image/gif");
    http->tracker = static_response(collector_tracker_js, collector_tracker_js_len,
                                    "application/javascript; charset=utf-8");
    http->queue_full =
        static_response(queue_full_body, sizeof(queue_full_body) - 1, "application/json");
    if (!http->accepted || !http->preflight || !http->gif || !http->tracker || !http->queue_full)
        return MOCHI_ERR_NOMEM;
    MHD_add_response_header(http->preflight, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_METHODS,
                            "POST, OPTIONS");
    MHD_add_response_header(http->preflight, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_HEADERS,
                            "Content-Type");
    MHD_add_response_header(http->preflight, MHD_HTTP_HEADER_ACCESS_CONTROL_MAX_AGE, "86400");
    MHD_add_response_header(http->gif, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(http->tracker, MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=3600");
    MHD_add_response_header(http->queue_full, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return 0;
}

/* Registers the server's families in metrics and keeps their series in
 * http. Returns 0 or MOCHI_ERR_NOMEM. */
static int make_metrics(struct mochi_metrics *metrics, struct collector_http *http)
{
    static const char *const req_labels[] = {"route", "status"};
    static const char *const outcome_labels[] = {"outcome"};
    struct mochi_metric_family *req =
        mochi_metrics_counter(metrics, "mochi_collector_http_requests_total",
                              "HTTP requests by route and status", 2, req_labels);
    struct mochi_metric_family *out = mochi_metrics_counter(
        metrics, "mochi_collector_events_total",
        "beacons by outcome: published (queued for Kafka) or why not", 1, outcome_labels);
    if (req == NULL || out == NULL)
        return MOCHI_ERR_NOMEM;
    for (size_t r = 0; r < NROUTES; r++) {
        for (size_t s = 0; s < NSTATUSES; s++) {
            char status[8];
            snprintf(status, sizeof(status), "%u", statuses[s]);
            const char *values[] = {route_names[r], status};
            http->requests[r][s] = mochi_metrics_child(req, values);
            if (http->requests[r][s] == NULL)
                return MOCHI_ERR_NOMEM;
        }
    }
    for (size_t o = 0; o < NOUTCOMES; o++) {
        const char *values[] = {outcome_names[o]};
        http->outcomes[o] = mochi_metrics_child(out, values);
        if (http->outcomes[o] == NULL)
            return MOCHI_ERR_NOMEM;
    }
    return 0;
}

int collector_http_metrics_describe(struct mochi_metrics *metrics)
{
    /* Only the series pointers are filled in: nothing else of it is used. */
    struct collector_http *unused = calloc(1, sizeof(*unused));
    int rc = unused != NULL ? make_metrics(metrics, unused) : MOCHI_ERR_NOMEM;
    free(unused);
    /* collector_http_start makes the guard, and so registers its family. */
    return rc != 0 ? rc : collector_guard_metrics_describe(metrics);
}

int collector_http_start(const char *listen_addr, const struct collector_http_deps *deps,
                         struct collector_http **out, char *err, size_t errlen)
{
    struct collector_http *http = calloc(1, sizeof(*http));
    if (http == NULL)
        return MOCHI_ERR_NOMEM;
    http->deps = *deps;
    pthread_mutex_init(&http->workers_lock, NULL);
    atomic_init(&http->last_poke_ms, 0);
    int fd = -1;
    /* Process-wide; outside a parse scope the arena allocator is plain
     * malloc/free, so the other users of jansson are not affected. */
    arena_json_install();
    int rc = make_responses(http);
    if (rc == 0)
        rc = make_metrics(deps->metrics, http);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    rc = collector_guard_new(deps->trusted_proxies, deps->max_per_address, deps->header_timeout_ms,
                             deps->metrics, &http->guard);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the connection guard");
        goto fail;
    }
    rc = mochi_http_listen(listen_addr, 1024, &fd, &http->port, err, errlen);
    if (rc != 0)
        goto fail;
    http->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
        collector_guard_accept, http->guard, on_request, http, MHD_OPTION_EXTERNAL_LOGGER,
        mochi_http_mhd_log, "collector", MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE,
        deps->threads, MHD_OPTION_CONNECTION_LIMIT, deps->max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, deps->idle_timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, http, MHD_OPTION_NOTIFY_CONNECTION, collector_guard_notify, http->guard,
        MHD_OPTION_END);
    if (http->daemon == NULL) {
        snprintf(err, errlen, "cannot start the HTTP server on %s", listen_addr);
        close(fd);
        rc = MOCHI_ERR_INTERNAL;
        goto fail;
    }
    *out = http;
    return 0;
fail:
    collector_http_stop(http);
    return rc;
}

int collector_http_port(const struct collector_http *http)
{
    return http->port;
}

void collector_http_quiesce(struct collector_http *http)
{
    if (http == NULL || http->daemon == NULL)
        return;
    MHD_socket fd = MHD_quiesce_daemon(http->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void collector_http_stop(struct collector_http *http)
{
    if (http == NULL)
        return;
    if (http->daemon != NULL)
        MHD_stop_daemon(http->daemon);
    collector_guard_destroy(http->guard);
    struct MHD_Response *shared[] = {http->accepted, http->preflight, http->gif, http->tracker,
                                     http->queue_full};
    for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
        if (shared[i] != NULL)
            MHD_destroy_response(shared[i]);
    while (http->workers != NULL) {
        struct worker *next = http->workers->next;
        worker_destroy(http->workers);
        http->workers = next;
    }
    pthread_mutex_destroy(&http->workers_lock);
    free(http);
}
