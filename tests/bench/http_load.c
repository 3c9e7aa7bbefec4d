/*  http_load — a small HTTP/1.1 load client for the benchmarks: N keep-alive
    connections, one thread each, requests read from stdin, one line of figures
    per request on stdout. Written so the client takes little of the 2-core
    box the system under test runs on (the Python client took ~1 ms of CPU per
    request, next to the daemon's few).

        http_load --port P [--host 127.0.0.1] [--clients N] < requests

    Input: "label<TAB>path" per line (GET path). Thread k sends lines k, k+N,
    ... in order on its connection. Output, per request in any order:
    "label<TAB>ms<TAB>status<TAB>took_ms<TAB>total" — ms measured from the
    request's send to its body's last byte; took_ms and total are the top-level
    JSON numbers of those names when the body has them (else -1). Exit 1 when
    a connection fails (the figures so far are printed).
*/
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *label, *path;
} s_request_t;

typedef struct {
    const char *host;
    int port;
    s_request_t *req;
    size_t count, clients;
    pthread_mutex_t out;        //  whole lines on stdout
    bool failed;
} s_load_t;

typedef struct {
    s_load_t *load;
    size_t first;
} s_client_t;

static double
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int
s_connect (const char *host, int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    int one = 1;
    if (fd < 0 || inet_pton (AF_INET, host, &addr.sin_addr) != 1
    ||  connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0) {
        if (fd >= 0)
            close (fd);
        return -1;
    }
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static bool
s_send_all (int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send (fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t) n;
    }
    return true;
}

//  A growing receive buffer; a response is read whole (headers + body).
typedef struct {
    char *data;
    size_t len, cap;
} s_buf_t;

static bool
s_recv_more (int fd, s_buf_t *b)
{
    if (b->cap - b->len < 65536) {
        b->cap = b->cap * 2 + 65536;
        b->data = realloc (b->data, b->cap + 1);
        if (!b->data)
            return false;
    }
    ssize_t n;
    do
        n = recv (fd, b->data + b->len, b->cap - b->len, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;
    b->len += (size_t) n;
    b->data[b->len] = 0;
    return true;
}

//  Reads one response into b (from its start): its status and where its body
//  starts and ends. False when the connection broke or the response has no
//  Content-Length (this client reads nothing else).
static bool
s_response (int fd, s_buf_t *b, int *status, size_t *body, size_t *end)
{
    char *head_end;
    while (!(head_end = b->data ? strstr (b->data, "\r\n\r\n") : NULL))
        if (!s_recv_more (fd, b))
            return false;
    *head_end = 0;
    const char *cl = strcasestr (b->data, "\r\nContent-Length:");
    if (sscanf (b->data, "HTTP/1.%*d %d", status) != 1 || !cl)
        return false;
    *body = (size_t) (head_end + 4 - b->data);
    *end = *body + strtoul (cl + 17, NULL, 10);
    *head_end = '\r';
    while (b->len < *end)
        if (!s_recv_more (fd, b))
            return false;
    return true;
}

//  The number after "name": in the body's top level (a later key of the same
//  name in a nested object is not looked at: the first one wins), or -1.
static double
s_json_number (const char *body, const char *name)
{
    char key[64];
    snprintf (key, sizeof key, "\"%s\":", name);
    const char *at = strstr (body, key);
    return at ? strtod (at + strlen (key), NULL) : -1;
}

static void *
s_client_run (void *arg)
{
    s_client_t *c = arg;
    s_load_t *load = c->load;
    int fd = s_connect (load->host, load->port);
    s_buf_t b = { 0 };
    char request[8192];
    for (size_t i = c->first; fd >= 0 && i < load->count; i += load->clients) {
        int len = snprintf (request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
                            load->req[i].path, load->host);
        int status = 0;
        size_t body = 0, end = 0;
        double t0 = s_now_ms ();
        if (len <= 0 || (size_t) len >= sizeof request || !s_send_all (fd, request, (size_t) len)
        ||  !s_response (fd, &b, &status, &body, &end))
            break;
        double ms = s_now_ms () - t0;
        char saved = b.data[end];
        b.data[end] = 0;
        double took = s_json_number (b.data + body, "took_ms");
        double total = s_json_number (b.data + body, "total");
        b.data[end] = saved;
        pthread_mutex_lock (&load->out);
        printf ("%s\t%.3f\t%d\t%.3f\t%.0f\n", load->req[i].label, ms, status, took, total);
        pthread_mutex_unlock (&load->out);
        memmove (b.data, b.data + end, b.len - end);    //  (nothing, unless pipelined)
        b.len -= end;
        b.data[b.len] = 0;
        if (i + load->clients >= load->count)
            fd = (close (fd), -2);      //  done
    }
    if (fd != -2) {
        load->failed = true;
        if (fd >= 0)
            close (fd);
    }
    free (b.data);
    return NULL;
}

//  Reads "label<TAB>path" lines. Returns how many.
static size_t
s_read_requests (FILE *in, s_request_t **out)
{
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    *out = NULL;
    while (getline (&line, &line_cap, in) > 0) {
        line[strcspn (line, "\r\n")] = 0;
        char *tab = strchr (line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        if (n == cap) {
            cap = cap * 2 + 1024;
            *out = realloc (*out, cap * sizeof **out);
        }
        (*out)[n++] = (s_request_t) { strdup (line), strdup (tab + 1) };
    }
    free (line);
    return n;
}

int
main (int argc, char **argv)
{
    s_load_t load = { .host = "127.0.0.1", .clients = 2, .out = PTHREAD_MUTEX_INITIALIZER };
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp (argv[i], "--port") == 0 && v)
            load.port = atoi (argv[++i]);
        else if (strcmp (argv[i], "--host") == 0 && v)
            load.host = argv[++i];
        else if (strcmp (argv[i], "--clients") == 0 && v)
            load.clients = (size_t) atoi (argv[++i]);
        else {
            fprintf (stderr, "usage: %s --port P [--host 127.0.0.1] [--clients N] < requests\n"
                     "  requests: \"label<TAB>path\" lines; prints \"label<TAB>ms<TAB>status"
                     "<TAB>took_ms<TAB>total\" per request\n", argv[0]);
            return strcmp (argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (load.port <= 0 || load.clients == 0 || load.clients > 256) {
        fprintf (stderr, "http_load: --port and 1..256 --clients needed (see --help)\n");
        return 2;
    }
    load.count = s_read_requests (stdin, &load.req);
    pthread_t threads[256];
    s_client_t clients[256];
    for (size_t k = 0; k < load.clients; k++) {
        clients[k] = (s_client_t) { &load, k };
        pthread_create (&threads[k], NULL, s_client_run, &clients[k]);
    }
    for (size_t k = 0; k < load.clients; k++)
        pthread_join (threads[k], NULL);
    for (size_t i = 0; i < load.count; i++) {
        free (load.req[i].label);
        free (load.req[i].path);
    }
    free (load.req);
    if (load.failed)
        fprintf (stderr, "http_load: a connection failed or a response had no Content-Length\n");
    return load.failed ? 1 : 0;
}
