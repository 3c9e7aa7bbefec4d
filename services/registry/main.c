/*  oim-registry — thin main over the daemon template (common/oim_service.h); the daemon itself
    is registry_service in registry_server.c.
*/
#include "registry_server.h"

int
main (int argc, char **argv)
{
    return oim_service_main (&registry_service, argc, argv);
}
