/* mochi-devkafka: a dev Kafka cluster (librdkafka's mock cluster) for tests
 * and the local demo. Prints the bootstrap servers as the first line of
 * stdout, answers control commands from stdin (and --control FIFO), and
 * serves until SIGTERM or SIGINT. */

#include "common/config.h"
#include "tools/devkafka/devkafka_control.h"
#include "tools/devkafka/devkafka.h"
#include "common/log.h"
#include "common/names.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct mochi_setting setting_broker_count = {
    .name = "brokers",
    .env = "MOCHI_DEVKAFKA_BROKERS",
    .type = MOCHI_SETTING_INT,
    .default_value = "3",
    .min = 1,
    .max = 9,
    .help = "number of brokers (a count here, not addresses)"};
static const struct mochi_setting setting_partitions = {.name = "partitions",
                                                        .env = "MOCHI_DEVKAFKA_PARTITIONS",
                                                        .type = MOCHI_SETTING_INT,
                                                        .default_value = "6",
                                                        .min = 1,
                                                        .max = 256,
                                                        .help = "partitions of each topic"};
static const struct mochi_setting setting_topics = {.name = "topics",
                                                    .env = "MOCHI_DEVKAFKA_TOPICS",
                                                    .type = MOCHI_SETTING_STRING,
                                                    .default_value = MOCHI_TOPIC_DEFAULT
                                                    "," MOCHI_TOPIC_DEFAULT MOCHI_DLQ_SUFFIX,
                                                    .help = "comma-separated topics to create"};
static const struct mochi_setting setting_bootstrap_file = {
    .name = "bootstrap-file",
    .env = "MOCHI_DEVKAFKA_BOOTSTRAP_FILE",
    .type = MOCHI_SETTING_STRING,
    .help = "also write the bootstrap servers to this file (removed at exit)"};
static const struct mochi_setting setting_control = {
    .name = "control",
    .env = "MOCHI_DEVKAFKA_CONTROL",
    .type = MOCHI_SETTING_STRING,
    .help = "also read control commands from this fifo (created if absent)"};

static const struct mochi_setting *const settings[] = {&setting_broker_count,
                                                       &setting_partitions,
                                                       &setting_topics,
                                                       &setting_bootstrap_file,
                                                       &setting_control,
                                                       &mochi_setting_log_level,
                                                       NULL};

static const struct mochi_program_spec spec = {
    .name = "mochi-devkafka",
    .usage = "[OPTIONS]",
    .summary =
        "Runs a dev Kafka cluster (librdkafka's mock cluster) on loopback ports, creates the\n"
        "topics, prints the bootstrap servers as the first line of stdout and serves until\n"
        "SIGTERM or SIGINT. Control commands, one per line on stdin or the --control fifo,\n"
        "each answered with one line on stdout:\n"
        "  down BROKER | up BROKER            stop / restart a broker's listener (id or all)\n"
        "  rtt BROKER MS                      delay the broker's responses\n"
        "  topic NAME PARTITIONS              create another topic\n"
        "  leader TOPIC PARTITION BROKER      move a partition's leadership\n"
        "  errors API ERROR...                fail the next requests of an API (OffsetCommit\n"
        "                                     NOT_COORDINATOR, Produce _TRANSPORT, ...)\n"
        "  help\n"
        "-X KEY=VALUE sets a librdkafka property of the handle hosting the cluster\n"
        "(-X debug=mock logs the mock's decisions). For development and tests only.",
    .settings = settings,
    .kafka_properties = true,
    .max_positional = 0,
};

static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig);
static int install_signals(void);
static int create_topics(struct mochi_devkafka *devkafka, const char *list, int partitions);
static int kafka_props(const struct mochi_config *config, const char ***out);

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: poll(2) returns at once */
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return MOCHI_ERR_INTERNAL;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return MOCHI_ERR_INTERNAL;
    return 0;
}

/* Validates the whole --topics list first, so that a bad name exits 2
 * before any topic exists. */
static int create_topics(struct mochi_devkafka *devkafka, const char *list, int partitions)
{
    char *copy = strdup(list);
    char *save = NULL, err[256];
    int rc = MOCHI_ERR_NOMEM, count = 0;
    if (copy == NULL)
        goto out;
    for (char *t = strtok_r(copy, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
        if (!mochi_devkafka_topic_name_valid(t)) {
            fprintf(stderr,
                    "mochi-devkafka: --topics: '%.80s' is not a valid topic name (1 to 249 "
                    "letters, digits, '.', '_' or '-')\n",
                    t);
            rc = MOCHI_ERR_INVALID;
            goto out;
        }
        count++;
    }
    if (count == 0) {
        fprintf(stderr, "mochi-devkafka: --topics: no topic named\n");
        rc = MOCHI_ERR_INVALID;
        goto out;
    }
    strcpy(copy, list);
    for (char *t = strtok_r(copy, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
        rc = mochi_devkafka_create_topic(devkafka, t, partitions, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "mochi-devkafka: --topics: %s: %s\n", t, err);
            goto out;
        }
    }
    rc = 0;
out:
    free(copy);
    return rc;
}

/* -X pairs as a NULL-terminated key, value array (caller frees the array;
 * the strings belong to config). */
static int kafka_props(const struct mochi_config *config, const char ***out)
{
    size_t n = mochi_config_kafka_count(config);
    const char **props = calloc(2 * n + 1, sizeof(*props));
    if (props == NULL)
        return MOCHI_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        props[2 * i] = mochi_config_kafka(config, i)->key;
        props[2 * i + 1] = mochi_config_kafka(config, i)->value;
    }
    *out = props;
    return 0;
}

int main(int argc, char **argv)
{
    int status = 1;
    const char **props = NULL;
    struct mochi_devkafka *devkafka = NULL;
    struct mochi_devkafka_control *control = NULL;
    char err[512] = "";
    struct mochi_config *config = mochi_config_load_or_exit(&spec, argc, argv);

    int brokers = (int)mochi_config_int(config, &setting_broker_count);
    int partitions = (int)mochi_config_int(config, &setting_partitions);
    const char *topics = mochi_config_str(config, &setting_topics);
    const char *bootstrap_file = mochi_config_str(config, &setting_bootstrap_file);
    const char *fifo = mochi_config_str(config, &setting_control);

    if (install_signals() != 0 || kafka_props(config, &props) != 0) {
        fprintf(stderr, "mochi-devkafka: cannot start: out of memory or signals refused\n");
        goto out;
    }
    int rc = mochi_devkafka_new(brokers, props, &devkafka, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "mochi-devkafka: %s\n", err);
        status = rc == MOCHI_ERR_INVALID ? 2 : 1;
        goto out;
    }
    rc = create_topics(devkafka, topics, partitions);
    if (rc != 0) {
        status = rc == MOCHI_ERR_INVALID ? 2 : 1;
        goto out;
    }
    if (mochi_devkafka_control_new(fifo, &control, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochi-devkafka: --control: %s\n", err);
        goto out;
    }
    const char *bootstrap = mochi_devkafka_bootstrap(devkafka);
    if (bootstrap_file != NULL &&
        mochi_devkafka_write_bootstrap_file(bootstrap_file, bootstrap, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochi-devkafka: --bootstrap-file: %s\n", err);
        goto out;
    }
    /* The first stdout line is the readiness signal: topics exist now. */
    printf("%s\n", bootstrap);
    fflush(stdout);
    char qtopics[512];
    mochi_log(MOCHI_LOG_INFO, "devkafka",
              "msg=started bootstrap=%s brokers=%d partitions=%d topics=%s", bootstrap, brokers,
              partitions, mochi_log_quote(qtopics, sizeof(qtopics), topics));

    while (!stop_signal) {
        mochi_devkafka_control_serve(control, devkafka, 100);
        mochi_devkafka_poll(devkafka);
    }
    mochi_log(MOCHI_LOG_INFO, "devkafka", "msg=stopping signal=%s",
              stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    status = 0;
out:
    mochi_devkafka_control_destroy(control);
    mochi_devkafka_destroy(devkafka);
    if (status == 0 && bootstrap_file != NULL)
        unlink(bootstrap_file); /* the addresses are dead now */
    free(props);
    mochi_config_destroy(config);
    if (status == 0)
        mochi_log(MOCHI_LOG_INFO, "devkafka", "msg=stopped");
    return status;
}
