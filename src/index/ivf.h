/*
 * The inverted-file core shared by every IVF family (Flat now; PQ, SQ and 4-bit
 * fast-scan codes later). ivf.c owns everything that does not depend on how a
 * vector is encoded:
 *
 *   - the coarse quantizer (any index whose labels are positions, e.g. Flat),
 *     its training by k-means, and the assignment of vectors to lists;
 *   - the inverted lists: per list, codes of `code_size` bytes and their ids;
 *   - the direct map (id -> list and offset), array or hash;
 *   - the nprobe scan loop for k-NN and range search, parallel over queries
 *     for batches and over lists for a single query, with heaps, selectors,
 *     padding and the metric's sign handled once;
 *   - add (all or nothing), remove_ids, reset, merge_from, parameters.
 *
 * A family supplies a vx_ivf_family: how to train its codec, encode and decode
 * vectors, and a "scanner" that scores codes against a query. Scores follow
 * the heap convention of core/topk.h: smaller is better, so inner products are
 * negated. A family can also offer score_tile, several queries against one
 * list at a time; the core then processes a batch list by list, loading each
 * list once for all the queries that probe it.
 *
 * How the next families plug in:
 *   IVFPQ:   code_size = M * nbits / 8; train_codec learns PQ codebooks on
 *            residuals (x - centroid of its list); encode takes the list to
 *            subtract the centroid; set_query builds the distance table,
 *            set_list adds the precomputed term for the list's centroid (it gets
 *            the coarse score); scan sums table lookups.
 *   IVFSQ:   code_size = d (8-bit) or d/2; train_codec learns ranges; scan
 *            decodes on the fly with SIMD.
 *   fast-scan: codes packed in blocks of 32 (the family keeps its own layout
 *            inside a list's code bytes, padding to whole blocks); scan
 *            computes 32 scores at a time from quantized tables.
 * Families keep their state in `codec` and free it in destroy_codec.
 */
#ifndef VX_IVF_H
#define VX_IVF_H

#include <stdint.h>

#include "../core/idhash.h"
#include "index.h"

typedef struct vx_ivf vx_ivf;
typedef struct vx_ivf_coarse vx_ivf_coarse;
typedef struct vx_reader vx_reader; /* io/format.h */
struct vx_io_index_header;

/* A list owns its arrays (cap entries allocated) or, after a read with
 * VINDEX_IO_MMAP, borrows them from the read-only mapping: cap 0 with n > 0.
 * Whatever changes a list makes it own its arrays first (copy on write:
 * reserve_lists, own_list in ivf.c), so a mapped index takes adds, removals
 * and merges, and the file is never written. */
typedef struct vx_ivf_list {
    uint8_t *codes;  /* cap * code_size bytes (n when borrowed) */
    vindex_id *ids;  /* cap (n when borrowed) */
    size_t n, cap;
} vx_ivf_list;

typedef struct vx_ivf_family {
    const vx_index_ops *ops; /* the index ops, made with VX_IVF_OPS(type_name) */
    /* Learns the codec after the coarse quantizer is trained. lists[i] is the
     * list of x_i. NULL: nothing to learn. */
    vindex_status (*train_codec)(vx_ivf *ivf, size_t n, const float *x, const int64_t *lists);
    /* > 0: train_codec gets at most this many of the training vectors (evenly
     * spaced), which saves assigning them all to lists. */
    size_t train_codec_max;
    /* Encodes n vectors, vector i into list lists[i], into codes + i*code_size.
     * Runs on several threads over disjoint chunks; must not fail. */
    void (*encode)(const vx_ivf *ivf, size_t n, const float *x, const int64_t *lists,
                   uint8_t *codes);
    /* Decodes one code of list `list` into out[d]. */
    void (*decode)(const vx_ivf *ivf, int64_t list, const uint8_t *code, float *out);

    /* Scanner, in ivf->scanner_bytes of per-thread memory. init once per
     * search call and thread, then set_query per query, set_list per list
     * (coarse_score: the query's score against the list's centroid, heap
     * convention), then scores for runs of at most VX_IVF_SCAN_BLOCK codes. */
    void (*scanner_init)(const vx_ivf *ivf, void *scanner);
    void (*set_query)(void *scanner, const float *query);
    void (*set_list)(void *scanner, int64_t list, float coarse_score);
    void (*scores)(void *scanner, size_t n, const uint8_t *codes, float *out);

    /* Optional: a hint, while a query scans one list, that set_list(list)
     * and the scan of its codes (`bytes` at codes) come next: the family may
     * prefetch them and its own per-list data. */
    void (*prefetch)(void *scanner, int64_t list, const uint8_t *codes, size_t bytes);

    /* Optional: nq queries (rows of q, contiguous) against n codes of one
     * list: out[i * n + j]. Each (query, code) score must be bit-identical to
     * what the scanner gives, so that results never depend on the path. */
    void (*score_tile)(const vx_ivf *ivf, int64_t list, const float *q, size_t nq,
                       const uint8_t *codes, size_t n, float *out);

    /* Optional: the k-NN of one query over its probed lists (lists[0..nprobe),
     * -1 for none), into the heap hd/hi of k entries (selector sel or NULL),
     * for a family that can do better than scoring every code. It must leave
     * exactly the heap a full scan would: it may skip only codes whose score
     * cannot enter it. Returns false, having touched nothing, when it does not
     * apply (or lacks memory); the core then scans with the scanner.
     * probed_applies tells beforehand whether it would apply to this index. */
    bool (*probed_applies)(const vx_ivf *ivf);
    bool (*search_probed)(const vx_ivf *ivf, const float *query, size_t nprobe,
                          const vindex_id *lists, size_t k, const vindex_selector *sel,
                          float *hd, vindex_id *hi);

    /* Optional: whether two indexes' codecs encode alike (merge_from). */
    bool (*codec_equal)(const vx_ivf *a, const vx_ivf *b);
    void (*destroy_codec)(vx_ivf *ivf);
    size_t (*codec_memory)(const vx_ivf *ivf);

    /* Optional: the family keeps a list's codes in its own layout, in blocks
     * of `block` entries (fast-scan: 32 codes transposed). The core then
     * reaches an entry only through get_code / put_code, keeps list
     * capacities whole blocks with unused slots zero, and calls scores() on
     * runs that start at a block boundary (VX_IVF_SCAN_BLOCK is a multiple of
     * every block). 0: codes are plain arrays of code_size bytes. */
    size_t block;
    void (*get_code)(const uint8_t *list_codes, size_t code_size, size_t slot, uint8_t *code);
    void (*put_code)(uint8_t *list_codes, size_t code_size, size_t slot, const uint8_t *code);

    /* Persistence (docs/FORMAT.md, "IVF families"). io_tag: the family tag of
     * the INDX section (io/registry.h); 0: the family cannot be written yet.
     * write_codec (NULL: no codec state) writes the codec's sections, which
     * the family's vx_ivf_make_fn reads back. */
    uint32_t io_tag;
    vindex_status (*write_codec)(const vx_ivf *ivf, vx_writer *w);
} vx_ivf_family;

enum { VX_IVF_SCAN_BLOCK = 256 };

struct vx_ivf {
    vindex base;
    const vx_ivf_family *fam;
    vindex *quantizer;
    size_t nlist;
    size_t nprobe;
    size_t code_size;
    size_t scanner_bytes;
    vx_ivf_list *lists;
    /* direct map: id -> (list << 32 | offset) */
    vindex_direct_map dm_kind;
    int64_t *dm_array; /* ARRAY: entry per id 0..ntotal-1 */
    size_t dm_cap;
    vx_idhash dm_hash; /* HASH */
    vindex_kmeans_params cp; /* clustering parameters for train */
    void *codec;
    /* the centroids' sketches for the coarse search of a few queries
     * (ivf_coarse.h); NULL when they do not apply */
    struct vx_ivf_coarse *coarse;
    struct vx_mapping *map; /* the mapped file borrowed lists lie in, or NULL */
};

/* Bytes that n entries of a list occupy (whole blocks for a blocked family). */
static inline size_t vx_ivf_codes_bytes(const vx_ivf *ivf, size_t n)
{
    size_t b = ivf->fam->block;
    return (b ? (n + b - 1) / b * b : n) * ivf->code_size;
}

/* Fills the common part of a new IVF index (the family then sets code_size,
 * scanner_bytes and codec). Checks the arguments; takes the quantizer only
 * when the family's constructor succeeds (it is stored here, and freed by
 * destroy, so a constructor that fails afterwards must clear ivf->quantizer
 * before freeing). */
vindex_status vx_ivf_init(vx_ivf *ivf, const vx_ivf_family *fam, vindex *quantizer, int d,
                          size_t nlist, vindex_metric metric);

/* The IVF index behind a public handle, or NULL (with an error naming `op`)
 * when ix is not one. */
vx_ivf *vx_ivf_of(const vindex *ix, const char *op);

/* The nlist centroids of the coarse quantizer (nlist x d, vx_alloc'd), for
 * codecs that encode residuals. */
vindex_status vx_ivf_copy_centroids(const vx_ivf *ivf, float **out);

/* The generic ops, for VX_IVF_OPS. */
vindex_status vx_ivf_train(vindex *ix, size_t n, const float *x);
vindex_status vx_ivf_add(vindex *ix, size_t n, const float *x, const vindex_id *ids);
vindex_status vx_ivf_search(const vindex *ix, size_t nq, const float *q, size_t k,
                            const vindex_search_params *p, float *distances, vindex_id *labels);
vindex_status vx_ivf_range_search(const vindex *ix, size_t nq, const float *q, float radius,
                                  const vindex_search_params *p, vx_range_list *lists);
vindex_status vx_ivf_reconstruct(const vindex *ix, vindex_id id, float *out);
vindex_status vx_ivf_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed);
void vx_ivf_reset(vindex *ix);
void vx_ivf_destroy(vindex *ix);
size_t vx_ivf_memory(const vindex *ix);
vindex_status vx_ivf_set_param(vindex *ix, const char *name, double value);
vindex_status vx_ivf_get_param(const vindex *ix, const char *name, double *value);

/* Persistence (io/ivf_io.c). vx_ivf_write is every IVF family's write op: the
 * INDX section, the IVF parameters, the quantizer (nested), the family's
 * write_codec sections, then the lists. A family's reader (registered by
 * io_tag in io/registry.c) is vx_ivf_read with a make function: given the
 * quantizer just read (owned by the new index on success, left to the caller
 * on failure), nlist and the header, it reads the codec's sections and builds
 * the empty index; vx_ivf_read then restores the lists, nprobe, clustering
 * parameters and direct map. */
typedef vindex_status (*vx_ivf_make_fn)(vx_reader *r, const struct vx_io_index_header *h,
                                        vindex *quantizer, size_t nlist, vindex **out);
vindex_status vx_ivf_write(const vindex *ix, vx_writer *w);
vindex_status vx_ivf_read(vx_reader *r, const struct vx_io_index_header *h, vx_ivf_make_fn make,
                          vindex **out);

#define VX_IVF_OPS(name_)                                                                      \
    {                                                                                          \
        .type_name = name_, .train = vx_ivf_train, .add = vx_ivf_add, .supports_ids = true,   \
        .search = vx_ivf_search, .range_search = vx_ivf_range_search,                         \
        .reconstruct = vx_ivf_reconstruct, .remove_ids = vx_ivf_remove_ids,                   \
        .reset = vx_ivf_reset, .destroy = vx_ivf_destroy, .memory_bytes = vx_ivf_memory,       \
        .set_param = vx_ivf_set_param, .get_param = vx_ivf_get_param, .write = vx_ivf_write,  \
    }

#endif
