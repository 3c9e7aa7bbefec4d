/*  search_eval.c — ranking quality of the search library on public test
    collections, through the same analyser, index and query code the daemon
    uses (search_index_search, paged with cursors, default configuration).

    Usage: search_eval [--data DIR] [--k1 X] [--b X] [--title-weight X]
                       [--stemmer NAME] [--only cacm|korquad] [--verbose]
    DIR defaults to ../shared/data/ir relative to the repository root. A
    missing collection is skipped with a message. Prints the measures beside
    the published baselines and exits 1 when below the bar:
      CACM     MAP ≥ 0.31        (Lucene BM25 0.3123, P@30 0.1942)
      KorQuAD  nDCG@10 ≥ 0.95    (character-bigram BM25 0.955)
*/
#include "search_index.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef OIM_REPO_DIR
#define OIM_REPO_DIR "."
#endif

#define S_DEPTH 1000            //  ranked list depth for MAP
#define S_MAX_QUERIES 10000
#define S_MAX_RELS 64

typedef struct {
    char qid[64];
    char *text;
    char *rel[S_MAX_RELS];
    size_t nrel;
} s_query_t;

typedef struct {
    s_query_t *q;
    size_t n;
} s_queries_t;

static s_query_t *
s_query_find (s_queries_t *qs, const char *qid)
{
    for (size_t i = 0; i < qs->n; i++)
        if (strcmp (qs->q[i].qid, qid) == 0)
            return &qs->q[i];
    return NULL;
}

static s_query_t *
s_query_add (s_queries_t *qs, const char *qid, const char *text)
{
    if (qs->n == S_MAX_QUERIES)
        return NULL;
    s_query_t *q = &qs->q[qs->n];
    memset (q, 0, sizeof *q);
    int len = snprintf (q->qid, sizeof q->qid, "%s", qid);
    if (len < 0 || (size_t) len >= sizeof q->qid)
        return NULL;            //  a query id this long is not an id
    qs->n++;
    q->text = strdup (text);
    return q;
}

static void
s_queries_free (s_queries_t *qs)
{
    for (size_t i = 0; i < qs->n; i++) {
        free (qs->q[i].text);
        for (size_t r = 0; r < qs->q[i].nrel; r++)
            free (qs->q[i].rel[r]);
    }
    free (qs->q);
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

//  Loads a JSONL corpus: id/title/body keys named by the caller.
static long
s_load_corpus (search_index_t *idx, const char *path, const char *id_key,
               const char *title_key, const char *body_key)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    long count = 0;
    while (getline (&line, &cap, f) > 0) {
        json_t *doc = json_loads (line, 0, NULL);
        if (!doc)
            continue;
        const char *id = json_string_value (json_object_get (doc, id_key));
        const char *title = title_key ? json_string_value (json_object_get (doc, title_key)) : "";
        const char *body = json_string_value (json_object_get (doc, body_key));
        search_doc_t d = { .id = id, .version = 1, .type = SEARCH_TYPE_DEMAND,
                           .title = title ? title : "", .body = body };
        if (id && search_index_add (idx, &d) == 0)
            count++;
        json_decref (doc);
    }
    free (line);
    fclose (f);
    search_index_settle (idx);
    return count;
}

//  Ranked ids for a query, up to `depth`, paging through the public API.
static size_t
s_rank (search_index_t *idx, const char *text, char **ids, size_t depth)
{
    size_t n = 0;
    char *cursor = NULL;
    while (n < depth) {
        search_query_t q = { .q = text, .limit = SEARCH_MAX_LIMIT, .cursor = cursor,
                             .no_facets = true, .no_snippets = true };
        search_result_t *res = NULL;
        if (search_index_search (idx, &q, &res))
            break;
        for (size_t i = 0; i < res->hit_count && n < depth; i++)
            ids[n++] = strdup (res->hits[i].id);
        free (cursor);
        cursor = res->next_cursor ? strdup (res->next_cursor) : NULL;
        search_result_destroy (&res);
        if (!cursor)
            break;
    }
    free (cursor);
    return n;
}

static bool
s_is_rel (const s_query_t *q, const char *id)
{
    for (size_t r = 0; r < q->nrel; r++)
        if (strcmp (q->rel[r], id) == 0)
            return true;
    return false;
}

static int
s_eval_cacm (const char *dir, const search_config_t *cfg, bool verbose)
{
    char corpus[1024], queries[1024], qrels[1024];
    snprintf (corpus, sizeof corpus, "%s/cacm/cacm_corpus.jsonl", dir);
    snprintf (queries, sizeof queries, "%s/cacm/queries.cacm.tsv", dir);
    snprintf (qrels, sizeof qrels, "%s/cacm/qrels.cacm.txt", dir);
    if (!s_exists (corpus) || !s_exists (queries) || !s_exists (qrels)) {
        printf ("CACM     skipped: %s not found\n", corpus);
        return 0;
    }
    search_index_t *idx = search_index_new (cfg);
    long docs = s_load_corpus (idx, corpus, "id", "title", "contents");
    s_queries_t qs = { calloc (S_MAX_QUERIES, sizeof (s_query_t)), 0 };
    FILE *f = fopen (queries, "r");
    char line[8192];
    while (f && fgets (line, sizeof line, f)) {
        char *tab = strchr (line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        tab[strcspn (tab + 1, "\r\n") + 1] = 0;
        s_query_add (&qs, line, tab + 1);
    }
    if (f)
        fclose (f);
    f = fopen (qrels, "r");
    while (f && fgets (line, sizeof line, f)) {
        char qid[64], q0[16], docid[64];
        int rel;
        if (sscanf (line, "%63s %15s %63s %d", qid, q0, docid, &rel) != 4 || rel <= 0)
            continue;
        s_query_t *q = s_query_find (&qs, qid);
        if (q && q->nrel < S_MAX_RELS)
            q->rel[q->nrel++] = strdup (docid);
    }
    if (f)
        fclose (f);
    double map = 0, p30 = 0;
    size_t judged = 0;
    char **ids = calloc (S_DEPTH, sizeof *ids);
    for (size_t i = 0; i < qs.n; i++) {
        s_query_t *q = &qs.q[i];
        if (!q->nrel)
            continue;
        judged++;
        size_t n = s_rank (idx, q->text, ids, S_DEPTH);
        double ap = 0;
        size_t hits = 0, hits30 = 0;
        for (size_t k = 0; k < n; k++) {
            if (s_is_rel (q, ids[k])) {
                hits++;
                ap += (double) hits / (double) (k + 1);
                if (k < 30)
                    hits30++;
            }
            free (ids[k]);
        }
        ap /= (double) q->nrel;
        map += ap;
        p30 += hits30 / 30.0;
        if (verbose)
            printf ("  cacm q%s AP %.4f (%zu rel, %zu retrieved)\n", q->qid, ap, q->nrel, n);
    }
    free (ids);
    map /= judged ? (double) judged : 1;
    p30 /= judged ? (double) judged : 1;
    bool ok = map >= 0.31;
    printf ("CACM     %ld docs, %zu judged queries: MAP %.4f (Lucene BM25 0.3123)  "
            "P@30 %.4f (0.1942)  %s\n", docs, judged, map, p30, ok ? "PASS" : "FAIL (< 0.31)");
    s_queries_free (&qs);
    search_index_destroy (&idx);
    return ok ? 0 : 1;
}

static int
s_eval_korquad (const char *dir, const search_config_t *cfg, bool verbose)
{
    char corpus[1024], queries[1024], qrels[1024];
    snprintf (corpus, sizeof corpus, "%s/korquad/corpus.jsonl", dir);
    snprintf (queries, sizeof queries, "%s/korquad/queries.jsonl", dir);
    snprintf (qrels, sizeof qrels, "%s/korquad/qrels.test.tsv", dir);
    if (!s_exists (corpus) || !s_exists (queries) || !s_exists (qrels)) {
        printf ("KorQuAD  skipped: %s not found\n", corpus);
        return 0;
    }
    search_index_t *idx = search_index_new (cfg);
    long docs = s_load_corpus (idx, corpus, "_id", "title", "text");
    s_queries_t qs = { calloc (S_MAX_QUERIES, sizeof (s_query_t)), 0 };
    FILE *f = fopen (queries, "r");
    char line[16384];
    while (f && fgets (line, sizeof line, f)) {
        json_t *j = json_loads (line, 0, NULL);
        const char *id = json_string_value (json_object_get (j, "_id"));
        const char *text = json_string_value (json_object_get (j, "text"));
        if (id && text)
            s_query_add (&qs, id, text);
        json_decref (j);
    }
    if (f)
        fclose (f);
    f = fopen (qrels, "r");
    while (f && fgets (line, sizeof line, f)) {
        char qid[64], docid[64];
        int rel;
        if (sscanf (line, "%63s %63s %d", qid, docid, &rel) != 3 || rel <= 0)
            continue;       //  also skips the header
        s_query_t *q = s_query_find (&qs, qid);
        if (q && q->nrel < S_MAX_RELS)
            q->rel[q->nrel++] = strdup (docid);
    }
    if (f)
        fclose (f);
    double ndcg = 0, mrr = 0;
    size_t judged = 0;
    char *ids[10];
    for (size_t i = 0; i < qs.n; i++) {
        s_query_t *q = &qs.q[i];
        if (!q->nrel)
            continue;
        judged++;
        size_t n = s_rank (idx, q->text, ids, 10);
        double dcg = 0, idcg = 0;
        bool first = true;
        for (size_t k = 0; k < n; k++) {
            if (s_is_rel (q, ids[k])) {
                dcg += 1.0 / log2 ((double) k + 2);
                if (first)
                    mrr += 1.0 / (double) (k + 1);
                first = false;
            }
            free (ids[k]);
        }
        for (size_t k = 0; k < q->nrel && k < 10; k++)
            idcg += 1.0 / log2 ((double) k + 2);
        ndcg += dcg / idcg;
        if (verbose && dcg == 0)
            printf ("  korquad miss %s: %s\n", q->qid, q->text);
    }
    ndcg /= judged ? (double) judged : 1;
    mrr /= judged ? (double) judged : 1;
    bool ok = ndcg >= 0.95;
    printf ("KorQuAD  %ld passages, %zu judged queries: nDCG@10 %.4f (char-bigram BM25 0.955)  "
            "MRR@10 %.4f  %s\n", docs, judged, ndcg, mrr, ok ? "PASS" : "FAIL (< 0.95)");
    s_queries_free (&qs);
    search_index_destroy (&idx);
    return ok ? 0 : 1;
}

int
main (int argc, char **argv)
{
    const char *dir = OIM_REPO_DIR "/../shared/data/ir";
    const char *only = NULL;
    bool verbose = false;
    search_config_t cfg;
    search_config_default (&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp (a, "--data") == 0 && v)
            dir = argv[++i];
        else if (strcmp (a, "--k1") == 0 && v)
            cfg.k1 = atof (argv[++i]);
        else if (strcmp (a, "--b") == 0 && v)
            cfg.b[SEARCH_FIELD_BODY] = cfg.b[SEARCH_FIELD_TITLE] = atof (argv[++i]);
        else if (strcmp (a, "--title-weight") == 0 && v)
            cfg.weight[SEARCH_FIELD_TITLE] = atof (argv[++i]);
        else if (strcmp (a, "--typo-weight") == 0 && v)
            cfg.typo_weight = atof (argv[++i]);
        else if (strcmp (a, "--bigram-weight") == 0 && v)
            cfg.bigram_weight = atof (argv[++i]);
        else if (strcmp (a, "--tier-max-words") == 0 && v)
            cfg.tier_max_words = (unsigned) atoi (argv[++i]);
        else if (strcmp (a, "--stemmer") == 0 && v)
            cfg.stemmer = argv[++i];
        else if (strcmp (a, "--only") == 0 && v)
            only = argv[++i];
        else if (strcmp (a, "--verbose") == 0)
            verbose = true;
        else if (a[0] != '-')
            dir = a;
        else {
            fprintf (stderr, "usage: %s [--data DIR] [--k1 X] [--b X] [--title-weight X] "
                     "[--stemmer NAME] [--only cacm|korquad] [--verbose]\n", argv[0]);
            return 2;
        }
    }
    if (!s_exists (dir)) {
        printf ("search_eval: skipped, %s not found (the evaluation data lives outside the repo)\n", dir);
        return 0;
    }
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    int rc = 0;
    if (!only || strcmp (only, "cacm") == 0)
        rc |= s_eval_cacm (dir, &cfg, verbose);
    if (!only || strcmp (only, "korquad") == 0)
        rc |= s_eval_korquad (dir, &cfg, verbose);
    clock_gettime (CLOCK_MONOTONIC, &t1);
    printf ("(k1 %.2f, b %.2f, title weight %.1f, stemmer %s; %.1f s)\n", cfg.k1,
            cfg.b[SEARCH_FIELD_BODY], cfg.weight[SEARCH_FIELD_TITLE], cfg.stemmer,
            (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return rc;
}
