/*
 * The ReplicaSet controller (kube-controller-manager's "replicaset",
 * pkg/controller/replicaset): keeps spec.replicas active pods for every
 * ReplicaSet.
 *
 * A sync claims pods (adopting orphans that match the selector by
 * patching an ownerReference, releasing owned pods that no longer match),
 * creates missing pods from the template in slow-start batches (1, 2, 4,
 * ...: a failing create stops the rest) or deletes the least valuable
 * surplus pods (k1s_pod_cmp_value), then writes status: replicas,
 * fullyLabeledReplicas, readyReplicas, availableReplicas,
 * observedGeneration and the ReplicaFailure condition. Expectations keep a
 * sync from acting again on a cache that has not yet seen its creations
 * and deletions. With minReadySeconds, a ReplicaSet whose pods are ready
 * but not yet available is synced again when the first of them becomes
 * available: no polling.
 */
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/conditions.h"
#include "lib/log.h"
#include "lib/util.h"

#define BURST_REPLICAS 500 /* upstream's burstReplicas */

static const k1s_gvr_t rs_gvr = {"apps", "v1", "replicasets", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *rss, *pods;
    k1s_workqueue_t *queue;
    k1s_expectations_t *exp;
    struct rs_sync *syncs; /* in flight, freed by stop() if their answers never come */
} rsc_t;

typedef struct {
    struct rs_sync *s;
    char *name;
} del_t;

/* One sync in flight: the writes it started, and what it learned from them. */
typedef struct rs_sync {
    rsc_t *c;
    struct rs_sync *prev, *next;
    del_t *dels; /* one per deletion */
    char *key;
    json_t *rs;          /* a reference to the ReplicaSet as the sync saw it */
    int pending;         /* writes not yet answered */
    int to_create;       /* creations not yet started (-1: status written) */
    k1s_slow_start_t ss; /* the creations' batches */
    char *err;           /* the first manage error (for ReplicaFailure), or NULL */
    const char *err_reason;
    bool retry; /* requeue with back-off */
} rs_sync_t;

static void sync_finish(rs_sync_t *s);

static int64_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *obj_uid(const json_t *o)
{
    return k1s_ctrl_str(json_object_get(o, "metadata"), "uid");
}

static const char *obj_name(const json_t *o)
{
    return k1s_ctrl_str(json_object_get(o, "metadata"), "name");
}

static const char *obj_ns(const json_t *o)
{
    return k1s_ctrl_str(json_object_get(o, "metadata"), "namespace");
}

/* spec.replicas, defaulting to 1. */
static int64_t rs_replicas(const json_t *rs)
{
    const json_t *r = json_object_get(json_object_get(rs, "spec"), "replicas");
    return r ? json_integer_value(r) : 1;
}

/* ---- event handlers ---- */

static void rs_add(json_t *obj, void *arg)
{
    rsc_t *c = arg;
    k1s_ctrl_enqueue(c->queue, obj);
}

static void rs_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    rsc_t *c = arg;
    k1s_ctrl_enqueue_new(old_obj, new_obj, c->queue);
}

static void rs_delete(json_t *obj, void *arg)
{
    rsc_t *c = arg;
    char *key = k1s_ctrl_key(obj);
    k1s_expect_forget(c->exp, key);
    k1s_workqueue_add(c->queue, key);
    free(key);
}

/* The ReplicaSet controlling pod (borrowed), or NULL. */
static json_t *owner_rs(rsc_t *c, const json_t *pod)
{
    return k1s_ctrl_resolve_owner(c->rss, pod, "ReplicaSet");
}

static void pod_deleted(rsc_t *c, const json_t *pod)
{
    json_t *rs = owner_rs(c, pod);
    if (!rs)
        return;
    char *key = k1s_ctrl_key(rs);
    k1s_expect_observe_del(c->exp, key);
    k1s_workqueue_add(c->queue, key);
    free(key);
}

static void pod_add(json_t *obj, void *arg)
{
    rsc_t *c = arg;
    if (k1s_ctrl_deleting(obj)) {
        /* seen for the first time while being deleted (after a relist) */
        pod_deleted(c, obj);
        return;
    }
    json_t *rs = owner_rs(c, obj);
    if (rs) {
        char *key = k1s_ctrl_key(rs);
        k1s_expect_observe_add(c->exp, key);
        k1s_workqueue_add(c->queue, key);
        free(key);
        return;
    }
    if (!k1s_ctrl_controller_ref(obj))
        k1s_ctrl_enqueue_selecting(c->rss, c->queue, obj); /* it may be adopted */
}

/* The Ready condition's status and transition time, for telling readiness changes. */
static const json_t *ready_cond(const json_t *pod)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
    {
        if (!strcmp(k1s_ctrl_str(c, "type"), "Ready"))
            return c;
    }
    return NULL;
}

/*
 * Whether a pod update can change what a ReplicaSet does or reports:
 * labels, owners, deletion, a terminal phase, readiness. Other status
 * changes (binding, IPs, container states) do not, and are many.
 */
static bool pod_change_matters(const json_t *a, const json_t *b)
{
    const json_t *ma = json_object_get(a, "metadata"), *mb = json_object_get(b, "metadata");
    static const char *const keys[] = {"labels", "ownerReferences", "deletionTimestamp"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(keys); i++)
        if (!json_equal(json_object_get(ma, keys[i]), json_object_get(mb, keys[i])) &&
            (json_object_get(ma, keys[i]) || json_object_get(mb, keys[i])))
            return true;
    if (k1s_pod_is_terminated(a) != k1s_pod_is_terminated(b))
        return true;
    const json_t *ra = ready_cond(a), *rb = ready_cond(b);
    return strcmp(k1s_ctrl_str(ra, "status"), k1s_ctrl_str(rb, "status")) ||
           strcmp(k1s_ctrl_str(ra, "lastTransitionTime"), k1s_ctrl_str(rb, "lastTransitionTime"));
}

static void pod_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    rsc_t *c = arg;
    if (!pod_change_matters(old_obj, new_obj))
        return;
    if (k1s_ctrl_deleting(new_obj) && !k1s_ctrl_deleting(old_obj)) {
        /* a graceful deletion started: count it now, the pod is no longer active */
        pod_deleted(c, new_obj);
        return;
    }
    k1s_ctrl_enqueue_owners_update(c->rss, c->queue, "ReplicaSet", old_obj, new_obj);
}

static void pod_delete(json_t *obj, void *arg)
{
    rsc_t *c = arg;
    /* a pod already counted when its graceful deletion started is not counted twice */
    if (k1s_ctrl_deleting(obj)) {
        json_t *rs = owner_rs(c, obj);
        if (rs)
            k1s_ctrl_enqueue(c->queue, rs);
        return;
    }
    pod_deleted(c, obj);
}

/* ---- writes ---- */

static void set_err(rs_sync_t *s, const char *reason, const char *fmt, const char *msg)
{
    if (!s->err) {
        s->err = k1s_xasprintf(fmt, msg);
        s->err_reason = reason;
    }
}

static void create_batch(rs_sync_t *s, int n);

static void created(const k1s_client_result_t *res, void *arg)
{
    rs_sync_t *s = arg;
    rsc_t *c = s->c;
    if (res->status == 201 || res->status == 200) {
        k1s_recorder_event(c->ctx->recorder, s->rs, "Normal", "SuccessfulCreate", "Created pod: %s",
                           obj_name(res->obj));
    } else {
        /* the pod will never be seen: stop expecting it */
        k1s_expect_observe_add(c->exp, s->key);
        s->retry = true;
        const char *msg = *res->message ? res->message : "request failed";
        k1s_debug("replicaset %s: creating a pod failed: %d %s", s->key, res->status, msg);
        if (!strcmp(res->reason, "Forbidden") && strstr(msg, "is being terminated")) {
            /* the namespace is going away: no event (as upstream) */
        } else {
            k1s_recorder_event(c->ctx->recorder, s->rs, "Warning", "FailedCreate",
                               "Error creating: %s", msg);
        }
        set_err(s, "FailedCreate", "%s", msg);
    }
    s->pending--;
    int skipped = 0;
    int n = k1s_slow_start_answered(&s->ss, res->status == 201 || res->status == 200, &skipped);
    /* after a failed batch the rest of the creations are skipped: not expected any more */
    for (; skipped > 0; skipped--)
        k1s_expect_observe_add(c->exp, s->key);
    s->to_create = s->ss.left;
    if (n > 0)
        create_batch(s, n);
    sync_finish(s);
}

/* Starts n creations (a slow-start batch). */
static void create_batch(rs_sync_t *s, int n)
{
    s->to_create = s->ss.left;
    char *prefix = k1s_xasprintf("%s-", obj_name(s->rs));
    json_t *tmpl = json_object_get(json_object_get(s->rs, "spec"), "template");
    for (int i = 0; i < n; i++) {
        json_t *pod = k1s_ctrl_pod_from_template(tmpl, s->rs, prefix, NULL);
        s->pending++;
        k1s_client_create(s->c->ctx->client, &pods_gvr, obj_ns(s->rs), pod, created, s);
        json_decref(pod);
    }
    free(prefix);
}

static void deleted(const k1s_client_result_t *res, void *arg)
{
    del_t *d = arg;
    rs_sync_t *s = d->s;
    rsc_t *c = s->c;
    if (res->status >= 200 && res->status < 300) {
        k1s_recorder_event(c->ctx->recorder, s->rs, "Normal", "SuccessfulDelete", "Deleted pod: %s",
                           d->name);
    } else {
        k1s_expect_observe_del(c->exp, s->key);
        if (res->status != 404) {
            const char *msg = *res->message ? res->message : "request failed";
            k1s_recorder_event(c->ctx->recorder, s->rs, "Warning", "FailedDelete",
                               "Error deleting: %s", msg);
            set_err(s, "FailedDelete", "%s", msg);
            s->retry = true;
        }
    }
    s->pending--;
    sync_finish(s);
}

static void patched(const k1s_client_result_t *res, void *arg)
{
    rs_sync_t *s = arg;
    if (res->status != 200 && res->status != 404) {
        k1s_debug("replicaset %s: adopting/releasing a pod failed: %d %s", s->key, res->status,
                  res->message);
        s->retry = true;
    }
    s->pending--;
    sync_finish(s);
}

static void status_written(const k1s_client_result_t *res, void *arg)
{
    rs_sync_t *s = arg;
    if (res->status != 200) {
        if (res->status != 404)
            s->retry = true;
        k1s_debug("replicaset %s: status update failed: %d %s", s->key, res->status, res->message);
    }
    s->pending--;
    s->to_create = -1; /* status written: finish for good */
    sync_finish(s);
}

/* ---- status ---- */

/* Whether every label of the template is on the pod. */
static bool fully_labeled(const json_t *tmpl_labels, const json_t *pod_labels)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)tmpl_labels, k, v)
    {
        if (!json_equal(v, json_object_get(pod_labels, k)))
            return false;
    }
    return true;
}

/*
 * Writes status from the pods the sync owns (active, after claiming);
 * returns the seconds until the next pod becomes available, or -1.
 */
static double write_status(rs_sync_t *s, json_t **owned, size_t n)
{
    const json_t *rs = s->rs;
    const json_t *spec = json_object_get(rs, "spec");
    int min_ready = (int)jint(spec, "minReadySeconds");
    const json_t *tl =
        json_object_get(json_object_get(json_object_get(spec, "template"), "metadata"), "labels");
    double now = k1s_ctrl_now(), next = -1;
    int64_t labeled = 0, ready = 0, avail = 0;
    for (size_t i = 0; i < n; i++) {
        if (fully_labeled(tl, json_object_get(json_object_get(owned[i], "metadata"), "labels")))
            labeled++;
        if (!k1s_pod_is_ready(owned[i]))
            continue;
        ready++;
        if (k1s_pod_is_available(owned[i], min_ready, now)) {
            avail++;
        } else {
            double at = (double)k1s_pod_ready_since(owned[i]) + min_ready - now;
            if (next < 0 || at < next)
                next = at;
        }
    }
    const json_t *old = json_object_get(rs, "status");
    json_t *st = json_object();
    json_object_set_new(st, "replicas", json_integer((json_int_t)n));
    if (labeled)
        json_object_set_new(st, "fullyLabeledReplicas", json_integer(labeled));
    if (ready)
        json_object_set_new(st, "readyReplicas", json_integer(ready));
    if (avail)
        json_object_set_new(st, "availableReplicas", json_integer(avail));
    int64_t gen = jint(json_object_get(rs, "metadata"), "generation");
    if (gen)
        json_object_set_new(st, "observedGeneration", json_integer(gen));
    json_t *conds = json_array();
    size_t i;
    json_t *cnd;
    json_array_foreach(json_object_get(old, "conditions"), i, cnd)
    {
        if (strcmp(k1s_ctrl_str(cnd, "type"), "ReplicaFailure") || s->err)
            json_array_append(conds, cnd);
    }
    if (s->err && !k1s_cond_get(old, "ReplicaFailure")) {
        char ts[32];
        k1s_time_rfc3339(ts);
        json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "ReplicaFailure",
                                               "status", "True", "lastTransitionTime", ts, "reason",
                                               s->err_reason, "message", s->err));
    }
    if (json_array_size(conds))
        json_object_set_new(st, "conditions", conds);
    else
        json_decref(conds);
    static const char *const fields[] = {"replicas", "fullyLabeledReplicas", "readyReplicas",
                                         "availableReplicas", "observedGeneration"};
    bool same = json_equal(json_object_get(old, "conditions"), json_object_get(st, "conditions")) ||
                (!json_array_size(json_object_get(old, "conditions")) &&
                 !json_object_get(st, "conditions"));
    for (size_t f = 0; same && f < K1S_ARRAY_SIZE(fields); f++)
        same = jint(old, fields[f]) == jint(st, fields[f]);
    if (same) {
        json_decref(st);
        return next;
    }
    json_t *copy = json_deep_copy(rs);
    json_object_set_new(copy, "status", st);
    s->pending++;
    k1s_client_update_status(s->c->ctx->client, &rs_gvr, obj_ns(rs), copy, status_written, s);
    json_decref(copy);
    return next;
}

/* ---- the sync ---- */

static void sync_free(rs_sync_t *s)
{
    K1S_LIST_DEL(s->c->syncs, s);
    for (del_t *d = s->dels; d && d->s; d++)
        free(d->name);
    free(s->dels);
    json_decref(s->rs);
    free(s->err);
    free(s->key);
    free(s);
}

/* Called after each answer: when nothing is pending, writes status (once), then finishes. */
static void sync_finish(rs_sync_t *s)
{
    if (s->pending > 0)
        return;
    rsc_t *c = s->c;
    if (s->to_create == 0) {
        /* the writes are done: status from the cache as it is now */
        s->to_create = -1;
        json_t **pods = NULL;
        int n = k1s_informer_by_index(c->pods, "owner", obj_uid(s->rs), &pods);
        json_t *sel = json_object_get(json_object_get(s->rs, "spec"), "selector");
        k1s_err_t err = {0};
        k1s_label_selector_t *ls = k1s_label_selector_from_json(sel, &err);
        size_t m = 0;
        for (int i = 0; i < n; i++) {
            const json_t *ref = k1s_ctrl_controller_ref(pods[i]);
            if (ref && !strcmp(k1s_ctrl_str(ref, "uid"), obj_uid(s->rs)) &&
                k1s_pod_is_active(pods[i]) && ls &&
                k1s_label_selector_matches(
                    ls, json_object_get(json_object_get(pods[i], "metadata"), "labels")))
                pods[m++] = pods[i];
        }
        k1s_label_selector_free(ls);
        double next = write_status(s, pods, m);
        free(pods);
        if (next >= 0)
            k1s_workqueue_add_after(c->queue, s->key, (uint64_t)(next * 1000) + 50);
        if (s->pending > 0)
            return;
    }
    if (s->retry)
        k1s_workqueue_add_rate_limited(c->queue, s->key);
    else
        k1s_workqueue_forget(c->queue, s->key);
    k1s_workqueue_done(c->queue, s->key);
    sync_free(s);
}

/* Sends body (a strategic-merge patch of pod, taken) and counts it as pending. */
static void send_patch(rs_sync_t *s, const json_t *pod, char *body)
{
    s->pending++;
    k1s_client_patch(s->c->ctx->client, &pods_gvr, obj_ns(pod), obj_name(pod), NULL,
                     K1S_PATCH_STRATEGIC, body, false, patched, s);
    free(body);
}

/* Adopts pod: adds the controller ref, guarded by the pod's uid. */
static void adopt(rs_sync_t *s, const json_t *pod)
{
    send_patch(s, pod, k1s_ctrl_adopt_patch(s->rs, pod, NULL));
}

/* Releases pod: removes the ownerReference to the ReplicaSet. */
static void release(rs_sync_t *s, const json_t *pod)
{
    send_patch(s, pod, k1s_ctrl_release_patch(s->rs, pod, NULL));
}

/* A pod with what ranks it for deletion beyond its own state. */
typedef struct {
    json_t *pod;
    int64_t cost; /* controller.kubernetes.io/pod-deletion-cost */
    int rank;     /* active related pods on its node */
} ranked_t;

static bool assigned(const json_t *pod)
{
    return *k1s_ctrl_str(json_object_get(pod, "spec"), "nodeName") != 0;
}

static int phase_rank(const json_t *pod)
{
    const char *ph = k1s_ctrl_str(json_object_get(pod, "status"), "phase");
    return !strcmp(ph, "Pending") ? 0 : !strcmp(ph, "Running") ? 2 : 1;
}

/*
 * ActivePodsWithRanks: unassigned, then Pending < Unknown < Running, not
 * ready, then lower pod-deletion-cost, then more related pods on the same
 * node (doubled up), then k1s_pod_cmp_value's ready time, restarts, age.
 */
static int cmp_ranked(const void *x, const void *y)
{
    const ranked_t *a = x, *b = y;
    if (assigned(a->pod) != assigned(b->pod))
        return assigned(a->pod) ? 1 : -1;
    if (phase_rank(a->pod) != phase_rank(b->pod))
        return phase_rank(a->pod) < phase_rank(b->pod) ? -1 : 1;
    if (k1s_pod_is_ready(a->pod) != k1s_pod_is_ready(b->pod))
        return k1s_pod_is_ready(a->pod) ? 1 : -1;
    if (a->cost != b->cost)
        return a->cost < b->cost ? -1 : 1;
    if (a->rank != b->rank)
        return a->rank > b->rank ? -1 : 1;
    return k1s_pod_cmp_value(a->pod, b->pod);
}

static int64_t deletion_cost(const json_t *pod)
{
    const char *v = json_string_value(
        json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"),
                        "controller.kubernetes.io/pod-deletion-cost"));
    return v ? strtoll(v, NULL, 10) : 0;
}

/*
 * Orders active[0..n) least valuable first, ranking pods by the active pods
 * on their node that belong to this ReplicaSet or to the others of its
 * controller (a Deployment's old and new ReplicaSets), as upstream's
 * getPodsToDelete does.
 */
static void order_for_deletion(rsc_t *c, const json_t *rs, json_t **active, size_t n)
{
    const json_t *ref = k1s_ctrl_controller_ref(rs);
    json_t **rss = NULL;
    int nrs = 0;
    if (ref)
        nrs = k1s_informer_by_index(c->rss, "namespace", obj_ns(rs), &rss);
    ranked_t *r = k1s_xcalloc(n + 1, sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        r[i].pod = active[i];
        r[i].cost = deletion_cost(active[i]);
    }
    k1s_strmap_t on_node = K1S_STRMAP_INIT; /* node name -> related active pods (as a pointer) */
    for (int k = -1; k < nrs; k++) {
        const json_t *other = k < 0 ? rs : rss[k];
        if (k >= 0) {
            const json_t *oref = k1s_ctrl_controller_ref(other);
            if (other == rs || !oref || strcmp(k1s_ctrl_str(oref, "uid"), k1s_ctrl_str(ref, "uid")))
                continue;
        }
        json_t **pods = NULL;
        int np = k1s_informer_by_index(c->pods, "owner", obj_uid(other), &pods);
        for (int j = 0; j < np; j++) {
            if (!k1s_pod_is_active(pods[j]))
                continue;
            const char *node = k1s_ctrl_str(json_object_get(pods[j], "spec"), "nodeName");
            uintptr_t cnt = (uintptr_t)k1s_strmap_get(&on_node, node);
            k1s_strmap_set(&on_node, node, (void *)(cnt + 1));
        }
        free(pods);
    }
    free(rss);
    for (size_t i = 0; i < n; i++)
        r[i].rank = (int)(uintptr_t)k1s_strmap_get(
            &on_node, k1s_ctrl_str(json_object_get(active[i], "spec"), "nodeName"));
    k1s_strmap_free(&on_node);
    qsort(r, n, sizeof(*r), cmp_ranked);
    for (size_t i = 0; i < n; i++)
        active[i] = r[i].pod;
    free(r);
}

static void sync_rs(k1s_workqueue_t *q, const char *key, void *arg)
{
    rsc_t *c = arg;
    if (!k1s_ctrl_synced(q, key, (k1s_informer_t *[]){c->rss, c->pods, NULL}))
        return;
    json_t *rs = k1s_ctrl_get_by_key(c->rss, key);
    if (!rs) {
        k1s_expect_forget(c->exp, key);
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
        return;
    }
    bool needs_sync = k1s_expect_satisfied(c->exp, key);
    rs_sync_t *s = k1s_xcalloc(1, sizeof(*s));
    s->c = c;
    s->key = k1s_xstrdup(key);
    s->rs = json_incref(rs);
    s->pending = 1; /* held until the writes below are started */
    K1S_LIST_ADD(c->syncs, s);
    const char *uid = obj_uid(rs);
    bool rs_deleting = k1s_ctrl_deleting(rs);
    k1s_err_t err = {0};
    k1s_label_selector_t *ls = k1s_label_selector_from_json(
        json_object_get(json_object_get(rs, "spec"), "selector"), &err);

    /* claim: owned pods that still match, and orphans that match */
    json_t **owned_idx = NULL, **orphans = NULL;
    int no = k1s_informer_by_index(c->pods, "owner", uid, &owned_idx);
    int nr = k1s_informer_by_index(c->pods, "orphans", obj_ns(rs), &orphans);
    json_t **active =
        k1s_xmalloc(((size_t)(no > 0 ? no : 0) + (size_t)(nr > 0 ? nr : 0) + 1) * sizeof(*active));
    size_t na = 0;
    for (int i = 0; i < no; i++) {
        json_t *p = owned_idx[i];
        const json_t *ref = k1s_ctrl_controller_ref(p);
        if (!ref || strcmp(k1s_ctrl_str(ref, "uid"), uid))
            continue;
        const json_t *labels = json_object_get(json_object_get(p, "metadata"), "labels");
        if (ls && k1s_label_selector_matches(ls, labels)) {
            if (k1s_pod_is_active(p))
                active[na++] = p;
        } else if (!k1s_ctrl_deleting(p)) {
            release(s, p);
        }
    }
    for (int i = 0; i < nr && !rs_deleting && ls; i++) {
        json_t *p = orphans[i];
        if (k1s_ctrl_deleting(p) ||
            !k1s_label_selector_matches(ls,
                                        json_object_get(json_object_get(p, "metadata"), "labels")))
            continue;
        adopt(s, p);
        if (k1s_pod_is_active(p))
            active[na++] = p;
    }
    free(owned_idx);
    free(orphans);
    k1s_label_selector_free(ls);

    /* manage replicas */
    if (needs_sync && !rs_deleting) {
        int64_t diff = (int64_t)na - rs_replicas(rs);
        if (diff < 0) {
            int n = (int)(-diff > BURST_REPLICAS ? BURST_REPLICAS : -diff);
            k1s_expect(c->exp, key, n, 0);
            k1s_debug("replicaset %s: too few replicas, need %lld, creating %d", key,
                      (long long)rs_replicas(rs), n);
            create_batch(s, k1s_slow_start_begin(&s->ss, n));
        } else if (diff > 0) {
            int n = (int)(diff > BURST_REPLICAS ? BURST_REPLICAS : diff);
            k1s_expect(c->exp, key, 0, n);
            k1s_debug("replicaset %s: too many replicas, need %lld, deleting %d", key,
                      (long long)rs_replicas(rs), n);
            if ((size_t)n < na)
                order_for_deletion(c, rs, active, na);
            s->dels = k1s_xcalloc((size_t)n + 1, sizeof(*s->dels));
            for (int i = 0; i < n; i++) {
                del_t *d = &s->dels[i];
                d->s = s;
                d->name = k1s_xstrdup(obj_name(active[i]));
                s->pending++;
                k1s_client_delete(c->ctx->client, &pods_gvr, obj_ns(rs), d->name, NULL, deleted, d);
            }
        }
    }
    if (s->pending == 1 && s->to_create == 0) {
        /* nothing written: status from the pods just looked at, without a second scan */
        s->to_create = -1;
        double next = write_status(s, active, na);
        if (next >= 0)
            k1s_workqueue_add_after(c->queue, key, (uint64_t)(next * 1000) + 50);
    }
    free(active);
    s->pending--;
    sync_finish(s);
}

/* ---- lifecycle ---- */

static void *rsc_start(k1s_ctrl_ctx_t *ctx)
{
    rsc_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->exp = k1s_expectations_new();
    c->rss = k1s_informer_factory_get(ctx->factory, &rs_gvr);
    c->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    k1s_ctrl_index_namespace(c->rss);
    k1s_ctrl_index_owner(c->pods);
    k1s_ctrl_index_orphans(c->pods); /* to find adoptable pods cheaply */
    c->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, sync_rs, c);
    k1s_informer_handlers_t rh = {rs_add, rs_update, rs_delete, c};
    k1s_informer_handlers_t ph = {pod_add, pod_update, pod_delete, c};
    k1s_informer_add_handlers(c->rss, &rh);
    k1s_informer_add_handlers(c->pods, &ph);
    return c;
}

static void rsc_stop(void *state)
{
    rsc_t *c = state;
    if (!c)
        return;
    while (c->syncs)
        sync_free(c->syncs);
    k1s_workqueue_free(c->queue);
    k1s_expectations_free(c->exp);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_replicaset = {
    .name = "replicaset",
    .service_account = "replicaset-controller",
    .component = "replicaset-controller",
    .start = rsc_start,
    .stop = rsc_stop,
};
