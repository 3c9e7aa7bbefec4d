/*  gateway_link — what an HTTP thread needs to reach the system: a DEALER socket to the
    broker's inproc frontend and a Redis connection, pooled so that threads reuse them.
    gateway_link_call sends one request through the broker and waits for its answer.
    The pool is bounded: at most max_links exist; a thread asking for one when all are lent
    waits up to wait_msec, then gets NULL (the caller answers 503), so a flood of requests costs
    a bounded number of sockets and Redis connections.
*/
#ifndef GATEWAY_LINK_H_INCLUDED
#define GATEWAY_LINK_H_INCLUDED

#include <czmq.h>
#include "oim_redis.h"

typedef struct _gateway_pool_t gateway_pool_t;

typedef struct _gateway_link_t {
    zsock_t *dealer;
    oim_redis_t *redis;
    uint64_t next_correlation;
    struct _gateway_link_t *next;   //  pool's free list
} gateway_link_t;

//  max_links <= 0 means no bound.
gateway_pool_t *gateway_pool_new (const char *frontend, const char *redis_url, int redis_timeout_msec,
                                  int max_links, int wait_msec);
void gateway_pool_destroy (gateway_pool_t **self_p);

//  Takes a link (made on demand, up to max_links; past it waits up to wait_msec for one to
//  come back). NULL when none came back in time or a socket cannot be made. Give it back with
//  gateway_pool_put. A link is used by one thread at a time.
gateway_link_t *gateway_pool_get (gateway_pool_t *self);
void gateway_pool_put (gateway_pool_t *self, gateway_link_t *link);

typedef struct {
    const char *service;
    const char *method;
    const uint8_t *target;          //  a worker's identity, or NULL
    size_t target_size;
    const void *body;
    size_t body_size;
    const char *request_id;
    int timeout_msec;
    bool idempotent;                //  a read: the broker may send it to a second worker
} gateway_call_t;

//  Sends a request and waits for its answer. Returns the status (504 when even the broker
//  did not answer in time); *reply gets the body (caller frees, NULL when empty).
uint32_t gateway_link_call (gateway_link_t *link, const gateway_call_t *call,
                            uint8_t **reply, size_t *reply_size);

//  Sends several requests at once and collects their answers (status and body each), for
//  fan-out such as /v1/status. statuses[i] is 504 for a request that got no answer.
void gateway_link_call_all (gateway_link_t *link, const gateway_call_t *calls, size_t count,
                            uint32_t *statuses, uint8_t **replies, size_t *reply_sizes);

#endif
