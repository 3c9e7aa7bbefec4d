/*  oim_pbscan — see oim_pbscan.h. Every read is checked against the end of the buffer
    before it happens; no allocation, no recursion, one pass.
*/
#include "oim_pbscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VARINT_BYTES 10
#define MAX_FIELD_NUMBER ((1u << 29) - 1)

void
oim_pbscan_init (oim_pbscan_t *scan, const void *data, size_t size)
{
    scan->p = data;
    scan->end = data? scan->p + size: NULL;
}

//  Reads a varint at *p, not past end. Returns 0 with *p advanced, or -1.
static int
s_varint (const uint8_t **p, const uint8_t *end, uint64_t *value)
{
    uint64_t result = 0;
    const uint8_t *q = *p;
    for (int i = 0; i < MAX_VARINT_BYTES && q < end; i++) {
        uint8_t byte = *q++;
        if (i == MAX_VARINT_BYTES - 1 && byte > 1)
            return -1;                  //  more than 64 bits
        result |= (uint64_t) (byte & 0x7F) << (7 * i);
        if (!(byte & 0x80)) {
            *value = result;
            *p = q;
            return 0;
        }
    }
    return -1;
}

//  Reads the value of a field whose key was read; q is just past the key.
static int
s_value (const uint8_t **q, const uint8_t *end, oim_pbscan_field_t *field)
{
    size_t left = (size_t) (end - *q);
    uint64_t length;
    switch (field->wire_type) {
        case 0:
            return s_varint (q, end, &field->varint);
        case 1:
        case 5: {
            size_t width = field->wire_type == 1? 8: 4;
            if (left < width)
                return -1;
            field->varint = 0;
            for (size_t i = 0; i < width; i++)
                field->varint |= (uint64_t) (*q) [i] << (8 * i);
            *q += width;
            return 0;
        }
        case 2:
            if (s_varint (q, end, &length) || length > (uint64_t) (end - *q))
                return -1;
            field->data = *q;
            field->size = (size_t) length;
            *q += length;
            return 0;
        default:
            return -1;                  //  groups (3, 4) and 6, 7
    }
}

int
oim_pbscan_next (oim_pbscan_t *scan, oim_pbscan_field_t *field)
{
    if (!scan->p || scan->p >= scan->end)
        return 0;
    const uint8_t *q = scan->p;
    uint64_t key;
    if (s_varint (&q, scan->end, &key) || (key >> 3) == 0 || (key >> 3) > MAX_FIELD_NUMBER)
        return -1;
    memset (field, 0, sizeof *field);
    field->number = (uint32_t) (key >> 3);
    field->wire_type = (int) (key & 7);
    if (s_value (&q, scan->end, field))
        return -1;
    scan->p = q;
    return 1;
}

int
oim_pbscan_ingest_batch (const void *data, size_t size, oim_pbscan_batch_t *batch)
{
    memset (batch, 0, sizeof *batch);
    oim_pbscan_t scan;
    oim_pbscan_init (&scan, data, size);
    oim_pbscan_field_t field;
    int rc;
    while ((rc = oim_pbscan_next (&scan, &field)) == 1) {
        if (field.number > 4)
            continue;
        if (field.wire_type != 2)
            return -1;
        if (field.number == 1) {
            size_t n = field.size < sizeof batch->batch_id? field.size: sizeof batch->batch_id - 1;
            memcpy (batch->batch_id, field.data, n);
            batch->batch_id [n] = 0;
            batch->batch_id_cut = n < field.size || memchr (field.data, 0, n) != NULL;
        }
        else
        if (field.number == 2) {
            batch->api_key = field.data;
            batch->api_key_size = field.size;
        }
        else
            batch->events++;
    }
    return rc;
}

//  ---------------------------------------------------------------------------------------
//  Self test

#define CHECK(cond) do { if (!(cond)) { fprintf (stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort (); } } while (0)

//  Every prefix and every single-byte corruption of buf scans without reading past it
//  (run under ASan, a heap copy of the exact size makes an overread fatal).
static void
s_test_bounds (const uint8_t *buf, size_t size)
{
    for (size_t cut = 0; cut <= size; cut++) {
        uint8_t *copy = malloc (cut? cut: 1);
        memcpy (copy, buf, cut);
        oim_pbscan_batch_t batch;
        oim_pbscan_ingest_batch (copy, cut, &batch);
        for (size_t i = 0; i < cut; i++)
            for (int bit = 0; bit < 8; bit++) {
                copy [i] ^= (uint8_t) (1 << bit);
                oim_pbscan_ingest_batch (copy, cut, &batch);
                CHECK (strlen (batch.batch_id) < sizeof batch.batch_id);
                CHECK (!batch.api_key || (batch.api_key >= copy
                       && batch.api_key + batch.api_key_size <= copy + cut));
                copy [i] ^= (uint8_t) (1 << bit);
            }
        free (copy);
    }
}

void
oim_pbscan_test (bool verbose)
{
    if (verbose)
        printf (" * oim_pbscan: ");
    //  batch_id "b1", api_key "k", two events, an unknown varint field 9 = 300, a fixed32.
    static const uint8_t good [] = { 0x0A, 2, 'b', '1', 0x12, 1, 'k', 0x1A, 0, 0x1A, 2, 0x08,
                                     0x01, 0x48, 0xAC, 0x02, 0x55, 1, 2, 3, 4 };
    oim_pbscan_batch_t batch;
    CHECK (oim_pbscan_ingest_batch (good, sizeof good, &batch) == 0);
    CHECK (strcmp (batch.batch_id, "b1") == 0 && !batch.batch_id_cut);
    CHECK (batch.api_key_size == 1 && batch.api_key [0] == 'k' && batch.events == 2);
    oim_pbscan_t scan;
    oim_pbscan_field_t field;
    oim_pbscan_init (&scan, good + 13, 3);
    CHECK (oim_pbscan_next (&scan, &field) == 1 && field.number == 9 && field.varint == 300);
    CHECK (oim_pbscan_next (&scan, &field) == 0);
    //  Empty input is an empty message; NULL too.
    CHECK (oim_pbscan_ingest_batch (NULL, 0, &batch) == 0 && batch.events == 0);
    CHECK (oim_pbscan_ingest_batch ("", 0, &batch) == 0 && !batch.api_key);
    //  Malformed: truncated length, field 0, group, wrong wire type for api_key, 11-byte
    //  varint, length past the end.
    static const uint8_t bad1 [] = { 0x0A, 5, 'a' };
    static const uint8_t bad2 [] = { 0x00, 1 };
    static const uint8_t bad3 [] = { 0x0B, 0x0C };
    static const uint8_t bad4 [] = { 0x10, 1 };
    static const uint8_t bad5 [] = { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F };
    static const uint8_t bad6 [] = { 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 'x' };
    CHECK (oim_pbscan_ingest_batch (bad1, sizeof bad1, &batch) == -1);
    CHECK (oim_pbscan_ingest_batch (bad2, sizeof bad2, &batch) == -1);
    CHECK (oim_pbscan_ingest_batch (bad3, sizeof bad3, &batch) == -1);
    CHECK (oim_pbscan_ingest_batch (bad4, sizeof bad4, &batch) == -1);
    CHECK (oim_pbscan_ingest_batch (bad5, sizeof bad5, &batch) == -1);
    CHECK (oim_pbscan_ingest_batch (bad6, sizeof bad6, &batch) == -1);
    //  The last batch_id wins; a long one is cut and says so; one with a NUL says so.
    uint8_t two [] = { 0x0A, 1, 'x', 0x0A, 1, 'y' };
    CHECK (oim_pbscan_ingest_batch (two, sizeof two, &batch) == 0);
    CHECK (strcmp (batch.batch_id, "y") == 0);
    uint8_t longer [3 + 300];
    longer [0] = 0x0A; longer [1] = 0xAC; longer [2] = 0x02;        //  length 300
    memset (longer + 3, 'i', 300);
    CHECK (oim_pbscan_ingest_batch (longer, sizeof longer, &batch) == 0 && batch.batch_id_cut);
    CHECK (strlen (batch.batch_id) == OIM_PBSCAN_BATCH_ID_BYTES - 1);
    uint8_t nul [] = { 0x0A, 3, 'a', 0, 'b' };
    CHECK (oim_pbscan_ingest_batch (nul, sizeof nul, &batch) == 0 && batch.batch_id_cut);
    s_test_bounds (good, sizeof good);
    s_test_bounds (bad6, sizeof bad6);
    //  Random bytes: never crash, never point outside.
    uint32_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        uint8_t junk [64];
        size_t n = (size_t) (round % 65);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            junk [i] = (uint8_t) (seed >> 16);
        }
        uint8_t *copy = malloc (n? n: 1);
        memcpy (copy, junk, n);
        if (oim_pbscan_ingest_batch (copy, n, &batch) == 0)
            CHECK (!batch.api_key || batch.api_key + batch.api_key_size <= copy + n);
        free (copy);
    }
    if (verbose)
        printf ("OK\n");
}
