#include "common/clock.h"
#include "common/salt.h"
#include "common/db.h"
#include "common/error.h"
#include "common/log.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int mochi_salt_ensure(PGconn *conn)
{
    char err[256];
    PGresult *res = PQexec(conn, "SELECT mochi_ensure_salts()");
    int rc;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = mochi_db_error(conn, res, err, sizeof(err));
        mochi_log(MOCHI_LOG_WARN, "salt", "msg=\"cannot ensure salts\" error=\"%s\"", err);
    } else {
        rc = atoi(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

int mochi_salt_read(PGconn *conn, long long day, unsigned char salt[MOCHI_SALT_LEN])
{
    char daytext[11];
    char err[256];
    int rc = 0;
    mochi_day_format(day, daytext);
    const char *params[1] = {daytext};
    PGresult *res = PQexecParams(conn, "SELECT salt FROM salts WHERE day = $1::date", 1, NULL,
                                 params, NULL, NULL, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = mochi_db_error(conn, res, err, sizeof(err));
    } else if (PQntuples(res) != 1) {
        rc = MOCHI_ERR_NOTFOUND;
    } else if (PQgetlength(res, 0, 0) != MOCHI_SALT_LEN) {
        rc = MOCHI_ERR_DB; /* a CHECK constraint makes this impossible; say so if it happens */
        mochi_log(MOCHI_LOG_ERROR, "salt", "msg=\"salt row malformed\" day=%s", daytext);
    } else {
        memcpy(salt, PQgetvalue(res, 0, 0), MOCHI_SALT_LEN);
    }
    /* libpq's copy of the salt goes with the result: wipe it first. */
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        sodium_memzero(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
    return rc;
}

int mochi_salt_expire(PGconn *conn)
{
    char err[256];
    PGresult *res = PQexec(conn, "SELECT mochi_expire_salts()");
    int rc;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = mochi_db_error(conn, res, err, sizeof(err));
    else
        rc = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}
