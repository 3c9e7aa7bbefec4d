/*  gateway_ingest — the ZeroMQ demand-event ingest endpoint (ROUTER, tcp :5570, SPEC §4), run
    on the broker's loop. It decodes nothing before it knows the sender (issue 13 item 2):

      1. libzmq drops any message over GATEWAY_INGEST_MAX_MSG_BYTES (ZMQ_MAXMSGSIZE) and
         disconnects its peer; with CURVE on, only publishers whose CURVE key is registered
         connect at all (ZAP domain "ingest", gateway_zap.h), each with its publisher_id as
         ZAP User-Id.
      2. A message is [routing][""]?[IngestBatch]. The batch's bytes are walked, not unpacked
         (oim_pbscan): batch_id and api_key found, events counted. Refused here at once, with
         an IngestAck built from the scanned batch_id, nothing queued:
           400 malformed   not a protobuf message, or more frames
           413 too_large   more than GATEWAY_INGEST_MAX_EVENTS events
           401 unauthenticated   no api_key; or CURVE on and no ZAP User-Id
           503 busy        the peer (its ZAP User-Id, else its ROUTER identity) has
                           max_in_flight_peer batches in flight, or all peers max_in_flight
      3. Anything else is handed to the broker (gateway_ingest_recv returns it) to forward
         to the registry's "ingest.batch" with the User-Id in Header.peer_user_id; the
         registry checks the api_key (one hash lookup) before it unpacks the events.
    Refusals are counted without unpacking: oim_ingest_refused_total{reason=...} (the
    registry's 401/403/400/413 acks by their wire status). oim_ingest_batches_total counts
    every message, oim_ingest_in_flight the batches at the registry.

    Not thread-safe: one thread (the broker's) uses an instance.
*/
#ifndef GATEWAY_INGEST_H_INCLUDED
#define GATEWAY_INGEST_H_INCLUDED

#include <czmq.h>
#include "oim_curve.h"
#include "oim_metrics.h"

#define GATEWAY_INGEST_MAX_MSG_BYTES    (2 * 1024 * 1024)
#define GATEWAY_INGEST_MAX_EVENTS       1000            //  SPEC §4

typedef struct _gateway_ingest_t gateway_ingest_t;
typedef struct _gateway_ingest_req_t gateway_ingest_req_t;

typedef struct {
    const char *bind;               //  e.g. "tcp://*:5570"
    const oim_curve_t *curve;       //  the gateway's keys; borrowed, outlives the instance
    int max_in_flight;              //  batches at the registry from all peers (>= 1)
    int max_in_flight_peer;         //  ... from one peer (>= 1)
    oim_metrics_t *metrics;         //  shared, thread-safe
} gateway_ingest_args_t;

//  Binds the endpoint (a CURVE server of domain "ingest" when CURVE is on) and writes the
//  bound endpoint into bound. Returns NULL (logged) when it cannot bind, or plain ZeroMQ
//  would expose it beyond this host.
gateway_ingest_t *gateway_ingest_new (const gateway_ingest_args_t *args, char *bound,
                                      size_t bound_size);
//  Closes the socket. Every request must have been destroyed before.
void gateway_ingest_destroy (gateway_ingest_t **self_p);
//  The ROUTER socket, for the caller's zloop (borrowed).
zsock_t *gateway_ingest_socket (gateway_ingest_t *self);

//  Reads one message. Returns a batch to forward (owned by the caller, holding one in-flight
//  slot until destroyed), or NULL when the message was refused (answered) or dropped here.
gateway_ingest_req_t *gateway_ingest_recv (gateway_ingest_t *self);

//  The batch's bytes (until gateway_ingest_req_sent), the ZAP User-Id of its connection
//  ("" with CURVE off) and a request id for logs ("ingest-<n>"). Borrowed.
const uint8_t *gateway_ingest_req_body (const gateway_ingest_req_t *req, size_t *size);
const char *gateway_ingest_req_user_id (const gateway_ingest_req_t *req);
const char *gateway_ingest_req_id (const gateway_ingest_req_t *req);
//  The bytes were forwarded: frees them (the answer needs only the scanned batch_id).
void gateway_ingest_req_sent (gateway_ingest_req_t *req);

//  Answers the batch and destroys *req_p. A non-empty body is the registry's IngestAck,
//  relayed as it is (its wire status counted: 400/401/403/413 as refusals); an empty one
//  gets an IngestAck of the gateway's own with status (503 unavailable, 504 timed out).
void gateway_ingest_answer (gateway_ingest_t *self, gateway_ingest_req_t **req_p,
                            uint32_t status, const void *body, size_t size);

//  Frees the in-flight slot without answering. Accepts NULL and *req_p NULL.
void gateway_ingest_req_destroy (gateway_ingest_req_t **req_p);

#endif
