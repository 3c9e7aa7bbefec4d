/*  search_strtab.h — internal: an append-only string → dense id table.

    Strings live in one arena; ids are 0, 1, 2, ... in insertion order and never
    change. A lazily maintained sorted view (by bytes) serves prefix scans,
    typo walks and suggestions: ids below `sorted_upto` are in `sorted`, newer
    ones form an unsorted tail that callers scan linearly until
    search_strtab_sort merges it (done when the tail grows past a threshold).
    Not part of the public API.
*/
#ifndef SEARCH_STRTAB_H_INCLUDED
#define SEARCH_STRTAB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *offs;             //  per id: arena offset
    uint32_t *lens;             //  per id: length in bytes
    uint32_t *hashes;           //  per id
    uint32_t count, cap;
    uint32_t *slots;            //  open addressing; id + 1, 0 = empty
    uint32_t nslots;            //  power of two
    uint32_t *sorted;           //  ids < sorted_upto, in byte order
    uint32_t sorted_upto;
} search_strtab_t;

#define SEARCH_STRTAB_NONE UINT32_MAX

void search_strtab_init (search_strtab_t *self);
void search_strtab_free (search_strtab_t *self);

//  Id of the string, or SEARCH_STRTAB_NONE.
uint32_t search_strtab_find (const search_strtab_t *self, const char *s, size_t len);

//  Id of the string, adding it when new (*created set). Returns
//  SEARCH_STRTAB_NONE when memory is short (the table is unchanged).
uint32_t search_strtab_intern (search_strtab_t *self, const char *s, size_t len, bool *created);

static inline const char *
search_strtab_str (const search_strtab_t *self, uint32_t id)
{
    return self->arena + self->offs[id];
}

//  Merges the unsorted tail into the sorted view when it is longer than
//  `max_tail` ids (0 = always). Returns 0 or -1 on no memory (view unchanged).
int search_strtab_sort (search_strtab_t *self, uint32_t max_tail);

//  First position in the sorted view whose string is ≥ s (byte order).
uint32_t search_strtab_lower_bound (const search_strtab_t *self, const char *s, size_t len);

//  Bytes held (for memory statistics).
size_t search_strtab_bytes (const search_strtab_t *self);

#endif
