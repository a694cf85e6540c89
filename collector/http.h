#ifndef COLLECTOR_HTTP_H
#define COLLECTOR_HTTP_H

/* The collector's HTTP front: routes, status codes, CORS, and the path of
 * a beacon from request to Kafka (DESIGN.md "Collector HTTP API"). */

#include <stddef.h>

#include "common/codec.h"
#include "common/metrics.h"
#include "common/netaddr.h"
#include "collector/producer.h"
#include "collector/sites.h"

struct collector_http;

/* What the HTTP layer uses; all borrowed and must outlive it. */
struct collector_http_deps {
    struct collector_sites *sites;
    struct collector_producer *producer;
    const struct mochi_schema_set *schemas;
    struct mochi_metrics *metrics;
    const struct mochi_cidr_list *trusted_proxies;
    unsigned int threads;         /* worker threads */
    unsigned int max_connections; /* concurrent connections */
    unsigned int max_per_address; /* of them from one untrusted address (0: no limit) */
    unsigned int idle_timeout_s;  /* an idle connection is closed after it */
    int header_timeout_ms;        /* a request's headers are due within it (0: no limit) */
};

/* Registers in metrics the families the server (and its connection guard)
 * serves, without starting it (for --print-metrics). Returns 0 or
 * MOCHI_ERR_NOMEM. */
int collector_http_metrics_describe(struct mochi_metrics *metrics)
    __attribute__((warn_unused_result));

/* Listens on listen_addr and serves until collector_http_stop. Returns 0
 * or a negative code with the reason in err; the caller owns *out. */
int collector_http_start(const char *listen_addr, const struct collector_http_deps *deps,
                         struct collector_http **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The bound port (useful with port 0). */
int collector_http_port(const struct collector_http *http);

/* Stops accepting connections; requests in progress finish. */
void collector_http_quiesce(struct collector_http *http);

/* Stops serving, closes every connection and frees everything. NULL is a
 * no-op. */
void collector_http_stop(struct collector_http *http);

#endif
