/*  oim_test.h — the tiny check harness of the unit tests (search, analyser). */
#ifndef OIM_TEST_H_INCLUDED
#define OIM_TEST_H_INCLUDED

#include <stdio.h>

typedef struct {
    int passed, failed;
} oim_test_t;

#define CHECK(t, cond, ...) \
    do { \
        if (cond) \
            (t)->passed++; \
        else { \
            (t)->failed++; \
            fprintf (stderr, "FAIL %s:%d: %s — ", __FILE__, __LINE__, #cond); \
            fprintf (stderr, __VA_ARGS__); \
            fputc ('\n', stderr); \
        } \
    } while (0)

static inline int
oim_test_done (const oim_test_t *t)
{
    printf ("%d passed, %d failed\n", t->passed, t->failed);
    return t->failed ? 1 : 0;
}

#endif
