/*
 * The EndpointSlice controller (kube-controller-manager's "endpointslice",
 * service account endpointslice-controller): for every Service with a
 * selector, discovery.k8s.io/v1 EndpointSlices of addressType IPv4 listing
 * the selected pods, one endpoint per pod with its address, conditions
 * (ready, serving, terminating: a terminating pod stays listed as
 * serving/terminating, not ready), nodeName, zone (its node's
 * topology.kubernetes.io/zone), hostname (pods whose subdomain is the
 * Service) and targetRef; pods on a Node the cache does not know are left
 * out until it comes (unless the Service publishes not-ready addresses).
 * Pods whose named targetPorts resolve to the same
 * port numbers share slices; a slice holds at most 100 endpoints. Slices
 * carry the labels kubernetes.io/service-name and
 * endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io
 * (and the Service's own), and a controller ownerReference to the Service.
 *
 * As upstream's reconciler, a sync changes as little as it can: endpoints
 * that did not change stay in their slice, changed ones are replaced in
 * place, new ones go first into slices being updated anyway, then into new
 * slices, and the last few into an unchanged slice with room; emptied
 * slices are deleted. A Service with no endpoints keeps one empty
 * placeholder slice. Nothing is written when the slices already say what
 * they should. Services without a selector are left alone; a deleted
 * Service's slices are deleted (besides the garbage collector doing so).
 */
#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "controllers/endpoints-int.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAX_ENDPOINTS_PER_SLICE 100
#define LABEL_SERVICE_NAME "kubernetes.io/service-name"
#define LABEL_MANAGED_BY "endpointslice.kubernetes.io/managed-by"
#define CONTROLLER_NAME "endpointslice-controller.k8s.io"
#define LABEL_ZONE "topology.kubernetes.io/zone"
#define INDEX_SERVICE "service-name"

static const k1s_gvr_t services_gvr = {"", "v1", "services", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};
static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};
static const k1s_gvr_t slices_gvr = {"discovery.k8s.io", "v1", "endpointslices", true};

typedef struct batch batch_t;
typedef struct slice_op slice_op_t;

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *services, *pods, *nodes, *slices;
    k1s_workqueue_t *queue;
    k1s_ep_trigger_t trigger;
    k1s_ep_writes_t writes;
    slice_op_t *ops; /* writes in flight, freed by stop() if never answered */
} es_ctrl_t;

/* The writes of one sync: the key is done when the last is answered. */
struct batch {
    es_ctrl_t *c;
    char *key;
    json_t *svc; /* for Events */
    int outstanding;
    bool failed;
    char *error;
};

struct slice_op {
    batch_t *b;
    char *name; /* a delete's slice name, else NULL */
    slice_op_t *prev, *next;
};

static const json_t *md_of(const json_t *o)
{
    return json_object_get(o, "metadata");
}

/* Index of our slices by the name of their Service. */
static int index_service_name(json_t *obj, const char **out)
{
    const json_t *labels = json_object_get(md_of(obj), "labels");
    if (strcmp(k1s_ctrl_str(labels, LABEL_MANAGED_BY), CONTROLLER_NAME))
        return 0;
    const char *svc = k1s_ctrl_str(labels, LABEL_SERVICE_NAME);
    if (!*svc)
        return 0;
    out[0] = svc;
    return 1;
}

/* Our slices of Service ns/name, sorted by name; returns the count, *out to free(). */
static int cmp_name(const void *a, const void *b)
{
    return strcmp(k1s_ctrl_str(md_of(*(json_t *const *)a), "name"),
                  k1s_ctrl_str(md_of(*(json_t *const *)b), "name"));
}

static int service_slices(es_ctrl_t *c, const char *ns, const char *name, json_t ***out)
{
    json_t **all = NULL;
    int n = k1s_informer_by_index(c->slices, INDEX_SERVICE, name, &all), k = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(k1s_ctrl_str(md_of(all[i]), "namespace"), ns))
            all[k++] = all[i];
    if (k > 1)
        qsort(all, (size_t)k, sizeof(*all), cmp_name);
    *out = all;
    return k < 0 ? 0 : k;
}

/* ---- what the slices should hold ---- */

static int cmp_port(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int r = strcmp(k1s_ctrl_str(x, "name"), k1s_ctrl_str(y, "name"));
    if (r)
        return r;
    json_int_t px = json_integer_value(json_object_get(x, "port")),
               py = json_integer_value(json_object_get(y, "port"));
    if (px != py)
        return px < py ? -1 : 1;
    return strcmp(k1s_ctrl_str(x, "protocol"), k1s_ctrl_str(y, "protocol"));
}

/* A canonical string for a list of ports (any order), to group slices and endpoints by. */
static char *ports_key(const json_t *ports)
{
    size_t n = json_array_size(ports);
    if (!n)
        return k1s_xstrdup("");
    json_t **v = k1s_xmalloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(ports, i);
    qsort(v, n, sizeof(*v), cmp_port);
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++) {
        /* name and protocol as defaulted by the API server */
        json_t *p =
            json_pack("{s:s,s:I,s:s}", "name", k1s_ctrl_str(v[i], "name"), "port",
                      (json_int_t)json_integer_value(json_object_get(v[i], "port")), "protocol",
                      *k1s_ctrl_str(v[i], "protocol") ? k1s_ctrl_str(v[i], "protocol") : "TCP");
        if (*k1s_ctrl_str(v[i], "appProtocol"))
            json_object_set_new(p, "appProtocol", json_string(k1s_ctrl_str(v[i], "appProtocol")));
        json_array_append_new(sorted, p);
    }
    free(v);
    char *s = json_dumps(sorted, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(sorted);
    return s;
}

/* The slice ports a pod offers for the Service's ports, sorted; new array. */
static json_t *pod_ports(const json_t *pod, const json_t *svc)
{
    json_t *out = json_array();
    size_t i;
    json_t *sp;
    json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, sp)
    {
        int num = k1s_ep_find_port(pod, sp);
        if (num < 0)
            continue;
        const char *proto = k1s_ctrl_str(sp, "protocol");
        json_t *p = json_pack("{s:s,s:i,s:s}", "name", k1s_ctrl_str(sp, "name"), "port", num,
                              "protocol", *proto ? proto : "TCP");
        if (*k1s_ctrl_str(sp, "appProtocol"))
            json_object_set_new(p, "appProtocol", json_string(k1s_ctrl_str(sp, "appProtocol")));
        json_array_append_new(out, p);
    }
    size_t n = json_array_size(out);
    if (n > 1) {
        json_t **v = k1s_xmalloc(n * sizeof(*v));
        for (size_t j = 0; j < n; j++)
            v[j] = json_incref(json_array_get(out, j));
        qsort(v, n, sizeof(*v), cmp_port);
        json_array_clear(out);
        for (size_t j = 0; j < n; j++)
            json_array_append_new(out, v[j]);
        free(v);
    }
    return out;
}

/* podToEndpoint */
static json_t *pod_endpoint(es_ctrl_t *c, const json_t *pod, const json_t *svc)
{
    const json_t *md = md_of(pod), *spec = json_object_get(pod, "spec");
    bool serving = k1s_pod_is_ready(pod), terminating = k1s_ctrl_deleting(pod);
    /* a terminating pod is never ready, unless the Service publishes not-ready addresses */
    bool ready =
        json_is_true(json_object_get(json_object_get(svc, "spec"), "publishNotReadyAddresses")) ||
        (serving && !terminating);
    json_t *ep =
        json_pack("{s:[s],s:{s:b,s:b,s:b}}", "addresses", k1s_ep_pod_ipv4(pod), "conditions",
                  "ready", ready, "serving", serving, "terminating", terminating);
    if (k1s_ep_should_set_hostname(pod, svc))
        json_object_set_new(ep, "hostname", json_string(k1s_ctrl_str(spec, "hostname")));
    json_object_set_new(ep, "targetRef",
                        json_pack("{s:s,s:s,s:s,s:s}", "kind", "Pod", "namespace",
                                  k1s_ctrl_str(md, "namespace"), "name", k1s_ctrl_str(md, "name"),
                                  "uid", k1s_ctrl_str(md, "uid")));
    const char *node = k1s_ctrl_str(spec, "nodeName");
    if (*node) {
        json_object_set_new(ep, "nodeName", json_string(node));
        json_t *n = k1s_informer_get(c->nodes, NULL, node);
        const char *zone = k1s_ctrl_str(json_object_get(md_of(n), "labels"), LABEL_ZONE);
        if (*zone)
            json_object_set_new(ep, "zone", json_string(zone));
    }
    return ep;
}

/* Which endpoint this is, across updates: its address, pod and hostname. */
static char *endpoint_key(const json_t *ep)
{
    const json_t *ref = json_object_get(ep, "targetRef");
    const char *ip = json_string_value(json_array_get(json_object_get(ep, "addresses"), 0));
    return k1s_xasprintf("%s|%s/%s|%s", ip ? ip : "", k1s_ctrl_str(ref, "namespace"),
                         k1s_ctrl_str(ref, "name"), k1s_ctrl_str(ep, "hostname"));
}

/* setEndpointSliceLabels: the Service's labels and ours; new object. */
static json_t *slice_labels(const json_t *svc)
{
    const json_t *l = json_object_get(md_of(svc), "labels");
    json_t *labels = json_is_object(l) ? json_deep_copy(l) : json_object();
    json_object_del(labels, LABEL_MANAGED_BY);
    json_object_del(labels, K1S_EP_HEADLESS_LABEL);
    json_object_set_new(labels, LABEL_SERVICE_NAME, json_string(k1s_ctrl_str(md_of(svc), "name")));
    json_object_set_new(labels, LABEL_MANAGED_BY, json_string(CONTROLLER_NAME));
    if (k1s_ep_headless(svc))
        json_object_set_new(labels, K1S_EP_HEADLESS_LABEL, json_string(""));
    return labels;
}

static bool owned_by(const json_t *slice, const json_t *svc)
{
    const json_t *ref = k1s_ctrl_controller_ref(slice);
    return ref && !strcmp(k1s_ctrl_str(ref, "uid"), k1s_ctrl_str(md_of(svc), "uid"));
}

static size_t len_or_0(const json_t *a)
{
    return json_is_array(a) ? json_array_size(a) : 0;
}

/* ---- the plan ---- */

typedef enum { S_KEEP, S_UPDATE, S_DELETE, S_CREATE } slice_action_t;

typedef struct {
    json_t *slice; /* KEEP/DELETE: the cached slice; UPDATE/CREATE: the slice to write (owned) */
    slice_action_t action;
    int group;
} plan_slice_t;

typedef struct {
    char *key;
    json_t *ports;
    json_t *eps;          /* desired endpoints, in pod order */
    k1s_strmap_t pending; /* endpoint key -> index + 1 into eps, not yet placed */
} group_t;

typedef struct {
    group_t *groups;
    size_t ngroups;
    plan_slice_t *slices;
    size_t nslices;
} plan_t;

static group_t *group_for(plan_t *p, const char *key, const json_t *ports, bool add)
{
    for (size_t i = 0; i < p->ngroups; i++)
        if (!strcmp(p->groups[i].key, key))
            return &p->groups[i];
    if (!add)
        return NULL;
    p->groups = k1s_xrealloc(p->groups, (p->ngroups + 1) * sizeof(*p->groups));
    group_t *g = &p->groups[p->ngroups++];
    memset(g, 0, sizeof(*g));
    g->key = k1s_xstrdup(key);
    g->ports = json_incref((json_t *)ports);
    g->eps = json_array();
    return g;
}

static plan_slice_t *plan_add(plan_t *p, json_t *slice, slice_action_t action, int group)
{
    p->slices = k1s_xrealloc(p->slices, (p->nslices + 1) * sizeof(*p->slices));
    plan_slice_t *s = &p->slices[p->nslices++];
    s->slice = slice;
    s->action = action;
    s->group = group;
    return s;
}

static void plan_free(plan_t *p)
{
    for (size_t i = 0; i < p->ngroups; i++) {
        free(p->groups[i].key);
        json_decref(p->groups[i].ports);
        json_decref(p->groups[i].eps);
        k1s_strmap_free(&p->groups[i].pending);
    }
    free(p->groups);
    for (size_t i = 0; i < p->nslices; i++)
        if (p->slices[i].action == S_UPDATE || p->slices[i].action == S_CREATE)
            json_decref(p->slices[i].slice);
    free(p->slices);
}

/* A new slice for svc with ports and no endpoints yet. */
static json_t *new_slice(const json_t *svc, const json_t *ports, const json_t *labels)
{
    const json_t *md = md_of(svc);
    char *prefix = k1s_xasprintf("%.57s-", k1s_ctrl_str(md, "name"));
    json_t *ref = k1s_ctrl_new_controller_ref(svc);
    json_t *s =
        json_pack("{s:s,s:s,s:{s:s,s:s,s:O,s:[o]},s:s,s:[],s:O}", "apiVersion",
                  "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "generateName",
                  prefix, "namespace", k1s_ctrl_str(md, "namespace"), "labels", labels,
                  "ownerReferences", ref, "addressType", "IPv4", "endpoints", "ports", ports);
    free(prefix);
    return s;
}

/* Turns a kept slice into one to update (a copy); returns it. */
static json_t *make_update(plan_slice_t *s)
{
    if (s->action == S_KEEP) {
        s->slice = json_deep_copy(s->slice);
        s->action = S_UPDATE;
    }
    return s->slice;
}

/* Moves up to room pending endpoints of g, in order, into slice's endpoints. */
static void fill(group_t *g, json_t *slice, size_t room)
{
    json_t *eps = json_object_get(slice, "endpoints");
    if (!json_is_array(eps)) {
        eps = json_array();
        json_object_set_new(slice, "endpoints", eps);
    }
    size_t i;
    json_t *ep;
    json_array_foreach(g->eps, i, ep)
    {
        if (!room)
            break;
        char *k = endpoint_key(ep);
        if (k1s_strmap_del(&g->pending, k)) {
            json_array_append(eps, ep);
            room--;
        }
        free(k);
    }
}

static bool is_placeholder(const json_t *slice)
{
    return !len_or_0(json_object_get(slice, "endpoints")) &&
           !len_or_0(json_object_get(slice, "ports"));
}

/*
 * reconcileByAddressType: what to create, update and delete so that the
 * existing slices (borrowed, sorted by name) hold the desired groups.
 */
static void plan_slices(plan_t *p, const json_t *svc, json_t *const *existing, int nexisting,
                        const json_t *labels)
{
    for (int i = 0; i < nexisting; i++) {
        json_t *s = existing[i];
        if (strcmp(k1s_ctrl_str(s, "addressType"), "IPv4") || !owned_by(s, svc)) {
            plan_add(p, s, S_DELETE, -1);
            continue;
        }
        char *pk = ports_key(json_object_get(s, "ports"));
        group_t *g = group_for(p, pk, NULL, false);
        free(pk);
        if (!g) {
            plan_add(p, s, S_DELETE, -1);
            continue;
        }
        json_t *eps = json_array();
        bool changed = false;
        size_t j;
        json_t *ep;
        json_array_foreach(json_object_get(s, "endpoints"), j, ep)
        {
            char *k = endpoint_key(ep);
            intptr_t di = (intptr_t)k1s_strmap_del(&g->pending, k);
            free(k);
            if (!di) {
                changed = true; /* gone, or listed twice */
                continue;
            }
            json_t *want = json_array_get(g->eps, (size_t)(di - 1));
            if (!json_equal(ep, want))
                changed = true;
            json_array_append(eps, want);
        }
        const json_t *md = md_of(s);
        bool meta_changed = !json_equal(json_object_get(md, "labels"), labels);
        int gi = (int)(g - p->groups);
        if (!json_array_size(eps)) {
            plan_add(p, s, S_DELETE, gi);
        } else if (changed || meta_changed) {
            json_t *u = json_deep_copy(s);
            json_object_set(u, "endpoints", eps);
            json_object_set(json_object_get(u, "metadata"), "labels", (json_t *)labels);
            plan_add(p, u, S_UPDATE, gi);
        } else {
            plan_add(p, s, S_KEEP, gi);
        }
        json_decref(eps);
    }
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        group_t *g = &p->groups[gi];
        /* first into slices written anyway */
        for (size_t i = 0; i < p->nslices && k1s_strmap_len(&g->pending); i++) {
            plan_slice_t *s = &p->slices[i];
            size_t have = len_or_0(json_object_get(s->slice, "endpoints"));
            if (s->group == (int)gi && s->action == S_UPDATE && have < MAX_ENDPOINTS_PER_SLICE)
                fill(g, s->slice, MAX_ENDPOINTS_PER_SLICE - have);
        }
        /* then full new slices */
        while (k1s_strmap_len(&g->pending) >= MAX_ENDPOINTS_PER_SLICE) {
            json_t *ns = new_slice(svc, g->ports, labels);
            fill(g, ns, MAX_ENDPOINTS_PER_SLICE);
            plan_add(p, ns, S_CREATE, (int)gi);
        }
        size_t left = k1s_strmap_len(&g->pending);
        if (!left)
            continue;
        /* the rest into the fullest unchanged slice they fit in, else a new one */
        plan_slice_t *best = NULL;
        size_t best_have = 0;
        for (size_t i = 0; i < p->nslices; i++) {
            plan_slice_t *s = &p->slices[i];
            size_t have = len_or_0(json_object_get(s->slice, "endpoints"));
            if (s->group == (int)gi && s->action == S_KEEP &&
                have + left <= MAX_ENDPOINTS_PER_SLICE && (!best || have > best_have)) {
                best = s;
                best_have = have;
            }
        }
        if (best) {
            fill(g, make_update(best), left);
        } else {
            json_t *ns = new_slice(svc, g->ports, labels);
            fill(g, ns, left);
            plan_add(p, ns, S_CREATE, (int)gi);
        }
    }
    /* a Service without endpoints keeps one placeholder slice */
    size_t live = 0, deleted = 0;
    plan_slice_t *only = NULL;
    for (size_t i = 0; i < p->nslices; i++) {
        if (p->slices[i].action == S_DELETE) {
            deleted++;
            only = &p->slices[i];
        } else {
            live++;
        }
    }
    if (live)
        return;
    if (deleted == 1 && is_placeholder(only->slice) && owned_by(only->slice, svc) &&
        !strcmp(k1s_ctrl_str(only->slice, "addressType"), "IPv4") &&
        json_equal(json_object_get(md_of(only->slice), "labels"), labels)) {
        only->action = S_KEEP;
        return;
    }
    json_t *empty = json_array();
    plan_add(p, new_slice(svc, empty, labels), S_CREATE, -1);
    json_decref(empty);
}

/* ---- writes ---- */

static void batch_release(batch_t *b)
{
    if (--b->outstanding > 0)
        return;
    json_decref(b->svc);
    free(b->error);
    free(b->key);
    free(b);
}

static void op_unlink(es_ctrl_t *c, slice_op_t *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        c->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
}

static slice_op_t *op_new(batch_t *b, const char *name)
{
    es_ctrl_t *c = b->c;
    slice_op_t *op = k1s_xcalloc(1, sizeof(*op));
    op->b = b;
    op->name = name ? k1s_xstrdup(name) : NULL;
    op->next = c->ops;
    if (c->ops)
        c->ops->prev = op;
    c->ops = op;
    b->outstanding++;
    return op;
}

static void write_done(const k1s_client_result_t *res, void *arg)
{
    slice_op_t *op = arg;
    batch_t *b = op->b;
    es_ctrl_t *c = b->c;
    op_unlink(c, op);
    bool ok = res->status >= 200 && res->status < 300;
    if (op->name) {
        if (ok)
            k1s_ep_writes_deleted(&c->writes, b->key, op->name);
        ok = ok || res->status == 404;
    } else if (ok) {
        k1s_ep_writes_wrote(&c->writes, b->key, res->obj);
    }
    if (!ok) {
        k1s_debug("endpointslice-controller: %s: %d %s", b->key, res->status, res->message);
        b->failed = true;
        if (!b->error && res->status != 409 &&
            !(res->status == 403 && strstr(res->message, "because it is being terminated")))
            b->error = k1s_xstrdup(*res->message ? res->message : "request failed");
    }
    free(op->name);
    free(op);
    if (b->outstanding == 1) {
        if (b->error && b->svc)
            k1s_recorder_event(c->ctx->recorder, b->svc, "Warning", "FailedToUpdateEndpointSlices",
                               "Error updating Endpoint Slices for Service %s: %s", b->key,
                               b->error);
        if (b->failed)
            k1s_workqueue_add_rate_limited(c->queue, b->key);
        else
            k1s_workqueue_forget(c->queue, b->key);
        k1s_workqueue_done(c->queue, b->key);
    }
    batch_release(b);
}

static void set_trigger(json_t *slice, int64_t trigger)
{
    json_t *md = json_object_get(slice, "metadata");
    json_t *ann = json_object_get(md, "annotations");
    if (trigger >= 0) {
        if (!json_is_object(ann)) {
            ann = json_object();
            json_object_set_new(md, "annotations", ann);
        }
        char ts[32];
        k1s_ctrl_format_time(trigger, ts);
        json_object_set_new(ann, K1S_EP_TRIGGER_ANNOTATION, json_string(ts));
    } else if (json_is_object(ann)) {
        json_object_del(ann, K1S_EP_TRIGGER_ANNOTATION);
        if (!json_object_size(ann))
            json_object_del(md, "annotations");
    }
}

/* Starts the plan's writes; returns false if there are none. */
static bool apply_plan(es_ctrl_t *c, const char *key, const char *ns, const json_t *svc, plan_t *p,
                       int64_t trigger)
{
    batch_t *b = k1s_xcalloc(1, sizeof(*b));
    b->c = c;
    b->key = k1s_xstrdup(key);
    b->svc = svc ? json_incref((json_t *)svc) : NULL;
    b->outstanding = 1; /* held until every write is started */
    int creates = 0, updates = 0, deletes = 0;
    /* creates first, then updates, then deletes: no moment without the endpoints */
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < p->nslices; i++) {
            plan_slice_t *s = &p->slices[i];
            if (pass == 0 && s->action == S_CREATE) {
                set_trigger(s->slice, trigger);
                creates++;
                k1s_client_create(c->ctx->client, &slices_gvr, ns, s->slice, write_done,
                                  op_new(b, NULL));
            } else if (pass == 1 && s->action == S_UPDATE) {
                set_trigger(s->slice, trigger);
                updates++;
                k1s_client_update(c->ctx->client, &slices_gvr, ns, s->slice, write_done,
                                  op_new(b, NULL));
            } else if (pass == 2 && s->action == S_DELETE) {
                const char *name = k1s_ctrl_str(md_of(s->slice), "name");
                deletes++;
                k1s_delete_opts_t o = {.precondition_uid = k1s_ctrl_str(md_of(s->slice), "uid"),
                                       .grace_period_s = -1};
                k1s_client_delete(c->ctx->client, &slices_gvr, ns, name, &o, write_done,
                                  op_new(b, name));
            }
        }
    }
    bool any = creates + updates + deletes > 0;
    if (any)
        k1s_debug("endpointslice-controller: %s: %d created, %d updated, %d deleted", key, creates,
                  updates, deletes);
    batch_release(b);
    return any;
}

/* ---- sync ---- */

static bool sync_service(es_ctrl_t *c, const char *key, const char *ns, const char *name)
{
    json_t *svc = k1s_informer_get(c->services, ns, name);
    json_t **existing = NULL;
    plan_t p = {0};
    bool out;
    if (!svc) {
        k1s_ep_trigger_forget(&c->trigger, key);
        int n = service_slices(c, ns, name, &existing);
        for (int i = 0; i < n; i++)
            plan_add(&p, existing[i], S_DELETE, -1);
        out = apply_plan(c, key, ns, NULL, &p, -1);
        free(existing);
        plan_free(&p);
        return out;
    }
    const json_t *sel = k1s_ep_selector(svc);
    if (!strcmp(k1s_ctrl_str(json_object_get(svc, "spec"), "type"), "ExternalName") || !sel)
        return false;
    if (!k1s_ep_writes_seen(&c->writes, key, c->slices, ns))
        return false; /* our last writes' events have yet to come, and will queue the key */

    json_t **all = NULL, **pods;
    int n = k1s_informer_by_index(c->pods, "namespace", ns, &all), np = 0;
    pods = k1s_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(*pods));
    for (int i = 0; i < n; i++)
        if (k1s_ep_selects(sel, all[i]))
            pods[np++] = all[i];
    free(all);
    qsort(pods, (size_t)np, sizeof(*pods), cmp_name);
    int64_t trigger = k1s_ep_trigger_compute(&c->trigger, key, svc, pods, np);
    bool pnr =
        json_is_true(json_object_get(json_object_get(svc, "spec"), "publishNotReadyAddresses"));
    for (int i = 0; i < np; i++) {
        if (!k1s_ep_pod_included(pods[i], true))
            continue;
        /* a pod on a Node that does not exist (yet, or any more) is left out until the Node
           comes, unless the Service publishes every address */
        const char *node = k1s_ctrl_str(json_object_get(pods[i], "spec"), "nodeName");
        if (*node && !pnr && !k1s_informer_get(c->nodes, NULL, node)) {
            k1s_debug("endpointslice-controller: %s: skipping pod %s, node %s not found", key,
                      k1s_ctrl_str(md_of(pods[i]), "name"), node);
            continue;
        }
        json_t *ports = pod_ports(pods[i], svc);
        char *pk = ports_key(ports);
        group_t *g = group_for(&p, pk, ports, true);
        free(pk);
        json_decref(ports);
        json_t *ep = pod_endpoint(c, pods[i], svc);
        char *ek = endpoint_key(ep);
        if (!k1s_strmap_has(&g->pending, ek)) {
            json_array_append_new(g->eps, ep);
            k1s_strmap_set(&g->pending, ek, (void *)(intptr_t)json_array_size(g->eps));
        } else {
            json_decref(ep);
        }
        free(ek);
    }
    free(pods);
    json_t *labels = slice_labels(svc);
    int ne = service_slices(c, ns, name, &existing);
    plan_slices(&p, svc, existing, ne, labels);
    out = apply_plan(c, key, ns, svc, &p, trigger);
    json_decref(labels);
    free(existing);
    plan_free(&p);
    return out;
}

static void process(k1s_workqueue_t *q, const char *key, void *arg)
{
    es_ctrl_t *c = arg;
    if (!k1s_informer_has_synced(c->services) || !k1s_informer_has_synced(c->pods) ||
        !k1s_informer_has_synced(c->slices) || !k1s_informer_has_synced(c->nodes)) {
        k1s_workqueue_add_after(q, key, 100);
        k1s_workqueue_done(q, key);
        return;
    }
    char *ns, *name;
    k1s_ctrl_split_key(key, &ns, &name);
    bool out = sync_service(c, key, ns, name);
    free(ns);
    free(name);
    if (!out) {
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
    }
}

/* ---- informer handlers ---- */

static void queue_obj(es_ctrl_t *c, const json_t *obj)
{
    char *key = k1s_ctrl_key(obj);
    k1s_workqueue_add(c->queue, key);
    free(key);
}

static void svc_add(json_t *obj, void *arg)
{
    queue_obj(arg, obj);
}

static void svc_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    queue_obj(arg, new_obj);
}

static void svc_delete(json_t *obj, void *arg)
{
    queue_obj(arg, obj);
}

static void pod_add(json_t *obj, void *arg)
{
    es_ctrl_t *c = arg;
    k1s_ep_queue_pod_services(c->services, c->queue, obj);
}

static void pod_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    es_ctrl_t *c = arg;
    bool labels_changed;
    if (!k1s_ep_pod_changed(old_obj, new_obj, &labels_changed))
        return;
    k1s_ep_queue_pod_services(c->services, c->queue, new_obj);
    if (labels_changed)
        k1s_ep_queue_pod_services(c->services, c->queue, old_obj);
}

static void pod_delete(json_t *obj, void *arg)
{
    es_ctrl_t *c = arg;
    k1s_ep_queue_pod_services(c->services, c->queue, obj);
}

/* A Node that comes, goes or changes zone: the Services of its pods. */
static void node_pods_services(es_ctrl_t *c, const json_t *node)
{
    json_t **pods = NULL;
    int n = k1s_informer_by_index(c->pods, "nodeName", k1s_ctrl_str(md_of(node), "name"), &pods);
    for (int i = 0; i < n; i++)
        k1s_ep_queue_pod_services(c->services, c->queue, pods[i]);
    free(pods);
}

static void node_add(json_t *obj, void *arg)
{
    node_pods_services(arg, obj);
}

static void node_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    if (strcmp(k1s_ctrl_str(json_object_get(md_of(old_obj), "labels"), LABEL_ZONE),
               k1s_ctrl_str(json_object_get(md_of(new_obj), "labels"), LABEL_ZONE)))
        node_pods_services(arg, new_obj);
}

static void node_delete(json_t *obj, void *arg)
{
    node_pods_services(arg, obj);
}

/* A change to one of our slices (ours or someone else's doing) queues its Service. */
static void slice_event(es_ctrl_t *c, const json_t *obj)
{
    const char *svc;
    if (!index_service_name((json_t *)obj, &svc))
        return;
    char *key = k1s_xasprintf("%s/%s", k1s_ctrl_str(md_of(obj), "namespace"), svc);
    k1s_workqueue_add(c->queue, key);
    free(key);
}

static void slice_add(json_t *obj, void *arg)
{
    slice_event(arg, obj);
}

static void slice_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    slice_event(arg, new_obj);
    const char *a = "", *b = "";
    index_service_name(old_obj, &a);
    index_service_name(new_obj, &b);
    if (strcmp(a, b))
        slice_event(arg, old_obj);
}

static void slice_delete(json_t *obj, void *arg)
{
    slice_event(arg, obj);
}

/* ---- lifecycle ---- */

static void *es_start(k1s_ctrl_ctx_t *ctx)
{
    es_ctrl_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->services = k1s_informer_factory_get(ctx->factory, &services_gvr);
    c->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    c->nodes = k1s_informer_factory_get(ctx->factory, &nodes_gvr);
    c->slices = k1s_informer_factory_get(ctx->factory, &slices_gvr);
    k1s_ctrl_index_namespace(c->services);
    k1s_ctrl_index_namespace(c->pods);
    k1s_ctrl_index_node(c->pods);
    k1s_informer_add_indexer(c->slices, INDEX_SERVICE, index_service_name);
    c->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, process, c);
    k1s_informer_handlers_t sh = {svc_add, svc_update, svc_delete, c};
    k1s_informer_handlers_t ph = {pod_add, pod_update, pod_delete, c};
    k1s_informer_handlers_t eh = {slice_add, slice_update, slice_delete, c};
    k1s_informer_add_handlers(c->services, &sh);
    k1s_informer_add_handlers(c->pods, &ph);
    k1s_informer_handlers_t nh = {node_add, node_update, node_delete, c};
    k1s_informer_add_handlers(c->slices, &eh);
    k1s_informer_add_handlers(c->nodes, &nh);
    return c;
}

static void es_stop(void *state)
{
    es_ctrl_t *c = state;
    if (!c)
        return;
    while (c->ops) {
        slice_op_t *op = c->ops;
        op_unlink(c, op);
        batch_t *b = op->b;
        free(op->name);
        free(op);
        batch_release(b);
    }
    k1s_workqueue_free(c->queue);
    k1s_ep_trigger_free(&c->trigger);
    k1s_ep_writes_free(&c->writes);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_endpointslice = {
    .name = "endpointslice",
    .service_account = "endpointslice-controller",
    .component = "endpointslice-controller",
    .start = es_start,
    .stop = es_stop,
};
