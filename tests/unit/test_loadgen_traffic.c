/* loadgen's traffic model: determinism under a seed, Zipf skew, visitors'
 * addresses, shares, and the --sites list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "tools/loadgen/traffic.h"

static struct mochi_loadgen_site sites[] = {{"k1k1k1k1k1k1k1k1", "example.com"},
                                            {"k2k2k2k2k2k2k2k2", "shop.example.org"}};

static struct mochi_loadgen_traffic_params params(uint64_t seed)
{
    struct mochi_loadgen_traffic_params p = {.visitors = 1000,
                                             .pages = 50,
                                             .referrer_share = 0.3,
                                             .double_share = 0.05,
                                             .bot_share = 0.02,
                                             .gif_share = 0.05,
                                             .seed = seed};
    return p;
}

static bool same_beacon(const struct mochi_loadgen_beacon *a, const struct mochi_loadgen_beacon *b)
{
    return a->site == b->site && a->visitor == b->visitor && a->gif == b->gif &&
           a->fire_twice == b->fire_twice && strcmp(a->user_agent, b->user_agent) == 0 &&
           strcmp(a->ip, b->ip) == 0 && strcmp(a->url, b->url) == 0 &&
           strcmp(a->referrer, b->referrer) == 0;
}

static void deterministic_under_seed(void **state)
{
    (void)state;
    struct mochi_loadgen_traffic_params p42 = params(42), p43 = params(43);
    struct mochi_loadgen_traffic *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(mochi_loadgen_traffic_new(sites, 2, &p42, &a), 0);
    assert_int_equal(mochi_loadgen_traffic_new(sites, 2, &p42, &b), 0);
    assert_int_equal(mochi_loadgen_traffic_new(sites, 2, &p43, &c), 0);
    int differ = 0;
    for (int i = 0; i < 5000; i++) {
        struct mochi_loadgen_beacon x, y, z;
        mochi_loadgen_traffic_next(a, &x);
        mochi_loadgen_traffic_next(b, &y);
        mochi_loadgen_traffic_next(c, &z);
        assert_true(same_beacon(&x, &y));
        differ += !same_beacon(&x, &z);
    }
    assert_true(differ > 4000);
    mochi_loadgen_traffic_destroy(a);
    mochi_loadgen_traffic_destroy(b);
    mochi_loadgen_traffic_destroy(c);
    mochi_loadgen_traffic_destroy(NULL);
}

/* Weights 1/1 .. 1/50: H(50) = 4.4992, so P(rank 0) = 0.2223 and
 * P(rank 49) = 0.0044; over 100000 draws about 22230 against 444. */
static void zipf_skew(void **state)
{
    (void)state;
    struct mochi_loadgen_zipf zipf;
    struct mochi_loadgen_rng rng;
    static int hits[50];
    mochi_loadgen_rng_seed(&rng, 7);
    assert_int_equal(mochi_loadgen_zipf_init(&zipf, 50), 0);
    for (int i = 0; i < 100000; i++) {
        size_t r = mochi_loadgen_zipf_draw(&zipf, &rng);
        assert_true(r < 50);
        hits[r]++;
    }
    assert_true(hits[0] > hits[49]);
    assert_in_range(hits[0], 21000, 23500);
    assert_in_range(hits[49], 300, 600);
    assert_true(hits[0] > hits[1] && hits[1] > hits[9]);
    mochi_loadgen_zipf_free(&zipf);

    /* Through the model: page 1 is "/", page 50 is /blog/post-42 (8 named
     * pages come first). */
    struct mochi_loadgen_traffic_params p = params(9);
    struct mochi_loadgen_traffic *t = NULL;
    assert_int_equal(mochi_loadgen_traffic_new(sites, 1, &p, &t), 0);
    assert_string_equal(mochi_loadgen_traffic_path(t, 0), "/");
    assert_string_equal(mochi_loadgen_traffic_path(t, 8), "/blog/post-1");
    assert_string_equal(mochi_loadgen_traffic_path(t, 49), "/blog/post-42");
    int root = 0, last = 0;
    for (int i = 0; i < 50000; i++) {
        struct mochi_loadgen_beacon b;
        mochi_loadgen_traffic_next(t, &b);
        const char *path = strstr(b.url, "example.com") + strlen("example.com");
        root += path[0] == '\0' || path[0] == '?' || path[0] == '#' ||
                (path[0] == '/' && (path[1] == '\0' || path[1] == '?' || path[1] == '#'));
        last += strncmp(path, "/blog/post-42", 13) == 0 &&
                (path[13] == '\0' || path[13] == '?' || path[13] == '#');
    }
    assert_true(root > 5 * last);
    mochi_loadgen_traffic_destroy(t);
}

static void visitors(void **state)
{
    (void)state;
    char ip[LOADGEN_IP_MAX];
    const char *ua = NULL, *ua2 = NULL;
    mochi_loadgen_visitor(1, 0, ip, &ua);
    assert_string_equal(ip, "198.18.0.1");
    mochi_loadgen_visitor(1, 254, ip, &ua);
    assert_string_equal(ip, "198.18.0.255");
    mochi_loadgen_visitor(1, 1000, ip, &ua); /* 198.18.0.1 + 1000 = 198.18.3.233 */
    assert_string_equal(ip, "198.18.3.233");
    mochi_loadgen_visitor(1, 7, ip, &ua);
    assert_string_equal(ip, "2001:db8:4d6f:6368::7");
    mochi_loadgen_visitor(1, 255, ip, &ua);
    assert_string_equal(ip, "2001:db8:4d6f:6368::ff");
    /* The highest IPv4 index (99999 is 7 mod 8): 198.18.0.0 + 99999 =
     * 198.18.0.0 + 1 * 65536 + 134 * 256 + 159. */
    mochi_loadgen_visitor(1, 99998, ip, &ua);
    assert_string_equal(ip, "198.19.134.159");
    mochi_loadgen_visitor(1, 4242, ip, &ua);
    mochi_loadgen_visitor(1, 4242, ip, &ua2);
    assert_ptr_equal(ua, ua2);
    assert_non_null(strstr(ua, "Mozilla/5.0"));
}

static void shares(void **state)
{
    (void)state;
    struct mochi_loadgen_traffic_params p = params(3);
    struct mochi_loadgen_traffic *t = NULL;
    p.bot_share = 1;
    p.double_share = 1;
    p.gif_share = 0;
    p.referrer_share = 0;
    assert_int_equal(mochi_loadgen_traffic_new(sites, 2, &p, &t), 0);
    for (int i = 0; i < 200; i++) {
        struct mochi_loadgen_beacon b;
        mochi_loadgen_traffic_next(t, &b);
        assert_int_equal(b.visitor, LOADGEN_BOT);
        assert_true(b.fire_twice);
        assert_false(b.gif);
        assert_string_equal(b.referrer, "");
        assert_int_equal(strncmp(b.ip, "198.19.255.", 11), 0);
        assert_null(strstr(b.user_agent, "Safari/605")); /* not a browser from the list */
    }
    mochi_loadgen_traffic_destroy(t);

    p.bot_share = 0;
    p.double_share = 0;
    p.gif_share = 1;
    p.referrer_share = 1;
    assert_int_equal(mochi_loadgen_traffic_new(sites, 2, &p, &t), 0);
    for (int i = 0; i < 200; i++) {
        struct mochi_loadgen_beacon b;
        mochi_loadgen_traffic_next(t, &b);
        assert_true(b.visitor < 1000);
        assert_false(b.fire_twice);
        assert_true(b.gif);
        assert_int_equal(strncmp(b.referrer, "https://", 8), 0);
        /* The page is on the site's domain or its www. subdomain. */
        const char *domain = sites[b.site].domain;
        const char *host = strstr(b.url, "://") + 3;
        if (strncmp(host, "www.", 4) == 0)
            host += 4;
        assert_int_equal(strncmp(host, domain, strlen(domain)), 0);
        assert_true(strchr("/?#", host[strlen(domain)]) != NULL);
    }
    mochi_loadgen_traffic_destroy(t);
}

static void sites_list(void **state)
{
    (void)state;
    struct mochi_loadgen_site *list = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(
        mochi_loadgen_sites_parse("key_1=Example.COM@Asia/Kolkata, key-2=shop.example.org", &list,
                                  &n, err, sizeof(err)),
        0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].key, "key_1");
    assert_string_equal(list[0].domain, "example.com");
    assert_string_equal(list[0].timezone, "Asia/Kolkata");
    assert_string_equal(list[1].key, "key-2");
    assert_string_equal(list[1].domain, "shop.example.org");
    assert_string_equal(list[1].timezone, "UTC");
    mochi_loadgen_sites_free(list, n);

    const char *bad[] = {"",
                         " , ",
                         "key",
                         "=example.com",
                         "k!=example.com",
                         "k=https://example.com",
                         "k=a.com,k=b.com",
                         "k=a.com@",
                         "k=a.com@Mars/Olympus_Mons",
                         "k=a.com@../../etc/passwd",
                         "k=a.com@Europe/Berlin@UTC"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        list = NULL;
        assert_int_equal(mochi_loadgen_sites_parse(bad[i], &list, &n, err, sizeof(err)),
                         MOCHI_ERR_INVALID);
        assert_null(list);
        assert_true(strlen(err) > 0);
    }
}

/* The traffic carries every kind of origin the oracle tells apart:
 * utm_source in several cases, external referrers with and without www.,
 * a look-alike host, internal navigation from the site, www. and another
 * subdomain, and direct visits. */
static void origins_variety(void **state)
{
    (void)state;
    struct mochi_loadgen_traffic_params p = params(5);
    struct mochi_loadgen_traffic *t = NULL;
    p.bot_share = 0;
    p.referrer_share = 0.5;
    enum {
        UTM_LOWER,
        UTM_CAPITAL,
        UTM_CAMEL,
        EXT_WWW,
        EXT_BARE,
        LOOKALIKE,
        OWN,
        OWN_WWW,
        OWN_SUB,
        DIRECT,
        KINDS
    };
    int seen[KINDS] = {0};
    assert_int_equal(mochi_loadgen_traffic_new(sites, 1, &p, &t), 0);
    for (int i = 0; i < 20000; i++) {
        struct mochi_loadgen_beacon b;
        mochi_loadgen_traffic_next(t, &b);
        seen[UTM_LOWER] += strstr(b.url, "utm_source=newsletter") != NULL;
        seen[UTM_CAPITAL] += strstr(b.url, "utm_source=Newsletter") != NULL;
        seen[UTM_CAMEL] += strstr(b.url, "utm_source=HackerNews") != NULL;
        seen[EXT_WWW] += strncmp(b.referrer, "https://www.google.com/", 23) == 0;
        seen[EXT_BARE] += strncmp(b.referrer, "https://duckduckgo.com/", 23) == 0;
        seen[LOOKALIKE] += strcmp(b.referrer, "https://notexample.com/") == 0;
        seen[OWN] += strncmp(b.referrer, "https://example.com/", 20) == 0;
        seen[OWN_WWW] += strncmp(b.referrer, "https://www.example.com/", 24) == 0;
        seen[OWN_SUB] += strncmp(b.referrer, "https://blog.example.com/", 25) == 0;
        seen[DIRECT] += b.referrer[0] == '\0';
    }
    for (int k = 0; k < KINDS; k++)
        if (seen[k] < 20)
            fail_msg("kind %d seen %d times in 20000 beacons", k, seen[k]);
    /* About half have no referrer. */
    assert_in_range(seen[DIRECT], 9000, 11000);
    mochi_loadgen_traffic_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deterministic_under_seed),
        cmocka_unit_test(zipf_skew),
        cmocka_unit_test(visitors),
        cmocka_unit_test(shares),
        cmocka_unit_test(sites_list),
        cmocka_unit_test(origins_variety),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
