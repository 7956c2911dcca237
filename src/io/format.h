/*
 * The index file format (docs/FORMAT.md): a header, a section table, then the
 * sections, each 64-byte aligned, each with its length and CRC-32 in the table.
 * An index is written as a run of sections in a fixed order: an index header
 * section ("INDX": family tag, d, metric, ntotal, is_trained), then the
 * family's own sections; a composite writes its parts as nested runs (an INDX
 * and what follows it) at the places its reader expects them.
 *
 * Writer: vx_writer collects sections as lists of chunks that point at the
 * index's own arrays (nothing big is copied) or at small fields encoded into
 * the writer's scratch buffer; vx_writer_emit_* then lays them out, computes
 * the checksums and streams them to a file or a buffer.
 *
 * Reader: vx_reader walks the section table of a byte buffer (a file read or
 * mapped, or the caller's buffer) whose header, table and checksums were all
 * verified when it was opened. A family takes its sections in order with
 * vx_reader_section (small fields, through a bounds-checked cursor) or
 * vx_reader_array (big arrays: an exact element count, copied out, or used in
 * place when the buffer is a mapping that outlives the index).
 *
 * Families: ops->write writes an index (vx_io_write_index_header first); the
 * reader for a family tag is in the table of src/io/registry.c.
 */
#ifndef VX_IO_FORMAT_H
#define VX_IO_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vindex.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vindex's file format stores arrays little-endian and uses them in place"
#endif

/* Four ASCII characters as a little-endian u32: the file shows them in order. */
#define VX_TAG(a, b, c, d)                                                                     \
    ((uint32_t)(uint8_t)(a) | (uint32_t)(uint8_t)(b) << 8 | (uint32_t)(uint8_t)(c) << 16 |     \
     (uint32_t)(uint8_t)(d) << 24)

enum {
    VX_FORMAT_VERSION = 1,  /* the version this library writes and the newest it reads */
    VX_FORMAT_ALIGN = 64,   /* sections start at multiples of this */
    VX_FORMAT_HEADER_BYTES = 64,
    VX_FORMAT_ENTRY_BYTES = 32,
    VX_FORMAT_MAX_DEPTH = 8 /* nesting of composite indexes */
};

#define VX_TAG_INDEX VX_TAG('I', 'N', 'D', 'X')

/* ---- writing ------------------------------------------------------------- */

typedef struct vx_writer vx_writer;

vx_writer *vx_writer_new(void);
void vx_writer_free(vx_writer *w);

/* Sections: begin, append chunks and fields, end. On failure (out of memory)
 * the writer remembers the error and later calls do nothing; vx_writer_status
 * and the emit functions report it. */
void vx_writer_begin(vx_writer *w, uint32_t tag);
/* n bytes at p, not copied: p must stay valid and unchanged until emitted. */
void vx_writer_ref(vx_writer *w, const void *p, size_t n);
/* Small fields, encoded little-endian into the writer. */
void vx_writer_u32(vx_writer *w, uint32_t v);
void vx_writer_u64(vx_writer *w, uint64_t v);
void vx_writer_i64(vx_writer *w, int64_t v);
void vx_writer_f64(vx_writer *w, double v);
void vx_writer_end(vx_writer *w);
/* A whole section from one array. */
void vx_writer_array(vx_writer *w, uint32_t tag, const void *p, size_t n, size_t elem_size);
vindex_status vx_writer_status(const vx_writer *w);

/* The size of the whole file. */
size_t vx_writer_size(const vx_writer *w);
/* The file into buf (at least vx_writer_size bytes). */
vindex_status vx_writer_emit_buffer(vx_writer *w, void *buf);
/* The file to fd (written from its current position). */
vindex_status vx_writer_emit_fd(vx_writer *w, int fd, const char *path);

/* Writes ix (its INDX section and everything after): the family's write op,
 * or UNSUPPORTED naming the family. Composites call it for their parts. */
vindex_status vx_io_write_index(vx_writer *w, const vindex *ix);
/* The INDX section of ix, with the family's tag; a write op begins with it. */
void vx_io_write_index_header(vx_writer *w, const vindex *ix, uint32_t family_tag);

/* ---- reading ------------------------------------------------------------- */

/* Shared ownership of a mapped file: indexes that use its arrays in place hold
 * a reference; the last release unmaps it. */
typedef struct vx_mapping vx_mapping;
vx_mapping *vx_mapping_ref(vx_mapping *m);
void vx_mapping_release(vx_mapping *m);

typedef struct vx_reader vx_reader;

/* A bounds-checked view of one section's bytes. Every get fails with
 * VINDEX_ERR_CORRUPT (message naming the section) past the end. */
typedef struct vx_cursor {
    const uint8_t *p;
    size_t len, pos;
    uint32_t tag;
} vx_cursor;

vindex_status vx_cursor_u32(vx_cursor *c, uint32_t *v);
vindex_status vx_cursor_u64(vx_cursor *c, uint64_t *v);
vindex_status vx_cursor_i64(vx_cursor *c, int64_t *v);
vindex_status vx_cursor_f64(vx_cursor *c, double *v);
/* CORRUPT unless every byte was read (no trailing garbage). */
vindex_status vx_cursor_done(const vx_cursor *c);

/* The next section, which must have this tag. */
vindex_status vx_reader_section(vx_reader *r, uint32_t tag, vx_cursor *c);

/* The next section, which must have this tag and hold exactly count elements
 * of elem_size bytes (checked before anything is allocated). *out gets a copy
 * (vx_alloc_big'd; NULL when count is 0), or, when the reader allows it
 * (vx_reader_in_place) and in_place is non-NULL, a pointer into the mapping
 * with *in_place set true. */
vindex_status vx_reader_array(vx_reader *r, uint32_t tag, size_t count, size_t elem_size,
                              void **out, bool *in_place);

/* As vx_reader_array, without a copy: *out points at the section's bytes in
 * the reader's buffer (any alignment: memcpy them out), valid until the
 * reader is closed. For data that is copied elsewhere piece by piece. */
vindex_status vx_reader_view(vx_reader *r, uint32_t tag, size_t count, size_t elem_size,
                             const void **out);

/* As vx_reader_array for n floats, always copied (NULL when n is 0), which
 * must all be finite; CORRUPT naming `what` otherwise. */
vindex_status vx_reader_floats(vx_reader *r, uint32_t tag, size_t n, const char *what,
                               float **out);

/* Bytes of sections not yet read: an upper bound on what any count read from
 * the file can justify allocating. */
size_t vx_reader_remaining(const vx_reader *r);

/* Whether arrays may be used in place (the file was read with VINDEX_IO_MMAP),
 * and the mapping to hold a reference on when they are. */
bool vx_reader_in_place(const vx_reader *r);
vx_mapping *vx_reader_mapping(const vx_reader *r);

/* The INDX section, as the family reader receives it. */
typedef struct vx_io_index_header {
    uint32_t family;
    int d;
    vindex_metric metric;
    bool is_trained;
    int64_t ntotal;
} vx_io_index_header;

/* Reads one index (an INDX section and the family's sections), e.g. the part
 * of a composite; checks the result against its header. */
vindex_status vx_io_read_index(vx_reader *r, vindex **out);

/* For the public functions (io.c): a reader over len bytes at buf, verified
 * (header, table, padding, every checksum) before it is returned; map
 * non-NULL lets arrays be used in place (the reader does not take a
 * reference). finish: CORRUPT unless every section was read. */
vindex_status vx_reader_open(vx_reader **out, const void *buf, size_t len, vx_mapping *map);
vindex_status vx_reader_finish(const vx_reader *r);
void vx_reader_close(vx_reader *r);
/* A mapping of len bytes at addr with one reference (munmap on the last). */
vx_mapping *vx_mapping_new(void *addr, size_t len);

/* Whether n floats read from a file are all finite (no NaN, no infinity). */
bool vx_io_all_finite(const float *x, size_t n);

/* CORRUPT with "<family>: <message>"-style context; for family readers. */
vindex_status vx_io_corrupt(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
