/*
 * The body of the SIMD distance kernels, written once over a small vector
 * vocabulary that each dist_<isa>.c defines before including this file:
 *
 *   VEC              the register type            VW           its width in floats
 *   V_ZERO()         all zeros                    V_LOAD(p)    unaligned load
 *   V_LOAD_TAIL(p)   masked load of the last d % VW floats (zeros beyond);
 *                    uses a `tail` variable built by V_TAIL_DECL(d)
 *   V_SUB(a, b)      V_FMA(a, b, c) = a*b + c     V_ADD(a, b)  V_REDUCE(a) horizontal sum
 *   V_SET1(f)        broadcast                    V_LE_MASK(a, b) bit i set when a[i] <= b[i]
 *   VX_TABLE_NAME    the vx_kernel_table to define, VX_ISA_NAME its name string
 *
 * Batched kernels give every (query, vector) pair one accumulator, walked over d
 * in chunks of VW with a masked tail, so a pair's distance is bit-identical
 * whether it came from the _ny or the _tile kernel; several pairs run at once to
 * fill the FMA pipes (8 independent chains: FMA latency 4 x 2 ports).
 */

static float l2sqr(const float *x, const float *y, size_t d)
{
    VEC a0 = V_ZERO(), a1 = V_ZERO(), a2 = V_ZERO(), a3 = V_ZERO();
    V_TAIL_DECL(d);
    size_t i = 0;
    for (; i + 4 * VW <= d; i += 4 * VW) {
        VEC t0 = V_SUB(V_LOAD(x + i), V_LOAD(y + i));
        VEC t1 = V_SUB(V_LOAD(x + i + VW), V_LOAD(y + i + VW));
        VEC t2 = V_SUB(V_LOAD(x + i + 2 * VW), V_LOAD(y + i + 2 * VW));
        VEC t3 = V_SUB(V_LOAD(x + i + 3 * VW), V_LOAD(y + i + 3 * VW));
        a0 = V_FMA(t0, t0, a0);
        a1 = V_FMA(t1, t1, a1);
        a2 = V_FMA(t2, t2, a2);
        a3 = V_FMA(t3, t3, a3);
    }
    for (; i + VW <= d; i += VW) {
        VEC t = V_SUB(V_LOAD(x + i), V_LOAD(y + i));
        a0 = V_FMA(t, t, a0);
    }
    if (i < d) {
        VEC t = V_SUB(V_LOAD_TAIL(x + i), V_LOAD_TAIL(y + i));
        a1 = V_FMA(t, t, a1);
    }
    return V_REDUCE(V_ADD(V_ADD(a0, a1), V_ADD(a2, a3)));
}

static float inner_product(const float *x, const float *y, size_t d)
{
    VEC a0 = V_ZERO(), a1 = V_ZERO(), a2 = V_ZERO(), a3 = V_ZERO();
    V_TAIL_DECL(d);
    size_t i = 0;
    for (; i + 4 * VW <= d; i += 4 * VW) {
        a0 = V_FMA(V_LOAD(x + i), V_LOAD(y + i), a0);
        a1 = V_FMA(V_LOAD(x + i + VW), V_LOAD(y + i + VW), a1);
        a2 = V_FMA(V_LOAD(x + i + 2 * VW), V_LOAD(y + i + 2 * VW), a2);
        a3 = V_FMA(V_LOAD(x + i + 3 * VW), V_LOAD(y + i + 3 * VW), a3);
    }
    for (; i + VW <= d; i += VW)
        a0 = V_FMA(V_LOAD(x + i), V_LOAD(y + i), a0);
    if (i < d)
        a1 = V_FMA(V_LOAD_TAIL(x + i), V_LOAD_TAIL(y + i), a1);
    return V_REDUCE(V_ADD(V_ADD(a0, a1), V_ADD(a2, a3)));
}

static float norm_sqr(const float *x, size_t d) { return inner_product(x, x, d); }

/* One pair step: acc += (q - y)^2 for L2, acc += q * y for IP. */
#define STEP_L2(acc, q, yv)                                                                    \
    do {                                                                                       \
        VEC t_ = V_SUB(q, yv);                                                                 \
        acc = V_FMA(t_, t_, acc);                                                              \
    } while (0)
#define STEP_IP(acc, q, yv) acc = V_FMA(q, yv, acc)

/* One query against 8 vectors at a time, then one; vector j at y + j*ldy. */
#define DEFINE_NY(name, STEP)                                                                  \
    static void name##_strided(float *out, const float *x, const float *y, size_t d,          \
                               size_t ldy, size_t ny)                                          \
    {                                                                                          \
        V_TAIL_DECL(d);                                                                        \
        const size_t dfull = d - d % VW;                                                       \
        size_t j = 0;                                                                          \
        for (; j + 8 <= ny; j += 8) {                                                          \
            const float *y0 = y + j * ldy;                                                     \
            VEC acc[8];                                                                        \
            for (int v = 0; v < 8; v++)                                                        \
                acc[v] = V_ZERO();                                                             \
            for (size_t i = 0; i < dfull; i += VW) {                                           \
                VEC q = V_LOAD(x + i);                                                         \
                for (int v = 0; v < 8; v++)                                                    \
                    STEP(acc[v], q, V_LOAD(y0 + v * ldy + i));                                 \
            }                                                                                  \
            if (dfull < d) {                                                                   \
                VEC q = V_LOAD_TAIL(x + dfull);                                                \
                for (int v = 0; v < 8; v++)                                                    \
                    STEP(acc[v], q, V_LOAD_TAIL(y0 + v * ldy + dfull));                        \
            }                                                                                  \
            for (int v = 0; v < 8; v++)                                                        \
                out[j + v] = V_REDUCE(acc[v]);                                                 \
        }                                                                                      \
        for (; j < ny; j++) {                                                                  \
            const float *yj = y + j * ldy;                                                     \
            VEC acc = V_ZERO();                                                                \
            for (size_t i = 0; i < dfull; i += VW)                                             \
                STEP(acc, V_LOAD(x + i), V_LOAD(yj + i));                                      \
            if (dfull < d)                                                                     \
                STEP(acc, V_LOAD_TAIL(x + dfull), V_LOAD_TAIL(yj + dfull));                    \
            out[j] = V_REDUCE(acc);                                                            \
        }                                                                                      \
    }                                                                                          \
    static void name(float *out, const float *x, const float *y, size_t d, size_t ny)         \
    {                                                                                          \
        name##_strided(out, x, y, d, d, ny);                                                   \
    }

DEFINE_NY(l2sqr_ny, STEP_L2)
DEFINE_NY(inner_product_ny, STEP_IP)

/* As l2sqr_ny over vectors scattered in memory (ys[j]): 8 at a time, so that
 * eight vectors' cache misses overlap. Pairs sum as in l2sqr_ny. */
static void l2sqr_gather(float *out, const float *x, const float *const *ys, size_t d, size_t ny)
{
    V_TAIL_DECL(d);
    const size_t dfull = d - d % VW;
    size_t j = 0;
    for (; j + 8 <= ny; j += 8) {
        VEC acc[8];
        for (int v = 0; v < 8; v++)
            acc[v] = V_ZERO();
        for (size_t i = 0; i < dfull; i += VW) {
            VEC q = V_LOAD(x + i);
            for (int v = 0; v < 8; v++)
                STEP_L2(acc[v], q, V_LOAD(ys[j + v] + i));
        }
        if (dfull < d) {
            VEC q = V_LOAD_TAIL(x + dfull);
            for (int v = 0; v < 8; v++)
                STEP_L2(acc[v], q, V_LOAD_TAIL(ys[j + v] + dfull));
        }
        for (int v = 0; v < 8; v++)
            out[j + v] = V_REDUCE(acc[v]);
    }
    for (; j < ny; j++)
        l2sqr_ny(out + j, x, ys[j], d, 1);
}

/* Four queries against two vectors at a time: 6 loads feed 8 FMAs, and the four
 * query rows stay in L1 while the vectors stream past once. Queries are rows of
 * d floats; vector j is at y + j*ldy. */
#define DEFINE_TILE(name, ny_fn, STEP)                                                         \
    static void name##_strided(float *out, const float *x, size_t nq, const float *y,         \
                               size_t d, size_t ldy, size_t ny)                                \
    {                                                                                          \
        V_TAIL_DECL(d);                                                                        \
        const size_t dfull = d - d % VW;                                                       \
        size_t i = 0;                                                                          \
        for (; i + 4 <= nq; i += 4) {                                                          \
            const float *x0 = x + i * d;                                                       \
            size_t j = 0;                                                                      \
            for (; j + 2 <= ny; j += 2) {                                                      \
                const float *y0 = y + j * ldy, *y1 = y0 + ldy;                                 \
                VEC acc[4][2];                                                                 \
                for (int a = 0; a < 4; a++)                                                    \
                    acc[a][0] = acc[a][1] = V_ZERO();                                          \
                for (size_t c = 0; c < dfull; c += VW) {                                       \
                    VEC v0 = V_LOAD(y0 + c), v1 = V_LOAD(y1 + c);                              \
                    for (int a = 0; a < 4; a++) {                                              \
                        VEC q = V_LOAD(x0 + a * d + c);                                        \
                        STEP(acc[a][0], q, v0);                                                \
                        STEP(acc[a][1], q, v1);                                                \
                    }                                                                          \
                }                                                                              \
                if (dfull < d) {                                                               \
                    VEC v0 = V_LOAD_TAIL(y0 + dfull), v1 = V_LOAD_TAIL(y1 + dfull);            \
                    for (int a = 0; a < 4; a++) {                                              \
                        VEC q = V_LOAD_TAIL(x0 + a * d + dfull);                               \
                        STEP(acc[a][0], q, v0);                                                \
                        STEP(acc[a][1], q, v1);                                                \
                    }                                                                          \
                }                                                                              \
                for (int a = 0; a < 4; a++) {                                                  \
                    out[(i + a) * ny + j] = V_REDUCE(acc[a][0]);                               \
                    out[(i + a) * ny + j + 1] = V_REDUCE(acc[a][1]);                           \
                }                                                                              \
            }                                                                                  \
            for (; j < ny; j++)                                                                \
                for (int a = 0; a < 4; a++)                                                    \
                    ny_fn##_strided(out + (i + a) * ny + j, x0 + a * d, y + j * ldy, d, ldy,   \
                                    1);                                                        \
        }                                                                                      \
        for (; i < nq; i++)                                                                    \
            ny_fn##_strided(out + i * ny, x + i * d, y, d, ldy, ny);                           \
    }                                                                                          \
    static void name(float *out, const float *x, size_t nq, const float *y, size_t d,         \
                     size_t ny)                                                                \
    {                                                                                          \
        name##_strided(out, x, nq, y, d, d, ny);                                               \
    }

DEFINE_TILE(l2sqr_tile, l2sqr_ny, STEP_L2)
DEFINE_TILE(inner_product_tile, inner_product_ny, STEP_IP)

static size_t select_le(uint32_t *idx, const float *score, const float *offset, size_t n,
                        float threshold)
{
    const VEC t = V_SET1(threshold);
    size_t count = 0, j = 0;
    for (; j + VW <= n; j += VW) {
        VEC v = V_LOAD(score + j);
        if (offset)
            v = V_ADD(v, V_LOAD(offset + j));
        unsigned mask = V_LE_MASK(v, t);
        while (mask) {
            idx[count++] = (uint32_t)(j + (size_t)__builtin_ctz(mask));
            mask &= mask - 1;
        }
    }
    for (; j < n; j++)
        if (score[j] + (offset ? offset[j] : 0.0f) <= threshold)
            idx[count++] = (uint32_t)j;
    return count;
}

const vx_kernel_table VX_TABLE_NAME = {
    VX_ISA_NAME, l2sqr,      inner_product,      norm_sqr, l2sqr_ny, inner_product_ny,
    l2sqr_tile,  inner_product_tile, select_le, l2sqr_ny_strided, inner_product_ny_strided,
    l2sqr_tile_strided, inner_product_tile_strided, l2sqr_gather,
};
