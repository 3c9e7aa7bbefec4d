/*  registry_award — POST /v1/demands/{id}/award {"startup_ids": [...]} (issue 17 item 3):
    the owner or the agency awards a demand (open or closed) to startups that each have a
    "contract" relationship with it. The relationships are the matcher's pair records
    (oim:demand:<id>:matches startup -> match id, oim:match:<id>, matcher.proto Match), read
    here as stored and WATCHed with the demand, so a relationship that leaves "contract"
    meanwhile makes the write fail (409) instead of awarding it. The demand becomes
    status "awarded" with awarded_to = the startups, through the ordinary demand commit
    (change log, audit, indexes).
*/
#include "registry_request.h"
#include "matcher.pb-c.h"

#define AWARD_MAX 20

static const char *s_awardable [] = { "open", "closed", NULL };

//  The body's startup_ids (1..AWARD_MAX distinct strings): a new array of borrowed strings
//  (*n), or NULL with the reply set (400). *body_p keeps the body (the caller decrefs).
static const char **
s_startup_ids (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply, json_t **body_p,
               size_t *n)
{
    json_t *body = *body_p = oim_api_body (request, reply);
    json_t *ids = body? json_object_get (body, "startup_ids"): NULL;
    if (!body)
        return NULL;
    size_t count = json_is_array (ids)? json_array_size (ids): 0;
    if (count == 0 || count > AWARD_MAX) {
        oim_api_error (reply, 400, "invalid", "startup_ids",
                       "must be an array of 1 to %d startup ids", AWARD_MAX);
        return NULL;
    }
    const char **out = calloc (count, sizeof *out);
    assert (out);
    for (size_t i = 0; i < count; i++) {
        out [i] = json_string_value (json_array_get (ids, i));
        for (size_t j = 0; out [i] && j < i; j++)
            if (strcmp (out [i], out [j]) == 0)
                out [i] = NULL;
        if (!out [i]) {
            oim_api_error (reply, 400, "invalid", "startup_ids",
                           "must be distinct strings (item %zu)", i);
            free (out);
            return NULL;
        }
    }
    *n = count;
    return out;
}

//  The state of the pair's relationship (a copy; "" when none), WATCHing its keys; NULL
//  when Redis failed.
static char *
s_pair_state (registry_t *self, const char *demand_id, const char *startup_id)
{
    char key [OIM_KEY_SIZE], mkey [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_DEMAND_MATCHES, demand_id);
    redisReply *w = oim_redis_command (self->redis, "WATCH %s", key);
    redisReply *id = w? oim_redis_command (self->redis, "HGET %s %s", key, startup_id): NULL;
    redisReply *r = NULL;
    if (id && id->type == REDIS_REPLY_STRING) {
        snprintf (mkey, sizeof mkey, OIM_KEY_MATCH, id->str);
        redisReply *w2 = oim_redis_command (self->redis, "WATCH %s", mkey);
        r = w2? oim_redis_command (self->redis, "GET %s", mkey): NULL;
        if (w2)
            freeReplyObject (w2);
    }
    char *state = NULL;
    if (r && r->type == REDIS_REPLY_STRING) {
        Oim__V1__Match *m = oim__v1__match__unpack (NULL, r->len, (const uint8_t *) r->str);
        state = strdup (m? m->state: "");
        if (m)
            oim__v1__match__free_unpacked (m, NULL);
    }
    else
    if (id && (id->type == REDIS_REPLY_NIL || (r && r->type == REDIS_REPLY_NIL)))
        state = strdup ("");
    if (w) freeReplyObject (w);
    if (id) freeReplyObject (id);
    if (r) freeReplyObject (r);
    return state;
}

//  True when every startup is in contract with the demand; else the reply is set (409
//  not_in_contract naming the startup and its state, or 503).
static bool
s_all_in_contract (registry_t *self, const char *demand_id, const char **ids, size_t n,
                   oim_api_reply_t *reply)
{
    for (size_t i = 0; i < n; i++) {
        char *state = s_pair_state (self, demand_id, ids [i]);
        bool ok = state && strcmp (state, "contract") == 0;
        if (!state)
            oim_api_error (reply, 503, "unavailable", NULL, "the registry cannot reach Redis");
        else
        if (!ok) {
            oim_api_error (reply, 409, "not_in_contract", "startup_ids",
                           "%s has no contract with this demand", ids [i]);
            json_object_set_new (json_object_get (reply->body, "error"), "state",
                                 json_string (*state? state: "none"));
        }
        free (state);
        if (!ok)
            return false;
    }
    return true;
}

void
registry_demand_award (oim_service_t *service, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    json_t *body = NULL;
    size_t n = 0;
    const char **ids = s_startup_ids (request, reply, &body, &n);
    Oim__V1__Demand *demand = ids? registry_demand_load_for_change (self, request, &actor,
                                                                    s_awardable, reply): NULL;
    if (demand && s_all_in_contract (self, demand->id, ids, n, reply)) {
        Oim__V1__Demand *copy = (Oim__V1__Demand *) oim_pbjson_copy (&demand->base);
        registry_set_string (&copy->status, "awarded");
        for (size_t i = 0; i < copy->n_awarded_to; i++)
            free (copy->awarded_to [i]);
        copy->awarded_to = realloc (copy->awarded_to, n * sizeof *copy->awarded_to);
        assert (copy->awarded_to);
        for (size_t i = 0; i < n; i++)
            copy->awarded_to [i] = strdup (ids [i]);
        copy->n_awarded_to = n;
        registry_demand_bump (copy, demand->version);
        registry_demand_commit (self, &actor, demand, copy, "demand.award", reply);
        protobuf_c_message_free_unpacked (&copy->base, NULL);
    }
    if (demand && reply->status != 200)
        oim_redis_tx_unwatch (self->redis);
    if (demand)
        protobuf_c_message_free_unpacked (&demand->base, NULL);
    free (ids);
    json_decref (body);
}
