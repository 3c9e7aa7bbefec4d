/*  fuzz_wire — the broker link's frame decoder (oim_wire_recv: frame count, sizes, the
    protobuf Header, signature, version and command) fed through a real inproc
    DEALER -> ROUTER pair. The input is a list of frames, each <length byte><bytes>; what is
    left after the last whole one is the final frame.  */
#include "oim_wire.h"
#include <czmq.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static zsock_t *s_router, *s_dealer;

static void
s_cleanup (void)
{
    zsock_destroy (&s_dealer);
    zsock_destroy (&s_router);
}

static void
s_open (void)
{
    s_router = zsock_new_router ("inproc://fuzz-wire");
    s_dealer = zsock_new_dealer (">inproc://fuzz-wire");
    zsock_set_rcvtimeo (s_router, 1000);
    atexit (s_cleanup);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_router)
        s_open ();
    void *dealer = zsock_resolve (s_dealer);
    size_t at = 0;
    while (at < size && at + 1 + data [at] < size) {
        zmq_send (dealer, data + at + 1, data [at], ZMQ_SNDMORE);
        at += 1 + data [at];
    }
    zmq_send (dealer, data + at, size - at, 0);
    oim_wire_msg_t msg = { 0 };
    const char *reason = NULL;
    oim_wire_recv (zsock_resolve (s_router), true, &msg, &reason);
    oim_wire_msg_clear (&msg);
    return 0;
}
