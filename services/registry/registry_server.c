/*  registry_server — the oim-registry daemon (source of truth: organizations, keys, demands,
    saved searches, the change log). Its API handlers arrive with the registry issue; until
    then it runs on the template: connects, registers, answers oim.status and oim.metrics.
*/
#include "registry_server.h"

static const oim_method_t s_methods [] = {
    { NULL, NULL, NULL }
};

const oim_service_def_t registry_service = {
    .name = "registry",
    .summary = "organizations, API keys, demands and the change log",
    .methods = s_methods,
};
