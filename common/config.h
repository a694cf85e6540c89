#ifndef MOCHI_CONFIG_H
#define MOCHI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

/* One table of settings drives environment variables, long flags,
 * validation, --help and --print-config (after PgBouncer's loader). Each
 * setting is defined once (config.c or a program's own file) and programs
 * list the ones they take. Flags win over the environment, the environment
 * over the default. */

enum mochi_setting_type {
    MOCHI_SETTING_STRING,   /* any non-empty text */
    MOCHI_SETTING_ADDRESS,  /* HOST:PORT, [V6]:PORT */
    MOCHI_SETTING_INT,      /* integer within [min, max] */
    MOCHI_SETTING_DURATION, /* 250ms, 5s, 2m, 1h, 7d; stored as milliseconds within [min, max] */
    MOCHI_SETTING_CIDRS,    /* comma-separated IPv4/IPv6 CIDRs or addresses; may be empty */
    MOCHI_SETTING_CONNINFO, /* libpq conninfo or URI; a secret */
    MOCHI_SETTING_FLAG,     /* a flag without argument; env takes true/false/1/0/yes/no */
    MOCHI_SETTING_ENUM,     /* one of the setting's choices (any case); read as its index */
    MOCHI_SETTING_DATE,     /* YYYY-MM-DD; stored as days since 1970-01-01 */
};

struct mochi_setting {
    const char *name; /* long flag without the dashes: "brokers" */
    const char *env;  /* environment variable, or NULL when flag-only */
    enum mochi_setting_type type;
    const char *default_value; /* NULL: no default */
    bool required;
    bool secret; /* never printed, not even in --print-config */
    long long min, max;
    const char *const *choices; /* ENUM: the values, NULL-terminated, in index order */
    const char *help;
};

/* Settings shared by several programs (DESIGN.md "Configuration"). */
extern const struct mochi_setting mochi_setting_brokers;
extern const struct mochi_setting mochi_setting_topic;
extern const struct mochi_setting mochi_setting_database_url;
extern const struct mochi_setting mochi_setting_listen;
extern const struct mochi_setting mochi_setting_trusted_proxies;
extern const struct mochi_setting mochi_setting_log_level;

struct mochi_program_spec {
    const char *name;                            /* program name for messages: "mochi-collector" */
    const char *usage;                           /* one line after the name: "[OPTIONS]" */
    const char *summary;                         /* one paragraph for --help */
    const struct mochi_setting *const *settings; /* NULL-terminated */
    /* NULL-terminated, or NULL: the settings of a library the program uses
     * (the stream runtime's), taken as the program's own, after them. */
    const struct mochi_setting *const *library_settings;
    bool kafka_properties; /* accepts -X key=value */
    int max_positional;    /* positional arguments allowed after the flags */
    /* Optional: lists every metric family the program serves on out
     * (mochi_metrics_print_families) without starting anything, and
     * returns 0 or a negative code. When set, the program takes
     * --print-metrics, which calls it and exits: the truth that
     * docs/metrics.md is checked against. */
    int (*print_metrics)(FILE *out);
};

struct mochi_kafka_property {
    char *key;
    char *value;
};

struct mochi_config;

enum mochi_config_result {
    MOCHI_CONFIG_RUN = 0,  /* parsed: run the program */
    MOCHI_CONFIG_EXIT = 1, /* --help, --print-config or --print-metrics was printed: exit 0 */
};

/* Parses argv (argv[0] is skipped) and the environment against spec (its
 * settings, then its library_settings; a name in both is an error).
 * Returns MOCHI_CONFIG_RUN and a new config in *out (owned by the caller,
 * freed with mochi_config_destroy), MOCHI_CONFIG_EXIT when help was
 * printed to stdout, or MOCHI_ERR_INVALID with one line naming the setting
 * and what is wrong in err (no secret is ever copied there), or
 * MOCHI_ERR_INTERNAL when --print-metrics failed. */
int mochi_config_parse(const struct mochi_program_spec *spec, int argc, char **argv,
                       struct mochi_config **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Parses or exits: on error prints "<program>: <err>" to stderr and exits 2;
 * after help exits 0. Returns the config (caller owns it). */
struct mochi_config *mochi_config_load_or_exit(const struct mochi_program_spec *spec, int argc,
                                               char **argv);

void mochi_config_destroy(struct mochi_config *config);

/* Lookups by the setting itself: mochi_config_int(config, &setting_batch).
 * The setting must be one of the program's table (by address, not by
 * name) and of the type the function reads; anything else is a bug in the
 * program, and the lookup prints "<program>: bug: ..." naming the setting
 * to stderr and aborts, in every build. */

/* Any type: the text as given (an ENUM's choice as its table spells it).
 * Owned by config; NULL when unset and without default. */
const char *mochi_config_str(const struct mochi_config *config,
                             const struct mochi_setting *setting);
/* INT settings, and DATE settings as days since 1970-01-01. */
long long mochi_config_int(const struct mochi_config *config, const struct mochi_setting *setting);
/* DURATION settings, in milliseconds. */
long long mochi_config_ms(const struct mochi_config *config, const struct mochi_setting *setting);
/* FLAG settings. */
bool mochi_config_flag(const struct mochi_config *config, const struct mochi_setting *setting);
/* ENUM settings: the index of the value in setting->choices; -1 when unset
 * and without default. */
int mochi_config_enum(const struct mochi_config *config, const struct mochi_setting *setting);
/* Any type: true when the value came from the environment or a flag, not
 * the default. */
bool mochi_config_is_set(const struct mochi_config *config, const struct mochi_setting *setting);
/* True when setting is in the program's table: for code shared by programs
 * that take one of several variants of a setting. Never aborts. */
bool mochi_config_has(const struct mochi_config *config, const struct mochi_setting *setting);

/* Positional arguments left after the flags. */
int mochi_config_positional_count(const struct mochi_config *config);
const char *mochi_config_positional(const struct mochi_config *config, int i);

/* -X key=value pairs, in order (mochi_kafka_apply_properties gives them to
 * librdkafka: config knows nothing of it). */
size_t mochi_config_kafka_count(const struct mochi_config *config);
const struct mochi_kafka_property *mochi_config_kafka(const struct mochi_config *config, size_t i);

/* Prints the usage text generated from the table. */
void mochi_config_print_help(const struct mochi_program_spec *spec, FILE *out);

/* Validates one value for a setting, as the parser does. Returns 0, or
 * MOCHI_ERR_INVALID with the reason (without the value) in err. Exposed for
 * tests and for settings read at runtime. */
int mochi_setting_validate(const struct mochi_setting *setting, const char *value,
                           long long *number, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Parses "250ms", "5s", "2m", "1h", "7d" (a bare number is seconds).
 * Returns 0 and the milliseconds, or MOCHI_ERR_INVALID. */
int mochi_parse_duration_ms(const char *text, long long *ms) __attribute__((warn_unused_result));

#endif
