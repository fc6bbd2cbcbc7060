/*
 * The node summary (kube-scheduler's NodeInfo): allocatable resources, the
 * pods bound to the node and what they request, host ports in use. Also the
 * pod-side helpers the filters share: effective requests, node selectors and
 * affinity terms, tolerations.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "lib/util.h"
#include "scheduler/sched-int.h"

/* kube-scheduler's defaults for containers without requests, used when scoring. */
#define DEFAULT_MILLI_CPU 100
#define DEFAULT_MEMORY (200LL * 1024 * 1024)

static int64_t qty(const json_t *v, bool milli)
{
    k1s_quantity_t q;
    if (!v || k1s_quantity_from_json(v, &q, NULL) < 0)
        return 0;
    return milli ? k1s_quantity_milli_value(&q) : k1s_quantity_value(&q);
}

static void res_of(const json_t *list, k1s_sched_res_t *r)
{
    r->milli_cpu = qty(json_object_get(list, "cpu"), true);
    r->memory = qty(json_object_get(list, "memory"), false);
    r->ephemeral = qty(json_object_get(list, "ephemeral-storage"), false);
}

static void res_add(k1s_sched_res_t *a, const k1s_sched_res_t *b)
{
    a->milli_cpu += b->milli_cpu;
    a->memory += b->memory;
    a->ephemeral += b->ephemeral;
}

static void res_sub(k1s_sched_res_t *a, const k1s_sched_res_t *b)
{
    a->milli_cpu -= b->milli_cpu;
    a->memory -= b->memory;
    a->ephemeral -= b->ephemeral;
}

static void res_max(k1s_sched_res_t *a, const k1s_sched_res_t *b)
{
    if (b->milli_cpu > a->milli_cpu)
        a->milli_cpu = b->milli_cpu;
    if (b->memory > a->memory)
        a->memory = b->memory;
    if (b->ephemeral > a->ephemeral)
        a->ephemeral = b->ephemeral;
}

/* Requests of one container; with nonzero, missing cpu/memory get the scoring defaults. */
static void container_req(const json_t *c, bool nonzero, k1s_sched_res_t *r)
{
    const json_t *req = json_object_get(json_object_get(c, "resources"), "requests");
    res_of(req, r);
    if (nonzero) {
        if (!json_object_get(req, "cpu"))
            r->milli_cpu = DEFAULT_MILLI_CPU;
        if (!json_object_get(req, "memory"))
            r->memory = DEFAULT_MEMORY;
    }
}

/* computePodResourceRequest: regular containers plus sidecars, against the largest init
 * container (which runs with the sidecars started before it), plus overhead. */
static k1s_sched_res_t pod_requests(const json_t *pod, bool nonzero)
{
    const json_t *spec = json_object_get(pod, "spec");
    k1s_sched_res_t sum = {0}, sidecars = {0}, init = {0}, c;
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(spec, "containers"), i, v)
    {
        container_req(v, nonzero, &c);
        res_add(&sum, &c);
    }
    json_array_foreach(json_object_get(spec, "initContainers"), i, v)
    {
        container_req(v, nonzero, &c);
        if (k1s_streq(json_string_value(json_object_get(v, "restartPolicy")), "Always")) {
            res_add(&sidecars, &c);
            c = sidecars;
        } else {
            res_add(&c, &sidecars);
        }
        res_max(&init, &c);
    }
    res_add(&sum, &sidecars);
    res_max(&sum, &init);
    k1s_sched_res_t oh;
    res_of(json_object_get(spec, "overhead"), &oh);
    res_add(&sum, &oh);
    return sum;
}

/* ---------- scalar resources (extended resources, hugepages): name -> integer ---------- */

static bool is_scalar(const char *name)
{
    return strcmp(name, "cpu") && strcmp(name, "memory") && strcmp(name, "ephemeral-storage") &&
           strcmp(name, "pods") && strcmp(name, "storage");
}

/* Adds (sign 1), subtracts (-1) or takes the maximum (0) of b's scalars into a. */
static void scalars_merge(json_t *a, const json_t *b, int op)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)b, k, v)
    {
        json_int_t x = json_integer_value(json_object_get(a, k)), y = json_integer_value(v);
        json_int_t r = op > 0 ? x + y : op < 0 ? x - y : (x > y ? x : y);
        json_object_set_new(a, k, json_integer(r));
    }
}

/* The scalar resources of a resource list. Returns a new object. */
static json_t *scalars_of(const json_t *list)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)list, k, v)
    {
        if (is_scalar(k))
            json_object_set_new(out, k, json_integer(qty(v, false)));
    }
    return out;
}

/* The pod's scalar requests, combined as computePodResourceRequest does; NULL when none. */
json_t *k1s_sched_pod_scalars(const json_t *pod);
json_t *k1s_sched_pod_scalars(const json_t *pod)
{
    const json_t *spec = json_object_get(pod, "spec");
    json_t *sum = json_object(), *sidecars = json_object(), *init = json_object();
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(spec, "containers"), i, v)
    {
        json_t *c = scalars_of(json_object_get(json_object_get(v, "resources"), "requests"));
        scalars_merge(sum, c, 1);
        json_decref(c);
    }
    json_array_foreach(json_object_get(spec, "initContainers"), i, v)
    {
        json_t *c = scalars_of(json_object_get(json_object_get(v, "resources"), "requests"));
        if (k1s_streq(json_string_value(json_object_get(v, "restartPolicy")), "Always")) {
            scalars_merge(sidecars, c, 1);
            scalars_merge(init, sidecars, 0);
        } else {
            scalars_merge(c, sidecars, 1);
            scalars_merge(init, c, 0);
        }
        json_decref(c);
    }
    scalars_merge(sum, sidecars, 1);
    scalars_merge(sum, init, 0);
    json_t *oh = scalars_of(json_object_get(spec, "overhead"));
    scalars_merge(sum, oh, 1);
    json_decref(oh);
    json_decref(sidecars);
    json_decref(init);
    if (!json_object_size(sum)) {
        json_decref(sum);
        return NULL;
    }
    return sum;
}

k1s_sched_res_t k1s_sched_pod_requests(const json_t *pod)
{
    return pod_requests(pod, false);
}

k1s_sched_res_t k1s_sched_pod_nonzero_requests(const json_t *pod);
k1s_sched_res_t k1s_sched_pod_nonzero_requests(const json_t *pod)
{
    return pod_requests(pod, true);
}

const char *k1s_sched_pod_ns(const json_t *pod)
{
    const char *ns =
        json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
    return ns ? ns : "default";
}

static const char *pod_name(const json_t *pod)
{
    const char *s = json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
    return s ? s : "";
}

int64_t k1s_sched_pod_priority(const json_t *pod)
{
    const json_t *p = json_object_get(json_object_get(pod, "spec"), "priority");
    return json_is_integer(p) ? json_integer_value(p) : 0;
}

bool k1s_sched_pod_has_affinity(const json_t *pod)
{
    const json_t *a = json_object_get(json_object_get(pod, "spec"), "affinity");
    return json_object_get(a, "podAffinity") || json_object_get(a, "podAntiAffinity");
}

/* Host ports a pod asks for: containers and sidecars with hostPort > 0. */
size_t k1s_sched_pod_ports(const json_t *pod, k1s_sched_port_t **out);
size_t k1s_sched_pod_ports(const json_t *pod, k1s_sched_port_t **out)
{
    const json_t *spec = json_object_get(pod, "spec");
    k1s_sched_port_t *ports = NULL;
    size_t n = 0, cap = 0;
    for (int pass = 0; pass < 2; pass++) {
        const json_t *cs = json_object_get(spec, pass ? "initContainers" : "containers");
        size_t i, j;
        const json_t *c, *p;
        json_array_foreach(cs, i, c)
        {
            if (pass &&
                !k1s_streq(json_string_value(json_object_get(c, "restartPolicy")), "Always"))
                continue;
            json_array_foreach(json_object_get(c, "ports"), j, p)
            {
                json_int_t hp = json_integer_value(json_object_get(p, "hostPort"));
                if (hp <= 0)
                    continue;
                if (n == cap) {
                    cap = cap ? cap * 2 : 4;
                    ports = k1s_xrealloc(ports, cap * sizeof(*ports));
                }
                const char *ip = json_string_value(json_object_get(p, "hostIP"));
                const char *proto = json_string_value(json_object_get(p, "protocol"));
                snprintf(ports[n].ip, sizeof(ports[n].ip), "%s", ip && *ip ? ip : "0.0.0.0");
                snprintf(ports[n].proto, sizeof(ports[n].proto), "%s",
                         proto && *proto ? proto : "TCP");
                ports[n].port = (int)hp;
                n++;
            }
        }
    }
    *out = ports;
    return n;
}

/* Of a Node, what the filters read as JSON: its name and labels, taints and unschedulable; a
 * copy, because the informer's tree is in the JSON heap, which should not be kept from emptying,
 * and without the rest (images, conditions, managedFields), summarised below or not read. */
static json_t *node_view(const json_t *node)
{
    static const char *const keys[][2] = {{"metadata", "name"},
                                          {"metadata", "labels"},
                                          {"spec", "taints"},
                                          {"spec", "unschedulable"}};
    json_t *v = json_object();
    for (size_t i = 0; i < K1S_ARRAY_SIZE(keys); i++) {
        json_t *f = json_object_get(json_object_get(node, keys[i][0]), keys[i][1]);
        if (!f)
            continue;
        json_t *o = json_object_get(v, keys[i][0]);
        if (!o)
            json_object_set_new(v, keys[i][0], o = json_object());
        json_object_set_new(o, keys[i][1], json_deep_copy(f));
    }
    return v;
}

static void pdata_unref(k1s_sched_pdata_t *d);

static void load_node(k1s_sched_node_t *n, json_t *node)
{
    n->node = node_view(node);
    const json_t *md = json_object_get(n->node, "metadata");
    n->name = json_string_value(json_object_get(md, "name"));
    if (!n->name)
        n->name = "";
    n->labels = json_object_get(md, "labels");
    const json_t *alloc = json_object_get(json_object_get(node, "status"), "allocatable");
    res_of(alloc, &n->alloc);
    json_decref(n->scalar_alloc);
    n->scalar_alloc = scalars_of(alloc);
    /* every name of every image present -> its size, for ImageLocality */
    json_decref(n->images);
    n->images = json_object();
    size_t i, k;
    const json_t *img, *nm;
    json_array_foreach(json_object_get(json_object_get(node, "status"), "images"), i, img)
    {
        json_int_t size = json_integer_value(json_object_get(img, "sizeBytes"));
        json_array_foreach(json_object_get(img, "names"), k, nm)
        {
            if (json_is_string(nm))
                json_object_set_new(n->images, json_string_value(nm), json_integer(size));
        }
    }
    n->alloc_pods = qty(json_object_get(alloc, "pods"), false);
}

k1s_sched_node_t *k1s_sched_node_clone_empty(const k1s_sched_node_t *o)
{
    k1s_sched_node_t *n = k1s_xcalloc(1, sizeof(*n));
    n->owners = json_object();
    n->scalar_req = json_object();
    n->node = json_incref(o->node);
    n->name = o->name;
    n->labels = o->labels;
    n->alloc = o->alloc;
    n->alloc_pods = o->alloc_pods;
    n->scalar_alloc = json_incref(o->scalar_alloc);
    n->images = json_incref(o->images);
    return n;
}

k1s_sched_node_t *k1s_sched_node_new(json_t *node)
{
    k1s_sched_node_t *n = k1s_xcalloc(1, sizeof(*n));
    n->owners = json_object();
    n->scalar_req = json_object();
    load_node(n, node);
    return n;
}

void k1s_sched_node_set(k1s_sched_node_t *n, json_t *node)
{
    json_t *old = n->node;
    load_node(n, node);
    json_decref(old);
}

void k1s_sched_node_free(k1s_sched_node_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_pods; i++) {
        pdata_unref(n->pods[i].data);
        json_decref(n->pods[i].scalars);
    }
    free(n->pods);
    free(n->ports);
    json_decref(n->owners);
    json_decref(n->scalar_alloc);
    json_decref(n->scalar_req);
    json_decref(n->images);
    json_decref(n->node);
    free(n);
}

/* Owners are keyed by controller uid alone: uids are unique across namespaces. */
static void count_owner(k1s_sched_node_t *n, const k1s_sched_pinfo_t *pi, int sign)
{
    if (!pi->owner_uid || pi->terminating)
        return;
    json_int_t c = json_integer_value(json_object_get(n->owners, pi->owner_uid)) + sign;
    if (c > 0)
        json_object_set_new(n->owners, pi->owner_uid, json_integer(c));
    else
        json_object_del(n->owners, pi->owner_uid);
}

int64_t k1s_sched_node_owner_count(const k1s_sched_node_t *n, const char *uid)
{
    return json_integer_value(json_object_get(n->owners, uid));
}

static void account(k1s_sched_node_t *n, const k1s_sched_pinfo_t *pi, int sign)
{
    count_owner(n, pi, sign);
    if (sign > 0) {
        res_add(&n->requested, &pi->req);
        res_add(&n->nonzero, &pi->nonzero);
    } else {
        res_sub(&n->requested, &pi->req);
        res_sub(&n->nonzero, &pi->nonzero);
    }
    if (pi->affinity)
        n->n_affinity_pods += sign;
    if (pi->scalars)
        scalars_merge(n->scalar_req, pi->scalars, sign);
    if (!pi->host_ports)
        return;
    k1s_sched_port_t *ports;
    json_t *pod = k1s_sched_pinfo_pod(pi);
    size_t np = k1s_sched_pod_ports(pod, &ports);
    json_decref(pod);
    for (size_t i = 0; i < np; i++) {
        if (sign > 0) {
            if (n->n_ports == n->cap_ports) {
                n->cap_ports = n->cap_ports ? n->cap_ports * 2 : 4;
                n->ports = k1s_xrealloc(n->ports, n->cap_ports * sizeof(*n->ports));
            }
            n->ports[n->n_ports++] = ports[i];
            continue;
        }
        for (size_t j = 0; j < n->n_ports; j++) {
            if (n->ports[j].port == ports[i].port && !strcmp(n->ports[j].ip, ports[i].ip) &&
                !strcmp(n->ports[j].proto, ports[i].proto)) {
                n->ports[j] = n->ports[--n->n_ports];
                break;
            }
        }
    }
    free(ports);
}

static k1s_sched_pinfo_t *new_slot(k1s_sched_node_t *n)
{
    if (n->n_pods == n->cap_pods) {
        n->cap_pods = n->cap_pods ? n->cap_pods * 2 : 8;
        n->pods = k1s_xrealloc(n->pods, n->cap_pods * sizeof(*n->pods));
    }
    return &n->pods[n->n_pods++];
}

void k1s_sched_node_add_pinfo(k1s_sched_node_t *n, const k1s_sched_pinfo_t *src)
{
    k1s_sched_pinfo_t *pi = new_slot(n);
    *pi = *src;
    pi->data->refs++;
    json_incref(pi->scalars);
    account(n, pi, 1);
}

/* Sets dst[key] to a copy of src[key] if present (a copy, so that the informer's tree, in the
 * JSON heap, can go). */
static void copy_field(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v)
        json_object_set_new(dst, key, json_deep_copy(v));
}

/* json_string(s), shared by every caller: for the few values every view holds. */
static json_t *interned(const char *s)
{
    static json_t *v1, *pod_kind;
    json_t **slot = !strcmp(s, "v1") ? &v1 : !strcmp(s, "Pod") ? &pod_kind : NULL;
    if (!slot)
        return json_string(s);
    if (!*slot)
        *slot = json_string(s);
    return json_incref(*slot);
}

/* What the scheduler reads of a pod bound to a node, copied from the pod: names and
 * labels, the controller's uid, priority, inter-pod affinity, volumes (volume limits and
 * restrictions), host ports, start time and a DisruptionTarget condition (for preemption). A
 * node keeps this instead of the pod, which informers drop when unused; it holds a thousand
 * pods or more, so only what is there is copied. */
static json_t *bound_pod_view(const json_t *pod, bool host_ports)
{
    const json_t *md = json_object_get(pod, "metadata"), *sp = json_object_get(pod, "spec"),
                 *st = json_object_get(pod, "status");
    json_t *v = json_object(), *vmd = json_object(), *vsp = json_object(), *vst = json_object();
    json_object_set_new(v, "apiVersion", interned("v1"));
    json_object_set_new(v, "kind", interned("Pod"));
    static const char *const meta[] = {"name",   "namespace",        "uid", "resourceVersion",
                                       "labels", "deletionTimestamp"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(meta); i++)
        copy_field(vmd, md, meta[i]);
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(md, "ownerReferences"), i, r)
    {
        if (json_is_true(json_object_get(r, "controller"))) {
            json_t *ref = json_pack("{s:b}", "controller", 1);
            copy_field(ref, r, "uid");
            json_object_set_new(vmd, "ownerReferences", json_pack("[o]", ref));
            break;
        }
    }
    copy_field(vsp, sp, "nodeName");
    copy_field(vsp, sp, "priority");
    copy_field(vsp, sp, "affinity");
    /* as the scheduler's informer trims them: claims, inline disks */
    copy_field(vsp, sp, "volumes");
    if (host_ports) {
        copy_field(vsp, sp, "containers");
        copy_field(vsp, sp, "initContainers");
    }
    copy_field(vst, st, "startTime");
    const json_t *c;
    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        if (k1s_streq(json_string_value(json_object_get(c, "type")), "DisruptionTarget")) {
            json_object_set_new(vst, "conditions", json_pack("[o]", json_deep_copy(c)));
            break;
        }
    }
    json_object_set_new(v, "metadata", vmd);
    json_object_set_new(v, "spec", vsp);
    if (json_object_size(vst))
        json_object_set_new(v, "status", vst);
    else
        json_decref(vst);
    return v;
}

static void pdata_unref(k1s_sched_pdata_t *d)
{
    if (d && --d->refs == 0) {
        json_decref(d->labels);
        json_decref(d->affinity_pod);
        free(d);
    }
}

json_t *k1s_sched_pinfo_pod(const k1s_sched_pinfo_t *pi)
{
    json_t *pod = json_loads(pi->data->text, 0, NULL);
    k1s_assert(pod);
    return pod;
}

/* Appends s (or "") and its NUL at *at; returns where it went. */
static const char *put_str(char **at, const char *s)
{
    const char *start = *at;
    size_t len = s ? strlen(s) : 0;
    memcpy(*at, s ? s : "", len);
    (*at)[len] = '\0';
    *at += len + 1;
    return start;
}

/* podTerminatingByPreemption's condition: DisruptionTarget True for PreemptionByScheduler. */
static bool preempted_by_scheduler(const json_t *pod)
{
    size_t i;
    const json_t *cond;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, cond)
    {
        if (k1s_streq(json_string_value(json_object_get(cond, "type")), "DisruptionTarget"))
            return k1s_streq(json_string_value(json_object_get(cond, "status")), "True") &&
                   k1s_streq(json_string_value(json_object_get(cond, "reason")),
                             "PreemptionByScheduler");
    }
    return false;
}

void k1s_sched_node_add_pod(k1s_sched_node_t *n, json_t *pod)
{
    k1s_sched_pinfo_t *pi = new_slot(n);
    k1s_sched_port_t *ports;
    pi->host_ports = k1s_sched_pod_ports(pod, &ports) > 0;
    free(ports);
    pi->req = pod_requests(pod, false);
    pi->nonzero = pod_requests(pod, true);
    pi->scalars = k1s_sched_pod_scalars(pod);
    json_t *view = bound_pod_view(pod, pi->host_ports);
    const json_t *md = json_object_get(view, "metadata");
    const char *ns = k1s_sched_pod_ns(view), *name = pod_name(view);
    const char *owner = json_string_value(
        json_object_get(json_array_get(json_object_get(md, "ownerReferences"), 0), "uid"));
    const char *start =
        json_string_value(json_object_get(json_object_get(view, "status"), "startTime"));
    char *text = json_dumps(view, JSON_COMPACT);
    k1s_assert(text);
    size_t size = strlen(ns) + strlen(name) + (owner ? strlen(owner) : 0) +
                  (start ? strlen(start) : 0) + strlen(text) + 5;
    k1s_sched_pdata_t *d = k1s_xmalloc(sizeof(*d) + size);
    d->refs = 1;
    d->labels = json_incref(json_object_get(md, "labels"));
    char *at = d->buf;
    pi->ns = put_str(&at, ns);
    pi->name = put_str(&at, name);
    pi->owner_uid = owner ? put_str(&at, owner) : (put_str(&at, ""), NULL);
    pi->start_time = put_str(&at, start);
    d->text = put_str(&at, text);
    free(text);
    pi->data = d;
    pi->labels = d->labels;
    pi->priority = k1s_sched_pod_priority(view);
    pi->affinity = k1s_sched_pod_has_affinity(view);
    /* read on every scheduling attempt by the affinity checks: kept parsed */
    d->affinity_pod = pi->affinity
                          ? json_pack("{s:{s:O}}", "spec", "affinity",
                                      json_object_get(json_object_get(view, "spec"), "affinity"))
                          : NULL;
    pi->affinity_pod = d->affinity_pod;
    pi->terminating = json_object_get(md, "deletionTimestamp") != NULL;
    pi->volumes = json_array_size(json_object_get(json_object_get(view, "spec"), "volumes")) > 0;
    pi->preempted = preempted_by_scheduler(view);
    json_decref(view);
    account(n, pi, 1);
}

int k1s_sched_node_remove_pod(k1s_sched_node_t *n, const char *ns, const char *name)
{
    for (size_t i = 0; i < n->n_pods; i++) {
        k1s_sched_pdata_t *d = n->pods[i].data;
        json_t *sc = n->pods[i].scalars;
        if (!strcmp(n->pods[i].ns, ns) && !strcmp(n->pods[i].name, name)) {
            account(n, &n->pods[i], -1);
            json_decref(sc);
            memmove(&n->pods[i], &n->pods[i + 1], (n->n_pods - i - 1) * sizeof(*n->pods));
            n->n_pods--;
            pdata_unref(d);
            return 0;
        }
    }
    return -ENOENT;
}

const char *k1s_sched_node_name(const k1s_sched_node_t *n)
{
    return n->name;
}

const json_t *k1s_sched_node_obj(const k1s_sched_node_t *n)
{
    return n->node;
}

size_t k1s_sched_node_pod_count(const k1s_sched_node_t *n)
{
    return n->n_pods;
}

k1s_sched_res_t k1s_sched_node_requested(const k1s_sched_node_t *n)
{
    return n->requested;
}

const char *k1s_sched_node_label(const k1s_sched_node_t *n, const char *key)
{
    return json_string_value(json_object_get(n->labels, key));
}

/* ---------- node selectors ---------- */

static bool values_contain(const json_t *values, const char *v)
{
    size_t i;
    const json_t *x;
    json_array_foreach(values, i, x)
    {
        if (k1s_streq(json_string_value(x), v))
            return true;
    }
    return false;
}

static bool parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* One NodeSelectorRequirement against a value (NULL when the label or field is absent). */
static bool requirement_matches(const json_t *req, const char *val)
{
    const char *op = json_string_value(json_object_get(req, "operator"));
    const json_t *values = json_object_get(req, "values");
    if (!op)
        return false;
    if (!strcmp(op, "In"))
        return val && values_contain(values, val);
    if (!strcmp(op, "NotIn"))
        return !val || !values_contain(values, val);
    if (!strcmp(op, "Exists"))
        return val != NULL;
    if (!strcmp(op, "DoesNotExist"))
        return val == NULL;
    if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
        int64_t have, want;
        if (json_array_size(values) != 1 || !parse_int64(val, &have) ||
            !parse_int64(json_string_value(json_array_get(values, 0)), &want))
            return false;
        return op[0] == 'G' ? have > want : have < want;
    }
    return false;
}

bool k1s_sched_node_selector_term_match(const json_t *term, const k1s_sched_node_t *n)
{
    const json_t *exprs = json_object_get(term, "matchExpressions");
    const json_t *fields = json_object_get(term, "matchFields");
    if (json_array_size(exprs) == 0 && json_array_size(fields) == 0)
        return false; /* an empty term selects nothing */
    size_t i;
    const json_t *r;
    json_array_foreach(exprs, i, r)
    {
        const char *key = json_string_value(json_object_get(r, "key"));
        if (!key || !requirement_matches(r, k1s_sched_node_label(n, key)))
            return false;
    }
    json_array_foreach(fields, i, r)
    {
        const char *key = json_string_value(json_object_get(r, "key"));
        /* metadata.name is the only supported field; In/NotIn only */
        if (!k1s_streq(key, "metadata.name"))
            return false;
        const char *op = json_string_value(json_object_get(r, "operator"));
        if (!k1s_streq(op, "In") && !k1s_streq(op, "NotIn"))
            return false;
        if (!requirement_matches(r, n->name))
            return false;
    }
    return true;
}

bool k1s_sched_node_selector_terms_match(const json_t *terms, const k1s_sched_node_t *n)
{
    size_t i;
    const json_t *t;
    json_array_foreach(terms, i, t)
    {
        if (k1s_sched_node_selector_term_match(t, n))
            return true;
    }
    return false;
}

bool k1s_sched_pod_matches_node_affinity(const json_t *pod, const k1s_sched_node_t *n)
{
    const json_t *spec = json_object_get(pod, "spec");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(spec, "nodeSelector"), k, v)
    {
        if (!k1s_streq(k1s_sched_node_label(n, k), json_string_value(v)))
            return false;
    }
    const json_t *req =
        json_object_get(json_object_get(json_object_get(spec, "affinity"), "nodeAffinity"),
                        "requiredDuringSchedulingIgnoredDuringExecution");
    if (req && !k1s_sched_node_selector_terms_match(json_object_get(req, "nodeSelectorTerms"), n))
        return false;
    return true;
}

/* ---------- taints and tolerations ---------- */

bool k1s_sched_tolerates(const json_t *tol, const json_t *taint)
{
    const char *te = json_string_value(json_object_get(tol, "effect"));
    const char *effect = json_string_value(json_object_get(taint, "effect"));
    if (te && *te && !k1s_streq(te, effect))
        return false;
    const char *tk = json_string_value(json_object_get(tol, "key"));
    const char *key = json_string_value(json_object_get(taint, "key"));
    if (tk && *tk && !k1s_streq(tk, key))
        return false;
    const char *op = json_string_value(json_object_get(tol, "operator"));
    if (k1s_streq(op, "Exists"))
        return true;
    if (op && *op && strcmp(op, "Equal"))
        return false;
    if (!tk || !*tk)
        return false; /* an empty key needs Exists */
    const char *tv = json_string_value(json_object_get(tol, "value"));
    const char *val = json_string_value(json_object_get(taint, "value"));
    return k1s_streq(tv ? tv : "", val ? val : "");
}

bool k1s_sched_tolerations_tolerate(const json_t *tolerations, const json_t *taint)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tolerations, i, t)
    {
        if (k1s_sched_tolerates(t, taint))
            return true;
    }
    return false;
}

/* ---------- pod affinity terms ---------- */

k1s_sched_term_t *k1s_sched_terms_parse(const k1s_sched_cluster_t *c, const json_t *arr,
                                        bool weighted, int sign, size_t *n)
{
    size_t cnt = json_array_size(arr), i, k = 0;
    *n = 0;
    if (!cnt)
        return NULL;
    k1s_sched_term_t *t = k1s_xcalloc(cnt, sizeof(*t));
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        const json_t *term = weighted ? json_object_get(v, "podAffinityTerm") : v;
        k1s_err_t err = {0};
        k1s_label_selector_t *sel =
            k1s_label_selector_from_json(json_object_get(term, "labelSelector"), &err);
        if (!sel)
            continue;
        t[k].sel = sel;
        t[k].topology_key = json_string_value(json_object_get(term, "topologyKey"));
        if (!t[k].topology_key)
            t[k].topology_key = "";
        const json_t *nss = json_object_get(term, "namespaces");
        const json_t *nssel = json_object_get(term, "namespaceSelector");
        /* an empty namespaceSelector ({}) means every namespace */
        t[k].c = c;
        if (nssel && json_is_object(nssel) && json_object_size(nssel) == 0) {
            t[k].namespaces = NULL;
        } else if (nssel && json_is_object(nssel)) {
            /* namespaces listed, plus those whose labels match */
            k1s_err_t e2 = {0};
            t[k].ns_sel = k1s_label_selector_from_json(nssel, &e2);
            t[k].namespaces = json_is_array(nss) ? json_incref((json_t *)nss) : json_array();
        } else if (json_array_size(nss))
            t[k].namespaces = json_incref((json_t *)nss);
        else
            t[k].namespaces = json_null(); /* the pod's own namespace */
        t[k].weight = (int)(weighted ? json_integer_value(json_object_get(v, "weight")) : 1) * sign;
        k++;
    }
    *n = k;
    return t;
}

void k1s_sched_terms_free(k1s_sched_term_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        k1s_label_selector_free(t[i].sel);
        k1s_label_selector_free(t[i].ns_sel);
        json_decref(t[i].namespaces);
    }
    free(t);
}

bool k1s_sched_term_matches(const k1s_sched_term_t *t, const char *term_ns, const char *ns,
                            const json_t *labels)
{
    if (json_is_null(t->namespaces)) {
        if (strcmp(ns, term_ns))
            return false;
    } else if (t->namespaces && !values_contain(t->namespaces, ns)) {
        const json_t *nsobj = t->ns_sel && t->c->lookup
                                  ? t->c->lookup(t->c->lookup_arg, "Namespace", NULL, ns)
                                  : NULL;
        if (!nsobj || !k1s_label_selector_matches(
                          t->ns_sel, json_object_get(json_object_get(nsobj, "metadata"), "labels")))
            return false;
    }
    return k1s_label_selector_matches(t->sel, labels);
}
