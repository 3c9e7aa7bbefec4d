/*  notify_webhook integration test against a real receiver (tests/receiver.py), which
    verifies every signature independently and rejects bad ones with 400.
    Covers: delivery + verification (both drive modes), bad signature, 500 → retry on the
    notify_retry schedule with a stable webhook-id → delivered, retries exhausted → dead,
    410 → disable, a hanging endpoint timing out (circuit opening) while another endpoint
    gets everything promptly, and the SSRF guard at connect time.  */
#include "notify_retry.h"
#include "notify_sign.h"
#include "notify_ssrf.h"
#include "notify_test_util.h"
#include "notify_webhook.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define s_MAX_RESULTS 1024
#define s_MAX_RETRIES 64

typedef struct {
    char msg_id [64];
    char endpoint [64];
    notify_webhook_outcome_t outcome;
    bool attempted;
    long status;
    char error [256];
    int64_t at_msec;
} s_record_t;

typedef struct {
    notify_webhook_request_t request;
    char url [256];
    char msg_id [64];
    char endpoint [64];
    uint32_t failed;           //  attempts failed so far
    int64_t due_msec;
    bool active;
} s_retry_t;

typedef struct {
    notify_webhook_engine_t *engine;
    notify_test_loop_t *loop;          //  NULL: engine_wait drives
    notify_retry_t *retry;             //  NULL: no retries
    s_record_t records [s_MAX_RESULTS];
    size_t count;
    s_retry_t retries [s_MAX_RETRIES];
    size_t dead;
} s_ctx_t;

static const char *s_body = "{\"id\":\"ntf\",\"type\":\"match.created\",\"data\":{\"title\":\"스마트 물류\"}}";
static char s_secret [NOTIFY_SIGN_SECRET_MAX];
static int s_port;

static void
s_on_result (const notify_webhook_result_t *result, void *arg)
{
    s_ctx_t *ctx = (s_ctx_t *) arg;
    CHECK (ctx->count < s_MAX_RESULTS);
    s_record_t *record = &ctx->records [ctx->count++];
    snprintf (record->msg_id, sizeof record->msg_id, "%s", result->msg_id);
    snprintf (record->endpoint, sizeof record->endpoint, "%s", result->endpoint_id);
    snprintf (record->error, sizeof record->error, "%s", result->error);
    record->outcome = result->outcome;
    record->attempted = result->attempted;
    record->status = result->http_status;
    record->at_msec = notify_test_now_msec ();
    if (result->outcome != NOTIFY_WEBHOOK_FAILED || !ctx->retry || !result->user)
        return;
    //  What the daemon does with Redis, in memory: schedule the next attempt or dead-letter.
    s_retry_t *retry = (s_retry_t *) result->user;
    retry->failed++;
    int64_t delay = notify_retry_next_msec (ctx->retry, retry->failed);
    if (delay < 0) {
        ctx->dead++;
        retry->active = false;
    }
    else
        retry->due_msec = notify_test_now_msec () + delay;
}

static void
s_submit (s_ctx_t *ctx, const char *endpoint, const char *path, const char *msg_id,
          const char *secret, s_retry_t *retry)
{
    char url [256];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", s_port, path);
    notify_webhook_request_t request = {
        .endpoint_id = endpoint, .url = url, .msg_id = msg_id, .secret = secret,
        .body = s_body, .body_size = strlen (s_body), .user = retry
    };
    if (retry) {
        snprintf (retry->url, sizeof retry->url, "%s", url);
        snprintf (retry->msg_id, sizeof retry->msg_id, "%s", msg_id);
        snprintf (retry->endpoint, sizeof retry->endpoint, "%s", endpoint);
        request.url = retry->url;
        request.msg_id = retry->msg_id;
        request.endpoint_id = retry->endpoint;
        retry->request = request;
        retry->active = true;
        retry->due_msec = -1;
    }
    CHECK (notify_webhook_engine_submit (ctx->engine, &request) == NOTIFY_WEBHOOK_ACCEPTED);
}

//  One turn of the reactor plus due retries.
static void
s_turn (s_ctx_t *ctx)
{
    if (ctx->loop)
        notify_test_loop_run_once (ctx->loop, 20);
    else
        notify_webhook_engine_wait (ctx->engine, 20);
    for (size_t i = 0; i < s_MAX_RETRIES; i++) {
        s_retry_t *retry = &ctx->retries [i];
        if (retry->active && retry->due_msec >= 0 && notify_test_now_msec () >= retry->due_msec) {
            retry->due_msec = -1;
            CHECK (notify_webhook_engine_submit (ctx->engine, &retry->request)
                   == NOTIFY_WEBHOOK_ACCEPTED);
        }
    }
}

static size_t
s_count (const s_ctx_t *ctx, const char *endpoint, int outcome, long status)
{
    size_t count = 0;
    for (size_t i = 0; i < ctx->count; i++)
        if (strcmp (ctx->records [i].endpoint, endpoint) == 0
        &&  (outcome < 0 || (int) ctx->records [i].outcome == outcome)
        &&  (status < 0 || ctx->records [i].status == status))
            count++;
    return count;
}

//  Runs the reactor until endpoint has `want` results, or fails after timeout_msec.
static void
s_wait_results (s_ctx_t *ctx, const char *endpoint, size_t want, int timeout_msec)
{
    int64_t deadline = notify_test_now_msec () + timeout_msec;
    while (s_count (ctx, endpoint, -1, -1) < want) {
        if (notify_test_now_msec () > deadline) {
            fprintf (stderr, "timeout: %s has %zu of %zu results\n", endpoint,
                     s_count (ctx, endpoint, -1, -1), want);
            CHECK (false);
        }
        s_turn (ctx);
    }
}

//  The receiver's view of path: {received, verified, rejected, ids, answered}.
static json_t *
s_stats (const char *path)
{
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/stats", s_port);
    char *text = notify_test_http_get (url);
    CHECK (text);
    json_t *all = json_loads (text, 0, NULL);
    free (text);
    CHECK (all);
    json_t *entry = json_object_get (all, path);
    json_incref (entry);
    json_decref (all);
    return entry;                      //  NULL when the receiver never saw path
}

static json_int_t
s_stat (json_t *entry, const char *field)
{
    return json_integer_value (json_object_get (entry, field));
}

static void
s_ctx_init (s_ctx_t *ctx, const notify_webhook_config_t *config, bool with_loop)
{
    memset (ctx, 0, sizeof *ctx);
    if (with_loop) {
        ctx->loop = notify_test_loop_new ();
        notify_webhook_loop_t adapter = notify_test_loop_adapter (ctx->loop);
        ctx->engine = notify_webhook_engine_new (config, &adapter, s_on_result, ctx);
        notify_test_loop_attach (ctx->loop, ctx->engine);
    }
    else
        ctx->engine = notify_webhook_engine_new (config, NULL, s_on_result, ctx);
    CHECK (ctx->engine);
}

static void
s_ctx_fini (s_ctx_t *ctx)
{
    notify_webhook_engine_destroy (&ctx->engine);
    if (ctx->loop) {
        CHECK (notify_test_loop_fds (ctx->loop) == 0);      //  every fd unwatched
        notify_test_loop_destroy (&ctx->loop);
    }
    notify_retry_destroy (&ctx->retry);
}

static void
s_test_delivered (const notify_ssrf_t *ssrf, bool with_loop)
{
    notify_webhook_config_t config;
    notify_webhook_config_defaults (&config);
    config.ssrf = ssrf;
    s_ctx_t *ctx = (s_ctx_t *) calloc (1, sizeof (s_ctx_t));
    s_ctx_init (ctx, &config, with_loop);
    const char *endpoint = with_loop ? "org_loop" : "org_wait";
    char path [64], id [64];
    snprintf (path, sizeof path, "/ok/%s", endpoint);
    for (int i = 0; i < 40; i++) {
        snprintf (id, sizeof id, "ntf_%s_%d", endpoint, i);
        s_submit (ctx, endpoint, path, id, s_secret, NULL);
    }
    s_wait_results (ctx, endpoint, 40, 10000);
    CHECK (s_count (ctx, endpoint, NOTIFY_WEBHOOK_DELIVERED, 200) == 40);
    CHECK (notify_webhook_engine_pending (ctx->engine) == 0);
    json_t *stats = s_stats (path);
    CHECK (s_stat (stats, "received") == 40 && s_stat (stats, "verified") == 40);
    CHECK (s_stat (stats, "rejected") == 0);
    json_decref (stats);

    //  A wrong secret: the receiver's independent check rejects it with 400
    char other [NOTIFY_SIGN_SECRET_MAX];
    notify_sign_secret_generate (other, sizeof other);
    snprintf (path, sizeof path, "/ok/%s_bad", endpoint);
    s_submit (ctx, "bad", path, "ntf_bad_1", other, NULL);
    s_wait_results (ctx, "bad", 1, 10000);
    CHECK (s_count (ctx, "bad", NOTIFY_WEBHOOK_FAILED, 400) == 1);
    stats = s_stats (path);
    CHECK (s_stat (stats, "rejected") == 1 && s_stat (stats, "verified") == 0);
    json_decref (stats);
    //  Refused up front: bad secret, header-breaking id
    notify_webhook_request_t bad = { .url = "http://127.0.0.1:1/", .msg_id = "x",
                                     .secret = "whsec_", .body = "{}", .body_size = 2 };
    CHECK (notify_webhook_engine_submit (ctx->engine, &bad) == NOTIFY_WEBHOOK_INVALID);
    bad.secret = s_secret;
    bad.msg_id = "ntf_1\r\nX-Evil: 1";
    CHECK (notify_webhook_engine_submit (ctx->engine, &bad) == NOTIFY_WEBHOOK_INVALID);
    s_ctx_fini (ctx);
    free (ctx);
    printf ("  delivered and verified (%s): OK\n", with_loop ? "poll reactor" : "engine_wait");
}

static void
s_test_retry_disable (const notify_ssrf_t *ssrf)
{
    notify_webhook_config_t config;
    notify_webhook_config_defaults (&config);
    config.ssrf = ssrf;
    s_ctx_t *ctx = (s_ctx_t *) calloc (1, sizeof (s_ctx_t));
    s_ctx_init (ctx, &config, false);
    ctx->retry = notify_retry_new ("0.05,0.1", NULL, 0);
    CHECK (ctx->retry);
    int64_t start = notify_test_now_msec ();
    //  Fails twice with 500, then succeeds: delivered on the third attempt, same webhook-id
    s_submit (ctx, "flaky", "/flaky/2/a", "ntf_flaky_1", s_secret, &ctx->retries [0]);
    //  Always 500: 1 + 2 attempts, then dead
    s_submit (ctx, "fail", "/fail/a", "ntf_fail_1", s_secret, &ctx->retries [1]);
    //  410: disable, no retry
    s_submit (ctx, "gone", "/gone/a", "ntf_gone_1", s_secret, &ctx->retries [2]);
    s_wait_results (ctx, "flaky", 3, 10000);
    s_wait_results (ctx, "fail", 3, 10000);
    s_wait_results (ctx, "gone", 1, 10000);
    int64_t elapsed = notify_test_now_msec () - start;
    CHECK (elapsed >= 40 + 80);                //  the two waits, less 20% jitter
    CHECK (s_count (ctx, "flaky", NOTIFY_WEBHOOK_FAILED, 500) == 2);
    CHECK (s_count (ctx, "flaky", NOTIFY_WEBHOOK_DELIVERED, 200) == 1);
    CHECK (s_count (ctx, "fail", NOTIFY_WEBHOOK_FAILED, 500) == 3);
    CHECK (s_count (ctx, "gone", NOTIFY_WEBHOOK_DISABLE, 410) == 1);
    CHECK (ctx->dead == 1 && !ctx->retries [1].active);
    CHECK (ctx->retries [0].failed == 2 && ctx->retries [0].active);
    //  Nothing more happens: let the reactor turn past the next would-be retry
    int64_t until = notify_test_now_msec () + 300;
    while (notify_test_now_msec () < until)
        s_turn (ctx);
    CHECK (s_count (ctx, "fail", -1, -1) == 3 && s_count (ctx, "gone", -1, -1) == 1);
    json_t *stats = s_stats ("/flaky/2/a");
    CHECK (s_stat (stats, "received") == 3 && s_stat (stats, "verified") == 3);
    json_t *ids = json_object_get (stats, "ids");
    for (size_t i = 0; i < json_array_size (ids); i++)
        CHECK (strcmp (json_string_value (json_array_get (ids, i)), "ntf_flaky_1") == 0);
    json_decref (stats);
    s_ctx_fini (ctx);
    free (ctx);
    printf ("  500 → retries on schedule, dead after the last; 410 → disable: OK\n");
}

static void
s_test_hang_isolation (const notify_ssrf_t *ssrf)
{
    notify_webhook_config_t config;
    notify_webhook_config_defaults (&config);
    config.ssrf = ssrf;
    config.timeout_msec = 1500;
    config.max_in_flight_per_endpoint = 2;
    config.breaker_failures = 2;
    config.breaker_cooldown_msec = 60000;
    s_ctx_t *ctx = (s_ctx_t *) calloc (1, sizeof (s_ctx_t));
    s_ctx_init (ctx, &config, true);
    char id [64];
    for (int i = 0; i < 4; i++) {
        snprintf (id, sizeof id, "ntf_hang_%d", i);
        s_submit (ctx, "hang", "/hang/a", id, s_secret, NULL);
    }
    int64_t start = notify_test_now_msec ();
    for (int i = 0; i < 100; i++) {
        snprintf (id, sizeof id, "ntf_fast_%d", i);
        s_submit (ctx, "fast", "/ok/fast", id, s_secret, NULL);
    }
    s_wait_results (ctx, "fast", 100, 10000);
    int64_t fast_msec = notify_test_now_msec () - start;
    //  The healthy endpoint finished while the hanging one had nothing to show yet
    CHECK (s_count (ctx, "fast", NOTIFY_WEBHOOK_DELIVERED, 200) == 100);
    CHECK (s_count (ctx, "hang", -1, -1) == 0);
    CHECK (fast_msec < 1500);
    //  Then the two in flight time out, the circuit opens, the two queued come back unattempted
    s_wait_results (ctx, "hang", 4, 10000);
    int64_t hang_msec = notify_test_now_msec () - start;
    size_t timed_out = 0, unattempted = 0;
    for (size_t i = 0; i < ctx->count; i++) {
        const s_record_t *record = &ctx->records [i];
        if (strcmp (record->endpoint, "hang") != 0)
            continue;
        CHECK (record->outcome == NOTIFY_WEBHOOK_FAILED && record->status == 0);
        if (record->attempted && strstr (record->error, "imed out"))
            timed_out++;
        if (!record->attempted && strstr (record->error, "circuit open"))
            unattempted++;
    }
    //  Two time out together and open the circuit; under a slow run (valgrind) the first
    //  timeout may free a slot for a third attempt before the second times out.
    CHECK (timed_out >= 2 && unattempted >= 1 && timed_out + unattempted == 4);
    CHECK (hang_msec >= 1400);
    notify_webhook_request_t request = {
        .endpoint_id = "hang", .url = "http://127.0.0.1:1/hang/b", .msg_id = "ntf_hang_9",
        .secret = s_secret, .body = "{}", .body_size = 2
    };
    CHECK (notify_webhook_engine_submit (ctx->engine, &request) == NOTIFY_WEBHOOK_CIRCUIT_OPEN);
    CHECK (notify_webhook_engine_retry_after_msec (ctx->engine, "hang") > 50000);
    CHECK (notify_webhook_engine_retry_after_msec (ctx->engine, "fast") == 0);
    printf ("  hanging endpoint: healthy one done in %lld ms, hanging one timed out after "
            "%lld ms, circuit open: OK\n", (long long) fast_msec, (long long) hang_msec);
    s_ctx_fini (ctx);
    free (ctx);
}

//  Waits, turning the reactor, until endpoint's open circuit admits a probe.
static void
s_wait_half_open (s_ctx_t *ctx, const char *endpoint)
{
    int64_t deadline = notify_test_now_msec () + 10000;
    while (notify_webhook_engine_retry_after_msec (ctx->engine, endpoint) > 0) {
        CHECK (notify_test_now_msec () < deadline);
        s_turn (ctx);
    }
}

//  Circuit breaker: opens after N failures, half-open probe failing doubles the cooldown,
//  a successful probe closes it.
static void
s_test_breaker (void)
{
    notify_webhook_config_t config;
    notify_webhook_config_defaults (&config);
    config.breaker_failures = 2;
    config.breaker_cooldown_msec = 150;
    s_ctx_t *ctx = (s_ctx_t *) calloc (1, sizeof (s_ctx_t));
    s_ctx_init (ctx, &config, false);
    s_submit (ctx, "brk", "/fail/brk", "ntf_brk_1", s_secret, NULL);
    s_submit (ctx, "brk", "/fail/brk", "ntf_brk_2", s_secret, NULL);
    s_wait_results (ctx, "brk", 2, 10000);
    int64_t left = notify_webhook_engine_retry_after_msec (ctx->engine, "brk");
    CHECK (left > 0 && left <= 150);
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/ok/brk", s_port);
    notify_webhook_request_t request = {
        .endpoint_id = "brk", .url = url, .msg_id = "ntf_brk_x", .secret = s_secret,
        .body = "{}", .body_size = 2
    };
    CHECK (notify_webhook_engine_submit (ctx->engine, &request) == NOTIFY_WEBHOOK_CIRCUIT_OPEN);
    s_wait_half_open (ctx, "brk");
    s_submit (ctx, "brk", "/fail/brk", "ntf_brk_3", s_secret, NULL);   //  failing probe
    s_wait_results (ctx, "brk", 3, 10000);
    left = notify_webhook_engine_retry_after_msec (ctx->engine, "brk");
    CHECK (left > 150 && left <= 300);                                  //  doubled
    s_wait_half_open (ctx, "brk");
    s_submit (ctx, "brk", "/ok/brk", "ntf_brk_4", s_secret, NULL);      //  healthy probe
    s_wait_results (ctx, "brk", 4, 10000);
    CHECK (s_count (ctx, "brk", NOTIFY_WEBHOOK_DELIVERED, 200) == 1);
    CHECK (notify_webhook_engine_retry_after_msec (ctx->engine, "brk") == 0);
    for (int i = 0; i < 5; i++)                                         //  closed again
        s_submit (ctx, "brk", "/ok/brk", "ntf_brk_5", s_secret, NULL);
    s_wait_results (ctx, "brk", 9, 10000);
    CHECK (s_count (ctx, "brk", NOTIFY_WEBHOOK_DELIVERED, 200) == 6);
    s_ctx_fini (ctx);
    free (ctx);
    printf ("  circuit breaker: open, half-open probe, doubled cooldown, close: OK\n");
}

//  Bounded queues answer BUSY; destroying an engine with work in flight and queued frees
//  everything (the sanitizer and valgrind runs check) and reports nothing.
static void
s_test_bounds_and_destroy (void)
{
    notify_webhook_config_t config;
    notify_webhook_config_defaults (&config);
    config.max_in_flight_per_endpoint = 1;
    config.max_queued_per_endpoint = 2;
    config.max_queued = 3;
    s_ctx_t *ctx = (s_ctx_t *) calloc (1, sizeof (s_ctx_t));
    s_ctx_init (ctx, &config, false);
    CHECK (notify_webhook_engine_fd (ctx->engine) >= 0);
    CHECK (notify_webhook_engine_timeout_msec (ctx->engine) == -1);
    s_submit (ctx, "hang2", "/hang/b", "ntf_b_1", s_secret, NULL);
    s_submit (ctx, "hang2", "/hang/b", "ntf_b_2", s_secret, NULL);
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/hang/b", s_port);
    notify_webhook_request_t request = {
        .endpoint_id = "hang2", .url = url, .msg_id = "ntf_b_3", .secret = s_secret,
        .body = "{}", .body_size = 2
    };
    CHECK (notify_webhook_engine_submit (ctx->engine, &request) == NOTIFY_WEBHOOK_BUSY);
    request.endpoint_id = "other";
    CHECK (notify_webhook_engine_submit (ctx->engine, &request) == NOTIFY_WEBHOOK_ACCEPTED);
    request.endpoint_id = "third";
    CHECK (notify_webhook_engine_submit (ctx->engine, &request) == NOTIFY_WEBHOOK_BUSY);
    CHECK (notify_webhook_engine_pending (ctx->engine) == 3);
    //  Wait until the first hanging request is on the wire, then destroy
    int64_t deadline = notify_test_now_msec () + 10000;
    json_t *stats = NULL;
    while (!stats) {
        CHECK (notify_test_now_msec () < deadline);
        notify_webhook_engine_wait (ctx->engine, 20);
        stats = s_stats ("/hang/b");
    }
    json_decref (stats);
    CHECK (notify_webhook_engine_in_flight (ctx->engine) >= 1);
    s_ctx_fini (ctx);
    CHECK (ctx->count <= 1);           //  "other" (/hang/b) may not answer: nothing else
    free (ctx);
    printf ("  bounded queues (BUSY), destroy with work in flight: OK\n");
}

static void
s_test_ssrf (void)
{
    notify_ssrf_t *strict = notify_ssrf_new (0);
    notify_webhook_config_t config;
    notify_webhook_config_defaults (&config);
    config.ssrf = strict;
    s_ctx_t *ctx = (s_ctx_t *) calloc (1, sizeof (s_ctx_t));
    s_ctx_init (ctx, &config, false);
    s_submit (ctx, "ssrf", "/ok/ssrf", "ntf_ssrf_1", s_secret, NULL);
    s_wait_results (ctx, "ssrf", 1, 10000);
    const s_record_t *record = &ctx->records [0];
    CHECK (record->outcome == NOTIFY_WEBHOOK_FAILED && record->status == 0);
    CHECK (strstr (record->error, "127.0.0.1 is loopback: refused by the SSRF policy"));
    json_t *stats = s_stats ("/ok/ssrf");
    CHECK (stats == NULL);                     //  the receiver never saw it
    char url [128], reason [NOTIFY_SSRF_REASON_MAX];
    snprintf (url, sizeof url, "http://localhost:%d/ok/ssrf", s_port);
    CHECK (notify_ssrf_check_url (strict, url, reason, sizeof reason) == -1);
    s_ctx_fini (ctx);
    free (ctx);
    notify_ssrf_destroy (&strict);
    printf ("  SSRF: loopback refused at connect time unless allowed: OK\n");
}

int
main (void)
{
    CHECK (sodium_init () >= 0);
    CHECK (curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK);
    CHECK (notify_sign_secret_generate (s_secret, sizeof s_secret) == 0);
    notify_test_proc_t receiver;
    s_port = notify_test_start_script (&receiver, "receiver.py", s_secret, NULL);
    CHECK (s_port > 0);
    notify_ssrf_t *allow = notify_ssrf_new (NOTIFY_SSRF_ALLOW_PRIVATE);    //  tests allow loopback
    s_test_delivered (allow, false);
    s_test_delivered (allow, true);
    s_test_retry_disable (allow);
    s_test_hang_isolation (allow);
    s_test_breaker ();
    s_test_bounds_and_destroy ();
    s_test_ssrf ();
    notify_ssrf_destroy (&allow);
    notify_test_stop (&receiver);
    curl_global_cleanup ();
    printf ("notify_webhook: OK\n");
    return 0;
}
