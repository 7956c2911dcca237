/* 4-bit PQ fast-scan: the kernels at every SIMD level against a plain
 * reference (bit-exact integer sums, including sums past 16 bits), the packed
 * layout, LUT quantization error, IndexPQFastScan against IndexPQ on the same
 * codes (same neighbours up to table quantization, same distances after
 * rescoring), recall against brute force, thread independence, remove,
 * reconstruct, and bad input. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/fastscan.h"
#include "simd/fastscan_kernels.h"
#include "simd/kernels.h"

enum { K = 10 };

/* ---- kernels ------------------------------------------------------------ */

static void reference_sums(uint32_t *out, const uint8_t *lut, size_t npairs,
                           const uint8_t *blocks, size_t nblocks)
{
    for (size_t b = 0; b < nblocks; b++)
        for (size_t j = 0; j < VX_FS_BLOCK; j++) {
            uint64_t s = 0;
            for (size_t m = 0; m < 2 * npairs; m++) {
                uint8_t byte = blocks[(b * npairs + m / 2) * VX_FS_BLOCK + j];
                s += lut[m * 16 + ((m & 1) ? byte >> 4 : byte & 15)];
            }
            out[b * VX_FS_BLOCK + j] = (uint32_t)s;
        }
}

/* Every level gives the reference's sums, for row counts around the 16-bit
 * flush (128 rows) and block counts odd and even (AVX-512 pairs blocks), with
 * random tables and with all-255 tables (the largest sums). */
static void kernels_equal_reference_at_every_level(void **state)
{
    (void)state;
    const size_t npairs_list[] = {1, 2, 3, 8, 63, 127, 128, 129, 196, 256, 300};
    const size_t nblocks_list[] = {1, 2, 3, 5};
    uint64_t rng = 42;
    int levels_run = 0;
    for (int level = VX_LEVEL_SCALAR; level <= VX_LEVEL_AVX512; level++) {
        const vx_fs_kernel_table *kt = vx_fs_kernels_at(level);
        if (!kt)
            continue;
        levels_run++;
        for (size_t a = 0; a < sizeof npairs_list / sizeof *npairs_list; a++)
            for (size_t b = 0; b < sizeof nblocks_list / sizeof *nblocks_list; b++)
                for (int full = 0; full < 2; full++) {
                    size_t np = npairs_list[a], nb = nblocks_list[b];
                    /* one extra byte so that unaligned starts are tested */
                    uint8_t *lut = malloc(np * 32 + 1), *blk = malloc(np * 32 * nb + 1);
                    uint32_t *got = malloc(nb * 32 * 4), *want = malloc(nb * 32 * 4);
                    for (size_t i = 0; i < np * 32; i++)
                        lut[i + 1] = full ? 255 : (uint8_t)(tu_rand_next(&rng) >> 56);
                    for (size_t i = 0; i < np * 32 * nb; i++)
                        blk[i + 1] = (uint8_t)(tu_rand_next(&rng) >> 56);
                    reference_sums(want, lut + 1, np, blk + 1, nb);
                    memset(got, 0xab, nb * 32 * 4);
                    kt->accumulate(got, lut + 1, np, blk + 1, nb);
                    if (memcmp(got, want, nb * 32 * 4) != 0)
                        fail_msg("level %s: npairs %zu, nblocks %zu, full %d: sums differ",
                                 kt->name, np, nb, full);
                    if (full)
                        assert_int_equal(want[0], 255u * 2 * np);
                    free(lut);
                    free(blk);
                    free(got);
                    free(want);
                }
    }
    assert_true(levels_run >= 1);
    assert_non_null(vx_fs_kernels());
}

/* LUT quantization: every level gives the scalar kernel's bytes, bias and
 * scale, with and without a second term, for even and odd M. */
static void quantize_lut_equal_at_every_level(void **state)
{
    (void)state;
    const size_t Ms[] = {1, 2, 15, 16, 17, 48, 392};
    uint64_t rng = 9;
    for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++) {
        size_t M = Ms[a], lb = (M + 1) / 2 * 32;
        float *t = malloc(M * 16 * sizeof *t), *u = malloc(M * 16 * sizeof *u);
        for (size_t i = 0; i < M * 16; i++) {
            t[i] = 100.0f * tu_uniform(&rng) - 30.0f;
            u[i] = 7.0f * tu_uniform(&rng);
        }
        uint8_t *want = malloc(lb), *got = malloc(lb);
        float *mins = malloc(M * sizeof *mins);
        for (int two = 0; two < 2; two++) {
            float wb, ws = vx_fs_kernels_scalar.quantize_lut(t, two ? u : NULL, M, want, &wb,
                                                             mins);
            for (int level = VX_LEVEL_AVX2; level <= VX_LEVEL_AVX512; level++) {
                const vx_fs_kernel_table *kt = vx_fs_kernels_at(level);
                if (!kt)
                    continue;
                float gb, gs = kt->quantize_lut(t, two ? u : NULL, M, got, &gb, mins);
                assert_true(gs == ws && gb == wb);
                assert_memory_equal(got, want, lb);
            }
        }
        free(t);
        free(u);
        free(want);
        free(got);
        free(mins);
    }
}

/* The residual table kernel: every level gives the scalar kernel's bits, for
 * several dsub (the AVX-512 kernel unrolls 1, 2 and 4) and M, and the entries
 * are |r_m - c_mj|^2 - |r_m|^2 (r = x - c) within float rounding. */
static void residual_table_equal_at_every_level(void **state)
{
    (void)state;
    const size_t dsubs[] = {1, 2, 3, 4, 8}, Ms[] = {1, 3, 16, 17};
    uint64_t rng = 17;
    for (size_t a = 0; a < sizeof dsubs / sizeof *dsubs; a++)
        for (size_t b = 0; b < sizeof Ms / sizeof *Ms; b++) {
            const size_t dsub = dsubs[a], M = Ms[b], d = M * dsub;
            float *x = malloc(d * sizeof *x), *c = malloc(d * sizeof *c);
            float *cb = malloc(M * 16 * dsub * sizeof *cb), *ct = malloc(M * 16 * dsub * 4);
            float *cn = malloc(M * 16 * sizeof *cn), *want = malloc(M * 16 * sizeof *want);
            float *got = malloc(M * 16 * sizeof *got);
            for (size_t t = 0; t < d; t++) {
                x[t] = 10.0f * tu_uniform(&rng) - 3.0f;
                c[t] = 10.0f * tu_uniform(&rng) - 3.0f;
            }
            for (size_t m = 0; m < M; m++)
                for (size_t j = 0; j < 16; j++) {
                    float n2 = 0;
                    for (size_t s = 0; s < dsub; s++) {
                        float v = 4.0f * tu_uniform(&rng) - 2.0f;
                        cb[(m * 16 + j) * dsub + s] = v;
                        ct[(m * dsub + s) * 16 + j] = -2.0f * v;
                        n2 += v * v;
                    }
                    cn[m * 16 + j] = n2;
                }
            vx_fs_kernels_scalar.residual_table(want, x, c, ct, cn, M, dsub);
            for (size_t m = 0; m < M; m++)
                for (size_t j = 0; j < 16; j++) {
                    double e = 0, r2 = 0;
                    for (size_t s = 0; s < dsub; s++) {
                        double r = (double)x[m * dsub + s] - c[m * dsub + s];
                        double diff = r - cb[(m * 16 + j) * dsub + s];
                        e += diff * diff;
                        r2 += r * r;
                    }
                    assert_true(fabs(want[m * 16 + j] - (e - r2)) <= 1e-4 * (1 + e + r2));
                }
            for (int level = VX_LEVEL_AVX2; level <= VX_LEVEL_AVX512; level++) {
                const vx_fs_kernel_table *kt = vx_fs_kernels_at(level);
                if (!kt)
                    continue;
                kt->residual_table(got, x, c, ct, cn, M, dsub);
                if (memcmp(got, want, M * 16 * sizeof *got) != 0)
                    fail_msg("level %s: dsub %zu M %zu: residual table differs", kt->name, dsub,
                             M);
            }
            free(x);
            free(c);
            free(cb);
            free(ct);
            free(cn);
            free(want);
            free(got);
        }
}

/* put/get round trip, and a block is the transpose of its codes. */
static void packed_layout(void **state)
{
    (void)state;
    enum { cs = 5, n = 70 };
    uint8_t codes[n][cs], back[cs];
    uint8_t *blocks = calloc(vx_fs_round(n), cs);
    uint64_t rng = 7;
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < cs; p++)
            codes[i][p] = (uint8_t)(tu_rand_next(&rng) >> 56);
    for (size_t i = 0; i < n; i++)
        vx_fs_put(blocks, cs, i, codes[i]);
    assert_int_equal(vx_fs_round(n), 96);
    for (size_t i = 0; i < n; i++) {
        vx_fs_get(blocks, cs, i, back);
        assert_memory_equal(back, codes[i], cs);
        /* slot i is byte i % 32 of row p of block i / 32 */
        assert_int_equal(blocks[(i / 32) * 32 * cs + 3 * 32 + i % 32], codes[i][3]);
    }
    for (size_t i = n; i < 96; i++) /* unused slots stay zero */
        for (size_t p = 0; p < cs; p++)
            assert_int_equal(blocks[(i / 32) * 32 * cs + p * 32 + i % 32], 0);
    free(blocks);
}

/* Quantized sums stay within M / 2 steps of the float sums. */
static void lut_quantization_error_bounded(void **state)
{
    (void)state;
    enum { M = 15 };
    float table[M * 16];
    uint8_t lut[(M + 1) / 2 * 32], code[(M + 1) / 2];
    uint64_t rng = 3;
    for (int i = 0; i < M * 16; i++)
        table[i] = 10.0f * tu_uniform(&rng) - 2.0f;
    float mins[M], bias, scale = vx_fs_quantize_lut(table, M, lut, &bias, mins);
    for (int m = 0; m < 16; m++) /* the padding row of an odd M is zero */
        assert_int_equal(lut[M * 16 + m], 0);
    for (int t = 0; t < 200; t++) {
        for (int p = 0; p < (M + 1) / 2; p++)
            code[p] = (uint8_t)(tu_rand_next(&rng) >> 56);
        code[M / 2] &= 15; /* odd M: the high nibble of the last byte is unused */
        uint32_t s = 0;
        for (int m = 0; m < M; m++)
            s += lut[m * 16 + ((m & 1) ? code[m / 2] >> 4 : code[m / 2] & 15)];
        float approx = bias + (float)s / scale;
        float exact = vx_fs_exact_score(table, M, code);
        assert_true(fabsf(approx - exact) <= (M / 2.0f + 0.01f) / scale);
    }
}

/* ---- IndexPQFastScan ---------------------------------------------------- */

static vindex *trained(int fast, int d, int M, vindex_metric metric, size_t n, const float *x)
{
    vindex *ix;
    if (fast)
        ASSERT_OK(vindex_pq_fastscan_new(&ix, d, M, 4, metric));
    else
        ASSERT_OK(vindex_pq_new(&ix, d, M, 4, metric));
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    return ix;
}

/* The neighbours of plain 4-bit PQ, on the same codebooks (same training),
 * for L2 and IP, even and odd M: with rescoring, recall of IndexPQ's top 10
 * >= 0.95 and the distances of common ids equal IndexPQ's bit for bit;
 * without, recall >= 0.9 and distances within the quantization bound. */
static void same_neighbours_as_plain_pq(void **state)
{
    (void)state;
    enum { nq = 50 };
    const int n = (int)tu_pick(6000, 1500); /* small-data mode: tu_small */
    const struct { int d, M; } shapes[] = {{32, 16}, {30, 15}};
    for (size_t s = 0; s < 2; s++)
        for (int mt = 0; mt < 2; mt++) {
            const int d = shapes[s].d, M = shapes[s].M;
            const vindex_metric metric = mt ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
            float *x = tu_clustered_vectors(n, d, 40, 11 + s);
            float *q = tu_clustered_vectors(nq, d, 40, 11 + s); /* same centres */
            vindex *pq = trained(0, d, M, metric, n, x), *fs = trained(1, d, M, metric, n, x);
            float dp[nq * K], df[nq * K];
            vindex_id ip[nq * K], iff[nq * K];
            ASSERT_OK(vindex_search(pq, nq, q, K, NULL, dp, ip));
            for (int rescore = 1; rescore >= 0; rescore--) {
                ASSERT_OK(vindex_set_param(fs, "rescore", rescore));
                ASSERT_OK(vindex_search(fs, nq, q, K, NULL, df, iff));
                double r = tu_recall(iff, ip, nq, K, K);
                if (r < (rescore ? 0.95 : 0.9))
                    fail_msg("d %d M %d metric %d rescore %d: recall vs IndexPQ %.3f", d, M,
                             (int)metric, rescore, r);
                size_t same = 0;
                for (size_t i = 0; i < nq * K; i++)
                    if (iff[i] == ip[i]) {
                        same++;
                        if (rescore)
                            assert_true(df[i] == dp[i]);
                        else
                            assert_true(fabsf(df[i] - dp[i]) <= 1e-2f * (1 + fabsf(dp[i])));
                    }
                assert_true(same > nq * K / 2);
            }
            vindex_free(pq);
            vindex_free(fs);
            free(x);
            free(q);
        }
}

/* Recall against brute force on clustered data: PQ32x4 of 32 dimensions
 * (16 levels per dimension), and no more than 0.02 below IndexPQ's. */
static void recall_against_brute_force(void **state)
{
    (void)state;
    enum { nq = 100, d = 32 };
    const int n = (int)tu_pick(5000, 1500);
    float *x = tu_clustered_vectors(n, d, 50, 5), *q = tu_clustered_vectors(nq, d, 50, 5);
    vindex *fs = trained(1, d, 32, VINDEX_METRIC_L2, n, x);
    vindex *pq = trained(0, d, 32, VINDEX_METRIC_L2, n, x);
    float *rd = malloc(nq * K * sizeof *rd), dis[nq * K];
    vindex_id *ri = malloc(nq * K * sizeof *ri), ids[nq * K];
    tu_reference_knn(q, nq, x, n, d, K, VINDEX_METRIC_L2, rd, ri);
    ASSERT_OK(vindex_search(fs, nq, q, K, NULL, dis, ids));
    double r = tu_recall(ids, ri, nq, K, K);
    ASSERT_OK(vindex_search(pq, nq, q, K, NULL, dis, ids));
    double rp = tu_recall(ids, ri, nq, K, K);
    if (r < 0.6 || r < rp - 0.02)
        fail_msg("recall@10 %.3f (IndexPQ %.3f)", r, rp);
    free(rd);
    free(ri);
    vindex_free(fs);
    vindex_free(pq);
    free(x);
    free(q);
}

/* One query alone = in a batch = any thread count; an empty index answers -1. */
static void batch_single_threads_and_empty(void **state)
{
    (void)state;
    enum { nq = 20, d = 16 };
    const int n = (int)tu_pick(9000, 3000);
    float *x = tu_clustered_vectors(n, d, 30, 8);
    vindex *fs;
    ASSERT_OK(vindex_pq_fastscan_new(&fs, d, 8, 4, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_train(fs, n, x));
    float dis[nq * K], d1[K];
    vindex_id ids[nq * K], i1[K];
    ASSERT_OK(vindex_search(fs, 2, x, K, NULL, dis, ids)); /* before add */
    for (size_t i = 0; i < 2 * K; i++)
        assert_int_equal(ids[i], -1);
    ASSERT_OK(vindex_add(fs, n, x));
    ASSERT_OK(vindex_search(fs, nq, x, K, NULL, dis, ids));
    for (int t = 1; t <= 3; t++) {
        vindex_set_num_threads(t);
        for (size_t i = 0; i < nq; i++) {
            ASSERT_OK(vindex_search(fs, 1, x + i * d, K, NULL, d1, i1));
            assert_memory_equal(i1, ids + i * K, sizeof i1);
            assert_memory_equal(d1, dis + i * K, sizeof d1);
        }
    }
    vindex_set_num_threads(0);
    vindex_free(fs);
    free(x);
}

/* reconstruct = IndexPQ's decode; remove_ids renumbers like IndexPQ. */
static void reconstruct_remove_memory(void **state)
{
    (void)state;
    enum { n = 1000, d = 8 };
    float *x = tu_clustered_vectors(n, d, 10, 9);
    vindex *pq = trained(0, d, 4, VINDEX_METRIC_L2, n, x), *fs = trained(1, d, 4, VINDEX_METRIC_L2, n, x);
    float a[d], b[d];
    for (vindex_id i = 0; i < n; i += 97) {
        ASSERT_OK(vindex_reconstruct(pq, i, a));
        ASSERT_OK(vindex_reconstruct(fs, i, b));
        assert_memory_equal(a, b, sizeof a);
    }
    assert_int_equal(vindex_reconstruct(fs, n, b), VINDEX_ERR_NOT_FOUND);
    size_t mem = vindex_memory_bytes(fs);
    assert_true(mem >= n * 2 && mem < n * 2 + 64 * 1024); /* 2-byte codes, whole blocks */
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 100, 400));
    size_t r1, r2;
    ASSERT_OK(vindex_remove_ids(pq, sel, &r1));
    ASSERT_OK(vindex_remove_ids(fs, sel, &r2));
    assert_int_equal(r1, 300);
    assert_int_equal(r2, 300);
    assert_int_equal(vindex_ntotal(fs), n - 300);
    for (vindex_id i = 0; i < n - 300; i += 37) {
        ASSERT_OK(vindex_reconstruct(pq, i, a));
        ASSERT_OK(vindex_reconstruct(fs, i, b));
        assert_memory_equal(a, b, sizeof a);
    }
    float dp[5 * K], df[5 * K];
    vindex_id ip[5 * K], iff[5 * K];
    ASSERT_OK(vindex_search(pq, 5, x, K, NULL, dp, ip));
    ASSERT_OK(vindex_search(fs, 5, x, K, NULL, df, iff));
    assert_true(tu_recall(iff, ip, 5, K, K) >= 0.9);
    vindex_selector_free(sel);
    ASSERT_OK(vindex_reset(fs));
    assert_int_equal(vindex_ntotal(fs), 0);
    vindex_free(pq);
    vindex_free(fs);
    free(x);
}

static void bad_input(void **state)
{
    (void)state;
    vindex *ix = NULL;
    assert_int_equal(vindex_pq_fastscan_new(&ix, 32, 8, 8, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "nbits = 4"));
    assert_null(ix);
    assert_int_equal(vindex_pq_fastscan_new(&ix, 30, 8, 4, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "multiple of M"));
    ASSERT_OK(vindex_pq_fastscan_new(&ix, 8, 4, 4, VINDEX_METRIC_L2));
    float x[10 * 8] = {0};
    assert_int_equal(vindex_train(ix, 10, x), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "at least 16"));
    assert_int_equal(vindex_is_trained(ix), 0);
    assert_int_equal(vindex_set_param(ix, "rescore", 2), VINDEX_ERR_INVALID);
    vindex_free(ix);
}

/* ---- IndexIVFPQFastScan ------------------------------------------------- */

static vindex *ivf_trained(int fast, int d, size_t nlist, int M, vindex_metric metric, size_t n,
                           const float *x)
{
    vindex *q, *ix;
    ASSERT_OK(vindex_flat_new(&q, d, metric));
    if (fast)
        ASSERT_OK(vindex_ivfpq_fastscan_new(&ix, q, d, nlist, M, 4, metric));
    else
        ASSERT_OK(vindex_ivfpq_new(&ix, q, d, nlist, M, 4, metric));
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    return ix;
}

/* The neighbours of IndexIVFPQ with the same codes (same training): recall
 * of its top 10 >= 0.9 for L2 and IP, even and odd M, with nprobe per call;
 * distances within the quantization error. */
static void ivf_same_neighbours_as_ivfpq(void **state)
{
    (void)state;
    enum { nq = 50 };
    const int n = (int)tu_pick(6000, 1500);
    const struct { int d, M; } shapes[] = {{32, 16}, {30, 15}};
    for (size_t s = 0; s < 2; s++)
        for (int mt = 0; mt < 2; mt++) {
            const int d = shapes[s].d, M = shapes[s].M;
            const vindex_metric metric = mt ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
            float *x = tu_clustered_vectors(n, d, 40, 21 + s);
            float *q = tu_clustered_vectors(nq, d, 40, 21 + s);
            vindex *pq = ivf_trained(0, d, 32, M, metric, n, x);
            vindex *fs = ivf_trained(1, d, 32, M, metric, n, x);
            float dp[nq * K], df[nq * K];
            vindex_id ip[nq * K], iff[nq * K];
            vindex_search_params sp;
            vindex_search_params_init(&sp);
            sp.nprobe = 4;
            ASSERT_OK(vindex_search(pq, nq, q, K, &sp, dp, ip));
            ASSERT_OK(vindex_search(fs, nq, q, K, &sp, df, iff));
            double r = tu_recall(iff, ip, nq, K, K);
            if (r < 0.9)
                fail_msg("d %d M %d metric %d: recall vs IndexIVFPQ %.3f", d, M, (int)metric, r);
            for (size_t i = 0; i < nq * K; i++)
                if (iff[i] == ip[i])
                    assert_true(fabsf(df[i] - dp[i]) <= 2e-2f * (1 + fabsf(dp[i])));
            /* the per-call nprobe is the index's nprobe for that call */
            vindex_id iset[nq * K];
            float dset[nq * K];
            ASSERT_OK(vindex_set_param(fs, "nprobe", 4));
            ASSERT_OK(vindex_search(fs, nq, q, K, NULL, dset, iset));
            assert_memory_equal(iset, iff, sizeof iff);
            assert_memory_equal(dset, df, sizeof df);
            vindex_free(pq);
            vindex_free(fs);
            free(x);
            free(q);
        }
}

/* Inside IndexRefineFlat with k_factor: close to exact. */
static void ivf_refine_flat_recall(void **state)
{
    (void)state;
    enum { nq = 100, d = 32 };
    const int n = (int)tu_pick(8000, 2000);
    float *x = tu_clustered_vectors(n, d, 50, 31), *q = tu_clustered_vectors(nq, d, 50, 31);
    vindex *qz, *fs, *rf;
    ASSERT_OK(vindex_flat_new(&qz, d, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_ivfpq_fastscan_new(&fs, qz, d, 32, 16, 4, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_refine_new(&rf, fs, NULL));
    ASSERT_OK(vindex_train(rf, n, x));
    ASSERT_OK(vindex_add(rf, n, x));
    ASSERT_OK(vindex_set_param(rf, "nprobe", 8));
    float *rd = malloc(nq * K * sizeof *rd), dis[nq * K];
    vindex_id *ri = malloc(nq * K * sizeof *ri), ids[nq * K];
    tu_reference_knn(q, nq, x, n, d, K, VINDEX_METRIC_L2, rd, ri);
    ASSERT_OK(vindex_search(rf, nq, q, K, NULL, dis, ids));
    double r1 = tu_recall(ids, ri, nq, K, K);
    vindex_search_params sp;
    vindex_search_params_init(&sp);
    sp.k_factor = 8;
    ASSERT_OK(vindex_search(rf, nq, q, K, &sp, dis, ids));
    double r8 = tu_recall(ids, ri, nq, K, K);
    if (r8 < 0.9 || r8 <= r1)
        fail_msg("refined recall@10: k_factor 1 %.3f, 8 %.3f", r1, r8);
    free(rd);
    free(ri);
    vindex_free(rf);
    free(x);
    free(q);
}

/* One query = a batch = any thread count; before add: -1; reconstruct after
 * make_direct_map = IndexIVFPQ's; remove_ids, merge_from and reset keep the
 * lists in whole zero-padded blocks (searches agree with a fresh index). */
static void ivf_lifecycle(void **state)
{
    (void)state;
    enum { n = 3000, nq = 10, d = 16, nlist = 8 };
    float *x = tu_clustered_vectors(n, d, 20, 41);
    vindex *qz, *fs;
    ASSERT_OK(vindex_flat_new(&qz, d, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_ivfpq_fastscan_new(&fs, qz, d, nlist, 8, 4, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_train(fs, n, x));
    float dis[nq * K], d1[K];
    vindex_id ids[nq * K], i1[K];
    ASSERT_OK(vindex_search(fs, 2, x, K, NULL, dis, ids));
    for (size_t i = 0; i < 2 * K; i++)
        assert_int_equal(ids[i], -1);
    ASSERT_OK(vindex_add(fs, n, x));
    ASSERT_OK(vindex_set_param(fs, "nprobe", 3));
    ASSERT_OK(vindex_search(fs, nq, x, K, NULL, dis, ids));
    for (int t = 1; t <= 3; t++) {
        vindex_set_num_threads(t);
        for (size_t i = 0; i < nq; i++) {
            ASSERT_OK(vindex_search(fs, 1, x + i * d, K, NULL, d1, i1));
            assert_memory_equal(i1, ids + i * K, sizeof i1);
            assert_memory_equal(d1, dis + i * K, sizeof d1);
        }
    }
    vindex_set_num_threads(0);
    /* reconstruct = IndexIVFPQ's */
    vindex *pq = ivf_trained(0, d, nlist, 8, VINDEX_METRIC_L2, n, x);
    ASSERT_OK(vindex_ivf_make_direct_map(pq, VINDEX_DIRECT_MAP_HASH));
    ASSERT_OK(vindex_ivf_make_direct_map(fs, VINDEX_DIRECT_MAP_HASH));
    float a[d], b[d];
    for (vindex_id i = 0; i < n; i += 101) {
        ASSERT_OK(vindex_reconstruct(pq, i, a));
        ASSERT_OK(vindex_reconstruct(fs, i, b));
        assert_memory_equal(a, b, sizeof a);
    }
    size_t mem = vindex_memory_bytes(fs);
    assert_true(mem >= n * (4 + 8)); /* codes and ids at least */
    /* remove the first half; a fresh index of the second half gives the same results */
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 0, n / 2));
    size_t removed;
    ASSERT_OK(vindex_remove_ids(fs, sel, &removed));
    assert_int_equal(removed, n / 2);
    for (vindex_id i = n / 2; i < n; i += 101) {
        ASSERT_OK(vindex_reconstruct(fs, i, b));
        ASSERT_OK(vindex_reconstruct(pq, i, a));
        assert_memory_equal(a, b, sizeof a);
    }
    assert_int_equal(vindex_reconstruct(fs, 0, b), VINDEX_ERR_NOT_FOUND);
    vindex *qz2, *half;
    ASSERT_OK(vindex_flat_new(&qz2, d, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_ivfpq_fastscan_new(&half, qz2, d, nlist, 8, 4, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_train(half, n, x)); /* same training data and seeds: same codec */
    vindex_id *hid = malloc(n / 2 * sizeof *hid);
    for (size_t i = 0; i < n / 2; i++)
        hid[i] = (vindex_id)(n / 2 + i);
    ASSERT_OK(vindex_add_with_ids(half, n / 2, x + (size_t)(n / 2) * d, hid));
    ASSERT_OK(vindex_set_param(half, "nprobe", 3));
    float dh[nq * K];
    vindex_id ih[nq * K];
    ASSERT_OK(vindex_search(fs, nq, x, K, NULL, dis, ids));
    ASSERT_OK(vindex_search(half, nq, x, K, NULL, dh, ih));
    assert_memory_equal(ids, ih, sizeof ids);
    assert_memory_equal(dis, dh, sizeof dis);
    /* merge: half's entries again, under ids shifted by n */
    ASSERT_OK(vindex_ivf_merge_from(fs, half, n));
    assert_int_equal(vindex_ntotal(fs), n);
    assert_int_equal(vindex_ntotal(half), 0);
    ASSERT_OK(vindex_reconstruct(fs, n + n / 2 + 7, b));
    ASSERT_OK(vindex_reconstruct(pq, n / 2 + 7, a));
    assert_memory_equal(a, b, sizeof a);
    ASSERT_OK(vindex_reset(fs));
    assert_int_equal(vindex_ntotal(fs), 0);
    vindex_selector_free(sel);
    free(hid);
    vindex_free(half);
    vindex_free(pq);
    vindex_free(fs);
    free(x);
}

static void ivf_bad_input(void **state)
{
    (void)state;
    vindex *qz, *ix = NULL;
    ASSERT_OK(vindex_flat_new(&qz, 32, VINDEX_METRIC_L2));
    assert_int_equal(vindex_ivfpq_fastscan_new(&ix, qz, 32, 8, 8, 8, VINDEX_METRIC_L2),
                     VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "nbits = 4"));
    assert_int_equal(vindex_ivfpq_fastscan_new(&ix, qz, 32, 8, 5, 4, VINDEX_METRIC_L2),
                     VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "multiple of M"));
    ASSERT_OK(vindex_ivfpq_fastscan_new(&ix, qz, 32, 4, 8, 4, VINDEX_METRIC_L2));
    float *x = tu_random_vectors(10, 32, 1);
    assert_int_equal(vindex_train(ix, 10, x), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "at least 16"));
    float r[32];
    vindex_range_result *rr = NULL;
    assert_int_equal(vindex_range_search(ix, 1, x, 1.0f, NULL, &rr), VINDEX_ERR_NOT_TRAINED);
    (void)r;
    vindex_free(ix);
    free(x);
}

/* ---- persistence -------------------------------------------------------- */

/* Same results from the index, its file (copied and mapped) and its bytes. */
static void same_results(const vindex *a, const vindex *b, const float *q, size_t nq)
{
    float da[20 * K], db[20 * K];
    vindex_id ia[20 * K], ib[20 * K];
    assert_true(nq <= 20);
    ASSERT_OK(vindex_search(a, nq, q, K, NULL, da, ia));
    ASSERT_OK(vindex_search(b, nq, q, K, NULL, db, ib));
    assert_memory_equal(ia, ib, nq * K * sizeof *ia);
    assert_memory_equal(da, db, nq * K * sizeof *da);
    assert_int_equal(vindex_ntotal(a), vindex_ntotal(b));
    assert_string_equal(vindex_type_name(a), vindex_type_name(b));
}

static void round_trips(vindex *ix, const float *q, size_t nq, const char *path)
{
    vindex *back;
    ASSERT_OK(vindex_write(ix, path));
    for (unsigned flags = 0; flags <= VINDEX_IO_MMAP; flags += VINDEX_IO_MMAP) {
        ASSERT_OK(vindex_read(&back, path, flags));
        same_results(ix, back, q, nq);
        vindex_free(back);
    }
    void *buf;
    size_t len;
    ASSERT_OK(vindex_serialize(ix, &buf, &len));
    ASSERT_OK(vindex_deserialize(&back, buf, len));
    same_results(ix, back, q, nq);
    /* the bytes of what was read are the bytes written (canonical files) */
    void *buf2;
    size_t len2;
    ASSERT_OK(vindex_serialize(back, &buf2, &len2));
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    vindex_buffer_free(buf2);
    vindex_free(back);
    vindex_buffer_free(buf);
    remove(path);
}

/* Both families, L2 and IP, odd M, trained and empty, after removals; a
 * direct map and nprobe survive. */
static void persistence_round_trips(void **state)
{
    (void)state;
    enum { n = 2000, nq = 10 };
    const char *path = "test_fastscan.vx";
    for (int mt = 0; mt < 2; mt++) {
        const vindex_metric metric = mt ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
        const int d = 30, M = 15;
        float *x = tu_clustered_vectors(n, d, 20, 51);
        vindex *fs = trained(1, d, M, metric, n, x);
        ASSERT_OK(vindex_set_param(fs, "rescore", mt));
        round_trips(fs, x, nq, path);
        vindex *ivf = ivf_trained(1, d, 16, M, metric, n, x);
        ASSERT_OK(vindex_set_param(ivf, "nprobe", 5));
        ASSERT_OK(vindex_ivf_make_direct_map(ivf, VINDEX_DIRECT_MAP_HASH));
        vindex_selector *sel;
        ASSERT_OK(vindex_selector_range(&sel, 0, 333));
        ASSERT_OK(vindex_remove_ids(ivf, sel, NULL));
        vindex_selector_free(sel);
        round_trips(ivf, x, nq, path);
        vindex *back;
        ASSERT_OK(vindex_write(ivf, path));
        ASSERT_OK(vindex_read(&back, path, 0));
        double np;
        ASSERT_OK(vindex_get_param(back, "nprobe", &np));
        assert_true(np == 5);
        float a[30], b[30];
        ASSERT_OK(vindex_reconstruct(ivf, 1000, a));
        ASSERT_OK(vindex_reconstruct(back, 1000, b));
        assert_memory_equal(a, b, sizeof a);
        vindex_id fresh[100];
        for (int i = 0; i < 100; i++)
            fresh[i] = n + i;
        ASSERT_OK(vindex_add_with_ids(back, 100, x, fresh)); /* a read index takes adds */
        assert_int_equal(vindex_ntotal(back), n - 333 + 100);
        vindex_free(back);
        remove(path);
        /* untrained: the codec's settings only */
        vindex *qz, *raw;
        ASSERT_OK(vindex_flat_new(&qz, d, metric));
        ASSERT_OK(vindex_ivfpq_fastscan_new(&raw, qz, d, 16, M, 4, metric));
        void *buf;
        size_t len;
        ASSERT_OK(vindex_serialize(raw, &buf, &len));
        ASSERT_OK(vindex_deserialize(&back, buf, len));
        assert_int_equal(vindex_is_trained(back), 0);
        ASSERT_OK(vindex_train(back, n, x));
        vindex_buffer_free(buf);
        vindex_free(back);
        vindex_free(raw);
        vindex_free(fs);
        vindex_free(ivf);
        free(x);
    }
}

/* Every truncation and a flipped bit at every byte of a small file of each
 * family: an error, never a crash (run under ASan by make check-sanitize). */
static void damaged_files_fail_cleanly(void **state)
{
    (void)state;
    enum { n = 100, d = 8 };
    float *x = tu_clustered_vectors(n, d, 4, 61);
    vindex *ix[2];
    ix[0] = trained(1, d, 4, VINDEX_METRIC_L2, n, x);
    vindex *qz;
    ASSERT_OK(vindex_flat_new(&qz, d, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_ivfpq_fastscan_new(&ix[1], qz, d, 4, 4, 4, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_train(ix[1], n, x));
    ASSERT_OK(vindex_add(ix[1], n, x));
    for (int f = 0; f < 2; f++) {
        void *buf;
        size_t len;
        ASSERT_OK(vindex_serialize(ix[f], &buf, &len));
        uint8_t *copy = malloc(len);
        vindex *back;
        for (size_t cut = 0; cut < len; cut += 1 + cut / 64) {
            memcpy(copy, buf, cut);
            back = (vindex *)1;
            assert_int_not_equal(vindex_deserialize(&back, copy, cut), VINDEX_OK);
            assert_null(back);
        }
        for (size_t at = 0; at < len; at++) {
            memcpy(copy, buf, len);
            copy[at] ^= (uint8_t)(1u << (at % 8));
            back = (vindex *)1;
            assert_int_not_equal(vindex_deserialize(&back, copy, len), VINDEX_OK);
            assert_null(back);
        }
        free(copy);
        vindex_buffer_free(buf);
        vindex_free(ix[f]);
    }
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kernels_equal_reference_at_every_level),
        cmocka_unit_test(quantize_lut_equal_at_every_level),
        cmocka_unit_test(residual_table_equal_at_every_level),
        cmocka_unit_test(packed_layout),
        cmocka_unit_test(lut_quantization_error_bounded),
        cmocka_unit_test(same_neighbours_as_plain_pq),
        cmocka_unit_test(recall_against_brute_force),
        cmocka_unit_test(batch_single_threads_and_empty),
        cmocka_unit_test(reconstruct_remove_memory),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(ivf_same_neighbours_as_ivfpq),
        cmocka_unit_test(ivf_refine_flat_recall),
        cmocka_unit_test(ivf_lifecycle),
        cmocka_unit_test(ivf_bad_input),
        cmocka_unit_test(persistence_round_trips),
        cmocka_unit_test(damaged_files_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
