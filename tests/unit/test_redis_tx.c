/*  oim_redis_tx unit test against a throw-away redis-server (unix socket in a temp dir, no
    TCP port): the RESP a transaction builds (groups spliced at their place, a command on a
    grouped key closing its group, merged SADDs, summed HINCRBYs, packed messages); commit
    (0); conflict (1) when another client changes a WATCHed key, nothing applied; failure
    (-1) when Redis refuses a command (nothing applied), when a command fails inside EXEC, and
    when Redis cannot be reached; a large transaction sent without waiting, then finished.  */
#include "oim_redis_tx.h"
#include "oim_clock.h"
#include "oim_test_redis.h"
#include "common.pb-c.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int s_failed;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); s_failed++; } } while (0)

static oim_test_redis_t s_server;

//  The reply of a command as a string ("" for nil, the integer printed, "?" otherwise).
static char *
s_get (oim_redis_t *redis, const char *format, const char *key)
{
    static char text [256];
    redisReply *r = oim_redis_command (redis, format, key);
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf (text, sizeof text, "%s", r->str);
    else
    if (r && r->type == REDIS_REPLY_INTEGER)
        snprintf (text, sizeof text, "%lld", r->integer);
    else
        snprintf (text, sizeof text, "%s", r && r->type == REDIS_REPLY_NIL? "": "?");
    if (r)
        freeReplyObject (r);
    return text;
}

static void
test_resp (void)
{
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    CHECK (oim_redis_tx_size (tx) == 0);
    const char *a [] = { "0", "a" }, *b [] = { "0", "b" }, *c [] = { "c" };
    oim_redis_tx_group (tx, "ZADD", "z", 2, a, NULL);
    oim_redis_tx_strs (tx, "SET", "k", "v", NULL);
    oim_redis_tx_group (tx, "ZADD", "z", 2, b, NULL);       //  joins the first ZADD
    oim_redis_tx_group (tx, "ZREM", "z", 1, c, NULL);       //  another op: a new command
    oim_redis_tx_strs (tx, "DEL", "z", NULL);               //  closes z's group
    oim_redis_tx_group (tx, "ZREM", "z", 1, a + 1, NULL);   //  a new ZREM after the DEL
    oim_redis_tx_hincrby (tx, "st", "n", 2);
    oim_redis_tx_hincrby (tx, "st", "zero", 1);
    oim_redis_tx_hincrby (tx, "st", "n", 3);
    oim_redis_tx_hincrby (tx, "st", "zero", -1);            //  sums to 0: not written
    oim_redis_tx_sadd (tx, "s1", "x");
    oim_redis_tx_sadd (tx, "s2", "y");
    oim_redis_tx_sadd (tx, "s1", "x");                      //  again right after: once
    oim_redis_tx_sadd (tx, "s1", "z");
    Oim__V1__Principal principal = OIM__V1__PRINCIPAL__INIT;
    principal.org_id = "org";
    const char *set [] = { "SET", "p" };
    oim_redis_tx_packed (tx, 2, set, &principal.base);
    oim_redis_args_t args = { 0 };
    oim_redis_args_str (&args, "MSET");
    oim_redis_tx_add_args (tx, &args, 1);                   //  no pairs: not queued
    CHECK (args.data == NULL && args.argc == 0);
    oim_redis_args_str (&args, "MSET");
    oim_redis_args_str (&args, "m1");
    oim_redis_args_add (&args, "v\0w", 3);
    oim_redis_tx_add_args (tx, &args, 1);
    CHECK (oim_redis_tx_size (tx) > 0);
    oim_redis_tx_seal (tx);
    size_t len;
    const char *resp = oim_redis_tx_resp (tx, &len);
    uint8_t packed [64];
    size_t packed_len = protobuf_c_message_pack (&principal.base, packed);
    char want [1024];
    int n = snprintf (want, sizeof want,
        "*1\r\n$5\r\nMULTI\r\n"
        "*6\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n0\r\n$1\r\na\r\n$1\r\n0\r\n$1\r\nb\r\n"
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        "*3\r\n$4\r\nZREM\r\n$1\r\nz\r\n$1\r\nc\r\n"
        "*2\r\n$3\r\nDEL\r\n$1\r\nz\r\n"
        "*3\r\n$4\r\nZREM\r\n$1\r\nz\r\n$1\r\na\r\n"
        "*3\r\n$3\r\nSET\r\n$1\r\np\r\n$%zu\r\n", packed_len);
    memcpy (want + n, packed, packed_len);
    n += (int) packed_len;
    n += snprintf (want + n, sizeof want - n,
        "\r\n*3\r\n$4\r\nMSET\r\n$2\r\nm1\r\n$3\r\nv");
    want [n++] = 0;
    n += snprintf (want + n, sizeof want - n, "w\r\n"
        "*4\r\n$7\r\nHINCRBY\r\n$2\r\nst\r\n$1\r\nn\r\n$1\r\n5\r\n"
        "*4\r\n$4\r\nSADD\r\n$2\r\ns1\r\n$1\r\nx\r\n$1\r\nz\r\n"
        "*3\r\n$4\r\nSADD\r\n$2\r\ns2\r\n$1\r\ny\r\n"
        "*1\r\n$4\r\nEXEC\r\n");
    CHECK (len == (size_t) n && memcmp (resp, want, len) == 0);
    if (len != (size_t) n || memcmp (resp, want, len) != 0)
        fprintf (stderr, "got:\n%.*s\nwant:\n%.*s\n", (int) len, resp, n, want);
    oim_redis_tx_destroy (&tx);
    CHECK (tx == NULL);
    oim_redis_tx_destroy (&tx);
}

static void
test_commit (oim_redis_t *redis)
{
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    CHECK (oim_redis_tx_watch (redis, "w") == 0);
    const char *m [] = { "1", "one" };
    oim_redis_tx_group (tx, "ZADD", "z", 2, m, NULL);
    oim_redis_tx_strs (tx, "SET", "w", "committed", NULL);
    oim_redis_tx_hincrby (tx, "stats", "n", 4);
    oim_redis_tx_sadd (tx, "set", "a");
    CHECK (oim_redis_tx_exec (tx, redis) == OIM_REDIS_TX_COMMITTED);
    CHECK (oim_redis_tx_size (tx) == 0);                    //  reset: reusable
    CHECK (strcmp (s_get (redis, "GET %s", "w"), "committed") == 0);
    CHECK (strcmp (s_get (redis, "ZSCORE z %s", "one"), "1") == 0);
    CHECK (strcmp (s_get (redis, "HGET stats %s", "n"), "4") == 0);
    CHECK (strcmp (s_get (redis, "SISMEMBER set %s", "a"), "1") == 0);
    //  The same object again, the two halves: a large transaction written without waiting.
    char key [32], value [32];
    for (int i = 0; i < 50000; i++) {
        snprintf (key, sizeof key, "big:%d", i);
        snprintf (value, sizeof value, "%d", i);
        oim_redis_tx_strs (tx, "SET", key, value, NULL);
    }
    int sent = oim_redis_tx_send (tx, redis);
    CHECK (sent == 0);
    CHECK (oim_redis_tx_finish (tx, redis, sent) == OIM_REDIS_TX_COMMITTED);
    CHECK (strcmp (s_get (redis, "GET %s", "big:49999"), "49999") == 0);
    //  An empty transaction commits.
    CHECK (oim_redis_tx_exec (tx, redis) == OIM_REDIS_TX_COMMITTED);
    oim_redis_tx_destroy (&tx);
}

static void
test_conflict (oim_redis_t *redis)
{
    oim_redis_t *other = oim_redis_new (s_server.url, 1000, 2000);
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    CHECK (oim_redis_tx_watch (redis, "w") == 0);
    redisReply *r = oim_redis_command (other, "SET w %s", "touched");
    CHECK (r && r->type == REDIS_REPLY_STATUS);
    if (r)
        freeReplyObject (r);
    oim_redis_tx_strs (tx, "SET", "w", "mine", NULL);
    oim_redis_tx_strs (tx, "SET", "c:other", "mine", NULL);
    CHECK (oim_redis_tx_exec (tx, redis) == OIM_REDIS_TX_CONFLICT);
    CHECK (strcmp (s_get (redis, "GET %s", "w"), "touched") == 0);
    CHECK (strcmp (s_get (redis, "GET %s", "c:other"), "") == 0);
    //  Unwatched, the retry commits.
    CHECK (oim_redis_tx_watch (redis, "w") == 0);
    oim_redis_tx_unwatch (redis);
    r = oim_redis_command (other, "SET w %s", "again");
    if (r)
        freeReplyObject (r);
    oim_redis_tx_strs (tx, "SET", "w", "mine", NULL);
    CHECK (oim_redis_tx_exec (tx, redis) == OIM_REDIS_TX_COMMITTED);
    CHECK (strcmp (s_get (redis, "GET %s", "w"), "mine") == 0);
    oim_redis_tx_destroy (&tx);
    oim_redis_destroy (&other);
}

static void
test_failure (oim_redis_t *redis)
{
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    //  Refused while queueing (wrong arity): EXECABORT, nothing applied.
    oim_redis_tx_strs (tx, "SET", "f:1", "x", NULL);
    oim_redis_tx_strs (tx, "SET", "f:2", NULL);
    CHECK (oim_redis_tx_exec (tx, redis) == OIM_REDIS_TX_FAILED);
    CHECK (strcmp (s_get (redis, "GET %s", "f:1"), "") == 0);
    //  Failed inside EXEC (wrong type): -1, the rest applied (Redis does not roll back).
    oim_redis_tx_strs (tx, "SET", "f:3", "text", NULL);
    oim_redis_tx_strs (tx, "INCR", "f:3", NULL);
    oim_redis_tx_strs (tx, "SET", "f:4", "y", NULL);
    CHECK (oim_redis_tx_exec (tx, redis) == OIM_REDIS_TX_FAILED);
    CHECK (strcmp (s_get (redis, "GET %s", "f:4"), "y") == 0);
    //  The connection still works.
    oim_redis_tx_strs (tx, "SET", "f:5", "z", NULL);
    CHECK (oim_redis_tx_exec (tx, redis) == OIM_REDIS_TX_COMMITTED);
    //  Redis unreachable.
    oim_redis_t *down = oim_redis_new ("unix:///nonexistent/redis.sock", 100, 100);
    oim_redis_tx_strs (tx, "SET", "f:6", "z", NULL);
    CHECK (oim_redis_tx_exec (tx, down) == OIM_REDIS_TX_FAILED);
    CHECK (oim_redis_tx_watch (down, "f:6") == -1);
    oim_redis_tx_unwatch (down);
    oim_redis_destroy (&down);
    oim_redis_tx_destroy (&tx);
}

//  Acknowledged means replicated (issue 18): with a wait set and no replica attached, a
//  transaction is applied on the master but reported failed and unreplicated; WAIT 0 and
//  no wait pass. A stream XACK is refused the same way.
static void
test_wait (oim_redis_t *redis)
{
    oim_redis_t *waiting = oim_redis_new (s_server.url, 1000, 1000);
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    oim_redis_tx_strs (tx, "SET", "wait:1", "x", NULL);
    CHECK (oim_redis_tx_exec (tx, waiting) == OIM_REDIS_TX_COMMITTED);
    CHECK (!oim_redis_unreplicated (waiting));
    oim_redis_set_wait (waiting, 1, 50);
    CHECK (oim_redis_wait_replicas (waiting) == 1 && oim_redis_wait_msec (waiting) == 50);
    oim_redis_tx_strs (tx, "SET", "wait:2", "y", NULL);
    CHECK (oim_redis_tx_exec (tx, waiting) == OIM_REDIS_TX_FAILED);
    CHECK (oim_redis_unreplicated (waiting));
    CHECK (strcmp (s_get (redis, "GET %s", "wait:2"), "y") == 0);   //  applied, unconfirmed
    //  Cooling down (2 x 50 ms): no WAIT is sent, the commit fails at once, applied.
    int64_t start = oim_clock_mono_ms ();
    CHECK (oim_redis_wait_due (waiting) == -1);
    oim_redis_unreplicated_reset (waiting);
    oim_redis_tx_strs (tx, "SET", "wait:4", "w", NULL);
    CHECK (oim_redis_tx_exec (tx, waiting) == OIM_REDIS_TX_FAILED && oim_redis_unreplicated (waiting));
    CHECK (oim_redis_wait (waiting) == -1);
    CHECK (oim_clock_mono_ms () - start < 40);
    CHECK (strcmp (s_get (redis, "GET %s", "wait:4"), "w") == 0);
    //  After it a WAIT is sent again (and falls short again, after its 50 ms).
    while (oim_clock_mono_ms () - start < 120)
        usleep (5000);
    CHECK (oim_redis_wait_due (waiting) == 1);
    start = oim_clock_mono_ms ();
    CHECK (oim_redis_wait (waiting) == -1 && oim_clock_mono_ms () - start >= 45);
    oim_redis_unreplicated_reset (waiting);
    CHECK (!oim_redis_unreplicated (waiting));
    //  The connection stays in step: the next command gets its own reply.
    CHECK (strcmp (s_get (waiting, "GET %s", "wait:1"), "x") == 0);
    //  A wait longer than the command timeout is clamped below it.
    oim_redis_set_wait (waiting, 1, 5000);
    CHECK (oim_redis_wait_msec (waiting) == 750);
    oim_redis_set_wait (waiting, 0, 100);
    oim_redis_tx_strs (tx, "SET", "wait:3", "z", NULL);
    CHECK (oim_redis_tx_exec (tx, waiting) == OIM_REDIS_TX_COMMITTED);
    CHECK (oim_redis_wait (waiting) == 0);
    oim_redis_tx_destroy (&tx);
    oim_redis_destroy (&waiting);
}

int
main (void)
{
    test_resp ();
    oim_redis_t *redis = oim_test_redis_start (&s_server, "redis_tx");
    CHECK (redis);
    if (redis) {
        test_commit (redis);
        test_conflict (redis);
        test_failure (redis);
        test_wait (redis);
    }
    oim_redis_destroy (&redis);
    oim_test_redis_stop (&s_server);
    printf ("redis_tx: %s\n", s_failed? "FAILED": "OK");
    return s_failed? 1: 0;
}
