/*
 * The inside of an index: a common header (struct vindex) that every family
 * embeds as its first member, and an ops table through which the public API
 * dispatches after validating arguments once (api.c). A family leaves an op NULL
 * when it lacks it; the API then answers VINDEX_ERR_UNSUPPORTED with a message.
 *
 * Ops receive arguments already checked: non-NULL buffers, n > 0, finite
 * vectors, k >= 1, sizes that do not overflow, an index that is trained when the
 * op needs it and not empty for searches. Composite indexes (IDMap, and later
 * IVF, Refine, PreTransform) call their parts through the vx_index_* helpers
 * below, which skip the validation.
 */
#ifndef VX_INDEX_H
#define VX_INDEX_H

#include <pthread.h>
#include <stdbool.h>

#include "../core/range.h"
#include "vindex.h"

typedef struct vx_writer vx_writer; /* io/format.h */

typedef struct vx_index_ops {
    const char *type_name; /* Faiss class name */
    /* NULL: the family needs no training (train is a no-op). */
    vindex_status (*train)(vindex *ix, size_t n, const float *x);
    /* ids == NULL: labels continue from ntotal. ids != NULL only when
     * supports_ids. Must add all n or nothing. */
    vindex_status (*add)(vindex *ix, size_t n, const float *x, const vindex_id *ids);
    bool supports_ids;
    /* For families that take ids: whether the labels are now exactly
     * 0..ntotal-1, so that the index can serve as an IVF coarse quantizer
     * (whose labels must be list numbers). NULL: never. */
    bool (*labels_are_positions)(const vindex *ix);
    vindex_status (*search)(const vindex *ix, size_t nq, const float *q, size_t k,
                            const vindex_search_params *p, float *distances, vindex_id *labels);
    /* Appends each query's hits to lists[i]; api.c sorts and packs them. */
    vindex_status (*range_search)(const vindex *ix, size_t nq, const float *q, float radius,
                                  const vindex_search_params *p, vx_range_list *lists);
    vindex_status (*reconstruct)(const vindex *ix, vindex_id id, float *out);
    vindex_status (*remove_ids)(vindex *ix, const vindex_selector *sel, size_t *n_removed);
    void (*reset)(vindex *ix);
    void (*destroy)(vindex *ix);
    size_t (*memory_bytes)(const vindex *ix);
    /* NULL or VINDEX_ERR_NOT_FOUND for names the family does not know. */
    vindex_status (*set_param)(vindex *ix, const char *name, double value);
    vindex_status (*get_param)(const vindex *ix, const char *name, double *value);
    /* Persistence (io/format.h, docs/FORMAT.md): writes the index's sections,
     * starting with vx_io_write_index_header(w, ix, its family tag). NULL: the
     * family cannot be written yet. Its reader is registered by that tag in
     * io/registry.c. */
    vindex_status (*write)(const vindex *ix, vx_writer *w);
} vx_index_ops;

struct vindex {
    const vx_index_ops *ops;
    int d;
    vindex_metric metric;
    int64_t ntotal;
    bool is_trained;
    /* Readers-writer lock of the public API (include/vindex.h, "Thread
     * safety"): the vindex_* entry points take it, shared for reads and
     * exclusive for changes, and release it before returning. Ops and the
     * vx_index_* helpers below never take it: a composite's parts are guarded
     * by the composite's lock. Writer-preferring and not recursive, so no code
     * holding it may call a public function on the same index. */
    pthread_rwlock_t lock;
};

/* Fills the common header and initialises the lock (vindex_free destroys it). */
void vx_index_init(vindex *ix, const vx_index_ops *ops, int d, vindex_metric metric,
                   bool is_trained);

/* The public API's locking, for entry points outside api.c (a family's own
 * vindex_* functions, io): shared around anything that only reads the index,
 * exclusive around anything that changes it. ix must not be NULL. */
void vx_index_lock_shared(const vindex *ix);
void vx_index_lock_exclusive(vindex *ix);
void vx_index_unlock(const vindex *ix);
/* Both indexes exclusively, in address order (merges); a == b locks once. */
void vx_index_lock_pair(vindex *a, vindex *b);
void vx_index_unlock_pair(vindex *a, vindex *b);

/* Unchecked dispatch for composites; an op that is NULL gives UNSUPPORTED. */
vindex_status vx_index_train(vindex *ix, size_t n, const float *x);
vindex_status vx_index_add(vindex *ix, size_t n, const float *x, const vindex_id *ids);
vindex_status vx_index_search(const vindex *ix, size_t nq, const float *q, size_t k,
                              const vindex_search_params *p, float *distances, vindex_id *labels);
vindex_status vx_index_range_search(const vindex *ix, size_t nq, const float *q, float radius,
                                    const vindex_search_params *p, vx_range_list *lists);
vindex_status vx_index_reconstruct(const vindex *ix, vindex_id id, float *out);
vindex_status vx_index_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed);
vindex_status vx_index_unsupported(const vindex *ix, const char *op);

/* n vectors of dimension d at x: non-NULL, n*d*4 bytes addressable, all finite;
 * else an error naming op, what ("query", "vector", ...) and the bad value. */
vindex_status vx_check_vectors(int d, const char *op, const char *what, size_t n, const float *x);

/* Checks the arguments every constructor takes; sets *out = NULL. */
vindex_status vx_check_new_args(vindex **out, int d, vindex_metric metric, const char *what);

/* The index an IDMap/IDMap2 wraps (ix must be one). */
const vindex *vx_idmap_sub(const vindex *ix);

/* Fills nq rows of k results with the "no result" padding for the metric. */
void vx_fill_empty_results(size_t nq, size_t k, vindex_metric metric, float *distances,
                           vindex_id *labels);

#endif
