/* mochictl's terminal-safe table cells: controls, invalid UTF-8 and bidi
 * controls escaped, wide characters counted as two columns, cuts with an
 * ellipsis at a character boundary, padding. Expected strings are written
 * out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/mochictl/cell.h"

#define ELLIPSIS "\xe2\x80\xa6"

static void expect_cell(const char *s, size_t width, const char *want)
{
    char *got = mochictl_cell(s, strlen(s), width);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void plain_text_is_padded_or_cut(void **state)
{
    (void)state;
    expect_cell("/about", 10, "/about    ");
    expect_cell("/about", 6, "/about");
    expect_cell("/about-us", 6, "/abou" ELLIPSIS);
    expect_cell("/about", 1, ELLIPSIS);
    expect_cell("/about", 0, "");
    expect_cell("", 3, "   ");
}

static void controls_are_escaped(void **state)
{
    (void)state;
    /* ESC[2J (clear screen), a newline, a tab, DEL and a backslash */
    /* 23 columns: / a \x1b [ 2 J \x0a \x09 \x7f \\, then 17 spaces */
    expect_cell("/a\x1b[2J\n\t\x7f\\", 40,
                "/a\\x1b[2J\\x0a\\x09\\x7f\\\\"
                "                 ");
    /* C1 CSI (U+009B) and a right-to-left override (U+202E) */
    expect_cell("/\xc2\x9b"
                "2J\xe2\x80\xae",
                20, "/\\u009b2J\\u202e     "); /* 15 columns and 5 spaces */
    /* an escape is never cut in the middle: 5 columns hold "/", then no
     * room for the 4 of \x1b beside the ellipsis */
    expect_cell("/\x1b"
                "abc",
                5, "/" ELLIPSIS "   ");
    expect_cell("/\x1b"
                "abc",
                8, "/\\x1babc"); /* exactly 8 columns */
    expect_cell("/\x1b"
                "abc",
                7, "/\\x1ba" ELLIPSIS);
}

static void invalid_utf8_is_escaped_byte_by_byte(void **state)
{
    (void)state;
    /* a lone continuation byte, an overlong "/", a cut-short sequence */
    expect_cell("/\x80", 8, "/\\x80   ");
    expect_cell("/\xc0\xaf", 10, "/\\xc0\\xaf ");
    expect_cell("/\xe6\x97", 10, "/\\xe6\\x97 ");
    /* valid text around invalid bytes is kept */
    expect_cell("/caf\xc3\xa9\xff", 10, "/caf\xc3\xa9\\xff ");
}

static void wide_characters_take_two_columns(void **state)
{
    (void)state;
    assert_int_equal(mochictl_cell_columns(0x65E5), 2); /* 日 */
    assert_int_equal(mochictl_cell_columns(0x0041), 1);
    assert_int_equal(mochictl_cell_columns(0x0301), 0);  /* combining acute */
    assert_int_equal(mochictl_cell_columns(0x1F361), 2); /* dango */
    /* 日本語: six columns */
    expect_cell("/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 8,
                "/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e ");
    expect_cell("/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 7,
                "/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    /* one column short: the cut falls between characters, and the wide
     * character that does not fit beside the ellipsis leaves a space */
    expect_cell("/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 6, "/\xe6\x97\xa5\xe6\x9c\xac" ELLIPSIS);
    expect_cell("/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 5, "/\xe6\x97\xa5" ELLIPSIS " ");
}

static void combining_marks_stay_with_their_base(void **state)
{
    (void)state;
    /* e + U+0301 is one column */
    expect_cell("/e\xcc\x81x", 4, "/e\xcc\x81x ");
    expect_cell("/e\xcc\x81xyz", 4, "/e\xcc\x81x" ELLIPSIS);
    /* a mark with nothing before it is escaped, not drawn on the padding */
    expect_cell("\xcc\x81/", 10, "\\u0301/   ");
}

static void text_outside_a_column(void **state)
{
    (void)state;
    const char *s = "a.example\x1b]0;title\x07";
    char *got = mochictl_cell_text(s, strlen(s));
    assert_non_null(got);
    assert_string_equal(got, "a.example\\x1b]0;title\\x07");
    free(got);
    /* long text is neither cut nor padded */
    char long_text[301];
    memset(long_text, 'x', 300);
    long_text[300] = '\0';
    got = mochictl_cell_text(long_text, 300);
    assert_non_null(got);
    assert_string_equal(got, long_text);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_text_is_padded_or_cut),
        cmocka_unit_test(controls_are_escaped),
        cmocka_unit_test(invalid_utf8_is_escaped_byte_by_byte),
        cmocka_unit_test(wide_characters_take_two_columns),
        cmocka_unit_test(combining_marks_stay_with_their_base),
        cmocka_unit_test(text_outside_a_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
