/*  oim_api — see oim_api.h. */
#include "oim_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
oim_api_ok (oim_api_reply_t *reply, uint32_t status, json_t *body)
{
    if (reply->body)
        json_decref (reply->body);
    reply->status = status;
    reply->body = body;
}

void
oim_api_text (oim_api_reply_t *reply, uint32_t status, const char *content_type,
              const char *text, size_t size)
{
    oim_api_ok (reply, status, json_stringn (text, size));
    oim_api_header (reply, "Content-Type", content_type);
}

void
oim_api_error (oim_api_reply_t *reply, uint32_t status, const char *code, const char *field,
               const char *format, ...)
{
    char message [512];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    json_t *error = json_pack ("{s:s,s:s}", "code", code, "message", message);
    if (field && *field)
        json_object_set_new (error, "field", json_string (field));
    oim_api_ok (reply, status, json_pack ("{s:o}", "error", error));
}

void
oim_api_decode_error (oim_api_reply_t *reply, const oim_pbjson_error_t *error)
{
    oim_api_error (reply, 400, "invalid", error->field, "%s %s", error->field, error->message);
}

void
oim_api_header (oim_api_reply_t *reply, const char *name, const char *value)
{
    for (int i = 0; i < 4; i++)
        if (!reply->header_names [i]) {
            reply->header_names [i] = strdup (name);
            reply->header_values [i] = strdup (value);
            return;
        }
}

void
oim_api_reply_clear (oim_api_reply_t *reply)
{
    if (reply->body)
        json_decref (reply->body);
    for (int i = 0; i < 4; i++) {
        free (reply->header_names [i]);
        free (reply->header_values [i]);
    }
    memset (reply, 0, sizeof *reply);
}

const char *
oim_api_param (const Oim__V1__ApiRequest *request, const char *name)
{
    for (size_t i = 0; i < request->n_params; i++)
        if (strcmp (request->params [i]->key, name) == 0)
            return request->params [i]->value;
    return NULL;
}

const char *
oim_api_query (const Oim__V1__ApiRequest *request, const char *name)
{
    for (size_t i = 0; i < request->n_query; i++)
        if (strcmp (request->query [i]->key, name) == 0)
            return request->query [i]->value;
    return NULL;
}

json_t *
oim_api_body (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    if (request->body.len == 0) {
        oim_api_error (reply, 400, "invalid", NULL, "a JSON object body is required");
        return NULL;
    }
    json_error_t error;
    json_t *body = json_loadb ((const char *) request->body.data, request->body.len,
                               JSON_REJECT_DUPLICATES, &error);
    if (!body) {
        oim_api_error (reply, 400, "invalid", NULL, "malformed JSON: %s", error.text);
        return NULL;
    }
    if (!json_is_object (body)) {
        json_decref (body);
        oim_api_error (reply, 400, "invalid", NULL, "the body must be a JSON object");
        return NULL;
    }
    return body;
}

char *
oim_api_dump (json_t *body)
{
    return body? json_dumps (body, JSON_COMPACT | JSON_ENCODE_ANY): strdup ("");
}

const char *
oim_api_role_name (Oim__V1__Role role)
{
    switch (role) {
        case OIM__V1__ROLE__ROLE_AGENCY: return "agency";
        case OIM__V1__ROLE__ROLE_COMPANY: return "company";
        case OIM__V1__ROLE__ROLE_STARTUP: return "startup";
        case OIM__V1__ROLE__ROLE_PUBLISHER: return "publisher";
        default: return "anonymous";
    }
}
