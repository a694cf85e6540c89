#ifndef MOCHI_DB_H
#define MOCHI_DB_H

#include <stddef.h>

#include <libpq-fe.h>

/* PostgreSQL helpers shared by every program. */

/* Connects with conninfo (a libpq conninfo string or URI), setting
 * application_name and UTC as the session time zone. Returns 0 and the
 * connection in *out (caller owns it: PQfinish), MOCHI_ERR_AGAIN when the
 * server cannot be reached (worth retrying), or MOCHI_ERR_DB for anything
 * else (bad credentials, missing database). err receives libpq's reason,
 * which never contains the password. */
int mochi_db_connect(const char *conninfo, const char *application_name, PGconn **out, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

/* Classifies a failed result: MOCHI_ERR_AGAIN when the connection is gone
 * or the error is transient (serialization failure, deadlock, admin
 * shutdown, too many connections), MOCHI_ERR_CONFLICT for a unique or
 * foreign-key violation, else MOCHI_ERR_DB. Copies the server's
 * message (one line) into err. res may be NULL. */
int mochi_db_error(PGconn *conn, const PGresult *res, char *err, size_t errlen);

/* Runs a statement with text parameters that returns rows. Returns 0 with
 * the result in *out (the caller PQclear()s it), or the classification of
 * mochi_db_error with nothing in *out; MOCHI_ERR_DB for a statement that
 * returns no rows at all (a command: see mochi_db_command). */
int mochi_db_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                   PGresult **out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* As mochi_db_query, with the values of the result in binary format (a
 * bytea as its raw bytes, which the caller can wipe before PQclear). */
int mochi_db_query_binary(PGconn *conn, const char *sql, int nparams, const char *const *params,
                          PGresult **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Runs a statement with text parameters that returns no rows (INSERT,
 * UPDATE, DELETE without RETURNING). Returns 0 and, when affected is not
 * NULL, the number of rows the statement touched; or the classification
 * of mochi_db_error; MOCHI_ERR_DB for a statement that returns rows. */
int mochi_db_command(PGconn *conn, const char *sql, int nparams, const char *const *params,
                     long long *affected, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Ends a failed transaction. Without a connection there is nothing to do:
 * the server rolls back by itself. */
void mochi_db_rollback(PGconn *conn);

/* Runs SQL without parameters whose result is not read: one statement, or
 * several separated by semicolons (a migration file). Returns 0 or the
 * classification of mochi_db_error. */
int mochi_db_exec(PGconn *conn, const char *sql, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
