#ifndef WEB_RATELIMIT_H
#define WEB_RATELIMIT_H

/* Login failures per client address, in memory: after max failures within
 * a sliding window an address is refused until the oldest of them is
 * window old; a success clears the address. IPv6 addresses count by their
 * /64 (one host usually holds a whole /64). A fixed number of slots: when
 * every slot an address could take is held by a live address, the one
 * whose last failure is oldest is forgotten, so memory stays bounded
 * whatever an attacker sends. Thread-safe (one mutex). */

#include <stdbool.h>
#include <stddef.h>

#define WEB_RATELIMIT_MAX_FAILURES 16

struct web_ratelimit;

/* Returns 0 and a new limiter in *out (caller owns it), MOCHI_ERR_INVALID
 * when max_failures is not 1..WEB_RATELIMIT_MAX_FAILURES or slots is 0,
 * or MOCHI_ERR_NOMEM. */
int web_ratelimit_new(size_t slots, int max_failures, long long window_ms,
                      struct web_ratelimit **out) __attribute__((warn_unused_result));
void web_ratelimit_destroy(struct web_ratelimit *rl);

/* True when the address (family AF_INET with 4 bytes or AF_INET6 with 16
 * of addr) may try to log in at now_ms; otherwise *retry_after_ms says
 * when it may again. */
bool web_ratelimit_allowed(struct web_ratelimit *rl, int family, const unsigned char *addr,
                           long long now_ms, long long *retry_after_ms);
/* Records a failed login at now_ms. */
void web_ratelimit_failure(struct web_ratelimit *rl, int family, const unsigned char *addr,
                           long long now_ms);
/* Forgets the address's failures (a successful login). */
void web_ratelimit_success(struct web_ratelimit *rl, int family, const unsigned char *addr);

#endif
