/*  gateway_broker — the ZeroMQ broker inside oim-gateway, run as a czmq actor.

    Backend (ROUTER, tcp): daemons register by service name (READY), heartbeat, and are expired
    after three silent intervals. Requests go to the live worker of the service with the fewest
    requests in flight (round robin among equals); a send to a worker that has gone (ROUTER
    mandatory: EHOSTUNREACH) is re-routed to another replica, since that worker never saw it.
    No live worker: 503 at once. No reply by the request's deadline: 504. A worker that dies
    with requests in flight: those requests get 503.
    Frontend (ROUTER, inproc): the gateway's HTTP threads (oim_wire clients). The internal
    service "broker" answers "broker.workers" with a WorkerList.
    Backend and ingest are CURVE servers (oim_curve_server) of ZAP domains "internal" and
    "ingest" (gateway_zap.h) when CURVE is on. The feed is gateway_feed's, not the broker's.
    Ingest (ROUTER, tcp :5570, SPEC §4): one frame, an IngestBatch, from a REQ or DEALER peer;
    gateway_ingest scans (never unpacks) and admits it, the broker forwards it to the
    registry's "ingest.batch" with the connection's ZAP User-Id, and the IngestAck goes back.

    Actor commands (zstr over the pipe): "$TERM". At start the actor sends back "READY" or
    "ERROR <why>", then the bound endpoints as three strings: broker, frontend, ingest.
*/
#ifndef GATEWAY_BROKER_H_INCLUDED
#define GATEWAY_BROKER_H_INCLUDED

#include <czmq.h>
#include "oim_curve.h"
#include "oim_metrics.h"

typedef struct {
    const char *backend_bind;       //  e.g. "tcp://*:5555", "tcp://127.0.0.1:*"
    const char *ingest_bind;        //  e.g. "tcp://*:5570"; NULL or "" = no ingest endpoint
    int ingest_max_in_flight;       //  ingest batches at the registry, all peers / one peer
    int ingest_max_in_flight_peer;  //  (gateway_ingest.h); past either an immediate 503 ack
    const oim_curve_t *curve;       //  the gateway's keys (server role); borrowed
    int heartbeat_msec;
    int default_timeout_msec;       //  when a client request has timeout_ms 0
    oim_metrics_t *metrics;         //  shared with the HTTP side; thread-safe
} gateway_broker_args_t;

//  zactor_new (gateway_broker_actor, &args); args must outlive the actor's start handshake.
void gateway_broker_actor (zsock_t *pipe, void *args);

#endif
