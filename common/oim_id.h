/*  oim_id — entity ids: "<prefix>_" + 13 Crockford base32 characters of the creation time in
    microseconds + 8 of randomness (40 bits, libsodium). Ids made by one process are strictly
    increasing (the time part never repeats or goes back), ids from different processes sort by
    creation time to the microsecond, and a collision needs the same microsecond and the same
    40 random bits.
*/
#ifndef OIM_ID_H_INCLUDED
#define OIM_ID_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define OIM_ID_SIZE 40      //  enough for any prefix up to 16 characters and the null

//  Writes a new id with the given prefix ("org", "dem", ...) into buf (OIM_ID_SIZE bytes).
void oim_id_new (const char *prefix, char *buf);

//  n ids at once (as n calls of oim_id_new, increasing), with one draw of randomness for all
//  (the system call per id is most of oim_id_new's cost). bufs: n buffers of OIM_ID_SIZE.
void oim_id_new_n (const char *prefix, char (*bufs) [OIM_ID_SIZE], size_t n);

//  True when text is an id with this prefix (shape only: it may not exist).
bool oim_id_valid (const char *text, const char *prefix);

#endif
