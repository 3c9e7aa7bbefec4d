/*  oim_analyze.c — tokenisation, normalisation, stemming, Hangul bigrams.
    See oim_analyze.h for the rules. Hot path: ASCII words skip utf8proc
    (ASCII is already NFC) and are lower-cased in place.
*/
#include "oim_analyze.h"
#include "oim_utf8.h"

#include <assert.h>
#include <libstemmer.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

struct oim_analyzer_t {
    char language[32];              //  the Snowball stemmer's
};

//  A Snowball stemmer keeps its result inside, so one may serve one caller at
//  a time: each thread has its own (queries analyse on several threads at
//  once), made on first use, deleted when the thread ends (or destroys an
//  analyzer: the main thread's at exit).
//  Each thread also remembers the stems of recent words (direct-mapped by a
//  hash of the word): text is Zipfian, and a snippet stems ~50 words a hit.
#define S_STEM_CACHE 4096
#define S_STEM_CACHE_WORD 23

typedef struct {
    uint8_t word_len, stem_len;         //  word_len 0: empty slot
    char word[S_STEM_CACHE_WORD], stem[S_STEM_CACHE_WORD];
} s_stem_slot_t;

typedef struct {
    char language[32];
    struct sb_stemmer *stemmer;
    s_stem_slot_t cache[S_STEM_CACHE];
} s_thread_stemmer_t;

static pthread_key_t s_stemmer_key;
static pthread_once_t s_stemmer_once = PTHREAD_ONCE_INIT;

static void
s_thread_stemmer_free (void *arg)
{
    s_thread_stemmer_t *ts = arg;
    if (ts) {
        sb_stemmer_delete (ts->stemmer);
        free (ts);
    }
}

static void
s_stemmer_key_make (void)
{
    pthread_key_create (&s_stemmer_key, s_thread_stemmer_free);
}

//  The calling thread's stemmer for the analyzer's language, NULL when out of
//  memory (words are then left unstemmed).
static s_thread_stemmer_t *
s_stemmer (const oim_analyzer_t *self)
{
    pthread_once (&s_stemmer_once, s_stemmer_key_make);
    s_thread_stemmer_t *ts = pthread_getspecific (s_stemmer_key);
    if (ts && strcmp (ts->language, self->language) == 0)
        return ts;
    s_thread_stemmer_free (ts);
    ts = calloc (1, sizeof *ts);
    if (ts) {
        snprintf (ts->language, sizeof ts->language, "%s", self->language);
        ts->stemmer = sb_stemmer_new (self->language, "UTF_8");
    }
    if (ts && !ts->stemmer) {
        free (ts);
        ts = NULL;
    }
    pthread_setspecific (s_stemmer_key, ts);
    return ts;
}

//  The stem of word (len bytes) from the thread's stemmer: *stem_len bytes at
//  the result, valid until its next call; NULL when none (out of memory).
static const char *
s_stem (const oim_analyzer_t *self, const char *word, size_t len, size_t *stem_len)
{
    s_thread_stemmer_t *ts = s_stemmer (self);
    if (!ts)
        return NULL;
    s_stem_slot_t *slot = NULL;
    if (len <= S_STEM_CACHE_WORD) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < len; i++)
            h = (h ^ (uint8_t) word[i]) * 16777619u;
        slot = &ts->cache[h % S_STEM_CACHE];
        if (slot->word_len == len && memcmp (slot->word, word, len) == 0) {
            *stem_len = slot->stem_len;
            return slot->stem;
        }
    }
    const char *stem = (const char *) sb_stemmer_stem (ts->stemmer, (const sb_symbol *) word, (int) len);
    if (!stem)
        return NULL;
    *stem_len = (size_t) sb_stemmer_length (ts->stemmer);
    if (slot && *stem_len <= S_STEM_CACHE_WORD) {
        slot->word_len = (uint8_t) len;
        slot->stem_len = (uint8_t) *stem_len;
        memcpy (slot->word, word, len);
        memcpy (slot->stem, stem, *stem_len);
    }
    return stem;
}

struct oim_tokens_t {
    oim_token_t *items;
    size_t *term_offs;          //  offsets into arena, turned into pointers at the end
    size_t size, cap;
    char *arena;
    size_t arena_len, arena_cap;
};

//  The Snowball English stop list plus a few fragments left by apostrophes.
//  Sorted for bsearch; none is longer than S_STOPWORD_MAX bytes.
#define S_STOPWORD_MAX 10
static const char *const s_stopwords[] = {
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and",
    "any", "are", "as", "at", "be", "because", "been", "before", "being", "below",
    "between", "both", "but", "by", "can", "could", "d", "did", "do", "does", "doing",
    "down", "during", "each", "few", "for", "from", "further", "had", "has", "have",
    "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how",
    "i", "if", "in", "into", "is", "it", "its", "itself", "ll", "m", "me", "more",
    "most", "my", "myself", "no", "nor", "not", "of", "off", "on", "once", "only",
    "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own", "re",
    "s", "same", "she", "should", "so", "some", "such", "t", "than", "that", "the",
    "their", "theirs", "them", "themselves", "then", "there", "these", "they",
    "this", "those", "through", "to", "too", "under", "until", "up", "ve", "very",
    "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
    "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves"
};

oim_analyzer_t *
oim_analyzer_new (const char *stemmer)
{
    stemmer = stemmer ? stemmer : "english";
    struct sb_stemmer *probe = sb_stemmer_new (stemmer, "UTF_8");
    oim_analyzer_t *self = probe && strlen (stemmer) < sizeof self->language
                              ? calloc (1, sizeof *self) : NULL;
    sb_stemmer_delete (probe);          //  (a language Snowball knows)
    if (self)
        memcpy (self->language, stemmer, strlen (stemmer) + 1);
    return self;
}

void
oim_analyzer_destroy (oim_analyzer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pthread_once (&s_stemmer_once, s_stemmer_key_make);
        s_thread_stemmer_free (pthread_getspecific (s_stemmer_key));
        pthread_setspecific (s_stemmer_key, NULL);
        free (*self_p);
        *self_p = NULL;
    }
}

oim_tokens_t *
oim_tokens_new (void)
{
    return calloc (1, sizeof (oim_tokens_t));
}

void
oim_tokens_destroy (oim_tokens_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->items);
        free ((*self_p)->term_offs);
        free ((*self_p)->arena);
        free (*self_p);
        *self_p = NULL;
    }
}

size_t
oim_tokens_size (const oim_tokens_t *self)
{
    assert (self);
    return self->size;
}

const oim_token_t *
oim_tokens_get (const oim_tokens_t *self, size_t index)
{
    assert (self);
    assert (index < self->size);
    return &self->items[index];
}

static int
s_cmp_stop (const void *key, const void *elem)
{
    return strcmp ((const char *) key, *(const char *const *) elem);
}

bool
oim_is_stopword (const char *word, size_t len)
{
    char buf[16];
    if (len == 0 || len > S_STOPWORD_MAX)
        return false;
    memcpy (buf, word, len);
    buf[len] = 0;
    return bsearch (buf, s_stopwords, sizeof s_stopwords / sizeof s_stopwords[0],
                    sizeof s_stopwords[0], s_cmp_stop) != NULL;
}

static oim_script_t
s_script_of (int32_t cp)
{
    if ((cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x1100 && cp <= 0x11FF)
        || (cp >= 0x3130 && cp <= 0x318F) || (cp >= 0xA960 && cp <= 0xA97F)
        || (cp >= 0xD7B0 && cp <= 0xD7FF))
        return OIM_SCRIPT_HANGUL;
    if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF)
        || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF)
        || (cp >= 0x20000 && cp <= 0x2FFFF))
        return OIM_SCRIPT_CJK;
    return OIM_SCRIPT_OTHER;
}

typedef enum { S_SEP, S_WORD, S_MARK } s_class_t;

static s_class_t
s_class_of (int32_t cp)
{
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9'))
            return S_WORD;
        return S_SEP;
    }
    switch (utf8proc_category (cp)) {
        case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
            return S_WORD;
        case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
            return S_MARK;
        default:
            return S_SEP;
    }
}

//  Appends one token; the term bytes are copied into the arena.
static int
s_push (oim_tokens_t *t, const char *term, size_t term_len, uint32_t pos,
        uint32_t start, uint32_t end, size_t letters, oim_token_kind_t kind,
        oim_script_t script)
{
    if (t->size == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        oim_token_t *items = realloc (t->items, cap * sizeof *items);
        if (!items)
            return -1;
        t->items = items;
        size_t *offs = realloc (t->term_offs, cap * sizeof *offs);
        if (!offs)
            return -1;
        t->term_offs = offs;
        t->cap = cap;
    }
    if (t->arena_len + term_len + 1 > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap * 2 : 1024;
        while (cap < t->arena_len + term_len + 1)
            cap *= 2;
        char *arena = realloc (t->arena, cap);
        if (!arena)
            return -1;
        t->arena = arena;
        t->arena_cap = cap;
    }
    memcpy (t->arena + t->arena_len, term, term_len);
    t->arena[t->arena_len + term_len] = 0;
    t->term_offs[t->size] = t->arena_len;
    t->arena_len += term_len + 1;
    t->items[t->size++] = (oim_token_t) {
        .term = NULL, .term_len = (uint32_t) term_len, .pos = pos,
        .byte_start = start, .byte_end = end,
        .letters = (uint16_t) (letters > UINT16_MAX ? UINT16_MAX : letters),
        .kind = (uint8_t) kind, .script = (uint8_t) script
    };
    return 0;
}

typedef struct {
    oim_analyzer_t *self;
    oim_tokens_t *tokens;
    const char *text;
    size_t max_tokens;
    uint32_t pos;
    //  the word being collected
    size_t start, end;
    oim_script_t script;
    bool ascii;
    size_t cps;                 //  original code points in the word
    bool in_word;
    //  byte offsets of each original code point (for bigram highlights)
    uint32_t *cp_offs;
    size_t cp_cap;
} s_state_t;

static bool
s_full (const s_state_t *st)
{
    return st->max_tokens > 0 && st->tokens->size >= st->max_tokens;
}

static int
s_emit_other (s_state_t *st, const char *word, size_t len)
{
    size_t letters = oim_utf8_length (word, len);
    len = oim_utf8_cut (word, len, OIM_TERM_MAX_BYTES);
    if (oim_is_stopword (word, len)) {
        st->pos++;
        return 0;
    }
    size_t term_len = len;
    const char *term = s_stem (st->self, word, len, &term_len);
    if (!term) {
        term = word;
        term_len = len;
    }
    return s_push (st->tokens, term, term_len, st->pos++, (uint32_t) st->start,
                   (uint32_t) st->end, letters, OIM_TOKEN_WORD, OIM_SCRIPT_OTHER);
}

//  Hangul particles stripped into OIM_TOKEN_STEM tokens, longest first.
static const char *const s_josa[] = {
    "에서는", "으로는", "에게서", "에서", "에게", "으로", "까지", "부터", "처럼", "보다", "이나",
    "라고", "에는", "와의", "과의", "이다", "이", "가", "을", "를", "은", "는", "의", "에", "와",
    "과", "도", "로", "만", "께"
};

//  Byte length of the word without a trailing particle, or 0 when there is
//  none (or fewer than two syllables would remain). Hangul syllables are 3 bytes.
static size_t
s_strip_josa (const char *word, size_t len)
{
    for (size_t i = 0; i < sizeof s_josa / sizeof s_josa[0]; i++) {
        size_t n = strlen (s_josa[i]);
        if (len >= n + 6 && memcmp (word + len - n, s_josa[i], n) == 0)
            return len - n;
    }
    return 0;
}

static int
s_emit_syllabic (s_state_t *st, const char *word, size_t len)
{
    size_t ncp = 0;
    size_t cut = oim_utf8_cut (word, len, OIM_TERM_MAX_BYTES);
    uint32_t pos = st->pos++;
    if (s_push (st->tokens, word, cut, pos, (uint32_t) st->start, (uint32_t) st->end,
                oim_utf8_length (word, len), OIM_TOKEN_WORD, st->script))
        return -1;
    size_t stem = st->script == OIM_SCRIPT_HANGUL && len <= OIM_TERM_MAX_BYTES
                  ? s_strip_josa (word, len) : 0;
    if (stem && s_push (st->tokens, word, stem, pos, (uint32_t) st->start, (uint32_t) st->end,
                        oim_utf8_length (word, stem), OIM_TOKEN_STEM, st->script))
        return -1;
    //  bigrams over the whole (uncut) word, a window of three code points at a time
    bool exact_offsets = oim_utf8_length (word, len) == st->cps;
    size_t i = 0;
    size_t win[3];
    while (i < len && !s_full (st)) {
        win[ncp % 3] = i;
        i++;
        while (i < len && ((unsigned char) word[i] & 0xC0) == 0x80)
            i++;
        ncp++;
        if (ncp >= 2) {
            size_t b0 = win[(ncp - 2) % 3];
            size_t b_len = i - b0;
            size_t cp_index = ncp - 2;
            uint32_t bs = (uint32_t) st->start, be = (uint32_t) st->end;
            if (exact_offsets) {
                bs = st->cp_offs[cp_index];
                be = cp_index + 2 < st->cps ? st->cp_offs[cp_index + 2] : (uint32_t) st->end;
            }
            //  a two-syllable word is its own bigram: emitted once, as a word
            bool whole = b0 == 0 && i == len;
            if (!whole && s_push (st->tokens, word + b0, b_len, pos, bs, be, 2,
                                  OIM_TOKEN_BIGRAM, st->script))
                return -1;
        }
    }
    return 0;
}

static int
s_flush (s_state_t *st)
{
    if (!st->in_word)
        return 0;
    st->in_word = false;
    if (s_full (st))
        return 0;
    const char *raw = st->text + st->start;
    size_t raw_len = st->end - st->start;
    char small[256];
    char *word = small;
    utf8proc_uint8_t *mapped = NULL;
    size_t len = raw_len;
    if (st->ascii && raw_len < sizeof small) {
        for (size_t i = 0; i < raw_len; i++) {
            char c = raw[i];
            small[i] = (c >= 'A' && c <= 'Z') ? (char) (c + 32) : c;
        }
    }
    else {
        utf8proc_ssize_t n = utf8proc_map ((const utf8proc_uint8_t *) raw,
                                           (utf8proc_ssize_t) raw_len, &mapped,
                                           UTF8PROC_STABLE | UTF8PROC_COMPOSE
                                           | UTF8PROC_CASEFOLD);
        if (n < 0)
            return n == UTF8PROC_ERROR_NOMEM ? -1 : 0;
        word = (char *) mapped;
        len = (size_t) n;
    }
    int rc = 0;
    if (len > 0)
        rc = st->script == OIM_SCRIPT_OTHER ? s_emit_other (st, word, len)
                                               : s_emit_syllabic (st, word, len);
    free (mapped);
    return rc;
}

static int
s_note_cp (s_state_t *st, size_t offset)
{
    if (st->cps == st->cp_cap) {
        size_t cap = st->cp_cap ? st->cp_cap * 2 : 64;
        uint32_t *offs = realloc (st->cp_offs, cap * sizeof *offs);
        if (!offs)
            return -1;
        st->cp_offs = offs;
        st->cp_cap = cap;
    }
    st->cp_offs[st->cps++] = (uint32_t) offset;
    return 0;
}

int
oim_analyze (oim_analyzer_t *self, const char *text, size_t len,
                size_t max_tokens, oim_tokens_t *tokens)
{
    assert (self);
    assert (tokens);
    assert (text || len == 0);
    tokens->size = 0;
    tokens->arena_len = 0;
    if (len > UINT32_MAX)
        len = UINT32_MAX;       //  offsets are 32-bit; callers bound their input far lower
    s_state_t st = { .self = self, .tokens = tokens, .text = text, .max_tokens = max_tokens };
    int rc = 0;
    size_t i = 0;
    while (i < len && rc == 0 && !s_full (&st)) {
        unsigned char c = (unsigned char) text[i];
        int32_t cp = c;
        size_t n = 1;
        if (c >= 0x80) {
            utf8proc_ssize_t r = utf8proc_iterate ((const utf8proc_uint8_t *) text + i,
                                                   (utf8proc_ssize_t) (len - i), &cp);
            if (r < 0) {        //  invalid byte: a separator
                rc = s_flush (&st);
                i++;
                continue;
            }
            n = (size_t) r;
        }
        s_class_t cls = s_class_of (cp);
        if (cls == S_SEP || (cls == S_MARK && !st.in_word)) {
            rc = s_flush (&st);
            i += n;
            continue;
        }
        if (cls == S_WORD) {
            oim_script_t script = s_script_of (cp);
            if (st.in_word && script != st.script)
                rc = s_flush (&st);
            if (!st.in_word) {
                st.in_word = true;
                st.start = i;
                st.script = script;
                st.ascii = true;
                st.cps = 0;
            }
        }
        if (rc == 0)
            rc = s_note_cp (&st, i);
        if (c >= 0x80)
            st.ascii = false;
        i += n;
        st.end = i;
    }
    if (rc == 0)
        rc = s_flush (&st);
    free (st.cp_offs);
    if (rc != 0) {
        tokens->size = 0;
        return -1;
    }
    for (size_t k = 0; k < tokens->size; k++)
        tokens->items[k].term = tokens->arena + tokens->term_offs[k];
    return (int) (tokens->size > INT32_MAX ? INT32_MAX : tokens->size);
}
