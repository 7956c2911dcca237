/*
 * A small persistent pthread pool.
 *
 * One job runs at a time. The caller of vx_parallel_for takes tasks alongside
 * the workers through an atomic counter, then waits for the workers that are
 * still in a task. A second caller that finds the pool busy (another user thread
 * searching at the same time) runs its job inline instead of queueing: searches
 * from many threads already keep the cores busy, and waiting would only add
 * latency. Calls from inside a task run inline too, so nested parallelism never
 * oversubscribes.
 *
 * Index locks (index.h): a caller may hold an index's lock while it runs a job
 * here. That cannot deadlock because nothing here ever waits for the pool
 * (trylock, else inline), and tasks never take an index lock.
 */
#include "threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "vindex.h"

#define VX_MAX_THREADS 256

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER; /* held by the running job */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t work_done = PTHREAD_COND_INITIALIZER;

static int requested_threads; /* 0 = default */
static int spawned_workers;   /* threads started so far (excluding callers) */

/* The current job, published under state_lock. */
static vx_task_fn job_fn;
static void *job_ctx;
static size_t job_ntasks;
static atomic_size_t job_next;
static int job_generation;
static int job_workers_wanted; /* workers (ids 1..) that take part */
static int job_workers_done;

static _Thread_local bool inside_task;

static int default_thread_count;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

/* Read once: sysconf reads a file under /sys, too slow for every search. */
static void read_default_threads(void)
{
    int n = 0;
    const char *env = getenv("VINDEX_NUM_THREADS");
    if (env)
        n = atoi(env);
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores < 1 ? 1 : cores > VX_MAX_THREADS ? VX_MAX_THREADS : (int)cores;
    }
    default_thread_count = n < VX_MAX_THREADS ? n : VX_MAX_THREADS;
}

static int default_threads(void)
{
    pthread_once(&default_once, read_default_threads);
    return default_thread_count;
}

int vx_num_threads(void)
{
    int n = __atomic_load_n(&requested_threads, __ATOMIC_RELAXED);
    return n > 0 ? n : default_threads();
}

VINDEX_API void vindex_set_num_threads(int n)
{
    if (n > VX_MAX_THREADS)
        n = VX_MAX_THREADS;
    __atomic_store_n(&requested_threads, n > 0 ? n : 0, __ATOMIC_RELAXED);
}

VINDEX_API int vindex_get_num_threads(void) { return vx_num_threads(); }

static void run_tasks(int worker)
{
    bool was_inside = inside_task;
    inside_task = true;
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&job_next, 1, memory_order_relaxed);
        if (t >= job_ntasks)
            break;
        job_fn(job_ctx, t, worker);
    }
    inside_task = was_inside;
}

static void *worker_main(void *arg)
{
    int id = (int)(intptr_t)arg; /* 1-based: the caller is worker 0 */
    int seen = 0;
    pthread_mutex_lock(&state_lock);
    for (;;) {
        while (job_generation == seen)
            pthread_cond_wait(&work_ready, &state_lock);
        seen = job_generation;
        if (id > job_workers_wanted)
            continue; /* not part of this job */
        pthread_mutex_unlock(&state_lock);
        run_tasks(id);
        pthread_mutex_lock(&state_lock);
        if (++job_workers_done == job_workers_wanted)
            pthread_cond_broadcast(&work_done);
    }
    return NULL;
}

static void run_inline(size_t ntasks, vx_task_fn fn, void *ctx)
{
    bool was_inside = inside_task;
    inside_task = true;
    for (size_t t = 0; t < ntasks; t++)
        fn(ctx, t, 0);
    inside_task = was_inside;
}

void vx_parallel_for(size_t ntasks, int nthreads, vx_task_fn fn, void *ctx)
{
    if (ntasks == 0)
        return;
    if (ntasks == 1 || nthreads <= 1 || inside_task || pthread_mutex_trylock(&pool_lock) != 0) {
        run_inline(ntasks, fn, ctx);
        return;
    }
    int want = nthreads - 1;
    if ((size_t)want > ntasks - 1)
        want = (int)(ntasks - 1);

    pthread_mutex_lock(&state_lock);
    while (spawned_workers < want) {
        pthread_t tid;
        int id = spawned_workers + 1;
        if (pthread_create(&tid, NULL, worker_main, (void *)(intptr_t)id) != 0)
            break;
        pthread_detach(tid);
        spawned_workers++;
    }
    if (want > spawned_workers)
        want = spawned_workers;
    job_fn = fn;
    job_ctx = ctx;
    job_ntasks = ntasks;
    atomic_store(&job_next, 0);
    job_workers_wanted = want;
    job_workers_done = 0;
    job_generation++;
    pthread_cond_broadcast(&work_ready);
    pthread_mutex_unlock(&state_lock);

    run_tasks(0);

    /* Every wanted worker checks in exactly once per job, so none can still be
     * reading this job's state (or the caller's ctx) after this wait. */
    pthread_mutex_lock(&state_lock);
    while (job_workers_done < job_workers_wanted)
        pthread_cond_wait(&work_done, &state_lock);
    pthread_mutex_unlock(&state_lock);
    pthread_mutex_unlock(&pool_lock);
}

/* OpenBLAS's own thread count; weak so that any CBLAS works. */
extern void openblas_set_num_threads(int n) __attribute__((weak));

static void set_blas_threads_to_one(void)
{
    if (openblas_set_num_threads)
        openblas_set_num_threads(1);
}

void vx_blas_single_thread(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, set_blas_threads_to_one);
}
