/*  test_pbscan — oim_pbscan's self test: bounds on every prefix and bit flip, random bytes,
    the IngestBatch envelope. Meant to run under ASan (-DOIM_SANITIZE=ON) as well. */
#include "oim_pbscan.h"

#include <stdio.h>
#include <string.h>

int
main (int argc, char **argv)
{
    bool verbose = argc > 1 && strcmp (argv [1], "-v") == 0;
    oim_pbscan_test (verbose);
    printf ("pbscan: OK\n");
    return 0;
}
