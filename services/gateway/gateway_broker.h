/*  gateway_broker — the ZeroMQ broker inside oim-gateway, run as a czmq actor.

    Backend (ROUTER, tcp): daemons register by service name (READY), heartbeat, and are expired
    after three silent intervals. Requests go to the live worker of the service with the fewest
    requests in flight (round robin among equals); a send to a worker that has gone (ROUTER
    mandatory: EHOSTUNREACH) is re-routed to another replica, since that worker never saw it.
    No live worker: 503 at once. No reply by the request's deadline: 504. A worker that dies
    with requests in flight: those requests get 503.
    Frontend (ROUTER, inproc): the gateway's HTTP threads (oim_wire clients). The internal
    service "broker" answers "broker.workers" with a WorkerList.
    Feed (optional): an XSUB/XPUB proxy, so that any number of notify replicas publish into one
    public feed port (:5571) and a subscriber sees every replica's notifications.
    Ingest (ROUTER, tcp :5570, SPEC §4): one frame, an IngestBatch, from a REQ or DEALER peer;
    it is forwarded to the registry's "ingest.batch" and the registry's IngestAck goes back.

    Actor commands (zstr over the pipe): "$TERM". At start the actor sends back "READY" or
    "ERROR <why>", then the bound endpoints as three strings: broker, frontend, ingest.
*/
#ifndef GATEWAY_BROKER_H_INCLUDED
#define GATEWAY_BROKER_H_INCLUDED

#include <czmq.h>
#include "oim_metrics.h"

typedef struct {
    const char *backend_bind;       //  e.g. "tcp://*:5555", "tcp://127.0.0.1:*"
    const char *ingest_bind;        //  e.g. "tcp://*:5570"; NULL or "" = no ingest endpoint
    const char *feed_intake_bind;   //  XSUB the notify replicas publish into, e.g. "tcp://*:5572";
                                    //  NULL or "" = the gateway hosts no feed
    const char *feed_bind;          //  XPUB subscribers connect to, e.g. "tcp://*:5571"
    int heartbeat_msec;
    int default_timeout_msec;       //  when a client request has timeout_ms 0
    oim_metrics_t *metrics;         //  shared with the HTTP side; thread-safe
} gateway_broker_args_t;

//  zactor_new (gateway_broker_actor, &args); args must outlive the actor's start handshake.
void gateway_broker_actor (zsock_t *pipe, void *args);

#endif
