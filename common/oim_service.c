/*  oim_service — see oim_service.h. */
#include "oim_service.h"
#include "oim_api.h"
#include "oim_clock.h"
#include "oim_log.h"
#include "oim_peer.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

const oim_option_t oim_service_common_options [] = {
    { "redis-url", "OIM_REDIS_URL", "redis://127.0.0.1:6379/0",
      "Redis: redis://[:password@]host:port/db or unix:///path?db=N", false },
    { "broker-endpoint", "OIM_BROKER_ENDPOINT", "tcp://127.0.0.1:5555",
      "where the gateway's broker listens", false },
    { "log-level", "OIM_LOG_LEVEL", "info", "debug, info, warn or error", false },
    { "heartbeat-ms", "OIM_HEARTBEAT_MS", "1000", "broker heartbeat interval", false },
    { "redis-timeout-ms", "OIM_REDIS_TIMEOUT_MS", "2000", "Redis connect and command timeout", false },
    OIM_REDIS_SENTINEL_OPTIONS,
    OIM_REDIS_WAIT_OPTIONS,
    { "health-file", "OIM_HEALTH_FILE", "", "touched every second while healthy "
      "(default /tmp/oim-<service>.health)", false },
    { "healthcheck", NULL, NULL, "exit 0 when this daemon's health file is fresh, else 1", true },
    OIM_CURVE_OPTIONS,
    OIM_OPTION_END
};

//  A thread answering requests besides the loop's (oim_service_add_workers).
typedef struct {
    oim_service_t *service;
    pthread_t thread;
    char instance [160];
} s_worker_t;

struct _oim_service_t {
    const oim_service_def_t *def;
    oim_config_t *config;
    oim_redis_t *redis;
    oim_curve_t *curve;             //  the broker link's (and the daemon's own clients') keys
    oim_peer_t *peer;
    oim_metrics_t *metrics;
    zloop_t *loop;
    void *state;
    char instance [128];
    char health_file [512];
    int64_t started_ms;
    int64_t last_health_ms;
    _Atomic uint64_t requests;
    s_worker_t *workers;
    int worker_count;
    atomic_bool stopping;           //  tells the workers to return
    oim_metric_t *m_requests;
    oim_metric_t *m_errors;
    oim_metric_t *m_latency;
    oim_metric_t *m_garbage;
};

oim_config_t *oim_service_config (oim_service_t *self) { return self->config; }
oim_redis_t *oim_service_redis (oim_service_t *self) { return self->redis; }

oim_redis_t *
oim_service_redis_new (oim_service_t *self)
{
    int timeout = (int) oim_config_int (self->config, "redis-timeout-ms", 2000);
    char url [2048];
    oim_redis_t *redis = oim_redis_config_url (self->config, url, sizeof url)? NULL
                       : oim_redis_new (url, timeout, timeout);
    if (redis)
        oim_redis_set_wait (redis, (int) oim_config_int (self->config, "redis-wait-replicas", 0),
                            (int) oim_config_int (self->config, "redis-wait-msec", 1000));
    return redis;
}
oim_metrics_t *oim_service_metrics (oim_service_t *self) { return self->metrics; }
const oim_curve_t *oim_service_curve (oim_service_t *self) { return self->curve; }
zloop_t *oim_service_loop (oim_service_t *self) { return self->loop; }
const char *oim_service_instance (oim_service_t *self) { return self->instance; }
void *oim_service_state (oim_service_t *self) { return self->state; }
void oim_service_set_state (oim_service_t *self, void *state) { self->state = state; }
void oim_service_keepalive (oim_service_t *self) { if (self->peer) oim_peer_tick (self->peer); }

//  What answers one request: the loop's link, or a worker's (each thread has its own).
typedef struct {
    oim_peer_t *peer;
    oim_redis_t *redis;
    const char *instance;
} s_link_t;

//  Built-in "oim.status": who we are and whether Redis answers right now.
static uint32_t
s_status (oim_service_t *self, const s_link_t *link, uint8_t **body, size_t *size)
{
    Oim__V1__StatusReply status = OIM__V1__STATUS_REPLY__INIT;
    status.service = (char *) self->def->name;
    status.version = OIM_VERSION;
    status.instance = (char *) link->instance;
    status.uptime_ms = oim_clock_mono_ms () - self->started_ms;
    status.redis_ok = oim_redis_ping (link->redis, &status.redis_latency_us);
    status.redis_error = (char *) oim_redis_error (link->redis);
    status.requests = atomic_load (&self->requests);
    *body = oim_wire_pack (&status.base, size);
    return 200;
}

//  Built-in "oim.metrics": this daemon's metrics as Prometheus text.
static uint32_t
s_metrics (oim_service_t *self, const oim_wire_msg_t *request, uint8_t **body, size_t *size)
{
    (void) request;
    char *text = oim_metrics_render (self->metrics);
    *size = strlen (text);
    *body = (uint8_t *) text;
    return 200;
}

//  Runs an API handler: unpack ApiRequest, call, pack ApiReply.
//  Acknowledged means replicated (oim_redis_set_wait): a request other than GET/HEAD that
//  succeeded is answered only once WAIT confirms every write the handler made (transactions
//  already WAITed, so then it returns at once; this covers the handlers' single commands).
//  A failed WAIT, or a handler that failed (5xx) after a transaction whose WAIT fell short,
//  answers 503 replication_timeout: the write may be applied on the master but is not
//  confirmed on a replica, so it is not acknowledged.
static void
s_replication_check (oim_redis_t *redis, const Oim__V1__ApiRequest *api, oim_api_reply_t *reply)
{
    bool read = api && (strcmp (api->http_method, "GET") == 0
                        || strcmp (api->http_method, "HEAD") == 0);
    if (reply->status < 300 && !read && oim_redis_wait (redis)) {
        oim_api_reply_clear (reply);        //  no Location or Set-Cookie of what is unconfirmed
        oim_api_error (reply, 503, "unavailable", NULL, "Redis failed while confirming the write");
    }
    if (!oim_redis_unreplicated (redis) || reply->status < 500)
        return;
    oim_api_reply_clear (reply);
    oim_api_error (reply, 503, "replication_timeout", NULL, "the write was not confirmed by "
                   "%d Redis replica(s) within %d ms; it may or may not persist: retry it "
                   "(event ingest is idempotent)", oim_redis_wait_replicas (redis),
                   oim_redis_wait_msec (redis));
}

static uint32_t
s_call_api (oim_service_t *self, oim_api_fn *fn, oim_redis_t *redis,
            const oim_wire_msg_t *request, uint8_t **body, size_t *size)
{
    oim_api_reply_t reply = { 0 };
    Oim__V1__ApiRequest *api = oim__v1__api_request__unpack (NULL, request->body_size, request->body);
    oim_redis_unreplicated_reset (redis);
    if (api)
        fn (self, api, &reply);
    else
        oim_api_error (&reply, 400, "invalid", NULL, "the request body is not an ApiRequest");
    s_replication_check (redis, api, &reply);
    if (reply.status == 0)
        oim_api_error (&reply, 500, "internal", NULL, "the handler gave no answer");
    Oim__V1__ApiReply out = OIM__V1__API_REPLY__INIT;
    Oim__V1__ApiReply__HeadersEntry entries [4], *pointers [4];
    for (int i = 0; i < 4 && reply.header_names [i]; i++) {
        oim__v1__api_reply__headers_entry__init (&entries [i]);
        entries [i].key = reply.header_names [i];
        entries [i].value = reply.header_values [i];
        pointers [i] = &entries [i];
        out.n_headers++;
    }
    out.headers = pointers;
    out.status = reply.status;
    //  A text reply (oim_api_text: a JSON string with a Content-Type header) goes as is.
    bool text = false;
    for (size_t i = 0; i < out.n_headers; i++)
        text = text || (json_is_string (reply.body)
                        && strcmp (reply.header_names [i], "Content-Type") == 0);
    char *json = text? memcpy (malloc (json_string_length (reply.body) + 1),
                               json_string_value (reply.body),
                               json_string_length (reply.body) + 1)
                     : oim_api_dump (reply.body);
    out.body.data = (uint8_t *) json;
    out.body.len = text? json_string_length (reply.body): strlen (json);
    *body = oim_wire_pack (&out.base, size);
    free (json);
    uint32_t status = reply.status;
    oim_api_reply_clear (&reply);
    if (api)
        oim__v1__api_request__free_unpacked (api, NULL);
    return status;
}

static uint32_t
s_dispatch (oim_service_t *self, const s_link_t *link, const oim_wire_msg_t *request,
            uint8_t **body, size_t *size)
{
    const char *method = request->header->method;
    if (strcmp (method, "oim.status") == 0)
        return s_status (self, link, body, size);
    if (strcmp (method, "oim.metrics") == 0)
        return s_metrics (self, request, body, size);
    for (const oim_method_t *m = self->def->methods; m && m->method; m++)
        if (strcmp (m->method, method) == 0)
            return m->api? s_call_api (self, m->api, link->redis, request, body, size)
                         : m->raw (self, request, body, size);
    oim_warn ("event=unknown_method method=%s", method);
    return 404;
}

//  Reads one message from link's peer and answers it when it is a request.
static void
s_handle (oim_service_t *self, const s_link_t *link)
{
    oim_wire_msg_t request = { 0 };
    int rc = oim_peer_recv (link->peer, &request);
    if (rc == -1)
        oim_metric_add (self->m_garbage, 1);
    if (rc != 1)
        return;
    int64_t start = oim_clock_mono_us ();
    oim_log_set_request_id (request.header->request_id);
    uint8_t *body = NULL;
    size_t size = 0;
    uint32_t status = s_dispatch (self, link, &request, &body, &size);
    oim_peer_reply (link->peer, &request, status, body, size);
    int64_t micros = oim_clock_mono_us () - start;
    oim_debug ("event=request method=%s status=%u us=%lld", request.header->method, status,
               (long long) micros);
    oim_log_set_request_id (NULL);
    atomic_fetch_add (&self->requests, 1);
    oim_metric_add (self->m_requests, 1);
    if (status >= 500)
        oim_metric_add (self->m_errors, 1);
    oim_metric_observe_us (self->m_latency, micros);
    free (body);
    oim_wire_msg_clear (&request);
}

static int
s_on_request (zloop_t *loop, zsock_t *socket, void *arg)
{
    (void) loop; (void) socket;
    oim_service_t *self = arg;
    s_link_t link = { self->peer, self->redis, self->instance };
    s_handle (self, &link);
    return 0;               //  never -1: that would stop the reactor (STYLE anti-pattern 5)
}

//  A worker: its own broker link and Redis connection, polled until the daemon stops.
static void *
s_worker_run (void *arg)
{
    s_worker_t *worker = arg;
    oim_service_t *self = worker->service;
    s_link_t link = { NULL, NULL, worker->instance };
    link.redis = oim_service_redis_new (self);
    link.peer = oim_peer_new (oim_config_get (self->config, "broker-endpoint"), self->def->name,
                              worker->instance,
                              (int) oim_config_int (self->config, "heartbeat-ms", 1000),
                              self->curve);
    if (!link.redis || !link.peer)
        oim_error ("event=worker_not_started instance=%s", worker->instance);
    while (link.redis && link.peer && !atomic_load (&self->stopping) && !zsys_interrupted) {
        zmq_pollitem_t item = { zsock_resolve (oim_peer_socket (link.peer)), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 100) > 0)
            s_handle (self, &link);
        if (oim_peer_tick (link.peer))
            oim_peer_reconnect (link.peer);
    }
    oim_peer_destroy (&link.peer);
    oim_redis_destroy (&link.redis);
    return NULL;
}

int
oim_service_add_workers (oim_service_t *self, int count)
{
    assert (!self->workers);
    if (count <= 0)
        return 0;
    self->workers = calloc ((size_t) count, sizeof *self->workers);
    if (!self->workers)
        return -1;
    for (int i = 0; i < count; i++) {
        s_worker_t *worker = &self->workers [i];
        worker->service = self;
        snprintf (worker->instance, sizeof worker->instance, "%s/t%d", self->instance, i + 1);
        if (pthread_create (&worker->thread, NULL, s_worker_run, worker))
            return -1;
        self->worker_count++;
    }
    oim_info ("event=workers_started count=%d", count);
    return 0;
}

static void
s_stop_workers (oim_service_t *self)
{
    atomic_store (&self->stopping, true);
    for (int i = 0; i < self->worker_count; i++)
        pthread_join (self->workers [i].thread, NULL);
    free (self->workers);
    self->workers = NULL;
    self->worker_count = 0;
}

//  Touches the health file while Redis answers and the broker link is live.
static void
s_health (oim_service_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (now - self->last_health_ms < 1000)
        return;
    self->last_health_ms = now;
    if (!oim_peer_live (self->peer) || !oim_redis_ping (self->redis, NULL))
        return;
    FILE *file = fopen (self->health_file, "w");
    if (file) {
        fprintf (file, "%lld\n", (long long) oim_clock_wall_ms ());
        fclose (file);
    }
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    oim_service_t *self = arg;
    if (oim_peer_tick (self->peer)) {
        zloop_reader_end (loop, oim_peer_socket (self->peer));
        oim_peer_reconnect (self->peer);
        zloop_reader (loop, oim_peer_socket (self->peer), s_on_request, self);
    }
    s_health (self);
    oim_redis_memory_tick (self->redis, self->metrics);    //  every 10 s: gauges, warn log
    if (self->def->tick)
        self->def->tick (self);
    return 0;
}

static int
s_healthcheck (const char *path)
{
    struct stat st;
    if (stat (path, &st) != 0) {
        fprintf (stderr, "unhealthy: no health file %s\n", path);
        return 1;
    }
    int64_t age_s = (int64_t) time (NULL) - (int64_t) st.st_mtime;
    if (age_s > 10) {
        fprintf (stderr, "unhealthy: %s is %llds old\n", path, (long long) age_s);
        return 1;
    }
    return 0;
}

static void
s_destroy (oim_service_t **self_p)
{
    oim_service_t *self = *self_p;
    if (!self)
        return;
    s_stop_workers (self);
    zloop_destroy (&self->loop);
    oim_peer_destroy (&self->peer);
    oim_curve_destroy (&self->curve);
    oim_redis_destroy (&self->redis);
    oim_metrics_destroy (&self->metrics);
    oim_config_destroy (&self->config);
    free (self);
    *self_p = NULL;
}

//  Configuration and connections. Returns the service, or NULL with *exit_code set.
static oim_service_t *
s_new (const oim_service_def_t *def, int argc, char **argv, int *exit_code)
{
    oim_service_t *self = zmalloc (sizeof *self);
    self->def = def;
    char program [64], summary [256];
    snprintf (program, sizeof program, "oim-%s", def->name);
    snprintf (summary, sizeof summary, "OI Market %s daemon: %s", def->name, def->summary);
    self->config = oim_config_new (program, summary, oim_service_common_options, def->options,
                                   argc, argv, exit_code);
    if (!self->config) {
        s_destroy (&self);
        return NULL;
    }
    const char *health = oim_config_get (self->config, "health-file");
    snprintf (self->health_file, sizeof self->health_file, *health? "%s": "/tmp/oim-%s.health",
              *health? health: def->name);
    if (oim_config_bool (self->config, "healthcheck")) {
        *exit_code = s_healthcheck (self->health_file);
        s_destroy (&self);
        return NULL;
    }
    *exit_code = 1;
    if (oim_log_init (def->name, oim_config_get (self->config, "log-level")))
        fprintf (stderr, "%s: unknown log level, using info\n", program);
    char host [64] = "localhost";
    gethostname (host, sizeof host - 1);
    snprintf (self->instance, sizeof self->instance, "%s@%s:%d", def->name, host, (int) getpid ());
    char labels [256];
    snprintf (labels, sizeof labels, "service=\"%s\",instance=\"%s\"", def->name, self->instance);
    self->metrics = oim_metrics_new (labels);
    self->m_requests = oim_metrics_counter (self->metrics, "oim_requests_total", NULL,
                                            "requests handled");
    self->m_errors = oim_metrics_counter (self->metrics, "oim_request_errors_total", NULL,
                                          "requests answered with a 5xx status");
    self->m_latency = oim_metrics_histogram (self->metrics, "oim_request_seconds", NULL,
                                             "time to handle a request");
    self->m_garbage = oim_metrics_counter (self->metrics, "oim_garbage_messages_total", NULL,
                                           "malformed messages received and dropped");
    self->redis = oim_service_redis_new (self);
    if (!self->redis) {
        char shown [1024];      //  the URL may carry the password
        oim_error ("event=bad_config option=redis-url value=\"%s\"",
                   oim_redis_url_redact (oim_config_get (self->config, "redis-url"),
                                         shown, sizeof shown));
        s_destroy (&self);
        return NULL;
    }
    self->curve = oim_curve_new (oim_config_get (self->config, "curve"),
                                 oim_config_get (self->config, "curve-dir"), OIM_CURVE_ROLE_DAEMON);
    if (!self->curve) {
        s_destroy (&self);
        return NULL;
    }
    self->peer = oim_peer_new (oim_config_get (self->config, "broker-endpoint"), def->name,
                               self->instance,
                               (int) oim_config_int (self->config, "heartbeat-ms", 1000),
                               self->curve);
    if (!self->peer) {
        oim_error ("event=bad_config option=broker-endpoint value=\"%s\"",
                   oim_config_get (self->config, "broker-endpoint"));
        s_destroy (&self);
        return NULL;
    }
    self->loop = zloop_new ();
    self->started_ms = oim_clock_mono_ms ();
    return self;
}

int
oim_service_main (const oim_service_def_t *def, int argc, char **argv)
{
    int exit_code = 0;
    oim_service_t *self = s_new (def, argc, argv, &exit_code);
    if (!self)
        return exit_code;
    signal (SIGPIPE, SIG_IGN);
    if (def->start && def->start (self)) {
        oim_error ("event=start_failed");
        s_destroy (&self);
        return 1;
    }
    oim_info ("event=started instance=%s version=%s", self->instance, OIM_VERSION);
    zloop_reader (self->loop, oim_peer_socket (self->peer), s_on_request, self);
    zloop_timer (self->loop, def->tick_msec > 0? (size_t) def->tick_msec: 100, 0, s_on_tick, self);
    zloop_start (self->loop);       //  returns on SIGTERM/SIGINT (czmq's handler)
    oim_info ("event=stopping");
    s_stop_workers (self);
    if (def->stop)
        def->stop (self);
    unlink (self->health_file);
    s_destroy (&self);
    oim_info ("event=stopped");
    return 0;
}
