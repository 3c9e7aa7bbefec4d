/*  registry_store — the registry's Redis access.

    Every change goes through a transaction builder (registry_tx_t): the handler appends the
    new state (SET), index updates, its change-log entry (XADD oim:changelog * e <ChangeEntry>),
    its audit entry (XADD oim:audit * e <AuditEntry>) and counters, then registry_tx_exec sends
    MULTI ... EXEC in one pipeline. Redis applies it as one step, so the state, the log and the
    audit never disagree (STYLE.md "State"), and EXEC returns before the handler replies.
    Optimistic concurrency: handlers WATCH the keys they read before the transaction.
*/
#include "registry.h"

#include <zmq.h>

#include <assert.h>
#include <stdarg.h>

#define TX_MAX_COMMANDS 20000       //  a batch of 1,000 events needs ~10 per event

#define TX_MAX_COUNTERS 32          //  distinct oim:stats fields per transaction
#define TX_MAX_GROUP_ARGS 4096      //  arguments of one grouped command

typedef struct {
    int argc;
    int capacity;
    char **argv;
    size_t *lens;
} tx_cmd_t;

typedef struct {
    char field [64];
    int delta;
} tx_counter_t;

#define TX_MAX_GROUPS 16            //  open grouped commands remembered per transaction

typedef struct {
    char key [OIM_KEY_SIZE];
    size_t index;                   //  the grouped command's position in cmds
} tx_group_t;

struct _registry_tx_t {
    tx_cmd_t *cmds;
    size_t count;
    size_t capacity;
    tx_counter_t counters [TX_MAX_COUNTERS];
    size_t n_counters;
    tx_group_t groups [TX_MAX_GROUPS];  //  the latest grouped command per key
    size_t n_groups;
    char at [OIM_RFC3339_SIZE];     //  the time of every change and audit entry in it
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

ProtobufCMessage *
registry_load_live (registry_t *self, const Oim__V1__ApiRequest *request, const char *id_prefix,
                    const char *key_format, const ProtobufCMessageDescriptor *descriptor,
                    const char *what, bool watch, oim_api_reply_t *reply)
{
    const char *id = oim_api_param (request, "id");
    ProtobufCMessage *entity = NULL;
    int rc = 0;
    if (id && oim_id_valid (id, id_prefix)) {
        char key [OIM_KEY_SIZE];
        snprintf (key, sizeof key, key_format, id);
        rc = watch && registry_store_watch (self->redis, key)? -1
           : registry_store_get (self->redis, key, descriptor, &entity);
    }
    const ProtobufCFieldDescriptor *deleted =
        protobuf_c_message_descriptor_get_field_by_name (descriptor, "deleted");
    if (rc == 1 && !*(protobuf_c_boolean *) ((char *) entity + deleted->offset))
        return entity;
    if (entity)
        protobuf_c_message_free_unpacked (entity, NULL);
    if (watch)
        registry_store_unwatch (self->redis);
    if (rc == -1)
        registry_reply_unavailable (reply);
    else
        oim_api_error (reply, 404, "not_found", "id", "no such %s", what);
    return NULL;
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

int
registry_store_watch_exists (oim_redis_t *redis, const char *key)
{
    redisReply *r = registry_store_watch (redis, key)? NULL
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
registry_curvekey_drop (registry_tx_t *tx, const char *z85)
{
    if (!*z85)
        return;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_CURVEKEY, z85);
    registry_tx_strs (tx, "DEL", key, NULL);
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
    oim_clock_rfc3339 (oim_clock_wall_ms (), self->at);
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
    return self->count + self->n_counters;
}

static void s_cmd_append (tx_cmd_t *cmd, int argc, const char **argv, const size_t *lens);
static tx_group_t *s_group_of (registry_tx_t *self, const char *key);

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
    memset (cmd, 0, sizeof *cmd);
    s_cmd_append (cmd, argc, argv, lens);
    //  A command on a grouped key ends that group (registry_tx_group starts a new one).
    tx_group_t *group = argc > 1? s_group_of (self, cmd->argv [1]): NULL;
    if (group)
        *group = self->groups [--self->n_groups];
}

//  Appends arguments (copied) to a command, growing it.
static void
s_cmd_append (tx_cmd_t *cmd, int argc, const char **argv, const size_t *lens)
{
    if (cmd->argc + argc > cmd->capacity) {
        cmd->capacity = (cmd->argc + argc) * 2;
        cmd->argv = realloc (cmd->argv, cmd->capacity * sizeof *cmd->argv);
        cmd->lens = realloc (cmd->lens, cmd->capacity * sizeof *cmd->lens);
        assert (cmd->argv && cmd->lens);
    }
    for (int i = 0; i < argc; i++) {
        char *copy = malloc (lens [i] + 1);
        assert (copy);
        memcpy (copy, argv [i], lens [i]);
        copy [lens [i]] = 0;
        cmd->argv [cmd->argc] = copy;
        cmd->lens [cmd->argc++] = lens [i];
    }
}

//  The remembered group of key, or NULL.
static tx_group_t *
s_group_of (registry_tx_t *self, const char *key)
{
    for (size_t i = 0; i < self->n_groups; i++)
        if (strcmp (self->groups [i].key, key) == 0)
            return &self->groups [i];
    return NULL;
}

void
registry_tx_group (registry_tx_t *self, const char *op, const char *key, int argc,
                   const char **argv, const size_t *lens)
{
    //  Extend the latest command on this key if it is the same grouped operation (a plain
    //  command on the key forgets the group), so the order of operations on a key is kept.
    tx_group_t *group = s_group_of (self, key);
    if (group) {
        tx_cmd_t *cmd = &self->cmds [group->index];
        if (strcmp (cmd->argv [0], op) == 0 && cmd->argc + argc <= TX_MAX_GROUP_ARGS) {
            s_cmd_append (cmd, argc, argv, lens);
            return;
        }
    }
    const char *head [2] = { op, key };
    size_t head_lens [2] = { strlen (op), strlen (key) };
    s_tx_add (self, 2, head, head_lens);
    s_cmd_append (&self->cmds [self->count - 1], argc, argv, lens);
    group = s_group_of (self, key);         //  s_tx_add forgot the old one
    if (!group && self->n_groups < TX_MAX_GROUPS)
        group = &self->groups [self->n_groups++];
    if (group) {
        snprintf (group->key, sizeof group->key, "%s", key);
        group->index = self->count - 1;
    }
}

void
registry_tx_zset (registry_tx_t *self, bool add, const char *key, const char *member)
{
    const char *argv [2] = { "0", member };
    size_t lens [2] = { 1, strlen (member) };
    registry_tx_group (self, add? "ZADD": "ZREM", key, add? 2: 1, add? argv: argv + 1,
                       add? lens: lens + 1);
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

//  Appends a command whose last argument is a packed message. The packed bytes are handed
//  to the command as they are (no copy: this is the hot path of ingest).
static void
s_tx_packed (registry_tx_t *self, const char *a0, const char *a1, const char *a2,
             const char *a3, const ProtobufCMessage *message)
{
    const char *argv [4] = { a0, a1, a2, a3 };
    size_t lens [4] = { strlen (a0), strlen (a1), a2? strlen (a2): 0, a3? strlen (a3): 0 };
    s_tx_add (self, a2? 4: 2, argv, lens);
    tx_cmd_t *cmd = &self->cmds [self->count - 1];
    size_t size = protobuf_c_message_get_packed_size (message);
    char *packed = malloc (size + 1);
    assert (packed);
    protobuf_c_message_pack (message, (uint8_t *) packed);
    packed [size] = 0;
    if (cmd->argc == cmd->capacity) {
        cmd->capacity++;
        cmd->argv = realloc (cmd->argv, cmd->capacity * sizeof *cmd->argv);
        cmd->lens = realloc (cmd->lens, cmd->capacity * sizeof *cmd->lens);
        assert (cmd->argv && cmd->lens);
    }
    cmd->argv [cmd->argc] = packed;
    cmd->lens [cmd->argc++] = size;
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
    Oim__V1__ChangeEntry entry = OIM__V1__CHANGE_ENTRY__INIT;
    entry.at = self->at;
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
    char id [OIM_ID_SIZE];
    oim_id_new ("aud", id);
    Oim__V1__AuditEntry entry = OIM__V1__AUDIT_ENTRY__INIT;
    entry.id = id;
    entry.at = self->at;
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
    for (size_t i = 0; i < self->n_counters; i++)
        if (strcmp (self->counters [i].field, field) == 0) {
            self->counters [i].delta += delta;
            return;
        }
    assert (self->n_counters < TX_MAX_COUNTERS);
    tx_counter_t *counter = &self->counters [self->n_counters++];
    snprintf (counter->field, sizeof counter->field, "%s", field);
    counter->delta = delta;
}

//  Turns the summed counters into HINCRBY commands (once, at exec).
static void
s_tx_flush_counters (registry_tx_t *self)
{
    for (size_t i = 0; i < self->n_counters; i++)
        if (self->counters [i].delta) {
            char number [16];
            snprintf (number, sizeof number, "%d", self->counters [i].delta);
            registry_tx_strs (self, "HINCRBY", OIM_KEY_STATS, self->counters [i].field,
                              number, NULL);
        }
    self->n_counters = 0;
}

int
registry_tx_exec (registry_tx_t *self, oim_redis_t *redis)
{
    s_tx_flush_counters (self);
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
