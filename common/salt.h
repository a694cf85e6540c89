#ifndef MOCHI_SALT_H
#define MOCHI_SALT_H

#include <libpq-fe.h>
#include <stdint.h>

#include "common/hash.h"

/* A day's salt is kept until this long after the day began in UTC:
 * (D+1) 12:00 UTC, when D ends at UTC-12, plus an hour for clocks that
 * differ and requests in flight. sql/006_site_timezones.sql
 * (mochi_salt_keep_from) applies the same rule in the database. */
#define MOCHI_SALT_KEEP_AFTER_US (INT64_C(37) * 3600 * 1000000)

/* Salts are made this many days ahead of the UTC day: UTC+14 begins day
 * T+1 during UTC day T, and T+2 right after UTC midnight, so a collector
 * holds both before it needs them. */
#define MOCHI_SALT_DAYS_AHEAD 2

/* The oldest day (days since 1970-01-01) whose salt is still kept at the
 * instant now_us: salts of earlier days are deleted, everywhere. */
long long mochi_salt_keep_from(int64_t now_us);

/* Makes the salts that are absent of the days from mochi_salt_keep_from(now)
 * to UTC today + MOCHI_SALT_DAYS_AHEAD, through mochi_ensure_salts(): the
 * database draws the random bytes, so every collector ends up with the
 * same salt for a day and no client can choose one. Returns how many it
 * made (>= 0), or a negative error code (MOCHI_ERR_AGAIN when the database
 * is unreachable). */
int mochi_salt_ensure(PGconn *conn) __attribute__((warn_unused_result));

/* Reads the salt of UTC day `day` (days since 1970-01-01) into salt; the
 * copy in libpq's memory is wiped. Returns 0, MOCHI_ERR_NOTFOUND when the
 * day has none, MOCHI_ERR_AGAIN or MOCHI_ERR_DB. */
int mochi_salt_read(PGconn *conn, long long day, unsigned char salt[MOCHI_SALT_LEN])
    __attribute__((warn_unused_result));

/* Deletes the salts of the days before mochi_salt_keep_from(now), through
 * mochi_expire_salts(): once a day has ended everywhere (UTC-12).
 * Returns the number deleted (>= 0) or a negative error code. */
int mochi_salt_expire(PGconn *conn) __attribute__((warn_unused_result));

#endif
