#include "web/ratelimit.h"
#include "common/error.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Slots looked at for one address: linear probing from its hash. */
#define PROBES 8

struct slot {
    bool used;
    unsigned char key[9]; /* family byte, then 4 bytes (IPv4) or the /64 (IPv6) */
    int count;            /* failures kept in times[] (the most recent ones) */
    long long times[WEB_RATELIMIT_MAX_FAILURES]; /* ring, oldest at head */
    int head;
};

struct web_ratelimit {
    pthread_mutex_t lock;
    struct slot *slots;
    size_t nslots;
    int max;
    long long window_ms;
    /* SipHash key: an attacker cannot aim addresses at one slot chain */
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
};

int web_ratelimit_new(size_t slots, int max_failures, long long window_ms,
                      struct web_ratelimit **out)
{
    if (slots == 0 || max_failures < 1 || max_failures > WEB_RATELIMIT_MAX_FAILURES)
        return MOCHI_ERR_INVALID;
    struct web_ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return MOCHI_ERR_NOMEM;
    rl->slots = calloc(slots, sizeof(struct slot));
    if (rl->slots == NULL) {
        free(rl);
        return MOCHI_ERR_NOMEM;
    }
    rl->nslots = slots;
    rl->max = max_failures;
    rl->window_ms = window_ms;
    randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
    pthread_mutex_init(&rl->lock, NULL);
    *out = rl;
    return 0;
}

void web_ratelimit_destroy(struct web_ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->slots);
    free(rl);
}

static void make_key(int family, const unsigned char *addr, unsigned char key[9])
{
    memset(key, 0, 9);
    key[0] = family == AF_INET6 ? 6 : 4;
    memcpy(key + 1, addr, family == AF_INET6 ? 8 : 4);
}

/* Drops the failures older than the window. */
static void expire(const struct web_ratelimit *rl, struct slot *s, long long now_ms)
{
    while (s->count > 0 && s->times[s->head] <= now_ms - rl->window_ms) {
        s->head = (s->head + 1) % rl->max;
        s->count--;
    }
    if (s->count == 0)
        s->used = false;
}

static long long last_failure(const struct web_ratelimit *rl, const struct slot *s)
{
    return s->times[(s->head + s->count - 1) % rl->max];
}

/* The address's slot, or NULL; with create, a slot for it (a free one, or
 * the stalest of its probe sequence, emptied). Called with the lock. */
static struct slot *find(struct web_ratelimit *rl, const unsigned char key[9], long long now_ms,
                         bool create)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, 9, rl->hash_key);
    uint64_t start;
    memcpy(&start, h, sizeof(start));
    struct slot *spare = NULL;
    for (size_t i = 0; i < PROBES && i < rl->nslots; i++) {
        struct slot *s = &rl->slots[(start + i) % rl->nslots];
        if (s->used)
            expire(rl, s, now_ms);
        if (s->used && memcmp(s->key, key, 9) == 0)
            return s;
        if (!s->used) {
            if (spare == NULL || spare->used)
                spare = s;
        } else if (spare == NULL ||
                   (spare->used && last_failure(rl, s) < last_failure(rl, spare))) {
            spare = s;
        }
    }
    if (!create || spare == NULL)
        return NULL;
    memset(spare, 0, sizeof(*spare));
    spare->used = true;
    memcpy(spare->key, key, 9);
    return spare;
}

bool web_ratelimit_allowed(struct web_ratelimit *rl, int family, const unsigned char *addr,
                           long long now_ms, long long *retry_after_ms)
{
    unsigned char key[9];
    make_key(family, addr, key);
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, key, now_ms, false);
    bool ok = s == NULL || s->count < rl->max;
    if (!ok)
        *retry_after_ms = s->times[s->head] + rl->window_ms - now_ms;
    pthread_mutex_unlock(&rl->lock);
    return ok;
}

void web_ratelimit_failure(struct web_ratelimit *rl, int family, const unsigned char *addr,
                           long long now_ms)
{
    unsigned char key[9];
    make_key(family, addr, key);
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, key, now_ms, true);
    if (s != NULL) {
        if (s->count == rl->max) { /* keep the most recent max */
            s->head = (s->head + 1) % rl->max;
            s->count--;
        }
        s->times[(s->head + s->count) % rl->max] = now_ms;
        s->count++;
    }
    pthread_mutex_unlock(&rl->lock);
}

void web_ratelimit_success(struct web_ratelimit *rl, int family, const unsigned char *addr)
{
    unsigned char key[9];
    make_key(family, addr, key);
    pthread_mutex_lock(&rl->lock);
    /* now 0: nothing expires, only the lookup */
    struct slot *s = find(rl, key, 0, false);
    if (s != NULL)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&rl->lock);
}
