/*  gateway_broker — see gateway_broker.h. One zloop runs the three sockets and a tick that
    expires workers, heartbeats idle ones and times out requests (serverCron style).
*/
#include "gateway_broker.h"
#include "gateway_actor.h"
#include <sodium.h>
#include "oim_clock.h"
#include "oim_log.h"
#include "oim_wire.h"
#include "gateway_ingest.h"

#define LIVENESS 3
#define TICK_MSEC 50

typedef struct _service_t service_t;

typedef struct {
    uint8_t identity [OIM_WIRE_MAX_ROUTING_BYTES];
    size_t identity_size;
    char *key;                      //  hex identity: the workers hash key
    service_t *service;
    char *instance;
    int64_t expiry_ms;              //  monotonic: dead after this unless heard from
    int64_t last_sent_ms;
    uint32_t in_flight;
} worker_t;

struct _service_t {
    char *name;
    zlistx_t *workers;              //  worker_t *, not owned
};

typedef enum { CLIENT_WIRE, CLIENT_INGEST } client_kind_t;

typedef struct {
    uint64_t id;                    //  the broker's correlation id towards the worker
    client_kind_t kind;
    uint8_t client [OIM_WIRE_MAX_ROUTING_BYTES];
    size_t client_size;
    uint64_t client_correlation;
    char *request_id;
    worker_t *worker;
    int64_t deadline_ms;
    int64_t started_us;
    gateway_ingest_req_t *ingest;   //  ingest: the batch (its in-flight slot), owned
    char *service, *method;         //  an idempotent request, kept to send it once more when
    uint8_t *body;                  //  its worker is lost (NULL service: not kept)
    size_t body_size;
} pending_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *backend;
    zsock_t *frontend;
    gateway_ingest_t *ingest;       //  the ingest endpoint (gateway_ingest.h)
    zloop_t *loop;
    zhashx_t *workers;              //  key -> worker_t, owned
    zhashx_t *services;             //  name -> service_t, owned
    zhashx_t *pending;              //  id (as string) -> pending_t, owned
    uint64_t next_id;
    int heartbeat_msec;
    int default_timeout_msec;
    oim_metric_t *m_garbage;
    oim_metric_t *m_503;
    oim_metric_t *m_504;
    oim_metric_t *m_workers;
} broker_t;

static void
s_worker_free (void **item)
{
    worker_t *worker = *item;
    free (worker->key);
    free (worker->instance);
    free (worker);
    *item = NULL;
}

static void
s_service_free (void **item)
{
    service_t *service = *item;
    zlistx_destroy (&service->workers);
    free (service->name);
    free (service);
    *item = NULL;
}

static void
s_pending_free (void **item)
{
    pending_t *p = *item;
    free (p->request_id);
    gateway_ingest_req_destroy (&p->ingest);
    free (p->service);
    free (p->method);
    free (p->body);
    free (p);
    *item = NULL;
}

static service_t *
s_service (broker_t *self, const char *name)
{
    service_t *service = zhashx_lookup (self->services, name);
    if (!service) {
        service = zmalloc (sizeof *service);
        service->name = strdup (name);
        service->workers = zlistx_new ();
        zhashx_insert (self->services, name, service);
    }
    return service;
}

static void
s_pending_delete (broker_t *self, pending_t *p)
{
    char key [24];
    snprintf (key, sizeof key, "%" PRIu64, p->id);
    zhashx_delete (self->pending, key);
}

//  Receives one message from a ROUTER socket. Returns 0 with msg filled, or -1 (garbage,
//  counted and logged, or nothing to read).
static int
s_recv (broker_t *self, zsock_t *socket, const char *source, oim_wire_msg_t *msg)
{
    const char *reason;
    int rc = oim_wire_recv (zsock_resolve (socket), true, msg, &reason);
    if (rc == -1) {
        oim_metric_add (self->m_garbage, 1);
        oim_warn ("event=garbage source=%s reason=\"%s\"", source, reason);
    }
    return rc? -1: 0;
}

//  ---------------------------------------------------------------------------------------
//  Answers to clients

static void
s_reply_wire (broker_t *self, pending_t *p, uint32_t status, const void *body, size_t size)
{
    Oim__V1__Header header;
    oim_wire_header_init (&header, OIM__V1__COMMAND__COMMAND_REPLY);
    header.correlation_id = p->client_correlation;
    header.status = status;
    header.request_id = p->request_id;
    oim_wire_send (zsock_resolve (self->frontend), p->client, p->client_size, &header, body, size);
}

static void
s_reply (broker_t *self, pending_t *p, uint32_t status, const void *body, size_t size)
{
    if (p->kind == CLIENT_WIRE)
        s_reply_wire (self, p, status, body, size);
    else
        gateway_ingest_answer (self->ingest, &p->ingest, status, body, size);
    if (status == 503)
        oim_metric_add (self->m_503, 1);
    if (status == 504)
        oim_metric_add (self->m_504, 1);
}

//  Finishes a pending request with an answer of the broker's own.
static void
s_fail (broker_t *self, pending_t *p, uint32_t status)
{
    if (p->worker)
        p->worker->in_flight--;
    s_reply (self, p, status, NULL, 0);
    s_pending_delete (self, p);
}

//  ---------------------------------------------------------------------------------------
//  Workers

static void
s_worker_send (broker_t *self, worker_t *worker, Oim__V1__Command command)
{
    Oim__V1__Header header;
    oim_wire_header_init (&header, command);
    if (oim_wire_send (zsock_resolve (self->backend), worker->identity, worker->identity_size,
                       &header, NULL, 0) == 0)
        worker->last_sent_ms = oim_clock_mono_ms ();
}

static uint32_t s_forward (broker_t *self, pending_t *p, const char *service, const char *method,
                           const ProtobufCBinaryData *target, const void *body, size_t size);

//  Removes a worker. Its in-flight requests go once more to another worker when they are
//  idempotent (kept for that, see s_on_frontend), else get 503.
static void
s_worker_delete (broker_t *self, worker_t *worker, const char *why)
{
    oim_info ("event=worker_gone service=%s instance=%s reason=%s in_flight=%u",
              worker->service->name, worker->instance, why, worker->in_flight);
    void *handle = zlistx_find (worker->service->workers, worker);
    if (handle)
        zlistx_delete (worker->service->workers, handle);      //  not picked again below
    zlistx_t *lost = zlistx_new ();
    for (pending_t *p = zhashx_first (self->pending); p; p = zhashx_next (self->pending))
        if (p->worker == worker)
            zlistx_add_end (lost, p);
    for (pending_t *p = zlistx_first (lost); p; p = zlistx_next (lost)) {
        p->worker = NULL;
        uint32_t status = 503;
        if (p->service) {
            char *service = p->service;
            p->service = NULL;          //  once only
            status = s_forward (self, p, service, p->method, NULL, p->body, p->body_size);
            oim_info ("event=request_resent service=%s lost_worker=%s sent=%s", service,
                      worker->instance, status? "no": "yes");
            free (service);
        }
        if (status)
            s_fail (self, p, status);
    }
    zlistx_destroy (&lost);
    zhashx_delete (self->workers, worker->key);
    oim_metric_add (self->m_workers, -1);
}

static void
s_worker_ready (broker_t *self, const oim_wire_msg_t *msg, const char *key)
{
    worker_t *worker = zhashx_lookup (self->workers, key);
    if (worker)         //  READY again from a known worker: it restarted its side; start over
        s_worker_delete (self, worker, "ready_again");
    if (!*msg->header->service) {
        oim_warn ("event=ready_without_service");
        return;
    }
    worker = zmalloc (sizeof *worker);
    memcpy (worker->identity, msg->routing, msg->routing_size);
    worker->identity_size = msg->routing_size;
    worker->key = strdup (key);
    worker->service = s_service (self, msg->header->service);
    worker->instance = strdup (*msg->header->instance? msg->header->instance: key);
    worker->expiry_ms = oim_clock_mono_ms () + LIVENESS * self->heartbeat_msec;
    zhashx_insert (self->workers, key, worker);
    zlistx_add_end (worker->service->workers, worker);
    oim_metric_add (self->m_workers, 1);
    //  Answer at once so the worker knows its link is up without waiting a whole interval.
    s_worker_send (self, worker, OIM__V1__COMMAND__COMMAND_HEARTBEAT);
    oim_info ("event=worker_ready service=%s instance=%s", worker->service->name, worker->instance);
}

static void
s_worker_reply (broker_t *self, worker_t *worker, oim_wire_msg_t *msg)
{
    char key [24];
    snprintf (key, sizeof key, "%" PRIu64, msg->header->correlation_id);
    pending_t *p = zhashx_lookup (self->pending, key);
    if (!p || p->worker != worker)
        return;             //  late (already timed out) or not this worker's: drop
    worker->in_flight--;
    s_reply (self, p, msg->header->status, msg->body, msg->body_size);
    s_pending_delete (self, p);
}

static int
s_on_backend (zloop_t *loop, zsock_t *socket, void *arg)
{
    (void) loop;
    broker_t *self = arg;
    oim_wire_msg_t msg = { 0 };
    if (s_recv (self, socket, "backend", &msg))
        return 0;
    char key [2 * OIM_WIRE_MAX_ROUTING_BYTES + 1];
    sodium_bin2hex (key, sizeof key, msg.routing, msg.routing_size);
    worker_t *worker = zhashx_lookup (self->workers, key);
    Oim__V1__Command command = msg.header->command;
    if (command == OIM__V1__COMMAND__COMMAND_READY)
        s_worker_ready (self, &msg, key);
    else
    if (!worker) {
        //  Heartbeat or reply from a worker we do not know (we restarted): make it register.
        if (command != OIM__V1__COMMAND__COMMAND_DISCONNECT) {
            Oim__V1__Header header;
            oim_wire_header_init (&header, OIM__V1__COMMAND__COMMAND_DISCONNECT);
            oim_wire_send (zsock_resolve (socket), msg.routing, msg.routing_size, &header, NULL, 0);
        }
    }
    else {
        worker->expiry_ms = oim_clock_mono_ms () + LIVENESS * self->heartbeat_msec;
        if (command == OIM__V1__COMMAND__COMMAND_REPLY)
            s_worker_reply (self, worker, &msg);
        else
        if (command == OIM__V1__COMMAND__COMMAND_DISCONNECT)
            s_worker_delete (self, worker, "disconnect");
    }
    oim_wire_msg_clear (&msg);
    return 0;
}

//  ---------------------------------------------------------------------------------------
//  Requests

//  The live worker of a service with the fewest requests in flight, rotating among equals.
static worker_t *
s_pick (broker_t *self, const char *service_name)
{
    service_t *service = zhashx_lookup (self->services, service_name);
    if (!service || zlistx_size (service->workers) == 0)
        return NULL;
    worker_t *best = NULL;
    for (worker_t *w = zlistx_first (service->workers); w; w = zlistx_next (service->workers))
        if (!best || w->in_flight < best->in_flight)
            best = w;
    //  Rotate so that the next pick among equals starts elsewhere.
    zlistx_move_end (service->workers, zlistx_find (service->workers, best));
    (void) self;
    return best;
}

static worker_t *
s_target (broker_t *self, const ProtobufCBinaryData *target)
{
    char key [2 * OIM_WIRE_MAX_ROUTING_BYTES + 1];
    if (target->len > OIM_WIRE_MAX_ROUTING_BYTES)
        return NULL;
    sodium_bin2hex (key, sizeof key, target->data, target->len);
    return zhashx_lookup (self->workers, key);
}

//  Sends a pending request to a worker of the service (or the target); re-routes when the
//  chosen worker has gone. Returns 0, or the status to fail with.
static uint32_t
s_forward (broker_t *self, pending_t *p, const char *service, const char *method,
           const ProtobufCBinaryData *target, const void *body, size_t size)
{
    Oim__V1__Header header;
    oim_wire_header_init (&header, OIM__V1__COMMAND__COMMAND_REQUEST);
    header.method = (char *) method;
    header.correlation_id = p->id;
    header.request_id = p->request_id;
    header.peer_user_id = (char *) (p->ingest? gateway_ingest_req_user_id (p->ingest): "");
    for (int attempt = 0; attempt < 8; attempt++) {
        worker_t *worker = target && target->len? s_target (self, target): s_pick (self, service);
        if (!worker)
            return 503;
        if (oim_wire_send (zsock_resolve (self->backend), worker->identity, worker->identity_size,
                           &header, body, size) == 0) {
            worker->last_sent_ms = oim_clock_mono_ms ();
            worker->in_flight++;
            p->worker = worker;
            return 0;
        }
        s_worker_delete (self, worker, errno == EHOSTUNREACH? "unreachable": "send_failed");
    }
    return 503;
}

static pending_t *
s_pending_new (broker_t *self, client_kind_t kind, const uint8_t *client, size_t client_size,
               int timeout_msec, const char *request_id)
{
    pending_t *p = zmalloc (sizeof *p);
    p->id = ++self->next_id;
    p->kind = kind;
    memcpy (p->client, client, client_size);
    p->client_size = client_size;
    p->request_id = strdup (request_id? request_id: "");
    p->deadline_ms = oim_clock_mono_ms () + (timeout_msec > 0? timeout_msec: self->default_timeout_msec);
    p->started_us = oim_clock_mono_us ();
    char key [24];
    snprintf (key, sizeof key, "%" PRIu64, p->id);
    zhashx_insert (self->pending, key, p);
    return p;
}

//  "broker.workers": every live worker.
static void
s_answer_workers (broker_t *self, pending_t *p)
{
    size_t n = zhashx_size (self->workers), i = 0;
    Oim__V1__WorkerInfo *infos = calloc (n? n: 1, sizeof *infos);
    Oim__V1__WorkerInfo **pointers = calloc (n? n: 1, sizeof *pointers);
    int64_t now = oim_clock_mono_ms ();
    for (worker_t *w = zhashx_first (self->workers); w; w = zhashx_next (self->workers), i++) {
        oim__v1__worker_info__init (&infos [i]);
        infos [i].service = w->service->name;
        infos [i].instance = w->instance;
        infos [i].identity.data = w->identity;
        infos [i].identity.len = w->identity_size;
        infos [i].in_flight = w->in_flight;
        infos [i].idle_ms = now - (w->expiry_ms - LIVENESS * self->heartbeat_msec);
        pointers [i] = &infos [i];
    }
    Oim__V1__WorkerList list = OIM__V1__WORKER_LIST__INIT;
    list.n_workers = n;
    list.workers = pointers;
    size_t size;
    uint8_t *body = oim_wire_pack (&list.base, &size);
    s_reply (self, p, 200, body, size);
    free (body);
    free (pointers);
    free (infos);
    s_pending_delete (self, p);
}

static int
s_on_frontend (zloop_t *loop, zsock_t *socket, void *arg)
{
    (void) loop;
    broker_t *self = arg;
    oim_wire_msg_t msg = { 0 };
    if (s_recv (self, socket, "frontend", &msg))
        return 0;
    Oim__V1__Header *h = msg.header;
    pending_t *p = s_pending_new (self, CLIENT_WIRE, msg.routing, msg.routing_size,
                                  (int) h->timeout_ms, h->request_id);
    p->client_correlation = h->correlation_id;
    if (strcmp (h->service, "broker") == 0)
        s_answer_workers (self, p);
    else {
        if (h->idempotent && !h->target.len) {
            p->service = strdup (h->service);
            p->method = strdup (h->method);
            p->body = msg.body_size? malloc (msg.body_size): NULL;
            if (p->body)
                memcpy (p->body, msg.body, msg.body_size);
            p->body_size = p->body? msg.body_size: 0;
        }
        uint32_t status = s_forward (self, p, h->service, h->method, &h->target, msg.body, msg.body_size);
        if (status)
            s_fail (self, p, status);
    }
    oim_wire_msg_clear (&msg);
    return 0;
}

//  Ingest: a batch gateway_ingest admitted (scanned, not unpacked; refusals are answered
//  there) goes to the registry as it is, with its connection's ZAP User-Id.
static int
s_on_ingest (zloop_t *loop, zsock_t *socket, void *arg)
{
    (void) loop; (void) socket;
    broker_t *self = arg;
    gateway_ingest_req_t *req = gateway_ingest_recv (self->ingest);
    if (!req)
        return 0;
    pending_t *p = s_pending_new (self, CLIENT_INGEST, (const uint8_t *) "", 0, 0,
                                  gateway_ingest_req_id (req));
    p->ingest = req;
    size_t size;
    const uint8_t *body = gateway_ingest_req_body (req, &size);
    uint32_t status = s_forward (self, p, "registry", "ingest.batch", NULL, body, size);
    gateway_ingest_req_sent (req);
    if (status)
        s_fail (self, p, status);
    return 0;
}

//  ---------------------------------------------------------------------------------------
//  Housekeeping and lifecycle

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop; (void) timer_id;
    broker_t *self = arg;
    int64_t now = oim_clock_mono_ms ();
    zlistx_t *expired = zlistx_new ();
    for (worker_t *w = zhashx_first (self->workers); w; w = zhashx_next (self->workers)) {
        if (now > w->expiry_ms)
            zlistx_add_end (expired, w);
        else
        if (now - w->last_sent_ms >= self->heartbeat_msec)
            s_worker_send (self, w, OIM__V1__COMMAND__COMMAND_HEARTBEAT);
    }
    for (worker_t *w = zlistx_first (expired); w; w = zlistx_next (expired))
        s_worker_delete (self, w, "expired");
    zlistx_purge (expired);
    for (pending_t *p = zhashx_first (self->pending); p; p = zhashx_next (self->pending))
        if (now > p->deadline_ms)
            zlistx_add_end (expired, p);
    for (pending_t *p = zlistx_first (expired); p; p = zlistx_next (expired)) {
        oim_warn ("event=request_timeout rid=%s", p->request_id);
        s_fail (self, p, 504);
    }
    zlistx_destroy (&expired);
    return 0;
}

//  A bound socket, a CURVE server of domain when domain is set (NULL: inproc, no security).
//  NULL when it cannot bind, or plain ZeroMQ would expose it beyond this host (logged).
static zsock_t *
s_bind (int type, const oim_curve_t *curve, const char *domain, const char *endpoint,
        char *bound, size_t bound_size)
{
    zsock_t *socket = zsock_new (type);
    if (!socket)
        return NULL;
    if (type == ZMQ_ROUTER)
        zsock_set_router_mandatory (socket, 1);
    zsock_set_sndhwm (socket, 100000);
    zsock_set_rcvhwm (socket, 100000);
    zsock_set_linger (socket, 100);
    zsock_set_maxmsgsize (socket, 64 * 1024 * 1024);
    if (oim_curve_bind (curve, socket, domain, endpoint, bound, bound_size))
        zsock_destroy (&socket);
    return socket;
}

static void
s_destroy (broker_t *self)
{
    zloop_destroy (&self->loop);
    zhashx_destroy (&self->pending);
    zhashx_destroy (&self->services);
    zhashx_destroy (&self->workers);
    gateway_ingest_destroy (&self->ingest);
    zsock_destroy (&self->frontend);
    zsock_destroy (&self->backend);
}

static void
s_init_metrics (broker_t *self, oim_metrics_t *m)
{
    self->m_garbage = oim_metrics_counter (m, "oim_broker_garbage_total", NULL,
                                           "malformed ZeroMQ messages dropped by the broker");
    self->m_503 = oim_metrics_counter (m, "oim_broker_unavailable_total", NULL,
                                       "requests answered 503: no live worker");
    self->m_504 = oim_metrics_counter (m, "oim_broker_timeouts_total", NULL,
                                       "requests answered 504: no reply in time");
    self->m_workers = oim_metrics_gauge (m, "oim_broker_workers", NULL, "live workers");
}

void
gateway_broker_actor (zsock_t *pipe, void *arg)
{
    gateway_broker_args_t *args = arg;
    broker_t self = { .pipe = pipe, .heartbeat_msec = args->heartbeat_msec,
                      .default_timeout_msec = args->default_timeout_msec };
    char backend [256] = "", frontend [256] = "", ingest [256] = "";
    char frontend_bind [64];
    snprintf (frontend_bind, sizeof frontend_bind, "inproc://oim-broker-%p", (void *) pipe);
    self.backend = s_bind (ZMQ_ROUTER, args->curve, "internal", args->backend_bind, backend,
                           sizeof backend);
    self.frontend = s_bind (ZMQ_ROUTER, NULL, NULL, frontend_bind, frontend, sizeof frontend);
    gateway_ingest_args_t ingest_args = { .bind = args->ingest_bind, .curve = args->curve,
        .max_in_flight = args->ingest_max_in_flight,
        .max_in_flight_peer = args->ingest_max_in_flight_peer, .metrics = args->metrics };
    if (args->ingest_bind && *args->ingest_bind)
        self.ingest = gateway_ingest_new (&ingest_args, ingest, sizeof ingest);
    if (!self.backend || !self.frontend || (args->ingest_bind && *args->ingest_bind && !self.ingest)) {
        zsock_signal (pipe, 0);
        zstr_sendf (pipe, "ERROR cannot bind %s", !self.backend? args->backend_bind
                                                 : !self.frontend? frontend_bind: args->ingest_bind);
        s_destroy (&self);
        return;
    }
    s_init_metrics (&self, args->metrics);
    self.workers = zhashx_new ();
    zhashx_set_destructor (self.workers, s_worker_free);
    self.services = zhashx_new ();
    zhashx_set_destructor (self.services, s_service_free);
    self.pending = zhashx_new ();
    zhashx_set_destructor (self.pending, s_pending_free);
    self.loop = zloop_new ();
    zloop_reader (self.loop, pipe, gateway_actor_on_pipe, &self);
    zloop_reader (self.loop, self.backend, s_on_backend, &self);
    zloop_reader (self.loop, self.frontend, s_on_frontend, &self);
    if (self.ingest)
        zloop_reader (self.loop, gateway_ingest_socket (self.ingest), s_on_ingest, &self);
    zloop_timer (self.loop, TICK_MSEC, 0, s_on_tick, &self);
    zloop_set_nonstop (self.loop, true);        //  stop on $TERM, not on a signal
    zsock_signal (pipe, 0);
    zstr_sendx (pipe, "READY", backend, frontend, ingest, NULL);
    zloop_start (self.loop);
    s_destroy (&self);
}
