#include "common/clock.h"
#include "common/salt.h"
#include "common/db.h"
#include "common/error.h"
#include "common/log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs sql, a call of a function returning one integer. Returns it (>= 0)
 * or a negative error code, with the reason in err. */
static int call_counter(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *res = NULL;
    int rc = mochi_db_query(conn, sql, 0, NULL, &res, err, errlen);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 1) {
        rc = atoi(PQgetvalue(res, 0, 0));
    } else {
        snprintf(err, errlen, "%s returned %d rows", sql, PQntuples(res));
        rc = MOCHI_ERR_DB;
    }
    PQclear(res);
    return rc;
}

long long mochi_salt_keep_from(int64_t now_us)
{
    return mochi_day_of_us(now_us - MOCHI_SALT_KEEP_AFTER_US) + 1;
}

int mochi_salt_ensure(PGconn *conn)
{
    char err[256];
    int rc = call_counter(conn, "SELECT mochi_ensure_salts()", err, sizeof(err));
    if (rc < 0)
        mochi_log(MOCHI_LOG_WARN, "salt", "msg=\"cannot ensure salts\" error=\"%s\"", err);
    return rc;
}

int mochi_salt_read(PGconn *conn, long long day, unsigned char salt[MOCHI_SALT_LEN])
{
    char daytext[11];
    char err[256];
    mochi_day_format(day, daytext);
    const char *params[1] = {daytext};
    PGresult *res = NULL;
    int rc = mochi_db_query_binary(conn, "SELECT salt FROM salts WHERE day = $1::date", 1, params,
                                   &res, err, sizeof(err));
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1) {
        rc = MOCHI_ERR_NOTFOUND;
    } else if (PQgetlength(res, 0, 0) != MOCHI_SALT_LEN) {
        rc = MOCHI_ERR_DB; /* a CHECK constraint makes this impossible; say so if it happens */
        mochi_log(MOCHI_LOG_ERROR, "salt", "msg=\"salt row malformed\" day=%s", daytext);
    } else {
        memcpy(salt, PQgetvalue(res, 0, 0), MOCHI_SALT_LEN);
    }
    /* libpq's copy of the salt goes with the result: wipe it first. */
    if (PQntuples(res) == 1)
        sodium_memzero(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
    return rc;
}

int mochi_salt_expire(PGconn *conn)
{
    char err[256];
    return call_counter(conn, "SELECT mochi_expire_salts()", err, sizeof(err));
}
