#ifndef WEB_API_H
#define WEB_API_H

/* The JSON API and the CSV export of one site (docs/web-api.md "JSON
 * API"), once app.c has decided who asks and that they may. */

#include <stdbool.h>

#include "web/app.h"

/* True when endpoint ("summary", "export.csv", ...) is one of the API's. */
bool web_api_endpoint_known(const char *endpoint);

/* Answers GET <api base>/<endpoint> for site. */
void web_api_handle(struct web_app *app, const struct web_request *req, const struct web_site *site,
                    const char *endpoint, struct web_reply *reply);

#endif
