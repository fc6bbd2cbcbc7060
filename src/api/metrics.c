/*
 * metrics.k8s.io/v1beta1, the resource metrics API that metrics-server serves
 * and `kubectl top` reads, served by the API server itself from the kubelets:
 * NodeMetrics (nodes, cluster-scoped) and PodMetrics (pods, namespaced, and
 * across all namespaces), get and list only, with label and field selectors.
 *
 * As metrics-server does, the figures come from each Ready node's kubelet
 * (/stats/summary, over the client certificate proxy.c uses for pods/log),
 * and CPU usage is the rate between two scrapes: cumulative core-seconds
 * over the window between their timestamps. Scrapes are asynchronous (the
 * loop never waits on a kubelet) and on demand, without a timer while nobody
 * asks: a request reuses a node's figures when they are younger than
 * FRESH_NS, else it waits for a new scrape. A node scraped for the first time
 * (or after a long pause) is scraped again SECOND_SCRAPE_MS later, so that
 * the first `kubectl top` has a rate instead of an error.
 *
 * A pod without two samples of every container (too young) is left out; a
 * node whose kubelet cannot be reached is left out of lists and logged once
 * with the reason, and a get of it answers 404 as metrics-server does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "api/apiserver-int.h"
#include "api/proxy.h"
#include "lib/log.h"
#include "net/httpc.h"
#include "store/store.h"

#define NS_PER_S 1000000000ll
#define FRESH_NS (10 * NS_PER_S)       /* figures this young are reused */
#define STALE_NS (30 * NS_PER_S)       /* older ones (a node no longer Ready) are not served */
#define MAX_WINDOW_NS (120 * NS_PER_S) /* samples further apart make no rate */
#define SECOND_SCRAPE_MS 1000
#define SCRAPE_TIMEOUT_MS 5000

typedef struct mnode {
    struct mnode *next;
    struct k1s_metrics_api *m;
    char *name;
    json_t *prev, *last; /* the last two Summaries */
    uint64_t done_at;    /* monotonic time of the last scrape's end (success or not) */
    bool failed;         /* the last scrape failed (the node is left out) */
    k1s_httpc_t *call;   /* a scrape in flight */
    struct event *timer; /* the second scrape, pending */
    bool second;         /* the scrape in flight is that second one */
} mnode_t;

typedef struct mwait {
    struct mwait *next;
    k1s_api_req_t *r;
    char *name; /* get: the object's name */
} mwait_t;

struct k1s_metrics_api {
    k1s_apiserver_t *api;
    mnode_t *nodes;
    mwait_t *waiting;
};

/* ---- helpers ---- */

/* RFC 3339 with an optional fraction, "Z" only (what kubelets write) to Unix ns; 0 if bad. */
static int64_t parse_time(const char *s)
{
    struct tm tm = {0};
    const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!p)
        return 0;
    int64_t ns = (int64_t)timegm(&tm) * NS_PER_S;
    if (*p == '.') {
        int64_t scale = NS_PER_S / 10;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            ns += (*p - '0') * scale;
    }
    return *p == 'Z' ? ns : 0;
}

static json_t *time_json(int64_t ns)
{
    char buf[32];
    k1s_time_format_rfc3339(ns / NS_PER_S, buf);
    return json_string(buf);
}

/* A Go duration string as metav1.Duration writes it: "1.002s", "15s", "2m0.5s". */
static json_t *window_json(int64_t ns)
{
    int64_t ms = ns / 1000000;
    char buf[48], frac[8] = "";
    int64_t s = ms / 1000, m = s / 60;
    if (ms % 1000) {
        snprintf(frac, sizeof(frac), ".%03d", (int)(ms % 1000));
        for (size_t l = strlen(frac); frac[l - 1] == '0'; l--)
            frac[l - 1] = 0;
    }
    if (m)
        snprintf(buf, sizeof(buf), "%" PRId64 "m%d%ss", m, (int)(s % 60), frac);
    else
        snprintf(buf, sizeof(buf), "%" PRId64 "%ss", s, frac);
    return json_string(buf);
}

static json_t *memory_quantity(json_int_t bytes)
{
    char buf[32];
    if (bytes % 1024 == 0)
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT "Ki", bytes / 1024);
    else
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, bytes);
    return json_string(buf);
}

static json_t *cpu_quantity(double nanocores)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%.0fn", nanocores < 0 ? 0 : nanocores);
    return json_string(buf);
}

/* The cumulative CPU of a stats object ({time, usageCoreNanoSeconds}); false if absent. */
static bool cpu_point(const json_t *cpu, int64_t *ts, double *used)
{
    const json_t *u = json_object_get(cpu, "usageCoreNanoSeconds");
    *ts = parse_time(json_string_value(json_object_get(cpu, "time")));
    *used = (double)json_integer_value(u);
    return json_is_integer(u) && *ts > 0;
}

/* The rate between two cumulative CPU points in nanocores; false without a usable window. */
static bool cpu_rate(const json_t *prev, const json_t *last, double *rate, int64_t *ts,
                     int64_t *window)
{
    int64_t t0, t1;
    double u0, u1;
    if (!cpu_point(prev, &t0, &u0) || !cpu_point(last, &t1, &u1))
        return false;
    if (t1 <= t0 || t1 - t0 > MAX_WINDOW_NS || u1 < u0)
        return false; /* no window, too long ago, or a restarted container */
    *rate = (u1 - u0) * (double)NS_PER_S / (double)(t1 - t0);
    *ts = t1;
    *window = t1 - t0;
    return true;
}

static json_t *find_by(const json_t *arr, const char *k1, const char *k2, const char *want)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const json_t *o = k2 ? json_object_get(e, k1) : e;
        if (k1s_streq(json_string_value(json_object_get(o, k2 ? k2 : k1)), want))
            return e;
    }
    return NULL;
}

/* ---- nodes and scrapes ---- */

static bool node_ready(const json_t *node)
{
    size_t i;
    json_t *c;
    json_array_foreach(
        json_object_get(json_object_get(node, "status"), "conditions"), i,
        c) if (k1s_streq(json_string_value(json_object_get(c, "type")),
                         "Ready")) return k1s_streq(json_string_value(json_object_get(c, "status")),
                                                    "True");
    return false;
}

static mnode_t *node_get(struct k1s_metrics_api *m, const char *name)
{
    for (mnode_t *n = m->nodes; n; n = n->next)
        if (!strcmp(n->name, name))
            return n;
    mnode_t *n = k1s_xcalloc(1, sizeof(*n));
    n->m = m;
    n->name = k1s_xstrdup(name);
    n->next = m->nodes;
    m->nodes = n;
    return n;
}

static void node_free(mnode_t *n)
{
    k1s_httpc_cancel(n->call);
    if (n->timer)
        event_free(n->timer);
    json_decref(n->prev);
    json_decref(n->last);
    free(n->name);
    free(n);
}

static bool busy(const mnode_t *n)
{
    return n->call || (n->timer && evtimer_pending(n->timer, NULL));
}

/* Two samples close enough for a rate. */
static bool have_window(const mnode_t *n)
{
    int64_t t0, t1;
    double u;
    const json_t *c0 = json_object_get(json_object_get(n->prev, "node"), "cpu");
    const json_t *c1 = json_object_get(json_object_get(n->last, "node"), "cpu");
    return n->prev && n->last && cpu_point(c0, &t0, &u) && cpu_point(c1, &t1, &u) && t1 > t0 &&
           t1 - t0 <= MAX_WINDOW_NS;
}

static bool fresh(const mnode_t *n)
{
    return n->done_at && k1s_now_ns() - n->done_at < (uint64_t)FRESH_NS &&
           (n->failed || have_window(n));
}

/* Figures recent enough to serve: a Ready node's are refreshed by the request itself (its
 * scrapes, waited for, take at most a few seconds); a node not scraped for STALE_NS is not
 * Ready any more. */
static bool recent(const mnode_t *n)
{
    return n->done_at && k1s_now_ns() - n->done_at < (uint64_t)STALE_NS;
}

static void answer_waiting(struct k1s_metrics_api *m);
static bool scrape(mnode_t *n);

static void second_scrape(evutil_socket_t fd, short what, void *arg)
{
    mnode_t *n = arg;
    n->second = true;
    if (!scrape(n))
        answer_waiting(n->m);
}

static void scraped(int err, int status, const char *body, size_t len, const char *msg, void *arg)
{
    mnode_t *n = arg;
    bool second = n->second;
    n->call = NULL;
    n->second = false;
    n->done_at = k1s_now_ns();
    json_t *sum = NULL;
    char *why = NULL;
    if (err < 0)
        why = k1s_xstrdup(msg);
    else if (status != 200)
        why = k1s_xasprintf("the kubelet answered %d: %.200s", status, body);
    else if (!(sum = json_loadb(body, len, 0, NULL)) ||
             !json_is_object(json_object_get(sum, "node")))
        why = k1s_xstrdup("the kubelet's /stats/summary is not a Summary");
    if (why) {
        json_decref(sum);
        if (!n->failed) /* once per outage; routine retries stay at debug */
            k1s_warn("metrics: node %s left out of metrics.k8s.io: %s", n->name, why);
        else
            k1s_debug("metrics: node %s: %s", n->name, why);
        n->failed = true;
        free(why);
        answer_waiting(n->m);
        return;
    }
    if (n->failed)
        k1s_info("metrics: node %s: kubelet reachable again", n->name);
    n->failed = false;
    json_decref(n->prev);
    n->prev = n->last;
    n->last = sum;
    if (!have_window(n) && !second) {
        /* first sample (or the previous one is too old): a second one for the rate (once: a
         * kubelet without CPU figures is not asked again and again) */
        if (!n->timer)
            n->timer = evtimer_new(n->m->api->base, second_scrape, n);
        struct timeval tv = {SECOND_SCRAPE_MS / 1000, (SECOND_SCRAPE_MS % 1000) * 1000};
        evtimer_add(n->timer, &tv);
        return;
    }
    answer_waiting(n->m);
}

/* The kubelet's address: the node's InternalIP, else its first address; its port. */
static bool kubelet_addr(const json_t *node, const char **ip, int *port)
{
    const json_t *st = json_object_get(node, "status");
    size_t i;
    json_t *a;
    *ip = NULL;
    json_array_foreach(json_object_get(st, "addresses"), i, a)
    {
        const char *v = json_string_value(json_object_get(a, "address"));
        if (v && (!*ip || k1s_streq(json_string_value(json_object_get(a, "type")), "InternalIP")))
            *ip = v;
        if (v && k1s_streq(json_string_value(json_object_get(a, "type")), "InternalIP"))
            break;
    }
    json_int_t p = json_integer_value(json_object_get(
        json_object_get(json_object_get(st, "daemonEndpoints"), "kubeletEndpoint"), "Port"));
    *port = p > 0 && p < 65536 ? (int)p : 10250;
    return *ip != NULL;
}

static void scrape_fail(mnode_t *n, const char *why)
{
    k1s_httpc_cancel(n->call);
    n->call = NULL;
    n->second = false;
    if (!n->failed)
        k1s_warn("metrics: node %s left out of metrics.k8s.io: %s", n->name, why);
    n->failed = true;
    n->done_at = k1s_now_ns();
}

/* Starts a scrape of n's kubelet; false if it could not start (n->failed then says so). */
static bool scrape(mnode_t *n)
{
    k1s_apiserver_t *api = n->m->api;
    const k1s_resource_t *nres = k1s_registry_find("", "v1", "nodes");
    char *key = k1s_obj_key(nres, NULL, n->name);
    k1s_kv_t *kv = k1s_store_get(api->store, key);
    free(key);
    if (!kv) {
        scrape_fail(n, "the node is gone");
        return false;
    }
    json_t *node = k1s_obj_decode(kv->value);
    const char *ip;
    int port;
    k1s_err_t err = {0};
    SSL_CTX *ctx = NULL;
    if (!kubelet_addr(node, &ip, &port)) {
        scrape_fail(n, "the node has no address in its status");
    } else if (!(ctx = k1s_proxy_kubelet_ctx(api, &err))) {
        scrape_fail(n, err.msg);
    } else {
        k1s_httpc_req_t req = {.host = ip,
                               .addr = ip,
                               .port = port,
                               .target = "/stats/summary",
                               .timeout_ms = SCRAPE_TIMEOUT_MS,
                               .method = "GET",
                               .ssl_ctx = ctx};
        n->call = k1s_httpc_post(api->base, &req, scraped, n);
    }
    json_decref(node);
    return n->call != NULL;
}

static struct k1s_metrics_api *metrics_api(k1s_apiserver_t *api)
{
    if (!api->metrics_api) {
        api->metrics_api = k1s_xcalloc(1, sizeof(struct k1s_metrics_api));
        api->metrics_api->api = api;
    }
    return api->metrics_api;
}

typedef struct node_iter {
    struct k1s_metrics_api *m;
    const char *only;
    bool any_busy;
} node_iter_t;

/* Starts the scrapes the Ready nodes need (only: that node). */
static int refresh_one(k1s_kv_t *kv, void *arg)
{
    node_iter_t *it = arg;
    const k1s_obj_aux_t *aux = kv->aux;
    if (it->only && (!aux || strcmp(aux->name, it->only)))
        return 0;
    json_t *node = k1s_obj_decode(kv->value);
    bool ready = node_ready(node);
    json_decref(node);
    if (!ready || !aux)
        return 0;
    mnode_t *n = node_get(it->m, aux->name);
    if (!busy(n) && !fresh(n))
        scrape(n);
    it->any_busy |= busy(n);
    return 0;
}

/* ---- answers ---- */

static json_t *metrics_meta(const char *name, const char *ns, const json_t *labels)
{
    char now[32];
    k1s_time_rfc3339(now);
    json_t *meta = json_pack("{s:s, s:s}", "name", name, "creationTimestamp", now);
    if (ns)
        json_object_set_new(meta, "namespace", json_string(ns));
    if (json_object_size(labels))
        json_object_set(meta, "labels", (json_t *)labels);
    return meta;
}

static json_t *node_metrics(const mnode_t *n, const k1s_obj_aux_t *aux)
{
    if (n->failed || !have_window(n))
        return NULL;
    const json_t *l = json_object_get(n->last, "node"), *p = json_object_get(n->prev, "node");
    double rate;
    int64_t ts, window;
    const json_t *mem = json_object_get(json_object_get(l, "memory"), "workingSetBytes");
    if (!cpu_rate(json_object_get(p, "cpu"), json_object_get(l, "cpu"), &rate, &ts, &window) ||
        !json_is_integer(mem))
        return NULL;
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:{s:o, s:o}}", "kind", "NodeMetrics", "apiVersion",
                     "metrics.k8s.io/v1beta1", "metadata",
                     metrics_meta(n->name, NULL, aux ? aux->labels : NULL), "timestamp",
                     time_json(ts), "window", window_json(window), "usage", "cpu",
                     cpu_quantity(rate), "memory", memory_quantity(json_integer_value(mem)));
}

/* PodMetrics of one pod of the summaries, or NULL if any container lacks a rate. */
static json_t *pod_metrics(const json_t *lp, const json_t *pp, const k1s_obj_aux_t *aux)
{
    const json_t *ref = json_object_get(lp, "podRef");
    json_t *ctrs = json_array();
    int64_t ts = 0, window = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(lp, "containers"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *pc = find_by(json_object_get(pp, "containers"), "name", NULL, name);
        const json_t *mem = json_object_get(json_object_get(c, "memory"), "workingSetBytes");
        double rate;
        int64_t t, w;
        if (!name || !pc || !json_is_integer(mem) ||
            !cpu_rate(json_object_get(pc, "cpu"), json_object_get(c, "cpu"), &rate, &t, &w)) {
            json_decref(ctrs);
            return NULL;
        }
        if (t > ts) {
            ts = t;
            window = w;
        }
        json_array_append_new(ctrs, json_pack("{s:s, s:{s:o, s:o}}", "name", name, "usage", "cpu",
                                              cpu_quantity(rate), "memory",
                                              memory_quantity(json_integer_value(mem))));
    }
    if (!json_array_size(ctrs)) {
        json_decref(ctrs);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "kind", "PodMetrics", "apiVersion",
                     "metrics.k8s.io/v1beta1", "metadata",
                     metrics_meta(json_string_value(json_object_get(ref, "name")),
                                  json_string_value(json_object_get(ref, "namespace")),
                                  aux ? aux->labels : NULL),
                     "timestamp", time_json(ts), "window", window_json(window), "containers", ctrs);
}

typedef struct collect {
    struct k1s_metrics_api *m;
    k1s_api_req_t *r;
    const k1s_list_filter_t *f;
    const char *name;
    json_t *items;
} collect_t;

static int collect_node(k1s_kv_t *kv, void *arg)
{
    collect_t *c = arg;
    const k1s_obj_aux_t *aux = kv->aux;
    if (!aux || (c->name && strcmp(aux->name, c->name)) || !k1s_list_filter_match(c->f, aux))
        return 0;
    for (mnode_t *n = c->m->nodes; n; n = n->next)
        if (!strcmp(n->name, aux->name) && recent(n)) { /* not a NotReady node's old figures */
            json_t *o = node_metrics(n, aux);
            if (o)
                json_array_append_new(c->items, o);
        }
    return 0;
}

/* The pods of the nodes' summaries that still exist and match the request. */
static void collect_pods(collect_t *c)
{
    k1s_apiserver_t *api = c->m->api;
    const k1s_resource_t *pres = k1s_registry_find("", "v1", "pods");
    for (mnode_t *n = c->m->nodes; n; n = n->next) {
        if (n->failed || !n->prev || !recent(n))
            continue; /* unreachable, or not Ready (not scraped) for a while */
        size_t i;
        json_t *lp;
        json_array_foreach(json_object_get(n->last, "pods"), i, lp)
        {
            const json_t *ref = json_object_get(lp, "podRef");
            const char *ns = json_string_value(json_object_get(ref, "namespace"));
            const char *name = json_string_value(json_object_get(ref, "name"));
            const char *uid = json_string_value(json_object_get(ref, "uid"));
            if (!ns || !name || (c->r->ns && strcmp(ns, c->r->ns)) ||
                (c->name && strcmp(name, c->name)))
                continue;
            char *key = k1s_obj_key(pres, ns, name);
            k1s_kv_t *kv = k1s_store_get(api->store, key);
            free(key);
            /* the pod object, to match selectors and to skip a pod deleted since */
            const k1s_obj_aux_t *aux = kv ? kv->aux : NULL;
            if (!aux || !k1s_list_filter_match(c->f, aux))
                continue;
            json_t *pp = find_by(json_object_get(n->prev, "pods"), "podRef", "uid", uid);
            json_t *o = pp ? pod_metrics(lp, pp, aux) : NULL;
            if (o)
                json_array_append_new(c->items, o);
        }
    }
}

/* The sum of a PodMetrics' containers' usage of res ("cpu" in n, "memory" in Ki or bytes). */
static json_t *pod_usage_sum(const json_t *o, const char *res)
{
    double sum = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(o, "containers"), i, c)
    {
        const char *q = json_string_value(json_object_get(json_object_get(c, "usage"), res));
        char *end;
        double v = q ? strtod(q, &end) : 0;
        if (q && !strcmp(end, "Ki"))
            v *= 1024;
        sum += v;
    }
    return strcmp(res, "cpu") ? memory_quantity((json_int_t)sum) : cpu_quantity(sum);
}

/* A meta.k8s.io/v1 Table of the items, with metrics-server's columns. Takes items. */
static json_t *metrics_table(k1s_api_req_t *r, json_t *items, bool nodes)
{
    json_t *cols = json_pack(
        "[{s:s, s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:s, s:i},"
        " {s:s, s:s, s:s, s:s, s:i}]",
        "name", "Name", "type", "string", "format", "name", "description", "Name of the resource",
        "priority", 0, "name", "Cpu", "type", "string", "format", "", "description", "CPU usage",
        "priority", 0, "name", "Memory", "type", "string", "format", "", "description",
        "Memory usage", "priority", 0, "name", "Window", "type", "string", "format", "",
        "description", "Time window used to calculate the usage", "priority", 0);
    const char *include = k1s_http_req_query(r->http, "includeObject");
    json_t *rows = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        const json_t *u = json_object_get(o, "usage");
        json_t *cells = json_pack(
            "[O, o, o, O]", json_object_get(json_object_get(o, "metadata"), "name"),
            nodes ? json_incref(json_object_get(u, "cpu")) : pod_usage_sum(o, "cpu"),
            nodes ? json_incref(json_object_get(u, "memory")) : pod_usage_sum(o, "memory"),
            json_object_get(o, "window"));
        json_t *row = json_pack("{s:o}", "cells", cells);
        if (include && !strcmp(include, "Object"))
            json_object_set(row, "object", o);
        else if (!include || strcmp(include, "None"))
            json_object_set_new(row, "object",
                                json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata",
                                          "apiVersion", "meta.k8s.io/v1", "metadata",
                                          json_object_get(o, "metadata")));
        json_array_append_new(rows, row);
    }
    json_decref(items);
    return json_pack("{s:s, s:s, s:{}, s:o, s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
                     "metadata", "columnDefinitions", cols, "rows", rows);
}

static void answer(struct k1s_metrics_api *m, k1s_api_req_t *r, const char *name)
{
    bool failed;
    k1s_list_filter_t *f = name ? NULL : k1s_list_filter_new(r, &failed);
    if (!name && failed)
        return; /* answered 400 */
    collect_t c = {.m = m, .r = r, .f = f, .name = name, .items = json_array()};
    bool nodes = !strcmp(r->res->plural, "nodes");
    if (nodes) {
        const k1s_resource_t *nres = k1s_registry_find("", "v1", "nodes");
        char *prefix = k1s_obj_prefix(nres, NULL);
        k1s_store_range(m->api->store, prefix, NULL, collect_node, &c);
        free(prefix);
    } else {
        collect_pods(&c);
    }
    k1s_list_filter_free(f);
    if (name) {
        json_t *o = json_incref(json_array_get(c.items, 0));
        json_decref(c.items);
        if (!o) {
            k1s_api_fail(r, 404, "NotFound", "%s.metrics.k8s.io \"%s\" not found",
                         nodes ? "nodemetrics" : "podmetrics", name);
            return;
        }
        if (k1s_api_wants_table(r))
            k1s_api_send_json(r, 200, metrics_table(r, json_pack("[o]", o), nodes));
        else
            k1s_api_send_json(r, 200, o);
        return;
    }
    if (k1s_api_wants_table(r)) {
        k1s_api_send_json(r, 200, metrics_table(r, c.items, nodes));
        return;
    }
    json_t *list =
        json_pack("{s:s, s:s, s:{}, s:o}", "kind", nodes ? "NodeMetricsList" : "PodMetricsList",
                  "apiVersion", "metrics.k8s.io/v1beta1", "metadata", "items", c.items);
    k1s_api_send_json(r, 200, list);
}

static bool any_busy(const struct k1s_metrics_api *m)
{
    for (const mnode_t *n = m->nodes; n; n = n->next)
        if (busy(n))
            return true;
    return false;
}

/* Answers the requests waiting once no scrape is in flight. */
static void answer_waiting(struct k1s_metrics_api *m)
{
    if (any_busy(m))
        return;
    mwait_t *w = m->waiting;
    m->waiting = NULL;
    while (w) {
        mwait_t *next = w->next;
        answer(m, w->r, w->name);
        free(w->name);
        free(w);
        w = next;
    }
}

/* Forgets nodes that are no longer in the store. */
static void prune_nodes(struct k1s_metrics_api *m)
{
    const k1s_resource_t *nres = k1s_registry_find("", "v1", "nodes");
    for (mnode_t **pp = &m->nodes; *pp;) {
        mnode_t *n = *pp;
        char *key = k1s_obj_key(nres, NULL, n->name);
        k1s_kv_t *kv = busy(n) ? NULL : k1s_store_get(m->api->store, key);
        free(key);
        if (!busy(n) && !kv) {
            *pp = n->next;
            node_free(n);
            continue;
        }
        pp = &n->next;
    }
}

void k1s_metrics_handle(k1s_api_req_t *r, const char *name, bool extra)
{
    const char *method = r->http->method;
    if (extra) {
        k1s_api_fail(r, 404, "NotFound", "the server could not find the requested resource");
        return;
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        k1s_api_fail(r, 405, "MethodNotAllowed",
                     "the server does not allow this method on the requested resource");
        return;
    }
    const char *watch = k1s_http_req_query(r->http, "watch");
    if (watch && (!strcmp(watch, "true") || !strcmp(watch, "1"))) {
        k1s_api_fail(r, 405, "MethodNotAllowed",
                     "the server does not allow this method on the requested resource");
        return;
    }
    r->verb = name ? "get" : "list";
    if (name)
        r->name = k1s_xstrdup(name);
    struct k1s_metrics_api *m = metrics_api(r->api);
    prune_nodes(m);
    node_iter_t it = {.m = m};
    /* a pod's metrics need every node (its node is not known without a look-up) */
    if (name && !strcmp(r->res->plural, "nodes"))
        it.only = name;
    const k1s_resource_t *nres = k1s_registry_find("", "v1", "nodes");
    char *prefix = k1s_obj_prefix(nres, NULL);
    k1s_store_range(r->api->store, prefix, NULL, refresh_one, &it);
    free(prefix);
    if (!any_busy(m)) {
        answer(m, r, name);
        return;
    }
    mwait_t *w = k1s_xcalloc(1, sizeof(*w));
    w->r = r;
    w->name = name ? k1s_xstrdup(name) : NULL;
    w->next = m->waiting;
    m->waiting = w;
}

void k1s_metrics_api_free(k1s_apiserver_t *api)
{
    struct k1s_metrics_api *m = api->metrics_api;
    if (!m)
        return;
    while (m->waiting) {
        mwait_t *w = m->waiting;
        m->waiting = w->next;
        k1s_api_fail(w->r, 503, "ServiceUnavailable", "the API server is shutting down");
        free(w->name);
        free(w);
    }
    while (m->nodes) {
        mnode_t *n = m->nodes;
        m->nodes = n->next;
        node_free(n);
    }
    free(m);
    api->metrics_api = NULL;
}
