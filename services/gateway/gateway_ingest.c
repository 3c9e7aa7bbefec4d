/*  gateway_ingest — see gateway_ingest.h. The payload frame stays a zmq_msg_t (no copy)
    until the broker has forwarded it; what the answer needs (routing id, batch_id) is kept
    in fixed buffers.
*/
#include "gateway_ingest.h"
#include <sodium.h>
#include "oim_log.h"
#include "oim_pbscan.h"
#include "oim_utf8.h"
#include "oim_wire.h"
#include "ingest.pb-c.h"

#define USER_ID_BYTES   256
#define PEER_KEY_BYTES  (2 * OIM_WIRE_MAX_ROUTING_BYTES + 4)

enum { R_MALFORMED, R_TOO_LARGE, R_UNAUTHENTICATED, R_BUSY, R_COUNT };
static const char *s_reasons [R_COUNT] = { "malformed", "too_large", "unauthenticated", "busy" };

struct _gateway_ingest_t {
    zsock_t *socket;
    bool curve;                     //  CURVE on: every batch must come with a User-Id
    int max_in_flight, max_in_flight_peer;
    int in_flight;
    zhashx_t *peers;                //  peer key -> int * (batches in flight), owned
    uint64_t received;
    oim_metric_t *m_batches, *m_in_flight, *m_refused [R_COUNT];
};

struct _gateway_ingest_req_t {
    gateway_ingest_t *owner;
    uint8_t routing [OIM_WIRE_MAX_ROUTING_BYTES];
    size_t routing_size;
    bool delimiter;                 //  from a REQ socket: an empty frame before the payload
    char peer [PEER_KEY_BYTES];     //  "u:" User-Id, or "r:" hex routing id
    char user_id [USER_ID_BYTES];
    char batch_id [OIM_PBSCAN_BATCH_ID_BYTES];      //  safe to echo ("" when not)
    char id [32];
    zmq_msg_t payload;
    bool has_payload;
    bool holds_slot;
};

//  ---------------------------------------------------------------------------------------
//  Lifecycle

static void
s_peer_free (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_init_metrics (gateway_ingest_t *self, oim_metrics_t *m)
{
    self->m_batches = oim_metrics_counter (m, "oim_ingest_batches_total", NULL,
                                           "ZeroMQ ingest messages received");
    self->m_in_flight = oim_metrics_gauge (m, "oim_ingest_in_flight", NULL,
                                           "ZeroMQ ingest batches at the registry");
    for (int r = 0; r < R_COUNT; r++) {
        char labels [64];
        snprintf (labels, sizeof labels, "reason=\"%s\"", s_reasons [r]);
        self->m_refused [r] = oim_metrics_counter (m, "oim_ingest_refused_total", labels,
            "ZeroMQ ingest batches refused, by reason, counted without unpacking them");
    }
}

gateway_ingest_t *
gateway_ingest_new (const gateway_ingest_args_t *args, char *bound, size_t bound_size)
{
    gateway_ingest_t *self = zmalloc (sizeof *self);
    self->socket = zsock_new (ZMQ_ROUTER);
    self->curve = oim_curve_enabled (args->curve);
    self->max_in_flight = args->max_in_flight > 0? args->max_in_flight: 1;
    self->max_in_flight_peer = args->max_in_flight_peer > 0? args->max_in_flight_peer: 1;
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, s_peer_free);
    if (self->socket) {
        zsock_set_router_mandatory (self->socket, 1);
        zsock_set_sndhwm (self->socket, 10000);
        zsock_set_rcvhwm (self->socket, 1000);
        zsock_set_linger (self->socket, 100);
        //  Before bind: a listener copies the socket's options when it is made.
        zsock_set_maxmsgsize (self->socket, GATEWAY_INGEST_MAX_MSG_BYTES);
    }
    if (!self->socket
    ||  oim_curve_bind (args->curve, self->socket, "ingest", args->bind, bound, bound_size)) {
        oim_error ("event=ingest_bind_failed endpoint=%s", args->bind);
        gateway_ingest_destroy (&self);
        return NULL;
    }
    s_init_metrics (self, args->metrics);
    return self;
}

void
gateway_ingest_destroy (gateway_ingest_t **self_p)
{
    gateway_ingest_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->socket);
    zhashx_destroy (&self->peers);
    free (self);
    *self_p = NULL;
}

zsock_t *
gateway_ingest_socket (gateway_ingest_t *self)
{
    return self->socket;
}

//  ---------------------------------------------------------------------------------------
//  In-flight slots

//  Takes a slot for req's peer. Returns 0, or -1 when the peer or everybody is at the limit.
static int
s_slot_take (gateway_ingest_t *self, gateway_ingest_req_t *req)
{
    int *count = zhashx_lookup (self->peers, req->peer);
    if (self->in_flight >= self->max_in_flight
    ||  (count && *count >= self->max_in_flight_peer))
        return -1;
    if (!count) {
        count = zmalloc (sizeof *count);
        zhashx_insert (self->peers, req->peer, count);
    }
    (*count)++;
    self->in_flight++;
    req->holds_slot = true;
    oim_metric_add (self->m_in_flight, 1);
    return 0;
}

static void
s_slot_release (gateway_ingest_t *self, gateway_ingest_req_t *req)
{
    if (!req->holds_slot)
        return;
    req->holds_slot = false;
    self->in_flight--;
    oim_metric_add (self->m_in_flight, -1);
    int *count = zhashx_lookup (self->peers, req->peer);
    if (count && --*count <= 0)
        zhashx_delete (self->peers, req->peer);
}

void
gateway_ingest_req_destroy (gateway_ingest_req_t **req_p)
{
    gateway_ingest_req_t *req = req_p? *req_p: NULL;
    if (!req)
        return;
    s_slot_release (req->owner, req);
    if (req->has_payload)
        zmq_msg_close (&req->payload);
    free (req);
    *req_p = NULL;
}

//  ---------------------------------------------------------------------------------------
//  Answers

//  Sends [routing][""]?[body] back to req's peer; nothing when the peer is gone.
static void
s_send (gateway_ingest_t *self, const gateway_ingest_req_t *req, const void *body, size_t size)
{
    void *socket = zsock_resolve (self->socket);
    if (zmq_send (socket, req->routing, req->routing_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;                     //  ROUTER_MANDATORY: nothing queued, the peer is gone
    if (req->delimiter)
        zmq_send (socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (socket, body, size, ZMQ_DONTWAIT);
}

//  An IngestAck of the gateway's own (packed, never unpacked anything).
static void
s_send_ack (gateway_ingest_t *self, const gateway_ingest_req_t *req, uint32_t status,
            const char *error)
{
    Oim__V1__IngestAck ack = OIM__V1__INGEST_ACK__INIT;
    ack.batch_id = (char *) req->batch_id;
    ack.status = status;
    ack.error = (char *) error;
    size_t size;
    uint8_t *body = oim_wire_pack (&ack.base, &size);
    s_send (self, req, body, size);
    free (body);
}

static void
s_refuse (gateway_ingest_t *self, gateway_ingest_req_t *req, int reason, uint32_t status,
          const char *error)
{
    oim_metric_add (self->m_refused [reason], 1);
    oim_debug ("event=ingest_refused rid=%s reason=%s peer=%s", req->id, s_reasons [reason],
               req->peer);
    s_send_ack (self, req, status, error);
}

void
gateway_ingest_answer (gateway_ingest_t *self, gateway_ingest_req_t **req_p, uint32_t status,
                       const void *body, size_t size)
{
    gateway_ingest_req_t *req = *req_p;
    if (size > 0) {
        int reason = status == 400? R_MALFORMED: status == 413? R_TOO_LARGE
                   : status == 401 || status == 403? R_UNAUTHENTICATED: -1;
        if (reason >= 0)
            oim_metric_add (self->m_refused [reason], 1);
        s_send (self, req, body, size);
    }
    else
        s_send_ack (self, req, status == 200? 502: status,
                    status == 503? "registry unavailable": status == 504? "registry timed out"
                                 : "registry refused the batch");
    gateway_ingest_req_destroy (req_p);
}

//  ---------------------------------------------------------------------------------------
//  Receiving

//  Reads the frames of one message into req: routing, delimiter, the payload (kept as a
//  zmq_msg_t), the rest counted and dropped. Returns the number of payload frames (0 when
//  there was none), or -1 when nothing could be read or the routing id is unusable.
static int
s_read_frames (gateway_ingest_t *self, gateway_ingest_req_t *req)
{
    void *socket = zsock_resolve (self->socket);
    int frames = 0, index = 0, more = 1;
    bool routing_ok = false;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            return -1;
        }
        more = zmq_msg_more (&part);
        size_t size = zmq_msg_size (&part);
        if (index == 0 && size <= OIM_WIRE_MAX_ROUTING_BYTES) {
            memcpy (req->routing, zmq_msg_data (&part), size);
            req->routing_size = size;
            routing_ok = size > 0;
        }
        else
        if (index == 1 && size == 0 && more)
            req->delimiter = true;
        else
        if (index > 0 && !req->has_payload) {
            zmq_msg_init (&req->payload);
            zmq_msg_move (&req->payload, &part);    //  no copy of the bytes
            req->has_payload = true;
            frames++;
        }
        else
            frames += index > 0;
        zmq_msg_close (&part);
        index++;
    }
    return routing_ok? frames: -1;
}

//  The peer's key for the in-flight count and its ZAP User-Id.
static void
s_identify (gateway_ingest_req_t *req)
{
    const char *user = req->has_payload? zmq_msg_gets (&req->payload, "User-Id"): NULL;
    snprintf (req->user_id, sizeof req->user_id, "%s", user? user: "");
    if (*req->user_id)
        snprintf (req->peer, sizeof req->peer, "u:%s", req->user_id);
    else {
        memcpy (req->peer, "r:", 2);
        sodium_bin2hex (req->peer + 2, sizeof req->peer - 2, req->routing, req->routing_size);
    }
}

//  Scans the batch and decides. Returns 0 when it is to be forwarded (a slot taken), or -1
//  when it was refused (answered).
static int
s_admit (gateway_ingest_t *self, gateway_ingest_req_t *req, int frames)
{
    oim_pbscan_batch_t scan;
    int rc = frames == 1? oim_pbscan_ingest_batch (zmq_msg_data (&req->payload),
                                                   zmq_msg_size (&req->payload), &scan): -1;
    if (frames == 1 && !scan.batch_id_cut && oim_utf8_valid (scan.batch_id, strlen (scan.batch_id)))
        snprintf (req->batch_id, sizeof req->batch_id, "%s", scan.batch_id);
    if (rc)
        s_refuse (self, req, R_MALFORMED, 400, "the message is not an oim.v1.IngestBatch");
    else
    if (scan.events > GATEWAY_INGEST_MAX_EVENTS)
        s_refuse (self, req, R_TOO_LARGE, 413, "at most 1000 events per batch");
    else
    if (!scan.api_key_size || (self->curve && !*req->user_id))
        s_refuse (self, req, R_UNAUTHENTICATED, 401, "unknown API key");
    else
    if (s_slot_take (self, req))
        s_refuse (self, req, R_BUSY, 503, "too many batches in flight: retry after an ack");
    else
        return 0;
    return -1;
}

gateway_ingest_req_t *
gateway_ingest_recv (gateway_ingest_t *self)
{
    gateway_ingest_req_t *req = zmalloc (sizeof *req);
    req->owner = self;
    int frames = s_read_frames (self, req);
    if (frames < 0) {
        if (req->routing_size > 0 || req->has_payload) {
            oim_metric_add (self->m_refused [R_MALFORMED], 1);
            oim_warn ("event=garbage source=ingest reason=\"bad routing id\"");
        }
        gateway_ingest_req_destroy (&req);
        return NULL;
    }
    oim_metric_add (self->m_batches, 1);
    snprintf (req->id, sizeof req->id, "ingest-%" PRIu64, ++self->received);
    s_identify (req);
    if (s_admit (self, req, frames))
        gateway_ingest_req_destroy (&req);
    return req;
}

const uint8_t *
gateway_ingest_req_body (const gateway_ingest_req_t *req, size_t *size)
{
    *size = req->has_payload? zmq_msg_size ((zmq_msg_t *) &req->payload): 0;
    return req->has_payload? zmq_msg_data ((zmq_msg_t *) &req->payload): NULL;
}

const char *
gateway_ingest_req_user_id (const gateway_ingest_req_t *req)
{
    return req->user_id;
}

const char *
gateway_ingest_req_id (const gateway_ingest_req_t *req)
{
    return req->id;
}

void
gateway_ingest_req_sent (gateway_ingest_req_t *req)
{
    if (req->has_payload)
        zmq_msg_close (&req->payload);
    req->has_payload = false;
}
