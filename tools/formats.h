/*
 * Vector files for the command-line tool: readers and writers for every format
 * it speaks, each file one matrix of n rows of d elements.
 *
 *   .fvecs .bvecs .ivecs   per row: int32 d, then d float32 / uint8 / int32
 *                          (the TEXMEX / BIGANN corpus format)
 *   .fbin .u8bin .ibin     uint32 n, uint32 d, then n*d float32 / uint8 / int32
 *                          (the big-ann-benchmarks format)
 *   .npy                   NumPy arrays of 1 or 2 dimensions, C order:
 *                          float32, uint8, int32 (and int64 read as int32)
 *   IDX                    the MNIST / Fashion-MNIST format (big-endian header,
 *                          unsigned bytes, int32 or float32; gzipped or not):
 *                          names ending in .idx, ubyte or ubyte.gz (a .gz is
 *                          written compressed)
 *
 * Everything is little-endian except IDX. Readers check the sizes a header
 * claims against the size of the file before allocating, so a damaged or
 * hostile file gives an error, never a huge allocation. Writers go through a
 * temporary file renamed over the target: a failed write leaves nothing.
 * Every function returns 0, or -1 with a one-line message in err.
 */
#ifndef VX_TOOLS_FORMATS_H
#define VX_TOOLS_FORMATS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    FMT_UNKNOWN = 0,
    FMT_FVECS,
    FMT_BVECS,
    FMT_IVECS,
    FMT_FBIN,
    FMT_U8BIN,
    FMT_IBIN,
    FMT_NPY,
    FMT_IDX
} vec_format;

typedef enum { ELEM_F32 = 0, ELEM_U8 = 1, ELEM_I32 = 2 } elem_type;

typedef struct {
    elem_type type;
    size_t n;   /* rows */
    int d;      /* elements per row */
    void *data; /* n*d elements of `type`, row-major; free with matrix_free */
} matrix;

/* The format a file name implies ("base.fvecs" -> FMT_FVECS), FMT_UNKNOWN if none. */
vec_format format_from_path(const char *path);
/* "fvecs", "npy", "idx", ... -> the format; FMT_UNKNOWN if none. */
vec_format format_from_name(const char *name);
const char *format_name(vec_format f);
const char *elem_name(elem_type t);
/* The element type a format stores, or -1 when it stores any (npy, IDX). */
int format_fixed_elem(vec_format f);

/* Reads path in format fmt (FMT_UNKNOWN: from its name) into *m, in the file's
 * own element type. */
int matrix_read(const char *path, vec_format fmt, matrix *m, char *err, size_t errlen);

/* Reads path as float32 rows (uint8 and int32 files are converted) and checks
 * that every value is finite. */
int matrix_read_float(const char *path, matrix *m, char *err, size_t errlen);

/* Writes m to path in format fmt (FMT_UNKNOWN: from the name). A format with a
 * fixed element type gets m converted to it; a value that the conversion
 * would change (3.5 or 300 into uint8) is an error, and nothing is written. */
int matrix_write(const char *path, vec_format fmt, const matrix *m, char *err, size_t errlen);

/* Converts m in place to type t (exactly, or an error naming the first value
 * that does not fit). */
int matrix_convert(matrix *m, elem_type t, char *err, size_t errlen);

/* Checks float data for NaN and infinity; the message names row and column. */
int matrix_check_finite(const matrix *m, const char *what, char *err, size_t errlen);

void matrix_free(matrix *m);

size_t elem_size(elem_type t);

#endif
