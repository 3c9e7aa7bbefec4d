/*  oim_glossary — a Korean <-> English glossary of technology and industry terms, so that a
    Korean demand can find an English profile (and the reverse) on the words they share in
    meaning: "배터리 재활용" <-> "battery recycling", "인공지능" <-> "artificial intelligence".

    The glossary is built into the binary (oim_glossary.c): the division names of KSIC 10
    (Statistics Korea's bilingual classification, the table the registry serves at
    /v1/taxonomy) reduced to their technology nouns, and the technology vocabulary of OI
    Market's demands and profiles (AI, batteries, mobility, semiconductors, health, energy,
    environment, finance, logistics, ...). Each entry is one Korean and one English form, a
    word or a phrase.

    Matching is on analysed terms (oim_analyze: NFC, case folding, English stemming, Hangul
    particles stripped), so "batteries" finds "battery" and "배터리를" finds "배터리"; a phrase
    matches when its terms stand at consecutive positions. Generic words are not in the
    glossary (they are never evidence: oim_evidence).

    Immutable after new: safe from several threads, each with its own analyser and tokens.
*/
#ifndef OIM_GLOSSARY_H_INCLUDED
#define OIM_GLOSSARY_H_INCLUDED

#include "oim_analyze.h"

#include <stddef.h>

typedef struct _oim_glossary_t oim_glossary_t;

//  Builds the glossary, analysing each entry with analyzer (which it does not keep).
//  NULL when memory is short.
oim_glossary_t *oim_glossary_new (oim_analyzer_t *analyzer);
void oim_glossary_destroy (oim_glossary_t **self_p);

//  Number of entries.
size_t oim_glossary_size (const oim_glossary_t *self);

//  The other language's forms of every glossary entry found in text, each once, in the order
//  found, separated by "\n" (so that no phrase runs into the next): a fresh string the caller
//  frees, "" when nothing was found, NULL when memory is short. analyzer and tokens are the
//  caller's (its thread's).
char *oim_glossary_translate (const oim_glossary_t *self, oim_analyzer_t *analyzer,
                              oim_tokens_t *tokens, const char *text, size_t len);

#endif
