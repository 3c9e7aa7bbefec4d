/*  registry_announce — announcements from the agency to groups of organisations (issue 17
    item 4): POST /v1/admin/announcements {title, body, kinds, industries, regions} and
    GET /v1/admin/announcements.

    Audience: the live, active startups and companies (never agencies) that pass every given
    filter: kinds (startup, company), industries (KSIC codes; an organisation's given or else
    inferred industries; a section matches its divisions and a division its section), regions
    (ISO 3166-2 codes, the organisation's region). No filter = all of them. The recipients are
    decided when the announcement is made and each gets one "announcement" notification
    through its channels (inbox, webhook, e-mail per its preferences): the record
    (oim:announcement:<id>, JSON) and the oim:events entries (one Event with copies per 200
    recipients, notify.proto) are written in one MULTI/EXEC, so either all are notified or
    none is.
*/
#include "registry_request.h"
#include "notify.pb-c.h"

#define TITLE_MAX 200
#define BODY_MAX 5000
#define COPIES_PER_ENTRY 200        //  recipients per oim:events entry (notify.proto: <= 256)
#define ORG_CHUNK 500               //  organisations read per pipelined round
#define LIST_MAX 100

//  The audience filters of a request (borrowed from its JSON body).
typedef struct {
    json_t *kinds, *industries, *regions;
} s_audience_t;

//  True when list (a JSON array of strings, or NULL/empty = no filter) lets value through;
//  prefix: a code matches another when either starts with the other (KSIC section/division).
static bool
s_passes (const json_t *list, char *const *values, size_t n, bool prefix)
{
    if (json_array_size (list) == 0)
        return true;
    size_t i;
    json_t *item;
    json_array_foreach (list, i, item) {
        const char *want = json_string_value (item);
        for (size_t j = 0; j < n; j++) {
            size_t a = strlen (want), b = strlen (values [j]);
            if (prefix? strncmp (want, values [j], a < b? a: b) == 0: strcmp (want, values [j]) == 0)
                return true;
        }
    }
    return false;
}

static bool
s_in_audience (const s_audience_t *audience, const Oim__V1__Organization *org)
{
    if (org->deleted || strcmp (org->status, "active") || strcmp (org->kind, "agency") == 0)
        return false;
    char *kind = org->kind, *region = org->region;
    bool given = org->n_industries > 0;
    return s_passes (audience->kinds, &kind, 1, false)
        && s_passes (audience->regions, &region, *region? 1: 0, false)
        && s_passes (audience->industries, given? org->industries: org->inferred_industries,
                     given? org->n_industries: org->n_inferred_industries, true);
}

//  Checks one filter: absent/null or an array of at most 20 strings each valid by check.
//  Returns 0, or -1 with the reply set.
static int
s_check_filter (json_t *body, const char *field, bool (*check) (const char *),
                oim_api_reply_t *reply)
{
    json_t *list = json_object_get (body, field);
    if (!list || json_is_null (list))
        return 0;
    size_t i;
    json_t *item;
    if (!json_is_array (list) || json_array_size (list) > 20) {
        oim_api_error (reply, 400, "invalid", field, "%s must be a list of at most 20 codes", field);
        return -1;
    }
    json_array_foreach (list, i, item)
        if (!json_is_string (item) || !check (json_string_value (item))) {
            char path [64];
            snprintf (path, sizeof path, "%s[%zu]", field, i);
            oim_api_error (reply, 422, "unprocessable", path, "%s holds an unknown code", field);
            return -1;
        }
    return 0;
}

static bool
s_kind_valid (const char *kind)
{
    return strcmp (kind, "startup") == 0 || strcmp (kind, "company") == 0;
}

//  Validates the body; fills title/text (owned by body) and audience. 0 or -1 (reply set).
static int
s_decode (json_t *body, char **title, char **text, s_audience_t *audience, oim_api_reply_t *reply)
{
    static const char *known [] = { "title", "body", "kinds", "industries", "regions", NULL };
    const char *key;
    json_t *value;
    json_object_foreach (body, key, value) {
        int k = 0;
        while (known [k] && strcmp (known [k], key))
            k++;
        if (!known [k]) {
            oim_api_error (reply, 400, "invalid", key, "%s unknown field", key);
            return -1;
        }
    }
    registry_err_t err;
    json_t *t = json_object_get (body, "title"), *b = json_object_get (body, "body");
    *title = strdup (json_is_string (t)? json_string_value (t): "");
    *text = strdup (json_is_string (b)? json_string_value (b): "");
    if ((t && !json_is_string (t)) || (b && !json_is_string (b)))
        oim_api_error (reply, 400, "invalid", t && !json_is_string (t)? "title": "body",
                       "title and body are strings");
    else
    if (registry_validate_text (title, "title", TITLE_MAX, true, false, &err)
    ||  registry_validate_text (text, "body", BODY_MAX, false, true, &err))
        registry_reply_err (reply, &err);
    else
    if (s_check_filter (body, "kinds", s_kind_valid, reply) == 0
    &&  s_check_filter (body, "industries", registry_taxonomy_valid, reply) == 0
    &&  s_check_filter (body, "regions", registry_validate_region, reply) == 0) {
        *audience = (s_audience_t) { json_object_get (body, "kinds"),
                                     json_object_get (body, "industries"),
                                     json_object_get (body, "regions") };
        return 0;
    }
    return -1;
}

//  Appends the ids of the organisations in audience to recipients. Returns 0 or -1.
static int
s_recipients (registry_t *self, const s_audience_t *audience, json_t *recipients)
{
    redisReply *ids = oim_redis_command (self->redis, "ZRANGE %s 0 -1", OIM_KEY_ORGS);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject (ids);
        return -1;
    }
    int rc = 0;
    for (size_t start = 0; rc == 0 && start < ids->elements; start += ORG_CHUNK) {
        size_t end = start + ORG_CHUNK < ids->elements? start + ORG_CHUNK: ids->elements;
        for (size_t i = start; i < end; i++)
            oim_redis_append (self->redis, "GET " OIM_KEY_ORG, ids->element [i]->str);
        for (size_t i = start; i < end; i++) {
            redisReply *r = rc? NULL: oim_redis_reply (self->redis);
            if (!r) {
                rc = -1;
                continue;
            }
            Oim__V1__Organization *org = r->type == REDIS_REPLY_STRING
                ? oim__v1__organization__unpack (NULL, r->len, (uint8_t *) r->str): NULL;
            if (org && s_in_audience (audience, org))
                json_array_append_new (recipients, json_string (org->id));
            if (org)
                oim__v1__organization__free_unpacked (org, NULL);
            freeReplyObject (r);
        }
    }
    freeReplyObject (ids);
    return rc;
}

//  Adds the announcement's oim:events entries to tx: one Event per COPIES_PER_ENTRY
//  recipients (the first its org_id, the rest its copies).
static void
s_tx_events (oim_redis_tx_t *tx, json_t *recipients, const char *data_json, const char *at)
{
    size_t n = json_array_size (recipients);
    for (size_t start = 0; start < n; start += COPIES_PER_ENTRY) {
        size_t count = n - start < COPIES_PER_ENTRY? n - start: COPIES_PER_ENTRY;
        char ids [COPIES_PER_ENTRY][OIM_ID_SIZE];
        Oim__V1__Event__Copy copies [COPIES_PER_ENTRY], *pointers [COPIES_PER_ENTRY];
        for (size_t i = 0; i < count; i++) {
            oim_id_new ("ntf", ids [i]);
            oim__v1__event__copy__init (&copies [i]);
            copies [i].id = ids [i];
            copies [i].org_id = (char *) json_string_value (json_array_get (recipients, start + i));
            pointers [i] = &copies [i];
        }
        Oim__V1__Event event = OIM__V1__EVENT__INIT;
        event.id = ids [0];
        event.org_id = copies [0].org_id;
        event.type = "announcement";
        event.created_at = (char *) at;
        event.data_json = (char *) data_json;
        event.n_copies = count - 1;
        event.copies = pointers + 1;
        const char *argv [4] = { "XADD", OIM_STREAM_EVENTS, "*", "e" };
        oim_redis_tx_packed (tx, 4, argv, &event.base);
    }
}

//  Writes the announcement (record, index, events, audit) in one transaction. 0 or -1.
static int
s_write (registry_t *self, const registry_actor_t *actor, json_t *record, json_t *recipients)
{
    const char *id = json_string_value (json_object_get (record, "id"));
    json_t *data = json_pack ("{s:s,s:O,s:O,s:O}", "announcement_id", id,
                              "title", json_object_get (record, "title"),
                              "body", json_object_get (record, "body"),
                              "created_at", json_object_get (record, "created_at"));
    char *data_json = json_dumps (data, JSON_COMPACT);
    char *record_json = json_dumps (record, JSON_COMPACT);
    char key [OIM_KEY_SIZE], detail [64];
    snprintf (key, sizeof key, OIM_KEY_ANNOUNCEMENT, id);
    snprintf (detail, sizeof detail, "recipients=%zu", json_array_size (recipients));
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    oim_redis_tx_strs (tx, "SET", key, record_json, NULL);
    oim_redis_tx_strs (tx, "ZADD", OIM_KEY_ANNOUNCEMENTS, "0", id, NULL);
    s_tx_events (tx, recipients, data_json, json_string_value (json_object_get (record, "created_at")));
    registry_tx_audit (tx, actor, "announcement.create", "announcement", id, detail);
    int rc = oim_redis_tx_exec (tx, self->redis);
    oim_redis_tx_destroy (&tx);
    free (data_json);
    free (record_json);
    json_decref (data);
    return rc? -1: 0;
}

void
registry_announcement_create (oim_service_t *service, const Oim__V1__ApiRequest *request,
                              oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "announcements are the agency's");
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return;
    char *title = NULL, *text = NULL;
    s_audience_t audience;
    json_t *recipients = json_array ();
    if (s_decode (body, &title, &text, &audience, reply) == 0) {
        if (s_recipients (self, &audience, recipients))
            registry_reply_unavailable (reply);
        else {
            char id [OIM_ID_SIZE], now [OIM_RFC3339_SIZE];
            oim_id_new ("ann", id);
            oim_clock_rfc3339 (oim_clock_wall_ms (), now);
            json_t *record = json_pack ("{s:s,s:s,s:s,s:{s:O,s:O,s:O},s:I,s:s,s:s}", "id", id,
                "title", title, "body", text, "audience",
                "kinds", audience.kinds? audience.kinds: json_null (),
                "industries", audience.industries? audience.industries: json_null (),
                "regions", audience.regions? audience.regions: json_null (),
                "recipients", (json_int_t) json_array_size (recipients), "created_at", now,
                "created_by", actor.principal->org_id? actor.principal->org_id: "");
            if (s_write (self, &actor, record, recipients))
                registry_reply_unavailable (reply);
            else
                oim_api_ok (reply, 201, json_incref (record));
            json_decref (record);
        }
    }
    free (title);
    free (text);
    json_decref (recipients);
    json_decref (body);
}

void
registry_announcement_list (oim_service_t *service, const Oim__V1__ApiRequest *request,
                            oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "announcements are the agency's");
    redisReply *ids = oim_redis_command (self->redis, "ZREVRANGE %s 0 %d", OIM_KEY_ANNOUNCEMENTS,
                                         LIST_MAX - 1);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject (ids);
        return registry_reply_unavailable (reply);
    }
    for (size_t i = 0; i < ids->elements; i++)
        oim_redis_append (self->redis, "GET " OIM_KEY_ANNOUNCEMENT, ids->element [i]->str);
    json_t *items = json_array ();
    bool failed = false;
    for (size_t i = 0; i < ids->elements; i++) {
        redisReply *r = failed? NULL: oim_redis_reply (self->redis);
        failed = !r;
        json_t *item = r && r->type == REDIS_REPLY_STRING? json_loadb (r->str, r->len, 0, NULL): NULL;
        if (item)
            json_array_append_new (items, item);
        if (r)
            freeReplyObject (r);
    }
    freeReplyObject (ids);
    if (failed) {
        json_decref (items);
        return registry_reply_unavailable (reply);
    }
    oim_api_ok (reply, 200, json_pack ("{s:o,s:n}", "items", items, "next_cursor"));
}
