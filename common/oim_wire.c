/*  oim_wire — see oim_wire.h. Raw libzmq calls are used on the hot path (czmq's zmsg is about
    3× slower here, STYLE.md); czmq sockets pass in through zsock_resolve.
*/
#include "oim_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_FRAMES 4

void
oim_wire_header_init (Oim__V1__Header *header, Oim__V1__Command command)
{
    oim__v1__header__init (header);
    header->signature = OIM_WIRE_SIGNATURE;
    header->version = OIM_WIRE_VERSION;
    header->command = command;
}

uint8_t *
oim_wire_pack (const ProtobufCMessage *message, size_t *size)
{
    *size = protobuf_c_message_get_packed_size (message);
    uint8_t *buffer = malloc (*size? *size: 1);
    if (buffer)
        protobuf_c_message_pack (message, buffer);
    return buffer;
}

int
oim_wire_send (void *socket, const uint8_t *routing, size_t routing_size,
               const Oim__V1__Header *header, const void *body, size_t body_size)
{
    uint8_t stack [512];
    size_t header_size = oim__v1__header__get_packed_size (header);
    uint8_t *packed = header_size <= sizeof stack? stack: malloc (header_size);
    if (!packed)
        return -1;
    oim__v1__header__pack (header, packed);
    int rc = 0;
    if (routing_size && zmq_send (socket, routing, routing_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        rc = -1;
    if (rc == 0 && zmq_send (socket, packed, header_size, ZMQ_SNDMORE) < 0)
        rc = -1;
    if (rc == 0 && zmq_send (socket, body? body: "", body_size, 0) < 0)
        rc = -1;
    if (packed != stack)
        free (packed);
    return rc;
}

//  Reads every frame of the message waiting on socket. Returns the frame count (frames
//  beyond MAX_FRAMES are read and dropped and make the count MAX_FRAMES + 1), or -1.
static int
s_read_frames (void *socket, zmq_msg_t *frames)
{
    int count = 0;
    int more = 1;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *frame = count < MAX_FRAMES? &frames [count]: &scratch;
        zmq_msg_init (frame);
        if (zmq_msg_recv (frame, socket, 0) < 0) {
            zmq_msg_close (frame);
            if (count == 0)
                return -1;
            break;          //  a multipart message arrives whole; this is a closed socket
        }
        more = zmq_msg_more (frame);
        if (count < MAX_FRAMES)
            count++;
        else {
            zmq_msg_close (frame);
            count = MAX_FRAMES + 1;
        }
    }
    return count;
}

static int
s_parse (zmq_msg_t *frames, int count, bool router, oim_wire_msg_t *msg, const char **reason)
{
    int first = router? 1: 0;
    if (router) {
        size_t size = zmq_msg_size (&frames [0]);
        if (size > OIM_WIRE_MAX_ROUTING_BYTES)
            return *reason = "routing id too long", -1;
        memcpy (msg->routing, zmq_msg_data (&frames [0]), size);
        msg->routing_size = size;
    }
    if (count > MAX_FRAMES || count - first != 2)
        return *reason = "wrong number of frames", -1;
    zmq_msg_t *header = &frames [first];
    zmq_msg_t *body = &frames [first + 1];
    if (zmq_msg_size (header) > OIM_WIRE_MAX_HEADER_BYTES)
        return *reason = "header frame too large", -1;
    if (zmq_msg_size (body) > OIM_WIRE_MAX_BODY_BYTES)
        return *reason = "body frame too large", -1;
    msg->header = oim__v1__header__unpack (NULL, zmq_msg_size (header), zmq_msg_data (header));
    if (!msg->header)
        return *reason = "header is not a protobuf Header", -1;
    if (msg->header->signature != OIM_WIRE_SIGNATURE)
        return *reason = "bad signature", -1;
    if (msg->header->version != OIM_WIRE_VERSION)
        return *reason = "unsupported wire version", -1;
    if (msg->header->command < OIM__V1__COMMAND__COMMAND_READY
    ||  msg->header->command > OIM__V1__COMMAND__COMMAND_DISCONNECT)
        return *reason = "unknown command", -1;
    msg->body_size = zmq_msg_size (body);
    if (msg->body_size) {
        msg->body = malloc (msg->body_size);
        if (!msg->body)
            return *reason = "out of memory", -1;
        memcpy (msg->body, zmq_msg_data (body), msg->body_size);
    }
    return 0;
}

int
oim_wire_recv (void *socket, bool router, oim_wire_msg_t *msg, const char **reason)
{
    zmq_msg_t frames [MAX_FRAMES];
    int count = s_read_frames (socket, frames);
    if (count < 0)
        return -2;
    static const char *none = "";
    *reason = none;
    int rc = s_parse (frames, count, router, msg, reason);
    for (int i = 0; i < count && i < MAX_FRAMES; i++)
        zmq_msg_close (&frames [i]);
    if (rc) {
        size_t routing_size = msg->routing_size;
        uint8_t routing [OIM_WIRE_MAX_ROUTING_BYTES];
        memcpy (routing, msg->routing, routing_size);
        oim_wire_msg_clear (msg);
        memcpy (msg->routing, routing, routing_size);
        msg->routing_size = routing_size;
    }
    return rc;
}

void
oim_wire_msg_clear (oim_wire_msg_t *msg)
{
    if (msg->header)
        oim__v1__header__free_unpacked (msg->header, NULL);
    free (msg->body);
    memset (msg, 0, sizeof *msg);
}
