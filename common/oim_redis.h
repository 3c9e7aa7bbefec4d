/*  oim_redis — one synchronous Redis connection with a URL, timeouts and reconnection.

    URL forms: redis://[:password@]host[:port][/db] and unix:///path/to/socket[?db=N&password=P].
    A URL may hold the password: print one only through oim_redis_url_redact.
    Every command has the configured timeout; a dead connection (any I/O or protocol error,
    after which hiredis' context is unusable) is dropped and re-made on the next command, no
    more often than every reconnect interval (100 ms, doubling to 2 s while Redis stays down).
    Not thread-safe: one oim_redis_t per thread (STYLE.md anti-pattern 10).

    Sentinel mode (issue 18): redis-sentinel://[:password@]host:port[,host:port...]/<master
    name>[?db=N] (oim_redis_url_compose builds it from OIM_REDIS_SENTINELS and
    OIM_REDIS_MASTER_NAME). Each connection asks the sentinels in turn (the last one that
    answered first) for SENTINEL get-master-addr-by-name, connects to that address, and keeps
    it only when ROLE says "master". The connection is re-resolved and re-made when it is lost,
    when a command times out, when Redis answers READONLY / MASTERDOWN / LOADING (the node is
    not, or not yet, a usable master), and when a poll of the sentinels (at most once per
    OIM_REDIS_SENTINEL_POLL_MSEC, on a synchronous command: a daemon's health PING makes one
    every second) names another master. Polling, not SUBSCRIBE +switch-master: a killed master
    drops its connections at once, and Sentinel itself closes the clients of a node it
    demotes (CLIENT KILL TYPE normal), so the poll only matters for a master that is cut off
    but alive; it costs one round trip to a sentinel per second per connection. Reconnects
    are retried every 100 ms, doubling to 500 ms (2 s with a plain URL).
    The sentinels are asked without a password (Sentinel's own requirepass is not supported).

    Acknowledged means replicated: oim_redis_set_wait makes oim_redis_wait (and through it
    every transaction of oim_redis_tx and every XACK of oim_stream) confirm with WAIT that
    the connection's writes reached that many replicas.
*/
#ifndef OIM_REDIS_H_INCLUDED
#define OIM_REDIS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "oim_metrics.h"

typedef struct _oim_redis_t oim_redis_t;

//  Parses url and prepares a connection; connects lazily. Returns NULL for a malformed URL.
oim_redis_t *oim_redis_new (const char *url, int connect_timeout_msec, int command_timeout_msec);
void oim_redis_destroy (oim_redis_t **self_p);

#define OIM_REDIS_SENTINEL_POLL_MSEC 1000

//  The options of a program that reaches Redis through sentinels (oim_config tables).
#define OIM_REDIS_SENTINEL_OPTIONS \
    { "redis-sentinels", "OIM_REDIS_SENTINELS", "", "Redis Sentinel: host:port,host:port... "  \
      "(then the master is found through them; redis-url gives only password and db)", false }, \
    { "redis-master-name", "OIM_REDIS_MASTER_NAME", "oim", "the master's name the sentinels "  \
      "monitor", false }

//  The options of a daemon whose acknowledgements wait for replicas (oim_redis_set_wait).
#define OIM_REDIS_WAIT_OPTIONS \
    { "redis-wait-replicas", "OIM_REDIS_WAIT_REPLICAS", "0", "acknowledge a write or a stream " \
      "entry only once WAIT confirms this many replicas (0 = off)", false },                   \
    { "redis-wait-msec", "OIM_REDIS_WAIT_MSEC", "1000", "how long WAIT may take (below "        \
      "redis-timeout-ms); past it the write is an error to the client", false }

struct _oim_config_t;
//  The URL a program configured with OIM_REDIS_SENTINEL_OPTIONS and "redis-url" connects
//  with (oim_redis_url_compose). 0, or -1 when it does not fit or redis-url is malformed.
int oim_redis_config_url (struct _oim_config_t *config, char *out, size_t out_size);

//  The URL to connect with: url as it is when sentinels is empty, else
//  redis-sentinel://[:password@]<sentinels>/<master>[?db=N] with the password and db of url
//  (its host and port are then unused). sentinels: "host:port,host:port..."; master: the
//  name the sentinels monitor ("" = "oim"). Writes into out (out_size bytes). Returns 0, or
//  -1 when it does not fit or url is not a Redis URL.
int oim_redis_url_compose (const char *url, const char *sentinels, const char *master,
                           char *out, size_t out_size);

//  True for a redis-sentinel:// connection.
bool oim_redis_sentinel_mode (oim_redis_t *self);

//  Counts successful connects: it changes when the connection was re-made (a failover may
//  have happened: stream readers re-check what they assumed about the server).
uint64_t oim_redis_epoch (oim_redis_t *self);

//  ---- Acknowledged means replicated --------------------------------------------------------

//  From now on oim_redis_wait asks for replicas (0 = off, the default) within msec.
void oim_redis_set_wait (oim_redis_t *self, int replicas, int msec);
int oim_redis_wait_replicas (oim_redis_t *self);
int oim_redis_wait_msec (oim_redis_t *self);

//  Judges a WAIT reply (for a caller that pipelines its own "WAIT n msec": oim_redis_tx;
//  borrowed; NULL = Redis failed): 0 when at least the set number of
//  replicas confirmed, else -1 with the connection marked unreplicated (logged; a WAIT that
//  timed out leaves the write applied on the master, unconfirmed).
int oim_redis_wait_judge (oim_redis_t *self, const redisReply *reply);
//  Whether a WAIT is due now: 0 when no wait is set, 1 when it is, -1 while cooling down
//  after a WAIT fell short (for twice the wait time no WAIT is sent: the writes count as
//  unconfirmed at once and the connection is marked unreplicated, so a daemon whose replicas
//  are gone does not spend its loop blocked in WAITs; logged once per cool-down).
int oim_redis_wait_due (oim_redis_t *self);
//  WAIT for the writes made so far on this connection, as set. 0 (confirmed, or no wait
//  set), or -1 (Redis failed, or fewer replicas within the time, or cooling down: then
//  unreplicated).
int oim_redis_wait (oim_redis_t *self);
//  True when the last WAIT since the last reset fell short (fewer replicas in time): the
//  caller answers "replication_timeout" instead of a generic failure.
bool oim_redis_unreplicated (oim_redis_t *self);
void oim_redis_unreplicated_reset (oim_redis_t *self);

//  Runs one command (hiredis format). Returns the reply (caller frees with freeReplyObject),
//  or NULL when Redis could not be reached or the connection failed (logged once per outage).
//  A Redis error reply (REDIS_REPLY_ERROR) is returned as a reply, not NULL.
redisReply *oim_redis_command (oim_redis_t *self, const char *format, ...);
redisReply *oim_redis_commandv (oim_redis_t *self, int argc, const char **argv, const size_t *argvlen);

//  Pipelining: append commands, then read their replies in order. oim_redis_append* return 0
//  or -1 (not connected). oim_redis_reply returns NULL when the connection failed; the
//  connection is then dropped and the remaining replies are lost.
int oim_redis_append (oim_redis_t *self, const char *format, ...);
int oim_redis_appendv (oim_redis_t *self, int argc, const char **argv, const size_t *argvlen);
//  Appends bytes already in the protocol (RESP: any number of whole commands) as they are:
//  for callers that format large pipelines themselves, saving hiredis' per-argument
//  formatting and copies. All or nothing; the caller reads one reply per command.
int oim_redis_append_formatted (oim_redis_t *self, const char *data, size_t len);
redisReply *oim_redis_reply (oim_redis_t *self);
//  Writes out the commands appended so far without reading any reply (blocks only while the
//  socket is full), so Redis can work on them while the caller computes; oim_redis_reply
//  reads their replies later. Returns 0, or -1 when the connection failed (dropped).
int oim_redis_flush (oim_redis_t *self);

//  Writes len bytes of data (whole commands in RESP, formatted by the caller, who keeps the
//  buffer) from *sent on, after whatever was appended before: without waiting, as much as
//  the socket takes now (block = false), or all of it (block = true). *sent grows by what
//  was written. So a caller can hand Redis a large pipeline piece by piece while it computes
//  something else, instead of waiting while Redis reads it; it reads the replies (with
//  oim_redis_reply) once all is written. Returns 0, or -1 when the connection failed
//  (dropped: Redis discards a transaction it did not get whole).
int oim_redis_write (oim_redis_t *self, const char *data, size_t len, size_t *sent, bool block);

//  PINGs Redis. Returns true when it answered; *latency_us gets the round trip.
bool oim_redis_ping (oim_redis_t *self, int64_t *latency_us);

//  The last connection error, "" when connected.
const char *oim_redis_error (oim_redis_t *self);

//  True when the last command found Redis reachable.
bool oim_redis_connected (oim_redis_t *self);

//  Writes url into out (NUL-terminated, out_size bytes at most) with any password replaced
//  by "***": redis://:***@host:6379/0, redis://user:***@host, unix:///s?db=1&password=***.
//  Anything that is not a well-formed URL is redacted from "://" to its last '@', and after
//  every "password=". The one way a Redis URL may be printed (a URL carries the password in
//  the deployment: issue 13). Returns out.
char *oim_redis_url_redact (const char *url, char *out, size_t out_size);

//  Redis memory as INFO memory reports it. percent = used_memory * 100 / maxmemory (0 when
//  Redis has no limit); level = 0 below 80 %, 1 from 80 %, 2 from 95 % (writes fail at
//  100 %: the policy is noeviction).
typedef struct {
    int64_t used_bytes;
    int64_t max_bytes;              //  0 = no maxmemory
    int percent;
    int level;
} oim_redis_memory_t;

#define OIM_REDIS_MEMORY_WARN_PERCENT 80
#define OIM_REDIS_MEMORY_CRITICAL_PERCENT 95

//  Parses the text of an INFO memory reply into *memory (used_memory, maxmemory). Returns 0,
//  or -1 when used_memory is missing (then *memory is zeroed).
int oim_redis_memory_parse (const char *info, oim_redis_memory_t *memory);

//  Runs INFO memory and fills *memory. Logs when the level changes (warn at 80 %, error at
//  95 %, info when back under 80 %) and repeats the warning every 10 minutes while at 80 % or
//  more, so a Redis nearing its limit is loud in every daemon's log before writes fail.
//  Returns 0, or -1 when Redis did not answer (*memory unchanged; nothing logged here).
int oim_redis_memory_watch (oim_redis_t *self, oim_redis_memory_t *memory);

//  For a daemon's housekeeping tick: at most every 10 s, oim_redis_memory_watch, then the
//  gauges oim_redis_memory_used_bytes, oim_redis_maxmemory_bytes and
//  oim_redis_memory_used_percent in metrics (the percent is what to alert on: >= 80 warns,
//  >= 95 is critical, 100 = writes refused). Cheap to call on every tick.
void oim_redis_memory_tick (oim_redis_t *self, oim_metrics_t *metrics);

#endif
