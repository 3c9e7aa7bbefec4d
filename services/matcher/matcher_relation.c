/*  matcher_relation — relationships (issue 17 items 1 and 3): a startup's proposal, the
    company's accept / decline, outcomes (connected -> poc -> contract, or ended), and the
    list of an organization's or a demand's relationships (operations rel.propose,
    rel.accept, rel.decline, rel.outcome, rel.list).

    A relationship IS the pair's match record (oim:match:<id>, indexed by
    oim:demand:<id>:matches): a proposal on a pair that has a match turns it into "proposed"
    (origin "both"); a proposal on a new pair creates the record (origin "proposal", scored
    now, not in the top K), which the reconcile then keeps as any progressed match.

        (none) | suggested | interested | withdrawn -> proposed     the startup (rel.propose)
        proposed -> connected (contacts revealed) | declined          the company
        connected -> poc -> contract                                  either party
        connected | poc | contract -> ended {reason}                  either party
    Anything else: 409 {"error":{"code":"conflict","state":"<current>"}}.

    Every transition appends one entry to the stream oim:rel:<id>:events (state, at in ms,
    by = the acting org, reason, factors = the record's explanation at that moment as JSON:
    the outcome labels) and adds the record to oim:rel:state:<state> (score = the time).
    Visibility of a demand for proposing: the matcher's model (open, not deleted, known)
    and the member check every matcher handler makes; members-only and confidential demands
    are visible to every active startup (SPEC §2: a confidential demand's title and tags
    are public), closed / in-review / unknown ones are 404.
*/
#include "matcher_store_internal.h"
#include "matcher_relation.h"

#define MAX_MESSAGE     10000

bool
matcher_state_matching (const char *state)
{
    return streq (state, "suggested") || streq (state, "interested");
}

bool
matcher_state_revealed (const char *state)
{
    return streq (state, "connected") || streq (state, "poc") || streq (state, "contract")
        || streq (state, "ended");
}

void
matcher_conflict (oim_api_reply_t *reply, const char *state)
{
    oim_api_error (reply, 409, "conflict", NULL, "the relationship is %s", state);
    json_object_set_new (json_object_get (reply->body, "error"), "state", json_string (state));
}

//  A transition: from which states, to which, by whom.
typedef enum { BY_COMPANY, BY_STARTUP, BY_EITHER } s_by_t;

typedef struct {
    const char *to;
    const char *from [4];           //  NULL-terminated
    s_by_t by;
} s_transition_t;

static const s_transition_t s_transitions [] = {
    { "connected", { "proposed", NULL }, BY_COMPANY },           //  rel.accept
    { "declined", { "proposed", NULL }, BY_COMPANY },            //  rel.decline
    { "poc", { "connected", NULL }, BY_EITHER },
    { "contract", { "poc", NULL }, BY_EITHER },
    { "ended", { "connected", "poc", "contract", NULL }, BY_EITHER },
    { NULL, { NULL }, BY_EITHER }
};

static const s_transition_t *
s_transition (const char *to)
{
    for (const s_transition_t *t = s_transitions; t->to; t++)
        if (streq (t->to, to))
            return t;
    return NULL;
}

static bool
s_allowed_from (const s_transition_t *t, const char *state)
{
    for (int i = 0; t->from [i]; i++)
        if (streq (t->from [i], state))
            return true;
    return false;
}

//  --------------------------------------------------------------------------------------
//  The history (outcome labels)

//  The record's factor values as JSON text (caller frees).
static char *
s_factors_text (const match_t *m)
{
    json_t *factors = json_object ();
    for (size_t i = 0; i < m->n_explanation; i++)
        json_object_set_new (factors, m->explanation [i]->factor,
                             json_real (m->explanation [i]->value));
    char *text = json_dumps (factors, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (factors);
    assert (text);
    return text;
}

//  Queues the history entry of m's new state (by org, with reason) and its state set entry.
static void
s_tx_history (matcher_tx_t *tx, const match_t *m, const char *by, const char *reason)
{
    char key [OIM_KEY_SIZE], at [24];
    matcher_int_text ((long long) oim_clock_wall_ms (), at);
    char *factors = s_factors_text (m);
    snprintf (key, sizeof key, "oim:rel:%s:events", m->id);
    oim_redis_tx_strs (tx->redis_tx, "XADD", key, "*", "state", m->state, "at", at, "by", by,
                       "reason", reason? reason: "", "factors", factors, NULL);
    snprintf (key, sizeof key, "oim:rel:state:%s", m->state);
    oim_redis_tx_strs (tx->redis_tx, "ZADD", key, at, m->id, NULL);
    free (factors);
}

//  --------------------------------------------------------------------------------------
//  Request bodies

//  The body's optional string field name (at most max bytes): *value a copy or NULL.
//  Returns 0, or -1 after answering 400.
static int
s_body_string (json_t *body, const char *name, size_t max, oim_api_reply_t *reply,
               char **value)
{
    json_t *v = body? json_object_get (body, name): NULL;
    *value = NULL;
    if (v && !json_is_string (v) && !json_is_null (v)) {
        oim_api_error (reply, 400, "invalid", name, "must be a string");
        return -1;
    }
    if (json_is_string (v) && strlen (json_string_value (v)) > max) {
        oim_api_error (reply, 400, "invalid", name, "at most %zu bytes", max);
        return -1;
    }
    if (json_is_string (v))
        *value = strdup (json_string_value (v));
    return 0;
}

//  The body as an object, or NULL when empty (*failed after answering 400).
static json_t *
s_body (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply, bool *failed)
{
    *failed = false;
    if (!request->body.len)
        return NULL;
    json_t *body = oim_api_body (request, reply);
    *failed = body == NULL;
    return body;
}

//  --------------------------------------------------------------------------------------
//  Transitions of an existing record

typedef struct {
    const s_transition_t *t;
    const char *reason;
} s_change_t;

//  Answers when match m may not take change c: 404 (not a party, nor the agency), 403 (the
//  agency, or the wrong side), 409 (the state). False when it applies.
static bool
s_change_refused (matcher_store_t *self, const match_t *m, const Oim__V1__ApiRequest *request,
                  oim_api_reply_t *reply, void *arg)
{
    (void) self;
    const s_change_t *c = arg;
    const Oim__V1__Principal *p = request->principal;
    bool is_company = m && p && streq (p->org_id, m->company_id);
    bool is_startup = m && p && streq (p->org_id, m->startup_id);
    bool agency = p && p->role == OIM__V1__ROLE__ROLE_AGENCY;
    if (!m || streq (m->state, "withdrawn") || (!is_company && !is_startup && !agency))
        oim_api_error (reply, 404, "not_found", NULL, "no such relationship");
    else
    if ((!is_company && !is_startup) || (c->t->by == BY_COMPANY && !is_company)
        || (c->t->by == BY_STARTUP && !is_startup))
        oim_api_error (reply, 403, "forbidden", NULL, "the other party makes this step");
    else
    if (!s_allowed_from (c->t, m->state))
        matcher_conflict (reply, m->state);
    else
        return false;
    return true;
}

//  Applies change c to m (a new version) and queues it with its history and events.
static void
s_change_apply (matcher_store_t *self, match_t *m, const Oim__V1__ApiRequest *request,
                matcher_tx_t *tx, void *arg)
{
    const s_change_t *c = arg;
    matcher_touch (self, m);
    matcher_set_str (&m->state, c->t->to);
    if (streq (c->t->to, "declined")) {
        matcher_set_str (&m->declined_by, "company");
        matcher_set_str (&m->reason, c->reason? c->reason: "");
    }
    if (streq (c->t->to, "ended"))
        matcher_set_str (&m->end_reason, c->reason? c->reason: "");
    if (streq (c->t->to, "connected"))
        m->company_interested = m->startup_interested = true;
    matcher_tx_match (self, tx, m);
    s_tx_history (tx, m, request->principal->org_id, c->reason);
    if (streq (c->t->to, "connected"))
        matcher_tx_connected (self, tx, m, request);
    else
        matcher_tx_event_both (self, tx, m, streq (c->t->to, "declined")? "proposal.declined":
                               "relationship.changed");
}

//  rel.accept / rel.decline / rel.outcome: to is the state asked for (NULL: the body's
//  "state"); the body's "reason" goes with a decline or an end.
static void
s_change_request (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                  oim_api_reply_t *reply, const char *to)
{
    bool failed;
    json_t *body = s_body (request, reply, &failed);
    char *reason = NULL;
    if (failed || s_body_string (body, "reason", MAX_REASON, reply, &reason)) {
        json_decref (body);
        return;
    }
    json_t *state = to? NULL: json_object_get (body, "state");
    const char *name = to? to: json_string_value (state);
    s_change_t c = { name? s_transition (name): NULL, reason };
    if (!to && (!c.t || streq (name, "connected") || streq (name, "declined")))
        oim_api_error (reply, 400, "invalid", "state", "must be poc, contract or ended");
    else {
        matcher_step_t step = { s_change_refused, s_change_apply, &c };
        matcher_step_run (self, request, reply, &step);
    }
    free (reason);
    json_decref (body);
}

void
matcher_store_rel_accept (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                          oim_api_reply_t *reply)
{
    s_change_request (self, request, reply, "connected");
}

void
matcher_store_rel_decline (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                           oim_api_reply_t *reply)
{
    s_change_request (self, request, reply, "declined");
}

void
matcher_store_rel_outcome (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                           oim_api_reply_t *reply)
{
    s_change_request (self, request, reply, NULL);
}

//  --------------------------------------------------------------------------------------
//  Proposals

//  A new record for the pair, proposed (borrowed ids; the caller owns the result).
static match_t *
s_new_proposal (matcher_store_t *self, const char *demand_id, const char *startup_id)
{
    const char *owner = NULL, *title = NULL;
    matcher_model_demand_info (self->model, demand_id, &owner, &title, NULL, NULL);
    match_t *m = calloc (1, sizeof *m);
    assert (m);
    oim__v1__match__init (m);
    char id [OIM_ID_SIZE], now [OIM_RFC3339_SIZE];
    oim_id_new ("mat", id);
    matcher_store_now (self, now);
    m->id = strdup (id);
    m->demand_id = strdup (demand_id);
    m->startup_id = strdup (startup_id);
    m->company_id = strdup (owner? owner: "");
    m->demand_title = strdup (title? title: "");
    matcher_org_info_t info;
    m->startup_name = strdup (matcher_model_org_info (self->model, startup_id, &info)
                              ? info.name: "");
    m->state = strdup ("suggested");
    m->declined_by = strdup ("");
    m->reason = strdup ("");
    m->created_at = strdup (now);
    m->updated_at = strdup (now);
    m->origin = strdup ("proposal");
    matcher_score_t score;
    if (matcher_model_score (self->model, demand_id, startup_id, &score) == 0)
        matcher_set_score (m, &score);
    return m;
}

//  The pair's record (read and WATCHed with the pair index), *m NULL when none. -1: Redis.
static int
s_pair_record (matcher_store_t *self, const char *demand_id, const char *startup_id,
               match_t ***ms)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_DEMAND_MATCHES, demand_id);
    redisReply *w = oim_redis_command (self->redis, "WATCH %s", key);
    redisReply *r = w? oim_redis_command (self->redis, "HGET %s %s", key, startup_id): NULL;
    int rc = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL)? 0: -1;
    *ms = NULL;
    if (rc == 0 && r->type == REDIS_REPLY_STRING) {
        char *ids [1] = { r->str };
        *ms = matcher_read_matches (self, ids, 1, true);
        rc = *ms? 0: -1;
    }
    if (w)
        freeReplyObject (w);
    if (r)
        freeReplyObject (r);
    return rc;
}

//  One proposal attempt. As oim_redis_tx_exec.
static int
s_propose_once (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                oim_api_reply_t *reply, const char *demand_id, const char *message)
{
    const char *startup = request->principal->org_id;
    match_t **ms = NULL;
    if (s_pair_record (self, demand_id, startup, &ms)) {
        oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
        return OIM_REDIS_TX_FAILED;
    }
    bool existing = ms && ms [0];   //  (an index entry whose record is gone: a new one)
    match_t *m = existing? ms [0]: s_new_proposal (self, demand_id, startup);
    bool joinable = matcher_state_matching (m->state) || streq (m->state, "withdrawn");
    int rc = OIM_REDIS_TX_COMMITTED;
    if (existing && !joinable) {
        oim_redis_tx_unwatch (self->redis);
        matcher_conflict (reply, m->state);
    }
    else {
        if (existing)
            matcher_set_str (&m->origin, "both");
        matcher_touch (self, m);
        matcher_set_str (&m->state, "proposed");
        matcher_set_str (&m->proposal_message, message? message: "");
        matcher_set_str (&m->proposed_at, m->updated_at);
        matcher_tx_t tx;
        matcher_tx_init (self, &tx);
        matcher_tx_match (self, &tx, m);
        s_tx_history (&tx, m, startup, NULL);
        matcher_tx_event (self, &tx, m, "proposal.received", m->company_id);
        rc = matcher_tx_exec (self, &tx);
        if (rc == OIM_REDIS_TX_COMMITTED)
            oim_api_ok (reply, existing? 200: 201, matcher_render (self, m, startup, false));
        else
        if (rc == OIM_REDIS_TX_FAILED)
            oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
    }
    if (!existing)
        matcher_match_free (&m);
    if (ms)
        matcher_free_matches (ms, 1);
    return rc;
}

//  Answers when principal p may not propose to demand id: 403 (not a startup, or not
//  active), 404 (a demand it cannot see, or not open). False when it may.
static bool
s_propose_refused (matcher_store_t *self, const Oim__V1__Principal *p, const char *id,
                   oim_api_reply_t *reply)
{
    bool open = false, deleted = true;
    if (!p || p->role != OIM__V1__ROLE__ROLE_STARTUP || !p->org_id || !*p->org_id)
        oim_api_error (reply, 403, "forbidden", NULL, "only startups propose");
    else
    if (!matcher_member (self, p))
        matcher_not_member (reply);
    else
    if (!id || !matcher_model_demand_info (self->model, id, NULL, NULL, &open, &deleted)
        || deleted || !open)
        oim_api_error (reply, 404, "not_found", NULL, "no such open demand");
    else
        return false;
    return true;
}

void
matcher_store_rel_propose (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                           oim_api_reply_t *reply)
{
    const char *id = oim_api_param (request, "id");
    if (s_propose_refused (self, request->principal, id, reply))
        return;
    bool failed;
    json_t *body = s_body (request, reply, &failed);
    char *message = NULL;
    if (!failed && !s_body_string (body, "message", MAX_MESSAGE, reply, &message)) {
        for (int attempt = 0; attempt < MAX_RETRIES; attempt++)
            if (s_propose_once (self, request, reply, id, message) != OIM_REDIS_TX_CONFLICT)
                break;
        if (reply->status == 0)
            oim_api_error (reply, 503, "unavailable", NULL, "the pair keeps changing");
    }
    free (message);
    json_decref (body);
}

//  --------------------------------------------------------------------------------------
//  The list

void
matcher_store_rel_list (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    const char *demand = oim_api_query (request, "demand_id");
    const char *org = oim_api_query (request, "org_id");
    const Oim__V1__Principal *p = request->principal;
    if (demand && *demand)
        matcher_list_demand (self, request, reply, demand);
    else
        matcher_list_org (self, request, reply, org && *org? org: p? p->org_id: NULL);
    if (reply->status != 200)
        return;
    json_object_del (reply->body, "total");     //  every one on one page for now
    json_object_set_new (reply->body, "next_cursor", json_null ());
    if (p && p->org_id && *p->org_id && p->role != OIM__V1__ROLE__ROLE_AGENCY
        && matcher_rel_unread_add (self, json_object_get (reply->body, "items"), p->org_id)) {
        oim_api_reply_clear (reply);
        oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
    }
}
