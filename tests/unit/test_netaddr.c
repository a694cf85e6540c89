/* CIDR lists, address parsing and formatting, host:port, site domains. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/domain.h"
#include "common/error.h"
#include "common/netaddr.h"

static bool in_list(const struct mochi_cidr_list *list, const char *addr)
{
    int family;
    unsigned char bin[16];
    assert_int_equal(mochi_addr_parse(addr, &family, bin), 0);
    return mochi_cidr_list_contains(list, family, bin);
}

static void cidr_lists(void **state)
{
    (void)state;
    struct mochi_cidr_list list;
    char err[128];
    assert_int_equal(mochi_cidr_list_parse("10.0.0.0/8, 192.168.1.7,fd00::/8 , 172.16.0.0/12",
                                           &list, err, sizeof(err)),
                     0);
    assert_int_equal(list.count, 4);
    assert_true(in_list(&list, "10.255.1.2"));
    assert_false(in_list(&list, "11.0.0.1"));
    assert_true(in_list(&list, "192.168.1.7"));
    assert_false(in_list(&list, "192.168.1.8"));
    assert_true(in_list(&list, "172.31.255.255"));
    assert_false(in_list(&list, "172.32.0.0"));
    assert_true(in_list(&list, "fd12::1"));
    assert_false(in_list(&list, "fe80::1"));
    assert_true(in_list(&list, "::ffff:10.1.2.3")); /* IPv4-mapped is IPv4 */
    mochi_cidr_list_free(&list);

    assert_int_equal(mochi_cidr_list_parse("", &list, err, sizeof(err)), 0);
    assert_int_equal(list.count, 0);
    assert_false(in_list(&list, "127.0.0.1"));
    mochi_cidr_list_free(&list);

    const char *bad[] = {"10.0.0.0/33", "10.0.0", "::1/129", "1.2.3.4/x", "example.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mochi_cidr_list_parse(bad[i], &list, err, sizeof(err)), MOCHI_ERR_INVALID);
        assert_non_null(strstr(err, "is not an IP address or CIDR"));
    }
}

/* Space-separated entries once overflowed the array, sized by commas
 * (ASan shows it; the count and the members show it too). */
static void cidr_lists_separated_by_spaces(void **state)
{
    (void)state;
    struct mochi_cidr_list list;
    char err[128];
    assert_int_equal(
        mochi_cidr_list_parse("10.0.0.1 10.0.1.1 10.0.2.1  10.0.3.0/24", &list, err, sizeof(err)),
        0);
    assert_int_equal(list.count, 4);
    assert_true(in_list(&list, "10.0.0.1"));
    assert_true(in_list(&list, "10.0.2.1"));
    assert_true(in_list(&list, "10.0.3.77"));
    assert_false(in_list(&list, "10.0.4.1"));
    mochi_cidr_list_free(&list);
}

static void host_port(void **state)
{
    (void)state;
    char host[64];
    int port;
    assert_int_equal(mochi_split_host_port("127.0.0.1:8080", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(mochi_split_host_port("[::1]:9101", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9101);
    assert_int_equal(mochi_split_host_port("::1:80", host, sizeof(host), &port), MOCHI_ERR_INVALID);
    assert_int_equal(mochi_split_host_port(":80", host, sizeof(host), &port), MOCHI_ERR_INVALID);
    assert_int_equal(mochi_split_host_port("h:", host, sizeof(host), &port), MOCHI_ERR_INVALID);
}

static void address_format(void **state)
{
    (void)state;
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    char buf[64];
    assert_int_equal(inet_pton(AF_INET6, "::ffff:203.0.113.9", &sin6.sin6_addr), 1);
    assert_int_equal(mochi_addr_format((struct sockaddr *)&sin6, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "203.0.113.9");
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr), 1);
    assert_int_equal(mochi_addr_format((struct sockaddr *)&sin6, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2001:db8::7");
}

static void domains(void **state)
{
    (void)state;
    char out[256], err[128];
    assert_int_equal(mochi_domain_normalize("Blog.Example.COM", out, sizeof(out), err, sizeof(err)),
                     0);
    assert_string_equal(out, "blog.example.com");
    assert_int_equal(mochi_domain_normalize("localhost", out, sizeof(out), err, sizeof(err)), 0);
    const char *bad[] = {"https://example.com",
                         "example.com/",
                         "example.com:8080",
                         "",
                         "exa mple.com",
                         "-x.com",
                         "a..b",
                         "example.com."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mochi_domain_normalize(bad[i], out, sizeof(out), err, sizeof(err)),
                         MOCHI_ERR_INVALID);

    assert_true(mochi_host_matches_domain("example.com", 11, "example.com"));
    assert_true(mochi_host_matches_domain("WWW.Example.com", 15, "example.com"));
    assert_false(mochi_host_matches_domain("badexample.com", 14, "example.com"));
    assert_false(mochi_host_matches_domain("example.com.evil.org", 20, "example.com"));
    assert_false(mochi_host_matches_domain("com", 3, "example.com"));
}

/* Found by tests/fuzz/fuzz_settings: the bad entry was quoted raw, so a
 * newline or half a UTF-8 sequence (the 64-byte cut) reached the error. */
static void cidr_list_error_is_clean_text(void **state)
{
    (void)state;
    struct mochi_cidr_list list;
    char err[160];
    assert_int_equal(mochi_cidr_list_parse("10.0.0.1,ev\nil\xff", &list, err, sizeof(err)),
                     MOCHI_ERR_INVALID);
    assert_string_equal(err, "'ev?il?' is not an IP address or CIDR");
    /* 63 ASCII bytes and a two-byte character cut after its first byte */
    char text[80];
    memset(text, 'a', 63);
    memcpy(text + 63, "\xc3\xa9", 3);
    assert_int_equal(mochi_cidr_list_parse(text, &list, err, sizeof(err)), MOCHI_ERR_INVALID);
    for (const char *c = err; *c; c++)
        assert_true(*c >= 0x20 && *c < 0x7f);
    assert_non_null(strstr(err, "aaa?' is not"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cidr_lists),
        cmocka_unit_test(cidr_lists_separated_by_spaces),
        cmocka_unit_test(cidr_list_error_is_clean_text),
        cmocka_unit_test(host_port),
        cmocka_unit_test(address_format),
        cmocka_unit_test(domains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
