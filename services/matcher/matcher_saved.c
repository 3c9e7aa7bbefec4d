/*  matcher_saved — saved searches: applying them, the anchor index (first word of q -> saved
    searches), and which saved searches an organization or an open demand matches, as each
    search's owner may see the demand. See matcher_model_saved_hits in matcher_model.h.
*/
#include "matcher_internal.h"

static void
s_ss_clear (matcher_ss_t *ss)
{
    for (size_t i = 0; i < ss->nwords; i++) {
        free (ss->words [i].any);
        free (ss->words [i].all);
    }
    free (ss->words);
    ss->words = NULL;
    ss->nwords = 0;
    matcher_strv_free (&ss->ind, ss->nind);
    matcher_strv_free (&ss->reg, ss->nreg);
    matcher_strv_free (&ss->stg, ss->nstg);
    matcher_strv_free (&ss->col, ss->ncol);
    free (ss->tag);
    ss->tag = NULL;
    ss->nind = ss->nreg = ss->nstg = ss->ncol = ss->ntag = 0;
    free (ss->org_id); free (ss->type); free (ss->since);
    ss->org_id = ss->type = ss->since = NULL;
}

void
matcher_saved_free (void **item_p)
{
    matcher_ss_t *ss = *item_p;
    if (!ss)
        return;
    s_ss_clear (ss);
    free (ss->id);
    free (ss);
    *item_p = NULL;
}

//  A saved search's q: one entry per word position (its word/stem terms, its bigrams).
static void
s_ss_words (matcher_model_t *self, matcher_ss_t *ss, const char *q)
{
    size_t count = matcher_analyze (self, q);
    ss->words = calloc (count + 1, sizeof *ss->words);
    assert (ss->words);
    uint32_t last_pos = UINT32_MAX;
    for (size_t i = 0; i < count; i++) {
        const oim_token_t *token = matcher_token (self, i);
        if (token->pos != last_pos) {
            last_pos = token->pos;
            ss->nwords++;
        }
        matcher_qword_t *word = &ss->words [ss->nwords - 1];
        uint32_t term = matcher_term (self, token->term);
        if (token->kind == OIM_TOKEN_BIGRAM) {
            word->all = realloc (word->all, (word->nall + 1) * sizeof *word->all);
            word->all [word->nall++] = term;
        }
        else {
            word->any = realloc (word->any, (word->nany + 1) * sizeof *word->any);
            word->any [word->nany++] = term;
        }
    }
}

//  Posts ss in the anchor index: the first word's terms (and its first bigram); none =
//  checked always (the anchor list of the reserved empty term "").
static void
s_ss_anchor (matcher_model_t *self, matcher_ss_t *ss)
{
    uint32_t anchors [64];
    size_t nanchors = 0;
    if (ss->nwords) {
        for (uint32_t i = 0; i < ss->words [0].nany && nanchors < 63; i++)
            anchors [nanchors++] = ss->words [0].any [i];
        if (ss->words [0].nall)
            anchors [nanchors++] = ss->words [0].all [0];
    }
    else
        anchors [nanchors++] = matcher_term (self, "");
    for (size_t i = 0; i < nanchors; i++) {
        matcher_term_t *term = &self->terms [anchors [i]];
        term->qp = matcher_grow (term->qp, &term->qp_cap, term->qp_n + 1, sizeof (matcher_dpost_t));
        term->qp [term->qp_n++] = (matcher_dpost_t) { ss->slot, ss->epoch, 0 };
    }
    ss->nposted = (uint32_t) nanchors;
    matcher_postings_added (self, nanchors);
}

int
matcher_model_apply_saved_search (matcher_model_t *self, const Oim__V1__SavedSearch *msg)
{
    if (!msg->id || !*msg->id)
        return 1;
    matcher_ss_t *ss = zhashx_lookup (self->sss, msg->id);
    if (ss && msg->version <= ss->version)
        return 1;
    if (!ss) {
        ss = calloc (1, sizeof *ss);
        assert (ss);
        ss->id = matcher_strdup (msg->id);
        self->sslots = matcher_grow (self->sslots, &self->sslots_cap, self->nsslots + 1,
                                     sizeof *self->sslots);
        ss->slot = self->nsslots;
        self->sslots [self->nsslots++] = ss;
        zhashx_insert (self->sss, msg->id, ss);
    }
    if (ss->live)
        self->live_ss--;
    s_ss_clear (ss);
    ss->version = msg->version;
    ss->org_id = matcher_strdup (msg->org_id);
    ss->type = matcher_strdup (msg->type);
    ss->since = matcher_strdup (msg->updated_at);
    ss->deleted = msg->deleted;
    ss->live = !msg->deleted;
    ss->epoch++;
    matcher_postings_retire (self, ss->nposted);
    ss->nposted = 0;
    if (!ss->live)
        return 0;
    self->live_ss++;
    s_ss_words (self, ss, msg->q);
    ss->ind = matcher_strv (msg->industry, msg->n_industry); ss->nind = msg->n_industry;
    ss->reg = matcher_strv (msg->region, msg->n_region); ss->nreg = msg->n_region;
    ss->stg = matcher_strv (msg->stage, msg->n_stage); ss->nstg = msg->n_stage;
    ss->col = matcher_strv (msg->collaboration, msg->n_collaboration);
    ss->ncol = msg->n_collaboration;
    ss->tag = calloc (msg->n_tag + 1, sizeof *ss->tag);
    assert (ss->tag);
    for (size_t i = 0; i < msg->n_tag; i++) {
        uint32_t key = matcher_tag_key (self, msg->tag [i]);
        if (key != UINT32_MAX)
            ss->tag [ss->ntag++] = key;
    }
    s_ss_anchor (self, ss);
    return 0;
}

const char *
matcher_model_saved_owner (matcher_model_t *self, const char *ss_id)
{
    matcher_ss_t *ss = zhashx_lookup (self->sss, ss_id);
    return ss? ss->org_id: NULL;
}

static bool
s_filter_any (char *const *wanted, size_t nwanted, char *const *have, size_t nhave,
              bool empty_matches, bool (*fits) (const char *, const char *))
{
    if (nwanted == 0)
        return true;
    if (nhave == 0)
        return empty_matches;
    for (size_t i = 0; i < nwanted; i++)
        for (size_t j = 0; j < nhave; j++)
            if (fits (wanted [i], have [j]))
                return true;
    return false;
}

static bool
s_fits_eq (const char *wanted, const char *have)
{
    return streq (wanted, have);
}

static bool
s_fits_industry (const char *wanted, const char *have)
{
    return strncmp (have, wanted, strlen (wanted)) == 0;
}

static bool
s_ss_matches (matcher_ss_t *ss, const uint32_t *terms, uint32_t nterms, const uint32_t *tags,
              uint32_t ntags, char *const *ind, size_t nind, char *const *reg, size_t nreg,
              bool reg_empty_all, char *const *stg, size_t nstg, bool stg_empty_all,
              char *const *col, size_t ncol)
{
    for (size_t w = 0; w < ss->nwords; w++) {
        matcher_qword_t *word = &ss->words [w];
        bool ok = false;
        for (uint32_t i = 0; i < word->nany && !ok; i++)
            ok = matcher_has_u32 (terms, nterms, word->any [i]);
        if (!ok && word->nall) {
            ok = true;
            for (uint32_t i = 0; i < word->nall && ok; i++)
                ok = matcher_has_u32 (terms, nterms, word->all [i]);
        }
        if (!ok)
            return false;
    }
    if (ss->ntag) {
        bool ok = false;
        for (size_t i = 0; i < ss->ntag && !ok; i++)
            ok = matcher_has_u32 (tags, ntags, ss->tag [i]);
        if (!ok)
            return false;
    }
    return s_filter_any (ss->ind, ss->nind, ind, nind, false, s_fits_industry)
        && s_filter_any (ss->reg, ss->nreg, reg, nreg, reg_empty_all, matcher_region_fits)
        && s_filter_any (ss->stg, ss->nstg, stg, nstg, stg_empty_all, s_fits_eq)
        && s_filter_any (ss->col, ss->ncol, col, ncol, false, s_fits_eq);
}

//  How a saved search's owner sees demand d: 0 not at all (members-only, and the owner not
//  an active organization), 1 its teaser (confidential, and the owner neither the demand's
//  nor the agency), 2 in full.
static int
s_ss_view (matcher_model_t *self, const matcher_ss_t *ss, const matcher_demand_t *d)
{
    if (!d->confidential && !d->members)
        return 2;
    matcher_org_t *owner = zhashx_lookup (self->orgs, ss->org_id);
    bool member = owner && owner->active;
    if (d->members)
        return member? 2: 0;
    return member && (streq (owner->kind, "agency") || streq (ss->org_id, d->org_id))? 2: 1;
}

//  True when saved search ss hits open demand d as its owner may see d: a teaser matches on
//  its title and tags, and a filter on a field it hides (industry, region, stage,
//  collaboration) never matches it.
static bool
s_ss_hits_demand (matcher_model_t *self, matcher_ss_t *ss, matcher_demand_t *d)
{
    int view = s_ss_view (self, ss, d);
    const matcher_demand_t *t = view == 1? d->teaser: d;
    return view && t
        && s_ss_matches (ss, t->all, t->nall, t->tags, t->ntags, t->ind, t->nind, t->reg,
                         t->nreg, view == 2, t->stg, t->nstg, view == 2, t->col, t->ncol);
}

static int
s_cmp_str (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

int
matcher_model_saved_hits (matcher_model_t *self, const char *entity_id, const char *changed_at,
                          const char **ids, size_t capacity)
{

    const uint32_t *terms = NULL, *tags = NULL;
    uint32_t nterms = 0, ntags = 0;
    const char *type;
    matcher_doc_t *doc = NULL;
    matcher_demand_t *d = NULL;
    matcher_org_t *org = zhashx_lookup (self->orgs, entity_id);
    if (org && org->doc >= 0) {
        doc = &self->docs [org->doc];
        terms = doc->terms; nterms = doc->nterms;
        tags = doc->tags; ntags = doc->ntags;
        type = "startup";
    }
    else
    if ((d = zhashx_lookup (self->demands, entity_id)) && d->open) {
        terms = d->all; nterms = d->nall;
        tags = d->tags; ntags = d->ntags;
        type = "demand";
    }
    else
        return 0;
    matcher_scratch (self, self->nsslots + 1);
    size_t ntouched = 0;
    uint32_t empty = matcher_term (self, "");
    for (uint32_t i = 0; i <= nterms; i++) {
        matcher_term_t *term = &self->terms [i < nterms? terms [i]: empty];
        for (uint32_t p = 0; p < term->qp_n; p++) {
            uint32_t slot = term->qp [p].slot;
            matcher_ss_t *ss = self->sslots [slot];
            if (ss->epoch != term->qp [p].epoch || !ss->live || self->mark [slot])
                continue;
            self->mark [slot] = 1;
            self->touched [ntouched++] = slot;
        }
    }
    const char **all = malloc ((ntouched + 1) * sizeof *all);
    assert (all);
    size_t count = 0;
    for (size_t i = 0; i < ntouched; i++) {
        matcher_ss_t *ss = self->sslots [self->touched [i]];
        self->mark [self->touched [i]] = 0;
        if (!streq (ss->type, type) || streq (ss->org_id, entity_id)
        ||  (changed_at && strcmp (ss->since, changed_at) > 0))
            continue;
        bool hit = doc?
            s_ss_matches (ss, terms, nterms, tags, ntags, doc->ind, doc->nind,
                          &doc->region, *doc->region? 1: 0, false, &doc->stage,
                          *doc->stage? 1: 0, false, NULL, 0):
            s_ss_hits_demand (self, ss, d);
        if (hit)
            all [count++] = ss->id;
    }
    qsort (all, count, sizeof *all, s_cmp_str);
    memcpy (ids, all, (count < capacity? count: capacity) * sizeof *ids);
    free (all);
    return (int) count;
}
