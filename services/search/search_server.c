/*  search_server — the oim-search daemon (full-text and faceted search; any number of
    replicas). Its index and API arrive with the search issue; until then it runs on the
    template: connects, registers, answers oim.status and oim.metrics.
*/
#include "search_server.h"

static const oim_method_t s_methods [] = {
    { NULL, NULL, NULL }
};

const oim_service_def_t search_service = {
    .name = "search",
    .summary = "bilingual full-text and faceted search over startups, companies and demands",
    .methods = s_methods,
};
