/*  gateway_session — see gateway_session.h. */
#include "gateway_session.h"
#include "oim_keys.h"
#include "registry.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool
gateway_session_cookie (const char *header, const char *name, char *out, size_t out_size)
{
    size_t name_len = strlen (name);
    const char *p = header;
    while (p && *p) {
        p += strspn (p, " \t;");
        size_t len = strcspn (p, ";");
        if (len > name_len && strncmp (p, name, name_len) == 0 && p [name_len] == '=') {
            size_t value_len = len - name_len - 1;
            while (value_len && (p [name_len + 1 + value_len - 1] == ' '))
                value_len--;
            if (value_len == 0 || value_len >= out_size)
                return false;
            memcpy (out, p + name_len + 1, value_len);
            out [value_len] = 0;
            return true;
        }
        p += len;
    }
    return false;
}

//  Reads and unpacks the session at key. 1 found, 0 missing, -1 Redis failed.
static int
s_record (oim_redis_t *redis, const char *key, Oim__V1__SessionRecord **record)
{
    redisReply *reply = oim_redis_command (redis, "GET %s", key);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (reply)
            freeReplyObject (reply);
        return -1;
    }
    *record = reply->type == REDIS_REPLY_STRING
        ? oim__v1__session_record__unpack (NULL, reply->len, (uint8_t *) reply->str): NULL;
    freeReplyObject (reply);
    return *record? 1: 0;
}

void
gateway_session_lookup (oim_redis_t *redis, const char *token, int64_t now_ms, gateway_auth_t *auth)
{
    unsigned char digest [crypto_hash_sha256_BYTES];
    char hex [GATEWAY_KEY_HASH_SIZE];
    crypto_hash_sha256 (digest, (const unsigned char *) token, strlen (token));
    sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
    gateway_session_lookup_hash (redis, hex, now_ms, auth);
}

void
gateway_session_lookup_hash (oim_redis_t *redis, const char *session_id, int64_t now_ms,
                             gateway_auth_t *auth)
{
    memset (auth, 0, sizeof *auth);
    auth->result = GATEWAY_AUTH_UNAVAILABLE;
    snprintf (auth->session_id, sizeof auth->session_id, "%s", session_id);
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_SESSION, auth->session_id);
    Oim__V1__SessionRecord *record = NULL;
    int rc = s_record (redis, key, &record);
    if (rc == 1 && record->expires_ms <= now_ms)
        rc = 0;
    if (rc != 1) {
        if (record)
            oim__v1__session_record__free_unpacked (record, NULL);
        auth->result = rc == 0? GATEWAY_AUTH_FAILED: GATEWAY_AUTH_UNAVAILABLE;
        return;
    }
    int64_t ttl = record->expires_ms - now_ms < record->idle_ms? record->expires_ms - now_ms
                                                                 : record->idle_ms;
    bool sent = oim_redis_append (redis, "PEXPIRE %s %lld", key, (long long) ttl) == 0;
    auth->session = true;
    auth->role = record->role;
    snprintf (auth->org_id, sizeof auth->org_id, "%s", record->org_id);
    snprintf (auth->user_id, sizeof auth->user_id, "%s", record->user_id);
    snprintf (auth->user_role, sizeof auth->user_role, "%s", record->user_role);
    snprintf (auth->csrf_token, sizeof auth->csrf_token, "%s", record->csrf_token);
    oim__v1__session_record__free_unpacked (record, NULL);
    if (sent && gateway_auth_touch_and_status (redis, auth) == 0)     //  one round trip
        auth->result = GATEWAY_AUTH_OK;
}

static const char *s_own_credentials [] = { "session.create", "invitation.accept",
    "email.verify", "password_reset.request", "password_reset.confirm", NULL };

bool
gateway_session_needs_csrf (const char *method, const char *operation)
{
    for (int i = 0; operation && s_own_credentials [i]; i++)
        if (strcmp (operation, s_own_credentials [i]) == 0)
            return false;
    return strcmp (method, "GET") && strcmp (method, "HEAD") && strcmp (method, "OPTIONS");
}

bool
gateway_session_csrf_ok (const gateway_auth_t *auth, const char *given)
{
    size_t len = strlen (auth->csrf_token);
    return given && len && strlen (given) == len
        && sodium_memcmp (given, auth->csrf_token, len) == 0;
}
