/* Sections shared by several families: see codecs.h and docs/FORMAT.md. */
#include "codecs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../quant/kmeans.h"

#define TAG_PQ_META VX_TAG('P', 'Q', 'C', 'D')
#define TAG_PQ_CODEBOOKS VX_TAG('P', 'Q', 'C', 'B')
#define TAG_SQ_META VX_TAG('S', 'Q', 'C', 'D')
#define TAG_SQ_RANGES VX_TAG('S', 'Q', 'R', 'G')

/* CORRUPT, carrying the message of the failure just recorded. */
static vindex_status corrupt_because(const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s", vindex_last_error());
    return vx_io_corrupt("%s: %s", what, msg);
}

/* ---- k-means parameters -------------------------------------------------- */

void vx_io_put_kmeans_params(vx_writer *w, const vindex_kmeans_params *cp)
{
    vx_writer_u32(w, (uint32_t)cp->niter);
    vx_writer_u32(w, (uint32_t)cp->nredo);
    vx_writer_u32(w, (uint32_t)cp->spherical);
    vx_writer_u32(w, (uint32_t)cp->max_points_per_centroid);
    vx_writer_u32(w, (uint32_t)cp->min_points_per_centroid);
    vx_writer_u32(w, (uint32_t)cp->init);
    vx_writer_u32(w, (uint32_t)cp->verbose);
    vx_writer_i64(w, cp->seed);
}

vindex_status vx_io_get_kmeans_params(vx_cursor *c, vindex_kmeans_params *cp, const char *what)
{
    uint32_t v[7];
    int64_t seed;
    vindex_status st = VINDEX_OK;
    for (int i = 0; i < 7 && !st; i++)
        st = vx_cursor_u32(c, &v[i]);
    if (st || (st = vx_cursor_i64(c, &seed)))
        return st;
    for (int i = 0; i < 7; i++)
        if (v[i] > INT32_MAX)
            return vx_io_corrupt("%s: clustering parameter %d is %u", what, i, v[i]);
    if (v[2] > 1 || v[6] > 1)
        return vx_io_corrupt("%s: clustering flags spherical %u, verbose %u are not 0 or 1", what,
                             v[2], v[6]);
    vindex_kmeans_params p = {.niter = (int)v[0], .nredo = (int)v[1], .seed = seed,
                              .spherical = (int)v[2], .max_points_per_centroid = (int)v[3],
                              .min_points_per_centroid = (int)v[4],
                              .init = (vindex_kmeans_init)v[5], .verbose = (int)v[6]};
    if (v[5] > VINDEX_KMEANS_INIT_PLUSPLUS || vx_kmeans_check_params(&p, what))
        return corrupt_because(what);
    *cp = p;
    return VINDEX_OK;
}

/* ---- product quantizer --------------------------------------------------- */

void vx_io_write_pq(vx_writer *w, const vx_pq *pq)
{
    vx_writer_begin(w, TAG_PQ_META);
    vx_writer_u32(w, (uint32_t)pq->d);
    vx_writer_u32(w, (uint32_t)pq->M);
    vx_writer_u32(w, (uint32_t)pq->nbits);
    vx_writer_u32(w, pq->trained ? 1u : 0u);
    vx_io_put_kmeans_params(w, &pq->cp);
    vx_writer_end(w);
    if (pq->trained)
        vx_writer_array(w, TAG_PQ_CODEBOOKS, pq->centroids, (size_t)pq->M * pq->ksub * pq->dsub,
                        sizeof(float));
}

vindex_status vx_io_read_pq(vx_reader *r, int d, vx_pq *pq, const char *what)
{
    memset(pq, 0, sizeof *pq);
    vx_cursor c;
    uint32_t pd, M, nbits, trained;
    vindex_kmeans_params cp;
    vindex_status st;
    if ((st = vx_reader_section(r, TAG_PQ_META, &c)) || (st = vx_cursor_u32(&c, &pd)) ||
        (st = vx_cursor_u32(&c, &M)) || (st = vx_cursor_u32(&c, &nbits)) ||
        (st = vx_cursor_u32(&c, &trained)) || (st = vx_io_get_kmeans_params(&c, &cp, what)) ||
        (st = vx_cursor_done(&c)))
        return st;
    if (pd != (uint32_t)d || trained > 1 || M > INT32_MAX || nbits > VX_PQ_MAX_NBITS)
        return vx_io_corrupt("%s: product quantizer of d %u (index d %d), M %u, nbits %u, "
                             "trained %u",
                             what, pd, d, M, nbits, trained);
    if (vx_pq_init(pq, d, (int)M, (int)nbits, what))
        return corrupt_because(what);
    pq->cp = cp;
    if (!trained)
        return VINDEX_OK;
    void *cb;
    if ((st = vx_reader_array(r, TAG_PQ_CODEBOOKS, (size_t)M * pq->ksub * pq->dsub,
                              sizeof(float), &cb, NULL)))
        return st;
    st = vx_pq_set_centroids(pq, cb); /* a copy, with the norms it needs */
    vx_free(cb);
    if (st)
        return st;
    if (!vx_io_all_finite(pq->centroids, (size_t)M * pq->ksub * pq->dsub))
        return vx_io_corrupt("%s: a PQ codebook entry is NaN or infinite", what);
    return VINDEX_OK;
}

/* ---- scalar quantizer ---------------------------------------------------- */

void vx_io_write_sq(vx_writer *w, const vx_sq *sq)
{
    vx_writer_begin(w, TAG_SQ_META);
    vx_writer_u32(w, (uint32_t)sq->type);
    vx_writer_u32(w, (uint32_t)sq->d);
    vx_writer_u32(w, sq->trained ? 1u : 0u);
    vx_writer_end(w);
    if (vx_sq_type_needs_training(sq->type)) {
        vx_writer_begin(w, TAG_SQ_RANGES);
        vx_writer_ref(w, sq->vmin, (size_t)sq->d * sizeof(float));
        vx_writer_ref(w, sq->vdiff, (size_t)sq->d * sizeof(float));
        vx_writer_end(w);
    }
}

vindex_status vx_io_read_sq(vx_reader *r, int d, vx_sq *sq, const char *what)
{
    memset(sq, 0, sizeof *sq);
    vx_cursor c;
    uint32_t type, sd, trained;
    vindex_status st;
    if ((st = vx_reader_section(r, TAG_SQ_META, &c)) || (st = vx_cursor_u32(&c, &type)) ||
        (st = vx_cursor_u32(&c, &sd)) || (st = vx_cursor_u32(&c, &trained)) ||
        (st = vx_cursor_done(&c)))
        return st;
    if (type > (uint32_t)VINDEX_SQ_BF16 || !vx_sq_type_valid((vindex_sq_type)type) ||
        sd != (uint32_t)d || trained > 1)
        return vx_io_corrupt("%s: scalar quantizer of type %u, d %u (index d %d), trained %u",
                             what, type, sd, d, trained);
    const vindex_sq_type t = (vindex_sq_type)type;
    const bool trainable = vx_sq_type_needs_training(t);
    if (!trainable && !trained)
        return vx_io_corrupt("%s: a %s quantizer needs no training but is marked untrained",
                             what, vx_sq_type_name(t));
    const void *ranges = NULL;
    if (trainable &&
        (st = vx_reader_view(r, TAG_SQ_RANGES, 2 * (size_t)d, sizeof(float), &ranges)))
        return st;
    if ((st = vx_sq_init(sq, t, d)))
        return st;
    if (!trainable)
        return VINDEX_OK;
    const size_t bytes = (size_t)d * sizeof(float);
    memcpy(sq->vmin, ranges, bytes);
    memcpy(sq->vdiff, (const uint8_t *)ranges + bytes, bytes);
    /* scale and bias follow from the ranges exactly as training sets them */
    const float L = t == VINDEX_SQ_4BIT ? 15.0f : 255.0f;
    for (size_t i = 0; i < (size_t)d; i++) {
        if (!isfinite(sq->vmin[i]) || !isfinite(sq->vdiff[i]) || sq->vdiff[i] < 0)
            return vx_io_corrupt("%s: range %zu of the scalar quantizer (min %g, width %g) is "
                                 "not finite and non-negative",
                                 what, i, (double)sq->vmin[i], (double)sq->vdiff[i]);
        sq->scale[i] = sq->vdiff[i] / L;
        sq->bias[i] = sq->vmin[i] + 0.5f * sq->scale[i];
    }
    sq->trained = trained != 0;
    return VINDEX_OK;
}

/* ---- code arrays ---------------------------------------------------------- */

vindex_status vx_codes_reserve(vx_codes *c, size_t n, size_t need, size_t code_size,
                               const char *op)
{
    if (!c->map && need <= c->cap)
        return VINDEX_OK;
    size_t cap = need;
    if (!c->map && c->cap * 2 > cap)
        cap = c->cap * 2;
    uint8_t *p = NULL;
    if (cap > 0 && !(p = vx_alloc_big(cap, code_size)))
        return vx_fail(VINDEX_ERR_NOMEM, "%s: out of memory for %zu codes of %zu bytes", op, cap,
                       code_size);
    if (n > 0)
        memcpy(p, c->p, n * code_size);
    vx_codes_free(c);
    c->p = p;
    c->cap = cap;
    return VINDEX_OK;
}

void vx_codes_free(vx_codes *c)
{
    if (c->map)
        vx_mapping_release(c->map);
    else
        vx_free(c->p);
    c->p = NULL;
    c->cap = 0;
    c->map = NULL;
}

size_t vx_codes_memory(const vx_codes *c, size_t code_size) { return c->cap * code_size; }

void vx_io_write_codes(vx_writer *w, uint32_t tag, const vx_codes *c, size_t n, size_t code_size)
{
    vx_writer_array(w, tag, c->p, n, code_size);
}

vindex_status vx_io_read_codes(vx_reader *r, uint32_t tag, size_t n, size_t code_size,
                               vx_codes *c)
{
    void *p;
    bool in_place = false;
    vindex_status st = vx_reader_array(r, tag, n, code_size, &p, &in_place);
    if (st)
        return st;
    vx_codes_free(c);
    c->p = p;
    if (in_place)
        c->map = vx_mapping_ref(vx_reader_mapping(r));
    else
        c->cap = n;
    return VINDEX_OK;
}
