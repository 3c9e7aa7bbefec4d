/*  search_parse.c — a query text becomes its plan (search_run.h): the index
    terms to read, each with its weight (exact 1, typo, prefix and bigram
    variants less), and the query words they satisfy — plain words, Hangul /
    CJK words as their stem or all their bigrams bar a trailing particle, and
    quoted phrases (required, verified in order by search_score.c in short
    queries). Only the index's dictionary is read; no postings.

    Long queries (S_LONG_MIN_WORDS words or more, or a whole document as with
    `like`: a pasted demand) get another plan, the shape of the matcher's
    demand query (tests/bench/MATCH_QUALITY.md §3.3): only evidence terms
    (common/oim_evidence: no number, no one-letter, stop or generic word), each
    weighted by its frequency in the query as 1 + ln c, the S_LONG_TERMS terms
    of largest weight × idf kept; no typo, prefix or phrase rules, never tiered. Repeating a word then adds little,
    and the boilerplate of a long text cannot crowd out its rare words.
*/
#include "search_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_TYPO_VARIANTS 4
#define S_PREFIX_VARIANTS 8
#define S_LONG_MIN_WORDS 32             //  this many query words or more: a long query
                                        //  (questions are shorter: search_eval's CACM
                                        //  and KorQuAD ones rank as before)
#define S_LONG_TERMS 100                //  terms a long query keeps
#define S_LONG_MAX_TOKENS 20000         //  tokens of a long query analysed

//  Hangul particles (josa) ignored at the end of a query word for the
//  all-bigrams rule: one and two syllables.
static const char *const s_josa1[] = {
    "이", "가", "을", "를", "은", "는", "의", "에", "와", "과", "도", "로", "만", "께"
};
static const char *const s_josa2[] = {
    "에서", "에게", "으로", "까지", "부터", "처럼", "보다", "이나", "라고", "에는", "와의", "과의"
};

//  Adds a term to the plan (or finds it); a repeated exact term counts twice
//  (query term frequency, as Lucene's summed clauses). Returns its index or -1.
static int
s_plan_term (search_plan_t *plan, uint32_t tid, double weight, uint8_t word)
{
    for (size_t i = 0; i < plan->nterms; i++)
        if (plan->terms[i].tid == tid) {
            if (weight == 1.0 && plan->terms[i].weight >= 1.0)
                plan->terms[i].weight += 1.0;
            else if (weight > plan->terms[i].weight)
                plan->terms[i].weight = weight;
            return (int) i;
        }
    if (plan->nterms == SEARCH_MAX_QUERY_TERMS)
        return -1;
    plan->terms[plan->nterms] = (search_qterm_t) { tid, weight, word };
    return (int) plan->nterms++;
}

//  True when s (len bytes) ends with suffix.
static bool
s_ends_with (const char *s, size_t len, const char *suffix)
{
    size_t n = strlen (suffix);
    return len >= n && memcmp (s + len - n, suffix, n) == 0;
}

//  How many trailing bigrams of a Hangul word are a particle (0, 1 or 2).
static unsigned
s_particle_bigrams (const oim_token_t *word)
{
    if (word->script != OIM_SCRIPT_HANGUL)
        return 0;
    if (word->letters >= 4)
        for (size_t i = 0; i < sizeof s_josa2 / sizeof s_josa2[0]; i++)
            if (s_ends_with (word->term, word->term_len, s_josa2[i]))
                return 2;
    if (word->letters >= 3)
        for (size_t i = 0; i < sizeof s_josa1 / sizeof s_josa1[0]; i++)
            if (s_ends_with (word->term, word->term_len, s_josa1[i]))
                return 1;
    return 0;
}

//  The index's term id of term, or SEARCH_STRTAB_NONE.
static uint32_t
s_find (search_index_t *self, const char *term, size_t len)
{
    return search_strtab_find (&self->terms, term, len);
}

//  A quoted phrase: one required word whose terms must appear in order.
static void
s_parse_phrase (search_index_t *self, search_plan_t *plan, size_t seg_start)
{
    if (plan->nwords == SEARCH_MAX_QUERY_WORDS)
        return;
    search_qword_t *w = &plan->words[plan->nwords];
    memset (w, 0, sizeof *w);
    w->phrase = true;
    uint32_t first_pos = 0;
    uint8_t widx = (uint8_t) plan->nwords;
    for (size_t i = 0; i < oim_tokens_size (plan->scratch.query); i++) {
        const oim_token_t *tok = oim_tokens_get (plan->scratch.query, i);
        if (tok->kind != OIM_TOKEN_WORD || w->seq_len == S_PHRASE_MAX_LEN)
            continue;
        uint32_t tid = s_find (self, tok->term, tok->term_len);
        int bit = tid == SEARCH_STRTAB_NONE ? -1 : s_plan_term (plan, tid, 1.0, widx);
        if (!plan->tiered)
            continue;                   //  long queries: quoted words just score
        if (bit < 0 || bit >= 64) {
            plan->impossible = true;    //  unknown term (or beyond the mask): no match
            return;
        }
        w->all |= search_plan_bit (bit);
        if (w->seq_len == 0)
            first_pos = tok->pos;
        w->rel[w->seq_len] = tok->pos - first_pos;
        w->seq[w->seq_len++] = tid;
        if (w->seq_len == 1)
            w->surface_start = (uint32_t) (seg_start + tok->byte_start);
        w->surface_end = (uint32_t) (seg_start + tok->byte_end);
    }
    if (w->seq_len > 0)
        plan->nwords++;
}

//  A Latin-script word's variants (w = the plan's word widx, tok its token,
//  tid its exact term or SEARCH_STRTAB_NONE): the terms it begins when it is
//  the open last word, and typo variants when the index (nearly) does not know it.
static void
s_parse_variants (search_index_t *self, search_plan_t *plan, const char *q,
                  const oim_token_t *tok, uint32_t tid, bool as_prefix, uint8_t widx)
{
    search_qword_t *w = &plan->words[widx];
    uint32_t alt[S_PREFIX_VARIANTS];
    if (as_prefix) {
        char *folded = oim_utf8_fold_n (q + w->surface_start, w->surface_end - w->surface_start);
        size_t na = folded ? search_dict_prefix (self, folded, strlen (folded), alt, S_PREFIX_VARIANTS) : 0;
        free (folded);
        for (size_t k = 0; k < na; k++)
            w->any |= search_plan_bit (s_plan_term (plan, alt[k], self->cfg.prefix_weight, widx));
    }
    //  typo variants for words the index (nearly) does not know
    unsigned edits = tok->letters >= 9 ? 2 : tok->letters >= 5 ? 1 : 0;
    uint32_t df = tid == SEARCH_STRTAB_NONE ? 0 : self->postings[tid].df;
    if (edits && self->cfg.typo_weight > 0 && df < self->cfg.typo_below_df) {
        size_t na = search_dict_fuzzy (self, tok->term, tok->term_len, edits, alt, S_TYPO_VARIANTS);
        for (size_t k = 0; k < na; k++)
            w->any |= search_plan_bit (s_plan_term (plan, alt[k], self->cfg.typo_weight, widx));
    }
}

//  A Hangul / CJK word (the plan's word widx, its token at i, its stem and
//  bigram tokens up to next): the word without its particle, or all bigrams
//  (bar the particle's) also match the word.
static void
s_parse_bigrams (search_index_t *self, search_plan_t *plan, size_t i, size_t next, uint8_t widx)
{
    search_qword_t *w = &plan->words[widx];
    unsigned optional = s_particle_bigrams (oim_tokens_get (plan->scratch.query, i));
    size_t first_bigram = i + 1;
    if (first_bigram < next && oim_tokens_get (plan->scratch.query, first_bigram)->kind == OIM_TOKEN_STEM) {
        const oim_token_t *st = oim_tokens_get (plan->scratch.query, first_bigram++);
        uint32_t sid = s_find (self, st->term, st->term_len);
        if (sid != SEARCH_STRTAB_NONE)
            w->any |= search_plan_bit (s_plan_term (plan, sid, 1.0, widx));
    }
    size_t nb = next - first_bigram;
    bool complete = nb > 0;
    for (size_t k = first_bigram; k < next; k++) {
        const oim_token_t *bg = oim_tokens_get (plan->scratch.query, k);
        bool required = k - first_bigram + optional < nb;
        uint32_t bt = s_find (self, bg->term, bg->term_len);
        int bit = bt == SEARCH_STRTAB_NONE ? -1 : s_plan_term (plan, bt, self->cfg.bigram_weight, widx);
        if (bit < 0 && required)
            complete = false;
        if (bit >= 0 && required)
            w->all |= search_plan_bit (bit);
    }
    if (optional >= nb)
        complete = false;
    if (!complete)
        w->all = 0;
}

//  One unquoted word: the token at index `i` (a WORD), its variants or its
//  bigrams. Returns the index of the next word token (or the token count).
static size_t
s_parse_word (search_index_t *self, search_plan_t *plan, const char *q, size_t seg_start,
              size_t i, bool as_prefix)
{
    const oim_token_t *tok = oim_tokens_get (plan->scratch.query, i);
    size_t n = oim_tokens_size (plan->scratch.query);
    size_t next = i + 1;
    while (next < n && oim_tokens_get (plan->scratch.query, next)->kind != OIM_TOKEN_WORD)
        next++;
    if (plan->nwords == SEARCH_MAX_QUERY_WORDS)
        return next;
    uint8_t widx = (uint8_t) plan->nwords;
    search_qword_t *w = &plan->words[plan->nwords++];
    memset (w, 0, sizeof *w);
    w->surface_start = (uint32_t) (seg_start + tok->byte_start);
    w->surface_end = (uint32_t) (seg_start + tok->byte_end);
    uint32_t tid = s_find (self, tok->term, tok->term_len);
    if (tid != SEARCH_STRTAB_NONE)
        w->any |= search_plan_bit (s_plan_term (plan, tid, 1.0, widx));
    if (tok->script == OIM_SCRIPT_OTHER)
        s_parse_variants (self, plan, q, tok, tid, as_prefix, widx);
    else
        s_parse_bigrams (self, plan, i, next, widx);
    return next;
}

//  True when q is NULL or only white space (then the query browses).
static bool
s_blank (const char *q)
{
    if (!q)
        return true;
    for (; *q; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
            return false;
    return true;
}

//  How many query words q (qlen bytes) has: its unquoted words, and one per
//  quoted phrase with a word in it, into *words_p; returns 0 or -1 on no memory.
static int
s_count_words (search_index_t *self, search_plan_t *plan, const char *q, size_t qlen,
               size_t *words_p)
{
    size_t words = 0;
    bool in_quote = false;
    for (size_t start = 0; start <= qlen;) {
        const char *quote = memchr (q + start, '"', qlen - start);
        size_t end = quote ? (size_t) (quote - q) : qlen;
        if (oim_analyze (self->analyzer, q + start, end - start, 4096, plan->scratch.query) < 0)
            return -1;
        size_t n = oim_tokens_size (plan->scratch.query);
        for (size_t i = 0; i < n; i++)
            words += oim_tokens_get (plan->scratch.query, i)->kind == OIM_TOKEN_WORD && !in_quote;
        words += in_quote && n > 0;
        if (!quote)
            break;
        in_quote = !in_quote;
        start = end + 1;
    }
    *words_p = words;
    return 0;
}


//  ------------------------------------------------------------- long queries

//  A candidate term of a long query: its index term, occurrences, first
//  token (for the surface), and its selection key (1 + ln c) × idf.
typedef struct {
    uint32_t tid;
    uint32_t count;
    uint32_t first;
    double key;
} s_long_term_t;

static int
s_long_by_tid (const void *a, const void *b)
{
    uint32_t x = ((const s_long_term_t *) a)->tid, y = ((const s_long_term_t *) b)->tid;
    return x < y ? -1 : x > y;
}

static int
s_long_by_key (const void *a, const void *b)
{
    const s_long_term_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

//  The evidence terms (oim_evidence_mark) of the analysed query that the index
//  knows, one entry per occurrence, into a new array (*n_p entries; caller
//  frees). NULL with *n_p 0 when there are none or memory is short (*nomem_p
//  then true).
static s_long_term_t *
s_long_collect (search_index_t *self, const oim_tokens_t *toks, size_t *n_p, bool *nomem_p)
{
    size_t n = oim_tokens_size (toks);
    *n_p = 0;
    *nomem_p = false;
    if (!n)
        return NULL;
    s_long_term_t *v = malloc (n * sizeof *v);
    bool *evidence = malloc (n * sizeof *evidence);
    if (!v || !evidence) {
        free (v);
        free (evidence);
        *nomem_p = true;
        return NULL;
    }
    oim_evidence_mark (self->evidence, toks, evidence);
    for (size_t i = 0; i < n; i++) {
        const oim_token_t *tok = oim_tokens_get (toks, i);
        uint32_t tid = evidence[i] ? s_find (self, tok->term, tok->term_len) : SEARCH_STRTAB_NONE;
        if (tid != SEARCH_STRTAB_NONE)
            v[(*n_p)++] = (s_long_term_t) { tid, 1, (uint32_t) i, 0 };
    }
    free (evidence);
    return v;
}

//  Merges the occurrences of each term (v sorted by term, n entries) and
//  computes their keys; returns the number of distinct terms (at v's front).
static size_t
s_long_merge (search_index_t *self, s_long_term_t *v, size_t n)
{
    double n_docs = (double) (self->live ? self->live : 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && v[m - 1].tid == v[i].tid) {
            v[m - 1].count++;
            if (v[i].first < v[m - 1].first)
                v[m - 1].first = v[i].first;
            continue;
        }
        v[m++] = v[i];
    }
    for (size_t i = 0; i < m; i++) {
        double df = self->postings[v[i].tid].df;
        if (df > n_docs)
            df = n_docs;
        double idf = log (1.0 + (n_docs - df + 0.5) / (df + 0.5));
        v[i].key = (1.0 + log ((double) v[i].count)) * idf;
    }
    return m;
}

//  The plan of a long query q (qlen bytes): see the banner. Each kept term is
//  its own (untiered) word whose surface is the term's first occurrence.
//  Returns 0, or -1 on no memory.
static int
s_parse_long (search_index_t *self, search_plan_t *plan, const char *q, size_t qlen)
{
    plan->long_query = true;
    if (oim_analyze (self->analyzer, q, qlen, S_LONG_MAX_TOKENS, plan->scratch.query) < 0)
        return -1;
    size_t n;
    bool nomem;
    s_long_term_t *v = s_long_collect (self, plan->scratch.query, &n, &nomem);
    if (nomem)
        return -1;
    if (n) {
        qsort (v, n, sizeof *v, s_long_by_tid);
        n = s_long_merge (self, v, n);
        qsort (v, n, sizeof *v, s_long_by_key);
    }
    if (n > S_LONG_TERMS)
        n = S_LONG_TERMS;
    for (size_t i = 0; i < n; i++) {
        const oim_token_t *tok = oim_tokens_get (plan->scratch.query, v[i].first);
        search_qword_t *w = &plan->words[i];
        memset (w, 0, sizeof *w);
        w->any = search_plan_bit ((int) i);
        w->surface_start = tok->byte_start;
        w->surface_end = tok->byte_end;
        plan->terms[i] = (search_qterm_t) { v[i].tid, 1.0 + log ((double) v[i].count), (uint8_t) i };
    }
    plan->nterms = plan->nwords = n;
    free (v);
    return 0;
}

int
search_plan_parse (search_index_t *self, const char *q, bool prefix_last, bool pure_bm25,
                   bool long_query, search_scratch_t scratch, search_plan_t *plan)
{
    memset (plan, 0, sizeof *plan);
    plan->scratch = scratch;
    if (s_blank (q)) {
        plan->browse = true;
        return 0;
    }
    size_t qlen = strlen (q);
    if (long_query)
        return s_parse_long (self, plan, q, qlen);
    //  count the words first: tiered or not decides how typos are handled
    size_t words;
    if (s_count_words (self, plan, q, qlen, &words))
        return -1;
    if (words >= S_LONG_MIN_WORDS)
        return s_parse_long (self, plan, q, qlen);
    plan->tiered = !pure_bm25 && words > 0 && words <= self->cfg.tier_max_words;
    char last = q[qlen - 1];
    bool ends_open = last != ' ' && last != '\t' && last != '"';
    size_t start = 0;
    bool quoted = false;
    while (start <= qlen) {
        const char *quote = memchr (q + start, '"', qlen - start);
        size_t end = quote ? (size_t) (quote - q) : qlen;
        if (oim_analyze (self->analyzer, q + start, end - start, 4096, plan->scratch.query) < 0)
            return -1;
        if (quoted)
            s_parse_phrase (self, plan, start);
        else {
            size_t n = oim_tokens_size (plan->scratch.query);
            size_t last_word = n;
            for (size_t i = 0; i < n; i++)
                if (oim_tokens_get (plan->scratch.query, i)->kind == OIM_TOKEN_WORD)
                    last_word = i;
            for (size_t i = 0; i < n;) {
                bool as_prefix = prefix_last && !quote && ends_open && i == last_word;
                i = s_parse_word (self, plan, q, start, i, as_prefix);
            }
        }
        if (!quote)
            break;
        quoted = !quoted;
        start = end + 1;
    }
    return 0;
}
