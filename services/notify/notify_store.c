/*  notify_store — see notify_store.h. The Lua scripts live here, next to the C that calls
    them; their KEYS are always built by the caller from oim_keys.h formats.
*/
#include "notify_store.h"
#include "oim_clock.h"
#include "oim_keys.h"
#include "oim_log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------------------------
//  Scripts

//  One Event. KEYS: 1 ntf, 2 inbox, 3 unread, 4 seq, 5 feed, 6 prefs, 7 webhook, 8 dlv,
//  9 org dlvs, 10 dlvs, 11 dlv due, 12 mail due, 13 org digest, 14 digest orgs.
//  ARGV: 1 ntf id, 2 type, 3 org id, 4 Notification bytes (no feed_sequence), 5 dlv id,
//  6 now ms, 7 now RFC 3339, 8 feed MAXLEN.
//  Preferences: prefs[type] or prefs["*"] = "channels|digest"; none = inbox + webhook,
//  instant. The inbox channel also carries the live views (SSE stream, ZeroMQ feed), so
//  only it takes a feed_sequence. Returns {stored, feed_sequence, webhook, email}.
static const char *s_script_ingest =
"if redis.call('EXISTS', KEYS[1]) == 1 then return {0, 0, 0, 0} end\n"
"local inbox, webhook, email, digest = true, true, false, 'instant'\n"
"local p = redis.call('HGET', KEYS[6], ARGV[2]) or redis.call('HGET', KEYS[6], '*')\n"
"if p then\n"
"  local c, d = string.match(p, '^([^|]*)|(.*)$')\n"
"  c = ',' .. (c or '') .. ','\n"
"  inbox = string.find(c, ',inbox,', 1, true) ~= nil\n"
"  webhook = string.find(c, ',webhook,', 1, true) ~= nil\n"
"  email = string.find(c, ',email,', 1, true) ~= nil\n"
"  if d == 'daily' then digest = 'daily' end\n"
"end\n"
"local bytes, seq = ARGV[4], 0\n"
"if inbox then\n"
"  seq = redis.call('INCR', KEYS[4])\n"
"  local v, n = {}, seq\n"
"  while n >= 128 do v[#v + 1] = string.char(n % 128 + 128); n = math.floor(n / 128) end\n"
"  v[#v + 1] = string.char(n)\n"
"  bytes = bytes .. string.char(56) .. table.concat(v)\n"
"  redis.call('ZADD', KEYS[2], seq, ARGV[1])\n"
"  redis.call('ZADD', KEYS[3], seq, ARGV[1])\n"
"  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[8], '*', 'n', bytes)\n"
"end\n"
"redis.call('SET', KEYS[1], bytes)\n"
"local dlv = 0\n"
"if webhook then\n"
"  local w = redis.call('HMGET', KEYS[7], 'url', 'disabled', 'events')\n"
"  if w[1] and w[2] ~= '1' and (not w[3] or w[3] == '' or\n"
"      string.find(',' .. w[3] .. ',', ',' .. ARGV[2] .. ',', 1, true)) then\n"
"    redis.call('HSET', KEYS[8], 'id', ARGV[5], 'notification_id', ARGV[1], 'org_id', ARGV[3],\n"
"      'url', w[1], 'status', 'pending', 'attempts', 0, 'failed', 0, 'next_attempt_ms', ARGV[6],\n"
"      'created_at', ARGV[7], 'updated_at', ARGV[7])\n"
"    redis.call('ZADD', KEYS[9], 0, ARGV[5])\n"
"    redis.call('ZADD', KEYS[10], 0, ARGV[5])\n"
"    redis.call('ZADD', KEYS[11], ARGV[6], ARGV[5])\n"
"    dlv = 1\n"
"  end\n"
"end\n"
"if email then\n"
"  if digest == 'daily' then\n"
"    redis.call('RPUSH', KEYS[13], ARGV[1])\n"
"    redis.call('SADD', KEYS[14], ARGV[3])\n"
"  else\n"
"    redis.call('ZADD', KEYS[12], ARGV[6], 'i:' .. ARGV[1])\n"
"  end\n"
"end\n"
"return {1, seq, dlv, email and 1 or 0}\n";

//  Lease due members. KEYS: 1 due zset. ARGV: 1 now ms, 2 lease until ms, 3 limit.
static const char *s_script_claim =
"local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))\n"
"for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end\n"
"return ids\n";

//  One attempt's outcome. KEYS: 1 dlv, 2 log, 3 dlv due, 4 webhook.
//  ARGV: 1 dlv id, 2 outcome, 3 attempt bytes ("" = none), 4 next ms, 5 now RFC 3339, 6 url.
//  Only a pending delivery changes (a stale result of a re-leased attempt is dropped).
static const char *s_script_record =
"if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end\n"
"local o = ARGV[2]\n"
"if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'url', ARGV[6]) end\n"
"if ARGV[3] ~= '' then\n"
"  redis.call('HINCRBY', KEYS[1], 'attempts', 1)\n"
"  redis.call('RPUSH', KEYS[2], ARGV[3])\n"
"  redis.call('LTRIM', KEYS[2], -100, -1)\n"
"  if o ~= 'delivered' then redis.call('HINCRBY', KEYS[1], 'failed', 1) end\n"
"end\n"
"if o == 'retry' then\n"
"  redis.call('HSET', KEYS[1], 'next_attempt_ms', ARGV[4], 'updated_at', ARGV[5])\n"
"  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])\n"
"else\n"
"  redis.call('HSET', KEYS[1], 'status', o, 'next_attempt_ms', 0, 'updated_at', ARGV[5])\n"
"  redis.call('ZREM', KEYS[3], ARGV[1])\n"
"  if o == 'disabled' and redis.call('HGET', KEYS[4], 'url') == ARGV[6] then\n"
"    redis.call('HSET', KEYS[4], 'disabled', '1', 'updated_at', ARGV[5])\n"
"  end\n"
"end\n"
"return 1\n";

//  Replay. KEYS: 1 dlv, 2 dlv due, 3 webhook. ARGV: 1 dlv id, 2 now ms, 3 now RFC 3339.
static const char *s_script_replay =
"local st = redis.call('HGET', KEYS[1], 'status')\n"
"if not st then return 'not_found' end\n"
"if st ~= 'dead' and st ~= 'disabled' then return 'state' end\n"
"if redis.call('EXISTS', KEYS[3]) == 0 then return 'no_endpoint' end\n"
"if redis.call('HGET', KEYS[3], 'disabled') == '1' then return 'endpoint_disabled' end\n"
"redis.call('HSET', KEYS[1], 'status', 'pending', 'failed', 0, 'next_attempt_ms', ARGV[2],\n"
"  'updated_at', ARGV[3], 'url', redis.call('HGET', KEYS[3], 'url'))\n"
"redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])\n"
"return 'ok'\n";

//  Digest cut. KEYS: 1 org digest, 2 job list, 3 digest orgs, 4 mail due.
//  ARGV: 1 org id, 2 job member, 3 now ms.
static const char *s_script_cut =
"redis.call('SREM', KEYS[3], ARGV[1])\n"
"local n = redis.call('LLEN', KEYS[1])\n"
"if n == 0 then return 0 end\n"
"redis.call('RENAME', KEYS[1], KEYS[2])\n"
"redis.call('LPUSH', KEYS[2], ARGV[1])\n"
"redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])\n"
"return n\n";

typedef enum { S_INGEST, S_CLAIM, S_RECORD, S_REPLAY, S_CUT, S_COUNT } script_t;

struct _notify_store_t {
    const char *source [S_COUNT];
    char sha [S_COUNT][48];        //  "" until loaded
};

notify_store_t *
notify_store_new (void)
{
    notify_store_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->source [S_INGEST] = s_script_ingest;
    self->source [S_CLAIM] = s_script_claim;
    self->source [S_RECORD] = s_script_record;
    self->source [S_REPLAY] = s_script_replay;
    self->source [S_CUT] = s_script_cut;
    return self;
}

void
notify_store_destroy (notify_store_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

//  Makes sure script's SHA is known (SCRIPT LOAD once). Returns 0 or -1.
static int
s_load (notify_store_t *self, oim_redis_t *redis, script_t script)
{
    if (self->sha [script][0])
        return 0;
    redisReply *r = oim_redis_command (redis, "SCRIPT LOAD %s", self->source [script]);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_STRING)
        snprintf (self->sha [script], sizeof self->sha [script], "%s", r->str);
    else
        oim_error ("event=script_load_failed script=%d error=\"%s\"", (int) script,
                   r->type == REDIS_REPLY_ERROR? r->str: "?");
    freeReplyObject (r);
    return self->sha [script][0]? 0: -1;
}

//  Appends EVALSHA script with keys then args (values; lens [i] = (size_t) -1 means
//  strlen) to the pipeline. Returns 0 or -1.
static int
s_append (notify_store_t *self, oim_redis_t *redis, script_t script, int nkeys,
          const char **values, const size_t *lens, int count)
{
    const char *argv [40];
    size_t argvlen [40];
    assert (count + 3 <= 40);
    if (s_load (self, redis, script))
        return -1;
    char numkeys [16];
    snprintf (numkeys, sizeof numkeys, "%d", nkeys);
    argv [0] = "EVALSHA";
    argvlen [0] = 7;
    argv [1] = self->sha [script];
    argvlen [1] = strlen (self->sha [script]);
    argv [2] = numkeys;
    argvlen [2] = strlen (numkeys);
    for (int i = 0; i < count; i++) {
        argv [3 + i] = values [i];
        argvlen [3 + i] = lens && lens [i] != (size_t) -1? lens [i]: strlen (values [i]);
    }
    return oim_redis_appendv (redis, count + 3, argv, argvlen);
}

//  True for a NOSCRIPT error (Redis restarted without our scripts); forgets the SHA.
static bool
s_noscript (notify_store_t *self, script_t script, redisReply *reply)
{
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp (reply->str, "NOSCRIPT", 8) == 0) {
        self->sha [script][0] = 0;
        return true;
    }
    return false;
}

//  Runs script at once (see s_append); on NOSCRIPT loads it and tries once more. Returns
//  the reply (caller frees), or NULL when Redis failed or the script raised an error.
static redisReply *
s_eval (notify_store_t *self, oim_redis_t *redis, script_t script, int nkeys,
        const char **values, const size_t *lens, int count)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (s_append (self, redis, script, nkeys, values, lens, count))
            return NULL;
        redisReply *reply = oim_redis_reply (redis);
        if (s_noscript (self, script, reply)) {
            freeReplyObject (reply);
            continue;
        }
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            oim_error ("event=script_failed script=%d error=\"%s\"", (int) script, reply->str);
            freeReplyObject (reply);
            return NULL;
        }
        return reply;
    }
    return NULL;
}

#define KEY(buf, fmt, ...) snprintf (buf, OIM_KEY_SIZE, fmt, __VA_ARGS__)

//  The arguments of one ingest call, kept alive until its reply is read.
typedef struct {
    char keys [14][OIM_KEY_SIZE];
    const char *values [22];
    size_t lens [22];
    uint8_t *bytes;
} ingest_args_t;

static int
s_ingest_args (ingest_args_t *a, const Oim__V1__Notification *notification, const char *dlv_id,
               const char *now_ms_text, const char *now_text)
{
    const char *org = notification->org_id, *id = notification->id;
    KEY (a->keys [0], OIM_KEY_NTF, id);
    KEY (a->keys [1], OIM_KEY_ORG_INBOX, org);
    KEY (a->keys [2], OIM_KEY_ORG_UNREAD, org);
    KEY (a->keys [3], OIM_KEY_ORG_NTF_SEQ, org);
    KEY (a->keys [4], OIM_KEY_FEED, org);
    KEY (a->keys [5], OIM_KEY_PREFS, org);
    KEY (a->keys [6], OIM_KEY_WEBHOOK, org);
    KEY (a->keys [7], OIM_KEY_DLV, dlv_id);
    KEY (a->keys [8], OIM_KEY_ORG_DLVS, org);
    snprintf (a->keys [9], OIM_KEY_SIZE, "%s", OIM_KEY_DLVS);
    snprintf (a->keys [10], OIM_KEY_SIZE, "%s", OIM_KEY_DLV_DUE);
    snprintf (a->keys [11], OIM_KEY_SIZE, "%s", OIM_KEY_MAIL_DUE);
    KEY (a->keys [12], OIM_KEY_ORG_DIGEST, org);
    snprintf (a->keys [13], OIM_KEY_SIZE, "%s", OIM_KEY_DIGEST_ORGS);
    size_t size = oim__v1__notification__get_packed_size (notification);
    a->bytes = malloc (size? size: 1);
    if (!a->bytes)
        return -1;
    oim__v1__notification__pack (notification, a->bytes);
    for (int i = 0; i < 14; i++) {
        a->values [i] = a->keys [i];
        a->lens [i] = (size_t) -1;
    }
    const char *args [8] = { id, notification->type, org, (const char *) a->bytes, dlv_id,
                             now_ms_text, now_text, "10000" };
    for (int i = 0; i < 8; i++) {
        a->values [14 + i] = args [i];
        a->lens [14 + i] = (size_t) -1;
    }
    a->lens [17] = size;
    return 0;
}

static int
s_ingest_result (redisReply *reply, notify_ingest_t *result)
{
    memset (result, 0, sizeof *result);
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4)
        return -1;
    result->stored = reply->element [0]->integer == 1;
    result->feed_sequence = (uint64_t) reply->element [1]->integer;
    result->webhook = reply->element [2]->integer == 1;
    result->email = reply->element [3]->integer == 1;
    return 0;
}

size_t
notify_store_ingest_batch (notify_store_t *self, oim_redis_t *redis,
                           const Oim__V1__Notification *const *notifications,
                           const char *const *dlv_ids, size_t count, int64_t now_ms,
                           notify_ingest_t *results)
{
    char now_ms_text [24], now_text [OIM_RFC3339_SIZE];
    snprintf (now_ms_text, sizeof now_ms_text, "%lld", (long long) now_ms);
    oim_clock_rfc3339 (now_ms, now_text);
    ingest_args_t *args = calloc (count? count: 1, sizeof *args);
    if (!args)
        return 0;
    size_t appended = 0;
    for (; appended < count; appended++)
        if (s_ingest_args (&args [appended], notifications [appended], dlv_ids [appended],
                           now_ms_text, now_text)
        ||  s_append (self, redis, S_INGEST, 14, args [appended].values, args [appended].lens, 22))
            break;
    //  Drain the pipeline first (a command run now would answer after the pending ones),
    //  then judge the replies in order: results count up to the first failure only, so the
    //  caller acknowledges a prefix of the batch. NOSCRIPT (Redis restarted without our
    //  scripts) runs that one again at once.
    redisReply **replies = calloc (appended? appended: 1, sizeof *replies);
    for (size_t i = 0; replies && i < appended; i++)
        if (!(replies [i] = oim_redis_reply (redis)))
            break;              //  the connection is gone with the remaining replies
    size_t done = 0;
    for (size_t i = 0; replies && i < appended; i++) {
        if (replies [i] && s_noscript (self, S_INGEST, replies [i])) {
            freeReplyObject (replies [i]);
            replies [i] = s_eval (self, redis, S_INGEST, 14, args [i].values, args [i].lens, 22);
        }
        if (done == i && s_ingest_result (replies [i], &results [i]) == 0)
            done++;
        else
        if (done == i && replies [i] && replies [i]->type == REDIS_REPLY_ERROR)
            oim_error ("event=script_failed script=ingest error=\"%s\"", replies [i]->str);
        if (replies [i])
            freeReplyObject (replies [i]);
    }
    free (replies);
    for (size_t i = 0; i < count; i++)
        free (args [i].bytes);
    free (args);
    return done;
}

int
notify_store_ingest (notify_store_t *self, oim_redis_t *redis,
                     const Oim__V1__Notification *notification, const char *dlv_id,
                     int64_t now_ms, notify_ingest_t *result)
{
    return notify_store_ingest_batch (self, redis, &notification, &dlv_id, 1, now_ms, result) == 1
         ? 0: -1;
}

redisReply *
notify_store_claim (notify_store_t *self, oim_redis_t *redis, const char *due_key,
                    int64_t now_ms, int64_t lease_ms, int limit)
{
    char now [24], until [24], count [16];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    snprintf (until, sizeof until, "%lld", (long long) (now_ms + lease_ms));
    snprintf (count, sizeof count, "%d", limit);
    const char *values [4] = { due_key, now, until, count };
    redisReply *reply = s_eval (self, redis, S_CLAIM, 1, values, NULL, 4);
    if (reply && reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject (reply);
        reply = NULL;
    }
    return reply;
}

size_t
notify_store_record_batch (notify_store_t *self, oim_redis_t *redis,
                           const notify_record_t *records, size_t count)
{
    typedef struct {
        char keys [4][OIM_KEY_SIZE];
        char next [24];
        const char *values [10];
        size_t lens [10];
    } record_args_t;
    record_args_t *args = calloc (count? count: 1, sizeof *args);
    if (!args)
        return 0;
    char now [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    size_t appended = 0;
    for (; appended < count; appended++) {
        const notify_record_t *r = &records [appended];
        record_args_t *a = &args [appended];
        KEY (a->keys [0], OIM_KEY_DLV, r->dlv_id);
        KEY (a->keys [1], OIM_KEY_DLV_LOG, r->dlv_id);
        snprintf (a->keys [2], OIM_KEY_SIZE, "%s", OIM_KEY_DLV_DUE);
        KEY (a->keys [3], OIM_KEY_WEBHOOK, r->org_id);
        snprintf (a->next, sizeof a->next, "%lld", (long long) r->next_ms);
        const char *values [10] = { a->keys [0], a->keys [1], a->keys [2], a->keys [3], r->dlv_id,
                                    r->outcome, (const char *) r->attempt, a->next, now, r->url };
        for (int i = 0; i < 10; i++) {
            a->values [i] = values [i];
            a->lens [i] = (size_t) -1;
        }
        a->lens [6] = r->attempt_size;
        if (s_append (self, redis, S_RECORD, 4, a->values, a->lens, 10))
            break;
    }
    redisReply **replies = calloc (appended? appended: 1, sizeof *replies);
    for (size_t i = 0; replies && i < appended; i++)
        if (!(replies [i] = oim_redis_reply (redis)))
            break;
    size_t done = 0;
    for (size_t i = 0; replies && i < appended; i++) {
        if (replies [i] && s_noscript (self, S_RECORD, replies [i])) {
            freeReplyObject (replies [i]);
            replies [i] = s_eval (self, redis, S_RECORD, 4, args [i].values, args [i].lens, 10);
        }
        if (replies [i] && replies [i]->type == REDIS_REPLY_INTEGER)
            done++;
        if (replies [i])
            freeReplyObject (replies [i]);
    }
    free (replies);
    free (args);
    return done;
}

const char *
notify_store_replay (notify_store_t *self, oim_redis_t *redis, const char *dlv_id,
                     const char *org_id)
{
    char keys [3][OIM_KEY_SIZE];
    KEY (keys [0], OIM_KEY_DLV, dlv_id);
    snprintf (keys [1], OIM_KEY_SIZE, "%s", OIM_KEY_DLV_DUE);
    KEY (keys [2], OIM_KEY_WEBHOOK, org_id);
    int64_t now_ms = oim_clock_wall_ms ();
    char now_ms_text [24], now [OIM_RFC3339_SIZE];
    snprintf (now_ms_text, sizeof now_ms_text, "%lld", (long long) now_ms);
    oim_clock_rfc3339 (now_ms, now);
    const char *values [6] = { keys [0], keys [1], keys [2], dlv_id, now_ms_text, now };
    redisReply *reply = s_eval (self, redis, S_REPLAY, 3, values, NULL, 6);
    if (!reply)
        return NULL;
    static const char *answers [] = { "ok", "not_found", "state", "endpoint_disabled",
                                      "no_endpoint" };
    const char *answer = NULL;
    for (size_t i = 0; i < 5; i++)
        if (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_STRING)
            if (strcmp (reply->str, answers [i]) == 0)
                answer = answers [i];
    freeReplyObject (reply);
    return answer;
}

int
notify_store_cut_digest (notify_store_t *self, oim_redis_t *redis, const char *org_id,
                         const char *job_suffix, int64_t now_ms)
{
    char keys [4][OIM_KEY_SIZE], member [OIM_KEY_SIZE], now [24];
    KEY (keys [0], OIM_KEY_ORG_DIGEST, org_id);
    KEY (keys [1], OIM_KEY_MAIL_DIGEST, job_suffix);
    snprintf (keys [2], OIM_KEY_SIZE, "%s", OIM_KEY_DIGEST_ORGS);
    snprintf (keys [3], OIM_KEY_SIZE, "%s", OIM_KEY_MAIL_DUE);
    snprintf (member, sizeof member, "d:%s", job_suffix);
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    const char *values [7] = { keys [0], keys [1], keys [2], keys [3], org_id, member, now };
    redisReply *reply = s_eval (self, redis, S_CUT, 4, values, NULL, 7);
    if (!reply)
        return -1;
    int n = reply->type == REDIS_REPLY_INTEGER? (int) reply->integer: -1;
    freeReplyObject (reply);
    return n;
}

//  ---------------------------------------------------------------------------------------
//  Shapes

json_t *
notify_store_notification_json (const Oim__V1__Notification *n, bool with_read, bool read)
{
    json_t *data = NULL;
    if (n->data_json && *n->data_json)
        data = json_loads (n->data_json, JSON_DECODE_ANY, NULL);
    if (!data)
        data = n->data_json && *n->data_json? json_string (n->data_json): json_object ();
    json_t *object = json_pack ("{s:s, s:s, s:s, s:s, s:o, s:I}",
                                "id", n->id, "type", n->type, "org_id", n->org_id,
                                "created_at", n->created_at, "data", data,
                                "feed_sequence", (json_int_t) n->feed_sequence);
    if (object && with_read)
        json_object_set_new (object, "read", json_boolean (read));
    return object;
}

static char *
s_dup_field (redisReply *reply, size_t index)
{
    if (index < reply->elements && reply->element [index]->type == REDIS_REPLY_STRING)
        return strdup (reply->element [index]->str);
    return strdup ("");
}

Oim__V1__Delivery *
notify_store_delivery (oim_redis_t *redis, const char *dlv_id, bool *redis_failed)
{
    if (redis_failed)
        *redis_failed = false;
    char key [OIM_KEY_SIZE], log_key [OIM_KEY_SIZE];
    KEY (key, OIM_KEY_DLV, dlv_id);
    KEY (log_key, OIM_KEY_DLV_LOG, dlv_id);
    if (oim_redis_append (redis, "HMGET %s id notification_id org_id url status attempts "
                          "next_attempt_ms created_at updated_at", key)
    ||  oim_redis_append (redis, "LRANGE %s 0 -1", log_key)) {
        if (redis_failed)
            *redis_failed = true;
        return NULL;
    }
    redisReply *fields = oim_redis_reply (redis);
    redisReply *log = fields? oim_redis_reply (redis): NULL;
    if (!fields || !log || fields->type != REDIS_REPLY_ARRAY || log->type != REDIS_REPLY_ARRAY) {
        if (redis_failed)
            *redis_failed = true;
        if (fields)
            freeReplyObject (fields);
        if (log)
            freeReplyObject (log);
        return NULL;
    }
    Oim__V1__Delivery *d = NULL;
    if (fields->elements == 9 && fields->element [0]->type == REDIS_REPLY_STRING) {
        d = calloc (1, sizeof *d);
        oim__v1__delivery__init (d);
        d->id = s_dup_field (fields, 0);
        d->notification_id = s_dup_field (fields, 1);
        d->org_id = s_dup_field (fields, 2);
        d->url = s_dup_field (fields, 3);
        d->status = s_dup_field (fields, 4);
        char *text = s_dup_field (fields, 5);
        d->attempts = (uint32_t) strtoul (text, NULL, 10);
        free (text);
        text = s_dup_field (fields, 6);
        d->next_attempt_ms = strcmp (d->status, "pending") == 0? strtoll (text, NULL, 10): 0;
        free (text);
        d->created_at = s_dup_field (fields, 7);
        d->updated_at = s_dup_field (fields, 8);
        d->log = calloc (log->elements + 1, sizeof *d->log);
        for (size_t i = 0; i < log->elements; i++) {
            redisReply *e = log->element [i];
            if (e->type != REDIS_REPLY_STRING)
                continue;
            Oim__V1__DeliveryAttempt *a = oim__v1__delivery_attempt__unpack (
                NULL, e->len, (const uint8_t *) e->str);
            if (a)
                d->log [d->n_log++] = a;
        }
    }
    freeReplyObject (fields);
    freeReplyObject (log);
    return d;
}

void
notify_store_delivery_free (Oim__V1__Delivery *d)
{
    if (!d)
        return;
    free (d->id);
    free (d->notification_id);
    free (d->org_id);
    free (d->url);
    free (d->status);
    free (d->created_at);
    free (d->updated_at);
    for (size_t i = 0; i < d->n_log; i++)
        oim__v1__delivery_attempt__free_unpacked (d->log [i], NULL);
    free (d->log);
    free (d);
}
