#include "tools/devkafka/devkafka_control.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_BYTES 1024

struct source {
    const char *name; /* "stdin" or "fifo", for logs */
    int fd;           /* -1 once closed */
    bool owns_fd;
    char buf[LINE_MAX_BYTES];
    size_t len;
    bool discarding; /* inside a line that was too long: drop up to its end */
};

struct mochi_devkafka_control {
    struct source sources[2]; /* stdin, fifo */
    char *fifo_path;          /* owned; NULL without a fifo */
    bool fifo_created;
};

static void source_init(struct source *source, const char *name, int fd, bool owns_fd);
static void source_close(struct source *source);
static void source_read(struct source *source, struct mochi_devkafka *devkafka);
static void run_line(const struct source *source, struct mochi_devkafka *devkafka,
                     const char *line);
static void answer(const char *reply);

static void source_init(struct source *source, const char *name, int fd, bool owns_fd)
{
    source->name = name;
    source->fd = fd;
    source->owns_fd = owns_fd;
    source->len = 0;
    source->discarding = false;
}

static void source_close(struct source *source)
{
    if (source->fd >= 0 && source->owns_fd)
        close(source->fd);
    source->fd = -1;
}

int mochi_devkafka_control_new(const char *fifo_path, struct mochi_devkafka_control **out,
                               char *err, size_t errlen)
{
    struct mochi_devkafka_control *control = calloc(1, sizeof(*control));
    if (control == NULL) {
        snprintf(err, errlen, "out of memory");
        return MOCHI_ERR_NOMEM;
    }
    source_init(&control->sources[0], "stdin", STDIN_FILENO, false);
    source_init(&control->sources[1], "fifo", -1, true);
    if (fifo_path == NULL) {
        *out = control;
        return 0;
    }

    int rc = MOCHI_ERR_IO;
    control->fifo_path = strdup(fifo_path);
    if (control->fifo_path == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = MOCHI_ERR_NOMEM;
        goto out;
    }
    if (mkfifo(fifo_path, 0600) == 0) {
        control->fifo_created = true;
    } else {
        struct stat st;
        if (errno != EEXIST || stat(fifo_path, &st) != 0 || !S_ISFIFO(st.st_mode)) {
            snprintf(err, errlen, "cannot create fifo %s: %s", fifo_path,
                     errno == EEXIST ? "a file that is not a fifo is there" : strerror(errno));
            goto out;
        }
    }
    /* O_RDWR: we are a writer too, so the fifo never reports EOF and
     * opening it does not wait for another writer. */
    int fd = open(fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open fifo %s: %s", fifo_path, strerror(errno));
        goto out;
    }
    source_init(&control->sources[1], "fifo", fd, true);
    *out = control;
    return 0;
out:
    mochi_devkafka_control_destroy(control);
    return rc;
}

void mochi_devkafka_control_destroy(struct mochi_devkafka_control *control)
{
    if (control == NULL)
        return;
    for (size_t i = 0; i < 2; i++)
        source_close(&control->sources[i]);
    if (control->fifo_created)
        unlink(control->fifo_path);
    free(control->fifo_path);
    free(control);
}

static void answer(const char *reply)
{
    /* stdout may be a pipe whose reader left: SIGPIPE is ignored and the
     * answer is lost, the broker keeps serving. */
    fputs(reply, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

static void run_line(const struct source *source, struct mochi_devkafka *devkafka, const char *line)
{
    char reply[512];
    int rc = mochi_devkafka_command(devkafka, line, reply, sizeof(reply));
    if (rc == MOCHI_ERR_NOTFOUND)
        return; /* blank line */
    answer(reply);
    char qline[256], qreply[600];
    mochi_log(rc == 0 ? MOCHI_LOG_INFO : MOCHI_LOG_WARN, "devkafka",
              "msg=command source=%s command=%s answer=%s", source->name,
              mochi_log_quote(qline, sizeof(qline), line),
              mochi_log_quote(qreply, sizeof(qreply), reply));
}

/* Reads what is available and runs each complete line. A line longer than
 * the buffer is answered with an error once and skipped. */
static void source_read(struct source *source, struct mochi_devkafka *devkafka)
{
    ssize_t n = read(source->fd, source->buf + source->len, sizeof(source->buf) - source->len);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        mochi_log(MOCHI_LOG_WARN, "devkafka",
                  "msg=\"control input failed, ignoring it\" "
                  "source=%s error=\"%s\"",
                  source->name, strerror(errno));
        source_close(source);
        return;
    }
    if (n == 0) {
        mochi_log(MOCHI_LOG_INFO, "devkafka",
                  "msg=\"control input closed, still serving\" source=%s", source->name);
        source_close(source);
        return;
    }
    source->len += (size_t)n;

    size_t start = 0;
    for (size_t i = 0; i < source->len; i++) {
        if (source->buf[i] != '\n')
            continue;
        source->buf[i] = '\0';
        if (source->discarding)
            source->discarding = false;
        else
            run_line(source, devkafka, source->buf + start);
        start = i + 1;
    }
    memmove(source->buf, source->buf + start, source->len - start);
    source->len -= start;
    if (source->len == sizeof(source->buf)) {
        if (!source->discarding) {
            answer("error line too long");
            mochi_log(MOCHI_LOG_WARN, "devkafka", "msg=\"control line too long\" source=%s",
                      source->name);
        }
        source->discarding = true;
        source->len = 0;
    }
}

void mochi_devkafka_control_serve(struct mochi_devkafka_control *control,
                                  struct mochi_devkafka *devkafka, int timeout_ms)
{
    struct pollfd fds[2];
    struct source *polled[2];
    nfds_t nfds = 0;
    for (size_t i = 0; i < 2; i++) {
        if (control->sources[i].fd < 0)
            continue;
        fds[nfds].fd = control->sources[i].fd;
        fds[nfds].events = POLLIN;
        fds[nfds].revents = 0;
        polled[nfds++] = &control->sources[i];
    }
    int ready = poll(fds, nfds, timeout_ms); /* with nfds 0, just sleeps */
    if (ready <= 0)
        return; /* timeout, or EINTR from the stop signal */
    for (nfds_t i = 0; i < nfds; i++) {
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
            source_read(polled[i], devkafka);
        else if (fds[i].revents & POLLNVAL)
            source_close(polled[i]);
    }
}
