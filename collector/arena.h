#ifndef COLLECTOR_ARENA_H
#define COLLECTOR_ARENA_H

/* A bump allocator for the short-lived allocations of one request, and the
 * jansson allocator that serves from it.
 *
 * jansson makes about a dozen small allocations to parse a beacon and frees
 * them all at json_decref, a few microseconds later. With
 * arena_json_install, while a thread is inside arena_json_begin ..
 * arena_json_end, jansson's allocations on that thread come from the
 * thread's arena (freeing one is a no-op; the arena is emptied at the next
 * begin); any allocation that does not fit, and every allocation outside
 * such a scope or on another thread, goes to malloc/free as before.
 *
 * Rule for callers: nothing jansson allocated inside a scope may be used,
 * or freed, after arena_json_end. The beacon parser copies the fields out
 * and calls json_decref before it ends the scope. */

#include <stdbool.h>
#include <stddef.h>

struct arena;

/* Returns 0 and a new arena of size bytes in *out (the caller owns it:
 * arena_destroy), or MOCHI_ERR_NOMEM. */
int arena_new(size_t size, struct arena **out) __attribute__((warn_unused_result));

/* Frees the arena. NULL is a no-op. The arena must not be in use by
 * arena_json_begin on any thread. */
void arena_destroy(struct arena *arena);

/* Returns size bytes aligned for any type from the arena, or NULL when the
 * arena has no room left (the arena is unchanged then). */
void *arena_alloc(struct arena *arena, size_t size);

/* True when p points into the arena's memory. */
bool arena_owns(const struct arena *arena, const void *p);

/* Empties the arena: every pointer it gave out becomes invalid. */
void arena_reset(struct arena *arena);

/* Bytes handed out since the last reset (with alignment padding). */
size_t arena_used(const struct arena *arena);

/* Makes jansson allocate through arena_json_malloc / arena_json_free.
 * Call once, at start, before any other thread uses jansson. */
void arena_json_install(void);

/* From now until arena_json_end, jansson's allocations on the calling
 * thread come from arena, which is reset first. Scopes do not nest. */
void arena_json_begin(struct arena *arena);

/* Ends the calling thread's scope: jansson allocates with malloc again.
 * The arena's memory is left as is until the next begin. */
void arena_json_end(void);

/* The allocator pair installed by arena_json_install, exported for the
 * tests. arena_json_free accepts NULL, pointers from the calling thread's
 * current or last arena (a no-op) and pointers from malloc. */
void *arena_json_malloc(size_t size);
void arena_json_free(void *p);

#endif
