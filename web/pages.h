#ifndef WEB_PAGES_H
#define WEB_PAGES_H

/* The HTML pages (docs/web-api.md "Pages"), rendered on the server with
 * every number in them; every value not from this file is escaped with
 * web_buf_html. No inline script or style: the Content-Security-Policy
 * forbids both. */

#include "web/app.h"

/* The login form, with status (200, 401, 403, 429) and an optional
 * message; next is the local path to go to after login (or NULL). */
void web_page_login(struct web_reply *reply, unsigned int status, const char *message,
                    const char *next);
/* The sites the session's user may see, with today's numbers. */
void web_page_sites(struct web_app *app, const struct web_viewer *viewer, struct web_reply *reply);
/* A site's dashboard for the request's range. */
void web_page_dashboard(struct web_app *app, const struct web_request *req,
                        const struct web_viewer *viewer, const struct web_site *site,
                        struct web_reply *reply);
/* A page saying what went wrong (403, 404, 400, 503...). viewer may be
 * NULL (no account links then). */
void web_page_error(struct web_reply *reply, unsigned int status, const char *title,
                    const char *message, const struct web_viewer *viewer);

#endif
