/* Wall-clock timing and medians for the tools and benchmarks. */
#ifndef VX_TOOLS_TIMING_H
#define VX_TOOLS_TIMING_H

#include <stdlib.h>
#include <time.h>

static inline double timing_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int timing_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place and returns its median. */
static inline double timing_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, timing_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
