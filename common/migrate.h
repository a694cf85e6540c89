#ifndef MOCHI_MIGRATE_H
#define MOCHI_MIGRATE_H

#include <stddef.h>

#include <libpq-fe.h>

/* The directory holding the numbered migrations: $MOCHI_SQL_DIR, else the
 * source tree's sql/ (set at build time). */
const char *mochi_sql_dir_default(void);

/* Applies, in order, each migration NNN_name.sql in sql_dir that the
 * schema_migrations table does not list yet, each in its own transaction
 * together with its schema_migrations row. A session advisory lock keeps
 * two concurrent runs from applying the same file. Returns 0 with the
 * count applied in *applied (0 when everything was applied already), or a
 * negative code with the failing file and the server's reason in err; a
 * failed migration leaves no trace (its transaction is rolled back). */
int mochi_migrate(PGconn *conn, const char *sql_dir, int *applied, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
