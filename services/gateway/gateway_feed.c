/*  gateway_feed — see gateway_feed.h. One zloop: notifications from the intake to the feed,
    whole messages; subscription messages from the feed, checked one by one.
*/
#include "gateway_feed.h"
#include "oim_log.h"

#define FEED_HWM 100000
#define TOPIC_MAX 256

typedef struct {
    zsock_t *intake;                //  XSUB
    zsock_t *feed;                  //  XPUB, manual
    bool any_topic;                 //  CURVE off: no User-Id to check against
    oim_metric_t *m_forwarded;
    oim_metric_t *m_refused;
    oim_metric_t *m_applied;
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

static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop; (void) arg;
    char *command = zstr_recv (pipe);
    bool term = !command || streq (command, "$TERM");
    zstr_free (&command);
    return term? -1: 0;
}

//  A socket of the feed, CURVE server of domain, bound. NULL when it cannot bind (or plain
//  ZeroMQ would expose it: logged).
static zsock_t *
s_bind (int type, const oim_curve_t *curve, const char *domain, const char *endpoint,
        char *bound, size_t bound_size)
{
    if (oim_curve_check_endpoint (curve, endpoint))
        return NULL;
    zsock_t *socket = zsock_new (type);
    if (!socket)
        return NULL;
    zsock_set_sndhwm (socket, FEED_HWM);
    zsock_set_rcvhwm (socket, FEED_HWM);
    zsock_set_linger (socket, 0);
    zsock_set_maxmsgsize (socket, 1024 * 1024);
    if (type == ZMQ_XPUB)
        zsock_set_xpub_manual (socket, 1);
    if (oim_curve_server (curve, socket, domain) || zsock_bind (socket, "%s", endpoint) < 0) {
        zsock_destroy (&socket);
        return NULL;
    }
    char *last = zsock_last_endpoint (socket);        //  a fresh string: ours to free
    snprintf (bound, bound_size, "%s", last? last: endpoint);
    free (last);
    return socket;
}

void
gateway_feed_actor (zsock_t *pipe, void *arg)
{
    gateway_feed_args_t *args = arg;
    feed_t self = { .any_topic = !oim_curve_enabled (args->curve) };
    char intake [256] = "", feed [256] = "";
    self.intake = s_bind (ZMQ_XSUB, args->curve, "internal", args->intake_bind, intake, sizeof intake);
    self.feed = self.intake? s_bind (ZMQ_XPUB, args->curve, "feed", args->feed_bind, feed, sizeof feed)
                           : NULL;
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
    if (self.any_topic)
        oim_warn ("event=feed_any_topic reason=\"CURVE off: subscribers choose any topic\"");
    oim_info ("event=feed intake=%s feed=%s", intake, feed);
    zloop_t *loop = zloop_new ();
    zloop_reader (loop, pipe, s_on_pipe, &self);
    zloop_reader (loop, self.intake, s_on_intake, &self);
    zloop_reader (loop, self.feed, s_on_feed, &self);
    zloop_set_nonstop (loop, true);
    zsock_signal (pipe, 0);
    zstr_sendx (pipe, "READY", feed, intake, NULL);
    zloop_start (loop);
    zloop_destroy (&loop);
    zsock_destroy (&self.feed);
    zsock_destroy (&self.intake);
}
