/*  gateway_feed — the ZeroMQ notification feed, always hosted by the gateway: a czmq actor on
    its own thread.

    Intake (XSUB, default tcp://127.0.0.1:5572, CURVE domain "internal"): every notify replica
    connects its PUB here. The intake subscribes to everything once, so each replica sends all
    its notifications ([org id][Notification]) and filtering happens at the public side only.
    Feed (XPUB, :5571, CURVE domain "feed", ZMQ_XPUB_MANUAL): subscribers. A subscription is
    applied only when its topic equals the subscriber's ZAP User-Id — its organisation id, read
    from the subscription message's metadata (zmq_msg_gets "User-Id"; libzmq's XPUB keeps a
    subscription's metadata for the receiver in manual mode). Anything else, "" included, is
    dropped and counted in oim_feed_subscriptions_refused_total: an organisation's key receives
    that organisation's notifications and nothing else, whatever the client's filter says.
    With CURVE off (loopback development only) every topic is applied, and that is logged.

    Why this holds (libzmq 4.3.4, src/xpub.cpp): in manual mode xread_activated queues each
    (un)subscription with its pipe and the metadata of the message it came in (the ZAP
    User-Id among it) and xrecv hands both over; ZMQ_SUBSCRIBE then acts on that pipe only.
    Unsubscriptions libzmq makes itself when a subscriber leaves carry no metadata: ignored.
    Organisation ids have one length (common/oim_id.h), so one is never a prefix of another.
    Revocation: libzmq cannot drop one peer of an XPUB. So every second the feed checks the
    organisations it granted a subscription (their feed key, unchanged since first seen, and
    their active status: one pipelined Redis round trip, at most 200 ms on this loop); when
    one lost its right, the XPUB is closed and bound again (oim_feed_rebinds_total) once the
    ZAP handler's cache can no longer hold an answer given before the revocation (2 s): every
    subscriber reconnects and subscribes again by itself, through the ZAP handler, which
    refuses the revoked key. A revoked subscriber is cut off within ~3.5 s. Others lose the notifications of
    that moment (best effort: gaps show in feed_sequence). Limit: libzmq remembers every topic
    a connected subscriber asked for, refused ones too, until it leaves — only holders of a
    registered key get that far.

    Actor commands (zstr over the pipe): "$TERM". At start the actor signals, then sends
    "READY" followed by the bound feed and intake endpoints, or "ERROR <why>".
*/
#ifndef GATEWAY_FEED_H_INCLUDED
#define GATEWAY_FEED_H_INCLUDED

#include <czmq.h>
#include "oim_curve.h"
#include "oim_metrics.h"

typedef struct {
    const char *intake_bind;        //  e.g. "tcp://127.0.0.1:5572", "tcp://*:5572"
    const char *feed_bind;          //  e.g. "tcp://*:5571"
    const oim_curve_t *curve;       //  the gateway's (server role); borrowed
    const char *redis_url;          //  to check the organisations it granted (CURVE on)
    oim_metrics_t *metrics;         //  shared, thread-safe
} gateway_feed_args_t;

#define GATEWAY_FEED_MAX_GRANTS 10000   //  organisations followed for revocation

//  zactor_new (gateway_feed_actor, &args); args must outlive the start handshake.
void gateway_feed_actor (zsock_t *pipe, void *args);

#endif
