/*  matcher_internal — what the matcher's model files share (private: only matcher_*.c include
    it; the public contract is matcher_model.h). The files, one job each:
      matcher_model.c   entities and indexes: apply organizations and demands, lookups, stats
      matcher_terms.c   term dictionary, analysis, tag keys, a demand's key-term selection
      matcher_score.c   one function per score factor and the combiner (the explanation)
      matcher_rank.c    top K, percolation (plain and entering), the brute-force scans
      matcher_saved.c   saved searches: apply, the anchor index, matching an entity

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

    The helpers on the scoring paths' inner loops (sorted-array lookup, idf, BM25 weight,
    distinctive) are static inline here: they were static in one file before the split, and a
    call per posting would cost measurable time.
*/
#ifndef MATCHER_INTERNAL_H_INCLUDED
#define MATCHER_INTERNAL_H_INCLUDED

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "matcher_model.h"
#include "oim_analyze.h"
#include "oim_evidence.h"
#include "oim_glossary.h"

#define BM25_K1     0.9
#define BM25_B      0.4
#define W_SCALE     1000000.0       //  BM25 weights are summed in units of 10^-6
#define MAX_TOKENS  20000           //  per analysed field

//  The model's records (they were private to matcher_model.c before the split; their
//  fields are shared by the model's files and by nothing else).
typedef struct { uint32_t doc, tf; } matcher_spost_t;          //  startup posting
typedef struct { uint32_t slot, epoch; double q; } matcher_dpost_t;   //  demand / saved-search
                                    //  posting; q: the demand's query weight of the term (0:
                                    //  a tag, or a term posted only to find a pair's demands)

typedef struct {
    char *text;
    uint32_t df;                    //  live startups carrying the term (or tag key)
    matcher_spost_t *sp; uint32_t sp_n, sp_cap; //  startup postings
    matcher_dpost_t *dp; uint32_t dp_n, dp_cap; //  open-demand postings (key terms, tags)
    matcher_dpost_t *qp; uint32_t qp_n, qp_cap; //  saved-search anchors
    uint32_t *words; uint32_t nwords;           //  tag key: its word terms, sorted
    uint64_t idf_gen; double idf;               //  cached idf at corpus generation idf_gen
    int64_t norm_units;                         //  llround (idf * (k1+1) * W_SCALE), same gen
} matcher_term_t;

typedef struct _matcher_org_t matcher_org_t;

typedef struct {
    char *id;
    matcher_org_t *org;             //  its organization (while live)
    bool live;
    uint32_t len;                   //  tokens, for BM25 length normalisation
    uint32_t *terms, *tfs; uint32_t nterms;     //  sorted by term id
    uint64_t *pairs; uint32_t *pair_tfs; uint32_t npairs;   //  adjacent evidence word pairs
                                                //  (id(a) << 32 | id(b)), sorted, with counts
    uint64_t pair_sig [4];                      //  one bit per pair (matcher_pair_bit): a
                                                //  demand pair whose bit is clear is absent
    uint32_t *tags; uint32_t ntags;             //  tag key term ids, sorted
    char *region, *stage;
    char **ind; size_t nind;
    bool tags_inferred, ind_inferred;           //  the registry inferred them (none given)
} matcher_doc_t;

struct _matcher_org_t {
    char *id, *kind, *status, *name, *email, *phone, *website;
    int64_t version;
    bool deleted;
    bool eligible;                  //  an active, not deleted startup
    bool active;                    //  status active and not deleted (any kind)
    int64_t doc;                    //  startup doc slot, -1 when not in the corpus
};

typedef struct _matcher_demand_t matcher_demand_t;
struct _matcher_demand_t {
    char *id, *org_id, *title, *status;
    int64_t version;
    bool deleted, open;
    bool confidential, members;                         //  its visibility
    matcher_demand_t *teaser;                           //  confidential: the demand as
                                                        //  outsiders see it (title, tags)
    //  the text query (MATCH_QUALITY.md §3.3): at most MATCHER_MAX_KEY_TERMS words and pairs
    //  of largest q * idf, words in key*, pairs in pair*, each by q * idf descending
    uint32_t *key; char **key_words; double *key_q; uint32_t nkey;     //  words
    uint64_t *pair; char **pair_words; double *pair_q; uint32_t npair; //  pairs, "a b" shown
    uint32_t *all; uint32_t nall;                       //  every distinct term, sorted
    uint32_t *tags; char **tag_names; uint32_t ntags;   //  tag keys sorted, names aligned
    char **ind, **reg, **stg, **col; size_t nind, nreg, nstg, ncol;
    bool tags_inferred, ind_inferred;                   //  the registry inferred them (the
                                                        //  tags factor only: never the text)
    double eff [MATCHER_FACTORS];                       //  effective weights (matcher_model.h)
    matcher_org_t *owner;                               //  resolved lazily (orgs live on)
    uint32_t slot, epoch;
    uint32_t nposted;                                   //  its live postings (dp)
    uint64_t norm_gen; int64_t norm_units;              //  S_max in units, at norm_gen
    int64_t pair_ub;                                    //  sum of the pairs' bounds, norm_gen
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
    int64_t pair_ub;                //  the demand's pair_ub at gen (the text bound's slack)
} matcher_need_t;

typedef struct {
    uint32_t *any; uint32_t nany;   //  word / stem terms: one present is enough
    uint32_t *all; uint32_t nall;   //  Hangul/CJK bigrams: all present is enough
} matcher_qword_t;

typedef struct {
    char *id, *org_id, *type;
    int64_t version;
    bool deleted, live;
    matcher_qword_t *words; size_t nwords;
    char **ind, **reg, **stg, **col; size_t nind, nreg, nstg, ncol;
    uint32_t *tag; size_t ntag;
    uint32_t slot, epoch;
    uint32_t nposted;               //  its live anchor postings (qp)
    char *since;                    //  updated_at of its current version
} matcher_ss_t;

struct _matcher_model_t {
    matcher_config_t config;
    oim_analyzer_t *analyzer;
    oim_tokens_t *tokens;
    oim_evidence_t *evidence;       //  the evidence rule (common/oim_evidence)
    oim_glossary_t *glossary;       //  KO <-> EN (NULL when config.glossary_weight is 0)
    bool *ev; size_t ev_cap;        //  per token of the last analysis: evidence
    uint32_t *keep; size_t keep_cap;        //  token indexes matcher_analyze kept
    uint32_t *cut; size_t cut_cap;          //  per token: byte offset where its word's
                                            //  ending starts
    zhashx_t *term_ids;             //  text -> term id + 1
    matcher_term_t *terms; uint32_t nterms, terms_cap;
    matcher_doc_t *docs; uint32_t ndocs, docs_cap;
    uint32_t live_docs;
    uint64_t total_len;             //  of live docs
    uint64_t gen;                   //  corpus generation
    zhashx_t *orgs;                 //  id -> matcher_org_t
    zhashx_t *demands;              //  id -> matcher_demand_t
    matcher_demand_t **dslots; uint32_t ndslots, dslots_cap;
    matcher_need_t *dneed; uint32_t dneed_cap;  //  per demand slot: text sums needed to enter
    uint32_t *dstate; uint32_t dstate_cap;      //  per demand slot: its epoch while open, else
                                                //  0 (dense: postings check it without a deref)
    uint32_t *doc_len; uint32_t doc_len_cap;    //  per doc slot: length, 0 when not live
    uint32_t open_demands;
    zhashx_t *sss;                  //  id -> matcher_ss_t
    matcher_ss_t **sslots; uint32_t nsslots, sslots_cap;
    uint32_t live_ss;
    //  scratch for queries
    int64_t *acc; uint8_t *mark; uint32_t *touched; size_t scratch_cap;
    int64_t *acc_pair;              //  per doc: the most a demand's pairs can add (top K)
    double *acc_tag;                //  per doc: idf sum of the demand's tags it carries
    size_t bytes;                   //  approximate heap bytes of postings and records
    size_t live_postings, stale_postings;   //  in sp/dp/qp arrays (matcher_postings_retire)
    uint32_t *free_docs; uint32_t free_docs_n, free_docs_cap;  //  dead startup slots that
                                            //  no posting refers to (found by a compaction)
    size_t compactions;
};

//  --------------------------------------------------------------------------------------
//  Small helpers (matcher_model.c)

//  Grows array to hold need elements of elem bytes (doubling); asserts on no memory.
void *matcher_grow (void *array, uint32_t *cap, uint32_t need, size_t elem);
//  strdup of text, "" for NULL; asserts on no memory (as strdup's callers did).
char *matcher_strdup (const char *text);
//  A NULL-terminated copy of count strings; matcher_strv_free frees it and nulls the pointer.
char **matcher_strv (char *const *items, size_t count);
void matcher_strv_free (char ***items_p, size_t count);
//  Sorts items and drops duplicates in place; returns the new count.
uint32_t matcher_sort_uniq (uint32_t *items, uint32_t count);
//  Bookkeeping of the posting arrays: added postings are live; retired ones (a startup that
//  left or changed, a demand re-posted or closed, a saved search changed) stay in their arrays,
//  skipped by every walk, until they are as many as the live ones; then one pass over every
//  term drops them (amortised O(1) per posting: a daemon that sees updates for months does
//  not grow with them).
void matcher_postings_added (matcher_model_t *self, size_t count);
void matcher_postings_retire (matcher_model_t *self, size_t count);
//  Makes the query scratch (acc, mark, touched) hold need slots, zeroed.
void matcher_scratch (matcher_model_t *self, size_t need);

//  Index of value in a sorted array of distinct values, or -1. Branchless (the probes
//  compile to conditional moves): scoring looks up every key term of a demand in a
//  startup's terms, and a mispredicted branch per probe was most of that cost.
static inline int64_t
matcher_find_u32 (const uint32_t *sorted, uint32_t count, uint32_t value)
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

static inline bool
matcher_has_u32 (const uint32_t *sorted, uint32_t count, uint32_t value)
{
    return matcher_find_u32 (sorted, count, value) >= 0;
}

//  llround (x), inline: a BM25 weight per posting is rounded, and the library call was a
//  visible share of scoring. For 0 <= x < 2^52, x - trunc (x) is exact, so rounding half
//  away from zero is trunc + (fraction >= 0.5); anything else goes to llround.
static inline int64_t
matcher_round_units (double x)
{
    if (!(x >= 0 && x < 4503599627370496.0))
        return llround (x);
    int64_t whole = (int64_t) x;
    return whole + (x - (double) whole >= 0.5);
}

static inline bool
matcher_org_eligible (const matcher_org_t *org)
{
    return org && org->eligible;
}

//  The tags (or industries) that count for a factor: the given ones, else the ones the
//  registry inferred (*inferred set). Borrowed from the message.
static inline char **
matcher_given_or_inferred (char **given, size_t ngiven, char **inferred, size_t ninferred,
                           size_t *count, bool *was_inferred)
{
    *was_inferred = ngiven == 0 && ninferred > 0;
    *count = *was_inferred? ninferred: ngiven;
    return *was_inferred? inferred: given;
}

//  --------------------------------------------------------------------------------------
//  Terms (matcher_terms.c)

//  The id of a term, registering it when new.
uint32_t matcher_term (matcher_model_t *self, const char *text);
//  Analyses text into self->tokens and self->keep (the indexes of the tokens that count);
//  returns the number kept (0 on failure). Counting tokens for BM25 lengths uses this too.
size_t matcher_analyze (matcher_model_t *self, const char *text);
//  The i-th kept token of the last analysis.
const oim_token_t *matcher_token (matcher_model_t *self, size_t i);
//  The tag key of a tag: "#" + its analysed words joined by spaces, so spelling variants of
//  one tag compare equal. Registers the key's word terms. Returns the key's term id, or
//  UINT32_MAX for a tag without words.
uint32_t matcher_tag_key (matcher_model_t *self, const char *tag);
//  A demand's key terms (d->key, d->key_words, d->nkey: title and tags first, then the
//  description's terms by descending frequency, at most MATCHER_MAX_KEY_TERMS) and every
//  distinct term it carries (d->all, d->nall, sorted).
void matcher_terms_select (matcher_model_t *self, matcher_demand_t *d,
                           const Oim__V1__Demand *msg);
//  The adjacent evidence word pairs of the last matcher_analyze of text (count kept tokens)
//  appended to *pairs (with duplicates): Latin WORD tokens, Hangul the STEM when there is one
//  else the WORD, never a BIGRAM; no break between (a position gap, . ; : ! ? or a line
//  break). Returns the new count.
uint32_t matcher_terms_pairs (matcher_model_t *self, const char *text, size_t count,
                              uint64_t **pairs, uint32_t *n, uint32_t *cap);

//  Current idf of a term (cached per corpus generation), also refreshing norm_units.
static inline double
matcher_idf (matcher_model_t *self, uint32_t term_id)
{
    matcher_term_t *term = &self->terms [term_id];
    if (term->idf_gen != self->gen) {
        double n = self->live_docs, df = term->df;
        term->idf = log (1.0 + (n - df + 0.5) / (df + 0.5));
        term->norm_units = llround (term->idf * (BM25_K1 + 1) * W_SCALE);
        term->idf_gen = self->gen;
    }
    return term->idf;
}

//  The length-normalisation constants of BM25 at the current corpus: K(d) = ka + kb * len.
static inline void
matcher_bm25_consts (matcher_model_t *self, double *ka, double *kb)
{
    double avg = self->live_docs? (double) self->total_len / self->live_docs: 1.0;
    *kb = BM25_K1 * BM25_B / (avg > 0? avg: 1.0);
    *ka = BM25_K1 * (1 - BM25_B);
}

//  One query term's BM25 contribution in units: qidf = q * idf (one product, computed the
//  same way by every path), tf its count in a profile of len tokens. Every path (postings
//  from the demand side or the startup side, a pair alone) calls exactly this, so the sums
//  are the same integers.
static inline double
matcher_bm25_part (uint32_t tf, uint32_t len, double ka, double kb)
{
    double ftf = tf;
    return ftf * (BM25_K1 + 1) / (ftf + ka + kb * len);
}

static inline int64_t
matcher_bm25_units (double qidf, uint32_t tf, uint32_t len, double ka, double kb)
{
    return matcher_round_units (qidf * matcher_bm25_part (tf, len, ka, kb) * W_SCALE);
}

//  idf of a pair "a b": the smaller of its words' (MATCH_QUALITY.md §3.3: no pair statistics).
static inline double
matcher_pair_idf (matcher_model_t *self, uint64_t pair)
{
    double a = matcher_idf (self, (uint32_t) (pair >> 32)), b = matcher_idf (self, (uint32_t) pair);
    return a < b? a: b;
}

//  A pair's bit in a doc's 256-bit pair signature (a multiplicative hash's top 8 bits).
static inline uint32_t
matcher_pair_bit (uint64_t pair)
{
    return (uint32_t) ((pair * 0x9E3779B97F4A7C15ULL) >> 56);
}

//  False when doc certainly lacks pair; true when it may have it (then search doc->pairs).
//  A profile has ~75 pairs: about three in four absent pairs are ruled out here, without the
//  binary search that was a quarter of the matcher's time per demand event (perf, e2e).
static inline bool
matcher_doc_may_have_pair (const matcher_doc_t *doc, uint64_t pair)
{
    uint32_t bit = matcher_pair_bit (pair);
    return (doc->pair_sig [bit >> 6] >> (bit & 63)) & 1;
}

//  Index of value in a sorted array of distinct 64-bit values, or -1.
static inline int64_t
matcher_find_u64 (const uint64_t *sorted, uint32_t count, uint64_t value)
{
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sorted [mid] < value)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < count && sorted [lo] == value? (int64_t) lo: -1;
}

//  The text sum of demand d's pairs in doc (units).
int64_t matcher_pairs_units (matcher_model_t *self, matcher_demand_t *d, matcher_doc_t *doc);

//  --------------------------------------------------------------------------------------
//  Scoring (matcher_score.c)

//  S_max of a demand in units: sum q * idf * (k1 + 1) over its words and pairs (an ideal
//  profile's score); also refreshes d->pair_ub (cached per generation).
int64_t matcher_norm_units (matcher_model_t *self, matcher_demand_t *d);
//  True when a startup's region is among (or inside) a wanted region ("KR" covers "KR-11").
bool matcher_region_fits (const char *wanted, const char *region);
//  Scores demand d against startup org (doc: its live doc, NULL when not in the corpus) into
//  out. text_units >= 0: the text sum the index paths accumulated from postings (exact);
//  < 0: computed here from the pair alone. detail: fill the factors' explanations.
void matcher_score_pair (matcher_model_t *self, matcher_demand_t *d, matcher_org_t *org,
                         matcher_doc_t *doc, int64_t text_units, bool detail,
                         matcher_score_t *out);

//  --------------------------------------------------------------------------------------
//  Saved searches (matcher_saved.c)

//  zhashx destructor of a saved search.
void matcher_saved_free (void **item_p);

#endif
