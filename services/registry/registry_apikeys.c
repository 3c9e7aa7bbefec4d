/*  registry_apikeys — an organisation's named API keys (issue 16): GET/POST
    /v1/orgs/{id}/api-keys and DELETE /v1/orgs/{id}/api-keys/{key_id}.

    Keys are for machines (publishers' integrations, scripts); people sign in. An org holds
    several keys, each oim:apikey:<sha256> = ApiKeyRecord (with its name and a 13-character
    prefix to recognise it) and listed in oim:org:<id>:apikeys (key id -> hash). A new key is
    shown once; deleting one removes its record in one MULTI/EXEC, so it fails at once and the
    others keep working. Data written before issue 16 has the org's single key at
    oim:org:<id>:apikey (hash): still listed, deletable and revoked with the org.
    Keys only enter the audit log, never the change log.
*/
#include "registry_request.h"

#include <sodium.h>

#define MAX_KEYS_PER_ORG 50

void
registry_apikeys_tx_record (oim_redis_tx_t *tx, const char *api_key, const char *hash_hex,
                            Oim__V1__Role role, const char *org_id, const char *source_system,
                            const char *name, char *key_id_out)
{
    char at [OIM_RFC3339_SIZE], key [OIM_KEY_SIZE], prefix [16];
    oim_id_new ("key", key_id_out);
    oim_clock_rfc3339 (oim_clock_wall_ms (), at);
    snprintf (prefix, sizeof prefix, "%.13s", api_key);
    Oim__V1__ApiKeyRecord record = OIM__V1__API_KEY_RECORD__INIT;
    record.key_id = key_id_out;
    record.role = role;
    record.org_id = (char *) org_id;
    record.source_system = (char *) source_system;
    record.created_at = at;
    record.name = (char *) name;
    record.prefix = prefix;
    snprintf (key, sizeof key, OIM_KEY_APIKEY, hash_hex);
    registry_tx_put (tx, key, &record.base);
}

void
registry_apikeys_tx_add (oim_redis_tx_t *tx, const char *api_key, const char *hash_hex,
                         Oim__V1__Role role, const char *org_id, const char *name,
                         char *key_id_out)
{
    char key [OIM_KEY_SIZE];
    registry_apikeys_tx_record (tx, api_key, hash_hex, role, org_id, "", name, key_id_out);
    snprintf (key, sizeof key, OIM_KEY_ORG_APIKEYS, org_id);
    oim_redis_tx_strs (tx, "HSET", key, key_id_out, hash_hex, NULL);
}

//  The org's keys as (key id, hash) pairs: the hash's fields plus the legacy single key
//  (its id read from its record). Returns a redisReply-free array of 2n strings (caller
//  frees each and the array) in *pairs and n, or -1 when Redis failed.
static int
s_keys (registry_t *self, const char *org_id, char ***pairs, size_t *n)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG_APIKEYS, org_id);
    redisReply *all = oim_redis_command (self->redis, "HGETALL %s", key);
    snprintf (key, sizeof key, OIM_KEY_ORG_APIKEY, org_id);
    redisReply *legacy = all? oim_redis_command (self->redis, "GET %s", key): NULL;
    int rc = -1;
    if (all && legacy && all->type == REDIS_REPLY_ARRAY) {
        *n = 0;
        *pairs = calloc (all->elements + 2, sizeof **pairs);
        for (size_t i = 0; i + 1 < all->elements; i += 2, (*n)++) {
            (*pairs) [2 * *n] = strdup (all->element [i]->str);
            (*pairs) [2 * *n + 1] = strdup (all->element [i + 1]->str);
        }
        Oim__V1__ApiKeyRecord *record = NULL;
        snprintf (key, sizeof key, OIM_KEY_APIKEY, legacy->type == REDIS_REPLY_STRING? legacy->str: "-");
        if (legacy->type == REDIS_REPLY_STRING
        &&  registry_store_get (self->redis, key, &oim__v1__api_key_record__descriptor,
                                (ProtobufCMessage **) &record) == 1) {
            (*pairs) [2 * *n] = strdup (record->key_id);
            (*pairs) [2 * *n + 1] = strdup (legacy->str);
            (*n)++;
            protobuf_c_message_free_unpacked (&record->base, NULL);
        }
        rc = 0;
    }
    if (all)
        freeReplyObject (all);
    if (legacy)
        freeReplyObject (legacy);
    return rc;
}

static void
s_pairs_free (char **pairs, size_t n)
{
    for (size_t i = 0; pairs && i < 2 * n; i++)
        free (pairs [i]);
    free (pairs);
}

void
registry_apikeys_tx_drop (oim_redis_tx_t *tx, const char *hash_hex)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_APIKEY, hash_hex);
    oim_redis_tx_strs (tx, "DEL", key, NULL);
    snprintf (key, sizeof key, OIM_KEY_APIKEY_USED, hash_hex);
    oim_redis_tx_strs (tx, "DEL", key, NULL);
}

json_t *
registry_apikeys_last_used (registry_t *self, const char *hash_hex)
{
    char key [OIM_KEY_SIZE], at [OIM_RFC3339_SIZE];
    snprintf (key, sizeof key, OIM_KEY_APIKEY_USED, hash_hex);
    redisReply *r = oim_redis_command (self->redis, "GET %s", key);
    json_t *json = json_null ();
    if (r && r->type == REDIS_REPLY_STRING) {
        oim_clock_rfc3339 (atoll (r->str), at);
        json = json_string (at);
    }
    if (r)
        freeReplyObject (r);
    return json;
}

int
registry_apikeys_tx_revoke_all (registry_t *self, oim_redis_tx_t *tx, const char *org_id)
{
    char **pairs = NULL, key [OIM_KEY_SIZE];
    size_t n = 0;
    if (s_keys (self, org_id, &pairs, &n))
        return -1;
    for (size_t i = 0; i < n; i++)
        registry_apikeys_tx_drop (tx, pairs [2 * i + 1]);
    snprintf (key, sizeof key, OIM_KEY_ORG_APIKEYS, org_id);
    oim_redis_tx_strs (tx, "DEL", key, NULL);
    snprintf (key, sizeof key, OIM_KEY_ORG_APIKEY, org_id);
    oim_redis_tx_strs (tx, "DEL", key, NULL);
    s_pairs_free (pairs, n);
    return 0;
}

//  The org named by "id" when the actor may manage its keys; NULL with the reply set.
static Oim__V1__Organization *
s_org (registry_t *self, const Oim__V1__ApiRequest *request, const registry_actor_t *actor,
       oim_api_reply_t *reply)
{
    if (!registry_accounts_may_manage (actor, oim_api_param (request, "id"), reply))
        return NULL;
    Oim__V1__Organization *org = (Oim__V1__Organization *) registry_load_live (self, request,
        "org", OIM_KEY_ORG, &oim__v1__organization__descriptor, "organization", false, reply);
    if (org && strcmp (org->status, "suspended") == 0
    &&  !registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY)) {
        oim_api_error (reply, 403, "org_not_active", NULL, "the organization is suspended");
        protobuf_c_message_free_unpacked (&org->base, NULL);
        return NULL;
    }
    return org;
}

void
registry_api_key_list (oim_service_t *service, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    Oim__V1__Organization *org = s_org (self, request, &actor, reply);
    if (!org)
        return;
    char **pairs = NULL, key [OIM_KEY_SIZE];
    size_t n = 0;
    if (s_keys (self, org->id, &pairs, &n) == 0) {
        json_t *items = json_array ();
        for (size_t i = 0; i < n; i++) {
            Oim__V1__ApiKeyRecord *record = NULL;
            snprintf (key, sizeof key, OIM_KEY_APIKEY, pairs [2 * i + 1]);
            if (registry_store_get (self->redis, key, &oim__v1__api_key_record__descriptor,
                                    (ProtobufCMessage **) &record) != 1)
                continue;
            json_array_append_new (items, json_pack ("{s:s,s:s,s:s,s:s,s:o}", "id", record->key_id,
                "name", *record->name? record->name: "initial", "prefix", record->prefix,
                "created_at", record->created_at, "last_used_at", registry_apikeys_last_used (self, pairs [2 * i + 1])));
            protobuf_c_message_free_unpacked (&record->base, NULL);
        }
        oim_api_ok (reply, 200, json_pack ("{s:o}", "items", items));
    }
    else
        registry_reply_unavailable (reply);
    s_pairs_free (pairs, n);
    protobuf_c_message_free_unpacked (&org->base, NULL);
}

void
registry_api_key_create (oim_service_t *service, const Oim__V1__ApiRequest *request,
                         oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    Oim__V1__Organization *org = s_org (self, request, &actor, reply);
    json_t *body = org && request->body.len? oim_api_body (request, reply): NULL;
    const char *given = json_string_value (json_object_get (body, "name"));
    char *name = strdup (given? given: "key");
    registry_err_t err;
    char **pairs = NULL;
    size_t n = 0;
    if (!org || (request->body.len && !body))
        ;
    else
    if (registry_validate_text (&name, "name", 100, true, false, &err))
        registry_reply_err (reply, &err);
    else
    if (s_keys (self, org->id, &pairs, &n))
        registry_reply_unavailable (reply);
    else
    if (n >= MAX_KEYS_PER_ORG)
        oim_api_error (reply, 409, "conflict", NULL, "an organization holds at most %d keys",
                       MAX_KEYS_PER_ORG);
    else {
        char api_key [REGISTRY_API_KEY_CHARS + 1], hash [65], key_id [OIM_ID_SIZE];
        registry_keys_new (api_key, hash);
        oim_redis_tx_t *tx = oim_redis_tx_new ();
        registry_apikeys_tx_add (tx, api_key, hash, registry_role_of_kind (org->kind), org->id,
                                 name, key_id);
        registry_tx_audit (tx, &actor, "api_key.create", "org", org->id, key_id);
        if (oim_redis_tx_exec (tx, self->redis))
            registry_reply_unavailable (reply);
        else
            oim_api_ok (reply, 201, json_pack ("{s:s,s:s,s:s,s:s}", "id", key_id, "name", name,
                                               "org_id", org->id, "api_key", api_key));
        oim_redis_tx_destroy (&tx);
        sodium_memzero (api_key, sizeof api_key);
    }
    s_pairs_free (pairs, n);
    free (name);
    json_decref (body);
    if (org)
        protobuf_c_message_free_unpacked (&org->base, NULL);
}

void
registry_api_key_delete (oim_service_t *service, const Oim__V1__ApiRequest *request,
                         oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    Oim__V1__Organization *org = s_org (self, request, &actor, reply);
    if (!org)
        return;
    const char *key_id = oim_api_param (request, "key_id");
    char **pairs = NULL, key [OIM_KEY_SIZE];
    size_t n = 0, i = 0;
    int rc = s_keys (self, org->id, &pairs, &n);
    while (rc == 0 && i < n && strcmp (pairs [2 * i], key_id? key_id: ""))
        i++;
    if (rc)
        registry_reply_unavailable (reply);
    else
    if (i == n)
        oim_api_error (reply, 404, "not_found", "key_id", "no such key of this organization");
    else {
        oim_redis_tx_t *tx = oim_redis_tx_new ();
        registry_apikeys_tx_drop (tx, pairs [2 * i + 1]);
        snprintf (key, sizeof key, OIM_KEY_ORG_APIKEYS, org->id);
        oim_redis_tx_strs (tx, "HDEL", key, key_id, NULL);
        snprintf (key, sizeof key, OIM_KEY_ORG_APIKEY, org->id);
        redisReply *legacy = oim_redis_command (self->redis, "GET %s", key);
        if (legacy && legacy->type == REDIS_REPLY_STRING && strcmp (legacy->str, pairs [2 * i + 1]) == 0)
            oim_redis_tx_strs (tx, "DEL", key, NULL);
        if (legacy)
            freeReplyObject (legacy);
        registry_tx_audit (tx, &actor, "api_key.delete", "org", org->id, key_id);
        rc = oim_redis_tx_exec (tx, self->redis);
        oim_redis_tx_destroy (&tx);
        if (rc)
            registry_reply_unavailable (reply);
        else
            oim_api_ok (reply, 204, NULL);
    }
    s_pairs_free (pairs, n);
    protobuf_c_message_free_unpacked (&org->base, NULL);
}
