/* Index-free helpers: exact k-NN over caller arrays, and L2 normalisation. */
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../simd/kernels.h"
#include "brute.h"
#include "flat.h"
#include "index.h"

VINDEX_API vindex_status vindex_knn(size_t nq, const float *queries, size_t nb, const float *base,
                                    int d, size_t k, vindex_metric metric, float *distances,
                                    vindex_id *labels)
{
    /* A view of the caller's arrays as a Flat index: the checks and the search
     * are the index's own, nothing is copied. */
    vindex *view;
    vindex_status st = vindex_flat_new(&view, d, metric);
    if (st)
        return st;
    if ((st = vx_check_vectors(d, "knn", "base vector", nb, base))) {
        vindex_free(view);
        return st;
    }
    vx_flat_borrow(view, base, nb);
    st = vindex_search(view, nq, queries, k, NULL, distances, labels);
    vx_flat_borrow(view, NULL, 0);
    vindex_free(view);
    return st;
}

VINDEX_API vindex_status vindex_normalize_l2(size_t n, int d, float *x)
{
    vx_clear_error();
    if (d <= 0)
        return vx_fail(VINDEX_ERR_INVALID, "normalize_L2: dimension %d must be positive", d);
    if (n > 0 && !x)
        return vx_fail(VINDEX_ERR_INVALID, "normalize_L2: x is NULL");
    size_t elems, bytes;
    if (!vx_mul_ok(n, (size_t)d, &elems) || !vx_mul_ok(elems, sizeof(float), &bytes) ||
        bytes > (SIZE_MAX >> 1))
        return vx_fail(VINDEX_ERR_INVALID, "normalize_L2: %zu x %d overflows", n, d);
    float (*norm)(const float *, size_t) = vx_kernels()->norm_sqr;
    for (size_t i = 0; i < n; i++) {
        float *v = x + i * (size_t)d;
        float s = norm(v, (size_t)d);
        if (s > 0) {
            float inv = 1.0f / sqrtf(s);
            for (int j = 0; j < d; j++)
                v[j] *= inv;
        }
    }
    return VINDEX_OK;
}
