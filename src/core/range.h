/* Building range-search results: one growable list of hits per query, filled
 * by whichever thread handles that query, then sorted and packed into the
 * public CSR form. */
#ifndef VX_RANGE_H
#define VX_RANGE_H

#include "vindex.h"

typedef struct vx_range_list {
    float *dis;
    vindex_id *ids;
    size_t n, cap;
} vx_range_list;

/* nq empty lists, or NULL (NOMEM recorded). */
vx_range_list *vx_range_lists_new(size_t nq);
void vx_range_lists_free(vx_range_list *lists, size_t nq);

/* Appends a hit. VINDEX_OK or VINDEX_ERR_NOMEM (the list is unchanged then). */
vindex_status vx_range_push(vx_range_list *l, float dis, vindex_id id);

/* Sorts every list nearest first (ties by smaller id) and packs them into a new
 * result. The lists are left for the caller to free. */
vindex_status vx_range_pack(vx_range_list *lists, size_t nq, vindex_metric metric,
                            vindex_range_result **out);

#endif
