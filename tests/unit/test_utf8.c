/* The one UTF-8 validator: well-formed text, overlong forms, surrogates,
 * code points past U+10FFFF, sequences cut short, control characters, and
 * cutting text at a character boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"

static const struct {
    const char *s;
    bool ok;
} cases[] = {
    {"", true},
    {"plain", true},
    {"caf\xc3\xa9", true},
    {"\xe6\x97\xa5\xe6\x9c\xac", true},
    {"\xf0\x9f\x8d\xa1", true},
    {"\xc2\x80", true},                  /* U+0080, the first two-byte code point */
    {"\xe0\xa0\x80", true},              /* U+0800, the first three-byte one */
    {"\xf0\x90\x80\x80", true},          /* U+10000, the first four-byte one */
    {"\xef\xbf\xbf", true},              /* U+FFFF */
    {"\xf4\x8f\xbf\xbf", true},          /* U+10FFFF, the last code point */
    {"\xed\x9f\xbf", true},              /* U+D7FF, just below the surrogates */
    {"\xee\x80\x80", true},              /* U+E000, just above them */
    {"\x80", false},                     /* lone continuation byte */
    {"\xbf", false},                     /* lone continuation byte */
    {"\xc3", false},                     /* two-byte sequence cut short */
    {"\xe6\x97", false},                 /* three-byte sequence cut short */
    {"\xf0\x9f\x8d", false},             /* four-byte sequence cut short */
    {"a\xc3", false},                    /* cut short at the end of text */
    {"\xc3\x28", false},                 /* bad continuation */
    {"\xe6\x28\x97", false},             /* bad second byte of three */
    {"\xe6\x97\x28", false},             /* bad third byte of three */
    {"\xf0\x9f\x8d\x28", false},         /* bad fourth byte of four */
    {"\xc0\x80", false},                 /* overlong NUL */
    {"\xc1\xbf", false},                 /* overlong U+007F */
    {"\xe0\x80\xaf", false},             /* overlong '/' */
    {"\xe0\x9f\xbf", false},             /* overlong U+07FF */
    {"\xf0\x80\x80\xaf", false},         /* overlong '/' */
    {"\xf0\x8f\xbf\xbf", false},         /* overlong U+FFFF */
    {"\xed\xa0\x80", false},             /* surrogate U+D800 */
    {"\xed\xbf\xbf", false},             /* surrogate U+DFFF */
    {"\xed\xa0\xbd\xed\xb2\xa9", false}, /* a surrogate pair, CESU-8 style */
    {"\xf4\x90\x80\x80", false},         /* U+110000 */
    {"\xf5\x80\x80\x80", false},         /* lead byte past U+10FFFF */
    {"\xf8\x88\x80\x80\x80", false},     /* five-byte form */
    {"\xfe", false},
    {"\xff", false},
};

static void valid_by_the_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (mochi_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
            fail_msg("case %zu", i);
    assert_true(mochi_utf8_valid("a\0b", 3)); /* NUL is a code point */
    assert_true(mochi_utf8_valid(NULL, 0));
    /* len bounds the look: a sequence that runs past it is cut short. */
    assert_false(mochi_utf8_valid("caf\xc3\xa9", 4));
    assert_true(mochi_utf8_valid("caf\xc3\xa9", 3));
}

static void seq_len_of_each_form(void **state)
{
    (void)state;
    assert_int_equal(mochi_utf8_seq_len("a", 1), 1);
    assert_int_equal(mochi_utf8_seq_len("", 1), 1); /* the NUL itself */
    assert_int_equal(mochi_utf8_seq_len("a", 0), 0);
    assert_int_equal(mochi_utf8_seq_len("\xc3\xa9x", 3), 2);
    assert_int_equal(mochi_utf8_seq_len("\xe6\x97\xa5x", 4), 3);
    assert_int_equal(mochi_utf8_seq_len("\xf0\x9f\x8d\xa1x", 5), 4);
    /* cut short by len, even when the bytes after it would complete it */
    assert_int_equal(mochi_utf8_seq_len("\xe6\x97\xa5", 2), 0);
    assert_int_equal(mochi_utf8_seq_len("\xf0\x9f\x8d\xa1", 3), 0);
    /* cut short by the terminating NUL */
    assert_int_equal(mochi_utf8_seq_len("\xe6\x97", 3), 0);
    assert_int_equal(mochi_utf8_seq_len("\xc0\x80", 2), 0);
    assert_int_equal(mochi_utf8_seq_len("\xed\xa0\x80", 3), 0);
    assert_int_equal(mochi_utf8_seq_len("\xf4\x90\x80\x80", 4), 0);
    assert_int_equal(mochi_utf8_seq_len("\x80", 1), 0);
}

static void controls(void **state)
{
    (void)state;
    assert_false(mochi_utf8_has_control("/a b~", 5));
    assert_false(mochi_utf8_has_control("caf\xc3\xa9 \xc2\xa0", 8)); /* U+00A0 is not one */
    assert_true(mochi_utf8_has_control("a\tb", 3));
    assert_true(mochi_utf8_has_control("a\0b", 3));
    assert_true(mochi_utf8_has_control("\x1f", 1));
    assert_true(mochi_utf8_has_control("a\x7f", 2));
    assert_true(mochi_utf8_has_control("a\xc2\x80", 3));  /* U+0080 */
    assert_true(mochi_utf8_has_control("a\xc2\x9f", 3));  /* U+009F */
    assert_false(mochi_utf8_has_control("a\xc2\x9f", 2)); /* len stops before it */
}

/* Longer texts, read eight bytes at a time: a control at every position,
 * a C1 control across a word's end, and bytes next to the ones looked for
 * (0x20, 0x7E, 0x80, 0xC1, 0xC3, U+00A0) that are not controls. */
static void controls_in_long_texts(void **state)
{
    (void)state;
    static const unsigned char bad[] = {0x00, 0x01, 0x1F, 0x7F};
    char text[40];
    memset(text, 'a', sizeof(text));
    assert_false(mochi_utf8_has_control(text, sizeof(text)));
    for (size_t pos = 0; pos < sizeof(text); pos++) {
        for (size_t b = 0; b < sizeof(bad); b++) {
            memset(text, 'a', sizeof(text));
            text[pos] = (char)bad[b];
            assert_true(mochi_utf8_has_control(text, sizeof(text)));
            assert_false(mochi_utf8_has_control(text, pos)); /* len stops before it */
        }
        if (pos + 1 < sizeof(text)) {
            memset(text, 'a', sizeof(text));
            memcpy(text + pos, "\xc2\x85", 2); /* U+0085, across a word's end at pos 7 */
            assert_true(mochi_utf8_has_control(text, sizeof(text)));
            assert_false(mochi_utf8_has_control(text, pos + 1));
            memcpy(text + pos, "\xc2\xa0", 2);
            assert_false(mochi_utf8_has_control(text, sizeof(text)));
        }
    }
    const char *clean = " ~\x80\xc1\xc3\xa9 0123456789 /path?q=1#x \xe6\x97\xa5\xf0\x9f\x8d\xa1";
    assert_false(mochi_utf8_has_control(clean, strlen(clean)));
}

static void cut_at_a_boundary(void **state)
{
    (void)state;
    const char *s = "ab\xc3\xa9\xe6\x97\xa5\xf0\x9f\x8d\xa1"; /* a b é 日 🍡: 1 1 2 3 4 */
    size_t len = strlen(s);
    assert_int_equal(len, 11);
    assert_int_equal(mochi_utf8_cut(s, len, 11), 11);
    assert_int_equal(mochi_utf8_cut(s, len, 100), 11);
    assert_int_equal(mochi_utf8_cut(s, len, 2), 2);
    assert_int_equal(mochi_utf8_cut(s, len, 3), 2); /* not inside é */
    assert_int_equal(mochi_utf8_cut(s, len, 4), 4);
    assert_int_equal(mochi_utf8_cut(s, len, 5), 4); /* not inside 日 */
    assert_int_equal(mochi_utf8_cut(s, len, 6), 4);
    assert_int_equal(mochi_utf8_cut(s, len, 7), 7);
    assert_int_equal(mochi_utf8_cut(s, len, 8), 7); /* not inside 🍡 */
    assert_int_equal(mochi_utf8_cut(s, len, 10), 7);
    assert_int_equal(mochi_utf8_cut(s, len, 0), 0);
    assert_int_equal(mochi_utf8_cut("\xc3\xa9", 2, 1), 0);
    /* every cut of valid text is valid text */
    for (size_t max = 0; max <= len; max++)
        assert_true(mochi_utf8_valid(s, mochi_utf8_cut(s, len, max)));
}

/* Every byte that starts no well-formed sequence becomes U+FFFD; what is
 * well-formed is kept; the NUL inside the range is kept too. */
static void sanitize_replaces_each_bad_byte(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
        size_t out_len;
    } bad[] = {
        {"", 0, "", 0},
        {"caf\xC3\xA9", 5, "caf\xC3\xA9", 5},
        {"a\xFF"
         "b",
         3,
         "a\xEF\xBF\xBD"
         "b",
         5},
        {"\xC3\x28", 2, "\xEF\xBF\xBD(", 4},                            /* bad continuation */
        {"\xC0\xAF", 2, "\xEF\xBF\xBD\xEF\xBF\xBD", 6},                 /* overlong */
        {"\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 9}, /* surrogate */
        {"\xE2\x82", 2, "\xEF\xBF\xBD\xEF\xBF\xBD", 6},                 /* cut short */
        {"x\0y", 3, "x\0y", 3},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = 99;
        char *out = mochi_utf8_sanitize(bad[i].in, bad[i].len, &len);
        assert_non_null(out);
        assert_int_equal(len, bad[i].out_len);
        assert_memory_equal(out, bad[i].out, len);
        assert_int_equal(out[len], '\0');
        free(out);
    }
    char *out = mochi_utf8_sanitize("ok", 2, NULL);
    assert_string_equal(out, "ok");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_by_the_table), cmocka_unit_test(seq_len_of_each_form),
        cmocka_unit_test(controls),           cmocka_unit_test(controls_in_long_texts),
        cmocka_unit_test(cut_at_a_boundary),  cmocka_unit_test(sanitize_replaces_each_bad_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
