/* IndexIVFFlat internals that tests and experiments reach (see ivf_flat.c). */
#ifndef VX_IVF_FLAT_H
#define VX_IVF_FLAT_H

/* Sketch dimensions of IndexIVFFlat codes created from now on: -1 (default)
 * chooses by d and metric (L2 with d >= 256: about d / 6); >= 0 forces that
 * many, rounded up to a multiple of 16 and at most d (0: no sketches). */
extern int vx_ivf_flat_sketch_dims;

#endif
