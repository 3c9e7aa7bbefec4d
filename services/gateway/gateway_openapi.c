/*  gateway_openapi — see gateway_openapi.h. Describing an endpoint = one line in s_ops below
    (keyed by the route's operation name); test_gateway_openapi fails for a route without one.
*/
#include "gateway_openapi.h"
#include "gateway_routes.h"
#include "oim_pbjson.h"

#include "common.pb-c.h"
#include "ingest.pb-c.h"
#include "matcher.pb-c.h"
#include "notify.pb-c.h"
#include "registry.pb-c.h"
#include "search.pb-c.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

typedef const ProtobufCMessageDescriptor *desc_t;

typedef struct {
    const char *operation;      //  the route's operation name
    const char *tag;
    const char *summary;
    const char *query;          //  query parameters, comma-separated, or NULL
    desc_t request;             //  JSON body's message, or NULL (none, or not a message)
    desc_t reply;               //  reply's message (list: the items'), or NULL (free-form)
    bool list;                  //  reply is the list envelope {items, next_cursor, ...}
} op_t;

#define ORG     &oim__v1__organization__descriptor
#define DEMAND  &oim__v1__demand__descriptor
#define USER    &oim__v1__user__descriptor
#define PUB     &oim__v1__publisher__descriptor
#define SAVED   &oim__v1__saved_search__descriptor
#define AUDIT   &oim__v1__audit_entry__descriptor
#define MATCH   &oim__v1__match__descriptor
#define NOTE    &oim__v1__notification__descriptor
#define DELIV   &oim__v1__delivery__descriptor
#define HOOK    &oim__v1__webhook_endpoint__descriptor
#define PREFS   &oim__v1__preferences__descriptor
#define HIT     &oim__v1__hit__descriptor
#define RESULT  &oim__v1__ingest_result__descriptor
#define PAGE    "limit,cursor"

static const op_t s_ops [] = {
    { "console",      "console", "The web app's page", NULL, NULL, NULL, false },
    { "static",       "console", "A file of the web app", NULL, NULL, NULL, false },
    { "whoami",       "gateway", "Who the credentials belong to", NULL, NULL, NULL, false },
    { "healthz",      "gateway", "Liveness", NULL, NULL, NULL, false },
    { "readyz",       "gateway", "Readiness of every daemon", NULL, NULL, NULL, false },
    { "metrics",      "gateway", "Prometheus metrics of all daemons (text)", NULL, NULL, NULL, false },
    { "status",       "gateway", "Status of every daemon's workers", NULL, NULL, NULL, false },
    { "status_one",   "gateway", "Status of one service's workers", NULL, NULL, NULL, false },
    { "openapi",      "gateway", "This description (OpenAPI 3.1)", NULL, NULL, NULL, false },
    { "org.create",   "organizations", "Register an organization (anonymous: pending)", NULL, ORG, ORG, false },
    { "org.list",     "organizations", "The directory of organizations", "q,kind,status," PAGE, NULL, ORG, true },
    { "org.get",      "organizations", "Read an organization", NULL, NULL, ORG, false },
    { "org.update",   "organizations", "Update an organization (owner or agency)", NULL, ORG, ORG, false },
    { "org.delete",   "organizations", "Delete an organization (agency)", NULL, NULL, NULL, false },
    { "org.approve",  "organizations", "Approve a pending organization (agency)", NULL, NULL, ORG, false },
    { "org.suspend",  "organizations", "Suspend an organization (agency)", NULL, NULL, ORG, false },
    { "org.feed_key_put",    "organizations", "Set the org's CURVE feed key", NULL, NULL, NULL, false },
    { "org.feed_key_delete", "organizations", "Remove the org's CURVE feed key", NULL, NULL, NULL, false },
    { "api_key.list",   "keys", "The org's API keys (never the secret)", NULL, NULL, NULL, true },
    { "api_key.create", "keys", "A new API key, shown once", NULL, NULL, NULL, false },
    { "api_key.delete", "keys", "Revoke an API key", NULL, NULL, NULL, false },
    { "staff.create",   "people", "Add an agency person (agency API key)", NULL, NULL, USER, false },
    { "member.list",    "people", "The org's people", PAGE, NULL, USER, true },
    { "member.remove",  "people", "Remove a person from the org", NULL, NULL, NULL, false },
    { "member.update",  "people", "Change a person's role", NULL, NULL, USER, false },
    { "invitation.create", "people", "Invite a person by e-mail", NULL, NULL, NULL, false },
    { "invitation.accept", "people", "Accept an invitation", NULL, NULL, USER, false },
    { "email.verify",      "people", "Verify an e-mail address", NULL, NULL, NULL, false },
    { "password_reset.request", "people", "Ask for a password reset e-mail", NULL, NULL, NULL, false },
    { "password_reset.confirm", "people", "Set a new password", NULL, NULL, NULL, false },
    { "session.create",  "sessions", "Sign in (sets the oim_session cookie)", NULL, NULL, NULL, false },
    { "session.current", "sessions", "The current session", NULL, NULL, NULL, false },
    { "session.delete",  "sessions", "Sign out", NULL, NULL, NULL, false },
    { "taxonomy.get",    "organizations", "Industry codes, regions, stages", NULL, NULL, NULL, false },
    { "demand.create",   "demands", "Post a demand", NULL, DEMAND, DEMAND, false },
    { "demand.list",     "demands", "List demands", "org_id,status," PAGE, NULL, DEMAND, true },
    { "demand.get",      "demands", "Read a demand", NULL, NULL, DEMAND, false },
    { "demand.update",   "demands", "Update a demand", NULL, DEMAND, DEMAND, false },
    { "demand.close",    "demands", "Close a demand", NULL, NULL, DEMAND, false },
    { "demand.award",    "demands", "Award a demand to startups in contract: {startup_ids}", NULL, NULL, DEMAND, false },
    { "demand.approve",  "review", "Approve a demand in review (agency)", NULL, NULL, DEMAND, false },
    { "demand.return",   "review", "Return a demand with a comment (agency)", NULL, NULL, DEMAND, false },
    { "demand.resubmit", "review", "Resubmit a returned demand", NULL, NULL, DEMAND, false },
    { "demand.renew",    "demands", "Renew an expiring demand", NULL, NULL, DEMAND, false },
    { "settings.get",    "admin", "Agency settings", NULL, NULL, NULL, false },
    { "settings.put",    "admin", "Change agency settings", NULL, NULL, NULL, false },
    { "review.queue",    "review", "Demands waiting for review", PAGE, NULL, DEMAND, true },
    { "announcement.create", "admin", "Send an announcement", NULL, NULL, NULL, false },
    { "announcement.list",   "admin", "Announcements sent", PAGE, NULL, NULL, true },
    { "export.csv",      "admin", "CSV export (organizations, demands, relationships)", NULL, NULL, NULL, false },
    { "publisher.create",    "publishers", "Register another system", NULL, PUB, PUB, false },
    { "publisher.curve_key", "publishers", "Set a publisher's CURVE key", NULL, NULL, NULL, false },
    { "publisher.list",      "publishers", "The publishers", PAGE, NULL, PUB, true },
    { "publisher.key_rotate", "publishers", "A new publisher key (old one fails)", NULL, NULL, NULL, false },
    { "publisher.key_revoke", "publishers", "Revoke a publisher's key", NULL, NULL, NULL, false },
    { "events.ingest",     "events", "Ingest demand events (JSON array)", NULL, NULL, RESULT, true },
    { "org_events.ingest", "events", "Ingest organization events (JSON array)", NULL, NULL, RESULT, true },
    { "audit.list",      "admin", "The audit log", PAGE, NULL, AUDIT, true },
    { "admin.stats",     "admin", "Counts, funnel, delivery health", "period", NULL, NULL, false },
    { "saved_search.create", "search", "Save a search", NULL, SAVED, SAVED, false },
    { "saved_search.list",   "search", "Saved searches", NULL, NULL, SAVED, true },
    { "saved_search.delete", "search", "Delete a saved search", NULL, NULL, NULL, false },
    { "search.query",    "search", "Search startups, companies, demands",
      "type,q,industry,region,stage,tag,collaboration," PAGE, NULL, HIT, true },
    { "search.suggest",  "search", "Autocomplete (names, tags)", "q", NULL, NULL, false },
    { "match.list_demand", "matches", "Ranked matches of a demand", PAGE, NULL, MATCH, true },
    { "match.list_org",    "matches", "Ranked matches of an organization", PAGE, NULL, MATCH, true },
    { "match.interest",  "matches", "Express interest", NULL, NULL, MATCH, false },
    { "match.decline",   "matches", "Decline a match", NULL, NULL, MATCH, false },
    { "rel.propose",     "relationships", "Propose to a demand (startup): {message}", NULL, NULL, MATCH, false },
    { "rel.list",        "relationships", "Relationships of a demand or an organization", "demand_id,org_id", NULL, MATCH, true },
    { "rel.accept",      "relationships", "Accept a proposal (company): connected", NULL, NULL, MATCH, false },
    { "rel.decline",     "relationships", "Decline a proposal (company): {reason}", NULL, NULL, MATCH, false },
    { "rel.outcome",     "relationships", "Record an outcome: {state: poc|contract|ended, reason}", NULL, NULL, MATCH, false },
    { "rel.messages_post", "relationships", "Write to the other party (connected or later): {text}", NULL, NULL, NULL, false },
    { "rel.messages_list", "relationships", "The thread and the caller's unread count", NULL, NULL, NULL, true },
    { "rel.messages_read", "relationships", "Mark the thread read", NULL, NULL, NULL, false },
    { "notification.list",   "notifications", "The inbox", "unread," PAGE, NULL, NOTE, true },
    { "notification.read",   "notifications", "Mark read", NULL, NULL, NOTE, false },
    { "notification.stream", "notifications", "Live notifications (Server-Sent Events)", NULL, NULL, NULL, false },
    { "webhook.put",     "webhooks", "Set the webhook (reply: its secret once)", NULL, NULL, HOOK, false },
    { "webhook.get",     "webhooks", "Read the webhook", NULL, NULL, HOOK, false },
    { "webhook.test",    "webhooks", "Send a signed test ping", NULL, NULL, NULL, false },
    { "preferences.put", "webhooks", "Set notification preferences", NULL, PREFS, PREFS, false },
    { "preferences.get", "webhooks", "Read notification preferences", NULL, NULL, PREFS, false },
    { "delivery.list",   "webhooks", "The delivery log", "status," PAGE, NULL, DELIV, true },
    { "delivery.retry",  "webhooks", "Replay a dead letter", NULL, NULL, DELIV, false },
    { NULL }
};

//  Old names of a list's items, kept for one release (issue 19 item 2).
static const struct { const char *operation, *alias; } s_aliases [] = {
    { "notification.list", "notifications" }, { "delivery.list", "deliveries" },
    { "events.ingest", "results" }, { "org_events.ingest", "results" },
    { "search.query", "hits" }, { NULL, NULL }
};

static const op_t *
s_op (const char *operation)
{
    for (const op_t *op = s_ops; op->operation; op++)
        if (strcmp (op->operation, operation) == 0)
            return op;
    return NULL;
}

bool
gateway_openapi_complete (char *missing, size_t size)
{
    for (const gateway_route_t *r = gateway_routes_table (); r->method; r++)
        if (!s_op (r->operation)) {
            snprintf (missing, size, "%s %s (%s)", r->method, r->pattern, r->operation);
            return false;
        }
    return true;
}

static json_t *s_message_ref (json_t *schemas, desc_t d);

static json_t *
s_enum_schema (const ProtobufCEnumDescriptor *e)
{
    json_t *names = json_array ();
    for (unsigned i = 0; i < e->n_values; i++)
        json_array_append_new (names, json_string (e->values [i].name));
    return json_pack ("{s:s,s:o}", "type", "string", "enum", names);
}

static json_t *
s_scalar_schema (json_t *schemas, const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
            return json_pack ("{s:s,s:s}", "type", "integer", "format", "int32");
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
            return json_pack ("{s:s,s:i}", "type", "integer", "minimum", 0);
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
            return json_pack ("{s:s,s:s}", "type", "integer", "format", "int64");
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
            return json_pack ("{s:s,s:i}", "type", "integer", "minimum", 0);
        case PROTOBUF_C_TYPE_FLOAT: case PROTOBUF_C_TYPE_DOUBLE:
            return json_pack ("{s:s}", "type", "number");
        case PROTOBUF_C_TYPE_BOOL:
            return json_pack ("{s:s}", "type", "boolean");
        case PROTOBUF_C_TYPE_ENUM:
            return s_enum_schema (f->descriptor);
        case PROTOBUF_C_TYPE_BYTES:
            return json_pack ("{s:s,s:s}", "type", "string", "contentEncoding", "base64");
        case PROTOBUF_C_TYPE_MESSAGE:
            return json_pack ("{s:[o,{s:s}]}", "anyOf", s_message_ref (schemas, f->descriptor),
                              "type", "null");
        default:
            return json_pack ("{s:s}", "type", "string");
    }
}

static json_t *
s_field_schema (json_t *schemas, const ProtobufCFieldDescriptor *f)
{
    if (oim_pbjson_is_map (f)) {
        desc_t entry = f->descriptor;
        return json_pack ("{s:s,s:o}", "type", "object", "additionalProperties",
                          s_scalar_schema (schemas, &entry->fields [1]));
    }
    json_t *one = s_scalar_schema (schemas, f);
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return json_pack ("{s:s,s:o}", "type", "array", "items", one);
    return one;
}

//  Adds the message's schema to schemas (once) and returns a $ref to it.
static json_t *
s_message_ref (json_t *schemas, desc_t d)
{
    if (!json_object_get (schemas, d->short_name)) {
        json_t *properties = json_object ();
        json_t *schema = json_pack ("{s:s,s:o}", "type", "object", "properties", properties);
        json_object_set_new (schemas, d->short_name, schema);   //  before recursing: cycles
        for (unsigned i = 0; i < d->n_fields; i++)
            json_object_set_new (properties, d->fields [i].name,
                                 s_field_schema (schemas, &d->fields [i]));
    }
    char ref [160];
    snprintf (ref, sizeof ref, "#/components/schemas/%s", d->short_name);
    return json_pack ("{s:s}", "$ref", ref);
}

static const char *
s_alias (const char *operation)
{
    for (int i = 0; s_aliases [i].operation; i++)
        if (strcmp (s_aliases [i].operation, operation) == 0)
            return s_aliases [i].alias;
    return NULL;
}

//  The reply's schema: the message, the list envelope around it, or any JSON.
static json_t *
s_reply_schema (json_t *schemas, const op_t *op)
{
    json_t *item = op->reply? s_message_ref (schemas, op->reply): json_object ();
    if (!op->list)
        return item;
    json_t *items = json_pack ("{s:s,s:o}", "type", "array", "items", item);
    json_t *properties = json_pack ("{s:o,s:{s:[s,s]},s:{s:s},s:{s:s}}",
        "items", items, "next_cursor", "type", "string", "null",
        "total", "type", "integer", "unread_count", "type", "integer");
    const char *alias = s_alias (op->operation);
    if (alias)
        json_object_set_new (properties, alias, json_pack ("{s:s,s:O,s:b,s:s}",
            "type", "array", "items", json_object_get (items, "items"), "deprecated", 1,
            "description", "Deprecated alias of items, kept for one release"));
    return json_pack ("{s:s,s:[s],s:o}", "type", "object", "required", "items",
                      "properties", properties);
}

static json_t *
s_parameters (const gateway_route_t *route, const op_t *op)
{
    json_t *list = json_array ();
    for (const char *p = strchr (route->pattern, '{'); p; p = strchr (p + 1, '{')) {
        size_t len = strcspn (p + 1, "}");
        json_array_append_new (list, json_pack ("{s:s%,s:s,s:b,s:{s:s}}", "name", p + 1, len,
            "in", "path", "required", 1, "schema", "type", "string"));
    }
    for (const char *q = op->query; q && *q; ) {
        size_t len = strcspn (q, ",");
        json_array_append_new (list, json_pack ("{s:s%,s:s,s:{s:s}}", "name", q, len,
            "in", "query", "schema", "type", "string"));
        q += len + (q [len] == ',');
    }
    return list;
}

static json_t *
s_operation (json_t *schemas, const gateway_route_t *route, const op_t *op)
{
    char id [160];                  //  unique: the method and the pattern's words
    snprintf (id, sizeof id, "%s%s", route->method, route->pattern);
    for (char *c = id; *c; c++)
        if (!isalnum ((unsigned char) *c))
            *c = '_';
    json_t *reply = json_pack ("{s:s,s:{s:{s:o}}}", "description", "Success",
        "content", "application/json", "schema", s_reply_schema (schemas, op));
    json_t *operation = json_pack ("{s:s,s:s,s:[s],s:o,s:{s:o,s:{s:s}}}",
        "operationId", id, "summary", op->summary, "tags", op->tag,
        "parameters", s_parameters (route, op),
        "responses", "2XX", reply, "default", "$ref", "#/components/responses/Error");
    if (op->request)
        json_object_set_new (operation, "requestBody", json_pack ("{s:{s:{s:o}}}",
            "content", "application/json", "schema", s_message_ref (schemas, op->request)));
    if (!route->auth)
        json_object_set_new (operation, "security", json_pack ("[{},{s:[]},{s:[]}]",
            "apiKey", "session"));
    return operation;
}

static json_t *
s_components (json_t *schemas)
{
    json_object_set_new (schemas, "Error", json_pack (
        "{s:s,s:[s],s:{s:{s:s,s:[s,s],s:{s:{s:s},s:{s:s},s:{s:[s,s]}}}}}",
        "type", "object", "required", "error", "properties", "error", "type", "object",
        "required", "code", "message", "properties", "code", "type", "string",
        "message", "type", "string", "field", "type", "string", "null"));
    return json_pack ("{s:o,s:{s:{s:s,s:{s:{s:{s:s}}}}},s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s}}}",
        "schemas", schemas,
        "responses", "Error", "description", "An error: 400 invalid, 401, 403, 404, 409, 413, "
        "422, 429, 503, 504", "content", "application/json", "schema",
        "$ref", "#/components/schemas/Error",
        "securitySchemes",
        "apiKey", "type", "http", "scheme", "bearer", "description",
        "Authorization: Bearer <API key>",
        "session", "type", "apiKey", "in", "cookie", "name", "oim_session",
        "description", "Cookie from POST /v1/sessions; every request other than "
        "GET/HEAD/OPTIONS also carries X-CSRF-Token: <csrf_token>");
}

json_t *
gateway_openapi_document (void)
{
    json_t *schemas = json_object ();
    json_t *paths = json_object ();
    for (const gateway_route_t *r = gateway_routes_table (); r->method; r++) {
        const op_t *op = s_op (r->operation);
        if (!op)
            continue;
        json_t *item = json_object_get (paths, r->pattern);
        if (!item) {
            item = json_object ();
            json_object_set_new (paths, r->pattern, item);
        }
        char method [8];
        snprintf (method, sizeof method, "%s", r->method);
        for (char *c = method; *c; c++)
            *c = (char) (*c - 'A' + 'a');
        json_object_set_new (item, method, s_operation (schemas, r, op));
    }
    return json_pack ("{s:s,s:{s:s,s:s,s:s},s:o,s:o,s:[{s:[]},{s:[]}]}",
        "openapi", "3.1.0", "info", "title", "OI Market API", "version", "1",
        "description", "Open innovation market: organizations, demands, search, matches, "
        "notifications. Generated from the gateway's route table and the protobuf descriptors.",
        "paths", paths, "components", s_components (schemas),
        "security", "apiKey", "session");
}
