/*  registry_retention — bounded retention of the two streams the registry writes.

    oim:changelog: entries older than changelog-retain-s (OIM_CHANGELOG_RETAIN_S, default 7
    days; -1 never) are trimmed, but never one a consumer group still needs: the bound is
    lowered to each group's oldest pending entry, or, with none pending, its last delivered
    one (what oim-notify does for oim:events). So the matcher's group never loses an entry
    it has not acknowledged. Readers without a group — search replicas, the matcher's
    followers — that fall behind a trim see the gap and rebuild from a snapshot of the
    registry's state (search_sync.c, matcher_server.c).
    oim:audit: entries older than audit-retain-s (OIM_AUDIT_RETAIN_S, default 90 days; -1
    never) are trimmed; nothing consumes it in a group (GET /v1/admin/audit reads it).

    Trimming is XTRIM MINID <ms>-<seq> (entries below the id go; ids are creation times), at
    most once a second, from the daemon's tick. With several registry replicas each trims;
    a trim is idempotent.
*/
#include "registry.h"

#include <stdio.h>

#define TRIM_INTERVAL_MSEC 1000

typedef struct {
    uint64_t ms, seq;
} s_id_t;

//  A stream id's parts; false when text is not one.
static bool
s_id_parse (const char *text, s_id_t *id)
{
    unsigned long long ms, seq;
    if (!text || sscanf (text, "%llu-%llu", &ms, &seq) != 2)
        return false;
    *id = (s_id_t) { ms, seq };
    return true;
}

static bool
s_id_less (s_id_t a, s_id_t b)
{
    return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq);
}

//  The value of field name in an XINFO reply (name, value, name, value...), or NULL.
static const redisReply *
s_info_field (const redisReply *info, const char *name)
{
    for (size_t k = 0; info->type == REDIS_REPLY_ARRAY && k + 1 < info->elements; k += 2)
        if (info->element [k]->type == REDIS_REPLY_STRING && strcmp (info->element [k]->str, name) == 0)
            return info->element [k + 1];
    return NULL;
}

//  Lowers *bound to where one group's unfinished entries start (its oldest pending entry,
//  else its last delivered one). False when that cannot be told (then nothing is trimmed).
static bool
s_group_bound (registry_t *self, const redisReply *group, s_id_t *bound)
{
    const redisReply *name = s_info_field (group, "name");
    const redisReply *pending = s_info_field (group, "pending");
    const redisReply *last = s_info_field (group, "last-delivered-id");
    s_id_t id;
    if (!name || name->type != REDIS_REPLY_STRING || !pending || pending->type != REDIS_REPLY_INTEGER
    ||  !last || last->type != REDIS_REPLY_STRING || !s_id_parse (last->str, &id))
        return false;
    if (pending->integer > 0) {
        redisReply *r = oim_redis_command (self->redis, "XPENDING %s %s", OIM_STREAM_CHANGELOG,
                                           name->str);
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2
               && r->element [1]->type == REDIS_REPLY_STRING && s_id_parse (r->element [1]->str, &id);
        if (r)
            freeReplyObject (r);
        if (!ok)
            return false;
    }
    if (s_id_less (id, *bound))
        *bound = id;
    return true;
}

//  Lowers *bound below what every consumer group of the change log still needs. False when
//  Redis failed or a group's position could not be read.
static bool
s_changelog_bound (registry_t *self, s_id_t *bound)
{
    redisReply *r = oim_redis_command (self->redis, "XINFO GROUPS %s", OIM_STREAM_CHANGELOG);
    bool ok = r && (r->type == REDIS_REPLY_ARRAY
                    || (r->type == REDIS_REPLY_ERROR && strstr (r->str, "no such key")));
    for (size_t i = 0; ok && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        ok = s_group_bound (self, r->element [i], bound);
    if (r)
        freeReplyObject (r);
    return ok;
}

//  XTRIM stream MINID bound; logs what went.
static void
s_trim (registry_t *self, const char *stream, s_id_t bound)
{
    redisReply *r = oim_redis_command (self->redis, "XTRIM %s MINID %llu-%llu", stream,
                                       (unsigned long long) bound.ms, (unsigned long long) bound.seq);
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        oim_info ("event=stream_trimmed stream=%s count=%lld below=%llu-%llu", stream,
                  r->integer, (unsigned long long) bound.ms, (unsigned long long) bound.seq);
    if (r)
        freeReplyObject (r);
}

//  The age bound of a retention option in seconds (-1 never: false).
static bool
s_age_bound (registry_t *self, const char *option, int64_t fallback_s, s_id_t *bound)
{
    int64_t retain_s = oim_config_int (oim_service_config (self->service), option, fallback_s);
    if (retain_s < 0)
        return false;
    int64_t below = oim_clock_wall_ms () - retain_s * 1000;
    *bound = (s_id_t) { below > 0? (uint64_t) below: 0, 0 };
    return below > 0;
}

void
registry_retention_trim (registry_t *self)
{
    int64_t now = oim_clock_mono_ms ();
    if (now < self->next_trim_ms)
        return;
    self->next_trim_ms = now + TRIM_INTERVAL_MSEC;
    s_id_t bound;
    if (s_age_bound (self, "changelog-retain-s", REGISTRY_CHANGELOG_RETAIN_S, &bound)
    &&  s_changelog_bound (self, &bound))
        s_trim (self, OIM_STREAM_CHANGELOG, bound);
    if (s_age_bound (self, "audit-retain-s", REGISTRY_AUDIT_RETAIN_S, &bound))
        s_trim (self, OIM_STREAM_AUDIT, bound);
}
