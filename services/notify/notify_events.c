/*  notify_events — see notify_events.h. */
#include "notify_events.h"
#include "oim_clock.h"
#include "oim_id.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "oim_stream.h"

#define EVENT_ENTRIES 64            //  oim:events entries per XREADGROUP / XAUTOCLAIM (an
                                    //  entry holds 1 event, or up to 256 in an EventBatch)
#define EVENT_BATCH 256             //  events per notify_store_ingest_batch pipeline
#define EVENTS_PER_TICK 2048        //  events ingested per tick, then the loop turns
#define AUTOCLAIM_EVERY_MS 1000
#define GROUP "notify"

struct _notify_events_t {
    oim_service_t *service;
    notify_store_t *store;          //  borrowed
    oim_stream_group_t *group;
    zsock_t *feed;                  //  PUB, or NULL
    int64_t retain_ms;
    int64_t next_forget_ms, next_trim_ms;
    oim_metric_t *m_events, *m_invalid, *m_stored, *m_replays, *m_feed;
};

//  ---------------------------------------------------------------------------------------
//  Events

//  True when an Event, or one of its copies (id, org_id), can become a notification: id,
//  type and recipient in shape.
static bool
s_recipient_valid (const Oim__V1__Event *event, const char *id, const char *org_id)
{
    return oim_id_valid (id, "ntf") && *event->type && *org_id
        && strlen (org_id) <= 64 && strlen (event->type) <= 64;
}

//  One notification to make: an Event for its org_id, or for one of its copies.
typedef struct {
    const Oim__V1__Event *event;    //  type, created_at, data_json
    const char *id, *org_id;        //  the event's, or the copy's
} s_recipient_t;

//  The events of one stream entry: field "e" = one Event, field "b" = an EventBatch (several
//  Events, each handled as if it were its own entry); an Event with N copies is handled as
//  1 + N Events.
typedef struct {
    Oim__V1__Event *single;         //  an "e" entry's Event
    Oim__V1__EventBatch *batch;     //  a "b" entry's batch (owns its events)
    s_recipient_t *to;              //  the valid recipients (borrowing single or batch)
    size_t count;
} s_entry_t;

static void
s_entry_free (s_entry_t *e)
{
    if (e->single)
        oim__v1__event__free_unpacked (e->single, NULL);
    if (e->batch)
        oim__v1__event_batch__free_unpacked (e->batch, NULL);
    free (e->to);
    memset (e, 0, sizeof *e);
}

//  Adds recipient (id, org_id) of event to e->to when it is valid.
static void
s_entry_add (s_entry_t *e, const Oim__V1__Event *event, const char *id, const char *org_id)
{
    if (s_recipient_valid (event, id, org_id))
        e->to [e->count++] = (s_recipient_t) { event, id, org_id };
}

//  Fills e->to with the valid recipients of the n events: each event's own, then its
//  copies'. Returns how many recipients there were in all, or SIZE_MAX when out of memory.
static size_t
s_entry_expand (s_entry_t *e, Oim__V1__Event *const *events, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += 1 + events [i]->n_copies;
    e->to = total? calloc (total, sizeof *e->to): NULL;
    if (total && !e->to)
        return SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const Oim__V1__Event *event = events [i];
        s_entry_add (e, event, event->id, event->org_id);
        for (size_t c = 0; c < event->n_copies; c++)
            s_entry_add (e, event, event->copies [c]->id, event->copies [c]->org_id);
    }
    return total;
}

//  Decodes a stream entry into e (zeroed by the caller; free it with s_entry_free). Invalid
//  recipients (undecodable entry, an event or a copy out of shape) are logged and counted
//  and left out, so e->count = 0 means there is nothing to do but acknowledge the entry.
//  Returns 0, or -1 when out of memory (e empty; the entry must stay pending).
static int
s_event (notify_events_t *self, redisReply *entry, s_entry_t *e)
{
    redisReply *fields = entry->elements == 2? entry->element [1]: NULL;
    const redisReply *value = NULL;
    bool batch = false;
    for (size_t i = 0; fields && fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
        const redisReply *name = fields->element [i];
        if (name->type == REDIS_REPLY_STRING && (streq (name->str, "e") || streq (name->str, "b"))) {
            value = fields->element [i + 1];
            batch = streq (name->str, "b");
        }
    }
    const uint8_t *bytes = value && value->type == REDIS_REPLY_STRING? (const uint8_t *) value->str: NULL;
    if (bytes && batch)
        e->batch = oim__v1__event_batch__unpack (NULL, value->len, bytes);
    else
    if (bytes)
        e->single = oim__v1__event__unpack (NULL, value->len, bytes);
    size_t total = 1;               //  an undecodable entry counts as one invalid event
    if (e->batch)
        total = s_entry_expand (e, e->batch->events, e->batch->n_events);
    else
    if (e->single)
        total = s_entry_expand (e, &e->single, 1);
    if (total == SIZE_MAX) {
        s_entry_free (e);
        return -1;
    }
    oim_metric_add (self->m_events, (int64_t) total);
    if (e->count < total) {
        oim_warn ("event=invalid_event entry=%s events=%zu invalid=%zu action=dropped",
                  entry->element [0]->str, total, total - e->count);
        oim_metric_add (self->m_invalid, (int64_t) (total - e->count));
    }
    return 0;
}

//  Connects the feed PUB to the gateway's intake (every replica publishes there; the gateway
//  hosts the one public feed). "" or "off": no feed. A failure leaves the feed off (logged):
//  the inbox, SSE and webhooks carry every notification anyway.
static void
s_feed_connect (notify_events_t *self, const char *endpoint)
{
    if (!*endpoint || strcmp (endpoint, "off") == 0)
        return;
    const oim_curve_t *curve = oim_service_curve (self->service);
    self->feed = zsock_new (ZMQ_PUB);
    if (!self->feed)
        return;
    zsock_set_sndhwm (self->feed, 100000);
    zsock_set_linger (self->feed, 0);
    if (oim_curve_check_endpoint (curve, endpoint) || oim_curve_client (curve, self->feed)
    ||  zsock_connect (self->feed, "%s", endpoint) < 0) {
        oim_error ("event=feed_connect_failed endpoint=%s action=feed_off", endpoint);
        zsock_destroy (&self->feed);
    }
    else
        oim_info ("event=feed_connected endpoint=%s curve=%s", endpoint,
                  oim_curve_enabled (curve)? "on": "off");
}

//  Publishes a stored notification on the ZeroMQ feed (best effort, never blocks).
static void
s_publish (notify_events_t *self, Oim__V1__Notification *n)
{
    size_t size = oim__v1__notification__get_packed_size (n);
    uint8_t *bytes = malloc (size? size: 1);
    if (!bytes)
        return;
    oim__v1__notification__pack (n, bytes);
    void *socket = zsock_resolve (self->feed);
    if (zmq_send (socket, n->org_id, strlen (n->org_id), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0
    &&  zmq_send (socket, bytes, size, ZMQ_DONTWAIT) >= 0)
        oim_metric_add (self->m_feed, 1);
    free (bytes);
}

//  Up to EVENT_BATCH events on their way to notify_store_ingest_batch (one pipeline).
typedef struct {
    Oim__V1__Notification notes [EVENT_BATCH];
    const Oim__V1__Notification *note_p [EVENT_BATCH];
    char dlv_ids [EVENT_BATCH][OIM_ID_SIZE];
    const char *dlv_p [EVENT_BATCH];
    notify_ingest_t results [EVENT_BATCH];
    const char *entry_id [EVENT_BATCH];     //  the stream entry the event came from
    bool last [EVENT_BATCH];                //  the last event of that entry
    size_t count;
} s_chunk_t;

//  Ingests the chunk's events, adds to ack every entry whose last event is now done (the
//  entry's earlier events were in this or earlier chunks, all done), publishes the new
//  notifications on the feed, and empties the chunk. Returns false when some events were
//  not done (Redis failed): those and their entries stay pending, to be re-read.
static bool
s_ingest_chunk (notify_events_t *self, s_chunk_t *chunk, const char **ack, size_t *n_ack)
{
    size_t done = notify_store_ingest_batch (self->store, oim_service_redis (self->service),
                                             chunk->note_p, chunk->dlv_p, chunk->count,
                                             oim_clock_wall_ms (), chunk->results);
    bool all = done == chunk->count;
    if (!all)                           //  the rest stay pending; re-ingesting is harmless
        oim_stream_group_retry (self->group);
    for (size_t v = 0; v < done; v++) {
        if (chunk->last [v])
            ack [(*n_ack)++] = chunk->entry_id [v];
        const notify_ingest_t *result = &chunk->results [v];
        Oim__V1__Notification *note = &chunk->notes [v];
        if (!result->stored) {
            oim_metric_add (self->m_replays, 1);
            continue;
        }
        oim_metric_add (self->m_stored, 1);
        oim_debug ("event=stored ntf=%s org=%s seq=%llu webhook=%d email=%d", note->id,
                   note->org_id, (unsigned long long) result->feed_sequence,
                   result->webhook, result->email);
        if (self->feed && result->feed_sequence) {
            note->feed_sequence = result->feed_sequence;
            s_publish (self, note);
        }
    }
    chunk->count = 0;
    return all;
}

//  Ingests a list of stream entries (at most EVENT_ENTRIES; each "e" = one Event or "b" = an
//  EventBatch), EVENT_BATCH events per pipeline, and acknowledges, in one XACK, the entries
//  all of whose events are done, and the malformed ones. It starts no new entry once
//  EVENTS_PER_TICK events are done (a batch entry holds up to hundreds). The entries not
//  handled (that bound, a Redis failure) stay pending and are re-read (the group retries).
//  Returns how many entries were acknowledged; *events gets how many events were ingested.
static size_t
s_ingest_entries (notify_events_t *self, redisReply *entries, size_t *events)
{
    size_t count = entries->elements < EVENT_ENTRIES? entries->elements: EVENT_ENTRIES;
    s_entry_t *parsed = calloc (count + 1, sizeof *parsed);
    s_chunk_t *chunk = calloc (1, sizeof *chunk);
    const char **ack = calloc (count + 1, sizeof *ack);
    *events = 0;
    if (!parsed || !chunk || !ack) {
        oim_stream_group_retry (self->group);
        count = 0;
    }
    char created [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), created);
    size_t n_ack = 0;
    bool ok = true;
    for (size_t i = 0; i < count && ok; i++) {
        redisReply *entry = entries->element [i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 1)
            continue;
        if (*events + chunk->count >= EVENTS_PER_TICK) {
            oim_stream_group_retry (self->group);   //  the rest next tick
            break;
        }
        if (entry->elements == 2 && entry->element [1]->type != REDIS_REPLY_NIL
        &&  s_event (self, entry, &parsed [i])) {
            oim_stream_group_retry (self->group);   //  out of memory: pending, re-read later
            break;
        }
        if (parsed [i].count == 0) {    //  malformed, or trimmed away: just acknowledge
            ack [n_ack++] = entry->element [0]->str;
            continue;
        }
        for (size_t j = 0; j < parsed [i].count && ok; j++) {
            const s_recipient_t *to = &parsed [i].to [j];
            const Oim__V1__Event *event = to->event;
            size_t v = chunk->count++;
            Oim__V1__Notification *n = &chunk->notes [v];
            oim__v1__notification__init (n);
            n->id = (char *) to->id;
            n->type = event->type;
            n->org_id = (char *) to->org_id;
            n->created_at = *event->created_at? event->created_at: created;
            n->data_json = event->data_json;
            oim_id_new ("dlv", chunk->dlv_ids [v]);
            chunk->note_p [v] = n;
            chunk->dlv_p [v] = chunk->dlv_ids [v];
            chunk->entry_id [v] = entry->element [0]->str;
            chunk->last [v] = j + 1 == parsed [i].count;
            if (chunk->count == EVENT_BATCH) {
                *events += chunk->count;
                ok = s_ingest_chunk (self, chunk, ack, &n_ack);
            }
        }
    }
    if (ok && chunk && chunk->count) {
        *events += chunk->count;
        s_ingest_chunk (self, chunk, ack, &n_ack);
    }
    if (oim_stream_group_ack (self->group, oim_service_redis (self->service), ack, n_ack))
        oim_stream_group_retry (self->group);
    for (size_t i = 0; i < count; i++)
        s_entry_free (&parsed [i]);
    free (parsed);
    free (chunk);
    free (ack);
    return n_ack;
}

//  The string (or integer) value of an XINFO reply's field name, or NULL (otherwise).
static const char *
s_info_str (const redisReply *info, const char *name)
{
    const redisReply *v = oim_stream_info_field (info, name);
    return v && v->type == REDIS_REPLY_STRING? v->str: NULL;
}

static long long
s_info_int (const redisReply *info, const char *name, long long otherwise)
{
    const redisReply *v = oim_stream_info_field (info, name);
    return v && v->type == REDIS_REPLY_INTEGER? v->integer: otherwise;
}

//  Lowers bound to where group's unfinished entries start: its oldest pending entry, or,
//  with none pending, its last delivered one. False when that cannot be told.
static bool
s_group_bound (oim_redis_t *redis, const redisReply *group, oim_stream_id_t *bound)
{
    const char *name = s_info_str (group, "name"), *last = s_info_str (group, "last-delivered-id");
    long long pending = s_info_int (group, "pending", -1);
    oim_stream_id_t id;
    bool ok = name && pending >= 0 && oim_stream_id_parse (last, &id) == 0;
    if (ok && pending > 0) {
        redisReply *r = oim_redis_command (redis, "XPENDING %s %s", OIM_STREAM_EVENTS, name);
        ok = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2
          && r->element [1]->type == REDIS_REPLY_STRING
          && oim_stream_id_parse (r->element [1]->str, &id) == 0;
        if (r)
            freeReplyObject (r);
    }
    if (ok && oim_stream_id_compare (id, *bound) < 0)
        *bound = id;
    return ok;
}

//  Trims oim:events below what every consumer group still needs (its oldest pending entry,
//  else its last delivered one) and older than event-retain-s: the stream would otherwise
//  grow without end (~10 KB per demand of match events). Once a second at most.
static void
s_trim_events (notify_events_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (self->retain_ms < 0 || now < self->next_trim_ms)
        return;
    self->next_trim_ms = now + 1000;
    oim_redis_t *redis = oim_service_redis (self->service);
    redisReply *r = oim_redis_command (redis, "XINFO GROUPS %s", OIM_STREAM_EVENTS);
    int64_t wall = oim_clock_wall_ms () - self->retain_ms;
    oim_stream_id_t bound = { wall > 0? (uint64_t) wall: 0, 0 };
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
    for (size_t i = 0; ok && i < r->elements; i++)
        ok = s_group_bound (redis, r->element [i], &bound);
    if (r)
        freeReplyObject (r);
    if (!ok || bound.ms == 0)
        return;
    redisReply *t = oim_redis_command (redis, "XTRIM %s MINID %llu-%llu", OIM_STREAM_EVENTS,
                                       (unsigned long long) bound.ms, (unsigned long long) bound.seq);
    if (t && t->type == REDIS_REPLY_INTEGER && t->integer > 0)
        oim_debug ("event=events_trimmed count=%lld", t->integer);
    if (t)
        freeReplyObject (t);
}

//  Every replica start is a new consumer name; once a dead one holds nothing (XAUTOCLAIM
//  took its entries) and has been idle for an hour, it is removed from the group.
static void
s_forget_consumers (notify_events_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (now < self->next_forget_ms)
        return;
    self->next_forget_ms = now + 60000;
    oim_stream_group_forget (self->group, oim_service_redis (self->service), 3600000);
}

//  Entries of dead consumers, once per AUTOCLAIM_EVERY_MS: up to 16 rounds while full ones
//  are all acknowledged.
static void
s_take_over (notify_events_t *self, oim_redis_t *redis)
{
    if (!oim_stream_group_claim_due (self->group))
        return;
    for (int round = 0; round < 16; round++) {
        redisReply *r, *entries;
        int got = oim_stream_group_claim (self->group, redis, EVENT_ENTRIES, &r, &entries);
        bool more = false;
        if (got > 0) {
            oim_info ("event=events_taken_over count=%d", got);
            size_t ingested = 0;
            size_t done = s_ingest_entries (self, entries, &ingested);
            more = got == EVENT_ENTRIES && done == EVENT_ENTRIES;
        }
        if (r)
            freeReplyObject (r);
        if (!more)
            break;
    }
    s_forget_consumers (self);
}

void
notify_events_tick (notify_events_t *self)
{
    oim_redis_t *redis = oim_service_redis (self->service);
    if (!oim_stream_group_ensure (self->group, redis))
        return;
    size_t events = 0;              //  this tick's, bounded by EVENTS_PER_TICK
    for (int round = 0; round < 32 && events < EVENTS_PER_TICK; round++) {
        redisReply *r, *entries;
        int got = oim_stream_group_read (self->group, redis, EVENT_ENTRIES, &r, &entries);
        if (got < 0) {
            if (r)
                freeReplyObject (r);
            return;
        }
        if (got > 0) {
            size_t ingested = 0;
            s_ingest_entries (self, entries, &ingested);
            events += ingested;
            if (oim_stream_group_retrying (self->group) && ingested == 0)
                got = 0;            //  no progress (Redis failing): next tick
        }
        freeReplyObject (r);
        if (got == 0 || (got < EVENT_ENTRIES && !oim_stream_group_retrying (self->group)))
            break;
    }
    s_take_over (self, redis);
    s_trim_events (self);
}

//  ---------------------------------------------------------------------------------------
//  Lifecycle

notify_events_t *
notify_events_new (oim_service_t *service, notify_store_t *store)
{
    oim_config_t *config = oim_service_config (service);
    notify_events_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->service = service;
    self->store = store;
    self->group = oim_stream_group_new (OIM_STREAM_EVENTS, GROUP, oim_service_instance (service),
                                        oim_config_int (config, "event-claim-idle-ms", 30000),
                                        AUTOCLAIM_EVERY_MS);
    if (!self->group) {
        notify_events_destroy (&self);
        return NULL;
    }
    self->retain_ms = oim_config_int (config, "event-retain-s", 86400) * 1000;
    s_feed_connect (self, oim_config_get (config, "feed-endpoint"));
    oim_metrics_t *m = oim_service_metrics (service);
    self->m_events = oim_metrics_counter (m, "oim_notify_events_total", NULL, "events read from oim:events");
    self->m_invalid = oim_metrics_counter (m, "oim_notify_events_invalid_total", NULL, "malformed events dropped");
    self->m_stored = oim_metrics_counter (m, "oim_notify_notifications_total", NULL, "notifications stored");
    self->m_replays = oim_metrics_counter (m, "oim_notify_event_replays_total", NULL, "events seen again (no effect)");
    self->m_feed = oim_metrics_counter (m, "oim_notify_feed_published_total", NULL, "notifications published on the ZeroMQ feed");
    oim_stream_group_ensure (self->group, oim_service_redis (service));
    return self;
}

void
notify_events_destroy (notify_events_t **self_p)
{
    if (self_p && *self_p) {
        notify_events_t *self = *self_p;
        zsock_destroy (&self->feed);
        oim_stream_group_destroy (&self->group);
        free (self);
        *self_p = NULL;
    }
}
