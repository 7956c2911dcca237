/*
 * Persistence of IndexHNSWFlat and IndexHNSWSQ (docs/FORMAT.md, "HNSW"). After
 * the INDX section: the graph's fields (HNSM), the per-slot levels (HNLV), the
 * level-0 lists (HNL0: nslots records of M0 + 1 words), the upper-level lists
 * of every slot above level 0 concatenated in slot order (HNLU), the labels
 * (HNID), the free slots (HNFR), then the storage's sections (hnsw.c: fp32
 * vectors, or the SQ8 range and codes). Free slots are written as they are,
 * so a read index reuses them as the original would.
 *
 * With VINDEX_IO_MMAP the levels, lists, labels and vectors are used in place
 * and the index is read-only (add and remove_ids refuse; reset drops the
 * mapping and gives an empty, writable index). The reader checks everything
 * the search relies on before the index is used: degrees, every link to a
 * live slot on that level, the entry point on the top level, unique labels
 * below next_label, the free list.
 */
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../io/registry.h"
#include "hnsw.h"

#define TAG_META VX_TAG('H', 'N', 'S', 'M')
#define TAG_LEVELS VX_TAG('H', 'N', 'L', 'V')
#define TAG_LINKS0 VX_TAG('H', 'N', 'L', '0')
#define TAG_UPPER VX_TAG('H', 'N', 'L', 'U')
#define TAG_LABELS VX_TAG('H', 'N', 'I', 'D')
#define TAG_FREE VX_TAG('H', 'N', 'F', 'R')

static size_t upper_words(const vx_hnsw *h, uint32_t slot)
{
    return h->levels[slot] > 0 ? (size_t)h->levels[slot] * (size_t)(h->M + 1) : 0;
}

vindex_status vx_hnsw_write(const vindex *ix, vx_writer *w)
{
    const vx_hnsw *h = (const vx_hnsw *)ix;
    size_t n = h->nslots, rec = (size_t)(h->M0 + 1), uw = 0;
    for (size_t s = 0; s < n; s++)
        uw += upper_words(h, (uint32_t)s);
    vx_io_write_index_header(w, ix, h->store->ops->family_tag);
    vx_writer_begin(w, TAG_META);
    vx_writer_u32(w, (uint32_t)h->M);
    vx_writer_u32(w, (uint32_t)h->ef_construction);
    vx_writer_u32(w, (uint32_t)h->ef_search);
    vx_writer_u64(w, h->seed);
    vx_writer_u64(w, h->ninserted);
    vx_writer_i64(w, h->next_label);
    vx_writer_i64(w, h->entry);
    vx_writer_i64(w, h->max_level);
    vx_writer_u64(w, n);
    vx_writer_u64(w, h->nfree);
    vx_writer_u64(w, uw);
    vx_writer_end(w);
    vx_writer_array(w, TAG_LEVELS, h->levels, n, sizeof *h->levels);
    vx_writer_array(w, TAG_LINKS0, h->links0, n * rec, sizeof *h->links0);
    vx_writer_begin(w, TAG_UPPER);
    for (size_t s = 0; s < n; s++)
        if (upper_words(h, (uint32_t)s))
            vx_writer_ref(w, h->upper[s], upper_words(h, (uint32_t)s) * sizeof(uint32_t));
    vx_writer_end(w);
    vx_writer_array(w, TAG_LABELS, h->labels, n, sizeof *h->labels);
    vx_writer_array(w, TAG_FREE, h->free_slots, h->nfree, sizeof *h->free_slots);
    h->store->ops->write(h->store, w, n);
    return vx_writer_status(w);
}

/* The graph's structure, as the search and the build rely on it. */
static vindex_status check_graph(const vx_hnsw *h, size_t live)
{
    size_t n = h->nslots;
    int top = -1;
    for (size_t s = 0; s < n; s++) {
        int L = h->levels[s];
        if (L < -1 || L > VX_HNSW_MAX_LEVEL)
            return vx_io_corrupt("HNSW: slot %zu has level %d", s, L);
        top = L > top ? L : top;
    }
    for (size_t s = 0; s < n; s++) {
        int L = h->levels[s];
        for (int l = 0; l <= (L < 0 ? 0 : L); l++) {
            const uint32_t *ln = vx_hnsw_links(h, (uint32_t)s, l);
            if (ln[0] > (uint32_t)vx_hnsw_max_degree(h, l) || (L < 0 && ln[0]))
                return vx_io_corrupt("HNSW: slot %zu has %u links on level %d", s, ln[0], l);
            for (uint32_t j = 0; j < ln[0]; j++)
                if (ln[1 + j] >= n || h->levels[ln[1 + j]] < l)
                    return vx_io_corrupt("HNSW: slot %zu links to slot %u on level %d", s,
                                         ln[1 + j], l);
        }
    }
    if (live == 0 ? (h->entry != -1 || h->max_level != -1)
                  : (h->entry < 0 || (size_t)h->entry >= n || h->max_level != top ||
                     h->levels[h->entry] != top))
        return vx_io_corrupt("HNSW: entry point %lld at level %d (top level %d)",
                             (long long)h->entry, h->max_level, top);
    return VINDEX_OK;
}

/* Labels of live slots: not -1, below next_label, unique (they go into the
 * hash); the free list: exactly the free slots, once each. */
static vindex_status check_labels_and_free(vx_hnsw *h, size_t live)
{
    if (vx_idhash_reserve(&h->slot_of, live) != VINDEX_OK)
        return VINDEX_ERR_NOMEM;
    size_t seen = 0;
    for (size_t s = 0; s < h->nslots; s++) {
        if (h->levels[s] < 0)
            continue;
        if (++seen > live)
            return vx_io_corrupt("HNSW: more live slots than ntotal %zu", live);
        vindex_id id = h->labels[s];
        int64_t other;
        if (id < 0 || id >= h->next_label || vx_idhash_get(&h->slot_of, id, &other))
            return vx_io_corrupt("HNSW: label %lld of slot %zu is negative, repeated or not "
                                 "below next_label %lld",
                                 (long long)id, s, (long long)h->next_label);
        vx_idhash_put(&h->slot_of, id, (int64_t)s);
    }
    if (seen != live)
        return vx_io_corrupt("HNSW: %zu live slots for ntotal %zu", seen, live);
    uint8_t *listed = vx_calloc(h->nslots ? h->nslots : 1, 1);
    if (!listed)
        return VINDEX_ERR_NOMEM;
    vindex_status st = VINDEX_OK;
    for (size_t i = 0; i < h->nfree && !st; i++) {
        uint32_t s = h->free_slots[i];
        if (s >= h->nslots || h->levels[s] != -1 || listed[s])
            st = vx_io_corrupt("HNSW: free slot %u is not free or is listed twice", s);
        else
            listed[s] = 1;
    }
    vx_free(listed);
    return st;
}

static vindex_status read_graph(vx_reader *r, vx_hnsw *h, size_t n, size_t nfree, size_t uw,
                                bool mapped)
{
    size_t rec = (size_t)(h->M0 + 1);
    bool ip = false, *want = mapped ? &ip : NULL;
    void *p;
    vindex_status st;
    if ((st = vx_reader_array(r, TAG_LEVELS, n, sizeof(int8_t), &p, want)))
        return st;
    h->levels = p;
    if ((st = vx_reader_array(r, TAG_LINKS0, n, rec * sizeof(uint32_t), &p, want)))
        return st;
    h->links0 = p;
    const uint32_t *blob;
    if ((st = vx_reader_view(r, TAG_UPPER, uw, sizeof(uint32_t), (const void **)&blob)))
        return st;
    /* the blob's length must be what the levels say, before any pointer into it */
    size_t want_words = 0;
    for (size_t s = 0; s < n; s++) {
        if (h->levels[s] < -1 || h->levels[s] > VX_HNSW_MAX_LEVEL)
            return vx_io_corrupt("HNSW: slot %zu has level %d", s, h->levels[s]);
        want_words += upper_words(h, (uint32_t)s);
    }
    if (want_words != uw)
        return vx_io_corrupt("HNSW: %zu upper-level words for levels that need %zu", uw,
                             want_words);
    for (size_t s = 0, at = 0; s < n; s++) {
        size_t words = upper_words(h, (uint32_t)s);
        if (!words)
            continue;
        if (mapped) {
            h->upper[s] = (uint32_t *)(blob + at); /* 4-byte aligned: the section is */
        } else {
            if (!(h->upper[s] = vx_alloc(words, sizeof(uint32_t))))
                return VINDEX_ERR_NOMEM;
            memcpy(h->upper[s], blob + at, words * sizeof(uint32_t));
        }
        at += words;
    }
    if ((st = vx_reader_array(r, TAG_LABELS, n, sizeof(vindex_id), &p, want)))
        return st;
    h->labels = p;
    if ((st = vx_reader_array(r, TAG_FREE, nfree, sizeof(uint32_t), &p, NULL)))
        return st;
    h->free_slots = p;
    h->nfree = h->free_cap = nfree;
    return VINDEX_OK;
}

typedef vindex_status (*hnsw_ctor)(vindex **out, int d, int M, vindex_metric metric);

static vindex_status hnsw_read(vx_reader *r, const vx_io_index_header *hd, vindex **out,
                               hnsw_ctor make)
{
    vx_cursor c;
    uint32_t M, efc, efs;
    uint64_t seed, ninserted, n, nfree, uw;
    int64_t next_label, entry, max_level;
    vindex_status st;
    *out = NULL;
    if ((st = vx_reader_section(r, TAG_META, &c)) || (st = vx_cursor_u32(&c, &M)) ||
        (st = vx_cursor_u32(&c, &efc)) || (st = vx_cursor_u32(&c, &efs)) ||
        (st = vx_cursor_u64(&c, &seed)) || (st = vx_cursor_u64(&c, &ninserted)) ||
        (st = vx_cursor_i64(&c, &next_label)) || (st = vx_cursor_i64(&c, &entry)) ||
        (st = vx_cursor_i64(&c, &max_level)) || (st = vx_cursor_u64(&c, &n)) ||
        (st = vx_cursor_u64(&c, &nfree)) || (st = vx_cursor_u64(&c, &uw)) ||
        (st = vx_cursor_done(&c)))
        return st;
    size_t room = vx_reader_remaining(r);
    if (M < 2 || M > 512 || efc < 1 || efc > INT32_MAX || efs < 1 || efs > INT32_MAX ||
        n > UINT32_MAX || n > room || nfree > n || uw > room / sizeof(uint32_t) ||
        hd->ntotal != (int64_t)(n - nfree) || next_label < hd->ntotal ||
        max_level < -1 || max_level > VX_HNSW_MAX_LEVEL || entry < -1 ||
        entry >= (int64_t)n || !hd->is_trained)
        return vx_io_corrupt("HNSW: inconsistent fields (M %u, %llu slots, %llu free, ntotal "
                             "%lld, entry %lld, top level %lld)",
                             M, (unsigned long long)n, (unsigned long long)nfree,
                             (long long)hd->ntotal, (long long)entry, (long long)max_level);
    if ((st = make(out, hd->d, (int)M, hd->metric)))
        return st;
    vx_hnsw *h = (vx_hnsw *)*out;
    h->ef_construction = (int)efc;
    h->ef_search = (int)efs;
    h->seed = seed;
    h->ninserted = ninserted;
    h->next_label = next_label;
    h->entry = entry;
    h->max_level = (int)max_level;
    bool mapped = vx_reader_in_place(r) && n > 0;
    if (mapped)
        h->map = vx_mapping_ref(vx_reader_mapping(r));
    h->nslots = h->cap = (size_t)n;
    size_t slots = n ? (size_t)n : 1;
    if (!(h->upper = vx_calloc(slots, sizeof *h->upper)) ||
        !(h->locks = vx_calloc(slots, sizeof *h->locks)))
        st = VINDEX_ERR_NOMEM;
    if (!st)
        st = read_graph(r, h, (size_t)n, (size_t)nfree, (size_t)uw, mapped);
    if (!st)
        st = h->store->ops->read(h->store, r, (size_t)n, mapped);
    if (!st)
        st = check_graph(h, (size_t)(n - nfree));
    if (!st)
        st = check_labels_and_free(h, (size_t)(n - nfree));
    if (st) {
        vindex_free(*out);
        *out = NULL;
        return st;
    }
    h->base.is_trained = true;
    h->base.ntotal = hd->ntotal;
    return VINDEX_OK;
}

vindex_status vx_hnsw_flat_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    return hnsw_read(r, h, out, vindex_hnsw_flat_new);
}

vindex_status vx_hnsw_sq8_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    return hnsw_read(r, h, out, vindex_hnsw_sq8_new);
}

vindex_status vx_hnsw_fp16_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    return hnsw_read(r, h, out, vindex_hnsw_fp16_new);
}

/* The PQ's M is in the storage's sections, read after the graph: the index is
 * made with M = 1 and its store takes the codec it reads. */
static vindex_status hnsw_pq_placeholder(vindex **out, int d, int M, vindex_metric metric)
{
    return vindex_hnsw_pq_new(out, d, 1, M, metric);
}

vindex_status vx_hnsw_pq_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    return hnsw_read(r, h, out, hnsw_pq_placeholder);
}
