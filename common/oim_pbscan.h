/*  oim_pbscan — reads the top-level fields of protobuf bytes without unpacking them.

    The ingest endpoint must know who sent a batch and which batch it is before it spends
    memory or CPU on the events (issue 13 item 2): a bounded walk over the wire format
    (varint keys and lengths) finds an IngestBatch's batch_id and api_key and counts its
    events, touching nothing past the buffer and allocating nothing. The walk follows the
    protobuf encoding rules protobuf-c applies when it unpacks, so bytes this module calls
    malformed do not unpack either; the converse is not promised (a nested message may still
    be malformed: only the top level is walked).

    Every function is safe on any input: arbitrary bytes, any size, NULL with size 0.
*/
#ifndef OIM_PBSCAN_H_INCLUDED
#define OIM_PBSCAN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  One top-level field.
typedef struct {
    uint32_t number;            //  field number, >= 1
    int wire_type;              //  0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
    uint64_t varint;            //  wire type 0: the value; 1 and 5: the raw little-endian value
    const uint8_t *data;        //  wire type 2: the bytes, inside the scanned buffer (borrowed)
    size_t size;                //  wire type 2: their length
} oim_pbscan_field_t;

//  A cursor over a buffer; zero it, or use oim_pbscan_init.
typedef struct {
    const uint8_t *p, *end;
} oim_pbscan_t;

void oim_pbscan_init (oim_pbscan_t *scan, const void *data, size_t size);

//  Reads the next field. Returns 1 with *field filled, 0 at the end of the buffer, -1 when
//  the bytes are malformed (a truncated or over-long varint, field number 0 or above
//  2^29-1, a length past the end, a group or an unknown wire type); the cursor then stays
//  where it was.
int oim_pbscan_next (oim_pbscan_t *scan, oim_pbscan_field_t *field);

//  What an IngestBatch (proto/ingest.proto) holds, found without unpacking it.
#define OIM_PBSCAN_BATCH_ID_BYTES 256           //  longer ids are cut (batch_id_cut)
typedef struct {
    char batch_id [OIM_PBSCAN_BATCH_ID_BYTES];  //  field 1, NUL-terminated; "" when absent
    bool batch_id_cut;                          //  longer than the buffer (or holds a NUL)
    const uint8_t *api_key;                     //  field 2, borrowed; NULL when absent
    size_t api_key_size;
    size_t events;                              //  how many field 3 and 4 entries (demand and organisation events)
} oim_pbscan_batch_t;

//  Scans an IngestBatch. For a field given twice the last one counts (as when unpacking).
//  Returns 0, or -1 when the bytes are malformed or fields 1-3 have a wire type other than
//  length-delimited (then *batch holds what was found before the fault, batch_id included).
int oim_pbscan_ingest_batch (const void *data, size_t size, oim_pbscan_batch_t *batch);

//  Self test.
void oim_pbscan_test (bool verbose);

#endif
