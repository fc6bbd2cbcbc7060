/*
 * The StatefulSet controller, as kube-controller-manager's: pods with
 * stable names <set>-<ordinal> (labels statefulset.kubernetes.io/pod-name,
 * apps.kubernetes.io/pod-index and controller-revision-hash, hostname and
 * the service's subdomain), PersistentVolumeClaims <template>-<set>-<ordinal>
 * from volumeClaimTemplates created before their pod and kept on scale
 * down, OrderedReady (one pod at a time, each after its predecessors are
 * Running and Ready, scale down from the highest ordinal) and Parallel pod
 * management, RollingUpdate with partition (highest ordinal first, waiting
 * for each to be Ready) and OnDelete, minReadySeconds, ControllerRevisions
 * for `kubectl rollout history|undo`, and the status kubectl shows.
 *
 * One sync looks at the informer caches and issues the writes the state
 * calls for; the key is done when they are answered. Expectations keep a
 * sync from acting again on pods it created or deleted before the informer
 * shows them.
 */
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "controllers/history.h"
#include "lib/log.h"
#include "lib/util.h"

#define POD_NAME_LABEL "statefulset.kubernetes.io/pod-name"
#define POD_INDEX_LABEL "apps.kubernetes.io/pod-index"
#define REVISION_LABEL "controller-revision-hash"

static const k1s_gvr_t sets_gvr = {"apps", "v1", "statefulsets", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};
static const k1s_gvr_t pvcs_gvr = {"", "v1", "persistentvolumeclaims", true};

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_history_owner_t o; /* the StatefulSets, their pods and revisions, queue, expectations */
    k1s_informer_t *pvcs;
} sts_t;

typedef k1s_ctrl_op_t op_t;

typedef enum { W_POD_CREATE, W_POD_DELETE, W_CLAIM, W_REVISION, W_OTHER } write_kind_t;

typedef struct write {
    k1s_ctrl_write_t hdr; /* first */
    write_kind_t kind;
    json_t *set;          /* a reference, for Events */
    char *pod;            /* pod name */
    char *claim;          /* claim name */
    json_t *pod_obj;      /* W_CLAIM: the pod to create once its claims exist */
    struct write *parent; /* W_CLAIM: the pod creation waiting for the claims */
    int claims_pending;
    bool claims_failed;
} write_t;

/* ---- small accessors ---- */

static const json_t *spec_of(const json_t *o)
{
    return json_object_get(o, "spec");
}

static int64_t set_replicas(const json_t *set)
{
    const json_t *r = json_object_get(spec_of(set), "replicas");
    return json_is_integer(r) ? json_integer_value(r) : 1;
}

static int64_t set_start_ordinal(const json_t *set)
{
    return json_integer_value(json_object_get(json_object_get(spec_of(set), "ordinals"), "start"));
}

static bool set_parallel(const json_t *set)
{
    return !strcmp(k1s_ctrl_str(spec_of(set), "podManagementPolicy"), "Parallel");
}

static bool set_on_delete(const json_t *set)
{
    return !strcmp(k1s_ctrl_str(json_object_get(spec_of(set), "updateStrategy"), "type"),
                   "OnDelete");
}

static int64_t set_partition(const json_t *set)
{
    const json_t *us = json_object_get(spec_of(set), "updateStrategy");
    return json_integer_value(json_object_get(json_object_get(us, "rollingUpdate"), "partition"));
}

static int set_min_ready(const json_t *set)
{
    return (int)json_integer_value(json_object_get(spec_of(set), "minReadySeconds"));
}

static const char *pod_revision(const json_t *pod)
{
    return k1s_ctrl_str(json_object_get(json_object_get(pod, "metadata"), "labels"),
                        REVISION_LABEL);
}

/* The ordinal of a pod named <set>-<n>, or -1. */
static int64_t pod_ordinal(const json_t *set, const json_t *pod)
{
    const char *sn = k1s_ctrl_name(set), *pn = k1s_ctrl_name(pod);
    size_t l = strlen(sn);
    if (strncmp(pn, sn, l) || pn[l] != '-' || !pn[l + 1])
        return -1;
    int64_t v = 0;
    for (const char *p = pn + l + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000000)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (pn[l + 1] == '0' && pn[l + 2])
        return -1;
    return v;
}

static bool pod_created(const json_t *pod)
{
    return *k1s_ctrl_str(json_object_get(pod, "status"), "phase") != 0;
}

static bool pod_running_ready(const json_t *pod)
{
    return !strcmp(k1s_ctrl_str(json_object_get(pod, "status"), "phase"), "Running") &&
           k1s_pod_is_ready(pod);
}

static bool pod_running_available(const json_t *pod, int min_ready, double now)
{
    return pod_running_ready(pod) && k1s_pod_is_available(pod, min_ready, now);
}

/* ---- writes ---- */

static void write_release(k1s_ctrl_write_t *hdr)
{
    write_t *w = (write_t *)hdr;
    json_decref(w->set);
    json_decref(w->pod_obj);
    free(w->pod);
    free(w->claim);
    free(w);
}

static write_t *write_new(op_t *op, write_kind_t kind, const json_t *set, const char *pod)
{
    write_t *w = k1s_xcalloc(1, sizeof(*w));
    w->kind = kind;
    w->set = json_incref((json_t *)set);
    w->pod = pod ? k1s_xstrdup(pod) : NULL;
    k1s_ctrl_write_start(op, &w->hdr, write_release);
    return w;
}

static void write_free(write_t *w)
{
    k1s_ctrl_write_done(&w->hdr);
}

static void pod_created_cb(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    sts_t *c = w->hdr.op->ctl;
    if (k1s_ctrl_ok(res)) {
        k1s_recorder_event(c->ctx->recorder, w->set, "Normal", "SuccessfulCreate",
                           "create Pod %s in StatefulSet %s successful", w->pod,
                           k1s_ctrl_name(w->set));
    } else {
        k1s_expect_observe_add(c->o.exp, w->hdr.op->key);
        if (res->status != 409) { /* AlreadyExists is sunk, as upstream */
            w->hdr.op->failed = true;
            k1s_recorder_event(c->ctx->recorder, w->set, "Warning", "FailedCreate",
                               "create Pod %s in StatefulSet %s failed error: %s", w->pod,
                               k1s_ctrl_name(w->set), res->message);
        }
    }
    write_free(w);
}

static void create_pod(write_t *w)
{
    sts_t *c = w->hdr.op->ctl;
    k1s_client_create(c->ctx->client, &pods_gvr, k1s_ctrl_namespace(w->set), w->pod_obj,
                      pod_created_cb, w);
}

static void claim_created_cb(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    sts_t *c = w->hdr.op->ctl;
    write_t *p = w->parent;
    if (k1s_ctrl_ok(res)) {
        k1s_recorder_event(c->ctx->recorder, w->set, "Normal", "SuccessfulCreate",
                           "create Claim %s Pod %s in StatefulSet %s success", w->claim, w->pod,
                           k1s_ctrl_name(w->set));
    } else if (res->status != 409) {
        if (p)
            p->claims_failed = true;
        w->hdr.op->failed = true;
        k1s_recorder_event(c->ctx->recorder, w->set, "Warning", "FailedCreate",
                           "create Claim %s for Pod %s in StatefulSet %s failed error: %s",
                           w->claim, w->pod, k1s_ctrl_name(w->set), res->message);
    }
    if (p && --p->claims_pending == 0) {
        if (p->claims_failed) {
            k1s_expect_observe_add(c->o.exp, p->hdr.op->key);
            k1s_recorder_event(c->ctx->recorder, p->set, "Warning", "FailedCreate",
                               "create Pod %s in StatefulSet %s failed error: failed to create "
                               "its PersistentVolumeClaims",
                               p->pod, k1s_ctrl_name(p->set));
            write_free(p);
        } else {
            create_pod(p);
        }
    }
    write_free(w);
}

static void pod_deleted_cb(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    sts_t *c = w->hdr.op->ctl;
    if (k1s_ctrl_ok(res)) {
        k1s_recorder_event(c->ctx->recorder, w->set, "Normal", "SuccessfulDelete",
                           "delete Pod %s in StatefulSet %s successful", w->pod,
                           k1s_ctrl_name(w->set));
    } else {
        k1s_expect_observe_del(c->o.exp, w->hdr.op->key);
        if (res->status != 404) {
            w->hdr.op->failed = true;
            k1s_recorder_event(c->ctx->recorder, w->set, "Warning", "FailedDelete",
                               "delete Pod %s in StatefulSet %s failed error: %s", w->pod,
                               k1s_ctrl_name(w->set), res->message);
        }
    }
    write_free(w);
}

static void other_cb(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    if (!k1s_ctrl_ok(res)) {
        k1s_debug("statefulset %s: write failed: %d %s", w->hdr.op->key, res->status, res->message);
        if (res->status != 404)
            w->hdr.op->failed = true;
    }
    write_free(w);
}

/* ---- building pods and claims ---- */

static char *claim_name(const json_t *tmpl, const json_t *set, int64_t ord)
{
    return k1s_xasprintf("%s-%s-%lld", k1s_ctrl_name(tmpl), k1s_ctrl_name(set), (long long)ord);
}

/* The pod for ordinal ord from template tmpl at revision rev. */
static json_t *new_pod(const json_t *set, const json_t *tmpl, const char *rev, int64_t ord)
{
    char *name = k1s_xasprintf("%s-%lld", k1s_ctrl_name(set), (long long)ord);
    json_t *pod = k1s_ctrl_pod_from_template(tmpl, set, NULL, name);
    json_t *md = json_object_get(pod, "metadata");
    json_t *labels = json_object_get(md, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(md, "labels", labels);
    }
    char idx[24];
    snprintf(idx, sizeof(idx), "%lld", (long long)ord);
    json_object_set_new(labels, POD_NAME_LABEL, json_string(name));
    json_object_set_new(labels, POD_INDEX_LABEL, json_string(idx));
    json_object_set_new(labels, REVISION_LABEL, json_string(rev));
    json_t *spec = json_object_get(pod, "spec");
    json_object_set_new(spec, "hostname", json_string(name));
    const char *svc = k1s_ctrl_str(spec_of(set), "serviceName");
    if (*svc)
        json_object_set_new(spec, "subdomain", json_string(svc));
    /* the claims replace same-named volumes */
    const json_t *vcts = json_object_get(spec_of(set), "volumeClaimTemplates");
    if (json_array_size(vcts)) {
        json_t *vols = json_object_get(spec, "volumes");
        if (!json_is_array(vols)) {
            vols = json_array();
            json_object_set_new(spec, "volumes", vols);
        }
        size_t i;
        const json_t *t;
        json_array_foreach(vcts, i, t)
        {
            for (size_t j = 0; j < json_array_size(vols);) {
                if (!strcmp(k1s_ctrl_name(t), k1s_ctrl_str(json_array_get(vols, j), "name")))
                    json_array_remove(vols, j);
                else
                    j++;
            }
            char *cn = claim_name(t, set, ord);
            json_array_append_new(vols, json_pack("{s:s,s:{s:s}}", "name", k1s_ctrl_name(t),
                                                  "persistentVolumeClaim", "claimName", cn));
            free(cn);
        }
    }
    free(name);
    return pod;
}

/* A plain ownerReference to owner, as upstream's setOwnerRef (not a controller ref). */
static json_t *owner_ref(const json_t *owner)
{
    const json_t *md = json_object_get(owner, "metadata");
    return json_pack("{s:s,s:s,s:s,s:s}", "apiVersion", k1s_ctrl_str(owner, "apiVersion"), "kind",
                     k1s_ctrl_str(owner, "kind"), "name", k1s_ctrl_str(md, "name"), "uid",
                     k1s_ctrl_str(md, "uid"));
}

/* Adds or removes (want) the reference to owner in refs; returns whether refs changed. */
static bool set_owner_ref(json_t *refs, const json_t *owner, bool want)
{
    const char *uid = k1s_ctrl_str(json_object_get(owner, "metadata"), "uid");
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r)
    {
        if (!strcmp(k1s_ctrl_str(r, "uid"), uid)) {
            if (want)
                return false;
            json_array_remove(refs, i);
            return true;
        }
    }
    if (!want)
        return false;
    json_array_append_new(refs, owner_ref(owner));
    return true;
}

static json_t *new_claim(const json_t *set, const json_t *tmpl, const char *name)
{
    const json_t *tl = json_object_get(json_object_get(tmpl, "metadata"), "labels");
    json_t *labels = json_is_object(tl) ? json_deep_copy(tl) : json_object();
    const json_t *ml = json_object_get(json_object_get(spec_of(set), "selector"), "matchLabels");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ml, k, v)
    {
        json_object_set(labels, k, v);
    }
    json_t *md = json_pack("{s:s,s:s,s:o}", "name", name, "namespace", k1s_ctrl_namespace(set),
                           "labels", labels);
    const json_t *ta = json_object_get(json_object_get(tmpl, "metadata"), "annotations");
    if (json_is_object(ta))
        json_object_set_new(md, "annotations", json_deep_copy(ta));
    /* persistentVolumeClaimRetentionPolicy whenDeleted: Delete - the set owns its claims */
    const json_t *rp = json_object_get(spec_of(set), "persistentVolumeClaimRetentionPolicy");
    if (!strcmp(k1s_ctrl_str(rp, "whenDeleted"), "Delete"))
        json_object_set_new(md, "ownerReferences", json_pack("[o]", owner_ref(set)));
    const json_t *spec = json_object_get(tmpl, "spec");
    return json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "PersistentVolumeClaim",
                     "metadata", md, "spec", spec ? json_deep_copy(spec) : json_object());
}

/* Creates the pod for ordinal ord, after the claims it needs that do not exist yet. */
static void start_create(sts_t *c, op_t *op, const json_t *set, const json_t *tmpl, const char *rev,
                         int64_t ord)
{
    json_t *pod = new_pod(set, tmpl, rev, ord);
    write_t *pw = write_new(op, W_POD_CREATE, set, k1s_ctrl_name(pod));
    pw->pod_obj = pod;
    const json_t *vcts = json_object_get(spec_of(set), "volumeClaimTemplates");
    size_t i;
    const json_t *t;
    json_t **missing = k1s_xmalloc((json_array_size(vcts) + 1) * sizeof(*missing));
    size_t nm = 0;
    json_array_foreach(vcts, i, t)
    {
        char *cn = claim_name(t, set, ord);
        if (!k1s_informer_get(c->pvcs, k1s_ctrl_namespace(set), cn))
            missing[nm++] = new_claim(set, t, cn);
        free(cn);
    }
    if (!nm) {
        create_pod(pw);
    } else {
        pw->claims_pending = (int)nm;
        for (size_t j = 0; j < nm; j++) {
            write_t *cw = write_new(op, W_CLAIM, set, k1s_ctrl_name(pod));
            cw->claim = k1s_xstrdup(k1s_ctrl_name(missing[j]));
            cw->parent = pw;
            k1s_client_create(c->ctx->client, &pvcs_gvr, k1s_ctrl_namespace(set), missing[j],
                              claim_created_cb, cw);
            json_decref(missing[j]);
        }
    }
    free(missing);
}

/* A Pending pod whose claims went missing gets them again (upstream's
 * createMissingPersistentVolumeClaims). */
static void create_missing_claims(sts_t *c, op_t *op, const json_t *set, const json_t *pod,
                                  int64_t ord)
{
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(spec_of(set), "volumeClaimTemplates"), i, t)
    {
        char *cn = claim_name(t, set, ord);
        if (!k1s_informer_get(c->pvcs, k1s_ctrl_namespace(set), cn)) {
            json_t *claim = new_claim(set, t, cn);
            write_t *w = write_new(op, W_CLAIM, set, k1s_ctrl_name(pod));
            w->claim = k1s_xstrdup(cn);
            k1s_client_create(c->ctx->client, &pvcs_gvr, k1s_ctrl_namespace(set), claim,
                              claim_created_cb, w);
            json_decref(claim);
        }
        free(cn);
    }
}

static void start_delete(sts_t *c, op_t *op, const json_t *set, const json_t *pod)
{
    write_t *w = write_new(op, W_POD_DELETE, set, k1s_ctrl_name(pod));
    k1s_delete_opts_t opts = {.precondition_uid =
                                  k1s_ctrl_str(json_object_get(pod, "metadata"), "uid"),
                              .grace_period_s = -1};
    k1s_client_delete(c->ctx->client, &pods_gvr, k1s_ctrl_namespace(set), k1s_ctrl_name(pod), &opts,
                      pod_deleted_cb, w);
}

/*
 * The ownerReferences of the pod's claims as persistentVolumeClaimRetentionPolicy
 * wants them (upstream's updateClaimOwnerRefForSetAndPod): whenDeleted:
 * Delete makes the set an owner, whenScaled: Delete makes a condemned pod
 * the owner instead, so that the garbage collector removes the claims
 * with it.
 */
static void sync_claim_refs(sts_t *c, op_t *op, const json_t *set, const json_t *pod, int64_t ord,
                            bool condemned)
{
    const json_t *rp = json_object_get(spec_of(set), "persistentVolumeClaimRetentionPolicy");
    bool del_deleted = !strcmp(k1s_ctrl_str(rp, "whenDeleted"), "Delete");
    bool del_scaled = !strcmp(k1s_ctrl_str(rp, "whenScaled"), "Delete");
    bool want_set = del_deleted && !(del_scaled && condemned);
    bool want_pod = del_scaled && condemned;
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(spec_of(set), "volumeClaimTemplates"), i, t)
    {
        char *cn = claim_name(t, set, ord);
        json_t *claim = k1s_informer_get(c->pvcs, k1s_ctrl_namespace(set), cn);
        free(cn);
        if (!claim || k1s_ctrl_deleting(claim))
            continue;
        const json_t *old = json_object_get(json_object_get(claim, "metadata"), "ownerReferences");
        json_t *refs = json_is_array(old) ? json_deep_copy(old) : json_array();
        bool changed = set_owner_ref(refs, set, want_set);
        changed |= set_owner_ref(refs, pod, want_pod);
        if (changed) {
            json_t *copy = json_deep_copy(claim);
            json_t *md = json_object_get(copy, "metadata");
            if (json_array_size(refs))
                json_object_set(md, "ownerReferences", refs);
            else
                json_object_del(md, "ownerReferences");
            write_t *w = write_new(op, W_OTHER, set, k1s_ctrl_name(pod));
            k1s_client_update(c->ctx->client, &pvcs_gvr, k1s_ctrl_namespace(set), copy, other_cb,
                              w);
            json_decref(copy);
        }
        json_decref(refs);
    }
}

/* A pod missing its identity labels gets them back (as upstream's UpdateStatefulPod). */
static void fix_identity(sts_t *c, op_t *op, const json_t *set, const json_t *pod, int64_t ord)
{
    const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
    char idx[24];
    snprintf(idx, sizeof(idx), "%lld", (long long)ord);
    if (!strcmp(k1s_ctrl_str(labels, POD_NAME_LABEL), k1s_ctrl_name(pod)) &&
        !strcmp(k1s_ctrl_str(labels, POD_INDEX_LABEL), idx))
        return;
    json_t *patch = json_pack("{s:{s:{s:s,s:s}}}", "metadata", "labels", POD_NAME_LABEL,
                              k1s_ctrl_name(pod), POD_INDEX_LABEL, idx);
    char *body = json_dumps(patch, JSON_COMPACT);
    json_decref(patch);
    write_t *w = write_new(op, W_OTHER, set, k1s_ctrl_name(pod));
    k1s_client_patch(c->ctx->client, &pods_gvr, k1s_ctrl_namespace(set), k1s_ctrl_name(pod), NULL,
                     K1S_PATCH_MERGE, body, false, other_cb, w);
    free(body);
}

typedef struct {
    sts_t *c;
    op_t *op;
    const json_t *owner;
} claim_arg_t;

static void claim_start(const json_t *pod, char *body, void *arg)
{
    claim_arg_t *a = arg;
    const char *name = k1s_ctrl_str(json_object_get(pod, "metadata"), "name");
    write_t *w = write_new(a->op, W_OTHER, a->owner, name);
    k1s_client_patch(a->c->ctx->client, &pods_gvr, k1s_ctrl_namespace(a->owner), name, NULL,
                     K1S_PATCH_STRATEGIC, body, false, other_cb, w);
    free(body);
}

static bool is_member(const json_t *set, const json_t *pod)
{
    return pod_ordinal(set, pod) >= 0;
}

/*
 * Adopts the orphans the set selects (pods named as its members, without a
 * controller) and releases the pods it
 * controls that its selector no longer selects, as upstream's
 * ControllerRefManager (k1s_ctrl_claim_patch). Returns how many patches were
 * started.
 */
static int claim_pods(sts_t *c, op_t *op, const json_t *owner)
{
    claim_arg_t a = {c, op, owner};
    return k1s_ctrl_claim_pods(c->o.pods, owner, NULL, is_member, claim_start, &a);
}

/* ---- the sync ---- */

/* Revisions kept whatever the limit: the current and update ones, and those of pods. */
typedef struct {
    const char *cur, *upd;
    json_t *const *pods;
    int npods;
} live_arg_t;

static bool revision_live(const json_t *rev, void *arg)
{
    const live_arg_t *a = arg;
    const char *name = k1s_ctrl_name(rev);
    if (!strcmp(name, a->cur) || !strcmp(name, a->upd))
        return true;
    for (int i = 0; i < a->npods; i++)
        if (!strcmp(pod_revision(a->pods[i]), name))
            return true;
    return false;
}

static int by_ordinal_desc(const void *a, const void *b)
{
    const json_t *const *pa = a, *const *pb = b;
    const char *la =
        k1s_ctrl_str(json_object_get(json_object_get(*pa, "metadata"), "labels"), POD_INDEX_LABEL);
    const char *lb =
        k1s_ctrl_str(json_object_get(json_object_get(*pb, "metadata"), "labels"), POD_INDEX_LABEL);
    long long x = atoll(la), y = atoll(lb);
    return x < y ? 1 : x > y ? -1 : strcmp(k1s_ctrl_name(*pb), k1s_ctrl_name(*pa));
}

/*
 * The pod actions for set, given the pods in their slots (replicas of
 * them, NULL where missing) and the condemned ones (ordinals out of range,
 * highest first). Returns the delay in seconds after which a pod becomes
 * available (minReadySeconds), or 0.
 */
static double reconcile_pods(sts_t *c, op_t *op, const json_t *set, json_t **slots,
                             int64_t replicas, json_t **condemned, int ncond, const json_t *cur_rev,
                             const json_t *upd_rev)
{
    bool monotonic = !set_parallel(set);
    int min_ready = set_min_ready(set);
    double now = k1s_ctrl_now(), wait = 0;
    int64_t start = set_start_ordinal(set);
    int64_t partition = set_partition(set);
    bool on_delete = set_on_delete(set);
    json_t *cur_tmpl = k1s_history_template(cur_rev);
    json_t *upd_tmpl = k1s_history_template(upd_rev);
    int adds = 0, dels = 0;
    /* count first, so that expectations are set before any answer arrives */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            k1s_expect(c->o.exp, op->key, adds, dels);
        bool stop = false;
        for (int64_t i = 0; i < replicas && !stop; i++) {
            json_t *pod = slots[i];
            int64_t ord = start + i;
            if (pod && k1s_pod_is_terminated(pod) && !k1s_ctrl_deleting(pod)) {
                if (pass)
                    start_delete(c, op, set, pod);
                else
                    dels++;
                if (monotonic)
                    stop = true;
                continue;
            }
            if (!pod) {
                bool current = !on_delete && ord < start + partition;
                if (pass)
                    start_create(c, op, set, current ? cur_tmpl : upd_tmpl,
                                 k1s_ctrl_name(current ? cur_rev : upd_rev), ord);
                else
                    adds++;
                if (monotonic)
                    stop = true;
                continue;
            }
            if (pass && !k1s_ctrl_deleting(pod) &&
                !strcmp(k1s_ctrl_str(json_object_get(pod, "status"), "phase"), "Pending"))
                create_missing_claims(c, op, set, pod, ord);
            if (k1s_ctrl_deleting(pod) || !pod_running_ready(pod)) {
                if (monotonic)
                    stop = true;
                continue;
            }
            if (!pod_running_available(pod, min_ready, now)) {
                double left = (double)k1s_pod_ready_since(pod) + min_ready - now;
                if (left > 0 && (wait == 0 || left < wait))
                    wait = left;
                if (monotonic)
                    stop = true;
                continue;
            }
            if (pass) {
                fix_identity(c, op, set, pod, ord);
                sync_claim_refs(c, op, set, pod, ord, false);
            }
        }
        if (stop)
            continue;
        /* scale down from the highest ordinal; in OrderedReady, one at a time */
        json_t *first_unhealthy = NULL;
        for (int64_t i = 0; i < replicas && !first_unhealthy; i++)
            if (slots[i] && !pod_running_ready(slots[i]))
                first_unhealthy = slots[i];
        for (int i = ncond - 1; i >= 0 && !first_unhealthy; i--)
            if (!pod_running_ready(condemned[i]))
                first_unhealthy = condemned[i];
        for (int i = 0; i < ncond && !stop; i++) {
            json_t *pod = condemned[i];
            if (k1s_ctrl_deleting(pod)) {
                if (monotonic)
                    stop = true;
                continue;
            }
            if (monotonic && !pod_running_ready(pod) && pod != first_unhealthy) {
                stop = true;
                continue;
            }
            if (pass) {
                sync_claim_refs(c, op, set, pod, pod_ordinal(set, pod), true);
                start_delete(c, op, set, pod);
            } else {
                dels++;
            }
            if (monotonic)
                stop = true;
        }
        if (stop || on_delete)
            continue;
        /* rolling update: highest ordinal first, down to the partition, one at a time */
        for (int64_t i = replicas - 1; i >= 0 && !stop; i--) {
            json_t *pod = slots[i];
            if (start + i < start + partition)
                break;
            if (!pod)
                continue;
            if (strcmp(pod_revision(pod), k1s_ctrl_name(upd_rev)) && !k1s_ctrl_deleting(pod)) {
                if (pass)
                    start_delete(c, op, set, pod);
                else
                    dels++;
                stop = true;
                continue;
            }
            if (!pod_running_available(pod, min_ready, now))
                stop = true;
        }
    }
    json_decref(cur_tmpl);
    json_decref(upd_tmpl);
    return wait;
}

static void set_status_int(json_t *st, const char *k, int64_t v)
{
    json_object_set_new(st, k, json_integer(v));
}

/* Writes the status if it changed. */
static void update_status(sts_t *c, op_t *op, const json_t *set, json_t *const *pods, int npods,
                          const json_t *cur_rev, const json_t *upd_rev)
{
    int min_ready = set_min_ready(set);
    double now = k1s_ctrl_now();
    int64_t replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
    for (int i = 0; i < npods; i++) {
        const json_t *p = pods[i];
        if (!pod_created(p))
            continue;
        replicas++;
        if (pod_running_ready(p)) {
            ready++;
            if (pod_running_available(p, min_ready, now))
                available++;
        }
        if (k1s_ctrl_deleting(p))
            continue;
        if (!strcmp(pod_revision(p), k1s_ctrl_name(cur_rev)))
            current++;
        if (!strcmp(pod_revision(p), k1s_ctrl_name(upd_rev)))
            updated++;
    }
    const json_t *old = json_object_get(set, "status");
    json_t *st = json_is_object(old) ? json_deep_copy(old) : json_object();
    const char *cur_name = k1s_ctrl_name(cur_rev);
    /* a finished rolling update makes the update revision current */
    if (!set_on_delete(set) && updated == replicas && ready == replicas &&
        replicas == set_replicas(set)) {
        cur_name = k1s_ctrl_name(upd_rev);
        current = updated;
    }
    set_status_int(
        st, "observedGeneration",
        json_integer_value(json_object_get(json_object_get(set, "metadata"), "generation")));
    set_status_int(st, "replicas", replicas);
    set_status_int(st, "readyReplicas", ready);
    set_status_int(st, "currentReplicas", current);
    set_status_int(st, "updatedReplicas", updated);
    set_status_int(st, "availableReplicas", available);
    json_object_set_new(st, "currentRevision", json_string(cur_name));
    json_object_set_new(st, "updateRevision", json_string(k1s_ctrl_name(upd_rev)));
    set_status_int(st, "collisionCount", json_integer_value(json_object_get(st, "collisionCount")));
    if (json_equal(st, (json_t *)old)) {
        json_decref(st);
        return;
    }
    json_t *copy = json_deep_copy(set);
    json_object_set_new(copy, "status", st);
    write_t *w = write_new(op, W_OTHER, set, NULL);
    k1s_client_update_status(c->ctx->client, &sets_gvr, k1s_ctrl_namespace(set), copy, other_cb, w);
    json_decref(copy);
}

/* The revision of the current template, or NULL after starting the write that makes it. */
static json_t *ensure_revision(sts_t *c, op_t *op, const json_t *set, json_t **revs, int nrevs)
{
    write_t *w = write_new(op, W_REVISION, set, NULL);
    json_t *rev = k1s_history_ensure(c->ctx->client, c->o.revs, &sets_gvr, set, revs, nrevs,
                                     "controller.kubernetes.io/hash", other_cb, w);
    if (rev)
        write_free(w); /* no write needed */
    return rev;
}

static void sync_set(k1s_workqueue_t *q, const char *key, void *arg)
{
    sts_t *c = arg;
    json_t *set = k1s_ctrl_sync_object(q, key, k1s_informer_factory_synced(c->ctx->factory),
                                       c->o.owners, c->o.exp);
    if (!set)
        return;
    if (k1s_ctrl_deleting(set) || !k1s_expect_satisfied(c->o.exp, key)) {
        k1s_workqueue_done(q, key);
        return;
    }
    op_t *op = k1s_ctrl_op_new(&c->o.ops, c, key);
    json_t **revs = NULL;
    int nrevs = k1s_history_owned(c->o.revs, set, &revs);
    json_t *upd = ensure_revision(c, op, set, revs, nrevs < 0 ? 0 : nrevs);
    if (!upd) {
        free(revs);
        k1s_ctrl_op_unref(op);
        return;
    }
    if (claim_pods(c, op, set) > 0) {
        /* adopted or released pods come back through the informer */
        free(revs);
        k1s_ctrl_op_unref(op);
        return;
    }
    const char *cur_name = k1s_ctrl_str(json_object_get(set, "status"), "currentRevision");
    json_t *cur = k1s_history_find_name(revs, nrevs, cur_name);
    if (!cur)
        cur = upd;
    /* the pods: this set's, by ordinal */
    const char *uid = k1s_ctrl_str(json_object_get(set, "metadata"), "uid");
    json_t **owned = NULL;
    int n = k1s_informer_by_index(c->o.pods, "owner", uid, &owned);
    int64_t replicas = set_replicas(set), start = set_start_ordinal(set);
    json_t **slots = k1s_xcalloc((size_t)replicas + 1, sizeof(*slots));
    json_t **condemned = k1s_xmalloc(((size_t)(n > 0 ? n : 0) + 1) * sizeof(*condemned));
    json_t **mine = k1s_xmalloc(((size_t)(n > 0 ? n : 0) + 1) * sizeof(*mine));
    int ncond = 0, nmine = 0;
    for (int i = 0; i < n; i++) {
        const json_t *ref = k1s_ctrl_controller_ref(owned[i]);
        if (!ref || strcmp(k1s_ctrl_str(ref, "uid"), uid))
            continue;
        int64_t ord = pod_ordinal(set, owned[i]);
        if (ord < 0)
            continue;
        mine[nmine++] = owned[i];
        if (ord >= start && ord < start + replicas)
            slots[ord - start] = owned[i];
        else
            condemned[ncond++] = owned[i];
    }
    qsort(condemned, (size_t)ncond, sizeof(*condemned), by_ordinal_desc);
    double wait = reconcile_pods(c, op, set, slots, replicas, condemned, ncond, cur, upd);
    update_status(c, op, set, mine, nmine, cur, upd);
    live_arg_t la = {k1s_ctrl_name(cur), k1s_ctrl_name(upd), mine, nmine};
    const json_t *rhl = json_object_get(spec_of(set), "revisionHistoryLimit");
    k1s_history_truncate(c->ctx->client, revs, nrevs,
                         json_is_integer(rhl) ? json_integer_value(rhl) : 10, revision_live, &la);
    if (wait > 0)
        k1s_workqueue_add_after(q, key, (uint64_t)(wait * 1000) + 50);
    free(slots);
    free(condemned);
    free(mine);
    free(owned);
    free(revs);
    k1s_ctrl_op_unref(op);
}

/* ---- informer handlers ---- */

/* The key of the StatefulSet controlling obj, or NULL. */
/* A claim gone: the sets whose templates name it look again (a Pending pod may need it back). */
static void pvc_delete(json_t *obj, void *arg)
{
    sts_t *c = arg;
    const char *cn = k1s_ctrl_name(obj);
    json_t **sets = NULL;
    int n = k1s_informer_by_index(c->o.owners, "namespace", k1s_ctrl_namespace(obj), &sets);
    for (int i = 0; i < n; i++) {
        size_t j;
        const json_t *t;
        json_array_foreach(json_object_get(spec_of(sets[i]), "volumeClaimTemplates"), j, t)
        {
            char *prefix = k1s_xasprintf("%s-%s-", k1s_ctrl_name(t), k1s_ctrl_name(sets[i]));
            size_t l = strlen(prefix);
            bool match =
                !strncmp(cn, prefix, l) && cn[l] && strspn(cn + l, "0123456789") == strlen(cn + l);
            free(prefix);
            if (match) {
                k1s_ctrl_enqueue(c->o.queue, sets[i]);
                break;
            }
        }
    }
    free(sets);
}

static void *sts_start(k1s_ctrl_ctx_t *ctx)
{
    sts_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    k1s_history_owner_start(&c->o, ctx, &sets_gvr, "StatefulSet", sync_set, c);
    c->pvcs = k1s_informer_factory_get(ctx->factory, &pvcs_gvr);
    k1s_informer_handlers_t vh = {NULL, NULL, pvc_delete, c};
    k1s_informer_add_handlers(c->pvcs, &vh);
    return c;
}

static void sts_stop(void *state)
{
    sts_t *c = state;
    if (!c)
        return;
    k1s_history_owner_stop(&c->o);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_statefulset = {
    .name = "statefulset",
    .service_account = "statefulset-controller",
    .component = "statefulset-controller",
    .start = sts_start,
    .stop = sts_stop,
};
