/*  registry_sessions — signing in and out (issue 16): POST /v1/sessions, GET and DELETE
    /v1/sessions/current.

    A session is a random 32-byte token (base64url) in the cookie oim_session (HttpOnly,
    SameSite=Lax, Path=/, Secure when OIM_COOKIE_SECURE=1 or the request came over TLS per the
    gateway's ApiRequest.forwarded_https); Redis keeps only oim:session:<SHA-256 hex> =
    SessionRecord with TTL = the idle timeout, which the gateway extends on each use up to the
    absolute end. The CSRF token is random as well and returned in the body (the gateway
    checks X-CSRF-Token against the record on every state-changing cookie request).

    Throttling: failed sign-ins count in oim:signin:fails:u:<e-mail> and :a:<client address>
    (INCR, EXPIRE NX = the window); at the limit (5 per account, 20 per address in 15 min by
    default) sign-in answers 429 with Retry-After = the counter's remaining TTL, before the
    password is checked. A success clears the account's counter. Unknown e-mails cost the
    same hash verification as known ones and give the same 401 invalid_credentials.
*/
#include "registry_request.h"

#include <sodium.h>

//  Seconds the throttle still holds name's counter at or past limit; 0 when not throttled,
//  -1 when Redis failed.
static int64_t
s_throttled (registry_t *self, const char *name, int64_t limit)
{
    char key [REGISTRY_EMAIL_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_SIGNIN_FAILS, name);
    redisReply *r = oim_redis_command (self->redis, "GET %s", key);
    if (!r)
        return -1;
    long long fails = r->type == REDIS_REPLY_STRING? atoll (r->str): 0;
    freeReplyObject (r);
    if (fails < limit)
        return 0;
    r = oim_redis_command (self->redis, "TTL %s", key);
    int64_t ttl = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0? r->integer: 1;
    if (r)
        freeReplyObject (r);
    return ttl;
}

//  Counts a failure of name in the window.
static void
s_count_failure (registry_t *self, const char *name)
{
    char key [REGISTRY_EMAIL_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_SIGNIN_FAILS, name);
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    char window [32];
    snprintf (window, sizeof window, "%lld", (long long) registry_accounts_cfg (self)->signin_window_s);
    oim_redis_tx_strs (tx, "INCR", key, NULL);
    oim_redis_tx_strs (tx, "EXPIRE", key, window, "NX", NULL);
    oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
}

//  The person with this (lower-case) e-mail: 1 with *user, 0 none, -1 Redis failed.
static int
s_user_by_email (registry_t *self, const char *lower, Oim__V1__User **user)
{
    char key [REGISTRY_EMAIL_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_EMAIL, lower);
    redisReply *id = oim_redis_command (self->redis, "GET %s", key);
    if (!id)
        return -1;
    int rc = 0;
    if (id->type == REDIS_REPLY_STRING) {
        snprintf (key, sizeof key, OIM_KEY_USER, id->str);
        rc = registry_store_get (self->redis, key, &oim__v1__user__descriptor, (ProtobufCMessage **) user);
    }
    freeReplyObject (id);
    return rc;
}

//  The body of POST /v1/sessions and GET /v1/sessions/current.
static json_t *
s_session_json (const Oim__V1__SessionRecord *session, const Oim__V1__User *user,
                const Oim__V1__Organization *org)
{
    char at [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (session->expires_ms, at);
    json_t *org_json = oim_pbjson_encode (&org->base, 0);
    json_object_del (org_json, "deleted");
    registry_infer_json (org_json, org->n_tags, org->n_industries);
    return json_pack ("{s:{s:s},s:s,s:o,s:o}", "session", "expires_at", at,
                      "csrf_token", session->csrf_token,
                      "user", registry_accounts_user_json (user, false), "org", org_json);
}

static void
s_cookie (registry_t *self, const Oim__V1__ApiRequest *request, oim_api_reply_t *reply,
          const char *token, int64_t max_age_s)
{
    bool secure = registry_accounts_cfg (self)->cookie_secure || request->forwarded_https;
    char cookie [256];
    snprintf (cookie, sizeof cookie, "oim_session=%s; Path=/; Max-Age=%lld; HttpOnly; "
              "SameSite=Lax%s", token, (long long) max_age_s, secure? "; Secure": "");
    oim_api_header (reply, "Set-Cookie", cookie);
}

//  Drops the hashes of user_id's sessions that have expired from its set (Redis expired the
//  sessions themselves; the set would otherwise grow with every sign-in). Best effort.
static void
s_prune_sessions (registry_t *self, const char *user_id)
{
    char key [OIM_KEY_SIZE], session [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_USER_SESSIONS, user_id);
    redisReply *all = oim_redis_command (self->redis, "SMEMBERS %s", key);
    for (size_t i = 0; all && all->type == REDIS_REPLY_ARRAY && i < all->elements; i++) {
        snprintf (session, sizeof session, OIM_KEY_SESSION, all->element [i]->str);
        redisReply *exists = oim_redis_command (self->redis, "EXISTS %s", session);
        if (exists && exists->type == REDIS_REPLY_INTEGER && exists->integer == 0) {
            redisReply *removed = oim_redis_command (self->redis, "SREM %s %s", key, all->element [i]->str);
            if (removed)
                freeReplyObject (removed);
        }
        if (exists)
            freeReplyObject (exists);
    }
    if (all)
        freeReplyObject (all);
}

//  Opens a session for user (of org): writes it and sets the 201 reply with its cookie.
static void
s_open (registry_t *self, const Oim__V1__ApiRequest *request, const registry_actor_t *actor,
        const Oim__V1__User *user, const Oim__V1__Organization *org, oim_api_reply_t *reply)
{
    const registry_accounts_cfg_t *cfg = registry_accounts_cfg (self);
    char token [64], hash [65], csrf [64], csrf_hash [65], key [OIM_KEY_SIZE], ttl [32];
    s_prune_sessions (self, user->id);
    registry_token_new (token, hash);
    registry_token_new (csrf, csrf_hash);
    Oim__V1__SessionRecord session = OIM__V1__SESSION_RECORD__INIT;
    session.user_id = user->id;
    session.org_id = org->id;
    session.role = registry_role_of_kind (org->kind);
    session.user_role = user->role;
    session.csrf_token = csrf;
    session.created_ms = oim_clock_wall_ms ();
    session.expires_ms = session.created_ms + cfg->session_max_ms;
    session.idle_ms = cfg->session_idle_ms < cfg->session_max_ms? cfg->session_idle_ms
                                                                 : cfg->session_max_ms;
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    snprintf (key, sizeof key, OIM_KEY_SESSION, hash);
    registry_tx_put (tx, key, &session.base);
    snprintf (ttl, sizeof ttl, "%lld", (long long) session.idle_ms);
    oim_redis_tx_strs (tx, "PEXPIRE", key, ttl, NULL);
    snprintf (key, sizeof key, OIM_KEY_USER_SESSIONS, user->id);
    oim_redis_tx_strs (tx, "SADD", key, hash, NULL);
    registry_tx_audit (tx, actor, "session.create", "user", user->id, NULL);
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    if (rc)
        registry_reply_unavailable (reply);
    else {
        oim_api_ok (reply, 201, s_session_json (&session, user, org));
        s_cookie (self, request, reply, token, cfg->session_max_ms / 1000);
        oim_info ("event=signed_in user=%s org=%s", user->id, org->id);
    }
    sodium_memzero (token, sizeof token);
}

//  Checks the password of the account at lower: 1 with *user when right, 0 wrong or unknown
//  (after the same work), -1 Redis failed.
static int
s_credentials (registry_t *self, const char *lower, const char *password, Oim__V1__User **user)
{
    int rc = s_user_by_email (self, lower, user);
    if (rc == -1)
        return -1;
    bool right = registry_accounts_check (self, rc == 1? (*user)->password_hash
                                                       : registry_accounts_cfg (self)->dummy_hash, password);
    if (rc == 1 && right)
        return 1;
    if (*user)
        protobuf_c_message_free_unpacked (&(*user)->base, NULL);
    *user = NULL;
    return 0;
}

//  Signs in the checked user: the org must exist and not be suspended.
static void
s_sign_in (registry_t *self, const Oim__V1__ApiRequest *request, const registry_actor_t *actor,
           const Oim__V1__User *user, oim_api_reply_t *reply)
{
    Oim__V1__Organization *org = NULL;
    int rc = registry_store_org (self->redis, user->org_id, &org);
    if (rc == -1)
        registry_reply_unavailable (reply);
    else
    if (rc == 0 || org->deleted)
        oim_api_error (reply, 401, "invalid_credentials", NULL, "wrong e-mail or password");
    else
    if (strcmp (org->status, "suspended") == 0)
        oim_api_error (reply, 403, "org_suspended", NULL, "your organization is suspended");
    else
        s_open (self, request, actor, user, org, reply);
    if (org)
        protobuf_c_message_free_unpacked (&org->base, NULL);
}

void
registry_session_create (oim_service_t *service, const Oim__V1__ApiRequest *request,
                         oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    const registry_accounts_cfg_t *cfg = registry_accounts_cfg (self);
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return;
    const char *email = json_string_value (json_object_get (body, "email"));
    const char *password = json_string_value (json_object_get (body, "password"));
    char lower [256] = "", account [300], address [160];
    bool shaped = email && password && registry_email_normal (email, lower);
    snprintf (account, sizeof account, "u:%s", lower);
    snprintf (address, sizeof address, "a:%s", request->client_address? request->client_address: "");
    int64_t wait = shaped? s_throttled (self, account, cfg->fails_account): 0;
    if (wait == 0)
        wait = s_throttled (self, address, cfg->fails_address);
    Oim__V1__User *user = NULL;
    int rc = wait? 0: shaped? s_credentials (self, lower, password, &user): 0;
    if (wait < 0 || rc < 0)
        registry_reply_unavailable (reply);
    else
    if (wait) {
        char seconds [32];
        snprintf (seconds, sizeof seconds, "%lld", (long long) wait);
        oim_api_error (reply, 429, "rate_limited", NULL, "too many failed sign-ins: retry after "
                       "%s seconds", seconds);
        oim_api_header (reply, "Retry-After", seconds);
    }
    else
    if (rc == 0) {
        if (shaped)
            s_count_failure (self, account);
        s_count_failure (self, address);
        oim_api_error (reply, 401, "invalid_credentials", NULL, "wrong e-mail or password");
        oim_info ("event=sign_in_failed address=%s", address + 2);
    }
    else {
        char key [REGISTRY_EMAIL_KEY_SIZE];
        snprintf (key, sizeof key, OIM_KEY_SIGNIN_FAILS, account);
        redisReply *r = oim_redis_command (self->redis, "DEL %s", key);
        if (r)
            freeReplyObject (r);
        s_sign_in (self, request, &actor, user, reply);
    }
    if (user)
        protobuf_c_message_free_unpacked (&user->base, NULL);
    json_decref (body);
}

//  The requester's session record, person and organisation. 0, or -1 with 401/503 set.
static int
s_current (registry_t *self, const registry_actor_t *actor, Oim__V1__SessionRecord **session,
           Oim__V1__User **user, Oim__V1__Organization **org, oim_api_reply_t *reply)
{
    const char *id = actor->principal->session_id;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_SESSION, id? id: "");
    int rc = id && *id? registry_store_get (self->redis, key, &oim__v1__session_record__descriptor,
                                            (ProtobufCMessage **) session): 0;
    snprintf (key, sizeof key, OIM_KEY_USER, rc == 1? (*session)->user_id: "");
    rc = rc == 1? registry_store_get (self->redis, key, &oim__v1__user__descriptor,
                                      (ProtobufCMessage **) user): rc;
    rc = rc == 1? registry_store_org (self->redis, (*user)->org_id, org): rc;
    if (rc == 1)
        return 0;
    if (rc == -1)
        registry_reply_unavailable (reply);
    else
        oim_api_error (reply, 401, "unauthorized", NULL, "not signed in");
    return -1;
}

void
registry_session_current (oim_service_t *service, const Oim__V1__ApiRequest *request,
                          oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    Oim__V1__SessionRecord *session = NULL;
    Oim__V1__User *user = NULL;
    Oim__V1__Organization *org = NULL;
    if (s_current (self, &actor, &session, &user, &org, reply) == 0) {
        if (org->deleted)
            oim_api_error (reply, 401, "unauthorized", NULL, "your organization was deleted");
        else
        if (strcmp (org->status, "suspended") == 0)
            oim_api_error (reply, 403, "org_suspended", NULL, "your organization is suspended");
        else
            oim_api_ok (reply, 200, s_session_json (session, user, org));
    }
    if (session)
        protobuf_c_message_free_unpacked (&session->base, NULL);
    if (user)
        protobuf_c_message_free_unpacked (&user->base, NULL);
    if (org)
        protobuf_c_message_free_unpacked (&org->base, NULL);
}

void
registry_session_delete (oim_service_t *service, const Oim__V1__ApiRequest *request,
                         oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    const char *id = actor.principal->session_id, *user_id = actor.principal->user_id;
    if (!id || !*id)
        return oim_api_error (reply, 401, "unauthorized", NULL, "not signed in");
    char key [OIM_KEY_SIZE];
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    snprintf (key, sizeof key, OIM_KEY_SESSION, id);
    oim_redis_tx_strs (tx, "DEL", key, NULL);
    snprintf (key, sizeof key, OIM_KEY_USER_SESSIONS, user_id);
    oim_redis_tx_strs (tx, "SREM", key, id, NULL);
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    if (rc)
        return registry_reply_unavailable (reply);
    oim_api_ok (reply, 204, NULL);
    s_cookie (self, request, reply, "", 0);
}
