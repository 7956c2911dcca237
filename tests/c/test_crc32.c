/* The file format's CRC-32 (src/io/crc32.c): the folding path gives zlib's
 * values for every length and alignment, and across calls. */
#include "testutil.h"

#include <stdlib.h>

#include "io/crc32.h"

static void equals_zlib(void **state)
{
    (void)state;
    enum { N = 70000 };
    unsigned char *b = malloc(N + 16);
    uint64_t seed = 3;
    for (size_t i = 0; i < N + 16; i++)
        b[i] = (unsigned char)(tu_rand_next(&seed) >> 24);
    for (size_t off = 0; off < 16; off += 5)
        for (size_t n = 0; n < 700; n++) {
            uint32_t start = (uint32_t)(n * 2654435761u);
            assert_int_equal(vx_crc32(start, b + off, n), vx_crc32_zlib(start, b + off, n));
        }
    assert_int_equal(vx_crc32(0, b, N), vx_crc32_zlib(0, b, N));
    /* in pieces, as a file is checked section by section */
    uint32_t c = 0;
    for (size_t at = 0; at < N; at += 999)
        c = vx_crc32(c, b + at, at + 999 <= N ? 999 : N - at);
    assert_int_equal(c, vx_crc32_zlib(0, b, N));
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(equals_zlib)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
