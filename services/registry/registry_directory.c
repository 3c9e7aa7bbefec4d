/*  registry_directory — lists over the registry's id indexes (zsets of score 0, members sorted
    by id, so by creation time): the organisation directory (GET /v1/orgs), the publishers
    (GET /v1/publishers) and their key (POST/DELETE /v1/publishers/{id}/api-keys); the pager
    is also what GET /v1/orgs/{id}/members pages with (registry_accounts.c).

    Every list answers the list envelope {items, next_cursor}: next_cursor is the id of the
    page's last item (or of the last id scanned, when a filtered page stopped on the scan
    bound), null at the end; ?limit=1..max, ?cursor=<id from the previous page>.

    GET /v1/orgs: the agency sees every live organisation with its contacts and may filter
    by status; active companies and startups see active organisations' public fields only
    (their own with contacts), status other than "active" is 403. Publishers, pending and
    suspended organisations get 403. ?q= keeps the names containing q (NFC and case-folded on
    both sides, so Korean and mixed-case names match), ?kind=startup|company|agency.

    A publisher holds one current key (oim:publisher:<id>:apikey: the ZeroMQ ingest checks that
    a CURVE-authenticated publisher presents exactly that key): POST rotates it (a new key,
    shown once; the old one fails with the same EXEC), DELETE revokes it (the publisher cannot
    publish until a new one is made). Agency only. The key records are written and dropped by
    registry_apikeys.c, the same code as organisations' named keys.
*/
#include "registry_request.h"
#include "oim_utf8.h"

#include <sodium.h>

#define SCAN_CHUNK  200         //  ids read per round while filtering a page
#define SCAN_ROUNDS 5           //  bound on the work of one page

//  ---------------------------------------------------------------------------------------
//  The pager

typedef struct {
    size_t limit;
    json_t *items;
    char next [OIM_ID_SIZE + 4];    //  cursor of the next page, "" at the end
    char from [OIM_ID_SIZE + 2];    //  where the next chunk starts ("(" + id, "-" or "+")
} page_t;

//  Reads the entities of up to SCAN_CHUNK ids after page->from (pipelined) and adds what
//  spec->render makes of them. Returns the number of ids read, or -1 when Redis failed.
static int
s_chunk (registry_t *self, const registry_page_spec_t *spec, page_t *page)
{
    redisReply *ids = spec->newest_first
        ? oim_redis_command (self->redis, "ZREVRANGEBYLEX %s %s - LIMIT 0 %d", spec->index,
                             page->from, SCAN_CHUNK)
        : oim_redis_command (self->redis, "ZRANGEBYLEX %s %s + LIMIT 0 %d", spec->index,
                             page->from, SCAN_CHUNK);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject (ids);
        return -1;
    }
    char key [OIM_KEY_SIZE];
    for (size_t i = 0; i < ids->elements; i++) {
        snprintf (key, sizeof key, spec->key_format, ids->element [i]->str);
        oim_redis_append (self->redis, "GET %s", key);
    }
    //  Every pipelined reply is read before a renderer may send a command of its own.
    ProtobufCMessage **entities = calloc (ids->elements + 1, sizeof *entities);
    int rc = (int) ids->elements;
    for (size_t i = 0; i < ids->elements && rc >= 0; i++) {
        redisReply *r = oim_redis_reply (self->redis);
        if (!r)
            rc = -1;
        else
        if (r->type == REDIS_REPLY_STRING)
            entities [i] = protobuf_c_message_unpack (spec->descriptor, NULL, r->len,
                                                      (uint8_t *) r->str);
        if (r)
            freeReplyObject (r);
    }
    for (size_t i = 0; i < ids->elements && rc >= 0; i++) {
        if (json_array_size (page->items) >= page->limit) {
            snprintf (page->next, sizeof page->next, "%s", page->from + 1);
            break;
        }
        snprintf (page->from, sizeof page->from, "(%s", ids->element [i]->str);
        bool failed = false;
        json_t *item = entities [i]? spec->render (self, entities [i], spec->arg, &failed): NULL;
        if (failed)
            rc = -1;
        if (item && rc >= 0)
            json_array_append_new (page->items, item);
        else
            json_decref (item);
    }
    for (size_t i = 0; i < ids->elements; i++)
        if (entities [i])
            protobuf_c_message_free_unpacked (entities [i], NULL);
    free (entities);
    freeReplyObject (ids);
    return rc;
}

int
registry_page_parse (const registry_page_spec_t *spec, const char *limit, const char *cursor,
                     size_t *limit_out, char *from, size_t from_size)
{
    *limit_out = spec->default_limit;
    if (limit) {
        char *end;
        long value = strtol (limit, &end, 10);
        if (*end || end == limit || value < 1 || value > (long) spec->max_limit)
            return -1;
        *limit_out = (size_t) value;
    }
    if (cursor && *cursor && !oim_id_valid (cursor, spec->id_prefix))
        return -2;
    if (cursor && *cursor)
        snprintf (from, from_size, "(%s", cursor);
    else
        snprintf (from, from_size, "%s", spec->newest_first? "+": "-");
    return 0;
}

//  ?limit and ?cursor into page; 0, or -1 with a 400 naming the field.
static int
s_page_params (const Oim__V1__ApiRequest *request, const registry_page_spec_t *spec,
               page_t *page, oim_api_reply_t *reply)
{
    int rc = registry_page_parse (spec, oim_api_query (request, "limit"),
                                  oim_api_query (request, "cursor"), &page->limit, page->from,
                                  sizeof page->from);
    if (rc == -1)
        return oim_api_error (reply, 400, "invalid", "limit", "limit must be 1..%zu",
                              spec->max_limit), -1;
    if (rc == -2)
        return oim_api_error (reply, 400, "invalid", "cursor", "cursor is not a cursor from a "
                              "previous page"), -1;
    return 0;
}

void
registry_page_reply (registry_t *self, const Oim__V1__ApiRequest *request,
                     const registry_page_spec_t *spec, oim_api_reply_t *reply)
{
    page_t page = { .items = NULL };
    if (s_page_params (request, spec, &page, reply))
        return;
    page.items = json_array ();
    int read = SCAN_CHUNK;
    for (int round = 0; round < SCAN_ROUNDS && read == SCAN_CHUNK && !*page.next; round++)
        read = s_chunk (self, spec, &page);
    if (read < 0) {
        json_decref (page.items);
        return registry_reply_unavailable (reply);
    }
    //  A page that stopped on the scan bound goes on after the last id it read.
    if (!*page.next && read == SCAN_CHUNK)
        snprintf (page.next, sizeof page.next, "%s", page.from + 1);
    oim_api_ok (reply, 200, json_pack ("{s:o,s:s?}", "items", page.items, "next_cursor",
                                       *page.next? page.next: NULL));
}

//  ---------------------------------------------------------------------------------------
//  GET /v1/orgs

typedef struct {
    const registry_actor_t *actor;
    const char *kind, *status;
    char *q;                    //  folded, or NULL
    bool agency;
} org_filter_t;

static json_t *
s_org_item (registry_t *self, const ProtobufCMessage *entity, void *arg, bool *failed)
{
    (void) self, (void) failed;
    const Oim__V1__Organization *org = (const Oim__V1__Organization *) entity;
    const org_filter_t *f = arg;
    if (org->deleted || (f->kind && strcmp (org->kind, f->kind))
    ||  (f->status && strcmp (org->status, f->status)))
        return NULL;
    if (f->q) {
        char *name = oim_utf8_fold (org->name);
        bool found = name && strstr (name, f->q);
        free (name);
        if (!found)
            return NULL;
    }
    const char *own = f->actor->principal->org_id;
    return registry_org_json (org, f->agency || (own && strcmp (own, org->id) == 0));
}

//  Checks the filters of GET /v1/orgs into f (q folded: caller frees). 0, or -1 with the
//  reply set.
static int
s_org_filter (registry_t *self, const Oim__V1__ApiRequest *request, org_filter_t *f,
              oim_api_reply_t *reply)
{
    f->agency = registry_is (f->actor, OIM__V1__ROLE__ROLE_AGENCY);
    f->kind = oim_api_query (request, "kind");
    f->status = oim_api_query (request, "status");
    const char *q = oim_api_query (request, "q");
    if (!f->agency && !registry_is (f->actor, OIM__V1__ROLE__ROLE_COMPANY)
    &&  !registry_is (f->actor, OIM__V1__ROLE__ROLE_STARTUP))
        return oim_api_error (reply, 403, "forbidden", NULL, "organisations and the agency "
                              "list organisations"), -1;
    if (registry_orgs_require_active (self, f->actor, reply))
        return -1;
    if (f->kind && strcmp (f->kind, "startup") && strcmp (f->kind, "company")
    &&  strcmp (f->kind, "agency"))
        return oim_api_error (reply, 400, "invalid", "kind", "kind must be startup, company or "
                              "agency"), -1;
    if (f->status && strcmp (f->status, "pending") && strcmp (f->status, "active")
    &&  strcmp (f->status, "suspended"))
        return oim_api_error (reply, 400, "invalid", "status", "status must be pending, active "
                              "or suspended"), -1;
    if (!f->agency && f->status && strcmp (f->status, "active"))
        return oim_api_error (reply, 403, "forbidden", "status", "only the agency lists "
                              "pending or suspended organisations"), -1;
    if (!f->agency)
        f->status = "active";
    if (q && oim_utf8_chars (q) > 200)
        return oim_api_error (reply, 400, "invalid", "q", "q has at most 200 characters"), -1;
    f->q = q && *q? oim_utf8_fold (q): NULL;
    if (q && *q && !f->q)
        return oim_api_error (reply, 400, "invalid", "q", "q is not valid UTF-8"), -1;
    return 0;
}

void
registry_org_list (oim_service_t *service, const Oim__V1__ApiRequest *request,
                   oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    org_filter_t filter = { .actor = &actor };
    if (s_org_filter (self, request, &filter, reply))
        return;
    registry_page_spec_t spec = { OIM_KEY_ORGS, OIM_KEY_ORG, "org",
                                  &oim__v1__organization__descriptor, true, 20, 100,
                                  s_org_item, &filter };
    registry_page_reply (self, request, &spec, reply);
    free (filter.q);
}

//  ---------------------------------------------------------------------------------------
//  Publishers: the list and their key

//  The publisher's current key: {id, prefix, created_at, last_used_at} or null.
static json_t *
s_publisher_key (registry_t *self, const char *pub_id)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_PUBLISHER_APIKEY, pub_id);
    redisReply *hash = oim_redis_command (self->redis, "GET %s", key);
    Oim__V1__ApiKeyRecord *record = NULL;
    json_t *json = json_null ();
    if (hash && hash->type == REDIS_REPLY_STRING) {
        snprintf (key, sizeof key, OIM_KEY_APIKEY, hash->str);
        if (registry_store_get (self->redis, key, &oim__v1__api_key_record__descriptor,
                                (ProtobufCMessage **) &record) == 1) {
            json_decref (json);
            json = json_pack ("{s:s,s:s,s:s,s:o}", "id", record->key_id, "prefix",
                              record->prefix, "created_at", record->created_at,
                              "last_used_at", registry_apikeys_last_used (self, hash->str));
            protobuf_c_message_free_unpacked (&record->base, NULL);
        }
    }
    if (hash)
        freeReplyObject (hash);
    return json;
}

static json_t *
s_publisher_item (registry_t *self, const ProtobufCMessage *entity, void *arg, bool *failed)
{
    (void) arg, (void) failed;
    const Oim__V1__Publisher *pub = (const Oim__V1__Publisher *) entity;
    json_t *json = oim_pbjson_encode (entity, 0);
    json_object_set_new (json, "api_key", s_publisher_key (self, pub->id));
    return json;
}

void
registry_publisher_list (oim_service_t *service, const Oim__V1__ApiRequest *request,
                         oim_api_reply_t *reply)
{
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "only the agency lists publishers");
    registry_page_spec_t spec = { OIM_KEY_PUBLISHERS, OIM_KEY_PUBLISHER, "pub",
                                  &oim__v1__publisher__descriptor, true, 20, 100,
                                  s_publisher_item, NULL };
    registry_page_reply (registry_of (service), request, &spec, reply);
}

//  Loads the publisher of the "id" parameter and WATCHes its key pointer, for the agency.
//  Returns it (hash_out: its current key's hash or ""), or NULL with the reply set.
static Oim__V1__Publisher *
s_publisher_for_key (registry_t *self, const Oim__V1__ApiRequest *request,
                     const registry_actor_t *actor, char *hash_out, oim_api_reply_t *reply)
{
    if (!registry_is (actor, OIM__V1__ROLE__ROLE_AGENCY)) {
        oim_api_error (reply, 403, "forbidden", NULL, "only the agency manages publishers' keys");
        return NULL;
    }
    Oim__V1__Publisher *pub = registry_publisher_load (self, request, reply);
    if (!pub)
        return NULL;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_PUBLISHER_APIKEY, pub->id);
    redisReply *hash = oim_redis_tx_watch (self->redis, key)? NULL
                     : oim_redis_command (self->redis, "GET %s", key);
    hash_out [0] = 0;
    if (hash && hash->type == REDIS_REPLY_STRING && hash->len == 64)
        memcpy (hash_out, hash->str, 65);
    if (hash && hash->type != REDIS_REPLY_ERROR) {
        freeReplyObject (hash);
        return pub;
    }
    if (hash)
        freeReplyObject (hash);
    oim_redis_tx_unwatch (self->redis);
    registry_reply_unavailable (reply);
    protobuf_c_message_free_unpacked (&pub->base, NULL);
    return NULL;
}

//  Runs tx (the key change) with its audit entry and answers ok_status with body (consumed)
//  or 409/503.
static void
s_key_commit (registry_t *self, oim_redis_tx_t *tx, const registry_actor_t *actor,
              const char *action, const Oim__V1__Publisher *pub, uint32_t ok_status,
              json_t *body, oim_api_reply_t *reply)
{
    registry_tx_audit (tx, actor, action, "publisher", pub->id, pub->source_system);
    int rc = oim_redis_tx_exec (tx, self->redis);
    if (rc == 0)
        return oim_api_ok (reply, ok_status, body);
    json_decref (body);
    if (rc == 1)
        oim_api_error (reply, 409, "conflict", NULL, "a concurrent change: try again");
    else
        registry_reply_unavailable (reply);
}

void
registry_publisher_key_rotate (oim_service_t *service, const Oim__V1__ApiRequest *request,
                               oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    char old_hash [65];
    Oim__V1__Publisher *pub = s_publisher_for_key (self, request, &actor, old_hash, reply);
    if (!pub)
        return;
    char api_key [REGISTRY_API_KEY_CHARS + 1], hash [65], key_id [OIM_ID_SIZE], key [OIM_KEY_SIZE];
    registry_keys_new (api_key, hash);
    oim_redis_tx_t *tx = oim_redis_tx_new ();
    if (*old_hash)
        registry_apikeys_tx_drop (tx, old_hash);
    registry_apikeys_tx_record (tx, api_key, hash, OIM__V1__ROLE__ROLE_PUBLISHER, "",
                                pub->source_system, "publisher", key_id);
    snprintf (key, sizeof key, OIM_KEY_PUBLISHER_APIKEY, pub->id);
    oim_redis_tx_strs (tx, "SET", key, hash, NULL);
    s_key_commit (self, tx, &actor, "publisher.key_rotate", pub, 201,
                  json_pack ("{s:s,s:s,s:s}", "id", key_id, "publisher_id", pub->id,
                             "api_key", api_key), reply);
    oim_redis_tx_destroy (&tx);
    sodium_memzero (api_key, sizeof api_key);
    protobuf_c_message_free_unpacked (&pub->base, NULL);
}

void
registry_publisher_key_revoke (oim_service_t *service, const Oim__V1__ApiRequest *request,
                               oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    char old_hash [65], key [OIM_KEY_SIZE];
    Oim__V1__Publisher *pub = s_publisher_for_key (self, request, &actor, old_hash, reply);
    if (!pub)
        return;
    if (!*old_hash) {
        oim_redis_tx_unwatch (self->redis);
        oim_api_error (reply, 404, "not_found", NULL, "the publisher holds no key");
    }
    else {
        oim_redis_tx_t *tx = oim_redis_tx_new ();
        registry_apikeys_tx_drop (tx, old_hash);
        snprintf (key, sizeof key, OIM_KEY_PUBLISHER_APIKEY, pub->id);
        oim_redis_tx_strs (tx, "DEL", key, NULL);
        s_key_commit (self, tx, &actor, "publisher.key_revoke", pub, 204, NULL, reply);
        oim_redis_tx_destroy (&tx);
    }
    protobuf_c_message_free_unpacked (&pub->base, NULL);
}
