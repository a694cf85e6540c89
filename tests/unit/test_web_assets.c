/* The embedded assets: every file of web/assets/ (hidden ones left out) is
 * in the table with its exact bytes and an ETag made of its SHA-256 (hashed
 * here with libsodium, not by the CMake script that made the table), and
 * nothing else is; Content-Type by extension. */
#include <dirent.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "web/assets.h"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

/* Checks every file below dir (prefix: its name below web/assets/) and
 * returns how many there were. */
static size_t check_dir(const char *dir, const char *prefix)
{
    size_t count = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024], name[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        snprintf(name, sizeof(name), "%s%s", prefix, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            char sub[520];
            snprintf(sub, sizeof(sub), "%s/", name);
            count += check_dir(path, sub);
            continue;
        }
        size_t len = 0;
        char *data = read_all(path, &len);
        const struct web_asset *a = web_asset_find(name);
        if (a == NULL)
            fail_msg("%s is not embedded", name);
        assert_int_equal(a->len, len);
        assert_memory_equal(a->data, data, len);
        unsigned char sum[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(sum, (const unsigned char *)data, len);
        char hex[65], etag[40];
        sodium_bin2hex(hex, sizeof(hex), sum, sizeof(sum));
        snprintf(etag, sizeof(etag), "\"%.32s\"", hex);
        assert_string_equal(a->etag, etag);
        free(data);
        count++;
    }
    closedir(d);
    return count;
}

static void embedded_files(void **state)
{
    (void)state;
    const char *src = getenv("MOCHI_SOURCE_DIR");
    assert_non_null(src);
    char dir[900];
    snprintf(dir, sizeof(dir), "%s/web/assets", src);
    size_t files = check_dir(dir, "");
    size_t entries = 0;
    for (const struct web_asset *a = web_assets; a->name != NULL; a++)
        entries++;
    assert_int_equal(entries, files);
    assert_null(web_asset_find("no-such-file.js"));
    assert_null(web_asset_find(""));
    assert_null(web_asset_find("../CMakeLists.txt"));
}

static void content_types(void **state)
{
    (void)state;
    assert_string_equal(web_content_type("app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(web_content_type("uplot.iife.min.js"), "text/javascript; charset=utf-8");
    assert_string_equal(web_content_type("app.css"), "text/css; charset=utf-8");
    assert_string_equal(web_content_type("uplot.min.css"), "text/css; charset=utf-8");
    assert_string_equal(web_content_type("logo.SVG"), "image/svg+xml");
    assert_string_equal(web_content_type("README.txt"), "text/plain; charset=utf-8");
    assert_string_equal(web_content_type("uPlot.LICENSE"), "text/plain; charset=utf-8");
    assert_string_equal(web_content_type("data.bin"), "application/octet-stream");
    assert_string_equal(web_content_type("js"), "application/octet-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embedded_files),
        cmocka_unit_test(content_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
