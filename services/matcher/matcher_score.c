/*  matcher_score — scoring one demand against one startup, with its explanation: one
    function per factor (text, tags, industry, region, stage), each returning the factor's
    value in [0,1] and, when asked, writing its detail; matcher_score_pair combines them (the
    exclusions, the weights, the integer units). See matcher_model.h for what each factor
    means. A new or changed factor is one function here and one line in the combiner.
*/
#include <ctype.h>
#include "matcher_internal.h"

const char *const matcher_factor_names [MATCHER_FACTORS] = {
    "text", "tags", "industry", "region", "stage"
};

static const char *const s_stages [] = {
    "pre-seed", "seed", "series-a", "series-b", "series-c+", "public", NULL
};

//  S_max: the score of an ideal profile that carries each query term (word and pair) many
//  times, sum q * idf * (k1 + 1). Every real S is below it, so the value never saturates:
//  MATCH_QUALITY.md §3.4 proposed S_self (the demand's own text as a profile of average
//  length), but a title-only demand has a small S_self, many profiles passed it and tied at
//  1.0 (ranked by id: nDCG@10 of the 19 title-only development demands fell to ~0).
int64_t
matcher_norm_units (matcher_model_t *self, matcher_demand_t *d)
{
    if (d->norm_gen != self->gen) {
        int64_t sum = 0, pair_ub = 0;
        for (uint32_t i = 0; i < d->nkey + d->npair; i++) {
            bool pair = i >= d->nkey;
            double q = pair? d->pair_q [i - d->nkey]: d->key_q [i];
            double idf = pair? matcher_pair_idf (self, d->pair [i - d->nkey])
                             : matcher_idf (self, d->key [i]);
            int64_t most = matcher_round_units (q * idf * (BM25_K1 + 1) * W_SCALE);
            sum += most;
            if (pair)           //  a pair's most: tf -> infinity, plus rounding
                pair_ub += most + 1;
        }
        d->norm_units = sum;
        d->pair_ub = pair_ub;
        d->norm_gen = self->gen;
    }
    return d->norm_units;
}

int64_t
matcher_pairs_units (matcher_model_t *self, matcher_demand_t *d, matcher_doc_t *doc)
{
    if (!d->npair || !doc->npairs)
        return 0;
    double ka, kb;
    matcher_bm25_consts (self, &ka, &kb);
    int64_t sum = 0;
    for (uint32_t i = 0; i < d->npair; i++) {
        if (!matcher_doc_may_have_pair (doc, d->pair [i]))
            continue;
        int64_t at = matcher_find_u64 (doc->pairs, doc->npairs, d->pair [i]);
        if (at >= 0)
            sum += matcher_bm25_units (d->pair_q [i] * matcher_pair_idf (self, d->pair [i]),
                                       doc->pair_tfs [at], doc->len, ka, kb);
    }
    return sum;
}

const char *
matcher_strength (const matcher_model_t *self, int64_t units)
{
    return units >= MATCHER_STRONG_UNITS? "strong":
           units >= self->config.min_units? "good": "weak";
}

static double
s_round4 (double value)
{
    return round (value * MATCHER_UNITS) / MATCHER_UNITS;
}

static void
s_append (char *detail, const char *text)
{
    size_t used = strlen (detail);
    if (used + strlen (text) + 1 < MATCHER_DETAIL_SIZE)
        strcat (detail, text);
}

static int
s_stage_rank (const char *stage)
{
    for (int i = 0; s_stages [i]; i++)
        if (streq (s_stages [i], stage))
            return i;
    return -1;
}

//  Industry value for one pair of KSIC codes: section letter + optional 2-digit division.
static double
s_industry_pair (const char *demand, const char *startup)
{
    if (!*demand || !*startup)
        return 0;
    size_t dl = strlen (demand);
    if (strncmp (startup, demand, dl) == 0)
        return 1.0;                 //  same code, or the startup inside the demand's section
    if (toupper ((unsigned char) demand [0]) == toupper ((unsigned char) startup [0]))
        return 0.5;
    return 0;
}

bool
matcher_region_fits (const char *wanted, const char *region)
{
    if (streq (wanted, region))
        return true;
    size_t n = strlen (wanted);     //  a country ("KR") covers its subdivisions ("KR-11")
    return n == 2 && strncmp (region, wanted, 2) == 0 && region [2] == '-';
}


//  The hard exclusion that applies to the pair (a static string), or NULL.
static const char *
s_exclusion (matcher_model_t *self, matcher_demand_t *d, matcher_org_t *org, matcher_doc_t *doc)
{
    if (!matcher_org_eligible (org) || !doc)
        return !org? "unknown startup":
               org->deleted? "startup deleted":
               !streq (org->kind, "startup")? "not a startup": "startup not active";
    if (!d->open)
        return d->deleted? "demand deleted": "demand not open";
    if (!d->owner)
        d->owner = zhashx_lookup (self->orgs, d->org_id);
    if (d->owner? d->owner == org: streq (d->org_id, org->id))
        return "the demand's own organization";
    if (d->owner && !d->owner->active)
        return "demand owner not active";
    return NULL;
}

typedef struct { const char *word; int64_t units; } s_shared_t;

static int
s_shared_cmp (const void *a, const void *b)
{
    const s_shared_t *x = a, *y = b;
    return x->units != y->units? (x->units > y->units? -1: 1): strcmp (x->word, y->word);
}

//  The text factor's detail: the shared pairs ("adaptive optics") by contribution, then the
//  shared words by contribution (a bigram only when no word is shared), at most 12 in all;
//  then where the texts came from. shared: n entries, pairs first (npairs of them).
static void
s_text_detail (s_shared_t *shared, uint32_t n, uint32_t npairs, char *dt)
{
    qsort (shared, npairs, sizeof *shared, s_shared_cmp);
    qsort (shared + npairs, n - npairs, sizeof *shared, s_shared_cmp);
    int shown = 0, words = 0;
    for (uint32_t i = 0; i < n; i++)
        words += i >= npairs && shared [i].word [0] != '\x02';
    for (uint32_t i = 0; i < n && shown < 12; i++) {
        bool bigram = shared [i].word [0] == '\x02';
        if (bigram && words)
            continue;
        s_append (dt, shown++? ", ": i < npairs? "matched phrases and terms: ": "shared terms: ");
        s_append (dt, shared [i].word + bigram);
    }
    if (!shown)
        s_append (dt, "no shared terms");
    //  the registry will mark inferred text (issue 15 item 3); today both are given
    s_append (dt, " (demand text given, profile given)");
}

//  The text sum of demand d's words and pairs in doc (units); shared (capacity nkey +
//  npair, may be NULL) gets the shared pairs then words with their contributions.
static int64_t
s_text_units (matcher_model_t *self, matcher_demand_t *d, matcher_doc_t *doc,
              s_shared_t *shared, uint32_t *nshared, uint32_t *npairs)
{
    double ka, kb;
    matcher_bm25_consts (self, &ka, &kb);
    int64_t sum = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->npair && shared; i++) {
        if (!matcher_doc_may_have_pair (doc, d->pair [i]))
            continue;
        int64_t at = matcher_find_u64 (doc->pairs, doc->npairs, d->pair [i]);
        if (at >= 0)
            shared [n++] = (s_shared_t) { d->pair_words [i], matcher_bm25_units (
                d->pair_q [i] * matcher_pair_idf (self, d->pair [i]), doc->pair_tfs [at],
                doc->len, ka, kb) };
    }
    if (npairs)
        *npairs = n;
    sum += matcher_pairs_units (self, d, doc);
    for (uint32_t i = 0; i < d->nkey; i++) {
        int64_t at = matcher_find_u32 (doc->terms, doc->nterms, d->key [i]);
        if (at < 0)
            continue;
        int64_t units = matcher_bm25_units (d->key_q [i] * matcher_idf (self, d->key [i]),
                                            doc->tfs [at], doc->len, ka, kb);
        sum += units;
        if (shared)
            shared [n++] = (s_shared_t) { d->key_words [i], units };
    }
    if (nshared)
        *nshared = n;
    return sum;
}

//  Text: min (1, sqrt (S / S_max)), S the BM25 of the demand's query (words and pairs) in
//  the profile (MATCH_QUALITY.md §3.4). text_units >= 0 is the sum the index paths
//  accumulated; < 0 computes it from the pair. *relevant: the pair shares a query word or
//  pair (S > 0).
static double
s_factor_text (matcher_model_t *self, matcher_demand_t *d, matcher_doc_t *doc, int64_t text_units,
               bool *relevant, char *detail)
{
    s_shared_t *shared = detail? calloc (d->nkey + d->npair + 1, sizeof *shared): NULL;
    uint32_t nshared = 0, npairs = 0;
    if (text_units < 0 || detail) {
        int64_t sum = s_text_units (self, d, doc, shared, &nshared, &npairs);
        if (text_units < 0)
            text_units = sum;
    }
    *relevant = text_units > 0;
    double value = 0;
    int64_t norm = matcher_norm_units (self, d);
    if (text_units > 0 && norm > 0) {
        value = sqrt ((double) text_units / (double) norm);
        if (value > 1)
            value = 1;
    }
    if (detail) {
        assert (shared);
        s_text_detail (shared, nshared, npairs, detail);
        free (shared);
    }
    return value;
}

//  Where a constrained factor's values came from: " (demand X given|inferred, profile
//  given|inferred)" — the registry infers tags and industries from the text of an entity
//  that came without them (issue 15 item 3); regions and stages are always given.
static void
s_source (char *detail, const char *what, bool demand_inferred, bool doc_inferred)
{
    if (!detail)
        return;
    char line [96];
    snprintf (line, sizeof line, " (demand %s %s, profile %s)", what,
              demand_inferred? "inferred": "given", doc_inferred? "inferred": "given");
    s_append (detail, line);
}

//  Tags: the idf-weighted share of the demand's tags the startup carries. Sets *relevant
//  when it carries one (leaves it alone otherwise).
static double
s_factor_tags (matcher_model_t *self, matcher_demand_t *d, matcher_doc_t *doc, bool *relevant,
               char *detail)
{
    double num = 0, den = 0;
    int shown = 0;
    for (uint32_t i = 0; i < d->ntags; i++) {
        double idf = matcher_idf (self, d->tags [i]);
        den += idf;
        if (matcher_has_u32 (doc->tags, doc->ntags, d->tags [i])) {
            num += idf;
            *relevant = true;
            if (detail) {
                s_append (detail, shown++? ", ": "shared tags: ");
                s_append (detail, d->tag_names [i]);
            }
        }
    }
    if (detail && !shown)
        s_append (detail, d->ntags? "no shared tags":
                          d->tags_inferred? "demand tags only inferred (not counted)":
                                            "demand has no tags (not counted)");
    if (d->ntags)
        s_source (detail, "tags", false, doc->tags_inferred);
    return den > 0 && num > 0? num / den: 0;
}

//  True when the demand does not constrain a factor (it names none of n): then the factor
//  is not applicable (weight 0) and its detail says so.
static bool
s_not_constrained (size_t n, char *detail, const char *text)
{
    if (n == 0 && detail)
        s_append (detail, text);
    return n == 0;
}

//  Industry: the best pair of the demand's and the startup's KSIC codes (s_industry_pair).
static double
s_factor_industry (matcher_demand_t *d, matcher_doc_t *doc, char *detail)
{
    if (s_not_constrained (d->nind, detail, d->ind_inferred?
                           "demand industries only inferred (not counted)":
                           "demand names no industry (not counted)"))
        return 0;
    double value = 0;
    const char *dbest = NULL, *sbest = NULL;
    for (size_t i = 0; i < d->nind; i++)
        for (size_t j = 0; j < doc->nind; j++) {
            double v = s_industry_pair (d->ind [i], doc->ind [j]);
            if (v > value) {
                value = v;
                dbest = d->ind [i];
                sbest = doc->ind [j];
            }
        }
    if (detail) {
        if (!dbest)
            s_append (detail, "no industry in common");
        else {
            char line [128];
            snprintf (line, sizeof line, "%s %s (demand) / %s (startup)",
                      value == 1? "same KSIC division:": "same KSIC section:", dbest, sbest);
            s_append (detail, line);
        }
    }
    s_source (detail, "industries", false, doc->ind_inferred);
    return value;
}

//  Region: 1 when the startup's region is among the demand's (a country covers its parts).
static double
s_factor_region (matcher_demand_t *d, matcher_doc_t *doc, char *detail)
{
    if (s_not_constrained (d->nreg, detail, "nationwide (not counted)"))
        return 0;
    double value = 0;
    for (size_t i = 0; i < d->nreg && value == 0; i++)
        if (*doc->region && matcher_region_fits (d->reg [i], doc->region))
            value = 1;
    if (detail) {
        s_append (detail, value == 1? "in the demand's regions: ":
                                      "outside the demand's regions: ");
        s_append (detail, *doc->region? doc->region: "(startup region unknown)");
    }
    s_source (detail, "regions", false, false);
    return value;
}

//  Stage: 1 for an acceptable stage, 0.5 for a stage next to one.
static double
s_factor_stage (matcher_demand_t *d, matcher_doc_t *doc, char *detail)
{
    if (s_not_constrained (d->nstg, detail, "any stage (not counted)"))
        return 0;
    double value = 0;
    int rank = s_stage_rank (doc->stage);
    for (size_t i = 0; i < d->nstg; i++) {
        int want = s_stage_rank (d->stg [i]);
        if (rank >= 0 && want == rank)
            value = 1;
        else
        if (rank >= 0 && want >= 0 && abs (want - rank) == 1 && value < 0.5)
            value = 0.5;
    }
    if (detail) {
        s_append (detail, value == 1? "acceptable stage: ":
                          value > 0? "adjacent to an acceptable stage: ":
                                     "not an acceptable stage: ");
        s_append (detail, *doc->stage? doc->stage: "(unknown)");
    }
    s_source (detail, "stages", false, false);
    return value;
}

//  Clears out for a new pair: no score, no flags, empty details, the demand's effective
//  weights (factors it does not constrain weigh 0, the others are scaled up to sum 1).
static void
s_score_reset (const matcher_demand_t *d, matcher_score_t *out)
{
    out->units = 0;
    out->excluded = out->relevant = out->qualifies = false;
    out->reason = NULL;
    for (int f = 0; f < MATCHER_FACTORS; f++) {
        out->factors [f].value = 0;
        out->factors [f].units = 0;
        out->factors [f].detail [0] = 0;
        out->factors [f].weight = d->eff [f];
    }
}

void
matcher_score_pair (matcher_model_t *self, matcher_demand_t *d, matcher_org_t *org,
                    matcher_doc_t *doc, int64_t text_units, bool detail, matcher_score_t *out)
{
    s_score_reset (d, out);
    out->reason = s_exclusion (self, d, org, doc);
    if (out->reason) {
        out->excluded = true;
        return;
    }
    matcher_factor_score_t *fs = out->factors;
    double value [MATCHER_FACTORS];
#define DETAIL(f) (detail? fs [f].detail: NULL)
    value [MATCHER_TEXT] = s_factor_text (self, d, doc, text_units, &out->relevant,
                                          DETAIL (MATCHER_TEXT));
    value [MATCHER_TAGS] = s_factor_tags (self, d, doc, &out->relevant, DETAIL (MATCHER_TAGS));
    value [MATCHER_INDUSTRY] = s_factor_industry (d, doc, DETAIL (MATCHER_INDUSTRY));
    value [MATCHER_REGION] = s_factor_region (d, doc, DETAIL (MATCHER_REGION));
    value [MATCHER_STAGE] = s_factor_stage (d, doc, DETAIL (MATCHER_STAGE));
#undef DETAIL
    for (int f = 0; f < MATCHER_FACTORS; f++) {
        fs [f].value = s_round4 (value [f]);
        fs [f].units = llround (d->eff [f] * fs [f].value * MATCHER_UNITS);
        out->units += fs [f].units;
    }
    out->qualifies = out->relevant;     //  listed however weak (strength says so)
}

int
matcher_model_score (matcher_model_t *self, const char *demand_id, const char *startup_id,
                     matcher_score_t *score)
{
    matcher_demand_t *d = zhashx_lookup (self->demands, demand_id);
    matcher_org_t *org = zhashx_lookup (self->orgs, startup_id);
    if (!d || !org) {
        memset (score, 0, sizeof *score);
        score->excluded = true;
        score->reason = !d? "unknown demand": "unknown startup";
        return -1;
    }
    matcher_doc_t *doc = org->doc >= 0? &self->docs [org->doc]: NULL;
    matcher_score_pair (self, d, org, doc, -1, true, score);
    return 0;
}

int
matcher_model_score_teaser (matcher_model_t *self, const char *demand_id,
                            const char *startup_id, matcher_score_t *score)
{
    matcher_demand_t *d = zhashx_lookup (self->demands, demand_id);
    matcher_org_t *org = zhashx_lookup (self->orgs, startup_id);
    memset (score, 0, sizeof *score);
    if (!d || !d->teaser || !org) {
        score->excluded = true;
        score->reason = !d? "unknown demand": !org? "unknown startup": "not confidential";
        return -1;
    }
    matcher_doc_t *doc = org->doc >= 0? &self->docs [org->doc]: NULL;
    matcher_score_pair (self, d->teaser, org, doc, -1, true, score);
    static const int hidden [] = { MATCHER_INDUSTRY, MATCHER_REGION, MATCHER_STAGE };
    for (size_t i = 0; i < sizeof hidden / sizeof hidden [0]; i++)
        snprintf (score->factors [hidden [i]].detail, MATCHER_DETAIL_SIZE, "%s",
                  "confidential demand: shown once connected (not counted)");
    return 0;
}
