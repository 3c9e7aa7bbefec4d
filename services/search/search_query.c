/*  search_query.c — running a query (search_index_search): the run's set-up
    (viewer, page size, cursor, filters), the candidates, the top-k page, the
    facet counts and the result. Every matching document is visited once, in
    doc order (for totals and facet counts), and a bounded heap keeps the
    page; the posting lists are read window by window when no phrase needs
    verifying, merged document by document when one does, and leapfrogged
    for plain multi-word queries (all words first). The plan comes from
    search_parse.c, tiers and scores from search_score.c, highlights from
    search_snippet.c.
*/
#include "search_run.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_PREFETCH 16                   //  docs ahead in the facet count loop
#define S_TIER_TABLE_BITS 10            //  queries of up to 10 terms: tiers by table
//  The facet fields a confidential doc's teaser shows (search_index.h, Visibility): for a
//  viewer who sees only the teaser, the doc counts toward and filters on these alone.
#define S_TEASER_FACETS ((1u << SEARCH_FACET_TYPE) | (1u << SEARCH_FACET_TAG) \
                         | (1u << SEARCH_FACET_STATUS))

//  ------------------------------------------------------------ the page (top k)

//  a is ranked before b
static bool
s_before (const search_entry_t *a, const search_entry_t *b)
{
    if (a->tier != b->tier)
        return a->tier > b->tier;
    if (a->score != b->score)
        return a->score > b->score;
    return a->doc < b->doc;
}

//  Keeps e when it ranks among the heap's max best (the worst kept at the root).
static void
s_heap_push (search_heap_t *h, search_entry_t e)
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
            search_entry_t t = h->v[i];
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
        search_entry_t t = h->v[i];
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

//  ----------------------------------------------------------------- filters

//  True when doc d shows this viewer its teaser only (confidential, not theirs).
static inline bool
s_teaser_only (const search_run_t *run, uint32_t d)
{
    return (run->self->flags[d] & S_DOC_CONFIDENTIAL)
           && !search_doc_visible (run->self, d, run->viewer_org, run->query->viewer.agency);
}

//  True when doc d passes the run's filters (run->filtered).
static bool
s_filters_ok (const search_run_t *run, uint32_t d)
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

//  ------------------------------------------------------------ facet counts

//  Facet counts of the single-valued fields in mask over docs[0..n), one field at a time:
//  near-sequential reads of the per-doc single-value arrays, with four lanes of counters
//  for small fields (the increments of the few values do not wait on each other).
static void
s_count_singles (search_run_t *run, const uint32_t *docs, size_t n, unsigned mask)
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
s_count_multis (search_run_t *run, const uint32_t *docs, size_t n, uint8_t mask)
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
s_count_facets (search_run_t *run)
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

//  ----------------------------------------------------------------- matches

//  Adds a match to the facets' doc list: a teaser-only one to the back, when a field its
//  teaser hides is counted.
static inline void
s_facet_doc (search_run_t *run, uint32_t d)
{
    if ((run->counted & ~S_TEASER_FACETS) && s_teaser_only (run, d))
        run->fdocs[run->self->ndocs - run->tdocs_n++] = d;
    else
        run->fdocs[run->fdocs_n++] = d;
}

//  A match, counted: the total and the facets' doc list.
static inline void
s_count (search_run_t *run, uint32_t d)
{
    run->total++;
    if (run->counted)
        s_facet_doc (run, d);
}

//  A scored match offered to the page (when it ranks after the cursor).
static inline void
s_page (search_run_t *run, search_entry_t e)
{
    if (run->has_cursor && !s_before (&run->cursor, &e))
        return;
    run->after_cursor++;
    s_heap_push (&run->heap, e);
}

//  A match with its score: counted and offered to the page.
static void
s_collect (search_run_t *run, uint32_t d, uint32_t tier, double score)
{
    s_count (run, d);
    s_page (run, (search_entry_t) { d, tier, score });
}

//  A match that cannot enter the page: counted (total, facets, cursor) only.
//  Everything kept in the heap is after the cursor, so is a doc ranked below
//  its worst entry.
static inline void
s_count_only (search_run_t *run, uint32_t d)
{
    s_count (run, d);
    run->after_cursor++;
}

//  False when doc d is not shown to this viewer (dead, or hidden by its flags);
//  *teaser then tells whether the viewer matches its teaser fields only (a
//  confidential doc that is not theirs).
static inline bool
s_shown (const search_run_t *run, uint32_t d, bool *teaser)
{
    uint8_t flags = run->self->flags[d];
    if (!(flags & S_DOC_LIVE) || (flags & run->hidden) || d == run->exclude)
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
        mask |= search_plan_bit (hits[k]);
    return mask;
}

//  ------------------------------------------------------------- candidates

//  No query words: every doc the viewer may see and the filters pass, in doc order.
static void
s_browse (search_run_t *run)
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
s_prunable (const search_run_t *run, uint32_t tier, double bound)
{
    if (!run->heap.max || run->heap.n < run->heap.max)
        return false;
    const search_entry_t *root = &run->heap.v[0];
    return tier < root->tier || (tier == root->tier && bound * (1.0 + 1e-5) < root->score);
}

//  Offers doc d — `tier` words matched through the terms hits[0..nm), their
//  postings bytes in tfs[term] — to the page, scored only when it can enter it:
//  once the page is full, a doc whose tier is below the worst kept entry's, or
//  whose score bound (the field lengths at their shortest) is below it, is not
//  (it ranks after the cursor). The caller counts the match.
static inline void
s_rank (search_run_t *run, uint32_t d, uint32_t tier, const uint8_t *tfs, const uint16_t *hits, size_t nm)
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
    search_entry_t e = { d, tier, 0.0 };
    for (size_t k = 0; k < nm; k++)
        e.score += search_score_term (run, d, tfs[hits[k]], run->idf[hits[k]]);
    s_page (run, e);
}

//  One query term, no phrase to check: the loop below without the merge.
//  Every match has the same tier (the words this term satisfies). Returns
//  false (nothing done) when a phrase needs checking.
static bool
s_walk_one (search_run_t *run, search_cursor_t *c)
{
    const search_plan_t *plan = &run->plan;
    uint32_t tier = 0;
    if (plan->tiered) {
        for (size_t w = 0; w < plan->nwords; w++) {
            const search_qword_t *qw = &plan->words[w];
            bool hit = search_plan_word_hit (qw, 1);
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
        search_cursor_next (c);
        bool teaser;
        if (!s_shown (run, d, &teaser) || (teaser && !(tf &= 0xF0)))
            continue;                   //  outsiders match the teaser fields only
        if (run->filtered && !s_filters_ok (run, d))
            continue;
        if (s_prunable (run, tier, idf * run->ub[tf]))
            s_count_only (run, d);
        else
            s_collect (run, d, tier, search_score_term (run, d, tf, idf));
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
s_plain_words (const search_plan_t *plan)
{
    if (!plan->tiered || plan->nterms < 2 || plan->nterms > S_AND_MAX_TERMS
        || plan->nwords != plan->nterms)
        return false;
    for (size_t w = 0; w < plan->nwords; w++)
        if (plan->words[w].phrase || plan->words[w].all || plan->words[w].any != search_plan_bit ((int) w))
            return false;
    return true;
}

typedef struct {
    uint64_t *any;              //  docs with some word, in any field
    uint64_t *teaser;           //  ... in the title or tags (NULL: no doc needs it)
    size_t words;
} s_union_t;

static inline void
s_mark (const s_union_t *u, const search_cursor_t *c)
{
    uint64_t bit = (uint64_t) 1 << (c->doc & 63);
    u->any[c->doc >> 6] |= bit;
    if (u->teaser && (c->tf & 0xF0))
        u->teaser[c->doc >> 6] |= bit;
}

//  A doc matching every word: scored onto the page unless it cannot enter it.
//  Returns true when it counts as such a match (visible, filters pass).
static bool
s_and_offer (search_run_t *run, uint32_t d, const search_cursor_t *cur, size_t nt)
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
s_and_count (search_run_t *run, const s_union_t *u)
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
s_and_walk (search_run_t *run, search_cursor_t *cur, size_t nt, const s_union_t *u)
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
                search_cursor_next (&cur[t]);
            }
            all &= cur[t].doc == d;
        }
        if (!all)
            continue;
        top += s_and_offer (run, d, cur, nt);
        for (size_t t = 0; t < nt; t++) {
            s_mark (u, &cur[t]);
            search_cursor_next (&cur[t]);
        }
    }
    for (size_t t = 0; t < nt; t++)
        for (; cur[t].doc != UINT32_MAX; search_cursor_next (&cur[t]))
            s_mark (u, &cur[t]);
    return top;
}

//  The fast path. Returns false (and leaves the run as it found it) when it
//  does not apply or the docs matching every word cannot fill the page.
static bool
s_walk_and_first (search_run_t *run)
{
    const search_plan_t *plan = &run->plan;
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
    search_cursor_t cur[S_AND_MAX_TERMS];
    for (size_t t = 0; t < nt; t++) {
        const search_postings_t *p = &self->postings[plan->terms[t].tid];
        cur[t] = (search_cursor_t) { .p = p->buf, .end = p->buf + p->len };
        search_cursor_next (&cur[t]);
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
s_window_visit (search_run_t *run, s_window_t *win, uint32_t base, const uint8_t *tiers)
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
s_walk_windows (search_run_t *run, search_cursor_t *cur)
{
    const search_plan_t *plan = &run->plan;
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
        tiers[m] = (uint8_t) search_score_words_matched (plan, m);
    uint32_t ndocs = run->self->ndocs;
    for (uint32_t base = 0; base < ndocs; base += S_WINDOW) {
        uint32_t end = base + S_WINDOW;
        for (size_t t = 0; t < nt; t++)
            for (search_cursor_t *c = &cur[t]; c->doc < end; search_cursor_next (c)) {
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
s_walk_merge (search_run_t *run, search_cursor_t *cur, uint64_t required)
{
    const search_plan_t *plan = &run->plan;
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
                search_cursor_next (&cur[t]);
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
            const search_qword_t *qw = &plan->words[w];
            bool hit = search_plan_word_hit (qw, mask);
            if (hit && qw->phrase && plan->tiered && !search_score_phrase_ok (run, qw, d, !teaser))
                hit = false, phrases_ok = false;
            matched += hit;
        }
        if (!phrases_ok || (plan->tiered && matched == 0))
            continue;
        s_count (run, d);
        s_rank (run, d, plan->tiered ? matched : 0, tfs, hits, nm);
    }
}

//  ------------------------------------------------------- long queries
//  A long query (search_parse.c: up to 100 terms, untiered, no phrase) reads
//  its lists term after term into a dense score array (each doc's shares added
//  in term order, as the merge below adds them: the same sums), then visits
//  the matched docs in doc order. Merging 100 lists doc by doc costs a pass
//  over every list's head per doc; this costs one add per posting.

enum { S_UNSEEN = 0, S_SKIP, S_FULL, S_TEASER, S_MATCHED = 4 };

//  What doc d is to this run the first time a list holds it: skipped (not
//  shown, filtered out), matched in full, or in its teaser fields only.
static uint8_t
s_long_first (const search_run_t *run, uint32_t d)
{
    bool teaser;
    if (!s_shown (run, d, &teaser) || (run->filtered && !s_filters_ok (run, d)))
        return S_SKIP;
    return teaser ? S_TEASER : S_FULL;
}

//  The long-query path. Returns false (nothing done) when out of memory.
static bool
s_walk_long (search_run_t *run)
{
    search_index_t *self = run->self;
    const search_plan_t *plan = &run->plan;
    uint32_t ndocs = self->ndocs;
    double *acc = malloc ((size_t) ndocs * sizeof *acc);
    uint8_t *state = calloc (ndocs, 1);
    if (!acc || !state) {
        free (acc);
        free (state);
        return false;
    }
    for (size_t t = 0; t < plan->nterms; t++) {
        const search_postings_t *p = &self->postings[plan->terms[t].tid];
        search_cursor_t c = { .p = p->buf, .end = p->buf + p->len };
        for (search_cursor_next (&c); !c.done; search_cursor_next (&c)) {
            uint32_t d = c.doc;
            uint8_t tf = c.tf;
            if (!state[d])
                state[d] = s_long_first (run, d);
            if (state[d] == S_SKIP || ((state[d] & 3) == S_TEASER && !(tf &= 0xF0)))
                continue;           //  outsiders match the teaser fields only
            double share = search_score_term (run, d, tf, run->idf[t]);
            acc[d] = state[d] & S_MATCHED ? acc[d] + share : share;
            state[d] |= S_MATCHED;
        }
    }
    for (uint32_t d = 0; d < ndocs; d++)
        if (state[d] & S_MATCHED)
            s_collect (run, d, 0, acc[d]);
    free (acc);
    free (state);
    return true;
}

static void
s_walk_all (search_run_t *run)
{
    if (s_walk_and_first (run))
        return;
    search_index_t *self = run->self;
    search_plan_t *plan = &run->plan;
    size_t nt = plan->nterms;
    if (nt == 0)
        return;                         //  no query word is in the index
    if (plan->long_query && s_walk_long (run))
        return;
    search_cursor_t cur[SEARCH_MAX_QUERY_TERMS];
    for (size_t t = 0; t < nt; t++) {
        const search_postings_t *p = &self->postings[plan->terms[t].tid];
        cur[t] = (search_cursor_t) { .p = p->buf, .end = p->buf + p->len };
        search_cursor_next (&cur[t]);
    }
    uint64_t required = 0;          //  phrases are required in short queries only
    for (size_t w = 0; w < plan->nwords && plan->tiered; w++)
        if (plan->words[w].phrase)
            required |= plan->words[w].all;
    if (nt == 1 && !required && s_walk_one (run, &cur[0]))
        return;
    if (!s_walk_windows (run, cur))
        s_walk_merge (run, cur, required);
}

//  ---------------------------------------------------------------- the run

//  Reads a cursor made by s_cursor_make for this index generation into *out.
//  Returns 0, or -1 when it is malformed or stale.
static int
s_cursor_parse (const search_index_t *self, const char *text, search_entry_t *out)
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
    *out = (search_entry_t) { doc, tier, score };
    return 0;
}

//  The cursor text of entry e (a string the caller frees; NULL on no memory).
static char *
s_cursor_make (const search_index_t *self, const search_entry_t *e)
{
    uint64_t bits;
    memcpy (&bits, &e->score, sizeof bits);
    char buf[80];
    snprintf (buf, sizeof buf, "%" PRIx64 ".%x.%" PRIx64 ".%x", self->generation, e->tier, bits, e->doc);
    return strdup (buf);
}

void
search_run_free (search_run_t *run)
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
s_run_filters (search_run_t *run)
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

//  The query text of `like` (query->like): the title, tags and — when this
//  viewer may read it — body of that doc, as a new string (caller frees) in
//  *text_p; the doc is excluded from the run's matches. Returns 0, 1 when no
//  doc the viewer may see has that id, -1 on no memory.
static int
s_like_text (search_run_t *run, const char *id, char **text_p)
{
    search_index_t *self = run->self;
    uint32_t idid = search_strtab_find (&self->ids, id, strlen (id));
    uint32_t d = idid == SEARCH_STRTAB_NONE ? S_DOC_NONE : self->id_doc[idid];
    if (d == S_DOC_NONE || !(self->flags[d] & S_DOC_LIVE) || (self->flags[d] & run->hidden))
        return 1;
    const char *title, *tags, *body;
    search_doc_text (self, d, &title, &tags, &body);
    if (!search_doc_visible (self, d, run->viewer_org, run->query->viewer.agency))
        body = "";                      //  the teaser only: a confidential body never leaks
    size_t len = strlen (title) + strlen (tags) + strlen (body) + 3;
    *text_p = malloc (len);
    if (!*text_p)
        return -1;
    snprintf (*text_p, len, "%s\n%s\n%s", title, tags, body);
    run->exclude = d;
    return 0;
}

int
search_run_init (search_run_t *run, search_index_t *self, const search_query_t *query)
{
    memset (run, 0, sizeof *run);
    run->self = self;
    run->query = query;
    run->exclude = UINT32_MAX;
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
    search_scratch_t scratch = { oim_tokens_new (), oim_tokens_new () };
    run->plan.scratch = scratch;        //  freed by search_run_free, even when parsing fails
    if (!scratch.query || !scratch.text)
        return -1;
    char *like = NULL;
    int rc = query->like ? s_like_text (run, query->like, &like) : 0;
    if (rc)
        return rc;
    rc = search_plan_parse (self, like ? like : query->q, query->prefix_last, query->pure_bm25,
                            like != NULL, scratch, &run->plan);
    free (like);
    if (rc)
        return -1;
    if (!s_run_filters (run))
        run->plan.impossible = true;
    search_score_weights (run);
    return 0;
}

//  ----------------------------------------------------------------- results

//  The top `limit` values of each counted facet field into res. Returns 0, or
//  -1 on no memory (res then holds what was made, freed with it).
static int
s_facets_result (const search_run_t *run, search_result_t *res, size_t limit)
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
s_hit_fill (search_run_t *run, search_hit_t *hit, const search_entry_t *e)
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
    hit->title_html = search_snippet_highlight (self, &run->plan, title, strlen (title), 0, strlen (title));
    hit->snippet_html = search_snippet_make (self, &run->plan, body_visible && *body ? body : tags);
    return hit->title_html && hit->snippet_html ? 0 : -1;
}

static int
s_result_build (search_run_t *run, search_result_t *res)
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
    search_run_t run;
    int rc = search_run_init (&run, self, query);
    search_result_t *res = NULL;
    if (rc == 0) {
        if (!run.plan.impossible) {
            if (run.plan.browse)
                s_browse (&run);
            else
                s_walk_all (&run);
            if (run.counted)
                s_count_facets (&run);
        }
        res = calloc (1, sizeof *res);
        if (!res || s_result_build (&run, res)) {
            search_result_destroy (&res);
            rc = -1;
        }
    }
    search_run_free (&run);
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
