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
    Limits: a key revoked (or an organisation suspended) while its subscriber is connected is
    refused at its next connection, not cut off at once (libzmq cannot drop one peer of an
    XPUB); libzmq remembers every topic a connected subscriber asked for, refused ones too,
    until it leaves — only holders of a registered key get that far.

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
    oim_metrics_t *metrics;         //  shared, thread-safe
} gateway_feed_args_t;

//  zactor_new (gateway_feed_actor, &args); args must outlive the start handshake.
void gateway_feed_actor (zsock_t *pipe, void *args);

#endif
