/*  oim_redis — see oim_redis.h. */
#include "oim_redis.h"
#include "oim_clock.h"
#include "oim_config.h"
#include "oim_log.h"
#include "oim_metrics.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>

#define MAX_SENTINELS 8

typedef struct {
    char host [256];
    int port;
} s_addr_t;

struct _oim_redis_t {
    char host [1024];               //  with sentinels: the master they named last
    int port;
    char unix_path [1024];
    char password [1024];
    int db;
    struct timeval connect_timeout;
    struct timeval command_timeout;
    redisContext *context;
    int64_t next_attempt_ms;        //  monotonic: no reconnect before this
    int64_t backoff_ms;
    bool down_logged;
    char error [256];
    int memory_level;               //  last level oim_redis_memory_watch logged
    int64_t memory_logged_ms;       //  when it last logged a high level (monotonic)
    int64_t memory_checked_ms;      //  oim_redis_memory_tick's last INFO (monotonic)
    s_addr_t sentinels [MAX_SENTINELS];
    int n_sentinels;                //  0: a plain URL
    int sentinel_next;              //  the sentinel asked first (the last that answered)
    redisContext *sentinel;         //  open to sentinels [sentinel_next], or NULL
    char master_name [256];
    int64_t polled_ms;              //  when the sentinels were last asked (monotonic)
    uint64_t epoch;                 //  successful connects
    int wait_replicas, wait_msec;   //  oim_redis_wait; 0 replicas = off
    bool unreplicated;              //  the last WAIT fell short
    int64_t wait_cool_ms;           //  no WAIT before this (monotonic): one fell short
};

static struct timeval
s_timeval (int msec)
{
    struct timeval tv = { .tv_sec = msec / 1000, .tv_usec = (msec % 1000) * 1000 };
    return tv;
}

//  Reads "db" and "password" from a unix URL's query string.
static void
s_parse_query (oim_redis_t *self, char *query)
{
    for (char *pair = strtok (query, "&"); pair; pair = strtok (NULL, "&")) {
        if (strncmp (pair, "db=", 3) == 0)
            self->db = atoi (pair + 3);
        else
        if (strncmp (pair, "password=", 9) == 0)
            snprintf (self->password, sizeof self->password, "%s", pair + 9);
    }
}

//  Takes "[user]:password@" off the front of *rest (up to its last '@') into the password.
static void
s_parse_auth (oim_redis_t *self, char **rest)
{
    char *at = strrchr (*rest, '@');
    if (at) {
        *at = 0;
        char *colon = strchr (*rest, ':');      //  "[user]:password"
        snprintf (self->password, sizeof self->password, "%s", colon? colon + 1: *rest);
        *rest = at + 1;
    }
}

//  "host:port,host:port.../master?db=N" of a redis-sentinel:// URL.
static int
s_parse_sentinels (oim_redis_t *self, char *rest)
{
    s_parse_auth (self, &rest);
    char *query = strchr (rest, '?');
    if (query) {
        *query++ = 0;
        s_parse_query (self, query);
    }
    char *slash = strchr (rest, '/');
    if (!slash || !slash [1])
        return -1;
    *slash = 0;
    snprintf (self->master_name, sizeof self->master_name, "%s", slash + 1);
    char *save = NULL;
    for (char *item = strtok_r (rest, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        char *colon = strrchr (item, ':');
        if (self->n_sentinels == MAX_SENTINELS || !colon || colon == item)
            return -1;
        *colon = 0;
        s_addr_t *addr = &self->sentinels [self->n_sentinels++];
        snprintf (addr->host, sizeof addr->host, "%s", item);
        addr->port = atoi (colon + 1);
        if (addr->port <= 0 || addr->port >= 65536)
            return -1;
    }
    return self->n_sentinels? 0: -1;
}

static int
s_parse_url (oim_redis_t *self, const char *url)
{
    char copy [1024];
    if (snprintf (copy, sizeof copy, "%s", url) >= (int) sizeof copy)
        return -1;
    if (strncmp (copy, "redis-sentinel://", 17) == 0)
        return s_parse_sentinels (self, copy + 17);
    if (strncmp (copy, "unix://", 7) == 0) {
        char *query = strchr (copy + 7, '?');
        if (query) {
            *query++ = 0;
            s_parse_query (self, query);
        }
        snprintf (self->unix_path, sizeof self->unix_path, "%s", copy + 7);
        return *self->unix_path? 0: -1;
    }
    if (strncmp (copy, "redis://", 8) != 0)
        return -1;
    char *rest = copy + 8;
    s_parse_auth (self, &rest);
    char *slash = strchr (rest, '/');
    if (slash) {
        *slash = 0;
        if (slash [1])
            self->db = atoi (slash + 1);
    }
    char *colon = strrchr (rest, ':');
    self->port = 6379;
    if (colon) {
        *colon = 0;
        self->port = atoi (colon + 1);
    }
    snprintf (self->host, sizeof self->host, "%s", *rest? rest: "127.0.0.1");
    return self->port > 0 && self->port < 65536? 0: -1;
}

oim_redis_t *
oim_redis_new (const char *url, int connect_timeout_msec, int command_timeout_msec)
{
    oim_redis_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    if (!url || s_parse_url (self, url)) {
        free (self);
        return NULL;
    }
    self->connect_timeout = s_timeval (connect_timeout_msec);
    self->command_timeout = s_timeval (command_timeout_msec);
    self->backoff_ms = 100;
    return self;
}

static void
s_disconnect (oim_redis_t *self, const char *why)
{
    if (self->context) {
        snprintf (self->error, sizeof self->error, "%s", why);
        redisFree (self->context);
        self->context = NULL;
    }
}

int
oim_redis_url_compose (const char *url, const char *sentinels, const char *master,
                       char *out, size_t out_size)
{
    if (!sentinels || !*sentinels)
        return snprintf (out, out_size, "%s", url) < (int) out_size? 0: -1;
    oim_redis_t *parsed = calloc (1, sizeof *parsed);
    if (!parsed || !url || s_parse_url (parsed, url)) {
        free (parsed);
        return -1;
    }
    int len = snprintf (out, out_size, "redis-sentinel://%s%s%s%s/%s?db=%d",
                        *parsed->password? ":": "", parsed->password,
                        *parsed->password? "@": "", sentinels,
                        master && *master? master: "oim", parsed->db);
    free (parsed);
    return len < (int) out_size? 0: -1;
}

int
oim_redis_config_url (oim_config_t *config, char *out, size_t out_size)
{
    return oim_redis_url_compose (oim_config_get (config, "redis-url"),
                                  oim_config_get (config, "redis-sentinels"),
                                  oim_config_get (config, "redis-master-name"), out, out_size);
}

bool
oim_redis_sentinel_mode (oim_redis_t *self)
{
    return self->n_sentinels > 0;
}

uint64_t
oim_redis_epoch (oim_redis_t *self)
{
    return self->epoch;
}

static void
s_sentinel_drop (oim_redis_t *self)
{
    if (self->sentinel)
        redisFree (self->sentinel);
    self->sentinel = NULL;
}

void
oim_redis_destroy (oim_redis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_disconnect (*self_p, "closed");
    s_sentinel_drop (*self_p);
    free (*self_p);
    *self_p = NULL;
}

//  One setup command on a new connection. Returns 0 or -1 (error recorded).
static int
s_setup (oim_redis_t *self, const char *format, const char *arg)
{
    redisReply *reply = redisCommand (self->context, format, arg);
    bool ok = reply && reply->type != REDIS_REPLY_ERROR;
    snprintf (self->error, sizeof self->error, "%s",
              reply && !ok? reply->str: ok? "": self->context->errstr);
    if (reply)
        freeReplyObject (reply);
    return ok? 0: -1;
}

//  AUTH and SELECT on a new connection. Returns 0 or -1 (error recorded).
static int
s_handshake (oim_redis_t *self)
{
    char db [16];
    snprintf (db, sizeof db, "%d", self->db);
    if (*self->password && s_setup (self, "AUTH %s", self->password))
        return -1;
    if (self->db && s_setup (self, "SELECT %s", db))
        return -1;
    return 0;
}

//  Asks one sentinel after the other, from the last that answered, where the master is.
//  Returns 0 with *addr set, or -1 (none answered with an address; error recorded).
static int
s_sentinel_ask (oim_redis_t *self, s_addr_t *addr)
{
    self->polled_ms = oim_clock_mono_ms ();
    for (int tries = 0; tries < self->n_sentinels; tries++) {
        const s_addr_t *at = &self->sentinels [self->sentinel_next];
        if (!self->sentinel) {
            self->sentinel = redisConnectWithTimeout (at->host, at->port, self->connect_timeout);
            if (self->sentinel && !self->sentinel->err)
                redisSetTimeout (self->sentinel, self->command_timeout);
        }
        redisReply *r = self->sentinel && !self->sentinel->err
            ? redisCommand (self->sentinel, "SENTINEL get-master-addr-by-name %s",
                            self->master_name): NULL;
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2
               && r->element [0]->type == REDIS_REPLY_STRING
               && r->element [1]->type == REDIS_REPLY_STRING;
        if (ok) {
            snprintf (addr->host, sizeof addr->host, "%s", r->element [0]->str);
            addr->port = atoi (r->element [1]->str);
        }
        snprintf (self->error, sizeof self->error, "sentinel %.100s:%d: %.100s", at->host, at->port,
                  ok? "": r? "does not know the master": self->sentinel? self->sentinel->errstr
                  : "no connection");
        if (r)
            freeReplyObject (r);
        if (ok)
            return 0;
        s_sentinel_drop (self);
        self->sentinel_next = (self->sentinel_next + 1) % self->n_sentinels;
    }
    return -1;
}

//  ROLE on a new connection: 0 when the node is a master, else -1 (error recorded).
static int
s_verify_master (oim_redis_t *self)
{
    redisReply *r = redisCommand (self->context, "ROLE");
    bool master = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0
               && r->element [0]->type == REDIS_REPLY_STRING
               && strcmp (r->element [0]->str, "master") == 0;
    snprintf (self->error, sizeof self->error, "%.100s:%d is not the master (ROLE %.20s)",
              self->host, self->port, r && r->type == REDIS_REPLY_ARRAY && r->elements
              && r->element [0]->type == REDIS_REPLY_STRING? r->element [0]->str: "failed");
    if (r)
        freeReplyObject (r);
    return master? 0: -1;
}

//  Opens the connection: with sentinels, to the master they name, kept only when ROLE
//  agrees. Returns 0, or -1 (self->context NULL, error recorded).
static int
s_open (oim_redis_t *self)
{
    s_addr_t master;
    if (self->n_sentinels) {
        if (s_sentinel_ask (self, &master))
            return -1;
        snprintf (self->host, sizeof self->host, "%s", master.host);
        self->port = master.port;
    }
    self->context = *self->unix_path
        ? redisConnectUnixWithTimeout (self->unix_path, self->connect_timeout)
        : redisConnectWithTimeout (self->host, self->port, self->connect_timeout);
    if (!self->context || self->context->err
    ||  redisSetTimeout (self->context, self->command_timeout) != REDIS_OK
    ||  s_handshake (self)
    ||  (self->n_sentinels && s_verify_master (self))) {
        if (self->context && self->context->err)
            snprintf (self->error, sizeof self->error, "%s", self->context->errstr);
        if (self->context)
            redisFree (self->context);
        self->context = NULL;
        return -1;
    }
    return 0;
}

//  Makes sure a connection exists. Returns 0, or -1 (not now; error recorded).
static int
s_connect (oim_redis_t *self)
{
    if (self->context)
        return 0;
    int64_t now = oim_clock_mono_ms ();
    if (now < self->next_attempt_ms)
        return -1;
    if (s_open (self)) {
        int64_t cap = self->n_sentinels? 500: 2000;
        self->next_attempt_ms = now + self->backoff_ms;
        self->backoff_ms = self->backoff_ms * 2 > cap? cap: self->backoff_ms * 2;
        if (!self->down_logged)
            oim_warn ("event=redis_down error=\"%s\"", self->error);
        self->down_logged = true;
        return -1;
    }
    if (*self->unix_path == 0)
        redisEnableKeepAlive (self->context);
    if (self->down_logged || self->epoch == 0)
        oim_info ("event=redis_up address=%s:%d sentinels=%d", *self->unix_path? self->unix_path
                  : self->host, *self->unix_path? 0: self->port, self->n_sentinels);
    self->epoch++;
    self->down_logged = false;
    self->backoff_ms = 100;
    self->error [0] = 0;
    return 0;
}

//  An error reply saying this node cannot take the command as a master now: a replica
//  (READONLY: the master moved), a replica cut off from its master, or a node loading its data.
static bool
s_not_master (const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR && reply->str
        && (strncmp (reply->str, "READONLY", 8) == 0 || strncmp (reply->str, "MASTERDOWN", 10) == 0
            || strncmp (reply->str, "LOADING", 7) == 0);
}

//  After a command: a NULL reply means the context is dead; a not-master error is treated
//  the same (the connection is dropped and the master found again).
static redisReply *
s_checked (oim_redis_t *self, redisReply *reply)
{
    if (s_not_master (reply)) {
        oim_warn ("event=redis_not_master address=%s:%d error=\"%.80s\"", self->host,
                  self->port, reply->str);
        char why [256];
        snprintf (why, sizeof why, "%s", reply->str);
        freeReplyObject (reply);
        reply = NULL;
        self->down_logged = true;
        s_disconnect (self, why);
        return NULL;
    }
    if (!reply) {
        if (!self->down_logged)
            oim_warn ("event=redis_error error=\"%s\"", self->context? self->context->errstr: "");
        self->down_logged = true;
        s_disconnect (self, self->context? self->context->errstr: "connection lost");
    }
    return reply;
}

//  Before a synchronous command (never inside a pipeline), when nothing is owed to us: a
//  readable socket means the server closed the connection while it was idle (restarted,
//  killed, or Sentinel's CLIENT KILL after a failover): drop it now and connect again,
//  instead of failing the caller's command on it.
static void
s_drop_closed (oim_redis_t *self)
{
    if (!self->context)
        return;
    struct pollfd item = { .fd = self->context->fd, .events = POLLIN };
    if (poll (&item, 1, 0) > 0) {
        oim_info ("event=redis_closed_idle address=%s:%d", *self->unix_path? self->unix_path
                  : self->host, *self->unix_path? 0: self->port);
        s_disconnect (self, "closed by the server");
    }
}

//  Before a synchronous command (never inside a pipeline): with sentinels, at most every
//  OIM_REDIS_SENTINEL_POLL_MSEC, asks them where the master is and drops the connection when
//  they name another one. A poll no sentinel answers keeps the connection.
static void
s_poll (oim_redis_t *self)
{
    s_drop_closed (self);
    if (!self->n_sentinels || !self->context
    ||  oim_clock_mono_ms () - self->polled_ms < OIM_REDIS_SENTINEL_POLL_MSEC)
        return;
    s_addr_t master;
    char error [sizeof self->error];
    memcpy (error, self->error, sizeof error);
    if (s_sentinel_ask (self, &master) == 0
    &&  (master.port != self->port || strcmp (master.host, self->host) != 0)) {
        oim_warn ("event=redis_master_moved from=%s:%d to=%s:%d", self->host, self->port,
                  master.host, master.port);
        s_disconnect (self, "the sentinels name another master");
    }
    else
        memcpy (self->error, error, sizeof error);
}

redisReply *
oim_redis_command (oim_redis_t *self, const char *format, ...)
{
    s_poll (self);
    if (s_connect (self))
        return NULL;
    va_list args;
    va_start (args, format);
    redisReply *reply = redisvCommand (self->context, format, args);
    va_end (args);
    return s_checked (self, reply);
}

redisReply *
oim_redis_commandv (oim_redis_t *self, int argc, const char **argv, const size_t *argvlen)
{
    s_poll (self);
    if (s_connect (self))
        return NULL;
    return s_checked (self, redisCommandArgv (self->context, argc, argv, argvlen));
}

int
oim_redis_append (oim_redis_t *self, const char *format, ...)
{
    if (s_connect (self))
        return -1;
    va_list args;
    va_start (args, format);
    int rc = redisvAppendCommand (self->context, format, args);
    va_end (args);
    return rc == REDIS_OK? 0: -1;
}

int
oim_redis_appendv (oim_redis_t *self, int argc, const char **argv, const size_t *argvlen)
{
    if (s_connect (self))
        return -1;
    return redisAppendCommandArgv (self->context, argc, argv, argvlen) == REDIS_OK? 0: -1;
}

int
oim_redis_append_formatted (oim_redis_t *self, const char *data, size_t len)
{
    if (s_connect (self))
        return -1;
    return redisAppendFormattedCommand (self->context, data, len) == REDIS_OK? 0: -1;
}

redisReply *
oim_redis_reply (oim_redis_t *self)
{
    if (!self->context)
        return NULL;
    void *reply = NULL;
    if (redisGetReply (self->context, &reply) != REDIS_OK)
        reply = NULL;
    return s_checked (self, reply);
}

int
oim_redis_flush (oim_redis_t *self)
{
    if (!self->context)
        return -1;
    int done = 0;
    while (!done)
        if (redisBufferWrite (self->context, &done) != REDIS_OK) {
            s_checked (self, NULL);
            return -1;
        }
    return 0;
}

int
oim_redis_write (oim_redis_t *self, const char *data, size_t len, size_t *sent, bool block)
{
    if (oim_redis_flush (self))
        return -1;
    while (*sent < len) {
        ssize_t n = send (self->context->fd, data + *sent, len - *sent,
                          MSG_NOSIGNAL | (block? 0: MSG_DONTWAIT));
        if (n > 0)
            *sent += (size_t) n;
        else
        if (n < 0 && errno == EINTR)
            continue;
        else
        if (n < 0 && !block && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;               //  the socket is full: more later
        else {
            //  (blocking, EAGAIN means the connection's command timeout passed)
            char reason [128];
            snprintf (reason, sizeof reason, "write: %s", n < 0? strerror (errno): "closed");
            oim_warn ("event=redis_error error=\"%s\"", reason);
            s_disconnect (self, reason);
            return -1;
        }
    }
    return 0;
}

bool
oim_redis_ping (oim_redis_t *self, int64_t *latency_us)
{
    int64_t start = oim_clock_mono_us ();
    redisReply *reply = oim_redis_command (self, "PING");
    bool ok = reply && reply->type == REDIS_REPLY_STATUS;
    if (reply && !ok)
        snprintf (self->error, sizeof self->error, "%s", reply->str? reply->str: "bad PING reply");
    if (reply)
        freeReplyObject (reply);
    if (latency_us)
        *latency_us = oim_clock_mono_us () - start;
    return ok;
}

void
oim_redis_set_wait (oim_redis_t *self, int replicas, int msec)
{
    int limit = (int) (self->command_timeout.tv_sec * 1000 + self->command_timeout.tv_usec / 1000);
    if (replicas > 0 && msec >= limit) {
        oim_warn ("event=redis_wait_clamped wait_msec=%d to=%d reason=\"WAIT must end before "
                  "the command timeout (%d ms)\"", msec, limit * 3 / 4, limit);
        msec = limit * 3 / 4;
    }
    self->wait_replicas = replicas > 0? replicas: 0;
    self->wait_msec = msec > 0? msec: 0;
}

int
oim_redis_wait_replicas (oim_redis_t *self)
{
    return self->wait_replicas;
}

int
oim_redis_wait_msec (oim_redis_t *self)
{
    return self->wait_msec;
}

int
oim_redis_wait_judge (oim_redis_t *self, const redisReply *reply)
{
    if (!reply)
        return -1;
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= self->wait_replicas)
        return 0;
    self->unreplicated = true;
    self->wait_cool_ms = oim_clock_mono_ms () + 2 * (int64_t) self->wait_msec;
    oim_warn ("event=redis_wait_short replicas=%lld wanted=%d wait_msec=%d error=\"%s\"",
              reply->type == REDIS_REPLY_INTEGER? reply->integer: -1LL, self->wait_replicas,
              self->wait_msec, reply->type == REDIS_REPLY_ERROR? reply->str: "");
    return -1;
}

int
oim_redis_wait_due (oim_redis_t *self)
{
    if (!self->wait_replicas)
        return 0;
    if (oim_clock_mono_ms () >= self->wait_cool_ms)
        return 1;
    self->unreplicated = true;
    return -1;
}

int
oim_redis_wait (oim_redis_t *self)
{
    int due = oim_redis_wait_due (self);
    if (due <= 0)
        return due;
    redisReply *reply = oim_redis_command (self, "WAIT %d %d", self->wait_replicas,
                                           self->wait_msec);
    int rc = oim_redis_wait_judge (self, reply);
    if (reply)
        freeReplyObject (reply);
    return rc;
}

bool
oim_redis_unreplicated (oim_redis_t *self)
{
    return self->unreplicated;
}

void
oim_redis_unreplicated_reset (oim_redis_t *self)
{
    self->unreplicated = false;
}

const char *
oim_redis_error (oim_redis_t *self)
{
    return self->context? "": self->error;
}

bool
oim_redis_connected (oim_redis_t *self)
{
    return self->context != NULL;
}

//  Copies at most n bytes of src to *out (within end), always leaving room for the NUL.
static void
s_put (char **out, char *end, const char *src, size_t n)
{
    while (n-- && *src && *out < end - 1)
        *(*out)++ = *src++;
    **out = 0;
}

char *
oim_redis_url_redact (const char *url, char *out, size_t out_size)
{
    assert (out && out_size > 0);
    char *at = out, *end = out + out_size;
    *out = 0;
    if (!url)
        return out;
    const char *scheme = strstr (url, "://");
    const char *auth_end = scheme? strrchr (scheme + 3, '@'): NULL;
    const char *rest = url;
    if (auth_end) {
        //  Keep a user name ("user:" of user:password), hide the rest of the userinfo.
        const char *user = scheme + 3;
        const char *colon = memchr (user, ':', (size_t) (auth_end - user));
        s_put (&at, end, url, (size_t) ((colon? colon + 1: user) - url));
        s_put (&at, end, "***", 3);
        rest = auth_end;
    }
    //  Then the rest, with every password= value hidden up to the next '&' or '#'.
    while (*rest) {
        const char *key = strstr (rest, "password=");
        if (!key) {
            s_put (&at, end, rest, strlen (rest));
            break;
        }
        s_put (&at, end, rest, (size_t) (key - rest) + 9);
        s_put (&at, end, "***", 3);
        rest = key + 9 + strcspn (key + 9, "&#");
    }
    return out;
}

//  The value of "name:" on its own line of an INFO reply, or -1.
static int64_t
s_info_field (const char *info, const char *name)
{
    size_t len = strlen (name);
    const char *line = info;
    while (line) {
        if (strncmp (line, name, len) == 0 && line [len] == ':')
            return strtoll (line + len + 1, NULL, 10);
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    return -1;
}

int
oim_redis_memory_parse (const char *info, oim_redis_memory_t *memory)
{
    assert (memory);
    memset (memory, 0, sizeof *memory);
    int64_t used = info? s_info_field (info, "used_memory"): -1;
    if (used < 0)
        return -1;
    int64_t max = s_info_field (info, "maxmemory");
    memory->used_bytes = used;
    memory->max_bytes = max > 0? max: 0;
    if (memory->max_bytes) {
        int64_t percent = used * 100 / memory->max_bytes;
        memory->percent = percent > 1000? 1000: (int) percent;
    }
    memory->level = memory->percent >= OIM_REDIS_MEMORY_CRITICAL_PERCENT? 2
                  : memory->percent >= OIM_REDIS_MEMORY_WARN_PERCENT? 1: 0;
    return 0;
}

int
oim_redis_memory_watch (oim_redis_t *self, oim_redis_memory_t *memory)
{
    assert (self && memory);
    redisReply *reply = oim_redis_command (self, "INFO memory");
    oim_redis_memory_t now;
    int rc = reply && reply->type == REDIS_REPLY_STRING
           ? oim_redis_memory_parse (reply->str, &now): -1;
    if (reply)
        freeReplyObject (reply);
    if (rc)
        return -1;
    *memory = now;
    int64_t now_ms = oim_clock_mono_ms ();
    bool again = now.level > 0 && now_ms - self->memory_logged_ms >= 10 * 60 * 1000;
    if (now.level != self->memory_level || again) {
        if (now.level == 2)
            oim_error ("event=redis_memory_critical used_bytes=%lld max_bytes=%lld percent=%d "
                       "threshold=%d effect=\"writes fail at 100%%: raise maxmemory or free data\"",
                       (long long) now.used_bytes, (long long) now.max_bytes, now.percent,
                       OIM_REDIS_MEMORY_CRITICAL_PERCENT);
        else
        if (now.level == 1)
            oim_warn ("event=redis_memory_high used_bytes=%lld max_bytes=%lld percent=%d threshold=%d",
                      (long long) now.used_bytes, (long long) now.max_bytes, now.percent,
                      OIM_REDIS_MEMORY_WARN_PERCENT);
        else
            oim_info ("event=redis_memory_ok used_bytes=%lld max_bytes=%lld percent=%d",
                      (long long) now.used_bytes, (long long) now.max_bytes, now.percent);
        self->memory_level = now.level;
        self->memory_logged_ms = now_ms;
    }
    return 0;
}

void
oim_redis_memory_tick (oim_redis_t *self, oim_metrics_t *metrics)
{
    assert (self && metrics);
    int64_t now_ms = oim_clock_mono_ms ();
    if (self->memory_checked_ms && now_ms - self->memory_checked_ms < 10000)
        return;
    self->memory_checked_ms = now_ms;
    oim_redis_memory_t memory;
    if (oim_redis_memory_watch (self, &memory))
        return;
    oim_metric_set (oim_metrics_gauge (metrics, "oim_redis_memory_used_bytes", NULL,
                                       "Redis used_memory (INFO memory)"), memory.used_bytes);
    oim_metric_set (oim_metrics_gauge (metrics, "oim_redis_maxmemory_bytes", NULL,
                                       "Redis maxmemory (0 = no limit)"), memory.max_bytes);
    oim_metric_set (oim_metrics_gauge (metrics, "oim_redis_memory_used_percent", NULL,
                                       "used_memory / maxmemory in percent: >= 80 warns, >= 95 "
                                       "critical, 100 refuses writes (noeviction)"), memory.percent);
}
