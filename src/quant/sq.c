/* The scalar-quantizer codec; see sq.h for the arithmetic. */
#include "sq.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"

bool vx_sq_type_valid(vindex_sq_type type)
{
    return (int)type >= (int)VINDEX_SQ_8BIT && (int)type <= (int)VINDEX_SQ_BF16;
}

const char *vx_sq_type_name(vindex_sq_type type)
{
    switch (type) {
    case VINDEX_SQ_8BIT:
        return "QT_8bit";
    case VINDEX_SQ_4BIT:
        return "QT_4bit";
    case VINDEX_SQ_8BIT_UNIFORM:
        return "QT_8bit_uniform";
    case VINDEX_SQ_FP16:
        return "QT_fp16";
    case VINDEX_SQ_BF16:
        return "QT_bf16";
    }
    return "unknown";
}

bool vx_sq_type_needs_training(vindex_sq_type type)
{
    return type == VINDEX_SQ_8BIT || type == VINDEX_SQ_4BIT || type == VINDEX_SQ_8BIT_UNIFORM;
}

VINDEX_API size_t vindex_sq_code_size(vindex_sq_type type, int d)
{
    if (d <= 0 || !vx_sq_type_valid(type))
        return 0;
    size_t n = (size_t)d;
    switch (type) {
    case VINDEX_SQ_4BIT:
        return (n + 1) / 2;
    case VINDEX_SQ_FP16:
    case VINDEX_SQ_BF16:
        return 2 * n;
    default:
        return n;
    }
}

static float levels_of(vindex_sq_type type) { return type == VINDEX_SQ_4BIT ? 15.0f : 255.0f; }

vindex_status vx_sq_init(vx_sq *sq, vindex_sq_type type, int d)
{
    memset(sq, 0, sizeof *sq);
    sq->type = type;
    sq->d = d;
    sq->code_size = vindex_sq_code_size(type, d);
    sq->trained = !vx_sq_type_needs_training(type);
    if (sq->trained)
        return VINDEX_OK;
    float *buf = vx_calloc((size_t)d, 4 * sizeof(float));
    if (!buf)
        return VINDEX_ERR_NOMEM;
    sq->vmin = buf;
    sq->vdiff = buf + d;
    sq->scale = buf + 2 * (size_t)d;
    sq->bias = buf + 3 * (size_t)d;
    return VINDEX_OK;
}

void vx_sq_free(vx_sq *sq)
{
    vx_free(sq->vmin);
    sq->vmin = sq->vdiff = sq->scale = sq->bias = NULL;
}

size_t vx_sq_memory(const vx_sq *sq) { return sq->vmin ? 4 * (size_t)sq->d * sizeof(float) : 0; }

bool vx_sq_equal(const vx_sq *a, const vx_sq *b)
{
    if (a->type != b->type || a->d != b->d || a->trained != b->trained)
        return false;
    if (!a->vmin)
        return true;
    size_t bytes = (size_t)a->d * sizeof(float);
    return !memcmp(a->vmin, b->vmin, bytes) && !memcmp(a->vdiff, b->vdiff, bytes);
}

vindex_status vx_sq_train(vx_sq *sq, size_t n, const float *x)
{
    if (!vx_sq_type_needs_training(sq->type))
        return VINDEX_OK;
    const size_t d = (size_t)sq->d;
    float *lo = vx_alloc(d, 2 * sizeof(float));
    if (!lo)
        return VINDEX_ERR_NOMEM;
    float *hi = lo + d;
    for (size_t t = 0; t < d; t++) {
        lo[t] = INFINITY;
        hi[t] = -INFINITY;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < d; t++) {
            float v = x[i * d + t];
            lo[t] = v < lo[t] ? v : lo[t];
            hi[t] = v > hi[t] ? v : hi[t];
        }
    if (sq->type == VINDEX_SQ_8BIT_UNIFORM) { /* one range over every value */
        float a = lo[0], b = hi[0];
        for (size_t t = 1; t < d; t++) {
            a = lo[t] < a ? lo[t] : a;
            b = hi[t] > b ? hi[t] : b;
        }
        for (size_t t = 0; t < d; t++) {
            lo[t] = a;
            hi[t] = b;
        }
    }
    const float L = levels_of(sq->type);
    for (size_t t = 0; t < d; t++) {
        float vdiff = hi[t] - lo[t];
        if (!isfinite(vdiff)) /* a range wider than float: keep it representable */
            vdiff = FLT_MAX;
        sq->vmin[t] = lo[t];
        sq->vdiff[t] = vdiff;
        sq->scale[t] = vdiff / L;
        sq->bias[t] = lo[t] + 0.5f * sq->scale[t];
    }
    vx_free(lo);
    sq->trained = true;
    return VINDEX_OK;
}

uint16_t vx_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u)
        return sign | 0x7e00u; /* NaN */
    if (ax >= 0x477ff000u)     /* >= 65520 rounds to infinity */
        return sign | 0x7c00u;
    if (ax < 0x38800000u) { /* below 2^-14: a subnormal half, m * 2^-24 */
        float v;
        memcpy(&v, &ax, sizeof v);
        return sign | (uint16_t)lrintf(v * 16777216.0f); /* exact scaling, rounds to even */
    }
    uint32_t h = ((((ax >> 23) - 127 + 15) << 10) | ((ax & 0x7fffffu) >> 13));
    uint32_t rest = ax & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++; /* nearest, ties to even; a carry into the exponent is right too */
    return sign | (uint16_t)h;
}

uint16_t vx_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    return (uint16_t)((x + 0x8000u) >> 16); /* as Faiss's encode_bf16 */
}

void vx_sq_encode(const vx_sq *sq, size_t n, const float *x, const float *sub, uint8_t *codes)
{
    const size_t d = (size_t)sq->d, cs = sq->code_size;
    for (size_t i = 0; i < n; i++) {
        const float *v = x + i * d;
        uint8_t *c = codes + i * cs;
        switch (sq->type) {
        case VINDEX_SQ_FP16:
        case VINDEX_SQ_BF16:
            for (size_t t = 0; t < d; t++) {
                float y = sub ? v[t] - sub[t] : v[t];
                uint16_t h = sq->type == VINDEX_SQ_FP16 ? vx_f32_to_f16(y) : vx_f32_to_bf16(y);
                memcpy(c + 2 * t, &h, sizeof h);
            }
            break;
        default: {
            const float L = levels_of(sq->type);
            const bool four = sq->type == VINDEX_SQ_4BIT;
            if (four)
                memset(c, 0, cs);
            for (size_t t = 0; t < d; t++) {
                float y = sub ? v[t] - sub[t] : v[t];
                float u = sq->vdiff[t] > 0 ? (y - sq->vmin[t]) / sq->vdiff[t] : 0.0f;
                u = u < 0 ? 0 : u > 1 ? 1 : u;
                unsigned q = (unsigned)(L * u); /* truncation, as Faiss */
                if (q > (unsigned)L)
                    q = (unsigned)L;
                if (four)
                    c[t >> 1] |= (uint8_t)(q << ((t & 1) << 2));
                else
                    c[t] = (uint8_t)q;
            }
        }
        }
    }
}

void vx_sq_decode(const vx_sq *sq, size_t n, const uint8_t *codes, const float *add, float *out)
{
    const size_t d = (size_t)sq->d, cs = sq->code_size;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * cs;
        float *o = out + i * d;
        for (size_t t = 0; t < d; t++) {
            float v;
            switch (sq->type) {
            case VINDEX_SQ_FP16:
                v = vx_f16_to_f32(vx_load_u16(c + 2 * t));
                break;
            case VINDEX_SQ_BF16:
                v = vx_bf16_to_f32(vx_load_u16(c + 2 * t));
                break;
            case VINDEX_SQ_4BIT:
                v = (float)vx_sq_u4_at(c, t) * sq->scale[t] + sq->bias[t];
                break;
            default:
                v = (float)c[t] * sq->scale[t] + sq->bias[t];
            }
            o[t] = add ? v + add[t] : v;
        }
    }
}

void vx_sq_query_prepare(vx_sq_query *sq_q, const vx_sq *sq, const vx_sq_kernel_table *kt,
                         vindex_metric metric, const float *q, const float *sub, float *qbuf)
{
    const size_t d = (size_t)sq->d;
    sq_q->sq = sq;
    sq_q->kt = kt;
    sq_q->ip = metric == VINDEX_METRIC_INNER_PRODUCT;
    sq_q->c0 = 0;
    sq_q->qv = qbuf;
    const bool scaled = vx_sq_type_needs_training(sq->type);
    if (sq_q->ip) {
        if (!scaled) {
            sq_q->qv = q;
            return;
        }
        float c0 = 0;
        for (size_t t = 0; t < d; t++) {
            qbuf[t] = q[t] * sq->scale[t];
            c0 += q[t] * sq->bias[t];
        }
        sq_q->c0 = c0;
        return;
    }
    for (size_t t = 0; t < d; t++) {
        float v = sub ? q[t] - sub[t] : q[t];
        qbuf[t] = scaled ? v - sq->bias[t] : v;
    }
}

void vx_sq_query_scores(const vx_sq_query *sq_q, const uint8_t *codes, size_t n, float ip_bias,
                        float *out)
{
    const vx_sq *sq = sq_q->sq;
    const vx_sq_kernel_table *kt = sq_q->kt;
    const size_t d = (size_t)sq->d;
    if (!sq_q->ip) {
        vx_sq_l2_fn f = sq->type == VINDEX_SQ_4BIT   ? kt->l2_u4
                        : sq->type == VINDEX_SQ_FP16 ? kt->l2_f16
                        : sq->type == VINDEX_SQ_BF16 ? kt->l2_bf16
                                                     : kt->l2_u8;
        f(out, codes, n, d, sq->scale, sq_q->qv);
        return;
    }
    vx_sq_dot_fn f = sq->type == VINDEX_SQ_4BIT   ? kt->dot_u4
                     : sq->type == VINDEX_SQ_FP16 ? kt->dot_f16
                     : sq->type == VINDEX_SQ_BF16 ? kt->dot_bf16
                                                  : kt->dot_u8;
    f(out, codes, n, d, sq_q->qv);
    const float c = sq_q->c0 + ip_bias;
    for (size_t j = 0; j < n; j++)
        out[j] = -(out[j] + c);
}
