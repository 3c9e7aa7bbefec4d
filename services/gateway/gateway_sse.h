/*  gateway_sse — GET /v1/notifications/stream: Server-Sent Events straight from the
    organization's feed stream in Redis (oim:feed:<org>, written by oim-notify; see
    common/oim_keys.h). Each event is `id: <stream entry id>`, `event: <type>`, `data: <the
    notification JSON>`; a reconnecting client sends Last-Event-ID (or ?last_event_id=) and
    gets everything after it, so it misses nothing the stream still holds. Without one it
    gets what arrives from now on. A comment line every 15 s keeps proxies from closing it.
    The stream holds its own Redis connection (a blocking XREAD), not a pooled one.
*/
#ifndef GATEWAY_SSE_H_INCLUDED
#define GATEWAY_SSE_H_INCLUDED

#include <microhttpd.h>

//  A response that streams org_id's feed from after last_event_id (NULL or "" = from now).
//  Returns NULL when the Redis URL is unusable.
struct MHD_Response *gateway_sse_response (const char *redis_url, int redis_timeout_msec,
                                           const char *org_id, const char *last_event_id);

#endif
