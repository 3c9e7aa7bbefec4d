/*  oim_utf8 — see oim_utf8.h. */
#include "oim_utf8.h"

#include <string.h>
#include <utf8proc.h>

bool
oim_utf8_valid (const char *text, size_t len)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *) text;
    utf8proc_ssize_t left = (utf8proc_ssize_t) len;
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate (p, left, &cp);
        if (n <= 0 || cp == 0)
            return false;
        p += n;
        left -= n;
    }
    return true;
}

static char *
s_map (const char *text, utf8proc_option_t options)
{
    if (!text || !oim_utf8_valid (text, strlen (text)))
        return NULL;
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map ((const utf8proc_uint8_t *) text, 0, &out,
                                       UTF8PROC_NULLTERM | UTF8PROC_STABLE | options);
    if (n < 0)
        return NULL;
    return (char *) out;
}

char *
oim_utf8_nfc (const char *text)
{
    return s_map (text, UTF8PROC_COMPOSE);
}

char *
oim_utf8_fold (const char *text)
{
    return s_map (text, UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
}

size_t
oim_utf8_chars (const char *text)
{
    size_t count = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if ((*p & 0xC0) != 0x80)
            count++;
    return count;
}

bool
oim_utf8_has_controls (const char *text)
{
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if ((*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7F)
            return true;
    return false;
}
