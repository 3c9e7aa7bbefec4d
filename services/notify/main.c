/*  oim-notify — thin main over the daemon template (common/oim_service.h); the daemon itself
    is notify_service in notify_server.c.
*/
#include "notify_server.h"

int
main (int argc, char **argv)
{
    return oim_service_main (&notify_service, argc, argv);
}
