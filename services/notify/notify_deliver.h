/*  notify_deliver — oim-notify's second job: webhook deliveries.

    Due deliveries (oim:dlv:due) are leased (score -> now + lease) and handed to the engine
    (notify_webhook, in its own mode: libcurl multi, its sockets in the engine's epoll set,
    whose one fd is a zloop poller, its timer a one-shot zloop timer). Each result is
    recorded, pipelined (attempt log, retry at notify_retry's next time, dead after the
    last, disabled on 410). A crash loses nothing: a leased delivery is retried when its
    lease runs out, with the same webhook-id (the notification id); a receiver may see it
    twice, never two ids.
*/
#ifndef NOTIFY_DELIVER_H_INCLUDED
#define NOTIFY_DELIVER_H_INCLUDED

#include "oim_service.h"
#include "notify_ssrf.h"
#include "notify_store.h"

typedef struct _notify_deliver_t notify_deliver_t;

//  Reads its options (webhook-*) from service's configuration, makes the engine and puts
//  it on service's loop, registers its metrics. store and ssrf are borrowed. NULL when an
//  option is bad or the engine could not be made (logged).
notify_deliver_t *notify_deliver_new (oim_service_t *service, notify_store_t *store,
                                      const notify_ssrf_t *ssrf);

//  Writes the outcomes not yet written, puts the deliveries still in the engine back to
//  due-now (so another replica, or our restart, need not wait for their lease), takes the
//  engine off the loop and frees everything. Accepts NULL.
void notify_deliver_destroy (notify_deliver_t **self_p);

//  One tick's work: leases due deliveries and hands them to the engine.
void notify_deliver_tick (notify_deliver_t *self);

#endif
