/*  registry_store — the registry's Redis access.

    Every change goes through a transaction builder (registry_tx_t): the handler appends the
    new state (SET), index updates, its change-log entry (XADD oim:changelog * e <ChangeEntry>),
    its audit entry (XADD oim:audit * e <AuditEntry>) and counters, then registry_tx_exec sends
    MULTI ... EXEC in one pipeline. Redis applies it as one step, so the state, the log and the
    audit never disagree (STYLE.md "State"), and EXEC returns before the handler replies.
    Optimistic concurrency: handlers WATCH the keys they read before the transaction.
*/
#include "registry.h"

#include <assert.h>
#include <stdarg.h>

#define TX_MAX_COMMANDS 20000       //  a batch of 1,000 events needs ~10 per event

typedef struct {
    int argc;
    char **argv;
    size_t *lens;
} tx_cmd_t;

struct _registry_tx_t {
    tx_cmd_t *cmds;
    size_t count;
    size_t capacity;
};

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
registry_store_watch (oim_redis_t *redis, const char *key)
{
    redisReply *reply = oim_redis_command (redis, "WATCH %s", key);
    int rc = reply && reply->type == REDIS_REPLY_STATUS? 0: -1;
    if (reply)
        freeReplyObject (reply);
    return rc;
}

void
registry_store_unwatch (oim_redis_t *redis)
{
    redisReply *reply = oim_redis_command (redis, "UNWATCH");
    if (reply)
        freeReplyObject (reply);
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
//  The transaction builder

registry_tx_t *
registry_tx_new (void)
{
    registry_tx_t *self = calloc (1, sizeof *self);
    assert (self);
    return self;
}

void
registry_tx_destroy (registry_tx_t **self_p)
{
    registry_tx_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        for (int a = 0; a < self->cmds [i].argc; a++)
            free (self->cmds [i].argv [a]);
        free (self->cmds [i].argv);
        free (self->cmds [i].lens);
    }
    free (self->cmds);
    free (self);
    *self_p = NULL;
}

size_t
registry_tx_size (registry_tx_t *self)
{
    return self->count;
}

//  Appends a command of argc binary arguments (copied).
static void
s_tx_add (registry_tx_t *self, int argc, const char **argv, const size_t *lens)
{
    assert (self->count < TX_MAX_COMMANDS);
    if (self->count == self->capacity) {
        self->capacity = self->capacity? self->capacity * 2: 16;
        self->cmds = realloc (self->cmds, self->capacity * sizeof *self->cmds);
        assert (self->cmds);
    }
    tx_cmd_t *cmd = &self->cmds [self->count++];
    cmd->argc = argc;
    cmd->argv = malloc (argc * sizeof *cmd->argv);
    cmd->lens = malloc (argc * sizeof *cmd->lens);
    assert (cmd->argv && cmd->lens);
    for (int i = 0; i < argc; i++) {
        cmd->argv [i] = malloc (lens [i] + 1);
        assert (cmd->argv [i]);
        memcpy (cmd->argv [i], argv [i], lens [i]);
        cmd->argv [i][lens [i]] = 0;
        cmd->lens [i] = lens [i];
    }
}

void
registry_tx_strs (registry_tx_t *self, const char *arg, ...)
{
    const char *argv [16];
    size_t lens [16];
    int argc = 0;
    va_list args;
    va_start (args, arg);
    for (const char *a = arg; a; a = va_arg (args, const char *)) {
        assert (argc < 16);
        argv [argc] = a;
        lens [argc++] = strlen (a);
    }
    va_end (args);
    s_tx_add (self, argc, argv, lens);
}

//  Appends a command whose last argument is a packed message.
static void
s_tx_packed (registry_tx_t *self, const char *a0, const char *a1, const char *a2,
             const char *a3, const ProtobufCMessage *message)
{
    size_t size = protobuf_c_message_get_packed_size (message);
    uint8_t *packed = malloc (size + 1);
    assert (packed);
    protobuf_c_message_pack (message, packed);
    const char *argv [5] = { a0, a1, a2, a3, (const char *) packed };
    size_t lens [5] = { strlen (a0), strlen (a1), a2? strlen (a2): 0, a3? strlen (a3): 0, size };
    if (a2)
        s_tx_add (self, 5, argv, lens);
    else {
        argv [2] = argv [4];
        lens [2] = lens [4];
        s_tx_add (self, 3, argv, lens);
    }
    free (packed);
}

void
registry_tx_put (registry_tx_t *self, const char *key, const ProtobufCMessage *message)
{
    s_tx_packed (self, "SET", key, NULL, NULL, message);
}

void
registry_tx_change (registry_tx_t *self, const registry_actor_t *actor, Oim__V1__ChangeOp op,
                    const char *action, const char *entity_type, const char *entity_id,
                    const ProtobufCMessage *entity)
{
    char at [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), at);
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
    s_tx_packed (self, "XADD", OIM_STREAM_CHANGELOG, "*", "e", &entry.base);
}

void
registry_tx_audit (registry_tx_t *self, const registry_actor_t *actor, const char *action,
                   const char *entity_type, const char *entity_id, const char *detail)
{
    char at [OIM_RFC3339_SIZE], id [OIM_ID_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), at);
    oim_id_new ("aud", id);
    Oim__V1__AuditEntry entry = OIM__V1__AUDIT_ENTRY__INIT;
    entry.id = id;
    entry.at = at;
    entry.actor_org_id = actor->principal->org_id? actor->principal->org_id: "";
    entry.actor_role = (char *) (actor->system? "system": oim_api_role_name (actor->principal->role));
    entry.action = (char *) action;
    entry.entity_type = (char *) entity_type;
    entry.entity_id = (char *) entity_id;
    entry.request_id = (char *) actor->request_id;
    entry.detail = (char *) (detail? detail: "");
    s_tx_packed (self, "XADD", OIM_STREAM_AUDIT, "*", "e", &entry.base);
}

void
registry_tx_count (registry_tx_t *self, const char *field, int delta)
{
    char number [16];
    snprintf (number, sizeof number, "%d", delta);
    registry_tx_strs (self, "HINCRBY", OIM_KEY_STATS, field, number, NULL);
}

int
registry_tx_exec (registry_tx_t *self, oim_redis_t *redis)
{
    if (oim_redis_append (redis, "MULTI"))
        return -1;
    for (size_t i = 0; i < self->count; i++)
        if (oim_redis_appendv (redis, self->cmds [i].argc, (const char **) self->cmds [i].argv,
                               self->cmds [i].lens))
            return -1;
    if (oim_redis_append (redis, "EXEC"))
        return -1;
    int rc = 0;
    //  MULTI's +OK, one +QUEUED per command, then EXEC's array (or nil after a WATCH hit).
    for (size_t i = 0; i < self->count + 2; i++) {
        redisReply *reply = oim_redis_reply (redis);
        if (!reply)
            return -1;
        if (reply->type == REDIS_REPLY_ERROR) {
            oim_error ("event=redis_refused error=\"%s\"", reply->str);
            rc = -1;
        }
        if (i == self->count + 1 && rc == 0) {
            if (reply->type == REDIS_REPLY_NIL)
                rc = 1;
            else
            if (reply->type == REDIS_REPLY_ARRAY) {
                for (size_t e = 0; e < reply->elements; e++)
                    if (reply->element [e]->type == REDIS_REPLY_ERROR) {
                        oim_error ("event=redis_exec_error error=\"%s\"", reply->element [e]->str);
                        rc = -1;
                    }
            }
            else
                rc = -1;
        }
        freeReplyObject (reply);
    }
    return rc;
}
