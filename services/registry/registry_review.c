/*  registry_review — the agency's demand workflow (issue 17 item 4): the review setting, the
    review queue and its transitions, renewal, and the expiry reminders.

    Setting: oim:settings (hash), field demand_review "1"/"0"; GET/PUT /v1/admin/settings
    (agency). While it is on, a demand a company posts starts "pending_review" (the agency's
    own demands and demands from other systems' events do not: those systems review their own).
    States and transitions (anything else is 409 state_conflict naming the state):
        pending_review --approve (agency)-----------------> open
        pending_review --return {comment} (agency)--------> returned
        returned       --PATCH (owner), resubmit (owner)--> pending_review
        open           --renew {closes_at} (owner/agency)-> open, with a later closes_at
    A demand in review is seen by its owner and the agency only (registry_demands.c s_view):
    not listed for others, not searchable (search drops it, search_sync.c), not matched (the
    matcher matches "open" demands only). Each step appends a ReviewNote; approve and return
    notify the owner ("demand.reviewed"). The queue is oim:demands:review (zset, score =
    submission ms, oldest first), kept by registry_demands_tx through registry_review_tx_index.

    Reminders: once a second the tick looks for open demands closing within
    OIM_DEMAND_REMINDER_DAYS (default 7) days (oim:demands:closing) and sends the owner one
    "demand.expiring" notification per closing date (oim:demands:reminded: demand id ->
    the closes_at ms reminded of), in the same MULTI/EXEC as its oim:events entry, so a crash
    neither loses nor repeats one; a renewal moves closes_at, so the new date is reminded
    again. "Now" is the wall clock, or the time in OIM_TEST_CLOCK_FILE when set (unix ms or
    RFC 3339): the clock a test controls.
*/
#include "registry_request.h"
#include "notify.pb-c.h"


#define QUEUE_DEFAULT 50
#define QUEUE_MAX 200
#define REMIND_MAX 100              //  demands read per ZRANGEBYSCORE of a reminder round
#define REMIND_ROUNDS 10            //  bound on one round's work (1,000 demands)
#define COMMENT_MAX 2000

static const char *s_pending [] = { "pending_review", NULL };
static const char *s_returned [] = { "returned", NULL };
static const char *s_open [] = { "open", NULL };

bool
registry_review_state (const char *status)
{
    return strcmp (status, "pending_review") == 0 || strcmp (status, "returned") == 0;
}

//  Appends a ReviewNote (action, the actor's org, comment or "") to demand.
static void
s_note (Oim__V1__Demand *demand, const registry_actor_t *actor, const char *action,
        const char *comment)
{
    Oim__V1__ReviewNote *note = malloc (sizeof *note);
    assert (note);
    oim__v1__review_note__init (note);
    char now [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    note->at = strdup (now);
    note->action = strdup (action);
    note->actor_org_id = strdup (actor->principal->org_id? actor->principal->org_id: "");
    note->comment = strdup (comment? comment: "");
    demand->review_notes = realloc (demand->review_notes,
                                    (demand->n_review_notes + 1) * sizeof *demand->review_notes);
    assert (demand->review_notes);
    demand->review_notes [demand->n_review_notes++] = note;
}

//  ---------------------------------------------------------------------------------------
//  Settings

//  Reads demand_review. Returns 1 on, 0 off, -1 Redis failed.
static int
s_review_on (registry_t *self)
{
    redisReply *r = oim_redis_command (self->redis, "HGET %s demand_review", OIM_KEY_SETTINGS);
    if (!r)
        return -1;
    int on = r->type == REDIS_REPLY_STRING && strcmp (r->str, "1") == 0;
    freeReplyObject (r);
    return on;
}

static long
s_reminder_days (registry_t *self)
{
    const char *text = oim_config_get (oim_service_config (self->service), "demand-reminder-days");
    long days = text? strtol (text, NULL, 10): 7;
    return days < 0? 0: days > 365? 365: days;
}

static void
s_settings_reply (registry_t *self, oim_api_reply_t *reply)
{
    int on = s_review_on (self);
    if (on < 0)
        return registry_reply_unavailable (reply);
    oim_api_ok (reply, 200, json_pack ("{s:b,s:i}", "demand_review", on,
                                       "demand_reminder_days", (int) s_reminder_days (self)));
}

void
registry_settings_get (oim_service_t *service, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "settings are the agency's");
    s_settings_reply (registry_of (service), reply);
}

void
registry_settings_put (oim_service_t *service, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "settings are the agency's");
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return;
    const char *key;
    json_t *value;
    int on = -1;
    json_object_foreach (body, key, value) {
        if (strcmp (key, "demand_review")) {
            oim_api_error (reply, 400, "invalid", key, "%s unknown field (settable: demand_review)", key);
            break;
        }
        if (!json_is_boolean (value)) {
            oim_api_error (reply, 400, "invalid", key, "demand_review must be true or false");
            break;
        }
        on = json_is_true (value);
    }
    json_decref (body);
    if (reply->status)
        return;
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    if (on >= 0)
        oim_redis_tx_strs (tx, "HSET", OIM_KEY_SETTINGS, "demand_review", on? "1": "0", NULL);
    registry_tx_audit (tx, &actor, "settings.update", "settings", "demand_review",
                       on < 0? "unchanged": on? "1": "0");
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    if (rc)
        return registry_reply_unavailable (reply);
    s_settings_reply (self, reply);
}

//  ---------------------------------------------------------------------------------------
//  Posting and the queue index

int
registry_review_submit (registry_t *self, const registry_actor_t *actor,
                        Oim__V1__Demand *demand, oim_api_reply_t *reply)
{
    int on = registry_is (actor, OIM__V1__ROLE__ROLE_COMPANY)? s_review_on (self): 0;
    if (on < 0) {
        registry_reply_unavailable (reply);
        return -1;
    }
    registry_set_string (&demand->status, on? "pending_review": "open");
    if (on)
        s_note (demand, actor, "submitted", NULL);
    return 0;
}

void
registry_review_tx_index (oim_redis_tx_t *tx, const Oim__V1__Demand *old,
                          const Oim__V1__Demand *demand)
{
    bool was = old && !old->deleted && strcmp (old->status, "pending_review") == 0;
    bool is = !demand->deleted && strcmp (demand->status, "pending_review") == 0;
    if (is && !was) {
        char score [24];
        snprintf (score, sizeof score, "%lld", (long long) oim_redis_tx_time_ms (tx));
        oim_redis_tx_strs (tx, "ZADD", OIM_KEY_DEMANDS_REVIEW, score, demand->id, NULL);
    }
    else
    if (was && !is)
        oim_redis_tx_strs (tx, "ZREM", OIM_KEY_DEMANDS_REVIEW, demand->id, NULL);
}

//  Adds XADD oim:events * e <Event> for org_id (type, data) to tx; copies (n_copies org ids)
//  become Event.copies with their own ids.
static void
s_tx_event (oim_redis_tx_t *tx, const char *type, const char *org_id, json_t *data,
            const char *const *copies, size_t n_copies)
{
    char id [OIM_ID_SIZE], at [OIM_RFC3339_SIZE];
    oim_id_new ("ntf", id);
    oim_clock_rfc3339 (oim_clock_wall_ms (), at);
    char *text = json_dumps (data, JSON_COMPACT);
    Oim__V1__Event event = OIM__V1__EVENT__INIT;
    event.id = id;
    event.type = (char *) type;
    event.org_id = (char *) org_id;
    event.created_at = at;
    event.data_json = text;
    Oim__V1__Event__Copy *store = calloc (n_copies + 1, sizeof *store);
    Oim__V1__Event__Copy **pointers = calloc (n_copies + 1, sizeof *pointers);
    char (*ids) [OIM_ID_SIZE] = calloc (n_copies + 1, OIM_ID_SIZE);
    assert (text && store && pointers && ids);
    for (size_t i = 0; i < n_copies; i++) {
        oim__v1__event__copy__init (&store [i]);
        oim_id_new ("ntf", ids [i]);
        store [i].id = ids [i];
        store [i].org_id = (char *) copies [i];
        pointers [i] = &store [i];
    }
    event.n_copies = n_copies;
    event.copies = pointers;
    const char *argv [4] = { "XADD", OIM_STREAM_EVENTS, "*", "e" };
    oim_redis_tx_packed (tx, 4, argv, &event.base);
    free (text);
    free (store);
    free (pointers);
    free (ids);
}

//  ---------------------------------------------------------------------------------------
//  Transitions

//  Writes the transition old -> demand (with its note already appended), notifying the
//  owner with "demand.reviewed" when notify is set; sets the reply.
static void
s_commit (registry_t *self, const registry_actor_t *actor, const Oim__V1__Demand *old,
          const Oim__V1__Demand *demand, const char *action, bool notify, oim_api_reply_t *reply)
{
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    registry_demands_tx (tx, actor, old, demand, action, true);
    if (notify) {
        const Oim__V1__ReviewNote *note = demand->review_notes [demand->n_review_notes - 1];
        json_t *data = json_pack ("{s:s,s:s,s:s,s:s}", "demand_id", demand->id, "title",
                                  demand->title, "status", demand->status, "comment",
                                  note->comment);
        s_tx_event (tx, "demand.reviewed", demand->org_id, data, NULL, 0);
        json_decref (data);
    }
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    if (rc)
        registry_reply_tx (reply, rc, 0, NULL);
    else
        registry_demand_reply (reply, 200, demand);
}

//  The body's optional (or, when required, non-empty) "comment" into *comment (caller
//  frees). Returns 0, or -1 with the reply set.
static int
s_comment (const Oim__V1__ApiRequest *request, bool required, char **comment,
           oim_api_reply_t *reply)
{
    *comment = NULL;
    json_t *body = request->body.len? oim_api_body (request, reply): json_object ();
    if (!body)
        return -1;
    json_t *value = json_object_get (body, "comment");
    registry_err_t err;
    if (value && !json_is_string (value))
        oim_api_error (reply, 400, "invalid", "comment", "comment must be a string");
    else {
        *comment = strdup (value? json_string_value (value): "");
        if (registry_validate_text (comment, "comment", COMMENT_MAX, required, true, &err))
            registry_reply_err (reply, &err);
    }
    json_decref (body);
    if (reply->status) {
        free (*comment);
        *comment = NULL;
        return -1;
    }
    return 0;
}

//  One review transition: who may (agency_only), from which states, to which status, the
//  note's action, whether a comment is required, whether the owner is notified.
typedef struct {
    bool agency_only;
    const char *const *from;
    const char *to;
    const char *note;
    bool comment_required;
    bool notify;
    const char *action;
} s_transition_t;

static void
s_transition (oim_service_t *service, const Oim__V1__ApiRequest *request,
              const s_transition_t *t, oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (t->agency_only && !registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "reviews are the agency's");
    char *comment;
    if (s_comment (request, t->comment_required, &comment, reply))
        return;
    Oim__V1__Demand *demand = registry_demand_load_for_change (self, request, &actor, t->from,
                                                               reply);
    if (demand) {
        Oim__V1__Demand *copy = (Oim__V1__Demand *) oim_pbjson_copy (&demand->base);
        registry_set_string (&copy->status, t->to);
        s_note (copy, &actor, t->note, comment);
        registry_demand_bump (copy, demand->version);
        s_commit (self, &actor, demand, copy, t->action, t->notify, reply);
        if (reply->status != 200)
            oim_redis_tx_unwatch (self->redis);
        protobuf_c_message_free_unpacked (&copy->base, NULL);
        protobuf_c_message_free_unpacked (&demand->base, NULL);
    }
    free (comment);
}

void
registry_demand_approve (oim_service_t *service, const Oim__V1__ApiRequest *request,
                         oim_api_reply_t *reply)
{
    static const s_transition_t t = { true, s_pending, "open", "approved", false, true,
                                      "demand.approve" };
    s_transition (service, request, &t, reply);
}

void
registry_demand_return (oim_service_t *service, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    static const s_transition_t t = { true, s_pending, "returned", "returned", true, true,
                                      "demand.return" };
    s_transition (service, request, &t, reply);
}

void
registry_demand_resubmit (oim_service_t *service, const Oim__V1__ApiRequest *request,
                          oim_api_reply_t *reply)
{
    static const s_transition_t t = { false, s_returned, "pending_review", "resubmitted", false,
                                      false, "demand.resubmit" };
    s_transition (service, request, &t, reply);
}

//  The renew body {"closes_at": <RFC 3339, in the future>}: its text, or NULL with the reply
//  set (caller frees).
static char *
s_renew_closes_at (const Oim__V1__ApiRequest *request, int64_t now_ms, oim_api_reply_t *reply)
{
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return NULL;
    json_t *value = json_object_get (body, "closes_at");
    int64_t ms = 0;
    char *closes_at = NULL;
    if (json_object_size (body) != 1 || !json_is_string (value))
        oim_api_error (reply, 400, "invalid", "closes_at", "the body is {\"closes_at\": <RFC 3339>}");
    else
    if (oim_clock_parse_rfc3339 (json_string_value (value), &ms))
        oim_api_error (reply, 400, "invalid", "closes_at", "closes_at is not an RFC 3339 date-time");
    else
    if (ms <= now_ms)
        oim_api_error (reply, 422, "unprocessable", "closes_at", "closes_at is in the past");
    else
        closes_at = strdup (json_string_value (value));
    json_decref (body);
    return closes_at;
}

void
registry_demand_renew (oim_service_t *service, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    char *closes_at = s_renew_closes_at (request, registry_review_now_ms (self), reply);
    if (!closes_at)
        return;
    Oim__V1__Demand *demand = registry_demand_load_for_change (self, request, &actor, s_open,
                                                               reply);
    if (demand) {
        Oim__V1__Demand *copy = (Oim__V1__Demand *) oim_pbjson_copy (&demand->base);
        registry_set_string (&copy->closes_at, closes_at);
        registry_demand_bump (copy, demand->version);
        s_commit (self, &actor, demand, copy, "demand.renew", false, reply);
        if (reply->status != 200)
            oim_redis_tx_unwatch (self->redis);
        protobuf_c_message_free_unpacked (&copy->base, NULL);
        protobuf_c_message_free_unpacked (&demand->base, NULL);
    }
    free (closes_at);
}

//  ---------------------------------------------------------------------------------------
//  The queue

//  Appends the demands of ids (a ZRANGE reply) to items, pipelined. Returns 0 or -1.
static int
s_queue_items (registry_t *self, const redisReply *ids, json_t *items)
{
    for (size_t i = 0; i < ids->elements; i++)
        oim_redis_append (self->redis, "GET " OIM_KEY_DEMAND, ids->element [i]->str);
    int rc = 0;
    for (size_t i = 0; i < ids->elements; i++) {
        redisReply *r = oim_redis_reply (self->redis);
        if (!r) {
            rc = -1;
            break;
        }
        Oim__V1__Demand *d = r->type == REDIS_REPLY_STRING
            ? oim__v1__demand__unpack (NULL, r->len, (uint8_t *) r->str): NULL;
        if (d && !d->deleted)
            json_array_append_new (items, registry_demand_json (d));
        if (d)
            oim__v1__demand__free_unpacked (d, NULL);
        freeReplyObject (r);
    }
    return rc;
}

void
registry_review_queue (oim_service_t *service, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "the review queue is the agency's");
    const char *limit_text = oim_api_query (request, "limit");
    const char *cursor = oim_api_query (request, "cursor");
    char *tail;
    long limit = limit_text? strtol (limit_text, &tail, 10): QUEUE_DEFAULT;
    if (limit_text && (*tail || limit < 1 || limit > QUEUE_MAX))
        return oim_api_error (reply, 400, "invalid", "limit", "limit must be 1..%d", QUEUE_MAX);
    long offset = cursor? strtol (cursor, &tail, 10): 0;
    if (cursor && (*tail || offset < 0))
        return oim_api_error (reply, 400, "invalid", "cursor", "cursor is not from a previous page");
    redisReply *ids = oim_redis_command (self->redis, "ZRANGE %s %ld %ld", OIM_KEY_DEMANDS_REVIEW,
                                         offset, offset + limit);
    redisReply *total = ids? oim_redis_command (self->redis, "ZCARD %s", OIM_KEY_DEMANDS_REVIEW): NULL;
    json_t *items = json_array ();
    bool more = ids && ids->type == REDIS_REPLY_ARRAY && ids->elements > (size_t) limit;
    if (more)
        freeReplyObject (ids->element [--ids->elements]);       //  the look-ahead id
    if (!total || ids->type != REDIS_REPLY_ARRAY || s_queue_items (self, ids, items)) {
        json_decref (items);
        registry_reply_unavailable (reply);
    }
    else {
        char next [24];
        snprintf (next, sizeof next, "%ld", offset + limit);
        oim_api_ok (reply, 200, json_pack ("{s:o,s:s?,s:I}", "items", items, "next_cursor",
                                           more? next: NULL, "total", (json_int_t) total->integer));
    }
    if (ids)
        freeReplyObject (ids);
    if (total)
        freeReplyObject (total);
}

//  ---------------------------------------------------------------------------------------
//  Reminders

int64_t
registry_review_now_ms (registry_t *self)
{
    const char *path = oim_config_get (oim_service_config (self->service), "test-clock-file");
    if (!path || !*path)
        return oim_clock_wall_ms ();
    char text [64] = "";
    FILE *file = fopen (path, "r");
    size_t n = file? fread (text, 1, sizeof text - 1, file): 0;
    if (file)
        fclose (file);
    text [n] = 0;
    text [strcspn (text, "\r\n")] = 0;
    int64_t ms;
    char *tail;
    long long number = strtoll (text, &tail, 10);
    if (*text && !*tail)
        return number;
    return oim_clock_parse_rfc3339 (text, &ms) == 0? ms: oim_clock_wall_ms ();
}

//  Sends one reminder for demand id (closing at score ms) unless it was sent for this date.
//  Returns 0 or -1 (Redis failed).
static int
s_remind_one (registry_t *self, const char *id, const char *score, int64_t now_ms)
{
    //  WATCHed: of two registry replicas running this chore, one sends, the other's EXEC
    //  fails and the next round finds the reminder sent.
    if (oim_redis_tx_watch (self->redis, OIM_KEY_DEMANDS_REMINDED))
        return -1;
    redisReply *r = oim_redis_command (self->redis, "HGET %s %s", OIM_KEY_DEMANDS_REMINDED, id);
    if (!r)
        return -1;
    bool sent = r->type == REDIS_REPLY_STRING && strcmp (r->str, score) == 0;
    freeReplyObject (r);
    Oim__V1__Demand *demand = NULL;
    int rc = sent? 0: registry_store_demand (self->redis, id, &demand);
    if (rc == 1 && !demand->deleted && strcmp (demand->status, "open") == 0) {
        int64_t closes_ms = strtoll (score, NULL, 10);
        json_t *data = json_pack ("{s:s,s:s,s:s,s:I,s:s}", "demand_id", demand->id, "title",
                                  demand->title, "closes_at", demand->closes_at, "days_left",
                                  (json_int_t) ((closes_ms - now_ms + 86399999) / 86400000),
                                  "renew", "POST /v1/demands/{id}/renew {\"closes_at\": ...}");
        oim_redis_tx_t *tx = oim_redis_tx_new ();
        s_tx_event (tx, "demand.expiring", demand->org_id, data, NULL, 0);
        oim_redis_tx_strs (tx, "HSET", OIM_KEY_DEMANDS_REMINDED, id, score, NULL);
        rc = oim_redis_tx_exec (tx, self->redis);
        oim_redis_tx_destroy (&tx);
        json_decref (data);
        if (rc == 0)
            oim_info ("event=demand_expiring demand=%s org=%s closes_at=%s", demand->id,
                      demand->org_id, demand->closes_at);
    }
    else
        oim_redis_tx_unwatch (self->redis);
    if (demand)
        protobuf_c_message_free_unpacked (&demand->base, NULL);
    return rc < 0? -1: 0;           //  1 (another replica wrote meanwhile): next round
}

void
registry_review_remind (registry_t *self)
{
    long days = s_reminder_days (self);
    if (days == 0)
        return;
    int64_t now = registry_review_now_ms (self);
    bool more = true;
    for (int round = 0; round < REMIND_ROUNDS && more; round++) {
        redisReply *r = oim_redis_command (self->redis, "ZRANGEBYSCORE %s (%lld %lld "
                                           "WITHSCORES LIMIT %d %d", OIM_KEY_DEMANDS_CLOSING,
                                           (long long) now, (long long) (now + days * 86400000LL),
                                           round * REMIND_MAX, REMIND_MAX);
        more = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 * REMIND_MAX;
        for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
            if (s_remind_one (self, r->element [i]->str, r->element [i + 1]->str, now)) {
                more = false;
                break;
            }
        if (r)
            freeReplyObject (r);
    }
}
