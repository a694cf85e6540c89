/* Site time zones with glibc; see zone.h. */
#include "tools/loadgen/zone.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"

static bool name_is_clean(const char *name);
static int64_t floor_div(int64_t a, int64_t b);

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Parts of letters, digits, '_', '-', '+', split by single '/'; no part is
 * "." or "..", so the name stays inside the zoneinfo directory. */
static bool name_is_clean(const char *name)
{
    const char *allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+.";
    size_t len = strlen(name);
    if (len == 0 || len > LOADGEN_ZONE_MAX)
        return false;
    for (const char *part = name;;) {
        size_t n = strcspn(part, "/");
        if (n == 0 || strspn(part, allowed) < n || (n == 1 && part[0] == '.') ||
            (n == 2 && part[0] == '.' && part[1] == '.'))
            return false;
        if (part[n] == '\0')
            return true;
        part += n + 1;
    }
}

int mochi_loadgen_zone_check(const char *name, char *err, size_t errlen)
{
    if (strcmp(name, LOADGEN_ZONE_UTC) == 0)
        return 0;
    if (!name_is_clean(name)) {
        snprintf(err, errlen, "'%.80s' is not a time zone name (e.g. Europe/Berlin)", name);
        return MOCHI_ERR_INVALID;
    }
    const char *dir = getenv("TZDIR");
    char path[4096], magic[4] = {0};
    snprintf(path, sizeof(path), "%s/%s", dir != NULL && dir[0] ? dir : "/usr/share/zoneinfo",
             name);
    FILE *f = fopen(path, "rb");
    size_t got = f != NULL ? fread(magic, 1, sizeof(magic), f) : 0;
    if (f != NULL)
        fclose(f);
    if (got != sizeof(magic) || memcmp(magic, "TZif", 4) != 0) {
        snprintf(err, errlen, "unknown time zone '%.80s' (no TZif file %.200s)", name, path);
        return MOCHI_ERR_INVALID;
    }
    return 0;
}

int mochi_loadgen_zone_day(const char *zone, int64_t seconds, int64_t *day)
{
    if (strcmp(zone, LOADGEN_ZONE_UTC) == 0) {
        *day = floor_div(seconds, MOCHI_SECONDS_PER_DAY);
        return 0;
    }
    const char *old = getenv("TZ");
    char *saved = old != NULL ? strdup(old) : NULL;
    if (old != NULL && saved == NULL)
        return MOCHI_ERR_NOMEM;
    struct tm local;
    time_t t = (time_t)seconds;
    int rc = MOCHI_ERR_NOMEM;
    if (setenv("TZ", zone, 1) != 0)
        goto out;
    tzset();
    rc = localtime_r(&t, &local) != NULL ? 0 : MOCHI_ERR_INVALID;
out:
    if (saved != NULL)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    if (rc != 0)
        return rc;
    /* The local calendar date read back as a UTC midnight gives its day
     * number. */
    struct tm date = {.tm_year = local.tm_year, .tm_mon = local.tm_mon, .tm_mday = local.tm_mday};
    *day = floor_div((int64_t)timegm(&date), MOCHI_SECONDS_PER_DAY);
    return 0;
}
