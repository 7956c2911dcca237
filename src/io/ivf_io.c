/*
 * Persistence of the IVF core, shared by every IVF family (docs/FORMAT.md,
 * "IVF families"). Sections after the INDX section:
 *
 *   IVFM   nlist, nprobe, code_size, direct map kind, clustering parameters
 *   INDX.. the coarse quantizer, nested
 *   ....   the family's codec sections (write_codec; read by its make function)
 *   ILSZ   nlist u64: entries per list
 *   ICOD   the lists' codes, list after list (each list's vx_ivf_codes_bytes: size x
 *          code_size, in whole blocks for a blocked family)
 *   IIDS   the lists' ids, list after list (sum of sizes int64)
 *
 * The direct map is not stored: it is rebuilt from the lists on reading,
 * which also checks what it needs (ids unique; 0..ntotal-1 for an array).
 * With VINDEX_IO_MMAP the lists borrow their codes and ids from the mapping
 * (copied on their first change, see vx_ivf_list); else they are copied.
 */
#include <stdio.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../index/ivf.h"
#include "codecs.h"
#include "format.h"

#define TAG_IVF_META VX_TAG('I', 'V', 'F', 'M')
#define TAG_IVF_SIZES VX_TAG('I', 'L', 'S', 'Z')
#define TAG_IVF_CODES VX_TAG('I', 'C', 'O', 'D')
#define TAG_IVF_IDS VX_TAG('I', 'I', 'D', 'S')

vindex_status vx_ivf_write(const vindex *ix, vx_writer *w)
{
    const vx_ivf *ivf = (const vx_ivf *)ix;
    if (!ivf->fam->io_tag)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "write: %s cannot be written to a file yet (no serializer for its codec)",
                       ix->ops->type_name);
    vx_io_write_index_header(w, ix, ivf->fam->io_tag);
    vx_writer_begin(w, TAG_IVF_META);
    vx_writer_u64(w, ivf->nlist);
    vx_writer_u64(w, ivf->nprobe);
    vx_writer_u64(w, ivf->code_size);
    vx_writer_u32(w, (uint32_t)ivf->dm_kind);
    vx_io_put_kmeans_params(w, &ivf->cp);
    vx_writer_end(w);
    vindex_status st = vx_io_write_index(w, ivf->quantizer);
    if (!st && ivf->fam->write_codec)
        st = ivf->fam->write_codec(ivf, w);
    if (st)
        return st;
    vx_writer_begin(w, TAG_IVF_SIZES);
    for (size_t l = 0; l < ivf->nlist; l++)
        vx_writer_u64(w, ivf->lists[l].n);
    vx_writer_end(w);
    vx_writer_begin(w, TAG_IVF_CODES);
    for (size_t l = 0; l < ivf->nlist; l++)
        vx_writer_ref(w, ivf->lists[l].codes, vx_ivf_codes_bytes(ivf, ivf->lists[l].n));
    vx_writer_end(w);
    vx_writer_begin(w, TAG_IVF_IDS);
    for (size_t l = 0; l < ivf->nlist; l++)
        vx_writer_ref(w, ivf->lists[l].ids, ivf->lists[l].n * sizeof(vindex_id));
    vx_writer_end(w);
    return vx_writer_status(w);
}

/* The IVFM fields, as read. */
typedef struct ivf_meta {
    uint64_t nlist, nprobe, code_size;
    uint32_t dm_kind;
    vindex_kmeans_params cp;
} ivf_meta;

static vindex_status read_meta(vx_reader *r, ivf_meta *m)
{
    vx_cursor c;
    vindex_status st;
    if ((st = vx_reader_section(r, TAG_IVF_META, &c)) || (st = vx_cursor_u64(&c, &m->nlist)) ||
        (st = vx_cursor_u64(&c, &m->nprobe)) || (st = vx_cursor_u64(&c, &m->code_size)) ||
        (st = vx_cursor_u32(&c, &m->dm_kind)) ||
        (st = vx_io_get_kmeans_params(&c, &m->cp, "IVF")) || (st = vx_cursor_done(&c)))
        return st;
    return VINDEX_OK;
}

/* nprobe, validated as set_param does, and the clustering parameters (validated
 * when read). */
static vindex_status restore_params(vindex *ix, const ivf_meta *m)
{
    vx_ivf *ivf = (vx_ivf *)ix;
    if (m->nprobe > INT32_MAX || vx_ivf_set_param(ix, "nprobe", (double)m->nprobe))
        return vx_io_corrupt("%s: nprobe %llu is out of range", ix->ops->type_name,
                             (unsigned long long)m->nprobe);
    ivf->cp = m->cp;
    return VINDEX_OK;
}

/* Entries a list of n holds room for: whole blocks for a blocked family. */
static size_t list_slots(const vx_ivf *ivf, size_t n)
{
    const size_t b = ivf->fam->block;
    return b ? (n + b - 1) / b * b : n;
}

/* The lists from ILSZ, ICOD and IIDS. */
static vindex_status read_lists(vx_reader *r, vx_ivf *ivf, int64_t ntotal)
{
    const size_t nlist = ivf->nlist, cs = ivf->code_size;
    const void *sizes_p, *codes_p, *ids_p;
    vindex_status st = vx_reader_view(r, TAG_IVF_SIZES, nlist, sizeof(uint64_t), &sizes_p);
    if (st)
        return st;
    const uint8_t *sizes = sizes_p;
    uint64_t total = 0;
    size_t code_bytes = 0, lb; /* ICOD: each list's codes_bytes */
    for (size_t l = 0; l < nlist; l++) {
        uint64_t n;
        memcpy(&n, sizes + l * sizeof n, sizeof n);
        if (n > UINT32_MAX || __builtin_add_overflow(total, n, &total) ||
            !vx_mul_ok(list_slots(ivf, (size_t)n), cs, &lb) ||
            __builtin_add_overflow(code_bytes, lb, &code_bytes))
            return vx_io_corrupt("%s: list %zu claims %llu entries", ivf->base.ops->type_name,
                                 l, (unsigned long long)n);
    }
    if (total != (uint64_t)ntotal)
        return vx_io_corrupt("%s: the lists hold %llu entries, the index %lld",
                             ivf->base.ops->type_name, (unsigned long long)total,
                             (long long)ntotal);
    /* the sections' exact sizes bound every allocation below */
    if ((st = vx_reader_view(r, TAG_IVF_CODES, code_bytes, 1, &codes_p)) ||
        (st = vx_reader_view(r, TAG_IVF_IDS, (size_t)total, sizeof(vindex_id), &ids_p)))
        return st;
    const uint8_t *codes = codes_p, *ids = ids_p;
    for (uint64_t i = 0; i < total; i++) { /* as add_with_ids refuses it */
        vindex_id id;
        memcpy(&id, ids + i * sizeof id, sizeof id);
        if (id == -1)
            return vx_io_corrupt("%s: stored id %llu is -1, which means 'no result'",
                                 ivf->base.ops->type_name, (unsigned long long)i);
    }
    /* Mapped: the lists borrow their arrays from the mapping (cap 0), which
     * sections start 64-byte aligned in, so every list's ids are aligned and
     * its codes as aligned as code_size allows; written to, a list is copied
     * first (ivf.h). */
    const bool in_place = vx_reader_in_place(r) && total > 0;
    if (in_place)
        ivf->map = vx_mapping_ref(vx_reader_mapping(r));
    for (size_t l = 0; l < nlist; l++) {
        uint64_t n;
        memcpy(&n, sizes + l * sizeof n, sizeof n);
        if (n == 0)
            continue;
        vx_ivf_list *L = &ivf->lists[l];
        const size_t slots = list_slots(ivf, (size_t)n), bytes = slots * cs;
        if (in_place) {
            L->codes = (uint8_t *)(uintptr_t)codes; /* read-only: never written */
            L->ids = (vindex_id *)(uintptr_t)ids;
            L->n = (size_t)n;
            codes += bytes;
            ids += (size_t)n * sizeof(vindex_id);
            continue;
        }
        L->codes = vx_alloc(bytes, 1);
        L->ids = vx_alloc(slots, sizeof(vindex_id));
        if (!L->codes || !L->ids) { /* a list owns its arrays from cap > 0 on */
            vx_free(L->codes);
            vx_free(L->ids);
            L->codes = NULL;
            L->ids = NULL;
            return vx_fail(VINDEX_ERR_NOMEM, "read: out of memory for inverted list %zu", l);
        }
        L->n = (size_t)n;
        L->cap = slots;
        memcpy(L->codes, codes, bytes);
        memcpy(L->ids, ids, (size_t)n * sizeof(vindex_id));
        codes += bytes;
        ids += (size_t)n * sizeof(vindex_id);
    }
    ivf->base.ntotal = ntotal;
    return VINDEX_OK;
}

/* CORRUPT, with the message of the failure just recorded. */
static vindex_status corrupt_from_last(const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s", vindex_last_error());
    return vx_io_corrupt("%s: %s", what, msg);
}

vindex_status vx_ivf_read(vx_reader *r, const vx_io_index_header *h, vx_ivf_make_fn make,
                          vindex **out)
{
    *out = NULL;
    ivf_meta m;
    vindex_status st = read_meta(r, &m);
    if (st)
        return st;
    /* nlist list headers are allocated before the lists are read: ILSZ, with 8
     * bytes per list, must fit in what is left of the file. */
    if (m.nlist == 0 || m.nlist > INT32_MAX || m.nlist > vx_reader_remaining(r) / 8 ||
        m.dm_kind > VINDEX_DIRECT_MAP_HASH)
        return vx_io_corrupt("IVF: bad parameters (nlist %llu, direct map kind %u)",
                             (unsigned long long)m.nlist, m.dm_kind);
    vindex *quantizer;
    if ((st = vx_io_read_index(r, &quantizer)))
        return st;
    vindex *ix = NULL;
    if ((st = make(r, h, quantizer, (size_t)m.nlist, &ix))) {
        vindex_free(quantizer);
        if (st == VINDEX_ERR_NOMEM || st == VINDEX_ERR_CORRUPT)
            return st;
        return corrupt_from_last("IVF");
    }
    vx_ivf *ivf = (vx_ivf *)ix;
    *out = ix; /* freed by the caller on failure */
    if (ivf->code_size != m.code_size)
        return vx_io_corrupt("%s: code size %llu where the family makes %zu",
                             ix->ops->type_name, (unsigned long long)m.code_size,
                             ivf->code_size);
    /* searches index the lists by the quantizer's labels: it must hold exactly
     * nlist centroids once the index is trained, and only a trained index
     * holds vectors */
    if (ix->is_trained != h->is_trained || (h->ntotal > 0 && !h->is_trained) ||
        (ix->is_trained && (!quantizer->is_trained || (size_t)quantizer->ntotal != m.nlist)))
        return vx_io_corrupt("%s: is_trained %d, ntotal %lld, with a quantizer of %lld "
                             "centroids for nlist %llu",
                             ix->ops->type_name, (int)h->is_trained, (long long)h->ntotal,
                             (long long)quantizer->ntotal, (unsigned long long)m.nlist);
    if ((st = restore_params(ix, &m)) || (st = read_lists(r, ivf, h->ntotal)))
        return st;
    if (m.dm_kind != VINDEX_DIRECT_MAP_NONE &&
        (st = vindex_ivf_make_direct_map(ix, (vindex_direct_map)m.dm_kind)))
        return st == VINDEX_ERR_NOMEM ? st : corrupt_from_last("IVF");
    return VINDEX_OK;
}
