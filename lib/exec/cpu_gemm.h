/*
 * cpu_gemm.h - the CPU backend's own single-precision GEMM for constant
 * operands: the constant side (a layer's weights) is packed once, at load,
 * into the panel layout the micro-kernels read, and each run packs only the
 * other side, straight from its matrix or, for a convolution, straight from
 * the input image (implicit im2col: no columns matrix).  Not a public
 * header: backend_cpu.c wraps it into the backend's gemm_pack /
 * gemm_packed / conv_packed entries, tests/exec/test_gemm.c drives it
 * directly to force each micro-kernel.
 *
 * Why not OpenBLAS for these: 0.3.21 has no packed-operand API, so every
 * call re-packs the weights, and its default kernel set on the test
 * machine is AVX2 (see bench/exec/README.md).  OpenBLAS stays the path for
 * products of two run-time operands.
 */
#ifndef SWARM_EXEC_CPU_GEMM_H
#define SWARM_EXEC_CPU_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/backend.h"
#include "swarm/err.h"

/* Micro-kernel families, picked at run time (__builtin_cpu_supports). */
typedef enum cpu_isa {
        CPU_ISA_C = 0,          /* portable C, 4 x 16 */
        CPU_ISA_AVX2,           /* AVX2 + FMA, 6 x 16 */
        CPU_ISA_AVX512,         /* AVX-512F, 8 x 32 (and the direct conv) */
        CPU_ISA_COUNT
} cpu_isa_t;

/* The widest family this CPU runs. */
cpu_isa_t cpu_gemm_best_isa(void);
/* Non-zero when this CPU (and this build) can run `isa`. */
int cpu_gemm_isa_ok(cpu_isa_t isa);
/* The register tile of isa's kernel: *mr rows of op(A) by *nr columns of
 * op(B) (8 x 32 AVX-512, 6 x 16 AVX2, 4 x 16 C). */
void cpu_gemm_tile(cpu_isa_t isa, int *mr, int *nr);
/* The same for the kernels written for C and AVX-512 only (cpu_wino.c,
 * cpu_sconv.c): 0 for AVX2, which they have no set for. */
int cpu_gemm_c512_ok(cpu_isa_t isa);

/* A constant operand in panel layout.  side 0: op(A), `rows` = M, split in
 * slivers of the kernel's MR rows; side 1: op(B), `rows` = N, slivers of NR
 * columns.  Each sliver holds k * width floats, k-major (zero padded past
 * `rows`); `groups` independent matrices (a grouped convolution's
 * filters) follow one another. */
typedef struct cpu_packed {
        cpu_isa_t isa;
        int side;
        int64_t groups, rows, k;
        int64_t group_floats;   /* floats per group */
        size_t bytes;           /* of the whole allocation */
        float *data;            /* 64-byte aligned */
} cpu_packed_t;

/* Pack `groups` matrices for `isa`.  side 0: element (i, p) of op(A) is
 * src[i * ld + p] (trans 0) or src[p * ld + i] (trans 1), group g starting
 * g * rows * ld floats later (trans 0 only when groups > 1); side 1:
 * element (p, j) of op(B) is src[p * ld + j] (trans 0) or src[j * ld + p]
 * (trans 1), groups must be 1.  Sizes come from model files: checked, an
 * overflow fails with SWARM_ERR_INVALID.  *out is freed with
 * cpu_gemm_pack_free (which accepts NULL). */
int cpu_gemm_pack(cpu_isa_t isa, int side, int trans, int64_t groups,
                  int64_t rows, int64_t k, const float *src, int64_t ld,
                  cpu_packed_t **out, swarm_err_t *err);
void cpu_gemm_pack_free(cpu_packed_t *p);

/* One product C = act(alpha * op(A) op(B) + beta * bias), split into parts
 * by cpu_gemm_part.  Exactly one of pa / a and one of pb / b / x (the
 * image) is set; a packed operand fixes the ISA.  Prepare with
 * cpu_gemm_job_gemm or cpu_gemm_job_conv, give it a workspace of
 * cpu_gemm_ws_floats(job, parts) floats, run the parts, free the
 * workspace. */
typedef struct cpu_gemm_job {
        cpu_isa_t isa;
        int64_t m, n, k;
        float alpha, beta;
        /* A: packed, or element (i, p) = a[i * a_rs + p * a_ks]; with
         * a_blk_rows > 0, row i is row i % a_blk_rows of block
         * i / a_blk_rows, which starts a_blk_off floats after the previous
         * one (swarm_gemm_t.a_blk_rows), and with a_scale its element
         * (i, p) is taken times a_scale[i / a_blk_rows * k + p] */
        const cpu_packed_t *pa;
        const float *a, *a_scale;
        int64_t a_rs, a_ks, a_blk_rows, a_blk_off;
        /* B: packed, element (p, j) = b[p * b_ks + j * b_cs], or the image
         * x of a convolution (win, x_img: floats per image; x_grp: floats
         * per channel group) */
        const cpu_packed_t *pb;
        const float *b;
        int64_t b_ks, b_cs;
        const float *x;
        swarm_window_t win;
        int64_t x_img, x_grp;
        /* C(i, j) = c[(j / plane) * c_img + j % plane + i * ldc]: plane = n
         * for a plain matrix; a convolution's columns are (image, pixel)
         * with plane = oh * ow, and groups are `groups` bands of m rows
         * (group g's rows start g * m * ldc later). */
        float *c;
        int64_t ldc, plane, c_img;
        int64_t groups;
        /* Epilogue (backend.h): bias broadcast by bias_mode; for a
         * convolution SWARM_BIAS_COL over all groups' rows. */
        const float *bias;
        swarm_bias_t bias_mode;
        swarm_act_t act;
        float act_alpha, act_beta;
        /* Direct convolution (AVX-512 and AVX2; groups: each group's
         * filters over its channels): B is never packed; each
         * part copies an image, zero padded, into hp x wp planes (stride
         * 1: one per channel; stride sh x sw: the padded plane's sh * sw
         * phases, each ceil(H / sh) x ceil(W / sw)), and the kernel reads
         * tap p of column v at planes + v + off[p] ("virtual" columns
         * v = oy * wp + ox, those with ox >= ow computed and dropped).
         * n counts virtual columns then: vplane = oh * wp per image. */
        int direct;
        int64_t hp, wp, vplane;
        int64_t dir_ws;         /* floats of a direct part's workspace */
        /* Set by cpu_gemm_part's caller: per-part workspace. */
        float *ws;
        int64_t ws_part;
        int split_m;            /* parts split rows (else columns) */
        /* direct, grouped: parts split the groups instead (each pads only
         * its groups' channels); g0 .. g1 - 1 the groups a part runs, set
         * in its copy of the job (0 .. groups otherwise) */
        int split_g;
        int64_t g0, g1;
} cpu_gemm_job_t;

/* Fill *j for backend.h's gemm_packed (one of a / b packed, the other
 * taken from g) or conv_packed (filters p, image x); no workspace yet.
 * A mismatch between the packed operand and the call fails with
 * SWARM_ERR_BACKEND.  j->m or j->n may come out 0: nothing to run. */
int cpu_gemm_job_gemm(cpu_gemm_job_t *j, const swarm_gemm_t *g,
                      const cpu_packed_t *a, const cpu_packed_t *b,
                      swarm_err_t *err);
int cpu_gemm_job_conv(cpu_gemm_job_t *j, const swarm_window_t *w,
                      int64_t imgs, int64_t group, int64_t cout,
                      const cpu_packed_t *p, const float *x,
                      const float *bias, swarm_act_t act, float alpha,
                      float beta, float *y, swarm_err_t *err);
/* Floats of workspace one part needs (0 when none). */
int64_t cpu_gemm_ws_floats(const cpu_gemm_job_t *j);
/* Run part `part` of `parts` (a par_fn_t of backend_cpu.c): a band of
 * columns (or rows when split_m) of C. */
void cpu_gemm_part(void *job, int part, int parts);
/* Output width from which this CPU's conv jobs take the direct path for
 * stride-1 group-1 windows (not 1x1); 0 when it has none (no AVX-512). */
int64_t cpu_gemm_direct_min_ow(void);
int64_t cpu_gemm_direct_grouped_min_ow(void);
/* The largest stride, and channel phases (channels x sh x sw), of the
 * strided windows those jobs take the direct path for; 0 when none. */
int64_t cpu_gemm_direct_max_stride(void);
int64_t cpu_gemm_direct_max_phases(void);
/* Pick split_m for `parts` parts; returns how many parts have work. */
int cpu_gemm_plan_parts(cpu_gemm_job_t *j, int parts);

#endif
