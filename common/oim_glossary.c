/*  oim_glossary — see oim_glossary.h. Each side of each entry is analysed once into its terms
    with their positions relative to the first; a sorted array of (first term, entry, side)
    finds the entries that may start at a position of the input in one binary search.  */
#include "oim_glossary.h"
#include "oim_glossary_data.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_ENTRIES   (sizeof s_entries / sizeof s_entries [0])
#define S_MAX_TERMS 6               //  terms in one side of an entry
#define S_MAX_INPUT 20000           //  tokens of input looked at

typedef struct {
    char *terms [S_MAX_TERMS];      //  analysed terms (WORD, or STEM when the word has one)
    uint32_t offset [S_MAX_TERMS];  //  position relative to the first term
    size_t count;
} s_side_t;

typedef struct {
    const char *first;              //  borrowed from its side
    uint32_t entry;
    uint32_t side;                  //  0 Korean, 1 English
} s_key_t;

struct _oim_glossary_t {
    s_side_t sides [S_ENTRIES][2];
    s_key_t keys [S_ENTRIES * 2];
    size_t nkeys;
};

static int
s_key_cmp (const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    int c = strcmp (x->first, y->first);
    return c? c: (x->entry > y->entry) - (x->entry < y->entry);
}

//  Analyses one side: the whole-word term of each position (a Hangul particle stripped).
static int
s_side_build (s_side_t *side, oim_analyzer_t *analyzer, oim_tokens_t *tokens, const char *text)
{
    int n = oim_analyze (analyzer, text, strlen (text), 64, tokens);
    if (n < 0)
        return -1;
    uint32_t base = 0;
    for (int i = 0; i < n && side->count < S_MAX_TERMS; i++) {
        const oim_token_t *t = oim_tokens_get (tokens, (size_t) i);
        if (t->kind == OIM_TOKEN_BIGRAM)
            continue;
        if (side->count && side->offset [side->count - 1] == t->pos - base) {
            if (t->kind == OIM_TOKEN_STEM) {        //  the stem replaces its word
                free (side->terms [side->count - 1]);
                side->terms [side->count - 1] = strdup (t->term);
            }
            continue;
        }
        if (!side->count)
            base = t->pos;
        side->terms [side->count] = strdup (t->term);
        side->offset [side->count++] = t->pos - base;
    }
    return 0;
}

oim_glossary_t *
oim_glossary_new (oim_analyzer_t *analyzer)
{
    oim_glossary_t *self = calloc (1, sizeof *self);
    oim_tokens_t *tokens = oim_tokens_new ();
    if (!self || !tokens) {
        free (self);
        oim_tokens_destroy (&tokens);
        return NULL;
    }
    for (uint32_t e = 0; e < S_ENTRIES; e++)
        for (uint32_t side = 0; side < 2; side++) {
            s_side_t *s = &self->sides [e][side];
            if (s_side_build (s, analyzer, tokens, s_entries [e][side]) == 0 && s->count)
                self->keys [self->nkeys++] = (s_key_t) { s->terms [0], e, side };
        }
    oim_tokens_destroy (&tokens);
    qsort (self->keys, self->nkeys, sizeof self->keys [0], s_key_cmp);
    return self;
}

void
oim_glossary_destroy (oim_glossary_t **self_p)
{
    oim_glossary_t *self = *self_p;
    if (!self)
        return;
    for (size_t e = 0; e < S_ENTRIES; e++)
        for (int side = 0; side < 2; side++)
            for (size_t i = 0; i < self->sides [e][side].count; i++)
                free (self->sides [e][side].terms [i]);
    free (self);
    *self_p = NULL;
}

size_t
oim_glossary_size (const oim_glossary_t *self)
{
    (void) self;
    return S_ENTRIES;
}

//  True when some token of the input stands at position pos with term.
static bool
s_has (const oim_tokens_t *tokens, size_t n, size_t from, uint32_t pos, const char *term)
{
    for (size_t i = from; i < n; i++) {
        const oim_token_t *t = oim_tokens_get (tokens, i);
        if (t->pos > pos)
            return false;
        if (t->pos == pos && t->kind != OIM_TOKEN_BIGRAM && strcmp (t->term, term) == 0)
            return true;
    }
    return false;
}

//  True when side's terms follow the input's token i (which carries its first term).
static bool
s_matches (const s_side_t *side, const oim_tokens_t *tokens, size_t n, size_t i)
{
    uint32_t pos = oim_tokens_get (tokens, i)->pos;
    for (size_t k = 1; k < side->count; k++)
        if (!s_has (tokens, n, i, pos + side->offset [k], side->terms [k]))
            return false;
    return true;
}

//  Appends the other side of every entry that starts at token i (each entry once).
static void
s_translate_at (const oim_glossary_t *self, const oim_tokens_t *tokens, size_t n, size_t i,
                bool *seen, char **out, size_t *len, size_t *cap)
{
    const oim_token_t *t = oim_tokens_get (tokens, i);
    s_key_t probe = { t->term, 0, 0 };
    size_t lo = 0, hi = self->nkeys;
    while (lo < hi) {                   //  the first key whose term is >= t->term
        size_t mid = (lo + hi) / 2;
        if (strcmp (self->keys [mid].first, probe.first) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k < self->nkeys && strcmp (self->keys [k].first, t->term) == 0; k++) {
        const s_key_t *key = &self->keys [k];
        if (seen [key->entry] || !s_matches (&self->sides [key->entry][key->side], tokens, n, i))
            continue;
        seen [key->entry] = true;
        const char *other = s_entries [key->entry][1 - key->side];
        size_t need = strlen (other) + 1;
        if (*len + need + 1 > *cap) {
            *cap = (*len + need + 1) * 2;
            char *grown = realloc (*out, *cap);
            if (!grown)
                return;
            *out = grown;
        }
        memcpy (*out + *len, other, need - 1);
        *len += need;
        (*out) [*len - 1] = '\n';
        (*out) [*len] = 0;
    }
}

char *
oim_glossary_translate (const oim_glossary_t *self, oim_analyzer_t *analyzer,
                        oim_tokens_t *tokens, const char *text, size_t len)
{
    int n = oim_analyze (analyzer, text, len, S_MAX_INPUT, tokens);
    bool *seen = calloc (S_ENTRIES, sizeof *seen);
    size_t cap = 64, used = 0;
    char *out = malloc (cap);
    if (n < 0 || !seen || !out) {
        free (seen);
        free (out);
        return NULL;
    }
    *out = 0;
    for (size_t i = 0; i < (size_t) n; i++)
        if (oim_tokens_get (tokens, i)->kind != OIM_TOKEN_BIGRAM)
            s_translate_at (self, tokens, (size_t) n, i, seen, &out, &used, &cap);
    free (seen);
    return out;
}
