/* Reading a new dashboard password from a pipe or a terminal, and hashing
 * it. The password lives only in the caller's buffer: it is read with
 * read(2), byte by byte, so that no stdio buffer keeps a copy to wipe. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "common/utf8.h"
#include "tools/mochictl/password.h"

/* A line longer than the longest password, so that "too long" is seen. */
#define LINE_MAX_BYTES (MOCHICTL_PASSWORD_MAX_BYTES + 2)

enum line_result { LINE_OK, LINE_EOF, LINE_TOO_LONG, LINE_ERROR };

static enum line_result read_line(int fd, char *buf, size_t cap, size_t *len);
static int check(const char *command, const char *pw, size_t len);
static int read_terminal(const char *command, char *pw, size_t *len);

static enum line_result read_line(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    bool any = false;
    for (;;) {
        char c;
        ssize_t k = read(fd, &c, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return LINE_ERROR;
        if (k == 0) {
            if (!any)
                return LINE_EOF;
            break;
        }
        any = true;
        if (c == '\n')
            break;
        if (n + 1 >= cap) {
            /* Keep reading to the end of the line, so that the rest of a
             * too-long password never reaches a shell that reads the
             * terminal after us. */
            n = cap; /* marks the line as too long */
            continue;
        }
        buf[n++] = c;
    }
    if (n >= cap) {
        sodium_memzero(buf, cap);
        *len = 0;
        return LINE_TOO_LONG;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return LINE_OK;
}

/* Returns 0 when pw[0..len) is a password users may have, else prints why
 * and returns 2. */
static int check(const char *command, const char *pw, size_t len)
{
    if (len > MOCHICTL_PASSWORD_MAX_BYTES) {
        fprintf(stderr, "%s: the password is longer than %d bytes\n", command,
                MOCHICTL_PASSWORD_MAX_BYTES);
        return 2;
    }
    if (memchr(pw, '\0', len) != NULL) {
        fprintf(stderr, "%s: the password holds a NUL byte\n", command);
        return 2;
    }
    if (!mochi_utf8_valid(pw, len)) {
        fprintf(stderr, "%s: the password is not UTF-8 text (the login form sends UTF-8)\n",
                command);
        return 2;
    }
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)pw[i] & 0xC0) != 0x80;
    if (chars < MOCHICTL_PASSWORD_MIN_CHARS) {
        fprintf(stderr, "%s: the password is shorter than %d characters\n", command,
                MOCHICTL_PASSWORD_MIN_CHARS);
        return 2;
    }
    return 0;
}

/* The terminal's settings while echo is off, for the signal handler that
 * puts them back when the prompt is interrupted (Ctrl-C). */
static struct termios saved_termios;
static const int restore_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static struct sigaction saved_actions[sizeof(restore_signals) / sizeof(restore_signals[0])];

static void restore_and_die(int sig)
{
    /* tcsetattr, sigaction and raise are async-signal-safe. */
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

/* Asks for the password twice on the terminal (standard input) with echo
 * off. Returns 0 or an exit code, as mochictl_password_read. */
static int read_terminal(const char *command, char *pw, size_t *len)
{
    char again[LINE_MAX_BYTES];
    size_t again_len = 0;
    int code = 1;
    struct termios quiet;
    if (tcgetattr(STDIN_FILENO, &saved_termios) != 0) {
        fprintf(stderr, "%s: cannot read the terminal's settings: %s\n", command, strerror(errno));
        return 1;
    }
    quiet = saved_termios;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    quiet.c_lflag |= ICANON;
    size_t nsignals = sizeof(restore_signals) / sizeof(restore_signals[0]);
    struct sigaction on_signal;
    memset(&on_signal, 0, sizeof(on_signal));
    on_signal.sa_handler = restore_and_die;
    sigemptyset(&on_signal.sa_mask);
    for (size_t i = 0; i < nsignals; i++)
        sigaction(restore_signals[i], &on_signal, &saved_actions[i]);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
        fprintf(stderr, "%s: cannot turn the terminal's echo off: %s\n", command, strerror(errno));
        goto out;
    }

    enum line_result r;
    fprintf(stderr, "New password (%d characters at least): ", MOCHICTL_PASSWORD_MIN_CHARS);
    r = read_line(STDIN_FILENO, pw, LINE_MAX_BYTES, len);
    fputc('\n', stderr);
    if (r == LINE_OK) {
        code = check(command, pw, *len);
        if (code != 0)
            goto out;
        fprintf(stderr, "Again: ");
        r = read_line(STDIN_FILENO, again, sizeof(again), &again_len);
        fputc('\n', stderr);
    }
    code = 2;
    switch (r) {
    case LINE_OK:
        if (again_len != *len || sodium_memcmp(again, pw, *len) != 0) {
            fprintf(stderr, "%s: the two passwords differ\n", command);
            goto out;
        }
        code = 0;
        break;
    case LINE_EOF:
        fprintf(stderr, "%s: no password given\n", command);
        break;
    case LINE_TOO_LONG:
        fprintf(stderr, "%s: the password is longer than %d bytes\n", command,
                MOCHICTL_PASSWORD_MAX_BYTES);
        break;
    case LINE_ERROR:
        fprintf(stderr, "%s: cannot read the terminal: %s\n", command, strerror(errno));
        code = 1;
        break;
    }
out:
    sodium_memzero(again, sizeof(again));
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
    for (size_t i = 0; i < nsignals; i++)
        sigaction(restore_signals[i], &saved_actions[i], NULL);
    return code;
}

int mochictl_password_read(const char *command, char pw[MOCHICTL_PASSWORD_MAX_BYTES + 1],
                           size_t *len)
{
    char line[LINE_MAX_BYTES];
    size_t n = 0;
    int code = 0;
    *len = 0;
    if (isatty(STDIN_FILENO)) {
        code = read_terminal(command, line, &n);
    } else {
        switch (read_line(STDIN_FILENO, line, sizeof(line), &n)) {
        case LINE_OK:
            code = check(command, line, n);
            break;
        case LINE_EOF:
            fprintf(stderr,
                    "%s: no password on standard input: give it as its first line, or run "
                    "on a terminal to be asked for it\n",
                    command);
            code = 2;
            break;
        case LINE_TOO_LONG:
            fprintf(stderr, "%s: the password is longer than %d bytes\n", command,
                    MOCHICTL_PASSWORD_MAX_BYTES);
            code = 2;
            break;
        case LINE_ERROR:
            fprintf(stderr, "%s: cannot read standard input: %s\n", command, strerror(errno));
            code = 1;
            break;
        }
    }
    if (code == 0) {
        memcpy(pw, line, n + 1);
        *len = n;
    }
    sodium_memzero(line, sizeof(line));
    return code;
}

int mochictl_password_hash(const char *command, const char *pw, size_t len,
                           char out[crypto_pwhash_STRBYTES])
{
    if (crypto_pwhash_str(out, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        fprintf(stderr, "%s: hashing the password failed (out of memory: Argon2id needs %zu MiB)\n",
                command, (size_t)crypto_pwhash_MEMLIMIT_INTERACTIVE >> 20);
        return 1;
    }
    return 0;
}
