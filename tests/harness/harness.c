#include "tests/harness/harness.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

static char tmpdir_path[128];
static char path_buf[8][PATH_MAX];
static int path_next;
static int unique_counter;
static char unique_buf[8][64];

static void load_pg_env(char *host, size_t hsize, int *port);
static char **merged_env(char *const extra_env[]);
static void migrate(const struct mochi_test_db *db);

int64_t mochi_test_now_ms(void)
{
    return mochi_clock_mono_ms();
}

/* Rotating static buffers so that a few paths can be used in one call. */
static char *next_path_buf(void)
{
    char *p = path_buf[path_next];
    path_next = (path_next + 1) % 8;
    return p;
}

const char *mochi_test_bin(const char *program)
{
    const char *dir = getenv("MOCHI_BINARY_DIR");
    char *p = next_path_buf();
    snprintf(p, PATH_MAX, "%s/%s", dir ? dir : MOCHI_TEST_BIN_DIR, program);
    return p;
}

const char *mochi_test_src(const char *relative)
{
    const char *dir = getenv("MOCHI_SOURCE_DIR");
    char *p = next_path_buf();
    snprintf(p, PATH_MAX, "%s/%s", dir ? dir : MOCHI_TEST_SOURCE_DIR, relative);
    return p;
}

const char *mochi_test_tmpdir(void)
{
    if (tmpdir_path[0] == '\0') {
        snprintf(tmpdir_path, sizeof(tmpdir_path), "/tmp/mochi-test-XXXXXX");
        if (mkdtemp(tmpdir_path) == NULL)
            fail_msg("mkdtemp: %s", strerror(errno));
        chmod(tmpdir_path, 0755);
    }
    return tmpdir_path;
}

const char *mochi_test_unique(const char *prefix)
{
    char *b = unique_buf[unique_counter % 8];
    snprintf(b, 64, "%s_%d_%d_%ld", prefix, (int)getpid(), unique_counter++,
             (long)(mochi_test_now_ms() % 100000));
    return b;
}

/* ---- processes ---- */

static char **merged_env(char *const extra_env[])
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra_env && extra_env[m])
        m++;
    char **env = calloc(n + m + 1, sizeof(char *));
    if (env == NULL)
        fail_msg("out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* an extra entry overrides the inherited one of the same name */
        size_t namelen = strcspn(environ[i], "=");
        bool overridden = false;
        for (size_t j = 0; j < m; j++)
            if (strncmp(extra_env[j], environ[i], namelen + 1) == 0)
                overridden = true;
        if (!overridden)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = extra_env[j];
    env[k] = NULL;
    return env;
}

void mochi_test_proc_start(struct mochi_test_proc *proc, char *const argv[],
                           char *const extra_env[], bool pipe_stdio)
{
    memset(proc, 0, sizeof(*proc));
    proc->stdin_fd = -1;
    proc->stdout_fd = -1;
    const char *base = strrchr(argv[0], '/');
    snprintf(proc->name, sizeof(proc->name), "%s", base ? base + 1 : argv[0]);
    snprintf(proc->log, sizeof(proc->log), "%s/%s.%d.log", mochi_test_tmpdir(), proc->name,
             unique_counter++);

    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe_stdio && (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0))
        fail_msg("pipe: %s", strerror(errno));
    char **env = merged_env(extra_env);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0); /* its own group: a stray child never gets the test's signals */
        /* ...but it dies with the test, so a failed test leaves nothing behind */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int logfd = open(proc->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int devnull = open("/dev/null", O_RDONLY);
        if (logfd < 0 || devnull < 0)
            _exit(127);
        dup2(pipe_stdio ? in[0] : devnull, STDIN_FILENO);
        dup2(pipe_stdio ? out[1] : logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        signal(SIGPIPE, SIG_DFL);
        execve(argv[0], argv, env);
        dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free(env);
    proc->pid = pid;
    proc->started_ms = mochi_test_now_ms();
    if (pipe_stdio) {
        close(in[0]);
        close(out[1]);
        proc->stdin_fd = in[1];
        proc->stdout_fd = out[0];
    }
}

bool mochi_test_proc_read_line(struct mochi_test_proc *proc, char *buf, size_t size, int timeout_ms)
{
    size_t n = 0;
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    while (n + 1 < size) {
        int left = (int)(deadline - mochi_test_now_ms());
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = proc->stdout_fd, .events = POLLIN};
        int r = poll(&pfd, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        char c;
        ssize_t k = read(proc->stdout_fd, &c, 1);
        if (k <= 0)
            break;
        if (c == '\n') {
            buf[n] = '\0';
            return true;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    return false;
}

void mochi_test_proc_write_line(struct mochi_test_proc *proc, const char *line)
{
    size_t len = strlen(line);
    if (write(proc->stdin_fd, line, len) != (ssize_t)len || write(proc->stdin_fd, "\n", 1) != 1)
        fail_msg("write to %s: %s", proc->name, strerror(errno));
}

static void close_fds(struct mochi_test_proc *proc)
{
    if (proc->stdin_fd >= 0)
        close(proc->stdin_fd);
    if (proc->stdout_fd >= 0)
        close(proc->stdout_fd);
    proc->stdin_fd = proc->stdout_fd = -1;
}

bool mochi_test_proc_alive(struct mochi_test_proc *proc, int *status)
{
    if (proc->pid <= 0)
        return false;
    int st = 0;
    pid_t r = waitpid(proc->pid, &st, WNOHANG);
    if (r == 0)
        return true;
    if (status)
        *status = st;
    proc->pid = 0;
    close_fds(proc);
    return false;
}

/* Waits, up to 3 s after its start, until a process just started has
 * written to its log: by then its main() has run, and the daemons install
 * their signal handlers first thing there. A signal that beats a new
 * process to main() kills it outright (status: the signal), which a test
 * that stops a daemon it has just restarted would take for a crash. */
static void wait_started(const struct mochi_test_proc *proc)
{
    while (mochi_test_now_ms() < proc->started_ms + 3000) {
        struct stat st;
        if (stat(proc->log, &st) == 0 && st.st_size > 0)
            return;
        usleep(10000);
    }
}

int mochi_test_proc_stop(struct mochi_test_proc *proc, int sig, int timeout_ms)
{
    if (proc->pid <= 0)
        return -1;
    if (sig != SIGKILL)
        wait_started(proc);
    kill(proc->pid, sig);
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(proc->pid, &status, WNOHANG);
        if (r == proc->pid)
            break;
        if (mochi_test_now_ms() > deadline) {
            print_message("%s did not exit within %d ms of signal %d: SIGKILL\n", proc->name,
                          timeout_ms, sig);
            kill(proc->pid, SIGKILL);
            waitpid(proc->pid, &status, 0);
            break;
        }
        usleep(10000);
    }
    proc->pid = 0;
    close_fds(proc);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        /* Say why, while the log still exists. */
        char *log = mochi_test_read_file(proc->log);
        size_t len = log ? strlen(log) : 0;
        print_message("%s exited with status %d; the end of its log:\n%s\n", proc->name, status,
                      log ? log + (len > 3000 ? len - 3000 : 0) : "(none)");
        free(log);
    }
    return status;
}

void mochi_test_proc_kill(struct mochi_test_proc *proc)
{
    if (proc->pid <= 0)
        return;
    kill(proc->pid, SIGKILL);
    waitpid(proc->pid, NULL, 0);
    proc->pid = 0;
    close_fds(proc);
}

static char *drain_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        fail_msg("out of memory");
    for (;;) {
        if (len + 1024 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (buf == NULL)
                fail_msg("out of memory");
        }
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    return buf;
}

int mochi_test_run(char *const argv[], char *const extra_env[], int timeout_ms, char **out,
                   char **err)
{
    return mochi_test_run_input(argv, extra_env, NULL, 0, timeout_ms, out, err);
}

int mochi_test_run_input(char *const argv[], char *const extra_env[], const char *input,
                         size_t input_len, int timeout_ms, char **out, char **err)
{
    char outpath[256], errpath[256], inpath[256];
    snprintf(outpath, sizeof(outpath), "%s/run.%d.out", mochi_test_tmpdir(), unique_counter);
    snprintf(errpath, sizeof(errpath), "%s/run.%d.err", mochi_test_tmpdir(), unique_counter);
    snprintf(inpath, sizeof(inpath), "%s/run.%d.in", mochi_test_tmpdir(), unique_counter++);
    if (input != NULL) {
        /* A file rather than a pipe: the child reads it at its own pace and
         * nobody waits on anybody. */
        int fd = open(inpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, input, input_len) != (ssize_t)input_len || close(fd) != 0)
            fail_msg("writing %s: %s", inpath, strerror(errno));
    }
    char **env = merged_env(extra_env);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        int o = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open(input != NULL ? inpath : "/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0)
            _exit(127);
        dup2(in, STDIN_FILENO);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        execve(argv[0], argv, env);
        dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free(env);
    int status = 0;
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (mochi_test_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            print_message("%s timed out after %d ms\n", argv[0], timeout_ms);
            break;
        }
        usleep(5000);
    }
    if (out) {
        int fd = open(outpath, O_RDONLY);
        *out = fd >= 0 ? drain_fd(fd) : strdup("");
        if (fd >= 0)
            close(fd);
    }
    if (err) {
        int fd = open(errpath, O_RDONLY);
        *err = fd >= 0 ? drain_fd(fd) : strdup("");
        if (fd >= 0)
            close(fd);
    }
    unlink(outpath);
    unlink(errpath);
    if (input != NULL)
        unlink(inpath);
    return status;
}

int mochi_test_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int mochi_test_mochictl(const char *database_url, const char *brokers, const char *topic,
                        const char *const args[], int timeout_ms, char **out, char **err)
{
    return mochi_test_mochictl_input(database_url, brokers, topic, args, NULL, 0, timeout_ms, out,
                                     err);
}

int mochi_test_mochictl_input(const char *database_url, const char *brokers, const char *topic,
                              const char *const args[], const char *input, size_t input_len,
                              int timeout_ms, char **out, char **err)
{
    char db_env[700], brokers_env[600], topic_env[300];
    char *env[4];
    int nenv = 0;
    if (database_url != NULL) {
        snprintf(db_env, sizeof(db_env), "MOCHI_DATABASE_URL=%s", database_url);
        env[nenv++] = db_env;
    }
    if (brokers != NULL) {
        snprintf(brokers_env, sizeof(brokers_env), "MOCHI_KAFKA_BROKERS=%s", brokers);
        env[nenv++] = brokers_env;
    }
    if (topic != NULL) {
        snprintf(topic_env, sizeof(topic_env), "MOCHI_TOPIC=%s", topic);
        env[nenv++] = topic_env;
    }
    env[nenv] = NULL;
    char *argv[32] = {(char *)mochi_test_bin("mochictl")};
    int argc = 1;
    for (int i = 0; args[i] != NULL; i++) {
        if (argc == 31)
            fail_msg("mochictl: more than 30 arguments");
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;
    return mochi_test_exit_code(
        mochi_test_run_input(argv, env, input, input_len, timeout_ms, out, err));
}

/* Applies the migrations to db with `mochictl migrate`. */
static void migrate(const struct mochi_test_db *db)
{
    char *out = NULL, *err = NULL;
    int code = mochi_test_mochictl(db->conninfo, NULL, NULL, (const char *[]){"migrate", NULL},
                                   60000, &out, &err);
    if (code != 0)
        fail_msg("mochictl migrate exited %d: %s%s", code, out, err);
    free(out);
    free(err);
}

char *mochi_test_read_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    char *s = drain_fd(fd);
    close(fd);
    return s;
}

/* ---- PostgreSQL ---- */

static void load_pg_env(char *host, size_t hsize, int *port)
{
    const char *envfile = getenv("MOCHI_TEST_PG_ENV");
    if (envfile == NULL)
        fail_msg("MOCHI_TEST_PG_ENV is not set: run the tests through ctest");
    char *text = mochi_test_read_file(envfile);
    if (text == NULL)
        fail_msg("%s is missing: the pg fixture (scripts/pg-test-server) did not run", envfile);
    host[0] = '\0';
    *port = 5432;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "MOCHI_TEST_PG_HOST=", 19) == 0)
            snprintf(host, hsize, "%s", line + 19);
        else if (strncmp(line, "MOCHI_TEST_PG_PORT=", 19) == 0)
            *port = atoi(line + 19);
    }
    free(text);
}

char *mochi_test_pg_dump(const struct mochi_test_db *db)
{
    char host[256], port_text[16];
    int port;
    load_pg_env(host, sizeof(host), &port);
    snprintf(port_text, sizeof(port_text), "%d", port);
    char *const argv[] = {"/usr/bin/pg_dump", "-h", host, "-p", port_text, "-U", "postgres",
                          (char *)db->name,   NULL};
    char *out = NULL, *err = NULL;
    int status = mochi_test_run(argv, NULL, 120000, &out, &err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("pg_dump %s failed: %s", db->name, err ? err : "");
    free(err);
    return out;
}

char *mochi_test_pg_server_log(void)
{
    const char *envfile = getenv("MOCHI_TEST_PG_ENV");
    char *text = envfile ? mochi_test_read_file(envfile) : NULL;
    if (text == NULL)
        fail_msg("no MOCHI_TEST_PG_ENV: run the tests through ctest");
    char path[PATH_MAX] = "";
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, "MOCHI_TEST_PG_DATA=", 19) == 0)
            snprintf(path, sizeof(path), "%s", line + 19);
    free(text);
    /* scripts/pg-test-server logs to DIR/server.log beside DIR/data */
    char *slash = strrchr(path, '/');
    if (slash == NULL)
        fail_msg("no MOCHI_TEST_PG_DATA in %s", envfile);
    snprintf(slash, sizeof(path) - (size_t)(slash - path), "/server.log");
    char *log = mochi_test_read_file(path);
    if (log == NULL)
        fail_msg("cannot read %s", path);
    return log;
}

static PGconn *connect_admin(void)
{
    char host[256], conninfo[400];
    int port;
    load_pg_env(host, sizeof(host), &port);
    snprintf(conninfo, sizeof(conninfo), "host=%s port=%d user=postgres dbname=postgres", host,
             port);
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("connect to the test server: %s", PQerrorMessage(conn));
    return conn;
}

void mochi_test_db_create(struct mochi_test_db *db)
{
    char host[256];
    int port;
    load_pg_env(host, sizeof(host), &port);
    snprintf(db->name, sizeof(db->name), "%s", mochi_test_unique("db"));
    PGconn *admin = connect_admin();
    char sql[256];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db->name);
    mochi_test_db_exec(admin, sql);
    PQfinish(admin);
    snprintf(db->conninfo, sizeof(db->conninfo), "host=%s port=%d user=postgres dbname=%s", host,
             port, db->name);
}

void mochi_test_db_create_migrated(struct mochi_test_db *db)
{
    mochi_test_db_create(db);
    migrate(db);
}

void mochi_test_db_drop(struct mochi_test_db *db)
{
    if (db->name[0] == '\0')
        return;
    PGconn *admin = connect_admin();
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->name);
    mochi_test_db_exec(admin, sql);
    PQfinish(admin);
    db->name[0] = '\0';
}

void mochi_test_db_conninfo_as(const struct mochi_test_db *db, const char *role, char *buf,
                               size_t size)
{
    char host[256];
    int port;
    load_pg_env(host, sizeof(host), &port);
    snprintf(buf, size, "host=%s port=%d user=%s dbname=%s", host, port, role, db->name);
}

PGconn *mochi_test_db_connect(const struct mochi_test_db *db)
{
    PGconn *conn = PQconnectdb(db->conninfo);
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("connect to %s: %s", db->name, PQerrorMessage(conn));
    return conn;
}

void mochi_test_db_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        PQclear(res);
        fail_msg("SQL failed: %s\n  %s", sql, msg);
    }
    PQclear(res);
}

long long mochi_test_db_int(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        PQclear(res);
        fail_msg("query gave no integer: %s\n  %s", sql, msg);
    }
    long long v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

/* One monthly table (sql/010) against the sums of its daily table by
 * site-local month, keys that count nothing left out on both sides: the
 * rows of one that the other lacks (EXCEPT both ways), as text. */
static const struct {
    const char *table, *cols, *nonzero, *daily, *sums, *sums_nonzero;
} monthly_checks[] = {
    {"monthly_page_metrics", "site_id, month, path, page_views", "page_views <> 0",
     "daily_page_metrics", "site_id, date_trunc('month', date)::date, path, sum(page_views)",
     "sum(page_views) <> 0"},
    {"monthly_entry_page_metrics", "site_id, month, path, entries", "entries <> 0",
     "daily_entry_page_metrics", "site_id, date_trunc('month', date)::date, path, sum(entries)",
     "sum(entries) <> 0"},
    {"monthly_source_metrics", "site_id, month, source, entries, visitors",
     "entries <> 0 OR visitors <> 0", "daily_source_metrics",
     "site_id, date_trunc('month', date)::date, source, sum(entries), sum(visitors)",
     "sum(entries) <> 0 OR sum(visitors) <> 0"},
};

long long mochi_test_expect_monthly_sums(PGconn *conn)
{
    long long compared = 0;
    for (size_t i = 0; i < sizeof(monthly_checks) / sizeof(monthly_checks[0]); i++) {
        char sql[2048];
        snprintf(sql, sizeof(sql),
                 "WITH m AS (SELECT %s FROM %s WHERE %s),"
                 " d AS (SELECT %s FROM %s GROUP BY 1, 2, 3 HAVING %s),"
                 " diff AS ((SELECT 'monthly only' AS side, m.*::text AS row FROM"
                 "   (SELECT * FROM m EXCEPT ALL SELECT * FROM d) m)"
                 "  UNION ALL (SELECT 'daily sums only', d.*::text FROM"
                 "   (SELECT * FROM d EXCEPT ALL SELECT * FROM m) d))"
                 " SELECT (SELECT count(*) FROM m) || ' ' || (SELECT count(*) FROM diff) || ' '"
                 " || coalesce((SELECT string_agg(side || ': ' || row, '; ' ORDER BY side, row)"
                 "   FROM (SELECT * FROM diff ORDER BY side, row LIMIT 10) x), '')",
                 monthly_checks[i].cols, monthly_checks[i].table, monthly_checks[i].nonzero,
                 monthly_checks[i].sums, monthly_checks[i].daily, monthly_checks[i].sums_nonzero);
        char out[4096] = "";
        mochi_test_db_text(conn, sql, out, sizeof(out));
        long long rows = 0, diffs = 0;
        int used = 0;
        if (sscanf(out, "%lld %lld %n", &rows, &diffs, &used) < 2)
            fail_msg("%s: cannot read the comparison: %s", monthly_checks[i].table, out);
        if (diffs != 0)
            fail_msg("%s is not the sum of %s by month: %lld rows differ, e.g. %s",
                     monthly_checks[i].table, monthly_checks[i].daily, diffs, out + used);
        compared += rows;
    }
    return compared;
}

bool mochi_test_db_text(PGconn *conn, const char *sql, char *buf, size_t size)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        PQclear(res);
        fail_msg("query failed: %s\n  %s", sql, msg);
    }
    bool ok = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0);
    if (ok)
        snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return ok;
}

/* ---- the pipeline's daemons ---- */

void mochi_test_proc_start_as(struct mochi_test_proc *proc, const struct mochi_test_db *db,
                              const char *role, char *const argv[])
{
    char conninfo[600], db_env[700];
    mochi_test_db_conninfo_as(db, role, conninfo, sizeof(conninfo));
    snprintf(db_env, sizeof(db_env), "MOCHI_DATABASE_URL=%s", conninfo);
    char *const env[] = {db_env, NULL};
    mochi_test_proc_start(proc, argv, env, false);
}

void mochi_test_stream_start(struct mochi_test_proc *proc, const char *program,
                             const char *conninfo, const char *bootstrap, const char *topic,
                             const char *batch_size)
{
    mochi_test_stream_start_with(proc, program, conninfo, bootstrap, topic, batch_size, NULL);
}

void mochi_test_stream_start_with(struct mochi_test_proc *proc, const char *program,
                                  const char *conninfo, const char *bootstrap, const char *topic,
                                  const char *batch_size, const char *const extra[])
{
    char db_env[700];
    snprintf(db_env, sizeof(db_env), "MOCHI_DATABASE_URL=%s", conninfo);
    char *argv[24] = {(char *)mochi_test_bin(program),
                      "--brokers",
                      (char *)bootstrap,
                      "--topic",
                      (char *)topic,
                      "--metrics-listen",
                      "127.0.0.1:0", /* any free port: never collides */
                      "--batch-wait",
                      "50ms",
                      "-X",
                      "session.timeout.ms=6000"};
    int argc = 11;
    if (batch_size != NULL) {
        argv[argc++] = "--batch-size";
        argv[argc++] = (char *)batch_size;
    }
    for (int i = 0; extra != NULL && extra[i] != NULL && i < 8; i++)
        argv[argc++] = (char *)extra[i];
    argv[argc] = NULL;
    char *const env[] = {db_env, NULL};
    mochi_test_proc_start(proc, argv, env, false);
}

int mochi_test_metrics_port(const struct mochi_test_proc *proc, int timeout_ms)
{
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    for (;;) {
        char *log = mochi_test_read_file(proc->log);
        const char *line = log ? strstr(log, "msg=\"metrics server listening\"") : NULL;
        const char *port = line ? strstr(line, " port=") : NULL;
        int found = port ? atoi(port + 6) : 0;
        free(log);
        if (found > 0)
            return found;
        if (mochi_test_now_ms() > deadline)
            fail_msg("%s did not log its metrics port in %d ms", proc->name, timeout_ms);
        usleep(50000);
    }
}

long long mochi_test_metric_in(const char *text, const char *sample)
{
    size_t len = strlen(sample);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, sample, len) == 0 && line[len] == ' ')
            return atoll(line + len + 1);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return -1;
}

long long mochi_test_metric(int port, const char *sample)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    struct mochi_test_response r;
    mochi_test_http("GET", url, NULL, NULL, &r);
    long long value = mochi_test_metric_in(r.body, sample);
    mochi_test_response_free(&r);
    return value;
}

/* ---- waiting ---- */

bool mochi_test_wait_port(int port, int timeout_ms)
{
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    while (mochi_test_now_ms() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
        close(fd);
        if (r == 0)
            return true;
        usleep(20000);
    }
    return false;
}

int mochi_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        fail_msg("no free port: %s", strerror(errno));
    close(fd);
    return ntohs(sin.sin_port);
}

void mochi_test_cleanup(void)
{
    mochi_test_kafka_shutdown_shared();
    if (tmpdir_path[0] == '\0')
        return;
    if (getenv("MOCHI_TEST_KEEP_TMP") == NULL) {
        char *const argv[] = {"/bin/rm", "-rf", tmpdir_path, NULL};
        mochi_test_run(argv, NULL, 30000, NULL, NULL);
    }
    tmpdir_path[0] = '\0';
}

/* ---- a private PostgreSQL server ---- */

static void pg_script(struct mochi_test_pg *pg, const char *cmd)
{
    char *const argv[] = {(char *)mochi_test_src("scripts/pg-test-server"), (char *)cmd, pg->dir,
                          NULL};
    char *out = NULL, *err = NULL;
    int status = mochi_test_run(argv, NULL, 120000, &out, &err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("pg-test-server %s failed: %s%s", cmd, out, err);
    free(out);
    free(err);
}

void mochi_test_pg_start(struct mochi_test_pg *pg)
{
    if (pg->dir[0] == '\0')
        snprintf(pg->dir, sizeof(pg->dir), "%s/pg%d", mochi_test_tmpdir(), unique_counter++);
    snprintf(pg->host, sizeof(pg->host), "%s/sock", pg->dir);
    pg_script(pg, "start");
}

void mochi_test_pg_stop(struct mochi_test_pg *pg)
{
    pg_script(pg, "stop");
}

void mochi_test_pg_db(struct mochi_test_pg *pg, struct mochi_test_db *db)
{
    char conninfo[400];
    snprintf(conninfo, sizeof(conninfo), "host=%s user=postgres dbname=postgres", pg->host);
    PGconn *admin = PQconnectdb(conninfo);
    if (PQstatus(admin) != CONNECTION_OK)
        fail_msg("private server: %s", PQerrorMessage(admin));
    snprintf(db->name, sizeof(db->name), "%s", mochi_test_unique("db"));
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db->name);
    mochi_test_db_exec(admin, sql);
    PQfinish(admin);
    snprintf(db->conninfo, sizeof(db->conninfo), "host=%s user=postgres dbname=%s", pg->host,
             db->name);
    migrate(db);
}
