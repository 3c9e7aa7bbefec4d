/*  matcher_bench — the matcher's model against real data (../shared/data), each indexed
    operation beside a brute-force scan of the same data in the same run:
      1. demand -> top-20 startups over ~100k startups (YC profiles, scaled),
      2. percolate one startup against ~100k open demands (SBIR topics, scaled),
      3. memory (heap bytes the model accounts for, and process RSS),
      4. a few real example matches: SBIR demand -> YC startups, with explanations.
    Usage: matcher_bench [--dump FILE] [data dir (default ../shared/data)] [scale startups]
                         [scale demands]
    --dump FILE writes, after the timings, the answers of the sampled queries: each sampled
    demand's top K (ids, scores, full explanations) and each sampled startup's percolation
    hits (plain and entering), sorted, scores printed with %.9g; deterministic, so two builds
    that must answer the same can be compared with cmp.
    Not a test: it needs the shared data, which a clone does not have.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <jansson.h>
#include <czmq.h>
#include "matcher_model.h"

typedef struct {
    char *id, *name, *description, *stage, *industry;
    char *tags [16]; size_t ntags;
} startup_t;

typedef struct {
    char *id, *title, *description;
    char *tags [24]; size_t ntags;
} demand_t;

static int64_t
s_now_us (void)
{
    //  thread CPU time, not wall time: the shared box runs other engineers' work, and the
    //  queries are single-threaded computation (no I/O), so CPU time is what they cost
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *
s_ksic (const char *yc)
{
    //  a rough map of YC industries onto KSIC sections, for the industry factor
    if (!yc) return NULL;
    if (streq (yc, "Healthcare")) return "Q";
    if (streq (yc, "Fintech")) return "K";
    if (streq (yc, "Industrials")) return "C";
    if (streq (yc, "B2B")) return "J";
    if (streq (yc, "Consumer")) return "G";
    if (streq (yc, "Education")) return "P";
    if (streq (yc, "Real Estate and Construction")) return "F";
    if (streq (yc, "Government")) return "O";
    return NULL;
}

static char *
s_lower (const char *text)
{
    char *copy = strdup (text);
    for (char *p = copy; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p += 32;
    return copy;
}

static size_t
s_load_startups (const char *path, startup_t **out)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    size_t cap = 8192, n = 0;
    startup_t *items = calloc (cap, sizeof *items);
    char *line = NULL;
    size_t len = 0;
    while (getline (&line, &len, file) > 0) {
        json_t *j = json_loads (line, 0, NULL);
        if (!j)
            continue;
        if (n == cap)
            items = realloc (items, (cap *= 2) * sizeof *items);
        startup_t *s = &items [n++];
        memset (s, 0, sizeof *s);
        char id [64];
        snprintf (id, sizeof id, "org_yc%06lld",
                  (long long) json_integer_value (json_object_get (j, "id")));
        s->id = strdup (id);
        s->name = strdup (json_string_value (json_object_get (j, "name"))?: "");
        const char *one = json_string_value (json_object_get (j, "one_liner"))?: "";
        const char *lng = json_string_value (json_object_get (j, "long_description"))?: "";
        s->description = malloc (strlen (one) + strlen (lng) + 3);
        sprintf (s->description, "%s. %s", one, lng);
        const char *stage = json_string_value (json_object_get (j, "stage"))?: "";
        s->stage = strdup (streq (stage, "Early")? "seed": streq (stage, "Growth")? "series-b": "");
        const char *k = s_ksic (json_string_value (json_object_get (j, "industry")));
        s->industry = k? strdup (k): NULL;
        json_t *tags = json_object_get (j, "tags");
        for (size_t i = 0; i < json_array_size (tags) && s->ntags < 16; i++)
            s->tags [s->ntags++] = s_lower (json_string_value (json_array_get (tags, i)));
        json_decref (j);
    }
    free (line);
    fclose (file);
    *out = items;
    return n;
}

static size_t
s_load_demands (const char *path, demand_t **out)
{
    gzFile file = gzopen (path, "rb");
    if (!file)
        return 0;
    size_t cap = 8192, n = 0;
    demand_t *items = calloc (cap, sizeof *items);
    size_t bufsize = 4 << 20;
    char *line = malloc (bufsize);
    while (gzgets (file, line, (int) bufsize)) {
        json_t *j = json_loads (line, 0, NULL);
        if (!j)
            continue;
        if (n == cap)
            items = realloc (items, (cap *= 2) * sizeof *items);
        demand_t *d = &items [n++];
        memset (d, 0, sizeof *d);
        char id [64];
        snprintf (id, sizeof id, "dem_%s", json_string_value (json_object_get (j, "id"))?: "x");
        d->id = strdup (id);
        d->title = strdup (json_string_value (json_object_get (j, "title"))?: "");
        d->description = strdup (json_string_value (json_object_get (j, "description"))?: "");
        //  DoD topics: "KEYWORDS: a, b, c" -> tags
        char *kw = strstr (d->description, "KEYWORDS:");
        if (kw) {
            char *list = strdup (kw + 9);
            char *nl = strchr (list, '\n');
            if (nl) *nl = 0;
            char *save = NULL;
            for (char *t = strtok_r (list, ",;", &save); t && d->ntags < 24;
                 t = strtok_r (NULL, ",;", &save)) {
                while (*t == ' ') t++;
                size_t tl = strlen (t);
                while (tl && (t [tl - 1] == ' ' || t [tl - 1] == '.' || t [tl - 1] == '\r'))
                    t [--tl] = 0;
                if (tl && tl < 60)
                    d->tags [d->ntags++] = s_lower (t);
            }
            free (list);
        }
        json_decref (j);
    }
    free (line);
    gzclose (file);
    *out = items;
    return n;
}

static void
s_add_startup (matcher_model_t *model, const startup_t *s, const char *id, const char *extra)
{
    Oim__V1__Organization org = OIM__V1__ORGANIZATION__INIT;
    org.id = (char *) id;
    org.kind = "startup";
    org.status = "active";
    org.name = s->name;
    char *desc = NULL;
    if (extra) {
        desc = malloc (strlen (s->description) + strlen (extra) + 3);
        sprintf (desc, "%s %s", s->description, extra);
    }
    org.description = desc? desc: s->description;
    org.stage = s->stage;
    org.region = "US";
    char *ind [1] = { s->industry };
    org.industries = ind;
    org.n_industries = s->industry? 1: 0;
    org.tags = (char **) s->tags;
    org.n_tags = s->ntags;
    org.version = 1;
    matcher_model_apply_org (model, &org);
    free (desc);
}

static void
s_add_demand (matcher_model_t *model, const demand_t *d, const char *id, const char *extra)
{
    Oim__V1__Demand dm = OIM__V1__DEMAND__INIT;
    dm.id = (char *) id;
    dm.org_id = "org_sbir";
    char *title = NULL;
    if (extra) {
        title = malloc (strlen (d->title) + strlen (extra) + 4);
        sprintf (title, "%s / %s", d->title, extra);
    }
    dm.title = title? title: d->title;
    dm.description = d->description;
    dm.tags = (char **) d->tags;
    dm.n_tags = d->ntags;
    dm.status = "open";
    dm.version = 1;
    matcher_model_apply_demand (model, &dm);
    free (title);
}

static int
s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y? -1: x > y;
}

static void
s_report (const char *what, int64_t *us, size_t n, double *p50_out, double *p99_out)
{
    qsort (us, n, sizeof *us, s_cmp_i64);
    double p50 = us [n / 2] / 1000.0, p99 = us [(n * 99) / 100 < n? (n * 99) / 100: n - 1] / 1000.0;
    double max = us [n - 1] / 1000.0;
    printf ("  %-44s n=%-5zu p50 %8.3f ms  p99 %8.3f ms  max %8.3f ms\n", what, n, p50, p99, max);
    if (p50_out) *p50_out = p50;
    if (p99_out) *p99_out = p99;
}

static long
s_rss_kb (void)
{
    FILE *f = fopen ("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf (f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose (f);
    }
    return rss * 4;
}

static void
s_print_match (matcher_model_t *model, const demand_t *d, const char *did, const startup_t *ss,
               size_t ns)
{
    matcher_hit_t hits [20];
    int n = matcher_model_top (model, did, hits);
    printf ("\n  DEMAND %s \"%.90s\"%s\n", d->id, d->title, d->ntags? " (with KEYWORDS tags)": "");
    for (int i = 0; i < n && i < 3; i++) {
        const startup_t *s = NULL;
        for (size_t j = 0; j < ns && !s; j++)
            if (streq (ss [j].id, hits [i].id))
                s = &ss [j];
        matcher_score_t score;
        matcher_model_score (model, did, hits [i].id, &score);
        printf ("    #%d %-22s score %.4f  \"%.80s\"\n", i + 1, s? s->name: hits [i].id,
                (double) score.units / MATCHER_UNITS, s? s->description: "");
        for (int f = 0; f < MATCHER_FACTORS; f++)
            printf ("       %-8s w %.2f v %.4f c %.4f  %.110s\n", matcher_factor_names [f],
                    score.factors [f].weight, score.factors [f].value,
                    (double) score.factors [f].units / MATCHER_UNITS, score.factors [f].detail);
    }
}

static void
s_dump_score (FILE *out, const matcher_score_t *score)
{
    fprintf (out, "    score %.9g units %lld excluded %d relevant %d qualifies %d reason %s\n",
             (double) score->units / MATCHER_UNITS, (long long) score->units, score->excluded,
             score->relevant, score->qualifies, score->reason? score->reason: "-");
    for (int f = 0; f < MATCHER_FACTORS; f++)
        fprintf (out, "      %s w %.9g v %.9g units %lld detail %s\n", matcher_factor_names [f],
                 score->factors [f].weight, score->factors [f].value,
                 (long long) score->factors [f].units, score->factors [f].detail);
}

//  The sampled demands' top K with explanations (matcher_model_top_scores),
//  then the sampled startups' percolation hits, plain and entering (entry scores as the
//  timed runs left them).
static void
s_dump (const char *path, matcher_model_t *model, demand_t *ds, size_t nd, size_t scale_d,
        startup_t *ss, size_t ns, size_t scale_s, size_t samples, matcher_hit_t *ph, size_t cap)
{
    FILE *out = fopen (path, "w");
    if (!out) {
        fprintf (stderr, "matcher_bench: cannot write %s\n", path);
        return;
    }
    size_t k_max = matcher_model_config (model)->top_k;
    matcher_hit_t *hits = calloc (k_max, sizeof *hits);
    matcher_score_t *scores = calloc (k_max, sizeof *scores);
    const char **names = calloc (k_max, sizeof *names);
    char id [64];
    for (size_t k = 0; k < samples; k++) {
        snprintf (id, sizeof id, "%s_%02zu", ds [(k * 7919) % nd].id, k % scale_d);
        int n = matcher_model_top_scores (model, id, hits, scores, names);
        fprintf (out, "TOP %s n %d\n", id, n);
        for (int i = 0; i < n; i++) {
            fprintf (out, "  #%d %s %.9g %s\n", i + 1, hits [i].id,
                     (double) hits [i].units / MATCHER_UNITS, names [i]? names [i]: "-");
            s_dump_score (out, &scores [i]);
        }
    }
    for (int entering = 0; entering < 2; entering++)
        for (size_t k = 0; k < samples; k++) {
            snprintf (id, sizeof id, "%s_%02zu", ss [(k * 104729) % ns].id, k % scale_s);
            int n = entering? matcher_model_percolate_entering (model, id, ph, cap)
                            : matcher_model_percolate (model, id, ph, cap);
            matcher_hits_sort (ph, n > 0? (size_t) n: 0);
            fprintf (out, "%s %s n %d\n", entering? "ENTERING": "PERCOLATE", id, n);
            for (int i = 0; i < n; i++)
                fprintf (out, "  %s %.9g\n", ph [i].id, (double) ph [i].units / MATCHER_UNITS);
        }
    free (hits); free (scores); free (names);
    fclose (out);
}

typedef int (percolate_fn) (matcher_model_t *self, const char *startup_id,
                            matcher_hit_t *hits, size_t capacity);

//  Times `indexed` on `samples` startups and `scan` (the brute force it must equal) on
//  `scans` of them, checks that both return the same demands and scores, prints the ratio.
static void
s_bench_percolate (matcher_model_t *model, startup_t *ss, size_t ns, size_t scale_s,
                   size_t samples, size_t scans, int64_t *us, int64_t *scan_us,
                   matcher_hit_t *ph, matcher_hit_t *ph2, size_t cap,
                   percolate_fn *indexed, const char *indexed_label,
                   percolate_fn *scan, const char *scan_label, const char *per_startup)
{
    double p50, p99, sp50, sp99;
    size_t total_hits = 0, mismatches = 0;
    char id [64];
    for (size_t k = 0; k < samples; k++) {
        snprintf (id, sizeof id, "%s_%02zu", ss [(k * 104729) % ns].id, k % scale_s);
        int64_t a = s_now_us ();
        int n = indexed (model, id, ph, cap);
        us [k] = s_now_us () - a;
        total_hits += n;
    }
    s_report (indexed_label, us, samples, &p50, &p99);
    for (size_t k = 0; k < scans; k++) {
        snprintf (id, sizeof id, "%s_%02zu", ss [(k * 104729) % ns].id, k % scale_s);
        int n1 = indexed (model, id, ph, cap);
        int64_t a = s_now_us ();
        int n2 = scan (model, id, ph2, cap);
        scan_us [k] = s_now_us () - a;
        matcher_hits_sort (ph, n1);
        matcher_hits_sort (ph2, n2);
        if (n1 != n2)
            mismatches++;
        else
            for (int j = 0; j < n1; j++)
                if (!streq (ph [j].id, ph2 [j].id) || ph [j].units != ph2 [j].units)
                    mismatches++;
    }
    s_report (scan_label, scan_us, scans, &sp50, &sp99);
    printf ("  ratio p50 %.0fx, p99 %.0fx; index == brute force on %zu startups: %s; "
            "%s: %.1f on average\n", sp50 / p50, sp99 / p99, scans,
            mismatches? "NO": "yes", per_startup, (double) total_hits / samples);
}

int
main (int argc, char **argv)
{
    const char *dump = NULL;
    if (argc > 2 && streq (argv [1], "--dump")) {
        dump = argv [2];
        argv += 2;
        argc -= 2;
    }
    const char *dir = argc > 1? argv [1]: "../shared/data";
    size_t scale_s = argc > 2? (size_t) atoi (argv [2]): 18;
    size_t scale_d = argc > 3? (size_t) atoi (argv [3]): 15;
    char path [512];
    startup_t *ss = NULL;
    demand_t *ds = NULL;
    snprintf (path, sizeof path, "%s/startups/yc_companies.jsonl", dir);
    size_t ns = s_load_startups (path, &ss);
    snprintf (path, sizeof path, "%s/demands/sbir_closed_topics_fy2008_2018.jsonl.gz", dir);
    size_t nd = s_load_demands (path, &ds);
    if (!ns || !nd) {
        fprintf (stderr, "matcher_bench: data not found under %s\n", dir);
        return 1;
    }
    printf ("matcher_bench: %zu real startups, %zu real demands; scaled x%zu / x%zu\n",
            ns, nd, scale_s, scale_d);
    matcher_config_t config;
    matcher_config_default (&config);

    //  ---- real data: examples and real-size timings
    {
        matcher_model_t *model = matcher_model_new (&config);
        Oim__V1__Organization owner = OIM__V1__ORGANIZATION__INIT;
        owner.id = "org_sbir"; owner.kind = "company"; owner.status = "active"; owner.version = 1;
        owner.name = "SBIR";
        matcher_model_apply_org (model, &owner);
        for (size_t i = 0; i < ns; i++)
            s_add_startup (model, &ss [i], ss [i].id, NULL);
        for (size_t i = 0; i < nd; i++)
            s_add_demand (model, &ds [i], ds [i].id, NULL);
        printf ("\nReal data (%zu startups, %zu open demands):\n", ns, nd);
        int64_t *us = calloc (nd, sizeof *us);
        size_t with = 0;
        matcher_hit_t hits [20];
        for (size_t i = 0; i < nd; i++) {
            int64_t t0 = s_now_us ();
            int n = matcher_model_top (model, ds [i].id, hits);
            us [i] = s_now_us () - t0;
            with += n > 0;
        }
        s_report ("demand -> top-20 (all demands)", us, nd, NULL, NULL);
        printf ("  demands with >= 1 match at min score %.2f: %zu of %zu\n",
                (double) config.min_units / MATCHER_UNITS, with, nd);
        const char *examples [] = { "battery", "drone", "machine learning", "cyber", NULL };
        int shown = 0;
        for (int e = 0; examples [e] && shown < 4; e++)
            for (size_t i = 0; i < nd; i++)
                if (ds [i].ntags && strcasestr (ds [i].title, examples [e])) {
                    s_print_match (model, &ds [i], ds [i].id, ss, ns);
                    shown++;
                    break;
                }
        free (us);
        matcher_model_destroy (&model);
    }

    //  ---- scaled: ~100k startups and ~100k open demands in one model
    long rss0 = s_rss_kb ();
    int64_t t0 = s_now_us ();
    matcher_model_t *model = matcher_model_new (&config);
    Oim__V1__Organization owner = OIM__V1__ORGANIZATION__INIT;
    owner.id = "org_sbir"; owner.kind = "company"; owner.status = "active"; owner.version = 1;
    owner.name = "SBIR";
    matcher_model_apply_org (model, &owner);
    for (size_t c = 0; c < scale_s; c++)
        for (size_t i = 0; i < ns; i++) {
            char id [64];
            snprintf (id, sizeof id, "%s_%02zu", ss [i].id, c);
            //  each copy borrows another profile's description, so copies differ
            s_add_startup (model, &ss [i], id, c? ss [(i * 7 + c * 131) % ns].description: NULL);
        }
    int64_t t1 = s_now_us ();
    for (size_t c = 0; c < scale_d; c++)
        for (size_t i = 0; i < nd; i++) {
            char id [64];
            snprintf (id, sizeof id, "%s_%02zu", ds [i].id, c);
            s_add_demand (model, &ds [i], id, c? ds [(i * 5 + c * 97) % nd].title: NULL);
        }
    int64_t t2 = s_now_us ();
    long rss1 = s_rss_kb ();
    matcher_model_stats_t stats;
    matcher_model_stats (model, &stats);
    printf ("\nScaled: %zu startups, %zu open demands, %zu terms; load %.1f s + %.1f s\n",
            stats.startups, stats.demands_open, stats.terms, (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    printf ("  memory: model accounts %.1f MiB; process RSS grew %.1f MiB "
            "(brute force needs the same entities, minus the postings)\n",
            stats.bytes / 1048576.0, (rss1 - rss0) / 1024.0);

    size_t samples = 1000, scans = 40;
    int64_t *us = calloc (samples, sizeof *us), *scan_us = calloc (scans, sizeof *scan_us);
    matcher_hit_t hits [20], hits2 [20];
    double p50, p99, sp50, sp99;
    size_t mismatches = 0;
    printf ("\nDemand -> top-20 over %zu startups:\n", stats.startups);
    for (size_t k = 0; k < samples; k++) {
        size_t i = (k * 7919) % nd, c = k % scale_d;
        char id [64];
        snprintf (id, sizeof id, "%s_%02zu", ds [i].id, c);
        int64_t a = s_now_us ();
        matcher_model_top (model, id, hits);
        us [k] = s_now_us () - a;
    }
    s_report ("indexed (postings of the key terms)", us, samples, &p50, &p99);
    for (size_t k = 0; k < scans; k++) {
        size_t i = (k * 7919) % nd, c = k % scale_d;
        char id [64];
        snprintf (id, sizeof id, "%s_%02zu", ds [i].id, c);
        int n1 = matcher_model_top (model, id, hits);
        int64_t a = s_now_us ();
        int n2 = matcher_model_top_scan (model, id, hits2);
        scan_us [k] = s_now_us () - a;
        if (n1 != n2)
            mismatches++;
        else
            for (int j = 0; j < n1; j++)
                if (!streq (hits [j].id, hits2 [j].id) || hits [j].units != hits2 [j].units)
                    mismatches++;
    }
    s_report ("brute force (score every startup)", scan_us, scans, &sp50, &sp99);
    printf ("  ratio p50 %.0fx, p99 %.0fx; index == brute force on %zu demands: %s\n",
            sp50 / p50, sp99 / p99, scans, mismatches? "NO": "yes");

    printf ("\nPercolate one startup against %zu open demands:\n", stats.demands_open);
    size_t cap = stats.demands_open + 1;
    matcher_hit_t *ph = calloc (cap, sizeof *ph), *ph2 = calloc (cap, sizeof *ph2);
    s_bench_percolate (model, ss, ns, scale_s, samples, scans, us, scan_us, ph, ph2, cap,
                       matcher_model_percolate, "indexed (reverse index over open demands)",
                       matcher_model_percolate_scan, "brute force (score every open demand)",
                       "qualifying demands per startup");

    //  The daemon reconciles every open demand (its top K) before a startup changes, so each
    //  demand has an entry score (its K-th score); percolation then skips the demands whose
    //  score upper bound is below it. Same corpus state here: no startup changed since.
    int64_t a0 = s_now_us ();
    size_t full = 0;
    for (size_t i = 0; i < nd; i++)
        for (size_t c = 0; c < scale_d; c++) {
            char id [64];
            snprintf (id, sizeof id, "%s_%02zu", ds [i].id, c);
            full += matcher_model_top (model, id, hits) == 20;
        }
    printf ("\nPercolate one startup, only the demands whose top 20 it enters (entry score "
            "known for every demand: top 20 of all %zu demands computed in %.1f s, %zu full):\n",
            stats.demands_open, (s_now_us () - a0) / 1e6, full);
    s_bench_percolate (model, ss, ns, scale_s, samples, scans, us, scan_us, ph, ph2, cap,
                       matcher_model_percolate_entering,
                       "indexed + entry scores (skips demands it cannot enter)",
                       matcher_model_percolate_entering_scan,
                       "brute force (score every open demand, same entry scores)",
                       "demands entered per startup");
    if (dump)
        s_dump (dump, model, ds, nd, scale_d, ss, ns, scale_s, samples, ph, cap);
    free (ph); free (ph2); free (us); free (scan_us);
    matcher_model_destroy (&model);
    for (size_t i = 0; i < ns; i++) {
        free (ss [i].id); free (ss [i].name); free (ss [i].description); free (ss [i].stage);
        free (ss [i].industry);
        for (size_t t = 0; t < ss [i].ntags; t++) free (ss [i].tags [t]);
    }
    for (size_t i = 0; i < nd; i++) {
        free (ds [i].id); free (ds [i].title); free (ds [i].description);
        for (size_t t = 0; t < ds [i].ntags; t++) free (ds [i].tags [t]);
    }
    free (ss); free (ds);
    return 0;
}
