/*
 * conv_taps.c - which taps of a convolution window read only padding
 * (conv_taps.h).
 *
 * Tap r of output cell o reads input cell o * stride - pad_lo + r * dil.
 * Over all o in [0, out) that runs from r * dil - pad_lo to span - pad_lo
 * + r * dil, span = (out - 1) * stride.  A tap is dead low when even its
 * last read is below 0, dead high when even its first read is at or past
 * `in`; dead taps are contiguous at each end, because the reads move up
 * with r.  Dropping `first` taps at the front takes first * dil off
 * pad_lo; dropping taps at the back takes dil each off pad_hi.  The sum
 * in + pad_lo + pad_hi - (k - 1) * dil - 1 that sets the output length is
 * the same before and after, so `out` is too.
 */
#include <string.h>

#include "conv_taps.h"

static int64_t ceil_div(int64_t a, int64_t b) {     /* b > 0 */
        return a / b + (a % b > 0);
}

int exec_conv_taps(int64_t in, int64_t out, int64_t k, int64_t stride,
                   int64_t dil, int64_t pad_lo, int64_t pad_hi,
                   exec_taps_t *t) {
        int64_t span, first, last, top, ext;

        if (in < 1 || out < 1 || k < 2 || stride < 1 || dil < 1 ||
            pad_lo < 0 || pad_hi < 0 || (pad_lo == 0 && pad_hi == 0))
                return 0;
        if (__builtin_mul_overflow(out - 1, stride, &span) ||
            __builtin_add_overflow(in, pad_lo, &top) ||
            __builtin_mul_overflow(k - 1, dil, &ext))
                return 0;
        /* first: the least r with span - pad_lo + r * dil >= 0 */
        first = pad_lo > span ? ceil_div(pad_lo - span, dil) : 0;
        /* last: the greatest r with r * dil - pad_lo < in */
        last = (top - 1) / dil;
        if (last > k - 1)
                last = k - 1;
        if (first > last)
                return 0;       /* no tap reads the input */
        /* A kept end tap whose reads start inside the input would need a
         * negative pad (a crop, which the kernels do not take): keep taps
         * until the pad is >= 0.  Products below are at most ext. */
        if (first > pad_lo / dil)
                first = pad_lo / dil;
        if (k - 1 - last > pad_hi / dil)
                last = k - 1 - pad_hi / dil;
        if (first == 0 && last == k - 1)
                return 0;
        t->first = first;
        t->count = last - first + 1;
        t->pad_lo = pad_lo - first * dil;
        t->pad_hi = pad_hi - (k - 1 - last) * dil;
        return 1;
}

void exec_conv_taps_slice(const float *w, int64_t filters, int64_t kh,
                          int64_t kw, const exec_taps_t *th,
                          const exec_taps_t *tw, float *dst) {
        for (int64_t f = 0; f < filters; f++)
                for (int64_t r = 0; r < th->count; r++) {
                        const float *src = w + (f * kh + th->first + r) * kw +
                                           tw->first;
                        memcpy(dst, src, (size_t)tw->count * sizeof(float));
                        dst += tw->count;
                }
}
