/* mochi-bench-preload: fills a topic with synthetic page-view events for
 * scripts/bench-pipeline.sh, as fast as an idempotent producer with the
 * collector's settings allows, and writes the distinct page views it
 * produced as COPY text, for the COPY baseline the consumer is compared
 * with.
 *
 * The stream: several sites (Zipf(0.5) over the sites given), per site
 * visitors with a power-law skew and pages with Zipf(1) popularity (a few
 * UTF-8 paths among them), a share of referrers, occurred_at rising through
 * the last --span-hours (like a topic filled by collectors in real time),
 * and two kinds of repeats of a recent event: exact duplicates (a producer
 * retry or a redelivery: same occurred_at) and same-minute repeats (a
 * tracker firing twice: same visitor and path, another second of the same
 * minute). Which event is the first of its page view (site, dedupe key,
 * minute) is tracked exactly, so the COPY files hold exactly the rows the
 * consumer must store. Built with the rest (CMake target
 * mochi-bench-preload); the benchmark script runs it from the build dir.
 *
 * Exit status: 0; 1 when producing failed or the broker dropped messages
 * (low watermark above 0: the dev broker keeps only the last 5 MiB per
 * partition); 2 on bad settings. */
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/copy.h"
#include "common/db.h"
#include "common/event.h"
#include "common/hash.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/uuid.h"

#define MAX_SITES 1024       /* 10 bits of the distinct key */
#define MAX_VISITORS 1048576 /* 20 bits */
#define MAX_PAGES 16384      /* 14 bits */
#define RECENT 4096          /* repeats copy one of the last RECENT fresh events */

static const struct mochi_setting setting_count = {.name = "count",
                                                   .type = MOCHI_SETTING_INT,
                                                   .default_value = "1000000",
                                                   .min = 1,
                                                   .max = 100000000,
                                                   .help = "events to produce (repeats included)"};
static const struct mochi_setting setting_sites = {
    .name = "sites",
    .type = MOCHI_SETTING_STRING,
    .required = true,
    .help = "file with one site id (UUID) per line, first tab-separated column"};
static const struct mochi_setting setting_visitors = {.name = "visitors",
                                                      .type = MOCHI_SETTING_INT,
                                                      .default_value = "20000",
                                                      .min = 1,
                                                      .max = MAX_VISITORS,
                                                      .help = "distinct visitors per site"};
static const struct mochi_setting setting_pages = {
    .name = "pages",
    .type = MOCHI_SETTING_INT,
    .default_value = "300",
    .min = 1,
    .max = MAX_PAGES,
    .help = "distinct paths per site (Zipf(1) popularity)"};
static const struct mochi_setting setting_span = {
    .name = "span-hours",
    .type = MOCHI_SETTING_INT,
    .default_value = "3",
    .min = 1,
    .max = 24 * 6,
    .help = "occurred_at spans this many hours, ending a minute ago"};
static const struct mochi_setting setting_dup = {
    .name = "duplicate-pct",
    .type = MOCHI_SETTING_INT,
    .default_value = "5",
    .min = 0,
    .max = 50,
    .help = "percent of events that are exact duplicates of a recent event"};
static const struct mochi_setting setting_repeat = {
    .name = "repeat-pct",
    .type = MOCHI_SETTING_INT,
    .default_value = "5",
    .min = 0,
    .max = 50,
    .help = "percent of events that repeat a recent view in the same minute"};
static const struct mochi_setting setting_referrer = {
    .name = "referrer-pct",
    .type = MOCHI_SETTING_INT,
    .default_value = "30",
    .min = 0,
    .max = 100,
    .help = "percent of fresh events with a referrer"};
static const struct mochi_setting setting_seed = {.name = "seed",
                                                  .type = MOCHI_SETTING_INT,
                                                  .default_value = "1",
                                                  .min = 0,
                                                  .max = 9223372036854775807LL,
                                                  .help = "RNG seed"};
static const struct mochi_setting setting_copy_out = {
    .name = "copy-out",
    .type = MOCHI_SETTING_STRING,
    .help = "write the distinct rows here as COPY text: site_id, path, referrer, "
            "visitor_hash, occurred_at"};
static const struct mochi_setting setting_dedupe_out = {
    .name = "dedupe-out",
    .type = MOCHI_SETTING_STRING,
    .help = "write their dedupe rows here as COPY text: site_id, dedupe_key, occurred_minute"};

static const struct mochi_setting *const settings[] = {&mochi_setting_brokers,
                                                       &mochi_setting_topic,
                                                       &setting_count,
                                                       &setting_sites,
                                                       &setting_visitors,
                                                       &setting_pages,
                                                       &setting_span,
                                                       &setting_dup,
                                                       &setting_repeat,
                                                       &setting_referrer,
                                                       &setting_seed,
                                                       &setting_copy_out,
                                                       &setting_dedupe_out,
                                                       &mochi_setting_log_level,
                                                       NULL};

static const struct mochi_program_spec spec = {
    .name = "mochi-bench-preload",
    .usage = "--sites FILE [OPTIONS]",
    .summary = "Produces --count synthetic page-view events to the topic (key = site id, "
               "idempotent producer, lz4 and linger.ms=5 as the collector) and writes the "
               "distinct page views as COPY text. Prints one line of key=value results.",
    .settings = settings,
    .kafka_properties = true,
};

/* A generated event before it is encoded: indexes, so that the distinct
 * key packs into 64 bits exactly. */
struct gen_event {
    uint16_t site;
    uint32_t visitor;
    uint16_t page;
    int8_t referrer; /* -1: none */
    int64_t at_us;
};

struct distinct_set {
    uint64_t *slots; /* key + 1; 0 is empty */
    size_t mask;
};

struct delivery {
    long long failed;
    char first_error[256];
};

static uint64_t rng_state;

static uint64_t next_u64(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double next_unit(void)
{
    return (double)(next_u64() >> 11) / 9007199254740992.0;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* Cumulative weights (r + 1)^-s for r in [0, n), normalised to 1. Returns
 * a malloc'd array the caller frees, or NULL. */
static double *zipf_table(size_t n, double s)
{
    double *cum = malloc(n * sizeof(*cum));
    if (cum == NULL)
        return NULL;
    double total = 0;
    for (size_t r = 0; r < n; r++) {
        total += pow((double)(r + 1), -s);
        cum[r] = total;
    }
    for (size_t r = 0; r < n; r++)
        cum[r] /= total;
    return cum;
}

static size_t zipf_pick(const double *cum, size_t n)
{
    double u = next_unit();
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cum[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void page_path(unsigned page, char *out, size_t size)
{
    static const char *const top[] = {"/",
                                      "/pricing",
                                      "/blog",
                                      "/caf\xc3\xa9", /* café */
                                      "/docs",
                                      "/about",
                                      "/\xe3\x83\x96\xe3\x83\xad\xe3\x82\xb0"}; /* ブログ */
    if (page < sizeof(top) / sizeof(top[0]))
        snprintf(out, size, "%s", top[page]);
    else if (page % 3 == 0)
        snprintf(out, size, "/blog/post-%u", page);
    else if (page % 3 == 1)
        snprintf(out, size, "/docs/guide/section-%u", page);
    else
        snprintf(out, size, "/products/item-%u", page);
}

static const char *const referrers[] = {
    "https://www.google.com", "https://news.ycombinator.com",
    "https://duckduckgo.com", "https://www.bing.com",
    "https://t.co",           "https://www.reddit.com",
    "https://github.com",     "https://www.linkedin.com",
};

static void visitor_hash(unsigned site, uint32_t visitor, char out[MOCHI_HASH_HEX_LEN + 1])
{
    uint64_t a = mix(((uint64_t)site << 32 | visitor) + 0x6d6f636869ULL);
    uint64_t b = mix(a ^ 0x5bd1e995ULL);
    snprintf(out, MOCHI_HASH_HEX_LEN + 1, "%016llx%016llx", (unsigned long long)a,
             (unsigned long long)b);
}

/* Inserts key; returns 1 when it was new, 0 when present. */
static int distinct_add(struct distinct_set *set, uint64_t key)
{
    size_t i = (size_t)mix(key) & set->mask;
    for (;;) {
        if (set->slots[i] == 0) {
            set->slots[i] = key + 1;
            return 1;
        }
        if (set->slots[i] == key + 1)
            return 0;
        i = (i + 1) & set->mask;
    }
}

static int read_sites(const char *path, char (*ids)[MOCHI_UUID_TEXT_LEN + 1], size_t *n)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "mochi-bench-preload: --sites: cannot open %s\n", path);
        return MOCHI_ERR_IO;
    }
    char line[512];
    *n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\t\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        if (!mochi_uuid_is_canonical(line) || *n == MAX_SITES) {
            fprintf(stderr,
                    "mochi-bench-preload: --sites: '%.40s' is not a lowercase UUID or "
                    "more than %d sites\n",
                    line, MAX_SITES);
            fclose(f);
            return MOCHI_ERR_INVALID;
        }
        memcpy(ids[(*n)++], line, MOCHI_UUID_TEXT_LEN + 1);
    }
    fclose(f);
    if (*n == 0) {
        fprintf(stderr, "mochi-bench-preload: --sites: no site id in %s\n", path);
        return MOCHI_ERR_INVALID;
    }
    return 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    struct delivery *d = opaque;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (d->failed++ == 0)
            snprintf(d->first_error, sizeof(d->first_error), "%s", rd_kafka_err2str(msg->err));
    }
}

static double now_s(void)
{
    return (double)mochi_clock_mono_us() / 1e6;
}

static rd_kafka_t *make_producer(const struct mochi_config *config, struct delivery *d)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char why[256];
    /* The collector's producer settings (collector/producer.c), and a queue
     * large enough that producing never waits on it for long. -X wins. */
    static const char *const props[][2] = {
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"compression.type", "lz4"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
    };
    if (rd_kafka_conf_set(conf, "bootstrap.servers",
                          mochi_config_str(config, &mochi_setting_brokers), why,
                          sizeof(why)) != RD_KAFKA_CONF_OK)
        goto fail;
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], why, sizeof(why)) != RD_KAFKA_CONF_OK)
            goto fail;
    if (mochi_kafka_apply_properties(config, conf, why, sizeof(why)) != 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (rk != NULL)
        return rk; /* conf belongs to rk now */
fail:
    fprintf(stderr, "mochi-bench-preload: producer: %s\n", why);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Low and high watermarks of every partition; returns the number of
 * partitions whose low watermark is above 0 (messages dropped), or -1. */
static int check_watermarks(rd_kafka_t *rk, const char *topic, long long *total, int *npartitions,
                            long long *max_partition)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1) {
        fprintf(stderr, "mochi-bench-preload: metadata: %s\n", rd_kafka_err2str(e));
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    int dropped = 0;
    *total = 0;
    *max_partition = 0;
    *npartitions = md->topics[0].partition_cnt;
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int64_t lo = 0, hi = 0;
        int32_t p = md->topics[0].partitions[i].id;
        e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "mochi-bench-preload: watermarks of partition %d: %s\n", (int)p,
                    rd_kafka_err2str(e));
            rd_kafka_metadata_destroy(md);
            return -1;
        }
        if (lo > 0) {
            fprintf(stderr,
                    "mochi-bench-preload: partition %d lost its first %lld messages (low "
                    "watermark %lld): the dev broker keeps only ~5 MiB per partition; use "
                    "more partitions or fewer events\n",
                    (int)p, (long long)lo, (long long)lo);
            dropped++;
        }
        *total += hi - lo;
        if (hi > *max_partition)
            *max_partition = hi;
    }
    rd_kafka_metadata_destroy(md);
    return dropped;
}

int main(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&spec, argc, argv);
    int code = 1;
    char(*site_ids)[MOCHI_UUID_TEXT_LEN + 1] = NULL;
    double *site_cum = NULL, *page_cum = NULL;
    struct distinct_set set = {NULL, 0};
    struct gen_event *recent = NULL;
    struct mochi_schema_set *schemas = NULL;
    struct mochi_codec *codec = NULL;
    rd_kafka_t *rk = NULL;
    FILE *copy_out = NULL, *dedupe_out = NULL;
    struct mochi_copy_buf rows = {0}, keys = {0};
    struct delivery delivery = {0, ""};
    char err[512] = "";
    size_t nsites = 0;

    const long long count = mochi_config_int(config, &setting_count);
    const unsigned visitors = (unsigned)mochi_config_int(config, &setting_visitors);
    const unsigned pages = (unsigned)mochi_config_int(config, &setting_pages);
    const int64_t span_us = mochi_config_int(config, &setting_span) * 3600 * INT64_C(1000000);
    const double dup_share = mochi_config_int(config, &setting_dup) / 100.0;
    const double repeat_share = mochi_config_int(config, &setting_repeat) / 100.0;
    const double referrer_share = mochi_config_int(config, &setting_referrer) / 100.0;
    const char *topic = mochi_config_str(config, &mochi_setting_topic);
    rng_state = (uint64_t)mochi_config_int(config, &setting_seed);

    site_ids = calloc(MAX_SITES, sizeof(*site_ids));
    if (site_ids == NULL || mochi_hash_init() != 0)
        goto out;
    if (read_sites(mochi_config_str(config, &setting_sites), site_ids, &nsites) != 0) {
        code = 2;
        goto out;
    }
    site_cum = zipf_table(nsites, 0.5);
    page_cum = zipf_table(pages, 1.0);
    size_t cap = 1;
    while (cap < (size_t)count * 2)
        cap <<= 1;
    set.slots = calloc(cap, sizeof(*set.slots));
    set.mask = cap - 1;
    recent = calloc(RECENT, sizeof(*recent));
    if (!site_cum || !page_cum || !set.slots || !recent)
        goto out;
    if (mochi_schema_set_load(mochi_schema_dir_default(), &schemas, err, sizeof(err)) != 0 ||
        mochi_codec_new(schemas, &codec) != 0) {
        fprintf(stderr, "mochi-bench-preload: %s\n", err);
        goto out;
    }
    const char *copy_path = mochi_config_str(config, &setting_copy_out);
    const char *dedupe_path = mochi_config_str(config, &setting_dedupe_out);
    if (copy_path && (copy_out = fopen(copy_path, "w")) == NULL) {
        fprintf(stderr, "mochi-bench-preload: --copy-out: cannot write %s\n", copy_path);
        goto out;
    }
    if (dedupe_path && (dedupe_out = fopen(dedupe_path, "w")) == NULL) {
        fprintf(stderr, "mochi-bench-preload: --dedupe-out: cannot write %s\n", dedupe_path);
        goto out;
    }
    rk = make_producer(config, &delivery);
    if (rk == NULL) {
        code = 2;
        goto out;
    }

    /* occurred_at rises from start to end; each minute's events keep
     * their minute when repeated. */
    const int64_t end_us = mochi_minute_of_us(mochi_clock_now_us()) - MOCHI_US_PER_MINUTE;
    const int64_t start_us = end_us - span_us;
    long long distinct = 0, dups = 0, repeats = 0, coincidences = 0, bytes = 0;
    size_t nrecent = 0;
    int64_t first_us = INT64_MAX, last_us = 0;
    const double t0 = now_s();
    for (long long i = 0; i < count; i++) {
        struct gen_event ge;
        double u = next_unit();
        if (nrecent > 0 && u < dup_share) {
            ge = recent[next_u64() % (nrecent < RECENT ? nrecent : RECENT)];
            dups++;
        } else if (nrecent > 0 && u < dup_share + repeat_share) {
            ge = recent[next_u64() % (nrecent < RECENT ? nrecent : RECENT)];
            int64_t minute = mochi_minute_of_us(ge.at_us);
            ge.at_us = minute + (int64_t)(next_u64() % (uint64_t)MOCHI_US_PER_MINUTE);
            repeats++;
        } else {
            ge.site = (uint16_t)zipf_pick(site_cum, nsites);
            /* power-law visitors: a few visit a lot */
            double v = next_unit();
            ge.visitor = (uint32_t)(v * v * visitors);
            ge.page = (uint16_t)zipf_pick(page_cum, pages);
            ge.referrer = next_unit() < referrer_share
                              ? (int8_t)(next_u64() % (sizeof(referrers) / sizeof(referrers[0])))
                              : -1;
            ge.at_us = start_us + (int64_t)((double)span_us * (double)i / (double)count) +
                       (int64_t)(next_u64() % 2000000);
            if (ge.at_us >= end_us)
                ge.at_us = end_us - 1;
            recent[nrecent++ % RECENT] = ge;
        }
        struct mochi_pageview ev;
        memcpy(ev.site_id, site_ids[ge.site], sizeof(ev.site_id));
        page_path(ge.page, ev.path, sizeof(ev.path));
        ev.has_referrer = ge.referrer >= 0;
        if (ev.has_referrer)
            snprintf(ev.referrer, sizeof(ev.referrer), "%s", referrers[ge.referrer]);
        else
            ev.referrer[0] = '\0';
        visitor_hash(ge.site, ge.visitor, ev.visitor_hash);
        ev.occurred_at_us = ge.at_us;
        /* v2's fields as a v1 event reads: the UTC day, an entry when it has
         * a referrer (all of these are on other hosts), its host as source. */
        mochi_pageview_fill_v1(&ev);

        uint64_t minute = (uint64_t)((ge.at_us - start_us) / MOCHI_US_PER_MINUTE + 1);
        uint64_t key = (uint64_t)ge.site << 54 | (uint64_t)ge.visitor << 34 |
                       (uint64_t)ge.page << 20 | (minute & 0xfffff);
        if (distinct_add(&set, key)) {
            distinct++;
            if (ge.at_us < first_us)
                first_us = ge.at_us;
            if (ge.at_us > last_us)
                last_us = ge.at_us;
            if (copy_out) {
                mochi_copy_text(&rows, ev.site_id, 0);
                mochi_copy_text(&rows, ev.path, 0);
                mochi_copy_text(&rows, ev.has_referrer ? ev.referrer : NULL, 0);
                mochi_copy_text(&rows, ev.visitor_hash, 0);
                mochi_copy_time(&rows, ev.occurred_at_us, 1);
            }
            if (dedupe_out) {
                char dk[MOCHI_HASH_HEX_LEN + 1];
                mochi_dedupe_key(ev.visitor_hash, ev.path, strlen(ev.path), dk);
                mochi_copy_text(&keys, ev.site_id, 0);
                mochi_copy_text(&keys, dk, 0);
                mochi_copy_time(&keys, mochi_minute_of_us(ev.occurred_at_us), 1);
            }
        } else if (u >= dup_share + repeat_share) {
            coincidences++; /* a fresh event that happened to repeat a page view */
        }

        unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
        size_t len = 0;
        if (mochi_codec_encode(codec, &ev, buf, sizeof(buf), &len) != 0) {
            fprintf(stderr, "mochi-bench-preload: cannot encode event %lld\n", i);
            goto out;
        }
        bytes += (long long)len;
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(ev.site_id, MOCHI_UUID_TEXT_LEN), RD_KAFKA_V_VALUE(buf, len),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "mochi-bench-preload: produce: %s\n", rd_kafka_err2str(e));
                goto out;
            }
            rd_kafka_poll(rk, 10);
        }
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
        if (rows.len > (1 << 20)) {
            if (rows.failed || fwrite(rows.data, 1, rows.len, copy_out) != rows.len)
                goto write_failed;
            mochi_copy_reset(&rows);
        }
        if (keys.len > (1 << 20)) {
            if (keys.failed || fwrite(keys.data, 1, keys.len, dedupe_out) != keys.len)
                goto write_failed;
            mochi_copy_reset(&keys);
        }
    }
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "mochi-bench-preload: %d messages not acknowledged in 120 s\n",
                rd_kafka_outq_len(rk));
        goto out;
    }
    const double produce_s = now_s() - t0;
    if (delivery.failed > 0) {
        fprintf(stderr, "mochi-bench-preload: %lld messages not delivered (%s)\n", delivery.failed,
                delivery.first_error);
        goto out;
    }
    if ((copy_out && rows.len > 0 &&
         (rows.failed || fwrite(rows.data, 1, rows.len, copy_out) != rows.len)) ||
        (dedupe_out && keys.len > 0 &&
         (keys.failed || fwrite(keys.data, 1, keys.len, dedupe_out) != keys.len)))
        goto write_failed;
    if ((copy_out && fclose(copy_out) != 0) || (dedupe_out && fclose(dedupe_out) != 0)) {
        copy_out = dedupe_out = NULL;
        goto write_failed;
    }
    copy_out = dedupe_out = NULL;

    long long in_topic = 0, max_partition = 0;
    int npartitions = 0;
    int dropped = check_watermarks(rk, topic, &in_topic, &npartitions, &max_partition);
    if (dropped != 0)
        goto out;
    char first_day[11], last_day[11];
    mochi_day_format(mochi_day_of_us(first_us), first_day);
    mochi_day_format(mochi_day_of_us(last_us), last_day);
    printf("produced=%lld distinct=%lld exact_duplicates=%lld same_minute_repeats=%lld "
           "coincidences=%lld avro_bytes=%lld seconds=%.2f events_per_s=%.0f in_topic=%lld "
           "partitions=%d max_partition=%lld first_day=%s last_day=%s sites=%zu\n",
           count, distinct, dups, repeats, coincidences, bytes, produce_s,
           (double)count / produce_s, in_topic, npartitions, max_partition, first_day, last_day,
           nsites);
    code = in_topic == count ? 0 : 1;
    if (code != 0)
        fprintf(stderr, "mochi-bench-preload: the topic holds %lld messages, not %lld\n", in_topic,
                count);
    goto out;

write_failed:
    fprintf(stderr, "mochi-bench-preload: cannot write the COPY files\n");
out:
    if (copy_out)
        fclose(copy_out);
    if (dedupe_out)
        fclose(dedupe_out);
    if (rk)
        rd_kafka_destroy(rk);
    mochi_copy_free(&rows);
    mochi_copy_free(&keys);
    mochi_codec_destroy(codec);
    mochi_schema_set_destroy(schemas);
    free(recent);
    free(set.slots);
    free(page_cum);
    free(site_cum);
    free(site_ids);
    mochi_config_destroy(config);
    return code;
}
