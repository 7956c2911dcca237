/*
 * Progress bars on stderr for the command-line tool's long work (training,
 * adding, ground truth). They draw only when stderr is a terminal and the tool
 * is not quiet; otherwise every call is a no-op, so output piped to a file or
 * a test stays clean.
 */
#ifndef VX_TOOLS_PROGRESS_H
#define VX_TOOLS_PROGRESS_H

#include <stddef.h>

/* Globally off (--quiet, or stderr not a terminal): decided once by
 * progress_init(quiet). */
void progress_init(int quiet);
int progress_enabled(void);

typedef struct progress progress;

/* A bar for `total` units of work labelled `what`; total 0 draws a spinner with
 * the elapsed time (for one long library call such as train), redrawn by a
 * background thread. Returns NULL when progress is off (the other calls accept
 * NULL). */
progress *progress_begin(const char *what, size_t total);
void progress_update(progress *p, size_t done);
/* Erases the bar and frees p. */
void progress_end(progress *p);

#endif
