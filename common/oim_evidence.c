/*  oim_evidence.c — the evidence rule and its lists (see oim_evidence.h). The lists are
    those of tests/bench/MATCH_QUALITY.md §3.2 (tests/bench/match_model.py GENERIC_*): keep
    them in step. Lookups are bsearch over one sorted array of strings, never written after
    oim_evidence_new.
*/
#include "oim_evidence.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct oim_evidence_t {
    char **words;                   //  sorted, distinct: analysed generic terms
    size_t count;
};

//  English: function-like words the stop list lacks; business / R&D words; solicitation
//  boilerplate (DoD section headers and programme words) and the pieces of web addresses.
//  Stemmed at start-up.
static const char *const s_generic_en =
    "also although among across along already always another around away back became become "
    "becomes becoming besides beyond can cannot could currently due e eg either else enough etc "
    "ever every first following found four further given however ie including i ii iii iv "
    "less like likely made make makes making many may might much must need needed needs new "
    "non often one onto per perhaps possible rather second several shall since still take "
    "taken thereby therefore thus three toward towards two upon us use used uses using via "
    "well whether within without would yet "
    "ability able advanced advantage application applications approach approaches area areas "
    "based benefit benefits best business capabilities capability capable challenge challenges "
    "commercial commercialization commercialize companies company concept concepts cost costs "
    "current customer customers demonstrate demonstrated demonstration design designed designs "
    "develop developed developing development effective effort efforts enable enabled enables "
    "enhance enhanced existing feasibility focus future goal goals high highly impact important "
    "improve improved improvement improvements increase increased industry innovation innovative "
    "key large level levels low market markets method methods need novel offer offers operation "
    "operational opportunity opportunities perform performance platform platforms potential "
    "problem problems process processes product products program programs project projects "
    "proposed propose provide provided provides providing quality range reduce reduced reducing "
    "research result results service services significant significantly small solution "
    "solutions state support system systems task tasks team technical technique techniques "
    "technologies technology test testing tool tools type types work "
    "acquisition agency anticipated army award awarded baa contract contractor contractors "
    "darpa defense department description dhs doc dod doe dot dual effort evaluate foreign "
    "government itar keyword keywords military nasa national nationals navy objective objectives "
    "offeror offerors phase proposal proposals prototype references regulation regulations "
    "requirement requirements sbir section solicitation sttr topic transition usaf warfighter "
    "address com htm html http https org pdf url www";    //  web addresses in the text

//  Korean: generic business words, then function words (the matcher's former list). Whole
//  words after particle stripping: compared with WORD and STEM terms as they are.
static const char *const s_generic_ko [] = {
    "기반", "솔루션", "플랫폼", "서비스", "기업", "스타트업", "개발", "제공", "기술", "시스템",
    "사업", "활용", "분야", "방안", "방법", "구축", "지원", "적용", "연구", "제품", "고객",
    "시장", "관리", "운영", "혁신", "효율", "효율적", "향상", "필요", "가능", "다양한", "통합",
    "최적화", "협력", "검토", "확보", "추진", "수행", "목표", "과제", "결과", "계획", "내용",
    "관련", "경우", "이상", "이하", "가지", "모든", "당사", "회사", "국내", "해외", "글로벌",
    "전문", "우수", "신규", "기존", "새로운", "분석", "제작", "구현", "설계",
    "합니다", "입니다", "있습니다", "됩니다", "있는", "하는", "위한", "통해", "대한", "및",
    "등", "수", "있다", "한다", "하고", "또는", "그리고", NULL
};

static int
s_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  Appends a copy of word; returns -1 when memory is short.
static int
s_add (oim_evidence_t *self, size_t *cap, const char *word)
{
    if (self->count == *cap) {
        size_t grown = *cap? *cap * 2: 256;
        char **words = realloc (self->words, grown * sizeof *words);
        if (!words)
            return -1;
        self->words = words;
        *cap = grown;
    }
    self->words [self->count] = strdup (word);
    return self->words [self->count++]? 0: -1;
}

//  Adds the analysed WORD terms of the English list (a stop word gives none: it is not
//  evidence anyway). Returns -1 when memory is short.
static int
s_add_english (oim_evidence_t *self, size_t *cap, oim_analyzer_t *analyzer)
{
    oim_tokens_t *tokens = oim_tokens_new ();
    int rc = tokens && oim_analyze (analyzer, s_generic_en, strlen (s_generic_en), 0,
                                    tokens) >= 0? 0: -1;
    for (size_t i = 0; rc == 0 && i < oim_tokens_size (tokens); i++) {
        const oim_token_t *token = oim_tokens_get (tokens, i);
        if (token->kind == OIM_TOKEN_WORD)
            rc = s_add (self, cap, token->term);
    }
    oim_tokens_destroy (&tokens);
    return rc;
}

oim_evidence_t *
oim_evidence_new (oim_analyzer_t *analyzer)
{
    assert (analyzer);
    oim_evidence_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    size_t cap = 0;
    int rc = s_add_english (self, &cap, analyzer);
    for (int i = 0; rc == 0 && s_generic_ko [i]; i++)
        rc = s_add (self, &cap, s_generic_ko [i]);
    if (rc) {
        oim_evidence_destroy (&self);
        return NULL;
    }
    qsort (self->words, self->count, sizeof *self->words, s_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < self->count; i++) {
        if (kept && strcmp (self->words [kept - 1], self->words [i]) == 0)
            free (self->words [i]);
        else
            self->words [kept++] = self->words [i];
    }
    self->count = kept;
    return self;
}

void
oim_evidence_destroy (oim_evidence_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    oim_evidence_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        free (self->words [i]);
    free (self->words);
    free (self);
    *self_p = NULL;
}

bool
oim_evidence_generic (const oim_evidence_t *self, const char *term)
{
    return self->count
        && bsearch (&term, self->words, self->count, sizeof *self->words, s_cmp) != NULL;
}

bool
oim_evidence_term (const oim_evidence_t *self, const char *term)
{
    size_t points = 0;
    for (const unsigned char *at = (const unsigned char *) term; *at; at++) {
        if (*at >= '0' && *at <= '9')
            return false;
        points += (*at & 0xC0) != 0x80;
    }
    return points > 1
        && !oim_is_stopword (term, strlen (term))
        && !oim_evidence_generic (self, term);
}

void
oim_evidence_mark (const oim_evidence_t *self, const oim_tokens_t *tokens, bool *evidence)
{
    size_t count = oim_tokens_size (tokens);
    size_t start = 0;
    while (start < count) {
        //  one position at a time: its WORD, STEM and BIGRAM tokens are adjacent
        uint32_t pos = oim_tokens_get (tokens, start)->pos;
        size_t end = start;
        bool generic = false;
        while (end < count && oim_tokens_get (tokens, end)->pos == pos) {
            const oim_token_t *token = oim_tokens_get (tokens, end++);
            if (token->kind != OIM_TOKEN_BIGRAM && oim_evidence_generic (self, token->term))
                generic = true;
        }
        for (size_t i = start; i < end; i++)
            evidence [i] = !generic && oim_evidence_term (self, oim_tokens_get (tokens, i)->term);
        start = end;
    }
}
