#include "consumer/ingest.h"
#include "common/copy.h"
#include "common/db.h"
#include "common/error.h"
#include "common/log.h"
#include "common/uuid.h"
#include "consumer/recent.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ingest_outcomes[] = {"stored", "duplicate", "unknown_site", NULL};

/* How a batch is applied.
 *
 * Staged, on the thread that polls Kafka while the previous batch's
 * transaction runs (ingest_stage): which events repeat an earlier one of
 * the same batch (same site, dedupe key and minute; the first one wins);
 * the batch's sites; and the COPY rows of every first page view.
 *
 * Applied, in one transaction (ingest_apply):
 *   1. SELECT the batch's sites that exist: events of a site removed while
 *      they waited in Kafka are counted and skipped, not stored.
 *   2. SELECT which page views are already in ingestion_dedupe: in careful
 *      mode all of them; otherwise only those this process has lately seen
 *      stored (struct recent), which are the duplicates of a steady stream:
 *      a tracker firing twice, a retried beacon, both in the same minute and
 *      so close together in the topic.
 *   3. COPY the new keys into ingestion_dedupe and their events into
 *      page_view_events (the staged rows, less what steps 1 and 2 removed),
 *      move ingest_progress forward to the batch's offsets, then COMMIT.
 * Before step 1, the batch's partitions' rows of ingest_progress (sql/012)
 * are locked and checked: a batch that starts past the offset below which
 * everything is stored would commit Kafka offsets past messages never
 * stored; nothing is applied then, and the stream reads those partitions
 * again from the recorded offset (stream.h, MOCHI_ERR_GAP).
 *
 * COPY is PostgreSQL's cheapest way in, which is why this does not use
 * INSERT ... ON CONFLICT: that costs a speculative insertion, a RETURNING
 * and a join per row. Step 2 costs an index probe per page view it asks
 * about, as much as inserting the key, hence asking only about likely
 * duplicates. Correctness never rests on step 2: the primary key of
 * ingestion_dedupe refuses a key that is already stored, whoever stored it
 * (this process before a restart, a consumer that held the partition
 * before a rebalance, a concurrent writer that committed after our
 * SELECT), and a site deleted after step 1 fails the foreign key. Either
 * aborts the transaction with MOCHI_ERR_CONFLICT; the batch is then applied
 * again in careful mode.
 *
 * Careful mode is chosen up front, when the progress rows just locked say
 * that the batch may hold stored page views this process does not know:
 * it reads again offsets below a row's next_offset (a redelivery after a
 * crash, or after a rebalance whose previous owner committed here but not
 * to Kafka), or a partition's row was last written by another process
 * (its latest page views are not in struct recent, and a same-minute
 * repeat of one of them may follow). After any of these, or a conflict,
 * it stays on for CAREFUL_BATCHES batches: such page views come in runs. A
 * partition without a row holds nothing stored, and one whose row this
 * process wrote last holds nothing it has not seen, so a new topic, or a
 * backlog in partitions no one has stored yet, drains without a single
 * lookup of ingestion_dedupe. A second apply of a committed batch adds
 * nothing. */

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

/* Why a batch was applied carefully: mochi_consumer_careful_batches_total's
 * reason label. */
enum careful_reason { REASON_REREAD, REASON_OTHER_WRITER, REASON_CONFLICT, REASON_AFTER, NREASONS };
static const char *const careful_reasons[] = {"reread", "other_writer", "conflict", "after"};

/* Partitions above this are not remembered (their rows count as another
 * writer's); Kafka topics have far fewer. */
#define WRITTEN_MAX_PARTITION 65535

/* The two COPYs of a batch, in binary (common/copy.h): the server then
 * parses no uuid or timestamp (docs/benchmarks-pipeline.md, "Binary
 * COPY"). stage() writes their columns in this order. */
#define COPY_KEYS_SQL                                                                              \
    "COPY ingestion_dedupe (site_id, dedupe_key, occurred_minute) FROM STDIN (FORMAT binary)"
#define COPY_ROWS_SQL                                                                              \
    "COPY page_view_events (site_id, path, referrer, visitor_hash, occurred_at)"                   \
    " FROM STDIN (FORMAT binary)"

/* Open addressing over event indices (stored as index + 1; 0 is empty). */
struct index_set {
    uint32_t *slots;
    size_t mask; /* capacity - 1, a power of two minus one */
    size_t cap;  /* allocated slots */
};

/* Page-view lookups to send (step 2): parallel array literals. */
struct lookups {
    struct mochi_copy_buf sites, keys, minutes;
    uint32_t *events; /* the event of each element */
    size_t count;
    int64_t lo, hi; /* minutes, microseconds */
};

/* What staging leaves for apply; read-only once staged. */
struct staged {
    size_t n, cap;
    unsigned char *fate;       /* FATE_STORE (first of its page view) or FATE_DUPLICATE */
    uint64_t *fingerprint;     /* of each event's page view (site, key, minute) */
    uint32_t *site_first;      /* the batch's first event of each event's site */
    size_t *key_end, *row_end; /* of a first page view's row in keys and rows */
    struct index_set views, sites;
    struct mochi_copy_buf site_ids;   /* array literal of the distinct sites */
    struct mochi_copy_buf keys, rows; /* COPY rows of every first page view */
    int rc;
};

struct ingest {
    struct staged slots[2];
    /* apply's own working state */
    unsigned char *fate;
    bool *site_ok; /* by first event of a site */
    size_t cap;
    struct lookups suspects;
    struct mochi_copy_buf keys, rows; /* staged rows less what apply removed */
    struct recent *recent;
    int careful;                       /* batches still to apply in careful mode */
    struct mochi_copy_buf progress[2]; /* ingest_progress's arrays */
    int64_t *applied;                  /* each mark's row, as the progress check read it */
    size_t applied_cap;
    /* By partition: the next_offset this process last committed to its
     * row (-1: none, or not since the row was last seen otherwise). */
    int64_t *written;
    size_t nwritten;
    struct mochi_metric *careful_batches[NREASONS];
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
    return ingest;
}

int ingest_add_metrics(void *arg, struct mochi_metrics *registry)
{
    struct ingest *ingest = arg;
    static const char *const label[] = {"reason"};
    struct mochi_metric_family *family = mochi_metrics_counter(
        registry, "mochi_consumer_careful_batches_total",
        "batches whose page views were all looked up in ingestion_dedupe, by why", 1, label);
    if (family == NULL)
        return MOCHI_ERR_NOMEM;
    for (int r = 0; r < NREASONS; r++) {
        struct mochi_metric *m = mochi_metrics_child(family, (const char *[]){careful_reasons[r]});
        if (m == NULL)
            return MOCHI_ERR_NOMEM;
        if (ingest != NULL)
            ingest->careful_batches[r] = m;
    }
    return 0;
}

static void lookups_free(struct lookups *l)
{
    mochi_copy_free(&l->sites);
    mochi_copy_free(&l->keys);
    mochi_copy_free(&l->minutes);
    free(l->events);
}

void ingest_destroy(struct ingest *ingest)
{
    if (ingest == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        struct staged *st = &ingest->slots[i];
        free(st->fate);
        free(st->fingerprint);
        free(st->site_first);
        free(st->key_end);
        free(st->row_end);
        free(st->views.slots);
        free(st->sites.slots);
        mochi_copy_free(&st->site_ids);
        mochi_copy_free(&st->keys);
        mochi_copy_free(&st->rows);
    }
    free(ingest->fate);
    free(ingest->site_ok);
    lookups_free(&ingest->suspects);
    mochi_copy_free(&ingest->keys);
    mochi_copy_free(&ingest->rows);
    mochi_copy_free(&ingest->progress[0]);
    mochi_copy_free(&ingest->progress[1]);
    free(ingest->applied);
    free(ingest->written);
    recent_destroy(ingest->recent);
    free(ingest);
}

/* ---- in-memory sets ---- */

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

static uint64_t site_hash(const char *site_id)
{
    return fnv1a(FNV_OFFSET, site_id, MOCHI_UUID_TEXT_LEN);
}

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

/* ---- array literals ---- */

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

static void lookups_reset(struct lookups *l)
{
    mochi_copy_reset(&l->sites);
    mochi_copy_reset(&l->keys);
    mochi_copy_reset(&l->minutes);
    l->count = 0;
    l->lo = INT64_MAX;
    l->hi = INT64_MIN;
}

/* events has room for every event of the batch (see reserve_*). */
static void lookups_add(struct lookups *l, const struct mochi_stream_event *e, size_t i)
{
    char minute[24];
    snprintf(minute, sizeof(minute), "%lld", (long long)(e->minute_us / 1000000));
    array_add(&l->sites, e->ev.site_id, l->count);
    array_add(&l->keys, e->dedupe_key, l->count);
    array_add(&l->minutes, minute, l->count);
    l->events[l->count++] = (uint32_t)i;
    l->lo = e->minute_us < l->lo ? e->minute_us : l->lo;
    l->hi = e->minute_us > l->hi ? e->minute_us : l->hi;
}

static int lookups_end(struct lookups *l)
{
    array_end(&l->sites, l->count);
    array_end(&l->keys, l->count);
    array_end(&l->minutes, l->count);
    return l->sites.failed || l->keys.failed || l->minutes.failed ? MOCHI_ERR_NOMEM : 0;
}

/* ---- staging ---- */

#define GROW(ptr, n)                                                                               \
    do {                                                                                           \
        void *grown_ = realloc((ptr), (n) * sizeof(*(ptr)));                                       \
        if (grown_ == NULL)                                                                        \
            return MOCHI_ERR_NOMEM;                                                                \
        (ptr) = grown_;                                                                            \
    } while (0)

static int reserve_staged(struct staged *st, size_t n)
{
    if (n <= st->cap)
        return 0;
    GROW(st->fate, n);
    GROW(st->fingerprint, n);
    GROW(st->site_first, n);
    GROW(st->key_end, n);
    GROW(st->row_end, n);
    st->cap = n;
    return 0;
}

static int stage(struct staged *st, const struct mochi_stream_event *events, size_t n)
{
    int rc = reserve_staged(st, n);
    if (rc == 0)
        rc = set_reset(&st->sites, n);
    if (rc == 0)
        rc = set_reset(&st->views, n);
    if (rc != 0)
        return rc;
    st->n = n;
    size_t nsites = 0;
    mochi_copy_reset(&st->site_ids);
    mochi_copy_reset(&st->keys);
    mochi_copy_reset(&st->rows);
    for (size_t i = 0; i < n; i++) {
        const struct mochi_stream_event *e = &events[i];
        uint64_t of_site = site_hash(e->ev.site_id);
        size_t first = set_put(&st->sites, events, i, of_site, same_site);
        st->site_first[i] = (uint32_t)first;
        if (first == i)
            array_add(&st->site_ids, e->ev.site_id, nsites++);
        /* The page view's hash continues the site's. */
        uint64_t hash = fnv1a(of_site, e->dedupe_key, MOCHI_HASH_HEX_LEN);
        hash = fnv1a(hash, &e->minute_us, sizeof(e->minute_us));
        st->fingerprint[i] = hash;
        if (set_put(&st->views, events, i, hash, same_view) != i) {
            st->fate[i] = FATE_DUPLICATE;
            continue;
        }
        st->fate[i] = FATE_STORE;
        /* COPY_KEYS_SQL's and COPY_ROWS_SQL's columns; the site's UUID
         * parsed once for both (the codec checked it: a failure only
         * fails the buffers, as mochi_copyb_uuid would) */
        unsigned char site[16];
        if (mochi_uuid_parse(e->ev.site_id, site) != 0)
            st->keys.failed = st->rows.failed = 1;
        mochi_copyb_row(&st->keys, 3);
        mochi_copyb_uuid_bytes(&st->keys, site);
        mochi_copyb_text(&st->keys, e->dedupe_key);
        mochi_copyb_time(&st->keys, e->minute_us);
        st->key_end[i] = st->keys.len;
        mochi_copyb_row(&st->rows, 5);
        mochi_copyb_uuid_bytes(&st->rows, site);
        mochi_copyb_text(&st->rows, e->ev.path);
        mochi_copyb_text(&st->rows, e->ev.has_referrer ? e->ev.referrer : NULL);
        mochi_copyb_text(&st->rows, e->ev.visitor_hash);
        mochi_copyb_time(&st->rows, e->ev.occurred_at_us);
        st->row_end[i] = st->rows.len;
    }
    array_end(&st->site_ids, nsites);
    return st->site_ids.failed || st->keys.failed || st->rows.failed ? MOCHI_ERR_NOMEM : 0;
}

int ingest_stage(void *arg, int slot, const struct mochi_stream_event *events, size_t n)
{
    struct ingest *ingest = arg;
    struct staged *st = &ingest->slots[slot];
    st->rc = stage(st, events, n);
    return st->rc;
}

/* ---- applying ---- */

/* Step 1: marks the events of unknown sites. */
static int check_sites(struct ingest *ingest, const struct staged *st, PGconn *conn,
                       const struct mochi_stream_event *events, char *err, size_t errlen)
{
    const char *params[] = {st->site_ids.data};
    PGresult *res = NULL;
    int rc = mochi_db_query(conn, sites_sql, 1, params, &res, err, errlen);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < st->n; i++)
        ingest->site_ok[i] = false;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = PQgetvalue(res, r, 0);
        if (strlen(id) != MOCHI_UUID_TEXT_LEN)
            continue;
        const struct index_set *set = &st->sites;
        for (size_t slot = site_hash(id) & set->mask; set->slots[slot] != 0;
             slot = (slot + 1) & set->mask) {
            if (strcmp(events[set->slots[slot] - 1].ev.site_id, id) == 0) {
                ingest->site_ok[set->slots[slot] - 1] = true;
                break;
            }
        }
    }
    PQclear(res);
    for (size_t i = 0; i < st->n; i++)
        if (!ingest->site_ok[st->site_first[i]])
            ingest->fate[i] = FATE_UNKNOWN_SITE;
    return 0;
}

/* Step 2: marks the page views already stored, of all of them when
 * careful, else of those this process recently stored. */
static int check_stored(struct ingest *ingest, const struct staged *st, PGconn *conn,
                        const struct mochi_stream_event *events, bool careful, char *err,
                        size_t errlen)
{
    struct lookups *ask = &ingest->suspects;
    lookups_reset(ask);
    for (size_t i = 0; i < st->n; i++)
        if (ingest->fate[i] == FATE_STORE &&
            (careful || recent_contains(ingest->recent, st->fingerprint[i])))
            lookups_add(ask, &events[i], i);
    int rc = lookups_end(ask);
    if (rc != 0)
        return rc;
    if (ask->count == 0)
        return 0;
    char lo[24], hi[24];
    snprintf(lo, sizeof(lo), "%lld", (long long)(ask->lo / 1000000));
    snprintf(hi, sizeof(hi), "%lld", (long long)(ask->hi / 1000000));
    const char *params[] = {ask->sites.data, ask->keys.data, ask->minutes.data, lo, hi};
    PGresult *res = NULL;
    rc = mochi_db_query(conn, stored_sql, 5, params, &res, err, errlen);
    if (rc != 0)
        return rc;
    for (int r = 0; r < PQntuples(res); r++) {
        long long ordinal = atoll(PQgetvalue(res, r, 0));
        if (ordinal >= 1 && (size_t)ordinal <= ask->count) {
            uint32_t i = ask->events[ordinal - 1];
            if (ingest->fate[i] == FATE_STORE)
                ingest->fate[i] = FATE_DUPLICATE;
        }
    }
    PQclear(res);
    return 0;
}

/* Counts the outcomes; points keys and rows at the rows to COPY: the
 * staged rows, or a copy of it without the page views steps 1 and 2
 * removed. */
static int select_rows(struct ingest *ingest, const struct staged *st,
                       struct mochi_stream_counts *counts, const struct mochi_copy_buf **keys,
                       const struct mochi_copy_buf **rows)
{
    memset(counts, 0, sizeof(*counts));
    bool removed = false;
    for (size_t i = 0; i < st->n; i++) {
        switch ((enum fate)ingest->fate[i]) {
        case FATE_STORE:
            counts->n[INGEST_STORED]++;
            break;
        case FATE_DUPLICATE:
            counts->n[INGEST_DUPLICATE]++;
            break;
        case FATE_UNKNOWN_SITE:
            counts->n[INGEST_UNKNOWN_SITE]++;
            break;
        }
        removed |= st->fate[i] == FATE_STORE && ingest->fate[i] != FATE_STORE;
    }
    *keys = &st->keys;
    *rows = &st->rows;
    if (!removed)
        return 0;
    mochi_copy_reset(&ingest->keys);
    mochi_copy_reset(&ingest->rows);
    size_t key_start = 0, row_start = 0;
    for (size_t i = 0; i < st->n; i++) {
        if (st->fate[i] != FATE_STORE)
            continue;
        if (ingest->fate[i] == FATE_STORE) {
            mochi_copy_raw(&ingest->keys, st->keys.data + key_start, st->key_end[i] - key_start);
            mochi_copy_raw(&ingest->rows, st->rows.data + row_start, st->row_end[i] - row_start);
        }
        key_start = st->key_end[i];
        row_start = st->row_end[i];
    }
    *keys = &ingest->keys;
    *rows = &ingest->rows;
    return ingest->keys.failed || ingest->rows.failed ? MOCHI_ERR_NOMEM : 0;
}

/* ---- careful or not ---- */

static int64_t written_of(const struct ingest *ingest, int32_t partition)
{
    return partition >= 0 && (size_t)partition < ingest->nwritten ? ingest->written[partition] : -1;
}

/* After a commit: the batch's rows now hold the larger of what the check
 * read and the marks' next_offset (progress_advance moves them forward
 * only, and the rows were locked). Out of memory, a partition is just not
 * remembered: its next batch is careful. */
static void remember_written(struct ingest *ingest, const struct mochi_stream_batch *batch)
{
    for (size_t i = 0; i < batch->nmarks; i++) {
        const struct mochi_stream_mark *m = &batch->marks[i];
        if (m->partition < 0 || m->partition > WRITTEN_MAX_PARTITION)
            continue;
        size_t p = (size_t)m->partition;
        if (p >= ingest->nwritten) {
            size_t n = p + 1 > 2 * ingest->nwritten ? p + 1 : 2 * ingest->nwritten;
            int64_t *grown = realloc(ingest->written, n * sizeof(*grown));
            if (grown == NULL)
                continue;
            for (size_t k = ingest->nwritten; k < n; k++)
                grown[k] = -1;
            ingest->written = grown;
            ingest->nwritten = n;
        }
        int64_t row = ingest->applied[i];
        ingest->written[p] = row > m->next_offset ? row : m->next_offset;
    }
}

/* Why this batch should be applied carefully, from its marks' rows as the
 * progress check read them (ingest->applied); -1 when it need not be. */
static int careful_reason(const struct ingest *ingest, const struct mochi_stream_batch *batch)
{
    bool other_writer = false;
    for (size_t i = 0; i < batch->nmarks; i++) {
        int64_t row = ingest->applied[i];
        if (row < 0)
            continue; /* nothing stored in this partition */
        if (batch->marks[i].first_offset < row)
            return REASON_REREAD;
        other_writer |= row != written_of(ingest, batch->marks[i].partition);
    }
    if (other_writer)
        return REASON_OTHER_WRITER;
    return ingest->careful > 0 ? REASON_AFTER : -1;
}

/* ---- the transaction ---- */

/* One try at the batch's transaction. *reason: in, REASON_CONFLICT when
 * the try before met a stored page view, else -1; out, why this try was
 * careful, or -1. */
static int apply_once(struct ingest *ingest, const struct staged *st, PGconn *conn,
                      const struct mochi_stream_batch *batch, int *reason,
                      struct mochi_stream_counts *counts, char *err, size_t errlen)
{
    const struct mochi_stream_event *events = batch->events;
    memcpy(ingest->fate, st->fate, st->n);
    const struct mochi_copy_buf *keys = NULL, *rows = NULL;
    int rc = mochi_db_exec(conn, "BEGIN", err, errlen);
    if (rc == 0)
        rc = mochi_stream_progress_check(conn, "ingest_progress", batch->topic, batch->marks,
                                         batch->nmarks, &ingest->progress[0], ingest->applied,
                                         batch->gaps, batch->ngaps, err, errlen);
    if (rc == 0 && *reason != REASON_CONFLICT)
        *reason = careful_reason(ingest, batch);
    if (rc == 0)
        rc = check_sites(ingest, st, conn, events, err, errlen);
    if (rc == 0)
        rc = check_stored(ingest, st, conn, events, *reason >= 0, err, errlen);
    if (rc == 0)
        rc = select_rows(ingest, st, counts, &keys, &rows);
    if (rc == 0 && counts->n[INGEST_STORED] > 0) {
        rc = mochi_copy_send_binary(conn, COPY_KEYS_SQL, keys, err, errlen);
        if (rc == 0)
            rc = mochi_copy_send_binary(conn, COPY_ROWS_SQL, rows, err, errlen);
    }
    if (rc == 0)
        rc = mochi_stream_progress_advance(conn, "ingest_progress", batch->topic, batch->marks,
                                           batch->nmarks, ingest->progress, err, errlen);
    if (rc == 0)
        rc = mochi_db_exec(conn, "COMMIT", err, errlen);
    if (rc != 0)
        mochi_db_rollback(conn);
    else
        remember_written(ingest, batch);
    return rc;
}

/* A batch whose messages were all skipped (undecodable, too old): its
 * offsets are progress too, or the next batch would seem to start past
 * what is stored. */
static int apply_progress_only(struct ingest *ingest, PGconn *conn,
                               const struct mochi_stream_batch *batch)
{
    char err[512] = "";
    int rc = mochi_db_exec(conn, "BEGIN", err, sizeof(err));
    if (rc == 0)
        rc = mochi_stream_progress_check(conn, "ingest_progress", batch->topic, batch->marks,
                                         batch->nmarks, &ingest->progress[0], ingest->applied,
                                         batch->gaps, batch->ngaps, err, sizeof(err));
    if (rc == 0)
        rc = mochi_stream_progress_advance(conn, "ingest_progress", batch->topic, batch->marks,
                                           batch->nmarks, ingest->progress, err, sizeof(err));
    if (rc == 0)
        rc = mochi_db_exec(conn, "COMMIT", err, sizeof(err));
    if (rc != 0)
        mochi_db_rollback(conn);
    else
        remember_written(ingest, batch);
    if (rc != 0 && rc != MOCHI_ERR_GAP)
        mochi_log(MOCHI_LOG_WARN, "consumer", "msg=\"batch transaction failed\" error=\"%s\"", err);
    return rc == MOCHI_ERR_NOMEM ? MOCHI_ERR_AGAIN : rc;
}

static int reserve_apply(struct ingest *ingest, size_t n, size_t nmarks)
{
    if (nmarks > ingest->applied_cap) {
        GROW(ingest->applied, nmarks);
        ingest->applied_cap = nmarks;
    }
    if (n <= ingest->cap)
        return 0;
    GROW(ingest->fate, n);
    GROW(ingest->site_ok, n);
    GROW(ingest->suspects.events, n);
    ingest->cap = n;
    return 0;
}

/* In careful mode a conflict means that another writer committed some of
 * the batch's page views (or removed a site) between our checks and our
 * COPY; the next try sees that. More than a few in a row is not a race. */
#define CONFLICT_TRIES 5

int ingest_apply(void *arg, PGconn *conn, const struct mochi_stream_batch *batch,
                 struct mochi_stream_counts *counts)
{
    struct ingest *ingest = arg;
    size_t n = batch->nevents;
    const struct staged *st = &ingest->slots[batch->slot];
    char err[512] = "";
    memset(counts, 0, sizeof(*counts));
    int rc = reserve_apply(ingest, n, batch->nmarks);
    if (rc != 0)
        return MOCHI_ERR_AGAIN;
    if (n == 0)
        return apply_progress_only(ingest, conn, batch);
    rc = st->rc != 0 ? st->rc : st->n != n ? MOCHI_ERR_INTERNAL : 0;
    int reason = -1;
    for (int attempt = 1; rc == 0;) {
        rc = apply_once(ingest, st, conn, batch, &reason, counts, err, sizeof(err));
        if (rc != MOCHI_ERR_CONFLICT)
            break;
        if (reason < 0) {
            mochi_log(MOCHI_LOG_DEBUG, "consumer",
                      "msg=\"batch holds page views stored earlier, applying it carefully\"");
        } else {
            if (attempt++ == CONFLICT_TRIES)
                break;
            mochi_log(MOCHI_LOG_INFO, "consumer",
                      "msg=\"batch met a concurrent writer, applying it again\" error=\"%s\"", err);
        }
        reason = REASON_CONFLICT;
        rc = 0;
    }
    if (rc == MOCHI_ERR_GAP)
        return rc; /* nothing applied; the stream says which partitions */
    if (rc != 0) {
        if (err[0] == '\0')
            snprintf(err, sizeof(err), "%s", mochi_strerror(rc));
        mochi_log(MOCHI_LOG_WARN, "consumer", "msg=\"batch transaction failed\" error=\"%s\"", err);
        return rc == MOCHI_ERR_NOMEM || rc == MOCHI_ERR_CONFLICT ? MOCHI_ERR_AGAIN : rc;
    }
    if (reason >= 0 && ingest->careful_batches[reason] != NULL)
        mochi_metric_inc(ingest->careful_batches[reason]);
    if (reason >= 0 && reason != REASON_AFTER)
        ingest->careful = CAREFUL_BATCHES;
    else if (ingest->careful > 0)
        ingest->careful--;
    /* Everything of a known site is stored now, by this batch or before. */
    for (size_t i = 0; i < n; i++)
        if (ingest->fate[i] != FATE_UNKNOWN_SITE)
            recent_add(ingest->recent, st->fingerprint[i]);
    return 0;
}
