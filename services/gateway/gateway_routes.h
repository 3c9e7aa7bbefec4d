/*  gateway_routes — the one table that maps the HTTP API (SPEC §3) onto the daemons: for each
    method and path pattern, the owning service, the operation name its handler is registered
    under (Header.method), and whether a valid API key is required. Role and ownership checks
    are the owning daemon's, which knows the entities; the gateway only authenticates.
*/
#ifndef GATEWAY_ROUTES_H_INCLUDED
#define GATEWAY_ROUTES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *method;         //  "GET", "POST", ...
    const char *pattern;        //  "/v1/orgs/{id}/approve": {name} matches one segment
    const char *service;        //  "registry", ...; "gateway" for the gateway's own endpoints
    const char *operation;      //  "org.approve"
    bool auth;                  //  true: 401 without a valid key
} gateway_route_t;

#define GATEWAY_MAX_PARAMS 4

typedef struct {
    char names [GATEWAY_MAX_PARAMS][32];
    char values [GATEWAY_MAX_PARAMS][128];
    int count;
} gateway_params_t;

//  Finds the route for method and path and fills params. Returns NULL when none matches; then
//  *path_known tells whether the path matches with another method (405), and allow lists the
//  methods that do ("GET, POST").
const gateway_route_t *gateway_routes_match (const char *method, const char *path,
                                             gateway_params_t *params, bool *path_known,
                                             char *allow, size_t allow_size);

//  The whole table, ended by an entry whose method is NULL (gateway_openapi.c describes it).
const gateway_route_t *gateway_routes_table (void);

#endif
