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
    char *spare_cmds;               //  a finished transaction's buffers, for the next one
    size_t spare_cmds_cap;
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
//  A transaction: commands collected (formatted), then sent as MULTI ... EXEC in one
//  pipeline.
//
//  The transaction's events are not commands of their own: they are collected as the
//  records of an EventBatch (field 1: tag 0x0A, varint length, the packed Event) and written
//  by matcher_tx_exec as one XADD oim:events * b <EventBatch> per BATCH_EVENTS recipients ("e"
//  when an entry would hold a single event). Redis then stores one stream entry where it
//  stored one per event (~38 per demand): per-command cost was most of Redis' work.
typedef struct {
    matcher_text_t cmds;                  //  MULTI and the commands, in RESP
    size_t count;                   //  how many
    bool sealed;                    //  complete: MULTI ... EXEC
    size_t written;                 //  bytes of cmds written to Redis (once sealed)
    uint8_t *ev;                    //  the EventBatch records, back to back
    size_t ev_len, ev_cap;
    size_t *ev_at;                  //  where each record starts in ev
    uint8_t *ev_head;               //  each record's tag + length bytes
    size_t *ev_recipients;          //  each record's recipients: 1 + the Event's copies
    size_t ev_count, ev_slots;
    matcher_text_t members;               //  SADDs to organizations' sets: "key\0member\0"...
    size_t *member_at;              //  where each pair starts in members
    size_t member_count, member_slots;
} matcher_tx_t;

//  A command being built argument by argument (its arguments formatted as they come; the
//  head, which needs the count, at the flush).
typedef struct {
    int argc;
    matcher_text_t body;
} matcher_argv_t;

//  One demand's match writes, merged: MSET of the matches, one HSET of its pair index, one
//  ZADD and one ZREM of its top set; the organizations' sets (s_tx_members) go through
//  matcher_tx_member, one SADD per set for the whole transaction. The same
//  keys and values as matcher_tx_match for each, in a few commands.
typedef struct {
    matcher_argv_t mset, hset, zadd, zrem;
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
//  Text and RESP (matcher_tx.c)

//  Makes room for len more bytes of t; returns where they go (the caller writes them, then
//  adds len to t->len and terminates).
char *matcher_text_reserve (matcher_text_t *t, size_t len);
void matcher_text_add (matcher_text_t *t, const char *data, size_t len);
//  A decimal integer into buf (24 bytes): what "%lld" prints.
void matcher_int_text (long long value, char *buf);
//  Argument of argument-by-argument commands (matcher_argv_t): a string, a packed message.
void matcher_argv_str (matcher_argv_t *a, const char *text);
void matcher_argv_packed (matcher_argv_t *a, const ProtobufCMessage *msg);
//  Queues the command when it has more than its first `head` arguments, then empties a.
void matcher_argv_flush (matcher_tx_t *tx, matcher_argv_t *a, int head);

//  --------------------------------------------------------------------------------------
//  Transactions (matcher_tx.c)

//  Queues a command; len NULL = the arguments are strings.
void matcher_tx_add (matcher_tx_t *tx, int argc, const char *const *argv, const size_t *len);
//  Queues a command of 2 to 4 string arguments (c, d NULL when absent).
void matcher_tx_strs (matcher_tx_t *tx, const char *a, const char *b, const char *c, const char *d);
//  Queues "cmd key [a b] <msg packed>".
void matcher_tx_packed (matcher_tx_t *tx, const char *cmd, const char *key, const char *a,
                        const char *b, const ProtobufCMessage *msg);
//  Queues an event (copied: the caller keeps event) for the transaction's EventBatch.
void matcher_tx_event_add (matcher_tx_t *tx, const Oim__V1__Event *event);
//  Queues "SADD <key> <member>" for an organization's set (merged per key at the seal).
void matcher_tx_member (matcher_tx_t *tx, const char *key, const char *member);
//  Starts tx with the store's spare buffers (empty); matcher_tx_done clears it, keeping its
//  buffers as the store's spares when they are the larger ones.
void matcher_tx_init (matcher_store_t *self, matcher_tx_t *tx);
void matcher_tx_done (matcher_store_t *self, matcher_tx_t *tx);
//  Completes the transaction: its merged SADDs, its events' XADDs, EXEC (once).
void matcher_tx_seal (matcher_tx_t *tx);
//  Writes more of a sealed transaction: what the connection takes now (block false), or
//  the rest. 0, or -1 when Redis failed.
int matcher_tx_write (oim_redis_t *redis, matcher_tx_t *tx, bool block);
//  Seals the transaction and writes what the connection takes now, without waiting for
//  Redis to read the rest (matcher_tx_write writes more, matcher_tx_finish all). Redis runs
//  nothing of it before EXEC: it gets the whole transaction, or, when the connection fails,
//  discards it. 0, or -1 when Redis failed.
int matcher_tx_send (oim_redis_t *redis, matcher_tx_t *tx);
//  Completes a transaction matcher_tx_send started (sent: what it returned): writes the rest,
//  reads the replies. 1 committed, 0 a WATCHed key changed (EXEC nil, counted as a
//  conflict), -1 Redis failed. Clears tx either way.
int matcher_tx_finish (matcher_store_t *self, oim_redis_t *redis, matcher_tx_t *tx, int sent);
//  Runs the transaction on the store's connection: matcher_tx_send + matcher_tx_finish.
int matcher_tx_exec (matcher_store_t *self, matcher_tx_t *tx);
//  UNWATCH on a connection (matcher_store_unwatch: the store's).
void matcher_unwatch_on (oim_redis_t *redis);
void matcher_store_unwatch (matcher_store_t *self);

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

#endif
