#include "tests/harness/events.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <avro.h>

#include "common/clock.h"

static unsigned int next_rand(unsigned int *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 8) & 0xffffff;
}

void mochi_test_codec_new(struct mochi_schema_set **schemas, struct mochi_codec **codec)
{
    char err[256] = "";
    if (mochi_schema_set_load(mochi_test_src("schemas"), schemas, err, sizeof(err)) != 0)
        fail_msg("schemas: %s", err);
    if (mochi_codec_new(*schemas, codec) != 0)
        fail_msg("codec: cannot make one over the schemas");
}

struct mochi_test_event *mochi_test_events_make(size_t n, const char *const *site_ids,
                                                size_t nsites, int visitors, int paths,
                                                int span_minutes, int days, double dup_share,
                                                unsigned int seed)
{
    struct mochi_test_event *events = calloc(n, sizeof(*events));
    unsigned int st = seed;
    /* Start at a minute boundary well in the past so that every event is
     * in the past and minutes are exact. */
    int64_t base =
        mochi_minute_of_us(mochi_clock_now_us()) - (span_minutes + 2) * MOCHI_US_PER_MINUTE;
    for (size_t i = 0; i < n; i++) {
        struct mochi_test_event *e = &events[i];
        if (i > 0 && (double)next_rand(&st) / 0xffffff < dup_share) {
            /* a re-send, or the same view again later in the same minute */
            *e = events[next_rand(&st) % i];
            int64_t minute = mochi_minute_of_us(e->at_us);
            e->at_us = minute + next_rand(&st) % MOCHI_US_PER_MINUTE;
            continue;
        }
        snprintf(e->site_id, sizeof(e->site_id), "%s", site_ids[next_rand(&st) % nsites]);
        /* skew: low numbers are more popular */
        unsigned int r = next_rand(&st);
        e->visitor = (int)((r % visitors) * (r % 3 == 0 ? 1 : (next_rand(&st) % 4 + 1)) %
                           (unsigned)visitors);
        int p = (int)((next_rand(&st) % paths) * (next_rand(&st) % paths) / (unsigned)paths);
        if (p % 7 == 3)
            snprintf(e->path, sizeof(e->path), "/caf\xc3\xa9/%d", p);
        else if (p == 0)
            snprintf(e->path, sizeof(e->path), "/");
        else
            snprintf(e->path, sizeof(e->path), "/page/%d", p);
        if (next_rand(&st) % 4 == 0)
            snprintf(e->referrer, sizeof(e->referrer), "https://ref%u.example", next_rand(&st) % 5);
        int day = days > 1 ? (int)(next_rand(&st) % (unsigned)days) : 0;
        e->at_us = base - (int64_t)day * MOCHI_US_PER_DAY +
                   (int64_t)(next_rand(&st) % (unsigned)span_minutes) * MOCHI_US_PER_MINUTE +
                   next_rand(&st) % MOCHI_US_PER_MINUTE;
    }
    return events;
}

static void produce(const char *bootstrap, const char *topic, struct mochi_codec *codec,
                    const struct mochi_test_event *events, size_t n, bool at_event_time)
{
    struct mochi_test_producer *p = mochi_test_producer_new(bootstrap);
    for (size_t i = 0; i < n; i++) {
        const struct mochi_test_event *e = &events[i];
        struct mochi_pageview ev;
        memset(&ev, 0, sizeof(ev));
        snprintf(ev.site_id, sizeof(ev.site_id), "%s", e->site_id);
        snprintf(ev.path, sizeof(ev.path), "%s", e->path);
        ev.has_referrer = e->referrer[0] != '\0';
        snprintf(ev.referrer, sizeof(ev.referrer), "%s", e->referrer);
        snprintf(ev.visitor_hash, sizeof(ev.visitor_hash), "%032x", e->visitor);
        ev.occurred_at_us = e->at_us;
        mochi_pageview_fill_v1(&ev); /* UTC day; an entry when it has a referrer */
        unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
        size_t len = 0;
        if (mochi_codec_encode(codec, &ev, buf, sizeof(buf), &len) != 0)
            fail_msg("cannot encode test event %zu", i);
        mochi_test_produce_at(p, topic, e->site_id, buf, len, at_event_time ? e->at_us / 1000 : 0);
    }
    mochi_test_producer_close(p, 60000);
}

void mochi_test_events_produce(const char *bootstrap, const char *topic, struct mochi_codec *codec,
                               const struct mochi_test_event *events, size_t n)
{
    produce(bootstrap, topic, codec, events, n, false);
}

void mochi_test_events_produce_at_event_time(const char *bootstrap, const char *topic,
                                             struct mochi_codec *codec,
                                             const struct mochi_test_event *events, size_t n)
{
    produce(bootstrap, topic, codec, events, n, true);
}

static int compare_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts lines, drops repeats, joins them; frees the lines. */
static char *join_unique(char **lines, size_t n, size_t *count)
{
    qsort(lines, n, sizeof(char *), compare_lines);
    size_t total = 1, k = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(lines[i]) + 1;
    char *out = malloc(total);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(lines[i], lines[i - 1]) != 0) {
            used += (size_t)sprintf(out + used, "%s\n", lines[i]);
            k++;
        }
    }
    out[used] = '\0';
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    if (count)
        *count = k;
    return out;
}

static char *view_line(const struct mochi_test_event *e)
{
    char *line = malloc(256);
    snprintf(line, 256, "%s|%032x|%s|%lld", e->site_id, e->visitor, e->path,
             (long long)(e->at_us / MOCHI_US_PER_MINUTE * 60));
    return line;
}

char *mochi_test_expected_views(const struct mochi_test_event *events, size_t n, size_t *count)
{
    char **lines = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        lines[i] = view_line(&events[i]);
    return join_unique(lines, n, count);
}

static char *query_lines(PGconn *conn, const char *sql, size_t *count)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    size_t n = (size_t)PQntuples(res), total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(PQgetvalue(res, (int)i, 0)) + 1;
    char *out = malloc(total);
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += (size_t)sprintf(out + used, "%s\n", PQgetvalue(res, (int)i, 0));
    out[used] = '\0';
    PQclear(res);
    if (count)
        *count = n;
    return out;
}

char *mochi_test_stored_views(PGconn *conn, size_t *count)
{
    return query_lines(conn,
                       "SELECT l FROM (SELECT site_id || '|' || visitor_hash || '|' || path || '|'"
                       " || extract(epoch FROM date_trunc('minute', occurred_at))::bigint AS l"
                       " FROM page_view_events) v ORDER BY l COLLATE \"C\"",
                       count);
}

static void day_text(int64_t us, char out[11])
{
    mochi_day_format(mochi_day_of_us(us), out);
}

char *mochi_test_expected_site_days(const struct mochi_test_event *events, size_t n)
{
    /* distinct views, then count per (site, day); visitors per (site, day) */
    size_t nviews = 0;
    char *views = mochi_test_expected_views(events, n, &nviews);
    char **keys = calloc(n + 1, sizeof(char *));
    size_t nkeys = 0;
    for (size_t i = 0; i < n; i++) {
        char day[11];
        day_text(events[i].at_us, day);
        keys[nkeys] = malloc(128);
        snprintf(keys[nkeys++], 128, "%s|%s", events[i].site_id, day);
    }
    size_t ndays = 0;
    char *days = join_unique(keys, nkeys, &ndays);
    char **lines = calloc(ndays + 1, sizeof(char *));
    size_t k = 0;
    for (char *d = strtok(days, "\n"); d; d = strtok(NULL, "\n")) {
        long long pv = 0;
        /* page views: distinct view lines of this site whose minute is on this day */
        char site[37];
        snprintf(site, sizeof(site), "%.36s", d);
        const char *day = d + 37;
        for (const char *l = views; *l;) {
            const char *end = strchr(l, '\n');
            char buf[256];
            snprintf(buf, sizeof(buf), "%.*s", (int)(end - l), l);
            char *last = strrchr(buf, '|');
            char vday[11];
            day_text((int64_t)atoll(last + 1) * 1000000, vday);
            if (strncmp(buf, site, 36) == 0 && strcmp(vday, day) == 0)
                pv++;
            l = end + 1;
        }
        char **vis = calloc(n + 1, sizeof(char *));
        size_t nv = 0;
        for (size_t i = 0; i < n; i++) {
            char eday[11];
            day_text(events[i].at_us, eday);
            if (strcmp(events[i].site_id, site) == 0 && strcmp(eday, day) == 0) {
                vis[nv] = malloc(16);
                snprintf(vis[nv++], 16, "%d", events[i].visitor);
            }
        }
        size_t uv = 0;
        free(join_unique(vis, nv, &uv));
        lines[k] = malloc(128);
        snprintf(lines[k++], 128, "%s|%s|%lld|%zu", site, day, pv, uv);
    }
    free(days);
    free(views);
    return join_unique(lines, k, NULL);
}

char *mochi_test_expected_page_days(const struct mochi_test_event *events, size_t n)
{
    size_t nviews = 0;
    char *views = mochi_test_expected_views(events, n, &nviews);
    /* each distinct view -> "site|day|path"; then count repeats */
    char **keys = calloc(nviews + 1, sizeof(char *));
    size_t k = 0;
    for (char *l = strtok(views, "\n"); l; l = strtok(NULL, "\n")) {
        char *p1 = strchr(l, '|');
        char *p2 = strchr(p1 + 1, '|');
        char *p3 = strrchr(l, '|');
        char day[11];
        day_text((int64_t)atoll(p3 + 1) * 1000000, day);
        keys[k] = malloc(256);
        snprintf(keys[k++], 256, "%.36s|%s|%.*s", l, day, (int)(p3 - p2 - 1), p2 + 1);
    }
    free(views);
    qsort(keys, k, sizeof(char *), compare_lines);
    char **lines = calloc(k + 1, sizeof(char *));
    size_t m = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j < k && strcmp(keys[j], keys[i]) == 0)
            j++;
        lines[m] = malloc(300);
        snprintf(lines[m++], 300, "%s|%zu", keys[i], j - i);
        i = j;
    }
    for (size_t i = 0; i < k; i++)
        free(keys[i]);
    free(keys);
    return join_unique(lines, m, NULL);
}

char *mochi_test_stored_site_days(PGconn *conn)
{
    return query_lines(conn,
                       "SELECT l FROM (SELECT site_id || '|' || date || '|' || page_views || '|'"
                       " || unique_visitors AS l FROM daily_site_metrics) v"
                       " ORDER BY l COLLATE \"C\"",
                       NULL);
}

char *mochi_test_stored_page_days(PGconn *conn)
{
    return query_lines(conn,
                       "SELECT l FROM (SELECT site_id || '|' || date || '|' || path || '|'"
                       " || page_views AS l FROM daily_page_metrics) v ORDER BY l COLLATE \"C\"",
                       NULL);
}

void mochi_test_encode_v1(const struct mochi_pageview *ev, unsigned char *buf, size_t size,
                          size_t *len)
{
    /* Written by Avro C with schemas/pageview.v1.avsc as a v1 collector
     * wrote it: the codec under test only writes the current version. */
    char *text = mochi_test_read_file(mochi_test_src("schemas/pageview.v1.avsc"));
    avro_schema_t schema = NULL;
    if (text == NULL || avro_schema_from_json_length(text, strlen(text), &schema) != 0)
        fail_msg("schemas/pageview.v1.avsc: %s", avro_strerror());
    free(text);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec, field, branch;
    assert_int_equal(avro_generic_value_new(iface, &rec), 0);
    assert_int_equal(avro_value_get_by_name(&rec, "site_id", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, ev->site_id), 0);
    assert_int_equal(avro_value_get_by_name(&rec, "path", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, ev->path), 0);
    assert_int_equal(avro_value_get_by_name(&rec, "referrer", &field, NULL), 0);
    assert_int_equal(avro_value_set_branch(&field, ev->has_referrer ? 1 : 0, &branch), 0);
    if (ev->has_referrer)
        assert_int_equal(avro_value_set_string(&branch, ev->referrer), 0);
    else
        assert_int_equal(avro_value_set_null(&branch), 0);
    assert_int_equal(avro_value_get_by_name(&rec, "visitor_hash", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, ev->visitor_hash), 0);
    assert_int_equal(avro_value_get_by_name(&rec, "occurred_at", &field, NULL), 0);
    assert_int_equal(avro_value_set_long(&field, ev->occurred_at_us), 0);
    /* Confluent's wire format: a zero byte, then schema id 1, big-endian. */
    assert_true(size > 5);
    memcpy(buf, "\0\0\0\0\1", 5);
    avro_writer_t w = avro_writer_memory((char *)buf + 5, (int64_t)(size - 5));
    if (avro_value_write(w, &rec) != 0)
        fail_msg("cannot write a v1 event: %s", avro_strerror());
    *len = 5 + (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
}
