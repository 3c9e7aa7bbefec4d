/*  oim_redis_tx — the Redis transaction builder (see oim_redis_tx.h).

    The commands are written as RESP straight into one buffer (what hiredis' formatter would
    produce, without its per-argument copies), MULTI first, so that once EXEC is appended the
    buffer is the whole pipeline and goes out with oim_redis_write. Grouped commands grow
    after later commands were queued, so each is kept in its own buffer and spliced in at its
    place when the transaction is sealed. Merged SADDs and summed HINCRBYs are queued at the
    seal (or at oim_redis_tx_merge).
*/
#include "oim_redis_tx.h"
#include "oim_clock.h"
#include "oim_log.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STRS        16          //  arguments of oim_redis_tx_strs
#define MAX_GROUP_ARGS  4096        //  arguments of one grouped command
#define MAX_OPEN_GROUPS 16          //  groups open for more members at once
#define SPARE_MAX       (16 * 1024 * 1024)  //  a reset keeps a buffer up to this size
#define RESP_HEAD_MAX   24          //  type, 20 digits, CRLF

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

typedef struct {
    char *op;
    char *key;
    size_t at;                      //  where it goes in cmds (spliced at the seal)
    int argc;
    buf_t body;                     //  its arguments, in RESP (op and key included)
} group_t;

typedef struct {
    char *key;
    char *field;
    long long delta;
} counter_t;

struct _oim_redis_tx_t {
    buf_t cmds;                     //  MULTI and the commands, in RESP
    size_t count;                   //  commands queued (MULTI and EXEC not counted)
    bool sealed;                    //  complete: MULTI ... EXEC
    bool waits;                     //  a WAIT follows EXEC (oim_redis_tx_send)
    bool unconfirmed;               //  a WAIT was due but cooling down: commit = failed
    size_t written;                 //  bytes of cmds written to Redis (once sealed)
    int64_t time_ms;
    group_t *groups;                //  every grouped command, in the order queued
    size_t n_groups, groups_cap;
    size_t open [MAX_OPEN_GROUPS];  //  the open ones (indexes into groups)
    size_t n_open;
    counter_t *counters;
    size_t n_counters, counters_cap;
    buf_t members;                  //  merged SADDs: "key\0member\0"...
    size_t *member_at;              //  where each pair starts in members
    size_t member_count, member_slots;
};

//  --------------------------------------------------------------------------------------
//  RESP into a growing buffer (aborts on no memory); data stays NUL-terminated.

static char *
s_reserve (buf_t *b, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        b->cap = (b->len + len + 1) * 2;
        if (b->cap < 512)
            b->cap = 512;
        b->data = realloc (b->data, b->cap);
        assert (b->data);
    }
    return b->data + b->len;
}

static void
s_put (buf_t *b, const char *data, size_t len)
{
    memcpy (s_reserve (b, len), data, len);
    b->len += len;
    b->data [b->len] = 0;
}

//  Writes the head "<type><n>\r\n" at at (RESP_HEAD_MAX bytes); returns its length.
static size_t
s_head_at (char *at, char type, size_t n)
{
    char digits [20];
    size_t i = sizeof digits;
    do {
        digits [--i] = (char) ('0' + n % 10);
        n /= 10;
    } while (n);
    size_t len = sizeof digits - i;
    at [0] = type;
    memcpy (at + 1, digits + i, len);
    memcpy (at + 1 + len, "\r\n", 2);
    return len + 3;
}

static void
s_head (buf_t *b, char type, size_t n)
{
    b->len += s_head_at (s_reserve (b, RESP_HEAD_MAX), type, n);
    b->data [b->len] = 0;
}

//  One argument, head and data in one step.
static void
s_arg (buf_t *b, const char *data, size_t len)
{
    char *at = s_reserve (b, RESP_HEAD_MAX + len + 2);
    size_t head = s_head_at (at, '$', len);
    memcpy (at + head, data, len);
    memcpy (at + head + len, "\r\n", 2);
    b->len += head + len + 2;
    b->data [b->len] = 0;
}

//  One argument: message packed in place.
static void
s_arg_packed (buf_t *b, const ProtobufCMessage *message)
{
    size_t size = protobuf_c_message_get_packed_size (message);
    s_head (b, '$', size);
    uint8_t *at = (uint8_t *) s_reserve (b, size + 2);
    size_t packed = protobuf_c_message_pack (message, at);
    assert (packed == size);
    memcpy (at + size, "\r\n", 2);
    b->len += size + 2;
    b->data [b->len] = 0;
}

//  --------------------------------------------------------------------------------------
//  The transaction

oim_redis_tx_t *
oim_redis_tx_new (void)
{
    oim_redis_tx_t *self = calloc (1, sizeof *self);
    assert (self);
    self->time_ms = oim_clock_wall_ms ();
    return self;
}

void
oim_redis_tx_destroy (oim_redis_tx_t **self_p)
{
    oim_redis_tx_t *self = *self_p;
    if (!self)
        return;
    oim_redis_tx_reset (self);
    free (self->cmds.data);
    free (self->groups);
    free (self->counters);
    free (self->members.data);
    free (self->member_at);
    free (self);
    *self_p = NULL;
}

void
oim_redis_tx_reset (oim_redis_tx_t *self)
{
    for (size_t i = 0; i < self->n_groups; i++) {
        free (self->groups [i].op);
        free (self->groups [i].key);
        free (self->groups [i].body.data);
    }
    for (size_t i = 0; i < self->n_counters; i++) {
        free (self->counters [i].key);
        free (self->counters [i].field);
    }
    if (self->cmds.cap > SPARE_MAX) {
        free (self->cmds.data);
        memset (&self->cmds, 0, sizeof self->cmds);
    }
    self->cmds.len = 0;
    if (self->cmds.data)
        self->cmds.data [0] = 0;
    self->members.len = 0;
    self->count = self->written = 0;
    self->sealed = self->waits = self->unconfirmed = false;
    self->n_groups = self->n_open = self->n_counters = self->member_count = 0;
    self->time_ms = oim_clock_wall_ms ();
}

int64_t
oim_redis_tx_time_ms (oim_redis_tx_t *self)
{
    return self->time_ms;
}

size_t
oim_redis_tx_size (oim_redis_tx_t *self)
{
    return self->count + self->n_counters + self->member_count;
}

int
oim_redis_tx_watch (oim_redis_t *redis, const char *key)
{
    redisReply *reply = oim_redis_command (redis, "WATCH %s", key);
    int rc = reply && reply->type == REDIS_REPLY_STATUS? 0: -1;
    if (reply)
        freeReplyObject (reply);
    return rc;
}

void
oim_redis_tx_unwatch (oim_redis_t *redis)
{
    redisReply *reply = oim_redis_command (redis, "UNWATCH");
    if (reply)
        freeReplyObject (reply);
}

//  Starts a command: the first one is preceded by MULTI. A command on the key of an open
//  group closes that group.
static void
s_begin (oim_redis_tx_t *self, const char *key, size_t key_len)
{
    assert (!self->sealed);
    if (self->cmds.len == 0)
        s_put (&self->cmds, "*1\r\n$5\r\nMULTI\r\n", 15);
    for (size_t i = 0; key && i < self->n_open; i++) {
        const char *open = self->groups [self->open [i]].key;
        if (strlen (open) == key_len && memcmp (open, key, key_len) == 0) {
            self->open [i] = self->open [--self->n_open];
            break;
        }
    }
    self->count++;
}

void
oim_redis_tx_add (oim_redis_tx_t *self, int argc, const char *const *argv, const size_t *lens)
{
    assert (argc > 0);
    size_t len1 = argc > 1? (lens? lens [1]: strlen (argv [1])): 0;
    s_begin (self, argc > 1? argv [1]: NULL, len1);
    s_head (&self->cmds, '*', (size_t) argc);
    for (int i = 0; i < argc; i++)
        s_arg (&self->cmds, argv [i], lens? lens [i]: strlen (argv [i]));
}

void
oim_redis_tx_strs (oim_redis_tx_t *self, const char *arg, ...)
{
    const char *argv [MAX_STRS];
    int argc = 0;
    va_list args;
    va_start (args, arg);
    for (const char *a = arg; a; a = va_arg (args, const char *)) {
        assert (argc < MAX_STRS);
        argv [argc++] = a;
    }
    va_end (args);
    oim_redis_tx_add (self, argc, argv, NULL);
}

void
oim_redis_tx_packed (oim_redis_tx_t *self, int argc, const char *const *argv,
                     const ProtobufCMessage *message)
{
    s_begin (self, argc > 1? argv [1]: NULL, argc > 1? strlen (argv [1]): 0);
    s_head (&self->cmds, '*', (size_t) argc + 1);
    for (int i = 0; i < argc; i++)
        s_arg (&self->cmds, argv [i], strlen (argv [i]));
    s_arg_packed (&self->cmds, message);
}

//  --------------------------------------------------------------------------------------
//  Commands built argument by argument

void
oim_redis_args_add (oim_redis_args_t *args, const char *data, size_t len)
{
    buf_t b = { args->data, args->len, args->cap };
    s_arg (&b, data, len);
    args->data = b.data, args->len = b.len, args->cap = b.cap;
    args->argc++;
}

void
oim_redis_args_str (oim_redis_args_t *args, const char *text)
{
    oim_redis_args_add (args, text, strlen (text));
}

void
oim_redis_args_packed (oim_redis_args_t *args, const ProtobufCMessage *message)
{
    buf_t b = { args->data, args->len, args->cap };
    s_arg_packed (&b, message);
    args->data = b.data, args->len = b.len, args->cap = b.cap;
    args->argc++;
}

void
oim_redis_args_clear (oim_redis_args_t *args)
{
    free (args->data);
    memset (args, 0, sizeof *args);
}

//  The key of a command's RESP arguments (its second), or NULL; *len its length.
static const char *
s_args_key (const oim_redis_args_t *args, size_t *len)
{
    if (args->argc < 2)
        return NULL;
    const char *at = memchr (args->data, '\n', args->len);      //  "$n\r\n" of the first
    at += 1 + strtoul (args->data + 1, NULL, 10) + 2;
    *len = strtoul (at + 1, NULL, 10);
    return strchr (at, '\n') + 1;
}

void
oim_redis_tx_add_args (oim_redis_tx_t *self, oim_redis_args_t *args, int head)
{
    if (args->argc > head) {
        size_t key_len = 0;
        const char *key = s_args_key (args, &key_len);
        s_begin (self, key, key_len);
        s_head (&self->cmds, '*', (size_t) args->argc);
        s_put (&self->cmds, args->data, args->len);
    }
    oim_redis_args_clear (args);
}

//  --------------------------------------------------------------------------------------
//  Groups, merged SADDs, counters

//  The open group of key, or NULL.
static group_t *
s_open_group (oim_redis_tx_t *self, const char *key)
{
    for (size_t i = 0; i < self->n_open; i++)
        if (strcmp (self->groups [self->open [i]].key, key) == 0)
            return &self->groups [self->open [i]];
    return NULL;
}

static void
s_group_args (group_t *group, int argc, const char *const *argv, const size_t *lens)
{
    for (int i = 0; i < argc; i++)
        s_arg (&group->body, argv [i], lens? lens [i]: strlen (argv [i]));
    group->argc += argc;
}

void
oim_redis_tx_group (oim_redis_tx_t *self, const char *op, const char *key, int argc,
                    const char *const *argv, const size_t *lens)
{
    group_t *group = s_open_group (self, key);
    if (group && strcmp (group->op, op) == 0 && group->argc + argc <= MAX_GROUP_ARGS) {
        s_group_args (group, argc, argv, lens);
        return;
    }
    s_begin (self, key, strlen (key));      //  closes the old group of key
    if (self->n_groups == self->groups_cap) {
        self->groups_cap = self->groups_cap? self->groups_cap * 2: 8;
        self->groups = realloc (self->groups, self->groups_cap * sizeof *self->groups);
        assert (self->groups);
    }
    group = &self->groups [self->n_groups];
    memset (group, 0, sizeof *group);
    group->op = strdup (op);
    group->key = strdup (key);
    assert (group->op && group->key);
    group->at = self->cmds.len;
    const char *head [2] = { op, key };
    s_group_args (group, 2, head, NULL);
    s_group_args (group, argc, argv, lens);
    if (self->n_open < MAX_OPEN_GROUPS)
        self->open [self->n_open++] = self->n_groups;
    self->n_groups++;
}

void
oim_redis_tx_sadd (oim_redis_tx_t *self, const char *key, const char *member)
{
    assert (!self->sealed);
    if (self->member_count == self->member_slots) {
        self->member_slots = self->member_slots? self->member_slots * 2: 256;
        self->member_at = realloc (self->member_at, self->member_slots * sizeof *self->member_at);
        assert (self->member_at);
    }
    self->member_at [self->member_count++] = self->members.len;
    s_put (&self->members, key, strlen (key) + 1);
    s_put (&self->members, member, strlen (member) + 1);
}

void
oim_redis_tx_hincrby (oim_redis_tx_t *self, const char *key, const char *field, int delta)
{
    assert (!self->sealed);
    for (size_t i = 0; i < self->n_counters; i++)
        if (strcmp (self->counters [i].field, field) == 0
        &&  strcmp (self->counters [i].key, key) == 0) {
            self->counters [i].delta += delta;
            return;
        }
    if (self->n_counters == self->counters_cap) {
        self->counters_cap = self->counters_cap? self->counters_cap * 2: 8;
        self->counters = realloc (self->counters, self->counters_cap * sizeof *self->counters);
        assert (self->counters);
    }
    counter_t *counter = &self->counters [self->n_counters++];
    counter->key = strdup (key);
    counter->field = strdup (field);
    assert (counter->key && counter->field);
    counter->delta = delta;
}

//  Queues the summed counters as HINCRBY commands.
static void
s_merge_counters (oim_redis_tx_t *self)
{
    for (size_t i = 0; i < self->n_counters; i++) {
        counter_t *counter = &self->counters [i];
        if (counter->delta) {
            char number [24];
            snprintf (number, sizeof number, "%lld", counter->delta);
            oim_redis_tx_strs (self, "HINCRBY", counter->key, counter->field, number, NULL);
        }
        free (counter->key);
        free (counter->field);
    }
    self->n_counters = 0;
}

//  The key of queued member i; the member follows it.
static const char *
s_member_key (const oim_redis_tx_t *self, size_t i)
{
    return self->members.data + self->member_at [i];
}

//  Links each queued member to the next of its key, in one pass: a hash table (open
//  addressing) finds a key's first member. count [i] = how many members the key whose first
//  is i has (0 when i is not a first), next [i] = 1 + the next one of its key.
static void
s_link_members (const oim_redis_tx_t *self, size_t *next, size_t *count)
{
    size_t n = self->member_count;
    size_t mask = 15;
    while (mask + 1 < 2 * n)
        mask = mask * 2 + 1;
    size_t *table = calloc (mask + 1, sizeof *table);   //  1 + a key's first member
    size_t *last = calloc (n, sizeof *last);            //  at a first member: the last one
    assert (table && last);
    for (size_t i = 0; i < n; i++) {
        const char *key = s_member_key (self, i);
        uint64_t h = 1469598103934665603ULL;
        for (const char *p = key; *p; p++)
            h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        size_t at = h & mask;
        while (table [at] && strcmp (s_member_key (self, table [at] - 1), key) != 0)
            at = (at + 1) & mask;
        if (!table [at])
            table [at] = i + 1;
        else {
            size_t first = table [at] - 1;
            const char *prev = s_member_key (self, last [first]);
            if (strcmp (prev + strlen (prev) + 1, key + strlen (key) + 1) == 0)
                continue;           //  the same member again, right after itself
            next [last [first]] = i + 1;
        }
        last [table [at] - 1] = i;
        count [table [at] - 1]++;
    }
    free (table);
    free (last);
}

//  Queues the merged SADDs: one per key, in the order the keys were first queued.
static void
s_merge_members (oim_redis_tx_t *self)
{
    size_t n = self->member_count;
    if (n == 0)
        return;
    size_t *next = calloc (n, sizeof *next);
    size_t *count = calloc (n, sizeof *count);
    assert (next && count);
    s_link_members (self, next, count);
    for (size_t i = 0; i < n; i++) {
        if (!count [i])
            continue;               //  not its key's first member
        const char *key = s_member_key (self, i);
        s_begin (self, NULL, 0);
        s_head (&self->cmds, '*', 2 + count [i]);
        s_arg (&self->cmds, "SADD", 4);
        s_arg (&self->cmds, key, strlen (key));
        for (size_t j = i + 1; j; j = next [j - 1]) {
            const char *at = s_member_key (self, j - 1);
            const char *member = at + strlen (at) + 1;
            s_arg (&self->cmds, member, strlen (member));
        }
    }
    free (next);
    free (count);
    self->members.len = 0;
    self->member_count = 0;
}

void
oim_redis_tx_merge (oim_redis_tx_t *self)
{
    s_merge_counters (self);
    s_merge_members (self);
}

//  Splices the grouped commands into cmds at their places.
static void
s_splice_groups (oim_redis_tx_t *self)
{
    if (self->n_groups == 0)
        return;
    size_t total = self->cmds.len;
    for (size_t i = 0; i < self->n_groups; i++)
        total += RESP_HEAD_MAX + self->groups [i].body.len;
    buf_t out = { 0 };
    s_reserve (&out, total);
    size_t from = 0;
    for (size_t i = 0; i < self->n_groups; i++) {
        group_t *group = &self->groups [i];
        s_put (&out, self->cmds.data + from, group->at - from);
        s_head (&out, '*', (size_t) group->argc);
        s_put (&out, group->body.data, group->body.len);
        from = group->at;
    }
    s_put (&out, self->cmds.data + from, self->cmds.len - from);
    free (self->cmds.data);
    self->cmds = out;
}

void
oim_redis_tx_seal (oim_redis_tx_t *self)
{
    if (self->sealed)
        return;
    oim_redis_tx_merge (self);
    s_splice_groups (self);
    if (self->cmds.len == 0)
        s_put (&self->cmds, "*1\r\n$5\r\nMULTI\r\n", 15);
    s_put (&self->cmds, "*1\r\n$4\r\nEXEC\r\n", 14);
    self->n_open = 0;
    self->sealed = true;
}

const char *
oim_redis_tx_resp (oim_redis_tx_t *self, size_t *len)
{
    *len = self->cmds.len;
    return self->cmds.data? self->cmds.data: "";
}

//  --------------------------------------------------------------------------------------
//  Running it

int
oim_redis_tx_write (oim_redis_tx_t *self, oim_redis_t *redis, bool block)
{
    assert (self->sealed);
    return oim_redis_write (redis, self->cmds.data, self->cmds.len, &self->written, block);
}

//  Acknowledged means replicated (issue 18): when the connection has a wait set, "WAIT n ms"
//  follows EXEC in the same write, so a committed transaction counts as committed only once
//  that many replicas confirmed it. The one place every daemon's transactions pass.
static void
s_append_wait (oim_redis_tx_t *self, oim_redis_t *redis)
{
    int replicas = oim_redis_wait_replicas (redis);
    int due = self->waits || self->unconfirmed? 0: oim_redis_wait_due (redis);
    self->unconfirmed = due < 0;
    if (due <= 0)
        return;
    char wait [64];
    snprintf (wait, sizeof wait, "%d", replicas);
    char msec [32];
    snprintf (msec, sizeof msec, "%d", oim_redis_wait_msec (redis));
    s_head (&self->cmds, '*', 3);
    s_arg (&self->cmds, "WAIT", 4);
    s_arg (&self->cmds, wait, strlen (wait));
    s_arg (&self->cmds, msec, strlen (msec));
    self->waits = true;
}

int
oim_redis_tx_send (oim_redis_tx_t *self, oim_redis_t *redis)
{
    oim_redis_tx_seal (self);
    s_append_wait (self, redis);
    //  Appending nothing connects when the connection was dropped (lazily, as a command
    //  would), so that the write has a connection to use.
    if (oim_redis_append_formatted (redis, "", 0))
        return -1;
    return oim_redis_tx_write (self, redis, false);
}

static int s_tx_replies (oim_redis_t *redis, size_t count);

//  Judges EXEC's reply (after replies without errors): 0, 1 (nil) or -1.
static int
s_exec_result (const redisReply *exec)
{
    if (exec->type == REDIS_REPLY_NIL)
        return OIM_REDIS_TX_CONFLICT;
    if (exec->type != REDIS_REPLY_ARRAY)
        return OIM_REDIS_TX_FAILED;
    int rc = OIM_REDIS_TX_COMMITTED;
    for (size_t e = 0; e < exec->elements; e++)
        if (exec->element [e]->type == REDIS_REPLY_ERROR) {
            oim_error ("event=redis_exec_error error=\"%s\"", exec->element [e]->str);
            rc = OIM_REDIS_TX_FAILED;
        }
    return rc;
}

//  Reads the replies of count commands: MULTI's +OK, one +QUEUED each, then EXEC's array
//  (or nil after a WATCHed key changed), then WAIT's when waits. Returns 0, 1 or -1 (also
//  when a committed transaction's WAIT fell short: the connection is then unreplicated).
static int
s_replies (oim_redis_t *redis, size_t count, bool waits)
{
    int rc = s_tx_replies (redis, count);
    if (!waits)
        return rc;
    redisReply *reply = oim_redis_reply (redis);
    int waited = oim_redis_wait_judge (redis, reply);
    if (reply)
        freeReplyObject (reply);
    return rc == OIM_REDIS_TX_COMMITTED && waited? OIM_REDIS_TX_FAILED: rc;
}

static int
s_tx_replies (oim_redis_t *redis, size_t count)
{
    int rc = OIM_REDIS_TX_COMMITTED;
    for (size_t i = 0; i < count + 2; i++) {
        redisReply *reply = oim_redis_reply (redis);
        if (!reply)
            return OIM_REDIS_TX_FAILED;
        if (reply->type == REDIS_REPLY_ERROR) {
            oim_error ("event=redis_refused error=\"%s\"", reply->str);
            rc = OIM_REDIS_TX_FAILED;
        }
        else
        if (i == count + 1 && rc == OIM_REDIS_TX_COMMITTED)
            rc = s_exec_result (reply);
        freeReplyObject (reply);
    }
    return rc;
}

int
oim_redis_tx_finish (oim_redis_tx_t *self, oim_redis_t *redis, int sent)
{
    int rc = sent || oim_redis_tx_write (self, redis, true)? OIM_REDIS_TX_FAILED
           : s_replies (redis, self->count, self->waits);
    if (rc == OIM_REDIS_TX_COMMITTED && self->unconfirmed)
        rc = OIM_REDIS_TX_FAILED;   //  applied, not confirmed (the connection is unreplicated)
    oim_redis_tx_reset (self);
    return rc;
}

int
oim_redis_tx_exec (oim_redis_tx_t *self, oim_redis_t *redis)
{
    return oim_redis_tx_finish (self, redis, oim_redis_tx_send (self, redis));
}
