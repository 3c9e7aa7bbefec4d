/*  registry_request — the helpers every handler module shares (registry_request.h). */
#include "registry_request.h"

static const Oim__V1__Principal s_anonymous = OIM__V1__PRINCIPAL__INIT;

registry_t *
registry_of (oim_service_t *service)
{
    return oim_service_state (service);
}

registry_actor_t
registry_actor (const Oim__V1__ApiRequest *request)
{
    registry_actor_t actor = {
        .principal = request->principal? request->principal: &s_anonymous,
        .request_id = request->request_id? request->request_id: "",
    };
    return actor;
}

bool
registry_is (const registry_actor_t *actor, Oim__V1__Role role)
{
    return actor->principal->role == role;
}

Oim__V1__Role
registry_role_of_kind (const char *kind)
{
    return strcmp (kind, "agency") == 0? OIM__V1__ROLE__ROLE_AGENCY
         : strcmp (kind, "company") == 0? OIM__V1__ROLE__ROLE_COMPANY
         : OIM__V1__ROLE__ROLE_STARTUP;
}

int64_t
registry_if_match (const Oim__V1__ApiRequest *request)
{
    const char *text = request->if_match;
    if (!text || !*text)
        return 0;
    char *end;
    long long version = strtoll (text, &end, 10);
    return *end || version < 1? -1: version;
}

void
registry_reply_err (oim_api_reply_t *reply, const registry_err_t *err)
{
    oim_api_error (reply, err->status, err->status == 400? "invalid": "unprocessable",
                   err->field, "%s", err->message);
}

void
registry_reply_unavailable (oim_api_reply_t *reply)
{
    oim_api_error (reply, 503, "unavailable", NULL, "the registry cannot reach Redis");
}

ProtobufCMessage *
registry_load_live (registry_t *self, const Oim__V1__ApiRequest *request, const char *id_prefix,
                    const char *key_format, const ProtobufCMessageDescriptor *descriptor,
                    const char *what, bool watch, oim_api_reply_t *reply)
{
    ProtobufCMessage *entity = NULL;
    int rc = registry_store_load_live (self->redis, oim_api_param (request, "id"), id_prefix,
                                       key_format, descriptor, watch, &entity);
    if (rc == -1)
        registry_reply_unavailable (reply);
    else
    if (rc == 0)
        oim_api_error (reply, 404, "not_found", "id", "no such %s", what);
    return entity;
}

void
registry_reply_tx (oim_api_reply_t *reply, int rc, uint32_t status, json_t *body)
{
    if (rc == 0)
        return oim_api_ok (reply, status, body);
    json_decref (body);
    if (rc == 1)
        oim_api_error (reply, 409, "version_conflict", NULL, "changed concurrently; retry");
    else
        registry_reply_unavailable (reply);
}
