/*  oim_log — structured, level-gated logging: one line per event, key=value.

    Every line: ts=<RFC 3339> level=<lvl> svc=<service> [rid=<request id>] <your key=value ...>
    The request id is per thread (oim_log_set_request_id), so a handler sets it once and every
    line it logs carries it. Messages are formatted only when their level is enabled (czmq's
    zsys_* formats every call, which is why we do not log through it).
*/
#ifndef OIM_LOG_H_INCLUDED
#define OIM_LOG_H_INCLUDED

#include <stdbool.h>

typedef enum {
    OIM_LOG_DEBUG = 0,
    OIM_LOG_INFO = 1,
    OIM_LOG_WARN = 2,
    OIM_LOG_ERROR = 3
} oim_log_level_t;

//  Sets the service name and level ("debug", "info", "warn", "error") for the process.
//  Returns 0, or -1 for an unknown level name (the level is then left unchanged).
int oim_log_init (const char *service, const char *level);

//  True when lines of this level are written.
bool oim_log_enabled (oim_log_level_t level);

//  Sets (or with NULL clears) the calling thread's request id. The string is copied.
void oim_log_set_request_id (const char *request_id);

//  Writes one line. Use the macros below, which skip formatting for disabled levels.
void oim_log_write (oim_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

#define OIM_LOG_AT(lvl, ...) \
    do { if (oim_log_enabled (lvl)) oim_log_write (lvl, __VA_ARGS__); } while (0)
#define oim_debug(...) OIM_LOG_AT (OIM_LOG_DEBUG, __VA_ARGS__)
#define oim_info(...)  OIM_LOG_AT (OIM_LOG_INFO, __VA_ARGS__)
#define oim_warn(...)  OIM_LOG_AT (OIM_LOG_WARN, __VA_ARGS__)
#define oim_error(...) OIM_LOG_AT (OIM_LOG_ERROR, __VA_ARGS__)

#endif
