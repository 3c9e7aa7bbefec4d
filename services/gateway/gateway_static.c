/*  gateway_static — see gateway_static.h. */
#include "gateway_static.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char gateway_static_csp [] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

static const struct { const char *extension; const char *type; } s_types [] = {
    { ".html",  "text/html; charset=utf-8" },
    { ".js",    "text/javascript; charset=utf-8" },
    { ".mjs",   "text/javascript; charset=utf-8" },
    { ".css",   "text/css; charset=utf-8" },
    { ".json",  "application/json; charset=utf-8" },
    { ".svg",   "image/svg+xml" },
    { ".png",   "image/png" },
    { ".ico",   "image/x-icon" },
    { ".woff2", "font/woff2" },
    { NULL, NULL }
};

const char *
gateway_static_type (const char *name)
{
    const char *dot = strrchr (name, '.');
    for (int i = 0; dot && s_types [i].extension; i++)
        if (strcmp (dot, s_types [i].extension) == 0)
            return s_types [i].type;
    return NULL;
}

//  One path segment: [A-Za-z0-9._-]+, not starting with a dot.
static bool
s_segment_ok (const char *segment, size_t len)
{
    return len > 0 && len < 128 && segment [0] != '.'
        && strspn (segment, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "0123456789._-") >= len;
}

bool
gateway_static_name_ok (const char *name)
{
    const char *slash = strchr (name, '/');
    if (!slash)
        return s_segment_ok (name, strlen (name)) && gateway_static_type (name);
    return !strchr (slash + 1, '/') && s_segment_ok (name, (size_t) (slash - name))
        && s_segment_ok (slash + 1, strlen (slash + 1)) && gateway_static_type (name);
}

unsigned
gateway_static_read (const char *root, const char *name, char **body, size_t *size,
                     const char **type)
{
    *body = NULL;
    *size = 0;
    *type = NULL;
    char path [2048];
    if (!gateway_static_name_ok (name)
    ||  snprintf (path, sizeof path, "%s/%s", root, name) >= (int) sizeof path)
        return 404;
    FILE *file = fopen (path, "rb");
    struct stat info;
    if (!file || fstat (fileno (file), &info) || !S_ISREG (info.st_mode)
    ||  info.st_size > GATEWAY_STATIC_MAX_BYTES) {
        if (file)
            fclose (file);
        return 404;
    }
    *body = malloc ((size_t) info.st_size + 1);
    *size = fread (*body, 1, (size_t) info.st_size, file);
    (*body) [*size] = 0;
    fclose (file);
    *type = gateway_static_type (name);
    return 200;
}

void
gateway_static_headers (struct MHD_Response *response)
{
    MHD_add_response_header (response, "Content-Security-Policy", gateway_static_csp);
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header (response, "Cache-Control", "no-cache");
}
