/*  matcher_model — the matcher's in-memory model and scoring (no sockets, no Redis).

    The model holds every organization, demand and saved search the change log describes
    (state transfer: apply the entity of each ChangeEntry; an entity whose version is not
    newer than the one held is ignored, so replays and out-of-order snapshot + log are safe).
    It keeps three indexes over one term dictionary (terms from oim_analyze, the analyser
    the search service uses: NFC + case folding, English stemming and stopwords, Hangul word +
    syllable bigrams + particle stripping):
      * startups:      term -> (startup, tf) postings, BM25 statistics (df, N, average length),
                       tag keys -> startups (tag rarity);
      * open demands:  key term / tag key -> demands (reverse index for percolation);
      * saved searches: anchor term -> saved searches (reverse index for percolation).

    Scoring a demand D against a startup S (all factor values in [0,1]):
      text     sqrt (S / S_max) (tests/bench/MATCH_QUALITY.md §3.3-3.4). D's query:
               the evidence terms (common/oim_evidence: no numbers, single characters, stop
               or generic words) of title, tags and description, q(t) = 1 + ln c(t), and
               the adjacent evidence word pairs ("adaptive optics"; no break between, never
               a Hangul bigram) at q = 0.3 (1 + ln c), idf(pair) = min of its words' idf;
               the MATCHER_MAX_KEY_TERMS of largest q * idf (idf when the demand is applied).
               S = sum q * idf * BM25 tf part (k1 0.9, b 0.4) over the profile, no
               document-frequency cut (rarity weights, it does not exclude); S_max = sum
               q * idf * (k1+1), an ideal profile's S (never reached: no saturation, so a
               short demand's best profiles do not tie at 1; §3.4's S_self did). So the value says how
               much of what the demand says the profile says too, comparable across demands.
      tags     idf-weighted share of D's tags that S carries (idf over the startups' tags);
               tags compare by their analysed form, so "Machine Learning" = "machine-learning".
      industry same KSIC division, or S inside D's code (D "C" covers S "C26") 1.0; same
               section only 0.5; S names none 0.
      region   S's region among D's regions 1.0 ("KR" covers every KR-xx); else 0.
      stage    S's stage among D's acceptable stages 1.0; an adjacent stage 0.5; else 0.
    A factor the demand does not constrain (no tags, no industries, nationwide, any stage) is not
    applicable: its weight is 0 and the weights of the others are scaled up to sum 1, so a
    demand that says nothing about region is scored on what it does say (every startup would
    fit equally, which would only lift every score by the same amount).
    score = the sum of the factors' contributions, each round (weight * value * 10^4) / 10^4,
    computed in integer units of 10^-4 so the explanation sums to the score exactly.
    A pair qualifies (may be listed) when it is not excluded and is relevant; the top K are
    the K best qualifying startups however low their score (matcher_strength labels them);
    min_score is the line between "good" and "weak", and the floor of plain percolation.
    Relevant: it shares an evidence word or pair of the demand's text query, or one of the
    demand's tags — a match must be about something specific; region, stage, industry or
    generic words ("develop", "platform", "솔루션": common/oim_evidence) alone never make one. Exclusions: S not
    an active startup (pending, suspended, deleted, a company), D not open (closed, awarded,
    deleted), S is D's owner, D's owner known and not active. Ranking: score descending, then
    startup (or demand) id ascending, so results are deterministic.

    Not thread-safe: one model per thread (the analyser keeps state).
*/
#ifndef MATCHER_MODEL_H_INCLUDED
#define MATCHER_MODEL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "registry.pb-c.h"

#define MATCHER_MAX_KEY_TERMS   100     //  words and pairs of a demand's text query
#define MATCHER_FACTORS         5
#define MATCHER_UNITS           10000       //  score units per 1.0
#define MATCHER_DETAIL_SIZE     320

typedef enum {
    MATCHER_TEXT = 0, MATCHER_TAGS, MATCHER_INDUSTRY, MATCHER_REGION, MATCHER_STAGE
} matcher_factor_t;

extern const char *const matcher_factor_names [MATCHER_FACTORS];

typedef struct {
    double weight [MATCHER_FACTORS];    //  normalised to sum 1
    int64_t min_units;                  //  minimum score, in units
    size_t top_k;
    double glossary_weight;             //  a demand's glossary translations (common/
                                        //  oim_glossary) join its text query at this
                                        //  weight per term; 0: no translation
    bool scan;                          //  no index: matcher_model_top* and _percolate*
                                        //  score every startup / open demand (the brute
                                        //  force; same results; a benchmark's reference)
} matcher_config_t;

//  One factor of an explanation.
typedef struct {
    double weight;
    double value;                       //  rounded to 4 decimals
    int64_t units;                      //  contribution in units of 10^-4
    char detail [MATCHER_DETAIL_SIZE];
} matcher_factor_score_t;

typedef struct {
    int64_t units;                      //  score in units = sum of the factors' units
    bool excluded;                      //  a hard exclusion applies (reason says which)
    bool relevant;                      //  shares a text term or a tag
    bool qualifies;                     //  !excluded && relevant && units >= min
    const char *reason;                 //  exclusion reason (static string) or NULL
    matcher_factor_score_t factors [MATCHER_FACTORS];
} matcher_score_t;

//  One ranked result (demand -> startups, or startup -> demands).
typedef struct {
    const char *id;                     //  startup or demand id, borrowed from the model
    int64_t units;
} matcher_hit_t;

//  Organization contacts and names, borrowed from the model.
typedef struct {
    const char *name, *kind, *status, *email, *phone, *website;
    bool active;                        //  status active and not deleted
} matcher_org_info_t;

typedef struct _matcher_model_t matcher_model_t;

//  Fills config with the defaults: weights text .40, tags .25, industry .15, region .10,
//  stage .10; min score 0.20; top K 20.
void matcher_config_default (matcher_config_t *config);

//  Parses "text=0.4,tags=0.25,..." into config->weight (factors not named keep their value),
//  then normalises the weights to sum 1. Returns 0, or -1 on a malformed spec or all-zero
//  weights (config unchanged).
int matcher_config_weights (matcher_config_t *config, const char *spec);

//  Creates an empty model. Returns NULL when the analyser cannot be made.
matcher_model_t *matcher_model_new (const matcher_config_t *config);
void matcher_model_destroy (matcher_model_t **self_p);
const matcher_config_t *matcher_model_config (matcher_model_t *self);

//  Apply an entity's full state (borrowed). Return 0 when applied, 1 when ignored (no id, or
//  not newer than what the model holds): the tree's convention, as search_index_add.
int matcher_model_apply_org (matcher_model_t *self, const Oim__V1__Organization *org);
int matcher_model_apply_demand (matcher_model_t *self, const Oim__V1__Demand *demand);
int matcher_model_apply_saved_search (matcher_model_t *self, const Oim__V1__SavedSearch *ss);

//  Version the model holds of an entity, 0 when unknown.
int64_t matcher_model_org_version (matcher_model_t *self, const char *id);
int64_t matcher_model_demand_version (matcher_model_t *self, const char *id);

//  Lookups. Return false when unknown. Strings are borrowed until the entity changes.
bool matcher_model_org_info (matcher_model_t *self, const char *id, matcher_org_info_t *info);
//  The demand's owner and whether it is open; *title gets its title.
bool matcher_model_demand_info (matcher_model_t *self, const char *id, const char **org_id,
                                const char **title, bool *open, bool *deleted);

//  The demand's visibility: *confidential, *members (either may be NULL). False when unknown.
bool matcher_model_demand_visibility (matcher_model_t *self, const char *id, bool *confidential,
                                      bool *members);

//  Scores one pair with its explanation (details filled). Returns 0, or -1 when either
//  entity is unknown.
int matcher_model_score (matcher_model_t *self, const char *demand_id, const char *startup_id,
                         matcher_score_t *score);
//  A confidential demand's pair as a startup that is not connected may see it: scored on
//  the demand's title and tags only (no description, industries, regions, stages: the
//  factors of the last three say so and count for nothing), so that neither the score nor
//  the explanation tells anything the teaser does not show. The matches themselves are
//  made with matcher_model_score (owner and agency see that one). Returns 0, or -1 when
//  either is unknown or the demand is not confidential.
int matcher_model_score_teaser (matcher_model_t *self, const char *demand_id,
                                const char *startup_id, matcher_score_t *score);

//  The top K (config) qualifying startups of a demand, best first, into hits (capacity
//  config top_k). Returns the count, 0 for an unknown or not open demand, -1 on no memory.
int matcher_model_top (matcher_model_t *self, const char *demand_id, matcher_hit_t *hits);
//  matcher_model_top, plus scores [i] = matcher_model_score of hit i (explanation included)
//  and names [i] = its startup's name (borrowed, as matcher_model_org_info), each of
//  capacity top_k, without looking each hit up again. Either may be NULL.
int matcher_model_top_scores (matcher_model_t *self, const char *demand_id, matcher_hit_t *hits,
                              matcher_score_t *scores, const char **names);

//  Every open demand for which the startup qualifies, in no particular order (up to
//  capacity; the count of all is returned; matcher_hits_sort orders them best first). Uses
//  the reverse index over open demands; -1 on no memory.
int matcher_model_percolate (matcher_model_t *self, const char *startup_id,
                             matcher_hit_t *hits, size_t capacity);

//  Like matcher_model_percolate, but only the open demands whose top K the startup can
//  enter: it qualifies and its score reaches the demand's entry score, the K-th score of
//  the demand's last matcher_model_top (or _top_scan) when that ran at the current corpus
//  state (no startup entered or left since, the demand unchanged), else the minimum score
//  (then every qualifying demand is returned). Ties with the K-th score are returned.
//  Demands whose score upper bound is below their entry score are never scored, which is
//  what makes this fast for broad profiles; same results as matcher_model_percolate_scan
//  filtered by the same entry scores (matcher_model_percolate_entering_scan).
int matcher_model_percolate_entering (matcher_model_t *self, const char *startup_id,
                                      matcher_hit_t *hits, size_t capacity);

//  How good a listed match is, from its score in units (the API's "strength"):
//    "strong"  score >= MATCHER_STRONG_UNITS (0.5: a text-only demand's profile covers at least
//              a quarter of what the demand's own text would score, or more factors agree);
//    "good"    score >= the configured minimum score (match-min-score, default 0.20);
//    "weak"    below: still listed (a demand with a real description always gets up to K
//              relevant candidates; the minimum score no longer hides a list), shown as weak.
//  A static string.
#define MATCHER_STRONG_UNITS    5000
const char *matcher_strength (const matcher_model_t *self, int64_t units);

//  Sorts hits best first: units descending, then id ascending.
void matcher_hits_sort (matcher_hit_t *hits, size_t count);

//  Saved searches matched by an entity ("org" or "demand" id): ids into ids (capacity),
//  sorted; returns the count of all. A startup matches saved searches of type "startup", an
//  open demand those of type "demand": every word of q (a Hangul word: its term or all of
//  its syllable bigrams) and every filter (OR within a filter, AND across) must match.
//  A demand is matched as the search's owner may see it: a members-only one only for an
//  active organization; a confidential one in full for its owner and the agency, for
//  anyone else as its teaser (q on title and tags; a filter on industry, region, stage or
//  collaboration never matches it).
//  changed_at: when the entity changed (RFC 3339, the ChangeEntry's `at`); a saved search
//  only hears of changes made at or after its own updated_at, so a replayed old change never
//  hits a newer search. NULL = no such filter.
int matcher_model_saved_hits (matcher_model_t *self, const char *entity_id,
                              const char *changed_at, const char **ids, size_t capacity);
//  A saved search's owner org, or NULL.
const char *matcher_model_saved_owner (matcher_model_t *self, const char *ss_id);

//  Calls fn for every open demand owned by org_id (used when a company changes).
void matcher_model_org_demands (matcher_model_t *self, const char *org_id,
                                void (*fn) (const char *demand_id, void *arg), void *arg);

//  The brute-force reference: scores every startup (top) or every open demand (percolate)
//  without the indexes. Same results as the indexed calls; for tests and the benchmark.
int matcher_model_top_scan (matcher_model_t *self, const char *demand_id, matcher_hit_t *hits);
int matcher_model_percolate_scan (matcher_model_t *self, const char *startup_id,
                                  matcher_hit_t *hits, size_t capacity);
int matcher_model_percolate_entering_scan (matcher_model_t *self, const char *startup_id,
                                           matcher_hit_t *hits, size_t capacity);

typedef struct {
    size_t startups, demands_open, saved_searches, terms;
    size_t bytes;                       //  heap bytes held by the model (approximate)
    size_t postings;                    //  in the posting arrays, retired ones included
    size_t compactions;                 //  passes that dropped retired postings
    size_t doc_slots;                   //  startup slots, dead ones included
} matcher_model_stats_t;
void matcher_model_stats (matcher_model_t *self, matcher_model_stats_t *stats);

#endif
