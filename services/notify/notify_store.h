/*  notify_store — oim-notify's state in Redis: the Lua scripts that make each step atomic, and
    the JSON shapes the API and the webhooks show. No sockets other than the Redis connection
    the caller passes in; every key name comes from common/oim_keys.h.

    The steps (each one Lua script, so a crash between two steps loses nothing and a replay
    of a step changes nothing):
      notify_store_ingest   one Event -> Notification, inbox, unread, SSE feed stream entry,
                            webhook Delivery + due entry, e-mail job or digest entry
      notify_store_claim    lease due work (deliveries or mail jobs) for lease_ms
      notify_store_record_batch  webhook attempts' outcomes into the Delivery and its log
      notify_store_replay   a dead or disabled Delivery back to pending (POST .../retry)
      notify_store_cut_digest  an org's waiting digest entries -> one mail job
    Scripts are loaded lazily (SCRIPT LOAD) and run with EVALSHA; after a Redis restart
    (NOSCRIPT) they are loaded again transparently.
*/
#ifndef NOTIFY_STORE_H_INCLUDED
#define NOTIFY_STORE_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "oim_redis.h"
#include "notify.pb-c.h"

typedef struct _notify_store_t notify_store_t;

//  What a notification went to, per the org's preferences (notify_store_ingest's result).
typedef struct {
    bool stored;                //  false: the event was a replay, nothing was written
    uint64_t feed_sequence;     //  0 when the inbox channel is off for this type
    bool webhook;               //  a Delivery was created (its id is the dlv_id passed in)
    bool email;                 //  an instant e-mail job or a digest entry was queued
} notify_ingest_t;

notify_store_t *notify_store_new (void);
void notify_store_destroy (notify_store_t **self_p);

//  notify_store_ingest for count notifications at once (pipelined). Returns how many, from
//  the first, are done (results filled); the rest were not applied or their outcome is
//  unknown (Redis failed) — ingest them again later, which is harmless.
size_t notify_store_ingest_batch (notify_store_t *self, oim_redis_t *redis,
                                  const Oim__V1__Notification *const *notifications,
                                  const char *const *dlv_ids, size_t count, int64_t now_ms,
                                  notify_ingest_t *results);

//  Stores one notification (packed without feed_sequence; the script appends field 7 when
//  the org's inbox channel takes it) and schedules its deliveries, atomically; a second call
//  with the same id changes nothing. dlv_id is the id to give a webhook Delivery. Returns 0
//  with *result filled, or -1 when Redis failed (nothing or everything was written).
int notify_store_ingest (notify_store_t *self, oim_redis_t *redis,
                         const Oim__V1__Notification *notification, const char *dlv_id,
                         int64_t now_ms, notify_ingest_t *result);

//  Leases up to limit members of the due zset whose time has come, moving their score to
//  now_ms + lease_ms. Returns the reply (an array of members; caller frees) or NULL.
redisReply *notify_store_claim (notify_store_t *self, oim_redis_t *redis, const char *due_key,
                                int64_t now_ms, int64_t lease_ms, int limit);

//  Outcome of one webhook attempt, for notify_store_record_batch. outcome: "delivered",
//  "retry" (next_ms = when), "dead", "disabled" (also disables the org's endpoint if it still
//  has url). attempt = the packed DeliveryAttempt (attempt_size 0 = decided without an
//  attempt: nothing is logged or counted).
typedef struct {
    char dlv_id [48];
    char org_id [128];
    char url [2100];
    const char *outcome;            //  a static string
    uint8_t attempt [1024];
    size_t attempt_size;
    int64_t next_ms;
} notify_record_t;

//  Records outcomes (pipelined; each is one script, applied only while the delivery is
//  pending, so a stale result of a re-leased attempt is dropped). Returns how many Redis
//  applied; the others stay leased and are retried when their lease runs out.
size_t notify_store_record_batch (notify_store_t *self, oim_redis_t *redis,
                                  const notify_record_t *records, size_t count);

//  Re-queues a dead or disabled delivery. Returns "ok", or a reason: "not_found", "state",
//  "endpoint_disabled", "no_endpoint"; NULL when Redis failed.
const char *notify_store_replay (notify_store_t *self, oim_redis_t *redis, const char *dlv_id,
                                 const char *org_id);

//  Moves org's waiting digest entries into a mail job named job (a member of the mail due
//  zset, "d:<job key suffix>"). Returns the number of entries, or -1 when Redis failed.
int notify_store_cut_digest (notify_store_t *self, oim_redis_t *redis, const char *org_id,
                             const char *job_suffix, int64_t now_ms);

//  The notification JSON the API, webhooks and e-mails show:
//  {id, type, org_id, created_at, data, feed_sequence[, read]} (with_read adds read).
//  data is data_json parsed (a string if it is not JSON). Returns a new reference.
json_t *notify_store_notification_json (const Oim__V1__Notification *n, bool with_read, bool read);

//  Reads delivery dlv_id (hash + attempt log) as a new Delivery message (caller frees with
//  notify_store_delivery_free), or NULL if it does not exist or Redis failed
//  (*redis_failed tells which; may be NULL).
Oim__V1__Delivery *notify_store_delivery (oim_redis_t *redis, const char *dlv_id,
                                          bool *redis_failed);

//  Frees a Delivery made by notify_store_delivery.
void notify_store_delivery_free (Oim__V1__Delivery *delivery);

#endif
