/*  fuzz_ingest — the ingest batch path's network-facing decoding: the scan that reads an
    IngestBatch's id and key without unpacking (oim_pbscan), then the full unpack the registry
    does (oim__v1__ingest_batch__unpack). The two must agree: a batch the scan rejects is
    malformed, and the event count matches the unpacked one when both succeed.  */
#include "oim_pbscan.h"
#include "ingest.pb-c.h"
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    oim_pbscan_batch_t scanned;
    int rc = oim_pbscan_ingest_batch (data, size, &scanned);
    Oim__V1__IngestBatch *batch = oim__v1__ingest_batch__unpack (NULL, size, data);
    if (rc == 0 && batch)
        assert (scanned.events == batch->n_events + batch->n_org_events);
    if (batch)
        oim__v1__ingest_batch__free_unpacked (batch, NULL);
    return 0;
}
