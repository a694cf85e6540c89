#include "web/parse.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes value[0..len) into out; see web_form_field. */
static long decode(const char *value, size_t len, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = value[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (len - i < 3 || hexval(value[i + 1]) < 0 || hexval(value[i + 2]) < 0)
                return -2;
            c = (char)(hexval(value[i + 1]) * 16 + hexval(value[i + 2]));
            i += 2;
        }
        if (c == '\0' || n + 1 >= size)
            return -2;
        out[n++] = c;
    }
    out[n] = '\0';
    return (long)n;
}

long web_form_field(const char *body, size_t len, const char *name, char *out, size_t size)
{
    size_t name_len = strlen(name);
    size_t pos = 0;
    while (pos <= len && size > 0) {
        const char *pair = body + pos;
        const char *amp = memchr(pair, '&', len - pos);
        size_t pair_len = amp ? (size_t)(amp - pair) : len - pos;
        if (pair_len > name_len && memcmp(pair, name, name_len) == 0 && pair[name_len] == '=')
            return decode(pair + name_len + 1, pair_len - name_len - 1, out, size);
        if (pair_len == name_len && memcmp(pair, name, name_len) == 0) {
            out[0] = '\0';
            return 0;
        }
        if (amp == NULL)
            break;
        pos += pair_len + 1;
    }
    return -1;
}

bool web_cookie_value(const char *header, const char *name, char *out, size_t size)
{
    size_t name_len = strlen(name);
    const char *p = header;
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t item = end ? (size_t)(end - p) : strlen(p);
        if (item > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            const char *v = p + name_len + 1;
            size_t vlen = item - name_len - 1;
            while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (vlen + 1 > size)
                return false;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
        p = end;
    }
    return false;
}

bool web_local_path(const char *target)
{
    if (target == NULL || target[0] != '/' || target[1] == '/' || target[1] == '\\')
        return false;
    for (const char *p = target; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || *p == '\\')
            return false;
    return strlen(target) <= 2000;
}

char *web_base64url(const unsigned char *bytes, size_t len, char *out, size_t size)
{
    return sodium_bin2base64(out, size, bytes, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int web_base64url_decode(const char *text, unsigned char *out, size_t want)
{
    size_t got = 0;
    const char *end = NULL;
    if (strlen(text) !=
        sodium_base64_ENCODED_LEN(want, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1)
        return -1;
    if (sodium_base642bin(out, want, text, strlen(text), NULL, &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        got != want || *end != '\0')
        return -1;
    return 0;
}

bool web_url_authority(const char *value, char *out, size_t size)
{
    const char *rest;
    if (strncasecmp(value, "http://", 7) == 0)
        rest = value + 7;
    else if (strncasecmp(value, "https://", 8) == 0)
        rest = value + 8;
    else
        return false;
    size_t n = strcspn(rest, "/?#");
    if (n == 0 || n + 1 > size || memchr(rest, '@', n) != NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(rest[i] >= 'A' && rest[i] <= 'Z' ? rest[i] + 32 : rest[i]);
    out[n] = '\0';
    return true;
}
