/*  notify_retry — the webhook retry schedule (see notify_retry.h for the contract).  */
#include "notify_retry.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct _notify_retry_t {
    size_t count;
    int64_t base_msec [NOTIFY_RETRY_MAX_STEPS];
};

static void
s_set_error (char *error, size_t error_size, const char *reason, size_t position)
{
    if (error && error_size > 0)
        snprintf (error, error_size, "retry schedule: %s (entry %zu)", reason, position + 1);
}

//  Parses one entry at *cursor, up to the next comma or the end; advances *cursor past it.
//  Returns 0 and the delay in *msec, or -1 with the reason in *reason.
static int
s_parse_step (const char **cursor, int64_t *msec, const char **reason)
{
    const char *start = *cursor;
    while (isspace ((unsigned char) *start))
        start++;
    if (*start == ',' || *start == '\0') {
        *reason = "empty entry";
        return -1;
    }
    if (!isdigit ((unsigned char) *start) && *start != '.') {
        *reason = "not a non-negative number";
        return -1;
    }
    errno = 0;
    char *end = NULL;
    double seconds = strtod (start, &end);
    //  Plain decimals only: strtod would also take "0x10", "1e3" or "infinity".
    if (errno != 0 || end == start || end != start + strspn (start, "0123456789.")
    ||  !isfinite (seconds) || seconds < 0) {
        *reason = "not a non-negative number";
        return -1;
    }
    while (isspace ((unsigned char) *end))
        end++;
    if (*end != ',' && *end != '\0') {
        *reason = "unexpected character";
        return -1;
    }
    if (seconds * 1000.0 > (double) NOTIFY_RETRY_MAX_DELAY_MSEC) {
        *reason = "delay above 7 days";
        return -1;
    }
    *msec = (int64_t) llround (seconds * 1000.0);
    *cursor = end;
    return 0;
}

notify_retry_t *
notify_retry_new (const char *schedule, char *error, size_t error_size)
{
    if (!schedule || !*schedule)
        schedule = NOTIFY_RETRY_DEFAULT_SCHEDULE;
    notify_retry_t *self = (notify_retry_t *) calloc (1, sizeof (notify_retry_t));
    if (!self) {
        s_set_error (error, error_size, "out of memory", 0);
        return NULL;
    }
    const char *cursor = schedule;
    while (true) {
        const char *reason = NULL;
        if (self->count == NOTIFY_RETRY_MAX_STEPS) {
            s_set_error (error, error_size, "too many entries", self->count);
            notify_retry_destroy (&self);
            return NULL;
        }
        if (s_parse_step (&cursor, &self->base_msec [self->count], &reason) != 0) {
            s_set_error (error, error_size, reason, self->count);
            notify_retry_destroy (&self);
            return NULL;
        }
        self->count++;
        if (*cursor == '\0')
            break;
        cursor++;                       //  past the comma
    }
    return self;
}

void
notify_retry_destroy (notify_retry_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

size_t
notify_retry_count (const notify_retry_t *self)
{
    assert (self);
    return self->count;
}

int64_t
notify_retry_base_msec (const notify_retry_t *self, size_t index)
{
    assert (self);
    assert (index < self->count);
    return self->base_msec [index];
}

int64_t
notify_retry_next_msec (const notify_retry_t *self, uint32_t failed_attempts)
{
    assert (self);
    assert (failed_attempts >= 1);
    if (failed_attempts > self->count)
        return -1;
    int64_t base = self->base_msec [failed_attempts - 1];
    int64_t spread = base * NOTIFY_RETRY_JITTER_PERCENT / 100;
    if (spread == 0)
        return base;
    //  Uniform in [base - spread, base + spread]; spread ≤ 7 days in msec fits in uint32.
    uint32_t offset = randombytes_uniform ((uint32_t) (2 * spread + 1));
    return base - spread + (int64_t) offset;
}
