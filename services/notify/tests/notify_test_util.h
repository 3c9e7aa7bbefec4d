/*  notify_test_util — helpers for notify's tests and benchmark: child processes that print
    their port, deadlines instead of sleeps, and a poll(2) reactor standing in for zloop
    behind notify_webhook_loop_t.  */
#ifndef NOTIFY_TEST_UTIL_H_INCLUDED
#define NOTIFY_TEST_UTIL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "notify_webhook.h"

//  Checks a condition; on failure prints where and exits 1 (tests only).
#define CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    exit (1); } } while (0)

int64_t
    notify_test_now_msec (void);

typedef struct {
    pid_t pid;
    int out_fd;                //  child's stdout
} notify_test_proc_t;

//  Starts argv [0] (a path) with stdout on a pipe. Returns 0 or -1.
int
    notify_test_spawn (notify_test_proc_t *proc, char *const argv []);

//  Reads one line of the child's stdout within timeout_msec into line. Returns 0 or -1.
int
    notify_test_read_line (notify_test_proc_t *proc, char *line, size_t line_size,
                           int timeout_msec);

//  SIGTERM, then waits (SIGKILL after 5 s). Safe to call twice.
void
    notify_test_stop (notify_test_proc_t *proc);

//  Starts a helper script of tests/ under the test interpreter and reads its "PORT n" line.
//  Returns the port, or -1.
int
    notify_test_start_script (notify_test_proc_t *proc, const char *script,
                              const char *arg1, const char *arg2);

//  Blocking GET; returns the body (caller frees) or NULL.
char *
    notify_test_http_get (const char *url);

//  Runs a command line through /bin/sh; returns its exit status.
int
    notify_test_system (const char *command);

//  A poll(2) reactor that drives one webhook engine through notify_webhook_loop_t.
typedef struct _notify_test_loop_t notify_test_loop_t;

notify_test_loop_t *
    notify_test_loop_new (void);
void
    notify_test_loop_destroy (notify_test_loop_t **self_p);
//  The adapter to give notify_webhook_engine_new; then attach the engine.
notify_webhook_loop_t
    notify_test_loop_adapter (notify_test_loop_t *self);
void
    notify_test_loop_attach (notify_test_loop_t *self, notify_webhook_engine_t *engine);
//  One reactor turn: waits at most timeout_msec, then dispatches fds and the timer.
void
    notify_test_loop_run_once (notify_test_loop_t *self, int timeout_msec);
//  Number of fds watched.
size_t
    notify_test_loop_fds (const notify_test_loop_t *self);

#endif
