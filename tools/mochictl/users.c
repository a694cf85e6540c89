/* mochictl users add | passwd | grant | revoke | remove | list: the
 * dashboard's accounts (sql/008_web.sql). mochi-web only reads them; they
 * are made here, by whoever holds the database owner's credentials. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "tools/mochictl/cell.h"
#include "tools/mochictl/mochictl.h"
#include "tools/mochictl/password.h"

/* users.email's bound (its CHECK), and room for the NUL. */
#define EMAIL_MAX 254

static const struct mochi_setting setting_email = {
    .name = "email",
    .type = MOCHI_SETTING_STRING,
    .required = true,
    .help = "the user's e-mail address, their login name (stored lower-cased)"};
static const struct mochi_setting setting_site = {.name = "site",
                                                  .type = MOCHI_SETTING_STRING,
                                                  .required = true,
                                                  .help = "the site's id or tracking key"};
static const char *const role_choices[] = {"viewer", "admin", NULL};
static const struct mochi_setting setting_role = {
    .name = "role",
    .type = MOCHI_SETTING_ENUM,
    .required = true,
    .choices = role_choices,
    .help = "'viewer' reads the site's numbers; 'admin' also manages its share links and API "
            "tokens in the dashboard"};
static const struct mochi_setting setting_json = {.name = "json",
                                                  .type = MOCHI_SETTING_FLAG,
                                                  .default_value = "false",
                                                  .help = "print JSON instead of text"};

static const struct mochi_setting *const email_settings[] = {&mochi_setting_database_url,
                                                             &setting_email, NULL};
static const struct mochi_setting *const grant_settings[] = {
    &mochi_setting_database_url, &setting_email, &setting_site, &setting_role, NULL};
static const struct mochi_setting *const revoke_settings[] = {&mochi_setting_database_url,
                                                              &setting_email, &setting_site, NULL};
static const struct mochi_setting *const list_settings[] = {&mochi_setting_database_url,
                                                            &setting_json, NULL};

#define PASSWORD_HELP                                                                              \
    "The password is read from standard input when it is not a terminal (its first line), "        \
    "otherwise asked twice on the terminal without echo; never from a flag. It has at least 10 "   \
    "characters and at most 256 bytes, and is stored only as its Argon2id hash."

static const struct mochi_program_spec add_spec = {
    .name = "mochictl users add",
    .usage = "--email EMAIL",
    .summary = "Adds a dashboard user, who sees no site until granted one (mochictl users "
               "grant). " PASSWORD_HELP,
    .settings = email_settings,
};
static const struct mochi_program_spec passwd_spec = {
    .name = "mochictl users passwd",
    .usage = "--email EMAIL",
    .summary =
        "Sets a user's new password and ends their sessions (they sign in again). " PASSWORD_HELP,
    .settings = email_settings,
};
static const struct mochi_program_spec grant_spec = {
    .name = "mochictl users grant",
    .usage = "--email EMAIL --site ID_OR_KEY --role viewer|admin",
    .summary = "Gives a user a role on a site, or changes the role they have there.",
    .settings = grant_settings,
};
static const struct mochi_program_spec revoke_spec = {
    .name = "mochictl users revoke",
    .usage = "--email EMAIL --site ID_OR_KEY",
    .summary = "Takes a user's role on a site away: they no longer see it.",
    .settings = revoke_settings,
};
static const struct mochi_program_spec remove_spec = {
    .name = "mochictl users remove",
    .usage = "--email EMAIL",
    .summary = "Removes a user with their roles and sessions (signed in, they are signed out).",
    .settings = email_settings,
};
static const struct mochi_program_spec list_spec = {
    .name = "mochictl users list",
    .usage = "[--json]",
    .summary = "Lists the users, their open sessions, and the sites they may see with their role "
               "on each.",
    .settings = list_settings,
};

struct user {
    char id[24];
    char email[EMAIL_MAX + 1];
};

static void print_refused_email(const char *command, const char *email);
static int check_new_email(PGconn *conn, const char *command, const char *email, struct user *user);
static int find_user(PGconn *conn, const char *command, const char *email, struct user *user);
static int new_password_hash(const char *command, char hash[crypto_pwhash_STRBYTES]);

static void print_refused_email(const char *command, const char *email)
{
    char *shown = mochictl_cell_text(email, strlen(email));
    fprintf(stderr,
            "%s: --email: '%s' is not an e-mail address the users table takes: one '@' with "
            "text on both sides, no spaces or control characters, at most 254 bytes\n",
            command, shown ? shown : "?");
    free(shown);
}

/* Lower-cases email and checks it against the users table's own rules
 * (its CHECK and its UNIQUE), by inserting it in a transaction that is
 * rolled back, before anyone types a password. Returns 0 with the address
 * as it will be stored in user->email, or prints why not and returns the
 * exit code: 2 for an address the table refuses, 1 when it is a user's
 * already or the database failed. */
static int check_new_email(PGconn *conn, const char *command, const char *email, struct user *user)
{
    char err[512];
    int code = 1;
    if (mochi_db_exec(conn, "BEGIN", err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        return 1;
    }
    /* The row never commits: its password hash is a placeholder that its
     * CHECK lets through, and its id is given (0, which the sequence never
     * hands out) so that the probe takes no number from the sequence.
     * lower() is the database's, as in the CHECK, so that letters beyond
     * ASCII are lowered by the same rules. */
    const char *params[1] = {email};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO users (id, email, password_hash) "
                                 "VALUES (0, lower($1), '$argon2id$probe') RETURNING email",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        snprintf(user->email, sizeof(user->email), "%s", PQgetvalue(res, 0, 0));
        code = 0;
    } else {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
        /* its CHECK, or a data exception (bytes that are not the
         * database's encoding) */
        if (state != NULL && ((strcmp(state, "23514") == 0 && constraint != NULL &&
                               strcmp(constraint, "users_email_check") == 0) ||
                              strncmp(state, "22", 2) == 0)) {
            print_refused_email(command, email);
            code = 2;
        } else if (state != NULL && strcmp(state, "23505") == 0 && constraint != NULL &&
                   strcmp(constraint, "users_email_key") == 0) {
            char *shown = mochictl_cell_text(email, strlen(email));
            fprintf(stderr,
                    "%s: a user with e-mail '%s' exists already (mochictl users passwd changes "
                    "a password)\n",
                    command, shown ? shown : "?");
            free(shown);
        } else {
            mochi_db_error(conn, res, err, sizeof(err));
            fprintf(stderr, "%s: %s\n", command, err);
        }
    }
    PQclear(res);
    mochi_db_rollback(conn);
    return code;
}

/* Finds the user with e-mail address email (in any case). Returns 0 with
 * the user in *user, or prints why not and returns the exit code 1. */
static int find_user(PGconn *conn, const char *command, const char *email, struct user *user)
{
    char err[512];
    PGresult *res = NULL;
    const char *params[1] = {email};
    if (mochi_db_query(conn, "SELECT id, email FROM users WHERE email = lower($1)", 1, params, &res,
                       err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        return 1;
    }
    if (PQntuples(res) == 0) {
        char *shown = mochictl_cell_text(email, strlen(email));
        fprintf(stderr, "%s: no user with e-mail '%s'\n", command, shown ? shown : "?");
        free(shown);
        PQclear(res);
        return 1;
    }
    snprintf(user->id, sizeof(user->id), "%s", PQgetvalue(res, 0, 0));
    snprintf(user->email, sizeof(user->email), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

/* Reads a new password (mochictl_password_read) and hashes it into hash.
 * Returns 0, or the exit code (the reason is printed). The password is
 * wiped before it returns. */
static int new_password_hash(const char *command, char hash[crypto_pwhash_STRBYTES])
{
    char pw[MOCHICTL_PASSWORD_MAX_BYTES + 1];
    size_t len = 0;
    int code = mochictl_password_read(command, pw, &len);
    if (code == 0)
        code = mochictl_password_hash(command, pw, len, hash);
    sodium_memzero(pw, sizeof(pw));
    return code;
}

int mochictl_users_add(int argc, char **argv)
{
    static const char command[] = "mochictl users add";
    struct mochi_config *config = mochi_config_load_or_exit(&add_spec, argc, argv);
    char hash[crypto_pwhash_STRBYTES];
    struct user user = {{0}};
    PGresult *res = NULL;
    char err[512];
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    code = check_new_email(conn, command, mochi_config_str(config, &setting_email), &user);
    if (code != 0)
        goto out;
    code = new_password_hash(command, hash);
    if (code != 0)
        goto out;
    code = 1;
    const char *params[2] = {user.email, hash};
    int rc = mochi_db_query(conn,
                            "INSERT INTO users (email, password_hash) VALUES ($1, $2) "
                            "RETURNING id",
                            2, params, &res, err, sizeof(err));
    if (rc == MOCHI_ERR_CONFLICT) {
        fprintf(stderr, "%s: a user with e-mail '%s' was added meanwhile\n", command, user.email);
        goto out;
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    printf("added user %s (id %s); give them a site with: mochictl users grant --email %s "
           "--site ID_OR_KEY --role viewer\n",
           user.email, PQgetvalue(res, 0, 0), user.email);
    code = 0;
out:
    sodium_memzero(hash, sizeof(hash));
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_users_passwd(int argc, char **argv)
{
    static const char command[] = "mochictl users passwd";
    struct mochi_config *config = mochi_config_load_or_exit(&passwd_spec, argc, argv);
    char hash[crypto_pwhash_STRBYTES];
    struct user user = {{0}};
    PGresult *res = NULL;
    char err[512];
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    code = find_user(conn, command, mochi_config_str(config, &setting_email), &user);
    if (code != 0)
        goto out;
    code = new_password_hash(command, hash);
    if (code != 0)
        goto out;
    code = 1;
    /* One statement: the new hash and the end of the sessions opened with
     * the old password commit together. */
    const char *params[2] = {user.id, hash};
    if (mochi_db_query(conn,
                       "WITH u AS (UPDATE users SET password_hash = $2 WHERE id = $1::bigint "
                       "RETURNING id), "
                       "s AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM u) "
                       "RETURNING 1) "
                       "SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM s)",
                       2, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "1") != 0) {
        fprintf(stderr, "%s: user %s was removed meanwhile\n", command, user.email);
        goto out;
    }
    printf("changed the password of %s; ended %s sessions\n", user.email, PQgetvalue(res, 0, 1));
    code = 0;
out:
    sodium_memzero(hash, sizeof(hash));
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_users_grant(int argc, char **argv)
{
    static const char command[] = "mochictl users grant";
    struct mochi_config *config = mochi_config_load_or_exit(&grant_spec, argc, argv);
    struct user user = {{0}};
    struct mochictl_site site = {{0}};
    PGresult *res = NULL;
    char err[512];
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL || find_user(conn, command, mochi_config_str(config, &setting_email), &user) ||
        mochictl_site_find(conn, command, mochi_config_str(config, &setting_site), &site))
        goto out;
    const char *role = mochi_config_str(config, &setting_role);
    const char *params[3] = {user.id, site.id, role};
    if (mochi_db_query(conn,
                       "INSERT INTO site_roles (user_id, site_id, role) "
                       "VALUES ($1::bigint, $2::uuid, $3) "
                       "ON CONFLICT (user_id, site_id) DO UPDATE SET role = excluded.role "
                       "RETURNING role",
                       3, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    printf("%s is %s of %s (%s)\n", user.email, PQgetvalue(res, 0, 0), site.domain, site.id);
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_users_revoke(int argc, char **argv)
{
    static const char command[] = "mochictl users revoke";
    struct mochi_config *config = mochi_config_load_or_exit(&revoke_spec, argc, argv);
    struct user user = {{0}};
    struct mochictl_site site = {{0}};
    PGresult *res = NULL;
    char err[512];
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL || find_user(conn, command, mochi_config_str(config, &setting_email), &user) ||
        mochictl_site_find(conn, command, mochi_config_str(config, &setting_site), &site))
        goto out;
    const char *params[2] = {user.id, site.id};
    if (mochi_db_query(conn,
                       "DELETE FROM site_roles WHERE user_id = $1::bigint AND site_id = $2::uuid "
                       "RETURNING role",
                       2, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    if (PQntuples(res) == 0) {
        fprintf(stderr, "%s: %s has no role on %s (%s)\n", command, user.email, site.domain,
                site.id);
        goto out;
    }
    printf("%s is no longer %s of %s (%s)\n", user.email, PQgetvalue(res, 0, 0), site.domain,
           site.id);
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_users_remove(int argc, char **argv)
{
    static const char command[] = "mochictl users remove";
    struct mochi_config *config = mochi_config_load_or_exit(&remove_spec, argc, argv);
    PGresult *res = NULL;
    char err[512];
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    const char *email = mochi_config_str(config, &setting_email);
    const char *params[1] = {email};
    /* The roles and sessions go by ON DELETE CASCADE; they are counted in
     * the same snapshot, for the message. */
    if (mochi_db_query(conn,
                       "WITH u AS (DELETE FROM users WHERE email = lower($1) RETURNING id, email) "
                       "SELECT u.email, "
                       "(SELECT count(*) FROM site_roles r WHERE r.user_id = u.id), "
                       "(SELECT count(*) FROM sessions s WHERE s.user_id = u.id) FROM u",
                       1, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    if (PQntuples(res) == 0) {
        char *shown = mochictl_cell_text(email, strlen(email));
        fprintf(stderr, "%s: no user with e-mail '%s'\n", command, shown ? shown : "?");
        free(shown);
        goto out;
    }
    printf("removed user %s with their %s site roles and %s sessions\n", PQgetvalue(res, 0, 0),
           PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_users_list(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&list_spec, argc, argv);
    PGresult *res = NULL;
    json_t *users = NULL;
    char err[512];
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    /* One row per user and site (a user without sites: one row of NULLs),
     * by e-mail, then by domain. */
    if (mochi_db_query(
            conn,
            "SELECT u.id, u.email, "
            "to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
            "(SELECT count(*) FROM sessions s WHERE s.user_id = u.id "
            "AND s.expires_at > now()), "
            "r.role, s.id, s.domain "
            "FROM users u LEFT JOIN site_roles r ON r.user_id = u.id "
            "LEFT JOIN sites s ON s.id = r.site_id "
            "ORDER BY u.email COLLATE \"C\", u.id, s.domain COLLATE \"C\", s.id",
            0, NULL, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl users list: %s\n", err);
        goto out;
    }
    int n = PQntuples(res);
    bool json = mochi_config_flag(config, &setting_json);
    if (json)
        users = json_array();
    else
        printf("%-32s  %-20s  %-8s  %s\n", "EMAIL", "CREATED", "SESSIONS", "SITES (ROLE)");
    json_t *sites = NULL;
    for (int i = 0; i < n; i++) {
        bool first = i == 0 || strcmp(PQgetvalue(res, i, 0), PQgetvalue(res, i - 1, 0)) != 0;
        bool has_site = !PQgetisnull(res, i, 5);
        if (json) {
            if (first) {
                sites = json_array();
                json_array_append_new(
                    users,
                    json_pack("{s:o?, s:o?, s:I, s:o}", "email", mochictl_json_cell(res, i, 1),
                              "created_at", mochictl_json_cell(res, i, 2), "sessions",
                              (json_int_t)strtoll(PQgetvalue(res, i, 3), NULL, 10), "sites",
                              sites));
            }
            if (has_site)
                json_array_append_new(sites, json_pack("{s:o?, s:o?, s:o?}", "site_id",
                                                       mochictl_json_cell(res, i, 5), "domain",
                                                       mochictl_json_cell(res, i, 6), "role",
                                                       mochictl_json_cell(res, i, 4)));
            continue;
        }
        if (first) {
            if (i > 0)
                putchar('\n');
            mochictl_print_cell(res, i, 1, 32, "  ");
            mochictl_print_cell(res, i, 2, 20, "  ");
            mochictl_print_cell(res, i, 3, 8, "  ");
        } else {
            printf(", ");
        }
        if (has_site) {
            char *domain =
                mochictl_cell_text(PQgetvalue(res, i, 6), (size_t)PQgetlength(res, i, 6));
            printf("%s (%s)", domain ? domain : "?", PQgetvalue(res, i, 4));
            free(domain);
        } else {
            printf("-");
        }
    }
    if (json)
        mochictl_print_json(users);
    else if (n > 0)
        putchar('\n');
    code = 0;
out:
    json_decref(users);
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}
