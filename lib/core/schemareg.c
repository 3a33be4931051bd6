/*
 * schemareg.c - Confluent Schema Registry client (swarm/schemareg.h).
 *
 * The REST calls, as Confluent documents them and Apicurio's ccompat API
 * serves them:
 *   POST /subjects/{subject}/versions  {"schema": "..."}  -> {"id": N}
 *   POST /subjects/{subject}           {"schema": "..."}  -> {"id": N, ...}
 *   GET  /schemas/ids/{id}                                -> {"schema": "..."}
 * Replies are bounded (MAX_REPLY) and parsed with jansson; every field is
 * checked before use, since a registry behind a proxy can answer anything.
 * One curl easy handle per request: requests are rare (start-up and unknown
 * ids), and a handle per call keeps fetches from different threads apart.
 */
#include "swarm/clock.h"
#include "swarm/schemareg.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_REPLY (4u << 20)    /* a schema is kilobytes; 4 MiB is absurd */
#define MAX_FAILED 64           /* remembered failed ids */
#define MAX_CACHED 16           /* registered (subject, schema) pairs */

struct failed_id {
        int32_t id;
        int64_t until_ms;
        int served;     /* fetched fine, but asked again: the codec refused it */
};

struct cached {
        char *subject;
        char *schema;
        int32_t id;
};

struct swarm_schemareg {
        char *url;              /* without a trailing '/' */
        char *user_info;        /* "user:password" or NULL */
        swarm_subject_strategy_t strategy;
        int auto_register;
        long timeout_ms;
        const swarm_log_t *log;
        pthread_mutex_t lock;   /* guards failed[] */
        struct failed_id failed[MAX_FAILED];
        size_t n_failed, next_failed;
        struct cached cache[MAX_CACHED];
        size_t n_cache;
};

typedef struct key_alias {
        const char *key;
        const char *alias;
} key_alias_t;

static const key_alias_t keys[] = {
        {"swarm.schema.registry.url", "schema.registry.url"},
        {"swarm.schema.registry.basic.auth.user.info", "basic.auth.user.info"},
        {"swarm.schema.registry.subject.name.strategy",
         "value.subject.name.strategy"},
        {"swarm.schema.registry.auto.register", "auto.register.schemas"},
        {"swarm.schema.registry.timeout.ms", NULL},
        {NULL, NULL},
};

int swarm_schemareg_known_key(const char *key) {
        for (int i = 0; key && keys[i].key; i++)
                if (!strcmp(key, keys[i].key) ||
                    (keys[i].alias && !strcmp(key, keys[i].alias)))
                        return 1;
        /* The Confluent spelling of the credentials under schema.registry. */
        return key && !strcmp(key, "schema.registry.basic.auth.user.info");
}

/* The swarm.* key when set, else its Confluent alias. */
static const char *setting(const swarm_conf_t *c, int i, const char **key) {
        const char *v = swarm_conf_get(c, keys[i].key);
        *key = keys[i].key;
        if (!v && keys[i].alias && (v = swarm_conf_get(c, keys[i].alias)))
                *key = keys[i].alias;
        if (!v && i == 1 &&
            (v = swarm_conf_get(c, "schema.registry.basic.auth.user.info")))
                *key = "schema.registry.basic.auth.user.info";
        return v;
}

static int parse_strategy(const char *s, swarm_subject_strategy_t *out) {
        /* Confluent's class names end in the strategy's name */
        const char *dot = strrchr(s, '.');
        const char *n = dot ? dot + 1 : s;

        if (!strcasecmp(n, "topic") || !strcmp(n, "TopicNameStrategy"))
                *out = SWARM_SUBJECT_TOPIC;
        else if (!strcasecmp(n, "record") || !strcmp(n, "RecordNameStrategy"))
                *out = SWARM_SUBJECT_RECORD;
        else if (!strcasecmp(n, "topic_record") ||
                 !strcmp(n, "TopicRecordNameStrategy"))
                *out = SWARM_SUBJECT_TOPIC_RECORD;
        else
                return -1;
        return 0;
}

int swarm_schemareg_new(const swarm_conf_t *conf, const swarm_log_t *log,
                        swarm_schemareg_t **out, swarm_err_t *err) {
        swarm_schemareg_t *sr;
        const char *url, *v, *key;
        int64_t timeout;
        int rc;

        *out = NULL;
        url = setting(conf, 0, &key);
        if (!url || !*url)
                return SWARM_OK;
        if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "%s (%s): \"%s\" is not an http:// or "
                                     "https:// URL", key,
                                     swarm_conf_origin(conf, key), url);
        if (!(sr = calloc(1, sizeof(*sr))))
                return swarm_err_set(err, SWARM_ERR_NOMEM, "schema registry: calloc");
        sr->log = log;
        sr->auto_register = 1;
        sr->timeout_ms = 5000;
        if (pthread_mutex_init(&sr->lock, NULL) ||
            !(sr->url = strdup(url))) {
                free(sr);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "schema registry: init");
        }
        for (size_t n = strlen(sr->url); n > 0 && sr->url[n - 1] == '/'; n--)
                sr->url[n - 1] = '\0';
        if ((v = setting(conf, 1, &key)) && *v) {
                if (!strchr(v, ':')) {
                        rc = swarm_err_set(err, SWARM_ERR_CONFIG,
                                           "%s (%s): expected USER:PASSWORD",
                                           key, swarm_conf_origin(conf, key));
                        goto fail;
                }
                if (!(sr->user_info = strdup(v))) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM, "strdup");
                        goto fail;
                }
        }
        if ((v = setting(conf, 2, &key)) && parse_strategy(v, &sr->strategy)) {
                rc = swarm_err_set(err, SWARM_ERR_CONFIG,
                                   "%s (%s): \"%s\": expected topic, record or "
                                   "topic_record", key,
                                   swarm_conf_origin(conf, key), v);
                goto fail;
        }
        (void)setting(conf, 3, &key);
        if ((rc = swarm_conf_get_bool(conf, key, 1, &sr->auto_register, err)))
                goto fail;
        if ((rc = swarm_conf_get_i64(conf, keys[4].key, 5000, &timeout, err)))
                goto fail;
        if (timeout < 1 || timeout > 600000) {
                rc = swarm_err_set(err, SWARM_ERR_CONFIG,
                                   "%s: %lld ms, expected 1..600000",
                                   keys[4].key, (long long)timeout);
                goto fail;
        }
        sr->timeout_ms = (long)timeout;
        if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
                rc = swarm_err_set(err, SWARM_ERR_IO, "curl_global_init failed");
                goto fail;
        }
        *out = sr;
        return SWARM_OK;
fail:
        free(sr->url);
        free(sr->user_info);
        pthread_mutex_destroy(&sr->lock);
        free(sr);
        return rc;
}

void swarm_schemareg_destroy(swarm_schemareg_t *sr) {
        if (!sr)
                return;
        for (size_t i = 0; i < sr->n_cache; i++) {
                free(sr->cache[i].subject);
                free(sr->cache[i].schema);
        }
        free(sr->url);
        free(sr->user_info);
        pthread_mutex_destroy(&sr->lock);
        free(sr);
        curl_global_cleanup();
}

/* Record full name from the schema JSON (namespace.name). */
static int record_name(const char *schema_json, char *buf, size_t size,
                       swarm_err_t *err) {
        json_error_t je;
        json_t *s = json_loads(schema_json, 0, &je);
        const char *name = NULL, *ns = NULL;
        int rc = SWARM_OK;

        if (!s)
                return swarm_err_set(err, SWARM_ERR_PARSE,
                                     "schema: line %d: %s", je.line, je.text);
        if (json_is_object(s)) {
                name = json_string_value(json_object_get(s, "name"));
                ns = json_string_value(json_object_get(s, "namespace"));
        }
        if (!name)
                rc = swarm_err_set(err, SWARM_ERR_INVALID, "schema: no record name");
        else if ((size_t)snprintf(buf, size, "%s%s%s", ns && !strchr(name, '.') ? ns : "",
                                  ns && !strchr(name, '.') ? "." : "", name) >= size)
                rc = swarm_err_set(err, SWARM_ERR_INVALID, "schema: record name too long");
        json_decref(s);
        return rc;
}

int swarm_schemareg_subject(const swarm_schemareg_t *sr, const char *topic,
                            const char *record, char *buf, size_t size,
                            swarm_err_t *err) {
        int n;

        switch (sr->strategy) {
        case SWARM_SUBJECT_RECORD:
                n = snprintf(buf, size, "%s", record);
                break;
        case SWARM_SUBJECT_TOPIC_RECORD:
                n = snprintf(buf, size, "%s-%s", topic, record);
                break;
        default:
                n = snprintf(buf, size, "%s-value", topic);
                break;
        }
        if (n < 0 || (size_t)n >= size)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "subject for topic %s: too long", topic);
        return SWARM_OK;
}

/* ---- HTTP ---- */

typedef struct reply {
        char *data;
        size_t len;
        int too_big;
} reply_t;

static size_t on_data(char *p, size_t size, size_t n, void *opaque) {
        reply_t *r = opaque;
        size_t add = size * n;  /* curl guarantees size == 1 */
        char *d;

        if (add > MAX_REPLY - r->len) {
                r->too_big = 1;
                return 0;
        }
        if (!(d = realloc(r->data, r->len + add + 1)))
                return 0;
        memcpy(d + r->len, p, add);
        r->len += add;
        d[r->len] = '\0';
        r->data = d;
        return add;
}

/* One request; *status the HTTP status, *body the reply (caller frees). */
static int http(const swarm_schemareg_t *sr, const char *path,
                const char *post, long *status, char **body,
                swarm_err_t *err) {
        CURL *h = curl_easy_init();
        struct curl_slist *hdr = NULL;
        reply_t r = {NULL, 0, 0};
        char url[2048], cerr[CURL_ERROR_SIZE] = "";
        CURLcode cc;
        int rc = SWARM_OK;

        *body = NULL;
        if (!h)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "curl_easy_init");
        if ((size_t)snprintf(url, sizeof(url), "%s%s", sr->url, path) >= sizeof(url)) {
                curl_easy_cleanup(h);
                return swarm_err_set(err, SWARM_ERR_INVALID, "URL too long");
        }
        hdr = curl_slist_append(hdr, "Accept: application/vnd.schemaregistry.v1+json, "
                                     "application/json");
        if (post) {
                hdr = curl_slist_append(hdr, "Content-Type: "
                                             "application/vnd.schemaregistry.v1+json");
                /* no 100-continue round trip for a body of a few KiB */
                hdr = curl_slist_append(hdr, "Expect:");
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, sr->timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, sr->timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);      /* threads */
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        if (sr->user_info) {
                curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
                curl_easy_setopt(h, CURLOPT_USERPWD, sr->user_info);
        }
        if (post)
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
        cc = curl_easy_perform(h);
        if (cc != CURLE_OK) {
                rc = swarm_err_set_flags(err, SWARM_ERR_IO,
                                         r.too_big ? 0 : SWARM_ERR_F_RETRIABLE, "%s: %s", url,
                                         r.too_big ? "reply over 4 MiB"
                                         : *cerr   ? cerr
                                                   : curl_easy_strerror(cc));
                free(r.data);
        } else {
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
                *body = r.data ? r.data : strdup("");
                if (!*body)
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM, "strdup");
        }
        curl_slist_free_all(hdr);
        curl_easy_cleanup(h);
        return rc;
}

/* An error reply: {"error_code": N, "message": "..."}; the message if any. */
static int http_error(long status, const char *body, const char *what,
                      swarm_err_t *err) {
        json_t *j = json_loads(body, 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "message"));
        swarm_code_t code = status == 401 || status == 403 ? SWARM_ERR_CONFIG
                            : status == 404                ? SWARM_ERR_NOT_FOUND
                            : status == 409 || status == 422 ? SWARM_ERR_INVALID
                                                           : SWARM_ERR_IO;
        int rc = swarm_err_set_flags(err, code, status >= 500 ? SWARM_ERR_F_RETRIABLE : 0,
                                     "%s: HTTP %ld%s%.200s", what, status,
                                     msg ? ": " : "", msg ? msg : "");
        json_decref(j);
        return rc;
}

int swarm_schemareg_register(swarm_schemareg_t *sr, const char *topic,
                             const char *schema_json, int32_t *id,
                             swarm_err_t *err) {
        char record[256], subject[512], path[2048], what[700];
        char *esc = NULL, *post = NULL, *body = NULL;
        json_t *req = NULL, *rep = NULL;
        json_int_t v;
        long status = 0;
        int rc;

        if ((rc = record_name(schema_json, record, sizeof(record), err)) ||
            (rc = swarm_schemareg_subject(sr, topic ? topic : "", record,
                                          subject, sizeof(subject), err)))
                return rc;
        for (size_t i = 0; i < sr->n_cache; i++)
                if (!strcmp(sr->cache[i].subject, subject) &&
                    !strcmp(sr->cache[i].schema, schema_json)) {
                        *id = sr->cache[i].id;
                        return SWARM_OK;
                }
        snprintf(what, sizeof(what), "%s subject %s",
                 sr->auto_register ? "registering under" : "looking up in",
                 subject);
        if (!(esc = curl_easy_escape(NULL, subject, 0)) ||
            !(req = json_pack("{s:s}", "schema", schema_json)) ||
            !(post = json_dumps(req, JSON_COMPACT))) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "%s: out of memory", what);
                goto out;
        }
        snprintf(path, sizeof(path), "/subjects/%s%s", esc,
                 sr->auto_register ? "/versions" : "");
        if ((rc = http(sr, path, post, &status, &body, err)))
                goto out;
        if (status != 200) {
                rc = http_error(status, body, what, err);
                goto out;
        }
        rep = json_loads(body, 0, NULL);
        if (!json_is_integer(json_object_get(rep, "id"))) {
                rc = swarm_err_set(err, SWARM_ERR_PARSE, "%s: no \"id\" in the reply",
                                   what);
                goto out;
        }
        v = json_integer_value(json_object_get(rep, "id"));
        if (v < 0 || v > INT32_MAX) {
                rc = swarm_err_set(err, SWARM_ERR_PARSE, "%s: id %lld out of range",
                                   what, (long long)v);
                goto out;
        }
        *id = (int32_t)v;
        if (sr->n_cache < MAX_CACHED) {
                struct cached *e = &sr->cache[sr->n_cache];
                if ((e->subject = strdup(subject)) &&
                    (e->schema = strdup(schema_json))) {
                        e->id = *id;
                        sr->n_cache++;
                } else {
                        free(e->subject);
                        e->subject = NULL;
                }
        }
        SWARM_INFO(sr->log, "schema registry subject=%s id=%d url=%s", subject,
                   (int)*id, sr->url);
out:
        curl_free(esc);
        free(post);
        free(body);
        json_decref(req);
        json_decref(rep);
        return rc;
}

/* 0: not seen lately; 1: failed; 2: served, and asked for again. */
static int recently_failed(swarm_schemareg_t *sr, int32_t id) {
        int64_t now = swarm_clock_ms();
        int hit = 0;

        pthread_mutex_lock(&sr->lock);
        for (size_t i = 0; i < sr->n_failed; i++)
                if (sr->failed[i].id == id && sr->failed[i].until_ms > now)
                        hit = 1 + sr->failed[i].served;
        pthread_mutex_unlock(&sr->lock);
        return hit;
}

/* Remembered for SWARM_SCHEMAREG_RETRY_MS: a failure, or a schema handed
 * out (a decoder that got it registers it and never asks again, so a second
 * request means its schema could not be used; without this a stream of
 * such messages would cost a registry round trip each). */
static void remember_failed(swarm_schemareg_t *sr, int32_t id, int served) {
        pthread_mutex_lock(&sr->lock);
        sr->failed[sr->next_failed] = (struct failed_id){
                id, swarm_clock_ms() + SWARM_SCHEMAREG_RETRY_MS, served};
        sr->next_failed = (sr->next_failed + 1) % MAX_FAILED;
        if (sr->n_failed < MAX_FAILED)
                sr->n_failed++;
        pthread_mutex_unlock(&sr->lock);
}

int swarm_schemareg_fetch(swarm_schemareg_t *sr, int32_t id,
                          char **schema_json, swarm_err_t *err) {
        char path[64], what[64];
        char *body = NULL;
        json_t *rep = NULL;
        const char *type, *schema;
        long status = 0;
        int rc;

        *schema_json = NULL;
        switch (recently_failed(sr, id)) {
        case 1:
                return swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                     "schema id %d: registry failed on it "
                                     "within %d s, not retried yet", (int)id,
                                     SWARM_SCHEMAREG_RETRY_MS / 1000);
        case 2:
                return swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                     "schema id %d: fetched within %d s and "
                                     "not usable here", (int)id,
                                     SWARM_SCHEMAREG_RETRY_MS / 1000);
        }
        snprintf(what, sizeof(what), "fetching schema id %d", (int)id);
        snprintf(path, sizeof(path), "/schemas/ids/%d", (int)id);
        if ((rc = http(sr, path, NULL, &status, &body, err)))
                goto out;
        if (status != 200) {
                rc = http_error(status, body, what, err);
                goto out;
        }
        rep = json_loads(body, 0, NULL);
        schema = json_string_value(json_object_get(rep, "schema"));
        type = json_string_value(json_object_get(rep, "schemaType"));
        if (!schema) {
                rc = swarm_err_set(err, SWARM_ERR_PARSE,
                                   "%s: no \"schema\" in the reply", what);
                goto out;
        }
        if (type && strcmp(type, "AVRO")) {
                rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                   "%s: a %.32s schema, not Avro", what, type);
                goto out;
        }
        if (!(*schema_json = strdup(schema))) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "%s: strdup", what);
        } else {
                SWARM_INFO(sr->log, "schema registry fetched id=%d", (int)id);
                remember_failed(sr, id, 1);
        }
out:
        if (rc) {
                remember_failed(sr, id, 0);
                SWARM_WARN(sr->log, "schema registry: %s",
                           err ? err->msg : "fetch failed");
        }
        free(body);
        json_decref(rep);
        return rc;
}

static int resolve(void *opaque, int32_t id, char **schema_json,
                   swarm_err_t *err) {
        return swarm_schemareg_fetch(opaque, id, schema_json, err);
}

static void release(void *opaque) {
        swarm_schemareg_destroy(opaque);
}

int swarm_schemareg_setup(const swarm_conf_t *conf, const swarm_log_t *log,
                          swarm_codec_t *codec, const char *request_topic,
                          const char *result_topic, swarm_err_t *err) {
        swarm_schemareg_t *sr = NULL;
        int32_t rid = 0, sid = -1;   /* no result topic: no response id */
        int rc;

        if ((rc = swarm_schemareg_new(conf, log, &sr, err)) || !sr)
                return rc;
        if ((rc = swarm_schemareg_register(sr, request_topic,
                                           swarm_codec_request_schema_json(),
                                           &rid, err)) ||
            (result_topic &&
             (rc = swarm_schemareg_register(sr, result_topic,
                                            swarm_codec_response_schema_json(),
                                            &sid, err))) ||
            (rc = swarm_codec_set_ids(codec, rid, sid, err))) {
                swarm_err_prefix(err, "schema registry %s: ", sr->url);
                swarm_schemareg_destroy(sr);
                return rc;
        }
        swarm_codec_set_resolver(codec, resolve, release, sr);
        return SWARM_OK;
}
