#ifndef WEB_AUTH_H
#define WEB_AUTH_H

/* Who is asking (docs/web-api.md "Authentication"): sessions (a cookie of
 * 32 random bytes, kept in the database only as their BLAKE2b-256), the
 * password check, API tokens (BLAKE2b-256 of the whole token text) and
 * share links. Nothing here answers HTTP: app.c does, with what these
 * return. Thread-safe. Secrets (cookies, tokens, passwords) are never
 * logged, and wiped from the stack once hashed. */

#include <stdbool.h>
#include <stddef.h>

#include "web/db.h"

/* The cookie's name and the length of its value (base64url of 32 bytes). */
#define WEB_SESSION_COOKIE "mochi_session"
#define WEB_TOKEN_TEXT_LEN 43
/* API tokens: "mochi_" then the same 43 characters. */
#define WEB_API_TOKEN_PREFIX "mochi_"

struct web_session {
    long long user_id;
    char email[256];
    char csrf[64];
    bool extended; /* the expiry was just moved: send the cookie again */
};

/* Makes the dummy hash that unknown e-mail addresses are checked against
 * (same cost as a user's), and lets at most concurrent password checks run
 * at once. Call once at start. Returns 0, MOCHI_ERR_NOMEM or
 * MOCHI_ERR_INTERNAL. */
int web_auth_init(unsigned int concurrent) __attribute__((warn_unused_result));

/* Looks up the session whose cookie value is cookie (NULL: none). Returns
 * 1 with *session, 0 when there is none (unknown, malformed or expired: an
 * expired row is deleted), MOCHI_ERR_AGAIN or MOCHI_ERR_DB. A session last
 * extended more than an hour ago gets expires_at = now() + ttl_s. */
int web_session_find(struct web_db *db, const char *cookie, long long ttl_s,
                     struct web_session *session) __attribute__((warn_unused_result));

/* Checks email and password: returns 1 with the user's id when they
 * match, 0 when not (an unknown address costs the same Argon2id check as
 * a wrong password), or a database error. */
int web_login_check(struct web_db *db, const char *email, const char *password, long long *user_id)
    __attribute__((warn_unused_result));

/* Opens a session for user_id: writes the cookie value (43 characters and
 * a NUL) into cookie. Also deletes expired sessions. Returns 0 or a
 * database error. */
int web_session_open(struct web_db *db, long long user_id, long long ttl_s,
                     char cookie[WEB_TOKEN_TEXT_LEN + 1]) __attribute__((warn_unused_result));

/* Deletes the session of cookie. Returns 0 or a database error. */
int web_session_close(struct web_db *db, const char *cookie) __attribute__((warn_unused_result));

/* The site of an API token ("mochi_..."): returns 1 with its id (canonical
 * UUID text) in site_id and *revoked, 0 for no such token, or a database
 * error. Notes the token's use (at most once a minute). */
int web_token_site(struct web_db *db, const char *token, char site_id[37], bool *revoked)
    __attribute__((warn_unused_result));

#endif
