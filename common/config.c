#include "common/config.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/names.h"
#include "common/netaddr.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct config_value {
    char *text;       /* owned; NULL when unset without default */
    long long number; /* INT, DURATION (ms), FLAG (0/1) */
    bool user_set;
};

struct mochi_config {
    const struct mochi_program_spec *spec;
    const struct mochi_setting **settings; /* owned array of the spec's settings */
    size_t nsettings;
    struct config_value *values; /* index-aligned with settings */
    char **positional;           /* owned copies */
    int npositional;
    struct mochi_kafka_property *kafka; /* owned */
    size_t nkafka;
};

static int set_value(struct mochi_config *config, size_t i, const char *text, const char *source,
                     char *err, size_t errlen);
static int add_kafka_property(struct mochi_config *config, const char *arg, char *err,
                              size_t errlen);
static const char *value_hint(const struct mochi_setting *setting, char *buf, size_t size);
static void print_setting_help(const struct mochi_setting *s, FILE *out);
static int check_exact_flags(const struct mochi_config *config, int argc, char **argv, char *err,
                             size_t errlen);
static int check_table(const struct mochi_config *config, char *err, size_t errlen);
static int print_metrics(const struct mochi_program_spec *spec, char *err, size_t errlen);

const struct mochi_setting mochi_setting_brokers = {
    .name = "brokers",
    .env = "MOCHI_KAFKA_BROKERS",
    .type = MOCHI_SETTING_STRING,
    .default_value = "localhost:9092",
    .help = "Kafka bootstrap servers, comma-separated HOST:PORT"};
const struct mochi_setting mochi_setting_topic = {.name = "topic",
                                                  .env = "MOCHI_TOPIC",
                                                  .type = MOCHI_SETTING_STRING,
                                                  .default_value = MOCHI_TOPIC_DEFAULT,
                                                  .help = "page-view topic"};
const struct mochi_setting mochi_setting_database_url = {.name = "database-url",
                                                         .env = "MOCHI_DATABASE_URL",
                                                         .type = MOCHI_SETTING_CONNINFO,
                                                         .required = true,
                                                         .secret = true,
                                                         .help = "PostgreSQL conninfo or URI"};
const struct mochi_setting mochi_setting_listen = {.name = "listen",
                                                   .env = "MOCHI_LISTEN",
                                                   .type = MOCHI_SETTING_ADDRESS,
                                                   .default_value = "127.0.0.1:8080",
                                                   .help = "collector HTTP address"};
const struct mochi_setting mochi_setting_trusted_proxies = {
    .name = "trusted-proxies",
    .env = "MOCHI_TRUSTED_PROXIES",
    .type = MOCHI_SETTING_CIDRS,
    .default_value = "",
    .help = "CIDRs whose X-Forwarded-For is believed"};
/* In the order of enum mochi_log_level. */
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
const struct mochi_setting mochi_setting_log_level = {.name = "log-level",
                                                      .env = "MOCHI_LOG_LEVEL",
                                                      .type = MOCHI_SETTING_ENUM,
                                                      .default_value = "info",
                                                      .choices = log_levels,
                                                      .help = "least severe level logged"};

int mochi_parse_duration_ms(const char *text, long long *ms)
{
    if (text == NULL || !isdigit((unsigned char)text[0]))
        return MOCHI_ERR_INVALID;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno)
        return MOCHI_ERR_INVALID;
    long long unit;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60 * 1000LL;
    else if (strcmp(end, "h") == 0)
        unit = 3600 * 1000LL;
    else if (strcmp(end, "d") == 0)
        unit = MOCHI_MS_PER_DAY;
    else
        return MOCHI_ERR_INVALID;
    if (n > (long long)1e15 / unit)
        return MOCHI_ERR_INVALID;
    *ms = n * unit;
    return 0;
}

/* "5432" or "5432,5433" (one per host; an empty entry means the default). */
static bool valid_port_list(const char *text)
{
    for (const char *p = text;;) {
        size_t len = strcspn(p, ",");
        if (len > 0) {
            long port = 0;
            for (size_t i = 0; i < len; i++) {
                if (p[i] < '0' || p[i] > '9' || port > 65535)
                    return false;
                port = port * 10 + (p[i] - '0');
            }
            if (port < 1 || port > 65535)
                return false;
        }
        if (p[len] == '\0')
            return true;
        p += len + 1;
    }
}

/* "DDDD-DD-DD": a refused value of this shape names a day that does not
 * exist (2026-02-30), anything else is not a date at all. */
static bool date_shaped(const char *text)
{
    for (size_t i = 0; i < 10; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? text[i] != '-' : !isdigit((unsigned char)text[i]))
            return false;
    }
    return text[10] == '\0';
}

static int parse_flag_text(const char *text, long long *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return MOCHI_ERR_INVALID;
}

int mochi_setting_validate(const struct mochi_setting *setting, const char *value,
                           long long *number, char *err, size_t errlen)
{
    long long n = 0;
    switch (setting->type) {
    case MOCHI_SETTING_STRING:
        if (value[0] == '\0') {
            snprintf(err, errlen, "must not be empty");
            return MOCHI_ERR_INVALID;
        }
        break;
    case MOCHI_SETTING_ADDRESS: {
        char host[256];
        int port;
        if (mochi_split_host_port(value, host, sizeof(host), &port) != 0) {
            snprintf(err, errlen, "expected HOST:PORT with a port from 0 (any) to 65535");
            return MOCHI_ERR_INVALID;
        }
        break;
    }
    case MOCHI_SETTING_INT: {
        char *end = NULL;
        errno = 0;
        n = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0') {
            snprintf(err, errlen, "expected an integer");
            return MOCHI_ERR_INVALID;
        }
        if (n < setting->min || n > setting->max) {
            snprintf(err, errlen, "must be between %lld and %lld", setting->min, setting->max);
            return MOCHI_ERR_INVALID;
        }
        break;
    }
    case MOCHI_SETTING_DURATION:
        if (mochi_parse_duration_ms(value, &n) != 0) {
            snprintf(err, errlen, "expected a duration such as 500ms, 5s, 2m, 1h or 7d");
            return MOCHI_ERR_INVALID;
        }
        if (n < setting->min || n > setting->max) {
            snprintf(err, errlen, "must be between %lldms and %lldms", setting->min, setting->max);
            return MOCHI_ERR_INVALID;
        }
        break;
    case MOCHI_SETTING_CIDRS: {
        struct mochi_cidr_list list;
        char why[160] = "";
        if (mochi_cidr_list_parse(value, &list, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s", why);
            return MOCHI_ERR_INVALID;
        }
        mochi_cidr_list_free(&list);
        break;
    }
    case MOCHI_SETTING_CONNINFO: {
        char *pqerr = NULL;
        PQconninfoOption *opts = PQconninfoParse(value, &pqerr);
        if (opts == NULL) {
            /* libpq's message may quote the value, which may hold a password. */
            snprintf(err, errlen, "not a valid PostgreSQL conninfo or URI");
            PQfreemem(pqerr);
            return MOCHI_ERR_INVALID;
        }
        /* libpq parses "host:99999x" without complaint and fails only at
         * connect time: check the port (a list, with several hosts) here. */
        bool port_ok = true;
        for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
            if (strcmp(o->keyword, "port") == 0 && o->val != NULL)
                port_ok = valid_port_list(o->val);
        PQconninfoFree(opts);
        if (!port_ok) {
            snprintf(err, errlen, "the port must be a number from 1 to 65535");
            return MOCHI_ERR_INVALID;
        }
        break;
    }
    case MOCHI_SETTING_FLAG:
        if (parse_flag_text(value, &n) != 0) {
            snprintf(err, errlen, "expected true or false");
            return MOCHI_ERR_INVALID;
        }
        break;
    case MOCHI_SETTING_ENUM:
        while (setting->choices[n] != NULL && strcasecmp(value, setting->choices[n]) != 0)
            n++;
        if (setting->choices[n] == NULL) {
            /* "expected debug, info, warn or error" */
            size_t used = (size_t)snprintf(err, errlen, "expected");
            for (size_t i = 0; setting->choices[i] != NULL && used < errlen; i++)
                used += (size_t)snprintf(err + used, errlen - used, "%s%s",
                                         i == 0                            ? " "
                                         : setting->choices[i + 1] == NULL ? " or "
                                                                           : ", ",
                                         setting->choices[i]);
            return MOCHI_ERR_INVALID;
        }
        break;
    case MOCHI_SETTING_DATE:
        if (mochi_day_parse(value, &n) != 0) {
            snprintf(err, errlen, "%s",
                     date_shaped(value) ? "not a calendar date" : "expected a date YYYY-MM-DD");
            return MOCHI_ERR_INVALID;
        }
        break;
    }
    if (number)
        *number = n;
    return 0;
}

static int set_value(struct mochi_config *config, size_t i, const char *text, const char *source,
                     char *err, size_t errlen)
{
    const struct mochi_setting *s = config->settings[i];
    char why[200] = "";
    long long n = 0;
    if (mochi_setting_validate(s, text, &n, why, sizeof(why)) != 0) {
        if (s->secret || s->type == MOCHI_SETTING_CONNINFO)
            snprintf(err, errlen, "%s: %s", source, why);
        else
            snprintf(err, errlen, "%s: %s (got '%.80s')", source, why, text);
        return MOCHI_ERR_INVALID;
    }
    /* An ENUM keeps the table's spelling: "--log-level DEBUG" reads "debug". */
    char *copy = strdup(s->type == MOCHI_SETTING_ENUM ? s->choices[n] : text);
    if (copy == NULL)
        return MOCHI_ERR_NOMEM;
    free(config->values[i].text);
    config->values[i].text = copy;
    config->values[i].number = n;
    return 0;
}

static int add_kafka_property(struct mochi_config *config, const char *arg, char *err,
                              size_t errlen)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg) {
        snprintf(err, errlen, "-X: expected key=value (got '%.80s')", arg);
        return MOCHI_ERR_INVALID;
    }
    struct mochi_kafka_property *grown =
        realloc(config->kafka, (config->nkafka + 1) * sizeof(*grown));
    if (grown == NULL)
        return MOCHI_ERR_NOMEM;
    config->kafka = grown;
    struct mochi_kafka_property *p = &config->kafka[config->nkafka];
    p->key = strndup(arg, (size_t)(eq - arg));
    p->value = strdup(eq + 1);
    if (p->key == NULL || p->value == NULL) {
        free(p->key);
        free(p->value);
        return MOCHI_ERR_NOMEM;
    }
    config->nkafka++;
    return 0;
}

/* getopt_long accepts any unambiguous prefix ("--nam" for "--name"); a
 * later flag would then silently change what an old command line means, so
 * only whole names are taken. */
static int check_exact_flags(const struct mochi_config *config, int argc, char **argv, char *err,
                             size_t errlen)
{
    bool takes_value = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (takes_value) {
            takes_value = false;
            continue;
        }
        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--", 2) != 0) {
            if (strcmp(a, "-X") == 0)
                takes_value = true;
            continue;
        }
        size_t len = strcspn(a + 2, "=");
        bool known = (len == 4 && strncmp(a + 2, "help", 4) == 0) ||
                     (len == 12 && strncmp(a + 2, "print-config", 12) == 0) ||
                     (len == 13 && strncmp(a + 2, "print-metrics", 13) == 0 &&
                      config->spec->print_metrics != NULL);
        for (size_t k = 0; !known && k < config->nsettings; k++) {
            const struct mochi_setting *st = config->settings[k];
            if (strlen(st->name) == len && strncmp(a + 2, st->name, len) == 0) {
                known = true;
                takes_value = st->type != MOCHI_SETTING_FLAG && a[2 + len] != '=';
            }
        }
        if (!known) {
            snprintf(err, errlen, "unknown option '%.*s' (see --help)",
                     (int)(len + 2 > 80 ? 80 : len + 2), a);
            return MOCHI_ERR_INVALID;
        }
    }
    return 0;
}

/* Mistakes in the tables themselves, which no command line could get
 * past: reported as a bug at start rather than met later. */
static int check_table(const struct mochi_config *config, char *err, size_t errlen)
{
    for (size_t i = 0; i < config->nsettings; i++) {
        const struct mochi_setting *s = config->settings[i];
        /* getopt would take the first of two settings of one name and
         * never set the second. */
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->name, config->settings[k]->name) == 0) {
                snprintf(err, errlen, "bug: two settings are named --%s", s->name);
                return MOCHI_ERR_INVALID;
            }
        if (s->type == MOCHI_SETTING_ENUM && (s->choices == NULL || s->choices[0] == NULL)) {
            snprintf(err, errlen, "bug: --%s lists no choices", s->name);
            return MOCHI_ERR_INVALID;
        }
    }
    return 0;
}

/* --print-metrics: the program lists its families on stdout. Returns
 * MOCHI_CONFIG_EXIT, or MOCHI_ERR_INTERNAL with the reason in err. */
static int print_metrics(const struct mochi_program_spec *spec, char *err, size_t errlen)
{
    int rc = spec->print_metrics(stdout);
    if (rc != 0) {
        /* A family the registry refused is logged with the reason. */
        snprintf(err, errlen, "--print-metrics: listing the metrics failed (%s)",
                 mochi_strerror(rc));
        return MOCHI_ERR_INTERNAL;
    }
    return MOCHI_CONFIG_EXIT;
}

int mochi_config_parse(const struct mochi_program_spec *spec, int argc, char **argv,
                       struct mochi_config **out, char *err, size_t errlen)
{
    int rc = MOCHI_ERR_NOMEM;
    struct option *longopts = NULL;
    struct mochi_config *config = calloc(1, sizeof(*config));
    if (config == NULL)
        goto out;
    config->spec = spec;
    const struct mochi_setting *const *tables[] = {spec->settings, spec->library_settings};
    for (size_t t = 0; t < 2; t++)
        for (size_t i = 0; tables[t] != NULL && tables[t][i] != NULL; i++)
            config->nsettings++;
    config->settings = calloc(config->nsettings + 1, sizeof(*config->settings));
    config->values = calloc(config->nsettings + 1, sizeof(*config->values));
    longopts = calloc(config->nsettings + 4, sizeof(*longopts));
    if (config->settings == NULL || config->values == NULL || longopts == NULL)
        goto out;
    size_t n = 0;
    for (size_t t = 0; t < 2; t++)
        for (size_t i = 0; tables[t] != NULL && tables[t][i] != NULL; i++)
            config->settings[n++] = tables[t][i];
    rc = check_table(config, err, errlen);
    if (rc != 0)
        goto out;

    /* Defaults, then the environment, then flags. */
    for (size_t i = 0; i < config->nsettings; i++) {
        const struct mochi_setting *s = config->settings[i];
        if (s->default_value != NULL && s->default_value[0] != '\0') {
            char source[128];
            snprintf(source, sizeof(source), "default of --%s", s->name);
            rc = set_value(config, i, s->default_value, source, err, errlen);
            if (rc != 0)
                goto out;
        } else if (s->default_value != NULL) {
            config->values[i].text = strdup("");
            if (config->values[i].text == NULL) {
                rc = MOCHI_ERR_NOMEM; /* rc may be 0 from the setting before */
                goto out;
            }
        }
    }
    for (size_t i = 0; i < config->nsettings; i++) {
        const struct mochi_setting *s = config->settings[i];
        const char *v = s->env ? getenv(s->env) : NULL;
        if (v == NULL)
            continue;
        if (v[0] == '\0' && s->type != MOCHI_SETTING_CIDRS)
            continue; /* an empty variable is the same as an unset one */
        rc = set_value(config, i, v, s->env, err, errlen);
        if (rc != 0)
            goto out;
        config->values[i].user_set = true;
    }

    for (size_t i = 0; i < config->nsettings; i++) {
        longopts[i].name = config->settings[i]->name;
        longopts[i].has_arg =
            config->settings[i]->type == MOCHI_SETTING_FLAG ? no_argument : required_argument;
        longopts[i].val = 1000 + (int)i;
    }
    longopts[config->nsettings].name = "help";
    longopts[config->nsettings].val = 'h';
    longopts[config->nsettings + 1].name = "print-config";
    longopts[config->nsettings + 1].val = 'P';
    if (spec->print_metrics != NULL) {
        longopts[config->nsettings + 2].name = "print-metrics";
        longopts[config->nsettings + 2].val = 'M';
    }

    rc = check_exact_flags(config, argc, argv, err, errlen);
    if (rc != 0)
        goto out;
    const char *shortopts = spec->kafka_properties ? "+:hX:" : "+:h";
    optind = 1;
    opterr = 0;
    bool print_config = false;
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (c == -1)
            break;
        if (c == 'h') {
            mochi_config_print_help(spec, stdout);
            rc = MOCHI_CONFIG_EXIT;
            goto out;
        }
        if (c == 'M') {
            /* Before the required settings are checked: listing the
             * metrics needs neither a database nor a broker. */
            rc = print_metrics(spec, err, errlen);
            goto out;
        }
        if (c == 'P') {
            print_config = true;
        } else if (c == 'X') {
            rc = add_kafka_property(config, optarg, err, errlen);
            if (rc != 0)
                goto out;
        } else if (c >= 1000 && c < 1000 + (int)config->nsettings) {
            size_t i = (size_t)(c - 1000);
            char source[128];
            snprintf(source, sizeof(source), "--%s", config->settings[i]->name);
            rc = set_value(config, i, optarg ? optarg : "true", source, err, errlen);
            if (rc != 0)
                goto out;
            config->values[i].user_set = true;
        } else if (c == ':') {
            snprintf(err, errlen, "%s needs a value", argv[optind - 1]);
            rc = MOCHI_ERR_INVALID;
            goto out;
        } else {
            snprintf(err, errlen, "unknown option '%.80s' (see --help)", argv[optind - 1]);
            rc = MOCHI_ERR_INVALID;
            goto out;
        }
    }
    config->npositional = argc - optind;
    if (config->npositional > spec->max_positional) {
        snprintf(err, errlen, "unexpected argument '%.80s' (see --help)",
                 argv[optind + spec->max_positional]);
        rc = MOCHI_ERR_INVALID;
        goto out;
    }
    if (config->npositional > 0) {
        config->positional = calloc((size_t)config->npositional, sizeof(char *));
        if (config->positional == NULL) {
            rc = MOCHI_ERR_NOMEM;
            goto out;
        }
        for (int i = 0; i < config->npositional; i++) {
            config->positional[i] = strdup(argv[optind + i]);
            if (config->positional[i] == NULL) {
                rc = MOCHI_ERR_NOMEM;
                goto out;
            }
        }
    }
    for (size_t i = 0; i < config->nsettings; i++) {
        const struct mochi_setting *s = config->settings[i];
        if (s->required && config->values[i].text == NULL) {
            if (s->env)
                snprintf(err, errlen, "--%s (or %s) is required", s->name, s->env);
            else
                snprintf(err, errlen, "--%s is required", s->name);
            rc = MOCHI_ERR_INVALID;
            goto out;
        }
    }
    if (print_config) {
        for (size_t i = 0; i < config->nsettings; i++) {
            const struct mochi_setting *s = config->settings[i];
            const char *v = config->values[i].text;
            printf("%s=%s\n", s->env ? s->env : s->name,
                   v == NULL   ? ""
                   : s->secret ? "(set, not shown)"
                               : v);
        }
        rc = MOCHI_CONFIG_EXIT;
        goto out;
    }
    *out = config;
    config = NULL;
    rc = MOCHI_CONFIG_RUN;
out:
    if (rc == MOCHI_ERR_NOMEM)
        snprintf(err, errlen, "out of memory");
    free(longopts);
    mochi_config_destroy(config);
    return rc;
}

struct mochi_config *mochi_config_load_or_exit(const struct mochi_program_spec *spec, int argc,
                                               char **argv)
{
    struct mochi_config *config = NULL;
    char err[512] = "";
    int rc = mochi_config_parse(spec, argc, argv, &config, err, sizeof(err));
    if (rc == MOCHI_CONFIG_EXIT)
        exit(0);
    if (rc != MOCHI_CONFIG_RUN) {
        fprintf(stderr, "%s: %s\n", spec->name, err);
        exit(2);
    }
    enum mochi_log_level level;
    if (mochi_config_has(config, &mochi_setting_log_level) &&
        mochi_log_parse_level(mochi_config_str(config, &mochi_setting_log_level), &level) == 0)
        mochi_log_set_level(level);
    return config;
}

void mochi_config_destroy(struct mochi_config *config)
{
    if (config == NULL)
        return;
    for (size_t i = 0; config->values && i < config->nsettings; i++)
        free(config->values[i].text);
    free(config->values);
    free(config->settings);
    for (int i = 0; config->positional && i < config->npositional; i++)
        free(config->positional[i]);
    free(config->positional);
    for (size_t i = 0; i < config->nkafka; i++) {
        free(config->kafka[i].key);
        free(config->kafka[i].value);
    }
    free(config->kafka);
    free(config);
}

/* A lookup the program's code got wrong: a setting not in its table, or
 * read as another type. Never returns. */
__attribute__((noreturn)) static void lookup_bug(const struct mochi_config *config,
                                                 const struct mochi_setting *setting,
                                                 const char *function, const char *why)
{
    fprintf(stderr, "%s: bug: %s(--%s): %s\n", config->spec->name, function,
            setting != NULL && setting->name != NULL ? setting->name : "(null)", why);
    abort();
}

/* The index of setting in the program's table, or nsettings. */
static size_t find(const struct mochi_config *config, const struct mochi_setting *setting)
{
    size_t i = 0;
    while (i < config->nsettings && config->settings[i] != setting)
        i++;
    return i;
}

/* types: a bit per enum mochi_setting_type accepted, or ANY_TYPE. */
static const struct config_value *lookup(const struct mochi_config *config,
                                         const struct mochi_setting *setting, unsigned types,
                                         const char *function)
{
    size_t i = find(config, setting);
    if (i == config->nsettings)
        lookup_bug(config, setting, function, "the setting is not in the program's table");
    if ((types & (1u << setting->type)) == 0)
        lookup_bug(config, setting, function, "the setting is not of the type this reads");
    return &config->values[i];
}

#define ANY_TYPE (~0u)
#define TYPE(t) (1u << (t))

const char *mochi_config_str(const struct mochi_config *config, const struct mochi_setting *setting)
{
    return lookup(config, setting, ANY_TYPE, __func__)->text;
}

long long mochi_config_int(const struct mochi_config *config, const struct mochi_setting *setting)
{
    return lookup(config, setting, TYPE(MOCHI_SETTING_INT) | TYPE(MOCHI_SETTING_DATE), __func__)
        ->number;
}

long long mochi_config_ms(const struct mochi_config *config, const struct mochi_setting *setting)
{
    return lookup(config, setting, TYPE(MOCHI_SETTING_DURATION), __func__)->number;
}

bool mochi_config_flag(const struct mochi_config *config, const struct mochi_setting *setting)
{
    return lookup(config, setting, TYPE(MOCHI_SETTING_FLAG), __func__)->number != 0;
}

int mochi_config_enum(const struct mochi_config *config, const struct mochi_setting *setting)
{
    const struct config_value *v = lookup(config, setting, TYPE(MOCHI_SETTING_ENUM), __func__);
    return v->text != NULL && v->text[0] != '\0' ? (int)v->number : -1;
}

bool mochi_config_is_set(const struct mochi_config *config, const struct mochi_setting *setting)
{
    return lookup(config, setting, ANY_TYPE, __func__)->user_set;
}

bool mochi_config_has(const struct mochi_config *config, const struct mochi_setting *setting)
{
    return find(config, setting) < config->nsettings;
}

int mochi_config_positional_count(const struct mochi_config *config)
{
    return config->npositional;
}

const char *mochi_config_positional(const struct mochi_config *config, int i)
{
    return i >= 0 && i < config->npositional ? config->positional[i] : NULL;
}

size_t mochi_config_kafka_count(const struct mochi_config *config)
{
    return config->nkafka;
}

const struct mochi_kafka_property *mochi_config_kafka(const struct mochi_config *config, size_t i)
{
    return i < config->nkafka ? &config->kafka[i] : NULL;
}

/* What --help shows after the flag: a word for the type, or an ENUM's
 * choices ("earliest|time"), in buf when it must be built. */
static const char *value_hint(const struct mochi_setting *setting, char *buf, size_t size)
{
    switch (setting->type) {
    case MOCHI_SETTING_STRING:
        return "TEXT";
    case MOCHI_SETTING_ADDRESS:
        return "HOST:PORT";
    case MOCHI_SETTING_INT:
        return "N";
    case MOCHI_SETTING_DURATION:
        return "DURATION";
    case MOCHI_SETTING_CIDRS:
        return "CIDRS";
    case MOCHI_SETTING_CONNINFO:
        return "URL";
    case MOCHI_SETTING_FLAG:
        return "";
    case MOCHI_SETTING_ENUM: {
        size_t used = 0;
        buf[0] = '\0';
        for (size_t i = 0; setting->choices[i] != NULL && used < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i > 0 ? "|" : "",
                                     setting->choices[i]);
        return buf;
    }
    case MOCHI_SETTING_DATE:
        return "YYYY-MM-DD";
    }
    return "VALUE";
}

/* One line of --help. */
static void print_setting_help(const struct mochi_setting *s, FILE *out)
{
    char flag[160], hint[64];
    snprintf(flag, sizeof(flag), "--%s%s%s", s->name, s->type == MOCHI_SETTING_FLAG ? "" : " ",
             value_hint(s, hint, sizeof(hint)));
    fprintf(out, "  %-34s %s", flag, s->help);
    if (s->env)
        fprintf(out, " [env %s]", s->env);
    if (s->required)
        fprintf(out, " (required)");
    else if (s->default_value && s->default_value[0])
        fprintf(out, " (default %s)", s->default_value);
    fputc('\n', out);
}

void mochi_config_print_help(const struct mochi_program_spec *spec, FILE *out)
{
    fprintf(out, "Usage: %s %s\n\n%s\n\nOptions (flag, environment variable, default):\n",
            spec->name, spec->usage ? spec->usage : "[OPTIONS]", spec->summary);
    const struct mochi_setting *const *tables[] = {spec->settings, spec->library_settings};
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; tables[t] != NULL && tables[t][i] != NULL; i++)
            print_setting_help(tables[t][i], out);
    }
    if (spec->kafka_properties)
        fprintf(out, "  %-34s %s\n", "-X KEY=VALUE",
                "librdkafka property, repeatable (as kcat's -X)");
    fprintf(out, "  %-34s %s\n", "--print-config", "print the effective settings and exit");
    if (spec->print_metrics != NULL)
        fprintf(out, "  %-34s %s\n", "--print-metrics",
                "list every metric this program serves (name, type, labels, help) and exit");
    fprintf(out, "  %-34s %s\n", "--help", "show this text and exit");
}
