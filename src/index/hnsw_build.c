/*
 * HNSW insertion: add() and add_with_ids(), single nodes linked into the graph
 * (vx_hnsw_insert), and the back-link with pruning (vx_hnsw_add_link).
 *
 * add() works in two phases. First, everything that can fail: labels checked
 * and slots chosen (free slots of removed vectors first, then new ones),
 * arrays grown, upper-level lists and per-worker scratch allocated. Only then
 * is anything changed; the second phase, linking the nodes, cannot fail, so an
 * add either adds all or nothing. Linking runs on the thread pool, one node
 * per task: each node's links are guarded by a spin lock, held only while a
 * list is copied or changed and never together with another, so there is no
 * lock order to get wrong. The entry point and top level sit under one mutex;
 * a node that raises the top level keeps it for its whole insertion (as
 * hnswlib), which happens to about one node in M^level.
 */
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "hnsw.h"

/* The level of the i-th insertion: floor(-ln(U) mL), U from a hash of (seed,
 * i) in (0, 1]. */
static int draw_level(const vx_hnsw *h, uint64_t i)
{
    uint64_t x = h->seed * 0x9e3779b97f4a7c15ULL + i + 1;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    double u = (double)((x >> 11) + 1) * (1.0 / 9007199254740992.0);
    double l = floor(-log(u) * h->level_mult);
    return l > VX_HNSW_MAX_LEVEL ? VX_HNSW_MAX_LEVEL : (int)l;
}

void vx_hnsw_add_link(vx_hnsw *h, vx_hnsw_scratch *sc, uint32_t node, uint32_t slot, int level)
{
    const vx_hnsw_store *st = h->store;
    uint32_t *ln = vx_hnsw_links(h, node, level);
    uint32_t cnt = ln[0], maxd = (uint32_t)vx_hnsw_max_degree(h, level);
    for (uint32_t j = 0; j < cnt; j++)
        if (ln[1 + j] == slot)
            return;
    if (cnt < maxd) {
        ln[1 + cnt] = slot;
        ln[0] = cnt + 1;
        return;
    }
    /* Full: keep what the heuristic keeps of the old list plus the new node. */
    uint32_t *c = sc->buf_i;
    float *cd = sc->buf_d;
    for (uint32_t j = 0; j < cnt; j++) {
        c[j] = ln[1 + j];
        cd[j] = st->ops->dist_pair(st, node, c[j]);
    }
    c[cnt] = slot;
    cd[cnt] = st->ops->dist_pair(st, node, slot);
    vx_hnsw_sort_candidates(c, cd, cnt + 1);
    size_t m = vx_hnsw_select(h, c, cd, cnt + 1, maxd);
    memcpy(ln + 1, c, m * sizeof *c);
    vx_hnsw_list_trim(h, ln, level, m);
}

void vx_hnsw_insert(vx_hnsw *h, vx_hnsw_scratch *sc, uint32_t slot, const float *x)
{
    const vx_hnsw_store *st = h->store;
    const void *q = st->ops->prepare(st, x, sc->qbuf);
    int L = h->levels[slot];
    pthread_mutex_lock(&h->entry_lock);
    int64_t ep = h->entry;
    int top = h->max_level;
    if (ep < 0) {
        h->entry = slot;
        h->max_level = L;
        pthread_mutex_unlock(&h->entry_lock);
        return;
    }
    bool raises = L > top;
    if (!raises)
        pthread_mutex_unlock(&h->entry_lock);

    uint32_t cur = (uint32_t)ep;
    float curd = st->ops->dist_one(st, q, cur);
    if (top > L)
        cur = vx_hnsw_greedy(h, sc, q, cur, &curd, top, L, true);
    size_t ef = (size_t)h->ef_construction;
    for (int l = L < top ? L : top; l >= 0; l--) {
        size_t n = vx_hnsw_search_level(h, sc, q, cur, curd, l, ef, true);
        uint32_t *cand = sc->pool_i;
        float *cd = sc->pool_d;
        size_t m = 0;
        for (size_t j = 0; j < n; j++) { /* strip the expanded bits; never itself */
            uint32_t v = cand[j] & ~VX_HNSW_CHECKED;
            if (v == slot)
                continue;
            cand[m] = v;
            cd[m++] = cd[j];
        }
        if (m == 0)
            continue;
        cur = cand[0];
        curd = cd[0];
        m = vx_hnsw_select(h, cand, cd, m, (size_t)h->M);
        vx_hnsw_lock(h, slot);
        uint32_t *own = vx_hnsw_links(h, slot, l);
        memcpy(own + 1, cand, m * sizeof *cand);
        vx_hnsw_list_trim(h, own, l, m);
        vx_hnsw_unlock(h, slot);
        for (size_t j = 0; j < m; j++) {
            vx_hnsw_lock(h, cand[j]);
            vx_hnsw_add_link(h, sc, cand[j], slot, l);
            vx_hnsw_unlock(h, cand[j]);
        }
    }
    if (raises) {
        h->entry = slot;
        h->max_level = L;
        pthread_mutex_unlock(&h->entry_lock);
    }
}

/* Links u again on level 0 as if it were being inserted. */
static void relink(vx_hnsw *h, vx_hnsw_scratch *sc, uint32_t u, float *vec)
{
    const vx_hnsw_store *st = h->store;
    st->ops->get(st, u, vec);
    const void *q = st->ops->prepare(st, vec, sc->qbuf);
    uint32_t ep = (uint32_t)h->entry;
    float epd = st->ops->dist_one(st, q, ep);
    ep = vx_hnsw_greedy(h, sc, q, ep, &epd, h->max_level, 0, false);
    size_t n = vx_hnsw_search_level(h, sc, q, ep, epd, 0, (size_t)h->ef_construction, false);
    uint32_t *cand = sc->pool_i;
    float *cd = sc->pool_d;
    size_t m = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t v = cand[j] & ~VX_HNSW_CHECKED;
        if (v == u)
            continue;
        cand[m] = v;
        cd[m++] = cd[j];
    }
    m = vx_hnsw_select(h, cand, cd, m, (size_t)h->M);
    for (size_t j = 0; j < m; j++) {
        vx_hnsw_add_link(h, sc, cand[j], u, 0);
        vx_hnsw_add_link(h, sc, u, cand[j], 0);
    }
}

size_t vx_hnsw_relink_unreachable(vx_hnsw *h, vx_hnsw_scratch *sc, uint8_t *seen,
                                  uint32_t *queue, float *vec)
{
    if (h->entry < 0)
        return 0;
    memset(seen, 0, h->nslots);
    size_t head = 0, tail = 0, n = 0;
    queue[tail++] = (uint32_t)h->entry;
    seen[h->entry] = 1;
    while (head < tail) {
        const uint32_t *ln = vx_hnsw_links(h, queue[head++], 0);
        for (uint32_t j = 0; j < ln[0]; j++)
            if (!seen[ln[1 + j]]) {
                seen[ln[1 + j]] = 1;
                queue[tail++] = ln[1 + j];
            }
    }
    for (size_t s = 0; s < h->nslots; s++)
        if (h->levels[s] >= 0 && !seen[s]) {
            relink(h, sc, (uint32_t)s, vec);
            n++;
        }
    return n;
}

/* ------------------------------------------------------------------------- */
/* add                                                                        */
/* ------------------------------------------------------------------------- */

/* Grows the per-slot arrays to cap; unchanged on failure. */
static vindex_status grow(vx_hnsw *h, size_t cap)
{
    size_t old = h->cap, rec = (size_t)(h->M0 + 1);
    int8_t *levels = vx_alloc(cap, sizeof *levels);
    uint32_t *links0 = vx_alloc_big(cap, rec * sizeof *links0);
    uint32_t **upper = vx_calloc(cap, sizeof *upper);
    vindex_id *labels = vx_alloc(cap, sizeof *labels);
    atomic_uchar *locks = vx_calloc(cap, sizeof *locks);
    vindex_status st = VINDEX_OK;
    if (!levels || !links0 || !upper || !labels || !locks)
        st = vx_fail(VINDEX_ERR_NOMEM, "add: out of memory for a graph of %zu nodes", cap);
    if (!st)
        st = h->store->ops->reserve(h->store, cap, h->nslots);
    if (st) {
        vx_free(levels);
        vx_free(links0);
        vx_free(upper);
        vx_free(labels);
        vx_free((void *)locks);
        return st;
    }
    if (old) {
        memcpy(levels, h->levels, h->nslots * sizeof *levels);
        memcpy(links0, h->links0, h->nslots * rec * sizeof *links0);
        memcpy(upper, h->upper, h->nslots * sizeof *upper);
        memcpy(labels, h->labels, h->nslots * sizeof *labels);
    }
    vx_free(h->levels);
    vx_free(h->links0);
    vx_free(h->upper);
    vx_free(h->labels);
    vx_free((void *)h->locks);
    h->levels = levels;
    h->links0 = links0;
    h->upper = upper;
    h->labels = labels;
    h->locks = locks;
    h->cap = cap;
    return VINDEX_OK;
}

typedef struct add_ctx {
    vx_hnsw *h;
    const float *x;
    const uint32_t *slots;
    size_t d;
    vx_hnsw_scratch **sc;
} add_ctx;

static void insert_task(void *vctx, size_t i, int worker)
{
    add_ctx *c = vctx;
    vx_hnsw_insert(c->h, c->sc[worker], c->slots[i], c->x + i * c->d);
}

enum { MAX_WORKERS = 256 };

vindex_status vx_hnsw_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    vx_hnsw *h = (vx_hnsw *)ix;
    if (h->map)
        return vx_hnsw_refuse_mapped(h, "add");
    size_t d = (size_t)ix->d;
    size_t reuse = n < h->nfree ? n : h->nfree, fresh = n - reuse;
    if (fresh > (size_t)UINT32_MAX - h->nslots)
        return vx_fail(VINDEX_ERR_INVALID, "add: HNSW holds at most %u vectors", UINT32_MAX);
    if (!ids && n > (size_t)(INT64_MAX - h->next_label))
        return vx_fail(VINDEX_ERR_INVALID, "add: labels would overflow");

    /* Phase 1: everything that can fail. */
    vindex_status st = VINDEX_OK;
    if (h->nslots + fresh > h->cap) {
        size_t cap = h->cap * 2 > h->nslots + fresh ? h->cap * 2 : h->nslots + fresh;
        if ((st = grow(h, cap)))
            return st;
    }
    if (vx_idhash_reserve(&h->slot_of, (size_t)ix->ntotal + n) != VINDEX_OK)
        return vx_fail(VINDEX_ERR_NOMEM, "add: out of memory for %zu labels",
                       (size_t)ix->ntotal + n);
    uint32_t *slots = vx_alloc(n, sizeof *slots);
    int8_t *lv = vx_alloc(n, sizeof *lv);
    uint32_t **up = vx_calloc(n, sizeof *up);
    size_t nw = 0;
    vx_hnsw_scratch *sc[MAX_WORKERS];
    size_t i = 0, nlab = 0;
    vindex_id maxid = -1;
    /* After a batch of at least 1/16 of the index, relink the few nodes that
     * pruning left without any path to them (measured: about 1 in 1000 on
     * clustered data): a breadth-first pass, cheap beside the batch. */
    bool relink_pass = n * 16 >= (size_t)ix->ntotal + n;
    size_t after = h->nslots + fresh;
    uint8_t *seen = relink_pass ? vx_alloc(after, 1) : NULL;
    uint32_t *queue = relink_pass ? vx_alloc(after, sizeof *queue) : NULL;
    float *vec = relink_pass ? vx_alloc(d, sizeof *vec) : NULL;
    if (!slots || !lv || !up || (relink_pass && (!seen || !queue || !vec))) {
        st = VINDEX_ERR_NOMEM;
        goto fail;
    }
    /* labels: unique, not in the index, not reserved; recorded now and undone
     * on failure */
    for (nlab = 0; nlab < n; nlab++) {
        vindex_id id = ids ? ids[nlab] : h->next_label + (vindex_id)nlab;
        if (id == -1 || id == VX_IDHASH_EMPTY) {
            st = vx_fail(VINDEX_ERR_INVALID, "add_with_ids: id %lld (at %zu) is reserved",
                         (long long)id, nlab);
            goto fail;
        }
        if (vx_idhash_get(&h->slot_of, id, NULL)) {
            st = ids ? vx_fail(VINDEX_ERR_INVALID, "add_with_ids: duplicate id %lld (at %zu)",
                               (long long)id, nlab)
                     : vx_fail(VINDEX_ERR_INVALID,
                               "add: label %lld is already taken by add_with_ids; give ids",
                               (long long)id);
            goto fail;
        }
        if (id > maxid)
            maxid = id;
        vx_idhash_put(&h->slot_of, id, 0);
    }
    for (i = 0; i < n; i++) {
        slots[i] = i < reuse ? h->free_slots[h->nfree - 1 - i]
                             : (uint32_t)(h->nslots + (i - reuse));
        int L = draw_level(h, h->ninserted + i);
        lv[i] = (int8_t)L;
        if (L > 0 && !(up[i] = vx_alloc((size_t)L * (size_t)(h->M + 1), sizeof(uint32_t)))) {
            st = VINDEX_ERR_NOMEM;
            goto fail;
        }
    }
    {
        int nt = vx_num_threads();
        size_t want = n < (size_t)nt ? n : (size_t)nt;
        if (want > MAX_WORKERS)
            want = MAX_WORKERS;
        size_t ef = (size_t)h->ef_construction;
        for (nw = 0; nw < want; nw++)
            if (!(sc[nw] = vx_hnsw_scratch_get(h, ef, 256))) {
                st = VINDEX_ERR_NOMEM;
                goto fail;
            }
    }

    /* Phase 2: commit and link; nothing fails from here. */
    for (i = 0; i < n; i++) {
        uint32_t s = slots[i];
        vindex_id id = ids ? ids[i] : h->next_label + (vindex_id)i;
        vx_idhash_put(&h->slot_of, id, (int64_t)s);
        h->labels[s] = id;
        h->levels[s] = lv[i];
        h->upper[s] = up[i];
        for (int l = 0; l <= lv[i]; l++)
            vx_hnsw_list_trim(h, vx_hnsw_links(h, s, l), l, 0);
        h->store->ops->set(h->store, s, x + i * d);
        atomic_store_explicit(&h->locks[s], 0, memory_order_relaxed);
    }
    h->nfree -= reuse;
    h->nslots += fresh;
    h->ninserted += n;
    if (!ids)
        h->next_label += (vindex_id)n;
    else if (maxid >= h->next_label)
        h->next_label = maxid + 1;
    add_ctx c = {h, x, slots, d, sc};
    vx_parallel_for(n, (int)nw, insert_task, &c);
    ix->ntotal += (int64_t)n;
    if (relink_pass)
        vx_hnsw_relink_unreachable(h, sc[0], seen, queue, vec);
    for (size_t w = 0; w < nw; w++)
        vx_hnsw_scratch_put(h, sc[w]);
    vx_free(slots);
    vx_free(lv);
    vx_free(up);
    vx_free(seen);
    vx_free(queue);
    vx_free(vec);
    return VINDEX_OK;

fail:
    for (size_t w = 0; w < nw; w++)
        vx_hnsw_scratch_put(h, sc[w]);
    for (size_t j = 0; j < nlab; j++)
        vx_idhash_remove(&h->slot_of, ids ? ids[j] : h->next_label + (vindex_id)j);
    if (up)
        for (size_t j = 0; j < n; j++)
            vx_free(up[j]);
    vx_free(slots);
    vx_free(lv);
    vx_free(up);
    vx_free(seen);
    vx_free(queue);
    vx_free(vec);
    return st;
}
