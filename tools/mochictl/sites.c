/* mochictl sites add | list | update | remove */
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/db.h"
#include "common/domain.h"
#include "tools/mochictl/mochictl.h"
#include "common/uuid.h"

/* 16 random bytes: URL-safe base64 without padding, 22 characters. */
#define TRACKING_KEY_BYTES 16

static const struct mochi_setting setting_name = {.name = "name",
                                                  .type = MOCHI_SETTING_STRING,
                                                  .required = true,
                                                  .help = "the site's display name"};
static const struct mochi_setting setting_domain = {
    .name = "domain",
    .type = MOCHI_SETTING_STRING,
    .required = true,
    .help = "the site's host name; its subdomains are accepted too"};
static const struct mochi_setting setting_site = {.name = "site",
                                                  .type = MOCHI_SETTING_STRING,
                                                  .required = true,
                                                  .help = "the site's id or tracking key"};
static const struct mochi_setting setting_timezone = {
    .name = "timezone",
    .type = MOCHI_SETTING_STRING,
    .default_value = "UTC",
    .help = "the site's time zone, an IANA name (Europe/Berlin, America/New_York, "
            "Etc/GMT+12, UTC): its days, visitors and salts follow it"};
static const struct mochi_setting setting_new_timezone = {
    .name = "timezone",
    .type = MOCHI_SETTING_STRING,
    .help = "the new time zone, an IANA name (Europe/Berlin, Etc/GMT+12, UTC); applies to "
            "events from now on"};
static const struct mochi_setting setting_new_name = {
    .name = "name", .type = MOCHI_SETTING_STRING, .help = "the new display name"};
static const struct mochi_setting setting_json = {.name = "json",
                                                  .type = MOCHI_SETTING_FLAG,
                                                  .default_value = "false",
                                                  .help = "print JSON instead of text"};

static const struct mochi_setting *const add_settings[] = {
    &mochi_setting_database_url, &setting_name, &setting_domain,
    &setting_timezone,           &setting_json, NULL};
static const struct mochi_setting *const list_settings[] = {&mochi_setting_database_url,
                                                            &setting_json, NULL};
static const struct mochi_setting *const update_settings[] = {
    &mochi_setting_database_url, &setting_site, &setting_new_timezone, &setting_new_name, NULL};
static const struct mochi_setting *const remove_settings[] = {&mochi_setting_database_url,
                                                              &setting_site, NULL};

static const struct mochi_program_spec add_spec = {
    .name = "mochictl sites add",
    .usage = "--name NAME --domain DOMAIN [--timezone ZONE] [--json]",
    .summary = "Adds a site and prints its id and a new random tracking key.",
    .settings = add_settings,
};
static const struct mochi_program_spec list_spec = {
    .name = "mochictl sites list",
    .usage = "[--json]",
    .summary = "Lists the sites.",
    .settings = list_settings,
};
static const struct mochi_program_spec update_spec = {
    .name = "mochictl sites update",
    .usage = "--site ID_OR_KEY [--timezone ZONE] [--name NAME]",
    .summary = "Changes a site's time zone or display name. A new time zone applies to events "
               "the collectors receive from then on (within their --refresh-interval): the days "
               "of earlier events are not reassigned.",
    .settings = update_settings,
};
static const struct mochi_program_spec remove_spec = {
    .name = "mochictl sites remove",
    .usage = "--site ID_OR_KEY",
    .summary = "Removes a site with its raw events and aggregates. Events still in Kafka for "
               "it are then refused as for an unknown site.",
    .settings = remove_settings,
};

/* Checks zone against the database's rule (sql/006_site_timezones.sql).
 * Returns 0 when valid; otherwise prints why, as command, and returns the
 * exit code: 2 for an invalid name, 1 when the database cannot say. */
static int check_timezone(PGconn *conn, const char *command, const char *zone)
{
    char err[512];
    PGresult *res = NULL;
    const char *params[1] = {zone};
    if (mochi_db_query(conn, "SELECT mochi_timezone_valid($1)", 1, params, &res, err,
                       sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        return 1;
    }
    bool valid = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (valid)
        return 0;
    fprintf(stderr,
            "%s: --timezone: unknown time zone '%s': give an IANA name such as Europe/Berlin, "
            "America/New_York, Etc/GMT+12 or UTC (abbreviations such as EST and old aliases "
            "such as US/Eastern are refused)\n",
            command, zone);
    return 2;
}

static void print_json(json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    if (text != NULL)
        puts(text);
    free(text);
}

int mochictl_sites_add(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&add_spec, argc, argv);
    PGconn *conn = NULL;
    PGresult *res = NULL;
    int code = 2;
    char domain[MOCHI_DOMAIN_MAX + 1];
    char err[512];
    if (mochi_domain_normalize(mochi_config_str(config, &setting_domain), domain, sizeof(domain),
                               err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl sites add: --domain: %s\n", err);
        goto out;
    }
    code = 1;
    conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;

    unsigned char raw[TRACKING_KEY_BYTES];
    char key[sodium_base64_ENCODED_LEN(TRACKING_KEY_BYTES,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    const char *timezone = mochi_config_str(config, &setting_timezone);
    int bad = check_timezone(conn, "mochictl sites add", timezone);
    if (bad != 0) {
        code = bad;
        goto out;
    }
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(key, sizeof(key), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);

    const char *params[4] = {mochi_config_str(config, &setting_name), domain, key, timezone};
    if (mochi_db_query(conn,
                       "INSERT INTO sites (name, domain, tracking_key, timezone) "
                       "VALUES ($1, $2, $3, $4) RETURNING id",
                       4, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl sites add: %s\n", err);
        goto out;
    }
    const char *id = PQgetvalue(res, 0, 0);
    if (mochi_config_flag(config, &setting_json)) {
        json_t *obj =
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "tracking_key", key, "domain", domain,
                      "name", mochi_config_str(config, &setting_name), "timezone", timezone);
        print_json(obj);
        json_decref(obj);
    } else {
        printf(
            "id            %s\ntracking_key  %s\ndomain        %s\ntimezone      %s\n\n"
            "Embed on every page of %s (and its subdomains):\n"
            "  <script defer src=\"https://YOUR-COLLECTOR/mochi.js\" data-key=\"%s\"></script>\n",
            id, key, domain, timezone, domain, key);
    }
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_sites_list(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&list_spec, argc, argv);
    int code = 1;
    char err[512];
    PGresult *res = NULL;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    if (mochi_db_query(conn,
                       "SELECT id, name, domain, tracking_key, "
                       "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                       "timezone "
                       "FROM sites ORDER BY created_at, id",
                       0, NULL, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl sites list: %s\n", err);
        goto out;
    }
    int n = PQntuples(res);
    if (mochi_config_flag(config, &setting_json)) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", PQgetvalue(res, i, 0),
                               "name", PQgetvalue(res, i, 1), "domain", PQgetvalue(res, i, 2),
                               "tracking_key", PQgetvalue(res, i, 3), "created_at",
                               PQgetvalue(res, i, 4), "timezone", PQgetvalue(res, i, 5)));
        print_json(arr);
        json_decref(arr);
    } else {
        printf("%-36s  %-24s  %-22s  %-20s  %-20s  %s\n", "ID", "DOMAIN", "TRACKING KEY", "CREATED",
               "TIMEZONE", "NAME");
        for (int i = 0; i < n; i++)
            printf("%-36s  %-24s  %-22s  %-20s  %-20s  %s\n", PQgetvalue(res, i, 0),
                   PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
                   PQgetvalue(res, i, 5), PQgetvalue(res, i, 1));
    }
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_sites_update(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&update_spec, argc, argv);
    int code = 2;
    char err[512];
    PGresult *res = NULL;
    PGconn *conn = NULL;
    const char *timezone = mochi_config_str(config, &setting_new_timezone);
    const char *name = mochi_config_str(config, &setting_new_name);
    if (timezone == NULL && name == NULL) {
        fprintf(stderr, "mochictl sites update: nothing to change: give --timezone or --name\n");
        goto out;
    }
    code = 1;
    conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    if (timezone != NULL) {
        int bad = check_timezone(conn, "mochictl sites update", timezone);
        if (bad != 0) {
            code = bad;
            goto out;
        }
    }
    const char *site = mochi_config_str(config, &setting_site);
    unsigned char bin[16];
    bool by_id = mochi_uuid_parse(site, bin) == 0;
    /* NULL parameters keep the column as it is. */
    const char *params[3] = {site, timezone, name};
    if (mochi_db_query(conn,
                       by_id ? "UPDATE sites SET timezone = coalesce($2, timezone), "
                               "name = coalesce($3, name) WHERE id = $1::uuid "
                               "RETURNING id, domain, timezone, name"
                             : "UPDATE sites SET timezone = coalesce($2, timezone), "
                               "name = coalesce($3, name) WHERE tracking_key = $1 "
                               "RETURNING id, domain, timezone, name",
                       3, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl sites update: %s\n", err);
        goto out;
    }
    if (PQntuples(res) == 0) {
        fprintf(stderr, "mochictl sites update: no site with id or tracking key '%s'\n", site);
        goto out;
    }
    printf("updated site %s (%s): timezone %s, name %s\n", PQgetvalue(res, 0, 0),
           PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_sites_remove(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&remove_spec, argc, argv);
    int code = 1;
    char err[512];
    PGresult *res = NULL;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    const char *site = mochi_config_str(config, &setting_site);
    unsigned char bin[16];
    bool by_id = mochi_uuid_parse(site, bin) == 0;
    const char *params[1] = {site};
    if (mochi_db_query(conn,
                       by_id ? "DELETE FROM sites WHERE id = $1::uuid RETURNING id, domain"
                             : "DELETE FROM sites WHERE tracking_key = $1 RETURNING id, domain",
                       1, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl sites remove: %s\n", err);
        goto out;
    }
    if (PQntuples(res) == 0) {
        fprintf(stderr, "mochictl sites remove: no site with id or tracking key '%s'\n", site);
        goto out;
    }
    printf("removed site %s (%s)\n", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}
