/* Hamming kernels (every level against the scalar code) and IndexBinaryFlat
 * (against a plain reference, across thread counts, bad input). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "simd/hamming_kernels.h"
#include "simd/kernels.h"

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
    uint8_t *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(tu_rand_next(&seed) >> 24);
    return b;
}

static uint32_t ref_hamming(const uint8_t *a, const uint8_t *b, size_t cs)
{
    uint32_t n = 0;
    for (size_t t = 0; t < cs; t++)
        for (int bit = 0; bit < 8; bit++)
            n += ((a[t] ^ b[t]) >> bit) & 1;
    return n;
}

static void kernels_match_scalar_every_level(void **state)
{
    (void)state;
    enum { MAXCS = 256, NB = 19, NQ = 5 };
    uint8_t *buf = random_bytes((NB + NQ) * MAXCS + 16, 7);
    uint32_t want[NQ * NB], got[NQ * NB];
    for (int level = VX_LEVEL_SCALAR; level <= VX_LEVEL_AVX512; level++) {
        const vx_hamming_kernel_table *t = vx_hamming_kernels_for_level(level);
        if (!t)
            continue;
        for (size_t cs = 1; cs <= MAXCS; cs++)
            for (size_t off = 0; off < 4; off += 3) { /* aligned and unaligned */
                const uint8_t *codes = buf + off, *q = buf + off + NB * cs;
                for (size_t n = 0; n <= NB; n += (n < 9 ? 1 : 5)) {
                    for (size_t i = 0; i < NQ; i++)
                        for (size_t j = 0; j < n; j++)
                            want[i * n + j] = ref_hamming(q + i * cs, codes + j * cs, cs);
                    memset(got, 0xff, sizeof got);
                    t->hamming_ny(got, q, codes, cs, n);
                    for (size_t j = 0; j < n; j++)
                        if (got[j] != want[j])
                            fail_msg("%s hamming_ny cs=%zu n=%zu j=%zu: %u != %u", t->name, cs, n,
                                     j, got[j], want[j]);
                    for (size_t nq = 1; nq <= NQ; nq += 2) {
                        memset(got, 0xff, sizeof got);
                        t->hamming_tile(got, q, nq, codes, cs, n);
                        for (size_t a = 0; a < nq * n; a++)
                            if (got[a] != want[a])
                                fail_msg("%s hamming_tile cs=%zu nq=%zu n=%zu at %zu", t->name, cs,
                                         nq, n, a);
                    }
                }
            }
    }
    free(buf);
}

/* All k nearest by plain loops, (distance, id) order, padded INT32_MAX / -1. */
static void ref_knn(const uint8_t *q, size_t nq, const uint8_t *x, size_t nx, size_t cs, size_t k,
                    int32_t *dist, vindex_id *ids)
{
    for (size_t i = 0; i < nq; i++) {
        for (size_t r = 0; r < k; r++) {
            dist[i * k + r] = INT32_MAX;
            ids[i * k + r] = -1;
        }
        for (size_t j = 0; j < nx; j++) {
            int32_t dj = (int32_t)ref_hamming(q + i * cs, x + j * cs, cs);
            size_t r = k;
            while (r > 0 && (ids[i * k + r - 1] < 0 || dist[i * k + r - 1] > dj))
                r--;
            if (r == k)
                continue;
            for (size_t s = k - 1; s > r; s--) {
                dist[i * k + s] = dist[i * k + s - 1];
                ids[i * k + s] = ids[i * k + s - 1];
            }
            dist[i * k + r] = dj;
            ids[i * k + r] = (vindex_id)j;
        }
    }
}

static void flat_matches_reference(void **state)
{
    (void)state;
    static const int dims[] = {8, 64, 136, 512, 1024};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        size_t cs = (size_t)dims[di] / 8, nb = 3000, nq = 37, k = 10;
        /* few bits: many ties, so the tie order is exercised */
        uint8_t *x = random_bytes(nb * cs, 11 + di), *q = random_bytes(nq * cs, 99 + di);
        vindex_binary *ix;
        ASSERT_OK(vindex_binary_flat_new(&ix, dims[di]));
        assert_int_equal(vindex_binary_code_size(ix), cs);
        ASSERT_OK(vindex_binary_add(ix, nb / 2, x));
        ASSERT_OK(vindex_binary_add(ix, nb - nb / 2, x + (nb / 2) * cs));
        assert_int_equal(vindex_binary_ntotal(ix), nb);
        int32_t *wd = malloc(nq * k * sizeof *wd), *gd = malloc(nq * k * sizeof *gd);
        vindex_id *wi = malloc(nq * k * sizeof *wi), *gi = malloc(nq * k * sizeof *gi);
        ref_knn(q, nq, x, nb, cs, k, wd, wi);
        for (int nt = 1; nt <= 3; nt += 2) {
            vindex_set_num_threads(nt);
            /* the batch, then one query per call (split over segments) */
            ASSERT_OK(vindex_binary_search(ix, nq, q, k, gd, gi));
            assert_memory_equal(gd, wd, nq * k * sizeof *gd);
            assert_memory_equal(gi, wi, nq * k * sizeof *gi);
            for (size_t i = 0; i < nq; i++)
                ASSERT_OK(vindex_binary_search(ix, 1, q + i * cs, k, gd + i * k, gi + i * k));
            assert_memory_equal(gd, wd, nq * k * sizeof *gd);
            assert_memory_equal(gi, wi, nq * k * sizeof *gi);
        }
        vindex_set_num_threads(0);
        free(wd);
        free(gd);
        free(wi);
        free(gi);
        free(x);
        free(q);
        vindex_binary_free(ix);
    }
}

static void pads_reconstructs_removes(void **state)
{
    (void)state;
    const size_t cs = 4, nb = 5, k = 8;
    uint8_t *x = random_bytes(nb * cs, 3);
    vindex_binary *ix;
    ASSERT_OK(vindex_binary_flat_new(&ix, 32));
    int32_t d[8];
    vindex_id l[8];
    ASSERT_OK(vindex_binary_search(ix, 1, x, k, d, l)); /* empty index */
    for (size_t r = 0; r < k; r++)
        assert_true(l[r] == -1 && d[r] == INT32_MAX);
    ASSERT_OK(vindex_binary_add(ix, nb, x));
    ASSERT_OK(vindex_binary_search(ix, 1, x + 2 * cs, k, d, l));
    assert_int_equal(l[0], 2);
    assert_int_equal(d[0], 0);
    for (size_t r = nb; r < k; r++)
        assert_true(l[r] == -1 && d[r] == INT32_MAX);
    uint8_t c[4];
    ASSERT_OK(vindex_binary_reconstruct(ix, 3, c));
    assert_memory_equal(c, x + 3 * cs, cs);
    assert_int_equal(vindex_binary_reconstruct(ix, 5, c), VINDEX_ERR_NOT_FOUND);
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 1, 3));
    size_t removed;
    ASSERT_OK(vindex_binary_remove_ids(ix, sel, &removed));
    assert_int_equal(removed, 2);
    assert_int_equal(vindex_binary_ntotal(ix), 3);
    ASSERT_OK(vindex_binary_reconstruct(ix, 1, c)); /* old 3 moved down */
    assert_memory_equal(c, x + 3 * cs, cs);
    vindex_selector_free(sel);
    ASSERT_OK(vindex_binary_reset(ix));
    assert_int_equal(vindex_binary_ntotal(ix), 0);
    vindex_binary_free(ix);
    free(x);
}

static void distances_match_reference(void **state)
{
    (void)state;
    const size_t cs = 13, nq = 3, nb = 21;
    uint8_t *q = random_bytes(nq * cs, 5), *x = random_bytes(nb * cs, 6);
    int32_t out[3 * 21];
    ASSERT_OK(vindex_hamming_distances(nq, q, nb, x, cs, out));
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < nb; j++)
            assert_int_equal(out[i * nb + j], ref_hamming(q + i * cs, x + j * cs, cs));
    free(q);
    free(x);
}

static void bad_input(void **state)
{
    (void)state;
    vindex_binary *ix = (vindex_binary *)1;
    assert_int_equal(vindex_binary_flat_new(&ix, 0), VINDEX_ERR_INVALID);
    assert_null(ix);
    assert_int_equal(vindex_binary_flat_new(&ix, 12), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_binary_flat_new(&ix, -8), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_binary_flat_new(NULL, 8), VINDEX_ERR_INVALID);
    ASSERT_OK(vindex_binary_flat_new(&ix, 16));
    uint8_t c[2] = {1, 2};
    int32_t d[1];
    vindex_id l[1];
    assert_int_equal(vindex_binary_add(ix, 1, NULL), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_binary_add(NULL, 1, c), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_binary_add(ix, SIZE_MAX / 2, c), VINDEX_ERR_INVALID);
    ASSERT_OK(vindex_binary_add(ix, 1, c));
    assert_int_equal(vindex_binary_search(ix, 1, c, 0, d, l), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_binary_search(ix, 1, NULL, 1, d, l), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_binary_search(ix, 1, c, 1, NULL, l), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_binary_search(ix, 1, c, 1, d, NULL), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_binary_remove_ids(ix, NULL, NULL), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_binary_reconstruct(ix, -1, c), VINDEX_ERR_NOT_FOUND);
    assert_int_equal(vindex_hamming_distances(1, c, 1, c, 0, d), VINDEX_ERR_INVALID);
    ASSERT_OK(vindex_binary_search(ix, 0, NULL, 1, NULL, NULL));
    vindex_binary_free(ix);
    vindex_binary_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kernels_match_scalar_every_level),
        cmocka_unit_test(flat_matches_reference),
        cmocka_unit_test(pads_reconstructs_removes),
        cmocka_unit_test(distances_match_reference),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
