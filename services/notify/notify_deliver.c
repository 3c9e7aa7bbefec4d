/*  notify_deliver — see notify_deliver.h. */
#include "notify_deliver.h"
#include "notify_retry.h"
#include "notify_webhook.h"
#include "oim_clock.h"
#include "oim_id.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "registry.pb-c.h"

#define RECORD_BATCH 512            //  attempt outcomes written per pipeline
#define CLAIM_BATCH 512             //  deliveries leased per tick
#define ENGINE_MAX_PENDING 20000    //  stop leasing while the engine holds this many

//  One delivery handed to the engine; owned by the in-flight table.
typedef struct {
    char dlv [OIM_ID_SIZE];
    char org [128];
    char url [2100];
    uint32_t failed;                //  failures in this round before this attempt
} flight_t;

struct _notify_deliver_t {
    oim_service_t *service;
    notify_store_t *store;          //  borrowed
    notify_retry_t *retry;
    notify_webhook_engine_t *engine;
    zhashx_t *in_flight;            //  dlv id -> flight_t
    notify_record_t *records;       //  attempt outcomes not yet written (RECORD_BATCH)
    size_t n_records;
    int engine_fd;                  //  polled by the loop; -1 = not yet
    int timer_id;                   //  the engine's one-shot zloop timer, -1 = none
    int64_t timer_due_ms;           //  when it fires (monotonic)
    int64_t lease_ms;
    oim_metric_t *m_delivered, *m_failed, *m_dead, *m_disabled, *m_latency, *m_in_flight;
};

static void s_flush_records (notify_deliver_t *self);

//  ---------------------------------------------------------------------------------------
//  The engine on the loop, in its own mode: its sockets sit in its epoll set, whose one fd
//  is a zloop poller (zloop rebuilds its poll set on every poller change, which with
//  hundreds of webhook connections cost more than the deliveries), and its timer is a
//  one-shot zloop timer, only ever moved earlier: curl moves its timer several times per
//  transfer, and the engine's perform, called early, just finds nothing due.

static int s_on_engine_due (zloop_t *loop, int timer_id, void *arg);

//  Arms the loop's timer for the engine's next deadline unless one fires no later.
static void
s_engine_rearm (notify_deliver_t *self)
{
    long msec = notify_webhook_engine_timeout_msec (self->engine);
    if (msec < 0)
        return;                     //  an armed timer firing early does no harm
    int64_t due = oim_clock_mono_ms () + msec;
    zloop_t *loop = oim_service_loop (self->service);
    if (self->timer_id >= 0) {
        if (self->timer_due_ms <= due)
            return;
        zloop_timer_end (loop, self->timer_id);
    }
    self->timer_id = zloop_timer (loop, (size_t) msec, 1, s_on_engine_due, self);
    self->timer_due_ms = due;
}

//  Progresses the engine (results are recorded from inside), writes the outcomes, re-arms.
static void
s_engine_turn (notify_deliver_t *self)
{
    notify_webhook_engine_perform (self->engine);
    s_flush_records (self);
    s_engine_rearm (self);
}

static int
s_on_engine_due (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop; (void) timer_id;
    notify_deliver_t *self = arg;
    self->timer_id = -1;
    s_engine_turn (self);
    return 0;
}

static int
s_on_engine_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop; (void) item;
    s_engine_turn (arg);
    return 0;
}

//  ---------------------------------------------------------------------------------------
//  Webhook results

//  Writes the queued attempt outcomes (one pipeline). Those Redis did not take stay leased:
//  retried after the lease, which the receiver sees as a duplicate with the same webhook-id.
static void
s_flush_records (notify_deliver_t *self)
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
s_record (notify_deliver_t *self, flight_t *f, const char *outcome, const notify_webhook_result_t *r,
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
s_reschedule (notify_deliver_t *self, const char *dlv, int64_t at_ms)
{
    redisReply *r = oim_redis_command (oim_service_redis (self->service), "ZADD %s XX %lld %s",
                                       OIM_KEY_DLV_DUE, (long long) at_ms, dlv);
    if (r)
        freeReplyObject (r);
}

static void
s_on_result (const notify_webhook_result_t *r, void *arg)
{
    notify_deliver_t *self = arg;
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

//  ---------------------------------------------------------------------------------------
//  Leasing

//  True when an HMGET reply has at least the first `strings` of its `fields` fields as strings.
static bool
s_fields (const redisReply *r, size_t fields, size_t strings)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != fields)
        return false;
    for (size_t i = 0; i < strings; i++)
        if (r->element [i]->type != REDIS_REPLY_STRING)
            return false;
    return true;
}

//  Reads the n leased deliveries (dlv: notification_id org_id status failed) in one
//  pipeline, then their notifications (ntf) and endpoints (hook: url secret disabled) in a
//  second. Returns false when Redis failed (the leases bring them back).
static bool
s_read_leased (oim_redis_t *redis, const redisReply *ids, redisReply **dlv, redisReply **ntf,
               redisReply **hook)
{
    size_t n = ids->elements;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        char key [OIM_KEY_SIZE];
        snprintf (key, sizeof key, OIM_KEY_DLV, ids->element [i]->str);
        ok = oim_redis_append (redis, "HMGET %s notification_id org_id status failed", key) == 0;
    }
    for (size_t i = 0; i < n && ok; i++)
        ok = (dlv [i] = oim_redis_reply (redis)) != NULL;
    for (size_t i = 0; i < n && ok; i++) {
        bool live = s_fields (dlv [i], 4, 2);
        char key [OIM_KEY_SIZE], hkey [OIM_KEY_SIZE];
        snprintf (key, sizeof key, OIM_KEY_NTF, live? dlv [i]->element [0]->str: "-");
        snprintf (hkey, sizeof hkey, OIM_KEY_WEBHOOK, live? dlv [i]->element [1]->str: "-");
        ok = oim_redis_append (redis, "GET %s", key) == 0
          && oim_redis_append (redis, "HMGET %s url secret disabled", hkey) == 0;
    }
    for (size_t i = 0; i < n && ok; i++)
        ok = (ntf [i] = oim_redis_reply (redis)) != NULL && (hook [i] = oim_redis_reply (redis)) != NULL;
    return ok;
}

//  Hands flight f (owned, given to the in-flight table while the engine has it) with its
//  notification to the engine, or decides without an attempt (busy, circuit open: later;
//  invalid: dead).
static void
s_submit (notify_deliver_t *self, flight_t *f, const Oim__V1__Notification *note,
          const char *secret, int64_t now)
{
    json_t *json = notify_store_notification_json (note, false, false);
    char *body = json_dumps (json, JSON_COMPACT);
    json_decref (json);
    notify_webhook_request_t request = {
        .endpoint_id = f->org, .url = f->url, .msg_id = note->id,
        .secret = secret, .body = body, .body_size = body? strlen (body): 0,
        .user = f
    };
    char id [OIM_ID_SIZE];
    snprintf (id, sizeof id, "%s", f->dlv);
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
}

//  One leased delivery id, read as d (its hash), n (its notification) and h (its endpoint):
//  a delivery no longer pending leaves the due set, a disabled endpoint or a notification
//  gone end it, else it goes to the engine.
static void
s_dispatch_one (notify_deliver_t *self, const char *id, const redisReply *d,
                const redisReply *n, const redisReply *h, int64_t now)
{
    if (zhashx_lookup (self->in_flight, id))
        return;                     //  still in our engine (re-leased above): nothing to do
    if (!s_fields (d, 4, 3) || strcmp (d->element [2]->str, "pending")) {
        redisReply *r = oim_redis_command (oim_service_redis (self->service), "ZREM %s %s",
                                           OIM_KEY_DLV_DUE, id);
        if (r)
            freeReplyObject (r);
        return;
    }
    flight_t *f = calloc (1, sizeof *f);
    snprintf (f->dlv, sizeof f->dlv, "%s", id);
    snprintf (f->org, sizeof f->org, "%s", d->element [1]->str);
    f->failed = d->element [3]->type == REDIS_REPLY_STRING
              ? (uint32_t) strtoul (d->element [3]->str, NULL, 10): 0;
    bool endpoint = s_fields (h, 3, 2);
    if (endpoint)
        snprintf (f->url, sizeof f->url, "%s", h->element [0]->str);
    if (!endpoint || (h->element [2]->type == REDIS_REPLY_STRING && strcmp (h->element [2]->str, "1") == 0)) {
        s_record (self, f, "disabled", NULL, 0);
        free (f);
        return;
    }
    Oim__V1__Notification *note = n->type == REDIS_REPLY_STRING
        ? oim__v1__notification__unpack (NULL, n->len, (const uint8_t *) n->str): NULL;
    if (!note) {
        oim_error ("event=delivery_without_notification dlv=%s", id);
        s_record (self, f, "dead", NULL, 0);
        free (f);
        return;
    }
    s_submit (self, f, note, h->element [1]->str, now);
    oim__v1__notification__free_unpacked (note, NULL);
}

void
notify_deliver_tick (notify_deliver_t *self)
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
    redisReply **dlv = calloc (n, sizeof *dlv), **ntf = calloc (n, sizeof *ntf),
               **hook = calloc (n, sizeof *hook);
    if (s_read_leased (redis, ids, dlv, ntf, hook))
        for (size_t i = 0; i < n; i++)
            s_dispatch_one (self, ids->element [i]->str, dlv [i], ntf [i], hook [i], now);
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
    s_engine_rearm (self);
    oim_metric_set (self->m_in_flight, (int64_t) notify_webhook_engine_pending (self->engine));
}

//  ---------------------------------------------------------------------------------------
//  Lifecycle

static void
s_flight_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  The engine's configuration from the options (webhook-*).
static void
s_engine_config (oim_config_t *config, const notify_ssrf_t *ssrf, notify_webhook_config_t *wc)
{
    notify_webhook_config_defaults (wc);
    wc->timeout_msec = (long) oim_config_int (config, "webhook-timeout-ms", 15000);
    wc->connect_timeout_msec = (long) oim_config_int (config, "webhook-connect-timeout-ms", 5000);
    wc->breaker_failures = (uint32_t) oim_config_int (config, "webhook-breaker-failures", 5);
    wc->breaker_cooldown_msec = oim_config_int (config, "webhook-breaker-cooldown-ms", 30000);
    wc->max_in_flight = (size_t) oim_config_int (config, "webhook-max-in-flight", 1024);
    wc->ssrf = ssrf;
    wc->user_agent = "oim-notify/" OIM_VERSION;
}

static void
s_metrics (notify_deliver_t *self, oim_metrics_t *m)
{
    self->m_delivered = oim_metrics_counter (m, "oim_notify_webhook_attempts_total", "outcome=\"delivered\"", "webhook attempts");
    self->m_failed = oim_metrics_counter (m, "oim_notify_webhook_attempts_total", "outcome=\"failed\"", "webhook attempts");
    self->m_disabled = oim_metrics_counter (m, "oim_notify_webhook_attempts_total", "outcome=\"gone\"", "webhook attempts");
    self->m_dead = oim_metrics_counter (m, "oim_notify_dead_letters_total", NULL, "deliveries dead after the last retry");
    self->m_latency = oim_metrics_histogram (m, "oim_notify_webhook_seconds", NULL, "successful webhook attempt latency");
    self->m_in_flight = oim_metrics_gauge (m, "oim_notify_webhooks_pending", NULL, "webhook attempts queued or in flight");
}

notify_deliver_t *
notify_deliver_new (oim_service_t *service, notify_store_t *store, const notify_ssrf_t *ssrf)
{
    oim_config_t *config = oim_service_config (service);
    notify_deliver_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->service = service;
    self->store = store;
    self->engine_fd = self->timer_id = -1;
    char error [160] = "";
    self->retry = notify_retry_new (oim_config_get (config, "webhook-retry-schedule"), error, sizeof error);
    if (!self->retry) {
        oim_error ("event=bad_config option=webhook-retry-schedule error=\"%s\"", error);
        notify_deliver_destroy (&self);
        return NULL;
    }
    notify_webhook_config_t wc;
    s_engine_config (config, ssrf, &wc);
    self->engine = notify_webhook_engine_new (&wc, NULL, s_on_result, self);
    self->in_flight = zhashx_new ();
    self->records = calloc (RECORD_BATCH, sizeof *self->records);
    if (!self->engine || !self->in_flight || !self->records) {
        oim_error ("event=start_failed what=engine");
        notify_deliver_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->in_flight, s_flight_free);
    self->engine_fd = notify_webhook_engine_fd (self->engine);
    zmq_pollitem_t item = { NULL, self->engine_fd, ZMQ_POLLIN, 0 };
    zloop_poller (oim_service_loop (service), &item, s_on_engine_ready, self);
    self->lease_ms = oim_config_int (config, "webhook-lease-ms", 60000);
    if (self->lease_ms < wc.timeout_msec + 5000)
        self->lease_ms = wc.timeout_msec + 5000;
    s_metrics (self, oim_service_metrics (service));
    return self;
}

void
notify_deliver_destroy (notify_deliver_t **self_p)
{
    notify_deliver_t *self = self_p? *self_p: NULL;
    if (!self)
        return;
    if (self->records)
        s_flush_records (self);
    int64_t now = oim_clock_wall_ms ();
    for (flight_t *f = self->in_flight? zhashx_first (self->in_flight): NULL; f;
         f = zhashx_next (self->in_flight))
        s_reschedule (self, f->dlv, now);
    zloop_t *loop = oim_service_loop (self->service);
    if (self->timer_id >= 0)
        zloop_timer_end (loop, self->timer_id);
    if (self->engine_fd >= 0) {
        zmq_pollitem_t item = { NULL, self->engine_fd, 0, 0 };
        zloop_poller_end (loop, &item);
    }
    notify_webhook_engine_destroy (&self->engine);
    zhashx_destroy (&self->in_flight);
    free (self->records);
    notify_retry_destroy (&self->retry);
    free (self);
    *self_p = NULL;
}
