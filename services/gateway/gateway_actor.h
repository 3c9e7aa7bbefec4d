/*  gateway_actor — what the gateway's three actors (broker, ZAP handler, feed) share.
*/
#ifndef GATEWAY_ACTOR_H_INCLUDED
#define GATEWAY_ACTOR_H_INCLUDED

#include <czmq.h>

//  zloop reader for an actor's pipe: returns -1 (ends the loop) on "$TERM" or when the pipe
//  is gone; any other command is read and ignored (0).
int gateway_actor_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg);

#endif
