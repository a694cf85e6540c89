#include "web/db.h"
#include "common/db.h"
#include "common/error.h"
#include "common/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A statement that runs longer than this is cancelled: a worker thread
 * must come back to serve other requests. */
#define STATEMENT_TIMEOUT "SET statement_timeout = '15s'"

struct conn {
    struct web_db *owner;
    PGconn *pg;
    struct conn *next;
};

struct web_db {
    char *conninfo;
    struct mochi_metric *up;
    pthread_mutex_t lock; /* guards conns */
    struct conn *conns;
};

static _Thread_local struct conn *thread_conn;

int web_db_new(const char *conninfo, struct mochi_metric *up, struct web_db **out)
{
    struct web_db *db = calloc(1, sizeof(*db));
    if (db == NULL || (db->conninfo = strdup(conninfo)) == NULL) {
        free(db);
        return MOCHI_ERR_NOMEM;
    }
    db->up = up;
    pthread_mutex_init(&db->lock, NULL);
    *out = db;
    return 0;
}

void web_db_destroy(struct web_db *db)
{
    if (db == NULL)
        return;
    while (db->conns != NULL) {
        struct conn *next = db->conns->next;
        PQfinish(db->conns->pg);
        free(db->conns);
        db->conns = next;
    }
    pthread_mutex_destroy(&db->lock);
    free(db->conninfo);
    free(db);
}

static void set_up(struct web_db *db, bool up)
{
    if (db->up != NULL)
        mochi_metric_set(db->up, up ? 1 : 0);
}

/* The calling thread's connection, connected; NULL when the database
 * cannot be reached or memory runs out (logged). */
static struct conn *thread_connection(struct web_db *db)
{
    struct conn *c = thread_conn;
    if (c == NULL || c->owner != db) {
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            return NULL;
        c->owner = db;
        pthread_mutex_lock(&db->lock);
        c->next = db->conns;
        db->conns = c;
        pthread_mutex_unlock(&db->lock);
        thread_conn = c;
    }
    if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
        return c;
    PQfinish(c->pg);
    c->pg = NULL;
    char err[512];
    PGconn *pg = NULL;
    if (mochi_db_connect(db->conninfo, "mochi-web", &pg, err, sizeof(err)) != 0) {
        set_up(db, false);
        mochi_log(MOCHI_LOG_WARN, "web", "msg=\"cannot connect to PostgreSQL\" error=\"%s\"", err);
        return NULL;
    }
    if (mochi_db_exec(pg, STATEMENT_TIMEOUT, err, sizeof(err)) != 0) {
        set_up(db, false);
        mochi_log(MOCHI_LOG_WARN, "web", "msg=\"cannot set up a PostgreSQL session\" error=\"%s\"",
                  err);
        PQfinish(pg);
        return NULL;
    }
    c->pg = pg;
    return c;
}

/* Runs the statement (rows wanted or not), reconnecting once when the
 * connection turns out broken. */
static int run(struct web_db *db, const char *name, const char *sql, int nparams,
               const char *const *params, PGresult **out, long long *affected)
{
    char err[512] = "";
    int rc = MOCHI_ERR_AGAIN;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct conn *c = thread_connection(db);
        if (c == NULL)
            return MOCHI_ERR_AGAIN;
        rc = out != NULL
                 ? mochi_db_query(c->pg, sql, nparams, params, out, err, sizeof(err))
                 : mochi_db_command(c->pg, sql, nparams, params, affected, err, sizeof(err));
        if (rc == 0) {
            set_up(db, true);
            return 0;
        }
        if (PQstatus(c->pg) == CONNECTION_OK)
            break; /* the statement failed, not the connection */
        PQfinish(c->pg);
        c->pg = NULL;
    }
    if (rc == MOCHI_ERR_AGAIN)
        set_up(db, false);
    mochi_log(MOCHI_LOG_ERROR, "web", "msg=\"query failed\" query=%s error=\"%s\"", name, err);
    return rc == MOCHI_ERR_AGAIN ? MOCHI_ERR_AGAIN : MOCHI_ERR_DB;
}

int web_db_query(struct web_db *db, const char *name, const char *sql, int nparams,
                 const char *const *params, PGresult **out)
{
    *out = NULL;
    return run(db, name, sql, nparams, params, out, NULL);
}

int web_db_command(struct web_db *db, const char *name, const char *sql, int nparams,
                   const char *const *params, long long *affected)
{
    return run(db, name, sql, nparams, params, NULL, affected);
}
