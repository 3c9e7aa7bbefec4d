/*  search_index.h — in-memory inverted index for OI Market search (no sockets).

    Documents are startups, companies and demands with three text fields (title
    = name/title, tags, body = description) and facet fields. The index keeps:
    * one posting list per term: doc id deltas (varint) + one byte of per-field
      term frequencies (title 0-3, tags 0-3, body 0-15, saturating) — about two
      bytes per posting; no positions (phrases are verified on the stored text);
    * per document: a 1-byte quantised length per field (norms), flags, packed
      facet value ids of its multi-valued fields (a single value sits in a
      dense per-field array), visibility (owner org, allowed orgs), the stored text
      (id, title, tags, body) used for snippets, phrases and compaction;
    * facets: a doc-id bitset per value (the first 256 values of each field)
      so a filter costs one bit test per candidate; counts come from a dense
      2-byte per-doc array per field for single-valued fields (read almost
      sequentially while scoring) and from the packed values otherwise.
    Internal doc ids are dense and grow with each add; an update is a delete of
    the old doc id plus an add, idempotent by version. Deleted ids are
    tombstones until search_index_compact (call it from a housekeeping tick).

    Ranking is BM25F (Robertson/Zaragoza): per field weight w_f and b_f, one k1.
    Multi-word queries are RANKED OR WITH ALL-WORDS-FIRST: when the query has at
    most `tier_max_words` words (default 4), a document must match at least one
    word and documents are ordered by the number of matched words, then by
    score; longer queries (natural-language questions, the matcher's demand
    text) are ranked by BM25F alone over any matching term. Queries of 32 words
    or more (a pasted paragraph, not a question: CACM's and KorQuAD's questions
    rank as before, search_eval), and `like` (a document's own text as the
    query, e.g. a demand), are LONG QUERIES: BM25F over their 100 most informative evidence terms
    (no numbers, one-letter or generic words), each weighted 1 + ln (its count
    in the query) — see search_parse.c. A word matches
    through its exact term, a typo variant (1 edit from 5 code points, 2 from
    9; only for words the index does not know, see typo_below_df), a prefix
    (last word, when asked), or — for Hangul/CJK — the word without its
    trailing particle (을/를/이/가/에서...) or all of its syllable bigrams.
    "Quoted phrases" in short queries are required and verified on the stored
    text; in long queries their words simply score (pasted prose has quotes).

    Visibility: a confidential document's body only matches, counts and shows
    for its owner, the agency and the orgs on its allowed list; for anyone else
    only the public teaser (title, tags) is searchable — in hits, snippets,
    facet counts and totals alike. Its other facet fields are hidden the same
    way: for such a viewer it counts toward the type, tag and status facets
    only (what the teaser shows), and a filter on industry, region, stage or
    collaboration never finds it (else counts and totals would tell them).
    Suggestions come from titles and tags only, and never from members-only
    documents (they are the same for every viewer, anonymous ones included).

    Threads: changes (add, remove, compact, settle) need the index to
    themselves; queries (search, suggest, explain) only read it and may run on
    several threads at once — after search_index_settle, which the writer calls
    once a batch of changes is in.
*/
#ifndef SEARCH_INDEX_H_INCLUDED
#define SEARCH_INDEX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SEARCH_TYPE_STARTUP = 0,
    SEARCH_TYPE_COMPANY = 1,
    SEARCH_TYPE_DEMAND = 2,
    SEARCH_TYPE_COUNT
} search_doc_type_t;

typedef enum {
    SEARCH_FIELD_TITLE = 0,
    SEARCH_FIELD_TAGS = 1,
    SEARCH_FIELD_BODY = 2,
    SEARCH_FIELD_COUNT
} search_field_t;

//  Facet fields. TYPE and TAG are filled by the index from the document's type
//  and tags; the others come from search_doc_t.facets.
typedef enum {
    SEARCH_FACET_TYPE = 0,
    SEARCH_FACET_INDUSTRY,
    SEARCH_FACET_REGION,
    SEARCH_FACET_STAGE,
    SEARCH_FACET_TAG,
    SEARCH_FACET_COLLABORATION,
    SEARCH_FACET_STATUS,
    SEARCH_FACET_COUNT
} search_facet_t;

#define SEARCH_MAX_FACET_VALUES 64      //  per facet field per document
#define SEARCH_MAX_ALLOWED_ORGS 1024    //  per confidential document
#define SEARCH_MAX_LIMIT 100            //  hits per page
#define SEARCH_MAX_QUERY_WORDS 128
#define SEARCH_MAX_QUERY_TERMS 256      //  after bigram, typo and prefix expansion;
                                        //  only the first 64 decide word matches
#define SEARCH_MAX_FIELD_BYTES (256 * 1024)     //  longer text is cut (at a code point)

typedef struct search_index_t search_index_t;

typedef struct {
    double k1;                          //  default 0.9
    double b[SEARCH_FIELD_COUNT];       //  default 0.4, 0.3, 0.4
    double weight[SEARCH_FIELD_COUNT];  //  default 3.0, 1.5, 1.0
    unsigned tier_max_words;            //  default 4; 0 = always pure BM25F
    double typo_weight;                 //  score factor of a typo variant, default 0.5
    uint32_t typo_below_df;             //  typo variants only for words in fewer docs
                                        //  (default 1: unknown words, as Typesense's
                                        //  typo_tokens_threshold); 0 = never
    double prefix_weight;               //  score factor of a prefix expansion, default 0.7
    double bigram_weight;               //  score factor of a Hangul/CJK bigram, default 1.0
    const char *stemmer;                //  libstemmer algorithm, default "english"
} search_config_t;

//  A document to add. All strings are UTF-8, borrowed for the call only.
typedef struct {
    const char *id;                     //  external id (required, ≤ 255 bytes)
    uint64_t version;                   //  an add with version ≤ the known one is ignored
    search_doc_type_t type;
    const char *title;                  //  name (+ name_en) or demand title
    const char *body;                   //  description; may be NULL
    const char *const *tags;
    size_t tag_count;
    //  facet values per field (TYPE and TAG entries are ignored); kept as given
    //  (NFC), so filters and facet counts use the same spelling, case included
    const char *const *facets[SEARCH_FACET_COUNT];
    size_t facet_counts[SEARCH_FACET_COUNT];
    //  per value of facets[f] (or NULL): the value it rolls up into, e.g. industry
    //  "C26" -> its section "C". A doc counts once toward the parent of its values
    //  and matches a filter on it. One level: a parent has no parent of its own.
    const char *const *facet_parents[SEARCH_FACET_COUNT];
    bool confidential;
    bool members_only;                  //  hidden entirely from anonymous viewers (SPEC
                                        //  "members" visibility); signed-in viewers see it
                                        //  as public unless it is also confidential
    const char *owner_org;              //  may be NULL
    const char *const *allowed_orgs;    //  orgs that see the confidential body
    size_t allowed_count;
} search_doc_t;

//  Who is asking. org_id NULL = anonymous (sees teasers of confidential docs).
typedef struct {
    const char *org_id;
    bool agency;                        //  the operating agency sees everything
} search_viewer_t;

typedef struct {
    const char *q;                      //  free text, "quoted phrases"; NULL/"" = browse
    search_viewer_t viewer;
    //  filters: OR within a field, AND across fields
    const char *const *filters[SEARCH_FACET_COUNT];
    size_t filter_counts[SEARCH_FACET_COUNT];
    size_t limit;                       //  1..SEARCH_MAX_LIMIT (0 = 20)
    const char *cursor;                 //  next_cursor of the previous page, or NULL
    bool prefix_last;                   //  treat the last word as a prefix (as you type)
    bool no_facets;                     //  skip facet counting
    bool no_snippets;
    bool pure_bm25;                     //  no all-words-first tiers (matcher)
    const char *like;                   //  id of a doc whose text is the query (title, tags,
                                        //  and the body when this viewer may read it), run as
                                        //  a long query; q is then not read; that doc is no hit
    size_t facet_limit;                 //  values per facet field (0 = 20)
    unsigned facet_mask;                //  bit (1 << search_facet_t) per field to count;
                                        //  0 = all fields
} search_query_t;

typedef struct {
    char *id;
    search_doc_type_t type;
    double score;
    unsigned matched_words;
    char *title;                        //  plain title
    char *title_html;                   //  title with <em>…</em> around matches (escaped)
    char *snippet_html;                 //  best body window with <em>…</em> (escaped)
} search_hit_t;

typedef struct {
    char *value;
    uint32_t count;
} search_facet_value_t;

typedef struct {
    uint64_t total;                     //  matching documents for this viewer
    search_hit_t *hits;
    size_t hit_count;
    search_facet_value_t *facets[SEARCH_FACET_COUNT];   //  by count desc
    size_t facet_sizes[SEARCH_FACET_COUNT];
    char *next_cursor;                  //  NULL on the last page
    double took_ms;
} search_result_t;

typedef struct {
    char *text;                         //  display form (first seen spelling)
    bool is_tag;                        //  false = a name/title
    uint32_t count;                     //  live documents carrying it
} search_suggestion_t;

//  One query term's share of a document's score (for match explanations).
typedef struct {
    char *term;                         //  index term (stem / bigram)
    char *word;                         //  the query word it came from, as typed
    double idf;
    unsigned tf[SEARCH_FIELD_COUNT];
    double contribution;
} search_term_score_t;

typedef struct {
    double score;                       //  sum of contributions
    search_term_score_t *terms;
    size_t term_count;
} search_explain_t;

typedef struct {
    uint64_t docs_live;
    uint64_t docs_dead;                 //  tombstones awaiting compaction
    uint64_t terms;
    uint64_t postings_bytes;
    uint64_t index_bytes;               //  everything but the stored text
    uint64_t text_bytes;                //  stored title/tags/body
    double avg_field_len[SEARCH_FIELD_COUNT];
    uint64_t generation;                //  +1 per compaction (cursors die)
} search_stats_t;

//  Fills *config with the defaults.
void search_config_default (search_config_t *config);

//  Creates an empty index; config NULL = defaults. NULL on failure.
search_index_t *search_index_new (const search_config_t *config);
void search_index_destroy (search_index_t **self_p);

//  Adds or replaces a document. Returns 0 when applied, 1 when ignored because
//  the index already has this id at the same or a newer version (or a
//  deletion at that version), -1 on bad input (missing id/title, too many
//  values) or no memory — then nothing changed.
int search_index_add (search_index_t *self, const search_doc_t *doc);

//  Deletes a document by id. Returns 0 when deleted, 1 when unknown or stale
//  (version below the indexed one), -1 on no memory. The id's version is
//  remembered so that a late, older add is ignored.
int search_index_remove (search_index_t *self, const char *id, uint64_t version);

//  Version of the indexed doc, 0 when unknown or deleted.
uint64_t search_index_version (search_index_t *self, const char *id);

//  Runs a query. On success returns 0 and *result_p is a new result the
//  caller destroys. Returns -2 on a bad request (malformed or expired cursor,
//  limit out of range), 1 when query->like names no document this viewer may
//  see (unknown, deleted, or members-only for an anonymous viewer), and -1 on
//  no memory; *result_p is then NULL.
int search_index_search (search_index_t *self, const search_query_t *query,
                         search_result_t **result_p);
void search_result_destroy (search_result_t **self_p);

//  Autocomplete on titles and tags: up to `limit` (≤ 50) entries whose
//  normalised text starts with `prefix` (or has a word starting with it, for
//  titles), best first. type < 0 = any type. Returns the count (≥ 0) and a
//  new array in *out (NULL when 0) freed with search_suggestions_free, or -1.
int search_index_suggest (search_index_t *self, const char *prefix, int type,
                          size_t limit, search_suggestion_t **out);
void search_suggestions_free (search_suggestion_t **items_p, size_t count);

//  BM25F score of a free-text query against one document, with each query
//  term's contribution (pure BM25F: the score search uses with pure_bm25).
//  Returns 0 and fills *out (free with search_explain_free; for a viewer who
//  may not see a confidential body only title/tags terms count), 1 when the
//  doc is unknown, -1 on no memory.
int search_index_explain (search_index_t *self, const char *query,
                          const char *doc_id, const search_viewer_t *viewer,
                          search_explain_t *out);
void search_explain_free (search_explain_t *explain);

//  Collection statistics: document frequency of an index term (as produced by
//  the analyser, including tombstoned docs until compaction), and totals.
uint32_t search_index_df (search_index_t *self, const char *term);
void search_index_stats (search_index_t *self, search_stats_t *stats);

//  Sorts what the adds since the last call left unsorted in the term and
//  suggestion dictionaries (typo, prefix and suggestion lookups scan an
//  unsorted tail linearly). Call after a batch of changes; cheap when nothing
//  is due. Queries never sort, so they only read.
void search_index_settle (search_index_t *self);

//  Drops tombstoned documents and renumbers doc ids; shrinks posting lists to fit.
//  O(index size). Bumps the generation (outstanding cursors become invalid).
//  Returns 0, or -1 on no memory (the index is then unchanged).
int search_index_compact (search_index_t *self);

#endif
