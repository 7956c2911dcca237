/* Replays a fuzz target's corpus as an ordinary test: every file in the folder
 * (argv[1], default the target's fuzz/corpus/<name>/, set by CMake) goes
 * through the target's LLVMFuzzerTestOneInput once. Built with the C tests as
 * test_fuzz_<name>, so the seeds and every crash ever found (crash-* files)
 * run in `make test`, under ASan/UBSan and under valgrind, without clang. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (n < 0 || got != (size_t)n) {
        free(buf);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : VINDEX_FUZZ_CORPUS;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return 1;
    }
    int files = 0, bad = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (replay(path) != 0) {
            fprintf(stderr, "replay: cannot read %s\n", path);
            bad++;
        }
        files++;
    }
    closedir(d);
    printf("replayed %d files from %s\n", files, dir);
    return files == 0 || bad ? 1 : 0;
}
