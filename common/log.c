#include "common/log.h"
#include "common/clock.h"
#include "common/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int current_level = MOCHI_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void mochi_log_set_level(enum mochi_log_level level)
{
    atomic_store(&current_level, (int)level);
}

bool mochi_log_enabled(enum mochi_log_level level)
{
    return (int)level >= atomic_load_explicit(&current_level, memory_order_relaxed);
}

int mochi_log_parse_level(const char *text, enum mochi_log_level *level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *level = (enum mochi_log_level)i;
            return 0;
        }
    }
    return MOCHI_ERR_INVALID;
}

void mochi_log(enum mochi_log_level level, const char *component, const char *fmt, ...)
{
    if (!mochi_log_enabled(level))
        return;

    char line[2048];
    int64_t now_us = mochi_clock_now_us();
    time_t now_s = (time_t)(now_us / 1000000);
    struct tm tm;
    gmtime_r(&now_s, &tm);
    int n = snprintf(line, sizeof(line),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s component=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)(now_us / 1000 % 1000), level_names[level], component);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* a cut line still ends with a newline */
    line[len++] = '\n';
    /* One write per line so that lines from threads do not interleave. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

const char *mochi_log_quote(char *buf, size_t size, const char *value)
{
    if (size == 0)
        return buf;
    if (value == NULL)
        value = "";
    bool plain = value[0] != '\0';
    for (const char *p = value; *p && plain; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
            plain = false;
    }
    if (plain) {
        snprintf(buf, size, "%s", value);
        return buf;
    }
    size_t o = 0;
    if (o + 1 < size)
        buf[o++] = '"';
    for (const char *p = value; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[5];
        size_t k;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            k = 2;
        } else if (c < ' ' || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\x%02x", c);
            k = 4;
        } else {
            esc[0] = (char)c;
            k = 1;
        }
        if (o + k + 2 > size)
            break;
        memcpy(buf + o, esc, k);
        o += k;
    }
    if (o + 1 < size)
        buf[o++] = '"';
    buf[o < size ? o : size - 1] = '\0';
    return buf;
}
