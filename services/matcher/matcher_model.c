/*  matcher_model — in-memory entities, indexes and scoring for the matcher. See the header
    for the scoring contract; this file's comments say how it is made fast and exact.

    Exactness: every BM25 term weight is rounded to an integer (units of 10^-6) before it is
    summed, so a pair's text score is the same integer whether it was accumulated posting by
    posting (demand -> startups), term by term from the startup side (percolation) or for the
    pair alone (explanations, brute-force scans): integer addition does not depend on order.
    Caches (a term's idf, a demand's BM25max) carry the corpus generation they were computed
    at; the generation moves whenever a startup enters or leaves the corpus, so a cached value
    is always the value a fresh computation would give.

    Entry scores: each matcher_model_top records the demand's K-th score (and, densely per
    demand slot, the smallest text sum whose score bound reaches it) at the current
    generation; matcher_model_percolate_entering skips demands whose bound is below it. They
    are never used at another generation, so the skip stays exact.
*/
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "matcher_model.h"
#include "oim_analyze.h"
#include "oim_utf8.h"

#define BM25_K1     0.9
#define BM25_B      0.4
#define W_SCALE     1000000.0       //  BM25 weights are summed in units of 10^-6
#define MAX_TOKENS  20000           //  per analysed field

const char *const matcher_factor_names [MATCHER_FACTORS] = {
    "text", "tags", "industry", "region", "stage"
};

static const char *const s_stages [] = {
    "pre-seed", "seed", "series-a", "series-b", "series-c+", "public", NULL
};

typedef struct { uint32_t doc, tf; } s_spost_t;
typedef struct { uint32_t slot, epoch; } s_dpost_t;

typedef struct {
    char *text;
    uint32_t df;                    //  live startups carrying the term (or tag key)
    s_spost_t *sp; uint32_t sp_n, sp_cap;       //  startup postings
    s_dpost_t *dp; uint32_t dp_n, dp_cap;       //  open-demand postings (key terms, tags)
    s_dpost_t *qp; uint32_t qp_n, qp_cap;       //  saved-search anchors
    uint32_t *words; uint32_t nwords;           //  tag key: its word terms, sorted
    uint64_t idf_gen; double idf;               //  cached idf at corpus generation idf_gen
    int64_t norm_units;                         //  llround (idf * (k1+1) * W_SCALE), same gen
} s_term_t;

typedef struct _s_org_t s_org_t;

typedef struct {
    char *id;
    s_org_t *org;                   //  its organization (while live)
    bool live;
    uint32_t len;                   //  tokens, for BM25 length normalisation
    uint32_t *terms, *tfs; uint32_t nterms;     //  sorted by term id
    uint32_t *tags; uint32_t ntags;             //  tag key term ids, sorted
    char *region, *stage;
    char **ind; size_t nind;
} s_doc_t;

struct _s_org_t {
    char *id, *kind, *status, *name, *email, *phone, *website;
    int64_t version;
    bool deleted;
    bool eligible;                  //  an active, not deleted startup
    bool active;                    //  status active and not deleted (any kind)
    int64_t doc;                    //  startup doc slot, -1 when not in the corpus
};

typedef struct _s_demand_t s_demand_t;
struct _s_demand_t {
    char *id, *org_id, *title, *status;
    int64_t version;
    bool deleted, open;
    bool confidential, members;                         //  its visibility
    s_demand_t *teaser;                                 //  confidential: the demand as
                                                        //  outsiders see it (title, tags)
    uint32_t *key; char **key_words; uint32_t nkey;     //  key terms, in key order
    uint32_t *all; uint32_t nall;                       //  every distinct term, sorted
    uint32_t *tags; char **tag_names; uint32_t ntags;   //  tag keys sorted, names aligned
    char **ind, **reg, **stg, **col; size_t nind, nreg, nstg, ncol;
    uint32_t *key_sorted;                               //  key terms, sorted
    double eff [MATCHER_FACTORS];                       //  effective weights (see header)
    s_org_t *owner;                                     //  resolved lazily (orgs live on)
    uint32_t slot, epoch;
    uint64_t norm_gen; int64_t norm_units;
    //  entry score: the K-th score of its last top K (min score when fewer than K), valid
    //  while the corpus is at entry_gen and the demand unchanged (UINT64_MAX: none)
    uint64_t entry_gen; int64_t entry_units;
};

//  Per demand slot, dense (percolation reads it without touching the demand): the smallest
//  text sum (units of 10^-6) whose score upper bound reaches the demand's entry score,
//  without [0] and with [1] a shared tag; INT64_MAX when none does. Valid at corpus
//  generation gen only (UINT64_MAX: none).
typedef struct {
    uint64_t gen;
    int64_t need [2];
} s_need_t;

typedef struct {
    uint32_t *any; uint32_t nany;   //  word / stem terms: one present is enough
    uint32_t *all; uint32_t nall;   //  Hangul/CJK bigrams: all present is enough
} s_qword_t;

typedef struct {
    char *id, *org_id, *type;
    int64_t version;
    bool deleted, live;
    s_qword_t *words; size_t nwords;
    char **ind, **reg, **stg, **col; size_t nind, nreg, nstg, ncol;
    uint32_t *tag; size_t ntag;
    uint32_t slot, epoch;
    char *since;                    //  updated_at of its current version
} s_ss_t;

struct _matcher_model_t {
    matcher_config_t config;
    oim_analyzer_t *analyzer;
    oim_tokens_t *tokens;
    uint32_t *keep; size_t keep_cap;        //  token indexes s_analyze kept
    uint32_t *cut; size_t cut_cap;          //  per token: byte offset where its word's ending starts
    zhashx_t *term_ids;             //  text -> term id + 1
    s_term_t *terms; uint32_t nterms, terms_cap;
    s_doc_t *docs; uint32_t ndocs, docs_cap;
    uint32_t live_docs;
    uint64_t total_len;             //  of live docs
    uint64_t gen;                   //  corpus generation
    zhashx_t *orgs;                 //  id -> s_org_t
    zhashx_t *demands;              //  id -> s_demand_t
    s_demand_t **dslots; uint32_t ndslots, dslots_cap;
    s_need_t *dneed; uint32_t dneed_cap;        //  per demand slot: text sums needed to enter
    uint32_t *dstate; uint32_t dstate_cap;      //  per demand slot: its epoch while open, else
                                                //  0 (dense: postings check it without a deref)
    uint32_t *doc_len; uint32_t doc_len_cap;    //  per doc slot: length, 0 when not live
    uint32_t open_demands;
    zhashx_t *sss;                  //  id -> s_ss_t
    s_ss_t **sslots; uint32_t nsslots, sslots_cap;
    uint32_t live_ss;
    //  scratch for queries
    int64_t *acc; uint8_t *mark; uint32_t *touched; size_t scratch_cap;
    size_t bytes;                   //  approximate heap bytes of postings and records
};

//  --------------------------------------------------------------------------------------
//  Small helpers

static void *
s_grow (void *array, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return array;
    uint32_t cap2 = *cap? *cap: 4;
    while (cap2 < need)
        cap2 *= 2;
    void *grown = realloc (array, cap2 * elem);
    assert (grown);
    *cap = cap2;
    return grown;
}

static char *
s_strdup (const char *text)
{
    return strdup (text? text: "");
}

static char **
s_strv (char *const *items, size_t count)
{
    char **copy = calloc (count + 1, sizeof *copy);
    assert (copy);
    for (size_t i = 0; i < count; i++)
        copy [i] = s_strdup (items [i]);
    return copy;
}

static void
s_strv_free (char ***items_p, size_t count)
{
    if (!*items_p)
        return;
    for (size_t i = 0; i < count; i++)
        free ((*items_p) [i]);
    free (*items_p);
    *items_p = NULL;
}

static int
s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y? -1: x > y;
}

//  Index of value in a sorted array of distinct values, or -1. Branchless (the probes
//  compile to conditional moves): scoring looks up every key term of a demand in a
//  startup's terms, and a mispredicted branch per probe was most of that cost.
static int64_t
s_find_u32 (const uint32_t *sorted, uint32_t count, uint32_t value)
{
    if (count == 0)
        return -1;
    const uint32_t *base = sorted;
    for (uint32_t n = count; n > 1; ) {
        uint32_t half = n / 2;
        base = base [half] <= value? base + half: base;
        n -= half;
    }
    return *base == value? base - sorted: -1;
}

static bool
s_has_u32 (const uint32_t *sorted, uint32_t count, uint32_t value)
{
    return s_find_u32 (sorted, count, value) >= 0;
}

static uint32_t
s_sort_uniq (uint32_t *items, uint32_t count)
{
    if (count == 0)
        return 0;
    qsort (items, count, sizeof *items, s_cmp_u32);
    uint32_t out = 1;
    for (uint32_t i = 1; i < count; i++)
        if (items [i] != items [out - 1])
            items [out++] = items [i];
    return out;
}

//  --------------------------------------------------------------------------------------
//  Term dictionary

static uint32_t
s_term (matcher_model_t *self, const char *text)
{
    void *found = zhashx_lookup (self->term_ids, text);
    if (found)
        return (uint32_t) ((uintptr_t) found - 1);
    self->terms = s_grow (self->terms, &self->terms_cap, self->nterms + 1, sizeof (s_term_t));
    s_term_t *term = &self->terms [self->nterms];
    memset (term, 0, sizeof *term);
    term->text = strdup (text);
    term->idf_gen = UINT64_MAX;
    zhashx_insert (self->term_ids, text, (void *) (uintptr_t) (self->nterms + 1));
    self->bytes += sizeof *term + strlen (text) + 48;
    return self->nterms++;
}

//  Current idf of a term (cached per corpus generation), also refreshing norm_units.
static double
s_idf (matcher_model_t *self, uint32_t term_id)
{
    s_term_t *term = &self->terms [term_id];
    if (term->idf_gen != self->gen) {
        double n = self->live_docs, df = term->df;
        term->idf = log (1.0 + (n - df + 0.5) / (df + 0.5));
        term->norm_units = llround (term->idf * (BM25_K1 + 1) * W_SCALE);
        term->idf_gen = self->gen;
    }
    return term->idf;
}

//  llround (x), inline: a BM25 weight per posting is rounded, and the library call was a
//  visible share of scoring. For 0 <= x < 2^52, x - trunc (x) is exact, so rounding half
//  away from zero is trunc + (fraction >= 0.5); anything else goes to llround.
static inline int64_t
s_round_units (double x)
{
    if (!(x >= 0 && x < 4503599627370496.0))
        return llround (x);
    int64_t whole = (int64_t) x;
    return whole + (x - (double) whole >= 0.5);
}

//  BM25 weight of a term for a document, in units.
static int64_t
s_weight_units (matcher_model_t *self, uint32_t term_id, uint32_t tf, uint32_t len)
{
    //  matcher_model_top inlines exactly this arithmetic (same operations, same order), so
    //  both give the same integer
    double idf = s_idf (self, term_id);
    double avg = self->live_docs? (double) self->total_len / self->live_docs: 1.0;
    double kb = BM25_K1 * BM25_B / (avg > 0? avg: 1.0), ka = BM25_K1 * (1 - BM25_B);
    double ftf = tf;
    return s_round_units (idf * (ftf * (BM25_K1 + 1) / (ftf + ka + kb * len)) * W_SCALE);
}

//  Korean verb endings and particles: a Hangul/CJK bigram that reaches into one of them says
//  nothing about the topic ("합니다" would pair every polite sentence), so such bigrams are
//  dropped, and so are words that are only function words. Longest first.
static const char *const s_endings [] = {
    "습니다", "합니다", "입니다", "됩니다", "니다", "하는", "하고", "하여", "해서", "한다",
    "했다", "된다", "있는", "있다", "하다", "에서", "으로", "에게", "까지", "부터",
    "을", "를", "은", "는", "의", "에", "와", "과", "도", "로", "이", "가", NULL
};
static const char *const s_function_words [] = {
    "합니다", "입니다", "있습니다", "됩니다", "있는", "하는", "위한", "통해", "대한", "및",
    "등", "수", "있다", "한다", "하고", "또는", "그리고", NULL
};

//  Analyses text into self->tokens and self->keep (the indexes of the tokens that count);
//  returns the number kept (0 on failure). Counting tokens for BM25 lengths uses this too.
static size_t
s_analyze (matcher_model_t *self, const char *text)
{
    if (!text || !*text)
        return 0;
    int count = oim_analyze (self->analyzer, text, strlen (text), MAX_TOKENS, self->tokens);
    if (count <= 0)
        return 0;
    if ((size_t) count > self->keep_cap) {
        self->keep_cap = count * 2;
        self->keep = realloc (self->keep, self->keep_cap * sizeof *self->keep);
        self->cut = realloc (self->cut, self->keep_cap * sizeof *self->cut);
        assert (self->keep && self->cut);
    }
    //  first pass: where each Hangul word's ending starts (by position)
    uint32_t last_pos = UINT32_MAX, cut = UINT32_MAX;
    size_t kept = 0;
    for (int i = 0; i < count; i++) {
        const oim_token_t *token = oim_tokens_get (self->tokens, i);
        if (token->pos != last_pos) {
            last_pos = token->pos;
            cut = UINT32_MAX;
            //  the word of this position is its WORD token (the first one emitted)
            if (token->script != OIM_SCRIPT_OTHER) {
                const char *start = text + token->byte_start;
                size_t len = token->byte_end - token->byte_start;
                for (int e = 0; s_endings [e]; e++) {
                    size_t el = strlen (s_endings [e]);
                    if (len > el && memcmp (start + len - el, s_endings [e], el) == 0) {
                        cut = token->byte_end - el;
                        break;
                    }
                }
            }
        }
        self->cut [i] = cut;
    }
    for (int i = 0; i < count; i++) {
        const oim_token_t *token = oim_tokens_get (self->tokens, i);
        if (token->script != OIM_SCRIPT_OTHER) {
            if (token->kind == OIM_TOKEN_BIGRAM && token->byte_end > self->cut [i])
                continue;
            bool function_word = false;
            for (int f = 0; s_function_words [f] && !function_word; f++)
                function_word = streq (token->term, s_function_words [f]);
            if (function_word)
                continue;
        }
        self->keep [kept++] = (uint32_t) i;
    }
    return kept;
}

//  The i-th kept token of the last analysis.
static const oim_token_t *
s_token (matcher_model_t *self, size_t i)
{
    return oim_tokens_get (self->tokens, self->keep [i]);
}

//  The tag key of a tag: "#" + its analysed words joined by spaces, so spelling variants of
//  one tag compare equal. Registers the key's word terms. Returns the key's term id, or
//  UINT32_MAX for a tag without words.
static uint32_t
s_tag_key (matcher_model_t *self, const char *tag)
{
    size_t count = s_analyze (self, tag);
    char key [256] = "#";
    size_t used = 1;
    uint32_t words [32];
    uint32_t nwords = 0;
    for (size_t i = 0; i < count; i++) {
        const oim_token_t *token = s_token (self, i);
        if (token->kind != OIM_TOKEN_WORD)
            continue;
        if (used + token->term_len + 2 >= sizeof key || nwords == 32)
            break;
        if (used > 1)
            key [used++] = ' ';
        memcpy (key + used, token->term, token->term_len);
        used += token->term_len;
        key [used] = 0;
        words [nwords++] = s_term (self, token->term);
    }
    if (nwords == 0)
        return UINT32_MAX;
    uint32_t id = s_term (self, key);
    s_term_t *term = &self->terms [id];
    if (!term->words) {
        nwords = s_sort_uniq (words, nwords);
        term->words = malloc (nwords * sizeof *words);
        assert (term->words);
        memcpy (term->words, words, nwords * sizeof *words);
        term->nwords = nwords;
    }
    return id;
}

//  --------------------------------------------------------------------------------------
//  Configuration

void
matcher_config_default (matcher_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->weight [MATCHER_TEXT] = 0.40;
    config->weight [MATCHER_TAGS] = 0.25;
    config->weight [MATCHER_INDUSTRY] = 0.15;
    config->weight [MATCHER_REGION] = 0.10;
    config->weight [MATCHER_STAGE] = 0.10;
    config->min_units = 2000;
    config->top_k = 20;
}

int
matcher_config_weights (matcher_config_t *config, const char *spec)
{
    double weight [MATCHER_FACTORS];
    memcpy (weight, config->weight, sizeof weight);
    char *copy = s_strdup (spec);
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r (copy, ", ", &save); item; item = strtok_r (NULL, ", ", &save)) {
        char *eq = strchr (item, '=');
        if (!eq) { rc = -1; break; }
        *eq = 0;
        char *end;
        double value = strtod (eq + 1, &end);
        int factor = -1;
        for (int f = 0; f < MATCHER_FACTORS; f++)
            if (streq (item, matcher_factor_names [f]))
                factor = f;
        if (factor < 0 || *end || end == eq + 1 || value < 0 || !isfinite (value)) {
            rc = -1;
            break;
        }
        weight [factor] = value;
    }
    free (copy);
    double sum = 0;
    for (int f = 0; f < MATCHER_FACTORS; f++)
        sum += weight [f];
    if (rc || sum <= 0)
        return -1;
    for (int f = 0; f < MATCHER_FACTORS; f++)
        config->weight [f] = weight [f] / sum;
    return 0;
}

//  --------------------------------------------------------------------------------------
//  Lifecycle

static void
s_org_free (void **item_p)
{
    s_org_t *org = *item_p;
    if (!org)
        return;
    free (org->id); free (org->kind); free (org->status); free (org->name);
    free (org->email); free (org->phone); free (org->website);
    free (org);
    *item_p = NULL;
}

static void
s_demand_clear (s_demand_t *d)
{
    free (d->key);
    free (d->key_sorted);
    d->key_sorted = NULL;
    s_strv_free (&d->key_words, d->nkey);
    free (d->all);
    free (d->tags);
    s_strv_free (&d->tag_names, d->ntags);
    s_strv_free (&d->ind, d->nind);
    s_strv_free (&d->reg, d->nreg);
    s_strv_free (&d->stg, d->nstg);
    s_strv_free (&d->col, d->ncol);
    free (d->org_id); free (d->title); free (d->status);
    if (d->teaser) {
        s_demand_clear (d->teaser);
        free (d->teaser->id);
        free (d->teaser);
        d->teaser = NULL;
    }
    d->key = d->all = d->tags = NULL;
    d->org_id = d->title = d->status = NULL;
    d->nkey = d->nall = d->ntags = 0;
    d->nind = d->nreg = d->nstg = d->ncol = 0;
}

static void
s_demand_free (void **item_p)
{
    s_demand_t *d = *item_p;
    if (!d)
        return;
    s_demand_clear (d);
    free (d->id);
    free (d);
    *item_p = NULL;
}

static void
s_ss_clear (s_ss_t *ss)
{
    for (size_t i = 0; i < ss->nwords; i++) {
        free (ss->words [i].any);
        free (ss->words [i].all);
    }
    free (ss->words);
    ss->words = NULL;
    ss->nwords = 0;
    s_strv_free (&ss->ind, ss->nind);
    s_strv_free (&ss->reg, ss->nreg);
    s_strv_free (&ss->stg, ss->nstg);
    s_strv_free (&ss->col, ss->ncol);
    free (ss->tag);
    ss->tag = NULL;
    ss->nind = ss->nreg = ss->nstg = ss->ncol = ss->ntag = 0;
    free (ss->org_id); free (ss->type); free (ss->since);
    ss->org_id = ss->type = ss->since = NULL;
}

static void
s_ss_free (void **item_p)
{
    s_ss_t *ss = *item_p;
    if (!ss)
        return;
    s_ss_clear (ss);
    free (ss->id);
    free (ss);
    *item_p = NULL;
}

matcher_model_t *
matcher_model_new (const matcher_config_t *config)
{
    matcher_model_t *self = calloc (1, sizeof *self);
    assert (self);
    if (config)
        self->config = *config;
    else
        matcher_config_default (&self->config);
    if (self->config.top_k == 0)
        self->config.top_k = 20;
    self->analyzer = oim_analyzer_new (NULL);
    self->tokens = oim_tokens_new ();
    if (!self->analyzer || !self->tokens) {
        oim_analyzer_destroy (&self->analyzer);
        oim_tokens_destroy (&self->tokens);
        free (self);
        return NULL;
    }
    self->term_ids = zhashx_new ();
    self->orgs = zhashx_new ();
    zhashx_set_destructor (self->orgs, s_org_free);
    self->demands = zhashx_new ();
    zhashx_set_destructor (self->demands, s_demand_free);
    self->sss = zhashx_new ();
    zhashx_set_destructor (self->sss, s_ss_free);
    return self;
}

static void
s_doc_clear (s_doc_t *doc)
{
    free (doc->terms); free (doc->tfs); free (doc->tags);
    free (doc->region); free (doc->stage);
    s_strv_free (&doc->ind, doc->nind);
    doc->terms = doc->tfs = doc->tags = NULL;
    doc->region = doc->stage = NULL;
    doc->nterms = doc->ntags = 0;
    doc->nind = 0;
}

void
matcher_model_destroy (matcher_model_t **self_p)
{
    matcher_model_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t i = 0; i < self->nterms; i++) {
        s_term_t *term = &self->terms [i];
        free (term->text); free (term->sp); free (term->dp); free (term->qp); free (term->words);
    }
    free (self->terms);
    for (uint32_t i = 0; i < self->ndocs; i++) {
        s_doc_clear (&self->docs [i]);
        free (self->docs [i].id);
    }
    free (self->docs);
    zhashx_destroy (&self->term_ids);
    zhashx_destroy (&self->orgs);
    zhashx_destroy (&self->demands);
    zhashx_destroy (&self->sss);
    free (self->dslots);
    free (self->dstate);
    free (self->dneed);
    free (self->doc_len);
    free (self->sslots);
    free (self->acc); free (self->mark); free (self->touched);
    free (self->keep); free (self->cut);
    oim_analyzer_destroy (&self->analyzer);
    oim_tokens_destroy (&self->tokens);
    free (self);
    *self_p = NULL;
}

const matcher_config_t *
matcher_model_config (matcher_model_t *self)
{
    return &self->config;
}

static void
s_scratch (matcher_model_t *self, size_t need)
{
    if (need <= self->scratch_cap)
        return;
    size_t cap = self->scratch_cap? self->scratch_cap: 1024;
    while (cap < need)
        cap *= 2;
    self->acc = realloc (self->acc, cap * sizeof *self->acc);
    self->mark = realloc (self->mark, cap);
    self->touched = realloc (self->touched, cap * sizeof *self->touched);
    assert (self->acc && self->mark && self->touched);
    memset (self->acc + self->scratch_cap, 0, (cap - self->scratch_cap) * sizeof *self->acc);
    memset (self->mark + self->scratch_cap, 0, cap - self->scratch_cap);
    self->scratch_cap = cap;
}

//  --------------------------------------------------------------------------------------
//  Startups (the corpus)

static void
s_doc_kill (matcher_model_t *self, s_org_t *org)
{
    if (org->doc < 0)
        return;
    s_doc_t *doc = &self->docs [org->doc];
    for (uint32_t i = 0; i < doc->nterms; i++)
        self->terms [doc->terms [i]].df--;
    for (uint32_t i = 0; i < doc->ntags; i++)
        self->terms [doc->tags [i]].df--;
    self->live_docs--;
    self->total_len -= doc->len;
    doc->live = false;
    self->doc_len [org->doc] = 0;
    s_doc_clear (doc);      //  postings to it stay until... they are skipped (doc not live)
    org->doc = -1;
    self->gen++;
}

//  Adds the analysed terms of text into a growing array (with duplicates); returns tokens.
static uint32_t
s_collect (matcher_model_t *self, const char *text, uint32_t **ids, uint32_t *n, uint32_t *cap)
{
    size_t count = s_analyze (self, text);
    for (size_t i = 0; i < count; i++) {
        const oim_token_t *token = s_token (self, i);
        *ids = s_grow (*ids, cap, *n + 1, sizeof **ids);
        (*ids) [(*n)++] = s_term (self, token->term);
    }
    return (uint32_t) count;
}

static void
s_doc_add (matcher_model_t *self, s_org_t *org, const Oim__V1__Organization *msg)
{
    self->docs = s_grow (self->docs, &self->docs_cap, self->ndocs + 1, sizeof (s_doc_t));
    uint32_t slot = self->ndocs++;
    s_doc_t *doc = &self->docs [slot];
    memset (doc, 0, sizeof *doc);
    doc->id = s_strdup (msg->id);
    doc->org = org;
    doc->live = true;
    uint32_t *ids = NULL, n = 0, cap = 0;
    doc->len += s_collect (self, msg->name, &ids, &n, &cap);
    doc->len += s_collect (self, msg->name_en, &ids, &n, &cap);
    doc->len += s_collect (self, msg->description, &ids, &n, &cap);
    for (size_t i = 0; i < msg->n_tags; i++)
        doc->len += s_collect (self, msg->tags [i], &ids, &n, &cap);
    //  distinct terms with their frequencies
    qsort (ids, n, sizeof *ids, s_cmp_u32);
    doc->terms = malloc ((n? n: 1) * sizeof *ids);
    doc->tfs = malloc ((n? n: 1) * sizeof *ids);
    assert (doc->terms && doc->tfs);
    for (uint32_t i = 0; i < n; i++) {
        if (doc->nterms && doc->terms [doc->nterms - 1] == ids [i])
            doc->tfs [doc->nterms - 1]++;
        else {
            doc->terms [doc->nterms] = ids [i];
            doc->tfs [doc->nterms++] = 1;
        }
    }
    free (ids);
    doc->tags = malloc ((msg->n_tags + 1) * sizeof *doc->tags);
    assert (doc->tags);
    for (size_t i = 0; i < msg->n_tags; i++) {
        uint32_t key = s_tag_key (self, msg->tags [i]);
        if (key != UINT32_MAX)
            doc->tags [doc->ntags++] = key;
    }
    doc->ntags = s_sort_uniq (doc->tags, doc->ntags);
    doc->region = s_strdup (msg->region);
    doc->stage = s_strdup (msg->stage);
    doc->ind = s_strv (msg->industries, msg->n_industries);
    doc->nind = msg->n_industries;
    //  postings
    for (uint32_t i = 0; i < doc->nterms; i++) {
        s_term_t *term = &self->terms [doc->terms [i]];
        term->sp = s_grow (term->sp, &term->sp_cap, term->sp_n + 1, sizeof (s_spost_t));
        term->sp [term->sp_n++] = (s_spost_t) { slot, doc->tfs [i] };
        term->df++;
    }
    for (uint32_t i = 0; i < doc->ntags; i++) {
        s_term_t *term = &self->terms [doc->tags [i]];
        term->sp = s_grow (term->sp, &term->sp_cap, term->sp_n + 1, sizeof (s_spost_t));
        term->sp [term->sp_n++] = (s_spost_t) { slot, 1 };
        term->df++;
    }
    self->bytes += sizeof *doc + (doc->nterms * 2 + doc->ntags) * 4
                 + (doc->nterms + doc->ntags) * sizeof (s_spost_t) + 64;
    self->live_docs++;
    self->total_len += doc->len;
    self->doc_len = s_grow (self->doc_len, &self->doc_len_cap, slot + 1, sizeof (uint32_t));
    self->doc_len [slot] = doc->len? doc->len: 1;
    org->doc = slot;
    self->gen++;
}

static bool
s_org_eligible (const s_org_t *org)
{
    return org && org->eligible;
}

int
matcher_model_apply_org (matcher_model_t *self, const Oim__V1__Organization *msg)
{
    if (!msg->id || !*msg->id)
        return 0;
    s_org_t *org = zhashx_lookup (self->orgs, msg->id);
    if (org && msg->version <= org->version)
        return 0;
    if (!org) {
        org = calloc (1, sizeof *org);
        assert (org);
        org->id = s_strdup (msg->id);
        org->doc = -1;
        zhashx_insert (self->orgs, msg->id, org);
        self->bytes += sizeof *org + 96;
    }
    s_doc_kill (self, org);
    free (org->kind); free (org->status); free (org->name);
    free (org->email); free (org->phone); free (org->website);
    org->kind = s_strdup (msg->kind);
    org->status = s_strdup (msg->status);
    org->name = s_strdup (msg->name);
    org->email = s_strdup (msg->email);
    org->phone = s_strdup (msg->phone);
    org->website = s_strdup (msg->website);
    org->version = msg->version;
    org->deleted = msg->deleted;
    org->active = !org->deleted && streq (org->status, "active");
    org->eligible = org->active && streq (org->kind, "startup");
    if (s_org_eligible (org))
        s_doc_add (self, org, msg);
    return 1;
}

int64_t
matcher_model_org_version (matcher_model_t *self, const char *id)
{
    s_org_t *org = zhashx_lookup (self->orgs, id);
    return org? org->version: 0;
}

bool
matcher_model_org_info (matcher_model_t *self, const char *id, matcher_org_info_t *info)
{
    s_org_t *org = zhashx_lookup (self->orgs, id);
    if (!org)
        return false;
    *info = (matcher_org_info_t) { org->name, org->kind, org->status, org->email, org->phone,
                                   org->website, org->active };
    return true;
}

//  --------------------------------------------------------------------------------------
//  Demands

typedef struct { uint32_t term; uint32_t tf; uint32_t first; oim_token_t token; } s_cand_t;

static int
s_cand_cmp (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if (x->tf != y->tf)
        return x->tf > y->tf? -1: 1;
    return x->first < y->first? -1: x->first > y->first;
}

//  Appends a key term (once) with its display word.
static void
s_key_add (matcher_model_t *self, s_demand_t *d, uint32_t term, const char *word)
{
    (void) self;
    if (d->nkey >= MATCHER_MAX_KEY_TERMS)
        return;
    for (uint32_t i = 0; i < d->nkey; i++)
        if (d->key [i] == term)
            return;
    d->key [d->nkey] = term;
    d->key_words [d->nkey++] = s_strdup (word);
}

//  The display form of a token: the original text, NFC + case folded; bigrams show as is.
static char *
s_display (const char *text, const oim_token_t *token)
{
    if (token->kind == OIM_TOKEN_WORD) {
        char *word = oim_utf8_fold_n (text + token->byte_start,
                                       token->byte_end - token->byte_start);
        if (word)
            return word;
    }
    if (token->kind == OIM_TOKEN_BIGRAM) {   //  marked: shown only when no word matched
        char *word = malloc (token->term_len + 2);
        assert (word);
        word [0] = '\x02';
        memcpy (word + 1, token->term, token->term_len + 1);
        return word;
    }
    return s_strdup (token->term);
}

static void
s_demand_index (matcher_model_t *self, s_demand_t *d, const Oim__V1__Demand *msg)
{
    d->key = calloc (MATCHER_MAX_KEY_TERMS, sizeof *d->key);
    d->key_words = calloc (MATCHER_MAX_KEY_TERMS + 1, sizeof *d->key_words);
    assert (d->key && d->key_words);
    uint32_t *all = NULL, nall = 0, all_cap = 0;
    //  title, then tags: their terms in order
    const char *fields [1 + 64];
    size_t nfields = 0;
    fields [nfields++] = msg->title;
    for (size_t i = 0; i < msg->n_tags && nfields < 65; i++)
        fields [nfields++] = msg->tags [i];
    for (size_t f = 0; f < nfields; f++) {
        size_t count = s_analyze (self, fields [f]);
        for (size_t i = 0; i < count; i++) {
            const oim_token_t *token = s_token (self, i);
            uint32_t term = s_term (self, token->term);
            all = s_grow (all, &all_cap, nall + 1, sizeof *all);
            all [nall++] = term;
            if (d->nkey < MATCHER_MAX_KEY_TERMS) {
                char *word = s_display (fields [f], token);
                s_key_add (self, d, term, word);
                free (word);
            }
        }
    }
    //  description: by frequency, then first position
    size_t count = s_analyze (self, msg->description);
    s_cand_t *cands = calloc (count + 1, sizeof *cands);
    assert (cands);
    size_t ncands = 0;
    zhashx_t *seen = zhashx_new ();
    for (size_t i = 0; i < count; i++) {
        const oim_token_t *token = s_token (self, i);
        uint32_t term = s_term (self, token->term);
        all = s_grow (all, &all_cap, nall + 1, sizeof *all);
        all [nall++] = term;
        void *at = zhashx_lookup (seen, token->term);
        if (at)
            cands [(uintptr_t) at - 1].tf++;
        else {
            cands [ncands] = (s_cand_t) { term, 1, (uint32_t) i, *token };
            zhashx_insert (seen, token->term, (void *) (uintptr_t) (++ncands));
        }
    }
    zhashx_destroy (&seen);
    qsort (cands, ncands, sizeof *cands, s_cand_cmp);
    for (size_t i = 0; i < ncands && d->nkey < MATCHER_MAX_KEY_TERMS; i++) {
        char *word = s_display (msg->description, &cands [i].token);
        s_key_add (self, d, cands [i].term, word);
        free (word);
    }
    free (cands);
    d->nall = s_sort_uniq (all, nall);
    d->all = all;
    //  effective weights: the factors the demand constrains, scaled to sum 1
    bool active [MATCHER_FACTORS] = { true, msg->n_tags > 0, msg->n_industries > 0,
                                      msg->n_regions > 0, msg->n_stages > 0 };
    double sum = 0;
    for (int f = 0; f < MATCHER_FACTORS; f++)
        sum += active [f]? self->config.weight [f]: 0;
    for (int f = 0; f < MATCHER_FACTORS; f++)
        d->eff [f] = active [f] && sum > 0? self->config.weight [f] / sum: 0;
    d->key_sorted = malloc ((d->nkey + 1) * sizeof *d->key_sorted);
    assert (d->key_sorted);
    memcpy (d->key_sorted, d->key, d->nkey * sizeof *d->key);
    s_sort_uniq (d->key_sorted, d->nkey);
    //  tags: keys sorted, names aligned
    d->tags = calloc (msg->n_tags + 1, sizeof *d->tags);
    d->tag_names = calloc (msg->n_tags + 1, sizeof *d->tag_names);
    assert (d->tags && d->tag_names);
    for (size_t i = 0; i < msg->n_tags; i++) {
        uint32_t key = s_tag_key (self, msg->tags [i]);
        if (key == UINT32_MAX || s_has_u32 (d->tags, d->ntags, key))
            continue;
        uint32_t at = d->ntags;
        while (at > 0 && d->tags [at - 1] > key) {
            d->tags [at] = d->tags [at - 1];
            d->tag_names [at] = d->tag_names [at - 1];
            at--;
        }
        d->tags [at] = key;
        d->tag_names [at] = s_strdup (msg->tags [i]);
        d->ntags++;
    }
    d->ind = s_strv (msg->industries, msg->n_industries);
    d->nind = msg->n_industries;
    d->reg = s_strv (msg->regions, msg->n_regions);
    d->nreg = msg->n_regions;
    d->stg = s_strv (msg->stages, msg->n_stages);
    d->nstg = msg->n_stages;
    d->col = s_strv (msg->collaboration, msg->n_collaboration);
    d->ncol = msg->n_collaboration;
    d->norm_gen = UINT64_MAX;
    d->entry_gen = UINT64_MAX;
    self->bytes += sizeof *d + d->nkey * 24 + d->nall * 4 + d->ntags * 24 + 128;
}

//  Posts an open demand into the reverse index (a new epoch makes older postings stale).
static void
s_demand_post (matcher_model_t *self, s_demand_t *d)
{
    d->epoch++;
    self->dstate [d->slot] = d->open? d->epoch: 0;
    if (!d->open)
        return;
    for (uint32_t i = 0; i < d->nkey + d->ntags; i++) {
        uint32_t id = i < d->nkey? d->key [i]: d->tags [i - d->nkey];
        s_term_t *term = &self->terms [id];
        term->dp = s_grow (term->dp, &term->dp_cap, term->dp_n + 1, sizeof (s_dpost_t));
        term->dp [term->dp_n++] = (s_dpost_t) { d->slot, d->epoch };
        self->bytes += sizeof (s_dpost_t);
    }
}

//  The teaser of a confidential demand: the same demand with no description, industries,
//  regions, stages or collaboration (what outsiders see), indexed for scoring only (never
//  posted for percolation).
static void
s_teaser_build (matcher_model_t *self, s_demand_t *d, const Oim__V1__Demand *msg)
{
    Oim__V1__Demand teaser = *msg;
    teaser.description = "";
    teaser.n_industries = teaser.n_regions = teaser.n_stages = teaser.n_collaboration = 0;
    s_demand_t *t = calloc (1, sizeof *t);
    assert (t);
    t->id = s_strdup (d->id);
    t->org_id = s_strdup (d->org_id);
    t->title = s_strdup (d->title);
    t->status = s_strdup (d->status);
    t->version = d->version;
    t->deleted = d->deleted;
    t->open = d->open;
    s_demand_index (self, t, &teaser);
    d->teaser = t;
}

int
matcher_model_apply_demand (matcher_model_t *self, const Oim__V1__Demand *msg)
{
    if (!msg->id || !*msg->id)
        return 0;
    s_demand_t *d = zhashx_lookup (self->demands, msg->id);
    if (d && msg->version <= d->version)
        return 0;
    if (!d) {
        d = calloc (1, sizeof *d);
        assert (d);
        d->id = s_strdup (msg->id);
        self->dslots = s_grow (self->dslots, &self->dslots_cap, self->ndslots + 1,
                               sizeof *self->dslots);
        d->slot = self->ndslots;
        self->dslots [self->ndslots++] = d;
        self->dstate = s_grow (self->dstate, &self->dstate_cap, self->ndslots,
                               sizeof (uint32_t));
        self->dstate [d->slot] = 0;
        self->dneed = s_grow (self->dneed, &self->dneed_cap, self->ndslots, sizeof (s_need_t));
        zhashx_insert (self->demands, msg->id, d);
    }
    if (d->open)
        self->open_demands--;
    s_demand_clear (d);
    d->version = msg->version;
    d->org_id = s_strdup (msg->org_id);
    d->owner = NULL;
    d->title = s_strdup (msg->title);
    d->status = s_strdup (msg->status);
    d->deleted = msg->deleted;
    d->open = !msg->deleted && streq (d->status, "open");
    d->confidential = streq (msg->visibility, "confidential");
    d->members = streq (msg->visibility, "members");
    if (d->open)
        self->open_demands++;
    s_demand_index (self, d, msg);
    if (d->confidential)
        s_teaser_build (self, d, msg);
    self->dneed [d->slot].gen = UINT64_MAX;     //  its entry score is unknown again
    s_demand_post (self, d);
    return 1;
}

int64_t
matcher_model_demand_version (matcher_model_t *self, const char *id)
{
    s_demand_t *d = zhashx_lookup (self->demands, id);
    return d? d->version: 0;
}

bool
matcher_model_demand_info (matcher_model_t *self, const char *id, const char **org_id,
                           const char **title, bool *open, bool *deleted)
{
    s_demand_t *d = zhashx_lookup (self->demands, id);
    if (!d)
        return false;
    if (org_id) *org_id = d->org_id;
    if (title) *title = d->title;
    if (open) *open = d->open;
    if (deleted) *deleted = d->deleted;
    return true;
}

bool
matcher_model_demand_visibility (matcher_model_t *self, const char *id, bool *confidential,
                                 bool *members)
{
    s_demand_t *d = zhashx_lookup (self->demands, id);
    if (!d)
        return false;
    if (confidential) *confidential = d->confidential;
    if (members) *members = d->members;
    return true;
}

void
matcher_model_org_demands (matcher_model_t *self, const char *org_id,
                           void (*fn) (const char *demand_id, void *arg), void *arg)
{
    for (uint32_t i = 0; i < self->ndslots; i++) {
        s_demand_t *d = self->dslots [i];
        if (d->open && streq (d->org_id, org_id))
            fn (d->id, arg);
    }
}

static bool s_distinctive (matcher_model_t *self, uint32_t term_id);

//  BM25max of a demand in units: over its distinctive key terms (cached per generation).
static int64_t
s_norm_units (matcher_model_t *self, s_demand_t *d)
{
    if (d->norm_gen != self->gen) {
        int64_t sum = 0;
        for (uint32_t i = 0; i < d->nkey; i++)
            if (s_distinctive (self, d->key [i])) {
                s_idf (self, d->key [i]);
                sum += self->terms [d->key [i]].norm_units;
            }
        d->norm_units = sum;
        d->norm_gen = self->gen;
    }
    return d->norm_units;
}

//  --------------------------------------------------------------------------------------
//  Scoring

static double
s_round4 (double value)
{
    return round (value * MATCHER_UNITS) / MATCHER_UNITS;
}

static void
s_append (char *detail, const char *text)
{
    size_t used = strlen (detail);
    if (used + strlen (text) + 1 < MATCHER_DETAIL_SIZE)
        strcat (detail, text);
}

static int
s_stage_rank (const char *stage)
{
    for (int i = 0; s_stages [i]; i++)
        if (streq (s_stages [i], stage))
            return i;
    return -1;
}

//  Industry value for one pair of KSIC codes: section letter + optional 2-digit division.
static double
s_industry_pair (const char *demand, const char *startup)
{
    if (!*demand || !*startup)
        return 0;
    size_t dl = strlen (demand);
    if (strncmp (startup, demand, dl) == 0)
        return 1.0;                 //  same code, or the startup inside the demand's section
    if (toupper ((unsigned char) demand [0]) == toupper ((unsigned char) startup [0]))
        return 0.5;
    return 0;
}

static bool
s_region_fits (const char *wanted, const char *region)
{
    if (streq (wanted, region))
        return true;
    size_t n = strlen (wanted);     //  a country ("KR") covers its subdivisions ("KR-11")
    return n == 2 && strncmp (region, wanted, 2) == 0 && region [2] == '-';
}

//  True when a term is distinctive: carried by at most max(50, N/100) startups. Only
//  distinctive terms count for the text factor (a corpus-learnt stopword list: "develop",
//  "system", "data" say little about fit), which also makes them the only terms whose
//  postings the index paths need to walk.
static bool
s_distinctive (matcher_model_t *self, uint32_t term_id)
{
    uint32_t limit = self->live_docs / 100;
    return self->terms [term_id].df <= (limit > 50? limit: 50);
}

//  Scores a demand against a live startup doc. text_units >= 0: the text sum the index paths
//  accumulated from postings (exact); < 0: compute it here from the pair alone.
_Static_assert (MATCHER_MAX_KEY_TERMS <= 64, "s_score keeps one bit per key term");

static void
s_score (matcher_model_t *self, s_demand_t *d, s_org_t *org, s_doc_t *doc, int64_t text_units,
         bool detail, matcher_score_t *out)
{
    out->units = 0;
    out->excluded = out->relevant = out->qualifies = false;
    out->reason = NULL;
    for (int f = 0; f < MATCHER_FACTORS; f++) {
        out->factors [f].value = 0;
        out->factors [f].units = 0;
        out->factors [f].detail [0] = 0;
    }
    //  factors the demand does not constrain (no industry, nationwide, any stage) are not
    //  applicable: weight 0, the other weights scaled up to sum 1
    const double *w = self->config.weight;
    (void) w;
    const double *eff = d->eff;
    for (int f = 0; f < MATCHER_FACTORS; f++)
        out->factors [f].weight = eff [f];
    if (!s_org_eligible (org) || !doc)
        out->reason = !org? "unknown startup":
                      org->deleted? "startup deleted":
                      !streq (org->kind, "startup")? "not a startup": "startup not active";
    else
    if (!d->open)
        out->reason = d->deleted? "demand deleted": "demand not open";
    else {
        if (!d->owner)
            d->owner = zhashx_lookup (self->orgs, d->org_id);
        if (d->owner? d->owner == org: streq (d->org_id, org->id))
            out->reason = "the demand's own organization";
        else
        if (d->owner && !d->owner->active)
            out->reason = "demand owner not active";
    }
    if (out->reason) {
        out->excluded = true;
        return;
    }
    double value [MATCHER_FACTORS] = { 0 };
    matcher_factor_score_t *fs = out->factors;

    //  text; the key terms the doc shares (distinctive ones) are looked up once, for the sum
    //  and for the detail (nkey <= MATCHER_MAX_KEY_TERMS <= 64: one bit each)
    uint64_t shared = 0;
    if (text_units < 0 || detail) {
        int64_t sum = 0;
        for (uint32_t i = 0; i < d->nkey; i++) {
            if (!s_distinctive (self, d->key [i]))
                continue;
            int64_t at = s_find_u32 (doc->terms, doc->nterms, d->key [i]);
            if (at >= 0) {
                shared |= 1ULL << i;
                if (text_units < 0)
                    sum += s_weight_units (self, d->key [i], doc->tfs [at], doc->len);
            }
        }
        if (text_units < 0)
            text_units = sum;
    }
    out->relevant = text_units > 0;
    int64_t norm = s_norm_units (self, d);
    if (text_units > 0 && norm > 0) {
        value [MATCHER_TEXT] = sqrt ((double) text_units / (double) norm);
        if (value [MATCHER_TEXT] > 1)
            value [MATCHER_TEXT] = 1;
    }
    if (detail) {
        char *dt = fs [MATCHER_TEXT].detail;
        int shown = 0;
        for (int pass = 0; pass < 2 && !shown; pass++)
            for (uint32_t i = 0; i < d->nkey && shown < 12; i++) {
                const char *word = d->key_words [i];
                if (!(shared >> i & 1) || (word [0] == '\x02') != (pass == 1))
                    continue;
                s_append (dt, shown++? ", ": "shared terms: ");
                s_append (dt, word + (pass == 1));
            }
        if (!shown)
            s_append (dt, "no shared terms");
    }

    //  tags
    double num = 0, den = 0;
    char *dg = fs [MATCHER_TAGS].detail;
    int shown = 0;
    if (d->ntags) {
        for (uint32_t i = 0; i < d->ntags; i++) {
            double idf = s_idf (self, d->tags [i]);
            den += idf;
            if (s_has_u32 (doc->tags, doc->ntags, d->tags [i])) {
                num += idf;
                out->relevant = true;
                if (detail) {
                    s_append (dg, shown++? ", ": "shared tags: ");
                    s_append (dg, d->tag_names [i]);
                }
            }
        }
    }
    if (den > 0 && num > 0)
        value [MATCHER_TAGS] = num / den;
    if (detail && !shown)
        s_append (dg, d->ntags? "no shared tags": "demand has no tags (not counted)");

    //  industry
    char *di = fs [MATCHER_INDUSTRY].detail;
    if (d->nind == 0) {
        if (detail) s_append (di, "demand names no industry (not counted)");
    }
    else {
        const char *dbest = NULL, *sbest = NULL;
        for (size_t i = 0; i < d->nind; i++)
            for (size_t j = 0; j < doc->nind; j++) {
                double v = s_industry_pair (d->ind [i], doc->ind [j]);
                if (v > value [MATCHER_INDUSTRY]) {
                    value [MATCHER_INDUSTRY] = v;
                    dbest = d->ind [i];
                    sbest = doc->ind [j];
                }
            }
        if (detail) {
            if (!dbest)
                s_append (di, "no industry in common");
            else {
                char line [128];
                snprintf (line, sizeof line, "%s %s (demand) / %s (startup)",
                          value [MATCHER_INDUSTRY] == 1? "same KSIC division:": "same KSIC section:",
                          dbest, sbest);
                s_append (di, line);
            }
        }
    }

    //  region
    char *dr = fs [MATCHER_REGION].detail;
    if (d->nreg == 0) {
        if (detail) s_append (dr, "nationwide (not counted)");
    }
    else {
        for (size_t i = 0; i < d->nreg && value [MATCHER_REGION] == 0; i++)
            if (*doc->region && s_region_fits (d->reg [i], doc->region))
                value [MATCHER_REGION] = 1;
        if (detail) {
            s_append (dr, value [MATCHER_REGION] == 1? "in the demand's regions: ":
                                                      "outside the demand's regions: ");
            s_append (dr, *doc->region? doc->region: "(startup region unknown)");
        }
    }

    //  stage
    char *ds = fs [MATCHER_STAGE].detail;
    if (d->nstg == 0) {
        if (detail) s_append (ds, "any stage (not counted)");
    }
    else {
        int rank = s_stage_rank (doc->stage);
        for (size_t i = 0; i < d->nstg; i++) {
            int want = s_stage_rank (d->stg [i]);
            if (rank >= 0 && want == rank)
                value [MATCHER_STAGE] = 1;
            else
            if (rank >= 0 && want >= 0 && abs (want - rank) == 1 && value [MATCHER_STAGE] < 0.5)
                value [MATCHER_STAGE] = 0.5;
        }
        if (detail) {
            s_append (ds, value [MATCHER_STAGE] == 1? "acceptable stage: ":
                          value [MATCHER_STAGE] > 0? "adjacent to an acceptable stage: ":
                                                     "not an acceptable stage: ");
            s_append (ds, *doc->stage? doc->stage: "(unknown)");
        }
    }

    for (int f = 0; f < MATCHER_FACTORS; f++) {
        fs [f].value = s_round4 (value [f]);
        fs [f].units = llround (eff [f] * fs [f].value * MATCHER_UNITS);
        out->units += fs [f].units;
    }
    out->qualifies = out->relevant && out->units >= self->config.min_units;
}

int
matcher_model_score (matcher_model_t *self, const char *demand_id, const char *startup_id,
                     matcher_score_t *score)
{
    s_demand_t *d = zhashx_lookup (self->demands, demand_id);
    s_org_t *org = zhashx_lookup (self->orgs, startup_id);
    if (!d || !org) {
        memset (score, 0, sizeof *score);
        score->excluded = true;
        score->reason = !d? "unknown demand": "unknown startup";
        return -1;
    }
    s_doc_t *doc = org->doc >= 0? &self->docs [org->doc]: NULL;
    s_score (self, d, org, doc, -1, true, score);
    return 0;
}

int
matcher_model_score_teaser (matcher_model_t *self, const char *demand_id,
                            const char *startup_id, matcher_score_t *score)
{
    s_demand_t *d = zhashx_lookup (self->demands, demand_id);
    s_org_t *org = zhashx_lookup (self->orgs, startup_id);
    memset (score, 0, sizeof *score);
    if (!d || !d->teaser || !org) {
        score->excluded = true;
        score->reason = !d? "unknown demand": !org? "unknown startup": "not confidential";
        return -1;
    }
    s_doc_t *doc = org->doc >= 0? &self->docs [org->doc]: NULL;
    s_score (self, d->teaser, org, doc, -1, true, score);
    static const int hidden [] = { MATCHER_INDUSTRY, MATCHER_REGION, MATCHER_STAGE };
    for (size_t i = 0; i < sizeof hidden / sizeof hidden [0]; i++)
        snprintf (score->factors [hidden [i]].detail, MATCHER_DETAIL_SIZE, "%s",
                  "confidential demand: shown once connected (not counted)");
    return 0;
}

//  Inserts (units, id) into a best-first list of at most k; docs, when not NULL, is kept
//  aligned with hits (doc goes with the hit).
static void
s_top_insert (matcher_hit_t *hits, s_doc_t **docs, size_t *count, size_t k, const char *id,
              int64_t units, s_doc_t *doc)
{
    size_t at = *count;
    while (at > 0 && (hits [at - 1].units < units
                      || (hits [at - 1].units == units && strcmp (hits [at - 1].id, id) > 0)))
        at--;
    if (at >= k)
        return;
    size_t end = *count < k? *count: k - 1;
    memmove (hits + at + 1, hits + at, (end - at) * sizeof *hits);
    hits [at] = (matcher_hit_t) { id, units };
    if (docs) {
        memmove (docs + at + 1, docs + at, (end - at) * sizeof *docs);
        docs [at] = doc;
    }
    if (*count < k)
        (*count)++;
}

//  Demand -> startups. Candidates come from the postings of the demand's distinctive key
//  terms (which give each candidate its exact text sum) and of its tags (a pair sharing
//  neither is not relevant). Candidates are ordered by an upper bound of their score (text
//  exact, tags 1 if they carry a demand tag, the other applicable factors 1) and scored
//  exactly until the bound falls below max(min score, the K-th score so far).
//  Upper bound of a candidate's score in units: text from its bounded sum, tags only when it
//  carries one of the demand's tags, the other applicable factors at 1.
static double
s_bound_units (matcher_model_t *self, s_demand_t *d, int64_t text_bound, bool tag_hit)
{
    int64_t norm = s_norm_units (self, d);
    double text = norm > 0 && text_bound > 0? sqrt ((double) text_bound / (double) norm): 0;
    if (text > 1)
        text = 1;
    double ub = d->eff [MATCHER_TEXT] * text + (tag_hit? d->eff [MATCHER_TAGS]: 0)
              + d->eff [MATCHER_INDUSTRY] + d->eff [MATCHER_REGION] + d->eff [MATCHER_STAGE];
    return ub * MATCHER_UNITS + 2;      //  + 2 units: rounding of the exact factors
}

//  The smallest text sum whose bound (with or without a shared tag) reaches target units,
//  INT64_MAX when none does: the bound is non-decreasing in the text sum and reaches its
//  maximum at BM25max (text value 1), so a binary search over [0, BM25max] finds it.
static int64_t
s_text_needed (matcher_model_t *self, s_demand_t *d, bool tag, int64_t target)
{
    int64_t norm = s_norm_units (self, d);
    int64_t lo = 0, hi = norm > 0? norm: 0;
    if (s_bound_units (self, d, hi, tag) < target)
        return INT64_MAX;
    while (lo < hi) {               //  smallest t in [lo, hi] with bound (t) >= target
        int64_t mid = lo + (hi - lo) / 2;
        if (s_bound_units (self, d, mid, tag) >= target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

//  Records a demand's entry score from its top K just computed at the current generation:
//  the K-th score, or the minimum score while fewer than K qualify. A startup that does not
//  reach it cannot be in the top K at this corpus state (ties are let through).
static void
s_entry_set (matcher_model_t *self, s_demand_t *d, const matcher_hit_t *hits, size_t count)
{
    size_t k = self->config.top_k;
    d->entry_units = k > 0 && count >= k? hits [k - 1].units: self->config.min_units;
    if (d->entry_units < self->config.min_units)
        d->entry_units = self->config.min_units;
    d->entry_gen = self->gen;
    //  the text sums needed: percolation skips a demand whose sum is below them, and that is
    //  exactly the demands whose bound is below the entry score
    s_need_t *need = &self->dneed [d->slot];
    for (int tag = 0; tag < 2; tag++)
        need->need [tag] = s_text_needed (self, d, tag, d->entry_units);
    need->gen = self->gen;
}

//  The score a startup must reach to enter the demand's top K, as far as the model knows
//  it now: the recorded entry score while valid, else the minimum score.
static int64_t
s_entry_units (matcher_model_t *self, s_demand_t *d)
{
    return d->entry_gen == self->gen? d->entry_units: self->config.min_units;
}

#define BUCKETS 1024

//  s_top by scoring every live startup (the brute force); docs may be NULL.
static int
s_top_scan (matcher_model_t *self, s_demand_t *d, matcher_hit_t *hits, s_doc_t **docs)
{
    size_t count = 0;
    matcher_score_t score;
    for (uint32_t slot = 0; slot < self->ndocs; slot++) {
        s_doc_t *doc = &self->docs [slot];
        if (!doc->live)
            continue;
        s_score (self, d, doc->org, doc, -1, false, &score);
        if (score.qualifies)
            s_top_insert (hits, docs, &count, self->config.top_k, doc->id, score.units, doc);
    }
    s_entry_set (self, d, hits, count);
    return (int) count;
}

//  matcher_model_top of demand d; docs (capacity top K) gets each hit's startup doc.
static int
s_top (matcher_model_t *self, s_demand_t *d, matcher_hit_t *hits, s_doc_t **docs)
{
    s_scratch (self, self->ndocs + 1);
    size_t ntouched = 0;
    for (uint32_t i = 0; i < d->nkey + d->ntags; i++) {
        bool is_tag = i >= d->nkey;
        uint32_t term_id = is_tag? d->tags [i - d->nkey]: d->key [i];
        s_term_t *term = &self->terms [term_id];
        if (!is_tag && !s_distinctive (self, term_id))
            continue;
        //  the BM25 weight, inlined: idf once per term, the dense length array per posting
        double idf = s_idf (self, term_id);
        double avg = self->live_docs? (double) self->total_len / self->live_docs: 1.0;
        double kb = BM25_K1 * BM25_B / (avg > 0? avg: 1.0), ka = BM25_K1 * (1 - BM25_B);
        for (uint32_t p = 0; p < term->sp_n; p++) {
            uint32_t doc_slot = term->sp [p].doc;
            uint32_t len = self->doc_len [doc_slot];
            if (!len)
                continue;
            if (!is_tag) {
                double tf = term->sp [p].tf;
                self->acc [doc_slot] += s_round_units (idf * (tf * (BM25_K1 + 1)
                                                              / (tf + ka + kb * len)) * W_SCALE);
            }
            if (!self->mark [doc_slot])
                self->touched [ntouched++] = doc_slot;
            self->mark [doc_slot] |= is_tag? 2: 1;
        }
    }
    //  order the candidates by their bound (bucketed), best first, and score them exactly
    //  until the bound falls below what the top K already holds
    uint32_t *counts = calloc (BUCKETS + 1, sizeof *counts);
    uint32_t *order = malloc ((ntouched + 1) * sizeof *order);
    uint16_t *bucket = malloc ((ntouched + 1) * sizeof *bucket);
    double *bound = malloc ((ntouched + 1) * sizeof *bound);
    int64_t *text = malloc ((ntouched + 1) * sizeof *text);
    assert (counts && order && bucket && bound && text);
    //  a candidate whose text sum is below what the minimum score needs has a bound below
    //  every floor: it would never be scored, so it is dropped before its bound is computed
    //  (most candidates share one common term with the demand)
    int64_t needed [2] = { s_text_needed (self, d, false, self->config.min_units),
                           s_text_needed (self, d, true, self->config.min_units) };
    size_t kept = 0;
    for (size_t i = 0; i < ntouched; i++) {
        uint32_t slot = self->touched [i];
        int64_t sum = self->acc [slot];
        bool tag = self->mark [slot] & 2;
        self->acc [slot] = 0;
        self->mark [slot] = 0;
        if (sum < needed [tag])
            continue;
        self->touched [kept] = slot;
        text [kept] = sum;
        bound [kept] = s_bound_units (self, d, sum, tag);
        int b = (int) (bound [kept] * BUCKETS / (MATCHER_UNITS + 3));
        bucket [kept] = (uint16_t) (b < 0? 0: b >= BUCKETS? BUCKETS - 1: b);
        counts [BUCKETS - 1 - bucket [kept++]]++;
    }
    ntouched = kept;
    for (int b = 1; b < BUCKETS; b++)
        counts [b] += counts [b - 1];
    for (size_t i = ntouched; i-- > 0; )
        order [--counts [BUCKETS - 1 - bucket [i]]] = (uint32_t) i;
    size_t count = 0, k = self->config.top_k;
    matcher_score_t score;
    for (size_t j = 0; j < ntouched; j++) {
        size_t i = order [j];
        int64_t floor = count == k? hits [k - 1].units: self->config.min_units;
        if (floor < self->config.min_units)
            floor = self->config.min_units;
        if (bound [i] < floor) {
            //  buckets are coarse: skip this one, stop once a whole bucket is below
            if ((bucket [i] + 1.0) * (MATCHER_UNITS + 3) / BUCKETS < floor)
                break;
            continue;
        }
        s_doc_t *doc = &self->docs [self->touched [i]];
        s_score (self, d, doc->org, doc, text [i], false, &score);
        if (score.qualifies)
            s_top_insert (hits, docs, &count, k, doc->id, score.units, doc);
    }
    free (counts); free (order); free (bucket); free (bound); free (text);
    s_entry_set (self, d, hits, count);
    return (int) count;
}

int
matcher_model_top (matcher_model_t *self, const char *demand_id, matcher_hit_t *hits)
{
    return matcher_model_top_scores (self, demand_id, hits, NULL, NULL);
}

int
matcher_model_top_scores (matcher_model_t *self, const char *demand_id, matcher_hit_t *hits,
                          matcher_score_t *scores, const char **names)
{
    s_demand_t *d = zhashx_lookup (self->demands, demand_id);
    if (!d || !d->open)
        return 0;
    s_doc_t **docs = calloc (self->config.top_k + 1, sizeof *docs);
    assert (docs);
    int count = self->config.scan? s_top_scan (self, d, hits, docs): s_top (self, d, hits, docs);
    //  what matcher_model_score gives for each, without looking the pair up again
    for (int i = 0; i < count; i++) {
        if (scores)
            s_score (self, d, docs [i]->org, docs [i], -1, true, &scores [i]);
        if (names)
            names [i] = docs [i]->org->name;
    }
    free (docs);
    return count;
}

int
matcher_model_top_scan (matcher_model_t *self, const char *demand_id, matcher_hit_t *hits)
{
    s_demand_t *d = zhashx_lookup (self->demands, demand_id);
    return d && d->open? s_top_scan (self, d, hits, NULL): 0;
}

static int
s_hit_cmp (const void *a, const void *b)
{
    const matcher_hit_t *x = a, *y = b;
    if (x->units != y->units)
        return x->units > y->units? -1: 1;
    return strcmp (x->id, y->id);
}

void
matcher_hits_sort (matcher_hit_t *hits, size_t count)
{
    qsort (hits, count, sizeof *hits, s_hit_cmp);
}

//  Copies up to capacity hits (in no particular order: callers that need one sort) and
//  frees all.
static int
s_collect_hits (matcher_hit_t *all, size_t count, matcher_hit_t *hits, size_t capacity)
{
    memcpy (hits, all, (count < capacity? count: capacity) * sizeof *hits);
    free (all);
    return (int) count;
}

//  Startup -> demands. Candidates come from the reverse index: the open demands whose key
//  terms include one of the startup's distinctive terms, or whose tags include one of its
//  tags. The startup's BM25 weight for a term is the same for every demand, so walking the
//  postings accumulates each candidate's exact text sum; a candidate is scored fully only
//  when its upper bound (as in matcher_model_top) reaches the minimum score.
static int
s_percolate (matcher_model_t *self, const char *startup_id, matcher_hit_t *hits,
             size_t capacity, bool entering)
{
    s_org_t *org = zhashx_lookup (self->orgs, startup_id);
    if (!org || org->doc < 0)
        return 0;
    s_doc_t *doc = &self->docs [org->doc];
    s_scratch (self, self->ndslots + 1);
    size_t ntouched = 0;
    for (uint32_t i = 0; i < doc->nterms + doc->ntags; i++) {
        bool is_tag = i >= doc->nterms;
        uint32_t term_id = is_tag? doc->tags [i - doc->nterms]: doc->terms [i];
        s_term_t *term = &self->terms [term_id];
        if (!is_tag && !s_distinctive (self, term_id))
            continue;
        int64_t weight = is_tag? 0: s_weight_units (self, term_id, doc->tfs [i], doc->len);
        for (uint32_t p = 0; p < term->dp_n; p++) {
            uint32_t slot = term->dp [p].slot;
            if (self->dstate [slot] != term->dp [p].epoch)
                continue;           //  a stale posting, or the demand is not open
            self->acc [slot] += weight;
            if (!self->mark [slot])
                self->touched [ntouched++] = slot;
            self->mark [slot] |= is_tag? 2: 1;
        }
    }
    matcher_hit_t *all = malloc ((ntouched + 1) * sizeof *all);
    assert (all);
    size_t count = 0;
    matcher_score_t score;
    for (size_t i = 0; i < ntouched; i++) {
        uint32_t slot = self->touched [i];
        int64_t text = self->acc [slot];
        bool tag_hit = self->mark [slot] & 2;
        self->acc [slot] = 0;
        self->mark [slot] = 0;
        if (entering && self->dneed [slot].gen == self->gen
        &&  text < self->dneed [slot].need [tag_hit])
            continue;               //  its bound is below its entry score (dense check)
        s_demand_t *d = self->dslots [slot];
        double bound = s_bound_units (self, d, text, tag_hit);
        int64_t floor = entering? s_entry_units (self, d): self->config.min_units;
        if (bound < floor)
            continue;               //  bound >= score: it cannot qualify, or cannot enter
        s_score (self, d, org, doc, text, false, &score);
        if (score.qualifies && score.units >= floor)
            all [count++] = (matcher_hit_t) { d->id, score.units };
    }
    return s_collect_hits (all, count, hits, capacity);
}

static int s_percolate_scan (matcher_model_t *self, const char *startup_id, matcher_hit_t *hits,
                             size_t capacity, bool entering);

int
matcher_model_percolate (matcher_model_t *self, const char *startup_id, matcher_hit_t *hits,
                         size_t capacity)
{
    return self->config.scan? s_percolate_scan (self, startup_id, hits, capacity, false)
                            : s_percolate (self, startup_id, hits, capacity, false);
}

int
matcher_model_percolate_entering (matcher_model_t *self, const char *startup_id,
                                  matcher_hit_t *hits, size_t capacity)
{
    return self->config.scan? s_percolate_scan (self, startup_id, hits, capacity, true)
                            : s_percolate (self, startup_id, hits, capacity, true);
}

static int
s_percolate_scan (matcher_model_t *self, const char *startup_id, matcher_hit_t *hits,
                  size_t capacity, bool entering)
{
    s_org_t *org = zhashx_lookup (self->orgs, startup_id);
    if (!org || org->doc < 0)
        return 0;
    s_doc_t *doc = &self->docs [org->doc];
    matcher_hit_t *all = malloc ((self->ndslots + 1) * sizeof *all);
    assert (all);
    size_t count = 0;
    matcher_score_t score;
    for (uint32_t slot = 0; slot < self->ndslots; slot++) {
        s_demand_t *d = self->dslots [slot];
        if (!d->open)
            continue;
        s_score (self, d, org, doc, -1, false, &score);
        if (score.qualifies
        &&  (!entering || score.units >= s_entry_units (self, d)))
            all [count++] = (matcher_hit_t) { d->id, score.units };
    }
    return s_collect_hits (all, count, hits, capacity);
}

int
matcher_model_percolate_scan (matcher_model_t *self, const char *startup_id,
                              matcher_hit_t *hits, size_t capacity)
{
    return s_percolate_scan (self, startup_id, hits, capacity, false);
}

int
matcher_model_percolate_entering_scan (matcher_model_t *self, const char *startup_id,
                                       matcher_hit_t *hits, size_t capacity)
{
    return s_percolate_scan (self, startup_id, hits, capacity, true);
}

//  --------------------------------------------------------------------------------------
//  Saved searches

int
matcher_model_apply_saved_search (matcher_model_t *self, const Oim__V1__SavedSearch *msg)
{
    if (!msg->id || !*msg->id)
        return 0;
    s_ss_t *ss = zhashx_lookup (self->sss, msg->id);
    if (ss && msg->version <= ss->version)
        return 0;
    if (!ss) {
        ss = calloc (1, sizeof *ss);
        assert (ss);
        ss->id = s_strdup (msg->id);
        self->sslots = s_grow (self->sslots, &self->sslots_cap, self->nsslots + 1,
                               sizeof *self->sslots);
        ss->slot = self->nsslots;
        self->sslots [self->nsslots++] = ss;
        zhashx_insert (self->sss, msg->id, ss);
    }
    if (ss->live)
        self->live_ss--;
    s_ss_clear (ss);
    ss->version = msg->version;
    ss->org_id = s_strdup (msg->org_id);
    ss->type = s_strdup (msg->type);
    ss->since = s_strdup (msg->updated_at);
    ss->deleted = msg->deleted;
    ss->live = !msg->deleted;
    ss->epoch++;
    if (!ss->live)
        return 1;
    self->live_ss++;
    //  q: one entry per word position
    size_t count = s_analyze (self, msg->q);
    ss->words = calloc (count + 1, sizeof *ss->words);
    assert (ss->words);
    uint32_t last_pos = UINT32_MAX;
    for (size_t i = 0; i < count; i++) {
        const oim_token_t *token = s_token (self, i);
        if (token->pos != last_pos) {
            last_pos = token->pos;
            ss->nwords++;
        }
        s_qword_t *word = &ss->words [ss->nwords - 1];
        uint32_t term = s_term (self, token->term);
        if (token->kind == OIM_TOKEN_BIGRAM) {
            word->all = realloc (word->all, (word->nall + 1) * sizeof *word->all);
            word->all [word->nall++] = term;
        }
        else {
            word->any = realloc (word->any, (word->nany + 1) * sizeof *word->any);
            word->any [word->nany++] = term;
        }
    }
    ss->ind = s_strv (msg->industry, msg->n_industry); ss->nind = msg->n_industry;
    ss->reg = s_strv (msg->region, msg->n_region); ss->nreg = msg->n_region;
    ss->stg = s_strv (msg->stage, msg->n_stage); ss->nstg = msg->n_stage;
    ss->col = s_strv (msg->collaboration, msg->n_collaboration);
    ss->ncol = msg->n_collaboration;
    ss->tag = calloc (msg->n_tag + 1, sizeof *ss->tag);
    assert (ss->tag);
    for (size_t i = 0; i < msg->n_tag; i++) {
        uint32_t key = s_tag_key (self, msg->tag [i]);
        if (key != UINT32_MAX)
            ss->tag [ss->ntag++] = key;
    }
    //  anchors: the first word's terms (and its first bigram); none = checked always (the
    //  anchor list of the reserved empty term "")
    uint32_t anchors [64];
    size_t nanchors = 0;
    if (ss->nwords) {
        for (uint32_t i = 0; i < ss->words [0].nany && nanchors < 63; i++)
            anchors [nanchors++] = ss->words [0].any [i];
        if (ss->words [0].nall)
            anchors [nanchors++] = ss->words [0].all [0];
    }
    else
        anchors [nanchors++] = s_term (self, "");
    for (size_t i = 0; i < nanchors; i++) {
        s_term_t *term = &self->terms [anchors [i]];
        term->qp = s_grow (term->qp, &term->qp_cap, term->qp_n + 1, sizeof (s_dpost_t));
        term->qp [term->qp_n++] = (s_dpost_t) { ss->slot, ss->epoch };
    }
    return 1;
}

const char *
matcher_model_saved_owner (matcher_model_t *self, const char *ss_id)
{
    s_ss_t *ss = zhashx_lookup (self->sss, ss_id);
    return ss? ss->org_id: NULL;
}

static bool
s_filter_any (char *const *wanted, size_t nwanted, char *const *have, size_t nhave,
              bool empty_matches, bool (*fits) (const char *, const char *))
{
    if (nwanted == 0)
        return true;
    if (nhave == 0)
        return empty_matches;
    for (size_t i = 0; i < nwanted; i++)
        for (size_t j = 0; j < nhave; j++)
            if (fits (wanted [i], have [j]))
                return true;
    return false;
}

static bool
s_fits_eq (const char *wanted, const char *have)
{
    return streq (wanted, have);
}

static bool
s_fits_industry (const char *wanted, const char *have)
{
    return strncmp (have, wanted, strlen (wanted)) == 0;
}

static bool
s_ss_matches (s_ss_t *ss, const uint32_t *terms, uint32_t nterms, const uint32_t *tags,
              uint32_t ntags, char *const *ind, size_t nind, char *const *reg, size_t nreg,
              bool reg_empty_all, char *const *stg, size_t nstg, bool stg_empty_all,
              char *const *col, size_t ncol)
{
    for (size_t w = 0; w < ss->nwords; w++) {
        s_qword_t *word = &ss->words [w];
        bool ok = false;
        for (uint32_t i = 0; i < word->nany && !ok; i++)
            ok = s_has_u32 (terms, nterms, word->any [i]);
        if (!ok && word->nall) {
            ok = true;
            for (uint32_t i = 0; i < word->nall && ok; i++)
                ok = s_has_u32 (terms, nterms, word->all [i]);
        }
        if (!ok)
            return false;
    }
    if (ss->ntag) {
        bool ok = false;
        for (size_t i = 0; i < ss->ntag && !ok; i++)
            ok = s_has_u32 (tags, ntags, ss->tag [i]);
        if (!ok)
            return false;
    }
    return s_filter_any (ss->ind, ss->nind, ind, nind, false, s_fits_industry)
        && s_filter_any (ss->reg, ss->nreg, reg, nreg, reg_empty_all, s_region_fits)
        && s_filter_any (ss->stg, ss->nstg, stg, nstg, stg_empty_all, s_fits_eq)
        && s_filter_any (ss->col, ss->ncol, col, ncol, false, s_fits_eq);
}

//  How a saved search's owner sees demand d: 0 not at all (members-only, and the owner not
//  an active organization), 1 its teaser (confidential, and the owner neither the demand's
//  nor the agency), 2 in full.
static int
s_ss_view (matcher_model_t *self, const s_ss_t *ss, const s_demand_t *d)
{
    if (!d->confidential && !d->members)
        return 2;
    s_org_t *owner = zhashx_lookup (self->orgs, ss->org_id);
    bool member = owner && owner->active;
    if (d->members)
        return member? 2: 0;
    return member && (streq (owner->kind, "agency") || streq (ss->org_id, d->org_id))? 2: 1;
}

//  True when saved search ss hits open demand d as its owner may see d: a teaser matches on
//  its title and tags, and a filter on a field it hides (industry, region, stage,
//  collaboration) never matches it.
static bool
s_ss_hits_demand (matcher_model_t *self, s_ss_t *ss, s_demand_t *d)
{
    int view = s_ss_view (self, ss, d);
    const s_demand_t *t = view == 1? d->teaser: d;
    return view && t
        && s_ss_matches (ss, t->all, t->nall, t->tags, t->ntags, t->ind, t->nind, t->reg,
                         t->nreg, view == 2, t->stg, t->nstg, view == 2, t->col, t->ncol);
}

static int
s_cmp_str (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

int
matcher_model_saved_hits (matcher_model_t *self, const char *entity_id, const char *changed_at,
                          const char **ids, size_t capacity)
{

    const uint32_t *terms = NULL, *tags = NULL;
    uint32_t nterms = 0, ntags = 0;
    const char *type;
    s_doc_t *doc = NULL;
    s_demand_t *d = NULL;
    s_org_t *org = zhashx_lookup (self->orgs, entity_id);
    if (org && org->doc >= 0) {
        doc = &self->docs [org->doc];
        terms = doc->terms; nterms = doc->nterms;
        tags = doc->tags; ntags = doc->ntags;
        type = "startup";
    }
    else
    if ((d = zhashx_lookup (self->demands, entity_id)) && d->open) {
        terms = d->all; nterms = d->nall;
        tags = d->tags; ntags = d->ntags;
        type = "demand";
    }
    else
        return 0;
    s_scratch (self, self->nsslots + 1);
    size_t ntouched = 0;
    uint32_t empty = s_term (self, "");
    for (uint32_t i = 0; i <= nterms; i++) {
        s_term_t *term = &self->terms [i < nterms? terms [i]: empty];
        for (uint32_t p = 0; p < term->qp_n; p++) {
            uint32_t slot = term->qp [p].slot;
            s_ss_t *ss = self->sslots [slot];
            if (ss->epoch != term->qp [p].epoch || !ss->live || self->mark [slot])
                continue;
            self->mark [slot] = 1;
            self->touched [ntouched++] = slot;
        }
    }
    const char **all = malloc ((ntouched + 1) * sizeof *all);
    assert (all);
    size_t count = 0;
    for (size_t i = 0; i < ntouched; i++) {
        s_ss_t *ss = self->sslots [self->touched [i]];
        self->mark [self->touched [i]] = 0;
        if (!streq (ss->type, type) || streq (ss->org_id, entity_id)
        ||  (changed_at && strcmp (ss->since, changed_at) > 0))
            continue;
        bool hit = doc?
            s_ss_matches (ss, terms, nterms, tags, ntags, doc->ind, doc->nind,
                          &doc->region, *doc->region? 1: 0, false, &doc->stage,
                          *doc->stage? 1: 0, false, NULL, 0):
            s_ss_hits_demand (self, ss, d);
        if (hit)
            all [count++] = ss->id;
    }
    qsort (all, count, sizeof *all, s_cmp_str);
    memcpy (ids, all, (count < capacity? count: capacity) * sizeof *ids);
    free (all);
    return (int) count;
}

void
matcher_model_stats (matcher_model_t *self, matcher_model_stats_t *stats)
{
    stats->startups = self->live_docs;
    stats->demands_open = self->open_demands;
    stats->saved_searches = self->live_ss;
    stats->terms = self->nterms;
    stats->bytes = self->bytes + self->scratch_cap * (sizeof (int64_t) + 1 + 4)
                 + self->terms_cap * sizeof (s_term_t) + self->docs_cap * sizeof (s_doc_t);
}
