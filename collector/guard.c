#include "collector/guard.h"
#include "common/error.h"
#include "common/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Open connections per address: an open-addressing table. Entries whose
 * count falls to 0 become tombstones (count 0, used) that inserts reuse;
 * the table is rebuilt when tombstones and live entries fill it. */
struct addr_count {
    unsigned char addr[16];
    int family; /* 0: never used */
    unsigned int count;
};

/* One connection, on the sweeper's list while its headers are due. */
struct watched {
    struct watched *prev, *next;
    int fd;
    int64_t due_ms; /* headers due by then; 0: none due; -1: due from now */
    int family;
    unsigned char addr[16];
    bool counted; /* holds a slot in the per-address table */
};

struct collector_guard {
    const struct mochi_cidr_list *trusted;
    unsigned int per_address;
    int header_timeout_ms;

    pthread_mutex_t lock;
    struct addr_count *table;
    size_t table_size;   /* a power of two */
    size_t table_used;   /* entries with family != 0 */
    struct watched head; /* circular list of open connections */

    pthread_t sweeper;
    bool sweeper_started;
    pthread_cond_t stop_cond;
    bool stopping;

    struct mochi_metric *refused_per_address;
    struct mochi_metric *refused_header_timeout;
    atomic_uint_fast64_t refusals; /* since the last log line */
    atomic_int_fast64_t last_log_ms;
};

#define LOG_EVERY_MS 10000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One warning per LOG_EVERY_MS at most, saying how many refusals it
 * covers: a flood must not become a flood of log lines. */
static void note_refusal(struct collector_guard *g, const char *reason)
{
    atomic_fetch_add(&g->refusals, 1);
    int64_t now = mono_ms();
    int64_t last = atomic_load(&g->last_log_ms);
    if (now - last < LOG_EVERY_MS || !atomic_compare_exchange_strong(&g->last_log_ms, &last, now))
        return;
    uint64_t n = atomic_exchange(&g->refusals, 0);
    mochi_log(MOCHI_LOG_WARN, "collector",
              "msg=\"connections refused\" reason=%s count=%llu window_s=%d", reason,
              (unsigned long long)n, LOG_EVERY_MS / 1000);
}

static uint64_t addr_hash(int family, const unsigned char *addr)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)family;
    for (size_t i = 0; i < (family == AF_INET ? 4u : 16u); i++)
        h = (h ^ addr[i]) * 1099511628211ull;
    return h;
}

static bool same_addr(const struct addr_count *e, int family, const unsigned char *addr)
{
    return e->family == family && memcmp(e->addr, addr, family == AF_INET ? 4 : 16) == 0;
}

/* The entry for the address, or NULL. Under the lock. */
static struct addr_count *find(struct collector_guard *g, int family, const unsigned char *addr)
{
    size_t mask = g->table_size - 1;
    for (size_t i = addr_hash(family, addr) & mask;; i = (i + 1) & mask) {
        struct addr_count *e = &g->table[i];
        if (e->family == 0)
            return NULL;
        if (same_addr(e, family, addr))
            return e;
    }
}

static int rebuild(struct collector_guard *g, size_t size)
{
    struct addr_count *old = g->table;
    size_t old_size = g->table_size;
    struct addr_count *table = calloc(size, sizeof(*table));
    if (table == NULL)
        return MOCHI_ERR_NOMEM;
    g->table = table;
    g->table_size = size;
    g->table_used = 0;
    for (size_t i = 0; i < old_size; i++) {
        if (old[i].family == 0 || old[i].count == 0)
            continue;
        size_t mask = size - 1;
        size_t j = addr_hash(old[i].family, old[i].addr) & mask;
        while (table[j].family != 0)
            j = (j + 1) & mask;
        table[j] = old[i];
        g->table_used++;
    }
    free(old);
    return 0;
}

/* Adds one connection for the address; false when the table cannot grow.
 * Under the lock. */
static bool count_up(struct collector_guard *g, int family, const unsigned char *addr)
{
    struct addr_count *e = find(g, family, addr);
    if (e != NULL) {
        e->count++;
        return true;
    }
    if ((g->table_used + 1) * 2 > g->table_size) {
        size_t live = 0;
        for (size_t i = 0; i < g->table_size; i++)
            live += g->table[i].family != 0 && g->table[i].count > 0;
        size_t size = g->table_size;
        while ((live + 1) * 4 > size)
            size *= 2;
        if (rebuild(g, size) != 0)
            return false;
    }
    size_t mask = g->table_size - 1;
    size_t i = addr_hash(family, addr) & mask;
    while (g->table[i].family != 0)
        i = (i + 1) & mask;
    memset(&g->table[i], 0, sizeof(g->table[i]));
    g->table[i].family = family;
    memcpy(g->table[i].addr, addr, family == AF_INET ? 4 : 16);
    g->table[i].count = 1;
    g->table_used++;
    return true;
}

static void count_down(struct collector_guard *g, int family, const unsigned char *addr)
{
    struct addr_count *e = find(g, family, addr);
    if (e != NULL && e->count > 0)
        e->count--;
}

static bool limited(const struct collector_guard *g, int family, const unsigned char *addr)
{
    return g->per_address > 0 && !mochi_cidr_list_contains(g->trusted, family, addr);
}

enum MHD_Result collector_guard_accept(void *cls, const struct sockaddr *sa, socklen_t addrlen)
{
    (void)addrlen;
    struct collector_guard *g = cls;
    int family;
    unsigned char addr[16];
    if (mochi_sockaddr_binary(sa, &family, addr) != 0 || !limited(g, family, addr))
        return MHD_YES;
    pthread_mutex_lock(&g->lock);
    const struct addr_count *e = find(g, family, addr);
    bool full = e != NULL && e->count >= g->per_address;
    pthread_mutex_unlock(&g->lock);
    if (!full)
        return MHD_YES;
    mochi_metric_inc(g->refused_per_address);
    note_refusal(g, "per_address");
    return MHD_NO;
}

void collector_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode code)
{
    struct collector_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct watched *w = calloc(1, sizeof(*w));
        if (w == NULL)
            return; /* unguarded, but served */
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *peer =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        w->fd = fd ? fd->connect_fd : -1;
        w->due_ms = g->header_timeout_ms > 0 ? mono_ms() + g->header_timeout_ms : 0;
        bool known =
            peer != NULL && mochi_sockaddr_binary(peer->client_addr, &w->family, w->addr) == 0;
        pthread_mutex_lock(&g->lock);
        if (known && limited(g, w->family, w->addr))
            w->counted = count_up(g, w->family, w->addr);
        w->next = g->head.next;
        w->prev = &g->head;
        g->head.next->prev = w;
        g->head.next = w;
        pthread_mutex_unlock(&g->lock);
        *socket_context = w;
        return;
    }
    /* MHD_CONNECTION_NOTIFY_CLOSED: before libmicrohttpd closes the
     * socket, so the sweeper never touches a reused descriptor. */
    struct watched *w = *socket_context;
    if (w == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    w->prev->next = w->next;
    w->next->prev = w->prev;
    if (w->counted)
        count_down(g, w->family, w->addr);
    pthread_mutex_unlock(&g->lock);
    free(w);
    *socket_context = NULL;
}

static struct watched *watched_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* 0: nothing due; -1: due a header timeout from now (the sweeper sets
 * the time, so that this hook, on the request path, reads no clock). */
static void set_due(struct MHD_Connection *conn, int64_t due)
{
    struct watched *w = watched_of(conn);
    if (w != NULL)
        __atomic_store_n(&w->due_ms, due, __ATOMIC_RELAXED);
}

void collector_guard_headers_done(struct MHD_Connection *conn)
{
    set_due(conn, 0);
}

void collector_guard_request_done(struct MHD_Connection *conn)
{
    set_due(conn, -1);
}

/* Shuts down connections whose headers are overdue. A due time of -1 asks
 * for a fresh deadline from now (set by a finished request). */
static void *sweeper_main(void *arg)
{
    struct collector_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec wake;
        clock_gettime(CLOCK_REALTIME, &wake);
        wake.tv_sec += 1;
        pthread_cond_timedwait(&g->stop_cond, &g->lock, &wake);
        int64_t now = mono_ms();
        for (struct watched *w = g->head.next; w != &g->head; w = w->next) {
            int64_t due = __atomic_load_n(&w->due_ms, __ATOMIC_RELAXED);
            if (due < 0) {
                __atomic_store_n(&w->due_ms, now + g->header_timeout_ms, __ATOMIC_RELAXED);
            } else if (due > 0 && now > due && w->fd >= 0) {
                shutdown(w->fd, SHUT_RDWR);
                __atomic_store_n(&w->due_ms, 0, __ATOMIC_RELAXED);
                mochi_metric_inc(g->refused_header_timeout);
                note_refusal(g, "header_timeout");
            }
        }
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* Registers the guard's family in metrics and keeps its series in g.
 * Returns 0 or MOCHI_ERR_NOMEM. */
static int register_metrics(struct mochi_metrics *metrics, struct collector_guard *g)
{
    static const char *const labels[] = {"reason"};
    struct mochi_metric_family *f = mochi_metrics_counter(
        metrics, "mochi_collector_connections_refused_total",
        "connections refused or cut: per_address (over --max-connections-per-address), "
        "header_timeout (headers not in within --header-timeout)",
        1, labels);
    static const char *const per_address_label[] = {"per_address"};
    static const char *const timeout_label[] = {"header_timeout"};
    if (f == NULL)
        return MOCHI_ERR_NOMEM;
    g->refused_per_address = mochi_metrics_child(f, per_address_label);
    g->refused_header_timeout = mochi_metrics_child(f, timeout_label);
    if (g->refused_per_address == NULL || g->refused_header_timeout == NULL)
        return MOCHI_ERR_NOMEM;
    return 0;
}

int collector_guard_metrics_describe(struct mochi_metrics *metrics)
{
    /* Only the series pointers are filled in: nothing else of it is used. */
    struct collector_guard *unused = calloc(1, sizeof(*unused));
    int rc = unused != NULL ? register_metrics(metrics, unused) : MOCHI_ERR_NOMEM;
    free(unused);
    return rc;
}

int collector_guard_new(const struct mochi_cidr_list *trusted, unsigned int per_address,
                        int header_timeout_ms, struct mochi_metrics *metrics,
                        struct collector_guard **out)
{
    struct collector_guard *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return MOCHI_ERR_NOMEM;
    g->trusted = trusted;
    g->per_address = per_address;
    g->header_timeout_ms = header_timeout_ms;
    g->head.next = g->head.prev = &g->head;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->stop_cond, NULL);
    atomic_init(&g->refusals, 0);
    atomic_init(&g->last_log_ms, 0);
    g->table_size = 1024;
    g->table = calloc(g->table_size, sizeof(*g->table));
    if (g->table == NULL || register_metrics(metrics, g) != 0) {
        collector_guard_destroy(g);
        return MOCHI_ERR_NOMEM;
    }
    if (header_timeout_ms > 0) {
        g->sweeper_started = pthread_create(&g->sweeper, NULL, sweeper_main, g) == 0;
        if (!g->sweeper_started) {
            collector_guard_destroy(g);
            return MOCHI_ERR_INTERNAL;
        }
    }
    *out = g;
    return 0;
}

void collector_guard_destroy(struct collector_guard *g)
{
    if (g == NULL)
        return;
    if (g->sweeper_started) {
        pthread_mutex_lock(&g->lock);
        g->stopping = true;
        pthread_cond_signal(&g->stop_cond);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->sweeper, NULL);
    }
    /* Connections still listed belong to a daemon that was not stopped:
     * leave them (their notify would free them). */
    free(g->table);
    pthread_cond_destroy(&g->stop_cond);
    pthread_mutex_destroy(&g->lock);
    free(g);
}
