/*  matcher_model — the matcher's entities and indexes: organizations (the startup corpus and
    its postings), demands (their open-demand postings and teasers), the configuration, the
    lookups and the statistics. See matcher_model.h for the contract and matcher_internal.h
    for how the model's files share the work (terms, score, rank, saved searches).
*/
#include <ctype.h>
#include "matcher_internal.h"

//  --------------------------------------------------------------------------------------
//  Small helpers

void *
matcher_grow (void *array, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return array;
    uint32_t cap2 = *cap? *cap: 4;
    while (cap2 < need)
        cap2 *= 2;
    void *grown = realloc (array, cap2 * elem);
    assert (grown);
    *cap = cap2;
    return grown;
}

char *
matcher_strdup (const char *text)
{
    return strdup (text? text: "");
}

char **
matcher_strv (char *const *items, size_t count)
{
    char **copy = calloc (count + 1, sizeof *copy);
    assert (copy);
    for (size_t i = 0; i < count; i++)
        copy [i] = matcher_strdup (items [i]);
    return copy;
}

void
matcher_strv_free (char ***items_p, size_t count)
{
    if (!*items_p)
        return;
    for (size_t i = 0; i < count; i++)
        free ((*items_p) [i]);
    free (*items_p);
    *items_p = NULL;
}

static int
s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y? -1: x > y;
}

uint32_t
matcher_sort_uniq (uint32_t *items, uint32_t count)
{
    if (count == 0)
        return 0;
    qsort (items, count, sizeof *items, s_cmp_u32);
    uint32_t out = 1;
    for (uint32_t i = 1; i < count; i++)
        if (items [i] != items [out - 1])
            items [out++] = items [i];
    return out;
}

//  --------------------------------------------------------------------------------------
//  Configuration

void
matcher_config_default (matcher_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->weight [MATCHER_TEXT] = 0.40;
    config->weight [MATCHER_TAGS] = 0.25;
    config->weight [MATCHER_INDUSTRY] = 0.15;
    config->weight [MATCHER_REGION] = 0.10;
    config->weight [MATCHER_STAGE] = 0.10;
    config->min_units = 2500;      //  fitted: deploy/fit-weights.py (README)
    config->top_k = 20;
    config->glossary_weight = 0.3;
}

int
matcher_config_weights (matcher_config_t *config, const char *spec)
{
    double weight [MATCHER_FACTORS];
    memcpy (weight, config->weight, sizeof weight);
    char *copy = matcher_strdup (spec);
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r (copy, ", ", &save); item; item = strtok_r (NULL, ", ", &save)) {
        char *eq = strchr (item, '=');
        if (!eq) { rc = -1; break; }
        *eq = 0;
        char *end;
        double value = strtod (eq + 1, &end);
        int factor = -1;
        for (int f = 0; f < MATCHER_FACTORS; f++)
            if (streq (item, matcher_factor_names [f]))
                factor = f;
        if (factor < 0 || *end || end == eq + 1 || value < 0 || !isfinite (value)) {
            rc = -1;
            break;
        }
        weight [factor] = value;
    }
    free (copy);
    double sum = 0;
    for (int f = 0; f < MATCHER_FACTORS; f++)
        sum += weight [f];
    if (rc || sum <= 0)
        return -1;
    for (int f = 0; f < MATCHER_FACTORS; f++)
        config->weight [f] = weight [f] / sum;
    return 0;
}

//  --------------------------------------------------------------------------------------
//  Lifecycle

static void
s_org_free (void **item_p)
{
    matcher_org_t *org = *item_p;
    if (!org)
        return;
    free (org->id); free (org->kind); free (org->status); free (org->name);
    free (org->email); free (org->phone); free (org->website);
    free (org);
    *item_p = NULL;
}

static void
s_demand_clear (matcher_demand_t *d)
{
    free (d->key);
    free (d->key_q);
    free (d->pair);
    free (d->pair_q);
    matcher_strv_free (&d->pair_words, d->npair);
    matcher_strv_free (&d->key_words, d->nkey);
    free (d->all);
    free (d->tags);
    matcher_strv_free (&d->tag_names, d->ntags);
    matcher_strv_free (&d->ind, d->nind);
    matcher_strv_free (&d->reg, d->nreg);
    matcher_strv_free (&d->stg, d->nstg);
    matcher_strv_free (&d->col, d->ncol);
    free (d->org_id); free (d->title); free (d->status);
    if (d->teaser) {
        s_demand_clear (d->teaser);
        free (d->teaser->id);
        free (d->teaser);
        d->teaser = NULL;
    }
    d->key = d->all = d->tags = NULL;
    d->key_q = d->pair_q = NULL;
    d->pair = NULL;
    d->npair = 0;
    d->org_id = d->title = d->status = NULL;
    d->nkey = d->nall = d->ntags = 0;
    d->nind = d->nreg = d->nstg = d->ncol = 0;
}

static void
s_demand_free (void **item_p)
{
    matcher_demand_t *d = *item_p;
    if (!d)
        return;
    s_demand_clear (d);
    free (d->id);
    free (d);
    *item_p = NULL;
}

matcher_model_t *
matcher_model_new (const matcher_config_t *config)
{
    matcher_model_t *self = calloc (1, sizeof *self);
    assert (self);
    if (config)
        self->config = *config;
    else
        matcher_config_default (&self->config);
    if (self->config.top_k == 0)
        self->config.top_k = 20;
    self->analyzer = oim_analyzer_new (NULL);
    self->tokens = oim_tokens_new ();
    self->evidence = self->analyzer? oim_evidence_new (self->analyzer): NULL;
    self->glossary = self->analyzer && self->config.glossary_weight > 0?
                     oim_glossary_new (self->analyzer): NULL;
    if (!self->analyzer || !self->tokens || !self->evidence
    ||  (self->config.glossary_weight > 0 && !self->glossary)) {
        oim_glossary_destroy (&self->glossary);
        oim_evidence_destroy (&self->evidence);
        oim_analyzer_destroy (&self->analyzer);
        oim_tokens_destroy (&self->tokens);
        free (self);
        return NULL;
    }
    self->term_ids = zhashx_new ();
    self->orgs = zhashx_new ();
    zhashx_set_destructor (self->orgs, s_org_free);
    self->demands = zhashx_new ();
    zhashx_set_destructor (self->demands, s_demand_free);
    self->sss = zhashx_new ();
    zhashx_set_destructor (self->sss, matcher_saved_free);
    return self;
}

static void
s_doc_clear (matcher_doc_t *doc)
{
    free (doc->terms); free (doc->tfs); free (doc->tags);
    free (doc->pairs); free (doc->pair_tfs);
    doc->pairs = NULL;
    doc->pair_tfs = NULL;
    doc->npairs = 0;
    memset (doc->pair_sig, 0, sizeof doc->pair_sig);
    free (doc->region); free (doc->stage);
    matcher_strv_free (&doc->ind, doc->nind);
    doc->terms = doc->tfs = doc->tags = NULL;
    doc->region = doc->stage = NULL;
    doc->nterms = doc->ntags = 0;
    doc->nind = 0;
}

void
matcher_model_destroy (matcher_model_t **self_p)
{
    matcher_model_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t i = 0; i < self->nterms; i++) {
        matcher_term_t *term = &self->terms [i];
        free (term->text); free (term->sp); free (term->dp); free (term->qp); free (term->words);
    }
    free (self->terms);
    for (uint32_t i = 0; i < self->ndocs; i++) {
        s_doc_clear (&self->docs [i]);
        free (self->docs [i].id);
    }
    free (self->docs);
    zhashx_destroy (&self->term_ids);
    zhashx_destroy (&self->orgs);
    zhashx_destroy (&self->demands);
    zhashx_destroy (&self->sss);
    free (self->dslots);
    free (self->dstate);
    free (self->dneed);
    free (self->doc_len);
    free (self->sslots);
    free (self->free_docs);
    free (self->acc); free (self->mark); free (self->touched);
    free (self->acc_pair); free (self->acc_tag);
    free (self->keep); free (self->cut); free (self->ev);
    oim_evidence_destroy (&self->evidence);
    oim_glossary_destroy (&self->glossary);
    oim_analyzer_destroy (&self->analyzer);
    oim_tokens_destroy (&self->tokens);
    free (self);
    *self_p = NULL;
}

const matcher_config_t *
matcher_model_config (matcher_model_t *self)
{
    return &self->config;
}

void
matcher_scratch (matcher_model_t *self, size_t need)
{
    if (need <= self->scratch_cap)
        return;
    size_t cap = self->scratch_cap? self->scratch_cap: 1024;
    while (cap < need)
        cap *= 2;
    self->acc = realloc (self->acc, cap * sizeof *self->acc);
    self->mark = realloc (self->mark, cap);
    self->touched = realloc (self->touched, cap * sizeof *self->touched);
    self->acc_pair = realloc (self->acc_pair, cap * sizeof *self->acc_pair);
    self->acc_tag = realloc (self->acc_tag, cap * sizeof *self->acc_tag);
    assert (self->acc && self->mark && self->touched && self->acc_pair && self->acc_tag);
    memset (self->acc + self->scratch_cap, 0, (cap - self->scratch_cap) * sizeof *self->acc);
    memset (self->acc_pair + self->scratch_cap, 0,
            (cap - self->scratch_cap) * sizeof *self->acc_pair);
    memset (self->acc_tag + self->scratch_cap, 0,
            (cap - self->scratch_cap) * sizeof *self->acc_tag);
    memset (self->mark + self->scratch_cap, 0, cap - self->scratch_cap);
    self->scratch_cap = cap;
}

//  --------------------------------------------------------------------------------------
//  Startups (the corpus)

static void
s_doc_kill (matcher_model_t *self, matcher_org_t *org)
{
    if (org->doc < 0)
        return;
    matcher_doc_t *doc = &self->docs [org->doc];
    for (uint32_t i = 0; i < doc->nterms; i++)
        self->terms [doc->terms [i]].df--;
    for (uint32_t i = 0; i < doc->ntags; i++)
        self->terms [doc->tags [i]].df--;
    size_t retired = doc->nterms + doc->ntags;
    self->live_docs--;
    self->total_len -= doc->len;
    doc->live = false;
    self->doc_len [org->doc] = 0;
    s_doc_clear (doc);      //  postings to it are skipped (doc not live) until compacted
    org->doc = -1;
    self->gen++;
    matcher_postings_retire (self, retired);
}

//  A growing array of term ids and one of pair ids (with duplicates).
typedef struct {
    uint32_t *ids; uint32_t n, cap;
    uint64_t *pairs; uint32_t npairs, pairs_cap;
} s_collect_t;

//  Adds the analysed terms of text and its adjacent evidence pairs; returns its tokens.
static uint32_t
s_collect (matcher_model_t *self, const char *text, s_collect_t *c)
{
    size_t count = matcher_analyze (self, text);
    for (size_t i = 0; i < count; i++) {
        const oim_token_t *token = matcher_token (self, i);
        c->ids = matcher_grow (c->ids, &c->cap, c->n + 1, sizeof *c->ids);
        c->ids [c->n++] = matcher_term (self, token->term);
    }
    matcher_terms_pairs (self, text, count, &c->pairs, &c->npairs, &c->pairs_cap);
    return (uint32_t) count;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

//  The doc's distinct pairs, sorted, with their counts (consumes c->pairs).
static void
s_doc_pairs (matcher_doc_t *doc, s_collect_t *c)
{
    if (c->npairs)
        qsort (c->pairs, c->npairs, sizeof *c->pairs, s_cmp_u64);
    doc->pairs = malloc ((c->npairs + 1) * sizeof *doc->pairs);
    doc->pair_tfs = malloc ((c->npairs + 1) * sizeof *doc->pair_tfs);
    assert (doc->pairs && doc->pair_tfs);
    for (uint32_t i = 0; i < c->npairs; i++) {
        if (doc->npairs && doc->pairs [doc->npairs - 1] == c->pairs [i])
            doc->pair_tfs [doc->npairs - 1]++;
        else {
            uint32_t bit = matcher_pair_bit (c->pairs [i]);
            doc->pair_sig [bit >> 6] |= 1ULL << (bit & 63);
            doc->pairs [doc->npairs] = c->pairs [i];
            doc->pair_tfs [doc->npairs++] = 1;
        }
    }
    free (c->pairs);
}

static void
s_doc_add (matcher_model_t *self, matcher_org_t *org, const Oim__V1__Organization *msg)
{
    uint32_t slot;
    if (self->free_docs_n) {        //  a dead slot no posting refers to any more
        slot = self->free_docs [--self->free_docs_n];
        free (self->docs [slot].id);
    }
    else {
        self->docs = matcher_grow (self->docs, &self->docs_cap, self->ndocs + 1,
                                   sizeof (matcher_doc_t));
        slot = self->ndocs++;
    }
    matcher_doc_t *doc = &self->docs [slot];
    memset (doc, 0, sizeof *doc);
    doc->id = matcher_strdup (msg->id);
    doc->org = org;
    doc->live = true;
    s_collect_t c = { 0 };
    doc->len += s_collect (self, msg->name, &c);
    doc->len += s_collect (self, msg->name_en, &c);
    doc->len += s_collect (self, msg->description, &c);
    for (size_t i = 0; i < msg->n_tags; i++)
        doc->len += s_collect (self, msg->tags [i], &c);
    s_doc_pairs (doc, &c);
    uint32_t *ids = c.ids, n = c.n;
    //  distinct terms with their frequencies
    qsort (ids, n, sizeof *ids, s_cmp_u32);
    doc->terms = malloc ((n? n: 1) * sizeof *ids);
    doc->tfs = malloc ((n? n: 1) * sizeof *ids);
    assert (doc->terms && doc->tfs);
    for (uint32_t i = 0; i < n; i++) {
        if (doc->nterms && doc->terms [doc->nterms - 1] == ids [i])
            doc->tfs [doc->nterms - 1]++;
        else {
            doc->terms [doc->nterms] = ids [i];
            doc->tfs [doc->nterms++] = 1;
        }
    }
    free (ids);
    size_t ntags, nind;
    char **tags = matcher_given_or_inferred (msg->tags, msg->n_tags, msg->inferred_tags,
                                             msg->n_inferred_tags, &ntags, &doc->tags_inferred);
    char **ind = matcher_given_or_inferred (msg->industries, msg->n_industries,
                                            msg->inferred_industries, msg->n_inferred_industries,
                                            &nind, &doc->ind_inferred);
    doc->tags = malloc ((ntags + 1) * sizeof *doc->tags);
    assert (doc->tags);
    for (size_t i = 0; i < ntags; i++) {
        uint32_t key = matcher_tag_key (self, tags [i]);
        if (key != UINT32_MAX)
            doc->tags [doc->ntags++] = key;
    }
    doc->ntags = matcher_sort_uniq (doc->tags, doc->ntags);
    doc->region = matcher_strdup (msg->region);
    doc->stage = matcher_strdup (msg->stage);
    doc->ind = matcher_strv (ind, nind);
    doc->nind = nind;
    //  postings
    for (uint32_t i = 0; i < doc->nterms; i++) {
        matcher_term_t *term = &self->terms [doc->terms [i]];
        term->sp = matcher_grow (term->sp, &term->sp_cap, term->sp_n + 1, sizeof (matcher_spost_t));
        term->sp [term->sp_n++] = (matcher_spost_t) { slot, doc->tfs [i] };
        term->df++;
    }
    for (uint32_t i = 0; i < doc->ntags; i++) {
        matcher_term_t *term = &self->terms [doc->tags [i]];
        term->sp = matcher_grow (term->sp, &term->sp_cap, term->sp_n + 1, sizeof (matcher_spost_t));
        term->sp [term->sp_n++] = (matcher_spost_t) { slot, 1 };
        term->df++;
    }
    self->bytes += sizeof *doc + (doc->nterms * 2 + doc->ntags) * 4 + doc->npairs * 12
                 + (doc->nterms + doc->ntags) * sizeof (matcher_spost_t) + 64;
    matcher_postings_added (self, doc->nterms + doc->ntags);
    self->live_docs++;
    self->total_len += doc->len;
    self->doc_len = matcher_grow (self->doc_len, &self->doc_len_cap, slot + 1, sizeof (uint32_t));
    self->doc_len [slot] = doc->len? doc->len: 1;
    org->doc = slot;
    self->gen++;
}

int
matcher_model_apply_org (matcher_model_t *self, const Oim__V1__Organization *msg)
{
    if (!msg->id || !*msg->id)
        return 1;
    matcher_org_t *org = zhashx_lookup (self->orgs, msg->id);
    if (org && msg->version <= org->version)
        return 1;
    if (!org) {
        org = calloc (1, sizeof *org);
        assert (org);
        org->id = matcher_strdup (msg->id);
        org->doc = -1;
        zhashx_insert (self->orgs, msg->id, org);
        self->bytes += sizeof *org + 96;
    }
    s_doc_kill (self, org);
    free (org->kind); free (org->status); free (org->name);
    free (org->email); free (org->phone); free (org->website);
    org->kind = matcher_strdup (msg->kind);
    org->status = matcher_strdup (msg->status);
    org->name = matcher_strdup (msg->name);
    org->email = matcher_strdup (msg->email);
    org->phone = matcher_strdup (msg->phone);
    org->website = matcher_strdup (msg->website);
    org->version = msg->version;
    org->deleted = msg->deleted;
    org->active = !org->deleted && streq (org->status, "active");
    org->eligible = org->active && streq (org->kind, "startup");
    if (matcher_org_eligible (org))
        s_doc_add (self, org, msg);
    return 0;
}

int64_t
matcher_model_org_version (matcher_model_t *self, const char *id)
{
    matcher_org_t *org = zhashx_lookup (self->orgs, id);
    return org? org->version: 0;
}

bool
matcher_model_org_info (matcher_model_t *self, const char *id, matcher_org_info_t *info)
{
    matcher_org_t *org = zhashx_lookup (self->orgs, id);
    if (!org)
        return false;
    *info = (matcher_org_info_t) { org->name, org->kind, org->status, org->email, org->phone,
                                   org->website, org->active };
    return true;
}

//  --------------------------------------------------------------------------------------
//  Demands

//  Indexes demand d from msg: key terms (matcher_terms_select), effective weights, tag keys,
//  the constraint lists.
static void
s_demand_index (matcher_model_t *self, matcher_demand_t *d, const Oim__V1__Demand *msg)
{
    matcher_terms_select (self, d, msg);
    //  a demand's inferred tags and industries do not count (yet): with the default weights
    //  they took the development set from 1.06x to 0.80x BM25 nDCG@10 (MATCH_QUALITY.md §1);
    //  the factor stays "not constrained" and says so, until fitted weights (issue 15 item 4)
    //  show they help. A profile's inferred values do count against a demand's given ones.
    char **tags = msg->tags, **ind = msg->industries;
    size_t ntags = msg->n_tags, nind = msg->n_industries;
    d->tags_inferred = !ntags && msg->n_inferred_tags;
    d->ind_inferred = !nind && msg->n_inferred_industries;
    //  effective weights: the factors the demand constrains, scaled to sum 1
    bool active [MATCHER_FACTORS] = { true, ntags > 0, nind > 0,
                                      msg->n_regions > 0, msg->n_stages > 0 };
    double sum = 0;
    for (int f = 0; f < MATCHER_FACTORS; f++)
        sum += active [f]? self->config.weight [f]: 0;
    for (int f = 0; f < MATCHER_FACTORS; f++)
        d->eff [f] = active [f] && sum > 0? self->config.weight [f] / sum: 0;
    //  tags: keys sorted, names aligned
    d->tags = calloc (ntags + 1, sizeof *d->tags);
    d->tag_names = calloc (ntags + 1, sizeof *d->tag_names);
    assert (d->tags && d->tag_names);
    for (size_t i = 0; i < ntags; i++) {
        uint32_t key = matcher_tag_key (self, tags [i]);
        if (key == UINT32_MAX || matcher_has_u32 (d->tags, d->ntags, key))
            continue;
        uint32_t at = d->ntags;
        while (at > 0 && d->tags [at - 1] > key) {
            d->tags [at] = d->tags [at - 1];
            d->tag_names [at] = d->tag_names [at - 1];
            at--;
        }
        d->tags [at] = key;
        d->tag_names [at] = matcher_strdup (tags [i]);
        d->ntags++;
    }
    d->ind = matcher_strv (ind, nind);
    d->nind = nind;
    d->reg = matcher_strv (msg->regions, msg->n_regions);
    d->nreg = msg->n_regions;
    d->stg = matcher_strv (msg->stages, msg->n_stages);
    d->nstg = msg->n_stages;
    d->col = matcher_strv (msg->collaboration, msg->n_collaboration);
    d->ncol = msg->n_collaboration;
    d->norm_gen = UINT64_MAX;
    d->entry_gen = UINT64_MAX;
    self->bytes += sizeof *d + (d->nkey + d->npair) * 32 + d->nall * 4 + d->ntags * 24 + 128;
}

//  Posts an open demand into the reverse index (a new epoch makes older postings stale).
static void
s_demand_post (matcher_model_t *self, matcher_demand_t *d)
{
    d->epoch++;
    self->dstate [d->slot] = d->open? d->epoch: 0;
    matcher_postings_retire (self, d->nposted);
    d->nposted = 0;
    if (!d->open)
        return;
    for (uint32_t i = 0; i < d->nkey + d->ntags + d->npair; i++) {
        uint32_t id = i < d->nkey? d->key [i]:
                      i < d->nkey + d->ntags? d->tags [i - d->nkey]:
                      (uint32_t) (d->pair [i - d->nkey - d->ntags] >> 32);
        double q = i < d->nkey? d->key_q [i]: 0;
        //  a pair's first word is posted (q 0) only when it is not a query word itself: a
        //  startup sharing only the pair must still find the demand
        if (i >= d->nkey + d->ntags) {
            bool posted = false;
            for (uint32_t k = 0; k < d->nkey && !posted; k++)
                posted = d->key [k] == id;
            if (posted)
                continue;
        }
        matcher_term_t *term = &self->terms [id];
        term->dp = matcher_grow (term->dp, &term->dp_cap, term->dp_n + 1, sizeof (matcher_dpost_t));
        term->dp [term->dp_n++] = (matcher_dpost_t) { d->slot, d->epoch, q };
        self->bytes += sizeof (matcher_dpost_t);
        d->nposted++;
    }
    matcher_postings_added (self, d->nposted);
}

//  The teaser of a confidential demand: the same demand with no description, industries,
//  regions, stages or collaboration (what outsiders see), indexed for scoring only (never
//  posted for percolation).
static void
s_teaser_build (matcher_model_t *self, matcher_demand_t *d, const Oim__V1__Demand *msg)
{
    Oim__V1__Demand teaser = *msg;
    teaser.description = "";
    teaser.n_industries = teaser.n_regions = teaser.n_stages = teaser.n_collaboration = 0;
    teaser.n_inferred_tags = teaser.n_inferred_industries = 0;     //  inferred from the text
    matcher_demand_t *t = calloc (1, sizeof *t);
    assert (t);
    t->id = matcher_strdup (d->id);
    t->org_id = matcher_strdup (d->org_id);
    t->title = matcher_strdup (d->title);
    t->status = matcher_strdup (d->status);
    t->version = d->version;
    t->deleted = d->deleted;
    t->open = d->open;
    s_demand_index (self, t, &teaser);
    d->teaser = t;
}

int
matcher_model_apply_demand (matcher_model_t *self, const Oim__V1__Demand *msg)
{
    if (!msg->id || !*msg->id)
        return 1;
    matcher_demand_t *d = zhashx_lookup (self->demands, msg->id);
    if (d && msg->version <= d->version)
        return 1;
    if (!d) {
        d = calloc (1, sizeof *d);
        assert (d);
        d->id = matcher_strdup (msg->id);
        self->dslots = matcher_grow (self->dslots, &self->dslots_cap, self->ndslots + 1,
                                     sizeof *self->dslots);
        d->slot = self->ndslots;
        self->dslots [self->ndslots++] = d;
        self->dstate = matcher_grow (self->dstate, &self->dstate_cap, self->ndslots,
                                     sizeof (uint32_t));
        self->dstate [d->slot] = 0;
        self->dneed = matcher_grow (self->dneed, &self->dneed_cap, self->ndslots,
                                    sizeof (matcher_need_t));
        zhashx_insert (self->demands, msg->id, d);
    }
    if (d->open)
        self->open_demands--;
    s_demand_clear (d);
    d->version = msg->version;
    d->org_id = matcher_strdup (msg->org_id);
    d->owner = NULL;
    d->title = matcher_strdup (msg->title);
    d->status = matcher_strdup (msg->status);
    d->deleted = msg->deleted;
    d->open = !msg->deleted && streq (d->status, "open");
    d->confidential = streq (msg->visibility, "confidential");
    d->members = streq (msg->visibility, "members");
    if (d->open)
        self->open_demands++;
    s_demand_index (self, d, msg);
    if (d->confidential)
        s_teaser_build (self, d, msg);
    self->dneed [d->slot].gen = UINT64_MAX;     //  its entry score is unknown again
    s_demand_post (self, d);
    return 0;
}

int64_t
matcher_model_demand_version (matcher_model_t *self, const char *id)
{
    matcher_demand_t *d = zhashx_lookup (self->demands, id);
    return d? d->version: 0;
}

bool
matcher_model_demand_info (matcher_model_t *self, const char *id, const char **org_id,
                           const char **title, bool *open, bool *deleted)
{
    matcher_demand_t *d = zhashx_lookup (self->demands, id);
    if (!d)
        return false;
    if (org_id) *org_id = d->org_id;
    if (title) *title = d->title;
    if (open) *open = d->open;
    if (deleted) *deleted = d->deleted;
    return true;
}

bool
matcher_model_demand_visibility (matcher_model_t *self, const char *id, bool *confidential,
                                 bool *members)
{
    matcher_demand_t *d = zhashx_lookup (self->demands, id);
    if (!d)
        return false;
    if (confidential) *confidential = d->confidential;
    if (members) *members = d->members;
    return true;
}

void
matcher_model_org_demands (matcher_model_t *self, const char *org_id,
                           void (*fn) (const char *demand_id, void *arg), void *arg)
{
    for (uint32_t i = 0; i < self->ndslots; i++) {
        matcher_demand_t *d = self->dslots [i];
        if (d->open && streq (d->org_id, org_id))
            fn (d->id, arg);
    }
}

void
matcher_postings_added (matcher_model_t *self, size_t count)
{
    self->live_postings += count;
}

//  Drops the postings of startups no longer live; returns how many were dropped.
static size_t
s_compact_sp (matcher_model_t *self, matcher_term_t *term)
{
    uint32_t kept = 0, n = term->sp_n;
    for (uint32_t p = 0; p < n; p++)
        if (self->docs [term->sp [p].doc].live)
            term->sp [kept++] = term->sp [p];
    term->sp_n = kept;
    return n - kept;
}

//  Drops the demand postings (saved: the saved-search anchors) whose demand was re-posted
//  or closed (saved search changed or deleted) since; returns how many were dropped.
static size_t
s_compact_dposts (matcher_model_t *self, matcher_dpost_t *posts, uint32_t *count, bool saved)
{
    uint32_t kept = 0, n = *count;
    for (uint32_t p = 0; p < n; p++) {
        const matcher_dpost_t *x = &posts [p];
        const matcher_ss_t *ss = saved? self->sslots [x->slot]: NULL;
        bool live = ss? ss->live && ss->epoch == x->epoch: self->dstate [x->slot] == x->epoch;
        if (live)
            posts [kept++] = *x;
    }
    *count = kept;
    return n - kept;
}

static void
s_postings_compact (matcher_model_t *self)
{
    size_t dropped_bytes = 0;
    for (uint32_t t = 0; t < self->nterms; t++) {
        matcher_term_t *term = &self->terms [t];
        dropped_bytes += s_compact_sp (self, term) * sizeof (matcher_spost_t)
                       + (s_compact_dposts (self, term->dp, &term->dp_n, false)
                          + s_compact_dposts (self, term->qp, &term->qp_n, true))
                         * sizeof (matcher_dpost_t);
    }
    self->bytes -= dropped_bytes < self->bytes? dropped_bytes: self->bytes;
    self->stale_postings = 0;
    //  no posting refers to a dead startup slot now: new startups may take them
    self->free_docs_n = 0;
    for (uint32_t slot = 0; slot < self->ndocs; slot++)
        if (!self->docs [slot].live) {
            self->free_docs = matcher_grow (self->free_docs, &self->free_docs_cap,
                                            self->free_docs_n + 1, sizeof (uint32_t));
            self->free_docs [self->free_docs_n++] = slot;
        }
    self->compactions++;
}

void
matcher_postings_retire (matcher_model_t *self, size_t count)
{
    count = count < self->live_postings? count: self->live_postings;
    self->live_postings -= count;
    self->stale_postings += count;
    if (self->stale_postings > 4096 && self->stale_postings > self->live_postings)
        s_postings_compact (self);
}

void
matcher_model_stats (matcher_model_t *self, matcher_model_stats_t *stats)
{
    stats->startups = self->live_docs;
    stats->demands_open = self->open_demands;
    stats->saved_searches = self->live_ss;
    stats->terms = self->nterms;
    stats->postings = self->live_postings + self->stale_postings;
    stats->compactions = self->compactions;
    stats->doc_slots = self->ndocs;
    stats->bytes = self->bytes + self->scratch_cap * (sizeof (int64_t) + 1 + 4)
                 + self->terms_cap * sizeof (matcher_term_t)
                 + self->docs_cap * sizeof (matcher_doc_t);
}

