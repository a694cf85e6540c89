#ifndef MOCHI_TEST_EVENTS_H
#define MOCHI_TEST_EVENTS_H

/* Synthetic page-view streams for the consumer and rollup tests, and the
 * expected results computed here, from the events themselves, never by the
 * code under test. */

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/codec.h"
#include "tests/harness/harness.h"

struct mochi_test_event {
    char site_id[37];
    int visitor; /* visitor_hash is this number as 32 hex digits */
    char path[96];
    char referrer[64]; /* "" for none */
    int64_t at_us;     /* occurred_at */
};

/* Loads the repository's schemas/ and makes a codec over them, or fails
 * the test. The caller destroys both (mochi_codec_destroy, then
 * mochi_schema_set_destroy). */
void mochi_test_codec_new(struct mochi_schema_set **schemas, struct mochi_codec **codec);

/* A deterministic stream of n events over nsites sites (ids from
 * site_ids), visitors and paths with skew, times within the last
 * span_minutes minutes (or days apart, when days > 1), and a share of
 * exact re-sends and same-minute repeats. Returns a malloc'd array. */
struct mochi_test_event *mochi_test_events_make(size_t n, const char *const *site_ids,
                                                size_t nsites, int visitors, int paths,
                                                int span_minutes, int days, double dup_share,
                                                unsigned int seed);

/* Writes ev as a v1 collector did: the v1 schema (id 1) in Confluent's
 * wire format, without day, entry or source. Fails the test on error. */
void mochi_test_encode_v1(const struct mochi_pageview *ev, unsigned char *buf, size_t size,
                          size_t *len);

/* Encodes and produces events[0..n) to topic with key = site id. */
void mochi_test_events_produce(const char *bootstrap, const char *topic, struct mochi_codec *codec,
                               const struct mochi_test_event *events, size_t n);

/* The same with each message's timestamp set to its event's occurred_at,
 * as a collector's would be (for offset look-ups by time). */
void mochi_test_events_produce_at_event_time(const char *bootstrap, const char *topic,
                                             struct mochi_codec *codec,
                                             const struct mochi_test_event *events, size_t n);

/* The sorted distinct page views "site|hash|path|minute_epoch" of events,
 * as one newline-terminated line each in a malloc'd string; *count gets
 * how many. */
char *mochi_test_expected_views(const struct mochi_test_event *events, size_t n, size_t *count);

/* The same lines from page_view_events. */
char *mochi_test_stored_views(PGconn *conn, size_t *count);

/* Expected daily aggregates, "site|day|page_views|unique_visitors" per
 * line, sorted; and per path "site|day|path|page_views". */
char *mochi_test_expected_site_days(const struct mochi_test_event *events, size_t n);
char *mochi_test_expected_page_days(const struct mochi_test_event *events, size_t n);
char *mochi_test_stored_site_days(PGconn *conn);
char *mochi_test_stored_page_days(PGconn *conn);

#endif
