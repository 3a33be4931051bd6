/*
 * metrics.c - metric registry, Prometheus text exposition, HTTP endpoints.
 *
 * Values are doubles stored as their bit patterns in _Atomic uint64_t, so a
 * counter increment is one compare-and-swap loop and a gauge set one store;
 * no lock on the hot path.  Families and series are singly linked lists that
 * only grow (appended under a mutex, never freed before destroy), so a
 * handle handed out stays valid and rendering can walk the lists while
 * others update values.
 */
#include "swarm/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef enum mtype { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype_t;

struct swarm_series {
        struct swarm_series *_Atomic next; /* read without locks */
        swarm_metric_t *fam;
        char **values;                  /* fam->nlabels strings */
        _Atomic uint64_t bits;          /* counter/gauge value (double bits) */
        /* histogram only, under mu */
        pthread_mutex_t mu;
        uint64_t *buckets;              /* fam->nbounds + 1 (last is +Inf) */
        uint64_t count;
        double sum;
};

struct swarm_metric {
        struct swarm_metric *_Atomic next; /* read without locks */
        mtype_t type;
        char *name, *help;
        char *labels[SWARM_METRICS_MAX_LABELS];
        size_t nlabels;
        double *bounds;
        size_t nbounds;
        pthread_mutex_t mu;             /* guards appends to `series` */
        swarm_series_t *_Atomic series;
        swarm_series_t *tail;
};

struct swarm_metrics {
        pthread_mutex_t mu;             /* guards family registration */
        swarm_metric_t *first, *last;
};

const double swarm_metrics_latency_buckets[] = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
        0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t swarm_metrics_latency_bucket_count =
        sizeof(swarm_metrics_latency_buckets) /
        sizeof(swarm_metrics_latency_buckets[0]);

static double from_bits(uint64_t b) {
        double d;
        memcpy(&d, &b, sizeof(d));
        return d;
}

static uint64_t to_bits(double d) {
        uint64_t b;
        memcpy(&b, &d, sizeof(b));
        return b;
}

int swarm_metrics_new(swarm_metrics_t **out, swarm_err_t *err) {
        swarm_metrics_t *m = calloc(1, sizeof(*m));
        if (!m)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        pthread_mutex_init(&m->mu, NULL);
        *out = m;
        return SWARM_OK;
}

static void series_free(swarm_series_t *s, size_t nlabels) {
        for (size_t i = 0; s->values && i < nlabels; i++)
                free(s->values[i]);
        free(s->values);
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
        free(s);
}

static void family_free(swarm_metric_t *f) {
        swarm_series_t *s = atomic_load(&f->series), *n;
        for (; s; s = n) {
                n = s->next;
                series_free(s, f->nlabels);
        }
        for (size_t i = 0; i < f->nlabels; i++)
                free(f->labels[i]);
        free(f->name);
        free(f->help);
        free(f->bounds);
        pthread_mutex_destroy(&f->mu);
        free(f);
}

void swarm_metrics_destroy(swarm_metrics_t *m) {
        swarm_metric_t *f, *n;
        if (!m)
                return;
        for (f = m->first; f; f = n) {
                n = f->next;
                family_free(f);
        }
        pthread_mutex_destroy(&m->mu);
        free(m);
}

static int valid_name(const char *s) {
        if (!s || !*s)
                return 0;
        for (size_t i = 0; s[i]; i++) {
                char c = s[i];
                int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            c == '_' || c == ':';
                if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
                        return 0;
        }
        return 1;
}

static int ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && !strcmp(s + a - b, suffix);
}

static int same_labels(const swarm_metric_t *f, const char *const *labels) {
        size_t n = 0;
        for (; labels && labels[n]; n++)
                if (n >= f->nlabels || strcmp(f->labels[n], labels[n]))
                        return 0;
        return n == f->nlabels;
}

static int reg(swarm_metrics_t *m, mtype_t type, const char *name,
               const char *help, const char *const *labels,
               const double *bounds, size_t nbounds, swarm_metric_t **out,
               swarm_err_t *err) {
        swarm_metric_t *f = NULL;
        size_t nl = 0;
        int r = SWARM_OK;

        if (!valid_name(name))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "metric name \"%s\" is not valid",
                                     name ? name : "(null)");
        if (type == M_COUNTER && !ends_with(name, "_total"))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "counter %s: name must end in _total",
                                     name);
        for (; labels && labels[nl]; nl++) {
                if (nl >= SWARM_METRICS_MAX_LABELS || !valid_name(labels[nl]) ||
                    strchr(labels[nl], ':') || !strncmp(labels[nl], "__", 2) ||
                    (type == M_HISTOGRAM && !strcmp(labels[nl], "le")))
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "metric %s: bad label name or too "
                                             "many labels", name);
        }
        for (size_t i = 1; i < nbounds; i++)
                if (!(bounds[i] > bounds[i - 1]))
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "histogram %s: bounds must be "
                                             "strictly increasing", name);

        pthread_mutex_lock(&m->mu);
        for (f = m->first; f; f = f->next)
                if (!strcmp(f->name, name))
                        break;
        if (f) {
                if (f->type != type || !same_labels(f, labels))
                        r = swarm_err_set(err, SWARM_ERR_INVALID,
                                          "metric %s registered twice with "
                                          "another type or labels", name);
                else
                        *out = f;
                goto out;
        }
        if (!(f = calloc(1, sizeof(*f))))
                goto nomem;
        pthread_mutex_init(&f->mu, NULL);
        f->type = type;
        f->name = strdup(name);
        f->help = strdup(help ? help : "");
        if (!f->name || !f->help)
                goto nomem;
        for (f->nlabels = 0; f->nlabels < nl; f->nlabels++)
                if (!(f->labels[f->nlabels] = strdup(labels[f->nlabels])))
                        goto nomem;
        if (type == M_HISTOGRAM) {
                f->nbounds = nbounds;
                if (nbounds && !(f->bounds = malloc(nbounds * sizeof(double))))
                        goto nomem;
                if (nbounds)
                        memcpy(f->bounds, bounds, nbounds * sizeof(double));
        }
        if (m->last)
                m->last->next = f;
        else
                m->first = f;
        m->last = f;
        *out = f;
        goto out;
nomem:
        if (f)
                family_free(f);
        r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
out:
        pthread_mutex_unlock(&m->mu);
        return r;
}

int swarm_metrics_counter(swarm_metrics_t *m, const char *name,
                          const char *help, const char *const *labels,
                          swarm_metric_t **out, swarm_err_t *err) {
        return reg(m, M_COUNTER, name, help, labels, NULL, 0, out, err);
}

int swarm_metrics_gauge(swarm_metrics_t *m, const char *name,
                        const char *help, const char *const *labels,
                        swarm_metric_t **out, swarm_err_t *err) {
        return reg(m, M_GAUGE, name, help, labels, NULL, 0, out, err);
}

int swarm_metrics_histogram(swarm_metrics_t *m, const char *name,
                            const char *help, const char *const *labels,
                            const double *bounds, size_t n,
                            swarm_metric_t **out, swarm_err_t *err) {
        return reg(m, M_HISTOGRAM, name, help, labels, bounds, n, out, err);
}

static int same_values(const swarm_series_t *s, const char *const *values,
                       size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(s->values[i], values[i] ? values[i] : ""))
                        return 0;
        return 1;
}

swarm_series_t *swarm_metrics_with(swarm_metric_t *f,
                                   const char *const *values) {
        swarm_series_t *s;

        if (!f || (f->nlabels && !values))
                return NULL;
        /* Lock-free scan first: the list only grows at its tail. */
        for (s = atomic_load(&f->series); s; s = s->next)
                if (same_values(s, values, f->nlabels))
                        return s;
        pthread_mutex_lock(&f->mu);
        /* Someone may have added it while we scanned. */
        for (s = atomic_load(&f->series); s; s = s->next)
                if (same_values(s, values, f->nlabels))
                        goto out;
        if (!(s = calloc(1, sizeof(*s))))
                goto out;
        pthread_mutex_init(&s->mu, NULL);
        s->fam = f;
        if (f->nlabels && !(s->values = calloc(f->nlabels, sizeof(char *))))
                goto fail;
        for (size_t i = 0; i < f->nlabels; i++)
                if (!(s->values[i] = strdup(values[i] ? values[i] : "")))
                        goto fail;
        if (f->type == M_HISTOGRAM &&
            !(s->buckets = calloc(f->nbounds + 1, sizeof(uint64_t))))
                goto fail;
        atomic_store(&s->bits, to_bits(0.0));
        /* Publish only a complete series: readers scan without the lock. */
        if (f->tail)
                f->tail->next = s;
        else
                atomic_store(&f->series, s);
        f->tail = s;
        goto out;
fail:
        series_free(s, f->nlabels);
        s = NULL;
out:
        pthread_mutex_unlock(&f->mu);
        return s;
}

void swarm_metrics_add(swarm_series_t *s, double v) {
        uint64_t old, nb;
        if (!s || !(v >= 0))
                return;
        old = atomic_load(&s->bits);
        do
                nb = to_bits(from_bits(old) + v);
        while (!atomic_compare_exchange_weak(&s->bits, &old, nb));
}

void swarm_metrics_gauge_add(swarm_series_t *s, double v) {
        uint64_t old, nb;
        if (!s)
                return;
        old = atomic_load(&s->bits);
        do
                nb = to_bits(from_bits(old) + v);
        while (!atomic_compare_exchange_weak(&s->bits, &old, nb));
}

void swarm_metrics_set(swarm_series_t *s, double v) {
        if (s)
                atomic_store(&s->bits, to_bits(v));
}

void swarm_metrics_observe(swarm_series_t *s, double v) {
        swarm_metric_t *f;
        size_t i;
        if (!s || !s->buckets)
                return;
        f = s->fam;
        /* Bucket i counts v <= bounds[i]; rendering makes them cumulative. */
        for (i = 0; i < f->nbounds && v > f->bounds[i]; i++)
                ;
        pthread_mutex_lock(&s->mu);
        s->buckets[i]++;
        s->count++;
        s->sum += v;
        pthread_mutex_unlock(&s->mu);
}

double swarm_metrics_value(const swarm_series_t *s) {
        double v;
        if (!s)
                return 0;
        if (s->buckets) {
                pthread_mutex_lock((pthread_mutex_t *)&s->mu);
                v = s->sum;
                pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
                return v;
        }
        return from_bits(atomic_load(&s->bits));
}

double swarm_metrics_sum(const swarm_metric_t *f, const char *label,
                         const char *value, int count) {
        size_t li = 0;
        double total = 0;

        if (!f)
                return 0;
        if (label) {
                while (li < f->nlabels && strcmp(f->labels[li], label))
                        li++;
                if (li == f->nlabels)
                        return 0;
        }
        for (const swarm_series_t *s = atomic_load(&f->series); s;
             s = atomic_load(&s->next)) {
                if (label && strcmp(s->values[li], value))
                        continue;
                if (count && s->buckets) {
                        pthread_mutex_lock((pthread_mutex_t *)&s->mu);
                        total += (double)s->count;
                        pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
                } else {
                        total += swarm_metrics_value(s);
                }
        }
        return total;
}

/* ---- rendering ---- */

typedef struct buf {
        char *p;
        size_t len, cap;
        int oom;
} buf_t;

static void put(buf_t *b, const char *s, size_t n) {
        if (b->oom)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                char *p;
                while (cap < b->len + n + 1)
                        cap *= 2;
                if (!(p = realloc(b->p, cap))) {
                        b->oom = 1;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void puts_(buf_t *b, const char *s) {
        put(b, s, strlen(s));
}

static void printf_(buf_t *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void printf_(buf_t *b, const char *fmt, ...) {
        char tmp[256];
        va_list ap;
        int n;
        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Escape per the text format: help escapes \ and newline; label values
 * also escape the double quote. */
static void put_escaped(buf_t *b, const char *s, int quote) {
        for (; *s; s++) {
                if (*s == '\\')
                        puts_(b, "\\\\");
                else if (*s == '\n')
                        puts_(b, "\\n");
                else if (quote && *s == '"')
                        puts_(b, "\\\"");
                else
                        put(b, s, 1);
        }
}

/* Shortest decimal that reads back as the same double ("0.1", not
 * "0.10000000000000001"), so the text is both exact and readable. */
static void fmt_double(double v, char *out, size_t size) {
        if (isnan(v)) {
                snprintf(out, size, "NaN");
                return;
        }
        if (isinf(v)) {
                snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        /* counts are integers: "100", never "1e+02" */
        if (v == floor(v) && fabs(v) < 1e15) {
                snprintf(out, size, "%.0f", v);
                return;
        }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(out, size, "%.*g", prec, v);
                if (strtod(out, NULL) == v)
                        return;
        }
}

static void put_double(buf_t *b, double v) {
        char tmp[64];
        fmt_double(v, tmp, sizeof(tmp));
        puts_(b, tmp);
}

/* name{l1="v1",...[,le="x"]} */
static void put_series_name(buf_t *b, const swarm_metric_t *f,
                            const swarm_series_t *s, const char *suffix,
                            const char *le) {
        puts_(b, f->name);
        puts_(b, suffix);
        if (!f->nlabels && !le)
                return;
        puts_(b, "{");
        for (size_t i = 0; i < f->nlabels; i++) {
                if (i)
                        puts_(b, ",");
                puts_(b, f->labels[i]);
                puts_(b, "=\"");
                put_escaped(b, s->values[i], 1);
                puts_(b, "\"");
        }
        if (le) {
                if (f->nlabels)
                        puts_(b, ",");
                puts_(b, "le=\"");
                puts_(b, le);
                puts_(b, "\"");
        }
        puts_(b, "}");
}

static void render_histogram(buf_t *b, const swarm_metric_t *f,
                             swarm_series_t *s) {
        uint64_t counts[64], *c = counts, cum = 0, count;
        double sum;
        char le[64];

        /* Copy under the lock so one series renders consistently. */
        if (f->nbounds + 1 > 64 && !(c = malloc((f->nbounds + 1) * sizeof(*c)))) {
                b->oom = 1;
                return;
        }
        pthread_mutex_lock(&s->mu);
        memcpy(c, s->buckets, (f->nbounds + 1) * sizeof(*c));
        count = s->count;
        sum = s->sum;
        pthread_mutex_unlock(&s->mu);
        for (size_t i = 0; i <= f->nbounds; i++) {
                cum += c[i];
                if (i < f->nbounds)
                        fmt_double(f->bounds[i], le, sizeof(le));
                else
                        snprintf(le, sizeof(le), "+Inf");
                put_series_name(b, f, s, "_bucket", le);
                printf_(b, " %" PRIu64 "\n", cum);
        }
        put_series_name(b, f, s, "_sum", NULL);
        puts_(b, " ");
        put_double(b, sum);
        puts_(b, "\n");
        put_series_name(b, f, s, "_count", NULL);
        printf_(b, " %" PRIu64 "\n", count);
        if (c != counts)
                free(c);
}

int swarm_metrics_render(swarm_metrics_t *m, char **out, size_t *len,
                         swarm_err_t *err) {
        static const char *const tname[] = {"counter", "gauge", "histogram"};
        buf_t b = {0};
        swarm_metric_t *f, *first;

        pthread_mutex_lock(&m->mu);
        first = m->first;
        pthread_mutex_unlock(&m->mu);
        put(&b, "", 0);
        for (f = first; f; f = f->next) {
                puts_(&b, "# HELP ");
                puts_(&b, f->name);
                puts_(&b, " ");
                put_escaped(&b, f->help, 0);
                puts_(&b, "\n# TYPE ");
                puts_(&b, f->name);
                puts_(&b, " ");
                puts_(&b, tname[f->type]);
                puts_(&b, "\n");
                for (swarm_series_t *s = atomic_load(&f->series); s; s = s->next) {
                        if (f->type == M_HISTOGRAM) {
                                render_histogram(&b, f, s);
                                continue;
                        }
                        put_series_name(&b, f, s, "", NULL);
                        puts_(&b, " ");
                        put_double(&b, from_bits(atomic_load(&s->bits)));
                        puts_(&b, "\n");
                }
        }
        if (b.oom) {
                free(b.p);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        *out = b.p;
        *len = b.len;
        return SWARM_OK;
}

/* ---- HTTP ---- */

struct swarm_metrics_http {
        struct MHD_Daemon *d;
        swarm_metrics_t *m;
        swarm_metrics_ready_cb *ready;
        void *opaque;
        const swarm_log_t *log;
        int port;
        /* one extra page (swarm_metrics_http_page); set while serving */
        pthread_mutex_t page_lock;
        char page_path[64];
        swarm_metrics_page_cb *page;
        void *page_opaque;
};

/* libmicrohttpd's own messages ("Server reached connection limit") in the
 * shape of every other log line. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
        const swarm_metrics_http_t *h = cls;
        char msg[512];
        size_t n;

        vsnprintf(msg, sizeof(msg), fmt, ap);
        n = strlen(msg);
        while (n && msg[n - 1] == '\n')
                msg[--n] = '\0';
        SWARM_WARN(h->log, "metrics server msg=\"%s\"", msg);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *ctype, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode) {
        struct MHD_Response *resp;
        enum MHD_Result r;

        resp = MHD_create_response_from_buffer(len, body, mode);
        if (!resp) {
                if (mode == MHD_RESPMEM_MUST_FREE)
                        free(body);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
        r = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
        static const char text[] = "text/plain; charset=utf-8";
        swarm_metrics_http_t *h = cls;
        swarm_err_t err;

        (void)version;
        (void)upload;
        (void)con_cls;
        if (*upload_size)
                return MHD_NO;
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
                return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text,
                             "method not allowed\n", 19, MHD_RESPMEM_PERSISTENT);
        if (!strcmp(url, "/metrics")) {
                char *body;
                size_t len;
                swarm_err_clear(&err);
                if (swarm_metrics_render(h->m, &body, &len, &err))
                        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text,
                                     "render failed\n", 14,
                                     MHD_RESPMEM_PERSISTENT);
                return reply(conn, MHD_HTTP_OK,
                             "text/plain; version=0.0.4; charset=utf-8", body,
                             len, MHD_RESPMEM_MUST_FREE);
        }
        if (!strcmp(url, "/healthz"))
                return reply(conn, MHD_HTTP_OK, text, "ok\n", 3,
                             MHD_RESPMEM_PERSISTENT);
        if (!strcmp(url, "/readyz")) {
                if (!h->ready || h->ready(h->opaque))
                        return reply(conn, MHD_HTTP_OK, text, "ready\n", 6,
                                     MHD_RESPMEM_PERSISTENT);
                return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text,
                             "not ready\n", 10, MHD_RESPMEM_PERSISTENT);
        }
        {
                swarm_metrics_page_cb *page;
                void *po;
                pthread_mutex_lock(&h->page_lock);
                page = h->page && !strcmp(url, h->page_path) ? h->page : NULL;
                po = h->page_opaque;
                pthread_mutex_unlock(&h->page_lock);
                if (page) {
                        char *body = NULL;
                        size_t len = 0;
                        const char *ctype = "text/html; charset=utf-8";
                        if (page(po, &body, &len, &ctype))
                                return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text,
                                             "render failed\n", 14,
                                             MHD_RESPMEM_PERSISTENT);
                        return reply(conn, MHD_HTTP_OK, ctype, body, len,
                                     MHD_RESPMEM_MUST_FREE);
                }
        }
        return reply(conn, MHD_HTTP_NOT_FOUND, text, "not found\n", 10,
                     MHD_RESPMEM_PERSISTENT);
}

void swarm_metrics_http_page(swarm_metrics_http_t *h, const char *path,
                             swarm_metrics_page_cb *page, void *opaque) {
        if (!h)
                return;
        pthread_mutex_lock(&h->page_lock);
        snprintf(h->page_path, sizeof(h->page_path), "%s", path ? path : "");
        h->page = page;
        h->page_opaque = opaque;
        pthread_mutex_unlock(&h->page_lock);
}

int swarm_metrics_http_listen(swarm_metrics_t *m,
                              const swarm_metrics_http_opts_t *o,
                              swarm_metrics_ready_cb *ready, void *opaque,
                              const swarm_log_t *log,
                              swarm_metrics_http_t **out, swarm_err_t *err) {
        static const swarm_metrics_http_opts_t defaults = {0};
        swarm_metrics_http_t *h;
        const union MHD_DaemonInfo *info;
        struct sockaddr_storage sa;
        const char *bind;
        unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_ERROR_LOG;
        int port;

        if (!o)
                o = &defaults;
        port = o->port;
        bind = o->bind && *o->bind ? o->bind : "0.0.0.0";
        if (port < 0 || port > 65535)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "metrics port %d out of range", port);
        if (o->max_connections < 0 || o->max_per_ip < 0 || o->timeout_s < 0)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "metrics server: negative limit");
        memset(&sa, 0, sizeof(sa));
        {
                struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
                struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
                if (inet_pton(AF_INET, bind, &a4->sin_addr) == 1) {
                        a4->sin_family = AF_INET;
                        a4->sin_port = htons((uint16_t)port);
                } else if (inet_pton(AF_INET6, bind, &a6->sin6_addr) == 1) {
                        a6->sin6_family = AF_INET6;
                        a6->sin6_port = htons((uint16_t)port);
                        flags |= MHD_USE_IPv6;
                } else {
                        return swarm_err_set(err, SWARM_ERR_CONFIG,
                                             "metrics bind address \"%s\" is not "
                                             "a numeric IPv4 or IPv6 address",
                                             bind);
                }
        }
        if (!(h = calloc(1, sizeof(*h))))
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        pthread_mutex_init(&h->page_lock, NULL);
        h->m = m;
        h->ready = ready;
        h->opaque = opaque;
        h->log = log;
        /* One internal thread polling all connections (poll or epoll, not
         * select, so a high descriptor number cannot break it): scrapes are
         * rare and small, a thread per connection would only cost memory.
         * The requests carry no body, so 32 KiB per connection is ample. */
        h->d = MHD_start_daemon(
                flags, (uint16_t)port, NULL, NULL, on_request, h,
                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, /* first, or MHD warns */
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned)(o->timeout_s ? o->timeout_s : 10),
                MHD_OPTION_CONNECTION_LIMIT,
                (unsigned)(o->max_connections ? o->max_connections : 64),
                MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                (unsigned)(o->max_per_ip ? o->max_per_ip : 8),
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
                MHD_OPTION_END);
        if (!h->d) {
                pthread_mutex_destroy(&h->page_lock);
                free(h);
                return swarm_err_set(err, SWARM_ERR_IO,
                                     "metrics server: cannot listen on %s port %d",
                                     bind, port);
        }
        info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
        h->port = info ? info->port : port;
        SWARM_INFO(log, "metrics listening port=%d bind=%s "
                   "paths=/metrics,/healthz,/readyz", h->port, bind);
        *out = h;
        return SWARM_OK;
}

int swarm_metrics_http_start(swarm_metrics_t *m, int port,
                             swarm_metrics_ready_cb *ready, void *opaque,
                             const swarm_log_t *log,
                             swarm_metrics_http_t **out, swarm_err_t *err) {
        swarm_metrics_http_opts_t o = {0};
        o.port = port;
        return swarm_metrics_http_listen(m, &o, ready, opaque, log, out, err);
}

int swarm_metrics_http_port(const swarm_metrics_http_t *h) {
        return h ? h->port : -1;
}

void swarm_metrics_http_destroy(swarm_metrics_http_t *h) {
        if (!h)
                return;
        MHD_stop_daemon(h->d);
        pthread_mutex_destroy(&h->page_lock);
        free(h);
}
