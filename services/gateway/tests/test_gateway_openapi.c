/*  Unit tests for GET /v1/openapi.json's document (gateway_openapi.c): every route of the
    table is described (a route added without a description line fails here), every $ref
    resolves, schemas follow the protobuf descriptors' field names, list replies carry the
    envelope and their old names as deprecated aliases.
*/
#include "gateway_openapi.h"
#include "gateway_routes.h"

#include <stdio.h>
#include <string.h>

static int s_passed, s_failed;
#define CHECK(cond) do { \
    if (cond) s_passed++; \
    else { s_failed++; fprintf (stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

//  Counts the $refs under value that do not resolve in document.
static int
s_dangling (json_t *document, json_t *value)
{
    int bad = 0;
    if (json_is_object (value)) {
        const char *key;
        json_t *child;
        json_object_foreach (value, key, child) {
            if (strcmp (key, "$ref") == 0) {
                const char *ref = json_string_value (child);
                char section [32], name [96];
                if (sscanf (ref, "#/components/%31[^/]/%95s", section, name) != 2
                ||  !json_object_get (json_object_get (json_object_get (document, "components"),
                                                       section), name)) {
                    fprintf (stderr, "dangling %s\n", ref);
                    bad++;
                }
            }
            else
                bad += s_dangling (document, child);
        }
    }
    else
    if (json_is_array (value)) {
        size_t i;
        json_t *child;
        json_array_foreach (value, i, child)
            bad += s_dangling (document, child);
    }
    return bad;
}

static json_t *
s_operation (json_t *document, const char *path, const char *method)
{
    return json_object_get (json_object_get (json_object_get (document, "paths"), path), method);
}

int
main (void)
{
    char missing [256] = "";
    bool complete = gateway_openapi_complete (missing, sizeof missing);
    if (!complete)
        fprintf (stderr, "route without a description in gateway_openapi.c: %s\n", missing);
    CHECK (complete);

    json_t *doc = gateway_openapi_document ();
    CHECK (strcmp (json_string_value (json_object_get (doc, "openapi")), "3.1.0") == 0);
    CHECK (s_dangling (doc, doc) == 0);
    int routes = 0, found = 0;
    for (const gateway_route_t *r = gateway_routes_table (); r->method; r++, routes++) {
        char method [8];
        snprintf (method, sizeof method, "%s", r->method);
        for (char *c = method; *c; c++)
            *c = (char) (*c - 'A' + 'a');
        found += s_operation (doc, r->pattern, method) != NULL;
    }
    CHECK (routes > 50 && found == routes);

    json_t *schemas = json_object_get (json_object_get (doc, "components"), "schemas");
    json_t *org = json_object_get (json_object_get (schemas, "Organization"), "properties");
    CHECK (json_object_get (org, "business_number"));           //  the .proto's field names
    CHECK (strcmp (json_string_value (json_object_get (json_object_get (org, "version"),
                   "format")), "int64") == 0);
    CHECK (json_object_get (schemas, "Budget"));                 //  nested messages follow

    json_t *list = s_operation (doc, "/v1/notifications", "get");
    json_t *props = json_object_get (json_object_get (json_object_get (json_object_get (
        json_object_get (json_object_get (list, "responses"), "2XX"), "content"),
        "application/json"), "schema"), "properties");
    CHECK (json_object_get (props, "items") && json_object_get (props, "next_cursor"));
    CHECK (json_is_true (json_object_get (json_object_get (props, "notifications"), "deprecated")));

    json_t *get = s_operation (doc, "/v1/orgs/{id}", "get");
    json_t *param = json_array_get (json_object_get (get, "parameters"), 0);
    CHECK (strcmp (json_string_value (json_object_get (param, "name")), "id") == 0);
    CHECK (json_object_get (json_object_get (doc, "components"), "securitySchemes"));
    json_decref (doc);
    printf ("gateway_openapi: %d passed, %d failed (%d routes)\n", s_passed, s_failed, routes);
    return s_failed? 1: 0;
}
