/*  registry_demands — demands: create, read, update, close, list, and the closes_at sweep.

    Visibility is decided in one place (s_view) and applied on every read path:
      "public": everyone; owner and agency: everything; "members": members only, invisible
      (404 / left out of lists) to others; "confidential": everyone sees the teaser (id,
      title, tags, visibility, status); the full demand only the owner, the agency and
      startups in oim:demand:<id>:connected (a set the matcher fills when a match becomes
      "connected").
    A member is an agency key, or a company or startup key whose organization is active:
    the daemon looks the organization up itself (once per request, only when the answer
    depends on it), so a pending, suspended or deleted organization's key reads demands as
    an anonymous caller would even if the gateway let it through (defence in depth).
    Writers: the owner company (its organization active) and the agency. Every write goes
    through registry_demands_tx, which keeps the indexes, counters, log and audit in step;
    demand events (registry_ingest.c) use it too.
*/
#include "registry_request.h"

#define LIST_DEFAULT 20
#define LIST_MAX 100
#define SWEEP_MAX 100               //  demands read per sweep round
#define SWEEP_BUDGET_MSEC 50        //  time one sweep may take

typedef enum { VIEW_NONE, VIEW_TEASER, VIEW_FULL } view_t;

static const char *s_create_deny [] = { "id", "status", "source", "source_sequence",
    "created_at", "updated_at", "version", "deleted", "review_notes", "awarded_to", REGISTRY_INFER_READ_ONLY,
    NULL };
static const char *s_update_deny [] = { "id", "org_id", "status", "source", "source_sequence",
    "created_at", "updated_at", "version", "deleted", "review_notes", "awarded_to", REGISTRY_INFER_READ_ONLY,
    NULL };
//  The states a demand may be edited in (issue 17: a returned demand is fixed, then resubmitted).
static const char *s_editable [] = { "open", "pending_review", "returned", NULL };
static const char *s_closable [] = { "open", NULL };

static bool
s_owner_or_agency (const registry_actor_t *actor, const Oim__V1__Demand *demand)
{
    return registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY)
        || (registry_is (actor, OIM__V1__ROLE__ROLE_COMPANY)
            && strcmp (actor->principal->org_id, demand->org_id) == 0);
}

//  Who reads: the actor and whether it is a member (-1 until looked up; one request looks
//  it up at most once, however many demands it reads).
typedef struct {
    const registry_actor_t *actor;
    int member;
} reader_t;

static reader_t
s_reader (const registry_actor_t *actor)
{
    return (reader_t) { actor, registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY)? 1
                                : registry_is (actor, OIM__V1__ROLE__ROLE_COMPANY)
                                  || registry_is (actor, OIM__V1__ROLE__ROLE_STARTUP)? -1: 0 };
}

//  True when the reader is a member: an agency key, or a company or startup key whose
//  organization is active now. *failed is set (and nothing kept) when Redis did not answer.
static bool
s_member (registry_t *self, reader_t *reader, bool *failed)
{
    if (reader->member < 0) {
        Oim__V1__Organization *org = NULL;
        int rc = registry_store_org (self->redis, reader->actor->principal->org_id, &org);
        if (rc == -1)
            *failed = true;
        else
            reader->member = rc == 1 && !org->deleted && strcmp (org->status, "active") == 0;
        if (org)
            protobuf_c_message_free_unpacked (&org->base, NULL);
    }
    return reader->member == 1;
}

//  What reader may see of demand. *failed is set when Redis did not answer.
static view_t
s_view (registry_t *self, reader_t *reader, const Oim__V1__Demand *demand, bool *failed)
{
    const registry_actor_t *actor = reader->actor;
    if (demand->deleted)
        return VIEW_NONE;
    if (registry_review_state (demand->status))     //  not public yet (registry_review.c)
        return s_owner_or_agency (actor, demand)? VIEW_FULL: VIEW_NONE;
    if (strcmp (demand->visibility, "public") == 0)
        return VIEW_FULL;
    bool members = strcmp (demand->visibility, "members") == 0;
    if (!s_member (self, reader, failed))
        return members? VIEW_NONE: VIEW_TEASER;
    if (members || s_owner_or_agency (actor, demand))
        return VIEW_FULL;
    if (!registry_is (actor, OIM__V1__ROLE__ROLE_STARTUP))
        return VIEW_TEASER;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_DEMAND_CONNECTED, demand->id);
    redisReply *r = oim_redis_command (self->redis, "SISMEMBER %s %s", key,
                                       actor->principal->org_id);
    bool connected = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (!r)
        *failed = true;
    if (r)
        freeReplyObject (r);
    return connected? VIEW_FULL: VIEW_TEASER;
}

static json_t *
s_json (const Oim__V1__Demand *demand, view_t view)
{
    if (view == VIEW_TEASER) {
        json_t *tags = json_array ();
        for (size_t i = 0; i < demand->n_tags; i++)
            json_array_append_new (tags, json_string (demand->tags [i]));
        return json_pack ("{s:s,s:s,s:o,s:s,s:s,s:b}", "id", demand->id, "title", demand->title,
                          "tags", tags, "visibility", demand->visibility, "status",
                          demand->status, "teaser", 1);
    }
    json_t *json = oim_pbjson_encode (&demand->base, 0);
    json_object_del (json, "deleted");
    json_object_del (json, "source_sequence");
    registry_infer_json (json, demand->n_tags, demand->n_industries);
    if (!demand->source || !*demand->source->system)
        json_object_del (json, "source");
    if (!demand->budget_krw)
        json_object_del (json, "budget_krw");
    return json;
}

static void
s_reply (oim_api_reply_t *reply, uint32_t status, const Oim__V1__Demand *demand, view_t view)
{
    char etag [32];
    snprintf (etag, sizeof etag, "\"%lld\"", (long long) demand->version);
    oim_api_ok (reply, status, s_json (demand, view));
    if (view == VIEW_FULL)
        oim_api_header (reply, "ETag", etag);
}

json_t *
registry_demand_json (const Oim__V1__Demand *demand)
{
    return s_json (demand, VIEW_FULL);
}

void
registry_demand_reply (oim_api_reply_t *reply, uint32_t status, const Oim__V1__Demand *demand)
{
    s_reply (reply, status, demand, VIEW_FULL);
}

static bool
s_in (const char *value, const char *const *list)
{
    for (; *list; list++)
        if (strcmp (value, *list) == 0)
            return true;
    return false;
}

static void
s_count (oim_redis_tx_t *tx, const char *status, int delta)
{
    char field [64];
    snprintf (field, sizeof field, "demand:%s", status);
    registry_tx_count (tx, field, delta);
}

void
registry_demands_tx (oim_redis_tx_t *tx, const registry_actor_t *actor,
                     const Oim__V1__Demand *old, const Oim__V1__Demand *demand,
                     const char *action, bool audit)
{
    char key [OIM_KEY_SIZE], org_key [OIM_KEY_SIZE];
    bool was_live = old && !old->deleted;
    snprintf (key, sizeof key, OIM_KEY_DEMAND, demand->id);
    snprintf (org_key, sizeof org_key, OIM_KEY_ORG_DEMANDS, demand->org_id);
    registry_tx_put (tx, key, &demand->base);
    if (was_live)
        s_count (tx, old->status, -1);
    if (demand->deleted) {
        registry_tx_zset (tx, false, OIM_KEY_DEMANDS, demand->id);
        registry_tx_zset (tx, false, org_key, demand->id);
    }
    else {
        s_count (tx, demand->status, 1);
        if (!was_live) {
            registry_tx_zset (tx, true, OIM_KEY_DEMANDS, demand->id);
            registry_tx_zset (tx, true, org_key, demand->id);
        }
    }
    int64_t closes_ms;
    if (!demand->deleted && strcmp (demand->status, "open") == 0 && *demand->closes_at
    &&  oim_clock_parse_rfc3339 (demand->closes_at, &closes_ms) == 0) {
        char score [24];
        snprintf (score, sizeof score, "%lld", (long long) closes_ms);
        const char *argv [2] = { score, demand->id };
        size_t lens [2] = { strlen (score), strlen (demand->id) };
        oim_redis_tx_group (tx, "ZADD", OIM_KEY_DEMANDS_CLOSING, 2, argv, lens);
    }
    else
    if (old && *old->closes_at)
        registry_tx_zset (tx, false, OIM_KEY_DEMANDS_CLOSING, demand->id);
    registry_review_tx_index (tx, old, demand);
    Oim__V1__ChangeOp op = demand->deleted? OIM__V1__CHANGE_OP__CHANGE_OP_DELETE
                         : was_live? OIM__V1__CHANGE_OP__CHANGE_OP_UPDATE
                         : OIM__V1__CHANGE_OP__CHANGE_OP_CREATE;
    registry_tx_change (tx, actor, op, action, "demand", demand->id, &demand->base);
    if (audit)
        registry_tx_audit (tx, actor, action, "demand", demand->id, demand->status);
}

//  Runs one demand write as its own transaction. Returns oim_redis_tx_exec's result.
static int
s_write (registry_t *self, const registry_actor_t *actor, const Oim__V1__Demand *old,
         const Oim__V1__Demand *demand, const char *action)
{
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    registry_demands_tx (tx, actor, old, demand, action, true);
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    return rc;
}

static bool
s_in_past (const char *closes_at)
{
    int64_t ms;
    return *closes_at && oim_clock_parse_rfc3339 (closes_at, &ms) == 0 && ms <= oim_clock_wall_ms ();
}

//  Checks the owner named by demand->org_id (agency) or sets it (company).
//  Returns 0, or -1 with the reply set.
static int
s_check_owner (registry_t *self, const registry_actor_t *actor, Oim__V1__Demand *demand,
               oim_api_reply_t *reply)
{
    if (registry_is (actor, OIM__V1__ROLE__ROLE_COMPANY)) {
        if (*demand->org_id && strcmp (demand->org_id, actor->principal->org_id)) {
            oim_api_error (reply, 403, "forbidden", "org_id", "a company posts its own demands");
            return -1;
        }
        registry_set_string (&demand->org_id, actor->principal->org_id);
        return registry_orgs_require_active (self, actor, reply);
    }
    Oim__V1__Organization *org = NULL;
    int rc = oim_id_valid (demand->org_id, "org")? registry_store_org (self->redis, demand->org_id, &org): 0;
    bool company = rc == 1 && !org->deleted && strcmp (org->kind, "company") == 0;
    if (org)
        protobuf_c_message_free_unpacked (&org->base, NULL);
    if (rc == -1)
        registry_reply_unavailable (reply);
    else
    if (!company)
        oim_api_error (reply, 422, "unprocessable", "org_id", "org_id must name a company");
    return company? 0: -1;
}

//  Decodes, validates and stamps a new demand; NULL with the reply set.
static Oim__V1__Demand *
s_decode_new (registry_t *self, const Oim__V1__ApiRequest *request,
              const registry_actor_t *actor, oim_api_reply_t *reply)
{
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return NULL;
    oim_pbjson_error_t perr;
    registry_err_t err;
    Oim__V1__Demand *demand = (Oim__V1__Demand *) oim_pbjson_decode (
        &oim__v1__demand__descriptor, body, s_create_deny, &perr);
    if (demand)
        registry_infer_given (body, &demand->tags_given, &demand->industries_given);
    json_decref (body);
    if (!demand) {
        oim_api_decode_error (reply, &perr);
        return NULL;
    }
    if (registry_validate_demand (demand, "", &err))
        registry_reply_err (reply, &err);
    else
    if (s_in_past (demand->closes_at))
        oim_api_error (reply, 422, "unprocessable", "closes_at", "closes_at is in the past");
    else
    if (s_check_owner (self, actor, demand, reply) == 0
    &&  registry_review_submit (self, actor, demand, reply) == 0) {
        char id [OIM_ID_SIZE], now [OIM_RFC3339_SIZE];
        oim_id_new ("dem", id);
        oim_clock_rfc3339 (oim_clock_wall_ms (), now);
        registry_set_string (&demand->id, id);
        registry_set_string (&demand->created_at, now);
        registry_set_string (&demand->updated_at, now);
        demand->version = 1;
        registry_infer_demand (self->infer, demand);
        return demand;
    }
    protobuf_c_message_free_unpacked (&demand->base, NULL);
    return NULL;
}

void
registry_demand_create (oim_service_t *service, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_COMPANY)
    &&  !registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL,
                              "demands are posted by companies and the agency");
    Oim__V1__Demand *demand = s_decode_new (self, request, &actor, reply);
    if (!demand)
        return;
    if (s_write (self, &actor, NULL, demand, "demand.create"))
        registry_reply_unavailable (reply);
    else {
        s_reply (reply, 201, demand, VIEW_FULL);
        char location [96];
        snprintf (location, sizeof location, "/v1/demands/%s", demand->id);
        oim_api_header (reply, "Location", location);
    }
    protobuf_c_message_free_unpacked (&demand->base, NULL);
}

//  Loads the live demand of the "id" parameter (WATCHed when watch). NULL with 404/503 set.
static Oim__V1__Demand *
s_load (registry_t *self, const Oim__V1__ApiRequest *request, bool watch, oim_api_reply_t *reply)
{
    return (Oim__V1__Demand *) registry_load_live (self, request, "dem", OIM_KEY_DEMAND,
                                  &oim__v1__demand__descriptor, "demand", watch, reply);
}

void
registry_demand_get (oim_service_t *service, const Oim__V1__ApiRequest *request,
                     oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    Oim__V1__Demand *demand = s_load (self, request, false, reply);
    if (!demand)
        return;
    bool failed = false;
    reader_t reader = s_reader (&actor);
    view_t view = s_view (self, &reader, demand, &failed);
    if (failed)
        registry_reply_unavailable (reply);
    else
    if (view == VIEW_NONE)
        oim_api_error (reply, 404, "not_found", "id", "no such demand");
    else
        s_reply (reply, 200, demand, view);
    protobuf_c_message_free_unpacked (&demand->base, NULL);
}

//  Loads the demand for a change by its owner or the agency: WATCHed, rights and
//  If-Match checked, open. NULL with the reply set.
Oim__V1__Demand *
registry_demand_load_for_change (registry_t *self, const Oim__V1__ApiRequest *request,
                                 const registry_actor_t *actor, const char *const *states,
                                 oim_api_reply_t *reply)
{
    int64_t if_match = registry_if_match (request);
    if (if_match < 0) {
        oim_api_error (reply, 400, "invalid", "If-Match", "If-Match must be a version number");
        return NULL;
    }
    if (!registry_is (actor, OIM__V1__ROLE__ROLE_COMPANY)
    &&  !registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY)) {
        oim_api_error (reply, 403, "forbidden", NULL, "only the owner or the agency may do this");
        return NULL;
    }
    if (registry_orgs_require_active (self, actor, reply))
        return NULL;
    Oim__V1__Demand *demand = s_load (self, request, true, reply);
    if (!demand)
        return NULL;
    bool failed = false;
    reader_t reader = s_reader (actor);
    if (!s_owner_or_agency (actor, demand))
        s_view (self, &reader, demand, &failed) == VIEW_NONE
            ? oim_api_error (reply, 404, "not_found", "id", "no such demand")
            : oim_api_error (reply, 403, "forbidden", NULL, "only the owner or the agency may do this");
    else
    if (if_match && if_match != demand->version)
        oim_api_error (reply, 409, "version_conflict", NULL, "the demand is at version %lld, "
                       "not %lld", (long long) demand->version, (long long) if_match);
    else
    if (!s_in (demand->status, states))
        oim_api_error (reply, 409, "state_conflict", "status", "the demand is %s", demand->status);
    else
        return demand;
    oim_redis_tx_unwatch (self->redis);
    protobuf_c_message_free_unpacked (&demand->base, NULL);
    return NULL;
}

//  Stamps the next version of a changed demand.
void
registry_demand_bump (Oim__V1__Demand *demand, int64_t old_version)
{
    char now [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    registry_set_string (&demand->updated_at, now);
    demand->version = old_version + 1;
}

//  Writes demand (after old) and sets the reply. Consumes nothing.
void
registry_demand_commit (registry_t *self, const registry_actor_t *actor,
                        const Oim__V1__Demand *old, const Oim__V1__Demand *demand,
                        const char *action, oim_api_reply_t *reply)
{
    int rc = s_write (self, actor, old, demand, action);
    if (rc)
        registry_reply_tx (reply, rc, 0, NULL);
    else
        s_reply (reply, 200, demand, VIEW_FULL);
}

void
registry_demand_update (oim_service_t *service, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    Oim__V1__Demand *demand = registry_demand_load_for_change (self, request, &actor,
                                                               s_editable, reply);
    if (!demand)
        return;
    json_t *body = oim_api_body (request, reply);
    Oim__V1__Demand *copy = body? (Oim__V1__Demand *) oim_pbjson_copy (&demand->base): NULL;
    oim_pbjson_error_t perr;
    registry_err_t err;
    if (!body)
        ;
    else
    if (oim_pbjson_merge (&copy->base, body, s_update_deny, &perr))
        oim_api_decode_error (reply, &perr);
    else
    if (registry_validate_demand (copy, "", &err))
        registry_reply_err (reply, &err);
    else
    if (strcmp (copy->closes_at, demand->closes_at) && s_in_past (copy->closes_at))
        oim_api_error (reply, 422, "unprocessable", "closes_at", "closes_at is in the past");
    else {
        registry_infer_given (body, &copy->tags_given, &copy->industries_given);
        registry_infer_demand (self->infer, copy);
        registry_demand_bump (copy, demand->version);
        registry_demand_commit (self, &actor, demand, copy, "demand.update", reply);
    }
    if (reply->status != 200)
        oim_redis_tx_unwatch (self->redis);
    if (body)
        json_decref (body);
    if (copy)
        protobuf_c_message_free_unpacked (&copy->base, NULL);
    protobuf_c_message_free_unpacked (&demand->base, NULL);
}

//  The optional close body {"status":"closed"|"awarded"}: the final status, or NULL with the
//  reply set.
static const char *
s_close_status (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    if (request->body.len == 0)
        return "closed";
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return NULL;
    const char *key;
    json_t *value;
    const char *status = "closed";
    json_object_foreach (body, key, value) {
        if (strcmp (key, "status")) {
            oim_api_error (reply, 400, "invalid", key, "%s unknown field", key);
            status = NULL;
        }
        else
        if (!json_is_string (value) || (strcmp (json_string_value (value), "closed")
                                        && strcmp (json_string_value (value), "awarded"))) {
            oim_api_error (reply, 422, "unprocessable", "status", "status must be closed or awarded");
            status = NULL;
        }
        else
            status = strcmp (json_string_value (value), "closed")? "awarded": "closed";
        if (!status)
            break;
    }
    json_decref (body);
    return status;
}

void
registry_demand_close (oim_service_t *service, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    const char *status = s_close_status (request, reply);
    if (!status)
        return;
    Oim__V1__Demand *demand = registry_demand_load_for_change (self, request, &actor,
                                                               s_closable, reply);
    if (!demand)
        return;
    Oim__V1__Demand *copy = (Oim__V1__Demand *) oim_pbjson_copy (&demand->base);
    registry_set_string (&copy->status, status);
    registry_demand_bump (copy, demand->version);
    registry_demand_commit (self, &actor, demand, copy, "demand.close", reply);
    if (reply->status != 200)
        oim_redis_tx_unwatch (self->redis);
    protobuf_c_message_free_unpacked (&copy->base, NULL);
    protobuf_c_message_free_unpacked (&demand->base, NULL);
}

//  ---------------------------------------------------------------------------------------
//  List

typedef struct {
    reader_t reader;
    const char *status;             //  filter or NULL
} list_filter_t;

//  A listed demand as its reader may see it (NULL: filtered out or not visible).
static json_t *
s_list_item (registry_t *self, const ProtobufCMessage *entity, void *arg, bool *failed)
{
    const Oim__V1__Demand *d = (const Oim__V1__Demand *) entity;
    list_filter_t *f = arg;
    if (f->status && strcmp (d->status, f->status))
        return NULL;
    view_t view = s_view (self, &f->reader, d, failed);
    return view == VIEW_NONE? NULL: s_json (d, view);
}

void
registry_demand_list (oim_service_t *service, const Oim__V1__ApiRequest *request,
                      oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    const char *org_id = oim_api_query (request, "org_id");
    list_filter_t filter = { .reader = s_reader (&actor), .status = oim_api_query (request, "status") };
    if (org_id && !oim_id_valid (org_id, "org"))
        return oim_api_error (reply, 400, "invalid", "org_id", "org_id is not an organization id");
    if (filter.status && strcmp (filter.status, "open") && strcmp (filter.status, "closed")
    &&  strcmp (filter.status, "awarded") && !registry_review_state (filter.status))
        return oim_api_error (reply, 400, "invalid", "status", "status must be open, closed, "
                              "awarded, pending_review or returned");
    char index [OIM_KEY_SIZE];
    if (org_id)
        snprintf (index, sizeof index, OIM_KEY_ORG_DEMANDS, org_id);
    else
        snprintf (index, sizeof index, "%s", OIM_KEY_DEMANDS);
    registry_page_spec_t spec = { index, OIM_KEY_DEMAND, "dem", &oim__v1__demand__descriptor,
                                  true, LIST_DEFAULT, LIST_MAX, s_list_item, &filter };
    registry_page_reply (self, request, &spec, reply);
}

//  ---------------------------------------------------------------------------------------
//  The closes_at sweep

//  Closes one demand if it is still open and past its date. Returns 0, or -1 (Redis).
static int
s_expire (registry_t *self, const registry_actor_t *actor, const char *id, int64_t now_ms)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_DEMAND, id);
    Oim__V1__Demand *demand = NULL;
    int rc = oim_redis_tx_watch (self->redis, key)? -1: registry_store_demand (self->redis, id, &demand);
    int64_t closes_ms = 0;
    if (rc == 1 && !demand->deleted && strcmp (demand->status, "open") == 0
    &&  oim_clock_parse_rfc3339 (demand->closes_at, &closes_ms) == 0 && closes_ms <= now_ms) {
        Oim__V1__Demand *copy = (Oim__V1__Demand *) oim_pbjson_copy (&demand->base);
        registry_set_string (&copy->status, "closed");
        registry_demand_bump (copy, demand->version);
        rc = s_write (self, actor, demand, copy, "demand.expire") == -1? -1: 0;
        protobuf_c_message_free_unpacked (&copy->base, NULL);
        if (rc == 0)
            oim_info ("event=demand_expired id=%s", id);
    }
    else {
        oim_redis_tx_unwatch (self->redis);
        if (rc != -1 && closes_ms <= now_ms) {          //  a stale index entry
            redisReply *r = oim_redis_command (self->redis, "ZREM %s %s", OIM_KEY_DEMANDS_CLOSING, id);
            if (r)
                freeReplyObject (r);
        }
        rc = rc == -1? -1: 0;
    }
    if (demand)
        protobuf_c_message_free_unpacked (&demand->base, NULL);
    return rc;
}

void
registry_demands_sweep (registry_t *self)
{
    Oim__V1__Principal system = OIM__V1__PRINCIPAL__INIT;
    system.key_id = "system";
    registry_actor_t actor = { .principal = &system, .request_id = "sweep", .system = true };
    //  Chunks of SWEEP_MAX until none is left or the time budget of one tick is spent, so a
    //  mass expiry is worked off over a few ticks without holding up requests.
    int64_t deadline = oim_clock_mono_ms () + SWEEP_BUDGET_MSEC;
    bool more = true;
    while (more && oim_clock_mono_ms () < deadline) {
        int64_t now = oim_clock_wall_ms ();
        redisReply *ids = oim_redis_command (self->redis, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 %d",
                                             OIM_KEY_DEMANDS_CLOSING, (long long) now, SWEEP_MAX);
        if (!ids)
            return;
        more = ids->type == REDIS_REPLY_ARRAY && ids->elements == SWEEP_MAX;
        for (size_t i = 0; ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++)
            if (s_expire (self, &actor, ids->element [i]->str, now)) {
                more = false;
                break;
            }
        freeReplyObject (ids);
    }
}
