/*  matcher_api — the matcher's HTTP handlers (operations match.list_demand, match.list_org,
                                               match.interest, match.decline): who may ask,
                                               the lists as each viewer sees them, and the
    workflow (interest, decline) as one optimistic transaction per attempt. See
    matcher_store.h (Workflow, Visibility).
*/
#include "matcher_store_internal.h"

//  True when principal p acts for a member: the agency, or a company or startup whose
//  organization is active — the model's view, or Redis' when the model does not know it
//  yet. The gateway treats other keys as anonymous; this is the daemon's own check.
bool
matcher_member (matcher_store_t *self, const Oim__V1__Principal *p)
{
    if (p && p->role == OIM__V1__ROLE__ROLE_AGENCY)
        return true;
    if (!p || !p->org_id || !*p->org_id)
        return false;
    matcher_org_info_t info;
    if (matcher_model_org_info (self->model, p->org_id, &info))
        return info.active;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG, p->org_id);
    redisReply *r = oim_redis_command (self->redis, "GET %s", key);
    Oim__V1__Organization *org = r && r->type == REDIS_REPLY_STRING
        ? oim__v1__organization__unpack (NULL, r->len, (const uint8_t *) r->str): NULL;
    bool active = org && !org->deleted && streq (org->status, "active");
    if (org)
        oim__v1__organization__free_unpacked (org, NULL);
    if (r)
        freeReplyObject (r);
    return active;
}

//  The 403 of a key whose organization is not active.
void
matcher_not_member (oim_api_reply_t *reply)
{
    oim_api_error (reply, 403, "org_not_active", NULL,
                   "your organization is not active (pending approval, suspended or deleted)");
}

static int
s_match_cmp (const void *a, const void *b)
{
    const match_t *x = *(match_t *const *) a, *y = *(match_t *const *) b;
    if (x->score != y->score)
        return x->score > y->score? -1: 1;
    int c = strcmp (x->demand_id, y->demand_id);
    return c? c: strcmp (x->startup_id, y->startup_id);
}

static void
s_reply_list (matcher_store_t *self, match_t **ms, size_t n, const Oim__V1__ApiRequest *request,
              oim_api_reply_t *reply)
{
    const Oim__V1__Principal *p = request->principal;
    bool agency = p && p->role == OIM__V1__ROLE__ROLE_AGENCY;
    const char *viewer = p? p->org_id: NULL;
    const char *state = oim_api_query (request, "state");
    match_t **keep = calloc (n + 1, sizeof *keep);
    assert (keep);
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (ms [i] && !streq (ms [i]->state, "withdrawn")
        &&  (!state || !*state || streq (state, ms [i]->state)))
            keep [count++] = ms [i];
    qsort (keep, count, sizeof *keep, s_match_cmp);
    json_t *items = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (items, matcher_render (self, keep [i], viewer, agency));
    free (keep);
    oim_api_ok (reply, 200, json_pack ("{s:o,s:I}", "items", items, "total",
                                       (json_int_t) json_array_size (items)));
}

//  Answers a match list of n matches (NULL: Redis failed) and frees them.
static void
s_list_matches (matcher_store_t *self, match_t **ms, size_t n,
                const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    if (!ms) {
        oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
        return;
    }
    s_reply_list (self, ms, n, request, reply);
    matcher_free_matches (ms, n);
}

static void
s_reply_free (redisReply **reply_p)
{
    freeReplyObject (*reply_p);
    *reply_p = NULL;
}

//  The ids of an organization's matches (*n of them, borrowed from the replies it keeps in
//  replies), each once: its set as the startup, and the pair indexes of its demands that
//  have matches (as their owner). Reads are pipelined. NULL when Redis failed.
static char **
s_org_match_ids (matcher_store_t *self, const char *org_id, zlistx_t *replies, size_t *n)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG_MATCHES, org_id);
    oim_redis_append (self->redis, "SMEMBERS %s", key);
    snprintf (key, sizeof key, OIM_KEY_ORG_MATCH_DEMANDS, org_id);
    oim_redis_append (self->redis, "SMEMBERS %s", key);
    redisReply *own = oim_redis_reply (self->redis);
    redisReply *demands = own? oim_redis_reply (self->redis): NULL;
    if (own)
        zlistx_add_end (replies, own);
    if (demands)
        zlistx_add_end (replies, demands);
    if (!demands || own->type != REDIS_REPLY_ARRAY || demands->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i < demands->elements; i++) {
        snprintf (key, sizeof key, OIM_KEY_DEMAND_MATCHES, demands->element [i]->str);
        oim_redis_append (self->redis, "HVALS %s", key);
    }
    //  every reply is read (the connection stays in step), then looked at
    bool ok = true;
    for (size_t i = 0; i < demands->elements; i++) {
        redisReply *r = oim_redis_reply (self->redis);
        if (!r)
            return NULL;            //  (the connection is gone: no more replies)
        ok = ok && r->type == REDIS_REPLY_ARRAY;
        zlistx_add_end (replies, r);
    }
    if (!ok)
        return NULL;
    size_t cap = 1;
    for (redisReply *r = zlistx_first (replies); r; r = zlistx_next (replies))
        cap += r == demands? 0: r->elements;
    char **ids = calloc (cap, sizeof *ids);
    assert (ids);
    zhashx_t *seen = zhashx_new ();
    *n = 0;
    for (redisReply *r = zlistx_first (replies); r; r = zlistx_next (replies))
        for (size_t i = 0; r != demands && i < r->elements; i++)
            if (r->element [i]->type == REDIS_REPLY_STRING
            &&  zhashx_insert (seen, r->element [i]->str, r->element [i]) == 0)
                ids [(*n)++] = r->element [i]->str;
    zhashx_destroy (&seen);
    return ids;
}

void
matcher_store_list_demand (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                           oim_api_reply_t *reply)
{
    matcher_list_demand (self, request, reply, oim_api_param (request, "id"));
}

void
matcher_list_demand (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                     oim_api_reply_t *reply, const char *id)
{
    const Oim__V1__Principal *p = request->principal;
    const char *owner;
    bool deleted;
    if (!id || !matcher_model_demand_info (self->model, id, &owner, NULL, NULL, &deleted)
        || deleted) {
        oim_api_error (reply, 404, "not_found", NULL, "no such demand");
        return;
    }
    if (!p || (p->role != OIM__V1__ROLE__ROLE_AGENCY && !streq (p->org_id, owner))) {
        oim_api_error (reply, 403, "forbidden", NULL,
                       "only the demand's owner and the agency see its matches");
        return;
    }
    if (!matcher_member (self, p))
        return matcher_not_member (reply);
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_DEMAND_MATCHES, id);
    redisReply *r = oim_redis_command (self->redis, "HVALS %s", key);
    size_t n = 0;
    match_t **ms = matcher_read_reply_matches (self, r, &n);
    s_list_matches (self, ms, n, request, reply);
    if (r)
        freeReplyObject (r);
}

void
matcher_store_list_org (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    matcher_list_org (self, request, reply, oim_api_param (request, "id"));
}

void
matcher_list_org (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                  oim_api_reply_t *reply, const char *id)
{
    const Oim__V1__Principal *p = request->principal;
    if (!id || !p || (p->role != OIM__V1__ROLE__ROLE_AGENCY && !streq (p->org_id, id))) {
        oim_api_error (reply, 403, "forbidden", NULL,
                       "only the organization itself and the agency see its matches");
        return;
    }
    if (!matcher_member (self, p))
        return matcher_not_member (reply);
    zlistx_t *replies = zlistx_new ();
    zlistx_set_destructor (replies, (czmq_destructor *) s_reply_free);
    size_t n = 0;
    char **ids = s_org_match_ids (self, id, replies, &n);
    match_t **ms = ids? matcher_read_matches (self, ids, n, false): NULL;
    s_list_matches (self, ms, n, request, reply);
    free (ids);
    zlistx_destroy (&replies);
}

//  --------------------------------------------------------------------------------------
//  The workflow

//  A decline's optional body {"reason": string or null}: *reason gets a copy (NULL when
//  none; the caller frees it). Returns 0, or -1 after answering the error (400, or
//  oim_api_body's).
static int
s_decline_reason (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply, char **reason)
{
    *reason = NULL;
    if (!request->body.len)
        return 0;
    json_t *body = oim_api_body (request, reply);
    if (!body)
        return -1;
    int rc = 0;
    json_t *value = json_object_get (body, "reason");
    if (value && !json_is_string (value) && !json_is_null (value)) {
        oim_api_error (reply, 400, "invalid", "reason", "must be a string");
        rc = -1;
    }
    else
    if (json_is_string (value) && strlen (json_string_value (value)) > MAX_REASON) {
        oim_api_error (reply, 400, "invalid", "reason", "at most %d bytes", MAX_REASON);
        rc = -1;
    }
    else
    if (json_is_string (value))
        *reason = strdup (json_string_value (value));
    json_decref (body);
    return rc;
}

//  Answers the request when match m (NULL: not found) does not change: not found or not
//  the principal's (404, 403), the demand closed, a decline of a connected match or an
//  interest in a declined one (409), or a repeat of what is stored (the match, 200).
//  Returns true when it answered (the caller UNWATCHes), false when the request applies.
static bool
s_workflow_answered (matcher_store_t *self, const match_t *m, const Oim__V1__Principal *p,
                     bool decline, oim_api_reply_t *reply)
{
    bool is_company = m && p && streq (p->org_id, m->company_id);
    bool is_startup = m && p && streq (p->org_id, m->startup_id);
    bool agency = p && p->role == OIM__V1__ROLE__ROLE_AGENCY;
    bool open = false;
    if (m)
        matcher_model_demand_info (self->model, m->demand_id, NULL, NULL, &open, NULL);
    if (!m || streq (m->state, "withdrawn") || (!is_company && !is_startup && !agency))
        oim_api_error (reply, 404, "not_found", NULL, "no such match");
    else
    if (!is_company && !is_startup)
        oim_api_error (reply, 403, "forbidden", NULL,
                       "only the matched organizations take part in the workflow");
    else
    if (!open)
        oim_api_error (reply, 409, "demand_closed", NULL,
                       "the demand is closed: its matches no longer change");
    else
    if (!matcher_state_matching (m->state) && !streq (m->state, "declined")
        && !streq (m->state, "connected"))
        matcher_conflict (reply, m->state);     //  a relationship's state (matcher_relation.c)
    else
    if (!decline && streq (m->state, "declined"))
        oim_api_error (reply, 409, "conflict", NULL, "the match was declined");
    else
    if (decline && streq (m->state, "connected"))
        oim_api_error (reply, 409, "conflict", NULL, "the match is already connected");
    else
    if (decline? streq (m->state, "declined"):
                 (is_company? m->company_interested: m->startup_interested))
        oim_api_ok (reply, 200, matcher_render (self, m, p->org_id, false));   //  a repeat
    else
        return false;
    return true;
}

//  Queues a connection's extras into tx: the startup in the demand's connected set, the
//  change-log entry (the connection widens who may read a confidential demand: readers that
//  enforce visibility learn of it from the change log), match.connected to both sides.
void
matcher_tx_connected (matcher_store_t *self, matcher_tx_t *tx, const match_t *m,
                const Oim__V1__ApiRequest *request)
{
    char ckey [OIM_KEY_SIZE];
    snprintf (ckey, sizeof ckey, OIM_KEY_DEMAND_CONNECTED, m->demand_id);
    oim_redis_tx_strs (tx->redis_tx, "SADD", ckey, m->startup_id, NULL);
    Oim__V1__Connection conn = OIM__V1__CONNECTION__INIT;
    conn.demand_id = m->demand_id;
    conn.startup_id = m->startup_id;
    conn.company_id = m->company_id;
    conn.match_id = m->id;
    Oim__V1__ChangeEntry entry = OIM__V1__CHANGE_ENTRY__INIT;
    entry.at = m->updated_at;
    entry.op = OIM__V1__CHANGE_OP__CHANGE_OP_CREATE;
    entry.entity_type = "connection";
    entry.entity_id = m->id;
    entry.actor = (Oim__V1__Principal *) request->principal;
    entry.request_id = request->request_id;
    entry.action = "match.connect";
    entry.entity_case = OIM__V1__CHANGE_ENTRY__ENTITY_CONNECTION;
    entry.connection = &conn;
    const char *xadd [4] = { "XADD", OIM_STREAM_CHANGELOG, "*", "e" };
    oim_redis_tx_packed (tx->redis_tx, 4, xadd, &entry.base);
    matcher_tx_event (self, tx, m, "match.connected", m->company_id);
    matcher_tx_event (self, tx, m, "match.connected", m->startup_id);
}

//  Applies the request to m (a new version): a decline by one side, or its interest, which
//  connects the match when the other side is interested too; queues the writes and events.
static void
s_workflow_apply (matcher_store_t *self, match_t *m, bool is_company, bool decline,
                  const char *reason, const Oim__V1__ApiRequest *request, matcher_tx_t *tx)
{
    matcher_touch (self, m);
    if (decline) {
        matcher_set_str (&m->state, "declined");
        matcher_set_str (&m->declined_by, is_company? "company": "startup");
        matcher_set_str (&m->reason, reason? reason: "");
        matcher_tx_match (self, tx, m);
        return;
    }
    if (is_company)
        m->company_interested = true;
    else
        m->startup_interested = true;
    bool both = m->company_interested && m->startup_interested;
    matcher_set_str (&m->state, both? "connected": "interested");
    matcher_tx_match (self, tx, m);
    if (both)
        matcher_tx_connected (self, tx, m, request);
    else
        matcher_tx_event (self, tx, m, "interest.received",
                          is_company? m->startup_id: m->company_id);
}

//  One attempt of step on match id: read and WATCH it, answer, or apply and write. Returns
//  as oim_redis_tx_exec: 0 answered, 1 a conflict (retry), -1 Redis failed (answered 503).
static int
s_step_once (matcher_store_t *self, const Oim__V1__ApiRequest *request,
             oim_api_reply_t *reply, const char *id, const matcher_step_t *step)
{
    const Oim__V1__Principal *p = request->principal;
    char *ids [1] = { (char *) id };
    match_t **ms = matcher_read_matches (self, ids, 1, true);
    if (!ms) {
        oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
        return -1;
    }
    match_t *m = ms [0];
    int rc = OIM_REDIS_TX_COMMITTED;
    if (step->answered (self, m, request, reply, step->arg))
        oim_redis_tx_unwatch (self->redis);
    else {
        matcher_tx_t tx;
        matcher_tx_init (self, &tx);
        step->apply (self, m, request, &tx, step->arg);
        rc = matcher_tx_exec (self, &tx);
        if (rc == OIM_REDIS_TX_COMMITTED)
            oim_api_ok (reply, 200, matcher_render (self, m, p->org_id, false));
        else
        if (rc == OIM_REDIS_TX_FAILED)
            oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
    }
    matcher_free_matches (ms, 1);
    return rc;
}

void
matcher_step_run (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                  oim_api_reply_t *reply, const matcher_step_t *step)
{
    const char *id = oim_api_param (request, "id");
    if (!id || !oim_id_valid (id, "mat"))
        oim_api_error (reply, 404, "not_found", NULL, "no such match");
    else
    if (!matcher_member (self, request->principal))
        matcher_not_member (reply);
    else
        for (int attempt = 0; attempt < MAX_RETRIES; attempt++)
            if (s_step_once (self, request, reply, id, step) != OIM_REDIS_TX_CONFLICT)
                break;
    if (reply->status == 0)
        oim_api_error (reply, 503, "unavailable", NULL, "the match keeps changing: try again");
}

typedef struct {
    bool decline;
    const char *reason;
} s_workflow_t;

static bool
s_workflow_check (matcher_store_t *self, const match_t *m, const Oim__V1__ApiRequest *request,
                  oim_api_reply_t *reply, void *arg)
{
    return s_workflow_answered (self, m, request->principal, ((s_workflow_t *) arg)->decline,
                                reply);
}

static void
s_workflow_step (matcher_store_t *self, match_t *m, const Oim__V1__ApiRequest *request,
                 matcher_tx_t *tx, void *arg)
{
    const s_workflow_t *w = arg;
    s_workflow_apply (self, m, streq (request->principal->org_id, m->company_id), w->decline,
                      w->reason, request, tx);
}

//  The workflow: interest (decline = false) or decline.
static void
s_workflow (matcher_store_t *self, const Oim__V1__ApiRequest *request, oim_api_reply_t *reply,
            bool decline)
{
    char *reason = NULL;
    if (decline && s_decline_reason (request, reply, &reason))
        return;
    s_workflow_t w = { decline, reason };
    matcher_step_t step = { s_workflow_check, s_workflow_step, &w };
    matcher_step_run (self, request, reply, &step);
    free (reason);
}

void
matcher_store_interest (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    s_workflow (self, request, reply, false);
}

void
matcher_store_decline (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    s_workflow (self, request, reply, true);
}

