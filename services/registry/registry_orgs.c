/*  registry_orgs — organizations (create, read, update, approve, suspend, delete, key
    rotation) and the bootstrap agency (publishers: registry_publishers.c).

    Rights: the agency may do everything; a company or startup reads and updates its own
    organization; anonymous callers may self-register a startup or a
    company (status "pending" until the agency approves). Pending, suspended and deleted
    organizations are invisible (404) to everyone but themselves and the agency; contacts
    (email, phone, business_number) are shown only to the organization itself and the agency.
    Every change: new state + change-log entry + audit entry + counters in one MULTI/EXEC.
    A business registration number is claimed (oim:bizno:<number> -> org id, unique) by an
    active or suspended organization only: created by the agency, or approved. Pending
    self-registrations claim nothing (two may give the same number; whoever is approved
    first holds it, and approving the other is 409 naming business_number); deleting frees
    the number only when the organization holds it.
    An org's keys (several, named) are registry_apikeys.c's; its people registry_accounts.c's
    (POST /v1/orgs may carry the first one as "account"). Keys never enter the change log.
*/
#include "registry_request.h"

#include <sodium.h>

static const char *s_org_deny [] = { "id", "status", "created_at", "updated_at", "version", "source", "source_sequence",
                                     "deleted", REGISTRY_INFER_READ_ONLY, NULL };
static const char *s_org_update_deny [] = { "id", "kind", "status", "created_at", "updated_at", "source", "source_sequence",
                                            "version", "deleted", REGISTRY_INFER_READ_ONLY, NULL };

json_t *
registry_org_json (const Oim__V1__Organization *org, bool full)
{
    json_t *json = oim_pbjson_encode (&org->base, 0);
    json_object_del (json, "deleted");
    json_object_del (json, "source_sequence");
    if (!org->source || !*org->source->system)
        json_object_del (json, "source");
    registry_infer_json (json, org->n_tags, org->n_industries);
    if (!full) {
        json_object_del (json, "email");
        json_object_del (json, "phone");
        json_object_del (json, "business_number");
    }
    return json;
}

static void
s_reply_org (oim_api_reply_t *reply, uint32_t status, const Oim__V1__Organization *org,
             bool full, const char *api_key)
{
    json_t *json = registry_org_json (org, full);
    if (api_key)
        json_object_set_new (json, "api_key", json_string (api_key));
    char etag [32];
    snprintf (etag, sizeof etag, "\"%lld\"", (long long) org->version);
    oim_api_ok (reply, status, json);
    oim_api_header (reply, "ETag", etag);
}

static void
s_count_org (oim_redis_tx_t *tx, const Oim__V1__Organization *org, int delta)
{
    char field [64];
    snprintf (field, sizeof field, "org:%s:%s", org->kind, org->status);
    registry_tx_count (tx, field, delta);
}

static bool
s_is_self (const registry_actor_t *actor, const char *org_id)
{
    return actor->principal->org_id && strcmp (actor->principal->org_id, org_id) == 0
        && (registry_is (actor, OIM__V1__ROLE__ROLE_COMPANY)
            || registry_is (actor, OIM__V1__ROLE__ROLE_STARTUP)
            || registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY));
}

//  True when org's status holds a business number: active or suspended (approved once).
static bool
s_claiming (const Oim__V1__Organization *org)
{
    return !org->deleted
        && (strcmp (org->status, "active") == 0 || strcmp (org->status, "suspended") == 0);
}

//  True when org holds (or, written now, claims) a business number.
static bool
s_claims_bizno (const Oim__V1__Organization *org)
{
    return s_claiming (org) && *org->business_number;
}

//  Who holds a business number: WATCHes its key (the transaction that follows decides on
//  it) and reads it. Returns 0 nobody, 1 own_id, 2 another organization, -1 Redis failed.
static int
s_bizno_holder (oim_redis_t *redis, const char *bizno, const char *own_id)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_BIZNO, bizno);
    if (oim_redis_tx_watch (redis, key))
        return -1;
    redisReply *reply = oim_redis_command (redis, "GET %s", key);
    if (!reply)
        return -1;
    int rc = reply->type != REDIS_REPLY_STRING? 0: strcmp (reply->str, own_id)? 2: 1;
    freeReplyObject (reply);
    return rc;
}

//  Checks that no other org holds this business number. Returns 0 free, 1 taken, -1 Redis.
static int
s_bizno_taken (oim_redis_t *redis, const char *bizno, const char *own_id)
{
    int holder = s_bizno_holder (redis, bizno, own_id);
    return holder < 0? -1: holder == 2? 1: 0;
}

//  Writes a new org with its key: the transaction shared by create and bootstrap.
//  Returns oim_redis_tx_exec's result.
//  api_key (the key itself, for its prefix) is installed as the org's key "initial"; user,
//  when given, is the org's first person.
static int
s_insert_org (registry_t *self, const registry_actor_t *actor, Oim__V1__Organization *org,
              const char *api_key, const char *key_hash, const Oim__V1__User *user)
{
    oim_redis_t *redis = self->redis;
    char key [OIM_KEY_SIZE], key_id [OIM_ID_SIZE];
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    snprintf (key, sizeof key, OIM_KEY_ORG, org->id);
    registry_tx_put (tx, key, &org->base);
    oim_redis_tx_strs (tx, "ZADD", OIM_KEY_ORGS, "0", org->id, NULL);
    if (strcmp (org->kind, "agency") == 0)
        oim_redis_tx_strs (tx, "SADD", OIM_KEY_AGENCIES, org->id, NULL);
    if (s_claims_bizno (org)) {
        snprintf (key, sizeof key, OIM_KEY_BIZNO, org->business_number);
        oim_redis_tx_strs (tx, "SET", key, org->id, NULL);
    }
    registry_apikeys_tx_add (tx, api_key, key_hash, registry_role_of_kind (org->kind), org->id,
                             "initial", key_id);
    if (user)
        registry_accounts_tx_insert (self, tx, actor, user);
    registry_tx_change (tx, actor, OIM__V1__CHANGE_OP__CHANGE_OP_CREATE, "org.create", "org",
                        org->id, &org->base);
    registry_tx_audit (tx, actor, "org.create", "org", org->id, org->status);
    s_count_org (tx, org, 1);
    int rc = oim_redis_tx_exec (tx, redis);
    oim_redis_tx_destroy (&tx);
    return rc;
}

//  Sets id, status, timestamps and version of a new org.
static void
s_stamp_new (Oim__V1__Organization *org, const char *status)
{
    char id [OIM_ID_SIZE], now [OIM_RFC3339_SIZE];
    oim_id_new ("org", id);
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    registry_set_string (&org->id, id);
    registry_set_string (&org->status, status);
    registry_set_string (&org->created_at, now);
    registry_set_string (&org->updated_at, now);
    org->version = 1;
}

//  Decodes and checks a create body; NULL with the reply set on refusal.
//  *account receives the body's "account" member (a new reference, or NULL).
static Oim__V1__Organization *
s_decode_new_org (const Oim__V1__ApiRequest *request, const registry_actor_t *actor,
                  json_t **account, oim_api_reply_t *reply)
{
    bool agency = registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY);
    if (!agency && !registry_is (actor, OIM__V1__ROLE__ROLE_ANONYMOUS)) {
        oim_api_error (reply, 403, "forbidden", NULL,
                       "organizations are created by the agency or by self-registration");
        return NULL;
    }
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return NULL;
    *account = json_incref (json_object_get (body, "account"));
    json_object_del (body, "account");
    oim_pbjson_error_t perr;
    Oim__V1__Organization *org = (Oim__V1__Organization *) oim_pbjson_decode (
        &oim__v1__organization__descriptor, body, s_org_deny, &perr);
    if (org)
        registry_infer_given (body, &org->tags_given, &org->industries_given);
    json_decref (body);
    if (!org) {
        oim_api_decode_error (reply, &perr);
        return NULL;
    }
    registry_err_t err;
    if (registry_validate_org (org, &err))
        registry_reply_err (reply, &err);
    else
    if (!agency && strcmp (org->kind, "agency") == 0)
        oim_api_error (reply, 403, "forbidden", "kind", "only the agency creates agencies");
    else
        return org;
    protobuf_c_message_free_unpacked (&org->base, NULL);
    return NULL;
}

void
registry_org_create (oim_service_t *service, const Oim__V1__ApiRequest *request,
                     oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    json_t *account = NULL;
    Oim__V1__Organization *org = s_decode_new_org (request, &actor, &account, reply);
    if (!org)
        return json_decref (account);
    bool agency = registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY);
    s_stamp_new (org, agency? "active": "pending");
    registry_infer_org (self->infer, org);
    Oim__V1__User *user = account? registry_accounts_decode (self, account, "account.", org->id,
                                                             "owner", false, reply): NULL;
    json_decref (account);
    if (account && !user)
        return protobuf_c_message_free_unpacked (&org->base, NULL);
    int taken = s_claims_bizno (org)? s_bizno_taken (self->redis, org->business_number, ""): 0;
    char api_key [REGISTRY_API_KEY_CHARS + 1], hash [65];
    registry_keys_new (api_key, hash);
    int rc = taken? taken: s_insert_org (self, &actor, org, api_key, hash, user);
    if (taken == 1 || (rc == 1 && !user))
        oim_api_error (reply, 409, "conflict", "business_number",
                       "an organization with this business_number exists");
    else
    if (rc == 1)
        oim_api_error (reply, 409, "conflict", "account.email",
                       "this e-mail address or business_number is taken (changed concurrently)");
    else
    if (rc)
        registry_reply_unavailable (reply);
    else {
        s_reply_org (reply, 201, org, true, api_key);
        if (user)
            json_object_set_new (reply->body, "account", registry_accounts_user_json (user, false));
        char location [96];
        snprintf (location, sizeof location, "/v1/orgs/%s", org->id);
        oim_api_header (reply, "Location", location);
        oim_info ("event=org_created id=%s kind=%s status=%s", org->id, org->kind, org->status);
    }
    if (taken)
        oim_redis_tx_unwatch (self->redis);
    sodium_memzero (api_key, sizeof api_key);
    protobuf_c_message_free_unpacked (&org->base, NULL);
    if (user)
        protobuf_c_message_free_unpacked (&user->base, NULL);
}

//  Loads the live org named by the "id" path parameter, WATCHing it when watch is set.
//  Returns it, or NULL with 404/503 set.
static Oim__V1__Organization *
s_load (registry_t *self, const Oim__V1__ApiRequest *request, bool watch, oim_api_reply_t *reply)
{
    return (Oim__V1__Organization *) registry_load_live (self, request, "org", OIM_KEY_ORG,
                                  &oim__v1__organization__descriptor, "organization", watch, reply);
}

void
registry_org_get (oim_service_t *service, const Oim__V1__ApiRequest *request,
                  oim_api_reply_t *reply)
{
    registry_actor_t actor = registry_actor (request);
    Oim__V1__Organization *org = s_load (registry_of (service), request, false, reply);
    if (!org)
        return;
    bool full = registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY) || s_is_self (&actor, org->id);
    if (!full && strcmp (org->status, "active"))
        oim_api_error (reply, 404, "not_found", "id", "no such organization");
    else
        s_reply_org (reply, 200, org, full, NULL);
    protobuf_c_message_free_unpacked (&org->base, NULL);
}

//  The PATCH body merged into a copy of org and validated; NULL with the reply set.
static Oim__V1__Organization *
s_merge_update (const Oim__V1__ApiRequest *request, const Oim__V1__Organization *org,
                oim_api_reply_t *reply)
{
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return NULL;
    Oim__V1__Organization *copy = (Oim__V1__Organization *) oim_pbjson_copy (&org->base);
    oim_pbjson_error_t perr;
    registry_err_t err;
    int rc = oim_pbjson_merge (&copy->base, body, s_org_update_deny, &perr);
    registry_infer_given (body, &copy->tags_given, &copy->industries_given);
    json_decref (body);
    if (rc)
        oim_api_decode_error (reply, &perr);
    else
    if (registry_validate_org (copy, &err))
        registry_reply_err (reply, &err);
    else
        return copy;
    protobuf_c_message_free_unpacked (&copy->base, NULL);
    return NULL;
}

//  The update transaction: state, business-number index, log, audit.
static int
s_write_update (registry_t *self, const registry_actor_t *actor, const Oim__V1__Organization *old,
                const Oim__V1__Organization *org)
{
    char key [OIM_KEY_SIZE];
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    snprintf (key, sizeof key, OIM_KEY_ORG, org->id);
    registry_tx_put (tx, key, &org->base);
    if (s_claiming (old) && strcmp (old->business_number, org->business_number)) {
        if (*old->business_number) {
            snprintf (key, sizeof key, OIM_KEY_BIZNO, old->business_number);
            oim_redis_tx_strs (tx, "DEL", key, NULL);
        }
        if (*org->business_number) {
            snprintf (key, sizeof key, OIM_KEY_BIZNO, org->business_number);
            oim_redis_tx_strs (tx, "SET", key, org->id, NULL);
        }
    }
    registry_tx_change (tx, actor, OIM__V1__CHANGE_OP__CHANGE_OP_UPDATE, "org.update", "org",
                        org->id, &org->base);
    registry_tx_audit (tx, actor, "org.update", "org", org->id, NULL);
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    return rc;
}

//  Stamps the next version of copy (the merged org) and writes it; sets the reply.
static void
s_commit_update (registry_t *self, const registry_actor_t *actor,
                 const Oim__V1__Organization *org, Oim__V1__Organization *copy,
                 oim_api_reply_t *reply)
{
    char now [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    registry_set_string (&copy->updated_at, now);
    copy->version = org->version + 1;
    int taken = strcmp (copy->business_number, org->business_number) && s_claims_bizno (copy)
              ? s_bizno_taken (self->redis, copy->business_number, org->id): 0;
    int rc = taken? taken: s_write_update (self, actor, org, copy);
    if (taken == 1)
        oim_api_error (reply, 409, "conflict", "business_number",
                       "an organization with this business_number exists");
    else
    if (rc == 1)
        oim_api_error (reply, 409, "version_conflict", NULL, "changed concurrently; retry");
    else
    if (rc)
        registry_reply_unavailable (reply);
    else
        s_reply_org (reply, 200, copy, true, NULL);
}

void
registry_org_update (oim_service_t *service, const Oim__V1__ApiRequest *request,
                     oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    const char *id = oim_api_param (request, "id");
    int64_t if_match = registry_if_match (request);
    if (if_match < 0)
        return oim_api_error (reply, 400, "invalid", "If-Match", "If-Match must be a version number");
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY) && !(id && s_is_self (&actor, id)))
        return oim_api_error (reply, 403, "forbidden", NULL, "only the organization itself or "
                              "the agency may update it");
    Oim__V1__Organization *org = s_load (self, request, true, reply), *copy = NULL;
    if (!org)
        return;
    if (strcmp (org->status, "suspended") == 0 && !registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        oim_api_error (reply, 403, "org_not_active", NULL, "the organization is suspended");
    else
    if (if_match && if_match != org->version)
        oim_api_error (reply, 409, "version_conflict", NULL, "the organization is at version "
                       "%lld, not %lld", (long long) org->version, (long long) if_match);
    else
    if ((copy = s_merge_update (request, org, reply))) {
        registry_infer_org (self->infer, copy);
        s_commit_update (self, &actor, org, copy, reply);
        protobuf_c_message_free_unpacked (&copy->base, NULL);
    }
    if (reply->status != 200)
        oim_redis_tx_unwatch (self->redis);
    protobuf_c_message_free_unpacked (&org->base, NULL);
}

//  ---------------------------------------------------------------------------------------
//  Agency transitions: approve, suspend, delete

typedef enum { TO_ACTIVE, TO_SUSPENDED, TO_DELETED } transition_t;

//  Adds to tx what a transition does to org's business number: approval claims it (2 when
//  another organization holds it), deletion frees it when org holds it. 0, 2, or -1 (Redis).
static int
s_transition_bizno (registry_t *self, oim_redis_tx_t *tx, const Oim__V1__Organization *org,
                    transition_t to)
{
    if (!*org->business_number || to == TO_SUSPENDED)
        return 0;
    int holder = s_bizno_holder (self->redis, org->business_number, org->id);
    if (holder < 0 || (holder == 2 && to == TO_ACTIVE))
        return holder;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_BIZNO, org->business_number);
    if (to == TO_ACTIVE && holder == 0)
        oim_redis_tx_strs (tx, "SET", key, org->id, NULL);
    if (to == TO_DELETED && holder == 1)
        oim_redis_tx_strs (tx, "DEL", key, NULL);
    return 0;
}

//  Writes org's transition. Returns oim_redis_tx_exec's result, or 2 when approval finds its
//  business number held by another organization (nothing written).
static int
s_write_transition (registry_t *self, const registry_actor_t *actor, Oim__V1__Organization *org,
                    transition_t to, const char *action)
{
    char key [OIM_KEY_SIZE], now [OIM_RFC3339_SIZE];
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    int bizno = s_transition_bizno (self, tx, org, to);
    if (bizno) {
        oim_redis_tx_destroy (&tx);
        return bizno;
    }
    s_count_org (tx, org, -1);
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    registry_set_string (&org->updated_at, now);
    org->version++;
    if (to == TO_DELETED) {
        org->deleted = true;
        oim_redis_tx_strs (tx, "ZREM", OIM_KEY_ORGS, org->id, NULL);
        oim_redis_tx_strs (tx, "SREM", OIM_KEY_AGENCIES, org->id, NULL);
        if (registry_apikeys_tx_revoke_all (self, tx, org->id)) {
            oim_redis_tx_destroy (&tx);
            return -1;
        }
    }
    else {
        registry_set_string (&org->status, to == TO_ACTIVE? "active": "suspended");
        s_count_org (tx, org, 1);
    }
    snprintf (key, sizeof key, OIM_KEY_ORG, org->id);
    registry_tx_put (tx, key, &org->base);
    registry_tx_change (tx, actor, to == TO_DELETED? OIM__V1__CHANGE_OP__CHANGE_OP_DELETE
                                                   : OIM__V1__CHANGE_OP__CHANGE_OP_UPDATE,
                        action, "org", org->id, &org->base);
    registry_tx_audit (tx, actor, action, "org", org->id, org->status);
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    return rc;
}

static void
s_transition (oim_service_t *service, const Oim__V1__ApiRequest *request,
              oim_api_reply_t *reply, transition_t to, const char *action)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "only the agency may do this");
    Oim__V1__Organization *org = s_load (self, request, true, reply);
    if (!org)
        return;
    const char *state_error = to == TO_ACTIVE && strcmp (org->status, "active") == 0
                            ? "the organization is already active"
                            : to == TO_SUSPENDED && strcmp (org->status, "suspended") == 0
                            ? "the organization is already suspended"
                            : to != TO_ACTIVE && s_is_self (&actor, org->id)
                            ? "the agency cannot suspend or delete its own organization": NULL;
    int rc = state_error? 0: s_write_transition (self, &actor, org, to, action);
    if (state_error)
        oim_api_error (reply, 409, "state_conflict", NULL, "%s", state_error);
    else
    if (rc == 2)
        oim_api_error (reply, 409, "conflict", "business_number", "an active organization "
                       "holds this business_number");
    else
    if (rc == 1)
        oim_api_error (reply, 409, "version_conflict", NULL, "changed concurrently; retry");
    else
    if (rc)
        registry_reply_unavailable (reply);
    else
    if (to == TO_DELETED)
        oim_api_ok (reply, 200, json_pack ("{s:s,s:b}", "id", org->id, "deleted", 1));
    else
        s_reply_org (reply, 200, org, true, NULL);
    if (state_error || rc)
        oim_redis_tx_unwatch (self->redis);
    protobuf_c_message_free_unpacked (&org->base, NULL);
}

void
registry_org_approve (oim_service_t *service, const Oim__V1__ApiRequest *request,
                      oim_api_reply_t *reply)
{
    s_transition (service, request, reply, TO_ACTIVE, "org.approve");
}

void
registry_org_suspend (oim_service_t *service, const Oim__V1__ApiRequest *request,
                      oim_api_reply_t *reply)
{
    s_transition (service, request, reply, TO_SUSPENDED, "org.suspend");
}

void
registry_org_delete (oim_service_t *service, const Oim__V1__ApiRequest *request,
                     oim_api_reply_t *reply)
{
    s_transition (service, request, reply, TO_DELETED, "org.delete");
}

//  ---------------------------------------------------------------------------------------
//  Bootstrap and the active-organization check

int
registry_orgs_bootstrap (registry_t *self, const char *agency_key)
{
    //  A short key is refused even when an agency exists: it is guessable.
    if (agency_key && *agency_key && strlen (agency_key) < REGISTRY_AGENCY_KEY_MIN) {
        oim_error ("event=bootstrap_refused reason=\"OIM_BOOTSTRAP_AGENCY_KEY is shorter than %d "
                   "characters\"", REGISTRY_AGENCY_KEY_MIN);
        return -1;
    }
    redisReply *count = NULL;
    //  Redis may come up after us (compose): wait for it, bounded.
    for (int attempt = 0; attempt < 150 && !count; attempt++) {
        count = oim_redis_command (self->redis, "SCARD %s", OIM_KEY_AGENCIES);
        if (!count)
            zclock_sleep (200);
    }
    if (!count || count->type != REDIS_REPLY_INTEGER) {
        oim_error ("event=bootstrap_failed reason=\"Redis unavailable\"");
        if (count)
            freeReplyObject (count);
        return -1;
    }
    long long agencies = count->integer;
    freeReplyObject (count);
    if (agencies > 0)
        return 0;
    if (!agency_key || !*agency_key) {
        oim_error ("event=bootstrap_refused reason=\"no agency exists: set "
                   "OIM_BOOTSTRAP_AGENCY_KEY (at least %d characters)\"", REGISTRY_AGENCY_KEY_MIN);
        return -1;
    }
    Oim__V1__Organization *org = calloc (1, sizeof *org);
    oim__v1__organization__init (org);
    registry_set_string (&org->kind, "agency");
    registry_set_string (&org->name, "OI Market operating agency");
    s_stamp_new (org, "active");
    char hash [65];
    registry_keys_hash (agency_key, hash);
    Oim__V1__Principal system = OIM__V1__PRINCIPAL__INIT;
    system.key_id = "bootstrap";
    registry_actor_t actor = { .principal = &system, .request_id = "bootstrap", .system = true };
    int rc = oim_redis_tx_watch (self->redis, OIM_KEY_AGENCIES)
           ? -1: s_insert_org (self, &actor, org, agency_key, hash, NULL);
    if (rc == 0)
        oim_info ("event=bootstrap_agency id=%s", org->id);
    else
        oim_error ("event=bootstrap_failed rc=%d", rc);
    protobuf_c_message_free_unpacked (&org->base, NULL);
    return rc == 1? 0: rc;      //  1: another registry created it meanwhile
}

int
registry_orgs_require_active (registry_t *self, const registry_actor_t *actor,
                              oim_api_reply_t *reply)
{
    if (!registry_is (actor, OIM__V1__ROLE__ROLE_COMPANY)
    &&  !registry_is (actor, OIM__V1__ROLE__ROLE_STARTUP))
        return 0;
    Oim__V1__Organization *org = NULL;
    int rc = registry_store_org (self->redis, actor->principal->org_id, &org);
    bool active = rc == 1 && !org->deleted && strcmp (org->status, "active") == 0;
    if (org)
        protobuf_c_message_free_unpacked (&org->base, NULL);
    if (rc == -1)
        registry_reply_unavailable (reply);
    else
    if (!active)
        oim_api_error (reply, 403, "org_not_active", NULL, "your organization is not active "
                       "(pending approval or suspended)");
    return active? 0: -1;
}
