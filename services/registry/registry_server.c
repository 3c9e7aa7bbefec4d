/*  registry_server — the oim-registry daemon: source of truth for organizations, API keys,
    demands, publishers and saved searches, and writer of the change log (proto/changelog.proto)
    and the audit log. This file holds the daemon definition for the template (options, method
    table, start/tick/stop) only; the helpers the handlers share are in registry_request.c.
*/
#include "registry_server.h"
#include "registry.h"

#define SWEEP_INTERVAL_MSEC 1000

static const char *s_ingest_statuses [] = { "created", "updated", "closed", "deleted",
                                            "duplicate", "stale", "invalid", NULL };

static const oim_option_t s_options [] = {
    { "bootstrap-agency-key", "OIM_BOOTSTRAP_AGENCY_KEY", "",
      "API key of the agency created at first start (required while no agency exists; at least "
      "32 characters, or the registry refuses to start)", false },
    { "changelog-retain-s", "OIM_CHANGELOG_RETAIN_S", "604800", "oim:changelog entries every "
      "consumer group has acknowledged are trimmed once this old (seconds; -1 = never)", false },
    { "audit-retain-s", "OIM_AUDIT_RETAIN_S", "7776000", "oim:audit entries are trimmed once "
      "this old (seconds; -1 = never)", false },
    REGISTRY_ACCOUNT_OPTIONS,
    { "demand-reminder-days", "OIM_DEMAND_REMINDER_DAYS", "7", "the owner of an open demand "
      "gets a demand.expiring notification this many days before closes_at (0 = never)", false },
    { "test-clock-file", "OIM_TEST_CLOCK_FILE", "", "tests only: a file holding the time "
      "(unix ms or RFC 3339) the reminder chore and renewals take as now; empty = the wall "
      "clock", false },
    OIM_OPTION_END
};

static const oim_method_t s_methods [] = {
    { "org.create",             registry_org_create, NULL },
    { "org.get",                registry_org_get, NULL },
    { "org.update",             registry_org_update, NULL },
    { "org.delete",             registry_org_delete, NULL },
    { "org.approve",            registry_org_approve, NULL },
    { "org.suspend",            registry_org_suspend, NULL },
    { "api_key.list",           registry_api_key_list, NULL },
    { "api_key.create",         registry_api_key_create, NULL },
    { "api_key.delete",         registry_api_key_delete, NULL },
    { "staff.create",           registry_staff_create, NULL },
    { "member.list",            registry_member_list, NULL },
    { "member.remove",          registry_member_remove, NULL },
    { "member.update",          registry_member_update, NULL },
    { "org.list",               registry_org_list, NULL },
    { "publisher.list",         registry_publisher_list, NULL },
    { "publisher.key_rotate",   registry_publisher_key_rotate, NULL },
    { "publisher.key_revoke",   registry_publisher_key_revoke, NULL },
    { "session.create",         registry_session_create, NULL },
    { "session.current",        registry_session_current, NULL },
    { "session.delete",         registry_session_delete, NULL },
    { "invitation.create",      registry_invitation_create, NULL },
    { "invitation.accept",      registry_invitation_accept, NULL },
    { "email.verify",           registry_email_verify, NULL },
    { "password_reset.request", registry_password_reset_request, NULL },
    { "password_reset.confirm", registry_password_reset_confirm, NULL },
    { "org.feed_key_put",       registry_feedkey_put, NULL }, { "org.feed_key_delete", registry_feedkey_delete, NULL },
    { "taxonomy.get",           registry_taxonomy_get, NULL },
    { "demand.create",          registry_demand_create, NULL },
    { "demand.list",            registry_demand_list, NULL },
    { "demand.get",             registry_demand_get, NULL },
    { "demand.update",          registry_demand_update, NULL },
    { "demand.close",           registry_demand_close, NULL },
    { "demand.award",           registry_demand_award, NULL },
    { "publisher.create",       registry_publisher_create, NULL },
    { "publisher.curve_key",    registry_publisher_curve_key, NULL },
    { "events.ingest",          registry_events_ingest, NULL },
    { "org_events.ingest",      registry_org_events_ingest, NULL },
    { "settings.get",           registry_settings_get, NULL },
    { "settings.put",           registry_settings_put, NULL },
    { "review.queue",           registry_review_queue, NULL },
    { "demand.approve",         registry_demand_approve, NULL },
    { "demand.return",          registry_demand_return, NULL },
    { "demand.resubmit",        registry_demand_resubmit, NULL },
    { "demand.renew",           registry_demand_renew, NULL },
    { "announcement.create",    registry_announcement_create, NULL },
    { "announcement.list",      registry_announcement_list, NULL },
    { "export.csv",             registry_export_csv, NULL },
    { "audit.list",             registry_audit_list, NULL },
    { "admin.stats",            registry_admin_stats, NULL },
    { "saved_search.create",    registry_saved_search_create, NULL },
    { "saved_search.list",      registry_saved_search_list, NULL },
    { "saved_search.delete",    registry_saved_search_delete, NULL },
    { "ingest.batch",           NULL, registry_ingest_batch },
    { NULL, NULL, NULL }
};

static int
s_start (oim_service_t *service)
{
    registry_t *self = calloc (1, sizeof *self);
    assert (self);
    self->service = service;
    self->redis = oim_service_redis (service);
    oim_metrics_t *metrics = oim_service_metrics (service);
    for (int i = 0; s_ingest_statuses [i]; i++) {
        char labels [64];
        snprintf (labels, sizeof labels, "status=\"%s\"", s_ingest_statuses [i]);
        self->m_events [i] = oim_metrics_counter (metrics, "oim_registry_ingest_events_total",
                                                  labels, "demand events processed, by result");
    }
    self->m_unpacked = oim_metrics_counter (metrics, "oim_registry_ingest_unpacked_total", NULL,
        "ZeroMQ ingest batches unpacked: only after their api_key was authenticated");
    self->infer = registry_infer_new ();
    self->accounts = registry_accounts_new (oim_service_config (service));
    if (!self->infer || !self->accounts) {
        registry_infer_destroy (&self->infer);
        registry_accounts_destroy (&self->accounts);
        free (self);
        return -1;
    }
    oim_service_set_state (service, self);
    const char *key = oim_config_get (oim_service_config (service), "bootstrap-agency-key");
    if (registry_orgs_bootstrap (self, key) == 0)
        return 0;
    registry_infer_destroy (&self->infer);
    registry_accounts_destroy (&self->accounts);
    free (self);
    oim_service_set_state (service, NULL);
    return -1;
}

static void
s_tick (oim_service_t *service)
{
    registry_t *self = oim_service_state (service);
    int64_t now = oim_clock_mono_ms ();
    registry_retention_trim (self);
    if (now < self->next_sweep_ms)
        return;
    self->next_sweep_ms = now + SWEEP_INTERVAL_MSEC;
    registry_demands_sweep (self);
    registry_review_remind (self);
}

static void
s_stop (oim_service_t *service)
{
    registry_t *self = oim_service_state (service);
    if (self) {
        registry_infer_destroy (&self->infer);
        registry_accounts_destroy (&self->accounts);
    }
    free (self);
    oim_service_set_state (service, NULL);
}

const oim_service_def_t registry_service = {
    .name = "registry",
    .summary = "organizations, API keys, demands and the change log",
    .options = s_options,
    .methods = s_methods,
    .start = s_start,
    .tick = s_tick,
    .stop = s_stop,
};
