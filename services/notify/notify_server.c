/*  notify_server — the oim-notify daemon on the template (common/oim_service.h).

    Its jobs, each in its own file, all on the template's zloop (one thread), every step
    written to Redis before the next one relies on it (notify_store.h has the scripts):
      1. events (notify_events): oim:events in, notifications stored and published;
      2. webhooks (notify_deliver): due deliveries leased and sent by the webhook engine;
      3. e-mail (notify_mail): instant and digest mail jobs sent by a mailer thread.
    This file holds the daemon: its options, its state (the store, the SSRF guard and the
    three jobs), start / tick / stop, and the method table; the API handlers live in
    notify_api.c.
*/
#include "notify_server.h"
#include "notify_deliver.h"
#include "notify_events.h"
#include "notify_mail.h"
#include "notify_retry.h"
#include "oim_log.h"

#include <curl/curl.h>
#include <sodium.h>

static const oim_option_t s_options [] = {
    { "feed-endpoint", "OIM_FEED_ENDPOINT", "tcp://127.0.0.1:5572", "the gateway's feed intake "
      "this replica publishes into (CURVE client with daemon.cert; the gateway hosts the public "
      "feed, see its OIM_FEED_PROXY and OIM_FEED_PORT); \"off\" = no feed", false },
    { "webhook-retry-schedule", "OIM_WEBHOOK_RETRY_SCHEDULE", "",
      "seconds between webhook attempts, comma-separated (default " NOTIFY_RETRY_DEFAULT_SCHEDULE ")", false },
    { "webhook-allow-private", "OIM_WEBHOOK_ALLOW_PRIVATE", "0",
      "1 = allow webhook URLs on loopback/private networks", false },
    { "webhook-timeout-ms", "OIM_WEBHOOK_TIMEOUT_MS", "15000", "whole webhook attempt", false },
    { "webhook-connect-timeout-ms", "OIM_WEBHOOK_CONNECT_TIMEOUT_MS", "5000", "TCP + TLS connect", false },
    { "webhook-lease-ms", "OIM_WEBHOOK_LEASE_MS", "60000", "a leased delivery is retried after "
      "this long if its replica died (at least the timeout + 5 s)", false },
    { "webhook-max-in-flight", "OIM_WEBHOOK_MAX_IN_FLIGHT", "1024", "webhook transfers at once, "
      "all endpoints (at most 8 per endpoint; also the size of the connection cache)", false },
    { "webhook-breaker-failures", "OIM_WEBHOOK_BREAKER_FAILURES", "5",
      "consecutive failures that open an endpoint's circuit", false },
    { "webhook-breaker-cooldown-ms", "OIM_WEBHOOK_BREAKER_COOLDOWN_MS", "30000",
      "first open-circuit period (doubles while probes fail)", false },
    { "event-claim-idle-ms", "OIM_EVENT_CLAIM_IDLE_MS", "30000",
      "take over events another replica read but did not acknowledge for this long", false },
    { "event-retain-s", "OIM_EVENT_RETAIN_S", "86400", "oim:events entries every consumer "
      "group has acknowledged are trimmed once this old (-1 = never trim)", false },
    { "smtp-url", "OIM_SMTP_URL", "", "SMTP server, smtp://host:port or smtps://; empty = no e-mail", false },
    { "smtp-from", "OIM_SMTP_FROM", "OI Market <noreply@oimarket.local>", "e-mail sender", false },
    { "smtp-username", "OIM_SMTP_USERNAME", "", "SMTP AUTH user (empty = none)", false },
    { "smtp-password", "OIM_SMTP_PASSWORD", "", "SMTP AUTH password", false },
    { "digest-interval-s", "OIM_DIGEST_INTERVAL_S", "86400", "period of e-mail digests", false },
    { "console-url", "OIM_CONSOLE_URL", "", "base URL of the web console, for links in e-mails", false },
    OIM_OPTION_END
};

struct _notify_state_t {
    notify_store_t *store;
    notify_ssrf_t *ssrf;
    notify_events_t *events;
    notify_deliver_t *deliver;
    notify_mail_t *mail;
};

notify_store_t *
notify_server_store (oim_service_t *service)
{
    return ((notify_state_t *) oim_service_state (service))->store;
}

const notify_ssrf_t *
notify_server_ssrf (oim_service_t *service)
{
    return ((notify_state_t *) oim_service_state (service))->ssrf;
}

//  Stops the jobs (deliveries still in the engine go back to due-now) and frees the state,
//  in the reverse order of s_start; parts never made are NULL. Accepts NULL.
static void
s_state_destroy (notify_state_t **self_p)
{
    notify_state_t *self = *self_p;
    if (!self)
        return;
    notify_mail_destroy (&self->mail);
    notify_deliver_destroy (&self->deliver);
    notify_events_destroy (&self->events);
    notify_ssrf_destroy (&self->ssrf);
    notify_store_destroy (&self->store);
    free (self);
    *self_p = NULL;
}

static int
s_start (oim_service_t *service)
{
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init () < 0) {
        oim_error ("event=init_failed what=curl_or_sodium");
        return -1;
    }
    oim_config_t *config = oim_service_config (service);
    notify_state_t *self = calloc (1, sizeof *self);
    if (!self)
        goto failed;
    self->store = notify_store_new ();
    self->ssrf = notify_ssrf_new (oim_config_bool (config, "webhook-allow-private")
                                  ? NOTIFY_SSRF_ALLOW_PRIVATE: 0);
    if (!self->store || !self->ssrf)
        goto failed;
    //  (each job logs why it failed)
    if (!(self->deliver = notify_deliver_new (service, self->store, self->ssrf))
    ||  !(self->events = notify_events_new (service, self->store))
    ||  !(self->mail = notify_mail_new (service, self->store)))
        goto failed;
    oim_service_set_state (service, self);
    return 0;
failed:
    oim_error ("event=start_failed what=%s", self? "notify": "memory");
    s_state_destroy (&self);
    curl_global_cleanup ();
    return -1;
}

static void
s_tick (oim_service_t *service)
{
    notify_state_t *self = oim_service_state (service);
    notify_events_tick (self->events);
    notify_deliver_tick (self->deliver);
    notify_mail_tick (self->mail);
}

static void
s_stop (oim_service_t *service)
{
    notify_state_t *self = oim_service_state (service);
    if (!self)
        return;
    s_state_destroy (&self);
    oim_service_set_state (service, NULL);
    curl_global_cleanup ();
}

static const oim_method_t s_methods [] = {
    { "notification.list", notify_api_notification_list, NULL },
    { "notification.read", notify_api_notification_read, NULL },
    { "webhook.put", notify_api_webhook_put, NULL },
    { "webhook.get", notify_api_webhook_get, NULL },
    { "webhook.test", notify_api_webhook_test, NULL },
    { "preferences.put", notify_api_preferences_put, NULL },
    { "preferences.get", notify_api_preferences_get, NULL },
    { "delivery.list", notify_api_delivery_list, NULL },
    { "delivery.retry", notify_api_delivery_retry, NULL },
    { NULL, NULL, NULL }
};

const oim_service_def_t notify_service = {
    .name = "notify",
    .summary = "signed webhooks, inbox, e-mail and a ZeroMQ feed of notifications",
    .options = s_options,
    .methods = s_methods,
    .start = s_start,
    .tick = s_tick,
    .stop = s_stop,
    .tick_msec = 5,
};
