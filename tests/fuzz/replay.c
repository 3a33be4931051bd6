/*
 * replay.c - main() for a fuzz target built without libFuzzer: runs
 * LLVMFuzzerTestOneInput over every file named on the command line or found
 * in the folders named there (not recursive), so the committed corpus and
 * the recorded crashes are regression tests in the ordinary gcc build and
 * under ASan/UBSan.  Exits 1 when a folder or file cannot be read, or when
 * no input was found (a test that replays nothing must not pass).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void)argc;
        (void)argv;
        return 0;
}

/* Custom mutators call libFuzzer's byte mutator; a replayer never mutates. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) {
        (void)data;
        (void)max_size;
        return size;
}

static int run_file(const char *path) {
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        long n;

        if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
                fprintf(stderr, "replay: cannot read %s\n", path);
                if (f)
                        fclose(f);
                return -1;
        }
        /* an exact-size heap copy, as libFuzzer gives: ASan sees overreads */
        buf = malloc(n ? (size_t)n : 1);
        if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
                fprintf(stderr, "replay: cannot read %s\n", path);
                fclose(f);
                free(buf);
                return -1;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
        return 0;
}

int main(int argc, char **argv) {
        int files = 0;

        LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++) {
                struct stat st;
                DIR *d;
                struct dirent *de;

                if (stat(argv[i], &st)) {
                        fprintf(stderr, "replay: %s: not found\n", argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (run_file(argv[i]))
                                return 1;
                        files++;
                        continue;
                }
                if (!(d = opendir(argv[i])))
                        return 1;
                while ((de = readdir(d))) {
                        char path[4096];
                        if (de->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                        if (stat(path, &st) || !S_ISREG(st.st_mode))
                                continue;
                        if (run_file(path)) {
                                closedir(d);
                                return 1;
                        }
                        files++;
                }
                closedir(d);
        }
        if (!files) {
                fprintf(stderr, "replay: no inputs\n");
                return 1;
        }
        printf("replayed %d inputs\n", files);
        return 0;
}
