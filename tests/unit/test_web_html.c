/* mochi-web's writers and readers of hostile text: HTML escaping, URL
 * encoding, CSV fields without formulas, form bodies, cookies, redirect
 * targets and Origin values. Every expected string is written by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "web/csv.h"
#include "web/html.h"
#include "web/parse.h"

static void expect_html(const char *in, const char *want)
{
    struct web_buf b = WEB_BUF_INIT;
    web_buf_puts(&b, "[");
    web_buf_html(&b, in);
    web_buf_puts(&b, "]");
    char *got = web_buf_take(&b, NULL);
    assert_non_null(got);
    assert_string_equal(got + 1, want);
    free(got);
}

static void html_escaping(void **state)
{
    (void)state;
    expect_html("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;]");
    expect_html("\"><script>'&", "&quot;&gt;&lt;script&gt;&#39;&amp;]");
    expect_html("plain/path?q", "plain/path?q]");
    expect_html("&amp;", "&amp;amp;]");
    expect_html("", "]");
    expect_html("caf\xc3\xa9 <", "caf\xc3\xa9 &lt;]");
}

static void buffer_and_urls(void **state)
{
    (void)state;
    struct web_buf b = WEB_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        web_buf_printf(&b, "%d,", i % 10);
    size_t len = 0;
    char *text = web_buf_take(&b, &len);
    assert_int_equal(len, 2000);
    assert_int_equal(strlen(text), 2000);
    assert_memory_equal(text, "0,1,2,", 6);
    free(text);
    assert_null(b.data);
    web_buf_urlencode(&b, "/sites/a b?range=7d&x=\xc3\xa9~");
    text = web_buf_take(&b, NULL);
    assert_string_equal(text, "%2Fsites%2Fa%20b%3Frange%3D7d%26x%3D%C3%A9~");
    free(text);
}

static void expect_csv(const char *in, const char *want)
{
    struct web_buf b = WEB_BUF_INIT;
    web_csv_field(&b, in);
    char *got = web_buf_take(&b, NULL);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void csv_fields(void **state)
{
    (void)state;
    expect_csv("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0");
    expect_csv("\"><script>", "\"\"\"><script>\"");
    expect_csv("+1", "'+1");
    expect_csv("-2", "'-2");
    expect_csv("@SUM(A1)", "'@SUM(A1)");
    expect_csv("\tx", "'\tx");
    expect_csv("\rx", "\"'\rx\"");
    expect_csv("a,b", "\"a,b\"");
    expect_csv("=a,\"b\"", "\"'=a,\"\"b\"\"\"");
    expect_csv("line\nbreak", "\"line\nbreak\"");
    expect_csv("/blog/a=b", "/blog/a=b");
    expect_csv("", "");
}

static void forms(void **state)
{
    (void)state;
    const char body[] = "emailx=no&email=a%40b.example&password=p+w%26d%3d&next=%2Fsites&empty=&"
                        "bare&nul=a%00b&bad=%zz&cut=%4";
    size_t len = strlen(body);
    char out[64];
    assert_int_equal(web_form_field(body, len, "email", out, sizeof(out)), 11);
    assert_string_equal(out, "a@b.example");
    assert_int_equal(web_form_field(body, len, "password", out, sizeof(out)), 6);
    assert_string_equal(out, "p w&d=");
    assert_int_equal(web_form_field(body, len, "next", out, sizeof(out)), 6);
    assert_string_equal(out, "/sites");
    assert_int_equal(web_form_field(body, len, "empty", out, sizeof(out)), 0);
    assert_int_equal(web_form_field(body, len, "bare", out, sizeof(out)), 0);
    assert_int_equal(web_form_field(body, len, "missing", out, sizeof(out)), -1);
    assert_int_equal(web_form_field(body, len, "nul", out, sizeof(out)), -2);
    assert_int_equal(web_form_field(body, len, "bad", out, sizeof(out)), -2);
    assert_int_equal(web_form_field(body, len, "cut", out, sizeof(out)), -2);
    char small[4];
    assert_int_equal(web_form_field(body, len, "email", small, sizeof(small)), -2);
    assert_int_equal(web_form_field("", 0, "email", out, sizeof(out)), -1);
    /* only len bytes are read */
    assert_int_equal(web_form_field("a=1&b=2", 3, "b", out, sizeof(out)), -1);
}

static void cookies(void **state)
{
    (void)state;
    char out[64];
    assert_true(web_cookie_value("a=1; mochi_session=abc; b=2", "mochi_session", out, sizeof(out)));
    assert_string_equal(out, "abc");
    assert_true(
        web_cookie_value("mochi_session_x=1;mochi_session=two", "mochi_session", out, sizeof(out)));
    assert_string_equal(out, "two");
    assert_true(web_cookie_value("mochi_session=\"q\" ", "mochi_session", out, sizeof(out)));
    assert_string_equal(out, "q");
    assert_false(web_cookie_value("x_mochi_session=1", "mochi_session", out, sizeof(out)));
    assert_false(web_cookie_value("", "mochi_session", out, sizeof(out)));
    char small[3];
    assert_false(web_cookie_value("mochi_session=abc", "mochi_session", small, sizeof(small)));
}

static void targets_and_origins(void **state)
{
    (void)state;
    assert_true(web_local_path("/"));
    assert_true(web_local_path("/sites/x?range=7d&compare=previous"));
    const char *bad[] = {"//evil.example",
                         "/\\evil.example",
                         "https://evil.example",
                         "",
                         "sites",
                         "/a b",
                         "/a\nb",
                         "/\x7f",
                         NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(web_local_path(bad[i]));

    char out[64];
    assert_true(web_url_authority("https://A.Example:8443/x?y", out, sizeof(out)));
    assert_string_equal(out, "a.example:8443");
    assert_true(web_url_authority("http://127.0.0.1:8090", out, sizeof(out)));
    assert_string_equal(out, "127.0.0.1:8090");
    assert_false(web_url_authority("null", out, sizeof(out)));
    assert_false(web_url_authority("ftp://a.example/", out, sizeof(out)));
    assert_false(web_url_authority("http://user@evil.example/", out, sizeof(out)));
    assert_false(web_url_authority("http:///x", out, sizeof(out)));
}

static void base64url(void **state)
{
    (void)state;
    unsigned char raw[32], back[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (unsigned char)(i * 37 + 250);
    char text[64];
    web_base64url(raw, sizeof(raw), text, sizeof(text));
    assert_int_equal(strlen(text), 43);
    assert_null(strpbrk(text, "+/="));
    assert_int_equal(web_base64url_decode(text, back, sizeof(back)), 0);
    assert_memory_equal(raw, back, sizeof(raw));
    /* "AAA...": 32 zero bytes are 43 'A's */
    assert_int_equal(web_base64url_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", back, 32),
                     0);
    text[5] = '+';
    assert_int_equal(web_base64url_decode(text, back, sizeof(back)), -1);
    assert_int_equal(web_base64url_decode("AAAA", back, sizeof(back)), -1);
    assert_int_equal(web_base64url_decode("", back, sizeof(back)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(html_escaping), cmocka_unit_test(buffer_and_urls),
        cmocka_unit_test(csv_fields),    cmocka_unit_test(forms),
        cmocka_unit_test(cookies),       cmocka_unit_test(targets_and_origins),
        cmocka_unit_test(base64url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
