#include "ingest.h"
#include "copy.h"
#include "db.h"
#include "error.h"
#include "log.h"
#include "recent.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ingest_outcomes[] = {"stored", "duplicate", "unknown_site", NULL};

/* How a batch is applied, in one transaction:
 *
 *   1. In memory: which events repeat an earlier one of the same batch
 *      (same site, dedupe key and minute; the first one wins), and which
 *      sites the batch names.
 *   2. SELECT the batch's sites that exist: events of a site removed while
 *      they waited in Kafka are counted and skipped, not stored.
 *   3. SELECT which of the batch's page views are already in
 *      ingestion_dedupe: in careful mode all of them; otherwise only those
 *      this process has lately seen stored (struct recent), which are the
 *      duplicates of a steady stream: a tracker firing twice, a retried
 *      beacon, both in the same minute and so close together in the topic.
 *   4. COPY the new keys into ingestion_dedupe and their events into
 *      page_view_events, then COMMIT.
 *
 * COPY is PostgreSQL's cheapest way in, which is why this does not use
 * INSERT ... ON CONFLICT: that costs a speculative insertion, a RETURNING
 * and a join per row. Step 3 costs an index probe per page view it asks
 * about, as much as the insert of the key itself, hence asking only about
 * likely duplicates. Correctness never rests on step 3: the primary key of
 * ingestion_dedupe refuses a key that is already stored, whoever stored
 * it (this process before a restart, a consumer that held the partition
 * before a rebalance, a concurrent writer that committed after our
 * SELECT), and a site deleted after step 2 fails the foreign key. Either
 * aborts the transaction with MOCHI_ERR_CONFLICT; the batch is then applied
 * again in careful mode, which stays on for the next CAREFUL_BATCHES
 * batches (redeliveries after a crash or rebalance come in runs). A
 * process also starts careful, since what it redelivers after a crash is
 * stored already. A second apply of a committed batch adds nothing. */

static const char sites_sql[] = "SELECT id::text FROM sites WHERE id = ANY ($1::uuid[])";

/* The LATERAL ... LIMIT 1 keeps the planner from turning this into a hash
 * join over the whole day's keys: one index probe per page view. $4 and $5
 * (the batch's first and last minute) prune the partitions at plan time. */
static const char stored_sql[] =
    "SELECT b.i FROM unnest($1::uuid[], $2::text[], $3::int8[]) WITH ORDINALITY AS b(s, k, m, i)"
    " CROSS JOIN LATERAL (SELECT 1 FROM ingestion_dedupe d"
    "  WHERE d.site_id = b.s AND d.dedupe_key = b.k COLLATE \"C\""
    "  AND d.occurred_minute = to_timestamp(b.m)"
    "  AND d.occurred_minute BETWEEN to_timestamp($4::int8) AND to_timestamp($5::int8)"
    "  LIMIT 1) x";

enum fate { FATE_STORE, FATE_DUPLICATE, FATE_UNKNOWN_SITE };

/* How many stored page views a consumer remembers: about 24 MiB, and at
 * 50,000 events/s some 20 s of traffic, far more than the spread of the
 * same-minute duplicates it is for. A page view forgotten too early costs
 * one conflict and a careful batch, never a wrong result. */
#define RECENT_CAPACITY ((size_t)1 << 20)
#define CAREFUL_BATCHES 10

/* Open addressing over event indices (stored as index + 1; 0 is empty). */
struct index_set {
    uint32_t *slots;
    size_t mask; /* capacity - 1, a power of two minus one */
    size_t cap;  /* allocated slots */
};

struct ingest {
    struct index_set views, sites;
    unsigned char *fate;
    uint32_t *candidates; /* events to look up in ingestion_dedupe */
    size_t events_cap;
    uint32_t *site_first;  /* per event: the batch's first event of its site */
    uint64_t *fingerprint; /* per event: of its page view (site, key, minute) */
    struct recent *recent;
    int careful; /* batches still to apply in careful mode */
    struct mochi_copy_buf site_ids, cand_sites, cand_keys, cand_minutes, keys, rows;
};

struct ingest *ingest_new(void)
{
    struct ingest *ingest = calloc(1, sizeof(struct ingest));
    if (ingest == NULL)
        return NULL;
    ingest->recent = recent_new(RECENT_CAPACITY);
    if (ingest->recent == NULL) {
        free(ingest);
        return NULL;
    }
    ingest->careful = CAREFUL_BATCHES;
    return ingest;
}

void ingest_destroy(struct ingest *ingest)
{
    if (ingest == NULL)
        return;
    free(ingest->views.slots);
    free(ingest->sites.slots);
    free(ingest->fate);
    free(ingest->candidates);
    free(ingest->site_first);
    free(ingest->fingerprint);
    recent_destroy(ingest->recent);
    struct mochi_copy_buf *bufs[] = {&ingest->site_ids,     &ingest->cand_sites, &ingest->cand_keys,
                                     &ingest->cand_minutes, &ingest->keys,       &ingest->rows};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        mochi_copy_free(bufs[i]);
    free(ingest);
}

static int set_reset(struct index_set *set, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    if (cap > set->cap) {
        uint32_t *slots = realloc(set->slots, cap * sizeof(*slots));
        if (slots == NULL)
            return MOCHI_ERR_NOMEM;
        set->slots = slots;
        set->cap = cap;
    }
    set->mask = cap - 1;
    memset(set->slots, 0, cap * sizeof(*set->slots));
    return 0;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)

static bool same_view(const struct mochi_stream_event *a, const struct mochi_stream_event *b)
{
    return a->minute_us == b->minute_us && strcmp(a->dedupe_key, b->dedupe_key) == 0 &&
           strcmp(a->ev.site_id, b->ev.site_id) == 0;
}

static bool same_site(const struct mochi_stream_event *a, const struct mochi_stream_event *b)
{
    return strcmp(a->ev.site_id, b->ev.site_id) == 0;
}

/* Returns the first event of the set equal to events[i], adding i when
 * there is none (then it returns i). */
static size_t
set_put(struct index_set *set, const struct mochi_stream_event *events, size_t i, uint64_t hash,
        bool (*same)(const struct mochi_stream_event *, const struct mochi_stream_event *))
{
    for (size_t slot = hash & set->mask;; slot = (slot + 1) & set->mask) {
        uint32_t held = set->slots[slot];
        if (held == 0) {
            set->slots[slot] = (uint32_t)i + 1;
            return i;
        }
        if (same(&events[held - 1], &events[i]))
            return held - 1;
    }
}

static int reserve_events(struct ingest *ingest, size_t n)
{
    if (n <= ingest->events_cap)
        return 0;
    unsigned char *fate = realloc(ingest->fate, n);
    if (fate != NULL)
        ingest->fate = fate;
    uint32_t *candidates = realloc(ingest->candidates, n * sizeof(*candidates));
    if (candidates != NULL)
        ingest->candidates = candidates;
    uint32_t *first = realloc(ingest->site_first, n * sizeof(*first));
    if (first != NULL)
        ingest->site_first = first;
    uint64_t *fingerprint = realloc(ingest->fingerprint, n * sizeof(*fingerprint));
    if (fingerprint != NULL)
        ingest->fingerprint = fingerprint;
    if (fate == NULL || candidates == NULL || first == NULL || fingerprint == NULL)
        return MOCHI_ERR_NOMEM;
    ingest->events_cap = n;
    return 0;
}

/* Appends an element to a PostgreSQL array literal under construction; the
 * elements here (UUIDs, hex, integers) need no quoting. */
static void array_add(struct mochi_copy_buf *buf, const char *text, size_t count)
{
    mochi_copy_raw(buf, count == 0 ? "{" : ",", 1);
    mochi_copy_raw(buf, text, strlen(text));
}

static void array_end(struct mochi_copy_buf *buf, size_t count)
{
    if (count == 0)
        mochi_copy_raw(buf, "{", 1);
    mochi_copy_raw(buf, "}", 2); /* with the terminating NUL */
}

static int query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                 PGresult **out, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        int rc = mochi_db_error(conn, res, err, errlen);
        PQclear(res);
        return rc;
    }
    *out = res;
    return 0;
}

static uint64_t site_hash(const char *site_id)
{
    return fnv1a(FNV_OFFSET, site_id, MOCHI_UUID_TEXT_LEN);
}

/* Step 1 (sites part) and step 2: marks the events of unknown sites. */
static int check_sites(struct ingest *ingest, PGconn *conn, const struct mochi_stream_event *events,
                       size_t n, char *err, size_t errlen)
{
    int rc = set_reset(&ingest->sites, n);
    if (rc != 0)
        return rc;
    size_t nsites = 0;
    mochi_copy_reset(&ingest->site_ids);
    for (size_t i = 0; i < n; i++) {
        size_t first =
            set_put(&ingest->sites, events, i, site_hash(events[i].ev.site_id), same_site);
        ingest->site_first[i] = (uint32_t)first;
        ingest->fate[i] = FATE_UNKNOWN_SITE; /* until the database knows it */
        if (first == i)
            array_add(&ingest->site_ids, events[i].ev.site_id, nsites++);
    }
    array_end(&ingest->site_ids, nsites);
    if (ingest->site_ids.failed)
        return MOCHI_ERR_NOMEM;
    const char *params[] = {ingest->site_ids.data};
    PGresult *res = NULL;
    rc = query(conn, sites_sql, 1, params, &res, err, errlen);
    if (rc != 0)
        return rc;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = PQgetvalue(res, r, 0);
        if (strlen(id) != MOCHI_UUID_TEXT_LEN)
            continue;
        const struct index_set *set = &ingest->sites;
        for (size_t slot = site_hash(id) & set->mask; set->slots[slot] != 0;
             slot = (slot + 1) & set->mask) {
            if (strcmp(events[set->slots[slot] - 1].ev.site_id, id) == 0) {
                ingest->fate[set->slots[slot] - 1] = FATE_STORE;
                break;
            }
        }
    }
    PQclear(res);
    for (size_t i = 0; i < n; i++)
        ingest->fate[i] = ingest->fate[ingest->site_first[i]];
    return 0;
}

/* Step 1 (page views part) and step 3: marks repeats within the batch and
 * page views already stored (all of them when careful, else those of the
 * page views this process recently stored). */
static int check_stored(struct ingest *ingest, PGconn *conn,
                        const struct mochi_stream_event *events, size_t n, bool careful, char *err,
                        size_t errlen)
{
    int rc = set_reset(&ingest->views, n);
    if (rc != 0)
        return rc;
    struct mochi_copy_buf *sites = &ingest->cand_sites, *keys = &ingest->cand_keys,
                          *minutes = &ingest->cand_minutes;
    mochi_copy_reset(sites);
    mochi_copy_reset(keys);
    mochi_copy_reset(minutes);
    size_t ncand = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if (ingest->fate[i] != FATE_STORE)
            continue;
        const struct mochi_stream_event *e = &events[i];
        uint64_t hash = fnv1a(FNV_OFFSET, e->dedupe_key, MOCHI_HASH_HEX_LEN);
        hash = fnv1a(hash, e->ev.site_id, MOCHI_UUID_TEXT_LEN);
        hash = fnv1a(hash, &e->minute_us, sizeof(e->minute_us));
        ingest->fingerprint[i] = hash;
        if (set_put(&ingest->views, events, i, hash, same_view) != i) {
            ingest->fate[i] = FATE_DUPLICATE;
            continue;
        }
        if (!careful && !recent_contains(ingest->recent, hash))
            continue;
        char minute[24];
        snprintf(minute, sizeof(minute), "%lld", (long long)(e->minute_us / 1000000));
        array_add(sites, e->ev.site_id, ncand);
        array_add(keys, e->dedupe_key, ncand);
        array_add(minutes, minute, ncand);
        ingest->candidates[ncand++] = (uint32_t)i;
        lo = e->minute_us < lo ? e->minute_us : lo;
        hi = e->minute_us > hi ? e->minute_us : hi;
    }
    if (ncand == 0)
        return 0;
    array_end(sites, ncand);
    array_end(keys, ncand);
    array_end(minutes, ncand);
    if (sites->failed || keys->failed || minutes->failed)
        return MOCHI_ERR_NOMEM;
    char lo_text[24], hi_text[24];
    snprintf(lo_text, sizeof(lo_text), "%lld", (long long)(lo / 1000000));
    snprintf(hi_text, sizeof(hi_text), "%lld", (long long)(hi / 1000000));
    const char *params[] = {sites->data, keys->data, minutes->data, lo_text, hi_text};
    PGresult *res = NULL;
    rc = query(conn, stored_sql, 5, params, &res, err, errlen);
    if (rc != 0)
        return rc;
    for (int r = 0; r < PQntuples(res); r++) {
        long long ordinal = atoll(PQgetvalue(res, r, 0));
        if (ordinal >= 1 && (size_t)ordinal <= ncand)
            ingest->fate[ingest->candidates[ordinal - 1]] = FATE_DUPLICATE;
    }
    PQclear(res);
    return 0;
}

/* Step 4's rows, and the batch's counts. */
static void build_rows(struct ingest *ingest, const struct mochi_stream_event *events, size_t n,
                       struct mochi_stream_counts *counts)
{
    mochi_copy_reset(&ingest->keys);
    mochi_copy_reset(&ingest->rows);
    memset(counts, 0, sizeof(*counts));
    for (size_t i = 0; i < n; i++) {
        const struct mochi_stream_event *e = &events[i];
        switch ((enum fate)ingest->fate[i]) {
        case FATE_DUPLICATE:
            counts->n[INGEST_DUPLICATE]++;
            continue;
        case FATE_UNKNOWN_SITE:
            counts->n[INGEST_UNKNOWN_SITE]++;
            continue;
        case FATE_STORE:
            break;
        }
        counts->n[INGEST_STORED]++;
        mochi_copy_text(&ingest->keys, e->ev.site_id, 0);
        mochi_copy_text(&ingest->keys, e->dedupe_key, 0);
        mochi_copy_time(&ingest->keys, e->minute_us, 1);
        mochi_copy_text(&ingest->rows, e->ev.site_id, 0);
        mochi_copy_text(&ingest->rows, e->ev.path, 0);
        mochi_copy_text(&ingest->rows, e->ev.has_referrer ? e->ev.referrer : NULL, 0);
        mochi_copy_text(&ingest->rows, e->ev.visitor_hash, 0);
        mochi_copy_time(&ingest->rows, e->ev.occurred_at_us, 1);
    }
}

static int apply_once(struct ingest *ingest, PGconn *conn, const struct mochi_stream_event *events,
                      size_t n, bool careful, struct mochi_stream_counts *counts, char *err,
                      size_t errlen)
{
    int rc = mochi_db_exec(conn, "BEGIN", err, errlen);
    if (rc == 0)
        rc = check_sites(ingest, conn, events, n, err, errlen);
    if (rc == 0)
        rc = check_stored(ingest, conn, events, n, careful, err, errlen);
    if (rc == 0) {
        build_rows(ingest, events, n, counts);
        if (counts->n[INGEST_STORED] > 0) {
            rc = mochi_copy_send(conn,
                                 "COPY ingestion_dedupe (site_id, dedupe_key, occurred_minute)"
                                 " FROM STDIN",
                                 &ingest->keys, err, errlen);
            if (rc == 0)
                rc = mochi_copy_send(conn,
                                     "COPY page_view_events (site_id, path, referrer,"
                                     " visitor_hash, occurred_at) FROM STDIN",
                                     &ingest->rows, err, errlen);
        }
    }
    if (rc == 0)
        rc = mochi_db_exec(conn, "COMMIT", err, errlen);
    if (rc != 0 && PQstatus(conn) == CONNECTION_OK) {
        char ignored[64];
        if (mochi_db_exec(conn, "ROLLBACK", ignored, sizeof(ignored)) != 0)
            mochi_log(MOCHI_LOG_DEBUG, "consumer", "msg=\"rollback failed\"");
    }
    return rc;
}

/* In careful mode a conflict means that another writer committed some of
 * the batch's page views (or removed a site) between our checks and our
 * COPY; the next try sees that. More than a few in a row is not a race. */
#define CONFLICT_TRIES 5

int ingest_apply(void *arg, PGconn *conn, const struct mochi_stream_event *events, size_t n,
                 struct mochi_stream_counts *counts)
{
    struct ingest *ingest = arg;
    char err[512] = "";
    int rc = reserve_events(ingest, n);
    for (int attempt = 1; rc == 0;) {
        bool careful = ingest->careful > 0;
        rc = apply_once(ingest, conn, events, n, careful, counts, err, sizeof(err));
        if (rc != MOCHI_ERR_CONFLICT)
            break;
        if (!careful) {
            mochi_log(MOCHI_LOG_DEBUG, "consumer",
                      "msg=\"batch holds page views stored earlier, applying it carefully\"");
        } else {
            if (attempt++ == CONFLICT_TRIES)
                break;
            mochi_log(MOCHI_LOG_INFO, "consumer",
                      "msg=\"batch met a concurrent writer, applying it again\" error=\"%s\"", err);
        }
        ingest->careful = CAREFUL_BATCHES;
        rc = 0;
    }
    if (rc != 0) {
        if (err[0] == '\0')
            snprintf(err, sizeof(err), "%s", mochi_strerror(rc));
        mochi_log(MOCHI_LOG_WARN, "consumer", "msg=\"batch transaction failed\" error=\"%s\"", err);
        return rc == MOCHI_ERR_NOMEM || rc == MOCHI_ERR_CONFLICT ? MOCHI_ERR_AGAIN : rc;
    }
    if (ingest->careful > 0)
        ingest->careful--;
    /* Everything of a known site is stored now, by this batch or before. */
    for (size_t i = 0; i < n; i++)
        if (ingest->fate[i] != FATE_UNKNOWN_SITE)
            recent_add(ingest->recent, ingest->fingerprint[i]);
    return 0;
}
