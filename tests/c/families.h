/* Every index family, for the tests that must cover them all
 * (test_concurrency.c, test_alloc_failure.c): a factory string, or a
 * constructor where the factory cannot build the family yet. A new family is
 * covered by those tests once it has a line here. Dimension: FAMILY_D. */
#ifndef VX_TEST_FAMILIES_H
#define VX_TEST_FAMILIES_H

#include <stdbool.h>

#include "vindex.h"

enum { FAMILY_D = 16 };

typedef struct family {
    const char *spec;
    bool with_ids;     /* takes ids through add_with_ids (IDMap) */
    bool one_thread;   /* adds are reproducible only with one thread (HNSW) */
    const char *param; /* a search parameter that set_param changes, or NULL */
    /* for families the factory cannot build yet; else NULL */
    vindex_status (*make)(vindex **out);
} family;

static inline vindex_status family_make_hnsw_sq8(vindex **out)
{
    return vindex_hnsw_sq8_new(out, FAMILY_D, 8, VINDEX_METRIC_L2);
}

static inline vindex_status family_make_hnsw_fp16(vindex **out)
{
    return vindex_hnsw_fp16_new(out, FAMILY_D, 8, VINDEX_METRIC_L2);
}

static inline vindex_status family_make_hnsw_pq(vindex **out)
{
    return vindex_hnsw_pq_new(out, FAMILY_D, 4, 8, VINDEX_METRIC_L2);
}

static const family families[] = {
    {.spec = "Flat"},
    {.spec = "IDMap,Flat", .with_ids = true},
    {.spec = "IDMap2,Flat", .with_ids = true},
    {.spec = "IVF8,Flat", .param = "nprobe"},
    {.spec = "IVF8,PQ4x4", .param = "nprobe"},
    {.spec = "IVF8,SQ8", .param = "nprobe"},
    {.spec = "PQ4x4"},
    {.spec = "SQ8"},
    {.spec = "HNSW8", .one_thread = true, .param = "efSearch"},
    {.spec = "HNSW8_SQ8", .one_thread = true, .param = "efSearch", .make = family_make_hnsw_sq8},
    {.spec = "HNSW8_fp16", .one_thread = true, .param = "efSearch",
     .make = family_make_hnsw_fp16},
    {.spec = "HNSW8_PQ4", .one_thread = true, .param = "efSearch", .make = family_make_hnsw_pq},
    {.spec = "IVF8_HNSW4,Flat", .param = "nprobe"},
    {.spec = "LSH"},
    {.spec = "PQ4x4,RFlat", .param = "k_factor"},
    {.spec = "PCA8,Flat"},
};

enum { NFAMILIES = sizeof families / sizeof families[0] };

/* A new, untrained index of the family (L2). */
static inline vindex_status family_new(const family *fam, vindex **out)
{
    return fam->make ? fam->make(out) : vindex_factory(out, FAMILY_D, fam->spec, VINDEX_METRIC_L2);
}

#endif
