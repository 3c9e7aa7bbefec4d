/*  notify_sign — Standard Webhooks signing for oim-notify (SPEC §5).

    A webhook carries three headers:
        webhook-id:        the notification id, stable across retries
        webhook-timestamp: unix seconds of this attempt
        webhook-signature: "v1," + base64 (HMAC-SHA256 (key, id "." timestamp "." body))
    where key is the base64-decoded part of the endpoint's secret after "whsec_".
    Secrets are "whsec_" + standard base64 of NOTIFY_SIGN_SECRET_BYTES random bytes.

    A notify_sign_t holds one decoded key, so a daemon decodes a secret once per endpoint
    rather than once per attempt. It has no other state and may be shared read-only between
    threads. libsodium must have been initialised (sodium_init) before any call here.
*/
#ifndef NOTIFY_SIGN_H_INCLUDED
#define NOTIFY_SIGN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NOTIFY_SIGN_SECRET_BYTES   24     //  random bytes in a generated secret
#define NOTIFY_SIGN_KEY_MAX_BYTES  64     //  longest decoded secret accepted
#define NOTIFY_SIGN_SECRET_MAX     128    //  buffer size for any accepted "whsec_..." + NUL
//  "v1," + base64 of 32 bytes (44 chars) + NUL
#define NOTIFY_SIGN_SIGNATURE_MAX  48

typedef struct _notify_sign_t notify_sign_t;

//  Writes a new random secret "whsec_<base64>" into out (NUL-terminated).
//  Returns 0, or -1 if out_size is smaller than NOTIFY_SIGN_SECRET_MAX (out is untouched).
int
    notify_sign_secret_generate (char *out, size_t out_size);

//  Decodes secret ("whsec_" + standard base64, padding optional; the prefix itself is
//  optional, as in the reference implementations). Returns a new signer, or NULL if the
//  secret is empty, not base64 or longer than NOTIFY_SIGN_KEY_MAX_BYTES once decoded.
notify_sign_t *
    notify_sign_new (const char *secret);

//  Destroys the signer and wipes its key; nulls *self_p. Accepts NULL and *self_p == NULL.
void
    notify_sign_destroy (notify_sign_t **self_p);

//  Computes the webhook-signature header value for (msg_id, timestamp, body) into out,
//  e.g. "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=". body need not be NUL-terminated.
//  Returns 0, or -1 if out_size < NOTIFY_SIGN_SIGNATURE_MAX (out is untouched).
int
    notify_sign_signature (const notify_sign_t *self, const char *msg_id, int64_t timestamp,
                           const void *body, size_t body_size, char *out, size_t out_size);

//  Checks a received webhook-signature header, which may hold several space-separated
//  "v1,<sig>" entries (key rotation); true when one matches, compared in constant time.
//  Does not check the timestamp's age: that is the receiver's policy.
bool
    notify_sign_verify (const notify_sign_t *self, const char *msg_id, int64_t timestamp,
                        const void *body, size_t body_size, const char *header);

#ifdef __cplusplus
}
#endif

#endif
