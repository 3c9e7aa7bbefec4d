/*  gateway_actor — see gateway_actor.h.
*/
#include "gateway_actor.h"

int
gateway_actor_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop; (void) arg;
    char *command = zstr_recv (pipe);
    bool term = !command || streq (command, "$TERM");
    zstr_free (&command);
    return term? -1: 0;
}
