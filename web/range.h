#ifndef WEB_RANGE_H
#define WEB_RANGE_H

/* The dashboard's date ranges: site-local calendar days, as counts of days
 * since 1970-01-01, read from the query parameters of docs/web-api.md
 * (from, to, range, compare) against the site's today (which PostgreSQL
 * computes in the site's zone). Pure functions, thread-safe. */

#include <stdbool.h>
#include <stddef.h>

/* The longest range asked for, in days (ten years). */
#define WEB_RANGE_MAX_DAYS 3660

/* The presets, in the order the page lists them. */
enum web_preset {
    WEB_PRESET_NONE = -1, /* from/to, or the default */
    WEB_PRESET_TODAY,
    WEB_PRESET_YESTERDAY,
    WEB_PRESET_7D,
    WEB_PRESET_30D,
    WEB_PRESET_MONTH,
    WEB_PRESET_LAST_MONTH,
    WEB_PRESET_12MO,
    WEB_NPRESETS
};

struct web_range {
    long long from, to;     /* inclusive */
    enum web_preset preset; /* the preset asked for, or NONE */
    bool compare;           /* compare=previous */
    long long cfrom, cto;   /* the previous period, when compare */
};

/* The value of ?range= for a preset ("7d") and its label ("Last 7 days"). */
const char *web_preset_name(enum web_preset preset);
const char *web_preset_label(enum web_preset preset);

/* Parses YYYY-MM-DD, a calendar date of a year from 1900 to 9999 and
 * nothing else. Returns 0 and the day, or -1. */
int web_day_parse(const char *text, long long *day);
/* Formats a day as YYYY-MM-DD into out[11]. */
void web_day_format(long long day, char out[11]);
/* Calendar fields of a day, and back (month 1..12, mday 1..31). */
void web_day_civil(long long day, int *year, int *month, int *mday);
long long web_day_from_civil(int year, int month, int mday);

/* Reads the parameters (each NULL when absent) against today:
 * - range: a preset name; with from or to it is an error;
 * - from/to: either may be absent: to defaults to today, from to 29 days
 *   before to; from after to, a bad date or a range of more than
 *   WEB_RANGE_MAX_DAYS is an error;
 * - neither: the last 30 days ending today;
 * - compare: absent, or "previous" (the period of the same length ending
 *   the day before from).
 * Returns 0 and *out, or MOCHI_ERR_INVALID with a message for the client
 * (naming the parameter, never quoting it) in err. */
int web_range_parse(const char *from, const char *to, const char *range, const char *compare,
                    long long today, struct web_range *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Parses a decimal integer parameter within [min, max]. Returns 0 and
 * *value, or MOCHI_ERR_INVALID (not a number, or out of bounds). */
int web_parse_int(const char *text, long long min, long long max, long long *value)
    __attribute__((warn_unused_result));

#endif
