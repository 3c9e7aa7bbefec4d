/*  search_index.c — documents, postings, updates, compaction, statistics.
    Queries live in search_parse.c, search_score.c, search_snippet.c and
    search_query.c (see search_run.h), dictionary walks and suggestions in
    search_dict.c; the shared layout is search_internal.h.
*/
#include "search_internal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_ID_BYTES 255
#define S_MAX_TAG_BYTES 256
#define S_MAX_FIELD_TOKENS 100000

static const char *const s_type_names[SEARCH_TYPE_COUNT] = { "startup", "company", "demand" };

void
search_config_default (search_config_t *config)
{
    assert (config);
    *config = (search_config_t) {
        .k1 = 0.9,                      //  tuned on CACM + KorQuAD (tests/bench/README.md)
        .b = { 0.4, 0.3, 0.4 },
        .weight = { 3.0, 1.5, 1.0 },
        .tier_max_words = 4,
        .typo_weight = 0.5,
        .typo_below_df = 1,
        .prefix_weight = 0.7,
        .bigram_weight = 1.0,
        .stemmer = "english"
    };
}

search_index_t *
search_index_new (const search_config_t *config)
{
    search_index_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    if (config)
        self->cfg = *config;
    else
        search_config_default (&self->cfg);
    snprintf (self->stemmer, sizeof self->stemmer, "%s",
              self->cfg.stemmer ? self->cfg.stemmer : "english");
    self->cfg.stemmer = self->stemmer;
    self->analyzer = oim_analyzer_new (self->stemmer);
    self->tokens = oim_tokens_new ();
    self->evidence = self->analyzer ? oim_evidence_new (self->analyzer) : NULL;
    if (!self->analyzer || !self->tokens || !self->evidence) {
        search_index_destroy (&self);
        return NULL;
    }
    search_strtab_init (&self->terms);
    search_strtab_init (&self->ids);
    search_strtab_init (&self->orgs);
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        search_strtab_init (&self->facet_dict[f]);
    search_strtab_init (&self->sugg_titles.keys);
    search_strtab_init (&self->sugg_tags.keys);
    //  1-byte norms: exact lengths below 128, then a 5.35% geometric scale
    for (int i = 0; i < 256; i++)
        self->norm_len[i] = i < 128 ? (float) i : (float) (127.0 * pow (1.0535, i - 127));
    return self;
}

void
search_index_destroy (search_index_t **self_p)
{
    assert (self_p);
    search_index_t *self = *self_p;
    if (!self)
        return;
    oim_analyzer_destroy (&self->analyzer);
    oim_tokens_destroy (&self->tokens);
    oim_evidence_destroy (&self->evidence);
    for (uint32_t t = 0; t < self->terms.count; t++)
        free (self->postings[t].buf);
    free (self->postings);
    free (self->term_mark);
    search_strtab_free (&self->terms);
    search_strtab_free (&self->ids);
    free (self->id_doc);
    free (self->id_version);
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        search_strtab_free (&self->facet_dict[f]);
    search_strtab_free (&self->orgs);
    for (uint32_t d = 0; d < self->ndocs; d++)
        free (self->text[d]);
    free (self->flags);
    free (self->dtype);
    free (self->norms);
    free (self->multi);
    for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
        free (self->single[f]);
        free (self->parent[f]);
    }
    free (self->ext);
    free (self->owner);
    free (self->acl_off);
    free (self->foff);
    free (self->text);
    free (self->fvals);
    free (self->acl);
    search_suggest_free (&self->sugg_titles);
    search_suggest_free (&self->sugg_tags);
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        for (int v = 0; v < S_DENSE_VALUES; v++)
            free (self->vbits[f][v]);
    free (self);
    *self_p = NULL;
}

static uint8_t
s_norm_encode (const search_index_t *self, uint32_t len)
{
    if (len < 128)
        return (uint8_t) len;
    int lo = 128, hi = 255;     //  largest i with norm_len[i] <= len
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (self->norm_len[mid] <= (float) len)
            lo = mid;
        else
            hi = mid - 1;
    }
    return (uint8_t) lo;
}

#define S_GROW(ptr, count, type) \
    do { \
        type *grown_ = realloc ((ptr), (size_t) (count) * sizeof (type)); \
        if (!grown_) \
            return -1; \
        (ptr) = grown_; \
    } while (0)

//  Room for one more document in every per-doc array.
static int
s_doc_reserve (search_index_t *self)
{
    if (self->ndocs < self->doc_cap)
        return 0;
    if (self->doc_cap >= UINT32_MAX / 2)
        return -1;
    uint32_t cap = self->doc_cap ? self->doc_cap + self->doc_cap / 2 : 1024;
    S_GROW (self->flags, cap, uint8_t);
    S_GROW (self->dtype, cap, uint8_t);
    S_GROW (self->norms, (size_t) cap * SEARCH_FIELD_COUNT, uint8_t);
    S_GROW (self->multi, cap, uint8_t);
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        S_GROW (self->single[f], cap, uint16_t);
    S_GROW (self->ext, cap, uint32_t);
    S_GROW (self->owner, cap, uint32_t);
    S_GROW (self->acl_off, cap, uint32_t);
    S_GROW (self->foff, (size_t) cap + 1, uint32_t);
    S_GROW (self->text, cap, char *);
    if (self->doc_cap == 0)
        self->foff[0] = 0;
    size_t words = ((size_t) cap + 63) / 64;
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        for (int v = 0; v < S_DENSE_VALUES; v++) {
            if (!self->vbits[f][v])
                continue;
            uint64_t *bits = realloc (self->vbits[f][v], words * sizeof *bits);
            if (!bits)
                return -1;              //  some bitsets grown: harmless, retried next time
            memset (bits + self->vbits_words, 0, (words - self->vbits_words) * sizeof *bits);
            self->vbits[f][v] = bits;
        }
    self->vbits_words = words;
    self->doc_cap = cap;
    return 0;
}

//  Sets or clears doc's bit in the bitset of one of its values.
static int
s_vbit_set (search_index_t *self, uint32_t doc, uint32_t f, uint32_t v, bool on)
{
    if (v >= S_DENSE_VALUES)
        return 0;
    uint64_t **bits = &self->vbits[f][v];
    if (!*bits && on && !(*bits = calloc (self->vbits_words, sizeof **bits)))
        return -1;
    if (!*bits)
        return 0;
    uint64_t bit = (uint64_t) 1 << (doc & 63);
    if (on)
        (*bits)[doc >> 6] |= bit;
    else
        (*bits)[doc >> 6] &= ~bit;
    return 0;
}

int
search_vbits_update (search_index_t *self, uint32_t doc, bool on)
{
    for (uint32_t f = 0; f < SEARCH_FACET_COUNT; f++) {
        uint32_t v = self->single[f][doc];
        if (v && s_vbit_set (self, doc, f, v - 1u, on))
            return -1;
        uint32_t parent = v ? search_facet_parent (self, f, v - 1u) : SEARCH_STRTAB_NONE;
        if (parent != SEARCH_STRTAB_NONE && s_vbit_set (self, doc, f, parent, on))
            return -1;
    }
    for (uint32_t k = self->foff[doc]; k < self->foff[doc + 1]; k++) {
        uint32_t f = self->fvals[k] >> S_FACET_SHIFT, v = self->fvals[k] & S_FACET_VALUE_MASK;
        if (s_vbit_set (self, doc, f, v, on))
            return -1;
    }
    return 0;
}

static int
s_u32_reserve (uint32_t **arr, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap + *cap / 2 : 4096;
    while (n < need)
        n *= 2;
    uint32_t *grown = realloc (*arr, n * sizeof *grown);
    if (!grown)
        return -1;
    *arr = grown;
    *cap = n;
    return 0;
}

//  Per-term arrays follow the term table's capacity.
static int
s_terms_reserve (search_index_t *self)
{
    if (self->postings_cap >= self->terms.cap)
        return 0;
    uint32_t cap = self->terms.cap;
    search_postings_t *p = realloc (self->postings, cap * sizeof *p);
    if (!p)
        return -1;
    self->postings = p;
    memset (p + self->postings_cap, 0, (cap - self->postings_cap) * sizeof *p);
    uint32_t *mark = realloc (self->term_mark, cap * sizeof *mark);
    if (!mark)
        return -1;
    self->term_mark = mark;
    memset (mark + self->postings_cap, 0, (cap - self->postings_cap) * sizeof *mark);
    self->postings_cap = cap;
    return 0;
}

//  Room in the id arrays for one more external id (called before interning it).
static int
s_ids_reserve (search_index_t *self)
{
    if (self->id_cap > self->ids.count)
        return 0;
    uint32_t cap = self->id_cap ? self->id_cap + self->id_cap / 2 : 1024;
    S_GROW (self->id_doc, cap, uint32_t);
    S_GROW (self->id_version, cap, uint64_t);
    self->id_cap = cap;
    return 0;
}

static int
s_postings_append (search_postings_t *p, uint32_t doc, uint8_t tf)
{
    if (p->len + 6 > p->cap) {
        uint32_t cap = p->cap < 8 ? 8 : p->cap + p->cap / 2;
        uint8_t *buf = realloc (p->buf, cap);
        if (!buf)
            return -1;
        p->buf = buf;
        p->cap = cap;
    }
    uint32_t delta = p->df ? doc - p->last_doc : doc;
    uint8_t *end = search_varint_put (p->buf + p->len, delta);
    *end++ = tf;
    p->len = (uint32_t) (end - p->buf);
    p->last_doc = doc;
    p->df++;
    return 0;
}

//  Builds the stored text blob "title\0tags\0body\0". NULL on no memory.
static char *
s_text_blob (const search_doc_t *doc, size_t *size)
{
    size_t title_len = oim_utf8_cut (doc->title, strlen (doc->title), SEARCH_MAX_FIELD_BYTES);
    size_t body_len = doc->body ? oim_utf8_cut (doc->body, strlen (doc->body), SEARCH_MAX_FIELD_BYTES) : 0;
    size_t tags_len = 0;
    for (size_t i = 0; i < doc->tag_count; i++)
        tags_len += oim_utf8_cut (doc->tags[i], strlen (doc->tags[i]), S_MAX_TAG_BYTES) + 1;
    char *blob = malloc (title_len + tags_len + body_len + 3);
    if (!blob)
        return NULL;
    char *p = blob;
    memcpy (p, doc->title, title_len);
    p += title_len;
    *p++ = 0;
    for (size_t i = 0; i < doc->tag_count; i++) {
        size_t n = oim_utf8_cut (doc->tags[i], strlen (doc->tags[i]), S_MAX_TAG_BYTES);
        for (size_t k = 0; k < n; k++)      //  newlines separate tags in the blob
            *p++ = doc->tags[i][k] == '\n' ? ' ' : doc->tags[i][k];
        if (i + 1 < doc->tag_count)
            *p++ = '\n';
    }
    *p++ = 0;
    if (body_len)
        memcpy (p, doc->body, body_len);
    p += body_len;
    *p++ = 0;
    *size = (size_t) (p - blob);
    return blob;
}

void
search_doc_text (const search_index_t *self, uint32_t doc, const char **title,
                 const char **tags, const char **body)
{
    assert (doc < self->ndocs);
    const char *t = self->text[doc];
    static const char s_empty[] = "";
    if (!t) {
        *title = *tags = *body = s_empty;
        return;
    }
    *title = t;
    *tags = t + strlen (t) + 1;
    *body = *tags + strlen (*tags) + 1;
}

bool
search_doc_visible (const search_index_t *self, uint32_t doc, uint32_t viewer_org, bool agency)
{
    if (!(self->flags[doc] & S_DOC_CONFIDENTIAL) || agency)
        return true;
    if (viewer_org == SEARCH_STRTAB_NONE)
        return false;
    if (self->owner[doc] == viewer_org)
        return true;
    uint32_t off = self->acl_off[doc];
    if (!off)
        return false;
    uint32_t n = self->acl[off];
    for (uint32_t i = 0; i < n; i++)
        if (self->acl[off + 1 + i] == viewer_org)
            return true;
    return false;
}

static int
s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return (x > y) - (x < y);
}

//  Interns one facet value (normalised) and appends field<<24|id to vals.
static int
s_facet_push (search_index_t *self, int field, const char *value, uint32_t *vals, size_t *n)
{
    char *norm = oim_utf8_nfc_n (value, strlen (value));
    if (!norm)
        return 0;                       //  invalid UTF-8: the value is skipped
    uint32_t id = SEARCH_STRTAB_NONE;
    if (*norm && self->facet_dict[field].count < S_FACET_VALUE_MASK)
        id = search_strtab_intern (&self->facet_dict[field], norm, strlen (norm), NULL);
    bool empty = !*norm;
    free (norm);
    if (empty)
        return 0;
    if (id == SEARCH_STRTAB_NONE)
        return -1;
    vals[(*n)++] = (uint32_t) field << S_FACET_SHIFT | id;
    return 0;
}

static bool
s_doc_valid (const search_doc_t *doc)
{
    if (!doc || !doc->id || !*doc->id || strlen (doc->id) > S_MAX_ID_BYTES || !doc->title
        || (unsigned) doc->type >= SEARCH_TYPE_COUNT || doc->tag_count > SEARCH_MAX_FACET_VALUES
        || (doc->tag_count && !doc->tags) || doc->allowed_count > SEARCH_MAX_ALLOWED_ORGS
        || (doc->allowed_count && !doc->allowed_orgs))
        return false;
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        if (doc->facet_counts[f] > SEARCH_MAX_FACET_VALUES
            || (doc->facet_counts[f] && !doc->facets[f]))
            return false;
    return true;
}

//  Collected term frequencies of the doc being added.
typedef struct {
    uint32_t *term;
    uint8_t (*tf)[SEARCH_FIELD_COUNT];
    size_t n, cap;
} s_acc_t;

static int
s_accumulate (search_index_t *self, s_acc_t *acc, const char *text, int field, uint32_t *len_out)
{
    static const unsigned s_tf_max[SEARCH_FIELD_COUNT] = { 3, 3, 15 };
    int n = oim_analyze (self->analyzer, text, strlen (text), S_MAX_FIELD_TOKENS, self->tokens);
    if (n < 0)
        return -1;
    *len_out = (uint32_t) n;
    for (int i = 0; i < n; i++) {
        const oim_token_t *tok = oim_tokens_get (self->tokens, (size_t) i);
        uint32_t tid = search_strtab_intern (&self->terms, tok->term, tok->term_len, NULL);
        if (tid == SEARCH_STRTAB_NONE || s_terms_reserve (self))
            return -1;
        uint32_t slot = self->term_mark[tid];
        if (slot == 0) {
            if (acc->n == acc->cap) {
                size_t cap = acc->cap ? acc->cap * 2 : 256;
                uint32_t *t = realloc (acc->term, cap * sizeof *t);
                if (!t)
                    return -1;
                acc->term = t;
                uint8_t (*tf)[SEARCH_FIELD_COUNT] = realloc (acc->tf, cap * sizeof *tf);
                if (!tf)
                    return -1;
                acc->tf = tf;
                acc->cap = cap;
            }
            acc->term[acc->n] = tid;
            memset (acc->tf[acc->n], 0, SEARCH_FIELD_COUNT);
            slot = (uint32_t) ++acc->n;
            self->term_mark[tid] = slot;
        }
        uint8_t *tf = &acc->tf[slot - 1][field];
        if (*tf < s_tf_max[field])
            (*tf)++;
    }
    return 0;
}

//  Turns a live doc into a tombstone.
static void
s_kill (search_index_t *self, uint32_t doc)
{
    assert (self->flags[doc] & S_DOC_LIVE);
    const char *title, *tags, *body;
    search_doc_text (self, doc, &title, &tags, &body);
    if (!(self->flags[doc] & S_DOC_MEMBERS))
        search_suggest_update (self, (search_doc_type_t) self->dtype[doc], title, tags, -1);
    search_vbits_update (self, doc, false);
    self->flags[doc] &= (uint8_t) ~S_DOC_LIVE;
    self->live--;
    self->restricted -= (self->flags[doc] & (S_DOC_CONFIDENTIAL | S_DOC_MEMBERS)) != 0;
    self->dead++;
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++)
        self->len_sum[f] -= (uint64_t) self->norm_len[self->norms[(size_t) doc * SEARCH_FIELD_COUNT + f]];
    self->text_bytes -= self->text[doc] ? strlen (title) + strlen (tags) + strlen (body) + 3 : 0;
    free (self->text[doc]);
    self->text[doc] = NULL;
}

//  Records that value `child` of field f rolls up into `parent` (values packed).
static int
s_parent_set (search_index_t *self, int f, uint32_t child, uint32_t parent)
{
    uint32_t c = child & S_FACET_VALUE_MASK, p = parent & S_FACET_VALUE_MASK;
    if (c == p)
        return 0;
    if (c >= self->parent_cap[f]) {
        uint32_t cap = self->parent_cap[f] ? self->parent_cap[f] : 64;
        while (cap <= c)
            cap *= 2;
        uint32_t *grown = realloc (self->parent[f], cap * sizeof *grown);
        if (!grown)
            return -1;
        memset (grown + self->parent_cap[f], 0, (cap - self->parent_cap[f]) * sizeof *grown);
        self->parent[f] = grown;
        self->parent_cap[f] = cap;
    }
    self->parent[f][c] = p + 1;
    return 0;
}

uint32_t
search_facet_parent (const search_index_t *self, uint32_t f, uint32_t value)
{
    return value < self->parent_cap[f] && self->parent[f][value] ? self->parent[f][value] - 1
                                                                 : SEARCH_STRTAB_NONE;
}

//  Pushes the doc's values of field f (other than type and tags); the parents of
//  its values go to parents (only kept when the doc has several values: a
//  single value's parent is implied, see search_facet_parent).
static int
s_field_push (search_index_t *self, const search_doc_t *doc, int f, uint32_t *vals, size_t *n,
              uint32_t *parents, size_t *np)
{
    for (size_t i = 0; i < doc->facet_counts[f]; i++) {
        if (!doc->facets[f][i])
            continue;
        size_t before = *n;
        if (s_facet_push (self, f, doc->facets[f][i], vals, n))
            return -1;
        const char *parent = doc->facet_parents[f] ? doc->facet_parents[f][i] : NULL;
        if (*n == before || !parent)
            continue;
        size_t at = *np;
        if (s_facet_push (self, f, parent, parents, np))
            return -1;
        if (*np > at && s_parent_set (self, f, vals[before], parents[at]))
            return -1;
    }
    return 0;
}

//  Fills facets, visibility and stored text of the new doc slot `d`.
static int
s_doc_attrs (search_index_t *self, uint32_t d, const search_doc_t *doc)
{
    uint32_t vals[SEARCH_FACET_COUNT * SEARCH_MAX_FACET_VALUES * 2 + 1];
    uint32_t parents[SEARCH_MAX_FACET_VALUES + 1];
    size_t n = 0;
    if (s_facet_push (self, SEARCH_FACET_TYPE, s_type_names[doc->type], vals, &n))
        return -1;
    for (size_t i = 0; i < doc->tag_count; i++)
        if (s_facet_push (self, SEARCH_FACET_TAG, doc->tags[i], vals, &n))
            return -1;
    for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
        if (f == SEARCH_FACET_TYPE || f == SEARCH_FACET_TAG)
            continue;
        size_t first = n, np = 0;
        if (s_field_push (self, doc, f, vals, &n, parents, &np))
            return -1;
        bool several = false;
        for (size_t i = first + 1; i < n && !several; i++)
            several = vals[i] != vals[first];
        for (size_t i = 0; i < np && several; i++)
            vals[n++] = parents[i];         //  several values: their parents are explicit
    }
    qsort (vals, n, sizeof vals[0], s_cmp_u32);
    size_t uniq = 0;
    for (size_t i = 0; i < n; i++)
        if (uniq == 0 || vals[uniq - 1] != vals[i])
            vals[uniq++] = vals[i];
    if (s_u32_reserve (&self->fvals, &self->fvals_cap, self->fvals_len + uniq))
        return -1;
    uint32_t owner = SEARCH_STRTAB_NONE;
    if (doc->owner_org && *doc->owner_org) {
        owner = search_strtab_intern (&self->orgs, doc->owner_org, strlen (doc->owner_org), NULL);
        if (owner == SEARCH_STRTAB_NONE)
            return -1;
    }
    uint32_t acl_off = 0;
    if (doc->confidential && doc->allowed_count) {
        if (s_u32_reserve (&self->acl, &self->acl_cap,
                           (self->acl_len ? self->acl_len : 1) + 1 + doc->allowed_count))
            return -1;
        if (self->acl_len == 0)
            self->acl_len = 1;          //  offset 0 means "no list"
        acl_off = (uint32_t) self->acl_len;
        uint32_t count = 0;
        for (size_t i = 0; i < doc->allowed_count; i++) {
            const char *org = doc->allowed_orgs[i];
            if (!org || !*org)
                continue;
            uint32_t id = search_strtab_intern (&self->orgs, org, strlen (org), NULL);
            if (id == SEARCH_STRTAB_NONE)
                return -1;
            self->acl[acl_off + 1 + count++] = id;
        }
        self->acl[acl_off] = count;
        self->acl_len += 1 + count;
    }
    size_t text_size = 0;
    char *blob = s_text_blob (doc, &text_size);
    if (!blob)
        return -1;
    //  single-valued fields are counted from a dense per-field array
    self->multi[d] = 0;
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        self->single[f][d] = 0;
    for (size_t i = 0; i < uniq;) {
        uint32_t f = vals[i] >> S_FACET_SHIFT, id = vals[i] & S_FACET_VALUE_MASK;
        size_t j = i;
        while (j < uniq && vals[j] >> S_FACET_SHIFT == f)
            j++;
        if (j - i == 1 && id < UINT16_MAX)
            self->single[f][d] = (uint16_t) (id + 1);
        else
            self->multi[d] |= (uint8_t) (1u << f);
        i = j;
    }
    //  fvals keeps only the fields with several values (the rest are in `single`)
    for (size_t i = 0; i < uniq; i++)
        if (self->multi[d] >> (vals[i] >> S_FACET_SHIFT) & 1)
            self->fvals[self->fvals_len++] = vals[i];
    self->foff[d + 1] = (uint32_t) self->fvals_len;
    self->owner[d] = owner;
    self->acl_off[d] = acl_off;
    self->text[d] = blob;
    self->text_bytes += text_size;
    self->dtype[d] = (uint8_t) doc->type;
    return 0;
}

//  Analyses the doc's fields and appends its postings for doc id `d`.
static int
s_doc_postings (search_index_t *self, uint32_t d, s_acc_t *acc)
{
    const char *title, *tags, *body;
    search_doc_text (self, d, &title, &tags, &body);
    const char *fields[SEARCH_FIELD_COUNT] = { title, tags, body };
    uint32_t lens[SEARCH_FIELD_COUNT] = { 0 };
    int rc = 0;
    for (int f = 0; f < SEARCH_FIELD_COUNT && rc == 0; f++)
        rc = s_accumulate (self, acc, fields[f], f, &lens[f]);
    for (size_t i = 0; i < acc->n; i++) {
        uint32_t tid = acc->term[i];
        self->term_mark[tid] = 0;
        const uint8_t *tf = acc->tf[i];
        uint8_t byte = (uint8_t) (tf[0] << 6 | tf[1] << 4 | tf[2]);
        if (rc == 0)
            rc = s_postings_append (&self->postings[tid], d, byte);
    }
    acc->n = 0;
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++)
        self->norms[(size_t) d * SEARCH_FIELD_COUNT + f] = s_norm_encode (self, lens[f]);
    return rc;
}

int
search_index_add (search_index_t *self, const search_doc_t *doc)
{
    assert (self);
    if (!s_doc_valid (doc))
        return -1;
    uint32_t idid = search_strtab_find (&self->ids, doc->id, strlen (doc->id));
    if (idid != SEARCH_STRTAB_NONE && doc->version <= self->id_version[idid])
        return 1;
    if (s_doc_reserve (self))
        return -1;
    if (idid == SEARCH_STRTAB_NONE) {
        if (s_ids_reserve (self))
            return -1;
        idid = search_strtab_intern (&self->ids, doc->id, strlen (doc->id), NULL);
        if (idid == SEARCH_STRTAB_NONE)
            return -1;
        self->id_doc[idid] = S_DOC_NONE;
        self->id_version[idid] = 0;
    }
    uint32_t d = self->ndocs;
    self->flags[d] = 0;
    self->ext[d] = idid;
    self->text[d] = NULL;
    self->foff[d + 1] = (uint32_t) self->fvals_len;
    if (s_doc_attrs (self, d, doc)) {
        self->foff[d + 1] = self->foff[d];
        return -1;
    }
    self->ndocs++;              //  from here on a failure leaves a dead slot
    s_acc_t acc = { 0 };
    int rc = s_doc_postings (self, d, &acc);
    free (acc.term);
    free (acc.tf);
    if (rc) {
        self->text_bytes -= strlen (self->text[d]);     //  approximate; slot is dead
        free (self->text[d]);
        self->text[d] = NULL;
        self->dead++;
        return -1;
    }
    if (search_vbits_update (self, d, true)) {
        search_vbits_update (self, d, false);
        self->dead++;
        return -1;
    }
    uint32_t old = self->id_doc[idid];
    if (old != S_DOC_NONE && (self->flags[old] & S_DOC_LIVE))
        s_kill (self, old);
    self->flags[d] |= (uint8_t) (S_DOC_LIVE | (doc->confidential ? S_DOC_CONFIDENTIAL : 0)
                                 | (doc->members_only ? S_DOC_MEMBERS : 0));
    self->live++;
    self->restricted += doc->confidential || doc->members_only;
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++)
        self->len_sum[f] += (uint64_t) self->norm_len[self->norms[(size_t) d * SEARCH_FIELD_COUNT + f]];
    self->id_doc[idid] = d;
    self->id_version[idid] = doc->version;
    const char *title, *tags, *body;
    search_doc_text (self, d, &title, &tags, &body);
    //  best effort: on no memory a suggestion is missing, the doc is searchable; suggestions
    //  are the same for every viewer, so members-only docs make none
    if (!doc->members_only)
        search_suggest_update (self, doc->type, title, tags, +1);
    return 0;
}

int
search_index_remove (search_index_t *self, const char *id, uint64_t version)
{
    assert (self);
    if (!id || !*id || strlen (id) > S_MAX_ID_BYTES)
        return 1;
    uint32_t idid = search_strtab_find (&self->ids, id, strlen (id));
    if (idid == SEARCH_STRTAB_NONE) {
        if (s_ids_reserve (self))
            return -1;
        idid = search_strtab_intern (&self->ids, id, strlen (id), NULL);
        if (idid == SEARCH_STRTAB_NONE)
            return -1;
        self->id_doc[idid] = S_DOC_NONE;
        self->id_version[idid] = version;
        return 1;
    }
    if (version < self->id_version[idid])
        return 1;
    self->id_version[idid] = version;
    uint32_t doc = self->id_doc[idid];
    if (doc == S_DOC_NONE)
        return 1;
    self->id_doc[idid] = S_DOC_NONE;
    if (self->flags[doc] & S_DOC_LIVE)
        s_kill (self, doc);
    return 0;
}

uint64_t
search_index_version (search_index_t *self, const char *id)
{
    assert (self);
    if (!id)
        return 0;
    uint32_t idid = search_strtab_find (&self->ids, id, strlen (id));
    if (idid == SEARCH_STRTAB_NONE || self->id_doc[idid] == S_DOC_NONE)
        return 0;
    return self->id_version[idid];
}

uint32_t
search_index_df (search_index_t *self, const char *term)
{
    assert (self);
    if (!term)
        return 0;
    uint32_t tid = search_strtab_find (&self->terms, term, strlen (term));
    return tid == SEARCH_STRTAB_NONE ? 0 : self->postings[tid].df;
}

void
search_index_stats (search_index_t *self, search_stats_t *stats)
{
    assert (self);
    assert (stats);
    memset (stats, 0, sizeof *stats);
    stats->docs_live = self->live;
    stats->docs_dead = self->dead;
    stats->terms = self->terms.count;
    uint64_t bytes = 0;
    for (uint32_t t = 0; t < self->terms.count; t++) {
        stats->postings_bytes += self->postings[t].len;
        bytes += self->postings[t].cap;
    }
    bytes += (uint64_t) self->postings_cap * (sizeof (search_postings_t) + 4);
    bytes += search_strtab_bytes (&self->terms) + search_strtab_bytes (&self->ids)
             + search_strtab_bytes (&self->orgs);
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        bytes += search_strtab_bytes (&self->facet_dict[f]);
    bytes += (uint64_t) self->id_cap * 12;
    bytes += (uint64_t) self->doc_cap * (1 + 1 + 1 + SEARCH_FIELD_COUNT + 2 * SEARCH_FACET_COUNT
                                         + 4 * 4 + sizeof (char *));
    bytes += (self->fvals_cap + self->acl_cap) * 4;
    bytes += search_suggest_bytes (&self->sugg_titles) + search_suggest_bytes (&self->sugg_tags);
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        for (int v = 0; v < S_DENSE_VALUES; v++)
            bytes += self->vbits[f][v] ? self->vbits_words * 8 : 0;
    stats->index_bytes = bytes;
    stats->text_bytes = self->text_bytes;
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++)
        stats->avg_field_len[f] = self->live ? (double) self->len_sum[f] / (double) self->live : 0;
    stats->generation = self->generation;
}

//  Rewrites one posting list without dead docs, renumbered through `map`.
static uint8_t *
s_postings_compacted (const search_postings_t *p, const uint32_t *map, search_postings_t *out)
{
    uint8_t *buf = malloc (p->len ? p->len : 1);
    if (!buf)
        return NULL;
    search_postings_t np = { .buf = buf, .cap = p->len ? p->len : 1 };
    const uint8_t *q = p->buf, *end = p->buf + p->len;
    uint32_t doc = 0;
    while (q < end) {
        uint32_t delta;
        q = search_varint_get (q, &delta);
        doc += delta;
        uint8_t tf = *q++;
        if (map[doc] != S_DOC_NONE)
            s_postings_append (&np, map[doc], tf);     //  fits: never longer than before
    }
    *out = np;
    return buf;
}

int
search_index_compact (search_index_t *self)
{
    assert (self);
    uint32_t *map = malloc (((size_t) self->ndocs + 1) * sizeof *map);
    search_postings_t *fresh = calloc (self->terms.count + 1, sizeof *fresh);
    if (!map || !fresh) {
        free (map);
        free (fresh);
        return -1;
    }
    uint32_t next = 0;
    for (uint32_t d = 0; d < self->ndocs; d++)
        map[d] = (self->flags[d] & S_DOC_LIVE) ? next++ : S_DOC_NONE;
    for (uint32_t t = 0; t < self->terms.count; t++) {
        if (!s_postings_compacted (&self->postings[t], map, &fresh[t])) {
            for (uint32_t k = 0; k < t; k++)
                free (fresh[k].buf);
            free (fresh);
            free (map);
            return -1;
        }
    }
    for (uint32_t t = 0; t < self->terms.count; t++) {
        free (self->postings[t].buf);
        self->postings[t] = fresh[t];
    }
    free (fresh);
    //  doc arrays: map is increasing, so moving entries down in place is safe
    size_t fpos = 0, apos = self->acl_len ? 1 : 0;
    for (uint32_t d = 0; d < self->ndocs; d++) {
        uint32_t nd = map[d];
        if (nd == S_DOC_NONE) {
            free (self->text[d]);
            continue;
        }
        self->flags[nd] = self->flags[d];
        self->dtype[nd] = self->dtype[d];
        self->multi[nd] = self->multi[d];
        for (int f = 0; f < SEARCH_FACET_COUNT; f++)
            self->single[f][nd] = self->single[f][d];
        memcpy (self->norms + (size_t) nd * SEARCH_FIELD_COUNT,
                self->norms + (size_t) d * SEARCH_FIELD_COUNT, SEARCH_FIELD_COUNT);
        self->ext[nd] = self->ext[d];
        self->owner[nd] = self->owner[d];
        self->text[nd] = self->text[d];
        uint32_t f0 = self->foff[d], f1 = self->foff[d + 1];
        memmove (self->fvals + fpos, self->fvals + f0, (f1 - f0) * sizeof *self->fvals);
        self->foff[nd] = (uint32_t) fpos;
        fpos += f1 - f0;
        self->foff[nd + 1] = (uint32_t) fpos;
        uint32_t a = self->acl_off[d];
        if (a) {
            uint32_t n = self->acl[a] + 1;
            memmove (self->acl + apos, self->acl + a, n * sizeof *self->acl);
            self->acl_off[nd] = (uint32_t) apos;
            apos += n;
        }
        else
            self->acl_off[nd] = 0;
        self->id_doc[self->ext[nd]] = nd;
    }
    self->ndocs = next;
    self->fvals_len = fpos;
    self->acl_len = apos;
    self->dead = 0;
    self->generation++;
    //  renumbered: rebuild the value bitsets (allocated ones stay, so no failure)
    for (int f = 0; f < SEARCH_FACET_COUNT; f++)
        for (int v = 0; v < S_DENSE_VALUES; v++)
            if (self->vbits[f][v])
                memset (self->vbits[f][v], 0, self->vbits_words * sizeof (uint64_t));
    for (uint32_t d = 0; d < self->ndocs; d++)
        search_vbits_update (self, d, true);
    free (map);
    search_index_settle (self);
    return 0;
}
