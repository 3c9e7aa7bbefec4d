/*  oim_metrics — counters, gauges and latency histograms, rendered as Prometheus text.

    Register a metric once (at start; registration takes a lock), keep the returned pointer,
    update it from any thread (updates are lock-free atomics). A metric is a family name plus
    an optional fixed label set, e.g. name "oim_http_requests_total", labels "code=\"200\"".
    Families with the same name share HELP and TYPE; render groups them as Prometheus wants.
    Every sample also carries the registry's constant labels (service, instance).
*/
#ifndef OIM_METRICS_H_INCLUDED
#define OIM_METRICS_H_INCLUDED

#include <stdint.h>

typedef struct _oim_metrics_t oim_metrics_t;
typedef struct _oim_metric_t oim_metric_t;

//  const_labels: e.g. "service=\"gateway\",instance=\"host:123\"", or NULL.
oim_metrics_t *oim_metrics_new (const char *const_labels);
void oim_metrics_destroy (oim_metrics_t **self_p);

//  Returns the metric for (name, labels), creating it on first use. labels may be NULL.
//  The pointer stays valid until the registry is destroyed.
oim_metric_t *oim_metrics_counter (oim_metrics_t *self, const char *name, const char *labels,
                                   const char *help);
oim_metric_t *oim_metrics_gauge (oim_metrics_t *self, const char *name, const char *labels,
                                 const char *help);
//  Buckets: 50 µs .. 10 s, roughly ×2.5 apart.
oim_metric_t *oim_metrics_histogram (oim_metrics_t *self, const char *name, const char *labels,
                                     const char *help);

void oim_metric_add (oim_metric_t *metric, int64_t delta);       //  counter or gauge
void oim_metric_set (oim_metric_t *metric, int64_t value);       //  gauge
void oim_metric_observe_us (oim_metric_t *metric, int64_t micros);   //  histogram
int64_t oim_metric_value (oim_metric_t *metric);                 //  counter/gauge; histogram count

//  Returns the Prometheus text exposition of every metric (caller frees).
char *oim_metrics_render (oim_metrics_t *self);

#endif
