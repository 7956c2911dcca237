#include "selector.h"

#include <string.h>

#include "alloc.h"
#include "error.h"

static vindex_selector *new_selector(vx_sel_kind kind)
{
    vindex_selector *s = vx_calloc(1, sizeof *s);
    if (s) {
        s->kind = kind;
        vx_idhash_init(&s->set);
    }
    return s;
}

VINDEX_API vindex_status vindex_selector_range(vindex_selector **out, vindex_id lo, vindex_id hi)
{
    vx_clear_error();
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "selector_range: out is NULL");
    *out = NULL;
    vindex_selector *s = new_selector(VX_SEL_RANGE);
    if (!s)
        return VINDEX_ERR_NOMEM;
    s->lo = lo;
    s->hi = hi;
    *out = s;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_selector_batch(vindex_selector **out, size_t n, const vindex_id *ids)
{
    vx_clear_error();
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "selector_batch: out is NULL");
    *out = NULL;
    if (n > 0 && !ids)
        return vx_fail(VINDEX_ERR_INVALID, "selector_batch: ids is NULL");
    vindex_selector *s = new_selector(VX_SEL_BATCH);
    if (!s)
        return VINDEX_ERR_NOMEM;
    if (vx_idhash_reserve(&s->set, n) != VINDEX_OK) {
        vx_free(s);
        return vx_fail(VINDEX_ERR_NOMEM, "selector_batch: out of memory for %zu ids", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == VX_IDHASH_EMPTY)
            continue; /* INT64_MIN is never a stored id */
        vx_idhash_put(&s->set, ids[i], 0);
    }
    *out = s;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_selector_bitmap(vindex_selector **out, size_t nbits,
                                                const uint8_t *bitmap)
{
    vx_clear_error();
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "selector_bitmap: out is NULL");
    *out = NULL;
    if (nbits > 0 && !bitmap)
        return vx_fail(VINDEX_ERR_INVALID, "selector_bitmap: bitmap is NULL");
    vindex_selector *s = new_selector(VX_SEL_BITMAP);
    if (!s)
        return VINDEX_ERR_NOMEM;
    size_t nbytes = (nbits + 7) / 8;
    s->bits = vx_alloc(nbytes ? nbytes : 1, 1);
    if (!s->bits) {
        vx_free(s);
        return VINDEX_ERR_NOMEM;
    }
    if (nbytes)
        memcpy(s->bits, bitmap, nbytes);
    s->nbits = nbits;
    *out = s;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_selector_not(vindex_selector **out, const vindex_selector *inner)
{
    vx_clear_error();
    if (!out || !inner)
        return vx_fail(VINDEX_ERR_INVALID, "selector_not: %s is NULL", out ? "inner" : "out");
    *out = NULL;
    vindex_selector *s = new_selector(VX_SEL_NOT);
    if (!s)
        return VINDEX_ERR_NOMEM;
    s->inner = inner;
    *out = s;
    return VINDEX_OK;
}

void vx_selector_translated(vindex_selector *out, const vindex_selector *inner,
                            const vindex_id *id_map)
{
    memset(out, 0, sizeof *out);
    out->kind = VX_SEL_TRANSLATED;
    out->inner = inner;
    out->id_map = id_map;
}

VINDEX_API int vindex_selector_contains(const vindex_selector *sel, vindex_id id)
{
    if (!sel)
        return 1;
    switch (sel->kind) {
    case VX_SEL_RANGE:
        return id >= sel->lo && id < sel->hi;
    case VX_SEL_BATCH:
        return vx_idhash_get(&sel->set, id, NULL);
    case VX_SEL_BITMAP:
        return id >= 0 && (uint64_t)id < sel->nbits && ((sel->bits[id >> 3] >> (id & 7)) & 1);
    case VX_SEL_NOT:
        return !vindex_selector_contains(sel->inner, id);
    case VX_SEL_TRANSLATED:
        return id >= 0 && vindex_selector_contains(sel->inner, sel->id_map[id]);
    }
    return 0;
}

VINDEX_API void vindex_selector_free(vindex_selector *sel)
{
    if (!sel)
        return;
    vx_idhash_free(&sel->set);
    vx_free(sel->bits);
    vx_free(sel);
}
