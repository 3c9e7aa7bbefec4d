/*  notify_server — the oim-notify daemon (webhooks, inbox, e-mail, ZeroMQ feed). Its delivery
    pipeline arrives with the notify issue; until then it runs on the template: connects,
    registers, answers oim.status and oim.metrics.
*/
#include "notify_server.h"

static const oim_method_t s_methods [] = {
    { NULL, NULL, NULL }
};

const oim_service_def_t notify_service = {
    .name = "notify",
    .summary = "signed webhooks, inbox, e-mail and a ZeroMQ feed of notifications",
    .methods = s_methods,
};
