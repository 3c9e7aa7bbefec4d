/*  oim_config — configuration from environment variables and command-line flags.

    Each binary declares a table of options; every option has a flag (--redis-url), an
    environment variable (OIM_REDIS_URL), a default and a help line. A flag beats the variable,
    the variable beats the default; an empty variable counts as unset. `--help` prints the table with current values' sources;
    `--version` prints the version. Flags take `--name=value` or `--name value`; a flag whose
    option has `boolean` set takes no value ("1" when given).
*/
#ifndef OIM_CONFIG_H_INCLUDED
#define OIM_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *name;           //  flag without dashes, e.g. "redis-url"
    const char *env;            //  environment variable, e.g. "OIM_REDIS_URL"; may be NULL
    const char *default_value;  //  may be NULL (= empty)
    const char *help;
    bool boolean;               //  a switch: --name alone means "1"
} oim_option_t;

//  The options every daemon has (the daemon template adds them before its own).
#define OIM_OPTION_END { NULL, NULL, NULL, NULL, false }

typedef struct _oim_config_t oim_config_t;

//  Parses argv and the environment against one or two NULL-name-terminated option tables
//  (extra may be NULL). On --help or --version prints to stdout, returns NULL and sets
//  *exit_code to 0; on an unknown flag or a missing value prints the error and usage to
//  stderr, returns NULL and sets *exit_code to 2. Otherwise returns the configuration.
oim_config_t *oim_config_new (const char *program, const char *summary,
                              const oim_option_t *options, const oim_option_t *extra,
                              int argc, char **argv, int *exit_code);

void oim_config_destroy (oim_config_t **self_p);

//  The value of an option ("" when unset and without default). Asserts the name is declared.
const char *oim_config_get (oim_config_t *self, const char *name);

//  The value as an integer; fallback when empty or not a number (logged once).
int64_t oim_config_int (oim_config_t *self, const char *name, int64_t fallback);

//  True for "1", "true", "yes", "on".
bool oim_config_bool (oim_config_t *self, const char *name);

#endif
