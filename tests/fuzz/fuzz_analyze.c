/*  fuzz_analyze — the text analyser (oim_analyze: UTF-8 normalisation, case folding,
    tokenising, stopwords, stemming) on arbitrary bytes, as search queries and indexed text
    reach it.  */
#include "oim_analyze.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static oim_analyzer_t *s_analyzer;
static oim_tokens_t *s_tokens;

static void
s_cleanup (void)
{
    oim_tokens_destroy (&s_tokens);
    oim_analyzer_destroy (&s_analyzer);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_analyzer) {
        s_analyzer = oim_analyzer_new (NULL);
        s_tokens = oim_tokens_new ();
        atexit (s_cleanup);
    }
    oim_analyze (s_analyzer, (const char *) data, size, 0, s_tokens);
    return 0;
}
