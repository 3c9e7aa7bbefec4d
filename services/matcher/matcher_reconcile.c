/*  matcher_reconcile — bringing stored matches in line with the model: a demand's matches
    (its top K created, revived, updated or withdrawn), alone or batched (one optimistic
    MULTI/EXEC for many demands, in steps a caller can overlap), a closed demand's
    demand.closed events, a changed startup's demands, and saved-search hits. See
    matcher_store.h for the contract (what changes when, idempotence on replay).
*/
#include "matcher_store_internal.h"

//  Queues a new match (suggested, in the top K) and its match.created. Built on the stack
//  with borrowed strings: a batch creates a thousand matches, and the allocations of an
//  owned one cost more than packing it. The same bytes as a match built field by field.
static void
s_new_match (matcher_store_t *self, matcher_tx_t *tx, matcher_writes_t *w, const char *id,
             const char *demand_id, const char *org_id, const char *title,
             const char *startup_id, const char *startup_name, const matcher_score_t *score)
{
    char now [OIM_RFC3339_SIZE];
    matcher_store_now (self, now);
    match_t m = OIM__V1__MATCH__INIT;
    m.id = (char *) id;
    m.demand_id = (char *) demand_id;
    m.startup_id = (char *) startup_id;
    m.company_id = (char *) org_id;
    m.state = "suggested";
    m.created_at = m.updated_at = now;
    m.declined_by = m.reason = "";
    m.demand_title = (char *) (title? title: "");
    m.startup_name = (char *) (startup_name? startup_name: "");
    m.version = 1;
    m.in_top = true;
    Oim__V1__Factor factors [MATCHER_FACTORS], *explanation [MATCHER_FACTORS];
    for (int f = 0; f < MATCHER_FACTORS; f++) {
        matcher_factor_fill (&factors [f], score, f);
        explanation [f] = &factors [f];
    }
    m.explanation = explanation;
    m.n_explanation = MATCHER_FACTORS;
    m.score = (double) score->units / MATCHER_UNITS;
    m.notified_score = m.score;
    matcher_writes_match (self, tx, w, &m);
    matcher_tx_event_both (self, tx, &m, "match.created");
}

//  The state a stored match moves to from state: a deleted demand withdraws every match but
//  a connected one (or one further on: poc, contract, ended); the top K revives a withdrawn
//  match, leaving it withdraws a suggested one; an interested match stays while it qualifies.
static const char *
s_next_state (const char *state, bool deleted, bool in_top, bool qualifies)
{
    if (deleted)
        return matcher_state_revealed (state)? state: "withdrawn";
    if (streq (state, "withdrawn") && in_top)
        return "suggested";
    if (streq (state, "suggested") && !in_top)
        return "withdrawn";
    if (streq (state, "interested") && !qualifies)
        return "withdrawn";
    return state;
}

//  Brings stored match m in line: fresh is its score now, in_top whether it is in the top
//  K. Queues its write (w) and its events (tx). Returns true when it changed.
static bool
s_reconcile_match (matcher_store_t *self, match_t *m, const matcher_score_t *fresh,
                   bool in_top, bool deleted, const char *title, matcher_tx_t *tx,
                   matcher_writes_t *w)
{
    char state [24];                //  a copy: m->state is replaced below
    snprintf (state, sizeof state, "%s", m->state);
    const char *new_state = s_next_state (state, deleted, in_top, fresh->qualifies);
    bool revived = streq (state, "withdrawn") && streq (new_state, "suggested");
    bool frozen = streq (state, "declined") || (streq (new_state, "withdrawn")
                                                && streq (state, "withdrawn"));
    if (frozen)
        return false;
    bool score_changed = !fresh->excluded && matcher_score_differs (m, fresh);
    if (!score_changed && streq (new_state, state) && m->in_top == in_top)
        return false;
    if (!fresh->excluded)
        matcher_set_score (m, fresh);
    m->in_top = in_top;
    if (revived) {
        m->company_interested = m->startup_interested = false;
    }
    matcher_set_str (&m->state, new_state);
    matcher_set_str (&m->demand_title, title);
    matcher_touch (self, m);
    bool notify_created = revived;
    bool notify_updated = !revived && !streq (new_state, "withdrawn")
        && llabs (llround ((m->score - m->notified_score) * MATCHER_UNITS))
           > self->config.update_units;
    if (notify_created || notify_updated)
        m->notified_score = m->score;
    matcher_writes_match (self, tx, w, m);
    if (notify_created || notify_updated) {
        const char *type = notify_created? "match.created": "match.updated";
        matcher_tx_event_both (self, tx, m, type);
    }
    return true;
}

//  Queues a new match for each of the ntop hits of top not seen among the stored matches
//  (ids made in one call). Returns how many.
static size_t
s_reconcile_new (matcher_store_t *self, const char *demand_id, const char *org_id,
                 const char *title, const matcher_hit_t *top, int ntop, const bool *seen,
                 matcher_tx_t *tx, matcher_writes_t *w)
{
    size_t unseen = 0, next_id = 0, changes = 0;
    for (int t = 0; t < ntop; t++)
        unseen += !seen [t];
    char (*ids) [OIM_ID_SIZE] = calloc (unseen + 1, OIM_ID_SIZE);
    assert (ids);
    oim_id_new_n ("mat", ids, unseen);
    for (int t = 0; t < ntop; t++)
        if (!seen [t]) {
            s_new_match (self, tx, w, ids [next_id++], demand_id, org_id, title, top [t].id,
                         self->names [t], &self->scores [t]);
            changes++;
        }
    free (ids);
    return changes;
}

//  Computes the changes that bring one demand's stored matches (ms, n: read and WATCHed by
//  the caller) in line with the model, appending them to tx. Returns the number of matches
//  changed or created (0: nothing to write).
static size_t
s_reconcile_compute (matcher_store_t *self, const char *demand_id, const char *org_id,
                     const char *title, bool open, bool deleted, match_t **ms, size_t n,
                     matcher_tx_t *tx)
{
    size_t k = matcher_model_config (self->model)->top_k;
    matcher_hit_t *top = calloc (k + 1, sizeof *top);
    assert (top);
    if (!self->scores) {
        self->scores = malloc ((k + 1) * sizeof *self->scores);
        self->names = malloc ((k + 1) * sizeof *self->names);
        assert (self->scores && self->names);
    }
    int ntop = open? matcher_model_top_scores (self->model, demand_id, top, self->scores,
                                               self->names): 0;
    if (ntop < 0)
        ntop = 0;
    oim_debug ("event=reconcile demand=%s open=%d existing=%zu top=%d", demand_id, open, n, ntop);
    bool *seen = calloc (ntop + 1, sizeof *seen);
    assert (seen);
    size_t changes = 0;
    matcher_writes_t w;
    memset (&w, 0, sizeof w);
    matcher_score_t score;
    for (size_t i = 0; i < n; i++) {
        match_t *m = ms [i];
        if (!m)
            continue;
        bool in_top = false;
        const matcher_score_t *fresh = &score;
        for (int t = 0; t < ntop; t++)
            if (streq (top [t].id, m->startup_id)) {
                in_top = true;
                seen [t] = true;
                fresh = &self->scores [t];
            }
        if (!in_top)
            matcher_model_score (self->model, demand_id, m->startup_id, &score);
        changes += s_reconcile_match (self, m, fresh, in_top, deleted, title, tx, &w);
    }
    changes += s_reconcile_new (self, demand_id, org_id, title, top, ntop, seen, tx, &w);
    free (seen);
    free (top);
    matcher_writes_flush (tx, &w);
    return changes;
}

//  --------------------------------------------------------------------------------------
//  Batches

//  A batch reconcile's steps (see the header): the demands, what was read (on redis, which
//  holds the WATCHes), and the transaction computed from it.
typedef struct {
    const char *id, *org_id, *title;
    bool open, deleted;
    size_t first, n;                //  its matches in all [first, first + n)
} s_item_t;

struct _matcher_batch_t {
    oim_redis_t *redis;
    s_item_t *items;
    size_t nitems;
    redisReply **pairs;             //  each demand's pair index
    char **ids;                     //  every match id, borrowed from pairs
    match_t **all;                  //  their matches
    size_t nall, changes;
    matcher_tx_t tx;
    bool sent;
    int send_rc;
};

//  The batch's demands, once each; closed or awarded demands (frozen) and unknown ones left
//  out.
static void
s_batch_items (matcher_store_t *self, matcher_batch_t *b, const char *const *demand_ids,
               size_t count)
{
    b->items = calloc (count + 1, sizeof *b->items);
    assert (b->items);
    for (size_t i = 0; i < count; i++) {
        s_item_t *it = &b->items [b->nitems];
        if (!matcher_model_demand_info (self->model, demand_ids [i], &it->org_id, &it->title,
                                        &it->open, &it->deleted))
            continue;
        if (!it->open && !it->deleted)
            continue;               //  closed or awarded: its matches stop changing
        bool dup = false;
        for (size_t j = 0; j < b->nitems && !dup; j++)
            dup = streq (b->items [j].id, demand_ids [i]);
        if (dup)
            continue;
        it->id = demand_ids [i];
        b->nitems++;
    }
}

//  Round trip 1: WATCH the pair indexes, HGETALL each. 0, or -1 (UNWATCHed when possible).
static int
s_batch_pairs (matcher_batch_t *b)
{
    const char **argv = calloc (b->nitems + 1, sizeof *argv);
    char (*dkeys) [OIM_KEY_SIZE] = calloc (b->nitems, sizeof *dkeys);
    b->pairs = calloc (b->nitems + 1, sizeof *b->pairs);
    assert (argv && dkeys && b->pairs);
    argv [0] = "WATCH";
    for (size_t i = 0; i < b->nitems; i++) {
        snprintf (dkeys [i], OIM_KEY_SIZE, OIM_KEY_DEMAND_MATCHES, b->items [i].id);
        argv [i + 1] = dkeys [i];
    }
    bool ok = oim_redis_appendv (b->redis, (int) b->nitems + 1, argv, NULL) == 0;
    for (size_t i = 0; ok && i < b->nitems; i++)
        ok = oim_redis_append (b->redis, "HGETALL %s", dkeys [i]) == 0;
    if (ok) {
        redisReply *w = oim_redis_reply (b->redis);
        bool alive = w != NULL;
        ok = w && w->type != REDIS_REPLY_ERROR;
        if (w) freeReplyObject (w);
        //  read every reply even after a failure, so the connection stays in step
        for (size_t i = 0; i < b->nitems && alive; i++) {
            b->pairs [i] = oim_redis_reply (b->redis);
            if (!b->pairs [i] || b->pairs [i]->type != REDIS_REPLY_ARRAY)
                ok = false;
            if (!b->pairs [i])
                break;
        }
    }
    if (!ok)
        oim_redis_tx_unwatch (b->redis);
    free (dkeys);
    free (argv);
    return ok? 0: -1;
}

//  Round trip 2 (when any exist): WATCH + MGET the matches the pair indexes name. 0 or -1.
static int
s_batch_matches (matcher_store_t *self, matcher_batch_t *b)
{
    for (size_t i = 0; i < b->nitems; i++)
        b->nall += b->pairs [i]->elements / 2;
    b->ids = calloc (b->nall + 1, sizeof *b->ids);
    assert (b->ids);
    b->nall = 0;
    for (size_t i = 0; i < b->nitems; i++) {
        b->items [i].first = b->nall;
        b->items [i].n = b->pairs [i]->elements / 2;
        for (size_t j = 0; j < b->items [i].n; j++)
            b->ids [b->nall++] = b->pairs [i]->element [2 * j + 1]->str;
    }
    b->all = matcher_read_matches (self, b->ids, b->nall, true);     //  (b->redis is self->redis)
    return b->all? 0: -1;
}

oim_redis_t *
matcher_store_batch_redis (matcher_batch_t *batch)
{
    return batch->redis;
}

void
matcher_store_batch_destroy (matcher_store_t *self, matcher_batch_t **batch_p)
{
    matcher_batch_t *b = *batch_p;
    if (!b)
        return;
    if (!b->sent && b->nitems && oim_redis_connected (b->redis))
        oim_redis_tx_unwatch (b->redis);
    matcher_tx_done (self, &b->tx);
    matcher_free_matches (b->all, b->nall);
    free (b->ids);
    for (size_t i = 0; b->pairs && i < b->nitems; i++)
        if (b->pairs [i])
            freeReplyObject (b->pairs [i]);
    free (b->pairs);
    free (b->items);
    free (b);
    *batch_p = NULL;
}

matcher_batch_t *
matcher_store_batch_prepare (matcher_store_t *self, const char *const *demand_ids,
                             size_t count)
{
    matcher_batch_t *b = calloc (1, sizeof *b);
    assert (b);
    b->redis = self->redis;
    s_batch_items (self, b, demand_ids, count);
    if (b->nitems && (s_batch_pairs (b) || s_batch_matches (self, b))) {
        b->sent = true;             //  (nothing WATCHed any more, or the connection is dead)
        matcher_store_batch_destroy (self, &b);
    }
    return b;
}

//  Writes more of a sent batch's transaction, as much as its connection takes now.
static void
s_batch_write (matcher_batch_t *b)
{
    if (b->sent && b->changes && b->send_rc == 0)
        b->send_rc = oim_redis_tx_write (b->tx.redis_tx, b->redis, false);
}

void
matcher_store_batch_compute (matcher_store_t *self, matcher_batch_t *b,
                             matcher_batch_t *sending)
{
    matcher_tx_init (self, &b->tx);
    for (size_t i = 0; i < b->nitems; i++) {
        b->changes += s_reconcile_compute (self, b->items [i].id, b->items [i].org_id,
                                           b->items [i].title, b->items [i].open,
                                           b->items [i].deleted, b->all + b->items [i].first,
                                           b->items [i].n, &b->tx);
        if (sending)
            s_batch_write (sending);
    }
    if (b->changes)
        matcher_tx_seal (&b->tx);   //  now, not while Redis waits for it
    oim_debug ("event=reconcile_batch demands=%zu existing=%zu changes=%zu queued=%zu",
               b->nitems, b->nall, b->changes, oim_redis_tx_size (b->tx.redis_tx));
}

void
matcher_store_batch_send (matcher_store_t *self, matcher_batch_t *b)
{
    (void) self;
    if (b->sent || b->changes == 0)
        return;
    b->send_rc = matcher_tx_send (b->redis, &b->tx);
    b->sent = true;
}

int
matcher_store_batch_finish (matcher_store_t *self, matcher_batch_t **batch_p)
{
    matcher_batch_t *b = *batch_p;
    int rc = OIM_REDIS_TX_COMMITTED;
    if (b->changes) {
        matcher_store_batch_send (self, b);
        rc = matcher_tx_finish (self, b->redis, &b->tx, b->send_rc);
    }
    else
    if (b->nitems) {
        oim_redis_tx_unwatch (b->redis);
        b->sent = true;
    }
    matcher_store_batch_destroy (self, batch_p);
    return rc;
}

//  Reconciles a batch of demands in one optimistic step: WATCH every demand's pair index,
//  read them and their matches (two pipelined round trips), compute every demand's changes,
//  and write them all in one MULTI/EXEC. Returns as oim_redis_tx_exec: 0 done, 1 conflict
//  (retry), -1 Redis failure.
static int
s_reconcile_batch_once (matcher_store_t *self, const char *const *demand_ids, size_t count)
{
    matcher_batch_t *b = matcher_store_batch_prepare (self, demand_ids, count);
    if (!b)
        return OIM_REDIS_TX_FAILED;
    matcher_store_batch_compute (self, b, NULL);
    return matcher_store_batch_finish (self, &b);
}

int
matcher_store_reconcile_batch (matcher_store_t *self, const char *const *demand_ids,
                               size_t count)
{
    //  a batch that keeps conflicting (busy demands): one demand at a time
    for (int attempt = 0; attempt < 3; attempt++) {
        int rc = s_reconcile_batch_once (self, demand_ids, count);
        if (rc != OIM_REDIS_TX_CONFLICT)
            return rc == OIM_REDIS_TX_COMMITTED? 0: -1;
    }
    for (size_t i = 0; i < count; i++)
        if (matcher_store_reconcile (self, demand_ids [i]))
            return -1;
    return 0;
}

int
matcher_store_reconcile (matcher_store_t *self, const char *demand_id)
{
    for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
        int rc = s_reconcile_batch_once (self, &demand_id, 1);
        if (rc != OIM_REDIS_TX_CONFLICT)
            return rc == OIM_REDIS_TX_COMMITTED? 0: -1;
    }
    oim_warn ("event=reconcile_gave_up demand=%s", demand_id);
    return -1;
}

//  --------------------------------------------------------------------------------------
//  Closed demands

//  One attempt. Returns as oim_redis_tx_exec: 0 done, 1 conflict (retry), -1 Redis failure.
static int
s_demand_closed_once (matcher_store_t *self, const Oim__V1__Demand *demand,
                      const char *changed_at)
{
    char ckey [OIM_KEY_SIZE], dkey [OIM_KEY_SIZE];
    snprintf (ckey, sizeof ckey, OIM_KEY_DEMAND_CLOSED, demand->id);
    snprintf (dkey, sizeof dkey, OIM_KEY_DEMAND_MATCHES, demand->id);
    redisReply *r = oim_redis_command (self->redis, "WATCH %s %s", ckey, dkey);
    if (!r)
        return -1;
    freeReplyObject (r);
    r = oim_redis_command (self->redis, "GET %s", ckey);
    if (!r)
        return -1;
    int64_t done = r->type == REDIS_REPLY_STRING? atoll (r->str): 0;
    freeReplyObject (r);
    if (done >= demand->version) {
        oim_redis_tx_unwatch (self->redis);
        return OIM_REDIS_TX_COMMITTED;  //  announced already (a replay): nothing to write
    }
    redisReply *pairs = oim_redis_command (self->redis, "HGETALL %s", dkey);
    if (!pairs || pairs->type != REDIS_REPLY_ARRAY) {
        if (pairs) freeReplyObject (pairs);
        return -1;
    }
    size_t n = pairs->elements / 2;
    char **ids = calloc (n + 1, sizeof *ids);
    assert (ids);
    for (size_t i = 0; i < n; i++)
        ids [i] = pairs->element [2 * i + 1]->str;
    match_t **ms = matcher_read_matches (self, ids, n, true);
    free (ids);
    freeReplyObject (pairs);
    if (!ms)
        return -1;
    matcher_tx_t tx;
    matcher_tx_init (self, &tx);
    char ver [32];
    snprintf (ver, sizeof ver, "%lld", (long long) demand->version);
    oim_redis_tx_strs (tx.redis_tx, "SET", ckey, ver, NULL);
    for (size_t i = 0; i < n; i++) {
        match_t *m = ms [i];
        if (m && streq (m->demand_id, demand->id)
        &&  (matcher_state_matching (m->state) || streq (m->state, "proposed")
             || (matcher_state_revealed (m->state) && !streq (m->state, "ended"))))
            matcher_tx_closed_event (self, &tx, demand, m, changed_at);
    }
    matcher_free_matches (ms, n);
    return matcher_tx_exec (self, &tx);
}

int
matcher_store_demand_closed (matcher_store_t *self, const Oim__V1__Demand *demand,
                             const char *changed_at)
{
    if (!demand || !demand->id || demand->deleted
    ||  !(streq (demand->status, "closed") || streq (demand->status, "awarded")))
        return 0;
    for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
        int rc = s_demand_closed_once (self, demand, changed_at? changed_at: "");
        if (rc != OIM_REDIS_TX_CONFLICT)
            return rc == OIM_REDIS_TX_COMMITTED? 0: -1;
    }
    oim_warn ("event=demand_closed_gave_up demand=%s", demand->id);
    return -1;
}

//  --------------------------------------------------------------------------------------
//  A startup changed

//  Adds demand_id to the demands to reconcile (order), once.
static void
s_affected_add (zhashx_t *affected, zlistx_t *order, const char *demand_id)
{
    if (!zhashx_lookup (affected, demand_id)) {
        zhashx_insert (affected, demand_id, (void *) 1);
        zlistx_add_end (order, (void *) demand_id);
    }
}

//  The demands the startup already has matches with. 0, or -1 when Redis failed.
static int
s_matched_demands (matcher_store_t *self, const char *startup_id, zhashx_t *affected,
                   zlistx_t *order)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG_MATCHES, startup_id);
    redisReply *r = oim_redis_command (self->redis, "SMEMBERS %s", key);
    size_t n = 0;
    match_t **ms = matcher_read_reply_matches (self, r, &n);
    if (r)
        freeReplyObject (r);
    if (!ms)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (ms [i] && streq (ms [i]->startup_id, startup_id))
            s_affected_add (affected, order, ms [i]->demand_id);
    matcher_free_matches (ms, n);
    return 0;
}

//  The open demands the startup qualifies for and may enter the top K of (percolation, then
//  each demand's stored K-th score, read in one pipeline). 0, or -1 when Redis failed.
static int
s_entering_demands (matcher_store_t *self, const char *startup_id, zhashx_t *affected,
                    zlistx_t *order)
{
    matcher_model_stats_t stats;
    matcher_model_stats (self->model, &stats);
    size_t cap = stats.demands_open + 1;
    matcher_hit_t *hits = calloc (cap, sizeof *hits);
    assert (hits);
    int nhits = matcher_model_percolate_entering (self->model, startup_id, hits, cap);
    size_t k = matcher_model_config (self->model)->top_k;
    char key [OIM_KEY_SIZE];
    for (int i = 0; i < nhits; i++) {
        snprintf (key, sizeof key, OIM_KEY_DEMAND_TOP, hits [i].id);
        oim_redis_append (self->redis, "ZCARD %s", key);
        oim_redis_append (self->redis, "ZRANGE %s 0 0 WITHSCORES", key);
    }
    for (int i = 0; i < nhits; i++) {
        redisReply *card = oim_redis_reply (self->redis);
        redisReply *low = card? oim_redis_reply (self->redis): NULL;
        if (!card || !low) {
            if (card) freeReplyObject (card);
            free (hits);
            return -1;
        }
        bool enters = card->type != REDIS_REPLY_INTEGER || (size_t) card->integer < k
            || low->type != REDIS_REPLY_ARRAY || low->elements < 2
            || hits [i].units >= atoll (low->element [1]->str);
        if (enters)
            s_affected_add (affected, order, hits [i].id);
        freeReplyObject (card);
        freeReplyObject (low);
    }
    free (hits);
    return 0;
}

int
matcher_store_startup_changed (matcher_store_t *self, const char *startup_id)
{
    zhashx_t *affected = zhashx_new ();
    zlistx_t *order = zlistx_new ();
    zlistx_set_destructor (order, (czmq_destructor *) zstr_free);
    zlistx_set_duplicator (order, (czmq_duplicator *) strdup);
    int rc = s_matched_demands (self, startup_id, affected, order);
    if (rc == 0)
        rc = s_entering_demands (self, startup_id, affected, order);
    if (rc == 0)
        for (char *demand = zlistx_first (order); demand; demand = zlistx_next (order)) {
            if (matcher_store_reconcile (self, demand))
                rc = -1;
            if (self->config.keepalive)
                self->config.keepalive (self->config.keepalive_arg);
        }
    zlistx_destroy (&order);
    zhashx_destroy (&affected);
    return rc;
}

//  --------------------------------------------------------------------------------------
//  Saved-search hits

//  One saved search's hit, one attempt: WATCH its hit record (key), then, unless this
//  version is recorded already, write the record (ver) and the event. Returns as
//  oim_redis_tx_exec: 0 done, 1 conflict (retry), -1 Redis failed.
static int
s_saved_hit_once (matcher_store_t *self, const char *ss_id, const char *key, const char *type,
                  const char *entity_id, int64_t version, const char *ver, const char *title)
{
    redisReply *r = oim_redis_command (self->redis, "WATCH %s", key);
    if (!r)
        return -1;
    freeReplyObject (r);
    r = oim_redis_command (self->redis, "HGET %s %s", key, entity_id);
    if (!r)
        return -1;
    int64_t have = r->type == REDIS_REPLY_STRING? atoll (r->str): 0;
    freeReplyObject (r);
    if (have >= version) {
        oim_redis_tx_unwatch (self->redis);
        return OIM_REDIS_TX_COMMITTED;
    }
    matcher_tx_t tx;
    matcher_tx_init (self, &tx);
    oim_redis_tx_strs (tx.redis_tx, "HSET", key, entity_id, ver, NULL);
    matcher_tx_hit_event (self, &tx, ss_id, matcher_model_saved_owner (self->model, ss_id), type,
                          entity_id, version, title);
    int rc = matcher_tx_exec (self, &tx);
    if (rc == OIM_REDIS_TX_COMMITTED)
        self->counts.events++;
    return rc;
}

int
matcher_store_saved_hits (matcher_store_t *self, const char *entity_id, int64_t version,
                          const char *changed_at)
{
    const char *ids [256];
    int count = matcher_model_saved_hits (self->model, entity_id, changed_at, ids, 256);
    if (count > 256)
        count = 256;
    const char *title = NULL, *type = "demand";
    matcher_org_info_t info;
    if (matcher_model_org_info (self->model, entity_id, &info)) {
        title = info.name;
        type = "startup";
    }
    else
        matcher_model_demand_info (self->model, entity_id, NULL, &title, NULL, NULL);
    char ver [32];
    snprintf (ver, sizeof ver, "%lld", (long long) version);
    for (int i = 0; i < count; i++) {
        char key [OIM_KEY_SIZE];
        snprintf (key, sizeof key, OIM_KEY_SS_HITS, ids [i]);
        for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
            int rc = s_saved_hit_once (self, ids [i], key, type, entity_id, version, ver, title);
            if (rc == OIM_REDIS_TX_FAILED)
                return -1;
            if (rc == OIM_REDIS_TX_COMMITTED)
                break;
        }
    }
    return 0;
}
