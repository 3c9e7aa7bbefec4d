/*  direct_server — the reference for the gateway benchmark: libmicrohttpd with the gateway's
    own threading model (a thread per connection), answering every request at once with a
    JSON body of the size /v1/status/<service> returns. What the gateway adds on top of this
    is the whole round trip: broker, daemon, Redis PING, and back.
    Usage: direct_server <port-file> [--epoll]   (binds 127.0.0.1 on a free port, writes it
    there; --epoll: one epoll thread per core instead, libmicrohttpd's fastest mode, to show
    what the threading model itself costs)
*/
#include <microhttpd.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char s_body [] =
    "{\"service\":\"registry\",\"version\":\"0.1.0\",\"instance\":\"registry@vm:12345\","
    "\"uptime_ms\":123456,\"redis_ok\":true,\"redis_latency_us\":120,\"redis_error\":\"\","
    "\"requests\":100000}";

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) cls; (void) url; (void) method; (void) version; (void) upload_data;
    (void) upload_data_size; (void) con_cls;
    struct MHD_Response *response = MHD_create_response_from_buffer (
        sizeof s_body - 1, (void *) s_body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header (response, "Content-Type", "application/json; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response (connection, 200, response);
    MHD_destroy_response (response);
    return rc;
}

int
main (int argc, char **argv)
{
    if (argc < 2 || strcmp (argv [1], "--help") == 0) {
        fprintf (stderr, "usage: direct_server <port-file> [--epoll]\n");
        return argc == 2? 0: 2;
    }
    bool epoll = argc > 2 && strcmp (argv [2], "--epoll") == 0;
    struct sockaddr_in address = { .sin_family = AF_INET };
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    struct MHD_Daemon *mhd = epoll
        ? MHD_start_daemon (MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, s_answer, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) sysconf (_SC_NPROCESSORS_ONLN),
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 4096, MHD_OPTION_END)
        : MHD_start_daemon (MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL,
                            0, NULL, NULL, s_answer, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 4096, MHD_OPTION_END);
    if (!mhd)
        return 1;
    FILE *file = fopen (argv [1], "w");
    fprintf (file, "%d\n", MHD_get_daemon_info (mhd, MHD_DAEMON_INFO_BIND_PORT)->port);
    fclose (file);
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGINT);
    sigprocmask (SIG_BLOCK, &set, NULL);
    int sig;
    sigwait (&set, &sig);
    MHD_stop_daemon (mhd);
    return 0;
}
