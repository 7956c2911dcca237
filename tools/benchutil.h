/* Small helpers shared by the benchmark programs in bench/: exit on a failed
 * call with the library's message, and recall@k against a ground truth. */
#ifndef VX_TOOLS_BENCHUTIL_H
#define VX_TOOLS_BENCHUTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "vindex.h"

/* Exits with "<program>: <what>: <message>" when st is not VINDEX_OK. */
static inline void bench_check(const char *program, vindex_status st, const char *what)
{
    if (st != VINDEX_OK) {
        fprintf(stderr, "%s: %s: %s\n", program, what, vindex_last_error());
        exit(1);
    }
}

/* The fraction of each row's k true neighbours (rows of k) found in got. */
static inline double bench_recall(const vindex_id *got, const vindex_id *truth, size_t nq,
                                  size_t k)
{
    size_t hits = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t a = 0; a < k; a++)
            for (size_t b = 0; b < k; b++)
                if (got[i * k + a] == truth[i * k + b]) {
                    hits++;
                    break;
                }
    return (double)hits / (double)(nq * k);
}

#endif
