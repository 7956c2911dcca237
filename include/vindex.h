/*
 * vindex: similarity search over dense float vectors.
 *
 * This is the only public header. Conventions, everywhere:
 *  - Every fallible function returns a vindex_status; VINDEX_OK is 0. On failure,
 *    vindex_last_error() gives a message with context for the calling thread.
 *  - Out-parameters come last. Output buffers are owned by the caller and sized in
 *    elements, not bytes (a search of nq queries for k results needs nq*k floats
 *    and nq*k ids).
 *  - A call that fails leaves the index exactly as it was.
 *  - Vectors are row-major float32: vector i of a batch starts at x + i*d.
 *
 * Thread safety: every index carries a readers-writer lock that its functions
 * take themselves, so any mix of calls from any number of threads on one index
 * is safe. Reads (search, range_search, reconstruct[_n], get_param, ntotal,
 * is_trained, memory_bytes, write, serialize, the IVF/HNSW/LSH inspectors)
 * share the lock and run in parallel; changes (train, add, add_with_ids,
 * remove_ids, reset, set_param, ivf_make_direct_map, ivf_merge_from) take it
 * exclusively, waiting for running reads to finish and holding new ones back
 * (writers are preferred, so a stream of searches cannot starve an add). A
 * search therefore sees the index before or after an add, never a half-added
 * vector, and its results equal a serial search of that state. Exceptions:
 *  - vindex_free must not run concurrently with any other call on the index.
 *  - A part owned by a composite (the sub-index of an IDMap, an IVF's
 *    quantizer, a Refine's or PreTransform's parts, as returned by
 *    vindex_idmap_index / vindex_ivf_quantizer) is guarded by the composite's
 *    lock: use it only through the composite, or read it directly only while no
 *    thread changes the composite.
 *  - Objects without an index handle (vindex_pq_codec, vindex_transform,
 *    vindex_selector, vindex_binary) have no lock: the const functions may run
 *    concurrently, the others need exclusive access.
 * Distinct indexes are independent. The internal thread pool cannot deadlock
 * with these locks: a call that finds the pool busy runs its work inline
 * instead of waiting, and pool tasks never take an index lock.
 *
 * The library never prints and never exits; see vindex_set_log_callback().
 */
#ifndef VINDEX_H
#define VINDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VINDEX_BUILDING_LIBRARY) && defined(__GNUC__)
#define VINDEX_API __attribute__((visibility("default")))
#else
#define VINDEX_API
#endif

#define VINDEX_VERSION_MAJOR 0
#define VINDEX_VERSION_MINOR 1
#define VINDEX_VERSION_PATCH 0
#define VINDEX_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------- */
/* Basic types                                                                */
/* ------------------------------------------------------------------------- */

typedef struct vindex vindex;   /* an index of any family; opaque */
typedef int64_t vindex_id;      /* a vector's label; -1 marks "no result" */

typedef enum vindex_status {
    VINDEX_OK = 0,
    VINDEX_ERR_NOMEM = 1,         /* an allocation failed */
    VINDEX_ERR_INVALID = 2,       /* a bad argument (NULL, k <= 0, NaN, duplicate id, ...) */
    VINDEX_ERR_NOT_TRAINED = 3,   /* the index needs train() first */
    VINDEX_ERR_DIM = 4,           /* a dimension does not match */
    VINDEX_ERR_UNSUPPORTED = 5,   /* this index family lacks the operation */
    VINDEX_ERR_IO = 6,            /* a file could not be read or written */
    VINDEX_ERR_CORRUPT = 7,       /* a file or buffer is not a valid index */
    VINDEX_ERR_NOT_FOUND = 8      /* an id or parameter that does not exist */
} vindex_status;

typedef enum vindex_metric {
    VINDEX_METRIC_L2 = 0,            /* squared Euclidean distance; smaller is nearer */
    VINDEX_METRIC_INNER_PRODUCT = 1  /* inner product; larger is nearer */
} vindex_metric;

/* ------------------------------------------------------------------------- */
/* Library                                                                    */
/* ------------------------------------------------------------------------- */

/* "0.1.0" */
VINDEX_API const char *vindex_version(void);

/* The last error message of the calling thread ("" when none). Valid until the
 * next vindex call on this thread. */
VINDEX_API const char *vindex_last_error(void);

/* A short name for a status code ("invalid argument"). */
VINDEX_API const char *vindex_status_string(vindex_status status);

/* The instruction set the distance kernels use: "scalar", "avx2" or "avx512".
 * Chosen once from the CPU (cpuid + xgetbv); VINDEX_SIMD=scalar|avx2|avx512 in
 * the environment lowers it (a level the CPU lacks is never chosen). */
VINDEX_API const char *vindex_simd_level(void);

/* Worker threads for searches, adds and training. Default: VINDEX_NUM_THREADS
 * from the environment, else the number of online cores. n <= 0 restores the
 * default. Results never depend on the thread count. */
VINDEX_API void vindex_set_num_threads(int n);
VINDEX_API int vindex_get_num_threads(void);

/* Log messages (notices from training, for instance) go to this callback, never
 * to stdout/stderr. NULL (the default) drops them. level: 0 info, 1 warning. */
typedef void (*vindex_log_fn)(int level, const char *message, void *user_data);
VINDEX_API void vindex_set_log_callback(vindex_log_fn fn, void *user_data);

/* ------------------------------------------------------------------------- */
/* Id selectors: which ids a search may return, or remove_ids removes         */
/* ------------------------------------------------------------------------- */

typedef struct vindex_selector vindex_selector;

/* ids in [lo, hi) */
VINDEX_API vindex_status vindex_selector_range(vindex_selector **out, vindex_id lo,
                                               vindex_id hi);
/* the n ids listed (copied; duplicates are fine) */
VINDEX_API vindex_status vindex_selector_batch(vindex_selector **out, size_t n,
                                               const vindex_id *ids);
/* id i is selected when bit (i % 8) of bitmap[i / 8] is set, for 0 <= i < nbits
 * (copied). */
VINDEX_API vindex_status vindex_selector_bitmap(vindex_selector **out, size_t nbits,
                                                const uint8_t *bitmap);
/* every id that `inner` does not select; `inner` must outlive the result */
VINDEX_API vindex_status vindex_selector_not(vindex_selector **out,
                                             const vindex_selector *inner);
VINDEX_API int vindex_selector_contains(const vindex_selector *sel, vindex_id id);
VINDEX_API void vindex_selector_free(vindex_selector *sel);

/* ------------------------------------------------------------------------- */
/* Per-call search parameters                                                */
/* ------------------------------------------------------------------------- */

/* Zero-initialise (or call vindex_search_params_init) and set what you need; a
 * zero field means "the index's own setting". Parameters that an index family
 * does not use are ignored. Passing NULL instead of a struct means all defaults.
 * Because these travel with the call, concurrent searches with different
 * settings never touch shared state. */
typedef struct vindex_search_params {
    int nprobe;                 /* IVF: inverted lists to visit (< 0 is an error) */
    int ef_search;              /* HNSW: candidate list size (< 0 is an error) */
    float k_factor;             /* Refine: re-rank k*k_factor candidates (< 0 is an error) */
    const vindex_selector *sel; /* only ids this selects are returned; NULL = all */
} vindex_search_params;

VINDEX_API void vindex_search_params_init(vindex_search_params *p);

/* ------------------------------------------------------------------------- */
/* Range search results (CSR)                                                 */
/* ------------------------------------------------------------------------- */

/* Results of query i are distances[lims[i] .. lims[i+1]) and labels[same],
 * sorted nearest first. Allocated by the library; free with
 * vindex_range_result_free(). */
typedef struct vindex_range_result {
    size_t nq;
    size_t *lims;       /* nq + 1 entries */
    float *distances;   /* lims[nq] entries */
    vindex_id *labels;  /* lims[nq] entries */
} vindex_range_result;

VINDEX_API void vindex_range_result_free(vindex_range_result *res);

/* ------------------------------------------------------------------------- */
/* Constructors                                                               */
/* ------------------------------------------------------------------------- */

/* Exact search over vectors stored as they are (Faiss: IndexFlat). Labels are
 * positions 0..ntotal-1; remove_ids renumbers the vectors that follow. */
VINDEX_API vindex_status vindex_flat_new(vindex **out, int d, vindex_metric metric);

/* Wrap `sub` (an empty index; ownership passes to the wrapper on success) so that
 * vectors carry arbitrary int64 ids (Faiss: IndexIDMap). IDMap2 also
 * reconstructs by id (Faiss: IndexIDMap2). Ids must be unique. */
VINDEX_API vindex_status vindex_idmap_new(vindex **out, vindex *sub);
VINDEX_API vindex_status vindex_idmap2_new(vindex **out, vindex *sub);

/* Frees the index and everything it owns. NULL is a no-op. */
VINDEX_API void vindex_free(vindex *ix);

/* ------------------------------------------------------------------------- */
/* Inverted-file indexes (IVF)                                                */
/* ------------------------------------------------------------------------- */
/* An IVF index partitions the vectors into nlist inverted lists, one per
 * centroid of a coarse quantizer; a search visits only the nprobe lists whose
 * centroids are nearest to the query. train() runs k-means (10 iterations, seed
 * 1234, at most 256 points per centroid, as Faiss) and stores the centroids in
 * the quantizer; it is skipped when the quantizer already holds nlist trained
 * vectors. With the inner-product metric the clustering is spherical.
 *
 * Tunables (vindex_set_param / vindex_get_param): "nprobe" (default 1, at least
 * 1; values above nlist are clamped at search time, as Faiss does), "nlist"
 * (read only), and the clustering parameters used by the next train():
 * "cp.niter", "cp.nredo", "cp.seed", "cp.max_points_per_centroid",
 * "cp.min_points_per_centroid", "cp.spherical", "cp.verbose" (progress through
 * the log callback). vindex_search_params.nprobe
 * overrides nprobe for one call (0 = the index's setting).
 *
 * Ids: add() numbers vectors from ntotal; add_with_ids() stores the caller's ids
 * in the lists (duplicates are allowed, as in Faiss, unless a hash direct map is
 * kept). remove_ids scans the lists and keeps the order of what remains. */

/* IndexIVFFlat: vectors stored uncompressed in the lists, distances exact.
 * `quantizer` is a Flat index of dimension d (IndexFlatL2 / IndexFlatIP), or an
 * IndexHNSWFlat whose labels are positions (filled by add(), or empty: train()
 * adds the centroids; a search probes with efSearch raised to nprobe);
 * ownership passes to the IVF index on success (the caller keeps it on
 * failure). nlist >= 1. */
VINDEX_API vindex_status vindex_ivf_flat_new(vindex **out, vindex *quantizer, int d,
                                             size_t nlist, vindex_metric metric);

/* How reconstruct() finds a vector by id (Faiss: DirectMap). */
typedef enum vindex_direct_map {
    VINDEX_DIRECT_MAP_NONE = 0,  /* no map: reconstruct fails */
    VINDEX_DIRECT_MAP_ARRAY = 1, /* ids must be 0..ntotal-1 (add without ids); no remove_ids */
    VINDEX_DIRECT_MAP_HASH = 2   /* any unique ids; remove_ids works */
} vindex_direct_map;

/* Builds (or drops, with NONE) the id -> (list, offset) map that reconstruct
 * needs, and keeps it up to date through later adds and removals (Faiss:
 * make_direct_map / set_direct_map_type). ARRAY fails when the ids are not
 * 0..ntotal-1, HASH when an id appears twice. */
VINDEX_API vindex_status vindex_ivf_make_direct_map(vindex *ix, vindex_direct_map kind);
VINDEX_API vindex_status vindex_ivf_direct_map_kind(const vindex *ix, vindex_direct_map *kind);

/* Moves every entry of src into dst, adding add_id to its ids; src ends empty
 * (Faiss: merge_from). Both must be IVF indexes of the same family, dimension,
 * metric and nlist, with the same coarse centroids. dst may keep a hash direct
 * map (ids must then stay unique), not an array one. */
VINDEX_API vindex_status vindex_ivf_merge_from(vindex *dst, vindex *src, vindex_id add_id);

/* nlist entries: the number of vectors in each inverted list. */
VINDEX_API vindex_status vindex_ivf_list_sizes(const vindex *ix, size_t *sizes);

/* The ids stored in list `list`, in list order, into ids[n] where n is the list
 * size from vindex_ivf_list_sizes (ids may be NULL when that is 0). */
VINDEX_API vindex_status vindex_ivf_list_ids(const vindex *ix, size_t list, vindex_id *ids);

/* nlist * sum(size^2) / ntotal^2: 1 when lists are balanced (Faiss:
 * invlists.imbalance_factor()). 0 for an empty index. */
VINDEX_API vindex_status vindex_ivf_imbalance_factor(const vindex *ix, double *out);

/* The coarse quantizer, still owned by the IVF index (do not free it; do not
 * add to or remove from it once the IVF index is trained). */
VINDEX_API vindex_status vindex_ivf_quantizer(const vindex *ix, vindex **out);

/* ------------------------------------------------------------------------- */
/* Graph indexes (HNSW)                                                       */
/* ------------------------------------------------------------------------- */
/* IndexHNSWFlat: a Hierarchical Navigable Small World graph (Malkov and
 * Yashunin) over vectors stored uncompressed. Searches are approximate: a beam
 * of efSearch candidates walks the graph; larger values find more of the true
 * neighbours and take longer.
 *
 * Tunables (vindex_set_param / vindex_get_param, Faiss names): "efSearch"
 * (default 16, at least 1; a search uses max(efSearch, k)), "efConstruction"
 * (default 40; the beam used while inserting), "seed" (levels are drawn from a
 * hash of the seed and the insertion number, so a build with one thread is
 * reproducible), and read only "M", "max_level" (-1 when empty) and
 * "entry_point" (the label of the entry node, -1 when empty).
 * vindex_search_params.ef_search overrides efSearch for one call (0 = the
 * index's setting).
 *
 * Labels: add() numbers vectors from a counter that starts at 0 (so labels are
 * 0..ntotal-1, as in Faiss, while nothing has been removed); add_with_ids()
 * takes unique caller ids (not -1) and moves the counter past the largest.
 * Labels never change: remove_ids unlinks the removed nodes, repairs their
 * neighbours' links and reuses their slots for later adds, without renumbering
 * anything (unlike IndexFlat).
 *
 * Filtered search (vindex_search_params.sel) returns only selected labels. A
 * restrictive filter is served by an exact scan over the allowed vectors
 * instead of the graph, so a search returns k results whenever at least k
 * labels pass the filter. Range search follows the graph from the beam's
 * results through every node inside the radius.
 *
 * add() inserts in parallel on the thread pool (one lock per node); with one
 * thread (vindex_set_num_threads(1)) the graph is exactly reproducible. */

/* M: neighbours per node above level 0 (2M on level 0), 2..512; Faiss's
 * default is 32, hnswlib's 16. */
VINDEX_API vindex_status vindex_hnsw_flat_new(vindex **out, int d, int M, vindex_metric metric);

/* IndexHNSWSQ with an 8-bit uniform scalar quantizer (Faiss: IndexHNSWSQ(d,
 * QT_8bit_uniform, M)): each component stored in one byte over the range
 * [min, max] of all training values; distances computed between codes (the
 * query encoded the same way), in integers; reported distances are those of
 * the codes (exact for data that is itself 8-bit, such as image pixels).
 * A quarter of the memory of IndexHNSWFlat for the vectors and the fastest
 * graph walk. Needs train() before add(); L2 only (UNSUPPORTED otherwise).
 * reconstruct() decodes. Everything else as IndexHNSWFlat. */
VINDEX_API vindex_status vindex_hnsw_sq8_new(vindex **out, int d, int M, vindex_metric metric);

/* IndexHNSWSQ with IEEE half floats (Faiss: IndexHNSWSQ(d, QT_fp16, M)): each
 * component in two bytes (fp16 rounding, relative error ~2^-11), no training;
 * distances computed on the codes against the fp32 query (F16C conversions),
 * and reported as such. Half the memory of IndexHNSWFlat for the vectors; L2
 * or inner product. reconstruct() decodes. Everything else as IndexHNSWFlat. */
VINDEX_API vindex_status vindex_hnsw_fp16_new(vindex **out, int d, int M, vindex_metric metric);

/* IndexHNSWPQ (Faiss: IndexHNSWPQ(d, pq_M, M)): vectors as product-quantizer
 * codes of pq_M bytes (8-bit sub-codes; pq_M divides d), learnt by train()
 * (needed before add()). Searches score codes from the query's distance table;
 * the build compares codes through the symmetric table of centroid distances
 * (pq_M x 256 x 256 floats). Distances are those of the codes. L2 only.
 * Everything else as IndexHNSWFlat. */
VINDEX_API vindex_status vindex_hnsw_pq_new(vindex **out, int d, int pq_M, int M,
                                            vindex_metric metric);

/* Checks the graph's invariants: degrees within bounds, links only to live
 * nodes present on that level, no self or duplicate links, labels and slots
 * consistent, the entry point on the top level. Returns VINDEX_OK, or
 * VINDEX_ERR_CORRUPT naming the first violation (in report and in
 * vindex_last_error()). *unreachable (may be NULL) gets the number of nodes
 * that cannot be reached from the entry point on level 0; report (may be NULL,
 * len bytes) a one-line summary. */
VINDEX_API vindex_status vindex_hnsw_validate(const vindex *ix, int64_t *unreachable,
                                              char *report, size_t len);

/* ------------------------------------------------------------------------- */
/* Scalar quantizers (SQ)                                                     */
/* ------------------------------------------------------------------------- */
/* Each dimension of a vector is stored on its own in a few bits (Faiss:
 * ScalarQuantizer). Distances are computed on the codes directly (decoded in
 * SIMD registers, never into a buffer).
 *
 *   VINDEX_SQ_8BIT          1 byte per dimension. train() learns a [min, max]
 *                           range per dimension (min-max over the training
 *                           set, as Faiss's default); code = floor((x - min) /
 *                           (max - min) * 255), clamped to 0..255; decoded at
 *                           the bucket centre: min + (code + 0.5) / 255 *
 *                           (max - min). Error at most (max - min) / 510 inside
 *                           the range.
 *   VINDEX_SQ_4BIT          as 8BIT with 15 levels, two dimensions per byte
 *                           (dimension 2i in the low nibble of byte i).
 *   VINDEX_SQ_8BIT_UNIFORM  as 8BIT with one range for all dimensions.
 *   VINDEX_SQ_FP16          IEEE half precision (round to nearest even; values
 *                           beyond +-65504 become infinite). No training.
 *   VINDEX_SQ_BF16          bfloat16 (the top 16 bits of the float, rounded as
 *                           Faiss does). No training.
 */
typedef enum vindex_sq_type {
    VINDEX_SQ_8BIT = 0,
    VINDEX_SQ_4BIT = 1,
    VINDEX_SQ_8BIT_UNIFORM = 2,
    VINDEX_SQ_FP16 = 3,
    VINDEX_SQ_BF16 = 4
} vindex_sq_type;

/* Bytes of one code of dimension d: d (8-bit types), (d + 1) / 2 (4-bit), 2d
 * (fp16, bf16); 0 for an unknown type or d <= 0. */
VINDEX_API size_t vindex_sq_code_size(vindex_sq_type type, int d);

/* IndexScalarQuantizer: every vector stored as a code, searched exhaustively.
 * Labels are positions 0..ntotal-1, as Flat; remove_ids renumbers the vectors
 * that follow; reconstruct decodes. The 8-bit and 4-bit types need train()
 * (once, before the first add); fp16 and bf16 are trained at construction. */
VINDEX_API vindex_status vindex_sq_new(vindex **out, int d, vindex_sq_type type,
                                       vindex_metric metric);

/* IndexIVFScalarQuantizer: an IVF index (see the IVF section: nprobe, direct
 * map, merge, ...) whose lists hold scalar-quantized residuals (vector minus
 * the centroid of its list, as Faiss's default by_residual = true). train()
 * runs k-means and then learns the quantizer's ranges on the residuals; it is
 * needed for every type, as in Faiss. `quantizer` as for vindex_ivf_flat_new. */
VINDEX_API vindex_status vindex_ivfsq_new(vindex **out, vindex *quantizer, int d, size_t nlist,
                                          vindex_sq_type type, vindex_metric metric);

/* The type of an IndexScalarQuantizer or IndexIVFScalarQuantizer. */
VINDEX_API vindex_status vindex_sq_type_of(const vindex *ix, vindex_sq_type *type);

/* ------------------------------------------------------------------------- */
/* k-means                                                                    */
/* ------------------------------------------------------------------------- */

/* Initialisation of the centroids. RANDOM (the default, as Faiss) takes k
 * distinct training points at random, drawn with Faiss's own generator and
 * permutation, so that for the same seed they are the very points Faiss takes
 * (as are the training sample and the splits of empty clusters): it costs
 * nothing and, with the sizes IVF
 * uses (k in the thousands, tens of points per centroid), Lloyd iterations from
 * it reach the same objective as from k-means++ within a fraction of a percent.
 * PLUSPLUS (k-means++, Arthur & Vassilvitskii) spreads the seeds by D^2
 * sampling: better for small k or few iterations, but it makes k sequential
 * passes over the data (O(n k d) without BLAS), more than a whole training run
 * for large k. */
typedef enum vindex_kmeans_init {
    VINDEX_KMEANS_INIT_RANDOM = 0,
    VINDEX_KMEANS_INIT_PLUSPLUS = 1
} vindex_kmeans_init;

typedef struct vindex_kmeans_params {
    int niter;                   /* Lloyd iterations (25); 0 keeps the initial seeds */
    int nredo;                   /* runs from different seeds; the best is kept (1) */
    int64_t seed;                /* everything random derives from it (1234) */
    int spherical;               /* assign by inner product, centroids normalised (0) */
    int max_points_per_centroid; /* subsample to k * this many points (256) */
    int min_points_per_centroid; /* warn below k * this many points (39) */
    vindex_kmeans_init init;     /* VINDEX_KMEANS_INIT_RANDOM */
    int verbose;                 /* 1: a log line (level 0) per iteration */
} vindex_kmeans_params;

/* Faiss's defaults, as listed above. */
VINDEX_API void vindex_kmeans_params_init(vindex_kmeans_params *p);

/* Clusters n vectors x (n x d) into k centroids, written to centroids[k * d]
 * (Faiss: Kmeans(d, k).train(x)). params NULL = defaults. iteration_obj, when
 * not NULL, receives niter * nredo values: after each iteration's assignment,
 * the sum of squared distances to the assigned centroids (for spherical
 * k-means: the sum of inner products); the last value is the final objective.
 * Fails with VINDEX_ERR_INVALID when n < k. When n > k *
 * max_points_per_centroid a random subset of that size is used, with a notice
 * through the log callback. Empty clusters are repaired by splitting a large
 * one. The result depends on the seed only, never on the thread count. */
VINDEX_API vindex_status vindex_kmeans(size_t n, int d, const float *x, size_t k,
                                       const vindex_kmeans_params *params, float *centroids,
                                       float *iteration_obj);

/* ------------------------------------------------------------------------- */
/* Product quantization (PQ)                                                  */
/* ------------------------------------------------------------------------- */
/* A product quantizer cuts a d-dimensional vector into M sub-vectors of d / M
 * dimensions and replaces each by the index of its nearest centroid among
 * 2^nbits learnt for that sub-space (k-means per sub-space: 25 iterations,
 * seed 1234, at most 256 training points per centroid, as Faiss). A code is
 * ceil(M * nbits / 8) bytes, sub-code m in bits m*nbits .. m*nbits+nbits-1,
 * least significant bit first: Faiss's layout. d must be a multiple of M and
 * nbits in 1..16; training needs at least 2^nbits vectors. */

typedef struct vindex_pq_codec vindex_pq_codec; /* Faiss: ProductQuantizer */

VINDEX_API vindex_status vindex_pq_codec_new(vindex_pq_codec **out, int d, int M, int nbits);
/* NULL is a no-op. Never call it on a codec from vindex_pq_codec_of(). */
VINDEX_API void vindex_pq_codec_free(vindex_pq_codec *codec);
/* Any out-pointer may be NULL. code_size is in bytes. */
VINDEX_API vindex_status vindex_pq_codec_info(const vindex_pq_codec *codec, int *d, int *M,
                                              int *nbits, size_t *code_size);
VINDEX_API int vindex_pq_codec_is_trained(const vindex_pq_codec *codec);
/* The k-means parameters of the next train (defaults as above). */
VINDEX_API vindex_status vindex_pq_codec_set_kmeans_params(vindex_pq_codec *codec,
                                                           const vindex_kmeans_params *params);
VINDEX_API vindex_status vindex_pq_codec_get_kmeans_params(const vindex_pq_codec *codec,
                                                           vindex_kmeans_params *params);
/* Learns the M codebooks from n vectors x (n x d); the M sub-quantizers train
 * in parallel. The result depends on the seed only, not on the thread count. */
VINDEX_API vindex_status vindex_pq_codec_train(vindex_pq_codec *codec, size_t n, const float *x);
/* n vectors into n * code_size bytes of codes. */
VINDEX_API vindex_status vindex_pq_codec_compute_codes(const vindex_pq_codec *codec, size_t n,
                                                       const float *x, uint8_t *codes);
/* n codes back into n x d floats (each sub-vector its centroid). */
VINDEX_API vindex_status vindex_pq_codec_decode(const vindex_pq_codec *codec, size_t n,
                                                const uint8_t *codes, float *x);
/* The codebooks, M x 2^nbits x (d / M) floats (Faiss: pq.centroids). */
VINDEX_API vindex_status vindex_pq_codec_centroids(const vindex_pq_codec *codec,
                                                   float *centroids);
/* Installs codebooks (same layout) and marks the codec trained. */
VINDEX_API vindex_status vindex_pq_codec_set_centroids(vindex_pq_codec *codec,
                                                       const float *centroids);
/* Asymmetric distance tables of n queries: tables[(i * M + m) * 2^nbits + c]
 * is the squared L2 distance (VINDEX_METRIC_L2) or the inner product
 * (VINDEX_METRIC_INNER_PRODUCT) between sub-vector m of query i and centroid c
 * of sub-space m (Faiss: compute_distance_tables / compute_inner_prod_tables).
 * The distance to a code is the sum over m of the entries its sub-codes pick. */
VINDEX_API vindex_status vindex_pq_codec_compute_distance_tables(const vindex_pq_codec *codec,
                                                                 size_t n, const float *x,
                                                                 vindex_metric metric,
                                                                 float *tables);
/* Symmetric table: table[(m * 2^nbits + i) * 2^nbits + j] is the squared L2
 * distance between centroids i and j of sub-space m (Faiss: compute_sdc_table);
 * M * 4^nbits floats. */
VINDEX_API vindex_status vindex_pq_codec_compute_sdc_table(const vindex_pq_codec *codec,
                                                           float *table);

/* IndexPQ: every vector stored as its PQ code (M * nbits / 8 bytes), searched
 * exhaustively by asymmetric distances (the query exact, the base decoded).
 * Labels are positions, as IndexFlat. Tunables: "pq.cp.niter", "pq.cp.seed",
 * "pq.cp.max_points_per_centroid", "pq.cp.min_points_per_centroid",
 * "pq.cp.nredo" (the next train), and read only "pq.M", "pq.nbits",
 * "pq.code_size". A trained index with no vectors answers searches with
 * label -1 everywhere. */
VINDEX_API vindex_status vindex_pq_new(vindex **out, int d, int M, int nbits,
                                       vindex_metric metric);

/* IndexIVFPQ: an IVF index (see above) whose lists hold PQ codes of the
 * residuals x - centroid(list), as Faiss with by_residual. For L2 the search
 * uses Faiss's precomputed tables (use_precomputed_table = 1): per list
 * |c_list + r|^2 terms kept at train time (nlist * M * 2^nbits floats), so a
 * list's table is the query's table plus that list's term. Tunables: those of
 * IVF, those of IndexPQ, and "use_precomputed_table" (0 or 1; 1 by default,
 * L2 only; 0 computes a residual table per visited list). reconstruct gives
 * centroid + decoded residual. */
VINDEX_API vindex_status vindex_ivfpq_new(vindex **out, vindex *quantizer, int d, size_t nlist,
                                          int M, int nbits, vindex_metric metric);

/* The product quantizer inside an IndexPQ or IndexIVFPQ, still owned by the
 * index: read it (centroids, tables, codes), or set its k-means parameters
 * before train; do not train it or set its centroids once vectors are added,
 * and never free it. */
VINDEX_API vindex_status vindex_pq_codec_of(vindex *ix, vindex_pq_codec **out);

/* 4-bit PQ fast-scan (Faiss: IndexPQFastScan, IndexIVFPQFastScan): the codes
 * of IndexPQ / IndexIVFPQ with nbits = 4 (any other nbits is refused), stored
 * in blocks of 32 vectors and scanned with lookup tables quantized to 8 bits,
 * 32 or 64 codes per SIMD shuffle. IndexPQFastScan: the quantized scores pick
 * 2k + 16 candidates, which are rescored exactly from the float table, so
 * distances are IndexPQ's on the same codes; tunable "rescore" (1 by default;
 * 0 returns the approximate distances of the quantized tables, as Faiss).
 * IndexIVFPQFastScan returns the approximate distances, as Faiss: combine it
 * with IndexRefineFlat (factory ",RFlat", k_factor) for exact re-ranking.
 * Training, tunables ("use_precomputed_table", "pq.cp.*", "nprobe", ...) and
 * reconstruct as IndexPQ / IndexIVFPQ; no range_search. */
VINDEX_API vindex_status vindex_pq_fastscan_new(vindex **out, int d, int M, int nbits,
                                                vindex_metric metric);
VINDEX_API vindex_status vindex_ivfpq_fastscan_new(vindex **out, vindex *quantizer, int d,
                                                   size_t nlist, int M, int nbits,
                                                   vindex_metric metric);

/* ------------------------------------------------------------------------- */
/* Refinement and pre-transforms                                              */
/* ------------------------------------------------------------------------- */

/* IndexRefine: a fast, approximate `base` index proposes k * k_factor
 * candidates per query and a `refine` index that stores the vectors more
 * exactly re-ranks them by their true distance (Faiss: IndexRefine). With
 * refine == NULL an IndexFlat of the same d and metric is made
 * (Faiss: IndexRefineFlat), so that, for instance, 4-bit PQ codes plus exact
 * re-ranking reach high recall. Ownership of both passes to the new index on
 * success (the caller keeps them on failure).
 *
 * Both must have the same d (VINDEX_ERR_DIM otherwise) and metric, hold the
 * same number of vectors, and label vectors by position (0..ntotal-1 in the
 * order added); the refine index must support reconstruct. add() adds to both,
 * all or nothing; train() trains both. Searches return the refine index's
 * distances, ties broken by the smaller label, -1 padding. Tunable
 * "k_factor" (default 1, as Faiss; at least 1); vindex_search_params.k_factor
 * overrides it for one call when > 0 (values in (0, 1) are refused). The
 * params' selector goes to the base search; other names given to set_param /
 * get_param go to the base index ("nprobe", "efSearch", ...). range_search
 * takes the base's range results and keeps those whose refined distance is
 * within the radius (so it finds only what the base finds). reconstruct reads
 * the refine index. remove_ids works when both parts renumber by position
 * (Flat, PQ, SQ, and composites of them); otherwise VINDEX_ERR_UNSUPPORTED. */
VINDEX_API vindex_status vindex_refine_new(vindex **out, vindex *base, vindex *refine);

/* A vector transform (Faiss: VectorTransform) from d_in to d_out dimensions.
 * Linear ones are y = A x + b with A d_out x d_in. */
typedef struct vindex_transform vindex_transform;

/* A random rotation (Faiss: RandomRotationMatrix): A has orthonormal rows
 * (d_out <= d_in) or orthonormal columns (d_out > d_in), drawn from a
 * Gaussian matrix by QR with the given seed. Trained on creation; with
 * d_out == d_in it preserves L2 distances and inner products. */
VINDEX_API vindex_status vindex_transform_random_rotation_new(vindex_transform **out, int d_in,
                                                              int d_out, uint64_t seed);

/* Scales each vector to unit L2 norm (Faiss: NormalizationTransform); zero
 * vectors stay zero. With an inner-product index this ranks by cosine. Its
 * reverse is the identity, as in Faiss. */
VINDEX_API vindex_status vindex_transform_l2norm_new(vindex_transform **out, int d);

/* PCA (Faiss: PCAMatrix), d_out <= d_in: train() centres the data and keeps
 * the d_out leading eigenvectors of its covariance (LAPACK dsyevr, in double),
 * from at most 1000 * d_in training vectors (the first ones, as Faiss). Each
 * output component is multiplied by eigenvalue^eigen_power (0: none; -0.5
 * whitens); random_rotation != 0 rotates the output randomly afterwards. The
 * reverse transform exists when eigen_power is 0: mean + A^T y, the nearest
 * point of the PCA subspace. Training needs n >= 2. */
VINDEX_API vindex_status vindex_transform_pca_new(vindex_transform **out, int d_in, int d_out,
                                                  float eigen_power, int random_rotation);

/* OPQ (Faiss: OPQMatrix): a rotation (d_out x d_in with orthonormal rows,
 * d_out <= d_in and a multiple of M; d_out == 0 means d_in) learnt so that
 * the rotated vectors suit an M-part product quantizer: train() alternates
 * training an 8-bit PQ on the rotated data and an orthogonal Procrustes solve
 * (LAPACK dgesvd), from a random rotation, for 50 rounds (k-means runs 40
 * iterations in the first, 4 after), as Faiss, on at most 65536 training
 * vectors (the first ones), which must number at least 256. */
VINDEX_API vindex_status vindex_transform_opq_new(vindex_transform **out, int d_in, int d_out,
                                                  int M);

/* Learns the transform from n vectors of d_in (a no-op for the random
 * rotation and L2 normalisation). */
VINDEX_API vindex_status vindex_transform_train(vindex_transform *t, size_t n, const float *x);
/* n vectors of d_in at x into out[n * d_out] (out must not overlap x). */
VINDEX_API vindex_status vindex_transform_apply(const vindex_transform *t, size_t n,
                                                const float *x, float *out);
/* The inverse for orthonormal transforms (x = A^T (y - b); PCA: see above;
 * L2 normalisation: the identity): n vectors of d_out
 * into out[n * d_in]; VINDEX_ERR_UNSUPPORTED when there is none. */
VINDEX_API vindex_status vindex_transform_reverse(const vindex_transform *t, size_t n,
                                                  const float *y, float *out);
/* Any out-pointer may be NULL. */
VINDEX_API vindex_status vindex_transform_info(const vindex_transform *t, int *d_in, int *d_out,
                                               int *is_trained);
/* The matrix A (d_out x d_in, row-major) of a trained linear transform, and b
 * (d_out entries; zeros when there is none). Either pointer may be NULL.
 * VINDEX_ERR_UNSUPPORTED for L2 normalisation. */
VINDEX_API vindex_status vindex_transform_matrix(const vindex_transform *t, float *A, float *b);
/* NULL is a no-op. Never call it on a transform owned by an index. */
VINDEX_API void vindex_transform_free(vindex_transform *t);

/* IndexPreTransform: vectors pass through `t` before reaching `index` (whose
 * d must be t's d_out); the new index has d = t's d_in and index's metric.
 * Ownership of both passes to it on success. train() trains t when it is not
 * trained, then the index on transformed vectors; add, search and range_search
 * transform in chunks (bounded memory); reconstruct reverses the transform
 * when it can (VINDEX_ERR_UNSUPPORTED otherwise). Ids, selectors, remove_ids
 * and tunables pass through to the index. */
VINDEX_API vindex_status vindex_pretransform_new(vindex **out, vindex_transform *t,
                                                 vindex *index);

/* ------------------------------------------------------------------------- */
/* Binary codes: IndexBinaryFlat, Hamming distances, IndexLSH                 */
/* ------------------------------------------------------------------------- */
/* A binary code of d bits is d / 8 bytes; bit j is bit (j % 8) of byte j / 8
 * (least significant first, as Faiss). The Hamming distance between two codes
 * is the number of bits in which they differ. Kernels: POPCNT on 64-bit words,
 * or AVX-512 VPOPCNTDQ where the CPU has it (chosen like the float kernels;
 * VINDEX_SIMD lowers the level).
 *
 * Binary indexes are their own type, vindex_binary (as Faiss's IndexBinary
 * beside Index): vectors are codes and distances integers. */

typedef struct vindex_binary vindex_binary;

/* IndexBinaryFlat: exact Hamming k-NN over stored codes. d_bits: a positive
 * multiple of 8. Labels are positions 0..ntotal-1; remove_ids renumbers the
 * codes that follow, as IndexFlat. */
VINDEX_API vindex_status vindex_binary_flat_new(vindex_binary **out, int d_bits);
/* NULL is a no-op. */
VINDEX_API void vindex_binary_free(vindex_binary *ix);
VINDEX_API int vindex_binary_d(const vindex_binary *ix);              /* bits */
VINDEX_API size_t vindex_binary_code_size(const vindex_binary *ix);   /* bytes */
VINDEX_API int64_t vindex_binary_ntotal(const vindex_binary *ix);
VINDEX_API size_t vindex_binary_memory_bytes(const vindex_binary *ix);
/* Appends n codes (n * code_size bytes). */
VINDEX_API vindex_status vindex_binary_add(vindex_binary *ix, size_t n, const uint8_t *codes);
/* The k nearest codes of each of nq query codes: distances and labels nq*k
 * each, row i sorted nearest first, ties broken by the smaller label; rows
 * with fewer than k results are padded with label -1 and distance INT32_MAX
 * (Faiss's padding). Batches run in parallel over queries, a single query
 * over parts of the base; results never depend on the thread count. */
VINDEX_API vindex_status vindex_binary_search(const vindex_binary *ix, size_t nq,
                                              const uint8_t *queries, size_t k,
                                              int32_t *distances, vindex_id *labels);
/* The code with label id into out[code_size]. */
VINDEX_API vindex_status vindex_binary_reconstruct(const vindex_binary *ix, vindex_id id,
                                                   uint8_t *out);
VINDEX_API vindex_status vindex_binary_remove_ids(vindex_binary *ix, const vindex_selector *sel,
                                                  size_t *n_removed);
VINDEX_API vindex_status vindex_binary_reset(vindex_binary *ix);

/* All nq x nb Hamming distances between query codes and base codes of
 * code_size bytes (any size): out[i * nb + j]. */
VINDEX_API vindex_status vindex_hamming_distances(size_t nq, const uint8_t *queries, size_t nb,
                                                  const uint8_t *codes, size_t code_size,
                                                  int32_t *out);

/* IndexLSH (Faiss: IndexLSH(d, nbits, rotate_data, train_thresholds)): float
 * vectors stored as nbits-bit sign codes, searched by Hamming distance.
 *  - rotate_data: vectors are first multiplied by a random rotation (Faiss's
 *    RandomRotationMatrix(d, nbits) with seed 5: a Gaussian matrix made
 *    orthonormal by QR; for nbits > d the first d columns of an nbits x nbits
 *    rotation, so that the d-dimensional space is spread over nbits
 *    directions). Without it nbits <= d and the code takes the first nbits
 *    components.
 *  - train_thresholds: train() sets one threshold per bit, the median of the
 *    (rotated) training values; the index is untrained until then. Without it
 *    the thresholds are 0 and the index is trained at construction.
 * Bit j of a code is set when component j (rotated, minus its threshold) is
 * >= 0. Search encodes the queries the same way and returns the Hamming
 * distances as floats, ties by smaller label (the index reports the L2
 * metric, as Faiss). reconstruct() decodes a code as Faiss's sa_decode: each
 * bit to +-1, plus the thresholds, rotated back. Tunables (read only):
 * "nbits", "rotate_data", "train_thresholds", "code_size". Labels are
 * positions, as IndexFlat. */
VINDEX_API vindex_status vindex_lsh_new(vindex **out, int d, int nbits, int rotate_data,
                                        int train_thresholds);

/* The packed codes of n vectors under an IndexLSH (trained), n * code_size
 * bytes, code_size = (nbits + 7) / 8 (Faiss: sa_encode). */
VINDEX_API vindex_status vindex_lsh_encode(const vindex *ix, size_t n, const float *x,
                                           uint8_t *codes);

/* ------------------------------------------------------------------------- */
/* Factory strings                                                            */
/* ------------------------------------------------------------------------- */

/* Builds an index from a Faiss factory string (Faiss: index_factory): "Flat",
 * "IVF1024,Flat", "IVF1024,PQ16x8", "IVF256,SQ8", "IVF65536_HNSW32,Flat" (an HNSW
 * coarse quantizer), "PQ16", "PQ32x4fs", "IVF1024,PQ392x4fs", "SQfp16", "HNSW32",
 * "HNSW32_SQ8", "HNSW32_SQfp16", "HNSW32_PQ16", "LSH" (and LSHr, LSHt, LSHrt, LSH<nbits>...), with prefixes "IDMap," /
 * "IDMap2,", transforms "L2norm,", "RR<d>,", "PCA[W][R]<d>,", "OPQ<M>[_<d>],"
 * and suffixes ",RFlat" / ",Refine(<spec>)". A token vindex does not know gives
 * VINDEX_ERR_INVALID, one it does not offer yet VINDEX_ERR_UNSUPPORTED; the
 * message names the token and its position in the spec. */
VINDEX_API vindex_status vindex_factory(vindex **out, int d, const char *spec,
                                        vindex_metric metric);

/* The factory string that builds an index like ix (Faiss:
 * reverse_index_factory), NUL-terminated into buf (len bytes). */
VINDEX_API vindex_status vindex_reverse_factory(const vindex *ix, char *buf, size_t len);

/* ------------------------------------------------------------------------- */
/* Properties                                                                 */
/* ------------------------------------------------------------------------- */

VINDEX_API int vindex_d(const vindex *ix);
VINDEX_API int64_t vindex_ntotal(const vindex *ix);
VINDEX_API vindex_metric vindex_metric_type(const vindex *ix);
VINDEX_API int vindex_is_trained(const vindex *ix);
/* The family, as a Faiss class name ("IndexFlat", "IndexIDMap2", ...). */
VINDEX_API const char *vindex_type_name(const vindex *ix);
/* Bytes held by the index (vectors, codes, ids, graph), for memory tables. */
VINDEX_API size_t vindex_memory_bytes(const vindex *ix);

/* Named tunables (Faiss attribute names: "nprobe", "efSearch", "k_factor", ...).
 * An unknown name gives VINDEX_ERR_NOT_FOUND; a bad value VINDEX_ERR_INVALID. */
VINDEX_API vindex_status vindex_set_param(vindex *ix, const char *name, double value);
VINDEX_API vindex_status vindex_get_param(const vindex *ix, const char *name, double *value);

/* ------------------------------------------------------------------------- */
/* Operations                                                                 */
/* ------------------------------------------------------------------------- */
/* n = 0 is a no-op for train/add/search. Vectors containing NaN or infinity are
 * refused with VINDEX_ERR_INVALID. */

VINDEX_API vindex_status vindex_train(vindex *ix, size_t n, const float *x);

/* Adds n vectors; labels continue from ntotal (or come from the wrapper). */
VINDEX_API vindex_status vindex_add(vindex *ix, size_t n, const float *x);

/* Adds n vectors with caller-chosen ids (IDMap, IDMap2, IVF families). */
VINDEX_API vindex_status vindex_add_with_ids(vindex *ix, size_t n, const float *x,
                                             const vindex_id *ids);

/* The k nearest of each of nq queries: distances and labels are nq*k each, row i
 * sorted nearest first, ties broken by the smaller label; rows with fewer than k
 * results are padded with label -1 and distance +inf (L2) or -inf (inner
 * product). params may be NULL. 1 <= k <= VINDEX_MAX_K (VINDEX_ERR_INVALID
 * otherwise); nprobe and efSearch above what the index has (nlist, ntotal)
 * mean "all of it". */
#define VINDEX_MAX_K ((size_t)1 << 30)
VINDEX_API vindex_status vindex_search(const vindex *ix, size_t nq, const float *queries,
                                       size_t k, const vindex_search_params *params,
                                       float *distances, vindex_id *labels);

/* Every vector within `radius` of each query: L2 distance < radius, or inner
 * product > radius. The result is allocated into *out. */
VINDEX_API vindex_status vindex_range_search(const vindex *ix, size_t nq,
                                             const float *queries, float radius,
                                             const vindex_search_params *params,
                                             vindex_range_result **out);

/* The stored vector with label `id` into out[d] (decoded for compressed
 * families). */
VINDEX_API vindex_status vindex_reconstruct(const vindex *ix, vindex_id id, float *out);

/* Vectors with labels i0 .. i0+n-1 into out[n*d]. */
VINDEX_API vindex_status vindex_reconstruct_n(const vindex *ix, vindex_id i0, size_t n,
                                              float *out);

/* Removes every vector whose label `sel` selects; *n_removed (may be NULL) gets
 * the count. */
VINDEX_API vindex_status vindex_remove_ids(vindex *ix, const vindex_selector *sel,
                                           size_t *n_removed);

/* Removes all vectors; training is kept. */
VINDEX_API vindex_status vindex_reset(vindex *ix);

/* ------------------------------------------------------------------------- */
/* Exact k-NN without an index                                                */
/* ------------------------------------------------------------------------- */

/* The k nearest of nx database vectors xb for each of nq queries (Faiss: knn). */
VINDEX_API vindex_status vindex_knn(size_t nq, const float *queries, size_t nb,
                                    const float *base, int d, size_t k, vindex_metric metric,
                                    float *distances, vindex_id *labels);

/* Scales each of n vectors to unit L2 norm in place (zero vectors stay zero). */
VINDEX_API vindex_status vindex_normalize_l2(size_t n, int d, float *x);

/* Tunable: query batches of at least this many go through BLAS sgemm; smaller
 * ones use the SIMD kernels directly. Default 20 (as Faiss). */
VINDEX_API void vindex_set_blas_threshold(size_t nq);
VINDEX_API size_t vindex_get_blas_threshold(void);

/* ------------------------------------------------------------------------- */
/* Persistence: index files and byte buffers                                  */
/* ------------------------------------------------------------------------- */
/* An index is saved with everything it needs to answer the same searches:
 * vectors or codes, ids, trained state, sub-indexes (the IVF quantizer, the
 * index an IDMap wraps) and tunables (nprobe, clustering parameters, direct
 * map kind). The format (docs/FORMAT.md) has magic bytes, a format version,
 * little-endian fields, and a CRC-32 for every section; a reader verifies all
 * of it before building anything, so a damaged or hostile file gives
 * VINDEX_ERR_CORRUPT (a newer format version VINDEX_ERR_UNSUPPORTED, naming
 * both versions), never a crash, and never an allocation larger than the
 * file. Families written: IndexFlat, IndexIDMap, IndexIDMap2,
 * IndexIVFFlat, IndexIVFPQ, IndexIVFScalarQuantizer, IndexPQ,
 * IndexScalarQuantizer, IndexHNSWFlat, IndexHNSWSQ, IndexLSH, IndexRefine,
 * IndexRefineFlat, IndexPreTransform (with every transform), IndexPQFastScan,
 * IndexIVFPQFastScan, IndexHNSWPQ. */

/* Read the big arrays (Flat vectors, HNSW graphs and vectors, PQ / SQ / LSH
 * codes, IVF inverted lists) in place from a read-only mapping of the file
 * instead of copying them: opening costs no copy and the pages are shared.
 * Searches give the same results as after a copying read. Code arrays and
 * inverted lists are copied on their first change (an add, remove_ids or
 * merge copies the arrays it changes), so such an index stays fully usable.
 * Flat and HNSW storage is read-only where it is mapped: add and remove_ids on
 * a mapped Flat or HNSW index (or a composite over one) fail with
 * VINDEX_ERR_UNSUPPORTED naming the flag; reset drops the mapping. The file
 * must not be modified while the index lives (vindex_write never modifies a
 * file: it replaces it). */
#define VINDEX_IO_MMAP 1u

/* Writes ix to path atomically: into a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. A crash leaves either the
 * old file or the new one, never a part. VINDEX_ERR_IO with the system's
 * message on failure (the temporary file is removed). */
VINDEX_API vindex_status vindex_write(const vindex *ix, const char *path);

/* Reads an index written by vindex_write (flags: 0 or VINDEX_IO_MMAP). */
VINDEX_API vindex_status vindex_read(vindex **out, const char *path, unsigned flags);

/* The same bytes as the file, in memory. vindex_serialize allocates *buf
 * (*len bytes; free it with vindex_buffer_free). vindex_serialize_into writes
 * into the caller's buf of cap bytes; *len gets the size needed, and when cap
 * is smaller nothing is written and VINDEX_ERR_INVALID returned (so a call
 * with cap 0 asks for the size). */
VINDEX_API vindex_status vindex_serialize(const vindex *ix, void **buf, size_t *len);
VINDEX_API vindex_status vindex_serialize_into(const vindex *ix, void *buf, size_t cap,
                                               size_t *len);
VINDEX_API void vindex_buffer_free(void *buf);

/* Reads an index from len bytes at buf (any alignment; copied, never used in
 * place, so buf may be freed afterwards). */
VINDEX_API vindex_status vindex_deserialize(vindex **out, const void *buf, size_t len);

/* A cap on the memory one read (vindex_read, vindex_deserialize) may allocate,
 * in bytes, for every thread of the process; 0 (the default) means no cap
 * beyond the reader's own rule that no count in a file may ask for more than
 * the file's size justifies. A read that would pass the cap fails with
 * VINDEX_ERR_NOMEM and a message naming it, before the memory is taken. The
 * sum of the reading thread's allocations counts, temporary ones included;
 * parts of a mapped file used in place (VINDEX_IO_MMAP) do not. */
VINDEX_API void vindex_set_read_limit(size_t bytes);
VINDEX_API size_t vindex_get_read_limit(void);

/* The index an IndexIDMap / IndexIDMap2 wraps, still owned by it (for reading;
 * change it only through the wrapper). */
VINDEX_API vindex_status vindex_idmap_index(const vindex *ix, vindex **out);

#ifdef __cplusplus
}
#endif

#endif /* VINDEX_H */
