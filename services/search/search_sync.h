/*  search_sync — keeps a search index equal to the registry's state (the Clone pattern):
    a snapshot of every organization and demand in Redis, then the change log (Redis stream
    oim:changelog, changelog.proto) from the position the snapshot was taken at. Entries are
    applied idempotently by version, so an entry the snapshot already reflects is ignored.
    A change log trimmed past our position (a gap) means a new snapshot.

    What is indexed: active startups and companies (not agencies; pending, suspended and
    deleted organizations are removed), and every demand that is not deleted (its status is a
    facet). Confidential demands carry their owner and the startups connected with it (the
    ChangeEntry{connection} the matcher writes), who see them in full; members-only demands are
    hidden entirely from anonymous viewers and shown in full to every member (the agency, an
    active company or startup: search_server.c), as the registry's read paths do.
    The index version of a document is (entity version << 16) + connected count, so that a new
    connection re-indexes a demand whose own version did not change.
*/
#ifndef SEARCH_SYNC_H_INCLUDED
#define SEARCH_SYNC_H_INCLUDED

#include <pthread.h>
#include <stdbool.h>
#include "oim_redis.h"
#include "search_index.h"

typedef struct _search_sync_t search_sync_t;

//  Follows the change log into index (borrowed: the caller keeps and destroys it).
search_sync_t *search_sync_new (search_index_t *index);
void search_sync_destroy (search_sync_t **self_p);

//  Takes a snapshot into the (empty) index. Returns the number of documents indexed, or -1
//  when Redis failed (the index may then hold part of the snapshot: start over).
int search_sync_snapshot (search_sync_t *self, oim_redis_t *redis);

//  Applies up to max_entries new change-log entries, holding lock (when not NULL) for writing
//  while it changes the index (not while it waits for the entries; a confidential demand's
//  connections are read inside). Returns how many were read
//  (0 when none), -1 when Redis failed, -2 when the log has a gap (take a new snapshot).
int search_sync_poll (search_sync_t *self, oim_redis_t *redis, int max_entries,
                      pthread_rwlock_t *lock);

//  The stream position applied up to ("0-0" before anything).
const char *search_sync_position (search_sync_t *self);

#endif
