/*  notify_api — oim-notify's HTTP API handlers (routes in services/gateway/gateway_routes.c):
    the inbox (notification.list, notification.read), the webhook endpoint (webhook.put),
    preferences (preferences.put) and the delivery log (delivery.list, delivery.retry).

    Who sees what: a company or startup key acts on its own organization only; the agency on
    any (?org_id= names which; without it, deliveries of every org and its own inbox).
    Another org's notification or delivery is answered 404, as if it did not exist, so ids
    reveal nothing. Every handler runs on the loop's thread with bounded Redis calls; the
    webhook URL check resolves no name (notify_ssrf.h: a DNS that never answers would hold
    the loop), names are checked when a delivery connects.
*/
#include "notify_server.h"
#include "oim_api.h"
#include "oim_clock.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "notify_sign.h"
#include "oim_id.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50
#define LIST_MAX 200
#define URL_MAX 2048
#define DLV_SCAN_MAX 5000           //  delivery ids examined per request with a status filter

static const char *s_types [] = {
    "match.created", "match.updated", "interest.received", "match.connected",
    "demand.closed", "saved_search.hit",
    "demand.expiring", "demand.reviewed", "announcement",      //  the registry's (issue 17)
    NULL
};

static bool
s_known_type (const char *type)
{
    for (int i = 0; s_types [i]; i++)
        if (strcmp (s_types [i], type) == 0)
            return true;
    return false;
}

static bool
s_is_agency (const Oim__V1__ApiRequest *request)
{
    return request->principal && request->principal->role == OIM__V1__ROLE__ROLE_AGENCY;
}

//  The org a list request reads: the principal's own; the agency may name one with
//  ?org_id= (all_for_agency: none named = every org, returned as ""). Returns NULL with a
//  reply set when the principal has no organization.
static const char *
s_scope (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply, bool all_for_agency)
{
    const char *named = oim_api_query (request, "org_id");
    if (s_is_agency (request)) {
        if (named && *named)
            return named;
        if (all_for_agency)
            return "";
    }
    else
    if (named && *named && (!request->principal || strcmp (named, request->principal->org_id))) {
        oim_api_error (reply, 403, "forbidden", "org_id", "you may only read your own organization's");
        return NULL;
    }
    if (!request->principal || !request->principal->org_id || !*request->principal->org_id) {
        oim_api_error (reply, 403, "forbidden", NULL, "this key belongs to no organization");
        return NULL;
    }
    return request->principal->org_id;
}

//  The {id} path parameter of /v1/orgs/{id}/..., if the principal may change that org.
static const char *
s_path_org (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    const char *org = oim_api_param (request, "id");
    if (!org || !oim_id_valid (org, "org")) {
        oim_api_error (reply, 404, "not_found", NULL, "no such organization");
        return NULL;
    }
    if (!s_is_agency (request)
    && (!request->principal || strcmp (request->principal->org_id, org))) {
        oim_api_error (reply, 403, "forbidden", NULL, "only the organization itself or the agency may change this");
        return NULL;
    }
    return org;
}

//  ?limit= in [1, LIST_MAX]. Returns it, or 0 with a 400 set.
static int
s_limit (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    const char *text = oim_api_query (request, "limit");
    if (!text || !*text)
        return LIST_DEFAULT;
    char *end;
    long n = strtol (text, &end, 10);
    if (*end || n < 1 || n > LIST_MAX) {
        oim_api_error (reply, 400, "invalid", "limit", "limit must be an integer from 1 to %d", LIST_MAX);
        return 0;
    }
    return (int) n;
}

static void
s_unavailable (oim_api_reply_t *reply)
{
    oim_api_error (reply, 503, "unavailable", NULL, "the notification store is unavailable");
}

//  ---------------------------------------------------------------------------------------
//  GET /v1/notifications?unread=true|false&cursor=&limit=[&org_id= for the agency]
//  unread=true lists unread ones only; otherwise all, newest first, each with "read".
//  cursor = the feed_sequence to continue below (next_cursor of the previous page).

//  The list's query: unread (true|false) and cursor (a next_cursor: "(<score>" as the ZSET
//  bound, "+inf" without one). False with a 400 in reply when either is malformed.
static bool
s_list_query (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply, bool *only_unread,
              char *max, size_t max_size)
{
    const char *unread = oim_api_query (request, "unread");
    if (unread && *unread && strcmp (unread, "true") && strcmp (unread, "false")) {
        oim_api_error (reply, 400, "invalid", "unread", "unread must be true or false");
        return false;
    }
    *only_unread = unread && strcmp (unread, "true") == 0;
    if (notify_api_ntf_cursor (oim_api_query (request, "cursor"), max, max_size)) {
        oim_api_error (reply, 400, "invalid", "cursor", "cursor must be a next_cursor this API gave");
        return false;
    }
    return true;
}

int
notify_api_ntf_cursor (const char *cursor, char *max, size_t max_size)
{
    snprintf (max, max_size, "+inf");
    if (!cursor || !*cursor)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull (cursor, &end, 10);
    if (*cursor < '0' || *cursor > '9' || *end || errno || n == 0)
        return -1;                  //  not "-1", " 5" or an overflow read as ULLONG_MAX
    snprintf (max, max_size, "(%llu", n);
    return 0;
}

//  Reads the first count notifications of ids (a WITHSCORES reply) with their unread marks,
//  and the unread count, in one pipeline: appends them to list. False when Redis failed.
static bool
s_list_fetch (oim_redis_t *redis, const redisReply *ids, size_t count, const char *unread_key,
              json_t *list, json_int_t *unread_count)
{
    bool ok = true;
    for (size_t i = 0; i < count && ok; i++) {
        char key [OIM_KEY_SIZE];
        snprintf (key, sizeof key, OIM_KEY_NTF, ids->element [2 * i]->str);
        ok = oim_redis_append (redis, "GET %s", key) == 0
          && oim_redis_append (redis, "ZSCORE %s %s", unread_key, ids->element [2 * i]->str) == 0;
    }
    ok = ok && oim_redis_append (redis, "ZCARD %s", unread_key) == 0;
    for (size_t i = 0; i < count && ok; i++) {
        redisReply *value = oim_redis_reply (redis);
        redisReply *score = value? oim_redis_reply (redis): NULL;
        if (!value || !score)
            ok = false;
        else
        if (value->type == REDIS_REPLY_STRING) {
            Oim__V1__Notification *n = oim__v1__notification__unpack (NULL, value->len,
                                                                      (const uint8_t *) value->str);
            if (n) {
                json_array_append_new (list, notify_store_notification_json (
                    n, true, score->type == REDIS_REPLY_NIL));
                oim__v1__notification__free_unpacked (n, NULL);
            }
        }
        if (value)
            freeReplyObject (value);
        if (score)
            freeReplyObject (score);
    }
    redisReply *card = ok? oim_redis_reply (redis): NULL;
    if (card) {
        *unread_count = card->type == REDIS_REPLY_INTEGER? card->integer: 0;
        freeReplyObject (card);
    }
    return card != NULL;
}

void
notify_api_notification_list (oim_service_t *service, const Oim__V1__ApiRequest *request,
                              oim_api_reply_t *reply)
{
    const char *org = s_scope (request, reply, false);
    if (!org)
        return;
    int limit = s_limit (request, reply);
    bool only_unread;
    char max [32];
    if (!limit || !s_list_query (request, reply, &only_unread, max, sizeof max))
        return;
    oim_redis_t *redis = oim_service_redis (service);
    char inbox [OIM_KEY_SIZE], unread_key [OIM_KEY_SIZE];
    snprintf (inbox, sizeof inbox, OIM_KEY_ORG_INBOX, org);
    snprintf (unread_key, sizeof unread_key, OIM_KEY_ORG_UNREAD, org);
    redisReply *ids = oim_redis_command (redis, "ZREVRANGEBYSCORE %s %s -inf WITHSCORES LIMIT 0 %d",
                                         only_unread? unread_key: inbox, max, limit + 1);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject (ids);
        s_unavailable (reply);
        return;
    }
    size_t count = ids->elements / 2;
    bool more = count > (size_t) limit;
    if (more)
        count = (size_t) limit;
    json_t *list = json_array ();
    json_int_t unread_count = 0;
    if (!s_list_fetch (redis, ids, count, unread_key, list, &unread_count)) {
        json_decref (list);
        freeReplyObject (ids);
        s_unavailable (reply);
        return;
    }
    json_t *body = json_pack ("{s:O, s:o, s:I}", "items", list, "notifications", list,
                              "unread_count", unread_count);  //  "notifications": deprecated alias
    json_object_set_new (body, "next_cursor", more
        ? json_string (ids->element [2 * (count - 1) + 1]->str): json_null ());
    freeReplyObject (ids);
    oim_api_ok (reply, 200, body);
}

//  Reads notification id if the principal may see it. Returns it (caller frees) or NULL with
//  a reply set.
static Oim__V1__Notification *
s_load_notification (oim_service_t *service, const Oim__V1__ApiRequest *request,
                     const char *id, oim_api_reply_t *reply)
{
    if (!id || !oim_id_valid (id, "ntf")) {
        oim_api_error (reply, 404, "not_found", NULL, "no such notification");
        return NULL;
    }
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_NTF, id);
    redisReply *value = oim_redis_command (oim_service_redis (service), "GET %s", key);
    if (!value) {
        s_unavailable (reply);
        return NULL;
    }
    Oim__V1__Notification *n = value->type == REDIS_REPLY_STRING
        ? oim__v1__notification__unpack (NULL, value->len, (const uint8_t *) value->str): NULL;
    freeReplyObject (value);
    if (n && !s_is_agency (request)
    && (!request->principal || strcmp (request->principal->org_id, n->org_id))) {
        oim__v1__notification__free_unpacked (n, NULL);
        n = NULL;
    }
    if (!n)
        oim_api_error (reply, 404, "not_found", NULL, "no such notification");
    return n;
}

//  POST /v1/notifications/{id}/read — idempotent; answers the notification, read.
void
notify_api_notification_read (oim_service_t *service, const Oim__V1__ApiRequest *request,
                              oim_api_reply_t *reply)
{
    Oim__V1__Notification *n = s_load_notification (service, request,
                                                    oim_api_param (request, "id"), reply);
    if (!n)
        return;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG_UNREAD, n->org_id);
    redisReply *r = oim_redis_command (oim_service_redis (service), "ZREM %s %s", key, n->id);
    if (!r)
        s_unavailable (reply);
    else
        oim_api_ok (reply, 200, notify_store_notification_json (n, true, true));
    if (r)
        freeReplyObject (r);
    oim__v1__notification__free_unpacked (n, NULL);
}

//  ---------------------------------------------------------------------------------------
//  PUT /v1/orgs/{id}/webhook {url, events} — creates or replaces the endpoint, re-enables a
//  disabled one, keeps the signing secret of an existing one (receivers keep verifying);
//  the reply always shows the secret. events: types to deliver, empty or absent = all.

static json_t *
s_webhook_json (const char *org, redisReply *h)
{
    //  h: HMGET url events secret disabled created_at updated_at
    const char *v [6];
    for (int i = 0; i < 6; i++)
        v [i] = h->element [i]->type == REDIS_REPLY_STRING? h->element [i]->str: "";
    json_t *events = json_array ();
    char buf [1024];
    snprintf (buf, sizeof buf, "%s", v [1]);
    char *save = NULL;
    for (char *e = strtok_r (buf, ",", &save); e; e = strtok_r (NULL, ",", &save))
        json_array_append_new (events, json_string (e));
    return json_pack ("{s:s, s:s, s:o, s:s, s:b, s:s, s:s}", "org_id", org, "url", v [0],
                      "events", events, "secret", v [2], "disabled", strcmp (v [3], "1") == 0,
                      "created_at", v [4], "updated_at", v [5]);
}

//  GET /v1/orgs/{id}/webhook — the endpoint as PUT left it (secret included: the org and
//  the agency may need it again to verify), 404 when none is configured.
void
notify_api_webhook_get (oim_service_t *service, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    const char *org = s_path_org (request, reply);
    if (!org)
        return;
    char hkey [OIM_KEY_SIZE];
    snprintf (hkey, sizeof hkey, OIM_KEY_WEBHOOK, org);
    redisReply *r = oim_redis_command (oim_service_redis (service),
                                       "HMGET %s url events secret disabled created_at updated_at", hkey);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 6)
        s_unavailable (reply);
    else
    if (r->element [0]->type != REDIS_REPLY_STRING)
        oim_api_error (reply, 404, "not_found", NULL, "no webhook is configured for this organization");
    else
        oim_api_ok (reply, 200, s_webhook_json (org, r));
    if (r)
        freeReplyObject (r);
}

//  Checks a PUT webhook body: only url (an http(s) URL of at most URL_MAX bytes) and events
//  (null, or an array of known event types, written into list comma-separated without
//  repeats). Returns the url (borrowed from body), or NULL with a 400 in reply.
static json_t *
s_webhook_body (json_t *body, oim_api_reply_t *reply, char *list, size_t list_size)
{
    const char *key;
    json_t *value;
    json_object_foreach (body, key, value)
        if (strcmp (key, "url") && strcmp (key, "events")) {
            oim_api_error (reply, 400, "invalid", key, "unknown field");
            return NULL;
        }
    json_t *url = json_object_get (body, "url");
    json_t *events = json_object_get (body, "events");
    if (!json_is_string (url) || json_string_length (url) == 0 || json_string_length (url) > URL_MAX) {
        oim_api_error (reply, 400, "invalid", "url", "url must be an http(s) URL of at most %d bytes", URL_MAX);
        return NULL;
    }
    if (!events || json_is_null (events))
        return url;
    if (!json_is_array (events)) {
        oim_api_error (reply, 400, "invalid", "events", "events must be an array of event types");
        return NULL;
    }
    size_t i;
    json_t *e;
    json_array_foreach (events, i, e) {
        if (!json_is_string (e) || !s_known_type (json_string_value (e))) {
            char field [32];
            snprintf (field, sizeof field, "events[%zu]", i);
            oim_api_error (reply, 400, "invalid", field, "unknown event type");
            return NULL;
        }
        if (!strstr (list, json_string_value (e))) {
            size_t len = strlen (list);
            snprintf (list + len, list_size - len, "%s%s", len? ",": "", json_string_value (e));
        }
    }
    return url;
}

void
notify_api_webhook_put (oim_service_t *service, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    const char *org = s_path_org (request, reply);
    if (!org)
        return;
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return;
    char list [1024] = "";
    json_t *url = s_webhook_body (body, reply, list, sizeof list);
    if (!url) {
        json_decref (body);
        return;
    }
    char reason [NOTIFY_SSRF_REASON_MAX + 64] = "";
    if (notify_ssrf_check_url (notify_server_ssrf (service), json_string_value (url),
                               reason, sizeof reason)) {
        oim_api_error (reply, 422, "unprocessable", "url", "%s", reason);
        json_decref (body);
        return;
    }
    oim_redis_t *redis = oim_service_redis (service);
    char hkey [OIM_KEY_SIZE];
    snprintf (hkey, sizeof hkey, OIM_KEY_WEBHOOK, org);
    redisReply *old = oim_redis_command (redis, "HMGET %s secret created_at", hkey);
    if (!old || old->type != REDIS_REPLY_ARRAY || old->elements != 2) {
        if (old)
            freeReplyObject (old);
        json_decref (body);
        s_unavailable (reply);
        return;
    }
    char secret [NOTIFY_SIGN_SECRET_MAX], now [OIM_RFC3339_SIZE], created [OIM_RFC3339_SIZE + 8];
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    if (old->element [0]->type == REDIS_REPLY_STRING)
        snprintf (secret, sizeof secret, "%s", old->element [0]->str);
    else
        notify_sign_secret_generate (secret, sizeof secret);
    snprintf (created, sizeof created, "%s",
              old->element [1]->type == REDIS_REPLY_STRING? old->element [1]->str: now);
    freeReplyObject (old);
    redisReply *r = oim_redis_command (redis, "HSET %s url %s events %s secret %s disabled 0 "
                                       "created_at %s updated_at %s", hkey,
                                       json_string_value (url), list, secret, created, now);
    json_decref (body);
    if (r)
        freeReplyObject (r);
    r = r? oim_redis_command (redis, "HMGET %s url events secret disabled created_at updated_at", hkey): NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
        if (r)
            freeReplyObject (r);
        s_unavailable (reply);
        return;
    }
    oim_info ("event=webhook_put org=%s", org);
    oim_api_ok (reply, 200, s_webhook_json (org, r));
    freeReplyObject (r);
}

//  ---------------------------------------------------------------------------------------
//  PUT /v1/orgs/{id}/preferences — replaces the org's preferences. Body: the Preferences
//  message ({"types":[{"type","channels","digest"}]}) or, equivalently, an object keyed by
//  type ({"match.created":{"channels":["email"],"digest":"daily"}}). Type "*" sets the
//  default for types not listed; without it they get inbox + webhook, instant. digest
//  applies to e-mail (webhooks, inbox and feeds are always instant).

//  The Preferences JSON for stored "channels|digest" values of n types.
static json_t *
s_preferences_json (const char *org, const char *const *types, const char *const *values, size_t n,
                    const char *updated_at)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < n; i++) {
        char copy [256];
        snprintf (copy, sizeof copy, "%s", values [i]);
        char *bar = strchr (copy, '|');
        if (!bar)
            continue;       //  written by this daemon as "channels|digest"; skip anything else
        *bar = 0;
        json_t *channels = json_array ();
        char *save = NULL;
        for (char *c = strtok_r (copy, ",", &save); c; c = strtok_r (NULL, ",", &save))
            json_array_append_new (channels, json_string (c));
        json_array_append_new (list, json_pack ("{s:s, s:o, s:s}", "type", types [i],
                                                "channels", channels, "digest", bar + 1));
    }
    return json_pack ("{s:s, s:o, s:s}", "org_id", org, "types", list, "updated_at", updated_at);
}

//  Checks one type's preference and writes "channels|digest" into out. Returns 0 or -1
//  with a 400 set (field names the offender under path).
static int
s_preference (const char *path, const char *type, json_t *channels, json_t *digest,
              char *out, size_t out_size, oim_api_reply_t *reply)
{
    char field [160];
    if (strcmp (type, "*") && !s_known_type (type)) {
        snprintf (field, sizeof field, "%stype", path);
        oim_api_error (reply, 400, "invalid", field, "unknown event type \"%s\"", type);
        return -1;
    }
    bool seen [3] = { false, false, false };
    static const char *names [3] = { "webhook", "email", "inbox" };
    if (channels && !json_is_array (channels)) {
        snprintf (field, sizeof field, "%schannels", path);
        oim_api_error (reply, 400, "invalid", field, "channels must be an array");
        return -1;
    }
    size_t i;
    json_t *c;
    json_array_foreach (channels, i, c) {
        int k = -1;
        for (int n = 0; n < 3; n++)
            if (json_is_string (c) && strcmp (json_string_value (c), names [n]) == 0)
                k = n;
        if (k < 0) {
            snprintf (field, sizeof field, "%schannels[%zu]", path, i);
            oim_api_error (reply, 400, "invalid", field, "a channel is webhook, email or inbox");
            return -1;
        }
        seen [k] = true;
    }
    const char *d = digest && !json_is_null (digest)? json_string_value (digest): "instant";
    if (!d || (strcmp (d, "instant") && strcmp (d, "daily"))) {
        snprintf (field, sizeof field, "%sdigest", path);
        oim_api_error (reply, 400, "invalid", field, "digest is instant or daily");
        return -1;
    }
    snprintf (out, out_size, "%s%s%s%s%s|%s", seen [0]? "webhook": "",
              seen [0] && (seen [1] || seen [2])? ",": "", seen [1]? "email": "",
              seen [1] && seen [2]? ",": "", seen [2]? "inbox": "", d);
    return 0;
}

//  Up to PREFS_MAX_TYPES preferences, normalised from either body form: type i's name
//  (borrowed from the body) and its "channels|digest" value.
enum { PREFS_MAX_TYPES = 16 };
typedef struct {
    const char *types [PREFS_MAX_TYPES];
    char values [PREFS_MAX_TYPES][96];
    size_t n;
} s_prefs_t;

//  The list form, {"types": [{type, channels, digest}...]}. Returns 0 or -1 with a 400 set.
static int
s_prefs_list (json_t *body, json_t *array, s_prefs_t *prefs, oim_api_reply_t *reply)
{
    if (!json_is_array (array) || json_object_size (body) != 1) {
        oim_api_error (reply, 400, "invalid", "types", "types must be an array (and the only field)");
        return -1;
    }
    size_t i;
    json_t *entry;
    json_array_foreach (array, i, entry) {
        char path [32];
        snprintf (path, sizeof path, "types[%zu].", i);
        json_t *type = json_object_get (entry, "type");
        if (!json_is_object (entry) || !json_is_string (type) || prefs->n == PREFS_MAX_TYPES) {
            oim_api_error (reply, 400, "invalid", path, "each entry needs a type (at most %d)", PREFS_MAX_TYPES);
            return -1;
        }
        const char *k;
        json_t *v;
        json_object_foreach (entry, k, v)
            if (strcmp (k, "type") && strcmp (k, "channels") && strcmp (k, "digest")) {
                char field [64];
                snprintf (field, sizeof field, "%s%s", path, k);
                oim_api_error (reply, 400, "invalid", field, "unknown field");
                return -1;
            }
        size_t n = prefs->n++;
        prefs->types [n] = json_string_value (type);
        if (s_preference (path, prefs->types [n], json_object_get (entry, "channels"),
                          json_object_get (entry, "digest"), prefs->values [n],
                          sizeof prefs->values [n], reply))
            return -1;
    }
    return 0;
}

//  The map form, {"<type>": {channels, digest}...}. Returns 0 or -1 with a 400 set.
static int
s_prefs_map (json_t *body, s_prefs_t *prefs, oim_api_reply_t *reply)
{
    const char *type;
    json_t *entry;
    json_object_foreach (body, type, entry) {
        char path [160];
        snprintf (path, sizeof path, "%s.", type);
        if (!json_is_object (entry) || prefs->n == PREFS_MAX_TYPES) {
            oim_api_error (reply, 400, "invalid", type, "must be {channels, digest}");
            return -1;
        }
        size_t n = prefs->n++;
        prefs->types [n] = type;
        if (s_preference (path, type, json_object_get (entry, "channels"),
                          json_object_get (entry, "digest"), prefs->values [n],
                          sizeof prefs->values [n], reply))
            return -1;
    }
    return 0;
}

//  Replaces org's preferences with prefs in one MULTI/EXEC, stamped now. Returns 0, or -1
//  when Redis failed.
static int
s_prefs_store (oim_redis_t *redis, const char *org, const s_prefs_t *prefs, const char *now)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_PREFS, org);
    size_t n = prefs->n;
    bool ok = oim_redis_append (redis, "MULTI") == 0
           && oim_redis_append (redis, "DEL %s", key) == 0;
    for (size_t i = 0; i < n && ok; i++)
        ok = oim_redis_append (redis, "HSET %s %s %s", key, prefs->types [i], prefs->values [i]) == 0;
    ok = ok && oim_redis_append (redis, "HSET %s _updated_at %s", key, now) == 0
            && oim_redis_append (redis, "EXEC") == 0;
    for (size_t i = 0; ok && i < n + 4; i++) {
        redisReply *r = oim_redis_reply (redis);
        ok = r != NULL && (i < n + 3 || r->type == REDIS_REPLY_ARRAY);
        if (r)
            freeReplyObject (r);
    }
    return ok? 0: -1;
}

void
notify_api_preferences_put (oim_service_t *service, const Oim__V1__ApiRequest *request,
                            oim_api_reply_t *reply)
{
    const char *org = s_path_org (request, reply);
    if (!org)
        return;
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return;
    //  Normalise both forms into (type, channels, digest) triples.
    s_prefs_t prefs = { .n = 0 };
    json_t *array = json_object_get (body, "types");
    int rc = array? s_prefs_list (body, array, &prefs, reply): s_prefs_map (body, &prefs, reply);
    char now [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    if (rc == 0 && s_prefs_store (oim_service_redis (service), org, &prefs, now)) {
        s_unavailable (reply);
        rc = -1;
    }
    if (rc == 0) {
        oim_info ("event=preferences_put org=%s types=%zu", org, prefs.n);
        const char *stored [PREFS_MAX_TYPES];
        for (size_t i = 0; i < prefs.n; i++)
            stored [i] = prefs.values [i];
        //  types point into body: render before letting it go.
        oim_api_ok (reply, 200, s_preferences_json (org, prefs.types, stored, prefs.n, now));
    }
    json_decref (body);
}

//  GET /v1/orgs/{id}/preferences — what PUT stored (an org that never set any gets the
//  defaults: an empty list, i.e. inbox + webhook, instant, for every type).
void
notify_api_preferences_get (oim_service_t *service, const Oim__V1__ApiRequest *request,
                            oim_api_reply_t *reply)
{
    const char *org = s_path_org (request, reply);
    if (!org)
        return;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_PREFS, org);
    redisReply *r = oim_redis_command (oim_service_redis (service), "HGETALL %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject (r);
        s_unavailable (reply);
        return;
    }
    const char *types [64], *values [64], *updated = "";
    size_t n = 0;
    for (size_t i = 0; i + 1 < r->elements && n < 64; i += 2)
        if (strcmp (r->element [i]->str, "_updated_at") == 0)
            updated = r->element [i + 1]->str;
        else {
            types [n] = r->element [i]->str;
            values [n++] = r->element [i + 1]->str;
        }
    oim_api_ok (reply, 200, s_preferences_json (org, types, values, n, updated));
    freeReplyObject (r);
}

//  ---------------------------------------------------------------------------------------
//  GET /v1/deliveries?status=&cursor=&limit=[&org_id=] — newest first, every attempt in
//  "log". A status filter examines at most DLV_SCAN_MAX deliveries per request; next_cursor
//  continues after the last one examined.

int
notify_api_dlv_cursor (const char *cursor, char *max, size_t max_size)
{
    if (cursor && *cursor && !oim_id_valid (cursor, "dlv"))
        return -1;
    if (cursor && *cursor)
        snprintf (max, max_size, "(%s", cursor);
    else
        snprintf (max, max_size, "+");
    return 0;
}

void
notify_api_delivery_list (oim_service_t *service, const Oim__V1__ApiRequest *request,
                          oim_api_reply_t *reply)
{
    const char *org = s_scope (request, reply, true);
    if (!org)
        return;
    int limit = s_limit (request, reply);
    if (!limit)
        return;
    const char *status = oim_api_query (request, "status");
    if (status && !*status)
        status = NULL;
    if (status && strcmp (status, "pending") && strcmp (status, "delivered")
    &&  strcmp (status, "dead") && strcmp (status, "disabled")) {
        oim_api_error (reply, 400, "invalid", "status", "status is pending, delivered, dead or disabled");
        return;
    }
    char zkey [OIM_KEY_SIZE], max [OIM_KEY_SIZE + 2];
    if (notify_api_dlv_cursor (oim_api_query (request, "cursor"), max, sizeof max)) {
        oim_api_error (reply, 400, "invalid", "cursor", "cursor must be a next_cursor this API gave");
        return;
    }
    if (*org)
        snprintf (zkey, sizeof zkey, OIM_KEY_ORG_DLVS, org);
    else
        snprintf (zkey, sizeof zkey, "%s", OIM_KEY_DLVS);
    oim_redis_t *redis = oim_service_redis (service);
    json_t *list = json_array ();
    char last [OIM_KEY_SIZE] = "";
    bool more = false, failed = false;
    int scanned = 0;
    while (!failed && (int) json_array_size (list) < limit && scanned < DLV_SCAN_MAX) {
        int chunk = status? 100: limit - (int) json_array_size (list) + 1;
        redisReply *ids = oim_redis_command (redis, "ZREVRANGEBYLEX %s %s - LIMIT 0 %d",
                                             zkey, max, chunk);
        if (!ids || ids->type != REDIS_REPLY_ARRAY) {
            failed = true;
            if (ids)
                freeReplyObject (ids);
            break;
        }
        size_t i = 0;
        for (; i < ids->elements && (int) json_array_size (list) < limit; i++) {
            const char *id = ids->element [i]->str;
            scanned++;
            snprintf (last, sizeof last, "%s", id);
            bool redis_failed;
            Oim__V1__Delivery *d = notify_store_delivery (redis, id, &redis_failed);
            if (redis_failed) {
                failed = true;
                break;
            }
            if (d && (!status || strcmp (d->status, status) == 0))
                json_array_append_new (list, oim_pbjson_encode (&d->base, 0));
            notify_store_delivery_free (d);
        }
        more = i < ids->elements || (int) ids->elements == chunk;
        freeReplyObject (ids);
        if (!more)
            break;
        snprintf (max, sizeof max, "(%s", last);
    }
    if (failed) {
        json_decref (list);
        s_unavailable (reply);
        return;
    }
    json_t *body = json_pack ("{s:O,s:o}", "items", list, "deliveries", list);   //  "deliveries": deprecated alias
    json_object_set_new (body, "next_cursor", more && *last? json_string (last): json_null ());
    oim_api_ok (reply, 200, body);
}

//  POST /v1/deliveries/{id}/retry — replays a dead or disabled delivery: back to pending,
//  due now, a fresh run of the retry schedule; its log keeps every earlier attempt. 202.
void
notify_api_delivery_retry (oim_service_t *service, const Oim__V1__ApiRequest *request,
                           oim_api_reply_t *reply)
{
    const char *id = oim_api_param (request, "id");
    oim_redis_t *redis = oim_service_redis (service);
    bool redis_failed = false;
    Oim__V1__Delivery *d = id && oim_id_valid (id, "dlv")
                         ? notify_store_delivery (redis, id, &redis_failed): NULL;
    if (redis_failed) {
        s_unavailable (reply);
        return;
    }
    if (d && !s_is_agency (request)
    && (!request->principal || strcmp (request->principal->org_id, d->org_id))) {
        notify_store_delivery_free (d);
        d = NULL;
    }
    if (!d) {
        oim_api_error (reply, 404, "not_found", NULL, "no such delivery");
        return;
    }
    const char *answer = notify_store_replay (notify_server_store (service), redis, id, d->org_id);
    if (!answer)
        s_unavailable (reply);
    else
    if (strcmp (answer, "state") == 0)
        oim_api_error (reply, 409, "conflict", NULL,
                       "only a dead or disabled delivery can be retried (this one is %s)", d->status);
    else
    if (strcmp (answer, "endpoint_disabled") == 0)
        oim_api_error (reply, 409, "endpoint_disabled", NULL,
                       "the webhook endpoint is disabled (it answered 410); "
                       "PUT /v1/orgs/%s/webhook re-enables it", d->org_id);
    else
    if (strcmp (answer, "no_endpoint") == 0)
        oim_api_error (reply, 409, "no_endpoint", NULL, "the organization has no webhook endpoint");
    else
    if (strcmp (answer, "ok") == 0) {
        Oim__V1__Delivery *now = notify_store_delivery (redis, id, NULL);
        oim_info ("event=delivery_replay dlv=%s org=%s", id, d->org_id);
        oim_api_ok (reply, 202, now? oim_pbjson_encode (&now->base, 0): json_object ());
        notify_store_delivery_free (now);
    }
    else
        oim_api_error (reply, 404, "not_found", NULL, "no such delivery");
    notify_store_delivery_free (d);
}
