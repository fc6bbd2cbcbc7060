/*
 * Helpers shared by the Endpoints and EndpointSlice controllers (see
 * endpoints-int.h).
 */
#include <stdlib.h>
#include <string.h>

#include "controllers/controller.h"
#include "controllers/endpoints-int.h"
#include "lib/util.h"

static const json_t *md_of(const json_t *o)
{
    return json_object_get(o, "metadata");
}

bool k1s_ep_pod_included(const json_t *pod, bool include_terminating)
{
    if (k1s_pod_is_terminated(pod))
        return false;
    if (!k1s_ep_pod_ipv4(pod))
        return false;
    return include_terminating || !k1s_ctrl_deleting(pod);
}

/* Whether s is a dotted-quad IPv4 address (as opposed to IPv6). */
static bool is_ipv4(const char *s)
{
    return s && *s && !strchr(s, ':');
}

const char *k1s_ep_pod_ipv4(const json_t *pod)
{
    const json_t *st = json_object_get(pod, "status");
    size_t i;
    json_t *ip;
    json_array_foreach(json_object_get(st, "podIPs"), i, ip)
    {
        const char *s = k1s_ctrl_str(ip, "ip");
        if (is_ipv4(s))
            return s;
    }
    const char *s = k1s_ctrl_str(st, "podIP");
    return is_ipv4(s) ? s : NULL;
}

bool k1s_ep_should_set_hostname(const json_t *pod, const json_t *svc)
{
    const json_t *spec = json_object_get(pod, "spec");
    return *k1s_ctrl_str(spec, "hostname") &&
           !strcmp(k1s_ctrl_str(spec, "subdomain"), k1s_ctrl_str(md_of(svc), "name")) &&
           !strcmp(k1s_ctrl_str(md_of(pod), "namespace"), k1s_ctrl_str(md_of(svc), "namespace"));
}

static const char *protocol_of(const json_t *port)
{
    const char *p = k1s_ctrl_str(port, "protocol");
    return *p ? p : "TCP";
}

/* A name in the ports of each container of list with the protocol; -1 if none. */
static int find_named(const json_t *list, const char *name, const char *proto, bool sidecars)
{
    size_t i, j;
    json_t *c, *p;
    json_array_foreach(list, i, c)
    {
        /* restartable init containers (sidecars) count, as in podutil.FindPort */
        if (sidecars && strcmp(k1s_ctrl_str(c, "restartPolicy"), "Always"))
            continue;
        json_array_foreach(json_object_get(c, "ports"), j, p)
        {
            if (!strcmp(k1s_ctrl_str(p, "name"), name) && !strcmp(protocol_of(p), proto))
                return (int)json_integer_value(json_object_get(p, "containerPort"));
        }
    }
    return -1;
}

int k1s_ep_find_port(const json_t *pod, const json_t *svc_port)
{
    const json_t *tp = json_object_get(svc_port, "targetPort");
    if (json_is_integer(tp))
        return (int)json_integer_value(tp);
    if (!json_is_string(tp) || !*json_string_value(tp))
        return (int)json_integer_value(json_object_get(svc_port, "port"));
    const char *name = json_string_value(tp);
    /* "8080" as a string is a number, as intstr parses it */
    char *end;
    long n = strtol(name, &end, 10);
    if (!*end && n > 0)
        return (int)n;
    const json_t *spec = json_object_get(pod, "spec");
    const char *proto = protocol_of(svc_port);
    int port = find_named(json_object_get(spec, "containers"), name, proto, false);
    if (port < 0)
        port = find_named(json_object_get(spec, "initContainers"), name, proto, true);
    return port;
}

const json_t *k1s_ep_selector(const json_t *svc)
{
    const json_t *sel = json_object_get(json_object_get(svc, "spec"), "selector");
    return json_is_object(sel) && json_object_size(sel) ? sel : NULL;
}

bool k1s_ep_selects(const json_t *selector, const json_t *pod)
{
    const json_t *labels = json_object_get(md_of(pod), "labels");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)selector, k, v)
    {
        const char *have = json_string_value(json_object_get(labels, k));
        if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
            return false;
    }
    return true;
}

bool k1s_ep_headless(const json_t *svc)
{
    return !strcmp(k1s_ctrl_str(json_object_get(svc, "spec"), "clusterIP"), "None");
}

bool k1s_ep_pod_changed(const json_t *old_pod, const json_t *new_pod, bool *labels_changed)
{
    const json_t *os = json_object_get(old_pod, "spec"), *ns = json_object_get(new_pod, "spec");
    const json_t *ost = json_object_get(old_pod, "status"),
                 *nst = json_object_get(new_pod, "status");
    *labels_changed = !json_equal(json_object_get(md_of(old_pod), "labels"),
                                  json_object_get(md_of(new_pod), "labels")) ||
                      strcmp(k1s_ctrl_str(os, "hostname"), k1s_ctrl_str(ns, "hostname")) ||
                      strcmp(k1s_ctrl_str(os, "subdomain"), k1s_ctrl_str(ns, "subdomain"));
    if (*labels_changed)
        return true;
    if (k1s_ctrl_deleting(old_pod) != k1s_ctrl_deleting(new_pod) ||
        k1s_pod_is_ready(old_pod) != k1s_pod_is_ready(new_pod) ||
        k1s_pod_is_terminated(old_pod) != k1s_pod_is_terminated(new_pod))
        return true;
    if (strcmp(k1s_ctrl_str(ost, "podIP"), k1s_ctrl_str(nst, "podIP")) ||
        !json_equal(json_object_get(ost, "podIPs"), json_object_get(nst, "podIPs")))
        return true;
    return strcmp(k1s_ctrl_str(os, "nodeName"), k1s_ctrl_str(ns, "nodeName")) != 0;
}

void k1s_ep_queue_pod_services(k1s_informer_t *services, k1s_workqueue_t *q, const json_t *pod)
{
    json_t **svcs = NULL;
    int n =
        k1s_informer_by_index(services, "namespace", k1s_ctrl_str(md_of(pod), "namespace"), &svcs);
    for (int i = 0; i < n; i++) {
        const json_t *sel = k1s_ep_selector(svcs[i]);
        if (sel && k1s_ep_selects(sel, pod)) {
            char *key = k1s_ctrl_key(svcs[i]);
            k1s_workqueue_add(q, key);
            free(key);
        }
    }
    free(svcs);
}

static void pod_add(json_t *obj, void *arg)
{
    k1s_ep_pod_watch_t *w = arg;
    k1s_ep_queue_pod_services(w->services, w->queue, obj);
}

static void pod_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    k1s_ep_pod_watch_t *w = arg;
    bool labels_changed;
    if (!k1s_ep_pod_changed(old_obj, new_obj, &labels_changed))
        return;
    k1s_ep_queue_pod_services(w->services, w->queue, new_obj);
    if (labels_changed)
        k1s_ep_queue_pod_services(w->services, w->queue, old_obj);
}

void k1s_ep_watch_pods(k1s_informer_t *pods, k1s_ep_pod_watch_t *w)
{
    k1s_informer_handlers_t h = {pod_add, pod_update, pod_add, w};
    k1s_informer_add_handlers(pods, &h);
}

int k1s_ep_cmp_name(const void *a, const void *b)
{
    return strcmp(k1s_ctrl_str(md_of(*(json_t *const *)a), "name"),
                  k1s_ctrl_str(md_of(*(json_t *const *)b), "name"));
}

int k1s_ep_selected_pods(const k1s_informer_t *pods, const json_t *selector, const char *ns,
                         json_t ***out)
{
    json_t **all = NULL;
    int n = k1s_informer_by_index(pods, "namespace", ns, &all), k = 0;
    for (int i = 0; i < n; i++)
        if (k1s_ep_selects(selector, all[i]))
            all[k++] = all[i];
    if (k > 1)
        qsort(all, (size_t)k, sizeof(*all), k1s_ep_cmp_name);
    *out = all;
    return k;
}

int k1s_ep_cmp_port(const void *a, const void *b)
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

void k1s_ep_sort_array(json_t *arr, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return;
    json_t **v = k1s_xmalloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), cmp);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

json_t *k1s_ep_pod_ref(const json_t *pod)
{
    const json_t *md = md_of(pod);
    return json_pack("{s:s,s:s,s:s,s:s}", "kind", "Pod", "namespace", k1s_ctrl_str(md, "namespace"),
                     "name", k1s_ctrl_str(md, "name"), "uid", k1s_ctrl_str(md, "uid"));
}

json_t *k1s_ep_port(const json_t *sp, json_int_t num, bool always_name)
{
    json_t *p = json_object();
    if (always_name || *k1s_ctrl_str(sp, "name"))
        json_object_set_new(p, "name", json_string(k1s_ctrl_str(sp, "name")));
    json_object_set_new(p, "port", json_integer(num));
    json_object_set_new(p, "protocol", json_string(protocol_of(sp)));
    if (*k1s_ctrl_str(sp, "appProtocol"))
        json_object_set_new(p, "appProtocol", json_string(k1s_ctrl_str(sp, "appProtocol")));
    return p;
}

bool k1s_ep_same_or_empty(const json_t *a, const json_t *b)
{
    size_t na = json_is_array(a) ? json_array_size(a) : json_object_size(a);
    size_t nb = json_is_array(b) ? json_array_size(b) : json_object_size(b);
    if (!na && !nb)
        return true;
    return json_equal(a, b);
}

void k1s_ep_run_sync(k1s_workqueue_t *q, const char *key, k1s_ep_sync_fn sync, void *c)
{
    char *ns, *name;
    k1s_ctrl_split_key(key, &ns, &name);
    bool out = sync(c, key, ns, name);
    free(ns);
    free(name);
    if (!out) {
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
    }
}

/* ---- trigger times ---- */

typedef struct {
    k1s_strmap_t pods; /* pod name -> (intptr_t) Ready transition time */
    int64_t service_time;
} trigger_state_t;

static void trigger_state_free(trigger_state_t *s)
{
    if (!s)
        return;
    k1s_strmap_free(&s->pods);
    free(s);
}

/* When the pod's Ready condition last changed (Unix seconds), or -1. */
static int64_t pod_trigger_time(const json_t *pod)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
    {
        if (!strcmp(k1s_ctrl_str(c, "type"), "Ready"))
            return k1s_ctrl_parse_time(k1s_ctrl_str(c, "lastTransitionTime"));
    }
    return -1;
}

static int64_t earlier(int64_t a, int64_t b)
{
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

int64_t k1s_ep_trigger_compute(k1s_ep_trigger_t *t, const char *key, const json_t *svc,
                               json_t *const *pods, int npods)
{
    trigger_state_t *old = k1s_strmap_get(&t->services, key);
    trigger_state_t *s = k1s_xcalloc(1, sizeof(*s));
    int64_t min = -1;
    for (int i = 0; i < npods; i++) {
        int64_t pt = pod_trigger_time(pods[i]);
        if (pt < 0)
            continue;
        const char *name = k1s_ctrl_str(md_of(pods[i]), "name");
        k1s_strmap_set(&s->pods, name, (void *)(intptr_t)pt);
        if (!old || !k1s_strmap_has(&old->pods, name) ||
            pt > (int64_t)(intptr_t)k1s_strmap_get(&old->pods, name))
            min = earlier(min, pt);
    }
    s->service_time = k1s_ctrl_parse_time(k1s_ctrl_str(md_of(svc), "creationTimestamp"));
    if (s->service_time >= 0 && (!old || s->service_time > old->service_time))
        min = earlier(min, s->service_time);
    trigger_state_free(k1s_strmap_set(&t->services, key, s));
    return min;
}

void k1s_ep_trigger_forget(k1s_ep_trigger_t *t, const char *key)
{
    trigger_state_free(k1s_strmap_del(&t->services, key));
}

void k1s_ep_trigger_free(k1s_ep_trigger_t *t)
{
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&t->services, &i, &k, &v);)
        trigger_state_free(v);
    k1s_strmap_free(&t->services);
}

/* ---- our own writes ---- */

typedef struct {
    long long rv;   /* the highest resourceVersion written */
    char **deleted; /* names deleted */
    size_t ndeleted;
} writes_t;

static void writes_free(writes_t *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->ndeleted; i++)
        free(w->deleted[i]);
    free(w->deleted);
    free(w);
}

static writes_t *writes_of(k1s_ep_writes_t *w, const char *key)
{
    writes_t *p = k1s_strmap_get(&w->keys, key);
    if (!p) {
        p = k1s_xcalloc(1, sizeof(*p));
        k1s_strmap_set(&w->keys, key, p);
    }
    return p;
}

void k1s_ep_writes_wrote(k1s_ep_writes_t *w, const char *key, const json_t *obj)
{
    long long rv = strtoll(k1s_ctrl_str(md_of(obj), "resourceVersion"), NULL, 10);
    writes_t *p = writes_of(w, key);
    if (rv > p->rv)
        p->rv = rv;
}

void k1s_ep_writes_deleted(k1s_ep_writes_t *w, const char *key, const char *name)
{
    writes_t *p = writes_of(w, key);
    p->deleted = k1s_xrealloc(p->deleted, (p->ndeleted + 1) * sizeof(*p->deleted));
    p->deleted[p->ndeleted++] = k1s_xstrdup(name);
}

bool k1s_ep_writes_seen(k1s_ep_writes_t *w, const char *key, const k1s_informer_t *inf,
                        const char *ns)
{
    writes_t *p = k1s_strmap_get(&w->keys, key);
    if (!p)
        return true;
    if (strtoll(k1s_informer_resource_version(inf), NULL, 10) < p->rv)
        return false;
    for (size_t i = 0; i < p->ndeleted; i++)
        if (k1s_informer_get(inf, ns, p->deleted[i]))
            return false;
    writes_free(k1s_strmap_del(&w->keys, key));
    return true;
}

void k1s_ep_writes_forget(k1s_ep_writes_t *w, const char *key)
{
    writes_free(k1s_strmap_del(&w->keys, key));
}

void k1s_ep_writes_free(k1s_ep_writes_t *w)
{
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&w->keys, &i, &k, &v);)
        writes_free(v);
    k1s_strmap_free(&w->keys);
}
