/*  Unit tests for the gateway's route table: parameters, 404 vs 405, Allow lists. */
#include "gateway_routes.h"

#include <stdio.h>
#include <string.h>

static int s_passed, s_failed;
#define CHECK(cond) do { \
    if (cond) s_passed++; \
    else { s_failed++; fprintf (stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

int
main (void)
{
    gateway_params_t params;
    bool known;
    char allow [64];
    const gateway_route_t *r = gateway_routes_match ("POST", "/v1/orgs/org_1/approve", &params,
                                                     &known, allow, sizeof allow);
    CHECK (r && strcmp (r->operation, "org.approve") == 0);
    CHECK (params.count == 1 && strcmp (params.names [0], "id") == 0
           && strcmp (params.values [0], "org_1") == 0);
    r = gateway_routes_match ("GET", "/v1/orgs/org_1", &params, &known, allow, sizeof allow);
    CHECK (r && strcmp (r->operation, "org.get") == 0);
    CHECK (strcmp (allow, "GET, PATCH, DELETE") == 0);
    r = gateway_routes_match ("PUT", "/v1/orgs/org_1", &params, &known, allow, sizeof allow);
    CHECK (!r && known);
    r = gateway_routes_match ("GET", "/v1/orgs/org_1/nothing", &params, &known, allow, sizeof allow);
    CHECK (!r && !known);
    r = gateway_routes_match ("GET", "/v1/orgs//matches", &params, &known, allow, sizeof allow);
    CHECK (!r);                                 //  an empty segment is not an id
    r = gateway_routes_match ("GET", "/v1/notifications/stream", &params, &known, allow, sizeof allow);
    CHECK (r && strcmp (r->operation, "notification.stream") == 0);
    r = gateway_routes_match ("GET", "/healthz", &params, &known, allow, sizeof allow);
    CHECK (r && !r->auth);
    printf ("gateway_routes: %d passed, %d failed\n", s_passed, s_failed);
    return s_failed? 1: 0;
}
