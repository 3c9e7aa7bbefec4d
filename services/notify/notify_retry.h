/*  notify_retry — the webhook retry schedule (SPEC §5).

    After a failed attempt, the next one waits about schedule[n] seconds, where n is the number
    of failed attempts so far minus one; after the last entry the delivery is dead (dead
    letter). The default schedule, 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, grows
    roughly exponentially; OIM_WEBHOOK_RETRY_SCHEDULE, a comma-separated list of seconds,
    replaces it. Seconds may carry a fraction ("0.05,0.1"), so tests run a fast schedule.

    Jitter: each delay is drawn uniformly from [base * (1 - j), base * (1 + j)] with j =
    NOTIFY_RETRY_JITTER_PERCENT / 100, so endpoints that failed together (an outage) do not
    come back in lockstep. The random draw comes from libsodium (thread-safe, no state here).

    This module only computes delays: the caller keeps attempts and due times in Redis, so a
    restarted daemon resumes the schedule where it was. Immutable after _new; share freely.
*/
#ifndef NOTIFY_RETRY_H_INCLUDED
#define NOTIFY_RETRY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NOTIFY_RETRY_DEFAULT_SCHEDULE  "5,30,120,600,1800,3600,10800,21600"
#define NOTIFY_RETRY_MAX_STEPS         64           //  longest schedule accepted
#define NOTIFY_RETRY_MAX_DELAY_MSEC    (7 * 24 * 3600 * 1000LL)   //  one step ≤ 7 days
#define NOTIFY_RETRY_JITTER_PERCENT    20

typedef struct _notify_retry_t notify_retry_t;

//  Parses schedule (NULL or "" = the default). Entries are non-negative decimal seconds,
//  separated by commas, blanks around them allowed. Returns a new schedule, or NULL if the
//  text is malformed, empty between commas, longer than NOTIFY_RETRY_MAX_STEPS entries or
//  has a step above NOTIFY_RETRY_MAX_DELAY_MSEC; on NULL, if error is not NULL, a
//  NUL-terminated reason is written into it (error_size bytes at most).
notify_retry_t *
    notify_retry_new (const char *schedule, char *error, size_t error_size);

//  Destroys the schedule and nulls *self_p. Accepts NULL and *self_p == NULL.
void
    notify_retry_destroy (notify_retry_t **self_p);

//  Number of retries in the schedule: a delivery gets 1 + count attempts in all.
size_t
    notify_retry_count (const notify_retry_t *self);

//  The base delay of step index (0-based), without jitter; index must be < count.
int64_t
    notify_retry_base_msec (const notify_retry_t *self, size_t index);

//  Delay before the next attempt after failed_attempts failures (≥ 1), with jitter.
//  Returns -1 when the schedule is exhausted: the delivery is dead.
int64_t
    notify_retry_next_msec (const notify_retry_t *self, uint32_t failed_attempts);

#ifdef __cplusplus
}
#endif

#endif
