/* The consumer's memory of recently stored page views, against a plain
 * model: a list of the last `capacity` distinct fingerprints added. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consumer/recent.h"

struct model {
    uint64_t *items; /* oldest first */
    size_t count, capacity;
};

static bool model_contains(const struct model *m, uint64_t fp)
{
    for (size_t i = 0; i < m->count; i++)
        if (m->items[i] == fp)
            return true;
    return false;
}

static void model_add(struct model *m, uint64_t fp)
{
    if (model_contains(m, fp))
        return;
    if (m->count == m->capacity) {
        memmove(m->items, m->items + 1, (m->count - 1) * sizeof(*m->items));
        m->count--;
    }
    m->items[m->count++] = fp;
}

/* Fingerprints from a small universe whose low bits collide a lot, so
 * that probe runs are long, wrap around the table, and removals shift
 * entries back. 0 is in the universe too; 1 is not, because 0 is stored
 * as 1 (one more collision, like any other). */
static uint64_t fingerprint_of(unsigned n)
{
    return (uint64_t)(n % 7) * 2 | (uint64_t)(n / 7) << 40;
}

static uint64_t pick(unsigned int *seed, unsigned universe)
{
    return fingerprint_of((unsigned)rand_r(seed) % universe);
}

static void run_against_model(size_t capacity, unsigned universe, unsigned seed)
{
    struct recent *r = recent_new(capacity);
    assert_non_null(r);
    struct model m = {calloc(capacity, sizeof(uint64_t)), 0, capacity};
    for (int op = 0; op < 20000; op++) {
        uint64_t fp = pick(&seed, universe);
        recent_add(r, fp);
        model_add(&m, fp);
        assert_int_equal(recent_count(r), m.count);
        if (op % 97 == 0 || op > 19900) {
            for (unsigned n = 0; n < universe; n++) {
                uint64_t probe = fingerprint_of(n);
                if (recent_contains(r, probe) != model_contains(&m, probe))
                    fail_msg("op %d: fingerprint %u: recent says %d, the model %d", op, n,
                             recent_contains(r, probe), model_contains(&m, probe));
            }
        }
    }
    free(m.items);
    recent_destroy(r);
}

static void matches_the_model_when_full(void **state)
{
    (void)state;
    run_against_model(50, 200, 1);
    run_against_model(64, 65, 2); /* almost everything fits */
    run_against_model(1, 5, 3);   /* capacity one */
    run_against_model(500, 3000, 4);
}

static void oldest_is_forgotten_first(void **state)
{
    (void)state;
    struct recent *r = recent_new(3);
    recent_add(r, 10);
    recent_add(r, 20);
    recent_add(r, 10); /* present: does not refresh or duplicate */
    recent_add(r, 30);
    recent_add(r, 40); /* evicts 10, the oldest */
    assert_false(recent_contains(r, 10));
    assert_true(recent_contains(r, 20));
    assert_true(recent_contains(r, 30));
    assert_true(recent_contains(r, 40));
    assert_int_equal(recent_count(r), 3);
    recent_destroy(r);
}

static void zero_is_a_fingerprint_too(void **state)
{
    (void)state;
    struct recent *r = recent_new(4);
    assert_false(recent_contains(r, 0));
    recent_add(r, 0);
    assert_true(recent_contains(r, 0));
    assert_null(recent_new(0));
    recent_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_the_model_when_full),
        cmocka_unit_test(oldest_is_forgotten_first),
        cmocka_unit_test(zero_is_a_fingerprint_too),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
