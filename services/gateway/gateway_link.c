/*  gateway_link — see gateway_link.h. */
#include "gateway_link.h"
#include "oim_clock.h"
#include "oim_wire.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

struct _gateway_pool_t {
    pthread_mutex_t lock;
    pthread_cond_t returned;        //  signalled by gateway_pool_put
    gateway_link_t *free;
    int made;                       //  links in existence (lent or free)
    int max_links;
    int wait_msec;
    char *frontend;
    char *redis_url;
    int redis_timeout_msec;
};

gateway_pool_t *
gateway_pool_new (const char *frontend, const char *redis_url, int redis_timeout_msec,
                  int max_links, int wait_msec)
{
    gateway_pool_t *self = zmalloc (sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&self->returned, &attr);
    pthread_condattr_destroy (&attr);
    self->max_links = max_links;
    self->wait_msec = wait_msec;
    self->frontend = strdup (frontend);
    self->redis_url = strdup (redis_url);
    self->redis_timeout_msec = redis_timeout_msec;
    return self;
}

static void
s_link_destroy (gateway_link_t *link)
{
    zsock_destroy (&link->dealer);
    oim_redis_destroy (&link->redis);
    free (link);
}

void
gateway_pool_destroy (gateway_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_pool_t *self = *self_p;
    while (self->free) {
        gateway_link_t *next = self->free->next;
        s_link_destroy (self->free);
        self->free = next;
    }
    pthread_cond_destroy (&self->returned);
    pthread_mutex_destroy (&self->lock);
    free (self->frontend);
    free (self->redis_url);
    free (self);
    *self_p = NULL;
}

//  Waits (lock held) until a link is free or one may be made, up to the pool's wait. Returns
//  a free link, or NULL with *may_make telling whether the caller may make a new one.
static gateway_link_t *
s_wait_for_link (gateway_pool_t *self, bool *may_make)
{
    struct timespec deadline;
    clock_gettime (CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += self->wait_msec / 1000;
    deadline.tv_nsec += (long) (self->wait_msec % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    *may_make = false;
    while (!self->free) {
        if (self->max_links <= 0 || self->made < self->max_links) {
            self->made++;           //  reserved; given back by s_unmake if making fails
            *may_make = true;
            return NULL;
        }
        if (pthread_cond_timedwait (&self->returned, &self->lock, &deadline) == ETIMEDOUT)
            break;
    }
    gateway_link_t *link = self->free;
    if (link)
        self->free = link->next;
    return link;
}

static void
s_unmake (gateway_pool_t *self)
{
    pthread_mutex_lock (&self->lock);
    self->made--;
    pthread_cond_signal (&self->returned);
    pthread_mutex_unlock (&self->lock);
}

gateway_link_t *
gateway_pool_get (gateway_pool_t *self)
{
    bool may_make;
    pthread_mutex_lock (&self->lock);
    gateway_link_t *link = s_wait_for_link (self, &may_make);
    pthread_mutex_unlock (&self->lock);
    if (link || !may_make)
        return link;
    link = zmalloc (sizeof *link);
    link->dealer = zsock_new (ZMQ_DEALER);
    link->redis = oim_redis_new (self->redis_url, self->redis_timeout_msec, self->redis_timeout_msec);
    if (!link->dealer || !link->redis || zsock_connect (link->dealer, "%s", self->frontend)) {
        s_link_destroy (link);
        s_unmake (self);
        return NULL;
    }
    zsock_set_linger (link->dealer, 0);
    return link;
}

void
gateway_pool_put (gateway_pool_t *self, gateway_link_t *link)
{
    pthread_mutex_lock (&self->lock);
    link->next = self->free;
    self->free = link;
    pthread_cond_signal (&self->returned);
    pthread_mutex_unlock (&self->lock);
}

static int
s_send (gateway_link_t *link, const gateway_call_t *call, uint64_t correlation)
{
    Oim__V1__Header header;
    oim_wire_header_init (&header, OIM__V1__COMMAND__COMMAND_REQUEST);
    header.service = (char *) call->service;
    header.method = (char *) call->method;
    header.correlation_id = correlation;
    header.request_id = (char *) (call->request_id? call->request_id: "");
    header.timeout_ms = (uint32_t) call->timeout_msec;
    header.target.data = (uint8_t *) call->target;
    header.target.len = call->target_size;
    header.idempotent = call->idempotent;
    return oim_wire_send (zsock_resolve (link->dealer), NULL, 0, &header, call->body, call->body_size);
}

void
gateway_link_call_all (gateway_link_t *link, const gateway_call_t *calls, size_t count,
                       uint32_t *statuses, uint8_t **replies, size_t *reply_sizes)
{
    uint64_t first = link->next_correlation + 1;
    int timeout = 0;
    for (size_t i = 0; i < count; i++) {
        statuses [i] = 504;
        replies [i] = NULL;
        reply_sizes [i] = 0;
        if (s_send (link, &calls [i], ++link->next_correlation))
            statuses [i] = 503;
        if (calls [i].timeout_msec > timeout)
            timeout = calls [i].timeout_msec;
    }
    //  The broker answers every request by its deadline; wait a little longer than that.
    int64_t deadline = oim_clock_mono_ms () + timeout + 1000;
    size_t answered = 0;
    bool *done = calloc (count? count: 1, sizeof *done);
    while (answered < count) {
        int64_t left = deadline - oim_clock_mono_ms ();
        if (left <= 0)
            break;
        zsock_set_rcvtimeo (link->dealer, (int) left);
        oim_wire_msg_t msg = { 0 };
        const char *reason;
        if (oim_wire_recv (zsock_resolve (link->dealer), false, &msg, &reason) != 0)
            continue;
        uint64_t id = msg.header->correlation_id;
        if (id >= first && id < first + count && !done [id - first]) {
            size_t i = id - first;
            done [i] = true;
            statuses [i] = msg.header->status;
            replies [i] = msg.body;
            reply_sizes [i] = msg.body_size;
            msg.body = NULL;
            answered++;
        }
        oim_wire_msg_clear (&msg);      //  an answer to an earlier, abandoned call: dropped
    }
    free (done);
}

uint32_t
gateway_link_call (gateway_link_t *link, const gateway_call_t *call, uint8_t **reply, size_t *reply_size)
{
    uint32_t status;
    gateway_link_call_all (link, call, 1, &status, reply, reply_size);
    return status;
}
