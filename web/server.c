#include "web/server.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/http_metrics.h"
#include "common/log.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Every answer's headers: no inline script or style anywhere, no framing,
 * no sniffing, no full URL (share slugs) to other sites. */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src "
                          "'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri "
                          "'none'; form-action 'self'";

#define MAX_XFF 16

struct web_server {
    struct web_server_options options;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int inflight; /* requests begun and not yet answered in full */
};

/* A request between libmicrohttpd's calls: its body as it arrives. */
struct pending {
    int64_t started_us;
    char *body;
    size_t len;
    bool too_big;
};

struct xff_scan {
    const char *values[MAX_XFF];
    size_t n; /* may exceed MAX_XFF: then none is believed */
};

static enum MHD_Result scan_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct xff_scan *s = cls;
    if (value != NULL && strcasecmp(key, "X-Forwarded-For") == 0) {
        if (s->n < MAX_XFF)
            s->values[s->n] = value;
        s->n++;
    }
    return MHD_YES;
}

const char *web_request_arg(const struct web_request *req, const char *name, bool *bad)
{
    const char *value = NULL;
    size_t size = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &size) != MHD_YES)
        return NULL;
    if (value == NULL)
        return ""; /* "?compare" without '=' */
    if (strlen(value) != size)
        *bad = true;
    return value;
}

const char *web_request_header(const struct web_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static bool add_header(struct MHD_Response *r, const char *name, const char *value)
{
    return MHD_add_response_header(r, name, value) == MHD_YES;
}

/* Queues reply on conn with the headers every answer gets. */
static enum MHD_Result send_reply(struct MHD_Connection *conn, struct web_reply *reply)
{
    const char *body = reply->body ? reply->body : "";
    struct MHD_Response *r = MHD_create_response_from_buffer(
        reply->len, (void *)body,
        reply->body_owned && reply->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (reply->body_owned)
            free((void *)reply->body);
        return MHD_NO;
    }
    bool ok =
        add_header(r, "Content-Security-Policy", csp) &&
        add_header(r, "X-Content-Type-Options", "nosniff") &&
        add_header(r, "Referrer-Policy", "same-origin") &&
        add_header(r, "X-Frame-Options", "DENY") &&
        add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, reply->cache ? reply->cache : "no-store");
    if (ok && reply->content_type)
        ok = add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, reply->content_type);
    if (ok && reply->cookie[0])
        ok = add_header(r, MHD_HTTP_HEADER_SET_COOKIE, reply->cookie);
    if (ok && reply->location[0])
        ok = add_header(r, MHD_HTTP_HEADER_LOCATION, reply->location);
    if (ok && reply->etag)
        ok = add_header(r, MHD_HTTP_HEADER_ETAG, reply->etag);
    if (ok && reply->disposition[0])
        ok = add_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, reply->disposition);
    if (ok && reply->allow)
        ok = add_header(r, MHD_HTTP_HEADER_ALLOW, reply->allow);
    if (ok && reply->www_authenticate)
        ok = add_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mochi\"");
    if (ok && reply->retry_after_s > 0) {
        char secs[24];
        snprintf(secs, sizeof(secs), "%ld", reply->retry_after_s);
        ok = add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    enum MHD_Result ret = ok ? MHD_queue_response(conn, reply->status, r) : MHD_NO;
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct web_server *server = cls;
    struct pending *p = *req_cls;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (p == NULL) {
        p = calloc(1, sizeof(*p));
        if (p == NULL)
            return MHD_NO;
        p->started_us = mochi_clock_mono_us();
        *req_cls = p; /* freed by on_completed */
        atomic_fetch_add(&server->inflight, 1);
        if (post) {
            /* A body announced too long is refused before it is read. */
            const char *cl =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl != NULL && strtoull(cl, NULL, 10) > WEB_BODY_MAX) {
                static const char too_long[] = "{\"error\": \"request body over 16 KiB\"}";
                struct web_reply reply = {.status = 413,
                                          .content_type = "application/json; charset=utf-8",
                                          .body = too_long,
                                          .len = sizeof(too_long) - 1};
                return send_reply(conn, &reply);
            }
            return MHD_YES; /* the body comes in the next calls */
        }
    }
    if (*upload_data_size > 0) {
        if (!post)
            return MHD_NO; /* a body where none belongs */
        if (p->len + *upload_data_size > WEB_BODY_MAX)
            return MHD_NO; /* chunked and too long: libmicrohttpd cannot answer mid-body */
        char *grown = realloc(p->body, p->len + *upload_data_size + 1);
        if (grown == NULL)
            return MHD_NO;
        p->body = grown;
        memcpy(p->body + p->len, upload_data, *upload_data_size);
        p->len += *upload_data_size;
        p->body[p->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct web_request req = {
        .conn = conn,
        .method = method,
        .path = url,
        .body = post ? (p->body ? p->body : "") : NULL,
        .body_len = p->len,
        .started_us = p->started_us,
    };
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct xff_scan xff = {.n = 0};
    if (server->options.trusted->count > 0)
        MHD_get_connection_values(conn, MHD_HEADER_KIND, scan_xff, &xff);
    if (info == NULL ||
        mochi_forwarded_client(info->client_addr, xff.values, xff.n <= MAX_XFF ? xff.n : 0,
                               server->options.trusted, &req.family, req.addr) != 0)
        return MHD_NO;
    struct web_reply reply;
    memset(&reply, 0, sizeof(reply));
    reply.status = 500;
    server->options.handler(server->options.arg, &req, &reply);
    return send_reply(conn, &reply);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct web_server *server = cls;
    (void)conn;
    (void)toe;
    struct pending *p = *req_cls;
    if (p != NULL) {
        free(p->body);
        free(p);
        atomic_fetch_sub(&server->inflight, 1);
    }
    *req_cls = NULL;
}

int web_server_start(const struct web_server_options *options, struct web_server **out, char *err,
                     size_t errlen)
{
    struct web_server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        snprintf(err, errlen, "out of memory");
        return MOCHI_ERR_NOMEM;
    }
    server->options = *options;
    int fd = -1;
    int rc = mochi_http_listen(options->listen, 256, &fd, &server->port, err, errlen);
    if (rc != 0) {
        free(server);
        return rc;
    }
    server->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, server, MHD_OPTION_EXTERNAL_LOGGER, mochi_http_mhd_log, "web",
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, options->threads,
        MHD_OPTION_CONNECTION_LIMIT, options->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        options->idle_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server, MHD_OPTION_END);
    if (server->daemon == NULL) {
        snprintf(err, errlen, "cannot start the HTTP server on %s", options->listen);
        close(fd);
        free(server);
        return MOCHI_ERR_INTERNAL;
    }
    *out = server;
    return 0;
}

int web_server_port(const struct web_server *server)
{
    return server->port;
}

void web_server_quiesce(struct web_server *server)
{
    if (server == NULL || server->daemon == NULL)
        return;
    MHD_socket fd = MHD_quiesce_daemon(server->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

bool web_server_drain(struct web_server *server, long long timeout_ms)
{
    long long deadline = mochi_clock_mono_ms() + timeout_ms;
    while (atomic_load(&server->inflight) > 0) {
        if (mochi_clock_mono_ms() >= deadline)
            return false;
        mochi_clock_sleep_ms(10);
    }
    return true;
}

void web_server_stop(struct web_server *server)
{
    if (server == NULL)
        return;
    if (server->daemon != NULL)
        MHD_stop_daemon(server->daemon);
    free(server);
}
