/* libFuzzer target: the factory-string parser. Any string must give an index
 * or a clear error, never a crash; an index it builds must name itself
 * (vindex_reverse_factory) with a string the parser accepts again and that
 * names the same thing.
 *
 * Strings with a number above 256 are skipped: they are legitimate (RR4096,
 * IVF65536) but take seconds or gigabytes to build, and the parser reads them
 * the same way as small ones (test_factory checks the huge and overflowing
 * ones). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vindex.h"

enum { D = 32, MAX_SPEC = 128 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_big_number(const char *s)
{
    unsigned long v = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            v = v * 10 + (unsigned long)(*s - '0');
            if (v > 256)
                return true;
        } else
            v = 0;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > MAX_SPEC)
        return 0;
    /* The first byte picks the metric, the rest is the string. */
    vindex_metric metric = data[0] & 1 ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
    char spec[MAX_SPEC];
    memcpy(spec, data + 1, size - 1);
    spec[size - 1] = '\0';
    if (has_big_number(spec))
        return 0;
    vindex *ix;
    if (vindex_factory(&ix, D, spec, metric) != VINDEX_OK)
        return 0;
    char name[256], name2[256];
    if (vindex_reverse_factory(ix, name, sizeof name) == VINDEX_OK) {
        vindex *again;
        if (vindex_factory(&again, D, name, metric) != VINDEX_OK)
            abort(); /* the parser refuses the name it gave */
        if (vindex_reverse_factory(again, name2, sizeof name2) != VINDEX_OK ||
            strcmp(name, name2) != 0)
            abort(); /* the name does not survive a round trip */
        vindex_free(again);
    }
    vindex_free(ix);
    return 0;
}
