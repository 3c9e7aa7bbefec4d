/*  registry_admin — the audit log reader, counters (GET /v1/admin/stats) and the taxonomy
    endpoint. Saved searches are in registry_saved.c.
*/
#include "registry_request.h"

#define AUDIT_DEFAULT 50
#define AUDIT_MAX 200
#define AUDIT_SCAN_CHUNK 500
#define AUDIT_SCAN_ROUNDS 10

//  Audit log

typedef struct {
    const char *actor_org_id, *action, *entity_type, *entity_id;
    json_t *items;
    size_t limit;
    char next [64];
} audit_page_t;

static bool
s_audit_match (const audit_page_t *page, const Oim__V1__AuditEntry *e)
{
    return (!page->actor_org_id || strcmp (page->actor_org_id, e->actor_org_id) == 0)
        && (!page->action || strcmp (page->action, e->action) == 0)
        && (!page->entity_type || strcmp (page->entity_type, e->entity_type) == 0)
        && (!page->entity_id || strcmp (page->entity_id, e->entity_id) == 0);
}

//  Scans one chunk below *end (newest first); returns entries read or -1.
static int
s_audit_chunk (registry_t *self, char *end, const char *start, audit_page_t *page)
{
    redisReply *r = oim_redis_command (self->redis, "XREVRANGE %s %s %s COUNT %d",
                                       OIM_STREAM_AUDIT, end, start, AUDIT_SCAN_CHUNK);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject (r);
        return -1;
    }
    for (size_t i = 0; i < r->elements && !*page->next; i++) {
        redisReply *entry = r->element [i];
        if (json_array_size (page->items) >= page->limit) {
            snprintf (page->next, sizeof page->next, "%s", r->element [i - 1]->element [0]->str);
            break;
        }
        redisReply *fields = entry->element [1];
        if (fields->elements < 2)
            continue;
        Oim__V1__AuditEntry *e = oim__v1__audit_entry__unpack (
            NULL, fields->element [1]->len, (uint8_t *) fields->element [1]->str);
        if (e && s_audit_match (page, e)) {
            json_t *json = oim_pbjson_encode (&e->base, 0);
            json_object_set_new (json, "cursor", json_string (entry->element [0]->str));
            json_array_append_new (page->items, json);
        }
        if (e)
            oim__v1__audit_entry__free_unpacked (e, NULL);
    }
    int read = (int) r->elements;
    if (read > 0)
        snprintf (end, 64, "(%s", r->element [read - 1]->element [0]->str);
    freeReplyObject (r);
    return read;
}

//  Converts an RFC 3339 query parameter into a stream id bound. Returns 0 or -1.
static int
s_time_bound (const char *text, char *out, size_t size, const char *suffix)
{
    int64_t ms;
    if (oim_clock_parse_rfc3339 (text, &ms))
        return -1;
    snprintf (out, size, "%lld%s", (long long) ms, suffix);
    return 0;
}

void
registry_audit_list (oim_service_t *service, const Oim__V1__ApiRequest *request,
                     oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "the audit log is the agency's");
    audit_page_t page = { .actor_org_id = oim_api_query (request, "actor_org_id"),
        .action = oim_api_query (request, "action"),
        .entity_type = oim_api_query (request, "entity_type"),
        .entity_id = oim_api_query (request, "entity_id"), .limit = AUDIT_DEFAULT };
    const char *limit = oim_api_query (request, "limit"), *cursor = oim_api_query (request, "cursor");
    const char *since = oim_api_query (request, "since"), *until = oim_api_query (request, "until");
    char end [64] = "+", start [64] = "-", *tail;
    if (limit) {
        long n = strtol (limit, &tail, 10);
        if (*tail || n < 1 || n > AUDIT_MAX)
            return oim_api_error (reply, 400, "invalid", "limit", "limit must be 1..%d", AUDIT_MAX);
        page.limit = (size_t) n;
    }
    if (since && s_time_bound (since, start, sizeof start, "-0"))
        return oim_api_error (reply, 400, "invalid", "since", "since must be RFC 3339");
    if (until && s_time_bound (until, end, sizeof end, ""))
        return oim_api_error (reply, 400, "invalid", "until", "until must be RFC 3339");
    if (cursor && (strlen (cursor) > 40 || strspn (cursor, "0123456789-") != strlen (cursor)
                   || !strchr (cursor, '-')))
        return oim_api_error (reply, 400, "invalid", "cursor", "cursor is not from a previous page");
    if (cursor)
        snprintf (end, sizeof end, "(%s", cursor);
    page.items = json_array ();
    int read = AUDIT_SCAN_CHUNK;
    for (int round = 0; round < AUDIT_SCAN_ROUNDS && read == AUDIT_SCAN_CHUNK && !*page.next
                        && json_array_size (page.items) < page.limit; round++)
        read = s_audit_chunk (self, end, start, &page);
    if (read < 0) {
        json_decref (page.items);
        return registry_reply_unavailable (reply);
    }
    if (!*page.next && read == AUDIT_SCAN_CHUNK)
        snprintf (page.next, sizeof page.next, "%s", end + 1);
    oim_api_ok (reply, 200, json_pack ("{s:o,s:s?}", "items", page.items, "next_cursor",
                                       *page.next? page.next: NULL));
}

//  ---------------------------------------------------------------------------------------
//  Stats and taxonomy

//  Puts value at "a:b:c" as json {"a":{"b":{"c":value}}}.
static void
s_put_path (json_t *root, const char *path, json_int_t value)
{
    char buf [128];
    snprintf (buf, sizeof buf, "%s", path);
    json_t *node = root;
    char *save = NULL, *part = strtok_r (buf, ":", &save);
    while (part) {
        char *next = strtok_r (NULL, ":", &save);
        if (!next) {
            json_object_set_new (node, part, json_integer (value));
            break;
        }
        json_t *child = json_object_get (node, part);
        if (!json_is_object (child)) {
            child = json_object ();
            json_object_set_new (node, part, child);
        }
        node = child;
        part = next;
    }
}

void
registry_admin_stats (oim_service_t *service, const Oim__V1__ApiRequest *request,
                      oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "stats are the agency's");
    oim_redis_append (self->redis, "HGETALL %s", OIM_KEY_STATS);
    oim_redis_append (self->redis, "XLEN %s", OIM_STREAM_CHANGELOG);
    oim_redis_append (self->redis, "XLEN %s", OIM_STREAM_AUDIT);
    redisReply *all = oim_redis_reply (self->redis);
    redisReply *log = all? oim_redis_reply (self->redis): NULL;
    redisReply *audit = log? oim_redis_reply (self->redis): NULL;
    if (audit && all->type == REDIS_REPLY_ARRAY) {
        json_t *root = json_pack ("{s:{},s:{},s:i,s:i,s:I,s:I}", "org", "demand",
                                  "saved_searches", 0, "publishers", 0,
                                  "changelog_length", (json_int_t) log->integer,
                                  "audit_length", (json_int_t) audit->integer);
        for (size_t i = 0; i + 1 < all->elements; i += 2)
            s_put_path (root, all->element [i]->str, strtoll (all->element [i + 1]->str, NULL, 10));
        json_object_set (root, "orgs", json_object_get (root, "org"));
        json_object_set (root, "demands", json_object_get (root, "demand"));
        json_object_del (root, "org");
        json_object_del (root, "demand");
        if (registry_stats_add (self, request, root, reply) == 0)   //  funnel, health
            oim_api_ok (reply, 200, root);
        else
            json_decref (root);
    }
    else
        registry_reply_unavailable (reply);
    if (all)
        freeReplyObject (all);
    if (log)
        freeReplyObject (log);
    if (audit)
        freeReplyObject (audit);
}

void
registry_taxonomy_get (oim_service_t *service, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    (void) service; (void) request;
    oim_api_ok (reply, 200, registry_taxonomy_json ());
}
