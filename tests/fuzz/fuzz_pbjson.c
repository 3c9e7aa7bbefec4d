/*  fuzz_pbjson — JSON→protobuf (oim_pbjson_decode) on the messages the API accepts from
    clients: a Demand and an Organization. The first input byte picks the message; the rest is
    JSON text. A decoded message is encoded back to JSON (the reply path).  */
#include "oim_pbjson.h"
#include "registry.pb-c.h"
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *descriptor = (data [0] & 1)
        ? &oim__v1__organization__descriptor: &oim__v1__demand__descriptor;
    json_t *object = json_loadb ((const char *) data + 1, size - 1, JSON_DECODE_ANY, NULL);
    if (!object)
        return 0;
    oim_pbjson_error_t error;
    ProtobufCMessage *message = oim_pbjson_decode (descriptor, object, NULL, &error);
    if (message) {
        json_t *encoded = oim_pbjson_encode (message, 0);
        json_decref (encoded);
        protobuf_c_message_free_unpacked (message, NULL);
    }
    json_decref (object);
    return 0;
}
