/*  matcher_message — a relationship's message thread (issue 17 item 2; operations
    rel.messages_post, rel.messages_list, rel.messages_read).

    Only the two parties, once connected: writing in connected / poc / contract (ended:
    409 naming the state, the thread stays readable), reading from connected on; anyone
    else 404. The thread is the stream oim:rel:<id>:msgs (from org, from user, text, at);
    org X's read mark is oim:rel:<id>:read:<X> (the last entry it read), and its unread count
    the other side's entries after it (at most 1000 counted). A message queues
    message.received for the other party on oim:events, the path match events take to
    oim-notify (inbox, webhooks, SSE, e-mail as the recipient's preferences say), with the
    relationship, the sender and a preview of at most 140 bytes, cut on a UTF-8 boundary.
*/
#include "matcher_store_internal.h"
#include "matcher_relation.h"
#include "oim_utf8.h"

#define MAX_TEXT        10000
#define PREVIEW_BYTES   140
#define THREAD_MAX      1000

//  The relationship named by "id" when the principal is one of its parties and it is
//  connected or later (its owned record), else NULL with the reply set (404, 403, 503).
static match_t *
s_party_record (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                oim_api_reply_t *reply)
{
    const char *id = oim_api_param (request, "id");
    const Oim__V1__Principal *p = request->principal;
    if (!id || !oim_id_valid (id, "mat") || !p || !p->org_id || !*p->org_id) {
        oim_api_error (reply, 404, "not_found", NULL, "no such relationship");
        return NULL;
    }
    if (!matcher_member (self, p)) {
        matcher_not_member (reply);
        return NULL;
    }
    char *ids [1] = { (char *) id };
    match_t **ms = matcher_read_matches (self, ids, 1, false);
    if (!ms) {
        oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
        return NULL;
    }
    match_t *m = ms [0];
    ms [0] = NULL;
    matcher_free_matches (ms, 1);
    if (m && (streq (p->org_id, m->company_id) || streq (p->org_id, m->startup_id))
        && matcher_state_revealed (m->state))
        return m;
    if (m && (streq (p->org_id, m->company_id) || streq (p->org_id, m->startup_id)))
        matcher_conflict (reply, m->state);
    else
        oim_api_error (reply, 404, "not_found", NULL, "no such relationship");
    matcher_match_free (&m);
    return NULL;
}

//  The longest prefix of text of at most max bytes that ends on a UTF-8 boundary (a copy).
static char *
s_preview (const char *text, size_t max)
{
    return strndup (text, oim_utf8_cut (text, strlen (text), max));
}

//  Queues message.received for org (the other party) about m.
static void
s_tx_message_event (matcher_store_t *self, matcher_tx_t *tx, const match_t *m,
                    const char *from, const char *org, const char *text)
{
    char now [OIM_RFC3339_SIZE], id [OIM_ID_SIZE];
    matcher_store_now (self, now);
    matcher_event_id (self, m->id, oim_clock_wall_us (), "message.received", org, now, id);
    char *preview = s_preview (text, PREVIEW_BYTES);
    json_t *data = json_pack ("{s:s,s:s,s:s,s:s}", "relationship_id", m->id, "demand_id",
                              m->demand_id, "from_org_id", from, "preview", preview);
    char *data_json = json_dumps (data, JSON_COMPACT);
    Oim__V1__Event event = OIM__V1__EVENT__INIT;
    event.id = id;
    event.type = "message.received";
    event.org_id = (char *) org;
    event.created_at = now;
    event.data_json = data_json;
    matcher_tx_event_add (tx, &event);
    free (data_json);
    json_decref (data);
    free (preview);
}

void
matcher_store_rel_message_post (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                                oim_api_reply_t *reply)
{
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return;
    json_t *text = json_object_get (body, "text");
    match_t *m = NULL;
    if (!json_is_string (text) || !*json_string_value (text)
        || strlen (json_string_value (text)) > MAX_TEXT)
        oim_api_error (reply, 400, "invalid", "text", "a string of 1 to %d bytes", MAX_TEXT);
    else
        m = s_party_record (self, request, reply);
    if (m && streq (m->state, "ended"))
        matcher_conflict (reply, m->state);
    else
    if (m) {
        const Oim__V1__Principal *p = request->principal;
        const char *to = streq (p->org_id, m->company_id)? m->startup_id: m->company_id;
        char key [OIM_KEY_SIZE], at [OIM_RFC3339_SIZE];
        matcher_store_now (self, at);
        snprintf (key, sizeof key, "oim:rel:%s:msgs", m->id);
        matcher_tx_t tx;
        matcher_tx_init (self, &tx);
        oim_redis_tx_strs (tx.redis_tx, "XADD", key, "*", "from", p->org_id, "user",
                           p->user_id? p->user_id: "", "text", json_string_value (text),
                           "at", at, NULL);
        s_tx_message_event (self, &tx, m, p->org_id, to, json_string_value (text));
        if (matcher_tx_exec (self, &tx) == OIM_REDIS_TX_COMMITTED)
            oim_api_ok (reply, 201, json_pack ("{s:s,s:s,s:s,s:s}", "relationship_id", m->id,
                                               "from_org_id", p->org_id, "text",
                                               json_string_value (text), "at", at));
        else
            oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
    }
    matcher_match_free (&m);
    json_decref (body);
}

//  True when stream entry id a comes after b ("ms-seq").
static bool
s_id_after (const char *a, const char *b)
{
    char *end_a, *end_b;
    unsigned long long ms_a = strtoull (a, &end_a, 10), ms_b = strtoull (b, &end_b, 10);
    if (ms_a != ms_b)
        return ms_a > ms_b;
    return strtoull (*end_a == '-'? end_a + 1: end_a, NULL, 10)
         > strtoull (*end_b == '-'? end_b + 1: end_b, NULL, 10);
}

//  The thread's entries (an XRANGE reply) as JSON items; *unread = those not from org after
//  mark (NULL: none read).
static json_t *
s_thread_items (const redisReply *r, const char *org, const char *mark, size_t *unread)
{
    json_t *items = json_array ();
    *unread = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *entry = r->element [i], *fields = entry->element [1];
        json_t *item = json_pack ("{s:s}", "id", entry->element [0]->str);
        for (size_t f = 0; f + 1 < fields->elements; f += 2)
            json_object_set_new (item, streq (fields->element [f]->str, "from")? "from_org_id":
                                 fields->element [f]->str,
                                 json_string (fields->element [f + 1]->str));
        const char *from = json_string_value (json_object_get (item, "from_org_id"));
        if (!streq (from? from: "", org) && (!mark || s_id_after (entry->element [0]->str, mark)))
            (*unread)++;
        json_array_append_new (items, item);
    }
    return items;
}

void
matcher_store_rel_message_list (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                                oim_api_reply_t *reply)
{
    match_t *m = s_party_record (self, request, reply);
    if (!m)
        return;
    const char *org = request->principal->org_id;
    char key [OIM_KEY_SIZE], mark [OIM_KEY_SIZE];
    snprintf (key, sizeof key, "oim:rel:%s:msgs", m->id);
    snprintf (mark, sizeof mark, "oim:rel:%s:read:%s", m->id, org);
    oim_redis_append (self->redis, "XRANGE %s - + COUNT %d", key, THREAD_MAX);
    oim_redis_append (self->redis, "GET %s", mark);
    redisReply *r = oim_redis_reply (self->redis);
    redisReply *read = r? oim_redis_reply (self->redis): NULL;
    if (!read || r->type != REDIS_REPLY_ARRAY)
        oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
    else {
        size_t unread;
        json_t *items = s_thread_items (r, org, read->type == REDIS_REPLY_STRING? read->str: NULL,
                                        &unread);
        oim_api_ok (reply, 200, json_pack ("{s:o,s:I,s:n}", "items", items, "unread",
                                           (json_int_t) unread, "next_cursor"));
    }
    if (r) freeReplyObject (r);
    if (read) freeReplyObject (read);
    matcher_match_free (&m);
}

void
matcher_store_rel_message_read (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                                oim_api_reply_t *reply)
{
    match_t *m = s_party_record (self, request, reply);
    if (!m)
        return;
    char key [OIM_KEY_SIZE], mark [OIM_KEY_SIZE];
    snprintf (key, sizeof key, "oim:rel:%s:msgs", m->id);
    snprintf (mark, sizeof mark, "oim:rel:%s:read:%s", m->id, request->principal->org_id);
    redisReply *last = oim_redis_command (self->redis, "XREVRANGE %s + - COUNT 1", key);
    redisReply *set = last && last->type == REDIS_REPLY_ARRAY && last->elements
        ? oim_redis_command (self->redis, "SET %s %s", mark, last->element [0]->element [0]->str)
        : NULL;
    if (!last || last->type != REDIS_REPLY_ARRAY || (last->elements && !set))
        oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
    else
        oim_api_ok (reply, 200, json_pack ("{s:I}", "unread", (json_int_t) 0));
    if (last) freeReplyObject (last);
    if (set) freeReplyObject (set);
    matcher_match_free (&m);
}

//  Sets "unread" (org's unread count) on the items (rendered relationships) that have a
//  thread: connected or later. Reads pipelined, two per item. 0, or -1 when Redis failed.
int
matcher_rel_unread_add (matcher_store_t *self, json_t *items, const char *org)
{
    size_t n = 0;
    json_t *item;
    size_t i;
    json_array_foreach (items, i, item) {
        const char *id = json_string_value (json_object_get (item, "id"));
        const char *state = json_string_value (json_object_get (item, "state"));
        if (!id || !state || !matcher_state_revealed (state))
            continue;
        oim_redis_append (self->redis, "XRANGE oim:rel:%s:msgs - + COUNT %d", id, THREAD_MAX);
        oim_redis_append (self->redis, "GET oim:rel:%s:read:%s", id, org);
        n++;
    }
    int rc = 0;
    json_array_foreach (items, i, item) {
        const char *state = json_string_value (json_object_get (item, "state"));
        if (!n || !json_object_get (item, "id") || !state || !matcher_state_revealed (state))
            continue;
        n--;
        redisReply *r = rc? NULL: oim_redis_reply (self->redis);
        redisReply *read = r? oim_redis_reply (self->redis): NULL;
        if (!read || r->type != REDIS_REPLY_ARRAY)
            rc = -1;
        else {
            size_t unread;
            json_decref (s_thread_items (r, org, read->type == REDIS_REPLY_STRING? read->str: NULL,
                                         &unread));
            json_object_set_new (item, "unread", json_integer ((json_int_t) unread));
        }
        if (r) freeReplyObject (r);
        if (read) freeReplyObject (read);
    }
    return rc;
}
