/*  oim_peer — see oim_peer.h. */
#include "oim_peer.h"
#include "oim_clock.h"
#include "oim_log.h"

#define LIVENESS 3
#define BACKOFF_MIN_MSEC 1000
#define BACKOFF_MAX_MSEC 32000

struct _oim_peer_t {
    char *endpoint;
    char *service;
    char *instance;
    int heartbeat_msec;
    const oim_curve_t *curve;       //  borrowed; NULL = plain
    zsock_t *socket;
    int64_t last_heard_ms;          //  monotonic
    int64_t last_sent_ms;
    int64_t next_reconnect_ms;
    int backoff_msec;
    bool live;
    uint64_t garbage;
};

static void
s_send_command (oim_peer_t *self, Oim__V1__Command command)
{
    Oim__V1__Header header;
    oim_wire_header_init (&header, command);
    header.service = self->service;
    header.instance = self->instance;
    if (oim_wire_send (zsock_resolve (self->socket), NULL, 0, &header, NULL, 0) == 0)
        self->last_sent_ms = oim_clock_mono_ms ();
}

static int
s_connect (oim_peer_t *self)
{
    self->socket = zsock_new (ZMQ_DEALER);
    if (!self->socket)
        return -1;
    zsock_set_linger (self->socket, 200);
    zsock_set_sndhwm (self->socket, 100000);
    zsock_set_rcvhwm (self->socket, 100000);
    zsock_set_sndtimeo (self->socket, 0);
    zsock_set_reconnect_ivl (self->socket, 100);
    zsock_set_reconnect_ivl_max (self->socket, 1000);
    if (oim_curve_client (self->curve, self->socket) == -1) {
        zsock_destroy (&self->socket);
        return -1;
    }
    if (zsock_connect (self->socket, "%s", self->endpoint)) {
        zsock_destroy (&self->socket);
        return -1;
    }
    self->last_heard_ms = oim_clock_mono_ms ();
    s_send_command (self, OIM__V1__COMMAND__COMMAND_READY);
    return 0;
}

oim_peer_t *
oim_peer_new (const char *endpoint, const char *service, const char *instance, int heartbeat_msec,
              const oim_curve_t *curve)
{
    if (curve && oim_curve_check_endpoint (curve, endpoint))
        return NULL;
    oim_peer_t *self = zmalloc (sizeof *self);
    self->endpoint = strdup (endpoint);
    self->service = strdup (service);
    self->instance = strdup (instance);
    self->heartbeat_msec = heartbeat_msec > 0? heartbeat_msec: 1000;
    self->curve = curve;
    self->backoff_msec = BACKOFF_MIN_MSEC;
    if (s_connect (self)) {
        oim_peer_destroy (&self);
        return NULL;
    }
    oim_info ("event=broker_connect endpoint=%s service=%s curve=%s", endpoint, service,
              oim_curve_enabled (curve)? "on": "off");
    return self;
}

void
oim_peer_destroy (oim_peer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    oim_peer_t *self = *self_p;
    if (self->socket)
        s_send_command (self, OIM__V1__COMMAND__COMMAND_DISCONNECT);
    zsock_destroy (&self->socket);
    free (self->endpoint);
    free (self->service);
    free (self->instance);
    free (self);
    *self_p = NULL;
}

zsock_t *
oim_peer_socket (oim_peer_t *self)
{
    return self->socket;
}

static void
s_heard (oim_peer_t *self)
{
    self->last_heard_ms = oim_clock_mono_ms ();
    self->backoff_msec = BACKOFF_MIN_MSEC;
    if (!self->live)
        oim_info ("event=broker_link_up endpoint=%s", self->endpoint);
    self->live = true;
}

int
oim_peer_recv (oim_peer_t *self, oim_wire_msg_t *request)
{
    const char *reason;
    int rc = oim_wire_recv (zsock_resolve (self->socket), false, request, &reason);
    if (rc == -2)
        return -2;
    if (rc == -1) {
        if (self->garbage++ == 0 || self->garbage % 1000 == 0)
            oim_warn ("event=garbage_from_broker reason=\"%s\" count=%llu", reason,
                      (unsigned long long) self->garbage);
        return -1;
    }
    s_heard (self);
    switch (request->header->command) {
        case OIM__V1__COMMAND__COMMAND_REQUEST:
            return 1;
        case OIM__V1__COMMAND__COMMAND_DISCONNECT:
            oim_info ("event=broker_disconnect action=ready_again");
            s_send_command (self, OIM__V1__COMMAND__COMMAND_READY);
            break;
        default:        //  HEARTBEAT, or a command a worker does not expect: liveness only
            break;
    }
    oim_wire_msg_clear (request);
    return 0;
}

int
oim_peer_reply (oim_peer_t *self, const oim_wire_msg_t *request, uint32_t status,
                const void *body, size_t body_size)
{
    Oim__V1__Header header;
    oim_wire_header_init (&header, OIM__V1__COMMAND__COMMAND_REPLY);
    header.correlation_id = request->header->correlation_id;
    header.client = request->header->client;
    header.request_id = request->header->request_id;
    header.status = status;
    if (oim_wire_send (zsock_resolve (self->socket), NULL, 0, &header, body, body_size)) {
        oim_warn ("event=reply_failed errno=%d", errno);
        return -1;
    }
    self->last_sent_ms = oim_clock_mono_ms ();
    return 0;
}

bool
oim_peer_tick (oim_peer_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (now - self->last_heard_ms > (int64_t) LIVENESS * self->heartbeat_msec
    &&  self->socket && (zsock_events (self->socket) & ZMQ_POLLIN))
        self->last_heard_ms = now;  //  the broker spoke while the loop was busy (a long
                                    //  work item): not a dead link, the reader catches up
    if (now - self->last_heard_ms > (int64_t) LIVENESS * self->heartbeat_msec) {
        if (self->live)
            oim_warn ("event=broker_link_down endpoint=%s", self->endpoint);
        self->live = false;
        return now >= self->next_reconnect_ms;
    }
    if (now - self->last_sent_ms >= self->heartbeat_msec)
        s_send_command (self, OIM__V1__COMMAND__COMMAND_HEARTBEAT);
    return false;
}

void
oim_peer_reconnect (oim_peer_t *self)
{
    zsock_destroy (&self->socket);
    int64_t now = oim_clock_mono_ms ();
    self->next_reconnect_ms = now + self->backoff_msec;
    oim_info ("event=broker_reconnect endpoint=%s next_backoff_ms=%d",
              self->endpoint, self->backoff_msec);
    self->backoff_msec = self->backoff_msec * 2 > BACKOFF_MAX_MSEC? BACKOFF_MAX_MSEC
                                                                  : self->backoff_msec * 2;
    int rc = s_connect (self);
    assert (rc == 0);       //  the endpoint connected before, so it is well-formed
}

bool
oim_peer_live (oim_peer_t *self)
{
    return self->live
        && oim_clock_mono_ms () - self->last_heard_ms <= (int64_t) LIVENESS * self->heartbeat_msec;
}

uint64_t
oim_peer_garbage (oim_peer_t *self)
{
    return self->garbage;
}
