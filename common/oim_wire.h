/*  oim_wire — the broker link's framing (proto/wire.proto): [Header][body], preceded on ROUTER
    sockets by the peer's routing id. Sizes are checked before anything is unpacked; a
    malformed message is refused with a reason and never crashes the receiver.
*/
#ifndef OIM_WIRE_H_INCLUDED
#define OIM_WIRE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire.pb-c.h"

#define OIM_WIRE_SIGNATURE          0x4F494D31u     //  "OIM1"
#define OIM_WIRE_VERSION            1
#define OIM_WIRE_MAX_HEADER_BYTES   4096
#define OIM_WIRE_MAX_BODY_BYTES     (8 * 1024 * 1024)
#define OIM_WIRE_MAX_ROUTING_BYTES  255

typedef struct {
    uint8_t routing [OIM_WIRE_MAX_ROUTING_BYTES];   //  ROUTER sockets: the sender's id
    size_t routing_size;
    Oim__V1__Header *header;                        //  owned; NULL after clear
    uint8_t *body;                                  //  owned copy; NULL when empty
    size_t body_size;
} oim_wire_msg_t;

//  Initialises a header on the stack: signature, version and command set, the rest empty.
//  The strings it points to stay the caller's.
void oim_wire_header_init (Oim__V1__Header *header, Oim__V1__Command command);

//  Sends [routing][header][body] (routing omitted when routing_size is 0) on a raw ZeroMQ
//  socket handle (zsock_resolve). Returns 0, or -1 with errno set (EHOSTUNREACH: a ROUTER
//  with ROUTER_MANDATORY does not know the peer; EAGAIN: would block) — nothing is sent then.
int oim_wire_send (void *socket, const uint8_t *routing, size_t routing_size,
                   const Oim__V1__Header *header, const void *body, size_t body_size);

//  Receives one whole message into msg (which must be zeroed or cleared). With router set, the
//  first frame is the routing id. Returns 0 on success; -1 for a malformed message, which is
//  consumed entirely (every frame read), with *reason saying why and msg->routing filled
//  when it was readable; -2 when nothing could be read (timeout, interrupted, closed).
int oim_wire_recv (void *socket, bool router, oim_wire_msg_t *msg, const char **reason);

//  Frees what msg owns and zeroes it. Safe on a zeroed msg.
void oim_wire_msg_clear (oim_wire_msg_t *msg);

//  Packs any protobuf-c message into a new buffer (caller frees); *size gets its length.
uint8_t *oim_wire_pack (const ProtobufCMessage *message, size_t *size);

#endif
