/*  test_curve — oim_curve's self test: loopback checks, key generation, a CURVE round trip. */
#include "oim_curve.h"
#include "oim_log.h"

int
main (int argc, char **argv)
{
    bool verbose = argc > 1 && streq (argv [1], "-v");
    oim_log_init ("test", verbose? "debug": "error");
    oim_curve_test (verbose);
    printf ("curve: OK\n");
    return 0;
}
