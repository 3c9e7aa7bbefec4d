/*  oim_keys — the one place that names Redis keys. Every key is "oim:<what>[:<id>]".
    Formats take printf arguments; build them with snprintf into OIM_KEY_SIZE buffers.
*/
#ifndef OIM_KEYS_H_INCLUDED
#define OIM_KEYS_H_INCLUDED

#define OIM_KEY_SIZE 160

//  Streams (see proto/changelog.proto and proto/notify.proto)
#define OIM_STREAM_CHANGELOG    "oim:changelog"         //  registry change log
#define OIM_STREAM_EVENTS       "oim:events"            //  notifications to deliver
#define OIM_STREAM_AUDIT        "oim:audit"             //  audit log (AuditEntry)

//  An organization's live notification feed: a stream (MAXLEN ~10000) whose entries have one
//  field "n" = Notification (notify.proto). Written by oim-notify when it stores a
//  notification; read by the gateway for GET /v1/notifications/stream (Server-Sent Events,
//  the entry id is the SSE event id, so Last-Event-ID resumes exactly).
#define OIM_KEY_FEED            "oim:feed:%s"

//  API keys: value = ApiKeyRecord (registry.proto); written by the registry, read by the
//  gateway on every authenticated request. The hash is SHA-256 of the key, in hex.
#define OIM_KEY_APIKEY          "oim:apikey:%s"

//  Entities: value = the entity's protobuf (registry.proto, matcher.proto)
#define OIM_KEY_ORG             "oim:org:%s"
#define OIM_KEY_DEMAND          "oim:demand:%s"
#define OIM_KEY_SAVED_SEARCH    "oim:ss:%s"
#define OIM_KEY_PUBLISHER       "oim:publisher:%s"
#define OIM_KEY_MATCH           "oim:match:%s"

//  Registry indexes and bookkeeping (services/registry; all written only by the registry, in
//  the same MULTI/EXEC as the entity they describe, unless said otherwise).
#define OIM_KEY_ORG_APIKEY      "oim:org:%s:apikey"     //  string: SHA-256 hex of the org's key
#define OIM_KEY_ORGS            "oim:orgs"              //  zset (score 0, by id): live orgs
#define OIM_KEY_AGENCIES        "oim:agencies"          //  set: live agency org ids (bootstrap)
#define OIM_KEY_BIZNO           "oim:bizno:%s"          //  string: 10-digit business no. -> org id
#define OIM_KEY_DEMANDS         "oim:demands"           //  zset (score 0, by id): live demands
#define OIM_KEY_ORG_DEMANDS     "oim:org:%s:demands"    //  zset (score 0, by id): an org's demands
#define OIM_KEY_DEMANDS_CLOSING "oim:demands:closing"   //  zset: open demand id, score closes_at ms
//  set of startup org ids the demand's owner is connected with: WRITTEN BY THE MATCHER when a
//  match becomes "connected", together with a ChangeEntry{connection} (changelog.proto); the
//  registry reads it to show confidential demands in full, search to index them for them.
#define OIM_KEY_DEMAND_CONNECTED "oim:demand:%s:connected"
#define OIM_KEY_SOURCE_DEMANDS  "oim:source:%s:demands" //  hash: external_id -> demand id
#define OIM_KEY_SOURCE_PUBLISHER "oim:source:%s:publisher"  //  string: source_system -> pub id
#define OIM_KEY_PUBLISHER_APIKEY "oim:publisher:%s:apikey"  //  string: SHA-256 hex of its key
#define OIM_KEY_PUBLISHERS      "oim:publishers"        //  zset (score 0, by id)
#define OIM_KEY_SAVED_SEARCHES  "oim:saved_searches"    //  zset (score 0, by id): live ones
#define OIM_KEY_ORG_SAVED_SEARCHES "oim:org:%s:ss"      //  zset (score 0, by id): an org's
#define OIM_KEY_STATS           "oim:stats"             //  hash: counters, e.g. "org:startup:active"

#endif
