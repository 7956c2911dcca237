#include "idhash.h"

#include "alloc.h"
#include "vindex.h"

static inline size_t slot_of(const vx_idhash *h, int64_t key)
{
    /* A 64-bit mix (from splitmix64) spreads sequential ids over the table. */
    uint64_t x = (uint64_t)key;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x & (h->cap - 1);
}

void vx_idhash_init(vx_idhash *h)
{
    h->keys = NULL;
    h->values = NULL;
    h->cap = 0;
    h->count = 0;
}

void vx_idhash_free(vx_idhash *h)
{
    vx_free(h->keys);
    vx_free(h->values);
    vx_idhash_init(h);
}

int vx_idhash_reserve(vx_idhash *h, size_t n)
{
    /* Keep the load factor at most 1/2. */
    size_t need = 16;
    while (need < 2 * n) {
        if (need > SIZE_MAX / 4)
            return VINDEX_ERR_NOMEM;
        need *= 2;
    }
    if (need <= h->cap)
        return VINDEX_OK;
    int64_t *keys = vx_alloc(need, sizeof *keys);
    int64_t *values = vx_alloc(need, sizeof *values);
    if (!keys || !values) {
        vx_free(keys);
        vx_free(values);
        return VINDEX_ERR_NOMEM;
    }
    for (size_t i = 0; i < need; i++)
        keys[i] = VX_IDHASH_EMPTY;
    vx_idhash old = *h;
    h->keys = keys;
    h->values = values;
    h->cap = need;
    h->count = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i] != VX_IDHASH_EMPTY)
            vx_idhash_put(h, old.keys[i], old.values[i]);
    vx_free(old.keys);
    vx_free(old.values);
    return VINDEX_OK;
}

void vx_idhash_put(vx_idhash *h, int64_t key, int64_t value)
{
    size_t mask = h->cap - 1;
    for (size_t i = slot_of(h, key);; i = (i + 1) & mask) {
        if (h->keys[i] == VX_IDHASH_EMPTY) {
            h->keys[i] = key;
            h->values[i] = value;
            h->count++;
            return;
        }
        if (h->keys[i] == key) {
            h->values[i] = value;
            return;
        }
    }
}

bool vx_idhash_get(const vx_idhash *h, int64_t key, int64_t *value)
{
    if (h->cap == 0)
        return false;
    size_t mask = h->cap - 1;
    for (size_t i = slot_of(h, key);; i = (i + 1) & mask) {
        if (h->keys[i] == VX_IDHASH_EMPTY)
            return false;
        if (h->keys[i] == key) {
            if (value)
                *value = h->values[i];
            return true;
        }
    }
}

bool vx_idhash_remove(vx_idhash *h, int64_t key)
{
    if (h->cap == 0)
        return false;
    size_t mask = h->cap - 1;
    size_t i = slot_of(h, key);
    while (h->keys[i] != key) {
        if (h->keys[i] == VX_IDHASH_EMPTY)
            return false;
        i = (i + 1) & mask;
    }
    /* Backward-shift: pull later entries of the probe run into the hole when
     * their home slot does not lie cyclically in (hole, j]. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; h->keys[j] != VX_IDHASH_EMPTY; j = (j + 1) & mask) {
        size_t home = slot_of(h, h->keys[j]);
        int in_between = (hole <= j) ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!in_between) {
            h->keys[hole] = h->keys[j];
            h->values[hole] = h->values[j];
            hole = j;
        }
    }
    h->keys[hole] = VX_IDHASH_EMPTY;
    h->count--;
    return true;
}
