/*  notify_sign unit test: the Standard Webhooks spec's own vector, a vector computed by an
    independent implementation (Python's hmac, run here), generation and verification.  */
#include "notify_sign.h"
#include "notify_test_util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

//  From the Standard Webhooks specification and its reference libraries.
static void
s_test_spec_vector (void)
{
    notify_sign_t *signer = notify_sign_new ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    CHECK (signer);
    const char *body = "{\"test\": 2432232314}";
    char signature [NOTIFY_SIGN_SIGNATURE_MAX];
    CHECK (notify_sign_signature (signer, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                  body, strlen (body), signature, sizeof signature) == 0);
    CHECK (strcmp (signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") == 0);
    CHECK (notify_sign_verify (signer, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                               strlen (body), signature));
    //  Several signatures (key rotation): any match counts
    CHECK (notify_sign_verify (signer, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                               strlen (body),
                               "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= "
                               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    CHECK (!notify_sign_verify (signer, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body,
                                strlen (body), signature));
    CHECK (!notify_sign_verify (signer, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{}", 2,
                                signature));
    CHECK (!notify_sign_verify (signer, "msg_other", 1614265330, body, strlen (body), signature));
    CHECK (!notify_sign_verify (signer, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                strlen (body), ""));
    CHECK (!notify_sign_verify (signer, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                strlen (body), NULL));
    //  The prefix and the padding are optional, as in the reference implementations
    notify_sign_t *bare = notify_sign_new ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    CHECK (bare);
    CHECK (notify_sign_verify (bare, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                               strlen (body), signature));
    notify_sign_destroy (&bare);
    notify_sign_destroy (&signer);
    CHECK (signer == NULL);
    notify_sign_destroy (&signer);
}

//  A fresh secret and a UTF-8 body, signed here and by Python's hmac: both must agree.
static void
s_test_python_vector (void)
{
    char secret [NOTIFY_SIGN_SECRET_MAX];
    CHECK (notify_sign_secret_generate (secret, sizeof secret) == 0);
    const char *msg_id = "ntf_01JDXAMPLE";
    const char *body = "{\"type\":\"match.created\",\"data\":{\"title\":\"스마트 물류 PoC\"}}";
    int64_t timestamp = 1764460800;
    notify_sign_t *signer = notify_sign_new (secret);
    CHECK (signer);
    char signature [NOTIFY_SIGN_SIGNATURE_MAX];
    CHECK (notify_sign_signature (signer, msg_id, timestamp, body, strlen (body),
                                  signature, sizeof signature) == 0);

    char script [] = "/tmp/notify_sign_XXXXXX";
    int fd = mkstemp (script);
    CHECK (fd >= 0);
    FILE *file = fdopen (fd, "w");
    fprintf (file,
        "import base64, hashlib, hmac, sys\n"
        "secret, msg_id, ts, body = sys.argv[1:5]\n"
        "key = base64.b64decode(secret[len('whsec_'):])\n"
        "mac = hmac.new(key, f'{msg_id}.{ts}.'.encode() + body.encode('utf-8'), hashlib.sha256)\n"
        "print('v1,' + base64.b64encode(mac.digest()).decode())\n");
    fclose (file);
    const char *python = getenv ("OIM_NOTIFY_PYTHON");
    char *command = NULL;
    CHECK (asprintf (&command, "%s %s '%s' '%s' %" PRId64 " '%s'",
                     python ? python : NOTIFY_TEST_PYTHON, script, secret, msg_id,
                     timestamp, body) > 0);
    FILE *out = popen (command, "r");
    CHECK (out);
    char expected [128] = "";
    CHECK (fgets (expected, sizeof expected, out));
    CHECK (pclose (out) == 0);
    expected [strcspn (expected, "\n")] = '\0';
    CHECK (strcmp (signature, expected) == 0);
    unlink (script);
    free (command);
    notify_sign_destroy (&signer);
}

static void
s_test_secrets (void)
{
    char first [NOTIFY_SIGN_SECRET_MAX], second [NOTIFY_SIGN_SECRET_MAX];
    CHECK (notify_sign_secret_generate (first, sizeof first) == 0);
    CHECK (notify_sign_secret_generate (second, sizeof second) == 0);
    CHECK (strncmp (first, "whsec_", 6) == 0);
    CHECK (strlen (first) == 6 + 32);           //  24 bytes → 32 base64 characters
    CHECK (strcmp (first, second) != 0);
    char small [10] = "untouched";
    CHECK (notify_sign_secret_generate (small, sizeof small) == -1);
    CHECK (strcmp (small, "untouched") == 0);

    CHECK (notify_sign_new ("") == NULL);
    CHECK (notify_sign_new ("whsec_") == NULL);
    CHECK (notify_sign_new ("whsec_====") == NULL);
    CHECK (notify_sign_new ("whsec_not base64!") == NULL);
    char huge [200] = "whsec_";
    memset (huge + 6, 'A', 120);                //  90 bytes decoded: above the limit
    huge [126] = '\0';
    CHECK (notify_sign_new (huge) == NULL);

    notify_sign_t *signer = notify_sign_new (first);
    CHECK (signer);
    char signature [NOTIFY_SIGN_SIGNATURE_MAX];
    CHECK (notify_sign_signature (signer, "id", 1, "", 0, signature, 10) == -1);
    CHECK (notify_sign_signature (signer, "id", 1, NULL, 0, signature, sizeof signature) == 0);
    CHECK (strncmp (signature, "v1,", 3) == 0 && strlen (signature) == 3 + 44);
    notify_sign_destroy (&signer);
}

int
main (void)
{
    CHECK (sodium_init () >= 0);
    s_test_spec_vector ();
    s_test_python_vector ();
    s_test_secrets ();
    printf ("notify_sign: OK\n");
    return 0;
}
