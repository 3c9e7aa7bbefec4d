/*  oim_clock — time in the units our names promise: wall-clock and monotonic milliseconds,
    monotonic microseconds, and RFC 3339 UTC strings with millisecond precision and a fixed
    width (24 characters, e.g. "2026-11-30T00:20:45.123Z"), which sort as time sorts.
*/
#ifndef OIM_CLOCK_H_INCLUDED
#define OIM_CLOCK_H_INCLUDED

#include <stdint.h>

#define OIM_RFC3339_SIZE 25     //  24 characters and the terminating null

int64_t oim_clock_wall_ms (void);      //  milliseconds since the Unix epoch
int64_t oim_clock_wall_us (void);      //  microseconds since the Unix epoch
int64_t oim_clock_mono_ms (void);      //  monotonic, for deadlines and intervals
int64_t oim_clock_mono_us (void);

//  Writes unix_ms as RFC 3339 UTC into buf (OIM_RFC3339_SIZE bytes).
void oim_clock_rfc3339 (int64_t unix_ms, char *buf);

//  Parses an RFC 3339 date-time ("2026-11-30T09:20:45+09:00", "...Z", fraction optional) into
//  unix milliseconds. Returns 0, or -1 when text is not such a date-time (*unix_ms unchanged).
int oim_clock_parse_rfc3339 (const char *text, int64_t *unix_ms);

#endif
