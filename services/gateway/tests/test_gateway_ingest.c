/*  test_gateway_ingest — gateway_ingest's contract on a real ROUTER (plain ZeroMQ, loopback):
    refusals answered at once from the scanned batch (malformed, too many events, no key,
    more frames), admission up to the per-peer and total limits then 503, a slot freed by
    the answer, a REQ peer's delimiter kept, refusals counted by reason. */
#include "gateway_ingest.h"
#include "oim_log.h"
#include "ingest.pb-c.h"

#define CHECK(cond) do { if (!(cond)) { fprintf (stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); exit (1); } } while (0)

//  The next batch the endpoint admits (NULL when it answered or dropped it), after one send.
static gateway_ingest_req_t *
s_recv (gateway_ingest_t *ingest)
{
    zpoller_t *poller = zpoller_new (gateway_ingest_socket (ingest), NULL);
    CHECK (zpoller_wait (poller, 2000));
    zpoller_destroy (&poller);
    return gateway_ingest_recv (ingest);
}

//  The ack the client got: its status, batch_id copied into id.
static uint32_t
s_ack (zsock_t *client, char *id, size_t id_size)
{
    zsock_set_rcvtimeo (client, 2000);
    zframe_t *frame = zframe_recv (client);
    CHECK (frame);
    if (zsock_type (client) == ZMQ_DEALER && zframe_size (frame) == 0) {    //  REQ-style
        zframe_destroy (&frame);
        frame = zframe_recv (client);
        CHECK (frame);
    }
    Oim__V1__IngestAck *ack = oim__v1__ingest_ack__unpack (NULL, zframe_size (frame),
                                                           zframe_data (frame));
    CHECK (ack);
    uint32_t status = ack->status;
    snprintf (id, id_size, "%s", ack->batch_id);
    oim__v1__ingest_ack__free_unpacked (ack, NULL);
    zframe_destroy (&frame);
    return status;
}

static void
s_send_batch (zsock_t *client, const char *batch_id, const char *key, size_t events)
{
    Oim__V1__IngestBatch batch = OIM__V1__INGEST_BATCH__INIT;
    Oim__V1__DemandEvent event = OIM__V1__DEMAND_EVENT__INIT;
    Oim__V1__DemandEvent **list = calloc (events + 1, sizeof *list);
    for (size_t i = 0; i < events; i++)
        list [i] = &event;
    batch.batch_id = (char *) batch_id;
    batch.api_key = (char *) key;
    batch.events = list;
    batch.n_events = events;
    size_t size = protobuf_c_message_get_packed_size (&batch.base);
    uint8_t *data = malloc (size + 1);
    protobuf_c_message_pack (&batch.base, data);
    zframe_t *frame = zframe_new (data, size);
    CHECK (zframe_send (&frame, client, 0) == 0);
    free (data);
    free (list);
}

static int64_t
s_refused (oim_metrics_t *metrics, const char *reason)
{
    char labels [64];
    snprintf (labels, sizeof labels, "reason=\"%s\"", reason);
    return oim_metric_value (oim_metrics_counter (metrics, "oim_ingest_refused_total", labels, ""));
}

int
main (void)
{
    oim_log_init ("test", "error");
    oim_curve_t *curve = oim_curve_new ("off", "", OIM_CURVE_ROLE_GATEWAY);
    oim_metrics_t *metrics = oim_metrics_new (NULL);
    gateway_ingest_args_t args = { .bind = "tcp://127.0.0.1:*", .curve = curve,
                                   .max_in_flight = 3, .max_in_flight_peer = 2, .metrics = metrics };
    char bound [256];
    CHECK (!gateway_ingest_new (&(gateway_ingest_args_t) { .bind = "tcp://0.0.0.0:*",
           .curve = curve, .max_in_flight = 1, .max_in_flight_peer = 1, .metrics = metrics },
           bound, sizeof bound));                           //  plain beyond loopback: refused
    gateway_ingest_t *ingest = gateway_ingest_new (&args, bound, sizeof bound);
    CHECK (ingest);
    zsock_t *a = zsock_new_dealer (bound), *b = zsock_new_dealer (bound);
    zsock_t *req = zsock_new_req (bound);
    char id [300];

    //  Refusals, answered at once, counted.
    zstr_send (a, "\xff\xfe not protobuf");
    CHECK (!s_recv (ingest) && s_ack (a, id, sizeof id) == 400);
    s_send_batch (a, "many", "k", 1001);
    CHECK (!s_recv (ingest) && s_ack (a, id, sizeof id) == 413 && streq (id, "many"));
    s_send_batch (a, "keyless", "", 1);
    CHECK (!s_recv (ingest) && s_ack (a, id, sizeof id) == 401 && streq (id, "keyless"));
    zstr_sendx (a, "x", "y", "z", NULL);
    CHECK (!s_recv (ingest) && s_ack (a, id, sizeof id) == 400);
    CHECK (s_refused (metrics, "malformed") == 2 && s_refused (metrics, "too_large") == 1
        && s_refused (metrics, "unauthenticated") == 1);

    //  Admission: two for peer a, the third 503 at once; b takes the last total slot.
    s_send_batch (a, "a1", "k", 1);
    gateway_ingest_req_t *a1 = s_recv (ingest);
    CHECK (a1 && streq (gateway_ingest_req_user_id (a1), ""));
    size_t size;
    CHECK (gateway_ingest_req_body (a1, &size) && size > 0);
    gateway_ingest_req_sent (a1);
    CHECK (!gateway_ingest_req_body (a1, &size) && size == 0);
    s_send_batch (a, "a2", "k", 1);
    gateway_ingest_req_t *a2 = s_recv (ingest);
    CHECK (a2);
    s_send_batch (a, "a3", "k", 1);
    CHECK (!s_recv (ingest) && s_ack (a, id, sizeof id) == 503 && streq (id, "a3"));
    s_send_batch (b, "b1", "k", 1);
    gateway_ingest_req_t *b1 = s_recv (ingest);
    CHECK (b1);
    s_send_batch (req, "r1", "k", 1);                       //  total limit: 3
    CHECK (!s_recv (ingest) && s_ack (req, id, sizeof id) == 503 && streq (id, "r1"));
    CHECK (s_refused (metrics, "busy") == 2);

    //  Answers: the registry's ack relayed, an empty one replaced; each frees a slot.
    gateway_ingest_answer (ingest, &a1, 504, NULL, 0);
    CHECK (!a1 && s_ack (a, id, sizeof id) == 504 && streq (id, "a1"));
    Oim__V1__IngestAck ack = OIM__V1__INGEST_ACK__INIT;
    ack.batch_id = "from-registry";
    ack.status = 403;
    uint8_t body [64];
    size_t body_size = protobuf_c_message_pack (&ack.base, body);
    gateway_ingest_answer (ingest, &a2, 403, body, body_size);
    CHECK (s_ack (a, id, sizeof id) == 403 && streq (id, "from-registry"));
    CHECK (s_refused (metrics, "unauthenticated") == 2);
    s_send_batch (req, "r2", "k", 1);                       //  a slot again, from a REQ
    gateway_ingest_req_t *r2 = s_recv (ingest);
    CHECK (r2);
    gateway_ingest_answer (ingest, &r2, 503, NULL, 0);
    CHECK (s_ack (req, id, sizeof id) == 503 && streq (id, "r2"));
    gateway_ingest_req_destroy (&b1);
    gateway_ingest_req_destroy (&b1);                       //  NULL: nothing
    gateway_ingest_req_destroy (NULL);

    zsock_destroy (&a);
    zsock_destroy (&b);
    zsock_destroy (&req);
    gateway_ingest_destroy (&ingest);
    gateway_ingest_destroy (&ingest);
    oim_metrics_destroy (&metrics);
    oim_curve_destroy (&curve);
    printf ("gateway_ingest: OK\n");
    return 0;
}
