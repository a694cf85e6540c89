#ifndef COLLECTOR_GUARD_H
#define COLLECTOR_GUARD_H

/* Keeps slow and greedy clients from taking every connection slot
 * (libmicrohttpd has a global limit and an idle timeout, nothing more):
 *
 * - a per-address limit on open connections, checked when a connection is
 *   accepted; trusted proxies are exempt, since behind a proxy every
 *   connection comes from it;
 * - a deadline for a request's headers, counted from the connection's
 *   start or from the end of its previous request, so that a client
 *   trickling a header line every few seconds (which resets an idle
 *   timeout) is cut off all the same. A sweeper thread shuts the socket
 *   down; libmicrohttpd then sees the peer gone and closes it.
 *
 * Refusals are counted in mochi_collector_connections_refused_total{reason}
 * and logged at most once per 10 s with how many there were. Thread-safe:
 * libmicrohttpd calls the hooks from its worker threads. */

#include <microhttpd.h>
#include <stdbool.h>

#include "common/metrics.h"
#include "common/netaddr.h"

struct collector_guard;

/* Registers in metrics the family a guard serves, without making one (for
 * --print-metrics). Returns 0 or MOCHI_ERR_NOMEM. */
int collector_guard_metrics_describe(struct mochi_metrics *metrics)
    __attribute__((warn_unused_result));

/* per_address: most connections one address may hold (0: no limit);
 * header_timeout_ms: longest wait for a request's headers (0: none).
 * trusted and metrics are borrowed and must outlive the guard. Returns 0
 * and *out (owned by the caller: collector_guard_destroy) or
 * MOCHI_ERR_NOMEM / MOCHI_ERR_INTERNAL. */
int collector_guard_new(const struct mochi_cidr_list *trusted, unsigned int per_address,
                        int header_timeout_ms, struct mochi_metrics *metrics,
                        struct collector_guard **out) __attribute__((warn_unused_result));

/* Stops the sweeper and frees the guard; call after the HTTP daemon has
 * stopped. NULL is a no-op. */
void collector_guard_destroy(struct collector_guard *guard);

/* MHD_OPTION_ACCEPT_POLICY_CALLBACK; cls is the guard. */
enum MHD_Result collector_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);

/* MHD_OPTION_NOTIFY_CONNECTION; cls is the guard. */
void collector_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode code);

/* A request's headers have arrived on conn: its deadline is off. */
void collector_guard_headers_done(struct MHD_Connection *conn);

/* conn's request is answered: the next request's headers are due within
 * the deadline (an idle keep-alive connection is closed then too). */
void collector_guard_request_done(struct MHD_Connection *conn);

#endif
