#include "web/auth.h"
#include "common/error.h"
#include "common/log.h"
#include "web/parse.h"

#include <errno.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Argon2id hash an unknown e-mail address is checked against, made at
 * start with the parameters `mochictl users add` uses
 * (crypto_pwhash_OPSLIMIT_INTERACTIVE, MEMLIMIT_INTERACTIVE), so that a
 * wrong address takes as long as a wrong password. */
static char dummy_hash[crypto_pwhash_STRBYTES];

/* Argon2id checks running at once: each takes 64 MiB and a core for a
 * tenth of a second, so a flood of logins from many addresses must queue
 * rather than take every worker's memory at once. */
static sem_t pwhash_slots;

int web_auth_init(unsigned int concurrent)
{
    if (sem_init(&pwhash_slots, 0, concurrent > 0 ? concurrent : 1) != 0)
        return MOCHI_ERR_INTERNAL;
    unsigned char junk[32];
    char password[sizeof(junk) * 2 + 1];
    randombytes_buf(junk, sizeof(junk));
    sodium_bin2hex(password, sizeof(password), junk, sizeof(junk));
    int rc =
        crypto_pwhash_str(dummy_hash, password, strlen(password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sodium_memzero(password, sizeof(password));
    return rc == 0 ? 0 : MOCHI_ERR_NOMEM;
}

/* "\x<64 hex digits>": BLAKE2b-256 of len bytes, as a bytea parameter. */
static void hash_param(const void *bytes, size_t len, char out[67])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), bytes, len, NULL, 0);
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, 65, h, sizeof(h));
}

/* The hash parameter of a session cookie's value; false when it is not
 * the base64url of 32 bytes. */
static bool cookie_hash(const char *cookie, char out[67])
{
    unsigned char raw[32];
    if (cookie == NULL || web_base64url_decode(cookie, raw, sizeof(raw)) != 0)
        return false;
    hash_param(raw, sizeof(raw), out);
    sodium_memzero(raw, sizeof(raw));
    return true;
}

static void copy_text(char *out, size_t size, const char *text)
{
    snprintf(out, size, "%s", text ? text : "");
}

int web_session_find(struct web_db *db, const char *cookie, long long ttl_s,
                     struct web_session *session)
{
    char hash[67], ttl[32];
    if (!cookie_hash(cookie, hash))
        return 0;
    snprintf(ttl, sizeof(ttl), "%lld seconds", ttl_s);
    const char *params[] = {hash, ttl};
    PGresult *res = NULL;
    int rc = web_db_query(db, "session_find",
                          "SELECT s.user_id, s.csrf_token, u.email, s.expires_at > now(),"
                          " s.expires_at < now() + $2::interval - interval '1 hour'"
                          " FROM sessions s JOIN users u ON u.id = s.user_id"
                          " WHERE s.token_hash = $1::bytea",
                          2, params, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    bool live = PQgetvalue(res, 0, 3)[0] == 't';
    bool stale = PQgetvalue(res, 0, 4)[0] == 't';
    memset(session, 0, sizeof(*session));
    session->user_id = atoll(PQgetvalue(res, 0, 0));
    copy_text(session->csrf, sizeof(session->csrf), PQgetvalue(res, 0, 1));
    copy_text(session->email, sizeof(session->email), PQgetvalue(res, 0, 2));
    PQclear(res);
    if (!live) {
        rc = web_db_command(db, "session_expire",
                            "DELETE FROM sessions WHERE token_hash = $1::bytea", 1, params, NULL);
        return rc != 0 ? rc : 0;
    }
    if (stale) {
        rc = web_db_command(db, "session_extend",
                            "UPDATE sessions SET expires_at = now() + $2::interval"
                            " WHERE token_hash = $1::bytea",
                            2, params, NULL);
        if (rc != 0)
            return rc;
        session->extended = true;
    }
    return 1;
}

int web_login_check(struct web_db *db, const char *email, const char *password, long long *user_id)
{
    const char *params[] = {email};
    PGresult *res = NULL;
    int rc = web_db_query(db, "login_user",
                          "SELECT id, password_hash FROM users WHERE email = lower($1)", 1, params,
                          &res);
    if (rc != 0)
        return rc;
    bool known = PQntuples(res) == 1;
    const char *hash = known ? PQgetvalue(res, 0, 1) : dummy_hash;
    /* The same work whether the address is known or not. */
    while (sem_wait(&pwhash_slots) != 0 && errno == EINTR)
        ;
    bool match = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    sem_post(&pwhash_slots);
    if (known && match)
        *user_id = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return known && match ? 1 : 0;
}

int web_session_open(struct web_db *db, long long user_id, long long ttl_s,
                     char cookie[WEB_TOKEN_TEXT_LEN + 1])
{
    unsigned char raw[32], csrf_raw[32];
    char hash[67], csrf[WEB_TOKEN_TEXT_LEN + 1], ttl[32], user[24];
    randombytes_buf(raw, sizeof(raw));
    randombytes_buf(csrf_raw, sizeof(csrf_raw));
    hash_param(raw, sizeof(raw), hash);
    web_base64url(raw, sizeof(raw), cookie, WEB_TOKEN_TEXT_LEN + 1);
    web_base64url(csrf_raw, sizeof(csrf_raw), csrf, sizeof(csrf));
    sodium_memzero(raw, sizeof(raw));
    snprintf(ttl, sizeof(ttl), "%lld seconds", ttl_s);
    snprintf(user, sizeof(user), "%lld", user_id);
    /* Expired sessions go when someone logs in: cheap (sessions_expiry),
     * and no timer thread is needed. */
    int rc = web_db_command(db, "session_sweep", "DELETE FROM sessions WHERE expires_at <= now()",
                            0, NULL, NULL);
    const char *params[] = {hash, user, csrf, ttl};
    if (rc == 0)
        rc = web_db_command(db, "session_open",
                            "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at)"
                            " VALUES ($1::bytea, $2::bigint, $3, now() + $4::interval)",
                            4, params, NULL);
    sodium_memzero(csrf, sizeof(csrf));
    if (rc != 0)
        sodium_memzero(cookie, WEB_TOKEN_TEXT_LEN + 1);
    return rc;
}

int web_session_close(struct web_db *db, const char *cookie)
{
    char hash[67];
    if (!cookie_hash(cookie, hash))
        return 0;
    const char *params[] = {hash};
    return web_db_command(db, "session_close", "DELETE FROM sessions WHERE token_hash = $1::bytea",
                          1, params, NULL);
}

int web_token_site(struct web_db *db, const char *token, char site_id[37], bool *revoked)
{
    size_t prefix = strlen(WEB_API_TOKEN_PREFIX);
    if (strncmp(token, WEB_API_TOKEN_PREFIX, prefix) != 0 ||
        strlen(token) != prefix + WEB_TOKEN_TEXT_LEN)
        return 0;
    char hash[67];
    hash_param(token, strlen(token), hash);
    const char *params[] = {hash};
    PGresult *res = NULL;
    int rc = web_db_query(db, "token_find",
                          "SELECT site_id, revoked_at IS NOT NULL, last_used_at IS NULL"
                          " OR last_used_at < now() - interval '1 minute'"
                          " FROM api_tokens WHERE token_hash = $1::bytea",
                          1, params, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    copy_text(site_id, 37, PQgetvalue(res, 0, 0));
    *revoked = PQgetvalue(res, 0, 1)[0] == 't';
    bool note = !*revoked && PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    if (note && web_db_command(db, "token_used",
                               "UPDATE api_tokens SET last_used_at = now()"
                               " WHERE token_hash = $1::bytea",
                               1, params, NULL) != 0)
        mochi_log(MOCHI_LOG_WARN, "web", "msg=\"cannot note an API token's use\"");
    return 1;
}
