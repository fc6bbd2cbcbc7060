/*
 * EndpointSlice planning and writing (see endpoints-int.h), shared by the
 * EndpointSlice controller and the EndpointSlice mirroring controller: the
 * minimal creates, updates and deletes that make one owner's slices hold
 * the desired endpoints, and the writes that carry them out.
 */
#include <stdlib.h>
#include <string.h>

#include "controllers/controller.h"
#include "controllers/endpoints-int.h"
#include "lib/log.h"
#include "lib/util.h"

static const k1s_gvr_t slices_gvr = {"discovery.k8s.io", "v1", "endpointslices", true};

static const json_t *md_of(const json_t *o)
{
    return json_object_get(o, "metadata");
}

int k1s_es_index_service(const json_t *slice, const char *managed_by, const char **out)
{
    const json_t *labels = json_object_get(md_of(slice), "labels");
    if (strcmp(k1s_ctrl_str(labels, K1S_ES_LABEL_MANAGED_BY), managed_by))
        return 0;
    const char *svc = k1s_ctrl_str(labels, K1S_ES_LABEL_SERVICE_NAME);
    if (!*svc)
        return 0;
    out[0] = svc;
    return 1;
}

int k1s_es_owner_slices(const k1s_informer_t *slices, const char *index, const char *ns,
                        const char *name, json_t ***out)
{
    json_t **all = NULL;
    int n = k1s_informer_by_index(slices, index, name, &all), k = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(k1s_ctrl_str(md_of(all[i]), "namespace"), ns))
            all[k++] = all[i];
    if (k > 1)
        qsort(all, (size_t)k, sizeof(*all), k1s_ep_cmp_name);
    *out = all;
    return k;
}

/* A change to one of w's slices (ours or someone else's doing) queues its Service. */
static void slice_event(const k1s_es_slice_watch_t *w, const json_t *obj)
{
    const char *svc;
    if (!k1s_es_index_service(obj, w->managed_by, &svc))
        return;
    char *key = k1s_xasprintf("%s/%s", k1s_ctrl_str(md_of(obj), "namespace"), svc);
    k1s_workqueue_add(w->queue, key);
    free(key);
}

static void slice_add(json_t *obj, void *arg)
{
    slice_event(arg, obj);
}

static void slice_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    const k1s_es_slice_watch_t *w = arg;
    slice_event(w, new_obj);
    const char *a = "", *b = "";
    k1s_es_index_service(old_obj, w->managed_by, &a);
    k1s_es_index_service(new_obj, w->managed_by, &b);
    if (strcmp(a, b))
        slice_event(w, old_obj);
}

void k1s_es_watch_slices(k1s_informer_t *slices, k1s_es_slice_watch_t *w)
{
    k1s_informer_handlers_t h = {slice_add, slice_update, slice_add, w};
    k1s_informer_add_handlers(slices, &h);
}

/* A canonical string for a list of ports (any order), to group slices and endpoints by. */
char *k1s_es_ports_key(const json_t *ports)
{
    size_t n = json_array_size(ports);
    if (!n)
        return k1s_xstrdup("");
    json_t **v = k1s_xmalloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(ports, i);
    qsort(v, n, sizeof(*v), k1s_ep_cmp_port);
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++) {
        /* name and protocol as defaulted by the API server */
        json_int_t port = json_integer_value(json_object_get(v[i], "port"));
        json_array_append_new(sorted, k1s_ep_port(v[i], port, true));
    }
    free(v);
    char *s = json_dumps(sorted, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(sorted);
    return s;
}

/* Which endpoint this is, across updates: its address, pod and hostname. */
char *k1s_es_endpoint_key(const json_t *ep)
{
    const json_t *ref = json_object_get(ep, "targetRef");
    const char *ip = json_string_value(json_array_get(json_object_get(ep, "addresses"), 0));
    return k1s_xasprintf("%s|%s/%s|%s", ip ? ip : "", k1s_ctrl_str(ref, "namespace"),
                         k1s_ctrl_str(ref, "name"), k1s_ctrl_str(ep, "hostname"));
}

static bool owned_by(const json_t *slice, const json_t *owner)
{
    const json_t *ref = k1s_ctrl_controller_ref(slice);
    return ref && !strcmp(k1s_ctrl_str(ref, "uid"), k1s_ctrl_str(md_of(owner), "uid"));
}

static size_t len_or_0(const json_t *a)
{
    return json_is_array(a) ? json_array_size(a) : 0;
}

/* ---- the plan ---- */

static k1s_es_group_t *group_for(k1s_es_plan_t *p, const char *key, const json_t *ports, bool add)
{
    for (size_t i = 0; i < p->ngroups; i++)
        if (!strcmp(p->groups[i].key, key))
            return &p->groups[i];
    if (!add)
        return NULL;
    p->groups = k1s_xrealloc(p->groups, (p->ngroups + 1) * sizeof(*p->groups));
    k1s_es_group_t *g = &p->groups[p->ngroups++];
    memset(g, 0, sizeof(*g));
    g->key = k1s_xstrdup(key);
    g->ports = json_incref((json_t *)ports);
    g->eps = json_array();
    return g;
}

static k1s_es_slice_t *plan_add(k1s_es_plan_t *p, json_t *slice, k1s_es_action_t action, int group)
{
    p->slices = k1s_xrealloc(p->slices, (p->nslices + 1) * sizeof(*p->slices));
    k1s_es_slice_t *s = &p->slices[p->nslices++];
    s->slice = slice;
    s->action = action;
    s->group = group;
    return s;
}

void k1s_es_plan_free(k1s_es_plan_t *p)
{
    for (size_t i = 0; i < p->ngroups; i++) {
        free(p->groups[i].key);
        json_decref(p->groups[i].ports);
        json_decref(p->groups[i].eps);
        k1s_strmap_free(&p->groups[i].pending);
    }
    free(p->groups);
    for (size_t i = 0; i < p->nslices; i++)
        if (p->slices[i].action == K1S_ES_UPDATE || p->slices[i].action == K1S_ES_CREATE)
            json_decref(p->slices[i].slice);
    free(p->slices);
}

/* A new slice of the owner with ports and no endpoints yet. */
static json_t *new_slice(const k1s_es_plan_opts_t *o, const json_t *ports)
{
    const json_t *md = md_of(o->owner);
    char *prefix = k1s_xasprintf("%.57s-", k1s_ctrl_str(md, "name"));
    json_t *ref = k1s_ctrl_new_controller_ref(o->owner);
    json_t *s =
        json_pack("{s:s,s:s,s:{s:s,s:s,s:O,s:[o]},s:s,s:[],s:O}", "apiVersion",
                  "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "generateName",
                  prefix, "namespace", k1s_ctrl_str(md, "namespace"), "labels", o->labels,
                  "ownerReferences", ref, "addressType", "IPv4", "endpoints", "ports", ports);
    if (o->annotations && json_object_size(o->annotations))
        json_object_set(json_object_get(s, "metadata"), "annotations", (json_t *)o->annotations);
    free(prefix);
    return s;
}

/* Turns a kept slice into one to update (a copy); returns it. */
static json_t *make_update(k1s_es_slice_t *s)
{
    if (s->action == K1S_ES_KEEP) {
        s->slice = json_deep_copy(s->slice);
        s->action = K1S_ES_UPDATE;
    }
    return s->slice;
}

/* Moves up to room pending endpoints of g, in order, into slice's endpoints. */
static void fill(k1s_es_group_t *g, json_t *slice, size_t room)
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
        char *k = k1s_es_endpoint_key(ep);
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

void k1s_es_plan_endpoint(k1s_es_plan_t *p, const json_t *ports, json_t *ep)
{
    char *pk = k1s_es_ports_key(ports);
    k1s_es_group_t *g = group_for(p, pk, ports, true);
    free(pk);
    char *ek = k1s_es_endpoint_key(ep);
    if (!k1s_strmap_has(&g->pending, ek)) {
        json_array_append(g->eps, ep);
        k1s_strmap_set(&g->pending, ek, (void *)(intptr_t)json_array_size(g->eps));
    }
    free(ek);
}

void k1s_es_plan_delete(k1s_es_plan_t *p, json_t *slice)
{
    plan_add(p, slice, K1S_ES_DELETE, -1);
}

void k1s_es_plan_slices(k1s_es_plan_t *p, json_t *const *existing, int nexisting,
                        const k1s_es_plan_opts_t *o)
{
    const json_t *svc = o->owner, *labels = o->labels;
    const size_t max = o->max_per_slice;
    for (int i = 0; i < nexisting; i++) {
        json_t *s = existing[i];
        if (strcmp(k1s_ctrl_str(s, "addressType"), "IPv4") || !owned_by(s, svc)) {
            plan_add(p, s, K1S_ES_DELETE, -1);
            continue;
        }
        char *pk = k1s_es_ports_key(json_object_get(s, "ports"));
        k1s_es_group_t *g = group_for(p, pk, NULL, false);
        free(pk);
        if (!g) {
            plan_add(p, s, K1S_ES_DELETE, -1);
            continue;
        }
        json_t *eps = json_array();
        bool changed = false;
        size_t j;
        json_t *ep;
        json_array_foreach(json_object_get(s, "endpoints"), j, ep)
        {
            char *k = k1s_es_endpoint_key(ep);
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
        bool meta_changed =
            !k1s_ep_same_or_empty(json_object_get(md, "labels"), labels) ||
            (o->annotations &&
             !k1s_ep_same_or_empty(json_object_get(md, "annotations"), o->annotations));
        int gi = (int)(g - p->groups);
        if (!json_array_size(eps)) {
            plan_add(p, s, K1S_ES_DELETE, gi);
        } else if (changed || meta_changed) {
            json_t *u = json_deep_copy(s);
            json_object_set(u, "endpoints", eps);
            json_t *umd = json_object_get(u, "metadata");
            json_object_set(umd, "labels", (json_t *)labels);
            if (o->annotations && json_object_size(o->annotations))
                json_object_set(umd, "annotations", (json_t *)o->annotations);
            else if (o->annotations)
                json_object_del(umd, "annotations");
            plan_add(p, u, K1S_ES_UPDATE, gi);
        } else {
            plan_add(p, s, K1S_ES_KEEP, gi);
        }
        json_decref(eps);
    }
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        k1s_es_group_t *g = &p->groups[gi];
        /* first into slices written anyway */
        for (size_t i = 0; i < p->nslices && k1s_strmap_len(&g->pending); i++) {
            k1s_es_slice_t *s = &p->slices[i];
            size_t have = len_or_0(json_object_get(s->slice, "endpoints"));
            if (s->group == (int)gi && s->action == K1S_ES_UPDATE && have < max)
                fill(g, s->slice, max - have);
        }
        /* then full new slices */
        while (k1s_strmap_len(&g->pending) >= max) {
            json_t *ns = new_slice(o, g->ports);
            fill(g, ns, max);
            plan_add(p, ns, K1S_ES_CREATE, (int)gi);
        }
        size_t left = k1s_strmap_len(&g->pending);
        if (!left)
            continue;
        /* the rest into the fullest unchanged slice they fit in, else a new one */
        k1s_es_slice_t *best = NULL;
        size_t best_have = 0;
        for (size_t i = 0; i < p->nslices; i++) {
            k1s_es_slice_t *s = &p->slices[i];
            size_t have = len_or_0(json_object_get(s->slice, "endpoints"));
            if (s->group == (int)gi && s->action == K1S_ES_KEEP && have + left <= max &&
                (!best || have > best_have)) {
                best = s;
                best_have = have;
            }
        }
        if (best) {
            fill(g, make_update(best), left);
        } else {
            json_t *ns = new_slice(o, g->ports);
            fill(g, ns, left);
            plan_add(p, ns, K1S_ES_CREATE, (int)gi);
        }
    }
    if (!o->placeholder)
        return;
    /* a Service without endpoints keeps one placeholder slice */
    size_t live = 0, deleted = 0;
    k1s_es_slice_t *only = NULL;
    for (size_t i = 0; i < p->nslices; i++) {
        if (p->slices[i].action == K1S_ES_DELETE) {
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
        k1s_ep_same_or_empty(json_object_get(md_of(only->slice), "labels"), labels)) {
        only->action = K1S_ES_KEEP;
        return;
    }
    json_t *empty = json_array();
    plan_add(p, new_slice(o, empty), K1S_ES_CREATE, -1);
    json_decref(empty);
}

/* ---- writes ---- */

/* The writes of one sync: the key is done when the last is answered. */
typedef struct {
    k1s_es_writer_t *w;
    char *key;
    json_t *event_obj;
    const char *fail_reason;
    int outstanding;
    bool failed;
    char *error;
} batch_t;

struct k1s_es_op {
    batch_t *b;
    char *name; /* a delete's slice name, else NULL */
    k1s_es_op_t *prev, *next;
};

static void batch_release(batch_t *b)
{
    if (--b->outstanding > 0)
        return;
    json_decref(b->event_obj);
    free(b->error);
    free(b->key);
    free(b);
}

static k1s_es_op_t *op_new(batch_t *b, const char *name)
{
    k1s_es_writer_t *w = b->w;
    k1s_es_op_t *op = k1s_xcalloc(1, sizeof(*op));
    op->b = b;
    op->name = name ? k1s_xstrdup(name) : NULL;
    K1S_LIST_ADD(w->ops, op);
    b->outstanding++;
    return op;
}

static void write_done(const k1s_client_result_t *res, void *arg)
{
    k1s_es_op_t *op = arg;
    batch_t *b = op->b;
    k1s_es_writer_t *w = b->w;
    K1S_LIST_DEL(w->ops, op);
    bool ok = res->status >= 200 && res->status < 300;
    if (op->name) {
        if (ok)
            k1s_ep_writes_deleted(&w->writes, b->key, op->name);
        ok = ok || res->status == 404;
    } else if (ok) {
        k1s_ep_writes_wrote(&w->writes, b->key, res->obj);
    }
    if (!ok) {
        k1s_debug("%s: %s: %d %s", w->name, b->key, res->status, res->message);
        b->failed = true;
        if (!b->error && res->status != 409 &&
            !(res->status == 403 && strstr(res->message, "because it is being terminated")))
            b->error = k1s_xstrdup(*res->message ? res->message : "request failed");
    }
    free(op->name);
    free(op);
    if (b->outstanding == 1) {
        if (b->error && b->event_obj)
            k1s_recorder_event(w->ctx->recorder, b->event_obj, "Warning", b->fail_reason,
                               "Error updating Endpoint Slices for %s %s: %s",
                               k1s_ctrl_str(b->event_obj, "kind"), b->key, b->error);
        if (b->failed)
            k1s_workqueue_add_rate_limited(w->queue, b->key);
        else
            k1s_workqueue_forget(w->queue, b->key);
        k1s_workqueue_done(w->queue, b->key);
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
    } else if (trigger == -1 && json_is_object(ann)) {
        json_object_del(ann, K1S_EP_TRIGGER_ANNOTATION);
        if (!json_object_size(ann))
            json_object_del(md, "annotations");
    }
}

bool k1s_es_apply(k1s_es_writer_t *w, const char *key, const char *ns, const json_t *event_obj,
                  const char *fail_reason, k1s_es_plan_t *p, int64_t trigger)
{
    batch_t *b = k1s_xcalloc(1, sizeof(*b));
    b->w = w;
    b->key = k1s_xstrdup(key);
    b->event_obj = event_obj ? json_incref((json_t *)event_obj) : NULL;
    b->fail_reason = fail_reason;
    b->outstanding = 1; /* held until every write is started */
    int creates = 0, updates = 0, deletes = 0;
    k1s_client_t *client = w->ctx->client;
    /* creates first, then updates, then deletes: no moment without the endpoints */
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < p->nslices; i++) {
            k1s_es_slice_t *s = &p->slices[i];
            if (pass == 0 && s->action == K1S_ES_CREATE) {
                set_trigger(s->slice, trigger);
                creates++;
                k1s_client_create(client, &slices_gvr, ns, s->slice, write_done, op_new(b, NULL));
            } else if (pass == 1 && s->action == K1S_ES_UPDATE) {
                set_trigger(s->slice, trigger);
                updates++;
                k1s_client_update(client, &slices_gvr, ns, s->slice, write_done, op_new(b, NULL));
            } else if (pass == 2 && s->action == K1S_ES_DELETE) {
                const char *name = k1s_ctrl_str(md_of(s->slice), "name");
                deletes++;
                k1s_delete_opts_t o = {.precondition_uid = k1s_ctrl_str(md_of(s->slice), "uid"),
                                       .grace_period_s = -1};
                k1s_client_delete(client, &slices_gvr, ns, name, &o, write_done, op_new(b, name));
            }
        }
    }
    bool any = creates + updates + deletes > 0;
    if (any)
        k1s_debug("%s: %s: %d created, %d updated, %d deleted", w->name, key, creates, updates,
                  deletes);
    batch_release(b);
    return any;
}

bool k1s_es_reconcile(k1s_es_writer_t *w, const char *key, const char *ns, k1s_es_plan_t *p,
                      json_t *const *existing, int nexisting, const k1s_es_plan_opts_t *o,
                      int64_t trigger)
{
    if (o) {
        k1s_es_plan_slices(p, existing, nexisting, o);
    } else {
        for (int i = 0; i < nexisting; i++)
            k1s_es_plan_delete(p, existing[i]);
    }
    bool out = k1s_es_apply(w, key, ns, o ? o->owner : NULL,
                            o ? "FailedToUpdateEndpointSlices" : NULL, p, trigger);
    k1s_es_plan_free(p);
    return out;
}

void k1s_es_writer_free(k1s_es_writer_t *w)
{
    while (w->ops) {
        k1s_es_op_t *op = w->ops;
        K1S_LIST_DEL(w->ops, op);
        batch_t *b = op->b;
        free(op->name);
        free(op);
        batch_release(b);
    }
    k1s_ep_writes_free(&w->writes);
}
