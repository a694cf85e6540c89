#ifndef MOCHI_CLOCK_H
#define MOCHI_CLOCK_H

/* Clocks and UTC day arithmetic, in one place. A "day" is a count of days
 * since 1970-01-01 (UTC); times are microseconds since the epoch, as in
 * the Avro event's occurred_at. */

#include <stdint.h>
#include <time.h>

#define MOCHI_US_PER_MINUTE INT64_C(60000000)
#define MOCHI_US_PER_DAY INT64_C(86400000000)
#define MOCHI_MS_PER_DAY INT64_C(86400000)
#define MOCHI_SECONDS_PER_DAY 86400

/* Wall clock, microseconds since the epoch. */
int64_t mochi_clock_now_us(void);
/* Monotonic clock, for intervals and deadlines. */
int64_t mochi_clock_mono_us(void);
int64_t mochi_clock_mono_ms(void);

/* Sleeps ms milliseconds, or less when a signal arrives (so that a loop
 * around it sees a stop flag at once). ms <= 0 returns at once. */
void mochi_clock_sleep_ms(int64_t ms);
/* The instant ms milliseconds from now on clock, as a deadline for
 * pthread_cond_timedwait: CLOCK_MONOTONIC for a condition variable made
 * with pthread_condattr_setclock, CLOCK_REALTIME for a default one. */
struct timespec mochi_clock_deadline(clockid_t clock, int64_t ms);

/* The UTC day an instant falls on (floor division: before 1970 too). */
int64_t mochi_day_of_us(int64_t us);
/* The instant an instant's minute began. */
int64_t mochi_minute_of_us(int64_t us);

/* Formats a day as YYYY-MM-DD into buf[11]. */
void mochi_day_format(long long day, char buf[11]);
/* Parses YYYY-MM-DD (a calendar date, nothing after it). Returns 0 and the
 * day, or -1. */
int mochi_day_parse(const char *text, long long *day);
/* The current UTC day. */
long long mochi_day_today(void);

#endif
