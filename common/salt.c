#include "salt.h"
#include "db.h"
#include "error.h"
#include "log.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int mochi_salt_get_or_create(PGconn *conn, long long day, unsigned char salt[MOCHI_SALT_LEN])
{
    char daytext[11];
    char err[256];
    unsigned char fresh[MOCHI_SALT_LEN];
    int rc = 0;
    mochi_day_format(day, daytext);
    mochi_salt_random(fresh);

    const char *params[2] = {daytext, (const char *)fresh};
    int lengths[2] = {0, MOCHI_SALT_LEN};
    int formats[2] = {0, 1};
    /* Insert if absent, then read back: when another collector won the
     * race, the insert does nothing and the read returns the winner's salt.
     * Each statement runs in its own transaction, so the read sees it. */
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO salts (day, salt) VALUES ($1::date, $2) "
                                 "ON CONFLICT (day) DO NOTHING",
                                 2, NULL, params, lengths, formats, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = mochi_db_error(conn, res, err, sizeof(err));
        mochi_log(MOCHI_LOG_WARN, "salt", "msg=\"salt insert failed\" day=%s error=\"%s\"", daytext,
                  err);
        goto out;
    }
    PQclear(res);
    res = PQexecParams(conn, "SELECT salt FROM salts WHERE day = $1::date", 1, NULL, params, NULL,
                       NULL, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = mochi_db_error(conn, res, err, sizeof(err));
        goto out;
    }
    if (PQntuples(res) != 1 || PQgetlength(res, 0, 0) != MOCHI_SALT_LEN) {
        rc = MOCHI_ERR_DB; /* a CHECK constraint makes this impossible; say so if it happens */
        mochi_log(MOCHI_LOG_ERROR, "salt", "msg=\"salt row missing or malformed\" day=%s", daytext);
        goto out;
    }
    memcpy(salt, PQgetvalue(res, 0, 0), MOCHI_SALT_LEN);
out:
    PQclear(res);
    sodium_memzero(fresh, sizeof(fresh));
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
