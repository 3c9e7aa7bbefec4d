/*  oim_test_redis — a throw-away redis-server for C unit tests: on a unix socket in a new
    temp dir (no TCP port to collide on), no persistence, its output silenced, stopped and
    removed by oim_test_redis_stop. Integration tests use tests/lib/oimtest.py instead.  */
#ifndef OIM_TEST_REDIS_H_INCLUDED
#define OIM_TEST_REDIS_H_INCLUDED

#include "oim_redis.h"

#include <sys/types.h>

typedef struct {
    char dir [64];
    char sock [128];
    char url [160];         //  unix://<sock>, for oim_redis_new or a daemon's --redis-url
    pid_t pid;
} oim_test_redis_t;

//  Starts redis-server ("name" goes into the temp dir's name) and waits, 5 s at most, for a
//  PING. Returns a connection to it (the caller destroys it), or NULL when it did not start.
oim_redis_t *oim_test_redis_start (oim_test_redis_t *self, const char *name);

//  Stops the server (SIGTERM, reaped) and removes its socket and dir. Safe when not started.
void oim_test_redis_stop (oim_test_redis_t *self);

#endif
