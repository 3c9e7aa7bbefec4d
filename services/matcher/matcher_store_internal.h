/*  matcher_store_internal — what the store's files share (private: only matcher_*.c include
    it; the public contract is matcher_store.h). The files, one job each:
      matcher_store.c      the store, matches in Redis: read, write (merged per demand), the
                           organizations' index sets, explanations stored with a match
      matcher_tx.c         the transaction builder (RESP written in place, MULTI ... EXEC sent
                           without waiting, events as one EventBatch entry, merged SADDs)
      matcher_events.c     events and what viewers see: event ids, match rendering (teasers
                           included), match.* / demand.closed / saved_search.hit events
      matcher_reconcile.c  bringing a demand's matches in line with the model (single and
                           batched), closed demands, a startup's changes, saved-search hits
      matcher_api.c        the HTTP handlers: match lists and the workflow (interest, decline)
*/
#ifndef MATCHER_STORE_INTERNAL_H_INCLUDED
#define MATCHER_STORE_INTERNAL_H_INCLUDED

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "matcher_store.h"
#include "oim_api.h"
#include "oim_clock.h"
#include "oim_id.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "oim_pbjson.h"
#include "oim_redis_tx.h"
#include "matcher.pb-c.h"
#include "notify.pb-c.h"
#include "changelog.pb-c.h"

#define MAX_RETRIES     32
#define MAX_REASON      1000
#define BATCH_EVENTS    256         //  recipients per oim:events entry at most (bounds its
                                    //  size): an Event with N copies counts 1 + N

struct _matcher_store_t {
    oim_redis_t *redis;
    matcher_model_t *model;
    matcher_store_config_t config;
    matcher_store_counts_t counts;
    int64_t now_ms;                 //  matcher_store_now's last time, and its text
    char now [OIM_RFC3339_SIZE];
    oim_redis_tx_t *spare_tx;       //  a finished transaction (its buffers), for the next one
    uint8_t *spare_ev;
    size_t spare_ev_cap;
    char parsed [OIM_RFC3339_SIZE]; //  s_time_ms's last text, and its time
    int64_t parsed_ms;
    matcher_score_t *scores;        //  s_reconcile_compute's top K: explanations, names
    const char **names;
};

typedef Oim__V1__Match match_t;

typedef struct {
    char *data;
    size_t len, cap;
} matcher_text_t;

//  --------------------------------------------------------------------------------------
//  A transaction: the commands in an oim_redis_tx (common/oim_redis_tx.h: 0 committed,
//  1 conflict, -1 failed), and its events, collected as the records of one EventBatch
//  (written at the seal, see matcher_tx.c).
typedef struct {
    oim_redis_tx_t *redis_tx;       //  MULTI, the commands, the merged SADDs
    bool sealed;                    //  the events' XADDs and EXEC added
    uint8_t *ev;                    //  the EventBatch records, back to back
    size_t ev_len, ev_cap;
    size_t *ev_at;                  //  where each record starts in ev
    uint8_t *ev_head;               //  each record's tag + length bytes
    size_t *ev_recipients;          //  each record's recipients: 1 + the Event's copies
    size_t ev_count, ev_slots;
} matcher_tx_t;

//  One demand's match writes, merged: MSET of the matches, one HSET of its pair index, one
//  ZADD and one ZREM of its top set; the organizations' sets (s_tx_members) go through
//  oim_redis_tx_sadd, one SADD per set for the whole transaction. The same keys and values
//  as matcher_tx_match for each, in a few commands.
typedef struct {
    oim_redis_args_t mset, hset, zadd, zrem;
} matcher_writes_t;

//  --------------------------------------------------------------------------------------
//  The store (matcher_store.c)

//  The wall clock as RFC 3339 into buf (formatted once per millisecond).
void matcher_store_now (matcher_store_t *self, char *buf);
//  Replaces a string field (value may be the field's own current string).
void matcher_set_str (char **field, const char *value);
void matcher_match_free (match_t **m_p);
//  Factor f of score as stored, its strings borrowed (the factor name, score's detail).
void matcher_factor_fill (Oim__V1__Factor *factor, const matcher_score_t *score, int f);
//  Sets m's explanation and score (m owns them: an unpacked match).
void matcher_set_score (match_t *m, const matcher_score_t *score);
//  True when the stored explanation differs from a fresh score (values or details).
bool matcher_score_differs (const match_t *m, const matcher_score_t *score);
//  A new version of m, updated now.
void matcher_touch (matcher_store_t *self, match_t *m);
//  Queues SET of the match plus its index entries.
void matcher_tx_match (matcher_store_t *self, matcher_tx_t *tx, const match_t *m);
//  Adds match m to the merged writes w (see matcher_writes_t); matcher_writes_flush moves
//  them into tx.
void matcher_writes_match (matcher_store_t *self, matcher_tx_t *tx, matcher_writes_t *w,
                           const match_t *m);
void matcher_writes_flush (matcher_tx_t *tx, matcher_writes_t *w);
//  Reads the matches of n ids (WATCHing them first when watch). Returns a new array of n
//  (entries NULL when missing), or NULL on failure; matcher_free_matches frees it.
match_t **matcher_read_matches (matcher_store_t *self, char **ids, size_t n, bool watch);
void matcher_free_matches (match_t **ms, size_t n);
//  The matches named by an array reply of ids (*n of them; entries NULL when missing), or
//  NULL when r is not one (Redis failed) or the matches could not be read.
match_t **matcher_read_reply_matches (matcher_store_t *self, const redisReply *r, size_t *n);

//  --------------------------------------------------------------------------------------
//  Text (matcher_tx.c)

//  Makes room for len more bytes of t; returns where they go (the caller writes them, then
//  adds len to t->len and terminates).
char *matcher_text_reserve (matcher_text_t *t, size_t len);
void matcher_text_add (matcher_text_t *t, const char *data, size_t len);
//  A decimal integer into buf (24 bytes): what "%lld" prints.
void matcher_int_text (long long value, char *buf);

//  --------------------------------------------------------------------------------------
//  Transactions (matcher_tx.c): queue commands with oim_redis_tx_* on tx->redis_tx

//  Starts tx (empty) with the store's spare transaction and event buffers; matcher_tx_done
//  empties it, keeping them as the store's spares.
void matcher_tx_init (matcher_store_t *self, matcher_tx_t *tx);
void matcher_tx_done (matcher_store_t *self, matcher_tx_t *tx);
//  Queues an event (copied: the caller keeps event) for the transaction's EventBatch.
void matcher_tx_event_add (matcher_tx_t *tx, const Oim__V1__Event *event);
//  Completes the transaction (once): the merged SADDs, the events' XADDs, EXEC.
void matcher_tx_seal (matcher_tx_t *tx);
//  Seals the transaction and writes what the connection takes now, without waiting for
//  Redis to read the rest (oim_redis_tx_write writes more, matcher_tx_finish all). Redis
//  runs nothing of it before EXEC: it gets the whole transaction, or, when the connection
//  fails, discards it. 0, or -1 when Redis failed.
int matcher_tx_send (oim_redis_t *redis, matcher_tx_t *tx);
//  Completes a transaction matcher_tx_send started (sent: what it returned): writes the
//  rest, reads the replies. Returns as oim_redis_tx_exec: 0 committed, 1 a WATCHed key
//  changed (counted as a conflict), -1 Redis failed. Empties tx either way.
int matcher_tx_finish (matcher_store_t *self, oim_redis_t *redis, matcher_tx_t *tx, int sent);
//  Runs the transaction on the store's connection: matcher_tx_send + matcher_tx_finish.
int matcher_tx_exec (matcher_store_t *self, matcher_tx_t *tx);

//  --------------------------------------------------------------------------------------
//  Events and rendering (matcher_events.c)

//  Event id: "ntf_" + 13 base32 of the change time (µs) + 8 base32 of a 40-bit hash of
//  (subject, version, type, recipient): the same change always gets the same id.
void matcher_event_id (matcher_store_t *self, const char *subject, int64_t version,
                       const char *type, const char *org, const char *updated_at, char *buf);
//  The match as the API shows it to a viewer (org id, or agency). Caller owns the json.
json_t *matcher_render (matcher_store_t *self, const match_t *m, const char *viewer, bool agency);
//  Queues one event for recipient org about match m, rendered as org sees it.
void matcher_tx_event (matcher_store_t *self, matcher_tx_t *tx, const match_t *m, const char *type,
                       const char *org);
//  Queues the same event for both sides of m (written once, the second as a copy, when
//  both may see the same text).
void matcher_tx_event_both (matcher_store_t *self, matcher_tx_t *tx, const match_t *m,
                            const char *type);
//  Queues demand.closed for match m's startup (demand at its closing version).
void matcher_tx_closed_event (matcher_store_t *self, matcher_tx_t *tx,
                              const Oim__V1__Demand *demand, const match_t *m,
                              const char *changed_at);
//  Queues saved_search.hit for saved search ss_id's owner: entity_id (a "startup" or a
//  "demand", titled title) at version.
void matcher_tx_hit_event (matcher_store_t *self, matcher_tx_t *tx, const char *ss_id,
                           const char *owner, const char *type, const char *entity_id,
                           int64_t version, const char *title);

//  --------------------------------------------------------------------------------------
//  Shared by the handlers (matcher_api.c)

//  True when principal p acts for a member (the agency, or an active organization's key).
bool matcher_member (matcher_store_t *self, const Oim__V1__Principal *p);
//  The 403 of a key whose organization is not active.
void matcher_not_member (oim_api_reply_t *reply);
//  Queues a connection's extras (connected set, change-log entry, match.connected events).
void matcher_tx_connected (matcher_store_t *self, matcher_tx_t *tx, const match_t *m,
                           const Oim__V1__ApiRequest *request);
//  The match lists of demand id (its owner, the agency) and of organization id.
void matcher_list_demand (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                          oim_api_reply_t *reply, const char *id);
void matcher_list_org (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply, const char *id);

//  A step on the match named by the "id" parameter (a workflow or relationship change):
//  answered says whether the request is answered without a change (404, 403, 409, a
//  repeat), apply changes m (a new version) and queues its writes and events.
typedef struct {
    bool (*answered) (matcher_store_t *self, const match_t *m,
                      const Oim__V1__ApiRequest *request, oim_api_reply_t *reply, void *arg);
    void (*apply) (matcher_store_t *self, match_t *m, const Oim__V1__ApiRequest *request,
                   matcher_tx_t *tx, void *arg);
    void *arg;
} matcher_step_t;

//  Runs step: 404 for an id that is no match id, 403 for a key of an inactive org, then one
//  optimistic transaction per attempt (read and WATCH, answered or applied and written,
//  200 with the match as the caller sees it), retried on conflicts; 503 when Redis fails.
void matcher_step_run (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply, const matcher_step_t *step);

//  --------------------------------------------------------------------------------------
//  Relationships (matcher_relation.c)

//  True for the match-only states (suggested, interested): a proposal may join them.
bool matcher_state_matching (const char *state);
//  True when the parties see each other's contacts: connected, poc, contract, ended.
bool matcher_state_revealed (const char *state);
//  409 {"error":{"code":"conflict","state":state,...}}.
void matcher_conflict (oim_api_reply_t *reply, const char *state);
//  Sets "unread" for org on the rendered relationships (items) that have a thread
//  (matcher_message.c). 0, or -1 when Redis failed.
int matcher_rel_unread_add (matcher_store_t *self, json_t *items, const char *org);

#endif
