#include "common/domain.h"
#include "common/error.h"
#include "common/utf8.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int mochi_domain_normalize(const char *in, char *out, size_t size, char *err, size_t errlen)
{
    size_t len = strlen(in);
    if (len == 0 || len > MOCHI_DOMAIN_MAX || len + 1 > size) {
        snprintf(err, errlen, "a domain has 1 to %d characters", MOCHI_DOMAIN_MAX);
        return MOCHI_ERR_INVALID;
    }
    if (strstr(in, "://") != NULL) {
        snprintf(err, errlen, "give the host name only, without a scheme (example.com)");
        return MOCHI_ERR_INVALID;
    }
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63) {
                snprintf(err, errlen, "each dot-separated label has 1 to 63 characters");
                return MOCHI_ERR_INVALID;
            }
            if (in[i - 1] == '-' || in[i - label] == '-') {
                snprintf(err, errlen, "a label cannot start or end with '-'");
                return MOCHI_ERR_INVALID;
            }
            label = 0;
        } else if (isalnum(c) || c == '-') {
            label++;
        } else {
            snprintf(err, errlen,
                     "only letters, digits, '-' and '.' are allowed (no port, path or space)");
            return MOCHI_ERR_INVALID;
        }
        out[i] = (char)tolower(c);
    }
    return 0;
}

bool mochi_host_matches_domain(const char *host, size_t len, const char *domain)
{
    size_t dlen = strlen(domain);
    if (len == dlen)
        return strncasecmp(host, domain, len) == 0;
    if (len > dlen && host[len - dlen - 1] == '.')
        return strncasecmp(host + len - dlen, domain, dlen) == 0;
    return false;
}

size_t mochi_domain_source(const char *host, size_t len, char *out, size_t size)
{
    if (len > 0 && host[len - 1] == '.')
        len--;
    /* "www." alone is a host of one label, not a prefix */
    if (len > 4 && strncasecmp(host, "www.", 4) == 0) {
        host += 4;
        len -= 4;
    }
    len = mochi_utf8_cut(host, len, size - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    out[len] = '\0';
    return len;
}
