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

static char *
s_map_n (const char *text, size_t len, utf8proc_option_t options)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map ((const utf8proc_uint8_t *) text, (utf8proc_ssize_t) len,
                                       &out, UTF8PROC_STABLE | options);
    return n < 0 ? NULL : (char *) out;
}

char *
oim_utf8_fold_n (const char *text, size_t len)
{
    return s_map_n (text, len, UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
}

char *
oim_utf8_nfc_n (const char *text, size_t len)
{
    return s_map_n (text, len, UTF8PROC_COMPOSE);
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
    return oim_utf8_length (text, strlen (text));
}

size_t
oim_utf8_length (const char *text, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char) text[i] & 0xC0) != 0x80)
            count++;
    return count;
}

size_t
oim_utf8_cut (const char *text, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char) text[n] & 0xC0) == 0x80)
        n--;
    return n;
}

bool
oim_utf8_has_controls (const char *text)
{
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if ((*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7F)
            return true;
    return false;
}
