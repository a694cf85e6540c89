/* Fuzzes the two parsers of forwarding data: MOCHI_TRUSTED_PROXIES
 * (mochi_cidr_list_parse) and X-Forwarded-For (beacon_client_ip). The
 * whole input is both the CIDR list text and the X-Forwarded-For value; the
 * first byte also picks the TCP peer.
 *
 * Properties:
 *   - a parsed list has at most (commas + spaces + 1) entries, each
 *     AF_INET with a prefix in 0..32 or AF_INET6 in 0..128 (the review
 *     found a heap overflow on space-separated lists);
 *   - a refusal names the entry with NUL-terminated text;
 *   - beacon_client_ip gives text that mochi_addr_parse accepts and that
 *     is the peer's address or the address of one X-Forwarded-For entry;
 *   - beacon_forwarded_tail, with the input split into header values at
 *     '\n', keeps the end of their comma join from an entry's start, and
 *     fits its buffer. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "collector/beacon.h"
#include "common/error.h"
#include "common/netaddr.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mochi_cidr_list trusted;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[160];
    FUZZ_REQUIRE(mochi_cidr_list_parse("10.0.0.0/8, 192.168.0.0/16 ::1, fd00::/8", &trusted, err,
                                       sizeof(err)) == 0);
    FUZZ_REQUIRE(trusted.count == 4);
    return 0;
}

static void check_list(const char *text)
{
    struct mochi_cidr_list list;
    char err[160];
    memset(err, 'x', sizeof(err));
    int rc = mochi_cidr_list_parse(text, &list, err, sizeof(err));
    if (rc != 0) {
        FUZZ_REQUIRE(rc == MOCHI_ERR_INVALID);
        FUZZ_REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
        FUZZ_REQUIRE(list.items == NULL && list.count == 0);
        return;
    }
    size_t seps = 0;
    for (const char *p = text; *p; p++)
        seps += *p == ',' || *p == ' ';
    FUZZ_REQUIRE(list.count <= seps + 1);
    for (size_t i = 0; i < list.count; i++) {
        const struct mochi_cidr *c = &list.items[i];
        FUZZ_REQUIRE(c->family == AF_INET || c->family == AF_INET6);
        FUZZ_REQUIRE(c->prefix >= 0 && c->prefix <= (c->family == AF_INET ? 32 : 128));
    }
    mochi_cidr_list_free(&list);
}

/* True when ip names the same address as one comma-separated entry of xff
 * (after trimming blanks), compared as addresses. */
static bool in_xff(const char *xff, int family, const unsigned char *bin)
{
    for (const char *p = xff;;) {
        size_t len = strcspn(p, ",");
        size_t a = 0, b = len;
        while (a < b && (p[a] == ' ' || p[a] == '\t'))
            a++;
        while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
            b--;
        char entry[64];
        int efamily;
        unsigned char ebin[16];
        if (b - a > 0 && b - a < sizeof(entry)) {
            memcpy(entry, p + a, b - a);
            entry[b - a] = '\0';
            if (mochi_addr_parse(entry, &efamily, ebin) == 0 && efamily == family &&
                memcmp(ebin, bin, 16) == 0)
                return true;
        }
        if (p[len] == '\0')
            return false;
        p += len + 1;
    }
}

static void check_client_ip(const char *xff, uint8_t pick)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    /* Trusted and untrusted peers of both families, and a v4-mapped one. */
    static const char *const peers[] = {"10.1.2.3", "192.168.7.7", "203.0.113.9",    "::1",
                                        "fd00::42", "2001:db8::1", "::ffff:10.9.9.9"};
    const char *peer = peers[pick % (sizeof(peers) / sizeof(peers[0]))];
    if (strchr(peer, ':') == NULL) {
        in->sin_family = AF_INET;
        FUZZ_REQUIRE(inet_pton(AF_INET, peer, &in->sin_addr) == 1);
    } else {
        in6->sin6_family = AF_INET6;
        FUZZ_REQUIRE(inet_pton(AF_INET6, peer, &in6->sin6_addr) == 1);
    }
    char out[64];
    FUZZ_REQUIRE(beacon_client_ip((const struct sockaddr *)&ss, (pick & 0x80) ? NULL : xff,
                                  &trusted, out, sizeof(out)) == 0);
    int family, pfamily;
    unsigned char bin[16], pbin[16];
    FUZZ_REQUIRE(mochi_addr_parse(out, &family, bin) == 0);
    FUZZ_REQUIRE(mochi_addr_parse(peer, &pfamily, pbin) == 0);
    bool is_peer = family == pfamily && memcmp(bin, pbin, 16) == 0;
    FUZZ_REQUIRE(is_peer || ((pick & 0x80) == 0 && in_xff(xff, family, bin)));
}

/* The input split at '\n' into header values, joined into a small
 * buffer: what is kept is empty (NULL) or the end of the whole join,
 * starting at an entry, and it fits. */
static void check_tail(const char *text)
{
    const char *values[8];
    size_t sizes[8];
    size_t n = 0;
    for (const char *p = text; n < 8;) {
        size_t len = strcspn(p, "\n");
        values[n] = p;
        sizes[n++] = len;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    char whole[4200] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            whole[used++] = ',';
        memcpy(whole + used, values[i], sizes[i]);
        used += sizes[i];
    }
    whole[used] = '\0';
    char out[48];
    const char *tail = beacon_forwarded_tail(values, sizes, n, out, sizeof(out));
    if (tail == NULL)
        return;
    size_t len = strlen(tail);
    FUZZ_REQUIRE(tail == out && len > 0 && len < sizeof(out));
    FUZZ_REQUIRE(len <= used && strcmp(whole + used - len, tail) == 0);
    FUZZ_REQUIRE(len == used || whole[used - len - 1] == ',');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *text = malloc(size);
    FUZZ_REQUIRE(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    check_list(text);
    check_client_ip(text, data[0]);
    check_tail(text);
    free(text);
    return 0;
}
