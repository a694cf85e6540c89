/* Visitor hash and dedupe key against vectors computed independently of
 * this code, with Python's hashlib (BLAKE2b, 16-byte digest):
 *
 *   import hashlib
 *   salt = bytes(range(32))
 *   site = bytes.fromhex('9438feda34f841b28468ed3fe342a10a')
 *   hashlib.blake2b(site + ip.encode() + b'\0' + ua.encode(),
 *                   digest_size=16, key=salt).hexdigest()
 *   hashlib.blake2b(visitor_hash.encode() + b'\0' + path.encode(),
 *                   digest_size=16).hexdigest()
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/hash.h"
#include "common/uuid.h"

static unsigned char salt0[32];
static unsigned char site[16];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 32; i++)
        salt0[i] = (unsigned char)i;
    assert_int_equal(mochi_uuid_parse("9438feda-34f8-41b2-8468-ed3fe342a10a", site), 0);
    return mochi_hash_init();
}

static void visitor_hash_matches_python_vectors(void **state)
{
    (void)state;
    char out[33];
    mochi_visitor_hash(salt0, site, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)", out);
    assert_string_equal(out, "46ad87d9cf08f4091da7649d35a85309");
    mochi_visitor_hash(salt0, site, "2001:db8::1", "", out);
    assert_string_equal(out, "854c6a3f8543cd6f62fff17d82c17c1a");
    /* one trailing space in the User-Agent is another visitor */
    mochi_visitor_hash(salt0, site, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64) ", out);
    assert_string_equal(out, "362a27a72d034bdd589dfff8ff66c4f0");
}

static void visitor_hash_depends_on_day_and_site(void **state)
{
    (void)state;
    char a[33], b[33], c[33], d[33];
    unsigned char other_day[32];
    memset(other_day, 0xff, sizeof(other_day));
    unsigned char other_site[16];
    memcpy(other_site, site, 16);
    other_site[15] ^= 1;
    mochi_visitor_hash(salt0, site, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)", a);
    mochi_visitor_hash(salt0, site, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)", b);
    mochi_visitor_hash(other_day, site, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)", c);
    mochi_visitor_hash(salt0, other_site, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)", d);
    assert_string_equal(a, b);
    assert_string_equal(c, "9c31fb32b16a88b5ff6563c65bb98b20"); /* Python, key = 32 x 0xff */
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    /* The separator keeps "1.2.3.4"+"5x" apart from "1.2.3.45"+"x". */
    mochi_visitor_hash(salt0, site, "1.2.3.4", "5x", a);
    mochi_visitor_hash(salt0, site, "1.2.3.45", "x", b);
    assert_string_not_equal(a, b);
}

static void dedupe_key_matches_python_vectors(void **state)
{
    (void)state;
    char out[33];
    const char *vh = "0123456789abcdef0123456789abcdef";
    mochi_dedupe_key(vh, "/", 1, out);
    assert_string_equal(out, "3542d128cdf0a924b00c256f3d36be1d");
    const char *path = "/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac?x";
    mochi_dedupe_key(vh, path, strlen(path), out);
    assert_string_equal(out, "bf6a7ef891c1408cd80964f278a6f149");
}

static void random_salts_differ(void **state)
{
    (void)state;
    unsigned char a[32], b[32];
    mochi_salt_random(a);
    mochi_salt_random(b);
    assert_memory_not_equal(a, b, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(visitor_hash_matches_python_vectors),
        cmocka_unit_test(visitor_hash_depends_on_day_and_site),
        cmocka_unit_test(dedupe_key_matches_python_vectors),
        cmocka_unit_test(random_salts_differ),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
