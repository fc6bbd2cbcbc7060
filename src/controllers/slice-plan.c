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

int k1s_es_cmp_port(const void *a, const void *b)
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
char *k1s_es_ports_key(const json_t *ports)
{
    size_t n = json_array_size(ports);
    if (!n)
        return k1s_xstrdup("");
    json_t **v = k1s_xmalloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(ports, i);
    qsort(v, n, sizeof(*v), k1s_es_cmp_port);
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

/* Whether a map-valued field (labels, annotations) holds the same as want ({} if NULL). */
static bool same_map(const json_t *have, const json_t *want)
{
    if (!json_object_size(have) && !json_object_size(want))
        return true;
    return json_equal(have, want);
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
            !same_map(json_object_get(md, "labels"), labels) ||
            (o->annotations && !same_map(json_object_get(md, "annotations"), o->annotations));
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
        same_map(json_object_get(md_of(only->slice), "labels"), labels)) {
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

static void op_unlink(k1s_es_writer_t *w, k1s_es_op_t *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        w->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
}

static k1s_es_op_t *op_new(batch_t *b, const char *name)
{
    k1s_es_writer_t *w = b->w;
    k1s_es_op_t *op = k1s_xcalloc(1, sizeof(*op));
    op->b = b;
    op->name = name ? k1s_xstrdup(name) : NULL;
    op->next = w->ops;
    if (w->ops)
        w->ops->prev = op;
    w->ops = op;
    b->outstanding++;
    return op;
}

static void write_done(const k1s_client_result_t *res, void *arg)
{
    k1s_es_op_t *op = arg;
    batch_t *b = op->b;
    k1s_es_writer_t *w = b->w;
    op_unlink(w, op);
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

void k1s_es_writer_free(k1s_es_writer_t *w)
{
    while (w->ops) {
        k1s_es_op_t *op = w->ops;
        op_unlink(w, op);
        batch_t *b = op->b;
        free(op->name);
        free(op);
        batch_release(b);
    }
    k1s_ep_writes_free(&w->writes);
}
