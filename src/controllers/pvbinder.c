/*
 * The PersistentVolume controller ("persistentvolume-binder", upstream's
 * pkg/controller/volume/persistentvolume): binds PersistentVolumeClaims to
 * PersistentVolumes and keeps both phases true.
 *
 * A claim without a volume gets the best Available volume that fits it:
 * same storage class, access modes including the claim's (fewest extra
 * modes first), capacity at least the request (the smallest), labels
 * matching the claim's selector, same volumeMode; a volume pre-bound to
 * the claim (spec.claimRef) or a claim pre-bound to a volume
 * (spec.volumeName) wins. Binding is four writes, each made by a sync
 * that sees the previous one in the informers: the volume's claimRef
 * (and pv.kubernetes.io/bound-by-controller), the volume's phase Bound,
 * the claim's volumeName (with pv.kubernetes.io/bind-completed and
 * bound-by-controller), the claim's phase Bound with capacity and access
 * modes.
 *
 * A claim that finds no volume and has a StorageClass is provisioned: the
 * controller writes the volume.kubernetes.io/storage-provisioner (and
 * beta) annotation naming the class's provisioner and the
 * ExternalProvisioning Event; the provisioner (localpath.c for
 * rancher.io/local-path) creates a volume pre-bound to the claim, which
 * this controller then binds. With volumeBindingMode WaitForFirstConsumer
 * the claim waits (Event WaitForFirstConsumer, or WaitForPodScheduled when
 * a pod uses it) until the scheduler names a node in the
 * volume.kubernetes.io/selected-node annotation; a pod using it that is
 * bound to a node without that (spec.nodeName, or a scheduler that does
 * not handle volumes) makes this controller write the annotation itself.
 * A claim with a selected node binds only volumes whose node affinity
 * that node meets (local volumes of a kubernetes.io/no-provisioner class),
 * else is provisioned there.
 *
 * A volume whose claim is gone is Released; then its reclaim policy
 * applies: Retain keeps it, Delete removes a volume this controller may
 * delete (a hostPath under /tmp, as the in-tree hostPath deleter) and
 * leaves provisioned volumes to their provisioner; anything else fails
 * with VolumeFailedDelete / VolumeFailedRecycle.
 *
 * Unlike upstream there is no 15 s resync: claims are looked at again when
 * a volume becomes available or a StorageClass appears.
 */
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

#define ANN_BIND_COMPLETED "pv.kubernetes.io/bind-completed"
#define ANN_BOUND_BY_CONTROLLER "pv.kubernetes.io/bound-by-controller"
#define ANN_PROVISIONED_BY "pv.kubernetes.io/provisioned-by"
#define ANN_STORAGE_PROVISIONER "volume.kubernetes.io/storage-provisioner"
#define ANN_BETA_STORAGE_PROVISIONER "volume.beta.kubernetes.io/storage-provisioner"
#define ANN_SELECTED_NODE "volume.kubernetes.io/selected-node"
#define ANN_BETA_CLASS "volume.beta.kubernetes.io/storage-class"

static const k1s_gvr_t pvs_gvr = {"", "v1", "persistentvolumes", false};
static const k1s_gvr_t pvcs_gvr = {"", "v1", "persistentvolumeclaims", true};
static const k1s_gvr_t classes_gvr = {"storage.k8s.io", "v1", "storageclasses", false};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};
static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};

typedef struct write_ctx write_ctx_t;

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *pvs, *pvcs, *classes, *pods, *nodes;
    k1s_workqueue_t *queue;
    write_ctx_t *writes; /* writes in flight, freed by stop() if never answered */
} pvb_t;

struct write_ctx {
    pvb_t *b;
    char *key;
    write_ctx_t *prev, *next;
};

/* ---- small accessors ---- */

static const json_t *meta(const json_t *o)
{
    return json_object_get(o, "metadata");
}

static const char *ann(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(json_object_get(meta(o), "annotations"), k));
    return v;
}

static const json_t *spec(const json_t *o)
{
    return json_object_get(o, "spec");
}

static const char *phase(const json_t *o)
{
    return k1s_ctrl_str(json_object_get(o, "status"), "phase");
}

/* The class of a claim or volume: the beta annotation, else spec.storageClassName; "" if none. */
static const char *class_of(const json_t *o)
{
    const char *c = ann(o, ANN_BETA_CLASS);
    return c ? c : k1s_ctrl_str(spec(o), "storageClassName");
}

static const char *volume_mode(const json_t *o)
{
    const char *m = k1s_ctrl_str(spec(o), "volumeMode");
    return *m ? m : "Filesystem";
}

static const json_t *claim_ref(const json_t *pv)
{
    const json_t *r = json_object_get(spec(pv), "claimRef");
    return json_is_object(r) ? r : NULL;
}

/* Whether pv's claimRef names claim (by namespace and name, and uid if the ref has one). */
static bool bound_to_claim(const json_t *pv, const json_t *claim)
{
    const json_t *r = claim_ref(pv);
    if (!r || strcmp(k1s_ctrl_str(r, "name"), k1s_ctrl_str(meta(claim), "name")) ||
        strcmp(k1s_ctrl_str(r, "namespace"), k1s_ctrl_str(meta(claim), "namespace")))
        return false;
    const char *uid = k1s_ctrl_str(r, "uid");
    return !*uid || !strcmp(uid, k1s_ctrl_str(meta(claim), "uid"));
}

static bool has_mode(const json_t *modes, const char *m)
{
    size_t i;
    json_t *v;
    json_array_foreach(modes, i, v)
    {
        if (!strcmp(json_string_value(v) ? json_string_value(v) : "", m))
            return true;
    }
    return false;
}

/* Whether the volume offers every access mode the claim asks for. */
static bool modes_fit(const json_t *claim, const json_t *pv)
{
    const json_t *want = json_object_get(spec(claim), "accessModes");
    const json_t *have = json_object_get(spec(pv), "accessModes");
    size_t i;
    json_t *v;
    json_array_foreach(want, i, v)
    {
        if (!has_mode(have, json_string_value(v) ? json_string_value(v) : ""))
            return false;
    }
    return true;
}

/* Parses a storage quantity; a missing or invalid one counts as zero. */
static void storage_qty(const json_t *v, k1s_quantity_t *q)
{
    if (!v || k1s_quantity_from_json(v, q, NULL) < 0)
        k1s_quantity_parse("0", q, NULL);
}

static void claim_request(const json_t *claim, k1s_quantity_t *q)
{
    storage_qty(
        json_object_get(json_object_get(json_object_get(spec(claim), "resources"), "requests"),
                        "storage"),
        q);
}

static void pv_capacity(const json_t *pv, k1s_quantity_t *q)
{
    storage_qty(json_object_get(json_object_get(spec(pv), "capacity"), "storage"), q);
}

/*
 * Why a volume cannot serve claim, or NULL if it can: upstream's
 * checkVolumeSatisfyClaim, for claims pre-bound to a volume.
 */
static const char *mismatch(const json_t *claim, const json_t *pv)
{
    k1s_quantity_t want, have;
    claim_request(claim, &want);
    pv_capacity(pv, &have);
    if (k1s_quantity_cmp(&have, &want) < 0)
        return "requested PV is too small";
    if (strcmp(class_of(pv), class_of(claim)))
        return "storageClassName does not match";
    if (strcmp(volume_mode(pv), volume_mode(claim)))
        return "incompatible volumeMode";
    if (!modes_fit(claim, pv))
        return "incompatible accessMode";
    return NULL;
}

/* One requirement of a node selector term on a node's labels (or its name, for matchFields). */
static bool requirement_matches(const json_t *req, const json_t *node, bool field)
{
    const char *key = k1s_ctrl_str(req, "key");
    const char *op = k1s_ctrl_str(req, "operator");
    const json_t *values = json_object_get(req, "values");
    const char *val =
        field ? (strcmp(key, "metadata.name") ? NULL : k1s_ctrl_str(meta(node), "name"))
              : json_string_value(json_object_get(json_object_get(meta(node), "labels"), key));
    if (!strcmp(op, "Exists"))
        return val != NULL;
    if (!strcmp(op, "DoesNotExist"))
        return val == NULL;
    bool in = false;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        if (val && json_string_value(v) && !strcmp(val, json_string_value(v)))
            in = true;
    }
    if (!strcmp(op, "In"))
        return in;
    if (!strcmp(op, "NotIn"))
        return !in;
    if ((!strcmp(op, "Gt") || !strcmp(op, "Lt")) && val && json_array_size(values) == 1) {
        char *e1, *e2;
        const char *want = json_string_value(json_array_get(values, 0));
        long long a = strtoll(val, &e1, 10), b = want ? strtoll(want, &e2, 10) : 0;
        if (!*val || *e1 || !want || !*want || *e2)
            return false;
        return !strcmp(op, "Gt") ? a > b : a < b;
    }
    return false;
}

/* Whether node meets the volume's required node affinity (any term; an empty term matches
 * nothing). A volume without one fits every node. */
static bool node_affinity_matches(const json_t *pv, const json_t *node)
{
    const json_t *req = json_object_get(json_object_get(spec(pv), "nodeAffinity"), "required");
    if (!req)
        return true;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(req, "nodeSelectorTerms"), i, t)
    {
        const json_t *exprs = json_object_get(t, "matchExpressions");
        const json_t *fields = json_object_get(t, "matchFields");
        if (!json_array_size(exprs) && !json_array_size(fields))
            continue;
        bool ok = true;
        size_t j;
        json_t *r;
        json_array_foreach(exprs, j, r) ok = ok && requirement_matches(r, node, false);
        json_array_foreach(fields, j, r) ok = ok && requirement_matches(r, node, true);
        if (ok)
            return true;
    }
    return false;
}

/*
 * The best volume for an unbound claim among vols, borrowed; NULL if none
 * (upstream's findBestMatchForClaim). A volume pre-bound to the claim wins;
 * otherwise, unless binding waits for the first consumer, the Available
 * volume of the claim's class and volumeMode, matching its selector and
 * access modes, with the fewest access modes, then the least capacity at
 * least the request. With node (the one the scheduler chose for the
 * claim, else NULL), only volumes whose node affinity that node meets
 * count, as in the scheduler's own search.
 */
static json_t *best_match(json_t **vols, size_t n, const json_t *claim, bool delay,
                          const json_t *node)
{
    k1s_quantity_t want, best_qty;
    claim_request(claim, &want);
    const json_t *selector = json_object_get(spec(claim), "selector");
    json_t *best = NULL;
    size_t best_modes = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *pv = vols[i];
        if (strcmp(volume_mode(pv), volume_mode(claim)) || k1s_ctrl_deleting(pv))
            continue;
        bool fits_node = !node || node_affinity_matches(pv, node);
        if (bound_to_claim(pv, claim))
            return fits_node ? pv : NULL;
        if (delay || strcmp(phase(pv), "Available") || claim_ref(pv) || !fits_node)
            continue;
        if (selector && !json_is_null(selector) &&
            !k1s_ctrl_selector_matches(selector, json_object_get(meta(pv), "labels")))
            continue;
        if (strcmp(class_of(pv), class_of(claim)) || !modes_fit(claim, pv))
            continue;
        k1s_quantity_t have;
        pv_capacity(pv, &have);
        if (k1s_quantity_cmp(&have, &want) < 0)
            continue;
        size_t modes = json_array_size(json_object_get(spec(pv), "accessModes"));
        if (!best || modes < best_modes ||
            (modes == best_modes && k1s_quantity_cmp(&best_qty, &have) > 0)) {
            best = pv;
            best_modes = modes;
            best_qty = have;
        }
    }
    return best;
}

/* ---- queue keys: "v:<pv>" and "c:<namespace>/<claim>" ---- */

static void enqueue_volume_name(pvb_t *b, const char *name)
{
    char *k = k1s_xasprintf("v:%s", name);
    k1s_workqueue_add(b->queue, k);
    free(k);
}

static void enqueue_claim_name(pvb_t *b, const char *ns, const char *name)
{
    char *k = k1s_xasprintf("c:%s/%s", ns, name);
    k1s_workqueue_add(b->queue, k);
    free(k);
}

static void enqueue_claim(pvb_t *b, const json_t *claim)
{
    enqueue_claim_name(b, k1s_ctrl_str(meta(claim), "namespace"),
                       k1s_ctrl_str(meta(claim), "name"));
}

/* Queues every claim not yet bound, optionally only those of class cls. */
static void enqueue_unbound_claims(pvb_t *b, const char *cls)
{
    json_t **claims = NULL;
    size_t n = k1s_informer_list(b->pvcs, &claims);
    for (size_t i = 0; i < n; i++) {
        if (*k1s_ctrl_str(spec(claims[i]), "volumeName") && ann(claims[i], ANN_BIND_COMPLETED))
            continue;
        if (cls && strcmp(class_of(claims[i]), cls))
            continue;
        enqueue_claim(b, claims[i]);
    }
    free(claims);
}

/* ---- informer handlers ---- */

static void pv_changed(pvb_t *b, const json_t *pv)
{
    enqueue_volume_name(b, k1s_ctrl_str(meta(pv), "name"));
    const json_t *r = claim_ref(pv);
    if (r)
        enqueue_claim_name(b, k1s_ctrl_str(r, "namespace"), k1s_ctrl_str(r, "name"));
    else if (!strcmp(phase(pv), "Available"))
        enqueue_unbound_claims(b, NULL); /* a free volume: claims waiting may fit now */
}

static void pv_add(json_t *obj, void *arg)
{
    pv_changed(arg, obj);
}

static void pv_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    pv_changed(arg, new_obj);
}

static void pv_delete(json_t *obj, void *arg)
{
    pvb_t *b = arg;
    const json_t *r = claim_ref(obj);
    if (r)
        enqueue_claim_name(b, k1s_ctrl_str(r, "namespace"), k1s_ctrl_str(r, "name"));
}

static void pvc_add(json_t *obj, void *arg)
{
    enqueue_claim(arg, obj);
}

static void pvc_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    enqueue_claim(arg, new_obj);
}

static void pvc_delete(json_t *obj, void *arg)
{
    pvb_t *b = arg;
    /* its volume is released: the one it names, and any pointing at it (a binding or a
     * provisioning cut short) */
    const char *vol = k1s_ctrl_str(spec(obj), "volumeName");
    if (*vol)
        enqueue_volume_name(b, vol);
    json_t **vols = NULL;
    size_t n = k1s_informer_list(b->pvs, &vols);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = claim_ref(vols[i]);
        if (r && !strcmp(k1s_ctrl_str(r, "uid"), k1s_ctrl_str(meta(obj), "uid")))
            enqueue_volume_name(b, k1s_ctrl_str(meta(vols[i]), "name"));
    }
    free(vols);
}

static void class_add(json_t *obj, void *arg)
{
    enqueue_unbound_claims(arg, k1s_ctrl_str(meta(obj), "name"));
}

static void class_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    enqueue_unbound_claims(arg, k1s_ctrl_str(meta(new_obj), "name"));
}

/* Whether pod names the claim in a volume, or has an ephemeral volume whose claim it is. */
static bool pod_refs_claim(const json_t *pod, const char *claim)
{
    const char *pod_name = k1s_ctrl_str(meta(pod), "name");
    size_t plen = strlen(pod_name);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec(pod), "volumes"), i, v)
    {
        const json_t *src = json_object_get(v, "persistentVolumeClaim");
        if (src && !strcmp(k1s_ctrl_str(src, "claimName"), claim))
            return true;
        if (json_object_get(v, "ephemeral") && !strncmp(claim, pod_name, plen) &&
            claim[plen] == '-' && !strcmp(claim + plen + 1, k1s_ctrl_str(v, "name")))
            return true;
    }
    return false;
}

/* A pod that uses claims: a claim waiting for its first consumer reports the pod, or follows
 * it to its node. */
static void pod_changed(pvb_t *b, const json_t *pod)
{
    const char *ns = k1s_ctrl_str(meta(pod), "namespace");
    const char *pod_name = k1s_ctrl_str(meta(pod), "name");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec(pod), "volumes"), i, v)
    {
        const char *c = k1s_ctrl_str(json_object_get(v, "persistentVolumeClaim"), "claimName");
        char *eph = NULL;
        if (!*c && json_object_get(v, "ephemeral"))
            c = eph = k1s_xasprintf("%s-%s", pod_name, k1s_ctrl_str(v, "name"));
        json_t *claim = *c ? k1s_informer_get(b->pvcs, ns, c) : NULL;
        if (claim && !*k1s_ctrl_str(spec(claim), "volumeName"))
            enqueue_claim(b, claim);
        free(eph);
    }
}

static void pod_add(json_t *obj, void *arg)
{
    pod_changed(arg, obj);
}

static void pod_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    /* a pod's volumes do not change; what matters is its scheduling */
    if (strcmp(k1s_ctrl_str(spec(old_obj), "nodeName"), k1s_ctrl_str(spec(new_obj), "nodeName")))
        pod_changed(arg, new_obj);
}

/* ---- writes ---- */

static void written(const k1s_client_result_t *res, void *arg)
{
    write_ctx_t *w = arg;
    pvb_t *b = w->b;
    if (res->status >= 200 && res->status < 300) {
        k1s_workqueue_forget(b->queue, w->key);
    } else {
        k1s_debug("persistentvolume-binder: %s: write failed: %d %s", w->key, res->status,
                  res->message);
        if (res->status != 404)
            k1s_workqueue_add_rate_limited(b->queue, w->key);
    }
    k1s_workqueue_done(b->queue, w->key);
    if (w->prev)
        w->prev->next = w->next;
    else
        b->writes = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w->key);
    free(w);
}

static write_ctx_t *new_write(pvb_t *b, const char *key)
{
    write_ctx_t *w = k1s_xcalloc(1, sizeof(*w));
    w->b = b;
    w->key = k1s_xstrdup(key);
    w->next = b->writes;
    if (b->writes)
        b->writes->prev = w;
    b->writes = w;
    return w;
}

/* PUT of obj (taken) as the key's write; the key is done when it is answered. */
static void put(pvb_t *b, const char *key, const k1s_gvr_t *res, json_t *obj, bool status)
{
    const char *ns = k1s_ctrl_str(meta(obj), "namespace");
    write_ctx_t *w = new_write(b, key);
    if (status)
        k1s_client_update_status(b->ctx->client, res, *ns ? ns : NULL, obj, written, w);
    else
        k1s_client_update(b->ctx->client, res, *ns ? ns : NULL, obj, written, w);
    json_decref(obj);
}

static void delete_volume(pvb_t *b, const char *key, const json_t *pv)
{
    const json_t *md = meta(pv);
    k1s_delete_opts_t o = {.precondition_uid = k1s_ctrl_str(md, "uid"), .grace_period_s = -1};
    write_ctx_t *w = new_write(b, key);
    k1s_client_delete(b->ctx->client, &pvs_gvr, NULL, k1s_ctrl_str(md, "name"), &o, written, w);
}

static void set_annotation(json_t *obj, const char *k, const char *v)
{
    json_t *md = json_object_get(obj, "metadata");
    json_t *a = json_object_get(md, "annotations");
    if (!json_is_object(a)) {
        a = json_object();
        json_object_set_new(md, "annotations", a);
    }
    json_object_set_new(a, k, json_string(v));
}

/*
 * Sets a volume's phase (and message) if it differs; returns true if a
 * write was started.
 */
static bool set_volume_phase(pvb_t *b, const char *key, const json_t *pv, const char *ph,
                             const char *message)
{
    const json_t *st = json_object_get(pv, "status");
    if (!strcmp(phase(pv), ph) && !strcmp(k1s_ctrl_str(st, "message"), message ? message : ""))
        return false;
    json_t *c = json_deep_copy(pv);
    json_t *s = json_object_get(c, "status");
    if (!json_is_object(s)) {
        s = json_object();
        json_object_set_new(c, "status", s);
    }
    if (strcmp(phase(pv), ph)) {
        char now[32];
        k1s_time_rfc3339(now);
        json_object_set_new(s, "lastPhaseTransitionTime", json_string(now));
    }
    json_object_set_new(s, "phase", json_string(ph));
    if (message && *message)
        json_object_set_new(s, "message", json_string(message));
    else
        json_object_del(s, "message");
    json_object_del(s, "reason");
    put(b, key, &pvs_gvr, c, true);
    return true;
}

/* Sets a claim's phase; for Bound also capacity and access modes from pv. Returns true if a write
 * was started. */
static bool set_claim_phase(pvb_t *b, const char *key, const json_t *claim, const char *ph,
                            const json_t *pv)
{
    json_t *st = json_pack("{s:s}", "phase", ph);
    const json_t *old = json_object_get(claim, "status");
    if (pv) {
        const json_t *modes = json_object_get(spec(pv), "accessModes");
        const json_t *cap = json_object_get(spec(pv), "capacity");
        if (modes)
            json_object_set(st, "accessModes", (json_t *)modes);
        if (cap)
            json_object_set(st, "capacity", (json_t *)cap);
    }
    bool same = !strcmp(phase(claim), ph);
    if (pv)
        same =
            same &&
            json_equal(json_object_get(st, "accessModes"), json_object_get(old, "accessModes")) &&
            json_equal(json_object_get(st, "capacity"), json_object_get(old, "capacity"));
    if (same) {
        json_decref(st);
        return false;
    }
    json_t *c = json_deep_copy(claim);
    json_t *s = json_object_get(c, "status");
    if (!json_is_object(s)) {
        s = json_object();
        json_object_set_new(c, "status", s);
    }
    json_object_update(s, st);
    if (!pv) {
        json_object_del(s, "accessModes");
        json_object_del(s, "capacity");
    }
    json_decref(st);
    put(b, key, &pvcs_gvr, c, true);
    return true;
}

/*
 * One step of binding pv and claim (upstream's bind()): the first write
 * still missing is started; returns false when both are fully bound.
 */
static bool bind_step(pvb_t *b, const char *key, const json_t *pv, const json_t *claim)
{
    const json_t *cm = meta(claim);
    const json_t *r = claim_ref(pv);
    /* 1. the volume points at the claim */
    if (!r || strcmp(k1s_ctrl_str(r, "uid"), k1s_ctrl_str(cm, "uid")) ||
        strcmp(k1s_ctrl_str(r, "name"), k1s_ctrl_str(cm, "name")) ||
        strcmp(k1s_ctrl_str(r, "namespace"), k1s_ctrl_str(cm, "namespace"))) {
        bool by_controller = !bound_to_claim(pv, claim);
        json_t *c = json_deep_copy(pv);
        json_object_set_new(json_object_get(c, "spec"), "claimRef",
                            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kind", "PersistentVolumeClaim",
                                      "namespace", k1s_ctrl_str(cm, "namespace"), "name",
                                      k1s_ctrl_str(cm, "name"), "uid", k1s_ctrl_str(cm, "uid"),
                                      "apiVersion", "v1", "resourceVersion",
                                      k1s_ctrl_str(cm, "resourceVersion")));
        if (by_controller && !ann(pv, ANN_BOUND_BY_CONTROLLER))
            set_annotation(c, ANN_BOUND_BY_CONTROLLER, "yes");
        k1s_debug("persistentvolume-binder: binding volume %s to claim %s/%s",
                  k1s_ctrl_str(meta(pv), "name"), k1s_ctrl_str(cm, "namespace"),
                  k1s_ctrl_str(cm, "name"));
        put(b, key, &pvs_gvr, c, false);
        return true;
    }
    /* 2. the volume is Bound */
    if (set_volume_phase(b, key, pv, "Bound", NULL))
        return true;
    /* 3. the claim points at the volume */
    const char *pvname = k1s_ctrl_str(meta(pv), "name");
    bool set_name = strcmp(k1s_ctrl_str(spec(claim), "volumeName"), pvname) != 0;
    if (set_name || !ann(claim, ANN_BIND_COMPLETED)) {
        json_t *c = json_deep_copy(claim);
        json_object_set_new(json_object_get(c, "spec"), "volumeName", json_string(pvname));
        if (set_name && !ann(claim, ANN_BOUND_BY_CONTROLLER))
            set_annotation(c, ANN_BOUND_BY_CONTROLLER, "yes");
        set_annotation(c, ANN_BIND_COMPLETED, "yes");
        put(b, key, &pvcs_gvr, c, false);
        return true;
    }
    /* 4. the claim is Bound */
    return set_claim_phase(b, key, claim, "Bound", pv);
}

/* ---- claims ---- */

/* The claim's StorageClass from the cache, borrowed; NULL if none or absent. */
static json_t *claim_class(pvb_t *b, const json_t *claim)
{
    const char *cls = class_of(claim);
    return *cls ? k1s_informer_get(b->classes, NULL, cls) : NULL;
}

static bool wait_for_first_consumer(pvb_t *b, const json_t *claim)
{
    if (ann(claim, ANN_SELECTED_NODE))
        return false;
    json_t *sc = claim_class(b, claim);
    return sc && !strcmp(k1s_ctrl_str(sc, "volumeBindingMode"), "WaitForFirstConsumer");
}

/* The WaitForFirstConsumer Event, or WaitForPodScheduled naming the unscheduled pods using the
 * claim (upstream's emitEventForUnboundDelayBindingClaim). */
static void event_delayed(pvb_t *b, const json_t *claim)
{
    const char *ns = k1s_ctrl_str(meta(claim), "namespace");
    const char *name = k1s_ctrl_str(meta(claim), "name");
    json_t **pods = NULL;
    int n = k1s_informer_by_index(b->pods, "namespace", ns, &pods);
    char *names = NULL;
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (*k1s_ctrl_str(spec(pods[i]), "nodeName") || k1s_pod_is_terminated(pods[i]))
            continue;
        if (pod_refs_claim(pods[i], name)) {
            char *s = k1s_xasprintf("%s%s%s", names ? names : "", names ? "," : "",
                                    k1s_ctrl_str(meta(pods[i]), "name"));
            free(names);
            names = s;
            count++;
        }
    }
    free(pods);
    if (count)
        k1s_recorder_event(b->ctx->recorder, claim, "Normal", "WaitForPodScheduled",
                           "waiting for pod%s %s to be scheduled", count > 1 ? "s" : "", names);
    else
        k1s_recorder_event(b->ctx->recorder, claim, "Normal", "WaitForFirstConsumer",
                           "waiting for first consumer to be created before binding");
    free(names);
}

/*
 * The node of a scheduled, unfinished pod using the claim, borrowed; NULL
 * if none. The scheduler names the node in volume.kubernetes.io/
 * selected-node before it binds such a pod; a pod bound without that (by a
 * scheduler that does not bind volumes, or by a user's spec.nodeName) has
 * chosen the node all the same, and the claim follows it there.
 */
static const char *consumer_node(pvb_t *b, const json_t *claim)
{
    json_t **pods = NULL;
    int n =
        k1s_informer_by_index(b->pods, "namespace", k1s_ctrl_str(meta(claim), "namespace"), &pods);
    const char *node = NULL;
    for (int i = 0; i < n && !node; i++) {
        const char *nn = k1s_ctrl_str(spec(pods[i]), "nodeName");
        if (*nn && !k1s_pod_is_terminated(pods[i]) && !k1s_ctrl_deleting(pods[i]) &&
            pod_refs_claim(pods[i], k1s_ctrl_str(meta(claim), "name")))
            node = nn;
    }
    free(pods);
    return node;
}

/*
 * A claim that found no volume and has a class: name the class's
 * provisioner on the claim and wait for it (upstream's provisionClaim for
 * an external provisioner). Returns true if a write was started.
 */
static bool provision(pvb_t *b, const char *key, const json_t *claim)
{
    json_t *sc = claim_class(b, claim);
    if (!sc) {
        k1s_recorder_event(b->ctx->recorder, claim, "Warning", "ProvisioningFailed",
                           "storageclass.storage.k8s.io \"%s\" not found", class_of(claim));
        return set_claim_phase(b, key, claim, "Pending", NULL);
    }
    const char *prov = k1s_ctrl_str(sc, "provisioner");
    const char *a = ann(claim, ANN_STORAGE_PROVISIONER);
    const char *beta = ann(claim, ANN_BETA_STORAGE_PROVISIONER);
    /* before the annotation is written, so that it comes before the provisioner's Events */
    k1s_recorder_event(b->ctx->recorder, claim, "Normal", "ExternalProvisioning",
                       "Waiting for a volume to be created either by the external provisioner "
                       "'%s' or manually by the system administrator. If volume creation is "
                       "delayed, please verify that the provisioner is running and correctly "
                       "registered.",
                       prov);
    if (!a || strcmp(a, prov) || !beta || strcmp(beta, prov)) {
        json_t *c = json_deep_copy(claim);
        set_annotation(c, ANN_STORAGE_PROVISIONER, prov);
        set_annotation(c, ANN_BETA_STORAGE_PROVISIONER, prov);
        put(b, key, &pvcs_gvr, c, false);
        return true;
    }
    return set_claim_phase(b, key, claim, "Pending", NULL);
}

static bool sync_unbound_claim(pvb_t *b, const char *key, const json_t *claim)
{
    const char *vol = k1s_ctrl_str(spec(claim), "volumeName");
    if (!*vol) {
        bool delay = wait_for_first_consumer(b, claim);
        json_t **vols = NULL;
        size_t n = k1s_informer_list(b->pvs, &vols);
        const char *sel = ann(claim, ANN_SELECTED_NODE);
        json_t *node = NULL;
        if (sel) {
            node = k1s_informer_get(b->nodes, NULL, sel);
            /* a node not (yet) seen: known by its name and hostname only */
            node = node ? json_incref(node)
                        : json_pack("{s:{s:s,s:{s:s}}}", "metadata", "name", sel, "labels",
                                    "kubernetes.io/hostname", sel);
        }
        json_t *pv = best_match(vols, n, claim, delay, node);
        json_decref(node);
        free(vols);
        if (pv)
            return bind_step(b, key, pv, claim);
        if (delay) {
            const char *consumer = consumer_node(b, claim);
            if (consumer) {
                json_t *c = json_deep_copy(claim);
                set_annotation(c, ANN_SELECTED_NODE, consumer);
                k1s_debug("persistentvolume-binder: claim %s follows its pod to node %s", key + 2,
                          consumer);
                put(b, key, &pvcs_gvr, c, false);
                return true;
            }
            event_delayed(b, claim);
            return set_claim_phase(b, key, claim, "Pending", NULL);
        }
        if (*class_of(claim))
            return provision(b, key, claim);
        k1s_recorder_event(b->ctx->recorder, claim, "Normal", "FailedBinding",
                           "no persistent volumes available for this claim and no storage class "
                           "is set");
        return set_claim_phase(b, key, claim, "Pending", NULL);
    }
    /* pre-bound to a volume by the user */
    json_t *pv = k1s_informer_get(b->pvs, NULL, vol);
    if (!pv)
        return set_claim_phase(b, key, claim, "Pending", NULL);
    if (!claim_ref(pv)) {
        const char *why = mismatch(claim, pv);
        if (why) {
            k1s_recorder_event(b->ctx->recorder, claim, "Warning", "VolumeMismatch",
                               "Cannot bind to requested volume \"%s\": %s", vol, why);
            return set_claim_phase(b, key, claim, "Pending", NULL);
        }
        return bind_step(b, key, pv, claim);
    }
    if (bound_to_claim(pv, claim))
        return bind_step(b, key, pv, claim);
    k1s_recorder_event(b->ctx->recorder, claim, "Warning", "FailedBinding",
                       "volume \"%s\" already bound to a different claim.", vol);
    return set_claim_phase(b, key, claim, "Pending", NULL);
}

static bool sync_bound_claim(pvb_t *b, const char *key, const json_t *claim)
{
    const char *vol = k1s_ctrl_str(spec(claim), "volumeName");
    if (!*vol) {
        if (strcmp(phase(claim), "Lost"))
            k1s_recorder_event(b->ctx->recorder, claim, "Warning", "ClaimLost",
                               "Bound claim has lost reference to PersistentVolume. Data on the "
                               "volume is lost!");
        return set_claim_phase(b, key, claim, "Lost", NULL);
    }
    json_t *pv = k1s_informer_get(b->pvs, NULL, vol);
    if (!pv) {
        if (strcmp(phase(claim), "Lost"))
            k1s_recorder_event(b->ctx->recorder, claim, "Warning", "ClaimLost",
                               "Bound claim has lost its PersistentVolume. Data on the volume is "
                               "lost!");
        return set_claim_phase(b, key, claim, "Lost", NULL);
    }
    const json_t *r = claim_ref(pv);
    if (!r || !strcmp(k1s_ctrl_str(r, "uid"), k1s_ctrl_str(meta(claim), "uid")))
        return bind_step(b, key, pv, claim);
    if (strcmp(phase(claim), "Lost"))
        k1s_recorder_event(b->ctx->recorder, claim, "Warning", "ClaimMisbound",
                           "Two claims are bound to the same volume, this one is bound "
                           "incorrectly");
    return set_claim_phase(b, key, claim, "Lost", NULL);
}

/* ---- volumes ---- */

/* Removes the claimRef a controller set (or the uid of a user's pre-binding). */
static void unbind_volume(pvb_t *b, const char *key, const json_t *pv)
{
    json_t *c = json_deep_copy(pv);
    json_t *s = json_object_get(c, "spec");
    if (ann(pv, ANN_BOUND_BY_CONTROLLER)) {
        json_object_del(s, "claimRef");
        json_object_del(json_object_get(json_object_get(c, "metadata"), "annotations"),
                        ANN_BOUND_BY_CONTROLLER);
    } else {
        json_object_del(json_object_get(s, "claimRef"), "uid");
    }
    put(b, key, &pvs_gvr, c, false);
}

/* The reclaim policy of a Released volume (upstream's reclaimVolume). */
static bool reclaim(pvb_t *b, const char *key, const json_t *pv)
{
    const char *policy = k1s_ctrl_str(spec(pv), "persistentVolumeReclaimPolicy");
    const char *name = k1s_ctrl_str(meta(pv), "name");
    if (!strcmp(policy, "Retain") || !*policy)
        return false;
    if (!strcmp(policy, "Recycle")) {
        if (!strcmp(phase(pv), "Failed"))
            return false;
        k1s_recorder_event(b->ctx->recorder, pv, "Warning", "VolumeFailedRecycle",
                           "No recycler plugin found for the volume!");
        return set_volume_phase(b, key, pv, "Failed", "No recycler plugin found for the volume!");
    }
    if (strcmp(policy, "Delete"))
        return false;
    if (ann(pv, ANN_PROVISIONED_BY))
        return false; /* its provisioner deletes it */
    if (k1s_ctrl_deleting(pv))
        return false;
    const char *path = k1s_ctrl_str(json_object_get(spec(pv), "hostPath"), "path");
    if (k1s_str_has_prefix(path, "/tmp/") && path[5]) {
        /* the in-tree hostPath deleter's case; the directory lives on the node */
        k1s_debug("persistentvolume-binder: deleting released volume %s", name);
        delete_volume(b, key, pv);
        return true;
    }
    if (!strcmp(phase(pv), "Failed"))
        return false;
    char *msg = k1s_xasprintf(
        "error getting deleter volume plugin for volume \"%s\": no deletable volume plugin matched",
        name);
    k1s_recorder_event(b->ctx->recorder, pv, "Warning", "VolumeFailedDelete", "%s", msg);
    bool w = set_volume_phase(b, key, pv, "Failed", msg);
    free(msg);
    return w;
}

static bool sync_volume(pvb_t *b, const char *key, const json_t *pv)
{
    const json_t *r = claim_ref(pv);
    if (!r || !*k1s_ctrl_str(r, "uid"))
        return set_volume_phase(b, key, pv, "Available", NULL);
    json_t *claim =
        k1s_informer_get(b->pvcs, k1s_ctrl_str(r, "namespace"), k1s_ctrl_str(r, "name"));
    if (claim && strcmp(k1s_ctrl_str(meta(claim), "uid"), k1s_ctrl_str(r, "uid")))
        claim = NULL;
    if (!claim) {
        const char *ph = phase(pv);
        if (strcmp(ph, "Released") && strcmp(ph, "Failed"))
            return set_volume_phase(b, key, pv, "Released", NULL);
        return reclaim(b, key, pv);
    }
    const char *vol = k1s_ctrl_str(spec(claim), "volumeName");
    const char *name = k1s_ctrl_str(meta(pv), "name");
    if (!*vol) {
        enqueue_claim(b, claim); /* binding is the claim sync's business */
        return false;
    }
    if (!strcmp(vol, name))
        return set_volume_phase(b, key, pv, "Bound", NULL);
    /* the claim is bound to another volume */
    if (ann(pv, ANN_PROVISIONED_BY) &&
        !strcmp(k1s_ctrl_str(spec(pv), "persistentVolumeReclaimPolicy"), "Delete")) {
        const char *ph = phase(pv);
        if (strcmp(ph, "Released") && strcmp(ph, "Failed"))
            return set_volume_phase(b, key, pv, "Released", NULL);
        return reclaim(b, key, pv);
    }
    unbind_volume(b, key, pv);
    return true;
}

/* ---- the worker ---- */

static void pvb_sync(k1s_workqueue_t *q, const char *key, void *arg)
{
    pvb_t *b = arg;
    if (!k1s_informer_has_synced(b->pvs) || !k1s_informer_has_synced(b->pvcs) ||
        !k1s_informer_has_synced(b->classes) || !k1s_informer_has_synced(b->pods) ||
        !k1s_informer_has_synced(b->nodes)) {
        k1s_workqueue_add_after(q, key, 100);
        k1s_workqueue_done(q, key);
        return;
    }
    bool writing = false;
    if (key[0] == 'v') {
        json_t *pv = k1s_informer_get(b->pvs, NULL, key + 2);
        if (pv)
            writing = sync_volume(b, key, pv);
    } else {
        json_t *claim = k1s_ctrl_get_by_key(b->pvcs, key + 2);
        if (claim)
            writing = ann(claim, ANN_BIND_COMPLETED) ? sync_bound_claim(b, key, claim)
                                                     : sync_unbound_claim(b, key, claim);
    }
    if (!writing) {
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
    }
}

static void *start(k1s_ctrl_ctx_t *ctx)
{
    pvb_t *b = k1s_xcalloc(1, sizeof(*b));
    b->ctx = ctx;
    b->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, pvb_sync, b);
    b->pvs = k1s_informer_factory_get(ctx->factory, &pvs_gvr);
    b->pvcs = k1s_informer_factory_get(ctx->factory, &pvcs_gvr);
    b->classes = k1s_informer_factory_get(ctx->factory, &classes_gvr);
    b->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    b->nodes = k1s_informer_factory_get(ctx->factory, &nodes_gvr);
    k1s_ctrl_index_namespace(b->pods);
    k1s_informer_handlers_t hv = {pv_add, pv_update, pv_delete, b};
    k1s_informer_handlers_t hc = {pvc_add, pvc_update, pvc_delete, b};
    k1s_informer_handlers_t hs = {class_add, class_update, NULL, b};
    k1s_informer_handlers_t hp = {pod_add, pod_update, NULL, b};
    k1s_informer_add_handlers(b->pvs, &hv);
    k1s_informer_add_handlers(b->pvcs, &hc);
    k1s_informer_add_handlers(b->classes, &hs);
    k1s_informer_add_handlers(b->pods, &hp);
    return b;
}

static void stop(void *state)
{
    pvb_t *b = state;
    if (!b)
        return;
    while (b->writes) {
        write_ctx_t *w = b->writes;
        b->writes = w->next;
        free(w->key);
        free(w);
    }
    k1s_workqueue_free(b->queue);
    free(b);
}

const k1s_controller_def_t k1s_ctrl_pvbinder = {
    .name = "persistentvolume-binder",
    .service_account = "persistent-volume-binder",
    .component = "persistentvolume-controller",
    .start = start,
    .stop = stop,
};
