/*  gateway_zap — the gateway's one ZAP handler (RFC 27, inproc://zeromq.zap.01), a czmq actor
    on its own thread with its own Redis connection, so that a key lookup never runs on the
    broker's or the feed's loop (libzmq holds only the handshake being authenticated).

    Domains (set on the gateway's CURVE server sockets with oim_curve_server):
      internal  broker (5555) and feed intake (5572): only daemon.cert's public key;
                User-Id "daemon".
      ingest    ingest (5570): a publisher's key registered through the API
                (oim:curvekey:<z85> = CurveKeyRecord{kind "publisher"}); User-Id = publisher_id.
      feed      feed (5571): an organisation's feed key (CurveKeyRecord{kind "feed"}) whose
                organisation is active; User-Id = org_id (the feed applies only that topic).
    Anything else (another mechanism, an unknown domain or key, Redis not answering) is denied
    with 400 and counted in oim_zap_denied_total{domain}. Answers for registered keys, both
    ways, are cached for GATEWAY_ZAP_CACHE_MSEC (at most GATEWAY_ZAP_CACHE_MAX entries): a
    revoked key or a suspended organisation is refused on its next connection within that.

    Actor commands (zstr over the pipe): "$TERM". At start the actor signals and sends "READY"
    or "ERROR <why>" (the ZAP endpoint could not be bound).
*/
#ifndef GATEWAY_ZAP_H_INCLUDED
#define GATEWAY_ZAP_H_INCLUDED

#include <czmq.h>
#include "oim_metrics.h"

#define GATEWAY_ZAP_CACHE_MSEC 2000
#define GATEWAY_ZAP_CACHE_MAX  10000

typedef struct {
    const char *redis_url;
    int redis_timeout_msec;
    const char *daemon_public;      //  Z85 public key of daemon.cert (domain internal)
    oim_metrics_t *metrics;         //  shared, thread-safe
} gateway_zap_args_t;

//  zactor_new (gateway_zap_actor, &args); args must outlive the start handshake. Start it
//  before any socket with a ZAP domain binds.
void gateway_zap_actor (zsock_t *pipe, void *args);

#endif
