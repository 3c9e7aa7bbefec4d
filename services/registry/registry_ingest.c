/*  registry_ingest — demand events from other systems (SPEC §4), over HTTP
    (POST /v1/events/demands, "events.ingest") and ZeroMQ (the gateway's :5570 endpoint
    forwards each IngestBatch as "ingest.batch").

    One batch costs three Redis round trips whatever its size:
      1. WATCH the source maps; HGET oim:source:<system>:demands <external_id> per event;
         resolve every distinct org_ref (GET oim:org:<id> or GET oim:bizno:<number>);
      2. WATCH and GET the demands found; GET the orgs found by business number;
      3. MULTI, every applied event's writes (registry_demands_tx + the source map), EXEC.
    Events are applied in batch order against the state the earlier ones left, so a batch
    may carry several events of one demand. Idempotency: the demand keeps the sequence of the
    last applied event: the same sequence again is "duplicate", a lower one "stale"; an event
    that cannot be applied is "invalid" with a reason and changes nothing; the others are
    unaffected. The reply (ack) is built only after EXEC returned, i.e. once every applied
    event is durable. A WATCH conflict (a concurrent writer) reruns steps 1-3, bounded.
    Audit: one entry per batch ("events.ingest": publisher, counts per result); each applied
    event is in the change log with its actor, so the audit stays one write per batch.
    Decisions: "close"/"delete" of an unknown external_id is invalid; an "upsert" after a
    "delete" with a higher sequence brings the demand back (same id, reported "created");
    org_ref must name an active company and may not change the owner of an existing demand.
    ZeroMQ batches are authenticated before they are unpacked: the bytes are walked
    (oim_pbscan) for batch_id, api_key and the event count, the key is looked up (with the
    current key of the publisher the connection's CURVE key belongs to, Header.peer_user_id,
    in the same round trip), and only an accepted batch is unpacked (counted in
    oim_registry_ingest_unpacked_total). The reply's wire status is the ack's.
*/
#include "registry_request.h"
#include "oim_pbscan.h"
#include "oim_utf8.h"

#include <sodium.h>

#define MAX_ATTEMPTS 3

enum { ST_CREATED, ST_UPDATED, ST_CLOSED, ST_DELETED, ST_DUPLICATE, ST_STALE, ST_INVALID };
static const char *s_status_names [] = { "created", "updated", "closed", "deleted",
                                         "duplicate", "stale", "invalid" };

typedef struct {
    Oim__V1__DemandEvent *event;    //  borrowed; NULL when the event did not decode
    int status;                     //  ST_*, or -1 while pending
    bool early;                     //  refused before any Redis work (kept across retries)
    char reason [320];
    char field [128];
    char demand_id [OIM_ID_SIZE];
    int ref;                        //  index into the batch's refs, -1 none
    char stored_id [OIM_ID_SIZE];   //  from the source map, "" when new
    Oim__V1__Demand *stored;        //  state read from Redis (owned)
    Oim__V1__Demand *after;         //  state after this event when applied (owned)
} item_t;

typedef struct {
    const char *text;               //  org_ref as given (borrowed)
    bool is_id;
    char bizno [11];
    char org_id [OIM_ID_SIZE];      //  resolved, "" when unknown
    bool usable;                    //  a live, active company
} ref_t;

typedef struct {
    registry_t *self;
    const registry_actor_t *actor;
    item_t *items;
    size_t count;
    ref_t *refs;
    size_t n_refs;
} batch_t;

static void
s_invalid (item_t *item, const char *field, const char *reason)
{
    item->status = ST_INVALID;
    snprintf (item->field, sizeof item->field, "%s", field);
    snprintf (item->reason, sizeof item->reason, "%s", reason);
}

//  ---------------------------------------------------------------------------------------
//  Step 0: checks that need no Redis

static int
s_ref_index (batch_t *batch, const char *text)
{
    for (size_t i = 0; i < batch->n_refs; i++)
        if (strcmp (batch->refs [i].text, text) == 0)
            return (int) i;
    ref_t *ref = &batch->refs [batch->n_refs];
    memset (ref, 0, sizeof *ref);
    ref->text = text;
    ref->is_id = oim_id_valid (text, "org");
    if (!ref->is_id && !registry_validate_business_number (text, ref->bizno))
        return -1;
    return (int) batch->n_refs++;
}

static void
s_check_event (batch_t *batch, item_t *item, const char *allowed_source)
{
    Oim__V1__DemandEvent *e = item->event;
    registry_err_t err;
    if (!*e->source_system && allowed_source)
        registry_set_string (&e->source_system, allowed_source);
    if (allowed_source && strcmp (e->source_system, allowed_source))
        return s_invalid (item, "source_system", "source_system is not the publisher's");
    if (!*e->source_system || strlen (e->source_system) > 64
    ||  !oim_utf8_valid (e->source_system, strlen (e->source_system)))
        return s_invalid (item, "source_system", "source_system is required");
    if (registry_validate_text (&e->external_id, "external_id", 200, true, false, &err))
        return s_invalid (item, err.field, err.message);
    if (e->sequence == 0)
        return s_invalid (item, "sequence", "sequence must be 1 or more");
    int64_t ms;
    if (*e->occurred_at && oim_clock_parse_rfc3339 (e->occurred_at, &ms))
        return s_invalid (item, "occurred_at", "occurred_at is not an RFC 3339 date-time");
    bool upsert = strcmp (e->op, "upsert") == 0;
    if (!upsert && strcmp (e->op, "close") && strcmp (e->op, "delete"))
        return s_invalid (item, "op", "op must be upsert, close or delete");
    if (!upsert)
        return;
    if (!e->demand)
        return s_invalid (item, "demand", "an upsert carries the demand");
    if (registry_validate_demand (e->demand, "demand.", &err))
        return s_invalid (item, err.field, err.message);
    if (registry_review_state (e->demand->status))  //  the agency's review is not for events
        return s_invalid (item, "demand.status", "status must be open, closed or awarded");
    if (e->demand->n_inferred_tags || e->demand->n_inferred_industries)
        return s_invalid (item, e->demand->n_inferred_tags? "demand.inferred_tags"
                                                          : "demand.inferred_industries",
                          "inferred tags and industries are the registry's (read-only)");
    item->ref = *e->org_ref? s_ref_index (batch, e->org_ref): -1;
    if (item->ref < 0)
        s_invalid (item, "org_ref", "org_ref must be an org id or a valid business "
                   "registration number");
}

//  ---------------------------------------------------------------------------------------
//  Steps 1 and 2: reads

static void
s_source_key (char *key, const Oim__V1__DemandEvent *e)
{
    snprintf (key, OIM_KEY_SIZE, OIM_KEY_SOURCE_DEMANDS, e->source_system);
}

//  Reads one reply of a pipeline; *failed on a lost connection. Caller frees.
static redisReply *
s_reply (batch_t *batch, bool *failed)
{
    redisReply *r = *failed? NULL: oim_redis_reply (batch->self->redis);
    if (!r)
        *failed = true;
    return r;
}

//  Records an org's usability for a ref from its stored bytes.
static void
s_ref_org (ref_t *ref, const redisReply *r)
{
    Oim__V1__Organization *org = r && r->type == REDIS_REPLY_STRING
        ? oim__v1__organization__unpack (NULL, r->len, (uint8_t *) r->str): NULL;
    ref->usable = org && !org->deleted && strcmp (org->kind, "company") == 0
               && strcmp (org->status, "active") == 0;
    if (org)
        oim__v1__organization__free_unpacked (org, NULL);
}

static int
s_read_sources (batch_t *batch)
{
    oim_redis_t *redis = batch->self->redis;
    char key [OIM_KEY_SIZE];
    for (size_t i = 0; i < batch->count; i++)
        if (batch->items [i].status < 0) {
            s_source_key (key, batch->items [i].event);
            oim_redis_append (redis, "WATCH %s", key);
            oim_redis_append (redis, "HGET %s %s", key, batch->items [i].event->external_id);
        }
    for (size_t i = 0; i < batch->n_refs; i++) {
        if (batch->refs [i].is_id)
            snprintf (key, sizeof key, OIM_KEY_ORG, batch->refs [i].text);
        else
            snprintf (key, sizeof key, OIM_KEY_BIZNO, batch->refs [i].bizno);
        oim_redis_append (redis, "GET %s", key);
    }
    bool failed = false;
    for (size_t i = 0; i < batch->count; i++)
        if (batch->items [i].status < 0) {
            redisReply *watch = s_reply (batch, &failed), *r = s_reply (batch, &failed);
            if (r && r->type == REDIS_REPLY_STRING)
                snprintf (batch->items [i].stored_id, OIM_ID_SIZE, "%s", r->str);
            if (watch)
                freeReplyObject (watch);
            if (r)
                freeReplyObject (r);
        }
    for (size_t i = 0; i < batch->n_refs; i++) {
        ref_t *ref = &batch->refs [i];
        redisReply *r = s_reply (batch, &failed);
        if (ref->is_id) {
            snprintf (ref->org_id, sizeof ref->org_id, "%s", ref->text);
            s_ref_org (ref, r);
        }
        else
        if (r && r->type == REDIS_REPLY_STRING)
            snprintf (ref->org_id, sizeof ref->org_id, "%s", r->str);
        if (r)
            freeReplyObject (r);
    }
    return failed? -1: 0;
}

static int
s_read_states (batch_t *batch)
{
    oim_redis_t *redis = batch->self->redis;
    char key [OIM_KEY_SIZE];
    for (size_t i = 0; i < batch->count; i++)
        if (batch->items [i].status < 0 && *batch->items [i].stored_id) {
            snprintf (key, sizeof key, OIM_KEY_DEMAND, batch->items [i].stored_id);
            oim_redis_append (redis, "WATCH %s", key);
            oim_redis_append (redis, "GET %s", key);
        }
    for (size_t i = 0; i < batch->n_refs; i++)
        if (!batch->refs [i].is_id && *batch->refs [i].org_id) {
            snprintf (key, sizeof key, OIM_KEY_ORG, batch->refs [i].org_id);
            oim_redis_append (redis, "GET %s", key);
        }
    bool failed = false;
    for (size_t i = 0; i < batch->count; i++) {
        item_t *item = &batch->items [i];
        if (item->status >= 0 || !*item->stored_id)
            continue;
        redisReply *watch = s_reply (batch, &failed), *r = s_reply (batch, &failed);
        if (r && r->type == REDIS_REPLY_STRING)
            item->stored = oim__v1__demand__unpack (NULL, r->len, (uint8_t *) r->str);
        if (watch)
            freeReplyObject (watch);
        if (r)
            freeReplyObject (r);
    }
    for (size_t i = 0; i < batch->n_refs; i++)
        if (!batch->refs [i].is_id && *batch->refs [i].org_id) {
            redisReply *r = s_reply (batch, &failed);
            s_ref_org (&batch->refs [i], r);
            if (r)
                freeReplyObject (r);
        }
    return failed? -1: 0;
}

//  ---------------------------------------------------------------------------------------
//  Step 3: apply in order, write in one transaction

//  The state of item's demand before it: an earlier event's result in this batch, or Redis'.
static const Oim__V1__Demand *
s_current (batch_t *batch, size_t index)
{
    const Oim__V1__DemandEvent *e = batch->items [index].event;
    for (size_t j = index; j-- > 0; ) {
        const item_t *prior = &batch->items [j];
        if (prior->after && strcmp (prior->event->external_id, e->external_id) == 0
        &&  strcmp (prior->event->source_system, e->source_system) == 0)
            return prior->after;
    }
    return batch->items [index].stored;
}

//  An upsert that carries no list (empty, given not set) keeps the list the demand was given
//  before, by an earlier event or its owner: a correction is never lost to inference.
static void
s_keep_given (char ***list, size_t *n, protobuf_c_boolean *given, char *const *cur_list,
              size_t cur_n, bool cur_given)
{
    if (*given || *n || !(cur_given || cur_n))
        return;
    free (*list);
    *list = calloc (cur_n + 1, sizeof **list);
    assert (*list);
    for (size_t i = 0; i < cur_n; i++)
        (*list) [i] = strdup (cur_list [i]);
    *n = cur_n;
    *given = true;
}

//  The new state for an upsert, or NULL with the item invalid.
static Oim__V1__Demand *
s_upserted (batch_t *batch, item_t *item, const Oim__V1__Demand *cur, const char *now)
{
    const ref_t *ref = &batch->refs [item->ref];
    if (!*ref->org_id || !ref->usable) {
        s_invalid (item, "org_ref", "org_ref names no active company");
        return NULL;
    }
    if (cur && strcmp (cur->org_id, ref->org_id)) {
        s_invalid (item, "org_ref", "org_ref does not match the demand's owner");
        return NULL;
    }
    const Oim__V1__DemandEvent *e = item->event;
    Oim__V1__Demand *d = (Oim__V1__Demand *) oim_pbjson_copy (&e->demand->base);
    char id [OIM_ID_SIZE];
    if (!cur)
        oim_id_new ("dem", id);
    registry_set_string (&d->id, cur? cur->id: id);
    registry_set_string (&d->org_id, ref->org_id);
    registry_set_string (&d->created_at, cur? cur->created_at: now);
    if (!*d->status)
        registry_set_string (&d->status, cur && !cur->deleted? cur->status: "open");
    if (d->source)
        oim__v1__source__free_unpacked (d->source, NULL);
    d->source = malloc (sizeof *d->source);
    oim__v1__source__init (d->source);
    registry_set_string (&d->source->system, e->source_system);
    registry_set_string (&d->source->external_id, e->external_id);
    d->deleted = false;
    if (cur && !cur->deleted) {
        s_keep_given (&d->tags, &d->n_tags, &d->tags_given, cur->tags, cur->n_tags,
                      cur->tags_given);
        s_keep_given (&d->industries, &d->n_industries, &d->industries_given, cur->industries,
                      cur->n_industries, cur->industries_given);
    }
    registry_infer_demand (batch->self->infer, d);
    item->status = !cur || cur->deleted? ST_CREATED: ST_UPDATED;
    return d;
}

//  The new state for a close or delete, or NULL with the item invalid.
static Oim__V1__Demand *
s_ended (item_t *item, const Oim__V1__Demand *cur)
{
    bool delete = strcmp (item->event->op, "delete") == 0;
    if (!cur || (cur->deleted && !delete)) {
        s_invalid (item, "external_id", "no such demand");
        return NULL;
    }
    Oim__V1__Demand *d = (Oim__V1__Demand *) oim_pbjson_copy (&cur->base);
    if (delete)
        d->deleted = true;
    else {
        const Oim__V1__Demand *given = item->event->demand;
        bool awarded = given && strcmp (given->status, "awarded") == 0;
        registry_set_string (&d->status, awarded? "awarded": "closed");
    }
    item->status = delete? ST_DELETED: ST_CLOSED;
    return d;
}

static void
s_apply (batch_t *batch, size_t index, oim_redis_tx_t *tx, const char *now)
{
    item_t *item = &batch->items [index];
    const Oim__V1__DemandEvent *e = item->event;
    const Oim__V1__Demand *cur = s_current (batch, index);
    if (cur)
        snprintf (item->demand_id, sizeof item->demand_id, "%s", cur->id);
    if (cur && e->sequence <= cur->source_sequence) {
        item->status = e->sequence == cur->source_sequence? ST_DUPLICATE: ST_STALE;
        return;
    }
    Oim__V1__Demand *d = strcmp (e->op, "upsert") == 0? s_upserted (batch, item, cur, now)
                                                      : s_ended (item, cur);
    if (!d)
        return;
    d->source_sequence = e->sequence;
    d->version = cur? cur->version + 1: 1;
    registry_set_string (&d->updated_at, now);
    snprintf (item->demand_id, sizeof item->demand_id, "%s", d->id);
    char action [48];
    snprintf (action, sizeof action, "demand.ingest.%s", e->op);
    registry_demands_tx (tx, batch->actor, cur, d, action, false);
    if (!cur) {
        char key [OIM_KEY_SIZE];
        s_source_key (key, e);
        const char *argv [2] = { e->external_id, d->id };
        size_t lens [2] = { strlen (e->external_id), strlen (d->id) };
        oim_redis_tx_group (tx, "HSET", key, 2, argv, lens);
    }
    item->after = d;
}

//  Forgets the work of an attempt (a WATCH conflict reruns the batch).
static void
s_reset (batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        item_t *item = &batch->items [i];
        if (item->stored)
            oim__v1__demand__free_unpacked (item->stored, NULL);
        if (item->after)
            protobuf_c_message_free_unpacked (&item->after->base, NULL);
        item->stored = item->after = NULL;
        item->stored_id [0] = item->demand_id [0] = 0;
        if (!item->early)
            item->status = -1;
    }
    for (size_t i = 0; i < batch->n_refs; i++) {
        batch->refs [i].org_id [0] = 0;
        batch->refs [i].usable = false;
    }
}

//  One attempt: reads, apply, EXEC. Returns 0, 1 (WATCH conflict) or -1 (Redis).
static int
s_attempt (batch_t *batch)
{
    if (s_read_sources (batch) || s_read_states (batch))
        return -1;
    char now [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    int counts [ST_INVALID + 1] = { 0 };
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->items [i].status < 0)
            s_apply (batch, i, tx, now);
        counts [batch->items [i].status]++;
    }
    if (oim_redis_tx_size (tx)) {
        //  One audit entry per batch: who published how many of what (each applied event
        //  is in the change log with its actor).
        char detail [200];
        snprintf (detail, sizeof detail, "events=%zu created=%d updated=%d closed=%d "
                  "deleted=%d duplicate=%d stale=%d invalid=%d", batch->count,
                  counts [ST_CREATED], counts [ST_UPDATED], counts [ST_CLOSED],
                  counts [ST_DELETED], counts [ST_DUPLICATE], counts [ST_STALE],
                  counts [ST_INVALID]);
        registry_tx_audit (tx, batch->actor, "events.ingest", "demand_events",
                           batch->actor->principal->source_system, detail);
    }
    int rc = 0;
    if (oim_redis_tx_size (tx))
        rc = oim_redis_tx_exec (tx, batch->self->redis);
    else
        oim_redis_tx_unwatch (batch->self->redis);
    oim_redis_tx_destroy (&tx);
    return rc;
}

//  Processes a batch whose items have their events set (NULL event = refused at decode,
//  status already invalid). allowed_source: the publisher's system, NULL for the agency.
//  Returns 0 with every item's status set, or -1 when Redis failed (nothing acknowledged).
static int
s_run (registry_t *self, const registry_actor_t *actor, const char *allowed_source,
       item_t *items, size_t count)
{
    batch_t batch = { .self = self, .actor = actor, .items = items, .count = count,
                      .refs = calloc (count + 1, sizeof (ref_t)) };
    assert (batch.refs);
    for (size_t i = 0; i < count; i++)
        if (items [i].event && items [i].status < 0) {
            s_check_event (&batch, &items [i], allowed_source);
            items [i].early = items [i].status >= 0;
        }
    int rc = 1;
    for (int attempt = 0; attempt < MAX_ATTEMPTS && rc == 1; attempt++) {
        if (attempt)
            s_reset (&batch);
        rc = s_attempt (&batch);
    }
    for (size_t i = 0; rc == 0 && i < count; i++)
        oim_metric_add (self->m_events [items [i].status], 1);
    free (batch.refs);
    return rc? -1: 0;
}

static void
s_items_free (item_t *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (items [i].stored)
            oim__v1__demand__free_unpacked (items [i].stored, NULL);
        if (items [i].after)
            protobuf_c_message_free_unpacked (&items [i].after->base, NULL);
    }
    free (items);
}

static item_t *
s_items_new (size_t count)
{
    item_t *items = calloc (count + 1, sizeof *items);
    assert (items);
    for (size_t i = 0; i < count; i++) {
        items [i].status = -1;
        items [i].ref = -1;
    }
    return items;
}

//  ---------------------------------------------------------------------------------------
//  HTTP: POST /v1/events/demands

static json_t *
s_result_json (const item_t *item, size_t index)
{
    const Oim__V1__DemandEvent *e = item->event;
    json_t *json = json_pack ("{s:I,s:s,s:s}", "index", (json_int_t) index, "external_id",
                              e? e->external_id: "", "status", s_status_names [item->status]);
    if (*item->demand_id)
        json_object_set_new (json, "demand_id", json_string (item->demand_id));
    if (item->status == ST_INVALID) {
        json_object_set_new (json, "reason", json_string (item->reason));
        json_object_set_new (json, "field", json_string (item->field));
    }
    return json;
}

//  Decodes the body's events; items get the events (owned by *events) or an invalid status.
//  Returns the count, or -1 with the reply set.
static long
s_decode_events (const Oim__V1__ApiRequest *request, Oim__V1__DemandEvent ***events,
                 item_t **items, oim_api_reply_t *reply)
{
    json_error_t jerr;
    json_t *array = request->body.len? json_loadb ((const char *) request->body.data,
                                                   request->body.len, 0, &jerr): NULL;
    if (!json_is_array (array)) {
        if (array)
            json_decref (array);
        oim_api_error (reply, 400, "invalid", NULL, "the body must be a JSON array of demand events");
        return -1;
    }
    size_t count = json_array_size (array);
    if (count > REGISTRY_MAX_BATCH_EVENTS) {
        json_decref (array);
        oim_api_error (reply, 413, "too_large", NULL, "at most %d events per request",
                       REGISTRY_MAX_BATCH_EVENTS);
        return -1;
    }
    *events = calloc (count + 1, sizeof **events);
    *items = s_items_new (count);
    for (size_t i = 0; i < count; i++) {
        json_t *element = json_array_get (array, i);
        oim_pbjson_error_t perr = { "", "must be an object" };
        (*events) [i] = json_is_object (element)
            ? (Oim__V1__DemandEvent *) oim_pbjson_decode (&oim__v1__demand_event__descriptor,
                                                          element, NULL, &perr): NULL;
        (*items) [i].event = (*events) [i];
        if ((*events) [i] && (*events) [i]->demand)     //  "tags": [] gives "no tags"
            registry_infer_given (json_object_get (element, "demand"),
                                  &(*events) [i]->demand->tags_given,
                                  &(*events) [i]->demand->industries_given);
        if (!(*events) [i]) {
            char reason [300];
            snprintf (reason, sizeof reason, "%s %s", perr.field, perr.message);
            s_invalid (&(*items) [i], perr.field, reason);
        }
    }
    json_decref (array);
    return (long) count;
}

void
registry_events_ingest (oim_service_t *service, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    bool agency = registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY);
    if (!agency && !registry_is (&actor, OIM__V1__ROLE__ROLE_PUBLISHER))
        return oim_api_error (reply, 403, "forbidden", NULL, "only publishers send demand events");
    Oim__V1__DemandEvent **events = NULL;
    item_t *items = NULL;
    long count = s_decode_events (request, &events, &items, reply);
    if (count < 0)
        return;
    if (s_run (self, &actor, agency? NULL: actor.principal->source_system, items, (size_t) count))
        registry_reply_unavailable (reply);
    else {
        json_t *results = json_array ();
        for (long i = 0; i < count; i++)
            json_array_append_new (results, s_result_json (&items [i], (size_t) i));
        oim_api_ok (reply, 200, json_pack ("{s:O,s:o,s:n}", "items", results, "results", results,
                                           "next_cursor"));    //  "results": deprecated alias
    }
    for (long i = 0; i < count; i++)
        if (events [i])
            protobuf_c_message_free_unpacked (&events [i]->base, NULL);
    free (events);
    s_items_free (items, (size_t) count);
}

//  ---------------------------------------------------------------------------------------
//  ZeroMQ: "ingest.batch" (IngestBatch -> IngestAck)

//  The organisation events' part of an ack (issue 17): events, their results, count.
typedef struct {
    Oim__V1__OrganizationEvent **events;
    registry_profile_result_t *results;
    size_t count;
} org_part_t;

//  Fills the ack's org_results from org (pointers into org and *store; caller frees *store
//  and *pointers).
static void
s_ack_orgs (Oim__V1__IngestAck *ack, const org_part_t *org, Oim__V1__IngestResult **store,
            Oim__V1__IngestResult ***pointers)
{
    *store = calloc (org->count + 1, sizeof **store);
    *pointers = calloc (org->count + 1, sizeof **pointers);
    assert (*store && *pointers);
    for (size_t i = 0; i < org->count; i++) {
        Oim__V1__IngestResult *r = &(*store) [i];
        const registry_profile_result_t *result = &org->results [i];
        const char *external_id = org->events [i]->external_id;
        oim__v1__ingest_result__init (r);
        r->index = (uint32_t) i;
        r->external_id = (char *) (oim_utf8_valid (external_id, strlen (external_id))
                                   ? external_id: "");
        r->status = (char *) result->status;
        bool invalid = strcmp (result->status, "invalid") == 0;
        r->reason = (char *) (invalid? result->reason: "");
        r->field = (char *) (invalid? result->field: "");
        r->org_id = (char *) result->org_id;
        (*pointers) [i] = r;
    }
    ack->n_org_results = org->count;
    ack->org_results = *pointers;
}

static void
s_ack (const char *batch_id, uint32_t status, const char *error, item_t *items, size_t count,
       const org_part_t *org, uint8_t **body, size_t *size)
{
    Oim__V1__IngestAck ack = OIM__V1__INGEST_ACK__INIT;
    ack.batch_id = (char *) (batch_id && oim_utf8_valid (batch_id, strlen (batch_id))? batch_id: "");
    ack.status = status;
    ack.error = (char *) (error? error: "");
    Oim__V1__IngestResult *results = calloc (count + 1, sizeof *results);
    Oim__V1__IngestResult **pointers = calloc (count + 1, sizeof *pointers);
    for (size_t i = 0; status == 200 && i < count; i++) {
        oim__v1__ingest_result__init (&results [i]);
        results [i].index = (uint32_t) i;
        const char *external_id = items [i].event->external_id;
        //  Never echo bytes that are not UTF-8: the publisher's decoder would reject the ack.
        results [i].external_id = (char *) (oim_utf8_valid (external_id, strlen (external_id))
                                            ? external_id: "");
        results [i].status = (char *) s_status_names [items [i].status];
        results [i].reason = items [i].status == ST_INVALID? items [i].reason: "";
        results [i].field = items [i].status == ST_INVALID? items [i].field: "";
        results [i].demand_id = items [i].demand_id;
        pointers [i] = &results [i];
    }
    ack.n_results = status == 200? count: 0;
    ack.results = pointers;
    Oim__V1__IngestResult *org_store = NULL, **org_pointers = NULL;
    if (status == 200 && org && org->count)
        s_ack_orgs (&ack, org, &org_store, &org_pointers);
    *body = oim_wire_pack (&ack.base, size);
    free (results);
    free (pointers);
    free (org_store);
    free (org_pointers);
}

//  The batch's api_key as a C string, or "" when it is absent, too long to be a key or holds
//  a NUL (such a batch is refused without a lookup).
static void
s_scanned_key (const oim_pbscan_batch_t *scan, char *key, size_t key_size)
{
    bool usable = scan->api_key && scan->api_key_size < key_size
               && !memchr (scan->api_key, 0, scan->api_key_size);
    size_t n = usable? scan->api_key_size: 0;
    if (n)
        memcpy (key, scan->api_key, n);
    key [n] = 0;
}

//  Reads the presented key's record and, when the connection authenticated a publisher
//  (user_id set: CURVE on), the hash of that publisher's current key: one round trip.
//  Returns 1 (record unpacked, *owner_hash the publisher's or ""), 0 unknown, -1 Redis.
static int
s_lookup (registry_t *self, const char *key, const char *user_id,
          Oim__V1__ApiKeyRecord **record, char *owner_hash, char *hash)
{
    char redis_key [OIM_KEY_SIZE];
    registry_keys_hash (key, hash);
    snprintf (redis_key, sizeof redis_key, OIM_KEY_APIKEY, hash);
    oim_redis_append (self->redis, "GET %s", redis_key);
    if (*user_id) {
        snprintf (redis_key, sizeof redis_key, OIM_KEY_PUBLISHER_APIKEY, user_id);
        oim_redis_append (self->redis, "GET %s", redis_key);
    }
    bool failed = false;
    redisReply *r = oim_redis_reply (self->redis), *owner = NULL;
    failed = !r;
    if (*user_id && !failed)
        failed = !(owner = oim_redis_reply (self->redis));
    owner_hash [0] = 0;
    if (owner && owner->type == REDIS_REPLY_STRING && owner->len == 64)
        memcpy (owner_hash, owner->str, 65);
    int rc = failed? -1: r->type != REDIS_REPLY_STRING? 0: 1;
    if (rc == 1 && !(*record = oim__v1__api_key_record__unpack (NULL, r->len, (uint8_t *) r->str)))
        rc = -1;
    if (r)
        freeReplyObject (r);
    if (owner)
        freeReplyObject (owner);
    return rc;
}

//  Authenticates the batch's key before anything is unpacked: 0 with *principal filled
//  (strings borrowed from *record), or the refusal status (401, 403, 503). user_id: the ZAP
//  User-Id of the publisher's connection (Header.peer_user_id; "" with CURVE off): the key
//  must then be that publisher's current key.
static uint32_t
s_authenticate (registry_t *self, const char *key, const char *user_id,
                Oim__V1__ApiKeyRecord **record, Oim__V1__Principal *principal)
{
    char owner_hash [65], hash [65];
    int rc = *key? s_lookup (self, key, user_id, record, owner_hash, hash): 0;
    if (rc == -1)
        return 503;
    if (rc == 0)
        return 401;
    Oim__V1__Role role = (*record)->role;
    if (role != OIM__V1__ROLE__ROLE_PUBLISHER && role != OIM__V1__ROLE__ROLE_AGENCY)
        return 403;
    if (*user_id && strcmp (owner_hash, hash))
        return 403;             //  another publisher's key on this publisher's connection
    principal->role = role;
    principal->org_id = (*record)->org_id;
    principal->source_system = (*record)->source_system;
    principal->key_id = (*record)->key_id;
    return 0;
}

static const char *
s_refusal (uint32_t status)
{
    return status == 400? "the message is not an oim.v1.IngestBatch"
         : status == 413? "at most 1000 events per batch"
         : status == 401? "unknown API key"
         : status == 403? "the key may not publish demand events on this connection"
         : status == 503? "the registry cannot reach Redis": NULL;
}

//  Applies an authenticated batch: unpacks it (counted), runs it. Returns the ack's status.
static uint32_t
s_apply_batch (registry_t *self, const oim_wire_msg_t *request, Oim__V1__Principal *principal,
               uint8_t **body, size_t *size)
{
    oim_metric_add (self->m_unpacked, 1);
    Oim__V1__IngestBatch *batch = oim__v1__ingest_batch__unpack (NULL, request->body_size,
                                                                 request->body);
    if (!batch)
        return 400;
    size_t count = batch->n_events;
    item_t *items = s_items_new (count);
    for (size_t i = 0; i < count; i++)
        items [i].event = batch->events [i];
    registry_actor_t actor = { .principal = principal,
                               .request_id = request->header->request_id };
    const char *allowed = principal->role == OIM__V1__ROLE__ROLE_AGENCY
                        ? NULL: principal->source_system;
    oim_redis_unreplicated_reset (self->redis);
    uint32_t status = s_run (self, &actor, allowed, items, count)? 503: 200;
    //  Organisation events (issue 17, registry_profile_events.c) after the demand events.
    org_part_t org = { batch->org_events, calloc (batch->n_org_events + 1,
                       sizeof (registry_profile_result_t)), batch->n_org_events };
    assert (org.results);
    if (status == 200 && org.count
    &&  registry_profile_events_run (self, &actor, allowed, org.events, org.count, org.results))
        status = 503;
    //  Acknowledged means replicated (issue 18): a batch of duplicates writes nothing, yet
    //  what it reports may be an earlier attempt's write still unconfirmed; WAIT covers every
    //  write of this connection (at once when they are confirmed already).
    if (status == 200 && oim_redis_wait (self->redis))
        status = 503;
    //  A WAIT that fell short is named as such.
    bool unreplicated = status == 503 && oim_redis_unreplicated (self->redis);
    s_ack (batch->batch_id, status, unreplicated? "replication_timeout: the batch was not "
           "confirmed by the Redis replicas in time; send it again": s_refusal (status),
           items, count, &org, body, size);
    free (org.results);
    s_items_free (items, count);
    oim__v1__ingest_batch__free_unpacked (batch, NULL);
    return status;
}

//  The wire status is the ack's: the gateway relays the ack and counts refusals by it.
uint32_t
registry_ingest_batch (oim_service_t *service, const oim_wire_msg_t *request,
                       uint8_t **body, size_t *size)
{
    registry_t *self = registry_of (service);
    oim_pbscan_batch_t scan;
    uint32_t status = oim_pbscan_ingest_batch (request->body, request->body_size, &scan)? 400
                    : scan.events > REGISTRY_MAX_BATCH_EVENTS? 413: 0;
    const char *batch_id = scan.batch_id_cut? "": scan.batch_id;
    char key [128];
    s_scanned_key (&scan, key, sizeof key);
    Oim__V1__ApiKeyRecord *record = NULL;
    Oim__V1__Principal principal = OIM__V1__PRINCIPAL__INIT;
    if (!status)
        status = s_authenticate (self, key, request->header->peer_user_id, &record, &principal);
    if (!status)
        status = s_apply_batch (self, request, &principal, body, size);
    if (status != 200 && !*body)
        s_ack (batch_id, status, s_refusal (status), NULL, 0, NULL, body, size);
    if (record)
        oim__v1__api_key_record__free_unpacked (record, NULL);
    sodium_memzero (key, sizeof key);
    return status;
}
