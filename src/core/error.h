/* Errors and logging: a thread-local last-error message, set where a failure is
 * detected and returned up unchanged, plus the optional log callback. */
#ifndef VX_ERROR_H
#define VX_ERROR_H

#include "vindex.h"

#if defined(__GNUC__)
#define VX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VX_PRINTF(a, b)
#endif

/* Records the message for vindex_last_error() and returns `status`, so that
 * failure sites read `return vx_fail(VINDEX_ERR_DIM, "...", ...);`. */
vindex_status vx_fail(vindex_status status, const char *fmt, ...) VX_PRINTF(2, 3);

/* Clears the calling thread's last error (done on entry to public calls). */
void vx_clear_error(void);

/* Sends a message to the user's log callback, if any. */
void vx_log(int level, const char *fmt, ...) VX_PRINTF(2, 3);

#endif
