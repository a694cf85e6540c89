#include "common/db.h"
#include "common/error.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies a libpq message as one line that is safe inside a double-quoted
 * logfmt value: line breaks and tabs become spaces, double quotes become
 * single quotes and backslashes become slashes. */
static void one_line(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg ? msg : "");
    size_t len = strlen(err);
    while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == '\r' || err[len - 1] == ' '))
        err[--len] = '\0';
    for (char *p = err; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
        else if (*p == '"')
            *p = '\'';
        else if (*p == '\\')
            *p = '/';
    }
}

int mochi_db_connect(const char *conninfo, const char *application_name, PGconn **out, char *err,
                     size_t errlen)
{
    const char *keys[] = {"dbname", "application_name", "options", "connect_timeout", NULL};
    const char *values[] = {conninfo, application_name, "-c TimeZone=UTC", "10", NULL};
    /* expand_dbname=1: conninfo is parsed as a whole conninfo or URI, and
     * the later keys add to it. */
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn == NULL) {
        one_line(err, errlen, "out of memory");
        return MOCHI_ERR_NOMEM;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        one_line(err, errlen, PQerrorMessage(conn));
        /* libpq does not tell "refused" from "rejected" with a code; a
         * server that answered with an authentication or database error
         * leaves a server version behind. */
        int rc = PQserverVersion(conn) > 0 ? MOCHI_ERR_DB : MOCHI_ERR_AGAIN;
        if (strstr(err, "does not exist") || strstr(err, "authentication failed") ||
            strstr(err, "password") || strstr(err, "no pg_hba.conf entry"))
            rc = MOCHI_ERR_DB;
        PQfinish(conn);
        return rc;
    }
    *out = conn;
    return 0;
}

int mochi_db_error(PGconn *conn, const PGresult *res, char *err, size_t errlen)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (msg == NULL || msg[0] == '\0')
        msg = PQerrorMessage(conn);
    one_line(err, errlen, msg);
    if (PQstatus(conn) != CONNECTION_OK)
        return MOCHI_ERR_AGAIN;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state == NULL)
        return MOCHI_ERR_AGAIN; /* no SQLSTATE: the error came from libpq itself */
    /* 08: connection exception; 40001 serialization; 40P01 deadlock;
     * 53: insufficient resources; 57P0x: shutdown, crash recovery. */
    if (strncmp(state, "08", 2) == 0 || strcmp(state, "40001") == 0 ||
        strcmp(state, "40P01") == 0 || strncmp(state, "53", 2) == 0 ||
        strncmp(state, "57P0", 4) == 0)
        return MOCHI_ERR_AGAIN;
    /* 23505 unique violation, 23503 foreign key violation. */
    if (strcmp(state, "23505") == 0 || strcmp(state, "23503") == 0)
        return MOCHI_ERR_CONFLICT;
    return MOCHI_ERR_DB;
}

/* Runs sql with text parameters and checks that its result has the status
 * expect. Returns 0 with the result in *out, or the classification of
 * mochi_db_error with nothing in *out. */
static int run(PGconn *conn, const char *sql, int nparams, const char *const *params,
               int result_format, ExecStatusType expect, PGresult **out, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, result_format);
    ExecStatusType st = PQresultStatus(res);
    if (st != expect) {
        int rc;
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            /* It ran, but it is not what the caller expects: a bug to
             * report, not a failure to retry. */
            one_line(err, errlen,
                     st == PGRES_TUPLES_OK ? "the statement returns rows; no rows were expected"
                                           : "the statement returns no rows; rows were expected");
            rc = MOCHI_ERR_DB;
        } else {
            rc = mochi_db_error(conn, res, err, errlen);
        }
        PQclear(res);
        return rc;
    }
    *out = res;
    return 0;
}

int mochi_db_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                   PGresult **out, char *err, size_t errlen)
{
    return run(conn, sql, nparams, params, 0, PGRES_TUPLES_OK, out, err, errlen);
}

int mochi_db_query_binary(PGconn *conn, const char *sql, int nparams, const char *const *params,
                          PGresult **out, char *err, size_t errlen)
{
    return run(conn, sql, nparams, params, 1, PGRES_TUPLES_OK, out, err, errlen);
}

int mochi_db_command(PGconn *conn, const char *sql, int nparams, const char *const *params,
                     long long *affected, char *err, size_t errlen)
{
    PGresult *res = NULL;
    int rc = run(conn, sql, nparams, params, 0, PGRES_COMMAND_OK, &res, err, errlen);
    if (rc != 0)
        return rc;
    if (affected != NULL)
        *affected = atoll(PQcmdTuples(res)); /* "" for a statement that counts none */
    PQclear(res);
    return 0;
}

void mochi_db_rollback(PGconn *conn)
{
    char ignored[64];
    if (PQstatus(conn) == CONNECTION_OK &&
        mochi_db_exec(conn, "ROLLBACK", ignored, sizeof(ignored)) != 0)
        mochi_log(MOCHI_LOG_DEBUG, "db", "msg=\"rollback failed\"");
}

int mochi_db_exec(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = mochi_db_error(conn, res, err, errlen);
    PQclear(res);
    return rc;
}
