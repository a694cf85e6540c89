#ifndef COLLECTOR_ZONES_H
#define COLLECTOR_ZONES_H

/* Site-local days without a time zone database of our own: PostgreSQL
 * computes, for each zone in use, the UTC instants at which a range of
 * local days begin, and the hot path finds an instant's local day by a
 * binary search among them. Days of 23 or 25 hours (daylight saving time)
 * come out right by construction; an instant outside the range is not
 * guessed at. A table is immutable once loaded: readers need no lock. */

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* The longest zone name sites.timezone accepts (sql/006_site_timezones.sql). */
#define COLLECTOR_TIMEZONE_MAX 63

struct collector_zones;

/* Asks conn for the UTC instants of the local midnights that begin days
 * from_day .. to_day + 1 (days since 1970-01-01) in each of the count zone
 * names (duplicates are fine), so that every instant of the local days
 * from_day .. to_day has its day. Returns 0 and a new table in *out (the
 * caller owns it: collector_zones_destroy); MOCHI_ERR_INVALID for a name
 * that is empty or longer than COLLECTOR_TIMEZONE_MAX, or from_day >
 * to_day; MOCHI_ERR_AGAIN or MOCHI_ERR_DB from the query (a name
 * PostgreSQL does not know is MOCHI_ERR_DB), with the reason in err. */
int collector_zones_load(PGconn *conn, const char *const *names, size_t count, long long from_day,
                         long long to_day, struct collector_zones **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Frees a table. NULL is a no-op. */
void collector_zones_destroy(struct collector_zones *zones);

/* The local day (days since 1970-01-01) in zone `timezone` of the instant
 * at_us (microseconds since the epoch, UTC). Returns 0 and *day;
 * MOCHI_ERR_NOTFOUND when the table has no such zone; MOCHI_ERR_RANGE when
 * the instant is before the first local day loaded or after the last. */
int collector_zones_local_day(const struct collector_zones *zones, const char *timezone,
                              int64_t at_us, long long *day) __attribute__((warn_unused_result));

/* The number of zones in a table. */
size_t collector_zones_count(const struct collector_zones *zones);

#endif
