/* The collector's per-request bump arena and the jansson allocator on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "collector/arena.h"

static void allocates_aligned_until_full_then_resets(void **state)
{
    (void)state;
    struct arena *arena = NULL;
    assert_int_equal(arena_new(256, &arena), 0);
    assert_int_equal(arena_used(arena), 0);

    char *a = arena_alloc(arena, 3);
    char *b = arena_alloc(arena, 40);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal((uintptr_t)a % _Alignof(max_align_t), 0);
    assert_int_equal((uintptr_t)b % _Alignof(max_align_t), 0);
    assert_true(b >= a + 3);
    memset(a, 'a', 3);
    memset(b, 'b', 40);
    assert_true(arena_owns(arena, a));
    assert_true(arena_owns(arena, b + 39));

    /* What does not fit is refused and leaves the arena as it was. */
    size_t used = arena_used(arena);
    assert_null(arena_alloc(arena, 1000));
    assert_int_equal(arena_used(arena), used);
    /* Fill it exactly; then nothing more fits, not even one byte. */
    assert_non_null(arena_alloc(arena, 256 - used));
    assert_int_equal(arena_used(arena), 256);
    assert_null(arena_alloc(arena, 1));

    arena_reset(arena);
    assert_int_equal(arena_used(arena), 0);
    assert_ptr_equal(arena_alloc(arena, 8), a); /* memory is reused from the start */
    arena_destroy(arena);
    arena_destroy(NULL);
}

static void owns_only_its_memory(void **state)
{
    (void)state;
    struct arena *arena = NULL;
    assert_int_equal(arena_new(64, &arena), 0);
    char *heap = malloc(16);
    assert_non_null(heap);
    int local = 0;
    assert_false(arena_owns(arena, heap));
    assert_false(arena_owns(arena, &local));
    assert_false(arena_owns(arena, NULL));
    free(heap);
    arena_destroy(arena);
}

static void json_allocator_serves_from_the_arena_only_inside_a_scope(void **state)
{
    (void)state;
    struct arena *arena = NULL;
    assert_int_equal(arena_new(1024, &arena), 0);

    /* Outside a scope: malloc, and free really frees (ASan checks). */
    void *before = arena_json_malloc(32);
    assert_non_null(before);
    assert_false(arena_owns(arena, before));

    arena_json_begin(arena);
    void *in = arena_json_malloc(32);
    assert_true(arena_owns(arena, in));
    /* Too big for the arena: malloc instead, and freed by free(). */
    void *big = arena_json_malloc(4096);
    assert_non_null(big);
    assert_false(arena_owns(arena, big));
    memset(big, 0, 4096);
    arena_json_free(big);
    /* A pointer from before the scope is still freed normally. */
    arena_json_free(before);
    arena_json_free(in); /* a no-op */
    arena_json_free(NULL);
    arena_json_end();

    /* After the scope: malloc again; a late free of an arena pointer is
     * still recognised and ignored. */
    void *after = arena_json_malloc(32);
    assert_false(arena_owns(arena, after));
    arena_json_free(in);
    arena_json_free(after);

    /* The next scope starts from an empty arena. */
    arena_json_begin(arena);
    assert_ptr_equal(arena_json_malloc(32), in);
    arena_json_end();
    arena_destroy(arena);
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    return json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &jerr);
}

static void jansson_parses_through_the_arena(void **state)
{
    (void)state;
    arena_json_install();
    struct arena *arena = NULL;
    assert_int_equal(arena_new(4096, &arena), 0);

    arena_json_begin(arena);
    json_t *root = parse("{\"k\":\"abcdefghijklmnop\",\"u\":\"https://example.com/a/b?c=d\","
                         "\"r\":\"https://www.google.com/\"}");
    assert_non_null(root);
    assert_true(arena_owns(arena, root));
    assert_string_equal(json_string_value(json_object_get(root, "u")),
                        "https://example.com/a/b?c=d");
    assert_true(arena_used(arena) > 0);
    json_decref(root);
    /* Duplicates are still refused. */
    assert_null(parse("{\"k\":\"a\",\"k\":\"b\"}"));
    arena_json_end();

    /* A document larger than the arena: the arena fills up, the rest comes
     * from malloc, and json_decref frees both kinds correctly. */
    size_t n = 20000;
    char *text = malloc(n + 32);
    assert_non_null(text);
    strcpy(text, "{\"u\":\"");
    memset(text + 6, 'x', n);
    strcpy(text + 6 + n, "\",\"k\":[1,2,3]}");
    arena_json_begin(arena);
    root = parse(text);
    assert_non_null(root);
    assert_int_equal(json_string_length(json_object_get(root, "u")), n);
    assert_int_equal(json_array_size(json_object_get(root, "k")), 3);
    json_decref(root);
    arena_json_end();
    free(text);

    /* Outside a scope jansson's results are plain malloc memory. */
    json_t *obj = json_pack("{s:s}", "error", "x");
    char *dump = json_dumps(obj, JSON_COMPACT);
    assert_false(arena_owns(arena, obj));
    assert_string_equal(dump, "{\"error\":\"x\"}");
    free(dump);
    json_decref(obj);
    arena_destroy(arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocates_aligned_until_full_then_resets),
        cmocka_unit_test(owns_only_its_memory),
        cmocka_unit_test(json_allocator_serves_from_the_arena_only_inside_a_scope),
        cmocka_unit_test(jansson_parses_through_the_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
