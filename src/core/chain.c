/* Orders for locality (see chain.h). */
#include "chain.h"

#include <string.h>

#include "alloc.h"

static inline bool has_key(int64_t k, size_t nkeys) { return k >= 0 && (uint64_t)k < nkeys; }

/* The bucket of an item's first key for grouping (none: bucket 0). */
static inline size_t first_key(int64_t k, size_t nkeys) { return has_key(k, nkeys) ? (size_t)k : 0; }

void vx_group_by_key(size_t n, size_t per, const int64_t *keys, size_t nkeys, size_t *start,
                     uint32_t *members)
{
    const size_t total = n * per;
    memset(start, 0, (nkeys + 1) * sizeof *start);
    for (size_t t = 0; t < total; t++)
        if (has_key(keys[t], nkeys))
            start[keys[t] + 1]++;
    for (size_t k = 0; k < nkeys; k++)
        start[k + 1] += start[k];
    /* fill with a cursor per key (start[k] advanced, then shifted back) */
    for (size_t t = 0; t < total; t++)
        if (has_key(keys[t], nkeys))
            members[start[keys[t]]++] = (uint32_t)(t / per);
    for (size_t k = nkeys; k > 0; k--)
        start[k] = start[k - 1];
    start[0] = 0;
}

/* The greedy chain over pairs grouped by key (see chain.h). */
static void chain(size_t n, size_t per, const int64_t *keys, size_t nkeys, const size_t *start,
                  const uint32_t *members, const uint32_t *grouped, uint32_t *count,
                  uint8_t *seen, uint32_t *touched, uint32_t *order)
{
    size_t restart = 0, cur = SIZE_MAX;
    for (size_t at = 0; at < n; at++) {
        if (cur == SIZE_MAX) {
            while (seen[grouped[restart]])
                restart++;
            cur = grouped[restart];
        }
        seen[cur] = 1;
        order[at] = (uint32_t)cur;
        size_t ntouched = 0, best = SIZE_MAX;
        uint32_t best_count = 0;
        for (size_t r = 0; r < per; r++) {
            int64_t k = keys[cur * per + r];
            if (!has_key(k, nkeys))
                continue;
            for (size_t a = start[k]; a < start[k + 1]; a++) {
                uint32_t i = members[a];
                if (seen[i])
                    continue;
                if (count[i]++ == 0)
                    touched[ntouched++] = i;
                if (count[i] > best_count || (count[i] == best_count && i < best)) {
                    best_count = count[i];
                    best = i;
                }
            }
        }
        for (size_t a = 0; a < ntouched; a++)
            count[touched[a]] = 0;
        cur = best;
    }
}

bool vx_chain_order(size_t n, size_t per, const int64_t *keys, size_t nkeys,
                    size_t max_per_key, uint32_t *order)
{
    if (per == 0 || nkeys == 0) { /* nothing to share */
        for (size_t i = 0; i < n; i++)
            order[i] = (uint32_t)i;
        return true;
    }
    const size_t total = n * per;
    const bool chained = total <= max_per_key * nkeys;
    size_t *start = vx_calloc(nkeys + 1, sizeof *start);
    uint32_t *grouped = vx_alloc(n ? n : 1, sizeof *grouped);
    uint32_t *members = chained ? vx_alloc(total ? total : 1, sizeof *members) : NULL;
    uint32_t *count = chained ? vx_calloc(n ? n : 1, sizeof *count) : NULL;
    uint32_t *touched = chained ? vx_alloc(n ? n : 1, sizeof *touched) : NULL;
    uint8_t *seen = chained ? vx_calloc(n ? n : 1, 1) : NULL;
    bool ok = start && grouped && (!chained || (members && count && touched && seen));
    if (ok) {
        /* grouped by first key: a stable counting sort (no key: with key 0) */
        for (size_t i = 0; i < n; i++)
            start[first_key(keys[i * per], nkeys) + 1]++;
        for (size_t k = 0; k < nkeys; k++)
            start[k + 1] += start[k];
        for (size_t i = 0; i < n; i++)
            grouped[start[first_key(keys[i * per], nkeys)]++] = (uint32_t)i;
        if (chained) {
            vx_group_by_key(n, per, keys, nkeys, start, members);
            chain(n, per, keys, nkeys, start, members, grouped, count, seen, touched, order);
        } else {
            memcpy(order, grouped, n * sizeof *order);
        }
    }
    vx_free(start);
    vx_free(grouped);
    vx_free(members);
    vx_free(count);
    vx_free(touched);
    vx_free(seen);
    return ok;
}
