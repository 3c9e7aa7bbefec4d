/*  registry_store — the registry's Redis access: entities read (and WATCHed), CURVE key
    records, and what the registry adds to a transaction (oim_redis_tx, common/): an entity's
    new state (SET), its change-log entry (XADD oim:changelog * e <ChangeEntry>), its audit
    entry (XADD oim:audit * e <AuditEntry>) and counters (HINCRBY oim:stats). Redis applies a
    transaction as one step, so the state, the log and the audit never disagree (STYLE.md
    "State"), and EXEC returns before the handler replies. Optimistic concurrency: handlers
    WATCH the keys they read before the transaction.

    No HTTP here: functions return codes (1 found, 0 missing, -1 Redis failed) and the
    handlers (registry_request.c and the handler modules) turn them into replies.
*/
#include "registry.h"

#include <zmq.h>

#include <assert.h>

int
registry_store_get (oim_redis_t *redis, const char *key,
                    const ProtobufCMessageDescriptor *descriptor, ProtobufCMessage **out)
{
    *out = NULL;
    redisReply *reply = oim_redis_command (redis, "GET %s", key);
    if (!reply)
        return -1;
    int rc = 0;
    if (reply->type == REDIS_REPLY_STRING) {
        *out = protobuf_c_message_unpack (descriptor, NULL, reply->len, (uint8_t *) reply->str);
        rc = *out? 1: -1;
        if (!*out)
            oim_error ("event=corrupt_value key=%s", key);
    }
    else
    if (reply->type != REDIS_REPLY_NIL)
        rc = -1;
    freeReplyObject (reply);
    return rc;
}

int
registry_store_load_live (oim_redis_t *redis, const char *id, const char *id_prefix,
                          const char *key_format, const ProtobufCMessageDescriptor *descriptor,
                          bool watch, ProtobufCMessage **out)
{
    *out = NULL;
    ProtobufCMessage *entity = NULL;
    int rc = 0;
    if (id && oim_id_valid (id, id_prefix)) {
        char key [OIM_KEY_SIZE];
        snprintf (key, sizeof key, key_format, id);
        rc = watch && oim_redis_tx_watch (redis, key)? -1
           : registry_store_get (redis, key, descriptor, &entity);
    }
    const ProtobufCFieldDescriptor *deleted =
        protobuf_c_message_descriptor_get_field_by_name (descriptor, "deleted");
    if (rc == 1 && !*(protobuf_c_boolean *) ((char *) entity + deleted->offset)) {
        *out = entity;
        return 1;
    }
    if (entity)
        protobuf_c_message_free_unpacked (entity, NULL);
    if (watch)
        oim_redis_tx_unwatch (redis);
    return rc == -1? -1: 0;
}

int
registry_store_watch_exists (oim_redis_t *redis, const char *key)
{
    redisReply *r = oim_redis_tx_watch (redis, key)? NULL
                  : oim_redis_command (redis, "EXISTS %s", key);
    int rc = !r || r->type != REDIS_REPLY_INTEGER? -1: r->integer? 1: 0;
    if (r)
        freeReplyObject (r);
    return rc;
}

bool
registry_curvekey_valid (const char *z85)
{
    uint8_t key [32];
    return z85 && strlen (z85) == REGISTRY_CURVE_KEY_CHARS && zmq_z85_decode (key, z85) != NULL;
}

int
registry_curvekey_taken (registry_t *self, const char *z85)
{
    if (!*z85)
        return 0;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_CURVEKEY, z85);
    return registry_store_watch_exists (self->redis, key);
}

void
registry_curvekey_drop (oim_redis_tx_t *tx, const char *z85)
{
    if (!*z85)
        return;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_CURVEKEY, z85);
    oim_redis_tx_strs (tx, "DEL", key, NULL);
}

int
registry_store_org (oim_redis_t *redis, const char *id, Oim__V1__Organization **org)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG, id);
    return registry_store_get (redis, key, &oim__v1__organization__descriptor,
                               (ProtobufCMessage **) org);
}

int
registry_store_demand (oim_redis_t *redis, const char *id, Oim__V1__Demand **demand)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_DEMAND, id);
    return registry_store_get (redis, key, &oim__v1__demand__descriptor,
                               (ProtobufCMessage **) demand);
}

//  ---------------------------------------------------------------------------------------
//  What the registry adds to a transaction

void
registry_tx_zset (oim_redis_tx_t *self, bool add, const char *key, const char *member)
{
    const char *argv [2] = { "0", member };
    size_t lens [2] = { 1, strlen (member) };
    oim_redis_tx_group (self, add? "ZADD": "ZREM", key, add? 2: 1, add? argv: argv + 1,
                        add? lens: lens + 1);
}

void
registry_tx_put (oim_redis_tx_t *self, const char *key, const ProtobufCMessage *message)
{
    const char *argv [2] = { "SET", key };
    oim_redis_tx_packed (self, 2, argv, message);
}

void
registry_tx_change (oim_redis_tx_t *self, const registry_actor_t *actor, Oim__V1__ChangeOp op,
                    const char *action, const char *entity_type, const char *entity_id,
                    const ProtobufCMessage *entity)
{
    char at [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_redis_tx_time_ms (self), at);
    Oim__V1__ChangeEntry entry = OIM__V1__CHANGE_ENTRY__INIT;
    entry.at = at;
    entry.op = op;
    entry.entity_type = (char *) entity_type;
    entry.entity_id = (char *) entity_id;
    entry.actor = (Oim__V1__Principal *) actor->principal;
    entry.request_id = (char *) actor->request_id;
    entry.action = (char *) action;
    if (entity->descriptor == &oim__v1__organization__descriptor) {
        entry.entity_case = OIM__V1__CHANGE_ENTRY__ENTITY_ORG;
        entry.org = (Oim__V1__Organization *) entity;
    }
    else
    if (entity->descriptor == &oim__v1__demand__descriptor) {
        entry.entity_case = OIM__V1__CHANGE_ENTRY__ENTITY_DEMAND;
        entry.demand = (Oim__V1__Demand *) entity;
    }
    else
    if (entity->descriptor == &oim__v1__saved_search__descriptor) {
        entry.entity_case = OIM__V1__CHANGE_ENTRY__ENTITY_SAVED_SEARCH;
        entry.saved_search = (Oim__V1__SavedSearch *) entity;
    }
    else {
        assert (entity->descriptor == &oim__v1__publisher__descriptor);
        entry.entity_case = OIM__V1__CHANGE_ENTRY__ENTITY_PUBLISHER;
        entry.publisher = (Oim__V1__Publisher *) entity;
    }
    const char *argv [4] = { "XADD", OIM_STREAM_CHANGELOG, "*", "e" };
    oim_redis_tx_packed (self, 4, argv, &entry.base);
}

void
registry_tx_audit (oim_redis_tx_t *self, const registry_actor_t *actor, const char *action,
                   const char *entity_type, const char *entity_id, const char *detail)
{
    char id [OIM_ID_SIZE];
    oim_id_new ("aud", id);
    char at [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_redis_tx_time_ms (self), at);
    Oim__V1__AuditEntry entry = OIM__V1__AUDIT_ENTRY__INIT;
    entry.id = id;
    entry.at = at;
    entry.actor_org_id = actor->principal->org_id? actor->principal->org_id: "";
    entry.actor_user_id = actor->principal->user_id? actor->principal->user_id: "";
    entry.actor_role = (char *) (actor->system? "system": oim_api_role_name (actor->principal->role));
    entry.action = (char *) action;
    entry.entity_type = (char *) entity_type;
    entry.entity_id = (char *) entity_id;
    entry.request_id = (char *) actor->request_id;
    entry.detail = (char *) (detail? detail: "");
    const char *argv [4] = { "XADD", OIM_STREAM_AUDIT, "*", "e" };
    oim_redis_tx_packed (self, 4, argv, &entry.base);
}

void
registry_tx_count (oim_redis_tx_t *self, const char *field, int delta)
{
    oim_redis_tx_hincrby (self, OIM_KEY_STATS, field, delta);
}
