/*  gateway_limit — see gateway_limit.h. One mutex: a lookup and a few arithmetic operations
    per request hold it for well under a microsecond.
*/
#include "gateway_limit.h"
#include "oim_clock.h"

#include <czmq.h>
#include <math.h>
#include <pthread.h>

#define SWEEP_MSEC 10000

typedef struct {
    double tokens;
    int64_t last_ms;
} bucket_t;

struct _gateway_limit_t {
    pthread_mutex_t lock;
    zhashx_t *buckets;              //  client -> bucket_t
    double rate;
    double burst;
    int64_t idle_msec;              //  a bucket idle this long is full again: dropped
    int64_t next_sweep_ms;
};

static void
s_bucket_free (void **item)
{
    free (*item);
    *item = NULL;
}

gateway_limit_t *
gateway_limit_new (double rate, double burst)
{
    gateway_limit_t *self = zmalloc (sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    self->buckets = zhashx_new ();
    zhashx_set_destructor (self->buckets, s_bucket_free);
    self->rate = rate;
    self->burst = burst < 1? 1: burst;
    self->idle_msec = rate > 0? (int64_t) ceil (self->burst / rate * 1000): 0;
    return self;
}

void
gateway_limit_destroy (gateway_limit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_limit_t *self = *self_p;
    zhashx_destroy (&self->buckets);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

//  Drops buckets idle long enough to be full again anyway.
static void
s_sweep (gateway_limit_t *self, int64_t now)
{
    zlistx_t *idle = zlistx_new ();
    for (bucket_t *b = zhashx_first (self->buckets); b; b = zhashx_next (self->buckets))
        if (now - b->last_ms > self->idle_msec)
            zlistx_add_end (idle, (void *) zhashx_cursor (self->buckets));
    for (const char *key = zlistx_first (idle); key; key = zlistx_next (idle))
        zhashx_delete (self->buckets, key);
    zlistx_destroy (&idle);
}

//  Refills client's bucket and takes a token when take is set and one is there. Returns true
//  when a token was there; otherwise *retry_after_s says when one will be. Holds the lock.
static bool
s_bucket (gateway_limit_t *self, const char *client, bool take, int *retry_after_s)
{
    if (self->rate <= 0)
        return true;
    int64_t now = oim_clock_mono_ms ();
    pthread_mutex_lock (&self->lock);
    if (now >= self->next_sweep_ms) {
        s_sweep (self, now);
        self->next_sweep_ms = now + SWEEP_MSEC;
    }
    bucket_t *b = zhashx_lookup (self->buckets, client);
    if (!b) {
        b = zmalloc (sizeof *b);
        b->tokens = self->burst;
        b->last_ms = now;
        zhashx_insert (self->buckets, client, b);
    }
    b->tokens = fmin (self->burst, b->tokens + (now - b->last_ms) * self->rate / 1000.0);
    b->last_ms = now;
    bool allowed = b->tokens >= 1;
    if (allowed && take)
        b->tokens -= 1;
    else
    if (!allowed)
        *retry_after_s = (int) ceil ((1 - b->tokens) / self->rate);
    pthread_mutex_unlock (&self->lock);
    return allowed;
}

bool
gateway_limit_take (gateway_limit_t *self, const char *client, int *retry_after_s)
{
    return s_bucket (self, client, true, retry_after_s);
}

bool
gateway_limit_check (gateway_limit_t *self, const char *client, int *retry_after_s)
{
    return s_bucket (self, client, false, retry_after_s);
}
