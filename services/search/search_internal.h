/*  search_internal.h — the index's private layout, shared by search_index.c
    (documents, postings, compaction), the query files (search_parse.c,
    search_score.c, search_snippet.c, search_query.c; their own shared state
    is search_run.h) and search_dict.c (typo/prefix expansion, suggestions).
    Not part of the public API.
*/
#ifndef SEARCH_INTERNAL_H_INCLUDED
#define SEARCH_INTERNAL_H_INCLUDED

#include "oim_analyze.h"
#include "oim_evidence.h"
#include "oim_utf8.h"
#include "search_index.h"
#include "search_strtab.h"

#define S_DOC_LIVE 1u
#define S_DOC_CONFIDENTIAL 2u
#define S_DOC_MEMBERS 4u       //  members-only: not for anonymous viewers
#define S_DENSE_VALUES 256              //  per facet field, ids below have a doc bitset
#define S_DOC_NONE UINT32_MAX           //  id map: deleted
#define S_FACET_SHIFT 24                //  packed facet value: field << 24 | value id
#define S_FACET_VALUE_MASK 0xFFFFFFu

//  Postings byte: title tf (bits 6-7), tags tf (4-5), body tf (0-3).
#define S_TF_TITLE(b) ((unsigned) (b) >> 6)
#define S_TF_TAGS(b) (((unsigned) (b) >> 4) & 3u)
#define S_TF_BODY(b) ((unsigned) (b) & 15u)

typedef struct {
    uint8_t *buf;               //  varint(doc delta), tf byte; ...
    uint32_t len, cap;
    uint32_t last_doc;
    uint32_t df;                //  postings, including tombstoned docs
} search_postings_t;

//  Suggestion table: full normalised titles (or tags) and, for titles, keys
//  starting at later words ("suffix\x1f<parent id>").
typedef struct {
    search_strtab_t keys;
    uint32_t *parent;           //  per key: the full entry
    uint32_t (*count)[SEARCH_TYPE_COUNT];   //  per key (used on full entries)
    uint32_t *display;          //  per key: offset of the display text in `disp`
    char *disp;
    size_t disp_len, disp_cap;
    uint32_t cap;
} search_suggest_t;

struct search_index_t {
    search_config_t cfg;
    char stemmer[32];
    oim_analyzer_t *analyzer;
    oim_tokens_t *tokens;    //  adding documents (the one writer); each query has its own
    oim_evidence_t *evidence;           //  which query terms a long query keeps (read-only)

    //  terms
    search_strtab_t terms;
    search_postings_t *postings;        //  per term id
    uint32_t *term_mark;                //  per term id, scratch for adds
    uint32_t postings_cap;

    //  external ids
    search_strtab_t ids;
    uint32_t *id_doc;                   //  per id: doc or S_DOC_NONE
    uint64_t *id_version;
    uint32_t id_cap;

    //  facet values and orgs
    search_strtab_t facet_dict[SEARCH_FACET_COUNT];
    search_strtab_t orgs;

    //  documents, by dense doc id
    uint32_t ndocs, doc_cap;
    uint8_t *flags;
    uint8_t *dtype;
    uint8_t *norms;                     //  SEARCH_FIELD_COUNT per doc
    uint16_t *single[SEARCH_FACET_COUNT];   //  per doc: 1 + the field's only value id,
                                            //  0 = none or several (then in `multi`);
                                            //  its parent is implied, not stored
    uint8_t *multi;                     //  per doc: bit per facet field whose values
                                        //  are counted from fvals
    uint32_t *ext;                      //  doc → external id
    uint32_t *owner;                    //  org id or SEARCH_STRTAB_NONE
    uint32_t *acl_off;                  //  into acl: count, ids...; 0 = none
    uint32_t *foff;                     //  doc_cap + 1 offsets into fvals
    char **text;                        //  "title\0tags\0body\0", tags '\n'-separated
    uint32_t *parent[SEARCH_FACET_COUNT];       //  per facet value: 1 + its parent's id,
    uint32_t parent_cap[SEARCH_FACET_COUNT];    //  0 = none (NULL: no value has one)
    uint32_t *fvals;                    //  packed values of each doc's multi-valued
    size_t fvals_len, fvals_cap;        //  fields (bit set in `multi`), sorted
    uint32_t *acl;
    size_t acl_len, acl_cap;

    uint64_t live, dead, text_bytes;
    uint64_t restricted;                //  live docs that are confidential or members-only
    uint64_t len_sum[SEARCH_FIELD_COUNT];
    uint64_t generation;
    float norm_len[256];                //  quantised field length → length

    search_suggest_t sugg_titles;
    search_suggest_t sugg_tags;

    //  facet value bitsets over doc ids (live docs only), for the first
    //  S_DENSE_VALUES values of each field: a filter tests one bit per doc.
    uint64_t *vbits[SEARCH_FACET_COUNT][S_DENSE_VALUES];
    size_t vbits_words;                 //  words per bitset (covers doc_cap)
};

//  Sets (on = true) or clears doc's bits in its values' bitsets. Returns -1
//  on no memory (some bits unset).
int search_vbits_update (search_index_t *self, uint32_t doc, bool on);

//  The parent of facet value `value` of field f (search_doc_t.facet_parents), or
//  SEARCH_STRTAB_NONE.
uint32_t search_facet_parent (const search_index_t *self, uint32_t f, uint32_t value);

//  Stored text accessors (title, tags, body) of a doc.
void search_doc_text (const search_index_t *self, uint32_t doc, const char **title,
                      const char **tags, const char **body);

//  True when the viewer sees doc's confidential body (always true for public docs).
//  viewer_org is the viewer's org id in self->orgs, or SEARCH_STRTAB_NONE.
bool search_doc_visible (const search_index_t *self, uint32_t doc, uint32_t viewer_org,
                         bool agency);

//  Typo variants of `term` within `max_edits` (code points), best first
//  (fewer edits, then higher df); the exact term itself excluded. Returns the
//  count written to out (≤ max_out).
size_t search_dict_fuzzy (search_index_t *self, const char *term, size_t len,
                          unsigned max_edits, uint32_t *out, size_t max_out);

//  Terms starting with `prefix`, by df descending; returns the count (≤ max_out).
size_t search_dict_prefix (search_index_t *self, const char *prefix, size_t len,
                           uint32_t *out, size_t max_out);

//  Suggestion bookkeeping on add (+1) / remove (-1) of a doc.
int search_suggest_update (search_index_t *self, search_doc_type_t type,
                           const char *title, const char *tags, int delta);
void search_suggest_free (search_suggest_t *sugg);
size_t search_suggest_bytes (const search_suggest_t *sugg);

//  Varint helpers.
static inline uint8_t *
search_varint_put (uint8_t *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t) v;
    return p;
}

static inline const uint8_t *
search_varint_get (const uint8_t *p, uint32_t *v)
{
    uint32_t x = *p & 0x7F;
    unsigned shift = 7;
    while (*p++ & 0x80) {
        x |= (uint32_t) (*p & 0x7F) << shift;
        shift += 7;
    }
    *v = x;
    return p;
}

#endif
