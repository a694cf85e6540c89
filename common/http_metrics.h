#ifndef MOCHI_HTTP_METRICS_H
#define MOCHI_HTTP_METRICS_H

#include <stdarg.h>
#include <stddef.h>

#include "common/metrics.h"

/* A small HTTP server (libmicrohttpd, one internal thread) for daemons that
 * have no HTTP server of their own (consumer, rollup):
 *   GET /metrics  200, the registry in Prometheus text format 0.0.4
 *   GET /healthz  200 "ok\n" when healthy(arg) returns non-zero or healthy
 *                 is NULL, else 503 "unavailable\n"
 * HEAD is answered like GET without a body; other paths get 404, other
 * methods on these paths 405. The collector serves /metrics on its own
 * server with mochi_metrics_render and MOCHI_METRICS_CONTENT_TYPE. */

struct mochi_metrics_server;

/* Starts serving reg on listen_addr, "HOST:PORT" or "[V6]:PORT", where HOST
 * may be a name (localhost) resolved with getaddrinfo; the first address
 * that binds is used, and an IPv6 socket takes IPv6 only. Port 0 picks a
 * free port (see mochi_metrics_server_port). healthy runs on the server's
 * thread, so it must be thread-safe. reg and arg are borrowed: they must
 * outlive the server.
 *
 * Returns 0 and sets *out (caller owns it: mochi_metrics_server_stop), or
 * MOCHI_ERR_INVALID (malformed or unresolvable address), MOCHI_ERR_IO
 * (cannot bind or listen, e.g. port in use), MOCHI_ERR_INTERNAL or
 * MOCHI_ERR_NOMEM, with a message naming the address in err. */
int mochi_metrics_server_start(struct mochi_metrics *reg, const char *listen_addr,
                               int (*healthy)(void *arg), void *arg,
                               struct mochi_metrics_server **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The port the server listens on (the chosen one when started with 0). */
int mochi_metrics_server_port(const struct mochi_metrics_server *server);

/* Stops the server, waiting for a request in progress, and frees it. NULL
 * is a no-op. */
void mochi_metrics_server_stop(struct mochi_metrics_server *server);

/* Binds and listens on HOST:PORT (numeric or a name; "[v6]:port"; port 0
 * picks one) itself rather than letting libmicrohttpd do it, so that a
 * failure can name the address and errno. Returns 0 with the socket in
 * *fd (caller owns it, or hands it to MHD_OPTION_LISTEN_SOCKET) and the
 * bound port in *port, MOCHI_ERR_INVALID for a bad address, MOCHI_ERR_IO
 * when it cannot bind. */
int mochi_http_listen(const char *listen_addr, int backlog, int *fd, int *port, char *err,
                      size_t errlen) __attribute__((warn_unused_result));

/* libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER callback: one logfmt warning
 * line per message, at most one a second (the next says how many were
 * suppressed); cls is the component name (a static string) or NULL. */
void mochi_http_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
