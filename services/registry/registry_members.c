/*  registry_members — the people of an organisation as a list and their roles (issue 16):
    GET /v1/orgs/{id}/members (paged: ?limit 1..1000, default 1000, ?cursor), PATCH
    /v1/orgs/{id}/members/{user_id} {role}, and the last-owner rule that PATCH and DELETE
    (registry_accounts.c) share: an organisation keeps at least one owner, so demoting or
    removing its last owner is 409 naming that person.

    The owners are counted with every person's record WATCHed (WATCH + GET pipelined per
    person), so two owners demoting each other at once cannot both succeed: the second EXEC
    fails and is answered 409 version_conflict.
*/
#include "registry_request.h"

//  ---------------------------------------------------------------------------------------
//  GET /v1/orgs/{id}/members

static json_t *
s_member_item (registry_t *self, const ProtobufCMessage *entity, void *arg, bool *failed)
{
    (void) self, (void) arg, (void) failed;
    return registry_accounts_user_json ((const Oim__V1__User *) entity, true);
}

void
registry_member_list (oim_service_t *service, const Oim__V1__ApiRequest *request,
                      oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (registry_accounts_org_visible (self, request, &actor, reply))
        return;
    char index [OIM_KEY_SIZE];
    snprintf (index, sizeof index, OIM_KEY_ORG_USERS, oim_api_param (request, "id"));
    registry_page_spec_t spec = { index, OIM_KEY_USER, "usr", &oim__v1__user__descriptor,
                                  false, 1000, 1000, s_member_item, NULL };
    registry_page_reply (self, request, &spec, reply);
}

//  ---------------------------------------------------------------------------------------
//  The last owner

int
registry_members_owners (registry_t *self, const char *org_id)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG_USERS, org_id);
    if (oim_redis_tx_watch (self->redis, key))
        return -1;
    redisReply *ids = oim_redis_command (self->redis, "ZRANGE %s 0 -1", key);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject (ids);
        return -1;
    }
    for (size_t i = 0; i < ids->elements; i++) {
        snprintf (key, sizeof key, OIM_KEY_USER, ids->element [i]->str);
        oim_redis_append (self->redis, "WATCH %s", key);
        oim_redis_append (self->redis, "GET %s", key);
    }
    int owners = 0;
    for (size_t i = 0; i < 2 * ids->elements; i++) {
        redisReply *r = oim_redis_reply (self->redis);
        if (!r)
            owners = -1;
        else
        if (i % 2 && owners >= 0 && r->type == REDIS_REPLY_STRING) {
            Oim__V1__User *user = oim__v1__user__unpack (NULL, r->len, (uint8_t *) r->str);
            owners += user && strcmp (user->role, "owner") == 0;
            if (user)
                oim__v1__user__free_unpacked (user, NULL);
        }
        if (r)
            freeReplyObject (r);
        else
            break;              //  the connection is gone: no more replies to read
    }
    freeReplyObject (ids);
    return owners;
}

int
registry_members_keep_owner (registry_t *self, const Oim__V1__User *user, bool leaving,
                             oim_api_reply_t *reply)
{
    if (strcmp (user->role, "owner") || !leaving)
        return 0;
    int owners = registry_members_owners (self, user->org_id);
    if (owners < 0)
        return registry_reply_unavailable (reply), -1;
    if (owners > 1)
        return 0;
    oim_api_error (reply, 409, "last_owner", "user_id", "%s (%s) is the organization's last "
                   "owner: make another person owner first", user->name, user->email);
    return -1;
}

//  ---------------------------------------------------------------------------------------
//  PATCH /v1/orgs/{id}/members/{user_id} {role}

//  The body's role ("owner" | "member"), or NULL with the reply set.
static const char *
s_role (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return NULL;
    const char *name, *role = NULL;
    json_t *value;
    json_object_foreach (body, name, value)
        if (strcmp (name, "role")) {
            oim_api_error (reply, 400, "invalid", name, "unknown field");
            json_decref (body);
            return NULL;
        }
    const char *given = json_string_value (json_object_get (body, "role"));
    if (given && (strcmp (given, "owner") == 0 || strcmp (given, "member") == 0))
        role = strcmp (given, "owner") == 0? "owner": "member";
    else
        oim_api_error (reply, 422, "unprocessable", "role", "role must be owner or member");
    json_decref (body);
    return role;
}

//  Adds to tx the rewrite of every live session of user with its new role (the gateway
//  reads the role from the session record on each request: the change holds at once).
//  0, or -1 (Redis).
static int
s_tx_session_roles (registry_t *self, oim_redis_tx_t *tx, const Oim__V1__User *user)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_USER_SESSIONS, user->id);
    redisReply *hashes = oim_redis_command (self->redis, "SMEMBERS %s", key);
    int rc = hashes && hashes->type == REDIS_REPLY_ARRAY? 0: -1;
    for (size_t i = 0; rc == 0 && i < hashes->elements; i++) {
        Oim__V1__SessionRecord *session = NULL;
        snprintf (key, sizeof key, OIM_KEY_SESSION, hashes->element [i]->str);
        int found = registry_store_get (self->redis, key, &oim__v1__session_record__descriptor,
                                        (ProtobufCMessage **) &session);
        if (found == 1) {
            registry_set_string (&session->user_role, user->role);
            size_t size = protobuf_c_message_get_packed_size (&session->base);
            uint8_t *packed = malloc (size + 1);
            protobuf_c_message_pack (&session->base, packed);
            const char *argv [] = { "SET", key, (const char *) packed, "KEEPTTL" };
            const size_t lens [] = { 3, strlen (key), size, 7 };
            oim_redis_tx_add (tx, 4, argv, lens);
            free (packed);
            protobuf_c_message_free_unpacked (&session->base, NULL);
        }
        rc = found == -1? -1: 0;
    }
    if (hashes)
        freeReplyObject (hashes);
    return rc;
}

//  Writes user with role (one transaction with its audit entry) and answers 200/409/503.
static void
s_commit_role (registry_t *self, const registry_actor_t *actor, Oim__V1__User *user,
               const char *role, oim_api_reply_t *reply)
{
    char key [OIM_KEY_SIZE];
    registry_set_string (&user->role, role);
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    snprintf (key, sizeof key, OIM_KEY_USER, user->id);
    registry_tx_put (tx, key, &user->base);
    registry_tx_audit (tx, actor, "user.role", "user", user->id, role);
    int rc = s_tx_session_roles (self, tx, user)? -1: oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    registry_reply_tx (reply, rc, 200, rc? NULL: registry_accounts_user_json (user, true));
}

void
registry_member_update (oim_service_t *service, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    const char *org_id = oim_api_param (request, "id");
    if (!registry_accounts_may_manage (&actor, org_id, reply))
        return;
    const char *role = s_role (request, reply);
    Oim__V1__User *user = role? registry_accounts_member_load (self, request, reply): NULL;
    if (!user)
        return;
    if (strcmp (user->role, role) == 0) {
        oim_redis_tx_unwatch (self->redis);
        oim_api_ok (reply, 200, registry_accounts_user_json (user, true));
    }
    else
    if (registry_members_keep_owner (self, user, strcmp (role, "owner"), reply) == 0)
        s_commit_role (self, &actor, user, role, reply);
    if (reply->status != 200)
        oim_redis_tx_unwatch (self->redis);
    protobuf_c_message_free_unpacked (&user->base, NULL);
}
