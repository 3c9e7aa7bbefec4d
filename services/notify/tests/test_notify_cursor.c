/*  notify_cursor unit test: the list cursors of GET /v1/notifications and GET /v1/deliveries
    (notify_api_ntf_cursor, notify_api_dlv_cursor). fuzz_cursor found the notification cursor
    taking what strtoull skips or wraps: "\n8" (leading white space, its crash input), "-1"
    (read as 2^64-1), "+5" and a 21-digit overflow; each is refused now.  */
#include "notify_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    exit (1); } } while (0)

static void
s_test_notifications (void)
{
    char max [32];
    CHECK (notify_api_ntf_cursor (NULL, max, sizeof max) == 0 && strcmp (max, "+inf") == 0);
    CHECK (notify_api_ntf_cursor ("", max, sizeof max) == 0 && strcmp (max, "+inf") == 0);
    CHECK (notify_api_ntf_cursor ("17", max, sizeof max) == 0 && strcmp (max, "(17") == 0);
    CHECK (notify_api_ntf_cursor ("18446744073709551615", max, sizeof max) == 0
           && strcmp (max, "(18446744073709551615") == 0);
    const char *refused [] = { "\n8", " 8", "-1", "+5", "0", "8x", "18446744073709551616",
                               "99999999999999999999999", "1e3", NULL };
    for (const char **c = refused; *c; c++)
        CHECK (notify_api_ntf_cursor (*c, max, sizeof max) == -1);
}

static void
s_test_deliveries (void)
{
    char max [64];
    CHECK (notify_api_dlv_cursor (NULL, max, sizeof max) == 0 && strcmp (max, "+") == 0);
    CHECK (notify_api_dlv_cursor ("dlv_01JDX3K8M2N4P6Q8R0S2T", max, sizeof max) == 0
           && strcmp (max, "(dlv_01JDX3K8M2N4P6Q8R0S2T") == 0);
    CHECK (notify_api_dlv_cursor ("ntf_01JDX3K8M2N4P6Q8R0S2T", max, sizeof max) == -1);
    CHECK (notify_api_dlv_cursor ("dlv_01JDX3K8M2N4P6Q8R0S2", max, sizeof max) == -1);
    CHECK (notify_api_dlv_cursor ("17", max, sizeof max) == -1);
}

int
main (void)
{
    s_test_notifications ();
    s_test_deliveries ();
    printf ("notify_cursor: OK\n");
    return 0;
}
