/* The internal thread pool. Work is split into tasks numbered 0..ntasks-1 that
 * the caller and the pool's workers take in turn; each task writes only its own
 * outputs, so results never depend on how many threads ran them. */
#ifndef VX_THREADS_H
#define VX_THREADS_H

#include <stddef.h>

/* worker is in [0, vx_num_threads()) and names per-thread scratch space. */
typedef void (*vx_task_fn)(void *ctx, size_t task, int worker);

/* Runs fn(ctx, t, worker) for every t < ntasks, with worker < nthreads, and
 * returns when all are done. nthreads is what the caller sized its per-worker
 * scratch for (normally vx_num_threads(), read once). Runs inline (worker 0)
 * when called from inside a task, when another parallel call holds the pool,
 * or with one thread. */
void vx_parallel_for(size_t ntasks, int nthreads, vx_task_fn fn, void *ctx);

/* The number of threads a parallel_for may use, for sizing per-worker scratch. */
int vx_num_threads(void);

/* Makes the BLAS library single-threaded: our pool is the one source of threads
 * (never N x N threads). Called before the first sgemm. */
void vx_blas_single_thread(void);

#endif
