/* The Kafka helpers' use of the settings: bootstrap.servers from --brokers,
 * every -X pair applied in order, and Mochi's defaults only where -X set
 * nothing. No broker is contacted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/error.h"
#include "common/kafka.h"

static const struct mochi_setting *const settings[] = {&mochi_setting_brokers, NULL};
static const struct mochi_program_spec spec = {
    .name = "test", .summary = "test program", .settings = settings, .kafka_properties = true};

static struct mochi_config *parse(char **args)
{
    char *argv[16] = {"test"};
    int argc = 1;
    while (argc < 15 && args[argc - 1] != NULL) {
        argv[argc] = args[argc - 1];
        argc++;
    }
    struct mochi_config *config = NULL;
    char err[256] = "";
    assert_int_equal(mochi_config_parse(&spec, argc, argv, &config, err, sizeof(err)),
                     MOCHI_CONFIG_RUN);
    return config;
}

/* The value of key in conf, into buf. */
static const char *conf_get(rd_kafka_conf_t *conf, const char *key, char *buf, size_t size)
{
    assert_int_equal(rd_kafka_conf_get(conf, key, buf, &size), RD_KAFKA_CONF_OK);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    unsetenv("MOCHI_KAFKA_BROKERS");
    return 0;
}

static void properties_apply_in_order(void **state)
{
    (void)state;
    struct mochi_config *c =
        parse((char *[]){"-X", "linger.ms=7", "-X", "client.id=a=b", "-X", "linger.ms=9", NULL});
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256] = "", value[64];
    assert_int_equal(mochi_kafka_apply_properties(c, conf, err, sizeof(err)), 0);
    assert_string_equal(conf_get(conf, "linger.ms", value, sizeof(value)), "9"); /* the last */
    assert_string_equal(conf_get(conf, "client.id", value, sizeof(value)), "a=b");
    rd_kafka_conf_destroy(conf);
    mochi_config_destroy(c);
}

static void refused_property_names_its_key(void **state)
{
    (void)state;
    struct mochi_config *c = parse((char *[]){"-X", "no.such.property=1", NULL});
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256] = "";
    assert_int_equal(mochi_kafka_apply_properties(c, conf, err, sizeof(err)), MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "-X no.such.property: "));
    rd_kafka_conf_destroy(conf);
    mochi_config_destroy(c);
}

/* conf_new: --brokers, the client id, then -X (which wins over both);
 * mochi_kafka_default sets only what -X left alone. */
static void conf_new_then_defaults(void **state)
{
    (void)state;
    struct mochi_config *c =
        parse((char *[]){"--brokers", "k1:9092,k2:9092", "-X", "session.timeout.ms=6000", NULL});
    rd_kafka_conf_t *conf = NULL;
    char err[256] = "", value[64];
    assert_int_equal(mochi_kafka_conf_new(c, "mochi-test", &conf, err, sizeof(err)), 0);
    assert_string_equal(conf_get(conf, "bootstrap.servers", value, sizeof(value)),
                        "k1:9092,k2:9092");
    assert_string_equal(conf_get(conf, "client.id", value, sizeof(value)), "mochi-test");
    assert_int_equal(mochi_kafka_default(c, conf, "session.timeout.ms", "10000", err, sizeof(err)),
                     0);
    assert_string_equal(conf_get(conf, "session.timeout.ms", value, sizeof(value)), "6000");
    assert_int_equal(mochi_kafka_default(c, conf, "fetch.wait.max.ms", "100", err, sizeof(err)), 0);
    assert_string_equal(conf_get(conf, "fetch.wait.max.ms", value, sizeof(value)), "100");
    rd_kafka_conf_destroy(conf);
    mochi_config_destroy(c);

    c = parse((char *[]){"-X", "no.such.property=1", NULL});
    conf = NULL;
    assert_int_equal(mochi_kafka_conf_new(c, "mochi-test", &conf, err, sizeof(err)),
                     MOCHI_ERR_INVALID);
    assert_null(conf);
    assert_non_null(strstr(err, "-X no.such.property"));
    mochi_config_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(properties_apply_in_order, setup),
        cmocka_unit_test_setup(refused_property_names_its_key, setup),
        cmocka_unit_test_setup(conf_new_then_defaults, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
