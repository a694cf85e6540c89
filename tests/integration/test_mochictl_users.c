/* mochictl users, tokens and shares against the private PostgreSQL server
 * of the "pg" fixture: passwords from standard input and from a terminal
 * (a pseudo-terminal here), checked by libsodium's own
 * crypto_pwhash_str_verify; the refusals and their exit codes; roles,
 * removal and its cascade as the tables show them; API tokens whose
 * stored hash is recomputed here and which appear nowhere in the database;
 * share links. Every expected value is written out or computed here with
 * libsodium, never by mochictl's code. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness/harness.h"

#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

struct site {
    char id[64];
    char key[64];
};

/* Runs mochictl with the NULL-terminated arguments after input_len: input
 * (NULL: /dev/null) on its standard input. Returns the exit code. */
static int run(const struct mochi_test_db *db, const char *input, size_t input_len, char **out,
               char **err, ...)
{
    const char *args[24];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    for (const char *a = va_arg(ap, const char *); a != NULL && argc < 23;
         a = va_arg(ap, const char *))
        args[argc++] = a;
    va_end(ap);
    args[argc] = NULL;
    return mochi_test_mochictl_input(db->conninfo, NULL, NULL, args, input, input_len, 60000, out,
                                     err);
}

/* mochictl with input as a string; frees the outputs unless asked for. */
#define MOCHICTL(db, input, ...) mochictl_str((db), (input), NULL, NULL, __VA_ARGS__, NULL)
static int mochictl_str(const struct mochi_test_db *db, const char *input, char **out_keep,
                        char **err_keep, ...)
{
    const char *args[24];
    int argc = 0;
    va_list ap;
    va_start(ap, err_keep);
    for (const char *a = va_arg(ap, const char *); a != NULL && argc < 23;
         a = va_arg(ap, const char *))
        args[argc++] = a;
    va_end(ap);
    args[argc] = NULL;
    char *out = NULL, *err = NULL;
    int code = mochi_test_mochictl_input(db->conninfo, NULL, NULL, args, input,
                                         input ? strlen(input) : 0, 60000, &out, &err);
    if (out_keep)
        *out_keep = out;
    else
        free(out);
    if (err_keep)
        *err_keep = err;
    else
        free(err);
    return code;
}

static void add_site(const struct mochi_test_db *db, const char *domain, struct site *site)
{
    char *out = NULL;
    assert_int_equal(mochictl_str(db, NULL, &out, NULL, "sites", "add", "--name", domain,
                                  "--domain", domain, "--json", NULL),
                     0);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    assert_non_null(doc);
    snprintf(site->id, sizeof(site->id), "%s", json_string_value(json_object_get(doc, "id")));
    snprintf(site->key, sizeof(site->key), "%s",
             json_string_value(json_object_get(doc, "tracking_key")));
    json_decref(doc);
    free(out);
}

/* users.password_hash of email, into buf; false when there is no such user. */
static bool stored_hash(PGconn *conn, const char *email, char *buf, size_t size)
{
    const char *params[1] = {email};
    PGresult *res = PQexecParams(conn, "SELECT password_hash FROM users WHERE email = $1", 1, NULL,
                                 params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    bool found = PQntuples(res) == 1;
    if (found)
        snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return found;
}

/* True when password opens hash, as libsodium (and so mochi-web) checks it. */
static bool verifies(const char *hash, const char *password, size_t len)
{
    return crypto_pwhash_str_verify(hash, password, len) == 0;
}

/* The number sql (with $1 = arg) returns. */
static long long count(PGconn *conn, const char *sql, const char *arg)
{
    const char *params[1] = {arg};
    PGresult *res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

/* Exit code, then stderr holding want, one line. */
static void expect_refused(int code, int want_code, const char *err, const char *want)
{
    if (code != want_code)
        fail_msg("exit code %d, not %d; stderr: %s", code, want_code, err);
    if (strstr(err, want) == NULL)
        fail_msg("stderr lacks '%s': %s", want, err);
    assert_non_null(strchr(err, '\n'));
    assert_null(strchr(strchr(err, '\n') + 1, '\n'));
}

/* Runs mochictl with the NULL-terminated arguments after want, input
 * (NULL: none) on its standard input, and expects exit code want_code with
 * want in the one line of stderr. */
static void refused(const struct mochi_test_db *db, const char *input, int want_code,
                    const char *want, ...)
{
    const char *args[24];
    int argc = 0;
    va_list ap;
    va_start(ap, want);
    for (const char *a = va_arg(ap, const char *); a != NULL && argc < 23;
         a = va_arg(ap, const char *))
        args[argc++] = a;
    va_end(ap);
    args[argc] = NULL;
    char *out = NULL, *err = NULL;
    int code = mochi_test_mochictl_input(db->conninfo, NULL, NULL, args, input,
                                         input ? strlen(input) : 0, 60000, &out, &err);
    expect_refused(code, want_code, err, want);
    /* shown escaped, never as raw control bytes */
    assert_null(strchr(err, '\x1b'));
    assert_null(strchr(err, '\t'));
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static void users_add_stores_an_argon2id_hash(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    char *out = NULL, *err = NULL;
    static const char password[] = "correct horse battery";
    assert_int_equal(run(&db, "correct horse battery\n", 22, &out, &err, "users", "add", "--email",
                         "Ann@Example.ORG", NULL),
                     0);
    assert_non_null(strstr(out, "added user ann@example.org"));
    /* the password is printed nowhere */
    assert_null(strstr(out, password));
    assert_null(strstr(err, password));
    free(out);
    free(err);

    char hash[256];
    assert_true(stored_hash(conn, "ann@example.org", hash, sizeof(hash)));
    /* Argon2id at libsodium's interactive limits: 64 MiB, 2 passes */
    assert_int_equal(strncmp(hash, "$argon2id$v=19$m=65536,t=2,p=1$", 31), 0);
    assert_true(verifies(hash, password, strlen(password)));
    assert_false(verifies(hash, "correct horse batterY", 21));
    assert_false(verifies(hash, "correct horse battery\n", 22)); /* the newline is not in it */
    assert_false(verifies(hash, "correct horse batter", 20));
    /* the address as typed is not stored: only the lower-cased one */
    assert_int_equal(count(conn, "SELECT count(*) FROM users WHERE email = $1", "Ann@Example.ORG"),
                     0);

    /* A second user with the same password gets another salt: another hash. */
    assert_int_equal(
        MOCHICTL(&db, "correct horse battery", "users", "add", "--email", "bob@example.org"), 0);
    char hash2[256];
    assert_true(stored_hash(conn, "bob@example.org", hash2, sizeof(hash2)));
    assert_string_not_equal(hash, hash2);
    assert_true(verifies(hash2, password, strlen(password)));

    /* CRLF ends a line as LF does; only the first line counts */
    assert_int_equal(MOCHICTL(&db, "windows-line-end\r\nsecond line\n", "users", "add", "--email",
                              "carol@example.org"),
                     0);
    assert_true(stored_hash(conn, "carol@example.org", hash, sizeof(hash)));
    assert_true(verifies(hash, "windows-line-end", 16));
    assert_false(verifies(hash, "windows-line-end\r", 17));

    /* Ten characters, in twenty bytes of UTF-8, are enough */
    static const char umlauts[] = "\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6"
                                  "\xc3\xbc\xc3\xa4";
    assert_int_equal(MOCHICTL(&db, umlauts, "users", "add", "--email", "dora@example.org"), 0);
    assert_true(stored_hash(conn, "dora@example.org", hash, sizeof(hash)));
    assert_true(verifies(hash, umlauts, 20));

    /* 256 bytes are taken whole, not cut */
    char longest[300];
    memset(longest, 'x', 256);
    longest[255] = 'y';
    longest[256] = '\0';
    assert_int_equal(MOCHICTL(&db, longest, "users", "add", "--email", "eve@example.org"), 0);
    assert_true(stored_hash(conn, "eve@example.org", hash, sizeof(hash)));
    assert_true(verifies(hash, longest, 256));
    assert_false(verifies(hash, longest, 255));

    /* Letters beyond ASCII are lowered as the database lowers them (the
     * table's CHECK uses its lower()). */
    assert_int_equal(MOCHICTL(&db, "0123456789", "users", "add", "--email",
                              "\xc3\x84nne@example.org"), /* Änne */
                     0);
    assert_int_equal(
        count(conn, "SELECT count(*) FROM users WHERE email = $1", "\xc3\xa4nne@example.org"), 1);

    /* No password text is anywhere in the database. */
    char *dump = mochi_test_pg_dump(&db);
    assert_non_null(strstr(dump, "ann@example.org"));
    assert_null(strstr(dump, password));
    assert_null(strstr(dump, "windows-line-end"));
    free(dump);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

static void users_add_refusals(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    char *err = NULL;
    assert_int_equal(MOCHICTL(&db, "a good password", "users", "add", "--email", "ann@example.org"),
                     0);

    /* passwords: short (9 characters, also when they take more bytes),
     * too long, none, not UTF-8, with a NUL */
    char too_long[300];
    memset(too_long, 'z', 257);
    too_long[257] = '\0';
    struct {
        const char *input;
        size_t len;
        const char *want;
    } passwords[] = {
        {"123456789\n", 10, "the password is shorter than 10 characters"},
        {"\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc", 18,
         "the password is shorter than 10 characters"},
        {too_long, 257, "the password is longer than 256 bytes"},
        {"", 0, "no password on standard input"},
        {NULL, 0, "no password on standard input"}, /* /dev/null */
        {"\n", 1, "the password is shorter than 10 characters"},
        {"latin1-caf\xe9-password", 20, "not UTF-8"},
        {"nul-inside\0-password", 20, "NUL byte"},
    };
    for (size_t i = 0; i < sizeof(passwords) / sizeof(passwords[0]); i++) {
        char *out = NULL;
        int code = run(&db, passwords[i].input, passwords[i].len, &out, &err, "users", "add",
                       "--email", "new@example.org", NULL);
        expect_refused(code, 2, err, passwords[i].want);
        assert_string_equal(out, "");
        free(out);
        free(err);
    }

    /* addresses the table's CHECK refuses: exit 2 */
    char long_email[300];
    memset(long_email, 'a', 255);
    memcpy(long_email + 240, "@example.org", 13); /* 252 bytes: taken */
    const char *emails[] = {"no-at-sign.example.org",
                            "two@@example.org",
                            "a@b@example.org",
                            "@example.org",
                            "ann@",
                            "a n@example.org",
                            "ann@exa\tmple.org",
                            "ann@example.org\n",
                            "ann@exa\x1bmple.org",
                            "x\xff@example.org"};
    for (size_t i = 0; i < sizeof(emails) / sizeof(emails[0]); i++)
        refused(&db, "a good password", 2, "is not an e-mail address the users table takes",
                "users", "add", "--email", emails[i], NULL);
    /* at most 254 bytes */
    assert_int_equal(MOCHICTL(&db, "a good password", "users", "add", "--email", long_email), 0);
    char longer[300];
    memset(longer, 'b', 243);
    memcpy(longer + 243, "@example.org", 13); /* 255 bytes */
    refused(&db, "a good password", 2, "at most 254 bytes", "users", "add", "--email", longer,
            NULL);
    /* an empty --email is a usage error too */
    refused(&db, "a good password", 2, "--email", "users", "add", "--email", "", NULL);
    refused(&db, "a good password", 2, "--email is required", "users", "add", NULL);
    /* no flag takes a password */
    refused(&db, "a good password", 2, "unknown option", "users", "add", "--email",
            "pw@example.org", "--password", "a good password", NULL);

    /* a duplicate, in any case: exit 1, the first one's hash untouched */
    char before[256], after[256];
    assert_true(stored_hash(conn, "ann@example.org", before, sizeof(before)));
    refused(&db, "another password", 1, "a user with e-mail 'ANN@example.org' exists already",
            "users", "add", "--email", "ANN@example.org", NULL);
    assert_true(stored_hash(conn, "ann@example.org", after, sizeof(after)));
    assert_string_equal(before, after);
    assert_true(verifies(after, "a good password", 15));

    /* only ann and the 252-byte address were added */
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM users"), 2);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* Inserts a session for email as mochi-web would, with a token hash made
 * of one repeated byte. */
static void add_session(PGconn *conn, const char *email, const char *byte_hex)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) "
             "SELECT decode(repeat('%s', 32), 'hex'), id, repeat('c', 43), now() + interval '1 "
             "day' FROM users WHERE email = '%s'",
             byte_hex, email);
    mochi_test_db_exec(conn, sql);
}

static void users_grant_revoke_remove(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    struct site blog, shop;
    add_site(&db, "blog.example", &blog);
    add_site(&db, "shop.example", &shop);
    char *out = NULL;
    assert_int_equal(MOCHICTL(&db, "ann's password", "users", "add", "--email", "ann@example.org"),
                     0);
    assert_int_equal(MOCHICTL(&db, "bob's password", "users", "add", "--email", "bob@example.org"),
                     0);
    char sql[512];

    /* by tracking key, then by id: one row, the last role */
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "users", "grant", "--email",
                                  "ann@example.org", "--site", blog.key, "--role", "viewer", NULL),
                     0);
    assert_non_null(strstr(out, "ann@example.org is viewer of blog.example"));
    free(out);
    snprintf(sql, sizeof(sql),
             "SELECT r.role FROM site_roles r JOIN users u ON u.id = r.user_id "
             "WHERE u.email = 'ann@example.org' AND r.site_id = '%s'",
             blog.id);
    char role[32];
    assert_true(mochi_test_db_text(conn, sql, role, sizeof(role)));
    assert_string_equal(role, "viewer");
    assert_int_equal(MOCHICTL(&db, NULL, "users", "grant", "--email", "Ann@Example.org", "--site",
                              blog.id, "--role", "ADMIN"),
                     0);
    assert_true(mochi_test_db_text(conn, sql, role, sizeof(role)));
    assert_string_equal(role, "admin");
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM site_roles"), 1);
    assert_int_equal(MOCHICTL(&db, NULL, "users", "grant", "--email", "ann@example.org", "--site",
                              shop.key, "--role", "viewer"),
                     0);
    assert_int_equal(MOCHICTL(&db, NULL, "users", "grant", "--email", "bob@example.org", "--site",
                              shop.id, "--role", "viewer"),
                     0);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM site_roles"), 3);

    /* refused */
    refused(&db, NULL, 1, "no site with id or tracking key 'noSuchKey_0000000000'", "users",
            "grant", "--email", "ann@example.org", "--site", "noSuchKey_0000000000", "--role",
            "viewer", NULL);
    refused(&db, NULL, 1, "no site with id or tracking key", "users", "grant", "--email",
            "ann@example.org", "--site", "00000000-0000-4000-8000-000000000000", "--role", "viewer",
            NULL);
    refused(&db, NULL, 2, "--role: expected viewer or admin", "users", "grant", "--email",
            "ann@example.org", "--site", blog.key, "--role", "owner", NULL);
    refused(&db, NULL, 1, "no user with e-mail 'nobody@example.org'", "users", "grant", "--email",
            "nobody@example.org", "--site", blog.key, "--role", "viewer", NULL);
    refused(&db, NULL, 2, "--role is required", "users", "grant", "--email", "ann@example.org",
            "--site", blog.key, NULL);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM site_roles"), 3);

    /* list: each user with their sites and roles, by e-mail then domain */
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "users", "list", "--json", NULL), 0);
    json_error_t jerr;
    json_t *list = json_loads(out, 0, &jerr);
    assert_non_null(list);
    free(out);
    assert_int_equal(json_array_size(list), 2);
    json_t *ann = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(ann, "email")), "ann@example.org");
    json_t *sites = json_object_get(ann, "sites");
    assert_int_equal(json_array_size(sites), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sites, 0), "domain")),
                        "blog.example");
    assert_string_equal(json_string_value(json_object_get(json_array_get(sites, 0), "site_id")),
                        blog.id);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sites, 0), "role")),
                        "admin");
    assert_string_equal(json_string_value(json_object_get(json_array_get(sites, 1), "domain")),
                        "shop.example");
    assert_string_equal(json_string_value(json_object_get(json_array_get(sites, 1), "role")),
                        "viewer");
    json_t *bob = json_array_get(list, 1);
    assert_string_equal(json_string_value(json_object_get(bob, "email")), "bob@example.org");
    assert_int_equal(json_array_size(json_object_get(bob, "sites")), 1);
    /* the hash is not listed */
    char *dumped = json_dumps(list, 0);
    assert_null(strstr(dumped, "argon2"));
    free(dumped);
    json_decref(list);
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "users", "list", NULL), 0);
    assert_non_null(strstr(out, "blog.example (admin), shop.example (viewer)\n"));
    assert_non_null(strstr(out, "bob@example.org"));
    assert_null(strstr(out, "argon2"));
    free(out);

    /* revoke: the row goes; twice is an error */
    assert_int_equal(
        MOCHICTL(&db, NULL, "users", "revoke", "--email", "ann@example.org", "--site", shop.key),
        0);
    assert_int_equal(count(conn,
                           "SELECT count(*) FROM site_roles r JOIN users u ON u.id = r.user_id "
                           "WHERE u.email = $1",
                           "ann@example.org"),
                     1);
    refused(&db, NULL, 1, "ann@example.org has no role on shop.example", "users", "revoke",
            "--email", "ann@example.org", "--site", shop.key, NULL);

    /* passwd: the new password opens, the old one not, sessions end */
    add_session(conn, "ann@example.org", "a1");
    add_session(conn, "bob@example.org", "b1");
    char hash[256];
    assert_int_equal(mochictl_str(&db, "ann's new password\n", &out, NULL, "users", "passwd",
                                  "--email", "ANN@example.org", NULL),
                     0);
    assert_non_null(strstr(out, "ended 1 sessions"));
    free(out);
    assert_true(stored_hash(conn, "ann@example.org", hash, sizeof(hash)));
    assert_true(verifies(hash, "ann's new password", 18));
    assert_false(verifies(hash, "ann's password", 14));
    assert_int_equal(count(conn,
                           "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id "
                           "WHERE u.email = $1",
                           "ann@example.org"),
                     0);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM sessions"), 1);
    refused(&db, "short", 2, "shorter than 10 characters", "users", "passwd", "--email",
            "ann@example.org", NULL);
    assert_true(stored_hash(conn, "ann@example.org", hash, sizeof(hash)));
    assert_true(verifies(hash, "ann's new password", 18));
    refused(&db, "long enough password", 1, "no user with e-mail 'nobody@example.org'", "users",
            "passwd", "--email", "nobody@example.org", NULL);

    /* remove: the user, their roles and sessions go; bob keeps his */
    add_session(conn, "ann@example.org", "a2");
    add_session(conn, "ann@example.org", "a3");
    assert_int_equal(
        mochictl_str(&db, NULL, &out, NULL, "users", "remove", "--email", "Ann@example.org", NULL),
        0);
    assert_non_null(strstr(out, "removed user ann@example.org with their 1 site roles and 2 "
                                "sessions"));
    free(out);
    assert_int_equal(count(conn, "SELECT count(*) FROM users WHERE email = $1", "ann@example.org"),
                     0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM site_roles WHERE site_id = '%s'", blog.id);
    assert_int_equal(mochi_test_db_int(conn, sql), 0);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM site_roles"), 1);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM sessions"), 1);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM sessions WHERE token_hash = "
                                             "decode(repeat('b1', 32), 'hex')"),
                     1);
    refused(&db, NULL, 1, "no user with e-mail 'ann@example.org'", "users", "remove", "--email",
            "ann@example.org", NULL);
    /* a user without sites is listed with none */
    assert_int_equal(
        MOCHICTL(&db, NULL, "users", "revoke", "--email", "bob@example.org", "--site", shop.id), 0);
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "users", "list", "--json", NULL), 0);
    assert_non_null(strstr(out, "\"sites\":[]"));
    assert_non_null(strstr(out, "\"sessions\":1"));
    free(out);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* Reads from fd until want appears in what was read (kept in buf), the
 * other end closes, or timeout_ms passes. Returns true when seen. */
static bool read_until(int fd, char *buf, size_t size, size_t *used, const char *want,
                       int timeout_ms)
{
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    while (want == NULL || strstr(buf, want) == NULL) {
        int64_t left = deadline - mochi_test_now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t k = read(fd, buf + *used, size - *used - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) /* EIO: the terminal's other side is closed */
            return want == NULL;
        *used += (size_t)k;
        buf[*used] = '\0';
    }
    return true;
}

/* Runs mochictl users add on a pseudo-terminal, typing first and second
 * at its two prompts. Checks that echo is off while it asks and on again
 * after. Returns the exit code; what the terminal showed goes to screen. */
static int add_on_terminal(const struct mochi_test_db *db, const char *email, const char *first,
                           const char *second, char *screen, size_t size)
{
    int master = -1;
    char env[700];
    snprintf(env, sizeof(env), "%s", db->conninfo);
    const char *bin = mochi_test_bin("mochictl");
    fflush(NULL);
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("MOCHI_DATABASE_URL", env, 1);
        execl(bin, bin, "users", "add", "--email", email, (char *)NULL);
        _exit(127);
    }
    size_t used = 0;
    screen[0] = '\0';
    if (!read_until(master, screen, size, &used, "New password", 60000))
        fail_msg("no prompt: %s", screen);
    /* the prompt is out and echo is off before anything is typed */
    struct termios t;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(tcgetattr(master, &t), 0);
        if (!(t.c_lflag & ECHO))
            break;
        usleep(10000);
    }
    assert_false(t.c_lflag & ECHO);
    assert_true(write(master, first, strlen(first)) == (ssize_t)strlen(first));
    if (first[0] != '\x03') /* Ctrl-C: no Enter after it */
        assert_true(write(master, "\n", 1) == 1);
    if (second != NULL) {
        if (!read_until(master, screen, size, &used, "Again", 60000))
            fail_msg("no second prompt: %s", screen);
        assert_int_equal(tcgetattr(master, &t), 0);
        assert_false(t.c_lflag & ECHO);
        assert_true(write(master, second, strlen(second)) == (ssize_t)strlen(second));
        assert_true(write(master, "\n", 1) == 1);
    }
    read_until(master, screen, size, &used, NULL, 60000);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* echo is back on for whoever reads the terminal next */
    assert_int_equal(tcgetattr(master, &t), 0);
    assert_true(t.c_lflag & ECHO);
    close(master);
    return mochi_test_exit_code(status);
}

static void users_add_on_a_terminal(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    char screen[8192];
    assert_int_equal(add_on_terminal(&db, "tty@example.org", "typed-on-a-tty", "typed-on-a-tty",
                                     screen, sizeof(screen)),
                     0);
    /* asked twice; what was typed never shows */
    assert_non_null(strstr(screen, "New password"));
    assert_non_null(strstr(screen, "Again"));
    assert_null(strstr(screen, "typed-on-a-tty"));
    assert_non_null(strstr(screen, "added user tty@example.org"));
    char hash[256];
    assert_true(stored_hash(conn, "tty@example.org", hash, sizeof(hash)));
    assert_true(verifies(hash, "typed-on-a-tty", 14));

    /* the two differ: nothing is added */
    assert_int_equal(add_on_terminal(&db, "typo@example.org", "typed-on-a-tty", "typed-on-a-ttY",
                                     screen, sizeof(screen)),
                     2);
    assert_non_null(strstr(screen, "the two passwords differ"));
    /* too short: refused at once, no second prompt */
    assert_int_equal(
        add_on_terminal(&db, "typo@example.org", "short", NULL, screen, sizeof(screen)), 2);
    assert_non_null(strstr(screen, "shorter than 10 characters"));
    assert_null(strstr(screen, "Again"));
    /* Ctrl-C at the prompt: the signal ends it, with echo back on (checked
     * in add_on_terminal) */
    assert_int_equal(add_on_terminal(&db, "typo@example.org", "\x03", NULL, screen, sizeof(screen)),
                     128 + SIGINT);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM users"), 1);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* The BLAKE2b-256 of text, as hex. */
static void blake2b_hex(const char *text, char hex[65])
{
    unsigned char h[32];
    assert_int_equal(
        crypto_generichash(h, sizeof(h), (const unsigned char *)text, strlen(text), NULL, 0), 0);
    sodium_bin2hex(hex, 65, h, sizeof(h));
}

/* Fails when text (as UTF-8 bytes) is in any text or bytea column of
 * api_tokens, in any row. */
static void assert_nowhere_in_api_tokens(PGconn *conn, const char *text)
{
    PGresult *cols = PQexec(conn, "SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_schema = 'public' AND table_name = 'api_tokens' "
                                  "AND data_type IN ('text', 'bytea', 'character varying', "
                                  "'character', 'json', 'jsonb')");
    assert_int_equal(PQresultStatus(cols), PGRES_TUPLES_OK);
    assert_true(PQntuples(cols) >= 2); /* name and token_hash at least */
    for (int i = 0; i < PQntuples(cols); i++) {
        char sql[512];
        const char *col = PQgetvalue(cols, i, 0);
        bool bytea = strcmp(PQgetvalue(cols, i, 1), "bytea") == 0;
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM api_tokens WHERE position(convert_to($1, 'UTF8') IN %s%s%s) "
                 "> 0",
                 bytea ? "" : "convert_to(", col, bytea ? "" : "::text, 'UTF8')");
        const char *params[1] = {text};
        PGresult *res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
            fail_msg("api_tokens.%s holds the token", col);
        PQclear(res);
    }
    PQclear(cols);
}

static void tokens_are_shown_once_and_stored_as_hashes(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    struct site blog, shop;
    add_site(&db, "blog.example", &blog);
    add_site(&db, "shop.example", &shop);
    char *out = NULL;

    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "tokens", "create", "--site", blog.key,
                                  "--name", "grafana", "--json", NULL),
                     0);
    json_error_t jerr;
    json_t *made = json_loads(out, 0, &jerr);
    assert_non_null(made);
    free(out);
    char token[128];
    snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(made, "token")));
    long long id = json_integer_value(json_object_get(made, "id"));
    assert_string_equal(json_string_value(json_object_get(made, "site_id")), blog.id);
    assert_string_equal(json_string_value(json_object_get(made, "name")), "grafana");
    json_decref(made);
    /* "mochi_" and 43 base64url characters: 32 bytes */
    assert_int_equal(strlen(token), 49);
    assert_int_equal(strncmp(token, "mochi_", 6), 0);
    assert_int_equal(strspn(token + 6, B64URL), 43);
    unsigned char raw[64];
    size_t raw_len = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), token + 6, 43, NULL, &raw_len, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(raw_len, 32);

    /* the stored hash is BLAKE2b-256 of the whole token text */
    char want[65], got[128], sql[512];
    blake2b_hex(token, want);
    snprintf(sql, sizeof(sql), "SELECT encode(token_hash, 'hex') FROM api_tokens WHERE id = %lld",
             id);
    assert_true(mochi_test_db_text(conn, sql, got, sizeof(got)));
    assert_string_equal(got, want);
    /* the token itself is nowhere: not in api_tokens, as text or bytes */
    assert_nowhere_in_api_tokens(conn, token);
    assert_nowhere_in_api_tokens(conn, token + 6);
    char raw_hex[65];
    sodium_bin2hex(raw_hex, sizeof(raw_hex), raw, 32);
    snprintf(
        sql, sizeof(sql),
        "SELECT count(*) FROM api_tokens WHERE position(decode('%s', 'hex') IN token_hash) > 0",
        raw_hex);
    assert_int_equal(mochi_test_db_int(conn, sql), 0);
    /* nor anywhere else in the database */
    char *dump = mochi_test_pg_dump(&db);
    assert_non_null(strstr(dump, "grafana"));
    assert_null(strstr(dump, token + 6));
    assert_null(strstr(dump, raw_hex));
    free(dump);

    /* the text form prints it too, once; another token every time */
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "tokens", "create", "--site", shop.id,
                                  "--name", "weekly report", NULL),
                     0);
    const char *line = strstr(out, "token  mochi_");
    assert_non_null(line);
    char token2[128];
    assert_int_equal(sscanf(line, "token  %127s", token2), 1);
    assert_int_equal(strlen(token2), 49);
    assert_string_not_equal(token2, token);
    blake2b_hex(token2, want);
    snprintf(sql, sizeof(sql),
             "SELECT encode(token_hash, 'hex') FROM api_tokens WHERE name = 'weekly report' AND "
             "site_id = '%s'",
             shop.id);
    assert_true(mochi_test_db_text(conn, sql, got, sizeof(got)));
    assert_string_equal(got, want);
    assert_nowhere_in_api_tokens(conn, token2);
    free(out);

    /* list: ids, sites, names and times, never a token or its hash */
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "tokens", "list", "--json", NULL), 0);
    assert_null(strstr(out, token + 6));
    assert_null(strstr(out, token2 + 6));
    assert_null(strstr(out, want));
    json_t *list = json_loads(out, 0, &jerr);
    assert_non_null(list);
    free(out);
    assert_int_equal(json_array_size(list), 2);
    json_t *first = json_array_get(list, 0);
    assert_int_equal(json_integer_value(json_object_get(first, "id")), id);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "grafana");
    assert_string_equal(json_string_value(json_object_get(first, "domain")), "blog.example");
    assert_true(json_is_null(json_object_get(first, "revoked_at")));
    assert_true(json_is_null(json_object_get(first, "last_used_at")));
    assert_non_null(json_string_value(json_object_get(first, "created_at")));
    assert_null(json_object_get(first, "token"));
    assert_null(json_object_get(first, "token_hash"));
    json_decref(list);
    assert_int_equal(
        mochictl_str(&db, NULL, &out, NULL, "tokens", "list", "--site", shop.key, NULL), 0);
    assert_non_null(strstr(out, "weekly report"));
    assert_null(strstr(out, "grafana"));
    assert_null(strstr(out, "mochi_"));
    free(out);

    /* revoke: revoked_at is set, once */
    char idtext[32];
    snprintf(idtext, sizeof(idtext), "%lld", id);
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "tokens", "revoke", "--id", idtext, NULL),
                     0);
    assert_non_null(strstr(out, "revoked at"));
    free(out);
    snprintf(sql, sizeof(sql),
             "SELECT (revoked_at BETWEEN now() - interval '1 minute' AND now())::int FROM "
             "api_tokens WHERE id = %lld",
             id);
    assert_int_equal(mochi_test_db_int(conn, sql), 1);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM api_tokens WHERE revoked_at IS "
                                             "NULL AND name = 'weekly report'"),
                     1);
    snprintf(sql, sizeof(sql), "SELECT revoked_at::text FROM api_tokens WHERE id = %lld", id);
    char first_revoked[64], again[64];
    assert_true(mochi_test_db_text(conn, sql, first_revoked, sizeof(first_revoked)));
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "tokens", "revoke", "--id", idtext, NULL),
                     0);
    assert_non_null(strstr(out, "was revoked already"));
    free(out);
    assert_true(mochi_test_db_text(conn, sql, again, sizeof(again)));
    assert_string_equal(again, first_revoked);
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "tokens", "list", NULL), 0);
    assert_non_null(strstr(out, "REVOKED"));
    free(out);

    /* refused */
    refused(&db, NULL, 1, "no token with id 999999", "tokens", "revoke", "--id", "999999", NULL);
    refused(&db, NULL, 2, "--id", "tokens", "revoke", "--id", "0", NULL);
    refused(&db, NULL, 2, "--id", "tokens", "revoke", "--id", "abc", NULL);
    refused(&db, NULL, 1, "no site with id or tracking key", "tokens", "create", "--site",
            "noSuchKey_0000000000", "--name", "x", NULL);
    char long_name[128];
    memset(long_name, 'n', 101);
    long_name[101] = '\0';
    refused(&db, NULL, 2, "--name: at most 100 bytes", "tokens", "create", "--site", blog.key,
            "--name", long_name, NULL);
    refused(&db, NULL, 2, "--name", "tokens", "create", "--site", blog.key, "--name", "bell\a",
            NULL);
    refused(&db, NULL, 2, "--name is required", "tokens", "create", "--site", blog.key, NULL);
    long_name[100] = '\0';
    assert_int_equal(
        MOCHICTL(&db, NULL, "tokens", "create", "--site", blog.key, "--name", long_name), 0);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM api_tokens"), 3);
    /* a removed site takes its tokens along */
    assert_int_equal(MOCHICTL(&db, NULL, "sites", "remove", "--site", blog.id), 0);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM api_tokens"), 1);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

static void shares_create_list_revoke(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    struct site blog, shop;
    add_site(&db, "blog.example", &blog);
    add_site(&db, "shop.example", &shop);
    char *out = NULL;

    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "shares", "create", "--site", blog.key,
                                  "--base-url", "https://stats.example.com/", NULL),
                     0);
    char slug[64], url[256];
    const char *line = strstr(out, "slug  ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "slug  %63s", slug), 1);
    /* 16 random bytes: 22 base64url characters */
    assert_int_equal(strlen(slug), 22);
    assert_int_equal(strspn(slug, B64URL), 22);
    line = strstr(out, "url   ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "url   %255s", url), 1);
    char want[256];
    snprintf(want, sizeof(want), "https://stats.example.com/share/%s", slug);
    assert_string_equal(url, want);
    free(out);
    char sql[512], got[128];
    snprintf(sql, sizeof(sql),
             "SELECT site_id::text || ' ' || (revoked_at IS NULL)::text FROM shares WHERE slug = "
             "'%s'",
             slug);
    assert_true(mochi_test_db_text(conn, sql, got, sizeof(got)));
    snprintf(want, sizeof(want), "%s true", blog.id);
    assert_string_equal(got, want);

    /* without --base-url, the path; --json; another slug each time */
    assert_int_equal(
        mochictl_str(&db, NULL, &out, NULL, "shares", "create", "--site", shop.id, NULL), 0);
    assert_non_null(strstr(out, "path  /share/"));
    assert_null(strstr(out, "url   "));
    assert_null(strstr(out, slug));
    free(out);
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "shares", "create", "--site", shop.key,
                                  "--base-url", "http://127.0.0.1:8090/mochi", "--json", NULL),
                     0);
    json_error_t jerr;
    json_t *made = json_loads(out, 0, &jerr);
    assert_non_null(made);
    free(out);
    const char *slug3 = json_string_value(json_object_get(made, "slug"));
    assert_non_null(slug3);
    snprintf(want, sizeof(want), "http://127.0.0.1:8090/mochi/share/%s", slug3);
    assert_string_equal(json_string_value(json_object_get(made, "url")), want);
    assert_string_equal(json_string_value(json_object_get(made, "site_id")), shop.id);
    json_decref(made);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(DISTINCT slug) FROM shares"), 3);

    /* list, all and by site */
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "shares", "list", "--json", NULL), 0);
    json_t *list = json_loads(out, 0, &jerr);
    assert_non_null(list);
    free(out);
    assert_int_equal(json_array_size(list), 3);
    int seen = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *row = json_array_get(list, i);
        assert_true(json_is_null(json_object_get(row, "revoked_at")));
        if (strcmp(json_string_value(json_object_get(row, "slug")), slug) == 0) {
            assert_string_equal(json_string_value(json_object_get(row, "domain")), "blog.example");
            seen++;
        }
    }
    assert_int_equal(seen, 1);
    json_decref(list);
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "shares", "list", "--site", shop.id, NULL),
                     0);
    assert_null(strstr(out, slug));
    assert_non_null(strstr(out, "shop.example"));
    free(out);

    /* revoke: revoked_at set, once; unknown slugs refused */
    assert_int_equal(MOCHICTL(&db, NULL, "shares", "revoke", "--slug", slug), 0);
    snprintf(sql, sizeof(sql),
             "SELECT (revoked_at BETWEEN now() - interval '1 minute' AND now())::int FROM shares "
             "WHERE slug = '%s'",
             slug);
    assert_int_equal(mochi_test_db_int(conn, sql), 1);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM shares WHERE revoked_at IS "
                                             "NULL"),
                     2);
    assert_int_equal(mochictl_str(&db, NULL, &out, NULL, "shares", "revoke", "--slug", slug, NULL),
                     0);
    assert_non_null(strstr(out, "was revoked already"));
    free(out);
    assert_int_equal(
        mochictl_str(&db, NULL, &out, NULL, "shares", "list", "--site", blog.key, NULL), 0);
    assert_non_null(strstr(out, slug));
    assert_null(strstr(out, "  -  ")); /* its REVOKED column holds a time */
    free(out);
    refused(&db, NULL, 1, "no share link with slug 'AAAAAAAAAAAAAAAAAAAAAA'", "shares", "revoke",
            "--slug", "AAAAAAAAAAAAAAAAAAAAAA", NULL);
    const char *bad_urls[] = {"ftp://stats.example.com",
                              "stats.example.com",
                              "https://",
                              "https:///path",
                              "https://x.example/?q=1",
                              "https://x.example/#top",
                              "https://x.example/a b",
                              "https://x.example/\"><script>"};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        refused(&db, NULL, 2, "--base-url:", "shares", "create", "--site", blog.key, "--base-url",
                bad_urls[i], NULL);
    }
    refused(&db, NULL, 1, "no site with id or tracking key", "shares", "create", "--site",
            "noSuchKey_0000000000", NULL);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM shares"), 3);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

static int teardown(void **state)
{
    (void)state;
    mochi_test_cleanup();
    return 0;
}

int main(void)
{
    /* A terminal's hang-up must not end the test. */
    signal(SIGHUP, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(users_add_stores_an_argon2id_hash),
        cmocka_unit_test(users_add_refusals),
        cmocka_unit_test(users_grant_revoke_remove),
        cmocka_unit_test(users_add_on_a_terminal),
        cmocka_unit_test(tokens_are_shown_once_and_stored_as_hashes),
        cmocka_unit_test(shares_create_list_revoke),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
