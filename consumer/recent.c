#include "consumer/recent.h"

#include <stdlib.h>

/* A ring of fingerprints in arrival order (for eviction) and a linear-
 * probing table over them (for lookups), kept at most half full. Removal
 * shifts the following entries of the probe run back instead of leaving
 * tombstones, so lookups never slow down with age. Fingerprint 0 marks an
 * empty slot; a real 0 is stored as 1. */
struct recent {
    uint64_t *ring;
    size_t capacity, head, count; /* head: the oldest entry */
    uint64_t *table;
    size_t mask;
};

static uint64_t stored_form(uint64_t fingerprint)
{
    return fingerprint == 0 ? 1 : fingerprint;
}

struct recent *recent_new(size_t capacity)
{
    if (capacity == 0)
        return NULL;
    size_t slots = 16;
    while (slots < 2 * capacity)
        slots *= 2;
    struct recent *recent = calloc(1, sizeof(*recent));
    if (recent == NULL)
        return NULL;
    recent->ring = calloc(capacity, sizeof(*recent->ring));
    recent->table = calloc(slots, sizeof(*recent->table));
    if (recent->ring == NULL || recent->table == NULL) {
        recent_destroy(recent);
        return NULL;
    }
    recent->capacity = capacity;
    recent->mask = slots - 1;
    return recent;
}

void recent_destroy(struct recent *recent)
{
    if (recent == NULL)
        return;
    free(recent->ring);
    free(recent->table);
    free(recent);
}

/* The fingerprints are hashes already: their low bits spread well. */
static size_t home(const struct recent *recent, uint64_t fp)
{
    return (size_t)(fp ^ (fp >> 29)) & recent->mask;
}

bool recent_contains(const struct recent *recent, uint64_t fingerprint)
{
    uint64_t fp = stored_form(fingerprint);
    for (size_t slot = home(recent, fp); recent->table[slot] != 0; slot = (slot + 1) & recent->mask)
        if (recent->table[slot] == fp)
            return true;
    return false;
}

static void table_remove(struct recent *recent, uint64_t fp)
{
    size_t slot = home(recent, fp);
    while (recent->table[slot] != fp) {
        if (recent->table[slot] == 0)
            return; /* not there: cannot happen, the ring and table agree */
        slot = (slot + 1) & recent->mask;
    }
    /* Backward-shift deletion: move up every later entry of the run that
     * may sit at or before the hole. */
    size_t hole = slot;
    for (size_t next = (hole + 1) & recent->mask; recent->table[next] != 0;
         next = (next + 1) & recent->mask) {
        size_t want = home(recent, recent->table[next]);
        /* Entry at next can fill the hole unless its home lies strictly
         * between the hole and next (cyclically). */
        bool stays = hole <= next ? (hole < want && want <= next) : (hole < want || want <= next);
        if (!stays) {
            recent->table[hole] = recent->table[next];
            hole = next;
        }
    }
    recent->table[hole] = 0;
}

void recent_add(struct recent *recent, uint64_t fingerprint)
{
    uint64_t fp = stored_form(fingerprint);
    size_t slot = home(recent, fp);
    for (; recent->table[slot] != 0; slot = (slot + 1) & recent->mask)
        if (recent->table[slot] == fp)
            return;
    if (recent->count == recent->capacity) {
        table_remove(recent, recent->ring[recent->head]);
        recent->head = (recent->head + 1) % recent->capacity;
        recent->count--;
        /* The removal may have moved entries: find the free slot again. */
        for (slot = home(recent, fp); recent->table[slot] != 0; slot = (slot + 1) & recent->mask)
            ;
    }
    recent->table[slot] = fp;
    recent->ring[(recent->head + recent->count) % recent->capacity] = fp;
    recent->count++;
}

size_t recent_count(const struct recent *recent)
{
    return recent->count;
}
