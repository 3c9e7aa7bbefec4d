/*  oim-matcher — thin main over the daemon template (common/oim_service.h); the daemon itself
    is matcher_service in matcher_server.c.
*/
#include "matcher_server.h"

int
main (int argc, char **argv)
{
    return oim_service_main (&matcher_service, argc, argv);
}
