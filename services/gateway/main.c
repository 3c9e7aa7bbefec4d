/*  oim-gateway — the only process clients talk to: HTTP API on :8080, the ZeroMQ broker the
    daemons register with, and the ZeroMQ ingest endpoint on :5570 (SPEC §1).
    Thin: parses configuration, starts the broker actor and the HTTP server, waits for
    SIGTERM/SIGINT, stops them in reverse order.
*/
#include "gateway_broker.h"
#include "gateway_feed.h"
#include "gateway_http.h"
#include "gateway_zap.h"
#include "oim_config.h"
#include "oim_curve.h"
#include "oim_log.h"
#include "oim_redis.h"

#include <signal.h>
#include <unistd.h>

static const oim_option_t s_options [] = {
    { "http-address", "OIM_HTTP_ADDRESS", "0.0.0.0", "address the HTTP API listens on", false },
    { "http-port", "OIM_HTTP_PORT", "8080", "HTTP API port (0 = any free port)", false },
    { "ingest-port", "OIM_INGEST_PORT", "5570", "ZeroMQ demand-event ingest port (0 = any, -1 = off)", false },
    { "ingest-max-in-flight", "OIM_INGEST_MAX_IN_FLIGHT", "32", "ZeroMQ ingest batches at the "
      "registry at once, all publishers; past it an immediate IngestAck 503", false },
    { "ingest-max-in-flight-peer", "OIM_INGEST_MAX_IN_FLIGHT_PEER", "8", "the same for one "
      "publisher (its CURVE key, or its connection in plain mode)", false },
    { "feed-proxy", "OIM_FEED_PROXY", "tcp://127.0.0.1:5572", "the ZeroMQ feed's intake (XSUB) "
      "the notify replicas publish into (their OIM_FEED_ENDPOINT); internal, never published "
      "(tcp://*:5572 in containers); \"off\" = no feed", false },
    { "feed-port", "OIM_FEED_PORT", "5571", "public ZeroMQ feed port (XPUB; 0 = any free port): "
      "an organisation's registered feed key receives that organisation's notifications", false },
    { "broker-endpoint", "OIM_BROKER_ENDPOINT", "tcp://127.0.0.1:5555",
      "where the broker binds (daemons connect to the same; tcp://*:5555 in containers)", false },
    { "broker-bind", "OIM_BROKER_BIND", "", "bind address when it differs from broker-endpoint "
      "(e.g. tcp://*:5555 while daemons use tcp://gateway:5555)", false },
    { "redis-url", "OIM_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis, for API keys and /readyz", false },
    { "redis-timeout-ms", "OIM_REDIS_TIMEOUT_MS", "2000", "Redis connect and command timeout", false },
    OIM_REDIS_SENTINEL_OPTIONS,
    { "heartbeat-ms", "OIM_HEARTBEAT_MS", "1000", "broker heartbeat interval", false },
    { "request-timeout-ms", "OIM_REQUEST_TIMEOUT_MS", "10000", "504 after this long without a daemon's reply", false },
    { "required-services", "OIM_REQUIRED_SERVICES", "registry,search,matcher,notify",
      "services that must have a live worker for /readyz", false },
    { "rate-limit", "OIM_RATE_LIMIT", "50", "API requests per second per API key id (or client "
      "address without a key in standing); 0 = no limit. Only /healthz, /readyz and /metrics "
      "are never limited", false },
    { "rate-burst", "OIM_RATE_BURST", "100", "requests a client may make at once before the limit applies", false },
    { "auth-fail-limit", "OIM_AUTH_FAIL_LIMIT_PER_MINUTE", "30", "failed authentications (unknown "
      "key, malformed Authorization) per client address per minute; past it every keyed request "
      "from the address is 429 until a token refills; 0 = no limit", false },
    { "auth-fail-burst", "OIM_AUTH_FAIL_BURST", "10", "failed authentications at once before that limit applies", false },
    { "signup-limit", "OIM_SIGNUP_LIMIT_PER_HOUR", "10", "anonymous self-registrations (POST "
      "/v1/orgs without a key) per client address per hour; 0 = no limit", false },
    { "http-max-connections", "OIM_HTTP_MAX_CONNECTIONS", "1024", "HTTP connections at once "
      "(one thread each)", false },
    { "http-max-connections-per-address", "OIM_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "32", "HTTP "
      "connections at once from one client address (0 = no cap)", false },
    { "http-idle-timeout", "OIM_HTTP_IDLE_TIMEOUT_S", "15", "seconds an HTTP connection may stay "
      "silent before it is closed", false },
    { "sse-max-streams", "OIM_SSE_MAX_STREAMS", "512", "notification streams (SSE) open at once; "
      "past it 503", false },
    { "sse-max-streams-per-key", "OIM_SSE_MAX_STREAMS_PER_KEY", "4", "notification streams one "
      "API key may hold open; past it 429", false },
    { "http-max-links", "OIM_HTTP_MAX_LINKS", "128", "broker+Redis links the HTTP threads share; "
      "a request waits for a free one", false },
    { "http-link-wait-ms", "OIM_HTTP_LINK_WAIT_MS", "2000", "how long a request waits for a free "
      "link before 503", false },
    { "web-root", "OIM_WEB_ROOT", OIM_WEB_ROOT_DEFAULT, "directory of the web app's files "
      "(index.html, app/...), served at / and /app/", false },
    { "ports-file", "OIM_PORTS_FILE", "", "write the bound ports here as JSON (for tests)", false },
    { "log-level", "OIM_LOG_LEVEL", "info", "debug, info, warn or error", false },
    OIM_CURVE_OPTIONS,
    OIM_OPTION_END
};

//  tcp://host:* or tcp://*:N -> the ingest bind endpoint for a port number.
static void
s_ingest_bind (oim_config_t *config, const char *address, char *out, size_t size)
{
    int64_t port = oim_config_int (config, "ingest-port", 5570);
    if (port < 0)
        *out = 0;
    else
    if (port == 0)
        snprintf (out, size, "tcp://%s:*", strcmp (address, "0.0.0.0") == 0? "*": address);
    else
        snprintf (out, size, "tcp://%s:%lld", strcmp (address, "0.0.0.0") == 0? "*": address,
                  (long long) port);
}

static int
s_write_ports (const char *path, int http_port, const char *broker, const char *ingest,
               const char *feed, const char *intake)
{
    char temp [512];
    snprintf (temp, sizeof temp, "%s.tmp", path);
    FILE *file = fopen (temp, "w");
    if (!file)
        return -1;
    const char *colon = strrchr (ingest, ':');
    const char *feed_colon = strrchr (feed, ':');
    fprintf (file, "{\"http_port\": %d, \"broker_endpoint\": \"%s\", \"ingest_port\": %s, "
             "\"feed_port\": %s, \"feed_intake\": \"%s\"}\n", http_port, broker,
             colon && *ingest? colon + 1: "null", feed_colon && *feed? feed_colon + 1: "null", intake);
    fclose (file);
    return rename (temp, path);
}

//  Starts an actor and waits for its "READY"; NULL (logged) when it answers otherwise.
static zactor_t *
s_start (zactor_fn *actor, void *args, const char *what)
{
    zactor_t *self = zactor_new (actor, args);
    char *status = self? zstr_recv (self): NULL;
    if (!status || strncmp (status, "READY", 5) != 0) {
        oim_error ("event=%s_start_failed reason=\"%s\"", what, status? status: "no answer");
        zactor_destroy (&self);
    }
    zstr_free (&status);
    return self;
}

//  tcp://<address>:<port>, "*" for 0.0.0.0, "*" for port 0.
static void
s_feed_bind (oim_config_t *config, const char *address, char *out, size_t size)
{
    int64_t port = oim_config_int (config, "feed-port", 5571);
    const char *host = strcmp (address, "0.0.0.0") == 0? "*": address;
    if (port > 0)
        snprintf (out, size, "tcp://%s:%lld", host, (long long) port);
    else
        snprintf (out, size, "tcp://%s:*", host);
}

//  The actors the HTTP side depends on, in start order (stopped in reverse).
typedef struct {
    oim_curve_t *curve;
    zactor_t *zap, *broker, *feed;
    char *backend, *frontend, *ingest, *feed_bound, *intake_bound;
} actors_t;

static void
s_actors_stop (actors_t *a)
{
    zactor_destroy (&a->feed);
    zactor_destroy (&a->broker);
    zactor_destroy (&a->zap);
    oim_curve_destroy (&a->curve);
    zstr_free (&a->backend);
    zstr_free (&a->frontend);
    zstr_free (&a->ingest);
    zstr_free (&a->feed_bound);
    zstr_free (&a->intake_bound);
}

//  CURVE, the ZAP handler (before any socket with a domain binds), the broker, the feed.
//  redis_url: as oim_redis_config_url made it. Returns 0, or -1 (logged) with whatever
//  started stopped again.
static int
s_actors_start (oim_config_t *config, const char *redis_url, oim_metrics_t *metrics, actors_t *a)
{
    a->curve = oim_curve_new (oim_config_get (config, "curve"), oim_config_get (config, "curve-dir"),
                              OIM_CURVE_ROLE_GATEWAY);
    if (!a->curve)
        return -1;
    int timeout = (int) oim_config_int (config, "redis-timeout-ms", 2000);
    gateway_zap_args_t zap_args = { .redis_url = redis_url,
        .redis_timeout_msec = timeout, .daemon_public = oim_curve_peer_public (a->curve),
        .metrics = metrics };
    if (oim_curve_enabled (a->curve) && !(a->zap = s_start (gateway_zap_actor, &zap_args, "zap")))
        return s_actors_stop (a), -1;
    const char *address = oim_config_get (config, "http-address");
    char ingest [256], feed_bind [256];
    s_ingest_bind (config, address, ingest, sizeof ingest);
    s_feed_bind (config, address, feed_bind, sizeof feed_bind);
    const char *bind = oim_config_get (config, "broker-bind");
    gateway_broker_args_t broker_args = {
        .backend_bind = *bind? bind: oim_config_get (config, "broker-endpoint"),
        .ingest_bind = ingest, .curve = a->curve,
        .ingest_max_in_flight = (int) oim_config_int (config, "ingest-max-in-flight", 32),
        .ingest_max_in_flight_peer = (int) oim_config_int (config, "ingest-max-in-flight-peer", 8),
        .heartbeat_msec = (int) oim_config_int (config, "heartbeat-ms", 1000),
        .default_timeout_msec = (int) oim_config_int (config, "request-timeout-ms", 10000),
        .metrics = metrics };
    if (!(a->broker = s_start (gateway_broker_actor, &broker_args, "broker")))
        return s_actors_stop (a), -1;
    zstr_recvx (a->broker, &a->backend, &a->frontend, &a->ingest, NULL);
    const char *intake = oim_config_get (config, "feed-proxy");
    if (!*intake || strcmp (intake, "off") == 0) {
        a->feed_bound = strdup ("");
        a->intake_bound = strdup ("");
        return 0;
    }
    gateway_feed_args_t feed_args = { .intake_bind = intake, .feed_bind = feed_bind,
                                      .curve = a->curve, .metrics = metrics,
                                      .redis_url = redis_url };
    if (!(a->feed = s_start (gateway_feed_actor, &feed_args, "feed")))
        return s_actors_stop (a), -1;
    zstr_recvx (a->feed, &a->feed_bound, &a->intake_bound, NULL);
    return 0;
}

static int
s_run (oim_config_t *config)
{
    zsys_init ();
    zsys_set_linger (100);
    signal (SIGPIPE, SIG_IGN);
    char labels [128], host [64] = "localhost";
    gethostname (host, sizeof host - 1);
    snprintf (labels, sizeof labels, "service=\"gateway\",instance=\"gateway@%s:%d\"", host, (int) getpid ());
    oim_metrics_t *metrics = oim_metrics_new (labels);
    actors_t actors = { 0 };
    char redis_url [2048];
    if (oim_redis_config_url (config, redis_url, sizeof redis_url)) {
        oim_error ("event=bad_config option=redis-sentinels reason=\"too long, or redis-url malformed\"");
        oim_metrics_destroy (&metrics);
        return 1;
    }
    if (s_actors_start (config, redis_url, metrics, &actors)) {
        oim_metrics_destroy (&metrics);
        return 1;
    }
    const char *address = oim_config_get (config, "http-address");
    int timeout = (int) oim_config_int (config, "redis-timeout-ms", 2000);
    gateway_http_args_t http_args = {
        .address = address, .port = (int) oim_config_int (config, "http-port", 8080),
        .frontend = actors.frontend, .redis_url = redis_url,
        .redis_timeout_msec = timeout,
        .request_timeout_msec = (int) oim_config_int (config, "request-timeout-ms", 10000),
        .required_services = oim_config_get (config, "required-services"), .metrics = metrics,
        .rate_limit = (double) oim_config_int (config, "rate-limit", 50),
        .rate_burst = (double) oim_config_int (config, "rate-burst", 100),
        .auth_fail_per_minute = (int) oim_config_int (config, "auth-fail-limit", 30),
        .auth_fail_burst = (int) oim_config_int (config, "auth-fail-burst", 10),
        .signup_per_hour = (int) oim_config_int (config, "signup-limit", 10),
        .max_connections = (int) oim_config_int (config, "http-max-connections", 1024),
        .max_connections_per_address = (int) oim_config_int (config, "http-max-connections-per-address", 32),
        .idle_timeout_s = (int) oim_config_int (config, "http-idle-timeout", 15),
        .max_streams = (int) oim_config_int (config, "sse-max-streams", 512),
        .max_streams_per_key = (int) oim_config_int (config, "sse-max-streams-per-key", 4),
        .max_links = (int) oim_config_int (config, "http-max-links", 128),
        .link_wait_msec = (int) oim_config_int (config, "http-link-wait-ms", 2000),
        .web_root = oim_config_get (config, "web-root") };
    gateway_http_t *http = gateway_http_new (&http_args);
    int rc = 0;
    if (http) {
        int port = gateway_http_port (http);
        oim_info ("event=listening url=http://%s:%d/ broker=%s ingest=%s feed=%s intake=%s curve=%s",
                  address, port, actors.backend, *actors.ingest? actors.ingest: "off",
                  *actors.feed_bound? actors.feed_bound: "off",
                  *actors.intake_bound? actors.intake_bound: "off",
                  oim_curve_enabled (actors.curve)? "on": "off");
        const char *ports_file = oim_config_get (config, "ports-file");
        if (*ports_file && s_write_ports (ports_file, port, actors.backend, actors.ingest,
                                         actors.feed_bound, actors.intake_bound))
            oim_error ("event=ports_file_failed path=%s", ports_file);
        while (!zsys_interrupted)
            pause ();       //  czmq's SIGTERM/SIGINT handler sets zsys_interrupted
        oim_info ("event=stopping");
        gateway_http_destroy (&http);
    }
    else
        rc = 1;
    s_actors_stop (&actors);
    oim_metrics_destroy (&metrics);
    oim_info ("event=stopped");
    return rc;
}

int
main (int argc, char **argv)
{
    int exit_code;
    oim_config_t *config = oim_config_new ("oim-gateway",
        "OI Market gateway: HTTP API, ZeroMQ broker and demand-event ingest", s_options, NULL,
        argc, argv, &exit_code);
    if (!config)
        return exit_code;
    oim_log_init ("gateway", oim_config_get (config, "log-level"));
    int rc = s_run (config);
    oim_config_destroy (&config);
    return rc;
}
