#include "common/http_metrics.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/netaddr.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct mochi_metrics_server {
    struct mochi_metrics *reg; /* borrowed */
    int (*healthy)(void *arg);
    void *arg; /* borrowed */
    struct MHD_Daemon *daemon;
    int port;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
                             const char *content_type, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode, bool allow);
static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
                                  const char *text, bool allow);
static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls);

/* Binds and listens ourselves instead of letting MHD do it, so that a
 * failure comes back with errno and can name the address. */
int mochi_http_listen(const char *listen_addr, int backlog, int *fd_out, int *port_out, char *err,
                      size_t errlen)
{
    char host[256];
    int port = 0;
    if (mochi_split_host_port(listen_addr, host, sizeof(host), &port) != 0) {
        snprintf(err, errlen, "listen address '%s' is not HOST:PORT", listen_addr);
        return MOCHI_ERR_INVALID;
    }
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", listen_addr,
                 gai_strerror(rc));
        return MOCHI_ERR_INVALID;
    }
    int fd = -1;
    int saved = EADDRNOTAVAIL;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        /* A restarted daemon must rebind while old connections sit in
         * TIME_WAIT; on Linux this still refuses a port another process
         * listens on. */
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6) /* "[::]:9101" means IPv6, as written */
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        char ebuf[128];
        snprintf(err, errlen, "cannot listen on %s: %s", listen_addr,
                 strerror_r(saved, ebuf, sizeof(ebuf)));
        return MOCHI_ERR_IO;
    }
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        snprintf(err, errlen, "cannot listen on %s: getsockname failed", listen_addr);
        close(fd);
        return MOCHI_ERR_IO;
    }
    if (ss.ss_family == AF_INET6)
        *port_out = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    else
        *port_out = ntohs(((const struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
}

/* MHD's own messages, as one logfmt line each instead of raw stderr. */
void mochi_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    /* libmicrohttpd logs once per refused or failed connection: under a
     * flood, one line a second at most, saying how many were skipped. */
    static atomic_llong last_s;
    static atomic_llong skipped;
    const char *component = cls ? cls : "http";
    if (!mochi_log_enabled(MOCHI_LOG_WARN))
        return;
    long long now_s = (long long)(mochi_clock_mono_ms() / 1000);
    long long was = atomic_load(&last_s);
    if (was == now_s || !atomic_compare_exchange_strong(&last_s, &was, now_s)) {
        atomic_fetch_add(&skipped, 1);
        return;
    }
    char text[512];
    char quoted[600];
    vsnprintf(text, sizeof(text), fmt, ap);
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    long long before = atomic_exchange(&skipped, 0);
    if (before > 0)
        mochi_log(MOCHI_LOG_WARN, component, "msg=%s suppressed=%lld",
                  mochi_log_quote(quoted, sizeof(quoted), text), before);
    else
        mochi_log(MOCHI_LOG_WARN, component, "msg=%s",
                  mochi_log_quote(quoted, sizeof(quoted), text));
}

/* Queues a response. mode says who owns body: MHD_RESPMEM_MUST_FREE hands
 * a malloc'd body to MHD, MHD_RESPMEM_PERSISTENT keeps a static one. */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
                             const char *content_type, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode, bool allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    if (resp == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO; /* MHD closes the connection */
    }
    enum MHD_Result ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (ok == MHD_YES && allow)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* text is a static string; MHD only reads it (PERSISTENT). */
static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
                                  const char *text, bool allow)
{
    return reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
                 MHD_RESPMEM_PERSISTENT, allow);
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    struct mochi_metrics_server *server = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    /* Every answer is decided from the request line alone, so it is queued
     * on the first call; a request body, if any, is never read and MHD
     * closes such a connection after the answer. */
    bool is_metrics = strcmp(url, "/metrics") == 0;
    bool is_health = strcmp(url, "/healthz") == 0;
    if (!is_metrics && !is_health)
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n", false);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", true);
    if (is_health) {
        if (server->healthy == NULL || server->healthy(server->arg) != 0)
            return reply_text(conn, MHD_HTTP_OK, "ok\n", false);
        return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable\n", false);
    }
    char *body = NULL;
    size_t len = 0;
    if (mochi_metrics_render(server->reg, &body, &len) != 0) {
        mochi_log(MOCHI_LOG_ERROR, "metrics", "msg=\"cannot render metrics\" error=out_of_memory");
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", false);
    }
    return reply(conn, MHD_HTTP_OK, MOCHI_METRICS_CONTENT_TYPE, body, len, MHD_RESPMEM_MUST_FREE,
                 false);
}

int mochi_metrics_server_start(struct mochi_metrics *reg, const char *listen_addr,
                               int (*healthy)(void *arg), void *arg,
                               struct mochi_metrics_server **out, char *err, size_t errlen)
{
    *out = NULL;
    struct mochi_metrics_server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        snprintf(err, errlen, "out of memory starting metrics server on %s", listen_addr);
        return MOCHI_ERR_NOMEM;
    }
    server->reg = reg;
    server->healthy = healthy;
    server->arg = arg;
    int fd = -1;
    int rc = mochi_http_listen(listen_addr, 64, &fd, &server->port, err, errlen);
    if (rc != 0) {
        free(server);
        return rc;
    }
    /* On success MHD owns fd and closes it in MHD_stop_daemon. On failure
     * 0.9.75 closes it on some paths and not others, so fd is left alone:
     * one leaked descriptor on a failed start beats closing a number that
     * another thread may have been given meanwhile. */
    server->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle_request, server,
        MHD_OPTION_EXTERNAL_LOGGER, mochi_http_mhd_log, "metrics", MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)10, MHD_OPTION_END);
    if (server->daemon == NULL) {
        snprintf(err, errlen, "cannot start metrics server on %s", listen_addr);
        free(server);
        return MOCHI_ERR_INTERNAL;
    }
    char quoted[300];
    mochi_log(MOCHI_LOG_INFO, "metrics", "msg=\"metrics server listening\" listen=%s port=%d",
              mochi_log_quote(quoted, sizeof(quoted), listen_addr), server->port);
    *out = server;
    return 0;
}

int mochi_metrics_server_port(const struct mochi_metrics_server *server)
{
    return server->port;
}

void mochi_metrics_server_stop(struct mochi_metrics_server *server)
{
    if (server == NULL)
        return;
    MHD_stop_daemon(server->daemon);
    free(server);
}
