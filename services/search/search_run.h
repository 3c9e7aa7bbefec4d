/*  search_run.h — one query, private to the files that answer it (not part of
    the public API, which is search_index.h):

      search_parse.c    the query text → its plan (terms, words, phrases)
      search_score.c    how a doc ranks: its tier (query words matched, phrases
                        verified) and its BM25F score; explanations
      search_snippet.c  highlighted titles and snippets
      search_query.c    execution: the run, filters, candidates (posting list
                        walks), the top-k page, facet counts, cursors, results

    Everything here belongs to one query on one thread; the index is only read.
*/
#ifndef SEARCH_RUN_H_INCLUDED
#define SEARCH_RUN_H_INCLUDED

#include "search_internal.h"

#define S_PHRASE_MAX_LEN 16

//  ------------------------------------------------------------------ the plan

typedef struct {
    uint32_t tid;
    double weight;              //  1, or the typo / prefix factor
    uint8_t word;               //  first word that brought it in
} search_qterm_t;

typedef struct {
    uint64_t any;               //  any of these terms matches the word
    uint64_t all;               //  ... or all of these (Hangul/CJK bigrams); 0 = no such rule
    bool phrase;
    uint32_t seq[S_PHRASE_MAX_LEN];     //  phrase term ids in order
    uint32_t rel[S_PHRASE_MAX_LEN];     //  their positions relative to the first
    uint32_t seq_len;
    uint32_t surface_start, surface_end;        //  bytes of the query text
} search_qword_t;

//  The token buffers of one query (queries run on several threads at once):
//  the query's own words, and a document's text (phrase checks, snippets).
typedef struct {
    oim_tokens_t *query, *text;
} search_scratch_t;

typedef struct {
    search_scratch_t scratch;
    search_qterm_t terms[SEARCH_MAX_QUERY_TERMS];
    size_t nterms;
    search_qword_t words[SEARCH_MAX_QUERY_WORDS];
    size_t nwords;
    bool impossible;            //  a required phrase cannot match
    bool tiered;
    bool browse;
    bool long_query;            //  the long-query plan (search_parse.c): evidence terms only
} search_plan_t;

//  Builds the plan of query text q (NULL or blank: browse) into *plan, using
//  the caller's scratch buffers (kept in plan->scratch, still owned by the
//  caller). prefix_last: the last word, when the text does not end in a space
//  or quote, also matches the terms it begins; pure_bm25: never tiered;
//  long_query: the long-query plan whatever the length (a text given by
//  `like`). Returns 0, or -1 on no memory (the plan is then partial).
int search_plan_parse (search_index_t *self, const char *q, bool prefix_last, bool pure_bm25,
                       bool long_query, search_scratch_t scratch, search_plan_t *plan);

//  Word-match bit of term `index` of a plan: only the first 64 terms have one.
static inline uint64_t
search_plan_bit (int index)
{
    return index < 0 || index >= 64 ? 0 : (uint64_t) 1 << index;
}

//  True when the query terms in mask match word w.
static inline bool
search_plan_word_hit (const search_qword_t *w, uint64_t mask)
{
    return (mask & w->any) || (w->all && (mask & w->all) == w->all);
}

//  ------------------------------------------------------------------- the run

//  A posting list being read: the current doc and its postings byte.
typedef struct {
    const uint8_t *p, *end;
    uint32_t doc;
    uint8_t tf;
    bool done;
} search_cursor_t;

//  A ranked doc: its tier (words matched), then its score, then its id.
typedef struct {
    uint32_t doc;
    uint32_t tier;
    double score;
} search_entry_t;

typedef struct {
    search_entry_t *v;
    size_t n, max;
} search_heap_t;                //  the worst kept entry at the root

typedef struct {
    search_index_t *self;
    const search_query_t *query;
    search_plan_t plan;
    uint32_t viewer_org;
    uint8_t hidden;                     //  doc flags that hide a doc from this viewer
    uint32_t exclude;                   //  the `like` doc (never a match), or UINT32_MAX
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
    search_entry_t cursor;
    search_heap_t heap;
    uint64_t total, after_cursor;
} search_run_t;

//  Sets up a run of query over self: viewer, page size, cursor, facet counters,
//  the parsed plan, resolved filters and the scoring weights. Returns 0; -2 on
//  a bad query (limit too large, cursor invalid or stale); 1 when query->like
//  names no doc the viewer may see; -1 on no memory.
//  Whatever it returns, the caller then frees the run with search_run_free.
int search_run_init (search_run_t *run, search_index_t *self, const search_query_t *query);

//  Frees what a run holds (not the run itself).
void search_run_free (search_run_t *run);

//  Moves c to its list's next posting; at the end, c->done and doc UINT32_MAX.
static inline void
search_cursor_next (search_cursor_t *c)
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

//  ---------------------------------------------------------------- scoring

//  Fills the run's scoring weights (idf per plan term, field length
//  normalisation, score bounds per postings byte) from the index's statistics.
void search_score_weights (search_run_t *run);

//  BM25F share of one term: idf * t / (k1 + t), t = sum of weighted,
//  length-normalised field frequencies (most postings have one field only).
//  Inline: the candidate loops call it for every doc that may enter the page.
static inline double
search_score_term (const search_run_t *run, uint32_t d, uint8_t tf, double idf)
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

//  How many query words of the plan the terms in mask match (phrases not verified).
uint32_t search_score_words_matched (const search_plan_t *plan, uint64_t mask);

//  True when phrase word w occurs in doc d's title, tags or (when body_visible)
//  body. Re-analyses the doc's text into the run's scratch; false on no memory.
bool search_score_phrase_ok (search_run_t *run, const search_qword_t *w, uint32_t d,
                             bool body_visible);

//  --------------------------------------------------------------- snippets

//  Escaped copy of text[from, to) (len = strlen (text)) with the plan's terms
//  in <em>…</em>, and "…" where the range cuts the text; from/to must be code
//  point boundaries. Uses the plan's text scratch. Returns a string the caller
//  frees, or NULL on no memory.
char *search_snippet_highlight (search_index_t *self, const search_plan_t *plan,
                                const char *text, size_t len, size_t from, size_t to);

//  The highlighted window of text where most plan terms occur close together
//  (search_snippet_highlight of it). Caller frees; NULL on no memory.
char *search_snippet_make (search_index_t *self, const search_plan_t *plan, const char *text);

#endif
