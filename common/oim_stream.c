/*  oim_stream — see oim_stream.h. */
#include "oim_stream.h"
#include "oim_clock.h"
#include "oim_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------------------------
//  Stream ids

int
oim_stream_id_parse (const char *text, oim_stream_id_t *id)
{
    id->ms = id->seq = 0;
    if (!text || *text < '0' || *text > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long ms = strtoull (text, &end, 10), seq = 0;
    if (*end == '-') {
        const char *s = end + 1;
        if (*s < '0' || *s > '9')
            return -1;
        seq = strtoull (s, &end, 10);
    }
    if (*end || errno)
        return -1;
    id->ms = ms;
    id->seq = seq;
    return 0;
}

int
oim_stream_id_compare (oim_stream_id_t a, oim_stream_id_t b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms? -1: 1;
    return a.seq < b.seq? -1: a.seq > b.seq;
}

int
oim_stream_id_cmp (const char *a, const char *b)
{
    oim_stream_id_t x, y;
    oim_stream_id_parse (a, &x);
    oim_stream_id_parse (b, &y);
    return oim_stream_id_compare (x, y);
}

const redisReply *
oim_stream_info_field (const redisReply *info, const char *name)
{
    for (size_t k = 0; info && info->type == REDIS_REPLY_ARRAY && k + 1 < info->elements; k += 2)
        if (info->element [k]->type == REDIS_REPLY_STRING && strcmp (info->element [k]->str, name) == 0)
            return info->element [k + 1];
    return NULL;
}

redisReply *
oim_stream_entries (const redisReply *reply)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 1)
        return NULL;
    const redisReply *stream = reply->element [0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2
    ||  stream->element [1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    return stream->element [1];
}

//  ---------------------------------------------------------------------------------------
//  Follower

struct _oim_stream_follower_t {
    char *stream;
    char position [OIM_STREAM_ID_SIZE];
    bool gap;
    uint64_t epoch;                 //  the connection's (oim_redis_epoch) at the last ask
    bool verify;                    //  the last ask also asked for the entry at the position
};

oim_stream_follower_t *
oim_stream_follower_new (const char *stream)
{
    oim_stream_follower_t *self = calloc (1, sizeof *self);
    if (self)
        self->stream = strdup (stream);
    if (self && !self->stream)
        oim_stream_follower_destroy (&self);
    if (self)
        oim_stream_follower_reset (self);
    return self;
}

void
oim_stream_follower_destroy (oim_stream_follower_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->stream);
        free (*self_p);
        *self_p = NULL;
    }
}

const char *
oim_stream_follower_position (oim_stream_follower_t *self)
{
    return self->position;
}

bool
oim_stream_follower_gap (oim_stream_follower_t *self)
{
    return self->gap;
}

void
oim_stream_follower_reset (oim_stream_follower_t *self)
{
    strcpy (self->position, "0-0");
    self->gap = false;
}

int
oim_stream_follower_mark (oim_stream_follower_t *self, oim_redis_t *redis)
{
    redisReply *last = oim_redis_command (redis, "XREVRANGE %s + - COUNT 1", self->stream);
    if (!last || last->type != REDIS_REPLY_ARRAY) {
        if (last)
            freeReplyObject (last);
        return -1;
    }
    snprintf (self->position, sizeof self->position, "%s",
              last->elements? last->element [0]->element [0]->str: "0-0");
    freeReplyObject (last);
    self->gap = false;
    self->epoch = oim_redis_epoch (redis);
    return 0;
}

int
oim_stream_follower_ask (oim_stream_follower_t *self, oim_redis_t *redis, int count)
{
    if (oim_redis_append (redis, "XREAD COUNT %d STREAMS %s %s", count, self->stream,
                          self->position)
    ||  oim_redis_append (redis, "XINFO STREAM %s", self->stream))
        return -1;
    //  A new connection may be to a new master (a failover) that never got the last entries
    //  applied: the entry at the position must exist there, or the follower re-snapshots.
    self->verify = oim_redis_epoch (redis) != self->epoch && strcmp (self->position, "0-0");
    self->epoch = oim_redis_epoch (redis);
    if (self->verify
    &&  oim_redis_append (redis, "XRANGE %s %s %s", self->stream, self->position, self->position))
        return -1;
    return 0;
}

//  True when info (XINFO STREAM) shows the stream trimmed past the position.
static bool
s_trimmed_past (oim_stream_follower_t *self, const redisReply *info)
{
    const redisReply *added = oim_stream_info_field (info, "entries-added");
    const redisReply *length = oim_stream_info_field (info, "length");
    const redisReply *first = oim_stream_info_field (info, "recorded-first-entry-id");
    const redisReply *last = oim_stream_info_field (info, "last-generated-id");
    if (last && last->type == REDIS_REPLY_STRING
    &&  oim_stream_id_cmp (last->str, self->position) < 0)
        return true;                //  the stream is behind the position: a failover lost entries
    return added && length && first && added->type == REDIS_REPLY_INTEGER
        && length->type == REDIS_REPLY_INTEGER && first->type == REDIS_REPLY_STRING
        && added->integer > length->integer
        && oim_stream_id_cmp (first->str, self->position) > 0;
}

int
oim_stream_follower_take (oim_stream_follower_t *self, oim_redis_t *redis,
                          oim_stream_apply_fn *apply, void *arg)
{
    redisReply *r = oim_redis_reply (redis);
    redisReply *info = r? oim_redis_reply (redis): NULL;
    redisReply *at = info && self->verify? oim_redis_reply (redis): NULL;
    if (!r || !info || (self->verify && !at)) {
        if (r)
            freeReplyObject (r);
        if (info)
            freeReplyObject (info);
        self->epoch = 0;            //  verify again on the next ask
        return -1;
    }
    if (!self->gap && (s_trimmed_past (self, info)
                       || (at && at->type == REDIS_REPLY_ARRAY && at->elements == 0))) {
        oim_warn ("event=stream_gap stream=%s position=%s reason=%s", self->stream,
                  self->position, at && at->elements == 0? "position_missing": "trimmed_or_behind");
        self->gap = true;
    }
    freeReplyObject (info);
    if (at)
        freeReplyObject (at);
    int applied = 0;
    redisReply *entries = self->gap? NULL: oim_stream_entries (r);
    for (size_t i = 0; entries && i < entries->elements; i++) {
        const redisReply *e = entries->element [i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2)
            continue;
        apply (arg, e->element [0]->str, e->element [1]);
        snprintf (self->position, sizeof self->position, "%s", e->element [0]->str);
        applied++;
    }
    freeReplyObject (r);
    return self->gap? -2: applied;
}

int
oim_stream_follower_poll (oim_stream_follower_t *self, oim_redis_t *redis, int count,
                          oim_stream_apply_fn *apply, void *arg)
{
    if (oim_stream_follower_ask (self, redis, count))
        return -1;
    return oim_stream_follower_take (self, redis, apply, arg);
}

//  ---------------------------------------------------------------------------------------
//  Consumer group

struct _oim_stream_group_t {
    char *stream, *group, *consumer;
    int64_t claim_idle_ms, claim_every_ms, next_claim_ms;
    bool ready;                     //  the group is known to exist
    bool retrying;                  //  read own pending entries first
    bool asked_own;                 //  the read appended last was of own pending entries
    uint64_t epoch;                 //  the connection's (oim_redis_epoch) at the last ensure
};

oim_stream_group_t *
oim_stream_group_new (const char *stream, const char *group, const char *consumer,
                      int64_t claim_idle_ms, int64_t claim_every_ms)
{
    oim_stream_group_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->stream = strdup (stream);
    self->group = strdup (group);
    self->consumer = strdup (consumer);
    self->claim_idle_ms = claim_idle_ms;
    self->claim_every_ms = claim_every_ms;
    if (!self->stream || !self->group || !self->consumer)
        oim_stream_group_destroy (&self);
    return self;
}

void
oim_stream_group_destroy (oim_stream_group_t **self_p)
{
    if (self_p && *self_p) {
        oim_stream_group_t *self = *self_p;
        free (self->stream);
        free (self->group);
        free (self->consumer);
        free (self);
        *self_p = NULL;
    }
}

const char *
oim_stream_group_stream (oim_stream_group_t *self)
{
    return self->stream;
}

const char *
oim_stream_group_name (oim_stream_group_t *self)
{
    return self->group;
}

bool
oim_stream_group_ensure (oim_stream_group_t *self, oim_redis_t *redis)
{
    if (self->ready && self->epoch == oim_redis_epoch (redis) && oim_redis_connected (redis))
        return true;
    if (self->ready) {
        //  A new connection, maybe to a new master after a failover, which may lack the
        //  group (created just before) or our last XACKs: make sure of the group and re-read
        //  our own pending entries first (handled again, idempotently, and acknowledged).
        self->ready = false;
        self->retrying = true;
    }
    redisReply *r = oim_redis_command (redis, "XGROUP CREATE %s %s 0 MKSTREAM",
                                       self->stream, self->group);
    self->epoch = oim_redis_epoch (redis);
    if (!r)
        return false;
    self->ready = r->type != REDIS_REPLY_ERROR || strstr (r->str, "BUSYGROUP");
    if (!self->ready)
        oim_error ("event=xgroup_failed stream=%s group=%s error=\"%s\"", self->stream,
                   self->group, r->str);
    freeReplyObject (r);
    return self->ready;
}

void
oim_stream_group_retry (oim_stream_group_t *self)
{
    self->retrying = true;
}

bool
oim_stream_group_retrying (oim_stream_group_t *self)
{
    return self->retrying;
}

int
oim_stream_group_append (oim_stream_group_t *self, oim_redis_t *redis, int count)
{
    self->asked_own = self->retrying;
    return oim_redis_append (redis, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s %s",
                             self->group, self->consumer, count, self->stream,
                             self->asked_own? "0": ">");
}

int
oim_stream_group_judge (oim_stream_group_t *self, const redisReply *reply,
                        redisReply **entries)
{
    if (entries)
        *entries = NULL;
    if (!reply)
        return -1;
    if (reply->type == REDIS_REPLY_ERROR) {
        if (strstr (reply->str, "NOGROUP")) {
            self->ready = false;
            return -2;
        }
        oim_error ("event=xreadgroup_failed stream=%s group=%s error=\"%s\"", self->stream,
                   self->group, reply->str);
        return -1;
    }
    redisReply *found = oim_stream_entries (reply);
    if (entries)
        *entries = found;
    int n = found? (int) found->elements: 0;
    if (self->asked_own && n == 0)
        self->retrying = false;
    return n;
}

int
oim_stream_group_read (oim_stream_group_t *self, oim_redis_t *redis, int count,
                       redisReply **reply_p, redisReply **entries)
{
    *reply_p = oim_stream_group_append (self, redis, count) == 0? oim_redis_reply (redis): NULL;
    return oim_stream_group_judge (self, *reply_p, entries);
}

bool
oim_stream_group_claim_due (oim_stream_group_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (now < self->next_claim_ms)
        return false;
    self->next_claim_ms = now + self->claim_every_ms;
    return true;
}

int
oim_stream_group_claim (oim_stream_group_t *self, oim_redis_t *redis, int count,
                        redisReply **reply_p, redisReply **entries)
{
    *entries = NULL;
    redisReply *r = oim_redis_command (redis, "XAUTOCLAIM %s %s %s %lld 0-0 COUNT %d",
                                       self->stream, self->group, self->consumer,
                                       (long long) self->claim_idle_ms, count);
    *reply_p = r;
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element [1]->type == REDIS_REPLY_ARRAY)
        *entries = r->element [1];
    return *entries? (int) (*entries)->elements: 0;
}

int
oim_stream_group_ack (oim_stream_group_t *self, oim_redis_t *redis,
                      const char *const *ids, size_t n)
{
    if (n == 0)
        return 0;
    //  Acknowledged means replicated: the writes the entries led to (made on this connection
    //  before) must have reached the replicas (oim_redis_set_wait) before the entries are
    //  acknowledged; otherwise they stay pending and are handled again (idempotently).
    if (oim_redis_wait (redis))
        return -1;
    const char **argv = malloc ((n + 3) * sizeof *argv);
    if (!argv)
        return -1;
    argv [0] = "XACK";
    argv [1] = self->stream;
    argv [2] = self->group;
    memcpy (argv + 3, ids, n * sizeof *ids);
    redisReply *r = oim_redis_commandv (redis, (int) n + 3, argv, NULL);
    free (argv);
    if (!r)
        return -1;
    freeReplyObject (r);
    return 0;
}

int
oim_stream_group_forget (oim_stream_group_t *self, oim_redis_t *redis, int64_t idle_ms)
{
    redisReply *r = oim_redis_command (redis, "XINFO CONSUMERS %s %s", self->stream, self->group);
    if (!r)
        return -1;
    int removed = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *c = r->element [i];
        const redisReply *name = oim_stream_info_field (c, "name");
        const redisReply *pending = oim_stream_info_field (c, "pending");
        const redisReply *idle = oim_stream_info_field (c, "idle");
        if (!name || name->type != REDIS_REPLY_STRING || !pending
        ||  pending->type != REDIS_REPLY_INTEGER || pending->integer != 0
        ||  !idle || idle->type != REDIS_REPLY_INTEGER || idle->integer <= idle_ms
        ||  strcmp (name->str, self->consumer) == 0)
            continue;
        redisReply *d = oim_redis_command (redis, "XGROUP DELCONSUMER %s %s %s",
                                           self->stream, self->group, name->str);
        if (d)
            freeReplyObject (d);
        oim_info ("event=consumer_forgotten name=%s", name->str);
        removed++;
    }
    freeReplyObject (r);
    return removed;
}
