/*  gateway_http — the HTTP/1.1 side of oim-gateway, on libmicrohttpd.

    One thread per connection, so a slow backend only ever holds the connection that asked.
    A request's thread borrows a "link" from a pool — a DEALER socket to the broker's inproc
    frontend and a Redis connection for API-key lookups — sends the request through the broker
    to the owning daemon, waits for the answer (the broker guarantees one: reply, 503 or 504),
    and returns the link. Links are never shared by two threads at once.
    Bodies are limited to 1 MiB (413), must be valid UTF-8 (400) and well-formed JSON (400).

    Before a byte of a body is read (the access handler's first call) the request's key is
    looked up with its organisation (gateway_auth.h) and the limits are applied: one client
    cannot take the server. In order: a per-address connection cap and an idle timeout
    (libmicrohttpd); failed authentications (unknown key, malformed header) in a stricter bucket
    per client address, checked before the Redis lookup (429); requests per API key id, or per
    address without a key in standing (429); a route that needs a key answered 401 without
    reading its body; anonymous POST /v1/orgs per address per hour (429); SSE streams per key
    (429) and in total (503); a bounded pool of links (503 after a bounded wait). Only /healthz,
    /readyz and /metrics are exempt from the limits.
    A key whose organisation is not active is anonymous except for GET /v1/whoami and
    GET /v1/orgs/{its own id}.
*/
#ifndef GATEWAY_HTTP_H_INCLUDED
#define GATEWAY_HTTP_H_INCLUDED

#include <stdint.h>
#include "oim_metrics.h"

#define GATEWAY_MAX_BODY_BYTES (1024 * 1024)
#define GATEWAY_DRAIN_BYTES (16 * 1024 * 1024)     //  over this, 413 without reading

typedef struct {
    const char *address;            //  "0.0.0.0" or "127.0.0.1"
    int port;                       //  0 = any free port (read it back with _port)
    const char *frontend;           //  the broker's inproc frontend endpoint
    const char *redis_url;
    int redis_timeout_msec;
    int request_timeout_msec;       //  how long the broker waits for a daemon (then 504)
    const char *required_services;  //  comma-separated, for /readyz
    double rate_limit;              //  requests/s per API key or client address; 0 = off
    double rate_burst;
    int auth_fail_per_minute;       //  failed authentications per client address; 0 = off
    int auth_fail_burst;
    int signup_per_hour;            //  anonymous POST /v1/orgs per client address; 0 = off
    int max_connections;            //  libmicrohttpd's total connection cap
    int max_connections_per_address;  //  and per client address (0 = none)
    int idle_timeout_s;             //  a connection silent this long is closed (0 = never)
    int max_streams;                //  SSE streams in total (503 past it)
    int max_streams_per_key;        //  SSE streams of one API key (429 past it)
    int max_links;                  //  broker+Redis links of the HTTP threads (gateway_link.h)
    int link_wait_msec;             //  a request waits this long for a link, then 503
    const char *web_root;           //  directory of the web app's files (gateway_static.h)
    oim_metrics_t *metrics;
} gateway_http_args_t;

typedef struct _gateway_http_t gateway_http_t;

//  Starts serving. Returns NULL when the port cannot be bound (logged).
gateway_http_t *gateway_http_new (const gateway_http_args_t *args);
void gateway_http_destroy (gateway_http_t **self_p);
int gateway_http_port (gateway_http_t *self);

#endif
