#ifndef LOADGEN_ORACLE_H
#define LOADGEN_ORACLE_H

/* The oracle: what the pipeline's daily aggregates must be, computed only
 * from what loadgen sent and what the collector answered. A page view is a
 * distinct (site, visitor index, path, UTC minute); the minute is the one
 * in which the request was both sent and answered, and its site-local day
 * follows from it (tools/loadgen/zone.h). Entries and sources are derived
 * here from the URL and referrer sent, by DESIGN.md's rules, without
 * Mochi's code. Pure code, no I/O but mochi_loadgen_oracle_write and the
 * zoneinfo files. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/loadgen/traffic.h"

/* How the oracle's document names "Direct / none", the source of an entry
 * with neither utm_source nor a referrer (and the credit of a visitor
 * whose first view of the day is not an entry). One constant, to follow
 * whatever the rollup stores. */
#define LOADGEN_SOURCE_NONE ""
#define LOADGEN_UTM_SOURCE_MAX 64 /* bytes of a utm_source kept */
#define LOADGEN_SOURCE_SIZE 256   /* a source and its NUL: a DNS host fits */

/* What became of one request. */
struct mochi_loadgen_result {
    size_t site;      /* index into the sites array */
    uint32_t visitor; /* visitor index, or LOADGEN_BOT */
    bool gif;
    bool duplicate;       /* the second copy of a double-fired beacon */
    const char *url;      /* the page URL sent (borrowed for the call) */
    const char *referrer; /* the referrer sent, "" or NULL when none (borrowed) */
    long status;          /* HTTP status, 0 when no answer came (an error) */
    int64_t sent_us;      /* wall clock (CLOCK_REALTIME) before the request was handed to libcurl */
    int64_t done_us;      /* wall clock when the answer had been read */
};

/* Totals, also used for the summary. */
struct mochi_loadgen_counts {
    long long sent, accepted, bots, bots_accepted, doubles, errors, ambiguous;
    long long by_status[600]; /* every HTTP status answered, accepted ones included */
};

struct mochi_loadgen_oracle;

/* sites must outlive the oracle. Returns 0 and a new oracle in *out (freed
 * with mochi_loadgen_oracle_destroy) or MOCHI_ERR_NOMEM. */
int mochi_loadgen_oracle_new(const struct mochi_loadgen_site *sites, size_t nsites,
                             struct mochi_loadgen_oracle **out) __attribute__((warn_unused_result));
void mochi_loadgen_oracle_destroy(struct mochi_loadgen_oracle *oracle);

/* Counts one request. A site-local day is known when the UTC minute is:
 * an offset of seconds (none since 1972) would make the minute straddle two
 * days, and such a request counts as ambiguous. Returns 0,
 * MOCHI_ERR_NOMEM, or MOCHI_ERR_INVALID when the URL has no scheme. */
int mochi_loadgen_oracle_add(struct mochi_loadgen_oracle *oracle,
                             const struct mochi_loadgen_result *result)
    __attribute__((warn_unused_result));

const struct mochi_loadgen_counts *
mochi_loadgen_oracle_counts(const struct mochi_loadgen_oracle *oracle);

/* Builds the oracle document (format in docs/loadgen.md). Returns 0 and a
 * new reference in *out (caller json_decref's it) or MOCHI_ERR_NOMEM. */
int mochi_loadgen_oracle_json(struct mochi_loadgen_oracle *oracle, json_t **out)
    __attribute__((warn_unused_result));

/* Writes the document to path (through a temporary file and rename, so a
 * reader never sees half of it). Returns 0 or MOCHI_ERR_IO / NOMEM with the
 * reason in err. */
int mochi_loadgen_oracle_write(struct mochi_loadgen_oracle *oracle, const char *path, char *err,
                               size_t errlen) __attribute__((warn_unused_result));

/* A page view's entry and source as DESIGN.md defines them, derived
 * without Mochi's code. Internal (not an entry, no source): the referrer's
 * host is domain or a subdomain of it. Otherwise an entry, whose source is
 * the page URL's first utm_source (the exact, case-sensitive name; the
 * value percent-decoded, ASCII lower-cased, cut to 64 bytes at a UTF-8
 * boundary; empty, invalid UTF-8 or holding a control: as if absent), else
 * the referrer's host lower-cased without port and one leading "www.",
 * else LOADGEN_SOURCE_NONE. A referrer with no "scheme://host" counts as
 * none. Writes the source into source (LOADGEN_SOURCE_NONE for a
 * non-entry); a host too long for it is cut. Pure, thread-safe. */
void mochi_loadgen_origin(const char *url, const char *referrer, const char *domain, bool *entry,
                          char source[LOADGEN_SOURCE_SIZE]);

/* True when the collector took the beacon: 202, or 200 for the GIF. */
bool mochi_loadgen_accepted(long status, bool gif);

/* Writes the path of an absolute http(s) URL into out as DESIGN.md
 * normalizes it: no scheme, host, query or fragment, "/" when empty, its
 * escapes decoded (docs/paths.md; the traffic escapes only characters that
 * the canonical form decodes). Returns 0, or MOCHI_ERR_INVALID when url has
 * no "scheme://", the path does not fit, or it has an escape outside that
 * model (a delimiter, space or control, not UTF-8, not two hex digits). */
int mochi_loadgen_url_path(const char *url, char *out, size_t size)
    __attribute__((warn_unused_result));

#endif
