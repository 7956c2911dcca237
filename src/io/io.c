/*
 * The public persistence functions: files (atomic replacement on write; a
 * mapping on read, kept alive by the indexes that use it in place) and byte
 * buffers. The format itself is in format.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../index/index.h"
#include "format.h"

static vindex_status build(const vindex *ix, const char *op, vx_writer **out)
{
    *out = NULL;
    if (!ix)
        return vx_fail(VINDEX_ERR_INVALID, "%s: index is NULL", op);
    vx_writer *w = vx_writer_new();
    if (!w)
        return VINDEX_ERR_NOMEM;
    vindex_status st = vx_io_write_index(w, ix);
    if (st) {
        vx_writer_free(w);
        return st;
    }
    *out = w;
    return VINDEX_OK;
}

/* ---- writing a file ------------------------------------------------------ */

/* fsync of the directory holding path, so that the rename is durable. */
static vindex_status sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = vx_strdup(".");
    else if (slash == path)
        dir = vx_strdup("/");
    else
        dir = vx_strndup(path, (size_t)(slash - path));
    if (!dir)
        return vx_fail(VINDEX_ERR_NOMEM, "write: out of memory");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    vindex_status st = VINDEX_OK;
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL && errno != EROFS))
        st = vx_fail(VINDEX_ERR_IO, "write: syncing directory %s: %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    vx_free(dir);
    return st;
}

static vindex_status write_unlocked(const vindex *ix, const char *path)
{
    vx_clear_error();
    if (!path)
        return vx_fail(VINDEX_ERR_INVALID, "write: path is NULL");
    vx_writer *w;
    vindex_status st = build(ix, "write", &w);
    if (st)
        return st;
    static atomic_uint counter;
    size_t plen = strlen(path);
    char *tmp = vx_alloc(plen + 64, 1);
    if (!tmp) {
        vx_writer_free(w);
        return vx_fail(VINDEX_ERR_NOMEM, "write: out of memory");
    }
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, plen + 64, "%s.tmp.%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&counter, 1));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        st = vx_fail(VINDEX_ERR_IO, "write: cannot create a temporary file beside %s: %s", path,
                     strerror(errno));
        goto done;
    }
    st = vx_writer_emit_fd(w, fd, path);
    if (!st && fsync(fd) != 0)
        st = vx_fail(VINDEX_ERR_IO, "write: fsync of %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !st)
        st = vx_fail(VINDEX_ERR_IO, "write: closing %s: %s", tmp, strerror(errno));
    if (!st && rename(tmp, path) != 0)
        st = vx_fail(VINDEX_ERR_IO, "write: renaming %s to %s: %s", tmp, path, strerror(errno));
    if (st)
        unlink(tmp);
    else
        st = sync_dir(path);
done:
    vx_free(tmp);
    vx_writer_free(w);
    return st;
}

/* ---- reading a file ------------------------------------------------------ */

static atomic_size_t read_limit; /* vindex_set_read_limit; 0: none */

VINDEX_API void vindex_set_read_limit(size_t bytes) { atomic_store(&read_limit, bytes); }
VINDEX_API size_t vindex_get_read_limit(void) { return atomic_load(&read_limit); }

static vindex_status read_from(vindex **out, const void *buf, size_t len, vx_mapping *map)
{
    /* Everything this thread allocates for the index counts against the limit
     * (the file's own bytes, read or mapped by the caller, do not). */
    const size_t limit = atomic_load(&read_limit);
    vx_alloc_budget_begin(limit);
    vx_reader *r;
    vindex_status st = vx_reader_open(&r, buf, len, map);
    vindex *ix = NULL;
    if (!st) {
        st = vx_io_read_index(r, &ix);
        if (!st && (st = vx_reader_finish(r))) {
            vindex_free(ix);
            ix = NULL;
        }
        vx_reader_close(r);
    }
    if (vx_alloc_budget_end() && st == VINDEX_ERR_NOMEM) { /* say why, whatever failed */
        char why[256];
        snprintf(why, sizeof why, "%s", vindex_last_error());
        st = vx_fail(VINDEX_ERR_NOMEM,
                     "read: the index needs more memory than the read limit of %zu bytes "
                     "(vindex_set_read_limit) allows (%s)",
                     limit, why);
    }
    *out = ix;
    return st;
}

/* The whole file into memory, for when it cannot be mapped. */
static vindex_status slurp(int fd, size_t size, const char *path, void **out)
{
    uint8_t *buf = vx_alloc_big(size, 1);
    if (!buf)
        return VINDEX_ERR_NOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            vx_free(buf);
            return vx_fail(VINDEX_ERR_IO, "read: %s: %s", path,
                           k < 0 ? strerror(errno) : "the file shrank while being read");
        }
        got += (size_t)k;
    }
    *out = buf;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_read(vindex **out, const char *path, unsigned flags)
{
    vx_clear_error();
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "read: out is NULL");
    *out = NULL;
    if (!path)
        return vx_fail(VINDEX_ERR_INVALID, "read: path is NULL");
    if (flags & ~VINDEX_IO_MMAP)
        return vx_fail(VINDEX_ERR_INVALID, "read: unknown flags 0x%x (VINDEX_IO_MMAP is 0x%x)",
                       flags, VINDEX_IO_MMAP);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vx_fail(VINDEX_ERR_IO, "read: %s: %s", path, strerror(errno));
    struct stat sb;
    vindex_status st = VINDEX_OK;
    if (fstat(fd, &sb) != 0) {
        st = vx_fail(VINDEX_ERR_IO, "read: %s: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        st = vx_fail(VINDEX_ERR_IO, "read: %s is not a regular file", path);
    } else if (sb.st_size == 0) {
        static const uint8_t nothing[1];
        st = read_from(out, nothing, 0, NULL);
    } else {
        size_t size = (size_t)sb.st_size;
        void *addr = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (addr != MAP_FAILED) {
            vx_mapping *m = vx_mapping_new(addr, size);
            if (!m) {
                munmap(addr, size);
                st = VINDEX_ERR_NOMEM;
            } else {
                st = read_from(out, addr, size, (flags & VINDEX_IO_MMAP) ? m : NULL);
                vx_mapping_release(m); /* indexes using it in place hold their own */
            }
        } else if (flags & VINDEX_IO_MMAP) {
            st = vx_fail(VINDEX_ERR_IO, "read: cannot map %s: %s", path, strerror(errno));
        } else {
            void *buf = NULL;
            if (!(st = slurp(fd, size, path, &buf))) {
                st = read_from(out, buf, size, NULL);
                vx_free(buf);
            }
        }
    }
    close(fd);
    return st;
}

/* ---- byte buffers -------------------------------------------------------- */

static vindex_status serialize_unlocked(const vindex *ix, void **buf, size_t *len)
{
    vx_clear_error();
    if (!buf || !len)
        return vx_fail(VINDEX_ERR_INVALID, "serialize: %s is NULL", buf ? "len" : "buf");
    *buf = NULL;
    *len = 0;
    vx_writer *w;
    vindex_status st = build(ix, "serialize", &w);
    if (st)
        return st;
    size_t size = vx_writer_size(w);
    void *out = vx_alloc_big(size, 1);
    if (!out)
        st = vx_fail(VINDEX_ERR_NOMEM, "serialize: out of memory for %zu bytes", size);
    else if ((st = vx_writer_emit_buffer(w, out)))
        vx_free(out);
    else {
        *buf = out;
        *len = size;
    }
    vx_writer_free(w);
    return st;
}

static vindex_status serialize_into_unlocked(const vindex *ix, void *buf, size_t cap, size_t *len)
{
    vx_clear_error();
    if (!len)
        return vx_fail(VINDEX_ERR_INVALID, "serialize: len is NULL");
    *len = 0;
    vx_writer *w;
    vindex_status st = build(ix, "serialize", &w);
    if (st)
        return st;
    size_t size = vx_writer_size(w);
    *len = size;
    if (cap < size || !buf)
        st = vx_fail(VINDEX_ERR_INVALID, "serialize: the index needs %zu bytes, the buffer has "
                     "%zu",
                     size, buf ? cap : 0);
    else
        st = vx_writer_emit_buffer(w, buf);
    vx_writer_free(w);
    return st;
}

VINDEX_API void vindex_buffer_free(void *buf) { vx_free(buf); }

VINDEX_API vindex_status vindex_deserialize(vindex **out, const void *buf, size_t len)
{
    vx_clear_error();
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "deserialize: out is NULL");
    *out = NULL;
    if (!buf && len)
        return vx_fail(VINDEX_ERR_INVALID, "deserialize: buf is NULL");
    static const uint8_t nothing[1];
    return read_from(out, buf ? buf : nothing, len, NULL);
}

/* The public entry points above, under the index lock (index.h). */

VINDEX_API vindex_status vindex_write(const vindex *ix, const char *path)
{
    if (!ix)
        return write_unlocked(ix, path);
    vx_index_lock_shared(ix);
    vindex_status st = write_unlocked(ix, path);
    vx_index_unlock(ix);
    return st;
}

VINDEX_API vindex_status vindex_serialize(const vindex *ix, void **buf, size_t *len)
{
    if (!ix)
        return serialize_unlocked(ix, buf, len);
    vx_index_lock_shared(ix);
    vindex_status st = serialize_unlocked(ix, buf, len);
    vx_index_unlock(ix);
    return st;
}

VINDEX_API vindex_status vindex_serialize_into(const vindex *ix, void *buf, size_t cap,
                                               size_t *len)
{
    if (!ix)
        return serialize_into_unlocked(ix, buf, cap, len);
    vx_index_lock_shared(ix);
    vindex_status st = serialize_into_unlocked(ix, buf, cap, len);
    vx_index_unlock(ix);
    return st;
}
