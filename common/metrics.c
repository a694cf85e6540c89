#include "common/metrics.h"
#include "common/error.h"
#include "common/log.h"
#include "common/utf8.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum family_type { TYPE_COUNTER, TYPE_GAUGE, TYPE_HISTOGRAM };

struct mochi_metric {
    struct mochi_metric_family *family;
    struct mochi_metric *next;              /* creation order */
    char *values[MOCHI_METRICS_MAX_LABELS]; /* owned, valid UTF-8 */
    /* Counter: whole increments in n, fractional ones as double bits in
     * bits, so integer counters stay exact past 2^53 and inc is one
     * fetch_add. Gauge: the value as double bits. Histogram: the sum. */
    _Atomic uint64_t n;
    _Atomic uint64_t bits;
    /* Histogram: per-bucket (not cumulative) counts, nbounds + 1 with +Inf
     * last. The count is their total, so _count always equals the +Inf
     * bucket even while observations race with a scrape. */
    _Atomic uint64_t *buckets;
};

struct mochi_metric_family {
    struct mochi_metrics *reg;
    struct mochi_metric_family *next; /* registration order */
    enum family_type type;
    char *name;
    char *help;
    size_t nlabels;
    char *labels[MOCHI_METRICS_MAX_LABELS];
    double *bounds;
    size_t nbounds;
    struct mochi_metric *first;
    struct mochi_metric *last;
};

struct scrape_cb {
    mochi_metrics_scrape_fn fn;
    void *arg;
    struct scrape_cb *next;
};

struct mochi_metrics {
    /* Guards the family list and every family's child list. Held while
     * rendering, never while a scrape callback runs. */
    pthread_mutex_t lock;
    /* Serializes renders, so scrape callbacks never run concurrently, and
     * guards the callback list. Taken before lock, never after. */
    pthread_mutex_t scrape_lock;
    struct mochi_metric_family *first;
    struct mochi_metric_family *last;
    struct scrape_cb *cb_first;
    struct scrape_cb *cb_last;
};

struct buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

static const char *const type_names[] = {"counter", "gauge", "histogram"};

static bool valid_metric_name(const char *s);
static bool valid_label_name(const char *s);
static const char *family_problem(struct mochi_metrics *reg, enum family_type type,
                                  const char *name, size_t nlabels, const char *const *label_names,
                                  const double *bounds, size_t nbounds);
static struct mochi_metric_family *family_new(struct mochi_metrics *reg, enum family_type type,
                                              const char *name, const char *help, size_t nlabels,
                                              const char *const *label_names, const double *bounds,
                                              size_t nbounds);
static void family_free(struct mochi_metric_family *family);
static struct mochi_metric *child_new(struct mochi_metric_family *family,
                                      const char *const *values);
static void child_free(struct mochi_metric *metric);
static bool sanitized_equal(const char *clean, const char *raw);
static uint64_t double_bits(double d);
static double bits_double(uint64_t u);
static void add_bits(_Atomic uint64_t *bits, double amount);
static void format_double(char *out, size_t size, double v);
static bool buf_reserve(struct buf *b, size_t n);
static void buf_append(struct buf *b, const char *s, size_t n);
static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_escaped(struct buf *b, const char *s, bool quote);
static void render_series(struct buf *b, const struct mochi_metric *metric, const char *suffix,
                          const char *le, const char *value);
static void render_family(struct buf *b, const struct mochi_metric_family *family);

struct mochi_metrics *mochi_metrics_new(void)
{
    struct mochi_metrics *reg = calloc(1, sizeof(*reg));
    if (reg == NULL)
        return NULL;
    pthread_mutex_init(&reg->lock, NULL);
    pthread_mutex_init(&reg->scrape_lock, NULL);
    return reg;
}

void mochi_metrics_destroy(struct mochi_metrics *reg)
{
    if (reg == NULL)
        return;
    struct mochi_metric_family *family = reg->first;
    while (family) {
        struct mochi_metric_family *next = family->next;
        family_free(family);
        family = next;
    }
    struct scrape_cb *cb = reg->cb_first;
    while (cb) {
        struct scrape_cb *next = cb->next;
        free(cb);
        cb = next;
    }
    pthread_mutex_destroy(&reg->lock);
    pthread_mutex_destroy(&reg->scrape_lock);
    free(reg);
}

static bool valid_metric_name(const char *s)
{
    if (s == NULL ||
        !(*s == '_' || *s == ':' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    return s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:")] == 0;
}

static bool valid_label_name(const char *s)
{
    if (s == NULL || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    if (strncmp(s, "__", 2) == 0) /* reserved for Prometheus' own labels */
        return false;
    return s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] == 0;
}

/* Names are compile-time constants, so a bad one is a programmer error; it
 * is refused with a log line rather than an assert so that release builds
 * (NDEBUG) catch it too and tests can check it. */
static const char *family_problem(struct mochi_metrics *reg, enum family_type type,
                                  const char *name, size_t nlabels, const char *const *label_names,
                                  const double *bounds, size_t nbounds)
{
    if (!valid_metric_name(name))
        return "invalid metric name";
    if (nlabels > MOCHI_METRICS_MAX_LABELS)
        return "too many labels";
    for (size_t i = 0; i < nlabels; i++) {
        if (!valid_label_name(label_names[i]))
            return "invalid label name";
        if (type == TYPE_HISTOGRAM && strcmp(label_names[i], "le") == 0)
            return "label name le is reserved for histogram buckets";
        for (size_t j = 0; j < i; j++)
            if (strcmp(label_names[i], label_names[j]) == 0)
                return "duplicate label name";
    }
    if (type == TYPE_HISTOGRAM) {
        if (bounds == NULL || nbounds == 0)
            return "histogram needs bucket bounds";
        for (size_t i = 0; i < nbounds; i++)
            if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                return "bucket bounds must be finite and strictly increasing";
    }
    for (const struct mochi_metric_family *f = reg->first; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return "metric already registered";
    return NULL;
}

static struct mochi_metric_family *family_new(struct mochi_metrics *reg, enum family_type type,
                                              const char *name, const char *help, size_t nlabels,
                                              const char *const *label_names, const double *bounds,
                                              size_t nbounds)
{
    struct mochi_metric_family *family = NULL;
    pthread_mutex_lock(&reg->lock);
    const char *problem = family_problem(reg, type, name, nlabels, label_names, bounds, nbounds);
    if (problem) {
        char qname[128];
        mochi_log(MOCHI_LOG_ERROR, "metrics", "msg=\"metric not registered\" name=%s reason=\"%s\"",
                  mochi_log_quote(qname, sizeof(qname), name), problem);
        goto out;
    }
    family = calloc(1, sizeof(*family));
    if (family == NULL)
        goto out;
    family->reg = reg;
    family->type = type;
    family->nlabels = nlabels;
    family->name = strdup(name);
    family->help = strdup(help ? help : "");
    bool ok = family->name && family->help;
    for (size_t i = 0; i < nlabels; i++) {
        family->labels[i] = strdup(label_names[i]);
        ok = ok && family->labels[i];
    }
    if (ok && type == TYPE_HISTOGRAM) {
        family->bounds = malloc(nbounds * sizeof(*bounds));
        if ((ok = family->bounds != NULL)) {
            memcpy(family->bounds, bounds, nbounds * sizeof(*bounds));
            family->nbounds = nbounds;
        }
    }
    /* A label-less series exists from the start so it renders as 0. */
    if (ok && nlabels == 0) {
        family->first = family->last = child_new(family, NULL);
        ok = family->first != NULL;
    }
    if (!ok) {
        family_free(family);
        family = NULL;
        goto out;
    }
    if (reg->last)
        reg->last->next = family;
    else
        reg->first = family;
    reg->last = family;
out:
    pthread_mutex_unlock(&reg->lock);
    return family;
}

static void family_free(struct mochi_metric_family *family)
{
    if (family == NULL)
        return;
    struct mochi_metric *metric = family->first;
    while (metric) {
        struct mochi_metric *next = metric->next;
        child_free(metric);
        metric = next;
    }
    free(family->name);
    free(family->help);
    for (size_t i = 0; i < family->nlabels; i++)
        free(family->labels[i]);
    free(family->bounds);
    free(family);
}

struct mochi_metric_family *mochi_metrics_counter(struct mochi_metrics *reg, const char *name,
                                                  const char *help, size_t nlabels,
                                                  const char *const *label_names)
{
    return family_new(reg, TYPE_COUNTER, name, help, nlabels, label_names, NULL, 0);
}

struct mochi_metric_family *mochi_metrics_gauge(struct mochi_metrics *reg, const char *name,
                                                const char *help, size_t nlabels,
                                                const char *const *label_names)
{
    return family_new(reg, TYPE_GAUGE, name, help, nlabels, label_names, NULL, 0);
}

struct mochi_metric *mochi_metrics_single(struct mochi_metric_family *family)
{
    return family ? mochi_metrics_child(family, NULL) : NULL;
}

struct mochi_metric_family *mochi_metrics_histogram(struct mochi_metrics *reg, const char *name,
                                                    const char *help, size_t nlabels,
                                                    const char *const *label_names,
                                                    const double *bounds, size_t nbounds)
{
    return family_new(reg, TYPE_HISTOGRAM, name, help, nlabels, label_names, bounds, nbounds);
}

/* Called with the registry's lock held. Stores values with invalid UTF-8
 * replaced, so that one odd topic name cannot make the whole scrape fail. */
static struct mochi_metric *child_new(struct mochi_metric_family *family, const char *const *values)
{
    struct mochi_metric *metric = calloc(1, sizeof(*metric));
    if (metric == NULL)
        return NULL;
    metric->family = family;
    atomic_init(&metric->n, 0);
    atomic_init(&metric->bits, double_bits(0.0));
    bool ok = true;
    for (size_t i = 0; i < family->nlabels; i++) {
        metric->values[i] = mochi_utf8_sanitize(values[i], strlen(values[i]), NULL);
        ok = ok && metric->values[i];
    }
    if (ok && family->type == TYPE_HISTOGRAM) {
        metric->buckets = malloc((family->nbounds + 1) * sizeof(*metric->buckets));
        if ((ok = metric->buckets != NULL))
            for (size_t i = 0; i <= family->nbounds; i++)
                atomic_init(&metric->buckets[i], 0);
    }
    if (!ok) {
        child_free(metric);
        return NULL;
    }
    return metric;
}

static void child_free(struct mochi_metric *metric)
{
    if (metric == NULL)
        return;
    for (size_t i = 0; i < MOCHI_METRICS_MAX_LABELS; i++)
        free(metric->values[i]);
    free(metric->buckets);
    free(metric);
}

struct mochi_metric *mochi_metrics_child(struct mochi_metric_family *family,
                                         const char *const *label_values)
{
    struct mochi_metric *found = NULL;
    for (size_t i = 0; i < family->nlabels; i++)
        if (label_values[i] == NULL)
            return NULL;
    struct mochi_metrics *reg = family->reg;
    /* A linear scan: families have tens of children and callers cache the
     * pointer, so an index would not pay for itself. */
    pthread_mutex_lock(&reg->lock);
    for (struct mochi_metric *m = family->first; m && !found; m = m->next) {
        size_t i = 0;
        while (i < family->nlabels && sanitized_equal(m->values[i], label_values[i]))
            i++;
        if (i == family->nlabels)
            found = m;
    }
    if (found == NULL && (found = child_new(family, label_values)) != NULL) {
        if (family->last)
            family->last->next = found;
        else
            family->first = found;
        family->last = found;
    }
    pthread_mutex_unlock(&reg->lock);
    return found;
}

int mochi_metrics_on_scrape(struct mochi_metrics *reg, mochi_metrics_scrape_fn fn, void *arg)
{
    struct scrape_cb *cb = calloc(1, sizeof(*cb));
    if (cb == NULL)
        return MOCHI_ERR_NOMEM;
    cb->fn = fn;
    cb->arg = arg;
    pthread_mutex_lock(&reg->scrape_lock);
    if (reg->cb_last)
        reg->cb_last->next = cb;
    else
        reg->cb_first = cb;
    reg->cb_last = cb;
    pthread_mutex_unlock(&reg->scrape_lock);
    return 0;
}

/* True when raw, cleaned as mochi_utf8_sanitize would, equals clean. */
static bool sanitized_equal(const char *clean, const char *raw)
{
    size_t len = strlen(raw);
    for (size_t i = 0; i < len;) {
        size_t n = mochi_utf8_seq_len(raw + i, len - i);
        const char *want = n ? raw + i : "\xef\xbf\xbd";
        size_t k = n ? n : 3;
        if (strncmp(clean, want, k) != 0)
            return false;
        clean += k;
        i += n ? n : 1;
    }
    return *clean == '\0';
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static void add_bits(_Atomic uint64_t *bits, double amount)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old,
                                                  double_bits(bits_double(old) + amount),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Updates use relaxed ordering: each series is an independent tally and a
 * scrape needs no ordering between series. */
void mochi_metric_inc(struct mochi_metric *metric)
{
    mochi_metric_add(metric, 1);
}

void mochi_metric_add(struct mochi_metric *metric, uint64_t amount)
{
    assert(metric->family->type != TYPE_HISTOGRAM);
    if (metric->family->type == TYPE_COUNTER)
        atomic_fetch_add_explicit(&metric->n, amount, memory_order_relaxed);
    else
        add_bits(&metric->bits, (double)amount);
}

void mochi_metric_add_double(struct mochi_metric *metric, double amount)
{
    assert(metric->family->type != TYPE_HISTOGRAM);
    if (metric->family->type == TYPE_COUNTER && !(amount >= 0))
        return;
    add_bits(&metric->bits, amount);
}

void mochi_metric_dec(struct mochi_metric *metric)
{
    assert(metric->family->type == TYPE_GAUGE);
    add_bits(&metric->bits, -1.0);
}

void mochi_metric_set(struct mochi_metric *metric, double value)
{
    assert(metric->family->type == TYPE_GAUGE);
    atomic_store_explicit(&metric->bits, double_bits(value), memory_order_relaxed);
}

void mochi_metric_observe(struct mochi_metric *metric, double value)
{
    const struct mochi_metric_family *family = metric->family;
    assert(family->type == TYPE_HISTOGRAM);
    /* Bounds are "less than or equal"; NaN compares false and lands in +Inf,
     * as in the Go client. Linear: bucket lists are short. */
    size_t i = 0;
    while (i < family->nbounds && !(value <= family->bounds[i]))
        i++;
    atomic_fetch_add_explicit(&metric->buckets[i], 1, memory_order_relaxed);
    add_bits(&metric->bits, value);
}

double mochi_metric_value(const struct mochi_metric *metric)
{
    const struct mochi_metric_family *family = metric->family;
    if (family->type == TYPE_HISTOGRAM) {
        uint64_t count = 0;
        for (size_t i = 0; i <= family->nbounds; i++)
            count += atomic_load_explicit(&metric->buckets[i], memory_order_relaxed);
        return (double)count;
    }
    double v = bits_double(atomic_load_explicit(&metric->bits, memory_order_relaxed));
    if (family->type == TYPE_COUNTER)
        v += (double)atomic_load_explicit(&metric->n, memory_order_relaxed);
    return v;
}

/* Shortest text that reads back as the same double ("0.1", not
 * "0.10000000000000001"), in the spellings Prometheus parses. The daemons
 * never call setlocale, so the decimal point is '.'. */
static void format_double(char *out, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(out, size, "NaN");
    } else if (isinf(v)) {
        snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, size, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, size, "%.17g", v);
    }
}

/* Grows b to hold n more bytes and a NUL; false (and b marked failed) when
 * memory runs out. */
static bool buf_reserve(struct buf *b, size_t n)
{
    if (b->failed)
        return false;
    size_t cap = b->cap ? b->cap : 4096;
    while (b->len + n + 1 > cap)
        cap *= 2;
    if (cap != b->cap) {
        char *data = realloc(b->data, cap);
        if (data == NULL) {
            b->failed = true;
            return false;
        }
        b->data = data;
        b->cap = cap;
    }
    return true;
}

static void buf_append(struct buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Label values escape backslash, double quote and newline; HELP text only
 * backslash and newline (format 0.0.4). */
static void buf_escaped(struct buf *b, const char *s, bool quote)
{
    const char *start = s;
    for (; *s; s++) {
        const char *esc = NULL;
        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (*s == '"' && quote)
            esc = "\\\"";
        if (esc) {
            buf_append(b, start, (size_t)(s - start));
            buf_append(b, esc, 2);
            start = s + 1;
        }
    }
    buf_append(b, start, (size_t)(s - start));
}

/* One sample line: name[suffix]{labels[,le="..."]} value */
static void render_series(struct buf *b, const struct mochi_metric *metric, const char *suffix,
                          const char *le, const char *value)
{
    const struct mochi_metric_family *family = metric->family;
    buf_printf(b, "%s%s", family->name, suffix);
    for (size_t i = 0; i < family->nlabels; i++) {
        buf_printf(b, "%s%s=\"", i ? "," : "{", family->labels[i]);
        buf_escaped(b, metric->values[i], true);
        buf_append(b, "\"", 1);
    }
    if (le)
        buf_printf(b, "%sle=\"%s\"", family->nlabels ? "," : "{", le);
    buf_printf(b, "%s %s\n", family->nlabels || le ? "}" : "", value);
}

static void render_family(struct buf *b, const struct mochi_metric_family *family)
{
    if (family->help[0]) {
        buf_printf(b, "# HELP %s ", family->name);
        buf_escaped(b, family->help, false);
        buf_append(b, "\n", 1);
    }
    buf_printf(b, "# TYPE %s %s\n", family->name, type_names[family->type]);
    for (const struct mochi_metric *m = family->first; m; m = m->next) {
        char value[32];
        if (family->type == TYPE_HISTOGRAM) {
            char le[32];
            uint64_t cumulative = 0;
            for (size_t i = 0; i <= family->nbounds; i++) {
                cumulative += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
                if (i < family->nbounds)
                    format_double(le, sizeof(le), family->bounds[i]);
                else
                    snprintf(le, sizeof(le), "+Inf");
                snprintf(value, sizeof(value), "%llu", (unsigned long long)cumulative);
                render_series(b, m, "_bucket", le, value);
            }
            format_double(value, sizeof(value),
                          bits_double(atomic_load_explicit(&m->bits, memory_order_relaxed)));
            render_series(b, m, "_sum", NULL, value);
            snprintf(value, sizeof(value), "%llu", (unsigned long long)cumulative);
            render_series(b, m, "_count", NULL, value);
            continue;
        }
        uint64_t bits = atomic_load_explicit(&m->bits, memory_order_relaxed);
        uint64_t n = atomic_load_explicit(&m->n, memory_order_relaxed);
        if (family->type == TYPE_COUNTER && bits == double_bits(0.0))
            snprintf(value, sizeof(value), "%llu", (unsigned long long)n); /* exact */
        else
            format_double(value, sizeof(value), bits_double(bits) + (double)n);
        render_series(b, m, "", NULL, value);
    }
}

int mochi_metrics_render(struct mochi_metrics *reg, char **out, size_t *len)
{
    struct buf b = {NULL, 0, 0, false};
    pthread_mutex_lock(&reg->scrape_lock);
    for (const struct scrape_cb *cb = reg->cb_first; cb; cb = cb->next)
        cb->fn(reg, cb->arg);
    pthread_mutex_lock(&reg->lock);
    buf_append(&b, "", 0); /* an empty registry still gives "" */
    for (const struct mochi_metric_family *f = reg->first; f; f = f->next)
        render_family(&b, f);
    pthread_mutex_unlock(&reg->lock);
    pthread_mutex_unlock(&reg->scrape_lock);
    if (b.failed) {
        free(b.data);
        *out = NULL;
        *len = 0;
        return MOCHI_ERR_NOMEM;
    }
    *out = b.data;
    *len = b.len;
    return 0;
}

int mochi_metrics_print_families(struct mochi_metrics *reg, FILE *out)
{
    pthread_mutex_lock(&reg->lock);
    for (const struct mochi_metric_family *f = reg->first; f; f = f->next) {
        fprintf(out, "%s\t%s\t", f->name, type_names[f->type]);
        for (size_t i = 0; i < f->nlabels; i++)
            fprintf(out, "%s%s", i ? "," : "", f->labels[i]);
        fprintf(out, "%s\t", f->nlabels ? "" : "-");
        /* One line per family, whatever the help text holds. */
        for (const char *c = f->help; *c; c++)
            fputc(*c == '\t' || *c == '\n' ? ' ' : *c, out);
        fputc('\n', out);
    }
    pthread_mutex_unlock(&reg->lock);
    return fflush(out) == 0 && !ferror(out) ? 0 : MOCHI_ERR_IO;
}
