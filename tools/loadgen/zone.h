#ifndef LOADGEN_ZONE_H
#define LOADGEN_ZONE_H

/* Site time zones for the oracle, computed with glibc's own time zone code
 * and this host's zoneinfo files: a path independent of Mochi's, whose
 * collector has PostgreSQL compute its local midnights. Not thread-safe
 * (mochi_loadgen_zone_day sets TZ while it works); loadgen is one thread. */

#include <stddef.h>
#include <stdint.h>

#define LOADGEN_ZONE_MAX 64 /* IANA names are at most about 30 bytes */
#define LOADGEN_ZONE_UTC "UTC"

/* Checks that name is an IANA zone this host's tz database holds: "UTC",
 * or letters, digits, '_', '-' and '+' in '/'-separated parts ("." and
 * ".." refused) naming a TZif file under $TZDIR (default
 * /usr/share/zoneinfo). glibc would silently read an unknown name as UTC,
 * hence the file check. Returns 0, or MOCHI_ERR_INVALID with the reason in
 * err. */
int mochi_loadgen_zone_check(const char *name, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The site-local calendar date, as days since 1970-01-01, of the UTC
 * instant `seconds` (since the epoch) in zone, a name that passed
 * mochi_loadgen_zone_check. "UTC" is plain division. Other zones set TZ,
 * call tzset and localtime_r, then restore TZ as it was. Returns 0, or
 * MOCHI_ERR_INVALID when localtime_r fails. */
int mochi_loadgen_zone_day(const char *zone, int64_t seconds, int64_t *day)
    __attribute__((warn_unused_result));

#endif
