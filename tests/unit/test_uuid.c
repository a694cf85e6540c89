/* UUID text: parsing, formatting, the canonical check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/uuid.h"

static void parse_and_format_round_trip(void **state)
{
    (void)state;
    unsigned char bin[16];
    char text[MOCHI_UUID_TEXT_LEN + 1];
    assert_int_equal(mochi_uuid_parse("9438FEDA-34f8-41b2-8468-ed3fe342a10a", bin), 0);
    mochi_uuid_format(bin, text);
    assert_string_equal(text, "9438feda-34f8-41b2-8468-ed3fe342a10a");
    assert_int_equal(mochi_uuid_parse("9438feda34f841b28468ed3fe342a10a", bin), MOCHI_ERR_INVALID);
    assert_int_equal(mochi_uuid_parse(NULL, bin), MOCHI_ERR_INVALID);
}

static void canonical_is_lowercase_8_4_4_4_12(void **state)
{
    (void)state;
    assert_true(mochi_uuid_is_canonical("9438feda-34f8-41b2-8468-ed3fe342a10a"));
    assert_true(mochi_uuid_is_canonical("00000000-0000-0000-0000-000000000000"));
    static const char *const bad[] = {
        "9438FEDA-34f8-41b2-8468-ed3fe342a10a",  /* upper case */
        "9438feda-34f8-41b2-8468-ed3fe342a10",   /* short */
        "9438feda-34f8-41b2-8468-ed3fe342a10a0", /* long */
        "9438feda-34f8-41b2-8468-ed3fe342a10g",  /* not hex: each neighbour of */
        "9438feda-34f8-41b2-8468-ed3fe342a10/",  /* the ranges 0-9 and a-f */
        "9438feda-34f8-41b2-8468-ed3fe342a10:",
        "9438feda-34f8-41b2-8468-ed3fe342a10`",
        "9438feda-34f8-41b2-8468-ed3fe342a10\xc3",
        "9438feda-34f8-41b2-8468_ed3fe342a10a", /* not a dash */
        "9438feda034f8-41b2-8468-ed3fe342a10a", /* dash moved */
        "9438feda-34f8-41b2-8468-ed3fe342a1-a", /* dash in the hex */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(mochi_uuid_is_canonical(bad[i]));
    assert_false(mochi_uuid_is_canonical(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_and_format_round_trip),
        cmocka_unit_test(canonical_is_lowercase_8_4_4_4_12),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
