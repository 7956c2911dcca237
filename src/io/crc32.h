/*
 * CRC-32 of the index file format: zlib's CRC (the gzip polynomial,
 * reflected), computed by carry-less multiplication (PCLMULQDQ) where the CPU
 * has it, about 6x zlib's speed, so that verifying a mapped index's checksums
 * costs milliseconds rather than the time to read it; zlib's crc32 otherwise
 * and for the last bytes. Same values as zlib's crc32 for any input.
 */
#ifndef VX_IO_CRC32_H
#define VX_IO_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* As zlib's crc32(crc, p, n), for any n. */
uint32_t vx_crc32(uint32_t crc, const void *p, size_t n);

/* zlib's crc32 alone (for tests comparing the two). */
uint32_t vx_crc32_zlib(uint32_t crc, const void *p, size_t n);

#endif
