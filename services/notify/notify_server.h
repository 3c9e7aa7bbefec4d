/*  notify_server — the oim-notify daemon: its options, methods and hooks for the template
    (notify_server.c: the daemon and its jobs notify_events / notify_deliver / notify_mail;
    notify_api.c: the API handlers). The daemon's state (notify_state_t) belongs to the
    loop's thread; the handlers reach it through the accessors below.
*/
#ifndef NOTIFY_SERVER_H_INCLUDED
#define NOTIFY_SERVER_H_INCLUDED

#include "oim_service.h"
#include "notify_ssrf.h"
#include "notify_store.h"

extern const oim_service_def_t notify_service;

typedef struct _notify_state_t notify_state_t;

//  What the API handlers need from the daemon.
notify_store_t *notify_server_store (oim_service_t *service);
const notify_ssrf_t *notify_server_ssrf (oim_service_t *service);

//  API handlers (notify_api.c), one per gateway operation.
oim_api_fn notify_api_notification_list;
oim_api_fn notify_api_notification_read;
oim_api_fn notify_api_webhook_put;
oim_api_fn notify_api_webhook_get;
oim_api_fn notify_api_preferences_put;
oim_api_fn notify_api_preferences_get;
oim_api_fn notify_api_delivery_list;
oim_api_fn notify_api_delivery_retry;
oim_api_fn notify_api_webhook_test;      //  notify_ping.c

//  The list cursors, pure (notify_api.c). A notification list's cursor (a next_cursor: a
//  feed sequence, 1..2^64-1 in decimal digits) into the ZREVRANGEBYSCORE bound "(<n>", or
//  "+inf" when cursor is NULL or ""; a delivery list's (a "dlv" id) into the
//  ZREVRANGEBYLEX bound "(<id>", or "+". max: max_size bytes. Return 0, or -1 when cursor
//  is not one.
int notify_api_ntf_cursor (const char *cursor, char *max, size_t max_size);
int notify_api_dlv_cursor (const char *cursor, char *max, size_t max_size);

#endif
