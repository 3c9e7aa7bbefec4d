/*  oim_config — see oim_config.h. */
#include "oim_config.h"
#include "oim_log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTIONS 64

struct _oim_config_t {
    const oim_option_t *options [MAX_OPTIONS];
    char *values [MAX_OPTIONS];
    const char *sources [MAX_OPTIONS];
    int count;
};

static void
s_usage (FILE *out, const char *program, const char *summary, oim_config_t *self)
{
    fprintf (out, "Usage: %s [options]\n%s\n\nOptions (flag, environment variable, default):\n",
             program, summary);
    for (int i = 0; i < self->count; i++) {
        const oim_option_t *o = self->options [i];
        fprintf (out, "  --%-26s %s\n  %-28s %s%s%s\n", o->name, o->help, "",
                 o->env? o->env: "", o->env? "  ": "",
                 o->boolean? "(switch)": o->default_value? o->default_value: "(none)");
    }
    fprintf (out, "  --%-26s %s\n  --%-26s %s\n", "help", "print this help and exit",
             "version", "print the version and exit");
}

static int
s_find (oim_config_t *self, const char *name, size_t len)
{
    for (int i = 0; i < self->count; i++)
        if (strlen (self->options [i]->name) == len
        &&  strncmp (self->options [i]->name, name, len) == 0)
            return i;
    return -1;
}

static void
s_set (oim_config_t *self, int index, const char *value, const char *source)
{
    free (self->values [index]);
    self->values [index] = strdup (value);
    self->sources [index] = source;
}

static void
s_add_table (oim_config_t *self, const oim_option_t *table)
{
    for (const oim_option_t *o = table; table && o->name; o++) {
        assert (self->count < MAX_OPTIONS);
        int i = self->count++;
        self->options [i] = o;
        //  An empty variable counts as unset (compose files pass "${VAR:-}" through).
        const char *env = o->env? getenv (o->env): NULL;
        if (env && !*env)
            env = NULL;
        s_set (self, i, env? env: o->default_value? o->default_value: "",
               env? "env": "default");
    }
}

//  Applies argv. Returns 0, 1 when the program should exit 0 (help/version), -1 on error.
static int
s_parse_args (oim_config_t *self, const char *program, const char *summary, int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        const char *arg = argv [a];
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            s_usage (stdout, program, summary, self);
            return 1;
        }
        if (strcmp (arg, "--version") == 0) {
            printf ("%s %s\n", program, OIM_VERSION);
            return 1;
        }
        if (strncmp (arg, "--", 2) != 0) {
            fprintf (stderr, "%s: unexpected argument '%s' (see --help)\n", program, arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr (name, '=');
        int i = s_find (self, name, eq? (size_t) (eq - name): strlen (name));
        if (i < 0) {
            fprintf (stderr, "%s: unknown option '%s' (see --help)\n", program, arg);
            return -1;
        }
        if (eq)
            s_set (self, i, eq + 1, "flag");
        else
        if (self->options [i]->boolean)
            s_set (self, i, "1", "flag");
        else
        if (a + 1 < argc)
            s_set (self, i, argv [++a], "flag");
        else {
            fprintf (stderr, "%s: option '%s' needs a value (see --help)\n", program, arg);
            return -1;
        }
    }
    return 0;
}

oim_config_t *
oim_config_new (const char *program, const char *summary, const oim_option_t *options,
                const oim_option_t *extra, int argc, char **argv, int *exit_code)
{
    oim_config_t *self = calloc (1, sizeof *self);
    assert (self);
    s_add_table (self, options);
    s_add_table (self, extra);
    int rc = s_parse_args (self, program, summary, argc, argv);
    if (rc != 0) {
        *exit_code = rc > 0? 0: 2;
        oim_config_destroy (&self);
        return NULL;
    }
    *exit_code = 0;
    return self;
}

void
oim_config_destroy (oim_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    oim_config_t *self = *self_p;
    for (int i = 0; i < self->count; i++)
        free (self->values [i]);
    free (self);
    *self_p = NULL;
}

const char *
oim_config_get (oim_config_t *self, const char *name)
{
    int i = s_find (self, name, strlen (name));
    assert (i >= 0);        //  asking for an undeclared option is a programming error
    return self->values [i];
}

int64_t
oim_config_int (oim_config_t *self, const char *name, int64_t fallback)
{
    const char *value = oim_config_get (self, name);
    char *end;
    long long n = strtoll (value, &end, 10);
    if (!*value || *end) {
        if (*value)
            oim_warn ("event=config_not_a_number option=%s value=\"%s\" using=%lld",
                      name, value, (long long) fallback);
        return fallback;
    }
    return n;
}

bool
oim_config_bool (oim_config_t *self, const char *name)
{
    const char *v = oim_config_get (self, name);
    return strcmp (v, "1") == 0 || strcasecmp (v, "true") == 0
        || strcasecmp (v, "yes") == 0 || strcasecmp (v, "on") == 0;
}
