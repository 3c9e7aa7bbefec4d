/*  oim-search — thin main over the daemon template (common/oim_service.h); the daemon itself
    is search_service in search_server.c.
*/
#include "search_server.h"

int
main (int argc, char **argv)
{
    return oim_service_main (&search_service, argc, argv);
}
