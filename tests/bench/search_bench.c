/*  search_bench.c — performance of the search library (in-process) against
    SQLite FTS5 on the same documents and queries, with Xapian's figures
    (tests/bench/search_bench_xapian.py) merged in when given.

    Usage: search_bench --docs DOCS.jsonl --queries Q.tsv [--runs R]
                        [--fts5 DB_PATH] [--fts5-max N] [--fts5-reuse 1]
                        [--xapian X.json | --xapian-db DIR [--xapian-max N]] [--dump FILE]
                        [--cpu-time 1] [--all-facets 1 | --daemon-facets 1]
    --xapian-db times Xapian in this run, right after our queries: it runs
    search_bench_xapian.py (with /usr/bin/python3) on DIR, building the
    database there first unless it already holds every document. --dump writes
    every answer of the warm-up pass (hits, scores, snippets, facets, cursor),
    one line per query, to compare two builds; --cpu-time 1 times our
    queries in thread CPU time instead of wall time (to compare two builds on a
    busy machine; FTS5 and Xapian stay in wall time).
    DOCS/Q come from search_gen_corpus.py. Prints, per query class, p50/p99 in
    ms for each engine and the ratios (their p99 / our p99), then index build
    rate, memory per document and live-update latency.
    Our queries run as the daemon runs them: limit 20, snippets on, facet
    counts (whole result set; industry, region, stage, type like the others)
    in the "facet" class only; each is also timed right after without
    snippets ("ids" columns): the same work FTS5 and Xapian do here (top 20
    ids, totals, facets), which the ratios compare.
    FTS5 runs top-20 by bm25() (column weights 3, 1.5, 1 like ours), a JOIN
    on an indexed metadata table for filters, and GROUP BY counts over the
    whole match for facets (industry, region, stage, type).
*/
#include "search_index.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef SEARCH_BENCH_FTS5
#include <sqlite3.h>
#endif

#define S_CLASSES 9
static const char *const s_classes[S_CLASSES] = {
    "frequent", "mid", "rare", "multi", "prefix", "typo", "filtered", "facet",
    "long"      //  a pasted text of 32 words or more (the long-query plan); lines ≤ 16 KB
};

typedef struct {
    char *id, *type, *title, *body, *industry, *region, *stage, *status;
    char **tags;
    size_t ntags;
    char **collab;
    size_t ncollab;
} s_doc_t;

typedef struct {
    int cls;
    char *q;
    char *filter_field, *filter_value;
} s_query_t;

typedef struct {
    double *v;
    size_t n, cap;
} s_lat_t;

static clockid_t s_query_clock = CLOCK_MONOTONIC;    //  --cpu-time 1: the thread's CPU time

static double
s_clock_ms (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static double
s_now_ms (void)
{
    return s_clock_ms (CLOCK_MONOTONIC);
}

//  The clock queries are timed with: wall time, or CPU time to compare two
//  builds on a busy machine (other processes' load then barely matters).
static double
s_query_ms (void)
{
    return s_clock_ms (s_query_clock);
}

static void
s_lat_add (s_lat_t *l, double ms)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc (l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = ms;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double
s_pct (s_lat_t *l, double p)
{
    if (!l->n)
        return -1;
    qsort (l->v, l->n, sizeof *l->v, s_cmp_double);
    size_t i = (size_t) (p * (double) (l->n - 1) + 0.5);
    return l->v[i];
}

static char *
s_str (json_t *o, const char *key)
{
    const char *v = json_string_value (json_object_get (o, key));
    return strdup (v ? v : "");
}

static char **
s_strs (json_t *o, const char *key, size_t *n)
{
    json_t *a = json_object_get (o, key);
    *n = json_is_array (a) ? json_array_size (a) : 0;
    char **v = calloc (*n + 1, sizeof *v);
    for (size_t i = 0; i < *n; i++) {
        const char *s = json_string_value (json_array_get (a, i));
        v[i] = strdup (s ? s : "");
    }
    return v;
}

static s_doc_t *
s_load_docs (const char *path, size_t *count)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    size_t cap = 1024, n = 0;
    s_doc_t *docs = malloc (cap * sizeof *docs);
    char *line = NULL;
    size_t line_cap = 0;
    while (getline (&line, &line_cap, f) > 0) {
        json_t *o = json_loads (line, 0, NULL);
        if (!o)
            continue;
        if (n == cap) {
            cap *= 2;
            docs = realloc (docs, cap * sizeof *docs);
        }
        s_doc_t *d = &docs[n++];
        d->id = s_str (o, "id");
        d->type = s_str (o, "type");
        d->title = s_str (o, "title");
        d->body = s_str (o, "body");
        d->industry = s_str (o, "industry");
        d->region = s_str (o, "region");
        d->stage = s_str (o, "stage");
        d->status = s_str (o, "status");
        d->tags = s_strs (o, "tags", &d->ntags);
        d->collab = s_strs (o, "collaboration", &d->ncollab);
        json_decref (o);
    }
    free (line);
    fclose (f);
    *count = n;
    return docs;
}

static void
s_free_docs (s_doc_t *docs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        s_doc_t *d = &docs[i];
        free (d->id), free (d->type), free (d->title), free (d->body);
        free (d->industry), free (d->region), free (d->stage), free (d->status);
        for (size_t k = 0; k < d->ntags; k++)
            free (d->tags[k]);
        for (size_t k = 0; k < d->ncollab; k++)
            free (d->collab[k]);
        free (d->tags), free (d->collab);
    }
    free (docs);
}

static s_query_t *
s_load_queries (const char *path, size_t *count)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    s_query_t *qs = calloc (4096, sizeof *qs);
    size_t n = 0;
    static char line[16384];
    while (n < 4096 && fgets (line, sizeof line, f)) {
        line[strcspn (line, "\r\n")] = 0;
        char *fields[4] = { 0 };
        char *p = line;
        for (int k = 0; k < 4; k++) {
            fields[k] = p;
            char *tab = p ? strchr (p, '\t') : NULL;
            if (tab)
                *tab = 0;
            p = tab ? tab + 1 : NULL;
        }
        int cls = -1;
        for (int c = 0; c < S_CLASSES; c++)
            if (strcmp (fields[0], s_classes[c]) == 0)
                cls = c;
        if (cls < 0 || !fields[1])
            continue;
        qs[n++] = (s_query_t) { cls, strdup (fields[1]), strdup (fields[2] ? fields[2] : ""),
                                strdup (fields[3] ? fields[3] : "") };
    }
    fclose (f);
    *count = n;
    return qs;
}

static search_doc_type_t
s_type (const char *t)
{
    return strcmp (t, "demand") == 0 ? SEARCH_TYPE_DEMAND
         : strcmp (t, "company") == 0 ? SEARCH_TYPE_COMPANY : SEARCH_TYPE_STARTUP;
}

//  --daemon-facets 1: docs and queries as the daemon has them: industry with its
//  section, and every query counting the facets GET /v1/search counts by default
//  (type, industry, region, stage, tag).
static bool s_daemon_facets = false;

static int
s_add (search_index_t *idx, const s_doc_t *d, uint64_t version)
{
    const char *reg = d->region, *stage = d->stage, *status = d->status;
    //  the daemon indexes a division ("C26") with its section ("C") as parent, as search_sync does
    char section[2] = { d->industry[0], 0 };
    const char *ind = d->industry, *parent = section;
    search_doc_t doc = { .id = d->id, .version = version, .type = s_type (d->type), .title = d->title,
                         .body = d->body, .tags = (const char *const *) d->tags, .tag_count = d->ntags };
    doc.facets[SEARCH_FACET_INDUSTRY] = &ind;
    doc.facet_counts[SEARCH_FACET_INDUSTRY] = 1;
    doc.facet_parents[SEARCH_FACET_INDUSTRY] = s_daemon_facets && strlen (d->industry) > 1 ? &parent : NULL;
    doc.facets[SEARCH_FACET_REGION] = &reg;
    doc.facet_counts[SEARCH_FACET_REGION] = 1;
    doc.facets[SEARCH_FACET_STAGE] = &stage;
    doc.facet_counts[SEARCH_FACET_STAGE] = 1;
    doc.facets[SEARCH_FACET_STATUS] = &status;
    doc.facet_counts[SEARCH_FACET_STATUS] = 1;
    doc.facets[SEARCH_FACET_COLLABORATION] = (const char *const *) d->collab;
    doc.facet_counts[SEARCH_FACET_COLLABORATION] = d->ncollab;
    return search_index_add (idx, &doc);
}

static long
s_rss_kib (void)
{
    FILE *f = fopen ("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets (line, sizeof line, f))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kib = atol (line + 6);
    if (f)
        fclose (f);
    return kib;
}

//  --all-facets 1: every query counts every facet field.
static bool s_all_facets = false;

//  One line per query with everything it answered (--dump: compare two builds).
static void
s_dump (FILE *out, const s_query_t *q, const search_result_t *res)
{
    fprintf (out, "%s\t%s\t%llu\t%s", s_classes[q->cls], q->q, (unsigned long long) res->total,
             res->next_cursor ? res->next_cursor : "-");
    for (size_t i = 0; i < res->hit_count; i++)
        fprintf (out, "\t%s %.9g %s", res->hits[i].id, res->hits[i].score,
                 res->hits[i].snippet_html ? res->hits[i].snippet_html : "");
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        for (size_t i = 0; i < res->facet_sizes[f]; i++)
            fprintf (out, "\t%d:%s=%u", f, res->facets[f][i].value, (unsigned) res->facets[f][i].count);
    fputc ('\n', out);
}

static double
s_ours_one (search_index_t *idx, const s_query_t *q, bool snippets, uint64_t *total, FILE *dump)
{
    const char *fv = q->filter_value;
    search_query_t query = { .q = q->q, .limit = 20, .no_facets = q->cls != 7, .no_snippets = !snippets,
                             .prefix_last = q->cls == 4,
                             //  the fields FTS5 and Xapian count too
                             .facet_mask = 1u << SEARCH_FACET_INDUSTRY | 1u << SEARCH_FACET_REGION
                                           | 1u << SEARCH_FACET_STAGE | 1u << SEARCH_FACET_TYPE };
    if (s_daemon_facets) {
        query.no_facets = false;
        query.facet_mask = 1u << SEARCH_FACET_TYPE | 1u << SEARCH_FACET_INDUSTRY | 1u << SEARCH_FACET_REGION
                         | 1u << SEARCH_FACET_STAGE | 1u << SEARCH_FACET_TAG;
    }
    if (s_all_facets) {
        query.no_facets = false;
        query.facet_mask = 0;
    }
    if (q->cls == 6) {
        query.filters[SEARCH_FACET_INDUSTRY] = &fv;
        query.filter_counts[SEARCH_FACET_INDUSTRY] = 1;
    }
    search_result_t *res = NULL;
    double t0 = s_query_ms ();
    int rc = search_index_search (idx, &query, &res);
    double ms = s_query_ms () - t0;
    if (rc == 0 && total)
        *total = res->total;
    if (rc == 0 && dump)
        s_dump (dump, q, res);
    search_result_destroy (&res);
    return ms;
}

#ifdef SEARCH_BENCH_FTS5
static void
s_exec (sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf (stderr, "sqlite: %s: %s\n", sql, err);
        sqlite3_free (err);
    }
}

static sqlite3 *
s_fts5_build (const char *path, const s_doc_t *docs, size_t n, double *rate, bool reuse)
{
    sqlite3 *db = NULL;
    if (reuse) {                //  a database built by an earlier run on the same corpus
        if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
            return NULL;
        s_exec (db, "PRAGMA cache_size=-2000000;");
        return db;
    }
    remove (path);
    if (sqlite3_open (path, &db) != SQLITE_OK)
        return NULL;
    s_exec (db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-2000000;");
    s_exec (db, "CREATE VIRTUAL TABLE fts USING fts5(title, tags, body, tokenize='porter unicode61');"
                "CREATE TABLE meta(id INTEGER PRIMARY KEY, type TEXT, industry TEXT, region TEXT, stage TEXT);");
    sqlite3_stmt *ins_fts, *ins_meta;
    sqlite3_prepare_v2 (db, "INSERT INTO fts(rowid, title, tags, body) VALUES (?1, ?2, ?3, ?4)", -1, &ins_fts, NULL);
    sqlite3_prepare_v2 (db, "INSERT INTO meta VALUES (?1, ?2, ?3, ?4, ?5)", -1, &ins_meta, NULL);
    double t0 = s_now_ms ();
    s_exec (db, "BEGIN");
    for (size_t i = 0; i < n; i++) {
        const s_doc_t *d = &docs[i];
        char tags[2048] = "";
        for (size_t k = 0; k < d->ntags; k++) {
            strncat (tags, d->tags[k], sizeof tags - strlen (tags) - 2);
            strncat (tags, ", ", sizeof tags - strlen (tags) - 1);
        }
        sqlite3_bind_int64 (ins_fts, 1, (sqlite3_int64) i + 1);
        sqlite3_bind_text (ins_fts, 2, d->title, -1, SQLITE_STATIC);
        sqlite3_bind_text (ins_fts, 3, tags, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (ins_fts, 4, d->body, -1, SQLITE_STATIC);
        sqlite3_step (ins_fts);
        sqlite3_reset (ins_fts);
        sqlite3_bind_int64 (ins_meta, 1, (sqlite3_int64) i + 1);
        sqlite3_bind_text (ins_meta, 2, d->type, -1, SQLITE_STATIC);
        sqlite3_bind_text (ins_meta, 3, d->industry, -1, SQLITE_STATIC);
        sqlite3_bind_text (ins_meta, 4, d->region, -1, SQLITE_STATIC);
        sqlite3_bind_text (ins_meta, 5, d->stage, -1, SQLITE_STATIC);
        sqlite3_step (ins_meta);
        sqlite3_reset (ins_meta);
    }
    s_exec (db, "COMMIT");
    s_exec (db, "CREATE INDEX meta_industry ON meta(industry); INSERT INTO fts(fts) VALUES('optimize');");
    *rate = (double) n / ((s_now_ms () - t0) / 1e3);
    sqlite3_finalize (ins_fts);
    sqlite3_finalize (ins_meta);
    return db;
}

//  FTS5 MATCH expression: every word quoted, OR between words, * for prefix.
static void
s_fts5_expr (const s_query_t *q, char *out, size_t size)
{
    out[0] = 0;
    char copy[512];
    snprintf (copy, sizeof copy, "%s", q->q);
    char *save = NULL;
    for (char *w = strtok_r (copy, " ", &save); w; w = strtok_r (NULL, " ", &save)) {
        size_t len = strlen (out);
        snprintf (out + len, size - len, "%s\"%s\"%s", len ? " OR " : "", w, q->cls == 4 ? "*" : "");
    }
}

static int
s_fts5_run (sqlite3 *db, const char *sql, const char *expr, const char *param)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text (st, 1, expr, -1, SQLITE_STATIC);
    if (param)
        sqlite3_bind_text (st, 2, param, -1, SQLITE_STATIC);
    int rows = 0;
    while (sqlite3_step (st) == SQLITE_ROW)
        rows++;
    sqlite3_finalize (st);
    return rows;
}

static double
s_fts5_one (sqlite3 *db, const s_query_t *q)
{
    static const char *const top =
        "SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY bm25(fts, 3.0, 1.5, 1.0) LIMIT 20";
    static const char *const filtered =
        "SELECT fts.rowid FROM fts JOIN meta ON meta.id = fts.rowid WHERE fts MATCH ?1 "
        "AND meta.industry = ?2 ORDER BY bm25(fts, 3.0, 1.5, 1.0) LIMIT 20";
    static const char *const facets[] = {
        "SELECT meta.industry, count(*) FROM fts JOIN meta ON meta.id = fts.rowid WHERE fts MATCH ?1 GROUP BY 1",
        "SELECT meta.region, count(*) FROM fts JOIN meta ON meta.id = fts.rowid WHERE fts MATCH ?1 GROUP BY 1",
        "SELECT meta.stage, count(*) FROM fts JOIN meta ON meta.id = fts.rowid WHERE fts MATCH ?1 GROUP BY 1",
        "SELECT meta.type, count(*) FROM fts JOIN meta ON meta.id = fts.rowid WHERE fts MATCH ?1 GROUP BY 1",
    };
    char expr[1024];
    s_fts5_expr (q, expr, sizeof expr);
    double t0 = s_now_ms ();
    if (q->cls == 6)
        s_fts5_run (db, filtered, expr, q->filter_value);
    else
        s_fts5_run (db, top, expr, NULL);
    if (q->cls == 7)
        for (int k = 0; k < 4; k++)
            s_fts5_run (db, facets[k], expr, NULL);
    return s_now_ms () - t0;
}
#endif

typedef struct {
    double p50, p99;
    int n;
} s_xres_t;

static void
s_load_xapian (const char *path, s_xres_t *x, double *rate, double *bytes_per_doc)
{
    json_t *j = path ? json_load_file (path, 0, NULL) : NULL;
    for (int c = 0; c < S_CLASSES; c++) {
        json_t *o = json_object_get (json_object_get (j, "classes"), s_classes[c]);
        x[c].p50 = o ? json_number_value (json_object_get (o, "p50")) : -1;
        x[c].p99 = o ? json_number_value (json_object_get (o, "p99")) : -1;
        x[c].n = o ? (int) json_integer_value (json_object_get (o, "n")) : 0;
    }
    *rate = j ? json_number_value (json_object_get (j, "build_docs_per_s")) : -1;
    *bytes_per_doc = j ? json_number_value (json_object_get (j, "db_bytes_per_doc")) : -1;
    json_decref (j);
}

//  Times Xapian now (tests/bench/search_bench_xapian.py on db_dir, reused when
//  complete); its figures go to out (a JSON path). Returns 0 or -1.
static int
s_run_xapian (const char *docs, const char *queries, const char *db_dir, int runs, int max,
              char *out, size_t size)
{
    snprintf (out, size, "%s.json", db_dir);
    char cmd[8192];
    snprintf (cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/bench/search_bench_xapian.py' '%s' '%s' '%s' '%s'"
              " --runs %d --max %d --reuse", OIM_REPO_DIR, docs, queries, db_dir, out, runs, max);
    fprintf (stderr, "search_bench: timing xapian: %s\n", cmd);
    fflush (NULL);
    if (system (cmd) != 0) {
        fprintf (stderr, "search_bench: the xapian run failed\n");
        return -1;
    }
    return 0;
}

static void
s_ratio (char *buf, size_t size, double theirs, double ours)
{
    if (theirs < 0 || ours <= 0)
        snprintf (buf, size, "%8s", "-");
    else
        snprintf (buf, size, "%7.1fx", theirs / ours);
}

int
main (int argc, char **argv)
{
    const char *docs_path = NULL, *queries_path = NULL, *fts5_path = NULL, *xapian_path = NULL;
    const char *xapian_db = NULL, *dump_path = NULL;
    int runs = 3, fts5_max = 100, xapian_max = 100;
    bool fts5_reuse = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp (argv[i], "--docs") == 0)
            docs_path = argv[i + 1];
        else if (strcmp (argv[i], "--queries") == 0)
            queries_path = argv[i + 1];
        else if (strcmp (argv[i], "--runs") == 0)
            runs = atoi (argv[i + 1]);
        else if (strcmp (argv[i], "--fts5") == 0)
            fts5_path = argv[i + 1];
        else if (strcmp (argv[i], "--fts5-max") == 0)
            fts5_max = atoi (argv[i + 1]);
        else if (strcmp (argv[i], "--fts5-reuse") == 0)
            fts5_reuse = atoi (argv[i + 1]) != 0;
        else if (strcmp (argv[i], "--all-facets") == 0)
            s_all_facets = atoi (argv[i + 1]) != 0;
        else if (strcmp (argv[i], "--daemon-facets") == 0)
            s_daemon_facets = atoi (argv[i + 1]) != 0;
        else if (strcmp (argv[i], "--xapian") == 0)
            xapian_path = argv[i + 1];
        else if (strcmp (argv[i], "--xapian-db") == 0)
            xapian_db = argv[i + 1];
        else if (strcmp (argv[i], "--xapian-max") == 0)
            xapian_max = atoi (argv[i + 1]);
        else if (strcmp (argv[i], "--dump") == 0)
            dump_path = argv[i + 1];
        else if (strcmp (argv[i], "--cpu-time") == 0)
            s_query_clock = atoi (argv[i + 1]) ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    }
    if (!docs_path || !queries_path) {
        fprintf (stderr, "usage: %s --docs DOCS.jsonl --queries Q.tsv [--runs R] [--fts5 DB] "
                 "[--fts5-max N] [--xapian X.json | --xapian-db DIR [--xapian-max N]] [--all-facets 1] "
                 "[--dump FILE] [--cpu-time 1] [--daemon-facets 1]\n",
                 argv[0]);
        return 2;
    }
    size_t ndocs = 0, nq = 0;
    s_doc_t *docs = s_load_docs (docs_path, &ndocs);
    s_query_t *qs = s_load_queries (queries_path, &nq);
    if (!docs || !qs) {
        fprintf (stderr, "search_bench: cannot read %s or %s\n", docs_path, queries_path);
        return 2;
    }
    printf ("corpus: %zu docs (%s), %zu queries, %d timed runs each\n", ndocs, docs_path, nq, runs);
    long rss0 = s_rss_kib ();
    search_index_t *idx = search_index_new (NULL);
    double t0 = s_now_ms ();
    for (size_t i = 0; i < ndocs; i++)
        s_add (idx, &docs[i], 1);
    double build_ms = s_now_ms () - t0;
    t0 = s_now_ms ();
    search_index_compact (idx);
    double compact_ms = s_now_ms () - t0;
    search_stats_t st;
    search_index_stats (idx, &st);
    long rss1 = s_rss_kib ();
    //  ours: warm up once, then time, with snippets and ids only (interleaved)
    s_lat_t ours[S_CLASSES] = { 0 }, ours_med[S_CLASSES] = { 0 };
    s_lat_t ids[S_CLASSES] = { 0 }, ids_med[S_CLASSES] = { 0 };
    uint64_t totals[S_CLASSES] = { 0 };
    double *per_query = calloc (nq * (size_t) runs, sizeof *per_query);
    double *per_query_ids = calloc (nq * (size_t) runs, sizeof *per_query_ids);
    FILE *dump = dump_path ? fopen (dump_path, "w") : NULL;
    for (size_t i = 0; i < nq; i++)
        s_ours_one (idx, &qs[i], true, NULL, dump);
    if (dump)
        fclose (dump);
    for (int r = 0; r < runs; r++)
        for (size_t i = 0; i < nq; i++) {
            uint64_t total = 0;
            double ms = s_ours_one (idx, &qs[i], true, &total, NULL);
            s_lat_add (&ours[qs[i].cls], ms);
            per_query[i * (size_t) runs + (size_t) r] = ms;
            ms = s_ours_one (idx, &qs[i], false, NULL, NULL);
            s_lat_add (&ids[qs[i].cls], ms);
            per_query_ids[i * (size_t) runs + (size_t) r] = ms;
            if (r == 0)
                totals[qs[i].cls] += total;
        }
    //  noise filter for a shared machine: each query's median over the runs
    for (size_t i = 0; i < nq; i++) {
        s_lat_t one = { per_query + i * (size_t) runs, (size_t) runs, (size_t) runs };
        s_lat_add (&ours_med[qs[i].cls], s_pct (&one, 0.5));
        s_lat_t one_ids = { per_query_ids + i * (size_t) runs, (size_t) runs, (size_t) runs };
        s_lat_add (&ids_med[qs[i].cls], s_pct (&one_ids, 0.5));
    }
    free (per_query);
    free (per_query_ids);
    //  live updates: re-add a doc at a new version, then find it
    s_lat_t live = { 0 };
    for (size_t i = 0; i < 200 && i < ndocs; i++) {
        size_t k = (i * 7919) % ndocs;
        double u0 = s_now_ms ();
        s_add (idx, &docs[k], 2);
        search_query_t q = { .q = docs[k].title, .limit = 5, .no_facets = true };
        search_result_t *res = NULL;
        search_index_search (idx, &q, &res);
        s_lat_add (&live, s_now_ms () - u0);
        search_result_destroy (&res);
    }
    //  FTS5
    s_lat_t fts[S_CLASSES] = { 0 };
    double fts_rate = -1;
#ifdef SEARCH_BENCH_FTS5
    if (fts5_path) {
        sqlite3 *db = s_fts5_build (fts5_path, docs, ndocs, &fts_rate, fts5_reuse);
        int per_class[S_CLASSES] = { 0 };
        for (size_t i = 0; db && i < nq; i++)
            if (per_class[qs[i].cls]++ < fts5_max)
                s_fts5_one (db, &qs[i]);        //  warm-up
        memset (per_class, 0, sizeof per_class);
        for (size_t i = 0; db && i < nq; i++)
            if (per_class[qs[i].cls]++ < fts5_max)
                s_lat_add (&fts[qs[i].cls], s_fts5_one (db, &qs[i]));
        sqlite3_close (db);
    }
#else
    (void) fts5_path;
    (void) fts5_max;
    (void) fts5_reuse;
#endif
    char xapian_out[4096];
    if (xapian_db && s_run_xapian (docs_path, queries_path, xapian_db, runs, xapian_max,
                                   xapian_out, sizeof xapian_out) == 0)
        xapian_path = xapian_out;
    s_xres_t xap[S_CLASSES];
    double xap_rate, xap_bytes;
    s_load_xapian (xapian_path, xap, &xap_rate, &xap_bytes);
    printf ("\nms; x = their p99 / our ids-only p99 (the same work: top 20 ids, totals, facets)\n");
    printf ("%-9s %9s | %8s %8s | %8s %8s | %8s %8s %8s | %8s %8s %8s\n", "class", "avg hits",
            "ours p50", "ours p99", "ids p50", "ids p99", "fts5 p50", "fts5 p99", "p99 x",
            "xap p50", "xap p99", "p99 x");
    for (int c = 0; c < S_CLASSES; c++) {
        double o50 = s_pct (&ours[c], 0.5), o99 = s_pct (&ours[c], 0.99);
        double i50 = s_pct (&ids[c], 0.5), i99 = s_pct (&ids[c], 0.99);
        double f50 = s_pct (&fts[c], 0.5), f99 = s_pct (&fts[c], 0.99);
        char rf[32], rx[32];
        s_ratio (rf, sizeof rf, f99, i99);
        s_ratio (rx, sizeof rx, xap[c].p99, i99);
        printf ("%-9s %9.0f | %8.3f %8.3f | %8.3f %8.3f | %8.2f %8.2f %8s | %8.3f %8.3f %8s\n", s_classes[c],
                ours[c].n ? (double) totals[c] * runs / (double) ours[c].n : 0, o50, o99, i50, i99,
                f50, f99, rf, xap[c].p50, xap[c].p99, rx);
    }
    printf ("\nours, p99 over queries of each query's median of %d runs (filters preemption on a shared"
            " machine), with snippets / ids only:\n  ", runs);
    for (int c = 0; c < S_CLASSES; c++)
        printf ("%s %.3f / %.3f%s", s_classes[c], s_pct (&ours_med[c], 0.99), s_pct (&ids_med[c], 0.99),
                c + 1 < S_CLASSES ? ", " : " ms\n");
    printf ("\nbuild: ours %.0f docs/s (%.1f s + compaction %.1f s)", (double) ndocs / (build_ms / 1e3),
            build_ms / 1e3, compact_ms / 1e3);
    if (fts_rate > 0)
        printf (", fts5 %.0f docs/s", fts_rate);
    if (xap_rate > 0)
        printf (", xapian %.0f docs/s", xap_rate);
    printf ("\nmemory: index %.0f bytes/doc beyond text (postings %.0f, terms %llu), stored text %.0f bytes/doc,"
            " process RSS growth %.0f bytes/doc\n",
            (double) st.index_bytes / (double) st.docs_live, (double) st.postings_bytes / (double) st.docs_live,
            (unsigned long long) st.terms, (double) st.text_bytes / (double) st.docs_live,
            (double) (rss1 - rss0) * 1024.0 / (double) ndocs);
    if (xap_bytes > 0)
        printf ("        xapian database %.0f bytes/doc on disk\n", xap_bytes);
    printf ("live update (add new version + search finds it): p50 %.3f ms, p99 %.3f ms\n",
            s_pct (&live, 0.5), s_pct (&live, 0.99));
    for (int c = 0; c < S_CLASSES; c++) {
        free (ours[c].v);
        free (ours_med[c].v);
        free (ids[c].v);
        free (ids_med[c].v);
        free (fts[c].v);
    }
    free (live.v);
    for (size_t i = 0; i < nq; i++) {
        free (qs[i].q);
        free (qs[i].filter_field);
        free (qs[i].filter_value);
    }
    free (qs);
    search_index_destroy (&idx);
    s_free_docs (docs, ndocs);
    return 0;
}
