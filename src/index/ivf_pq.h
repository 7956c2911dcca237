/*
 * The IVFPQ codec (ivf_pq.c), shared with IndexIVFPQFastScan
 * (ivf_pq_fastscan.c), which stores the same residual 4-bit PQ codes in
 * blocks and scores them from quantized copies of the same tables: training,
 * encoding, decoding, precomputed tables, the float-table scanner and the
 * parameters are IVFPQ's.
 */
#ifndef VX_IVF_PQ_H
#define VX_IVF_PQ_H

#include "../quant/pq.h"
#include "ivf.h"

typedef struct ivfpq_codec {
    vx_pq pq;
    float *centroids;    /* nlist x d, from the coarse quantizer at train */
    float *precomputed;  /* nlist x M x ksub, or NULL */
    int use_precomputed; /* the setting (1 by default) */
} ivfpq_codec;

/* Builds an IVF index of family fam (whose codec is an ivfpq_codec) after
 * the caller checked the common constructor arguments. */
vindex_status vx_ivfpq_make(vindex **out, vindex *quantizer, int d, size_t nlist, int M,
                            int nbits, vindex_metric metric, const vx_ivf_family *fam);

/* Installs codebooks read from a file (NULL: those the codec holds already),
 * copies the coarse centroids, builds the precomputed tables and marks the
 * index trained (see ivf_pq.c). */
vindex_status vx_ivfpq_restore(vx_ivf *ivf, const float *codebooks);

vindex_status vx_ivfpq_train_codec(vx_ivf *ivf, size_t n, const float *x, const int64_t *lists);
void vx_ivfpq_encode(const vx_ivf *ivf, size_t n, const float *x, const int64_t *lists,
                     uint8_t *codes);
void vx_ivfpq_decode(const vx_ivf *ivf, int64_t list, const uint8_t *code, float *out);
bool vx_ivfpq_codec_equal(const vx_ivf *a, const vx_ivf *b);
void vx_ivfpq_destroy_codec(vx_ivf *ivf);
size_t vx_ivfpq_codec_memory(const vx_ivf *ivf);
vindex_status vx_ivfpq_set_param(vindex *ix, const char *name, double value);
vindex_status vx_ivfpq_get_param(const vindex *ix, const char *name, double *value);

/* Persistence (docs/FORMAT.md, "IVF families"): the codec's sections (the PQ,
 * then IPQM: use_precomputed_table), and the vx_ivf_make_fn body that reads
 * them back into an empty index of family fam (centroids and precomputed
 * tables rebuilt when trained). A family on this codec sets .write_codec =
 * vx_ivfpq_write_codec and reads with a make function calling
 * vx_ivfpq_read_codec(r, h, quantizer, nlist, &its_family, out). */
struct vx_io_index_header;
vindex_status vx_ivfpq_write_codec(const vx_ivf *ivf, vx_writer *w);
vindex_status vx_ivfpq_read_codec(vx_reader *r, const struct vx_io_index_header *h,
                                  vindex *quantizer, size_t nlist, const vx_ivf_family *fam,
                                  vindex **out);

/* The float-table scanner: vx_ivfpq_scanner_bytes of memory, 64-byte aligned. */
size_t vx_ivfpq_scanner_bytes(const vx_pq *pq);
void vx_ivfpq_scanner_init(const vx_ivf *ivf, void *scanner);
void vx_ivfpq_set_query(void *scanner, const float *query);
void vx_ivfpq_set_list(void *scanner, int64_t list, float coarse_score);
void vx_ivfpq_scores(void *scanner, size_t n, const uint8_t *codes, float *out);
/* After set_list: the list's table (M x ksub heap scores) as the sum of the
 * returned table and *second (NULL: nothing to add; precomputed L2 tables
 * come as the list's and the query's terms), and the term added to every
 * code's sum (*bias): a code's score is bias + its lookups. */
/* Prefetches what set_list(list) reads (the list's centroid, its precomputed table). */
void vx_ivfpq_prefetch_list(void *scanner, int64_t list);
const float *vx_ivfpq_list_terms(void *scanner, const float **second, float *bias);

#endif
