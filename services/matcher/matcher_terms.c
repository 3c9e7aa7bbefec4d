/*  matcher_terms — the term dictionary (one id per analysed term or tag key), the analysis
    the model applies on top of oim_analyze (Korean endings and function words dropped), tag
    keys, and the selection of a demand's key terms. Issue 15 (match quality) changes what a
    demand's informative terms are: matcher_terms_select is the place.
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
    return kept;
}

//  The i-th kept token of the last analysis.
const oim_token_t *
matcher_token (matcher_model_t *self, size_t i)
{
    return oim_tokens_get (self->tokens, self->keep [i]);
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
//  Key terms of a demand

typedef struct { uint32_t term; uint32_t tf; uint32_t first; oim_token_t token; } s_cand_t;

static int
s_cand_cmp (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if (x->tf != y->tf)
        return x->tf > y->tf? -1: 1;
    return x->first < y->first? -1: x->first > y->first;
}

//  Appends a key term (once) with its display word.
static void
s_key_add (matcher_model_t *self, matcher_demand_t *d, uint32_t term, const char *word)
{
    (void) self;
    if (d->nkey >= MATCHER_MAX_KEY_TERMS)
        return;
    for (uint32_t i = 0; i < d->nkey; i++)
        if (d->key [i] == term)
            return;
    d->key [d->nkey] = term;
    d->key_words [d->nkey++] = matcher_strdup (word);
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

void
matcher_terms_select (matcher_model_t *self, matcher_demand_t *d, const Oim__V1__Demand *msg)
{
    d->key = calloc (MATCHER_MAX_KEY_TERMS, sizeof *d->key);
    d->key_words = calloc (MATCHER_MAX_KEY_TERMS + 1, sizeof *d->key_words);
    assert (d->key && d->key_words);
    uint32_t *all = NULL, nall = 0, all_cap = 0;
    //  title, then tags: their terms in order
    const char *fields [1 + 64];
    size_t nfields = 0;
    fields [nfields++] = msg->title;
    for (size_t i = 0; i < msg->n_tags && nfields < 65; i++)
        fields [nfields++] = msg->tags [i];
    for (size_t f = 0; f < nfields; f++) {
        size_t count = matcher_analyze (self, fields [f]);
        for (size_t i = 0; i < count; i++) {
            const oim_token_t *token = matcher_token (self, i);
            uint32_t term = matcher_term (self, token->term);
            all = matcher_grow (all, &all_cap, nall + 1, sizeof *all);
            all [nall++] = term;
            if (d->nkey < MATCHER_MAX_KEY_TERMS) {
                char *word = s_display (fields [f], token);
                s_key_add (self, d, term, word);
                free (word);
            }
        }
    }
    //  description: by frequency, then first position
    size_t count = matcher_analyze (self, msg->description);
    s_cand_t *cands = calloc (count + 1, sizeof *cands);
    assert (cands);
    size_t ncands = 0;
    zhashx_t *seen = zhashx_new ();
    for (size_t i = 0; i < count; i++) {
        const oim_token_t *token = matcher_token (self, i);
        uint32_t term = matcher_term (self, token->term);
        all = matcher_grow (all, &all_cap, nall + 1, sizeof *all);
        all [nall++] = term;
        void *at = zhashx_lookup (seen, token->term);
        if (at)
            cands [(uintptr_t) at - 1].tf++;
        else {
            cands [ncands] = (s_cand_t) { term, 1, (uint32_t) i, *token };
            zhashx_insert (seen, token->term, (void *) (uintptr_t) (++ncands));
        }
    }
    zhashx_destroy (&seen);
    qsort (cands, ncands, sizeof *cands, s_cand_cmp);
    for (size_t i = 0; i < ncands && d->nkey < MATCHER_MAX_KEY_TERMS; i++) {
        char *word = s_display (msg->description, &cands [i].token);
        s_key_add (self, d, cands [i].term, word);
        free (word);
    }
    free (cands);
    d->nall = matcher_sort_uniq (all, nall);
    d->all = all;
}
