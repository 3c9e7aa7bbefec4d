/*  gateway_session — who a session cookie belongs to (issue 16), the cookie counterpart of
    gateway_auth's API keys. The registry signs people in (services/registry/registry_sessions.c)
    and writes oim:session:<SHA-256 hex of the token> = SessionRecord (registry.proto) with
    TTL = the idle timeout; here, once per request carrying the cookie oim_session and no
    Authorization header, the gateway reads it, refuses it past its absolute end, extends its
    TTL (idle timeout, never past the end) and reads the organisation's standing like a key's.
    A session acts with its organisation's role; the daemons see the person in
    Principal.user_id / user_role / session_id.
    CSRF: every request with a session and a method other than GET/HEAD/OPTIONS must carry
    X-CSRF-Token equal to the session's token (compared in constant time), else 403 csrf.
    Cost: a GET and a PEXPIRE, plus the org's GET (as for keys), per cookie request.
*/
#ifndef GATEWAY_SESSION_H_INCLUDED
#define GATEWAY_SESSION_H_INCLUDED

#include "gateway_auth.h"

#define GATEWAY_SESSION_COOKIE "oim_session"

//  Finds the value of cookie name in a Cookie header ("a=1; oim_session=xyz") into out
//  (out_size bytes). Returns true when present, non-empty and fitting (pure).
bool gateway_session_cookie (const char *header, const char *name, char *out, size_t out_size);

//  Looks up the session whose token is token into auth: result OK (session set, role, org,
//  user, CSRF token, standing), FAILED (unknown, ended or past its end), UNAVAILABLE (Redis).
void gateway_session_lookup (oim_redis_t *redis, const char *token, int64_t now_ms,
                             gateway_auth_t *auth);

//  The same for a session already hashed (session_id: SHA-256 hex of its token), as an open
//  notification stream re-checks its session.
void gateway_session_lookup_hash (oim_redis_t *redis, const char *session_id, int64_t now_ms,
                                  gateway_auth_t *auth);

//  True when a session's request needs the CSRF token: method changes state (anything but
//  GET, HEAD, OPTIONS) and operation (the route's; NULL = none) is not one that acts by the
//  credentials or token in its own body rather than by the session's authority (signing in,
//  accepting an invitation, verifying an e-mail, password resets): a browser still holding a
//  session may sign in again without it. Login CSRF is left to SameSite=Lax.
bool gateway_session_needs_csrf (const char *method, const char *operation);

//  True when given (the X-CSRF-Token header, may be NULL) equals auth's token.
bool gateway_session_csrf_ok (const gateway_auth_t *auth, const char *given);

#endif
