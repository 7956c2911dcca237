/*
 * IndexBinaryFlat: exact Hamming k-NN over packed binary codes (Faiss:
 * IndexBinaryFlat). A family of its own public type, vindex_binary, because
 * its vectors are bytes and its distances integers (as Faiss's IndexBinary
 * hierarchy beside Index); the search engine is shared with IndexLSH
 * (hamming_knn.c). Labels are positions; remove_ids renumbers what follows.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../simd/hamming_kernels.h"
#include "hamming_knn.h"
#include "vindex.h"

struct vindex_binary {
    int d;            /* bits */
    size_t code_size; /* d / 8 bytes */
    int64_t ntotal;
    uint8_t *codes;   /* cap codes */
    size_t cap;
};

VINDEX_API vindex_status vindex_binary_flat_new(vindex_binary **out, int d_bits)
{
    vx_clear_error();
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "IndexBinaryFlat: out is NULL");
    *out = NULL;
    if (d_bits <= 0 || d_bits % 8 != 0)
        return vx_fail(VINDEX_ERR_INVALID,
                       "IndexBinaryFlat: d = %d bits must be a positive multiple of 8", d_bits);
    vindex_binary *ix = vx_calloc(1, sizeof *ix);
    if (!ix)
        return VINDEX_ERR_NOMEM;
    ix->d = d_bits;
    ix->code_size = (size_t)d_bits / 8;
    *out = ix;
    return VINDEX_OK;
}

VINDEX_API void vindex_binary_free(vindex_binary *ix)
{
    if (!ix)
        return;
    vx_free(ix->codes);
    vx_free(ix);
}

VINDEX_API int vindex_binary_d(const vindex_binary *ix) { return ix ? ix->d : 0; }
VINDEX_API size_t vindex_binary_code_size(const vindex_binary *ix) { return ix ? ix->code_size : 0; }
VINDEX_API int64_t vindex_binary_ntotal(const vindex_binary *ix) { return ix ? ix->ntotal : 0; }
VINDEX_API size_t vindex_binary_memory_bytes(const vindex_binary *ix)
{
    return ix ? sizeof *ix + ix->cap * ix->code_size : 0;
}

/* n codes of cs bytes fit the address space (with room to spare). */
static vindex_status check_codes(const char *op, const char *what, size_t n, size_t cs,
                                 const uint8_t *p)
{
    size_t bytes;
    if (!vx_mul_ok(n, cs, &bytes) || bytes > (SIZE_MAX >> 1))
        return vx_fail(VINDEX_ERR_INVALID, "%s: %zu %s of %zu bytes overflow the address space",
                       op, n, what, cs);
    if (n > 0 && !p)
        return vx_fail(VINDEX_ERR_INVALID, "%s: %s pointer is NULL", op, what);
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_binary_add(vindex_binary *ix, size_t n, const uint8_t *codes)
{
    vx_clear_error();
    if (!ix)
        return vx_fail(VINDEX_ERR_INVALID, "binary add: index is NULL");
    vindex_status st = check_codes("binary add", "code", n, ix->code_size, codes);
    if (st)
        return st;
    if (n == 0)
        return VINDEX_OK;
    size_t at = (size_t)ix->ntotal;
    if (n > (size_t)(INT64_MAX - ix->ntotal) || at + n < at)
        return vx_fail(VINDEX_ERR_INVALID, "binary add: %zu codes would overflow the count", n);
    if (at + n > ix->cap) {
        size_t cap = ix->cap * 2 > at + n ? ix->cap * 2 : at + n;
        uint8_t *grown = vx_alloc_big(cap, ix->code_size);
        if (!grown)
            return vx_fail(VINDEX_ERR_NOMEM, "binary add: out of memory for %zu codes", cap);
        if (at)
            memcpy(grown, ix->codes, at * ix->code_size);
        vx_free(ix->codes);
        ix->codes = grown;
        ix->cap = cap;
    }
    memcpy(ix->codes + at * ix->code_size, codes, n * ix->code_size);
    ix->ntotal += (int64_t)n;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_binary_search(const vindex_binary *ix, size_t nq,
                                              const uint8_t *queries, size_t k,
                                              int32_t *distances, vindex_id *labels)
{
    vx_clear_error();
    if (!ix)
        return vx_fail(VINDEX_ERR_INVALID, "binary search: index is NULL");
    if (k == 0)
        return vx_fail(VINDEX_ERR_INVALID, "binary search: k must be at least 1");
    size_t nres;
    if (!vx_mul_ok(nq, k, &nres) || nres > (SIZE_MAX >> 4))
        return vx_fail(VINDEX_ERR_INVALID, "binary search: %zu queries x k=%zu results overflow",
                       nq, k);
    if (nq > 0 && (!distances || !labels))
        return vx_fail(VINDEX_ERR_INVALID, "binary search: %s output is NULL",
                       distances ? "labels" : "distances");
    vindex_status st = check_codes("binary search", "query", nq, ix->code_size, queries);
    if (st || nq == 0)
        return st;
    if (ix->ntotal == 0) {
        for (size_t i = 0; i < nres; i++) {
            distances[i] = INT32_MAX;
            labels[i] = -1;
        }
        return VINDEX_OK;
    }
    float *fd = vx_alloc(nres, sizeof(float));
    if (!fd)
        return VINDEX_ERR_NOMEM;
    vx_hamming_base b = {ix->codes, (size_t)ix->ntotal, ix->code_size, NULL};
    st = vx_hamming_knn(&b, nq, queries, k, fd, labels);
    if (!st)
        for (size_t i = 0; i < nres; i++) /* padding: Faiss's int heap fill */
            distances[i] = labels[i] < 0 ? INT32_MAX : (int32_t)fd[i];
    vx_free(fd);
    return st;
}

VINDEX_API vindex_status vindex_binary_reconstruct(const vindex_binary *ix, vindex_id id,
                                                   uint8_t *out)
{
    vx_clear_error();
    if (!ix || !out)
        return vx_fail(VINDEX_ERR_INVALID, "binary reconstruct: %s is NULL",
                       ix ? "out" : "index");
    if (id < 0 || id >= ix->ntotal)
        return vx_fail(VINDEX_ERR_NOT_FOUND,
                       "binary reconstruct: id %lld is not in the index (0..%lld)",
                       (long long)id, (long long)ix->ntotal - 1);
    memcpy(out, ix->codes + (size_t)id * ix->code_size, ix->code_size);
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_binary_remove_ids(vindex_binary *ix, const vindex_selector *sel,
                                                  size_t *n_removed)
{
    vx_clear_error();
    if (n_removed)
        *n_removed = 0;
    if (!ix || !sel)
        return vx_fail(VINDEX_ERR_INVALID, "binary remove_ids: %s is NULL",
                       ix ? "selector" : "index");
    size_t n = (size_t)ix->ntotal, kept = 0, cs = ix->code_size;
    for (size_t i = 0; i < n; i++) {
        if (vindex_selector_contains(sel, (vindex_id)i))
            continue;
        if (kept != i)
            memmove(ix->codes + kept * cs, ix->codes + i * cs, cs);
        kept++;
    }
    ix->ntotal = (int64_t)kept;
    if (n_removed)
        *n_removed = n - kept;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_binary_reset(vindex_binary *ix)
{
    vx_clear_error();
    if (!ix)
        return vx_fail(VINDEX_ERR_INVALID, "binary reset: index is NULL");
    vx_free(ix->codes);
    ix->codes = NULL;
    ix->cap = 0;
    ix->ntotal = 0;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_hamming_distances(size_t nq, const uint8_t *queries, size_t nb,
                                                  const uint8_t *codes, size_t code_size,
                                                  int32_t *out)
{
    vx_clear_error();
    if (code_size == 0 || code_size > INT32_MAX / 8)
        return vx_fail(VINDEX_ERR_INVALID, "hamming_distances: code_size %zu is out of range",
                       code_size);
    size_t cells;
    vindex_status st;
    if ((st = check_codes("hamming_distances", "query", nq, code_size, queries)) ||
        (st = check_codes("hamming_distances", "code", nb, code_size, codes)))
        return st;
    if (!vx_mul_ok(nq, nb, &cells) || cells > (SIZE_MAX >> 3))
        return vx_fail(VINDEX_ERR_INVALID, "hamming_distances: %zu x %zu results overflow", nq,
                       nb);
    if (cells > 0 && !out)
        return vx_fail(VINDEX_ERR_INVALID, "hamming_distances: out is NULL");
    const vx_hamming_kernel_table *kern = vx_hamming_kernels();
    for (size_t i = 0; i < nq; i++) /* uint32 counts of at most 8 * code_size bits */
        kern->hamming_ny((uint32_t *)(void *)(out + i * nb), queries + i * code_size, codes,
                         code_size, nb);
    return VINDEX_OK;
}
