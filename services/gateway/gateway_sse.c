/*  gateway_sse — see gateway_sse.h. Runs on the connection's own thread (thread per
    connection), so blocking in XREAD holds up nobody else. The XREAD blocks for at most the
    re-check interval, so a revoked key is noticed within about that even on a quiet stream.
*/
#include "gateway_sse.h"
#include "gateway_auth.h"
#include "gateway_session.h"
#include "oim_clock.h"
#include "oim_keys.h"
#include "oim_pbjson.h"
#include "oim_redis.h"
#include "oim_stream.h"
#include "notify.pb-c.h"

#include <czmq.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _gateway_sse_t {
    pthread_mutex_t lock;
    zhashx_t *per_key;              //  key hash -> open streams (size_t in the pointer)
    int open;
    gateway_sse_args_t args;
    char *redis_url;
};

typedef struct {
    gateway_sse_t *owner;
    int client_fd;                  //  the connection's socket, watched for the client leaving
    oim_redis_t *redis;
    char key [OIM_KEY_SIZE];
    char key_hash [GATEWAY_KEY_HASH_SIZE];
    char key_id [64];
    char org_id [64];
    char position [64];
    int64_t next_check_ms;
    int64_t last_write_ms;
    char *pending;                  //  formatted events not yet handed to MHD
    size_t pending_size;
    size_t pending_offset;
} stream_t;

//  ---------------------------------------------------------------------------------------
//  Caps

//  Counts a new stream for key_hash. Returns 0, or 429/503 past a cap (nothing counted).
static unsigned
s_admit (gateway_sse_t *self, const char *key_hash)
{
    pthread_mutex_lock (&self->lock);
    size_t mine = (size_t) zhashx_lookup (self->per_key, key_hash);
    unsigned status = 0;
    if (self->args.max_streams > 0 && self->open >= self->args.max_streams)
        status = 503;
    else
    if (self->args.max_streams_per_key > 0 && mine >= (size_t) self->args.max_streams_per_key)
        status = 429;
    else {
        self->open++;
        zhashx_update (self->per_key, key_hash, (void *) (mine + 1));
    }
    pthread_mutex_unlock (&self->lock);
    return status;
}

static void
s_release (gateway_sse_t *self, const char *key_hash)
{
    pthread_mutex_lock (&self->lock);
    size_t mine = (size_t) zhashx_lookup (self->per_key, key_hash);
    if (mine > 1)
        zhashx_update (self->per_key, key_hash, (void *) (mine - 1));
    else
        zhashx_delete (self->per_key, key_hash);
    self->open--;
    pthread_mutex_unlock (&self->lock);
}

//  ---------------------------------------------------------------------------------------
//  One stream

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

//  True while the stream's key still exists as the same key of the same org, in standing.
//  A session's stream (key_id is then the person, "usr_...") checks the session instead, which
//  also extends the session's idle time while the stream is open.
static bool
s_still_valid (stream_t *self)
{
    gateway_auth_t auth;
    bool session = strncmp (self->key_id, "usr_", 4) == 0;
    if (session)
        gateway_session_lookup_hash (self->redis, self->key_hash, oim_clock_wall_ms (), &auth);
    else
        gateway_auth_lookup (self->redis, self->key_hash, &auth);
    return auth.result == GATEWAY_AUTH_OK && auth.in_standing
        && strcmp (session? auth.user_id: auth.key_id, self->key_id) == 0
        && strcmp (auth.org_id, self->org_id) == 0;
}

//  True when the client has closed its side (the stream would otherwise hold its thread and
//  its cap slot until a write failed, up to two keepalive intervals).
static bool
s_client_gone (stream_t *self)
{
    struct pollfd item = { .fd = self->client_fd, .events = POLLIN };
    if (self->client_fd < 0 || poll (&item, 1, 0) <= 0)
        return false;
    char byte;
    return (item.revents & (POLLHUP | POLLERR))
        || recv (self->client_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

//  Formats the entries of an XREAD reply into out and advances the position.
static void
s_format_entries (stream_t *self, redisReply *reply, FILE *out)
{
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

//  Blocks until entries arrive (or the re-check interval passes) and formats them, with a
//  keepalive comment when the stream has been quiet. Returns 0, or -1 when Redis failed or
//  the key is no longer valid (the stream then ends).
static int
s_fill (stream_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (s_client_gone (self))
        return -1;
    if (now >= self->next_check_ms) {
        if (!s_still_valid (self))
            return -1;
        self->next_check_ms = now + GATEWAY_SSE_RECHECK_MSEC;
    }
    redisReply *reply = oim_redis_command (self->redis, "XREAD COUNT 100 BLOCK %d STREAMS %s %s",
                                           GATEWAY_SSE_RECHECK_MSEC, self->key, self->position);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (reply)
            freeReplyObject (reply);
        return -1;
    }
    free (self->pending);
    self->pending = NULL;
    self->pending_size = self->pending_offset = 0;
    FILE *out = open_memstream (&self->pending, &self->pending_size);
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements)
        s_format_entries (self, reply, out);
    else
    if (oim_clock_mono_ms () - self->last_write_ms >= self->owner->args.keepalive_msec)
        fputs (": keepalive\n\n", out);
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
            return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = self->pending_size - self->pending_offset;
    if (n > max)
        n = max;
    memcpy (buf, self->pending + self->pending_offset, n);
    self->pending_offset += n;
    self->last_write_ms = oim_clock_mono_ms ();
    return (ssize_t) n;
}

static void
s_free (void *cls)
{
    stream_t *self = cls;
    s_release (self->owner, self->key_hash);
    oim_redis_destroy (&self->redis);
    free (self->pending);
    free (self);
}

//  Pins "from now on" (no Last-Event-ID) to the newest entry's id: XREAD ... $ on every call
//  would miss what arrives between two calls.
static void
s_position (stream_t *self, const char *last_event_id)
{
    //  only a well-formed stream id resumes ("1-2-3", "-" or "12-" would reach XREAD and
    //  fail there on every poll); anything else starts from now, as no header does
    oim_stream_id_t id;
    if (last_event_id && oim_stream_id_parse (last_event_id, &id) == 0) {
        snprintf (self->position, sizeof self->position, "%llu-%llu",
                  (unsigned long long) id.ms, (unsigned long long) id.seq);
        return;
    }
    snprintf (self->position, sizeof self->position, "0-0");
    redisReply *last = oim_redis_command (self->redis, "XREVRANGE %s + - COUNT 1", self->key);
    if (last && last->type == REDIS_REPLY_ARRAY && last->elements)
        snprintf (self->position, sizeof self->position, "%s", last->element [0]->element [0]->str);
    if (last)
        freeReplyObject (last);
}

struct MHD_Response *
gateway_sse_open (gateway_sse_t *self, int client_fd, const char *key_hash, const char *key_id,
                  const char *org_id, const char *last_event_id, unsigned *status)
{
    *status = s_admit (self, key_hash);
    if (*status)
        return NULL;
    stream_t *stream = calloc (1, sizeof *stream);
    stream->owner = self;
    stream->client_fd = client_fd;
    snprintf (stream->key_hash, sizeof stream->key_hash, "%s", key_hash);
    //  The command timeout must outlast the blocking read.
    stream->redis = oim_redis_new (self->redis_url, self->args.redis_timeout_msec,
                                   GATEWAY_SSE_RECHECK_MSEC + self->args.redis_timeout_msec);
    if (!stream->redis) {
        *status = 503;
        s_free (stream);
        return NULL;
    }
    snprintf (stream->key_id, sizeof stream->key_id, "%s", key_id);
    snprintf (stream->org_id, sizeof stream->org_id, "%s", org_id);
    snprintf (stream->key, sizeof stream->key, OIM_KEY_FEED, org_id);
    s_position (stream, last_event_id);
    stream->next_check_ms = oim_clock_mono_ms () + GATEWAY_SSE_RECHECK_MSEC;
    //  A first write so the client sees the stream open at once.
    stream->pending = strdup (": connected\n\n");
    stream->pending_size = strlen (stream->pending);
    struct MHD_Response *response = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 4096,
                                                                       s_read, stream, s_free);
    MHD_add_response_header (response, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header (response, "Cache-Control", "no-cache");
    //  When the stream ends (key revoked, org suspended) the client sees the connection close.
    MHD_add_response_header (response, "Connection", "close");
    return response;
}

gateway_sse_t *
gateway_sse_new (const gateway_sse_args_t *args)
{
    gateway_sse_t *self = zmalloc (sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    self->per_key = zhashx_new ();
    self->args = *args;
    self->redis_url = strdup (args->redis_url);
    self->args.redis_url = self->redis_url;
    if (self->args.keepalive_msec <= 0)
        self->args.keepalive_msec = 15000;
    return self;
}

void
gateway_sse_destroy (gateway_sse_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_sse_t *self = *self_p;
    zhashx_destroy (&self->per_key);
    pthread_mutex_destroy (&self->lock);
    free (self->redis_url);
    free (self);
    *self_p = NULL;
}

int
gateway_sse_count (gateway_sse_t *self)
{
    pthread_mutex_lock (&self->lock);
    int open = self->open;
    pthread_mutex_unlock (&self->lock);
    return open;
}
