/*  search_query.c — query parsing, BM25F scoring, filters, facet counts,
    cursor paging, snippets and explanations. Scoring visits every matching
    document once, in doc order (for totals and facet counts), and a bounded
    heap keeps the page; the posting lists are read window by window when no
    phrase needs verifying, merged document by document when one does, and
    leapfrogged for plain multi-word queries (all words first).
*/
#include "search_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_TYPO_VARIANTS 4
#define S_PREFIX_VARIANTS 8
#define S_SNIPPET_BYTES 320
#define S_SNIPPET_TERMS 16
#define S_SNIPPET_MAX_TOKENS 4096
#define S_PHRASE_MAX_LEN 16
#define S_PREFETCH 16                   //  docs ahead in the facet count loop
#define S_TIER_TABLE_BITS 10            //  queries of up to 10 terms: tiers by table
//  The facet fields a confidential doc's teaser shows (search_index.h, Visibility): for a
//  viewer who sees only the teaser, the doc counts toward and filters on these alone.
#define S_TEASER_FACETS ((1u << SEARCH_FACET_TYPE) | (1u << SEARCH_FACET_TAG) \
                         | (1u << SEARCH_FACET_STATUS))

typedef struct {
    uint32_t tid;
    double weight;              //  1, or the typo / prefix factor
    uint8_t word;               //  first word that brought it in
} s_qterm_t;

typedef struct {
    uint64_t any;               //  any of these terms matches the word
    uint64_t all;               //  ... or all of these (Hangul/CJK bigrams); 0 = no such rule
    bool phrase;
    uint32_t seq[S_PHRASE_MAX_LEN];     //  phrase term ids in order
    uint32_t rel[S_PHRASE_MAX_LEN];     //  their positions relative to the first
    uint32_t seq_len;
    uint32_t surface_start, surface_end;        //  bytes of the query text
} s_qword_t;

//  The token buffers of one query (queries run on several threads at once):
//  the query's own words, and a document's text (phrase checks, snippets).
typedef struct {
    oim_tokens_t *query, *text;
} s_scratch_t;

typedef struct {
    s_scratch_t scratch;
    s_qterm_t terms[SEARCH_MAX_QUERY_TERMS];
    size_t nterms;
    s_qword_t words[SEARCH_MAX_QUERY_WORDS];
    size_t nwords;
    bool impossible;            //  a required phrase cannot match
    bool tiered;
    bool browse;
} s_plan_t;

//  Hangul particles (josa) ignored at the end of a query word for the
//  all-bigrams rule: one and two syllables.
static const char *const s_josa1[] = {
    "이", "가", "을", "를", "은", "는", "의", "에", "와", "과", "도", "로", "만", "께"
};
static const char *const s_josa2[] = {
    "에서", "에게", "으로", "까지", "부터", "처럼", "보다", "이나", "라고", "에는", "와의", "과의"
};

//  Adds a term to the plan (or finds it); a repeated exact term counts twice
//  (query term frequency, as Lucene's summed clauses). Returns its index or -1.
static int
s_plan_term (s_plan_t *plan, uint32_t tid, double weight, uint8_t word)
{
    for (size_t i = 0; i < plan->nterms; i++)
        if (plan->terms[i].tid == tid) {
            if (weight == 1.0 && plan->terms[i].weight >= 1.0)
                plan->terms[i].weight += 1.0;
            else if (weight > plan->terms[i].weight)
                plan->terms[i].weight = weight;
            return (int) i;
        }
    if (plan->nterms == SEARCH_MAX_QUERY_TERMS)
        return -1;
    plan->terms[plan->nterms] = (s_qterm_t) { tid, weight, word };
    return (int) plan->nterms++;
}

//  Word-match bit of a term: only the first 64 terms have one.
static uint64_t
s_bit (int index)
{
    return index < 0 || index >= 64 ? 0 : (uint64_t) 1 << index;
}

static bool
s_ends_with (const char *s, size_t len, const char *suffix)
{
    size_t n = strlen (suffix);
    return len >= n && memcmp (s + len - n, suffix, n) == 0;
}

//  How many trailing bigrams of a Hangul word are a particle (0, 1 or 2).
static unsigned
s_particle_bigrams (const oim_token_t *word)
{
    if (word->script != OIM_SCRIPT_HANGUL)
        return 0;
    if (word->letters >= 4)
        for (size_t i = 0; i < sizeof s_josa2 / sizeof s_josa2[0]; i++)
            if (s_ends_with (word->term, word->term_len, s_josa2[i]))
                return 2;
    if (word->letters >= 3)
        for (size_t i = 0; i < sizeof s_josa1 / sizeof s_josa1[0]; i++)
            if (s_ends_with (word->term, word->term_len, s_josa1[i]))
                return 1;
    return 0;
}

static uint32_t
s_find (search_index_t *self, const char *term, size_t len)
{
    return search_strtab_find (&self->terms, term, len);
}

//  A quoted phrase: one required word whose terms must appear in order.
static void
s_parse_phrase (search_index_t *self, s_plan_t *plan, size_t seg_start)
{
    if (plan->nwords == SEARCH_MAX_QUERY_WORDS)
        return;
    s_qword_t *w = &plan->words[plan->nwords];
    memset (w, 0, sizeof *w);
    w->phrase = true;
    uint32_t first_pos = 0;
    uint8_t widx = (uint8_t) plan->nwords;
    for (size_t i = 0; i < oim_tokens_size (plan->scratch.query); i++) {
        const oim_token_t *tok = oim_tokens_get (plan->scratch.query, i);
        if (tok->kind != OIM_TOKEN_WORD || w->seq_len == S_PHRASE_MAX_LEN)
            continue;
        uint32_t tid = s_find (self, tok->term, tok->term_len);
        int bit = tid == SEARCH_STRTAB_NONE ? -1 : s_plan_term (plan, tid, 1.0, widx);
        if (!plan->tiered)
            continue;                   //  long queries: quoted words just score
        if (bit < 0 || bit >= 64) {
            plan->impossible = true;    //  unknown term (or beyond the mask): no match
            return;
        }
        w->all |= s_bit (bit);
        if (w->seq_len == 0)
            first_pos = tok->pos;
        w->rel[w->seq_len] = tok->pos - first_pos;
        w->seq[w->seq_len++] = tid;
        if (w->seq_len == 1)
            w->surface_start = (uint32_t) (seg_start + tok->byte_start);
        w->surface_end = (uint32_t) (seg_start + tok->byte_end);
    }
    if (w->seq_len > 0)
        plan->nwords++;
}

//  One unquoted word: the token at index `i` (a WORD) and its bigrams.
static size_t
s_parse_word (search_index_t *self, s_plan_t *plan, const char *q, size_t seg_start,
              size_t i, bool as_prefix)
{
    const oim_token_t *tok = oim_tokens_get (plan->scratch.query, i);
    size_t n = oim_tokens_size (plan->scratch.query);
    size_t next = i + 1;
    while (next < n && oim_tokens_get (plan->scratch.query, next)->kind != OIM_TOKEN_WORD)
        next++;
    if (plan->nwords == SEARCH_MAX_QUERY_WORDS)
        return next;
    uint8_t widx = (uint8_t) plan->nwords;
    s_qword_t *w = &plan->words[plan->nwords++];
    memset (w, 0, sizeof *w);
    w->surface_start = (uint32_t) (seg_start + tok->byte_start);
    w->surface_end = (uint32_t) (seg_start + tok->byte_end);
    uint32_t tid = s_find (self, tok->term, tok->term_len);
    if (tid != SEARCH_STRTAB_NONE)
        w->any |= s_bit (s_plan_term (plan, tid, 1.0, widx));
    if (tok->script == OIM_SCRIPT_OTHER) {
        uint32_t alt[S_PREFIX_VARIANTS];
        if (as_prefix) {
            char *folded = oim_utf8_fold_n (q + w->surface_start, w->surface_end - w->surface_start);
            size_t na = folded ? search_dict_prefix (self, folded, strlen (folded), alt, S_PREFIX_VARIANTS) : 0;
            free (folded);
            for (size_t k = 0; k < na; k++)
                w->any |= s_bit (s_plan_term (plan, alt[k], self->cfg.prefix_weight, widx));
        }
        //  typo variants for words the index (nearly) does not know
        unsigned edits = tok->letters >= 9 ? 2 : tok->letters >= 5 ? 1 : 0;
        uint32_t df = tid == SEARCH_STRTAB_NONE ? 0 : self->postings[tid].df;
        if (edits && self->cfg.typo_weight > 0 && df < self->cfg.typo_below_df) {
            size_t na = search_dict_fuzzy (self, tok->term, tok->term_len, edits, alt, S_TYPO_VARIANTS);
            for (size_t k = 0; k < na; k++)
                w->any |= s_bit (s_plan_term (plan, alt[k], self->cfg.typo_weight, widx));
        }
        return next;
    }
    //  Hangul / CJK: the word without its particle, or all bigrams (bar the
    //  particle's) also match the word
    unsigned optional = s_particle_bigrams (tok);
    size_t first_bigram = i + 1;
    if (first_bigram < next && oim_tokens_get (plan->scratch.query, first_bigram)->kind == OIM_TOKEN_STEM) {
        const oim_token_t *st = oim_tokens_get (plan->scratch.query, first_bigram++);
        uint32_t sid = s_find (self, st->term, st->term_len);
        if (sid != SEARCH_STRTAB_NONE)
            w->any |= s_bit (s_plan_term (plan, sid, 1.0, widx));
    }
    size_t nb = next - first_bigram;
    bool complete = nb > 0;
    for (size_t k = first_bigram; k < next; k++) {
        const oim_token_t *bg = oim_tokens_get (plan->scratch.query, k);
        bool required = k - first_bigram + optional < nb;
        uint32_t bt = s_find (self, bg->term, bg->term_len);
        int bit = bt == SEARCH_STRTAB_NONE ? -1 : s_plan_term (plan, bt, self->cfg.bigram_weight, widx);
        if (bit < 0 && required)
            complete = false;
        if (bit >= 0 && required)
            w->all |= s_bit (bit);
    }
    if (optional >= nb)
        complete = false;
    if (!complete)
        w->all = 0;
    return next;
}

static bool
s_blank (const char *q)
{
    if (!q)
        return true;
    for (; *q; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
            return false;
    return true;
}

//  Builds the plan of a query text. Returns 0 or -1 on no memory.
static int
s_parse (search_index_t *self, const char *q, bool prefix_last, bool pure_bm25, s_scratch_t scratch,
         s_plan_t *plan)
{
    memset (plan, 0, sizeof *plan);
    plan->scratch = scratch;
    if (s_blank (q)) {
        plan->browse = true;
        return 0;
    }
    size_t qlen = strlen (q);
    //  count the words first: tiered or not decides how typos are handled
    size_t words = 0;
    bool in_quote = false;
    for (size_t start = 0; start <= qlen;) {
        const char *quote = memchr (q + start, '"', qlen - start);
        size_t end = quote ? (size_t) (quote - q) : qlen;
        if (oim_analyze (self->analyzer, q + start, end - start, 4096, plan->scratch.query) < 0)
            return -1;
        size_t n = oim_tokens_size (plan->scratch.query);
        for (size_t i = 0; i < n; i++)
            words += oim_tokens_get (plan->scratch.query, i)->kind == OIM_TOKEN_WORD && !in_quote;
        words += in_quote && n > 0;
        if (!quote)
            break;
        in_quote = !in_quote;
        start = end + 1;
    }
    plan->tiered = !pure_bm25 && words > 0 && words <= self->cfg.tier_max_words;
    char last = q[qlen - 1];
    bool ends_open = last != ' ' && last != '\t' && last != '"';
    size_t start = 0;
    bool quoted = false;
    while (start <= qlen) {
        const char *quote = memchr (q + start, '"', qlen - start);
        size_t end = quote ? (size_t) (quote - q) : qlen;
        if (oim_analyze (self->analyzer, q + start, end - start, 4096, plan->scratch.query) < 0)
            return -1;
        if (quoted)
            s_parse_phrase (self, plan, start);
        else {
            size_t n = oim_tokens_size (plan->scratch.query);
            size_t last_word = n;
            for (size_t i = 0; i < n; i++)
                if (oim_tokens_get (plan->scratch.query, i)->kind == OIM_TOKEN_WORD)
                    last_word = i;
            for (size_t i = 0; i < n;) {
                bool as_prefix = prefix_last && !quote && ends_open && i == last_word;
                i = s_parse_word (self, plan, q, start, i, as_prefix);
            }
        }
        if (!quote)
            break;
        quoted = !quoted;
        start = end + 1;
    }
    return 0;
}

//  ------------------------------------------------------------------ scoring

typedef struct {
    const uint8_t *p, *end;
    uint32_t doc;
    uint8_t tf;
    bool done;
} s_cursor_t;

typedef struct {
    uint32_t doc;
    uint32_t tier;
    double score;
} s_entry_t;

//  a is ranked before b
static bool
s_before (const s_entry_t *a, const s_entry_t *b)
{
    if (a->tier != b->tier)
        return a->tier > b->tier;
    if (a->score != b->score)
        return a->score > b->score;
    return a->doc < b->doc;
}

typedef struct {
    s_entry_t *v;
    size_t n, max;
} s_heap_t;                     //  the worst kept entry at the root

static void
s_heap_push (s_heap_t *h, s_entry_t e)
{
    if (h->n == h->max) {
        if (!s_before (&e, &h->v[0]))
            return;
        h->v[0] = e;            //  replace the root, sift down
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, w = i;
            if (l < h->n && s_before (&h->v[w], &h->v[l]))
                w = l;
            if (r < h->n && s_before (&h->v[w], &h->v[r]))
                w = r;
            if (w == i)
                break;
            s_entry_t t = h->v[i];
            h->v[i] = h->v[w];
            h->v[w] = t;
            i = w;
        }
        return;
    }
    size_t i = h->n++;
    h->v[i] = e;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!s_before (&h->v[p], &h->v[i]))
            break;
        s_entry_t t = h->v[i];
        h->v[i] = h->v[p];
        h->v[p] = t;
        i = p;
    }
}

static int
s_entry_cmp (const void *a, const void *b)
{
    return s_before (a, b) ? -1 : s_before (b, a) ? 1 : 0;
}

typedef struct {
    search_index_t *self;
    const search_query_t *query;
    s_plan_t plan;
    uint32_t viewer_org;
    uint8_t hidden;                     //  doc flags that hide a doc from this viewer
    //  filters: wanted packed values per facet field
    uint32_t *want[SEARCH_FACET_COUNT];
    size_t want_n[SEARCH_FACET_COUNT];
    const uint64_t *want_bits[SEARCH_FACET_COUNT][SEARCH_MAX_FACET_VALUES];
    bool want_dense[SEARCH_FACET_COUNT];        //  all wanted values have bitsets
    bool filtered;
    bool filter_hidden;                 //  a filter on a field teasers do not show
    uint8_t counted;                    //  bit per facet field being counted
    //  scoring
    double idf[SEARCH_MAX_QUERY_TERMS];
    float inv_b[SEARCH_FIELD_COUNT][256];
    double k1;
    double ub[256];             //  per postings byte: bound of t / (k1 + t), for pruning
    //  facets
    uint32_t *fcount[SEARCH_FACET_COUNT];
    uint32_t *fdocs;                    //  the matches, counted once scoring is done:
    size_t fdocs_n;                     //  from the front, and the teaser-only ones (see
    size_t tdocs_n;                     //  S_TEASER_FACETS) from the back
    //  paging
    bool has_cursor;
    s_entry_t cursor;
    s_heap_t heap;
    uint64_t total, after_cursor;
} s_run_t;

static void
s_cursor_next (s_cursor_t *c)
{
    if (c->p >= c->end) {
        c->done = true;
        c->doc = UINT32_MAX;
        return;
    }
    uint32_t delta;
    c->p = search_varint_get (c->p, &delta);
    c->doc += delta;
    c->tf = *c->p++;
}

//  True when doc d shows this viewer its teaser only (confidential, not theirs).
static inline bool
s_teaser_only (const s_run_t *run, uint32_t d)
{
    return (run->self->flags[d] & S_DOC_CONFIDENTIAL)
           && !search_doc_visible (run->self, d, run->viewer_org, run->query->viewer.agency);
}

static bool
s_filters_ok (const s_run_t *run, uint32_t d)
{
    const search_index_t *self = run->self;
    if (run->filter_hidden && s_teaser_only (run, d))
        return false;                   //  its teaser does not show the filtered field
    const uint32_t *v = self->fvals + self->foff[d], *end = self->fvals + self->foff[d + 1];
    for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
        if (!run->want_n[f])
            continue;
        if (run->want_dense[f]) {
            bool hit = false;
            for (size_t k = 0; k < run->want_n[f] && !hit; k++)
                hit = run->want_bits[f][k][d >> 6] >> (d & 63) & 1;
            if (!hit)
                return false;
            continue;
        }
        bool hit = false;
        if (self->multi[d] >> f & 1)
            for (const uint32_t *p = v; p < end && !hit; p++)
                for (size_t k = 0; k < run->want_n[f] && !hit; k++)
                    hit = *p == run->want[f][k];
        else
        if (self->single[f][d]) {
            uint32_t value = self->single[f][d] - 1u;
            uint32_t parent = search_facet_parent (self, (uint32_t) f, value);
            uint32_t packed = (uint32_t) f << S_FACET_SHIFT | value;
            uint32_t packed_parent = (uint32_t) f << S_FACET_SHIFT | parent;
            for (size_t k = 0; k < run->want_n[f] && !hit; k++)
                hit = packed == run->want[f][k]
                      || (parent != SEARCH_STRTAB_NONE && packed_parent == run->want[f][k]);
        }
        if (!hit)
            return false;
    }
    return true;
}

//  Facet counts of the single-valued fields in mask over docs[0..n), one field at a time:
//  near-sequential reads of the per-doc single-value arrays, with four lanes of counters
//  for small fields (the increments of the few values do not wait on each other).
static void
s_count_singles (s_run_t *run, const uint32_t *docs, size_t n, unsigned mask)
{
    const search_index_t *self = run->self;
    for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
        if (!run->fcount[f] || !(mask >> f & 1))
            continue;
        const uint16_t *single = self->single[f];
        uint32_t *count = run->fcount[f];
        uint32_t nv = self->facet_dict[f].count;
        if (nv < 256) {
            uint32_t lane[4][256];
            memset (lane, 0, sizeof lane);
            size_t i = 0;
            for (; i + 4 <= n; i += 4) {
                lane[0][single[docs[i]]]++;
                lane[1][single[docs[i + 1]]]++;
                lane[2][single[docs[i + 2]]]++;
                lane[3][single[docs[i + 3]]]++;
            }
            for (; i < n; i++)
                lane[0][single[docs[i]]]++;
            for (uint32_t v = 1; v <= nv; v++)
                count[v - 1] += lane[0][v] + lane[1][v] + lane[2][v] + lane[3][v];
        }
        else
            for (size_t i = 0; i < n; i++) {
                uint16_t v = single[docs[i]];
                if (v)
                    count[v - 1]++;
            }
    }
}

//  Facet counts of the multi-valued fields in mask over docs[0..n). The docs' fvals are
//  scattered over a large array (a cache miss each): prefetched S_PREFETCH docs ahead,
//  their offsets twice as far.
static void
s_count_multis (s_run_t *run, const uint32_t *docs, size_t n, uint8_t mask)
{
    const search_index_t *self = run->self;
    for (size_t i = 0; i < n; i++) {
        if (i + 2 * S_PREFETCH < n)
            __builtin_prefetch (&self->foff[docs[i + 2 * S_PREFETCH]]);
        if (i + S_PREFETCH < n && (self->multi[docs[i + S_PREFETCH]] & mask))
            __builtin_prefetch (self->fvals + self->foff[docs[i + S_PREFETCH]]);
        uint32_t d = docs[i];
        uint8_t multi = self->multi[d] & mask;
        if (!multi)
            continue;
        uint32_t end = self->foff[d + 1];
        for (uint32_t k = self->foff[d]; k < end; k++) {
            uint32_t v = self->fvals[k], f = v >> S_FACET_SHIFT;
            if (multi >> f & 1)
                run->fcount[f][v & S_FACET_VALUE_MASK]++;
        }
    }
}

//  Facet counts over the collected matches; the teaser-only ones count toward the fields
//  their teaser shows only.
static void
s_count_facets (s_run_t *run)
{
    const search_index_t *self = run->self;
    const uint32_t *teasers = run->fdocs + self->ndocs + 1 - run->tdocs_n;
    uint8_t teaser_mask = (uint8_t) (run->counted & S_TEASER_FACETS);
    s_count_singles (run, run->fdocs, run->fdocs_n, run->counted);
    s_count_singles (run, teasers, run->tdocs_n, teaser_mask);
    //  a single value's parent is implied: it gets its children's counts (docs with
    //  several values name their parents in fvals, counted below)
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        for (uint32_t v = 0; run->fcount[f] && v < self->facet_dict[f].count
                             && v < self->parent_cap[f]; v++)
            if (self->parent[f][v] && run->fcount[f][v])
                run->fcount[f][self->parent[f][v] - 1] += run->fcount[f][v];
    s_count_multis (run, run->fdocs, run->fdocs_n, run->counted);
    s_count_multis (run, teasers, run->tdocs_n, teaser_mask);
}

//  BM25F share of one term: idf * t / (k1 + t), t = sum of weighted,
//  length-normalised field frequencies (most postings have one field only).
static inline double
s_term_score (const s_run_t *run, uint32_t d, uint8_t tf, double idf)
{
    const uint8_t *norm = run->self->norms + (size_t) d * SEARCH_FIELD_COUNT;
    float t = 0;
    if (tf & 0x0F)
        t += (float) S_TF_BODY (tf) * run->inv_b[2][norm[2]];
    if (tf & 0xF0) {
        t += (float) S_TF_TITLE (tf) * run->inv_b[0][norm[0]];
        t += (float) S_TF_TAGS (tf) * run->inv_b[1][norm[1]];
    }
    return idf * t / (run->k1 + t);
}

static bool s_phrase_ok (s_run_t *run, const s_qword_t *w, uint32_t d, bool body_visible);

//  Adds a match to the facets' doc list: a teaser-only one to the back, when a field its
//  teaser hides is counted.
static inline void
s_facet_doc (s_run_t *run, uint32_t d)
{
    if ((run->counted & ~S_TEASER_FACETS) && s_teaser_only (run, d))
        run->fdocs[run->self->ndocs - run->tdocs_n++] = d;
    else
        run->fdocs[run->fdocs_n++] = d;
}

//  A match, counted: the total and the facets' doc list.
static inline void
s_count (s_run_t *run, uint32_t d)
{
    run->total++;
    if (run->counted)
        s_facet_doc (run, d);
}

//  A scored match offered to the page (when it ranks after the cursor).
static inline void
s_page (s_run_t *run, s_entry_t e)
{
    if (run->has_cursor && !s_before (&run->cursor, &e))
        return;
    run->after_cursor++;
    s_heap_push (&run->heap, e);
}

static void
s_collect (s_run_t *run, uint32_t d, uint32_t tier, double score)
{
    s_count (run, d);
    s_page (run, (s_entry_t) { d, tier, score });
}

//  A match that cannot enter the page: counted (total, facets, cursor) only.
//  Everything kept in the heap is after the cursor, so is a doc ranked below
//  its worst entry.
static inline void
s_count_only (s_run_t *run, uint32_t d)
{
    s_count (run, d);
    run->after_cursor++;
}

//  False when doc d is not shown to this viewer (dead, or hidden by its flags);
//  *teaser then tells whether the viewer matches its teaser fields only (a
//  confidential doc that is not theirs).
static inline bool
s_shown (const s_run_t *run, uint32_t d, bool *teaser)
{
    uint8_t flags = run->self->flags[d];
    if (!(flags & S_DOC_LIVE) || (flags & run->hidden))
        return false;
    *teaser = (flags & S_DOC_CONFIDENTIAL)
              && !search_doc_visible (run->self, d, run->viewer_org, run->query->viewer.agency);
    return true;
}

//  A teaser match: keeps the hits (terms hits[0..nm), postings bytes in tfs)
//  found in the title or tags, their bytes cut to those. Returns how many remain.
static size_t
s_teaser_hits (uint8_t *tfs, uint16_t *hits, size_t nm)
{
    size_t keep = 0;
    for (size_t k = 0; k < nm; k++)
        if ((tfs[hits[k]] &= 0xF0))
            hits[keep++] = hits[k];
    return keep;
}

//  The term mask of hits[0..nm).
static uint64_t
s_hits_mask (const uint16_t *hits, size_t nm)
{
    uint64_t mask = 0;
    for (size_t k = 0; k < nm; k++)
        mask |= s_bit (hits[k]);
    return mask;
}

static void
s_browse (s_run_t *run)
{
    search_index_t *self = run->self;
    for (uint32_t d = 0; d < self->ndocs; d++)
        if ((self->flags[d] & S_DOC_LIVE) && !(self->flags[d] & run->hidden)
        &&  (!run->filtered || s_filters_ok (run, d)))
            s_collect (run, d, 0, 0.0);
}

//  True when a doc that cannot enter the page (its tier below the worst kept
//  entry's, or its score bound below that entry's score) may skip scoring.
static inline bool
s_prunable (const s_run_t *run, uint32_t tier, double bound)
{
    if (!run->heap.max || run->heap.n < run->heap.max)
        return false;
    const s_entry_t *root = &run->heap.v[0];
    return tier < root->tier || (tier == root->tier && bound * (1.0 + 1e-5) < root->score);
}

//  True when the query terms in mask match word w.
static inline bool
s_word_hit (const s_qword_t *w, uint64_t mask)
{
    return (mask & w->any) || (w->all && (mask & w->all) == w->all);
}

//  How many query words the terms in mask match (phrases not verified).
static uint32_t
s_words_matched (const s_plan_t *plan, uint64_t mask)
{
    uint32_t matched = 0;
    for (size_t w = 0; w < plan->nwords; w++)
        matched += s_word_hit (&plan->words[w], mask);
    return matched;
}

//  Offers doc d — `tier` words matched through the terms hits[0..nm), their
//  postings bytes in tfs[term] — to the page, scored only when it can enter it:
//  once the page is full, a doc whose tier is below the worst kept entry's, or
//  whose score bound (the field lengths at their shortest) is below it, is not
//  (it ranks after the cursor). The caller counts the match.
static inline void
s_rank (s_run_t *run, uint32_t d, uint32_t tier, const uint8_t *tfs, const uint16_t *hits, size_t nm)
{
    if (run->heap.max && run->heap.n == run->heap.max) {
        double bound = 0;
        if (tier == run->heap.v[0].tier)
            for (size_t k = 0; k < nm; k++)
                bound += run->idf[hits[k]] * run->ub[tfs[hits[k]]];
        if (s_prunable (run, tier, bound)) {
            run->after_cursor++;
            return;
        }
    }
    s_entry_t e = { d, tier, 0.0 };
    for (size_t k = 0; k < nm; k++)
        e.score += s_term_score (run, d, tfs[hits[k]], run->idf[hits[k]]);
    s_page (run, e);
}

//  One query term, no phrase to check: the loop below without the merge.
//  Every match has the same tier (the words this term satisfies). Returns
//  false (nothing done) when a phrase needs checking.
static bool
s_score_one (s_run_t *run, s_cursor_t *c)
{
    const s_plan_t *plan = &run->plan;
    uint32_t tier = 0;
    if (plan->tiered) {
        for (size_t w = 0; w < plan->nwords; w++) {
            const s_qword_t *qw = &plan->words[w];
            bool hit = s_word_hit (qw, 1);
            if (hit && qw->phrase)
                return false;
            tier += hit;
        }
        if (tier == 0)
            return true;                //  no word matched: nothing does
    }
    double idf = run->idf[0];
    while (c->doc != UINT32_MAX) {
        uint32_t d = c->doc;
        uint8_t tf = c->tf;
        s_cursor_next (c);
        bool teaser;
        if (!s_shown (run, d, &teaser) || (teaser && !(tf &= 0xF0)))
            continue;                   //  outsiders match the teaser fields only
        if (run->filtered && !s_filters_ok (run, d))
            continue;
        if (s_prunable (run, tier, idf * run->ub[tf]))
            s_count_only (run, d);
        else
            s_collect (run, d, tier, s_term_score (run, d, tf, idf));
    }
    return true;
}

//  ------------------------------------------- all words first, by bitmap
//  Short queries of plain words (each one index term, no phrase): the page is
//  almost always filled by the docs that match every word, so those are found
//  by leapfrogging the posting lists and scored, while every posting is also
//  marked in a bitmap of the union, from which the total and the facets' doc
//  list come — no per-doc merge of all the lists, and no per-doc check at all
//  when every doc is live, public and unfiltered (the total is then a
//  popcount). When the docs matching every word cannot fill the page, the
//  general loop below runs instead.

#define S_AND_MAX_TERMS 8

//  True when the plan is plain words, one term each (term t = word t).
static bool
s_plain_words (const s_plan_t *plan)
{
    if (!plan->tiered || plan->nterms < 2 || plan->nterms > S_AND_MAX_TERMS
        || plan->nwords != plan->nterms)
        return false;
    for (size_t w = 0; w < plan->nwords; w++)
        if (plan->words[w].phrase || plan->words[w].all || plan->words[w].any != s_bit ((int) w))
            return false;
    return true;
}

typedef struct {
    uint64_t *any;              //  docs with some word, in any field
    uint64_t *teaser;           //  ... in the title or tags (NULL: no doc needs it)
    size_t words;
} s_union_t;

static inline void
s_mark (const s_union_t *u, const s_cursor_t *c)
{
    uint64_t bit = (uint64_t) 1 << (c->doc & 63);
    u->any[c->doc >> 6] |= bit;
    if (u->teaser && (c->tf & 0xF0))
        u->teaser[c->doc >> 6] |= bit;
}

//  A doc matching every word: scored onto the page unless it cannot enter it.
//  Returns true when it counts as such a match (visible, filters pass).
static bool
s_and_offer (s_run_t *run, uint32_t d, const s_cursor_t *cur, size_t nt)
{
    bool teaser;
    if (!s_shown (run, d, &teaser))
        return false;
    uint8_t tfs[S_AND_MAX_TERMS];
    for (size_t t = 0; t < nt; t++)
        if (!(tfs[t] = teaser ? cur[t].tf & 0xF0 : cur[t].tf))
            return false;               //  a word only in the hidden body
    if (run->filtered && !s_filters_ok (run, d))
        return false;
    _Static_assert (S_AND_MAX_TERMS == 8, "terms lists every term index");
    static const uint16_t terms[S_AND_MAX_TERMS] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    s_rank (run, d, (uint32_t) nt, tfs, terms, nt);    //  counted by s_and_count
    return true;
}

//  Counts the union's matches (total, facets' doc list) in doc order.
static void
s_and_count (s_run_t *run, const s_union_t *u)
{
    search_index_t *self = run->self;
    if (!u->teaser && !run->filtered && !run->counted) {
        for (size_t w = 0; w < u->words; w++)
            run->total += (uint64_t) __builtin_popcountll (u->any[w]);
        return;
    }
    for (size_t w = 0; w < u->words; w++)
        for (uint64_t bits = u->any[w]; bits; bits &= bits - 1) {
            uint32_t d = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
            if (u->teaser) {
                uint8_t flags = self->flags[d];
                if (!(flags & S_DOC_LIVE) || (flags & run->hidden))
                    continue;
                if ((flags & S_DOC_CONFIDENTIAL) && !(u->teaser[w] >> (d & 63) & 1)
                    && !search_doc_visible (self, d, run->viewer_org, run->query->viewer.agency))
                    continue;
            }
            if (run->filtered && !s_filters_ok (run, d))
                continue;
            run->total++;
            if (run->counted)
                s_facet_doc (run, d);
        }
}

//  Leapfrogs the lists to the docs with every word (offered to the page),
//  marking every posting in the union on the way. Returns how many counted.
static uint64_t
s_and_walk (s_run_t *run, s_cursor_t *cur, size_t nt, const s_union_t *u)
{
    uint64_t top = 0;
    for (;;) {
        uint32_t d = 0;
        for (size_t t = 0; t < nt; t++)
            d = cur[t].doc > d ? cur[t].doc : d;
        if (d == UINT32_MAX)
            break;                      //  a list is done: no more docs with every word
        bool all = true;
        for (size_t t = 0; t < nt; t++) {
            while (cur[t].doc < d) {
                s_mark (u, &cur[t]);
                s_cursor_next (&cur[t]);
            }
            all &= cur[t].doc == d;
        }
        if (!all)
            continue;
        top += s_and_offer (run, d, cur, nt);
        for (size_t t = 0; t < nt; t++) {
            s_mark (u, &cur[t]);
            s_cursor_next (&cur[t]);
        }
    }
    for (size_t t = 0; t < nt; t++)
        for (; cur[t].doc != UINT32_MAX; s_cursor_next (&cur[t]))
            s_mark (u, &cur[t]);
    return top;
}

//  The fast path. Returns false (and leaves the run as it found it) when it
//  does not apply or the docs matching every word cannot fill the page.
static bool
s_score_and_first (s_run_t *run)
{
    const s_plan_t *plan = &run->plan;
    size_t nt = plan->nterms;
    if (!s_plain_words (plan) || (run->has_cursor && run->cursor.tier != nt))
        return false;
    search_index_t *self = run->self;
    //  every doc live and public: nothing to check per doc
    bool checks = self->dead || self->restricted;
    s_union_t u = { .words = ((size_t) self->ndocs + 63) / 64 };
    u.any = calloc ((checks ? 2 : 1) * u.words + 1, sizeof *u.any);
    if (!u.any)
        return false;
    u.teaser = checks ? u.any + u.words : NULL;
    s_cursor_t cur[S_AND_MAX_TERMS];
    for (size_t t = 0; t < nt; t++) {
        const search_postings_t *p = &self->postings[plan->terms[t].tid];
        cur[t] = (s_cursor_t) { .p = p->buf, .end = p->buf + p->len };
        s_cursor_next (&cur[t]);
    }
    uint64_t top = s_and_walk (run, cur, nt, &u);
    s_and_count (run, &u);
    free (u.any);
    if (run->heap.n < run->heap.max && run->total > top) {
        run->heap.n = 0;                //  the page needs docs with fewer words
        run->total = run->after_cursor = run->fdocs_n = run->tdocs_n = 0;
        return false;
    }
    run->after_cursor += run->total - top;      //  fewer words: ranked after the cursor
    return true;
}

//  ------------------------------------------------------- by windows
//  Without phrases to verify, the words a doc matches depend on its term mask
//  alone (a table lookup), and the lists need no per-doc merge: each list in
//  turn is decoded into a window of S_WINDOW docs (which terms hold each doc,
//  and their postings bytes), then the window's docs are visited in doc order
//  and go through the same checks and s_rank as in the general loop below
//  (same scores, same totals, same page).

#define S_WINDOW_BITS 14
#define S_WINDOW (1u << S_WINDOW_BITS)

typedef struct {
    uint64_t bits[S_WINDOW / 64];       //  docs of the window in some list
    uint16_t mask[S_WINDOW];            //  which terms hold each doc
    uint8_t tf[S_TIER_TABLE_BITS][S_WINDOW];    //  their postings bytes
} s_window_t;

//  Visits the window's docs (base + i) in doc order; tiers: the words a term
//  mask matches (NULL: an untiered query, every match tier 0).
static void
s_window_visit (s_run_t *run, s_window_t *win, uint32_t base, const uint8_t *tiers)
{
    uint8_t tfs[S_TIER_TABLE_BITS];
    uint16_t hits[S_TIER_TABLE_BITS];
    for (size_t w = 0; w < S_WINDOW / 64; w++)
        for (uint64_t bits = win->bits[w]; bits; bits &= bits - 1) {
            uint32_t i = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
            uint32_t d = base + i;
            size_t nm = 0;
            for (unsigned m = win->mask[i]; m; m &= m - 1) {
                unsigned t = (unsigned) __builtin_ctz (m);
                tfs[t] = win->tf[t][i];
                hits[nm++] = (uint16_t) t;
            }
            win->mask[i] = 0;
            bool teaser;
            if (!s_shown (run, d, &teaser))
                continue;
            if (teaser)
                nm = s_teaser_hits (tfs, hits, nm);
            uint32_t tier = tiers ? tiers[s_hits_mask (hits, nm)] : 0;
            if (!nm || (tiers && !tier) || (run->filtered && !s_filters_ok (run, d)))
                continue;
            s_count (run, d);
            s_rank (run, d, tier, tfs, hits, nm);
        }
    memset (win->bits, 0, sizeof win->bits);
}

//  The window path (see above) over the lists at cur. Returns false (nothing
//  done) when it does not apply — phrases to verify, more terms than a table
//  holds — or when out of memory.
static bool
s_score_windows (s_run_t *run, s_cursor_t *cur)
{
    const s_plan_t *plan = &run->plan;
    size_t nt = plan->nterms;
    bool table = nt <= S_TIER_TABLE_BITS;
    for (size_t w = 0; w < plan->nwords && table; w++)
        table = !(plan->words[w].phrase && plan->tiered);
    s_window_t *win = table ? malloc (sizeof *win) : NULL;
    if (!win)
        return false;
    memset (win->bits, 0, sizeof win->bits);    //  tf is read where mask says only
    memset (win->mask, 0, sizeof win->mask);
    uint8_t tiers[1u << S_TIER_TABLE_BITS];
    for (uint64_t m = 0; plan->tiered && m < (1u << nt); m++)
        tiers[m] = (uint8_t) s_words_matched (plan, m);
    uint32_t ndocs = run->self->ndocs;
    for (uint32_t base = 0; base < ndocs; base += S_WINDOW) {
        uint32_t end = base + S_WINDOW;
        for (size_t t = 0; t < nt; t++)
            for (s_cursor_t *c = &cur[t]; c->doc < end; s_cursor_next (c)) {
                uint32_t i = c->doc - base;
                win->bits[i >> 6] |= (uint64_t) 1 << (i & 63);
                win->mask[i] |= (uint16_t) (1u << t);
                win->tf[t][i] = c->tf;
            }
        s_window_visit (run, win, base, plan->tiered ? tiers : NULL);
    }
    free (win);
    return true;
}

//  The general loop: the lists merged doc by doc, each doc's words checked and
//  its phrases verified (docs without every required phrase skipped).
static void
s_score_merge (s_run_t *run, s_cursor_t *cur, uint64_t required)
{
    const s_plan_t *plan = &run->plan;
    size_t nt = plan->nterms;
    uint8_t tfs[SEARCH_MAX_QUERY_TERMS];
    uint16_t hits[SEARCH_MAX_QUERY_TERMS];
    for (;;) {
        uint32_t d = cur[0].doc;        //  nt ≥ 1 here
        for (size_t t = 1; t < nt; t++)
            if (cur[t].doc < d)
                d = cur[t].doc;
        if (d == UINT32_MAX)
            break;
        size_t nm = 0;
        for (size_t t = 0; t < nt; t++)
            if (cur[t].doc == d) {
                tfs[t] = cur[t].tf;
                hits[nm++] = (uint16_t) t;
                s_cursor_next (&cur[t]);
            }
        bool teaser;
        if (!s_shown (run, d, &teaser))
            continue;
        if (teaser)                     //  outsiders match the teaser fields only
            nm = s_teaser_hits (tfs, hits, nm);
        uint64_t mask = s_hits_mask (hits, nm);
        if (!nm || (mask & required) != required)
            continue;
        if (run->filtered && !s_filters_ok (run, d))
            continue;
        uint32_t matched = 0;
        bool phrases_ok = true;
        for (size_t w = 0; w < plan->nwords; w++) {
            const s_qword_t *qw = &plan->words[w];
            bool hit = s_word_hit (qw, mask);
            if (hit && qw->phrase && plan->tiered && !s_phrase_ok (run, qw, d, !teaser))
                hit = false, phrases_ok = false;
            matched += hit;
        }
        if (!phrases_ok || (plan->tiered && matched == 0))
            continue;
        s_count (run, d);
        s_rank (run, d, plan->tiered ? matched : 0, tfs, hits, nm);
    }
}

static void
s_score_all (s_run_t *run)
{
    if (s_score_and_first (run))
        return;
    search_index_t *self = run->self;
    s_plan_t *plan = &run->plan;
    size_t nt = plan->nterms;
    if (nt == 0)
        return;                         //  no query word is in the index
    s_cursor_t cur[SEARCH_MAX_QUERY_TERMS];
    for (size_t t = 0; t < nt; t++) {
        const search_postings_t *p = &self->postings[plan->terms[t].tid];
        cur[t] = (s_cursor_t) { .p = p->buf, .end = p->buf + p->len };
        s_cursor_next (&cur[t]);
    }
    uint64_t required = 0;          //  phrases are required in short queries only
    for (size_t w = 0; w < plan->nwords && plan->tiered; w++)
        if (plan->words[w].phrase)
            required |= plan->words[w].all;
    if (nt == 1 && !required && s_score_one (run, &cur[0]))
        return;
    if (!s_score_windows (run, cur))
        s_score_merge (run, cur, required);
}

//  ------------------------------------------------------------- phrases

static bool
s_seq_at (const search_index_t *self, const oim_tokens_t *toks, const uint32_t *words,
          size_t nw, size_t at, const s_qword_t *w)
{
    //  word tokens have increasing, distinct positions; stopwords leave gaps
    uint32_t pos0 = oim_tokens_get (toks, words[at])->pos;
    size_t i = at;
    for (uint32_t k = 0; k < w->seq_len; k++) {
        while (i < nw && oim_tokens_get (toks, words[i])->pos < pos0 + w->rel[k])
            i++;
        if (i == nw)
            return false;
        const oim_token_t *tok = oim_tokens_get (toks, words[i]);
        uint32_t tid = w->seq[k];
        if (tok->pos != pos0 + w->rel[k])
            return false;
        if (tok->term_len != self->terms.lens[tid]
            || memcmp (tok->term, search_strtab_str (&self->terms, tid), tok->term_len))
            return false;
    }
    return true;
}

static bool
s_phrase_ok (s_run_t *run, const s_qword_t *w, uint32_t d, bool body_visible)
{
    search_index_t *self = run->self;
    const char *fields[SEARCH_FIELD_COUNT];
    search_doc_text (self, d, &fields[0], &fields[1], &fields[2]);
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++) {
        if (f == SEARCH_FIELD_BODY && !body_visible)
            break;
        oim_tokens_t *text = run->plan.scratch.text;
        int n = oim_analyze (self->analyzer, fields[f], strlen (fields[f]), 100000, text);
        if (n <= 0)
            continue;
        uint32_t *words = malloc ((size_t) n * sizeof *words);
        if (!words)
            return false;
        size_t nw = 0;
        for (int i = 0; i < n; i++)
            if (oim_tokens_get (text, (size_t) i)->kind == OIM_TOKEN_WORD)
                words[nw++] = (uint32_t) i;
        bool found = false;
        for (size_t i = 0; i < nw && !found; i++)
            found = s_seq_at (self, text, words, nw, i, w);
        free (words);
        if (found)
            return true;
    }
    return false;
}

//  ------------------------------------------------------------- snippets

typedef struct {
    char *s;
    size_t len, cap;
    bool oom;
} s_buf_t;

static void
s_put (s_buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc (b->s, cap);
        if (!grown) {
            b->oom = true;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    memcpy (b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void
s_put_escaped (s_buf_t *b, const char *s, size_t n)
{
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;"
                        : s[i] == '"' ? "&quot;" : s[i] == '\n' ? " " : NULL;
        if (rep) {
            s_put (b, s + from, i - from);
            s_put (b, rep, strlen (rep));
            from = i + 1;
        }
    }
    s_put (b, s + from, n - from);
}

static bool
s_plan_has (const search_index_t *self, const s_plan_t *plan, const oim_token_t *tok)
{
    //  the query's few terms compared directly: cheaper than a dictionary lookup per token
    for (size_t i = 0; i < plan->nterms; i++) {
        uint32_t tid = plan->terms[i].tid;
        if (self->terms.lens[tid] == tok->term_len
            && memcmp (search_strtab_str (&self->terms, tid), tok->term, tok->term_len) == 0)
            return true;
    }
    return false;
}

//  Escaped copy of text[from, to) with matched tokens in <em>…</em>, and "…"
//  where the range cuts the text. Offsets come from the analyser, and from/to
//  are code point boundaries, so the output is valid UTF-8.
static char *
s_highlight (search_index_t *self, const s_plan_t *plan, const char *text, size_t len,
             size_t from, size_t to)
{
    const char *slice = text + from;
    int n = oim_analyze (self->analyzer, slice, to - from, S_SNIPPET_MAX_TOKENS, plan->scratch.text);
    const oim_tokens_t *toks = plan->scratch.text;
    s_buf_t b = { 0 };
    s_put (&b, "", 0);
    if (from > 0)
        s_put (&b, "\xE2\x80\xA6", 3);          //  …
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        const oim_token_t *tok = oim_tokens_get (toks, (size_t) i);
        if (!s_plan_has (self, plan, tok))
            continue;
        size_t s = tok->byte_start, e = tok->byte_end;
        while (i + 1 < n && oim_tokens_get (toks, (size_t) i + 1)->byte_start < e) {
            const oim_token_t *next = oim_tokens_get (toks, (size_t) i + 1);
            if (!s_plan_has (self, plan, next))
                break;
            i++;                                //  merge overlapping bigrams
            e = next->byte_end > e ? next->byte_end : e;
        }
        if (e <= at)
            continue;
        if (s < at)
            s = at;
        s_put_escaped (&b, slice + at, s - at);
        s_put (&b, "<em>", 4);
        s_put_escaped (&b, slice + s, e - s);
        s_put (&b, "</em>", 5);
        at = e;
    }
    s_put_escaped (&b, slice + at, to - from - at);
    if (to < len)
        s_put (&b, "\xE2\x80\xA6", 3);
    if (b.oom) {
        free (b.s);
        return NULL;
    }
    return b.s;
}

static size_t
s_cp_start (const char *text, size_t at)
{
    while (at > 0 && ((unsigned char) text[at] & 0xC0) == 0x80)
        at--;
    return at;
}

//  The snippet window: S_SNIPPET_BYTES around the spot where most query terms
//  occur close together. Candidate spots come from a case-insensitive search
//  for each term's first bytes (a stem is nearly a prefix of its words), so
//  only the window is analysed, however long the body.
static char *
s_snippet (search_index_t *self, const s_plan_t *plan, const char *text)
{
    size_t len = strlen (text);
    size_t offs[S_SNIPPET_TERMS];
    size_t n = 0;
    for (size_t t = 0; t < plan->nterms && n < S_SNIPPET_TERMS; t++) {
        uint32_t tid = plan->terms[t].tid;
        size_t tl = self->terms.lens[tid];
        size_t probe = tl > 5 ? tl - 2 : tl;
        char key[OIM_TERM_MAX_BYTES + 1];
        memcpy (key, search_strtab_str (&self->terms, tid), probe);
        key[probe] = 0;
        const char *hit = strcasestr (text, key);
        if (hit)
            offs[n++] = (size_t) (hit - text);
    }
    size_t anchor = 0;
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        int count = 0;
        for (size_t k = 0; k < n; k++)
            count += offs[k] >= offs[i] && offs[k] < offs[i] + S_SNIPPET_BYTES * 2 / 3;
        if (count > best || (count == best && offs[i] < anchor)) {
            best = count;
            anchor = offs[i];
        }
    }
    size_t from = anchor > S_SNIPPET_BYTES / 6 ? anchor - S_SNIPPET_BYTES / 6 : 0;
    for (size_t k = 0; from > 0 && k < 24 && text[from - 1] != ' '; k++)
        from--;                                 //  start at a word when one is near
    from = s_cp_start (text, from);
    size_t to = from + S_SNIPPET_BYTES >= len ? len : s_cp_start (text, from + S_SNIPPET_BYTES);
    for (size_t k = 0; to < len && to > from && k < 24 && text[to] != ' '; k++)
        to = s_cp_start (text, to - 1);
    return s_highlight (self, plan, text, len, from, to);
}

//  --------------------------------------------------------------- search

static int
s_cursor_parse (const search_index_t *self, const char *text, s_entry_t *out)
{
    uint64_t gen, bits;
    unsigned tier, doc;
    int used = 0;
    if (strlen (text) > 64
        || sscanf (text, "%" SCNx64 ".%x.%" SCNx64 ".%x%n", &gen, &tier, &bits, &doc, &used) != 4
        || text[used] != 0 || gen != self->generation || doc > self->ndocs)
        return -1;
    double score;
    memcpy (&score, &bits, sizeof score);
    if (isnan (score))
        return -1;
    *out = (s_entry_t) { doc, tier, score };
    return 0;
}

static char *
s_cursor_make (const search_index_t *self, const s_entry_t *e)
{
    uint64_t bits;
    memcpy (&bits, &e->score, sizeof bits);
    char buf[80];
    snprintf (buf, sizeof buf, "%" PRIx64 ".%x.%" PRIx64 ".%x", self->generation, e->tier, bits, e->doc);
    return strdup (buf);
}

static void
s_run_free (s_run_t *run)
{
    for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
        free (run->want[f]);
        free (run->fcount[f]);
    }
    free (run->fdocs);
    free (run->heap.v);
    oim_tokens_destroy (&run->plan.scratch.query);
    oim_tokens_destroy (&run->plan.scratch.text);
}

//  Resolves filters to packed facet values. Returns false when a filtered
//  field has no known value (nothing can match).
static bool
s_run_filters (s_run_t *run)
{
    search_index_t *self = run->self;
    const search_query_t *q = run->query;
    bool possible = true;
    for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
        size_t n = q->filter_counts[f];
        if (!n || !q->filters[f])
            continue;
        if (n > SEARCH_MAX_FACET_VALUES)
            n = SEARCH_MAX_FACET_VALUES;
        run->want[f] = malloc (n * sizeof (uint32_t));
        if (!run->want[f])
            return false;
        for (size_t i = 0; i < n; i++) {
            const char *v = q->filters[f][i];
            char *norm = v ? oim_utf8_nfc_n (v, strlen (v)) : NULL;
            uint32_t id = norm ? search_strtab_find (&self->facet_dict[f], norm, strlen (norm))
                               : SEARCH_STRTAB_NONE;
            free (norm);
            if (id != SEARCH_STRTAB_NONE)
                run->want[f][run->want_n[f]++] = (uint32_t) f << S_FACET_SHIFT | id;
        }
        run->want_dense[f] = true;
        for (size_t k = 0; k < run->want_n[f]; k++) {
            uint32_t id = run->want[f][k] & S_FACET_VALUE_MASK;
            run->want_bits[f][k] = id < S_DENSE_VALUES ? self->vbits[f][id] : NULL;
            run->want_dense[f] &= run->want_bits[f][k] != NULL;
        }
        if (run->want_n[f] == 0)
            possible = false;
        run->filtered = true;
        run->filter_hidden |= !(S_TEASER_FACETS >> f & 1);
    }
    return possible;
}

static void
s_run_weights (s_run_t *run)
{
    search_index_t *self = run->self;
    double n_docs = (double) (self->live ? self->live : 1);
    for (size_t t = 0; t < run->plan.nterms; t++) {
        double df = self->postings[run->plan.terms[t].tid].df;
        if (df > n_docs)
            df = n_docs;
        run->idf[t] = run->plan.terms[t].weight * log (1.0 + (n_docs - df + 0.5) / (df + 0.5));
    }
    run->k1 = self->cfg.k1;
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++) {
        double avg = self->live ? (double) self->len_sum[f] / (double) self->live : 1.0;
        if (avg < 1.0)
            avg = 1.0;
        double b = self->cfg.b[f];
        for (int i = 0; i < 256; i++)
            run->inv_b[f][i] = (float) (self->cfg.weight[f] / (1.0 - b + b * self->norm_len[i] / avg));
    }
    //  Score bound per postings byte: each field's weight at its largest
    //  (inv_b falls with the length; norm 0 is the shortest).
    double top[SEARCH_FIELD_COUNT];
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++) {
        top[f] = 0;
        for (int i = 0; i < 256; i++)
            if (run->inv_b[f][i] > top[f])
                top[f] = run->inv_b[f][i];
    }
    for (int tf = 0; tf < 256; tf++) {
        double t = S_TF_TITLE (tf) * top[0] + S_TF_TAGS (tf) * top[1] + S_TF_BODY (tf) * top[2];
        double g = t / (run->k1 + t);
        run->ub[tf] = isfinite (g) && g <= 1.0 ? g : 1.0;
    }
}

static int
s_run_init (s_run_t *run, search_index_t *self, const search_query_t *query)
{
    memset (run, 0, sizeof *run);
    run->self = self;
    run->query = query;
    const char *org = query->viewer.org_id;
    run->viewer_org = org ? search_strtab_find (&self->orgs, org, strlen (org)) : SEARCH_STRTAB_NONE;
    run->hidden = org || query->viewer.agency ? 0 : S_DOC_MEMBERS;
    size_t limit = query->limit ? query->limit : 20;
    if (limit > SEARCH_MAX_LIMIT)
        return -2;
    run->heap.max = limit;
    run->heap.v = malloc (limit * sizeof *run->heap.v);
    if (!run->heap.v)
        return -1;
    if (query->cursor) {
        if (s_cursor_parse (self, query->cursor, &run->cursor))
            return -2;
        run->has_cursor = true;
    }
    if (!query->no_facets) {
        for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
            if (query->facet_mask && !(query->facet_mask & 1u << f))
                continue;
            run->fcount[f] = calloc (self->facet_dict[f].count + 1, sizeof (uint32_t));
            if (!run->fcount[f])
                return -1;
            run->counted |= (uint8_t) (1u << f);
        }
        //  each doc is collected at most once
        run->fdocs = run->counted ? malloc ((self->ndocs + 1) * sizeof (uint32_t)) : NULL;
        if (run->counted && !run->fdocs)
            return -1;
    }
    s_scratch_t scratch = { oim_tokens_new (), oim_tokens_new () };
    run->plan.scratch = scratch;        //  freed by s_run_free, even when parsing fails
    if (!scratch.query || !scratch.text
        || s_parse (self, query->q, query->prefix_last, query->pure_bm25, scratch, &run->plan))
        return -1;
    if (!s_run_filters (run))
        run->plan.impossible = true;
    s_run_weights (run);
    return 0;
}

static int
s_facets_result (const s_run_t *run, search_result_t *res, size_t limit)
{
    const search_index_t *self = run->self;
    for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
        if (!run->fcount[f])
            continue;
        //  top `limit` values by count (ties: lower id first), insertion into a small array
        uint32_t ids[SEARCH_MAX_LIMIT];
        size_t n = 0;
        for (uint32_t v = 0; v < self->facet_dict[f].count; v++) {
            uint32_t c = run->fcount[f][v];
            if (!c || (n == limit && c <= run->fcount[f][ids[n - 1]]))
                continue;
            size_t i = n < limit ? n++ : n - 1;
            while (i > 0 && run->fcount[f][ids[i - 1]] < c) {
                ids[i] = ids[i - 1];
                i--;
            }
            ids[i] = v;
        }
        if (!n)
            continue;
        res->facets[f] = calloc (n, sizeof *res->facets[f]);
        if (!res->facets[f])
            return -1;
        res->facet_sizes[f] = n;
        for (size_t i = 0; i < n; i++) {
            res->facets[f][i].value = strdup (search_strtab_str (&self->facet_dict[f], ids[i]));
            res->facets[f][i].count = run->fcount[f][ids[i]];
            if (!res->facets[f][i].value)
                return -1;
        }
    }
    return 0;
}

static int
s_hit_fill (s_run_t *run, search_hit_t *hit, const s_entry_t *e)
{
    search_index_t *self = run->self;
    const char *title, *tags, *body;
    search_doc_text (self, e->doc, &title, &tags, &body);
    hit->id = strdup (search_strtab_str (&self->ids, self->ext[e->doc]));
    hit->type = (search_doc_type_t) self->dtype[e->doc];
    hit->score = e->score;
    hit->matched_words = e->tier;
    hit->title = strdup (title);
    if (!hit->id || !hit->title)
        return -1;
    if (run->query->no_snippets)
        return 0;
    bool body_visible = search_doc_visible (self, e->doc, run->viewer_org, run->query->viewer.agency);
    hit->title_html = s_highlight (self, &run->plan, title, strlen (title), 0, strlen (title));
    hit->snippet_html = s_snippet (self, &run->plan, body_visible && *body ? body : tags);
    return hit->title_html && hit->snippet_html ? 0 : -1;
}

static int
s_result_build (s_run_t *run, search_result_t *res)
{
    res->total = run->total;
    size_t n = run->heap.n;
    qsort (run->heap.v, n, sizeof *run->heap.v, s_entry_cmp);
    res->hits = n ? calloc (n, sizeof *res->hits) : NULL;
    if (n && !res->hits)
        return -1;
    res->hit_count = n;
    for (size_t i = 0; i < n; i++)
        if (s_hit_fill (run, &res->hits[i], &run->heap.v[i]))
            return -1;
    if (run->after_cursor > n && n > 0) {
        res->next_cursor = s_cursor_make (run->self, &run->heap.v[n - 1]);
        if (!res->next_cursor)
            return -1;
    }
    size_t flimit = run->query->facet_limit ? run->query->facet_limit : 20;
    if (flimit > SEARCH_MAX_LIMIT)
        flimit = SEARCH_MAX_LIMIT;
    return s_facets_result (run, res, flimit);
}

int
search_index_search (search_index_t *self, const search_query_t *query,
                     search_result_t **result_p)
{
    assert (self);
    assert (query);
    assert (result_p);
    *result_p = NULL;
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    s_run_t run;
    int rc = s_run_init (&run, self, query);
    search_result_t *res = NULL;
    if (rc == 0) {
        if (!run.plan.impossible) {
            if (run.plan.browse)
                s_browse (&run);
            else
                s_score_all (&run);
            if (run.counted)
                s_count_facets (&run);
        }
        res = calloc (1, sizeof *res);
        if (!res || s_result_build (&run, res)) {
            search_result_destroy (&res);
            rc = -1;
        }
    }
    s_run_free (&run);
    if (rc == 0) {
        clock_gettime (CLOCK_MONOTONIC, &t1);
        res->took_ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;
        *result_p = res;
    }
    return rc;
}

void
search_result_destroy (search_result_t **self_p)
{
    assert (self_p);
    search_result_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->hit_count; i++) {
        free (self->hits[i].id);
        free (self->hits[i].title);
        free (self->hits[i].title_html);
        free (self->hits[i].snippet_html);
    }
    free (self->hits);
    for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
        for (size_t i = 0; i < self->facet_sizes[f]; i++)
            free (self->facets[f][i].value);
        free (self->facets[f]);
    }
    free (self->next_cursor);
    free (self);
    *self_p = NULL;
}

//  ------------------------------------------------------------- explain

//  tf byte of doc d in a posting list, 0 when absent.
static uint8_t
s_posting_tf (const search_postings_t *p, uint32_t d)
{
    s_cursor_t c = { .p = p->buf, .end = p->buf + p->len };
    for (s_cursor_next (&c); !c.done && c.doc < d; s_cursor_next (&c))
        ;
    return !c.done && c.doc == d ? c.tf : 0;
}

int
search_index_explain (search_index_t *self, const char *query, const char *doc_id,
                      const search_viewer_t *viewer, search_explain_t *out)
{
    assert (self);
    assert (out);
    memset (out, 0, sizeof *out);
    uint32_t idid = doc_id ? search_strtab_find (&self->ids, doc_id, strlen (doc_id)) : SEARCH_STRTAB_NONE;
    if (idid == SEARCH_STRTAB_NONE || self->id_doc[idid] == S_DOC_NONE)
        return 1;
    uint32_t d = self->id_doc[idid];
    search_query_t q = { .q = query, .limit = 1, .no_facets = true, .pure_bm25 = true };
    if (viewer)
        q.viewer = *viewer;
    s_run_t run;
    int rc = s_run_init (&run, self, &q);
    if (rc) {
        s_run_free (&run);
        return -1;
    }
    bool body_visible = search_doc_visible (self, d, run.viewer_org, q.viewer.agency);
    out->terms = calloc (run.plan.nterms + 1, sizeof *out->terms);
    if (!out->terms) {
        s_run_free (&run);
        return -1;
    }
    for (size_t t = 0; t < run.plan.nterms; t++) {
        const s_qterm_t *qt = &run.plan.terms[t];
        uint8_t tf = s_posting_tf (&self->postings[qt->tid], d);
        if (!body_visible)
            tf &= 0xF0;
        if (!tf)
            continue;
        const s_qword_t *w = &run.plan.words[qt->word];
        search_term_score_t *ts = &out->terms[out->term_count++];
        ts->term = strdup (search_strtab_str (&self->terms, qt->tid));
        ts->word = strndup (query + w->surface_start, w->surface_end - w->surface_start);
        ts->idf = run.idf[t];
        ts->tf[0] = S_TF_TITLE (tf);
        ts->tf[1] = S_TF_TAGS (tf);
        ts->tf[2] = S_TF_BODY (tf);
        ts->contribution = s_term_score (&run, d, tf, run.idf[t]);
        out->score += ts->contribution;
        if (!ts->term || !ts->word) {
            s_run_free (&run);
            search_explain_free (out);
            return -1;
        }
    }
    s_run_free (&run);
    return 0;
}

void
search_explain_free (search_explain_t *explain)
{
    if (!explain)
        return;
    for (size_t i = 0; i < explain->term_count; i++) {
        free (explain->terms[i].term);
        free (explain->terms[i].word);
    }
    free (explain->terms);
    memset (explain, 0, sizeof *explain);
}
