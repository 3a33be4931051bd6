/*
 * status_page.c - the scaler's operator page (status_page.h).
 *
 * The poll loop hands each sample over (status_page_record); rendering
 * copies nothing out of the scaler, it formats what was recorded, under the
 * page's mutex.  The chart is SVG written here: a step line for workers, a
 * dashed one for desired workers, the total lag scaled on its own axis, and
 * a marker with a tooltip for every decision that changed something.
 * Everything that came from outside (model names from the registry, the
 * group state from the broker, reasons) is HTML-escaped.
 */
#include "status_page.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swarm/clock.h"
#include "swarm/registry.h"

#define MAX_MODELS 16
#define MAX_EVENTS 40           /* decisions listed under the chart */
#define MODELS_EVERY_S 30.0

typedef struct sample {
        time_t wall;
        int workers, desired;
        int64_t lag;
        policy_dir_t dir;
        const char *reason;     /* static (policy.h) */
} sample_t;

typedef struct event {
        time_t wall;
        int workers, desired;
        policy_dir_t dir;
        const char *reason;
        char detail[160];
} event_t;

typedef struct model_row {
        char name[64];
        int production, staging;        /* 0: none */
} model_row_t;

struct status_page {
        pthread_mutex_t lock;
        char *topic, *group, *registry;
        double refresh_s;
        const swarm_log_t *log;
        /* latest poll */
        int have;
        time_t wall;
        policy_decision_t d;
        watch_group_t g;
        int n_parts;
        policy_part_t *parts;
        /* history */
        sample_t hist[STATUS_PAGE_SAMPLES];
        size_t n_hist, next_hist;
        event_t ev[MAX_EVENTS];
        size_t n_ev, next_ev;
        const char *last_reason;
        int last_desired;
        /* registry, read by its own thread: a slow or unreachable database
         * must never hold up the poll loop that scales the fleet */
        pthread_t models_thread;
        int models_started, stop;
        pthread_cond_t wake;
        int models_known;
        char models_err[200];
        model_row_t models[MAX_MODELS];
        int n_models;
};

static void *models_main(void *opaque);

int status_page_new(const char *topic, const char *group,
                    const char *registry, double refresh_s,
                    const swarm_log_t *log, status_page_t **out,
                    swarm_err_t *err) {
        status_page_t *sp = calloc(1, sizeof(*sp));

        *out = NULL;
        if (!sp)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "status page: calloc");
        pthread_mutex_init(&sp->lock, NULL);
        sp->topic = strdup(topic ? topic : "");
        sp->group = strdup(group ? group : "");
        sp->registry = registry ? strdup(registry) : NULL;
        sp->refresh_s = refresh_s > 1 ? refresh_s : 1;
        sp->log = log;
        sp->last_desired = -1;
        swarm_clock_cond_init(&sp->wake);
        if (!sp->topic || !sp->group || (registry && !sp->registry)) {
                status_page_destroy(sp);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "status page: strdup");
        }
        if (sp->registry) {
                if (pthread_create(&sp->models_thread, NULL, models_main, sp)) {
                        status_page_destroy(sp);
                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                             "status page: thread");
                }
                sp->models_started = 1;
        }
        *out = sp;
        return SWARM_OK;
}

void status_page_destroy(status_page_t *sp) {
        if (!sp)
                return;
        if (sp->models_started) {
                pthread_mutex_lock(&sp->lock);
                sp->stop = 1;
                pthread_cond_signal(&sp->wake);
                pthread_mutex_unlock(&sp->lock);
                pthread_join(sp->models_thread, NULL);
        }
        pthread_cond_destroy(&sp->wake);
        pthread_mutex_destroy(&sp->lock);
        free(sp->topic);
        free(sp->group);
        free(sp->registry);
        free(sp->parts);
        free(sp);
}

/* Registry: the models deployed on the topic and where their aliases point.
 * Runs on the models thread without the page lock (it may wait on the
 * network); the result is swapped in under the lock. */
static void read_models(status_page_t *sp) {
        swarm_registry_t *reg = NULL;
        swarm_err_t err;
        char **names = NULL;
        model_row_t rows[MAX_MODELS];
        int n = 0, r;

        swarm_err_clear(&err);
        memset(rows, 0, sizeof(rows));
        if ((r = swarm_registry_connect(sp->registry, sp->log, &reg, &err)) ||
            (r = swarm_registry_models_for_topic(reg, sp->topic, &names, &err)))
                goto out;
        for (; names[n] && n < MAX_MODELS; n++) {
                static const char *const alias[] = {"production", "staging"};
                snprintf(rows[n].name, sizeof(rows[n].name), "%s", names[n]);
                for (int k = 0; k < 2; k++) {
                        swarm_registry_version_t v;
                        memset(&v, 0, sizeof(v));
                        r = swarm_registry_resolve(reg, names[n], alias[k], 0, &v, &err);
                        if (r == SWARM_OK)
                                *(k ? &rows[n].staging : &rows[n].production) = (int)v.version;
                        swarm_registry_version_destroy(&v);
                        if (r && r != SWARM_ERR_NOT_FOUND)
                                goto out;
                        swarm_err_clear(&err);
                        r = SWARM_OK;
                }
        }
out:
        swarm_registry_names_destroy(names);
        swarm_registry_destroy(reg);
        pthread_mutex_lock(&sp->lock);
        if (r) {
                snprintf(sp->models_err, sizeof(sp->models_err), "%s", err.msg);
        } else {
                sp->models_err[0] = '\0';
                memcpy(sp->models, rows, sizeof(rows));
                sp->n_models = n;
                sp->models_known = 1;
        }
        pthread_mutex_unlock(&sp->lock);
}

static void *models_main(void *opaque) {
        status_page_t *sp = opaque;

        for (;;) {
                struct timespec until;
                read_models(sp);
                until = swarm_clock_timespec(swarm_clock_us() +
                                             (int64_t)(MODELS_EVERY_S * 1000000));
                pthread_mutex_lock(&sp->lock);
                while (!sp->stop &&
                       pthread_cond_timedwait(&sp->wake, &sp->lock, &until) == 0)
                        ;
                if (sp->stop) {
                        pthread_mutex_unlock(&sp->lock);
                        return NULL;
                }
                pthread_mutex_unlock(&sp->lock);
        }
}

void status_page_record(status_page_t *sp, double now_s, const policy_t *p,
                        const policy_decision_t *d, const watch_group_t *g) {
        int n = policy_partitions(p);
        policy_part_t *parts;
        sample_t *s;

        (void)now_s;
        if (!sp)
                return;
        pthread_mutex_lock(&sp->lock);
        if (n != sp->n_parts) {
                parts = realloc(sp->parts, (size_t)(n > 0 ? n : 1) * sizeof(*parts));
                if (!parts) {
                        pthread_mutex_unlock(&sp->lock);
                        return;         /* the page shows the previous poll */
                }
                sp->parts = parts;
                sp->n_parts = n;
        }
        memcpy(sp->parts, policy_parts(p), (size_t)n * sizeof(*sp->parts));
        sp->d = *d;
        sp->g = *g;
        sp->wall = time(NULL);
        sp->have = 1;
        s = &sp->hist[sp->next_hist];
        *s = (sample_t){sp->wall, d->current, d->desired, d->lag, d->dir, d->reason};
        sp->next_hist = (sp->next_hist + 1) % STATUS_PAGE_SAMPLES;
        if (sp->n_hist < STATUS_PAGE_SAMPLES)
                sp->n_hist++;
        /* the decisions worth a line: a move, or a new reason to hold */
        if (d->dir != POLICY_HOLD || !sp->last_reason ||
            strcmp(sp->last_reason, d->reason) || d->desired != sp->last_desired) {
                event_t *e = &sp->ev[sp->next_ev];
                e->wall = sp->wall;
                e->workers = d->current;
                e->desired = d->desired;
                e->dir = d->dir;
                e->reason = d->reason;
                snprintf(e->detail, sizeof(e->detail), "%s", d->detail);
                sp->next_ev = (sp->next_ev + 1) % MAX_EVENTS;
                if (sp->n_ev < MAX_EVENTS)
                        sp->n_ev++;
        }
        sp->last_reason = d->reason;
        sp->last_desired = d->desired;
        pthread_mutex_unlock(&sp->lock);
}

/* ---- HTML ---- */

typedef struct out {
        char *p;
        size_t len, cap;
        int oom;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out_t *o, const char *fmt, ...) {
        va_list ap;
        int n;

        if (o->oom)
                return;
        for (;;) {
                size_t room = o->cap - o->len;
                va_start(ap, fmt);
                n = vsnprintf(o->p ? o->p + o->len : NULL, room, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        o->oom = 1;
                        return;
                }
                if ((size_t)n < room) {
                        o->len += (size_t)n;
                        return;
                }
                {
                        size_t cap = (o->cap ? o->cap * 2 : 16384) + (size_t)n;
                        char *q = realloc(o->p, cap);
                        if (!q) {
                                o->oom = 1;
                                return;
                        }
                        o->p = q;
                        o->cap = cap;
                }
        }
}

/* Text from outside into HTML text or a quoted attribute. */
static void put_esc(out_t *o, const char *s) {
        for (; s && *s; s++) {
                switch (*s) {
                case '<': put(o, "&lt;"); break;
                case '>': put(o, "&gt;"); break;
                case '&': put(o, "&amp;"); break;
                case '"': put(o, "&quot;"); break;
                case '\'': put(o, "&#39;"); break;
                default: put(o, "%c", *s); break;
                }
        }
}

static const char *dir_word(policy_dir_t d) {
        return d == POLICY_UP ? "up" : d == POLICY_DOWN ? "down" : "hold";
}

static void put_time(out_t *o, time_t t) {
        struct tm tm;
        char b[32];
        gmtime_r(&t, &tm);
        strftime(b, sizeof(b), "%H:%M:%S", &tm);
        put(o, "%s", b);
}

#define CW 900          /* chart size */
#define CH 260
#define PADL 44
#define PADR 60
#define PADT 12
#define PADB 28

static void put_chart(out_t *o, const status_page_t *sp) {
        size_t n = sp->n_hist, first = (sp->next_hist + STATUS_PAGE_SAMPLES - n) % STATUS_PAGE_SAMPLES;
        int ymax = 1;
        int64_t lmax = 1;
        double w = CW - PADL - PADR, h = CH - PADT - PADB;

        for (size_t i = 0; i < n; i++) {
                const sample_t *s = &sp->hist[(first + i) % STATUS_PAGE_SAMPLES];
                if (s->workers > ymax)
                        ymax = s->workers;
                if (s->desired > ymax)
                        ymax = s->desired;
                if (s->lag > lmax)
                        lmax = s->lag;
        }
        put(o, "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" data-samples=\"%zu\" "
               "data-ymax=\"%d\" data-lagmax=\"%lld\" role=\"img\" "
               "aria-label=\"workers, desired workers and lag over time\">\n",
            CW, CH, CW, CH, n, ymax, (long long)lmax);
        put(o, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" class=\"plot\"/>\n",
            PADL, PADT, w, h);
        for (int k = 0; k <= ymax; k += ymax > 8 ? (ymax + 7) / 8 : 1) {
                double y = PADT + h - h * k / ymax;
                put(o, "<line x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                       "<text x=\"%d\" y=\"%.1f\" class=\"axis\" text-anchor=\"end\">%d</text>\n",
                    PADL, PADL + w, y, y, PADL - 6, y + 4, k);
        }
        put(o, "<text x=\"%.0f\" y=\"%d\" class=\"axis lagaxis\">lag %lld</text>\n",
            PADL + w + 4, PADT + 10, (long long)lmax);
        if (n == 0) {
                put(o, "<text x=\"%d\" y=\"%d\" class=\"axis\">waiting for the first poll"
                       "</text></svg>\n", PADL + 10, CH / 2);
                return;
        }
#define X(i) (PADL + (n > 1 ? w * (double)(i) / (double)(n - 1) : w / 2))
        {
                static const char *const cls[] = {"lag", "desired", "workers"};
                for (int line = 0; line < 3; line++) {
                        put(o, "<polyline id=\"%s-line\" class=\"%s\" points=\"", cls[line],
                            cls[line]);
                        for (size_t i = 0; i < n; i++) {
                                const sample_t *s = &sp->hist[(first + i) % STATUS_PAGE_SAMPLES];
                                double y = line == 0 ? PADT + h - h * (double)s->lag / (double)lmax
                                           : PADT + h - h * (line == 1 ? s->desired : s->workers) /
                                                            (double)ymax;
                                /* steps: hold the value until the next sample */
                                if (i && line)
                                        put(o, "%.1f,%.1f ", X(i),
                                            PADT + h - h * (line == 1
                                                ? sp->hist[(first + i - 1) % STATUS_PAGE_SAMPLES].desired
                                                : sp->hist[(first + i - 1) % STATUS_PAGE_SAMPLES].workers) /
                                                (double)ymax);
                                put(o, "%.1f,%.1f ", X(i), y);
                        }
                        put(o, "\"/>\n");
                }
        }
        for (size_t i = 0; i < n; i++) {
                const sample_t *s = &sp->hist[(first + i) % STATUS_PAGE_SAMPLES];
                if (s->dir == POLICY_HOLD)
                        continue;
                put(o, "<circle class=\"decision %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
                       "data-reason=\"", dir_word(s->dir), X(i),
                    PADT + h - h * s->desired / (double)ymax);
                put_esc(o, s->reason);
                put(o, "\"><title>");
                put_time(o, s->wall);
                put(o, " %s %d -&gt; %d: ", dir_word(s->dir), s->workers, s->desired);
                put_esc(o, s->reason);
                put(o, "</title></circle>\n");
        }
        put(o, "<text x=\"%d\" y=\"%d\" class=\"axis\">", PADL, CH - 8);
        put_time(o, sp->hist[first].wall);
        put(o, "</text><text x=\"%.0f\" y=\"%d\" class=\"axis\" text-anchor=\"end\">",
            PADL + w, CH - 8);
        put_time(o, sp->hist[(first + n - 1) % STATUS_PAGE_SAMPLES].wall);
        put(o, " UTC</text>\n</svg>\n");
#undef X
}

static const char css[] =
        "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
        "h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.4em 0 .4em}"
        "small,.muted{color:#777}table{border-collapse:collapse}"
        "td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:right}"
        "th{background:#f6f6f6}td.l,th.l{text-align:left}"
        "tr.stuck td{background:#fde2e2;font-weight:bold}"
        ".kv td:first-child{text-align:left;color:#555}"
        "svg .plot{fill:#fcfcfc;stroke:#ccc}svg .grid{stroke:#eee}"
        "svg .axis{font-size:11px;fill:#777}svg polyline{fill:none;stroke-width:2}"
        "svg .workers{stroke:#1f77b4}svg .desired{stroke:#ff7f0e;stroke-dasharray:5 3}"
        "svg .lag{stroke:#bbb;stroke-width:1}svg .decision.up{fill:#2ca02c}"
        "svg .decision.down{fill:#d62728}.legend span{margin-right:1.2em}"
        ".err{color:#b00}";

int status_page_render(void *opaque, char **body, size_t *len, const char **ctype) {
        status_page_t *sp = opaque;
        out_t o = {NULL, 0, 0, 0};
        const policy_decision_t *d = &sp->d;

        *ctype = "text/html; charset=utf-8";
        pthread_mutex_lock(&sp->lock);
        put(&o, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta http-equiv=\"refresh\" content=\"%.0f\">"
                "<title>swarm-scaler: ", sp->refresh_s);
        put_esc(&o, sp->topic);
        put(&o, "</title><style>%s</style></head><body>\n<h1>swarm-scaler <small>topic ", css);
        put_esc(&o, sp->topic);
        put(&o, ", group ");
        put_esc(&o, sp->group);
        put(&o, "</small></h1>\n");
        if (!sp->have) {
                put(&o, "<p id=\"waiting\">Waiting for the first poll of Kafka.</p>\n");
        } else {
                put(&o, "<p class=\"muted\">Last poll <span id=\"updated\">");
                put_time(&o, sp->wall);
                put(&o, " UTC</span>; this page reloads every %.0f s.</p>\n", sp->refresh_s);
                put(&o, "<table class=\"kv\" id=\"summary\">"
                        "<tr><td>workers</td><td id=\"workers\">%d</td></tr>"
                        "<tr><td>desired workers</td><td id=\"desired\">%d</td></tr>"
                        "<tr><td>group members</td><td id=\"members\">%d</td></tr>"
                        "<tr><td>group state</td><td id=\"group-state\">",
                    d->current, d->desired, sp->g.members);
                put_esc(&o, sp->g.state[0] ? sp->g.state : "unknown");
                put(&o, "</td></tr>"
                        "<tr><td>lag (requests)</td><td id=\"lag\">%lld</td></tr>"
                        "<tr><td>lag (seconds to drain)</td><td id=\"lag-seconds\">%.1f</td></tr>"
                        "<tr><td>arriving (requests/s)</td><td id=\"arrival-rate\">%.1f</td></tr>"
                        "<tr><td>consumed (requests/s)</td><td id=\"consumption-rate\">%.1f</td></tr>"
                        "<tr><td>one worker (requests/s)</td><td id=\"worker-capacity\">%.1f</td></tr>"
                        "<tr><td>stuck partitions</td><td id=\"stuck\">%d</td></tr>"
                        "<tr><td>last decision</td><td id=\"decision\" class=\"l\">%s, ",
                    (long long)d->lag, d->lag_s, d->arrival_rate, d->consume_rate,
                    d->capacity, d->stuck, dir_word(d->dir));
                put_esc(&o, d->reason);
                put(&o, "</td></tr></table>\n");
        }

        put(&o, "<h2>Workers and decisions</h2>\n<p class=\"legend\">"
                "<span style=\"color:#1f77b4\">&#9473; workers</span>"
                "<span style=\"color:#ff7f0e\">&#9476; desired</span>"
                "<span style=\"color:#999\">&#9472; lag (right scale)</span>"
                "<span style=\"color:#2ca02c\">&#9679; scale up</span>"
                "<span style=\"color:#d62728\">&#9679; scale down</span></p>\n");
        put_chart(&o, sp);
        put(&o, "<table id=\"decisions\"><tr><th class=\"l\">time (UTC)</th><th>decision</th>"
                "<th>workers</th><th>desired</th><th class=\"l\">reason</th>"
                "<th class=\"l\">numbers</th></tr>\n");
        for (size_t i = 0; i < sp->n_ev; i++) {
                const event_t *e = &sp->ev[(sp->next_ev + MAX_EVENTS - 1 - i) % MAX_EVENTS];
                put(&o, "<tr class=\"decision\"><td class=\"l\">");
                put_time(&o, e->wall);
                put(&o, "</td><td>%s</td><td>%d</td><td>%d</td><td class=\"l reason\">",
                    dir_word(e->dir), e->workers, e->desired);
                put_esc(&o, e->reason);
                put(&o, "</td><td class=\"l muted\">");
                put_esc(&o, e->detail);
                put(&o, "</td></tr>\n");
        }
        put(&o, "</table>\n");

        put(&o, "<h2>Partitions</h2>\n<table id=\"partitions\"><tr><th>partition</th>"
                "<th>high watermark</th><th>committed</th><th>lag</th><th class=\"l\">"
                "</th></tr>\n");
        for (int i = 0; sp->have && i < sp->n_parts; i++) {
                const policy_part_t *pp = &sp->parts[i];
                char committed[24] = "none";    /* the group never committed */
                if (pp->committed >= 0)
                        snprintf(committed, sizeof(committed), "%lld",
                                 (long long)pp->committed);
                put(&o, "<tr class=\"part%s\" data-partition=\"%d\"><td>%d</td>"
                        "<td class=\"high\">%lld</td><td class=\"committed\">%s</td>"
                        "<td class=\"lag\">%lld</td><td class=\"l\">%s</td></tr>\n",
                    pp->stuck ? " stuck" : "", i, i, (long long)pp->high,
                    committed, (long long)pp->lag, pp->stuck ? "stuck" : "");
        }
        put(&o, "</table>\n<h2>Members</h2>\n<p id=\"members-line\">");
        if (!sp->have || sp->g.members < 0)
                put(&o, "unknown (no group API on this broker)");
        else
                put(&o, "%d member%s of group ", sp->g.members, sp->g.members == 1 ? "" : "s");
        if (sp->have && sp->g.members >= 0) {
                put_esc(&o, sp->group);
                put(&o, ", state ");
                put_esc(&o, sp->g.state);
        }
        put(&o, "</p>\n");
        if (sp->have && sp->g.n_listed > 0) {
                put(&o, "<table id=\"member-list\"><tr><th class=\"l\">client id</th>"
                        "<th class=\"l\">host</th></tr>\n");
                for (int i = 0; i < sp->g.n_listed; i++) {
                        put(&o, "<tr class=\"member\"><td class=\"l\">");
                        put_esc(&o, sp->g.member[i].client_id);
                        put(&o, "</td><td class=\"l\">");
                        put_esc(&o, sp->g.member[i].host);
                        put(&o, "</td></tr>\n");
                }
                put(&o, "</table>\n");
        }
        put(&o, "<h2>Models</h2>\n");
        if (!sp->registry) {
                put(&o, "<p class=\"muted\" id=\"models-none\">No model registry "
                        "(--registry) given.</p>\n");
        } else {
                if (sp->models_err[0]) {
                        put(&o, "<p class=\"err\">registry: ");
                        put_esc(&o, sp->models_err);
                        put(&o, "</p>\n");
                }
                put(&o, "<table id=\"models\"><tr><th class=\"l\">model</th>"
                        "<th>production</th><th>staging</th></tr>\n");
                for (int i = 0; i < sp->n_models; i++) {
                        put(&o, "<tr class=\"model\" data-model=\"");
                        put_esc(&o, sp->models[i].name);
                        put(&o, "\"><td class=\"l\">");
                        put_esc(&o, sp->models[i].name);
                        if (sp->models[i].production)
                                put(&o, "</td><td class=\"production\">v%d", sp->models[i].production);
                        else
                                put(&o, "</td><td class=\"production\">-");
                        if (sp->models[i].staging)
                                put(&o, "</td><td class=\"staging\">v%d</td></tr>\n",
                                    sp->models[i].staging);
                        else
                                put(&o, "</td><td class=\"staging\">-</td></tr>\n");
                }
                put(&o, "</table>\n");
        }
        put(&o, "<p class=\"muted\"><a href=\"/metrics\">/metrics</a></p>\n</body></html>\n");
        pthread_mutex_unlock(&sp->lock);
        if (o.oom) {
                free(o.p);
                return -1;
        }
        *body = o.p;
        *len = o.len;
        return 0;
}
