/*
 * The index families that can be read from a file, by the tag that their write
 * op puts in the INDX section. Adding a family (docs/FORMAT.md, "Adding a
 * family"): pick an unused tag below, declare its reader here, add a line to
 * the table in registry.c, and set the family's ops->write.
 */
#ifndef VX_IO_REGISTRY_H
#define VX_IO_REGISTRY_H

#include "format.h"

/* Family tags: four ASCII characters, unique. */
#define VX_FAMILY_FLAT VX_TAG('F', 'L', 'A', 'T')
#define VX_FAMILY_IDMAP VX_TAG('I', 'D', 'M', 'P')
#define VX_FAMILY_IDMAP2 VX_TAG('I', 'D', 'M', '2')
#define VX_FAMILY_IVF_FLAT VX_TAG('I', 'V', 'F', 'F')
#define VX_FAMILY_HNSW_FLAT VX_TAG('H', 'N', 'S', 'F')
#define VX_FAMILY_HNSW_SQ8 VX_TAG('H', 'N', 'S', '8')
#define VX_FAMILY_PQ_FASTSCAN VX_TAG('P', 'Q', 'F', 'S')
#define VX_FAMILY_IVFPQ_FASTSCAN VX_TAG('I', 'V', 'F', 'S')
#define VX_FAMILY_HNSW_FP16 VX_TAG('H', 'N', 'S', 'H')
#define VX_FAMILY_HNSW_PQ VX_TAG('H', 'N', 'S', 'P')
#define VX_FAMILY_PQ VX_TAG('P', 'Q', ' ', ' ')
#define VX_FAMILY_SQ VX_TAG('S', 'Q', ' ', ' ')
#define VX_FAMILY_IVF_PQ VX_TAG('I', 'V', 'P', 'Q')
#define VX_FAMILY_IVF_SQ VX_TAG('I', 'V', 'S', 'Q')
#define VX_FAMILY_LSH VX_TAG('L', 'S', 'H', ' ')
#define VX_FAMILY_REFINE VX_TAG('R', 'F', 'N', 'E')
#define VX_FAMILY_REFINE_FLAT VX_TAG('R', 'F', 'N', 'F')
#define VX_FAMILY_PRETRANSFORM VX_TAG('P', 'R', 'E', 'T')

/* Builds the index whose INDX section (h) was just read, from the sections
 * that follow it, in the order its write op wrote them. On failure *out is
 * NULL and everything allocated is freed. The caller then checks d, metric,
 * ntotal and is_trained against h. */
typedef vindex_status (*vx_io_read_fn)(vx_reader *r, const vx_io_index_header *h,
                                       vindex **out);

typedef struct vx_io_family {
    uint32_t tag;
    const char *name; /* for messages */
    vx_io_read_fn read;
} vx_io_family;

/* The family with this tag, or NULL. */
const vx_io_family *vx_io_family_of(uint32_t tag);

/* The readers, each defined beside its family. */
vindex_status vx_flat_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_idmap_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_idmap2_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_ivf_flat_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_pqfs_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_ivfpqfs_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_hnsw_flat_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_hnsw_sq8_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_hnsw_fp16_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_hnsw_pq_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_pq_index_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_sq_index_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_ivf_pq_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_ivf_sq_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_lsh_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_refine_read(vx_reader *r, const vx_io_index_header *h, vindex **out);
vindex_status vx_pretransform_read(vx_reader *r, const vx_io_index_header *h, vindex **out);

#endif
