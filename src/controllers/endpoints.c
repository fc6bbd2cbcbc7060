/*
 * The Endpoints controller (kube-controller-manager's "endpoint", service
 * account endpoint-controller): for every Service with a selector, an
 * Endpoints object of the same name listing the selected pods' IPs, ready
 * ones under addresses and the others under notReadyAddresses (all under
 * addresses with publishNotReadyAddresses), each with its nodeName,
 * hostname (pods whose subdomain is the Service) and a targetRef, grouped
 * into subsets of addresses sharing the same ports, a named targetPort
 * resolved per pod. Labels are the Service's (plus
 * service.kubernetes.io/headless for headless Services); at most 1000
 * addresses are kept, with endpoints.kubernetes.io/over-capacity:
 * truncated; endpoints.kubernetes.io/last-change-trigger-time says when
 * the change that caused a write happened.
 *
 * Services without a selector are left alone (their users write the
 * Endpoints, as the API server does for default/kubernetes); a deleted
 * Service's Endpoints are deleted, and so are, when the controller starts,
 * Endpoints without a Service (left by one deleted while no controller
 * ran). Nothing is written when the Endpoints already say what they should.
 */
#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "controllers/endpoints-int.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAX_CAPACITY 1000
#define OVER_CAPACITY_ANNOTATION "endpoints.kubernetes.io/over-capacity"

static const k1s_gvr_t services_gvr = {"", "v1", "services", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};
static const k1s_gvr_t endpoints_gvr = {"", "v1", "endpoints", true};

typedef struct write_op write_op_t;

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *services, *pods, *endpoints;
    k1s_workqueue_t *queue;
    k1s_ep_trigger_t trigger;
    k1s_ep_writes_t writes;
    write_op_t *ops; /* writes in flight, freed by stop() if never answered */
    bool leftovers_queued;
    k1s_ep_pod_watch_t pod_watch;
} ep_ctrl_t;

struct write_op {
    ep_ctrl_t *c;
    char *key;
    json_t *obj; /* what was written (for Events); NULL for a delete */
    const char *verb;
    write_op_t *prev, *next;
};

/* ---- subsets (pkg/api/v1/endpoints RepackSubsets) ---- */

typedef struct {
    json_t *port; /* an EndpointPort, or NULL for "no ports" */
    int *members; /* address index * 2 + ready */
    size_t n, cap;
    char *sig;
} port_ent_t;

typedef struct {
    json_t *addrs;    /* unique addresses */
    k1s_strmap_t idx; /* "ip/uid" -> index + 1 */
    port_ent_t *ports;
    size_t nports;
} packer_t;

static void packer_add(packer_t *p, json_t *addr, bool ready, const json_t *port)
{
    const json_t *ref = json_object_get(addr, "targetRef");
    char *k = k1s_xasprintf("%s/%s", k1s_ctrl_str(addr, "ip"), k1s_ctrl_str(ref, "uid"));
    intptr_t ai = (intptr_t)k1s_strmap_get(&p->idx, k);
    if (!ai) {
        json_array_append(p->addrs, addr);
        ai = (intptr_t)json_array_size(p->addrs);
        k1s_strmap_set(&p->idx, k, (void *)ai);
    }
    free(k);
    port_ent_t *e = NULL;
    for (size_t i = 0; i < p->nports && !e; i++)
        if ((!port && !p->ports[i].port) ||
            (port && p->ports[i].port && json_equal(port, p->ports[i].port)))
            e = &p->ports[i];
    if (!e) {
        p->ports = k1s_xrealloc(p->ports, (p->nports + 1) * sizeof(*p->ports));
        e = &p->ports[p->nports++];
        memset(e, 0, sizeof(*e));
        e->port = port ? json_deep_copy(port) : NULL;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->members = k1s_xrealloc(e->members, e->cap * sizeof(*e->members));
    }
    e->members[e->n++] = (int)(ai - 1) * 2 + (ready ? 1 : 0);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* Addresses by IP, then targetRef uid (LessEndpointAddress). */
static int cmp_addr(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int r = strcmp(k1s_ctrl_str(x, "ip"), k1s_ctrl_str(y, "ip"));
    if (r)
        return r;
    return strcmp(k1s_ctrl_str(json_object_get(x, "targetRef"), "uid"),
                  k1s_ctrl_str(json_object_get(y, "targetRef"), "uid"));
}

/* Subsets by their first port, then first address: an order that does not depend on input. */
static int cmp_subset(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const json_t *px = json_array_get(json_object_get(x, "ports"), 0),
                 *py = json_array_get(json_object_get(y, "ports"), 0);
    if (px && py) {
        int r = k1s_ep_cmp_port(&px, &py);
        if (r)
            return r;
    } else if (px || py) {
        return px ? 1 : -1;
    }
    const json_t *ax = json_array_get(json_object_get(x, "addresses"), 0);
    const json_t *ay = json_array_get(json_object_get(y, "addresses"), 0);
    if (!ax)
        ax = json_array_get(json_object_get(x, "notReadyAddresses"), 0);
    if (!ay)
        ay = json_array_get(json_object_get(y, "notReadyAddresses"), 0);
    if (ax && ay)
        return cmp_addr(&ax, &ay);
    return ax ? 1 : ay ? -1 : 0;
}

/*
 * The subsets the packer's (address, ready, port) triples make: ports
 * offered by exactly the same addresses share a subset. Returns a new array.
 */
static json_t *packer_subsets(packer_t *p)
{
    json_t *subsets = json_array();
    k1s_strmap_t groups = K1S_STRMAP_INIT; /* signature -> subset index + 1 */
    for (size_t i = 0; i < p->nports; i++) {
        port_ent_t *e = &p->ports[i];
        qsort(e->members, e->n, sizeof(int), cmp_int);
        size_t len = 0, cap = 16;
        char *sig = k1s_xmalloc(cap);
        sig[0] = 0;
        int last = -1;
        for (size_t j = 0; j < e->n; j++) {
            if (e->members[j] / 2 == last / 2 && last >= 0)
                continue; /* an address counted twice for the same port */
            last = e->members[j];
            char buf[24];
            int w = snprintf(buf, sizeof(buf), "%d,", e->members[j]);
            if (len + (size_t)w + 1 > cap) {
                cap = (cap + (size_t)w) * 2;
                sig = k1s_xrealloc(sig, cap);
            }
            memcpy(sig + len, buf, (size_t)w + 1);
            len += (size_t)w;
        }
        intptr_t gi = (intptr_t)k1s_strmap_get(&groups, sig);
        json_t *ss;
        if (!gi) {
            ss = json_object();
            json_t *ready = json_array(), *not_ready = json_array();
            last = -1;
            for (size_t j = 0; j < e->n; j++) {
                if (e->members[j] / 2 == last / 2 && last >= 0)
                    continue;
                last = e->members[j];
                json_array_append(e->members[j] & 1 ? ready : not_ready,
                                  json_array_get(p->addrs, (size_t)(e->members[j] / 2)));
            }
            k1s_ep_sort_array(ready, cmp_addr);
            k1s_ep_sort_array(not_ready, cmp_addr);
            if (json_array_size(ready))
                json_object_set(ss, "addresses", ready);
            if (json_array_size(not_ready))
                json_object_set(ss, "notReadyAddresses", not_ready);
            json_decref(ready);
            json_decref(not_ready);
            json_array_append_new(subsets, ss);
            k1s_strmap_set(&groups, sig, (void *)(intptr_t)json_array_size(subsets));
        } else {
            ss = json_array_get(subsets, (size_t)(gi - 1));
        }
        free(sig);
        if (e->port) {
            json_t *ports = json_object_get(ss, "ports");
            if (!ports) {
                ports = json_array();
                json_object_set_new(ss, "ports", ports);
            }
            json_array_append(ports, e->port);
        }
    }
    k1s_strmap_free(&groups);
    size_t i;
    json_t *ss;
    json_array_foreach(subsets, i, ss)
    {
        k1s_ep_sort_array(json_object_get(ss, "ports"), k1s_ep_cmp_port);
    }
    k1s_ep_sort_array(subsets, cmp_subset);
    return subsets;
}

static void packer_free(packer_t *p)
{
    json_decref(p->addrs);
    k1s_strmap_free(&p->idx);
    for (size_t i = 0; i < p->nports; i++) {
        json_decref(p->ports[i].port);
        free(p->ports[i].members);
    }
    free(p->ports);
}

/* Keeps the first n elements of arr (an array or NULL). */
static void truncate_array(json_t *arr, size_t n)
{
    while (json_array_size(arr) > n)
        json_array_remove(arr, json_array_size(arr) - 1);
}

/*
 * truncateEndpoints: at most MAX_CAPACITY addresses, ready ones first, each
 * subset keeping its share (rounded up). Returns whether anything was cut.
 */
static bool truncate_subsets(json_t *subsets)
{
    size_t total_ready = 0, total_not_ready = 0, i;
    json_t *ss;
    json_array_foreach(subsets, i, ss)
    {
        total_ready += json_array_size(json_object_get(ss, "addresses"));
        total_not_ready += json_array_size(json_object_get(ss, "notReadyAddresses"));
    }
    if (total_ready + total_not_ready <= MAX_CAPACITY)
        return false;
    bool cut_ready = total_ready > MAX_CAPACITY;
    size_t max = cut_ready ? MAX_CAPACITY : MAX_CAPACITY - total_ready;
    size_t num_total = cut_ready ? total_ready : total_not_ready;
    size_t can_add = max;
    json_array_foreach(subsets, i, ss)
    {
        json_t *ready = json_object_get(ss, "addresses"),
               *not_ready = json_object_get(ss, "notReadyAddresses");
        size_t in_subset = json_array_size(cut_ready ? ready : not_ready);
        size_t add = (in_subset * max + num_total - 1) / num_total;
        if (add > can_add)
            add = can_add;
        if (cut_ready) {
            truncate_array(ready, add);
            json_object_del(ss, "notReadyAddresses");
            can_add -= json_array_size(ready);
        } else {
            truncate_array(not_ready, add);
            can_add -= json_array_size(not_ready);
        }
        if (!json_array_size(json_object_get(ss, "notReadyAddresses")))
            json_object_del(ss, "notReadyAddresses");
        if (!json_array_size(json_object_get(ss, "addresses")))
            json_object_del(ss, "addresses");
    }
    return true;
}

/* An EndpointAddress for pod. */
static json_t *pod_address(const json_t *pod, const json_t *svc, const char *ip)
{
    const json_t *spec = json_object_get(pod, "spec");
    json_t *a = json_pack("{s:s}", "ip", ip);
    if (k1s_ep_should_set_hostname(pod, svc))
        json_object_set_new(a, "hostname", json_string(k1s_ctrl_str(spec, "hostname")));
    if (*k1s_ctrl_str(spec, "nodeName"))
        json_object_set_new(a, "nodeName", json_string(k1s_ctrl_str(spec, "nodeName")));
    json_object_set_new(a, "targetRef", k1s_ep_pod_ref(pod));
    return a;
}

/* The subsets svc's pods make; new array. */
static json_t *desired_subsets(const json_t *svc, json_t *const *pods, int npods)
{
    const json_t *spec = json_object_get(svc, "spec");
    bool pnr = json_is_true(json_object_get(spec, "publishNotReadyAddresses"));
    const json_t *ports = json_object_get(spec, "ports");
    packer_t p = {.addrs = json_array()};
    for (int i = 0; i < npods; i++) {
        if (!k1s_ep_pod_included(pods[i], pnr))
            continue;
        json_t *addr = pod_address(pods[i], svc, k1s_ep_pod_ipv4(pods[i]));
        bool ready = pnr || k1s_pod_is_ready(pods[i]);
        if (!json_array_size(ports)) {
            if (k1s_ep_headless(svc))
                packer_add(&p, addr, ready, NULL);
        } else {
            size_t j;
            json_t *sp;
            json_array_foreach(ports, j, sp)
            {
                int num = k1s_ep_find_port(pods[i], sp);
                if (num < 0)
                    continue;
                json_t *epp = k1s_ep_port(sp, num, false); /* endpointPortFromServicePort */
                packer_add(&p, addr, ready, epp);
                json_decref(epp);
            }
        }
        json_decref(addr);
    }
    json_t *subsets = packer_subsets(&p);
    packer_free(&p);
    return subsets;
}

/* The labels the Endpoints of svc carry; new object. */
static json_t *desired_labels(const json_t *svc)
{
    const json_t *l = json_object_get(json_object_get(svc, "metadata"), "labels");
    json_t *labels = json_is_object(l) ? json_deep_copy(l) : json_object();
    if (k1s_ep_headless(svc))
        json_object_set_new(labels, K1S_EP_HEADLESS_LABEL, json_string(""));
    else
        json_object_del(labels, K1S_EP_HEADLESS_LABEL);
    return labels;
}

/* ---- writes ---- */

static void op_free(write_op_t *op)
{
    json_decref(op->obj);
    free(op->key);
    free(op);
}

static write_op_t *op_new(ep_ctrl_t *c, const char *key, json_t *obj, const char *verb)
{
    write_op_t *op = k1s_xcalloc(1, sizeof(*op));
    op->c = c;
    op->key = k1s_xstrdup(key);
    op->obj = json_incref(obj);
    op->verb = verb;
    K1S_LIST_ADD(c->ops, op);
    return op;
}

static void write_done(const k1s_client_result_t *res, void *arg)
{
    write_op_t *op = arg;
    ep_ctrl_t *c = op->c;
    K1S_LIST_DEL(c->ops, op);
    bool ok = res->status >= 200 && res->status < 300;
    if (ok && op->obj) {
        k1s_ep_writes_wrote(&c->writes, op->key, res->obj);
    } else if (ok || (!op->obj && res->status == 404)) {
        char *ns, *name;
        k1s_ctrl_split_key(op->key, &ns, &name);
        if (ok)
            k1s_ep_writes_deleted(&c->writes, op->key, name);
        free(ns);
        free(name);
        ok = true;
    }
    if (ok) {
        k1s_workqueue_forget(c->queue, op->key);
    } else if (res->status == 403 && strstr(res->message, "because it is being terminated")) {
        /* the namespace is going away: creates keep failing, drop the key */
        k1s_workqueue_forget(c->queue, op->key);
    } else {
        k1s_debug("endpoint-controller: %s endpoints %s: %d %s", op->verb, op->key, res->status,
                  res->message);
        if (op->obj && res->status != 409 && !strcmp(op->verb, "create"))
            k1s_recorder_event(c->ctx->recorder, op->obj, "Warning", "FailedToCreateEndpoint",
                               "Failed to create endpoint for service %s: %s", op->key,
                               res->message);
        else if (op->obj && res->status != 409)
            k1s_recorder_event(c->ctx->recorder, op->obj, "Warning", "FailedToUpdateEndpoint",
                               "Failed to update endpoint %s: %s", op->key, res->message);
        k1s_workqueue_add_rate_limited(c->queue, op->key);
    }
    k1s_workqueue_done(c->queue, op->key);
    op_free(op);
}

/* ---- sync ---- */

static void queue_leftovers(ep_ctrl_t *c);

/* Syncs key; returns true if a write is out (it marks the key done). */
static bool sync_service(void *arg, const char *key, const char *ns, const char *name)
{
    ep_ctrl_t *c = arg;
    json_t *svc = k1s_informer_get(c->services, ns, name);
    json_t *cur = k1s_informer_get(c->endpoints, ns, name);
    if (!svc) {
        k1s_ep_trigger_forget(&c->trigger, key);
        if (!cur)
            return false;
        write_op_t *op = op_new(c, key, NULL, "delete");
        k1s_client_delete(c->ctx->client, &endpoints_gvr, ns, name, NULL, write_done, op);
        return true;
    }
    const json_t *sel = k1s_ep_selector(svc);
    if (!strcmp(k1s_ctrl_str(json_object_get(svc, "spec"), "type"), "ExternalName") || !sel)
        return false;
    if (!k1s_ep_writes_seen(&c->writes, key, c->endpoints, ns))
        return false; /* our last write's event has yet to come, and will queue the key */

    json_t **pods = NULL;
    int np = k1s_ep_selected_pods(c->pods, sel, ns, &pods);
    int64_t trigger = k1s_ep_trigger_compute(&c->trigger, key, svc, pods, np);
    json_t *subsets = desired_subsets(svc, pods, np);
    free(pods);
    bool truncated = truncate_subsets(subsets);
    json_t *labels = desired_labels(svc);

    const json_t *cur_md = json_object_get(cur, "metadata");
    const json_t *cur_ann = json_object_get(cur_md, "annotations");
    if (cur && k1s_ep_same_or_empty(json_object_get(cur, "subsets"), subsets) &&
        k1s_ep_same_or_empty(json_object_get(cur_md, "labels"), labels) &&
        !!json_object_get(cur_ann, OVER_CAPACITY_ANNOTATION) == truncated) {
        json_decref(subsets);
        json_decref(labels);
        return false;
    }
    json_t *ep = cur ? json_deep_copy(cur)
                     : json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "Endpoints",
                                 "metadata", "name", name, "namespace", ns);
    json_t *md = json_object_get(ep, "metadata");
    if (json_array_size(subsets))
        json_object_set(ep, "subsets", subsets);
    else
        json_object_del(ep, "subsets");
    json_object_set(md, "labels", labels);
    json_t *ann = json_object_get(md, "annotations");
    if (!json_is_object(ann)) {
        ann = json_object();
        json_object_set_new(md, "annotations", ann);
    }
    if (trigger >= 0) {
        char ts[32];
        k1s_ctrl_format_time(trigger, ts);
        json_object_set_new(ann, K1S_EP_TRIGGER_ANNOTATION, json_string(ts));
    } else {
        json_object_del(ann, K1S_EP_TRIGGER_ANNOTATION);
    }
    if (truncated)
        json_object_set_new(ann, OVER_CAPACITY_ANNOTATION, json_string("truncated"));
    else
        json_object_del(ann, OVER_CAPACITY_ANNOTATION);
    if (!json_object_size(ann))
        json_object_del(md, "annotations");
    json_decref(subsets);
    json_decref(labels);

    k1s_debug("endpoint-controller: %s endpoints %s", cur ? "updating" : "creating", key);
    write_op_t *op = op_new(c, key, ep, cur ? "update" : "create");
    if (cur)
        k1s_client_update(c->ctx->client, &endpoints_gvr, ns, ep, write_done, op);
    else
        k1s_client_create(c->ctx->client, &endpoints_gvr, ns, ep, write_done, op);
    json_decref(ep);
    return true;
}

static void process(k1s_workqueue_t *q, const char *key, void *arg)
{
    ep_ctrl_t *c = arg;
    if (!k1s_ctrl_synced(q, key, (k1s_informer_t *[]){c->services, c->pods, c->endpoints, NULL}))
        return;
    if (!c->leftovers_queued) {
        c->leftovers_queued = true;
        queue_leftovers(c);
    }
    k1s_ep_run_sync(q, key, sync_service, c);
}

/* ---- informer handlers ---- */

/* Endpoints changes queue their Service when it has a selector (ours to keep right). */
static void ep_event(ep_ctrl_t *c, const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    json_t *svc =
        k1s_informer_get(c->services, k1s_ctrl_str(md, "namespace"), k1s_ctrl_str(md, "name"));
    if (svc && k1s_ep_selector(svc))
        k1s_ctrl_enqueue(c->queue, obj);
}

/*
 * checkLeftoverEndpoints: once the caches are filled, Endpoints without a
 * Service (left by a Service deleted while no controller ran) are queued
 * to be deleted; leader-election records are not Service endpoints.
 */
static void queue_leftovers(ep_ctrl_t *c)
{
    json_t **eps = NULL;
    size_t n = k1s_informer_list(c->endpoints, &eps);
    for (size_t i = 0; i < n; i++) {
        const json_t *md = json_object_get(eps[i], "metadata");
        if (json_object_get(json_object_get(md, "annotations"),
                            "control-plane.alpha.kubernetes.io/leader"))
            continue;
        if (!k1s_informer_get(c->services, k1s_ctrl_str(md, "namespace"), k1s_ctrl_str(md, "name")))
            k1s_ctrl_enqueue(c->queue, eps[i]);
    }
    free(eps);
}

static void ep_add(json_t *obj, void *arg)
{
    ep_event(arg, obj);
}

static void ep_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    ep_event(arg, new_obj);
}

/* ---- lifecycle ---- */

static void *ep_start(k1s_ctrl_ctx_t *ctx)
{
    ep_ctrl_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->services = k1s_informer_factory_get(ctx->factory, &services_gvr);
    c->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    c->endpoints = k1s_informer_factory_get(ctx->factory, &endpoints_gvr);
    k1s_ctrl_index_namespace(c->services);
    k1s_ctrl_index_namespace(c->pods);
    c->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, process, c);
    c->pod_watch = (k1s_ep_pod_watch_t){c->services, c->queue};
    k1s_informer_handlers_t eh = {ep_add, ep_update, ep_add, c};
    k1s_ctrl_watch_keys(c->services, c->queue);
    k1s_ep_watch_pods(c->pods, &c->pod_watch);
    k1s_informer_add_handlers(c->endpoints, &eh);
    return c;
}

static void ep_stop(void *state)
{
    ep_ctrl_t *c = state;
    if (!c)
        return;
    while (c->ops) {
        write_op_t *op = c->ops;
        K1S_LIST_DEL(c->ops, op);
        op_free(op);
    }
    k1s_workqueue_free(c->queue);
    k1s_ep_trigger_free(&c->trigger);
    k1s_ep_writes_free(&c->writes);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_endpoints = {
    .name = "endpoint",
    .service_account = "endpoint-controller",
    .component = "endpoint-controller",
    .start = ep_start,
    .stop = ep_stop,
};
