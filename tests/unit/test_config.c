/* The settings table: defaults, environment, flags (flags win), validation
 * with one-line errors that name the setting, -X pairs kept (common/kafka
 * applies them: test_kafka), secrets never echoed, typed lookups, enums,
 * a library's table. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"

static const struct mochi_setting setting_batch = {.name = "batch-size",
                                                   .env = "MOCHI_TEST_BATCH",
                                                   .type = MOCHI_SETTING_INT,
                                                   .default_value = "500",
                                                   .min = 1,
                                                   .max = 10000,
                                                   .help = "batch size"};
static const struct mochi_setting setting_wait = {.name = "max-wait",
                                                  .env = "MOCHI_TEST_WAIT",
                                                  .type = MOCHI_SETTING_DURATION,
                                                  .default_value = "100ms",
                                                  .min = 1,
                                                  .max = 60000,
                                                  .help = "wait"};
static const struct mochi_setting setting_json = {
    .name = "json", .type = MOCHI_SETTING_FLAG, .default_value = "false", .help = "json"};
static const struct mochi_setting setting_day = {
    .name = "from", .type = MOCHI_SETTING_DATE, .help = "first day"};

static const char *const colours[] = {"red", "green", "blue", NULL};
static const struct mochi_setting setting_colour = {.name = "colour",
                                                    .env = "MOCHI_TEST_COLOUR",
                                                    .type = MOCHI_SETTING_ENUM,
                                                    .default_value = "green",
                                                    .choices = colours,
                                                    .help = "a colour"};
static const struct mochi_setting setting_shape = {
    .name = "shape", .type = MOCHI_SETTING_ENUM, .choices = colours + 1, .help = "no default"};

static const struct mochi_setting *const settings[] = {&mochi_setting_brokers,
                                                       &mochi_setting_database_url,
                                                       &mochi_setting_listen,
                                                       &mochi_setting_trusted_proxies,
                                                       &setting_batch,
                                                       &setting_wait,
                                                       &setting_json,
                                                       &setting_day,
                                                       &setting_colour,
                                                       &setting_shape,
                                                       &mochi_setting_log_level,
                                                       NULL};

static const struct mochi_program_spec spec = {
    .name = "test", .summary = "test program", .settings = settings, .kafka_properties = true};

/* A setting of no table, and a twin of setting_batch at another address. */
static const struct mochi_setting setting_absent = {
    .name = "absent", .type = MOCHI_SETTING_INT, .min = 0, .max = 1, .help = "absent"};
static const struct mochi_setting setting_batch_twin = {.name = "batch-size",
                                                        .type = MOCHI_SETTING_INT,
                                                        .default_value = "500",
                                                        .min = 1,
                                                        .max = 10000,
                                                        .help = "batch size"};

/* A program whose library (as the stream runtime) brings its own table. */
static const struct mochi_setting setting_lib_workers = {.name = "workers",
                                                         .env = "MOCHI_TEST_WORKERS",
                                                         .type = MOCHI_SETTING_INT,
                                                         .default_value = "4",
                                                         .min = 1,
                                                         .max = 64,
                                                         .help = "library workers"};
static const struct mochi_setting setting_lib_fast = {
    .name = "fast", .type = MOCHI_SETTING_FLAG, .default_value = "false", .help = "library flag"};
static const struct mochi_setting *const lib_settings[] = {&setting_lib_workers, &setting_lib_fast,
                                                           NULL};
static const struct mochi_setting *const own_settings[] = {&setting_batch, &mochi_setting_topic,
                                                           NULL};
static const struct mochi_program_spec lib_spec = {.name = "libtest",
                                                   .summary = "a program with a library",
                                                   .settings = own_settings,
                                                   .library_settings = lib_settings};
/* The library's table naming a setting the program has too. */
static const struct mochi_setting *const clashing_settings[] = {&setting_batch_twin, NULL};
static const struct mochi_program_spec clash_spec = {.name = "clash",
                                                     .summary = "two --batch-size",
                                                     .settings = own_settings,
                                                     .library_settings = clashing_settings};

/* Parses "test" followed by args (NULL-terminated) against with. */
static int parse_spec(const struct mochi_program_spec *with, struct mochi_config **config,
                      char *err, size_t errlen, char **args)
{
    char *argv[32] = {"test"};
    int argc = 1;
    while (args[argc - 1] != NULL && argc < 31) {
        argv[argc] = args[argc - 1];
        argc++;
    }
    argv[argc] = NULL;
    *config = NULL;
    return mochi_config_parse(with, argc, argv, config, err, errlen);
}

/* parse_spec against spec, the arguments given one by one. */
static int parse(struct mochi_config **config, char *err, size_t errlen, ...)
{
    char *args[31] = {NULL};
    size_t n = 0;
    va_list ap;
    va_start(ap, errlen);
    for (char *a = va_arg(ap, char *); a != NULL && n < 30; a = va_arg(ap, char *))
        args[n++] = a;
    va_end(ap);
    return parse_spec(&spec, config, err, errlen, args);
}

/* Runs lookup(config) in a child process with its stderr into out.
 * Returns the child's wait status. */
static int run_child(void (*lookup)(const struct mochi_config *), const struct mochi_config *c,
                     char *out, size_t outlen)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        lookup(c);
        _exit(4); /* lookup exits itself */
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < outlen && (n = read(fds[0], out + len, outlen - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* Each child exits 3 when its lookup returns: only lookup_present's may. */
static void lookup_absent(const struct mochi_config *c)
{
    (void)mochi_config_int(c, &setting_absent);
    _exit(3);
}

static void lookup_twin(const struct mochi_config *c)
{
    (void)mochi_config_int(c, &setting_batch_twin);
    _exit(3);
}

static void lookup_wrong_type(const struct mochi_config *c)
{
    (void)mochi_config_ms(c, &setting_batch);
    _exit(3);
}

static void lookup_present(const struct mochi_config *c)
{
    _exit(mochi_config_int(c, &setting_batch) == 500 ? 0 : 3);
}

static int setup(void **state)
{
    (void)state;
    const char *vars[] = {
        "MOCHI_KAFKA_BROKERS", "MOCHI_DATABASE_URL", "MOCHI_LISTEN",      "MOCHI_TRUSTED_PROXIES",
        "MOCHI_TEST_BATCH",    "MOCHI_TEST_WAIT",    "MOCHI_TEST_COLOUR", "MOCHI_LOG_LEVEL",
        "MOCHI_TEST_WORKERS",  "MOCHI_TOPIC"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    setenv("MOCHI_DATABASE_URL", "postgresql://mochi:hunter2@db.internal/mochi", 1);
    return 0;
}

static void defaults_apply(void **state)
{
    (void)state;
    struct mochi_config *c;
    char err[256] = "";
    assert_int_equal(parse(&c, err, sizeof(err), NULL), MOCHI_CONFIG_RUN);
    assert_string_equal(mochi_config_str(c, &mochi_setting_brokers), "localhost:9092");
    assert_string_equal(mochi_config_str(c, &mochi_setting_listen), "127.0.0.1:8080");
    assert_int_equal(mochi_config_int(c, &setting_batch), 500);
    assert_int_equal(mochi_config_ms(c, &setting_wait), 100);
    assert_false(mochi_config_flag(c, &setting_json));
    assert_false(mochi_config_is_set(c, &mochi_setting_brokers));
    assert_null(mochi_config_str(c, &setting_day));
    mochi_config_destroy(c);
}

static void flags_win_over_environment(void **state)
{
    (void)state;
    struct mochi_config *c;
    char err[256] = "";
    setenv("MOCHI_KAFKA_BROKERS", "env-host:9092", 1);
    setenv("MOCHI_TEST_BATCH", "42", 1);
    assert_int_equal(parse(&c, err, sizeof(err), "--brokers", "flag-host:9093", "--json",
                           "--max-wait", "2s", "--from", "2026-02-28", NULL),
                     MOCHI_CONFIG_RUN);
    assert_string_equal(mochi_config_str(c, &mochi_setting_brokers), "flag-host:9093");
    assert_int_equal(mochi_config_int(c, &setting_batch), 42);
    assert_true(mochi_config_is_set(c, &setting_batch));
    assert_int_equal(mochi_config_ms(c, &setting_wait), 2000);
    assert_true(mochi_config_flag(c, &setting_json));
    assert_string_equal(mochi_config_str(c, &setting_day), "2026-02-28");
    assert_int_equal(mochi_config_int(c, &setting_day), 20512); /* days since 1970-01-01 */
    mochi_config_destroy(c);
    unsetenv("MOCHI_KAFKA_BROKERS");
    unsetenv("MOCHI_TEST_BATCH");
}

static void bad_values_name_the_setting(void **state)
{
    (void)state;
    struct mochi_config *c;
    char err[256];
    struct {
        const char *flag, *value, *expect;
    } cases[] = {
        {"--batch-size", "0", "--batch-size: must be between 1 and 10000"},
        {"--batch-size", "12abc", "--batch-size: expected an integer"},
        {"--listen", "localhost", "--listen: expected HOST:PORT"},
        {"--listen", "127.0.0.1:70000", "--listen: expected HOST:PORT"},
        {"--max-wait", "soon", "--max-wait: expected a duration"},
        {"--trusted-proxies", "10.0.0.0/33", "--trusted-proxies: '10.0.0.0/33'"},
        {"--from", "2026-02-30", "--from: not a calendar date"},
        {"--from", "26-02-01", "--from: expected a date"},
        {"--from", "2026-13-01", "--from: not a calendar date"},
        {"--from", "2026-02-01x", "--from: expected a date"},
        {"--from", "2026/02/01", "--from: expected a date"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        assert_int_equal(parse(&c, err, sizeof(err), cases[i].flag, cases[i].value, NULL),
                         MOCHI_ERR_INVALID);
        assert_null(c);
        assert_non_null(strstr(err, cases[i].expect));
        assert_null(strchr(err, '\n'));
    }
    setenv("MOCHI_TEST_BATCH", "-5", 1);
    assert_int_equal(parse(&c, err, sizeof(err), NULL), MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "MOCHI_TEST_BATCH: must be between"));
    unsetenv("MOCHI_TEST_BATCH");
    assert_int_equal(parse(&c, err, sizeof(err), "--no-such-flag", NULL), MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "unknown option '--no-such-flag'"));
    assert_int_equal(parse(&c, err, sizeof(err), "stray", NULL), MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "unexpected argument 'stray'"));
}

static void missing_required_and_secret_not_echoed(void **state)
{
    (void)state;
    struct mochi_config *c;
    char err[256];
    unsetenv("MOCHI_DATABASE_URL");
    assert_int_equal(parse(&c, err, sizeof(err), NULL), MOCHI_ERR_INVALID);
    assert_string_equal(err, "--database-url (or MOCHI_DATABASE_URL) is required");
    assert_int_equal(parse(&c, err, sizeof(err), "--database-url", "host='hunter2", NULL),
                     MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "--database-url: not a valid PostgreSQL conninfo"));
    assert_null(strstr(err, "hunter2"));
    /* a malformed port, which libpq itself only notices when connecting */
    const char *bad_ports[] = {"postgresql://u:hunter2@db:99999x/mochi",
                               "postgresql://u@db:0/mochi", "host=db port=65536",
                               "host=a,b port=5432,x1"};
    for (size_t i = 0; i < sizeof(bad_ports) / sizeof(bad_ports[0]); i++) {
        assert_int_equal(parse(&c, err, sizeof(err), "--database-url", bad_ports[i], NULL),
                         MOCHI_ERR_INVALID);
        assert_non_null(strstr(err, "--database-url: the port must be a number"));
        assert_null(strstr(err, "hunter2"));
    }
    const char *good_ports[] = {"postgresql://u@db:5432/mochi", "host=a,b port=5432,",
                                "host=/tmp/sock dbname=x"};
    for (size_t i = 0; i < sizeof(good_ports) / sizeof(good_ports[0]); i++) {
        assert_int_equal(parse(&c, err, sizeof(err), "--database-url", good_ports[i], NULL), 0);
        mochi_config_destroy(c);
    }
}

static void kafka_properties_pass_through(void **state)
{
    (void)state;
    struct mochi_config *c;
    char err[256] = "";
    assert_int_equal(parse(&c, err, sizeof(err), "-X", "linger.ms=7", "-X", "client.id=a=b", NULL),
                     MOCHI_CONFIG_RUN);
    assert_int_equal(mochi_config_kafka_count(c), 2);
    assert_string_equal(mochi_config_kafka(c, 1)->key, "client.id");
    assert_string_equal(mochi_config_kafka(c, 1)->value, "a=b");
    assert_string_equal(mochi_config_kafka(c, 0)->key, "linger.ms");
    assert_string_equal(mochi_config_kafka(c, 0)->value, "7");
    assert_null(mochi_config_kafka(c, 2));
    mochi_config_destroy(c);
    assert_int_equal(parse(&c, err, sizeof(err), "-X", "novalue", NULL), MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "-X: expected key=value"));
}

/* A lookup the table cannot answer is a bug: it names the program and the
 * setting and aborts, in release builds too (NDEBUG changes nothing). */
static void lookup_outside_the_table_aborts(void **state)
{
    (void)state;
    struct mochi_config *c;
    char err[256] = "", out[512];
    assert_int_equal(parse(&c, err, sizeof(err), NULL), MOCHI_CONFIG_RUN);

    int status = run_child(lookup_absent, c, out, sizeof(out));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(
        strstr(out, "test: bug: mochi_config_int(--absent): the setting is not in the program's "
                    "table\n"));

    /* Same name as a setting of the table, but not that setting. */
    status = run_child(lookup_twin, c, out, sizeof(out));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(out, "mochi_config_int(--batch-size): the setting is not in"));

    status = run_child(lookup_wrong_type, c, out, sizeof(out));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(
        out,
        "test: bug: mochi_config_ms(--batch-size): the setting is not of the type this reads"));

    /* The control: the same child with a lookup the table answers. */
    status = run_child(lookup_present, c, out, sizeof(out));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(out, "");

    assert_true(mochi_config_has(c, &setting_batch));
    assert_false(mochi_config_has(c, &setting_batch_twin));
    assert_false(mochi_config_has(c, &setting_absent));
    mochi_config_destroy(c);
}

/* An ENUM reads as the index of its choice, whatever the case it was
 * given in, and its text is the table's spelling. */
static void enum_reads_the_index_of_its_choice(void **state)
{
    (void)state;
    struct mochi_config *c;
    char err[256] = "";
    assert_int_equal(parse(&c, err, sizeof(err), NULL), MOCHI_CONFIG_RUN);
    assert_int_equal(mochi_config_enum(c, &setting_colour), 1);
    assert_string_equal(mochi_config_str(c, &setting_colour), "green");
    assert_false(mochi_config_is_set(c, &setting_colour));
    assert_int_equal(mochi_config_enum(c, &setting_shape), -1); /* no value, no default */
    assert_int_equal(mochi_config_enum(c, &mochi_setting_log_level), 1);
    mochi_config_destroy(c);

    setenv("MOCHI_TEST_COLOUR", "blue", 1);
    assert_int_equal(parse(&c, err, sizeof(err), "--shape", "Blue", NULL), MOCHI_CONFIG_RUN);
    assert_int_equal(mochi_config_enum(c, &setting_colour), 2);
    assert_true(mochi_config_is_set(c, &setting_colour));
    assert_int_equal(mochi_config_enum(c, &setting_shape), 1); /* its choices are colours + 1 */
    assert_string_equal(mochi_config_str(c, &setting_shape), "blue");
    mochi_config_destroy(c);

    assert_int_equal(parse(&c, err, sizeof(err), "--colour", "RED", "--log-level", "ERROR", NULL),
                     MOCHI_CONFIG_RUN);
    assert_int_equal(mochi_config_enum(c, &setting_colour), 0);
    assert_string_equal(mochi_config_str(c, &setting_colour), "red");
    assert_int_equal(mochi_config_enum(c, &mochi_setting_log_level), 3);
    assert_string_equal(mochi_config_str(c, &mochi_setting_log_level), "error");
    mochi_config_destroy(c);
    unsetenv("MOCHI_TEST_COLOUR");
}

/* A value outside the choices is refused with every choice named. */
static void enum_error_names_the_choices(void **state)
{
    (void)state;
    struct mochi_config *c;
    char err[256] = "";
    assert_int_equal(parse(&c, err, sizeof(err), "--colour", "purple", NULL), MOCHI_ERR_INVALID);
    assert_null(c);
    assert_string_equal(err, "--colour: expected red, green or blue (got 'purple')");
    assert_int_equal(parse(&c, err, sizeof(err), "--shape", "red", NULL), MOCHI_ERR_INVALID);
    assert_string_equal(err, "--shape: expected green or blue (got 'red')");
    /* a prefix is not a choice */
    assert_int_equal(parse(&c, err, sizeof(err), "--colour", "gre", NULL), MOCHI_ERR_INVALID);
    assert_int_equal(parse(&c, err, sizeof(err), "--colour", "", NULL), MOCHI_ERR_INVALID);
    setenv("MOCHI_LOG_LEVEL", "verbose", 1);
    assert_int_equal(parse(&c, err, sizeof(err), NULL), MOCHI_ERR_INVALID);
    assert_string_equal(err,
                        "MOCHI_LOG_LEVEL: expected debug, info, warn or error (got 'verbose')");
    unsetenv("MOCHI_LOG_LEVEL");

    /* an ENUM without choices is the table's mistake, caught at start */
    static const struct mochi_setting no_choices = {
        .name = "mood", .type = MOCHI_SETTING_ENUM, .help = "no choices"};
    static const struct mochi_setting *const no_choices_table[] = {&no_choices, NULL};
    static const struct mochi_program_spec no_choices_spec = {
        .name = "moody", .summary = "an empty enum", .settings = no_choices_table};
    assert_int_equal(parse_spec(&no_choices_spec, &c, err, sizeof(err), (char *[]){NULL}),
                     MOCHI_ERR_INVALID);
    assert_string_equal(err, "bug: --mood lists no choices");

    /* validation alone, as settings read at runtime use it */
    long long n = -1;
    assert_int_equal(mochi_setting_validate(&setting_colour, "Blue", &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    char small[16];
    assert_int_equal(mochi_setting_validate(&setting_colour, "x", &n, small, sizeof(small)),
                     MOCHI_ERR_INVALID);
    assert_string_equal(small, "expected red, g"); /* cut, still terminated */
}

/* --help shows an ENUM's choices where other settings show their type. */
static void help_lists_the_choices(void **state)
{
    (void)state;
    char text[8192] = "";
    FILE *f = fmemopen(text, sizeof(text) - 1, "w");
    assert_non_null(f);
    mochi_config_print_help(&spec, f);
    fclose(f);
    assert_non_null(strstr(text, "\n  --colour red|green|blue "));
    assert_non_null(strstr(text, "a colour [env MOCHI_TEST_COLOUR] (default green)\n"));
    assert_non_null(strstr(text, "\n  --shape green|blue "));
    assert_non_null(strstr(text, "\n  --log-level debug|info|warn|error "));
    assert_non_null(strstr(text, "\n  --batch-size N "));
}

/* Runs the parse of args against with, with stdout into out and the
 * error into err. */
static int parse_capturing_stdout(const struct mochi_program_spec *with, char **args, char *out,
                                  size_t outlen, char *err, size_t errlen)
{
    char path[] = "/tmp/test_config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);
    struct mochi_config *c = NULL;
    int rc = parse_spec(with, &c, err, errlen, args);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    mochi_config_destroy(c);
    ssize_t n = pread(fd, out, outlen - 1, 0);
    assert_true(n >= 0);
    out[n] = '\0';
    close(fd);
    return rc;
}

/* A library's table is parsed, looked up, listed by --help and
 * --print-config as part of the program's, after the program's own. */
static void library_settings_are_the_programs(void **state)
{
    (void)state;
    struct mochi_config *c;
    char err[256] = "";
    setenv("MOCHI_TEST_WORKERS", "8", 1);
    assert_int_equal(parse_spec(&lib_spec, &c, err, sizeof(err),
                                (char *[]){"--fast", "--batch-size", "7", NULL}),
                     MOCHI_CONFIG_RUN);
    assert_int_equal(mochi_config_int(c, &setting_lib_workers), 8);
    assert_true(mochi_config_is_set(c, &setting_lib_workers));
    assert_true(mochi_config_flag(c, &setting_lib_fast));
    assert_int_equal(mochi_config_int(c, &setting_batch), 7);
    assert_string_equal(mochi_config_str(c, &mochi_setting_topic), "mochi.pageviews");
    assert_true(mochi_config_has(c, &setting_lib_workers));
    assert_false(mochi_config_has(c, &setting_json));
    mochi_config_destroy(c);
    unsetenv("MOCHI_TEST_WORKERS");

    /* validated as the program's own, and only whole names */
    assert_int_equal(
        parse_spec(&lib_spec, &c, err, sizeof(err), (char *[]){"--workers", "65", NULL}),
        MOCHI_ERR_INVALID);
    assert_string_equal(err, "--workers: must be between 1 and 64 (got '65')");
    assert_int_equal(parse_spec(&lib_spec, &c, err, sizeof(err), (char *[]){"--work", "3", NULL}),
                     MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "unknown option '--work'"));

    char out[4096];
    assert_int_equal(parse_capturing_stdout(&lib_spec, (char *[]){"--help", NULL}, out, sizeof(out),
                                            err, sizeof(err)),
                     MOCHI_CONFIG_EXIT);
    const char *batch = strstr(out, "\n  --batch-size N ");
    const char *topic = strstr(out, "\n  --topic TEXT ");
    const char *workers = strstr(out, "\n  --workers N ");
    const char *fast = strstr(out, "\n  --fast ");
    const char *print = strstr(out, "\n  --print-config ");
    assert_non_null(batch);
    assert_non_null(workers);
    assert_true(batch < topic && topic < workers && workers < fast && fast < print);

    assert_int_equal(parse_capturing_stdout(&lib_spec, (char *[]){"--print-config", NULL}, out,
                                            sizeof(out), err, sizeof(err)),
                     MOCHI_CONFIG_EXIT);
    assert_string_equal(out, "MOCHI_TEST_BATCH=500\nMOCHI_TOPIC=mochi.pageviews\n"
                             "MOCHI_TEST_WORKERS=4\nfast=false\n");

    /* a name in both tables would leave one of them unreachable */
    assert_int_equal(parse_spec(&clash_spec, &c, err, sizeof(err), (char *[]){NULL}),
                     MOCHI_ERR_INVALID);
    assert_null(c);
    assert_string_equal(err, "bug: two settings are named --batch-size");
}

/* DATE values are days since 1970-01-01 (floor, before 1970 too). */
static void dates_are_day_numbers(void **state)
{
    (void)state;
    struct mochi_setting day = {.name = "day", .type = MOCHI_SETTING_DATE, .help = "a day"};
    char err[128];
    long long n = 0;
    assert_int_equal(mochi_setting_validate(&day, "1970-01-01", &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    assert_int_equal(mochi_setting_validate(&day, "2024-02-29", &n, err, sizeof(err)), 0);
    assert_int_equal(n, 19782);
    assert_int_equal(mochi_setting_validate(&day, "1969-12-31", &n, err, sizeof(err)), 0);
    assert_int_equal(n, -1);
    assert_int_equal(mochi_setting_validate(&day, "2023-02-29", &n, err, sizeof(err)),
                     MOCHI_ERR_INVALID);
    assert_string_equal(err, "not a calendar date");
    assert_int_equal(mochi_setting_validate(&day, "2023-2-28", &n, err, sizeof(err)),
                     MOCHI_ERR_INVALID);
    assert_string_equal(err, "expected a date YYYY-MM-DD");
}

static int listed;

static int list_two(FILE *out)
{
    listed++;
    fprintf(out, "test_events_total\tcounter\toutcome\tevents\n");
    fprintf(out, "test_up\tgauge\t-\t1 when up\n");
    return 0;
}

static int list_fails(FILE *out)
{
    (void)out;
    listed++;
    return MOCHI_ERR_NOMEM;
}

static void print_metrics_lists_families(void **state)
{
    (void)state;
    /* Without the required --database-url: nothing is started. */
    unsetenv("MOCHI_DATABASE_URL");
    struct mochi_program_spec with = spec;
    with.print_metrics = list_two;
    char err[256] = "";
    char printed[8192];
    listed = 0;
    assert_int_equal(parse_capturing_stdout(&with, (char *[]){"--print-metrics", NULL}, printed,
                                            sizeof(printed), err, sizeof(err)),
                     MOCHI_CONFIG_EXIT);
    assert_int_equal(listed, 1);
    assert_string_equal(printed, "test_events_total\tcounter\toutcome\tevents\n"
                                 "test_up\tgauge\t-\t1 when up\n");

    assert_int_equal(parse_capturing_stdout(&with, (char *[]){"--help", NULL}, printed,
                                            sizeof(printed), err, sizeof(err)),
                     MOCHI_CONFIG_EXIT);
    assert_non_null(strstr(printed, "\n  --print-metrics "));

    /* A listing that fails is an error, not an empty list. */
    with.print_metrics = list_fails;
    assert_int_equal(parse_capturing_stdout(&with, (char *[]){"--print-metrics", NULL}, printed,
                                            sizeof(printed), err, sizeof(err)),
                     MOCHI_ERR_INTERNAL);
    assert_non_null(strstr(err, "--print-metrics: listing the metrics failed (out_of_memory)"));
    assert_int_equal(listed, 2);
    assert_string_equal(printed, "");

    /* A program that serves no metrics has no such flag. */
    assert_int_equal(parse_capturing_stdout(&spec, (char *[]){"--print-metrics", NULL}, printed,
                                            sizeof(printed), err, sizeof(err)),
                     MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "unknown option '--print-metrics'"));
    assert_int_equal(parse_capturing_stdout(&spec, (char *[]){"--help", NULL}, printed,
                                            sizeof(printed), err, sizeof(err)),
                     MOCHI_CONFIG_EXIT);
    assert_null(strstr(printed, "--print-metrics"));
}

static void durations(void **state)
{
    (void)state;
    long long ms;
    assert_int_equal(mochi_parse_duration_ms("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(mochi_parse_duration_ms("3", &ms), 0);
    assert_int_equal(ms, 3000);
    assert_int_equal(mochi_parse_duration_ms("2m", &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(mochi_parse_duration_ms("7d", &ms), 0);
    assert_int_equal(ms, 604800000);
    assert_int_equal(mochi_parse_duration_ms("-1s", &ms), MOCHI_ERR_INVALID);
    assert_int_equal(mochi_parse_duration_ms("1w", &ms), MOCHI_ERR_INVALID);
    assert_int_equal(mochi_parse_duration_ms("", &ms), MOCHI_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_apply, setup),
        cmocka_unit_test_setup(flags_win_over_environment, setup),
        cmocka_unit_test_setup(bad_values_name_the_setting, setup),
        cmocka_unit_test_setup(missing_required_and_secret_not_echoed, setup),
        cmocka_unit_test_setup(kafka_properties_pass_through, setup),
        cmocka_unit_test_setup(lookup_outside_the_table_aborts, setup),
        cmocka_unit_test_setup(enum_reads_the_index_of_its_choice, setup),
        cmocka_unit_test_setup(enum_error_names_the_choices, setup),
        cmocka_unit_test(help_lists_the_choices),
        cmocka_unit_test_setup(library_settings_are_the_programs, setup),
        cmocka_unit_test(dates_are_day_numbers),
        cmocka_unit_test(durations),
        cmocka_unit_test_setup(print_metrics_lists_families, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
