/*
 * The API server's front door: authentication (client certificates from
 * the client CA, static bearer tokens), routing of /api and /apis to
 * discovery and the REST handlers, health (/healthz, /livez, /readyz),
 * /version, /metrics (Prometheus text) and /openapi/v3. Also the start-up
 * bootstrap of the objects every cluster has.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/apiserver-int.h"
#include "api/csr.h"
#include "api/openapi.h"
#include "api/openapi-v2.h"
#include "api/satoken.h"
#include "api/version.h"
#include "lib/log.h"

static const double request_bounds[11] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

/* ---------- static tokens (Kubernetes' --token-auth-file format) ---------- */

static void load_tokens(k1s_apiserver_t *api, const char *path)
{
    char *data;
    if (!path || k1s_read_file(path, &data, NULL) < 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!*line || *line == '#')
            continue;
        char *fields[4] = {0};
        int nf = 0;
        char *p = line;
        while (nf < 4 && p) {
            if (*p == '"') {
                char *end = strchr(p + 1, '"');
                if (!end)
                    break;
                *end = 0;
                fields[nf++] = p + 1;
                p = end + 1;
                p = *p == ',' ? p + 1 : NULL;
            } else {
                fields[nf++] = p;
                char *c = strchr(p, ',');
                if (c) {
                    *c = 0;
                    p = c + 1;
                } else
                    p = NULL;
            }
        }
        if (nf < 3)
            continue;
        api->tokens = k1s_xrealloc(api->tokens, (api->ntokens + 1) * sizeof(k1s_token_t));
        k1s_token_t *t = &api->tokens[api->ntokens++];
        t->token = k1s_xstrdup(fields[0]);
        t->user = k1s_xstrdup(fields[1]);
        t->uid = k1s_xstrdup(fields[2]);
        size_t ng = 0;
        t->groups = k1s_xcalloc(8, sizeof(char *));
        if (fields[3]) {
            char *gs = NULL;
            for (char *g = strtok_r(fields[3], ",", &gs); g && ng < 7; g = strtok_r(NULL, ",", &gs))
                t->groups[ng++] = k1s_xstrdup(g);
        }
    }
    free(data);
}

/* constant-time compare */
static bool token_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

bool k1s_api_authenticate_token(k1s_apiserver_t *api, const char *tok, const char **user,
                                const char **uid, char *const **groups)
{
    for (size_t i = 0; i < api->ntokens; i++)
        if (token_eq(api->tokens[i].token, tok)) {
            *user = api->tokens[i].user;
            *uid = api->tokens[i].uid;
            *groups = api->tokens[i].groups;
            return true;
        }
    return false;
}

/* Sets r->user and r->groups from the client certificate or a bearer token; false if neither. */
static bool authenticate(k1s_apiserver_t *api, k1s_api_req_t *r)
{
    k1s_http_req_t *h = r->http;
    if (h->peer && h->peer->has_cert && h->peer->cn) {
        r->user = h->peer->cn;
        r->groups = h->peer->orgs;
        return true;
    }
    const char *auth = k1s_http_req_header(h, "Authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7)) {
        const char *tok = auth + 7;
        while (*tok == ' ')
            tok++;
        if (k1s_api_authenticate_token(api, tok, &r->user, &r->uid, &r->groups))
            return true;
        return k1s_sa_authenticate(r, tok);
    }
    return false;
}

/* ---------- health, version, metrics ---------- */

static void send_text(k1s_api_req_t *r, int code, const char *text)
{
    k1s_http_respond(r->http, code, "text/plain; charset=utf-8", text, strlen(text));
    k1s_api_req_done(r, code);
}

static void handle_health(k1s_api_req_t *r, const char *path)
{
    bool ready = r->api->ready;
    bool verbose = k1s_http_req_query(r->http, "verbose") != NULL;
    const char *which = path + 1;
    if (!strncmp(path, "/readyz", 7) && !ready) {
        send_text(r, 500,
                  verbose ? "[-]bootstrap failed: not finished\nreadyz check failed\n"
                          : "[-]bootstrap failed: not finished\nreadyz check failed\n");
        return;
    }
    if (verbose) {
        char *t = k1s_xasprintf("[+]ping ok\n[+]log ok\n[+]etcd ok\n%s check passed\n",
                                strncmp(which, "readyz", 6)
                                    ? (strncmp(which, "livez", 5) ? "healthz" : "livez")
                                    : "readyz");
        send_text(r, 200, t);
        free(t);
        return;
    }
    send_text(r, 200, "ok");
}

static void handle_version(k1s_api_req_t *r)
{
    k1s_api_send_json(r, 200,
                      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major",
                                K1S_KUBE_MAJOR, "minor", K1S_KUBE_MINOR, "gitVersion",
                                K1S_KUBE_GIT_VERSION, "gitCommit", K1S_VERSION, "gitTreeState",
                                "clean", "buildDate", "1970-01-01T00:00:00Z", "goVersion",
                                "k1s (C)", "compiler", "gcc", "platform", "linux/amd64"));
}

static long rss_kb(void)
{
    char *data;
    if (k1s_read_file("/proc/self/statm", &data, NULL) < 0)
        return 0;
    long pages = 0, rss = 0;
    sscanf(data, "%ld %ld", &pages, &rss);
    free(data);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void handle_metrics(k1s_api_req_t *r)
{
    k1s_apiserver_t *api = r->api;
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "# HELP apiserver_request_total Counter of apiserver requests broken out by "
                     "verb, resource and HTTP response code.\n"
                     "# TYPE apiserver_request_total counter\n");
    for (size_t i = 0; i < api->nmetrics; i++) {
        k1s_metric_row_t *m = &api->metrics[i];
        k1s_buf_printf(
            &b, "apiserver_request_total{code=\"%d\",resource=\"%s\",verb=\"%s\"} %" PRIu64 "\n",
            m->code, m->resource, m->verb, m->count);
    }
    k1s_buf_puts(&b, "# HELP apiserver_request_duration_seconds Response latency distribution in "
                     "seconds by verb, resource and code.\n"
                     "# TYPE apiserver_request_duration_seconds histogram\n");
    for (size_t i = 0; i < api->nmetrics; i++) {
        k1s_metric_row_t *m = &api->metrics[i];
        uint64_t cum = 0;
        for (int k = 0; k < 12; k++) {
            cum += m->buckets[k];
            char le[16];
            if (k < 11)
                snprintf(le, sizeof(le), "%g", request_bounds[k]);
            else
                snprintf(le, sizeof(le), "+Inf");
            k1s_buf_printf(&b,
                           "apiserver_request_duration_seconds_bucket{code=\"%d\",resource=\"%s\","
                           "verb=\"%s\",le=\"%s\"} %" PRIu64 "\n",
                           m->code, m->resource, m->verb, le, cum);
        }
        k1s_buf_printf(&b,
                       "apiserver_request_duration_seconds_sum{code=\"%d\",resource=\"%s\",verb="
                       "\"%s\"} %.6f\n"
                       "apiserver_request_duration_seconds_count{code=\"%d\",resource=\"%s\",verb="
                       "\"%s\"} %" PRIu64 "\n",
                       m->code, m->resource, m->verb, m->sum_s, m->code, m->resource, m->verb,
                       m->count);
    }
    k1s_store_stats_t st;
    k1s_store_get_stats(api->store, &st);
    k1s_buf_puts(&b, "# HELP k1s_store_commit_duration_seconds Latency of store commits (one "
                     "transaction per group of writes).\n"
                     "# TYPE k1s_store_commit_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int k = 0; k < 12; k++) {
        cum += st.commit_buckets[k];
        if (k < 11)
            k1s_buf_printf(&b, "k1s_store_commit_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                           k1s_store_commit_bucket_ms[k] / 1000.0, cum);
        else
            k1s_buf_printf(
                &b, "k1s_store_commit_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    }
    k1s_buf_printf(&b,
                   "k1s_store_commit_duration_seconds_sum %.6f\n"
                   "k1s_store_commit_duration_seconds_count %" PRIu64 "\n"
                   "# HELP k1s_store_writes_total Writes committed to the store.\n"
                   "# TYPE k1s_store_writes_total counter\n"
                   "k1s_store_writes_total %" PRIu64 "\n"
                   "# HELP k1s_store_failed_commits_total Store commits that failed.\n"
                   "# TYPE k1s_store_failed_commits_total counter\n"
                   "k1s_store_failed_commits_total %" PRIu64 "\n"
                   "# HELP k1s_store_revision Current store revision.\n"
                   "# TYPE k1s_store_revision gauge\n"
                   "k1s_store_revision %" PRId64 "\n"
                   "# HELP k1s_store_objects Live objects in the store.\n"
                   "# TYPE k1s_store_objects gauge\n"
                   "k1s_store_objects %zu\n"
                   "# HELP k1s_store_db_size_bytes Size of the database files.\n"
                   "# TYPE k1s_store_db_size_bytes gauge\n"
                   "k1s_store_db_size_bytes %" PRId64 "\n"
                   "# HELP apiserver_registered_watchers Number of currently registered watchers.\n"
                   "# TYPE apiserver_registered_watchers gauge\n"
                   "apiserver_registered_watchers %zu\n"
                   "# HELP apiserver_current_inflight_requests Requests being handled.\n"
                   "# TYPE apiserver_current_inflight_requests gauge\n"
                   "apiserver_current_inflight_requests %d\n"
                   "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                   "# TYPE process_resident_memory_bytes gauge\n"
                   "process_resident_memory_bytes %ld\n",
                   (double)st.commit_ns_total / 1e9, st.commits, st.writes, st.failed_commits,
                   k1s_store_rev(api->store), k1s_store_count(api->store), st.db_size_bytes,
                   api->nwatches, api->http ? k1s_http_server_inflight(api->http) : 0,
                   rss_kb() * 1024);
    k1s_http_respond(r->http, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    k1s_buf_free(&b);
    k1s_api_req_done(r, 200);
}

/* GET /openapi/v2: the Swagger 2.0 document kubectl before 1.27 reads (validation,
 * explain, patch metadata), as gnostic protobuf when asked for it, else JSON. */
static void handle_openapi_v2(k1s_api_req_t *r)
{
    const char *accept = k1s_http_req_header(r->http, "Accept");
    bool pb = accept && strstr(accept, "application/com.github.proto-openapi.spec.v2");
    const char *ct = pb ? K1S_OPENAPI_V2_PROTOBUF_TYPE : K1S_OPENAPI_V2_JSON_TYPE;
    k1s_bytes_t *doc;
    const char *etag;
    if (k1s_openapi_v2_doc(pb, &doc, &etag) < 0) {
        k1s_api_fail(r, 500, "InternalError", "OpenAPI documents are not available");
        return;
    }
    char quoted[80];
    snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
    k1s_http_add_header(r->http, "Etag", quoted);
    k1s_http_add_header(r->http, "Vary", "Accept");
    const char *inm = k1s_http_req_header(r->http, "If-None-Match");
    if (inm && (strstr(inm, quoted) || !strcmp(inm, etag) || !strcmp(inm, "*"))) {
        k1s_bytes_unref(doc);
        k1s_http_respond(r->http, 304, ct, "", 0);
        k1s_api_req_done(r, 304);
        return;
    }
    k1s_http_respond(r->http, 200, ct, doc->data, doc->len);
    k1s_bytes_unref(doc);
    k1s_api_req_done(r, 200);
}

static void handle_openapi(k1s_api_req_t *r, const char *path)
{
    if (!strcmp(path, "/openapi/v3") || !strcmp(path, "/openapi/v3/")) {
        char *out;
        size_t len;
        if (k1s_openapi_v3_index(&out, &len) < 0) {
            k1s_api_fail(r, 500, "InternalError", "OpenAPI documents are not available");
            return;
        }
        k1s_api_send_bytes(r, 200, out, len);
        free(out);
        return;
    }
    k1s_bytes_t *doc;
    const char *etag = NULL;
    if (k1s_openapi_v3_doc(path + strlen("/openapi/v3/"), &doc, &etag) < 0) {
        k1s_api_fail(r, 404, "NotFound", "the server could not find the requested resource");
        return;
    }
    if (etag) {
        const char *inm = k1s_http_req_header(r->http, "If-None-Match");
        char quoted[128];
        snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
        k1s_http_add_header(r->http, "Etag", quoted);
        if (inm && (!strcmp(inm, quoted) || !strcmp(inm, etag))) {
            k1s_bytes_unref(doc);
            k1s_http_respond(r->http, 304, "application/json", "", 0);
            k1s_api_req_done(r, 304);
            return;
        }
        if (k1s_http_req_query(r->http, "hash"))
            k1s_http_add_header(r->http, "Cache-Control", "public, immutable");
    }
    k1s_http_respond(r->http, 200, "application/json", doc->data, doc->len);
    k1s_bytes_unref(doc);
    k1s_api_req_done(r, 200);
}

/* ---------- routing ---------- */

static int split_path(char *path, char **segs, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *s = strtok_r(path, "/", &save); s && n < max; s = strtok_r(NULL, "/", &save))
        segs[n++] = s;
    return n;
}

void k1s_apiserver_handle(k1s_http_req_t *h, void *arg)
{
    k1s_apiserver_t *api = arg;
    k1s_api_req_t *r = k1s_xcalloc(1, sizeof(*r));
    r->api = api;
    r->http = h;
    r->start_ns = h->start_ns;
    const char *path = h->path;

    if (!strcmp(path, "/healthz") || !strcmp(path, "/livez") || !strcmp(path, "/readyz") ||
        !strncmp(path, "/healthz/", 9) || !strncmp(path, "/livez/", 7) ||
        !strncmp(path, "/readyz/", 8)) {
        r->verb = "get";
        handle_health(r, path);
        return;
    }
    if (!strcmp(path, "/version") || !strcmp(path, "/version/")) {
        r->verb = "get";
        handle_version(r);
        return;
    }
    if (!authenticate(api, r)) {
        r->verb = "unauthenticated";
        k1s_api_fail(r, 401, "Unauthorized", "Unauthorized");
        return;
    }
    if (!k1s_authz_request(r))
        return;
    if (!strcmp(path, "/metrics")) {
        r->verb = "get";
        handle_metrics(r);
        return;
    }
    if (!strcmp(path, "/openapi/v2") || !strcmp(path, "/openapi/v2/")) {
        r->verb = "get";
        handle_openapi_v2(r);
        return;
    }
    if (!strncmp(path, "/openapi/v3", 11)) {
        r->verb = "get";
        handle_openapi(r, path);
        return;
    }
    if (!strcmp(path, "/")) {
        r->verb = "get";
        k1s_api_send_json(r, 200,
                          json_pack("{s:[s,s,s,s,s,s,s,s,s]}", "paths", "/api", "/api/v1", "/apis",
                                    "/healthz", "/livez", "/metrics", "/openapi/v2", "/openapi/v3",
                                    "/readyz", "/version"));
        return;
    }
    if (!strcmp(h->method, "GET") && k1s_discovery_handle(r, path))
        return;
    if (k1s_sa_discovery_handle(r, path))
        return;

    char *copy = k1s_xstrdup(path);
    char *segs[16];
    int n = split_path(copy, segs, 16);
    const char *group = NULL, *version = NULL;
    int rest = 0;
    if (n >= 2 && !strcmp(segs[0], "api")) {
        group = "";
        version = segs[1];
        rest = 2;
    } else if (n >= 3 && !strcmp(segs[0], "apis")) {
        group = segs[1];
        version = segs[2];
        rest = 3;
    }
    bool legacy_watch = false;
    if (group && rest < n && !strcmp(segs[rest], "watch")) {
        legacy_watch = true;
        rest++;
    }
    if (!group || rest >= n) {
        free(copy);
        k1s_api_fail(r, 404, "NotFound", "the server could not find the requested resource");
        return;
    }
    if (legacy_watch) {
        /* /api/v1/watch/...: same as ?watch=1 on the collection */
        r->verb = "watch";
    }
    if (legacy_watch && strcmp(h->method, "GET")) {
        free(copy);
        k1s_api_fail(r, 405, "MethodNotAllowed", "watch paths only support GET");
        return;
    }
    if (legacy_watch) {
        int i = rest;
        const k1s_resource_t *res = NULL;
        if (n - i >= 3 && !strcmp(segs[i], "namespaces")) {
            res = k1s_registry_find(group, version, segs[i + 2]);
            if (res && res->namespaced) {
                r->ns = k1s_xstrdup(segs[i + 1]);
                i += 2;
            } else
                res = NULL;
        }
        if (!res)
            res = k1s_registry_find(group, version, segs[i]);
        if (!res || n - i > 2) {
            free(copy);
            k1s_api_fail(r, 404, "NotFound", "the server could not find the requested resource");
            return;
        }
        r->res = res;
        if (n - i == 2)
            r->name = k1s_xstrdup(segs[i + 1]);
        free(copy);
        char *prefix = k1s_obj_prefix(res, r->ns);
        k1s_watch_start(r, prefix);
        free(prefix);
        return;
    }
    k1s_rest_handle(r, group, version, segs + rest, n - rest);
    free(copy);
}

/* ---------- lifecycle ---------- */

int k1s_apiserver_new(struct event_base *base, k1s_store_t *store, const k1s_apiserver_opts_t *opts,
                      k1s_apiserver_t **out, k1s_err_t *err)
{
    k1s_apiserver_t *api = k1s_xcalloc(1, sizeof(*api));
    api->base = base;
    api->store = store;
    api->advertise_address =
        k1s_xstrdup(opts->advertise_address ? opts->advertise_address : "127.0.0.1");
    api->advertise_port = opts->advertise_port ? opts->advertise_port : 6443;
    api->start_ns = k1s_now_ns();
    api->ips = k1s_ipalloc_new_cidr(opts->service_cidr ? opts->service_cidr : "10.43.0.0/16", err);
    if (!api->ips) {
        k1s_apiserver_free(api);
        return -EINVAL;
    }
    api->ports = k1s_ipalloc_new_range(30000, 32767);
    load_tokens(api, opts->tokens_file);
    k1s_audit_opts_t aopts = {opts->audit_log_path, opts->audit_log_maxage,
                              opts->audit_log_maxbackup, opts->audit_log_maxsize};
    if (k1s_audit_new(&aopts, &api->audit, err) < 0) {
        k1s_apiserver_free(api);
        return -EINVAL;
    }
    api->authz = k1s_authz_new(api);
    api->tls_dir = opts->tls_dir ? k1s_xstrdup(opts->tls_dir) : NULL;
    if (opts->tls_dir &&
        (k1s_sa_init(api, opts->tls_dir, err) < 0 || k1s_csr_init(api, opts->tls_dir, err) < 0)) {
        k1s_apiserver_free(api);
        return -EINVAL;
    }
    k1s_svc_rebuild(api);
    k1s_admission_init(api);
    k1s_crd_start(api);
    *out = api;
    return 0;
}

void k1s_apiserver_set_http(k1s_apiserver_t *api, k1s_http_server_t *http)
{
    api->http = http;
}

static json_t *ns_obj(const char *name)
{
    return json_pack("{s:{s:s}}", "metadata", "name", name);
}

static void ready_done(int err, k1s_kv_t *kv, void *arg)
{
    k1s_apiserver_t *api = arg;
    if (err < 0) {
        k1s_error("bootstrap write failed: %s", strerror(-err));
        return;
    }
    api->ready = true;
}

/*
 * Makes sure the object default/<name> of res exists with the given
 * top-level fields (created with labels when missing). Writes only when
 * something differs, so restarts do not bump revisions. Takes ownership of
 * labels and fields.
 */
static void ensure_object(k1s_apiserver_t *api, const k1s_resource_t *res, const char *name,
                          json_t *labels, json_t *fields)
{
    char *key = k1s_obj_key(res, "default", name);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    json_t *obj;
    bool changed = !kv;
    if (kv) {
        obj = k1s_obj_decode(kv->value);
    } else {
        char uid[37], ts[32], av[128];
        k1s_uuid4(uid);
        k1s_time_rfc3339(ts);
        obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:O}}", "kind", res->kind, "apiVersion",
                        k1s_resource_api_version(res, av, sizeof(av)), "metadata", "name", name,
                        "namespace", "default", "uid", uid, "creationTimestamp", ts, "labels",
                        labels);
    }
    const char *k;
    json_t *v;
    json_object_foreach(fields, k, v)
    {
        if (!json_equal(json_object_get(obj, k), v)) {
            json_object_set(obj, k, v);
            changed = true;
        }
    }
    if (changed) {
        char rv[32];
        snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
        json_object_set_new(k1s_obj_meta(obj), "resourceVersion", json_string(rv));
        k1s_store_put(api->store, key, k1s_obj_encode(obj), k1s_obj_aux_new(res, obj), NULL, NULL);
    }
    json_decref(obj);
    json_decref(labels);
    json_decref(fields);
    free(key);
}

/* The kubernetes Endpoints and EndpointSlice, as kube-apiserver's endpoint reconciler writes them.
 */
static void put_endpoints(k1s_apiserver_t *api)
{
    ensure_object(api, k1s_registry_find("", "v1", "endpoints"), "kubernetes",
                  json_pack("{s:s}", "endpointslice.kubernetes.io/skip-mirror", "true"),
                  json_pack("{s:[{s:[{s:s}], s:[{s:s, s:i, s:s}]}]}", "subsets", "addresses", "ip",
                            api->advertise_address, "ports", "name", "https", "port",
                            api->advertise_port, "protocol", "TCP"));
    ensure_object(api, k1s_registry_find("discovery.k8s.io", "v1", "endpointslices"), "kubernetes",
                  json_pack("{s:s}", "kubernetes.io/service-name", "kubernetes"),
                  json_pack("{s:s, s:[{s:[s], s:{s:b}}], s:[{s:s, s:s, s:i}]}", "addressType",
                            "IPv4", "endpoints", "addresses", api->advertise_address, "conditions",
                            "ready", 1, "ports", "name", "https", "protocol", "TCP", "port",
                            api->advertise_port));
}

int k1s_apiserver_bootstrap(k1s_apiserver_t *api, k1s_err_t *err)
{
    const k1s_resource_t *ns = k1s_registry_find("", "v1", "namespaces");
    k1s_sa_start(api);
    k1s_csr_start(api);
    static const char *const names[] = {"default", "kube-system", "kube-public", "kube-node-lease",
                                        NULL};
    for (int i = 0; names[i]; i++) {
        json_t *o = ns_obj(names[i]);
        k1s_rest_internal_create(api, ns, o);
        json_decref(o);
    }
    /* the kubernetes Service: ClusterIP is the first address of the service range */
    const k1s_resource_t *svc = k1s_registry_find("", "v1", "services");
    char *key = k1s_obj_key(svc, "default", "kubernetes");
    if (!k1s_store_get_latest(api->store, key)) {
        uint32_t first = 0;
        /* the allocator's first usable address (network + 1) */
        first = k1s_ipalloc_first(api->ips);
        k1s_ipalloc_take(api->ips, first);
        char ip[16];
        snprintf(ip, sizeof(ip), "%u.%u.%u.%u", first >> 24, (first >> 16) & 255,
                 (first >> 8) & 255, first & 255);
        json_t *o = json_pack(
            "{s:{s:s, s:s, s:{s:s, s:s}}, s:{s:[{s:s, s:s, s:i, s:i}], s:s, s:[s], s:s, s:s, "
            "s:[s], s:s, s:s}}",
            "metadata", "name", "kubernetes", "namespace", "default", "labels", "component",
            "apiserver", "provider", "kubernetes", "spec", "ports", "name", "https", "protocol",
            "TCP", "port", 443, "targetPort", api->advertise_port, "clusterIP", ip, "clusterIPs",
            ip, "type", "ClusterIP", "sessionAffinity", "None", "ipFamilies", "IPv4",
            "ipFamilyPolicy", "SingleStack", "internalTrafficPolicy", "Cluster");
        json_object_set_new(o, "status", json_pack("{s:{}}", "loadBalancer"));
        k1s_rest_internal_create(api, svc, o);
        json_decref(o);
    }
    free(key);
    put_endpoints(api);
    /* the system PriorityClasses kube-apiserver creates at start-up */
    const k1s_resource_t *pcr = k1s_registry_find("scheduling.k8s.io", "v1", "priorityclasses");
    static const struct {
        const char *name, *desc;
        int value;
    } pcs[] = {{"system-node-critical",
                "Used for system critical pods that must not be moved "
                "from their current node.",
                2000001000},
               {"system-cluster-critical",
                "Used for system critical pods that must run in the cluster, but can be moved "
                "to another node if necessary.",
                2000000000}};
    for (size_t i = 0; pcr && i < sizeof(pcs) / sizeof(pcs[0]); i++) {
        json_t *o = json_pack("{s:{s:s}, s:i, s:s}", "metadata", "name", pcs[i].name, "value",
                              pcs[i].value, "description", pcs[i].desc);
        k1s_rest_internal_create(api, pcr, o);
        json_decref(o);
    }
    k1s_rbac_bootstrap(api->store);
    /* ready once everything queued so far has committed */
    k1s_store_sync(api->store, ready_done, api);
    return 0;
}

void k1s_apiserver_free(k1s_apiserver_t *api)
{
    if (!api)
        return;
    k1s_watch_close_all(api);
    k1s_metrics_api_free(api);
    k1s_authz_free(api->authz);
    k1s_audit_free(api->audit);
    k1s_sa_free(api);
    k1s_csr_free(api);
    free(api->tls_dir);
    k1s_admission_free(api);
    k1s_bytes_unref(api->wc_bytes);
    if (api->ns_event)
        event_free(api->ns_event);
    if (api->crd_event)
        event_free(api->crd_event);
    k1s_ipalloc_free(api->ips);
    k1s_ipalloc_free(api->ports);
    for (size_t i = 0; i < api->nmetrics; i++) {
        free(api->metrics[i].verb);
        free(api->metrics[i].resource);
    }
    free(api->metrics);
    for (size_t i = 0; i < api->ntokens; i++) {
        free(api->tokens[i].token);
        free(api->tokens[i].user);
        free(api->tokens[i].uid);
        for (int g = 0; api->tokens[i].groups[g]; g++)
            free(api->tokens[i].groups[g]);
        free(api->tokens[i].groups);
    }
    free(api->tokens);
    free(api->advertise_address);
    free(api);
}
