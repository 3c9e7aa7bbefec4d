/*  search_snippet.c — what a hit shows: its title with the query's terms in
    <em>…</em>, and a snippet of S_SNIPPET_BYTES of its body (or tags, when
    the viewer sees only the teaser) around the spot where most query terms
    occur close together. Output is HTML-escaped, valid UTF-8.
*/
#include "search_run.h"

#include <stdlib.h>
#include <string.h>

#define S_SNIPPET_BYTES 320
#define S_SNIPPET_TERMS 16
#define S_SNIPPET_MAX_TOKENS 4096

//  A growing string; after a failed allocation, oom is set and puts do nothing.
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

//  True when tok is one of the plan's terms.
static bool
s_plan_has (const search_index_t *self, const search_plan_t *plan, const oim_token_t *tok)
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
char *
search_snippet_highlight (search_index_t *self, const search_plan_t *plan, const char *text,
                          size_t len, size_t from, size_t to)
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

//  The first byte of the code point that holds byte `at`.
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
char *
search_snippet_make (search_index_t *self, const search_plan_t *plan, const char *text)
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
    return search_snippet_highlight (self, plan, text, len, from, to);
}
