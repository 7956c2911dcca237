/* Readers and writers for the vector file formats of the CLI (see formats.h). */
#include "formats.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* No file of these tools has more elements per row or more bytes in all. */
#define MAX_DIM (1 << 24)
#define MAX_NPY_HEADER (1 << 20)

static int fail(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

size_t elem_size(elem_type t)
{
    return t == ELEM_U8 ? 1 : 4;
}

const char *elem_name(elem_type t)
{
    return t == ELEM_F32 ? "float32" : t == ELEM_U8 ? "uint8" : "int32";
}

void matrix_free(matrix *m)
{
    if (!m)
        return;
    free(m->data);
    m->data = NULL;
    m->n = 0;
    m->d = 0;
}

/* ---- names ---------------------------------------------------------------- */

static const struct {
    const char *name;
    vec_format fmt;
    int elem;
} FORMATS[] = {
    {"fvecs", FMT_FVECS, ELEM_F32}, {"bvecs", FMT_BVECS, ELEM_U8}, {"ivecs", FMT_IVECS, ELEM_I32},
    {"fbin", FMT_FBIN, ELEM_F32},   {"u8bin", FMT_U8BIN, ELEM_U8}, {"ibin", FMT_IBIN, ELEM_I32},
    {"npy", FMT_NPY, -1},           {"idx", FMT_IDX, -1},
};
#define NFORMATS (sizeof FORMATS / sizeof FORMATS[0])

vec_format format_from_name(const char *name)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (!strcasecmp(name, FORMATS[i].name))
            return FORMATS[i].fmt;
    return FMT_UNKNOWN;
}

const char *format_name(vec_format f)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (FORMATS[i].fmt == f)
            return FORMATS[i].name;
    return "unknown";
}

int format_fixed_elem(vec_format f)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (FORMATS[i].fmt == f)
            return FORMATS[i].elem;
    return -1;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

vec_format format_from_path(const char *path)
{
    static const char *const idx_suffixes[] = {".idx", ".idx.gz", "ubyte", "ubyte.gz"};
    for (size_t i = 0; i < sizeof idx_suffixes / sizeof idx_suffixes[0]; i++)
        if (ends_with(path, idx_suffixes[i]))
            return FMT_IDX;
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return FMT_UNKNOWN;
    return format_from_name(dot + 1);
}

/* ---- conversions ---------------------------------------------------------- */

int matrix_check_finite(const matrix *m, const char *what, char *err, size_t errlen)
{
    if (m->type != ELEM_F32)
        return 0;
    const float *x = m->data;
    size_t total = m->n * (size_t)m->d;
    for (size_t i = 0; i < total; i++)
        if (!isfinite(x[i]))
            return fail(err, errlen, "%s: row %zu has a non-finite value (%g) at column %zu", what,
                        i / (size_t)m->d, (double)x[i], i % (size_t)m->d);
    return 0;
}

/* Element i of m as a double (exact for every type). */
static double get_elem(const matrix *m, size_t i)
{
    switch (m->type) {
    case ELEM_F32:
        return ((const float *)m->data)[i];
    case ELEM_U8:
        return ((const uint8_t *)m->data)[i];
    default:
        return ((const int32_t *)m->data)[i];
    }
}

int matrix_convert(matrix *m, elem_type t, char *err, size_t errlen)
{
    if (m->type == t)
        return 0;
    size_t total = m->n * (size_t)m->d;
    void *out = malloc(total ? total * elem_size(t) : 1);
    if (!out)
        return fail(err, errlen, "out of memory converting %zu x %d values", m->n, m->d);
    for (size_t i = 0; i < total; i++) {
        double v = get_elem(m, i);
        bool ok;
        switch (t) {
        case ELEM_F32:
            ok = (double)(float)v == v;
            if (ok)
                ((float *)out)[i] = (float)v;
            break;
        case ELEM_U8:
            ok = v >= 0 && v <= 255 && v == floor(v);
            if (ok)
                ((uint8_t *)out)[i] = (uint8_t)v;
            break;
        default:
            ok = v >= -2147483648.0 && v <= 2147483647.0 && v == floor(v);
            if (ok)
                ((int32_t *)out)[i] = (int32_t)v;
            break;
        }
        if (!ok) {
            free(out);
            return fail(err, errlen, "value %g at row %zu, column %zu cannot be stored as %s",
                        v, i / (size_t)m->d, i % (size_t)m->d, elem_name(t));
        }
    }
    free(m->data);
    m->data = out;
    m->type = t;
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

static int open_sized(const char *path, FILE **f, uint64_t *size, char *err, size_t errlen)
{
    *f = fopen(path, "rb");
    if (!*f)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(*f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(*f);
        *f = NULL;
        return fail(err, errlen, "%s: not a regular file", path);
    }
    *size = (uint64_t)st.st_size;
    return 0;
}

static bool read_exact(FILE *f, void *buf, size_t n)
{
    return fread(buf, 1, n, f) == n;
}

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* n * d * es, or 0 with an error when it overflows or exceeds limit. */
static bool sized(uint64_t n, uint64_t d, uint64_t es, uint64_t limit, uint64_t *out)
{
    if (d != 0 && n > UINT64_MAX / d)
        return false;
    uint64_t nd = n * d;
    if (nd > UINT64_MAX / es)
        return false;
    *out = nd * es;
    return *out <= limit && *out <= (uint64_t)SIZE_MAX;
}

/* .fvecs .bvecs .ivecs: every row starts with its dimension. */
static int read_vecs(const char *path, FILE *f, uint64_t size, elem_type t, matrix *m,
                     char *err, size_t errlen)
{
    unsigned char b[4];
    size_t es = elem_size(t);
    if (size == 0)
        return fail(err, errlen, "%s: empty file", path);
    if (size < 4 || !read_exact(f, b, 4))
        return fail(err, errlen, "%s: truncated in the first row's dimension", path);
    int32_t d = (int32_t)le32(b);
    if (d <= 0 || d > MAX_DIM)
        return fail(err, errlen, "%s: bad dimension %d in the first row (not a .%s file?)", path,
                    d, t == ELEM_F32 ? "fvecs" : t == ELEM_U8 ? "bvecs" : "ivecs");
    uint64_t row = 4 + (uint64_t)d * es;
    if (size % row != 0)
        return fail(err, errlen,
                    "%s: %llu bytes is not a whole number of rows of dimension %d (%llu bytes "
                    "each)",
                    path, (unsigned long long)size, d, (unsigned long long)row);
    uint64_t n = size / row;
    m->data = malloc((size_t)(n * (uint64_t)d * es));
    if (!m->data)
        return fail(err, errlen, "%s: out of memory for %llu x %d values", path,
                    (unsigned long long)n, d);
    m->type = t;
    m->d = d;
    m->n = (size_t)n;
    if (fseek(f, 0, SEEK_SET) != 0)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    char *dst = m->data;
    for (uint64_t i = 0; i < n; i++) {
        if (!read_exact(f, b, 4) || !read_exact(f, dst + i * (uint64_t)d * es, (size_t)d * es))
            return fail(err, errlen, "%s: read error at row %llu", path, (unsigned long long)i);
        if ((int32_t)le32(b) != d)
            return fail(err, errlen, "%s: row %llu has dimension %d, the first row %d", path,
                        (unsigned long long)i, (int32_t)le32(b), d);
    }
    return 0;
}

/* .fbin .u8bin .ibin: uint32 n, uint32 d, then the rows. */
static int read_bin(const char *path, FILE *f, uint64_t size, elem_type t, matrix *m, char *err,
                    size_t errlen)
{
    unsigned char b[8];
    if (size < 8 || !read_exact(f, b, 8))
        return fail(err, errlen, "%s: shorter than the 8-byte header of n and d", path);
    uint64_t n = le32(b), d = le32(b + 4), bytes;
    if (d == 0 || d > MAX_DIM)
        return fail(err, errlen, "%s: bad dimension %llu in the header", path,
                    (unsigned long long)d);
    if (n == 0)
        return fail(err, errlen, "%s: contains no vectors", path);
    if (!sized(n, d, elem_size(t), size - 8, &bytes) || bytes != size - 8)
        return fail(err, errlen,
                    "%s: the header says %llu x %llu %s values but the file holds %llu bytes "
                    "after it",
                    path, (unsigned long long)n, (unsigned long long)d, elem_name(t),
                    (unsigned long long)(size - 8));
    m->data = malloc((size_t)bytes);
    if (!m->data)
        return fail(err, errlen, "%s: out of memory for %llu bytes", path,
                    (unsigned long long)bytes);
    m->type = t;
    m->n = (size_t)n;
    m->d = (int)d;
    if (!read_exact(f, m->data, (size_t)bytes))
        return fail(err, errlen, "%s: read error", path);
    return 0;
}

/* The value of 'key' in a .npy header dict: a pointer just after "'key':". */
static const char *npy_field(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s':", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return p;
}

static int read_npy(const char *path, FILE *f, uint64_t size, matrix *m, char *err,
                    size_t errlen)
{
    unsigned char pre[12];
    if (size < 10 || !read_exact(f, pre, 10) || memcmp(pre, "\x93NUMPY", 6) != 0)
        return fail(err, errlen, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    int major = pre[6];
    uint64_t hlen, hstart;
    if (major == 1) {
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (!read_exact(f, pre + 10, 2))
            return fail(err, errlen, "%s: truncated .npy header", path);
        hlen = le32(pre + 8);
        hstart = 12;
    } else {
        return fail(err, errlen, "%s: .npy format version %d is not supported", path, major);
    }
    if (hlen > MAX_NPY_HEADER || hstart + hlen > size)
        return fail(err, errlen, "%s: bad .npy header length %llu", path,
                    (unsigned long long)hlen);
    char *h = malloc((size_t)hlen + 1);
    if (!h)
        return fail(err, errlen, "%s: out of memory", path);
    if (!read_exact(f, h, (size_t)hlen)) {
        free(h);
        return fail(err, errlen, "%s: truncated .npy header", path);
    }
    h[hlen] = 0;
    int rc = -1;
    const char *descr = npy_field(h, "descr"), *fo = npy_field(h, "fortran_order"),
               *shape = npy_field(h, "shape");
    if (!descr || !fo || !shape || (*descr != '\'' && *descr != '"') || *shape != '(') {
        fail(err, errlen, "%s: unreadable .npy header", path);
        goto out;
    }
    char dt[8] = {0};
    size_t dl = strcspn(descr + 1, "'\"");
    if (dl >= sizeof dt) {
        fail(err, errlen, "%s: unsupported .npy dtype", path);
        goto out;
    }
    memcpy(dt, descr + 1, dl);
    /* file element: size and how to read it */
    enum { S_F4, S_F8, S_U1, S_I4, S_I8 } src;
    size_t ses;
    elem_type t;
    if (!strcmp(dt, "<f4")) {
        src = S_F4, ses = 4, t = ELEM_F32;
    } else if (!strcmp(dt, "<f8")) {
        src = S_F8, ses = 8, t = ELEM_F32;
    } else if (!strcmp(dt, "|u1") || !strcmp(dt, "<u1")) {
        src = S_U1, ses = 1, t = ELEM_U8;
    } else if (!strcmp(dt, "<i4")) {
        src = S_I4, ses = 4, t = ELEM_I32;
    } else if (!strcmp(dt, "<i8")) {
        src = S_I8, ses = 8, t = ELEM_I32;
    } else {
        fail(err, errlen,
             "%s: .npy dtype '%s' is not supported (float32, float64, uint8, int32, int64)", path,
             dt);
        goto out;
    }
    if (!strncmp(fo, "True", 4)) {
        fail(err, errlen, "%s: Fortran-order .npy arrays are not supported", path);
        goto out;
    }
    uint64_t dims[4];
    int ndim = 0;
    const char *p = shape + 1;
    while (*p && *p != ')') {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || errno || ndim == 4) {
            fail(err, errlen, "%s: bad .npy shape", path);
            goto out;
        }
        dims[ndim++] = v;
        p = end;
    }
    if (ndim == 0) {
        fail(err, errlen, "%s: a .npy scalar is not a matrix", path);
        goto out;
    }
    uint64_t n = dims[0], d = 1, bytes;
    for (int i = 1; i < ndim; i++)
        d = dims[i] > MAX_DIM || d * dims[i] > MAX_DIM ? MAX_DIM + 1ull : d * dims[i];
    if (d == 0 || d > MAX_DIM) {
        fail(err, errlen, "%s: bad .npy row size", path);
        goto out;
    }
    if (n == 0) {
        fail(err, errlen, "%s: contains no vectors", path);
        goto out;
    }
    uint64_t avail = size - hstart - hlen;
    if (!sized(n, d, ses, avail, &bytes) || bytes != avail) {
        fail(err, errlen, "%s: the .npy header says %llu x %llu %s values but %llu bytes follow",
             path, (unsigned long long)n, (unsigned long long)d, dt,
             (unsigned long long)avail);
        goto out;
    }
    size_t total = (size_t)(n * d);
    m->data = malloc(total * elem_size(t));
    if (!m->data) {
        fail(err, errlen, "%s: out of memory", path);
        goto out;
    }
    m->type = t;
    m->n = (size_t)n;
    m->d = (int)d;
    if (src == S_F4 || src == S_U1 || src == S_I4) {
        if (!read_exact(f, m->data, total * ses)) {
            fail(err, errlen, "%s: read error", path);
            goto out;
        }
    } else {
        for (size_t i = 0; i < total; i++) {
            unsigned char b[8];
            if (!read_exact(f, b, 8)) {
                fail(err, errlen, "%s: read error", path);
                goto out;
            }
            uint64_t u = (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
            if (src == S_F8) {
                double v;
                memcpy(&v, &u, 8);
                ((float *)m->data)[i] = (float)v;
            } else {
                int64_t v = (int64_t)u;
                if (v < INT32_MIN || v > INT32_MAX) {
                    fail(err, errlen, "%s: int64 value %lld does not fit in int32", path,
                         (long long)v);
                    goto out;
                }
                ((int32_t *)m->data)[i] = (int32_t)v;
            }
        }
    }
    rc = 0;
out:
    free(h);
    return rc;
}

/* IDX (MNIST): magic 0 0 type ndim, ndim big-endian uint32 sizes, big-endian
 * data. Gzipped files are decompressed as they are read, into a buffer that
 * grows with what the stream really holds. */
static int read_idx(const char *path, uint64_t size, matrix *m, char *err, size_t errlen)
{
    gzFile g = gzopen(path, "rb");
    if (!g)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    int rc = -1, direct = gzdirect(g);
    unsigned char h[4 + 16];
    char *buf = NULL;
    if (gzread(g, h, 4) != 4 || h[0] != 0 || h[1] != 0) {
        fail(err, errlen, "%s: not an IDX file", path);
        goto out;
    }
    elem_type t;
    if (h[2] == 0x08)
        t = ELEM_U8;
    else if (h[2] == 0x0C)
        t = ELEM_I32;
    else if (h[2] == 0x0D)
        t = ELEM_F32;
    else {
        fail(err, errlen, "%s: IDX element type 0x%02x is not supported (uint8, int32, float32)",
             path, h[2]);
        goto out;
    }
    int ndim = h[3];
    if (ndim < 1 || ndim > 4 || gzread(g, h + 4, 4u * (unsigned)ndim) != 4 * ndim) {
        fail(err, errlen, "%s: bad IDX header", path);
        goto out;
    }
    uint64_t n = be32(h + 4), d = 1, bytes;
    for (int i = 1; i < ndim; i++) {
        d *= be32(h + 4 + 4 * i);
        if (d > MAX_DIM)
            break;
    }
    if (d == 0 || d > MAX_DIM) {
        fail(err, errlen, "%s: bad IDX row size", path);
        goto out;
    }
    if (n == 0) {
        fail(err, errlen, "%s: contains no vectors", path);
        goto out;
    }
    uint64_t hbytes = 4 + 4 * (uint64_t)ndim;
    uint64_t limit = direct ? (size >= hbytes ? size - hbytes : 0) : UINT64_MAX;
    if (!sized(n, d, elem_size(t), limit, &bytes) || (direct && bytes != limit)) {
        fail(err, errlen, "%s: the IDX header says %llu x %llu %s values but the file holds %llu "
             "bytes", path, (unsigned long long)n, (unsigned long long)d, elem_name(t),
             (unsigned long long)size);
        goto out;
    }
    /* grow with the data actually decompressed, so a lying header costs nothing */
    size_t cap = 0, got = 0;
    while (got < bytes) {
        if (got == cap) {
            size_t ncap = cap ? cap * 2 : (1u << 20);
            if (ncap > bytes)
                ncap = (size_t)bytes;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                fail(err, errlen, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - got;
        if (want > (1u << 30))
            want = 1u << 30;
        int r = gzread(g, buf + got, (unsigned)want);
        if (r <= 0) {
            fail(err, errlen, "%s: truncated: the IDX header says %llu x %llu values", path,
                 (unsigned long long)n, (unsigned long long)d);
            goto out;
        }
        got += (size_t)r;
    }
    unsigned char extra;
    if (gzread(g, &extra, 1) == 1) {
        fail(err, errlen, "%s: trailing bytes after the IDX data", path);
        goto out;
    }
    if (t != ELEM_U8) /* big-endian 32-bit values */
        for (size_t i = 0; i < bytes; i += 4) {
            uint32_t v = be32((unsigned char *)buf + i);
            memcpy(buf + i, &v, 4);
        }
    m->data = buf;
    buf = NULL;
    m->type = t;
    m->n = (size_t)n;
    m->d = (int)d;
    rc = 0;
out:
    free(buf);
    gzclose(g);
    return rc;
}

int matrix_read(const char *path, vec_format fmt, matrix *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (fmt == FMT_UNKNOWN)
        fmt = format_from_path(path);
    if (fmt == FMT_UNKNOWN)
        return fail(err, errlen,
                    "%s: unknown format (name it .fvecs .bvecs .ivecs .fbin .u8bin .ibin .npy, "
                    "or an IDX file ending in ubyte / .idx, optionally .gz)",
                    path);
    FILE *f;
    uint64_t size = 0;
    if (open_sized(path, &f, &size, err, errlen) != 0)
        return -1;
    int rc;
    switch (fmt) {
    case FMT_FVECS:
    case FMT_BVECS:
    case FMT_IVECS:
        rc = read_vecs(path, f, size, (elem_type)format_fixed_elem(fmt), m, err, errlen);
        break;
    case FMT_FBIN:
    case FMT_U8BIN:
    case FMT_IBIN:
        rc = read_bin(path, f, size, (elem_type)format_fixed_elem(fmt), m, err, errlen);
        break;
    case FMT_NPY:
        rc = read_npy(path, f, size, m, err, errlen);
        break;
    default:
        rc = read_idx(path, size, m, err, errlen);
        break;
    }
    fclose(f);
    if (rc != 0)
        matrix_free(m);
    return rc;
}

int matrix_read_float(const char *path, matrix *m, char *err, size_t errlen)
{
    if (matrix_read(path, FMT_UNKNOWN, m, err, errlen) != 0)
        return -1;
    char sub[400];
    if (matrix_convert(m, ELEM_F32, sub, sizeof sub) != 0 ||
        matrix_check_finite(m, path, sub, sizeof sub) != 0) {
        if (strncmp(sub, path, strlen(path)) == 0)
            snprintf(err, errlen, "%s", sub);
        else
            snprintf(err, errlen, "%s: %s", path, sub);
        matrix_free(m);
        return -1;
    }
    return 0;
}

/* ---- writing -------------------------------------------------------------- */

typedef struct {
    FILE *f;
    gzFile g;
    bool failed;
} sink;

static void put(sink *s, const void *p, size_t n)
{
    if (s->failed || n == 0)
        return;
    if (s->g) {
        const char *c = p;
        while (n > 0) {
            unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
            if (gzwrite(s->g, c, chunk) != (int)chunk) {
                s->failed = true;
                return;
            }
            c += chunk;
            n -= chunk;
        }
    } else if (fwrite(p, 1, n, s->f) != n) {
        s->failed = true;
    }
}

static void put_le32(sink *s, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(s, b, 4);
}

static void put_be32(sink *s, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(s, b, 4);
}

static void write_body(sink *s, vec_format fmt, const matrix *m)
{
    size_t es = elem_size(m->type), row = (size_t)m->d * es;
    const char *data = m->data;
    switch (fmt) {
    case FMT_FVECS:
    case FMT_BVECS:
    case FMT_IVECS:
        for (size_t i = 0; i < m->n && !s->failed; i++) {
            put_le32(s, (uint32_t)m->d);
            put(s, data + i * row, row);
        }
        break;
    case FMT_FBIN:
    case FMT_U8BIN:
    case FMT_IBIN:
        put_le32(s, (uint32_t)m->n);
        put_le32(s, (uint32_t)m->d);
        put(s, data, m->n * row);
        break;
    case FMT_NPY: {
        const char *descr = m->type == ELEM_F32 ? "<f4" : m->type == ELEM_U8 ? "|u1" : "<i4";
        char h[160];
        int len = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %d), }",
                           descr, m->n, m->d);
        /* magic (6) + version (2) + length (2) + header, padded with spaces to a
         * multiple of 64 and ended by a newline */
        size_t total = 10 + (size_t)len + 1;
        size_t pad = (64 - total % 64) % 64;
        memset(h + len, ' ', pad);
        h[len + pad] = '\n';
        size_t hl = (size_t)len + pad + 1;
        unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hl,
                                 (unsigned char)(hl >> 8)};
        put(s, pre, 10);
        put(s, h, hl);
        put(s, data, m->n * row);
        break;
    }
    default: { /* IDX */
        unsigned char magic[4] = {0, 0, m->type == ELEM_U8 ? 0x08 : m->type == ELEM_I32 ? 0x0C : 0x0D,
                                  2};
        put(s, magic, 4);
        put_be32(s, (uint32_t)m->n);
        put_be32(s, (uint32_t)m->d);
        if (m->type == ELEM_U8) {
            put(s, data, m->n * row);
        } else {
            uint32_t buf[1024];
            size_t total = m->n * (size_t)m->d;
            for (size_t i = 0; i < total && !s->failed; i += 1024) {
                size_t c = total - i < 1024 ? total - i : 1024;
                for (size_t j = 0; j < c; j++) {
                    uint32_t v;
                    memcpy(&v, data + (i + j) * 4, 4);
                    unsigned char *b = (unsigned char *)&buf[j];
                    b[0] = (unsigned char)(v >> 24);
                    b[1] = (unsigned char)(v >> 16);
                    b[2] = (unsigned char)(v >> 8);
                    b[3] = (unsigned char)v;
                }
                put(s, buf, c * 4);
            }
        }
        break;
    }
    }
}

int matrix_write(const char *path, vec_format fmt, const matrix *m, char *err, size_t errlen)
{
    if (fmt == FMT_UNKNOWN)
        fmt = format_from_path(path);
    if (fmt == FMT_UNKNOWN)
        return fail(err, errlen,
                    "%s: unknown output format (name it .fvecs .bvecs .ivecs .fbin .u8bin .ibin "
                    ".npy, or .idx / ubyte, optionally .gz)",
                    path);
    if (m->n > UINT32_MAX && fmt != FMT_NPY)
        return fail(err, errlen, "%s: %zu rows do not fit in a .%s header", path, m->n,
                    format_name(fmt));
    matrix conv = *m;
    int fixed = format_fixed_elem(fmt);
    if (fixed >= 0 && (elem_type)fixed != m->type) {
        size_t bytes = m->n * (size_t)m->d * elem_size(m->type);
        conv.data = malloc(bytes ? bytes : 1);
        if (!conv.data)
            return fail(err, errlen, "%s: out of memory", path);
        memcpy(conv.data, m->data, bytes);
        char sub[300];
        if (matrix_convert(&conv, (elem_type)fixed, sub, sizeof sub) != 0) {
            free(conv.data);
            return fail(err, errlen, "%s: %s (a .%s file holds %s)", path, sub, format_name(fmt),
                        elem_name((elem_type)fixed));
        }
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) {
        if (conv.data != m->data)
            free(conv.data);
        return fail(err, errlen, "%s: out of memory", path);
    }
    snprintf(tmp, plen + 32, "%s.tmp%ld", path, (long)getpid());
    sink s = {0};
    bool gz = fmt == FMT_IDX && ends_with(path, ".gz");
    if (gz)
        s.g = gzopen(tmp, "wb6");
    else
        s.f = fopen(tmp, "wb");
    int rc = -1;
    if (!s.f && !s.g) {
        fail(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    write_body(&s, fmt, &conv);
    int close_rc = gz ? (gzclose(s.g) == Z_OK ? 0 : -1) : fclose(s.f);
    if (s.failed || close_rc != 0) {
        fail(err, errlen, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        fail(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    if (conv.data != m->data)
        free(conv.data);
    return rc;
}
