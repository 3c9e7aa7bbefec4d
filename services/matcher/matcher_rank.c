/*  matcher_rank — ranking over the indexes: a demand's top K startups (postings of its key
    terms and tags, candidates ordered by a score bound), a startup's qualifying open demands
    (percolation over the reverse index, plain or only those it can enter), entry scores, and
    the brute-force scans the indexed paths must equal.
*/
#include "matcher_internal.h"

//  Inserts (units, id) into a best-first list of at most k; docs, when not NULL, is kept
//  aligned with hits (doc goes with the hit).
static void
s_top_insert (matcher_hit_t *hits, matcher_doc_t **docs, size_t *count, size_t k, const char *id,
              int64_t units, matcher_doc_t *doc)
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
s_bound_units (matcher_model_t *self, matcher_demand_t *d, int64_t text_bound, double tags)
{
    int64_t norm = matcher_norm_units (self, d);
    double text = norm > 0 && text_bound > 0? sqrt ((double) text_bound / (double) norm): 0;
    if (text > 1)
        text = 1;
    double ub = d->eff [MATCHER_TEXT] * text + d->eff [MATCHER_TAGS] * tags
              + d->eff [MATCHER_INDUSTRY] + d->eff [MATCHER_REGION] + d->eff [MATCHER_STAGE];
    return ub * MATCHER_UNITS + 2;      //  + 2 units: rounding of the exact factors
}

//  The smallest text sum whose bound (with or without a shared tag) reaches target units,
//  INT64_MAX when none does: the bound is non-decreasing in the text sum and reaches its
//  maximum at BM25max (text value 1), so a binary search over [0, BM25max] finds it.
static int64_t
s_text_needed (matcher_model_t *self, matcher_demand_t *d, bool tag, int64_t target)
{
    int64_t norm = matcher_norm_units (self, d);
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
s_entry_set (matcher_model_t *self, matcher_demand_t *d, const matcher_hit_t *hits, size_t count)
{
    size_t k = self->config.top_k;
    d->entry_units = k > 0 && count >= k? hits [k - 1].units: 0;
    d->entry_gen = self->gen;
    //  the text sums needed: percolation skips a demand whose sum is below them, and that is
    //  exactly the demands whose bound is below the entry score
    matcher_need_t *need = &self->dneed [d->slot];
    for (int tag = 0; tag < 2; tag++)
        need->need [tag] = s_text_needed (self, d, tag, d->entry_units);
    need->pair_ub = d->pair_ub;         //  s_text_needed refreshed it at this generation
    need->gen = self->gen;
}

//  The score a startup must reach to enter the demand's top K, as far as the model knows
//  it now: the recorded entry score while valid, else 0 (any relevant startup: a list with
//  fewer than K holds every relevant one, however weak).
static int64_t
s_entry_units (matcher_model_t *self, matcher_demand_t *d)
{
    return d->entry_gen == self->gen? d->entry_units: 0;
}

//  An upper bound of the text sum of d in doc from the words' exact sum: plus the most the
//  demand's pairs can add when the profile has pairs at all.
static int64_t
s_text_bound (matcher_model_t *self, matcher_demand_t *d, matcher_doc_t *doc, int64_t words)
{
    matcher_norm_units (self, d);           //  refreshes d->pair_ub
    return words + (doc->npairs? d->pair_ub: 0);
}

#define BUCKETS 1024

//  s_top by scoring every live startup (the brute force); docs may be NULL.
static int
s_top_scan (matcher_model_t *self, matcher_demand_t *d, matcher_hit_t *hits, matcher_doc_t **docs)
{
    size_t count = 0;
    matcher_score_t score;
    for (uint32_t slot = 0; slot < self->ndocs; slot++) {
        matcher_doc_t *doc = &self->docs [slot];
        if (!doc->live)
            continue;
        matcher_score_pair (self, d, doc->org, doc, -1, false, &score);
        if (score.qualifies)
            s_top_insert (hits, docs, &count, self->config.top_k, doc->id, score.units, doc);
    }
    s_entry_set (self, d, hits, count);
    return (int) count;
}

//  The word of pair i whose postings bound it (the rarer one: fewer startups carry both).
static uint32_t
s_pair_word (matcher_model_t *self, matcher_demand_t *d, uint32_t i)
{
    uint32_t a = (uint32_t) (d->pair [i] >> 32), b = (uint32_t) d->pair [i];
    return self->terms [b].df < self->terms [a].df? b: a;
}

//  The bound units of the pairs whose rarer word is term_id (only_unwalked: and which is
//  not a query word, whose own walk adds them).
static int64_t
s_pairs_on (matcher_model_t *self, matcher_demand_t *d, uint32_t term_id)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < d->npair; i++)
        if (s_pair_word (self, d, i) == term_id)
            sum += matcher_round_units (d->pair_q [i] * matcher_pair_idf (self, d->pair [i])
                                        * (BM25_K1 + 1) * W_SCALE) + 1;
    return sum;
}

//  Walks the postings of demand d's query words, tags, and the rarer word of each pair that
//  is not a query word: self->acc gets each candidate's exact word sum, self->acc_pair the
//  most its pairs can add (the bounds of the pairs whose rarer word it carries),
//  self->acc_tag the idf of the demand's tags it carries, self->mark bit 1 (text) / 2 (a
//  tag), self->touched the candidates; returns their count.
static size_t
s_top_gather (matcher_model_t *self, matcher_demand_t *d)
{
    matcher_scratch (self, self->ndocs + 1);
    matcher_norm_units (self, d);
    size_t ntouched = 0;
    double ka, kb;
    matcher_bm25_consts (self, &ka, &kb);
    for (uint32_t i = 0; i < d->nkey + d->ntags + d->npair; i++) {
        bool is_tag = i >= d->nkey && i < d->nkey + d->ntags, is_pair = i >= d->nkey + d->ntags;
        uint32_t term_id = i < d->nkey? d->key [i]: is_tag? d->tags [i - d->nkey]
                         : s_pair_word (self, d, i - d->nkey - d->ntags);
        //  a pair's rarer word: walked once, unless it is a query word (walked above);
        //  d->key is in rank order, not sorted: linear checks
        bool walked = false;
        for (uint32_t k = 0; is_pair && k < d->nkey && !walked; k++)
            walked = d->key [k] == term_id;
        for (uint32_t k = 0; is_pair && k < i - d->nkey - d->ntags && !walked; k++)
            walked = s_pair_word (self, d, k) == term_id;
        if (walked)
            continue;
        matcher_term_t *term = &self->terms [term_id];
        double qidf = i < d->nkey? d->key_q [i] * matcher_idf (self, term_id): 0;
        double tag_idf = is_tag? matcher_idf (self, term_id): 0;
        int64_t pairs = is_tag? 0: s_pairs_on (self, d, term_id);
        //  the common case (a query word, no pair bound, not a tag) touches acc only
        bool plain = qidf > 0 && pairs == 0 && !is_tag;
        for (uint32_t p = 0; p < term->sp_n; p++) {
            uint32_t doc_slot = term->sp [p].doc;
            uint32_t len = self->doc_len [doc_slot];
            if (!len)
                continue;
            if (qidf > 0)
                self->acc [doc_slot] += matcher_bm25_units (qidf, term->sp [p].tf, len, ka, kb);
            if (!plain) {
                self->acc_pair [doc_slot] += pairs;
                self->acc_tag [doc_slot] += tag_idf;
            }
            if (!self->mark [doc_slot])
                self->touched [ntouched++] = doc_slot;
            self->mark [doc_slot] |= is_tag? 2: 1;
        }
    }
    return ntouched;
}

//  matcher_model_top of demand d; docs (capacity top K) gets each hit's startup doc.
static int
s_top (matcher_model_t *self, matcher_demand_t *d, matcher_hit_t *hits, matcher_doc_t **docs)
{
    size_t ntouched = s_top_gather (self, d);
    //  order the candidates by their bound (bucketed), best first, and score them exactly
    //  until the bound falls below what the top K already holds
    uint32_t *counts = calloc (BUCKETS + 1, sizeof *counts);
    uint32_t *order = malloc ((ntouched + 1) * sizeof *order);
    uint16_t *bucket = malloc ((ntouched + 1) * sizeof *bucket);
    double *bound = malloc ((ntouched + 1) * sizeof *bound);
    int64_t *text = malloc ((ntouched + 1) * sizeof *text);
    double *tag_value = malloc ((ntouched + 1) * sizeof *tag_value);
    assert (counts && order && bucket && bound && text && tag_value);
    double tag_den = 0;             //  as s_factor_tags sums it
    for (uint32_t i = 0; i < d->ntags; i++)
        tag_den += matcher_idf (self, d->tags [i]);
    for (size_t i = 0; i < ntouched; i++) {
        uint32_t slot = self->touched [i];
        bool tag = self->mark [slot] & 2;
        text [i] = self->acc [slot];
        self->acc [slot] = 0;
        self->mark [slot] = 0;
        double tags = tag && tag_den > 0? self->acc_tag [slot] / tag_den: 0;
        tag_value [i] = tags > 1? 1: tags;
        bound [i] = s_bound_units (self, d, text [i] + self->acc_pair [slot], tag_value [i]);
        self->acc_pair [slot] = 0;
        self->acc_tag [slot] = 0;
        int b = (int) (bound [i] * BUCKETS / (MATCHER_UNITS + 3));
        bucket [i] = (uint16_t) (b < 0? 0: b >= BUCKETS? BUCKETS - 1: b);
        counts [BUCKETS - 1 - bucket [i]]++;
    }
    for (int b = 1; b < BUCKETS; b++)
        counts [b] += counts [b - 1];
    for (size_t i = ntouched; i-- > 0; )
        order [--counts [BUCKETS - 1 - bucket [i]]] = (uint32_t) i;
    size_t count = 0, k = self->config.top_k;
    matcher_score_t score;
    for (size_t j = 0; j < ntouched; j++) {
        size_t i = order [j];
        int64_t floor = count == k? hits [k - 1].units: 0;
        if (bound [i] < floor) {
            //  buckets are coarse: skip this one, stop once a whole bucket is below
            if ((bucket [i] + 1.0) * (MATCHER_UNITS + 3) / BUCKETS < floor)
                break;
            continue;
        }
        matcher_doc_t *doc = &self->docs [self->touched [i]];
        int64_t exact = text [i] + matcher_pairs_units (self, d, doc);
        if (s_bound_units (self, d, exact, tag_value [i]) < floor)
            continue;               //  the pairs' bound was loose: the exact text says no
        matcher_score_pair (self, d, doc->org, doc, exact, false, &score);
        if (score.qualifies)
            s_top_insert (hits, docs, &count, k, doc->id, score.units, doc);
    }
    free (counts); free (order); free (bucket); free (bound); free (text); free (tag_value);
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
    matcher_demand_t *d = zhashx_lookup (self->demands, demand_id);
    if (!d || !d->open)
        return 0;
    matcher_doc_t **docs = calloc (self->config.top_k + 1, sizeof *docs);
    assert (docs);
    int count = self->config.scan? s_top_scan (self, d, hits, docs): s_top (self, d, hits, docs);
    //  what matcher_model_score gives for each, without looking the pair up again
    for (int i = 0; i < count; i++) {
        if (scores)
            matcher_score_pair (self, d, docs [i]->org, docs [i], -1, true, &scores [i]);
        if (names)
            names [i] = docs [i]->org->name;
    }
    free (docs);
    return count;
}

int
matcher_model_top_scan (matcher_model_t *self, const char *demand_id, matcher_hit_t *hits)
{
    matcher_demand_t *d = zhashx_lookup (self->demands, demand_id);
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

//  Startup -> demands. Candidates come from the reverse index: the open demands whose query
//  words (or a pair's first word) include one of the startup's terms, or whose tags include
//  one of its tags. A posting carries the demand's query weight, so walking the startup's
//  terms accumulates each candidate's exact word sum (the same integers as the demand side:
//  q * idf, then matcher_bm25_part); pairs are added for a candidate whose bound passes.
//  Plain: the demands it qualifies for with a score >= the minimum score (a good match or
//  better); entering: those whose top K it can enter (s_entry_units).
static int
s_percolate (matcher_model_t *self, const char *startup_id, matcher_hit_t *hits,
             size_t capacity, bool entering)
{
    matcher_org_t *org = zhashx_lookup (self->orgs, startup_id);
    if (!org || org->doc < 0)
        return 0;
    matcher_doc_t *doc = &self->docs [org->doc];
    matcher_scratch (self, self->ndslots + 1);
    size_t ntouched = 0;
    double ka, kb;
    matcher_bm25_consts (self, &ka, &kb);
    for (uint32_t i = 0; i < doc->nterms + doc->ntags; i++) {
        bool is_tag = i >= doc->nterms;
        uint32_t term_id = is_tag? doc->tags [i - doc->nterms]: doc->terms [i];
        matcher_term_t *term = &self->terms [term_id];
        double idf = is_tag? 0: matcher_idf (self, term_id);
        double part = is_tag? 0: matcher_bm25_part (doc->tfs [i], doc->len, ka, kb);
        for (uint32_t p = 0; p < term->dp_n; p++) {
            uint32_t slot = term->dp [p].slot;
            if (self->dstate [slot] != term->dp [p].epoch)
                continue;           //  a stale posting, or the demand is not open
            if (term->dp [p].q > 0)
                self->acc [slot] += matcher_round_units (term->dp [p].q * idf * part * W_SCALE);
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
        const matcher_need_t *need = &self->dneed [slot];
        if (entering && need->gen == self->gen
        &&  text + (doc->npairs? need->pair_ub: 0) < need->need [tag_hit])
            continue;               //  its bound is below its entry score (dense check)
        matcher_demand_t *d = self->dslots [slot];
        int64_t text_bound = s_text_bound (self, d, doc, text);
        double bound = s_bound_units (self, d, text_bound, tag_hit);     //  tags at most 1
        int64_t floor = entering? s_entry_units (self, d): self->config.min_units;
        if (bound < floor)
            continue;               //  bound >= score: it cannot qualify, or cannot enter
        text += matcher_pairs_units (self, d, doc);
        if (s_bound_units (self, d, text, tag_hit) < floor)
            continue;               //  the pairs' bound was loose: the exact text says no
        matcher_score_pair (self, d, org, doc, text, false, &score);
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
    matcher_org_t *org = zhashx_lookup (self->orgs, startup_id);
    if (!org || org->doc < 0)
        return 0;
    matcher_doc_t *doc = &self->docs [org->doc];
    matcher_hit_t *all = malloc ((self->ndslots + 1) * sizeof *all);
    assert (all);
    size_t count = 0;
    matcher_score_t score;
    for (uint32_t slot = 0; slot < self->ndslots; slot++) {
        matcher_demand_t *d = self->dslots [slot];
        if (!d->open)
            continue;
        matcher_score_pair (self, d, org, doc, -1, false, &score);
        if (score.qualifies
        &&  score.units >= (entering? s_entry_units (self, d): self->config.min_units))
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
