/*  registry_tokens — single-use tokens sent by e-mail (issue 16): invitations (7 d), e-mail
    verification (48 h), password resets (1 h); lifetimes OIM_INVITE_TTL_SEC, ...

    A token is 32 random bytes in base64url. Redis keeps only its SHA-256: oim:token:<hash> =
    TokenRecord with the token's lifetime as TTL. Using a token WATCHes that key, checks it,
    and deletes it in the MULTI/EXEC that does what it allows: two uses racing make one EXEC
    fail, so a token works once. An unknown, used or expired token is 404 token_invalid.

    The e-mail goes out through oim-notify's SMTP path: the registry writes the message
    (oim:mail:account:<id> = hash to/subject/text) and its job "a:<id>" in oim:mail:due in the
    same transaction as the token (durable: a notify that is down sends it when it is back,
    with notify's lease and retries). The message holds the token in clear until notify has
    sent it and deleted the hash (TTL 7 d if it never does): the one place a token is stored.
*/
#include "registry_request.h"

#include <sodium.h>

#define MAIL_KEEP_S 604800

void
registry_tokens_tx_mail (registry_t *self, oim_redis_tx_t *tx, const Oim__V1__TokenRecord *record,
                         int64_t ttl_ms, const char *to, const char *subject, const char *intro,
                         const char *link_path)
{
    char token [64], hash [65], key [OIM_KEY_SIZE], ttl [32], job [OIM_ID_SIZE + 2], due [32];
    registry_token_new (token, hash);
    Oim__V1__TokenRecord copy = *record;
    copy.expires_ms = oim_clock_wall_ms () + ttl_ms;
    snprintf (key, sizeof key, OIM_KEY_TOKEN, hash);
    registry_tx_put (tx, key, &copy.base);
    snprintf (ttl, sizeof ttl, "%lld", (long long) ttl_ms);
    oim_redis_tx_strs (tx, "PEXPIRE", key, ttl, NULL);
    char *text = NULL;
    if (asprintf (&text, "%s\n\n%s%s%s\n", intro, registry_accounts_cfg (self)->public_url,
                  link_path, token) < 0)
        text = NULL;
    memcpy (job, "a:", 2);
    oim_id_new ("mail", job + 2);
    snprintf (key, sizeof key, OIM_KEY_MAIL_ACCOUNT, job + 2);
    oim_redis_tx_strs (tx, "HSET", key, "to", to, "subject", subject, "text", text? text: "", NULL);
    snprintf (ttl, sizeof ttl, "%d", MAIL_KEEP_S);
    oim_redis_tx_strs (tx, "EXPIRE", key, ttl, NULL);
    snprintf (due, sizeof due, "%lld", (long long) oim_clock_wall_ms ());
    oim_redis_tx_strs (tx, "ZADD", OIM_KEY_MAIL_DUE, due, job, NULL);
    free (text);
    sodium_memzero (token, sizeof token);
}

//  WATCHes and reads the token named by the "token" parameter, of kind. Returns it (caller
//  frees) or NULL with 404 token_invalid / 503 set and the WATCH released. key_out receives
//  its Redis key.
static Oim__V1__TokenRecord *
s_token_take (registry_t *self, const Oim__V1__ApiRequest *request, const char *kind,
              char *key_out, oim_api_reply_t *reply)
{
    const char *token = oim_api_param (request, "token");
    char hash [65];
    registry_keys_hash (token? token: "", hash);
    snprintf (key_out, OIM_KEY_SIZE, OIM_KEY_TOKEN, hash);
    Oim__V1__TokenRecord *record = NULL;
    int rc = oim_redis_tx_watch (self->redis, key_out)
           ? -1: registry_store_get (self->redis, key_out, &oim__v1__token_record__descriptor,
                                     (ProtobufCMessage **) &record);
    if (rc == 1 && strcmp (record->kind, kind) == 0 && record->expires_ms > oim_clock_wall_ms ())
        return record;
    oim_redis_tx_unwatch (self->redis);
    if (record)
        protobuf_c_message_free_unpacked (&record->base, NULL);
    if (rc == -1)
        registry_reply_unavailable (reply);
    else
        oim_api_error (reply, 404, "token_invalid", "token", "this link is unknown, used or "
                       "expired: ask for a new one");
    return NULL;
}

//  Runs tx (which deletes the token) and sets 204 / token_invalid / 503; destroys tx.
static void
s_commit (registry_t *self, oim_redis_tx_t **tx_p, oim_api_reply_t *reply, json_t *ok_body)
{
    int rc = oim_redis_tx_exec (*tx_p, self->redis);
    oim_redis_tx_destroy (tx_p);
    if (rc == 0)
        oim_api_ok (reply, ok_body? 201: 204, ok_body);
    else {
        json_decref (ok_body);
        if (rc == 1)
            oim_api_error (reply, 404, "token_invalid", "token", "this link was used meanwhile");
        else
            registry_reply_unavailable (reply);
    }
}

//  ---------------------------------------------------------------------------------------
//  Invitations

void
registry_invitation_create (oim_service_t *service, const Oim__V1__ApiRequest *request,
                            oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    const char *org_id = oim_api_param (request, "id");
    if (!registry_accounts_may_manage (&actor, org_id, reply))
        return;
    Oim__V1__Organization *org = (Oim__V1__Organization *) registry_load_live (self, request,
        "org", OIM_KEY_ORG, &oim__v1__organization__descriptor, "organization", false, reply);
    json_t *body = org? oim_api_body (request, reply): NULL;
    const char *email = json_string_value (json_object_get (body, "email"));
    const char *role = json_string_value (json_object_get (body, "role"));
    char lower [256], key [REGISTRY_EMAIL_KEY_SIZE];
    role = role? role: "member";
    if (!body)
        ;
    else
    if (!registry_email_normal (email, lower))
        oim_api_error (reply, 422, "unprocessable", "email", "not an e-mail address");
    else
    if (strcmp (role, "owner") && strcmp (role, "member"))
        oim_api_error (reply, 422, "unprocessable", "role", "role is owner or member");
    else {
        snprintf (key, sizeof key, OIM_KEY_EMAIL, lower);
        int taken = registry_store_watch_exists (self->redis, key);
        oim_redis_tx_unwatch (self->redis);
        char id [OIM_ID_SIZE], at [OIM_RFC3339_SIZE];
        oim_id_new ("inv", id);
        Oim__V1__TokenRecord record = OIM__V1__TOKEN_RECORD__INIT;
        record.kind = "invite";
        record.org_id = org->id;
        record.email = (char *) email;
        record.role = (char *) role;
        record.invitation_id = id;
        int64_t ttl = registry_accounts_cfg (self)->invite_ttl_ms;
        oim_clock_rfc3339 (oim_clock_wall_ms () + ttl, at);
        char intro [1024];
        snprintf (intro, sizeof intro, "%s 조직이 OI 마켓에 초대했습니다.\nYou are invited to join "
                  "%s on OI Market:", org->name, org->name);
        oim_redis_tx_t *tx = oim_redis_tx_new ();
        registry_tokens_tx_mail (self, tx, &record, ttl, email,
                                 "[OI 마켓] 초대 / Invitation", intro, "/#/accept-invitation/");
        registry_tx_audit (tx, &actor, "invitation.create", "org", org->id, role);
        int rc = taken? taken: oim_redis_tx_exec (tx, self->redis);
        oim_redis_tx_destroy (&tx);
        registry_accounts_reply_created (reply, rc, json_pack ("{s:s,s:s,s:s,s:s}", "id", id,
                                         "email", email, "role", role, "expires_at", at));
    }
    json_decref (body);
    if (org)
        protobuf_c_message_free_unpacked (&org->base, NULL);
}

void
registry_invitation_accept (oim_service_t *service, const Oim__V1__ApiRequest *request,
                            oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    json_t *body = oim_api_body (request, reply);
    char key [OIM_KEY_SIZE];
    Oim__V1__TokenRecord *record = body? s_token_take (self, request, "invite", key, reply): NULL;
    if (record) {
        json_object_set_new (body, "email", json_string (record->email));
        Oim__V1__User *user = registry_accounts_decode (self, body, "", record->org_id,
                                                        record->role, true, reply);
        if (user) {
            oim_redis_tx_t *tx = oim_redis_tx_new ();
            oim_redis_tx_strs (tx, "DEL", key, NULL);
            registry_accounts_tx_insert (self, tx, &actor, user);
            s_commit (self, &tx, reply, registry_accounts_user_json (user, true));
            protobuf_c_message_free_unpacked (&user->base, NULL);
        }
        else
            oim_redis_tx_unwatch (self->redis);
        protobuf_c_message_free_unpacked (&record->base, NULL);
    }
    json_decref (body);
}

//  ---------------------------------------------------------------------------------------
//  E-mail verification and password resets

//  Loads the token's person (WATCHed with the token). NULL with the reply set.
static Oim__V1__User *
s_token_user (registry_t *self, const Oim__V1__TokenRecord *record, char *user_key,
              oim_api_reply_t *reply)
{
    snprintf (user_key, OIM_KEY_SIZE, OIM_KEY_USER, record->user_id);
    Oim__V1__User *user = NULL;
    int rc = oim_redis_tx_watch (self->redis, user_key)
           ? -1: registry_store_get (self->redis, user_key, &oim__v1__user__descriptor,
                                     (ProtobufCMessage **) &user);
    if (rc == 1)
        return user;
    oim_redis_tx_unwatch (self->redis);
    if (rc == -1)
        registry_reply_unavailable (reply);
    else
        oim_api_error (reply, 404, "token_invalid", "token", "the account is gone");
    return NULL;
}

void
registry_email_verify (oim_service_t *service, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    char key [OIM_KEY_SIZE], user_key [OIM_KEY_SIZE];
    Oim__V1__TokenRecord *record = s_token_take (self, request, "verify", key, reply);
    Oim__V1__User *user = record? s_token_user (self, record, user_key, reply): NULL;
    if (user) {
        user->email_verified = true;
        oim_redis_tx_t *tx = oim_redis_tx_new ();
        oim_redis_tx_strs (tx, "DEL", key, NULL);
        registry_tx_put (tx, user_key, &user->base);
        s_commit (self, &tx, reply, NULL);
        protobuf_c_message_free_unpacked (&user->base, NULL);
    }
    if (record)
        protobuf_c_message_free_unpacked (&record->base, NULL);
}

void
registry_password_reset_request (oim_service_t *service, const Oim__V1__ApiRequest *request,
                                 oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    json_t *body = oim_api_body (request, reply);
    const char *email = json_string_value (json_object_get (body, "email"));
    char lower [256], key [REGISTRY_EMAIL_KEY_SIZE];
    if (body && !registry_email_normal (email, lower))
        oim_api_error (reply, 422, "unprocessable", "email", "not an e-mail address");
    else
    if (body) {
        snprintf (key, sizeof key, OIM_KEY_EMAIL, lower);
        redisReply *id = oim_redis_command (self->redis, "GET %s", key);
        Oim__V1__User *user = NULL;
        if (id && id->type == REDIS_REPLY_STRING) {
            snprintf (key, sizeof key, OIM_KEY_USER, id->str);
            registry_store_get (self->redis, key, &oim__v1__user__descriptor, (ProtobufCMessage **) &user);
        }
        int rc = id? 0: -1;
        if (user) {
            Oim__V1__TokenRecord record = OIM__V1__TOKEN_RECORD__INIT;
            record.kind = "reset";
            record.user_id = user->id;
            oim_redis_tx_t *tx = oim_redis_tx_new ();
            registry_tokens_tx_mail (self, tx, &record, registry_accounts_cfg (self)->reset_ttl_ms,
                user->email, "[OI 마켓] 비밀번호 재설정 / Password reset",
                "아래 링크에서 새 비밀번호를 정하세요. 요청하지 않았다면 무시하세요.\nSet a new "
                "password at the link below (ignore this e-mail if you did not ask):", "/#/reset-password/");
            registry_tx_audit (tx, &actor, "password_reset.request", "user", user->id, NULL);
            rc = oim_redis_tx_exec (tx, self->redis);
            oim_redis_tx_destroy (&tx);
            protobuf_c_message_free_unpacked (&user->base, NULL);
        }
        if (id)
            freeReplyObject (id);
        if (rc)
            registry_reply_unavailable (reply);
        else
            oim_api_ok (reply, 202, json_pack ("{s:s}", "status", "accepted"));
    }
    json_decref (body);
}

void
registry_password_reset_confirm (oim_service_t *service, const Oim__V1__ApiRequest *request,
                                 oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    json_t *body = oim_api_body (request, reply);
    const char *password = json_string_value (json_object_get (body, "password"));
    char key [OIM_KEY_SIZE], user_key [OIM_KEY_SIZE], hash [crypto_pwhash_STRBYTES];
    if (body && !registry_password_ok (password))
        oim_api_error (reply, 422, "unprocessable", "password", "a password has at least %d "
                       "characters", REGISTRY_PASSWORD_MIN);
    else
    if (body && registry_accounts_hash (self, password, hash))
        oim_api_error (reply, 503, "unavailable", NULL, "out of memory hashing");
    else
    if (body) {
        Oim__V1__TokenRecord *record = s_token_take (self, request, "reset", key, reply);
        Oim__V1__User *user = record? s_token_user (self, record, user_key, reply): NULL;
        if (user) {
            registry_set_string (&user->password_hash, hash);
            user->email_verified = true;        //  the link proved the mailbox
            oim_redis_tx_t *tx = oim_redis_tx_new ();
            oim_redis_tx_strs (tx, "DEL", key, NULL);
            registry_tx_put (tx, user_key, &user->base);
            registry_tx_audit (tx, &actor, "password_reset", "user", user->id, NULL);
            if (registry_accounts_tx_end_sessions (self, tx, user->id) == 0)
                s_commit (self, &tx, reply, NULL);
            else {
                oim_redis_tx_destroy (&tx);
                oim_redis_tx_unwatch (self->redis);
                registry_reply_unavailable (reply);
            }
            protobuf_c_message_free_unpacked (&user->base, NULL);
        }
        if (record)
            protobuf_c_message_free_unpacked (&record->base, NULL);
    }
    json_decref (body);
}
