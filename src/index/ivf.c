/*
 * The IVF core: coarse quantizer, inverted lists, direct map and the nprobe
 * scan loop, shared by every IVF family (see ivf.h for the family interface).
 *
 * Search runs in blocks of queries. For each block the coarse search gives
 * every query its nprobe lists: the centroids' sketches (ivf_coarse.h) where
 * they apply and pay, else one batched k-NN call to the quantizer (BLAS for
 * batches, the SIMD kernels for a few queries). Then one of two loops:
 *
 *   by list   The (query, list) pairs are grouped by list and each probed list
 *             is one task: its codes are read once for all the queries of the
 *             block that probe it, scored with the family's score_tile (several
 *             queries per pass over the codes), and pushed into per-thread
 *             heaps that are merged at the end. On Fashion-MNIST with nlist
 *             1024 and nprobe 8, a batch of 1000 queries visits each list about
 *             8 times; reading it once instead of 8 times is what makes the
 *             batch fast. A single query takes this path too, so its lists
 *             are scanned in parallel.
 *   by query  Each query is one task that scans its lists in turn with the
 *             family's scanner. For families without score_tile when the block
 *             has enough queries to keep every thread busy. The queries are
 *             taken in an order that puts those probing the same lists next
 *             to each other (scan_order), so that their codes are reused
 *             from cache.
 *
 * Both loops give bit-identical results whatever the thread count: a
 * (query, code) score does not depend on the path, and the heaps keep the k
 * best by (score, id), a total order, so the merge order does not matter.
 */
#include "ivf.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/chain.h"
#include "../core/error.h"
#include "../core/selector.h"
#include "../core/threads.h"
#include "../core/topk.h"
#include "../io/format.h"
#include "../quant/kmeans.h"
#include "flat.h"
#include "ivf_coarse.h"

/* ---- construction ------------------------------------------------------- */

vx_ivf *vx_ivf_of(const vindex *ix, const char *op)
{
    if (!ix) {
        vx_fail(VINDEX_ERR_INVALID, "%s: index is NULL", op);
        return NULL;
    }
    if (ix->ops->train != vx_ivf_train) {
        vx_fail(VINDEX_ERR_UNSUPPORTED, "%s: %s is not an IVF index", op, ix->ops->type_name);
        return NULL;
    }
    return (vx_ivf *)ix;
}

vindex_status vx_ivf_init(vx_ivf *ivf, const vx_ivf_family *fam, vindex *quantizer, int d,
                          size_t nlist, vindex_metric metric)
{
    const char *what = fam->ops->type_name;
    if (!quantizer)
        return vx_fail(VINDEX_ERR_INVALID, "%s: the quantizer is NULL", what);
    if (quantizer->d != d)
        return vx_fail(VINDEX_ERR_DIM, "%s: quantizer dimension %d != index dimension %d", what,
                       quantizer->d, d);
    bool positions = !quantizer->ops->supports_ids ||
                     (quantizer->ops->labels_are_positions &&
                      quantizer->ops->labels_are_positions(quantizer));
    if (!positions || !quantizer->ops->search)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "%s: %s cannot be a coarse quantizer (its labels must be positions)",
                       what, quantizer->ops->type_name);
    if (nlist == 0 || nlist > INT32_MAX)
        return vx_fail(VINDEX_ERR_INVALID, "%s: nlist %zu must be in 1..%d", what, nlist,
                       INT32_MAX);
    ivf->lists = vx_calloc(nlist, sizeof *ivf->lists);
    if (!ivf->lists)
        return VINDEX_ERR_NOMEM;
    vx_index_init(&ivf->base, fam->ops, d, metric,
                  quantizer->is_trained && (size_t)quantizer->ntotal == nlist);
    ivf->fam = fam;
    ivf->quantizer = quantizer;
    ivf->nlist = nlist;
    ivf->nprobe = 1;
    ivf->dm_kind = VINDEX_DIRECT_MAP_NONE;
    vx_idhash_init(&ivf->dm_hash);
    vindex_kmeans_params_init(&ivf->cp);
    ivf->cp.niter = 10; /* Faiss's Level1Quantizer: large clusterings, few iterations */
    if (metric == VINDEX_METRIC_INNER_PRODUCT)
        ivf->cp.spherical = 1;
    vx_ivf_coarse_build(ivf); /* a quantizer trained beforehand */
    return VINDEX_OK;
}

/* ---- direct map --------------------------------------------------------- */

static inline int64_t dm_pack(size_t list, size_t offset)
{
    return (int64_t)(((uint64_t)list << 32) | (uint64_t)offset);
}
static inline size_t dm_list(int64_t v) { return (size_t)((uint64_t)v >> 32); }
static inline size_t dm_offset(int64_t v) { return (size_t)((uint64_t)v & 0xffffffffu); }

static void dm_clear(vx_ivf *ivf)
{
    vx_free(ivf->dm_array);
    ivf->dm_array = NULL;
    ivf->dm_cap = 0;
    vx_idhash_free(&ivf->dm_hash);
    vx_idhash_init(&ivf->dm_hash);
}

/* ---- inverted lists ----------------------------------------------------- */

/* Entry access that works for plain and blocked families (ivf.h, `block`). */
static inline void entry_put(const vx_ivf *ivf, uint8_t *codes, size_t slot, const uint8_t *code)
{
    if (ivf->fam->block)
        ivf->fam->put_code(codes, ivf->code_size, slot, code);
    else
        memcpy(codes + slot * ivf->code_size, code, ivf->code_size);
}

/* A pointer to entry slot's code: in place, or copied into buf (code_size). */
static inline const uint8_t *entry_get(const vx_ivf *ivf, const uint8_t *codes, size_t slot,
                                       uint8_t *buf)
{
    if (!ivf->fam->block)
        return codes + slot * ivf->code_size;
    ivf->fam->get_code(codes, ivf->code_size, slot, buf);
    return buf;
}

/* Makes room for extra[l] more entries in every list l, all or nothing. */
static vindex_status reserve_lists(vx_ivf *ivf, const size_t *extra)
{
    const size_t nlist = ivf->nlist, cs = ivf->code_size;
    uint8_t **codes = vx_calloc(nlist, sizeof *codes);
    vindex_id **ids = vx_calloc(nlist, sizeof *ids);
    size_t *caps = vx_calloc(nlist, sizeof *caps);
    vindex_status st = VINDEX_OK;
    if (!codes || !ids || !caps) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    for (size_t l = 0; l < nlist; l++) {
        vx_ivf_list *L = &ivf->lists[l];
        if (extra[l] == 0 || L->n + extra[l] <= L->cap)
            continue;
        size_t need = L->n + extra[l], cap = L->cap * 2 > need ? L->cap * 2 : need;
        if (cap < 8)
            cap = 8;
        if (ivf->fam->block) /* whole blocks, unused slots zero */
            cap = (cap + ivf->fam->block - 1) / ivf->fam->block * ivf->fam->block;
        codes[l] = ivf->fam->block ? vx_calloc(cap, cs) : vx_alloc(cap, cs);
        ids[l] = vx_alloc(cap, sizeof(vindex_id));
        caps[l] = cap;
        if (!codes[l] || !ids[l]) {
            st = vx_fail(VINDEX_ERR_NOMEM, "add: out of memory growing inverted list %zu to %zu "
                         "entries", l, cap);
            goto done;
        }
    }
    for (size_t l = 0; l < nlist; l++) {
        if (!caps[l])
            continue;
        vx_ivf_list *L = &ivf->lists[l];
        if (L->n) {
            memcpy(codes[l], L->codes, vx_ivf_codes_bytes(ivf, L->n));
            memcpy(ids[l], L->ids, L->n * sizeof(vindex_id));
        }
        if (L->cap) { /* borrowed arrays are the mapping's */
            vx_free(L->codes);
            vx_free(L->ids);
        }
        L->codes = codes[l];
        L->ids = ids[l];
        L->cap = caps[l];
        codes[l] = NULL;
        ids[l] = NULL;
    }
done:
    if (codes && ids)
        for (size_t l = 0; l < nlist; l++) {
            vx_free(codes[l]);
            vx_free(ids[l]);
        }
    vx_free(codes);
    vx_free(ids);
    vx_free(caps);
    return st;
}

/* The nearest list of each of n vectors. */
/* The nearest list of each of the n vectors x. sketched: through the
 * centroids' sketches when they apply (add; during training they belong to
 * the centroids being replaced), the quantizer for what they do not cover. */
static vindex_status assign_lists(const vx_ivf *ivf, size_t n, const float *x, int64_t *lists,
                                  bool sketched, const char *op)
{
    float *dis = vx_alloc(n, sizeof *dis);
    if (!dis)
        return VINDEX_ERR_NOMEM;
    const size_t d = (size_t)ivf->base.d;
    size_t done = sketched ? vx_ivf_coarse_search(ivf, n, x, 1, dis, lists) : 0;
    vindex_status st = done == n ? VINDEX_OK
                                 : vx_index_search(ivf->quantizer, n - done, x + done * d, 1,
                                                   NULL, dis + done, lists + done);
    vx_free(dis);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++)
        if (lists[i] < 0 || (size_t)lists[i] >= ivf->nlist)
            return vx_fail(VINDEX_ERR_INVALID,
                           "%s: the coarse quantizer gave vector %zu no list (it holds %lld "
                           "centroids for nlist %zu)",
                           op, i, (long long)ivf->quantizer->ntotal, ivf->nlist);
    return VINDEX_OK;
}

/* ---- train -------------------------------------------------------------- */

vindex_status vx_ivf_copy_centroids(const vx_ivf *ivf, float **out)
{
    const size_t d = (size_t)ivf->base.d;
    *out = NULL;
    float *cent = vx_alloc(ivf->nlist, d * sizeof(float));
    if (!cent)
        return VINDEX_ERR_NOMEM;
    vindex_status st = VINDEX_OK;
    for (size_t l = 0; l < ivf->nlist && !st; l++)
        st = vx_index_reconstruct(ivf->quantizer, (vindex_id)l, cent + l * d);
    if (st) {
        vx_free(cent);
        return st;
    }
    *out = cent;
    return VINDEX_OK;
}

vindex_status vx_ivf_train(vindex *ix, size_t n, const float *x)
{
    vx_ivf *ivf = (vx_ivf *)ix;
    vindex *q = ivf->quantizer;
    vindex_status st;
    if (ix->ntotal > 0)
        return vx_fail(VINDEX_ERR_INVALID,
                       "train: %s already holds %lld vectors; reset() it before training again",
                       ix->ops->type_name, (long long)ix->ntotal);
    if (n == 0)
        return vx_fail(VINDEX_ERR_INVALID, "train: no training vectors");
    if (q->is_trained && (size_t)q->ntotal == ivf->nlist) {
        vx_log(0, "train: the coarse quantizer already holds %zu centroids; no k-means",
               ivf->nlist);
    } else {
        if (n < ivf->nlist)
            return vx_fail(VINDEX_ERR_INVALID,
                           "train: %zu training vectors are fewer than nlist = %zu (k-means "
                           "needs at least one point per list)",
                           n, ivf->nlist);
        if ((st = vx_kmeans_check_params(&ivf->cp, "train")))
            return st;
        float *centroids = vx_alloc(ivf->nlist, (size_t)ix->d * sizeof(float));
        if (!centroids)
            return VINDEX_ERR_NOMEM;
        st = vx_kmeans(n, ix->d, x, ivf->nlist, &ivf->cp, q->metric, centroids, NULL, NULL);
        if (!st) {
            if (q->ops->reset)
                q->ops->reset(q);
            st = vx_index_train(q, ivf->nlist, centroids);
            if (!st)
                st = vx_index_add(q, ivf->nlist, centroids, NULL);
        }
        vx_free(centroids);
        if (st)
            return st;
    }
    if (ivf->fam->train_codec) {
        const size_t max = ivf->fam->train_codec_max, m = max && n > max ? max : n;
        float *sample = NULL;
        if (m < n) {
            if (!(sample = vx_alloc(m, (size_t)ix->d * sizeof(float))))
                return VINDEX_ERR_NOMEM;
            for (size_t i = 0; i < m; i++)
                memcpy(sample + i * (size_t)ix->d, x + (i * n / m) * (size_t)ix->d,
                       (size_t)ix->d * sizeof(float));
        }
        const float *xs = sample ? sample : x;
        int64_t *lists = vx_alloc(m, sizeof *lists);
        st = lists ? assign_lists(ivf, m, xs, lists, false, "train") : VINDEX_ERR_NOMEM;
        if (!st)
            st = ivf->fam->train_codec(ivf, m, xs, lists);
        vx_free(lists);
        vx_free(sample);
        if (st)
            return st;
    }
    ix->is_trained = true;
    vx_ivf_coarse_build(ivf);
    return VINDEX_OK;
}

/* ---- add ---------------------------------------------------------------- */

enum { ENCODE_CHUNK = 256 };

typedef struct add_job {
    const vx_ivf *ivf;
    size_t n;
    const float *x;
    const int64_t *lists;
    const size_t *slot; /* offset of vector i in its list */
    uint8_t *scratch;   /* nthreads x ENCODE_CHUNK codes */
} add_job;

static void encode_task(void *ctx, size_t task, int worker)
{
    add_job *a = ctx;
    const vx_ivf *ivf = a->ivf;
    const size_t cs = ivf->code_size, d = (size_t)ivf->base.d;
    size_t i0 = task * ENCODE_CHUNK, m = a->n - i0 < ENCODE_CHUNK ? a->n - i0 : ENCODE_CHUNK;
    uint8_t *buf = a->scratch + (size_t)worker * ENCODE_CHUNK * cs;
    ivf->fam->encode(ivf, m, a->x + i0 * d, a->lists + i0, buf);
    for (size_t i = 0; i < m; i++) {
        const vx_ivf_list *L = &ivf->lists[a->lists[i0 + i]];
        entry_put(ivf, L->codes, a->slot[i0 + i], buf + i * cs);
    }
}

vindex_status vx_ivf_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    vx_ivf *ivf = (vx_ivf *)ix;
    const size_t nlist = ivf->nlist, at = (size_t)ix->ntotal;
    int64_t *lists = NULL;
    size_t *count = NULL, *slot = NULL, hashed = 0;
    uint8_t *scratch = NULL;
    vindex_status st = VINDEX_OK;
    int nthreads = vx_num_threads();

    /* The direct map's conditions, checked before anything changes. */
    if (ids)
        for (size_t i = 0; i < n; i++)
            if (ids[i] == -1)
                return vx_fail(VINDEX_ERR_INVALID,
                               "add_with_ids: id -1 (at %zu) is reserved for 'no result'", i);
    if (ivf->dm_kind == VINDEX_DIRECT_MAP_ARRAY) {
        if (ids)
            for (size_t i = 0; i < n; i++)
                if (ids[i] != (vindex_id)(at + i))
                    return vx_fail(VINDEX_ERR_INVALID,
                                   "add_with_ids: the array direct map needs ids %zu.. in order "
                                   "(got %lld at %zu); use VINDEX_DIRECT_MAP_HASH for other ids",
                                   at, (long long)ids[i], i);
        if (at + n > ivf->dm_cap) {
            size_t cap = ivf->dm_cap * 2 > at + n ? ivf->dm_cap * 2 : at + n;
            int64_t *grown = vx_realloc(ivf->dm_array, at, cap, sizeof *grown);
            if (!grown)
                return VINDEX_ERR_NOMEM;
            ivf->dm_array = grown;
            ivf->dm_cap = cap;
        }
    } else if (ivf->dm_kind == VINDEX_DIRECT_MAP_HASH) {
        if (vx_idhash_reserve(&ivf->dm_hash, at + n) != VINDEX_OK)
            return vx_fail(VINDEX_ERR_NOMEM, "add: out of memory for the direct map");
        for (; hashed < n; hashed++) {
            vindex_id id = ids ? ids[hashed] : (vindex_id)(at + hashed);
            if (id == VX_IDHASH_EMPTY || vx_idhash_get(&ivf->dm_hash, id, NULL)) {
                st = vx_fail(VINDEX_ERR_INVALID,
                             "add: id %lld (at %zu) is already in the index, and the hash "
                             "direct map needs unique ids",
                             (long long)id, hashed);
                goto done;
            }
            vx_idhash_put(&ivf->dm_hash, id, -1); /* the real entry is set below */
        }
    }

    lists = vx_alloc(n, sizeof *lists);
    count = vx_calloc(nlist, sizeof *count);
    slot = vx_alloc(n, sizeof *slot);
    scratch = vx_alloc((size_t)nthreads * ENCODE_CHUNK, ivf->code_size);
    if (!lists || !count || !slot || !scratch) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    if ((st = assign_lists(ivf, n, x, lists, true, ids ? "add_with_ids" : "add")))
        goto done;
    for (size_t i = 0; i < n; i++)
        count[lists[i]]++;
    if ((st = reserve_lists(ivf, count)))
        goto done;

    /* Nothing can fail from here on. Entries go to their lists in input order. */
    memset(count, 0, nlist * sizeof *count);
    for (size_t i = 0; i < n; i++) {
        size_t l = (size_t)lists[i];
        vx_ivf_list *L = &ivf->lists[l];
        size_t off = L->n + count[l]++;
        vindex_id id = ids ? ids[i] : (vindex_id)(at + i);
        slot[i] = off;
        L->ids[off] = id;
        if (ivf->dm_kind == VINDEX_DIRECT_MAP_ARRAY)
            ivf->dm_array[at + i] = dm_pack(l, off);
        else if (ivf->dm_kind == VINDEX_DIRECT_MAP_HASH)
            vx_idhash_put(&ivf->dm_hash, id, dm_pack(l, off));
    }
    add_job a = {ivf, n, x, lists, slot, scratch};
    vx_parallel_for((n + ENCODE_CHUNK - 1) / ENCODE_CHUNK, nthreads, encode_task, &a);
    for (size_t l = 0; l < nlist; l++)
        ivf->lists[l].n += count[l];
    ix->ntotal += (int64_t)n;
    hashed = 0;

done:
    if (st && ivf->dm_kind == VINDEX_DIRECT_MAP_HASH)
        while (hashed-- > 0) /* undo: the index stays as it was */
            vx_idhash_remove(&ivf->dm_hash, ids ? ids[hashed] : (vindex_id)(at + hashed));
    vx_free(lists);
    vx_free(count);
    vx_free(slot);
    vx_free(scratch);
    return st;
}

/* ---- search ------------------------------------------------------------- */

enum {
    TILE_QUERIES = 32,      /* queries scored together against one list */
    HEAP_BUDGET = 1 << 22,  /* per-thread heap entries per query block (by list) */
    MIN_QUERY_BLOCK = 64,
    /* Up to this many queries, a family's search_probed (which reads less of
     * each list per query) beats reading lists once for several queries. */
    PROBED_MAX_QUERIES = 4,
};

typedef struct search_job {
    const vx_ivf *ivf;
    const float *q; /* the block's queries */
    size_t nq, k, nprobe;
    size_t qb; /* the most queries in a block */
    const vindex_selector *sel;
    int nthreads;
    /* coarse results, nq x nprobe */
    float *cdis;
    vindex_id *cidx;
    float cscore_sign; /* turns coarse distances into heap scores */
    /* per-thread scanner state and scratch */
    uint8_t *scanners;
    size_t scanner_stride;
    size_t *scanner_query; /* by list without tiles: the query the scanner holds */
    float *scratch;        /* per thread: TILE_QUERIES x code block scores */
    float *qbuf;           /* per thread: TILE_QUERIES x d gathered queries */
    size_t code_block;     /* codes scored per tile */
    /* results: worker w's heaps at heap_dis[w] (nq x k); worker 0 writes the output */
    float **heap_dis;
    vindex_id **heap_ids;
    /* by list: pairs grouped by list */
    size_t *pair_start; /* nlist + 1 */
    uint32_t *pair_q;   /* query of each pair (increasing within a list) */
    /* by query: the order in which the block's queries are scanned (NULL: as
     * given), grouped by their nearest list */
    uint32_t *order;
    size_t *active;     /* probed non-empty lists */
    size_t nactive;
    /* range search */
    float radius;
    vx_range_list *rlists;
    atomic_int status;
} search_job;

static inline void *scanner_of(const search_job *j, int worker)
{
    return j->scanners + (size_t)worker * j->scanner_stride;
}

/* Offers n scores of codes with these ids to a heap. */
static inline void push_scores(float *hd, vindex_id *hi, size_t k, const float *s,
                               const vindex_id *ids, size_t n, const vindex_selector *sel)
{
    float threshold = hd[0];
    for (size_t j = 0; j < n; j++) {
        if (s[j] > threshold)
            continue;
        if (sel && !vindex_selector_contains(sel, ids[j]))
            continue;
        vx_heap_push(hd, hi, k, s[j], ids[j]);
        threshold = hd[0];
    }
}

/* Scans one list for one query with the scanner (the caller set the query). */
static void scan_list_knn(const search_job *j, void *scanner, size_t list, float cscore,
                          float *hd, vindex_id *hi, float *buf)
{
    const vx_ivf *ivf = j->ivf;
    const vx_ivf_list *L = &ivf->lists[list];
    ivf->fam->set_list(scanner, (int64_t)list, cscore);
    for (size_t off = 0; off < L->n; off += VX_IVF_SCAN_BLOCK) {
        size_t m = L->n - off < VX_IVF_SCAN_BLOCK ? L->n - off : VX_IVF_SCAN_BLOCK;
        ivf->fam->scores(scanner, m, L->codes + off * ivf->code_size, buf);
        push_scores(hd, hi, j->k, buf, L->ids + off, m, j->sel);
    }
}

static void by_query_task(void *ctx, size_t t, int worker)
{
    search_job *j = ctx;
    const size_t i = j->order ? j->order[t] : t;
    const vx_ivf *ivf = j->ivf;
    void *scanner = scanner_of(j, worker);
    float *buf = j->scratch + (size_t)worker * TILE_QUERIES * j->code_block;
    float *hd = j->heap_dis[0] + i * j->k;
    vindex_id *hi = j->heap_ids[0] + i * j->k;
    const float *query = j->q + i * (size_t)ivf->base.d;
    if (j->nq <= PROBED_MAX_QUERIES && ivf->fam->search_probed &&
        ivf->fam->search_probed(ivf, query, j->nprobe, j->cidx + i * j->nprobe, j->k, j->sel, hd,
                                hi))
        return;
    ivf->fam->set_query(scanner, query);
    for (size_t r = 0; r < j->nprobe; r++) {
        vindex_id list = j->cidx[i * j->nprobe + r];
        if (ivf->fam->prefetch && r + 1 < j->nprobe && j->cidx[i * j->nprobe + r + 1] >= 0) {
            const vx_ivf_list *N = &ivf->lists[j->cidx[i * j->nprobe + r + 1]];
            ivf->fam->prefetch(scanner, j->cidx[i * j->nprobe + r + 1], N->codes,
                               vx_ivf_codes_bytes(ivf, N->n));
        }
        if (list < 0 || ivf->lists[list].n == 0)
            continue;
        scan_list_knn(j, scanner, (size_t)list, j->cscore_sign * j->cdis[i * j->nprobe + r], hd,
                      hi, buf);
    }
}

/* The coarse score of query qi for list `list` (looked up among its probes). */
static float coarse_score(const search_job *j, size_t qi, size_t list)
{
    for (size_t r = 0; r < j->nprobe; r++)
        if ((size_t)j->cidx[qi * j->nprobe + r] == list)
            return j->cscore_sign * j->cdis[qi * j->nprobe + r];
    return 0;
}

static void by_list_task(void *ctx, size_t task, int worker)
{
    search_job *j = ctx;
    const vx_ivf *ivf = j->ivf;
    const size_t d = (size_t)ivf->base.d, cs = ivf->code_size, k = j->k;
    const size_t list = j->active[task];
    const vx_ivf_list *L = &ivf->lists[list];
    const uint32_t *qs = j->pair_q + j->pair_start[list];
    const size_t m = j->pair_start[list + 1] - j->pair_start[list];
    float *hdis = j->heap_dis[worker];
    vindex_id *hids = j->heap_ids[worker];
    float *buf = j->scratch + (size_t)worker * TILE_QUERIES * j->code_block;

    if (!ivf->fam->score_tile) {
        void *scanner = scanner_of(j, worker);
        for (size_t a = 0; a < m; a++) {
            size_t qi = qs[a];
            if (j->scanner_query[worker] != qi) {
                ivf->fam->set_query(scanner, j->q + qi * d);
                j->scanner_query[worker] = qi;
            }
            scan_list_knn(j, scanner, list, coarse_score(j, qi, list), hdis + qi * k,
                          hids + qi * k, buf);
        }
        return;
    }
    float *qbuf = j->qbuf + (size_t)worker * TILE_QUERIES * d;
    for (size_t g = 0; g < m; g += TILE_QUERIES) {
        size_t mg = m - g < TILE_QUERIES ? m - g : TILE_QUERIES;
        const float *qrows;
        if (mg == 1) {
            qrows = j->q + qs[g] * d;
        } else {
            for (size_t a = 0; a < mg; a++)
                memcpy(qbuf + a * d, j->q + qs[g + a] * d, d * sizeof(float));
            qrows = qbuf;
        }
        for (size_t off = 0; off < L->n; off += j->code_block) {
            size_t nb = L->n - off < j->code_block ? L->n - off : j->code_block;
            ivf->fam->score_tile(ivf, (int64_t)list, qrows, mg, L->codes + off * cs, nb, buf);
            for (size_t a = 0; a < mg; a++) {
                size_t qi = qs[g + a];
                push_scores(hdis + qi * k, hids + qi * k, k, buf + a * nb, L->ids + off, nb,
                            j->sel);
            }
        }
    }
}

/* Groups the block's pairs by list, and lists the probed non-empty ones. */
static void group_pairs(search_job *j)
{
    vx_group_by_key(j->nq, j->nprobe, j->cidx, j->ivf->nlist, j->pair_start, j->pair_q);
    j->nactive = 0;
    for (size_t l = 0; l < j->ivf->nlist; l++)
        if (j->pair_start[l + 1] > j->pair_start[l] && j->ivf->lists[l].n)
            j->active[j->nactive++] = l;
}

/* Ordering costs about (pairs) x (queries per list); above this many queries
 * per probed list on average, queries are only grouped by nearest list. */
enum { CHAIN_MAX_PER_LIST = 64 };

/* Queries that probe the same lists, scanned one after another, find those
 * lists' codes still in cache (core/chain.h; measured on IVF1024,PQ392x4fs,
 * nprobe 8, 1,000 Fashion-MNIST queries: 48.4 -> 45.8 us per query). Any
 * order gives the same results: each query has its own heap. Leaves j->order
 * NULL (the given order) for few queries. */
static vindex_status scan_order(search_job *j)
{
    if (j->nq < 3 || j->nq > UINT32_MAX)
        return VINDEX_OK;
    if (!j->order && !(j->order = vx_alloc(j->qb, sizeof *j->order)))
        return VINDEX_ERR_NOMEM;
    if (!vx_chain_order(j->nq, j->nprobe, j->cidx, j->ivf->nlist, CHAIN_MAX_PER_LIST,
                        j->order))
        return VINDEX_ERR_NOMEM;
    return VINDEX_OK;
}

static size_t effective_nprobe(const vx_ivf *ivf, const vindex_search_params *p)
{
    size_t nprobe = p && p->nprobe > 0 ? (size_t)p->nprobe : ivf->nprobe;
    return nprobe < ivf->nlist ? nprobe : ivf->nlist;
}

static void search_job_free(search_job *j)
{
    vx_free(j->cdis);
    vx_free(j->cidx);
    vx_free(j->scanners);
    vx_free(j->scanner_query);
    vx_free(j->scratch);
    vx_free(j->qbuf);
    if (j->heap_dis)
        for (int w = 1; w < j->nthreads; w++) {
            vx_free(j->heap_dis[w]);
            vx_free(j->heap_ids[w]);
        }
    vx_free(j->heap_dis);
    vx_free(j->heap_ids);
    vx_free(j->pair_start);
    vx_free(j->pair_q);
    vx_free(j->active);
    vx_free(j->order);
}

/* Allocations shared by k-NN and range search, for blocks of up to qb queries. */
static vindex_status search_job_init(search_job *j, const vx_ivf *ivf, size_t qb, size_t k,
                                     const vindex_search_params *p, bool by_list)
{
    memset(j, 0, sizeof *j);
    j->ivf = ivf;
    j->qb = qb;
    j->k = k;
    j->nprobe = effective_nprobe(ivf, p);
    j->sel = p ? p->sel : NULL;
    j->nthreads = vx_num_threads();
    j->cscore_sign = ivf->quantizer->metric == VINDEX_METRIC_INNER_PRODUCT ? -1.0f : 1.0f;
    atomic_init(&j->status, VINDEX_OK);
    const size_t nt = (size_t)j->nthreads, d = (size_t)ivf->base.d;
    /* Code blocks of at most 256 KiB, so that a block stays in L2 while the
     * queries of a tile pass over it. */
    size_t cb = (size_t)(256 * 1024) / (ivf->code_size ? ivf->code_size : 1);
    j->code_block = cb < 16 ? 16 : cb > VX_IVF_SCAN_BLOCK ? VX_IVF_SCAN_BLOCK : cb;
    if (!ivf->fam->score_tile)
        j->code_block = VX_IVF_SCAN_BLOCK;
    j->scanner_stride = (ivf->scanner_bytes + 63) / 64 * 64;
    j->cdis = vx_alloc(qb, j->nprobe * sizeof(float));
    j->cidx = vx_alloc(qb, j->nprobe * sizeof(vindex_id));
    j->scanners = vx_alloc(nt, j->scanner_stride ? j->scanner_stride : 64);
    j->scratch = vx_alloc(nt * TILE_QUERIES, j->code_block * sizeof(float));
    if (!j->cdis || !j->cidx || !j->scanners || !j->scratch)
        return VINDEX_ERR_NOMEM;
    for (int w = 0; w < j->nthreads; w++)
        ivf->fam->scanner_init(ivf, scanner_of(j, w));
    j->heap_dis = vx_calloc(nt, sizeof *j->heap_dis);
    j->heap_ids = vx_calloc(nt, sizeof *j->heap_ids);
    if (!j->heap_dis || !j->heap_ids)
        return VINDEX_ERR_NOMEM;
    if (!by_list)
        return VINDEX_OK;
    j->pair_start = vx_alloc(ivf->nlist + 1, sizeof *j->pair_start);
    j->pair_q = vx_alloc(qb, j->nprobe * sizeof(uint32_t));
    j->active = vx_alloc(ivf->nlist, sizeof *j->active);
    j->scanner_query = vx_alloc(nt, sizeof *j->scanner_query);
    if (!j->pair_start || !j->pair_q || !j->active || !j->scanner_query)
        return VINDEX_ERR_NOMEM;
    if (ivf->fam->score_tile && !(j->qbuf = vx_alloc(nt * TILE_QUERIES, d * sizeof(float))))
        return VINDEX_ERR_NOMEM;
    for (int w = 1; w < j->nthreads; w++) {
        j->heap_dis[w] = vx_alloc(qb, k * sizeof(float));
        j->heap_ids[w] = vx_alloc(qb, k * sizeof(vindex_id));
        if (!j->heap_dis[w] || !j->heap_ids[w])
            return VINDEX_ERR_NOMEM;
    }
    return VINDEX_OK;
}

vindex_status vx_ivf_search(const vindex *ix, size_t nq, const float *q, size_t k,
                            const vindex_search_params *p, float *distances, vindex_id *labels)
{
    const vx_ivf *ivf = (const vx_ivf *)ix;
    const size_t d = (size_t)ix->d;
    const int nthreads = vx_num_threads();
    /* By list when the family scores tiles (always worth it), or when there are
     * too few queries to give every thread one; by query for a few queries
     * when the family has search_probed. */
    const bool probed = nq <= PROBED_MAX_QUERIES && ivf->fam->probed_applies &&
                        ivf->fam->probed_applies(ivf);
    const bool by_list = (ivf->fam->score_tile || nq < (size_t)nthreads) && !probed;
    size_t qb = nq;
    if (by_list) {
        size_t budget = HEAP_BUDGET / ((size_t)nthreads * k);
        if (budget < MIN_QUERY_BLOCK)
            budget = MIN_QUERY_BLOCK;
        if (qb > budget)
            qb = budget;
    } else if (qb > 16384) {
        qb = 16384;
    }
    search_job j;
    vindex_status st = search_job_init(&j, ivf, qb, k, p, by_list);
    if (st)
        goto done;
    for (size_t q0 = 0; q0 < nq; q0 += qb) {
        size_t nqb = nq - q0 < qb ? nq - q0 : qb;
        float *dis = distances + q0 * k;
        vindex_id *ids = labels + q0 * k;
        j.q = q + q0 * d;
        j.nq = nqb;
        /* the sketches where they serve, the quantizer for the rest */
        size_t sk = vx_ivf_coarse_search(ivf, nqb, j.q, j.nprobe, j.cdis, j.cidx);
        if (sk < nqb && (st = vx_index_search(ivf->quantizer, nqb - sk, j.q + sk * d, j.nprobe,
                                              NULL, j.cdis + sk * j.nprobe,
                                              j.cidx + sk * j.nprobe)))
            goto done;
        j.heap_dis[0] = dis;
        j.heap_ids[0] = ids;
        for (int w = 0; w < (by_list ? nthreads : 1); w++)
            vx_heap_init(j.heap_dis[w], j.heap_ids[w], nqb * k);
        if (by_list) {
            group_pairs(&j);
            for (int w = 0; w < nthreads; w++)
                j.scanner_query[w] = SIZE_MAX;
            vx_parallel_for(j.nactive, nthreads, by_list_task, &j);
            for (size_t i = 0; i < nqb; i++)
                for (int w = 1; w < nthreads; w++)
                    vx_heap_merge(dis + i * k, ids + i * k, k, j.heap_dis[w] + i * k,
                                  j.heap_ids[w] + i * k);
        } else {
            if (nqb == 1) { /* on this thread, so that the query's own work can fork */
                by_query_task(&j, 0, 0);
            } else {
                if ((st = scan_order(&j)))
                    goto done;
                vx_parallel_for(nqb, nthreads, by_query_task, &j);
            }
        }
        for (size_t i = 0; i < nqb; i++)
            vx_topk_finish(dis + i * k, ids + i * k, k, ix->metric);
    }
done:
    if (j.heap_dis) /* worker 0's heaps are the caller's output */
        j.heap_dis[0] = NULL;
    if (j.heap_ids) /* (either may be missing after a failed allocation) */
        j.heap_ids[0] = NULL;
    search_job_free(&j);
    return st;
}

/* ---- range search ------------------------------------------------------- */

static void range_task(void *ctx, size_t i, int worker)
{
    search_job *j = ctx;
    const vx_ivf *ivf = j->ivf;
    void *scanner = scanner_of(j, worker);
    float *buf = j->scratch + (size_t)worker * TILE_QUERIES * j->code_block;
    const bool l2 = ivf->base.metric == VINDEX_METRIC_L2;
    vx_range_list *out = &j->rlists[i];
    ivf->fam->set_query(scanner, j->q + i * (size_t)ivf->base.d);
    for (size_t r = 0; r < j->nprobe; r++) {
        vindex_id list = j->cidx[i * j->nprobe + r];
        if (list < 0)
            continue;
        const vx_ivf_list *L = &ivf->lists[list];
        if (L->n == 0)
            continue;
        ivf->fam->set_list(scanner, list, j->cscore_sign * j->cdis[i * j->nprobe + r]);
        for (size_t off = 0; off < L->n; off += VX_IVF_SCAN_BLOCK) {
            size_t m = L->n - off < VX_IVF_SCAN_BLOCK ? L->n - off : VX_IVF_SCAN_BLOCK;
            ivf->fam->scores(scanner, m, L->codes + off * ivf->code_size, buf);
            for (size_t t = 0; t < m; t++) {
                float dis = l2 ? buf[t] : -buf[t];
                if (!(l2 ? dis < j->radius : dis > j->radius))
                    continue;
                vindex_id id = L->ids[off + t];
                if (!vx_selected(j->sel, id))
                    continue;
                if (vx_range_push(out, dis, id) != VINDEX_OK) {
                    atomic_store(&j->status, VINDEX_ERR_NOMEM);
                    return;
                }
            }
        }
    }
}

vindex_status vx_ivf_range_search(const vindex *ix, size_t nq, const float *q, float radius,
                                  const vindex_search_params *p, vx_range_list *lists)
{
    const vx_ivf *ivf = (const vx_ivf *)ix;
    const size_t d = (size_t)ix->d, qb = nq < 16384 ? nq : 16384;
    search_job j;
    vindex_status st = search_job_init(&j, ivf, qb, 1, p, false);
    j.radius = radius;
    for (size_t q0 = 0; !st && q0 < nq; q0 += qb) {
        j.nq = nq - q0 < qb ? nq - q0 : qb;
        j.q = q + q0 * d;
        j.rlists = lists + q0;
        st = vx_index_search(ivf->quantizer, j.nq, j.q, j.nprobe, NULL, j.cdis, j.cidx);
        if (!st) {
            vx_parallel_for(j.nq, j.nthreads, range_task, &j);
            st = (vindex_status)atomic_load(&j.status);
            if (st)
                vx_fail(st, "range_search: out of memory for results");
        }
    }
    search_job_free(&j);
    return st;
}

/* ---- reconstruct, remove, reset ----------------------------------------- */

static bool dm_lookup(const vx_ivf *ivf, vindex_id id, int64_t *entry)
{
    if (ivf->dm_kind == VINDEX_DIRECT_MAP_ARRAY) {
        if (id < 0 || id >= ivf->base.ntotal)
            return false;
        *entry = ivf->dm_array[id];
        return true;
    }
    return vx_idhash_get(&ivf->dm_hash, id, entry);
}

vindex_status vx_ivf_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    const vx_ivf *ivf = (const vx_ivf *)ix;
    if (ivf->dm_kind == VINDEX_DIRECT_MAP_NONE)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "reconstruct: %s has no direct map from ids to lists; call "
                       "make_direct_map() first",
                       ix->ops->type_name);
    int64_t e;
    if (!dm_lookup(ivf, id, &e))
        return vx_fail(VINDEX_ERR_NOT_FOUND, "reconstruct: id %lld is not in the index",
                       (long long)id);
    size_t l = dm_list(e), off = dm_offset(e);
    uint8_t *buf = NULL;
    if (ivf->fam->block && !(buf = vx_alloc(1, ivf->code_size)))
        return VINDEX_ERR_NOMEM;
    ivf->fam->decode(ivf, (int64_t)l, entry_get(ivf, ivf->lists[l].codes, off, buf), out);
    vx_free(buf);
    return VINDEX_OK;
}

/* Copies a borrowed list into arrays of its own (copy on write). */
static vindex_status own_list(vx_ivf *ivf, vx_ivf_list *L, const char *op)
{
    if (L->cap || !L->n)
        return VINDEX_OK;
    const size_t blk = ivf->fam->block, cap = blk ? (L->n + blk - 1) / blk * blk : L->n;
    uint8_t *codes = vx_calloc(vx_ivf_codes_bytes(ivf, cap), 1); /* unused slots zero */
    vindex_id *ids = vx_alloc(cap, sizeof(vindex_id));
    if (!codes || !ids) {
        vx_free(codes);
        vx_free(ids);
        return vx_fail(VINDEX_ERR_NOMEM, "%s: out of memory copying an inverted list of %zu "
                       "entries out of the mapped file", op, L->n);
    }
    memcpy(codes, L->codes, vx_ivf_codes_bytes(ivf, L->n));
    memcpy(ids, L->ids, L->n * sizeof(vindex_id));
    L->codes = codes;
    L->ids = ids;
    L->cap = cap;
    return VINDEX_OK;
}

vindex_status vx_ivf_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    vx_ivf *ivf = (vx_ivf *)ix;
    const size_t cs = ivf->code_size;
    if (ivf->dm_kind == VINDEX_DIRECT_MAP_ARRAY)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "remove_ids: not possible with an array direct map (it needs ids "
                       "0..ntotal-1); switch to the hash kind with make_direct_map first");
    const bool hash = ivf->dm_kind == VINDEX_DIRECT_MAP_HASH;
    /* borrowed lists that lose entries are copied first; a failure leaves the
     * index as it was (a copied list holds what it borrowed) */
    for (size_t l = 0; l < ivf->nlist; l++) {
        vx_ivf_list *L = &ivf->lists[l];
        for (size_t i = 0; !L->cap && i < L->n; i++)
            if (vindex_selector_contains(sel, L->ids[i])) {
                vindex_status st = own_list(ivf, L, "remove_ids");
                if (st)
                    return st;
            }
    }
    uint8_t *buf = NULL; /* a blocked family's entries move through it */
    if (ivf->fam->block && !(buf = vx_calloc(1, cs)))
        return VINDEX_ERR_NOMEM;
    size_t removed = 0;
    for (size_t l = 0; l < ivf->nlist; l++) {
        vx_ivf_list *L = &ivf->lists[l];
        size_t kept = 0;
        for (size_t i = 0; i < L->n; i++) {
            vindex_id id = L->ids[i];
            if (vindex_selector_contains(sel, id)) {
                if (hash)
                    vx_idhash_remove(&ivf->dm_hash, id);
                continue;
            }
            if (kept != i) {
                L->ids[kept] = id;
                if (buf)
                    entry_put(ivf, L->codes, kept, entry_get(ivf, L->codes, i, buf));
                else
                    memcpy(L->codes + kept * cs, L->codes + i * cs, cs);
                if (hash)
                    vx_idhash_put(&ivf->dm_hash, id, dm_pack(l, kept)); /* overwrite */
            }
            kept++;
        }
        if (buf) { /* freed slots back to zero */
            memset(buf, 0, cs);
            for (size_t i = kept; i < L->n; i++)
                entry_put(ivf, L->codes, i, buf);
        }
        removed += L->n - kept;
        L->n = kept;
    }
    vx_free(buf);
    ix->ntotal -= (int64_t)removed;
    *n_removed = removed;
    return VINDEX_OK;
}

static void free_lists(vx_ivf *ivf)
{
    for (size_t l = 0; l < ivf->nlist; l++) {
        if (ivf->lists[l].cap) { /* else empty, or borrowed from the mapping */
            vx_free(ivf->lists[l].codes);
            vx_free(ivf->lists[l].ids);
        }
        memset(&ivf->lists[l], 0, sizeof ivf->lists[l]);
    }
    vx_mapping_release(ivf->map);
    ivf->map = NULL;
}

void vx_ivf_reset(vindex *ix)
{
    vx_ivf *ivf = (vx_ivf *)ix;
    free_lists(ivf);
    dm_clear(ivf);
    ix->ntotal = 0;
}

void vx_ivf_destroy(vindex *ix)
{
    vx_ivf *ivf = (vx_ivf *)ix;
    if (ivf->lists)
        free_lists(ivf);
    vx_free(ivf->lists);
    dm_clear(ivf);
    if (ivf->fam->destroy_codec)
        ivf->fam->destroy_codec(ivf);
    vx_ivf_coarse_free(ivf);
    vindex_free(ivf->quantizer);
    vx_free(ivf);
}

size_t vx_ivf_memory(const vindex *ix)
{
    const vx_ivf *ivf = (const vx_ivf *)ix;
    size_t bytes = sizeof *ivf + ivf->nlist * sizeof *ivf->lists;
    for (size_t l = 0; l < ivf->nlist; l++)
        bytes += ivf->lists[l].cap * (ivf->code_size + sizeof(vindex_id));
    bytes += ivf->dm_cap * sizeof(int64_t) + ivf->dm_hash.cap * 2 * sizeof(int64_t);
    bytes += vindex_memory_bytes(ivf->quantizer);
    if (ivf->fam->codec_memory)
        bytes += ivf->fam->codec_memory(ivf);
    return bytes + vx_ivf_coarse_memory(ivf);
}

/* ---- parameters --------------------------------------------------------- */

static vindex_status int_param(const char *name, double value, double lo, double hi, int *out)
{
    if (value != floor(value) || value < lo || value > hi)
        return vx_fail(VINDEX_ERR_INVALID, "set_param: %s must be an integer in %.0f..%.0f (got %g)",
                       name, lo, hi, value);
    *out = (int)value;
    return VINDEX_OK;
}

vindex_status vx_ivf_set_param(vindex *ix, const char *name, double value)
{
    vx_ivf *ivf = (vx_ivf *)ix;
    vindex_kmeans_params *cp = &ivf->cp;
    int v = 0;
    vindex_status st;
    if (!strcmp(name, "nprobe")) {
        if (value < 1)
            return vx_fail(VINDEX_ERR_INVALID, "set_param: nprobe must be at least 1 (got %g)",
                           value);
        if ((st = int_param(name, value, 1, INT32_MAX, &v)))
            return st;
        ivf->nprobe = (size_t)v;
        return VINDEX_OK;
    }
    if (!strcmp(name, "nlist"))
        return vx_fail(VINDEX_ERR_INVALID,
                       "set_param: nlist is fixed when the index is built (it is %zu)",
                       ivf->nlist);
    if (!strcmp(name, "cp.niter"))
        return int_param(name, value, 0, INT32_MAX, &cp->niter);
    if (!strcmp(name, "cp.nredo"))
        return int_param(name, value, 1, INT32_MAX, &cp->nredo);
    if (!strcmp(name, "cp.max_points_per_centroid"))
        return int_param(name, value, 1, INT32_MAX, &cp->max_points_per_centroid);
    if (!strcmp(name, "cp.min_points_per_centroid"))
        return int_param(name, value, 0, INT32_MAX, &cp->min_points_per_centroid);
    if (!strcmp(name, "cp.spherical"))
        return int_param(name, value, 0, 1, &cp->spherical);
    if (!strcmp(name, "cp.verbose"))
        return int_param(name, value, 0, 1, &cp->verbose);
    if (!strcmp(name, "cp.seed")) {
        if (value != floor(value) || fabs(value) > 9007199254740992.0)
            return vx_fail(VINDEX_ERR_INVALID, "set_param: cp.seed must be an integer (got %g)",
                           value);
        cp->seed = (int64_t)value;
        return VINDEX_OK;
    }
    return VINDEX_ERR_NOT_FOUND;
}

vindex_status vx_ivf_get_param(const vindex *ix, const char *name, double *value)
{
    const vx_ivf *ivf = (const vx_ivf *)ix;
    const vindex_kmeans_params *cp = &ivf->cp;
    if (!strcmp(name, "nprobe"))
        *value = (double)ivf->nprobe;
    else if (!strcmp(name, "nlist"))
        *value = (double)ivf->nlist;
    else if (!strcmp(name, "cp.niter"))
        *value = cp->niter;
    else if (!strcmp(name, "cp.nredo"))
        *value = cp->nredo;
    else if (!strcmp(name, "cp.max_points_per_centroid"))
        *value = cp->max_points_per_centroid;
    else if (!strcmp(name, "cp.min_points_per_centroid"))
        *value = cp->min_points_per_centroid;
    else if (!strcmp(name, "cp.spherical"))
        *value = cp->spherical;
    else if (!strcmp(name, "cp.verbose"))
        *value = cp->verbose;
    else if (!strcmp(name, "cp.seed"))
        *value = (double)cp->seed;
    else
        return VINDEX_ERR_NOT_FOUND;
    return VINDEX_OK;
}

/* ---- public IVF functions ----------------------------------------------- */

static vindex_status ivf_make_direct_map_unlocked(vindex *ix, vindex_direct_map kind)
{
    vx_clear_error();
    vx_ivf *ivf = vx_ivf_of(ix, "make_direct_map");
    if (!ivf)
        return ix ? VINDEX_ERR_UNSUPPORTED : VINDEX_ERR_INVALID;
    if (kind == VINDEX_DIRECT_MAP_NONE) {
        dm_clear(ivf);
        ivf->dm_kind = kind;
        return VINDEX_OK;
    }
    const size_t ntotal = (size_t)ix->ntotal;
    if (kind == VINDEX_DIRECT_MAP_ARRAY) {
        size_t cap = ntotal ? ntotal : 1;
        int64_t *arr = vx_alloc(cap, sizeof *arr);
        if (!arr)
            return VINDEX_ERR_NOMEM;
        for (size_t i = 0; i < ntotal; i++)
            arr[i] = -1;
        for (size_t l = 0; l < ivf->nlist; l++) {
            const vx_ivf_list *L = &ivf->lists[l];
            for (size_t i = 0; i < L->n; i++) {
                vindex_id id = L->ids[i];
                if (id < 0 || (size_t)id >= ntotal || arr[id] != -1) {
                    vx_free(arr);
                    return vx_fail(VINDEX_ERR_INVALID,
                                   "make_direct_map: an array map needs ids 0..ntotal-1, each "
                                   "once (id %lld does not fit); use VINDEX_DIRECT_MAP_HASH",
                                   (long long)id);
                }
                arr[id] = dm_pack(l, i);
            }
        }
        dm_clear(ivf);
        ivf->dm_array = arr;
        ivf->dm_cap = cap;
        ivf->dm_kind = kind;
        return VINDEX_OK;
    }
    if (kind == VINDEX_DIRECT_MAP_HASH) {
        vx_idhash h;
        vx_idhash_init(&h);
        if (vx_idhash_reserve(&h, ntotal) != VINDEX_OK)
            return vx_fail(VINDEX_ERR_NOMEM, "make_direct_map: out of memory for %zu ids", ntotal);
        for (size_t l = 0; l < ivf->nlist; l++) {
            const vx_ivf_list *L = &ivf->lists[l];
            for (size_t i = 0; i < L->n; i++) {
                if (L->ids[i] == VX_IDHASH_EMPTY || vx_idhash_get(&h, L->ids[i], NULL)) {
                    vx_idhash_free(&h);
                    return vx_fail(VINDEX_ERR_INVALID,
                                   "make_direct_map: id %lld appears more than once; a direct "
                                   "map needs unique ids",
                                   (long long)L->ids[i]);
                }
                vx_idhash_put(&h, L->ids[i], dm_pack(l, i));
            }
        }
        dm_clear(ivf);
        ivf->dm_hash = h;
        ivf->dm_kind = kind;
        return VINDEX_OK;
    }
    return vx_fail(VINDEX_ERR_INVALID, "make_direct_map: unknown kind %d (0 none, 1 array, "
                   "2 hash)", (int)kind);
}

static vindex_status ivf_direct_map_kind_unlocked(const vindex *ix, vindex_direct_map *kind)
{
    vx_clear_error();
    const vx_ivf *ivf = vx_ivf_of(ix, "direct_map_kind");
    if (!ivf)
        return ix ? VINDEX_ERR_UNSUPPORTED : VINDEX_ERR_INVALID;
    if (!kind)
        return vx_fail(VINDEX_ERR_INVALID, "direct_map_kind: kind is NULL");
    *kind = ivf->dm_kind;
    return VINDEX_OK;
}

/* Whether two quantizers hold the same centroids (checked for Flat ones). */
static bool same_centroids(const vx_ivf *a, const vx_ivf *b)
{
    const float *ca = vx_flat_vectors(a->quantizer), *cb = vx_flat_vectors(b->quantizer);
    if (a->quantizer->ntotal != b->quantizer->ntotal)
        return false;
    if (!ca || !cb)
        return true; /* no cheap way to compare; trust the caller, as Faiss does */
    return memcmp(ca, cb, (size_t)a->quantizer->ntotal * (size_t)a->base.d * sizeof(float)) == 0;
}

static vindex_status ivf_merge_from_unlocked(vindex *dst, vindex *src, vindex_id add_id)
{
    vx_clear_error();
    vx_ivf *a = vx_ivf_of(dst, "merge_from"), *b = a ? vx_ivf_of(src, "merge_from") : NULL;
    if (!a || !b)
        return (dst && src) ? VINDEX_ERR_UNSUPPORTED : VINDEX_ERR_INVALID;
    if (a == b)
        return vx_fail(VINDEX_ERR_INVALID, "merge_from: an index cannot merge itself");
    if (dst->ops != src->ops || dst->d != src->d || dst->metric != src->metric ||
        a->nlist != b->nlist || a->code_size != b->code_size)
        return vx_fail(VINDEX_ERR_INVALID,
                       "merge_from: %s (d %d, nlist %zu) and %s (d %d, nlist %zu) are not "
                       "compatible",
                       dst->ops->type_name, dst->d, a->nlist, src->ops->type_name, src->d,
                       b->nlist);
    if (!dst->is_trained || !src->is_trained)
        return vx_fail(VINDEX_ERR_NOT_TRAINED, "merge_from: both indexes must be trained");
    if (!same_centroids(a, b) || (a->fam->codec_equal && !a->fam->codec_equal(a, b)))
        return vx_fail(VINDEX_ERR_INVALID,
                       "merge_from: the indexes were trained differently (their coarse "
                       "centroids or codecs differ)");
    if (a->dm_kind == VINDEX_DIRECT_MAP_ARRAY)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "merge_from: not possible into an index with an array direct map; "
                       "use the hash kind or none");
    if (src->ntotal == 0)
        return VINDEX_OK;
    const size_t nlist = a->nlist, cs = a->code_size;
    /* ids + add_id must not overflow */
    for (size_t l = 0; l < nlist; l++)
        for (size_t i = 0; i < b->lists[l].n; i++) {
            vindex_id id = b->lists[l].ids[i], sum;
            if (__builtin_add_overflow(id, add_id, &sum) || sum == -1)
                return vx_fail(VINDEX_ERR_INVALID,
                               "merge_from: id %lld + add_id %lld is out of range",
                               (long long)id, (long long)add_id);
        }
    size_t *extra = vx_alloc(nlist, sizeof *extra);
    uint8_t *buf = a->fam->block ? vx_alloc(1, cs) : NULL; /* blocked entries move through it */
    if (!extra || (a->fam->block && !buf)) {
        vx_free(extra);
        vx_free(buf);
        return VINDEX_ERR_NOMEM;
    }
    for (size_t l = 0; l < nlist; l++)
        extra[l] = b->lists[l].n;
    vindex_status st = VINDEX_OK;
    const bool hash = a->dm_kind == VINDEX_DIRECT_MAP_HASH;
    size_t inserted = 0; /* provisional hash entries, in list order */
    if (hash) {
        if (vx_idhash_reserve(&a->dm_hash, (size_t)(dst->ntotal + src->ntotal)) != VINDEX_OK) {
            vx_free(extra);
            vx_free(buf);
            return vx_fail(VINDEX_ERR_NOMEM, "merge_from: out of memory for the direct map");
        }
        for (size_t l = 0; l < nlist && !st; l++) {
            const vx_ivf_list *L = &b->lists[l];
            for (size_t i = 0; i < L->n; i++) {
                vindex_id id = L->ids[i] + add_id;
                if (id == VX_IDHASH_EMPTY || vx_idhash_get(&a->dm_hash, id, NULL)) {
                    st = vx_fail(VINDEX_ERR_INVALID,
                                 "merge_from: id %lld would be in the index twice, and the hash "
                                 "direct map needs unique ids",
                                 (long long)id);
                    break;
                }
                vx_idhash_put(&a->dm_hash, id, -1);
                inserted++;
            }
        }
    }
    if (!st)
        st = reserve_lists(a, extra);
    if (st) {
        for (size_t l = 0; l < nlist && inserted > 0; l++) /* undo the provisional entries */
            for (size_t i = 0; i < b->lists[l].n && inserted > 0; i++, inserted--)
                vx_idhash_remove(&a->dm_hash, b->lists[l].ids[i] + add_id);
        vx_free(extra);
        vx_free(buf);
        return st;
    }
    for (size_t l = 0; l < nlist; l++) {
        vx_ivf_list *D = &a->lists[l];
        const vx_ivf_list *S = &b->lists[l];
        if (S->n == 0)
            continue; /* both lists may be unallocated (NULL): no memcpy */
        if (buf) {
            for (size_t i = 0; i < S->n; i++)
                entry_put(a, D->codes, D->n + i, entry_get(b, S->codes, i, buf));
        } else {
            memcpy(D->codes + D->n * cs, S->codes, S->n * cs);
        }
        for (size_t i = 0; i < S->n; i++) {
            vindex_id id = S->ids[i] + add_id;
            D->ids[D->n + i] = id;
            if (hash)
                vx_idhash_put(&a->dm_hash, id, dm_pack(l, D->n + i));
        }
        D->n += S->n;
    }
    dst->ntotal += src->ntotal;
    free_lists(b);
    src->ntotal = 0;
    dm_clear(b); /* empty, and still of its kind */
    vx_free(extra);
    vx_free(buf);
    return VINDEX_OK;
}

static vindex_status ivf_list_sizes_unlocked(const vindex *ix, size_t *sizes)
{
    vx_clear_error();
    const vx_ivf *ivf = vx_ivf_of(ix, "list_sizes");
    if (!ivf)
        return ix ? VINDEX_ERR_UNSUPPORTED : VINDEX_ERR_INVALID;
    if (!sizes)
        return vx_fail(VINDEX_ERR_INVALID, "list_sizes: sizes is NULL");
    for (size_t l = 0; l < ivf->nlist; l++)
        sizes[l] = ivf->lists[l].n;
    return VINDEX_OK;
}

static vindex_status ivf_list_ids_unlocked(const vindex *ix, size_t list, vindex_id *ids)
{
    vx_clear_error();
    const vx_ivf *ivf = vx_ivf_of(ix, "list_ids");
    if (!ivf)
        return ix ? VINDEX_ERR_UNSUPPORTED : VINDEX_ERR_INVALID;
    if (list >= ivf->nlist)
        return vx_fail(VINDEX_ERR_INVALID, "list_ids: list %zu does not exist (nlist %zu)", list,
                       ivf->nlist);
    const vx_ivf_list *L = &ivf->lists[list];
    if (L->n && !ids)
        return vx_fail(VINDEX_ERR_INVALID, "list_ids: ids is NULL");
    if (L->n)
        memcpy(ids, L->ids, L->n * sizeof *ids);
    return VINDEX_OK;
}

static vindex_status ivf_imbalance_factor_unlocked(const vindex *ix, double *out)
{
    vx_clear_error();
    const vx_ivf *ivf = vx_ivf_of(ix, "imbalance_factor");
    if (!ivf)
        return ix ? VINDEX_ERR_UNSUPPORTED : VINDEX_ERR_INVALID;
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "imbalance_factor: out is NULL");
    double tot = 0, sq = 0;
    for (size_t l = 0; l < ivf->nlist; l++) {
        double n = (double)ivf->lists[l].n;
        tot += n;
        sq += n * n;
    }
    *out = tot > 0 ? sq * (double)ivf->nlist / (tot * tot) : 0;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_ivf_quantizer(const vindex *ix, vindex **out)
{
    vx_clear_error();
    const vx_ivf *ivf = vx_ivf_of(ix, "quantizer");
    if (!ivf)
        return ix ? VINDEX_ERR_UNSUPPORTED : VINDEX_ERR_INVALID;
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "quantizer: out is NULL");
    *out = ivf->quantizer;
    return VINDEX_OK;
}

/* The public entry points above, under the index lock (index.h). */

VINDEX_API vindex_status vindex_ivf_make_direct_map(vindex *ix, vindex_direct_map kind)
{
    if (!ix)
        return ivf_make_direct_map_unlocked(ix, kind);
    vx_index_lock_exclusive(ix);
    vindex_status st = ivf_make_direct_map_unlocked(ix, kind);
    vx_index_unlock(ix);
    return st;
}

VINDEX_API vindex_status vindex_ivf_direct_map_kind(const vindex *ix, vindex_direct_map *kind)
{
    if (!ix)
        return ivf_direct_map_kind_unlocked(ix, kind);
    vx_index_lock_shared(ix);
    vindex_status st = ivf_direct_map_kind_unlocked(ix, kind);
    vx_index_unlock(ix);
    return st;
}

VINDEX_API vindex_status vindex_ivf_merge_from(vindex *dst, vindex *src, vindex_id add_id)
{
    if (!dst || !src)
        return ivf_merge_from_unlocked(dst, src, add_id);
    vx_index_lock_pair(dst, src);
    vindex_status st = ivf_merge_from_unlocked(dst, src, add_id);
    vx_index_unlock_pair(dst, src);
    return st;
}

VINDEX_API vindex_status vindex_ivf_list_sizes(const vindex *ix, size_t *sizes)
{
    if (!ix)
        return ivf_list_sizes_unlocked(ix, sizes);
    vx_index_lock_shared(ix);
    vindex_status st = ivf_list_sizes_unlocked(ix, sizes);
    vx_index_unlock(ix);
    return st;
}

VINDEX_API vindex_status vindex_ivf_list_ids(const vindex *ix, size_t list, vindex_id *ids)
{
    if (!ix)
        return ivf_list_ids_unlocked(ix, list, ids);
    vx_index_lock_shared(ix);
    vindex_status st = ivf_list_ids_unlocked(ix, list, ids);
    vx_index_unlock(ix);
    return st;
}

VINDEX_API vindex_status vindex_ivf_imbalance_factor(const vindex *ix, double *out)
{
    if (!ix)
        return ivf_imbalance_factor_unlocked(ix, out);
    vx_index_lock_shared(ix);
    vindex_status st = ivf_imbalance_factor_unlocked(ix, out);
    vx_index_unlock(ix);
    return st;
}
