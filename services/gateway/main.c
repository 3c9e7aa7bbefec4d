/*  oim-gateway — the only process clients talk to: HTTP API on :8080, the ZeroMQ broker the
    daemons register with, and the ZeroMQ ingest endpoint on :5570 (SPEC §1).
    Thin: parses configuration, starts the broker actor and the HTTP server, waits for
    SIGTERM/SIGINT, stops them in reverse order.
*/
#include "gateway_broker.h"
#include "gateway_http.h"
#include "oim_config.h"
#include "oim_log.h"

#include <signal.h>
#include <unistd.h>

static const oim_option_t s_options [] = {
    { "http-address", "OIM_HTTP_ADDRESS", "0.0.0.0", "address the HTTP API listens on", false },
    { "http-port", "OIM_HTTP_PORT", "8080", "HTTP API port (0 = any free port)", false },
    { "ingest-port", "OIM_INGEST_PORT", "5570", "ZeroMQ demand-event ingest port (0 = any, -1 = off)", false },
    { "feed-proxy", "OIM_FEED_PROXY", "", "host the ZeroMQ feed: bind this XSUB intake (e.g. "
      "tcp://*:5572) for notify replicas (their OIM_FEED_ENDPOINT) and publish on OIM_FEED_PORT; "
      "empty = notify binds the feed itself", false },
    { "feed-port", "OIM_FEED_PORT", "5571", "public ZeroMQ feed port when hosting the feed", false },
    { "broker-endpoint", "OIM_BROKER_ENDPOINT", "tcp://127.0.0.1:5555",
      "where the broker binds (daemons connect to the same; tcp://*:5555 in containers)", false },
    { "broker-bind", "OIM_BROKER_BIND", "", "bind address when it differs from broker-endpoint "
      "(e.g. tcp://*:5555 while daemons use tcp://gateway:5555)", false },
    { "redis-url", "OIM_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis, for API keys and /readyz", false },
    { "redis-timeout-ms", "OIM_REDIS_TIMEOUT_MS", "2000", "Redis connect and command timeout", false },
    { "heartbeat-ms", "OIM_HEARTBEAT_MS", "1000", "broker heartbeat interval", false },
    { "request-timeout-ms", "OIM_REQUEST_TIMEOUT_MS", "10000", "504 after this long without a daemon's reply", false },
    { "required-services", "OIM_REQUIRED_SERVICES", "registry,search,matcher,notify",
      "services that must have a live worker for /readyz", false },
    { "rate-limit", "OIM_RATE_LIMIT", "50", "API requests per second per API key (or client "
      "address when anonymous); 0 = no limit. Operational endpoints are never limited", false },
    { "rate-burst", "OIM_RATE_BURST", "100", "requests a client may make at once before the limit applies", false },
    { "ports-file", "OIM_PORTS_FILE", "", "write the bound ports here as JSON (for tests)", false },
    { "log-level", "OIM_LOG_LEVEL", "info", "debug, info, warn or error", false },
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
    const char *address = oim_config_get (config, "http-address");
    char ingest [256];
    s_ingest_bind (config, address, ingest, sizeof ingest);
    const char *bind = oim_config_get (config, "broker-bind");
    char feed_bind [64];
    int64_t feed_port = oim_config_int (config, "feed-port", 5571);
    snprintf (feed_bind, sizeof feed_bind, "tcp://%s:", strcmp (address, "0.0.0.0") == 0? "*": address);
    if (feed_port > 0)
        snprintf (feed_bind + strlen (feed_bind), sizeof feed_bind - strlen (feed_bind), "%lld", (long long) feed_port);
    else
        strcat (feed_bind, "*");
    gateway_broker_args_t broker_args = {
        .backend_bind = *bind? bind: oim_config_get (config, "broker-endpoint"),
        .ingest_bind = ingest,
        .feed_intake_bind = oim_config_get (config, "feed-proxy"),
        .feed_bind = feed_bind,
        .heartbeat_msec = (int) oim_config_int (config, "heartbeat-ms", 1000),
        .default_timeout_msec = (int) oim_config_int (config, "request-timeout-ms", 10000),
        .metrics = metrics };
    zactor_t *broker = zactor_new (gateway_broker_actor, &broker_args);
    char *status = zstr_recv (broker);
    if (!status || strncmp (status, "READY", 5) != 0) {
        oim_error ("event=broker_start_failed reason=\"%s\"", status? status: "no answer");
        zstr_free (&status);
        zactor_destroy (&broker);
        oim_metrics_destroy (&metrics);
        return 1;
    }
    zstr_free (&status);
    char *backend, *frontend, *ingest_bound, *feed_bound, *intake_bound;
    zstr_recvx (broker, &backend, &frontend, &ingest_bound, &feed_bound, &intake_bound, NULL);
    int timeout = (int) oim_config_int (config, "redis-timeout-ms", 2000);
    gateway_http_args_t http_args = {
        .address = address, .port = (int) oim_config_int (config, "http-port", 8080),
        .frontend = frontend, .redis_url = oim_config_get (config, "redis-url"),
        .redis_timeout_msec = timeout,
        .request_timeout_msec = (int) oim_config_int (config, "request-timeout-ms", 10000),
        .required_services = oim_config_get (config, "required-services"), .metrics = metrics,
        .rate_limit = (double) oim_config_int (config, "rate-limit", 50),
        .rate_burst = (double) oim_config_int (config, "rate-burst", 100) };
    gateway_http_t *http = gateway_http_new (&http_args);
    int rc = 0;
    if (http) {
        int port = gateway_http_port (http);
        oim_info ("event=listening url=http://%s:%d/ broker=%s ingest=%s", address, port, backend,
                  *ingest_bound? ingest_bound: "off");
        const char *ports_file = oim_config_get (config, "ports-file");
        if (*ports_file && s_write_ports (ports_file, port, backend, ingest_bound, feed_bound,
                                         intake_bound))
            oim_error ("event=ports_file_failed path=%s", ports_file);
        while (!zsys_interrupted)
            pause ();       //  czmq's SIGTERM/SIGINT handler sets zsys_interrupted
        oim_info ("event=stopping");
        gateway_http_destroy (&http);
    }
    else
        rc = 1;
    zactor_destroy (&broker);
    zstr_free (&backend);
    zstr_free (&frontend);
    zstr_free (&ingest_bound);
    zstr_free (&feed_bound);
    zstr_free (&intake_bound);
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
