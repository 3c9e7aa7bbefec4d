/*  oim_utf8 — UTF-8 validation, NFC normalisation, case folding and lengths, on utf8proc.
    Text in OI Market is UTF-8, stored NFC-normalised (SPEC §2); invalid UTF-8 is a 400.
*/
#ifndef OIM_UTF8_H_INCLUDED
#define OIM_UTF8_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  True when the len bytes at text are valid UTF-8 (no overlongs, no surrogates, no NUL).
bool oim_utf8_valid (const char *text, size_t len);

//  Returns a new NFC-normalised copy of a null-terminated UTF-8 string; the caller frees it.
//  Returns NULL when text is not valid UTF-8 (or on allocation failure).
char *oim_utf8_nfc (const char *text);

//  Returns a new NFC, case-folded copy (for comparisons and tags); caller frees; NULL as above.
char *oim_utf8_fold (const char *text);

//  The same two on `len` bytes (no NUL needed, no validation beyond utf8proc's own):
//  for the analyser, facet values, tags and suggestion keys. NULL on invalid UTF-8.
char *oim_utf8_fold_n (const char *text, size_t len);
char *oim_utf8_nfc_n (const char *text, size_t len);

//  Number of code points in valid UTF-8 text (what "≤ 200 characters" counts).
size_t oim_utf8_chars (const char *text);

//  Number of code points in `len` bytes of UTF-8 (an invalid byte counts one).
size_t oim_utf8_length (const char *text, size_t len);

//  Length of the longest prefix of the `len` bytes at `text` no longer than `max`
//  bytes that ends on a code point boundary (== len when len <= max).
size_t oim_utf8_cut (const char *text, size_t len, size_t max);

//  True when text contains a control character other than tab, newline and carriage return.
bool oim_utf8_has_controls (const char *text);

#endif
