/*  oim_test_redis — see oim_test_redis.h. */
#include "oim_test_redis.h"
#include "oim_clock.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

oim_redis_t *
oim_test_redis_start (oim_test_redis_t *self, const char *name)
{
    memset (self, 0, sizeof *self);
    snprintf (self->dir, sizeof self->dir, "/tmp/oim_%s_XXXXXX", name);
    if (!mkdtemp (self->dir))
        return NULL;
    snprintf (self->sock, sizeof self->sock, "%s/redis.sock", self->dir);
    snprintf (self->url, sizeof self->url, "unix://%s", self->sock);
    self->pid = fork ();
    if (self->pid == 0) {
        int null = open ("/dev/null", O_WRONLY);
        dup2 (null, STDOUT_FILENO);
        dup2 (null, STDERR_FILENO);
        execlp ("redis-server", "redis-server", "--port", "0", "--unixsocket", self->sock,
                "--dir", self->dir, "--save", "", "--appendonly", "no", "--loglevel", "warning",
                (char *) NULL);
        _exit (127);
    }
    oim_redis_t *redis = oim_redis_new (self->url, 1000, 2000);
    for (int64_t deadline = oim_clock_mono_ms () + 5000; oim_clock_mono_ms () < deadline; ) {
        if (oim_redis_ping (redis, NULL))
            return redis;
        usleep (20000);
    }
    oim_redis_destroy (&redis);
    return NULL;
}

void
oim_test_redis_stop (oim_test_redis_t *self)
{
    if (self->pid > 0) {
        kill (self->pid, SIGTERM);
        waitpid (self->pid, NULL, 0);
        self->pid = 0;
    }
    if (*self->sock)
        unlink (self->sock);
    if (*self->dir)
        rmdir (self->dir);
}
