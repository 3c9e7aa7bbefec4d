/*  oim_log — see oim_log.h. The level and service name are process-wide settings written
    once at start (oim_log_init) and read by every thread; the request id is thread-local.
*/
#include "oim_log.h"
#include "oim_clock.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int s_level = OIM_LOG_INFO;
static char s_service [32] = "oim";
static _Thread_local char s_request_id [64];

static const char *s_names [] = { "debug", "info", "warn", "error" };

int
oim_log_init (const char *service, const char *level)
{
    if (service)
        snprintf (s_service, sizeof s_service, "%s", service);
    if (!level || !*level)
        return 0;
    for (int i = 0; i < 4; i++)
        if (strcmp (level, s_names [i]) == 0) {
            atomic_store (&s_level, i);
            return 0;
        }
    return -1;
}

bool
oim_log_enabled (oim_log_level_t level)
{
    return (int) level >= atomic_load (&s_level);
}

void
oim_log_set_request_id (const char *request_id)
{
    snprintf (s_request_id, sizeof s_request_id, "%s", request_id? request_id: "");
}

void
oim_log_write (oim_log_level_t level, const char *format, ...)
{
    char line [2048];
    char ts [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), ts);
    int n = snprintf (line, sizeof line, "ts=%s level=%s svc=%s ", ts, s_names [level], s_service);
    if (*s_request_id && n < (int) sizeof line)
        n += snprintf (line + n, sizeof line - n, "rid=%s ", s_request_id);
    if (n < (int) sizeof line) {
        va_list args;
        va_start (args, format);
        n += vsnprintf (line + n, sizeof line - n, format, args);
        va_end (args);
    }
    if (n >= (int) sizeof line)
        n = sizeof line - 1;
    //  Newlines inside a value would break the one-line-per-event rule.
    for (int i = 0; i < n; i++)
        if (line [i] == '\n' || line [i] == '\r')
            line [i] = ' ';
    fprintf (stderr, "%.*s\n", n, line);
}
