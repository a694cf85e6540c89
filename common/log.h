#ifndef MOCHI_LOG_H
#define MOCHI_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* One line per event to stderr in logfmt:
 *   ts=2026-11-26T10:00:00.123Z level=info component=collector msg="started" listen=...
 * The level is checked before anything is formatted. Never pass secrets or
 * raw client addresses. */

enum mochi_log_level {
    MOCHI_LOG_DEBUG = 0,
    MOCHI_LOG_INFO = 1,
    MOCHI_LOG_WARN = 2,
    MOCHI_LOG_ERROR = 3,
};

void mochi_log_set_level(enum mochi_log_level level);
bool mochi_log_enabled(enum mochi_log_level level);

/* Returns 0 and sets *level for "debug", "info", "warn" or "error";
 * MOCHI_ERR_INVALID otherwise. */
int mochi_log_parse_level(const char *text, enum mochi_log_level *level)
    __attribute__((warn_unused_result));

/* fmt is the rest of the line: msg=... key=value pairs. Thread-safe: each
 * line is written with one write(2). */
void mochi_log(enum mochi_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes value into buf as a logfmt value: unchanged when it is a plain
 * token, else double-quoted with '"', '\\' and control bytes escaped; cut
 * to fit buf. Returns buf. */
const char *mochi_log_quote(char *buf, size_t size, const char *value);

#endif
