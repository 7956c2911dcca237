#include "topk.h"

void vx_topk_finish(float *score, vindex_id *ids, size_t k, vindex_metric metric)
{
    /* Heap sort: repeatedly move the worst to the end of the shrinking heap. */
    for (size_t n = k; n > 1; n--) {
        float s = score[n - 1];
        vindex_id id = ids[n - 1];
        score[n - 1] = score[0];
        ids[n - 1] = ids[0];
        vx_heap_replace_top(score, ids, n - 1, s, id);
    }
    if (metric == VINDEX_METRIC_INNER_PRODUCT)
        for (size_t i = 0; i < k; i++)
            score[i] = -score[i];
}

void vx_heap_merge(float *score, vindex_id *ids, size_t k, const float *other_score,
                   const vindex_id *other_ids)
{
    for (size_t i = 0; i < k; i++)
        if (other_ids[i] != -1)
            vx_heap_push(score, ids, k, other_score[i], other_ids[i]);
}

void vx_heap_push_block(float *score, vindex_id *ids, size_t k, const float *block, size_t n,
                        vindex_id id0)
{
    /* Most candidates lose to the root once the heap has filled; the threshold
     * test below is branch-predictable and vectorises, the heap work is rare.
     * Equal scores go through the full comparison for the id tie-break. */
    float threshold = score[0];
    for (size_t j = 0; j < n; j++) {
        if (block[j] <= threshold) {
            vx_heap_push(score, ids, k, block[j], id0 + (vindex_id)j);
            threshold = score[0];
        }
    }
}
