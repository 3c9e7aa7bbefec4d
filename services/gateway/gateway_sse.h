/*  gateway_sse — GET /v1/notifications/stream: Server-Sent Events straight from the
    organization's feed stream in Redis (oim:feed:<org>, written by oim-notify; see
    common/oim_keys.h). Each event is `id: <stream entry id>`, `event: <type>`, `data: <the
    notification JSON>`; a reconnecting client sends Last-Event-ID (or ?last_event_id=) and
    gets everything after it, so it misses nothing the stream still holds. Without one it
    gets what arrives from now on. A comment line every keepalive_msec keeps proxies (and the
    HTTP server's own idle timeout) from closing a quiet stream.
    Each stream holds its own Redis connection (a blocking XREAD), not a pooled one, and
    re-checks its API key and organisation (gateway_auth.h) every GATEWAY_SSE_RECHECK_MSEC: a
    rotated or revoked key, or an organisation no longer active, ends the stream.
    Streams are capped per API key and in total.
*/
#ifndef GATEWAY_SSE_H_INCLUDED
#define GATEWAY_SSE_H_INCLUDED

#include <microhttpd.h>
#include <stdbool.h>

#define GATEWAY_SSE_RECHECK_MSEC 2000

typedef struct {
    const char *redis_url;
    int redis_timeout_msec;
    int max_streams;                //  open streams in all; <= 0 = no cap
    int max_streams_per_key;        //  open streams of one API key; <= 0 = no cap
    int keepalive_msec;
} gateway_sse_args_t;

typedef struct _gateway_sse_t gateway_sse_t;

gateway_sse_t *gateway_sse_new (const gateway_sse_args_t *args);

//  Destroy only after the HTTP server has stopped (its streams are gone).
void gateway_sse_destroy (gateway_sse_t **self_p);

//  A response streaming org_id's feed from after last_event_id (NULL or "" = from now), for
//  as long as the key (by its SHA-256 hex, as key_id) stays valid and its org active, and the
//  client on client_fd (the connection's socket, only polled; -1 = unknown) stays. Returns
//  NULL with *status 429 (the key's cap), 503 (the total cap, or Redis unusable).
struct MHD_Response *gateway_sse_open (gateway_sse_t *self, int client_fd, const char *key_hash,
                                       const char *key_id,
                                       const char *org_id, const char *last_event_id,
                                       unsigned *status);

//  Streams open now (all keys).
int gateway_sse_count (gateway_sse_t *self);

#endif
