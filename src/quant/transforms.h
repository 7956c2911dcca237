/* Vector transforms (the public vindex_transform), unchecked entry points for
 * IndexPreTransform and the factory. */
#ifndef VX_TRANSFORMS_H
#define VX_TRANSFORMS_H

#include <stdbool.h>
#include <stddef.h>

#include "vindex.h"

int vx_transform_d_in(const vindex_transform *t);
int vx_transform_d_out(const vindex_transform *t);
bool vx_transform_is_trained(const vindex_transform *t);
/* Whether vx_transform_reverse works (orthonormal linear maps, L2 norm). */
bool vx_transform_has_reverse(const vindex_transform *t);

/* n >= 1 vectors, all checked by the caller. */
vindex_status vx_transform_train(vindex_transform *t, size_t n, const float *x);
void vx_transform_apply(const vindex_transform *t, size_t n, const float *x, float *out);
void vx_transform_reverse(const vindex_transform *t, size_t n, const float *y, float *out);
size_t vx_transform_memory(const vindex_transform *t);

/* The factory token ("RR64", "L2norm", "PCA32", "PCAW32", "PCAR32", "OPQ8_64")
 * into buf; false when the transform has none or buf is too small. */
bool vx_transform_token(const vindex_transform *t, char *buf, size_t len);

/* Persistence (docs/FORMAT.md, "IndexPreTransform"): the transform's sections
 * (TRFM, then its arrays); the reader validates every field and array. */
typedef struct vx_writer vx_writer;
typedef struct vx_reader vx_reader;
void vx_transform_write(vx_writer *w, const vindex_transform *t);
vindex_status vx_transform_read(vx_reader *r, vindex_transform **out);

#endif
