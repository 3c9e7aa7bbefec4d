/*  gateway_routes — see gateway_routes.h. Adding an endpoint = one line here plus a handler
    registered under the same operation name in the owning daemon's method table.
*/
#include "gateway_routes.h"

#include <stdio.h>
#include <string.h>

static const gateway_route_t s_routes [] = {
    //  The gateway's own endpoints (answered in gateway_http.c)
    { "GET",    "/",                                "gateway",  "console",              false },
    { "GET",    "/console",                         "gateway",  "console",              false },
    { "GET",    "/app/{file}",                      "gateway",  "static",               false },
    { "GET",    "/app/{dir}/{file}",                "gateway",  "static",               false },
    { "GET",    "/v1/whoami",                       "gateway",  "whoami",               true  },
    { "GET",    "/healthz",                         "gateway",  "healthz",              false },
    { "GET",    "/readyz",                          "gateway",  "readyz",               false },
    { "GET",    "/metrics",                         "gateway",  "metrics",              false },
    { "GET",    "/v1/status",                       "gateway",  "status",               false },
    { "GET",    "/v1/status/{service}",             "gateway",  "status_one",           false },
    { "GET",    "/v1/openapi.json",                 "gateway",  "openapi",              false },
    //  Registry: organizations, keys, taxonomy, publishers, events, audit
    { "POST",   "/v1/orgs",                         "registry", "org.create",           false },
    { "GET",    "/v1/orgs",                         "registry", "org.list",             true  },
    { "GET",    "/v1/orgs/{id}",                    "registry", "org.get",              false },
    { "PATCH",  "/v1/orgs/{id}",                    "registry", "org.update",           true  },
    { "DELETE", "/v1/orgs/{id}",                    "registry", "org.delete",           true  },
    { "POST",   "/v1/orgs/{id}/approve",            "registry", "org.approve",          true  },
    { "POST",   "/v1/orgs/{id}/suspend",            "registry", "org.suspend",          true  },
    { "GET",    "/v1/orgs/{id}/api-keys",           "registry", "api_key.list",         true  },
    { "POST",   "/v1/orgs/{id}/api-keys",           "registry", "api_key.create",       true  },
    { "DELETE", "/v1/orgs/{id}/api-keys/{key_id}",  "registry", "api_key.delete",       true  },
    //  Registry: people and sessions (issue 16, registry_accounts/_sessions/_tokens.c)
    { "POST",   "/v1/agency/staff",                 "registry", "staff.create",         true  },
    { "GET",    "/v1/orgs/{id}/members",            "registry", "member.list",          true  },
    { "DELETE", "/v1/orgs/{id}/members/{user_id}",  "registry", "member.remove",        true  },
    { "PATCH",  "/v1/orgs/{id}/members/{user_id}",  "registry", "member.update",        true  },
    { "POST",   "/v1/orgs/{id}/invitations",        "registry", "invitation.create",    true  },
    { "POST",   "/v1/invitations/{token}/accept",   "registry", "invitation.accept",    false },
    { "POST",   "/v1/email-verifications/{token}",  "registry", "email.verify",         false },
    { "POST",   "/v1/password-resets",              "registry", "password_reset.request", false },
    { "POST",   "/v1/password-resets/{token}",      "registry", "password_reset.confirm", false },
    { "POST",   "/v1/sessions",                     "registry", "session.create",       false },
    { "GET",    "/v1/sessions/current",             "registry", "session.current",      true  },
    { "DELETE", "/v1/sessions/current",             "registry", "session.delete",       true  },
    { "PUT",    "/v1/orgs/{id}/feed-key",           "registry", "org.feed_key_put",     true  },
    { "DELETE", "/v1/orgs/{id}/feed-key",           "registry", "org.feed_key_delete",  true  },
    { "GET",    "/v1/taxonomy",                     "registry", "taxonomy.get",         false },
    { "POST",   "/v1/demands",                      "registry", "demand.create",        true  },
    { "GET",    "/v1/demands",                      "registry", "demand.list",          false },
    { "GET",    "/v1/demands/{id}",                 "registry", "demand.get",           false },
    { "PATCH",  "/v1/demands/{id}",                 "registry", "demand.update",        true  },
    { "POST",   "/v1/demands/{id}/close",           "registry", "demand.close",         true  },
    { "POST",   "/v1/demands/{id}/award",           "registry", "demand.award",         true  },
    { "POST",   "/v1/demands/{id}/approve",         "registry", "demand.approve",       true  },
    { "POST",   "/v1/demands/{id}/return",          "registry", "demand.return",        true  },
    { "POST",   "/v1/demands/{id}/resubmit",        "registry", "demand.resubmit",      true  },
    { "POST",   "/v1/demands/{id}/renew",           "registry", "demand.renew",         true  },
    { "GET",    "/v1/admin/settings",               "registry", "settings.get",         true  },
    { "PUT",    "/v1/admin/settings",               "registry", "settings.put",         true  },
    { "GET",    "/v1/admin/review-queue",           "registry", "review.queue",         true  },
    { "POST",   "/v1/admin/announcements",          "registry", "announcement.create",  true  },
    { "GET",    "/v1/admin/announcements",          "registry", "announcement.list",    true  },
    { "GET",    "/v1/admin/export/{file}",          "registry", "export.csv",           true  },
    { "POST",   "/v1/publishers",                   "registry", "publisher.create",     true  },
    { "PUT",    "/v1/publishers/{id}/curve-key",    "registry", "publisher.curve_key",  true  },
    { "GET",    "/v1/publishers",                   "registry", "publisher.list",       true  },
    { "POST",   "/v1/publishers/{id}/api-keys",     "registry", "publisher.key_rotate", true  },
    { "DELETE", "/v1/publishers/{id}/api-keys",     "registry", "publisher.key_revoke", true  },
    { "POST",   "/v1/events/demands",               "registry", "events.ingest",        true  },
    { "POST",   "/v1/events/organizations",         "registry", "org_events.ingest",    true  },
    { "GET",    "/v1/admin/audit",                  "registry", "audit.list",           true  },
    { "GET",    "/v1/admin/stats",                  "registry", "admin.stats",          true  },
    { "POST",   "/v1/saved-searches",               "registry", "saved_search.create",  true  },
    { "GET",    "/v1/saved-searches",               "registry", "saved_search.list",    true  },
    { "DELETE", "/v1/saved-searches/{id}",          "registry", "saved_search.delete",  true  },
    //  Search
    { "GET",    "/v1/search",                       "search",   "search.query",         false },
    { "GET",    "/v1/suggest",                      "search",   "search.suggest",       false },
    //  Matcher
    { "GET",    "/v1/demands/{id}/matches",         "matcher",  "match.list_demand",    true  },
    { "GET",    "/v1/orgs/{id}/matches",            "matcher",  "match.list_org",       true  },
    { "POST",   "/v1/matches/{id}/interest",        "matcher",  "match.interest",       true  },
    { "POST",   "/v1/matches/{id}/decline",         "matcher",  "match.decline",        true  },
    { "POST",   "/v1/demands/{id}/proposals",       "matcher",  "rel.propose",          true  },
    { "GET",    "/v1/relationships",                "matcher",  "rel.list",             true  },
    { "POST",   "/v1/relationships/{id}/accept",    "matcher",  "rel.accept",           true  },
    { "POST",   "/v1/relationships/{id}/decline",   "matcher",  "rel.decline",          true  },
    { "POST",   "/v1/relationships/{id}/outcome",   "matcher",  "rel.outcome",          true  },
    { "POST",   "/v1/relationships/{id}/messages",  "matcher",  "rel.messages_post",    true  },
    { "GET",    "/v1/relationships/{id}/messages",  "matcher",  "rel.messages_list",    true  },
    { "POST",   "/v1/relationships/{id}/read",      "matcher",  "rel.messages_read",    true  },
    //  Notify
    { "GET",    "/v1/notifications",                "notify",   "notification.list",    true  },
    { "POST",   "/v1/notifications/{id}/read",      "notify",   "notification.read",    true  },
    { "GET",    "/v1/notifications/stream",         "gateway",  "notification.stream",  true  },
    { "PUT",    "/v1/orgs/{id}/webhook",            "notify",   "webhook.put",          true  },
    { "GET",    "/v1/orgs/{id}/webhook",            "notify",   "webhook.get",          true  },
    { "POST",   "/v1/orgs/{id}/webhook/test",       "notify",   "webhook.test",         true  },
    { "PUT",    "/v1/orgs/{id}/preferences",        "notify",   "preferences.put",      true  },
    { "GET",    "/v1/orgs/{id}/preferences",        "notify",   "preferences.get",      true  },
    { "GET",    "/v1/deliveries",                   "notify",   "delivery.list",        true  },
    { "POST",   "/v1/deliveries/{id}/retry",        "notify",   "delivery.retry",       true  },
    { NULL, NULL, NULL, NULL, false }
};

//  Matches one pattern against path; fills params. True on a match.
static bool
s_match (const char *pattern, const char *path, gateway_params_t *params)
{
    params->count = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr (p, '}');
            size_t len = strcspn (s, "/");
            if (!close || len == 0 || len >= sizeof params->values [0]
            ||  params->count == GATEWAY_MAX_PARAMS)
                return false;
            int i = params->count++;
            params->names [i][0] = 0;
            memcpy (params->values [i], s, len);
            params->values [i][len] = 0;
            p = close + 1;
            s += len;
        }
        else
        if (*p++ != *s++)
            return false;
    }
    return *p == 0 && *s == 0;
}

const gateway_route_t *
gateway_routes_match (const char *method, const char *path, gateway_params_t *params,
                      bool *path_known, char *allow, size_t allow_size)
{
    *path_known = false;
    allow [0] = 0;
    const gateway_route_t *found = NULL;
    for (const gateway_route_t *r = s_routes; r->method; r++) {
        if (!s_match (r->pattern, path, params))
            continue;
        size_t used = strlen (allow);
        snprintf (allow + used, allow_size - used, "%s%s", used? ", ": "", r->method);
        *path_known = true;
        if (strcmp (r->method, method) == 0 && !found)
            found = r;
    }
    if (found) {
        s_match (found->pattern, path, params);
        //  Name the captured values after the pattern's {names}.
        const char *p = found->pattern;
        for (int i = 0; i < params->count; i++) {
            p = strchr (p, '{') + 1;
            size_t len = strcspn (p, "}");
            snprintf (params->names [i], sizeof params->names [i], "%.*s", (int) len, p);
        }
    }
    return found;
}

const gateway_route_t *
gateway_routes_table (void)
{
    return s_routes;
}
