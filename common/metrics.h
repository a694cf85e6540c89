#ifndef MOCHI_METRICS_H
#define MOCHI_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A metrics registry rendered in the Prometheus text exposition format
 * 0.0.4. Each daemon creates one registry and passes it around explicitly.
 *
 * A family (counter, gauge or histogram) has a name, help text and 0..4
 * label names. A child is one time series of a family: one tuple of label
 * values. Children are created on first lookup and live until the registry
 * is destroyed, so callers look a child up once and keep the pointer.
 *
 * Threads: every function here may be called from any thread. Updating a
 * child (inc, add, set, observe) is lock-free; registration, child lookup
 * and rendering take the registry's mutex. The registry owns all families
 * and children; callers never free them. */

#define MOCHI_METRICS_MAX_LABELS 4

/* Content-Type of a mochi_metrics_render body, for any /metrics route. */
#define MOCHI_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct mochi_metrics;
struct mochi_metric_family;
struct mochi_metric;

/* Runs at the start of every mochi_metrics_render, outside the registry's
 * mutex, so it may look children up and set them (queue depth, lag). Scrape
 * callbacks never run concurrently with each other. */
typedef void (*mochi_metrics_scrape_fn)(struct mochi_metrics *reg, void *arg);

/* Returns a new empty registry, or NULL when out of memory. The caller owns
 * it (mochi_metrics_destroy). */
struct mochi_metrics *mochi_metrics_new(void) __attribute__((warn_unused_result));

/* Frees the registry with every family and child. Nothing may use it, or a
 * child pointer taken from it, any more: stop metrics servers first. NULL is
 * a no-op. */
void mochi_metrics_destroy(struct mochi_metrics *reg);

/* Register a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]*; label names
 * must match [a-zA-Z_][a-zA-Z0-9_]*, not start with "__", be distinct and,
 * for histograms, not be "le". help is plain text (may be empty). Strings are
 * copied. Returns the family, owned by the registry, or NULL (with a log
 * line) when a name is invalid or already registered, or memory runs out.
 * A family without labels has its one child created at once, so it renders
 * as 0 before the first update. */
struct mochi_metric_family *mochi_metrics_counter(struct mochi_metrics *reg, const char *name,
                                                  const char *help, size_t nlabels,
                                                  const char *const *label_names)
    __attribute__((warn_unused_result));
struct mochi_metric_family *mochi_metrics_gauge(struct mochi_metrics *reg, const char *name,
                                                const char *help, size_t nlabels,
                                                const char *const *label_names)
    __attribute__((warn_unused_result));

/* bounds: nbounds >= 1 finite upper bounds in strictly increasing order
 * (copied); the +Inf bucket is implicit. Returns NULL if they are not. */
struct mochi_metric_family *mochi_metrics_histogram(struct mochi_metrics *reg, const char *name,
                                                    const char *help, size_t nlabels,
                                                    const char *const *label_names,
                                                    const double *bounds, size_t nbounds)
    __attribute__((warn_unused_result));

/* Returns the child for label_values (one string per label name of the
 * family; NULL when the family has none), creating it on first use. The
 * pointer stays valid until the registry is destroyed. Values are copied;
 * invalid UTF-8 in them is replaced by U+FFFD so that one odd value cannot
 * break the whole scrape. Returns NULL if a value is NULL or memory runs
 * out. */
struct mochi_metric *mochi_metrics_child(struct mochi_metric_family *family,
                                         const char *const *label_values)
    __attribute__((warn_unused_result));

/* The one child of a family without labels, so that registering and
 * keeping a plain metric is one line: mochi_metrics_single(
 * mochi_metrics_counter(reg, name, help, 0, NULL)). NULL when family is
 * NULL (registration failed, already logged) or memory runs out. */
struct mochi_metric *mochi_metrics_single(struct mochi_metric_family *family)
    __attribute__((warn_unused_result));

/* Adds fn(reg, arg) to the callbacks run before each render, in the order
 * added. Must not be called from inside a scrape callback. Returns 0 or
 * MOCHI_ERR_NOMEM. */
int mochi_metrics_on_scrape(struct mochi_metrics *reg, mochi_metrics_scrape_fn fn, void *arg)
    __attribute__((warn_unused_result));

/* Updates. Counters only go up: mochi_metric_add_double ignores a negative
 * or NaN amount on a counter. inc/add/add_double also work on gauges; dec
 * and set only on gauges; observe only on histograms (asserted). */
void mochi_metric_inc(struct mochi_metric *metric);
void mochi_metric_add(struct mochi_metric *metric, uint64_t amount);
void mochi_metric_add_double(struct mochi_metric *metric, double amount);
void mochi_metric_dec(struct mochi_metric *metric);
void mochi_metric_set(struct mochi_metric *metric, double value);
void mochi_metric_observe(struct mochi_metric *metric, double value);

/* Current value of a counter or gauge; for a histogram, its count of
 * observations. Meant for tests and health checks. */
double mochi_metric_value(const struct mochi_metric *metric);

/* Runs the scrape callbacks, then renders every family in registration
 * order, children in creation order. On success *out is a NUL-terminated
 * string owned by the caller (free()) and *len its length without the NUL.
 * Returns 0 or MOCHI_ERR_NOMEM (then *out is NULL). */
int mochi_metrics_render(struct mochi_metrics *reg, char **out, size_t *len)
    __attribute__((warn_unused_result));

/* Writes one line per family, in registration order, without running the
 * scrape callbacks or reading any value: NAME, TYPE (counter, gauge,
 * histogram), LABELS (comma-separated, "-" when none) and HELP, separated
 * by tabs (a tab or newline in the help is written as a space). This is
 * what --print-metrics shows and what docs/metrics.md is checked against.
 * Returns 0, or MOCHI_ERR_IO when writing failed. */
int mochi_metrics_print_families(struct mochi_metrics *reg, FILE *out)
    __attribute__((warn_unused_result));

#endif
