/*  notify_retry unit test: parsing, the default schedule, jitter bounds, dead after the last.  */
#include "notify_retry.h"
#include "notify_test_util.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static void
s_test_default (void)
{
    notify_retry_t *retry = notify_retry_new (NULL, NULL, 0);
    CHECK (retry);
    const int64_t expected [] = { 5, 30, 120, 600, 1800, 3600, 10800, 21600 };
    CHECK (notify_retry_count (retry) == 8);
    for (size_t i = 0; i < 8; i++)
        CHECK (notify_retry_base_msec (retry, i) == expected [i] * 1000);
    //  Jitter stays within ±20% and actually varies
    int64_t low = INT64_MAX, high = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t delay = notify_retry_next_msec (retry, 1);
        CHECK (delay >= 4000 && delay <= 6000);
        low = delay < low ? delay : low;
        high = delay > high ? delay : high;
    }
    CHECK (high - low > 500);
    int64_t last = notify_retry_next_msec (retry, 8);
    CHECK (last >= 21600 * 800 && last <= 21600 * 1200);
    CHECK (notify_retry_next_msec (retry, 9) == -1);    //  dead letter
    notify_retry_destroy (&retry);
    CHECK (retry == NULL);
    notify_retry_destroy (&retry);

    retry = notify_retry_new ("", NULL, 0);
    CHECK (retry && notify_retry_count (retry) == 8);
    notify_retry_destroy (&retry);
}

static void
s_test_custom (void)
{
    char error [128];
    notify_retry_t *retry = notify_retry_new (" 0.05, 0.1 ,1,0 ", error, sizeof error);
    CHECK (retry);
    CHECK (notify_retry_count (retry) == 4);
    CHECK (notify_retry_base_msec (retry, 0) == 50);
    CHECK (notify_retry_base_msec (retry, 1) == 100);
    CHECK (notify_retry_base_msec (retry, 2) == 1000);
    CHECK (notify_retry_next_msec (retry, 4) == 0);
    CHECK (notify_retry_next_msec (retry, 5) == -1);
    int64_t delay = notify_retry_next_msec (retry, 2);
    CHECK (delay >= 80 && delay <= 120);
    notify_retry_destroy (&retry);
}

static void
s_test_invalid (void)
{
    const char *bad [] = { "5,,30", "5,", ",5", "-1", "abc", "5s", "1e9", "nan", "inf",
                           "5 30", "0x10" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char error [128] = "";
        CHECK (notify_retry_new (bad [i], error, sizeof error) == NULL);
        CHECK (strncmp (error, "retry schedule: ", 16) == 0);
    }
    CHECK (notify_retry_new ("5,,30", NULL, 0) == NULL);
    //  At most NOTIFY_RETRY_MAX_STEPS entries
    char many [NOTIFY_RETRY_MAX_STEPS * 2 + 8] = "";
    for (int i = 0; i < NOTIFY_RETRY_MAX_STEPS; i++)
        strcat (many, i ? ",1" : "1");
    notify_retry_t *retry = notify_retry_new (many, NULL, 0);
    CHECK (retry && notify_retry_count (retry) == NOTIFY_RETRY_MAX_STEPS);
    notify_retry_destroy (&retry);
    strcat (many, ",1");
    CHECK (notify_retry_new (many, NULL, 0) == NULL);
}

int
main (void)
{
    CHECK (sodium_init () >= 0);
    s_test_default ();
    s_test_custom ();
    s_test_invalid ();
    printf ("notify_retry: OK\n");
    return 0;
}
