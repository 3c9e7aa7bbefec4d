/*  notify_test_util — see notify_test_util.h.  */
#include "notify_test_util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

int64_t
notify_test_now_msec (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
notify_test_spawn (notify_test_proc_t *proc, char *const argv [])
{
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC) != 0)
        return -1;
    fflush (NULL);
    pid_t pid = fork ();
    if (pid < 0) {
        close (fds [0]);
        close (fds [1]);
        return -1;
    }
    if (pid == 0) {
        //  The helper dies with the test, even when the test crashes.
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        dup2 (fds [1], STDOUT_FILENO);
        execv (argv [0], argv);
        _exit (127);
    }
    close (fds [1]);
    proc->pid = pid;
    proc->out_fd = fds [0];
    return 0;
}

int
notify_test_read_line (notify_test_proc_t *proc, char *line, size_t line_size, int timeout_msec)
{
    int64_t deadline = notify_test_now_msec () + timeout_msec;
    size_t used = 0;
    while (used + 1 < line_size) {
        int64_t left = deadline - notify_test_now_msec ();
        struct pollfd item = { .fd = proc->out_fd, .events = POLLIN };
        if (left <= 0 || poll (&item, 1, (int) left) <= 0)
            return -1;
        char c;
        if (read (proc->out_fd, &c, 1) != 1)
            return -1;
        if (c == '\n')
            break;
        line [used++] = c;
    }
    line [used] = '\0';
    return 0;
}

void
notify_test_stop (notify_test_proc_t *proc)
{
    if (proc->pid <= 0)
        return;
    kill (proc->pid, SIGTERM);
    int64_t deadline = notify_test_now_msec () + 5000;
    int status;
    while (waitpid (proc->pid, &status, WNOHANG) == 0) {
        if (notify_test_now_msec () > deadline) {
            kill (proc->pid, SIGKILL);
            waitpid (proc->pid, &status, 0);
            break;
        }
        struct pollfd none;
        poll (&none, 0, 10);            //  waiting for a child to exit: no fd to wait on
    }
    close (proc->out_fd);
    proc->pid = 0;
}

int
notify_test_start_script (notify_test_proc_t *proc, const char *script,
                          const char *arg1, const char *arg2)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/%s", NOTIFY_TEST_DIR, script);
    const char *python = getenv ("OIM_NOTIFY_PYTHON");
    char *argv [] = { (char *) (python ? python : NOTIFY_TEST_PYTHON), path,
                      (char *) arg1, (char *) arg2, NULL };
    if (notify_test_spawn (proc, argv) != 0)
        return -1;
    char line [256];
    int port;
    if (notify_test_read_line (proc, line, sizeof line, 20000) != 0
    ||  sscanf (line, "PORT %d", &port) != 1) {
        notify_test_stop (proc);
        return -1;
    }
    return port;
}

static size_t
s_collect (char *data, size_t size, size_t count, void *arg)
{
    FILE *out = (FILE *) arg;
    return fwrite (data, size, count, out) * size;
}

char *
notify_test_http_get (const char *url)
{
    char *body = NULL;
    size_t body_size = 0;
    FILE *out = open_memstream (&body, &body_size);
    CURL *easy = curl_easy_init ();
    assert (out && easy);
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, out);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode code = curl_easy_perform (easy);
    curl_easy_cleanup (easy);
    fclose (out);
    if (code != CURLE_OK) {
        free (body);
        return NULL;
    }
    return body;
}

int
notify_test_system (const char *command)
{
    fflush (NULL);
    int status = system (command);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  --------------------------------------------------------------------------

#define s_MAX_FDS 8192

struct _notify_test_loop_t {
    struct pollfd fds [s_MAX_FDS];
    struct pollfd snapshot [s_MAX_FDS];
    size_t count;
    int64_t timer_at;          //  -1 = disarmed
    notify_webhook_engine_t *engine;
};

static int
s_watch (void *arg, int fd, int events)
{
    notify_test_loop_t *self = (notify_test_loop_t *) arg;
    size_t i = 0;
    while (i < self->count && self->fds [i].fd != fd)
        i++;
    if (events == 0) {
        if (i < self->count)
            self->fds [i] = self->fds [--self->count];
        return 0;
    }
    if (i == self->count) {
        if (self->count == s_MAX_FDS)
            return -1;
        self->count++;
    }
    self->fds [i].fd = fd;
    self->fds [i].events = (short) (((events & NOTIFY_WEBHOOK_POLLIN) ? POLLIN : 0)
                                  | ((events & NOTIFY_WEBHOOK_POLLOUT) ? POLLOUT : 0));
    return 0;
}

static int
s_timer (void *arg, long msec)
{
    notify_test_loop_t *self = (notify_test_loop_t *) arg;
    self->timer_at = msec < 0 ? -1 : notify_test_now_msec () + msec;
    return 0;
}

notify_test_loop_t *
notify_test_loop_new (void)
{
    notify_test_loop_t *self = (notify_test_loop_t *) calloc (1, sizeof (notify_test_loop_t));
    if (self)
        self->timer_at = -1;
    return self;
}

void
notify_test_loop_destroy (notify_test_loop_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

notify_webhook_loop_t
notify_test_loop_adapter (notify_test_loop_t *self)
{
    return (notify_webhook_loop_t) { .watch = s_watch, .timer = s_timer, .loop = self };
}

void
notify_test_loop_attach (notify_test_loop_t *self, notify_webhook_engine_t *engine)
{
    self->engine = engine;
}

size_t
notify_test_loop_fds (const notify_test_loop_t *self)
{
    return self->count;
}

void
notify_test_loop_run_once (notify_test_loop_t *self, int timeout_msec)
{
    assert (self->engine);
    if (self->timer_at >= 0) {
        int64_t left = self->timer_at - notify_test_now_msec ();
        if (left < timeout_msec)
            timeout_msec = left < 0 ? 0 : (int) left;
    }
    int ready = poll (self->fds, self->count, timeout_msec);
    if (ready > 0) {
        //  The engine changes the set while it runs: act on a snapshot.
        struct pollfd *snapshot = self->snapshot;
        size_t count = 0;
        for (size_t i = 0; i < self->count; i++)
            if (self->fds [i].revents)
                snapshot [count++] = self->fds [i];
        for (size_t i = 0; i < count; i++) {
            short revents = snapshot [i].revents;
            int events = ((revents & POLLIN) ? NOTIFY_WEBHOOK_POLLIN : 0)
                       | ((revents & POLLOUT) ? NOTIFY_WEBHOOK_POLLOUT : 0);
            notify_webhook_engine_on_fd (self->engine, snapshot [i].fd, events);
        }
    }
    if (self->timer_at >= 0 && notify_test_now_msec () >= self->timer_at) {
        self->timer_at = -1;
        notify_webhook_engine_on_timer (self->engine);
    }
}
