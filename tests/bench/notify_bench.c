/*  notify_bench — webhook delivery throughput and attempt latency of notify_webhook.

    In one process: a fast receiver on libmicrohttpd (epoll, thread pool) that verifies every
    signature with notify_sign_verify and answers 200 (400 on a bad one); "hanging"
    endpoints that are listening sockets nobody accepts on (the request is sent, no answer
    ever comes); and the engine on one thread. For 1, 10 and 100 endpoints, with and without 10% of
    them hanging, it keeps a window of deliveries outstanding and reports deliveries/s and
    p50/p99 attempt latency (dispatch → response). The receiver's own ceiling is measured
    with wrk against the same URL, same signed body, in the same run, and printed as a ratio.

    Usage: notify_bench [seconds per scenario = 3] [wrk connections = 64] [own | poll]
    own (default): the engine's own epoll fd, as the daemon's zloop polls it; poll: adapter
    mode under the tests' poll(2) reactor (O(fds) per turn, for comparison).
    NOTIFY_BENCH_PER_ENDPOINT=n overrides max_in_flight_per_endpoint (default 8).
    Requires wrk on PATH. Prints one line per scenario.  */
#include "notify_sign.h"
#include "notify_test_util.h"
#include "notify_webhook.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define s_WINDOW      2048        //  deliveries outstanding to healthy endpoints
#define s_MAX_SAMPLES 2000000
#define s_BODY "{\"id\":\"ntf_bench\",\"type\":\"match.created\",\"org_id\":\"org_1\"," \
               "\"created_at\":\"2026-11-30T00:00:00Z\",\"data\":{\"id\":\"mat_1\"," \
               "\"demand_id\":\"dem_1\",\"startup_id\":\"org_2\",\"score\":0.82}}"

typedef struct {
    notify_sign_t *signer;
    atomic_ulong verified;
    atomic_ulong rejected;
} s_receiver_t;

typedef struct {
    char *body;
    size_t size;
} s_upload_t;

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *data, size_t *data_size, void **state)
{
    (void) url; (void) method; (void) version;
    s_receiver_t *receiver = (s_receiver_t *) cls;
    s_upload_t *upload = (s_upload_t *) *state;
    if (!upload) {
        *state = calloc (1, sizeof (s_upload_t));
        return *state ? MHD_YES : MHD_NO;
    }
    if (*data_size) {
        char *grown = (char *) realloc (upload->body, upload->size + *data_size);
        if (!grown)
            return MHD_NO;
        memcpy (grown + upload->size, data, *data_size);
        upload->body = grown;
        upload->size += *data_size;
        *data_size = 0;
        return MHD_YES;
    }
    const char *id = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "webhook-id");
    const char *ts = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "webhook-timestamp");
    const char *sig = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "webhook-signature");
    bool ok = id && ts && sig
           && notify_sign_verify (receiver->signer, id, strtoll (ts, NULL, 10), upload->body,
                                  upload->size, sig);
    atomic_fetch_add (ok ? &receiver->verified : &receiver->rejected, 1);
    struct MHD_Response *response = MHD_create_response_from_buffer (0, "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response (connection, ok ? 200 : 400, response);
    MHD_destroy_response (response);
    return rc;
}

static void
s_completed (void *cls, struct MHD_Connection *connection, void **state,
             enum MHD_RequestTerminationCode code)
{
    (void) cls; (void) connection; (void) code;
    s_upload_t *upload = (s_upload_t *) *state;
    if (upload) {
        free (upload->body);
        free (upload);
        *state = NULL;
    }
}

//  --------------------------------------------------------------------------

typedef struct {
    int64_t *latency_usec;
    size_t samples;
    size_t delivered;
    size_t failed;
    size_t outstanding;        //  to healthy endpoints
    bool submit_to_end;        //  latency from submit (open loop), not from dispatch
} s_run_t;

static void
s_on_result (const notify_webhook_result_t *result, void *arg)
{
    s_run_t *run = (s_run_t *) arg;
    if (result->user)          //  hanging endpoints carry no user pointer
        run->outstanding--;
    else
        return;
    if (result->outcome == NOTIFY_WEBHOOK_DELIVERED) {
        run->delivered++;
        if (run->samples < s_MAX_SAMPLES)
            run->latency_usec [run->samples++] = result->latency_usec
                + (run->submit_to_end ? result->queued_usec : 0);
    }
    else
        run->failed++;
}

static int
s_cmp (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static int
s_listen_hanging (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    CHECK (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0);
    CHECK (listen (fd, 4096) == 0 && getsockname (fd, (struct sockaddr *) &addr, &len) == 0);
    return ntohs (addr.sin_port) | fd << 16;       //  port and fd in one int
}

//  One scenario; returns deliveries/s and fills p50/p99 (µs).
static double
s_scenario (int port, const char *secret, bool adapter_mode, int endpoints, int hanging,
            int rate, int seconds, int64_t *p50, int64_t *p99, size_t *failed)
{
    s_run_t run = { .latency_usec = (int64_t *) malloc (s_MAX_SAMPLES * sizeof (int64_t)),
                    .submit_to_end = rate > 0 };
    CHECK (run.latency_usec);
    notify_webhook_config_t config;
    notify_webhook_config_defaults (&config);
    config.max_in_flight = 1024;
    const char *per_endpoint = getenv ("NOTIFY_BENCH_PER_ENDPOINT");
    if (per_endpoint && atoi (per_endpoint) > 0)
        config.max_in_flight_per_endpoint = (size_t) atoi (per_endpoint);
    config.timeout_msec = (seconds + 5) * 1000L;     //  hanging ones stay hung all run
    notify_test_loop_t *loop = NULL;
    notify_webhook_engine_t *engine;
    if (adapter_mode) {
        loop = notify_test_loop_new ();
        notify_webhook_loop_t adapter = notify_test_loop_adapter (loop);
        engine = notify_webhook_engine_new (&config, &adapter, s_on_result, &run);
        notify_test_loop_attach (loop, engine);
    }
    else
        engine = notify_webhook_engine_new (&config, NULL, s_on_result, &run);
    CHECK (engine);

    char (*urls) [128] = calloc ((size_t) endpoints, 128);
    char (*ids) [32] = calloc ((size_t) endpoints, 32);
    int *hang_fds = calloc ((size_t) endpoints, sizeof (int));
    for (int i = 0; i < endpoints; i++) {
        snprintf (ids [i], 32, "org_%d", i);
        hang_fds [i] = -1;
        if (i < hanging) {
            int both = s_listen_hanging ();
            hang_fds [i] = both >> 16;
            snprintf (urls [i], 128, "http://127.0.0.1:%d/hang/%d", both & 0xffff, i);
        }
        else
            snprintf (urls [i], 128, "http://127.0.0.1:%d/ok/%d", port, i);
    }
    char msg_id [64];
    uint64_t sequence = 0;
    int next = 0;
    int64_t start = notify_test_now_msec ();
    int64_t end = start + seconds * 1000;
    while (notify_test_now_msec () < end) {
        //  Keep the window full, round-robin over all endpoints (hanging ones included:
        //  their queues fill up and answer BUSY, as they would in production).
        //  Open loop (rate > 0): as many as are due by now; else keep the window full.
        int64_t due = rate > 0 ? (notify_test_now_msec () - start) * rate / 1000 : INT64_MAX;
        int tries = 0;
        while (run.outstanding < s_WINDOW && (int64_t) sequence < due
           &&  tries++ < endpoints * 2) {
            int i = next;
            next = (next + 1) % endpoints;
            snprintf (msg_id, sizeof msg_id, "ntf_%016llx", (unsigned long long) sequence++);
            notify_webhook_request_t request = {
                .endpoint_id = ids [i], .url = urls [i], .msg_id = msg_id, .secret = secret,
                .body = s_BODY, .body_size = strlen (s_BODY), .user = i < hanging ? NULL : &run
            };
            if (notify_webhook_engine_submit (engine, &request) == NOTIFY_WEBHOOK_ACCEPTED
            &&  i >= hanging)
                run.outstanding++;
            if (i >= hanging)
                tries = 0;
        }
        int wait_msec = rate > 0 ? 1 : 10;
        if (loop)
            notify_test_loop_run_once (loop, wait_msec);
        else
            notify_webhook_engine_wait (engine, wait_msec);
    }
    double elapsed = (double) (notify_test_now_msec () - start) / 1000.0;
    double delivered_rate = (double) run.delivered / elapsed;
    qsort (run.latency_usec, run.samples, sizeof (int64_t), s_cmp);
    *p50 = run.samples ? run.latency_usec [run.samples / 2] : 0;
    *p99 = run.samples ? run.latency_usec [run.samples * 99 / 100] : 0;
    *failed = run.failed;
    notify_webhook_engine_destroy (&engine);
    if (loop)
        notify_test_loop_destroy (&loop);
    for (int i = 0; i < endpoints; i++)
        if (hang_fds [i] >= 0)
            close (hang_fds [i]);
    free (hang_fds);
    free (ids);
    free (urls);
    free (run.latency_usec);
    return delivered_rate;
}

//  The receiver's ceiling: wrk posting the same signed request. Returns requests/s.
static double
s_wrk (int port, const char *secret, int connections, int seconds)
{
    notify_sign_t *signer = notify_sign_new (secret);
    char signature [NOTIFY_SIGN_SIGNATURE_MAX];
    int64_t ts = (int64_t) time (NULL);
    notify_sign_signature (signer, "ntf_wrk", ts, s_BODY, strlen (s_BODY), signature,
                           sizeof signature);
    notify_sign_destroy (&signer);
    char script [] = "/tmp/notify_bench_XXXXXX";
    int fd = mkstemp (script);
    CHECK (fd >= 0);
    FILE *file = fdopen (fd, "w");
    fprintf (file, "wrk.method = \"POST\"\nwrk.body = '%s'\n"
             "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
             "wrk.headers[\"webhook-id\"] = \"ntf_wrk\"\n"
             "wrk.headers[\"webhook-timestamp\"] = \"%lld\"\n"
             "wrk.headers[\"webhook-signature\"] = \"%s\"\n",
             s_BODY, (long long) ts, signature);
    fclose (file);
    char command [512];
    snprintf (command, sizeof command,
              "wrk -t2 -c%d -d%ds -s %s http://127.0.0.1:%d/ok/wrk 2>&1", connections,
              seconds, script, port);
    FILE *out = popen (command, "r");
    CHECK (out);
    char line [256];
    double rate = 0;
    while (fgets (line, sizeof line, out))
        sscanf (line, "Requests/sec: %lf", &rate);
    pclose (out);
    unlink (script);
    return rate;
}

int
main (int argc, char *argv [])
{
    int seconds = argc > 1 ? atoi (argv [1]) : 3;
    int connections = argc > 2 ? atoi (argv [2]) : 64;
    bool adapter_mode = argc > 3 && strcmp (argv [3], "poll") == 0;
    CHECK (seconds > 0 && connections > 0);
    CHECK (sodium_init () >= 0);
    CHECK (curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK);
    char secret [NOTIFY_SIGN_SECRET_MAX];
    notify_sign_secret_generate (secret, sizeof secret);
    s_receiver_t receiver = { .signer = notify_sign_new (secret) };
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    struct MHD_Daemon *daemon = MHD_start_daemon (
        MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, s_answer, &receiver,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned) 2,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) 4096,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL,
        MHD_OPTION_END);
    CHECK (daemon);
    int port = MHD_get_daemon_info (daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    double ceiling = s_wrk (port, secret, connections, seconds);
    printf ("notify_bench: engine mode %s\n", adapter_mode ? "adapter (poll reactor)" : "own epoll fd");
    printf ("notify_bench: receiver ceiling (wrk -t2 -c%d, signed POST, verified): %.0f req/s\n",
            connections, ceiling);
    printf ("%-9s %-8s %-9s %12s %8s %9s %9s %7s\n", "endpoints", "hanging", "load",
            "deliveries/s", "ratio", "p50 µs", "p99 µs", "failed");
    //  Saturation: a window of deliveries outstanding, latency = dispatch → response.
    //  Open loop at 500/s: latency = submit → response (what a receiver waits).
    const struct { int endpoints, hanging, rate; } runs [] = {
        { 1, 0, 0 }, { 10, 0, 0 }, { 100, 0, 0 }, { 10, 1, 0 }, { 100, 10, 0 },
        { 100, 0, 500 }, { 100, 10, 500 },
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs [0]; i++) {
        int64_t p50, p99;
        size_t failed;
        double rate = s_scenario (port, secret, adapter_mode, runs [i].endpoints,
                                  runs [i].hanging, runs [i].rate, seconds, &p50, &p99, &failed);
        char load [16];
        snprintf (load, sizeof load, runs [i].rate ? "%d/s" : "window", runs [i].rate);
        printf ("%-9d %-8d %-9s %12.0f %8.2f %9lld %9lld %7zu\n", runs [i].endpoints,
                runs [i].hanging, load, rate, ceiling > 0 ? rate / ceiling : 0,
                (long long) p50, (long long) p99, failed);
        fflush (stdout);
    }
    printf ("receiver: %lu verified, %lu rejected\n", (unsigned long) atomic_load (&receiver.verified),
            (unsigned long) atomic_load (&receiver.rejected));
    MHD_stop_daemon (daemon);
    notify_sign_destroy (&receiver.signer);
    curl_global_cleanup ();
    return atomic_load (&receiver.rejected) == 0 ? 0 : 1;
}
