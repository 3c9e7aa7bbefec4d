/*  fuzz_search — the search query parser (search_parse.c: words, "phrases", Hangul
    particles and bigrams, typo and prefix variants) and the list cursor parser
    (search_query.c), through search_index_search on a small index. The input is
    <flags byte><query>[NUL<cursor>].  */
#include "search_index.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static search_index_t *s_index;

static void
s_cleanup (void)
{
    search_index_destroy (&s_index);
}

static void
s_build (void)
{
    static const char *titles [] = { "AI 비전 검사 수요", "Cloud deployments for startups",
                                     "서울 스마트 물류 공동개발", "quick brown foxes running" };
    static const char *tags [] = { "ai", "vision", "물류" };
    s_index = search_index_new (NULL);
    for (size_t i = 0; i < sizeof titles / sizeof *titles; i++) {
        char id [16];
        snprintf (id, sizeof id, "d-%zu", i);
        search_doc_t doc = { .id = id, .version = 1, .title = titles [i],
                             .body = "선정된 스타트업과 PoC 진행, inference at the edge",
                             .tags = tags, .tag_count = 3, .confidential = (i == 2) };
        search_index_add (s_index, &doc);
    }
    atexit (s_cleanup);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!s_index)
        s_build ();
    char *text = malloc (size);             //  flags byte dropped, NUL added
    memcpy (text, data + 1, size - 1);
    text [size - 1] = 0;
    size_t qlen = strlen (text);
    search_query_t query = { .q = text, .limit = 1 + (data [0] >> 4),
                             .cursor = qlen + 1 < size - 1? text + qlen + 1: NULL,
                             .prefix_last = data [0] & 1, .no_facets = data [0] & 2,
                             .pure_bm25 = data [0] & 4,
                             .viewer = { .org_id = (data [0] & 8)? "o-1": NULL } };
    search_result_t *result = NULL;
    if (search_index_search (s_index, &query, &result) == 0)
        search_result_destroy (&result);
    free (text);
    return 0;
}
