/*
 * The kubelet API server (see kubelet-api.h): HTTPS with required client
 * certificates, the kubelet's routes, and the hand-off to the log reader
 * (kubelet-api-logs.c) and the exec/attach sessions (stream.c).
 */
#include "agent/kubelet-api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/kubelet-api-int.h"
#include "agent/stats.h"
#include "agent/stream.h"
#include "client/client.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "net/tls.h"

/* The API server's identity at kubelets (pki.c issues it). */
#define APISERVER_KUBELET_CLIENT "kube-apiserver-kubelet-client"

static bool in_group(const k1s_http_peer_t *p, const char *g)
{
    for (int i = 0; p->orgs && p->orgs[i]; i++)
        if (!strcmp(p->orgs[i], g))
            return true;
    return false;
}

/* Splits path after prefix into n segments ("ns/pod/ctr"); false if the count differs. */
static int split_path(const char *rest, char **out, int max)
{
    int n = 0;
    char *copy = k1s_xstrdup(rest), *save = NULL;
    for (char *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == max) {
            n = max + 1;
            break;
        }
        out[n++] = k1s_xstrdup(s);
    }
    free(copy);
    return n;
}

static bool qbool(k1s_http_req_t *req, const char *name)
{
    const char *v = k1s_http_req_query(req, name);
    return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "True"));
}

/* Every value of a repeated query parameter (command=a&command=b), percent-decoded. */
static char **query_all(k1s_http_req_t *req, const char *name)
{
    size_t cap = 4, n = 0;
    char **v = k1s_xcalloc(cap, sizeof(char *));
    size_t nl = strlen(name);
    for (const char *p = req->query; p && *p;) {
        const char *e = strchr(p, '&');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            const char *val = p + nl + 1;
            size_t vl = len - nl - 1;
            char *d = k1s_xmalloc(vl + 1), *o = d;
            for (size_t i = 0; i < vl; i++) {
                if (val[i] == '+') {
                    *o++ = ' ';
                } else if (val[i] == '%' && i + 2 < vl) {
                    char hx[3] = {val[i + 1], val[i + 2], 0};
                    *o++ = (char)strtol(hx, NULL, 16);
                    i += 2;
                } else {
                    *o++ = val[i];
                }
            }
            *o = 0;
            if (n + 2 > cap)
                v = k1s_xrealloc(v, (cap *= 2) * sizeof(char *));
            v[n++] = d;
            v[n] = NULL;
        }
        p = e ? e + 1 : NULL;
    }
    return v;
}

static void strv_free(char **v)
{
    for (int i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Looks up ns/pod/ctr; on failure answers req as the kubelet does and returns false. */
static bool lookup(k1s_kapi_t *k, k1s_http_req_t *req, char **seg, int nseg,
                   k1s_kapi_container_t *c)
{
    k1s_err_t err = {0};
    int r = k->be.lookup(k->ctx, seg[0], seg[1], nseg > 2 ? seg[2] : NULL, c, &err);
    if (r == -EAGAIN) {
        k1s_http_respond_status(req, 400, "BadRequest", err.msg);
        return false;
    }
    if (r < 0) {
        k1s_http_respond_status(req, 404, "NotFound", err.msg);
        return false;
    }
    return true;
}

static void serve_metrics(k1s_kapi_t *k, k1s_http_req_t *req)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_printf(&b,
                   "# HELP kubelet_http_requests_total Number of the kubelet API's requests.\n"
                   "# TYPE kubelet_http_requests_total counter\n"
                   "kubelet_http_requests_total %llu\n"
                   "# HELP kubelet_http_requests_denied_total Requests refused (401/403).\n"
                   "# TYPE kubelet_http_requests_denied_total counter\n"
                   "kubelet_http_requests_denied_total %llu\n",
                   (unsigned long long)k->requests, (unsigned long long)k->denied);
    k1s_http_respond(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    k1s_buf_free(&b);
}

static void serve_pods(k1s_kapi_t *k, k1s_http_req_t *req)
{
    json_t *list = k->be.pods ? k->be.pods(k->ctx) : NULL;
    if (!list)
        list = json_pack("{s:s, s:s, s:{}, s:[]}", "kind", "PodList", "apiVersion", "v1",
                         "metadata", "items");
    char *s = json_dumps(list, JSON_COMPACT);
    k1s_http_respond(req, 200, "application/json", s, strlen(s));
    free(s);
    json_decref(list);
}

static json_t *summary(k1s_kapi_t *k)
{
    json_t *j = k->be.summary ? k->be.summary(k->ctx) : NULL;
    if (!j) {
        char ts[32];
        k1s_time_rfc3339(ts);
        j = json_pack("{s:{s:s, s:s}, s:[]}", "node", "nodeName", k->node_name ? k->node_name : "",
                      "startTime", ts, "pods");
    }
    return j;
}

static void serve_stats(k1s_kapi_t *k, k1s_http_req_t *req)
{
    json_t *j = summary(k);
    char *s = json_dumps(j, JSON_COMPACT);
    k1s_http_respond(req, 200, "application/json", s, strlen(s));
    free(s);
    json_decref(j);
}

static void serve_resource_metrics(k1s_kapi_t *k, k1s_http_req_t *req)
{
    json_t *j = summary(k);
    char *s = k1s_stats_resource_metrics(j);
    k1s_http_respond(req, 200, "text/plain; version=0.0.4", s, strlen(s));
    free(s);
    json_decref(j);
}

/* The attributes the kubelet authorizes a request with (server/auth.go). */
static const char *authz_verb(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") ? "get"
           : !strcmp(m, "POST")                    ? "create"
           : !strcmp(m, "PUT")                     ? "update"
           : !strcmp(m, "PATCH")                   ? "patch"
           : !strcmp(m, "DELETE")                  ? "delete"
                                                   : "";
}

static const char *authz_subresource(const char *path)
{
    if (k1s_str_has_prefix(path, "/stats/") || !strcmp(path, "/stats"))
        return "stats";
    if (k1s_str_has_prefix(path, "/metrics"))
        return "metrics";
    if (k1s_str_has_prefix(path, "/logs/") || !strcmp(path, "/logs"))
        return "log";
    return "proxy";
}

static void forbid(k1s_kapi_t *k, k1s_http_req_t *req, const char *why)
{
    k->denied++;
    char *m = k1s_xasprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)%s%s",
                            req->peer->cn, authz_verb(req->method), authz_subresource(req->path),
                            why ? ": " : "", why ? why : "");
    k1s_http_respond(req, 403, "text/plain", m, strlen(m));
    free(m);
}

static void route(k1s_kapi_t *k, k1s_http_req_t *req);

typedef struct kapi_sar {
    k1s_kapi_t *k;
    k1s_http_req_t *req;
    k1s_client_req_t *call;
    char *key; /* the review's JSON: the cache key */
    struct kapi_sar *next;
} kapi_sar_t;

/* Decisions are cached as the kubelet's webhook authorizer caches them: allowed for 5
 * minutes, denied for 30 seconds; at most SAR_CACHE_MAX entries. */
#define SAR_ALLOWED_TTL_NS (300ull * 1000000000ull)
#define SAR_DENIED_TTL_NS (30ull * 1000000000ull)
#define SAR_CACHE_MAX 512

typedef struct kapi_sar_cached {
    struct kapi_sar_cached *next;
    char *key, *reason;
    bool allowed;
    uint64_t expires;
} kapi_sar_cached_t;

static void cached_free(kapi_sar_cached_t *c)
{
    free(c->key);
    free(c->reason);
    free(c);
}

/* Drops expired entries (and the oldest past the limit); returns the live entry for key. */
static kapi_sar_cached_t *cache_find(k1s_kapi_t *k, const char *key)
{
    uint64_t now = k1s_now_ns();
    kapi_sar_cached_t *hit = NULL, **pp = &k->sar_cache;
    int n = 0;
    while (*pp) {
        kapi_sar_cached_t *c = *pp;
        if (c->expires <= now || n >= SAR_CACHE_MAX) {
            *pp = c->next;
            cached_free(c);
            continue;
        }
        if (!hit && !strcmp(c->key, key))
            hit = c;
        n++;
        pp = &c->next;
    }
    return hit;
}

static void cache_put(k1s_kapi_t *k, const char *key, bool allowed, const char *reason)
{
    kapi_sar_cached_t *c = k1s_xcalloc(1, sizeof(*c));
    c->key = k1s_xstrdup(key);
    c->reason = reason ? k1s_xstrdup(reason) : NULL;
    c->allowed = allowed;
    c->expires = k1s_now_ns() + (allowed ? SAR_ALLOWED_TTL_NS : SAR_DENIED_TTL_NS);
    c->next = k->sar_cache; /* newest first: the limit drops the oldest */
    k->sar_cache = c;
}

static void sar_unlink(kapi_sar_t *s)
{
    kapi_sar_t **pp = &s->k->sars;
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
}

static void sar_done(const k1s_client_result_t *res, void *arg)
{
    kapi_sar_t *s = arg;
    sar_unlink(s);
    json_t *st = json_object_get(res->obj, "status");
    if (res->status == 201 || res->status == 200) {
        bool allowed = json_is_true(json_object_get(st, "allowed"));
        const char *reason = json_string_value(json_object_get(st, "reason"));
        cache_put(s->k, s->key, allowed, reason);
        if (allowed)
            route(s->k, s->req);
        else
            forbid(s->k, s->req, reason);
    } else {
        k1s_debug("kubelet api: SubjectAccessReview failed: %d %s", res->status, res->message);
        k1s_http_respond(s->req, 500, "text/plain", "Internal Server Error: authorization failed",
                         43);
    }
    free(s->key);
    free(s);
}

static void ask_api_server(k1s_kapi_t *k, k1s_http_req_t *req)
{
    const k1s_http_peer_t *p = req->peer;
    json_t *groups = json_array();
    for (int i = 0; p->orgs && p->orgs[i]; i++)
        json_array_append_new(groups, json_string(p->orgs[i]));
    json_array_append_new(groups, json_string("system:authenticated"));
    json_t *sar = json_pack("{s:s, s:s, s:{s:s, s:o, s:{s:s, s:s, s:s, s:s, s:s}}}", "apiVersion",
                            "authorization.k8s.io/v1", "kind", "SubjectAccessReview", "spec",
                            "user", p->cn, "groups", groups, "resourceAttributes", "verb",
                            authz_verb(req->method), "group", "", "resource", "nodes",
                            "subresource", authz_subresource(req->path), "name", k->node_name);
    char *body = json_dumps(sar, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(sar);
    kapi_sar_cached_t *c = cache_find(k, body);
    if (c) {
        free(body);
        if (c->allowed)
            route(k, req);
        else
            forbid(k, req, c->reason);
        return;
    }
    kapi_sar_t *s = k1s_xcalloc(1, sizeof(*s));
    s->k = k;
    s->req = req;
    s->key = k1s_xstrdup(body);
    s->next = k->sars;
    k->sars = s;
    s->call =
        k1s_client_request(k->api, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                           "application/json", body, sar_done, s);
}

static void handler(k1s_http_req_t *req, void *arg)
{
    k1s_kapi_t *k = arg;
    k->requests++;
    const k1s_http_peer_t *p = req->peer;
    if (!p->has_cert) {
        k->denied++;
        k1s_http_respond(req, 401, "text/plain", "Unauthorized", 12);
        return;
    }
    if (!strcmp(p->cn, APISERVER_KUBELET_CLIENT) || in_group(p, "system:masters")) {
        route(k, req);
        return;
    }
    if (!k->api) {
        forbid(k, req, "this kubelet serves only the API server and cluster admins");
        return;
    }
    ask_api_server(k, req);
}

static void route(k1s_kapi_t *k, k1s_http_req_t *req)
{
    const char *path = req->path;
    if (!strcmp(path, "/healthz")) {
        k1s_http_respond(req, 200, "text/plain", "ok", 2);
        return;
    }
    if (!strcmp(path, "/pods") || !strcmp(path, "/pods/")) {
        serve_pods(k, req);
        return;
    }
    if (!strcmp(path, "/stats/summary")) {
        serve_stats(k, req);
        return;
    }
    if (!strcmp(path, "/metrics")) {
        serve_metrics(k, req);
        return;
    }
    if (!strcmp(path, "/metrics/resource")) {
        serve_resource_metrics(k, req);
        return;
    }
    const char *rest = NULL;
    enum { R_LOGS, R_EXEC, R_ATTACH, R_PF } kind;
    if (k1s_str_has_prefix(path, "/containerLogs/")) {
        rest = path + 15;
        kind = R_LOGS;
    } else if (k1s_str_has_prefix(path, "/exec/")) {
        rest = path + 6;
        kind = R_EXEC;
    } else if (k1s_str_has_prefix(path, "/attach/")) {
        rest = path + 8;
        kind = R_ATTACH;
    } else if (k1s_str_has_prefix(path, "/portForward/")) {
        rest = path + 13;
        kind = R_PF;
    } else {
        k1s_http_respond(req, 404, "text/plain", "404 page not found", 18);
        return;
    }
    char *seg[4] = {0};
    int nseg = split_path(rest, seg, 3);
    /* exec and attach may leave out the container (the pod's only one); logs may not */
    if (nseg > 3 || nseg < 2 || (kind == R_LOGS && nseg != 3) || (kind == R_PF && nseg != 2)) {
        for (int i = 0; i < 3; i++)
            free(seg[i]);
        k1s_http_respond(req, 404, "text/plain", "404 page not found", 18);
        return;
    }
    k1s_kapi_container_t c;
    if (!lookup(k, req, seg, nseg, &c))
        goto out;
    if (kind == R_LOGS) {
        k1s_kapi_logs(k, req, &c, seg[2], seg[1]);
        goto out;
    }
    if (strcmp(req->method, "GET") && strcmp(req->method, "POST")) {
        k1s_http_respond(req, 405, "text/plain", "Method Not Allowed", 18);
        goto out;
    }
    if (kind == R_PF) {
        char *pod = k1s_xasprintf("%s/%s", seg[0], seg[1]);
        k1s_stream_portforward(k->base, &k->sessions, req, c.netns, pod);
        free(pod);
        goto out;
    }
    if (!c.running) {
        k1s_http_respond_status(req, 400, "BadRequest",
                                "container not running (the container has exited)");
        goto out;
    }
    k1s_stream_opts_t o = {.in = qbool(req, "stdin") || qbool(req, "input"),
                           .out = qbool(req, "stdout") || qbool(req, "output"),
                           .err = qbool(req, "stderr") || qbool(req, "error"),
                           .tty = qbool(req, "tty"),
                           .container_id = c.id};
    char **argv = NULL;
    if (kind == R_EXEC) {
        argv = query_all(req, "command");
        if (!argv[0]) {
            strv_free(argv);
            k1s_http_respond_status(req, 400, "BadRequest", "you must specify a command");
            goto out;
        }
    }
    if (!o.in && !o.out && !o.err) {
        strv_free(argv);
        k1s_http_respond_status(req, 400, "BadRequest",
                                "you must specify at least 1 of stdin, stdout, stderr");
        goto out;
    }
    o.argv = argv;
    char *cid = k1s_xstrdup(c.id ? c.id : "");
    o.container_id = cid;
    k1s_stream_remotecommand(k->base, &k->sessions, req, &k->be, k->ctx, &o);
    free(cid);
    strv_free(argv);
out:
    for (int i = 0; i < 3; i++)
        free(seg[i]);
}

k1s_kapi_t *k1s_kapi_new(struct event_base *base, const k1s_kapi_opts_t *opts,
                         const k1s_kapi_backend_t *backend, void *ctx, k1s_err_t *err)
{
    SSL_CTX *ssl = k1s_tls_server_ctx(opts->cert_file, opts->key_file, opts->client_ca_file, err);
    if (!ssl) {
        k1s_err_prefix(err, "kubelet API");
        return NULL;
    }
    k1s_kapi_t *k = k1s_xcalloc(1, sizeof(*k));
    k->base = base;
    k->be = *backend;
    k->ctx = ctx;
    k->node_name = k1s_xstrdup(opts->node_name ? opts->node_name : "");
    k->api = opts->api;
    /* idle_timeout: kubectl logs -f and exec sessions are streams, not idle connections */
    k1s_http_opts_t ho = {.max_body = 1 << 20, .idle_timeout_s = 300};
    k->http = k1s_http_server_new(base, ssl, &ho, handler, k);
    SSL_CTX_free(ssl);
    int port = opts->port == 0 ? 10250 : opts->port < 0 ? 0 : opts->port;
    if (k1s_http_server_listen(k->http, opts->addr ? opts->addr : "0.0.0.0", port, err) < 0) {
        k1s_err_prefix(err, "kubelet API");
        k1s_kapi_free(k);
        return NULL;
    }
    return k;
}

int k1s_kapi_port(const k1s_kapi_t *k)
{
    return k1s_http_server_port(k->http);
}

void k1s_kapi_free(k1s_kapi_t *k)
{
    if (!k)
        return;
    k1s_kapi_logs_stop_all(k);
    k1s_stream_stop_all(&k->sessions);
    while (k->sars) {
        kapi_sar_t *s = k->sars;
        k->sars = s->next;
        k1s_client_cancel(s->call);
        k1s_http_respond(s->req, 503, "text/plain", "Service Unavailable", 19);
        free(s->key);
        free(s);
    }
    while (k->sar_cache) {
        kapi_sar_cached_t *c = k->sar_cache;
        k->sar_cache = c->next;
        cached_free(c);
    }
    k1s_http_server_free(k->http);
    free(k->node_name);
    free(k);
}
