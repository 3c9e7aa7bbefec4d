/*  matcher_server — the oim-matcher daemon: follows the registry's change log, keeps the
    model (matcher_model) current, turns changes into matches and events (matcher_store), and
    answers the match endpoints.

    Two readers of oim:changelog, both polled from the tick (non-blocking, so requests keep
    being answered between batches):
      * the follower (oim_stream_follower: XREAD from its own position, every replica):
        applies every entry's entity to the model, so each replica holds all startups,
        demands and saved searches.
        At start it takes a snapshot (Clone pattern): the stream's last id first, then every
        live entity from the registry's indexes (oim:orgs, oim:demands, oim:saved_searches),
        then the log from that id; entries the snapshot already reflects are ignored by
        version. The log is trimmed (registry_retention.c): every read of it asks, in the
        same pipeline, where the stream starts now (XINFO STREAM), and a follower that fell
        behind a trim (entries were removed and the first one left is after its position)
        applies nothing more: at the start of the next tick the replica drops its model and
        takes a new snapshot (entries the worker read meanwhile stay pending until then).
      * the worker (oim_stream_group "matcher", XREADGROUP): exactly one replica handles each
        entry's effects (reconcile the demand, percolate the startup, saved-search hits,
        demand.closed) and XACKs it only after they are written. Entries are handled in
        batches (one XREADGROUP reply): the demands of a batch are reconciled in one
        optimistic MULTI/EXEC and the batch is XACKed in one command. Before handling entry X it makes sure the
        follower has applied everything up to X, so of two related changes the later one's
        handler sees both. An entry whose effects failed (Redis down) stays pending and is
        retried; entries pending on a dead consumer are taken over with XAUTOCLAIM after
        match-claim-idle-ms. Effects are idempotent (see matcher_store.h), so a retried or
        claimed entry never repeats an event.
        Batches of open demands' changes only (the common case) are overlapped: while Redis
        runs one batch's MULTI/EXEC (sent without waiting, on one connection), the worker
        computes the next batch, whose WATCHes and reads went out on a second connection
        just before (an EXEC clears its own connection's WATCHes; another's still see it).
        A batch is XACKed only after its EXEC succeeded; a conflict (the next batch's WATCH
        saw the EXEC before it) redoes that batch step by step. Any other batch, and the end
        of each tick (requests use the connection between ticks), first completes the
        batch in flight.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "matcher_server.h"
#include "matcher_model.h"
#include "matcher_store.h"
#include "matcher_relation.h"
#include "oim_api.h"
#include "oim_clock.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "oim_stream.h"
#include "changelog.pb-c.h"

#define FOLLOW_BATCH        1000
#define WORK_BATCH          64
#define FOLLOW_AHEAD        (2 * WORK_BATCH)    //  entries read ahead per pipelined batch,
                                                //  and at most at the start of a tick
#define WORK_BUDGET_MSEC    100
#define SNAPSHOT_CHUNK      1000

static const oim_option_t s_options [] = {
    { "match-weights", "OIM_MATCH_WEIGHTS", "text=0.4,tags=0.25,industry=0.15,region=0.1,stage=0.1",
      "factor weights (normalised to sum 1)", false },
    { "match-min-score", "OIM_MATCH_MIN_SCORE", "0.25",
      "the line between a good and a weak match, 0..1 (fitted: deploy/fit-weights.py)", false },
    { "match-top-k", "OIM_MATCH_TOP_K", "20", "matches kept per demand", false },
    { "match-glossary", "OIM_MATCH_GLOSSARY", "0.3",
      "weight of a demand's Korean <-> English glossary translations in its text query "
      "(0: off; 1: as much as its own words)", false },
    { "match-update-threshold", "OIM_MATCH_UPDATE_THRESHOLD", "0.05",
      "match.updated when a score moves by more than this", false },
    { "match-claim-idle-ms", "OIM_MATCH_CLAIM_IDLE_MS", "5000",
      "take over change-log entries pending this long on another (dead) consumer", false },
    { "match-scan", "OIM_MATCH_SCAN", "0",
      "1: score every startup / open demand, no index (the same matches, slower: the "
      "benchmarks' brute-force reference)", false },
    OIM_OPTION_END
};

//  One batch of entries being handled (s_handle_entries' steps).
typedef struct {
    redisReply *owned;              //  the stream reply holding the entries, when owned
    Oim__V1__ChangeEntry **parsed;  //  the entries unpacked (NULL: no entity)
    size_t slots;                   //  parsed's size
    const char **acks;              //  the entries' ids, to XACK
    size_t n;                       //  ids in acks
    const char **demands;           //  the demands to reconcile (borrowed from parsed)
    size_t ndemands;
    bool pure;                      //  open demands' changes only: may be pipelined
    int64_t started;
    matcher_batch_t *batch;         //  its reconcile, when pipelined
} s_work_t;

typedef struct {
    oim_service_t *service;
    oim_redis_t *redis;             //  the connection in use: one of conns
    oim_redis_t *conns [2];         //  the service's and the worker's second one
    s_work_t *held;                 //  a batch computed, its EXEC not read yet (conn: its own)
    matcher_model_t *model;
    matcher_store_t *store;
    bool snapshot_done;
    bool gap;                       //  the follower fell behind a trim: rebuild the model
    matcher_config_t model_config;
    matcher_store_config_t store_config;
    oim_stream_follower_t *follower;    //  the model's position in the log
    oim_stream_group_t *group;      //  the worker's consumer group
    const char *consumer;
    redisReply *next;               //  the next XREADGROUP reply, read ahead (or NULL)
    bool next_own;                  //  next holds our own pending entries
    int64_t deadline_ms;            //  the end of this tick's work budget
    oim_metric_t *m_entries, *m_failed, *m_events, *m_startups, *m_demands, *m_latency;
    uint64_t events_seen;
    uint64_t events_before;         //  events written by stores dropped in rebuilds
} matcher_t;

static matcher_t *
s_self (oim_service_t *service)
{
    return oim_service_state (service);
}

//  The last stream id applied to the model.
static const char *
s_follow_pos (matcher_t *self)
{
    return oim_stream_follower_position (self->follower);
}

static bool
s_is (const Oim__V1__ChangeEntry *entry, Oim__V1__ChangeEntry__EntityCase which)
{
    return entry && entry->entity_case == which && entry->org;
}

//  Applies a ChangeEntry's entity to the model. Returns the unpacked entry (caller frees) or
//  NULL when the bytes are not a ChangeEntry (logged, skipped).
static Oim__V1__ChangeEntry *
s_apply (matcher_t *self, const redisReply *fields)
{
    const redisReply *value = NULL;
    for (size_t i = 0; fields && fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements;
         i += 2)
        if (streq (fields->element [i]->str, "e"))
            value = fields->element [i + 1];
    if (!value || value->type != REDIS_REPLY_STRING)
        return NULL;
    Oim__V1__ChangeEntry *entry =
        oim__v1__change_entry__unpack (NULL, value->len, (const uint8_t *) value->str);
    if (!entry) {
        oim_warn ("event=bad_changelog_entry");
        return NULL;
    }
    //  entity is a oneof: the members share one pointer, entity_case says which it is
    if (s_is (entry, OIM__V1__CHANGE_ENTRY__ENTITY_ORG))
        matcher_model_apply_org (self->model, entry->org);
    else
    if (s_is (entry, OIM__V1__CHANGE_ENTRY__ENTITY_DEMAND))
        matcher_model_apply_demand (self->model, entry->demand);
    else
    if (s_is (entry, OIM__V1__CHANGE_ENTRY__ENTITY_SAVED_SEARCH))
        matcher_model_apply_saved_search (self->model, entry->saved_search);
    return entry;
}

//  Applies one log entry to the model (oim_stream_apply_fn).
static void
s_follow_entry (void *arg, const char *id, const redisReply *fields)
{
    (void) id;
    Oim__V1__ChangeEntry *entry = s_apply (arg, fields);
    if (entry)
        oim__v1__change_entry__free_unpacked (entry, NULL);
}

//  The outcome of a read of the log (oim_stream_follower_take): a gap found now is logged
//  once and makes the next tick rebuild the model from a snapshot (entries the worker read
//  meanwhile stay pending until then). Returns the entries applied (0 in a gap), or -1.
static int
s_follow_took (matcher_t *self, int rc)
{
    if (rc == -2 && !self->gap) {
        self->gap = true;
        oim_warn ("event=changelog_gap action=snapshot position=%s", s_follow_pos (self));
    }
    return rc == -2? 0: rc;
}

//  Reads the log from the model's position and applies it, up to max_batches batches of
//  count entries. Returns the number of entries applied, -1 when Redis failed.
static int
s_follow (matcher_t *self, int max_batches, int count)
{
    int applied = 0;
    for (int batch = 0; batch < max_batches && !self->gap; batch++) {
        int got = s_follow_took (self, oim_stream_follower_poll (self->follower, self->redis,
                                                                 count, s_follow_entry, self));
        if (got < 0)
            return -1;
        applied += got;
        if (got < count)
            break;
    }
    return applied;
}

//  Reading ahead, in two halves around other work: s_ahead_ask asks redis, without
//  waiting, for the log's next FOLLOW_AHEAD entries and, while the tick's budget lasts, for
//  the group's next batch (0, or -1 when not asked); s_ahead_take applies the former to the
//  model and keeps the latter as self->next for s_read_group. The model's work (analysing
//  and indexing demands) and the round trip for the next batch then happen while Redis is
//  busy with a batch's EXEC, not between batches, when Redis waits for the matcher.
static int
s_ahead_ask (matcher_t *self, oim_redis_t *redis, bool *batch)
{
    if (oim_stream_follower_ask (self->follower, redis, FOLLOW_AHEAD))
        return -1;
    self->next_own = oim_stream_group_retrying (self->group);
    *batch = oim_clock_mono_ms () < self->deadline_ms
          && oim_stream_group_append (self->group, redis, WORK_BATCH) == 0;
    return oim_redis_flush (redis);
}

static void
s_ahead_take (matcher_t *self, oim_redis_t *redis, bool batch)
{
    int rc = s_follow_took (self, oim_stream_follower_take (self->follower, redis,
                                                            s_follow_entry, self));
    if (batch) {
        assert (!self->next);
        self->next = rc >= 0? oim_redis_reply (redis): NULL;
        if (!self->next)            //  (Redis may have given us entries we did not read)
            oim_stream_group_retry (self->group);
    }
}

//  Reads every key of a registry index (zset) and applies the entities. -1 on failure.
static int
s_snapshot_index (matcher_t *self, const char *index, const char *key_format, int kind)
{
    redisReply *ids = oim_redis_command (self->redis, "ZRANGE %s 0 -1", index);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids) freeReplyObject (ids);
        return -1;
    }
    int rc = 0;
    for (size_t start = 0; start < ids->elements && rc == 0; start += SNAPSHOT_CHUNK) {
        size_t end = start + SNAPSHOT_CHUNK < ids->elements? start + SNAPSHOT_CHUNK: ids->elements;
        for (size_t i = start; i < end; i++) {
            char key [OIM_KEY_SIZE];
            snprintf (key, sizeof key, key_format, ids->element [i]->str);
            oim_redis_append (self->redis, "GET %s", key);
        }
        for (size_t i = start; i < end; i++) {
            redisReply *r = oim_redis_reply (self->redis);
            if (!r) {
                rc = -1;
                break;
            }
            if (r->type == REDIS_REPLY_STRING) {
                const uint8_t *data = (const uint8_t *) r->str;
                if (kind == 0) {
                    Oim__V1__Organization *m = oim__v1__organization__unpack (NULL, r->len, data);
                    if (m) matcher_model_apply_org (self->model, m);
                    if (m) oim__v1__organization__free_unpacked (m, NULL);
                }
                else
                if (kind == 1) {
                    Oim__V1__Demand *m = oim__v1__demand__unpack (NULL, r->len, data);
                    if (m) matcher_model_apply_demand (self->model, m);
                    if (m) oim__v1__demand__free_unpacked (m, NULL);
                }
                else {
                    Oim__V1__SavedSearch *m = oim__v1__saved_search__unpack (NULL, r->len, data);
                    if (m) matcher_model_apply_saved_search (self->model, m);
                    if (m) oim__v1__saved_search__free_unpacked (m, NULL);
                }
            }
            freeReplyObject (r);
        }
    }
    freeReplyObject (ids);
    return rc;
}

static int
s_snapshot (matcher_t *self)
{
    int64_t started = oim_clock_mono_ms ();
    if (!oim_stream_group_ensure (self->group, self->redis)
    ||  oim_stream_follower_mark (self->follower, self->redis))
        return -1;
    if (s_snapshot_index (self, OIM_KEY_ORGS, OIM_KEY_ORG, 0)
    ||  s_snapshot_index (self, OIM_KEY_DEMANDS, OIM_KEY_DEMAND, 1)
    ||  s_snapshot_index (self, OIM_KEY_SAVED_SEARCHES, OIM_KEY_SAVED_SEARCH, 2))
        return -1;
    if (s_follow (self, 1000000, FOLLOW_BATCH) < 0)
        return -1;
    matcher_model_stats_t stats;
    matcher_model_stats (self->model, &stats);
    oim_info ("event=snapshot position=%s startups=%zu open_demands=%zu saved_searches=%zu "
              "terms=%zu bytes=%zu msec=%lld", s_follow_pos (self), stats.startups,
              stats.demands_open, stats.saved_searches, stats.terms, stats.bytes,
              (long long) (oim_clock_mono_ms () - started));
    self->snapshot_done = true;
    return 0;
}

static void
s_reconcile_cb (const char *demand_id, void *arg)
{
    matcher_t *self = arg;
    matcher_store_reconcile (self->store, demand_id);
}

//  Writes one entry's effects, except a demand's reconcile and saved-search hits (the
//  batch's demands are reconciled together, then their hits written). 0, or -1 when the
//  effects could not be written.
static int
s_effects (matcher_t *self, const Oim__V1__ChangeEntry *entry)
{
    int rc = 0;
    if (s_is (entry, OIM__V1__CHANGE_ENTRY__ENTITY_ORG)) {
        const Oim__V1__Organization *org = entry->org;
        if (streq (org->kind, "startup")) {
            rc = matcher_store_startup_changed (self->store, org->id);
            if (rc == 0)
                rc = matcher_store_saved_hits (self->store, org->id, org->version, entry->at);
            oim_metric_add (self->m_startups, 1);
        }
        else
        if (streq (org->kind, "company"))
            matcher_model_org_demands (self->model, org->id, s_reconcile_cb, self);
    }
    else
    if (s_is (entry, OIM__V1__CHANGE_ENTRY__ENTITY_DEMAND))
        //  closed or awarded: demand.closed to the startups with live matches (else nothing)
        rc = matcher_store_demand_closed (self->store, entry->demand, entry->at);
    return rc;
}

//  The connection the worker and the store use from now on.
static void
s_use (matcher_t *self, oim_redis_t *redis)
{
    self->redis = redis;
    matcher_store_use (self->store, redis);
}

//  True when an entry's only effects are its demand's reconcile and saved-search hits (no
//  demand.closed, no startup or company change): such batches may be pipelined.
static bool
s_pure (const Oim__V1__ChangeEntry *entry)
{
    if (!entry || entry->entity_case == OIM__V1__CHANGE_ENTRY__ENTITY__NOT_SET)
        return true;
    if (!s_is (entry, OIM__V1__CHANGE_ENTRY__ENTITY_DEMAND))
        return false;
    const Oim__V1__Demand *d = entry->demand;
    return d->deleted || !(streq (d->status, "closed") || streq (d->status, "awarded"));
}

static void
s_work_destroy (s_work_t **w_p)
{
    s_work_t *w = *w_p;
    for (size_t i = 0; i < w->slots; i++)
        if (w->parsed [i])
            oim__v1__change_entry__free_unpacked (w->parsed [i], NULL);
    free (w->parsed);
    free (w->acks);
    free (w->demands);
    if (w->owned)
        freeReplyObject (w->owned);
    free (w);
    *w_p = NULL;
}

//  Parses and applies a batch's entries into a new s_work_t.
static s_work_t *
s_work_new (matcher_t *self, redisReply *entries, int64_t started)
{
    s_work_t *w = calloc (1, sizeof *w);
    assert (w);
    w->slots = entries->elements;
    w->parsed = calloc (w->slots + 1, sizeof *w->parsed);
    w->acks = calloc (w->slots + 1, sizeof *w->acks);
    w->demands = calloc (w->slots + 1, sizeof *w->demands);
    assert (w->parsed && w->acks && w->demands);
    w->pure = true;
    w->started = started;
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element [i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2)
            continue;
        const char *id = e->element [0]->str;
        Oim__V1__ChangeEntry *entry = e->element [1]->type == REDIS_REPLY_ARRAY?
                                      s_apply (self, e->element [1]): NULL;
        oim_debug ("event=entry id=%s type=%s entity=%s", id, entry? entry->entity_type: "?",
                   entry? entry->entity_id: "?");
        w->parsed [i] = entry;
        w->acks [w->n++] = id;
        w->pure = w->pure && s_pure (entry);
        if (s_is (entry, OIM__V1__CHANGE_ENTRY__ENTITY_DEMAND)) {
            w->demands [w->ndemands++] = entry->demand->id;
            oim_metric_add (self->m_demands, 1);
        }
    }
    return w;
}

//  Brings the model up to a batch's last entry and parses the batch into *w_p. Returns 1,
//  0 when there is nothing to do (deleted entries only), -1 when Redis failed.
static int
s_work_read (matcher_t *self, redisReply *entries, s_work_t **w_p)
{
    const char *last = NULL;
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element [i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 2)
            last = e->element [0]->str;
    }
    if (!last)
        return 0;                   //  deleted entries (nil fields) only: nothing to do
    int64_t started = oim_clock_mono_us ();
    //  the model must reflect everything up to the last entry
    for (int tries = 0; oim_stream_id_cmp (s_follow_pos (self), last) < 0 && tries < 100; tries++)
        if (s_follow (self, 1, FOLLOW_BATCH) < 0)
            break;
    if (oim_stream_id_cmp (s_follow_pos (self), last) < 0) {
        oim_stream_group_retry (self->group);
        return -1;
    }
    *w_p = s_work_new (self, entries, started);
    return 1;
}

//  Ends a batch whose reconcile returned rc: writes the demands' saved-search hits, XACKs
//  the entries, destroys w. Returns the number handled, or -1 (entries stay pending).
static int
s_work_end (matcher_t *self, s_work_t *w, int rc)
{
    for (size_t i = 0; i < w->slots && rc == 0; i++)
        if (s_is (w->parsed [i], OIM__V1__CHANGE_ENTRY__ENTITY_DEMAND))
            rc = matcher_store_saved_hits (self->store, w->parsed [i]->demand->id,
                                           w->parsed [i]->demand->version, w->parsed [i]->at);
    if (rc == 0)
        rc = oim_stream_group_ack (self->group, self->redis, w->acks, w->n);
    size_t n = w->n;
    int64_t started = w->started;
    matcher_store_batch_destroy (self->store, &w->batch);
    s_work_destroy (&w);
    if (rc) {
        oim_metric_add (self->m_failed, 1);
        oim_stream_group_retry (self->group);
        return -1;
    }
    oim_metric_add (self->m_entries, n);
    int64_t per_entry = (oim_clock_mono_us () - started) / (int64_t) n;
    for (size_t i = 0; i < n; i++)
        oim_metric_observe_us (self->m_latency, per_entry);
    return (int) n;
}

//  Handles a batch one step after the other: every entry's effects, the demands' reconcile
//  (matcher_store_reconcile_batch), their hits, the XACK. Returns as s_work_end.
static int
s_work_sync (matcher_t *self, s_work_t *w)
{
    int rc = 0;
    for (size_t i = 0; i < w->slots && rc == 0; i++)
        if (w->parsed [i])
            rc = s_effects (self, w->parsed [i]);
    if (rc == 0 && w->ndemands)
        rc = matcher_store_reconcile_batch (self->store, w->demands, w->ndemands);
    return s_work_end (self, w, rc);
}

//  Completes the held batch on its connection (which is then the one in use): reads its
//  EXEC's outcome, redoes the batch one step after the other after a conflict (reconcile is
//  state-based: the redo writes nothing twice), then its hits and XACK. 0 or -1.
static int
s_finish_held (matcher_t *self)
{
    s_work_t *w = self->held;
    if (!w)
        return 0;
    self->held = NULL;
    s_use (self, matcher_store_batch_redis (w->batch));
    int rc = matcher_store_batch_finish (self->store, &w->batch);
    if (rc == OIM_REDIS_TX_CONFLICT) {
        oim_debug ("event=batch_conflict entries=%zu", w->n);
        rc = matcher_store_reconcile_batch (self->store, w->demands, w->ndemands);
    }
    else
        rc = rc == OIM_REDIS_TX_COMMITTED? 0: -1;
    return s_work_end (self, w, rc) < 0? -1: 0;
}

//  s_work_sync once the held batch completed (else w's entries stay pending: -1).
static int
s_work_sync_after_held (matcher_t *self, s_work_t *w)
{
    if (s_finish_held (self)) {
        s_work_end (self, w, -1);
        return -1;
    }
    return s_work_sync (self, w);
}

//  Handles a pure batch overlapped with the held one: WATCHes and reads this batch's
//  demands on the connection in use and asks it for the log's next entries, sends the held
//  batch's EXEC on its own, computes this batch and applies those entries to the model while
//  Redis runs it, completes the held batch, and holds this one (its EXEC sent with the next
//  batch's, or when the tick drains). 0, or -1 (entries stay pending).
static int
s_work_pipelined (matcher_t *self, s_work_t *w)
{
    w->batch = matcher_store_batch_prepare (self->store, w->demands, w->ndemands);
    oim_redis_t *mine = self->redis;
    bool batch = false;
    bool ahead = w->batch && self->held && s_ahead_ask (self, mine, &batch) == 0;
    if (self->held)
        matcher_store_batch_send (self->store, self->held->batch);
    if (w->batch)
        matcher_store_batch_compute (self->store, w->batch,
                                     self->held? self->held->batch: NULL);
    if (ahead)
        s_ahead_take (self, mine, batch);   //  (failed: the batch's connection is gone, and
                                            //  with it its WATCHes: its EXEC fails, its
                                            //  entries stay pending)
    int rc = s_finish_held (self);
    if (!w->batch || rc < 0) {
        s_work_end (self, w, -1);
        return -1;
    }
    self->held = w;
    s_use (self, mine == self->conns [0]? self->conns [1]: self->conns [0]);
    return 0;
}

//  Handles a stream reply's entry array as one batch, one step after the other (after the
//  held batch completed). Effects are idempotent, so after a failure (entries stay pending,
//  retried) or a SIGKILL anywhere in between, handling an entry again writes nothing twice.
//  Returns the number handled, or -1 when effects could not be written.
static int
s_handle_entries (matcher_t *self, redisReply *entries)
{
    s_work_t *w = NULL;
    int rc = s_work_read (self, entries, &w);
    return rc <= 0? rc: s_work_sync_after_held (self, w);
}

//  s_handle_entries for new entries in reply (consumed): a pure batch is pipelined.
//  0 or -1.
static int
s_handle_new (matcher_t *self, redisReply *reply)
{
    s_work_t *w = NULL;
    int rc = s_work_read (self, reply->element [0]->element [1], &w);
    if (rc <= 0) {
        freeReplyObject (reply);
        return rc;
    }
    w->owned = reply;
    if (w->pure)
        return s_work_pipelined (self, w);
    return s_work_sync_after_held (self, w) < 0? -1: 0;
}

//  Reads up to WORK_BATCH entries of the group (the reply read ahead, or a new read: our
//  own pending entries while the group is retrying, else new ones) and handles them; *n
//  gets how many were read. Returns 0, or -1 when Redis failed or an entry could not be
//  handled (retried later). A missing group (the stream was deleted) makes the next tick
//  take a new snapshot and create it again.
static int
s_read_group (matcher_t *self, size_t *n)
{
    redisReply *r = self->next;
    bool own = self->next_own;
    self->next = NULL;
    if (!r) {
        own = oim_stream_group_retrying (self->group);
        if (oim_stream_group_append (self->group, self->redis, WORK_BATCH) == 0)
            r = oim_redis_reply (self->redis);
    }
    redisReply *entries;
    int got = oim_stream_group_judge (self->group, r, &entries);
    if (got == -2)
        self->gap = true;           //  the log was deleted: what the model holds may be stale
    int rc = got < 0? -1: 0;
    if (got > 0) {
        *n = (size_t) got;
        if (!own)
            return s_handle_new (self, r);
        rc = s_handle_entries (self, entries) < 0? -1: 0;
    }
    if (r)
        freeReplyObject (r);
    return rc;
}

static void
s_work_steps (matcher_t *self)
{
    self->deadline_ms = oim_clock_mono_ms () + WORK_BUDGET_MSEC;
    //  our own pending entries first, after a failure (more may be pending: next tick)
    if (oim_stream_group_retrying (self->group)) {
        size_t n = 0;
        if (s_read_group (self, &n) < 0 || n > 0)
            return;
    }
    //  entries of dead consumers
    if (oim_stream_group_claim_due (self->group)) {
        redisReply *r, *entries;
        int got = oim_stream_group_claim (self->group, self->redis, WORK_BATCH, &r, &entries);
        if (got < 0)
            return;
        int rc = 0;
        if (got > 0) {
            oim_info ("event=claimed entries=%d", got);
            rc = s_handle_entries (self, entries);
        }
        freeReplyObject (r);
        if (rc < 0)
            return;
    }
    //  new entries, while the budget lasts
    while (oim_clock_mono_ms () < self->deadline_ms || self->next) {
        size_t n = 0;
        if (s_read_group (self, &n) < 0 || n < WORK_BATCH)
            return;
    }
}

//  Works while the budget lasts, handles the batch read ahead (reading no further), then
//  completes the held batch: between ticks (requests) nothing is in flight.
static void
s_work (matcher_t *self)
{
    s_work_steps (self);
    self->deadline_ms = 0;
    size_t n;
    if (self->next)
        s_read_group (self, &n);    //  (failed: its entries stay pending, re-read)
    s_finish_held (self);
}

//  Replaces the model and the store with empty ones, for a new snapshot (a gap in the log:
//  the model may hold entities deleted meanwhile, which a snapshot would not remove). Only
//  between ticks, when nothing is in flight. Without memory for a new model, keeps the old
//  one and tries again next tick.
static void
s_rebuild (matcher_t *self)
{
    matcher_model_t *model = matcher_model_new (&self->model_config);
    if (!model) {
        oim_error ("event=model_failed action=retry");
        return;
    }
    matcher_store_counts_t counts;
    matcher_store_counts (self->store, &counts);
    self->events_before += counts.events;
    matcher_store_destroy (&self->store);
    matcher_model_destroy (&self->model);
    self->model = model;
    self->store = matcher_store_new (self->redis, model, &self->store_config);
    oim_stream_follower_reset (self->follower);
    self->gap = false;
    self->snapshot_done = false;
}

static void
s_tick (oim_service_t *service)
{
    matcher_t *self = s_self (service);
    if (self->gap)
        s_rebuild (self);
    if (!self->snapshot_done) {
        if (s_snapshot (self))
            return;
    }
    if (s_follow (self, 1, FOLLOW_AHEAD) < 0)
        return;
    s_work (self);
    matcher_store_counts_t counts;
    matcher_store_counts (self->store, &counts);
    oim_metric_set (self->m_events, (int64_t) (self->events_before + counts.events));
}

static void
s_keepalive (void *service)
{
    oim_service_keepalive ((oim_service_t *) service);
}

//  The model's configuration from the daemon's options into mc. 0, or -1 (logged) when an
//  option is out of range.
static int
s_model_config (oim_config_t *config, matcher_config_t *mc)
{
    matcher_config_default (mc);
    if (matcher_config_weights (mc, oim_config_get (config, "match-weights"))) {
        oim_error ("event=bad_option option=match-weights value=\"%s\"",
                   oim_config_get (config, "match-weights"));
        return -1;
    }
    double min_score = atof (oim_config_get (config, "match-min-score"));
    mc->glossary_weight = atof (oim_config_get (config, "match-glossary"));
    if (min_score < 0 || min_score > 1 || mc->glossary_weight < 0 || mc->glossary_weight > 1) {
        oim_error ("event=bad_option option=%s", min_score < 0 || min_score > 1
                   ? "match-min-score": "match-glossary");
        return -1;
    }
    mc->min_units = llround (min_score * MATCHER_UNITS);
    int64_t k = oim_config_int (config, "match-top-k", 20);
    mc->top_k = k < 1? 1: k > 1000? 1000: (size_t) k;
    mc->scan = oim_config_bool (config, "match-scan");
    return 0;
}

static int
s_start (oim_service_t *service)
{
    oim_config_t *config = oim_service_config (service);
    matcher_config_t mc;
    if (s_model_config (config, &mc))
        return -1;
    double min_score = (double) mc.min_units / MATCHER_UNITS;
    matcher_t *self = calloc (1, sizeof *self);
    assert (self);
    self->service = service;
    self->redis = oim_service_redis (service);
    self->conns [0] = self->redis;
    self->conns [1] = oim_service_redis_new (service);
    assert (self->conns [1]);       //  the service parsed the same URL
    self->model = matcher_model_new (&mc);
    if (!self->model) {
        oim_redis_destroy (&self->conns [1]);
        free (self);
        return -1;
    }
    matcher_store_config_t sc = {
        .update_units = llround (atof (oim_config_get (config, "match-update-threshold"))
                                 * MATCHER_UNITS),
        .keepalive = s_keepalive, .keepalive_arg = service
    };
    self->store = matcher_store_new (self->redis, self->model, &sc);
    self->model_config = mc;
    self->store_config = sc;
    self->consumer = oim_service_instance (service);
    self->follower = oim_stream_follower_new (OIM_STREAM_CHANGELOG);
    self->group = oim_stream_group_new (OIM_STREAM_CHANGELOG, OIM_GROUP_MATCHER, self->consumer,
                                        oim_config_int (config, "match-claim-idle-ms", 5000),
                                        1000);
    assert (self->follower && self->group);
    oim_metrics_t *metrics = oim_service_metrics (service);
    self->m_entries = oim_metrics_counter (metrics, "oim_matcher_entries_total", NULL,
                                           "change-log entries handled and acknowledged");
    self->m_failed = oim_metrics_counter (metrics, "oim_matcher_entry_failures_total", NULL,
                                          "entries whose effects could not be written (retried)");
    self->m_events = oim_metrics_gauge (metrics, "oim_matcher_events_written", NULL,
                                        "events this replica wrote to oim:events (per recipient)");
    self->m_startups = oim_metrics_counter (metrics, "oim_matcher_startup_changes_total", NULL,
                                            "startup changes percolated");
    self->m_demands = oim_metrics_counter (metrics, "oim_matcher_demand_changes_total", NULL,
                                           "demand changes matched");
    self->m_latency = oim_metrics_histogram (metrics, "oim_matcher_entry_seconds", NULL,
                                             "time to handle one change-log entry");
    oim_service_set_state (service, self);
    oim_info ("event=matcher_config text=%.3f tags=%.3f industry=%.3f region=%.3f stage=%.3f "
              "min_score=%.4f top_k=%zu glossary=%.2f scan=%d consumer=%s", mc.weight [0],
              mc.weight [1], mc.weight [2], mc.weight [3], mc.weight [4], min_score, mc.top_k,
              mc.glossary_weight, mc.scan,
              self->consumer);
    s_snapshot (self);              //  or from the first tick, when Redis is not up yet
    return 0;
}

static void
s_stop (oim_service_t *service)
{
    matcher_t *self = s_self (service);
    if (!self)
        return;
    if (self->next)
        freeReplyObject (self->next);
    matcher_store_destroy (&self->store);
    oim_redis_destroy (&self->conns [1]);
    matcher_model_destroy (&self->model);
    oim_stream_follower_destroy (&self->follower);
    oim_stream_group_destroy (&self->group);
    free (self);
    oim_service_set_state (service, NULL);
}

#define HANDLER(name, fn) \
    static void name (oim_service_t *service, const Oim__V1__ApiRequest *request, \
                      oim_api_reply_t *reply) \
    { fn (s_self (service)->store, request, reply); }

HANDLER (s_list_demand, matcher_store_list_demand)
HANDLER (s_list_org, matcher_store_list_org)
HANDLER (s_interest, matcher_store_interest)
HANDLER (s_decline, matcher_store_decline)
HANDLER (s_rel_propose, matcher_store_rel_propose)
HANDLER (s_rel_accept, matcher_store_rel_accept)
HANDLER (s_rel_decline, matcher_store_rel_decline)
HANDLER (s_rel_outcome, matcher_store_rel_outcome)
HANDLER (s_rel_list, matcher_store_rel_list)
HANDLER (s_rel_msg_post, matcher_store_rel_message_post)
HANDLER (s_rel_msg_list, matcher_store_rel_message_list)
HANDLER (s_rel_msg_read, matcher_store_rel_message_read)

static const oim_method_t s_methods [] = {
    { "match.list_demand", s_list_demand, NULL },
    { "match.list_org", s_list_org, NULL },
    { "match.interest", s_interest, NULL },
    { "match.decline", s_decline, NULL },
    { "rel.propose", s_rel_propose, NULL },
    { "rel.accept", s_rel_accept, NULL },
    { "rel.decline", s_rel_decline, NULL },
    { "rel.outcome", s_rel_outcome, NULL },
    { "rel.list", s_rel_list, NULL },
    { "rel.messages_post", s_rel_msg_post, NULL },
    { "rel.messages_list", s_rel_msg_list, NULL },
    { "rel.messages_read", s_rel_msg_read, NULL },
    { NULL, NULL, NULL }
};

const oim_service_def_t matcher_service = {
    .name = "matcher",
    .summary = "two-way, explainable matching of demands and startups",
    .options = s_options,
    .methods = s_methods,
    .start = s_start,
    .tick = s_tick,
    .stop = s_stop,
    .tick_msec = 10,
};
