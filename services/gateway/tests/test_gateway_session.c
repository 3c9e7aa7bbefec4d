/*  test_gateway_session — the pure parts of the gateway's session cookies (issue 16): finding
    oim_session in a Cookie header, which methods need the CSRF token, the token comparison.
*/
#include "gateway_session.h"

#include <stdio.h>
#include <string.h>

static int s_failures;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); s_failures++; } } while (0)

int
main (void)
{
    char out [64];
    CHECK (gateway_session_cookie ("oim_session=abc", "oim_session", out, sizeof out));
    CHECK (strcmp (out, "abc") == 0);
    CHECK (gateway_session_cookie ("lang=ko; oim_session=x-y_z; theme=dark", "oim_session", out, sizeof out));
    CHECK (strcmp (out, "x-y_z") == 0);
    CHECK (gateway_session_cookie ("a=1;oim_session=v2 ", "oim_session", out, sizeof out));
    CHECK (strcmp (out, "v2") == 0);
    CHECK (!gateway_session_cookie ("xoim_session=abc", "oim_session", out, sizeof out));
    CHECK (!gateway_session_cookie ("oim_sessionx=abc", "oim_session", out, sizeof out));
    CHECK (!gateway_session_cookie ("oim_session=", "oim_session", out, sizeof out));
    CHECK (!gateway_session_cookie ("", "oim_session", out, sizeof out));
    CHECK (!gateway_session_cookie ("other=1", "oim_session", out, sizeof out));
    char big [200];
    memset (big, 'a', sizeof big);
    memcpy (big, "oim_session=", 12);
    big [sizeof big - 1] = 0;
    CHECK (!gateway_session_cookie (big, "oim_session", out, sizeof out));      //  too long

    CHECK (!gateway_session_needs_csrf ("GET", NULL));
    CHECK (!gateway_session_needs_csrf ("HEAD", NULL));
    CHECK (!gateway_session_needs_csrf ("OPTIONS", NULL));
    CHECK (gateway_session_needs_csrf ("POST", NULL));
    CHECK (gateway_session_needs_csrf ("PATCH", NULL));
    CHECK (gateway_session_needs_csrf ("PUT", NULL));
    CHECK (gateway_session_needs_csrf ("DELETE", NULL));
    CHECK (gateway_session_needs_csrf ("POST", "org.create"));
    CHECK (gateway_session_needs_csrf ("DELETE", "session.delete"));
    CHECK (!gateway_session_needs_csrf ("POST", "session.create"));
    CHECK (!gateway_session_needs_csrf ("POST", "password_reset.confirm"));
    CHECK (!gateway_session_needs_csrf ("POST", "invitation.accept"));

    gateway_auth_t auth;
    memset (&auth, 0, sizeof auth);
    CHECK (!gateway_session_csrf_ok (&auth, ""));                   //  no token: never ok
    strcpy (auth.csrf_token, "tok123");
    CHECK (gateway_session_csrf_ok (&auth, "tok123"));
    CHECK (!gateway_session_csrf_ok (&auth, NULL));
    CHECK (!gateway_session_csrf_ok (&auth, "tok12"));
    CHECK (!gateway_session_csrf_ok (&auth, "tok1234"));
    CHECK (!gateway_session_csrf_ok (&auth, "TOK123"));
    if (s_failures)
        fprintf (stderr, "%d failure(s)\n", s_failures);
    else
        printf ("test_gateway_session: ok\n");
    return s_failures? 1: 0;
}
