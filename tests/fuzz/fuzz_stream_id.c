/*  fuzz_stream_id — the stream id parser behind the SSE Last-Event-ID header
    (oim_stream_id_parse, which gateway_sse.c's s_position uses) and the id order
    (oim_stream_id_compare, oim_stream_id_cmp). The input is up to three texts separated by
    NUL bytes. Checked against an oracle written without strtoull:
    - a text is accepted exactly when it is <digits> or <digits>-<digits> and both numbers fit
      in 64 bits; a refused text leaves 0-0;
    - an accepted id printed as "<ms>-<seq>" (what s_position hands to XREAD) parses back to
      the same id;
    - the order is the numeric order of (ms, seq) (digit strings compared by length once the
      leading zeros are gone, then bytewise), antisymmetric, and the text form agrees.  */
#include "oim_stream.h"
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  A run of digits at text: its start past leading zeros and length ("0" keeps one digit).
typedef struct {
    const char *digits;
    size_t len;
} number_t;

//  Reads digits at *p into *n and moves *p past them. False when there is none.
static int
s_number (const char **p, number_t *n)
{
    const char *start = *p;
    while (**p >= '0' && **p <= '9')
        (*p)++;
    if (*p == start)
        return 0;
    while (start + 1 < *p && *start == '0')
        start++;
    n->digits = start;
    n->len = (size_t) (*p - start);
    return 1;
}

static int
s_fits (number_t n)
{
    return n.len < 20 || (n.len == 20 && strncmp (n.digits, "18446744073709551615", 20) <= 0);
}

static int
s_number_order (number_t a, number_t b)
{
    if (a.len != b.len)
        return a.len < b.len? -1: 1;
    int rc = strncmp (a.digits, b.digits, a.len);
    return (rc > 0) - (rc < 0);
}

//  The oracle's reading: 1 when text is an id, with its numbers in *ms and *seq.
static int
s_oracle (const char *text, number_t *ms, number_t *seq)
{
    const char *p = text;
    *seq = (number_t) { "0", 1 };
    if (!s_number (&p, ms))
        return 0;
    if (*p == '-') {
        p++;
        if (!s_number (&p, seq))
            return 0;
    }
    return *p == 0 && s_fits (*ms) && s_fits (*seq);
}

static void
s_check_one (const char *text, oim_stream_id_t *id, number_t *ms, number_t *seq, int *valid)
{
    *valid = s_oracle (text, ms, seq);
    int rc = oim_stream_id_parse (text, id);
    assert ((rc == 0) == *valid);
    if (rc) {
        assert (id->ms == 0 && id->seq == 0);
        return;
    }
    char printed [OIM_STREAM_ID_SIZE];
    snprintf (printed, sizeof printed, "%llu-%llu", (unsigned long long) id->ms,
              (unsigned long long) id->seq);
    oim_stream_id_t again;
    assert (oim_stream_id_parse (printed, &again) == 0);
    assert (oim_stream_id_compare (*id, again) == 0);
    assert (oim_stream_id_cmp (text, printed) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    memcpy (text, data, size);
    text [size] = 0;
    const char *part [3];
    oim_stream_id_t id [3];
    number_t ms [3], seq [3];
    int valid [3];
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        part [i] = p;
        s_check_one (p, &id [i], &ms [i], &seq [i], &valid [i]);
        p += strlen (p);
        if (p < text + size)
            p++;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int order = oim_stream_id_compare (id [i], id [j]);
            assert (order == -oim_stream_id_compare (id [j], id [i]));
            assert (order == oim_stream_id_cmp (part [i], part [j]));
            if (valid [i] && valid [j]) {
                int expected = s_number_order (ms [i], ms [j]);
                if (!expected)
                    expected = s_number_order (seq [i], seq [j]);
                assert (order == expected);
            }
        }
    free (text);
    return 0;
}
