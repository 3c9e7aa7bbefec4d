/*  gateway_sse — see gateway_sse.h. Runs on the connection's own thread (thread per
    connection), so blocking in XREAD holds up nobody else.
*/
#include "gateway_sse.h"
#include "oim_keys.h"
#include "oim_pbjson.h"
#include "oim_redis.h"
#include "notify.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_MSEC 15000

typedef struct {
    oim_redis_t *redis;
    char key [OIM_KEY_SIZE];
    char position [64];
    char *pending;                  //  formatted events not yet handed to MHD
    size_t pending_size;
    size_t pending_offset;
} stream_t;

//  One SSE event for a feed entry, appended to out.
static void
s_format (FILE *out, const char *id, const uint8_t *data, size_t size)
{
    Oim__V1__Notification *n = oim__v1__notification__unpack (NULL, size, data);
    if (!n)
        return;
    json_t *json = oim_pbjson_encode (&n->base, 0);
    json_t *payload = json_loads (n->data_json, 0, NULL);
    json_object_del (json, "data_json");
    json_object_set_new (json, "data", payload? payload: json_object ());
    char *text = json_dumps (json, JSON_COMPACT);
    fprintf (out, "id: %s\nevent: %s\ndata: %s\n\n", id, n->type, text);
    free (text);
    json_decref (json);
    oim__v1__notification__free_unpacked (n, NULL);
}

//  Blocks until entries arrive (or BLOCK_MSEC pass) and formats them. Returns 0, or -1 when
//  Redis failed (the stream then ends; the client reconnects with Last-Event-ID).
static int
s_fill (stream_t *self)
{
    redisReply *reply = oim_redis_command (self->redis, "XREAD COUNT 100 BLOCK %d STREAMS %s %s",
                                           BLOCK_MSEC, self->key, self->position);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (reply)
            freeReplyObject (reply);
        return -1;
    }
    free (self->pending);
    self->pending = NULL;
    self->pending_size = self->pending_offset = 0;
    FILE *out = open_memstream (&self->pending, &self->pending_size);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0)
        fputs (": keepalive\n\n", out);
    else {
        redisReply *entries = reply->element [0]->element [1];
        for (size_t i = 0; i < entries->elements; i++) {
            redisReply *entry = entries->element [i];
            redisReply *fields = entry->element [1];
            for (size_t f = 0; f + 1 < fields->elements; f += 2)
                if (strcmp (fields->element [f]->str, "n") == 0)
                    s_format (out, entry->element [0]->str, (uint8_t *) fields->element [f + 1]->str,
                              fields->element [f + 1]->len);
            snprintf (self->position, sizeof self->position, "%s", entry->element [0]->str);
        }
    }
    fclose (out);
    freeReplyObject (reply);
    return 0;
}

static ssize_t
s_read (void *cls, uint64_t pos, char *buf, size_t max)
{
    (void) pos;
    stream_t *self = cls;
    while (self->pending_offset >= self->pending_size)
        if (s_fill (self))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = self->pending_size - self->pending_offset;
    if (n > max)
        n = max;
    memcpy (buf, self->pending + self->pending_offset, n);
    self->pending_offset += n;
    return (ssize_t) n;
}

static void
s_free (void *cls)
{
    stream_t *self = cls;
    oim_redis_destroy (&self->redis);
    free (self->pending);
    free (self);
}

struct MHD_Response *
gateway_sse_response (const char *redis_url, int redis_timeout_msec, const char *org_id,
                      const char *last_event_id)
{
    stream_t *self = calloc (1, sizeof *self);
    //  The command timeout must outlast the blocking read.
    self->redis = oim_redis_new (redis_url, redis_timeout_msec, BLOCK_MSEC + redis_timeout_msec);
    if (!self->redis) {
        free (self);
        return NULL;
    }
    snprintf (self->key, sizeof self->key, OIM_KEY_FEED, org_id);
    bool resume = last_event_id && *last_event_id
               && strspn (last_event_id, "0123456789-") == strlen (last_event_id);
    snprintf (self->position, sizeof self->position, "%s", resume? last_event_id: "0-0");
    if (!resume) {
        //  "From now on" is the newest entry's id, pinned now: XREAD ... $ on every call
        //  would miss what arrives between two calls.
        redisReply *last = oim_redis_command (self->redis, "XREVRANGE %s + - COUNT 1", self->key);
        if (last && last->type == REDIS_REPLY_ARRAY && last->elements)
            snprintf (self->position, sizeof self->position, "%s", last->element [0]->element [0]->str);
        if (last)
            freeReplyObject (last);
    }
    //  A first write so the client sees the stream open at once.
    self->pending = strdup (": connected\n\n");
    self->pending_size = strlen (self->pending);
    struct MHD_Response *response = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 4096,
                                                                       s_read, self, s_free);
    MHD_add_response_header (response, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header (response, "Cache-Control", "no-cache");
    return response;
}
