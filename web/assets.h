#ifndef WEB_ASSETS_H
#define WEB_ASSETS_H

/* The files of web/assets/, embedded at build time by
 * cmake/embed_assets.cmake (one C array each) and served under
 * /static/<name>. */

#include <stddef.h>

struct web_asset {
    const char *name; /* path below web/assets/: "app.js", "vendor/x.css" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* "\"<first 32 hex digits of the SHA-256>\"" */
};

/* The generated table, ended by an entry whose name is NULL. */
extern const struct web_asset web_assets[];

/* The asset called name, or NULL. */
const struct web_asset *web_asset_find(const char *name);

/* Content-Type for a file name by its extension; application/octet-stream
 * for one this does not know. */
const char *web_content_type(const char *name);

#endif
