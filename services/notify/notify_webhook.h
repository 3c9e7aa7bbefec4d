/*  notify_webhook — the webhook delivery engine of oim-notify (SPEC §5).

    Sends signed POSTs (Standard Webhooks headers, notify_sign) over libcurl's multi
    interface: any number of deliveries in flight on one thread, none waiting for another.
    The engine only makes attempts and reports each one; what to do next (retry schedule in
    Redis, dead letter, delivery log) belongs to the caller, which hears exactly one result
    per accepted request through the result callback.

    Isolation, so a slow or dead endpoint never delays the others:
    * per-endpoint concurrency limit: at most max_in_flight_per_endpoint transfers per
      endpoint; more wait in that endpoint's own bounded queue. The total is bounded too
      (max_in_flight transfers, max_queued requests), and endpoints with work take turns
      (round robin) for free transfer slots;
    * connect and total timeouts on every attempt; the connect timeout includes resolving
      the name, which libcurl does on a thread of its own, and a resolution the timeout
      cuts short is abandoned (CURLOPT_QUICK_EXIT), not waited for: a DNS server that never
      answers holds one attempt of its endpoint, never the caller's loop;
    * a circuit breaker per endpoint: after breaker_failures consecutive failures (no
      response, timeout, 5xx or 429) the circuit opens for breaker_cooldown_msec, doubling
      (up to 10 min) each time the single half-open probe fails. While open, submit answers
      NOTIFY_WEBHOOK_CIRCUIT_OPEN and requests that were queued are handed back through the
      callback with attempted = false, so they cost no attempt and hold no slot.
    An endpoint is identified by the caller's endpoint_id (the organization id), else the URL.

    Event-loop integration — no thread inside; two ways to drive the engine:
    * own mode (loop = NULL; recommended for zloop): the engine keeps curl's sockets in an
      epoll set of its own and exposes one descriptor, notify_webhook_engine_fd(), that
      polls readable whenever any transfer has work. The reactor polls that one fd (a
      zloop_poller on a raw fd) and, when it fires or after notify_webhook_engine_
      timeout_msec(), calls notify_webhook_engine_perform(). One registration for any number
      of connections, so zloop never rebuilds a large poll set as connections come and go.
      notify_webhook_engine_wait() does the same in a blocking call (tests, tools).
      A new transfer starts from the timer (timeout_msec() turns 0 after a submit), so
      re-arm after every submit and every perform. With czmq:
          zmq_pollitem_t item = { NULL, notify_webhook_engine_fd (engine), ZMQ_POLLIN, 0 };
          zloop_poller (loop, &item, s_engine_ready, self);   //  perform, then s_rearm
          s_rearm: end the previous one-shot timer; msec = notify_webhook_engine_
          timeout_msec (engine); if msec >= 0: zloop_timer (loop, msec, 1, s_engine_due,
          self) where s_engine_due performs and re-arms.
    * adapter mode (loop given): libcurl's socket interface forwarded to the owner's
      reactor, in the manner of hiredis' adapters — watch() starts/stops polling each
      socket, timer() arms one one-shot timer, and the reactor calls _on_fd() / _on_timer().
    Why not a worker thread: every result would have to cross a queue back into the
    reactor that writes Redis, and the engine's work per attempt (signing, a few syscalls)
    is small; TLS-heavy deployments can still run the whole engine inside a zactor of its
    own, as nothing here is shared.

    Threading: an engine belongs to one thread. curl_global_init (CURL_GLOBAL_DEFAULT) and
    sodium_init must be called once at program start, before any engine exists (libcurl's
    global state is the only process-wide state involved). Result callbacks may call
    notify_webhook_engine_submit, never notify_webhook_engine_destroy.
*/
#ifndef NOTIFY_WEBHOOK_H_INCLUDED
#define NOTIFY_WEBHOOK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notify_ssrf.h"
#include "notify_sign.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t max_in_flight;              //  transfers at once, all endpoints (256)
    size_t max_in_flight_per_endpoint; //  transfers at once per endpoint (8)
    size_t max_queued;                 //  accepted, not yet reported requests, total (100000)
    size_t max_queued_per_endpoint;    //  same, per endpoint (10000)
    size_t max_body_bytes;             //  larger bodies are refused (1 MiB)
    long connect_timeout_msec;         //  TCP + TLS handshake (5000)
    long timeout_msec;                 //  whole attempt, from dispatch (15000)
    uint32_t breaker_failures;         //  consecutive failures that open the circuit (5)
    int64_t breaker_cooldown_msec;     //  first open period (30000)
    const notify_ssrf_t *ssrf;         //  borrowed; NULL = no address check (tests only)
    const char *user_agent;            //  copied; NULL = "oim-notify"
} notify_webhook_config_t;

//  Fills config with the defaults shown above.
void
    notify_webhook_config_defaults (notify_webhook_config_t *config);

//  One delivery attempt to make. Everything is copied by submit.
typedef struct {
    const char *endpoint_id;   //  isolation key (org id); NULL = url
    const char *url;           //  http(s) URL
    const char *msg_id;        //  webhook-id: the notification id, the same on every retry
    const char *secret;        //  "whsec_..."
    const void *body;          //  the notification JSON
    size_t body_size;
    int64_t timestamp;         //  webhook-timestamp; 0 = unix time when the attempt starts
    void *user;                //  handed back in the result
} notify_webhook_request_t;

typedef enum {
    NOTIFY_WEBHOOK_DELIVERED = 0,  //  2xx
    NOTIFY_WEBHOOK_FAILED,         //  anything else: schedule a retry (or dead-letter)
    NOTIFY_WEBHOOK_DISABLE         //  410 Gone: disable the endpoint, stop retrying
} notify_webhook_outcome_t;

//  The report of one attempt. Strings are borrowed, valid during the callback only.
typedef struct {
    notify_webhook_outcome_t outcome;
    bool attempted;            //  false: never sent (circuit opened while queued)
    long http_status;          //  0 when there was no HTTP response
    int64_t latency_usec;      //  dispatch → end of the attempt (0 if not attempted)
    int64_t queued_usec;       //  submit → dispatch
    int64_t timestamp;         //  webhook-timestamp sent
    const char *error;         //  "" when delivered; else curl's error, "HTTP 500", ...
    const char *endpoint_id;
    const char *msg_id;
    void *user;
} notify_webhook_result_t;

typedef void (notify_webhook_result_fn) (const notify_webhook_result_t *result, void *arg);

#define NOTIFY_WEBHOOK_MSG_ID_MAX 200   //  longest webhook-id accepted (visible ASCII)

#define NOTIFY_WEBHOOK_POLLIN  1
#define NOTIFY_WEBHOOK_POLLOUT 2

//  The owner's reactor, called by the engine. Both return 0, or -1 on failure (the engine
//  then fails the transfers concerned rather than stall).
typedef struct {
    //  Poll fd for events (an OR of NOTIFY_WEBHOOK_POLLIN/POLLOUT), replacing any earlier
    //  registration of fd; events == 0: stop polling fd (it may be closed right after).
    int (*watch) (void *loop, int fd, int events);
    //  Arm the engine's single timer to fire once after msec (0 = on the next loop turn),
    //  replacing any armed one; msec == -1: disarm.
    int (*timer) (void *loop, long msec);
    void *loop;
} notify_webhook_loop_t;

typedef enum {
    NOTIFY_WEBHOOK_ACCEPTED = 0,   //  exactly one result callback will follow
    NOTIFY_WEBHOOK_BUSY,           //  a queue is full: keep the request, submit it later
    NOTIFY_WEBHOOK_CIRCUIT_OPEN,   //  see notify_webhook_engine_retry_after_msec
    NOTIFY_WEBHOOK_INVALID         //  bad secret or msg_id, body too large: will never work
} notify_webhook_submit_t;

typedef struct _notify_webhook_engine_t notify_webhook_engine_t;

//  Creates an engine. config is copied (NULL = defaults); loop is copied (NULL = own mode).
//  Returns NULL if curl, epoll or memory fails; nothing is left behind.
notify_webhook_engine_t *
    notify_webhook_engine_new (const notify_webhook_config_t *config,
                               const notify_webhook_loop_t *loop,
                               notify_webhook_result_fn *on_result, void *arg);

//  Aborts every transfer without reporting it (the caller's Redis state still says
//  pending, so they are retried after a restart), stops watching every fd, frees everything
//  and nulls *self_p. Accepts NULL and *self_p == NULL.
void
    notify_webhook_engine_destroy (notify_webhook_engine_t **self_p);

//  Accepts a request (copied) or says why not; see notify_webhook_submit_t. Signing
//  happens when the attempt starts, so a queued request carries a fresh timestamp.
notify_webhook_submit_t
    notify_webhook_engine_submit (notify_webhook_engine_t *self,
                                  const notify_webhook_request_t *request);

//  Adapter mode: fd became ready for events (NOTIFY_WEBHOOK_POLLIN/POLLOUT, or 0 for an
//  error condition); and the engine's timer fired. Results are reported from inside.
void
    notify_webhook_engine_on_fd (notify_webhook_engine_t *self, int fd, int events);
void
    notify_webhook_engine_on_timer (notify_webhook_engine_t *self);

//  Own mode: the descriptor to poll for reading (-1 in adapter mode). Do not read or close it.
int
    notify_webhook_engine_fd (const notify_webhook_engine_t *self);

//  Own mode: milliseconds until the engine needs notify_webhook_engine_perform even if its
//  fd stays quiet (timeouts, connection set-up); -1 = only when the fd fires.
long
    notify_webhook_engine_timeout_msec (const notify_webhook_engine_t *self);

//  Own mode: progresses every transfer that can move without blocking and reports results.
void
    notify_webhook_engine_perform (notify_webhook_engine_t *self);

//  Own mode, blocking: waits at most timeout_msec for activity, progresses and reports.
//  Returns the number of requests still pending (0: returns at once).
size_t
    notify_webhook_engine_wait (notify_webhook_engine_t *self, int timeout_msec);

//  Requests accepted and not yet reported (queued + in flight).
size_t
    notify_webhook_engine_pending (const notify_webhook_engine_t *self);

//  Transfers in flight right now.
size_t
    notify_webhook_engine_in_flight (const notify_webhook_engine_t *self);

//  Milliseconds until endpoint_id's open circuit lets a probe through; 0 if it is not open.
int64_t
    notify_webhook_engine_retry_after_msec (const notify_webhook_engine_t *self,
                                            const char *endpoint_id);

//  The request headers of one signed webhook POST (Standard Webhooks: webhook-id,
//  webhook-timestamp, webhook-signature of body; JSON; no Expect), or NULL when memory is
//  short; the caller frees them with curl_slist_free_all. The engine and the test ping
//  (notify_ping.c) both send with these.
struct curl_slist;
struct curl_slist *notify_webhook_headers (notify_sign_t *signer, const char *msg_id,
                                           int64_t timestamp, const char *body,
                                           size_t body_size);
//  Sets on easy (a CURL *) the options every webhook POST has: url, headers, body, user
//  agent, no signals, no redirects, http(s) only, the timeouts, errors into errbuf
//  (CURL_ERROR_SIZE bytes), the response discarded, the resolver thread detached.
//  Returns 0, or -1 when curl refused one.
int notify_webhook_arm (void *easy, const char *url, struct curl_slist *headers,
                        const char *body, size_t body_size, const char *user_agent,
                        long connect_msec, long total_msec, char *errbuf);

#ifdef __cplusplus
}
#endif

#endif
