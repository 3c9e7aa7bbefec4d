/*  oim_redis_tx — one Redis transaction builder for every daemon: commands collected as RESP
    (written in place, no per-argument copies), grouped and merged members, summed counters,
    then MULTI ... EXEC sent in one pipeline, with or without waiting for Redis to read it.

    One return convention for a transaction's outcome, everywhere:
         0  committed (EXEC ran every command)
         1  conflict: a WATCHed key changed, EXEC answered nil, nothing was applied
        -1  failed: Redis unreachable, the connection dropped, or Redis refused a command
            (logged once here; with a queueing error Redis applied nothing, with a runtime
            error inside EXEC the other commands were applied)
            or, on a connection with a wait set (oim_redis_set_wait), the WAIT sent right
            after EXEC found fewer replicas in time: then the transaction WAS applied on the
            master, unconfirmed, and oim_redis_unreplicated (redis) is true

    Optimistic concurrency: WATCH the keys read (oim_redis_tx_watch) on the same connection,
    read, build, then exec. Redis runs nothing of a transaction before its EXEC, so a
    transaction that is cut off (connection lost while writing) is discarded whole.

    Not thread-safe; a transaction is reusable after oim_redis_tx_reset (exec and finish
    reset it), keeping its buffers so that a daemon writing large batches does not reallocate.
*/
#ifndef OIM_REDIS_TX_H_INCLUDED
#define OIM_REDIS_TX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "oim_redis.h"

typedef struct _oim_redis_tx_t oim_redis_tx_t;

//  The outcomes of oim_redis_tx_exec / oim_redis_tx_finish.
#define OIM_REDIS_TX_COMMITTED   0
#define OIM_REDIS_TX_CONFLICT    1
#define OIM_REDIS_TX_FAILED     -1

//  A new, empty transaction; its time (oim_redis_tx_time_ms) is now. Never NULL (aborts on
//  no memory, like the rest of the builders).
oim_redis_tx_t *oim_redis_tx_new (void);
//  Destroys the transaction (NULL accepted) and nulls *self_p.
void oim_redis_tx_destroy (oim_redis_tx_t **self_p);
//  Empties the transaction for reuse (its time becomes now); keeps its buffers up to 16 MB.
void oim_redis_tx_reset (oim_redis_tx_t *self);
//  The wall clock (ms) when the transaction was made or last reset: one time for every entry
//  it writes (change log, audit).
int64_t oim_redis_tx_time_ms (oim_redis_tx_t *self);
//  0 exactly when nothing is queued (commands, grouped or merged members, counters).
size_t oim_redis_tx_size (oim_redis_tx_t *self);

//  WATCH key on redis (synchronous, before the transaction is built). 0, or -1 when Redis
//  failed or refused.
int oim_redis_tx_watch (oim_redis_t *redis, const char *key);
//  UNWATCH on redis (after a read that leads to no transaction); failures are ignored (a
//  dropped connection forgets its WATCHes).
void oim_redis_tx_unwatch (oim_redis_t *redis);

//  ---- Queued commands -------------------------------------------------------------------
//  Each command is queued after the ones before it and runs in that order.

//  Queues a command of argc arguments (copied into the transaction); lens NULL = every
//  argument is a null-terminated string.
void oim_redis_tx_add (oim_redis_tx_t *self, int argc, const char *const *argv,
                       const size_t *lens);
//  Queues a command of null-terminated strings, the list ended by NULL (at most 16).
void oim_redis_tx_strs (oim_redis_tx_t *self, const char *arg, ...);
//  Queues argv's argc strings followed by message packed (in place) as the last argument:
//  "SET key <msg>", "XADD stream * e <msg>".
void oim_redis_tx_packed (oim_redis_tx_t *self, int argc, const char *const *argv,
                          const ProtobufCMessage *message);

//  A command built argument by argument, beside the transaction (several can be open at
//  once: MSET, HSET, ZADD of one batch), then queued whole with oim_redis_tx_add_args.
//  Start it zeroed ({ 0 }); it owns a buffer until queued or cleared.
typedef struct {
    int argc;
    char *data;                     //  the arguments, in RESP
    size_t len, cap;
} oim_redis_args_t;

void oim_redis_args_add (oim_redis_args_t *args, const char *data, size_t len);
void oim_redis_args_str (oim_redis_args_t *args, const char *text);
void oim_redis_args_packed (oim_redis_args_t *args, const ProtobufCMessage *message);
//  Queues the command when it has more than its first `head` arguments (the command name
//  and key, say), then empties args (freeing its buffer) either way.
void oim_redis_tx_add_args (oim_redis_tx_t *self, oim_redis_args_t *args, int head);
//  Empties args without queueing it.
void oim_redis_args_clear (oim_redis_args_t *args);

//  ---- Grouped and merged members, counters ----------------------------------------------

//  "op key member...": appends argc arguments to the latest command on key when that is an
//  open group of the same op, else queues a new one and opens it. Any other command on key
//  closes the group (so the order of operations on a key is kept); a group also closes at
//  4,096 arguments, and at most 16 groups stay open. ZADD/ZREM/HSET of many members become
//  one command each, at the place of the group's first member.
void oim_redis_tx_group (oim_redis_tx_t *self, const char *op, const char *key, int argc,
                         const char *const *argv, const size_t *lens);
//  SADD key member, merged: one SADD per key for the whole transaction, written when it is
//  sealed (or merged), keys in the order first queued, members in the order queued; a
//  member queued again right after itself for its key is written once. Only for keys the
//  transaction changes in no other way.
void oim_redis_tx_sadd (oim_redis_tx_t *self, const char *key, const char *member);
//  HINCRBY key field delta, summed per (key, field) and written when the transaction is
//  sealed (or merged), fields in the order first counted; a sum of 0 writes nothing.
void oim_redis_tx_hincrby (oim_redis_tx_t *self, const char *key, const char *field,
                           int delta);
//  Writes the summed counters and merged SADDs as commands now (sealing does it otherwise):
//  for a caller whose last commands must follow them.
void oim_redis_tx_merge (oim_redis_tx_t *self);

//  ---- Running it ------------------------------------------------------------------------

//  Seals (merges, EXEC), writes the whole transaction, reads every reply. Returns 0
//  committed, 1 conflict, -1 failed (see the top). Resets the transaction either way.
int oim_redis_tx_exec (oim_redis_tx_t *self, oim_redis_t *redis);
//  The same in two halves, so the caller computes while Redis reads and runs the
//  transaction: oim_redis_tx_send seals it and writes what the connection takes now, without
//  waiting (0, or -1 when the connection failed); oim_redis_tx_write writes more (all of it
//  when block) — optional; oim_redis_tx_finish (sent = what send returned) writes the rest,
//  reads the replies and returns as oim_redis_tx_exec, resetting the transaction. Nothing
//  else may use the connection in between.
int oim_redis_tx_send (oim_redis_tx_t *self, oim_redis_t *redis);
int oim_redis_tx_write (oim_redis_tx_t *self, oim_redis_t *redis, bool block);
int oim_redis_tx_finish (oim_redis_tx_t *self, oim_redis_t *redis, int sent);
//  Seals the transaction without sending it (merges, appends EXEC; once). For inspection:
//  oim_redis_tx_resp returns the whole pipeline MULTI ... EXEC as RESP (*len bytes).
void oim_redis_tx_seal (oim_redis_tx_t *self);
const char *oim_redis_tx_resp (oim_redis_tx_t *self, size_t *len);

#endif
