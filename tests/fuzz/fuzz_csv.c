/*
 * fuzz_csv.c - the CSV reader (lib/core/arrayio.c, float32 [rows, cols]).
 * It reads files only, so each input is written to an anonymous memory
 * file and read back through /proc/self/fd.  A parsed array is 2-D with
 * rows x cols x 4 bytes, every value finite or not, all readable.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "swarm/arrayio.h"

static int fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        swarm_array_load_opts_t o = {.format = SWARM_ARRAY_CSV};
        swarm_array_t *a = NULL;
        swarm_err_t err;
        char path[64];

        if (fd < 0 && (fd = memfd_create("fuzz.csv", 0)) < 0)
                abort();
        if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
                abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        swarm_err_clear(&err);
        if (swarm_array_load(path, &o, &a, &err)) {
                FUZZ_ASSERT(err.code != SWARM_OK && err.msg[0] && !a);
                return 0;
        }
        FUZZ_ASSERT(a->dtype == SWARM_DTYPE_FLOAT32);
        FUZZ_ASSERT(a->ndim == 2 && a->shape[0] >= 0 && a->shape[1] >= 0);
        FUZZ_ASSERT((size_t)a->shape[0] * (size_t)a->shape[1] * 4 == a->size);
        {
                volatile float sink = 0;
                const float *f = a->data;
                for (size_t i = 0; i < a->size / 4; i++)
                        sink += f[i];
                (void)sink;
        }
        swarm_array_destroy(a);
        return 0;
}
