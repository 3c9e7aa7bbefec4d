/*  oim_api — helpers for API handlers: replies and errors in the SPEC §3 shape, request
    parameters, and the principal's rights.
    Errors are always {"error":{"code":"…","message":"…","field":"…"}}.
*/
#ifndef OIM_API_H_INCLUDED
#define OIM_API_H_INCLUDED

#include "oim_pbjson.h"
#include "api.pb-c.h"

#include <jansson.h>
#include <stdint.h>

//  What an API handler answers: a status and a JSON body (owned; NULL = empty), plus up to
//  four extra headers. Set it with oim_api_ok / oim_api_error.
typedef struct {
    uint32_t status;
    json_t *body;
    char *header_names [4];
    char *header_values [4];
} oim_api_reply_t;

//  Sets status and body (the reply takes the reference to body).
void oim_api_ok (oim_api_reply_t *reply, uint32_t status, json_t *body);

//  Sets an error reply; field may be NULL. code: "invalid", "unauthorized", "forbidden",
//  "not_found", "conflict", "too_large", "unprocessable", "rate_limited", "unavailable",
//  "timeout", "internal" — or a more precise one.
void oim_api_error (oim_api_reply_t *reply, uint32_t status, const char *code,
                    const char *field, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

//  The error for a failed pbjson decode: 400 "invalid" naming the field.
void oim_api_decode_error (oim_api_reply_t *reply, const oim_pbjson_error_t *error);

//  Sets a non-JSON reply (issue 17: CSV exports): text (copied) is sent as the body as is,
//  with content_type ("text/csv; charset=utf-8") as its Content-Type (the gateway uses the
//  reply's Content-Type header instead of JSON's).
void oim_api_text (oim_api_reply_t *reply, uint32_t status, const char *content_type,
                   const char *text, size_t size);

//  Adds a response header (copied).
void oim_api_header (oim_api_reply_t *reply, const char *name, const char *value);

//  Frees what the reply owns.
void oim_api_reply_clear (oim_api_reply_t *reply);

//  Path or query parameter by name, or NULL.
const char *oim_api_param (const Oim__V1__ApiRequest *request, const char *name);
const char *oim_api_query (const Oim__V1__ApiRequest *request, const char *name);

//  Parses the request body as a JSON object. Returns it (caller decrefs) or NULL with a 400
//  reply set. An empty body is refused as well.
json_t *oim_api_body (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply);

//  The JSON bytes a reply sends (caller frees), for the template and tests.
char *oim_api_dump (json_t *body);

//  Role names as the API and logs show them ("agency", ..., "anonymous").
const char *oim_api_role_name (Oim__V1__Role role);

#endif
