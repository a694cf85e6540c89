#include "common/hash.h"
#include "common/error.h"

#include <sodium.h>
#include <string.h>

#define HASH_BYTES 16

int mochi_hash_init(void)
{
    return sodium_init() < 0 ? MOCHI_ERR_INTERNAL : 0;
}

static void to_hex(const unsigned char *bin, char out[MOCHI_HASH_HEX_LEN + 1])
{
    /* sodium_bin2hex writes lowercase hex and the terminating NUL. */
    sodium_bin2hex(out, MOCHI_HASH_HEX_LEN + 1, bin, HASH_BYTES);
}

void mochi_visitor_hash(const unsigned char salt[MOCHI_SALT_LEN], const unsigned char site_id[16],
                        const char *ip, const char *user_agent, char out[MOCHI_HASH_HEX_LEN + 1])
{
    crypto_generichash_state state;
    unsigned char digest[HASH_BYTES];
    static const unsigned char zero = 0;
    crypto_generichash_init(&state, salt, MOCHI_SALT_LEN, HASH_BYTES);
    crypto_generichash_update(&state, site_id, 16);
    crypto_generichash_update(&state, (const unsigned char *)ip, strlen(ip));
    crypto_generichash_update(&state, &zero, 1);
    crypto_generichash_update(&state, (const unsigned char *)user_agent, strlen(user_agent));
    crypto_generichash_final(&state, digest, HASH_BYTES);
    to_hex(digest, out);
    sodium_memzero(&state, sizeof(state));
}

void mochi_dedupe_key(const char *visitor_hash, const char *path, size_t path_len,
                      char out[MOCHI_HASH_HEX_LEN + 1])
{
    crypto_generichash_state state;
    unsigned char digest[HASH_BYTES];
    static const unsigned char zero = 0;
    crypto_generichash_init(&state, NULL, 0, HASH_BYTES);
    crypto_generichash_update(&state, (const unsigned char *)visitor_hash, strlen(visitor_hash));
    crypto_generichash_update(&state, &zero, 1);
    crypto_generichash_update(&state, (const unsigned char *)path, path_len);
    crypto_generichash_final(&state, digest, HASH_BYTES);
    to_hex(digest, out);
}

void mochi_salt_random(unsigned char salt[MOCHI_SALT_LEN])
{
    randombytes_buf(salt, MOCHI_SALT_LEN);
}
