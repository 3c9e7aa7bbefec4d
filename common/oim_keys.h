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

//  API keys: value = ApiKeyRecord (registry.proto); written by the registry, read by the
//  gateway on every authenticated request. The hash is SHA-256 of the key, in hex.
#define OIM_KEY_APIKEY          "oim:apikey:%s"

//  Entities: value = the entity's protobuf (registry.proto, matcher.proto)
#define OIM_KEY_ORG             "oim:org:%s"
#define OIM_KEY_DEMAND          "oim:demand:%s"
#define OIM_KEY_SAVED_SEARCH    "oim:ss:%s"
#define OIM_KEY_PUBLISHER       "oim:publisher:%s"
#define OIM_KEY_MATCH           "oim:match:%s"

#endif
