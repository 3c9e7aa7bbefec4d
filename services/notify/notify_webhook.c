/*  notify_webhook — webhook delivery engine on libcurl multi (see notify_webhook.h).

    Structures: endpoints live in a chained hash table keyed by endpoint id; each holds a
    FIFO of queued deliveries and a breaker. Endpoints that have queued work and a free slot
    sit in the ready ring (a FIFO), from which s_dispatch starts transfers round-robin while
    the engine has free transfer slots. An endpoint with nothing queued, nothing in flight
    and a clean record is freed at once, so memory follows the work, not the history.
*/
#include "notify_webhook.h"
#include "notify_sign.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>

#define s_BREAKER_MAX_COOLDOWN_MSEC (10 * 60 * 1000LL)

typedef enum { s_CLOSED, s_OPEN, s_HALF_OPEN } s_breaker_t;

typedef struct _s_endpoint_t s_endpoint_t;
typedef struct _s_delivery_t s_delivery_t;

struct _s_delivery_t {
    s_delivery_t *next;                //  in the endpoint's queue
    s_delivery_t *flight_prev;         //  in the engine's in-flight list
    s_delivery_t *flight_next;
    s_endpoint_t *endpoint;
    char *url;
    char *msg_id;
    char *body;
    size_t body_size;
    notify_sign_t *signer;
    int64_t timestamp;                 //  as requested (0 = at dispatch)
    void *user;
    int64_t submitted_usec;
    int64_t started_usec;
    CURL *easy;                        //  while in flight
    struct curl_slist *headers;
    notify_ssrf_guard_t guard;
    char errbuf [CURL_ERROR_SIZE];
};

struct _s_endpoint_t {
    s_endpoint_t *hash_next;
    s_endpoint_t *ready_next;
    char *id;
    uint64_t hash;
    s_delivery_t *head, *tail;         //  queued, not started
    size_t queued;
    size_t in_flight;
    bool in_ready;
    s_breaker_t breaker;
    uint32_t failures;                 //  consecutive
    int64_t cooldown_msec;
    int64_t open_until_usec;
};

struct _notify_webhook_engine_t {
    notify_webhook_config_t config;
    char *user_agent;
    bool has_loop;                     //  the owner's reactor drives us (adapter)
    notify_webhook_loop_t loop;        //  the owner's, or our own epoll glue below
    int epoll_fd;                      //  own mode: curl's sockets, -1 with an adapter
    int64_t timer_at_usec;             //  own mode: curl's timer, -1 = disarmed
    notify_webhook_result_fn *on_result;
    void *arg;
    CURLM *multi;
    s_endpoint_t **buckets;
    size_t bucket_count;               //  power of two
    size_t endpoint_count;
    s_endpoint_t *ready_head, *ready_tail;
    size_t pending;                    //  accepted, not reported
    size_t in_flight;
    s_delivery_t *flight;              //  in-flight deliveries (for destroy)
    int callback_depth;                //  > 0 while a result callback runs
    CURL **spare;                      //  reusable easy handles, at most max_in_flight
    size_t spare_count;
};

static int64_t
s_now_usec (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t
s_hash (const char *text)
{
    uint64_t hash = 14695981039346656037ull;      //  FNV-1a
    for (; *text; text++)
        hash = (hash ^ (unsigned char) *text) * 1099511628211ull;
    return hash;
}

void
notify_webhook_config_defaults (notify_webhook_config_t *config)
{
    assert (config);
    *config = (notify_webhook_config_t) {
        .max_in_flight = 256,
        .max_in_flight_per_endpoint = 8,
        .max_queued = 100000,
        .max_queued_per_endpoint = 10000,
        .max_body_bytes = 1024 * 1024,
        .connect_timeout_msec = 5000,
        .timeout_msec = 15000,
        .breaker_failures = 5,
        .breaker_cooldown_msec = 30000,
        .ssrf = NULL,
        .user_agent = NULL
    };
}

//  --------------------------------------------------------------------------
//  Endpoints: hash table and ready ring

static s_endpoint_t *
s_endpoint_find (const notify_webhook_engine_t *self, const char *id, uint64_t hash)
{
    s_endpoint_t *endpoint = self->buckets [hash & (self->bucket_count - 1)];
    while (endpoint && (endpoint->hash != hash || strcmp (endpoint->id, id) != 0))
        endpoint = endpoint->hash_next;
    return endpoint;
}

//  Doubles the table when it is full; on allocation failure keeps the old one (still valid).
static void
s_buckets_grow (notify_webhook_engine_t *self)
{
    size_t count = self->bucket_count * 2;
    s_endpoint_t **buckets = (s_endpoint_t **) calloc (count, sizeof (s_endpoint_t *));
    if (!buckets)
        return;
    for (size_t i = 0; i < self->bucket_count; i++) {
        s_endpoint_t *endpoint = self->buckets [i];
        while (endpoint) {
            s_endpoint_t *next = endpoint->hash_next;
            endpoint->hash_next = buckets [endpoint->hash & (count - 1)];
            buckets [endpoint->hash & (count - 1)] = endpoint;
            endpoint = next;
        }
    }
    free (self->buckets);
    self->buckets = buckets;
    self->bucket_count = count;
}

//  Returns the endpoint called id, created if needed; NULL when out of memory.
static s_endpoint_t *
s_endpoint_require (notify_webhook_engine_t *self, const char *id)
{
    uint64_t hash = s_hash (id);
    s_endpoint_t *endpoint = s_endpoint_find (self, id, hash);
    if (endpoint)
        return endpoint;
    endpoint = (s_endpoint_t *) calloc (1, sizeof (s_endpoint_t));
    if (!endpoint || !(endpoint->id = strdup (id))) {
        free (endpoint);
        return NULL;
    }
    endpoint->hash = hash;
    endpoint->cooldown_msec = self->config.breaker_cooldown_msec;
    if (self->endpoint_count >= self->bucket_count)
        s_buckets_grow (self);
    s_endpoint_t **bucket = &self->buckets [hash & (self->bucket_count - 1)];
    endpoint->hash_next = *bucket;
    *bucket = endpoint;
    self->endpoint_count++;
    return endpoint;
}

//  Frees endpoint if it holds nothing worth keeping (no work, closed breaker, no failures).
static void
s_endpoint_release_if_idle (notify_webhook_engine_t *self, s_endpoint_t *endpoint)
{
    if (endpoint->queued || endpoint->in_flight || endpoint->in_ready
    ||  endpoint->breaker != s_CLOSED || endpoint->failures)
        return;
    s_endpoint_t **link = &self->buckets [endpoint->hash & (self->bucket_count - 1)];
    while (*link != endpoint)
        link = &(*link)->hash_next;
    *link = endpoint->hash_next;
    self->endpoint_count--;
    free (endpoint->id);
    free (endpoint);
}

static bool
s_endpoint_can_start (const notify_webhook_engine_t *self, const s_endpoint_t *endpoint)
{
    if (endpoint->breaker == s_OPEN)
        return false;
    size_t limit = endpoint->breaker == s_HALF_OPEN
                 ? 1 : self->config.max_in_flight_per_endpoint;
    return endpoint->queued > 0 && endpoint->in_flight < limit;
}

static void
s_ready_push (notify_webhook_engine_t *self, s_endpoint_t *endpoint)
{
    if (endpoint->in_ready || !s_endpoint_can_start (self, endpoint))
        return;
    endpoint->in_ready = true;
    endpoint->ready_next = NULL;
    if (self->ready_tail)
        self->ready_tail->ready_next = endpoint;
    else
        self->ready_head = endpoint;
    self->ready_tail = endpoint;
}

static s_endpoint_t *
s_ready_pop (notify_webhook_engine_t *self)
{
    s_endpoint_t *endpoint = self->ready_head;
    if (endpoint) {
        self->ready_head = endpoint->ready_next;
        if (!self->ready_head)
            self->ready_tail = NULL;
        endpoint->in_ready = false;
    }
    return endpoint;
}

//  --------------------------------------------------------------------------
//  Deliveries

static void
s_delivery_destroy (s_delivery_t **self_p)
{
    s_delivery_t *self = *self_p;
    if (self) {
        curl_slist_free_all (self->headers);
        notify_sign_destroy (&self->signer);
        free (self->url);
        free (self->msg_id);
        free (self->body);
        free (self);
        *self_p = NULL;
    }
}

static s_delivery_t *
s_delivery_new (const notify_webhook_request_t *request)
{
    s_delivery_t *self = (s_delivery_t *) calloc (1, sizeof (s_delivery_t));
    if (!self)
        return NULL;
    self->url = strdup (request->url);
    self->msg_id = strdup (request->msg_id);
    self->body = (char *) malloc (request->body_size + 1);
    self->signer = notify_sign_new (request->secret);
    if (!self->url || !self->msg_id || !self->body || !self->signer) {
        s_delivery_destroy (&self);
        return NULL;
    }
    if (request->body_size)
        memcpy (self->body, request->body, request->body_size);
    self->body [request->body_size] = '\0';
    self->body_size = request->body_size;
    self->timestamp = request->timestamp;
    self->user = request->user;
    self->submitted_usec = s_now_usec ();
    return self;
}

//  Reports delivery's outcome, then frees it. The endpoint bookkeeping is the caller's.
static void
s_report (notify_webhook_engine_t *self, s_delivery_t *delivery,
          notify_webhook_outcome_t outcome, bool attempted, long http_status, const char *error)
{
    int64_t now = s_now_usec ();
    int64_t started = delivery->started_usec ? delivery->started_usec : now;
    notify_webhook_result_t result = {
        .outcome = outcome,
        .attempted = attempted,
        .http_status = http_status,
        .latency_usec = attempted ? now - started : 0,
        .queued_usec = started - delivery->submitted_usec,
        .timestamp = delivery->timestamp,
        .error = error,
        .endpoint_id = delivery->endpoint->id,
        .msg_id = delivery->msg_id,
        .user = delivery->user
    };
    assert (self->pending > 0);
    self->pending--;
    self->callback_depth++;
    self->on_result (&result, self->arg);
    self->callback_depth--;
    s_delivery_destroy (&delivery);
}

//  Hands every queued delivery of endpoint back unattempted (the circuit just opened).
static void
s_endpoint_flush (notify_webhook_engine_t *self, s_endpoint_t *endpoint)
{
    while (endpoint->head) {
        s_delivery_t *delivery = endpoint->head;
        endpoint->head = delivery->next;
        if (!endpoint->head)
            endpoint->tail = NULL;
        endpoint->queued--;
        s_report (self, delivery, NOTIFY_WEBHOOK_FAILED, false, 0,
                  "circuit open: endpoint failing, not attempted");
    }
}

//  Records the health seen by one attempt in endpoint's breaker.
static void
s_breaker_record (notify_webhook_engine_t *self, s_endpoint_t *endpoint, bool healthy)
{
    if (healthy) {
        endpoint->failures = 0;
        endpoint->breaker = s_CLOSED;
        endpoint->cooldown_msec = self->config.breaker_cooldown_msec;
        return;
    }
    endpoint->failures++;
    bool open = false;
    if (endpoint->breaker == s_HALF_OPEN) {
        endpoint->cooldown_msec *= 2;
        if (endpoint->cooldown_msec > s_BREAKER_MAX_COOLDOWN_MSEC)
            endpoint->cooldown_msec = s_BREAKER_MAX_COOLDOWN_MSEC;
        open = true;
    }
    else
    if (endpoint->breaker == s_CLOSED && endpoint->failures >= self->config.breaker_failures)
        open = true;
    if (open) {
        endpoint->breaker = s_OPEN;
        endpoint->open_until_usec = s_now_usec () + endpoint->cooldown_msec * 1000;
    }
}

//  Moves an open breaker whose cooldown has passed to half-open.
static void
s_breaker_tick (s_endpoint_t *endpoint)
{
    if (endpoint->breaker == s_OPEN && s_now_usec () >= endpoint->open_until_usec)
        endpoint->breaker = s_HALF_OPEN;
}

static size_t
s_discard (char *data, size_t size, size_t count, void *arg)
{
    (void) data;
    (void) arg;
    return size * count;
}

struct curl_slist *
notify_webhook_headers (notify_sign_t *signer, const char *msg_id, int64_t timestamp,
                        const char *body, size_t body_size)
{
    char signature [NOTIFY_SIGN_SIGNATURE_MAX] = "";
    if (signer)
        notify_sign_signature (signer, msg_id, timestamp, body, body_size,
                               signature, sizeof signature);
    char lines [5][NOTIFY_SIGN_SIGNATURE_MAX + 256] = {
        "Content-Type: application/json", "Expect:"
    };
    snprintf (lines [2], sizeof lines [2], "webhook-id: %s", msg_id);
    snprintf (lines [3], sizeof lines [3], "webhook-timestamp: %" PRId64, timestamp);
    snprintf (lines [4], sizeof lines [4], "webhook-signature: %s", signature);
    struct curl_slist *headers = NULL;
    for (size_t i = 0; i < 5; i++) {
        struct curl_slist *longer = curl_slist_append (headers, lines [i]);
        if (!longer) {
            curl_slist_free_all (headers);
            return NULL;
        }
        headers = longer;
    }
    return headers;
}

int
notify_webhook_arm (void *easy, const char *url, struct curl_slist *headers, const char *body,
                    size_t body_size, const char *user_agent, long connect_msec,
                    long total_msec, char *errbuf)
{
    bool failed =
        curl_easy_setopt (easy, CURLOPT_URL, url) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_HTTPHEADER, headers) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_POSTFIELDS, body) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_size) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_USERAGENT, user_agent) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS, connect_msec) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, total_msec) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_discard) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
    //  libcurl resolves names on a thread of its own, bounded by the connect timeout; but
    //  when that timeout ends an attempt whose resolver thread is still waiting for a DNS
    //  server that does not answer, curl joins the thread inside curl_multi_perform: measured
    //  here, a 1 s connect timeout held the whole loop 7 s (the resolver's own timeout).
    //  QUICK_EXIT makes curl detach the thread instead (it frees its own data when
    //  getaddrinfo returns), so a hostile DNS costs one endpoint slot, never the loop.
    if (!failed)
        failed = curl_easy_setopt (easy, CURLOPT_QUICK_EXIT, 1L) != CURLE_OK;
    return failed? -1: 0;
}

//  Builds the headers and the handle for delivery. Returns 0, or -1 with delivery->errbuf set.
static int
s_prepare (notify_webhook_engine_t *self, s_delivery_t *delivery, CURL *easy)
{
    if (delivery->timestamp == 0)
        delivery->timestamp = (int64_t) time (NULL);
    delivery->errbuf [0] = '\0';
    delivery->headers = notify_webhook_headers (delivery->signer, delivery->msg_id,
                                                delivery->timestamp, delivery->body,
                                                delivery->body_size);
    if (!delivery->headers) {
        snprintf (delivery->errbuf, sizeof delivery->errbuf, "out of memory");
        return -1;
    }
    bool failed = notify_webhook_arm (easy, delivery->url, delivery->headers, delivery->body,
                                      delivery->body_size, self->user_agent,
                                      self->config.connect_timeout_msec,
                                      self->config.timeout_msec, delivery->errbuf)
               || curl_easy_setopt (easy, CURLOPT_PRIVATE, delivery) != CURLE_OK;
    if (!failed && self->config.ssrf)
        failed = notify_ssrf_attach (self->config.ssrf, easy, &delivery->guard) != 0;
    if (failed)
        snprintf (delivery->errbuf, sizeof delivery->errbuf, "curl refused an option");
    return failed ? -1 : 0;
}

static void
s_spare_put (notify_webhook_engine_t *self, CURL *easy)
{
    if (self->spare_count < self->config.max_in_flight) {
        curl_easy_reset (easy);
        self->spare [self->spare_count++] = easy;
    }
    else
        curl_easy_cleanup (easy);
}

//  Starts delivery (already off its endpoint's queue). On failure it is reported at once.
static void
s_start (notify_webhook_engine_t *self, s_delivery_t *delivery)
{
    s_endpoint_t *endpoint = delivery->endpoint;
    delivery->started_usec = s_now_usec ();
    CURL *easy = self->spare_count ? self->spare [--self->spare_count] : curl_easy_init ();
    if (!easy || s_prepare (self, delivery, easy) != 0
    ||  curl_multi_add_handle (self->multi, easy) != CURLM_OK) {
        if (easy)
            s_spare_put (self, easy);
        s_report (self, delivery, NOTIFY_WEBHOOK_FAILED, false, 0,
                  delivery->errbuf [0] ? delivery->errbuf : "could not start the transfer");
        return;
    }
    delivery->easy = easy;
    delivery->flight_prev = NULL;
    delivery->flight_next = self->flight;
    if (self->flight)
        self->flight->flight_prev = delivery;
    self->flight = delivery;
    endpoint->in_flight++;
    self->in_flight++;
}

//  Starts transfers round-robin over ready endpoints while slots are free.
static void
s_dispatch (notify_webhook_engine_t *self)
{
    while (self->in_flight < self->config.max_in_flight) {
        s_endpoint_t *endpoint = s_ready_pop (self);
        if (!endpoint)
            break;
        //  Its state may have changed since it queued up (the circuit opened, the queue
        //  was flushed): check again.
        if (!s_endpoint_can_start (self, endpoint)) {
            s_endpoint_release_if_idle (self, endpoint);
            continue;
        }
        s_delivery_t *delivery = endpoint->head;
        endpoint->head = delivery->next;
        if (!endpoint->head)
            endpoint->tail = NULL;
        endpoint->queued--;
        delivery->next = NULL;
        s_start (self, delivery);
        s_ready_push (self, endpoint);
        s_endpoint_release_if_idle (self, endpoint);
    }
}

//  Classifies a finished transfer and reports it.
static void
s_finish (notify_webhook_engine_t *self, s_delivery_t *delivery, CURLcode code)
{
    s_endpoint_t *endpoint = delivery->endpoint;
    long status = 0;
    if (code == CURLE_OK)
        curl_easy_getinfo (delivery->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle (self->multi, delivery->easy);
    s_spare_put (self, delivery->easy);
    delivery->easy = NULL;
    if (delivery->flight_prev)
        delivery->flight_prev->flight_next = delivery->flight_next;
    else
        self->flight = delivery->flight_next;
    if (delivery->flight_next)
        delivery->flight_next->flight_prev = delivery->flight_prev;
    endpoint->in_flight--;
    self->in_flight--;

    char error [CURL_ERROR_SIZE + 64] = "";
    notify_webhook_outcome_t outcome = NOTIFY_WEBHOOK_FAILED;
    if (code != CURLE_OK)
        snprintf (error, sizeof error, "%s",
                  delivery->guard.refused ? delivery->guard.reason
                : delivery->errbuf [0] ? delivery->errbuf : curl_easy_strerror (code));
    else
    if (status >= 200 && status < 300)
        outcome = NOTIFY_WEBHOOK_DELIVERED;
    else {
        if (status == 410)
            outcome = NOTIFY_WEBHOOK_DISABLE;
        snprintf (error, sizeof error, "HTTP %ld", status);
    }
    bool healthy = code == CURLE_OK && status < 500 && status != 429;
    s_breaker_record (self, endpoint, healthy);
    s_report (self, delivery, outcome, true, status, error);
    if (endpoint->breaker == s_OPEN)
        s_endpoint_flush (self, endpoint);
    s_ready_push (self, endpoint);
    s_endpoint_release_if_idle (self, endpoint);
}

//  Reports every transfer curl has finished, then refills the slots.
static void
s_check_done (notify_webhook_engine_t *self)
{
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read (self->multi, &left))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        s_delivery_t *delivery = NULL;
        curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **) &delivery);
        assert (delivery && delivery->easy == message->easy_handle);
        s_finish (self, delivery, message->data.result);
    }
    s_dispatch (self);
}

//  --------------------------------------------------------------------------
//  Loop glue: curl's socket and timer callbacks forwarded to the owner's reactor.

static int
s_curl_socket (CURL *easy, curl_socket_t fd, int what, void *arg, void *socket_arg)
{
    (void) easy;
    (void) socket_arg;
    notify_webhook_engine_t *self = (notify_webhook_engine_t *) arg;
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= NOTIFY_WEBHOOK_POLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= NOTIFY_WEBHOOK_POLLOUT;
    return self->loop.watch (self->loop.loop, (int) fd, events) == 0 ? 0 : -1;
}

static int
s_curl_timer (CURLM *multi, long msec, void *arg)
{
    (void) multi;
    notify_webhook_engine_t *self = (notify_webhook_engine_t *) arg;
    return self->loop.timer (self->loop.loop, msec) == 0 ? 0 : -1;
}


//  Own mode: curl's sockets in an epoll set of the engine's, its timer as a deadline.

static int
s_epoll_watch (void *arg, int fd, int events)
{
    notify_webhook_engine_t *self = (notify_webhook_engine_t *) arg;
    if (events == 0) {
        //  curl may have closed fd already, which removed it from the set: ignore errors
        epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event event = {
        .events = ((events & NOTIFY_WEBHOOK_POLLIN) ? EPOLLIN : 0)
                | ((events & NOTIFY_WEBHOOK_POLLOUT) ? EPOLLOUT : 0),
        .data.fd = fd
    };
    if (epoll_ctl (self->epoll_fd, EPOLL_CTL_MOD, fd, &event) == 0)
        return 0;
    return errno == ENOENT && epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0
         ? 0 : -1;
}

static int
s_epoll_timer (void *arg, long msec)
{
    notify_webhook_engine_t *self = (notify_webhook_engine_t *) arg;
    self->timer_at_usec = msec < 0 ? -1 : s_now_usec () + (int64_t) msec * 1000;
    return 0;
}

//  --------------------------------------------------------------------------
//  Public API

notify_webhook_engine_t *
notify_webhook_engine_new (const notify_webhook_config_t *config,
                           const notify_webhook_loop_t *loop,
                           notify_webhook_result_fn *on_result, void *arg)
{
    assert (on_result);
    assert (!loop || (loop->watch && loop->timer));
    notify_webhook_engine_t *self =
        (notify_webhook_engine_t *) calloc (1, sizeof (notify_webhook_engine_t));
    if (!self)
        return NULL;
    if (config)
        self->config = *config;
    else
        notify_webhook_config_defaults (&self->config);
    assert (self->config.max_in_flight > 0 && self->config.max_in_flight_per_endpoint > 0);
    self->on_result = on_result;
    self->arg = arg;
    self->bucket_count = 64;
    self->buckets = (s_endpoint_t **) calloc (self->bucket_count, sizeof (s_endpoint_t *));
    self->spare = (CURL **) calloc (self->config.max_in_flight, sizeof (CURL *));
    self->user_agent = strdup (self->config.user_agent ? self->config.user_agent : "oim-notify");
    self->config.user_agent = self->user_agent;
    self->multi = curl_multi_init ();
    if (!self->buckets || !self->spare || !self->user_agent || !self->multi) {
        notify_webhook_engine_destroy (&self);
        return NULL;
    }
    //  Keep one idle connection per possible transfer, so endpoints stay warm.
    curl_multi_setopt (self->multi, CURLMOPT_MAXCONNECTS, (long) self->config.max_in_flight);
    self->epoll_fd = -1;
    self->timer_at_usec = -1;
    if (loop) {
        self->has_loop = true;
        self->loop = *loop;
    }
    else {
        self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
        self->loop = (notify_webhook_loop_t) {
            .watch = s_epoll_watch, .timer = s_epoll_timer, .loop = self
        };
        if (self->epoll_fd < 0) {
            notify_webhook_engine_destroy (&self);
            return NULL;
        }
    }
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_curl_socket);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_curl_timer);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    return self;
}

void
notify_webhook_engine_destroy (notify_webhook_engine_t **self_p)
{
    assert (self_p);
    notify_webhook_engine_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; self->buckets && i < self->bucket_count; i++) {
        while (self->buckets [i]) {
            s_endpoint_t *endpoint = self->buckets [i];
            self->buckets [i] = endpoint->hash_next;
            while (endpoint->head) {
                s_delivery_t *delivery = endpoint->head;
                endpoint->head = delivery->next;
                s_delivery_destroy (&delivery);
            }
            free (endpoint->id);
            free (endpoint);
        }
    }
    //  Removing a transfer closes its sockets, which reaches the loop as watch (fd, 0).
    while (self->flight) {
        s_delivery_t *delivery = self->flight;
        self->flight = delivery->flight_next;
        curl_multi_remove_handle (self->multi, delivery->easy);
        curl_easy_cleanup (delivery->easy);
        s_delivery_destroy (&delivery);
    }
    if (self->multi)
        curl_multi_cleanup (self->multi);
    if (self->epoll_fd >= 0)
        close (self->epoll_fd);
    for (size_t i = 0; i < self->spare_count; i++)
        curl_easy_cleanup (self->spare [i]);
    free (self->spare);
    free (self->buckets);
    free (self->user_agent);
    free (self);
    *self_p = NULL;
}

//  A webhook-id goes into a header line: 1..NOTIFY_WEBHOOK_MSG_ID_MAX visible ASCII
//  characters, so no CR/LF can smuggle a header in.
static bool
s_header_safe (const char *text)
{
    size_t len = 0;
    for (; text [len]; len++)
        if (text [len] <= ' ' || text [len] > '~' || len >= NOTIFY_WEBHOOK_MSG_ID_MAX)
            return false;
    return len > 0;
}

notify_webhook_submit_t
notify_webhook_engine_submit (notify_webhook_engine_t *self,
                              const notify_webhook_request_t *request)
{
    assert (self);
    assert (request && request->url && request->msg_id && request->secret);
    assert (request->body || request->body_size == 0);
    if (request->body_size > self->config.max_body_bytes || !s_header_safe (request->msg_id))
        return NOTIFY_WEBHOOK_INVALID;
    if (self->pending >= self->config.max_queued)
        return NOTIFY_WEBHOOK_BUSY;
    const char *id = request->endpoint_id ? request->endpoint_id : request->url;
    s_endpoint_t *found = s_endpoint_find (self, id, s_hash (id));
    if (found) {
        s_breaker_tick (found);
        if (found->breaker == s_OPEN)
            return NOTIFY_WEBHOOK_CIRCUIT_OPEN;
        if (found->queued + found->in_flight >= self->config.max_queued_per_endpoint)
            return NOTIFY_WEBHOOK_BUSY;
    }
    s_delivery_t *delivery = s_delivery_new (request);
    if (!delivery) {
        //  Tell a bad secret (permanent) from a failed allocation (retry later).
        notify_sign_t *signer = notify_sign_new (request->secret);
        bool bad_secret = signer == NULL;
        notify_sign_destroy (&signer);
        return bad_secret ? NOTIFY_WEBHOOK_INVALID : NOTIFY_WEBHOOK_BUSY;
    }
    s_endpoint_t *endpoint = found ? found : s_endpoint_require (self, id);
    if (!endpoint) {
        s_delivery_destroy (&delivery);
        return NOTIFY_WEBHOOK_BUSY;
    }
    delivery->endpoint = endpoint;
    if (endpoint->tail)
        endpoint->tail->next = delivery;
    else
        endpoint->head = delivery;
    endpoint->tail = delivery;
    endpoint->queued++;
    self->pending++;
    s_ready_push (self, endpoint);
    //  From inside a result callback the engine is mid-update: the code that called the
    //  callback dispatches when it is done.
    if (self->callback_depth == 0)
        s_dispatch (self);
    return NOTIFY_WEBHOOK_ACCEPTED;
}

void
notify_webhook_engine_on_fd (notify_webhook_engine_t *self, int fd, int events)
{
    assert (self);
    int mask = 0;
    if (events & NOTIFY_WEBHOOK_POLLIN)
        mask |= CURL_CSELECT_IN;
    if (events & NOTIFY_WEBHOOK_POLLOUT)
        mask |= CURL_CSELECT_OUT;
    if (events == 0)
        mask = CURL_CSELECT_ERR;
    int running;
    curl_multi_socket_action (self->multi, (curl_socket_t) fd, mask, &running);
    s_check_done (self);
}

void
notify_webhook_engine_on_timer (notify_webhook_engine_t *self)
{
    assert (self);
    int running;
    curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_check_done (self);
}

int
notify_webhook_engine_fd (const notify_webhook_engine_t *self)
{
    assert (self);
    return self->epoll_fd;
}

long
notify_webhook_engine_timeout_msec (const notify_webhook_engine_t *self)
{
    assert (self);
    assert (!self->has_loop);
    if (self->timer_at_usec < 0)
        return -1;
    int64_t left = self->timer_at_usec - s_now_usec ();
    return left <= 0 ? 0 : (long) ((left + 999) / 1000);
}

//  Acts on up to one batch of ready sockets (waiting at most timeout_msec), then the timer.
static void
s_own_turn (notify_webhook_engine_t *self, int timeout_msec)
{
    struct epoll_event events [256];
    int count = epoll_wait (self->epoll_fd, events, 256, timeout_msec);
    for (int i = 0; i < count; i++) {
        uint32_t ready = events [i].events;
        //  On an error or hang-up let curl try both directions: it reads the reason.
        if (ready & (EPOLLERR | EPOLLHUP))
            ready |= EPOLLIN | EPOLLOUT;
        notify_webhook_engine_on_fd (self, events [i].data.fd,
                                     ((ready & EPOLLIN) ? NOTIFY_WEBHOOK_POLLIN : 0)
                                   | ((ready & EPOLLOUT) ? NOTIFY_WEBHOOK_POLLOUT : 0));
    }
    if (self->timer_at_usec >= 0 && s_now_usec () >= self->timer_at_usec) {
        self->timer_at_usec = -1;
        notify_webhook_engine_on_timer (self);
    }
}

void
notify_webhook_engine_perform (notify_webhook_engine_t *self)
{
    assert (self);
    assert (!self->has_loop);
    s_own_turn (self, 0);
}

size_t
notify_webhook_engine_wait (notify_webhook_engine_t *self, int timeout_msec)
{
    assert (self);
    assert (!self->has_loop);
    long timer = notify_webhook_engine_timeout_msec (self);
    if (timer >= 0 && timer < timeout_msec)
        timeout_msec = (int) timer;
    s_own_turn (self, self->pending ? timeout_msec : 0);
    return self->pending;
}

size_t
notify_webhook_engine_pending (const notify_webhook_engine_t *self)
{
    assert (self);
    return self->pending;
}

size_t
notify_webhook_engine_in_flight (const notify_webhook_engine_t *self)
{
    assert (self);
    return self->in_flight;
}

int64_t
notify_webhook_engine_retry_after_msec (const notify_webhook_engine_t *self,
                                        const char *endpoint_id)
{
    assert (self);
    assert (endpoint_id);
    const s_endpoint_t *endpoint = s_endpoint_find (self, endpoint_id, s_hash (endpoint_id));
    if (!endpoint || endpoint->breaker != s_OPEN)
        return 0;
    int64_t left = endpoint->open_until_usec - s_now_usec ();
    return left > 0 ? (left + 999) / 1000 : 0;
}
