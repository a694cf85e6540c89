#ifndef WEB_HTML_H
#define WEB_HTML_H

/* A growable text buffer for the answers mochi-web writes (HTML, CSV,
 * headers), and the one escaping function for HTML text and attribute
 * values. Not thread-safe: one buffer per request. */

#include <stdbool.h>
#include <stddef.h>

struct web_buf {
    char *data; /* NUL-terminated while not failed; owned */
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed: every later append is a no-op */
};

/* An empty buffer; nothing is allocated until the first append. */
#define WEB_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

/* Appends len bytes of s. On allocation failure sets failed. */
void web_buf_add(struct web_buf *buf, const char *s, size_t len);
/* Appends a NUL-terminated string. */
void web_buf_puts(struct web_buf *buf, const char *s);
/* Appends printf-formatted text. */
void web_buf_printf(struct web_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s with the five characters that HTML gives a meaning escaped:
 * & < > " ' become &amp; &lt; &gt; &quot; &#39;. The result is safe as
 * element text and as a double- or single-quoted attribute value. Every
 * value that does not come from this program's own source goes through
 * here. NULL appends nothing. */
void web_buf_html(struct web_buf *buf, const char *s);
/* Appends s percent-encoded as a URL query component (RFC 3986 unreserved
 * characters kept). */
void web_buf_urlencode(struct web_buf *buf, const char *s);

/* Returns the text (caller owns it, free()) and resets buf, or NULL when
 * an allocation failed (buf is freed then). *len receives the length when
 * len is not NULL. */
char *web_buf_take(struct web_buf *buf, size_t *len);
/* Frees the text and clears failed: the buffer is empty and usable again. */
void web_buf_free(struct web_buf *buf);

#endif
