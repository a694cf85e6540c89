#include "web/range.h"
#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const preset_names[WEB_NPRESETS] = {"today", "yesterday",  "7d",  "30d",
                                                       "month", "last_month", "12mo"};
static const char *const preset_labels[WEB_NPRESETS] = {
    "Today",      "Yesterday",  "Last 7 days",   "Last 30 days",
    "This month", "Last month", "Last 12 months"};

const char *web_preset_name(enum web_preset preset)
{
    return preset >= 0 && preset < WEB_NPRESETS ? preset_names[preset] : "";
}

const char *web_preset_label(enum web_preset preset)
{
    return preset >= 0 && preset < WEB_NPRESETS ? preset_labels[preset] : "";
}

/* Days from civil and back for the proleptic Gregorian calendar, after
 * Howard Hinnant's "chrono-compatible low-level date algorithms": exact
 * for every year here, with no time_t or time zone involved. */
long long web_day_from_civil(int year, int month, int mday)
{
    long long y = month <= 2 ? year - 1 : year;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + mday - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void web_day_civil(long long day, int *year, int *month, int *mday)
{
    long long z = day + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (m <= 2));
    *month = m;
    *mday = d;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

int web_day_parse(const char *text, long long *day)
{
    if (text == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return -1;
    int field[3] = {0, 0, 0};
    static const int start[3] = {0, 5, 8}, width[3] = {4, 2, 2};
    for (int f = 0; f < 3; f++) {
        for (int i = 0; i < width[f]; i++) {
            char c = text[start[f] + i];
            if (c < '0' || c > '9')
                return -1;
            field[f] = field[f] * 10 + (c - '0');
        }
    }
    if (field[0] < 1900 || field[1] < 1 || field[1] > 12 || field[2] < 1 ||
        field[2] > days_in_month(field[0], field[1]))
        return -1;
    *day = web_day_from_civil(field[0], field[1], field[2]);
    return 0;
}

void web_day_format(long long day, char out[11])
{
    int y, m, d;
    web_day_civil(day, &y, &m, &d);
    if (y < 0 || y > 9999) { /* never for a parsed day; keep the width */
        memcpy(out, "0000-00-00", 11);
        return;
    }
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
}

int web_parse_int(const char *text, long long min, long long max, long long *value)
{
    if (text == NULL || text[0] == '\0' || strlen(text) > 18)
        return MOCHI_ERR_INVALID;
    for (const char *p = text[0] == '-' ? text + 1 : text; *p; p++)
        if (*p < '0' || *p > '9')
            return MOCHI_ERR_INVALID;
    if (strcmp(text, "-") == 0)
        return MOCHI_ERR_INVALID;
    errno = 0;
    long long n = strtoll(text, NULL, 10);
    if (errno != 0 || n < min || n > max)
        return MOCHI_ERR_INVALID;
    *value = n;
    return 0;
}

/* The first day of the month months after day's month (negative: before). */
static long long month_start(long long day, int months)
{
    int y, m, d;
    web_day_civil(day, &y, &m, &d);
    long long index = (long long)y * 12 + (m - 1) + months;
    return web_day_from_civil((int)(index / 12), (int)(index % 12) + 1, 1);
}

static void preset_range(enum web_preset preset, long long today, long long *from, long long *to)
{
    *to = today;
    switch (preset) {
    case WEB_PRESET_TODAY:
        *from = today;
        break;
    case WEB_PRESET_YESTERDAY:
        *from = *to = today - 1;
        break;
    case WEB_PRESET_7D:
        *from = today - 6;
        break;
    case WEB_PRESET_MONTH:
        *from = month_start(today, 0);
        break;
    case WEB_PRESET_LAST_MONTH:
        *from = month_start(today, -1);
        *to = month_start(today, 0) - 1;
        break;
    case WEB_PRESET_12MO:
        *from = month_start(today, -11);
        break;
    case WEB_PRESET_30D:
    default:
        *from = today - 29;
        break;
    }
}

int web_range_parse(const char *from, const char *to, const char *range, const char *compare,
                    long long today, struct web_range *out, char *err, size_t errlen)
{
    struct web_range r = {.preset = WEB_PRESET_NONE};
    if (compare != NULL && strcmp(compare, "previous") != 0) {
        snprintf(err, errlen, "compare: the only value is 'previous'");
        return MOCHI_ERR_INVALID;
    }
    r.compare = compare != NULL;
    if (range != NULL) {
        if (from != NULL || to != NULL) {
            snprintf(err, errlen, "range: give either range or from/to, not both");
            return MOCHI_ERR_INVALID;
        }
        for (int p = 0; p < WEB_NPRESETS; p++)
            if (strcmp(range, preset_names[p]) == 0)
                r.preset = (enum web_preset)p;
        if (r.preset == WEB_PRESET_NONE) {
            snprintf(err, errlen,
                     "range: unknown value (today, yesterday, 7d, 30d, month, last_month, 12mo)");
            return MOCHI_ERR_INVALID;
        }
        preset_range(r.preset, today, &r.from, &r.to);
    } else {
        r.to = today;
        if (to != NULL && web_day_parse(to, &r.to) != 0) {
            snprintf(err, errlen, "to: not a date (YYYY-MM-DD, years 1900 to 9999)");
            return MOCHI_ERR_INVALID;
        }
        r.from = r.to - 29;
        if (from != NULL && web_day_parse(from, &r.from) != 0) {
            snprintf(err, errlen, "from: not a date (YYYY-MM-DD, years 1900 to 9999)");
            return MOCHI_ERR_INVALID;
        }
        if (r.from > r.to) {
            snprintf(err, errlen, "from: after to");
            return MOCHI_ERR_INVALID;
        }
        if (r.to - r.from + 1 > WEB_RANGE_MAX_DAYS) {
            snprintf(err, errlen, "from: the range is longer than %d days", WEB_RANGE_MAX_DAYS);
            return MOCHI_ERR_INVALID;
        }
    }
    long long days = r.to - r.from + 1;
    r.cto = r.from - 1;
    r.cfrom = r.from - days;
    *out = r;
    return 0;
}
