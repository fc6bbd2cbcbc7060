/*
 * Storage object in-use protection: the "pvc-protection" and
 * "pv-protection" controllers (upstream's pkg/controller/volume/
 * pvcprotection and pvprotection).
 *
 * Every PersistentVolumeClaim carries the kubernetes.io/pvc-protection
 * finalizer and every PersistentVolume kubernetes.io/pv-protection (the
 * controllers add them when missing; upstream's admission plugin adds them
 * at creation, these controllers cover objects created without). When a
 * claim is deleted its finalizer goes once no scheduled pod uses it (a
 * volume naming the claim, whatever the pod's phase, or an ephemeral
 * volume whose claim <pod>-<volume> the pod owns, until the pod is shut
 * down); the informer's answer "unused" is checked with a live list of
 * the namespace's pods, as upstream does. A deleted volume's finalizer
 * goes once it is no longer Bound. Until then `kubectl get pvc` shows the
 * claim Terminating.
 */
#include <stdlib.h>
#include <string.h>

#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

#define PVC_FINALIZER "kubernetes.io/pvc-protection"
#define PV_FINALIZER "kubernetes.io/pv-protection"

static const k1s_gvr_t pvs_gvr = {"", "v1", "persistentvolumes", false};
static const k1s_gvr_t pvcs_gvr = {"", "v1", "persistentvolumeclaims", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};

typedef struct write_ctx write_ctx_t;

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    bool claims; /* pvc-protection, else pv-protection */
    k1s_informer_t *objs, *pods;
    k1s_workqueue_t *queue;
    write_ctx_t *writes;
} prot_t;

struct write_ctx {
    prot_t *p;
    char *key;
    write_ctx_t *prev, *next;
};

static const json_t *meta(const json_t *o)
{
    return json_object_get(o, "metadata");
}

static const char *finalizer(const prot_t *p)
{
    return p->claims ? PVC_FINALIZER : PV_FINALIZER;
}

static bool has_finalizer(const json_t *o, const char *f)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(meta(o), "finalizers"), i, v)
    {
        if (json_string_value(v) && !strcmp(json_string_value(v), f))
            return true;
    }
    return false;
}

/* Whether the object needs the controller: a finalizer to add, or maybe one to remove. */
static bool needs_work(const prot_t *p, const json_t *o)
{
    bool has = has_finalizer(o, finalizer(p));
    return k1s_ctrl_deleting(o) ? has : !has;
}

/*
 * Whether the kubelet may mount or already mounted the claim for pod
 * (upstream's podUsesPVC): the pod is scheduled and has a volume naming
 * the claim, or an ephemeral volume whose claim <pod>-<volume> this pod
 * owns while the pod is not shut down (deleted with grace period 0).
 */
static bool pod_uses(const json_t *pod, const json_t *claim)
{
    const json_t *spec = json_object_get(pod, "spec");
    if (!*k1s_ctrl_str(spec, "nodeName"))
        return false;
    const char *name = k1s_ctrl_str(meta(claim), "name");
    const json_t *grace = json_object_get(meta(pod), "deletionGracePeriodSeconds");
    bool shut_down = k1s_ctrl_deleting(pod) && grace && json_integer_value(grace) == 0;
    const json_t *owner = k1s_ctrl_controller_ref(claim);
    bool owned = owner && !strcmp(k1s_ctrl_str(owner, "uid"), k1s_ctrl_str(meta(pod), "uid"));
    const char *pod_name = k1s_ctrl_str(meta(pod), "name");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "volumes"), i, v)
    {
        const json_t *src = json_object_get(v, "persistentVolumeClaim");
        if (src && !strcmp(k1s_ctrl_str(src, "claimName"), name))
            return true;
        if (json_object_get(v, "ephemeral") && !shut_down && owned) {
            char *n = k1s_xasprintf("%s-%s", pod_name, k1s_ctrl_str(v, "name"));
            bool same = !strcmp(n, name);
            free(n);
            if (same)
                return true;
        }
    }
    return false;
}

static bool any_pod_uses(json_t **pods, size_t n, const json_t *claim)
{
    for (size_t i = 0; i < n; i++)
        if (pod_uses(pods[i], claim))
            return true;
    return false;
}

/* ---- handlers ---- */

static void obj_changed(prot_t *p, const json_t *o)
{
    if (!needs_work(p, o))
        return;
    char *k = k1s_ctrl_key(o);
    k1s_workqueue_add(p->queue, k);
    free(k);
}

static void obj_add(json_t *obj, void *arg)
{
    obj_changed(arg, obj);
}

static void obj_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    obj_changed(arg, new_obj);
}

/* A pod that stops using claims may free one being deleted. */
static void pod_changed(prot_t *p, const json_t *pod)
{
    const char *ns = k1s_ctrl_str(meta(pod), "namespace");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "volumes"), i, v)
    {
        const char *c = k1s_ctrl_str(json_object_get(v, "persistentVolumeClaim"), "claimName");
        char *eph = NULL;
        if (!*c && json_object_get(v, "ephemeral"))
            c = eph =
                k1s_xasprintf("%s-%s", k1s_ctrl_str(meta(pod), "name"), k1s_ctrl_str(v, "name"));
        json_t *claim = *c ? k1s_informer_get(p->objs, ns, c) : NULL;
        if (claim && k1s_ctrl_deleting(claim))
            obj_changed(p, claim);
        free(eph);
    }
}

static void pod_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    /* a pod shut down no longer holds its ephemeral claims */
    if (k1s_ctrl_deleting(new_obj) &&
        !json_equal(json_object_get(meta(old_obj), "deletionGracePeriodSeconds"),
                    json_object_get(meta(new_obj), "deletionGracePeriodSeconds")))
        pod_changed(arg, new_obj);
}

static void pod_delete(json_t *obj, void *arg)
{
    pod_changed(arg, obj);
}

/* ---- writes ---- */

static write_ctx_t *new_write(prot_t *p, const char *key)
{
    write_ctx_t *w = k1s_xcalloc(1, sizeof(*w));
    w->p = p;
    w->key = k1s_xstrdup(key);
    w->next = p->writes;
    if (p->writes)
        p->writes->prev = w;
    p->writes = w;
    return w;
}

static void forget_write(write_ctx_t *w)
{
    prot_t *p = w->p;
    if (w->prev)
        w->prev->next = w->next;
    else
        p->writes = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w->key);
    free(w);
}

static void written(const k1s_client_result_t *res, void *arg)
{
    write_ctx_t *w = arg;
    prot_t *p = w->p;
    if (res->status >= 200 && res->status < 300) {
        k1s_workqueue_forget(p->queue, w->key);
    } else if (res->status != 404) {
        k1s_debug("%s-protection: %s: update failed: %d %s", p->claims ? "pvc" : "pv", w->key,
                  res->status, res->message);
        k1s_workqueue_add_rate_limited(p->queue, w->key);
    }
    k1s_workqueue_done(p->queue, w->key);
    forget_write(w);
}

/* Writes o with the finalizer added (add) or removed. */
static void set_finalizer(prot_t *p, const char *key, const json_t *o, bool add)
{
    json_t *c = json_deep_copy(o);
    json_t *md = json_object_get(c, "metadata");
    json_t *fins = json_object_get(md, "finalizers");
    if (add) {
        if (!json_is_array(fins)) {
            fins = json_array();
            json_object_set_new(md, "finalizers", fins);
        }
        json_array_append_new(fins, json_string(finalizer(p)));
    } else {
        for (size_t i = json_array_size(fins); i-- > 0;) {
            const char *f = json_string_value(json_array_get(fins, i));
            if (f && !strcmp(f, finalizer(p)))
                json_array_remove(fins, i);
        }
    }
    write_ctx_t *w = new_write(p, key);
    const char *ns = k1s_ctrl_str(md, "namespace");
    k1s_client_update(p->ctx->client, p->claims ? &pvcs_gvr : &pvs_gvr, *ns ? ns : NULL, c, written,
                      w);
    json_decref(c);
}

static bool claim_in_use_cached(const prot_t *p, const json_t *claim)
{
    json_t **pods = NULL;
    int n =
        k1s_informer_by_index(p->pods, "namespace", k1s_ctrl_str(meta(claim), "namespace"), &pods);
    bool used = n > 0 && any_pod_uses(pods, (size_t)n, claim);
    free(pods);
    return used;
}

/* The answer to the live list of the claim's namespace's pods: the cache may lag behind. */
static void pods_listed(const k1s_client_result_t *res, void *arg)
{
    write_ctx_t *w = arg;
    prot_t *p = w->p;
    json_t *claim = k1s_ctrl_get_by_key(p->objs, w->key);
    if (res->status != 200) {
        k1s_debug("pvc-protection: %s: listing pods failed: %d %s", w->key, res->status,
                  res->message);
        k1s_workqueue_add_rate_limited(p->queue, w->key);
    } else if (claim && needs_work(p, claim) && k1s_ctrl_deleting(claim)) {
        json_t *items = json_object_get(res->obj, "items");
        size_t n = json_array_size(items);
        json_t **pods = k1s_xmalloc((n + 1) * sizeof(*pods));
        for (size_t i = 0; i < n; i++)
            pods[i] = json_array_get(items, i);
        bool used = any_pod_uses(pods, n, claim);
        free(pods);
        if (!used) {
            k1s_debug("pvc-protection: removing the finalizer of %s", w->key);
            set_finalizer(p, w->key, claim, false); /* marks the key done when answered */
            forget_write(w);
            return;
        }
    }
    k1s_workqueue_done(p->queue, w->key);
    forget_write(w);
}

static void prot_sync(k1s_workqueue_t *q, const char *key, void *arg)
{
    prot_t *p = arg;
    if (!k1s_informer_has_synced(p->objs) || (p->pods && !k1s_informer_has_synced(p->pods))) {
        k1s_workqueue_add_after(q, key, 100);
        k1s_workqueue_done(q, key);
        return;
    }
    json_t *o = k1s_ctrl_get_by_key(p->objs, key);
    if (o && needs_work(p, o)) {
        if (!k1s_ctrl_deleting(o)) {
            set_finalizer(p, key, o, true);
            return;
        }
        if (p->claims && !claim_in_use_cached(p, o)) {
            write_ctx_t *w = new_write(p, key);
            k1s_client_list(p->ctx->client, &pods_gvr, k1s_ctrl_str(meta(o), "namespace"), NULL,
                            pods_listed, w);
            return;
        }
        if (!p->claims && strcmp(k1s_ctrl_str(json_object_get(o, "status"), "phase"), "Bound")) {
            k1s_debug("%s-protection: removing the finalizer of %s", p->claims ? "pvc" : "pv", key);
            set_finalizer(p, key, o, false);
            return;
        }
    }
    k1s_workqueue_forget(q, key);
    k1s_workqueue_done(q, key);
}

static void *start_common(k1s_ctrl_ctx_t *ctx, bool claims)
{
    prot_t *p = k1s_xcalloc(1, sizeof(*p));
    p->ctx = ctx;
    p->claims = claims;
    p->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, prot_sync, p);
    p->objs = k1s_informer_factory_get(ctx->factory, claims ? &pvcs_gvr : &pvs_gvr);
    k1s_informer_handlers_t h = {obj_add, obj_update, NULL, p};
    k1s_informer_add_handlers(p->objs, &h);
    if (claims) {
        p->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
        k1s_ctrl_index_namespace(p->pods);
        k1s_informer_handlers_t hp = {NULL, pod_update, pod_delete, p};
        k1s_informer_add_handlers(p->pods, &hp);
    }
    return p;
}

static void *start_pvc(k1s_ctrl_ctx_t *ctx)
{
    return start_common(ctx, true);
}

static void *start_pv(k1s_ctrl_ctx_t *ctx)
{
    return start_common(ctx, false);
}

static void stop(void *state)
{
    prot_t *p = state;
    if (!p)
        return;
    while (p->writes) {
        write_ctx_t *w = p->writes;
        p->writes = w->next;
        free(w->key);
        free(w);
    }
    k1s_workqueue_free(p->queue);
    free(p);
}

const k1s_controller_def_t k1s_ctrl_pvc_protection = {
    .name = "pvc-protection",
    .service_account = "pvc-protection-controller",
    .component = "pvc-protection-controller",
    .start = start_pvc,
    .stop = stop,
};

const k1s_controller_def_t k1s_ctrl_pv_protection = {
    .name = "pv-protection",
    .service_account = "pv-protection-controller",
    .component = "pv-protection-controller",
    .start = start_pv,
    .stop = stop,
};
