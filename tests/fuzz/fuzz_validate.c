/*  fuzz_validate — the ingest path's checks that need no Redis, on decoded IngestBatch
    bytes: registry_validate.c's text rules (external_id), business numbers (org_ref),
    registry_validate_demand (each upsert's demand, as registry_ingest.c's s_check_event)
    and registry_validate_org (each organisation event, as registry_profile_events.c).
    Checked: a refusal names a field and is 400 or 422; an accepted entity is a fixed
    point: packed, unpacked and validated again it is accepted and packs to the same bytes
    (normalisation — NFC, trimming, tag folding, canonical dates and business numbers —
    is idempotent, so a stored entity re-saved does not change).  */
#include "registry.h"
#include "ingest.pb-c.h"
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef int (validate_fn) (ProtobufCMessage *entity, registry_err_t *err);

static int
s_demand (ProtobufCMessage *entity, registry_err_t *err)
{
    return registry_validate_demand ((Oim__V1__Demand *) entity, "demand.", err);
}

static int
s_org (ProtobufCMessage *entity, registry_err_t *err)
{
    return registry_validate_org ((Oim__V1__Organization *) entity, err);
}

static uint8_t *
s_pack (const ProtobufCMessage *entity, size_t *size)
{
    *size = protobuf_c_message_get_packed_size (entity);
    uint8_t *bytes = malloc (*size + 1);
    protobuf_c_message_pack (entity, bytes);
    return bytes;
}

//  Validates entity (normalised in place); when accepted, checks it is a fixed point.
static void
s_check (ProtobufCMessage *entity, validate_fn *validate)
{
    registry_err_t err = { 0 };
    if (validate (entity, &err)) {
        assert ((err.status == 400 || err.status == 422) && *err.field && *err.message);
        return;
    }
    size_t size, again_size;
    uint8_t *bytes = s_pack (entity, &size);
    ProtobufCMessage *again = protobuf_c_message_unpack (entity->descriptor, NULL, size, bytes);
    assert (again);
    assert (validate (again, &err) == 0);
    uint8_t *again_bytes = s_pack (again, &again_size);
    assert (again_size == size && memcmp (bytes, again_bytes, size) == 0);
    free (again_bytes);
    protobuf_c_message_free_unpacked (again, NULL);
    free (bytes);
}

static void
s_event (Oim__V1__DemandEvent *e)
{
    registry_err_t err = { 0 };
    if (registry_validate_text (&e->external_id, "external_id", 200, true, false, &err) == 0) {
        char *once = strdup (e->external_id);
        assert (registry_validate_text (&e->external_id, "external_id", 200, true, false,
                                        &err) == 0 && strcmp (once, e->external_id) == 0);
        free (once);
    }
    char digits [11];
    if (registry_validate_business_number (e->org_ref, digits)) {
        char again [11];
        assert (strlen (digits) == 10 && registry_validate_business_number (digits, again)
                && strcmp (digits, again) == 0);
    }
    if (e->demand)
        s_check (&e->demand->base, s_demand);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    Oim__V1__IngestBatch *batch = oim__v1__ingest_batch__unpack (NULL, size, data);
    if (!batch)
        return 0;
    for (size_t i = 0; i < batch->n_events; i++)
        s_event (batch->events [i]);
    for (size_t i = 0; i < batch->n_org_events; i++)
        if (batch->org_events [i]->organization)
            s_check (&batch->org_events [i]->organization->base, s_org);
    oim__v1__ingest_batch__free_unpacked (batch, NULL);
    return 0;
}
