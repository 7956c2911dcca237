/*
 * IndexIDMap and IndexIDMap2: a wrapper that gives the vectors of any index
 * whose labels are positions (a Flat index, say) arbitrary int64 ids.
 *
 * id_map[p] is the id of the vector at position p of the inner index; a hash
 * from id to position refuses duplicate ids and, for IDMap2, serves
 * reconstruct by id. Removing renumbers the inner positions (the inner index
 * compacts in order, as Flat does), so id_map is compacted the same way and the
 * hash rebuilt in place.
 */
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/idhash.h"
#include "../core/selector.h"
#include "../io/registry.h"
#include "index.h"

typedef struct idmap {
    vindex base;
    vindex *sub;
    vindex_id *id_map;
    size_t cap;
    vx_idhash positions; /* id -> position */
} idmap;

static const vx_index_ops idmap_ops, idmap2_ops;

const vindex *vx_idmap_sub(const vindex *ix)
{
    return ((const idmap *)ix)->sub;
}

static vindex_status idmap_train(vindex *ix, size_t n, const float *x)
{
    idmap *m = (idmap *)ix;
    vindex_status st = vx_index_train(m->sub, n, x);
    ix->is_trained = m->sub->is_trained;
    return st;
}

static vindex_status idmap_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    idmap *m = (idmap *)ix;
    if (!ids)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "add: %s needs ids for its vectors; use add_with_ids", ix->ops->type_name);
    size_t at = (size_t)ix->ntotal;
    if (at + n > m->cap) {
        size_t cap = m->cap * 2 > at + n ? m->cap * 2 : at + n;
        vindex_id *grown = vx_realloc(m->id_map, at, cap, sizeof *grown);
        if (!grown)
            return VINDEX_ERR_NOMEM;
        m->id_map = grown;
        m->cap = cap;
    }
    if (vx_idhash_reserve(&m->positions, at + n) != VINDEX_OK)
        return vx_fail(VINDEX_ERR_NOMEM, "add_with_ids: out of memory for %zu ids", at + n);
    size_t i;
    vindex_status st = VINDEX_OK;
    for (i = 0; i < n; i++) {
        if (ids[i] == -1 || ids[i] == VX_IDHASH_EMPTY) {
            st = vx_fail(VINDEX_ERR_INVALID, "add_with_ids: id %lld (at %zu) is reserved",
                         (long long)ids[i], i);
            break;
        }
        if (vx_idhash_get(&m->positions, ids[i], NULL)) {
            st = vx_fail(VINDEX_ERR_INVALID, "add_with_ids: duplicate id %lld (at %zu)",
                         (long long)ids[i], i);
            break;
        }
        vx_idhash_put(&m->positions, ids[i], (int64_t)(at + i));
    }
    if (!st)
        st = vx_index_add(m->sub, n, x, NULL);
    if (st) {
        while (i-- > 0) /* undo: the index stays as it was */
            vx_idhash_remove(&m->positions, ids[i]);
        return st;
    }
    memcpy(m->id_map + at, ids, n * sizeof *ids);
    ix->ntotal = m->sub->ntotal;
    return VINDEX_OK;
}

/* The caller's params with the selector turned from ids into inner positions. */
static const vindex_search_params *inner_params(const idmap *m, const vindex_search_params *p,
                                                vindex_search_params *copy, vindex_selector *tsel)
{
    if (!p || !p->sel)
        return p;
    *copy = *p;
    vx_selector_translated(tsel, p->sel, m->id_map);
    copy->sel = tsel;
    return copy;
}

static vindex_status idmap_search(const vindex *ix, size_t nq, const float *q, size_t k,
                                  const vindex_search_params *p, float *distances,
                                  vindex_id *labels)
{
    const idmap *m = (const idmap *)ix;
    vindex_search_params copy;
    vindex_selector tsel;
    vindex_status st = vx_index_search(m->sub, nq, q, k, inner_params(m, p, &copy, &tsel),
                                       distances, labels);
    if (st)
        return st;
    for (size_t i = 0; i < nq * k; i++)
        if (labels[i] >= 0)
            labels[i] = m->id_map[labels[i]];
    return VINDEX_OK;
}

static vindex_status idmap_range_search(const vindex *ix, size_t nq, const float *q,
                                        float radius, const vindex_search_params *p,
                                        vx_range_list *lists)
{
    const idmap *m = (const idmap *)ix;
    vindex_search_params copy;
    vindex_selector tsel;
    vindex_status st =
        vx_index_range_search(m->sub, nq, q, radius, inner_params(m, p, &copy, &tsel), lists);
    if (st)
        return st;
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < lists[i].n; j++)
            lists[i].ids[j] = m->id_map[lists[i].ids[j]];
    return VINDEX_OK;
}

static vindex_status idmap2_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    const idmap *m = (const idmap *)ix;
    int64_t pos;
    if (!vx_idhash_get(&m->positions, id, &pos))
        return vx_fail(VINDEX_ERR_NOT_FOUND, "reconstruct: id %lld is not in the index",
                       (long long)id);
    return vx_index_reconstruct(m->sub, pos, out);
}

static vindex_status idmap_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    idmap *m = (idmap *)ix;
    vindex_selector tsel;
    vx_selector_translated(&tsel, sel, m->id_map);
    size_t removed = 0;
    vindex_status st = vx_index_remove_ids(m->sub, &tsel, &removed);
    if (st)
        return st;
    size_t n = (size_t)ix->ntotal, kept = 0;
    for (size_t i = 0; i < n; i++) {
        vindex_id id = m->id_map[i];
        if (vindex_selector_contains(sel, id)) {
            vx_idhash_remove(&m->positions, id);
            continue;
        }
        m->id_map[kept] = id;
        if (kept != i)
            vx_idhash_put(&m->positions, id, (int64_t)kept); /* overwrite: no allocation */
        kept++;
    }
    ix->ntotal = m->sub->ntotal;
    *n_removed = removed;
    return VINDEX_OK;
}

static void idmap_reset(vindex *ix)
{
    idmap *m = (idmap *)ix;
    if (m->sub->ops->reset)
        m->sub->ops->reset(m->sub);
    vx_free(m->id_map);
    m->id_map = NULL;
    m->cap = 0;
    vx_idhash_free(&m->positions);
    ix->ntotal = 0;
}

static void idmap_destroy(vindex *ix)
{
    idmap *m = (idmap *)ix;
    vindex_free(m->sub);
    vx_free(m->id_map);
    vx_idhash_free(&m->positions);
    vx_free(m);
}

static size_t idmap_memory(const vindex *ix)
{
    const idmap *m = (const idmap *)ix;
    return sizeof *m + vindex_memory_bytes(m->sub) + m->cap * sizeof(vindex_id) +
           m->positions.cap * 2 * sizeof(int64_t);
}

static vindex_status idmap_set_param(vindex *ix, const char *name, double value)
{
    return vindex_set_param(((idmap *)ix)->sub, name, value);
}

static vindex_status idmap_get_param(const vindex *ix, const char *name, double *value)
{
    return vindex_get_param(((const idmap *)ix)->sub, name, value);
}

/* ---- persistence (docs/FORMAT.md, "IndexIDMap") --------------------------- */

#define TAG_IDMAP_IDS VX_TAG('I', 'D', 'S', ' ')

static const vx_index_ops idmap_ops, idmap2_ops;

/* INDX, the wrapped index (nested), then the ids by position. */
static vindex_status idmap_write(const vindex *ix, vx_writer *w)
{
    const idmap *m = (const idmap *)ix;
    vx_io_write_index_header(w, ix, ix->ops == &idmap2_ops ? VX_FAMILY_IDMAP2 : VX_FAMILY_IDMAP);
    vindex_status st = vx_io_write_index(w, m->sub);
    if (st)
        return st;
    vx_writer_array(w, TAG_IDMAP_IDS, m->id_map, (size_t)ix->ntotal, sizeof(vindex_id));
    return vx_writer_status(w);
}

static vindex_status idmap_read(vx_reader *r, const vx_io_index_header *h, vindex **out,
                                const vx_index_ops *ops)
{
    vindex *sub;
    vindex_status st = vx_io_read_index(r, &sub);
    if (st)
        return st;
    if (sub->ops->supports_ids || !sub->ops->remove_ids || sub->d != h->d ||
        sub->metric != h->metric || sub->ntotal != h->ntotal) {
        st = vx_io_corrupt("%s: it cannot wrap the %s stored in it (d %d, ntotal %lld)",
                           ops->type_name, sub->ops->type_name, sub->d, (long long)sub->ntotal);
        vindex_free(sub);
        return st;
    }
    idmap *m = vx_calloc(1, sizeof *m);
    if (!m) {
        vindex_free(sub);
        return VINDEX_ERR_NOMEM;
    }
    vx_index_init(&m->base, ops, sub->d, sub->metric, sub->is_trained);
    m->sub = sub;
    vx_idhash_init(&m->positions);
    *out = &m->base; /* freed by the caller on failure */
    const size_t n = (size_t)sub->ntotal;
    void *ids;
    if ((st = vx_reader_array(r, TAG_IDMAP_IDS, n, sizeof(vindex_id), &ids, NULL)))
        return st;
    m->id_map = ids;
    m->cap = n;
    if (vx_idhash_reserve(&m->positions, n) != VINDEX_OK)
        return vx_fail(VINDEX_ERR_NOMEM, "read: out of memory for %zu ids", n);
    for (size_t i = 0; i < n; i++) {
        vindex_id id = m->id_map[i];
        if (id == -1 || id == VX_IDHASH_EMPTY || vx_idhash_get(&m->positions, id, NULL))
            return vx_io_corrupt("%s: id %lld (at %zu) is reserved or repeated",
                                 ops->type_name, (long long)id, i);
        vx_idhash_put(&m->positions, id, (int64_t)i);
    }
    m->base.ntotal = (int64_t)n;
    return VINDEX_OK;
}

vindex_status vx_idmap_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    return idmap_read(r, h, out, &idmap_ops);
}

vindex_status vx_idmap2_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    return idmap_read(r, h, out, &idmap2_ops);
}

VINDEX_API vindex_status vindex_idmap_index(const vindex *ix, vindex **out)
{
    vx_clear_error();
    if (!ix || !out)
        return vx_fail(VINDEX_ERR_INVALID, "idmap_index: %s is NULL", ix ? "out" : "index");
    if (ix->ops != &idmap_ops && ix->ops != &idmap2_ops)
        return vx_fail(VINDEX_ERR_UNSUPPORTED, "idmap_index: %s is not an IndexIDMap",
                       ix->ops->type_name);
    *out = ((const idmap *)ix)->sub;
    return VINDEX_OK;
}

#define IDMAP_OPS(name_, reconstruct_)                                                         \
    {                                                                                          \
        .type_name = name_, .train = idmap_train, .add = idmap_add, .supports_ids = true,     \
        .search = idmap_search, .range_search = idmap_range_search,                           \
        .reconstruct = reconstruct_, .remove_ids = idmap_remove_ids, .reset = idmap_reset,     \
        .destroy = idmap_destroy, .memory_bytes = idmap_memory,                                \
        .set_param = idmap_set_param, .get_param = idmap_get_param, .write = idmap_write,      \
    }

/* IDMap keeps no way back from ids to positions in its contract (as Faiss), so
 * it cannot reconstruct; IDMap2 can. */
static const vx_index_ops idmap_ops = IDMAP_OPS("IndexIDMap", NULL);
static const vx_index_ops idmap2_ops = IDMAP_OPS("IndexIDMap2", idmap2_reconstruct);

static vindex_status idmap_new(vindex **out, vindex *sub, const vx_index_ops *ops)
{
    vx_clear_error();
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "%s: out is NULL", ops->type_name);
    *out = NULL;
    if (!sub)
        return vx_fail(VINDEX_ERR_INVALID, "%s: the wrapped index is NULL", ops->type_name);
    if (sub->ntotal != 0)
        return vx_fail(VINDEX_ERR_INVALID, "%s: the wrapped index must be empty (it holds %lld)",
                       ops->type_name, (long long)sub->ntotal);
    if (sub->ops->supports_ids || !sub->ops->remove_ids)
        return vx_fail(VINDEX_ERR_UNSUPPORTED, "%s: cannot wrap %s", ops->type_name,
                       sub->ops->type_name);
    idmap *m = vx_calloc(1, sizeof *m);
    if (!m)
        return VINDEX_ERR_NOMEM;
    vx_index_init(&m->base, ops, sub->d, sub->metric, sub->is_trained);
    m->sub = sub;
    vx_idhash_init(&m->positions);
    *out = &m->base;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_idmap_new(vindex **out, vindex *sub)
{
    return idmap_new(out, sub, &idmap_ops);
}

VINDEX_API vindex_status vindex_idmap2_new(vindex **out, vindex *sub)
{
    return idmap_new(out, sub, &idmap2_ops);
}
