/*  test_matcher_model — unit test of the matcher's model and scoring: each factor, exact
    explanation sums, exclusions, determinism, Korean and English text, the indexes against
    brute force, saved-search percolation and configuration.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "matcher_model.h"

static int s_failures = 0;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); s_failures++; } } while (0)

typedef struct {
    const char *id, *kind, *status, *name, *description, *region, *stage;
    const char *tags [6], *industries [4];
    int64_t version;
    bool deleted;
} org_spec_t;

typedef struct {
    const char *id, *org_id, *title, *description, *status, *visibility;
    const char *tags [6], *industries [4], *regions [4], *stages [4];
    int64_t version;
} demand_spec_t;

static size_t
s_count (const char *const *items, size_t max)
{
    size_t n = 0;
    while (n < max && items [n])
        n++;
    return n;
}

static void
s_org (matcher_model_t *model, org_spec_t spec)
{
    Oim__V1__Organization org = OIM__V1__ORGANIZATION__INIT;
    org.id = (char *) spec.id;
    org.kind = (char *) (spec.kind? spec.kind: "startup");
    org.status = (char *) (spec.status? spec.status: "active");
    org.name = (char *) spec.name;
    org.description = (char *) (spec.description? spec.description: "");
    org.region = (char *) (spec.region? spec.region: "");
    org.stage = (char *) (spec.stage? spec.stage: "");
    org.tags = (char **) spec.tags;
    org.n_tags = s_count (spec.tags, 6);
    org.industries = (char **) spec.industries;
    org.n_industries = s_count (spec.industries, 4);
    org.version = spec.version? spec.version: 1;
    org.deleted = spec.deleted;
    org.email = "contact@example.com";
    matcher_model_apply_org (model, &org);
}

static void
s_demand (matcher_model_t *model, demand_spec_t spec)
{
    Oim__V1__Demand d = OIM__V1__DEMAND__INIT;
    d.id = (char *) spec.id;
    d.org_id = (char *) (spec.org_id? spec.org_id: "org_company");
    d.title = (char *) spec.title;
    d.description = (char *) (spec.description? spec.description: "");
    d.status = (char *) (spec.status? spec.status: "open");
    d.visibility = (char *) (spec.visibility? spec.visibility: "public");
    d.tags = (char **) spec.tags;
    d.n_tags = s_count (spec.tags, 6);
    d.industries = (char **) spec.industries;
    d.n_industries = s_count (spec.industries, 4);
    d.regions = (char **) spec.regions;
    d.n_regions = s_count (spec.regions, 4);
    d.stages = (char **) spec.stages;
    d.n_stages = s_count (spec.stages, 4);
    d.version = spec.version? spec.version: 1;
    matcher_model_apply_demand (model, &d);
}

static matcher_model_t *
s_model_scan (bool scan)
{
    matcher_config_t config;
    matcher_config_default (&config);
    config.min_units = 1000;
    config.scan = scan;
    matcher_model_t *model = matcher_model_new (&config);
    assert (model);
    s_org (model, (org_spec_t) { .id = "org_company", .kind = "company", .name = "Big Co" });
    return model;
}

static matcher_model_t *
s_model (void)
{
    return s_model_scan (false);
}

static void
s_check_sum (const matcher_score_t *score)
{
    int64_t sum = 0;
    double weights = 0;
    for (int f = 0; f < MATCHER_FACTORS; f++) {
        sum += score->factors [f].units;
        weights += score->factors [f].weight;
        CHECK (score->factors [f].value >= 0 && score->factors [f].value <= 1);
        CHECK (llabs (score->factors [f].units - llround (score->factors [f].weight
               * score->factors [f].value * MATCHER_UNITS)) <= 0);
    }
    CHECK (sum == score->units);
    CHECK (weights > 0.999999 && weights < 1.000001);
}

static void
test_factors (bool verbose)
{
    matcher_model_t *model = s_model ();
    s_org (model, (org_spec_t) { .id = "org_s1", .name = "ReCell",
        .description = "We recycle lithium-ion batteries from electric vehicles.",
        .tags = { "battery", "recycling" }, .industries = { "C26" }, .region = "KR-11",
        .stage = "seed" });
    s_org (model, (org_spec_t) { .id = "org_s2", .name = "CellTwo",
        .description = "Battery management software for fleets.",
        .tags = { "software" }, .industries = { "C27" }, .region = "KR-41",
        .stage = "pre-seed" });
    s_org (model, (org_spec_t) { .id = "org_s3", .name = "Bakery",
        .description = "Artisan bread delivered daily.", .tags = { "food" },
        .industries = { "J62" }, .region = "KR-11", .stage = "series-b" });
    for (int i = 0; i < 8; i++) {       //  make "software" a common tag, "recycling" rare
        char id [32], name [32];
        snprintf (id, sizeof id, "org_f%d", i);
        snprintf (name, sizeof name, "Filler %d", i);
        const char *tags [6] = { "software" };
        s_org (model, (org_spec_t) { .id = id, .name = name, .description = "cloud platform",
                                     .tags = { tags [0] } });
    }
    s_demand (model, (demand_spec_t) { .id = "dem_1", .title = "Battery recycling",
        .description = "Recover lithium from used EV batteries.",
        .tags = { "recycling", "software" }, .industries = { "C26" }, .regions = { "KR-11" },
        .stages = { "seed" } });
    matcher_score_t s1, s2, s3;
    CHECK (matcher_model_score (model, "dem_1", "org_s1", &s1) == 0);
    CHECK (matcher_model_score (model, "dem_1", "org_s2", &s2) == 0);
    CHECK (matcher_model_score (model, "dem_1", "org_s3", &s3) == 0);
    s_check_sum (&s1); s_check_sum (&s2); s_check_sum (&s3);
    if (verbose)
        for (int f = 0; f < MATCHER_FACTORS; f++)
            printf ("  s1 %-8s w=%.2f v=%.4f c=%lld %s\n", matcher_factor_names [f],
                    s1.factors [f].weight, s1.factors [f].value,
                    (long long) s1.factors [f].units, s1.factors [f].detail);
    //  text: s1 shares battery, recycling, lithium; s2 only battery; s3 nothing
    CHECK (s1.factors [MATCHER_TEXT].value > s2.factors [MATCHER_TEXT].value);
    CHECK (s2.factors [MATCHER_TEXT].value > 0);
    CHECK (s3.factors [MATCHER_TEXT].value == 0);
    CHECK (strstr (s1.factors [MATCHER_TEXT].detail, "battery") != NULL);
    CHECK (strstr (s1.factors [MATCHER_TEXT].detail, "lithium") != NULL);
    //  tags: the rare "recycling" is worth more than the common "software"
    CHECK (s1.factors [MATCHER_TAGS].value > 0.5);
    CHECK (s2.factors [MATCHER_TAGS].value > 0 && s2.factors [MATCHER_TAGS].value < 0.5);
    CHECK (strstr (s1.factors [MATCHER_TAGS].detail, "recycling") != NULL);
    //  industry: same division 1, same section 0.5, other 0
    CHECK (s1.factors [MATCHER_INDUSTRY].value == 1.0);
    CHECK (s2.factors [MATCHER_INDUSTRY].value == 0.5);
    CHECK (s3.factors [MATCHER_INDUSTRY].value == 0);
    //  region and stage
    CHECK (s1.factors [MATCHER_REGION].value == 1.0);
    CHECK (s2.factors [MATCHER_REGION].value == 0);
    CHECK (s1.factors [MATCHER_STAGE].value == 1.0);
    CHECK (s2.factors [MATCHER_STAGE].value == 0.5);
    CHECK (s3.factors [MATCHER_STAGE].value == 0);
    CHECK (s1.qualifies && !s3.qualifies && !s3.relevant);
    CHECK (s1.units > s2.units);
    //  a demand with no industry / region / stage: those factors are not counted, the
    //  weights of text and tags scale up to sum 1
    s_demand (model, (demand_spec_t) { .id = "dem_2", .title = "Battery recycling" });
    matcher_score_t s;
    matcher_model_score (model, "dem_2", "org_s2", &s);
    CHECK (s.factors [MATCHER_INDUSTRY].weight == 0 && s.factors [MATCHER_INDUSTRY].units == 0);
    CHECK (s.factors [MATCHER_REGION].weight == 0 && s.factors [MATCHER_STAGE].weight == 0);
    CHECK (s.factors [MATCHER_TEXT].weight == 1.0);     //  no tags either: text is all
    CHECK (strstr (s.factors [MATCHER_REGION].detail, "not counted") != NULL);
    //  no demand tags: the tags factor is not counted either
    matcher_model_score (model, "dem_2", "org_s1", &s);
    CHECK (s.factors [MATCHER_TAGS].weight == 0 && s.factors [MATCHER_TAGS].units == 0);
    CHECK (s.factors [MATCHER_TEXT].weight == 1.0 && s.qualifies);
    s_check_sum (&s);
    //  section code covers its divisions; country covers its regions
    s_demand (model, (demand_spec_t) { .id = "dem_3", .title = "Battery", .industries = { "C" },
                                       .regions = { "KR" } });
    matcher_model_score (model, "dem_3", "org_s2", &s);
    CHECK (s.factors [MATCHER_INDUSTRY].value == 1.0);
    CHECK (s.factors [MATCHER_REGION].value == 1.0);
    //  top: s1 first, s3 never
    matcher_hit_t hits [20];
    int n = matcher_model_top (model, "dem_1", hits);
    CHECK (n >= 2 && streq (hits [0].id, "org_s1"));
    for (int i = 0; i < n; i++)
        CHECK (!streq (hits [i].id, "org_s3"));
    matcher_model_destroy (&model);
}

static void
test_exclusions (void)
{
    matcher_model_t *model = s_model ();
    const char *desc = "drone inspection of wind turbines";
    s_org (model, (org_spec_t) { .id = "org_ok", .name = "Ok", .description = desc });
    s_org (model, (org_spec_t) { .id = "org_pend", .name = "P", .description = desc,
                                 .status = "pending" });
    s_org (model, (org_spec_t) { .id = "org_susp", .name = "S", .description = desc,
                                 .status = "suspended" });
    s_org (model, (org_spec_t) { .id = "org_del", .name = "D", .description = desc,
                                 .deleted = true });
    s_org (model, (org_spec_t) { .id = "org_co", .name = "C", .description = desc,
                                 .kind = "company" });
    s_demand (model, (demand_spec_t) { .id = "dem_open", .title = "Drone inspection",
                                       .description = desc });
    s_demand (model, (demand_spec_t) { .id = "dem_own", .org_id = "org_ok",
                                       .title = "Drone inspection", .description = desc });
    s_demand (model, (demand_spec_t) { .id = "dem_closed", .title = "Drone inspection",
                                       .description = desc, .status = "closed" });
    matcher_score_t s;
    const char *bad [] = { "org_pend", "org_susp", "org_del", "org_co" };
    for (int i = 0; i < 4; i++) {
        matcher_model_score (model, "dem_open", bad [i], &s);
        CHECK (s.excluded && !s.qualifies && s.reason);
    }
    matcher_model_score (model, "dem_open", "org_ok", &s);
    CHECK (!s.excluded && s.qualifies);
    matcher_model_score (model, "dem_own", "org_ok", &s);
    CHECK (s.excluded);
    matcher_model_score (model, "dem_closed", "org_ok", &s);
    CHECK (s.excluded);
    matcher_hit_t hits [20];
    CHECK (matcher_model_top (model, "dem_open", hits) == 1 && streq (hits [0].id, "org_ok"));
    CHECK (matcher_model_top (model, "dem_own", hits) == 0);
    CHECK (matcher_model_top (model, "dem_closed", hits) == 0);
    CHECK (matcher_model_percolate (model, "org_ok", hits, 20) == 1
           && streq (hits [0].id, "dem_open"));     //  (dem_own: its own; dem_closed: closed)
    //  suspension removes the startup; reactivation (newer version) brings it back; a stale
    //  version is ignored
    s_org (model, (org_spec_t) { .id = "org_ok", .name = "Ok", .description = desc,
                                 .status = "suspended", .version = 2 });
    CHECK (matcher_model_top (model, "dem_open", hits) == 0);
    s_org (model, (org_spec_t) { .id = "org_ok", .name = "Ok", .description = desc,
                                 .version = 1 });
    CHECK (matcher_model_top (model, "dem_open", hits) == 0);
    s_org (model, (org_spec_t) { .id = "org_ok", .name = "Ok", .description = desc,
                                 .version = 3 });
    CHECK (matcher_model_top (model, "dem_open", hits) == 1);
    //  the owner suspended: its demands match nothing
    s_org (model, (org_spec_t) { .id = "org_company", .kind = "company", .name = "Big Co",
                                 .status = "suspended", .version = 2 });
    CHECK (matcher_model_top (model, "dem_open", hits) == 0);
    matcher_model_destroy (&model);
}

static void
test_korean (bool verbose)
{
    matcher_model_t *model = s_model ();
    s_org (model, (org_spec_t) { .id = "org_k1", .name = "리셀",
        .description = "폐배터리재활용 기술로 이차전지 소재를 회수합니다.", .tags = { "배터리" } });
    s_org (model, (org_spec_t) { .id = "org_k2", .name = "빵집",
        .description = "매일 아침 신선한 빵을 배달합니다.", .tags = { "식품" } });
    s_org (model, (org_spec_t) { .id = "org_e1", .name = "Cellback",
        .description = "Battery recycling for EV makers." });
    s_demand (model, (demand_spec_t) { .id = "dem_k", .title = "배터리 재활용 기술 공모",
        .description = "전기차 배터리를 재활용하는 스타트업을 찾습니다.", .tags = { "배터리" } });
    matcher_hit_t hits [20];
    int n = matcher_model_top (model, "dem_k", hits);
    //  the Korean profile first; the English one through the glossary ("battery recycling")
    CHECK (n == 2 && streq (hits [0].id, "org_k1") && streq (hits [1].id, "org_e1"));
    matcher_score_t s;
    matcher_model_score (model, "dem_k", "org_k1", &s);
    if (verbose)
        printf ("  korean: score=%lld text=%s | tags=%s\n", (long long) s.units,
                s.factors [0].detail, s.factors [1].detail);
    CHECK (s.factors [MATCHER_TEXT].value > 0);
    CHECK (strstr (s.factors [MATCHER_TEXT].detail, "배터리") != NULL);
    CHECK (s.factors [MATCHER_TAGS].value == 1.0);
    s_check_sum (&s);
    //  English demand, stemmed: "recycled batteries" ~ "battery recycling"
    s_demand (model, (demand_spec_t) { .id = "dem_e", .title = "Recycled batteries" });
    n = matcher_model_top (model, "dem_e", hits);
    if (verbose)
        for (int i = 0; i < n; i++) {
            matcher_model_score (model, "dem_e", hits [i].id, &s);
            printf ("  dem_e: %s %lld %s\n", hits [i].id, (long long) hits [i].units,
                    s.factors [0].detail);
        }
    CHECK (n >= 1 && streq (hits [0].id, "org_e1"));
    //  without the glossary, no Korean demand reaches an English profile
    matcher_config_t config;
    matcher_config_default (&config);
    config.glossary_weight = 0;
    matcher_model_t *plain = matcher_model_new (&config);
    assert (plain);
    s_org (plain, (org_spec_t) { .id = "org_e1", .name = "Cellback",
        .description = "Battery recycling for EV makers." });
    s_demand (plain, (demand_spec_t) { .id = "dem_k", .title = "배터리 재활용 기술 공모" });
    CHECK (matcher_model_top (plain, "dem_k", hits) == 0);
    matcher_model_destroy (&plain);
    matcher_model_destroy (&model);
}

//  A synthetic corpus: startups and demands over a small vocabulary.
static const char *s_words [] = {
    "battery", "recycling", "drone", "inspection", "vision", "robot", "logistics", "sensor",
    "hydrogen", "fuel", "cell", "semiconductor", "wafer", "lidar", "mapping", "agri",
    "farm", "water", "filter", "medical", "imaging", "ai", "learning", "cloud", "security",
    "배터리", "재활용", "드론", "물류", "반도체", "센서", "의료", "영상", NULL
};
static const char *s_codes [] = { "C26", "C27", "C", "J62", "J", "M70", NULL };
static const char *s_regions [] = { "KR-11", "KR-41", "KR-26", NULL };
static const char *s_stage_names [] = { "pre-seed", "seed", "series-a", "series-b", NULL };

static void
s_text (unsigned *seed, char *buf, size_t size, int words)
{
    size_t nwords = 0;
    while (s_words [nwords]) nwords++;
    buf [0] = 0;
    for (int i = 0; i < words; i++) {
        char rare [16];     //  half the words from a long tail, so some terms are distinctive
        snprintf (rare, sizeof rare, "t%03d", rand_r (seed) % 300);
        strncat (buf, rand_r (seed) % 2? s_words [rand_r (seed) % nwords]: rare,
                 size - strlen (buf) - 2);
        strncat (buf, " ", size - strlen (buf) - 1);
    }
}

static void
s_corpus_version (matcher_model_t *model, unsigned seed, int startups, int demands,
                  bool reverse, int64_t version)
{
    for (int pass = 0; pass < 2; pass++) {
        bool do_startups = (pass == 0) != reverse;
        unsigned s = seed + (do_startups? 0: 1000);
        int count = do_startups? startups: demands;
        for (int j = 0; j < count; j++) {
            int i = reverse? count - 1 - j: j;
            unsigned local = s + (unsigned) i * 7919;
            char id [32], text [400], title [100];
            s_text (&local, title, sizeof title, 3);
            s_text (&local, text, sizeof text, 12);
            const char *tag = s_words [rand_r (&local) % 25];
            if (do_startups) {
                snprintf (id, sizeof id, "org_s%04d", i);
                s_org (model, (org_spec_t) { .id = id, .name = title, .description = text,
                    .version = version, .tags = { tag }, .industries = { s_codes [rand_r (&local) % 6] },
                    .region = s_regions [rand_r (&local) % 3],
                    .stage = s_stage_names [rand_r (&local) % 4] });
            }
            else {
                snprintf (id, sizeof id, "dem_%04d", i);
                int r = rand_r (&local) % 4;
                s_demand (model, (demand_spec_t) { .id = id, .title = title,
                    .description = text, .version = version, .tags = { r == 0? NULL: tag },
                    .industries = { r == 1? NULL: s_codes [rand_r (&local) % 6] },
                    .regions = { r == 2? NULL: s_regions [rand_r (&local) % 3] },
                    .stages = { r == 3? NULL: s_stage_names [rand_r (&local) % 4] } });
            }
        }
    }
}

static void
s_corpus (matcher_model_t *model, unsigned seed, int startups, int demands, bool reverse)
{
    s_corpus_version (model, seed, startups, demands, reverse, 1);
}

//  Updates leave retired postings behind; once they outnumber the live ones they are
//  compacted away: after 40 rounds of every startup and demand re-sent (same texts, new
//  versions) the model holds as many postings as a fresh one and answers the same.
static void
test_compaction (void)
{
    matcher_model_t *a = s_model (), *b = s_model ();
    s_corpus (a, 42, 300, 120, false);
    s_corpus (b, 42, 300, 120, false);
    for (int64_t version = 2; version <= 41; version++)
        s_corpus_version (a, 42, 300, 120, false, version);
    matcher_model_stats_t sa, sb;
    matcher_model_stats (a, &sa);
    matcher_model_stats (b, &sb);
    CHECK (sa.compactions > 0 && sb.compactions == 0);
    CHECK (sa.postings <= 2 * sb.postings);     //  live + not yet compacted
    CHECK (sa.doc_slots < 3 * sb.doc_slots);    //  dead slots are taken again
    matcher_hit_t h1 [20], h2 [20];
    for (int i = 0; i < 120; i++) {
        char id [32];
        snprintf (id, sizeof id, "dem_%04d", i);
        int n1 = matcher_model_top (a, id, h1), n2 = matcher_model_top (b, id, h2);
        CHECK (n1 == n2);
        for (int j = 0; j < n1 && j < n2; j++)
            CHECK (streq (h1 [j].id, h2 [j].id) && h1 [j].units == h2 [j].units);
    }
    matcher_hit_t *p1 = calloc (200, sizeof *p1), *p2 = calloc (200, sizeof *p2);
    for (int i = 0; i < 300; i += 7) {
        char id [32];
        snprintf (id, sizeof id, "org_s%04d", i);
        int n1 = matcher_model_percolate (a, id, p1, 200);
        int n2 = matcher_model_percolate (b, id, p2, 200);
        CHECK (n1 == n2);
        matcher_hits_sort (p1, n1); matcher_hits_sort (p2, n2);
        for (int j = 0; j < n1 && j < n2; j++)
            CHECK (streq (p1 [j].id, p2 [j].id) && p1 [j].units == p2 [j].units);
    }
    free (p1); free (p2);
    matcher_model_destroy (&a);
    matcher_model_destroy (&b);
}

//  config.scan (the daemon's OIM_MATCH_SCAN, a benchmark's reference): the same tops with
//  the same explanations, the same percolation, without the indexes.
static void
test_scan_config (void)
{
    matcher_model_t *a = s_model (), *b = s_model_scan (true);
    s_corpus (a, 7, 200, 60, false);
    s_corpus (b, 7, 200, 60, false);
    matcher_hit_t h1 [20], h2 [20];
    matcher_score_t s1 [20], s2 [20];
    const char *n1 [20], *n2 [20];
    int compared = 0;
    for (int i = 0; i < 60; i++) {
        char id [32];
        snprintf (id, sizeof id, "dem_%04d", i);
        int c1 = matcher_model_top_scores (a, id, h1, s1, n1);
        int c2 = matcher_model_top_scores (b, id, h2, s2, n2);
        CHECK (c1 == c2);
        for (int j = 0; j < c1 && j < c2; j++, compared++)
            CHECK (streq (h1 [j].id, h2 [j].id) && h1 [j].units == h2 [j].units
                   && s1 [j].units == s2 [j].units && streq (n1 [j], n2 [j])
                   && streq (s1 [j].factors [0].detail, s2 [j].factors [0].detail));
    }
    matcher_hit_t *p1 = calloc (100, sizeof *p1), *p2 = calloc (100, sizeof *p2);
    for (int i = 0; i < 200; i += 9) {
        char id [32];
        snprintf (id, sizeof id, "org_s%04d", i);
        int c1 = matcher_model_percolate (a, id, p1, 100);
        int c2 = matcher_model_percolate (b, id, p2, 100);
        CHECK (c1 == c2);
        matcher_hits_sort (p1, c1);
        matcher_hits_sort (p2, c2);
        for (int j = 0; j < c1 && j < c2; j++)
            CHECK (streq (p1 [j].id, p2 [j].id) && p1 [j].units == p2 [j].units);
    }
    CHECK (compared > 100);
    free (p1);
    free (p2);
    matcher_model_destroy (&a);
    matcher_model_destroy (&b);
}

static void
test_index_and_determinism (void)
{
    matcher_model_t *a = s_model (), *b = s_model ();
    s_corpus (a, 42, 300, 120, false);
    s_corpus (b, 42, 300, 120, true);   //  same data, other insertion order
    matcher_hit_t h1 [20], h2 [20], h3 [20];
    matcher_hit_t *p1 = calloc (200, sizeof *p1), *p2 = calloc (200, sizeof *p2),
                  *p3 = calloc (200, sizeof *p3);
    int compared = 0, nonempty = 0;
    for (int i = 0; i < 120; i++) {
        char id [32];
        snprintf (id, sizeof id, "dem_%04d", i);
        int n1 = matcher_model_top (a, id, h1);
        int n2 = matcher_model_top_scan (a, id, h2);
        int n3 = matcher_model_top (b, id, h3);
        CHECK (n1 == n2 && n1 == n3);
        for (int j = 0; j < n1 && j < n2 && j < n3; j++) {
            CHECK (streq (h1 [j].id, h2 [j].id) && h1 [j].units == h2 [j].units);
            CHECK (streq (h1 [j].id, h3 [j].id) && h1 [j].units == h3 [j].units);
            if (j > 0)
                CHECK (h1 [j - 1].units > h1 [j].units
                       || (h1 [j - 1].units == h1 [j].units
                           && strcmp (h1 [j - 1].id, h1 [j].id) < 0));
            matcher_score_t s;
            matcher_model_score (a, id, h1 [j].id, &s);
            CHECK (s.units == h1 [j].units);
            s_check_sum (&s);
            compared++;
        }
        nonempty += n1 > 0;
    }
    for (int i = 0; i < 300; i += 7) {
        char id [32];
        snprintf (id, sizeof id, "org_s%04d", i);
        int n1 = matcher_model_percolate (a, id, p1, 200);
        int n2 = matcher_model_percolate_scan (a, id, p2, 200);
        int n3 = matcher_model_percolate (b, id, p3, 200);
        CHECK (n1 == n2 && n1 == n3 && n1 < 200);
        matcher_hits_sort (p1, n1); matcher_hits_sort (p2, n2); matcher_hits_sort (p3, n3);
        for (int j = 0; j < n1 && j < n2 && j < n3 && j < 200; j++) {
            CHECK (streq (p1 [j].id, p2 [j].id) && p1 [j].units == p2 [j].units);
            CHECK (streq (p1 [j].id, p3 [j].id));
        }
    }
    CHECK (compared > 500 && nonempty > 100);
    //  entry scores (every demand's top K computed above, corpus unchanged since): the
    //  demands a startup can enter = the brute force with the same entry scores, and include
    //  every demand whose top K holds it
    int entered = 0;
    for (int i = 0; i < 300; i += 7) {
        char id [32];
        snprintf (id, sizeof id, "org_s%04d", i);
        int n1 = matcher_model_percolate_entering (a, id, p1, 200);
        int n2 = matcher_model_percolate_entering_scan (a, id, p2, 200);
        int all = matcher_model_percolate (a, id, p3, 200);
        CHECK (n1 == n2 && n1 <= all);
        matcher_hits_sort (p1, n1); matcher_hits_sort (p2, n2);
        for (int j = 0; j < n1 && j < n2; j++)
            CHECK (streq (p1 [j].id, p2 [j].id) && p1 [j].units == p2 [j].units);
        for (int d = 0; d < 120; d++) {
            char did [32];
            snprintf (did, sizeof did, "dem_%04d", d);
            int n = matcher_model_top (a, did, h1);
            for (int j = 0; j < n; j++)
                if (streq (h1 [j].id, id)) {
                    bool found = false;
                    for (int k = 0; k < n1; k++)
                        found |= streq (p1 [k].id, did);
                    CHECK (found);
                    entered++;
                }
        }
    }
    CHECK (entered > 0);
    //  a startup entering the corpus moves it on: entry scores no longer apply (every
    //  demand it is relevant to is returned again: a weak match is listed too, so that is
    //  at least every demand it is a good match for)
    s_org (a, (org_spec_t) { .id = "org_new", .name = "New", .description = "x" });
    for (int i = 0; i < 300; i += 7) {
        char id [32];
        snprintf (id, sizeof id, "org_s%04d", i);
        int entering = matcher_model_percolate_entering (a, id, p1, 200);
        CHECK (entering == matcher_model_percolate_entering_scan (a, id, p2, 200));
        CHECK (entering >= matcher_model_percolate (a, id, p2, 200));
    }
    //  updating a demand re-indexes it: the old text no longer percolates
    s_demand (a, (demand_spec_t) { .id = "dem_0000", .title = "zzqx unique",
                                   .version = 2 });
    int n = matcher_model_percolate (a, "org_s0000", p1, 200);
    for (int j = 0; j < n && j < 200; j++)
        CHECK (!streq (p1 [j].id, "dem_0000"));
    free (p1); free (p2); free (p3);
    matcher_model_destroy (&a);
    matcher_model_destroy (&b);
}

static void
test_saved_searches (void)
{
    matcher_model_t *model = s_model ();
    Oim__V1__SavedSearch ss = OIM__V1__SAVED_SEARCH__INIT;
    ss.id = "ss_1"; ss.org_id = "org_company"; ss.type = "startup"; ss.q = "battery recycling";
    ss.updated_at = "2026-11-30T00:00:00.000Z";
    ss.version = 1;
    matcher_model_apply_saved_search (model, &ss);
    Oim__V1__SavedSearch ss2 = OIM__V1__SAVED_SEARCH__INIT;
    char *regions [] = { "KR-41" };
    ss2.id = "ss_2"; ss2.org_id = "org_x"; ss2.type = "startup"; ss2.q = "배터리";
    ss2.region = regions; ss2.n_region = 1; ss2.version = 1;
    matcher_model_apply_saved_search (model, &ss2);
    Oim__V1__SavedSearch ss3 = OIM__V1__SAVED_SEARCH__INIT;
    ss3.id = "ss_3"; ss3.org_id = "org_y"; ss3.type = "demand"; ss3.q = "";
    ss3.version = 1;
    matcher_model_apply_saved_search (model, &ss3);
    s_org (model, (org_spec_t) { .id = "org_a", .name = "A",
                                 .description = "Recycled batteries, cheaper." });
    s_org (model, (org_spec_t) { .id = "org_b", .name = "B", .description = "Battery only" });
    s_org (model, (org_spec_t) { .id = "org_c", .name = "C", .region = "KR-41",
                                 .description = "폐배터리재활용 전문" });
    s_org (model, (org_spec_t) { .id = "org_d", .name = "D", .region = "KR-11",
                                 .description = "배터리 진단" });
    s_demand (model, (demand_spec_t) { .id = "dem_1", .title = "anything" });
    const char *ids [8];
    CHECK (matcher_model_saved_hits (model, "org_a", NULL, ids, 8) == 1 && streq (ids [0], "ss_1"));
    CHECK (matcher_model_saved_hits (model, "org_b", NULL, ids, 8) == 0);
    CHECK (matcher_model_saved_hits (model, "org_c", NULL, ids, 8) == 1 && streq (ids [0], "ss_2"));
    CHECK (matcher_model_saved_hits (model, "org_d", NULL, ids, 8) == 0);     //  region filter
    CHECK (matcher_model_saved_hits (model, "dem_1", NULL, ids, 8) == 1 && streq (ids [0], "ss_3"));
    ss.deleted = true; ss.version = 2;
    //  a change logged before the search's own entry does not hit it
    CHECK (matcher_model_saved_hits (model, "org_a", "2026-11-29T23:59:59.999Z", ids, 8) == 0);
    CHECK (matcher_model_saved_hits (model, "org_a", "2026-11-30T00:00:00.001Z", ids, 8) == 1);
    matcher_model_apply_saved_search (model, &ss);
    CHECK (matcher_model_saved_hits (model, "org_a", NULL, ids, 8) == 0);
    matcher_model_destroy (&model);
}

//  A saved search of type "demand" by org with q and an optional industry filter.
static void
s_saved (matcher_model_t *model, const char *id, const char *org, const char *q,
         const char *industry)
{
    Oim__V1__SavedSearch ss = OIM__V1__SAVED_SEARCH__INIT;
    char *industries [] = { (char *) industry };
    ss.id = (char *) id; ss.org_id = (char *) org; ss.type = "demand"; ss.q = (char *) q;
    ss.industry = industries; ss.n_industry = industry? 1: 0;
    ss.updated_at = "2026-11-30T00:00:00.000Z";
    ss.version = 1;
    matcher_model_apply_saved_search (model, &ss);
}

static bool
s_has (const char **ids, int n, const char *id)
{
    for (int i = 0; i < n && i < 16; i++)
        if (streq (ids [i], id))
            return true;
    return false;
}

//  A confidential demand: its teaser score says nothing of the description or the hidden
//  fields; saved searches see it as a teaser unless the owner's; members-only needs active.
static void
test_confidential (void)
{
    matcher_model_t *model = s_model ();
    s_org (model, (org_spec_t) { .id = "org_s1", .name = "Reclaim",
        .description = "zephyrium from cathode scrap", .region = "KR-11", .stage = "seed",
        .tags = { "battery" }, .industries = { "C" } });
    s_org (model, (org_spec_t) { .id = "org_p", .name = "Pending", .status = "pending" });
    s_demand (model, (demand_spec_t) { .id = "dem_c", .title = "Battery recycling line",
        .description = "zephyrium zephyrium cathode", .visibility = "confidential",
        .tags = { "battery" }, .industries = { "C" }, .regions = { "KR-11" },
        .stages = { "seed" } });
    s_demand (model, (demand_spec_t) { .id = "dem_m", .title = "Hydrogen valves",
        .visibility = "members", .tags = { "hydrogen" } });
    matcher_score_t full, teaser;
    CHECK (matcher_model_score (model, "dem_c", "org_s1", &full) == 0);
    CHECK (strstr (full.factors [MATCHER_TEXT].detail, "zephyrium"));
    CHECK (matcher_model_score_teaser (model, "dem_c", "org_s1", &teaser) == 0);
    s_check_sum (&teaser);
    CHECK (teaser.units > 0 && teaser.units != full.units);
    for (int f = 0; f < MATCHER_FACTORS; f++)
        CHECK (!strstr (teaser.factors [f].detail, "zephyrium"));
    CHECK (strstr (teaser.factors [MATCHER_REGION].detail, "shown once connected"));
    CHECK (teaser.factors [MATCHER_INDUSTRY].units == 0 && teaser.factors [MATCHER_REGION].units == 0);
    CHECK (matcher_model_score_teaser (model, "dem_m", "org_s1", &teaser) == -1);
    bool confidential = false, members = false;
    CHECK (matcher_model_demand_visibility (model, "dem_m", &confidential, &members));
    CHECK (!confidential && members);
    s_saved (model, "ss_title", "org_s1", "recycling", NULL);
    s_saved (model, "ss_word", "org_s1", "zephyrium", NULL);
    s_saved (model, "ss_ind", "org_s1", "battery", "C");
    s_saved (model, "ss_own", "org_company", "zephyrium", "C");
    s_saved (model, "ss_members", "org_s1", "hydrogen", NULL);
    s_saved (model, "ss_pending", "org_p", "hydrogen", NULL);
    const char *ids [16];
    int n = matcher_model_saved_hits (model, "dem_c", NULL, ids, 16);
    CHECK (n == 2 && s_has (ids, n, "ss_title") && s_has (ids, n, "ss_own"));
    n = matcher_model_saved_hits (model, "dem_m", NULL, ids, 16);
    CHECK (n == 1 && s_has (ids, n, "ss_members"));
    matcher_model_destroy (&model);
}

static void
test_config (void)
{
    matcher_config_t c;
    matcher_config_default (&c);
    CHECK (matcher_config_weights (&c, "text=2,tags=1,industry=1,region=0,stage=0") == 0);
    CHECK (c.weight [MATCHER_TEXT] > 0.4999 && c.weight [MATCHER_TEXT] < 0.5001);
    CHECK (c.weight [MATCHER_REGION] == 0);
    CHECK (matcher_config_weights (&c, "text=x") == -1);
    CHECK (matcher_config_weights (&c, "colour=1") == -1);
    CHECK (matcher_config_weights (&c, "text=0,tags=0,industry=0,region=0,stage=0") == -1);
}

int
main (int argc, char **argv)
{
    bool verbose = argc > 1 && streq (argv [1], "-v");
    test_factors (verbose);
    test_exclusions ();
    test_korean (verbose);
    test_compaction ();
    test_index_and_determinism ();
    test_scan_config ();
    test_saved_searches ();
    test_confidential ();
    test_config ();
    printf ("test_matcher_model: %s\n", s_failures? "FAILED": "OK");
    return s_failures? 1: 0;
}
