#ifndef MOCHI_SALT_H
#define MOCHI_SALT_H

#include <libpq-fe.h>

#include "common/hash.h"

/* Makes the salts of UTC yesterday, today and tomorrow that are absent,
 * through mochi_ensure_salts(): the database draws the random bytes, so
 * every collector ends up with the same salt for a day and no client can
 * choose one. Returns how many it made (>= 0), or a negative error code
 * (MOCHI_ERR_AGAIN when the database is unreachable). */
int mochi_salt_ensure(PGconn *conn) __attribute__((warn_unused_result));

/* Reads the salt of UTC day `day` (days since 1970-01-01) into salt; the
 * copy in libpq's memory is wiped. Returns 0, MOCHI_ERR_NOTFOUND when the
 * day has none, MOCHI_ERR_AGAIN or MOCHI_ERR_DB. */
int mochi_salt_read(PGconn *conn, long long day, unsigned char salt[MOCHI_SALT_LEN])
    __attribute__((warn_unused_result));

/* Deletes the salts older than yesterday through mochi_expire_salts().
 * Returns the number deleted (>= 0) or a negative error code. */
int mochi_salt_expire(PGconn *conn) __attribute__((warn_unused_result));

#endif
