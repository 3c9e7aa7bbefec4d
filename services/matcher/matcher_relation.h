/*  matcher_relation — the relationship handlers (matcher_relation.c): proposals, accept,
    decline, outcomes and the relationship list. The record is the pair's match.
*/
#ifndef MATCHER_RELATION_H_INCLUDED
#define MATCHER_RELATION_H_INCLUDED

#include "matcher_store.h"
#include "oim_api.h"

//  POST /v1/demands/{id}/proposals {message}: a startup that sees the open demand.
void matcher_store_rel_propose (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                                oim_api_reply_t *reply);
//  POST /v1/relationships/{id}/accept, /decline {reason}: the company, from proposed.
void matcher_store_rel_accept (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                               oim_api_reply_t *reply);
void matcher_store_rel_decline (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                                oim_api_reply_t *reply);
//  POST /v1/relationships/{id}/outcome {state: poc|contract|ended, reason}: either party.
void matcher_store_rel_outcome (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                                oim_api_reply_t *reply);
//  GET /v1/relationships?demand_id=|org_id= (default: the caller's org): {items, next_cursor}.
void matcher_store_rel_list (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                             oim_api_reply_t *reply);

//  matcher_message.c: POST /v1/relationships/{id}/messages {text}, GET (thread + unread),
//  POST /v1/relationships/{id}/read (the caller has read the thread).
void matcher_store_rel_message_post (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                                     oim_api_reply_t *reply);
void matcher_store_rel_message_list (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                                     oim_api_reply_t *reply);
void matcher_store_rel_message_read (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                                     oim_api_reply_t *reply);

#endif
