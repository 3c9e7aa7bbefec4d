/*  gateway_feed — see gateway_feed.h. One zloop: notifications from the intake to the feed,
    whole messages; subscription messages from the feed, checked one by one.
*/
#include "gateway_feed.h"
#include "gateway_actor.h"
#include "gateway_zap.h"
#include "oim_clock.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "oim_redis.h"
#include "registry.pb-c.h"

#define FEED_HWM 100000
#define TOPIC_MAX 256
#define TICK_MSEC 250
#define CHECK_EVERY 4               //  ticks: the granted organisations are checked every 1 s
#define REDIS_TIMEOUT_MSEC 200      //  the check's bound on this loop

//  An organisation with an applied subscription, and its feed key when first checked.
typedef struct {
    char key [41];
    bool seen;
} grant_t;

typedef struct {
    zsock_t *intake;                //  XSUB
    zsock_t *feed;                  //  XPUB, manual; NULL while being re-bound
    zsock_t *retired;               //  the XPUB being replaced: closed on the next tick
    zloop_t *loop;
    const oim_curve_t *curve;
    char feed_endpoint [256];       //  as bound (the real port), to bind again
    bool any_topic;                 //  CURVE off: no User-Id to check against
    oim_redis_t *redis;
    zhashx_t *grants;               //  org id -> grant_t, owned
    int ticks;
    int64_t rebind_at_ms;           //  monotonic; 0 = none due
    oim_metric_t *m_forwarded;
    oim_metric_t *m_refused;
    oim_metric_t *m_applied;
    oim_metric_t *m_rebinds;
} feed_t;

//  Intake -> feed: one whole message (every part) per call.
static int
s_on_intake (zloop_t *loop, zsock_t *intake, void *arg)
{
    (void) loop;
    feed_t *self = arg;
    zmq_msg_t part;
    zmq_msg_init (&part);
    while (zmq_msg_recv (&part, zsock_resolve (intake), ZMQ_DONTWAIT) >= 0) {
        int more = zmq_msg_more (&part);
        if (self->feed)         //  else dropped: the feed is being re-bound (best effort)
            zmq_msg_send (&part, zsock_resolve (self->feed), more? ZMQ_SNDMORE: 0);
        if (!more) {
            oim_metric_add (self->m_forwarded, 1);
            break;
        }
    }
    zmq_msg_close (&part);
    return 0;
}

//  True when the subscriber may have topic: its ZAP User-Id is exactly topic.
static bool
s_allowed (feed_t *self, zmq_msg_t *msg, const uint8_t *topic, size_t size)
{
    if (self->any_topic)
        return true;
    const char *user = zmq_msg_gets (msg, "User-Id");
    return user && *user && size > 0 && strlen (user) == size && memcmp (user, topic, size) == 0;
}

//  Feed side: a (un)subscription, [0x01|0x00][topic]. Applied to the sending subscriber only
//  (ZMQ_XPUB_MANUAL: the socket option acts on the pipe of the message just received).
static int
s_on_feed (zloop_t *loop, zsock_t *feed, void *arg)
{
    (void) loop;
    feed_t *self = arg;
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, zsock_resolve (feed), ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return 0;
    }
    const uint8_t *data = zmq_msg_data (&msg);
    size_t size = zmq_msg_size (&msg);
    if (size >= 1 && size <= TOPIC_MAX + 1 && (data [0] == 0 || data [0] == 1)) {
        bool subscribe = data [0] == 1;
        if (s_allowed (self, &msg, data + 1, size - 1)) {
            zmq_setsockopt (zsock_resolve (feed), subscribe? ZMQ_SUBSCRIBE: ZMQ_UNSUBSCRIBE,
                            data + 1, size - 1);
            if (subscribe)
                oim_metric_add (self->m_applied, 1);
            char org [TOPIC_MAX + 1];
            snprintf (org, sizeof org, "%.*s", (int) (size - 1), (const char *) data + 1);
            if (subscribe && !self->any_topic && !zhashx_lookup (self->grants, org)
            &&  zhashx_size (self->grants) < GATEWAY_FEED_MAX_GRANTS)
                zhashx_insert (self->grants, org, zmalloc (sizeof (grant_t)));
        }
        else
        if (subscribe) {
            oim_metric_add (self->m_refused, 1);
            const char *user = zmq_msg_gets (&msg, "User-Id");
            oim_warn ("event=feed_subscription_refused user=%s topic_bytes=%zu",
                      user? user: "", size - 1);
        }
    }
    else
        oim_metric_add (self->m_refused, 1);
    zmq_msg_close (&msg);
    return 0;
}

//  ---------------------------------------------------------------------------------------
//  Revocation of open connections: libzmq cannot drop one peer of an XPUB, so when an
//  organisation with an applied subscription has lost its feed key (revoked or rotated) or
//  its active status, the XPUB is closed and bound again: every subscriber reconnects (SUB
//  does so by itself and subscribes again) through the ZAP handler, which refuses the
//  revoked ones (the re-bind waits until its cache cannot answer from before the change).
//  Followed: at most GATEWAY_FEED_MAX_GRANTS organisations, forgotten at each re-bind.

static void s_grant_free (void **item) { free (*item); *item = NULL; }
static zsock_t *s_bind (int type, const oim_curve_t *curve, const char *domain,
                        const char *endpoint, char *bound, size_t bound_size);

//  Reads one org's two replies (feed key, Organization). 1 still granted, 0 revoked, -1 Redis
//  failed.
static int
s_still_granted (feed_t *self, grant_t *grant)
{
    redisReply *key = oim_redis_reply (self->redis);
    redisReply *org = key? oim_redis_reply (self->redis): NULL;
    int rc = -1;
    if (key && org) {
        Oim__V1__Organization *o = org->type == REDIS_REPLY_STRING
            ? oim__v1__organization__unpack (NULL, org->len, (uint8_t *) org->str): NULL;
        bool active = o && !o->deleted && strcmp (o->status, "active") == 0;
        bool has_key = key->type == REDIS_REPLY_STRING && key->len == 40;
        rc = active && has_key && (!grant->seen || strcmp (grant->key, key->str) == 0);
        if (rc && !grant->seen) {
            snprintf (grant->key, sizeof grant->key, "%s", key->str);
            grant->seen = true;
        }
        if (o)
            oim__v1__organization__free_unpacked (o, NULL);
    }
    if (key)
        freeReplyObject (key);
    if (org)
        freeReplyObject (org);
    return rc;
}

//  True when some granted organisation lost its right (one pipelined round trip).
static bool
s_any_revoked (feed_t *self)
{
    char key [OIM_KEY_SIZE];
    for (grant_t *g = zhashx_first (self->grants); g; g = zhashx_next (self->grants)) {
        const char *org = zhashx_cursor (self->grants);
        snprintf (key, sizeof key, OIM_KEY_ORG_FEEDKEY, org);
        oim_redis_append (self->redis, "GET %s", key);
        snprintf (key, sizeof key, OIM_KEY_ORG, org);
        oim_redis_append (self->redis, "GET %s", key);
    }
    bool revoked = false;
    for (grant_t *g = zhashx_first (self->grants); g; g = zhashx_next (self->grants)) {
        int rc = s_still_granted (self, g);
        if (rc == -1)
            return false;           //  Redis failed: the connection is dropped, try later
        if (rc == 0 && !revoked) {
            oim_info ("event=feed_grant_revoked org=%s", (const char *) zhashx_cursor (self->grants));
            revoked = true;
        }
    }
    return revoked;
}

//  Retires the XPUB: out of the reactor now, closed on the next tick (zloop may still call
//  this turn's handler with it: it must stay a valid socket until then).
static void
s_retire (feed_t *self)
{
    zloop_reader_end (self->loop, self->feed);
    self->retired = self->feed;
    self->feed = NULL;
    zhashx_purge (self->grants);
    oim_metric_add (self->m_rebinds, 1);
}

//  Closes the retired XPUB and binds a new one (or tries again on the next tick: the port is
//  freed asynchronously).
static void
s_rebind (feed_t *self)
{
    zsock_destroy (&self->retired);
    char bound [256];
    self->feed = s_bind (ZMQ_XPUB, self->curve, "feed", self->feed_endpoint, bound, sizeof bound);
    if (self->feed)
        zloop_reader (self->loop, self->feed, s_on_feed, self);
    else
        oim_warn ("event=feed_rebind_later endpoint=%s", self->feed_endpoint);
}

//  The re-bind waits out the ZAP cache: every answer cached for a revoked key was given
//  before the revocation, so after GATEWAY_ZAP_CACHE_MSEC none is left to let it back in.
static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop; (void) timer_id;
    feed_t *self = arg;
    int64_t now = oim_clock_mono_ms ();
    if (!self->feed)
        s_rebind (self);
    else
    if (self->rebind_at_ms && now >= self->rebind_at_ms) {
        self->rebind_at_ms = 0;
        s_retire (self);
    }
    else
    if (!self->rebind_at_ms && ++self->ticks % CHECK_EVERY == 0 && zhashx_size (self->grants)
    &&  s_any_revoked (self))
        self->rebind_at_ms = now + GATEWAY_ZAP_CACHE_MSEC + TICK_MSEC;
    return 0;
}

//  A socket of the feed, CURVE server of domain, bound. NULL when it cannot bind (or plain
//  ZeroMQ would expose it: logged).
static zsock_t *
s_bind (int type, const oim_curve_t *curve, const char *domain, const char *endpoint,
        char *bound, size_t bound_size)
{
    zsock_t *socket = zsock_new (type);
    if (!socket)
        return NULL;
    zsock_set_sndhwm (socket, FEED_HWM);
    zsock_set_rcvhwm (socket, FEED_HWM);
    zsock_set_linger (socket, 0);
    zsock_set_maxmsgsize (socket, 1024 * 1024);
    if (type == ZMQ_XPUB)
        zsock_set_xpub_manual (socket, 1);
    if (oim_curve_bind (curve, socket, domain, endpoint, bound, bound_size))
        zsock_destroy (&socket);
    return socket;
}

void
gateway_feed_actor (zsock_t *pipe, void *arg)
{
    gateway_feed_args_t *args = arg;
    feed_t self = { .any_topic = !oim_curve_enabled (args->curve), .curve = args->curve };
    char intake [256] = "", feed [256] = "";
    self.intake = s_bind (ZMQ_XSUB, args->curve, "internal", args->intake_bind, intake, sizeof intake);
    self.feed = self.intake? s_bind (ZMQ_XPUB, args->curve, "feed", args->feed_bind, feed, sizeof feed)
                           : NULL;
    snprintf (self.feed_endpoint, sizeof self.feed_endpoint, "%s", feed);
    if (!self.feed) {
        zsock_signal (pipe, 0);
        zstr_sendf (pipe, "ERROR cannot bind the feed %s / %s", args->intake_bind, args->feed_bind);
        zsock_destroy (&self.intake);
        return;
    }
    zsock_send (self.intake, "b", "\x01", (size_t) 1);     //  everything, from every replica
    self.m_forwarded = oim_metrics_counter (args->metrics, "oim_feed_forwarded_total", NULL,
                                            "notifications passed from the intake to the feed");
    self.m_refused = oim_metrics_counter (args->metrics, "oim_feed_subscriptions_refused_total",
                                          NULL, "feed subscriptions refused: topic is not the "
                                          "subscriber's organisation");
    self.m_applied = oim_metrics_counter (args->metrics, "oim_feed_subscriptions_total", NULL,
                                          "feed subscriptions applied");
    self.m_rebinds = oim_metrics_counter (args->metrics, "oim_feed_rebinds_total", NULL,
                                          "feed socket re-bound to cut off a revoked subscriber");
    self.grants = zhashx_new ();
    zhashx_set_destructor (self.grants, s_grant_free);
    self.redis = oim_redis_new (args->redis_url, REDIS_TIMEOUT_MSEC, REDIS_TIMEOUT_MSEC);
    if (self.any_topic)
        oim_warn ("event=feed_any_topic reason=\"CURVE off: subscribers choose any topic\"");
    oim_info ("event=feed intake=%s feed=%s", intake, feed);
    zloop_t *loop = self.loop = zloop_new ();
    zloop_reader (loop, pipe, gateway_actor_on_pipe, &self);
    zloop_reader (loop, self.intake, s_on_intake, &self);
    zloop_reader (loop, self.feed, s_on_feed, &self);
    if (!self.any_topic && self.redis)
        zloop_timer (loop, TICK_MSEC, 0, s_on_tick, &self);
    zloop_set_nonstop (loop, true);
    zsock_signal (pipe, 0);
    zstr_sendx (pipe, "READY", feed, intake, NULL);
    zloop_start (loop);
    zloop_destroy (&loop);
    zhashx_destroy (&self.grants);
    oim_redis_destroy (&self.redis);
    zsock_destroy (&self.retired);
    zsock_destroy (&self.feed);
    zsock_destroy (&self.intake);
}
