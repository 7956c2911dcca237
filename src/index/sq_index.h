/* Internal entry points of the scalar-quantizer families (sq_index.c and
 * ivf_sq.c), for vindex_sq_type_of. */
#ifndef VX_SQ_INDEX_H
#define VX_SQ_INDEX_H

#include <stdbool.h>

#include "vindex.h"

/* Whether ix is an IndexIVFScalarQuantizer; its type into *type. */
bool vx_ivf_sq_type(const vindex *ix, vindex_sq_type *type);

#endif
