/*
 * test_rnn.c - the CPU backend's fused RNN / GRU / LSTM (backend.h `rnn`,
 * lib/exec/cpu_rnn.c).
 *
 * 1. The kernel against a naive double reference written here from the
 *    ONNX operator's definition: RNN, GRU (both linear_before_reset), LSTM
 *    (peepholes, input_forget, clip), default and other activations,
 *    forward / reverse / bidirectional, layout 0 and 1, sequence_lens with
 *    rows shorter than the sequence (and empty), initial states, batch 1,
 *    3, 16 and past the sizes where the recurrent product and the input
 *    projection go to sgemm and the rows split across lanes, hidden sizes
 *    that are not multiples of the vector width, on 1, 2 and 3 lanes.
 * 2. Whole one-node ONNX models (onnx_build.h) loaded twice: on the CPU
 *    backend (fused, no host step) and on one whose `rnn` entry is NULL
 *    (the host kernel the node was lowered to before), every output
 *    compared.
 * 3. Refusals: hidden_size 0, negative and huge, W / R shapes that do not
 *    match it, at load; bad descriptors and sequence lengths, and sizes
 *    whose products overflow, in the kernel.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "swarm/model.h"

#include "check.h"
#include "cpu_rnn.h"
#include "onnx_build.h"

/* The two attribute kinds onnx_build.h has no helper for. */
static void attr_fs(bld_t *b, Onnx__NodeProto *n, const char *name, int cnt,
                    const float *v) {
        Onnx__AttributeProto *a = ba(b, sizeof(*a));
        onnx__attribute_proto__init(a);
        a->name = bs(b, name);
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
        a->n_floats = (size_t)cnt;
        a->floats = ba(b, (size_t)cnt * sizeof(float) + 1);
        memcpy(a->floats, v, (size_t)cnt * sizeof(float));
        n->attribute[n->n_attribute++] = a;
}

/* STRINGS from a comma-separated list. */
static void attr_ss(bld_t *b, Onnx__NodeProto *n, const char *name,
                    const char *csv) {
        Onnx__AttributeProto *a = ba(b, sizeof(*a));
        char **l;
        onnx__attribute_proto__init(a);
        a->name = bs(b, name);
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
        a->n_strings = names(b, csv, &l);
        a->strings = ba(b, 8 * sizeof(*a->strings));
        for (size_t i = 0; i < a->n_strings; i++) {
                a->strings[i].data = (uint8_t *)l[i];
                a->strings[i].len = strlen(l[i]);
        }
        n->attribute[n->n_attribute++] = a;
}

typedef struct cfg {
        const char *name;
        int kind, dirs, reverse, layout, lbr, ifg;
        int64_t T, B, I, H;
        float clip;
        int n_act;              /* 0: the defaults */
        swarm_rnn_act_t act[3];
        float alpha[3], beta[3];
        int bias, peep, h0, c0, lens;
} cfg_t;

static const char *const ACT_NAME[] = {
        "Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu", "ThresholdedRelu",
        "ScaledTanh", "HardSigmoid", "Elu", "Softsign", "Softplus"};

static double act_ref(swarm_rnn_act_t k, double x, double a, double b) {
        switch (k) {
        case SWARM_RNN_RELU: return x > 0 ? x : 0;
        case SWARM_RNN_TANH: return tanh(x);
        case SWARM_RNN_SIGMOID: return 1 / (1 + exp(-x));
        case SWARM_RNN_AFFINE: return a * x + b;
        case SWARM_RNN_LEAKY_RELU: return x < 0 ? a * x : x;
        case SWARM_RNN_THRESHOLDED_RELU: return x > a ? x : 0;
        case SWARM_RNN_SCALED_TANH: return a * tanh(b * x);
        case SWARM_RNN_HARD_SIGMOID: {
                double v = a * x + b;
                return v < 0 ? 0 : v > 1 ? 1 : v;
        }
        case SWARM_RNN_ELU: return x < 0 ? a * (exp(x) - 1) : x;
        case SWARM_RNN_SOFTSIGN: return x / (1 + fabs(x));
        case SWARM_RNN_SOFTPLUS: return log(1 + exp(x));
        }
        return x;
}

static int G_of(int kind) {
        return kind == 0 ? 1 : kind == 1 ? 3 : 4;
}

/* The activations of a config, defaults filled in. */
static void acts_of(const cfg_t *c, swarm_rnn_act_t *a, float *al,
                    float *be) {
        swarm_rnn_act_t def[3] = {
                c->kind ? SWARM_RNN_SIGMOID : SWARM_RNN_TANH,
                SWARM_RNN_TANH, SWARM_RNN_TANH};
        for (int j = 0; j < 3; j++) {
                a[j] = c->n_act ? c->act[j] : def[j];
                al[j] = c->n_act ? c->alpha[j] : 0;
                be[j] = c->n_act ? c->beta[j] : 0;
        }
}

/* Inputs of one case. */
typedef struct data {
        float *x, *w, *r, *b, *p, *h0, *c0;
        int32_t *lens;
        int64_t nx, nw, nr, nb, np, ns, ny;
} data_t;

static uint32_t rng = 2463534242u;

static float frand(void) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        return (float)(rng % 20001) / 10000.0f - 1.0f;
}

static float *rnd(int64_t n, float scale) {
        float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
        if (!p)
                abort();
        for (int64_t i = 0; i < n; i++)
                p[i] = frand() * scale;
        return p;
}

static void data_new(const cfg_t *c, data_t *d) {
        int64_t G = G_of(c->kind), D = c->dirs;
        memset(d, 0, sizeof(*d));
        d->nx = c->T * c->B * c->I;
        d->nw = D * G * c->H * c->I;
        d->nr = D * G * c->H * c->H;
        d->nb = D * 2 * G * c->H;
        d->np = D * 3 * c->H;
        d->ns = D * c->B * c->H;
        d->ny = c->T * D * c->B * c->H;
        d->x = rnd(d->nx, 1.5f);
        d->w = rnd(d->nw, 0.6f);
        d->r = rnd(d->nr, 0.6f);
        d->b = c->bias ? rnd(d->nb, 0.5f) : NULL;
        d->p = c->peep ? rnd(d->np, 0.5f) : NULL;
        d->h0 = c->h0 ? rnd(d->ns, 0.8f) : NULL;
        d->c0 = c->c0 ? rnd(d->ns, 0.8f) : NULL;
        if (c->lens) {
                d->lens = malloc((size_t)c->B * sizeof(int32_t));
                for (int64_t b = 0; b < c->B; b++)
                        /* T, then shorter rows down to 0, cycling */
                        d->lens[b] = (int32_t)((c->T - b % (c->T + 1)));
        }
}

static void data_free(data_t *d) {
        free(d->x);
        free(d->w);
        free(d->r);
        free(d->b);
        free(d->p);
        free(d->h0);
        free(d->c0);
        free(d->lens);
}

/* The ONNX definition, in double, one row and step at a time. */
static void ref(const cfg_t *c, const data_t *dt, double *Y, double *Yh,
                double *Yc) {
        int64_t T = c->T, B = c->B, I = c->I, H = c->H, D = c->dirs;
        int64_t G = G_of(c->kind), GH = G * H;
        swarm_rnn_act_t a[3];
        float al[3], be[3];
        double cl = c->clip > 0 ? c->clip : INFINITY;
        double *h = calloc((size_t)H, sizeof(double));
        double *cc = calloc((size_t)H, sizeof(double));
        double *g = calloc((size_t)GH, sizeof(double));
        double *hn = calloc((size_t)H, sizeof(double));

        acts_of(c, a, al, be);
        memset(Y, 0, (size_t)dt->ny * sizeof(double));
#define CL(v) ((v) < -cl ? -cl : (v) > cl ? cl : (v))
#define F(j, v) act_ref(a[j], (v), al[j], be[j])
        for (int64_t d = 0; d < D; d++) {
                int rev = D == 2 ? d == 1 : c->reverse;
                const float *W = dt->w + d * GH * I, *R = dt->r + d * GH * H;
                const float *Wb = dt->b ? dt->b + d * 2 * GH : NULL;
                const float *Rb = Wb ? Wb + GH : NULL;
                const float *P = dt->p ? dt->p + d * 3 * H : NULL;
                for (int64_t b = 0; b < B; b++) {
                        int64_t len = dt->lens ? dt->lens[b] : T;
                        int64_t so = c->layout ? (b * D + d) * H
                                               : (d * B + b) * H;
                        for (int64_t k = 0; k < H; k++) {
                                h[k] = dt->h0 ? dt->h0[so + k] : 0;
                                cc[k] = dt->c0 ? dt->c0[so + k] : 0;
                        }
                        for (int64_t s = 0; s < len; s++) {
                                int64_t t = rev ? len - 1 - s : s;
                                const float *x = dt->x +
                                        (c->layout ? b * T + t : t * B + b) * I;
                                /* xW^T + Wb and hR^T + Rb per gate row */
                                for (int64_t q = 0; q < GH; q++) {
                                        double v = Wb ? Wb[q] : 0;
                                        for (int64_t i = 0; i < I; i++)
                                                v += (double)x[i] * W[q * I + i];
                                        g[q] = v;
                                }
                                if (c->kind == 0) {
                                        for (int64_t k = 0; k < H; k++) {
                                                double v = g[k] + (Rb ? Rb[k] : 0);
                                                for (int64_t i = 0; i < H; i++)
                                                        v += h[i] * R[k * H + i];
                                                hn[k] = F(0, CL(v));
                                        }
                                } else if (c->kind == 1) {
                                        double z[256], r[256];
                                        for (int64_t k = 0; k < H; k++) {
                                                double vz = g[k] + (Rb ? Rb[k] : 0);
                                                double vr = g[H + k] + (Rb ? Rb[H + k] : 0);
                                                for (int64_t i = 0; i < H; i++) {
                                                        vz += h[i] * R[k * H + i];
                                                        vr += h[i] * R[(H + k) * H + i];
                                                }
                                                z[k] = F(0, CL(vz));
                                                r[k] = F(0, CL(vr));
                                        }
                                        for (int64_t k = 0; k < H; k++) {
                                                double rb = Rb ? Rb[2 * H + k] : 0;
                                                double acc = 0, v;
                                                for (int64_t i = 0; i < H; i++)
                                                        acc += (c->lbr ? h[i] : r[i] * h[i]) *
                                                               R[(2 * H + k) * H + i];
                                                v = c->lbr ? g[2 * H + k] + r[k] * (acc + rb)
                                                           : g[2 * H + k] + acc + rb;
                                                v = F(1, CL(v));
                                                hn[k] = (1 - z[k]) * v + z[k] * h[k];
                                        }
                                } else {
                                        for (int64_t k = 0; k < H; k++) {
                                                double v[4], it, ft, ct, ot;
                                                for (int q = 0; q < 4; q++) {
                                                        v[q] = g[q * H + k] + (Rb ? Rb[q * H + k] : 0);
                                                        for (int64_t i = 0; i < H; i++)
                                                                v[q] += h[i] * R[(q * H + k) * H + i];
                                                }
                                                if (P) {
                                                        v[0] += P[k] * cc[k];
                                                        v[2] += P[2 * H + k] * cc[k];
                                                }
                                                it = F(0, CL(v[0]));
                                                ft = c->ifg ? 1 - it : F(0, CL(v[2]));
                                                ct = F(1, CL(v[3]));
                                                cc[k] = ft * cc[k] + it * ct;
                                                if (P)
                                                        v[1] += P[H + k] * cc[k];
                                                ot = F(0, CL(v[1]));
                                                hn[k] = ot * F(2, cc[k]);
                                        }
                                }
                                memcpy(h, hn, (size_t)H * sizeof(double));
                                for (int64_t k = 0; k < H; k++)
                                        Y[(c->layout ? (b * T + t) * D + d
                                                     : (t * D + d) * B + b) * H + k] = h[k];
                        }
                        for (int64_t k = 0; k < H; k++) {
                                Yh[so + k] = h[k];
                                Yc[so + k] = cc[k];
                        }
                }
        }
#undef CL
#undef F
        free(h);
        free(cc);
        free(g);
        free(hn);
}

static int close_to(double got, double want) {
        return fabs(got - want) <= 2e-4 + 2e-4 * fabs(want);
}

/* got (float) against want (double) over n values; reports the first
 * miss. */
static void compare(const char *what, const cfg_t *c, const float *got,
                    const double *want, int64_t n) {
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < n; i++)
                if (!close_to(got[i], want[i])) {
                        if (first < 0)
                                first = i;
                        bad++;
                }
        CHECK(bad == 0, "%s %s: %lld of %lld off, first [%lld] %g vs %g",
              c->name, what, (long long)bad, (long long)n, (long long)first,
              first >= 0 ? got[first] : 0.0,
              first >= 0 ? want[first] : 0.0);
}

static void desc_of(const cfg_t *c, const data_t *dt, swarm_rnn_t *r) {
        memset(r, 0, sizeof(*r));
        r->kind = c->kind;
        r->dirs = c->dirs;
        r->reverse = c->reverse;
        r->layout = c->layout;
        r->linear_before_reset = c->lbr;
        r->input_forget = c->ifg;
        r->seq = c->T;
        r->batch = c->B;
        r->input = c->I;
        r->hidden = c->H;
        r->clip = c->clip;
        for (int d = 0; d < 2; d++)
                acts_of(c, r->act[d], r->act_alpha[d], r->act_beta[d]);
        r->x = dt->x;
        r->w = dt->w;
        r->r = dt->r;
        r->b = dt->b;
        r->p = dt->p;
        r->h0 = dt->h0;
        r->c0 = dt->c0;
        r->seq_lens = dt->lens;
}

/* 1. the kernel against the reference, on be with kernel set isa */
static void kernel_case(swarm_backend_t *be, cpu_isa_t isa, const cfg_t *c) {
        data_t dt;
        swarm_rnn_t r;
        swarm_err_t err;
        double *Y, *Yh, *Yc;
        float *y, *yh, *yc;

        data_new(c, &dt);
        Y = malloc((size_t)(dt.ny + 1) * sizeof(double));
        Yh = malloc((size_t)(dt.ns + 1) * sizeof(double));
        Yc = malloc((size_t)(dt.ns + 1) * sizeof(double));
        y = malloc((size_t)(dt.ny + 1) * sizeof(float));
        yh = malloc((size_t)(dt.ns + 1) * sizeof(float));
        yc = malloc((size_t)(dt.ns + 1) * sizeof(float));
        /* poison: every output element must be written */
        for (int64_t i = 0; i < dt.ny; i++)
                y[i] = NAN;
        for (int64_t i = 0; i < dt.ns; i++)
                yh[i] = yc[i] = NAN;
        ref(c, &dt, Y, Yh, Yc);
        desc_of(c, &dt, &r);
        r.y = y;
        r.yh = yh;
        r.yc = c->kind == 2 ? yc : NULL;
        swarm_err_clear(&err);
        CHECK_OK(exec_cpu_rnn_isa(be, isa, &r, &err), err);
        compare("Y", c, y, Y, dt.ny);
        compare("Y_h", c, yh, Yh, dt.ns);
        if (c->kind == 2)
                compare("Y_c", c, yc, Yc, dt.ns);
        /* and without Y (only the final states asked for) */
        for (int64_t i = 0; i < dt.ns; i++)
                yh[i] = NAN;
        r.y = NULL;
        CHECK_OK(exec_cpu_rnn_isa(be, isa, &r, &err), err);
        compare("Y_h without Y", c, yh, Yh, dt.ns);
        free(Y);
        free(Yh);
        free(Yc);
        free(y);
        free(yh);
        free(yc);
        data_free(&dt);
}

/* 2. a one-node model of the case */
static uint8_t *model_of(const cfg_t *c, const data_t *dt, size_t *len) {
        static const char *const OP[] = {"RNN", "GRU", "LSTM"};
        int64_t G = G_of(c->kind), D = c->dirs, H = c->H;
        int64_t xd[3] = {c->layout ? c->B : c->T, c->layout ? c->T : c->B,
                         c->I};
        int64_t yd[4] = {c->layout ? c->B : c->T, c->layout ? c->T : D,
                         c->layout ? D : c->B, H};
        int64_t sd[3] = {c->layout ? c->B : D, c->layout ? D : c->B, H};
        char in[128], out[64];
        bld_t b;
        Onnx__NodeProto *n;
        uint8_t *buf;

        bld_init(&b, 14);
        vi(&b, 0, "X", 1, 3, xd);
        init(&b, "W", 3, (const int64_t[]){D, G * H, c->I}, dt->w, 1);
        init(&b, "R", 3, (const int64_t[]){D, G * H, H}, dt->r, 1);
        if (dt->b)
                init(&b, "B", 2, (const int64_t[]){D, 2 * G * H}, dt->b, 1);
        if (dt->lens) {
                /* INT64 (the loader widens INT32 constants anyway; the
                 * kernel cases pass INT32) */
                int64_t l64[128];
                for (int64_t i = 0; i < c->B && i < 128; i++)
                        l64[i] = dt->lens[i];
                init_i64(&b, "L", 1, (const int64_t[]){c->B}, l64);
        }
        if (dt->h0)
                init(&b, "H0", 3, sd, dt->h0, 1);
        if (dt->c0)
                init(&b, "C0", 3, sd, dt->c0, 1);
        if (dt->p)
                init(&b, "P", 2, (const int64_t[]){D, 3 * H}, dt->p, 1);
        snprintf(in, sizeof(in), "X,W,R,%s,%s,%s%s%s",
                 dt->b ? "B" : "-", dt->lens ? "L" : "-",
                 dt->h0 ? "H0" : "-",
                 c->kind == 2 ? (dt->c0 ? ",C0" : ",-") : "",
                 c->kind == 2 ? (dt->p ? ",P" : ",-") : "");
        snprintf(out, sizeof(out), "Y,Yh%s", c->kind == 2 ? ",Yc" : "");
        n = node(&b, "rnn", OP[c->kind], in, out);
        attr_i(&b, n, "hidden_size", H);
        attr_s(&b, n, "direction", D == 2 ? "bidirectional"
                                       : c->reverse ? "reverse" : "forward");
        if (c->layout)
                attr_i(&b, n, "layout", 1);
        if (c->kind == 1)
                attr_i(&b, n, "linear_before_reset", c->lbr);
        if (c->kind == 2 && c->ifg)
                attr_i(&b, n, "input_forget", 1);
        if (c->clip > 0)
                attr_f(&b, n, "clip", c->clip);
        if (c->n_act) {
                /* per direction, with the alpha / beta of those that take
                 * them, in order */
                char names[256] = "";
                float al[12], be[12];
                int na = 0, nb = 0;
                for (int d = 0; d < D; d++)
                        for (int j = 0; j < c->n_act; j++) {
                                swarm_rnn_act_t k = c->act[j];
                                strcat(names, names[0] ? "," : "");
                                strcat(names, ACT_NAME[k]);
                                if (k >= SWARM_RNN_AFFINE &&
                                    k <= SWARM_RNN_ELU)
                                        al[na++] = c->alpha[j];
                                if (k == SWARM_RNN_AFFINE ||
                                    k == SWARM_RNN_SCALED_TANH ||
                                    k == SWARM_RNN_HARD_SIGMOID)
                                        be[nb++] = c->beta[j];
                        }
                attr_ss(&b, n, "activations", names);
                if (na)
                        attr_fs(&b, n, "activation_alpha", na, al);
                if (nb)
                        attr_fs(&b, n, "activation_beta", nb, be);
        }
        vi(&b, 1, "Y", 1, 4, yd);
        vi(&b, 1, "Yh", 1, 3, sd);
        if (c->kind == 2)
                vi(&b, 1, "Yc", 1, 3, sd);
        buf = pack(&b, len);
        bld_free(&b);
        return buf;
}

static int run_model(swarm_model_t *m, const cfg_t *c, const data_t *dt,
                     const void **outs, swarm_err_t *err) {
        int64_t shp[1][SWARM_MAX_DIMS] = {
                {c->layout ? c->B : c->T, c->layout ? c->T : c->B, c->I}};
        const void *in[1] = {dt->x};
        swarm_err_clear(err);
        return swarm_model_run_shaped(m, shp[0][0], shp, in, NULL, outs, err);
}

static void model_case(swarm_backend_t *fused, swarm_backend_t *lowered,
                       const cfg_t *c) {
        data_t dt;
        size_t len;
        uint8_t *buf;
        swarm_model_t *mf = NULL, *ml = NULL;
        swarm_err_t err;
        const void *of[3] = {0}, *ol[3] = {0};
        int64_t n[3];
        double *Y, *Yh, *Yc;

        data_new(c, &dt);
        n[0] = dt.ny;
        n[1] = n[2] = dt.ns;
        buf = model_of(c, &dt, &len);
        swarm_err_clear(&err);
        CHECK(swarm_model_load_mem(buf, len, fused, &mf, &err) == SWARM_OK,
              "%s: %s", c->name, err.msg);
        swarm_err_clear(&err);
        CHECK(swarm_model_load_mem(buf, len, lowered, &ml, &err) == SWARM_OK,
              "%s: %s", c->name, err.msg);
        if (!mf || !ml)
                goto out;
        /* the fused node is no host step; lowered, it is one */
        CHECK(swarm_model_n_host_steps(mf) == 0, "%s: %d host steps",
              c->name, swarm_model_n_host_steps(mf));
        CHECK(swarm_model_n_host_steps(ml) == 1, "%s: %d host steps",
              c->name, swarm_model_n_host_steps(ml));
        CHECK_OK(run_model(mf, c, &dt, of, &err), err);
        CHECK_OK(run_model(ml, c, &dt, ol, &err), err);
        Y = malloc((size_t)(dt.ny + 1) * sizeof(double));
        Yh = malloc((size_t)(dt.ns + 1) * sizeof(double));
        Yc = malloc((size_t)(dt.ns + 1) * sizeof(double));
        ref(c, &dt, Y, Yh, Yc);
        for (int k = 0; k < (c->kind == 2 ? 3 : 2); k++) {
                double *lw = malloc((size_t)(n[k] + 1) * sizeof(double));
                static const char *const what[] = {"model Y", "model Y_h",
                                                   "model Y_c"};
                if (!of[k] || !ol[k]) {
                        CHECK(0, "%s: output %d missing", c->name, k);
                        free(lw);
                        continue;
                }
                /* fused against the lowered path, then against ref */
                for (int64_t i = 0; i < n[k]; i++)
                        lw[i] = ((const float *)ol[k])[i];
                compare(what[k], c, of[k], lw, n[k]);
                compare(what[k], c, of[k], k == 0 ? Y : k == 1 ? Yh : Yc,
                        n[k]);
                free(lw);
        }
        free(Y);
        free(Yh);
        free(Yc);
out:
        swarm_model_destroy(mf);
        swarm_model_destroy(ml);
        free(buf);
        data_free(&dt);
}

/* 3a. refused at load: a GRU whose hidden_size or W / R disagree */
static void refuse_model(swarm_backend_t *be, int64_t hidden, int64_t wrows,
                         int64_t rcols, const char *needle) {
        bld_t b;
        size_t len;
        uint8_t *buf;
        swarm_model_t *m = NULL;
        swarm_err_t err;
        float w[3 * 4 * 2], r[3 * 4 * 4];
        int64_t xd[3] = {3, 2, 2}, yd[4] = {3, 1, 2, 4};
        Onnx__NodeProto *n;

        memset(w, 0, sizeof(w));
        memset(r, 0, sizeof(r));
        bld_init(&b, 14);
        vi(&b, 0, "X", 1, 3, xd);
        init(&b, "W", 3, (const int64_t[]){1, wrows, 2}, w, 1);
        init(&b, "R", 3, (const int64_t[]){1, 12, rcols}, r, 1);
        n = node(&b, "gru", "GRU", "X,W,R", "Y");
        attr_i(&b, n, "hidden_size", hidden);
        vi(&b, 1, "Y", 1, 4, yd);
        buf = pack(&b, &len);
        swarm_err_clear(&err);
        CHECK_ERR(swarm_model_load_mem(buf, len, be, &m, &err), err,
                  SWARM_ERR_INVALID, needle);
        CHECK(m == NULL);
        swarm_model_destroy(m);
        free(buf);
        bld_free(&b);
}

/* 3b. refused by the kernel, before touching any buffer */
static void refuse_kernel(swarm_backend_t *be) {
        float dummy[64] = {0};
        int32_t lens[2] = {2, 4};
        swarm_rnn_t r;
        swarm_err_t err;

        r = (swarm_rnn_t){
                .kind = 1, .dirs = 1, .seq = 3, .batch = 2, .input = 2,
                .hidden = 2, .act[0][0] = SWARM_RNN_SIGMOID,
                .act[0][1] = SWARM_RNN_TANH, .x = dummy, .w = dummy,
                .r = dummy, .y = dummy,
                .seq_lens = lens};      /* 4 > seq */
        swarm_err_clear(&err);
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID,
                  "sequence_lens[1] = 4");
        lens[1] = -1;
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID,
                  "sequence_lens[1] = -1");
        r.seq_lens = NULL;
        r.hidden = 0;
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID, "hidden 0");
        r.hidden = -3;
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID, "hidden -3");
        r.hidden = 2;
        r.dirs = 3;
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID,
                  "3 directions");
        r.dirs = 1;
        r.kind = 7;
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID, "kind 7");
        r.kind = 1;
        r.act[0][1] = (swarm_rnn_act_t)99;
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID,
                  "bad activation");
        r.act[0][1] = SWARM_RNN_TANH;
        /* products past int64 or the GEMM's int32 */
        r.seq = (int64_t)1 << 40;
        r.batch = (int64_t)1 << 40;
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID,
                  "too large");
        r.seq = 3;
        r.batch = 2;
        r.hidden = INT64_MAX / 2;
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID,
                  "too large");
        r.hidden = (int64_t)1 << 30;
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID,
                  "too large");
        r.hidden = 2;
        r.x = NULL;
        CHECK_ERR(be->rnn(be, &r, &err), err, SWARM_ERR_INVALID,
                  "bad descriptor");
        r.x = dummy;
        CHECK_ERR(exec_cpu_rnn_isa(be, CPU_ISA_COUNT, &r, &err), err,
                  SWARM_ERR_INVALID, "kernel set 3 not available");
}

int main(void) {
        /* name, kind, dirs, reverse, layout, lbr, ifg, T, B, I, H, clip,
         * n_act, act, alpha, beta, bias, peep, h0, c0, lens */
        static const cfg_t C[] = {
                {"rnn", 0, 1, 0, 0, 0, 0, 5, 3, 4, 6, 0, 0, {0}, {0}, {0},
                 1, 0, 1, 0, 0},
                {"rnn-relu-rev-l1", 0, 1, 1, 1, 0, 0, 4, 3, 3, 5, 0, 1,
                 {SWARM_RNN_RELU}, {0}, {0}, 1, 0, 0, 0, 1},
                {"rnn-bidi-lens", 0, 2, 0, 0, 0, 0, 6, 16, 5, 20, 0.9f, 0,
                 {0}, {0}, {0}, 1, 0, 1, 0, 1},
                {"gru-lbr1", 1, 1, 0, 0, 1, 0, 5, 1, 4, 32, 0, 0, {0}, {0},
                 {0}, 1, 0, 1, 0, 0},
                {"gru-lbr0", 1, 1, 0, 0, 0, 0, 5, 3, 4, 7, 0, 0, {0}, {0},
                 {0}, 1, 0, 1, 0, 0},
                {"gru-lbr0-bidi-l1-lens", 1, 2, 0, 1, 0, 0, 6, 16, 3, 17,
                 0, 0, {0}, {0}, {0}, 1, 0, 1, 0, 1},
                {"gru-lbr1-rev-lens", 1, 1, 1, 0, 1, 0, 7, 3, 2, 33, 0, 0,
                 {0}, {0}, {0}, 1, 0, 0, 0, 1},
                {"gru-lbr1-bidi-l1-nobias", 1, 2, 0, 1, 1, 0, 4, 16, 5, 32,
                 0, 0, {0}, {0}, {0}, 0, 0, 0, 0, 0},
                {"gru-acts-clip", 1, 1, 0, 0, 0, 0, 5, 3, 3, 6, 0.7f, 2,
                 {SWARM_RNN_HARD_SIGMOID, SWARM_RNN_SOFTSIGN},
                 {0.3f, 0}, {0.4f, 0}, 1, 0, 1, 0, 0},
                {"gru-acts-lbr1", 1, 2, 0, 0, 1, 0, 4, 3, 3, 9, 0, 2,
                 {SWARM_RNN_SIGMOID, SWARM_RNN_SCALED_TANH}, {0, 0.8f},
                 {0, 1.3f}, 1, 0, 1, 0, 1},
                {"lstm", 2, 1, 0, 0, 0, 0, 5, 3, 4, 8, 0, 0, {0}, {0}, {0},
                 1, 0, 1, 1, 0},
                {"lstm-peep", 2, 1, 0, 0, 0, 0, 5, 3, 4, 8, 0, 0, {0}, {0},
                 {0}, 1, 1, 1, 1, 0},
                {"lstm-peep-ifg-clip-bidi", 2, 2, 0, 0, 0, 1, 6, 3, 3, 19,
                 0.5f, 0, {0}, {0}, {0}, 1, 1, 1, 1, 1},
                {"lstm-rev-l1-lens", 2, 1, 1, 1, 0, 0, 6, 16, 4, 32, 0, 0,
                 {0}, {0}, {0}, 1, 0, 0, 1, 1},
                {"lstm-bidi-b1", 2, 2, 0, 1, 0, 0, 5, 1, 16, 32, 0, 0, {0},
                 {0}, {0}, 1, 0, 0, 0, 0},
                {"lstm-acts", 2, 1, 0, 0, 0, 0, 4, 3, 3, 5, 0, 3,
                 {SWARM_RNN_HARD_SIGMOID, SWARM_RNN_ELU,
                  SWARM_RNN_SOFTPLUS}, {0.25f, 0.9f, 0}, {0.45f, 0, 0},
                 1, 1, 1, 1, 1},
                {"lstm-acts2", 2, 1, 1, 0, 0, 0, 4, 3, 3, 5, 0, 3,
                 {SWARM_RNN_SIGMOID, SWARM_RNN_AFFINE,
                  SWARM_RNN_LEAKY_RELU}, {0, 0.5f, 0.1f}, {0, 0.2f, 0},
                 1, 0, 1, 1, 0},
                {"rnn-thresh", 0, 1, 0, 0, 0, 0, 4, 3, 3, 5, 0, 1,
                 {SWARM_RNN_THRESHOLDED_RELU}, {0.2f}, {0}, 1, 0, 1, 0, 0},
                /* recurrent product through sgemm (rows x 4H x H >= 2^20) */
                {"lstm-sgemm", 2, 1, 0, 1, 0, 0, 3, 65, 6, 64, 0, 0, {0},
                 {0}, {0}, 1, 1, 1, 1, 1},
                {"gru-lbr0-sgemm", 1, 1, 0, 0, 0, 0, 3, 100, 5, 64, 0, 0,
                 {0}, {0}, {0}, 1, 0, 1, 0, 1},
                /* large enough to split the rows across the lanes (64M
                 * multiply-adds), with the recurrent product on sgemm */
                {"lstm-split-bidi", 2, 2, 0, 1, 0, 0, 4, 128, 8, 128, 0, 0,
                 {0}, {0}, {0}, 1, 1, 1, 1, 1},
                {"gru-split", 1, 1, 0, 0, 1, 0, 12, 127, 8, 128, 0, 0, {0},
                 {0}, {0}, 1, 0, 1, 0, 1},
                /* the input projection through sgemm (W^T past L2) */
                {"gru-proj-sgemm", 1, 1, 1, 1, 1, 0, 3, 5, 200, 64, 0, 0,
                 {0}, {0}, {0}, 1, 0, 1, 0, 1},
                {"lstm-proj-sgemm-bidi", 2, 2, 0, 0, 0, 0, 2, 3, 220, 40,
                 0, 0, {0}, {0}, {0}, 1, 1, 0, 1, 0},
                /* no input features */
                {"gru-i0", 1, 1, 0, 0, 1, 0, 3, 2, 0, 4, 0, 0, {0}, {0},
                 {0}, 1, 0, 1, 0, 0},
        };
        swarm_backend_t *be1, *be2, *be3, *low;
        swarm_err_t err;
        int sets = 0;

        swarm_err_clear(&err);
        (void)swarm_backend_cpu_new(1, &be1, &err);
        (void)swarm_backend_cpu_new(2, &be2, &err);
        (void)swarm_backend_cpu_new(3, &be3, &err);
        (void)swarm_backend_cpu_new(1, &low, &err);
        if (!be1 || !be2 || !be3 || !low || !be1->rnn) {
                printf("no CPU backend or no rnn entry\n");
                return 1;
        }
        low->rnn = NULL;        /* the host-kernel lowering */
        /* every kernel set this CPU runs (portable, AVX2, AVX-512) */
        for (int k = 0; k < CPU_ISA_COUNT; k++)
                if (cpu_gemm_isa_ok((cpu_isa_t)k))
                        sets++;
        printf("kernel sets run: %d\n", sets);
        CHECK(sets >= 1, "no kernel set runs");
        for (size_t i = 0; i < sizeof(C) / sizeof(C[0]); i++) {
                for (int k = 0; k < CPU_ISA_COUNT; k++) {
                        cpu_isa_t isa = (cpu_isa_t)k;
                        if (!cpu_gemm_isa_ok(isa))
                                continue;
                        kernel_case(be1, isa, &C[i]);
                        kernel_case(be2, isa, &C[i]);
                        /* 3 lanes: a part's rows span both directions */
                        kernel_case(be3, isa, &C[i]);
                }
                if (C[i].I > 0)
                        model_case(i % 2 ? be2 : be1, low, &C[i]);
        }
        refuse_model(be1, 0, 12, 4, "hidden_size 0");
        refuse_model(be1, -5, 12, 4, "hidden_size -5");
        refuse_model(be1, (int64_t)1 << 62, 12, 4, "do not match");
        refuse_model(be1, 4, 11, 4, "do not match");
        refuse_model(be1, 4, 12, 3, "do not match");
        refuse_kernel(be1);
        swarm_backend_destroy(be1);
        swarm_backend_destroy(be2);
        swarm_backend_destroy(be3);
        swarm_backend_destroy(low);
        TEST_DONE();
}
