/*  gateway_auth — who an API key is, and whether its organisation is in good standing.
    The one place the gateway reads oim:apikey:<sha256 hex> (ApiKeyRecord) and oim:org:<id>
    (Organization, written by the registry): HTTP requests (gateway_http.c) ask once per
    request, open SSE streams (gateway_sse.c) ask again every few seconds.
    A key whose organisation is pending, suspended, deleted or gone is "not in standing": the
    HTTP side treats it as anonymous except for GET /v1/whoami and reading its own organisation.
    Keys without an organisation (publishers) are always in standing.
    Not cached: measured here, the two GETs cost 75-110 us on GET /v1/whoami (220-270 us in
    all) and 30-80 us on a forwarded request (~800 us), while a cache would let a revoked key
    or a suspended organisation through for its lifetime.
*/
#ifndef GATEWAY_AUTH_H_INCLUDED
#define GATEWAY_AUTH_H_INCLUDED

#include <stdbool.h>
#include "oim_redis.h"

#define GATEWAY_KEY_HASH_SIZE 65    //  SHA-256 hex + NUL

typedef enum {
    GATEWAY_AUTH_NONE,              //  no Authorization header: anonymous
    GATEWAY_AUTH_OK,                //  a known key
    GATEWAY_AUTH_FAILED,            //  malformed header or unknown key
    GATEWAY_AUTH_UNAVAILABLE        //  Redis did not answer
} gateway_auth_result_t;

typedef struct {
    gateway_auth_result_t result;
    char key_hash [GATEWAY_KEY_HASH_SIZE];
    int role;                       //  Oim__V1__Role of the key
    char key_id [64];
    char org_id [64];
    char source_system [128];
    char org_status [16];           //  "active", "pending", "suspended", "deleted", "unknown"; "" without org
    bool in_standing;               //  no org, or an active one
    //  A session cookie instead of a key (gateway_session.h; issue 16)
    bool session;
    char session_id [GATEWAY_KEY_HASH_SIZE];    //  SHA-256 hex of the cookie's token
    char user_id [64];
    char user_role [16];            //  "owner" | "member"
    char csrf_token [64];
} gateway_auth_t;

//  Reads an Authorization header value (NULL or "" = anonymous): the scheme "Bearer" in any
//  case, one space, the key. Fills auth; never fails otherwise (result says what happened).
void gateway_auth_header (oim_redis_t *redis, const char *header, gateway_auth_t *auth);

//  Looks up a key by its hash and its organisation's status into auth (result OK, FAILED when
//  the key is gone, UNAVAILABLE when Redis did not answer).
void gateway_auth_lookup (oim_redis_t *redis, const char *key_hash, gateway_auth_t *auth);

//  Finishes a lookup in one round trip: reads the reply of the one command the caller has
//  just appended (a best-effort touch: a key's last-used mark, a session's new expiry; the
//  reply is discarded) and, when auth names an organisation, its status into auth
//  (org_status, in_standing), whose GET this appends. Returns 0, or -1 when Redis did not
//  answer.
int gateway_auth_touch_and_status (oim_redis_t *redis, gateway_auth_t *auth);

#endif
