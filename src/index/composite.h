/* Internal accessors of the Refine and PreTransform composites (refine.c,
 * pretransform.c), for the factory's reverse direction and for composites that
 * need to look inside one another. */
#ifndef VX_COMPOSITE_H
#define VX_COMPOSITE_H

#include <stdbool.h>

#include "vindex.h"

/* IndexRefine / IndexRefineFlat: the base (filter) index and the refine index;
 * NULL when ix is not one. */
const vindex *vx_refine_base(const vindex *ix);
const vindex *vx_refine_refine(const vindex *ix);

/* IndexPreTransform: its transform and the index it feeds; NULL when ix is not
 * one. */
const vindex_transform *vx_pretransform_transform(const vindex *ix);
const vindex *vx_pretransform_index(const vindex *ix);

#endif
