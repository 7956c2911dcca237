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

void vx_heap_merge_segments(float *score, vindex_id *ids, size_t k, const float *seg_score,
                            const vindex_id *seg_ids, size_t nseg)
{
    vx_heap_init(score, ids, k);
    for (size_t s = 0; s < nseg; s++)
        vx_heap_merge(score, ids, k, seg_score + s * k, seg_ids + s * k);
}
