#ifndef CONSUMER_RECENT_H
#define CONSUMER_RECENT_H

/* A bounded memory of the page views a consumer recently found stored:
 * 64-bit fingerprints, the oldest forgotten first once capacity is reached.
 * A fingerprint can collide, so "contains" means "probably stored, ask the
 * database"; "does not contain" means "not stored by this process lately". */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct recent;

/* NULL when out of memory. Memory: about 24 bytes per entry of capacity. */
struct recent *recent_new(size_t capacity);
void recent_destroy(struct recent *recent);

bool recent_contains(const struct recent *recent, uint64_t fingerprint);
/* Adds a fingerprint (a no-op when present), forgetting the oldest one
 * when full. */
void recent_add(struct recent *recent, uint64_t fingerprint);
size_t recent_count(const struct recent *recent);

#endif
