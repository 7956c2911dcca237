/*
 * index_factory: Faiss's factory strings, parsed into indexes, and back.
 *
 * A spec is a comma-separated list of tokens (commas inside parentheses do not
 * split): optional prefixes (IDMap, IDMap2), optional vector transforms, one
 * main part, and an optional refinement suffix. The transforms, applied in
 * order, each changing the dimension the next part sees:
 *
 *   L2norm                    NormalizationTransform (unit L2 norm)
 *   RR<d>                     RandomRotationMatrix to d dimensions
 *   PCA[W][R]<d>              PCAMatrix to d dimensions; W whitens (eigen_power
 *                             -0.5), R adds a random rotation
 *   OPQ<M>[_<d>]              OPQMatrix for an M-part PQ, to d dimensions
 *
 * wrap the main part in IndexPreTransform; the suffixes ",RFlat" (an
 * IndexRefineFlat over everything before it) and ",Refine(<spec>)" (an
 * IndexRefine whose refine index is built from <spec> at the input dimension)
 * wrap that; IDMap/IDMap2 wrap the whole. The main part is
 *
 *   Flat                      exact search
 *   IVF<nlist>[_HNSW<M>],<codes>  inverted file; codes: Flat | PQ<M>[x<nbits>] | SQ8 |
 *                             SQ4 | SQ8_uniform | SQfp16 | SQbf16; _HNSW<M>: the coarse
 *                             quantizer is an IndexHNSWFlat(d, M) over the centroids
 *   PQ<M>[x<nbits>]           product quantizer codes, scanned exhaustively
 *   PQ<M>x4fs                 4-bit PQ fast-scan (also as IVF codes: IVF<n>,PQ<M>x4fs)
 *   SQ8 | SQ4 | SQfp16 ...    scalar quantizer codes
 *   HNSW<M>[,Flat]            graph over full vectors
 *   HNSW<M>_SQ8 | HNSW<M>_SQfp16 | HNSW<M>_PQ<m>
 *                             graph over 8-bit (IndexHNSWSQ, one range for all
 *                             dimensions), half-float or PQ codes (m bytes)
 *   LSH[<nbits>][r][t]        IndexLSH(d, nbits (default d), r: rotate_data,
 *                             t: train_thresholds); L2 only, as Faiss
 *
 * Tokens that Faiss knows and vindex does not have yet (ITQ, RQ,
 * LSQ, NSG) are refused as unsupported; an
 * unknown token is refused as invalid. Either way the message quotes the spec
 * and points at the token (its position in the string).
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/composite.h"
#include "index/hnsw.h"
#include "index/index.h"
#include "quant/transforms.h"

enum { MAX_TOKENS = 16, MAX_SPEC = 256 };

typedef struct token {
    const char *text; /* NUL-terminated copy inside the parser's buffer */
    size_t pos;       /* offset in the caller's spec, for messages */
} token;

typedef struct parser {
    const char *spec;
    int d;
    vindex_metric metric;
    char buf[MAX_SPEC];
    token tok[MAX_TOKENS];
    size_t ntok, at;
} parser;

static vindex_status fail_at(const parser *p, const token *t, vindex_status st, const char *why)
{
    char reason[256]; /* `why` may be the last-error buffer that vx_fail rewrites */
    snprintf(reason, sizeof reason, "%s", why);
    return vx_fail(st, "index_factory: %s at position %zu ('%s') in \"%s\"", reason, t->pos + 1,
                   t->text, p->spec);
}

/* Splits the spec at top-level commas, dropping spaces around tokens. */
static vindex_status tokenize(parser *p)
{
    size_t len = strlen(p->spec);
    if (len == 0)
        return vx_fail(VINDEX_ERR_INVALID, "index_factory: the spec is empty");
    if (len >= MAX_SPEC)
        return vx_fail(VINDEX_ERR_INVALID, "index_factory: the spec is longer than %d characters",
                       MAX_SPEC - 1);
    memcpy(p->buf, p->spec, len + 1);
    size_t start = 0;
    int depth = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = p->buf[i];
        if (c == '(')
            depth++;
        else if (c == ')' && --depth < 0)
            return vx_fail(VINDEX_ERR_INVALID,
                           "index_factory: unbalanced ')' at position %zu in \"%s\"", i + 1,
                           p->spec);
        if ((c != ',' || depth > 0) && c != '\0')
            continue;
        if (depth > 0)
            return vx_fail(VINDEX_ERR_INVALID, "index_factory: unclosed '(' in \"%s\"", p->spec);
        p->buf[i] = '\0';
        size_t s = start;
        while (isspace((unsigned char)p->buf[s]))
            s++;
        size_t e = i;
        while (e > s && isspace((unsigned char)p->buf[e - 1]))
            p->buf[--e] = '\0';
        if (s == e)
            return vx_fail(VINDEX_ERR_INVALID,
                           "index_factory: empty token at position %zu in \"%s\"", s + 1, p->spec);
        if (p->ntok == MAX_TOKENS)
            return vx_fail(VINDEX_ERR_INVALID, "index_factory: too many tokens in \"%s\"",
                           p->spec);
        p->tok[p->ntok].text = p->buf + s;
        p->tok[p->ntok].pos = s;
        p->ntok++;
        start = i + 1;
    }
    return VINDEX_OK;
}

/* Reads a positive decimal number at *s, advancing it; false when none. */
static bool read_count(const char **s, long *out)
{
    if (!isdigit((unsigned char)**s))
        return false;
    errno = 0;
    char *end;
    long v = strtol(*s, &end, 10);
    if (errno || v <= 0)
        return false;
    *s = end;
    *out = v;
    return true;
}

/* "PQ<M>[x<nbits>]" with nothing after; *fastscan set for a trailing "fs". */
static bool parse_pq(const char *t, int *M, int *nbits, bool *fastscan)
{
    long m, b = 8;
    if (strncmp(t, "PQ", 2) != 0)
        return false;
    t += 2;
    if (!read_count(&t, &m) || m > 65536)
        return false;
    if (*t == 'x') {
        t++;
        if (!read_count(&t, &b) || b > 64)
            return false;
    }
    *fastscan = strcmp(t, "fs") == 0;
    if (*t && !*fastscan)
        return false;
    *M = (int)m;
    *nbits = (int)b;
    return true;
}

static bool parse_sq(const char *t, vindex_sq_type *type)
{
    static const struct {
        const char *name;
        vindex_sq_type type;
    } names[] = {{"SQ8", VINDEX_SQ_8BIT},     {"SQ4", VINDEX_SQ_4BIT},
                 {"SQ8_uniform", VINDEX_SQ_8BIT_UNIFORM}, {"SQfp16", VINDEX_SQ_FP16},
                 {"SQbf16", VINDEX_SQ_BF16}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(t, names[i].name)) {
            *type = names[i].type;
            return true;
        }
    return false;
}

/* Faiss tokens vindex does not offer yet: refused as unsupported, not unknown. */
static bool known_but_missing(const char *t)
{
    static const char *const prefixes[] = {"ITQ", "RQ", "LSQ", "NSG", "PRQ"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(t, prefixes[i], strlen(prefixes[i])))
            return true;
    return false;
}

static vindex_status unknown(const parser *p, const token *t)
{
    if (known_but_missing(t->text))
        return fail_at(p, t, VINDEX_ERR_UNSUPPORTED, "not available in vindex yet");
    return fail_at(p, t, VINDEX_ERR_INVALID, "unknown token");
}

/* IVF<nlist>,<codes>: the codes token follows. */
static vindex_status parse_ivf(parser *p, const token *t, vindex **out)
{
    const char *s = t->text + 3;
    long nlist;
    if (!read_count(&s, &nlist))
        return fail_at(p, t, VINDEX_ERR_INVALID, "IVF needs a list count, as in IVF1024");
    long hnsw_m = 0; /* IVF<n>_HNSW<M>: an HNSW graph over the centroids */
    if (!strncmp(s, "_HNSW", 5)) {
        s += 5;
        if (!read_count(&s, &hnsw_m))
            return fail_at(p, t, VINDEX_ERR_INVALID,
                           "_HNSW needs a neighbour count, as in IVF65536_HNSW32");
    }
    if (*s)
        return fail_at(p, t, VINDEX_ERR_INVALID, "unexpected text after the list count");
    if (p->at == p->ntok)
        return fail_at(p, t, VINDEX_ERR_INVALID, "IVF needs codes after it, as in IVF1024,Flat");
    const token *codes = &p->tok[p->at++];

    int M = 0, nbits = 0;
    bool fastscan;
    vindex_sq_type sq = VINDEX_SQ_8BIT;
    enum { CODES_FLAT, CODES_PQ, CODES_PQFS, CODES_SQ } kind;
    if (!strcmp(codes->text, "Flat"))
        kind = CODES_FLAT;
    else if (parse_pq(codes->text, &M, &nbits, &fastscan))
        kind = fastscan ? CODES_PQFS : CODES_PQ;
    else if (parse_sq(codes->text, &sq))
        kind = CODES_SQ;
    else
        return unknown(p, codes);

    vindex *quantizer;
    vindex_status st = hnsw_m ? vindex_hnsw_flat_new(&quantizer, p->d, (int)hnsw_m, p->metric)
                              : vindex_flat_new(&quantizer, p->d, p->metric);
    if (st)
        return fail_at(p, t, st, vindex_last_error());
    if (kind == CODES_FLAT)
        st = vindex_ivf_flat_new(out, quantizer, p->d, (size_t)nlist, p->metric);
    else if (kind == CODES_PQ)
        st = vindex_ivfpq_new(out, quantizer, p->d, (size_t)nlist, M, nbits, p->metric);
    else if (kind == CODES_PQFS)
        st = vindex_ivfpq_fastscan_new(out, quantizer, p->d, (size_t)nlist, M, nbits, p->metric);
    else
        st = vindex_ivfsq_new(out, quantizer, p->d, (size_t)nlist, sq, p->metric);
    if (st) {
        vindex_free(quantizer); /* ownership passes only on success */
        return fail_at(p, codes, st, vindex_last_error());
    }
    return VINDEX_OK;
}

/* LSH[<nbits>][r][t]: Faiss's IndexLSH(d, nbits or d, rotate_data, train_thresholds). */
static vindex_status parse_lsh(const parser *p, const token *t, vindex **out)
{
    const char *r = t->text + 3;
    long nbits = p->d;
    if (isdigit((unsigned char)*r) && (!read_count(&r, &nbits) || nbits > 1 << 20))
        return fail_at(p, t, VINDEX_ERR_INVALID, "LSH needs a positive bit count, as in LSH256r");
    bool rotate = *r == 'r';
    r += rotate;
    bool train = *r == 't';
    r += train;
    if (*r)
        return fail_at(p, t, VINDEX_ERR_INVALID, "LSH takes only the suffixes r and t, as in LSHrt");
    if (p->metric != VINDEX_METRIC_L2)
        return fail_at(p, t, VINDEX_ERR_INVALID, "LSH needs the L2 metric");
    vindex_status st = vindex_lsh_new(out, p->d, (int)nbits, rotate, train);
    if (st)
        return fail_at(p, t, st, vindex_last_error());
    return VINDEX_OK;
}

static vindex_status parse_main(parser *p, vindex **out)
{
    if (p->at == p->ntok)
        return vx_fail(VINDEX_ERR_INVALID, "index_factory: \"%s\" names no index, only prefixes",
                       p->spec);
    const token *t = &p->tok[p->at++];
    const char *s = t->text;
    int M, nbits;
    bool fastscan;
    vindex_sq_type sq;
    vindex_status st;
    if (!strcmp(s, "Flat"))
        return vindex_flat_new(out, p->d, p->metric);
    if (!strncmp(s, "IVF", 3))
        return parse_ivf(p, t, out);
    if (parse_pq(s, &M, &nbits, &fastscan)) {
        if ((st = (fastscan ? vindex_pq_fastscan_new : vindex_pq_new)(out, p->d, M, nbits,
                                                                      p->metric)))
            return fail_at(p, t, st, vindex_last_error());
        return VINDEX_OK;
    }
    if (parse_sq(s, &sq)) {
        if ((st = vindex_sq_new(out, p->d, sq, p->metric)))
            return fail_at(p, t, st, vindex_last_error());
        return VINDEX_OK;
    }
    if (!strncmp(s, "HNSW", 4)) {
        const char *r = s + 4;
        long m;
        if (!read_count(&r, &m) || m > 512)
            return fail_at(p, t, VINDEX_ERR_INVALID, "HNSW needs a neighbour count, as in HNSW32");
        if (*r == '_') { /* compressed storage */
            long pq_m;
            const char *c = r + 1;
            if (!strcmp(c, "SQ8"))
                st = vindex_hnsw_sq8_new(out, p->d, (int)m, p->metric);
            else if (!strcmp(c, "SQfp16"))
                st = vindex_hnsw_fp16_new(out, p->d, (int)m, p->metric);
            else if (!strncmp(c, "PQ", 2) && (c += 2, read_count(&c, &pq_m)) && !*c &&
                     pq_m <= p->d)
                st = vindex_hnsw_pq_new(out, p->d, (int)pq_m, (int)m, p->metric);
            else
                return fail_at(p, t, VINDEX_ERR_UNSUPPORTED,
                               "HNSW storage: vindex has _SQ8, _SQfp16 and _PQ<m>");
            return st ? fail_at(p, t, st, vindex_last_error()) : VINDEX_OK;
        }
        if (*r)
            return fail_at(p, t, VINDEX_ERR_INVALID, "unexpected text after the neighbour count");
        if (p->at < p->ntok && !strcmp(p->tok[p->at].text, "Flat"))
            p->at++; /* "HNSW32,Flat" is "HNSW32" */
        if ((st = vindex_hnsw_flat_new(out, p->d, (int)m, p->metric)))
            return fail_at(p, t, st, vindex_last_error());
        return VINDEX_OK;
    }
    if (!strncmp(s, "LSH", 3))
        return parse_lsh(p, t, out);
    return unknown(p, t);
}

/* ---- transforms and refinement --------------------------------------------- */

/* A transform prefix at token t for input dimension d_in: *tr gets it (and
 * *d_out its output dimension); *tr stays NULL when t is no transform token. */
static vindex_status parse_transform(const parser *p, const token *t, int d_in,
                                     vindex_transform **tr, int *d_out)
{
    const char *s = t->text;
    long v, m;
    vindex_status st;
    *tr = NULL;
    if (!strcmp(s, "L2norm")) {
        st = vindex_transform_l2norm_new(tr, d_in);
        *d_out = d_in;
    } else if (!strncmp(s, "RR", 2)) {
        s += 2;
        if (!read_count(&s, &v) || *s || v > 65536)
            return fail_at(p, t, VINDEX_ERR_INVALID, "RR needs an output dimension, as in RR64");
        st = vindex_transform_random_rotation_new(tr, d_in, (int)v, 12345);
        *d_out = (int)v;
    } else if (!strncmp(s, "PCA", 3)) {
        s += 3;
        bool whiten = false, rotate = false;
        if (*s == 'W') {
            whiten = true;
            s++;
        }
        if (*s == 'R') {
            rotate = true;
            s++;
        }
        if (!read_count(&s, &v) || *s || v > 65536)
            return fail_at(p, t, VINDEX_ERR_INVALID,
                           "PCA needs an output dimension, as in PCA64, PCAW64 or PCAR64");
        st = vindex_transform_pca_new(tr, d_in, (int)v, whiten ? -0.5f : 0.0f, rotate);
        *d_out = (int)v;
    } else if (!strncmp(s, "OPQ", 3)) {
        s += 3;
        v = d_in;
        if (!read_count(&s, &m) || m > 65536)
            return fail_at(p, t, VINDEX_ERR_INVALID, "OPQ needs a sub-quantizer count, as in OPQ16");
        if (*s == '_') {
            s++;
            if (!read_count(&s, &v) || v > 65536)
                return fail_at(p, t, VINDEX_ERR_INVALID,
                               "OPQ needs an output dimension after '_', as in OPQ16_64");
        }
        if (*s)
            return fail_at(p, t, VINDEX_ERR_INVALID, "unexpected text in OPQ<M>[_<d>]");
        st = vindex_transform_opq_new(tr, d_in, (int)v, (int)m);
        *d_out = (int)v;
    } else {
        return VINDEX_OK;
    }
    if (st)
        return fail_at(p, t, st, vindex_last_error());
    return VINDEX_OK;
}

/* ",RFlat" or ",Refine(<spec>)" at token t wraps *ix (freed on failure). */
static vindex_status parse_refine(const parser *p, const token *t, int d, vindex **ix)
{
    const char *s = t->text;
    vindex *refine_ix = NULL, *out;
    vindex_status st;
    if (strcmp(s, "RFlat") != 0) {
        size_t n = strlen(s);
        if (n < 9 || s[n - 1] != ')') {
            vindex_free(*ix);
            *ix = NULL;
            return fail_at(p, t, VINDEX_ERR_INVALID, "Refine needs an index spec, as in "
                                                     "Refine(SQfp16)");
        }
        char inner[MAX_SPEC];
        memcpy(inner, s + 7, n - 8);
        inner[n - 8] = '\0';
        if ((st = vindex_factory(&refine_ix, d, inner, p->metric))) {
            vindex_free(*ix);
            *ix = NULL;
            return fail_at(p, t, st, vindex_last_error());
        }
    }
    if ((st = vindex_refine_new(&out, *ix, refine_ix))) {
        vindex_free(refine_ix);
        vindex_free(*ix);
        *ix = NULL;
        return fail_at(p, t, st, vindex_last_error());
    }
    *ix = out;
    return VINDEX_OK;
}

static bool is_refine_token(const char *t)
{
    return !strcmp(t, "RFlat") || !strncmp(t, "Refine(", 7);
}

VINDEX_API vindex_status vindex_factory(vindex **out, int d, const char *spec,
                                        vindex_metric metric)
{
    vx_clear_error();
    vindex_status st = vx_check_new_args(out, d, metric, "index_factory");
    if (st)
        return st;
    if (!spec)
        return vx_fail(VINDEX_ERR_INVALID, "index_factory: spec is NULL");
    parser p = {.spec = spec, .d = d, .metric = metric};
    if ((st = tokenize(&p)))
        return st;

    /* Prefixes, outermost first. */
    int wrappers[MAX_TOKENS], nwrap = 0;
    while (p.at < p.ntok) {
        const char *t = p.tok[p.at].text;
        if (!strcmp(t, "IDMap"))
            wrappers[nwrap++] = 1;
        else if (!strcmp(t, "IDMap2"))
            wrappers[nwrap++] = 2;
        else
            break;
        p.at++;
    }
    /* Transforms, in the order they apply. */
    vindex_transform *transforms[MAX_TOKENS];
    int ntr = 0;
    while (p.at < p.ntok) {
        int d_out = p.d;
        vindex_transform *tr;
        if ((st = parse_transform(&p, &p.tok[p.at], p.d, &tr, &d_out)) || !tr)
            break;
        transforms[ntr++] = tr;
        p.d = d_out;
        p.at++;
    }
    vindex *ix = NULL;
    if (st || (st = parse_main(&p, &ix))) {
        while (ntr-- > 0)
            vindex_transform_free(transforms[ntr]);
        return st;
    }
    while (ntr-- > 0) { /* the last transform is innermost */
        vindex *wrapped;
        if ((st = vindex_pretransform_new(&wrapped, transforms[ntr], ix))) {
            vindex_free(ix);
            for (; ntr >= 0; ntr--)
                vindex_transform_free(transforms[ntr]);
            return st;
        }
        ix = wrapped;
    }
    p.d = d;
    if (p.at < p.ntok && is_refine_token(p.tok[p.at].text)) {
        if ((st = parse_refine(&p, &p.tok[p.at], d, &ix)))
            return st;
        p.at++;
    }
    if (p.at < p.ntok) {
        vindex_free(ix);
        const token *t = &p.tok[p.at];
        if (known_but_missing(t->text))
            return fail_at(&p, t, VINDEX_ERR_UNSUPPORTED, "not available in vindex yet");
        return fail_at(&p, t, VINDEX_ERR_INVALID, "unexpected token after the index");
    }
    while (nwrap-- > 0) {
        vindex *wrapped;
        st = wrappers[nwrap] == 1 ? vindex_idmap_new(&wrapped, ix) : vindex_idmap2_new(&wrapped, ix);
        if (st) {
            vindex_free(ix);
            return st;
        }
        ix = wrapped;
    }
    *out = ix;
    return VINDEX_OK;
}

/* ---- reverse -------------------------------------------------------------- */

static const char *sq_name(vindex_sq_type t)
{
    switch (t) {
    case VINDEX_SQ_8BIT: return "SQ8";
    case VINDEX_SQ_4BIT: return "SQ4";
    case VINDEX_SQ_8BIT_UNIFORM: return "SQ8_uniform";
    case VINDEX_SQ_FP16: return "SQfp16";
    case VINDEX_SQ_BF16: return "SQbf16";
    }
    return "SQ?";
}

static vindex_status append(char *buf, size_t len, size_t *at, const char *part)
{
    size_t n = strlen(part);
    if (*at + n >= len)
        return vx_fail(VINDEX_ERR_INVALID, "reverse_index_factory: buffer of %zu bytes too small",
                       len);
    memcpy(buf + *at, part, n + 1);
    *at += n;
    return VINDEX_OK;
}

/* Appends the spec of ix to buf[*at..len). */
static vindex_status reverse(const vindex *ix, char *buf, size_t len, size_t *at)
{
    const char *type = vindex_type_name(ix);
    char part[64];
    double v1, v2, v3;
    vindex_sq_type sq;
    const vindex *inner = NULL;
    if (!strcmp(type, "IndexFlat")) {
        snprintf(part, sizeof part, "Flat");
    } else if (!strcmp(type, "IndexIDMap") || !strcmp(type, "IndexIDMap2")) {
        snprintf(part, sizeof part, "%s,", type + 5);
        inner = vx_idmap_sub(ix);
    } else if (vx_pretransform_transform(ix)) {
        if (!vx_transform_token(vx_pretransform_transform(ix), part, sizeof part - 1))
            return vx_fail(VINDEX_ERR_UNSUPPORTED,
                           "reverse_index_factory: this IndexPreTransform's transform has no "
                           "factory token");
        strcat(part, ",");
        inner = vx_pretransform_index(ix);
    } else if (vx_refine_base(ix)) {
        /* the base first, then the suffix */
        vindex_status st = reverse(vx_refine_base(ix), buf, len, at);
        if (st)
            return st;
        if (!strcmp(type, "IndexRefineFlat")) {
            snprintf(part, sizeof part, ",RFlat");
        } else {
            snprintf(part, sizeof part, ",Refine(");
            if ((st = append(buf, len, at, part)) ||
                (st = reverse(vx_refine_refine(ix), buf, len, at)))
                return st;
            snprintf(part, sizeof part, ")");
        }
    } else if (!strncmp(type, "IndexPQ", 7) && !vindex_get_param(ix, "pq.M", &v1) &&
               !vindex_get_param(ix, "pq.nbits", &v2)) {
        snprintf(part, sizeof part, "PQ%dx%d%s", (int)v1, (int)v2,
                 strcmp(type, "IndexPQFastScan") ? "" : "fs");
    } else if (!strcmp(type, "IndexScalarQuantizer") && !vindex_sq_type_of(ix, &sq)) {
        snprintf(part, sizeof part, "%s", sq_name(sq));
    } else if (!strcmp(type, "IndexLSH") && !vindex_get_param(ix, "nbits", &v1) &&
               !vindex_get_param(ix, "rotate_data", &v2) &&
               !vindex_get_param(ix, "train_thresholds", &v3)) {
        /* "LSH" alone when nbits == d: the form Faiss 1.7.3 parses */
        int n = snprintf(part, sizeof part, "LSH");
        if ((int)v1 != vindex_d(ix))
            n += snprintf(part + n, sizeof part - (size_t)n, "%d", (int)v1);
        snprintf(part + n, sizeof part - (size_t)n, "%s%s", v2 != 0 ? "r" : "", v3 != 0 ? "t" : "");
    } else if (!strncmp(type, "IndexHNSW", 9) && !vindex_get_param(ix, "M", &v1)) {
        int pq_m = 0;
        const char *storage = vx_hnsw_storage(ix, &pq_m);
        if (!storage)
            return vx_fail(VINDEX_ERR_UNSUPPORTED, "reverse_factory: %s is not an HNSW index",
                           type);
        if (!strcmp(storage, "PQ"))
            snprintf(part, sizeof part, "HNSW%d_PQ%d", (int)v1, pq_m);
        else
            snprintf(part, sizeof part, "HNSW%d%s", (int)v1,
                     !strcmp(storage, "SQ8")    ? "_SQ8"
                     : !strcmp(storage, "fp16") ? "_SQfp16"
                                                : "");
    } else if (!strncmp(type, "IndexIVF", 8) && !vindex_get_param(ix, "nlist", &v1)) {
        vindex *q = NULL;
        double qm;
        int n = snprintf(part, sizeof part, "IVF%zu", (size_t)v1);
        if (!vindex_ivf_quantizer(ix, &q) && !strcmp(vindex_type_name(q), "IndexHNSWFlat") &&
            !vindex_get_param(q, "M", &qm))
            n += snprintf(part + n, sizeof part - (size_t)n, "_HNSW%d", (int)qm);
        n += snprintf(part + n, sizeof part - (size_t)n, ",");
        if (!strcmp(type, "IndexIVFFlat"))
            snprintf(part + n, sizeof part - (size_t)n, "Flat");
        else if (!strncmp(type, "IndexIVFPQ", 10) && !vindex_get_param(ix, "pq.M", &v1) &&
                 !vindex_get_param(ix, "pq.nbits", &v2))
            snprintf(part + n, sizeof part - (size_t)n, "PQ%dx%d%s", (int)v1, (int)v2,
                     strcmp(type, "IndexIVFPQFastScan") ? "" : "fs");
        else if (!strcmp(type, "IndexIVFScalarQuantizer") && !vindex_sq_type_of(ix, &sq))
            snprintf(part + n, sizeof part - (size_t)n, "%s", sq_name(sq));
        else
            return vx_fail(VINDEX_ERR_UNSUPPORTED, "reverse_index_factory: %s has no spec", type);
    } else {
        return vx_fail(VINDEX_ERR_UNSUPPORTED, "reverse_index_factory: %s has no spec", type);
    }
    vindex_status st = append(buf, len, at, part);
    if (st)
        return st;
    return inner ? reverse(inner, buf, len, at) : VINDEX_OK;
}

VINDEX_API vindex_status vindex_reverse_factory(const vindex *ix, char *buf, size_t len)
{
    vx_clear_error();
    if (!ix || !buf || len == 0)
        return vx_fail(VINDEX_ERR_INVALID, "reverse_index_factory: %s",
                       !ix ? "index is NULL" : "buffer is NULL or empty");
    size_t at = 0;
    buf[0] = '\0';
    vindex_status st = reverse(ix, buf, len, &at);
    if (st)
        buf[0] = '\0';
    return st;
}
