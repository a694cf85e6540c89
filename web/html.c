#include "web/html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for extra more bytes and the NUL. Returns false (and marks
 * the buffer failed) when out of memory. */
static bool reserve(struct web_buf *buf, size_t extra)
{
    if (buf->failed)
        return false;
    if (extra >= ((size_t)-1) / 4 - buf->len) {
        web_buf_free(buf);
        buf->failed = true;
        return false;
    }
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap)
        return true;
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < need)
        cap *= 2;
    char *data = realloc(buf->data, cap);
    if (data == NULL) {
        web_buf_free(buf);
        buf->failed = true;
        return false;
    }
    buf->data = data;
    buf->cap = cap;
    return true;
}

void web_buf_add(struct web_buf *buf, const char *s, size_t len)
{
    if (!reserve(buf, len))
        return;
    if (len > 0)
        memcpy(buf->data + buf->len, s, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void web_buf_puts(struct web_buf *buf, const char *s)
{
    web_buf_add(buf, s, strlen(s));
}

void web_buf_printf(struct web_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(buf, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
}

void web_buf_html(struct web_buf *buf, const char *s)
{
    if (s == NULL)
        return;
    const char *run = s; /* start of the bytes not yet copied */
    for (const char *p = s; *p != '\0'; p++) {
        const char *entity;
        switch (*p) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&#39;";
            break;
        default:
            continue;
        }
        web_buf_add(buf, run, (size_t)(p - run));
        web_buf_puts(buf, entity);
        run = p + 1;
    }
    web_buf_puts(buf, run);
}

void web_buf_urlencode(struct web_buf *buf, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            web_buf_add(buf, (const char *)p, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            web_buf_add(buf, esc, 3);
        }
    }
}

char *web_buf_take(struct web_buf *buf, size_t *len)
{
    if (buf->failed || !reserve(buf, 0)) {
        web_buf_free(buf);
        return NULL;
    }
    buf->data[buf->len] = '\0'; /* an empty buffer was never written */
    char *data = buf->data;
    if (len != NULL)
        *len = buf->len;
    buf->data = NULL;
    buf->len = buf->cap = 0;
    return data;
}

void web_buf_free(struct web_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
    buf->failed = false;
}
