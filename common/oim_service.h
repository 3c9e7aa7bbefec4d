/*  oim_service — the daemon template every OI Market daemon is built on.

    A daemon declares what it is (oim_service_def_t: name, options, methods, hooks) and its
    main.c calls oim_service_main. The template then:
      1. parses configuration (common options + the daemon's own; --help, --version,
         --healthcheck),
      2. connects to Redis (oim_redis) and to the gateway's broker (oim_peer),
      3. calls def->start, then runs one zloop: the broker socket, the daemon's own sockets
         (oim_service_loop) and one housekeeping tick (heartbeats, reconnects, health file,
         def->tick) in the manner of redis' serverCron,
      4. dispatches each request by method name to the daemon's handler; answers the built-in
         methods "oim.status" (StatusReply, with a live Redis PING) and "oim.metrics"
         (Prometheus text); unknown methods get 404, a handler's ApiReply its status,
      5. on SIGTERM/SIGINT stops the loop, calls def->stop, disconnects, frees everything.
    Handlers run on the loop's thread, one at a time: they must not block unbounded (Redis
    calls carry timeouts). A daemon whose handlers are safe to run at once may answer from
    more threads (oim_service_add_workers): each has its own broker link, so the broker sees
    each thread as one more worker of the service and spreads requests over them.
*/
#ifndef OIM_SERVICE_H_INCLUDED
#define OIM_SERVICE_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include "oim_config.h"
#include "oim_curve.h"
#include "oim_metrics.h"
#include "oim_redis.h"
#include "oim_wire.h"
#include "api.pb-c.h"
#include "oim_api.h"

typedef struct _oim_service_t oim_service_t;

//  What an API handler answers: oim_api_reply_t (common/oim_api.h).

//  A raw handler: the request body is the protobuf its method names. Set *reply_body to a
//  malloc'd buffer (the template frees it) and return the status.
typedef uint32_t (oim_raw_fn) (oim_service_t *service, const oim_wire_msg_t *request,
                               uint8_t **reply_body, size_t *reply_size);

//  An API handler: the request body is an ApiRequest (api.proto), already unpacked.
typedef void (oim_api_fn) (oim_service_t *service, const Oim__V1__ApiRequest *request,
                           oim_api_reply_t *reply);

typedef struct {
    const char *method;     //  e.g. "org.create"; NULL ends the table
    oim_api_fn *api;        //  exactly one of api and raw
    oim_raw_fn *raw;
} oim_method_t;

typedef struct {
    const char *name;                       //  "registry": the broker service name
    const char *summary;                    //  one line for --help
    const oim_option_t *options;            //  the daemon's own options, or NULL
    const oim_method_t *methods;
    int (*start) (oim_service_t *service);  //  after connections; -1 = exit 1
    void (*tick) (oim_service_t *service);  //  every tick
    void (*stop) (oim_service_t *service);  //  before disconnecting
    int tick_msec;                          //  0 = 100 ms
} oim_service_def_t;

//  Runs the daemon; returns the process exit code.
int oim_service_main (const oim_service_def_t *def, int argc, char **argv);

//  Accessors for handlers and hooks.
oim_config_t *oim_service_config (oim_service_t *self);
oim_redis_t *oim_service_redis (oim_service_t *self);
//  A new connection to the daemon's Redis, as configured (redis-url, redis-timeout-ms), for
//  a thread or a second pipeline of the daemon's own; NULL when the URL is bad. The caller
//  destroys it.
oim_redis_t *oim_service_redis_new (oim_service_t *self);
oim_metrics_t *oim_service_metrics (oim_service_t *self);
//  The daemon's CURVE configuration (OIM_CURVE, OIM_CURVE_DIR): the broker link uses it, and
//  so must any ZeroMQ client socket of the daemon's own (oim_curve_client); never NULL.
const oim_curve_t *oim_service_curve (oim_service_t *self);
zloop_t *oim_service_loop (oim_service_t *self);
const char *oim_service_instance (oim_service_t *self);
void *oim_service_state (oim_service_t *self);
void oim_service_set_state (oim_service_t *self, void *state);
//  For a handler of the loop's thread that must wait on long work (a password hash): sends
//  the broker a heartbeat when one is due, so that the broker does not take the busy daemon
//  for dead (it expires workers silent for 3 intervals). Call it every few tens of ms while
//  waiting; the requests queued meanwhile still wait.
void oim_service_keepalive (oim_service_t *self);

//  Answers requests from count more threads besides the loop's, each with its own broker
//  link (instance "<instance>/t<k>") and Redis connection. Every handler of the daemon must
//  then be safe to run on several threads at once (the built-in ones are). Call from
//  def->start; the template stops and joins them before def->stop. Returns 0 or -1.
int oim_service_add_workers (oim_service_t *self, int count);

//  The options every daemon has (see --help).
extern const oim_option_t oim_service_common_options [];

#endif
