#ifndef MOCHI_FUZZ_H
#define MOCHI_FUZZ_H

/* Shared by the libFuzzer targets: a property check that fires under the
 * fuzzer in every build type (assert() would vanish with NDEBUG). */

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_REQUIRE(cond) fuzz_require((cond), #cond, __FILE__, __LINE__)

static inline void fuzz_require(int ok, const char *what, const char *file, int line)
{
    if (ok)
        return;
    fprintf(stderr, "%s:%d: property violated: %s\n", file, line, what);
    abort();
}

#endif
