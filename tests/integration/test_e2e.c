/* End to end: mochi-loadgen -> mochi-collector -> dev Kafka -> mochi-consumer
 * and mochi-rollup -> PostgreSQL, compared with loadgen's own expectation
 * (computed from what it sent and what the collector answered), and the
 * README's demo command run as a user would, twice, then stopped. */
#include <dirent.h>
#include <jansson.h>
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

#include "tests/harness/harness.h"

static const char *const keys[] = {"e2eSiteKeyAlpha_00001", "e2eSiteKeyBravo_00002",
                                   "e2eSiteKeyCharlie_0003"};
static const char *const domains[] = {"alpha.example", "bravo.example", "charlie.example"};
/* Each site counts in its own zone: the oracle models them independently. */
static const char *const zones[] = {"UTC", "Asia/Kolkata", "Pacific/Kiritimati"};

static void loadgen_to_aggregates(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    for (int i = 0; i < 3; i++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO sites (name, domain, tracking_key, timezone)"
                 " VALUES ('%s', '%s', '%s', '%s')",
                 domains[i], domains[i], keys[i], zones[i]);
        mochi_test_db_exec(conn, sql);
    }
    char topic[64];
    snprintf(topic, sizeof(topic), "%s", mochi_test_unique("e2e"));
    const char *topics[] = {topic, NULL};
    struct mochi_test_kafka kafka;
    mochi_test_kafka_start(&kafka, 3, 6, topics);

    int port = mochi_test_free_port();
    char listen[32], m1[32], m2[32], url[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    snprintf(m1, sizeof(m1), "127.0.0.1:0");
    snprintf(m2, sizeof(m2), "127.0.0.1:0");
    struct mochi_test_proc collector, consumer, rollup;
    char *const collector_args[] = {(char *)mochi_test_bin("mochi-collector"),
                                    "--brokers",
                                    kafka.bootstrap,
                                    "--topic",
                                    topic,
                                    "--listen",
                                    listen,
                                    "--trusted-proxies",
                                    "127.0.0.1/32",
                                    "--metrics-listen",
                                    "127.0.0.1:0",
                                    NULL};
    char *const consumer_args[] = {(char *)mochi_test_bin("mochi-consumer"),
                                   "--brokers",
                                   kafka.bootstrap,
                                   "--topic",
                                   topic,
                                   "--metrics-listen",
                                   m1,
                                   NULL};
    char *const rollup_args[] = {(char *)mochi_test_bin("mochi-rollup"),
                                 "--brokers",
                                 kafka.bootstrap,
                                 "--topic",
                                 topic,
                                 "--metrics-listen",
                                 m2,
                                 NULL};
    mochi_test_proc_start_as(&collector, &db, "mochi_collector", collector_args);
    mochi_test_proc_start_as(&consumer, &db, "mochi_consumer", consumer_args);
    mochi_test_proc_start_as(&rollup, &db, "mochi_rollup", rollup_args);
    assert_true(mochi_test_wait_port(port, 20000));

    char sites[256], expect[300];
    snprintf(sites, sizeof(sites), "%s=%s@%s,%s=%s@%s,%s=%s@%s", keys[0], domains[0], zones[0],
             keys[1], domains[1], zones[1], keys[2], domains[2], zones[2]);
    snprintf(expect, sizeof(expect), "%s/expected.json", mochi_test_tmpdir());
    char *const loadgen[] = {(char *)mochi_test_bin("mochi-loadgen"),
                             "--url",
                             url,
                             "--sites",
                             sites,
                             "--duration",
                             "8s",
                             "--rate",
                             "800",
                             "--connections",
                             "8",
                             "--visitors",
                             "400",
                             "--pages",
                             "30",
                             "--expect",
                             expect,
                             NULL};
    char *out = NULL, *err = NULL;
    int status = mochi_test_run(loadgen, NULL, 60000, &out, &err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("loadgen failed: %s%s", out, err);
    print_message("%s", out);
    free(out);
    free(err);

    long long published =
        mochi_test_expect_oracle_tables(conn, expect, 60000, MOCHI_TEST_ORACLE_ALL);
    assert_true(published > 1000);
    PQfinish(conn);
    int codes[3] = {mochi_test_proc_stop(&collector, SIGTERM, 20000),
                    mochi_test_proc_stop(&consumer, SIGTERM, 20000),
                    mochi_test_proc_stop(&rollup, SIGTERM, 20000)};
    for (int i = 0; i < 3; i++) {
        assert_true(WIFEXITED(codes[i]));
        assert_int_equal(WEXITSTATUS(codes[i]), 0);
    }
    mochi_test_kafka_stop(&kafka);
    mochi_test_db_drop(&db);
}

/* True when a process whose command line mentions needle is running. */
static bool any_process_mentions(const char *needle)
{
    DIR *proc = opendir("/proc");
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(proc)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
            continue;
        char path[300], buf[4096];
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[n] = '\0';
        found = strstr(buf, needle) != NULL;
    }
    closedir(proc);
    return found;
}

/* Logs in to the demo's dashboard at base ("http://127.0.0.1:PORT/") as
 * the demo user: the answer is a redirect with a session cookie. */
static void demo_login(const char *base, const char *password)
{
    char url[160], origin[160], body[256];
    snprintf(url, sizeof(url), "%slogin", base);
    snprintf(origin, sizeof(origin), "Origin: %.*s", (int)strlen(base) - 1, base);
    snprintf(body, sizeof(body), "email=demo%%40mochi.example&password=%s", password);
    const char *headers[] = {origin, "Content-Type: application/x-www-form-urlencoded", NULL};
    struct mochi_test_response r;
    mochi_test_http("POST", url, headers, body, &r);
    if (r.status != 303 || strstr(r.headers, "mochi_session=") == NULL)
        fail_msg("the demo's login answered %ld:\n%s\n%s", r.status, r.headers, r.body);
    mochi_test_response_free(&r);
}

static void demo_command_runs_twice_and_stops_clean(void **state)
{
    (void)state;
    char dir[300], env_dir[330], env_build[600], env_port[64], env_page[64], env_web[64],
        env_metrics[64];
    snprintf(dir, sizeof(dir), "%s/demo", mochi_test_tmpdir());
    snprintf(env_dir, sizeof(env_dir), "MOCHI_DEMO_DIR=%s", dir);
    snprintf(env_build, sizeof(env_build), "MOCHI_DEMO_BUILD_DIR=%s", getenv("MOCHI_BINARY_DIR"));
    snprintf(env_port, sizeof(env_port), "MOCHI_DEMO_PORT=%d", mochi_test_free_port());
    snprintf(env_page, sizeof(env_page), "MOCHI_DEMO_PAGE_PORT=%d", mochi_test_free_port());
    snprintf(env_web, sizeof(env_web), "MOCHI_DEMO_WEB_PORT=%d", mochi_test_free_port());
    /* five consecutive ports from a free one well away from the others */
    int base = 10000 + (getpid() % 9000); /* below the ephemeral range */
    snprintf(env_metrics, sizeof(env_metrics), "MOCHI_DEMO_METRICS_PORT=%d", base);
    /* packages are installed and the tree is built by the test command */
    /* The demo runs on the broker the suite runs on. */
    const char *env_kafka = mochi_test_kafka_kind() == MOCHI_TEST_KAFKA_APACHE
                                ? "MOCHI_DEMO_KAFKA=apache"
                                : "MOCHI_DEMO_KAFKA=dev";
    char *const env[] = {(char *)env_kafka,
                         env_dir,
                         env_build,
                         env_port,
                         env_page,
                         env_web,
                         env_metrics,
                         "MOCHI_DEMO_SKIP_INSTALL=1",
                         "MOCHI_DEMO_SKIP_BUILD=1",
                         "MOCHI_DEMO_SECONDS=4",
                         NULL};
    char *const demo[] = {"/bin/bash", (char *)mochi_test_src("scripts/demo.sh"), NULL};
    char *const stop[] = {"/bin/bash", (char *)mochi_test_src("scripts/demo.sh"), "stop", NULL};
    for (int run = 0; run < 2; run++) {
        char *out = NULL, *err = NULL;
        int status = mochi_test_run(demo, env, 240000, &out, &err);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("demo run %d failed (status %d):\n%s\n%s", run + 1, status, out, err);
        assert_non_null(strstr(out, "mochi-ingest         total"));
        assert_non_null(strstr(out, "mochi-rollup         total"));
        const char *total = strstr(out, "\ntotal ");
        assert_non_null(total);
        long long views = 0, visitors = 0;
        assert_int_equal(sscanf(total, "\ntotal %lld %lld", &views, &visitors), 2);
        assert_true(views > 0);
        assert_true(visitors > 0);
        assert_non_null(strstr(out, "bash scripts/demo.sh stop"));
        /* the dashboard's address and a demo user whose password logs in */
        const char *dash = strstr(out, "Dashboard:");
        assert_non_null(dash);
        char dash_url[128], password[128];
        if (sscanf(dash, "Dashboard: %127s (log in as demo@mochi.example, password %127[^)])",
                   dash_url, password) != 2)
            fail_msg("no dashboard login in the demo's output:\n%s", out);
        demo_login(dash_url, password);
        print_message("demo run %d: %lld page views, %lld unique visitors today\n", run + 1, views,
                      visitors);
        free(out);
        free(err);
    }
    char *out = NULL, *err = NULL;
    int status = mochi_test_run(stop, env, 60000, &out, &err);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    free(out);
    free(err);
    usleep(500000);
    assert_false(any_process_mentions(dir));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loadgen_to_aggregates),
        cmocka_unit_test(demo_command_runs_twice_and_stops_clean),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
