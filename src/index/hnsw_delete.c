/*
 * HNSW removal that really removes (remove_ids).
 *
 * hnswlib and Faiss only mark deleted nodes and keep routing through them, so
 * the index never shrinks and searches slow down with churn. Here removed
 * nodes leave the graph:
 *
 * 1. Repair. Every surviving node u with a link to a removed node x on level l
 *    rebuilds that list with the neighbour-selection heuristic, choosing among
 *    its surviving neighbours and the surviving neighbours of x (and of removed
 *    nodes that x linked to: chains of removed nodes are crossed up to two
 *    deep). This is the local repair of FreshDiskANN and of hnswlib's
 *    repairConnectionsForUpdate: the paths that went through x now go around
 *    it. Only removed nodes' lists are read and only u's list is written, so
 *    nodes are repaired in parallel without locks and the result does not
 *    depend on the order.
 * 2. Free. Removed slots lose their links, levels and labels and go on a free
 *    list that later adds take from first; the entry point moves to a
 *    surviving node of the highest level when it was removed.
 * 3. Reconnect. A breadth-first pass from the entry point finds survivors that
 *    lost every path to them (all their in-links came from removed nodes);
 *    each is linked again as if inserted on level 0: a search for its vector,
 *    the heuristic, links both ways. Rare after step 1, but it keeps
 *    validation's reachability at zero under heavy churn.
 */
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "hnsw.h"

typedef struct repair_ctx {
    vx_hnsw *h;
    const uint8_t *dead;
    vx_hnsw_scratch **sc;
} repair_ctx;

enum { MAX_WORKERS = 256, DEPTH2_MAX = 64 };

/* Collects candidates for u's list on level l into sc->buf (marks with the
 * current epoch); returns how many. */
static size_t gather(const vx_hnsw *h, const uint8_t *dead, vx_hnsw_scratch *sc, uint32_t u,
                     int l, uint16_t e)
{
    uint32_t *cand = sc->buf_i;
    size_t cap = sc->buf_cap, m = 0;
    uint16_t *vis = sc->visited;
    uint32_t deep[DEPTH2_MAX];
    size_t ndeep = 0;
    const uint32_t *ln = vx_hnsw_links(h, u, l);
    vis[u] = e;
    for (uint32_t j = 0; j < ln[0]; j++) {
        uint32_t v = ln[1 + j];
        vis[v] = e;
        if (!dead[v] && m < cap)
            cand[m++] = v;
    }
    for (int depth = 0; depth < 2; depth++) {
        size_t stop = depth == 0 ? ln[0] : ndeep;
        for (size_t j = 0; j < stop; j++) {
            uint32_t x = depth == 0 ? ln[1 + j] : deep[j];
            if (!dead[x])
                continue;
            const uint32_t *xl = vx_hnsw_links(h, x, l);
            for (uint32_t t = 0; t < xl[0]; t++) {
                uint32_t w = xl[1 + t];
                if (vis[w] == e)
                    continue;
                vis[w] = e;
                if (!dead[w]) {
                    if (m < cap)
                        cand[m++] = w;
                } else if (depth == 0 && ndeep < DEPTH2_MAX) {
                    deep[ndeep++] = w;
                }
            }
        }
    }
    return m;
}

static void repair_node(void *vctx, size_t s, int worker)
{
    repair_ctx *c = vctx;
    vx_hnsw *h = c->h;
    const uint8_t *dead = c->dead;
    if (h->levels[s] < 0 || dead[s])
        return;
    vx_hnsw_scratch *sc = c->sc[worker];
    const vx_hnsw_store *st = h->store;
    uint32_t u = (uint32_t)s;
    for (int l = 0; l <= h->levels[s]; l++) {
        uint32_t *ln = vx_hnsw_links(h, u, l);
        bool touched = false;
        for (uint32_t j = 0; j < ln[0] && !touched; j++)
            touched = dead[ln[1 + j]];
        if (!touched)
            continue;
        /* The surviving links stay as they are (a list built by insertions
         * is mostly unpruned; re-running the heuristic over all of it would
         * cut the degree by a third, measured). Each lost link is replaced by
         * the nearest candidate that the heuristic accepts beside the links
         * kept so far. */
        size_t m = gather(h, dead, sc, u, l, vx_hnsw_new_epoch(sc));
        size_t kept = 0, lost = 0;
        for (uint32_t j = 0; j < ln[0]; j++) {
            if (dead[ln[1 + j]])
                lost++;
            else
                ln[1 + kept++] = ln[1 + j];
        }
        vx_hnsw_list_trim(h, ln, l, kept);
        /* candidates past the kept ones: those from removed nodes */
        uint32_t *cand = sc->buf_i + kept;
        float *cd = sc->buf_d + kept;
        size_t nc = m - kept;
        for (size_t j = 0; j < nc; j++)
            cd[j] = st->ops->dist_pair(st, u, cand[j]);
        vx_hnsw_sort_candidates(cand, cd, nc);
        size_t room = (size_t)vx_hnsw_max_degree(h, l) - kept;
        if (room > lost)
            room = lost;
        for (size_t j = 0; j < nc && room > 0; j++) {
            bool good = true;
            for (uint32_t r = 0; r < ln[0] && good; r++)
                good = !(st->ops->dist_pair(st, cand[j], ln[1 + r]) < cd[j]);
            if (good) {
                ln[1 + ln[0]++] = cand[j];
                room--;
            }
        }
    }
}

vindex_status vx_hnsw_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    vx_hnsw *h = (vx_hnsw *)ix;
    size_t ns = h->nslots, nd = 0;
    *n_removed = 0;
    if (h->map)
        return vx_hnsw_refuse_mapped(h, "remove_ids");
    if (ns == 0)
        return VINDEX_OK;
    uint8_t *dead = vx_calloc(ns, 1);
    if (!dead)
        return VINDEX_ERR_NOMEM;
    for (size_t s = 0; s < ns; s++)
        if (h->levels[s] >= 0 && vindex_selector_contains(sel, h->labels[s])) {
            dead[s] = 1;
            nd++;
        }
    if (nd == 0) {
        vx_free(dead);
        return VINDEX_OK;
    }

    /* Everything that can fail, first. */
    vindex_status st = VINDEX_OK;
    size_t nw = 0;
    vx_hnsw_scratch *sc[MAX_WORKERS];
    uint8_t *seen = vx_calloc(ns, 1);
    uint32_t *queue = vx_alloc(ns, sizeof *queue);
    float *vec = vx_alloc((size_t)ix->d, sizeof *vec);
    if (!seen || !queue || !vec) {
        st = VINDEX_ERR_NOMEM;
        goto out;
    }
    if (h->nfree + nd > h->free_cap) {
        uint32_t *fs = vx_realloc(h->free_slots, h->nfree, h->nfree + nd, sizeof *fs);
        if (!fs) {
            st = VINDEX_ERR_NOMEM;
            goto out;
        }
        h->free_slots = fs;
        h->free_cap = h->nfree + nd;
    }
    {
        int nt = vx_num_threads();
        size_t want = ns < (size_t)nt ? ns : (size_t)nt;
        if (want > MAX_WORKERS)
            want = MAX_WORKERS;
        size_t nbuf = (size_t)h->M0 * (size_t)(h->M0 + 1) + 1;
        for (nw = 0; nw < want; nw++)
            if (!(sc[nw] = vx_hnsw_scratch_get(h, (size_t)h->ef_construction, nbuf))) {
                st = VINDEX_ERR_NOMEM;
                goto out;
            }
    }

    /* 1. repair the survivors' lists */
    repair_ctx c = {h, dead, sc};
    vx_parallel_for(ns, (int)nw, repair_node, &c);

    /* 2. free the removed slots (pushed from the highest, so that adds reuse
     * the lowest first) */
    for (size_t s = ns; s-- > 0;) {
        if (!dead[s])
            continue;
        vx_free(h->upper[s]);
        h->upper[s] = NULL;
        h->levels[s] = -1;
        vx_hnsw_list_trim(h, h->links0 + s * (size_t)(h->M0 + 1), 0, 0);
        vx_idhash_remove(&h->slot_of, h->labels[s]);
        h->labels[s] = -1;
        h->free_slots[h->nfree++] = (uint32_t)s;
    }
    ix->ntotal -= (int64_t)nd;
    if (h->entry >= 0 && dead[h->entry]) {
        h->entry = -1;
        h->max_level = -1;
        for (size_t s = 0; s < ns; s++)
            if (h->levels[s] > h->max_level) {
                h->max_level = h->levels[s];
                h->entry = (int64_t)s;
            }
    }

    /* 3. reconnect survivors that nothing reaches any more */
    vx_hnsw_relink_unreachable(h, sc[0], seen, queue, vec);
    *n_removed = nd;

out:
    for (size_t w = 0; w < nw; w++)
        vx_hnsw_scratch_put(h, sc[w]);
    vx_free(dead);
    vx_free(seen);
    vx_free(queue);
    vx_free(vec);
    return st;
}
