/*  oim_metrics — see oim_metrics.h. */
#include "oim_metrics.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_METRICS 512

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

static const int64_t s_bucket_us [] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000, 500000, 1000000, 2500000, 10000000
};
#define BUCKETS (sizeof s_bucket_us / sizeof s_bucket_us [0])

struct _oim_metric_t {
    kind_t kind;
    char *name;
    char *labels;
    char *help;
    _Atomic int64_t value;              //  counter, gauge; histogram: count
    _Atomic int64_t sum_us;             //  histogram
    _Atomic int64_t buckets [BUCKETS];  //  histogram, not cumulative
};

struct _oim_metrics_t {
    pthread_mutex_t lock;
    char *const_labels;
    oim_metric_t *metrics [MAX_METRICS];
    int count;
};

oim_metrics_t *
oim_metrics_new (const char *const_labels)
{
    oim_metrics_t *self = calloc (1, sizeof *self);
    assert (self);
    pthread_mutex_init (&self->lock, NULL);
    self->const_labels = strdup (const_labels? const_labels: "");
    return self;
}

void
oim_metrics_destroy (oim_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    oim_metrics_t *self = *self_p;
    for (int i = 0; i < self->count; i++) {
        free (self->metrics [i]->name);
        free (self->metrics [i]->labels);
        free (self->metrics [i]->help);
        free (self->metrics [i]);
    }
    pthread_mutex_destroy (&self->lock);
    free (self->const_labels);
    free (self);
    *self_p = NULL;
}

static oim_metric_t *
s_register (oim_metrics_t *self, kind_t kind, const char *name, const char *labels,
            const char *help)
{
    labels = labels? labels: "";
    pthread_mutex_lock (&self->lock);
    oim_metric_t *metric = NULL;
    for (int i = 0; i < self->count && !metric; i++)
        if (strcmp (self->metrics [i]->name, name) == 0
        &&  strcmp (self->metrics [i]->labels, labels) == 0)
            metric = self->metrics [i];
    if (!metric) {
        assert (self->count < MAX_METRICS);
        metric = calloc (1, sizeof *metric);
        assert (metric);
        metric->kind = kind;
        metric->name = strdup (name);
        metric->labels = strdup (labels);
        metric->help = strdup (help? help: name);
        self->metrics [self->count++] = metric;
    }
    pthread_mutex_unlock (&self->lock);
    assert (metric->kind == kind);      //  one name, one type
    return metric;
}

oim_metric_t *
oim_metrics_counter (oim_metrics_t *self, const char *name, const char *labels, const char *help)
{
    return s_register (self, KIND_COUNTER, name, labels, help);
}

oim_metric_t *
oim_metrics_gauge (oim_metrics_t *self, const char *name, const char *labels, const char *help)
{
    return s_register (self, KIND_GAUGE, name, labels, help);
}

oim_metric_t *
oim_metrics_histogram (oim_metrics_t *self, const char *name, const char *labels, const char *help)
{
    return s_register (self, KIND_HISTOGRAM, name, labels, help);
}

void oim_metric_add (oim_metric_t *metric, int64_t delta) { atomic_fetch_add (&metric->value, delta); }
void oim_metric_set (oim_metric_t *metric, int64_t value) { atomic_store (&metric->value, value); }
int64_t oim_metric_value (oim_metric_t *metric) { return atomic_load (&metric->value); }

void
oim_metric_observe_us (oim_metric_t *metric, int64_t micros)
{
    size_t b = 0;
    while (b < BUCKETS && micros > s_bucket_us [b])
        b++;
    if (b < BUCKETS)
        atomic_fetch_add (&metric->buckets [b], 1);
    atomic_fetch_add (&metric->sum_us, micros);
    atomic_fetch_add (&metric->value, 1);
}

//  Appends "{labels}" joining constant and own labels plus an extra one (may be NULL).
static void
s_labels (FILE *out, const char *a, const char *b, const char *extra)
{
    const char *parts [3] = { a, b, extra };
    int written = 0;
    for (int i = 0; i < 3; i++)
        if (parts [i] && *parts [i])
            fprintf (out, "%s%s", written++? ",": "{", parts [i]);
    if (written)
        fputc ('}', out);
}

static void
s_render_one (oim_metrics_t *self, FILE *out, oim_metric_t *m)
{
    if (m->kind != KIND_HISTOGRAM) {
        fputs (m->name, out);
        s_labels (out, self->const_labels, m->labels, NULL);
        fprintf (out, " %lld\n", (long long) atomic_load (&m->value));
        return;
    }
    int64_t cumulative = 0;
    char le [48];
    for (size_t b = 0; b < BUCKETS; b++) {
        cumulative += atomic_load (&m->buckets [b]);
        snprintf (le, sizeof le, "le=\"%g\"", s_bucket_us [b] / 1e6);
        fprintf (out, "%s_bucket", m->name);
        s_labels (out, self->const_labels, m->labels, le);
        fprintf (out, " %lld\n", (long long) cumulative);
    }
    fprintf (out, "%s_bucket", m->name);
    s_labels (out, self->const_labels, m->labels, "le=\"+Inf\"");
    fprintf (out, " %lld\n%s_sum", (long long) atomic_load (&m->value), m->name);
    s_labels (out, self->const_labels, m->labels, NULL);
    fprintf (out, " %.6f\n%s_count", atomic_load (&m->sum_us) / 1e6, m->name);
    s_labels (out, self->const_labels, m->labels, NULL);
    fprintf (out, " %lld\n", (long long) atomic_load (&m->value));
}

char *
oim_metrics_render (oim_metrics_t *self)
{
    static const char *types [] = { "counter", "gauge", "histogram" };
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    pthread_mutex_lock (&self->lock);
    bool done [MAX_METRICS] = { false };
    //  Families: every metric of a name together, HELP and TYPE once.
    for (int i = 0; i < self->count; i++) {
        if (done [i])
            continue;
        oim_metric_t *first = self->metrics [i];
        fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", first->name, first->help,
                 first->name, types [first->kind]);
        for (int j = i; j < self->count; j++)
            if (!done [j] && strcmp (self->metrics [j]->name, first->name) == 0) {
                s_render_one (self, out, self->metrics [j]);
                done [j] = true;
            }
    }
    pthread_mutex_unlock (&self->lock);
    fclose (out);
    return text;
}
