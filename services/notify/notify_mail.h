/*  notify_mail — oim-notify's third job: e-mail.

    Jobs (instant, or one digest per org per digest-interval-s, cut by one replica that
    wins the period's lock) are leased one at a time and sent over SMTP by a mailer actor
    (its own thread: libcurl SMTP blocks), so the loop never waits for a mail server. A
    failed send is retried with a growing delay, given up after 8 tries.
*/
#ifndef NOTIFY_MAIL_H_INCLUDED
#define NOTIFY_MAIL_H_INCLUDED

#include "oim_service.h"
#include "notify_store.h"

typedef struct _notify_mail_t notify_mail_t;

//  Reads its options (smtp-*, digest-interval-s, console-url) from service's configuration;
//  without smtp-url no mail is sent (logged; digests are still cut). Puts the mailer on
//  service's loop. store is borrowed. NULL when out of memory.
notify_mail_t *notify_mail_new (oim_service_t *service, notify_store_t *store);

//  Takes the mailer off the loop, stops it, frees everything. Accepts NULL.
void notify_mail_destroy (notify_mail_t **self_p);

//  One tick's work: cuts digests when a period is over, sends the next due job.
void notify_mail_tick (notify_mail_t *self);

#endif
