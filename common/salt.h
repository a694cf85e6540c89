#ifndef MOCHI_SALT_H
#define MOCHI_SALT_H

#include <libpq-fe.h>

#include "hash.h"

/* Returns the salt of UTC day `day` (days since 1970-01-01) in salt,
 * creating it if absent: insert-if-absent, then read back, so that
 * concurrent callers (several collectors) all end up with the one salt the
 * first insert stored. Returns 0, MOCHI_ERR_AGAIN when the database is
 * unreachable, or MOCHI_ERR_DB. */
int mochi_salt_get_or_create(PGconn *conn, long long day, unsigned char salt[MOCHI_SALT_LEN])
    __attribute__((warn_unused_result));

/* Deletes the salts older than yesterday through mochi_expire_salts().
 * Returns the number deleted (>= 0) or a negative error code. */
int mochi_salt_expire(PGconn *conn) __attribute__((warn_unused_result));

#endif
