#ifndef MOCHI_STREAM_DB_H
#define MOCHI_STREAM_DB_H

/* Internal to the stream library: the stream's PostgreSQL connection, its
 * backoff while the server is away, and the day partitions a batch needs.
 * Used by one thread at a time: the applier (through apply) or the main
 * thread while no batch flies. */

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "stream/batch.h"
#include "stream/metrics.h"
#include "stream/stream.h"

#define STREAM_KNOWN_DAYS 64

struct stream_db {
    const char *conninfo;
    const struct mochi_stream_ops *ops; /* program, component, prepare */
    struct mochi_stream_metrics *metrics;
    PGconn *conn;
    bool down;                               /* the batch in hand waits for the database */
    long long backoff_ms;                    /* the current wait between tries; 0 while up */
    long long known_days[STREAM_KNOWN_DAYS]; /* partitions known to exist */
    size_t nknown_days;
};

/* Makes sure db->conn is a live connection that ops->prepare has seen:
 * reconnects (and prepares) when it is not. Does not change db->down.
 * Returns 0, or MOCHI_ERR_AGAIN with the reason in err (the connection or
 * the prepare hook failed; logged once when the database goes away). */
int stream_db_ensure(struct stream_db *db, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Creates the partitions of each day b's events fall on (UTC and
 * site-local), outside the
 * batch's transaction (creating a partition locks its parent); remembers
 * them until the next reconnect. Returns 0 or the code of the failed query
 * (logged). */
int stream_db_ensure_days(struct stream_db *db, const struct stream_batch *b)
    __attribute__((warn_unused_result));

/* After a failed apply: the database is down; a connection that broke is
 * dropped, to be made again. */
void stream_db_failed(struct stream_db *db);
/* After a successful apply or connection while down: the database is back
 * (logged once). */
void stream_db_back(struct stream_db *db);
/* The next wait before trying the database again: 100 ms, doubling, at
 * most 5 s. */
long long stream_db_backoff(struct stream_db *db);

/* Closes the connection. */
void stream_db_close(struct stream_db *db);

#endif
