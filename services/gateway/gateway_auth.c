/*  gateway_auth — see gateway_auth.h. */
#include "gateway_auth.h"
#include "oim_clock.h"
#include "oim_keys.h"
#include "registry.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

//  The last-used mark: the minute, written only when it changed (so at most one write, and
//  one AOF record, per key per minute; a script that writes nothing logs nothing). It expires
//  after 400 days, so the marks of keys dropped elsewhere (a publisher's rotated key) go too.
#define LAST_USED_SCRIPT "if redis.call('GET', KEYS[1]) ~= ARGV[1] then " \
                         "redis.call('SET', KEYS[1], ARGV[1], 'EX', 34560000) end"

//  Copies the organisation's status from reply (to GET oim:org:<id>) into auth; frees reply.
static int
s_org_from_reply (redisReply *reply, gateway_auth_t *auth)
{
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (reply)
            freeReplyObject (reply);
        return -1;
    }
    Oim__V1__Organization *org = reply->type == REDIS_REPLY_STRING
        ? oim__v1__organization__unpack (NULL, reply->len, (uint8_t *) reply->str): NULL;
    freeReplyObject (reply);
    const char *status = !org? "unknown": org->deleted? "deleted": org->status;
    snprintf (auth->org_status, sizeof auth->org_status, "%s", *status? status: "unknown");
    auth->in_standing = strcmp (auth->org_status, "active") == 0;
    if (org)
        oim__v1__organization__free_unpacked (org, NULL);
    return 0;
}

int
gateway_auth_touch_and_status (oim_redis_t *redis, gateway_auth_t *auth)
{
    bool org = *auth->org_id;
    if (org && oim_redis_append (redis, "GET " OIM_KEY_ORG, auth->org_id))
        return -1;
    redisReply *touched = oim_redis_reply (redis);
    if (!touched)
        return -1;
    freeReplyObject (touched);
    return org? s_org_from_reply (oim_redis_reply (redis), auth): 0;
}

//  Marks the key used and reads its org's status in one round trip. 0, or -1 (Redis).
static int
s_mark_and_status (oim_redis_t *redis, gateway_auth_t *auth)
{
    char used [160], minute [32];
    snprintf (used, sizeof used, OIM_KEY_APIKEY_USED, auth->key_hash);
    snprintf (minute, sizeof minute, "%lld", (long long) (oim_clock_wall_ms () / 60000 * 60000));
    if (oim_redis_append (redis, "EVAL %s 1 %s %s", LAST_USED_SCRIPT, used, minute))
        return -1;
    return gateway_auth_touch_and_status (redis, auth);
}

void
gateway_auth_lookup (oim_redis_t *redis, const char *key_hash, gateway_auth_t *auth)
{
    memset (auth, 0, sizeof *auth);
    snprintf (auth->key_hash, sizeof auth->key_hash, "%s", key_hash);
    auth->result = GATEWAY_AUTH_UNAVAILABLE;
    redisReply *reply = oim_redis_command (redis, "GET " OIM_KEY_APIKEY, key_hash);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (reply)
            freeReplyObject (reply);
        return;
    }
    Oim__V1__ApiKeyRecord *record = reply->type == REDIS_REPLY_STRING
        ? oim__v1__api_key_record__unpack (NULL, reply->len, (uint8_t *) reply->str): NULL;
    freeReplyObject (reply);
    if (!record) {
        auth->result = GATEWAY_AUTH_FAILED;
        return;
    }
    auth->role = record->role;
    snprintf (auth->key_id, sizeof auth->key_id, "%s", record->key_id);
    snprintf (auth->org_id, sizeof auth->org_id, "%s", record->org_id);
    snprintf (auth->source_system, sizeof auth->source_system, "%s", record->source_system);
    oim__v1__api_key_record__free_unpacked (record, NULL);
    auth->in_standing = true;
    if (s_mark_and_status (redis, auth))
        return;                     //  UNAVAILABLE
    auth->result = GATEWAY_AUTH_OK;
}

void
gateway_auth_header (oim_redis_t *redis, const char *header, gateway_auth_t *auth)
{
    memset (auth, 0, sizeof *auth);
    if (!header || !*header)
        return;                     //  GATEWAY_AUTH_NONE
    auth->result = GATEWAY_AUTH_FAILED;
    if (strncasecmp (header, "Bearer ", 7) != 0 || !header [7])
        return;
    const char *key = header + 7;
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const unsigned char *) key, strlen (key));
    char hex [GATEWAY_KEY_HASH_SIZE];
    sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
    gateway_auth_lookup (redis, hex, auth);
}
