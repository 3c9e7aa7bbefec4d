/*  test_registry_unit — the registry's pure modules: business-number check digits, region
    codes, tag normalisation, text limits, taxonomy. No Redis, no sockets.
*/
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>

static int s_failures;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); s_failures++; } } while (0)

static void
s_test_business_number (void)
{
    char out [11];
    //  Check digit: weights 1,3,7,1,3,7,1,3,5 plus floor(d9*5/10).
    CHECK (registry_validate_business_number ("220-81-62517", out));
    CHECK (strcmp (out, "2208162517") == 0);
    CHECK (registry_validate_business_number ("1248100998", out));
    CHECK (!registry_validate_business_number ("1248100997", out));
    CHECK (!registry_validate_business_number ("12481009981", out));
    CHECK (!registry_validate_business_number ("-1248100998", out));
    CHECK (!registry_validate_business_number ("124810099", out));
    CHECK (!registry_validate_business_number ("12a8100998", out));
}

static void
s_test_regions (void)
{
    CHECK (registry_validate_region ("KR-11"));
    CHECK (registry_validate_region ("KR-50"));
    CHECK (!registry_validate_region ("KR-99"));
    CHECK (!registry_validate_region ("KR-1"));
    CHECK (registry_validate_region ("US-CA"));
    CHECK (registry_validate_region ("JP-13"));
    CHECK (!registry_validate_region ("us-ca"));
    CHECK (!registry_validate_region ("USA-CA"));
    CHECK (!registry_validate_region ("US-CALI"));
    CHECK (!registry_validate_region (""));
}

static void
s_test_tags (void)
{
    char **tags = malloc (5 * sizeof *tags);
    tags [0] = strdup ("  AI ");
    tags [1] = strdup ("ai");
    tags [2] = strdup ("Cafe\xcc\x81");         //  e + combining acute: NFC folds to "café"
    tags [3] = strdup ("   ");
    tags [4] = strdup ("caf\xc3\xa9");
    size_t n = 5;
    registry_err_t err;
    CHECK (registry_validate_tags (&tags, &n, "tags", &err) == 0);
    CHECK (n == 2);
    CHECK (n == 2 && strcmp (tags [0], "ai") == 0 && strcmp (tags [1], "caf\xc3\xa9") == 0);
    for (size_t i = 0; i < n; i++)
        free (tags [i]);
    free (tags);
    tags = malloc (sizeof *tags);
    tags [0] = strdup ("\xff\xfe");
    n = 1;
    CHECK (registry_validate_tags (&tags, &n, "tags", &err) == -1 && err.status == 400);
    CHECK (strcmp (err.field, "tags[0]") == 0);
    free (tags [0]);
    free (tags);
}

static void
s_test_text (void)
{
    registry_err_t err;
    char *text = strdup ("  name  ");
    CHECK (registry_validate_text (&text, "name", 10, true, false, &err) == 0);
    CHECK (strcmp (text, "name") == 0);
    free (text);
    text = strdup ("한국어 이름");
    CHECK (registry_validate_text (&text, "name", 6, true, false, &err) == 0);
    free (text);
    text = strdup ("한국어 이름!");
    CHECK (registry_validate_text (&text, "name", 6, true, false, &err) == -1 && err.status == 422);
    free (text);
    text = (char *) protobuf_c_empty_string;
    CHECK (registry_validate_text (&text, "name", 6, true, false, &err) == -1);
    CHECK (registry_validate_text (&text, "name", 6, false, false, &err) == 0);
    free (text);
    text = strdup ("a\x01");
    CHECK (registry_validate_text (&text, "x", 6, false, true, &err) == -1);
    free (text);
}

static void
s_test_taxonomy (void)
{
    CHECK (registry_taxonomy_valid ("C"));
    CHECK (registry_taxonomy_valid ("C26"));
    CHECK (registry_taxonomy_valid ("J62"));
    CHECK (!registry_taxonomy_valid ("J26"));
    CHECK (!registry_taxonomy_valid ("V"));
    CHECK (!registry_taxonomy_valid ("c"));
    json_t *json = registry_taxonomy_json ();
    CHECK (json_array_size (json_object_get (json, "sections")) == 21);
    json_decref (json);
}

static void
s_test_keys (void)
{
    char key [REGISTRY_API_KEY_CHARS + 1], hash [65], again [65];
    registry_keys_new (key, hash);
    CHECK (strlen (key) == REGISTRY_API_KEY_CHARS && strncmp (key, "oimk_", 5) == 0);
    registry_keys_hash (key, again);
    CHECK (strcmp (hash, again) == 0 && strlen (hash) == 64);
    registry_keys_hash ("abc", again);
    CHECK (strcmp (again, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
}

//  Prints the inferred tags and industries of a text (verbose) and checks expectations.
static size_t
s_infer (registry_infer_t *infer, const char *title, const char *description, char **tags,
         const char **codes, size_t *n_codes)
{
    size_t n = registry_infer_tags (infer, title, description, tags);
    *n_codes = registry_infer_industries (infer, title, description, codes);
    if (getenv ("VERBOSE")) {
        printf ("%s |", title);
        for (size_t i = 0; i < n; i++)
            printf (" [%s]", tags [i]);
        for (size_t i = 0; i < *n_codes; i++)
            printf (" %s", codes [i]);
        printf ("\n");
    }
    return n;
}

static bool
s_has (char **list, size_t n, const char *item)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (list [i], item) == 0)
            return true;
    return false;
}

static void
s_free_tags (char **tags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free (tags [i]);
}

static void
s_test_infer (void)
{
    registry_infer_t *infer = registry_infer_new ();
    CHECK (infer);
    char *tags [REGISTRY_INFER_TAGS];
    const char *codes [REGISTRY_INFER_INDUSTRIES];
    size_t n_codes;
    size_t n = s_infer (infer, "Adaptive optics for satellite imaging",
        "We are looking for a startup with adaptive optics and wavefront sensing to improve "
        "satellite imaging. The solution platform should provide 2024 results.", tags, codes,
        &n_codes);
    CHECK (n >= 2 && strcmp (tags [0], "adaptive optics") == 0);
    CHECK (s_has (tags, n, "satellite imaging"));
    CHECK (!s_has (tags, n, "solution") && !s_has (tags, n, "platform") && !s_has (tags, n, "2024"));
    CHECK (!s_has (tags, n, "looking") && !s_has (tags, n, "startup"));
    CHECK (n_codes >= 1 && (strcmp (codes [0], "C27") == 0 || strcmp (codes [0], "C31") == 0));
    s_free_tags (tags, n);
    n = s_infer (infer, "전기차 배터리 재활용 기술을 가진 스타트업을 찾습니다",
        "폐배터리 재활용 솔루션 플랫폼 기반 서비스를 제공하는 기업", tags, codes, &n_codes);
    CHECK (s_has (tags, n, "배터리 재활용"));
    CHECK (!s_has (tags, n, "찾습니다") && !s_has (tags, n, "가진") && !s_has (tags, n, "기술")
           && !s_has (tags, n, "스타트업") && !s_has (tags, n, "솔루션"));
    CHECK (n_codes == 2);
    CHECK (n_codes == 2 && ((strcmp (codes [0], "C28") == 0 && strcmp (codes [1], "E38") == 0)
                            || (strcmp (codes [0], "E38") == 0)));
    s_free_tags (tags, n);
    //  Deterministic; nothing from generic words alone.
    n = s_infer (infer, "기반 솔루션 플랫폼 서비스 2024", "solution platform develop system", tags,
                 codes, &n_codes);
    CHECK (n == 0 && n_codes == 0);
    //  Every keyword's division is in the taxonomy.
    size_t count;
    const registry_ksic_keywords_t *table = registry_ksic_keywords (&count);
    for (size_t i = 0; i < count; i++)
        CHECK (strlen (table [i].code) == 3 && registry_taxonomy_valid (table [i].code));
    registry_infer_destroy (&infer);
    CHECK (infer == NULL);
}

//  The pager's ?limit and ?cursor (registry_directory.c; fuzzed by tests/fuzz/fuzz_cursor.c).
static void
s_test_page_parse (void)
{
    registry_page_spec_t spec = { .id_prefix = "org", .default_limit = 20, .max_limit = 100 };
    size_t limit;
    char from [OIM_ID_SIZE + 2];
    CHECK (registry_page_parse (&spec, NULL, NULL, &limit, from, sizeof from) == 0
           && limit == 20 && strcmp (from, "-") == 0);
    CHECK (registry_page_parse (&spec, "100", "org_01JDX3K8M2N4P6Q8R0S2T", &limit, from,
                                sizeof from) == 0
           && limit == 100 && strcmp (from, "(org_01JDX3K8M2N4P6Q8R0S2T") == 0);
    spec.newest_first = true;
    CHECK (registry_page_parse (&spec, "1", "", &limit, from, sizeof from) == 0
           && limit == 1 && strcmp (from, "+") == 0);
    CHECK (registry_page_parse (&spec, "0", NULL, &limit, from, sizeof from) == -1);
    CHECK (registry_page_parse (&spec, "101", NULL, &limit, from, sizeof from) == -1);
    CHECK (registry_page_parse (&spec, "", NULL, &limit, from, sizeof from) == -1);
    CHECK (registry_page_parse (&spec, NULL, "pub_01JDX3K8M2N4P6Q8R0S2T", &limit, from,
                                sizeof from) == -2);
    CHECK (registry_page_parse (&spec, NULL, "org_01JDX3K8M2N4P6Q8R0S2", &limit, from,
                                sizeof from) == -2);
}

int
main (void)
{
    s_test_business_number ();
    s_test_regions ();
    s_test_tags ();
    s_test_text ();
    s_test_taxonomy ();
    s_test_keys ();
    s_test_infer ();
    s_test_page_parse ();
    printf ("registry_unit_test: %s\n", s_failures? "FAILED": "OK");
    return s_failures? 1: 0;
}
