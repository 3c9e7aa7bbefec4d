/*  matcher_server — the oim-matcher daemon (scores demands against startups both ways and
    keeps explained matches). Its logic arrives with the matcher issue; until then it runs on
    the template: connects, registers, answers oim.status and oim.metrics.
*/
#include "matcher_server.h"

static const oim_method_t s_methods [] = {
    { NULL, NULL, NULL }
};

const oim_service_def_t matcher_service = {
    .name = "matcher",
    .summary = "two-way, explainable matching of demands and startups",
    .methods = s_methods,
};
