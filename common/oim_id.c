/*  oim_id — see oim_id.h. */
#include "oim_id.h"
#include "oim_clock.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char s_alphabet [] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

//  The last time part handed out, so that ids of one process never repeat it. Process-wide
//  by nature: uniqueness is a property of the process, not of an object.
static _Atomic int64_t s_last_us;

static int64_t
s_next_time_us (void)
{
    int64_t now = oim_clock_wall_us ();
    int64_t last = atomic_load (&s_last_us);
    while (true) {
        int64_t next = now > last? now: last + 1;
        if (atomic_compare_exchange_weak (&s_last_us, &last, next))
            return next;
    }
}

//  One id from its 5 random bytes.
static void
s_id_make (const char *prefix, const unsigned char *random, char *buf)
{
    size_t plen = strlen (prefix);
    if (plen > 16)
        plen = 16;
    memcpy (buf, prefix, plen);
    char *p = buf + plen;
    *p++ = '_';
    uint64_t t = (uint64_t) s_next_time_us ();
    for (int i = 12; i >= 0; i--) {
        p [i] = s_alphabet [t & 31];
        t >>= 5;
    }
    p += 13;
    uint64_t r = 0;
    for (int i = 0; i < 5; i++)
        r = (r << 8) | random [i];
    for (int i = 7; i >= 0; i--) {
        p [i] = s_alphabet [r & 31];
        r >>= 5;
    }
    p [8] = 0;
}

void
oim_id_new (const char *prefix, char *buf)
{
    unsigned char random [5];
    randombytes_buf (random, sizeof random);
    s_id_make (prefix, random, buf);
}

void
oim_id_new_n (const char *prefix, char (*bufs) [OIM_ID_SIZE], size_t n)
{
    unsigned char random [5 * 64];
    for (size_t done = 0; done < n; ) {
        size_t chunk = n - done < 64? n - done: 64;
        randombytes_buf (random, 5 * chunk);
        for (size_t i = 0; i < chunk; i++)
            s_id_make (prefix, random + 5 * i, bufs [done + i]);
        done += chunk;
    }
}

bool
oim_id_valid (const char *text, const char *prefix)
{
    if (!text)
        return false;
    size_t plen = strlen (prefix);
    if (strncmp (text, prefix, plen) != 0 || text [plen] != '_')
        return false;
    const char *p = text + plen + 1;
    if (strlen (p) != 21)
        return false;
    for (; *p; p++)
        if (!strchr (s_alphabet, *p))
            return false;
    return true;
}
