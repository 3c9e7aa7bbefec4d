/*  gateway_zap — see gateway_zap.h. One REP socket on the ZAP endpoint; each request is one
    cache look-up or at most two Redis GETs (key record, organisation), under the Redis
    command timeout.
*/
#include "gateway_zap.h"
#include "gateway_actor.h"
#include "oim_clock.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "oim_redis.h"
#include "registry.pb-c.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define USER_MAX 64

typedef struct {
    bool allowed;
    char user [USER_MAX];
    int64_t expiry_ms;
} verdict_t;

typedef struct {
    oim_redis_t *redis;
    const char *redis_url;
    int redis_timeout_msec;
    char daemon_public [41];
    zhashx_t *cache;                //  "<domain>:<z85>" -> verdict_t, owned
    oim_metric_t *m_denied [3];     //  internal, ingest, feed
    oim_metric_t *m_denied_other;
} zap_t;

static const char *s_domains [] = { "internal", "ingest", "feed" };

static void
s_verdict_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  The CurveKeyRecord of a Z85 key. 1 found, 0 unknown, -1 Redis failed.
static int
s_key_record (zap_t *self, const char *z85, Oim__V1__CurveKeyRecord **record)
{
    *record = NULL;
    if (!self->redis)
        self->redis = oim_redis_new (self->redis_url, self->redis_timeout_msec,
                                     self->redis_timeout_msec);
    if (!self->redis)
        return -1;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_CURVEKEY, z85);
    redisReply *reply = oim_redis_command (self->redis, "GET %s", key);
    if (!reply)
        return -1;
    int rc = 0;
    if (reply->type == REDIS_REPLY_STRING) {
        *record = oim__v1__curve_key_record__unpack (NULL, reply->len, (uint8_t *) reply->str);
        rc = *record? 1: 0;
    }
    else
    if (reply->type != REDIS_REPLY_NIL)
        rc = -1;
    freeReplyObject (reply);
    return rc;
}

//  1 when the organisation is active, 0 when not (or unknown), -1 Redis failed.
static int
s_org_active (zap_t *self, const char *org_id)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG, org_id);
    redisReply *reply = oim_redis_command (self->redis, "GET %s", key);
    if (!reply)
        return -1;
    int rc = reply->type == REDIS_REPLY_NIL? 0: -1;
    if (reply->type == REDIS_REPLY_STRING) {
        Oim__V1__Organization *org = oim__v1__organization__unpack (NULL, reply->len,
                                                                    (uint8_t *) reply->str);
        rc = org && !org->deleted && strcmp (org->status, "active") == 0;
        if (org)
            oim__v1__organization__free_unpacked (org, NULL);
    }
    freeReplyObject (reply);
    return rc;
}

//  Decides a registered key (domain ingest or feed) from Redis. Returns 0 with *verdict set,
//  or -1 when Redis did not answer (denied, not cached).
static int
s_lookup (zap_t *self, const char *domain, const char *z85, verdict_t *verdict)
{
    Oim__V1__CurveKeyRecord *record;
    int rc = s_key_record (self, z85, &record);
    if (rc <= 0)
        return rc;          //  unknown (verdict stays "denied") or Redis failed
    rc = 0;
    bool feed = strcmp (domain, "feed") == 0;
    if (feed && strcmp (record->kind, "feed") == 0 && *record->org_id) {
        int active = s_org_active (self, record->org_id);
        rc = active < 0? -1: 0;
        verdict->allowed = active == 1;
        snprintf (verdict->user, sizeof verdict->user, "%s", record->org_id);
    }
    else
    if (!feed && strcmp (record->kind, "publisher") == 0 && *record->publisher_id) {
        verdict->allowed = true;
        snprintf (verdict->user, sizeof verdict->user, "%s", record->publisher_id);
    }
    oim__v1__curve_key_record__free_unpacked (record, NULL);
    return rc;
}

//  The cached or fresh verdict for a registered key; -1 when Redis failed.
static int
s_registered (zap_t *self, const char *domain, const char *z85, verdict_t *verdict)
{
    char cache_key [64];
    snprintf (cache_key, sizeof cache_key, "%s:%s", domain, z85);
    int64_t now = oim_clock_mono_ms ();
    verdict_t *cached = zhashx_lookup (self->cache, cache_key);
    if (cached && cached->expiry_ms > now) {
        *verdict = *cached;
        return 0;
    }
    if (s_lookup (self, domain, z85, verdict))
        return -1;
    if (zhashx_size (self->cache) >= GATEWAY_ZAP_CACHE_MAX) {
        zhashx_purge (self->cache);         //  bounded: a flood of keys only costs lookups
    }
    verdict_t *entry = malloc (sizeof *entry);
    if (entry) {
        *entry = *verdict;
        entry->expiry_ms = now + GATEWAY_ZAP_CACHE_MSEC;
        zhashx_update (self->cache, cache_key, entry);
    }
    return 0;
}

static void
s_deny_count (zap_t *self, const char *domain)
{
    for (size_t i = 0; i < sizeof s_domains / sizeof s_domains [0]; i++)
        if (strcmp (domain, s_domains [i]) == 0) {
            oim_metric_add (self->m_denied [i], 1);
            return;
        }
    oim_metric_add (self->m_denied_other, 1);
}

//  Decides one request. Returns true with user set when allowed.
static bool
s_decide (zap_t *self, const char *domain, const char *mechanism, zframe_t *credentials,
          char *user, const char **why)
{
    if (strcmp (mechanism, "CURVE") != 0 || !credentials || zframe_size (credentials) != 32) {
        *why = "not CURVE";
        return false;
    }
    char z85 [41];
    zmq_z85_encode (z85, zframe_data (credentials), 32);
    if (strcmp (domain, "internal") == 0) {
        *why = "not the daemon key";
        snprintf (user, USER_MAX, "daemon");
        return strcmp (z85, self->daemon_public) == 0;
    }
    if (strcmp (domain, "ingest") && strcmp (domain, "feed")) {
        *why = "unknown domain";
        return false;
    }
    verdict_t verdict = { 0 };
    if (s_registered (self, domain, z85, &verdict)) {
        *why = "redis unavailable";
        return false;
    }
    *why = "key not registered or organisation not active";
    snprintf (user, USER_MAX, "%s", verdict.user);
    return verdict.allowed;
}

//  One ZAP request: version, request id, domain, address, routing id, mechanism,
//  credentials... Answers 200 with the User-Id, or 400.
static int
s_on_request (zloop_t *loop, zsock_t *handler, void *arg)
{
    (void) loop;
    zap_t *self = arg;
    zmsg_t *request = zmsg_recv (handler);
    if (!request)
        return 0;
    char *version = zmsg_popstr (request);
    char *request_id = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    zframe_t *routing = zmsg_pop (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credentials = zmsg_pop (request);
    char user [USER_MAX] = "";
    const char *why = "malformed ZAP request";
    bool ok = version && streq (version, "1.0") && mechanism
           && s_decide (self, domain, mechanism, credentials, user, &why);
    if (!ok) {
        s_deny_count (self, domain? domain: "");
        oim_warn ("event=zap_denied domain=%s address=%s mechanism=%s reason=\"%s\"",
                  domain? domain: "", address? address: "", mechanism? mechanism: "", why);
    }
    zsock_send (handler, "ssssss", "1.0", request_id? request_id: "", ok? "200": "400",
                ok? "OK": why, ok? user: "", "");
    zstr_free (&version);
    zstr_free (&request_id);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&mechanism);
    zframe_destroy (&routing);
    zframe_destroy (&credentials);
    zmsg_destroy (&request);
    return 0;
}

void
gateway_zap_actor (zsock_t *pipe, void *arg)
{
    gateway_zap_args_t *args = arg;
    zap_t self = { .redis_url = args->redis_url, .redis_timeout_msec = args->redis_timeout_msec };
    snprintf (self.daemon_public, sizeof self.daemon_public, "%s",
              args->daemon_public? args->daemon_public: "");
    for (size_t i = 0; i < sizeof s_domains / sizeof s_domains [0]; i++) {
        char labels [48];
        snprintf (labels, sizeof labels, "domain=\"%s\"", s_domains [i]);
        self.m_denied [i] = oim_metrics_counter (args->metrics, "oim_zap_denied_total", labels,
                                                 "ZeroMQ connections refused by the ZAP handler");
    }
    self.m_denied_other = oim_metrics_counter (args->metrics, "oim_zap_denied_total",
                                               "domain=\"other\"",
                                               "ZeroMQ connections refused by the ZAP handler");
    zsock_t *handler = zsock_new (ZMQ_REP);
    if (!handler || zsock_bind (handler, ZAP_ENDPOINT) < 0) {
        zsock_signal (pipe, 0);
        zstr_send (pipe, "ERROR cannot bind " ZAP_ENDPOINT);
        zsock_destroy (&handler);
        return;
    }
    zsock_set_linger (handler, 0);
    self.cache = zhashx_new ();
    zhashx_set_destructor (self.cache, s_verdict_free);
    self.redis = oim_redis_new (self.redis_url, self.redis_timeout_msec, self.redis_timeout_msec);
    zloop_t *loop = zloop_new ();
    zloop_reader (loop, pipe, gateway_actor_on_pipe, &self);
    zloop_reader (loop, handler, s_on_request, &self);
    zloop_set_nonstop (loop, true);
    zsock_signal (pipe, 0);
    zstr_send (pipe, "READY");
    zloop_start (loop);
    zloop_destroy (&loop);
    zhashx_destroy (&self.cache);
    oim_redis_destroy (&self.redis);
    zsock_destroy (&handler);
}
