/* Persistence: every family round-trips through a file, bytes and a mapping
 * with bitwise-identical results; files cross processes; newer versions are
 * refused; damaged, truncated and crafted input gives an error, never a crash
 * (run under ASan: make check-sanitize). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "index/flat.h"
#include "index/index.h"
#include "io/format.h"
#include "io/registry.h"

/* ---- the families: one row per index shape ------------------------------
 *
 * Every test below that loops over CASES (round trips through a file, bytes
 * and a mapping; another process; every byte flipped; every truncation) covers
 * a row as soon as it is in the table. To add a family: write a builder that
 * makes a small index deterministically from the n x d vectors x (train, add,
 * set a parameter or two away from its default), and append a row
 * {name, d, n, builder}. Keep d * n small (the damage test reads the file
 * once per byte, also under ASan). The first rows are named by the enum
 * because some tests use them directly. */

typedef vindex *(*builder_fn)(int d, size_t n, const float *x);

typedef struct io_case {
    const char *name;
    int d;
    size_t n;
    builder_fn build;
} io_case;

static vindex_id case_id(size_t i) { return 1000 - 7 * (vindex_id)i; }

static vindex *flat_of(int d, size_t n, const float *x, vindex_metric m)
{
    vindex *ix;
    ASSERT_OK(vindex_flat_new(&ix, d, m));
    if (n)
        ASSERT_OK(vindex_add(ix, n, x));
    return ix;
}

static vindex *b_flat_l2(int d, size_t n, const float *x)
{
    return flat_of(d, n, x, VINDEX_METRIC_L2);
}

static vindex *b_flat_ip(int d, size_t n, const float *x)
{
    return flat_of(d, n, x, VINDEX_METRIC_INNER_PRODUCT);
}

static vindex *b_flat_split(int d, size_t n, const float *x)
{
    size_t saved = vx_flat_split_min_bytes;
    double saved_share = vx_flat_split_min_head_share;
    vx_flat_split_min_bytes = 0;
    vx_flat_split_min_head_share = 0;
    vindex *ix = flat_of(d, n, x, VINDEX_METRIC_L2);
    vx_flat_split_min_bytes = saved;
    vx_flat_split_min_head_share = saved_share;
    return ix;
}

static vindex *add_with_case_ids(vindex *ix, size_t n, const float *x)
{
    vindex_id *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = case_id(i);
    ASSERT_OK(vindex_add_with_ids(ix, n, x, ids));
    free(ids);
    return ix;
}

static vindex *b_idmap(int d, size_t n, const float *x)
{
    vindex *ix;
    ASSERT_OK(vindex_idmap_new(&ix, flat_of(d, 0, x, VINDEX_METRIC_L2)));
    return add_with_case_ids(ix, n, x);
}

static vindex *b_idmap2(int d, size_t n, const float *x)
{
    vindex *ix;
    ASSERT_OK(vindex_idmap2_new(&ix, flat_of(d, 0, x, VINDEX_METRIC_L2)));
    return add_with_case_ids(ix, n, x);
}

/* An IVF index over a Flat quantizer of nlist 4: trained, filled (with ids
 * and a hash map when ids, else positions and map), nprobe 2. */
static vindex *ivf_fill(vindex *ix, size_t n, const float *x, bool ids,
                        vindex_direct_map map)
{
    ASSERT_OK(vindex_set_param(ix, "cp.min_points_per_centroid", 1));
    ASSERT_OK(vindex_train(ix, n, x));
    if (ids)
        add_with_case_ids(ix, n, x);
    else
        ASSERT_OK(vindex_add(ix, n, x));
    if (map != VINDEX_DIRECT_MAP_NONE)
        ASSERT_OK(vindex_ivf_make_direct_map(ix, map));
    ASSERT_OK(vindex_set_param(ix, "nprobe", 2));
    return ix;
}

static vindex *ivf_flat_of(int d, vindex_metric m)
{
    vindex *ix;
    ASSERT_OK(vindex_ivf_flat_new(&ix, flat_of(d, 0, NULL, m), d, 4, m));
    return ix;
}

static vindex *b_ivf(int d, size_t n, const float *x)
{
    return ivf_fill(ivf_flat_of(d, VINDEX_METRIC_L2), n, x, false, VINDEX_DIRECT_MAP_NONE);
}

static vindex *b_ivf_array(int d, size_t n, const float *x)
{
    return ivf_fill(ivf_flat_of(d, VINDEX_METRIC_L2), n, x, false, VINDEX_DIRECT_MAP_ARRAY);
}

static vindex *b_ivf_hash_ip(int d, size_t n, const float *x)
{
    return ivf_fill(ivf_flat_of(d, VINDEX_METRIC_INNER_PRODUCT), n, x, true,
                    VINDEX_DIRECT_MAP_HASH);
}

static vindex *pq_of(int d, size_t n, const float *x, int M, int nbits, vindex_metric m)
{
    vindex *ix;
    ASSERT_OK(vindex_pq_new(&ix, d, M, nbits, m));
    ASSERT_OK(vindex_set_param(ix, "pq.cp.niter", 5));
    if (n) {
        ASSERT_OK(vindex_train(ix, n, x));
        ASSERT_OK(vindex_add(ix, n, x));
    }
    return ix;
}

static vindex *b_pq(int d, size_t n, const float *x)
{
    return pq_of(d, n, x, 4, 4, VINDEX_METRIC_L2);
}

static vindex *b_pq_ip_6bit(int d, size_t n, const float *x)
{
    return pq_of(d, n, x, 2, 6, VINDEX_METRIC_INNER_PRODUCT);
}

static vindex *b_pq_untrained(int d, size_t n, const float *x)
{
    (void)n;
    return pq_of(d, 0, x, 2, 4, VINDEX_METRIC_L2);
}

static vindex *sq_of(int d, size_t n, const float *x, vindex_sq_type t, vindex_metric m)
{
    vindex *ix;
    ASSERT_OK(vindex_sq_new(&ix, d, t, m));
    if (n) {
        ASSERT_OK(vindex_train(ix, n, x));
        ASSERT_OK(vindex_add(ix, n, x));
    }
    return ix;
}

static vindex *b_sq8(int d, size_t n, const float *x)
{
    return sq_of(d, n, x, VINDEX_SQ_8BIT, VINDEX_METRIC_L2);
}

static vindex *b_sq4_ip(int d, size_t n, const float *x)
{
    return sq_of(d, n, x, VINDEX_SQ_4BIT, VINDEX_METRIC_INNER_PRODUCT);
}

static vindex *b_sq8_uniform(int d, size_t n, const float *x)
{
    return sq_of(d, n, x, VINDEX_SQ_8BIT_UNIFORM, VINDEX_METRIC_L2);
}

static vindex *b_sq_fp16(int d, size_t n, const float *x)
{
    return sq_of(d, n, x, VINDEX_SQ_FP16, VINDEX_METRIC_L2);
}

static vindex *b_sq_bf16_ip(int d, size_t n, const float *x)
{
    return sq_of(d, n, x, VINDEX_SQ_BF16, VINDEX_METRIC_INNER_PRODUCT);
}

static vindex *b_sq8_untrained(int d, size_t n, const float *x)
{
    (void)n;
    return sq_of(d, 0, x, VINDEX_SQ_8BIT, VINDEX_METRIC_L2);
}

static vindex *ivfpq_of(int d, int M, int nbits, vindex_metric m)
{
    vindex *ix;
    ASSERT_OK(vindex_ivfpq_new(&ix, flat_of(d, 0, NULL, m), d, 4, M, nbits, m));
    ASSERT_OK(vindex_set_param(ix, "pq.cp.niter", 5));
    return ix;
}

static vindex *b_ivfpq(int d, size_t n, const float *x)
{
    return ivf_fill(ivfpq_of(d, 4, 4, VINDEX_METRIC_L2), n, x, false, VINDEX_DIRECT_MAP_ARRAY);
}

static vindex *b_ivfpq_no_table(int d, size_t n, const float *x)
{
    vindex *ix = ivfpq_of(d, 2, 5, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_set_param(ix, "use_precomputed_table", 0));
    return ivf_fill(ix, n, x, false, VINDEX_DIRECT_MAP_NONE);
}

static vindex *b_ivfpq_ip_hash(int d, size_t n, const float *x)
{
    return ivf_fill(ivfpq_of(d, 2, 4, VINDEX_METRIC_INNER_PRODUCT), n, x, true,
                    VINDEX_DIRECT_MAP_HASH);
}

static vindex *b_ivfpq_untrained(int d, size_t n, const float *x)
{
    (void)n;
    (void)x;
    return ivfpq_of(d, 2, 4, VINDEX_METRIC_L2);
}

static vindex *ivfsq_of(int d, vindex_sq_type t, vindex_metric m)
{
    vindex *ix;
    ASSERT_OK(vindex_ivfsq_new(&ix, flat_of(d, 0, NULL, m), d, 4, t, m));
    return ix;
}

static vindex *b_ivfsq8(int d, size_t n, const float *x)
{
    return ivf_fill(ivfsq_of(d, VINDEX_SQ_8BIT, VINDEX_METRIC_L2), n, x, false,
                    VINDEX_DIRECT_MAP_ARRAY);
}

static vindex *b_ivfsq4_ip_hash(int d, size_t n, const float *x)
{
    return ivf_fill(ivfsq_of(d, VINDEX_SQ_4BIT, VINDEX_METRIC_INNER_PRODUCT), n, x, true,
                    VINDEX_DIRECT_MAP_HASH);
}

static vindex *b_ivfsq_fp16(int d, size_t n, const float *x)
{
    return ivf_fill(ivfsq_of(d, VINDEX_SQ_FP16, VINDEX_METRIC_L2), n, x, false,
                    VINDEX_DIRECT_MAP_NONE);
}

static vindex *b_ivfsq_untrained(int d, size_t n, const float *x)
{
    (void)n;
    (void)x;
    return ivfsq_of(d, VINDEX_SQ_8BIT_UNIFORM, VINDEX_METRIC_L2);
}

/* M = 4: a quarter of the nodes reach level 1, so upper lists exist */
static vindex *hnsw_of(int d, size_t n, const float *x, bool sq8, vindex_metric m)
{
    vindex *ix;
    ASSERT_OK(sq8 ? vindex_hnsw_sq8_new(&ix, d, 4, m) : vindex_hnsw_flat_new(&ix, d, 4, m));
    ASSERT_OK(vindex_set_param(ix, "efSearch", 8));
    if (sq8)
        ASSERT_OK(vindex_train(ix, n, x));
    return add_with_case_ids(ix, n, x);
}

static vindex *b_hnsw_free_slots(int d, size_t n, const float *x)
{
    vindex *ix = hnsw_of(d, n, x, false, VINDEX_METRIC_L2);
    vindex_selector *sel; /* free slots, reused by a later add */
    size_t removed;
    ASSERT_OK(vindex_selector_range(&sel, 950, 980));
    ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
    assert_true(removed > 0);
    vindex_selector_free(sel);
    return ix;
}

static vindex *b_hnsw_ip(int d, size_t n, const float *x)
{
    return hnsw_of(d, n, x, false, VINDEX_METRIC_INNER_PRODUCT);
}

static vindex *b_hnsw_sq8(int d, size_t n, const float *x)
{
    return hnsw_of(d, n, x, true, VINDEX_METRIC_L2);
}

static vindex *b_hnsw_fp16_ip(int d, size_t n, const float *x)
{
    vindex *ix;
    ASSERT_OK(vindex_hnsw_fp16_new(&ix, d, 4, VINDEX_METRIC_INNER_PRODUCT));
    ASSERT_OK(vindex_set_param(ix, "efSearch", 8));
    return add_with_case_ids(ix, n, x);
}

/* 8-bit PQ codes need 256 training points of their own */
static vindex *b_hnsw_pq(int d, size_t n, const float *x)
{
    vindex *ix;
    ASSERT_OK(vindex_hnsw_pq_new(&ix, d, 2, 4, VINDEX_METRIC_L2));
    float *t = tu_random_vectors(300, d, 77);
    ASSERT_OK(vindex_train(ix, 300, t));
    free(t);
    ASSERT_OK(vindex_set_param(ix, "efSearch", 8));
    return add_with_case_ids(ix, n, x);
}

static vindex *b_ivf_hnsw(int d, size_t n, const float *x)
{
    vindex *q, *ix;
    ASSERT_OK(vindex_hnsw_flat_new(&q, d, 4, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_ivf_flat_new(&ix, q, d, 4, VINDEX_METRIC_L2));
    return ivf_fill(ix, n, x, false, VINDEX_DIRECT_MAP_NONE);
}

static vindex *lsh_of(int d, size_t n, const float *x, int nbits, int rotate, int thresholds)
{
    vindex *ix;
    ASSERT_OK(vindex_lsh_new(&ix, d, nbits, rotate, thresholds));
    if (n) {
        ASSERT_OK(vindex_train(ix, n, x));
        ASSERT_OK(vindex_add(ix, n, x));
    }
    return ix;
}

static vindex *b_lsh(int d, size_t n, const float *x) { return lsh_of(d, n, x, 12, 1, 1); }
static vindex *b_lsh_plain(int d, size_t n, const float *x) { return lsh_of(d, n, x, 5, 0, 0); }
static vindex *b_lsh_untrained(int d, size_t n, const float *x)
{
    (void)n;
    return lsh_of(d, 0, x, 16, 1, 1);
}

static vindex *filled(vindex *ix, size_t n, const float *x)
{
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    return ix;
}

static vindex *b_refine_flat(int d, size_t n, const float *x)
{
    vindex *ix;
    ASSERT_OK(vindex_refine_new(&ix, pq_of(d, 0, x, 2, 4, VINDEX_METRIC_L2), NULL));
    ASSERT_OK(vindex_set_param(ix, "k_factor", 2.5));
    return filled(ix, n, x);
}

static vindex *b_refine_sq(int d, size_t n, const float *x)
{
    vindex *ix, *base = ivfpq_of(d, 2, 4, VINDEX_METRIC_INNER_PRODUCT);
    ASSERT_OK(vindex_set_param(base, "cp.min_points_per_centroid", 1));
    ASSERT_OK(vindex_refine_new(&ix, base, sq_of(d, 0, x, VINDEX_SQ_8BIT,
                                                 VINDEX_METRIC_INNER_PRODUCT)));
    ASSERT_OK(vindex_set_param(ix, "k_factor", 3));
    ASSERT_OK(vindex_set_param(ix, "nprobe", 3));
    return filled(ix, n, x);
}

static vindex *pt_of(vindex_transform *t, vindex *inner)
{
    vindex *ix;
    ASSERT_OK(vindex_pretransform_new(&ix, t, inner));
    return ix;
}

static vindex *b_pt_rr(int d, size_t n, const float *x)
{
    vindex_transform *t;
    ASSERT_OK(vindex_transform_random_rotation_new(&t, d, d + 2, 42));
    return filled(pt_of(t, sq_of(d + 2, 0, x, VINDEX_SQ_8BIT, VINDEX_METRIC_L2)), n, x);
}

static vindex *b_pt_pca_whiten(int d, size_t n, const float *x)
{
    vindex_transform *t;
    ASSERT_OK(vindex_transform_pca_new(&t, d, 4, -0.5f, 1));
    return filled(pt_of(t, flat_of(4, 0, x, VINDEX_METRIC_L2)), n, x);
}

static vindex *b_pt_opq(int d, size_t n, const float *x)
{
    vindex_transform *t;
    ASSERT_OK(vindex_transform_opq_new(&t, d, 4, 2));
    return filled(pt_of(t, pq_of(4, 0, x, 2, 4, VINDEX_METRIC_L2)), n, x);
}

/* a chain: L2 normalisation, then PCA, in front of an IDMap2 of IP Flat */
static vindex *b_pt_chain(int d, size_t n, const float *x)
{
    vindex_transform *norm, *pca;
    vindex *idm;
    ASSERT_OK(vindex_transform_l2norm_new(&norm, d));
    ASSERT_OK(vindex_transform_pca_new(&pca, d, d - 2, 0, 0));
    ASSERT_OK(vindex_idmap2_new(&idm, flat_of(d - 2, 0, x, VINDEX_METRIC_INNER_PRODUCT)));
    vindex *ix = pt_of(norm, pt_of(pca, idm));
    ASSERT_OK(vindex_train(ix, n, x));
    return add_with_case_ids(ix, n, x);
}

static vindex *b_pt_untrained(int d, size_t n, const float *x)
{
    (void)n;
    vindex_transform *t;
    ASSERT_OK(vindex_transform_pca_new(&t, d, 3, 0, 0));
    return pt_of(t, flat_of(3, 0, x, VINDEX_METRIC_L2));
}

static vindex *b_pq_fastscan(int d, size_t n, const float *x)
{
    vindex *ix;
    ASSERT_OK(vindex_pq_fastscan_new(&ix, d, 4, 4, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_set_param(ix, "pq.cp.niter", 5));
    return filled(ix, n, x);
}

static vindex *b_ivfpq_fastscan_ip(int d, size_t n, const float *x)
{
    vindex *ix;
    ASSERT_OK(vindex_ivfpq_fastscan_new(&ix, flat_of(d, 0, NULL, VINDEX_METRIC_INNER_PRODUCT),
                                        d, 4, 2, 4, VINDEX_METRIC_INNER_PRODUCT));
    ASSERT_OK(vindex_set_param(ix, "pq.cp.niter", 5));
    return ivf_fill(ix, n, x, true, VINDEX_DIRECT_MAP_HASH);
}

enum {
    K_FLAT_L2, K_FLAT_SPLIT, K_FLAT_IP, K_IDMAP, K_IDMAP2, K_IVF, K_IVF_ARRAY, K_IVF_HASH_IP,
    K_HNSW_FLAT, K_HNSW_IP, K_HNSW_SQ8, K_HNSW_FP16, K_IVF_HNSW
};

static const io_case CASES[] = {
    [K_FLAT_L2] = {"Flat L2", 8, 20, b_flat_l2},
    [K_FLAT_SPLIT] = {"Flat L2 split", 64, 20, b_flat_split},
    [K_FLAT_IP] = {"Flat IP", 8, 20, b_flat_ip},
    [K_IDMAP] = {"IDMap", 8, 20, b_idmap},
    [K_IDMAP2] = {"IDMap2", 8, 20, b_idmap2},
    [K_IVF] = {"IVFFlat", 8, 20, b_ivf},
    [K_IVF_ARRAY] = {"IVFFlat array map", 8, 20, b_ivf_array},
    [K_IVF_HASH_IP] = {"IVFFlat IP hash map", 8, 20, b_ivf_hash_ip},
    [K_HNSW_FLAT] = {"HNSWFlat with free slots", 8, 20, b_hnsw_free_slots},
    [K_HNSW_IP] = {"HNSWFlat IP", 8, 20, b_hnsw_ip},
    [K_HNSW_SQ8] = {"HNSWSQ8", 8, 20, b_hnsw_sq8},
    [K_HNSW_FP16] = {"HNSWSQ fp16 IP", 8, 20, b_hnsw_fp16_ip},
    [K_IVF_HNSW] = {"IVFFlat over HNSW", 8, 20, b_ivf_hnsw},
    {"PQ4x4", 8, 40, b_pq},
    {"PQ2x6 IP", 8, 64, b_pq_ip_6bit},
    {"PQ untrained", 8, 0, b_pq_untrained},
    {"SQ8", 8, 30, b_sq8},
    {"SQ4 IP odd d", 9, 30, b_sq4_ip},
    {"SQ8 uniform", 8, 30, b_sq8_uniform},
    {"SQfp16", 8, 30, b_sq_fp16},
    {"SQbf16 IP", 8, 30, b_sq_bf16_ip},
    {"SQ8 untrained", 8, 0, b_sq8_untrained},
    {"IVFPQ array map", 8, 40, b_ivfpq},
    {"IVFPQ2x5 no precomputed table", 8, 40, b_ivfpq_no_table},
    {"IVFPQ IP hash map", 8, 40, b_ivfpq_ip_hash},
    {"IVFPQ untrained", 8, 0, b_ivfpq_untrained},
    {"IVFSQ8 array map", 8, 30, b_ivfsq8},
    {"IVFSQ4 IP hash map", 8, 30, b_ivfsq4_ip_hash},
    {"IVFSQfp16", 8, 30, b_ivfsq_fp16},
    {"IVFSQ8 uniform untrained", 8, 0, b_ivfsq_untrained},
    {"LSH 12 bits, rotation, thresholds", 8, 30, b_lsh},
    {"LSH 5 bits", 8, 30, b_lsh_plain},
    {"LSH untrained thresholds", 8, 0, b_lsh_untrained},
    {"HNSWPQ", 8, 20, b_hnsw_pq},
    {"RefineFlat over PQ", 8, 30, b_refine_flat},
    {"Refine IVFPQ IP by SQ8", 8, 40, b_refine_sq},
    {"PreTransform RR up, SQ8", 8, 30, b_pt_rr},
    {"PreTransform PCAWR", 8, 30, b_pt_pca_whiten},
    {"PreTransform OPQ", 8, 260, b_pt_opq},
    {"PreTransform chain L2norm, PCA, IDMap2", 8, 30, b_pt_chain},
    {"PreTransform untrained PCA", 8, 0, b_pt_untrained},
    {"PQ4x4 fast-scan", 8, 40, b_pq_fastscan},
    {"IVFPQ2x4 fast-scan IP hash map", 8, 40, b_ivfpq_fastscan_ip},
};

enum { K_COUNT = sizeof CASES / sizeof CASES[0] };

enum { NQ = 7, K = 5 };

static int kind_d(int k) { return CASES[k].d; }

/* The index of row k, built deterministically. */
static vindex *build(int k)
{
    const io_case *c = &CASES[k];
    float *x = tu_clustered_vectors(c->n ? c->n : 1, c->d, 4, 77 + (uint64_t)k);
    vindex *ix = c->build(c->d, c->n, x);
    free(x);
    return ix;
}

/* Searches of a and b agree bit for bit; so do their parameters. */
static void assert_same(const vindex *a, const vindex *b)
{
    assert_string_equal(vindex_type_name(a), vindex_type_name(b));
    assert_int_equal(vindex_d(a), vindex_d(b));
    assert_int_equal(vindex_ntotal(a), vindex_ntotal(b));
    assert_int_equal(vindex_metric_type(a), vindex_metric_type(b));
    assert_int_equal(vindex_is_trained(a), vindex_is_trained(b));
    const int d = vindex_d(a);
    float *q = tu_random_vectors(NQ, d, 5);
    float da[NQ * K], db[NQ * K];
    vindex_id la[NQ * K], lb[NQ * K];
    assert_int_equal(vindex_memory_bytes(a) > 0, vindex_memory_bytes(b) > 0);
    const char *params[] = {"nprobe", "cp.niter", "cp.seed", "cp.spherical", "pq.M",
                            "pq.nbits", "pq.cp.niter", "use_precomputed_table", "code_size",
                            "k_factor", "nbits", "rotate_data", "train_thresholds",
                            "efSearch", "efConstruction", "M", "max_level", "entry_point",
                            "seed"};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        double va, vb;
        vindex_status sa = vindex_get_param(a, params[i], &va);
        assert_int_equal(sa, vindex_get_param(b, params[i], &vb));
        if (!sa && va != vb)
            fail_msg("%s: parameter %s is %g, read back as %g", vindex_type_name(a), params[i],
                     va, vb);
    }
    if (!vindex_is_trained(a)) { /* nothing to search */
        assert_int_equal(vindex_search(b, 1, q, K, NULL, db, lb), VINDEX_ERR_NOT_TRAINED);
        free(q);
        return;
    }
    ASSERT_OK(vindex_search(a, NQ, q, K, NULL, da, la));
    ASSERT_OK(vindex_search(b, NQ, q, K, NULL, db, lb));
    assert_memory_equal(da, db, sizeof da);
    assert_memory_equal(la, lb, sizeof la);
    ASSERT_OK(vindex_search(a, 1, q, K, NULL, da, la)); /* the single-query paths too */
    ASSERT_OK(vindex_search(b, 1, q, K, NULL, db, lb));
    assert_memory_equal(da, db, K * sizeof *da);
    assert_memory_equal(la, lb, K * sizeof *la);
    if (!strncmp(vindex_type_name(a), "IndexIVF", 8)) {
        vindex_direct_map ka, kb;
        ASSERT_OK(vindex_ivf_direct_map_kind(a, &ka));
        ASSERT_OK(vindex_ivf_direct_map_kind(b, &kb));
        assert_int_equal(ka, kb);
    }
    /* reconstruct where the family can */
    float ra[64], rb[64];
    vindex_id id = la[0];
    vindex_status sa = vindex_reconstruct(a, id, ra);
    assert_int_equal(sa, vindex_reconstruct(b, id, rb));
    if (!sa)
        assert_memory_equal(ra, rb, (size_t)d * sizeof *ra);
    free(q);
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vindex_test_io.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", tmpdir, name);
}

/* ---- round trips ---------------------------------------------------------- */

static void round_trips(void **state)
{
    (void)state;
    char path[128];
    for (int k = 0; k < K_COUNT; k++) {
        vindex *ix = build(k);
        path_of(path, sizeof path, "rt.vindex");
        ASSERT_OK(vindex_write(ix, path));
        vindex *file = NULL, *mapped = NULL, *bytes = NULL;
        ASSERT_OK(vindex_read(&file, path, 0));
        ASSERT_OK(vindex_read(&mapped, path, VINDEX_IO_MMAP));
        void *buf;
        size_t len;
        ASSERT_OK(vindex_serialize(ix, &buf, &len));
        ASSERT_OK(vindex_deserialize(&bytes, buf, len));
        assert_same(ix, file);
        assert_same(ix, mapped);
        assert_same(ix, bytes);
        /* the bytes are the file, and writing what was read gives them again */
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t *disk = malloc(len + 1);
        assert_int_equal(fread(disk, 1, len + 1, f), len);
        fclose(f);
        assert_memory_equal(disk, buf, len);
        void *again;
        size_t len2;
        ASSERT_OK(vindex_serialize(mapped, &again, &len2));
        assert_int_equal(len, len2);
        assert_memory_equal(buf, again, len);
        /* caller-buffer variant: size query, then the same bytes */
        size_t need;
        assert_int_equal(vindex_serialize_into(ix, NULL, 0, &need), VINDEX_ERR_INVALID);
        assert_int_equal(need, len);
        ASSERT_OK(vindex_serialize_into(ix, disk, len, &need));
        assert_memory_equal(disk, buf, len);
        /* the mapped copy outlives the file (unlinked) and its siblings */
        vindex_free(file);
        vindex_free(bytes);
        unlink(path);
        assert_same(ix, mapped);
        free(disk);
        vindex_buffer_free(again);
        vindex_buffer_free(buf);
        vindex_free(mapped);
        vindex_free(ix);
    }
}

/* A mapped Flat index is read-only; the copies are not. */
static void mapped_flat_is_read_only(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "ro.vindex");
    for (int k = K_FLAT_L2; k <= K_IDMAP2; k++) {
        vindex *ix = build(k), *m = NULL, *c = NULL;
        ASSERT_OK(vindex_write(ix, path));
        ASSERT_OK(vindex_read(&m, path, VINDEX_IO_MMAP));
        ASSERT_OK(vindex_read(&c, path, 0));
        const int d = kind_d(k);
        float *x = tu_random_vectors(2, d, 9);
        vindex_id ids[2] = {5, 6};
        vindex_status st = k >= K_IDMAP ? vindex_add_with_ids(m, 2, x, ids) : vindex_add(m, 2, x);
        assert_int_equal(st, VINDEX_ERR_UNSUPPORTED);
        assert_non_null(strstr(vindex_last_error(), "VINDEX_IO_MMAP"));
        vindex_selector *sel;
        ASSERT_OK(vindex_selector_range(&sel, 0, 2000));
        size_t removed = 7;
        assert_int_equal(vindex_remove_ids(m, sel, &removed), VINDEX_ERR_UNSUPPORTED);
        assert_int_equal(removed, 0);
        assert_same(ix, m); /* unchanged by the refusals */
        ASSERT_OK(k >= K_IDMAP ? vindex_add_with_ids(c, 2, x, ids) : vindex_add(c, 2, x));
        ASSERT_OK(vindex_remove_ids(c, sel, &removed));
        ASSERT_OK(vindex_reset(m)); /* drops the mapping: writable again */
        ASSERT_OK(k >= K_IDMAP ? vindex_add_with_ids(m, 2, x, ids) : vindex_add(m, 2, x));
        vindex_selector_free(sel);
        free(x);
        vindex_free(m);
        vindex_free(c);
        vindex_free(ix);
    }
}

/* A mapped HNSW index is read-only until reset; a copy read back keeps
 * working as the original: the same slots reused, the same graph after the
 * same adds and removals, and a valid graph. */
static void hnsw_read_back(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "hnsw.vindex");
    int threads = vindex_get_num_threads();
    vindex_set_num_threads(1); /* builds exactly reproducible */
    for (int k = K_HNSW_FLAT; k <= K_HNSW_FP16; k++) {
        vindex *ix = build(k), *m = NULL, *c = NULL;
        ASSERT_OK(vindex_write(ix, path));
        ASSERT_OK(vindex_read(&m, path, VINDEX_IO_MMAP));
        ASSERT_OK(vindex_read(&c, path, 0));
        ASSERT_OK(vindex_hnsw_validate(m, NULL, NULL, 0));
        const int d = kind_d(k);
        float *x = tu_random_vectors(4, d, 9);
        vindex_id ids[4] = {5, 6, 7, 8};
        assert_int_equal(vindex_add_with_ids(m, 4, x, ids), VINDEX_ERR_UNSUPPORTED);
        assert_non_null(strstr(vindex_last_error(), "VINDEX_IO_MMAP"));
        vindex_selector *sel;
        ASSERT_OK(vindex_selector_range(&sel, 990, 1001));
        size_t removed = 7, r2;
        assert_int_equal(vindex_remove_ids(m, sel, &removed), VINDEX_ERR_UNSUPPORTED);
        assert_int_equal(removed, 0);
        assert_same(ix, m); /* unchanged by the refusals */
        ASSERT_OK(vindex_add_with_ids(ix, 4, x, ids));
        ASSERT_OK(vindex_add_with_ids(c, 4, x, ids));
        ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
        ASSERT_OK(vindex_remove_ids(c, sel, &r2));
        assert_int_equal(removed, r2);
        assert_same(ix, c);
        ASSERT_OK(vindex_hnsw_validate(c, NULL, NULL, 0));
        void *a, *b;
        size_t la, lb;
        ASSERT_OK(vindex_serialize(ix, &a, &la));
        ASSERT_OK(vindex_serialize(c, &b, &lb));
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la); /* the very same graph */
        vindex_buffer_free(a);
        vindex_buffer_free(b);
        ASSERT_OK(vindex_reset(m)); /* drops the mapping: writable again */
        if (k == K_HNSW_SQ8)
            ASSERT_OK(vindex_train(m, 4, x));
        ASSERT_OK(vindex_add_with_ids(m, 4, x, ids));
        assert_int_equal(vindex_ntotal(m), 4);
        unlink(path);
        vindex_selector_free(sel);
        free(x);
        vindex_free(m);
        vindex_free(c);
        vindex_free(ix);
    }
    vindex_set_num_threads(threads);
}

/* An IVF index read back keeps working: adds, removals, merges. */
static void read_ivf_is_usable(void **state)
{
    (void)state;
    vindex *ix = build(K_IVF_HASH_IP), *r = NULL;
    void *buf;
    size_t len;
    ASSERT_OK(vindex_serialize(ix, &buf, &len));
    ASSERT_OK(vindex_deserialize(&r, buf, len));
    float *x = tu_random_vectors(3, 8, 11);
    vindex_id ids[3] = {1, 2, 3};
    ASSERT_OK(vindex_add_with_ids(ix, 3, x, ids));
    ASSERT_OK(vindex_add_with_ids(r, 3, x, ids));
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 990, 1001));
    size_t a, b;
    ASSERT_OK(vindex_remove_ids(ix, sel, &a));
    ASSERT_OK(vindex_remove_ids(r, sel, &b));
    assert_int_equal(a, b);
    assert_same(ix, r);
    /* a mapped IVF index takes adds (the lists it changes are copied first) */
    char path[128];
    path_of(path, sizeof path, "ivf.vindex");
    vindex *m = NULL;
    ASSERT_OK(vindex_write(ix, path));
    ASSERT_OK(vindex_read(&m, path, VINDEX_IO_MMAP));
    unlink(path);
    vindex_id more[3] = {4, 5, 6};
    ASSERT_OK(vindex_add_with_ids(ix, 3, x, more));
    ASSERT_OK(vindex_add_with_ids(m, 3, x, more));
    assert_same(ix, m);
    vindex_free(m);
    vindex_selector_free(sel);
    free(x);
    vindex_buffer_free(buf);
    vindex_free(r);
    vindex_free(ix);
}

/* Adds 3 vectors (with ids when the index takes them). */
static vindex_status add_some(vindex *ix, const float *x)
{
    vindex_id ids[3] = {5001, 5002, 5003};
    vindex_status st = vindex_add_with_ids(ix, 3, x, ids);
    if (st && !strstr(vindex_last_error(), "VINDEX_IO_MMAP"))
        st = vindex_add(ix, 3, x);
    return st;
}

/* A mapped index uses its big arrays in place (it holds less memory than a
 * copy), and gives the results of a copy after the same adds and removals:
 * code arrays and inverted lists are copied on their first change; Flat
 * storage refuses changes, naming the flag, and stays as it was. */
static void mapped_arrays_in_place(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "inplace.vindex");
    for (int k = 0; k < K_COUNT; k++) {
        vindex *ix = build(k), *m = NULL, *c = NULL;
        if (!vindex_is_trained(ix) || vindex_ntotal(ix) == 0) {
            vindex_free(ix);
            continue;
        }
        ASSERT_OK(vindex_write(ix, path));
        ASSERT_OK(vindex_read(&m, path, VINDEX_IO_MMAP));
        ASSERT_OK(vindex_read(&c, path, 0));
        unlink(path);
        /* HNSW's memory_bytes counts its mapped arrays too; IndexPQFastScan
         * copies its blocks */
        const char *type = vindex_type_name(m);
        if (strncmp(type, "IndexHNSW", 9) && strcmp(type, "IndexPQFastScan") &&
            !(vindex_memory_bytes(m) < vindex_memory_bytes(c)))
            fail_msg("%s: mapped, it holds %zu bytes, a copy %zu", CASES[k].name,
                     vindex_memory_bytes(m), vindex_memory_bytes(c));
        float *x = tu_random_vectors(3, kind_d(k), 13);
        vindex_status st = add_some(m, x);
        if (st) {
            assert_int_equal(st, VINDEX_ERR_UNSUPPORTED);
            assert_non_null(strstr(vindex_last_error(), "VINDEX_IO_MMAP"));
        } else {
            ASSERT_OK(add_some(c, x));
        }
        assert_same(c, m);
        vindex_selector *sel;
        ASSERT_OK(vindex_selector_range(&sel, 2, 990));
        size_t rm = 0, rc = 0;
        st = vindex_remove_ids(m, sel, &rm);
        if (st && st != VINDEX_ERR_UNSUPPORTED)
            fail_msg("%s: remove_ids on the mapped index: %s", CASES[k].name,
                     vindex_last_error());
        if (!st) {
            ASSERT_OK(vindex_remove_ids(c, sel, &rc));
            assert_int_equal(rm, rc);
        }
        assert_same(c, m);
        vindex_selector_free(sel);
        free(x);
        vindex_free(m);
        vindex_free(c);
        vindex_free(ix);
    }
}

/* IVF merges move lists out of (and into) mapped indexes. */
static void mapped_ivf_merges(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "merge.vindex");
    for (int k = 0; k < K_COUNT; k++) {
        vindex *ix = build(k);
        if (strncmp(vindex_type_name(ix), "IndexIVF", 8) || !vindex_is_trained(ix)) {
            vindex_free(ix);
            continue;
        }
        vindex_direct_map kind;
        ASSERT_OK(vindex_ivf_direct_map_kind(ix, &kind));
        if (kind == VINDEX_DIRECT_MAP_ARRAY)
            ASSERT_OK(vindex_ivf_make_direct_map(ix, VINDEX_DIRECT_MAP_NONE));
        ASSERT_OK(vindex_write(ix, path));
        vindex *src = NULL, *dst = NULL, *ref_src = NULL, *ref_dst = NULL;
        ASSERT_OK(vindex_read(&src, path, VINDEX_IO_MMAP));
        ASSERT_OK(vindex_read(&dst, path, VINDEX_IO_MMAP));
        ASSERT_OK(vindex_read(&ref_src, path, 0));
        ASSERT_OK(vindex_read(&ref_dst, path, 0));
        unlink(path);
        ASSERT_OK(vindex_ivf_merge_from(dst, src, 100000));
        ASSERT_OK(vindex_ivf_merge_from(ref_dst, ref_src, 100000));
        assert_int_equal(vindex_ntotal(src), 0);
        assert_int_equal(vindex_ntotal(dst), 2 * vindex_ntotal(ix));
        assert_same(ref_dst, dst);
        assert_same(ref_src, src);
        vindex_free(src);
        assert_same(ref_dst, dst); /* dst's lists no longer need src's mapping */
        vindex_free(dst);
        vindex_free(ref_src);
        vindex_free(ref_dst);
        vindex_free(ix);
    }
}

/* Empty and untrained indexes round-trip too. */
static void empty_indexes(void **state)
{
    (void)state;
    vindex *ix[3] = {NULL, NULL, NULL}, *q, *r;
    ASSERT_OK(vindex_flat_new(&ix[0], 5, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_flat_new(&q, 5, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_ivf_flat_new(&ix[1], q, 5, 3, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_flat_new(&q, 5, VINDEX_METRIC_INNER_PRODUCT));
    ASSERT_OK(vindex_idmap2_new(&ix[2], q));
    for (int i = 0; i < 3; i++) {
        void *buf;
        size_t len;
        ASSERT_OK(vindex_serialize(ix[i], &buf, &len));
        ASSERT_OK(vindex_deserialize(&r, buf, len));
        assert_string_equal(vindex_type_name(r), vindex_type_name(ix[i]));
        assert_int_equal(vindex_ntotal(r), 0);
        assert_int_equal(vindex_is_trained(r), vindex_is_trained(ix[i]));
        vindex_buffer_free(buf);
        vindex_free(r);
        vindex_free(ix[i]);
    }
}

/* ---- across processes ----------------------------------------------------- */

/* The library has a thread pool, so a child runs this test program afresh
 * (fork + exec) rather than continuing after fork. One child writes every
 * row's file (dir/<row>.vindex), another reads and checks them all. */
static void case_path(char *out, size_t len, const char *dir, int k)
{
    snprintf(out, len, "%s/case%d.vindex", dir, k);
}

static int child_main(const char *mode, const char *dir)
{
    char path[160];
    for (int k = 0; k < K_COUNT; k++) {
        case_path(path, sizeof path, dir, k);
        vindex *ix = build(k), *r = NULL;
        if (!strcmp(mode, "write")) {
            int rc = vindex_write(ix, path) == VINDEX_OK ? 0 : 1;
            vindex_free(ix);
            if (rc)
                return rc;
            continue;
        }
        if (vindex_read(&r, path, VINDEX_IO_MMAP)) {
            vindex_free(ix);
            return 2;
        }
        float *q = tu_random_vectors(NQ, vindex_d(r), 5);
        float da[NQ * K], db[NQ * K];
        vindex_id la[NQ * K], lb[NQ * K];
        int same = !vindex_is_trained(ix) ? !vindex_is_trained(r) && vindex_ntotal(r) == 0 :
                   !vindex_search(ix, NQ, q, K, NULL, da, la) &&
                   !vindex_search(r, NQ, q, K, NULL, db, lb) && !memcmp(da, db, sizeof da) &&
                   !memcmp(la, lb, sizeof la);
        free(q);
        vindex_free(r);
        vindex_free(ix);
        if (!same)
            return 3;
    }
    return 0;
}

/* From OpenBLAS (its cblas.h is not the one on the include path). */
char *openblas_get_corename(void);

static int run_child(const char *mode, const char *dir)
{
    /* The child builds every row itself and compares bit for bit, so it must
     * compute as this process does: under valgrind this process sees fewer CPU
     * features (no AVX-512) than the child, which runs natively, will. Hand it
     * this process's SIMD level and OpenBLAS kernel. */
    setenv("VINDEX_SIMD", vindex_simd_level(), 1);
    setenv("OPENBLAS_CORETYPE", openblas_get_corename(), 1);
    /* The program's real path: under valgrind, /proc/self/exe is valgrind's. */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, "test_io", "--child", mode, dir, (char *)NULL);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void another_process(void **state)
{
    (void)state;
    char dir[128], path[160];
    path_of(dir, sizeof dir, "theirs");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(run_child("write", dir), 0); /* the child writes */
    for (int k = 0; k < K_COUNT; k++) {
        case_path(path, sizeof path, dir, k);
        vindex *mine = build(k), *theirs = NULL;
        ASSERT_OK(vindex_read(&theirs, path, 0));
        assert_same(mine, theirs);
        vindex_free(theirs);
        ASSERT_OK(vindex_write(mine, path)); /* and reads back what this one wrote */
        vindex_free(mine);
    }
    assert_int_equal(run_child("check", dir), 0);
}

/* ---- versions and atomic writes ------------------------------------------- */

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Recomputes every checksum, so that a change reaches the parsers. */
static void fix_checksums(uint8_t *b, size_t len)
{
    uint32_t count = rd32(b + 32);
    if (len < 64 || (uint64_t)count * 32 > len - 64)
        return;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *e = b + 64 + (size_t)i * 32;
        uint64_t off = rd64(e + 8), n = rd64(e + 16);
        if (off <= len && n <= len - off)
            wr32(e + 24, (uint32_t)crc32(0, b + off, (uInt)n));
    }
    wr32(b + 40, (uint32_t)crc32(0, b + 64, (uInt)count * 32));
    wr32(b + 60, (uint32_t)crc32(0, b, 60));
}

static void newer_version_refused(void **state)
{
    (void)state;
    vindex *ix = build(K_FLAT_L2), *r = NULL;
    void *buf;
    size_t len;
    ASSERT_OK(vindex_serialize(ix, &buf, &len));
    uint8_t *b = buf;
    assert_int_equal(rd32(b + 8), VX_FORMAT_VERSION);
    wr32(b + 8, VX_FORMAT_VERSION + 1);
    fix_checksums(b, len);
    assert_int_equal(vindex_deserialize(&r, buf, len), VINDEX_ERR_UNSUPPORTED);
    assert_null(r);
    char want_new[32], want_old[32];
    snprintf(want_new, sizeof want_new, "version %d", VX_FORMAT_VERSION + 1);
    snprintf(want_old, sizeof want_old, "version %d", VX_FORMAT_VERSION);
    assert_non_null(strstr(vindex_last_error(), want_new));
    assert_non_null(strstr(vindex_last_error(), want_old));
    /* also without fixing the checksum: the version is checked first */
    wr32(b + 8, 77);
    assert_int_equal(vindex_deserialize(&r, buf, len), VINDEX_ERR_UNSUPPORTED);
    assert_non_null(strstr(vindex_last_error(), "version 77"));
    vindex_buffer_free(buf);
    vindex_free(ix);
}

static void write_errors_and_atomicity(void **state)
{
    (void)state;
    vindex *ix = build(K_IVF), *r = NULL;
    char path[160];
    /* a directory that does not exist: an I/O error, nothing left behind */
    path_of(path, sizeof path, "missing/dir/x.vindex");
    assert_int_equal(vindex_write(ix, path), VINDEX_ERR_IO);
    assert_non_null(strstr(vindex_last_error(), "missing"));
    assert_int_equal(vindex_read(&r, path, 0), VINDEX_ERR_IO);
    /* overwriting replaces the whole file; no temporary files remain */
    path_of(path, sizeof path, "over.vindex");
    vindex *big = build(K_FLAT_SPLIT);
    ASSERT_OK(vindex_write(big, path));
    ASSERT_OK(vindex_write(ix, path));
    ASSERT_OK(vindex_read(&r, path, 0));
    assert_same(ix, r);
    vindex_free(r);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", tmpdir);
    assert_int_not_equal(system(cmd), 0);
    /* a family without a serializer (every family has one now: a made-up
     * family stands for one to come) says so, and leaves the file be */
    static const vx_index_ops no_write_ops = {.type_name = "IndexYetToCome"};
    vindex *pq = calloc(1, sizeof *pq);
    vx_index_init(pq, &no_write_ops, 8, VINDEX_METRIC_L2, true);
    assert_int_equal(vindex_write(pq, path), VINDEX_ERR_UNSUPPORTED);
    assert_non_null(strstr(vindex_last_error(), "IndexYetToCome"));
    void *none;
    size_t none_len;
    assert_int_equal(vindex_serialize(pq, &none, &none_len), VINDEX_ERR_UNSUPPORTED);
    ASSERT_OK(vindex_read(&r, path, 0)); /* the old file is intact */
    assert_same(ix, r);
    vindex_free(r);
    /* bad arguments */
    assert_int_equal(vindex_read(&r, path, 4), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_write(NULL, path), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_deserialize(&r, NULL, 5), VINDEX_ERR_INVALID);
    /* not a file: a directory */
    assert_int_equal(vindex_read(&r, tmpdir, 0), VINDEX_ERR_IO);
    pthread_rwlock_destroy(&pq->lock);
    free(pq);
    vindex_free(big);
    vindex_free(ix);
}

/* ---- hostile input -------------------------------------------------------- */

/* Reads b; on success the index must be searchable without crashing. */
static vindex_status try_read(const uint8_t *b, size_t len)
{
    vindex *r = NULL;
    vindex_status st = vindex_deserialize(&r, b, len);
    if (st) {
        assert_null(r);
        assert_true(vindex_last_error()[0] != '\0');
        return st;
    }
    float *q = calloc(2 * (size_t)vindex_d(r), sizeof *q);
    float dist[2 * 3], back[64];
    vindex_id lab[2 * 3];
    vindex_status s2 = vindex_search(r, 2, q, 3, NULL, dist, lab);
    if (!s2 && lab[0] >= 0 && vindex_d(r) <= 64)
        s2 = vindex_reconstruct(r, lab[0], back);
    (void)s2; /* may fail (untrained), must not crash */
    free(q);
    vindex_free(r);
    return st;
}

/* Every byte changed, every truncation: an error each time. Then every byte
 * changed with the checksums recomputed, which reaches the parsers: an error
 * or a usable index, never a crash. */
/* Whether the damage loops try byte i of file b: every byte normally. In
 * small-data mode (tu_small) every 17th byte (a stride prime to the 8 bit
 * positions and 3 patterns below, so all of them still occur), and with
 * `parsed` (changes that reach the parsers) also the whole header, the first
 * section table entry and the low byte of every field of the others (tag,
 * offset, length, checksum), and the first 24 bytes of each section, where
 * the counts, shapes and parameters that the parsers check are. */
static bool damage_here(const uint8_t *b, size_t len, size_t i, bool parsed)
{
    if (!tu_small() || i % 17 == 0)
        return true;
    if (!parsed)
        return false;
    uint32_t count = rd32(b + 32);
    if (i < 64 + 32 || (uint64_t)count * 32 > len - 64)
        return true;
    if (i < 64 + (size_t)count * 32)
        return (i - 64) % 8 == 0;
    for (uint32_t s = 0; s < count; s++) {
        uint64_t off = rd64(b + 64 + (size_t)s * 32 + 8);
        if (i >= off && i - off < 24)
            return true;
    }
    return false;
}

static void damaged_files(void **state)
{
    (void)state;
    size_t tried = 0, total = 0;
    for (int k = 0; k < K_COUNT; k++) {
        vindex *ix = build(k);
        void *buf;
        size_t len;
        ASSERT_OK(vindex_serialize(ix, &buf, &len));
        total += len;
        uint8_t *b = malloc(len);
        for (size_t i = 0; i < len; i++) {
            if (!damage_here(buf, len, i, false))
                continue;
            memcpy(b, buf, len);
            b[i] ^= (uint8_t)(1u << (i % 8));
            if (try_read(b, len) == VINDEX_OK)
                fail_msg("%s: flipping a bit of byte %zu of %zu went unnoticed", CASES[k].name,
                         i, len);
            tried++;
        }
        for (size_t n = 0; n < len; n++)
            if (damage_here(buf, len, n, false) && try_read(buf, n) == VINDEX_OK)
                fail_msg("%s: truncated to %zu of %zu bytes, read fine", CASES[k].name, n, len);
        size_t accepted = 0;
        for (size_t i = 64; i < len; i++) { /* one of three patterns per byte */
            if (!damage_here(buf, len, i, true))
                continue;
            const uint8_t deltas[] = {0x01, 0x80, 0xff};
            memcpy(b, buf, len);
            b[i] ^= deltas[i % 3];
            fix_checksums(b, len);
            accepted += try_read(b, len) == VINDEX_OK;
            tried++;
        }
        (void)accepted; /* changed vector values are valid input */
        free(b);
        vindex_buffer_free(buf);
        vindex_free(ix);
    }
    if (getenv("TEST_IO_VERBOSE"))
        printf("damaged_files: %zu damaged reads of %zu bytes in all\n", tried, total);
}

/* Hand-made files with valid checksums and huge counts: an error, no huge
 * allocation (ASan would abort on one). */
static vindex_status read_crafted(vx_writer *w)
{
    size_t len = vx_writer_size(w);
    void *b = malloc(len);
    assert_int_equal(vx_writer_emit_buffer(w, b), VINDEX_OK);
    vindex *r = NULL;
    vindex_status st = vindex_deserialize(&r, b, len);
    assert_null(r);
    free(b);
    vx_writer_free(w);
    return st;
}

static void index_header(vx_writer *w, uint32_t family, uint32_t d, uint64_t ntotal)
{
    vx_writer_begin(w, VX_TAG_INDEX);
    vx_writer_u32(w, family);
    vx_writer_u32(w, 0);
    vx_writer_u32(w, d);
    vx_writer_u32(w, 1);
    vx_writer_u64(w, ntotal);
    vx_writer_end(w);
}

static void crafted_huge_counts(void **state)
{
    (void)state;
    /* a Flat index of 2^40 vectors with no vectors */
    vx_writer *w = vx_writer_new();
    index_header(w, VX_FAMILY_FLAT, 8, (uint64_t)1 << 40);
    vx_writer_begin(w, VX_TAG('F', 'L', 'T', 'M'));
    vx_writer_u32(w, 8);
    vx_writer_u32(w, 0);
    vx_writer_u32(w, 1);
    vx_writer_end(w);
    vx_writer_array(w, VX_TAG('V', 'E', 'C', 'S'), NULL, 0, 4);
    assert_int_equal(read_crafted(w), VINDEX_ERR_CORRUPT);
    /* a huge dimension */
    w = vx_writer_new();
    index_header(w, VX_FAMILY_FLAT, 0x7fffffff, 3);
    assert_int_equal(read_crafted(w), VINDEX_ERR_CORRUPT);
    /* an IVF index with 2^31-1 lists in a few hundred bytes */
    w = vx_writer_new();
    index_header(w, VX_FAMILY_IVF_FLAT, 8, 0);
    vx_writer_begin(w, VX_TAG('I', 'V', 'F', 'M'));
    vx_writer_u64(w, 0x7fffffff);
    for (int i = 0; i < 2; i++)
        vx_writer_u64(w, 1);
    for (int i = 0; i < 8; i++)
        vx_writer_u32(w, 1);
    vx_writer_i64(w, 0);
    vx_writer_end(w);
    assert_int_equal(read_crafted(w), VINDEX_ERR_CORRUPT);
    /* an HNSW graph claiming 2^40 slots and as many upper-level words */
    for (int words = 0; words < 2; words++) {
        w = vx_writer_new();
        index_header(w, VX_FAMILY_HNSW_FLAT, 8, words ? 0 : (uint64_t)1 << 40);
        vx_writer_begin(w, VX_TAG('H', 'N', 'S', 'M'));
        for (int i = 0; i < 3; i++)
            vx_writer_u32(w, 16);
        for (int i = 0; i < 2; i++)
            vx_writer_u64(w, 0);
        vx_writer_i64(w, (int64_t)1 << 40);
        vx_writer_i64(w, 0);
        vx_writer_i64(w, 0);
        vx_writer_u64(w, words ? 0 : (uint64_t)1 << 40);
        vx_writer_u64(w, 0);
        vx_writer_u64(w, words ? (uint64_t)1 << 40 : 0);
        vx_writer_end(w);
        assert_int_equal(read_crafted(w), VINDEX_ERR_CORRUPT);
    }
    /* an IDMap claiming 2^62 ids */
    w = vx_writer_new();
    index_header(w, VX_FAMILY_IDMAP, 8, (uint64_t)1 << 62);
    index_header(w, VX_FAMILY_FLAT, 8, (uint64_t)1 << 62);
    assert_int_equal(read_crafted(w), VINDEX_ERR_CORRUPT);
    /* indexes nested without end */
    w = vx_writer_new();
    for (int i = 0; i < 100; i++)
        index_header(w, VX_FAMILY_IDMAP, 8, 0);
    assert_int_equal(read_crafted(w), VINDEX_ERR_CORRUPT);
    /* codecs whose dimension alone would ask for gigabytes: an SQ of d 2^31-1
     * and a 65536 x 65536 PCA, without the arrays that would justify them */
    w = vx_writer_new();
    index_header(w, VX_FAMILY_SQ, 0x7fffffff, 0);
    vx_writer_begin(w, VX_TAG('S', 'Q', 'C', 'D'));
    vx_writer_u32(w, VINDEX_SQ_8BIT);
    vx_writer_u32(w, 0x7fffffff);
    vx_writer_u32(w, 1);
    vx_writer_end(w);
    assert_int_equal(read_crafted(w), VINDEX_ERR_CORRUPT);
    w = vx_writer_new();
    index_header(w, VX_FAMILY_PRETRANSFORM, 65536, 0);
    vx_writer_begin(w, VX_TAG('T', 'R', 'F', 'M'));
    const uint32_t tr[5] = {2, 65536, 65536, 0, 0}; /* PCA, untrained */
    for (int i = 0; i < 5; i++)
        vx_writer_u32(w, tr[i]);
    vx_writer_f64(w, 0);
    for (int i = 0; i < 7; i++)
        vx_writer_u32(w, 0);
    vx_writer_end(w);
    assert_int_equal(read_crafted(w), VINDEX_ERR_CORRUPT);
    /* an LSH of 2^31-1 bits with a rotation, whose rotation is not there */
    w = vx_writer_new();
    index_header(w, VX_FAMILY_LSH, 8, 0);
    vx_writer_begin(w, VX_TAG('L', 'S', 'H', 'M'));
    vx_writer_u32(w, 0x7fffffff);
    vx_writer_u32(w, 1);
    vx_writer_u32(w, 0);
    vx_writer_end(w);
    assert_int_equal(read_crafted(w), VINDEX_ERR_CORRUPT);
    /* an unknown family */
    w = vx_writer_new();
    index_header(w, VX_TAG('N', 'O', 'P', 'E'), 8, 0);
    assert_int_equal(read_crafted(w), VINDEX_ERR_UNSUPPORTED);
    assert_non_null(strstr(vindex_last_error(), "NOPE"));
    /* a header whose section count is huge */
    vindex *ix = build(K_FLAT_IP), *r = NULL;
    void *buf;
    size_t len;
    ASSERT_OK(vindex_serialize(ix, &buf, &len));
    wr32((uint8_t *)buf + 32, 0xffffffffu);
    fix_checksums(buf, len);
    assert_int_equal(vindex_deserialize(&r, buf, len), VINDEX_ERR_CORRUPT);
    /* not an index at all */
    assert_int_equal(vindex_deserialize(&r, "hello world, this is text", 25),
                     VINDEX_ERR_CORRUPT);
    assert_non_null(strstr(vindex_last_error(), "magic"));
    vindex_buffer_free(buf);
    vindex_free(ix);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--child"))
        return child_main(argv[2], argv[3]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trips),
        cmocka_unit_test(mapped_flat_is_read_only),
        cmocka_unit_test(read_ivf_is_usable),
        cmocka_unit_test(hnsw_read_back),
        cmocka_unit_test(empty_indexes),
        cmocka_unit_test(mapped_arrays_in_place),
        cmocka_unit_test(mapped_ivf_merges),
        cmocka_unit_test(another_process),
        cmocka_unit_test(newer_version_refused),
        cmocka_unit_test(write_errors_and_atomicity),
        cmocka_unit_test(damaged_files),
        cmocka_unit_test(crafted_huge_counts),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
