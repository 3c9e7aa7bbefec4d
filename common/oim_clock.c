/*  oim_clock — see oim_clock.h. */
#include "oim_clock.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t
s_clock_us (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t oim_clock_wall_ms (void) { return s_clock_us (CLOCK_REALTIME) / 1000; }
int64_t oim_clock_wall_us (void) { return s_clock_us (CLOCK_REALTIME); }
int64_t oim_clock_mono_ms (void) { return s_clock_us (CLOCK_MONOTONIC) / 1000; }
int64_t oim_clock_mono_us (void) { return s_clock_us (CLOCK_MONOTONIC); }

void
oim_clock_rfc3339 (int64_t unix_ms, char *buf)
{
    time_t secs = (time_t) (unix_ms / 1000);
    int millis = (int) (unix_ms % 1000);
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r (&secs, &tm);
    char text [64];
    snprintf (text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
              (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
              tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    memcpy (buf, text, OIM_RFC3339_SIZE - 1);
    buf [OIM_RFC3339_SIZE - 1] = 0;
}

//  Reads exactly n digits at *p into *value; advances *p. Returns 0 or -1.
static int
s_digits (const char **p, int n, int *value)
{
    *value = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit ((unsigned char) (*p) [i]))
            return -1;
        *value = *value * 10 + ((*p) [i] - '0');
    }
    *p += n;
    return 0;
}

static int
s_expect (const char **p, char c)
{
    if (**p != c && !(c == 'T' && (**p == 't' || **p == ' ')))
        return -1;
    (*p)++;
    return 0;
}

int
oim_clock_parse_rfc3339 (const char *text, int64_t *unix_ms)
{
    if (!text)
        return -1;
    const char *p = text;
    int year, mon, day, hour, min, sec, millis = 0;
    if (s_digits (&p, 4, &year) || s_expect (&p, '-') || s_digits (&p, 2, &mon)
    ||  s_expect (&p, '-') || s_digits (&p, 2, &day) || s_expect (&p, 'T')
    ||  s_digits (&p, 2, &hour) || s_expect (&p, ':') || s_digits (&p, 2, &min)
    ||  s_expect (&p, ':') || s_digits (&p, 2, &sec))
        return -1;
    if (*p == '.') {
        p++;
        int scale = 100, digits = 0;
        while (isdigit ((unsigned char) *p)) {
            if (digits++ < 3) {
                millis += (*p - '0') * scale;
                scale /= 10;
            }
            p++;
        }
        if (digits == 0)
            return -1;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else
    if (*p == '+' || *p == '-') {
        int sign = *p++ == '-'? -1: 1, oh, om;
        if (s_digits (&p, 2, &oh) || s_expect (&p, ':') || s_digits (&p, 2, &om))
            return -1;
        offset_min = sign * (oh * 60 + om);
    }
    else
        return -1;
    if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return -1;
    struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                     .tm_hour = hour, .tm_min = min, .tm_sec = sec };
    time_t secs = timegm (&tm);
    //  timegm normalises 31 February into March: refuse dates that did not survive.
    struct tm check;
    gmtime_r (&secs, &check);
    if (check.tm_mday != day && sec != 60)
        return -1;
    *unix_ms = ((int64_t) secs - offset_min * 60) * 1000 + millis;
    return 0;
}
