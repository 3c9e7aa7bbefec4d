/*  gateway_static — the web app's files, read from one directory (OIM_WEB_ROOT).

    The gateway serves the single-page app at "/" (index.html) and its files under "/app/"
    (app/<file>, app/<dir>/<file>). A name is one or two segments of [A-Za-z0-9_-] and dots,
    never starting with a dot (no "..", no hidden files); only known extensions are served,
    each with its content type; anything else is a 404. Every file goes out with a strict
    Content-Security-Policy (scripts, styles, images and connections from the gateway only,
    no inline script or style, no framing), nosniff and no-referrer.
*/
#ifndef GATEWAY_STATIC_H_INCLUDED
#define GATEWAY_STATIC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <microhttpd.h>

#define GATEWAY_STATIC_MAX_BYTES (8 * 1024 * 1024)

//  The Content-Security-Policy every file of the app is served with.
extern const char gateway_static_csp [];

//  The content type of name by its extension, or NULL when it is not served.
const char *gateway_static_type (const char *name);

//  True when name (relative, e.g. "app.js" or "vendor/chart.min.js") may be served.
bool gateway_static_name_ok (const char *name);

//  Reads root/name into *body (malloc'd, NUL-terminated) and *size; *type gets its content
//  type. Returns 200, or 404 (bad name, unknown extension, not a regular file, too large).
unsigned gateway_static_read (const char *root, const char *name, char **body, size_t *size,
                              const char **type);

//  Adds the security headers (CSP, nosniff, no-referrer, no-cache) to a file's response.
void gateway_static_headers (struct MHD_Response *response);

#endif
