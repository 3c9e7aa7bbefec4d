/*  oimctl_commands — oimctl's table of HTTP commands (issue 17 item 7): one row per endpoint,
    one executor. See oimctl_commands.c for the row format and the output rules.
*/
#ifndef OIMCTL_COMMANDS_H_INCLUDED
#define OIMCTL_COMMANDS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define OIMCTL_UNKNOWN -1           //  oimctl_commands_run: not a command of the table

typedef enum {
    OIMCTL_OUTPUT_AUTO,             //  JSON unless stdout is a terminal
    OIMCTL_OUTPUT_JSON,
    OIMCTL_OUTPUT_TEXT
} oimctl_output_t;

typedef struct {
    const char *url;                //  the gateway, e.g. http://127.0.0.1:8080
    const char *key;                //  API key or NULL
    oimctl_output_t output;
} oimctl_conf_t;

//  Runs the table command that argv (the words after the global options) names. Returns its
//  exit code (0 ok, 1 refused or failed, 3 usage error already printed), or OIMCTL_UNKNOWN
//  when argv names no table command.
int oimctl_commands_run (const oimctl_conf_t *conf, int argc, char **argv);

//  One usage line per table command.
void oimctl_commands_usage (FILE *out);

//  One HTTP request to the gateway: body (JSON text) may be NULL. Returns the HTTP status, or
//  -1 when the request failed (printed); *out (caller frees) holds the reply body.
long oimctl_http (const oimctl_conf_t *conf, const char *method, const char *path,
                  const char *body, char **out, size_t *out_size);

//  oimctl_http, then the reply printed by conf->output (2xx on stdout, else stderr).
//  Returns 0 on a 2xx reply, else 1.
int oimctl_request (const oimctl_conf_t *conf, const char *method, const char *path,
                    const char *body);

#endif
