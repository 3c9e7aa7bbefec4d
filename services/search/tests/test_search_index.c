/*  test_search_index.c — unit tests of the index: ranking invariants, facet
    counts against brute force, typos, prefixes, suggestions, phrases, Korean,
    visibility, updates and deletes, cursor paging, snippets, explanations. */
#include "oim_analyze.h"
#include "search_index.h"
#include "oim_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct {
    const char *id;
    search_doc_type_t type;
    const char *title;
    const char *body;
    const char *tags[4];
    const char *industry;
    const char *region;
} s_spec_t;

static int
s_add (search_index_t *idx, const s_spec_t *s, uint64_t version)
{
    size_t ntags = 0;
    while (ntags < 4 && s->tags[ntags])
        ntags++;
    search_doc_t doc = { .id = s->id, .version = version, .type = s->type, .title = s->title,
                         .body = s->body, .tags = s->tags, .tag_count = ntags };
    doc.facets[SEARCH_FACET_INDUSTRY] = &s->industry;
    doc.facet_counts[SEARCH_FACET_INDUSTRY] = s->industry ? 1 : 0;
    doc.facets[SEARCH_FACET_REGION] = &s->region;
    doc.facet_counts[SEARCH_FACET_REGION] = s->region ? 1 : 0;
    return search_index_add (idx, &doc);
}

static search_result_t *
s_search (search_index_t *idx, const char *q)
{
    search_query_t query = { .q = q, .limit = 50 };
    search_result_t *res = NULL;
    search_index_search (idx, &query, &res);
    return res;
}

//  Rank (0-based) of id in the result, -1 when absent.
static int
s_rank (const search_result_t *res, const char *id)
{
    for (size_t i = 0; res && i < res->hit_count; i++)
        if (strcmp (res->hits[i].id, id) == 0)
            return (int) i;
    return -1;
}

static bool
s_valid_utf8 (const char *s)
{
    size_t len = strlen (s), i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate ((const utf8proc_uint8_t *) s + i, (utf8proc_ssize_t) (len - i), &cp);
        if (n <= 0)
            return false;
        i += (size_t) n;
    }
    return true;
}

static void
s_test_ranking (oim_test_t *t)
{
    search_index_t *idx = search_index_new (NULL);
    s_spec_t docs[] = {
        { "a", SEARCH_TYPE_STARTUP, "Battery Recycling Labs", "We build software for logistics.", { "cleantech" }, "C", "KR-11" },
        { "b", SEARCH_TYPE_STARTUP, "Logistics Soft", "Our battery recycling process recovers lithium from used cells.", { "logistics" }, "J", "KR-41" },
        { "c", SEARCH_TYPE_STARTUP, "Solar Grid", "Solar panels with battery storage for homes.", { "energy" }, "D", "KR-11" },
        { "d", SEARCH_TYPE_COMPANY, "Battery Corp", "Makers of things.", { "manufacturing" }, "C", "KR-26" },
        { "e", SEARCH_TYPE_DEMAND, "Need a partner", "Looking for solar installers.", { "solar" }, "D", "KR-11" },
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        CHECK (t, s_add (idx, &docs[i], 1) == 0, "add %zu", i);
    search_result_t *res = s_search (idx, "battery recycling");
    CHECK (t, res && res->total == 4, "total %llu", res ? (unsigned long long) res->total : 0ULL);
    CHECK (t, s_rank (res, "a") == 0, "title match first: a at %d", s_rank (res, "a"));
    CHECK (t, s_rank (res, "b") == 1, "all words in body second: b at %d", s_rank (res, "b"));
    CHECK (t, s_rank (res, "d") > 1 && s_rank (res, "c") > 1, "one-word matches after");
    CHECK (t, res && res->hits[0].matched_words == 2 && res->hits[3].matched_words == 1, "tiers");
    CHECK (t, res && strstr (res->hits[0].title_html, "<em>Battery</em> <em>Recycling</em>"),
           "title highlight %s", res ? res->hits[0].title_html : "");
    CHECK (t, res && strstr (res->hits[1].snippet_html, "<em>battery</em> <em>recycling</em>"),
           "snippet %s", res ? res->hits[1].snippet_html : "");
    CHECK (t, res && res->facet_sizes[SEARCH_FACET_INDUSTRY] == 3, "industry facet values");
    search_result_t *masked = NULL;
    search_query_t mq = { .q = "battery recycling", .facet_mask = 1u << SEARCH_FACET_REGION };
    search_index_search (idx, &mq, &masked);
    CHECK (t, masked && masked->facet_sizes[SEARCH_FACET_INDUSTRY] == 0
              && masked->facet_sizes[SEARCH_FACET_REGION] == 3, "facet mask");
    search_result_destroy (&masked);
    CHECK (t, res && res->took_ms >= 0, "took");
    search_result_destroy (&res);
    CHECK (t, res == NULL, "destroy nulls");
    //  more matched words first, even against a strong single-word match
    res = s_search (idx, "solar battery");
    CHECK (t, s_rank (res, "c") == 0, "c has both: %d", s_rank (res, "c"));
    search_result_destroy (&res);
    //  filters
    const char *kr11 = "KR-11", *lower = "kr-11";
    search_query_t ql = { .q = "battery", .limit = 10 };
    ql.filters[SEARCH_FACET_REGION] = &lower;
    ql.filter_counts[SEARCH_FACET_REGION] = 1;
    search_index_search (idx, &ql, &res);
    CHECK (t, res && res->total == 0, "codes are case-sensitive");
    search_result_destroy (&res);
    search_query_t q = { .q = "battery", .limit = 10 };
    q.filters[SEARCH_FACET_REGION] = &kr11;
    q.filter_counts[SEARCH_FACET_REGION] = 1;
    search_index_search (idx, &q, &res);
    CHECK (t, res && res->total == 2 && s_rank (res, "b") < 0, "filtered");
    bool spelled = false;
    for (size_t i = 0; res && i < res->facet_sizes[SEARCH_FACET_REGION]; i++)
        spelled |= strcmp (res->facets[SEARCH_FACET_REGION][i].value, "KR-11") == 0;
    CHECK (t, spelled, "facet values keep their spelling");
    search_result_destroy (&res);
    const char *demand = "demand";
    search_query_t qt = { .q = "", .limit = 10 };
    qt.filters[SEARCH_FACET_TYPE] = &demand;
    qt.filter_counts[SEARCH_FACET_TYPE] = 1;
    search_index_search (idx, &qt, &res);
    CHECK (t, res && res->total == 1 && s_rank (res, "e") == 0, "browse by type");
    search_result_destroy (&res);
    //  a stopword-only query finds nothing; bad requests
    res = s_search (idx, "the of");
    CHECK (t, res && res->total == 0, "stopwords only");
    search_result_destroy (&res);
    search_query_t bad = { .q = "battery", .limit = 101 };
    CHECK (t, search_index_search (idx, &bad, &res) == -2 && !res, "limit too big");
    bad.limit = 5;
    bad.cursor = "garbage";
    CHECK (t, search_index_search (idx, &bad, &res) == -2 && !res, "bad cursor");
    //  explanations add up to the pure-BM25 score
    search_explain_t ex;
    CHECK (t, search_index_explain (idx, "battery recycling lithium", "b", NULL, &ex) == 0, "explain");
    double sum = 0;
    for (size_t i = 0; i < ex.term_count; i++)
        sum += ex.terms[i].contribution;
    CHECK (t, ex.term_count == 3 && sum > 0 && sum == ex.score, "contributions n=%zu", ex.term_count);
    CHECK (t, ex.term_count > 0 && strcmp (ex.terms[0].word, "battery") == 0, "surface word");
    search_query_t pq = { .q = "battery recycling lithium", .limit = 10, .pure_bm25 = true };
    search_index_search (idx, &pq, &res);
    int rb = s_rank (res, "b");
    CHECK (t, rb >= 0 && res->hits[rb].score > ex.score * 0.999999 && res->hits[rb].score < ex.score * 1.000001,
           "explain == search score");
    search_result_destroy (&res);
    search_explain_free (&ex);
    CHECK (t, search_index_explain (idx, "x", "nope", NULL, &ex) == 1, "explain unknown");
    CHECK (t, search_index_df (idx, "batteri") == 4, "df %u", search_index_df (idx, "batteri"));
    search_index_destroy (&idx);
}

static void
s_test_typo_prefix (oim_test_t *t)
{
    search_index_t *idx = search_index_new (NULL);
    s_spec_t docs[] = {
        { "a", SEARCH_TYPE_STARTUP, "Battery Recycling Labs", "Lithium recovery.", { "cleantech", "battery" }, NULL, NULL },
        { "b", SEARCH_TYPE_STARTUP, "Quantum Computing Hub", "Superconducting qubits.", { "quantum" }, NULL, NULL },
        { "c", SEARCH_TYPE_DEMAND, "Cat food", "Pet nutrition.", { "pets" }, NULL, NULL },
        { "d", SEARCH_TYPE_COMPANY, "Hyundai Batteries", "Cells.", { "battery" }, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        s_add (idx, &docs[i], 1);
    search_result_t *res = s_search (idx, "quantim");             //  7 letters: 1 edit
    CHECK (t, s_rank (res, "b") == 0, "quantim");
    search_result_destroy (&res);
    res = s_search (idx, "qauntum");                               //  a transposition = 2 edits
    CHECK (t, res && res->total == 0, "qauntum needs 2 edits (7 letters)");
    search_result_destroy (&res);
    res = s_search (idx, "superconductng");                        //  ≥ 9 letters: 2 edits
    CHECK (t, s_rank (res, "b") == 0, "superconductng");
    search_result_destroy (&res);
    res = s_search (idx, "suprcondcting");
    CHECK (t, s_rank (res, "b") == 0, "suprcondcting (2 edits)");
    search_result_destroy (&res);
    res = s_search (idx, "cot");                                   //  < 5 letters: exact only
    CHECK (t, res && res->total == 0, "cot");
    search_result_destroy (&res);
    //  prefix as you type
    search_query_t q = { .q = "lith", .limit = 10, .prefix_last = true };
    search_index_search (idx, &q, &res);
    CHECK (t, s_rank (res, "a") == 0, "prefix lith");
    search_result_destroy (&res);
    q.q = "lith ";
    search_index_search (idx, &q, &res);
    CHECK (t, res && res->total == 0, "no prefix after a space");
    search_result_destroy (&res);
    //  suggestions: names (also from a later word) and tags
    search_suggestion_t *s = NULL;
    int n = search_index_suggest (idx, "bat", -1, 10, &s);
    CHECK (t, n == 3, "bat n=%d", n);
    bool tag = false, name = false;
    for (int i = 0; i < n; i++) {
        tag |= s[i].is_tag && strcmp (s[i].text, "battery") == 0 && s[i].count == 2;
        name |= !s[i].is_tag && strcmp (s[i].text, "Battery Recycling Labs") == 0;
    }
    CHECK (t, tag && name, "tag and name");
    search_suggestions_free (&s, (size_t) n);
    n = search_index_suggest (idx, "Recyc", -1, 10, &s);
    CHECK (t, n == 1 && strcmp (s[0].text, "Battery Recycling Labs") == 0, "later word n=%d", n);
    search_suggestions_free (&s, (size_t) n);
    n = search_index_suggest (idx, "bat", SEARCH_TYPE_COMPANY, 10, &s);
    CHECK (t, n == 2, "typed n=%d", n);
    search_suggestions_free (&s, (size_t) n);
    n = search_index_suggest (idx, "", -1, 10, &s);
    CHECK (t, n == 0 && s == NULL, "empty prefix");
    search_index_remove (idx, "a", 2);
    n = search_index_suggest (idx, "recyc", -1, 10, &s);
    CHECK (t, n == 0, "removed doc leaves suggestions n=%d", n);
    search_suggestions_free (&s, (size_t) n);
    search_index_destroy (&idx);
}

static void
s_test_phrase_korean (oim_test_t *t)
{
    search_index_t *idx = search_index_new (NULL);
    s_spec_t docs[] = {
        { "p1", SEARCH_TYPE_STARTUP, "Grid", "Solar battery storage for farms.", { 0 }, NULL, NULL },
        { "p2", SEARCH_TYPE_STARTUP, "Other", "A battery for solar lamps.", { 0 }, NULL, NULL },
        { "k1", SEARCH_TYPE_STARTUP, "이차전지배터리재활용 전문기업", "폐배터리에서 리튬을 회수합니다.", { "배터리" }, NULL, NULL },
        { "k2", SEARCH_TYPE_DEMAND, "배터리재활용 파트너 모집", "전기차 배터리 재활용 기술을 찾습니다.", { 0 }, NULL, NULL },
        { "k3", SEARCH_TYPE_STARTUP, "로터리 엔진", "엔진 부품", { 0 }, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        s_add (idx, &docs[i], 1);
    search_result_t *res = s_search (idx, "\"solar battery\"");
    CHECK (t, res && res->total == 1 && s_rank (res, "p1") == 0, "phrase");
    search_result_destroy (&res);
    res = s_search (idx, "\"battery solar\"");
    CHECK (t, res && res->total == 0, "phrase order");
    search_result_destroy (&res);
    res = s_search (idx, "lamps \"solar battery\"");
    CHECK (t, res && res->total == 1, "phrase is required");
    search_result_destroy (&res);
    res = s_search (idx, "배터리");
    CHECK (t, s_rank (res, "k1") >= 0 && s_rank (res, "k2") >= 0 && s_rank (res, "k3") < 0,
           "배터리 inside compounds, not 로터리");
    search_result_destroy (&res);
    res = s_search (idx, "배터리 재활용");
    CHECK (t, res && res->total == 2 && res->hits[0].matched_words == 2 && res->hits[1].matched_words == 2,
           "배터리 재활용 finds 배터리재활용");
    CHECK (t, res && res->hit_count && s_valid_utf8 (res->hits[0].snippet_html)
              && s_valid_utf8 (res->hits[0].title_html) && strstr (res->hits[0].title_html, "<em>"),
           "valid utf-8 highlights %s", res && res->hit_count ? res->hits[0].title_html : "");
    search_result_destroy (&res);
    res = s_search (idx, "배터리를");
    CHECK (t, res && res->total == 2, "particle 를");
    search_result_destroy (&res);
    //  decomposed query
    utf8proc_uint8_t *nfd = NULL;
    utf8proc_map ((const utf8proc_uint8_t *) "재활용", (utf8proc_ssize_t) strlen ("재활용"), &nfd, UTF8PROC_DECOMPOSE);
    res = s_search (idx, (const char *) nfd);
    CHECK (t, res && res->total == 2, "NFD query");
    search_result_destroy (&res);
    free (nfd);
    search_index_destroy (&idx);
}

static void
s_test_visibility (oim_test_t *t)
{
    search_index_t *idx = search_index_new (NULL);
    const char *tags[] = { "hydrogen" };
    const char *allowed[] = { "org_friend" };
    const char *coll[] = { "poc" };
    search_doc_t doc = { .id = "dem_1", .version = 1, .type = SEARCH_TYPE_DEMAND,
                         .title = "Fuel cell partner wanted", .body = "Secret quantum widget for our plant in Ulsan.",
                         .tags = tags, .tag_count = 1, .confidential = true, .owner_org = "org_owner",
                         .allowed_orgs = allowed, .allowed_count = 1 };
    doc.facets[SEARCH_FACET_COLLABORATION] = coll;
    doc.facet_counts[SEARCH_FACET_COLLABORATION] = 1;
    CHECK (t, search_index_add (idx, &doc) == 0, "add confidential");
    s_spec_t pub = { "dem_2", SEARCH_TYPE_DEMAND, "Widget maker", "Public widget demand.", { 0 }, NULL, NULL };
    s_add (idx, &pub, 1);
    struct { const char *org; bool agency; bool sees; } viewers[] = {
        { NULL, false, false }, { "org_other", false, false }, { "org_owner", false, true },
        { "org_friend", false, true }, { "org_agency", true, true },
    };
    for (size_t v = 0; v < sizeof viewers / sizeof viewers[0]; v++) {
        search_query_t q = { .q = "quantum widget", .limit = 10, .viewer = { viewers[v].org, viewers[v].agency } };
        search_result_t *res = NULL;
        search_index_search (idx, &q, &res);
        bool hit = s_rank (res, "dem_1") >= 0;
        CHECK (t, hit == viewers[v].sees, "viewer %zu body match %d", v, hit);
        size_t poc = res->facet_sizes[SEARCH_FACET_COLLABORATION];
        CHECK (t, (poc == 1) == viewers[v].sees, "viewer %zu facet %zu", v, poc);
        CHECK (t, res->total == (viewers[v].sees ? 2u : 1u), "viewer %zu total", v);
        search_result_destroy (&res);
        //  the teaser is searchable by all, the body is never shown to outsiders
        q.q = "fuel";
        search_index_search (idx, &q, &res);
        CHECK (t, s_rank (res, "dem_1") == 0, "teaser for viewer %zu", v);
        bool leaked = res->hit_count && (strstr (res->hits[0].snippet_html, "Secret")
                                         || strstr (res->hits[0].snippet_html, "Ulsan"));
        CHECK (t, leaked == viewers[v].sees, "snippet for viewer %zu: %s", v,
               res->hit_count ? res->hits[0].snippet_html : "");
        search_result_destroy (&res);
        search_explain_t ex;
        search_viewer_t viewer = { viewers[v].org, viewers[v].agency };
        search_index_explain (idx, "secret", "dem_1", &viewer, &ex);
        CHECK (t, (ex.term_count > 0) == viewers[v].sees, "explain for viewer %zu", v);
        search_explain_free (&ex);
    }
    search_suggestion_t *s = NULL;
    int n = search_index_suggest (idx, "secret", -1, 5, &s);
    CHECK (t, n == 0, "no suggestion from a confidential body");
    search_index_destroy (&idx);
}

static void
s_test_updates (oim_test_t *t)
{
    search_index_t *idx = search_index_new (NULL);
    s_spec_t v1 = { "x", SEARCH_TYPE_STARTUP, "Alpha robotics", "Warehouse robots.", { 0 }, "C", NULL };
    s_spec_t v2 = { "x", SEARCH_TYPE_STARTUP, "Bravo drones", "Delivery drones.", { 0 }, "H", NULL };
    CHECK (t, s_add (idx, &v1, 1) == 0, "v1");
    CHECK (t, s_add (idx, &v1, 1) == 1, "same version ignored");
    CHECK (t, s_add (idx, &v2, 2) == 0, "v2");
    CHECK (t, s_add (idx, &v1, 1) == 1, "late v1 ignored");
    CHECK (t, search_index_version (idx, "x") == 2, "version");
    search_result_t *res = s_search (idx, "alpha");
    CHECK (t, res && res->total == 0, "old text gone");
    search_result_destroy (&res);
    res = s_search (idx, "drones");
    CHECK (t, res && res->total == 1 && res->facet_sizes[SEARCH_FACET_INDUSTRY] == 1
              && strcmp (res->facets[SEARCH_FACET_INDUSTRY][0].value, "H") == 0, "new text + facets");
    search_result_destroy (&res);
    CHECK (t, search_index_remove (idx, "x", 1) == 1, "stale delete");
    CHECK (t, search_index_remove (idx, "x", 3) == 0, "delete");
    CHECK (t, search_index_remove (idx, "x", 3) == 1, "delete twice");
    CHECK (t, s_add (idx, &v2, 3) == 1, "add after delete at same version ignored");
    CHECK (t, search_index_version (idx, "x") == 0, "deleted version");
    CHECK (t, search_index_remove (idx, "never", 5) == 1, "unknown delete");
    CHECK (t, s_add (idx, &(s_spec_t) { "never", SEARCH_TYPE_STARTUP, "Never", NULL, { 0 }, NULL, NULL }, 4) == 1,
           "older than remembered delete");
    res = s_search (idx, "drones");
    CHECK (t, res && res->total == 0, "deleted");
    search_result_destroy (&res);
    CHECK (t, s_add (idx, &v1, 4) == 0, "re-add");
    search_doc_t bad = { .id = NULL, .title = "x" };
    CHECK (t, search_index_add (idx, &bad) == -1, "no id");
    search_stats_t st;
    search_index_stats (idx, &st);
    CHECK (t, st.docs_live == 1 && st.docs_dead == 2, "stats live=%llu dead=%llu",
           (unsigned long long) st.docs_live, (unsigned long long) st.docs_dead);
    CHECK (t, search_index_compact (idx) == 0, "compact");
    search_index_stats (idx, &st);
    CHECK (t, st.docs_live == 1 && st.docs_dead == 0 && st.generation == 1, "compacted");
    res = s_search (idx, "robots");
    CHECK (t, res && res->total == 1 && strcmp (res->hits[0].id, "x") == 0, "found after compaction");
    search_result_destroy (&res);
    CHECK (t, search_index_df (idx, "drone") == 0, "postings dropped");
    search_index_destroy (&idx);
}

//  A query of the generated corpus (limit 10, facets up to 100 values),
//  filtered to region KR-41 when asked.
static search_result_t *
s_search_region (search_index_t *idx, const char *text, bool kr41, bool snippets)
{
    search_query_t q = { .q = text, .limit = 10, .no_snippets = !snippets, .facet_limit = 100 };
    const char *r = "KR-41";
    if (kr41) {
        q.filters[SEARCH_FACET_REGION] = &r;
        q.filter_counts[SEARCH_FACET_REGION] = 1;
    }
    search_result_t *res = NULL;
    search_index_search (idx, &q, &res);
    return res;
}

//  True when each industry facet value of res is one of names[0..4] with the
//  count expected for it.
static bool
s_industry_counts_ok (const search_result_t *res, const char *const *names, const unsigned *expected)
{
    bool ok = true;
    for (size_t i = 0; res && i < res->facet_sizes[SEARCH_FACET_INDUSTRY]; i++) {
        const search_facet_value_t *fv = &res->facets[SEARCH_FACET_INDUSTRY][i];
        int k = 0;
        while (k < 5 && strcmp (fv->value, names[k]))
            k++;
        ok &= k < 5 && fv->count == expected[k];
    }
    return ok;
}

//  Pages through q (its limit a page) with cursors; seen[d] marks doc "<c>d"
//  (n docs). Returns the total, or -1 when a page repeats a hit, leaves one
//  out or is out of order.
static long
s_page_all (search_index_t *idx, search_query_t q, bool *seen, size_t n)
{
    memset (seen, 0, n * sizeof *seen);
    uint64_t count = 0, total = 0;
    bool ok = true;
    double last_score = 1e300;
    unsigned last_tier = ~0u;
    char *cursor = NULL;
    size_t pages = 0;
    do {
        search_result_t *res = NULL;
        q.cursor = cursor;
        if (search_index_search (idx, &q, &res))
            break;
        total = res->total;
        for (size_t i = 0; i < res->hit_count; i++) {
            const search_hit_t *h = &res->hits[i];
            size_t d = (size_t) atoi (h->id + 1);
            ok &= d < n && !seen[d];
            seen[d < n ? d : 0] = true;
            ok &= h->matched_words < last_tier || (h->matched_words == last_tier && h->score <= last_score);
            last_tier = h->matched_words;
            last_score = h->score;
            count++;
        }
        free (cursor);
        cursor = res->next_cursor ? strdup (res->next_cursor) : NULL;
        search_result_destroy (&res);
    } while (cursor && ++pages <= n);
    free (cursor);                      //  (set only when the pages never ended)
    return ok && count == total ? (long) total : -1;
}

//  Generated corpus: facet counts and totals against brute force, and paging.
static void
s_test_generated (oim_test_t *t)
{
    static const char *words[] = { "lidar", "sensor", "fusion", "robot", "battery", "grid", "vision",
                                   "cloud", "edge", "chip", "drone", "wafer", "보안", "배터리", "물류" };
    static const char *industries[] = { "C", "J", "D", "H", "M" };
    static const char *regions[] = { "KR-11", "KR-41", "KR-26" };
    enum { N = 3000, NW = sizeof words / sizeof words[0] };
    search_index_t *idx = search_index_new (NULL);
    oim_analyzer_t *an = oim_analyzer_new (NULL);
    oim_tokens_t *toks = oim_tokens_new ();
    static bool has[N][NW];
    static int ind[N], reg[N], tag[N], xtag[N];
    static bool conf[N];
    srand (7);
    for (int d = 0; d < N; d++) {
        char title[128], body[512], id[32];
        int tw = rand () % NW;
        snprintf (title, sizeof title, "%s co %d", words[tw], d);
        body[0] = 0;
        int nb = 3 + rand () % 10;
        for (int k = 0; k < nb; k++) {
            strcat (body, words[rand () % NW]);
            strcat (body, " ");
        }
        ind[d] = rand () % 5;
        reg[d] = rand () % 3;
        tag[d] = rand () % NW;
        conf[d] = rand () % 10 == 0;
        snprintf (id, sizeof id, "g%d", d);
        char xt[16];
        xtag[d] = rand () % 400;            //  more values than get bitsets
        snprintf (xt, sizeof xt, "x%d", xtag[d]);
        const char *tagv[2] = { words[tag[d]], xt };
        search_doc_t doc = { .id = id, .version = 1, .type = SEARCH_TYPE_DEMAND, .title = title, .body = body,
                             .tags = tagv, .tag_count = 2, .confidential = conf[d], .owner_org = "org_o" };
        doc.facets[SEARCH_FACET_INDUSTRY] = &industries[ind[d]];
        doc.facet_counts[SEARCH_FACET_INDUSTRY] = 1;
        doc.facets[SEARCH_FACET_REGION] = &regions[reg[d]];
        doc.facet_counts[SEARCH_FACET_REGION] = 1;
        search_index_add (idx, &doc);
        //  brute force: what an outsider can match (title + tags, + body when public)
        char visible[800];
        snprintf (visible, sizeof visible, "%s %s %s", title, tagv[0], conf[d] ? "" : body);
        oim_analyze (an, visible, strlen (visible), 0, toks);
        for (int w = 0; w < NW; w++) {
            oim_analyze (an, words[w], strlen (words[w]), 0, toks);
            char term[80];
            snprintf (term, sizeof term, "%s", oim_tokens_get (toks, 0)->term);
            oim_analyze (an, visible, strlen (visible), 0, toks);
            has[d][w] = false;
            for (size_t i = 0; i < oim_tokens_size (toks); i++)
                has[d][w] |= strcmp (oim_tokens_get (toks, i)->term, term) == 0;
        }
    }
    //  delete some, update some (brute force follows)
    for (int d = 0; d < N; d += 17) {
        char id[32];
        snprintf (id, sizeof id, "g%d", d);
        search_index_remove (idx, id, 2);
    }
    for (int w = 0; w < NW; w++) {
        search_result_t *res = s_search_region (idx, words[w], w % 3 == 0, true);
        unsigned exp_total = 0, exp_ind[5] = { 0 }, exp_x[400] = { 0 };
        //  an outsider's view of a confidential doc is its teaser: its region does not
        //  filter and its industry does not count (its tags do)
        for (int d = 0; d < N; d++)
            if (d % 17 && has[d][w] && (w % 3 || (reg[d] == 1 && !conf[d]))) {
                exp_total++;
                exp_ind[ind[d]] += !conf[d];
                exp_x[xtag[d]]++;
            }
        bool xtags_ok = true;
        size_t xseen = 0;
        for (size_t i = 0; res && i < res->facet_sizes[SEARCH_FACET_TAG]; i++) {
            const search_facet_value_t *fv = &res->facets[SEARCH_FACET_TAG][i];
            if (fv->value[0] == 'x') {
                xtags_ok &= fv->count == exp_x[atoi (fv->value + 1)];
                xseen++;
            }
        }
        CHECK (t, xtags_ok && xseen > 0, "tag facets (dense and sparse values) of %s", words[w]);
        CHECK (t, res && res->total == exp_total, "word %s total %llu vs %u", words[w],
               res ? (unsigned long long) res->total : 0ULL, exp_total);
        bool facets_ok = s_industry_counts_ok (res, industries, exp_ind);
        unsigned nonzero = 0;
        for (int k = 0; k < 5; k++)
            nonzero += exp_ind[k] > 0;
        CHECK (t, facets_ok && res->facet_sizes[SEARCH_FACET_INDUSTRY] == nonzero, "facets of %s", words[w]);
        search_result_destroy (&res);
    }
    //  two words (plain ones take the all-words-first path): the total counts
    //  either word, the docs with both come first, facets cover the whole match
    for (int w = 0; w + 1 < NW; w++) {
        char text[64];
        snprintf (text, sizeof text, "%s %s", words[w], words[w + 1]);
        search_result_t *res = s_search_region (idx, text, w % 4 == 1, false);
        unsigned exp_total = 0, exp_both = 0, exp_ind[5] = { 0 };
        for (int d = 0; d < N; d++)
            if (d % 17 && (has[d][w] || has[d][w + 1]) && (w % 4 != 1 || (reg[d] == 1 && !conf[d]))) {
                exp_total++;
                exp_both += has[d][w] && has[d][w + 1];
                exp_ind[ind[d]] += !conf[d];
            }
        CHECK (t, res && res->total == exp_total, "'%s' total %llu vs %u", text,
               res ? (unsigned long long) res->total : 0ULL, exp_total);
        bool both_first = res != NULL;
        for (size_t i = 0; res && i < res->hit_count; i++) {
            int d = atoi (res->hits[i].id + 1);
            bool both = has[d][w] && has[d][w + 1];
            both_first &= i < exp_both ? both && res->hits[i].matched_words == 2 : !both;
        }
        CHECK (t, both_first, "'%s': the %u docs with both words first", text, exp_both);
        CHECK (t, s_industry_counts_ok (res, industries, exp_ind), "'%s' industry facets", text);
        search_result_destroy (&res);
    }
    //  filters on values with and without bitsets
    for (int x = 0; x < 400; x += 57) {
        char xt[16];
        snprintf (xt, sizeof xt, "x%d", x);
        const char *xv = xt;
        search_query_t q = { .q = "", .limit = 5, .no_snippets = true };
        q.filters[SEARCH_FACET_TAG] = &xv;
        q.filter_counts[SEARCH_FACET_TAG] = 1;
        search_result_t *res = NULL;
        search_index_search (idx, &q, &res);
        unsigned expected = 0;
        for (int d = 0; d < N; d++)
            expected += d % 17 && xtag[d] == x;
        CHECK (t, res && res->total == expected, "filter tag %s: %llu vs %u", xt,
               res ? (unsigned long long) res->total : 0ULL, expected);
        search_result_destroy (&res);
    }
    //  cursor paging returns each hit exactly once, in order
    for (int w = 0; w < 3; w++) {
        search_query_t q = { .q = w == 0 ? "" : w == 1 ? "battery lidar" : "배터리", .limit = 7, .no_snippets = true };
        static bool seen[N];
        long total = s_page_all (idx, q, seen, N);
        CHECK (t, total > 0, "paging %d: every hit once, in order (%ld)", w, total);
    }
    //  compaction renumbers docs: value bitsets and counts follow
    search_query_t before = { .q = "battery", .limit = 5, .facet_limit = 100 };
    search_result_t *r1 = NULL, *r2 = NULL;
    search_index_search (idx, &before, &r1);
    CHECK (t, search_index_compact (idx) == 0, "compact generated");
    search_index_search (idx, &before, &r2);
    bool same = r1 && r2 && r1->total == r2->total;
    for (int f = 0; same && f < SEARCH_FACET_COUNT; f++) {
        same &= r1->facet_sizes[f] == r2->facet_sizes[f];
        for (size_t i = 0; same && i < r1->facet_sizes[f]; i++)
            same &= r1->facets[f][i].count == r2->facets[f][i].count;
    }
    CHECK (t, same, "facets after compaction");
    search_result_destroy (&r1);
    search_result_destroy (&r2);
    search_stats_t st;
    search_index_stats (idx, &st);
    CHECK (t, st.index_bytes / st.docs_live < 2048, "index bytes per doc %llu",
           (unsigned long long) (st.index_bytes / st.docs_live));
    oim_tokens_destroy (&toks);
    oim_analyzer_destroy (&an);
    search_index_destroy (&idx);
}

//  Queries whose lists are read window by window (more docs than one window):
//  totals against brute force, paging across windows, confidential teasers.
static void
s_test_windows (oim_test_t *t)
{
    static const char *titles[] = { "fusion", "fusing", "fused", "furnace", "grid" };
    enum { N = 40000, NT = sizeof titles / sizeof titles[0] };
    search_index_t *idx = search_index_new (NULL);
    static bool fus[N], grid[N], seen[N];
    srand (11);
    for (int d = 0; d < N; d++) {
        char title[64], id[32];
        int tw = rand () % NT;
        bool conf = d % 7 == 0, body_fusion = rand () % 4 == 0;
        snprintf (title, sizeof title, "%s unit %d", titles[tw], d);
        snprintf (id, sizeof id, "w%d", d);
        const char *tag = rand () % 3 ? "grid" : "wafer";
        search_doc_t doc = { .id = id, .version = 1, .type = SEARCH_TYPE_DEMAND, .title = title,
                             .body = body_fusion ? "a fusion reactor" : "a plain plant",
                             .tags = &tag, .tag_count = 1, .confidential = conf, .owner_org = "org_o" };
        search_index_add (idx, &doc);
        fus[d] = tw < 3 || (body_fusion && !conf);      //  what an outsider matches
        grid[d] = tw == 4 || tag[0] == 'g';
    }
    for (int d = 0; d < N; d += 13) {
        char id[32];
        snprintf (id, sizeof id, "w%d", d);
        search_index_remove (idx, id, 2);
        fus[d] = grid[d] = false;
    }
    search_index_settle (idx);
    long exp_fus = 0, exp_either = 0;
    for (int d = 0; d < N; d++) {
        exp_fus += fus[d];
        exp_either += fus[d] || grid[d];
    }
    search_query_t prefix = { .q = "fus", .prefix_last = true, .limit = 100, .no_snippets = true };
    long got = s_page_all (idx, prefix, seen, N);
    bool same = got == exp_fus;
    for (int d = 0; d < N; d++)
        same &= seen[d] == fus[d];
    CHECK (t, same, "prefix 'fus' over windows: %ld pages in order vs %ld by brute force", got, exp_fus);
    search_query_t untiered = { .q = "fusion fused grid", .pure_bm25 = true, .limit = 100, .no_snippets = true };
    got = s_page_all (idx, untiered, seen, N);
    CHECK (t, got == exp_either, "untiered 'fusion fused grid': %ld vs %ld", got, exp_either);
    search_index_destroy (&idx);
}

//  Random and hostile query strings: never crash, always a valid answer.
static void
s_test_hostile (oim_test_t *t)
{
    search_index_t *idx = search_index_new (NULL);
    s_spec_t docs[] = {
        { "h1", SEARCH_TYPE_STARTUP, "배터리 \"재활용\" <b>Lab</b> & co", "Ünïcödé café 배터리재활용 🚀 \"quoted\" text", { "ai" }, NULL, NULL },
        { "h2", SEARCH_TYPE_DEMAND, "Quantum sensing", "Superconducting qubit readout.", { 0 }, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        s_add (idx, &docs[i], 1);
    static const char *pieces[] = { "\"", "배터", "리", "\xff", "\xe1\x84", "quant", "um ", " ", "🚀", "<",
                                    "&", "café", "e\xcc\x81", "the", "qubit", "\"\"", "\t" };
    srand (11);
    bool ok = true, valid = true;
    for (int round = 0; round < 3000; round++) {
        char q[256] = "";
        int n = rand () % 12;
        for (int k = 0; k < n; k++)
            strncat (q, pieces[rand () % (sizeof pieces / sizeof pieces[0])], sizeof q - strlen (q) - 1);
        search_query_t query = { .q = q, .limit = 1 + (size_t) (rand () % 5), .prefix_last = round % 2 };
        search_result_t *res = NULL;
        int rc = search_index_search (idx, &query, &res);
        ok &= rc == 0 && res != NULL;
        for (size_t i = 0; res && i < res->hit_count; i++)
            valid &= s_valid_utf8 (res->hits[i].snippet_html) && s_valid_utf8 (res->hits[i].title_html)
                     && !strstr (res->hits[i].title_html, "<b>");
        search_result_destroy (&res);
        search_suggestion_t *sg = NULL;
        int ns = search_index_suggest (idx, q, -1, 5, &sg);
        ok &= ns >= 0;
        search_suggestions_free (&sg, ns > 0 ? (size_t) ns : 0);
    }
    CHECK (t, ok, "hostile queries answered");
    CHECK (t, valid, "snippets valid UTF-8 and escaped");
    search_index_destroy (&idx);
}

//  Facet values with parents (industry division -> section): a section counts
//  each doc of its divisions once and a filter on it finds them.
static void
s_test_parents (oim_test_t *t)
{
    search_index_t *idx = search_index_new (NULL);
    static const char *codes[][2] = { { "C26", NULL }, { "C28", NULL }, { "D35", NULL },
                                      { "C26", "C28" }, { "C", NULL } };
    for (int d = 0; d < 5; d++) {
        const char *parents[2] = { NULL, NULL };
        size_t n = codes[d][1] ? 2 : 1;
        for (size_t i = 0; i < n; i++) {
            static char sections[5][2][2];
            sections[d][i][0] = codes[d][i][0];
            parents[i] = strlen (codes[d][i]) > 1 ? sections[d][i] : NULL;
        }
        char id[8], title[32];
        snprintf (id, sizeof id, "p%d", d);
        snprintf (title, sizeof title, "maker %d", d);
        search_doc_t doc = { .id = id, .version = 1, .type = SEARCH_TYPE_STARTUP, .title = title };
        doc.facets[SEARCH_FACET_INDUSTRY] = codes[d];
        doc.facet_counts[SEARCH_FACET_INDUSTRY] = n;
        doc.facet_parents[SEARCH_FACET_INDUSTRY] = parents;
        search_index_add (idx, &doc);
    }
    search_query_t q = { .q = "maker", .limit = 10, .no_snippets = true };
    search_result_t *res = NULL;
    search_index_search (idx, &q, &res);
    unsigned c = 0, c26 = 0, c28 = 0, d = 0;
    for (size_t i = 0; res && i < res->facet_sizes[SEARCH_FACET_INDUSTRY]; i++) {
        const search_facet_value_t *fv = &res->facets[SEARCH_FACET_INDUSTRY][i];
        c = strcmp (fv->value, "C") ? c : fv->count;
        c26 = strcmp (fv->value, "C26") ? c26 : fv->count;
        c28 = strcmp (fv->value, "C28") ? c28 : fv->count;
        d = strcmp (fv->value, "D") ? d : fv->count;
    }
    CHECK (t, c == 4 && c26 == 2 && c28 == 2 && d == 1, "section counts C %u (4) C26 %u C28 %u D %u", c,
           c26, c28, d);
    search_result_destroy (&res);
    static const char *filters[] = { "C", "C26", "D" };
    static const unsigned expected[] = { 4, 2, 1 };
    for (int k = 0; k < 3; k++) {
        search_query_t fq = { .q = "maker", .limit = 10, .no_facets = true };
        fq.filters[SEARCH_FACET_INDUSTRY] = &filters[k];
        fq.filter_counts[SEARCH_FACET_INDUSTRY] = 1;
        search_index_search (idx, &fq, &res);
        CHECK (t, res && res->total == expected[k], "industry=%s: %llu docs", filters[k],
               res ? (unsigned long long) res->total : 0ULL);
        search_result_destroy (&res);
    }
    search_index_remove (idx, "p0", 2);
    search_query_t fq = { .q = "", .limit = 10, .no_facets = true };
    fq.filters[SEARCH_FACET_INDUSTRY] = &filters[0];
    fq.filter_counts[SEARCH_FACET_INDUSTRY] = 1;
    search_index_search (idx, &fq, &res);
    CHECK (t, res && res->total == 3, "industry=C after a delete: %llu", res ? (unsigned long long) res->total : 0ULL);
    search_result_destroy (&res);
    search_index_destroy (&idx);
}

//  ---------------------------------------------------------------- threads

#define S_THREAD_QUERIES 12
static const char *s_thread_queries[S_THREAD_QUERIES] = {
    "battery recycling", "\"battery recycling\"", "batteryy", "recyclingg plant", "lid",
    "배터리", "배터리재활용", "2차전지 배터리", "sensor fusion robot", "wafer", "드론 물류", ""
};

typedef struct {
    search_index_t *idx;
    char **expected;
    atomic_int mismatches;
} s_threads_t;

//  Everything a query answers, as one string (hits, scores, snippets, facets, total).
static char *
s_fingerprint (search_index_t *idx, int q)
{
    search_query_t query = { .q = s_thread_queries[q], .limit = 10, .prefix_last = q == 4 };
    search_result_t *res = NULL;
    size_t size = 1 << 16, len = 0;
    char *out = calloc (1, size);
    if (search_index_search (idx, &query, &res) == 0) {
        len += (size_t) snprintf (out + len, size - len, "%llu|", (unsigned long long) res->total);
        for (size_t i = 0; i < res->hit_count && len < size; i++)
            len += (size_t) snprintf (out + len, size - len, "%s %.9f %s %s|", res->hits[i].id,
                                      res->hits[i].score, res->hits[i].title_html, res->hits[i].snippet_html);
        for (int f = 0; f < SEARCH_FACET_COUNT && len < size; f++)
            for (size_t i = 0; i < res->facet_sizes[f] && len < size; i++)
                len += (size_t) snprintf (out + len, size - len, "%s=%u,", res->facets[f][i].value,
                                          (unsigned) res->facets[f][i].count);
    }
    search_result_destroy (&res);
    search_suggestion_t *sg = NULL;
    int ns = search_index_suggest (idx, *s_thread_queries[q] ? s_thread_queries[q] : "b", -1, 5, &sg);
    for (int i = 0; i < ns && len < size; i++)
        len += (size_t) snprintf (out + len, size - len, "~%s", sg[i].text);
    search_suggestions_free (&sg, ns > 0 ? (size_t) ns : 0);
    return out;
}

static void *
s_query_thread (void *arg)
{
    s_threads_t *ctx = arg;
    for (int round = 0; round < 40; round++)
        for (int q = 0; q < S_THREAD_QUERIES; q++) {
            char *got = s_fingerprint (ctx->idx, q);
            if (strcmp (got, ctx->expected[q]))
                atomic_fetch_add (&ctx->mismatches, 1);
            free (got);
        }
    return NULL;
}

//  Queries on several threads at once (as oim-search runs them) answer exactly
//  what one thread answers: the query path only reads the index.
static void
s_test_threads (oim_test_t *t)
{
    static const char *words[] = { "battery", "recycling", "plant", "lidar", "sensor", "fusion",
                                   "robot", "wafer", "배터리재활용", "배터리", "2차전지", "드론", "물류" };
    enum { N = 2000, NW = sizeof words / sizeof words[0] };
    search_index_t *idx = search_index_new (NULL);
    srand (5);
    for (int d = 0; d < N; d++) {
        char title[96], body[512], id[32], uniq[32];
        snprintf (uniq, sizeof uniq, "term%dx", d);     //  > 1024 new terms: sorted tails matter
        snprintf (title, sizeof title, "%s %s %d", words[rand () % NW], uniq, d);
        body[0] = 0;
        for (int k = 0; k < 8; k++) {
            strcat (body, words[rand () % NW]);
            strcat (body, k % 3 ? " " : " and ");
        }
        snprintf (id, sizeof id, "t%d", d);
        s_spec_t spec = { id, (search_doc_type_t) (d % 3), title, body, { words[d % NW] }, "C", "KR-11" };
        s_add (idx, &spec, 1);
    }
    search_index_settle (idx);
    s_threads_t ctx = { .idx = idx };
    ctx.expected = calloc (S_THREAD_QUERIES, sizeof *ctx.expected);
    for (int q = 0; q < S_THREAD_QUERIES; q++)
        ctx.expected[q] = s_fingerprint (idx, q);
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        pthread_create (&threads[i], NULL, s_query_thread, &ctx);
    for (int i = 0; i < 4; i++)
        pthread_join (threads[i], NULL);
    CHECK (t, atomic_load (&ctx.mismatches) == 0, "%d answers differ on 4 threads", atomic_load (&ctx.mismatches));
    CHECK (t, strstr (ctx.expected[1], "<em>") != NULL, "the phrase query found and highlighted");
    for (int q = 0; q < S_THREAD_QUERIES; q++)
        free (ctx.expected[q]);
    free (ctx.expected);
    search_index_destroy (&idx);
}


//  Long queries (32 words or more) and `like`: evidence terms only, log query tf,
//  the like doc excluded, a confidential body used only for who may read it.
static void
s_test_long (oim_test_t *t)
{
    search_index_t *idx = search_index_new (NULL);
    s_spec_t docs[] = {
        { "gen", SEARCH_TYPE_STARTUP, "SysPlat", "Innovative system platform: system development, "
          "system solutions and technology system services in 2026.", { "platform" }, NULL, NULL },
        { "opt", SEARCH_TYPE_STARTUP, "Beamfix", "Adaptive optics and wavefront sensing for laser "
          "beams.", { "optics" }, NULL, NULL },
        { "farm", SEARCH_TYPE_STARTUP, "Compostly", "Organic fertiliser from food waste.", { "agtech" },
          NULL, NULL },
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        CHECK (t, s_add (idx, &docs[i], 1) == 0, "add %zu", i);
    const char *tags[] = { "soil" };
    search_doc_t secret = { .id = "dem", .version = 1, .type = SEARCH_TYPE_DEMAND,
                            .title = "Soil programme", .body = "secretword fertiliser food waste",
                            .tags = tags, .tag_count = 1, .confidential = true,
                            .owner_org = "owner" };
    CHECK (t, search_index_add (idx, &secret) == 0, "add the confidential demand");
    const char *pasted =
        "Adaptive optics for laser wavefront correction. The system shall be an innovative system "
        "platform, a technology system and a system solution; system development of the system "
        "in 2026, phase 1 and phase 2, a system for 3 markets, with the system integrated into the "
        "platform system and system services. A wavefront sensor for the laser beam.";
    search_result_t *res = s_search (idx, pasted);
    CHECK (t, res && res->hit_count == 1 && s_rank (res, "opt") == 0,
           "generic words and numbers are no evidence: %zu hits", res ? res->hit_count : 0);
    search_result_destroy (&res);
    search_explain_t ex;
    CHECK (t, search_index_explain (idx, pasted, "opt", NULL, &ex) == 0 && ex.term_count == 5,
           "explain a long query: %zu terms", ex.term_count);
    for (size_t i = 0; i < ex.term_count; i++)
        CHECK (t, strcmp (ex.terms[i].term, "system") && ex.terms[i].word[0] != '2', "term %s",
               ex.terms[i].term);
    search_explain_free (&ex);
    //  like: the owner reads the body, an outsider the teaser only; unknown ids are 1
    search_query_t q = { .like = "dem", .limit = 10, .viewer = { .org_id = "owner" } };
    CHECK (t, search_index_search (idx, &q, &res) == 0 && res && res->hit_count == 1
              && s_rank (res, "farm") == 0, "like, owner");
    search_result_destroy (&res);
    q.viewer.org_id = "someone";
    CHECK (t, search_index_search (idx, &q, &res) == 0 && res && res->hit_count == 0, "like, outsider");
    search_result_destroy (&res);
    q.like = "opt";
    CHECK (t, search_index_search (idx, &q, &res) == 0 && res && s_rank (res, "opt") < 0,
           "the like doc is no hit");
    search_result_destroy (&res);
    q.like = "nope";
    CHECK (t, search_index_search (idx, &q, &res) == 1 && !res, "like unknown");
    search_index_destroy (&idx);
}

int
main (void)
{
    oim_test_t t = { 0 };
    s_test_ranking (&t);
    s_test_typo_prefix (&t);
    s_test_phrase_korean (&t);
    s_test_visibility (&t);
    s_test_updates (&t);
    s_test_generated (&t);
    s_test_hostile (&t);
    s_test_threads (&t);
    s_test_parents (&t);
    s_test_windows (&t);
    s_test_long (&t);
    return oim_test_done (&t);
}
