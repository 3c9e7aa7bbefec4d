/*  search_sync — see search_sync.h. */
#include "search_sync.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "oim_stream.h"
#include "changelog.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 500

struct _search_sync_t {
    search_index_t *index;
    oim_stream_follower_t *follower;
    oim_redis_t *redis;             //  during a poll: for a connection's demand
    pthread_rwlock_t *lock;         //  during a poll: taken at the first entry, or NULL
    bool locked;
};

search_sync_t *
search_sync_new (search_index_t *index)
{
    search_sync_t *self = calloc (1, sizeof *self);
    if (self) {
        self->index = index;
        self->follower = oim_stream_follower_new (OIM_STREAM_CHANGELOG);
        if (!self->follower)
            search_sync_destroy (&self);
    }
    return self;
}

void
search_sync_destroy (search_sync_t **self_p)
{
    if (self_p && *self_p) {
        oim_stream_follower_destroy (&(*self_p)->follower);
        free (*self_p);
        *self_p = NULL;
    }
}

const char *
search_sync_position (search_sync_t *self)
{
    return oim_stream_follower_position (self->follower);
}

//  Industry facet values: the codes, each division ("C26") with its section ("C") as its
//  parent (search_doc_t.facet_parents), so that a section counts the docs of its divisions
//  and a filter on it finds them. parents [i] points into sections [i]. Returns n.
static size_t
s_industries (char **codes, size_t n, const char **parents, char (*sections) [2])
{
    for (size_t i = 0; i < n; i++) {
        sections [i][0] = codes [i][0];
        sections [i][1] = 0;
        parents [i] = strlen (codes [i]) > 1? sections [i]: NULL;
    }
    return n;
}

static void
s_apply_org (search_sync_t *self, const Oim__V1__Organization *org)
{
    uint64_t version = (uint64_t) org->version << 16;
    bool company = strcmp (org->kind, "company") == 0;
    if (org->deleted || strcmp (org->status, "active") != 0
    ||  (!company && strcmp (org->kind, "startup") != 0)) {
        search_index_remove (self->index, org->id, version);
        return;
    }
    char title [1024];
    snprintf (title, sizeof title, "%s%s%s", org->name, *org->name_en? " ": "", org->name_en);
    const char *parents [SEARCH_MAX_FACET_VALUES];
    char sections [SEARCH_MAX_FACET_VALUES][2];
    size_t n_ind = org->n_industries < SEARCH_MAX_FACET_VALUES? org->n_industries: SEARCH_MAX_FACET_VALUES;
    const char *region = org->region, *stage = org->stage, *status = org->status;
    search_doc_t doc = {
        .id = org->id, .version = version,
        .type = company? SEARCH_TYPE_COMPANY: SEARCH_TYPE_STARTUP,
        .title = title, .body = org->description,
        .tags = (const char *const *) org->tags, .tag_count = org->n_tags };
    doc.facets [SEARCH_FACET_INDUSTRY] = (const char *const *) org->industries;
    doc.facet_counts [SEARCH_FACET_INDUSTRY] = s_industries (org->industries, n_ind, parents, sections);
    doc.facet_parents [SEARCH_FACET_INDUSTRY] = parents;
    doc.facets [SEARCH_FACET_REGION] = &region;
    doc.facet_counts [SEARCH_FACET_REGION] = *region? 1: 0;
    doc.facets [SEARCH_FACET_STAGE] = &stage;
    doc.facet_counts [SEARCH_FACET_STAGE] = *stage? 1: 0;
    doc.facets [SEARCH_FACET_STATUS] = &status;
    doc.facet_counts [SEARCH_FACET_STATUS] = 1;
    if (search_index_add (self->index, &doc) < 0)
        oim_warn ("event=index_add_failed id=%s", org->id);
}

//  The startups connected with a demand's owner (SMEMBERS). Returns the reply (caller frees)
//  or NULL.
static redisReply *
s_connected (oim_redis_t *redis, const char *demand_id)
{
    redisReply *reply = oim_redis_command (redis, "SMEMBERS " OIM_KEY_DEMAND_CONNECTED, demand_id);
    if (reply && reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject (reply);
        reply = NULL;
    }
    return reply;
}

static void
s_apply_demand (search_sync_t *self, const Oim__V1__Demand *demand, oim_redis_t *redis)
{
    bool restricted = strcmp (demand->visibility, "confidential") == 0;
    redisReply *connected = restricted? s_connected (redis, demand->id): NULL;
    size_t n_connected = connected? connected->elements: 0;
    uint64_t version = ((uint64_t) demand->version << 16) + (n_connected > 0xFFFF? 0xFFFF: n_connected);
    //  A demand in the agency's review (issue 17: "pending_review", "returned") is not public
    //  yet: out of the index like a deleted one until it is approved.
    bool in_review = strcmp (demand->status, "pending_review") == 0
                  || strcmp (demand->status, "returned") == 0;
    if (demand->deleted || in_review) {
        search_index_remove (self->index, demand->id, version);
        if (connected)
            freeReplyObject (connected);
        return;
    }
    const char **allowed = calloc (n_connected + 1, sizeof *allowed);
    for (size_t i = 0; i < n_connected && i < SEARCH_MAX_ALLOWED_ORGS; i++)
        allowed [i] = connected->element [i]->str;
    const char *parents [SEARCH_MAX_FACET_VALUES];
    char sections [SEARCH_MAX_FACET_VALUES][2];
    size_t n_ind = demand->n_industries < SEARCH_MAX_FACET_VALUES? demand->n_industries: SEARCH_MAX_FACET_VALUES;
    const char *status = demand->status;
    search_doc_t doc = {
        .id = demand->id, .version = version, .type = SEARCH_TYPE_DEMAND,
        .title = demand->title, .body = demand->description,
        .tags = (const char *const *) demand->tags, .tag_count = demand->n_tags,
        .confidential = restricted, .owner_org = demand->org_id,
        .members_only = strcmp (demand->visibility, "members") == 0,
        .allowed_orgs = allowed,
        .allowed_count = n_connected < SEARCH_MAX_ALLOWED_ORGS? n_connected: SEARCH_MAX_ALLOWED_ORGS };
    doc.facets [SEARCH_FACET_INDUSTRY] = (const char *const *) demand->industries;
    doc.facet_counts [SEARCH_FACET_INDUSTRY] = s_industries (demand->industries, n_ind, parents, sections);
    doc.facet_parents [SEARCH_FACET_INDUSTRY] = parents;
    doc.facets [SEARCH_FACET_REGION] = (const char *const *) demand->regions;
    doc.facet_counts [SEARCH_FACET_REGION] = demand->n_regions;
    doc.facets [SEARCH_FACET_STAGE] = (const char *const *) demand->stages;
    doc.facet_counts [SEARCH_FACET_STAGE] = demand->n_stages;
    doc.facets [SEARCH_FACET_COLLABORATION] = (const char *const *) demand->collaboration;
    doc.facet_counts [SEARCH_FACET_COLLABORATION] = demand->n_collaboration;
    doc.facets [SEARCH_FACET_STATUS] = &status;
    doc.facet_counts [SEARCH_FACET_STATUS] = 1;
    if (search_index_add (self->index, &doc) < 0)
        oim_warn ("event=index_add_failed id=%s", demand->id);
    free (allowed);
    if (connected)
        freeReplyObject (connected);
}

//  A new connection: re-index the demand with its connected startups.
static void
s_apply_connection (search_sync_t *self, const Oim__V1__Connection *connection, oim_redis_t *redis)
{
    redisReply *reply = oim_redis_command (redis, "GET " OIM_KEY_DEMAND, connection->demand_id);
    Oim__V1__Demand *demand = reply && reply->type == REDIS_REPLY_STRING
        ? oim__v1__demand__unpack (NULL, reply->len, (uint8_t *) reply->str): NULL;
    if (demand) {
        s_apply_demand (self, demand, redis);
        oim__v1__demand__free_unpacked (demand, NULL);
    }
    if (reply)
        freeReplyObject (reply);
}

static void
s_apply (search_sync_t *self, const Oim__V1__ChangeEntry *entry, oim_redis_t *redis)
{
    switch (entry->entity_case) {
        case OIM__V1__CHANGE_ENTRY__ENTITY_ORG:
            s_apply_org (self, entry->org);
            break;
        case OIM__V1__CHANGE_ENTRY__ENTITY_DEMAND:
            s_apply_demand (self, entry->demand, redis);
            break;
        case OIM__V1__CHANGE_ENTRY__ENTITY_CONNECTION:
            s_apply_connection (self, entry->connection, redis);
            break;
        default:        //  saved searches, publishers: nothing to index
            break;
    }
}

//  Indexes every entity listed in an id zset (oim:orgs, oim:demands), in pipelined batches.
static int
s_snapshot_set (search_sync_t *self, oim_redis_t *redis, const char *set, bool demands)
{
    redisReply *ids = oim_redis_command (redis, "ZRANGE %s 0 -1", set);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject (ids);
        return -1;
    }
    int count = 0;
    for (size_t start = 0; start < ids->elements; start += BATCH) {
        size_t end = start + BATCH < ids->elements? start + BATCH: ids->elements;
        for (size_t i = start; i < end; i++)
            oim_redis_append (redis, demands? "GET " OIM_KEY_DEMAND: "GET " OIM_KEY_ORG,
                              ids->element [i]->str);
        for (size_t i = start; i < end; i++) {
            redisReply *reply = oim_redis_reply (redis);
            if (!reply) {
                freeReplyObject (ids);
                return -1;
            }
            if (reply->type == REDIS_REPLY_STRING) {
                ProtobufCMessage *m = protobuf_c_message_unpack (
                    demands? &oim__v1__demand__descriptor: &oim__v1__organization__descriptor,
                    NULL, reply->len, (uint8_t *) reply->str);
                if (m && demands)
                    s_apply_demand (self, (Oim__V1__Demand *) m, redis);
                else
                if (m)
                    s_apply_org (self, (Oim__V1__Organization *) m);
                if (m) {
                    protobuf_c_message_free_unpacked (m, NULL);
                    count++;
                }
            }
            freeReplyObject (reply);
        }
    }
    freeReplyObject (ids);
    return count;
}

int
search_sync_snapshot (search_sync_t *self, oim_redis_t *redis)
{
    //  The position first: whatever changes after it is in the log and applied afterwards.
    if (oim_stream_follower_mark (self->follower, redis))
        return -1;
    int orgs = s_snapshot_set (self, redis, OIM_KEY_ORGS, false);
    int demands = orgs < 0? -1: s_snapshot_set (self, redis, OIM_KEY_DEMANDS, true);
    if (demands < 0)
        return -1;
    search_index_settle (self->index);
    oim_info ("event=snapshot orgs=%d demands=%d position=%s", orgs, demands,
              search_sync_position (self));
    return orgs + demands;
}

//  Applies one change-log entry (oim_stream_apply_fn), taking the lock at the first one.
static void
s_apply_entry (void *arg, const char *id, const redisReply *fields)
{
    search_sync_t *self = arg;
    if (self->lock && !self->locked) {
        pthread_rwlock_wrlock (self->lock);
        self->locked = true;
    }
    for (size_t f = 0; f + 1 < fields->elements; f += 2)
        if (strcmp (fields->element [f]->str, "e") == 0) {
            Oim__V1__ChangeEntry *change = oim__v1__change_entry__unpack (
                NULL, fields->element [f + 1]->len, (uint8_t *) fields->element [f + 1]->str);
            if (change) {
                s_apply (self, change, self->redis);
                oim__v1__change_entry__free_unpacked (change, NULL);
            }
            else
                oim_warn ("event=bad_change_entry id=%s", id);
        }
}

int
search_sync_poll (search_sync_t *self, oim_redis_t *redis, int max_entries,
                  pthread_rwlock_t *lock)
{
    self->redis = redis;
    self->lock = lock;
    self->locked = false;
    int count = oim_stream_follower_poll (self->follower, redis, max_entries, s_apply_entry, self);
    if (count > 0)
        search_index_settle (self->index);
    if (self->locked)
        pthread_rwlock_unlock (lock);
    self->redis = NULL;
    self->lock = NULL;
    return count;
}
