/*  matcher_terms — the term dictionary (one id per analysed term or tag key), the analysis
    the model applies on top of oim_analyze (Korean endings and function words dropped, each
    token marked evidence or not by common/oim_evidence), adjacent word pairs, tag keys, and a
    demand's text query (MATCH_QUALITY.md §3.3, matcher_terms_select): its evidence words
    and pairs weighted 1 + ln c(t) (pairs 0.3 x), the MATCHER_MAX_KEY_TERMS of largest q * idf;
    then, in the slots left, the glossary's translations of its words (common/oim_glossary:
    "배터리 재활용" -> "battery recycling") at config.glossary_weight, so a Korean demand finds
    English profiles and the reverse.
*/
#include "matcher_internal.h"
#include "oim_utf8.h"

uint32_t
matcher_term (matcher_model_t *self, const char *text)
{
    void *found = zhashx_lookup (self->term_ids, text);
    if (found)
        return (uint32_t) ((uintptr_t) found - 1);
    self->terms = matcher_grow (self->terms, &self->terms_cap, self->nterms + 1, sizeof (matcher_term_t));
    matcher_term_t *term = &self->terms [self->nterms];
    memset (term, 0, sizeof *term);
    term->text = strdup (text);
    term->idf_gen = UINT64_MAX;
    zhashx_insert (self->term_ids, text, (void *) (uintptr_t) (self->nterms + 1));
    self->bytes += sizeof *term + strlen (text) + 48;
    return self->nterms++;
}

//  Korean verb endings and particles: a Hangul/CJK bigram that reaches into one of them says
//  nothing about the topic ("합니다" would pair every polite sentence), so such bigrams are
//  dropped, and so are words that are only function words. Longest first.
static const char *const s_endings [] = {
    "습니다", "합니다", "입니다", "됩니다", "니다", "하는", "하고", "하여", "해서", "한다",
    "했다", "된다", "있는", "있다", "하다", "에서", "으로", "에게", "까지", "부터",
    "을", "를", "은", "는", "의", "에", "와", "과", "도", "로", "이", "가", NULL
};
static const char *const s_function_words [] = {
    "합니다", "입니다", "있습니다", "됩니다", "있는", "하는", "위한", "통해", "대한", "및",
    "등", "수", "있다", "한다", "하고", "또는", "그리고", NULL
};

//  Analyses text into self->tokens and self->keep (the indexes of the tokens that count);
//  returns the number kept (0 on failure). Counting tokens for BM25 lengths uses this too.
size_t
matcher_analyze (matcher_model_t *self, const char *text)
{
    if (!text || !*text)
        return 0;
    int count = oim_analyze (self->analyzer, text, strlen (text), MAX_TOKENS, self->tokens);
    if (count <= 0)
        return 0;
    if ((size_t) count > self->keep_cap) {
        self->keep_cap = count * 2;
        self->keep = realloc (self->keep, self->keep_cap * sizeof *self->keep);
        self->cut = realloc (self->cut, self->keep_cap * sizeof *self->cut);
        assert (self->keep && self->cut);
    }
    //  first pass: where each Hangul word's ending starts (by position)
    uint32_t last_pos = UINT32_MAX, cut = UINT32_MAX;
    size_t kept = 0;
    for (int i = 0; i < count; i++) {
        const oim_token_t *token = oim_tokens_get (self->tokens, i);
        if (token->pos != last_pos) {
            last_pos = token->pos;
            cut = UINT32_MAX;
            //  the word of this position is its WORD token (the first one emitted)
            if (token->script != OIM_SCRIPT_OTHER) {
                const char *start = text + token->byte_start;
                size_t len = token->byte_end - token->byte_start;
                for (int e = 0; s_endings [e]; e++) {
                    size_t el = strlen (s_endings [e]);
                    if (len > el && memcmp (start + len - el, s_endings [e], el) == 0) {
                        cut = token->byte_end - el;
                        break;
                    }
                }
            }
        }
        self->cut [i] = cut;
    }
    for (int i = 0; i < count; i++) {
        const oim_token_t *token = oim_tokens_get (self->tokens, i);
        if (token->script != OIM_SCRIPT_OTHER) {
            if (token->kind == OIM_TOKEN_BIGRAM && token->byte_end > self->cut [i])
                continue;
            bool function_word = false;
            for (int f = 0; s_function_words [f] && !function_word; f++)
                function_word = streq (token->term, s_function_words [f]);
            if (function_word)
                continue;
        }
        self->keep [kept++] = (uint32_t) i;
    }
    if ((size_t) count > self->ev_cap) {
        self->ev_cap = count * 2;
        self->ev = realloc (self->ev, self->ev_cap * sizeof *self->ev);
        assert (self->ev);
    }
    oim_evidence_mark (self->evidence, self->tokens, self->ev);
    return kept;
}

//  The i-th kept token of the last analysis.
const oim_token_t *
matcher_token (matcher_model_t *self, size_t i)
{
    return oim_tokens_get (self->tokens, self->keep [i]);
}

//  True when the i-th kept token of the last analysis is evidence.
bool
matcher_token_evidence (matcher_model_t *self, size_t i)
{
    return self->ev [self->keep [i]];
}

//  True when text [from, to) holds a break: . ; : ! ? or a line break.
static bool
s_break (const char *text, uint32_t from, uint32_t to)
{
    for (uint32_t at = from; at < to; at++)
        if (strchr (".;:!?\n\r", text [at]))
            return true;
    return false;
}

uint32_t
matcher_terms_pairs (matcher_model_t *self, const char *text, size_t count, uint64_t **pairs,
                     uint32_t *n, uint32_t *cap)
{
    //  per position, the word that pairs: its WORD, or (Hangul) its STEM when there is one
    uint32_t prev_term = UINT32_MAX, prev_pos = UINT32_MAX, prev_end = 0;
    for (size_t i = 0; i < count; ) {
        const oim_token_t *token = matcher_token (self, i);
        size_t pick = i, j = i + 1;
        for (; j < count && matcher_token (self, j)->pos == token->pos; j++)
            if (matcher_token (self, j)->kind == OIM_TOKEN_STEM)
                pick = j;
        if (token->kind == OIM_TOKEN_BIGRAM)
            pick = SIZE_MAX;            //  the word itself was dropped: no pair through it
        uint32_t term = pick != SIZE_MAX && matcher_token_evidence (self, pick)
                      ? matcher_term (self, matcher_token (self, pick)->term): UINT32_MAX;
        if (term != UINT32_MAX && prev_term != UINT32_MAX && token->pos == prev_pos + 1
        &&  !s_break (text, prev_end, token->byte_start)) {
            *pairs = matcher_grow (*pairs, cap, *n + 1, sizeof **pairs);
            (*pairs) [(*n)++] = (uint64_t) prev_term << 32 | term;
        }
        prev_term = term;
        prev_pos = token->pos;
        prev_end = token->byte_end;
        i = j;
    }
    return *n;
}

//  The tag key of a tag: "#" + its analysed words joined by spaces, so spelling variants of
//  one tag compare equal. Registers the key's word terms. Returns the key's term id, or
//  UINT32_MAX for a tag without words.
uint32_t
matcher_tag_key (matcher_model_t *self, const char *tag)
{
    size_t count = matcher_analyze (self, tag);
    char key [256] = "#";
    size_t used = 1;
    uint32_t words [32];
    uint32_t nwords = 0;
    for (size_t i = 0; i < count; i++) {
        const oim_token_t *token = matcher_token (self, i);
        if (token->kind != OIM_TOKEN_WORD)
            continue;
        if (used + token->term_len + 2 >= sizeof key || nwords == 32)
            break;
        if (used > 1)
            key [used++] = ' ';
        memcpy (key + used, token->term, token->term_len);
        used += token->term_len;
        key [used] = 0;
        words [nwords++] = matcher_term (self, token->term);
    }
    if (nwords == 0)
        return UINT32_MAX;
    uint32_t id = matcher_term (self, key);
    matcher_term_t *term = &self->terms [id];
    if (!term->words) {
        nwords = matcher_sort_uniq (words, nwords);
        term->words = malloc (nwords * sizeof *words);
        assert (term->words);
        memcpy (term->words, words, nwords * sizeof *words);
        term->nwords = nwords;
    }
    return id;
}

//  --------------------------------------------------------------------------------------
//  The text query of a demand

typedef struct {
    uint64_t id;                    //  a word's term id, or a pair's id(a) << 32 | id(b)
    bool pair;
    uint32_t count;                 //  c(t): occurrences in the demand
    double scale;                   //  1: in the demand's own text; less: only a glossary
                                    //  translation of it (config.glossary_weight)
    double q, rank;                 //  query weight, q * idf
    char *word;                     //  display form (first occurrence)
} s_cand_t;

static int
s_cand_cmp (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if ((x->scale < 1) != (y->scale < 1))
        return x->scale < 1? 1: -1;     //  translations only fill the slots the demand's
                                        //  own terms leave (their idf is often the highest:
                                        //  words of the other language are rare)
    if (x->rank != y->rank)
        return x->rank > y->rank? -1: 1;
    if (x->pair != y->pair)
        return x->pair? 1: -1;
    return x->id < y->id? -1: x->id > y->id;
}

//  The display form of a token: the original text, NFC + case folded; bigrams show as is.
static char *
s_display (const char *text, const oim_token_t *token)
{
    if (token->kind == OIM_TOKEN_WORD) {
        char *word = oim_utf8_fold_n (text + token->byte_start,
                                       token->byte_end - token->byte_start);
        if (word)
            return word;
    }
    if (token->kind == OIM_TOKEN_BIGRAM) {   //  marked: shown only when no word matched
        char *word = malloc (token->term_len + 2);
        assert (word);
        word [0] = '\x02';
        memcpy (word + 1, token->term, token->term_len + 1);
        return word;
    }
    return matcher_strdup (token->term);
}

typedef struct {
    s_cand_t *cands; uint32_t n, cap;
    zhashx_t *at;                   //  "w:<id>" / "p:<id>" -> index + 1
} s_cands_t;

//  Counts one occurrence of a word or pair; word (owned by the callee) its display form,
//  scale 1 for the demand's own text, less for a translation (which counts no occurrence
//  of a term the text has).
static void
s_cands_add (s_cands_t *c, uint64_t id, bool pair, char *word, double scale)
{
    char key [40];
    snprintf (key, sizeof key, "%c%llu", pair? 'p': 'w', (unsigned long long) id);
    uintptr_t at = (uintptr_t) zhashx_lookup (c->at, key);
    if (at) {
        s_cand_t *x = &c->cands [at - 1];
        if (scale >= 1 && x->scale >= 1)
            x->count++;
        else
        if (scale > x->scale) {
            x->count = 1;           //  the text has it after all: its own occurrences count
            x->scale = scale;
        }
        free (word);
        return;
    }
    c->cands = matcher_grow (c->cands, &c->cap, c->n + 1, sizeof *c->cands);
    c->cands [c->n] = (s_cand_t) { id, pair, 1, scale, 0, 0, word };
    zhashx_insert (c->at, key, (void *) (uintptr_t) ++c->n);
}

//  The display form of a word term counted in c (NULL when not counted).
static const char *
s_cands_word (s_cands_t *c, uint32_t term)
{
    char key [40];
    snprintf (key, sizeof key, "w%u", term);
    uintptr_t at = (uintptr_t) zhashx_lookup (c->at, key);
    return at? c->cands [at - 1].word: NULL;
}

//  How many kept tokens of the last analysis stand at token i's position: a Hangul word is
//  several bigrams, and a translated word must weigh as one word whatever its script.
static size_t
s_same_word (matcher_model_t *self, size_t i, size_t count)
{
    uint32_t pos = matcher_token (self, i)->pos;
    size_t first = i, last = i;
    while (first > 0 && matcher_token (self, first - 1)->pos == pos)
        first--;
    while (last + 1 < count && matcher_token (self, last + 1)->pos == pos)
        last++;
    return last - first + 1;
}

//  Analyses one field of the demand: every kept term into all, the evidence words and the
//  pairs into c at scale (1: the demand's text; less: its glossary translation).
static void
s_select_field (matcher_model_t *self, const char *text, double scale, s_cands_t *c,
                uint32_t **all, uint32_t *nall, uint32_t *all_cap)
{
    size_t count = matcher_analyze (self, text);
    for (size_t i = 0; i < count; i++) {
        const oim_token_t *token = matcher_token (self, i);
        uint32_t term = matcher_term (self, token->term);
        if (all) {                  //  the demand's own terms (not its translation)
            *all = matcher_grow (*all, all_cap, *nall + 1, sizeof **all);
            (*all) [(*nall)++] = term;
        }
        if (matcher_token_evidence (self, i))
            s_cands_add (c, term, false, s_display (text, token),
                         scale < 1? scale / s_same_word (self, i, count): scale);
    }
    uint64_t *pairs = NULL;
    uint32_t npairs = 0, cap = 0;
    matcher_terms_pairs (self, text, count, &pairs, &npairs, &cap);
    for (uint32_t i = 0; i < npairs; i++) {
        const char *a = s_cands_word (c, (uint32_t) (pairs [i] >> 32));
        const char *b = s_cands_word (c, (uint32_t) pairs [i]);
        char *word = zsys_sprintf ("%s %s", a? a: "?", b? b: "?");
        assert (word);
        s_cands_add (c, pairs [i], true, strdup (word), scale);
        zstr_free (&word);
    }
    free (pairs);
}

//  Keeps the MATCHER_MAX_KEY_TERMS candidates of largest q * idf as d's query.
static void
s_select_keep (matcher_model_t *self, matcher_demand_t *d, s_cands_t *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        s_cand_t *x = &c->cands [i];
        x->q = x->scale * (x->pair? 0.3: 1.0) * (1 + log ((double) x->count));
        x->rank = x->q * (x->pair? matcher_pair_idf (self, x->id)
                                 : matcher_idf (self, (uint32_t) x->id));
    }
    if (c->n)
        qsort (c->cands, c->n, sizeof *c->cands, s_cand_cmp);
    uint32_t keep = c->n < MATCHER_MAX_KEY_TERMS? c->n: MATCHER_MAX_KEY_TERMS;
    d->key = calloc (keep + 1, sizeof *d->key);
    d->key_words = calloc (keep + 1, sizeof *d->key_words);
    d->key_q = calloc (keep + 1, sizeof *d->key_q);
    d->pair = calloc (keep + 1, sizeof *d->pair);
    d->pair_words = calloc (keep + 1, sizeof *d->pair_words);
    d->pair_q = calloc (keep + 1, sizeof *d->pair_q);
    assert (d->key && d->key_words && d->key_q && d->pair && d->pair_words && d->pair_q);
    for (uint32_t i = 0; i < c->n; i++) {
        s_cand_t *x = &c->cands [i];
        if (i >= keep)
            free (x->word);
        else
        if (x->pair) {
            d->pair [d->npair] = x->id;
            d->pair_q [d->npair] = x->q;
            d->pair_words [d->npair++] = x->word;
        }
        else {
            d->key [d->nkey] = (uint32_t) x->id;
            d->key_q [d->nkey] = x->q;
            d->key_words [d->nkey++] = x->word;
        }
    }
}

//  The glossary's other-language forms of the terms in the demand's title, tags and
//  description (fresh, "\n"-separated), or NULL without a glossary or on no memory.
static char *
s_translate (matcher_model_t *self, const Oim__V1__Demand *msg)
{
    if (!self->glossary)
        return NULL;
    oim_tokens_t *tokens = oim_tokens_new ();
    char *text = zsys_sprintf ("%s\n%s", msg->title? msg->title: "",
                               msg->description? msg->description: "");
    char *tags = NULL;
    for (size_t i = 0; text && tokens && i < msg->n_tags && i < 64; i++) {
        tags = zsys_sprintf ("%s\n%s", text, msg->tags [i]);
        zstr_free (&text);
        text = tags;
    }
    char *translated = text && tokens?
        oim_glossary_translate (self->glossary, self->analyzer, tokens, text, strlen (text))
        : NULL;
    zstr_free (&text);
    oim_tokens_destroy (&tokens);
    return translated;
}

void
matcher_terms_select (matcher_model_t *self, matcher_demand_t *d, const Oim__V1__Demand *msg)
{
    uint32_t *all = NULL, nall = 0, all_cap = 0;
    s_cands_t c = { NULL, 0, 0, zhashx_new () };
    assert (c.at);
    //  title, tags, description: each field ends with a break
    s_select_field (self, msg->title, 1, &c, &all, &nall, &all_cap);
    for (size_t i = 0; i < msg->n_tags && i < 64; i++)
        s_select_field (self, msg->tags [i], 1, &c, &all, &nall, &all_cap);
    s_select_field (self, msg->description, 1, &c, &all, &nall, &all_cap);
    char *translated = s_translate (self, msg);
    if (translated && *translated)
        s_select_field (self, translated, self->config.glossary_weight, &c, NULL, NULL, NULL);
    free (translated);
    s_select_keep (self, d, &c);
    zhashx_destroy (&c.at);
    free (c.cands);
    d->nall = matcher_sort_uniq (all, nall);
    d->all = all;
}
