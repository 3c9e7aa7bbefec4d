/*  registry_infer — what a demand or a profile says beyond what it was given (issue 15 item
    3): key phrases (inferred_tags) and KSIC divisions (inferred_industries) derived from its
    text while the owner has not given tags or industries. Deterministic and independent of
    everything else stored: the same text always gives the same result.

    The text is analysed with oim_analyze (title first, then the description) and every word
    is judged by the shared evidence filter (common/oim_evidence.h: numbers, one-character
    terms, stop words, generic English and Korean business words are never evidence), plus a
    local rule for what may name a topic: no Korean predicate ("찾습니다", "가진") and no
    request word ("looking", "startups").
      * tags: adjacent evidence words at consecutive positions with only spaces or hyphens
        between them make a phrase ("adaptive optics", "배터리 재활용"); each occurrence
        scores 2 in the title, 1 in the description. Phrases first (at most INFER_MAX_PAIRS),
        by score then first occurrence, then single evidence words the same way, skipping a
        word that occurs no more often than inside the phrases already chosen;
        REGISTRY_INFER_TAGS in all. In a long text (INFER_LONG_TEXT evidence words or more)
        a candidate needs a score of 2 (the title, or twice in the description). Display
        form: the words as written, case-folded (a Korean word without its particle), at
        most 50 characters.
      * industries: the keyword table (registry_ksic_keywords.c); a division scores the
        number of its distinct keywords found, the best REGISTRY_INFER_INDUSTRIES with a hit
        (two in a long text) are kept (ties: by code).
    Not thread-safe (one analyser's token buffers): the registry's one actor owns it.
    Cost (one write, both fields inferred, build-h7): ~40 us for a 180-character Korean
    demand, ~240 us for a 3.8 KB English one (half of it oim_analyze and oim_evidence_mark);
    nothing when both fields are given.
*/
#include "registry.h"
#include "oim_analyze.h"
#include "oim_evidence.h"
#include "oim_utf8.h"

#define INFER_MAX_TOKENS    8000    //  analysed per part (title, description): bounded work
#define INFER_MAX_PAIRS     6       //  phrases among the tags, at most
#define INFER_LONG_TEXT     40      //  evidence words from which a candidate needs score 2
#define INFER_TAG_CHARS     50      //  as a given tag (registry_validate_tags)

//  Words that never name a topic though the evidence filter lets them through: requests and
//  the parties of a demand (English, stemmed at start), Korean predicates by their ending.
static const char *s_request_words [] = { "looking", "look", "seeking", "seek", "find",
    "finding", "want", "wanted", "wants", "interested", "request", "requested", "startup",
    "startups", "partner", "partners", "partnership", "collaboration", "collaborate", "help",
    "ideas", "idea", "please", "contact", "스타트업", "파트너", "대상", NULL };
static const char *s_predicate_endings [] = { "다", "하", "하는", "되는", "있는", "없는", "가진",
    "갖춘", "위한", "통한", "대한", "같은", "찾는", "하고", "하여", "해서", "하며", "하기",
    "되어", "되고", "하면", "으며", "한", NULL };

typedef struct {
    char *key;                      //  analysed: "term" or "term term"; Korean: the keyword
    char bigram [8];                //  Korean: its first two syllables (a term of the text)
    uint16_t division;              //  index into the table
    bool hangul;
    int next;                       //  the next keyword of the same index key, -1 none
} keyword_t;

struct registry_infer_t {
    oim_analyzer_t *analyzer;
    oim_evidence_t *evidence;
    oim_tokens_t *tokens;
    zhashx_t *not_topics;           //  s_request_words, analysed
    const registry_ksic_keywords_t *table;
    size_t divisions;
    keyword_t *keywords;
    size_t n_keywords;
    //  A text term -> 1 + the first keyword it finds (English: the key; Korean: the first
    //  two syllables, checked then as a substring), so a text costs a lookup per term.
    zhashx_t *index;
};

//  One word of the text: a position's WORD token (a Korean word's STEM when it has one).
typedef struct {
    char *term;
    const char *source;             //  the word as written: [start, end) of its part
    uint32_t start, end;
    bool evidence;
    bool joined;                    //  directly after the previous word (same part, no break)
    bool hangul;
    uint8_t weight;                 //  2 title, 1 description
} word_t;

typedef struct {
    word_t *words;
    size_t n, cap;
    size_t evidence;                //  evidence words
    //  Keywords (industries wanted only): found [k] when keyword k occurs; seen [k] when a
    //  Korean keyword's first two syllables occur (then checked as a substring at the end).
    bool *found, *seen;
} text_t;

//  A candidate tag: a word, or a phrase of two adjacent words, where it first occurs.
typedef struct {
    const word_t *a, *b;            //  its first occurrence (b NULL for a single word)
    unsigned score;
    unsigned first;                 //  order of the first occurrence
    bool pair;
} cand_t;

static bool
s_is_hangul (const char *text)
{
    const unsigned char *p = (const unsigned char *) text;
    for (; *p; p++)
        if (*p == 0xEA || *p == 0xEB || *p == 0xEC || *p == 0xED)
            return true;            //  U+A000..U+DFFF lead bytes: Hangul syllables
    return false;
}

//  Writes a, separator, b into out (room for both terms and two bytes).
static void
s_join (char *out, const char *a, char separator, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    memcpy (out, a, la);
    out [la] = separator;
    memcpy (out + la + 1, b, lb + 1);
}

//  Joins the WORD terms of an analysis with single spaces into a new string.
static char *
s_joined_terms (registry_infer_t *self, const char *text)
{
    char out [256] = "";
    size_t len = 0;
    int count = oim_analyze (self->analyzer, text, strlen (text), 16, self->tokens);
    for (int i = 0; i < count; i++) {
        const oim_token_t *t = oim_tokens_get (self->tokens, (size_t) i);
        if (t->kind == OIM_TOKEN_WORD && len + t->term_len + 2 < sizeof out)
            len += (size_t) snprintf (out + len, sizeof out - len, "%s%s", len? " ": "", t->term);
    }
    return len? strdup (out): NULL;
}

//  Analyses the keyword table. Returns 0, or -1 when memory is short.
static int
s_keywords_load (registry_infer_t *self)
{
    self->table = registry_ksic_keywords (&self->divisions);
    size_t cap = self->divisions * REGISTRY_KSIC_KEYWORDS_MAX;
    self->keywords = calloc (cap + 1, sizeof *self->keywords);
    if (!self->keywords)
        return -1;
    for (size_t d = 0; d < self->divisions; d++)
        for (const char *const *w = self->table [d].words; *w; w++) {
            keyword_t *k = &self->keywords [self->n_keywords];
            k->hangul = s_is_hangul (*w);
            k->key = k->hangul? strdup (*w): s_joined_terms (self, *w);
            k->division = (uint16_t) d;
            if (k->hangul)      //  two syllables: 6 bytes of UTF-8
                snprintf (k->bigram, sizeof k->bigram, "%.6s", *w);
            bool repeated = false;     //  "battery" and "batteries" are one keyword
            for (size_t j = 0; k->key && j < self->n_keywords && !repeated; j++)
                repeated = self->keywords [j].division == d
                        && strcmp (self->keywords [j].key, k->key) == 0;
            if (k->key && !repeated)
                self->n_keywords++;
            else
                free (k->key);
        }
    for (size_t i = self->n_keywords; i-- > 0; ) {      //  chains in table order
        keyword_t *k = &self->keywords [i];
        const char *key = k->hangul? k->bigram: k->key;
        uintptr_t first = (uintptr_t) zhashx_lookup (self->index, key);
        k->next = first? (int) first - 1: -1;
        zhashx_update (self->index, key, (void *) (uintptr_t) (i + 1));
    }
    return 0;
}

registry_infer_t *
registry_infer_new (void)
{
    registry_infer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->analyzer = oim_analyzer_new (NULL);
    self->tokens = oim_tokens_new ();
    self->not_topics = zhashx_new ();
    self->index = zhashx_new ();
    self->evidence = self->analyzer? oim_evidence_new (self->analyzer): NULL;
    if (!self->tokens || !self->evidence || !self->not_topics || !self->index
    ||  s_keywords_load (self)) {
        registry_infer_destroy (&self);
        return NULL;
    }
    for (const char **w = s_request_words; *w; w++) {
        char *term = s_joined_terms (self, *w);
        if (term)
            zhashx_insert (self->not_topics, term, (void *) 1);
        free (term);
    }
    return self;
}

void
registry_infer_destroy (registry_infer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_infer_t *self = *self_p;
    for (size_t i = 0; i < self->n_keywords; i++)
        free (self->keywords [i].key);
    free (self->keywords);
    zhashx_destroy (&self->not_topics);
    zhashx_destroy (&self->index);
    oim_evidence_destroy (&self->evidence);
    oim_tokens_destroy (&self->tokens);
    oim_analyzer_destroy (&self->analyzer);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------------------------
//  The text as words

//  True when a word can name a topic (beyond being evidence).
static bool
s_topical (registry_infer_t *self, const char *term, bool hangul)
{
    if (zhashx_lookup (self->not_topics, term))
        return false;
    size_t len = hangul? strlen (term): 0;
    for (const char **e = s_predicate_endings; hangul && *e; e++) {
        size_t n = strlen (*e);
        if (len >= n && memcmp (term + len - n, *e, n) == 0)
            return false;
    }
    return true;
}

//  True when the bytes between two words hold more than spaces and hyphens: a comma, a
//  slash, a quote or a sentence break ends a phrase ("AI, 블록체인" is two topics).
static bool
s_break (const char *text, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++)
        if (text [i] != ' ' && text [i] != '-')
            return true;
    return false;
}

//  Notes the keywords a term of the text (or an adjacent pair "a b") finds.
static void
s_keywords_see (registry_infer_t *self, text_t *text, const char *term)
{
    uintptr_t first = (uintptr_t) zhashx_lookup (self->index, term);
    for (int k = first? (int) first - 1: -1; k >= 0; k = self->keywords [k].next)
        if (self->keywords [k].hangul)
            text->seen [k] = true;
        else
            text->found [k] = true;
}

//  Adds the word of one position: token word is its WORD, main the same or its STEM.
static void
s_add_word (registry_infer_t *self, text_t *text, const char *part, const bool *evidence,
            size_t word, size_t main, uint8_t weight, bool joined)
{
    const oim_token_t *t = oim_tokens_get (self->tokens, main);
    const char *whole = oim_tokens_get (self->tokens, word)->term;
    if (text->n == text->cap) {
        text->cap = text->cap? text->cap * 2: 64;
        text->words = realloc (text->words, text->cap * sizeof *text->words);
        assert (text->words);
    }
    word_t *w = &text->words [text->n++];
    *w = (word_t) { .term = strdup (t->term), .hangul = t->script != OIM_SCRIPT_OTHER,
                    .weight = weight, .joined = joined };
    assert (w->term);
    w->evidence = evidence [main] && s_topical (self, whole, w->hangul)
               && (main == word || s_topical (self, w->term, w->hangul));
    w->source = part;
    w->start = t->byte_start;
    w->end = t->byte_end;
    text->evidence += w->evidence;
    if (joined && text->found && !w->hangul) {   //  the adjacent pair, for English keywords
        char pair [2 * OIM_TERM_MAX_BYTES + 2];
        s_join (pair, text->words [text->n - 2].term, ' ', w->term);
        s_keywords_see (self, text, pair);
    }
}

//  Analyses one part (title or description) into text's words and the keywords it holds.
static void
s_add_part (registry_infer_t *self, text_t *text, const char *part, uint8_t weight)
{
    int count = part && *part? oim_analyze (self->analyzer, part, strlen (part),
                                            INFER_MAX_TOKENS, self->tokens): 0;
    if (count <= 0)
        return;
    bool *evidence = calloc ((size_t) count, sizeof *evidence);
    assert (evidence);
    oim_evidence_mark (self->evidence, self->tokens, evidence);
    size_t first_word = text->n;
    uint32_t last_pos = 0, last_end = 0;
    for (size_t start = 0; start < (size_t) count; ) {
        const oim_token_t *t = oim_tokens_get (self->tokens, start);
        size_t main = start, end = start;
        for (; end < (size_t) count && oim_tokens_get (self->tokens, end)->pos == t->pos; end++) {
            const oim_token_t *u = oim_tokens_get (self->tokens, end);
            if (text->found)
                s_keywords_see (self, text, u->term);
            if (u->kind == OIM_TOKEN_STEM)
                main = end;
        }
        bool joined = text->n > first_word && t->pos == last_pos + 1
                   && !s_break (part, last_end, t->byte_start);
        s_add_word (self, text, part, evidence, start, main, weight, joined);
        last_pos = t->pos;
        last_end = t->byte_end;
        start = end;
    }
    free (evidence);
}

//  Loads the words of title and description, and the keywords they hold when those are
//  wanted (for industries).
static void
s_text_load (registry_infer_t *self, text_t *text, const char *title, const char *description,
             bool keywords)
{
    memset (text, 0, sizeof *text);
    if (keywords) {
        text->found = calloc (self->n_keywords + 1, sizeof (bool));
        text->seen = calloc (self->n_keywords + 1, sizeof (bool));
        assert (text->found && text->seen);
    }
    s_add_part (self, text, title, 2);
    s_add_part (self, text, description, 1);
}

static void
s_text_free (text_t *text)
{
    for (size_t i = 0; i < text->n; i++) {
        free (text->words [i].term);
    }
    free (text->words);
    free (text->found);
    free (text->seen);
}

//  ---------------------------------------------------------------------------------------
//  Tags

static void
s_cand_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

//  Adds one occurrence of a word (b NULL) or a phrase to the candidates.
static void
s_cand_add (zhashx_t *cands, const word_t *a, const word_t *b, unsigned order)
{
    char key [2 * OIM_TERM_MAX_BYTES + 4];
    s_join (key, a->term, '\x1f', b? b->term: "");
    cand_t *c = zhashx_lookup (cands, key);
    if (!c) {
        c = calloc (1, sizeof *c);
        assert (c);
        *c = (cand_t) { .a = a, .b = b, .first = order, .pair = b != NULL };
        zhashx_insert (cands, key, c);
    }
    c->score += b? b->weight: a->weight;
}

static int
s_cand_cmp (const void *x, const void *y)
{
    const cand_t *a = *(const cand_t *const *) x, *b = *(const cand_t *const *) y;
    if (a->pair != b->pair)
        return a->pair? -1: 1;
    if (a->score != b->score)
        return a->score > b->score? -1: 1;
    return a->first < b->first? -1: a->first > b->first;
}

//  Candidates (phrases and words) sorted best first; *count of them. Caller frees the array.
static cand_t **
s_candidates (const text_t *text, zhashx_t *cands, size_t *count)
{
    for (size_t i = 0; i < text->n; i++) {
        const word_t *w = &text->words [i];
        if (!w->evidence)
            continue;
        s_cand_add (cands, w, NULL, (unsigned) (2 * i));
        if (w->joined && text->words [i - 1].evidence)
            s_cand_add (cands, &text->words [i - 1], w, (unsigned) (2 * i - 1));
    }
    *count = zhashx_size (cands);
    cand_t **sorted = calloc (*count + 1, sizeof *sorted);
    assert (sorted);
    size_t n = 0;
    for (cand_t *c = zhashx_first (cands); c; c = zhashx_next (cands))
        sorted [n++] = c;
    qsort (sorted, n, sizeof *sorted, s_cand_cmp);
    return sorted;
}

//  A word as written, case-folded (a Korean word: its term, without the particle); a new
//  string or NULL.
static char *
s_word_display (const word_t *w)
{
    return w->hangul? strdup (w->term): oim_utf8_fold_n (w->source + w->start, w->end - w->start);
}

//  The display of candidate c (a new string, or NULL): a phrase's words joined by a space.
static char *
s_display (const cand_t *c)
{
    char *a = s_word_display (c->a), *b = c->pair? s_word_display (c->b): NULL;
    char *out = !c->pair? a: a && b? malloc (strlen (a) + strlen (b) + 2): NULL;
    if (c->pair && out)
        s_join (out, a, ' ', b);
    if (c->pair)
        free (a);
    free (b);
    return out;
}

//  True when word c occurs no more often than inside the phrases chosen[0..n).
static bool
s_covered (const cand_t *c, cand_t **chosen, size_t n)
{
    unsigned inside = 0;
    for (size_t i = 0; i < n; i++)
        if (chosen [i]->pair && (strcmp (chosen [i]->a->term, c->a->term) == 0
                                 || strcmp (chosen [i]->b->term, c->a->term) == 0))
            inside += chosen [i]->score;
    return inside >= c->score;
}

static size_t
s_tags (text_t *text, char **out)
{
    zhashx_t *cands = zhashx_new ();
    zhashx_set_destructor (cands, s_cand_destroy);
    size_t count, n = 0, pairs = 0;
    cand_t **sorted = s_candidates (text, cands, &count);
    cand_t *chosen [REGISTRY_INFER_TAGS];
    unsigned min_score = text->evidence >= INFER_LONG_TEXT? 2: 1;
    for (size_t i = 0; i < count && n < REGISTRY_INFER_TAGS; i++) {
        cand_t *c = sorted [i];
        if (c->score < min_score || (c->pair && pairs == INFER_MAX_PAIRS)
        ||  (!c->pair && s_covered (c, chosen, n)))
            continue;
        char *display = s_display (c);
        bool fits = display && oim_utf8_chars (display) <= INFER_TAG_CHARS;
        for (size_t j = 0; fits && j < n; j++)
            fits = strcmp (out [j], display) != 0;
        if (!fits) {
            free (display);
            continue;
        }
        pairs += c->pair;
        chosen [n] = c;
        out [n++] = display;
    }
    free (sorted);
    zhashx_destroy (&cands);
    return n;
}

size_t
registry_infer_tags (registry_infer_t *self, const char *title, const char *description,
                     char **out)
{
    text_t text;
    s_text_load (self, &text, title, description, false);
    size_t n = s_tags (&text, out);
    s_text_free (&text);
    return n;
}

//  ---------------------------------------------------------------------------------------
//  Industries

//  True when a Korean word of the text contains key.
static bool
s_in_words (const text_t *text, const char *key)
{
    for (size_t i = 0; i < text->n; i++)
        if (text->words [i].hangul && strstr (text->words [i].term, key))
            return true;
    return false;
}

//  Completes text->found: a Korean keyword whose first syllables occur is found when a
//  Korean word of the text contains it.
static void
s_keywords_found (registry_infer_t *self, text_t *text)
{
    for (size_t k = 0; k < self->n_keywords; k++)
        if (text->seen [k] && !text->found [k])
            text->found [k] = s_in_words (text, self->keywords [k].key);
}

static size_t
s_industries (registry_infer_t *self, text_t *text, const char **out)
{
    unsigned *hits = calloc (self->divisions + 1, sizeof *hits);
    assert (hits);
    s_keywords_found (self, text);
    for (size_t k = 0; k < self->n_keywords; k++)
        hits [self->keywords [k].division] += text->found [k];
    size_t n = 0;
    unsigned min_hits = text->evidence >= INFER_LONG_TEXT? 2: 1;
    while (n < REGISTRY_INFER_INDUSTRIES) {
        size_t best = self->divisions;
        for (size_t d = 0; d < self->divisions; d++)    //  the table is in code order
            if (hits [d] >= min_hits && (best == self->divisions || hits [d] > hits [best]))
                best = d;
        if (best == self->divisions)
            break;
        out [n++] = self->table [best].code;
        hits [best] = 0;
    }
    free (hits);
    return n;
}

size_t
registry_infer_industries (registry_infer_t *self, const char *title, const char *description,
                           const char **out)
{
    text_t text;
    s_text_load (self, &text, title, description, true);
    size_t n = s_industries (self, &text, out);
    s_text_free (&text);
    return n;
}

//  ---------------------------------------------------------------------------------------
//  Entities

//  One given/inferred field pair of an entity.
typedef struct {
    protobuf_c_boolean *given;
    size_t n_list;                  //  the given list's length
    char ***inferred;
    size_t *n_inferred;
} slot_t;

static void
s_slot_clear (slot_t *slot)
{
    for (size_t i = 0; i < *slot->n_inferred; i++)
        free ((*slot->inferred) [i]);
    free (*slot->inferred);
    *slot->inferred = NULL;
    *slot->n_inferred = 0;
    *slot->given = *slot->given || slot->n_list > 0;
}

static void
s_apply (registry_infer_t *self, const char *title, const char *description, slot_t *tags,
         slot_t *industries)
{
    s_slot_clear (tags);
    s_slot_clear (industries);
    if (*tags->given && *industries->given)
        return;
    text_t text;
    s_text_load (self, &text, title, description, !*industries->given);
    char *found [REGISTRY_INFER_TAGS];
    const char *codes [REGISTRY_INFER_INDUSTRIES];
    size_t n = *tags->given? 0: s_tags (&text, found);
    *tags->inferred = calloc (n + 1, sizeof (char *));
    assert (*tags->inferred);
    for (size_t i = 0; i < n; i++)
        (*tags->inferred) [i] = found [i];
    *tags->n_inferred = n;
    n = *industries->given? 0: s_industries (self, &text, codes);
    *industries->inferred = calloc (n + 1, sizeof (char *));
    assert (*industries->inferred);
    for (size_t i = 0; i < n; i++)
        (*industries->inferred) [i] = strdup (codes [i]);
    *industries->n_inferred = n;
    s_text_free (&text);
}

void
registry_infer_demand (registry_infer_t *self, Oim__V1__Demand *d)
{
    slot_t tags = { &d->tags_given, d->n_tags, &d->inferred_tags, &d->n_inferred_tags };
    slot_t industries = { &d->industries_given, d->n_industries, &d->inferred_industries,
                          &d->n_inferred_industries };
    s_apply (self, d->title, d->description, &tags, &industries);
}

void
registry_infer_org (registry_infer_t *self, Oim__V1__Organization *org)
{
    slot_t tags = { &org->tags_given, org->n_tags, &org->inferred_tags, &org->n_inferred_tags };
    slot_t industries = { &org->industries_given, org->n_industries, &org->inferred_industries,
                          &org->n_inferred_industries };
    s_apply (self, "", org->description, &tags, &industries);
}

void
registry_infer_given (const json_t *body, protobuf_c_boolean *tags_given,
                      protobuf_c_boolean *industries_given)
{
    json_t *tags = json_object_get (body, "tags");
    json_t *industries = json_object_get (body, "industries");
    *tags_given = *tags_given || (tags && !json_is_null (tags));
    *industries_given = *industries_given || (industries && !json_is_null (industries));
}

void
registry_infer_json (json_t *json, size_t n_tags, size_t n_industries)
{
    if (n_tags)
        json_object_set_new (json, "tags_given", json_true ());
    if (n_industries)
        json_object_set_new (json, "industries_given", json_true ());
}
