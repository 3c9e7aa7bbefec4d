/*  registry_accounts — people of organisations (issue 16): password rules and hashing, the
    account body of POST /v1/orgs and POST /v1/agency/staff, the people of an org (list,
    remove), and who may manage an org's people and keys.

    A person is oim:user:<id> = User (registry.proto) with oim:email:<lower-case e-mail> -> id
    (unique) and oim:org:<id>:users; written with an audit entry in one MULTI/EXEC, never in
    the change log. Passwords are hashed with crypto_pwhash_str (Argon2id, OPSLIMIT/MEMLIMIT
    INTERACTIVE: 2 passes over 64 MiB); the hash is the only form ever stored, the password
    is wiped from the decoded body's memory after hashing. Removing a person deletes their
    sessions in the same transaction, so the gateway refuses their very next request.
*/
#include "registry_request.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>

struct registry_accounts_t {
    registry_accounts_cfg_t cfg;
};

registry_accounts_t *
registry_accounts_new (oim_config_t *config)
{
    registry_accounts_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    registry_accounts_cfg_t *cfg = &self->cfg;
    cfg->session_idle_ms = oim_config_int (config, "session-idle-s", 28800) * 1000;
    cfg->session_max_ms = oim_config_int (config, "session-max-s", 604800) * 1000;
    cfg->invite_ttl_ms = oim_config_int (config, "invite-ttl-s", 604800) * 1000;
    cfg->verify_ttl_ms = oim_config_int (config, "verify-ttl-s", 172800) * 1000;
    cfg->reset_ttl_ms = oim_config_int (config, "reset-ttl-s", 3600) * 1000;
    cfg->signin_window_s = oim_config_int (config, "signin-window-s", 900);
    cfg->fails_account = oim_config_int (config, "signin-fails-account", 5);
    cfg->fails_address = oim_config_int (config, "signin-fails-address", 20);
    cfg->cookie_secure = oim_config_int (config, "cookie-secure", 0) == 1;
    snprintf (cfg->public_url, sizeof cfg->public_url, "%s", oim_config_get (config, "public-url"));
    size_t len = strlen (cfg->public_url);
    if (len && cfg->public_url [len - 1] == '/')
        cfg->public_url [len - 1] = 0;
    if (cfg->session_idle_ms < 1000 || cfg->session_max_ms < 1000 || cfg->signin_window_s < 1
    ||  registry_password_hash ("a password nobody has", cfg->dummy_hash)) {
        oim_error ("event=accounts_config_invalid reason=\"session times and the sign-in window "
                   "must be >= 1 s\"");
        free (self);
        return NULL;
    }
    return self;
}

void
registry_accounts_destroy (registry_accounts_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

const registry_accounts_cfg_t *
registry_accounts_cfg (registry_t *self)
{
    return &self->accounts->cfg;
}

//  ---------------------------------------------------------------------------------------
//  Pure helpers

bool
registry_password_ok (const char *password)
{
    if (!password || strlen (password) > REGISTRY_PASSWORD_MAX)
        return false;
    size_t code_points = 0;
    for (const unsigned char *p = (const unsigned char *) password; *p; p++)
        code_points += (*p & 0xC0) != 0x80;
    return code_points >= REGISTRY_PASSWORD_MIN;
}

int
registry_password_hash (const char *password, char *out)
{
    return crypto_pwhash_str (out, password, strlen (password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

bool
registry_password_check (const char *hash, const char *password)
{
    return hash && *hash && password
        && crypto_pwhash_str_verify (hash, password, strlen (password)) == 0;
}

bool
registry_email_normal (const char *email, char *out)
{
    size_t len = email? strlen (email): 0;
    const char *at = email? strchr (email, '@'): NULL;
    if (len == 0 || len > 254 || !at || at == email || strchr (at + 1, '@'))
        return false;
    const char *dot = strrchr (at + 1, '.');
    if (!dot || dot == at + 1 || !dot [1])
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) email [i];
        if (c <= ' ' || c == 0x7F || c == '<' || c == '>' || c == ',' || c == ';' || c == '"')
            return false;
        out [i] = (char) tolower (c);
    }
    out [len] = 0;
    return true;
}

void
registry_token_new (char *token, char *hash_hex)
{
    uint8_t random [32];
    randombytes_buf (random, sizeof random);
    sodium_bin2base64 (token, sodium_base64_ENCODED_LEN (32, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                       random, sizeof random, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    registry_keys_hash (token, hash_hex);
}

//  ---------------------------------------------------------------------------------------
//  Hashing off the loop: Argon2id takes 0.2-0.5 s here, longer than the broker's liveness
//  window in tests (3 x 250 ms) under load. The hash runs in a thread while the loop's thread
//  keeps the broker link alive (oim_service_keepalive); other requests still wait.

typedef struct {
    const char *password, *hash;    //  check: hash given; else out receives a new hash
    char *out;
    int rc;                         //  hash: 0 or -1; check: 1 match, 0 not
    bool done;
    pthread_mutex_t lock;
} s_hash_job_t;

static void *
s_hash_thread (void *arg)
{
    s_hash_job_t *job = arg;
    int rc = job->hash? registry_password_check (job->hash, job->password)
                      : registry_password_hash (job->password, job->out);
    pthread_mutex_lock (&job->lock);
    job->rc = rc;
    job->done = true;
    pthread_mutex_unlock (&job->lock);
    return NULL;
}

//  Runs job in a thread, heartbeating until it is done. Returns job->rc (a thread that cannot
//  start: the work runs here).
static int
s_hash_run (registry_t *self, s_hash_job_t *job)
{
    pthread_mutex_init (&job->lock, NULL);
    pthread_t thread;
    if (pthread_create (&thread, NULL, s_hash_thread, job))
        s_hash_thread (job);
    else {
        for (bool done = false; !done; ) {
            zclock_sleep (20);
            if (self->service)
                oim_service_keepalive (self->service);
            pthread_mutex_lock (&job->lock);
            done = job->done;
            pthread_mutex_unlock (&job->lock);
        }
        pthread_join (thread, NULL);
    }
    pthread_mutex_destroy (&job->lock);
    return job->rc;
}

int
registry_accounts_hash (registry_t *self, const char *password, char *out)
{
    s_hash_job_t job = { .password = password, .out = out };
    return s_hash_run (self, &job);
}

bool
registry_accounts_check (registry_t *self, const char *hash, const char *password)
{
    s_hash_job_t job = { .password = password, .hash = hash? hash: "" };
    return s_hash_run (self, &job) == 1;
}

//  ---------------------------------------------------------------------------------------
//  Creating a person

json_t *
registry_accounts_user_json (const Oim__V1__User *user, bool full)
{
    json_t *json = json_pack ("{s:s,s:s,s:s,s:s,s:b}", "id", user->id, "email", user->email,
                              "name", user->name, "role", user->role,
                              "email_verified", user->email_verified);
    if (full)
        json_object_set_new (json, "created_at", json_string (user->created_at));
    return json;
}

//  The string member name of body, or NULL with a 422 naming prefix + name set.
static const char *
s_field (json_t *body, const char *prefix, const char *name, oim_api_reply_t *reply)
{
    const char *value = json_string_value (json_object_get (body, name));
    if (!value) {
        char field [64];
        snprintf (field, sizeof field, "%s%s", prefix, name);
        oim_api_error (reply, 422, "unprocessable", field, "%s is required (a string)", field);
    }
    return value;
}

//  The checked fields of an account body into user (e-mail as given, name NFC). 0 or -1 with
//  the reply set.
static int
s_account_fields (registry_t *self, json_t *body, const char *prefix, Oim__V1__User *user,
                  char *lower, oim_api_reply_t *reply)
{
    char field [64];
    const char *email = s_field (body, prefix, "email", reply);
    const char *password = email? s_field (body, prefix, "password", reply): NULL;
    const char *name = password? s_field (body, prefix, "name", reply): NULL;
    if (!name)
        return -1;
    snprintf (field, sizeof field, "%semail", prefix);
    if (!registry_email_normal (email, lower))
        return oim_api_error (reply, 422, "unprocessable", field, "not an e-mail address"), -1;
    snprintf (field, sizeof field, "%spassword", prefix);
    if (!registry_password_ok (password))
        return oim_api_error (reply, 422, "unprocessable", field, "a password has at least %d "
                              "characters", REGISTRY_PASSWORD_MIN), -1;
    registry_set_string (&user->email, email);
    registry_set_string (&user->name, name);
    registry_err_t err;
    snprintf (field, sizeof field, "%sname", prefix);
    if (registry_validate_text (&user->name, field, 200, true, false, &err))
        return registry_reply_err (reply, &err), -1;
    char hash [crypto_pwhash_STRBYTES];
    if (registry_accounts_hash (self, password, hash))
        return oim_api_error (reply, 503, "unavailable", NULL, "out of memory hashing"), -1;
    registry_set_string (&user->password_hash, hash);
    return 0;
}

//  WATCHes the e-mail's index: 0 free, 1 taken, -1 Redis failed.
static int
s_email_taken (registry_t *self, const char *lower)
{
    char key [REGISTRY_EMAIL_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_EMAIL, lower);
    return registry_store_watch_exists (self->redis, key);
}

Oim__V1__User *
registry_accounts_decode (registry_t *self, json_t *body, const char *prefix, const char *org_id,
                          const char *role, bool verified, oim_api_reply_t *reply)
{
    if (!json_is_object (body)) {
        char field [64];
        snprintf (field, sizeof field, "%.*s", (int) strlen (prefix) - 1, prefix);
        oim_api_error (reply, 400, "invalid", *field? field: NULL, "must be an object");
        return NULL;
    }
    Oim__V1__User *user = calloc (1, sizeof *user);
    oim__v1__user__init (user);
    char lower [256], id [OIM_ID_SIZE], now [OIM_RFC3339_SIZE], field [64];
    if (s_account_fields (self, body, prefix, user, lower, reply) == 0) {
        int taken = s_email_taken (self, lower);
        snprintf (field, sizeof field, "%semail", prefix);
        if (taken == 0) {
            oim_id_new ("usr", id);
            oim_clock_rfc3339 (oim_clock_wall_ms (), now);
            registry_set_string (&user->id, id);
            registry_set_string (&user->org_id, org_id);
            registry_set_string (&user->role, role);
            registry_set_string (&user->created_at, now);
            user->email_verified = verified;
            return user;
        }
        oim_redis_tx_unwatch (self->redis);
        if (taken == 1)
            oim_api_error (reply, 409, "conflict", field, "this e-mail address has an account");
        else
            registry_reply_unavailable (reply);
    }
    protobuf_c_message_free_unpacked (&user->base, NULL);
    return NULL;
}

void
registry_accounts_tx_insert (registry_t *self, oim_redis_tx_t *tx, const registry_actor_t *actor,
                             const Oim__V1__User *user)
{
    char key [REGISTRY_EMAIL_KEY_SIZE], lower [256];
    registry_email_normal (user->email, lower);
    snprintf (key, sizeof key, OIM_KEY_USER, user->id);
    registry_tx_put (tx, key, &user->base);
    snprintf (key, sizeof key, OIM_KEY_EMAIL, lower);
    oim_redis_tx_strs (tx, "SET", key, user->id, NULL);
    snprintf (key, sizeof key, OIM_KEY_ORG_USERS, user->org_id);
    registry_tx_zset (tx, true, key, user->id);
    registry_tx_audit (tx, actor, "user.create", "user", user->id, user->role);
    if (user->email_verified)
        return;
    Oim__V1__TokenRecord record = OIM__V1__TOKEN_RECORD__INIT;
    record.kind = "verify";
    record.user_id = user->id;
    registry_tokens_tx_mail (self, tx, &record, registry_accounts_cfg (self)->verify_ttl_ms,
        user->email, "[OI 마켓] 이메일 주소 확인 / Verify your e-mail address",
        "OI 마켓 계정의 이메일 주소를 확인해 주세요.\nPlease confirm the e-mail address of your "
        "OI Market account:\n\n%s\n", "/#/verify-email/");
}

int
registry_accounts_tx_end_sessions (registry_t *self, oim_redis_tx_t *tx, const char *user_id)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_USER_SESSIONS, user_id);
    redisReply *r = oim_redis_command (self->redis, "SMEMBERS %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject (r);
        return -1;
    }
    for (size_t i = 0; i < r->elements; i++) {
        char session [OIM_KEY_SIZE];
        snprintf (session, sizeof session, OIM_KEY_SESSION, r->element [i]->str);
        oim_redis_tx_strs (tx, "DEL", session, NULL);
    }
    oim_redis_tx_strs (tx, "DEL", key, NULL);
    freeReplyObject (r);
    return 0;
}

void
registry_accounts_reply_created (oim_api_reply_t *reply, int rc, json_t *body)
{
    if (rc == 0)
        return oim_api_ok (reply, 201, body);
    json_decref (body);
    if (rc == 1)
        oim_api_error (reply, 409, "conflict", "email", "this e-mail address has an account");
    else
        registry_reply_unavailable (reply);
}

bool
registry_accounts_may_manage (const registry_actor_t *actor, const char *org_id,
                              oim_api_reply_t *reply)
{
    const Oim__V1__Principal *p = actor->principal;
    bool owner = !p->user_id || !*p->user_id || strcmp (p->user_role, "owner") == 0;
    bool own = org_id && p->org_id && strcmp (p->org_id, org_id) == 0
            && p->role != OIM__V1__ROLE__ROLE_ANONYMOUS && p->role != OIM__V1__ROLE__ROLE_PUBLISHER;
    if (owner && (own || registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY)))
        return true;
    oim_api_error (reply, 403, "forbidden", NULL, own? "only an owner of the organization may "
                   "do this": "only the organization's owners or the agency may do this");
    return false;
}

//  ---------------------------------------------------------------------------------------
//  Handlers: agency staff, the people of an org

void
registry_staff_create (oim_service_t *service, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY) || *actor.principal->user_id)
        return oim_api_error (reply, 403, "forbidden", NULL, "agency staff are added with the "
                              "agency's API key");
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return;
    Oim__V1__User *user = registry_accounts_decode (self, body, "", actor.principal->org_id,
                                                    "owner", true, reply);
    json_decref (body);
    if (!user)
        return;
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    registry_accounts_tx_insert (self, tx, &actor, user);
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    registry_accounts_reply_created (reply, rc, registry_accounts_user_json (user, true));
    protobuf_c_message_free_unpacked (&user->base, NULL);
}

int
registry_accounts_org_visible (registry_t *self, const Oim__V1__ApiRequest *request, const registry_actor_t *actor,
               oim_api_reply_t *reply)
{
    const char *id = oim_api_param (request, "id");
    const Oim__V1__Principal *p = actor->principal;
    if (!registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY) && !(id && strcmp (p->org_id, id) == 0))
        return oim_api_error (reply, 403, "forbidden", NULL, "only the organization's people "
                              "and the agency see its people"), -1;
    Oim__V1__Organization *org = (Oim__V1__Organization *) registry_load_live (self, request,
        "org", OIM_KEY_ORG, &oim__v1__organization__descriptor, "organization", false, reply);
    if (!org)
        return -1;
    protobuf_c_message_free_unpacked (&org->base, NULL);
    return 0;
}

Oim__V1__User *
registry_accounts_member_load (registry_t *self, const Oim__V1__ApiRequest *request,
                               oim_api_reply_t *reply)
{
    const char *org_id = oim_api_param (request, "id"), *user_id = oim_api_param (request, "user_id");
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_USER, user_id? user_id: "");
    Oim__V1__User *user = NULL;
    int found = oim_redis_tx_watch (self->redis, key)
              ? -1: registry_store_get (self->redis, key, &oim__v1__user__descriptor,
                                        (ProtobufCMessage **) &user);
    if (found == 1 && org_id && strcmp (user->org_id, org_id) == 0)
        return user;
    oim_redis_tx_unwatch (self->redis);
    if (found == -1)
        registry_reply_unavailable (reply);
    else
        oim_api_error (reply, 404, "not_found", "user_id", "no such person in this organization");
    if (user)
        protobuf_c_message_free_unpacked (&user->base, NULL);
    return NULL;
}

//  Removes user (record, e-mail index, org's people, sessions) with an audit entry; answers
//  204/409/503.
static void
s_remove (registry_t *self, const registry_actor_t *actor, const Oim__V1__User *user,
          oim_api_reply_t *reply)
{
    char key [REGISTRY_EMAIL_KEY_SIZE], lower [256];
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    snprintf (key, sizeof key, OIM_KEY_USER, user->id);
    oim_redis_tx_strs (tx, "DEL", key, NULL);
    registry_email_normal (user->email, lower);
    snprintf (key, sizeof key, OIM_KEY_EMAIL, lower);
    oim_redis_tx_strs (tx, "DEL", key, NULL);
    snprintf (key, sizeof key, OIM_KEY_ORG_USERS, user->org_id);
    registry_tx_zset (tx, false, key, user->id);
    registry_tx_audit (tx, actor, "user.remove", "user", user->id, user->org_id);
    int rc = registry_accounts_tx_end_sessions (self, tx, user->id)
           ? -1: oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    registry_reply_tx (reply, rc, 204, NULL);
}


void
registry_member_remove (oim_service_t *service, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_accounts_may_manage (&actor, oim_api_param (request, "id"), reply))
        return;
    Oim__V1__User *user = registry_accounts_member_load (self, request, reply);
    if (!user)
        return;
    if (registry_members_keep_owner (self, user, true, reply) == 0)
        s_remove (self, &actor, user, reply);
    if (reply->status != 204)
        oim_redis_tx_unwatch (self->redis);
    protobuf_c_message_free_unpacked (&user->base, NULL);
}
