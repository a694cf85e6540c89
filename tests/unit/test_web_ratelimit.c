/* Login failures per address: five in fifteen minutes and the address
 * waits until the oldest is fifteen minutes old; a success clears it;
 * IPv6 counts by /64; the table stays bounded. Times are given, not read. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/error.h"
#include "web/ratelimit.h"

#define WINDOW (15 * 60 * 1000LL)

static void addr(const char *text, int *family, unsigned char out[16])
{
    memset(out, 0, 16);
    *family = strchr(text, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(*family, text, out), 1);
}

static void five_then_wait(void **state)
{
    (void)state;
    struct web_ratelimit *rl = NULL;
    assert_int_equal(web_ratelimit_new(64, 5, WINDOW, &rl), 0);
    int fam, fam2;
    unsigned char a[16], b[16];
    addr("203.0.113.7", &fam, a);
    addr("203.0.113.8", &fam2, b);
    long long retry = -1;
    long long t0 = 1000000;
    for (int i = 0; i < 5; i++) {
        assert_true(web_ratelimit_allowed(rl, fam, a, t0 + i * 1000, &retry));
        web_ratelimit_failure(rl, fam, a, t0 + i * 1000);
    }
    /* the sixth try, a minute after the first failure */
    assert_false(web_ratelimit_allowed(rl, fam, a, t0 + 60000, &retry));
    assert_int_equal(retry, WINDOW - 60000);
    assert_true(web_ratelimit_allowed(rl, fam2, b, t0 + 60000, &retry)); /* another address */
    /* the first failure ages out: one more try */
    assert_false(web_ratelimit_allowed(rl, fam, a, t0 + WINDOW - 1, &retry));
    assert_int_equal(retry, 1);
    assert_true(web_ratelimit_allowed(rl, fam, a, t0 + WINDOW, &retry));
    web_ratelimit_failure(rl, fam, a, t0 + WINDOW);
    assert_false(web_ratelimit_allowed(rl, fam, a, t0 + WINDOW + 1, &retry));
    assert_int_equal(retry, 1000 - 1); /* the second failure, at t0 + 1 s, goes next */
    web_ratelimit_destroy(rl);
}

static void success_clears(void **state)
{
    (void)state;
    struct web_ratelimit *rl = NULL;
    assert_int_equal(web_ratelimit_new(64, 5, WINDOW, &rl), 0);
    int fam;
    unsigned char a[16];
    addr("198.51.100.1", &fam, a);
    long long retry = 0;
    for (int i = 0; i < 4; i++)
        web_ratelimit_failure(rl, fam, a, 1000 + i);
    web_ratelimit_success(rl, fam, a);
    for (int i = 0; i < 4; i++)
        web_ratelimit_failure(rl, fam, a, 2000 + i);
    assert_true(web_ratelimit_allowed(rl, fam, a, 3000, &retry));
    web_ratelimit_failure(rl, fam, a, 3000);
    assert_false(web_ratelimit_allowed(rl, fam, a, 3001, &retry));
    web_ratelimit_destroy(rl);
}

static void ipv6_by_prefix(void **state)
{
    (void)state;
    struct web_ratelimit *rl = NULL;
    assert_int_equal(web_ratelimit_new(64, 5, WINDOW, &rl), 0);
    int fam;
    unsigned char a[16];
    long long retry = 0;
    char text[64];
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof(text), "2001:db8:1:2::%x", i + 1); /* one /64, five hosts */
        addr(text, &fam, a);
        web_ratelimit_failure(rl, fam, a, 1000);
    }
    addr("2001:db8:1:2:ffff::9", &fam, a);
    assert_false(web_ratelimit_allowed(rl, fam, a, 2000, &retry));
    addr("2001:db8:1:3::1", &fam, a); /* the next /64 */
    assert_true(web_ratelimit_allowed(rl, fam, a, 2000, &retry));
    web_ratelimit_destroy(rl);
}

static void bounded(void **state)
{
    (void)state;
    struct web_ratelimit *rl = NULL;
    assert_int_equal(web_ratelimit_new(0, 5, WINDOW, &rl), MOCHI_ERR_INVALID);
    assert_int_equal(web_ratelimit_new(4, 0, WINDOW, &rl), MOCHI_ERR_INVALID);
    assert_int_equal(web_ratelimit_new(4, WEB_RATELIMIT_MAX_FAILURES + 1, WINDOW, &rl),
                     MOCHI_ERR_INVALID);
    /* one slot: a second address takes it from the first */
    assert_int_equal(web_ratelimit_new(1, 2, WINDOW, &rl), 0);
    int fam;
    unsigned char a[16], b[16];
    addr("192.0.2.1", &fam, a);
    addr("192.0.2.2", &fam, b);
    long long retry = 0;
    web_ratelimit_failure(rl, fam, a, 1000);
    web_ratelimit_failure(rl, fam, a, 1001);
    assert_false(web_ratelimit_allowed(rl, fam, a, 1002, &retry));
    web_ratelimit_failure(rl, fam, b, 1003);
    assert_true(web_ratelimit_allowed(rl, fam, a, 1004, &retry));
    web_ratelimit_destroy(rl);
    web_ratelimit_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(five_then_wait),
        cmocka_unit_test(success_clears),
        cmocka_unit_test(ipv6_by_prefix),
        cmocka_unit_test(bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
