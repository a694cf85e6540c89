/* Site domains: the host check and the source a referring host stands
 * for. Expectations written by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/domain.h"

static void hosts_match_the_domain_and_its_subdomains(void **state)
{
    (void)state;
    assert_true(mochi_host_matches_domain("example.com", 11, "example.com"));
    assert_true(mochi_host_matches_domain("WWW.Example.COM", 15, "example.com"));
    assert_true(mochi_host_matches_domain("a.b.example.com", 15, "example.com"));
    assert_false(mochi_host_matches_domain("badexample.com", 14, "example.com"));
    assert_false(mochi_host_matches_domain("example.com.evil.org", 20, "example.com"));
    assert_false(mochi_host_matches_domain("com", 3, "example.com"));
}

struct source_case {
    const char *host;
    const char *source;
};

static const struct source_case source_cases[] = {
    {"www.google.com", "google.com"},
    {"WWW.Google.COM", "google.com"},
    {"www.google.com.", "google.com"},
    {"news.ycombinator.com", "news.ycombinator.com"},
    {"www2.example.org", "www2.example.org"},
    {"wwwexample.org", "wwwexample.org"},
    {"foo.www.example.org", "foo.www.example.org"},
    {"www.www.example.org", "www.example.org"},
    {"www.", "www"},
    {"www", "www"},
    {"t.co", "t.co"},
    {"[2001:db8::1]", "[2001:db8::1]"},
    {"www.CAF\xc3\x89.example", "caf\xc3\x89.example"},
};

static void sources_of_hosts(void **state)
{
    (void)state;
    char out[64];
    for (size_t i = 0; i < sizeof(source_cases) / sizeof(source_cases[0]); i++) {
        const struct source_case *c = &source_cases[i];
        size_t n = mochi_domain_source(c->host, strlen(c->host), out, sizeof(out));
        if (strcmp(out, c->source) != 0)
            fail_msg("%s: got %s, want %s", c->host, out, c->source);
        assert_int_equal(n, strlen(c->source));
    }
}

/* The cut keeps whole characters: "é" is two bytes. */
static void source_cut_is_whole(void **state)
{
    (void)state;
    char out[5];
    assert_int_equal(mochi_domain_source("www.abc\xc3\xa9", 9, out, sizeof(out)), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(mochi_domain_source("www.ab\xc3\xa9", 8, out, sizeof(out)), 4);
    assert_string_equal(out, "ab\xc3\xa9");
    assert_int_equal(mochi_domain_source("abcdefgh", 8, out, 1), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hosts_match_the_domain_and_its_subdomains),
        cmocka_unit_test(sources_of_hosts),
        cmocka_unit_test(source_cut_is_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
