/* mochictl tokens create | list | revoke: API tokens for mochi-web's JSON
 * API, one site each. A token is shown once, when made; the database keeps
 * only its BLAKE2b-256 hash, so that a copy of the table opens nothing. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/utf8.h"
#include "tools/mochictl/mochictl.h"

/* "mochi_" and base64url (no padding) of 32 random bytes: 49 characters,
 * the form mochi-web takes as "Authorization: Bearer". */
#define TOKEN_PREFIX "mochi_"
#define TOKEN_BYTES 32
#define TOKEN_LEN                                                                                  \
    (sizeof(TOKEN_PREFIX) - 1 +                                                                    \
     sodium_base64_ENCODED_LEN(TOKEN_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1)
#define TOKEN_HASH_BYTES 32
/* api_tokens.name's bound (its CHECK). */
#define NAME_MAX_BYTES 100

static const struct mochi_setting setting_site = {.name = "site",
                                                  .type = MOCHI_SETTING_STRING,
                                                  .required = true,
                                                  .help = "the site's id or tracking key"};
static const struct mochi_setting setting_list_site = {
    .name = "site",
    .type = MOCHI_SETTING_STRING,
    .help = "only this site's tokens (its id or tracking key)"};
static const struct mochi_setting setting_name = {
    .name = "name",
    .type = MOCHI_SETTING_STRING,
    .required = true,
    .help = "what the token is for (\"grafana\", \"weekly report\"): up to 100 bytes"};
static const struct mochi_setting setting_id = {.name = "id",
                                                .type = MOCHI_SETTING_INT,
                                                .required = true,
                                                .min = 1,
                                                .max = INT64_MAX,
                                                .help = "the token's id, as tokens list shows it"};
static const struct mochi_setting setting_json = {.name = "json",
                                                  .type = MOCHI_SETTING_FLAG,
                                                  .default_value = "false",
                                                  .help = "print JSON instead of text"};

static const struct mochi_setting *const create_settings[] = {
    &mochi_setting_database_url, &setting_site, &setting_name, &setting_json, NULL};
static const struct mochi_setting *const list_settings[] = {
    &mochi_setting_database_url, &setting_list_site, &setting_json, NULL};
static const struct mochi_setting *const revoke_settings[] = {&mochi_setting_database_url,
                                                              &setting_id, NULL};

static const struct mochi_program_spec create_spec = {
    .name = "mochictl tokens create",
    .usage = "--site ID_OR_KEY --name NAME [--json]",
    .summary = "Makes an API token that reads one site's numbers through mochi-web's JSON API "
               "(\"Authorization: Bearer TOKEN\"), and prints it. It is shown this once: the "
               "database keeps only its hash.",
    .settings = create_settings,
};
static const struct mochi_program_spec list_spec = {
    .name = "mochictl tokens list",
    .usage = "[--site ID_OR_KEY] [--json]",
    .summary = "Lists the API tokens (id, site, name, when made, last used and revoked), never "
               "the tokens themselves.",
    .settings = list_settings,
};
static const struct mochi_program_spec revoke_spec = {
    .name = "mochictl tokens revoke",
    .usage = "--id ID",
    .summary = "Revokes an API token: mochi-web refuses it from then on (401). The row stays, "
               "for the record.",
    .settings = revoke_settings,
};

int mochictl_tokens_create(int argc, char **argv)
{
    static const char command[] = "mochictl tokens create";
    struct mochi_config *config = mochi_config_load_or_exit(&create_spec, argc, argv);
    struct mochictl_site site = {{0}};
    PGresult *res = NULL;
    char err[512];
    int code = 2;
    unsigned char raw[TOKEN_BYTES];
    unsigned char hash[TOKEN_HASH_BYTES];
    char token[TOKEN_LEN + 1];
    char hash_hex[2 * TOKEN_HASH_BYTES + 1];
    PGconn *conn = NULL;
    const char *name = mochi_config_str(config, &setting_name);
    size_t name_len = strlen(name);
    if (name_len > NAME_MAX_BYTES || !mochi_utf8_valid(name, name_len) ||
        mochi_utf8_has_control(name, name_len)) {
        fprintf(stderr, "%s: --name: at most %d bytes of UTF-8 text without control characters\n",
                command, NAME_MAX_BYTES);
        goto out;
    }
    code = 1;
    conn = mochictl_connect(config);
    if (conn == NULL ||
        mochictl_site_find(conn, command, mochi_config_str(config, &setting_site), &site))
        goto out;

    memcpy(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(token + sizeof(TOKEN_PREFIX) - 1, sizeof(token) - (sizeof(TOKEN_PREFIX) - 1),
                      raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    /* The hash of the whole text, prefix included, as the server hashes
     * the Bearer value it gets. */
    crypto_generichash(hash, sizeof(hash), (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(hash_hex, sizeof(hash_hex), hash, sizeof(hash));
    const char *params[3] = {site.id, name, hash_hex};
    if (mochi_db_query(conn,
                       "INSERT INTO api_tokens (site_id, name, token_hash) "
                       "VALUES ($1::uuid, $2, decode($3, 'hex')) "
                       "RETURNING id, "
                       "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                       3, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    const char *id = PQgetvalue(res, 0, 0);
    if (mochi_config_flag(config, &setting_json)) {
        json_t *obj =
            json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)strtoll(id, NULL, 10),
                      "site_id", site.id, "domain", site.domain, "name", name, "created_at",
                      PQgetvalue(res, 0, 1), "token", token);
        mochictl_print_json(obj);
        json_decref(obj);
    } else {
        printf("token  %s\nid     %s\nsite   %s (%s)\nname   %s\n\n"
               "Shown this once: the database keeps only its hash. Send it as\n"
               "  Authorization: Bearer %s\n"
               "to mochi-web's /api/v1/sites/%s/... (revoke: mochictl tokens revoke --id %s)\n",
               token, id, site.domain, site.id, name, token, site.id, id);
    }
    code = 0;
out:
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(token, sizeof(token));
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_tokens_list(int argc, char **argv)
{
    static const char command[] = "mochictl tokens list";
    struct mochi_config *config = mochi_config_load_or_exit(&list_spec, argc, argv);
    struct mochictl_site site = {{0}};
    PGresult *res = NULL;
    char err[512];
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    const char *key = mochi_config_str(config, &setting_list_site);
    if (key != NULL && mochictl_site_find(conn, command, key, &site) != 0)
        goto out;
    /* NULL: every site's */
    const char *params[1] = {key != NULL ? site.id : NULL};
    if (mochi_db_query(
            conn,
            "SELECT t.id, t.site_id, s.domain, t.name, "
            "to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
            "to_char(t.last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
            "to_char(t.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
            "FROM api_tokens t JOIN sites s ON s.id = t.site_id "
            "WHERE $1::uuid IS NULL OR t.site_id = $1::uuid ORDER BY t.id",
            1, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    int n = PQntuples(res);
    if (mochi_config_flag(config, &setting_json)) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(
                arr, json_pack("{s:I, s:o?, s:o?, s:o?, s:o?, s:o?, s:o?}", "id",
                               (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "site_id",
                               mochictl_json_cell(res, i, 1), "domain",
                               mochictl_json_cell(res, i, 2), "name", mochictl_json_cell(res, i, 3),
                               "created_at", mochictl_json_cell(res, i, 4), "last_used_at",
                               mochictl_json_cell(res, i, 5), "revoked_at",
                               mochictl_json_cell(res, i, 6)));
        mochictl_print_json(arr);
        json_decref(arr);
    } else {
        printf("%-6s  %-24s  %-20s  %-20s  %-20s  %s\n", "ID", "SITE", "CREATED", "LAST USED",
               "REVOKED", "NAME");
        for (int i = 0; i < n; i++) {
            mochictl_print_cell(res, i, 0, 6, "  ");
            mochictl_print_cell(res, i, 2, 24, "  ");
            mochictl_print_cell(res, i, 4, 20, "  ");
            mochictl_print_cell(res, i, 5, 20, "  ");
            mochictl_print_cell(res, i, 6, 20, "  ");
            mochictl_print_cell(res, i, 3, 0, "\n");
        }
    }
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_tokens_revoke(int argc, char **argv)
{
    static const char command[] = "mochictl tokens revoke";
    struct mochi_config *config = mochi_config_load_or_exit(&revoke_spec, argc, argv);
    PGresult *res = NULL;
    char err[512];
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    char id[24];
    snprintf(id, sizeof(id), "%lld", mochi_config_int(config, &setting_id));
    const char *params[1] = {id};
    /* Revoking twice keeps the first time: "revoked since". */
    if (mochi_db_query(conn,
                       "WITH t AS (SELECT id, revoked_at FROM api_tokens WHERE id = $1::bigint "
                       "FOR UPDATE), "
                       "r AS (UPDATE api_tokens a SET revoked_at = now() FROM t "
                       "WHERE a.id = t.id AND t.revoked_at IS NULL RETURNING a.revoked_at) "
                       "SELECT to_char(coalesce((SELECT revoked_at FROM r), t.revoked_at) "
                       "AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                       "t.revoked_at IS NOT NULL, s.domain, a.name "
                       "FROM t JOIN api_tokens a ON a.id = t.id JOIN sites s ON s.id = a.site_id",
                       1, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    if (PQntuples(res) == 0) {
        fprintf(stderr, "%s: no token with id %s\n", command, id);
        goto out;
    }
    printf("token %s of %s (", id, PQgetvalue(res, 0, 2));
    mochictl_print_cell(res, 0, 3, 0, "");
    printf(") %s %s\n",
           strcmp(PQgetvalue(res, 0, 1), "t") == 0 ? "was revoked already at" : "revoked at",
           PQgetvalue(res, 0, 0));
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}
