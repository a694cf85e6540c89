#include "web/reply.h"
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reply_static(struct web_reply *reply, unsigned int status, const char *type,
                         const char *text)
{
    reply->status = status;
    reply->content_type = type;
    reply->body = text;
    reply->len = strlen(text);
    reply->body_owned = false;
}

void web_reply_json(struct web_reply *reply, unsigned int status, json_t *doc)
{
    /* Reals are only lag_seconds, rounded to tenths: printed as such. */
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(doc);
    if (text == NULL) {
        reply_static(reply, 500, WEB_JSON_TYPE, "{\"error\": \"out of memory\"}");
        return;
    }
    reply->status = status;
    reply->content_type = WEB_JSON_TYPE;
    reply->body = text;
    reply->len = strlen(text);
    reply->body_owned = true;
}

void web_reply_error(struct web_reply *reply, unsigned int status, const char *message)
{
    web_reply_json(reply, status, json_pack("{s:s}", "error", message));
}

void web_reply_db_error(struct web_reply *reply, int rc)
{
    if (rc == MOCHI_ERR_AGAIN) {
        web_reply_error(reply, 503, "database unavailable, try again shortly");
        reply->retry_after_s = 5;
    } else if (rc == MOCHI_ERR_NOMEM) {
        web_reply_error(reply, 500, "out of memory");
    } else {
        web_reply_error(reply, 500, "database error (logged)");
    }
}

void web_reply_buf(struct web_reply *reply, unsigned int status, const char *type,
                   struct web_buf *buf)
{
    size_t len = 0;
    char *text = web_buf_take(buf, &len);
    if (text == NULL) {
        reply_static(reply, 500, "text/plain; charset=utf-8", "out of memory\n");
        return;
    }
    reply->status = status;
    reply->content_type = type;
    reply->body = text;
    reply->len = len;
    reply->body_owned = true;
}

void web_reply_redirect(struct web_reply *reply, const char *location)
{
    reply_static(reply, 303, WEB_HTML_TYPE, "");
    snprintf(reply->location, sizeof(reply->location), "%s", location);
}
