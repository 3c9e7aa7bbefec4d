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

int
main (void)
{
    test_redact ();
    test_memory ();
    printf ("redis: %s\n", s_failed? "FAILED": "OK");
    return s_failed? 1: 0;
}
