#ifndef MOCHI_HASH_H
#define MOCHI_HASH_H

#include <stddef.h>

/* The visitor hash and the dedupe key of DESIGN.md, with libsodium's
 * BLAKE2b (crypto_generichash):
 *   visitor_hash = hex(BLAKE2b-128(key = day's salt,
 *                      site_id (16 raw bytes) || ip text || 0x00 || user agent))
 *   dedupe_key   = hex(BLAKE2b-128(unkeyed, visitor_hash || 0x00 || path))
 * Both are 32 lowercase hex characters. */

#define MOCHI_SALT_LEN 32
#define MOCHI_HASH_HEX_LEN 32

/* Initialises libsodium; call once before anything else here. Returns 0
 * or MOCHI_ERR_INTERNAL. Safe to call more than once. */
int mochi_hash_init(void) __attribute__((warn_unused_result));

/* Writes the visitor hash, NUL-terminated, into out. */
void mochi_visitor_hash(const unsigned char salt[MOCHI_SALT_LEN], const unsigned char site_id[16],
                        const char *ip, const char *user_agent, char out[MOCHI_HASH_HEX_LEN + 1]);

/* Writes the dedupe key, NUL-terminated, into out. */
void mochi_dedupe_key(const char *visitor_hash, const char *path, size_t path_len,
                      char out[MOCHI_HASH_HEX_LEN + 1]);

/* Fills salt with fresh random bytes. */
void mochi_salt_random(unsigned char salt[MOCHI_SALT_LEN]);

#endif
