#include "collector/zones.h"
#include "common/db.h"
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Far enough for any use (year 4707 either way), near enough that a day
 * count always fits PostgreSQL's int. */
#define DAY_LIMIT 1000000LL

struct zone {
    char name[COLLECTOR_TIMEZONE_MAX + 1];
    size_t first; /* index of its first midnight in the table's arrays */
};

struct collector_zones {
    struct zone *zones; /* sorted by name (strcmp) */
    size_t count;
    size_t per_zone;    /* midnights per zone: the days loaded + 1 */
    long long from_day; /* the day the first midnight of each zone begins */
    int64_t *starts_us; /* count * per_zone, each zone's non-decreasing */
};

static char *array_literal(const char *const *names, size_t count);
static int fill(struct collector_zones *zones, PGresult *res, char *err, size_t errlen);

/* names as a PostgreSQL text[] literal, each element quoted. Returns a
 * malloc'd string or NULL (no memory). */
static char *array_literal(const char *const *names, size_t count)
{
    size_t cap = 3;
    for (size_t i = 0; i < count; i++)
        cap += 2 * strlen(names[i]) + 3;
    char *text = malloc(cap);
    if (text == NULL)
        return NULL;
    size_t used = 0;
    text[used++] = '{';
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            text[used++] = ',';
        text[used++] = '"';
        for (const char *c = names[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                text[used++] = '\\';
            text[used++] = *c;
        }
        text[used++] = '"';
    }
    text[used++] = '}';
    text[used] = '\0';
    return text;
}

/* Copies the query's rows (zone, day, start), ordered by zone then day,
 * into zones, checking what the order and the day range promise. */
static int fill(struct collector_zones *zones, PGresult *res, char *err, size_t errlen)
{
    size_t rows = (size_t)PQntuples(res);
    if (rows % zones->per_zone != 0) {
        snprintf(err, errlen, "zone query returned %zu rows, not %zu per zone", rows,
                 zones->per_zone);
        return MOCHI_ERR_DB;
    }
    zones->count = rows / zones->per_zone;
    zones->zones = calloc(zones->count + 1, sizeof(*zones->zones));
    zones->starts_us = calloc(rows + 1, sizeof(*zones->starts_us));
    if (zones->zones == NULL || zones->starts_us == NULL)
        return MOCHI_ERR_NOMEM;
    for (size_t r = 0; r < rows; r++) {
        size_t z = r / zones->per_zone, k = r % zones->per_zone;
        const char *name = PQgetvalue(res, (int)r, 0);
        long long day = strtoll(PQgetvalue(res, (int)r, 1), NULL, 10);
        int64_t start = strtoll(PQgetvalue(res, (int)r, 2), NULL, 10);
        if (k == 0) {
            if (strlen(name) > COLLECTOR_TIMEZONE_MAX ||
                (z > 0 && strcmp(zones->zones[z - 1].name, name) >= 0)) {
                snprintf(err, errlen, "zone query returned zones out of order");
                return MOCHI_ERR_DB;
            }
            strcpy(zones->zones[z].name, name);
            zones->zones[z].first = r;
        } else if (strcmp(zones->zones[z].name, name) != 0 || start < zones->starts_us[r - 1]) {
            snprintf(err, errlen, "zone %s: midnights out of order", zones->zones[z].name);
            return MOCHI_ERR_DB;
        }
        if (day != zones->from_day + (long long)k) {
            snprintf(err, errlen, "zone %s: day %lld where %lld was due", zones->zones[z].name, day,
                     zones->from_day + (long long)k);
            return MOCHI_ERR_DB;
        }
        zones->starts_us[r] = start;
    }
    return 0;
}

int collector_zones_load(PGconn *conn, const char *const *names, size_t count, long long from_day,
                         long long to_day, struct collector_zones **out, char *err, size_t errlen)
{
    if (from_day > to_day || from_day < -DAY_LIMIT || to_day > DAY_LIMIT) {
        snprintf(err, errlen, "bad day range %lld..%lld", from_day, to_day);
        return MOCHI_ERR_INVALID;
    }
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        if (len == 0 || len > COLLECTOR_TIMEZONE_MAX) {
            snprintf(err, errlen, "time zone name of %zu bytes", len);
            return MOCHI_ERR_INVALID;
        }
    }
    struct collector_zones *zones = calloc(1, sizeof(*zones));
    char *list = array_literal(names, count);
    PGresult *res = NULL;
    int rc = MOCHI_ERR_NOMEM;
    if (zones == NULL || list == NULL)
        goto out;
    zones->from_day = from_day;
    zones->per_zone = (size_t)(to_day - from_day + 2);
    char from_text[24], to_text[24];
    snprintf(from_text, sizeof(from_text), "%lld", from_day);
    snprintf(to_text, sizeof(to_text), "%lld", to_day + 1);
    const char *params[3] = {list, from_text, to_text};
    /* A local midnight that a DST change skips (the clocks go from 23:59:59
     * to 01:00) is taken by PostgreSQL at the offset before the change,
     * which is the instant the day begins. Midnights are whole seconds in
     * every zone, and epoch is exact (numeric) since PostgreSQL 14. */
    rc = mochi_db_query(conn,
                        "SELECT z.tz, k, (extract(epoch FROM ((date '1970-01-01' + k)::timestamp"
                        " AT TIME ZONE z.tz)) * 1000000)::bigint"
                        " FROM (SELECT DISTINCT unnest($1::text[]) AS tz) z,"
                        " generate_series($2::int, $3::int) AS k"
                        " ORDER BY z.tz COLLATE \"C\", k",
                        3, params, &res, err, errlen);
    if (rc == 0)
        rc = fill(zones, res, err, errlen);
out:
    PQclear(res);
    free(list);
    if (rc != 0) {
        collector_zones_destroy(zones);
        return rc;
    }
    *out = zones;
    return 0;
}

void collector_zones_destroy(struct collector_zones *zones)
{
    if (zones == NULL)
        return;
    free(zones->zones);
    free(zones->starts_us);
    free(zones);
}

size_t collector_zones_count(const struct collector_zones *zones)
{
    return zones->count;
}

static int compare_zone(const void *key, const void *element)
{
    return strcmp(key, ((const struct zone *)element)->name);
}

int collector_zones_local_day(const struct collector_zones *zones, const char *timezone,
                              int64_t at_us, long long *day)
{
    const struct zone *z =
        bsearch(timezone, zones->zones, zones->count, sizeof(*zones->zones), compare_zone);
    if (z == NULL)
        return MOCHI_ERR_NOTFOUND;
    const int64_t *starts = zones->starts_us + z->first;
    /* The last midnight only ends the last day: an instant at or after it,
     * or before the first, belongs to a day the table does not hold. */
    size_t n = zones->per_zone;
    if (at_us < starts[0] || at_us >= starts[n - 1])
        return MOCHI_ERR_RANGE;
    /* The last midnight at or before at_us: starts[lo] <= at_us < starts[hi]. A
     * day that lasts no time (a zone skipping a day) is passed over. */
    size_t lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (starts[mid] <= at_us)
            lo = mid;
        else
            hi = mid;
    }
    *day = zones->from_day + (long long)lo;
    return 0;
}
