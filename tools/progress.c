/* Progress bars on stderr (see progress.h). */
#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static int enabled;

void progress_init(int quiet)
{
    enabled = !quiet && isatty(STDERR_FILENO);
}

int progress_enabled(void)
{
    return enabled;
}

struct progress {
    char what[64];
    size_t total;
    double start, last_draw;
    pthread_t ticker;
    pthread_mutex_t lock;
    int stop, has_ticker;
};

static void draw(progress *p, size_t done)
{
    double el = timing_now() - p->start;
    if (p->total == 0) {
        static const char spin[] = "|/-\\";
        fprintf(stderr, "\r%s %c %.1f s\033[K", p->what, spin[(int)(el * 4) % 4], el);
    } else {
        enum { W = 30 };
        double f = done > p->total ? 1.0 : (double)done / (double)p->total;
        char bar[W + 1];
        int full = (int)(f * W);
        memset(bar, '#', (size_t)full);
        memset(bar + full, '.', (size_t)(W - full));
        bar[W] = 0;
        fprintf(stderr, "\r%s [%s] %3d%% %.1f s\033[K", p->what, bar, (int)(f * 100), el);
    }
    fflush(stderr);
}

static void *tick(void *arg)
{
    progress *p = arg;
    for (;;) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&p->lock);
        int stop = p->stop;
        if (!stop)
            draw(p, 0);
        pthread_mutex_unlock(&p->lock);
        if (stop)
            return NULL;
    }
}

progress *progress_begin(const char *what, size_t total)
{
    if (!enabled)
        return NULL;
    progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->what, sizeof p->what, "%s", what);
    p->total = total;
    p->start = timing_now();
    pthread_mutex_init(&p->lock, NULL);
    draw(p, 0);
    if (total == 0 && pthread_create(&p->ticker, NULL, tick, p) == 0)
        p->has_ticker = 1;
    return p;
}

void progress_update(progress *p, size_t done)
{
    if (!p)
        return;
    double now = timing_now();
    if (now - p->last_draw < 0.1 && done < p->total)
        return;
    p->last_draw = now;
    pthread_mutex_lock(&p->lock);
    draw(p, done);
    pthread_mutex_unlock(&p->lock);
}

void progress_end(progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_mutex_unlock(&p->lock);
    if (p->has_ticker)
        pthread_join(p->ticker, NULL);
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
