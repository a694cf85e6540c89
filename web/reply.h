#ifndef WEB_REPLY_H
#define WEB_REPLY_H

/* Filling a web_reply: JSON documents and errors, HTML and CSV bodies,
 * redirects. */

#include <jansson.h>

#include "web/html.h"
#include "web/server.h"

#define WEB_JSON_TYPE "application/json; charset=utf-8"
#define WEB_HTML_TYPE "text/html; charset=utf-8"

/* Answers doc (the reference is taken) as JSON with status. */
void web_reply_json(struct web_reply *reply, unsigned int status, json_t *doc);
/* Answers {"error": message} with status. */
void web_reply_error(struct web_reply *reply, unsigned int status, const char *message);
/* Answers a database failure (rc from web/db.h): 503 with Retry-After
 * when the database cannot be reached, else 500. */
void web_reply_db_error(struct web_reply *reply, int rc);
/* Answers buf's text (taken; buf is left empty) with status and type; 500
 * when buf ran out of memory. */
void web_reply_buf(struct web_reply *reply, unsigned int status, const char *type,
                   struct web_buf *buf);
/* 303 See Other to location (a local path, copied). */
void web_reply_redirect(struct web_reply *reply, const char *location);

#endif
