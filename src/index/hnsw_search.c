/*
 * HNSW search: the greedy descent through the upper levels, the beam search on
 * one level (shared with insertion), k-NN with and without an id filter, the
 * exact scan that serves restrictive filters, and range search.
 *
 * The beam is a linear pool (see the essay in hnsw.c): one array sorted by
 * score, at most ef entries, bit 31 of a slot meaning "already expanded".
 * Expanding a node first gathers its unvisited neighbours (visited marks are
 * 16-bit epochs in the search's own scratch), then computes their distances in
 * one call to the storage, which prefetches the next vector while it computes
 * the current one, and only then inserts the survivors into the pool: the
 * memory accesses of a batch overlap instead of waiting one by one.
 */
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/selector.h"
#include "../core/threads.h"
#include "../core/topk.h"
#include "hnsw.h"

/* ------------------------------------------------------------------------- */
/* The linear pool                                                            */
/* ------------------------------------------------------------------------- */

typedef struct lpool {
    float *d;
    uint32_t *id;
    size_t n, cap, cur; /* cur: the first unexpanded entry (n when none) */
} lpool;

static inline void lp_insert(lpool *p, float d, uint32_t id)
{
    size_t n = p->n;
    if (n == p->cap && (n == 0 || !(d < p->d[n - 1])))
        return;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) >> 1;
        if (p->d[mid] <= d)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = n < p->cap ? n : n - 1; /* [lo, end) moves up one; the last drops when full */
    for (size_t j = end; j > lo; j--) {
        p->d[j] = p->d[j - 1];
        p->id[j] = p->id[j - 1];
    }
    p->d[lo] = d;
    p->id[lo] = id;
    if (n < p->cap)
        p->n = n + 1;
    if (lo <= p->cur)
        p->cur = lo;
}

static inline uint32_t lp_pop(lpool *p)
{
    uint32_t id = p->id[p->cur];
    p->id[p->cur] = id | VX_HNSW_CHECKED;
    size_t c = p->cur + 1;
    while (c < p->n && (p->id[c] & VX_HNSW_CHECKED))
        c++;
    p->cur = c;
    return id;
}

/* ------------------------------------------------------------------------- */
/* Descent and beam search                                                    */
/* ------------------------------------------------------------------------- */

uint32_t vx_hnsw_greedy(const vx_hnsw *h, vx_hnsw_scratch *sc, const void *q, uint32_t ep,
                        float *ep_d, int top, int stop, bool locked)
{
    const vx_hnsw_store *st = h->store;
    uint32_t cur = ep, *nb = sc->buf_i;
    float curd = *ep_d, *nd = sc->buf_d;
    for (int l = top; l > stop; l--) {
        bool changed = true;
        while (changed) {
            changed = false;
            if (locked)
                vx_hnsw_lock(h, cur);
            const uint32_t *ln = vx_hnsw_links(h, cur, l);
            uint32_t cnt = ln[0];
            memcpy(nb, ln + 1, cnt * sizeof *nb);
            if (locked)
                vx_hnsw_unlock(h, cur);
            st->ops->dist_many(st, q, nb, cnt, nd);
            for (uint32_t j = 0; j < cnt; j++)
                if (nd[j] < curd) {
                    curd = nd[j];
                    cur = nb[j];
                    changed = true;
                }
        }
    }
    *ep_d = curd;
    return cur;
}

/* The beam search. With sel, every node whose distance is computed is also
 * offered to a k-heap (res_d / res_l, labels) when its label is selected, and
 * *found counts those; the beam itself keeps navigating through all nodes. */
static inline __attribute__((always_inline)) size_t
beam(const vx_hnsw *h, vx_hnsw_scratch *sc, const void *q, uint32_t ep, float ep_d, int level,
     size_t ef, bool locked, const vindex_selector *sel, float *res_d, vindex_id *res_l,
     size_t k, size_t *found)
{
    const vx_hnsw_store *st = h->store;
    uint16_t e = vx_hnsw_new_epoch(sc);
    uint16_t *vis = sc->visited;
    uint32_t *nb = sc->buf_i;
    float *nd = sc->buf_d;
    lpool p = {sc->pool_d, sc->pool_i, 0, ef, 0};
    vis[ep] = e;
    lp_insert(&p, ep_d, ep);
    if (sel && vindex_selector_contains(sel, h->labels[ep])) {
        vx_heap_push(res_d, res_l, k, ep_d, h->labels[ep]);
        ++*found;
    }
    while (p.cur < p.n) {
        uint32_t u = lp_pop(&p);
        if (locked)
            vx_hnsw_lock(h, u);
        const uint32_t *ln = vx_hnsw_links(h, u, level);
        uint32_t cnt = ln[0];
        size_t m = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t v = ln[1 + j];
            if (vis[v] != e) {
                vis[v] = e;
                nb[m++] = v;
            }
        }
        if (locked)
            vx_hnsw_unlock(h, u);
        st->ops->dist_many(st, q, nb, m, nd);
        for (size_t j = 0; j < m; j++) {
            if (p.n < p.cap || nd[j] < p.d[p.n - 1])
                lp_insert(&p, nd[j], nb[j]);
            if (sel && vindex_selector_contains(sel, h->labels[nb[j]])) {
                vx_heap_push(res_d, res_l, k, nd[j], h->labels[nb[j]]);
                ++*found;
            }
        }
        if (p.cur < p.n) /* the next node to expand: its links, while we sort */
            __builtin_prefetch(vx_hnsw_links(h, p.id[p.cur], level), 0, 3);
    }
    return p.n;
}

size_t vx_hnsw_search_level(const vx_hnsw *h, vx_hnsw_scratch *sc, const void *q, uint32_t ep,
                            float ep_d, int level, size_t ef, bool locked)
{
    if (locked)
        return beam(h, sc, q, ep, ep_d, level, ef, true, NULL, NULL, NULL, 0, NULL);
    return beam(h, sc, q, ep, ep_d, level, ef, false, NULL, NULL, NULL, 0, NULL);
}

/* ------------------------------------------------------------------------- */
/* Neighbour selection                                                        */
/* ------------------------------------------------------------------------- */

size_t vx_hnsw_select(const vx_hnsw *h, uint32_t *cand, float *cd, size_t n, size_t m)
{
    const vx_hnsw_store *st = h->store;
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < m; i++) {
        bool good = true;
        for (size_t r = 0; r < kept; r++)
            if (st->ops->dist_pair(st, cand[i], cand[r]) < cd[i]) {
                good = false;
                break;
            }
        if (good) {
            cand[kept] = cand[i];
            cd[kept] = cd[i];
            kept++;
        }
    }
    return kept;
}

static inline bool cand_less(float da, uint32_t ia, float db, uint32_t ib)
{
    return da < db || (da == db && ia < ib);
}

void vx_hnsw_sort_candidates(uint32_t *cand, float *cd, size_t n)
{
    while (n > 16) { /* quicksort on the larger part's loop, recursion on the smaller */
        size_t mid = n / 2;
        float pd = cd[mid];
        uint32_t pi = cand[mid];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (cand_less(cd[i], cand[i], pd, pi))
                i++;
            while (cand_less(pd, pi, cd[j], cand[j]))
                j--;
            if (i >= j)
                break;
            float td = cd[i];
            cd[i] = cd[j];
            cd[j] = td;
            uint32_t ti = cand[i];
            cand[i] = cand[j];
            cand[j] = ti;
            i++;
            j--;
        }
        size_t left = j + 1; /* [0, left) <= pivot <= [left, n) */
        if (left < n - left) {
            vx_hnsw_sort_candidates(cand, cd, left);
            cand += left;
            cd += left;
            n -= left;
        } else {
            vx_hnsw_sort_candidates(cand + left, cd + left, n - left);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        float d = cd[i];
        uint32_t c = cand[i];
        size_t j = i;
        for (; j > 0 && cand_less(d, c, cd[j - 1], cand[j - 1]); j--) {
            cd[j] = cd[j - 1];
            cand[j] = cand[j - 1];
        }
        cd[j] = d;
        cand[j] = c;
    }
}

/* ------------------------------------------------------------------------- */
/* Filters                                                                    */
/* ------------------------------------------------------------------------- */

/* The fraction of live nodes a selector allows, estimated on up to 512 slots
 * spread over the index. */
static double selectivity(const vx_hnsw *h, const vindex_selector *sel)
{
    size_t ns = h->nslots, sample = ns < 512 ? ns : 512, live = 0, yes = 0;
    for (size_t i = 0; i < sample; i++) {
        size_t s = (size_t)((uint64_t)i * ns / sample);
        if (h->levels[s] < 0)
            continue;
        live++;
        yes += vindex_selector_contains(sel, h->labels[s]) != 0;
    }
    if (live == 0)
        return 1.0;
    return yes ? (double)yes / (double)live : 0.5 / (double)live;
}

/* Whether an exact scan over the allowed vectors costs less than the graph:
 * the graph computes about ef * M0 / 2 distances for an unfiltered search and
 * needs about 1/p times more exploration to meet as many allowed nodes; the
 * scan computes p * ntotal distances. Below a few percent the graph also
 * stops being navigable through allowed nodes alone, so it loses anyway. */
static bool prefer_scan(const vx_hnsw *h, double p, size_t ef)
{
    double graph = (double)ef * (double)h->M0 * 0.5 / p;
    double scan = p * (double)h->base.ntotal + 0.05 * (double)h->nslots;
    return scan <= graph || p < 0.02;
}

/* Exact k-NN over the live, allowed nodes (heap of labels). */
static void scan_knn(const vx_hnsw *h, vx_hnsw_scratch *sc, const void *q,
                     const vindex_selector *sel, float *res_d, vindex_id *res_l, size_t k)
{
    const vx_hnsw_store *st = h->store;
    uint32_t *nb = sc->buf_i;
    float *nd = sc->buf_d;
    size_t m = 0;
    for (size_t s = 0; s <= h->nslots; s++) {
        if (s < h->nslots) {
            if (h->levels[s] < 0 || !vx_selected(sel, h->labels[s]))
                continue;
            nb[m++] = (uint32_t)s;
            if (m < sc->buf_cap)
                continue;
        }
        st->ops->dist_many(st, q, nb, m, nd);
        for (size_t j = 0; j < m; j++)
            vx_heap_push(res_d, res_l, k, nd[j], h->labels[nb[j]]);
        m = 0;
    }
}

/* ------------------------------------------------------------------------- */
/* k-NN                                                                       */
/* ------------------------------------------------------------------------- */

typedef struct knn_ctx {
    const vx_hnsw *h;
    const float *x;
    size_t k, ef;
    const vindex_selector *sel;
    double p; /* selectivity of sel */
    bool scan;
    float *dist;
    vindex_id *labels;
    vx_hnsw_scratch **sc;
} knn_ctx;

static void knn_one(void *vctx, size_t i, int worker)
{
    const knn_ctx *c = vctx;
    const vx_hnsw *h = c->h;
    const vx_hnsw_store *st = h->store;
    vx_hnsw_scratch *sc = c->sc[worker];
    size_t k = c->k;
    float *rd = c->dist + i * k;
    vindex_id *rl = c->labels + i * k;
    const void *q = st->ops->prepare(st, c->x + i * (size_t)h->base.d, sc->qbuf);
    vx_heap_init(rd, rl, k);
    if (c->scan) {
        scan_knn(h, sc, q, c->sel, rd, rl, k);
    } else {
        uint32_t ep = (uint32_t)h->entry;
        float epd = st->ops->dist_one(st, q, ep);
        ep = vx_hnsw_greedy(h, sc, q, ep, &epd, h->max_level, 0, false);
        if (!c->sel) {
            size_t n = beam(h, sc, q, ep, epd, 0, c->ef, false, NULL, NULL, NULL, 0, NULL);
            for (size_t j = 0; j < n; j++)
                vx_heap_push(rd, rl, k, sc->pool_d[j],
                             h->labels[sc->pool_i[j] & ~VX_HNSW_CHECKED]);
        } else {
            /* A wider beam in proportion to what the filter rejects, so that
             * about ef allowed nodes are met. */
            size_t ef = c->ef;
            double want = (double)ef / c->p;
            if (want > (double)sc->pool_cap - 1)
                want = (double)sc->pool_cap - 1;
            if (want > (double)ef)
                ef = (size_t)want;
            size_t found = 0;
            beam(h, sc, q, ep, epd, 0, ef, false, c->sel, rd, rl, k, &found);
            if (found < k) { /* too few met: the exact answer */
                vx_heap_init(rd, rl, k);
                scan_knn(h, sc, q, c->sel, rd, rl, k);
            }
        }
    }
    vx_topk_finish(rd, rl, k, h->base.metric);
}

/* One scratch per worker that will run, sized for a pool of ef. */
static vindex_status get_scratches(const vx_hnsw *h, size_t nw, size_t ef,
                                   vx_hnsw_scratch **sc)
{
    for (size_t w = 0; w < nw; w++)
        if (!(sc[w] = vx_hnsw_scratch_get(h, ef, 256))) {
            while (w-- > 0)
                vx_hnsw_scratch_put(h, sc[w]);
            return VINDEX_ERR_NOMEM;
        }
    return VINDEX_OK;
}

static void put_scratches(const vx_hnsw *h, size_t nw, vx_hnsw_scratch **sc)
{
    for (size_t w = 0; w < nw; w++)
        vx_hnsw_scratch_put(h, sc[w]);
}

enum { MAX_WORKERS = 256 };

vindex_status vx_hnsw_search(const vindex *ix, size_t nq, const float *q, size_t k,
                             const vindex_search_params *p, float *distances, vindex_id *labels)
{
    const vx_hnsw *h = (const vx_hnsw *)ix;
    knn_ctx c = {h, q, k, (size_t)h->ef_search, p ? p->sel : NULL, 1.0, false,
                 distances, labels, NULL};
    if (p && p->ef_search > 0)
        c.ef = (size_t)p->ef_search;
    if (c.ef < k)
        c.ef = k;
    /* A pool larger than the index holds the same nodes: no bigger scratch. */
    if (c.ef > (size_t)ix->ntotal)
        c.ef = (size_t)ix->ntotal > k ? (size_t)ix->ntotal : k;
    size_t pool = c.ef;
    if (c.sel) {
        c.p = selectivity(h, c.sel);
        c.scan = prefer_scan(h, c.p, c.ef);
        pool = c.ef * 8 < (size_t)ix->ntotal ? c.ef * 8 : (size_t)ix->ntotal;
        if (pool < c.ef)
            pool = c.ef;
    }
    int nt = vx_num_threads();
    size_t nw = nq < (size_t)nt ? nq : (size_t)nt;
    if (nw > MAX_WORKERS)
        nw = MAX_WORKERS;
    vx_hnsw_scratch *sc[MAX_WORKERS];
    vindex_status st = get_scratches(h, nw, pool, sc);
    if (st)
        return st;
    c.sc = sc;
    vx_parallel_for(nq, (int)nw, knn_one, &c);
    put_scratches(h, nw, sc);
    return VINDEX_OK;
}

/* ------------------------------------------------------------------------- */
/* Range search                                                               */
/* ------------------------------------------------------------------------- */

typedef struct range_ctx {
    const vx_hnsw *h;
    const float *x;
    float r; /* radius as a score: squared L2, or the negated inner product */
    size_t ef;
    const vindex_selector *sel;
    bool scan;
    vx_range_list *lists;
    vx_hnsw_scratch **sc;
    _Atomic int failed;
} range_ctx;

static vindex_status range_hit(const vx_hnsw *h, vx_range_list *l, const vindex_selector *sel,
                               float score, uint32_t slot)
{
    if (!vx_selected(sel, h->labels[slot]))
        return VINDEX_OK;
    float dis = h->base.metric == VINDEX_METRIC_L2 ? score : -score;
    return vx_range_push(l, dis, h->labels[slot]);
}

static vindex_status range_one_status(range_ctx *c, size_t i, int worker)
{
    const vx_hnsw *h = c->h;
    const vx_hnsw_store *st = h->store;
    vx_hnsw_scratch *sc = c->sc[worker];
    vx_range_list *l = &c->lists[i];
    const void *q = st->ops->prepare(st, c->x + i * (size_t)h->base.d, sc->qbuf);
    uint32_t *nb = sc->buf_i;
    float *nd = sc->buf_d;
    vindex_status s = VINDEX_OK;
    if (c->scan) {
        size_t m = 0;
        for (size_t t = 0; t <= h->nslots && !s; t++) {
            if (t < h->nslots) {
                if (h->levels[t] < 0 || !vx_selected(c->sel, h->labels[t]))
                    continue;
                nb[m++] = (uint32_t)t;
                if (m < sc->buf_cap)
                    continue;
            }
            st->ops->dist_many(st, q, nb, m, nd);
            for (size_t j = 0; j < m && !s; j++)
                if (nd[j] < c->r)
                    s = range_hit(h, l, c->sel, nd[j], nb[j]);
            m = 0;
        }
        return s;
    }
    uint32_t ep = (uint32_t)h->entry;
    float epd = st->ops->dist_one(st, q, ep);
    ep = vx_hnsw_greedy(h, sc, q, ep, &epd, h->max_level, 0, false);
    size_t n = beam(h, sc, q, ep, epd, 0, c->ef, false, NULL, NULL, NULL, 0, NULL);
    /* Breadth-first from the beam's nodes inside the radius, through nodes
     * inside it. The queue grows as needed. */
    uint16_t e = vx_hnsw_new_epoch(sc);
    uint16_t *vis = sc->visited;
    size_t qcap = 256, head = 0, tail = 0;
    uint32_t *queue = vx_alloc(qcap, sizeof *queue);
    if (!queue)
        return VINDEX_ERR_NOMEM;
    for (size_t j = 0; j < n && !s; j++) {
        uint32_t u = sc->pool_i[j] & ~VX_HNSW_CHECKED;
        if (!(sc->pool_d[j] < c->r))
            break; /* sorted: the rest are outside */
        vis[u] = e;
        s = range_hit(h, l, c->sel, sc->pool_d[j], u);
        if (tail == qcap) {
            uint32_t *g = vx_realloc(queue, qcap, 2 * qcap, sizeof *queue);
            if (!g) {
                s = VINDEX_ERR_NOMEM;
                break;
            }
            queue = g;
            qcap *= 2;
        }
        queue[tail++] = u;
    }
    while (head < tail && !s) {
        uint32_t u = queue[head++];
        const uint32_t *ln = vx_hnsw_links(h, u, 0);
        size_t m = 0;
        for (uint32_t j = 0; j < ln[0]; j++)
            if (vis[ln[1 + j]] != e) {
                vis[ln[1 + j]] = e;
                nb[m++] = ln[1 + j];
            }
        st->ops->dist_many(st, q, nb, m, nd);
        for (size_t j = 0; j < m && !s; j++) {
            if (!(nd[j] < c->r))
                continue;
            s = range_hit(h, l, c->sel, nd[j], nb[j]);
            if (!s && tail == qcap) {
                uint32_t *g = vx_realloc(queue, qcap, 2 * qcap, sizeof *queue);
                if (!g) {
                    s = VINDEX_ERR_NOMEM;
                    break;
                }
                queue = g;
                qcap *= 2;
            }
            if (!s)
                queue[tail++] = nb[j];
        }
    }
    vx_free(queue);
    return s;
}

static void range_one(void *vctx, size_t i, int worker)
{
    range_ctx *c = vctx;
    if (c->failed)
        return;
    if (range_one_status(c, i, worker) != VINDEX_OK)
        c->failed = 1;
}

vindex_status vx_hnsw_range_search(const vindex *ix, size_t nq, const float *q, float radius,
                                   const vindex_search_params *p, vx_range_list *lists)
{
    const vx_hnsw *h = (const vx_hnsw *)ix;
    range_ctx c = {.h = h,
                   .x = q,
                   .r = ix->metric == VINDEX_METRIC_L2 ? radius : -radius,
                   .ef = (size_t)h->ef_search,
                   .sel = p ? p->sel : NULL,
                   .lists = lists};
    if (p && p->ef_search > 0)
        c.ef = (size_t)p->ef_search;
    if (c.ef > (size_t)ix->ntotal)
        c.ef = (size_t)ix->ntotal > 1 ? (size_t)ix->ntotal : 1;
    if (c.sel)
        c.scan = prefer_scan(h, selectivity(h, c.sel), c.ef);
    int nt = vx_num_threads();
    size_t nw = nq < (size_t)nt ? nq : (size_t)nt;
    if (nw > MAX_WORKERS)
        nw = MAX_WORKERS;
    vx_hnsw_scratch *sc[MAX_WORKERS];
    vindex_status st = get_scratches(h, nw, c.ef, sc);
    if (st)
        return st;
    c.sc = sc;
    vx_parallel_for(nq, (int)nw, range_one, &c);
    put_scratches(h, nw, sc);
    if (c.failed)
        return vx_fail(VINDEX_ERR_NOMEM, "range_search: out of memory for the results");
    return VINDEX_OK;
}
