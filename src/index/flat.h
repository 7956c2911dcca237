/* IndexFlat: vectors stored as they are, searched exactly. */
#ifndef VX_FLAT_H
#define VX_FLAT_H

#include <stddef.h>

#include "vindex.h"

/* The stored vectors (ntotal x d), for composites and quantizers that scan a
 * flat index directly; NULL when ix is not a flat index. */
const float *vx_flat_vectors(const vindex *ix);

/* Exact scores of one query against chosen stored vectors without
 * reconstructing them (IndexRefineFlat over a split Flat, where reconstruct
 * gathers d scattered floats per vector): vx_flat_query_layout puts q in the
 * stored dimension order (into scratch, d floats, when split; else returns
 * q), then vx_flat_score_one gives the heap score (L2 squared distance, or
 * the negated inner product) of that query against position id (valid). NULL
 * from vx_flat_query_layout when ix is not a flat index. */
const float *vx_flat_query_layout(const vindex *ix, const float *q, float *scratch);
float vx_flat_score_one(const vindex *ix, const float *q_layout, vindex_id id);
/* Starts fetching stored vector id (valid), which vx_flat_score_one reads:
 * the first lines of each part of its row (the hardware follows the run). */
void vx_flat_prefetch(const vindex *ix, vindex_id id);

/* When L2 flat indexes of d >= 64 store their vectors split for pruned scans:
 * a first add of at least this many bytes, whose quarter of highest-variance
 * dimensions carries at least this multiple of its share of the variance.
 * Tests set both to 0 to cover the split path. */
extern size_t vx_flat_split_min_bytes;
extern double vx_flat_split_min_head_share;

/* Makes a flat index a read-only view of n caller-owned vectors (NULL ends the
 * view). The view is searchable; it must not be added to or removed from. */
void vx_flat_borrow(vindex *ix, const float *vectors, size_t n);

#endif
