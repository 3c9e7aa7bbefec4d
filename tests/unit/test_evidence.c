/*  test_evidence.c — unit tests of common/oim_evidence: numbers, single characters, stop
    words, the stemmed English lists, the Korean lists on WORD/STEM forms and the bigrams of
    a generic word, and lookups from several threads at once. */
#include "oim_evidence.h"
#include "oim_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

//  The evidence terms of text, '|'-joined, into out.
static void
s_evidence (const oim_evidence_t *ev, oim_analyzer_t *a, const char *text, char *out,
            size_t size)
{
    oim_tokens_t *toks = oim_tokens_new ();
    oim_analyze (a, text, strlen (text), 0, toks);
    size_t n = oim_tokens_size (toks);
    bool *mark = calloc (n + 1, sizeof *mark);
    oim_evidence_mark (ev, toks, mark);
    out [0] = 0;
    for (size_t i = 0; i < n; i++)
        if (mark [i] && strlen (out) + strlen (oim_tokens_get (toks, i)->term) + 2 < size) {
            if (*out)
                strcat (out, "|");
            strcat (out, oim_tokens_get (toks, i)->term);
        }
    free (mark);
    oim_tokens_destroy (&toks);
}

typedef struct { const oim_evidence_t *ev; int wrong; } s_job_t;

static void *
s_thread (void *arg)
{
    s_job_t *job = arg;
    for (int i = 0; i < 20000; i++) {
        job->wrong += oim_evidence_term (job->ev, "platform") != false;
        job->wrong += oim_evidence_term (job->ev, "optic") != true;
        job->wrong += oim_evidence_term (job->ev, "배터리") != true;
        job->wrong += oim_evidence_term (job->ev, "솔루션") != false;
    }
    return NULL;
}

int
main (void)
{
    oim_test_t t = { 0, 0 };
    oim_analyzer_t *a = oim_analyzer_new (NULL);
    oim_evidence_t *ev = oim_evidence_new (a);
    CHECK (&t, ev != NULL, "new");
    char out [512];
    //  numbers, single characters, stop words
    CHECK (&t, !oim_evidence_term (ev, "2014"), "number");
    CHECK (&t, !oim_evidence_term (ev, "5g"), "digit inside");
    CHECK (&t, !oim_evidence_term (ev, "x"), "one letter");
    CHECK (&t, !oim_evidence_term (ev, "한"), "one syllable");
    CHECK (&t, !oim_evidence_term (ev, "the"), "stop word");
    CHECK (&t, oim_evidence_term (ev, "ai"), "two letters are evidence");
    //  English generic words, compared stemmed
    s_evidence (ev, a, "innovative platform development solution", out, sizeof out);
    CHECK (&t, (strcmp (out, "") == 0), "generic EN: '%s'", out);
    s_evidence (ev, a, "Developing innovative solutions for adaptive optics in 2014", out,
                sizeof out);
    CHECK (&t, (strcmp (out, "adapt|optic") == 0), "EN evidence: '%s'", out);
    CHECK (&t, oim_evidence_generic (ev, "develop"), "stem of develop");
    CHECK (&t, !oim_evidence_generic (ev, "2014"), "a number is not on a list");
    //  Korean: generic words, their particles and bigrams; function words
    s_evidence (ev, a, "AI 기반 솔루션 플랫폼 서비스 개발", out, sizeof out);
    CHECK (&t, (strcmp (out, "ai") == 0), "generic KO: '%s'", out);
    s_evidence (ev, a, "플랫폼을 위한 배터리 재활용", out, sizeof out);
    CHECK (&t, strstr (out, "배터리") && strstr (out, "재활용") && !strstr (out, "플랫")
               && !strstr (out, "랫폼") && !strstr (out, "위한"), "KO: '%s'", out);
    s_evidence (ev, a, "전기차배터리를", out, sizeof out);
    CHECK (&t, strstr (out, "배터") != NULL, "bigrams of a specific word: '%s'", out);
    //  several threads at once
    pthread_t th [4];
    s_job_t jobs [4];
    for (int i = 0; i < 4; i++) {
        jobs [i] = (s_job_t) { ev, 0 };
        pthread_create (&th [i], NULL, s_thread, &jobs [i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join (th [i], NULL);
        CHECK (&t, jobs [i].wrong == 0, "thread %d: %d wrong", i, jobs [i].wrong);
    }
    oim_evidence_destroy (&ev);
    oim_evidence_destroy (&ev);
    CHECK (&t, ev == NULL, "destroy nulls");
    oim_analyzer_destroy (&a);
    return oim_test_done (&t);
}
