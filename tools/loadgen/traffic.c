/* The traffic model: who visits which page of which site, from where. */
#include "tools/loadgen/traffic.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/domain.h"
#include "common/error.h"
#include "tools/loadgen/zone.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t splitmix64(uint64_t *x);
static size_t below(struct mochi_loadgen_rng *rng, size_t n);
static int parse_site(char *item, struct mochi_loadgen_site *site, char *err, size_t errlen);

/* Real browsers' User-Agents; none matches a bot pattern. */
static const char *const browser_agents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
};

/* Crawlers, a headless browser, HTTP libraries and no User-Agent at all. */
static const char *const bot_agents[] = {
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    /* One User-Agent over two lines (parentheses: no comma is missing). */
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/131.0.0.0 Safari/537.36"),
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "",
};

/* The most popular pages; ranks past these are /blog/post-N. Non-ASCII
 * paths are percent-encoded UTF-8, as browsers send them. */
static const char *const head_paths[] = {
    "/",
    "/pricing",
    "/blog",
    "/caf%C3%A9",
    "/docs/getting-started",
    "/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E3%82%AC%E3%82%A4%E3%83%89",
    "/about",
    "/blog/2026/na%C3%AFve-b%C3%A9zier",
};

/* Half carry a utm_source, in several cases and places, which the
 * collector lower-cases into the entry's source. */
static const char *const queries[] = {"?utm_source=newsletter&utm_medium=email",
                                      "?utm_source=Newsletter",
                                      "?utm_medium=social&utm_source=Mastodon",
                                      "?utm_source=HackerNews&utm_campaign=launch",
                                      "?ref=producthunt",
                                      "?q=caf%C3%A9&page=2",
                                      "?utm_medium=email",
                                      "?"};
static const char *const fragments[] = {"#pricing-table", "#section-2", "#%C3%A9t%C3%A9"};
static const char *const search_referrers[] = {
    "https://www.google.com/", "https://www.google.com/search?q=privacy+analytics",
    "https://duckduckgo.com/", "https://www.bing.com/search?q=mochi"};
static const char *const social_referrers[] = {
    "https://news.ycombinator.com/item?id=42", "https://t.co/xYz123",
    "https://www.reddit.com/r/selfhosted/comments/abc/", "https://mastodon.social/@mochi/1123"};

/* Prefixes of the site's domain that referrers of internal navigation
 * carry: the site itself, www. and another subdomain. */
static const char *const internal_hosts[] = {"", "www.", "blog."};

struct mochi_loadgen_traffic {
    const struct mochi_loadgen_site *sites; /* borrowed */
    size_t nsites;
    struct mochi_loadgen_traffic_params params;
    struct mochi_loadgen_rng rng;
    struct mochi_loadgen_zipf zipf;
    char **paths; /* owned, params.pages entries */
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void mochi_loadgen_rng_seed(struct mochi_loadgen_rng *rng, uint64_t seed)
{
    rng->state = seed;
}

uint64_t mochi_loadgen_rng_next(struct mochi_loadgen_rng *rng)
{
    return splitmix64(&rng->state);
}

double mochi_loadgen_rng_unit(struct mochi_loadgen_rng *rng)
{
    return (double)(mochi_loadgen_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* The modulo bias is below 2^-40 for the small n used here. */
static size_t below(struct mochi_loadgen_rng *rng, size_t n)
{
    return (size_t)(mochi_loadgen_rng_next(rng) % n);
}

int mochi_loadgen_zipf_init(struct mochi_loadgen_zipf *zipf, size_t n)
{
    zipf->n = n;
    zipf->cdf = malloc(n * sizeof(*zipf->cdf));
    if (zipf->cdf == NULL)
        return MOCHI_ERR_NOMEM;
    double sum = 0;
    for (size_t r = 0; r < n; r++)
        zipf->cdf[r] = sum += 1.0 / (double)(r + 1);
    for (size_t r = 0; r < n; r++)
        zipf->cdf[r] /= sum;
    return 0;
}

size_t mochi_loadgen_zipf_draw(const struct mochi_loadgen_zipf *zipf, struct mochi_loadgen_rng *rng)
{
    double u = mochi_loadgen_rng_unit(rng);
    size_t lo = 0, hi = zipf->n - 1; /* first rank whose cdf exceeds u */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (zipf->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void mochi_loadgen_zipf_free(struct mochi_loadgen_zipf *zipf)
{
    free(zipf->cdf);
    zipf->cdf = NULL;
}

static int parse_site(char *item, struct mochi_loadgen_site *site, char *err, size_t errlen)
{
    char domain[MOCHI_DOMAIN_MAX + 1], why[320];
    char *eq = strchr(item, '=');
    if (eq == NULL || eq == item) {
        snprintf(err, errlen, "expected tracking_key=domain[@time_zone] (got '%.80s')", item);
        return MOCHI_ERR_INVALID;
    }
    *eq = '\0';
    char *at = strchr(eq + 1, '@');
    if (at != NULL) {
        *at = '\0';
        if (mochi_loadgen_zone_check(at + 1, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "time zone of %.64s: %s", item, why);
            return MOCHI_ERR_INVALID;
        }
    }
    size_t klen = strlen(item);
    if (klen > 64 ||
        strspn(item, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != klen) {
        snprintf(err, errlen, "'%.80s' is not a tracking key (letters, digits, '-', '_')", item);
        return MOCHI_ERR_INVALID;
    }
    if (mochi_domain_normalize(eq + 1, domain, sizeof(domain), why, sizeof(why)) != 0) {
        snprintf(err, errlen, "domain of %.64s: %s", item, why);
        return MOCHI_ERR_INVALID;
    }
    site->key = strdup(item);
    site->domain = strdup(domain);
    site->timezone = strdup(at != NULL ? at + 1 : LOADGEN_ZONE_UTC);
    return site->key && site->domain && site->timezone ? 0 : MOCHI_ERR_NOMEM;
}

int mochi_loadgen_sites_parse(const char *text, struct mochi_loadgen_site **out, size_t *count,
                              char *err, size_t errlen)
{
    int rc = MOCHI_ERR_NOMEM;
    size_t n = 0;
    char *save = NULL;
    char *copy = strdup(text);
    struct mochi_loadgen_site *sites = calloc(strlen(text) / 2 + 1, sizeof(*sites));
    if (copy == NULL || sites == NULL)
        goto out;
    for (char *t = strtok_r(copy, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
        rc = parse_site(t, &sites[n++], err, errlen);
        if (rc != 0)
            goto out;
        for (size_t i = 0; i + 1 < n; i++) {
            if (strcmp(sites[i].key, sites[n - 1].key) == 0) {
                snprintf(err, errlen, "tracking key %.64s is listed twice", sites[i].key);
                rc = MOCHI_ERR_INVALID;
                goto out;
            }
        }
    }
    if (n == 0) {
        snprintf(err, errlen, "no site listed");
        rc = MOCHI_ERR_INVALID;
        goto out;
    }
    *out = sites;
    *count = n;
    sites = NULL;
    rc = 0;
out:
    if (rc == MOCHI_ERR_NOMEM)
        snprintf(err, errlen, "out of memory");
    mochi_loadgen_sites_free(sites, n);
    free(copy);
    return rc;
}

void mochi_loadgen_sites_free(struct mochi_loadgen_site *sites, size_t count)
{
    if (sites == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        free(sites[i].key);
        free(sites[i].domain);
        free(sites[i].timezone);
    }
    free(sites);
}

int mochi_loadgen_traffic_new(const struct mochi_loadgen_site *sites, size_t nsites,
                              const struct mochi_loadgen_traffic_params *params,
                              struct mochi_loadgen_traffic **out)
{
    struct mochi_loadgen_traffic *traffic = calloc(1, sizeof(*traffic));
    if (traffic == NULL)
        return MOCHI_ERR_NOMEM;
    traffic->sites = sites;
    traffic->nsites = nsites;
    traffic->params = *params;
    mochi_loadgen_rng_seed(&traffic->rng, params->seed);
    traffic->paths = calloc(params->pages, sizeof(*traffic->paths));
    if (traffic->paths == NULL || mochi_loadgen_zipf_init(&traffic->zipf, params->pages) != 0)
        goto fail;
    for (size_t r = 0; r < params->pages; r++) {
        char buf[64];
        if (r < COUNT(head_paths))
            snprintf(buf, sizeof(buf), "%s", head_paths[r]);
        else
            snprintf(buf, sizeof(buf), "/blog/post-%zu", r - COUNT(head_paths) + 1);
        traffic->paths[r] = strdup(buf);
        if (traffic->paths[r] == NULL)
            goto fail;
    }
    *out = traffic;
    return 0;
fail:
    mochi_loadgen_traffic_destroy(traffic);
    return MOCHI_ERR_NOMEM;
}

void mochi_loadgen_traffic_destroy(struct mochi_loadgen_traffic *traffic)
{
    if (traffic == NULL)
        return;
    for (size_t r = 0; traffic->paths && r < traffic->params.pages; r++)
        free(traffic->paths[r]);
    free(traffic->paths);
    mochi_loadgen_zipf_free(&traffic->zipf);
    free(traffic);
}

size_t mochi_loadgen_traffic_sites(const struct mochi_loadgen_traffic *traffic)
{
    return traffic->nsites;
}

size_t mochi_loadgen_traffic_visitors(const struct mochi_loadgen_traffic *traffic)
{
    return traffic->params.visitors;
}

const char *mochi_loadgen_traffic_path(const struct mochi_loadgen_traffic *traffic, size_t rank)
{
    return traffic->paths[rank];
}

/* Visitors live in 198.18.0.0/15 (benchmarking range, RFC 2544) and, one in
 * eight, in 2001:db8::/32 (documentation, RFC 3849); bots in
 * 198.19.255.0/24, which no visitor index reaches. */
void mochi_loadgen_visitor(uint64_t seed, uint32_t index, char ip[LOADGEN_IP_MAX],
                           const char **user_agent)
{
    unsigned char addr[16] = {0x20, 0x01, 0x0d, 0xb8, 0x4d, 0x6f, 0x63, 0x68};
    uint64_t x = seed ^ ((uint64_t)index * 0xd1b54a32d192ed03ULL);
    *user_agent = browser_agents[splitmix64(&x) % COUNT(browser_agents)];
    if (index % 8 == 7) {
        addr[12] = (unsigned char)(index >> 24);
        addr[13] = (unsigned char)(index >> 16);
        addr[14] = (unsigned char)(index >> 8);
        addr[15] = (unsigned char)index; /* index >= 7: never the ::0 address */
        inet_ntop(AF_INET6, addr, ip, LOADGEN_IP_MAX);
        return;
    }
    uint32_t v4 = 0xc6120000u + 1 + index; /* 198.18.0.1 + index */
    snprintf(ip, LOADGEN_IP_MAX, "%u.%u.%u.%u", v4 >> 24, (v4 >> 16) & 255, (v4 >> 8) & 255,
             v4 & 255);
}

void mochi_loadgen_traffic_next(struct mochi_loadgen_traffic *traffic,
                                struct mochi_loadgen_beacon *beacon)
{
    struct mochi_loadgen_rng *rng = &traffic->rng;
    const struct mochi_loadgen_traffic_params *p = &traffic->params;
    beacon->site = below(rng, traffic->nsites);
    const char *domain = traffic->sites[beacon->site].domain;
    if (mochi_loadgen_rng_unit(rng) < p->bot_share) {
        beacon->visitor = LOADGEN_BOT;
        beacon->user_agent = bot_agents[below(rng, COUNT(bot_agents))];
        snprintf(beacon->ip, sizeof(beacon->ip), "198.19.255.%zu", 1 + below(rng, 254));
    } else {
        beacon->visitor = (uint32_t)below(rng, p->visitors);
        mochi_loadgen_visitor(p->seed, beacon->visitor, beacon->ip, &beacon->user_agent);
    }

    size_t rank = mochi_loadgen_zipf_draw(&traffic->zipf, rng);
    const char *www = mochi_loadgen_rng_unit(rng) < 0.3 ? "www." : "";
    const char *scheme = mochi_loadgen_rng_unit(rng) < 0.9 ? "https" : "http";
    const char *path = traffic->paths[rank];
    if (rank == 0 && mochi_loadgen_rng_unit(rng) < 0.5)
        path = ""; /* "https://example.com": the path is "/" all the same */
    const char *query =
        mochi_loadgen_rng_unit(rng) < 0.25 ? queries[below(rng, COUNT(queries))] : "";
    const char *fragment =
        mochi_loadgen_rng_unit(rng) < 0.05 ? fragments[below(rng, COUNT(fragments))] : "";
    snprintf(beacon->url, sizeof(beacon->url), "%s://%s%s%s%s%s", scheme, www, domain, path, query,
             fragment);

    /* No referrer: a direct visit, an entry with no source. */
    beacon->referrer[0] = '\0';
    if (mochi_loadgen_rng_unit(rng) < p->referrer_share) {
        double kind = mochi_loadgen_rng_unit(rng);
        if (kind < 0.3)
            snprintf(beacon->referrer, sizeof(beacon->referrer), "%s",
                     search_referrers[below(rng, COUNT(search_referrers))]);
        else if (kind < 0.6)
            snprintf(beacon->referrer, sizeof(beacon->referrer), "%s",
                     social_referrers[below(rng, COUNT(social_referrers))]);
        else if (kind < 0.65) /* a look-alike host, not a subdomain: an entry */
            snprintf(beacon->referrer, sizeof(beacon->referrer), "https://not%s/", domain);
        else /* internal navigation from the site, www. or a subdomain: not an entry */
            snprintf(beacon->referrer, sizeof(beacon->referrer), "https://%s%s%s",
                     internal_hosts[below(rng, COUNT(internal_hosts))], domain,
                     traffic->paths[mochi_loadgen_zipf_draw(&traffic->zipf, rng)]);
    }
    beacon->gif = mochi_loadgen_rng_unit(rng) < p->gif_share;
    beacon->fire_twice = mochi_loadgen_rng_unit(rng) < p->double_share;
}
