/*  oim_peer — the worker side of the broker link (Majordomo worker + Paranoid Pirate).

    A DEALER socket connects to the gateway's broker, announces READY(service), answers
    requests, heartbeats when idle and treats any inbound traffic as liveness. After three
    silent heartbeat intervals the link is dead: the owner removes the socket from its reactor,
    calls oim_peer_reconnect, and adds the new socket (oim_peer_socket). Reconnects back off
    1 s, 2 s, ... 32 s while the broker stays silent. A broker that restarted and does not know
    us answers our heartbeat with DISCONNECT; we then announce READY again at once.
*/
#ifndef OIM_PEER_H_INCLUDED
#define OIM_PEER_H_INCLUDED

#include <czmq.h>
#include "oim_curve.h"
#include "oim_wire.h"

typedef struct _oim_peer_t oim_peer_t;

//  Connects to endpoint and sends READY, as a CURVE client when curve is on (curve: borrowed,
//  must outlive the peer; NULL = plain). Returns NULL when the endpoint is malformed, or
//  plain ZeroMQ would leave this host (oim_curve_check_endpoint).
oim_peer_t *oim_peer_new (const char *endpoint, const char *service, const char *instance,
                          int heartbeat_msec, const oim_curve_t *curve);
void oim_peer_destroy (oim_peer_t **self_p);

//  The current socket (changes after oim_peer_reconnect).
zsock_t *oim_peer_socket (oim_peer_t *self);

//  Reads one message (call when the socket is readable). Returns 1 with *request filled for a
//  REQUEST (the caller answers with oim_peer_reply and clears it); 0 when the message was
//  link traffic handled here; -1 for a malformed message (logged, counted, dropped); -2 when
//  nothing was read.
int oim_peer_recv (oim_peer_t *self, oim_wire_msg_t *request);

//  Answers a request with a status and body. Returns 0 or -1 (the broker is unreachable; the
//  broker fails the request on its side).
int oim_peer_reply (oim_peer_t *self, const oim_wire_msg_t *request, uint32_t status,
                    const void *body, size_t body_size);

//  Housekeeping, at least once per heartbeat interval: sends a heartbeat when due. Returns
//  true when the link is dead and oim_peer_reconnect is due.
bool oim_peer_tick (oim_peer_t *self);

//  Destroys the socket and makes a new one (connect + READY).
void oim_peer_reconnect (oim_peer_t *self);

//  True when the broker was heard from within three heartbeat intervals.
bool oim_peer_live (oim_peer_t *self);

//  Count of malformed messages received.
uint64_t oim_peer_garbage (oim_peer_t *self);

#endif
