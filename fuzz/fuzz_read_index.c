/* libFuzzer target: the index file reader (vindex_deserialize, the same code as
 * vindex_read). Any input must give an index or a clear error, never a crash,
 * a hang or an allocation larger than the input justifies (fuzz-smoke runs
 * with a malloc limit). An index that loads must also survive what a user does
 * next: search, range search, reconstruct, naming it and writing it back.
 *
 * Each input is read twice: as it is (the checksums catch nearly every
 * mutation) and with its size field and checksums recomputed (docs/FORMAT.md),
 * so that mutations reach the families' section parsers behind them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vindex.h"

enum { HEADER = 64, ENTRY = 32 };

static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t crc(const uint8_t *p, size_t n) { return (uint32_t)crc32(0L, p, (uInt)n); }

/* Makes the size field and every checksum of a file in p agree with its bytes. */
static void fix_checksums(uint8_t *p, size_t len)
{
    if (len < HEADER)
        return;
    put64(p + 16, len);
    uint64_t count = get32(p + 32);
    if (count > (len - HEADER) / ENTRY)
        count = (len - HEADER) / ENTRY;
    for (uint64_t i = 0; i < count; i++) {
        uint8_t *e = p + HEADER + i * ENTRY;
        uint64_t off = get64(e + 8), n = get64(e + 16);
        if (off <= len && n <= len - off)
            put32(e + 24, crc(p + off, (size_t)n));
    }
    put32(p + 40, crc(p + HEADER, (size_t)count * ENTRY));
    put32(p + 60, crc(p, 60));
}

enum { NQ = 2, K = 4, MAX_D = 1 << 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(vindex *ix);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vindex *ix;
    if (vindex_deserialize(&ix, data, size) == VINDEX_OK)
        exercise(ix);
    uint8_t *fixed = malloc(size ? size : 1);
    memcpy(fixed, data, size);
    fix_checksums(fixed, size);
    if (vindex_deserialize(&ix, fixed, size) == VINDEX_OK)
        exercise(ix);
    free(fixed);
    return 0;
}

static void exercise(vindex *ix)
{
    int d = vindex_d(ix);
    if (d > 0 && d <= MAX_D) {
        float *q = calloc((size_t)d * NQ, sizeof *q);
        for (int i = 0; i < d; i++)
            q[d + i] = (float)(i % 7) * 0.25f; /* query 0 is the origin */
        float dist[NQ * K];
        vindex_id lab[NQ * K];
        (void)vindex_search(ix, NQ, q, K, NULL, dist, lab);
        vindex_range_result *res = NULL;
        if (vindex_range_search(ix, NQ, q, 1.0f, NULL, &res) == VINDEX_OK)
            vindex_range_result_free(res);
        float *rec = calloc((size_t)d, sizeof *rec);
        (void)vindex_reconstruct(ix, 0, rec);
        free(rec);
        free(q);
    }
    char name[256];
    (void)vindex_reverse_factory(ix, name, sizeof name);
    void *buf;
    size_t len;
    if (vindex_serialize(ix, &buf, &len) == VINDEX_OK) {
        /* what was read writes back to a file that reads again */
        vindex *again;
        if (vindex_deserialize(&again, buf, len) != VINDEX_OK)
            abort();
        vindex_free(again);
        vindex_buffer_free(buf);
    }
    vindex_free(ix);
}
