/*  oim_analyze.h — text analysis shared by the search index and the matcher.

    Turns UTF-8 text into a list of index terms with token positions (for phrases)
    and byte offsets into the ORIGINAL input (for highlights):

    * tokenisation by Unicode category: letters, marks and digits form words;
      everything else (punctuation, symbols, emoji, spaces) separates them.
      A change of script class (Hangul / CJK ideographs+kana / other) also splits,
      so "AI반도체" gives "ai" and "반도체".
    * each word is NFC-normalised and case-folded (utf8proc); decomposed (NFD)
      Hangul therefore yields exactly the terms of composed Hangul.
    * other scripts (Latin, ...): English stopwords are dropped (their position is
      still consumed), the rest is stemmed with Snowball (libstemmer "english").
    * Hangul/CJK: the whole word is a term (OIM_TOKEN_WORD) and, for words of
      three syllables or more, every syllable bigram is a term too
      (OIM_TOKEN_BIGRAM, same position as its word), so '배터리' matches inside
      '이차전지배터리재활용'. A two-syllable word is its own single bigram.
      A word ending in a common particle (josa: 이/가/을/를/은/는/의/에/에서/
      으로/...) whose remainder has two syllables or more also yields the
      remainder (OIM_TOKEN_STEM, same position): '배터리를' → '배터리'.

    Words longer than OIM_TERM_MAX_BYTES are cut at a code point boundary.
    Invalid UTF-8 bytes act as separators. An analyser may serve several
    threads at once, each with its own token buffers: a Snowball stemmer keeps
    state, so each thread has its own (with the stems of its 4,096 most recent
    words), made on first use and freed when the thread ends.
*/
#ifndef OIM_ANALYZE_H_INCLUDED
#define OIM_ANALYZE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OIM_TERM_MAX_BYTES 64

typedef enum {
    OIM_TOKEN_WORD = 0,      //  a whole word (stemmed for Latin etc.)
    OIM_TOKEN_BIGRAM = 1,    //  a Hangul/CJK syllable bigram inside a word
    OIM_TOKEN_STEM = 2       //  a Hangul word without its trailing particle
} oim_token_kind_t;

typedef enum {
    OIM_SCRIPT_OTHER = 0,    //  Latin, digits, Cyrillic, ... (stemmed, stopwords)
    OIM_SCRIPT_HANGUL = 1,
    OIM_SCRIPT_CJK = 2       //  Han ideographs, kana
} oim_script_t;

typedef struct {
    const char *term;           //  NUL-terminated normalised term, owned by the list
    uint32_t term_len;          //  bytes, excluding the NUL
    uint32_t pos;               //  word position (stopwords consume one)
    uint32_t byte_start;        //  [byte_start, byte_end) in the original input
    uint32_t byte_end;
    uint16_t letters;           //  code points in the word before stemming
    uint8_t kind;               //  oim_token_kind_t
    uint8_t script;             //  oim_script_t
} oim_token_t;

typedef struct oim_analyzer_t oim_analyzer_t;
typedef struct oim_tokens_t oim_tokens_t;

//  Creates an analyser. `stemmer` is a libstemmer algorithm name ("english",
//  "porter"), or NULL for "english". Returns NULL when the stemmer is unknown
//  or memory is short.
oim_analyzer_t *oim_analyzer_new (const char *stemmer);

//  Destroys the analyser and nulls *self_p. Accepts NULL and *self_p == NULL.
void oim_analyzer_destroy (oim_analyzer_t **self_p);

//  A reusable token list (keeps its buffers between analyses).
oim_tokens_t *oim_tokens_new (void);
void oim_tokens_destroy (oim_tokens_t **self_p);
size_t oim_tokens_size (const oim_tokens_t *self);
//  Borrowed; valid until the list is reused or destroyed. Asserts index < size.
const oim_token_t *oim_tokens_get (const oim_tokens_t *self, size_t index);

//  Analyses `len` bytes of `text` into `tokens` (which is cleared first).
//  Stops after `max_tokens` tokens when max_tokens > 0 (bounded work on huge
//  input). Returns the number of tokens, or -1 when memory is short (the list
//  is then empty).
int oim_analyze (oim_analyzer_t *self, const char *text, size_t len,
                    size_t max_tokens, oim_tokens_t *tokens);

//  Normalisation, lengths and cuts of UTF-8 text: oim_utf8.h.

//  True when `word` (already case-folded) is an English stopword.
bool oim_is_stopword (const char *word, size_t len);

#endif
