/*  gateway_limit — token buckets by client name (SPEC §3: 429): `rate` tokens per second
    sustained, bursts up to `burst`. The HTTP side keeps three of them (gateway_http.c): requests
    per API key id or client address, failed authentications per address (stricter), and
    anonymous self-registrations per address. Thread-safe (the HTTP threads share it); buckets
    idle long enough to be full again are dropped, so memory is bounded by recent clients.
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

//  As gateway_limit_take but takes nothing: true when client has a token left. Lets the
//  caller refuse before doing work whose outcome decides whether a token is taken (a failed
//  authentication's Redis lookup).
bool gateway_limit_check (gateway_limit_t *self, const char *client, int *retry_after_s);

#endif
