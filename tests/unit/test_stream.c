/*  oim_stream unit test against a throw-away redis-server (unix socket in a temp dir, no
    TCP port): ids parse and compare; a follower takes a snapshot, follows, and after the
    stream was trimmed past its position reports a gap, and a new mark resumes it; a
    consumer group is created, re-created after NOGROUP, re-reads its own pending entries
    first, takes over a dead consumer's entries after the idle time, and acknowledges; after
    a reconnect (a failover) both re-check what the new server holds.  */
#include "oim_stream.h"
#include "oim_clock.h"
#include "oim_test_redis.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int s_failed;

#define streq(a, b) (strcmp ((a), (b)) == 0)

#define CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); s_failed++; } } while (0)

static oim_test_redis_t s_server;

static void
s_run (oim_redis_t *redis, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char command [256];
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    //  split on spaces: the tests' commands have no spaces inside arguments
    const char *argv [16];
    int argc = 0;
    for (char *save = NULL, *word = strtok_r (command, " ", &save); word && argc < 16;
         word = strtok_r (NULL, " ", &save))
        argv [argc++] = word;
    redisReply *r = oim_redis_commandv (redis, argc, argv, NULL);
    CHECK (r && r->type != REDIS_REPLY_ERROR);
    if (r)
        freeReplyObject (r);
}

static void
test_ids (void)
{
    oim_stream_id_t id;
    CHECK (oim_stream_id_parse ("1700000000000-5", &id) == 0 && id.ms == 1700000000000ULL && id.seq == 5);
    CHECK (oim_stream_id_parse ("42", &id) == 0 && id.ms == 42 && id.seq == 0);
    CHECK (oim_stream_id_parse ("18446744073709551615-18446744073709551615", &id) == 0
        && id.ms == UINT64_MAX && id.seq == UINT64_MAX);
    CHECK (oim_stream_id_parse ("x-1", &id) == -1 && id.ms == 0 && id.seq == 0);
    CHECK (oim_stream_id_parse ("1-", &id) == -1);
    CHECK (oim_stream_id_parse ("1-2x", &id) == -1);
    CHECK (oim_stream_id_parse ("", &id) == -1);
    CHECK (oim_stream_id_parse (NULL, &id) == -1);
    CHECK (oim_stream_id_cmp ("1-2", "1-10") < 0);      //  numbers, not text
    CHECK (oim_stream_id_cmp ("10-0", "9-99") > 0);
    CHECK (oim_stream_id_cmp ("5-5", "5-5") == 0);
    CHECK (oim_stream_id_cmp ("0-0", "bad") == 0);
    CHECK (oim_stream_id_compare ((oim_stream_id_t) { 1, 1 }, (oim_stream_id_t) { 1, 0 }) > 0);
}

typedef struct {
    char ids [64][OIM_STREAM_ID_SIZE];
    char values [64][16];
    size_t count;
} s_seen_t;

static void
s_collect (void *arg, const char *id, const redisReply *fields)
{
    s_seen_t *seen = arg;
    if (seen->count < 64) {
        snprintf (seen->ids [seen->count], OIM_STREAM_ID_SIZE, "%s", id);
        snprintf (seen->values [seen->count], 16, "%s",
                  fields->elements == 2? fields->element [1]->str: "?");
        seen->count++;
    }
}

static void
test_follower (oim_redis_t *redis)
{
    oim_stream_follower_t *f = oim_stream_follower_new ("t:log");
    CHECK (f && streq (oim_stream_follower_position (f), "0-0"));
    //  a snapshot of an empty stream, then the first entries follow
    CHECK (oim_stream_follower_mark (f, redis) == 0);
    CHECK (streq (oim_stream_follower_position (f), "0-0"));
    s_run (redis, "XADD t:log 1-1 e a");
    s_run (redis, "XADD t:log 1-2 e b");
    s_seen_t seen = { .count = 0 };
    CHECK (oim_stream_follower_poll (f, redis, 10, s_collect, &seen) == 2);
    CHECK (seen.count == 2 && streq (seen.values [0], "a") && streq (seen.values [1], "b"));
    CHECK (streq (oim_stream_follower_position (f), "1-2"));
    CHECK (oim_stream_follower_poll (f, redis, 10, s_collect, &seen) == 0);
    //  a snapshot after more entries: the position is the last one; count bounds a read
    s_run (redis, "XADD t:log 2-1 e c");
    s_run (redis, "XADD t:log 2-2 e d");
    s_run (redis, "XADD t:log 2-3 e e");
    oim_stream_follower_t *g = oim_stream_follower_new ("t:log");
    CHECK (oim_stream_follower_mark (g, redis) == 0 && streq (oim_stream_follower_position (g), "2-3"));
    oim_stream_follower_destroy (&g);
    CHECK (g == NULL);
    seen.count = 0;
    CHECK (oim_stream_follower_poll (f, redis, 2, s_collect, &seen) == 2);
    CHECK (oim_stream_follower_poll (f, redis, 2, s_collect, &seen) == 1);
    CHECK (seen.count == 3 && streq (seen.values [2], "e") && !oim_stream_follower_gap (f));
    //  trimmed, but nothing we had not read: no gap
    s_run (redis, "XTRIM t:log MINID 2-3");
    CHECK (oim_stream_follower_poll (f, redis, 10, s_collect, &seen) == 0 && !oim_stream_follower_gap (f));
    //  new entries, trimmed before the follower read them: a gap, nothing applied
    s_run (redis, "XADD t:log 3-1 e f");
    s_run (redis, "XADD t:log 3-2 e g");
    s_run (redis, "XTRIM t:log MINID 3-2");
    seen.count = 0;
    CHECK (oim_stream_follower_poll (f, redis, 10, s_collect, &seen) == -2);
    CHECK (oim_stream_follower_gap (f) && seen.count == 0);
    CHECK (streq (oim_stream_follower_position (f), "2-3"));
    s_run (redis, "XADD t:log 3-3 e h");
    CHECK (oim_stream_follower_poll (f, redis, 10, s_collect, &seen) == -2 && seen.count == 0);
    //  a new snapshot resumes from the end
    CHECK (oim_stream_follower_mark (f, redis) == 0 && !oim_stream_follower_gap (f));
    CHECK (streq (oim_stream_follower_position (f), "3-3"));
    s_run (redis, "XADD t:log 4-1 e i");
    CHECK (oim_stream_follower_poll (f, redis, 10, s_collect, &seen) == 1 && streq (seen.values [0], "i"));
    //  the pipelined halves with another command in between
    s_run (redis, "XADD t:log 4-2 e j");
    CHECK (oim_stream_follower_ask (f, redis, 10) == 0);
    CHECK (oim_redis_append (redis, "PING") == 0 && oim_redis_flush (redis) == 0);
    CHECK (oim_stream_follower_take (f, redis, s_collect, &seen) == 1 && streq (seen.values [1], "j"));
    redisReply *pong = oim_redis_reply (redis);
    CHECK (pong && pong->type == REDIS_REPLY_STATUS);
    if (pong)
        freeReplyObject (pong);
    oim_stream_follower_reset (f);
    CHECK (streq (oim_stream_follower_position (f), "0-0"));
    oim_stream_follower_destroy (&f);
    //  Redis gone: -1, the position stays
    oim_redis_t *dead = oim_redis_new ("unix:///nonexistent/redis.sock", 100, 100);
    f = oim_stream_follower_new ("t:log");
    CHECK (oim_stream_follower_mark (f, dead) == -1);
    CHECK (oim_stream_follower_poll (f, dead, 10, s_collect, &seen) == -1);
    CHECK (streq (oim_stream_follower_position (f), "0-0"));
    oim_stream_follower_destroy (&f);
    oim_redis_destroy (&dead);
}

//  The ids of a group read's entries, joined by ','.
static void
s_ids (const redisReply *entries, char *out, size_t size)
{
    *out = 0;
    for (size_t i = 0; entries && i < entries->elements; i++) {
        size_t len = strlen (out);
        snprintf (out + len, size - len, "%s%s", i? ",": "", entries->element [i]->element [0]->str);
    }
}

static void
test_group (oim_redis_t *redis)
{
    oim_stream_group_t *a = oim_stream_group_new ("t:events", "g", "a", 200, 0);
    oim_stream_group_t *b = oim_stream_group_new ("t:events", "g", "b", 200, 0);
    CHECK (a && b && streq (oim_stream_group_stream (a), "t:events") && streq (oim_stream_group_name (a), "g"));
    //  create with MKSTREAM; an existing group is fine
    CHECK (oim_stream_group_ensure (a, redis) && oim_stream_group_ensure (b, redis));
    s_run (redis, "XADD t:events 1-1 e x");
    s_run (redis, "XADD t:events 1-2 e y");
    s_run (redis, "XADD t:events 1-3 e z");
    redisReply *reply, *entries;
    char ids [256];
    CHECK (oim_stream_group_read (a, redis, 2, &reply, &entries) == 2);
    s_ids (entries, ids, sizeof ids);
    CHECK (streq (ids, "1-1,1-2"));
    freeReplyObject (reply);
    //  a failure: own pending entries come first, until none is left
    oim_stream_group_retry (a);
    CHECK (oim_stream_group_retrying (a));
    CHECK (oim_stream_group_read (a, redis, 10, &reply, &entries) == 2);
    s_ids (entries, ids, sizeof ids);
    CHECK (streq (ids, "1-1,1-2"));
    const char *acks [] = { entries->element [0]->element [0]->str, entries->element [1]->element [0]->str };
    CHECK (oim_stream_group_ack (a, redis, acks, 2) == 0);
    freeReplyObject (reply);
    CHECK (oim_stream_group_retrying (a));
    CHECK (oim_stream_group_read (a, redis, 10, &reply, &entries) == 0 && !oim_stream_group_retrying (a));
    freeReplyObject (reply);
    //  b reads the next one and dies without acknowledging
    CHECK (oim_stream_group_read (b, redis, 10, &reply, &entries) == 1);
    freeReplyObject (reply);
    //  too early to take it over; after the idle time a takes it, once per claim period
    CHECK (oim_stream_group_claim_due (a));
    CHECK (oim_stream_group_claim (a, redis, 10, &reply, &entries) == 0);
    freeReplyObject (reply);
    usleep (300 * 1000);
    CHECK (oim_stream_group_claim (a, redis, 10, &reply, &entries) == 1);
    s_ids (entries, ids, sizeof ids);
    CHECK (streq (ids, "1-3"));
    freeReplyObject (reply);
    oim_stream_group_t *slow = oim_stream_group_new ("t:events", "g", "s", 200, 60000);
    CHECK (oim_stream_group_claim_due (slow) && !oim_stream_group_claim_due (slow));
    oim_stream_group_destroy (&slow);
    //  ack: nothing pending any more
    const char *last [] = { "1-3" };
    CHECK (oim_stream_group_ack (a, redis, last, 1) == 0);
    CHECK (oim_stream_group_ack (a, redis, NULL, 0) == 0);
    redisReply *pending = oim_redis_command (redis, "XPENDING t:events g");
    CHECK (pending && pending->type == REDIS_REPLY_ARRAY && pending->element [0]->integer == 0);
    if (pending)
        freeReplyObject (pending);
    //  b holds nothing: forgotten once idle long enough (not a itself)
    CHECK (oim_stream_group_forget (a, redis, 3600000) == 0);
    CHECK (oim_stream_group_forget (a, redis, 0) == 1);
    //  the stream deleted: NOGROUP, then ensure creates it again and reading goes on
    s_run (redis, "DEL t:events");
    CHECK (oim_stream_group_read (a, redis, 10, &reply, &entries) == -2);
    freeReplyObject (reply);
    CHECK (oim_stream_group_ensure (a, redis));
    s_run (redis, "XADD t:events 2-1 e w");
    CHECK (oim_stream_group_read (a, redis, 10, &reply, &entries) == 1);
    s_ids (entries, ids, sizeof ids);
    CHECK (streq (ids, "2-1"));
    freeReplyObject (reply);
    //  pipelined: append, another command, judge
    s_run (redis, "XADD t:events 2-2 e v");
    CHECK (oim_stream_group_append (a, redis, 10) == 0 && oim_redis_append (redis, "PING") == 0);
    reply = oim_redis_reply (redis);
    CHECK (oim_stream_group_judge (a, reply, &entries) == 1);
    freeReplyObject (reply);
    reply = oim_redis_reply (redis);
    CHECK (reply && reply->type == REDIS_REPLY_STATUS);
    freeReplyObject (reply);
    CHECK (oim_stream_group_judge (a, NULL, &entries) == -1 && entries == NULL);
    oim_stream_group_destroy (&a);
    oim_stream_group_destroy (&b);
    CHECK (a == NULL);
}

//  Drops every connection but redis' own, as a SIGKILLed master does (issue 18).
static void
s_drop_others (oim_redis_t *redis)
{
    s_run (redis, "CLIENT KILL TYPE normal SKIPME yes");
}

//  After a failover (a new connection, maybe to a new master that missed the last writes):
//  a follower whose last entry is gone, or whose stream is behind its position, re-snapshots;
//  a consumer group re-reads its own pending entries, and is made again when it is missing.
static void
test_failover (oim_redis_t *redis)
{
    oim_redis_t *mine = oim_redis_new (s_server.url, 1000, 1000);
    s_run (redis, "XADD f:log 1-1 e a");
    s_run (redis, "XADD f:log 1-2 e b");
    oim_stream_follower_t *f = oim_stream_follower_new ("f:log");
    s_seen_t seen = { .count = 0 };
    CHECK (oim_stream_follower_poll (f, mine, 10, s_collect, &seen) == 2);
    uint64_t epoch = oim_redis_epoch (mine);
    //  the entry applied last is lost (its stream id not), the connection re-made: a gap
    s_run (redis, "XDEL f:log 1-2");
    CHECK (oim_stream_follower_poll (f, mine, 10, s_collect, &seen) == 0 && !oim_stream_follower_gap (f));
    s_drop_others (redis);
    CHECK (oim_stream_follower_poll (f, mine, 10, s_collect, &seen) == -1);    //  dropped
    CHECK (oim_stream_follower_poll (f, mine, 10, s_collect, &seen) == -2);    //  reconnected
    CHECK (oim_stream_follower_gap (f) && oim_redis_epoch (mine) > epoch);
    //  a new snapshot; then the stream goes behind the position (XSETID back): a gap
    CHECK (oim_stream_follower_mark (f, mine) == 0 && streq (oim_stream_follower_position (f), "1-1"));
    s_run (redis, "XADD f:log 2-1 e c");
    CHECK (oim_stream_follower_poll (f, mine, 10, s_collect, &seen) == 1);
    s_run (redis, "XDEL f:log 2-1");
    s_run (redis, "XSETID f:log 1-1");
    CHECK (oim_stream_follower_poll (f, mine, 10, s_collect, &seen) == -2);
    oim_stream_follower_destroy (&f);

    oim_stream_group_t *g = oim_stream_group_new ("g:log", "grp", "c1", 60000, 0);
    CHECK (oim_stream_group_ensure (g, mine));
    s_run (redis, "XADD g:log 1-1 e a");
    redisReply *r, *entries;
    CHECK (oim_stream_group_read (g, mine, 10, &r, &entries) == 1);     //  pending, not acked
    freeReplyObject (r);
    CHECK (!oim_stream_group_retrying (g));
    s_drop_others (redis);
    CHECK (oim_stream_group_read (g, mine, 10, &r, &entries) == -1);
    CHECK (r == NULL);
    CHECK (oim_stream_group_ensure (g, mine) && oim_stream_group_retrying (g));
    char ids [128];
    CHECK (oim_stream_group_read (g, mine, 10, &r, &entries) == 1);     //  own pending first
    s_ids (entries, ids, sizeof ids);
    CHECK (streq (ids, "1-1"));
    const char *ack [1] = { "1-1" };
    CHECK (oim_stream_group_ack (g, mine, ack, 1) == 0);
    freeReplyObject (r);
    CHECK (oim_stream_group_read (g, mine, 10, &r, &entries) == 0 && !oim_stream_group_retrying (g));
    freeReplyObject (r);
    //  the group missing on the new master: made again from the stream's start
    s_run (redis, "XGROUP DESTROY g:log grp");
    s_drop_others (redis);
    CHECK (oim_stream_group_read (g, mine, 10, &r, &entries) == -1);
    CHECK (oim_stream_group_ensure (g, mine));
    CHECK (oim_stream_group_read (g, mine, 10, &r, &entries) == 0);     //  no own pending
    freeReplyObject (r);
    CHECK (oim_stream_group_read (g, mine, 10, &r, &entries) == 1);     //  handled again
    freeReplyObject (r);
    oim_stream_group_destroy (&g);
    oim_redis_destroy (&mine);
}

int
main (void)
{
    signal (SIGPIPE, SIG_IGN);      //  as every daemon: a dropped connection is an error, not death
    test_ids ();
    oim_redis_t *redis = oim_test_redis_start (&s_server, "stream");
    CHECK (redis);
    if (redis) {
        test_follower (redis);
        test_group (redis);
        test_failover (redis);
    }
    oim_redis_destroy (&redis);
    oim_test_redis_stop (&s_server);
    printf ("stream: %s\n", s_failed? "FAILED": "OK");
    return s_failed? 1: 0;
}
