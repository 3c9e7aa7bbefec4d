/*  oim_evidence — the one place that says whether an analysed term is evidence: a word that
    can show what a text is about, so that sharing it may make a match, name a tag or appear in
    an explanation. Not evidence (issue 15, tests/bench/MATCH_QUALITY.md §3.1-3.2):
      * a term with a digit ("2014", "5g", "co2") or of one code point ("x", "g", "한");
      * an English stop word (oim_analyze's list);
      * a generic English word (function-like words the stop list lacks, business / R&D
        words, solicitation boilerplate): the lists are given as words and stemmed at
        oim_evidence_new with the caller's analyser, so they compare with analysed terms;
      * a generic Korean word or a Korean function word ("기반", "솔루션", "플랫폼", "합니다"),
        compared with the WORD and STEM forms; every token at the position of such a word is
        not evidence either (its syllable BIGRAMs, "플랫" / "랫폼", and the particle-carrying
        WORD "플랫폼을" whose STEM is generic).
    The lists carry the small-corpus case: with 40 startups no word is common, yet "platform"
    and "솔루션" still say nothing. Rarity among documents is left to the caller's weighting.

    Immutable once made: one oim_evidence_t may serve any number of threads at once.
*/
#ifndef OIM_EVIDENCE_H_INCLUDED
#define OIM_EVIDENCE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "oim_analyze.h"

typedef struct oim_evidence_t oim_evidence_t;

//  Creates the lists, stemming the English ones with analyzer (borrowed, used only during
//  the call). Returns NULL when memory is short.
oim_evidence_t *oim_evidence_new (oim_analyzer_t *analyzer);

//  Destroys the lists and nulls *self_p. Accepts NULL and *self_p == NULL.
void oim_evidence_destroy (oim_evidence_t **self_p);

//  True when an analysed term (NUL-terminated, as oim_analyze gives it) is evidence on its
//  own: no digit, at least two code points, not a stop word, not on a generic list.
bool oim_evidence_term (const oim_evidence_t *self, const char *term);

//  True when term is on a generic list (English stemmed or Korean); false for numbers etc.
bool oim_evidence_generic (const oim_evidence_t *self, const char *term);

//  Marks each token of an analysis: evidence [i] = token i is evidence (oim_evidence_term,
//  and no WORD or STEM at its position is a generic word). evidence holds
//  oim_tokens_size (tokens) entries, owned by the caller.
void oim_evidence_mark (const oim_evidence_t *self, const oim_tokens_t *tokens, bool *evidence);

#endif
