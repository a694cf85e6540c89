#ifndef WEB_SERVER_H
#define WEB_SERVER_H

/* mochi-web's HTTP engine: libmicrohttpd with an internal thread pool (as
 * the collector), request bodies read up to a limit, the client address
 * (the peer, or X-Forwarded-For's right-most untrusted entry when the peer
 * is a trusted proxy), and answers with the headers every answer carries
 * (Content-Security-Policy, nosniff, Referrer-Policy). It knows no route:
 * each request goes to the handler the program gives it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"

/* Longest request body read (a login form); longer is 413. */
#define WEB_BODY_MAX (16 * 1024)

struct MHD_Connection;

/* One request, as the handler sees it. Everything is borrowed for the
 * handler's call. */
struct web_request {
    struct MHD_Connection *conn;
    const char *method; /* "GET", "HEAD" (answered as GET, without a body), "POST", ... */
    const char *path;   /* without the query */
    const char *body;   /* POST body (NUL-terminated), NULL for none */
    size_t body_len;
    int family; /* the client address: AF_INET (4 bytes) or AF_INET6 */
    unsigned char addr[16];
    int64_t started_us; /* monotonic */
};

/* What the handler answers. Strings are borrowed unless said otherwise;
 * body is freed by the server when body_owned. */
struct web_reply {
    unsigned int status;
    const char *content_type;
    const char *body;
    size_t len;
    bool body_owned;       /* malloc'd: the server frees it */
    char cookie[512];      /* a Set-Cookie value, or "" */
    char location[2100];   /* a Location, or "" */
    long retry_after_s;    /* Retry-After when > 0 */
    const char *cache;     /* Cache-Control; NULL: "no-store" */
    const char *etag;      /* ETag, or NULL */
    char disposition[300]; /* Content-Disposition, or "" */
    const char *allow;     /* Allow (405), or NULL */
    bool www_authenticate; /* WWW-Authenticate: Bearer (401 of the API) */
};

typedef void (*web_handler_fn)(void *arg, const struct web_request *req, struct web_reply *reply);

struct web_server_options {
    const char *listen;   /* HOST:PORT */
    unsigned int threads; /* worker threads */
    unsigned int max_connections;
    unsigned int idle_timeout_s;
    const struct mochi_cidr_list *trusted; /* borrowed; must outlive the server */
    web_handler_fn handler;                /* runs on a worker thread */
    void *arg;
};

struct web_server;

/* Listens and serves until web_server_stop. Returns 0 and *out (caller
 * owns it), or a negative code with the reason in err. */
int web_server_start(const struct web_server_options *options, struct web_server **out, char *err,
                     size_t errlen) __attribute__((warn_unused_result));
int web_server_port(const struct web_server *server);
/* Stops accepting connections; requests in progress go on. */
void web_server_quiesce(struct web_server *server);
/* Waits until every request begun has been answered in full (an idle
 * keep-alive connection holds none), at most timeout_ms. Returns false
 * when some were still going then. Call after web_server_quiesce. */
bool web_server_drain(struct web_server *server, long long timeout_ms);
/* Closes every connection (a request still in progress is cut) and frees
 * the server. NULL is a no-op. */
void web_server_stop(struct web_server *server);

/* A query argument of the request, or NULL when absent; *bad is set when
 * its decoded value holds a NUL byte. */
const char *web_request_arg(const struct web_request *req, const char *name, bool *bad);
/* A request header (the first of that name), or NULL. */
const char *web_request_header(const struct web_request *req, const char *name);

#endif
