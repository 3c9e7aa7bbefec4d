/*  search_dict.c — walks over the sorted term dictionary (typo variants with a
    bounded Levenshtein DP that shares rows between neighbouring terms and
    skips whole prefix ranges once a row exceeds the edit budget; prefix
    expansion) and the suggestion tables behind search_index_suggest.
*/
#include "search_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define S_MAX_CPS OIM_TERM_MAX_BYTES
#define S_TAIL_MAX 1024                 //  unsorted terms scanned linearly
#define S_PREFIX_SCAN_MAX 4096
#define S_SUGGEST_SCAN_MAX 2000
#define S_SUGGEST_KEY_BYTES 120
#define S_SUGGEST_SUFFIX_BYTES 32
#define S_SUGGEST_SUFFIXES 2            //  title keys starting at words 2 and 3

//  Decodes up to max code points; returns the count or -1 when longer.
static int
s_decode (const char *s, size_t len, int32_t *cps, uint8_t *cp_bytes, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        if (n == max)
            return -1;
        int32_t cp = (unsigned char) s[i];
        utf8proc_ssize_t r = cp < 0x80 ? 1 : utf8proc_iterate ((const utf8proc_uint8_t *) s + i,
                                                               (utf8proc_ssize_t) (len - i), &cp);
        if (r <= 0) {
            cp = (unsigned char) s[i];
            r = 1;
        }
        if (cp_bytes)
            cp_bytes[n] = (uint8_t) r;
        cps[n++] = cp;
        i += (size_t) r;
    }
    return n;
}

typedef struct {
    uint32_t *out;
    uint8_t *dist;
    uint32_t *df;
    size_t n, max;
} s_best_t;

//  Keeps the best max candidates: fewer edits first, then higher df.
static void
s_best_add (s_best_t *best, uint32_t tid, uint8_t dist, uint32_t df)
{
    size_t i = best->n;
    while (i > 0 && (best->dist[i - 1] > dist
                     || (best->dist[i - 1] == dist && best->df[i - 1] < df)))
        i--;
    if (i >= best->max)
        return;
    size_t last = best->n < best->max ? best->n : best->max - 1;
    for (size_t k = last; k > i; k--) {
        best->out[k] = best->out[k - 1];
        best->dist[k] = best->dist[k - 1];
        best->df[k] = best->df[k - 1];
    }
    best->out[i] = tid;
    best->dist[i] = dist;
    best->df[i] = df;
    if (best->n < best->max)
        best->n++;
}

//  Computes DP row i (term code point c) from row i-1; returns the row minimum.
static unsigned
s_row (uint8_t *prev, uint8_t *row, int i, int32_t c, const int32_t *q, int m)
{
    row[0] = (uint8_t) (i > 255 ? 255 : i);
    unsigned lo = row[0];
    for (int j = 1; j <= m; j++) {
        unsigned sub = prev[j - 1] + (c != q[j - 1]);
        unsigned del = prev[j] + 1u;
        unsigned ins = row[j - 1] + 1u;
        unsigned v = sub < del ? sub : del;
        v = v < ins ? v : ins;
        row[j] = (uint8_t) (v > 255 ? 255 : v);
        if (v < lo)
            lo = v;
    }
    return lo;
}

static unsigned
s_distance (const int32_t *t, int n, const int32_t *q, int m)
{
    uint8_t rows[2][S_MAX_CPS + 1];
    for (int j = 0; j <= m; j++)
        rows[0][j] = (uint8_t) j;
    for (int i = 1; i <= n; i++)
        s_row (rows[(i - 1) & 1], rows[i & 1], i, t[i - 1], q, m);
    return rows[n & 1][m];
}

//  First sorted position ≥ pos whose string is ≥ key: galloping from pos,
//  since most skips are short.
static uint32_t
s_skip (const search_strtab_t *dict, uint32_t pos, const char *key, size_t len)
{
    uint32_t lo = pos + 1, step = 1, hi = lo;
    for (;;) {
        hi = lo + step > dict->sorted_upto ? dict->sorted_upto : lo + step;
        if (hi == dict->sorted_upto)
            break;
        uint32_t id = dict->sorted[hi - 1];
        uint32_t l = dict->lens[id];
        int c = memcmp (dict->arena + dict->offs[id], key, l < len ? l : len);
        if (c > 0 || (c == 0 && l >= len))
            break;
        lo = hi;
        step *= 2;
    }
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t id = dict->sorted[mid];
        uint32_t l = dict->lens[id];
        int c = memcmp (dict->arena + dict->offs[id], key, l < len ? l : len);
        if (c < 0 || (c == 0 && l < len))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t
search_dict_fuzzy (search_index_t *self, const char *term, size_t len,
                   unsigned max_edits, uint32_t *out, size_t max_out)
{
    int32_t q[S_MAX_CPS];
    int m = s_decode (term, len, q, NULL, S_MAX_CPS);
    if (m <= 0 || max_out == 0)
        return 0;
    search_strtab_t *dict = &self->terms;
    uint8_t dist_buf[16];
    uint32_t df_buf[16];
    if (max_out > 16)
        max_out = 16;
    s_best_t best = { .out = out, .dist = dist_buf, .df = df_buf, .max = max_out };
    uint8_t rows[S_MAX_CPS + 1][S_MAX_CPS + 1];
    for (int j = 0; j <= m; j++)
        rows[0][j] = (uint8_t) j;
    //  t holds the previous term's code points (t_bytes their sizes): only what
    //  follows the prefix a term shares with it is decoded
    int32_t t[S_MAX_CPS];
    uint8_t t_bytes[S_MAX_CPS];
    const char *prev_s = "";
    size_t prev_len = 0;
    int prev_n = 0, depth = 0;          //  rows[0..depth] are valid for t[0..depth)
    uint32_t pos = 0;
    while (pos < dict->sorted_upto) {
        uint32_t tid = dict->sorted[pos];
        const char *s = search_strtab_str (dict, tid);
        size_t len = dict->lens[tid], same = 0, at = 0;
        while (same < len && same < prev_len && s[same] == prev_s[same])
            same++;
        int lcp = 0;                    //  code points wholly in the shared bytes
        while (lcp < prev_n && at + t_bytes[lcp] <= same)
            at += t_bytes[lcp++];
        int rest = s_decode (s + at, len - at, t + lcp, t_bytes + lcp, S_MAX_CPS - lcp);
        if (rest < 0) {
            prev_n = depth = 0;         //  (t is no longer the previous term's)
            prev_len = 0;
            pos++;
            continue;
        }
        int n = lcp + rest;
        int i = lcp < depth ? lcp : depth;
        bool pruned = false;
        for (i = i + 1; i <= n; i++) {
            if (s_row (rows[i - 1], rows[i], i, t[i - 1], q, m) > max_edits) {
                pruned = true;
                break;
            }
        }
        prev_s = s;
        prev_len = len;
        prev_n = n;
        if (pruned) {
            //  no term starting with t[0..i) can be within budget: skip them all
            char key[OIM_TERM_MAX_BYTES + 2];
            size_t kb = 0;
            for (int k = 0; k < i; k++)
                kb += t_bytes[k];
            memcpy (key, s, kb);
            key[kb] = (char) 0xFF;
            depth = i - 1;
            pos = s_skip (dict, pos, key, kb + 1);
            continue;
        }
        depth = n;
        unsigned d = rows[n][m];
        if (d > 0 && d <= max_edits && self->postings[tid].df > 0)
            s_best_add (&best, tid, (uint8_t) d, self->postings[tid].df);
        pos++;
    }
    for (uint32_t tid = dict->sorted_upto; tid < dict->count; tid++) {
        int n = s_decode (search_strtab_str (dict, tid), dict->lens[tid], t, NULL, S_MAX_CPS);
        if (n < 0 || abs (n - m) > (int) max_edits)
            continue;
        unsigned d = s_distance (t, n, q, m);
        if (d > 0 && d <= max_edits && self->postings[tid].df > 0)
            s_best_add (&best, tid, (uint8_t) d, self->postings[tid].df);
    }
    return best.n;
}

size_t
search_dict_prefix (search_index_t *self, const char *prefix, size_t len,
                    uint32_t *out, size_t max_out)
{
    if (len == 0 || max_out == 0)
        return 0;
    search_strtab_t *dict = &self->terms;
    uint8_t dist_buf[64];
    uint32_t df_buf[64];
    if (max_out > 64)
        max_out = 64;
    s_best_t best = { .out = out, .dist = dist_buf, .df = df_buf, .max = max_out };
    uint32_t pos = search_strtab_lower_bound (dict, prefix, len);
    for (uint32_t k = 0; pos < dict->sorted_upto && k < S_PREFIX_SCAN_MAX; pos++, k++) {
        uint32_t tid = dict->sorted[pos];
        if (dict->lens[tid] < len || memcmp (search_strtab_str (dict, tid), prefix, len) != 0)
            break;
        if (self->postings[tid].df > 0)
            s_best_add (&best, tid, 0, self->postings[tid].df);
    }
    for (uint32_t tid = dict->sorted_upto; tid < dict->count; tid++)
        if (dict->lens[tid] >= len && memcmp (search_strtab_str (dict, tid), prefix, len) == 0
            && self->postings[tid].df > 0)
            s_best_add (&best, tid, 0, self->postings[tid].df);
    return best.n;
}

//  ---------------------------------------------------------------- suggestions

void
search_index_settle (search_index_t *self)
{
    assert (self);
    //  on failure (no memory) a tail just stays longer
    search_strtab_sort (&self->terms, S_TAIL_MAX);
    search_strtab_sort (&self->sugg_titles.keys, S_TAIL_MAX);
    search_strtab_sort (&self->sugg_tags.keys, S_TAIL_MAX);
}

void
search_suggest_free (search_suggest_t *sugg)
{
    search_strtab_free (&sugg->keys);
    free (sugg->parent);
    free (sugg->count);
    free (sugg->display);
    free (sugg->disp);
    memset (sugg, 0, sizeof *sugg);
}

size_t
search_suggest_bytes (const search_suggest_t *sugg)
{
    return search_strtab_bytes (&sugg->keys) + sugg->cap * (4 + 4 + 4 * SEARCH_TYPE_COUNT)
           + sugg->disp_cap;
}

static int
s_sugg_reserve (search_suggest_t *sugg)
{
    if (sugg->cap >= sugg->keys.cap)
        return 0;
    uint32_t cap = sugg->keys.cap;
    uint32_t *parent = realloc (sugg->parent, cap * sizeof *parent);
    if (!parent)
        return -1;
    sugg->parent = parent;
    uint32_t (*count)[SEARCH_TYPE_COUNT] = realloc (sugg->count, cap * sizeof *count);
    if (!count)
        return -1;
    sugg->count = count;
    uint32_t *display = realloc (sugg->display, cap * sizeof *display);
    if (!display)
        return -1;
    sugg->display = display;
    sugg->cap = cap;
    return 0;
}

//  Interns key; a new entry gets `parent` (SEARCH_STRTAB_NONE = itself) and,
//  for full entries, the display text. Returns the id or SEARCH_STRTAB_NONE.
static uint32_t
s_sugg_intern (search_suggest_t *sugg, const char *key, size_t key_len, uint32_t parent,
               const char *display, size_t display_len)
{
    bool created = false;
    uint32_t id = search_strtab_intern (&sugg->keys, key, key_len, &created);
    if (id == SEARCH_STRTAB_NONE || !created)
        return id;
    if (s_sugg_reserve (sugg))
        return SEARCH_STRTAB_NONE;      //  the key stays, without a parent: never listed
    sugg->parent[id] = parent == SEARCH_STRTAB_NONE ? id : parent;
    memset (sugg->count[id], 0, sizeof sugg->count[id]);
    sugg->display[id] = 0;
    if (parent == SEARCH_STRTAB_NONE) {
        if (sugg->disp_len + display_len + 1 > sugg->disp_cap) {
            size_t cap = sugg->disp_cap ? sugg->disp_cap * 2 : 4096;
            while (cap < sugg->disp_len + display_len + 1)
                cap *= 2;
            char *disp = realloc (sugg->disp, cap);
            if (!disp)
                return SEARCH_STRTAB_NONE;
            sugg->disp = disp;
            sugg->disp_cap = cap;
        }
        sugg->display[id] = (uint32_t) sugg->disp_len;
        memcpy (sugg->disp + sugg->disp_len, display, display_len);
        sugg->disp[sugg->disp_len + display_len] = 0;
        sugg->disp_len += display_len + 1;
    }
    return id;
}

//  Normalised, trimmed, whitespace-collapsed key of `text` (caller frees).
static char *
s_key (const char *text, size_t len)
{
    char *norm = oim_utf8_fold_n (text, len);
    if (!norm)
        return NULL;
    char *w = norm;
    bool space = true;
    for (const char *r = norm; *r; r++) {
        bool ws = *r == ' ' || *r == '\t' || *r == '\n' || *r == '\r' || *r == 0x1f;
        if (ws && space)
            continue;
        *w++ = ws ? ' ' : *r;
        space = ws;
    }
    if (w > norm && w[-1] == ' ')
        w--;
    *w = 0;
    return norm;
}

static void
s_count (uint32_t *count, int delta)
{
    if (delta > 0)
        (*count)++;
    else if (*count > 0)
        (*count)--;
}

static int
s_suggest_title (search_index_t *self, search_doc_type_t type, const char *title, int delta)
{
    search_suggest_t *sugg = &self->sugg_titles;
    char *key = s_key (title, strlen (title));
    if (!key)
        return -1;
    size_t key_len = oim_utf8_cut (key, strlen (key), S_SUGGEST_KEY_BYTES);
    int rc = 0;
    if (key_len > 0) {
        size_t disp_len = oim_utf8_cut (title, strlen (title), S_SUGGEST_KEY_BYTES);
        uint32_t full = delta > 0
            ? s_sugg_intern (sugg, key, key_len, SEARCH_STRTAB_NONE, title, disp_len)
            : search_strtab_find (&sugg->keys, key, key_len);
        if (full == SEARCH_STRTAB_NONE || full >= sugg->cap)
            rc = delta > 0 ? -1 : 0;
        else {
            s_count (&sugg->count[full][type], delta);
            //  keys from the 2nd and 3rd word on, tied to the full entry
            size_t at = 0;
            for (int k = 0; k < S_SUGGEST_SUFFIXES && delta > 0; k++) {
                const char *sp = memchr (key + at, ' ', key_len - at);
                if (!sp)
                    break;
                at = (size_t) (sp - key) + 1;
                char suffix[S_SUGGEST_SUFFIX_BYTES + 16];
                size_t n = oim_utf8_cut (key + at, key_len - at, S_SUGGEST_SUFFIX_BYTES);
                memcpy (suffix, key + at, n);
                n += (size_t) snprintf (suffix + n, sizeof suffix - n, "\x1f%x", full);
                s_sugg_intern (sugg, suffix, n, full, NULL, 0);
            }
        }
    }
    free (key);
    return rc;
}

int
search_suggest_update (search_index_t *self, search_doc_type_t type,
                       const char *title, const char *tags, int delta)
{
    int rc = s_suggest_title (self, type, title, delta);
    search_suggest_t *sugg = &self->sugg_tags;
    const char *p = tags;
    while (*p) {
        const char *end = strchr (p, '\n');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        char *key = s_key (p, len);
        if (key && *key) {
            size_t key_len = oim_utf8_cut (key, strlen (key), S_SUGGEST_KEY_BYTES);
            uint32_t id = delta > 0
                ? s_sugg_intern (sugg, key, key_len, SEARCH_STRTAB_NONE, p, oim_utf8_cut (p, len, S_SUGGEST_KEY_BYTES))
                : search_strtab_find (&sugg->keys, key, key_len);
            if (id != SEARCH_STRTAB_NONE && id < sugg->cap)
                s_count (&sugg->count[id][type], delta);
            else if (delta > 0)
                rc = -1;
        }
        free (key);
        p += len + (end ? 1 : 0);
    }
    return rc;
}

typedef struct {
    uint32_t entry;
    uint32_t count;
    bool is_tag;
    const char *text;
} s_cand_t;

static int
s_cand_cmp (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    size_t lx = strlen (x->text), ly = strlen (y->text);
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return strcmp (x->text, y->text);
}

static uint32_t
s_entry_count (const search_suggest_t *sugg, uint32_t entry, int type)
{
    if (type >= 0)
        return sugg->count[entry][type];
    uint32_t sum = 0;
    for (int t = 0; t < SEARCH_TYPE_COUNT; t++)
        sum += sugg->count[entry][t];
    return sum;
}

static void
s_collect (search_suggest_t *sugg, const char *key, size_t len, int type, bool is_tag,
           s_cand_t *cands, size_t *n, size_t max)
{
    uint32_t pos = search_strtab_lower_bound (&sugg->keys, key, len);
    uint32_t scanned = 0;
    for (;; pos++, scanned++) {
        uint32_t id;
        if (pos < sugg->keys.sorted_upto && scanned < S_SUGGEST_SCAN_MAX)
            id = sugg->keys.sorted[pos];
        else
            break;
        if (sugg->keys.lens[id] < len || memcmp (search_strtab_str (&sugg->keys, id), key, len))
            break;
        if (id >= sugg->cap || *n == max)
            continue;
        uint32_t parent = sugg->parent[id];
        uint32_t c = s_entry_count (sugg, parent, type);
        if (c > 0)
            cands[(*n)++] = (s_cand_t) { parent, c, is_tag, sugg->disp + sugg->display[parent] };
    }
    for (uint32_t id = sugg->keys.sorted_upto; id < sugg->keys.count && *n < max; id++) {
        if (id >= sugg->cap || sugg->keys.lens[id] < len
            || memcmp (search_strtab_str (&sugg->keys, id), key, len))
            continue;
        uint32_t parent = sugg->parent[id];
        uint32_t c = s_entry_count (sugg, parent, type);
        if (c > 0)
            cands[(*n)++] = (s_cand_t) { parent, c, is_tag, sugg->disp + sugg->display[parent] };
    }
}

static int
s_cand_entry_cmp (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if (x->is_tag != y->is_tag)
        return x->is_tag ? 1 : -1;
    return (x->entry > y->entry) - (x->entry < y->entry);
}

int
search_index_suggest (search_index_t *self, const char *prefix, int type,
                      size_t limit, search_suggestion_t **out)
{
    assert (self);
    assert (out);
    *out = NULL;
    if (!prefix || limit == 0 || type >= SEARCH_TYPE_COUNT)
        return 0;
    if (limit > 50)
        limit = 50;
    char *key = s_key (prefix, strlen (prefix));
    if (!key)
        return 0;
    size_t len = strlen (key);
    size_t max = 2 * (S_SUGGEST_SCAN_MAX + S_TAIL_MAX);
    s_cand_t *cands = len ? malloc (max * sizeof *cands) : NULL;
    if (len && !cands) {
        free (key);
        return -1;
    }
    size_t n = 0;
    if (len) {
        s_collect (&self->sugg_titles, key, len, type, false, cands, &n, max);
        s_collect (&self->sugg_tags, key, len, type, true, cands, &n, max);
    }
    free (key);
    //  a title can be reached through its full key and suffix keys: dedupe
    if (n > 1)
        qsort (cands, n, sizeof *cands, s_cand_entry_cmp);
    size_t uniq = 0;
    for (size_t i = 0; i < n; i++)
        if (uniq == 0 || cands[uniq - 1].entry != cands[i].entry
            || cands[uniq - 1].is_tag != cands[i].is_tag)
            cands[uniq++] = cands[i];
    if (uniq > 1)
        qsort (cands, uniq, sizeof *cands, s_cand_cmp);
    size_t count = uniq < limit ? uniq : limit;
    search_suggestion_t *items = count ? calloc (count, sizeof *items) : NULL;
    if (count && !items) {
        free (cands);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        items[i].text = strdup (cands[i].text);
        items[i].is_tag = cands[i].is_tag;
        items[i].count = cands[i].count;
        if (!items[i].text) {
            search_suggestions_free (&items, i);
            free (cands);
            return -1;
        }
    }
    free (cands);
    *out = items;
    return (int) count;
}

void
search_suggestions_free (search_suggestion_t **items_p, size_t count)
{
    assert (items_p);
    if (!*items_p)
        return;
    for (size_t i = 0; i < count; i++)
        free ((*items_p)[i].text);
    free (*items_p);
    *items_p = NULL;
}
