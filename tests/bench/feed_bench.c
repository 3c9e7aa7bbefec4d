/*  feed_bench — one run of the ZeroMQ feed's throughput through a real oim-gateway: a PUB
    publishes COUNT notifications of SIZE bytes (topic TOPIC) into the gateway's intake as
    notify does, a SUB on the public feed port counts what arrives, and the rate is what the
    subscriber received per second between its first and last message. Driven by
    feed_bench.py, which runs it against a gateway with CURVE on and another with it off.

    usage: feed_bench INTAKE FEED TOPIC COUNT SIZE [SERVER_KEY PUB_PUBLIC PUB_SECRET
                                                    SUB_PUBLIC SUB_SECRET]
    The five keys (Z85) make both sockets CURVE clients: the publisher with daemon.cert's
    keypair, the subscriber with the topic's registered feed key. Prints one line:
    "received=N sent=N seconds=S rate=R".
*/
#include <czmq.h>

#define WINDOW 20000

//  True when socket has a message within msec.
static bool
s_readable (zsock_t *socket, int msec)
{
    zmq_pollitem_t item = { zsock_resolve (socket), 0, ZMQ_POLLIN, 0 };
    return zmq_poll (&item, 1, msec) > 0;
}

static void
s_curve (zsock_t *socket, const char *server, const char *public_key, const char *secret_key)
{
    zsock_set_curve_serverkey (socket, server);
    zsock_set_curve_publickey (socket, public_key);
    zsock_set_curve_secretkey (socket, secret_key);
}

//  Publishes probes until the subscriber gets one (the subscription joins asynchronously).
static int
s_join (zsock_t *pub, zsock_t *sub, const char *topic)
{
    for (int i = 0; i < 500; i++) {
        zsock_send (pub, "ss", topic, "probe");
        if (s_readable (sub, 20))
            break;
    }
    int probes = 0;
    while (s_readable (sub, 200)) {
        zmsg_t *msg = zmsg_recv (sub);
        zmsg_destroy (&msg);
        probes++;
    }
    return probes? 0: -1;
}

int
main (int argc, char **argv)
{
    if (argc != 6 && argc != 11) {
        fprintf (stderr, "usage: feed_bench INTAKE FEED TOPIC COUNT SIZE [5 Z85 keys]\n");
        return 2;
    }
    const char *topic = argv [3];
    long count = atol (argv [4]);
    size_t size = (size_t) atol (argv [5]);
    zsock_t *pub = zsock_new (ZMQ_PUB), *sub = zsock_new (ZMQ_SUB);
    zsock_set_sndhwm (pub, 100000);
    zsock_set_rcvhwm (sub, 1000000);
    if (argc == 11) {
        s_curve (pub, argv [6], argv [7], argv [8]);
        s_curve (sub, argv [6], argv [9], argv [10]);
    }
    zsock_set_subscribe (sub, topic);
    zsock_connect (sub, "%s", argv [2]);
    zsock_connect (pub, "%s", argv [1]);
    if (s_join (pub, sub, topic)) {
        fprintf (stderr, "feed_bench: the subscription never joined\n");
        return 1;
    }
    char *body = malloc (size);
    memset (body, 'n', size);
    void *out = zsock_resolve (pub), *in = zsock_resolve (sub);
    long sent = 0, received = 0;
    int64_t first_us = 0, last_us = 0;
    zmq_pollitem_t item = { in, 0, ZMQ_POLLIN, 0 };
    //  Send and receive in one thread, the subscriber drained whenever it has something, at
    //  most WINDOW messages on their way (PUB/SUB has no flow control: past the HWMs it drops,
    //  and the measure would be of drops), so that the measure is the gateway's forwarding.
    while (true) {
        if (sent < count && sent - received < WINDOW) {
            if (zmq_send (out, topic, strlen (topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0
            &&  zmq_send (out, body, size, ZMQ_DONTWAIT) >= 0)
                sent++;
        }
        else
        if (zmq_poll (&item, 1, 1000) <= 0)
            break;              //  all sent and a second without more: done (or lost)
        zmq_msg_t part;
        zmq_msg_init (&part);
        while (zmq_msg_recv (&part, in, ZMQ_DONTWAIT) >= 0) {
            if (!zmq_msg_more (&part)) {
                last_us = zclock_usecs ();
                if (!received++)
                    first_us = last_us;
            }
        }
        zmq_msg_close (&part);
    }
    double seconds = (double) (last_us - first_us) / 1e6;
    printf ("received=%ld sent=%ld seconds=%.3f rate=%.0f\n", received, sent, seconds,
            seconds > 0? (double) received / seconds: 0.0);
    free (body);
    zsock_destroy (&pub);
    zsock_destroy (&sub);
    return 0;
}
