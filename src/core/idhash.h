/* An open-addressing hash map from int64 ids to int64 values (positions). Used
 * for id sets (batch selectors), id -> position maps (IDMap2, direct maps) and
 * duplicate detection. Linear probing with backward-shift deletion, so lookups
 * never walk tombstones. */
#ifndef VX_IDHASH_H
#define VX_IDHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vx_idhash {
    int64_t *keys;   /* VX_IDHASH_EMPTY marks a free slot */
    int64_t *values;
    size_t cap;      /* a power of two, or 0 */
    size_t count;
} vx_idhash;

#define VX_IDHASH_EMPTY INT64_MIN

void vx_idhash_init(vx_idhash *h);
void vx_idhash_free(vx_idhash *h);
/* Makes room for `n` entries in all without further allocation. VINDEX_OK or
 * VINDEX_ERR_NOMEM; the map is unchanged on failure. */
int vx_idhash_reserve(vx_idhash *h, size_t n);
/* Inserts or overwrites. Needs room (reserve first); never fails. The key must
 * not be VX_IDHASH_EMPTY. */
void vx_idhash_put(vx_idhash *h, int64_t key, int64_t value);
bool vx_idhash_get(const vx_idhash *h, int64_t key, int64_t *value);
bool vx_idhash_remove(vx_idhash *h, int64_t key);

#endif
