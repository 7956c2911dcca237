/*
 * HNSW internals shared by hnsw.c (structure, storage, parameters, validation),
 * hnsw_build.c (insertion), hnsw_search.c (k-NN, filtered and range search) and
 * hnsw_delete.c (removal with local repair). See the essay at the top of hnsw.c.
 */
#ifndef VX_HNSW_H
#define VX_HNSW_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../core/idhash.h"
#include "index.h"

typedef struct vx_mapping vx_mapping; /* io/format.h */
typedef struct vx_reader vx_reader;

/* ---- storage: where the vectors live and how distances are computed ------ */
/*
 * The graph code sees vectors only through this interface, so that other
 * encodings (SQ8, fp16, PQ: distances on codes, with an optional exact
 * re-rank) plug in without touching the graph. Every distance is a score,
 * smaller is nearer: squared L2, or the negated inner product.
 */
typedef struct vx_hnsw_store vx_hnsw_store;

typedef struct vx_hnsw_store_ops {
    const char *name;
    /* Room for cap vectors, keeping the first `keep`; unchanged on failure. */
    vindex_status (*reserve)(vx_hnsw_store *s, size_t cap, size_t keep);
    void (*set)(vx_hnsw_store *s, size_t slot, const float *x);
    void (*get)(const vx_hnsw_store *s, size_t slot, float *out);
    /* The form of query x the distance functions take (x itself, or an encoded
     * copy written to buf, which holds d floats). */
    const void *(*prepare)(const vx_hnsw_store *s, const float *x, void *buf);
    /* out[j] = score(query, slots[j]) for j < n; prefetches ahead itself. */
    void (*dist_many)(const vx_hnsw_store *s, const void *q, const uint32_t *slots, size_t n,
                      float *out);
    float (*dist_one)(const vx_hnsw_store *s, const void *q, uint32_t slot);
    /* score(vector i, vector j) */
    float (*dist_pair)(const vx_hnsw_store *s, uint32_t i, uint32_t j);
    void (*prefetch)(const vx_hnsw_store *s, uint32_t slot);
    size_t (*memory)(const vx_hnsw_store *s);
    /* Drops the vectors, keeps what training learnt. */
    void (*clear)(vx_hnsw_store *s);
    void (*destroy)(vx_hnsw_store *s);
    /* Persistence (hnsw_io.c): the family tag of an index with this storage,
     * and the storage's sections for n slots. read: into an empty store; in
     * place (pointers into the mapping, `borrowed` set) when mapped. */
    uint32_t family_tag;
    void (*write)(const vx_hnsw_store *s, vx_writer *w, size_t n);
    vindex_status (*read)(vx_hnsw_store *s, vx_reader *r, size_t n, bool mapped);
    /* Learns the encoding from n vectors (NULL: nothing to learn); all or
     * nothing. */
    vindex_status (*train)(vx_hnsw_store *s, size_t n, const float *x);
} vx_hnsw_store_ops;

struct vx_hnsw_store {
    const vx_hnsw_store_ops *ops;
    int d;
    vindex_metric metric;
    bool borrowed; /* the vectors lie in a mapped file: never freed or written */
    size_t query_bytes; /* what prepare() writes to its buffer, beyond 4d + 128 bytes */
};

/* For a store's reserve: *arr becomes a huge-page block of cap rows of
 * row_bytes, the first keep rows kept; unchanged on failure (NOMEM recorded). */
vindex_status vx_hnsw_store_regrow(void **arr, size_t cap, size_t keep, size_t row_bytes);

/* fp32 storage: vectors as they are. */
vx_hnsw_store *vx_hnsw_store_flat_new(int d, vindex_metric metric);

/* 8-bit uniform scalar quantizer (L2 only): one byte per dimension over the
 * range [vmin, vmin + vdiff] learnt by training; distances between codes in
 * integers, the query encoded the same way. */
vx_hnsw_store *vx_hnsw_store_sq8_new(int d);

/* IEEE half floats (hnsw_fp16.c): 2 bytes a dimension, L2 or inner product,
 * no training; distances on the codes against the fp32 query. */
vx_hnsw_store *vx_hnsw_store_fp16_new(int d, vindex_metric metric);

/* Product-quantizer codes (hnsw_pq.c, L2 only): pq_M bytes a vector, learnt by
 * training; asymmetric distances from the query's table, symmetric ones
 * between codes. Fails as vx_pq_init does for a bad (d, pq_M). */
vindex_status vx_hnsw_store_pq_new(int d, int pq_M, vx_hnsw_store **out);
/* The number of sub-quantizers of a PQ store. */
int vx_hnsw_store_pq_m(const vx_hnsw_store *s);

/* The storage of an HNSW index ("Flat", "SQ8", "fp16", "PQ"), or NULL when ix
 * is not one (for reverse_index_factory). With PQ, *pq_M gets its M. */
const char *vx_hnsw_storage(const vindex *ix, int *pq_M);

/* ---- per-search scratch ------------------------------------------------- */
/*
 * Everything a search or an insertion writes lives here, never in the index,
 * so that concurrent searches share no mutable state. Scratches are kept in a
 * small free list owned by the index and reused across calls; a search takes
 * one under a mutex (tens of nanoseconds against tens of microseconds).
 */
typedef struct vx_hnsw_scratch {
    struct vx_hnsw_scratch *next;
    uint16_t *visited; /* per slot: == epoch when visited in this search */
    size_t visited_cap;
    uint16_t epoch;
    /* The linear candidate pool: sorted by score, bit 31 of the slot marks
     * "expanded". */
    float *pool_d;
    uint32_t *pool_i;
    size_t pool_cap;
    /* Neighbour batches and candidate lists. */
    uint32_t *buf_i;
    float *buf_d;
    size_t buf_cap;
    void *qbuf; /* storage query state */
    size_t qbuf_cap;
} vx_hnsw_scratch;

/* ---- the index ---------------------------------------------------------- */

enum { VX_HNSW_MAX_LEVEL = 31 };
#define VX_HNSW_CHECKED 0x80000000u

typedef struct vx_hnsw {
    vindex base;
    int M, M0;            /* out-degree bound above level 0, and on level 0 (2M) */
    int ef_construction;
    int ef_search;
    double level_mult;    /* mL = 1 / ln(M) */
    uint64_t seed;
    uint64_t ninserted;   /* insertions so far: the level of the i-th comes from (seed, i) */
    vx_hnsw_store *store;

    size_t cap;           /* slots allocated */
    size_t nslots;        /* slots 0..nslots-1 have been used (live or free) */
    int8_t *levels;       /* per slot: top level, -1 for a free slot */
    uint32_t *links0;     /* per slot, M0 + 1 words: count, then neighbours */
    uint32_t **upper;     /* per slot: levels 1..top, M + 1 words each; NULL at level 0 */
    vindex_id *labels;    /* per slot */
    atomic_uchar *locks;  /* per slot: spin lock for parallel insertion */
    vx_idhash slot_of;    /* label -> slot */
    uint32_t *free_slots; /* stack of free slots, reused by later adds */
    size_t nfree, free_cap;
    vindex_id next_label; /* add() labels from here */

    int64_t entry;        /* slot of the entry point, -1 when empty */
    int max_level;        /* its level, -1 when empty */
    pthread_mutex_t entry_lock;

    pthread_mutex_t scratch_lock;
    vx_hnsw_scratch *scratch_free;

    /* Read with VINDEX_IO_MMAP: levels, links0, the upper lists, labels and
     * the vectors lie in this mapping; the index is read-only until reset. */
    vx_mapping *map;
} vx_hnsw;

static inline uint32_t *vx_hnsw_links(const vx_hnsw *h, uint32_t slot, int level)
{
    return level == 0 ? h->links0 + (size_t)slot * (size_t)(h->M0 + 1)
                      : h->upper[slot] + (size_t)(level - 1) * (size_t)(h->M + 1);
}

static inline int vx_hnsw_max_degree(const vx_hnsw *h, int level)
{
    return level == 0 ? h->M0 : h->M;
}

/* Sets the count of list ln (of `level`) to n and zeroes the words past the
 * n entries: unused words are always zero, so that a written index carries
 * no stale slots and the same graph always gives the same bytes. */
static inline void vx_hnsw_list_trim(const vx_hnsw *h, uint32_t *ln, int level, size_t n)
{
    ln[0] = (uint32_t)n;
    memset(ln + 1 + n, 0, ((size_t)vx_hnsw_max_degree(h, level) - n) * sizeof *ln);
}

static inline void vx_hnsw_lock(const vx_hnsw *h, uint32_t slot)
{
    atomic_uchar *l = &h->locks[slot];
    while (atomic_exchange_explicit(l, 1, memory_order_acquire))
        while (atomic_load_explicit(l, memory_order_relaxed))
            ;
}

static inline void vx_hnsw_unlock(const vx_hnsw *h, uint32_t slot)
{
    atomic_store_explicit(&h->locks[slot], 0, memory_order_release);
}

/* Scratch sized for this index (visited marks for cap slots, a pool of `ef`,
 * neighbour buffers of `nbuf`). NULL with NOMEM recorded. */
vx_hnsw_scratch *vx_hnsw_scratch_get(const vx_hnsw *h, size_t ef, size_t nbuf);
void vx_hnsw_scratch_put(const vx_hnsw *h, vx_hnsw_scratch *sc);
/* A fresh epoch for the visited marks (clearing them when it wraps). */
uint16_t vx_hnsw_new_epoch(vx_hnsw_scratch *sc);

/* ---- search primitives (hnsw_search.c) ---------------------------------- */

/* Greedy descent from the entry point down to level `stop` + 1: the slot
 * nearest to q found, and its score. locked: read lists under the node locks
 * (during a parallel build). */
uint32_t vx_hnsw_greedy(const vx_hnsw *h, vx_hnsw_scratch *sc, const void *q, uint32_t ep,
                        float *ep_d, int top, int stop, bool locked);

/* Beam search on one level from (ep, ep_d) with a pool of ef entries; the pool
 * is left in sc->pool_d / pool_i (sorted, CHECKED bits set) and its size
 * returned. */
size_t vx_hnsw_search_level(const vx_hnsw *h, vx_hnsw_scratch *sc, const void *q, uint32_t ep,
                            float ep_d, int level, size_t ef, bool locked);

/* The neighbour-selection heuristic (Malkov & Yashunin, algorithm 4, without
 * extending or keeping pruned connections, as hnswlib and Faiss): cand[0..n)
 * sorted nearest first by cd (score to the base point); keeps a candidate
 * unless an already kept one is nearer to it than the base point is. Compacts
 * the kept ones (at most m) to the front; returns how many. */
size_t vx_hnsw_select(const vx_hnsw *h, uint32_t *cand, float *cd, size_t n, size_t m);

/* Sorts (cd, cand) pairs by score, then slot. */
void vx_hnsw_sort_candidates(uint32_t *cand, float *cd, size_t n);

/* ---- lifecycle ---------------------------------------------------------- */

vindex_status vx_hnsw_add(vindex *ix, size_t n, const float *x, const vindex_id *ids);
vindex_status vx_hnsw_search(const vindex *ix, size_t nq, const float *q, size_t k,
                             const vindex_search_params *p, float *distances, vindex_id *labels);
vindex_status vx_hnsw_range_search(const vindex *ix, size_t nq, const float *q, float radius,
                                   const vindex_search_params *p, vx_range_list *lists);
vindex_status vx_hnsw_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed);

/* Links `slot` (its vector already stored, its level set, upper lists
 * allocated) into the graph. x: its vector. Safe to run concurrently for
 * different slots. */
void vx_hnsw_insert(vx_hnsw *h, vx_hnsw_scratch *sc, uint32_t slot, const float *x);

/* Adds `slot` to the list of `node` at `level`, pruning with the heuristic
 * when the list is full. Caller holds node's lock when building in parallel. */
void vx_hnsw_add_link(vx_hnsw *h, vx_hnsw_scratch *sc, uint32_t node, uint32_t slot, int level);

/* Finds the nodes that cannot be reached from the entry point on level 0 and
 * links each again as if inserted (a search for its vector, the heuristic,
 * links both ways). seen: nslots bytes, queue: nslots slots, vec: d floats.
 * Returns how many were relinked. Single-threaded. */
size_t vx_hnsw_relink_unreachable(vx_hnsw *h, vx_hnsw_scratch *sc, uint8_t *seen,
                                  uint32_t *queue, float *vec);

/* Persistence (hnsw_io.c); the readers are in io/registry.h. */
vindex_status vx_hnsw_write(const vindex *ix, vx_writer *w);
/* UNSUPPORTED naming op when h was read with VINDEX_IO_MMAP. */
vindex_status vx_hnsw_refuse_mapped(const vx_hnsw *h, const char *op);

#endif
