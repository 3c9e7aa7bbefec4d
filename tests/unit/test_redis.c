/*  oim_redis unit test: a URL is only ever printed with its password hidden, and INFO memory
    is read into the level that makes daemons warn (80 %) and shout (95 %). No Redis needed.  */
#include "oim_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_failed;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); s_failed++; } } while (0)

static void
test_redact (void)
{
    struct { const char *url, *shown; } cases [] = {
        { "redis://:s3cretPW@redis:6379/0", "redis://:***@redis:6379/0" },
        { "redis://user:pw@host", "redis://user:***@host" },
        { "redis://onlypassword@host:1/2", "redis://***@host:1/2" },
        { "redis://:p@ss@host", "redis://:***@host" },                 //  '@' inside the password
        { "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0" },      //  nothing to hide
        { "unix:///tmp/r.sock?db=3&password=x", "unix:///tmp/r.sock?db=3&password=***" },
        { "unix:///tmp/r.sock?password=abc&db=3", "unix:///tmp/r.sock?password=***&db=3" },
        { "unix:///tmp/r.sock", "unix:///tmp/r.sock" },
        { "http://:pw@x/?password=y", "http://:***@x/?password=***" },   //  malformed: still hidden
        { "password=zz", "password=***" },
        { "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char out [256];
        oim_redis_url_redact (cases [i].url, out, sizeof out);
        if (strcmp (out, cases [i].shown) != 0)
            fprintf (stderr, "redact '%s': got '%s', want '%s'\n", cases [i].url, out, cases [i].shown);
        CHECK (strcmp (out, cases [i].shown) == 0);
    }
    //  A small buffer truncates, never overflows, and never shows the password.
    char small [12];
    oim_redis_url_redact ("redis://:topsecret@host:6379/0", small, sizeof small);
    CHECK (strlen (small) < sizeof small && !strstr (small, "top"));
    char tiny [1];
    CHECK (*oim_redis_url_redact ("redis://:x@h", tiny, sizeof tiny) == 0);
    CHECK (*oim_redis_url_redact (NULL, small, sizeof small) == 0);
}

static void
test_memory (void)
{
    oim_redis_memory_t m;
    const char *info = "# Memory\r\nused_memory:850\r\nused_memory_human:850B\r\n"
                       "used_memory_rss:9999\r\nmaxmemory:1000\r\nmaxmemory_human:1000B\r\n"
                       "maxmemory_policy:noeviction\r\n";
    CHECK (oim_redis_memory_parse (info, &m) == 0);
    CHECK (m.used_bytes == 850 && m.max_bytes == 1000 && m.percent == 85 && m.level == 1);
    CHECK (oim_redis_memory_parse ("used_memory:960\r\nmaxmemory:1000\r\n", &m) == 0);
    CHECK (m.percent == 96 && m.level == 2);
    CHECK (oim_redis_memory_parse ("used_memory:799\r\nmaxmemory:1000\r\n", &m) == 0);
    CHECK (m.percent == 79 && m.level == 0);
    CHECK (oim_redis_memory_parse ("used_memory:950\r\nmaxmemory:1000\r\n", &m) == 0);
    CHECK (m.level == 2);
    //  No limit: no percent, never a warning
    CHECK (oim_redis_memory_parse ("used_memory:123456789\r\nmaxmemory:0\r\n", &m) == 0);
    CHECK (m.max_bytes == 0 && m.percent == 0 && m.level == 0);
    //  used_memory_rss must not be taken for used_memory; missing field = error
    CHECK (oim_redis_memory_parse ("used_memory_rss:5\r\nmaxmemory:10\r\n", &m) == -1);
    CHECK (m.used_bytes == 0);
    CHECK (oim_redis_memory_parse (NULL, &m) == -1);
    //  Redis down: -1, nothing changed
    oim_redis_t *r = oim_redis_new ("unix:///nonexistent/redis.sock", 100, 100);
    m.percent = 42;
    CHECK (oim_redis_memory_watch (r, &m) == -1 && m.percent == 42);
    oim_redis_destroy (&r);
}

//  OIM_REDIS_SENTINELS + OIM_REDIS_MASTER_NAME + OIM_REDIS_URL -> one redis-sentinel:// URL
//  (issue 18); it parses, hides its password, and a plain URL goes through unchanged.
static void
test_sentinel_url (void)
{
    char out [256];
    CHECK (oim_redis_url_compose ("redis://:pw@ignored:1/2", "127.0.0.1:26379,s2:26380", "oim",
                                  out, sizeof out) == 0);
    CHECK (strcmp (out, "redis-sentinel://:pw@127.0.0.1:26379,s2:26380/oim?db=2") == 0);
    CHECK (oim_redis_url_compose ("redis://h:1/0", "s:1", "", out, sizeof out) == 0);
    CHECK (strcmp (out, "redis-sentinel://s:1/oim?db=0") == 0);
    CHECK (oim_redis_url_compose ("unix:///tmp/r.sock", "", "x", out, sizeof out) == 0);
    CHECK (strcmp (out, "unix:///tmp/r.sock") == 0);
    CHECK (oim_redis_url_compose ("nonsense", "s:1", "x", out, sizeof out) == -1);
    CHECK (oim_redis_url_compose ("redis://h", "s:1", "x", out, 10) == -1);
    char shown [256];
    oim_redis_url_redact ("redis-sentinel://:pw@a:1,b:2/oim?db=0", shown, sizeof shown);
    CHECK (strcmp (shown, "redis-sentinel://:***@a:1,b:2/oim?db=0") == 0);
    const char *good [] = { "redis-sentinel://a:1/m", "redis-sentinel://:p@a:1,b:2,c:3/m?db=1" };
    for (size_t i = 0; i < 2; i++) {
        oim_redis_t *r = oim_redis_new (good [i], 100, 100);
        CHECK (r && oim_redis_sentinel_mode (r) && oim_redis_epoch (r) == 0);
        oim_redis_destroy (&r);
    }
    const char *bad [] = { "redis-sentinel://a:1", "redis-sentinel://a:1/", "redis-sentinel:///m",
                           "redis-sentinel://a/m", "redis-sentinel://a:0/m", "redis-sentinel://a:1,:2/m" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        oim_redis_t *r = oim_redis_new (bad [i], 100, 100);
        if (r)
            fprintf (stderr, "accepted '%s'\n", bad [i]);
        CHECK (r == NULL);
        oim_redis_destroy (&r);
    }
    //  No sentinel answers: commands fail, nothing hangs.
    oim_redis_t *r = oim_redis_new ("redis-sentinel://127.0.0.1:1,127.0.0.1:2/m", 100, 100);
    CHECK (oim_redis_command (r, "PING") == NULL && strstr (oim_redis_error (r), "sentinel"));
    oim_redis_destroy (&r);
}

int
main (void)
{
    test_redact ();
    test_sentinel_url ();
    test_memory ();
    printf ("redis: %s\n", s_failed? "FAILED": "OK");
    return s_failed? 1: 0;
}
