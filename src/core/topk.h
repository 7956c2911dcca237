/*
 * Top-k selection with Faiss's conventions.
 *
 * Candidates are ranked by a score where smaller is better: the squared
 * distance for L2, the negated inner product for IP (so one heap serves both;
 * vx_topk_finish flips the sign back). Ties are broken by the smaller id, which
 * makes the order (score, id) total: the k best are then one well-defined set,
 * whatever order candidates arrive in, so splitting work across threads and
 * merging gives the same answer as one thread.
 *
 * A heap of k (score, id) pairs keeps its worst entry at the root. Empty slots
 * hold (+inf, -1); comparing ids as unsigned makes -1 the worst of equal scores.
 */
#ifndef VX_TOPK_H
#define VX_TOPK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "vindex.h"

static inline int vx_worse(float sa, vindex_id ia, float sb, vindex_id ib)
{
    return sa > sb || (sa == sb && (uint64_t)ia > (uint64_t)ib);
}

static inline void vx_heap_init(float *score, vindex_id *ids, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        score[i] = INFINITY;
        ids[i] = -1;
    }
}

/* Puts (s, id) in place of the root and sifts it down. Call only when
 * (s, id) is better than the root. */
static inline void vx_heap_replace_top(float *score, vindex_id *ids, size_t k, float s,
                                       vindex_id id)
{
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, c;
        if (l >= k)
            break;
        c = (r < k && vx_worse(score[r], ids[r], score[l], ids[l])) ? r : l;
        if (!vx_worse(score[c], ids[c], s, id))
            break;
        score[i] = score[c];
        ids[i] = ids[c];
        i = c;
    }
    score[i] = s;
    ids[i] = id;
}

/* Offers a candidate; keeps it when it beats the current worst. */
static inline void vx_heap_push(float *score, vindex_id *ids, size_t k, float s, vindex_id id)
{
    if (vx_worse(score[0], ids[0], s, id))
        vx_heap_replace_top(score, ids, k, s, id);
}

/* Sorts the heap best first (in place) and, for inner product, turns scores
 * back into inner products. Empty slots end as (+inf, -1) for L2 and
 * (-inf, -1) for IP. */
void vx_topk_finish(float *score, vindex_id *ids, size_t k, vindex_metric metric);

/* Offers every entry of another heap (of the same k) to this one. */
void vx_heap_merge(float *score, vindex_id *ids, size_t k, const float *other_score,
                   const vindex_id *other_ids);

/* Merges nseg heaps of k entries stored one after another (heap s at
 * seg_score + s * k) into one heap in score/ids: the per-segment heaps of a
 * search split over database segments. */
void vx_heap_merge_segments(float *score, vindex_id *ids, size_t k, const float *seg_score,
                            const vindex_id *seg_ids, size_t nseg);

#endif
