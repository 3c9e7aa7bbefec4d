/*  search_strtab.c — see search_strtab.h. */
#include "search_strtab.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
s_hash (const char *s, size_t len)
{
    uint32_t h = 2166136261u;           //  FNV-1a
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 16777619u;
    }
    return h ? h : 1;
}

void
search_strtab_init (search_strtab_t *self)
{
    memset (self, 0, sizeof *self);
}

void
search_strtab_free (search_strtab_t *self)
{
    free (self->arena);
    free (self->offs);
    free (self->lens);
    free (self->hashes);
    free (self->slots);
    free (self->sorted);
    memset (self, 0, sizeof *self);
}

uint32_t
search_strtab_find (const search_strtab_t *self, const char *s, size_t len)
{
    if (self->nslots == 0)
        return SEARCH_STRTAB_NONE;
    uint32_t h = s_hash (s, len);
    uint32_t mask = self->nslots - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t slot = self->slots[i];
        if (slot == 0)
            return SEARCH_STRTAB_NONE;
        uint32_t id = slot - 1;
        if (self->hashes[id] == h && self->lens[id] == len
            && memcmp (self->arena + self->offs[id], s, len) == 0)
            return id;
    }
}

static int
s_rehash (search_strtab_t *self, uint32_t nslots)
{
    uint32_t *slots = calloc (nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (uint32_t id = 0; id < self->count; id++) {
        uint32_t i = self->hashes[id] & (nslots - 1);
        while (slots[i])
            i = (i + 1) & (nslots - 1);
        slots[i] = id + 1;
    }
    free (self->slots);
    self->slots = slots;
    self->nslots = nslots;
    return 0;
}

static int
s_reserve (search_strtab_t *self, size_t len)
{
    if (self->count == self->cap) {
        uint32_t cap = self->cap ? self->cap + self->cap / 2 : 64;
        uint32_t *offs = realloc (self->offs, cap * sizeof *offs);
        if (!offs)
            return -1;
        self->offs = offs;
        uint32_t *lens = realloc (self->lens, cap * sizeof *lens);
        if (!lens)
            return -1;
        self->lens = lens;
        uint32_t *hashes = realloc (self->hashes, cap * sizeof *hashes);
        if (!hashes)
            return -1;
        self->hashes = hashes;
        self->cap = cap;
    }
    if (self->arena_len + len + 1 > self->arena_cap) {
        size_t cap = self->arena_cap ? self->arena_cap + self->arena_cap / 2 : 4096;
        while (cap < self->arena_len + len + 1)
            cap *= 2;
        if (cap > UINT32_MAX)
            return -1;
        char *arena = realloc (self->arena, cap);
        if (!arena)
            return -1;
        self->arena = arena;
        self->arena_cap = cap;
    }
    if ((uint64_t) (self->count + 1) * 4 > (uint64_t) self->nslots * 3)
        return s_rehash (self, self->nslots ? self->nslots * 2 : 128);
    return 0;
}

uint32_t
search_strtab_intern (search_strtab_t *self, const char *s, size_t len, bool *created)
{
    uint32_t id = search_strtab_find (self, s, len);
    if (created)
        *created = false;
    if (id != SEARCH_STRTAB_NONE)
        return id;
    if (len >= UINT32_MAX || self->count >= UINT32_MAX - 1 || s_reserve (self, len))
        return SEARCH_STRTAB_NONE;
    id = self->count++;
    self->offs[id] = (uint32_t) self->arena_len;
    self->lens[id] = (uint32_t) len;
    self->hashes[id] = s_hash (s, len);
    memcpy (self->arena + self->arena_len, s, len);
    self->arena[self->arena_len + len] = 0;
    self->arena_len += len + 1;
    uint32_t mask = self->nslots - 1;
    uint32_t i = self->hashes[id] & mask;
    while (self->slots[i])
        i = (i + 1) & mask;
    self->slots[i] = id + 1;
    if (created)
        *created = true;
    return id;
}

static int
s_cmp_ids (const search_strtab_t *self, uint32_t a, uint32_t b)
{
    uint32_t la = self->lens[a], lb = self->lens[b];
    int c = memcmp (self->arena + self->offs[a], self->arena + self->offs[b], la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

//  qsort has no context argument in C11: sort with a local merge sort instead.
static void
s_merge_sort (const search_strtab_t *self, uint32_t *v, uint32_t *tmp, uint32_t n)
{
    if (n < 2)
        return;
    if (n <= 16) {
        for (uint32_t i = 1; i < n; i++) {
            uint32_t x = v[i], j = i;
            while (j > 0 && s_cmp_ids (self, v[j - 1], x) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    uint32_t h = n / 2;
    s_merge_sort (self, v, tmp, h);
    s_merge_sort (self, v + h, tmp, n - h);
    uint32_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = s_cmp_ids (self, v[i], v[j]) <= 0 ? v[i++] : v[j++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy (v, tmp, n * sizeof *v);
}

int
search_strtab_sort (search_strtab_t *self, uint32_t max_tail)
{
    uint32_t tail = self->count - self->sorted_upto;
    if (tail == 0 || (max_tail && tail <= max_tail))
        return 0;
    uint32_t *merged = malloc ((size_t) self->count * sizeof *merged);
    uint32_t *tmp = malloc ((size_t) (self->count) * sizeof *tmp);
    if (!merged || !tmp) {
        free (merged);
        free (tmp);
        return -1;
    }
    uint32_t *fresh = tmp + self->sorted_upto;      //  tail ids, sorted in place
    for (uint32_t k = 0; k < tail; k++)
        fresh[k] = self->sorted_upto + k;
    s_merge_sort (self, fresh, merged, tail);
    memmove (tmp, fresh, tail * sizeof *tmp);       //  tmp[0..tail) = sorted tail
    uint32_t i = 0, j = 0, k = 0;
    while (i < self->sorted_upto && j < tail)
        merged[k++] = s_cmp_ids (self, self->sorted[i], tmp[j]) <= 0 ? self->sorted[i++] : tmp[j++];
    while (i < self->sorted_upto)
        merged[k++] = self->sorted[i++];
    while (j < tail)
        merged[k++] = tmp[j++];
    free (tmp);
    free (self->sorted);
    self->sorted = merged;
    self->sorted_upto = self->count;
    return 0;
}

uint32_t
search_strtab_lower_bound (const search_strtab_t *self, const char *s, size_t len)
{
    uint32_t lo = 0, hi = self->sorted_upto;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t id = self->sorted[mid];
        uint32_t l = self->lens[id];
        int c = memcmp (self->arena + self->offs[id], s, l < len ? l : len);
        if (c < 0 || (c == 0 && l < len))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t
search_strtab_bytes (const search_strtab_t *self)
{
    return self->arena_cap + (size_t) self->cap * 12 + (size_t) self->nslots * 4
           + (size_t) self->sorted_upto * 4;
}
