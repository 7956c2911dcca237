#include "range.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

vx_range_list *vx_range_lists_new(size_t nq)
{
    return vx_calloc(nq ? nq : 1, sizeof(vx_range_list));
}

void vx_range_lists_free(vx_range_list *lists, size_t nq)
{
    if (!lists)
        return;
    for (size_t i = 0; i < nq; i++) {
        vx_free(lists[i].dis);
        vx_free(lists[i].ids);
    }
    vx_free(lists);
}

vindex_status vx_range_push(vx_range_list *l, float dis, vindex_id id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        float *d = vx_realloc(l->dis, l->n, cap, sizeof *d);
        if (!d)
            return VINDEX_ERR_NOMEM;
        l->dis = d;
        vindex_id *ids = vx_realloc(l->ids, l->n, cap, sizeof *ids);
        if (!ids)
            return VINDEX_ERR_NOMEM;
        l->ids = ids;
        l->cap = cap;
    }
    l->dis[l->n] = dis;
    l->ids[l->n] = id;
    l->n++;
    return VINDEX_OK;
}

typedef struct {
    float dis;
    vindex_id id;
} hit;

static int cmp_l2(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->dis != y->dis)
        return x->dis < y->dis ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_ip(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->dis != y->dis)
        return x->dis > y->dis ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

VINDEX_API void vindex_range_result_free(vindex_range_result *res)
{
    if (!res)
        return;
    vx_free(res->lims);
    vx_free(res->distances);
    vx_free(res->labels);
    vx_free(res);
}

vindex_status vx_range_pack(vx_range_list *lists, size_t nq, vindex_metric metric,
                            vindex_range_result **out)
{
    size_t total = 0, longest = 0;
    for (size_t i = 0; i < nq; i++) {
        total += lists[i].n;
        if (lists[i].n > longest)
            longest = lists[i].n;
    }
    vindex_range_result *res = vx_calloc(1, sizeof *res);
    hit *tmp = vx_alloc(longest ? longest : 1, sizeof *tmp);
    if (res) {
        res->nq = nq;
        res->lims = vx_alloc(nq + 1, sizeof *res->lims);
        res->distances = vx_alloc(total ? total : 1, sizeof *res->distances);
        res->labels = vx_alloc(total ? total : 1, sizeof *res->labels);
    }
    if (!res || !tmp || !res->lims || !res->distances || !res->labels) {
        vindex_range_result_free(res);
        vx_free(tmp);
        return vx_fail(VINDEX_ERR_NOMEM, "range_search: out of memory for %zu results", total);
    }
    size_t at = 0;
    for (size_t i = 0; i < nq; i++) {
        res->lims[i] = at;
        const vx_range_list *l = &lists[i];
        for (size_t j = 0; j < l->n; j++) {
            tmp[j].dis = l->dis[j];
            tmp[j].id = l->ids[j];
        }
        qsort(tmp, l->n, sizeof *tmp, metric == VINDEX_METRIC_L2 ? cmp_l2 : cmp_ip);
        for (size_t j = 0; j < l->n; j++) {
            res->distances[at + j] = tmp[j].dis;
            res->labels[at + j] = tmp[j].id;
        }
        at += l->n;
    }
    res->lims[nq] = at;
    vx_free(tmp);
    *out = res;
    return VINDEX_OK;
}
