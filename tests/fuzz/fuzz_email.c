/*  fuzz_email — the e-mail header encoder (notify_email_encode_header: RFC 2047
    encoded-words, folding) on arbitrary text. The first byte is the header name's length.
    Checked: the result holds no bare CR or LF (only CRLF folds), so no header injection.  */
#include "notify_email.h"
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc (size);
    memcpy (text, data + 1, size - 1);
    text [size - 1] = 0;
    char *header = notify_email_encode_header (text, 2 + data [0] % 30);
    if (header) {
        for (const char *p = header; *p; p++)
            assert ((*p != '\r' || p [1] == '\n') && (*p != '\n' || (p > header && p [-1] == '\r')));
        free (header);
    }
    free (text);
    return 0;
}
