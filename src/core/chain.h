/*
 * Orders for locality: items (queries) that share keys (the lists they probe,
 * the rows they re-rank) scanned one after another find the keyed data still
 * in cache. Used by the IVF core's by-query search and by IndexRefine.
 */
#ifndef VX_CHAIN_H
#define VX_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* n items with `per` keys each: keys[i * per + r] in [0, nkeys) (any other
 * value: no key). Groups the (item, key) pairs by key: the items holding key k are
 * members[start[k] .. start[k + 1]), in increasing order (an item once per
 * time it holds k). start: nkeys + 1 entries; members: n * per. */
void vx_group_by_key(size_t n, size_t per, const int64_t *keys, size_t nkeys, size_t *start,
                     uint32_t *members);

/* A permutation of 0..n-1 into order (n < 2^32): first the items grouped by
 * their first key (a stable counting sort), then, when that costs little
 * (at most max_per_key items per key on average), chained greedily: after
 * each item comes the unvisited one that shares the most keys with it (ties:
 * the smaller index), a restart taking the next unvisited item of the grouped
 * order. False without memory (order untouched). */
bool vx_chain_order(size_t n, size_t per, const int64_t *keys, size_t nkeys,
                    size_t max_per_key, uint32_t *order);

#endif
