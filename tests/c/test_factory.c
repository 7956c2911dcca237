/* index_factory: every spec vindex offers builds the right family with the right
 * parameters, reverse_index_factory gives the spec back, and bad specs are
 * refused with a message that points at the token. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

enum { D = 32 };

static void builds(const char *spec, const char *type, const char *reversed)
{
    vindex *ix = NULL;
    vindex_status st = vindex_factory(&ix, D, spec, VINDEX_METRIC_L2);
    if (st != VINDEX_OK)
        fail_msg("%s: %s", spec, vindex_last_error());
    assert_string_equal(vindex_type_name(ix), type);
    assert_int_equal(vindex_d(ix), D);
    char back[128];
    ASSERT_OK(vindex_reverse_factory(ix, back, sizeof back));
    assert_string_equal(back, reversed);
    /* the reversed spec builds the same family again */
    vindex *again = NULL;
    ASSERT_OK(vindex_factory(&again, D, back, VINDEX_METRIC_L2));
    assert_string_equal(vindex_type_name(again), type);
    vindex_free(again);
    vindex_free(ix);
}

static void known_specs(void **state)
{
    (void)state;
    builds("Flat", "IndexFlat", "Flat");
    builds("IDMap,Flat", "IndexIDMap", "IDMap,Flat");
    builds("IDMap2,Flat", "IndexIDMap2", "IDMap2,Flat");
    builds("IVF64,Flat", "IndexIVFFlat", "IVF64,Flat");
    builds(" IVF64 , Flat ", "IndexIVFFlat", "IVF64,Flat");
    builds("IVF16,PQ8", "IndexIVFPQ", "IVF16,PQ8x8");
    builds("IVF16,PQ4x6", "IndexIVFPQ", "IVF16,PQ4x6");
    builds("IVF16,SQ8", "IndexIVFScalarQuantizer", "IVF16,SQ8");
    builds("IVF64_HNSW32,Flat", "IndexIVFFlat", "IVF64_HNSW32,Flat");
    builds("IVF16_HNSW8,PQ8", "IndexIVFPQ", "IVF16_HNSW8,PQ8x8");
    builds("IVF16_HNSW16,SQ8", "IndexIVFScalarQuantizer", "IVF16_HNSW16,SQ8");
    builds("PQ8", "IndexPQ", "PQ8x8");
    builds("PQ16x4", "IndexPQ", "PQ16x4");
    builds("SQ4", "IndexScalarQuantizer", "SQ4");
    builds("SQfp16", "IndexScalarQuantizer", "SQfp16");
    builds("SQbf16", "IndexScalarQuantizer", "SQbf16");
    builds("SQ8_uniform", "IndexScalarQuantizer", "SQ8_uniform");
    builds("HNSW16", "IndexHNSWFlat", "HNSW16");
    builds("HNSW16,Flat", "IndexHNSWFlat", "HNSW16");
    builds("HNSW16_SQ8", "IndexHNSWSQ", "HNSW16_SQ8");
    builds("HNSW8_SQfp16", "IndexHNSWSQ", "HNSW8_SQfp16");
    builds("HNSW16_PQ8", "IndexHNSWPQ", "HNSW16_PQ8");
    builds("HNSW16_SQ8,RFlat", "IndexRefineFlat", "HNSW16_SQ8,RFlat");
    /* refinement and pre-transforms */
    builds("Flat,RFlat", "IndexRefineFlat", "Flat,RFlat");
    builds("PQ8x4,RFlat", "IndexRefineFlat", "PQ8x4,RFlat");
    builds("IVF16,PQ8x4,Refine(SQfp16)", "IndexRefine", "IVF16,PQ8x4,Refine(SQfp16)");
    builds("SQ4,Refine(PQ16,RFlat)", "IndexRefine", "SQ4,Refine(PQ16x8,RFlat)");
    builds("L2norm,Flat", "IndexPreTransform", "L2norm,Flat");
    builds("RR32,Flat", "IndexPreTransform", "RR32,Flat");
    builds("RR48,IVF16,Flat", "IndexPreTransform", "RR48,IVF16,Flat");
    builds("PCA16,Flat", "IndexPreTransform", "PCA16,Flat");
    builds("PCAW16,Flat", "IndexPreTransform", "PCAW16,Flat");
    builds("PCAR16,HNSW8", "IndexPreTransform", "PCAR16,HNSW8");
    builds("PCAWR8,Flat", "IndexPreTransform", "PCAWR8,Flat");
    builds("OPQ8,PQ8", "IndexPreTransform", "OPQ8,PQ8x8");
    builds("OPQ4_16,IVF16,PQ4", "IndexPreTransform", "OPQ4_16,IVF16,PQ4x8");
    builds("L2norm,PCA16,Flat", "IndexPreTransform", "L2norm,PCA16,Flat");
    builds("IDMap,PCA16,IVF16,Flat,RFlat", "IndexIDMap", "IDMap,PCA16,IVF16,Flat,RFlat");
    builds("IDMap2,OPQ8_16,PQ8x4,Refine(SQ8)", "IndexIDMap2", "IDMap2,OPQ8_16,PQ8x4,Refine(SQ8)");
    builds("PQ16x4fs", "IndexPQFastScan", "PQ16x4fs");
    builds("IVF16,PQ8x4fs", "IndexIVFPQFastScan", "IVF16,PQ8x4fs");
    builds("IVF16,PQ16x4fs,RFlat", "IndexRefineFlat", "IVF16,PQ16x4fs,RFlat");
    builds("PCA16,PQ8x4fs,Refine(SQ8)", "IndexRefine", "PCA16,PQ8x4fs,Refine(SQ8)");
    builds("IDMap,PQ8x4fs", "IndexIDMap", "IDMap,PQ8x4fs");
    builds("LSH", "IndexLSH", "LSH");
    builds("LSHr", "IndexLSH", "LSHr");
    builds("LSHt", "IndexLSH", "LSHt");
    builds("LSHrt", "IndexLSH", "LSHrt");
    builds("LSH64rt", "IndexLSH", "LSH64rt");
    builds("LSH32r", "IndexLSH", "LSHr");
    builds("IDMap,LSH16", "IndexIDMap", "IDMap,LSH16");
}

static void factory_index_searches(void **state)
{
    (void)state;
    enum { N = 2000, NQ = 20, K = 5 };
    float *x = tu_clustered_vectors(N, D, 16, 7);
    vindex *ix;
    ASSERT_OK(vindex_factory(&ix, D, "IVF16,Flat", VINDEX_METRIC_L2));
    assert_false(vindex_is_trained(ix));
    ASSERT_OK(vindex_train(ix, N, x));
    ASSERT_OK(vindex_add(ix, N, x));
    ASSERT_OK(vindex_set_param(ix, "nprobe", 16));
    float dist[NQ * K], ref_d[NQ * K];
    vindex_id ids[NQ * K], ref_i[NQ * K];
    ASSERT_OK(vindex_search(ix, NQ, x, K, NULL, dist, ids));
    tu_reference_knn(x, NQ, x, N, D, K, VINDEX_METRIC_L2, ref_d, ref_i);
    for (int i = 0; i < NQ * K; i++)
        assert_true(ids[i] == ref_i[i] || ref_d[i] == dist[i]);
    vindex_free(ix);

    /* refinement over coarse codes behind a rotation finds the exact neighbours */
    ASSERT_OK(vindex_factory(&ix, D, "RR32,PQ8x4,RFlat", VINDEX_METRIC_L2));
    assert_false(vindex_is_trained(ix));
    ASSERT_OK(vindex_train(ix, N, x));
    ASSERT_OK(vindex_add(ix, N, x));
    ASSERT_OK(vindex_set_param(ix, "k_factor", 32));
    ASSERT_OK(vindex_search(ix, NQ, x, K, NULL, dist, ids));
    assert_true(tu_recall(ids, ref_i, NQ, K, K) >= 0.95);
    for (int i = 0; i < NQ; i++)
        assert_true(ids[i * K] == i && dist[i * K] == 0.0f);
    vindex_free(ix);
    free(x);
}

/* The spec is refused with `status` and a message naming `token`. */
static void refused(const char *spec, vindex_status status, const char *token)
{
    vindex *ix = (vindex *)0x1;
    vindex_status st = vindex_factory(&ix, D, spec, VINDEX_METRIC_L2);
    if (st != status)
        fail_msg("%s: status %d, want %d (%s)", spec, st, status, vindex_last_error());
    assert_null(ix);
    if (!strstr(vindex_last_error(), token))
        fail_msg("%s: message '%s' does not name '%s'", spec, vindex_last_error(), token);
}

static void bad_specs(void **state)
{
    (void)state;
    refused("", VINDEX_ERR_INVALID, "empty");
    refused("Flt", VINDEX_ERR_INVALID, "'Flt'");
    refused("IVF,Flat", VINDEX_ERR_INVALID, "'IVF'");
    refused("IVF0,Flat", VINDEX_ERR_INVALID, "'IVF0'");
    refused("IVF64", VINDEX_ERR_INVALID, "IVF1024,Flat");
    refused("IVF64,Flax", VINDEX_ERR_INVALID, "position 7");
    refused("IDMap,IVF64x,Flat", VINDEX_ERR_INVALID, "'IVF64x'");
    refused("Flat,Flat", VINDEX_ERR_INVALID, "position 6");
    refused("IDMap", VINDEX_ERR_INVALID, "no index");
    refused("IVF64,,Flat", VINDEX_ERR_INVALID, "empty token");
    refused("Refine(Flat", VINDEX_ERR_INVALID, "unclosed");
    refused("PQ7", VINDEX_ERR_INVALID, "'PQ7'"); /* 32 is not divisible by 7 */
    refused("PQ8x0", VINDEX_ERR_INVALID, "'PQ8x0'");
    refused("OPQ5,PQ5", VINDEX_ERR_INVALID, "'OPQ5'"); /* 32 is not divisible by 5 */
    refused("OPQ,PQ8", VINDEX_ERR_INVALID, "'OPQ'");
    refused("OPQ8_x,PQ8", VINDEX_ERR_INVALID, "'OPQ8_x'");
    refused("PCA,Flat", VINDEX_ERR_INVALID, "'PCA'");
    refused("PCA64,Flat", VINDEX_ERR_INVALID, "'PCA64'"); /* more than d */
    refused("RR0,Flat", VINDEX_ERR_INVALID, "'RR0'");
    refused("L2normx,Flat", VINDEX_ERR_INVALID, "'L2normx'");
    refused("PCA16,PQ7", VINDEX_ERR_INVALID, "'PQ7'"); /* 16 is not divisible by 7 */
    refused("PCA16", VINDEX_ERR_INVALID, "no index");
    refused("Flat,Refine()", VINDEX_ERR_INVALID, "'Refine()'");
    refused("Flat,Refine(Flx)", VINDEX_ERR_INVALID, "'Flx'");
    refused("Flat,RFlat,RFlat", VINDEX_ERR_INVALID, "position 12");
    refused("RFlat", VINDEX_ERR_INVALID, "'RFlat'");
    refused("ITQ,Flat", VINDEX_ERR_UNSUPPORTED, "'ITQ'");
    refused("PQ8x8fs", VINDEX_ERR_INVALID, "nbits = 4");
    refused("IVF16,PQ8x8fs", VINDEX_ERR_INVALID, "nbits = 4");
    refused("IVF64_HNSW,Flat", VINDEX_ERR_INVALID, "'IVF64_HNSW'");
    refused("IVF64_HNSW1,Flat", VINDEX_ERR_INVALID, "M 1");
    refused("IVF64_HNSW32x,Flat", VINDEX_ERR_INVALID, "'IVF64_HNSW32x'");
    refused("LSH64", VINDEX_ERR_INVALID, "'LSH64'"); /* 64 bits of 32 dims need rotation */
    refused("LSHx", VINDEX_ERR_INVALID, "'LSHx'");
    refused("LSH0r", VINDEX_ERR_INVALID, "'LSH0r'");
    refused("LSHtr", VINDEX_ERR_INVALID, "'LSHtr'");
    refused("HNSW32_SQ4", VINDEX_ERR_UNSUPPORTED, "'HNSW32_SQ4'");
    refused("HNSW32_16", VINDEX_ERR_UNSUPPORTED, "'HNSW32_16'"); /* Faiss's HNSW2Level */
    refused("HNSW32_PQ", VINDEX_ERR_UNSUPPORTED, "'HNSW32_PQ'");
    refused("HNSW32_PQ7", VINDEX_ERR_INVALID, "not a multiple of M = 7");
    vindex *ix;
    assert_int_equal(vindex_factory(&ix, 0, "Flat", VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_factory(&ix, D, NULL, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_factory(NULL, D, "Flat", VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_factory(&ix, D, "LSH", VINDEX_METRIC_INNER_PRODUCT),
                     VINDEX_ERR_INVALID); /* Faiss: L2 only */
    char small[4];
    ASSERT_OK(vindex_factory(&ix, D, "IVF1024,Flat", VINDEX_METRIC_L2));
    assert_int_equal(vindex_reverse_factory(ix, small, sizeof small), VINDEX_ERR_INVALID);
    assert_string_equal(small, "");
    vindex_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_specs),
        cmocka_unit_test(factory_index_searches),
        cmocka_unit_test(bad_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
