/* Distance kernels: every SIMD level this CPU has against the scalar table, for
 * d = 1..300, unaligned pointers, batch sizes around the unroll widths; and the
 * design's promise that within one level a pair scores bit-identically whether
 * it came from the _ny or the _tile kernel. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd/hnsw_sq8.h"
#include "simd/kernels.h"

enum { DMAX = 300, NYMAX = 19, NQMAX = 9, PAD = 3 };

static const char *const level_names[] = {"avx2", "avx512"};

/* |a - b| <= rtol * magnitude, where magnitude is the sum of the absolute terms
 * (so a cancelling inner product is judged against its terms, not its sum). */
static void assert_close(float got, float want, double magnitude, const char *what, size_t d,
                         const char *level)
{
    double tol = 1e-5 * magnitude + 1e-30;
    if (!(fabs((double)got - (double)want) <= tol))
        fail_msg("%s [%s] d=%zu: got %.9g, scalar %.9g (tol %.3g)", what, level, d, (double)got,
                 (double)want, tol);
}

static double mag_l2(const float *x, const float *y, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    return s;
}

static double mag_ip(const float *x, const float *y, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += fabs((double)x[i] * y[i]);
    return s;
}

/* Exactly-sized heap copy of n floats at a misalignment of `off` floats from a
 * 64-byte boundary, so that ASan sees any read past the end. Free with
 * free_shifted. */
static float *shifted_copy(const float *src, size_t n, size_t off)
{
    size_t bytes = ((off + n) * sizeof(float) + 63) / 64 * 64;
    float *base = aligned_alloc(64, bytes ? bytes : 64);
    assert_non_null(base);
    memcpy(base + off, src, n * sizeof(float));
    return base + off;
}

static void free_shifted(float *p, size_t off) { free(p - off); }

/* Values in [-1, 1): inner products cancel, as they do on centred data. */
static float *signed_vectors(size_t n, uint64_t seed)
{
    float *x = malloc(n * sizeof *x + 4);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = 2.0f * tu_uniform(&seed) - 1.0f;
    return x;
}

/* The dimensions check_level tries: every d up to DMAX; in small-data mode
 * (tu_small) every d up to 72 (every remainder of the widest unrolling, 64
 * floats, and past it) and then every 19th. */
static size_t next_dim(size_t d) { return d + (tu_small() && d >= 72 ? 19 : 1); }

static void check_level(const vx_kernel_table *kt)
{
    const vx_kernel_table *ref = &vx_kernels_scalar;
    size_t xn = (size_t)NQMAX * DMAX, yn = (size_t)NYMAX * DMAX;
    float *xs = signed_vectors(xn, 11), *ys = signed_vectors(yn, 12);
    float *out = malloc(NQMAX * NYMAX * sizeof *out);
    float *ny_out = malloc((NYMAX + 1) * sizeof *ny_out);
    assert_non_null(out);
    assert_non_null(ny_out);
    size_t checked = 0;

    for (size_t d = 1; d <= DMAX; d = next_dim(d)) {
        size_t xoff = d % 4, yoff = (d / 4 + 1) % 4; /* 0..3 floats each, in all pairs */
        float *x = shifted_copy(xs, NQMAX * d, xoff);
        float *y = shifted_copy(ys, NYMAX * d, yoff);

        /* single-pair kernels */
        for (size_t j = 0; j < 3; j++) {
            const float *a = x + j * d, *b = y + j * d;
            assert_close(kt->l2sqr(a, b, d), ref->l2sqr(a, b, d), mag_l2(a, b, d), "l2sqr", d,
                         kt->name);
            assert_close(kt->inner_product(a, b, d), ref->inner_product(a, b, d), mag_ip(a, b, d),
                         "inner_product", d, kt->name);
            assert_close(kt->norm_sqr(a, d), ref->norm_sqr(a, d), mag_ip(a, a, d), "norm_sqr", d,
                         kt->name);
            checked += 3;
        }

        /* one query against ny = 0..19 vectors; the sentinel past ny must survive */
        for (size_t ny = 0; ny <= NYMAX; ny++) {
            for (int ip = 0; ip < 2; ip++) {
                for (size_t j = 0; j <= NYMAX; j++)
                    ny_out[j] = -7.0f;
                (ip ? kt->inner_product_ny : kt->l2sqr_ny)(ny_out, x, y, d, ny);
                for (size_t j = 0; j < ny; j++) {
                    const float *b = y + j * d;
                    float want = ip ? ref->inner_product(x, b, d) : ref->l2sqr(x, b, d);
                    assert_close(ny_out[j], want, ip ? mag_ip(x, b, d) : mag_l2(x, b, d),
                                 ip ? "inner_product_ny" : "l2sqr_ny", d, kt->name);
                    checked++;
                }
                assert_true(ny_out[ny] == -7.0f); /* wrote no further than ny */
            }
        }

        /* tiles: every nq 1..9 against a ny that moves with d, and every ny
         * 0..19 against an nq that moves with d (all combinations for small d) */
        for (size_t nq = 1; nq <= NQMAX; nq++) {
            for (size_t ny = 0; ny <= NYMAX; ny++) {
                if (d > 24 && nq != 1 + d % NQMAX && ny != (d + nq) % (NYMAX + 1))
                    continue;
                for (int ip = 0; ip < 2; ip++) {
                    for (size_t t = 0; t < NQMAX * NYMAX; t++)
                        out[t] = -7.0f;
                    (ip ? kt->inner_product_tile : kt->l2sqr_tile)(out, x, nq, y, d, ny);
                    for (size_t i = 0; i < nq; i++) {
                        const float *a = x + i * d;
                        /* the same pairs through _ny of this level: bit-identical */
                        (ip ? kt->inner_product_ny : kt->l2sqr_ny)(ny_out, a, y, d, ny);
                        for (size_t j = 0; j < ny; j++) {
                            const float *b = y + j * d;
                            float got = out[i * ny + j];
                            float want = ip ? ref->inner_product(a, b, d) : ref->l2sqr(a, b, d);
                            assert_close(got, want, ip ? mag_ip(a, b, d) : mag_l2(a, b, d),
                                         ip ? "inner_product_tile" : "l2sqr_tile", d, kt->name);
                            if (memcmp(&got, &ny_out[j], sizeof got) != 0)
                                fail_msg("%s [%s] d=%zu nq=%zu ny=%zu pair (%zu,%zu): tile %.9g "
                                         "!= ny %.9g (must be bit-identical)",
                                         ip ? "inner_product" : "l2sqr", kt->name, d, nq, ny, i,
                                         j, (double)got, (double)ny_out[j]);
                            checked++;
                        }
                    }
                    for (size_t t = nq * ny; t < NQMAX * NYMAX; t++)
                        assert_true(out[t] == -7.0f); /* nothing past nq*ny */
                }
            }
        }
        free_shifted(x, xoff);
        free_shifted(y, yoff);
    }
    assert_true(checked > tu_pick(100000, 25000));
    free(xs);
    free(ys);
    free(out);
    free(ny_out);
}

static void scalar_matches_double_reference(void **state)
{
    (void)state;
    /* the reference itself against plain double loops */
    const vx_kernel_table *s = vx_kernels_for("scalar");
    assert_non_null(s);
    assert_ptr_equal(s, &vx_kernels_scalar);
    assert_string_equal(s->name, "scalar");
    float *x = signed_vectors(DMAX, 3), *y = signed_vectors(DMAX, 4);
    for (size_t d = 1; d <= DMAX; d++) {
        double l2 = mag_l2(x, y, d), ip = 0, nn = 0;
        for (size_t i = 0; i < d; i++) {
            ip += (double)x[i] * y[i];
            nn += (double)x[i] * x[i];
        }
        assert_true(fabs(s->l2sqr(x, y, d) - l2) <= 1e-5 * l2 + 1e-30);
        assert_true(fabs(s->inner_product(x, y, d) - ip) <= 1e-5 * mag_ip(x, y, d));
        assert_true(fabs(s->norm_sqr(x, d) - nn) <= 1e-5 * nn);
    }
    free(x);
    free(y);
}

static void scalar_self_consistent(void **state)
{
    (void)state;
    check_level(&vx_kernels_scalar);
}

static void simd_levels_match_scalar(void **state)
{
    (void)state;
    for (size_t l = 0; l < sizeof level_names / sizeof level_names[0]; l++) {
        const vx_kernel_table *kt = vx_kernels_for(level_names[l]);
        if (!kt) {
            print_message("[ SKIP     ] %s: not available on this CPU\n", level_names[l]);
            continue;
        }
        assert_string_equal(kt->name, level_names[l]);
        check_level(kt);
    }
}

static void unknown_level_is_null(void **state)
{
    (void)state;
    assert_null(vx_kernels_for("sse9"));
    assert_null(vx_kernels_for(""));
}

static void dispatch_picks_best_level(void **state)
{
    (void)state;
    const vx_kernel_table *used = vx_kernels();
    assert_non_null(used);
    assert_string_equal(vindex_simd_level(), used->name);
    assert_ptr_equal(vx_kernels_for(used->name), used);
    const char *env = getenv("VINDEX_SIMD");
    if (env && *env)
        return; /* lowered on purpose */
    const char *best = "scalar";
    for (size_t l = 0; l < sizeof level_names / sizeof level_names[0]; l++)
        if (vx_kernels_for(level_names[l]))
            best = level_names[l];
    assert_string_equal(used->name, best);
}

/* The strided kernels read rows ldy apart and give the contiguous kernels'
 * bits; the gather kernel gives l2sqr_ny's bits for rows anywhere. */
static void strided_and_gather_match_contiguous(void **state)
{
    (void)state;
    enum { NY = 19, NQ = 6, EXTRA = 5 };
    const char *levels[] = {"scalar", "avx2", "avx512"};
    for (size_t l = 0; l < 3; l++) {
        const vx_kernel_table *kt = vx_kernels_for(levels[l]);
        if (!kt)
            continue;
        for (size_t d = 1; d <= 200; d += (d < 40 ? 1 : 13)) {
            const size_t ldy = d + EXTRA;
            float *y = signed_vectors(NY * d, 20 + d), *x = signed_vectors(NQ * d, 40 + d);
            float *ys = signed_vectors(NY * ldy, 60 + d); /* padding: junk */
            for (size_t j = 0; j < NY; j++)
                memcpy(ys + j * ldy, y + j * d, d * sizeof(float));
            float want[NQ * NY], got[NQ * NY];
            for (int ip = 0; ip < 2; ip++) {
                (ip ? kt->inner_product_ny : kt->l2sqr_ny)(want, x, y, d, NY);
                (ip ? kt->inner_product_ny_strided : kt->l2sqr_ny_strided)(got, x, ys, d, ldy, NY);
                assert_memory_equal(got, want, NY * sizeof(float));
                (ip ? kt->inner_product_tile : kt->l2sqr_tile)(want, x, NQ, y, d, NY);
                (ip ? kt->inner_product_tile_strided : kt->l2sqr_tile_strided)(got, x, NQ, ys, d,
                                                                              ldy, NY);
                assert_memory_equal(got, want, NQ * NY * sizeof(float));
            }
            const float *rows[NY];
            for (size_t j = 0; j < NY; j++) /* reversed: any order, any place */
                rows[j] = ys + (NY - 1 - j) * ldy;
            kt->l2sqr_ny(want, x, y, d, NY);
            kt->l2sqr_gather(got, x, rows, d, NY);
            for (size_t j = 0; j < NY; j++)
                assert_memory_equal(&got[j], &want[NY - 1 - j], sizeof(float));
            free(x);
            free(y);
            free(ys);
        }
    }
}

static void norms_sqr_uses_norm_kernel(void **state)
{
    (void)state;
    enum { N = 13, D = 37 };
    float *x = signed_vectors(N * D, 9);
    float out[N];
    vx_norms_sqr(out, x, D, N);
    for (size_t i = 0; i < N; i++) {
        float want = vx_kernels()->norm_sqr(x + i * D, D);
        assert_memory_equal(&out[i], &want, sizeof want);
    }
    free(x);
}

/* HNSW's SQ8 kernels (integers: every variant must agree exactly with a plain
 * loop), for lengths around the 32/64/128-byte steps, extreme bytes included
 * (the largest products and differences), at unaligned addresses. */
static void sq8_kernels_match_reference(void **state)
{
    (void)state;
    enum { N = 1100 };
    uint8_t *qbuf = malloc(N + 1);
    int8_t *abuf = malloc(N + 1), *bbuf = malloc(N + 1);
    const vx_sq8_kernels *ks[4];
    size_t nk = vx_sq8_kernels_all(ks);
    assert_true(nk >= 1);
    assert_string_equal(ks[0]->name, "scalar");
    const size_t lens[] = {1, 2, 15, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200, 784, 1000, N};
    uint64_t r = 7;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i <= N; i++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            uint8_t v = (uint8_t)(r >> 56);
            qbuf[i] = round == 1 ? 255 : v;
            abuf[i] = round == 1 ? -128 : (int8_t)(uint8_t)(r >> 48);
            bbuf[i] = round == 1 ? 127 : (int8_t)(uint8_t)(r >> 40);
        }
        const uint8_t *q = qbuf + 1; /* unaligned */
        const int8_t *a = abuf + 1, *b = bbuf + 1;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t d = lens[li];
            int64_t dot = 0, pair = 0;
            for (size_t i = 0; i < d; i++) {
                dot += (int64_t)q[i] * b[i];
                pair += ((int64_t)a[i] - b[i]) * ((int64_t)a[i] - b[i]);
            }
            for (size_t k = 0; k < nk; k++) {
                if (ks[k]->dot(q, b, d) != dot)
                    fail_msg("sq8 dot [%s] d=%zu: got %d, want %lld", ks[k]->name, d,
                             ks[k]->dot(q, b, d), (long long)dot);
                if (ks[k]->pair(a, b, d) != (uint64_t)pair)
                    fail_msg("sq8 pair [%s] d=%zu: got %u, want %lld", ks[k]->name, d,
                             ks[k]->pair(a, b, d), (long long)pair);
            }
        }
    }
    assert_ptr_equal(vx_sq8_kernels_get(), vx_sq8_kernels_get());
    free(qbuf);
    free(abuf);
    free(bbuf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalar_matches_double_reference),
        cmocka_unit_test(strided_and_gather_match_contiguous),
        cmocka_unit_test(scalar_self_consistent),
        cmocka_unit_test(simd_levels_match_scalar),
        cmocka_unit_test(unknown_level_is_null),
        cmocka_unit_test(dispatch_picks_best_level),
        cmocka_unit_test(norms_sqr_uses_norm_kernel),
        cmocka_unit_test(sq8_kernels_match_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
