/*  search_score.c — how a doc ranks for a query: its tier (how many query
    words it matches, phrases verified against its text) first, then its
    BM25F score (per-field weights and length normalisation, summed over the
    matched terms, each weighted by its idf). The weights are computed once
    per query here; the per-doc share is search_score_term (search_run.h),
    inlined into the candidate loops of search_query.c. Also the explanation
    of one doc's score (search_index_explain).
*/
#include "search_run.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

//  ------------------------------------------------------------- BM25F weights

void
search_score_weights (search_run_t *run)
{
    search_index_t *self = run->self;
    double n_docs = (double) (self->live ? self->live : 1);
    for (size_t t = 0; t < run->plan.nterms; t++) {
        double df = self->postings[run->plan.terms[t].tid].df;
        if (df > n_docs)
            df = n_docs;
        run->idf[t] = run->plan.terms[t].weight * log (1.0 + (n_docs - df + 0.5) / (df + 0.5));
    }
    run->k1 = self->cfg.k1;
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++) {
        double avg = self->live ? (double) self->len_sum[f] / (double) self->live : 1.0;
        if (avg < 1.0)
            avg = 1.0;
        double b = self->cfg.b[f];
        for (int i = 0; i < 256; i++)
            run->inv_b[f][i] = (float) (self->cfg.weight[f] / (1.0 - b + b * self->norm_len[i] / avg));
    }
    //  Score bound per postings byte: each field's weight at its largest
    //  (inv_b falls with the length; norm 0 is the shortest).
    double top[SEARCH_FIELD_COUNT];
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++) {
        top[f] = 0;
        for (int i = 0; i < 256; i++)
            if (run->inv_b[f][i] > top[f])
                top[f] = run->inv_b[f][i];
    }
    for (int tf = 0; tf < 256; tf++) {
        double t = S_TF_TITLE (tf) * top[0] + S_TF_TAGS (tf) * top[1] + S_TF_BODY (tf) * top[2];
        double g = t / (run->k1 + t);
        run->ub[tf] = isfinite (g) && g <= 1.0 ? g : 1.0;
    }
}

//  ------------------------------------------------------------------- tiers

uint32_t
search_score_words_matched (const search_plan_t *plan, uint64_t mask)
{
    uint32_t matched = 0;
    for (size_t w = 0; w < plan->nwords; w++)
        matched += search_plan_word_hit (&plan->words[w], mask);
    return matched;
}

//  ------------------------------------------------------------- phrases

//  True when phrase w starts at word token words[at] of toks (the word tokens
//  of one field, nw of them).
static bool
s_seq_at (const search_index_t *self, const oim_tokens_t *toks, const uint32_t *words,
          size_t nw, size_t at, const search_qword_t *w)
{
    //  word tokens have increasing, distinct positions; stopwords leave gaps
    uint32_t pos0 = oim_tokens_get (toks, words[at])->pos;
    size_t i = at;
    for (uint32_t k = 0; k < w->seq_len; k++) {
        while (i < nw && oim_tokens_get (toks, words[i])->pos < pos0 + w->rel[k])
            i++;
        if (i == nw)
            return false;
        const oim_token_t *tok = oim_tokens_get (toks, words[i]);
        uint32_t tid = w->seq[k];
        if (tok->pos != pos0 + w->rel[k])
            return false;
        if (tok->term_len != self->terms.lens[tid]
            || memcmp (tok->term, search_strtab_str (&self->terms, tid), tok->term_len))
            return false;
    }
    return true;
}

bool
search_score_phrase_ok (search_run_t *run, const search_qword_t *w, uint32_t d,
                        bool body_visible)
{
    search_index_t *self = run->self;
    const char *fields[SEARCH_FIELD_COUNT];
    search_doc_text (self, d, &fields[0], &fields[1], &fields[2]);
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++) {
        if (f == SEARCH_FIELD_BODY && !body_visible)
            break;
        oim_tokens_t *text = run->plan.scratch.text;
        int n = oim_analyze (self->analyzer, fields[f], strlen (fields[f]), 100000, text);
        if (n <= 0)
            continue;
        uint32_t *words = malloc ((size_t) n * sizeof *words);
        if (!words)
            return false;
        size_t nw = 0;
        for (int i = 0; i < n; i++)
            if (oim_tokens_get (text, (size_t) i)->kind == OIM_TOKEN_WORD)
                words[nw++] = (uint32_t) i;
        bool found = false;
        for (size_t i = 0; i < nw && !found; i++)
            found = s_seq_at (self, text, words, nw, i, w);
        free (words);
        if (found)
            return true;
    }
    return false;
}

//  ------------------------------------------------------------- explain

//  tf byte of doc d in a posting list, 0 when absent.
static uint8_t
s_posting_tf (const search_postings_t *p, uint32_t d)
{
    search_cursor_t c = { .p = p->buf, .end = p->buf + p->len };
    for (search_cursor_next (&c); !c.done && c.doc < d; search_cursor_next (&c))
        ;
    return !c.done && c.doc == d ? c.tf : 0;
}

int
search_index_explain (search_index_t *self, const char *query, const char *doc_id,
                      const search_viewer_t *viewer, search_explain_t *out)
{
    assert (self);
    assert (out);
    memset (out, 0, sizeof *out);
    uint32_t idid = doc_id ? search_strtab_find (&self->ids, doc_id, strlen (doc_id)) : SEARCH_STRTAB_NONE;
    if (idid == SEARCH_STRTAB_NONE || self->id_doc[idid] == S_DOC_NONE)
        return 1;
    uint32_t d = self->id_doc[idid];
    search_query_t q = { .q = query, .limit = 1, .no_facets = true, .pure_bm25 = true };
    if (viewer)
        q.viewer = *viewer;
    search_run_t run;
    int rc = search_run_init (&run, self, &q);
    if (rc) {
        search_run_free (&run);
        return -1;
    }
    bool body_visible = search_doc_visible (self, d, run.viewer_org, q.viewer.agency);
    out->terms = calloc (run.plan.nterms + 1, sizeof *out->terms);
    if (!out->terms) {
        search_run_free (&run);
        return -1;
    }
    for (size_t t = 0; t < run.plan.nterms; t++) {
        const search_qterm_t *qt = &run.plan.terms[t];
        uint8_t tf = s_posting_tf (&self->postings[qt->tid], d);
        if (!body_visible)
            tf &= 0xF0;
        if (!tf)
            continue;
        const search_qword_t *w = &run.plan.words[qt->word];
        search_term_score_t *ts = &out->terms[out->term_count++];
        ts->term = strdup (search_strtab_str (&self->terms, qt->tid));
        ts->word = strndup (query + w->surface_start, w->surface_end - w->surface_start);
        ts->idf = run.idf[t];
        ts->tf[0] = S_TF_TITLE (tf);
        ts->tf[1] = S_TF_TAGS (tf);
        ts->tf[2] = S_TF_BODY (tf);
        ts->contribution = search_score_term (&run, d, tf, run.idf[t]);
        out->score += ts->contribution;
        if (!ts->term || !ts->word) {
            search_run_free (&run);
            search_explain_free (out);
            return -1;
        }
    }
    search_run_free (&run);
    return 0;
}

void
search_explain_free (search_explain_t *explain)
{
    if (!explain)
        return;
    for (size_t i = 0; i < explain->term_count; i++) {
        free (explain->terms[i].term);
        free (explain->terms[i].word);
    }
    free (explain->terms);
    memset (explain, 0, sizeof *explain);
}
