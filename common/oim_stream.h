/*  oim_stream — reading Redis streams the two ways the daemons do: stream ids, a follower
    (the Clone pattern: a snapshot, then the stream from the snapshot's position, and a new
    snapshot when the stream was trimmed past that position) and a consumer group (each
    entry handled by one consumer, acknowledged after its effects are written; a dead
    consumer's entries taken over).

    No loop and no thread inside: the daemons drive both from their own zloop tick, one
    call at a time, on the oim_redis connection they pass (borrowed). Calls that append
    to a pipeline come in halves (ask / take, append / take) so a caller can put other
    commands in the same round trip and compute while Redis answers (the matcher does).
    Replies handed out are owned by the caller (freeReplyObject) unless said otherwise.
*/
#ifndef OIM_STREAM_H_INCLUDED
#define OIM_STREAM_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "oim_redis.h"

//  ---------------------------------------------------------------------------------------
//  Stream ids ("<ms>-<seq>")

typedef struct {
    uint64_t ms, seq;
} oim_stream_id_t;

#define OIM_STREAM_ID_SIZE 48       //  "<20 digits>-<20 digits>" and the NUL

//  Parses text into *id. A bare "<ms>" reads as seq 0, as Redis does. Returns 0, or -1 when
//  text is NULL or not an id (*id then 0-0).
int oim_stream_id_parse (const char *text, oim_stream_id_t *id);

//  <0, 0, >0 as a is before, equal to, after b. Text that is not an id counts as 0-0.
int oim_stream_id_compare (oim_stream_id_t a, oim_stream_id_t b);
int oim_stream_id_cmp (const char *a, const char *b);

//  The value of field name in an XINFO reply (name, value, name, value...), or NULL.
//  Borrowed from info.
const redisReply *oim_stream_info_field (const redisReply *info, const char *name);

//  The entry array ([id, fields]...) of an XREAD / XREADGROUP reply for one stream, or
//  NULL when the reply holds none (nil, an error, no stream). Borrowed from reply.
redisReply *oim_stream_entries (const redisReply *reply);

//  ---------------------------------------------------------------------------------------
//  Follower: snapshot, then follow, and a gap (the stream trimmed past the position) means
//  a new snapshot. The caller's snapshot: oim_stream_follower_mark first (the position is
//  the stream's last entry: whatever changes after it is in the stream), then the state,
//  then polls. Entries the snapshot already reflects come again; the caller applies them
//  idempotently (by version).
//  Gap rule: every read asks in the same pipeline for XINFO STREAM (read after the XREAD,
//  so it shows any trim the XREAD saw); entries were removed (entries-added > length) and
//  the first entry left is after the position. The entry right after the position being
//  exactly the first one left counts as a gap too: a snapshot more, never an entry missed.
//  After a failover (issue 18) the new master may lack entries the follower applied: the
//  stream's last-generated-id behind the position is a gap, and the first read on a new
//  connection (oim_redis_epoch) also asks for the entry at the position: missing = a gap.

typedef struct _oim_stream_follower_t oim_stream_follower_t;

//  Applies one entry: id and its field array (name, value, ...), both borrowed for the call.
typedef void (oim_stream_apply_fn) (void *arg, const char *id, const redisReply *fields);

//  A follower of stream (copied), at position "0-0". NULL when out of memory.
oim_stream_follower_t *oim_stream_follower_new (const char *stream);
void oim_stream_follower_destroy (oim_stream_follower_t **self_p);

//  The last id applied ("0-0" before anything).
const char *oim_stream_follower_position (oim_stream_follower_t *self);

//  True once a read found a gap: nothing more is applied until the next mark / reset.
bool oim_stream_follower_gap (oim_stream_follower_t *self);

//  Back to "0-0" with no gap (the caller drops its state for a new snapshot).
void oim_stream_follower_reset (oim_stream_follower_t *self);

//  The start of a snapshot: the position becomes the stream's last id ("0-0" when empty),
//  the gap is cleared. Returns 0, or -1 when Redis failed (nothing changed).
int oim_stream_follower_mark (oim_stream_follower_t *self, oim_redis_t *redis);

//  Appends "XREAD COUNT count" from the position and "XINFO STREAM" to redis' pipeline
//  (not flushed). Returns 0 or -1 (not connected).
int oim_stream_follower_ask (oim_stream_follower_t *self, oim_redis_t *redis, int count);

//  Reads the two replies asked for and applies their entries in order through apply,
//  moving the position past each. Returns the number applied, -1 when Redis failed (the
//  position stays), -2 when there is a gap (found now or earlier; nothing applied).
int oim_stream_follower_take (oim_stream_follower_t *self, oim_redis_t *redis,
                              oim_stream_apply_fn *apply, void *arg);

//  ask + take: applies up to count entries. Returns as take.
int oim_stream_follower_poll (oim_stream_follower_t *self, oim_redis_t *redis, int count,
                              oim_stream_apply_fn *apply, void *arg);

//  ---------------------------------------------------------------------------------------
//  Consumer group: each entry goes to one consumer, which acknowledges it (XACK) after its
//  effects are written. A consumer that failed to handle entries calls
//  oim_stream_group_retry: its next reads re-read its own pending entries ("0") until they
//  are all handled, then read new ones (">"). Entries pending on a dead consumer for
//  claim_idle_ms are taken over with XAUTOCLAIM (oim_stream_group_claim, at most once per
//  claim period). A group found missing (NOGROUP: the stream was deleted) is created again
//  by the next oim_stream_group_ensure.

typedef struct _oim_stream_group_t oim_stream_group_t;

//  stream, group and consumer are copied. claim_every_ms = how often claim is due (>= 0).
//  NULL when out of memory.
oim_stream_group_t *oim_stream_group_new (const char *stream, const char *group,
                                          const char *consumer, int64_t claim_idle_ms,
                                          int64_t claim_every_ms);
void oim_stream_group_destroy (oim_stream_group_t **self_p);

const char *oim_stream_group_stream (oim_stream_group_t *self);
const char *oim_stream_group_name (oim_stream_group_t *self);

//  Creates the group (XGROUP CREATE <stream> <group> 0 MKSTREAM; one that exists is fine)
//  unless it is known to exist on this connection. After a reconnect (oim_redis_epoch
//  changed, or the connection is down: maybe a failover to a master that missed the group
//  or our last XACKs) it is created again if missing and the consumer retries (own pending
//  entries first). Returns true when it exists; false when Redis failed or refused (logged).
bool oim_stream_group_ensure (oim_stream_group_t *self, oim_redis_t *redis);

//  Own pending entries first, from the next read on (after entries could not be handled).
void oim_stream_group_retry (oim_stream_group_t *self);
//  True while reads return our own pending entries.
bool oim_stream_group_retrying (oim_stream_group_t *self);

//  Appends an XREADGROUP of up to count entries, own pending ones while retrying, else new
//  ones, to redis' pipeline (not flushed). Returns 0 or -1.
int oim_stream_group_append (oim_stream_group_t *self, oim_redis_t *redis, int count);

//  Judges an XREADGROUP reply (reply may be NULL: Redis failed; borrowed): *entries (may be
//  NULL) gets its entry array. A read of own pending entries that found none ends retrying.
//  Returns the number of entries, -1 when Redis failed or answered an error (logged), -2 on
//  NOGROUP (the group is created again by the next ensure).
int oim_stream_group_judge (oim_stream_group_t *self, const redisReply *reply,
                            redisReply **entries);

//  append + read the reply into *reply_p (caller frees; NULL when Redis failed) + judge.
int oim_stream_group_read (oim_stream_group_t *self, oim_redis_t *redis, int count,
                           redisReply **reply_p, redisReply **entries);

//  True (and the next one a claim period away) when a claim is due.
bool oim_stream_group_claim_due (oim_stream_group_t *self);

//  XAUTOCLAIMs, for this consumer, up to count entries pending on any consumer for
//  claim_idle_ms or longer. *reply_p gets the reply (caller frees), *entries its entry
//  array. Returns the number of entries taken over, or -1 when Redis failed.
int oim_stream_group_claim (oim_stream_group_t *self, oim_redis_t *redis, int count,
                            redisReply **reply_p, redisReply **entries);

//  Acknowledges n entries by id in one XACK (n == 0: nothing), after oim_redis_wait: with a
//  wait set on redis, only once the writes made before on this connection are confirmed by
//  the replicas. Returns 0, or -1 when Redis failed or the WAIT fell short (the entries stay
//  pending, to be handled again).
int oim_stream_group_ack (oim_stream_group_t *self, oim_redis_t *redis,
                          const char *const *ids, size_t n);

//  Every start of a daemon is a new consumer name: removes consumers other than this one
//  that hold no entries and have been idle for idle_ms (XINFO CONSUMERS, XGROUP
//  DELCONSUMER; each logged). Returns how many were removed, -1 when Redis failed.
int oim_stream_group_forget (oim_stream_group_t *self, oim_redis_t *redis, int64_t idle_ms);

#endif
