/* The stream's database connection, backoff and day partitions (db.h). */
#include "stream/db.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/error.h"
#include "common/log.h"

#include <stdio.h>

int stream_db_ensure(struct stream_db *db, char *err, size_t errlen)
{
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
        return 0;
    PQfinish(db->conn);
    db->conn = NULL;
    db->nknown_days = 0; /* partitions may have been dropped meanwhile */
    char why[512] = "";
    int rc = mochi_db_connect(db->conninfo, db->ops->program, &db->conn, why, sizeof(why));
    if (rc != 0) {
        snprintf(err, errlen, "%s", why);
    } else if (db->ops->prepare != NULL) {
        rc = db->ops->prepare(db->ops->arg, db->conn);
        /* The connection worked, so why[] says nothing: name the hook
         * (it logs its own reason). */
        if (rc != 0)
            snprintf(err, errlen, "preparing the connection failed: %s", mochi_strerror(rc));
    }
    if (rc != 0) {
        if (!db->down)
            mochi_log(MOCHI_LOG_WARN, db->ops->component,
                      "msg=\"database unavailable, pausing consumption\" error=\"%s\"", err);
        PQfinish(db->conn);
        db->conn = NULL;
        mochi_metric_set(db->metrics->db_up, 0);
        return MOCHI_ERR_AGAIN;
    }
    mochi_metric_inc(db->metrics->reconnects);
    mochi_metric_set(db->metrics->db_up, 1);
    return 0;
}

int stream_db_ensure_days(struct stream_db *db, const struct stream_batch *b)
{
    /* An event needs its UTC day's partitions (tables partitioned by a UTC
     * timestamp) and its site-local day's (tables partitioned by date). */
    for (size_t i = 0; i < 2 * b->nevents; i++) {
        const struct mochi_stream_view *ev = &b->events[i / 2].ev;
        long long day = i % 2 == 0 ? mochi_day_of_us(ev->occurred_at_us) : ev->day;
        bool known = false;
        for (size_t k = 0; k < db->nknown_days && !known; k++)
            known = db->known_days[k] == day;
        if (known)
            continue;
        char daytext[11], err[512];
        mochi_day_format(day, daytext);
        const char *params[] = {daytext};
        PGresult *res = NULL;
        int rc = mochi_db_query(db->conn, "SELECT mochi_ensure_day($1::date)", 1, params, &res, err,
                                sizeof(err));
        PQclear(res);
        if (rc != 0) {
            mochi_log(MOCHI_LOG_WARN, db->ops->component,
                      "msg=\"cannot create day partitions\" day=%s error=\"%s\"", daytext, err);
            return rc;
        }
        if (db->nknown_days < STREAM_KNOWN_DAYS)
            db->known_days[db->nknown_days++] = day;
        else
            db->known_days[(size_t)(day % STREAM_KNOWN_DAYS + STREAM_KNOWN_DAYS) %
                           STREAM_KNOWN_DAYS] = day;
    }
    return 0;
}

void stream_db_failed(struct stream_db *db)
{
    db->down = true;
    if (db->conn != NULL && PQstatus(db->conn) != CONNECTION_OK) {
        PQfinish(db->conn);
        db->conn = NULL;
        mochi_metric_set(db->metrics->db_up, 0);
    }
}

void stream_db_back(struct stream_db *db)
{
    if (!db->down)
        return;
    mochi_log(MOCHI_LOG_INFO, db->ops->component, "msg=\"database back, resuming\"");
    db->down = false;
    db->backoff_ms = 0;
}

long long stream_db_backoff(struct stream_db *db)
{
    db->backoff_ms = db->backoff_ms == 0 ? 100 : db->backoff_ms * 2;
    if (db->backoff_ms > 5000)
        db->backoff_ms = 5000;
    return db->backoff_ms;
}

void stream_db_close(struct stream_db *db)
{
    PQfinish(db->conn);
    db->conn = NULL;
}
