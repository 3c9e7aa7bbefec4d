/*  registry_publishers — other OI platforms allowed to publish demand events (role
    "publisher", SPEC §4): registration by the agency and the CURVE key of their ZeroMQ
    ingest connection.

    POST /v1/publishers {source_system, name, curve_public_key?} ("publisher.create"): one
    publisher per source_system; answers the publisher with its API key (shown once). The
    CURVE public key (Z85, 40 characters) is optional so that an HTTP-only publisher works.
    PUT /v1/publishers/{id}/curve-key {curve_public_key} ("publisher.curve_key"): replaces it
    (the old key's record is removed in the same transaction).
    A CURVE key is stored as oim:curvekey:<z85> = CurveKeyRecord{kind "publisher",
    publisher_id, source_system} — what the gateway's ZAP handler reads when a publisher
    connects to :5570 (domain "ingest", User-Id = publisher_id) — written in the same
    MULTI/EXEC as the publisher, its change-log entry and its audit entry. A key registered
    to anything else (another publisher, an organisation's feed) is 409. Agency only.
*/
#include "registry_request.h"

#include <ctype.h>
#include <sodium.h>


static const char *s_publisher_deny [] = { "id", "created_at", "updated_at", "version", NULL };
static const char *s_curve_key_fields [] = { "curve_public_key", NULL };

static bool
s_source_system_ok (const char *text)
{
    size_t len = strlen (text);
    if (len == 0 || len > 64 || !isalnum ((unsigned char) text [0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(islower ((unsigned char) text [i]) || isdigit ((unsigned char) text [i])
              || strchr ("._-", text [i])))
            return false;
    return true;
}

static int
s_curve_key_check (const char *text, bool required, registry_err_t *err)
{
    if ((*text || required) && !registry_curvekey_valid (text))
        return registry_fail (err, 422, "curve_public_key", "curve_public_key must be a CURVE "
                              "public key in Z85 (40 characters)");
    return 0;
}

//  Decodes and checks the body; NULL with the reply set.
static Oim__V1__Publisher *
s_decode_publisher (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return NULL;
    oim_pbjson_error_t perr;
    registry_err_t err;
    Oim__V1__Publisher *pub = (Oim__V1__Publisher *) oim_pbjson_decode (
        &oim__v1__publisher__descriptor, body, s_publisher_deny, &perr);
    json_decref (body);
    if (!pub) {
        oim_api_decode_error (reply, &perr);
        return NULL;
    }
    if (!s_source_system_ok (pub->source_system))
        oim_api_error (reply, 422, "unprocessable", "source_system", "source_system must be 1-64 "
                       "characters of a-z, 0-9, '.', '_', '-'");
    else
    if (registry_validate_text (&pub->name, "name", 200, true, false, &err)
    ||  s_curve_key_check (pub->curve_public_key, false, &err))
        registry_reply_err (reply, &err);
    else
        return pub;
    protobuf_c_message_free_unpacked (&pub->base, NULL);
    return NULL;
}

//  Adds SET oim:curvekey:<pub's key> <CurveKeyRecord> to tx (nothing when it has none).
static void
s_curve_key_put (oim_redis_tx_t *tx, const Oim__V1__Publisher *pub)
{
    if (!*pub->curve_public_key)
        return;
    Oim__V1__CurveKeyRecord record = OIM__V1__CURVE_KEY_RECORD__INIT;
    record.kind = "publisher";
    record.publisher_id = pub->id;
    record.source_system = pub->source_system;
    record.created_at = pub->updated_at;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_CURVEKEY, pub->curve_public_key);
    registry_tx_put (tx, key, &record.base);
}

//  ---------------------------------------------------------------------------------------
//  POST /v1/publishers

static int
s_insert_publisher (registry_t *self, const registry_actor_t *actor, Oim__V1__Publisher *pub,
                    const char *api_key, const char *hash, const char *source_key)
{
    char key [OIM_KEY_SIZE], owner_key [OIM_KEY_SIZE];
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    snprintf (key, sizeof key, OIM_KEY_PUBLISHER, pub->id);
    registry_tx_put (tx, key, &pub->base);
    oim_redis_tx_strs (tx, "SET", source_key, pub->id, NULL);
    oim_redis_tx_strs (tx, "ZADD", OIM_KEY_PUBLISHERS, "0", pub->id, NULL);
    s_curve_key_put (tx, pub);
    snprintf (owner_key, sizeof owner_key, OIM_KEY_PUBLISHER_APIKEY, pub->id);
    char key_id [OIM_ID_SIZE];
    registry_apikeys_tx_record (tx, api_key, hash, OIM__V1__ROLE__ROLE_PUBLISHER, "",
                                pub->source_system, "publisher", key_id);
    oim_redis_tx_strs (tx, "SET", owner_key, hash, NULL);
    registry_tx_change (tx, actor, OIM__V1__CHANGE_OP__CHANGE_OP_CREATE, "publisher.create",
                        "publisher", pub->id, &pub->base);
    registry_tx_audit (tx, actor, "publisher.create", "publisher", pub->id, pub->source_system);
    registry_tx_count (tx, "publishers", 1);
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    return rc;
}

//  Sets id, timestamps and version of a new publisher.
static void
s_stamp_new (Oim__V1__Publisher *pub)
{
    char id [OIM_ID_SIZE], now [OIM_RFC3339_SIZE];
    oim_id_new ("pub", id);
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    registry_set_string (&pub->id, id);
    registry_set_string (&pub->created_at, now);
    registry_set_string (&pub->updated_at, now);
    pub->version = 1;
}

enum { RC_OK, RC_SOURCE_TAKEN, RC_KEY_TAKEN, RC_CONCURRENT };

//  oim_redis_tx_exec's result as RC_* (0 applied, 1 a WATCHed key changed) or -1.
static int
s_exec_rc (int rc)
{
    return rc == 1? RC_CONCURRENT: rc;
}

//  Writes a new publisher with its key after checking that its source_system and CURVE key
//  are free. Returns RC_*, or -1 (Redis); the WATCHes are released in every case.
static int
s_create (registry_t *self, const registry_actor_t *actor, Oim__V1__Publisher *pub,
          const char *api_key, const char *hash)
{
    char source_key [OIM_KEY_SIZE];
    snprintf (source_key, sizeof source_key, OIM_KEY_SOURCE_PUBLISHER, pub->source_system);
    int source = registry_store_watch_exists (self->redis, source_key);
    int curve = source == 0? registry_curvekey_taken (self, pub->curve_public_key): 0;
    int rc = source == -1 || curve == -1? -1: source? RC_SOURCE_TAKEN: curve? RC_KEY_TAKEN
           : s_exec_rc (s_insert_publisher (self, actor, pub, api_key, hash, source_key));
    if (rc)
        oim_redis_tx_unwatch (self->redis);
    return rc;
}

//  The reply for a refused write.
static void
s_reply_refused (oim_api_reply_t *reply, int rc)
{
    if (rc == RC_SOURCE_TAKEN)
        oim_api_error (reply, 409, "conflict", "source_system", "a publisher for this "
                       "source_system exists");
    else
    if (rc == RC_KEY_TAKEN)
        oim_api_error (reply, 409, "conflict", "curve_public_key", "this CURVE key is registered");
    else
    if (rc == RC_CONCURRENT)
        oim_api_error (reply, 409, "conflict", NULL, "a concurrent change: try again");
    else
        registry_reply_unavailable (reply);
}

void
registry_publisher_create (oim_service_t *service, const Oim__V1__ApiRequest *request,
                           oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "only the agency registers publishers");
    Oim__V1__Publisher *pub = s_decode_publisher (request, reply);
    if (!pub)
        return;
    char api_key [REGISTRY_API_KEY_CHARS + 1], hash [65];
    registry_keys_new (api_key, hash);
    s_stamp_new (pub);
    int rc = s_create (self, &actor, pub, api_key, hash);
    if (rc)
        s_reply_refused (reply, rc);
    else {
        json_t *json = oim_pbjson_encode (&pub->base, 0);
        json_object_set_new (json, "api_key", json_string (api_key));
        oim_api_ok (reply, 201, json);
    }
    sodium_memzero (api_key, sizeof api_key);
    protobuf_c_message_free_unpacked (&pub->base, NULL);
}

//  ---------------------------------------------------------------------------------------
//  PUT /v1/publishers/{id}/curve-key

//  The body's curve_public_key, checked; NULL (freed by the caller) with the reply set.
static char *
s_decode_curve_key (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return NULL;
    const char *name;
    json_t *value;
    json_object_foreach (body, name, value)
        if (strcmp (name, s_curve_key_fields [0])) {
            oim_api_error (reply, 400, "invalid", name, "unknown field");
            json_decref (body);
            return NULL;
        }
    const char *text = json_string_value (json_object_get (body, "curve_public_key"));
    char *key = text && registry_curvekey_valid (text)? strdup (text): NULL;
    json_decref (body);
    if (!key)
        oim_api_error (reply, 422, "unprocessable", "curve_public_key", "curve_public_key must "
                       "be a CURVE public key in Z85 (40 characters)");
    return key;
}

Oim__V1__Publisher *
registry_publisher_load (registry_t *self, const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    const char *id = oim_api_param (request, "id");
    ProtobufCMessage *pub = NULL;
    int rc = 0;
    if (id && oim_id_valid (id, "pub")) {
        char key [OIM_KEY_SIZE];
        snprintf (key, sizeof key, OIM_KEY_PUBLISHER, id);
        rc = oim_redis_tx_watch (self->redis, key)? -1
           : registry_store_get (self->redis, key, &oim__v1__publisher__descriptor, &pub);
    }
    if (rc == 1)
        return (Oim__V1__Publisher *) pub;
    oim_redis_tx_unwatch (self->redis);
    if (rc == -1)
        registry_reply_unavailable (reply);
    else
        oim_api_error (reply, 404, "not_found", "id", "no such publisher");
    return NULL;
}

//  The rotation's transaction: the publisher's new state, the old key's record removed, the
//  new one written, log and audit. Returns oim_redis_tx_exec's result.
static int
s_rotate (registry_t *self, const registry_actor_t *actor, Oim__V1__Publisher *pub,
          const char *old_key)
{
    char key [OIM_KEY_SIZE];
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    snprintf (key, sizeof key, OIM_KEY_PUBLISHER, pub->id);
    registry_tx_put (tx, key, &pub->base);
    registry_curvekey_drop (tx, old_key);
    s_curve_key_put (tx, pub);
    registry_tx_change (tx, actor, OIM__V1__CHANGE_OP__CHANGE_OP_UPDATE, "publisher.curve_key",
                        "publisher", pub->id, &pub->base);
    registry_tx_audit (tx, actor, "publisher.curve_key", "publisher", pub->id, pub->curve_public_key);
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    return rc;
}

//  Gives the WATCHed publisher key as its CURVE key. Returns RC_*, or -1 (Redis); the
//  WATCHes are released in every case.
static int
s_change_key (registry_t *self, const registry_actor_t *actor, Oim__V1__Publisher *pub,
              const char *key)
{
    if (strcmp (pub->curve_public_key, key) == 0) {
        oim_redis_tx_unwatch (self->redis);
        return RC_OK;                   //  already its key
    }
    int taken = registry_curvekey_taken (self, key);
    char old_key [REGISTRY_CURVE_KEY_CHARS + 1], now [OIM_RFC3339_SIZE];
    snprintf (old_key, sizeof old_key, "%s", pub->curve_public_key);
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    registry_set_string (&pub->curve_public_key, key);
    registry_set_string (&pub->updated_at, now);
    pub->version++;
    int rc = taken == -1? -1: taken? RC_KEY_TAKEN
           : s_exec_rc (s_rotate (self, actor, pub, old_key));
    if (rc)
        oim_redis_tx_unwatch (self->redis);
    return rc;
}

void
registry_publisher_curve_key (oim_service_t *service, const Oim__V1__ApiRequest *request,
                              oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "only the agency sets publishers' keys");
    char *key = s_decode_curve_key (request, reply);
    Oim__V1__Publisher *pub = key? registry_publisher_load (self, request, reply): NULL;
    if (pub) {
        int rc = s_change_key (self, &actor, pub, key);
        if (rc)
            s_reply_refused (reply, rc);
        else
            oim_api_ok (reply, 200, oim_pbjson_encode (&pub->base, 0));
        protobuf_c_message_free_unpacked (&pub->base, NULL);
    }
    free (key);
}
