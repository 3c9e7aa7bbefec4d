/*  gateway_openapi — GET /v1/openapi.json (OpenAPI 3.1), true by construction: the paths come
    from the route table (gateway_routes.c), each operation's words and message types from one
    description table (gateway_openapi.c), and the component schemas from the protobuf-c
    descriptors, with the field names oim_pbjson emits:
      int32/int64/uint* -> integer (int64 as a JSON number, format int64); enums -> string with
      the value names; bytes -> string (base64); map<string,string> -> object of strings;
      oneof members -> optional properties (at most one present); message fields -> $ref or null.
    No property is "required" and extra properties are allowed: replies may omit empty fields
    and handlers add fields beside a message's (e.g. "api_key" shown once).
*/
#ifndef GATEWAY_OPENAPI_H_INCLUDED
#define GATEWAY_OPENAPI_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>

//  The document (caller owns the reference).
json_t *gateway_openapi_document (void);

//  Writes the operation of the first route of the table that has no description into
//  missing (size bytes) and returns false; true when every route is described.
bool gateway_openapi_complete (char *missing, size_t size);

#endif
