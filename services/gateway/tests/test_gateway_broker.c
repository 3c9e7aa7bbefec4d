/*  test_gateway_broker — the broker actor in-process, with a real worker (oim_peer) over
    tcp://127.0.0.1:* and a client DEALER on its inproc frontend: no live worker is an
    immediate 503; a registered worker gets the request and its reply comes back whole; a
    worker that does not answer gives 504 by the request's deadline; a worker that dies with a
    request in flight gives 503 once the broker expires it (three silent heartbeats).
    Then the daemon template itself in-process: oim_service_main in a thread, against this
    broker and a throw-away redis-server, answers its API method (ApiRequest -> ApiReply),
    the built-ins oim.status (with a live Redis PING) and oim.metrics, 404 for an unknown
    method, runs its start / tick / stop hooks and returns 0 on SIGTERM.
    Plain ZeroMQ on loopback (CURVE is tested end to end in test_security_curve.py).
*/
#include "gateway_broker.h"
#include "oim_clock.h"
#include "oim_peer.h"
#include "oim_service.h"
#include "oim_wire.h"
#include "oim_api.h"
#include "oim_test_redis.h"
#include "wire.pb-c.h"

#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#define HEARTBEAT_MSEC 100

typedef struct {
    zactor_t *broker;
    char *backend, *frontend, *ingest;
    zsock_t *client;
    oim_metrics_t *metrics;
    oim_curve_t *gateway_curve, *daemon_curve;
    uint64_t correlation;
} fixture_t;

static void
s_start (fixture_t *f)
{
    f->metrics = oim_metrics_new ("service=\"gateway\"");
    f->gateway_curve = oim_curve_new ("off", "", OIM_CURVE_ROLE_GATEWAY);
    f->daemon_curve = oim_curve_new ("off", "", OIM_CURVE_ROLE_DAEMON);
    assert (f->gateway_curve && f->daemon_curve);
    gateway_broker_args_t args = { .backend_bind = "tcp://127.0.0.1:*", .ingest_bind = "",
        .ingest_max_in_flight = 1, .ingest_max_in_flight_peer = 1, .curve = f->gateway_curve,
        .heartbeat_msec = HEARTBEAT_MSEC, .default_timeout_msec = 2000, .metrics = f->metrics };
    f->broker = zactor_new (gateway_broker_actor, &args);
    char *status = zstr_recv (f->broker);
    assert (status && streq (status, "READY"));
    zstr_free (&status);
    zstr_recvx (f->broker, &f->backend, &f->frontend, &f->ingest, NULL);
    f->client = zsock_new (ZMQ_DEALER);
    zsock_set_linger (f->client, 0);
    assert (zsock_connect (f->client, "%s", f->frontend) == 0);
}

static void
s_stop (fixture_t *f)
{
    zsock_destroy (&f->client);
    zactor_destroy (&f->broker);
    zstr_free (&f->backend);
    zstr_free (&f->frontend);
    zstr_free (&f->ingest);
    oim_curve_destroy (&f->gateway_curve);
    oim_curve_destroy (&f->daemon_curve);
    oim_metrics_destroy (&f->metrics);
}

//  Sends `size` bytes to service.method with a timeout; returns its correlation id.
static uint64_t
s_send_to (fixture_t *f, const char *service, const char *method, int timeout_msec,
           const void *body, size_t size)
{
    Oim__V1__Header header;
    oim_wire_header_init (&header, OIM__V1__COMMAND__COMMAND_REQUEST);
    header.service = (char *) service;
    header.method = (char *) method;
    header.request_id = "test";
    header.correlation_id = ++f->correlation;
    header.timeout_ms = (uint32_t) timeout_msec;
    int rc = oim_wire_send (zsock_resolve (f->client), NULL, 0, &header, body, size);
    assert (rc == 0);
    return f->correlation;
}

//  Sends a request for echo.say with a timeout; returns its correlation id.
static uint64_t
s_send (fixture_t *f, int timeout_msec, const char *body)
{
    return s_send_to (f, "echo", "echo.say", timeout_msec, body, strlen (body));
}

//  Keeps a worker's link alive: heartbeats when due, link traffic read, requests dropped.
static void
s_worker_idle (oim_peer_t *peer)
{
    if (!peer)
        return;
    oim_peer_tick (peer);
    zsock_set_rcvtimeo (oim_peer_socket (peer), 0);
    oim_wire_msg_t request = { 0 };
    while (oim_peer_recv (peer, &request) >= 0)
        oim_wire_msg_clear (&request);
}

//  The client's answer to correlation id (others dropped) within wait_msec, the worker (if
//  any) kept alive meanwhile: its status, the body in *body (caller frees); 0 when none came.
static uint32_t
s_answer (fixture_t *f, oim_peer_t *peer, uint64_t id, int wait_msec, uint8_t **body, size_t *size)
{
    int64_t deadline = oim_clock_mono_ms () + wait_msec;
    while (oim_clock_mono_ms () < deadline) {
        s_worker_idle (peer);
        zsock_set_rcvtimeo (f->client, 20);
        oim_wire_msg_t msg = { 0 };
        const char *reason;
        if (oim_wire_recv (zsock_resolve (f->client), false, &msg, &reason) != 0)
            continue;
        uint32_t status = msg.header->correlation_id == id? msg.header->status: 0;
        if (status && body) {
            *body = msg.body;
            *size = msg.body_size;
            msg.body = NULL;
        }
        oim_wire_msg_clear (&msg);
        if (status)
            return status;
    }
    return 0;
}

//  Reads the worker's socket until a request arrives (link traffic handled) or wait_msec ends.
static bool
s_worker_request (oim_peer_t *peer, oim_wire_msg_t *request, int wait_msec)
{
    int64_t deadline = oim_clock_mono_ms () + wait_msec;
    zpoller_t *poller = zpoller_new (oim_peer_socket (peer), NULL);
    bool got = false;
    while (!got && oim_clock_mono_ms () < deadline) {
        oim_peer_tick (peer);
        if (zpoller_wait (poller, 20))
            got = oim_peer_recv (peer, request) == 1;
    }
    zpoller_destroy (&poller);
    return got;
}

static void
test_no_worker (fixture_t *f)
{
    int64_t t0 = oim_clock_mono_ms ();
    uint32_t status = s_answer (f, NULL, s_send (f, 1000, "x"), 2000, NULL, NULL);
    assert (status == 503);
    assert (oim_clock_mono_ms () - t0 < 500);       //  at once, not by the deadline
}

//  Sends requests until the worker (READY in flight) gets one; the worker answers 200 with a
//  body holding a NUL, which must come back whole.
static void
test_round_trip (fixture_t *f, oim_peer_t *peer)
{
    oim_wire_msg_t request = { 0 };
    uint64_t id = 0;
    for (int attempt = 0; attempt < 100 && !request.header; attempt++) {
        id = s_send (f, 2000, "ping");
        if (!s_worker_request (peer, &request, 50))
            assert (s_answer (f, peer, id, 500, NULL, NULL) == 503);     //  not registered yet
    }
    assert (request.header && streq (request.header->method, "echo.say"));
    assert (request.body_size == 4 && memcmp (request.body, "ping", 4) == 0);
    static const uint8_t reply [] = { 'p', 0, 'n', 'g' };
    assert (oim_peer_reply (peer, &request, 200, reply, sizeof reply) == 0);
    oim_wire_msg_clear (&request);
    uint8_t *body = NULL;
    size_t size = 0;
    assert (s_answer (f, peer, id, 2000, &body, &size) == 200);
    assert (size == sizeof reply && memcmp (body, reply, size) == 0);
    free (body);
}

static void
test_timeout (fixture_t *f, oim_peer_t *peer)
{
    int64_t t0 = oim_clock_mono_ms ();
    uint64_t id = s_send (f, 300, "slow");
    oim_wire_msg_t request = { 0 };
    assert (s_worker_request (peer, &request, 1000));
    oim_wire_msg_clear (&request);                  //  never answered
    uint32_t status = s_answer (f, peer, id, 3000, NULL, NULL);
    int64_t took = oim_clock_mono_ms () - t0;
    assert (status == 504);
    assert (took >= 250 && took < 2000);
}

static void
test_worker_dies (fixture_t *f, oim_peer_t **peer_p)
{
    uint64_t id = s_send (f, 5000, "doomed");
    oim_wire_msg_t request = { 0 };
    assert (s_worker_request (*peer_p, &request, 1000));
    oim_wire_msg_clear (&request);
    oim_peer_destroy (peer_p);                      //  gone with the request in flight
    int64_t t0 = oim_clock_mono_ms ();
    uint32_t status = s_answer (f, NULL, id, 4000, NULL, NULL);
    assert (status == 503);
    assert (oim_clock_mono_ms () - t0 < 3000);      //  expired, not the 5 s deadline
}

//  --------------------------------------------------------------------------
//  The daemon template in-process: a "tmpl" daemon with one API method.

static atomic_int s_starts, s_ticks, s_stops;

static int
s_tmpl_start (oim_service_t *service) { (void) service; atomic_fetch_add (&s_starts, 1); return 0; }
static void
s_tmpl_tick (oim_service_t *service) { (void) service; atomic_fetch_add (&s_ticks, 1); }
static void
s_tmpl_stop (oim_service_t *service) { (void) service; atomic_fetch_add (&s_stops, 1); }

//  tmpl.echo: answers {"path": <the request's path>, "body": <its JSON body>}.
static void
s_tmpl_echo (oim_service_t *service, const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    (void) service;
    json_t *body = json_loadb ((const char *) request->body.data, request->body.len, 0, NULL);
    oim_api_ok (reply, 200, json_pack ("{s:s, s:o}", "path", request->path,
                                       "body", body? body: json_null ()));
}

static const oim_method_t s_tmpl_methods [] = {
    { "tmpl.echo", s_tmpl_echo, NULL },
    { NULL, NULL, NULL }
};

static const oim_service_def_t s_tmpl_def = {
    .name = "tmpl", .summary = "in-process template test", .methods = s_tmpl_methods,
    .start = s_tmpl_start, .tick = s_tmpl_tick, .stop = s_tmpl_stop, .tick_msec = 20
};

typedef struct {
    char *argv [16];
    int argc;
    int exit_code;
} s_daemon_t;

static void *
s_daemon_thread (void *arg)
{
    s_daemon_t *d = arg;
    d->exit_code = oim_service_main (&s_tmpl_def, d->argc, d->argv);
    return NULL;
}

//  Sends an ApiRequest for tmpl.echo until the daemon (registering) answers; its status and
//  ApiReply.
static uint32_t
s_tmpl_call (fixture_t *f, const char *method, Oim__V1__ApiReply **reply_p)
{
    Oim__V1__ApiRequest api = OIM__V1__API_REQUEST__INIT;
    api.http_method = "POST";
    api.path = "/v1/tmpl/상태";
    api.body.data = (uint8_t *) "{\"name\":\"한글\"}";
    api.body.len = strlen ((char *) api.body.data);
    size_t size;
    uint8_t *packed = oim_wire_pack (&api.base, &size);
    uint32_t status = 0;
    uint8_t *body = NULL;
    size_t body_size = 0;
    for (int attempt = 0; attempt < 100 && (status == 0 || status == 503); attempt++) {
        free (body);
        body = NULL;
        status = s_answer (f, NULL, s_send_to (f, "tmpl", method, 2000, packed, size), 2500,
                           &body, &body_size);
        if (status == 503)
            zclock_sleep (50);      //  not registered yet
    }
    free (packed);
    if (reply_p)
        *reply_p = body? oim__v1__api_reply__unpack (NULL, body_size, body): NULL;
    free (body);
    return status;
}

static void
test_template (fixture_t *f)
{
    oim_test_redis_t server;
    oim_redis_t *redis = oim_test_redis_start (&server, "tmpl");
    assert (redis);
    oim_redis_destroy (&redis);
    s_daemon_t d = { .argc = 0 };
    char broker [256];
    snprintf (broker, sizeof broker, "%s", f->backend);
    char *argv [] = { "oim-tmpl", "--redis-url", server.url, "--broker-endpoint", broker,
                      "--curve", "off", "--heartbeat-ms", "100", "--log-level", "warn",
                      "--health-file", "/tmp/oim-tmpl-test.health", NULL };
    for (; argv [d.argc]; d.argc++)
        d.argv [d.argc] = argv [d.argc];
    pthread_t thread;
    assert (pthread_create (&thread, NULL, s_daemon_thread, &d) == 0);

    Oim__V1__ApiReply *reply = NULL;
    assert (s_tmpl_call (f, "tmpl.echo", &reply) == 200);
    assert (reply && reply->status == 200);
    json_t *json = json_loadb ((const char *) reply->body.data, reply->body.len, 0, NULL);
    assert (json && streq (json_string_value (json_object_get (json, "path")), "/v1/tmpl/상태"));
    assert (streq (json_string_value (json_object_get (json_object_get (json, "body"), "name")),
                   "한글"));
    json_decref (json);
    oim__v1__api_reply__free_unpacked (reply, NULL);

    assert (s_tmpl_call (f, "tmpl.nothing", NULL) == 404);

    //  oim.status: its name, and a live PING
    Oim__V1__StatusReply *status = NULL;
    for (int attempt = 0; attempt < 50 && !(status && status->redis_ok); attempt++) {
        if (status)
            oim__v1__status_reply__free_unpacked (status, NULL);
        uint8_t *body = NULL;
        size_t size = 0;
        assert (s_answer (f, NULL, s_send_to (f, "tmpl", "oim.status", 2000, "", 0), 2500,
                          &body, &size) == 200);
        status = oim__v1__status_reply__unpack (NULL, size, body);
        free (body);
        assert (status && streq (status->service, "tmpl"));
        if (!status->redis_ok)
            zclock_sleep (100);
    }
    assert (status->redis_ok && status->requests >= 2);
    oim__v1__status_reply__free_unpacked (status, NULL);

    uint8_t *metrics = NULL;
    size_t size = 0;
    assert (s_answer (f, NULL, s_send_to (f, "tmpl", "oim.metrics", 2000, "", 0), 2500,
                      &metrics, &size) == 200);
    char *text = strndup ((char *) metrics, size);
    assert (strstr (text, "oim_requests_total{service=\"tmpl\""));
    free (text);
    free (metrics);

    assert (atomic_load (&s_starts) == 1);
    for (int64_t until = oim_clock_mono_ms () + 2000; !atomic_load (&s_ticks) && oim_clock_mono_ms () < until; )
        zclock_sleep (10);          //  the first tick is tick_msec after the loop starts
    assert (atomic_load (&s_ticks) >= 1);
    assert (atomic_load (&s_stops) == 0);
    raise (SIGTERM);                //  czmq's handler: the daemon's loop ends
    pthread_join (thread, NULL);
    assert (d.exit_code == 0 && atomic_load (&s_stops) == 1);
    oim_test_redis_stop (&server);
}

int
main (int argc, char **argv)
{
    bool verbose = argc > 1 && streq (argv [1], "-v");
    zsys_init ();
    zsys_set_linger (0);
    if (!verbose)
        zsys_set_logstream (NULL);
    fixture_t f = { 0 };
    s_start (&f);
    test_no_worker (&f);
    oim_peer_t *peer = oim_peer_new (f.backend, "echo", "echo-1", HEARTBEAT_MSEC, f.daemon_curve);
    assert (peer);
    test_round_trip (&f, peer);
    test_timeout (&f, peer);
    test_worker_dies (&f, &peer);
    test_template (&f);
    s_stop (&f);
    printf ("test_gateway_broker: OK\n");
    return 0;
}
