/*  registry_feedkeys — an organisation's ZeroMQ feed key (SPEC §8, deploy/SECURITY.md).

    PUT /v1/orgs/{id}/feed-key {curve_public_key}: registers the organisation's CURVE public
    key (Z85, 40 characters) for the feed port; a previous key is removed in the same
    MULTI/EXEC, so rotating is one PUT. DELETE revokes it. The organisation itself or the
    agency may do either. Stored: oim:curvekey:<key> = CurveKeyRecord{kind "feed", org_id}
    and oim:org:<id>:feedkey = the key; the gateway's ZAP handler reads the first when a
    subscriber connects (services/gateway/gateway_zap.c), and lets it in only while the
    organisation is active. A key already registered for anything else is refused (409): one
    key, one identity. Keys never enter the change log; each change is audited.
*/
#include "registry_request.h"

//  The org itself (company, startup, agency) or any agency.
static bool
s_may_manage (const registry_actor_t *actor, const char *org_id)
{
    if (registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY))
        return true;
    return actor->principal->org_id && strcmp (actor->principal->org_id, org_id) == 0
        && (registry_is (actor, OIM__V1__ROLE__ROLE_COMPANY)
            || registry_is (actor, OIM__V1__ROLE__ROLE_STARTUP));
}

//  The body's curve_public_key; NULL with the reply set. The caller frees the string.
static char *
s_body_key (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return NULL;
    const char *key = json_string_value (json_object_get (body, "curve_public_key"));
    char *copy = registry_curvekey_valid (key)? strdup (key): NULL;
    json_decref (body);
    if (!copy)
        oim_api_error (reply, 422, "unprocessable", "curve_public_key", "curve_public_key must "
                       "be a CURVE public key in Z85 (40 characters)");
    return copy;
}

//  GET of a string key into out (41 bytes; "" when missing). 0, or -1 when Redis failed.
static int
s_get_key (oim_redis_t *redis, const char *key, char *out, bool *exists)
{
    redisReply *r = oim_redis_command (redis, "GET %s", key);
    if (!r)
        return -1;
    *out = 0;
    *exists = r->type == REDIS_REPLY_STRING;
    if (*exists && r->len == 40)
        snprintf (out, 41, "%s", r->str);
    int rc = r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL? 0: -1;
    freeReplyObject (r);
    return rc;
}

//  WATCHes the org's feed-key slot and loads the live org: NULL with the reply set.
static Oim__V1__Organization *
s_begin (registry_t *self, const Oim__V1__ApiRequest *request, const registry_actor_t *actor,
         char *slot, char *old_key, oim_api_reply_t *reply)
{
    const char *id = oim_api_param (request, "id");
    if (!id || !s_may_manage (actor, id)) {
        oim_api_error (reply, 403, "forbidden", NULL, "only the organization itself or the "
                       "agency may manage its feed key");
        return NULL;
    }
    snprintf (slot, OIM_KEY_SIZE, OIM_KEY_ORG_FEEDKEY, id);
    bool exists;
    if (oim_redis_tx_watch (self->redis, slot) || s_get_key (self->redis, slot, old_key, &exists)) {
        oim_redis_tx_unwatch (self->redis);
        registry_reply_unavailable (reply);
        return NULL;
    }
    ProtobufCMessage *org = registry_load_live (self, request, "org", OIM_KEY_ORG,
                                                &oim__v1__organization__descriptor,
                                                "organization", false, reply);
    if (!org)
        oim_redis_tx_unwatch (self->redis);
    return (Oim__V1__Organization *) org;
}

//  Runs tx and sets the reply for the outcome (ok_status with body on success).
static void
s_finish (registry_t *self, oim_redis_tx_t *tx, oim_api_reply_t *reply, uint32_t ok_status,
          json_t *body)
{
    int rc = oim_redis_tx_exec (tx, self->redis);
    if (rc == 0) {
        oim_api_ok (reply, ok_status, body);
        return;
    }
    json_decref (body);
    oim_redis_tx_unwatch (self->redis);
    if (rc == 1)
        oim_api_error (reply, 409, "conflict", NULL, "the feed key changed concurrently");
    else
        registry_reply_unavailable (reply);
}

void
registry_feedkey_put (oim_service_t *service, const Oim__V1__ApiRequest *request,
                      oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    char *new_key = s_body_key (request, reply);
    if (!new_key)
        return;
    char slot [OIM_KEY_SIZE], old_key [41];
    Oim__V1__Organization *org = s_begin (self, request, &actor, slot, old_key, reply);
    int taken = org? (strcmp (new_key, old_key)? registry_curvekey_taken (self, new_key): 0): 0;
    if (org && taken) {
        oim_redis_tx_unwatch (self->redis);
        if (taken == 1)
            oim_api_error (reply, 409, "conflict", "curve_public_key", "this key is already "
                           "registered");
        else
            registry_reply_unavailable (reply);
    }
    else
    if (org) {
        Oim__V1__CurveKeyRecord record = OIM__V1__CURVE_KEY_RECORD__INIT;
        char created [40], key [OIM_KEY_SIZE];
        oim_clock_rfc3339 (oim_clock_wall_ms (), created);
        record.kind = "feed";
        record.org_id = org->id;
        record.created_at = created;
        oim_redis_tx_t *tx = oim_redis_tx_new ();
        if (strcmp (new_key, old_key))
            registry_curvekey_drop (tx, old_key);
        snprintf (key, sizeof key, OIM_KEY_CURVEKEY, new_key);
        registry_tx_put (tx, key, &record.base);
        oim_redis_tx_strs (tx, "SET", slot, new_key, NULL);
        registry_tx_audit (tx, &actor, "org.feed_key", "org", org->id, new_key);
        s_finish (self, tx, reply, 200, json_pack ("{s:s,s:s}", "org_id", org->id,
                                                   "curve_public_key", new_key));
        oim_redis_tx_destroy (&tx);
    }
    if (org)
        protobuf_c_message_free_unpacked (&org->base, NULL);
    free (new_key);
}

void
registry_feedkey_delete (oim_service_t *service, const Oim__V1__ApiRequest *request,
                         oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    char slot [OIM_KEY_SIZE], old_key [41];
    Oim__V1__Organization *org = s_begin (self, request, &actor, slot, old_key, reply);
    if (!org)
        return;
    if (!*old_key) {
        oim_redis_tx_unwatch (self->redis);
        oim_api_error (reply, 404, "not_found", NULL, "the organization has no feed key");
    }
    else {
        oim_redis_tx_t *tx = oim_redis_tx_new ();
        registry_curvekey_drop (tx, old_key);
        oim_redis_tx_strs (tx, "DEL", slot, NULL);
        registry_tx_audit (tx, &actor, "org.feed_key_revoke", "org", org->id, old_key);
        s_finish (self, tx, reply, 200, json_pack ("{s:s,s:b}", "org_id", org->id,
                                                   "revoked", 1));
        oim_redis_tx_destroy (&tx);
    }
    protobuf_c_message_free_unpacked (&org->base, NULL);
}
