/*  matcher_store — matches in Redis: reconciling a demand's matches with the model, the
    workflow (interest, decline), the lists, and the events every real change produces.

    Every change is optimistic: WATCH the keys read (the demand's pair index, the matches),
    compute, then MULTI { SET matches, indexes, XADD oim:events } EXEC; a concurrent change
    (another replica, a workflow request) aborts the EXEC and the step is recomputed. So a
    match and its events are written together or not at all, and re-running a step whose
    effects are already stored finds nothing to change and writes nothing: replaying a change
    log entry (after SIGKILL, XAUTOCLAIM) never repeats an event. Event ids are derived from
    (match id, match version, type, recipient), so even a repeated write would carry the same id.

    Events: all the events of one transaction are written as one oim:events entry, field
    "b" = an EventBatch (notify.proto; a new entry every 256 recipients, so an entry stays
    bounded), or field "e" = the Event when the transaction causes just one. oim-notify
    handles each event of a batch as if it were its own entry. An event both sides of a
    match get with the same text is written once, the second recipient as a copy
    (Event.copies, with its own id): oim-notify delivers it as two events.

    Workflow: suggested -> interested (one side) -> connected (both; contacts revealed, and
    the startup joins oim:demand:<id>:connected) | declined (either side, with a reason).
    Not in the top K any more: a "suggested" match becomes "withdrawn" (hidden from lists, no
    event); an "interested" one stays while it still qualifies, else it is withdrawn; a
    connected or declined match is never withdrawn by scoring. A withdrawn match that
    qualifies again is suggested again (match.created). A closed or awarded demand's matches
    stop changing (scoring and workflow), and every startup with a live match on it hears
    demand.closed; a deleted demand's matches are withdrawn, except connected ones.

    Visibility: matches are made and stored as scored (matcher_model_score); what a viewer
    reads is rendered for it. A startup that is not connected sees a confidential demand's
    match as its teaser — no company_id, the score and explanation of
    matcher_model_score_teaser (title and tags only) — in lists, workflow replies,
    interest.received and match.created/updated (then its own Event, not a copy of the
    owner's); demand.closed names the owner only to connected startups. The lists and the
    workflow answer members only: the agency, or an organization the model (else Redis)
    knows as active.
*/
#ifndef MATCHER_STORE_H_INCLUDED
#define MATCHER_STORE_H_INCLUDED

#include "oim_service.h"
#include "matcher_model.h"
#include "oim_redis_tx.h"

typedef struct _matcher_store_t matcher_store_t;

typedef struct {
    int64_t update_units;           //  match.updated when the score moved by more (units)
    //  called between the demands a startup change re-ranks (one change can re-rank
    //  hundreds): the daemon keeps its broker link alive there (oim_service_keepalive),
    //  or the broker takes it for dead while it works; NULL: none
    void (*keepalive) (void *arg);
    void *keepalive_arg;
} matcher_store_config_t;

//  Borrows redis and model (both outlive the store).
matcher_store_t *matcher_store_new (oim_redis_t *redis, matcher_model_t *model,
                                    const matcher_store_config_t *config);
void matcher_store_destroy (matcher_store_t **self_p);

//  Brings a demand's stored matches in line with the model. Returns 0 (done, or nothing to
//  do), -1 when Redis failed (nothing or everything of the step was written: retry later).
int matcher_store_reconcile (matcher_store_t *self, const char *demand_id);

//  matcher_store_reconcile for several demands (change-log entries handled together): one
//  optimistic step for all (WATCH, two pipelined reads, one MULTI/EXEC), so a batch costs a
//  few round trips instead of a few per demand; a batch that keeps conflicting falls back to
//  one demand at a time. Same effects, events and idempotence as reconciling each. 0 or -1.
int matcher_store_reconcile_batch (matcher_store_t *self, const char *const *demand_ids,
                                   size_t count);

//  The connection the store's steps and API handlers use from now on (the worker keeps a
//  second one to overlap batches; both outlive the store).
void matcher_store_use (matcher_store_t *self, oim_redis_t *redis);

//  matcher_store_reconcile_batch's one optimistic step, in parts, so that a caller can send
//  one batch's MULTI/EXEC and compute the next while Redis runs it (the next batch prepared
//  on another connection: an EXEC clears the WATCHes of its own):
//    prepare: on the current connection, WATCH + read the demands' pair indexes and matches
//             (NULL when Redis failed);
//    compute: the changes, from the model (no Redis); between demands, it writes more of
//             the transaction of `sending` (a batch sent, not finished, or NULL);
//    send:    writes MULTI ... EXEC on the batch's connection, as much as it takes without
//             waiting for Redis to read it, and reads no reply;
//    finish:  sends when not sent yet, writes the rest, reads the outcome as
//             oim_redis_tx_exec does (OIM_REDIS_TX_COMMITTED 0: committed or nothing to
//             write; _CONFLICT 1: a WATCHed key changed, redo; _FAILED -1) and destroys the
//             batch.
//  destroy discards a batch (UNWATCHes when it was not sent). The demand ids are borrowed
//  until the batch is destroyed.
typedef struct _matcher_batch_t matcher_batch_t;
matcher_batch_t *matcher_store_batch_prepare (matcher_store_t *self,
                                              const char *const *demand_ids, size_t count);
void matcher_store_batch_compute (matcher_store_t *self, matcher_batch_t *batch,
                                  matcher_batch_t *sending);
void matcher_store_batch_send (matcher_store_t *self, matcher_batch_t *batch);
int matcher_store_batch_finish (matcher_store_t *self, matcher_batch_t **batch_p);
void matcher_store_batch_destroy (matcher_store_t *self, matcher_batch_t **batch_p);
//  The connection holding the batch's WATCHes (and, once sent, its EXEC).
oim_redis_t *matcher_store_batch_redis (matcher_batch_t *batch);

//  A demand became closed or awarded (a change-log entry carrying it at that version,
//  made at changed_at): one demand.closed event to every startup with a live (suggested,
//  interested or connected) match on it, written with the record that this version was
//  announced (oim:demand:<id>:closed) in one MULTI/EXEC, WATCHing its matches. Its matches
//  stop changing from then on (matcher_store_reconcile leaves closed demands alone). A
//  replay finds the record and writes nothing; the event ids are derived from (demand,
//  version, type, startup) anyway. Any other demand: nothing to do. 0 or -1 as above.
int matcher_store_demand_closed (matcher_store_t *self, const Oim__V1__Demand *demand,
                                 const char *changed_at);

//  A startup changed: percolates it through the open demands and reconciles every demand it
//  may now enter, plus every demand it already has a match with. 0 or -1 as above.
int matcher_store_startup_changed (matcher_store_t *self, const char *startup_id);

//  Saved searches hit by an entity at a version (changed at changed_at, RFC 3339): one
//  saved_search.hit per (search, entity, version), written with the hit record. 0 or -1.
int matcher_store_saved_hits (matcher_store_t *self, const char *entity_id, int64_t version,
                              const char *changed_at);

//  API handlers' bodies (operations match.list_demand, match.list_org, match.interest,
//  match.decline).
void matcher_store_list_demand (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                                oim_api_reply_t *reply);
void matcher_store_list_org (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                             oim_api_reply_t *reply);
void matcher_store_interest (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                             oim_api_reply_t *reply);
void matcher_store_decline (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                            oim_api_reply_t *reply);

//  Counters for metrics: events written (per recipient: an Event with a copy counts 2),
//  matches written, EXEC conflicts retried.
typedef struct {
    uint64_t events, writes, conflicts;
} matcher_store_counts_t;
void matcher_store_counts (matcher_store_t *self, matcher_store_counts_t *counts);

#endif
