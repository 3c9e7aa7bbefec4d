/*  notify_events — oim-notify's first job: events in, notifications out.

    Reads oim:events as consumer group "notify" (oim_stream_group) from the daemon's tick.
    An entry holds one Event ("e") or an EventBatch ("b": each of its events handled as if
    it were its own entry); an Event with N copies is handled as 1 + N Events (the copies'
    ids and recipients, the Event's type and data). Per Event one script stores the
    Notification (inbox, unread, SSE feed stream, feed_sequence) and schedules its
    deliveries per the org's preferences (notify_store_ingest_batch); an entry is XACKed
    only after the scripts of all its events ran. Entries a dead replica read but never
    acknowledged are taken over with XAUTOCLAIM once idle for event-claim-idle-ms. Each new
    Notification then goes out on the ZeroMQ PUB feed (best effort: subscribers detect gaps
    by feed_sequence and read the inbox API). oim:events is trimmed below what every group
    still needs, once older than event-retain-s.
*/
#ifndef NOTIFY_EVENTS_H_INCLUDED
#define NOTIFY_EVENTS_H_INCLUDED

#include "oim_service.h"
#include "notify_store.h"

typedef struct _notify_events_t notify_events_t;

//  Reads its options (feed-endpoint, event-claim-idle-ms, event-retain-s) from service's
//  configuration, connects the feed (a failure leaves it off, logged), registers its
//  metrics and creates the group when Redis is up. store is borrowed. NULL when out of
//  memory.
notify_events_t *notify_events_new (oim_service_t *service, notify_store_t *store);
void notify_events_destroy (notify_events_t **self_p);

//  One tick's work: new entries (at most a bounded number of events), own pending ones
//  after a failure, dead consumers' entries once a second, the trim.
void notify_events_tick (notify_events_t *self);

#endif
