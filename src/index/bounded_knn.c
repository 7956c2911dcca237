/* Exact k-NN pruned by lower bounds (see bounded_knn.h). */
#include "bounded_knn.h"

#include <float.h>
#include <math.h>

#include "../core/selector.h"
#include "../core/topk.h"

enum { PENDING = 8, SELECT_BLOCK = 256 };

/* Candidates waiting for their exact scores. */
typedef struct pending {
    const float *vec[PENDING];
    vindex_id id[PENDING];
    size_t n;
} pending;

void vx_sketch(const vx_kernel_table *kt, const float *proj, const float *bias, size_t d,
               size_t dims, const float *q, float *out)
{
    kt->inner_product_ny(out, q, proj, d, dims);
    for (size_t r = 0; r < dims; r++)
        out[r] += bias[r];
}

vx_bounded_knn vx_bounded_knn_for(const vx_kernel_table *kt, const float *q, size_t d,
                                  size_t sketch_dims, size_t k, float *hd, vindex_id *hi)
{
    return vx_bounded_knn_with_norm(kt, q, kt->norm_sqr(q, d), d, sketch_dims, k, hd, hi);
}

vx_bounded_knn vx_bounded_knn_with_norm(const vx_kernel_table *kt, const float *q, float qn2,
                                        size_t d, size_t sketch_dims, size_t k, float *hd,
                                        vindex_id *hi)
{
    vx_bounded_knn s = {.kt = kt, .q = q, .d = d, .k = k, .hd = hd, .hi = hi, .qn2 = qn2};
    /* rounding of a sum of n products grows like sqrt(n) eps: the bound sums
     * sketch_dims terms of dot products of d terms; 8x for safety */
    s.slack = 8.0f * FLT_EPSILON * sqrtf((float)(sketch_dims * d));
    return s;
}

static inline float limit(const vx_bounded_knn *s)
{
    float thr = s->hd[0];
    return thr + s->slack * (s->qn2 + thr);
}

static void flush(const vx_bounded_knn *s, pending *pc, size_t *scored)
{
    float score[PENDING];
    *scored += pc->n;
    s->kt->l2sqr_gather(score, s->q, pc->vec, s->d, pc->n);
    for (size_t t = 0; t < pc->n; t++)
        vx_heap_push(s->hd, s->hi, s->k, score[t], pc->id[t]);
    pc->n = 0;
}

static inline vindex_id id_of(const vx_bound_segment *g, size_t i)
{
    return g->ids ? g->ids[i] : (vindex_id)i;
}

static inline void add(const vx_bounded_knn *s, pending *pc, const vx_bound_segment *g, size_t i,
                       size_t *scored)
{
    pc->vec[pc->n] = g->vecs + i * g->stride;
    pc->id[pc->n] = id_of(g, i);
    if (++pc->n == PENDING)
        flush(s, pc, scored);
}

size_t vx_bounded_knn_run(const vx_bounded_knn *s, const vx_bound_segment *seg, size_t nseg,
                          float *bound, float *best_bound, vindex_id *best_pos)
{
    const size_t k = s->k;
    size_t scored = 0;
    /* the k smallest bounds among allowed candidates, by position */
    vx_heap_init(best_bound, best_pos, k);
    size_t first = 0;
    for (size_t g = 0; g < nseg; first += seg[g].n, g++)
        for (size_t i = 0; i < seg[g].n; i++) {
            size_t at = first + i;
            if (bound[at] > best_bound[0] || !vx_selected(s->sel, id_of(&seg[g], i)))
                continue;
            vx_heap_push(best_bound, best_pos, k, bound[at], (vindex_id)at);
        }
    pending pc = {.n = 0};
    for (size_t t = 0; t < k; t++) {
        if (best_pos[t] < 0)
            continue;
        size_t at = (size_t)best_pos[t], g = 0, start = 0;
        while (at >= start + seg[g].n) /* the segment holding position at */
            start += seg[g++].n;
        add(s, &pc, &seg[g], at - start, &scored);
        bound[at] = NAN; /* scored: no comparison selects it again */
    }
    flush(s, &pc, &scored);
    return scored + vx_bounded_knn_sweep(s, seg, nseg, bound);
}

size_t vx_bounded_knn_sweep(const vx_bounded_knn *s, const vx_bound_segment *seg, size_t nseg,
                            const float *bound)
{
    size_t scored = 0;
    pending pc = {.n = 0};
    uint32_t idx[SELECT_BLOCK];
    size_t first = 0;
    for (size_t g = 0; g < nseg; first += seg[g].n, g++) {
        const float *b = bound + first;
        for (size_t off = 0; off < seg[g].n; off += SELECT_BLOCK) {
            size_t m = seg[g].n - off < SELECT_BLOCK ? seg[g].n - off : SELECT_BLOCK;
            size_t cnt = s->kt->select_le(idx, b + off, NULL, m, limit(s));
            for (size_t t = 0; t < cnt; t++) {
                size_t i = off + idx[t];
                if (!(b[i] <= limit(s)) || !vx_selected(s->sel, id_of(&seg[g], i)))
                    continue;
                add(s, &pc, &seg[g], i, &scored);
            }
        }
    }
    flush(s, &pc, &scored);
    return scored;
}
