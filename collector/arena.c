#include "collector/arena.h"
#include "common/error.h"

#include <jansson.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

struct arena {
    size_t size;
    size_t used;
    alignas(max_align_t) unsigned char mem[];
};

/* The arena the calling thread's jansson allocations come from, NULL
 * outside arena_json_begin .. arena_json_end. */
static _Thread_local struct arena *json_active;
/* The last arena this thread used, kept after the scope ends so that a
 * free of one of its pointers is still recognised (and ignored) instead of
 * reaching free(). */
static _Thread_local struct arena *json_last;

#define ALIGN (alignof(max_align_t))

int arena_new(size_t size, struct arena **out)
{
    struct arena *arena = malloc(sizeof(*arena) + size);
    if (arena == NULL)
        return MOCHI_ERR_NOMEM;
    arena->size = size;
    arena->used = 0;
    *out = arena;
    return 0;
}

void arena_destroy(struct arena *arena)
{
    if (arena == NULL)
        return;
    if (json_last == arena)
        json_last = NULL;
    free(arena);
}

void *arena_alloc(struct arena *arena, size_t size)
{
    /* Round up without overflow: size is at most the arena's room. */
    size_t room = arena->size - arena->used;
    if (size == 0)
        size = 1;
    if (size > room)
        return NULL;
    size_t rounded = (size + ALIGN - 1) & ~(ALIGN - 1);
    if (rounded > room)
        rounded = room; /* the last block may end the arena unaligned */
    void *p = arena->mem + arena->used;
    arena->used += rounded;
    return p;
}

bool arena_owns(const struct arena *arena, const void *p)
{
    uintptr_t a = (uintptr_t)p, start = (uintptr_t)arena->mem;
    return a >= start && a < start + arena->size;
}

void arena_reset(struct arena *arena)
{
    arena->used = 0;
}

size_t arena_used(const struct arena *arena)
{
    return arena->used;
}

void *arena_json_malloc(size_t size)
{
    struct arena *arena = json_active;
    if (arena != NULL) {
        void *p = arena_alloc(arena, size);
        if (p != NULL)
            return p;
    }
    return malloc(size);
}

void arena_json_free(void *p)
{
    if (p == NULL)
        return;
    struct arena *arena = json_last;
    if (arena != NULL && arena_owns(arena, p))
        return; /* freed with the arena, at the next begin */
    free(p);
}

void arena_json_install(void)
{
    json_set_alloc_funcs(arena_json_malloc, arena_json_free);
}

void arena_json_begin(struct arena *arena)
{
    arena_reset(arena);
    json_active = arena;
    json_last = arena;
}

void arena_json_end(void)
{
    json_active = NULL;
}
