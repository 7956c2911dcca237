/* Id selectors (the public vindex_selector) and the internal "translated" kind
 * that wrappers use to apply a selector on outer ids to an inner index whose
 * labels are positions. */
#ifndef VX_SELECTOR_H
#define VX_SELECTOR_H

#include "idhash.h"
#include "vindex.h"

typedef enum { VX_SEL_RANGE, VX_SEL_BATCH, VX_SEL_BITMAP, VX_SEL_NOT, VX_SEL_TRANSLATED } vx_sel_kind;

struct vindex_selector {
    vx_sel_kind kind;
    vindex_id lo, hi;              /* RANGE */
    vx_idhash set;                 /* BATCH */
    uint8_t *bits;                 /* BITMAP */
    size_t nbits;
    const vindex_selector *inner;  /* NOT, TRANSLATED */
    const vindex_id *id_map;       /* TRANSLATED: position -> outer id */
};

/* A selector, living in caller storage, that selects position p when `inner`
 * selects id_map[p]. Nothing to free. */
void vx_selector_translated(vindex_selector *out, const vindex_selector *inner,
                            const vindex_id *id_map);

static inline int vx_selected(const vindex_selector *sel, vindex_id id)
{
    return sel == NULL || vindex_selector_contains(sel, id);
}

#endif
