/*  notify_sign — Standard Webhooks signing (see notify_sign.h for the contract).  */
#include "notify_sign.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define s_PREFIX "whsec_"

struct _notify_sign_t {
    unsigned char key [NOTIFY_SIGN_KEY_MAX_BYTES];
    size_t key_size;
};

int
notify_sign_secret_generate (char *out, size_t out_size)
{
    assert (out);
    if (out_size < NOTIFY_SIGN_SECRET_MAX)
        return -1;
    unsigned char raw [NOTIFY_SIGN_SECRET_BYTES];
    randombytes_buf (raw, sizeof raw);
    memcpy (out, s_PREFIX, strlen (s_PREFIX));
    char *b64 = out + strlen (s_PREFIX);
    sodium_bin2base64 (b64, out_size - strlen (s_PREFIX), raw, sizeof raw,
                       sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero (raw, sizeof raw);
    return 0;
}

notify_sign_t *
notify_sign_new (const char *secret)
{
    assert (secret);
    if (strncmp (secret, s_PREFIX, strlen (s_PREFIX)) == 0)
        secret += strlen (s_PREFIX);
    //  Padding is optional in the wild: strip it and decode the unpadded variant.
    size_t len = strlen (secret);
    while (len > 0 && secret [len - 1] == '=')
        len--;
    if (len == 0)
        return NULL;
    notify_sign_t *self = (notify_sign_t *) calloc (1, sizeof (notify_sign_t));
    if (!self)
        return NULL;
    const char *end = NULL;
    if (sodium_base642bin (self->key, sizeof self->key, secret, len, NULL, &self->key_size,
                           &end, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0
    ||  end != secret + len
    ||  self->key_size == 0) {
        notify_sign_destroy (&self);
        return NULL;
    }
    return self;
}

void
notify_sign_destroy (notify_sign_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sodium_memzero (*self_p, sizeof (notify_sign_t));
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_mac (const notify_sign_t *self, const char *msg_id, int64_t timestamp,
       const void *body, size_t body_size, unsigned char mac [crypto_auth_hmacsha256_BYTES])
{
    char ts [32];
    int ts_len = snprintf (ts, sizeof ts, ".%" PRId64 ".", timestamp);
    assert (ts_len > 0 && (size_t) ts_len < sizeof ts);
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init (&state, self->key, self->key_size);
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) msg_id, strlen (msg_id));
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) ts, (size_t) ts_len);
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) body, body_size);
    crypto_auth_hmacsha256_final (&state, mac);
    sodium_memzero (&state, sizeof state);
}

int
notify_sign_signature (const notify_sign_t *self, const char *msg_id, int64_t timestamp,
                       const void *body, size_t body_size, char *out, size_t out_size)
{
    assert (self);
    assert (msg_id);
    assert (body || body_size == 0);
    assert (out);
    if (out_size < NOTIFY_SIGN_SIGNATURE_MAX)
        return -1;
    unsigned char mac [crypto_auth_hmacsha256_BYTES];
    s_mac (self, msg_id, timestamp, body ? body : "", body_size, mac);
    memcpy (out, "v1,", 3);
    sodium_bin2base64 (out + 3, out_size - 3, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

bool
notify_sign_verify (const notify_sign_t *self, const char *msg_id, int64_t timestamp,
                    const void *body, size_t body_size, const char *header)
{
    assert (self);
    assert (msg_id);
    if (!header)
        return false;
    char expected [NOTIFY_SIGN_SIGNATURE_MAX];
    notify_sign_signature (self, msg_id, timestamp, body, body_size, expected, sizeof expected);
    size_t expected_len = strlen (expected);
    bool match = false;
    const char *cursor = header;
    while (*cursor) {
        while (*cursor == ' ')
            cursor++;
        size_t len = strcspn (cursor, " ");
        //  Check every entry, so the time taken doesn't say which one matched.
        if (len == expected_len && sodium_memcmp (cursor, expected, len) == 0)
            match = true;
        cursor += len;
    }
    return match;
}
