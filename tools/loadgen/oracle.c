/* The oracle of the daily aggregates; see oracle.h. */
#include "tools/loadgen/oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/utf8.h"
#include "tools/loadgen/zone.h"

/* One counted page view; duplicates are removed by sorting. */
struct record {
    int64_t sent_us, done_us;             /* the request's send and answer times */
    uint32_t site, visitor, path, minute; /* minute: since the epoch, UTC */
    int32_t day;                          /* site-local, days since 1970-01-01 */
    uint32_t source;                      /* interned; 0 is LOADGEN_SOURCE_NONE */
    uint32_t seq;                         /* order of the add calls */
    bool entry;
    bool unordered; /* a copy with another entry or source overlapped it */
};

/* The last minute whose local day a site looked up (one lookup a minute,
 * not one a beacon: tzset is not cheap). */
struct day_cache {
    int64_t minute;
    int32_t day;
    bool known, straddles;
};

struct mochi_loadgen_oracle {
    const struct mochi_loadgen_site *sites; /* borrowed */
    size_t nsites;
    struct mochi_loadgen_counts counts;
    long long rejected[600];
    struct record *records; /* owned */
    size_t nrecords, cap;
    uint32_t seq;
    struct day_cache *days; /* owned, one per site */
    json_t *path_ids;       /* owned: path -> id, so that a record holds a number */
    json_t *path_names;     /* owned: id -> path */
    json_t *source_ids;     /* owned: source -> id */
    json_t *source_names;   /* owned: id -> source; 0 is LOADGEN_SOURCE_NONE */
};

static int record_cmp(const void *a, const void *b);
static bool same_view(const struct record *x, const struct record *y);
static bool earlier(const struct record *x, const struct record *y);
static void compact(struct mochi_loadgen_oracle *oracle);
static int intern(json_t *ids, json_t *names, const char *text, uint32_t *id);
static int local_day(struct mochi_loadgen_oracle *oracle, size_t site, int64_t minute, int32_t *day,
                     bool *straddles);
static bool url_host(const char *url, char *host, size_t size);
static bool host_in_domain(const char *host, const char *domain);
static int hex_value(char c);
static bool utm_source(const char *url, char out[LOADGEN_SOURCE_SIZE]);
static int bump(json_t *obj, const char *key, const char *field);
static int add_day(json_t *days, const struct mochi_loadgen_oracle *oracle, const struct record *r,
                   size_t n, long long *unordered);

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

/* The lower-case host of "scheme://[user@]host[:port]...", without user
 * and port, cut to size - 1 bytes. Returns false when there is none. */
static bool url_host(const char *url, char *host, size_t size)
{
    const char *p = strstr(url, "://");
    if (p == NULL || p == url ||
        strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789+-.") != (size_t)(p - url))
        return false;
    p += 3;
    size_t len = strcspn(p, "/?#");
    const char *at = memrchr(p, '@', len);
    if (at != NULL) {
        len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *end = p[0] == '[' ? memchr(p, ']', len) : memchr(p, ':', len);
    size_t hlen = end == NULL ? len : (size_t)(end - p) + (p[0] == '[');
    if (hlen == 0)
        return false;
    if (hlen >= size)
        hlen = size - 1;
    for (size_t i = 0; i < hlen; i++)
        host[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
    host[hlen] = '\0';
    return true;
}

/* host is domain or one of its subdomains ("badexample.com" is neither of
 * "example.com"); both lower-case. */
static bool host_in_domain(const char *host, const char *domain)
{
    size_t h = strlen(host), d = strlen(domain);
    if (h == d)
        return strcmp(host, domain) == 0;
    return h > d && host[h - d - 1] == '.' && strcmp(host + h - d, domain) == 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The first utm_source of url's query, as mochi_loadgen_origin says.
 * Returns false when there is none (or it counts as none). */
static bool utm_source(const char *url, char out[LOADGEN_SOURCE_SIZE])
{
    const char *p = strstr(url, "://");
    p = p != NULL ? p + 3 : url;
    p += strcspn(p, "?#");
    if (*p != '?')
        return false;
    p++;
    const char *end = p + strcspn(p, "#");
    while (p < end) {
        size_t n = strcspn(p, "&#");
        const char *eq = memchr(p, '=', n);
        if ((eq != NULL ? (size_t)(eq - p) : n) != 10 || memcmp(p, "utm_source", 10) != 0) {
            p += n + (p[n] == '&');
            continue;
        }
        char value[1024];
        size_t len = 0;
        for (const char *v = eq != NULL ? eq + 1 : p + n; v < p + n && len < sizeof(value); v++) {
            int hi = v[0] == '%' ? hex_value(v[1]) : -1, lo = hi >= 0 ? hex_value(v[2]) : -1;
            if (lo >= 0) {
                value[len++] = (char)(hi * 16 + lo);
                v += 2;
            } else {
                value[len++] = *v;
            }
        }
        if (len == 0 || !mochi_utf8_valid(value, len) || mochi_utf8_has_control(value, len))
            return false;
        if (len > LOADGEN_UTM_SOURCE_MAX) { /* back off to the start of a character */
            len = LOADGEN_UTM_SOURCE_MAX;
            while (len > 0 && ((unsigned char)value[len] & 0xC0) == 0x80)
                len--;
        }
        for (size_t i = 0; i < len; i++)
            out[i] = (char)(value[i] >= 'A' && value[i] <= 'Z' ? value[i] - 'A' + 'a' : value[i]);
        out[len] = '\0';
        return true;
    }
    return false;
}

void mochi_loadgen_origin(const char *url, const char *referrer, const char *domain, bool *entry,
                          char source[LOADGEN_SOURCE_SIZE])
{
    char host[LOADGEN_SOURCE_SIZE];
    bool has_host = referrer != NULL && url_host(referrer, host, sizeof(host));
    snprintf(source, LOADGEN_SOURCE_SIZE, "%s", LOADGEN_SOURCE_NONE);
    *entry = !has_host || !host_in_domain(host, domain);
    if (!*entry || utm_source(url, source))
        return;
    if (has_host) {
        bool www = strncmp(host, "www.", 4) == 0 && host[4] != '\0';
        snprintf(source, LOADGEN_SOURCE_SIZE, "%s", www ? host + 4 : host);
    }
}

int mochi_loadgen_oracle_new(const struct mochi_loadgen_site *sites, size_t nsites,
                             struct mochi_loadgen_oracle **out)
{
    char why[256];
    uint32_t none;
    for (size_t s = 0; s < nsites; s++)
        if (sites[s].timezone != NULL &&
            mochi_loadgen_zone_check(sites[s].timezone, why, sizeof(why)) != 0)
            return MOCHI_ERR_INVALID;
    struct mochi_loadgen_oracle *oracle = calloc(1, sizeof(*oracle));
    if (oracle == NULL)
        return MOCHI_ERR_NOMEM;
    oracle->sites = sites;
    oracle->nsites = nsites;
    oracle->days = calloc(nsites > 0 ? nsites : 1, sizeof(*oracle->days));
    oracle->path_ids = json_object();
    oracle->path_names = json_array();
    oracle->source_ids = json_object();
    oracle->source_names = json_array();
    if (oracle->days == NULL || oracle->path_ids == NULL || oracle->path_names == NULL ||
        oracle->source_ids == NULL || oracle->source_names == NULL ||
        intern(oracle->source_ids, oracle->source_names, LOADGEN_SOURCE_NONE, &none) != 0) {
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
    json_decref(oracle->source_ids);
    json_decref(oracle->source_names);
    free(oracle->days);
    free(oracle->records);
    free(oracle);
}

const struct mochi_loadgen_counts *
mochi_loadgen_oracle_counts(const struct mochi_loadgen_oracle *oracle)
{
    return &oracle->counts;
}

static int intern(json_t *ids, json_t *names, const char *text, uint32_t *id)
{
    json_t *known = json_object_get(ids, text);
    if (known != NULL) {
        *id = (uint32_t)json_integer_value(known);
        return 0;
    }
    *id = (uint32_t)json_array_size(names);
    if (json_array_append_new(names, json_string(text)) != 0 ||
        json_object_set_new(ids, text, json_integer(*id)) != 0)
        return MOCHI_ERR_NOMEM;
    return 0;
}

/* Order: site, local day, visitor, path, minute, then the order sent; so a
 * (site, day) is one run, a visitor's records are adjacent in it, and the
 * first copy of a page view leads its repeats. */
static int record_cmp(const void *a, const void *b)
{
    const struct record *x = a, *y = b;
    int64_t kx[7] = {x->site, x->day, x->visitor, x->path, x->minute, x->sent_us, x->seq};
    int64_t ky[7] = {y->site, y->day, y->visitor, y->path, y->minute, y->sent_us, y->seq};
    for (int i = 0; i < 7; i++)
        if (kx[i] != ky[i])
            return kx[i] < ky[i] ? -1 : 1;
    return 0;
}

/* One page view: the same site, visitor, path and minute (and so day). */
static bool same_view(const struct record *x, const struct record *y)
{
    return x->site == y->site && x->visitor == y->visitor && x->path == y->path &&
           x->minute == y->minute;
}

/* The order in which loadgen sent two requests. */
static bool earlier(const struct record *x, const struct record *y)
{
    return x->sent_us < y->sent_us || (x->sent_us == y->sent_us && x->seq < y->seq);
}

/* Sorts the records and drops repeats: afterwards each is one page view,
 * carrying the entry and source of its first copy sent. The collector
 * counts the first copy that reaches it; when a copy with another entry or
 * source was sent before the first was answered, which one that was is
 * unknown, and the view is marked unordered. */
static void compact(struct mochi_loadgen_oracle *oracle)
{
    if (oracle->nrecords < 2)
        return;
    qsort(oracle->records, oracle->nrecords, sizeof(struct record), record_cmp);
    size_t n = 1;
    for (size_t i = 1; i < oracle->nrecords; i++) {
        struct record *kept = &oracle->records[n - 1], *r = &oracle->records[i];
        if (!same_view(r, kept)) {
            oracle->records[n++] = *r;
            continue;
        }
        if ((r->entry != kept->entry || r->source != kept->source) && r->sent_us < kept->done_us)
            kept->unordered = true;
        kept->unordered |= r->unordered;
    }
    oracle->nrecords = n;
}

/* The site-local day of a UTC minute, and whether the minute's first and
 * last seconds fall on different days. Returns 0 or a negative error. */
static int local_day(struct mochi_loadgen_oracle *oracle, size_t site, int64_t minute, int32_t *day,
                     bool *straddles)
{
    struct day_cache *c = &oracle->days[site];
    if (!c->known || c->minute != minute) {
        const char *zone = oracle->sites[site].timezone;
        int64_t first = 0, last = 0;
        zone = zone != NULL ? zone : LOADGEN_ZONE_UTC;
        int rc = mochi_loadgen_zone_day(zone, minute * 60, &first);
        if (rc == 0)
            rc = mochi_loadgen_zone_day(zone, minute * 60 + 59, &last);
        if (rc != 0)
            return rc;
        *c = (struct day_cache){
            .minute = minute, .day = (int32_t)first, .known = true, .straddles = first != last};
    }
    *day = c->day;
    *straddles = c->straddles;
    return 0;
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
    int32_t day;
    bool straddles;
    int rc = local_day(oracle, result->site, minute, &day, &straddles);
    if (rc != 0)
        return rc;
    if (straddles) {
        c->ambiguous++;
        return 0;
    }
    char path[LOADGEN_URL_MAX], source[LOADGEN_SOURCE_SIZE];
    uint32_t path_id, source_id;
    bool entry;
    if (mochi_loadgen_url_path(result->url, path, sizeof(path)) != 0)
        return MOCHI_ERR_INVALID;
    mochi_loadgen_origin(result->url, result->referrer, oracle->sites[result->site].domain, &entry,
                         source);
    rc = intern(oracle->path_ids, oracle->path_names, path, &path_id);
    if (rc == 0)
        rc = intern(oracle->source_ids, oracle->source_names, source, &source_id);
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
    oracle->records[oracle->nrecords++] = (struct record){.sent_us = result->sent_us,
                                                          .done_us = result->done_us,
                                                          .site = (uint32_t)result->site,
                                                          .visitor = result->visitor,
                                                          .path = path_id,
                                                          .minute = (uint32_t)minute,
                                                          .day = day,
                                                          .source = source_id,
                                                          .seq = oracle->seq++,
                                                          .entry = entry};
    return 0;
}

/* Adds one to obj[key], or with a field to obj[key][field] (a source's
 * {"entries", "visitors"}, made when new). Returns 0 or -1. */
static int bump(json_t *obj, const char *key, const char *field)
{
    json_t *count = json_object_get(obj, key);
    if (count == NULL) {
        count =
            field != NULL ? json_pack("{s:i,s:i}", "entries", 0, "visitors", 0) : json_integer(0);
        if (json_object_set_new(obj, key, count) != 0)
            return -1;
    }
    if (field != NULL)
        count = json_object_get(count, field);
    return json_integer_set(count, json_integer_value(count) + 1);
}

/* Adds the n records of one (site, day) to days; counts in *unordered the
 * views whose entry or source, and the visitors whose credited source,
 * depend on an order of arrival loadgen does not know. Returns 0 or -1. */
static int add_day(json_t *days, const struct mochi_loadgen_oracle *oracle, const struct record *r,
                   size_t n, long long *unordered)
{
    char name[16];
    mochi_day_format(r[0].day, name);
    json_t *paths = json_object(), *entry_paths = json_object(), *sources = json_object();
    long long visitors = 0, entries = 0;
    int bad = paths == NULL || entry_paths == NULL || sources == NULL;
    for (size_t i = 0; i < n && !bad; i++) {
        const char *path = json_string_value(json_array_get(oracle->path_names, r[i].path));
        const char *source = json_string_value(json_array_get(oracle->source_names, r[i].source));
        *unordered += r[i].unordered;
        bad = bump(paths, path, NULL);
        if (r[i].entry && !bad) {
            entries++;
            bad = bump(entry_paths, path, NULL) || bump(sources, source, "entries");
        }
        if (bad || (i > 0 && r[i].visitor == r[i - 1].visitor))
            continue;
        /* The visitor's views are r[i..j): the first sent earns the day's
         * visit for its source (a non-entry's is LOADGEN_SOURCE_NONE). */
        size_t j = i, first = i;
        for (; j < n && r[j].visitor == r[i].visitor; j++)
            first = earlier(&r[j], &r[first]) ? j : first;
        for (size_t k = i; k < j; k++) {
            if (k != first && r[k].sent_us < r[first].done_us && r[k].source != r[first].source) {
                (*unordered)++;
                break;
            }
        }
        visitors++;
        bad =
            bump(sources, json_string_value(json_array_get(oracle->source_names, r[first].source)),
                 "visitors");
    }
    if (bad) {
        json_decref(paths);
        json_decref(entry_paths);
        json_decref(sources);
        return -1;
    }
    /* "o" hands the objects over to the day object. */
    return json_object_set_new(days, name,
                               json_pack("{s:I,s:I,s:o,s:I,s:o,s:o}", "page_views", (json_int_t)n,
                                         "unique_visitors", (json_int_t)visitors, "paths", paths,
                                         "entries", (json_int_t)entries, "entry_paths", entry_paths,
                                         "sources", sources));
}

int mochi_loadgen_oracle_json(struct mochi_loadgen_oracle *oracle, json_t **out)
{
    const struct mochi_loadgen_counts *c = &oracle->counts;
    long long unordered = 0;
    int bad = 0;
    compact(oracle);
    json_t *sites = json_object(), *rejected = json_object();
    for (size_t s = 0; s < oracle->nsites && sites != NULL && !bad; s++) {
        const char *zone = oracle->sites[s].timezone;
        bad = json_object_set_new(sites, oracle->sites[s].key,
                                  json_pack("{s:s,s:s,s:o}", "domain", oracle->sites[s].domain,
                                            "timezone", zone != NULL ? zone : LOADGEN_ZONE_UTC,
                                            "days", json_object()));
    }
    for (size_t i = 0; i < oracle->nrecords && sites != NULL && !bad;) {
        const struct record *r = &oracle->records[i];
        size_t n = 1;
        while (i + n < oracle->nrecords && r[n].site == r->site && r[n].day == r->day)
            n++;
        json_t *site = json_object_get(sites, oracle->sites[r->site].key);
        bad = add_day(json_object_get(site, "days"), oracle, r, n, &unordered);
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
    *out =
        json_pack("{s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "sites", sites, "sent",
                  (json_int_t)c->sent, "accepted", (json_int_t)c->accepted, "published",
                  (json_int_t)(c->accepted - c->bots_accepted), "bots", (json_int_t)c->bots,
                  "bots_accepted", (json_int_t)c->bots_accepted, "doubles", (json_int_t)c->doubles,
                  "errors", (json_int_t)c->errors, "ambiguous", (json_int_t)c->ambiguous,
                  "unordered", (json_int_t)unordered, "rejected", rejected);
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
