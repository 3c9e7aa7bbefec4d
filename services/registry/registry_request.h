/*  registry_request — what every request handler of the registry shares: the daemon state of
    the service, the actor of a request, If-Match, and the replies for a field error, an
    unreachable Redis and a missing entity (the store layer returns codes; these turn them
    into HTTP replies). Included by the handler modules only: the daemon definition
    (registry_server.c) depends on the handlers, and nothing depends back on it.
*/
#ifndef REGISTRY_REQUEST_H_INCLUDED
#define REGISTRY_REQUEST_H_INCLUDED

#include "registry.h"

//  The registry's state of a running service (made by the daemon's start).
registry_t *registry_of (oim_service_t *service);
//  The actor of request: its principal (an anonymous one when absent) and request id.
registry_actor_t registry_actor (const Oim__V1__ApiRequest *request);
bool registry_is (const registry_actor_t *actor, Oim__V1__Role role);
//  The role an organisation's keys and people act with: its kind's (agency, company, else
//  startup).
Oim__V1__Role registry_role_of_kind (const char *kind);
//  Parses an If-Match value: 0 when absent, the version, or -1 when malformed.
int64_t registry_if_match (const Oim__V1__ApiRequest *request);

//  Replies with err's status, code "invalid"/"unprocessable" and field.
void registry_reply_err (oim_api_reply_t *reply, const registry_err_t *err);
//  The 503 every handler gives when Redis does not answer.
void registry_reply_unavailable (oim_api_reply_t *reply);
//  The reply after a transaction (oim_redis_tx_exec's rc): status with body (consumed) when
//  rc is 0, 409 version_conflict when a WATCHed key changed (1), else 503.
void registry_reply_tx (oim_api_reply_t *reply, int rc, uint32_t status, json_t *body);

//  Loads the live (not deleted) entity named by the request's "id" path parameter
//  (registry_store_load_live: an id with id_prefix stored at key_format, WATCHed first when
//  watch is set). Returns it, or NULL with a 404 (naming `what`) or 503 set and the WATCH
//  released.
ProtobufCMessage *registry_load_live (registry_t *self, const Oim__V1__ApiRequest *request,
                                      const char *id_prefix, const char *key_format,
                                      const ProtobufCMessageDescriptor *descriptor,
                                      const char *what, bool watch, oim_api_reply_t *reply);

#endif
