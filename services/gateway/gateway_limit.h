/*  gateway_limit — per-client rate limiting (SPEC §3: 429). A token bucket per API key (per
    client address for anonymous requests): `rate` requests per second sustained, bursts up to
    `burst`. Thread-safe (the HTTP threads share it); buckets idle for a minute are dropped, so
    memory is bounded by the clients of the last minute. Operational endpoints (/healthz,
    /readyz, /metrics, /v1/status) are not limited — the caller decides what to check.
*/
#ifndef GATEWAY_LIMIT_H_INCLUDED
#define GATEWAY_LIMIT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct _gateway_limit_t gateway_limit_t;

//  rate <= 0 turns limiting off (every request is allowed).
gateway_limit_t *gateway_limit_new (double rate, double burst);
void gateway_limit_destroy (gateway_limit_t **self_p);

//  Takes one token for client. Returns true when allowed; otherwise false and *retry_after_s
//  says when a token will be there (whole seconds, at least 1).
bool gateway_limit_take (gateway_limit_t *self, const char *client, int *retry_after_s);

#endif
