/*
 * host_ops.c - kernels for tensors of every dtype, run on the host.
 *
 * The backend vtable (backend.h) is FLOAT32 compute plus 4-byte data
 * movement.  Everything else a model computes at run time -- integer and
 * boolean tensors (attention masks, ids, comparisons, Where, Cast), 1-, 2-
 * and 8-byte data movement, and operators no backend kernel exists for --
 * runs here, as plan op OP_HOST.  On a host-memory backend (the CPU one)
 * the kernels read and write the value buffers in place; on a device
 * backend the node's inputs are downloaded, the kernel runs on the host
 * and the output is uploaded (the loader logs that placement once).
 *
 * Elements are read as int64 (integer and bool dtypes) or double (float
 * dtypes) and stored converted to the output dtype, so one loop serves
 * every dtype pair; float32 arithmetic done in double and rounded once
 * gives the float32 result for + - * /.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "bcast.h"

/* ---- element access ---- */

static float half_to_float(uint16_t h) {
        uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f,
                 m = h & 0x3ff, f;
        float r;
        if (e == 0) {
                /* zero or subnormal: m * 2^-24 */
                r = (float)m * 5.9604644775390625e-8f;
                return s ? -r : r;
        }
        if (e == 31)
                f = s | 0x7f800000u | (m << 13);
        else
                f = s | ((e + 112) << 23) | (m << 13);
        memcpy(&r, &f, 4);
        return r;
}

static uint16_t float_to_half(float v) {
        uint32_t f, s, e, m;
        memcpy(&f, &v, 4);
        s = (f >> 16) & 0x8000;
        e = (f >> 23) & 0xff;
        m = f & 0x7fffff;
        if (e == 0xff)
                return (uint16_t)(s | 0x7c00 | (m ? 0x200 : 0));
        if (e > 142)
                return (uint16_t)(s | 0x7c00);          /* overflow: inf */
        if (e < 113) {
                /* subnormal half (or zero): round m | implicit 1 */
                uint32_t sh, mm, r;
                if (e < 102)
                        return (uint16_t)s;
                mm = m | 0x800000;
                sh = 126 - e;
                r = mm >> sh;
                if ((mm >> (sh - 1) & 1) &&
                    ((mm & ((1u << (sh - 1)) - 1)) || (r & 1)))
                        r++;
                return (uint16_t)(s | r);
        }
        {
                uint32_t h = s | ((e - 112) << 10) | (m >> 13);
                uint32_t rest = m & 0x1fff;
                if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
                        h++;    /* may carry into the exponent: correct */
                return (uint16_t)h;
        }
}

static float bf16_to_float(uint16_t h) {
        uint32_t f = (uint32_t)h << 16;
        float r;
        memcpy(&r, &f, 4);
        return r;
}

static uint16_t float_to_bf16(float v) {
        uint32_t f;
        memcpy(&f, &v, 4);
        if ((f & 0x7fffffff) > 0x7f800000)
                return (uint16_t)((f >> 16) | 0x40);
        f += 0x7fff + ((f >> 16) & 1);
        return (uint16_t)(f >> 16);
}

int exec_dtype_is_float(swarm_dtype_t dt) {
        return dt == SWARM_DTYPE_FLOAT32 || dt == SWARM_DTYPE_FLOAT16 ||
               dt == SWARM_DTYPE_BFLOAT16 || dt == SWARM_DTYPE_FLOAT64;
}

static double ldf(const void *p, swarm_dtype_t dt, int64_t i) {
        switch (dt) {
        case SWARM_DTYPE_FLOAT32: return ((const float *)p)[i];
        case SWARM_DTYPE_FLOAT64: return ((const double *)p)[i];
        case SWARM_DTYPE_FLOAT16:
                return half_to_float(((const uint16_t *)p)[i]);
        case SWARM_DTYPE_BFLOAT16:
                return bf16_to_float(((const uint16_t *)p)[i]);
        case SWARM_DTYPE_INT64: return (double)((const int64_t *)p)[i];
        case SWARM_DTYPE_INT32: return ((const int32_t *)p)[i];
        case SWARM_DTYPE_INT8: return ((const int8_t *)p)[i];
        case SWARM_DTYPE_UINT8:
        case SWARM_DTYPE_BOOL: return ((const uint8_t *)p)[i];
        default: return 0;
        }
}

/* Float to int64 without undefined behaviour: truncation toward zero,
 * NaN to 0, saturated at the int64 range. */
static int64_t f2i(double v) {
        if (v != v)
                return 0;
        if (v >= 9.2233720368547758e18)
                return INT64_MAX;
        if (v <= -9.2233720368547758e18)
                return INT64_MIN;
        return (int64_t)v;
}

static int64_t ldi(const void *p, swarm_dtype_t dt, int64_t i) {
        switch (dt) {
        case SWARM_DTYPE_INT64: return ((const int64_t *)p)[i];
        case SWARM_DTYPE_INT32: return ((const int32_t *)p)[i];
        case SWARM_DTYPE_INT8: return ((const int8_t *)p)[i];
        case SWARM_DTYPE_UINT8:
        case SWARM_DTYPE_BOOL: return ((const uint8_t *)p)[i];
        default: return f2i(ldf(p, dt, i));
        }
}

static void sti(void *p, swarm_dtype_t dt, int64_t i, int64_t v);

static void stf(void *p, swarm_dtype_t dt, int64_t i, double v) {
        switch (dt) {
        case SWARM_DTYPE_FLOAT32: ((float *)p)[i] = (float)v; return;
        case SWARM_DTYPE_FLOAT64: ((double *)p)[i] = v; return;
        case SWARM_DTYPE_FLOAT16:
                ((uint16_t *)p)[i] = float_to_half((float)v);
                return;
        case SWARM_DTYPE_BFLOAT16:
                ((uint16_t *)p)[i] = float_to_bf16((float)v);
                return;
        case SWARM_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; return;
        /* integers: saturated to int64, then stored (wrapping) as sti does */
        case SWARM_DTYPE_INT64:
        case SWARM_DTYPE_INT32:
        case SWARM_DTYPE_INT8:
        case SWARM_DTYPE_UINT8: sti(p, dt, i, f2i(v)); return;
        default: return;
        }
}

static void sti(void *p, swarm_dtype_t dt, int64_t i, int64_t v) {
        switch (dt) {
        case SWARM_DTYPE_INT64: ((int64_t *)p)[i] = v; return;
        case SWARM_DTYPE_INT32:
                ((int32_t *)p)[i] = (int32_t)(uint32_t)(uint64_t)v;
                return;
        case SWARM_DTYPE_INT8:
                ((int8_t *)p)[i] = (int8_t)(uint8_t)(uint64_t)v;
                return;
        case SWARM_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)(uint64_t)v; return;
        case SWARM_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; return;
        default: stf(p, dt, i, (double)v); return;
        }
}

/* ---- strided iteration over an output shape ---- */

/* Advance the index of `shape` by one; off[k] += str[k][d] bookkeeping
 * for `nops` operands. */
static void step(int nd, const int64_t *shape, int64_t *idx, int nops,
                 int64_t *off, int64_t (*str)[SWARM_MAX_DIMS]) {
        for (int d = nd - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                        for (int k = 0; k < nops; k++)
                                off[k] += str[k][d];
                        return;
                }
                idx[d] = 0;
                for (int k = 0; k < nops; k++)
                        off[k] -= str[k][d] * (shape[d] - 1);
        }
}

/* Element strides of v broadcast to `nd` output dims (NumPy). */
static void bstr(const xvalue_t *v, int nd, const int64_t *oshape,
                 int64_t *str) {
        exec_bcast_strides(v->cshape, v->ndim, nd, oshape, str);
}

static void cstr(const int64_t *shape, int nd, int64_t *str) {
        int64_t s = 1;
        for (int i = nd - 1; i >= 0; i--) {
                str[i] = s;
                s *= shape[i];
        }
}

/* ---- kernels ---- */

static int64_t imod(int64_t a, int64_t b, int fmod_) {
        int64_t r;
        if (b == 0)
                return 0;
        if (b == -1)
                return 0;
        r = a % b;
        if (!fmod_ && r != 0 && ((r < 0) != (b < 0)))
                r += b;
        return r;
}

static int64_t ipow(int64_t a, int64_t b) {
        uint64_t r = 1, x = (uint64_t)a;
        if (b < 0)
                return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0;
        while (b) {
                if (b & 1)
                        r *= x;
                x *= x;
                b >>= 1;
        }
        return (int64_t)r;
}

static int run_binary(const xnode_t *n, const xvalue_t *a, const xvalue_t *b,
                      const xvalue_t *o, const void *pa, const void *pb,
                      void *po) {
        int64_t str[2][SWARM_MAX_DIMS], off[2] = {0, 0};
        int64_t idx[SWARM_MAX_DIMS] = {0};
        int nd = o->ndim, hop = n->hop;
        /* Integer arithmetic when both operands are integers (exact int64),
         * float arithmetic otherwise. */
        int ints = !exec_dtype_is_float(a->dtype) &&
                   !exec_dtype_is_float(b->dtype);

        bstr(a, nd, o->cshape, str[0]);
        bstr(b, nd, o->cshape, str[1]);
        if (nd >= 1 && a->dtype == SWARM_DTYPE_BOOL &&
            b->dtype == SWARM_DTYPE_BOOL && o->dtype == SWARM_DTYPE_BOOL &&
            (hop == HB_AND || hop == HB_OR || hop == HB_XOR) &&
            o->cshape[nd - 1] > 0) {
                /* Row by row over the last dim: the masks of BERT exports
                 * ([N, 1, S, S] per run) walked element by element were
                 * most of the host time. */
                int64_t len = o->cshape[nd - 1], rows = o->celems / len;
                int64_t s0 = str[0][nd - 1], s1 = str[1][nd - 1];
                uint8_t *y = po;
                for (int64_t r = 0; r < rows; r++) {
                        const uint8_t *ap = (const uint8_t *)pa + off[0];
                        const uint8_t *bp = (const uint8_t *)pb + off[1];
                        for (int64_t j = 0; j < len; j++) {
                                int x = ap[j * s0] != 0, v = bp[j * s1] != 0;
                                y[j] = (uint8_t)(hop == HB_AND ? x & v
                                                 : hop == HB_OR ? x | v
                                                                : x ^ v);
                        }
                        y += len;
                        step(nd - 1, o->cshape, idx, 2, off, str);
                }
                return SWARM_OK;
        }
        for (int64_t i = 0; i < o->celems; i++) {
                if (ints) {
                        int64_t x = ldi(pa, a->dtype, off[0]);
                        int64_t y = ldi(pb, b->dtype, off[1]), r = 0;
                        uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
                        switch (hop) {
                        case HB_ADD: r = (int64_t)(ux + uy); break;
                        case HB_SUB: r = (int64_t)(ux - uy); break;
                        case HB_MUL: r = (int64_t)(ux * uy); break;
                        case HB_DIV:
                                r = y == 0 ? 0 : (x == INT64_MIN && y == -1)
                                    ? INT64_MIN : x / y;
                                break;
                        case HB_POW: r = ipow(x, y); break;
                        case HB_MAX: r = x > y ? x : y; break;
                        case HB_MIN: r = x < y ? x : y; break;
                        case HB_MOD: r = imod(x, y, 0); break;
                        case HB_FMOD: r = imod(x, y, 1); break;
                        case HB_EQ: r = x == y; break;
                        case HB_LT: r = x < y; break;
                        case HB_LE: r = x <= y; break;
                        case HB_GT: r = x > y; break;
                        case HB_GE: r = x >= y; break;
                        case HB_AND: r = x && y; break;
                        case HB_OR: r = x || y; break;
                        case HB_XOR: r = !x != !y; break;
                        case HB_SHL: r = uy >= 64 ? 0 : (int64_t)(ux << uy);
                                break;
                        case HB_SHR: r = uy >= 64 ? 0 : (int64_t)(ux >> uy);
                                break;
                        case HB_PRELU: r = x < 0 ? (int64_t)(ux * uy) : x;
                                break;
                        default: break;
                        }
                        /* unsigned shifts and wrap-around of narrow types:
                         * the store truncates to the output dtype */
                        sti(po, o->dtype, i, r);
                } else {
                        double x = ldf(pa, a->dtype, off[0]);
                        double y = ldf(pb, b->dtype, off[1]), r = 0;
                        int f32 = o->dtype == SWARM_DTYPE_FLOAT32;
                        switch (hop) {
                        case HB_ADD: r = x + y; break;
                        case HB_SUB: r = x - y; break;
                        case HB_MUL: r = x * y; break;
                        case HB_DIV: r = x / y; break;
                        case HB_POW:
                                r = f32 ? powf((float)x, (float)y) : pow(x, y);
                                break;
                        case HB_MAX: r = x != x || y != y ? NAN
                                         : x > y ? x : y; break;
                        case HB_MIN: r = x != x || y != y ? NAN
                                         : x < y ? x : y; break;
                        case HB_MOD: {
                                r = fmod(x, y);
                                if (r != 0 && ((r < 0) != (y < 0)))
                                        r += y;
                                break;
                        }
                        case HB_FMOD: r = fmod(x, y); break;
                        case HB_EQ: r = x == y; break;
                        case HB_LT: r = x < y; break;
                        case HB_LE: r = x <= y; break;
                        case HB_GT: r = x > y; break;
                        case HB_GE: r = x >= y; break;
                        case HB_AND: r = x != 0 && y != 0; break;
                        case HB_OR: r = x != 0 || y != 0; break;
                        case HB_XOR: r = (x != 0) != (y != 0); break;
                        case HB_PRELU: r = x < 0 ? x * y : x; break;
                        default: break;
                        }
                        stf(po, o->dtype, i, r);
                }
                step(nd, o->cshape, idx, 2, off, str);
        }
        return SWARM_OK;
}

static double act_f(int hop, double x, float al, float be) {
        switch (hop) {
        case HU_NEG: return -x;
        case HU_ABS: return fabs(x);
        case HU_SIGN: return x > 0 ? 1 : x < 0 ? -1 : x == 0 ? 0 : x;
        case HU_NOT: return x == 0;
        case HU_ISNAN: return x != x;
        case HU_ISINF:
                return isinf(x) && ((x > 0 && al != 0) || (x < 0 && be != 0));
        case HU_IDENT: return x;
        case HU_HARDSIGMOID: {
                double v = al * x + be;
                return v < 0 ? 0 : v > 1 ? 1 : v;
        }
        case HU_HARDSWISH: {
                double v = x / 6.0 + 0.5;
                return x * (v < 0 ? 0 : v > 1 ? 1 : v);
        }
        case HU_ELU: return x < 0 ? al * (exp(x) - 1) : x;
        case HU_SELU: return be * (x <= 0 ? al * (exp(x) - 1) : x);
        case HU_CELU: return (x > 0 ? x : 0) +
                             fmin(0.0, al * (exp(x / al) - 1));
        case HU_SOFTPLUS: return x > 30 ? x : log1p(exp(x));
        case HU_SOFTSIGN: return x / (1 + fabs(x));
        case HU_MISH: return x * tanh(x > 30 ? x : log1p(exp(x)));
        case HU_THRESHOLDED_RELU: return x > al ? x : 0;
        case HU_SHRINK:
                return x < -al ? x + be : x > al ? x - be : 0;
        case HU_SIN: return sin(x);
        case HU_COS: return cos(x);
        case HU_TAN: return tan(x);
        case HU_ASIN: return asin(x);
        case HU_ACOS: return acos(x);
        case HU_ATAN: return atan(x);
        case HU_SINH: return sinh(x);
        case HU_COSH: return cosh(x);
        case HU_ASINH: return asinh(x);
        case HU_ACOSH: return acosh(x);
        case HU_ATANH: return atanh(x);
        case HU_ROUND: return nearbyint(x);     /* half to even */
        case HU_RELU: return x > 0 ? x : 0;
        case HU_SIGMOID: return 1 / (1 + exp(-x));
        case HU_TANH: return tanh(x);
        case HU_LEAKY: return x < 0 ? al * x : x;
        case HU_CLIP: return x < al ? al : x > be ? be : x;
        case HU_EXP: return exp(x);
        case HU_LOG: return log(x);
        case HU_SQRT: return sqrt(x);
        case HU_RECIP: return 1 / x;
        case HU_FLOOR: return floor(x);
        case HU_CEIL: return ceil(x);
        case HU_ERF: return erf(x);
        default: return x;
        }
}

static int run_unary(const xnode_t *n, const xvalue_t *x, const xvalue_t *o,
                     const void *px, void *po) {
        int ints = !exec_dtype_is_float(x->dtype);
        for (int64_t i = 0; i < o->celems; i++) {
                if (ints && (n->hop == HU_NEG || n->hop == HU_ABS ||
                             n->hop == HU_SIGN || n->hop == HU_IDENT ||
                             n->hop == HU_RELU || n->hop == HU_CLIP)) {
                        int64_t v = ldi(px, x->dtype, i);
                        switch (n->hop) {
                        case HU_NEG: v = (int64_t)(0 - (uint64_t)v); break;
                        case HU_ABS: v = v < 0 ? (int64_t)(0 - (uint64_t)v)
                                               : v; break;
                        case HU_SIGN: v = (v > 0) - (v < 0); break;
                        case HU_RELU: v = v > 0 ? v : 0; break;
                        case HU_CLIP:
                                v = v < n->hi[0] ? n->hi[0]
                                    : v > n->hi[1] ? n->hi[1] : v;
                                break;
                        default: break;
                        }
                        sti(po, o->dtype, i, v);
                        continue;
                }
                stf(po, o->dtype, i,
                    act_f(n->hop, ldf(px, x->dtype, i), n->act_alpha,
                          n->act_beta));
        }
        return SWARM_OK;
}

static int run_where(const xvalue_t *c, const xvalue_t *a, const xvalue_t *b,
                     const xvalue_t *o, const void *pc, const void *pa,
                     const void *pb, void *po) {
        int64_t str[3][SWARM_MAX_DIMS], off[3] = {0, 0, 0};
        int64_t idx[SWARM_MAX_DIMS] = {0};
        size_t es = swarm_dtype_size(o->dtype);
        int nd = o->ndim;

        bstr(c, o->ndim, o->cshape, str[0]);
        bstr(a, o->ndim, o->cshape, str[1]);
        bstr(b, o->ndim, o->cshape, str[2]);
        if (nd >= 1 && es == 4 && o->cshape[nd - 1] > 0) {
                /* Row by row over the last dim, 4-byte elements: the
                 * attention masks of BERT exports are [N, 1, S, S] of
                 * these, per run (the per-element walk was 20 ns each). */
                int64_t n = o->cshape[nd - 1], rows = o->celems / n;
                int64_t s0 = str[0][nd - 1], s1 = str[1][nd - 1];
                int64_t s2 = str[2][nd - 1];
                uint32_t *y = po;
                for (int64_t r = 0; r < rows; r++) {
                        const uint8_t *cp = (const uint8_t *)pc + off[0];
                        const uint32_t *ap = (const uint32_t *)pa + off[1];
                        const uint32_t *bp = (const uint32_t *)pb + off[2];
                        for (int64_t j = 0; j < n; j++)
                                y[j] = cp[j * s0] ? ap[j * s1] : bp[j * s2];
                        y += n;
                        step(nd - 1, o->cshape, idx, 3, off, str);
                }
                return SWARM_OK;
        }
        for (int64_t i = 0; i < o->celems; i++) {
                int t = ((const uint8_t *)pc)[off[0]] != 0;
                memcpy((char *)po + (size_t)i * es,
                       t ? (const char *)pa + (size_t)off[1] * es
                         : (const char *)pb + (size_t)off[2] * es, es);
                step(o->ndim, o->cshape, idx, 3, off, str);
        }
        return SWARM_OK;
}

/* y[sum i_d * ys_d] = x[xoff + sum i_d * xs_d], elements of es bytes. */
static void strided(int nd, const int64_t *shape, const void *x,
                    int64_t xoff, const int64_t *xs, void *y, int64_t yoff,
                    const int64_t *ys, size_t es) {
        int64_t str[2][SWARM_MAX_DIMS], off[2] = {xoff, yoff};
        int64_t idx[SWARM_MAX_DIMS] = {0}, total = 1;
        for (int d = 0; d < nd; d++) {
                str[0][d] = xs[d];
                str[1][d] = ys[d];
                total *= shape[d];
        }
        if (nd >= 1 && (es == 1 || es == 4) && shape[nd - 1] > 0) {
                /* Row by row over the last dim (Expand of a mask). */
                int64_t n = shape[nd - 1], rows = total / n;
                int64_t sx = xs[nd - 1], sy = ys[nd - 1];
                for (int64_t r = 0; r < rows; r++) {
                        if (es == 1) {
                                const uint8_t *xp = (const uint8_t *)x +
                                                    off[0];
                                uint8_t *yp = (uint8_t *)y + off[1];
                                for (int64_t j = 0; j < n; j++)
                                        yp[j * sy] = xp[j * sx];
                        } else {
                                const uint32_t *xp = (const uint32_t *)x +
                                                     off[0];
                                uint32_t *yp = (uint32_t *)y + off[1];
                                for (int64_t j = 0; j < n; j++)
                                        yp[j * sy] = xp[j * sx];
                        }
                        step(nd - 1, shape, idx, 2, off, str);
                }
                return;
        }
        for (int64_t i = 0; i < total; i++) {
                memcpy((char *)y + (size_t)off[1] * es,
                       (const char *)x + (size_t)off[0] * es, es);
                step(nd, shape, idx, 2, off, str);
        }
}

static int bad_index(swarm_err_t *err, int64_t k, int64_t n) {
        return swarm_err_set(err, SWARM_ERR_INVALID,
                             "index %lld out of range [-%lld, %lld)",
                             (long long)k, (long long)n, (long long)n);
}

/* Advance the row-major multi-index idx over shape (nd dims) by one
 * element: the odometer every element-by-element host kernel walks. */
static inline void index_next(int64_t *idx, const int64_t *shape, int nd) {
        for (int d = nd - 1; d >= 0; d--) {
                if (++idx[d] < shape[d])
                        return;
                idx[d] = 0;
        }
}

/* Gather of any element size: y[o, i, j] = x[o, idx[i], j]. */
static int run_gather(const xnode_t *n, const xvalue_t *x,
                      const xvalue_t *ix, const xvalue_t *o, const void *px,
                      const void *pi, void *po, swarm_err_t *err) {
        int64_t outer = 1, inner = 1, an = x->cshape[n->axis];
        size_t es = swarm_dtype_size(x->dtype);
        (void)o;
        for (int d = 0; d < x->ndim; d++) {
                if (d < n->axis)
                        outer *= x->cshape[d];
                else if (d > n->axis)
                        inner *= x->cshape[d];
        }
        for (int64_t a = 0; a < outer; a++)
                for (int64_t i = 0; i < ix->celems; i++) {
                        int64_t k = ldi(pi, ix->dtype, i);
                        if (k < -an || k >= an)
                                return bad_index(err, k, an);
                        if (k < 0)
                                k += an;
                        memcpy((char *)po + (size_t)((a * ix->celems + i) *
                                                     inner) * es,
                               (const char *)px + (size_t)((a * an + k) *
                                                           inner) * es,
                               (size_t)inner * es);
                }
        return SWARM_OK;
}

/* GatherElements / ScatterElements: the flat offset in x (strides xs) of
 * index element i, at position idx of the indices: idx with the axis
 * coordinate replaced by the index's value, checked against the axis
 * length an. */
static int elem_off(const xnode_t *n, const xvalue_t *ix, const void *pi,
                    int64_t i, const int64_t *idx, const int64_t *xs,
                    int64_t an, int64_t *off, swarm_err_t *err) {
        int64_t k = ldi(pi, ix->dtype, i);
        if (k < -an || k >= an)
                return bad_index(err, k, an);
        if (k < 0)
                k += an;
        *off = 0;
        for (int d = 0; d < ix->ndim; d++)
                *off += (d == n->axis ? k : idx[d]) * xs[d];
        return SWARM_OK;
}

/* GatherElements (up NULL): out[i] = x[..k..].  ScatterElements: out = x,
 * then out[..k..] (op)= upd[i].  The two walk the indices alike. */
static int run_elements(const xnode_t *n, const xvalue_t *x,
                        const xvalue_t *ix, const xvalue_t *up,
                        const void *px, const void *pi, const void *pu,
                        void *po, swarm_err_t *err) {
        int64_t xs[SWARM_MAX_DIMS], idx[SWARM_MAX_DIMS] = {0};
        int64_t an = x->cshape[n->axis];
        size_t es = swarm_dtype_size(x->dtype);
        if (up)
                memcpy(po, px, (size_t)x->celems * es);
        cstr(x->cshape, x->ndim, xs);
        for (int64_t i = 0; i < ix->celems; i++) {
                int64_t off = 0;
                int rc = elem_off(n, ix, pi, i, idx, xs, an, &off, err);
                if (rc)
                        return rc;
                if (!up) {
                        memcpy((char *)po + (size_t)i * es,
                               (const char *)px + (size_t)off * es, es);
                } else if (n->hi[0] == 0) {
                        memcpy((char *)po + (size_t)off * es,
                               (const char *)pu + (size_t)i * es, es);
                } else {
                        double a = ldf(po, x->dtype, off);
                        double b = ldf(pu, up->dtype, i);
                        switch (n->hi[0]) {
                        case 1: a += b; break;
                        case 2: a *= b; break;
                        case 3: a = a > b ? a : b; break;
                        default: a = a < b ? a : b; break;
                        }
                        stf(po, x->dtype, off, a);
                }
                index_next(idx, ix->cshape, ix->ndim);
        }
        return SWARM_OK;
}

/* GatherND (batch_dims = hi[0]) and ScatterND (reduction hi[1]). */
static int nd_offset(const xvalue_t *x, int bd, int64_t b, const void *pi,
                     swarm_dtype_t idt, int64_t at, int64_t kk,
                     const int64_t *xs, int64_t bstride, int64_t *out,
                     swarm_err_t *err) {
        int64_t off = b * bstride;
        for (int64_t j = 0; j < kk; j++) {
                int64_t dn = x->cshape[bd + j];
                int64_t k = ldi(pi, idt, at + j);
                if (k < -dn || k >= dn)
                        return bad_index(err, k, dn);
                if (k < 0)
                        k += dn;
                off += k * xs[bd + j];
        }
        *out = off;
        return SWARM_OK;
}

static int run_gather_nd(const xnode_t *n, const xvalue_t *x,
                         const xvalue_t *ix, const void *px, const void *pi,
                         void *po, swarm_err_t *err) {
        int bd = (int)n->hi[0];
        int64_t xs[SWARM_MAX_DIMS], kk = ix->cshape[ix->ndim - 1];
        int64_t nb = 1, slice = 1, per_b, bstride;
        size_t es = swarm_dtype_size(x->dtype);
        int rc;
        cstr(x->cshape, x->ndim, xs);
        for (int d = 0; d < bd; d++)
                nb *= x->cshape[d];
        for (int d = bd + (int)kk; d < x->ndim; d++)
                slice *= x->cshape[d];
        bstride = bd > 0 ? xs[bd - 1] : 0;
        per_b = kk ? ix->celems / kk / (nb ? nb : 1) : 0;
        for (int64_t b = 0; b < nb; b++)
                for (int64_t t = 0; t < per_b; t++) {
                        int64_t off = 0, q = b * per_b + t;
                        if ((rc = nd_offset(x, bd, b, pi, ix->dtype, q * kk,
                                            kk, xs, bstride, &off, err)))
                                return rc;
                        memcpy((char *)po + (size_t)(q * slice) * es,
                               (const char *)px + (size_t)off * es,
                               (size_t)slice * es);
                }
        return SWARM_OK;
}

static int run_scatter_nd(const xnode_t *n, const xvalue_t *x,
                          const xvalue_t *ix, const xvalue_t *up,
                          const void *px, const void *pi, const void *pu,
                          void *po, swarm_err_t *err) {
        int64_t xs[SWARM_MAX_DIMS], kk = ix->cshape[ix->ndim - 1];
        int64_t slice = 1, nq = kk ? ix->celems / kk : 0;
        size_t es = swarm_dtype_size(x->dtype);
        int rc;
        memcpy(po, px, (size_t)x->celems * es);
        cstr(x->cshape, x->ndim, xs);
        for (int d = (int)kk; d < x->ndim; d++)
                slice *= x->cshape[d];
        for (int64_t q = 0; q < nq; q++) {
                int64_t off = 0;
                if ((rc = nd_offset(x, 0, 0, pi, ix->dtype, q * kk, kk, xs, 0,
                                    &off, err)))
                        return rc;
                for (int64_t e = 0; e < slice; e++) {
                        double a, b;
                        if (n->hi[1] == 0) {
                                memcpy((char *)po + (size_t)(off + e) * es,
                                       (const char *)pu +
                                       (size_t)(q * slice + e) * es, es);
                                continue;
                        }
                        a = ldf(po, x->dtype, off + e);
                        b = ldf(pu, up->dtype, q * slice + e);
                        switch (n->hi[1]) {
                        case 1: a += b; break;
                        case 2: a *= b; break;
                        case 3: a = a > b ? a : b; break;
                        default: a = a < b ? a : b; break;
                        }
                        stf(po, x->dtype, off + e, a);
                }
        }
        return SWARM_OK;
}

/* View x as [outer, len, inner] around n->axis. */
static void around(const xvalue_t *x, int axis, int64_t *outer, int64_t *len,
                   int64_t *inner) {
        *outer = 1;
        *inner = 1;
        *len = x->cshape[axis];
        for (int d = 0; d < x->ndim; d++) {
                if (d < axis)
                        *outer *= x->cshape[d];
                else if (d > axis)
                        *inner *= x->cshape[d];
        }
}

/* The tensor as lanes: one a position off the axis, len elements along it.
 * Element k of lane l stands at lane_base(w, l) + k * w->inner; the kernels
 * that reduce or scan along an axis all walk it so. */
typedef struct {
        int64_t lanes, len, inner;
} axis_walk_t;

static axis_walk_t axis_walk(const xvalue_t *x, int axis) {
        axis_walk_t w;
        int64_t outer;
        around(x, axis, &outer, &w.len, &w.inner);
        /* outer * inner overflows only beside a 0-long axis: then no lane
         * has an element to walk */
        if (swarm_mul_i64(outer, w.inner, &w.lanes))
                w.lanes = 0;
        return w;
}

static int64_t lane_base(const axis_walk_t *w, int64_t l) {
        return l / w->inner * w->len * w->inner + l % w->inner;
}

/* ArgMax / ArgMin: hi[0] = 1 for min, hi[1] = select_last_index. */
static int run_argmax(const xnode_t *n, const xvalue_t *x, const void *px,
                      void *po) {
        axis_walk_t w = axis_walk(x, n->axis);
        for (int64_t l = 0; l < w.lanes; l++) {
                int64_t b = lane_base(&w, l), best = 0;
                double bv = ldf(px, x->dtype, b);
                for (int64_t k = 1; k < w.len; k++) {
                        double v = ldf(px, x->dtype, b + k * w.inner);
                        int better = n->hi[0] ? v < bv : v > bv;
                        if (better || (n->hi[1] && v == bv)) {
                                bv = v;
                                best = k;
                        }
                }
                ((int64_t *)po)[l] = best;
        }
        return SWARM_OK;
}

/* CumSum: hi[0] exclusive, hi[1] reverse. */
static int run_cumsum(const xnode_t *n, const xvalue_t *x, const xvalue_t *o,
                      const void *px, void *po) {
        int ints = !exec_dtype_is_float(x->dtype);
        axis_walk_t w = axis_walk(x, n->axis);
        for (int64_t l = 0; l < w.lanes; l++) {
                int64_t b = lane_base(&w, l);
                double s = 0;
                uint64_t si = 0;
                for (int64_t t = 0; t < w.len; t++) {
                        int64_t k = n->hi[1] ? w.len - 1 - t : t;
                        int64_t at = b + k * w.inner;
                        if (n->hi[0]) {
                                if (ints)
                                        sti(po, o->dtype, at, (int64_t)si);
                                else
                                        stf(po, o->dtype, at, s);
                        }
                        if (ints)
                                si += (uint64_t)ldi(px, x->dtype, at);
                        else
                                s += ldf(px, x->dtype, at);
                        if (!n->hi[0]) {
                                if (ints)
                                        sti(po, o->dtype, at, (int64_t)si);
                                else
                                        stf(po, o->dtype, at, s);
                        }
                }
        }
        return SWARM_OK;
}

/* Trilu over the last two dims: hi[0] = upper, hi[1] = k. */
static int run_trilu(const xnode_t *n, const xvalue_t *x, const void *px,
                     void *po) {
        int64_t r = x->cshape[x->ndim - 2], c = x->cshape[x->ndim - 1];
        int64_t mats = r * c != 0 ? x->celems / (r * c) : 0;
        size_t es = swarm_dtype_size(x->dtype);
        for (int64_t m = 0; m < mats; m++)
                for (int64_t i = 0; i < r; i++)
                        for (int64_t j = 0; j < c; j++) {
                                int64_t at = (m * r + i) * c + j;
                                int keep = n->hi[0] ? j - i >= n->hi[1]
                                                    : j - i <= n->hi[1];
                                if (keep)
                                        memcpy((char *)po + (size_t)at * es,
                                               (const char *)px +
                                               (size_t)at * es, es);
                                else
                                        memset((char *)po + (size_t)at * es,
                                               0, es);
                        }
        return SWARM_OK;
}

/* Tile: out index d -> in index d mod dim. */
static int run_tile(const xvalue_t *x, const xvalue_t *o, const void *px,
                    void *po) {
        int64_t xs[SWARM_MAX_DIMS], idx[SWARM_MAX_DIMS] = {0};
        size_t es = swarm_dtype_size(x->dtype);
        cstr(x->cshape, x->ndim, xs);
        for (int64_t i = 0; i < o->celems; i++) {
                int64_t off = 0;
                for (int d = 0; d < o->ndim; d++)
                        off += (idx[d] % x->cshape[d]) * xs[d];
                memcpy((char *)po + (size_t)i * es,
                       (const char *)px + (size_t)off * es, es);
                index_next(idx, o->cshape, o->ndim);
        }
        return SWARM_OK;
}

/* OneHot: indices [..] -> [.., depth, ..] at n->axis; values in[2]
 * (off, on); hi[0] = depth. */
static int run_onehot(const xnode_t *n, const xvalue_t *ix,
                      const xvalue_t *val, const xvalue_t *o, const void *pi,
                      const void *pv, void *po) {
        int64_t depth = n->hi[0], outer = 1, inner = 1;
        for (int d = 0; d < ix->ndim; d++) {
                if (d < n->axis)
                        outer *= ix->cshape[d];
                else
                        inner *= ix->cshape[d];
        }
        for (int64_t a = 0; a < outer; a++)
                for (int64_t k = 0; k < depth; k++)
                        for (int64_t c = 0; c < inner; c++) {
                                int64_t v = ldi(pi, ix->dtype, a * inner + c);
                                int64_t at = (a * depth + k) * inner + c;
                                if (v < 0)
                                        v += depth;
                                /* values may be a widened constant: read
                                 * by its own dtype */
                                if (exec_dtype_is_float(val->dtype))
                                        stf(po, o->dtype, at,
                                            ldf(pv, val->dtype, v == k));
                                else
                                        sti(po, o->dtype, at,
                                            ldi(pv, val->dtype, v == k));
                        }
        return SWARM_OK;
}

/* TopK along n->axis: hi[0] = k, hi[1] = largest, hi[2] = sorted (always
 * sorted here).  Ties keep the lower index first, as onnxruntime does. */
static int run_topk(const xnode_t *n, const xvalue_t *x, const xvalue_t *o,
                    const void *px, void *pv, void *pidx, swarm_err_t *err) {
        int64_t k = n->hi[0];
        int64_t *ord;
        axis_walk_t w = axis_walk(x, n->axis);
        ord = malloc((size_t)(w.len > 0 ? w.len : 1) * sizeof(int64_t));
        if (!ord)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        for (int64_t l = 0; l < w.lanes; l++) {
                /* insertion into the first k of the order */
                int64_t b = lane_base(&w, l), have = 0;
                /* the output's lane l: k long where the input's is len */
                int64_t ob = l / w.inner * k * w.inner + l % w.inner;
                for (int64_t t = 0; t < w.len; t++) {
                        double v = ldf(px, x->dtype, b + t * w.inner);
                        int64_t p = have < k ? have : k;
                        while (p > 0) {
                                double u = ldf(px, x->dtype,
                                               b + ord[p - 1] * w.inner);
                                int before = n->hi[1] ? v > u : v < u;
                                if (!before)
                                        break;
                                if (p < k)
                                        ord[p] = ord[p - 1];
                                p--;
                        }
                        if (p < k) {
                                ord[p] = t;
                                if (have < k)
                                        have++;
                        }
                }
                for (int64_t j = 0; j < k; j++) {
                        int64_t at = ob + j * w.inner;
                        stf(pv, o->dtype, at,
                            ldf(px, x->dtype, b + ord[j] * w.inner));
                        ((int64_t *)pidx)[at] = ord[j];
                }
        }
        free(ord);
        return SWARM_OK;
}

/* sum(x[0 .. n)) and sum((x - mean)^2) in double, four partial sums
 * each (the order differs from one chain's by rounding only). */
static double sum4(const float *x, int64_t n) {
        double a[4] = {0, 0, 0, 0};
        int64_t t = 0;
        for (; t + 4 <= n; t += 4)
                for (int l = 0; l < 4; l++)
                        a[l] += x[t + l];
        for (; t < n; t++)
                a[0] += x[t];
        return (a[0] + a[1]) + (a[2] + a[3]);
}

static double sqdev4(const float *x, int64_t n, double mean) {
        double a[4] = {0, 0, 0, 0};
        int64_t t = 0;
        for (; t + 4 <= n; t += 4)
                for (int l = 0; l < 4; l++) {
                        double d = (double)x[t + l] - mean;
                        a[l] += d * d;
                }
        for (; t < n; t++) {
                double d = (double)x[t] - mean;
                a[0] += d * d;
        }
        return (a[0] + a[1]) + (a[2] + a[3]);
}

/* FLOAT32 InstanceNormalization / GroupNormalization: per group the mean
 * and variance in double, then y = x * a + b per channel in float (one
 * product and sum a value, which vectorises), where the generic loop
 * below converted every value through ldf / stf and divided for its
 * channel: wav2vec2's feature extractor norm (512 channels of 320
 * frames) took 13-21% of a run. */
static void instnorm_f32(const xnode_t *n, const xvalue_t *x, const float *px,
                         const float *ps, const float *pb, float *po,
                         int64_t groups, int64_t inner) {
        int64_t imgs = x->cshape[0], ch = x->cshape[1], cpg = ch / groups;
        int64_t per = cpg * inner;

        for (int64_t i = 0; i < imgs; i++)
                for (int64_t g = 0; g < groups; g++) {
                        int64_t base = (i * groups + g) * per;
                        double s = 0, q = 0, mean, inv;
                        for (int64_t c = 0; c < cpg; c++)
                                s += sum4(px + base + c * inner, inner);
                        mean = per ? s / (double)per : 0;
                        for (int64_t c = 0; c < cpg; c++)
                                q += sqdev4(px + base + c * inner, inner,
                                            mean);
                        inv = 1 / sqrt((per ? q / (double)per : 0) + n->eps);
                        for (int64_t c = 0; c < cpg; c++) {
                                int64_t sc = n->hi[1] ? g : g * cpg + c;
                                float a = (float)(inv * ps[sc]);
                                float b = (float)(pb[sc] - mean * inv * ps[sc]);
                                const float *xr = px + base + c * inner;
                                float *yr = po + base + c * inner;
                                for (int64_t t = 0; t < inner; t++)
                                        yr[t] = xr[t] * a + b;
                        }
                }
}

/* Normalisations over [outer, len, inner] groups computed in double:
 * InstanceNormalization (per channel, then scale/bias per channel),
 * LpNormalization (p = hi[0] along axis).  in[1], in[2] scale and bias. */
static int run_instnorm(const xnode_t *n, const xvalue_t *x, const void *px,
                        const void *ps, const void *pb, void *po) {
        int64_t imgs = x->cshape[0], ch = x->cshape[1], inner = 1;
        int64_t groups = n->hi[0] > 0 ? n->hi[0] : ch, per;
        for (int d = 2; d < x->ndim; d++)
                inner *= x->cshape[d];
        if (x->dtype == SWARM_DTYPE_FLOAT32) {
                instnorm_f32(n, x, px, ps, pb, po, groups, inner);
                return SWARM_OK;
        }
        per = ch / groups * inner;
        for (int64_t i = 0; i < imgs; i++)
                for (int64_t g = 0; g < groups; g++) {
                        int64_t base = (i * groups + g) * per;
                        double s = 0, q = 0, mean, inv;
                        for (int64_t t = 0; t < per; t++)
                                s += ldf(px, x->dtype, base + t);
                        mean = per ? s / (double)per : 0;
                        for (int64_t t = 0; t < per; t++) {
                                double d = ldf(px, x->dtype, base + t) - mean;
                                q += d * d;
                        }
                        inv = 1 / sqrt((per ? q / (double)per : 0) +
                                       n->eps);
                        for (int64_t t = 0; t < per; t++) {
                                /* scale/bias per channel (InstanceNorm,
                                 * GroupNorm opset 21) */
                                int64_t c = g * (ch / groups) + t / inner;
                                int64_t sc = n->hi[1] ? g : c;
                                double v = (ldf(px, x->dtype, base + t) -
                                            mean) * inv;
                                stf(po, x->dtype, base + t,
                                    v * ldf(ps, x->dtype, sc) +
                                    ldf(pb, x->dtype, sc));
                        }
                }
        return SWARM_OK;
}

static int run_lpnorm(const xnode_t *n, const xvalue_t *x, const void *px,
                      void *po) {
        axis_walk_t w = axis_walk(x, n->axis);
        for (int64_t l = 0; l < w.lanes; l++) {
                int64_t b = lane_base(&w, l);
                double s = 0;
                for (int64_t t = 0; t < w.len; t++) {
                        double v = ldf(px, x->dtype, b + t * w.inner);
                        s += n->hi[0] == 1 ? fabs(v) : v * v;
                }
                if (n->hi[0] != 1)
                        s = sqrt(s);
                for (int64_t t = 0; t < w.len; t++) {
                        int64_t at = b + t * w.inner;
                        stf(po, x->dtype, at,
                            s == 0 ? 0 : ldf(px, x->dtype, at) / s);
                }
        }
        return SWARM_OK;
}

/* Reductions of any dtype (ReduceL1, ReduceLogSum, ..., integer ones):
 * hop = swarm_reduce_t or HR_*, over the dims in n->axes. */
static int run_reduce(const xnode_t *n, const xvalue_t *x, const xvalue_t *o,
                      const void *px, void *po) {
        int64_t ostr[SWARM_MAX_DIMS], xs[1][SWARM_MAX_DIMS], off[1] = {0};
        int64_t idx[SWARM_MAX_DIMS] = {0}, s = 1, cnt;
        double *acc = calloc((size_t)(o->celems > 0 ? o->celems : 1),
                             sizeof(double));
        if (!acc)
                return SWARM_ERR_NOMEM;
        /* Output offsets of each input index: stride 0 on reduced dims. */
        for (int d = x->ndim - 1; d >= 0; d--) {
                int red = (n->axes >> d) & 1;
                ostr[d] = red ? 0 : s;
                s *= red ? 1 : x->cshape[d];
        }
        memcpy(xs[0], ostr, sizeof(ostr));
        cnt = o->celems ? x->celems / o->celems : 0;
        for (int64_t i = 0; i < o->celems; i++)
                acc[i] = n->hop == HR_MAX ? -INFINITY
                         : n->hop == HR_MIN ? INFINITY
                         : n->hop == HR_PROD ? 1 : 0;
        for (int64_t i = 0; i < x->celems; i++) {
                double v = ldf(px, x->dtype, i);
                double *a = &acc[off[0]];
                switch (n->hop) {
                case HR_SUM: case HR_MEAN: case HR_LOGSUM: *a += v; break;
                case HR_L1: *a += fabs(v); break;
                case HR_L2: case HR_SUMSQ: *a += v * v; break;
                case HR_LOGSUMEXP: *a += exp(v); break;
                case HR_MAX: *a = v > *a || v != v ? v : *a; break;
                case HR_MIN: *a = v < *a || v != v ? v : *a; break;
                case HR_PROD: *a *= v; break;
                default: break;
                }
                step(x->ndim, x->cshape, idx, 1, off, xs);
        }
        for (int64_t i = 0; i < o->celems; i++) {
                double v = acc[i];
                switch (n->hop) {
                case HR_MEAN: v = cnt ? v / (double)cnt : NAN; break;
                case HR_L2: v = sqrt(v); break;
                case HR_LOGSUM: case HR_LOGSUMEXP: v = log(v); break;
                default: break;
                }
                stf(po, o->dtype, i, v);
        }
        free(acc);
        return SWARM_OK;
}

/* DepthToSpace / SpaceToDepth are strided copies (OP_STRIDED); Range at
 * run time: start in[0], delta in[2], length o. */
static int run_range(const xvalue_t *s, const xvalue_t *dl, const xvalue_t *o,
                     const void *ps, const void *pd, void *po) {
        for (int64_t i = 0; i < o->celems; i++) {
                if (exec_dtype_is_float(o->dtype))
                        stf(po, o->dtype, i,
                            ldf(ps, s->dtype, 0) +
                            (double)i * ldf(pd, dl->dtype, 0));
                else
                        sti(po, o->dtype, i,
                            ldi(ps, s->dtype, 0) +
                            i * ldi(pd, dl->dtype, 0));
        }
        return SWARM_OK;
}

/* ConvTranspose: y[n, g*Mg+m, o] += x[n, g*Cg+c, i] * w[g*Cg+c, m, k] at
 * o = i * stride - pad + k * dilation, over up to 3 spatial dims. */
static int run_convt(const xnode_t *n, const xvalue_t *x, const xvalue_t *w,
                     const xvalue_t *b, const xvalue_t *o, const void *px,
                     const void *pw, const void *pb, void *po) {
        int sd = (int)n->hi[0];
        int64_t N = x->cshape[0], C = x->cshape[1], M = o->cshape[1];
        int64_t G = n->group, Cg = C / G, Mg = M / G;
        int64_t in[3] = {1, 1, 1}, ou[3] = {1, 1, 1}, kk[3] = {1, 1, 1};
        int64_t ins = 1, ous = 1, ks = 1;
        float *y = po;
        const float *xf = px, *wf = pw;

        for (int d = 0; d < sd; d++) {
                in[3 - sd + d] = x->cshape[2 + d];
                ou[3 - sd + d] = o->cshape[2 + d];
                kk[3 - sd + d] = w->cshape[2 + d];
        }
        ins = in[0] * in[1] * in[2];
        ous = ou[0] * ou[1] * ou[2];
        ks = kk[0] * kk[1] * kk[2];
        for (int64_t i = 0; i < N * M; i++) {
                float bv = b ? (float)ldf(pb, b->dtype, i % M) : 0.0f;
                for (int64_t j = 0; j < ous; j++)
                        y[i * ous + j] = bv;
        }
        for (int64_t nn = 0; nn < N; nn++)
                for (int64_t g = 0; g < G; g++)
                        for (int64_t c = 0; c < Cg; c++) {
                                const float *xc = xf + ((nn * C) + g * Cg + c)
                                                  * ins;
                                for (int64_t m = 0; m < Mg; m++) {
                                        const float *wk = wf +
                                                ((g * Cg + c) * Mg + m) * ks;
                                        float *yc = y + (nn * M + g * Mg + m)
                                                    * ous;
                for (int64_t i0 = 0; i0 < in[0]; i0++)
                for (int64_t i1 = 0; i1 < in[1]; i1++)
                for (int64_t i2 = 0; i2 < in[2]; i2++) {
                        float xv = xc[(i0 * in[1] + i1) * in[2] + i2];
                        for (int64_t k0 = 0; k0 < kk[0]; k0++) {
                                int64_t o0 = i0 * n->hp[0] - n->hp[6] +
                                             k0 * n->hp[3];
                                if (o0 < 0 || o0 >= ou[0])
                                        continue;
                                for (int64_t k1 = 0; k1 < kk[1]; k1++) {
                                        int64_t o1 = i1 * n->hp[1] - n->hp[7] +
                                                     k1 * n->hp[4];
                                        if (o1 < 0 || o1 >= ou[1])
                                                continue;
                                        for (int64_t k2 = 0; k2 < kk[2]; k2++) {
                                                int64_t o2 = i2 * n->hp[2] -
                                                             n->hp[8] +
                                                             k2 * n->hp[5];
                                                if (o2 < 0 || o2 >= ou[2])
                                                        continue;
                                                yc[(o0 * ou[1] + o1) * ou[2] +
                                                   o2] += xv *
                                                        wk[(k0 * kk[1] + k1) *
                                                           kk[2] + k2];
                                        }
                                }
                        }
                }
                                }
                        }
        return SWARM_OK;
}

/* ---- Resize ---- */

enum { CT_HALF_PIXEL, CT_ASYMMETRIC, CT_PYTORCH_HALF_PIXEL,
       CT_ALIGN_CORNERS, CT_TF_HALF_PIXEL_NN, CT_TF_CROP_AND_RESIZE,
       CT_HALF_PIXEL_SYMMETRIC };
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL };

typedef struct taps {
        int n;
        int64_t idx[4];
        double w[4];
        int outside;            /* tf_crop_and_resize: extrapolate */
} taps_t;

static double cubic_w(double t, double a) {
        t = fabs(t);
        if (t <= 1)
                return ((a + 2) * t - (a + 3)) * t * t + 1;
        if (t < 2)
                return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
        return 0;
}

/* hp[0] coordinate mode, hp[1] nearest mode, hp[2] exclude_outside,
 * hi[0] mode; hf[d] scale of dim d; act_alpha cubic_coeff_a,
 * act_beta extrapolation_value; roi in the node's roi constant (in[1]) for
 * tf_crop_and_resize (start d at roi[d], end at roi[nd + d]). */
static void make_taps(const xnode_t *n, const void *roi, int nd, int d,
                      int64_t in, int64_t out, int64_t xo, taps_t *t) {
        double sc = n->hf[d], x;
        /* The resized length ONNX uses: the output's with sizes, in * scale
         * (not rounded) with scales. */
        double L = n->hp[3] ? (double)out : (double)in * sc;
        t->n = 0;
        t->outside = 0;
        switch (n->hp[0]) {
        case CT_ASYMMETRIC: x = xo / sc; break;
        case CT_PYTORCH_HALF_PIXEL:
                x = L > 1 ? (xo + 0.5) / sc - 0.5 : 0;
                break;
        case CT_ALIGN_CORNERS:
                x = L == 1 ? 0 : xo * (double)(in - 1) / (L - 1);
                break;
        case CT_TF_HALF_PIXEL_NN: x = (xo + 0.5) / sc; break;
        case CT_TF_CROP_AND_RESIZE: {
                double st = roi ? ((const float *)roi)[d] : 0;
                double en = roi ? ((const float *)roi)[nd + d] : 1;
                x = L > 1 ? st * (in - 1) + xo * (en - st) * (in - 1) /
                            (L - 1)
                          : 0.5 * (st + en) * (in - 1);
                if (x < 0 || x > in - 1)
                        t->outside = 1;
                break;
        }
        case CT_HALF_PIXEL_SYMMETRIC: {
                double adj = L / (sc * in), ctr = in / 2.0;
                x = ctr * (1 - adj) + (xo + 0.5) / sc - 0.5;
                break;
        }
        default: x = (xo + 0.5) / sc - 0.5; break;
        }
        if (n->hi[0] == 0) {
                double r;
                switch (n->hp[1]) {
                case NM_ROUND_PREFER_CEIL: r = floor(x + 0.5); break;
                case NM_FLOOR: r = floor(x); break;
                case NM_CEIL: r = ceil(x); break;
                default:
                        r = x == floor(x) + 0.5 ? floor(x) : floor(x + 0.5);
                        break;
                }
                if (r < 0)
                        r = 0;
                if (r > in - 1)
                        r = (double)(in - 1);
                t->n = 1;
                t->idx[0] = (int64_t)r;
                t->w[0] = 1;
                return;
        }
        if (n->hi[0] == 1) {
                double xc = x < 0 ? 0 : x > in - 1 ? (double)(in - 1) : x;
                int64_t x0 = (int64_t)floor(xc);
                int64_t x1 = x0 + 1 < in ? x0 + 1 : x0;
                double f = xc - (double)x0;
                t->n = 2;
                t->idx[0] = x0;
                t->idx[1] = x1;
                t->w[0] = 1 - f;
                t->w[1] = f;
                return;
        }
        {
                int64_t x0 = (int64_t)floor(x);
                double f = x - (double)x0, sum = 0;
                for (int k = 0; k < 4; k++) {
                        int64_t xi = x0 - 1 + k;
                        double w = cubic_w(f - (k - 1), n->act_alpha);
                        if (n->hp[2] && (xi < 0 || xi >= in))
                                w = 0;
                        t->idx[k] = xi < 0 ? 0 : xi >= in ? in - 1 : xi;
                        t->w[k] = w;
                        sum += w;
                }
                if (n->hp[2] && sum != 0)
                        for (int k = 0; k < 4; k++)
                                t->w[k] /= sum;
                t->n = 4;
        }
}

static int run_resize(const xnode_t *n, const xvalue_t *x, const xvalue_t *o,
                      const void *px, const void *proi, void *po,
                      swarm_err_t *err) {
        int nd = x->ndim;
        int64_t off[SWARM_MAX_DIMS + 1], xs[SWARM_MAX_DIMS];
        int64_t idx[SWARM_MAX_DIMS] = {0};
        taps_t *tp[SWARM_MAX_DIMS] = {NULL};
        int rc = SWARM_OK;

        cstr(x->cshape, nd, xs);
        (void)off;
        for (int d = 0; d < nd; d++) {
                tp[d] = malloc((size_t)(o->cshape[d] > 0 ? o->cshape[d] : 1) *
                               sizeof(taps_t));
                if (!tp[d]) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                        goto out;
                }
                for (int64_t i = 0; i < o->cshape[d]; i++)
                        make_taps(n, proi, nd, d, x->cshape[d], o->cshape[d],
                                  i, &tp[d][i]);
        }
        for (int64_t e = 0; e < o->celems; e++) {
                /* sum over the product of each dim's taps */
                int k[SWARM_MAX_DIMS] = {0}, outside = 0;
                double acc = 0;
                for (int d = 0; d < nd; d++)
                        outside |= tp[d][idx[d]].outside;
                if (outside) {
                        acc = n->act_beta;
                } else {
                        for (;;) {
                                double w = 1;
                                int64_t at = 0;
                                int d;
                                for (d = 0; d < nd; d++) {
                                        const taps_t *t = &tp[d][idx[d]];
                                        w *= t->w[k[d]];
                                        at += t->idx[k[d]] * xs[d];
                                }
                                if (w != 0)
                                        acc += w * ldf(px, x->dtype, at);
                                for (d = nd - 1; d >= 0; d--) {
                                        if (++k[d] < tp[d][idx[d]].n)
                                                break;
                                        k[d] = 0;
                                }
                                if (d < 0)
                                        break;
                        }
                }
                stf(po, o->dtype, e, acc);
                index_next(idx, o->cshape, nd);
        }
out:
        for (int d = 0; d < nd; d++)
                free(tp[d]);
        return rc;
}

static int run_hardmax(const xnode_t *n, const xvalue_t *x, const void *px,
                       void *po) {
        axis_walk_t w = axis_walk(x, n->axis);
        for (int64_t l = 0; l < w.lanes; l++) {
                int64_t b = lane_base(&w, l), best = 0;
                for (int64_t k = 0; k < w.len; k++)
                        if (ldf(px, x->dtype, b + k * w.inner) >
                            ldf(px, x->dtype, b + best * w.inner))
                                best = k;
                for (int64_t k = 0; k < w.len; k++)
                        stf(po, x->dtype, b + k * w.inner, k == best);
        }
        return SWARM_OK;
}

static const xvalue_t *in_v(const swarm_model_t *m, const xnode_t *n, int j) {
        return j < n->n_in && n->in[j] >= 0 ? &m->vals[n->in[j]] : NULL;
}

/* ---- RNN, GRU, LSTM ---- */

enum { RA_RELU, RA_TANH, RA_SIGMOID, RA_AFFINE, RA_LEAKY, RA_THRESH,
       RA_SCALED_TANH, RA_HARD_SIGMOID, RA_ELU, RA_SOFTSIGN, RA_SOFTPLUS };

static double ract(int k, double x, double a, double b) {
        switch (k) {
        case RA_RELU: return x > 0 ? x : 0;
        case RA_TANH: return tanh(x);
        case RA_SIGMOID: return 1 / (1 + exp(-x));
        case RA_AFFINE: return a * x + b;
        case RA_LEAKY: return x < 0 ? a * x : x;
        case RA_THRESH: return x > a ? x : 0;
        case RA_SCALED_TANH: return a * tanh(b * x);
        case RA_HARD_SIGMOID: {
                double v = a * x + b;
                return v < 0 ? 0 : v > 1 ? 1 : v;
        }
        case RA_ELU: return x < 0 ? a * (exp(x) - 1) : x;
        case RA_SOFTSIGN: return x / (1 + fabs(x));
        default: return log1p(exp(x));
        }
}

/* The cell's `clip` attribute: gate inputs held to [-clip, clip]; 0 (or
 * less) leaves them as they are. */
static double rclip(double v, double clip) {
        return clip > 0 ? (v < -clip ? -clip : v > clip ? clip : v) : v;
}

/* in: X, W, R, B, sequence_lens, initial_h, initial_c, P (absent: NULL).
 * hi[0] kind (0 RNN, 1 GRU, 2 LSTM), hi[1] directions, hi[2] hidden,
 * hi[3] layout; hp[0] linear_before_reset, hp[1] input_forget, hp[2 +
 * 3 * dir + j] activation j of a direction, hf[2 * (3 * dir + j)] and
 * [+1] its alpha and beta; act_alpha = clip (0: none). */
static int run_rnn(swarm_model_t *m, const xnode_t *n, void *const *p,
                   void *const *pout, swarm_err_t *err) {
        const xvalue_t *xv = in_v(m, n, 0);
        const xvalue_t *sl = in_v(m, n, 4);
        int kind = (int)n->hi[0], D = (int)n->hi[1], lay = (int)n->hi[3];
        int G = kind == 0 ? 1 : kind == 1 ? 3 : 4;
        int64_t H = n->hi[2], T = xv->cshape[lay ? 1 : 0];
        int64_t Bt = xv->cshape[lay ? 0 : 1], I = xv->cshape[2];
        const float *X = p[0], *W = p[1], *R = p[2], *B = p[3];
        const float *h0 = p[5], *c0 = p[6], *P = p[7];
        float *Y = pout[0], *Yh = n->n_xo > 0 ? pout[1] : NULL;
        float *Yc = n->n_xo > 1 ? pout[2] : NULL;
        double clip = n->act_alpha;
        double *h = calloc((size_t)(Bt * H + 1), sizeof(double));
        double *c = calloc((size_t)(Bt * H + 1), sizeof(double));
        double *g = calloc((size_t)(G * H + 1), sizeof(double));
        double *rh = calloc((size_t)(H + 1), sizeof(double));

        if (!h || !c || !g || !rh) {
                free(h);
                free(c);
                free(g);
                free(rh);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        if (Y)
                memset(Y, 0, (size_t)(T * D * Bt * H) * sizeof(float));
        for (int d = 0; d < D; d++) {
                int rev = n->hp[9] == 1 || (n->hp[9] == 2 && d == 1);
                const float *Wd = W + (size_t)d * G * H * I;
                const float *Rd = R + (size_t)d * G * H * H;
                const float *Bd = B ? B + (size_t)d * 2 * G * H : NULL;
                const float *Pd = P ? P + (size_t)d * 3 * H : NULL;
                int a0 = 3 * d;
                for (int64_t b = 0; b < Bt; b++)
                        for (int64_t k = 0; k < H; k++) {
                                int64_t hi = lay ? (b * D + d) * H + k
                                                 : (d * Bt + b) * H + k;
                                h[b * H + k] = h0 ? h0[hi] : 0;
                                c[b * H + k] = c0 ? c0[hi] : 0;
                        }
                for (int64_t b = 0; b < Bt; b++) {
                        int64_t len = sl ? ldi(p[4], sl->dtype, b) : T;
                        if (len < 0 || len > T)
                                len = len < 0 ? 0 : T;
                        for (int64_t s = 0; s < len; s++) {
                                int64_t t = rev ? len - 1 - s : s;
                                const float *xt = X + (lay ? (b * T + t) * I
                                                           : (t * Bt + b) * I);
                                double *hb = h + b * H, *cb = c + b * H;
                                /* gates: x W^T + (b_w + b_r), plus h R^T
                                 * (GRU's h gate handled below) */
                                for (int64_t q = 0; q < G * H; q++) {
                                        double v = Bd ? (double)Bd[q] : 0;
                                        int hgate = kind == 1 && q >= 2 * H;
                                        for (int64_t i = 0; i < I; i++)
                                                v += (double)xt[i] *
                                                     Wd[q * I + i];
                                        if (!hgate) {
                                                if (Bd)
                                                        v += Bd[G * H + q];
                                                for (int64_t i = 0; i < H; i++)
                                                        v += hb[i] *
                                                             Rd[q * H + i];
                                        }
                                        g[q] = v;
                                }
                                if (kind == 0) {
                                        for (int64_t k = 0; k < H; k++)
                                                rh[k] = ract((int)n->hp[2 + a0],
                                                             rclip(g[k], clip),
                                                             n->hf[2 * a0],
                                                             n->hf[2 * a0 + 1]);
                                        for (int64_t k = 0; k < H; k++)
                                                hb[k] = rh[k];
                                } else if (kind == 1) {
                                        /* z, r, then h */
                                        for (int64_t q = 0; q < 2 * H; q++)
                                                g[q] = ract((int)n->hp[2 + a0],
                                                            rclip(g[q], clip),
                                                            n->hf[2 * a0],
                                                            n->hf[2 * a0 + 1]);
                                        for (int64_t k = 0; k < H; k++) {
                                                const double *r = g + H;
                                                double v = g[2 * H + k], acc;
                                                double rb = Bd ? Bd[G * H +
                                                                    2 * H + k]
                                                               : 0;
                                                acc = 0;
                                                for (int64_t i = 0; i < H; i++)
                                                        acc += (n->hp[0]
                                                                ? hb[i]
                                                                : r[i] * hb[i]) *
                                                               Rd[(2 * H + k) *
                                                                  H + i];
                                                if (n->hp[0])
                                                        v += r[k] * (acc + rb);
                                                else
                                                        v += acc + rb;
                                                rh[k] = ract(
                                                        (int)n->hp[3 + a0],
                                                        rclip(v, clip),
                                                        n->hf[2 * a0 + 2],
                                                        n->hf[2 * a0 + 3]);
                                        }
                                        for (int64_t k = 0; k < H; k++)
                                                hb[k] = (1 - g[k]) * rh[k] +
                                                        g[k] * hb[k];
                                } else {
                                        /* i, o, f, c; P = [i, o, f] */
                                        for (int64_t k = 0; k < H; k++) {
                                                double vi = g[k], vo = g[H + k];
                                                double vf = g[2 * H + k];
                                                double vc = g[3 * H + k];
                                                double it, ft, ct, ot, cn;
                                                int fa = (int)n->hp[2 + a0];
                                                double fa_a = n->hf[2 * a0];
                                                double fa_b = n->hf[2 * a0 + 1];
                                                if (Pd) {
                                                        vi += Pd[k] * cb[k];
                                                        vf += Pd[2 * H + k] *
                                                              cb[k];
                                                }
                                                vi = rclip(vi, clip);
                                                vf = rclip(vf, clip);
                                                vc = rclip(vc, clip);
                                                it = ract(fa, vi, fa_a, fa_b);
                                                ft = n->hp[1]
                                                     ? 1 - it
                                                     : ract(fa, vf, fa_a, fa_b);
                                                ct = ract((int)n->hp[3 + a0],
                                                          vc, n->hf[2 * a0 + 2],
                                                          n->hf[2 * a0 + 3]);
                                                cn = ft * cb[k] + it * ct;
                                                if (Pd)
                                                        vo += Pd[H + k] * cn;
                                                vo = rclip(vo, clip);
                                                ot = ract(fa, vo, fa_a, fa_b);
                                                cb[k] = cn;
                                                rh[k] = ot *
                                                        ract((int)n->hp[4 + a0],
                                                             cn,
                                                             n->hf[2 * a0 + 4],
                                                             n->hf[2 * a0 + 5]);
                                        }
                                        for (int64_t k = 0; k < H; k++)
                                                hb[k] = rh[k];
                                }
                                for (int64_t k = 0; Y && k < H; k++)
                                        Y[(lay ? (b * T + t) * D + d
                                               : (t * D + d) * Bt + b) * H +
                                          k] = (float)hb[k];
                        }
                }
                for (int64_t b = 0; b < Bt; b++)
                        for (int64_t k = 0; k < H; k++) {
                                int64_t at = lay ? (b * D + d) * H + k
                                                 : (d * Bt + b) * H + k;
                                if (Yh)
                                        Yh[at] = (float)h[b * H + k];
                                if (Yc)
                                        Yc[at] = (float)c[b * H + k];
                        }
        }
        free(h);
        free(c);
        free(g);
        free(rh);
        return SWARM_OK;
}

/* NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss over x [N, C, d..],
 * t [N, d..], optional weights [C]. */
static int run_loss(swarm_model_t *m, const xnode_t *n, void *const *p,
                    void *const *pout, swarm_err_t *err) {
        const xvalue_t *x = in_v(m, n, 0), *t = in_v(m, n, 1);
        const xvalue_t *wv = in_v(m, n, 2), *o = &m->vals[n->out];
        int64_t N = x->cshape[0], C = x->cshape[1], inner = 1;
        double *lp = NULL, sum = 0, wsum = 0;
        void *lpo = n->n_xo > 0 ? pout[1] : NULL;

        for (int d = 2; d < x->ndim; d++)
                inner *= x->cshape[d];
        lp = malloc((size_t)(x->celems > 0 ? x->celems : 1) * sizeof(double));
        if (!lp)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < x->celems; i++)
                lp[i] = ldf(p[0], x->dtype, i);
        if (n->hi[0] == 1)
                /* log-softmax over C */
                for (int64_t a = 0; a < N; a++)
                        for (int64_t c = 0; c < inner; c++) {
                                double mx = -INFINITY, s = 0;
                                for (int64_t k = 0; k < C; k++)
                                        mx = fmax(mx, lp[(a * C + k) * inner +
                                                         c]);
                                for (int64_t k = 0; k < C; k++)
                                        s += exp(lp[(a * C + k) * inner + c] -
                                                 mx);
                                for (int64_t k = 0; k < C; k++)
                                        lp[(a * C + k) * inner + c] -=
                                                mx + log(s);
                        }
        for (int64_t i = 0; lpo && i < x->celems; i++)
                stf(lpo, x->dtype, i, lp[i]);
        for (int64_t a = 0; a < N; a++)
                for (int64_t c = 0; c < inner; c++) {
                        int64_t at = a * inner + c;
                        int64_t k = ldi(p[1], t->dtype, at);
                        double w, l;
                        if (n->hi[2] && k == n->hp[0]) {
                                if (n->hi[1] == 0)
                                        stf(pout[0], o->dtype, at, 0);
                                continue;
                        }
                        if (k < 0 || k >= C) {
                                free(lp);
                                return bad_index(err, k, C);
                        }
                        w = wv ? ldf(p[2], wv->dtype, k) : 1;
                        l = -lp[(a * C + k) * inner + c] * w;
                        if (n->hi[1] == 0)
                                stf(pout[0], o->dtype, at, l);
                        sum += l;
                        wsum += w;
                }
        if (n->hi[1] == 1)
                stf(pout[0], o->dtype, 0, sum);
        else if (n->hi[1] == 2)
                stf(pout[0], o->dtype, 0, wsum != 0 ? sum / wsum : 0);
        free(lp);
        return SWARM_OK;
}

static int run_padm(const xnode_t *n, const xvalue_t *x, const xvalue_t *o,
                    const void *px, void *po) {
        int64_t xs[SWARM_MAX_DIMS], idx[SWARM_MAX_DIMS] = {0};
        size_t es = swarm_dtype_size(x->dtype);
        cstr(x->cshape, x->ndim, xs);
        for (int64_t e = 0; e < o->celems; e++) {
                int64_t off = 0;
                for (int d = 0; d < x->ndim; d++) {
                        int64_t dn = x->cshape[d], j = idx[d] - n->hp[d];
                        if (n->hi[0] == 2)
                                j = j < 0 ? 0 : j >= dn ? dn - 1 : j;
                        else if (n->hi[0] == 3)
                                j = ((j % dn) + dn) % dn;
                        else if (dn == 1)
                                j = 0;
                        else
                                while (j < 0 || j >= dn)
                                        j = j < 0 ? -j : 2 * (dn - 1) - j;
                        off += j * xs[d];
                }
                memcpy((char *)po + (size_t)e * es,
                       (const char *)px + (size_t)off * es, es);
                index_next(idx, o->cshape, o->ndim);
        }
        return SWARM_OK;
}

static int run_lrn(const xnode_t *n, const xvalue_t *x, const void *px,
                   void *po) {
        int64_t N = x->cshape[0], C = x->cshape[1], inner = 1, sz = n->hi[0];
        int64_t lo = (sz - 1) / 2, hi = sz - 1 - lo;
        for (int d = 2; d < x->ndim; d++)
                inner *= x->cshape[d];
        for (int64_t a = 0; a < N; a++)
                for (int64_t c = 0; c < C; c++)
                        for (int64_t i = 0; i < inner; i++) {
                                double s = 0, v;
                                for (int64_t k = c - lo; k <= c + hi; k++)
                                        if (k >= 0 && k < C) {
                                                v = ldf(px, x->dtype,
                                                        (a * C + k) * inner +
                                                        i);
                                                s += v * v;
                                        }
                                v = ldf(px, x->dtype, (a * C + c) * inner + i);
                                stf(po, x->dtype, (a * C + c) * inner + i,
                                    v / pow(n->hf[2] + n->hf[0] / (double)sz *
                                            s, n->hf[1]));
                        }
        return SWARM_OK;
}

/* Einsum: every combination of every label's index; out[labels of the
 * output] += prod_j x_j[labels of operand j]. */
static int run_einsum(swarm_model_t *m, const xnode_t *n, void *const *p,
                      void *po) {
        const xvalue_t *o = &m->vals[n->out];
        int nl = (int)n->hi[0], no = n->n_in;
        int64_t size[64], idx[64] = {0}, str[9][64], total = 1;

        for (int l = 0; l < nl; l++)
                size[l] = 1;
        memset(str, 0, sizeof(str));
        for (int j = 0; j <= no; j++) {
                const xvalue_t *v = j < no ? &m->vals[n->in[j]] : o;
                int64_t s = 1;
                for (int d = v->ndim - 1; d >= 0; d--) {
                        int l = n->ein[j][d];
                        if (v->cshape[d] != 1 || size[l] == 1)
                                size[l] = v->cshape[d] > size[l]
                                          ? v->cshape[d] : size[l];
                        /* a dim of 1 broadcasts (ellipsis) */
                        str[j][l] += v->cshape[d] == 1 ? 0 : s;
                        s *= v->cshape[d];
                }
        }
        for (int l = 0; l < nl; l++)
                total *= size[l];
        for (int64_t e = 0; e < o->celems; e++)
                stf(po, o->dtype, e, 0);
        for (int64_t t = 0; t < total; t++) {
                double prod = 1;
                int64_t oo = 0;
                for (int j = 0; j < no; j++) {
                        int64_t off = 0;
                        for (int l = 0; l < nl; l++)
                                off += idx[l] * str[j][l];
                        prod *= ldf(p[j], m->vals[n->in[j]].dtype, off);
                }
                for (int l = 0; l < nl; l++)
                        oo += idx[l] * str[no][l];
                stf(po, o->dtype, oo, ldf(po, o->dtype, oo) + prod);
                for (int l = nl - 1; l >= 0; l--) {
                        if (++idx[l] < size[l])
                                break;
                        idx[l] = 0;
                }
        }
        return SWARM_OK;
}

static double sat_q(double v, swarm_dtype_t dt) {
        double lo = dt == SWARM_DTYPE_INT8 ? -128 : 0;
        double hi = dt == SWARM_DTYPE_INT8 ? 127 : 255;
        return v < lo ? lo : v > hi ? hi : v;
}

static int run_quant(swarm_model_t *m, const xnode_t *n, void *const *p,
                     void *const *pout) {
        const xvalue_t *x = in_v(m, n, 0), *s = in_v(m, n, 1);
        const xvalue_t *z = in_v(m, n, 2), *o = &m->vals[n->out];
        int64_t outer, len, inner;
        if (n->hi[0] == 2) {
                /* in float32, as the reference computes it */
                float mn = 0, mx = 0, sc, zp;
                for (int64_t i = 0; i < x->celems; i++) {
                        float v = (float)ldf(p[0], x->dtype, i);
                        mn = v < mn ? v : mn;
                        mx = v > mx ? v : mx;
                }
                sc = (mx - mn) / 255.0f;
                zp = sc != 0 ? (float)sat_q(nearbyintf(-mn / sc), o->dtype)
                             : 0;
                for (int64_t i = 0; i < x->celems; i++)
                        stf(pout[0], o->dtype, i,
                            sat_q((double)nearbyintf(sc != 0
                                  ? (float)ldf(p[0], x->dtype, i) / sc : 0) +
                                  zp, o->dtype));
                if (n->n_xo > 0 && pout[1])
                        stf(pout[1], SWARM_DTYPE_FLOAT32, 0, sc);
                if (n->n_xo > 1 && pout[2])
                        stf(pout[2], SWARM_DTYPE_UINT8, 0, zp);
                return SWARM_OK;
        }
        around(x, x->ndim ? n->axis : 0, &outer, &len, &inner);
        if (!x->ndim)
                outer = len = inner = 1;
        for (int64_t a = 0; a < outer; a++)
                for (int64_t k = 0; k < len; k++)
                        for (int64_t c = 0; c < inner; c++) {
                                int64_t at = (a * len + k) * inner + c;
                                int64_t q = s->celems == 1 ? 0 : k;
                                double sc = ldf(p[1], s->dtype, q);
                                double zp = z ? ldf(p[2], z->dtype,
                                                    z->celems == 1 ? 0 : q)
                                              : 0;
                                double v = ldf(p[0], x->dtype, at);
                                if (n->hi[0] == 0)
                                        stf(pout[0], o->dtype, at,
                                            sat_q((double)nearbyintf(
                                                  (float)v / (float)sc) + zp,
                                                  o->dtype));
                                else
                                        stf(pout[0], o->dtype, at,
                                            (v - zp) * sc);
                        }
        return SWARM_OK;
}

static int run_revseq(swarm_model_t *m, const xnode_t *n, void *const *p,
                      void *po) {
        const xvalue_t *x = in_v(m, n, 0), *sl = in_v(m, n, 1);
        int64_t xs[SWARM_MAX_DIMS], idx[SWARM_MAX_DIMS] = {0};
        int ba = (int)n->hi[0], ta = (int)n->hi[1];
        size_t es = swarm_dtype_size(x->dtype);
        cstr(x->cshape, x->ndim, xs);
        for (int64_t e = 0; e < x->celems; e++) {
                int64_t len = ldi(p[1], sl->dtype, idx[ba]), t = idx[ta];
                int64_t src = e;
                if (len > x->cshape[ta])
                        len = x->cshape[ta];
                if (t < len)
                        src = e + (len - 1 - 2 * t) * xs[ta];
                memcpy((char *)po + (size_t)e * es,
                       (const char *)p[0] + (size_t)src * es, es);
                index_next(idx, x->cshape, x->ndim);
        }
        return SWARM_OK;
}

/* Det of [..., M, M] by LU with partial pivoting, in double. */
static int run_det(const xvalue_t *x, const xvalue_t *o, const void *px,
                   void *po, swarm_err_t *err) {
        int64_t M = x->cshape[x->ndim - 1];
        double *a = malloc((size_t)(M * M + 1) * sizeof(double));
        if (!a)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        for (int64_t q = 0; q < o->celems; q++) {
                double det = 1;
                for (int64_t i = 0; i < M * M; i++)
                        a[i] = ldf(px, x->dtype, q * M * M + i);
                for (int64_t c = 0; c < M && det != 0; c++) {
                        int64_t piv = c;
                        for (int64_t r = c + 1; r < M; r++)
                                if (fabs(a[r * M + c]) > fabs(a[piv * M + c]))
                                        piv = r;
                        if (a[piv * M + c] == 0) {
                                det = 0;
                                break;
                        }
                        if (piv != c) {
                                for (int64_t k = 0; k < M; k++) {
                                        double t = a[c * M + k];
                                        a[c * M + k] = a[piv * M + k];
                                        a[piv * M + k] = t;
                                }
                                det = -det;
                        }
                        det *= a[c * M + c];
                        for (int64_t r = c + 1; r < M; r++) {
                                double f = a[r * M + c] / a[c * M + c];
                                for (int64_t k = c; k < M; k++)
                                        a[r * M + k] -= f * a[c * M + k];
                        }
                }
                stf(po, o->dtype, q, det);
        }
        free(a);
        return SWARM_OK;
}

/* Split along n->axis into the outputs, in order. */
static int run_split(swarm_model_t *m, const xnode_t *n, const xvalue_t *x,
                     const void *px, void *const *pout) {
        int64_t outer, len, inner, at = 0;
        size_t es = swarm_dtype_size(x->dtype);
        around(x, n->axis, &outer, &len, &inner);
        /* hp[k]: part k's size (outputs left out still take theirs) */
        for (int k = 0; k <= n->n_xo; k++) {
                int id = k ? n->xo[k - 1] : n->out;
                int64_t part = n->hp[k];
                if (id >= 0 && pout[k])
                        for (int64_t a = 0; a < outer; a++)
                                memcpy((char *)pout[k] +
                                       (size_t)(a * part * inner) * es,
                                       (const char *)px +
                                       (size_t)((a * len + at) * inner) * es,
                                       (size_t)(part * inner) * es);
                at += part;
        }
        return SWARM_OK;
}

/* ---- dispatch ---- */


int exec_multi_output(const char *op_type) {
        static const struct {
                const char *op;
                int outs;
        } T[] = {{"TopK", 2}, {"Split", 16}, {"RNN", 2}, {"GRU", 2},
                 {"LSTM", 3}, {"SoftmaxCrossEntropyLoss", 2},
                 {"DynamicQuantizeLinear", 3}, {"Dropout", 2},
                 {"Loop", 4096}, {"If", 4096}};
        for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++)
                if (strcmp(op_type, T[i].op) == 0)
                        return T[i].outs;
        return 0;
}

/* pout[0] is the first output, pout[1 + k] extra output k (NULL when the
 * model leaves it out). */
static int kernel(swarm_model_t *m, const xnode_t *n, void *const *p,
                  void *const *pout, swarm_err_t *err) {
        void *po = pout[0], *po2 = n->n_xo > 0 ? pout[1] : NULL;
        const xvalue_t *x = in_v(m, n, 0), *o = &m->vals[n->out];
        switch (n->hk) {
        case HK_BINARY:
                return run_binary(n, x, in_v(m, n, 1), o, p[0], p[1], po);
        case HK_UNARY:
        case HK_CAST:
                return run_unary(n, x, o, p[0], po);
        case HK_WHERE:
                return run_where(x, in_v(m, n, 1), in_v(m, n, 2), o, p[0],
                                 p[1], p[2], po);
        case HK_STRIDED: {
                int64_t ys[SWARM_MAX_DIMS], ws[SWARM_MAX_DIMS];
                int nd = exec_walk(n, o, ws);
                cstr(ws, nd, ys);
                strided(nd, ws, p[0], n->xoff, n->xstr, po, 0, ys,
                        swarm_dtype_size(o->dtype));
                return SWARM_OK;
        }
        case HK_CONCAT: {
                int64_t ys[SWARM_MAX_DIMS], xs[SWARM_MAX_DIMS], at = 0;
                cstr(o->cshape, o->ndim, ys);
                for (int j = 0; j < n->n_in; j++) {
                        const xvalue_t *v = in_v(m, n, j);
                        cstr(v->cshape, v->ndim, xs);
                        if (v->celems > 0)
                                strided(v->ndim, v->cshape, p[j], 0, xs, po,
                                        at * ys[n->axis], ys,
                                        swarm_dtype_size(o->dtype));
                        at += v->cshape[n->axis];
                }
                return SWARM_OK;
        }
        case HK_PAD: {
                /* fill with in[1]'s one value, then copy x inside */
                int64_t ys[SWARM_MAX_DIMS], xs[SWARM_MAX_DIMS];
                int64_t zs[SWARM_MAX_DIMS] = {0};
                size_t es = swarm_dtype_size(o->dtype);
                cstr(o->cshape, o->ndim, ys);
                cstr(x->cshape, x->ndim, xs);
                strided(o->ndim, o->cshape, p[1], 0, zs, po, 0, ys, es);
                strided(x->ndim, x->cshape, p[0], 0, xs, po, n->xoff, ys, es);
                return SWARM_OK;
        }
        case HK_GATHER:
                return run_gather(n, x, in_v(m, n, 1), o, p[0], p[1], po,
                                  err);
        case HK_GATHER_ELEMENTS:
                return run_elements(n, x, in_v(m, n, 1), NULL, p[0], p[1],
                                    NULL, po, err);
        case HK_SCATTER_ELEMENTS:
                return run_elements(n, x, in_v(m, n, 1), in_v(m, n, 2), p[0],
                                    p[1], p[2], po, err);
        case HK_GATHER_ND:
                return run_gather_nd(n, x, in_v(m, n, 1), p[0], p[1], po,
                                     err);
        case HK_SCATTER_ND:
                return run_scatter_nd(n, x, in_v(m, n, 1), in_v(m, n, 2),
                                      p[0], p[1], p[2], po, err);
        case HK_ARGMAX:
                return run_argmax(n, x, p[0], po);
        case HK_CUMSUM:
                return run_cumsum(n, x, o, p[0], po);
        case HK_TRILU:
                return run_trilu(n, x, p[0], po);
        case HK_TILE:
                return run_tile(x, o, p[0], po);
        case HK_ONEHOT:
                return run_onehot(n, x, in_v(m, n, 2), o, p[0], p[2], po);
        case HK_TOPK:
                return run_topk(n, x, o, p[0], po, po2, err);
        case HK_INSTNORM:
                return run_instnorm(n, x, p[0], p[1], p[2], po);
        case HK_LPNORM:
                return run_lpnorm(n, x, p[0], po);
        case HK_REDUCE:
                if (run_reduce(n, x, o, p[0], po))
                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                             "out of memory");
                return SWARM_OK;
        case HK_CONVT:
                return run_convt(n, x, in_v(m, n, 1), in_v(m, n, 2), o, p[0],
                                 p[1], p[2], po);
        case HK_RESIZE:
                return run_resize(n, x, o, p[0], p[1], po, err);
        case HK_RNN:
                return run_rnn(m, n, p, pout, err);
        case HK_LOSS:
                return run_loss(m, n, p, pout, err);
        case HK_PADM:
                return run_padm(n, x, o, p[0], po);
        case HK_EYE:
                for (int64_t i = 0; i < o->cshape[0]; i++)
                        for (int64_t j = 0; j < o->cshape[1]; j++)
                                sti(po, o->dtype, i * o->cshape[1] + j,
                                    j - i == n->hi[1]);
                return SWARM_OK;
        case HK_LRN:
                return run_lrn(n, x, p[0], po);
        case HK_EINSUM:
                return run_einsum(m, n, p, po);
        case HK_QUANT:
                return run_quant(m, n, p, pout);
        case HK_REVSEQ:
                return run_revseq(m, n, p, po);
        case HK_DROPOUT:
                memcpy(po, p[0], (size_t)o->celems *
                       swarm_dtype_size(o->dtype));
                if (po2)
                        memset(po2, 1, (size_t)o->celems);
                return SWARM_OK;
        case HK_DET:
                return run_det(x, o, p[0], po, err);
        case HK_SPLIT:
                return run_split(m, n, x, p[0], pout);
        case HK_HARDMAX:
                return run_hardmax(n, x, p[0], po);
        case HK_RANGE:
                return run_range(x, in_v(m, n, 2), o, p[0], p[2], po);
        default:
                return swarm_err_set(err, SWARM_ERR_STATE, "bad host kernel");
        }
}

static size_t vbytes(const xvalue_t *v) {
        return (size_t)v->celems * swarm_dtype_size(v->dtype);
}

/* ConvTranspose on the backend's kernel (the loader set hi[1] because it
 * has one): the geometry of run_convt, on device buffers. */
static int convt_on_backend(swarm_model_t *m, swarm_backend_t *be,
                            const xnode_t *n, swarm_err_t *err) {
        const xvalue_t *x = in_v(m, n, 0), *w = in_v(m, n, 1);
        const xvalue_t *b = in_v(m, n, 2), *o = &m->vals[n->out];
        int sd = (int)n->hi[0];
        swarm_convt_t g;

        memset(&g, 0, sizeof(g));
        g.n = x->cshape[0];
        g.c = x->cshape[1];
        g.m = o->cshape[1];
        g.group = n->group;
        for (int d = 0; d < 3; d++) {
                int s = d - (3 - sd);   /* the model's spatial dim */
                g.in[d] = s >= 0 ? x->cshape[2 + s] : 1;
                g.out[d] = s >= 0 ? o->cshape[2 + s] : 1;
                g.k[d] = s >= 0 ? w->cshape[2 + s] : 1;
                g.stride[d] = n->hp[d];
                g.dil[d] = n->hp[3 + d];
                g.pad[d] = n->hp[6 + d];
        }
        return be->conv_transpose(be, &g, x->dev, w->dev, b ? b->dev : NULL,
                                  o->dev, err);
}

/* Resize on the backend's `resample` (the loader set hi[3]): the taps of
 * make_taps as per-dim tables, NULL for the dims it copies. */
static int resize_on_backend(swarm_model_t *m, swarm_backend_t *be,
                             const xnode_t *n, swarm_err_t *err) {
        const xvalue_t *x = in_v(m, n, 0), *o = &m->vals[n->out];
        const xvalue_t *r = n->n_in > 1 ? in_v(m, n, 1) : NULL;
        int nd = x->ndim, taps = n->hi[0] == 0 ? 1 : n->hi[0] == 1 ? 2 : 4;
        int64_t *idx[SWARM_MAX_DIMS] = {NULL};
        float *wt[SWARM_MAX_DIMS] = {NULL}, roi[2 * SWARM_MAX_DIMS];
        int rc = SWARM_OK;

        if (r && (rc = be->download(be, roi, r->dev,
                                    (size_t)(2 * nd) * sizeof(float), err)))
                return rc;
        for (int d = 0; d < nd && !rc; d++) {
                int64_t in = x->cshape[d], out = o->cshape[d];
                int same = in == out;
                /* out * taps entries: out is a dim of a resolved tensor */
                idx[d] = malloc((size_t)(out * taps + 1) * sizeof(int64_t));
                wt[d] = malloc((size_t)(out * taps + 1) * sizeof(float));
                if (!idx[d] || !wt[d]) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                        break;
                }
                for (int64_t i = 0; i < out; i++) {
                        taps_t t;
                        make_taps(n, r ? roi : NULL, nd, d, in, out, i, &t);
                        for (int k = 0; k < taps; k++) {
                                idx[d][i * taps + k] = k < t.n ? t.idx[k] : 0;
                                wt[d][i * taps + k] =
                                        k < t.n ? (float)t.w[k] : 0.0f;
                                if (k != 0 && wt[d][i * taps + k] != 0.0f)
                                        same = 0;
                        }
                        if (t.outside)
                                idx[d][i * taps] = -1;
                        if (t.outside || idx[d][i * taps] != i ||
                            wt[d][i * taps] != 1.0f)
                                same = 0;
                }
                if (same) {     /* copied as it is: no table */
                        free(idx[d]);
                        free(wt[d]);
                        idx[d] = NULL;
                        wt[d] = NULL;
                }
        }
        if (!rc)
                rc = be->resample(be, nd, x->cshape, o->cshape, taps,
                                  (const int64_t *const *)idx,
                                  (const float *const *)wt, n->act_beta,
                                  x->dev, o->dev, err);
        for (int d = 0; d < nd; d++) {
                free(idx[d]);
                free(wt[d]);
        }
        return rc;
}

int exec_host_run(swarm_model_t *m, swarm_backend_t *be, const xnode_t *n,
                  swarm_err_t *err) {
        void *p[64] = {NULL}, *pout[65] = {NULL};
        int rc = SWARM_OK, no = 1 + n->n_xo;

        if (n->hk == HK_CONVT && n->hi[1] && be->conv_transpose)
                return convt_on_backend(m, be, n, err);
        if (n->hk == HK_RESIZE && n->hi[3] && be->resample)
                return resize_on_backend(m, be, n, err);
        if (n->n_in > 64 || n->n_xo > 64)
                return swarm_err_set(err, SWARM_ERR_STATE, "bad plan");
        if (be->host_mem) {
                for (int j = 0; j < n->n_in; j++)
                        p[j] = n->in[j] >= 0 ? m->vals[n->in[j]].dev : NULL;
                pout[0] = m->vals[n->out].dev;
                for (int k = 0; k < n->n_xo; k++)
                        pout[1 + k] = n->xo[k] >= 0 ? m->vals[n->xo[k]].dev
                                                    : NULL;
                return kernel(m, n, p, pout, err);
        }
        /* A device backend: stage through host memory. */
        for (int j = 0; j < n->n_in && !rc; j++) {
                const xvalue_t *v;
                if (n->in[j] < 0)
                        continue;
                v = &m->vals[n->in[j]];
                p[j] = malloc(vbytes(v) + 1);
                if (!p[j])
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                else if (vbytes(v))
                        rc = be->download(be, p[j], v->dev, vbytes(v), err);
        }
        for (int k = 0; k < no && !rc; k++) {
                int id = k ? n->xo[k - 1] : n->out;
                if (id < 0)
                        continue;
                pout[k] = malloc(vbytes(&m->vals[id]) + 1);
                if (!pout[k])
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
        }
        if (!rc)
                rc = kernel(m, n, p, pout, err);
        for (int k = 0; k < no && !rc; k++) {
                int id = k ? n->xo[k - 1] : n->out;
                if (id >= 0 && vbytes(&m->vals[id]))
                        rc = be->upload(be, m->vals[id].dev, pout[k],
                                        vbytes(&m->vals[id]), err);
        }
        for (int j = 0; j < n->n_in; j++)
                free(p[j]);
        for (int k = 0; k < no; k++)
                free(pout[k]);
        return rc;
}

int exec_host_fold(swarm_model_t *m, const xnode_t *n, void *out,
                   swarm_err_t *err) {
        void *p[64] = {NULL}, *pout[1] = {out};
        if (n->n_in > 64 || n->n_xo)
                return swarm_err_set(err, SWARM_ERR_STATE, "bad plan");
        for (int j = 0; j < n->n_in; j++)
                p[j] = n->in[j] >= 0 ? m->vals[n->in[j]].host : NULL;
        return kernel(m, n, p, pout, err);
}
