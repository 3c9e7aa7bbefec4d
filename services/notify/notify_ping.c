/*  notify_ping — POST /v1/orgs/{id}/webhook/test: a signed "webhook.test" notification sent
    at once to the organisation's configured webhook, answered with the attempt's outcome
    {delivered, status, error, latency_ms, url, webhook_id}, so a company sees whether its
    receiver is reachable and verifies signatures before real notifications depend on it.

    Who: the organisation's owners (its API key, an owner's session) and the agency. The
    attempt is not a delivery: nothing is recorded, retried or counted against the endpoint's
    breaker, and it is sent even when the endpoint is disabled (re-enabling is PUT's job).
    It runs on the daemon's loop as one blocking libcurl transfer under the same SSRF policy,
    headers and signing as deliveries (notify_webhook.c), bounded by the webhook timeouts
    (at most PING_MAX_MSEC); the transfer's progress callback keeps the broker link alive
    (oim_service_keepalive), so a slow receiver does not get notify expired meanwhile.
*/
#include "notify_server.h"
#include "notify_sign.h"
#include "notify_webhook.h"
#include "oim_api.h"
#include "oim_clock.h"
#include "oim_config.h"
#include "oim_id.h"
#include "oim_keys.h"
#include "oim_log.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#define PING_MAX_MSEC 10000

//  The org of the path when the principal owns it or is the agency; NULL with 403/404 set.
static const char *
s_owned_org (const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    const char *org = oim_api_param (request, "id");
    const Oim__V1__Principal *p = request->principal;
    if (!org || !oim_id_valid (org, "org")) {
        oim_api_error (reply, 404, "not_found", "id", "no such organization");
        return NULL;
    }
    bool agency = p && p->role == OIM__V1__ROLE__ROLE_AGENCY;
    bool own = p && p->org_id && strcmp (p->org_id, org) == 0;
    bool owner = p && (!p->user_id || !*p->user_id || strcmp (p->user_role, "owner") == 0);
    if (owner && (agency || own))
        return org;
    oim_api_error (reply, 403, "forbidden", NULL, own? "only an owner of the organization may "
                   "test its webhook": "only the organization's owners or the agency may do this");
    return NULL;
}

static int
s_progress (void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
    oim_service_keepalive (arg);
    return 0;
}

typedef struct {
    const char *url, *msg_id, *body;
    struct curl_slist *headers;
    long connect_msec, total_msec;
    char errbuf [CURL_ERROR_SIZE];
    notify_ssrf_guard_t guard;
} ping_t;

//  Arms easy for the ping: a webhook POST as the engine sends it (notify_webhook_arm), the
//  broker link kept alive while it waits, the SSRF guard. 0, or -1 (an option refused).
static int
s_arm (oim_service_t *service, CURL *easy, ping_t *ping)
{
    bool failed = notify_webhook_arm (easy, ping->url, ping->headers, ping->body,
                                      strlen (ping->body), "oim-notify", ping->connect_msec,
                                      ping->total_msec, ping->errbuf)
    ||  curl_easy_setopt (easy, CURLOPT_NOPROGRESS, 0L) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_XFERINFOFUNCTION, s_progress) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_XFERINFODATA, service) != CURLE_OK;
    return failed? -1: notify_ssrf_attach (notify_server_ssrf (service), easy, &ping->guard);
}

//  Sends the signed ping and answers its outcome (200) or 503 when curl cannot be used.
static void
s_send (oim_service_t *service, ping_t *ping, const char *secret, oim_api_reply_t *reply)
{
    notify_sign_t *signer = notify_sign_new (secret);
    ping->headers = notify_webhook_headers (signer, ping->msg_id, (int64_t) time (NULL),
                                            ping->body, strlen (ping->body));
    notify_sign_destroy (&signer);
    CURL *easy = curl_easy_init ();
    if (!easy || !ping->headers || s_arm (service, easy, ping)) {
        oim_api_error (reply, 503, "unavailable", NULL, "the webhook test could not be prepared");
    }
    else {
        int64_t start = oim_clock_mono_ms ();
        CURLcode code = curl_easy_perform (easy);
        long status = 0;
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
        const char *error = code == CURLE_OK? NULL
                          : ping->guard.refused? "the address is not allowed (SSRF policy)"
                          : *ping->errbuf? ping->errbuf: curl_easy_strerror (code);
        bool delivered = code == CURLE_OK && status >= 200 && status < 300;
        oim_api_ok (reply, 200, json_pack ("{s:b,s:o,s:s?,s:I,s:s,s:s}", "delivered", delivered,
            "status", status? json_integer (status): json_null (), "error", error,
            "latency_ms", (json_int_t) (oim_clock_mono_ms () - start), "url", ping->url,
            "webhook_id", ping->msg_id));
        oim_info ("event=webhook_test url_status=%ld delivered=%d", status, delivered);
    }
    if (easy)
        curl_easy_cleanup (easy);
    curl_slist_free_all (ping->headers);
}

void
notify_api_webhook_test (oim_service_t *service, const Oim__V1__ApiRequest *request,
                         oim_api_reply_t *reply)
{
    const char *org = s_owned_org (request, reply);
    if (!org)
        return;
    char key [OIM_KEY_SIZE], msg_id [OIM_ID_SIZE], now [OIM_RFC3339_SIZE];
    snprintf (key, sizeof key, OIM_KEY_WEBHOOK, org);
    redisReply *r = oim_redis_command (oim_service_redis (service), "HMGET %s url secret", key);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        oim_api_error (reply, 503, "unavailable", NULL, "the notification store is unavailable");
    else
    if (r->element [0]->type != REDIS_REPLY_STRING || r->element [1]->type != REDIS_REPLY_STRING)
        oim_api_error (reply, 404, "not_found", NULL, "no webhook is configured for this "
                       "organization: PUT /v1/orgs/%s/webhook first", org);
    else {
        oim_id_new ("msg", msg_id);
        oim_clock_rfc3339 (oim_clock_wall_ms (), now);
        json_t *body = json_pack ("{s:s,s:s,s:s,s:s,s:{s:s}}", "id", msg_id, "type", "webhook.test",
            "org_id", org, "created_at", now, "data", "message", "OI Market webhook test / "
            "OI 마켓 웹훅 테스트");
        char *text = json_dumps (body, JSON_COMPACT);
        json_decref (body);
        oim_config_t *config = oim_service_config (service);
        long total = (long) oim_config_int (config, "webhook-timeout-ms", 15000);
        ping_t ping = { .url = r->element [0]->str, .msg_id = msg_id, .body = text,
                        .connect_msec = (long) oim_config_int (config, "webhook-connect-timeout-ms", 5000),
                        .total_msec = total < PING_MAX_MSEC? total: PING_MAX_MSEC };
        s_send (service, &ping, r->element [1]->str, reply);
        free (text);
    }
    if (r)
        freeReplyObject (r);
}
