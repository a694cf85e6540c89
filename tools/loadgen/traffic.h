#ifndef LOADGEN_TRAFFIC_H
#define LOADGEN_TRAFFIC_H

/* The traffic model: sites, visitors, pages and beacons, all drawn from a
 * seeded RNG so that one seed gives one sequence. Pure code, no I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOADGEN_URL_MAX 512
#define LOADGEN_IP_MAX 46           /* INET6_ADDRSTRLEN */
#define LOADGEN_VISITORS_MAX 100000 /* distinct 198.18.0.0/15 addresses, with room for bots */
#define LOADGEN_PAGES_MAX 10000
#define LOADGEN_BOT UINT32_MAX /* visitor index of a bot */

struct mochi_loadgen_site {
    char *key;      /* tracking key, owned */
    char *domain;   /* lowercase domain, owned */
    char *timezone; /* IANA time zone name, owned; NULL means UTC */
};

/* SplitMix64: small, fast, statistically sound for this, and the same on
 * every platform. */
struct mochi_loadgen_rng {
    uint64_t state;
};

void mochi_loadgen_rng_seed(struct mochi_loadgen_rng *rng, uint64_t seed);
uint64_t mochi_loadgen_rng_next(struct mochi_loadgen_rng *rng);
/* Uniform in [0, 1). */
double mochi_loadgen_rng_unit(struct mochi_loadgen_rng *rng);

/* Zipf(s = 1) over ranks 0..n-1: rank r has weight 1 / (r + 1). */
struct mochi_loadgen_zipf {
    double *cdf; /* owned, n entries */
    size_t n;
};

/* Returns 0 or MOCHI_ERR_NOMEM; free with mochi_loadgen_zipf_free. */
int mochi_loadgen_zipf_init(struct mochi_loadgen_zipf *zipf, size_t n)
    __attribute__((warn_unused_result));
size_t mochi_loadgen_zipf_draw(const struct mochi_loadgen_zipf *zipf,
                               struct mochi_loadgen_rng *rng);
void mochi_loadgen_zipf_free(struct mochi_loadgen_zipf *zipf);

/* Parses "key=domain,key2=domain2@Europe/Berlin": a site's time zone
 * follows its domain after '@' (default UTC) and must pass
 * mochi_loadgen_zone_check. Returns 0 with a new array in *out
 * (caller frees it with mochi_loadgen_sites_free), or MOCHI_ERR_INVALID with
 * the reason in err, or MOCHI_ERR_NOMEM. */
int mochi_loadgen_sites_parse(const char *text, struct mochi_loadgen_site **out, size_t *count,
                              char *err, size_t errlen) __attribute__((warn_unused_result));
void mochi_loadgen_sites_free(struct mochi_loadgen_site *sites, size_t count);

struct mochi_loadgen_traffic_params {
    size_t visitors;       /* 1..LOADGEN_VISITORS_MAX */
    size_t pages;          /* 1..LOADGEN_PAGES_MAX */
    double referrer_share; /* shares are 0..1 */
    double double_share;
    double bot_share;
    double gif_share;
    uint64_t seed;
};

/* One beacon to send. */
struct mochi_loadgen_beacon {
    size_t site;             /* index into the sites array */
    uint32_t visitor;        /* visitor index, or LOADGEN_BOT */
    bool gif;                /* GET /p.gif instead of POST /api/event */
    bool fire_twice;         /* send it twice, as a double-firing tracker does */
    const char *user_agent;  /* static text; "" means no User-Agent header */
    char ip[LOADGEN_IP_MAX]; /* for X-Forwarded-For */
    char url[LOADGEN_URL_MAX];
    char referrer[LOADGEN_URL_MAX]; /* "" when none */
};

struct mochi_loadgen_traffic;

/* sites must outlive the model. Returns 0 and a new model in *out (freed
 * with mochi_loadgen_traffic_destroy), or MOCHI_ERR_NOMEM. */
int mochi_loadgen_traffic_new(const struct mochi_loadgen_site *sites, size_t nsites,
                              const struct mochi_loadgen_traffic_params *params,
                              struct mochi_loadgen_traffic **out)
    __attribute__((warn_unused_result));
void mochi_loadgen_traffic_destroy(struct mochi_loadgen_traffic *traffic);

/* Draws the next beacon. */
void mochi_loadgen_traffic_next(struct mochi_loadgen_traffic *traffic,
                                struct mochi_loadgen_beacon *beacon);

/* The number of sites and of visitors the model draws from. */
size_t mochi_loadgen_traffic_sites(const struct mochi_loadgen_traffic *traffic);
size_t mochi_loadgen_traffic_visitors(const struct mochi_loadgen_traffic *traffic);

/* The path of page rank r (0 is "/", the most popular), as sent:
 * percent-encoded, without query or fragment. Returns static or model-owned
 * text. */
const char *mochi_loadgen_traffic_path(const struct mochi_loadgen_traffic *traffic, size_t rank);

/* A visitor's stable address and browser User-Agent, from its index alone
 * (the User-Agent also from the seed). Addresses are distinct per index. */
void mochi_loadgen_visitor(uint64_t seed, uint32_t index, char ip[LOADGEN_IP_MAX],
                           const char **user_agent);

#endif
