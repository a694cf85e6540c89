#ifndef LOADGEN_CLIENT_H
#define LOADGEN_CLIENT_H

/* The HTTP driver: libcurl's multi interface over a fixed number of
 * keep-alive connections, paced to a rate, feeding every answer to the
 * oracle. */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/loadgen/oracle.h"
#include "tools/loadgen/traffic.h"

struct mochi_loadgen_client_params {
    const char *url;           /* collector base URL, e.g. http://127.0.0.1:8080 */
    int connections;           /* concurrent requests, one connection each */
    long long rate;            /* requests per second; 0 = as fast as the connections allow */
    long long duration_ms;     /* stop launching after this long; 0 = no limit */
    long long count;           /* stop after this many requests; 0 = no limit */
    long long minute_guard_ms; /* launch nothing this close to the end of a UTC minute */
    long long timeout_ms;      /* per request */
    long long drain_ms;        /* how long to wait for requests in flight at the end */
    bool forwarded_for;        /* send X-Forwarded-For: the visitor's address */
};

/* What the run measured beyond the oracle's counts. */
struct mochi_loadgen_run {
    int64_t elapsed_us;   /* from the first launch to the last answer */
    uint32_t *latency_us; /* owned: total time of each answered request */
    size_t nlatency, latency_cap;
    long long answered;    /* requests that got any HTTP answer */
    bool unreachable;      /* stopped early: no request ever got an answer */
    char first_error[256]; /* libcurl's message for the first failed request */
};

/* Sends beacons drawn from traffic until the duration, the count or *stop
 * ends the run, then waits up to drain_ms for the requests in flight (a
 * stop value of 2 or more, a second signal, skips the wait; requests still
 * in flight then count as errors). Every request goes to oracle. A visitor
 * never has two requests to one site in flight at once (but for the two
 * copies of a double-fired beacon): a beacon drawn for a busy visitor waits
 * while others go, so the oracle knows the order of a visitor's page views.
 * curl_global_init
 * must have been called. Returns 0 with *run filled (free with
 * mochi_loadgen_run_free), or MOCHI_ERR_NOMEM / MOCHI_ERR_INTERNAL (libcurl
 * refused) with the reason in err. */
int mochi_loadgen_client_run(const struct mochi_loadgen_client_params *params,
                             const struct mochi_loadgen_site *sites,
                             struct mochi_loadgen_traffic *traffic,
                             struct mochi_loadgen_oracle *oracle, const volatile sig_atomic_t *stop,
                             struct mochi_loadgen_run *run, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Frees what run owns; the struct itself is the caller's. */
void mochi_loadgen_run_free(struct mochi_loadgen_run *run);

#endif
