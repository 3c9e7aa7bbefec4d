/*  fuzz_cursor — the list cursor parsers of the registry and notify list endpoints:
    registry_page_parse (?limit and ?cursor of GET /v1/orgs, /v1/publishers,
    /v1/orgs/{id}/members: an id of the list's prefix into a ZRANGEBYLEX bound),
    notify_api_ntf_cursor (GET /v1/notifications: a feed sequence into a ZSET score bound)
    and notify_api_dlv_cursor (GET /v1/deliveries: a "dlv" id into a lex bound).
    The input is <limit>NUL<cursor> (no NUL: the whole input is the cursor, no limit).
    Checked: an accepted cursor reaches Redis whole, as "(" + the cursor (never cut by the
    bound's buffer), and only when it is what the API gives (an id of the prefix; digits
    without sign or blanks, 1..2^64-1, computed here without strtoull); an accepted limit
    is within 1..max.  */
#include "registry.h"
#include "notify_server.h"
#include "oim_id.h"
#include "oim_keys.h"
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  The bound an accepted cursor must give: "(" + cursor, or empty/none gives the default.
static void
s_check_bound (const char *cursor, const char *bound, const char *when_none)
{
    if (!cursor || !*cursor)
        assert (strcmp (bound, when_none) == 0);
    else
        assert (bound [0] == '(' && strcmp (bound + 1, cursor) == 0);
}

static void
s_registry (const char *limit, const char *cursor, bool newest_first)
{
    registry_page_spec_t spec = { .id_prefix = newest_first? "pub": "org",
                                  .newest_first = newest_first, .default_limit = 20,
                                  .max_limit = 100 };
    size_t n;
    char from [OIM_ID_SIZE + 2];    //  as page_t's
    int rc = registry_page_parse (&spec, limit, cursor, &n, from, sizeof from);
    bool cursor_ok = !cursor || !*cursor || oim_id_valid (cursor, spec.id_prefix);
    assert (rc != -2 || !cursor_ok);
    if (rc)
        return;
    assert (cursor_ok && n >= 1 && n <= spec.max_limit && (limit || n == spec.default_limit));
    s_check_bound (cursor, from, newest_first? "+": "-");
}

//  The feed sequence cursor's oracle: 1 with *value when text is 1..2^64-1 in digits.
static int
s_sequence (const char *text, uint64_t *value)
{
    *value = 0;
    if (!*text)
        return 0;
    for (; *text; text++) {
        if (*text < '0' || *text > '9' || *value > (UINT64_MAX - (uint64_t) (*text - '0')) / 10)
            return 0;
        *value = *value * 10 + (uint64_t) (*text - '0');
    }
    return *value > 0;
}

static void
s_notify (const char *cursor)
{
    char max [32];                  //  as notify_api_notification_list's
    uint64_t value;
    int rc = notify_api_ntf_cursor (cursor, max, sizeof max);
    bool given = cursor && *cursor;
    assert ((rc == 0) == (!given || s_sequence (cursor, &value)));
    if (rc == 0 && given) {
        char expected [32];
        snprintf (expected, sizeof expected, "(%llu", (unsigned long long) value);
        assert (strcmp (max, expected) == 0);
    }
    if (rc == 0 && !given)
        assert (strcmp (max, "+inf") == 0);
    char bound [OIM_KEY_SIZE + 2];  //  as notify_api_delivery_list's
    rc = notify_api_dlv_cursor (cursor, bound, sizeof bound);
    assert ((rc == 0) == (!given || oim_id_valid (cursor, "dlv")));
    if (rc == 0)
        s_check_bound (cursor, bound, "+");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    memcpy (text, data, size);
    text [size] = 0;
    size_t first = strlen (text);
    const char *limit = first < size? text: NULL;
    const char *cursor = first < size? text + first + 1: text;
    s_registry (limit, cursor, false);
    s_registry (limit, cursor, true);
    s_registry (NULL, NULL, size & 1);
    s_notify (cursor);
    s_notify (NULL);
    free (text);
    return 0;
}
