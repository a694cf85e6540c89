/* The settings table: defaults, environment, flags (flags win), validation
 * with one-line errors that name the setting, -X pass-through, secrets
 * never echoed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/error.h"

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

static const struct mochi_setting *const settings[] = {&mochi_setting_brokers,
                                                       &mochi_setting_database_url,
                                                       &mochi_setting_listen,
                                                       &mochi_setting_trusted_proxies,
                                                       &setting_batch,
                                                       &setting_wait,
                                                       &setting_json,
                                                       &setting_day,
                                                       NULL};

static const struct mochi_program_spec spec = {
    .name = "test", .summary = "test program", .settings = settings, .kafka_properties = true};

static int parse(struct mochi_config **config, char *err, size_t errlen, ...)
{
    char *argv[32] = {"test"};
    int argc = 1;
    va_list ap;
    va_start(ap, errlen);
    for (char *a = va_arg(ap, char *); a != NULL && argc < 31; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    *config = NULL;
    return mochi_config_parse(&spec, argc, argv, config, err, errlen);
}

static int setup(void **state)
{
    (void)state;
    const char *vars[] = {"MOCHI_KAFKA_BROKERS",   "MOCHI_DATABASE_URL", "MOCHI_LISTEN",
                          "MOCHI_TRUSTED_PROXIES", "MOCHI_TEST_BATCH",   "MOCHI_TEST_WAIT"};
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
    assert_string_equal(mochi_config_str(c, "brokers"), "localhost:9092");
    assert_string_equal(mochi_config_str(c, "listen"), "127.0.0.1:8080");
    assert_int_equal(mochi_config_int(c, "batch-size"), 500);
    assert_int_equal(mochi_config_ms(c, "max-wait"), 100);
    assert_false(mochi_config_flag(c, "json"));
    assert_false(mochi_config_is_set(c, "brokers"));
    assert_null(mochi_config_str(c, "from"));
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
    assert_string_equal(mochi_config_str(c, "brokers"), "flag-host:9093");
    assert_int_equal(mochi_config_int(c, "batch-size"), 42);
    assert_true(mochi_config_is_set(c, "batch-size"));
    assert_int_equal(mochi_config_ms(c, "max-wait"), 2000);
    assert_true(mochi_config_flag(c, "json"));
    assert_string_equal(mochi_config_str(c, "from"), "2026-02-28");
    assert_int_equal(mochi_config_int(c, "from"), 20512); /* days since 1970-01-01 */
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
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(mochi_config_apply_kafka(c, conf, err, sizeof(err)), 0);
    char value[64];
    size_t size = sizeof(value);
    assert_int_equal(rd_kafka_conf_get(conf, "linger.ms", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "7");
    rd_kafka_conf_destroy(conf);
    mochi_config_destroy(c);

    assert_int_equal(parse(&c, err, sizeof(err), "-X", "no.such.property=1", NULL),
                     MOCHI_CONFIG_RUN);
    conf = rd_kafka_conf_new();
    assert_int_equal(mochi_config_apply_kafka(c, conf, err, sizeof(err)), MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "-X no.such.property"));
    rd_kafka_conf_destroy(conf);
    mochi_config_destroy(c);
    assert_int_equal(parse(&c, err, sizeof(err), "-X", "novalue", NULL), MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "-X: expected key=value"));
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

/* Runs mochi_config_parse on spec with argv[1] = arg, stdout going to a
 * file; returns the result and the text printed (caller frees). */
static int parse_capturing(const struct mochi_program_spec *s, char *arg, char **printed, char *err,
                           size_t errlen)
{
    char path[] = "/tmp/test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);
    char *argv[] = {"test", arg, NULL};
    struct mochi_config *c = NULL;
    int rc = mochi_config_parse(s, 2, argv, &c, err, errlen);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    mochi_config_destroy(c);
    *printed = calloc(1, 4096);
    assert_non_null(*printed);
    assert_true(pread(fd, *printed, 4095, 0) >= 0);
    close(fd);
    unlink(path);
    return rc;
}

static void print_metrics_lists_families(void **state)
{
    (void)state;
    /* Without the required --database-url: nothing is started. */
    unsetenv("MOCHI_DATABASE_URL");
    struct mochi_program_spec with = spec;
    with.print_metrics = list_two;
    char err[256] = "";
    char *printed = NULL;
    listed = 0;
    assert_int_equal(parse_capturing(&with, "--print-metrics", &printed, err, sizeof(err)),
                     MOCHI_CONFIG_EXIT);
    assert_int_equal(listed, 1);
    assert_string_equal(printed, "test_events_total\tcounter\toutcome\tevents\n"
                                 "test_up\tgauge\t-\t1 when up\n");
    free(printed);

    assert_int_equal(parse_capturing(&with, "--help", &printed, err, sizeof(err)),
                     MOCHI_CONFIG_EXIT);
    assert_non_null(strstr(printed, "\n  --print-metrics "));
    free(printed);

    /* A listing that fails is an error, not an empty list. */
    with.print_metrics = list_fails;
    assert_int_equal(parse_capturing(&with, "--print-metrics", &printed, err, sizeof(err)),
                     MOCHI_ERR_INTERNAL);
    assert_non_null(strstr(err, "--print-metrics: listing the metrics failed (out_of_memory)"));
    assert_int_equal(listed, 2);
    assert_string_equal(printed, "");
    free(printed);

    /* A program that serves no metrics has no such flag. */
    assert_int_equal(parse_capturing(&spec, "--print-metrics", &printed, err, sizeof(err)),
                     MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "unknown option '--print-metrics'"));
    free(printed);
    assert_int_equal(parse_capturing(&spec, "--help", &printed, err, sizeof(err)),
                     MOCHI_CONFIG_EXIT);
    assert_null(strstr(printed, "--print-metrics"));
    free(printed);
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
        cmocka_unit_test(durations),
        cmocka_unit_test_setup(print_metrics_lists_families, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
