/*
 * fuzz_npy.c - the .npy reader (lib/core/arrayio.c): magic, header dict,
 * dtype, shape and data length all come from the file.  A parsed array must
 * hold exactly dtype size x product(shape) bytes, all readable; conversion
 * to float32 must keep the element count.
 */
#include <string.h>

#include "fuzz.h"
#include "swarm/arrayio.h"
#include "swarm/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        swarm_array_t *a = NULL;
        swarm_err_t err;

        for (int conv = 0; conv < 2; conv++) {
                swarm_err_clear(&err);
                if (swarm_array_parse_npy(data, size, "fuzz.npy", conv, &a, &err)) {
                        FUZZ_ASSERT(err.code != SWARM_OK && err.msg[0] && !a);
                        continue;
                }
                {
                        size_t want = swarm_dtype_size(a->dtype), n = 1;
                        volatile uint8_t sink = 0;
                        FUZZ_ASSERT(a->ndim >= 0 && a->ndim <= SWARM_MAX_DIMS);
                        for (int d = 0; d < a->ndim; d++) {
                                FUZZ_ASSERT(a->shape[d] >= 0);
                                n *= (size_t)a->shape[d];
                        }
                        FUZZ_ASSERT(want * n == a->size);
                        for (size_t i = 0; i < a->size; i++)
                                sink ^= ((const uint8_t *)a->data)[i];
                        (void)sink;
                        /* converted at load: float32, the same count */
                        FUZZ_ASSERT(!conv || (a->dtype == SWARM_DTYPE_FLOAT32 &&
                                              a->size == 4 * n));
                        (void)swarm_array_rows(a);
                        (void)swarm_array_row_bytes(a);
                }
                swarm_array_destroy(a);
                a = NULL;
        }
        return 0;
}
