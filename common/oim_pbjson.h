/*  oim_pbjson — JSON <-> protobuf-c messages, driven by the message descriptors.

    The API's JSON field names are the .proto field names (snake_case), so one converter
    serves every entity: the registry decodes request bodies into messages with it, and every
    daemon encodes messages into API replies with it. Decoding is strict, and every refusal
    names the field (JSON path, e.g. "budget_krw.min", "tags[3]"):
      unknown field -> "unknown field"; wrong JSON type -> "must be a string" etc.;
      integer out of the field's range; enum name not known; bytes not base64.
    JSON null for a field means "not given" (the field keeps its default).
    Maps (map<string,string>) are JSON objects; enums are their value names; bytes base64.
*/
#ifndef OIM_PBJSON_H_INCLUDED
#define OIM_PBJSON_H_INCLUDED

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

typedef struct {
    char field [128];       //  JSON path of the offending field
    char message [160];
} oim_pbjson_error_t;

//  Fields listed here are refused on decode as if unknown (e.g. "id", "version" that clients
//  may not set); NULL-terminated, may be NULL.
typedef const char *const *oim_pbjson_deny_t;

//  Decodes a JSON object into a new message. On success returns it (free it with
//  protobuf_c_message_free_unpacked (msg, NULL)); on failure returns NULL, fills *error and
//  allocates nothing.
ProtobufCMessage *oim_pbjson_decode (const ProtobufCMessageDescriptor *descriptor,
                                     json_t *object, oim_pbjson_deny_t deny,
                                     oim_pbjson_error_t *error);

//  Decodes object's fields into an existing message, replacing only the fields present
//  (a JSON merge, used by PATCH). Returns 0, or -1 with *error filled; on failure the message
//  may be partly updated, so callers decode into a copy.
int oim_pbjson_merge (ProtobufCMessage *message, json_t *object, oim_pbjson_deny_t deny,
                      oim_pbjson_error_t *error);

#define OIM_PBJSON_OMIT_EMPTY 1     //  leave out "", 0, false, empty arrays and unset messages

//  Encodes a message as a new JSON object (caller owns the reference).
json_t *oim_pbjson_encode (const ProtobufCMessage *message, int flags);
//  True when field f is a protobuf map (a repeated *Entry message of key and value), which
//  the JSON side is an object (the OpenAPI description uses the same rule).
bool oim_pbjson_is_map (const ProtobufCFieldDescriptor *f);

//  A deep copy of a message (through pack/unpack). Caller frees with free_unpacked.
ProtobufCMessage *oim_pbjson_copy (const ProtobufCMessage *message);

#endif
