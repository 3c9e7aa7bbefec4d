/*  test_analyze.c — unit tests of the analyser: English, Korean, NFD,
    emoji, mixed scripts, empty, invalid and huge input, offsets. */
#include "oim_analyze.h"
#include "oim_utf8.h"
#include "oim_test.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

//  True when some token (of `kind`, or any kind when kind < 0) has this term.
static bool
s_has (const oim_tokens_t *toks, const char *term, int kind)
{
    for (size_t i = 0; i < oim_tokens_size (toks); i++) {
        const oim_token_t *t = oim_tokens_get (toks, i);
        if (strcmp (t->term, term) == 0 && (kind < 0 || t->kind == kind))
            return true;
    }
    return false;
}

static int
s_run (oim_analyzer_t *a, const char *text, oim_tokens_t *toks)
{
    return oim_analyze (a, text, strlen (text), 0, toks);
}

//  Concatenation of all terms, '|'-separated (for whole-list comparisons).
static char *
s_join (const oim_tokens_t *toks)
{
    size_t cap = 16;
    for (size_t i = 0; i < oim_tokens_size (toks); i++)
        cap += oim_tokens_get (toks, i)->term_len + 8;
    char *s = calloc (1, cap);
    for (size_t i = 0; i < oim_tokens_size (toks); i++) {
        const oim_token_t *t = oim_tokens_get (toks, i);
        char part[96];
        snprintf (part, sizeof part, "%s@%u%c|", t->term, t->pos, t->kind ? 'b' : 'w');
        strcat (s, part);
    }
    return s;
}

static void
s_test_english (oim_test_t *t, oim_analyzer_t *a, oim_tokens_t *toks)
{
    int n = s_run (a, "The Running Batteries of the WORLD's companies", toks);
    CHECK (t, n == 4, "n=%d", n);
    CHECK (t, s_has (toks, "run", 0), "stem running");
    CHECK (t, s_has (toks, "batteri", 0), "stem batteries");
    CHECK (t, s_has (toks, "world", 0), "possessive");
    CHECK (t, s_has (toks, "compani", 0), "stem companies");
    CHECK (t, !s_has (toks, "the", -1), "stopword dropped");
    const oim_token_t *first = oim_tokens_get (toks, 0);
    CHECK (t, first->pos == 1 && first->byte_start == 4 && first->byte_end == 11,
           "pos=%u %u-%u", first->pos, first->byte_start, first->byte_end);
    CHECK (t, first->letters == 7, "letters=%u", first->letters);
    s_run (a, "ÉCOLE", toks);
    char *upper = s_join (toks);
    s_run (a, "école", toks);
    char *lower = s_join (toks);
    CHECK (t, strcmp (upper, lower) == 0, "%s vs %s", upper, lower);
    free (upper);
    free (lower);
    s_run (a, "STRASSE", toks);
    upper = s_join (toks);
    s_run (a, "straße", toks);
    lower = s_join (toks);
    CHECK (t, strcmp (upper, lower) == 0, "casefold ß: %s vs %s", upper, lower);
    free (upper);
    free (lower);
    n = s_run (a, "IoT-based 5G mp3 10kV", toks);
    CHECK (t, n == 5 && s_has (toks, "5g", 0) && s_has (toks, "mp3", 0) && s_has (toks, "10kv", 0),
           "digits n=%d", n);
}

static void
s_test_korean (oim_test_t *t, oim_analyzer_t *a, oim_tokens_t *toks)
{
    s_run (a, "이차전지배터리재활용", toks);
    CHECK (t, s_has (toks, "이차전지배터리재활용", OIM_TOKEN_WORD), "whole word");
    CHECK (t, s_has (toks, "배터", OIM_TOKEN_BIGRAM) && s_has (toks, "터리", OIM_TOKEN_BIGRAM)
              && s_has (toks, "재활", OIM_TOKEN_BIGRAM) && s_has (toks, "활용", OIM_TOKEN_BIGRAM),
           "bigrams");
    CHECK (t, oim_tokens_size (toks) == 1 + 9, "1 word + 9 bigrams, got %zu", oim_tokens_size (toks));
    s_run (a, "배터리 재활용", toks);
    CHECK (t, s_has (toks, "배터리", 0) && s_has (toks, "배터", 1) && s_has (toks, "터리", 1)
              && s_has (toks, "재활용", 0) && s_has (toks, "재활", 1) && s_has (toks, "활용", 1),
           "query words");
    //  bigram offsets point at the two syllables in the original text
    const char *text = "새 배터리";
    s_run (a, text, toks);
    bool found = false;
    for (size_t i = 0; i < oim_tokens_size (toks); i++) {
        const oim_token_t *tok = oim_tokens_get (toks, i);
        if (strcmp (tok->term, "터리") == 0)
            found = tok->byte_end - tok->byte_start == 6
                    && memcmp (text + tok->byte_start, "터리", 6) == 0;
    }
    CHECK (t, found, "bigram offsets");
    s_run (a, "배터리를 재활용에서", toks);
    CHECK (t, s_has (toks, "배터리를", OIM_TOKEN_WORD) && s_has (toks, "배터리", OIM_TOKEN_STEM)
              && s_has (toks, "재활용", OIM_TOKEN_STEM), "particles stripped");
    s_run (a, "나는", toks);
    CHECK (t, !s_has (toks, "나", -1), "no one-syllable stem");
    s_run (a, "한국", toks);
    CHECK (t, oim_tokens_size (toks) == 1 && s_has (toks, "한국", 0), "2-syllable word once");
    //  NFD input == composed input
    utf8proc_uint8_t *nfd = NULL;
    const char *composed = "배터리재활용 스타트업";
    utf8proc_ssize_t len = utf8proc_map ((const utf8proc_uint8_t *) composed, (utf8proc_ssize_t) strlen (composed),
                                         &nfd, UTF8PROC_DECOMPOSE);
    CHECK (t, len > (utf8proc_ssize_t) strlen (composed), "NFD is longer");
    oim_analyze (a, (const char *) nfd, (size_t) len, 0, toks);
    char *from_nfd = s_join (toks);
    s_run (a, composed, toks);
    char *from_nfc = s_join (toks);
    CHECK (t, strcmp (from_nfd, from_nfc) == 0, "NFD %s vs NFC %s", from_nfd, from_nfc);
    free (from_nfd);
    free (from_nfc);
    free (nfd);
}

static void
s_test_mixed (oim_test_t *t, oim_analyzer_t *a, oim_tokens_t *toks)
{
    int n = s_run (a, "AI반도체 startup", toks);
    CHECK (t, s_has (toks, "ai", 0) && s_has (toks, "반도체", 0) && s_has (toks, "startup", 0),
           "script split n=%d", n);
    n = s_run (a, "🚀 rocket🚀launch 👍🏽", toks);
    CHECK (t, n == 2 && s_has (toks, "rocket", 0) && s_has (toks, "launch", 0), "emoji n=%d", n);
    n = s_run (a, "\xff\xfe" "abc\xc3" "def \xe2\x82", toks);
    CHECK (t, n == 2 && s_has (toks, "abc", 0) && s_has (toks, "def", 0), "invalid utf-8 n=%d", n);
    n = s_run (a, "", toks);
    CHECK (t, n == 0 && oim_tokens_size (toks) == 0, "empty");
    n = oim_analyze (a, NULL, 0, 0, toks);
    CHECK (t, n == 0, "NULL empty");
    n = s_run (a, " ,.;!? \t\n ", toks);
    CHECK (t, n == 0, "only separators");
    n = s_run (a, "東京大学 ひらがな Москва", toks);
    CHECK (t, s_has (toks, "東京大学", 0) && s_has (toks, "東京", 1) && s_has (toks, "москва", 0),
           "cjk+cyrillic n=%d", n);
    //  combining mark joins its letter: e + U+0301 == é
    s_run (a, "cafe\xcc\x81", toks);
    char *decomposed = s_join (toks);
    s_run (a, "caf\xc3\xa9", toks);
    char *composed = s_join (toks);
    CHECK (t, strcmp (decomposed, composed) == 0, "%s vs %s", decomposed, composed);
    free (decomposed);
    free (composed);
    //  a very long word is cut at a code point boundary
    char word[1000];
    for (int i = 0; i < 333; i++)
        memcpy (word + 3 * i, "가", 3);
    word[999] = 0;
    s_run (a, word, toks);
    const oim_token_t *w = oim_tokens_get (toks, 0);
    CHECK (t, w->kind == OIM_TOKEN_WORD && w->term_len <= OIM_TERM_MAX_BYTES && w->term_len % 3 == 0,
           "cut len=%u", w->term_len);
}

static void
s_test_huge (oim_test_t *t, oim_analyzer_t *a, oim_tokens_t *toks)
{
    size_t size = 8u << 20;
    char *big = malloc (size + 1);
    const char *pattern = "battery recycling 배터리재활용 🚀 ";
    size_t plen = strlen (pattern), at = 0;
    while (at + plen <= size) {
        memcpy (big + at, pattern, plen);
        at += plen;
    }
    big[at] = 0;
    int n = oim_analyze (a, big, at, 0, toks);
    CHECK (t, n > 1000000, "huge n=%d", n);
    n = oim_analyze (a, big, at, 1000, toks);
    CHECK (t, n == 1000, "bounded n=%d", n);
    //  a single 8 MiB word
    memset (big, 'x', size);
    big[size] = 0;
    n = oim_analyze (a, big, size, 0, toks);
    CHECK (t, n == 1 && oim_tokens_get (toks, 0)->term_len <= OIM_TERM_MAX_BYTES, "one huge word");
    free (big);
}

static void
s_test_helpers (oim_test_t *t)
{
    CHECK (t, oim_is_stopword ("the", 3) && !oim_is_stopword ("battery", 7), "stopwords");
    char *n = oim_utf8_fold_n ("Deep TECH", 9);
    CHECK (t, n && strcmp (n, "deep tech") == 0, "normalize");
    free (n);
    CHECK (t, oim_utf8_length ("배터리", strlen ("배터리")) == 3, "utf8 length");
    CHECK (t, oim_analyzer_new ("no-such-stemmer") == NULL, "unknown stemmer");
    oim_analyzer_t *porter = oim_analyzer_new ("porter");
    CHECK (t, porter != NULL, "porter");
    oim_analyzer_destroy (&porter);
    oim_analyzer_destroy (&porter);
    CHECK (t, porter == NULL, "destroy nulls");
}

int
main (void)
{
    oim_test_t t = { 0 };
    oim_analyzer_t *a = oim_analyzer_new (NULL);
    oim_tokens_t *toks = oim_tokens_new ();
    s_test_english (&t, a, toks);
    s_test_korean (&t, a, toks);
    s_test_mixed (&t, a, toks);
    s_test_huge (&t, a, toks);
    s_test_helpers (&t);
    oim_tokens_destroy (&toks);
    oim_analyzer_destroy (&a);
    return oim_test_done (&t);
}
