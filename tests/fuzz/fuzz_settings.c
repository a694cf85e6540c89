/* Fuzzes mochi_setting_validate, the one function that checks a setting's
 * value for every type (flags, the environment, runtime settings). The
 * first input byte picks the setting (type and bounds); the rest is the
 * value text.
 *
 * Properties:
 *   - a refusal's reason is NUL-terminated, never quotes a conninfo (which
 *     may hold a password) and is valid UTF-8;
 *   - an accepted INT or DURATION lies within [min, max]; a FLAG is 0 or 1;
 *     an ENUM is the index of one of its choices; a DATE is a day in the
 *     valid range;
 *   - where a canonical form exists it re-parses to the same number: the
 *     integer printed back, the duration as "<ms>ms", the date printed as
 *     YYYY-MM-DD, the choice by name, the flag as true/false. */

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/config.h"
#include "common/error.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const one_choice[] = {"only", NULL};

static const struct mochi_setting settings[] = {
    {.name = "s", .type = MOCHI_SETTING_STRING},
    {.name = "a", .type = MOCHI_SETTING_ADDRESS},
    {.name = "i", .type = MOCHI_SETTING_INT, .min = 1, .max = 65535},
    {.name = "n", .type = MOCHI_SETTING_INT, .min = LLONG_MIN, .max = LLONG_MAX},
    {.name = "d", .type = MOCHI_SETTING_DURATION, .min = 100, .max = 7 * 86400000LL},
    {.name = "D", .type = MOCHI_SETTING_DURATION, .min = 0, .max = LLONG_MAX},
    {.name = "c", .type = MOCHI_SETTING_CIDRS},
    {.name = "p", .type = MOCHI_SETTING_CONNINFO, .secret = true},
    {.name = "f", .type = MOCHI_SETTING_FLAG},
    {.name = "l", .type = MOCHI_SETTING_ENUM, .choices = levels},
    {.name = "t", .type = MOCHI_SETTING_DATE},
    /* after the others, so that the seeds' first bytes keep their meaning */
    {.name = "o", .type = MOCHI_SETTING_ENUM, .choices = one_choice},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

/* Validates text and returns its number; the property checks of a
 * refusal run here too. */
static int validate(const struct mochi_setting *s, const char *text, long long *n)
{
    char err[256];
    memset(err, 'x', sizeof(err));
    int rc = mochi_setting_validate(s, text, n, err, sizeof(err));
    if (rc != 0) {
        FUZZ_REQUIRE(rc == MOCHI_ERR_INVALID);
        size_t len = strnlen(err, sizeof(err));
        FUZZ_REQUIRE(len > 0 && len < sizeof(err));
        FUZZ_REQUIRE(mochi_utf8_valid(err, len));
        /* (a text shorter than the reason could be a word of it) */
        FUZZ_REQUIRE(s->type != MOCHI_SETTING_CONNINFO || strlen(text) <= len ||
                     strstr(err, text) == NULL);
    }
    return rc;
}

static void reparse(const struct mochi_setting *s, const char *canon, long long want)
{
    long long again = 0;
    FUZZ_REQUIRE(validate(s, canon, &again) == 0);
    FUZZ_REQUIRE(again == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1024)
        return 0;
    const struct mochi_setting *s = &settings[data[0] % NSETTINGS];
    char *text = malloc(size);
    FUZZ_REQUIRE(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    long long n = 0;
    if (validate(s, text, &n) != 0) {
        free(text);
        return 0;
    }
    char canon[64];
    switch (s->type) {
    case MOCHI_SETTING_INT:
        FUZZ_REQUIRE(n >= s->min && n <= s->max);
        snprintf(canon, sizeof(canon), "%lld", n);
        reparse(s, canon, n);
        break;
    case MOCHI_SETTING_DURATION:
        FUZZ_REQUIRE(n >= s->min && n <= s->max);
        snprintf(canon, sizeof(canon), "%lldms", n);
        reparse(s, canon, n);
        break;
    case MOCHI_SETTING_FLAG:
        FUZZ_REQUIRE(n == 0 || n == 1);
        reparse(s, n ? "true" : "false", n);
        break;
    case MOCHI_SETTING_ENUM: {
        long long nchoices = 0;
        while (s->choices[nchoices] != NULL)
            nchoices++;
        FUZZ_REQUIRE(n >= 0 && n < nchoices);
        FUZZ_REQUIRE(strcasecmp(text, s->choices[n]) == 0);
        reparse(s, s->choices[n], n);
        break;
    }
    case MOCHI_SETTING_DATE: {
        FUZZ_REQUIRE(strlen(text) == 10);
        time_t t = (time_t)(n * 86400);
        struct tm tm;
        FUZZ_REQUIRE(gmtime_r(&t, &tm) != NULL);
        int year = tm.tm_year + 1900;
        FUZZ_REQUIRE(year >= 0 && year <= 9999);
        snprintf(canon, sizeof(canon), "%04d-%02d-%02d", year, tm.tm_mon + 1, tm.tm_mday);
        reparse(s, canon, n);
        break;
    }
    case MOCHI_SETTING_STRING:
        FUZZ_REQUIRE(text[0] != '\0');
        break;
    case MOCHI_SETTING_ADDRESS: {
        /* Accepted addresses split again, the same way. */
        reparse(s, text, n);
        break;
    }
    case MOCHI_SETTING_CIDRS:
    case MOCHI_SETTING_CONNINFO:
        break;
    }
    free(text);
    return 0;
}
