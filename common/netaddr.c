#include "common/netaddr.h"
#include "common/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_one_cidr(const char *text, struct mochi_cidr *cidr);

static const unsigned char v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int mochi_addr_parse(const char *text, int *family, unsigned char addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        if (memcmp(addr, v4_mapped_prefix, 12) == 0) {
            memmove(addr, addr + 12, 4);
            memset(addr + 4, 0, 12);
            *family = AF_INET;
        } else {
            *family = AF_INET6;
        }
        return 0;
    }
    return MOCHI_ERR_INVALID;
}

static int parse_one_cidr(const char *text, struct mochi_cidr *cidr)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
    if (hlen == 0 || hlen >= sizeof(host))
        return MOCHI_ERR_INVALID;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (mochi_addr_parse(host, &cidr->family, cidr->addr) != 0)
        return MOCHI_ERR_INVALID;
    bool mapped = cidr->family == AF_INET && strchr(host, ':') != NULL;
    int max = cidr->family == AF_INET ? 32 : 128;
    cidr->prefix = max;
    if (slash) {
        char *end = NULL;
        errno = 0;
        long p = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end != '\0' || p < 0)
            return MOCHI_ERR_INVALID;
        if (mapped)
            p -= 96;
        if (p < 0 || p > max)
            return MOCHI_ERR_INVALID;
        cidr->prefix = (int)p;
    }
    return 0;
}

int mochi_cidr_list_parse(const char *text, struct mochi_cidr_list *list, char *err, size_t errlen)
{
    list->items = NULL;
    list->count = 0;
    if (text == NULL)
        return 0;
    /* Entries are separated by commas and spaces alike: count both, so that
     * "10.0.0.1 10.0.1.1" gets room for two. */
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',' || *p == ' ';
    struct mochi_cidr *items = calloc(cap, sizeof(*items));
    if (items == NULL)
        return MOCHI_ERR_NOMEM;
    size_t count = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        size_t len = strcspn(p, ", ");
        char entry[128];
        bool ok = len < sizeof(entry);
        if (ok) {
            memcpy(entry, p, len);
            entry[len] = '\0';
            ok = parse_one_cidr(entry, &items[count]) == 0;
        }
        if (!ok) {
            /* The entry is quoted as printable ASCII ('?' for the rest), so
             * that the one error line stays one line of clean UTF-8. */
            char shown[65];
            size_t n = len < sizeof(shown) - 1 ? len : sizeof(shown) - 1;
            for (size_t i = 0; i < n; i++)
                shown[i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
            shown[n] = '\0';
            snprintf(err, errlen, "'%s' is not an IP address or CIDR", shown);
            free(items);
            return MOCHI_ERR_INVALID;
        }
        count++;
        p += len;
    }
    list->items = items;
    list->count = count;
    return 0;
}

void mochi_cidr_list_free(struct mochi_cidr_list *list)
{
    if (list == NULL)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static bool prefix_matches(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return false;
    int rest = bits % 8;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool mochi_cidr_list_contains(const struct mochi_cidr_list *list, int family, const void *addr)
{
    unsigned char a[16] = {0};
    if (family == AF_INET6 && memcmp(addr, v4_mapped_prefix, 12) == 0) {
        family = AF_INET;
        memcpy(a, (const unsigned char *)addr + 12, 4);
    } else {
        memcpy(a, addr, family == AF_INET ? 4 : 16);
    }
    for (size_t i = 0; i < list->count; i++) {
        const struct mochi_cidr *c = &list->items[i];
        if (c->family == family && prefix_matches(a, c->addr, c->prefix))
            return true;
    }
    return false;
}

int mochi_addr_format(const struct sockaddr *sa, char *buf, size_t size)
{
    if (sa == NULL)
        return MOCHI_ERR_INVALID;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)size) ? 0 : MOCHI_ERR_INVALID;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (memcmp(in6->sin6_addr.s6_addr, v4_mapped_prefix, 12) == 0)
            return inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, buf, (socklen_t)size)
                       ? 0
                       : MOCHI_ERR_INVALID;
        return inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)size) ? 0 : MOCHI_ERR_INVALID;
    }
    return MOCHI_ERR_INVALID;
}

int mochi_split_host_port(const char *text, char *host, size_t host_size, int *port)
{
    const char *colon;
    const char *hstart = text;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return MOCHI_ERR_INVALID;
        hstart = text + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            return MOCHI_ERR_INVALID;
        hlen = (size_t)(colon - text);
        if (memchr(text, ':', hlen) != NULL)
            return MOCHI_ERR_INVALID; /* bare IPv6 needs brackets */
    }
    if (hlen == 0 || hlen >= host_size)
        return MOCHI_ERR_INVALID;
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end != '\0' || p < 0 || p > 65535)
        return MOCHI_ERR_INVALID;
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

int mochi_sockaddr_binary(const struct sockaddr *sa, int *family, unsigned char addr[16])
{
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (sa != NULL && sa->sa_family == AF_INET) {
        *family = AF_INET;
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa != NULL && sa->sa_family == AF_INET6) {
        const unsigned char *a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        bool mapped = memcmp(a6, v4_mapped, sizeof(v4_mapped)) == 0;
        *family = mapped ? AF_INET : AF_INET6;
        memcpy(addr, mapped ? a6 + 12 : a6, mapped ? 4 : 16);
        return 0;
    }
    return MOCHI_ERR_INVALID;
}

int mochi_forwarded_client(const struct sockaddr *peer, const char *const *xff, size_t n,
                           const struct mochi_cidr_list *trusted, int *family,
                           unsigned char addr[16])
{
    int fam;
    unsigned char bin[16] = {0};
    if (mochi_sockaddr_binary(peer, &fam, bin) != 0)
        return MOCHI_ERR_INVALID;
    /* Walk the entries from the right, across the headers: each hop
     * appended the address it saw; the first one not ours is the client.
     * An entry that is not an address ends the walk: what stands to its
     * left cannot be believed. */
    bool walking = true;
    for (size_t h = n; walking && h-- > 0;) {
        const char *v = xff[h];
        size_t end = strlen(v);
        for (;;) {
            if (!mochi_cidr_list_contains(trusted, fam, bin)) {
                walking = false;
                break;
            }
            size_t start = end;
            while (start > 0 && v[start - 1] != ',')
                start--;
            size_t a = start, b = end;
            while (a < b && (v[a] == ' ' || v[a] == '\t'))
                a++;
            while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
                b--;
            char entry[64];
            int efam;
            unsigned char ebin[16];
            if (b == a || b - a >= sizeof(entry)) {
                walking = false;
                break;
            }
            memcpy(entry, v + a, b - a);
            entry[b - a] = '\0';
            if (mochi_addr_parse(entry, &efam, ebin) != 0) {
                walking = false;
                break;
            }
            fam = efam;
            memcpy(bin, ebin, sizeof(bin));
            if (start == 0)
                break; /* this header is done: on to the one before it */
            end = start - 1;
        }
    }
    *family = fam;
    memcpy(addr, bin, 16);
    return 0;
}
