/*  registry_profile_events — organisation profile events from other systems (issue 17 item 6):
    POST /v1/events/organizations ("org_events.ingest", a JSON array) and the org_events of a
    ZeroMQ IngestBatch (registry_ingest.c hands them over after the batch's demand events).

    The semantics of demand events (SPEC §4): one organisation per (source_system,
    external_id), kept in oim:source:<system>:orgs (external_id -> org id); the organisation
    keeps the sequence of the last applied event (source_sequence): the same one again is
    "duplicate", a lower one "stale"; an event that cannot be applied is "invalid" with a
    reason and a field, and changes nothing; the others are unaffected.
    Each applied event is its own MULTI/EXEC (state, oim:orgs, the business-number claim, the
    source map, counters, change log, audit) under WATCH of the keys it read, retried on a
    conflict; results are returned only after every EXEC, so an acknowledged event is
    durable. Profiles are rarer than demands: one transaction per event keeps this simple
    (demand events are batched in three round trips, registry_ingest.c).
    Decisions: a new organisation is "active" (its publisher was registered by the agency)
    and has no API key until the agency issues one; kind is startup or company and never
    changes; an upsert of a live organisation keeps its status (a suspension sticks); a
    business_number held by another organisation is invalid; "delete" soft-deletes (frees
    the business number, revokes a key) and a later upsert brings the same id back.
*/
#include "registry_request.h"
#include "oim_utf8.h"

#define MAX_ATTEMPTS 3

//  The state one event works on, read under WATCH.
typedef struct {
    char stored_id [OIM_ID_SIZE];           //  from the source map, "" when new
    Oim__V1__Organization *cur;             //  the stored organisation (owned) or NULL
    char key_hash [80];                     //  the org's API key hash, "" when none
} s_state_t;

static int
s_invalid (registry_profile_result_t *result, const char *field, const char *reason)
{
    result->status = "invalid";
    snprintf (result->field, sizeof result->field, "%.130s", field);
    snprintf (result->reason, sizeof result->reason, "%s", reason);
    return -1;
}

//  Checks that need no Redis. Returns 0, or -1 with the result invalid.
static int
s_check (Oim__V1__OrganizationEvent *e, const char *allowed_source,
         registry_profile_result_t *result)
{
    registry_err_t err;
    if (!*e->source_system && allowed_source)
        registry_set_string (&e->source_system, allowed_source);
    if (allowed_source && strcmp (e->source_system, allowed_source))
        return s_invalid (result, "source_system", "source_system is not the publisher's");
    if (!*e->source_system || strlen (e->source_system) > 64
    ||  !oim_utf8_valid (e->source_system, strlen (e->source_system)))
        return s_invalid (result, "source_system", "source_system is required");
    if (registry_validate_text (&e->external_id, "external_id", 200, true, false, &err))
        return s_invalid (result, err.field, err.message);
    if (e->sequence == 0)
        return s_invalid (result, "sequence", "sequence must be 1 or more");
    int64_t ms;
    if (*e->occurred_at && oim_clock_parse_rfc3339 (e->occurred_at, &ms))
        return s_invalid (result, "occurred_at", "occurred_at is not an RFC 3339 date-time");
    if (strcmp (e->op, "delete") == 0)
        return 0;
    if (strcmp (e->op, "upsert"))
        return s_invalid (result, "op", "op must be upsert or delete");
    Oim__V1__Organization *org = e->organization;
    if (!org)
        return s_invalid (result, "organization", "an upsert carries the organization");
    if (strcmp (org->kind, "startup") && strcmp (org->kind, "company"))
        return s_invalid (result, "organization.kind", "kind must be startup or company");
    if (org->n_inferred_tags || org->n_inferred_industries)
        return s_invalid (result, org->n_inferred_tags? "organization.inferred_tags"
                                                      : "organization.inferred_industries",
                          "inferred tags and industries are the registry's (read-only)");
    if (registry_validate_org (org, &err)) {
        char field [160];
        snprintf (field, sizeof field, "organization.%.120s", err.field);
        return s_invalid (result, field, err.message);
    }
    return 0;
}

//  Reads (under WATCH) the source map entry, the stored org and its key hash.
//  Returns 0 or -1 (Redis failed).
static int
s_read (registry_t *self, const Oim__V1__OrganizationEvent *e, s_state_t *state)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_SOURCE_ORGS, e->source_system);
    if (oim_redis_tx_watch (self->redis, key))
        return -1;
    redisReply *r = oim_redis_command (self->redis, "HGET %s %s", key, e->external_id);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_STRING)
        snprintf (state->stored_id, sizeof state->stored_id, "%s", r->str);
    freeReplyObject (r);
    if (!*state->stored_id)
        return 0;
    snprintf (key, sizeof key, OIM_KEY_ORG, state->stored_id);
    if (oim_redis_tx_watch (self->redis, key)
    ||  registry_store_org (self->redis, state->stored_id, &state->cur) < 0)
        return -1;
    snprintf (key, sizeof key, OIM_KEY_ORG_APIKEY, state->stored_id);
    r = oim_redis_command (self->redis, "GET %s", key);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_STRING)
        snprintf (state->key_hash, sizeof state->key_hash, "%s", r->str);
    freeReplyObject (r);
    return 0;
}

//  True when org holds its business number (live and approved once).
static bool
s_holds_bizno (const Oim__V1__Organization *org)
{
    return org && !org->deleted && *org->business_number
        && (strcmp (org->status, "active") == 0 || strcmp (org->status, "suspended") == 0);
}

//  WATCHes and checks org's business number. Returns 0 free or its own, 1 held by
//  another organisation, -1 Redis failed.
static int
s_bizno_taken (registry_t *self, const Oim__V1__Organization *org)
{
    if (!s_holds_bizno (org))
        return 0;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_BIZNO, org->business_number);
    if (oim_redis_tx_watch (self->redis, key))
        return -1;
    redisReply *r = oim_redis_command (self->redis, "GET %s", key);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_STRING && strcmp (r->str, org->id);
    freeReplyObject (r);
    return rc;
}

static void
s_count (oim_redis_tx_t *tx, const Oim__V1__Organization *org, int delta)
{
    char field [64];
    snprintf (field, sizeof field, "org:%s:%s", org->kind, org->status);
    registry_tx_count (tx, field, delta);
}

//  The new state of an upsert (caller frees), or NULL with the result invalid.
static Oim__V1__Organization *
s_upserted (registry_t *self, const Oim__V1__OrganizationEvent *e, const s_state_t *state,
            const char *now, registry_profile_result_t *result)
{
    const Oim__V1__Organization *cur = state->cur;
    if (cur && strcmp (cur->kind, e->organization->kind)) {
        s_invalid (result, "organization.kind", "an organization's kind never changes");
        return NULL;
    }
    Oim__V1__Organization *org = (Oim__V1__Organization *) oim_pbjson_copy (&e->organization->base);
    char id [OIM_ID_SIZE];
    if (!cur)
        oim_id_new ("org", id);
    registry_set_string (&org->id, cur? cur->id: id);
    registry_set_string (&org->status, cur && !cur->deleted? cur->status: "active");
    registry_set_string (&org->created_at, cur? cur->created_at: now);
    if (org->source)
        oim__v1__source__free_unpacked (org->source, NULL);
    org->source = malloc (sizeof *org->source);
    assert (org->source);
    oim__v1__source__init (org->source);
    registry_set_string (&org->source->system, e->source_system);
    registry_set_string (&org->source->external_id, e->external_id);
    org->deleted = false;
    registry_infer_org (self->infer, org);
    result->status = !cur || cur->deleted? "created": "updated";
    return org;
}

//  Adds the business-number index changes from old to org to tx.
static void
s_tx_bizno (oim_redis_tx_t *tx, const Oim__V1__Organization *old, const Oim__V1__Organization *org)
{
    char key [OIM_KEY_SIZE];
    bool had = s_holds_bizno (old), has = s_holds_bizno (org);
    if (had && (!has || strcmp (old->business_number, org->business_number))) {
        snprintf (key, sizeof key, OIM_KEY_BIZNO, old->business_number);
        oim_redis_tx_strs (tx, "DEL", key, NULL);
    }
    if (has) {
        snprintf (key, sizeof key, OIM_KEY_BIZNO, org->business_number);
        oim_redis_tx_strs (tx, "SET", key, org->id, NULL);
    }
}

//  The transaction of one applied event: old (NULL when new) -> org.
static void
s_tx (oim_redis_tx_t *tx, const registry_actor_t *actor, const Oim__V1__OrganizationEvent *e,
      const s_state_t *state, const Oim__V1__Organization *org)
{
    const Oim__V1__Organization *old = state->cur;
    bool was_live = old && !old->deleted;
    char key [OIM_KEY_SIZE], action [48];
    snprintf (key, sizeof key, OIM_KEY_ORG, org->id);
    registry_tx_put (tx, key, &org->base);
    registry_tx_zset (tx, !org->deleted, OIM_KEY_ORGS, org->id);
    if (was_live)
        s_count (tx, old, -1);
    if (!org->deleted)
        s_count (tx, org, 1);
    s_tx_bizno (tx, old, org);
    if (org->deleted && *state->key_hash) {
        snprintf (key, sizeof key, OIM_KEY_APIKEY, state->key_hash);
        oim_redis_tx_strs (tx, "DEL", key, NULL);
        snprintf (key, sizeof key, OIM_KEY_ORG_APIKEY, org->id);
        oim_redis_tx_strs (tx, "DEL", key, NULL);
    }
    if (!*state->stored_id) {
        snprintf (key, sizeof key, OIM_KEY_SOURCE_ORGS, e->source_system);
        oim_redis_tx_strs (tx, "HSET", key, e->external_id, org->id, NULL);
    }
    snprintf (action, sizeof action, "org.ingest.%s", e->op);
    Oim__V1__ChangeOp op = org->deleted? OIM__V1__CHANGE_OP__CHANGE_OP_DELETE
                         : was_live? OIM__V1__CHANGE_OP__CHANGE_OP_UPDATE
                         : OIM__V1__CHANGE_OP__CHANGE_OP_CREATE;
    registry_tx_change (tx, actor, op, action, "org", org->id, &org->base);
    registry_tx_audit (tx, actor, action, "org", org->id, e->source_system);
}

//  Decides the event against state: sets result and returns the new state to write (caller
//  frees), or NULL when nothing is written (duplicate, stale, invalid).
static Oim__V1__Organization *
s_decide (registry_t *self, const Oim__V1__OrganizationEvent *e, const s_state_t *state,
          registry_profile_result_t *result)
{
    const Oim__V1__Organization *cur = state->cur;
    if (cur)
        snprintf (result->org_id, sizeof result->org_id, "%s", cur->id);
    if (cur && e->sequence <= cur->source_sequence) {
        result->status = e->sequence == cur->source_sequence? "duplicate": "stale";
        return NULL;
    }
    char now [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    Oim__V1__Organization *org = NULL;
    if (strcmp (e->op, "delete") == 0) {
        if (!cur || cur->deleted) {
            s_invalid (result, "external_id", "no such organization");
            return NULL;
        }
        org = (Oim__V1__Organization *) oim_pbjson_copy (&cur->base);
        org->deleted = true;
        result->status = "deleted";
    }
    else
    if (!(org = s_upserted (self, e, state, now, result)))
        return NULL;
    org->source_sequence = e->sequence;
    org->version = cur? cur->version + 1: 1;
    registry_set_string (&org->updated_at, now);
    snprintf (result->org_id, sizeof result->org_id, "%s", org->id);
    return org;
}

//  One attempt at one checked event: 0 done (result set), 1 WATCH conflict, -1 Redis.
static int
s_attempt (registry_t *self, const registry_actor_t *actor, const Oim__V1__OrganizationEvent *e,
           registry_profile_result_t *result)
{
    s_state_t state = { .cur = NULL };
    int rc = s_read (self, e, &state);
    Oim__V1__Organization *org = rc? NULL: s_decide (self, e, &state, result);
    int taken = org? s_bizno_taken (self, org): 0;
    if (taken == 1) {
        s_invalid (result, "organization.business_number",
                   "another organization holds this business_number");
        result->org_id [0] = state.cur? result->org_id [0]: 0;
    }
    if (org && taken == 0) {
        oim_redis_tx_t *tx = oim_redis_tx_new ();
        s_tx (tx, actor, e, &state, org);
        rc = oim_redis_tx_exec (tx, self->redis);
        oim_redis_tx_destroy (&tx);
    }
    else {
        oim_redis_tx_unwatch (self->redis);
        rc = rc? rc: taken < 0? -1: 0;
    }
    if (org)
        protobuf_c_message_free_unpacked (&org->base, NULL);
    if (state.cur)
        protobuf_c_message_free_unpacked (&state.cur->base, NULL);
    return rc;
}

int
registry_profile_events_run (registry_t *self, const registry_actor_t *actor,
                             const char *allowed_source, Oim__V1__OrganizationEvent **events,
                             size_t count, registry_profile_result_t *results)
{
    for (size_t i = 0; i < count; i++) {
        registry_profile_result_t *result = &results [i];
        if (!events [i] || result->status || s_check (events [i], allowed_source, result))
            continue;
        int rc = 1;
        for (int attempt = 0; attempt < MAX_ATTEMPTS && rc == 1; attempt++) {
            result->org_id [0] = 0;
            rc = s_attempt (self, actor, events [i], result);
        }
        if (rc == 1)
            s_invalid (result, "", "changed concurrently too often; send it again");
        if (rc < 0)
            return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------------------
//  HTTP: POST /v1/events/organizations

static json_t *
s_result_json (const Oim__V1__OrganizationEvent *e, const registry_profile_result_t *result,
               size_t index)
{
    json_t *json = json_pack ("{s:I,s:s,s:s}", "index", (json_int_t) index, "external_id",
                              e? e->external_id: "", "status", result->status);
    if (*result->org_id)
        json_object_set_new (json, "org_id", json_string (result->org_id));
    if (strcmp (result->status, "invalid") == 0) {
        json_object_set_new (json, "reason", json_string (result->reason));
        json_object_set_new (json, "field", json_string (result->field));
    }
    return json;
}

//  Decodes the body's events into *events (each owned, NULL when it did not decode, its
//  result then invalid). Returns the count, or -1 with the reply set.
static long
s_decode (const Oim__V1__ApiRequest *request, Oim__V1__OrganizationEvent ***events,
          registry_profile_result_t **results, oim_api_reply_t *reply)
{
    json_error_t jerr;
    json_t *array = request->body.len? json_loadb ((const char *) request->body.data,
                                                   request->body.len, 0, &jerr): NULL;
    size_t count = json_array_size (array);
    if (!json_is_array (array) || count > REGISTRY_MAX_BATCH_EVENTS) {
        oim_api_error (reply, array && json_is_array (array)? 413: 400,
                       array && json_is_array (array)? "too_large": "invalid", NULL,
                       "the body must be a JSON array of at most %d organization events",
                       REGISTRY_MAX_BATCH_EVENTS);
        json_decref (array);
        return -1;
    }
    *events = calloc (count + 1, sizeof **events);
    *results = calloc (count + 1, sizeof **results);
    assert (*events && *results);
    for (size_t i = 0; i < count; i++) {
        json_t *element = json_array_get (array, i);
        oim_pbjson_error_t perr = { "", "must be an object" };
        Oim__V1__OrganizationEvent *e = json_is_object (element)
            ? (Oim__V1__OrganizationEvent *) oim_pbjson_decode (
                  &oim__v1__organization_event__descriptor, element, NULL, &perr): NULL;
        if (e && e->organization)
            registry_infer_given (json_object_get (element, "organization"),
                                  &e->organization->tags_given,
                                  &e->organization->industries_given);
        if (!e) {
            char reason [300];
            snprintf (reason, sizeof reason, "%s %s", perr.field, perr.message);
            s_invalid (&(*results) [i], perr.field, reason);
        }
        (*events) [i] = e;
    }
    json_decref (array);
    return (long) count;
}

void
registry_org_events_ingest (oim_service_t *service, const Oim__V1__ApiRequest *request,
                            oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    bool agency = registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY);
    if (!agency && !registry_is (&actor, OIM__V1__ROLE__ROLE_PUBLISHER))
        return oim_api_error (reply, 403, "forbidden", NULL,
                              "only publishers send organization events");
    Oim__V1__OrganizationEvent **events = NULL;
    registry_profile_result_t *results = NULL;
    long count = s_decode (request, &events, &results, reply);
    if (count < 0)
        return;
    if (registry_profile_events_run (self, &actor, agency? NULL: actor.principal->source_system,
                                     events, (size_t) count, results))
        registry_reply_unavailable (reply);
    else {
        json_t *array = json_array ();
        for (long i = 0; i < count; i++)
            json_array_append_new (array, s_result_json (events [i], &results [i], (size_t) i));
        oim_api_ok (reply, 200, json_pack ("{s:O,s:o,s:n}", "items", array, "results", array,
                                           "next_cursor"));    //  "results": deprecated alias
    }
    for (long i = 0; i < count; i++)
        if (events [i])
            protobuf_c_message_free_unpacked (&events [i]->base, NULL);
    free (events);
    free (results);
}
