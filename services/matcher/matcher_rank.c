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
s_bound_units (matcher_model_t *self, matcher_demand_t *d, int64_t text_bound, bool tag_hit)
{
    int64_t norm = matcher_norm_units (self, d);
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
    d->entry_units = k > 0 && count >= k? hits [k - 1].units: self->config.min_units;
    if (d->entry_units < self->config.min_units)
        d->entry_units = self->config.min_units;
    d->entry_gen = self->gen;
    //  the text sums needed: percolation skips a demand whose sum is below them, and that is
    //  exactly the demands whose bound is below the entry score
    matcher_need_t *need = &self->dneed [d->slot];
    for (int tag = 0; tag < 2; tag++)
        need->need [tag] = s_text_needed (self, d, tag, d->entry_units);
    need->gen = self->gen;
}

//  The score a startup must reach to enter the demand's top K, as far as the model knows
//  it now: the recorded entry score while valid, else the minimum score.
static int64_t
s_entry_units (matcher_model_t *self, matcher_demand_t *d)
{
    return d->entry_gen == self->gen? d->entry_units: self->config.min_units;
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

//  Walks the postings of demand d's distinctive key terms and tags: self->acc gets each
//  candidate's exact text sum, self->mark bit 1 (text) / 2 (a tag), self->touched the
//  candidates; returns their count.
static size_t
s_top_gather (matcher_model_t *self, matcher_demand_t *d)
{
    matcher_scratch (self, self->ndocs + 1);
    size_t ntouched = 0;
    for (uint32_t i = 0; i < d->nkey + d->ntags; i++) {
        bool is_tag = i >= d->nkey;
        uint32_t term_id = is_tag? d->tags [i - d->nkey]: d->key [i];
        matcher_term_t *term = &self->terms [term_id];
        if (!is_tag && !matcher_distinctive (self, term_id))
            continue;
        //  the BM25 weight, inlined: idf once per term, the dense length array per posting
        double idf = matcher_idf (self, term_id);
        double avg = self->live_docs? (double) self->total_len / self->live_docs: 1.0;
        double kb = BM25_K1 * BM25_B / (avg > 0? avg: 1.0), ka = BM25_K1 * (1 - BM25_B);
        for (uint32_t p = 0; p < term->sp_n; p++) {
            uint32_t doc_slot = term->sp [p].doc;
            uint32_t len = self->doc_len [doc_slot];
            if (!len)
                continue;
            if (!is_tag) {
                double tf = term->sp [p].tf;
                self->acc [doc_slot] += matcher_round_units (idf * (tf * (BM25_K1 + 1)
                                                              / (tf + ka + kb * len)) * W_SCALE);
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
        matcher_doc_t *doc = &self->docs [self->touched [i]];
        matcher_score_pair (self, d, doc->org, doc, text [i], false, &score);
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

//  Startup -> demands. Candidates come from the reverse index: the open demands whose key
//  terms include one of the startup's distinctive terms, or whose tags include one of its
//  tags. The startup's BM25 weight for a term is the same for every demand, so walking the
//  postings accumulates each candidate's exact text sum; a candidate is scored fully only
//  when its upper bound (as in matcher_model_top) reaches the minimum score.
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
    for (uint32_t i = 0; i < doc->nterms + doc->ntags; i++) {
        bool is_tag = i >= doc->nterms;
        uint32_t term_id = is_tag? doc->tags [i - doc->nterms]: doc->terms [i];
        matcher_term_t *term = &self->terms [term_id];
        if (!is_tag && !matcher_distinctive (self, term_id))
            continue;
        int64_t weight = is_tag? 0: matcher_weight_units (self, term_id, doc->tfs [i], doc->len);
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
        matcher_demand_t *d = self->dslots [slot];
        double bound = s_bound_units (self, d, text, tag_hit);
        int64_t floor = entering? s_entry_units (self, d): self->config.min_units;
        if (bound < floor)
            continue;               //  bound >= score: it cannot qualify, or cannot enter
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
