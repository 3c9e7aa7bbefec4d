/*  notify_server — the oim-notify daemon on the template (common/oim_service.h).

    The pipeline, all on the template's zloop (one thread), every step written to Redis
    before the next one relies on it (notify_store.h has the scripts):
      1. events: XREADGROUP "notify" on oim:events, each tick (tick = 5 ms). An entry holds
         one Event ("e") or an EventBatch ("b": each of its events handled as if it were its
         own entry); an Event with N copies is handled as 1 + N Events (the copies' ids and
         recipients, the Event's type and data). Per Event one script stores the
         Notification (inbox, unread, SSE feed stream, feed_sequence) and schedules its
         deliveries per the org's preferences; an entry is XACKed only after the scripts of
         all its events ran. Entries a dead replica read but never acknowledged are taken
         over with XAUTOCLAIM once idle for OIM_EVENT_CLAIM_IDLE_MS. Then the Notification
         goes out on the ZeroMQ PUB feed (best effort: subscribers detect gaps by
         feed_sequence and read the inbox API).
      2. webhooks: due deliveries are leased (score -> now + lease) and handed to the engine
         (notify_webhook: libcurl multi; its sockets and timer sit in an epoll set that is
         one zloop poller). Each result is recorded, pipelined (attempt log, retry at
         notify_retry's next time, dead after the last, disabled on 410). A crash loses
         nothing: a leased delivery is retried when its lease runs out, with the same
         webhook-id (the notification id); a receiver may see it twice, never two ids.
      3. e-mail: jobs (instant, or one digest per org per OIM_DIGEST_INTERVAL_S) are leased
         one at a time and sent over SMTP by a mailer actor (its own thread: libcurl SMTP
         blocks), so the loop never waits for a mail server.
    Handlers of the API live in notify_api.c.
*/
#include "notify_server.h"
#include "notify_email.h"
#include "notify_retry.h"
#include "notify_sign.h"
#include "notify_webhook.h"
#include "oim_clock.h"
#include "oim_id.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "registry.pb-c.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define EVENT_ENTRIES 64            //  oim:events entries per XREADGROUP / XAUTOCLAIM (an
                                    //  entry holds 1 event, or up to 256 in an EventBatch)
#define EVENT_BATCH 256             //  events per notify_store_ingest_batch pipeline
#define EVENTS_PER_TICK 2048        //  events ingested per tick, then the loop turns
#define RECORD_BATCH 512            //  attempt outcomes written per pipeline
#define CLAIM_BATCH 512             //  deliveries leased per tick
#define ENGINE_MAX_PENDING 20000    //  stop leasing while the engine holds this many
#define MAIL_LEASE_MS 120000
#define MAIL_MAX_TRIES 8
#define AUTOCLAIM_EVERY_MS 1000
#define GROUP "notify"

static const oim_option_t s_options [] = {
    { "feed-endpoint", "OIM_FEED_ENDPOINT", "tcp://127.0.0.1:5572", "the gateway's feed intake "
      "this replica publishes into (CURVE client with daemon.cert; the gateway hosts the public "
      "feed, see its OIM_FEED_PROXY and OIM_FEED_PORT); \"off\" = no feed", false },
    { "webhook-retry-schedule", "OIM_WEBHOOK_RETRY_SCHEDULE", "",
      "seconds between webhook attempts, comma-separated (default " NOTIFY_RETRY_DEFAULT_SCHEDULE ")", false },
    { "webhook-allow-private", "OIM_WEBHOOK_ALLOW_PRIVATE", "0",
      "1 = allow webhook URLs on loopback/private networks", false },
    { "webhook-timeout-ms", "OIM_WEBHOOK_TIMEOUT_MS", "15000", "whole webhook attempt", false },
    { "webhook-connect-timeout-ms", "OIM_WEBHOOK_CONNECT_TIMEOUT_MS", "5000", "TCP + TLS connect", false },
    { "webhook-lease-ms", "OIM_WEBHOOK_LEASE_MS", "60000", "a leased delivery is retried after "
      "this long if its replica died (at least the timeout + 5 s)", false },
    { "webhook-max-in-flight", "OIM_WEBHOOK_MAX_IN_FLIGHT", "1024", "webhook transfers at once, "
      "all endpoints (at most 8 per endpoint; also the size of the connection cache)", false },
    { "webhook-breaker-failures", "OIM_WEBHOOK_BREAKER_FAILURES", "5",
      "consecutive failures that open an endpoint's circuit", false },
    { "webhook-breaker-cooldown-ms", "OIM_WEBHOOK_BREAKER_COOLDOWN_MS", "30000",
      "first open-circuit period (doubles while probes fail)", false },
    { "event-claim-idle-ms", "OIM_EVENT_CLAIM_IDLE_MS", "30000",
      "take over events another replica read but did not acknowledge for this long", false },
    { "event-retain-s", "OIM_EVENT_RETAIN_S", "86400", "oim:events entries every consumer "
      "group has acknowledged are trimmed once this old (-1 = never trim)", false },
    { "smtp-url", "OIM_SMTP_URL", "", "SMTP server, smtp://host:port or smtps://; empty = no e-mail", false },
    { "smtp-from", "OIM_SMTP_FROM", "OI Market <noreply@oimarket.local>", "e-mail sender", false },
    { "smtp-username", "OIM_SMTP_USERNAME", "", "SMTP AUTH user (empty = none)", false },
    { "smtp-password", "OIM_SMTP_PASSWORD", "", "SMTP AUTH password", false },
    { "digest-interval-s", "OIM_DIGEST_INTERVAL_S", "86400", "period of e-mail digests", false },
    { "console-url", "OIM_CONSOLE_URL", "", "base URL of the web console, for links in e-mails", false },
    OIM_OPTION_END
};

//  One delivery handed to the engine; owned by the in-flight table.
typedef struct {
    char dlv [OIM_ID_SIZE];
    char org [128];
    char url [2100];
    uint32_t failed;                //  failures in this round before this attempt
} flight_t;

typedef struct {
    char *smtp_url, *username, *password, *from_addr;
} mailer_args_t;

struct _notify_state_t {
    oim_service_t *service;
    notify_store_t *store;
    notify_ssrf_t *ssrf;
    notify_retry_t *retry;
    notify_webhook_engine_t *engine;
    zhashx_t *in_flight;            //  dlv id -> flight_t
    notify_record_t *records;       //  attempt outcomes not yet written (RECORD_BATCH)
    size_t n_records;
    int epoll_fd;                   //  the engine's sockets and timer_fd; -1 = none
    int timer_fd;                   //  the engine's timer
    int64_t timer_armed_us;         //  when timer_fd fires (monotonic µs), 0 = not armed
    bool timer_wanted;              //  curl wants its timer to fire at timer_due_us
    int64_t timer_due_us;
    zsock_t *feed;                  //  PUB, or NULL
    zactor_t *mailer;               //  NULL without SMTP
    mailer_args_t mailer_args;
    bool mail_busy;
    char consumer [160];
    bool group_ready;
    bool reread_pending;            //  re-read our own unacknowledged entries first
    int64_t lease_ms, claim_idle_ms, digest_interval_ms, retain_ms;
    int64_t next_autoclaim_ms, next_digest_ms, next_forget_ms, next_trim_ms;
    const char *smtp_from, *console_url;
    oim_metric_t *m_events, *m_invalid, *m_stored, *m_replays, *m_feed;
    oim_metric_t *m_delivered, *m_failed, *m_dead, *m_disabled, *m_latency;
    oim_metric_t *m_mail_sent, *m_mail_failed, *m_in_flight;
};

notify_store_t *
notify_server_store (oim_service_t *service)
{
    return ((notify_state_t *) oim_service_state (service))->store;
}

const notify_ssrf_t *
notify_server_ssrf (oim_service_t *service)
{
    return ((notify_state_t *) oim_service_state (service))->ssrf;
}

static void s_flush_records (notify_state_t *self);
static void s_on_engine_timer (notify_state_t *self);

//  ---------------------------------------------------------------------------------------
//  The engine's reactor adapter. The engine's sockets and its one timer (a timerfd) live in
//  an epoll set, and only the epoll fd is a zloop poller: zloop rebuilds its poll set on
//  every poller change, which with hundreds of webhook connections (curl changes what it
//  waits for several times per transfer) cost more than the deliveries themselves.

static int
s_on_engine_events (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop; (void) item;
    notify_state_t *self = arg;
    struct epoll_event ready [64];
    int n = epoll_wait (self->epoll_fd, ready, 64, 0);
    for (int i = 0; i < n; i++) {
        int fd = ready [i].data.fd;
        if (fd == self->timer_fd) {
            s_on_engine_timer (self);
            continue;
        }
        uint32_t e = ready [i].events;
        int events = ((e & EPOLLIN)? NOTIFY_WEBHOOK_POLLIN: 0) | ((e & EPOLLOUT)? NOTIFY_WEBHOOK_POLLOUT: 0);
        notify_webhook_engine_on_fd (self->engine, fd, events);     //  0 = error condition
    }
    s_flush_records (self);
    return 0;
}

static int
s_watch (void *arg, int fd, int events)
{
    notify_state_t *self = arg;
    if (!events) {
        epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);    //  may be gone already
        return 0;
    }
    struct epoll_event ev = { .events = ((events & NOTIFY_WEBHOOK_POLLIN)? EPOLLIN: 0)
                                      | ((events & NOTIFY_WEBHOOK_POLLOUT)? EPOLLOUT: 0),
                              .data.fd = fd };
    if (epoll_ctl (self->epoll_fd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    return errno == ENOENT && epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0? 0: -1;
}

//  Arms timer_fd to fire after usec (≥ 1). Returns 0 or -1.
static int
s_arm (notify_state_t *self, int64_t now_us, int64_t usec)
{
    if (usec < 1)
        usec = 1;
    struct itimerspec when = { { 0, 0 }, { (time_t) (usec / 1000000), (long) (usec % 1000000) * 1000 } };
    if (timerfd_settime (self->timer_fd, 0, &when, NULL))
        return -1;
    self->timer_armed_us = now_us + usec;
    return 0;
}

//  curl re-arms its timer several times per transfer; timerfd_settime on each change was a
//  fifth of the daemon's CPU. So the kernel timer is only ever moved earlier: a later or
//  cancelled wish is just remembered, and when the kernel timer fires before the wished time
//  it is re-armed for it rather than calling curl (whose timeout action, finding nothing due
//  at an unchanged deadline, would not ask for the timer again).
static int
s_timer (void *arg, long msec)
{
    notify_state_t *self = arg;
    if (msec < 0) {
        self->timer_wanted = false;
        return 0;
    }
    int64_t now = oim_clock_mono_us ();
    self->timer_wanted = true;
    self->timer_due_us = now + (int64_t) msec * 1000;
    if (self->timer_armed_us && self->timer_armed_us <= self->timer_due_us)
        return 0;       //  pending (or expired, not yet read): fires no later than wished
    return s_arm (self, now, (int64_t) msec * 1000);
}

//  timer_fd fired.
static void
s_on_engine_timer (notify_state_t *self)
{
    uint64_t expirations;
    if (read (self->timer_fd, &expirations, sizeof expirations) < 0) {
        //  EAGAIN: nothing to read (re-armed meanwhile); judged by the times below
    }
    self->timer_armed_us = 0;
    if (!self->timer_wanted)
        return;
    int64_t now = oim_clock_mono_us ();
    if (now < self->timer_due_us) {
        s_arm (self, now, self->timer_due_us - now);
        return;
    }
    self->timer_wanted = false;         //  curl asks again if it still needs one
    notify_webhook_engine_on_timer (self->engine);
}

//  ---------------------------------------------------------------------------------------
//  Webhook results

//  Writes the queued attempt outcomes (one pipeline). Those Redis did not take stay leased:
//  retried after the lease, which the receiver sees as a duplicate with the same webhook-id.
static void
s_flush_records (notify_state_t *self)
{
    if (self->n_records == 0)
        return;
    size_t done = notify_store_record_batch (self->store, oim_service_redis (self->service),
                                             self->records, self->n_records);
    if (done < self->n_records)
        oim_warn ("event=record_failed count=%zu action=retry_after_lease", self->n_records - done);
    self->n_records = 0;
}

//  Queues one outcome; r = the engine's report, NULL when decided without an attempt.
static void
s_record (notify_state_t *self, flight_t *f, const char *outcome, const notify_webhook_result_t *r,
          int64_t next_ms)
{
    if (self->n_records == RECORD_BATCH)
        s_flush_records (self);
    notify_record_t *rec = &self->records [self->n_records++];
    snprintf (rec->dlv_id, sizeof rec->dlv_id, "%s", f->dlv);
    snprintf (rec->org_id, sizeof rec->org_id, "%s", f->org);
    snprintf (rec->url, sizeof rec->url, "%s", f->url);
    rec->outcome = outcome;
    rec->next_ms = next_ms;
    rec->attempt_size = 0;
    if (r) {
        Oim__V1__DeliveryAttempt attempt = OIM__V1__DELIVERY_ATTEMPT__INIT;
        char at [OIM_RFC3339_SIZE], error [512];
        oim_clock_rfc3339 (oim_clock_wall_ms (), at);
        snprintf (error, sizeof error, "%s", r->error? r->error: "");
        attempt.at = at;
        attempt.http_status = (uint32_t) r->http_status;
        attempt.latency_ms = r->latency_usec / 1000;
        attempt.error = error;
        if (oim__v1__delivery_attempt__get_packed_size (&attempt) <= sizeof rec->attempt)
            rec->attempt_size = oim__v1__delivery_attempt__pack (&attempt, rec->attempt);
    }
}

//  Puts a delivery back in the due zset for at_ms without counting an attempt.
static void
s_reschedule (notify_state_t *self, const char *dlv, int64_t at_ms)
{
    redisReply *r = oim_redis_command (oim_service_redis (self->service), "ZADD %s XX %lld %s",
                                       OIM_KEY_DLV_DUE, (long long) at_ms, dlv);
    if (r)
        freeReplyObject (r);
}

static void
s_on_result (const notify_webhook_result_t *r, void *arg)
{
    notify_state_t *self = arg;
    flight_t *f = r->user;
    if (!r->attempted) {
        int64_t wait = notify_webhook_engine_retry_after_msec (self->engine, f->org);
        s_reschedule (self, f->dlv, oim_clock_wall_ms () + (wait > 100? wait: 100));
    }
    else
    if (r->outcome == NOTIFY_WEBHOOK_DELIVERED) {
        s_record (self, f, "delivered", r, 0);
        oim_metric_add (self->m_delivered, 1);
        oim_metric_observe_us (self->m_latency, r->latency_usec);
    }
    else
    if (r->outcome == NOTIFY_WEBHOOK_DISABLE) {
        s_record (self, f, "disabled", r, 0);
        oim_metric_add (self->m_disabled, 1);
        oim_warn ("event=webhook_disabled org=%s dlv=%s status=410", f->org, f->dlv);
    }
    else {
        int64_t delay = notify_retry_next_msec (self->retry, f->failed + 1);
        oim_metric_add (self->m_failed, 1);
        if (delay < 0) {
            s_record (self, f, "dead", r, 0);
            oim_metric_add (self->m_dead, 1);
            oim_info ("event=dead_letter org=%s dlv=%s error=\"%s\"", f->org, f->dlv, r->error);
        }
        else
            s_record (self, f, "retry", r, oim_clock_wall_ms () + delay);
    }
    zhashx_delete (self->in_flight, f->dlv);
}

//  Leases due deliveries and hands them to the engine.
static void
s_dispatch_deliveries (notify_state_t *self)
{
    if (notify_webhook_engine_pending (self->engine) >= ENGINE_MAX_PENDING)
        return;
    oim_redis_t *redis = oim_service_redis (self->service);
    int64_t now = oim_clock_wall_ms ();
    redisReply *ids = notify_store_claim (self->store, redis, OIM_KEY_DLV_DUE, now,
                                          self->lease_ms, CLAIM_BATCH);
    if (!ids || ids->elements == 0) {
        if (ids)
            freeReplyObject (ids);
        return;
    }
    size_t n = ids->elements;
    //  Phase 1: the deliveries; phase 2: their notifications and endpoints.
    redisReply **dlv = calloc (n, sizeof *dlv), **ntf = calloc (n, sizeof *ntf),
               **hook = calloc (n, sizeof *hook);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        char key [OIM_KEY_SIZE];
        snprintf (key, sizeof key, OIM_KEY_DLV, ids->element [i]->str);
        ok = oim_redis_append (redis, "HMGET %s notification_id org_id status failed", key) == 0;
    }
    for (size_t i = 0; i < n && ok; i++)
        ok = (dlv [i] = oim_redis_reply (redis)) != NULL;
    for (size_t i = 0; i < n && ok; i++) {
        redisReply *d = dlv [i];
        bool live = d->type == REDIS_REPLY_ARRAY && d->elements == 4
                 && d->element [0]->type == REDIS_REPLY_STRING
                 && d->element [1]->type == REDIS_REPLY_STRING;
        char key [OIM_KEY_SIZE], hkey [OIM_KEY_SIZE];
        snprintf (key, sizeof key, OIM_KEY_NTF, live? d->element [0]->str: "-");
        snprintf (hkey, sizeof hkey, OIM_KEY_WEBHOOK, live? d->element [1]->str: "-");
        ok = oim_redis_append (redis, "GET %s", key) == 0
          && oim_redis_append (redis, "HMGET %s url secret disabled", hkey) == 0;
    }
    for (size_t i = 0; i < n && ok; i++)
        ok = (ntf [i] = oim_redis_reply (redis)) != NULL && (hook [i] = oim_redis_reply (redis)) != NULL;
    for (size_t i = 0; i < n && ok; i++) {
        const char *id = ids->element [i]->str;
        redisReply *d = dlv [i], *h = hook [i];
        if (zhashx_lookup (self->in_flight, id))
            continue;               //  still in our engine (re-leased above): nothing to do
        bool live = d->type == REDIS_REPLY_ARRAY && d->elements == 4
                 && d->element [0]->type == REDIS_REPLY_STRING
                 && d->element [1]->type == REDIS_REPLY_STRING
                 && d->element [2]->type == REDIS_REPLY_STRING;
        if (!live || strcmp (d->element [2]->str, "pending")) {
            redisReply *r = oim_redis_command (redis, "ZREM %s %s", OIM_KEY_DLV_DUE, id);
            if (r)
                freeReplyObject (r);
            continue;
        }
        flight_t *f = calloc (1, sizeof *f);
        snprintf (f->dlv, sizeof f->dlv, "%s", id);
        snprintf (f->org, sizeof f->org, "%s", d->element [1]->str);
        f->failed = d->element [3]->type == REDIS_REPLY_STRING
                  ? (uint32_t) strtoul (d->element [3]->str, NULL, 10): 0;
        bool endpoint = h->type == REDIS_REPLY_ARRAY && h->elements == 3
                     && h->element [0]->type == REDIS_REPLY_STRING
                     && h->element [1]->type == REDIS_REPLY_STRING;
        if (endpoint)
            snprintf (f->url, sizeof f->url, "%s", h->element [0]->str);
        if (!endpoint || (h->element [2]->type == REDIS_REPLY_STRING && strcmp (h->element [2]->str, "1") == 0)) {
            s_record (self, f, "disabled", NULL, 0);
            free (f);
            continue;
        }
        Oim__V1__Notification *note = ntf [i]->type == REDIS_REPLY_STRING
            ? oim__v1__notification__unpack (NULL, ntf [i]->len, (const uint8_t *) ntf [i]->str): NULL;
        if (!note) {
            oim_error ("event=delivery_without_notification dlv=%s", id);
            s_record (self, f, "dead", NULL, 0);
            free (f);
            continue;
        }
        json_t *json = notify_store_notification_json (note, false, false);
        char *body = json_dumps (json, JSON_COMPACT);
        json_decref (json);
        notify_webhook_request_t request = {
            .endpoint_id = f->org, .url = f->url, .msg_id = note->id,
            .secret = h->element [1]->str, .body = body, .body_size = body? strlen (body): 0,
            .user = f
        };
        zhashx_insert (self->in_flight, f->dlv, f);
        notify_webhook_submit_t rc = body? notify_webhook_engine_submit (self->engine, &request)
                                         : NOTIFY_WEBHOOK_BUSY;
        if (rc == NOTIFY_WEBHOOK_BUSY)
            s_reschedule (self, id, now + 1000);
        else
        if (rc == NOTIFY_WEBHOOK_CIRCUIT_OPEN) {
            int64_t wait = notify_webhook_engine_retry_after_msec (self->engine, f->org);
            s_reschedule (self, id, now + (wait > 100? wait: 100));
        }
        else
        if (rc == NOTIFY_WEBHOOK_INVALID) {
            oim_error ("event=webhook_invalid dlv=%s org=%s", id, f->org);
            s_record (self, f, "dead", NULL, 0);
        }
        if (rc != NOTIFY_WEBHOOK_ACCEPTED)
            zhashx_delete (self->in_flight, id);
        free (body);
        oim__v1__notification__free_unpacked (note, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        if (dlv [i])
            freeReplyObject (dlv [i]);
        if (ntf [i])
            freeReplyObject (ntf [i]);
        if (hook [i])
            freeReplyObject (hook [i]);
    }
    free (dlv);
    free (ntf);
    free (hook);
    freeReplyObject (ids);
    s_flush_records (self);
    oim_metric_set (self->m_in_flight, (int64_t) notify_webhook_engine_pending (self->engine));
}

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
s_event (notify_state_t *self, redisReply *entry, s_entry_t *e)
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
s_feed_connect (notify_state_t *self, const char *endpoint)
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
s_publish (notify_state_t *self, Oim__V1__Notification *n)
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

static bool
s_ensure_group (notify_state_t *self)
{
    if (self->group_ready)
        return true;
    redisReply *r = oim_redis_command (oim_service_redis (self->service),
                                       "XGROUP CREATE %s %s 0 MKSTREAM", OIM_STREAM_EVENTS, GROUP);
    if (!r)
        return false;
    self->group_ready = r->type != REDIS_REPLY_ERROR || strstr (r->str, "BUSYGROUP");
    if (!self->group_ready)
        oim_error ("event=xgroup_failed error=\"%s\"", r->str);
    freeReplyObject (r);
    return self->group_ready;
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
s_ingest_chunk (notify_state_t *self, s_chunk_t *chunk, const char **ack, size_t *n_ack)
{
    size_t done = notify_store_ingest_batch (self->store, oim_service_redis (self->service),
                                             chunk->note_p, chunk->dlv_p, chunk->count,
                                             oim_clock_wall_ms (), chunk->results);
    bool all = done == chunk->count;
    if (!all)
        self->reread_pending = true;    //  the rest stay pending; re-ingesting is harmless
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
//  handled (that bound, a Redis failure) stay pending and are re-read (reread_pending).
//  Returns how many entries were acknowledged; *events gets how many events were ingested.
static size_t
s_ingest_entries (notify_state_t *self, redisReply *entries, size_t *events)
{
    size_t count = entries->elements < EVENT_ENTRIES? entries->elements: EVENT_ENTRIES;
    s_entry_t *parsed = calloc (count + 1, sizeof *parsed);
    s_chunk_t *chunk = calloc (1, sizeof *chunk);
    const char **ack = calloc (count + 3, sizeof *ack);
    size_t *ack_lens = calloc (count + 3, sizeof *ack_lens);
    *events = 0;
    if (!parsed || !chunk || !ack || !ack_lens) {
        self->reread_pending = true;
        count = 0;
    }
    char created [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), created);
    size_t n_ack = 3;
    if (ack) {
        ack [0] = "XACK";
        ack [1] = OIM_STREAM_EVENTS;
        ack [2] = GROUP;
    }
    bool ok = true;
    for (size_t i = 0; i < count && ok; i++) {
        redisReply *entry = entries->element [i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 1)
            continue;
        if (*events + chunk->count >= EVENTS_PER_TICK) {
            self->reread_pending = true;        //  the rest next tick
            break;
        }
        if (entry->elements == 2 && entry->element [1]->type != REDIS_REPLY_NIL
        &&  s_event (self, entry, &parsed [i])) {
            self->reread_pending = true;        //  out of memory: pending, re-read later
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
    if (n_ack > 3) {
        for (size_t i = 0; i < n_ack; i++)
            ack_lens [i] = strlen (ack [i]);
        redisReply *r = oim_redis_commandv (oim_service_redis (self->service), (int) n_ack, ack, ack_lens);
        if (r)
            freeReplyObject (r);
        else
            self->reread_pending = true;
    }
    for (size_t i = 0; i < count; i++)
        s_entry_free (&parsed [i]);
    free (parsed);
    free (chunk);
    free (ack);
    free (ack_lens);
    return n_ack > 3? n_ack - 3: 0;
}

//  A field of an XINFO reply (field, value, field, value...): its string or integer value,
//  NULL or otherwise when it has none of that type.
static redisReply *
s_info_field (redisReply *info, const char *name, int type)
{
    for (size_t k = 0; info->type == REDIS_REPLY_ARRAY && k + 1 < info->elements; k += 2)
        if (info->element [k]->type == REDIS_REPLY_STRING && streq (info->element [k]->str, name))
            return info->element [k + 1]->type == type? info->element [k + 1]: NULL;
    return NULL;
}

static const char *
s_info_str (redisReply *info, const char *name)
{
    redisReply *v = s_info_field (info, name, REDIS_REPLY_STRING);
    return v? v->str: NULL;
}

static long long
s_info_int (redisReply *info, const char *name, long long otherwise)
{
    redisReply *v = s_info_field (info, name, REDIS_REPLY_INTEGER);
    return v? v->integer: otherwise;
}

//  Every replica start is a new consumer name; once a dead one holds nothing (XAUTOCLAIM
//  took its entries) and has been idle for an hour, it is removed from the group.
static void
s_forget_consumers (notify_state_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (now < self->next_forget_ms)
        return;
    self->next_forget_ms = now + 60000;
    oim_redis_t *redis = oim_service_redis (self->service);
    redisReply *r = oim_redis_command (redis, "XINFO CONSUMERS %s %s", OIM_STREAM_EVENTS, GROUP);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *c = r->element [i];
        const char *name = s_info_str (c, "name");
        long long pending = s_info_int (c, "pending", -1), idle = s_info_int (c, "idle", 0);
        if (name && pending == 0 && idle > 3600000 && strcmp (name, self->consumer)) {
            redisReply *d = oim_redis_command (redis, "XGROUP DELCONSUMER %s %s %s",
                                               OIM_STREAM_EVENTS, GROUP, name);
            if (d)
                freeReplyObject (d);
            oim_info ("event=consumer_forgotten name=%s", name);
        }
    }
    if (r)
        freeReplyObject (r);
}

//  A stream id's (ms, seq); false when it is not one.
static bool
s_stream_id (const char *text, uint64_t id [2])
{
    unsigned long long ms, seq;
    if (!text || sscanf (text, "%llu-%llu", &ms, &seq) != 2)
        return false;
    id [0] = ms;
    id [1] = seq;
    return true;
}

//  Lowers bound to where group's unfinished entries start: its oldest pending entry, or,
//  with none pending, its last delivered one. False when that cannot be told.
static bool
s_group_bound (oim_redis_t *redis, redisReply *group, uint64_t bound [2])
{
    const char *name = s_info_str (group, "name"), *last = s_info_str (group, "last-delivered-id");
    long long pending = s_info_int (group, "pending", -1);
    uint64_t id [2];
    bool ok = name && pending >= 0 && s_stream_id (last, id);
    if (ok && pending > 0) {
        redisReply *r = oim_redis_command (redis, "XPENDING %s %s", OIM_STREAM_EVENTS, name);
        ok = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2
          && s_stream_id (r->element [1]->str, id);
        if (r)
            freeReplyObject (r);
    }
    if (ok && (id [0] < bound [0] || (id [0] == bound [0] && id [1] < bound [1]))) {
        bound [0] = id [0];
        bound [1] = id [1];
    }
    return ok;
}

//  Trims oim:events below what every consumer group still needs (its oldest pending entry,
//  else its last delivered one) and older than event-retain-s: the stream would otherwise
//  grow without end (~10 KB per demand of match events). Once a second at most.
static void
s_trim_events (notify_state_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (self->retain_ms < 0 || now < self->next_trim_ms)
        return;
    self->next_trim_ms = now + 1000;
    oim_redis_t *redis = oim_service_redis (self->service);
    redisReply *r = oim_redis_command (redis, "XINFO GROUPS %s", OIM_STREAM_EVENTS);
    int64_t wall = oim_clock_wall_ms () - self->retain_ms;
    uint64_t bound [2] = { wall > 0? (uint64_t) wall: 0, 0 };
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
    for (size_t i = 0; ok && i < r->elements; i++)
        ok = s_group_bound (redis, r->element [i], bound);
    if (r)
        freeReplyObject (r);
    if (!ok || bound [0] == 0)
        return;
    redisReply *t = oim_redis_command (redis, "XTRIM %s MINID %llu-%llu", OIM_STREAM_EVENTS,
                                       (unsigned long long) bound [0], (unsigned long long) bound [1]);
    if (t && t->type == REDIS_REPLY_INTEGER && t->integer > 0)
        oim_debug ("event=events_trimmed count=%lld", t->integer);
    if (t)
        freeReplyObject (t);
}

static void
s_consume_events (notify_state_t *self)
{
    if (!s_ensure_group (self))
        return;
    oim_redis_t *redis = oim_service_redis (self->service);
    size_t events = 0;              //  this tick's, bounded by EVENTS_PER_TICK
    for (int round = 0; round < 32 && events < EVENTS_PER_TICK; round++) {
        bool own = self->reread_pending;
        self->reread_pending = false;
        redisReply *r = oim_redis_command (redis, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s %s",
                                           GROUP, self->consumer, EVENT_ENTRIES, OIM_STREAM_EVENTS,
                                           own? "0": ">");
        if (!r) {
            self->reread_pending = own;
            return;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            if (strstr (r->str, "NOGROUP"))
                self->group_ready = false;
            else
                oim_error ("event=xreadgroup_failed error=\"%s\"", r->str);
            freeReplyObject (r);
            return;
        }
        size_t got = 0;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element [0]->elements == 2) {
            redisReply *entries = r->element [0]->element [1];
            got = entries->elements;
            size_t ingested = 0;
            s_ingest_entries (self, entries, &ingested);
            events += ingested;
            if (self->reread_pending && ingested == 0)
                got = 0;            //  no progress (Redis failing): next tick
        }
        freeReplyObject (r);
        if (got == 0 || (got < EVENT_ENTRIES && !self->reread_pending))
            break;
    }
    int64_t now = oim_clock_mono_ms ();
    if (now >= self->next_autoclaim_ms) {
        self->next_autoclaim_ms = now + AUTOCLAIM_EVERY_MS;
        for (int round = 0; round < 16; round++) {
            redisReply *r = oim_redis_command (redis, "XAUTOCLAIM %s %s %s %lld 0-0 COUNT %d",
                                               OIM_STREAM_EVENTS, GROUP, self->consumer,
                                               (long long) self->claim_idle_ms, EVENT_ENTRIES);
            bool more = false;
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2
            &&  r->element [1]->type == REDIS_REPLY_ARRAY && r->element [1]->elements > 0) {
                oim_info ("event=events_taken_over count=%zu", r->element [1]->elements);
                size_t ingested = 0;
                size_t done = s_ingest_entries (self, r->element [1], &ingested);
                more = r->element [1]->elements == EVENT_ENTRIES && done == EVENT_ENTRIES;
            }
            if (r)
                freeReplyObject (r);
            if (!more)
                break;
        }
        s_forget_consumers (self);
    }
    s_trim_events (self);
}

//  ---------------------------------------------------------------------------------------
//  E-mail

static void
s_mailer (zsock_t *pipe, void *arg)
{
    mailer_args_t *args = arg;
    notify_email_smtp_t smtp = {
        .url = args->smtp_url, .username = *args->username? args->username: NULL,
        .password = args->password, .connect_timeout_msec = 5000, .timeout_msec = 20000
    };
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        char *command = zmsg_popstr (msg);
        if (!command || streq (command, "$TERM")) {
            free (command);
            zmsg_destroy (&msg);
            break;
        }
        char *job = zmsg_popstr (msg), *to = zmsg_popstr (msg), *text = zmsg_popstr (msg);
        char error [256] = "";
        int rc = job && to && text
               ? notify_email_send (&smtp, args->from_addr, to, text, error, sizeof error): -1;
        zstr_sendx (pipe, job? job: "", rc == 0? "ok": "error", error, NULL);
        free (command);
        free (job);
        free (to);
        free (text);
        zmsg_destroy (&msg);
    }
}

//  Reads an org's e-mail address and name. Returns 0, or -1 (no such org, no e-mail).
static int
s_org_contact (oim_redis_t *redis, const char *org, char *email, size_t email_size,
               char *name, size_t name_size)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG, org);
    redisReply *r = oim_redis_command (redis, "GET %s", key);
    if (!r)
        return -1;
    Oim__V1__Organization *o = r->type == REDIS_REPLY_STRING
        ? oim__v1__organization__unpack (NULL, r->len, (const uint8_t *) r->str): NULL;
    freeReplyObject (r);
    int rc = -1;
    if (o && o->email && *o->email && !o->deleted) {
        snprintf (email, email_size, "%s", o->email);
        snprintf (name, name_size, "%s", o->name);
        rc = 0;
    }
    if (o)
        oim__v1__organization__free_unpacked (o, NULL);
    return rc;
}

//  The notification id's JSON text, or NULL.
static char *
s_notification_text (oim_redis_t *redis, const char *id, char *org, size_t org_size)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_NTF, id);
    redisReply *r = oim_redis_command (redis, "GET %s", key);
    if (!r)
        return NULL;
    Oim__V1__Notification *n = r->type == REDIS_REPLY_STRING
        ? oim__v1__notification__unpack (NULL, r->len, (const uint8_t *) r->str): NULL;
    freeReplyObject (r);
    if (!n)
        return NULL;
    if (org)
        snprintf (org, org_size, "%s", n->org_id);
    json_t *json = notify_store_notification_json (n, false, false);
    char *text = json_dumps (json, JSON_COMPACT);
    json_decref (json);
    oim__v1__notification__free_unpacked (n, NULL);
    return text;
}

//  Removes a finished (sent or given up) mail job.
static void
s_mail_done (notify_state_t *self, const char *job)
{
    oim_redis_t *redis = oim_service_redis (self->service);
    char list [OIM_KEY_SIZE] = "";
    if (strncmp (job, "d:", 2) == 0)
        snprintf (list, sizeof list, OIM_KEY_MAIL_DIGEST, job + 2);
    if (oim_redis_append (redis, "MULTI") || oim_redis_append (redis, "ZREM %s %s", OIM_KEY_MAIL_DUE, job)
    ||  oim_redis_append (redis, "HDEL %s %s", OIM_KEY_MAIL_TRIES, job)
    ||  oim_redis_append (redis, "DEL %s", *list? list: "oim:-")
    ||  oim_redis_append (redis, "EXEC"))
        return;
    for (int i = 0; i < 5; i++) {
        redisReply *r = oim_redis_reply (redis);
        if (!r)
            return;
        freeReplyObject (r);
    }
}

//  A failed send: try again later with a growing delay, give up after MAIL_MAX_TRIES.
static void
s_mail_failed (notify_state_t *self, const char *job, const char *error)
{
    oim_metric_add (self->m_mail_failed, 1);
    oim_redis_t *redis = oim_service_redis (self->service);
    redisReply *r = oim_redis_command (redis, "HINCRBY %s %s 1", OIM_KEY_MAIL_TRIES, job);
    long long tries = r && r->type == REDIS_REPLY_INTEGER? r->integer: 1;
    if (r)
        freeReplyObject (r);
    if (tries >= MAIL_MAX_TRIES) {
        oim_error ("event=mail_given_up job=%s tries=%lld error=\"%s\"", job, tries, error);
        s_mail_done (self, job);
        return;
    }
    int64_t delay = 5000LL << (tries < 10? tries: 10);
    oim_warn ("event=mail_failed job=%s tries=%lld retry_ms=%lld error=\"%s\"", job, tries,
              (long long) delay, error);
    r = oim_redis_command (redis, "ZADD %s XX %lld %s", OIM_KEY_MAIL_DUE,
                           (long long) (oim_clock_wall_ms () + delay), job);
    if (r)
        freeReplyObject (r);
}

static int
s_on_mailer (zloop_t *loop, zsock_t *socket, void *arg)
{
    (void) loop;
    notify_state_t *self = arg;
    char *job = NULL, *result = NULL, *error = NULL;
    if (zstr_recvx (socket, &job, &result, &error, NULL) == 3) {
        if (streq (result, "ok")) {
            oim_metric_add (self->m_mail_sent, 1);
            oim_info ("event=mail_sent job=%s", job);
            s_mail_done (self, job);
        }
        else
            s_mail_failed (self, job, error);
    }
    self->mail_busy = false;
    zstr_free (&job);
    zstr_free (&result);
    zstr_free (&error);
    return 0;
}

//  Renders mail job (leased) into *text for *to. Returns 0, 1 = nothing to send (drop the
//  job), -1 = Redis failed (the lease will bring it back).
static int
s_render_job (notify_state_t *self, const char *job, char **text, char *to, size_t to_size)
{
    oim_redis_t *redis = oim_service_redis (self->service);
    char org [OIM_KEY_SIZE] = "", name [512];
    *text = NULL;
    if (strncmp (job, "i:", 2) == 0) {
        char *json = s_notification_text (redis, job + 2, org, sizeof org);
        if (!json)
            return oim_redis_connected (redis)? 1: -1;
        if (s_org_contact (redis, org, to, to_size, name, sizeof name) == 0)
            *text = notify_email_instant (self->smtp_from, to, json, self->console_url, 0);
        free (json);
        if (!*text)
            oim_warn ("event=mail_skipped job=%s org=%s reason=no_email_or_render", job, org);
        return *text? 0: oim_redis_connected (redis)? 1: -1;
    }
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_MAIL_DIGEST, job + 2);
    redisReply *ids = oim_redis_command (redis, "LRANGE %s 0 %d", key, NOTIFY_EMAIL_DIGEST_MAX * 5);
    if (!ids)
        return -1;
    int rc = 1;
    if (ids->type == REDIS_REPLY_ARRAY && ids->elements > 1
    &&  s_org_contact (redis, ids->element [0]->str, to, to_size, name, sizeof name) == 0) {
        char day [OIM_RFC3339_SIZE];
        oim_clock_rfc3339 (oim_clock_wall_ms (), day);
        day [10] = 0;
        notify_email_digest_t *digest = notify_email_digest_new (name, day);
        for (size_t i = 1; digest && i < ids->elements; i++) {
            char *json = s_notification_text (redis, ids->element [i]->str, NULL, 0);
            if (json)
                notify_email_digest_add (digest, json);
            free (json);
        }
        if (digest && notify_email_digest_size (digest) > 0)
            *text = notify_email_digest_render (digest, self->smtp_from, to, self->console_url, 0);
        notify_email_digest_destroy (&digest);
        rc = *text? 0: 1;
    }
    freeReplyObject (ids);
    return rc;
}

static void
s_dispatch_mail (notify_state_t *self)
{
    if (!self->mailer || self->mail_busy)
        return;
    oim_redis_t *redis = oim_service_redis (self->service);
    redisReply *jobs = notify_store_claim (self->store, redis, OIM_KEY_MAIL_DUE,
                                           oim_clock_wall_ms (), MAIL_LEASE_MS, 1);
    if (jobs && jobs->elements == 1) {
        const char *job = jobs->element [0]->str;
        char to [320] = "", *text = NULL;
        int rc = s_render_job (self, job, &text, to, sizeof to);
        if (rc == 0) {
            zstr_sendx (self->mailer, "SEND", job, to, text, NULL);
            self->mail_busy = true;
        }
        else
        if (rc == 1)
            s_mail_done (self, job);
        free (text);
    }
    if (jobs)
        freeReplyObject (jobs);
}

//  Once per digest period (one replica wins the lock): every org with waiting entries gets
//  one digest mail job.
static void
s_cut_digests (notify_state_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (now < self->next_digest_ms)
        return;
    self->next_digest_ms = now + (self->digest_interval_ms < 1000? self->digest_interval_ms: 1000);
    oim_redis_t *redis = oim_service_redis (self->service);
    redisReply *lock = oim_redis_command (redis, "SET %s %s PX %lld NX", OIM_KEY_DIGEST_LOCK,
                                          self->consumer, (long long) self->digest_interval_ms);
    bool won = lock && lock->type == REDIS_REPLY_STATUS;
    if (lock)
        freeReplyObject (lock);
    if (!won)
        return;
    redisReply *orgs = oim_redis_command (redis, "SMEMBERS %s", OIM_KEY_DIGEST_ORGS);
    int64_t wall = oim_clock_wall_ms ();
    for (size_t i = 0; orgs && orgs->type == REDIS_REPLY_ARRAY && i < orgs->elements; i++) {
        char suffix [OIM_KEY_SIZE];
        snprintf (suffix, sizeof suffix, "%s:%lld", orgs->element [i]->str, (long long) wall);
        int n = notify_store_cut_digest (self->store, redis, orgs->element [i]->str, suffix, wall);
        if (n > 0)
            oim_info ("event=digest_cut org=%s entries=%d", orgs->element [i]->str, n);
    }
    if (orgs)
        freeReplyObject (orgs);
}

//  ---------------------------------------------------------------------------------------
//  Hooks

static void
s_flight_free (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_state_destroy (notify_state_t **self_p)
{
    notify_state_t *self = *self_p;
    if (!self)
        return;
    notify_webhook_engine_destroy (&self->engine);
    zhashx_destroy (&self->in_flight);
    free (self->records);
    if (self->epoll_fd >= 0)
        close (self->epoll_fd);
    if (self->timer_fd >= 0)
        close (self->timer_fd);
    zactor_destroy (&self->mailer);
    zsock_destroy (&self->feed);
    notify_retry_destroy (&self->retry);
    notify_ssrf_destroy (&self->ssrf);
    notify_store_destroy (&self->store);
    free (self->mailer_args.smtp_url);
    free (self->mailer_args.username);
    free (self->mailer_args.password);
    free (self->mailer_args.from_addr);
    free (self);
    *self_p = NULL;
}

static int
s_start (oim_service_t *service)
{
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init () < 0) {
        oim_error ("event=init_failed what=curl_or_sodium");
        return -1;
    }
    oim_config_t *config = oim_service_config (service);
    notify_state_t *self = calloc (1, sizeof *self);
    self->service = service;
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    self->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (self->epoll_fd < 0 || self->timer_fd < 0) {
        oim_error ("event=start_failed what=epoll error=\"%s\"", strerror (errno));
        s_state_destroy (&self);
        oim_service_set_state (service, NULL);
        return -1;
    }
    struct epoll_event tev = { .events = EPOLLIN, .data.fd = self->timer_fd };
    epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, self->timer_fd, &tev);
    zmq_pollitem_t item = { NULL, self->epoll_fd, ZMQ_POLLIN, 0 };
    zloop_poller (oim_service_loop (service), &item, s_on_engine_events, self);
    oim_service_set_state (service, self);
    snprintf (self->consumer, sizeof self->consumer, "%s", oim_service_instance (service));
    self->store = notify_store_new ();
    self->ssrf = notify_ssrf_new (oim_config_bool (config, "webhook-allow-private")
                                  ? NOTIFY_SSRF_ALLOW_PRIVATE: 0);
    char error [160] = "";
    self->retry = notify_retry_new (oim_config_get (config, "webhook-retry-schedule"), error, sizeof error);
    if (!self->retry) {
        oim_error ("event=bad_config option=webhook-retry-schedule error=\"%s\"", error);
        s_state_destroy (&self);
        oim_service_set_state (service, NULL);
        return -1;
    }
    notify_webhook_config_t wc;
    notify_webhook_config_defaults (&wc);
    wc.timeout_msec = (long) oim_config_int (config, "webhook-timeout-ms", 15000);
    wc.connect_timeout_msec = (long) oim_config_int (config, "webhook-connect-timeout-ms", 5000);
    wc.breaker_failures = (uint32_t) oim_config_int (config, "webhook-breaker-failures", 5);
    wc.breaker_cooldown_msec = oim_config_int (config, "webhook-breaker-cooldown-ms", 30000);
    wc.max_in_flight = (size_t) oim_config_int (config, "webhook-max-in-flight", 1024);
    wc.ssrf = self->ssrf;
    wc.user_agent = "oim-notify/" OIM_VERSION;
    notify_webhook_loop_t loop = { .watch = s_watch, .timer = s_timer, .loop = self };
    self->engine = notify_webhook_engine_new (&wc, &loop, s_on_result, self);
    self->in_flight = zhashx_new ();
    self->records = calloc (RECORD_BATCH, sizeof *self->records);
    if (!self->store || !self->ssrf || !self->engine || !self->in_flight || !self->records) {
        oim_error ("event=start_failed what=engine");
        s_state_destroy (&self);
        oim_service_set_state (service, NULL);
        return -1;
    }
    zhashx_set_destructor (self->in_flight, s_flight_free);
    self->lease_ms = oim_config_int (config, "webhook-lease-ms", 60000);
    if (self->lease_ms < wc.timeout_msec + 5000)
        self->lease_ms = wc.timeout_msec + 5000;
    self->claim_idle_ms = oim_config_int (config, "event-claim-idle-ms", 30000);
    self->retain_ms = oim_config_int (config, "event-retain-s", 86400) * 1000;
    self->digest_interval_ms = oim_config_int (config, "digest-interval-s", 86400) * 1000;
    if (self->digest_interval_ms < 1000)
        self->digest_interval_ms = 1000;
    self->smtp_from = oim_config_get (config, "smtp-from");
    self->console_url = oim_config_get (config, "console-url");

    s_feed_connect (self, oim_config_get (config, "feed-endpoint"));
    const char *smtp = oim_config_get (config, "smtp-url");
    if (*smtp) {
        const char *from = self->smtp_from, *lt = strchr (from, '<'), *gt = lt? strchr (lt, '>'): NULL;
        self->mailer_args.smtp_url = strdup (smtp);
        self->mailer_args.username = strdup (oim_config_get (config, "smtp-username"));
        self->mailer_args.password = strdup (oim_config_get (config, "smtp-password"));
        self->mailer_args.from_addr = lt && gt? strndup (lt + 1, (size_t) (gt - lt - 1)): strdup (from);
        self->mailer = zactor_new (s_mailer, &self->mailer_args);
        zloop_reader (oim_service_loop (service), zactor_sock (self->mailer), s_on_mailer, self);
    }
    else
        oim_info ("event=email_off reason=no_smtp_url");

    oim_metrics_t *m = oim_service_metrics (service);
    self->m_events = oim_metrics_counter (m, "oim_notify_events_total", NULL, "events read from oim:events");
    self->m_invalid = oim_metrics_counter (m, "oim_notify_events_invalid_total", NULL, "malformed events dropped");
    self->m_stored = oim_metrics_counter (m, "oim_notify_notifications_total", NULL, "notifications stored");
    self->m_replays = oim_metrics_counter (m, "oim_notify_event_replays_total", NULL, "events seen again (no effect)");
    self->m_feed = oim_metrics_counter (m, "oim_notify_feed_published_total", NULL, "notifications published on the ZeroMQ feed");
    self->m_delivered = oim_metrics_counter (m, "oim_notify_webhook_attempts_total", "outcome=\"delivered\"", "webhook attempts");
    self->m_failed = oim_metrics_counter (m, "oim_notify_webhook_attempts_total", "outcome=\"failed\"", "webhook attempts");
    self->m_disabled = oim_metrics_counter (m, "oim_notify_webhook_attempts_total", "outcome=\"gone\"", "webhook attempts");
    self->m_dead = oim_metrics_counter (m, "oim_notify_dead_letters_total", NULL, "deliveries dead after the last retry");
    self->m_latency = oim_metrics_histogram (m, "oim_notify_webhook_seconds", NULL, "successful webhook attempt latency");
    self->m_mail_sent = oim_metrics_counter (m, "oim_notify_emails_total", "result=\"sent\"", "e-mails");
    self->m_mail_failed = oim_metrics_counter (m, "oim_notify_emails_total", "result=\"failed\"", "e-mails");
    self->m_in_flight = oim_metrics_gauge (m, "oim_notify_webhooks_pending", NULL, "webhook attempts queued or in flight");
    s_ensure_group (self);
    return 0;
}

static void
s_tick (oim_service_t *service)
{
    notify_state_t *self = oim_service_state (service);
    s_consume_events (self);
    s_dispatch_deliveries (self);
    s_cut_digests (self);
    s_dispatch_mail (self);
}

static void
s_stop (oim_service_t *service)
{
    notify_state_t *self = oim_service_state (service);
    if (!self)
        return;
    //  Deliveries in our engine go back to due-now, so another replica (or our restart)
    //  need not wait for their lease.
    s_flush_records (self);
    int64_t now = oim_clock_wall_ms ();
    for (flight_t *f = zhashx_first (self->in_flight); f; f = zhashx_next (self->in_flight))
        s_reschedule (self, f->dlv, now);
    if (self->mailer)
        zloop_reader_end (oim_service_loop (service), zactor_sock (self->mailer));
    zmq_pollitem_t item = { NULL, self->epoll_fd, 0, 0 };
    zloop_poller_end (oim_service_loop (service), &item);
    s_state_destroy (&self);
    oim_service_set_state (service, NULL);
    curl_global_cleanup ();
}

static const oim_method_t s_methods [] = {
    { "notification.list", notify_api_notification_list, NULL },
    { "notification.read", notify_api_notification_read, NULL },
    { "webhook.put", notify_api_webhook_put, NULL },
    { "webhook.get", notify_api_webhook_get, NULL },
    { "preferences.put", notify_api_preferences_put, NULL },
    { "preferences.get", notify_api_preferences_get, NULL },
    { "delivery.list", notify_api_delivery_list, NULL },
    { "delivery.retry", notify_api_delivery_retry, NULL },
    { NULL, NULL, NULL }
};

const oim_service_def_t notify_service = {
    .name = "notify",
    .summary = "signed webhooks, inbox, e-mail and a ZeroMQ feed of notifications",
    .options = s_options,
    .methods = s_methods,
    .start = s_start,
    .tick = s_tick,
    .stop = s_stop,
    .tick_msec = 5,
};
