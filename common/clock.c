#include "common/clock.h"

#include <string.h>
#include <time.h>

static int64_t clock_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mochi_clock_now_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

int64_t mochi_clock_mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

int64_t mochi_clock_mono_ms(void)
{
    return clock_us(CLOCK_MONOTONIC) / 1000;
}

void mochi_clock_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec pause = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&pause, NULL);
}

struct timespec mochi_clock_deadline(clockid_t clock, int64_t ms)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t mochi_day_of_us(int64_t us)
{
    return floor_div(us, MOCHI_US_PER_DAY);
}

int64_t mochi_minute_of_us(int64_t us)
{
    return floor_div(us, MOCHI_US_PER_MINUTE) * MOCHI_US_PER_MINUTE;
}

void mochi_day_format(long long day, char buf[11])
{
    time_t t = (time_t)(day * MOCHI_SECONDS_PER_DAY);
    struct tm tm;
    char text[32];
    gmtime_r(&t, &tm);
    strftime(text, sizeof(text), "%Y-%m-%d", &tm);
    memcpy(buf, text, 10);
    buf[10] = '\0';
}

int mochi_day_parse(const char *text, long long *day)
{
    struct tm tm = {0};
    if (strlen(text) != 10)
        return -1;
    const char *end = strptime(text, "%Y-%m-%d", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    struct tm check = tm;
    time_t t = timegm(&check);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon || back.tm_year != tm.tm_year)
        return -1;
    *day = (long long)floor_div((int64_t)t, MOCHI_SECONDS_PER_DAY);
    return 0;
}

long long mochi_day_today(void)
{
    return (long long)mochi_day_of_us(mochi_clock_now_us());
}
