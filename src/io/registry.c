/* The table of family readers, keyed by the family tag of the INDX section. */
#include "registry.h"

static const vx_io_family families[] = {
    {VX_FAMILY_FLAT, "IndexFlat", vx_flat_read},
    {VX_FAMILY_IDMAP, "IndexIDMap", vx_idmap_read},
    {VX_FAMILY_IDMAP2, "IndexIDMap2", vx_idmap2_read},
    {VX_FAMILY_IVF_FLAT, "IndexIVFFlat", vx_ivf_flat_read},
    {VX_FAMILY_HNSW_FLAT, "IndexHNSWFlat", vx_hnsw_flat_read},
    {VX_FAMILY_HNSW_SQ8, "IndexHNSWSQ", vx_hnsw_sq8_read},
    {VX_FAMILY_PQ_FASTSCAN, "IndexPQFastScan", vx_pqfs_read},
    {VX_FAMILY_IVFPQ_FASTSCAN, "IndexIVFPQFastScan", vx_ivfpqfs_read},
    {VX_FAMILY_HNSW_FP16, "IndexHNSWSQ fp16", vx_hnsw_fp16_read},
    {VX_FAMILY_HNSW_PQ, "IndexHNSWPQ", vx_hnsw_pq_read},
    {VX_FAMILY_PQ, "IndexPQ", vx_pq_index_read},
    {VX_FAMILY_SQ, "IndexScalarQuantizer", vx_sq_index_read},
    {VX_FAMILY_IVF_PQ, "IndexIVFPQ", vx_ivf_pq_read},
    {VX_FAMILY_IVF_SQ, "IndexIVFScalarQuantizer", vx_ivf_sq_read},
    {VX_FAMILY_LSH, "IndexLSH", vx_lsh_read},
    {VX_FAMILY_REFINE, "IndexRefine", vx_refine_read},
    {VX_FAMILY_REFINE_FLAT, "IndexRefineFlat", vx_refine_read},
    {VX_FAMILY_PRETRANSFORM, "IndexPreTransform", vx_pretransform_read},
};

const vx_io_family *vx_io_family_of(uint32_t tag)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (families[i].tag == tag)
            return &families[i];
    return NULL;
}
