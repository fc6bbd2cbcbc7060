/*
 * The generic ephemeral volume controller ("ephemeral-volume", upstream's
 * pkg/controller/volume/ephemeral): for every volume of a pod with an
 * `ephemeral.volumeClaimTemplate`, a PersistentVolumeClaim named
 * <pod>-<volume> in the pod's namespace, with the template's labels,
 * annotations and spec, owned by the pod (controller reference with
 * blockOwnerDeletion), so that the garbage collector removes it with the
 * pod. A claim of that name not owned by the pod is left alone and the pod
 * gets a Warning Event; a claim deleted while its pod lives is created
 * again.
 */
#include <stdlib.h>
#include <string.h>

#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

static const k1s_gvr_t pvcs_gvr = {"", "v1", "persistentvolumeclaims", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};

typedef struct write_ctx write_ctx_t;

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *pods, *pvcs;
    k1s_workqueue_t *queue; /* pod keys */
    write_ctx_t *writes;
} eph_t;

struct write_ctx {
    eph_t *e;
    char *key; /* the pod's */
    int pending;
    bool failed;
    write_ctx_t *prev, *next;
};

static const json_t *meta(const json_t *o)
{
    return json_object_get(o, "metadata");
}

static bool has_ephemeral(const json_t *pod)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "volumes"), i, v)
    {
        if (json_object_get(v, "ephemeral"))
            return true;
    }
    return false;
}

static void enqueue_pod(eph_t *e, const json_t *pod)
{
    if (!has_ephemeral(pod) || k1s_ctrl_deleting(pod))
        return;
    char *k = k1s_ctrl_key(pod);
    k1s_workqueue_add(e->queue, k);
    free(k);
}

static void pod_add(json_t *obj, void *arg)
{
    enqueue_pod(arg, obj);
}

/* A claim deleted under a live pod is created again. */
static void pvc_delete(json_t *obj, void *arg)
{
    eph_t *e = arg;
    const json_t *ref = k1s_ctrl_controller_ref(obj);
    if (!ref || strcmp(k1s_ctrl_str(ref, "kind"), "Pod"))
        return;
    json_t *pod =
        k1s_informer_get(e->pods, k1s_ctrl_str(meta(obj), "namespace"), k1s_ctrl_str(ref, "name"));
    if (pod && !strcmp(k1s_ctrl_str(meta(pod), "uid"), k1s_ctrl_str(ref, "uid")))
        enqueue_pod(e, pod);
}

static void written(const k1s_client_result_t *res, void *arg)
{
    write_ctx_t *w = arg;
    eph_t *e = w->e;
    if (res->status >= 300 && res->status != 409) {
        w->failed = true;
        json_t *pod = k1s_ctrl_get_by_key(e->pods, w->key);
        if (pod)
            k1s_recorder_event(e->ctx->recorder, pod, "Warning", "FailedCreate",
                               "create PVC for pod %s: %s", w->key,
                               *res->message ? res->message : "request failed");
    }
    if (--w->pending > 0)
        return;
    if (w->failed)
        k1s_workqueue_add_rate_limited(e->queue, w->key);
    else
        k1s_workqueue_forget(e->queue, w->key);
    k1s_workqueue_done(e->queue, w->key);
    if (w->prev)
        w->prev->next = w->next;
    else
        e->writes = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w->key);
    free(w);
}

/* The claim for volume v of pod, as upstream builds it. New reference. */
static json_t *new_claim(const json_t *pod, const json_t *v, const char *name)
{
    const json_t *tmpl = json_object_get(json_object_get(v, "ephemeral"), "volumeClaimTemplate");
    const json_t *tm = json_object_get(tmpl, "metadata");
    const json_t *pm = meta(pod);
    json_t *ref = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", "v1", "kind", "Pod", "name",
                            k1s_ctrl_str(pm, "name"), "uid", k1s_ctrl_str(pm, "uid"), "controller",
                            1, "blockOwnerDeletion", 1);
    json_t *claim = json_pack("{s:s,s:s,s:{s:s,s:s,s:[o]},s:O}", "apiVersion", "v1", "kind",
                              "PersistentVolumeClaim", "metadata", "name", name, "namespace",
                              k1s_ctrl_str(pm, "namespace"), "ownerReferences", ref, "spec",
                              json_object_get(tmpl, "spec"));
    if (!claim)
        return NULL;
    json_t *md = json_object_get(claim, "metadata");
    if (json_is_object(json_object_get(tm, "labels")))
        json_object_set(md, "labels", json_object_get(tm, "labels"));
    if (json_is_object(json_object_get(tm, "annotations")))
        json_object_set(md, "annotations", json_object_get(tm, "annotations"));
    return claim;
}

static void eph_sync(k1s_workqueue_t *q, const char *key, void *arg)
{
    eph_t *e = arg;
    if (!k1s_informer_has_synced(e->pods) || !k1s_informer_has_synced(e->pvcs)) {
        k1s_workqueue_add_after(q, key, 100);
        k1s_workqueue_done(q, key);
        return;
    }
    json_t *pod = k1s_ctrl_get_by_key(e->pods, key);
    if (!pod || k1s_ctrl_deleting(pod)) {
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
        return;
    }
    const char *ns = k1s_ctrl_str(meta(pod), "namespace");
    const char *pod_name = k1s_ctrl_str(meta(pod), "name");
    write_ctx_t *w = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "volumes"), i, v)
    {
        if (!json_object_get(v, "ephemeral"))
            continue;
        char *name = k1s_xasprintf("%s-%s", pod_name, k1s_ctrl_str(v, "name"));
        json_t *have = k1s_informer_get(e->pvcs, ns, name);
        if (have) {
            const json_t *ref = k1s_ctrl_controller_ref(have);
            if (!ref || strcmp(k1s_ctrl_str(ref, "uid"), k1s_ctrl_str(meta(pod), "uid")))
                k1s_recorder_event(e->ctx->recorder, pod, "Warning", "FailedBinding",
                                   "PVC %s/%s was not created for pod %s/%s (pod is not owner)", ns,
                                   name, ns, pod_name);
            free(name);
            continue;
        }
        json_t *claim = new_claim(pod, v, name);
        if (claim) {
            if (!w) {
                w = k1s_xcalloc(1, sizeof(*w));
                w->e = e;
                w->key = k1s_xstrdup(key);
                w->next = e->writes;
                if (e->writes)
                    e->writes->prev = w;
                e->writes = w;
            }
            w->pending++;
            k1s_debug("ephemeral-volume: creating claim %s/%s for pod %s", ns, name, key);
            k1s_client_create(e->ctx->client, &pvcs_gvr, ns, claim, written, w);
            json_decref(claim);
        }
        free(name);
    }
    if (!w) {
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
    }
}

static void *start(k1s_ctrl_ctx_t *ctx)
{
    eph_t *e = k1s_xcalloc(1, sizeof(*e));
    e->ctx = ctx;
    e->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, eph_sync, e);
    e->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    e->pvcs = k1s_informer_factory_get(ctx->factory, &pvcs_gvr);
    /* a pod's volumes do not change: updates do not matter */
    k1s_informer_handlers_t hp = {pod_add, NULL, NULL, e};
    k1s_informer_handlers_t hc = {NULL, NULL, pvc_delete, e};
    k1s_informer_add_handlers(e->pods, &hp);
    k1s_informer_add_handlers(e->pvcs, &hc);
    return e;
}

static void stop(void *state)
{
    eph_t *e = state;
    if (!e)
        return;
    while (e->writes) {
        write_ctx_t *w = e->writes;
        e->writes = w->next;
        free(w->key);
        free(w);
    }
    k1s_workqueue_free(e->queue);
    free(e);
}

const k1s_controller_def_t k1s_ctrl_ephemeral = {
    .name = "ephemeral-volume",
    .service_account = "ephemeral-volume-controller",
    .component = "ephemeral_volume",
    .start = start,
    .stop = stop,
};
