/*
 * Sections, the section table, checksums (zlib's CRC-32) and the generic INDX
 * section: the machinery under every family's serializer. See format.h for the
 * model and docs/FORMAT.md for the bytes.
 */
#include "crc32.h"
#include "format.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../index/index.h"
#include "registry.h"

static const uint8_t MAGIC[8] = {0x89, 'V', 'I', 'X', '\r', '\n', 0x1a, '\n'};

/* ---- little-endian fields ------------------------------------------------ */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* zlib's CRC-32, by folding where the CPU can (crc32.h). */
static uint32_t crc_update(uint32_t crc, const void *p, size_t n) { return vx_crc32(crc, p, n); }

static size_t align_up(size_t x) { return (x + VX_FORMAT_ALIGN - 1) & ~(size_t)(VX_FORMAT_ALIGN - 1); }

/* A tag as text for messages: its four characters, or hex when not printable. */
static const char *tag_str(uint32_t tag, char buf[16])
{
    for (int i = 0; i < 4; i++) {
        unsigned c = (tag >> (8 * i)) & 0xff;
        if (c < 0x20 || c > 0x7e) {
            snprintf(buf, 16, "0x%08x", tag);
            return buf;
        }
        buf[i] = (char)c;
    }
    buf[4] = '\0';
    return buf;
}

vindex_status vx_io_corrupt(const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vx_fail(VINDEX_ERR_CORRUPT, "read: corrupt index data: %s", msg);
}

/* Branch-free over the exponent bits, so a long array costs one pass. */
bool vx_io_all_finite(const float *x, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, x + i, sizeof bits);
        bad |= (bits & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

/* ---- writer -------------------------------------------------------------- */

typedef struct chunk {
    const uint8_t *p; /* NULL: bytes [off, off + len) of the scratch buffer */
    size_t off, len;
} chunk;

typedef struct wsection {
    uint32_t tag;
    size_t first, count; /* chunks */
    size_t len, offset;
    uint32_t crc;
} wsection;

struct vx_writer {
    chunk *chunks;
    size_t nchunks, chunk_cap;
    wsection *secs;
    size_t nsecs, sec_cap;
    uint8_t *scratch;
    size_t nscratch, scratch_cap;
    bool open;
    bool laid_out;
    vindex_status st;
};

vx_writer *vx_writer_new(void) { return vx_calloc(1, sizeof(vx_writer)); }

void vx_writer_free(vx_writer *w)
{
    if (!w)
        return;
    vx_free(w->chunks);
    vx_free(w->secs);
    vx_free(w->scratch);
    vx_free(w);
}

vindex_status vx_writer_status(const vx_writer *w) { return w->st; }

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = vx_realloc(*p, *cap, n, elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static void writer_nomem(vx_writer *w)
{
    if (!w->st)
        w->st = vx_fail(VINDEX_ERR_NOMEM, "write: out of memory building the section table");
}

void vx_writer_begin(vx_writer *w, uint32_t tag)
{
    if (w->st)
        return;
    if (!grow((void **)&w->secs, &w->sec_cap, w->nsecs + 1, sizeof *w->secs)) {
        writer_nomem(w);
        return;
    }
    wsection *s = &w->secs[w->nsecs++];
    memset(s, 0, sizeof *s);
    s->tag = tag;
    s->first = w->nchunks;
    w->open = true;
}

static void add_chunk(vx_writer *w, const uint8_t *p, size_t off, size_t len)
{
    if (w->st || len == 0)
        return;
    wsection *s = &w->secs[w->nsecs - 1];
    if (!p && s->count > 0) { /* extend the last scratch chunk when contiguous */
        chunk *last = &w->chunks[w->nchunks - 1];
        if (!last->p && last->off + last->len == off) {
            last->len += len;
            s->len += len;
            return;
        }
    }
    if (!grow((void **)&w->chunks, &w->chunk_cap, w->nchunks + 1, sizeof *w->chunks)) {
        writer_nomem(w);
        return;
    }
    w->chunks[w->nchunks++] = (chunk){p, off, len};
    s->count++;
    s->len += len;
}

void vx_writer_ref(vx_writer *w, const void *p, size_t n) { add_chunk(w, p, 0, n); }

static void put_scratch(vx_writer *w, const uint8_t *bytes, size_t n)
{
    if (w->st)
        return;
    if (!grow((void **)&w->scratch, &w->scratch_cap, w->nscratch + n, 1)) {
        writer_nomem(w);
        return;
    }
    memcpy(w->scratch + w->nscratch, bytes, n);
    add_chunk(w, NULL, w->nscratch, n);
    w->nscratch += n;
}

void vx_writer_u32(vx_writer *w, uint32_t v)
{
    uint8_t b[4];
    put_u32(b, v);
    put_scratch(w, b, 4);
}

void vx_writer_u64(vx_writer *w, uint64_t v)
{
    uint8_t b[8];
    put_u64(b, v);
    put_scratch(w, b, 8);
}

void vx_writer_i64(vx_writer *w, int64_t v) { vx_writer_u64(w, (uint64_t)v); }

void vx_writer_f64(vx_writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    vx_writer_u64(w, bits);
}

void vx_writer_end(vx_writer *w) { w->open = false; }

void vx_writer_array(vx_writer *w, uint32_t tag, const void *p, size_t n, size_t elem_size)
{
    vx_writer_begin(w, tag);
    vx_writer_ref(w, p, n * elem_size);
    vx_writer_end(w);
}

static const uint8_t *chunk_bytes(const vx_writer *w, const chunk *c)
{
    return c->p ? c->p : w->scratch + c->off;
}

/* Offsets and checksums of every section. */
static void lay_out(vx_writer *w)
{
    if (w->laid_out)
        return;
    size_t at = VX_FORMAT_HEADER_BYTES + w->nsecs * VX_FORMAT_ENTRY_BYTES;
    for (size_t i = 0; i < w->nsecs; i++) {
        wsection *s = &w->secs[i];
        s->offset = align_up(at);
        uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
        for (size_t c = s->first; c < s->first + s->count; c++)
            crc = crc_update(crc, chunk_bytes(w, &w->chunks[c]), w->chunks[c].len);
        s->crc = crc;
        at = s->offset + s->len;
    }
    w->laid_out = true;
}

size_t vx_writer_size(const vx_writer *w)
{
    size_t at = VX_FORMAT_HEADER_BYTES + w->nsecs * VX_FORMAT_ENTRY_BYTES;
    for (size_t i = 0; i < w->nsecs; i++)
        at = align_up(at) + w->secs[i].len;
    return at;
}

/* Header and table into p (VX_FORMAT_HEADER_BYTES + nsecs entries). */
static void head_bytes(const vx_writer *w, uint8_t *p, size_t file_size)
{
    size_t tbytes = w->nsecs * VX_FORMAT_ENTRY_BYTES;
    memset(p, 0, VX_FORMAT_HEADER_BYTES + tbytes);
    uint8_t *t = p + VX_FORMAT_HEADER_BYTES;
    for (size_t i = 0; i < w->nsecs; i++) {
        const wsection *s = &w->secs[i];
        uint8_t *e = t + i * VX_FORMAT_ENTRY_BYTES;
        put_u32(e, s->tag);
        put_u64(e + 8, s->offset);
        put_u64(e + 16, s->len);
        put_u32(e + 24, s->crc);
    }
    memcpy(p, MAGIC, 8);
    put_u32(p + 8, VX_FORMAT_VERSION);
    put_u32(p + 12, VX_FORMAT_HEADER_BYTES);
    put_u64(p + 16, file_size);
    put_u64(p + 24, VX_FORMAT_HEADER_BYTES);
    put_u32(p + 32, (uint32_t)w->nsecs);
    put_u32(p + 36, VX_FORMAT_ENTRY_BYTES);
    put_u32(p + 40, crc_update((uint32_t)crc32(0L, Z_NULL, 0), t, tbytes));
    put_u32(p + 60, crc_update((uint32_t)crc32(0L, Z_NULL, 0), p, 60));
}

static vindex_status check_emittable(vx_writer *w)
{
    if (w->st)
        return w->st;
    if (w->nsecs == 0 || w->open || w->nsecs > UINT32_MAX)
        return vx_fail(VINDEX_ERR_INVALID, "write: internal error: bad section list");
    lay_out(w);
    return VINDEX_OK;
}

vindex_status vx_writer_emit_buffer(vx_writer *w, void *buf)
{
    vindex_status st = check_emittable(w);
    if (st)
        return st;
    size_t size = vx_writer_size(w);
    uint8_t *out = buf;
    memset(out, 0, size); /* padding */
    head_bytes(w, out, size);
    for (size_t i = 0; i < w->nsecs; i++) {
        const wsection *s = &w->secs[i];
        size_t at = s->offset;
        for (size_t c = s->first; c < s->first + s->count; c++) {
            memcpy(out + at, chunk_bytes(w, &w->chunks[c]), w->chunks[c].len);
            at += w->chunks[c].len;
        }
    }
    return VINDEX_OK;
}

static vindex_status write_all(int fd, const void *p, size_t n, const char *path)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return vx_fail(VINDEX_ERR_IO, "write: %s: %s", path, strerror(errno));
        }
        b += k;
        n -= (size_t)k;
    }
    return VINDEX_OK;
}

vindex_status vx_writer_emit_fd(vx_writer *w, int fd, const char *path)
{
    vindex_status st = check_emittable(w);
    if (st)
        return st;
    size_t size = vx_writer_size(w);
    size_t hbytes = VX_FORMAT_HEADER_BYTES + w->nsecs * VX_FORMAT_ENTRY_BYTES;
    uint8_t *head = vx_alloc(hbytes, 1);
    if (!head)
        return VINDEX_ERR_NOMEM;
    head_bytes(w, head, size);
    st = write_all(fd, head, hbytes, path);
    vx_free(head);
    static const uint8_t zeros[VX_FORMAT_ALIGN];
    size_t at = hbytes;
    for (size_t i = 0; i < w->nsecs && !st; i++) {
        const wsection *s = &w->secs[i];
        st = write_all(fd, zeros, s->offset - at, path);
        for (size_t c = s->first; c < s->first + s->count && !st; c++)
            st = write_all(fd, chunk_bytes(w, &w->chunks[c]), w->chunks[c].len, path);
        at = s->offset + s->len;
    }
    return st;
}

/* ---- the INDX section ---------------------------------------------------- */

void vx_io_write_index_header(vx_writer *w, const vindex *ix, uint32_t family_tag)
{
    vx_writer_begin(w, VX_TAG_INDEX);
    vx_writer_u32(w, family_tag);
    vx_writer_u32(w, (uint32_t)ix->metric);
    vx_writer_u32(w, (uint32_t)ix->d);
    vx_writer_u32(w, ix->is_trained ? 1u : 0u);
    vx_writer_u64(w, (uint64_t)ix->ntotal);
    vx_writer_end(w);
}

vindex_status vx_io_write_index(vx_writer *w, const vindex *ix)
{
    if (!ix->ops->write)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "write: %s cannot be written to a file yet (no serializer for this "
                       "family)",
                       ix->ops->type_name);
    vindex_status st = ix->ops->write(ix, w);
    return st ? st : vx_writer_status(w);
}

/* ---- mappings ------------------------------------------------------------ */

struct vx_mapping {
    void *addr;
    size_t len;
    atomic_size_t refs;
};

vx_mapping *vx_mapping_ref(vx_mapping *m)
{
    atomic_fetch_add(&m->refs, 1);
    return m;
}

void vx_mapping_release(vx_mapping *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1) {
        munmap(m->addr, m->len);
        vx_free(m);
    }
}

vx_mapping *vx_mapping_new(void *addr, size_t len)
{
    vx_mapping *m = vx_alloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->addr = addr;
    m->len = len;
    atomic_init(&m->refs, 1);
    return m;
}

/* ---- reader -------------------------------------------------------------- */

typedef struct rsection {
    uint32_t tag;
    size_t offset, len;
} rsection;

struct vx_reader {
    const uint8_t *base;
    size_t len;
    rsection *secs;
    size_t nsecs, next;
    vx_mapping *map; /* non-NULL: arrays may be used in place */
    int depth;
};

/* Parses and verifies everything but the sections' contents: magic, version,
 * header checksum, sizes, the table (offsets aligned and in order, padding
 * zero, the last section ending the file) and every section's checksum. */
vindex_status vx_reader_open(vx_reader **out, const void *buf, size_t len, vx_mapping *map)
{
    *out = NULL;
    const uint8_t *p = buf;
    if (len < 8 || memcmp(p, MAGIC, 8) != 0)
        return vx_fail(VINDEX_ERR_CORRUPT,
                       "read: not a vindex index (%s; a vindex file starts with the bytes "
                       "89 56 49 58 0d 0a 1a 0a)",
                       len < 8 ? "shorter than the magic bytes" : "wrong magic bytes");
    if (len < 12)
        return vx_io_corrupt("truncated: %zu bytes, the header alone is %d", len,
                             VX_FORMAT_HEADER_BYTES);
    uint32_t version = get_u32(p + 8);
    if (version > VX_FORMAT_VERSION)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "read: the index is in file format version %u, newer than version %d, "
                       "the newest this vindex (%s) reads; upgrade vindex to read it",
                       version, VX_FORMAT_VERSION, VINDEX_VERSION_STRING);
    if (version == 0)
        return vx_io_corrupt("format version 0 does not exist");
    if (len < VX_FORMAT_HEADER_BYTES)
        return vx_io_corrupt("truncated: %zu bytes, the header alone is %d", len,
                             VX_FORMAT_HEADER_BYTES);
    uint32_t hcrc = crc_update((uint32_t)crc32(0L, Z_NULL, 0), p, 60);
    if (hcrc != get_u32(p + 60))
        return vx_io_corrupt("header checksum mismatch (the file is damaged)");
    uint64_t file_size = get_u64(p + 16), table_off = get_u64(p + 24);
    uint32_t count = get_u32(p + 32);
    if (get_u32(p + 12) != VX_FORMAT_HEADER_BYTES || get_u32(p + 36) != VX_FORMAT_ENTRY_BYTES ||
        table_off != VX_FORMAT_HEADER_BYTES || get_u32(p + 44) != 0 || get_u64(p + 48) != 0 ||
        get_u32(p + 56) != 0)
        return vx_io_corrupt("unexpected header fields for format version %u", version);
    if (file_size != len)
        return vx_io_corrupt("%s: %zu bytes where the header says %llu",
                             len < file_size ? "truncated" : "trailing bytes", len,
                             (unsigned long long)file_size);
    if (count == 0 || (uint64_t)count > (len - VX_FORMAT_HEADER_BYTES) / VX_FORMAT_ENTRY_BYTES)
        return vx_io_corrupt("%u sections do not fit in %zu bytes", count, len);
    const uint8_t *t = p + VX_FORMAT_HEADER_BYTES;
    size_t tbytes = (size_t)count * VX_FORMAT_ENTRY_BYTES;
    if (crc_update((uint32_t)crc32(0L, Z_NULL, 0), t, tbytes) != get_u32(p + 40))
        return vx_io_corrupt("section table checksum mismatch (the file is damaged)");
    vx_reader *r = vx_calloc(1, sizeof *r);
    rsection *secs = vx_alloc(count, sizeof *secs); /* count * 32 bytes are in the file */
    if (!r || !secs) {
        vx_free(r);
        vx_free(secs);
        return VINDEX_ERR_NOMEM;
    }
    r->base = p;
    r->len = len;
    r->secs = secs;
    r->nsecs = count;
    r->map = map;
    vindex_status st = VINDEX_OK;
    size_t at = VX_FORMAT_HEADER_BYTES + tbytes;
    char tb[16];
    for (uint32_t i = 0; i < count && !st; i++) {
        const uint8_t *e = t + (size_t)i * VX_FORMAT_ENTRY_BYTES;
        uint64_t off = get_u64(e + 8), slen = get_u64(e + 16);
        secs[i].tag = get_u32(e);
        if (get_u32(e + 4) != 0 || get_u32(e + 28) != 0)
            st = vx_io_corrupt("section %u: reserved fields are not zero", i);
        else if (off != align_up(at))
            st = vx_io_corrupt("section %u (%s): offset %llu, expected %zu", i,
                               tag_str(secs[i].tag, tb), (unsigned long long)off, align_up(at));
        else if (off > len || slen > len - off)
            st = vx_io_corrupt("section %u (%s): %llu bytes at offset %llu run past the end "
                               "(%zu bytes; truncated?)",
                               i, tag_str(secs[i].tag, tb), (unsigned long long)slen,
                               (unsigned long long)off, len);
        else {
            for (size_t b = at; b < off && !st; b++)
                if (p[b])
                    st = vx_io_corrupt("non-zero padding byte at offset %zu", b);
            secs[i].offset = (size_t)off;
            secs[i].len = (size_t)slen;
            at = (size_t)(off + slen);
        }
    }
    if (!st && at != len)
        st = vx_io_corrupt("%zu bytes after the last section", len - at);
    for (uint32_t i = 0; i < count && !st; i++) {
        uint32_t crc = crc_update((uint32_t)crc32(0L, Z_NULL, 0), p + secs[i].offset,
                                  secs[i].len);
        if (crc != get_u32(t + (size_t)i * VX_FORMAT_ENTRY_BYTES + 24))
            st = vx_io_corrupt("section %u (%s, %zu bytes at offset %zu): checksum mismatch "
                               "(the file is damaged)",
                               i, tag_str(secs[i].tag, tb), secs[i].len, secs[i].offset);
    }
    if (st) {
        vx_reader_close(r);
        return st;
    }
    *out = r;
    return VINDEX_OK;
}

void vx_reader_close(vx_reader *r)
{
    if (!r)
        return;
    vx_free(r->secs);
    vx_free(r);
}

/* After the top-level index: every section was used. */
vindex_status vx_reader_finish(const vx_reader *r)
{
    if (r->next != r->nsecs)
        return vx_io_corrupt("%zu sections left over after the index", r->nsecs - r->next);
    return VINDEX_OK;
}

size_t vx_reader_remaining(const vx_reader *r)
{
    return r->next < r->nsecs ? r->len - r->secs[r->next].offset : 0;
}

bool vx_reader_in_place(const vx_reader *r) { return r->map != NULL; }
vx_mapping *vx_reader_mapping(const vx_reader *r) { return r->map; }

static vindex_status next_section(vx_reader *r, uint32_t tag, const rsection **out)
{
    char a[16], b[16];
    if (r->next >= r->nsecs)
        return vx_io_corrupt("section %s missing (the file ends after %zu sections)",
                             tag_str(tag, a), r->nsecs);
    const rsection *s = &r->secs[r->next];
    if (s->tag != tag)
        return vx_io_corrupt("section %zu is %s where %s was expected", r->next,
                             tag_str(s->tag, a), tag_str(tag, b));
    r->next++;
    *out = s;
    return VINDEX_OK;
}

vindex_status vx_reader_section(vx_reader *r, uint32_t tag, vx_cursor *c)
{
    const rsection *s = NULL;
    vindex_status st = next_section(r, tag, &s);
    if (st)
        return st;
    *c = (vx_cursor){r->base + s->offset, s->len, 0, tag};
    return VINDEX_OK;
}

vindex_status vx_reader_view(vx_reader *r, uint32_t tag, size_t count, size_t elem_size,
                             const void **out)
{
    *out = NULL;
    const rsection *s = NULL;
    vindex_status st = next_section(r, tag, &s);
    if (st)
        return st;
    size_t bytes;
    char tb[16];
    if (!vx_mul_ok(count, elem_size, &bytes) || bytes != s->len)
        return vx_io_corrupt("section %s holds %zu bytes where %zu elements of %zu bytes are "
                             "expected",
                             tag_str(tag, tb), s->len, count, elem_size);
    *out = r->base + s->offset;
    return VINDEX_OK;
}

vindex_status vx_reader_array(vx_reader *r, uint32_t tag, size_t count, size_t elem_size,
                              void **out, bool *in_place)
{
    *out = NULL;
    if (in_place)
        *in_place = false;
    const rsection *s = NULL;
    vindex_status st = next_section(r, tag, &s);
    if (st)
        return st;
    size_t bytes;
    char tb[16];
    if (!vx_mul_ok(count, elem_size, &bytes) || bytes != s->len)
        return vx_io_corrupt("section %s holds %zu bytes where %zu elements of %zu bytes are "
                             "expected",
                             tag_str(tag, tb), s->len, count, elem_size);
    if (count == 0)
        return VINDEX_OK;
    if (r->map && in_place) {
        *out = (void *)(uintptr_t)(r->base + s->offset); /* read-only mapping */
        *in_place = true;
        return VINDEX_OK;
    }
    void *copy = vx_alloc_big(count, elem_size);
    if (!copy)
        return vx_fail(VINDEX_ERR_NOMEM, "read: out of memory for %zu bytes of section %s",
                       bytes, tag_str(tag, tb));
    memcpy(copy, r->base + s->offset, bytes);
    *out = copy;
    return VINDEX_OK;
}

vindex_status vx_reader_floats(vx_reader *r, uint32_t tag, size_t n, const char *what,
                               float **out)
{
    void *p;
    vindex_status st = vx_reader_array(r, tag, n, sizeof(float), &p, NULL);
    if (st)
        return st;
    if (!vx_io_all_finite(p, n)) {
        char tb[16];
        vx_free(p);
        return vx_io_corrupt("%s: section %s holds a NaN or infinite value", what,
                             tag_str(tag, tb));
    }
    *out = p;
    return VINDEX_OK;
}

static vindex_status cursor_take(vx_cursor *c, size_t n, const uint8_t **p)
{
    char tb[16];
    if (c->len - c->pos < n)
        return vx_io_corrupt("section %s is too short (%zu bytes)", tag_str(c->tag, tb), c->len);
    *p = c->p + c->pos;
    c->pos += n;
    return VINDEX_OK;
}

vindex_status vx_cursor_u32(vx_cursor *c, uint32_t *v)
{
    const uint8_t *p = NULL;
    vindex_status st = cursor_take(c, 4, &p);
    if (!st)
        *v = get_u32(p);
    return st;
}

vindex_status vx_cursor_u64(vx_cursor *c, uint64_t *v)
{
    const uint8_t *p = NULL;
    vindex_status st = cursor_take(c, 8, &p);
    if (!st)
        *v = get_u64(p);
    return st;
}

vindex_status vx_cursor_i64(vx_cursor *c, int64_t *v)
{
    uint64_t u;
    vindex_status st = vx_cursor_u64(c, &u);
    if (!st)
        *v = (int64_t)u;
    return st;
}

vindex_status vx_cursor_f64(vx_cursor *c, double *v)
{
    uint64_t u;
    vindex_status st = vx_cursor_u64(c, &u);
    if (!st)
        memcpy(v, &u, sizeof *v);
    return st;
}

vindex_status vx_cursor_done(const vx_cursor *c)
{
    char tb[16];
    if (c->pos != c->len)
        return vx_io_corrupt("section %s has %zu unexpected trailing bytes", tag_str(c->tag, tb),
                             c->len - c->pos);
    return VINDEX_OK;
}

/* ---- reading an index ---------------------------------------------------- */

vindex_status vx_io_read_index(vx_reader *r, vindex **out)
{
    *out = NULL;
    if (r->depth >= VX_FORMAT_MAX_DEPTH)
        return vx_io_corrupt("indexes nested more than %d deep", VX_FORMAT_MAX_DEPTH);
    vx_cursor c;
    uint32_t family, metric, d, trained;
    uint64_t ntotal;
    vindex_status st;
    if ((st = vx_reader_section(r, VX_TAG_INDEX, &c)) || (st = vx_cursor_u32(&c, &family)) ||
        (st = vx_cursor_u32(&c, &metric)) || (st = vx_cursor_u32(&c, &d)) ||
        (st = vx_cursor_u32(&c, &trained)) || (st = vx_cursor_u64(&c, &ntotal)) ||
        (st = vx_cursor_done(&c)))
        return st;
    char tb[16];
    if (metric != VINDEX_METRIC_L2 && metric != VINDEX_METRIC_INNER_PRODUCT)
        return vx_io_corrupt("unknown metric %u", metric);
    if (d == 0 || d > INT32_MAX || trained > 1 || ntotal > INT64_MAX)
        return vx_io_corrupt("bad index header (d %u, is_trained %u, ntotal %llu)", d, trained,
                             (unsigned long long)ntotal);
    const vx_io_family *fam = vx_io_family_of(family);
    if (!fam)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "read: unknown index family '%s' (written by a newer vindex?)",
                       tag_str(family, tb));
    vx_io_index_header h = {family, (int)d, (vindex_metric)metric, trained != 0,
                            (int64_t)ntotal};
    vindex *ix = NULL;
    r->depth++;
    st = fam->read(r, &h, &ix);
    r->depth--;
    if (st) {
        vindex_free(ix);
        return st;
    }
    if (ix->d != h.d || ix->metric != h.metric || ix->ntotal != h.ntotal ||
        ix->is_trained != h.is_trained) {
        st = vx_io_corrupt("%s read back as d %d, ntotal %lld, is_trained %d where its header "
                           "says d %d, ntotal %lld, is_trained %d",
                           fam->name, ix->d, (long long)ix->ntotal, (int)ix->is_trained, h.d,
                           (long long)h.ntotal, (int)h.is_trained);
        vindex_free(ix);
        return st;
    }
    *out = ix;
    return VINDEX_OK;
}
