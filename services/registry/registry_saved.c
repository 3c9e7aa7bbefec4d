/*  registry_saved — saved searches: stored and change-logged here (the matcher percolates
    them).

    Saved searches belong to the caller's organization (agency, company or startup, active);
    another organization's are invisible (404). The agency lists any organization's with
    ?org_id= and may delete any.
*/
#include "registry_request.h"

static const char *s_search_deny [] = { "id", "org_id", "created_at", "updated_at", "version",
                                        "deleted", NULL };

static bool
s_member (const registry_actor_t *actor)
{
    return registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY)
        || registry_is (actor, OIM__V1__ROLE__ROLE_COMPANY)
        || registry_is (actor, OIM__V1__ROLE__ROLE_STARTUP);
}

static json_t *
s_search_json (const Oim__V1__SavedSearch *search)
{
    json_t *json = oim_pbjson_encode (&search->base, 0);
    json_object_del (json, "deleted");
    return json;
}

static int
s_write_search (registry_t *self, const registry_actor_t *actor, const Oim__V1__SavedSearch *s,
                const char *action)
{
    char key [OIM_KEY_SIZE], org_key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_SAVED_SEARCH, s->id);
    snprintf (org_key, sizeof org_key, OIM_KEY_ORG_SAVED_SEARCHES, s->org_id);
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    registry_tx_put (tx, key, &s->base);
    oim_redis_tx_strs (tx, s->deleted? "ZREM": "ZADD", OIM_KEY_SAVED_SEARCHES,
                       s->deleted? s->id: "0", s->deleted? NULL: s->id, NULL);
    oim_redis_tx_strs (tx, s->deleted? "ZREM": "ZADD", org_key,
                       s->deleted? s->id: "0", s->deleted? NULL: s->id, NULL);
    registry_tx_change (tx, actor, s->deleted? OIM__V1__CHANGE_OP__CHANGE_OP_DELETE
                                             : OIM__V1__CHANGE_OP__CHANGE_OP_CREATE,
                        action, "saved_search", s->id, &s->base);
    registry_tx_audit (tx, actor, action, "saved_search", s->id, s->type);
    registry_tx_count (tx, "saved_searches", s->deleted? -1: 1);
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    return rc;
}

//  Decodes and validates a new saved search; NULL with the reply set.
static Oim__V1__SavedSearch *
s_decode_search (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return NULL;
    oim_pbjson_error_t perr;
    registry_err_t err;
    Oim__V1__SavedSearch *search = (Oim__V1__SavedSearch *) oim_pbjson_decode (
        &oim__v1__saved_search__descriptor, body, s_search_deny, &perr);
    json_decref (body);
    if (!search) {
        oim_api_decode_error (reply, &perr);
        return NULL;
    }
    if (registry_validate_saved_search (search, &err) == 0)
        return search;
    registry_reply_err (reply, &err);
    protobuf_c_message_free_unpacked (&search->base, NULL);
    return NULL;
}

void
registry_saved_search_create (oim_service_t *service, const Oim__V1__ApiRequest *request,
                              oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!s_member (&actor) || !*actor.principal->org_id)
        return oim_api_error (reply, 403, "forbidden", NULL, "saved searches belong to organizations");
    if (registry_orgs_require_active (self, &actor, reply))
        return;
    Oim__V1__SavedSearch *search = s_decode_search (request, reply);
    if (!search)
        return;
    char org_key [OIM_KEY_SIZE], id [OIM_ID_SIZE], now [OIM_RFC3339_SIZE];
    snprintf (org_key, sizeof org_key, OIM_KEY_ORG_SAVED_SEARCHES, actor.principal->org_id);
    redisReply *count = oim_redis_command (self->redis, "ZCARD %s", org_key);
    oim_id_new ("ss", id);
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    registry_set_string (&search->id, id);
    registry_set_string (&search->org_id, actor.principal->org_id);
    registry_set_string (&search->created_at, now);
    registry_set_string (&search->updated_at, now);
    search->version = 1;
    if (!count)
        registry_reply_unavailable (reply);
    else
    if (count->integer >= REGISTRY_MAX_SAVED_SEARCHES)
        oim_api_error (reply, 409, "limit_reached", NULL, "at most %d saved searches per "
                       "organization", REGISTRY_MAX_SAVED_SEARCHES);
    else
    if (s_write_search (self, &actor, search, "saved_search.create"))
        registry_reply_unavailable (reply);
    else
        oim_api_ok (reply, 201, s_search_json (search));
    if (count)
        freeReplyObject (count);
    protobuf_c_message_free_unpacked (&search->base, NULL);
}

void
registry_saved_search_list (oim_service_t *service, const Oim__V1__ApiRequest *request,
                            oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!s_member (&actor) || !*actor.principal->org_id)
        return oim_api_error (reply, 403, "forbidden", NULL, "saved searches belong to organizations");
    const char *org_id = oim_api_query (request, "org_id");
    if (org_id && strcmp (org_id, actor.principal->org_id)
    &&  !registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", "org_id", "only your own saved searches");
    if (org_id && !oim_id_valid (org_id, "org"))
        return oim_api_error (reply, 400, "invalid", "org_id", "org_id is not an organization id");
    char org_key [OIM_KEY_SIZE];
    snprintf (org_key, sizeof org_key, OIM_KEY_ORG_SAVED_SEARCHES,
              org_id? org_id: actor.principal->org_id);
    redisReply *ids = oim_redis_command (self->redis, "ZRANGE %s 0 %d", org_key,
                                         REGISTRY_MAX_SAVED_SEARCHES - 1);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject (ids);
        return registry_reply_unavailable (reply);
    }
    json_t *items = json_array ();
    for (size_t i = 0; i < ids->elements; i++) {
        char key [OIM_KEY_SIZE];
        snprintf (key, sizeof key, OIM_KEY_SAVED_SEARCH, ids->element [i]->str);
        Oim__V1__SavedSearch *s = NULL;
        if (registry_store_get (self->redis, key, &oim__v1__saved_search__descriptor,
                                (ProtobufCMessage **) &s) == 1 && !s->deleted)
            json_array_append_new (items, s_search_json (s));
        if (s)
            protobuf_c_message_free_unpacked (&s->base, NULL);
    }
    freeReplyObject (ids);
    oim_api_ok (reply, 200, json_pack ("{s:o}", "items", items));
}

void
registry_saved_search_delete (oim_service_t *service, const Oim__V1__ApiRequest *request,
                              oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    const char *id = oim_api_param (request, "id");
    if (!s_member (&actor) || !*actor.principal->org_id)
        return oim_api_error (reply, 403, "forbidden", NULL, "saved searches belong to organizations");
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_SAVED_SEARCH, id? id: "");
    Oim__V1__SavedSearch *s = NULL;
    int rc = !id || !oim_id_valid (id, "ss")? 0
           : oim_redis_tx_watch (self->redis, key)? -1
           : registry_store_get (self->redis, key, &oim__v1__saved_search__descriptor,
                                 (ProtobufCMessage **) &s);
    bool visible = rc == 1 && !s->deleted
                && (registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY)
                    || strcmp (s->org_id, actor.principal->org_id) == 0);
    if (visible) {
        char now [OIM_RFC3339_SIZE];
        oim_clock_rfc3339 (oim_clock_wall_ms (), now);
        registry_set_string (&s->updated_at, now);
        s->version++;
        s->deleted = true;
        rc = s_write_search (self, &actor, s, "saved_search.delete");
    }
    if (rc == -1)
        registry_reply_unavailable (reply);
    else
    if (!visible)
        oim_api_error (reply, 404, "not_found", "id", "no such saved search");
    else
    if (rc == 1)
        oim_api_error (reply, 409, "conflict", NULL, "changed concurrently; retry");
    else
        oim_api_ok (reply, 200, json_pack ("{s:s,s:b}", "id", s->id, "deleted", 1));
    if (!visible || rc)
        oim_redis_tx_unwatch (self->redis);
    if (s)
        protobuf_c_message_free_unpacked (&s->base, NULL);
}
