/*
 * Sections shared by several families (docs/FORMAT.md, "Shared sections"):
 * the k-means parameters, a product quantizer, a scalar quantizer, and code
 * arrays that may be used in place from a mapped file (copy on write). A
 * family that stores one of these calls the writer in its write op and the
 * reader at the same place of its reader, so every family encodes a PQ or an
 * SQ the same way and validates it the same way.
 */
#ifndef VX_IO_CODECS_H
#define VX_IO_CODECS_H

#include "../quant/pq.h"
#include "../quant/sq.h"
#include "format.h"

/* ---- k-means parameters (inside a section the caller has open) ---------- */

/* 7 u32 (niter, nredo, spherical, max_points_per_centroid,
 * min_points_per_centroid, init, verbose) then i64 seed: 36 bytes. */
void vx_io_put_kmeans_params(vx_writer *w, const vindex_kmeans_params *cp);
/* Reads and validates them (the ranges of vx_kmeans_check_params; spherical
 * and verbose 0 or 1); CORRUPT naming `what` otherwise. */
vindex_status vx_io_get_kmeans_params(vx_cursor *c, vindex_kmeans_params *cp,
                                      const char *what);

/* ---- product quantizer: PQCD, then PQCB when trained --------------------- */

void vx_io_write_pq(vx_writer *w, const vx_pq *pq);
/* Fills *pq (vx_pq_destroy it afterwards, also on failure) with a codec of
 * dimension d: M, nbits, training parameters and, when trained, the
 * codebooks (checked finite). */
vindex_status vx_io_read_pq(vx_reader *r, int d, vx_pq *pq, const char *what);

/* ---- scalar quantizer: SQCD, then SQRG for the trainable types ---------- */

void vx_io_write_sq(vx_writer *w, const vx_sq *sq);
/* Fills *sq (vx_sq_free it afterwards, also on failure) with a codec of
 * dimension d. SQRG is written for every trainable type, trained or not, so
 * that its exact size (8 d bytes) justifies the codec's allocation. */
vindex_status vx_io_read_sq(vx_reader *r, int d, vx_sq *sq, const char *what);

/* ---- code arrays, owned or borrowed from a mapping ----------------------- */

/* n codes of code_size bytes: either owned (cap codes allocated, map NULL)
 * or, after a read with VINDEX_IO_MMAP, pointing into the read-only mapping
 * (map holds a reference, cap 0). Anything that writes to the codes calls
 * vx_codes_reserve first, which copies borrowed codes into an allocation of
 * their own (copy on write), so a mapped index takes adds and removals. */
typedef struct vx_codes {
    uint8_t *p;
    size_t cap;
    vx_mapping *map;
} vx_codes;

/* Room for `need` codes, owned, keeping the first n. All or nothing. */
vindex_status vx_codes_reserve(vx_codes *c, size_t n, size_t need, size_t code_size,
                               const char *op);
void vx_codes_free(vx_codes *c);
size_t vx_codes_memory(const vx_codes *c, size_t code_size);
void vx_io_write_codes(vx_writer *w, uint32_t tag, const vx_codes *c, size_t n,
                       size_t code_size);
/* n codes from section `tag`: in place under VINDEX_IO_MMAP, else copied. */
vindex_status vx_io_read_codes(vx_reader *r, uint32_t tag, size_t n, size_t code_size,
                               vx_codes *c);

#endif
