/* The oracle of the daily aggregates; see oracle.h. */
#include "tools/loadgen/oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/utf8.h"

#define MINUTES_PER_DAY 1440

/* One counted page view; duplicates are removed by sorting. */
struct record {
    uint32_t site, visitor, path, minute; /* minute: since the epoch, UTC */
};

struct mochi_loadgen_oracle {
    const struct mochi_loadgen_site *sites; /* borrowed */
    size_t nsites;
    struct mochi_loadgen_counts counts;
    long long rejected[600];
    struct record *records; /* owned */
    size_t nrecords, cap;
    json_t *path_ids;   /* owned: path -> id, so that a record holds a number */
    json_t *path_names; /* owned: id -> path */
};

static int record_cmp(const void *a, const void *b);
static void compact(struct mochi_loadgen_oracle *oracle);
static int intern(struct mochi_loadgen_oracle *oracle, const char *path, uint32_t *id);
static int add_day(json_t *days, const struct mochi_loadgen_oracle *oracle, const struct record *r,
                   size_t n);

bool mochi_loadgen_accepted(long status, bool gif)
{
    return status == 202 || (gif && status == 200);
}

int mochi_loadgen_url_path(const char *url, char *out, size_t size)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return MOCHI_ERR_INVALID;
    p += 3;
    p += strcspn(p, "/?#"); /* past user info, host and port */
    size_t len = *p == '/' ? strcspn(p, "?#") : 0;
    if (len == 0) {
        p = "/";
        len = 1;
    }
    /* docs/paths.md, for the paths traffic.c makes: every escape there
     * spells a character the collector decodes, so all are decoded; one
     * that is not (a delimiter, a control, bytes that are not UTF-8) is
     * outside this model and refused. */
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned int byte = (unsigned char)p[i];
        if (byte == '%') {
            static const char hex[] = "0123456789abcdef0123456789ABCDEF";
            const char *hi = i + 2 < len && p[i + 1] ? strchr(hex, p[i + 1]) : NULL;
            const char *lo = hi && p[i + 2] ? strchr(hex, p[i + 2]) : NULL;
            if (lo == NULL)
                return MOCHI_ERR_INVALID;
            byte = (unsigned int)((hi - hex) % 16 * 16 + (lo - hex) % 16);
            if (byte <= ' ' || byte == 0x7F || strchr("/?#%", (int)byte) != NULL)
                return MOCHI_ERR_INVALID;
            i += 2;
        }
        if (n + 1 >= size)
            return MOCHI_ERR_INVALID;
        out[n++] = (char)byte;
    }
    out[n] = '\0';
    if (!mochi_utf8_valid(out, n) || mochi_utf8_has_control(out, n))
        return MOCHI_ERR_INVALID;
    return 0;
}

int mochi_loadgen_oracle_new(const struct mochi_loadgen_site *sites, size_t nsites,
                             struct mochi_loadgen_oracle **out)
{
    struct mochi_loadgen_oracle *oracle = calloc(1, sizeof(*oracle));
    if (oracle == NULL)
        return MOCHI_ERR_NOMEM;
    oracle->sites = sites;
    oracle->nsites = nsites;
    oracle->path_ids = json_object();
    oracle->path_names = json_array();
    if (oracle->path_ids == NULL || oracle->path_names == NULL) {
        mochi_loadgen_oracle_destroy(oracle);
        return MOCHI_ERR_NOMEM;
    }
    *out = oracle;
    return 0;
}

void mochi_loadgen_oracle_destroy(struct mochi_loadgen_oracle *oracle)
{
    if (oracle == NULL)
        return;
    json_decref(oracle->path_ids);
    json_decref(oracle->path_names);
    free(oracle->records);
    free(oracle);
}

const struct mochi_loadgen_counts *
mochi_loadgen_oracle_counts(const struct mochi_loadgen_oracle *oracle)
{
    return &oracle->counts;
}

static int intern(struct mochi_loadgen_oracle *oracle, const char *path, uint32_t *id)
{
    json_t *known = json_object_get(oracle->path_ids, path);
    if (known != NULL) {
        *id = (uint32_t)json_integer_value(known);
        return 0;
    }
    *id = (uint32_t)json_array_size(oracle->path_names);
    if (json_array_append_new(oracle->path_names, json_string(path)) != 0 ||
        json_object_set_new(oracle->path_ids, path, json_integer(*id)) != 0)
        return MOCHI_ERR_NOMEM;
    return 0;
}

/* Order: site, day, visitor, path, minute; so a (site, day) is one run, and
 * within it a visitor's records are adjacent. */
static int record_cmp(const void *a, const void *b)
{
    const struct record *x = a, *y = b;
    uint32_t kx[5] = {x->site, x->minute / MINUTES_PER_DAY, x->visitor, x->path, x->minute};
    uint32_t ky[5] = {y->site, y->minute / MINUTES_PER_DAY, y->visitor, y->path, y->minute};
    for (int i = 0; i < 5; i++)
        if (kx[i] != ky[i])
            return kx[i] < ky[i] ? -1 : 1;
    return 0;
}

/* Sorts the records and drops repeats: afterwards each is one page view. */
static void compact(struct mochi_loadgen_oracle *oracle)
{
    if (oracle->nrecords < 2)
        return;
    qsort(oracle->records, oracle->nrecords, sizeof(struct record), record_cmp);
    size_t n = 1;
    for (size_t i = 1; i < oracle->nrecords; i++)
        if (record_cmp(&oracle->records[i], &oracle->records[n - 1]) != 0)
            oracle->records[n++] = oracle->records[i];
    oracle->nrecords = n;
}

int mochi_loadgen_oracle_add(struct mochi_loadgen_oracle *oracle,
                             const struct mochi_loadgen_result *result)
{
    struct mochi_loadgen_counts *c = &oracle->counts;
    bool bot = result->visitor == LOADGEN_BOT;
    c->sent++;
    c->doubles += result->duplicate;
    c->bots += bot;
    if (result->status == 0) {
        c->errors++;
        return 0;
    }
    bool ok = mochi_loadgen_accepted(result->status, result->gif);
    if (result->status >= 100 && result->status < 600) {
        c->by_status[result->status]++;
        if (!ok)
            oracle->rejected[result->status]++;
    }
    if (!ok)
        return 0;
    c->accepted++;
    if (bot) {
        c->bots_accepted++;
        return 0;
    }
    /* The collector stamps the beacon with its clock on arrival, somewhere
     * between these two instants; only when both fall in one minute is the
     * page view's minute known. */
    int64_t minute = result->sent_us / MOCHI_US_PER_MINUTE;
    if (result->done_us / MOCHI_US_PER_MINUTE != minute || minute < 0 || minute > UINT32_MAX) {
        c->ambiguous++;
        return 0;
    }
    char path[LOADGEN_URL_MAX];
    uint32_t id;
    if (mochi_loadgen_url_path(result->url, path, sizeof(path)) != 0)
        return MOCHI_ERR_INVALID;
    int rc = intern(oracle, path, &id);
    if (rc != 0)
        return rc;
    if (oracle->nrecords == oracle->cap) {
        compact(oracle); /* grow only when repeats do not make room */
        if (oracle->cap == 0 || oracle->nrecords > oracle->cap / 2) {
            size_t cap = oracle->cap ? 2 * oracle->cap : 1024;
            struct record *grown = realloc(oracle->records, cap * sizeof(*grown));
            if (grown == NULL)
                return MOCHI_ERR_NOMEM;
            oracle->records = grown;
            oracle->cap = cap;
        }
    }
    oracle->records[oracle->nrecords++] =
        (struct record){(uint32_t)result->site, result->visitor, id, (uint32_t)minute};
    return 0;
}

/* Adds the n records of one (site, day) to days. Returns 0 or -1. */
static int add_day(json_t *days, const struct mochi_loadgen_oracle *oracle, const struct record *r,
                   size_t n)
{
    char name[16];
    mochi_day_format(r[0].minute / MINUTES_PER_DAY, name);
    json_t *paths = json_object();
    long long visitors = 0;
    int bad = paths == NULL;
    for (size_t i = 0; i < n && !bad; i++) {
        visitors += i == 0 || r[i].visitor != r[i - 1].visitor;
        const char *path = json_string_value(json_array_get(oracle->path_names, r[i].path));
        json_t *count = json_object_get(paths, path);
        if (count != NULL)
            bad = json_integer_set(count, json_integer_value(count) + 1);
        else
            bad = json_object_set_new(paths, path, json_integer(1));
    }
    if (bad) {
        json_decref(paths);
        return -1;
    }
    /* "o" hands paths over to the day object. */
    return json_object_set_new(days, name,
                               json_pack("{s:I,s:I,s:o}", "page_views", (json_int_t)n,
                                         "unique_visitors", (json_int_t)visitors, "paths", paths));
}

int mochi_loadgen_oracle_json(struct mochi_loadgen_oracle *oracle, json_t **out)
{
    const struct mochi_loadgen_counts *c = &oracle->counts;
    int bad = 0;
    compact(oracle);
    json_t *sites = json_object(), *rejected = json_object();
    for (size_t s = 0; s < oracle->nsites && sites != NULL && !bad; s++)
        bad = json_object_set_new(
            sites, oracle->sites[s].key,
            json_pack("{s:s,s:o}", "domain", oracle->sites[s].domain, "days", json_object()));
    for (size_t i = 0; i < oracle->nrecords && sites != NULL && !bad;) {
        const struct record *r = &oracle->records[i];
        size_t n = 1;
        while (i + n < oracle->nrecords && r[n].site == r->site &&
               r[n].minute / MINUTES_PER_DAY == r->minute / MINUTES_PER_DAY)
            n++;
        json_t *site = json_object_get(sites, oracle->sites[r->site].key);
        bad = add_day(json_object_get(site, "days"), oracle, r, n);
        i += n;
    }
    for (int status = 0; status < 600 && rejected != NULL && !bad; status++) {
        char name[8];
        snprintf(name, sizeof(name), "%d", status);
        if (oracle->rejected[status] > 0)
            bad = json_object_set_new(rejected, name, json_integer(oracle->rejected[status]));
    }
    if (sites == NULL || rejected == NULL || bad) {
        json_decref(sites);
        json_decref(rejected);
        return MOCHI_ERR_NOMEM;
    }
    *out = json_pack("{s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "sites", sites, "sent",
                     (json_int_t)c->sent, "accepted", (json_int_t)c->accepted, "published",
                     (json_int_t)(c->accepted - c->bots_accepted), "bots", (json_int_t)c->bots,
                     "bots_accepted", (json_int_t)c->bots_accepted, "doubles",
                     (json_int_t)c->doubles, "errors", (json_int_t)c->errors, "ambiguous",
                     (json_int_t)c->ambiguous, "rejected", rejected);
    return *out != NULL ? 0 : MOCHI_ERR_NOMEM;
}

int mochi_loadgen_oracle_write(struct mochi_loadgen_oracle *oracle, const char *path, char *err,
                               size_t errlen)
{
    json_t *doc = NULL;
    char tmp[4096];
    if (mochi_loadgen_oracle_json(oracle, &doc) != 0) {
        snprintf(err, errlen, "out of memory");
        return MOCHI_ERR_NOMEM;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int rc = json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    if (rc != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s", path);
        remove(tmp);
        return MOCHI_ERR_IO;
    }
    return 0;
}
