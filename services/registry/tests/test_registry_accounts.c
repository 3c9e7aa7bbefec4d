/*  test_registry_accounts — the pure parts of people and sessions (issue 16): password rules,
    Argon2id hashing and checking (and how long one hash blocks the registry's loop), e-mail
    normalisation, tokens. No Redis, no sockets. Prints the measured hash time.
*/
#include "registry.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int s_failures;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); s_failures++; } } while (0)

static double
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
s_test_passwords (void)
{
    CHECK (!registry_password_ok (NULL));
    CHECK (!registry_password_ok ("123456789"));
    CHECK (registry_password_ok ("1234567890"));
    CHECK (!registry_password_ok ("비밀번호비밀번호비"));        //  9 code points, 27 bytes
    CHECK (registry_password_ok ("비밀번호비밀번호비밀"));       //  10 code points
    char *huge = malloc (REGISTRY_PASSWORD_MAX + 2);
    memset (huge, 'x', REGISTRY_PASSWORD_MAX + 1);
    huge [REGISTRY_PASSWORD_MAX + 1] = 0;
    CHECK (!registry_password_ok (huge));
    free (huge);

    char hash [crypto_pwhash_STRBYTES], other [crypto_pwhash_STRBYTES];
    double times [3];
    for (int i = 0; i < 3; i++) {
        double start = s_now_ms ();
        CHECK (registry_password_hash ("correct horse 한국어", i? other: hash) == 0);
        times [i] = s_now_ms () - start;
    }
    CHECK (strncmp (hash, "$argon2id$", 10) == 0);
    CHECK (strstr (hash, "correct") == NULL);
    CHECK (strcmp (hash, other) != 0);                          //  salted
    double start = s_now_ms ();
    CHECK (registry_password_check (hash, "correct horse 한국어"));
    double verify = s_now_ms () - start;
    CHECK (!registry_password_check (hash, "correct horse 한국"));
    CHECK (!registry_password_check ("", "x"));
    CHECK (!registry_password_check (NULL, "x"));
    printf ("argon2id INTERACTIVE (ops %llu, mem %zu MiB): hash %.1f / %.1f / %.1f ms, verify %.1f ms\n",
            (unsigned long long) crypto_pwhash_OPSLIMIT_INTERACTIVE,
            (size_t) crypto_pwhash_MEMLIMIT_INTERACTIVE >> 20, times [0], times [1], times [2], verify);
}

static void
s_test_email (void)
{
    char out [256];
    CHECK (registry_email_normal ("Kim.CEO@Startup.KR", out));
    CHECK (strcmp (out, "kim.ceo@startup.kr") == 0);
    CHECK (registry_email_normal ("a+b@x.co", out));
    CHECK (!registry_email_normal (NULL, out));
    CHECK (!registry_email_normal ("", out));
    CHECK (!registry_email_normal ("nope", out));
    CHECK (!registry_email_normal ("@x.kr", out));
    CHECK (!registry_email_normal ("a@b", out));
    CHECK (!registry_email_normal ("a@.kr", out));
    CHECK (!registry_email_normal ("a@b.", out));
    CHECK (!registry_email_normal ("a@b@c.kr", out));
    CHECK (!registry_email_normal ("a b@c.kr", out));
    CHECK (!registry_email_normal ("a@c.kr\r\nBcc: x@y.kr", out));
    CHECK (!registry_email_normal ("<a@c.kr>", out));
    char *long_one = malloc (300);
    memset (long_one, 'a', 299);
    long_one [299] = 0;
    memcpy (long_one + 290, "@x.kr", 6);
    CHECK (!registry_email_normal (long_one, out));
    free (long_one);
}

static void
s_test_tokens (void)
{
    char a [64], ha [65], b [64], hb [65], again [65];
    registry_token_new (a, ha);
    registry_token_new (b, hb);
    CHECK (strlen (a) == 43);                       //  32 bytes, base64url without padding
    CHECK (strspn (a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
    CHECK (strlen (ha) == 64);
    CHECK (strcmp (a, b) && strcmp (ha, hb));
    registry_keys_hash (a, again);
    CHECK (strcmp (again, ha) == 0);                //  stored = SHA-256 of the token
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    s_test_passwords ();
    s_test_email ();
    s_test_tokens ();
    if (s_failures)
        fprintf (stderr, "%d failure(s)\n", s_failures);
    else
        printf ("test_registry_accounts: ok\n");
    return s_failures? 1: 0;
}
