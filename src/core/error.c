#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

static vindex_log_fn log_fn;
static void *log_user_data;

vindex_status vx_fail(vindex_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void vx_clear_error(void) { last_error[0] = '\0'; }

VINDEX_API const char *vindex_last_error(void) { return last_error; }

VINDEX_API const char *vindex_status_string(vindex_status status)
{
    switch (status) {
    case VINDEX_OK: return "ok";
    case VINDEX_ERR_NOMEM: return "out of memory";
    case VINDEX_ERR_INVALID: return "invalid argument";
    case VINDEX_ERR_NOT_TRAINED: return "index not trained";
    case VINDEX_ERR_DIM: return "dimension mismatch";
    case VINDEX_ERR_UNSUPPORTED: return "unsupported operation";
    case VINDEX_ERR_IO: return "i/o error";
    case VINDEX_ERR_CORRUPT: return "corrupt data";
    case VINDEX_ERR_NOT_FOUND: return "not found";
    }
    return "unknown status";
}

VINDEX_API void vindex_set_log_callback(vindex_log_fn fn, void *user_data)
{
    log_fn = fn;
    log_user_data = user_data;
}

void vx_log(int level, const char *fmt, ...)
{
    vindex_log_fn fn = log_fn;
    if (!fn)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(level, msg, log_user_data);
}

VINDEX_API const char *vindex_version(void) { return VINDEX_VERSION_STRING; }
