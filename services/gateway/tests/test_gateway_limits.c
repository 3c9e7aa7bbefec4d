/*  Unit tests for the gateway's bounded parts: token buckets (gateway_limit: take vs check, a
    slow bucket kept while it refills) and the link pool (gateway_link: at most max_links, a
    bounded wait, then NULL; a link given back wakes a waiter).
*/
#include "gateway_limit.h"
#include "gateway_link.h"
#include "oim_clock.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int s_passed, s_failed;
#define CHECK(cond) do { \
    if (cond) s_passed++; \
    else { s_failed++; fprintf (stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

static void
s_test_limit (void)
{
    int retry = 0;
    gateway_limit_t *limit = gateway_limit_new (1, 3);
    for (int i = 0; i < 5; i++)
        CHECK (gateway_limit_check (limit, "a:1", &retry));     //  checking takes nothing
    for (int i = 0; i < 3; i++)
        CHECK (gateway_limit_take (limit, "a:1", &retry));
    CHECK (!gateway_limit_take (limit, "a:1", &retry) && retry == 1);
    CHECK (!gateway_limit_check (limit, "a:1", &retry));
    CHECK (gateway_limit_take (limit, "a:2", &retry));         //  another client's bucket
    gateway_limit_destroy (&limit);
    CHECK (limit == NULL);
    //  3 an hour: the next token is 20 minutes away
    gateway_limit_t *hourly = gateway_limit_new (3 / 3600.0, 3);
    for (int i = 0; i < 3; i++)
        CHECK (gateway_limit_take (hourly, "a:1", &retry));
    CHECK (!gateway_limit_take (hourly, "a:1", &retry) && retry > 1000);
    gateway_limit_destroy (&hourly);
    gateway_limit_t *off = gateway_limit_new (0, 0);
    for (int i = 0; i < 100; i++)
        CHECK (gateway_limit_take (off, "a:1", &retry));
    gateway_limit_destroy (&off);
}

typedef struct {
    gateway_pool_t *pool;
    gateway_link_t *link;
} waiter_t;

static void *
s_waiter (void *args)
{
    waiter_t *waiter = args;
    waiter->link = gateway_pool_get (waiter->pool);
    return NULL;
}

static void
s_test_pool (void)
{
    //  Redis connects lazily and the inproc frontend needs no peer: links can be made here.
    gateway_pool_t *pool = gateway_pool_new ("inproc://test-frontend", "redis://127.0.0.1:1/0",
                                             100, 2, 200);
    gateway_link_t *a = gateway_pool_get (pool);
    gateway_link_t *b = gateway_pool_get (pool);
    CHECK (a && b && a != b);
    int64_t start = oim_clock_mono_ms ();
    CHECK (gateway_pool_get (pool) == NULL);            //  the bound, after the wait
    int64_t waited = oim_clock_mono_ms () - start;
    CHECK (waited >= 190 && waited < 1000);
    waiter_t waiter = { .pool = pool };
    pthread_t thread;
    pthread_create (&thread, NULL, s_waiter, &waiter);
    zclock_sleep (50);
    gateway_pool_put (pool, a);                         //  wakes the waiter with this link
    pthread_join (thread, NULL);
    CHECK (waiter.link == a);
    gateway_pool_put (pool, waiter.link);
    gateway_pool_put (pool, b);
    gateway_pool_destroy (&pool);
    CHECK (pool == NULL);
}

int
main (void)
{
    s_test_limit ();
    s_test_pool ();
    printf ("gateway_limits: %d passed, %d failed\n", s_passed, s_failed);
    return s_failed? 1: 0;
}
