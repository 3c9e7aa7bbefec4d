/*  oim_pbjson — see oim_pbjson.h.

    Everything a decode allocates comes from malloc, in the shapes protobuf-c's own unpacker
    makes, so protobuf_c_message_free_unpacked (msg, NULL) frees a decoded message whole.
*/
#include "oim_pbjson.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER(msg, offset) ((void *) ((char *) (msg) + (offset)))

static int
s_fail (oim_pbjson_error_t *error, const char *path, const char *message)
{
    snprintf (error->field, sizeof error->field, "%s", path);
    snprintf (error->message, sizeof error->message, "%s", message);
    return -1;
}

//  Formats a JSON path into out (128 bytes); a path too long is cut, which only shortens the
//  field name an error shows.
static void
s_path (char *out, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (out, 128, format, args);
    va_end (args);
}

static size_t
s_scalar_size (ProtobufCType type)
{
    switch (type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
            return 4;
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
            return 8;
        case PROTOBUF_C_TYPE_FLOAT: return sizeof (float);
        case PROTOBUF_C_TYPE_DOUBLE: return sizeof (double);
        case PROTOBUF_C_TYPE_BOOL: return sizeof (protobuf_c_boolean);
        case PROTOBUF_C_TYPE_STRING: return sizeof (char *);
        case PROTOBUF_C_TYPE_BYTES: return sizeof (ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE: return sizeof (ProtobufCMessage *);
    }
    return 0;
}

static int s_decode_into (ProtobufCMessage *msg, json_t *object, oim_pbjson_deny_t deny,
                          const char *path, oim_pbjson_error_t *error);

//  Integer fields: checks type and range, writes 4 or 8 bytes.
static int
s_decode_integer (const ProtobufCFieldDescriptor *f, json_t *value, void *out,
                  const char *path, oim_pbjson_error_t *error)
{
    if (!json_is_integer (value))
        return s_fail (error, path, "must be an integer");
    json_int_t n = json_integer_value (value);
    switch (f->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
            if (n < INT32_MIN || n > INT32_MAX)
                return s_fail (error, path, "is out of range");
            *(int32_t *) out = (int32_t) n;
            return 0;
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
            if (n < 0 || n > (json_int_t) UINT32_MAX)
                return s_fail (error, path, "is out of range");
            *(uint32_t *) out = (uint32_t) n;
            return 0;
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
            if (n < 0)
                return s_fail (error, path, "must not be negative");
            *(uint64_t *) out = (uint64_t) n;
            return 0;
        default:
            *(int64_t *) out = (int64_t) n;
            return 0;
    }
}

//  Decodes one scalar or message value of field f into out (the storage of one element).
static int
s_decode_value (const ProtobufCFieldDescriptor *f, json_t *value, void *out, oim_pbjson_deny_t deny,
                const char *path, oim_pbjson_error_t *error)
{
    switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
            if (!json_is_string (value))
                return s_fail (error, path, "must be a string");
            *(char **) out = strdup (json_string_value (value));
            return 0;
        case PROTOBUF_C_TYPE_BOOL:
            if (!json_is_boolean (value))
                return s_fail (error, path, "must be true or false");
            *(protobuf_c_boolean *) out = json_is_true (value);
            return 0;
        case PROTOBUF_C_TYPE_DOUBLE: case PROTOBUF_C_TYPE_FLOAT:
            if (!json_is_number (value) || !isfinite (json_number_value (value)))
                return s_fail (error, path, "must be a number");
            if (f->type == PROTOBUF_C_TYPE_DOUBLE)
                *(double *) out = json_number_value (value);
            else
                *(float *) out = (float) json_number_value (value);
            return 0;
        case PROTOBUF_C_TYPE_ENUM: {
            if (!json_is_string (value))
                return s_fail (error, path, "must be a string");
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name (
                f->descriptor, json_string_value (value));
            if (!ev)
                return s_fail (error, path, "is not one of the allowed values");
            *(int *) out = ev->value;
            return 0;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            if (!json_is_string (value))
                return s_fail (error, path, "must be a base64 string");
            const char *text = json_string_value (value);
            size_t len = strlen (text), bin_len = 0;
            uint8_t *bin = malloc (len + 1);
            if (sodium_base642bin (bin, len + 1, text, len, NULL, &bin_len, NULL,
                                   sodium_base64_VARIANT_ORIGINAL)) {
                free (bin);
                return s_fail (error, path, "must be a base64 string");
            }
            ((ProtobufCBinaryData *) out)->data = bin;
            ((ProtobufCBinaryData *) out)->len = bin_len;
            return 0;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            if (!json_is_object (value))
                return s_fail (error, path, "must be an object");
            const ProtobufCMessageDescriptor *md = f->descriptor;
            ProtobufCMessage *sub = malloc (md->sizeof_message);
            md->message_init (sub);
            if (s_decode_into (sub, value, NULL, path, error)) {
                protobuf_c_message_free_unpacked (sub, NULL);
                return -1;
            }
            *(ProtobufCMessage **) out = sub;
            (void) deny;
            return 0;
        }
        default:
            return s_decode_integer (f, value, out, path, error);
    }
}

//  Frees one element previously decoded into storage (for replacing a field on merge).
static void
s_free_value (const ProtobufCFieldDescriptor *f, void *storage)
{
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        char *s = *(char **) storage;
        if (s && s != (char *) f->default_value)
            free (s);
    }
    else
    if (f->type == PROTOBUF_C_TYPE_BYTES)
        free (((ProtobufCBinaryData *) storage)->data);
    else
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **) storage)
        protobuf_c_message_free_unpacked (*(ProtobufCMessage **) storage, NULL);
}

bool
oim_pbjson_is_map (const ProtobufCFieldDescriptor *f)
{
    if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label != PROTOBUF_C_LABEL_REPEATED)
        return false;
    const ProtobufCMessageDescriptor *md = f->descriptor;
    size_t len = strlen (md->name);
    return len > 5 && strcmp (md->name + len - 5, "Entry") == 0 && md->n_fields == 2;
}

//  A JSON object into a map field's entry messages.
static int
s_decode_map (const ProtobufCFieldDescriptor *f, json_t *value, size_t *count, void **array,
              const char *path, oim_pbjson_error_t *error)
{
    if (!json_is_object (value))
        return s_fail (error, path, "must be an object");
    const ProtobufCMessageDescriptor *md = f->descriptor;
    size_t n = json_object_size (value), i = 0;
    ProtobufCMessage **entries = calloc (n? n: 1, sizeof *entries);
    const char *key;
    json_t *item;
    json_object_foreach (value, key, item) {
        char item_path [128];
        s_path (item_path, "%s.%s", path, key);
        json_t *pair = json_pack ("{s:s,s:O}", "key", key, "value", item);
        ProtobufCMessage *entry = malloc (md->sizeof_message);
        md->message_init (entry);
        int rc = pair? s_decode_into (entry, pair, NULL, item_path, error)
                     : s_fail (error, item_path, "is not valid");
        json_decref (pair);
        if (rc) {
            protobuf_c_message_free_unpacked (entry, NULL);
            for (size_t j = 0; j < i; j++)
                protobuf_c_message_free_unpacked (entries [j], NULL);
            free (entries);
            return -1;
        }
        entries [i++] = entry;
    }
    *count = i;
    *array = entries;
    return 0;
}

static int
s_decode_repeated (const ProtobufCFieldDescriptor *f, json_t *value, size_t *count, void **array,
                   const char *path, oim_pbjson_error_t *error)
{
    if (oim_pbjson_is_map (f))
        return s_decode_map (f, value, count, array, path, error);
    if (!json_is_array (value))
        return s_fail (error, path, "must be an array");
    size_t n = json_array_size (value), size = s_scalar_size (f->type);
    char *elements = calloc (n? n: 1, size);
    for (size_t i = 0; i < n; i++) {
        char item_path [128];
        s_path (item_path, "%s[%zu]", path, i);
        if (s_decode_value (f, json_array_get (value, i), elements + i * size, NULL,
                            item_path, error)) {
            for (size_t j = 0; j < i; j++)
                s_free_value (f, elements + j * size);
            free (elements);
            return -1;
        }
    }
    *count = n;
    *array = elements;
    return 0;
}

static void
s_free_repeated (const ProtobufCFieldDescriptor *f, size_t count, void *array)
{
    size_t size = s_scalar_size (f->type);
    for (size_t i = 0; i < count; i++)
        s_free_value (f, (char *) array + i * size);
    free (array);
}

static bool
s_denied (oim_pbjson_deny_t deny, const char *name)
{
    for (size_t i = 0; deny && deny [i]; i++)
        if (strcmp (deny [i], name) == 0)
            return true;
    return false;
}

//  Decodes one JSON member into its field, replacing what the field held.
static int
s_decode_field (ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, json_t *value,
                const char *path, oim_pbjson_error_t *error)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t count;
        void *array;
        if (s_decode_repeated (f, value, &count, &array, path, error))
            return -1;
        size_t *quantity = MEMBER (msg, f->quantifier_offset);
        void **storage = MEMBER (msg, f->offset);
        s_free_repeated (f, *quantity, *storage);
        *quantity = count;
        *storage = array;
        return 0;
    }
    char scratch [sizeof (ProtobufCBinaryData)];
    if (s_decode_value (f, value, scratch, NULL, path, error))
        return -1;
    void *storage = MEMBER (msg, f->offset);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        //  A oneof's members share storage: free what the current member holds.
        uint32_t *which = MEMBER (msg, f->quantifier_offset);
        const ProtobufCFieldDescriptor *current = *which
            ? protobuf_c_message_descriptor_get_field (msg->descriptor, *which): NULL;
        if (current)
            s_free_value (current, storage);
        *which = f->id;
    }
    else
        s_free_value (f, storage);
    memcpy (storage, scratch, s_scalar_size (f->type));
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
        *(protobuf_c_boolean *) MEMBER (msg, f->quantifier_offset) = 1;
    return 0;
}

static int
s_decode_into (ProtobufCMessage *msg, json_t *object, oim_pbjson_deny_t deny, const char *path,
               oim_pbjson_error_t *error)
{
    if (!json_is_object (object))
        return s_fail (error, path, "must be an object");
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) {
        char field_path [128];
        s_path (field_path, "%s%s%s", path, *path? ".": "", key);
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name (msg->descriptor, key);
        if (!f || s_denied (deny, key))
            return s_fail (error, field_path, f? "may not be set": "unknown field");
        if (json_is_null (value))
            continue;
        if (s_decode_field (msg, f, value, field_path, error))
            return -1;
    }
    return 0;
}

ProtobufCMessage *
oim_pbjson_decode (const ProtobufCMessageDescriptor *descriptor, json_t *object,
                   oim_pbjson_deny_t deny, oim_pbjson_error_t *error)
{
    ProtobufCMessage *msg = malloc (descriptor->sizeof_message);
    descriptor->message_init (msg);
    if (s_decode_into (msg, object, deny, "", error)) {
        protobuf_c_message_free_unpacked (msg, NULL);
        return NULL;
    }
    return msg;
}

int
oim_pbjson_merge (ProtobufCMessage *message, json_t *object, oim_pbjson_deny_t deny,
                  oim_pbjson_error_t *error)
{
    return s_decode_into (message, object, deny, "", error);
}

//  ---------------------------------------------------------------------------------------
//  Encoding

static json_t *
s_encode_value (const ProtobufCFieldDescriptor *f, const void *in, int flags)
{
    switch (f->type) {
        case PROTOBUF_C_TYPE_STRING: return json_string (*(char *const *) in? *(char *const *) in: "");
        case PROTOBUF_C_TYPE_BOOL: return json_boolean (*(const protobuf_c_boolean *) in);
        case PROTOBUF_C_TYPE_DOUBLE: return json_real (*(const double *) in);
        case PROTOBUF_C_TYPE_FLOAT: return json_real (*(const float *) in);
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
            return json_integer (*(const int32_t *) in);
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
            return json_integer (*(const uint32_t *) in);
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
            return json_integer (*(const int64_t *) in);
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
            return json_integer ((json_int_t) *(const uint64_t *) in);
        case PROTOBUF_C_TYPE_ENUM: {
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value (
                f->descriptor, *(const int *) in);
            return ev? json_string (ev->name): json_integer (*(const int *) in);
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *b = in;
            size_t size = sodium_base64_encoded_len (b->len, sodium_base64_VARIANT_ORIGINAL);
            char *text = malloc (size);
            sodium_bin2base64 (text, size, b->data, b->len, sodium_base64_VARIANT_ORIGINAL);
            json_t *s = json_string (text);
            free (text);
            return s;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *) in;
            return sub? oim_pbjson_encode (sub, flags): json_null ();
        }
    }
    return json_null ();
}

static bool
s_is_empty (const ProtobufCFieldDescriptor *f, const void *in)
{
    switch (f->type) {
        case PROTOBUF_C_TYPE_STRING: return !*(char *const *) in || !**(char *const *) in;
        case PROTOBUF_C_TYPE_MESSAGE: return !*(ProtobufCMessage *const *) in;
        case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *) in)->len == 0;
        default: {
            static const char zero [8] = { 0 };
            return memcmp (in, zero, s_scalar_size (f->type)) == 0;
        }
    }
}

static json_t *
s_encode_repeated (const ProtobufCFieldDescriptor *f, const ProtobufCMessage *msg, int flags)
{
    size_t count = *(const size_t *) MEMBER (msg, f->quantifier_offset);
    const char *array = *(char *const *) MEMBER (msg, f->offset);
    size_t size = s_scalar_size (f->type);
    if (oim_pbjson_is_map (f)) {
        json_t *object = json_object ();
        for (size_t i = 0; i < count; i++) {
            const ProtobufCMessage *entry = ((ProtobufCMessage *const *) array) [i];
            const ProtobufCFieldDescriptor *kf = &entry->descriptor->fields [0];
            const ProtobufCFieldDescriptor *vf = &entry->descriptor->fields [1];
            const char *k = *(char *const *) MEMBER (entry, kf->offset);
            json_object_set_new (object, k? k: "", s_encode_value (vf, MEMBER (entry, vf->offset), flags));
        }
        return object;
    }
    json_t *list = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (list, s_encode_value (f, array + i * size, flags));
    return list;
}

json_t *
oim_pbjson_encode (const ProtobufCMessage *message, int flags)
{
    json_t *object = json_object ();
    const ProtobufCMessageDescriptor *d = message->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields [i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *) MEMBER (message, f->quantifier_offset);
            if (count || !(flags & OIM_PBJSON_OMIT_EMPTY))
                json_object_set_new (object, f->name, s_encode_repeated (f, message, flags));
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *) MEMBER (message, f->quantifier_offset);
            if (which != f->id)
                continue;
        }
        const void *in = MEMBER (message, f->offset);
        if ((flags & OIM_PBJSON_OMIT_EMPTY) && s_is_empty (f, in))
            continue;
        json_object_set_new (object, f->name, s_encode_value (f, in, flags));
    }
    return object;
}

ProtobufCMessage *
oim_pbjson_copy (const ProtobufCMessage *message)
{
    size_t size = protobuf_c_message_get_packed_size (message);
    uint8_t *buffer = malloc (size? size: 1);
    protobuf_c_message_pack (message, buffer);
    ProtobufCMessage *copy = protobuf_c_message_unpack (message->descriptor, NULL, size, buffer);
    free (buffer);
    return copy;
}
