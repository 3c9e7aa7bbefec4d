/*  notify_mail — see notify_mail.h. */
#include "notify_mail.h"
#include "notify_email.h"
#include "oim_clock.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "registry.pb-c.h"

#define MAIL_LEASE_MS 120000
#define MAIL_MAX_TRIES 8

typedef struct {
    char *smtp_url, *username, *password, *from_addr;
} mailer_args_t;

struct _notify_mail_t {
    oim_service_t *service;
    notify_store_t *store;          //  borrowed
    zactor_t *mailer;               //  NULL without SMTP
    mailer_args_t mailer_args;
    bool mail_busy;
    char consumer [160];            //  holder of the digest lock
    int64_t digest_interval_ms, next_digest_ms;
    const char *smtp_from, *console_url;
    oim_metric_t *m_mail_sent, *m_mail_failed;
};

//  ---------------------------------------------------------------------------------------
//  E-mail

//  The mailer actor: sends one job at a time (SEND job to text), answers job, "ok" or
//  "error", the error.
static void
s_mailer (zsock_t *pipe, void *arg)
{
    mailer_args_t *args = arg;
    notify_email_smtp_t smtp = {
        .url = args->smtp_url, .username = *args->username? args->username: NULL,
        .password = args->password, .connect_timeout_msec = 5000, .timeout_msec = 20000
    };
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        char *command = zmsg_popstr (msg);
        if (!command || streq (command, "$TERM")) {
            free (command);
            zmsg_destroy (&msg);
            break;
        }
        char *job = zmsg_popstr (msg), *to = zmsg_popstr (msg), *text = zmsg_popstr (msg);
        char error [256] = "";
        int rc = job && to && text
               ? notify_email_send (&smtp, args->from_addr, to, text, error, sizeof error): -1;
        zstr_sendx (pipe, job? job: "", rc == 0? "ok": "error", error, NULL);
        free (command);
        free (job);
        free (to);
        free (text);
        zmsg_destroy (&msg);
    }
}

//  Reads an org's e-mail address and name. Returns 0, or -1 (no such org, no e-mail).
static int
s_org_contact (oim_redis_t *redis, const char *org, char *email, size_t email_size,
               char *name, size_t name_size)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG, org);
    redisReply *r = oim_redis_command (redis, "GET %s", key);
    if (!r)
        return -1;
    Oim__V1__Organization *o = r->type == REDIS_REPLY_STRING
        ? oim__v1__organization__unpack (NULL, r->len, (const uint8_t *) r->str): NULL;
    freeReplyObject (r);
    int rc = -1;
    if (o && o->email && *o->email && !o->deleted) {
        snprintf (email, email_size, "%s", o->email);
        snprintf (name, name_size, "%s", o->name);
        rc = 0;
    }
    if (o)
        oim__v1__organization__free_unpacked (o, NULL);
    return rc;
}

//  The notification id's JSON text, or NULL.
static char *
s_notification_text (oim_redis_t *redis, const char *id, char *org, size_t org_size)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_NTF, id);
    redisReply *r = oim_redis_command (redis, "GET %s", key);
    if (!r)
        return NULL;
    Oim__V1__Notification *n = r->type == REDIS_REPLY_STRING
        ? oim__v1__notification__unpack (NULL, r->len, (const uint8_t *) r->str): NULL;
    freeReplyObject (r);
    if (!n)
        return NULL;
    if (org)
        snprintf (org, org_size, "%s", n->org_id);
    json_t *json = notify_store_notification_json (n, false, false);
    char *text = json_dumps (json, JSON_COMPACT);
    json_decref (json);
    oim__v1__notification__free_unpacked (n, NULL);
    return text;
}

//  Removes a finished (sent or given up) mail job.
static void
s_mail_done (notify_mail_t *self, const char *job)
{
    oim_redis_t *redis = oim_service_redis (self->service);
    char list [OIM_KEY_SIZE] = "";
    if (strncmp (job, "d:", 2) == 0)
        snprintf (list, sizeof list, OIM_KEY_MAIL_DIGEST, job + 2);
    if (strncmp (job, "a:", 2) == 0)
        snprintf (list, sizeof list, OIM_KEY_MAIL_ACCOUNT, job + 2);
    if (oim_redis_append (redis, "MULTI") || oim_redis_append (redis, "ZREM %s %s", OIM_KEY_MAIL_DUE, job)
    ||  oim_redis_append (redis, "HDEL %s %s", OIM_KEY_MAIL_TRIES, job)
    ||  oim_redis_append (redis, "DEL %s", *list? list: "oim:-")
    ||  oim_redis_append (redis, "EXEC"))
        return;
    for (int i = 0; i < 5; i++) {
        redisReply *r = oim_redis_reply (redis);
        if (!r)
            return;
        freeReplyObject (r);
    }
}

//  A failed send: try again later with a growing delay, give up after MAIL_MAX_TRIES.
static void
s_mail_failed (notify_mail_t *self, const char *job, const char *error)
{
    oim_metric_add (self->m_mail_failed, 1);
    oim_redis_t *redis = oim_service_redis (self->service);
    redisReply *r = oim_redis_command (redis, "HINCRBY %s %s 1", OIM_KEY_MAIL_TRIES, job);
    long long tries = r && r->type == REDIS_REPLY_INTEGER? r->integer: 1;
    if (r)
        freeReplyObject (r);
    if (tries >= MAIL_MAX_TRIES) {
        oim_error ("event=mail_given_up job=%s tries=%lld error=\"%s\"", job, tries, error);
        s_mail_done (self, job);
        return;
    }
    int64_t delay = 5000LL << (tries < 10? tries: 10);
    oim_warn ("event=mail_failed job=%s tries=%lld retry_ms=%lld error=\"%s\"", job, tries,
              (long long) delay, error);
    r = oim_redis_command (redis, "ZADD %s XX %lld %s", OIM_KEY_MAIL_DUE,
                           (long long) (oim_clock_wall_ms () + delay), job);
    if (r)
        freeReplyObject (r);
}

static int
s_on_mailer (zloop_t *loop, zsock_t *socket, void *arg)
{
    (void) loop;
    notify_mail_t *self = arg;
    char *job = NULL, *result = NULL, *error = NULL;
    if (zstr_recvx (socket, &job, &result, &error, NULL) == 3) {
        if (streq (result, "ok")) {
            oim_metric_add (self->m_mail_sent, 1);
            oim_info ("event=mail_sent job=%s", job);
            s_mail_done (self, job);
        }
        else
            s_mail_failed (self, job, error);
    }
    self->mail_busy = false;
    zstr_free (&job);
    zstr_free (&result);
    zstr_free (&error);
    return 0;
}

//  Renders an account e-mail job "a:<id>" (oim:mail:account:<id>, written by the registry:
//  services/registry/registry_tokens.c) like s_render_job.
static int
s_render_account (notify_mail_t *self, const char *job, char **text, char *to, size_t to_size)
{
    oim_redis_t *redis = oim_service_redis (self->service);
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_MAIL_ACCOUNT, job + 2);
    redisReply *r = oim_redis_command (redis, "HMGET %s to subject text", key);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element [0]->type == REDIS_REPLY_STRING
    &&  r->element [1]->type == REDIS_REPLY_STRING && r->element [2]->type == REDIS_REPLY_STRING) {
        snprintf (to, to_size, "%s", r->element [0]->str);
        *text = notify_email_plain (self->smtp_from, to, r->element [1]->str, r->element [2]->str, 0);
    }
    freeReplyObject (r);
    return *text? 0: 1;
}

//  Renders mail job (leased) into *text for *to. Returns 0, 1 = nothing to send (drop the
//  job), -1 = Redis failed (the lease will bring it back).
static int
s_render_job (notify_mail_t *self, const char *job, char **text, char *to, size_t to_size)
{
    oim_redis_t *redis = oim_service_redis (self->service);
    char org [OIM_KEY_SIZE] = "", name [512];
    *text = NULL;
    if (strncmp (job, "a:", 2) == 0)
        return s_render_account (self, job, text, to, to_size);
    if (strncmp (job, "i:", 2) == 0) {
        char *json = s_notification_text (redis, job + 2, org, sizeof org);
        if (!json)
            return oim_redis_connected (redis)? 1: -1;
        if (s_org_contact (redis, org, to, to_size, name, sizeof name) == 0)
            *text = notify_email_instant (self->smtp_from, to, json, self->console_url, 0);
        free (json);
        if (!*text)
            oim_warn ("event=mail_skipped job=%s org=%s reason=no_email_or_render", job, org);
        return *text? 0: oim_redis_connected (redis)? 1: -1;
    }
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_MAIL_DIGEST, job + 2);
    redisReply *ids = oim_redis_command (redis, "LRANGE %s 0 %d", key, NOTIFY_EMAIL_DIGEST_MAX * 5);
    if (!ids)
        return -1;
    int rc = 1;
    if (ids->type == REDIS_REPLY_ARRAY && ids->elements > 1
    &&  s_org_contact (redis, ids->element [0]->str, to, to_size, name, sizeof name) == 0) {
        char day [OIM_RFC3339_SIZE];
        oim_clock_rfc3339 (oim_clock_wall_ms (), day);
        day [10] = 0;
        notify_email_digest_t *digest = notify_email_digest_new (name, day);
        for (size_t i = 1; digest && i < ids->elements; i++) {
            char *json = s_notification_text (redis, ids->element [i]->str, NULL, 0);
            if (json)
                notify_email_digest_add (digest, json);
            free (json);
        }
        if (digest && notify_email_digest_size (digest) > 0)
            *text = notify_email_digest_render (digest, self->smtp_from, to, self->console_url, 0);
        notify_email_digest_destroy (&digest);
        rc = *text? 0: 1;
    }
    freeReplyObject (ids);
    return rc;
}

static void
s_dispatch_mail (notify_mail_t *self)
{
    if (!self->mailer || self->mail_busy)
        return;
    oim_redis_t *redis = oim_service_redis (self->service);
    redisReply *jobs = notify_store_claim (self->store, redis, OIM_KEY_MAIL_DUE,
                                           oim_clock_wall_ms (), MAIL_LEASE_MS, 1);
    if (jobs && jobs->elements == 1) {
        const char *job = jobs->element [0]->str;
        char to [320] = "", *text = NULL;
        int rc = s_render_job (self, job, &text, to, sizeof to);
        if (rc == 0) {
            zstr_sendx (self->mailer, "SEND", job, to, text, NULL);
            self->mail_busy = true;
        }
        else
        if (rc == 1)
            s_mail_done (self, job);
        free (text);
    }
    if (jobs)
        freeReplyObject (jobs);
}

//  Once per digest period (one replica wins the lock): every org with waiting entries gets
//  one digest mail job.
static void
s_cut_digests (notify_mail_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (now < self->next_digest_ms)
        return;
    self->next_digest_ms = now + (self->digest_interval_ms < 1000? self->digest_interval_ms: 1000);
    oim_redis_t *redis = oim_service_redis (self->service);
    redisReply *lock = oim_redis_command (redis, "SET %s %s PX %lld NX", OIM_KEY_DIGEST_LOCK,
                                          self->consumer, (long long) self->digest_interval_ms);
    bool won = lock && lock->type == REDIS_REPLY_STATUS;
    if (lock)
        freeReplyObject (lock);
    if (!won)
        return;
    redisReply *orgs = oim_redis_command (redis, "SMEMBERS %s", OIM_KEY_DIGEST_ORGS);
    int64_t wall = oim_clock_wall_ms ();
    for (size_t i = 0; orgs && orgs->type == REDIS_REPLY_ARRAY && i < orgs->elements; i++) {
        char suffix [OIM_KEY_SIZE];
        snprintf (suffix, sizeof suffix, "%s:%lld", orgs->element [i]->str, (long long) wall);
        int n = notify_store_cut_digest (self->store, redis, orgs->element [i]->str, suffix, wall);
        if (n > 0)
            oim_info ("event=digest_cut org=%s entries=%d", orgs->element [i]->str, n);
    }
    if (orgs)
        freeReplyObject (orgs);
}

//  ---------------------------------------------------------------------------------------
//  Lifecycle

void
notify_mail_tick (notify_mail_t *self)
{
    s_cut_digests (self);
    s_dispatch_mail (self);
}

//  Starts the mailer actor on smtp (the address inside the sender's <...>, else all of it).
//  Returns 0, or -1 when out of memory.
static int
s_mailer_start (notify_mail_t *self, oim_config_t *config, const char *smtp)
{
    const char *from = self->smtp_from, *lt = strchr (from, '<'), *gt = lt? strchr (lt, '>'): NULL;
    self->mailer_args.smtp_url = strdup (smtp);
    self->mailer_args.username = strdup (oim_config_get (config, "smtp-username"));
    self->mailer_args.password = strdup (oim_config_get (config, "smtp-password"));
    self->mailer_args.from_addr = lt && gt? strndup (lt + 1, (size_t) (gt - lt - 1)): strdup (from);
    if (!self->mailer_args.smtp_url || !self->mailer_args.username
    ||  !self->mailer_args.password || !self->mailer_args.from_addr)
        return -1;
    self->mailer = zactor_new (s_mailer, &self->mailer_args);
    if (!self->mailer)
        return -1;
    zloop_reader (oim_service_loop (self->service), zactor_sock (self->mailer), s_on_mailer, self);
    return 0;
}

notify_mail_t *
notify_mail_new (oim_service_t *service, notify_store_t *store)
{
    oim_config_t *config = oim_service_config (service);
    notify_mail_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->service = service;
    self->store = store;
    snprintf (self->consumer, sizeof self->consumer, "%s", oim_service_instance (service));
    self->digest_interval_ms = oim_config_int (config, "digest-interval-s", 86400) * 1000;
    if (self->digest_interval_ms < 1000)
        self->digest_interval_ms = 1000;
    self->smtp_from = oim_config_get (config, "smtp-from");
    self->console_url = oim_config_get (config, "console-url");
    const char *smtp = oim_config_get (config, "smtp-url");
    if (*smtp && s_mailer_start (self, config, smtp)) {
        notify_mail_destroy (&self);
        return NULL;
    }
    if (!*smtp)
        oim_info ("event=email_off reason=no_smtp_url");
    oim_metrics_t *m = oim_service_metrics (service);
    self->m_mail_sent = oim_metrics_counter (m, "oim_notify_emails_total", "result=\"sent\"", "e-mails");
    self->m_mail_failed = oim_metrics_counter (m, "oim_notify_emails_total", "result=\"failed\"", "e-mails");
    return self;
}

void
notify_mail_destroy (notify_mail_t **self_p)
{
    notify_mail_t *self = self_p? *self_p: NULL;
    if (!self)
        return;
    if (self->mailer) {
        zloop_reader_end (oim_service_loop (self->service), zactor_sock (self->mailer));
        zactor_destroy (&self->mailer);
    }
    free (self->mailer_args.smtp_url);
    free (self->mailer_args.username);
    free (self->mailer_args.password);
    free (self->mailer_args.from_addr);
    free (self);
    *self_p = NULL;
}
