#ifndef WEB_DB_H
#define WEB_DB_H

/* mochi-web's PostgreSQL connections: one per HTTP worker thread, made on
 * the thread's first query and kept, so that a request never waits for
 * another's connection and no lock is taken per query. A connection found
 * broken is made again once within the same call. Every outcome sets the
 * mochi_web_database_up gauge. */

#include <libpq-fe.h>
#include <stddef.h>

#include "common/metrics.h"

struct web_db;

/* conninfo is copied; up (the gauge, may be NULL) is borrowed. Returns 0
 * and *out (caller owns it: web_db_destroy) or MOCHI_ERR_NOMEM. */
int web_db_new(const char *conninfo, struct mochi_metric *up, struct web_db **out)
    __attribute__((warn_unused_result));

/* Closes every thread's connection. Only once no thread queries any more
 * (after the HTTP server stopped). NULL is a no-op. */
void web_db_destroy(struct web_db *db);

/* Runs sql with text parameters on the calling thread's connection and
 * returns 0 with the rows in *out (caller PQclear()s them), MOCHI_ERR_AGAIN
 * when the database cannot be reached, or MOCHI_ERR_DB when it refused the
 * statement (logged, with the statement's name, never its parameters). */
int web_db_query(struct web_db *db, const char *name, const char *sql, int nparams,
                 const char *const *params, PGresult **out) __attribute__((warn_unused_result));

/* The same for a statement without rows; *affected (may be NULL) gets the
 * number of rows it touched. */
int web_db_command(struct web_db *db, const char *name, const char *sql, int nparams,
                   const char *const *params, long long *affected)
    __attribute__((warn_unused_result));

#endif
