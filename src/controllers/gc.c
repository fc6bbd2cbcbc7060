/*
 * The garbage collector ("garbagecollector", kube-controller-manager's
 * generic-garbage-collector): deletes objects whose owners are gone and
 * carries out the owner side of cascading deletion.
 *
 * It watches a fixed list of built-in resources that own or are owned
 * (below) and the resources of established CustomResourceDefinitions
 * through the shared informers, as metadata only where no other controller
 * wants the whole object (ConfigMaps, Secrets, RBAC objects, custom
 * resources, ...), and keeps only a map from uid to the cache
 * key of each object: the owner graph is read from the informers'
 * by-owner-uid indexes. When a CustomResourceDefinition goes, the informer
 * of its resource is stopped and freed and its objects leave the graph
 * (nothing else is touched: the API server deleted them, and the collector
 * heard those deletions first); it is watched again if the CRD comes back.
 *
 * An ownerReference that cannot be valid, to a namespaced owner the caches
 * hold in another namespace than the dependent's (or a cluster-scoped
 * dependent's), is reported once with an OwnerRefInvalidNamespace Warning
 * Event on the dependent when the graph first sees the pair, as upstream's
 * graph builder does. In a namespaced dependent it counts as dangling (an
 * owner that does not exist in its namespace); a cluster-scoped dependent
 * that names a namespaced owner is left alone.
 *
 * Two work queues of uids, as upstream:
 * - attempt-to-delete: an object whose owners may be gone. Its owner
 *   references are classified: solid (owner exists), dangling (absent from
 *   the caches and confirmed by a GET with a uid check, or in another
 *   namespace; confirmed uids are remembered with the namespace they are
 *   absent from) or waiting (owner being deleted in the foreground). With a
 *   solid owner, dangling and waiting references are removed; otherwise the
 *   object is deleted (foreground if a waiting owner has it as a dependent
 *   that itself has dependents, else with the policy its own finalizers
 *   say, else background). An object being deleted with the
 *   foregroundDeletion finalizer gets its blocking dependents
 *   (blockOwnerDeletion) deleted, and loses the finalizer once none is left.
 * - attempt-to-orphan: an object being deleted with the orphan finalizer:
 *   its dependents lose their references to it, then it loses the finalizer.
 */
#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

#define FIN_ORPHAN "orphan"
#define FIN_FOREGROUND "foregroundDeletion"
#define GC_WORKERS 20
#define ABSENT_MAX 4096

typedef struct gc_res {
    k1s_gvr_t gvr;
    const char *kind;
} gc_res_t;

/* What the collector watches: built-in resources that are owners or dependents (and the
 * resources of established CustomResourceDefinitions, added as they appear). */
static const gc_res_t builtin[] = {
    {{"", "v1", "pods", true}, "Pod"},
    {{"", "v1", "services", true}, "Service"},
    {{"", "v1", "endpoints", true}, "Endpoints"},
    {{"", "v1", "configmaps", true}, "ConfigMap"},
    {{"", "v1", "secrets", true}, "Secret"},
    {{"", "v1", "serviceaccounts", true}, "ServiceAccount"},
    {{"", "v1", "nodes", false}, "Node"},
    {{"", "v1", "persistentvolumes", false}, "PersistentVolume"},
    {{"", "v1", "persistentvolumeclaims", true}, "PersistentVolumeClaim"},
    {{"", "v1", "limitranges", true}, "LimitRange"},
    {{"", "v1", "resourcequotas", true}, "ResourceQuota"},
    {{"apps", "v1", "deployments", true}, "Deployment"},
    {{"apps", "v1", "replicasets", true}, "ReplicaSet"},
    {{"apps", "v1", "statefulsets", true}, "StatefulSet"},
    {{"apps", "v1", "daemonsets", true}, "DaemonSet"},
    {{"apps", "v1", "controllerrevisions", true}, "ControllerRevision"},
    {{"batch", "v1", "jobs", true}, "Job"},
    {{"batch", "v1", "cronjobs", true}, "CronJob"},
    {{"networking.k8s.io", "v1", "ingresses", true}, "Ingress"},
    {{"networking.k8s.io", "v1", "networkpolicies", true}, "NetworkPolicy"},
    {{"coordination.k8s.io", "v1", "leases", true}, "Lease"},
    {{"discovery.k8s.io", "v1", "endpointslices", true}, "EndpointSlice"},
    {{"rbac.authorization.k8s.io", "v1", "roles", true}, "Role"},
    {{"rbac.authorization.k8s.io", "v1", "rolebindings", true}, "RoleBinding"},
    {{"rbac.authorization.k8s.io", "v1", "clusterroles", false}, "ClusterRole"},
    {{"rbac.authorization.k8s.io", "v1", "clusterrolebindings", false}, "ClusterRoleBinding"},
    {{"storage.k8s.io", "v1", "storageclasses", false}, "StorageClass"},
    {{"policy", "v1", "poddisruptionbudgets", true}, "PodDisruptionBudget"},
    {{"autoscaling", "v2", "horizontalpodautoscalers", true}, "HorizontalPodAutoscaler"},
};
#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

typedef struct gc gc_t;

typedef struct gc_watch {
    gc_t *gc;
    int idx;
    k1s_gvr_t gvr; /* strings owned for custom resources */
    char *kind;
    bool custom;
    k1s_informer_t *inf; /* NULL while not watched (its CRD is gone) */
} gc_watch_t;

/* Where an object of the graph is: its resource and cache key. */
typedef struct gc_ent {
    int res;
    char key[];
} gc_ent_t;

/* An attempt in flight (freed when it ends, or at stop). */
typedef struct gc_op {
    struct gc_op *prev, *next;
    gc_t *gc;
    k1s_workqueue_t *q;
    char *uid;            /* the item */
    int res;              /* its resource */
    char *ns, *name;      /* its coordinates */
    char *rv;             /* resourceVersion the decision was based on */
    json_t *refs;         /* its ownerReferences (owned copy) */
    char *state;          /* per reference: 's'olid, 'd'angling, 'w'aiting, '?' pending,
                             'x' namespaced owner of a cluster-scoped object */
    int pending;          /* requests out */
    bool failed;          /* a request failed: retry later */
    struct gc_op *parent; /* a sub-request (owner GET, dependent patch) of this attempt */
    size_t idx;           /* its reference index (owner GETs) */
} gc_op_t;

struct gc {
    k1s_ctrl_ctx_t *ctx;
    gc_watch_t **w; /* what is watched (never removed: uid entries index it) */
    size_t nw;
    k1s_informer_t *crds;
    k1s_strmap_t uids;   /* uid -> gc_ent_t */
    k1s_strmap_t absent; /* "namespace/uid" ("/uid" cluster-wide) confirmed gone (no value) */
    k1s_workqueue_t *q_delete, *q_orphan;
    gc_op_t *ops;
};

/* ---- small helpers ---- */

static const json_t *meta_of(const json_t *o)
{
    return json_object_get(o, "metadata");
}

static const char *uid_of(const json_t *o)
{
    return k1s_ctrl_str(meta_of(o), "uid");
}

static const json_t *refs_of(const json_t *o)
{
    const json_t *r = json_object_get(meta_of(o), "ownerReferences");
    return json_is_array(r) ? r : NULL;
}

static bool has_finalizer(const json_t *o, const char *f)
{
    const json_t *fins = json_object_get(meta_of(o), "finalizers");
    size_t i;
    json_t *v;
    json_array_foreach(fins, i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), f))
            return true;
    }
    return false;
}

/* Being deleted in the foreground: waiting for its blocking dependents. */
static bool deleting_dependents(const json_t *o)
{
    return o && k1s_ctrl_deleting(o) && has_finalizer(o, FIN_FOREGROUND);
}

/* The group of an apiVersion ("apps/v1" -> "apps", "v1" -> ""), into buf. */
static const char *group_of(const char *api_version, char *buf, size_t len)
{
    const char *slash = strchr(api_version, '/');
    if (!slash)
        return "";
    size_t n = (size_t)(slash - api_version);
    if (n >= len)
        n = len - 1;
    memcpy(buf, api_version, n);
    buf[n] = 0;
    return buf;
}

static int find_kind(const gc_t *gc, const char *api_version, const char *kind)
{
    char buf[128];
    const char *group = group_of(api_version, buf, sizeof(buf));
    for (size_t i = 0; i < gc->nw; i++)
        if (gc->w[i]->inf && !strcmp(gc->w[i]->gvr.group, group) && !strcmp(gc->w[i]->kind, kind))
            return (int)i;
    return -1;
}

/* The cached object with uid (borrowed), and its resource; NULL if not in the caches. */
static json_t *lookup(gc_t *gc, const char *uid, int *res)
{
    gc_ent_t *e = k1s_strmap_get(&gc->uids, uid);
    if (!e || !gc->w[e->res]->inf)
        return NULL;
    json_t *o = k1s_ctrl_get_by_key(gc->w[e->res]->inf, e->key);
    if (!o || strcmp(uid_of(o), uid))
        return NULL;
    if (res)
        *res = e->res;
    return o;
}

/* The objects with an ownerReference to uid, as a new array of borrowed pointers (free()). */
static size_t dependents(gc_t *gc, const char *uid, json_t ***out)
{
    json_t **all = NULL;
    size_t n = 0;
    for (size_t i = 0; i < gc->nw; i++) {
        if (!gc->w[i]->inf)
            continue;
        json_t **part = NULL;
        int k = k1s_informer_by_index(gc->w[i]->inf, "owner", uid, &part);
        if (k > 0) {
            all = k1s_xrealloc(all, (n + (size_t)k) * sizeof(*all));
            memcpy(all + n, part, (size_t)k * sizeof(*all));
            n += (size_t)k;
        }
        free(part);
    }
    *out = all;
    return n;
}

/* Whether every watched informer has its first list (before that, owners may look absent). */
static bool gc_synced(const gc_t *gc)
{
    for (size_t i = 0; i < gc->nw; i++)
        if (gc->w[i]->inf && !k1s_informer_has_synced(gc->w[i]->inf))
            return false;
    return k1s_informer_has_synced(gc->crds);
}

static void enqueue_dependents(gc_t *gc, const char *uid)
{
    json_t **deps;
    size_t n = dependents(gc, uid, &deps);
    for (size_t i = 0; i < n; i++)
        k1s_workqueue_add(gc->q_delete, uid_of(deps[i]));
    free(deps);
}

/* Remembers that uid does not exist in namespace ns ("" for a cluster-scoped owner). */
static void mark_absent(gc_t *gc, const char *ns, const char *uid)
{
    if (k1s_strmap_len(&gc->absent) >= ABSENT_MAX) {
        k1s_strmap_free(&gc->absent);
        memset(&gc->absent, 0, sizeof(gc->absent));
    }
    char *key = k1s_xasprintf("%s/%s", ns, uid);
    k1s_strmap_set(&gc->absent, key, gc);
    free(key);
}

/* Whether an owner uid is known to be gone, cluster-wide or from namespace ns. */
static bool is_absent(gc_t *gc, const char *ns, const char *uid)
{
    char *key = k1s_xasprintf("/%s", uid);
    bool gone = k1s_strmap_has(&gc->absent, key);
    free(key);
    if (!gone && *ns) {
        key = k1s_xasprintf("%s/%s", ns, uid);
        gone = k1s_strmap_has(&gc->absent, key);
        free(key);
    }
    return gone;
}

static const char *ns_of(const json_t *o)
{
    return k1s_ctrl_str(meta_of(o), "namespace");
}

/* Whether owner (cached) cannot be what dep's reference names: it is namespaced and lives in
 * another namespace than dep (or dep is cluster-scoped). */
static bool owner_elsewhere(const json_t *owner, const json_t *dep)
{
    return *ns_of(owner) && strcmp(ns_of(owner), ns_of(dep));
}

/* The OwnerRefInvalidNamespace Warning on dep for its reference ref, in upstream's words. */
static void report_invalid_ns(gc_t *gc, const json_t *dep, const json_t *ref)
{
    const char *ns = ns_of(dep);
    k1s_debug("garbage collector: %s %s/%s references owner %s in another namespace",
              k1s_ctrl_str(dep, "kind"), ns, k1s_ctrl_str(meta_of(dep), "name"),
              k1s_ctrl_str(ref, "uid"));
    k1s_recorder_event(gc->ctx->recorder, dep, "Warning", "OwnerRefInvalidNamespace",
                       "ownerRef [%s/%s, namespace: %s, name: %s, uid: %s] does not exist in "
                       "namespace \"%s\"",
                       k1s_ctrl_str(ref, "apiVersion"), k1s_ctrl_str(ref, "kind"), ns,
                       k1s_ctrl_str(ref, "name"), k1s_ctrl_str(ref, "uid"), ns);
}

/* ---- graph upkeep from the informers ---- */

static void track(gc_watch_t *w, const json_t *obj)
{
    const char *uid = uid_of(obj);
    if (!*uid)
        return;
    char *key = k1s_ctrl_key(obj);
    gc_ent_t *e = k1s_strmap_get(&w->gc->uids, uid);
    if (e && e->res == w->idx && !strcmp(e->key, key)) {
        free(key);
        return;
    }
    size_t n = strlen(key);
    gc_ent_t *ne = k1s_xmalloc(sizeof(*ne) + n + 1);
    ne->res = w->idx;
    memcpy(ne->key, key, n + 1);
    free(key);
    free(k1s_strmap_set(&w->gc->uids, uid, ne));
}

/* Whether ref (an ownerReference) blocks its owner's foreground deletion. */
static bool ref_blocks(const json_t *ref)
{
    return json_is_true(json_object_get(ref, "blockOwnerDeletion"));
}

static const json_t *find_ref(const json_t *refs, const char *uid)
{
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r)
    {
        if (!strcmp(k1s_ctrl_str(r, "uid"), uid))
            return r;
    }
    return NULL;
}

static void wake_owner(gc_t *gc, const char *owner_uid)
{
    if (deleting_dependents(lookup(gc, owner_uid, NULL)))
        k1s_workqueue_add(gc->q_delete, owner_uid);
}

/* A namespaced object seen for the first time: dependents that already reference it from
 * another namespace are told, and checked. */
static void invalid_dependents(gc_t *gc, const json_t *owner)
{
    json_t **deps;
    size_t n = dependents(gc, uid_of(owner), &deps);
    for (size_t i = 0; i < n; i++) {
        if (!owner_elsewhere(owner, deps[i]))
            continue;
        report_invalid_ns(gc, deps[i], find_ref(refs_of(deps[i]), uid_of(owner)));
        k1s_workqueue_add(gc->q_delete, uid_of(deps[i]));
    }
    free(deps);
}

static void changed(gc_watch_t *w, const json_t *old, const json_t *obj)
{
    gc_t *gc = w->gc;
    track(w, obj);
    const char *uid = uid_of(obj);
    const json_t *refs = refs_of(obj);
    const json_t *orefs = old ? refs_of(old) : NULL;
    if (!old || !json_equal((json_t *)refs, (json_t *)orefs)) {
        size_t i;
        json_t *r;
        json_array_foreach(refs, i, r)
        {
            const char *ouid = k1s_ctrl_str(r, "uid");
            json_t *owner = lookup(gc, ouid, NULL);
            if (!owner) {
                k1s_workqueue_add(gc->q_delete, uid); /* the owner may be gone */
            } else if (owner_elsewhere(owner, obj)) {
                if (!find_ref(orefs, ouid)) /* told once, when the reference appears */
                    report_invalid_ns(gc, obj, r);
                k1s_workqueue_add(gc->q_delete, uid);
            } else if (deleting_dependents(owner)) {
                k1s_workqueue_add(gc->q_delete, ouid);
            }
        }
        /* owners that lost this dependent, or its block, may now finish deleting */
        json_array_foreach(orefs, i, r)
        {
            const json_t *now = find_ref(refs, k1s_ctrl_str(r, "uid"));
            if (!now || (ref_blocks(r) && !ref_blocks(now)))
                wake_owner(gc, k1s_ctrl_str(r, "uid"));
        }
    }
    if (!old && *ns_of(obj))
        invalid_dependents(gc, obj);
    if (!k1s_ctrl_deleting(obj))
        return;
    if (has_finalizer(obj, FIN_ORPHAN))
        k1s_workqueue_add(gc->q_orphan, uid);
    if (has_finalizer(obj, FIN_FOREGROUND)) {
        k1s_workqueue_add(gc->q_delete, uid);
        if (!deleting_dependents(old))
            enqueue_dependents(gc, uid);
    }
}

static void on_add(json_t *obj, void *arg)
{
    changed(arg, NULL, obj);
}

static void on_update(json_t *old, json_t *obj, void *arg)
{
    changed(arg, old, obj);
}

static void on_delete(json_t *obj, void *arg)
{
    gc_watch_t *w = arg;
    gc_t *gc = w->gc;
    const char *uid = uid_of(obj);
    if (!*uid)
        return;
    gc_ent_t *e = k1s_strmap_get(&gc->uids, uid);
    char *key = k1s_ctrl_key(obj);
    if (e && e->res == w->idx && !strcmp(e->key, key))
        free(k1s_strmap_del(&gc->uids, uid));
    free(key);
    mark_absent(gc, ns_of(obj), uid);
    enqueue_dependents(gc, uid);
    size_t i;
    json_t *r;
    json_array_foreach(refs_of(obj), i, r)
    {
        wake_owner(gc, k1s_ctrl_str(r, "uid"));
    }
}

/* ---- attempts ---- */

static gc_op_t *op_new(gc_t *gc, k1s_workqueue_t *q, const char *uid, int res, const json_t *obj)
{
    gc_op_t *op = k1s_xcalloc(1, sizeof(*op));
    op->gc = gc;
    op->q = q;
    op->uid = k1s_xstrdup(uid);
    op->res = res;
    op->ns = k1s_xstrdup(k1s_ctrl_str(meta_of(obj), "namespace"));
    op->name = k1s_xstrdup(k1s_ctrl_str(meta_of(obj), "name"));
    op->rv = k1s_xstrdup(k1s_ctrl_str(meta_of(obj), "resourceVersion"));
    op->next = gc->ops;
    if (gc->ops)
        gc->ops->prev = op;
    gc->ops = op;
    return op;
}

static void op_free(gc_op_t *op)
{
    free(op->uid);
    free(op->ns);
    free(op->name);
    free(op->rv);
    json_decref(op->refs);
    free(op->state);
    free(op);
}

static void op_unlink(gc_op_t *op)
{
    gc_t *gc = op->gc;
    if (op->prev)
        op->prev->next = op->next;
    else
        gc->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
}

/* A sub-request record of parent, on the ops list until answered. */
static gc_op_t *sub_new(gc_op_t *parent, int res, const json_t *obj)
{
    gc_op_t *sub = op_new(parent->gc, NULL, uid_of(obj), res, obj);
    sub->parent = parent;
    parent->pending++;
    return sub;
}

/* Frees a sub-request record; returns its parent, with one fewer request pending. */
static gc_op_t *sub_end(gc_op_t *sub)
{
    gc_op_t *parent = sub->parent;
    op_unlink(sub);
    op_free(sub);
    parent->pending--;
    return parent;
}

/* Ends an attempt: done with its key, retried later if failed. */
static void op_end(gc_op_t *op)
{
    op_unlink(op);
    if (op->failed)
        k1s_workqueue_add_rate_limited(op->q, op->uid);
    else
        k1s_workqueue_forget(op->q, op->uid);
    k1s_workqueue_done(op->q, op->uid);
    op_free(op);
}

static const char *ns_arg(const gc_op_t *op)
{
    return op->gc->w[op->res]->gvr.namespaced ? op->ns : NULL;
}

/* Answers of writes that end the attempt: 404 means the work is done anyway. */
static void write_done(const k1s_client_result_t *res, void *arg)
{
    gc_op_t *op = arg;
    if (res->status >= 300 && res->status != 404) {
        k1s_debug("garbage collector: %s %s/%s: %d %s", op->gc->w[op->res]->kind, op->ns, op->name,
                  res->status, res->message);
        op->failed = true;
    }
    op_end(op);
}

/* JSON merge patch of obj's ownerReferences to refs, guarded by its resourceVersion. */
static void patch_refs(gc_op_t *op, json_t *refs, k1s_client_fn cb)
{
    json_t *p = json_pack("{s:{s:o,s:s}}", "metadata", "ownerReferences",
                          json_array_size(refs) ? refs : json_null(), "resourceVersion", op->rv);
    if (!json_array_size(refs))
        json_decref(refs);
    char *s = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    k1s_client_patch(op->gc->ctx->client, &op->gc->w[op->res]->gvr, ns_arg(op), op->name, NULL,
                     K1S_PATCH_MERGE, s, false, cb, op);
    free(s);
}

/* Removes finalizer fin from obj (the op's object), guarded by its resourceVersion. */
static void remove_finalizer(gc_op_t *op, const json_t *obj, const char *fin)
{
    json_t *keep = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(meta_of(obj), "finalizers"), i, v)
    {
        if (!json_is_string(v) || strcmp(json_string_value(v), fin))
            json_array_append(keep, v);
    }
    json_t *p =
        json_pack("{s:{s:o,s:s}}", "metadata", "finalizers", keep, "resourceVersion", op->rv);
    char *s = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    k1s_debug("garbage collector: removing the %s finalizer of %s %s/%s", fin,
              op->gc->w[op->res]->kind, op->ns, op->name);
    k1s_client_patch(op->gc->ctx->client, &op->gc->w[op->res]->gvr, ns_arg(op), op->name, NULL,
                     K1S_PATCH_MERGE, s, false, write_done, op);
    free(s);
}

static void delete_item(gc_op_t *op, const char *policy)
{
    k1s_debug("garbage collector: deleting %s %s/%s (%s)", op->gc->w[op->res]->kind, op->ns,
              op->name, policy);
    k1s_delete_opts_t o = {.propagation_policy = policy,
                           .precondition_uid = op->uid,
                           .precondition_rv = op->rv,
                           .grace_period_s = -1};
    k1s_client_delete(op->gc->ctx->client, &op->gc->w[op->res]->gvr, ns_arg(op), op->name, &o,
                      write_done, op);
}

/* The references no longer block: delete in the foreground, from the patched version. */
static void unblocked(const k1s_client_result_t *res, void *arg)
{
    gc_op_t *op = arg;
    if (res->status != 200) {
        op->failed = res->status != 404;
        op_end(op);
        return;
    }
    free(op->rv);
    op->rv = k1s_xstrdup(k1s_ctrl_str(meta_of(res->obj), "resourceVersion"));
    delete_item(op, "Foreground");
}

/* An owner being deleted in the foreground: deletes its blocking dependents, then lets it go. */
static void deleting_dependents_item(gc_op_t *op, const json_t *obj)
{
    gc_t *gc = op->gc;
    json_t **deps;
    size_t n = dependents(gc, op->uid, &deps);
    size_t blocking = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ref_blocks(find_ref(refs_of(deps[i]), op->uid)))
            continue;
        blocking++;
        if (!deleting_dependents(deps[i]))
            k1s_workqueue_add(gc->q_delete, uid_of(deps[i]));
    }
    free(deps);
    if (blocking > 0) {
        op_end(op);
        return;
    }
    remove_finalizer(op, obj, FIN_FOREGROUND);
}

/* All owner references classified: decide. */
static void decide(gc_op_t *op)
{
    gc_t *gc = op->gc;
    if (op->failed) {
        op_end(op);
        return;
    }
    size_t n = json_array_size(op->refs);
    size_t solid = 0, waiting = 0, dangling = 0, invalid = 0;
    for (size_t i = 0; i < n; i++) {
        solid += op->state[i] == 's';
        waiting += op->state[i] == 'w';
        dangling += op->state[i] == 'd';
        invalid += op->state[i] == 'x';
    }
    if (invalid > 0) {
        /* a cluster-scoped object naming a namespaced owner: no retry makes it valid */
        k1s_debug("garbage collector: %s %s is cluster-scoped but references a namespaced owner",
                  op->gc->w[op->res]->kind, op->name);
        op_end(op);
        return;
    }
    if (solid > 0) {
        if (!dangling && !waiting) {
            op_end(op);
            return;
        }
        /* keep the solid references only (waiting ones would hold their owners forever) */
        json_t *keep = json_array();
        for (size_t i = 0; i < n; i++)
            if (op->state[i] == 's')
                json_array_append(keep, json_array_get(op->refs, i));
        k1s_debug("garbage collector: removing %zu dangling/waiting references of %s %s/%s",
                  dangling + waiting, op->gc->w[op->res]->kind, op->ns, op->name);
        patch_refs(op, keep, write_done);
        return;
    }
    int res;
    json_t *obj = lookup(gc, op->uid, &res);
    if (!obj) {
        op_end(op);
        return;
    }
    if (waiting > 0) {
        json_t **deps;
        size_t nd = dependents(gc, op->uid, &deps);
        bool cycle = false;
        for (size_t i = 0; i < nd; i++)
            cycle = cycle || deleting_dependents(deps[i]);
        free(deps);
        if (nd > 0 && cycle) {
            /* a dependent waits for this object and this object for its owner: unblock the
             * owners first so that the foreground deletions cannot wait on each other */
            json_t *refs = json_deep_copy(refs_of(obj));
            size_t i;
            json_t *r;
            json_array_foreach(refs, i, r)
            {
                if (ref_blocks(r))
                    json_object_set_new(r, "blockOwnerDeletion", json_false());
            }
            patch_refs(op, refs, unblocked);
            return;
        }
        if (nd > 0) {
            delete_item(op, "Foreground");
            return;
        }
    }
    const char *policy = has_finalizer(obj, FIN_ORPHAN)       ? "Orphan"
                         : has_finalizer(obj, FIN_FOREGROUND) ? "Foreground"
                                                              : "Background";
    delete_item(op, policy);
}

static void owner_got(const k1s_client_result_t *res, void *arg);

static void attempt_delete(k1s_workqueue_t *q, const char *uid, void *arg)
{
    gc_t *gc = arg;
    if (!gc_synced(gc)) {
        k1s_workqueue_add_after(q, uid, 200);
        k1s_workqueue_done(q, uid);
        return;
    }
    int res;
    json_t *obj = lookup(gc, uid, &res);
    if (!obj) {
        k1s_workqueue_forget(q, uid);
        k1s_workqueue_done(q, uid);
        return;
    }
    gc_op_t *op = op_new(gc, q, uid, res, obj);
    if (k1s_ctrl_deleting(obj)) {
        if (has_finalizer(obj, FIN_FOREGROUND))
            deleting_dependents_item(op, obj);
        else
            op_end(op);
        return;
    }
    const json_t *refs = refs_of(obj);
    size_t n = json_array_size(refs);
    if (n == 0) {
        op_end(op);
        return;
    }
    op->refs = json_deep_copy(refs);
    op->state = k1s_xcalloc(n + 1, 1);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(op->refs, i);
        const char *ouid = k1s_ctrl_str(r, "uid");
        op->state[i] = 's';
        if (is_absent(gc, op->ns, ouid)) {
            op->state[i] = 'd';
            continue;
        }
        json_t *owner = lookup(gc, ouid, NULL);
        if (owner && owner_elsewhere(owner, obj)) {
            /* that uid lives in another namespace: no owner by that reference exists here */
            op->state[i] = *op->ns ? 'd' : 'x';
            continue;
        }
        if (owner) {
            op->state[i] = deleting_dependents(owner) ? 'w' : 's';
            continue;
        }
        /* not in the caches: ask the API server, as the caches may lag */
        int k = find_kind(gc, k1s_ctrl_str(r, "apiVersion"), k1s_ctrl_str(r, "kind"));
        if (k < 0)
            continue; /* a kind not watched: left alone */
        if (gc->w[k]->gvr.namespaced && !gc->w[res]->gvr.namespaced) {
            op->state[i] = 'x';
            continue;
        }
        op->state[i] = '?';
        gc_op_t *sub = sub_new(op, k, obj);
        sub->idx = i;
        k1s_client_get(gc->ctx->client, &gc->w[k]->gvr, gc->w[k]->gvr.namespaced ? op->ns : NULL,
                       k1s_ctrl_str(r, "name"), owner_got, sub);
    }
    if (op->pending == 0)
        decide(op);
}

static void owner_got(const k1s_client_result_t *res, void *arg)
{
    gc_op_t *sub = arg;
    gc_op_t *op = sub->parent;
    size_t i = sub->idx;
    const char *ouid = k1s_ctrl_str(json_array_get(op->refs, i), "uid");
    if (res->status == 404 || (res->status == 200 && strcmp(uid_of(res->obj), ouid))) {
        op->state[i] = 'd';
        mark_absent(op->gc, op->gc->w[sub->res]->gvr.namespaced ? op->ns : "", ouid);
    } else if (res->status == 200) {
        op->state[i] = deleting_dependents(res->obj) ? 'w' : 's';
    } else {
        op->failed = true;
    }
    if (sub_end(sub)->pending == 0)
        decide(op);
}

/* ---- orphaning ---- */

static void orphan_finish(gc_op_t *op)
{
    if (op->failed) {
        op_end(op);
        return;
    }
    json_t *obj = lookup(op->gc, op->uid, NULL);
    if (!obj) {
        op_end(op);
        return;
    }
    free(op->rv);
    op->rv = k1s_xstrdup(k1s_ctrl_str(meta_of(obj), "resourceVersion"));
    remove_finalizer(op, obj, FIN_ORPHAN);
}

static void orphaned_one(const k1s_client_result_t *res, void *arg)
{
    gc_op_t *sub = arg;
    gc_op_t *op = sub->parent;
    if (res->status >= 300 && res->status != 404) {
        k1s_debug("garbage collector: orphaning %s %s/%s: %d %s", sub->gc->w[sub->res]->kind,
                  sub->ns, sub->name, res->status, res->message);
        op->failed = true;
    }
    if (sub_end(sub)->pending == 0)
        orphan_finish(op);
}

static void attempt_orphan(k1s_workqueue_t *q, const char *uid, void *arg)
{
    gc_t *gc = arg;
    if (!gc_synced(gc)) {
        k1s_workqueue_add_after(q, uid, 200);
        k1s_workqueue_done(q, uid);
        return;
    }
    int res;
    json_t *obj = lookup(gc, uid, &res);
    if (!obj || !k1s_ctrl_deleting(obj) || !has_finalizer(obj, FIN_ORPHAN)) {
        k1s_workqueue_forget(q, uid);
        k1s_workqueue_done(q, uid);
        return;
    }
    gc_op_t *op = op_new(gc, q, uid, res, obj);
    json_t **deps;
    size_t n = dependents(gc, uid, &deps);
    op->pending = 1; /* held while the patches go out */
    for (size_t i = 0; i < n; i++) {
        int dres;
        if (!lookup(gc, uid_of(deps[i]), &dres))
            continue;
        gc_op_t *sub = sub_new(op, dres, deps[i]);
        json_t *keep = json_array();
        size_t j;
        json_t *r;
        json_array_foreach(refs_of(deps[i]), j, r)
        {
            if (strcmp(k1s_ctrl_str(r, "uid"), uid))
                json_array_append(keep, r);
        }
        k1s_debug("garbage collector: orphaning %s %s/%s", gc->w[dres]->kind, sub->ns, sub->name);
        patch_refs(sub, keep, orphaned_one);
    }
    free(deps);
    if (--op->pending == 0)
        orphan_finish(op);
}

/* ---- lifecycle ---- */

static const k1s_gvr_t crds_gvr = {"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                   false};

/* Starts watching w's resource through the shared informer factory. */
static void watch_begin(gc_watch_t *w)
{
    w->inf = k1s_informer_factory_get_metadata(w->gc->ctx->factory, &w->gvr);
    k1s_ctrl_index_owner(w->inf);
    k1s_informer_handlers_t h = {on_add, on_update, on_delete, w};
    k1s_informer_add_handlers(w->inf, &h);
}

/* Watches a resource; gvr and kind are copied for custom resources, borrowed for built-ins. */
static gc_watch_t *watch_add(gc_t *gc, const k1s_gvr_t *gvr, const char *kind, bool custom)
{
    gc_watch_t *w = k1s_xcalloc(1, sizeof(*w));
    w->gc = gc;
    w->idx = (int)gc->nw;
    w->custom = custom;
    w->gvr = *gvr;
    w->kind = (char *)kind;
    if (custom) {
        w->gvr.group = k1s_xstrdup(gvr->group);
        w->gvr.version = k1s_xstrdup(gvr->version);
        w->gvr.resource = k1s_xstrdup(gvr->resource);
        w->kind = k1s_xstrdup(kind);
    }
    gc->w = k1s_xrealloc(gc->w, (gc->nw + 1) * sizeof(*gc->w));
    gc->w[gc->nw++] = w;
    watch_begin(w);
    return w;
}

/*
 * Stops watching a custom resource whose CRD is gone: its informer is stopped and freed and
 * its objects leave the graph, without deletions being told to anyone (the API server
 * deleted them before the CRD, and those deletions were heard). The slot stays, idle, as uid
 * entries and attempts in flight refer to resources by index.
 */
static void watch_end(gc_watch_t *w)
{
    gc_t *gc = w->gc;
    size_t n = 0, cap = 16;
    char **drop = k1s_xcalloc(cap, sizeof(*drop));
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&gc->uids, &i, &k, &v);) {
        if (((gc_ent_t *)v)->res != w->idx)
            continue;
        if (n == cap)
            drop = k1s_xrealloc(drop, (cap *= 2) * sizeof(*drop));
        drop[n++] = k1s_xstrdup(k);
    }
    for (size_t i = 0; i < n; i++) {
        free(k1s_strmap_del(&gc->uids, drop[i]));
        free(drop[i]);
    }
    free(drop);
    k1s_debug("garbage collector: no longer watching %s.%s (%zu objects dropped)", w->gvr.resource,
              w->gvr.group, n);
    k1s_informer_factory_remove(gc->ctx->factory, w->inf);
    w->inf = NULL;
}

/* The slot of crd's custom resource (NULL if it was never watched). */
static gc_watch_t *crd_watch(gc_t *gc, const json_t *crd)
{
    const json_t *spec = json_object_get(crd, "spec");
    const char *group = k1s_ctrl_str(spec, "group");
    const char *plural = k1s_ctrl_str(json_object_get(spec, "names"), "plural");
    for (size_t k = 0; k < gc->nw; k++)
        if (gc->w[k]->custom && !strcmp(gc->w[k]->gvr.group, group) &&
            !strcmp(gc->w[k]->gvr.resource, plural))
            return gc->w[k];
    return NULL;
}

/* An established CustomResourceDefinition: its resource (storage version) is watched from now
 * on, until the CRD is deleted. */
static void crd_changed(gc_t *gc, const json_t *crd)
{
    const json_t *spec = json_object_get(crd, "spec");
    const json_t *names = json_object_get(spec, "names");
    bool established = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(crd, "status"), "conditions"), i, v)
    {
        if (!strcmp(k1s_ctrl_str(v, "type"), "Established"))
            established = !strcmp(k1s_ctrl_str(v, "status"), "True");
    }
    const char *version = NULL;
    json_array_foreach(json_object_get(spec, "versions"), i, v)
    {
        if (json_is_true(json_object_get(v, "storage")))
            version = k1s_ctrl_str(v, "name");
    }
    k1s_gvr_t gvr = {k1s_ctrl_str(spec, "group"), version, k1s_ctrl_str(names, "plural"),
                     !strcmp(k1s_ctrl_str(spec, "scope"), "Namespaced")};
    if (!established || !version || !*gvr.group || !*gvr.resource || k1s_ctrl_deleting(crd))
        return;
    gc_watch_t *w = crd_watch(gc, crd);
    if (w && w->inf)
        return;
    k1s_debug("garbage collector: watching %s.%s", gvr.resource, gvr.group);
    if (!w) {
        w = watch_add(gc, &gvr, k1s_ctrl_str(names, "kind"), true);
    } else {
        /* the CRD is back, perhaps changed */
        free((char *)w->gvr.version);
        free(w->kind);
        w->gvr.version = k1s_xstrdup(version);
        w->gvr.namespaced = gvr.namespaced;
        w->kind = k1s_xstrdup(k1s_ctrl_str(names, "kind"));
        watch_begin(w);
    }
    k1s_informer_start(w->inf);
}

static void crd_gone(gc_t *gc, const json_t *crd)
{
    gc_watch_t *w = crd_watch(gc, crd);
    if (w && w->inf)
        watch_end(w);
}

static void crd_add(json_t *crd, void *arg)
{
    crd_changed(arg, crd);
}

static void crd_update(json_t *old, json_t *crd, void *arg)
{
    /* deleted and created again while the watch was away: start afresh */
    if (strcmp(uid_of(old), uid_of(crd)))
        crd_gone(arg, old);
    crd_changed(arg, crd);
}

static void crd_delete(json_t *crd, void *arg)
{
    crd_gone(arg, crd);
}

static void *gc_start(k1s_ctrl_ctx_t *ctx)
{
    gc_t *gc = k1s_xcalloc(1, sizeof(*gc));
    gc->ctx = ctx;
    gc->q_delete = k1s_workqueue_new(ctx->base, GC_WORKERS, attempt_delete, gc);
    gc->q_orphan = k1s_workqueue_new(ctx->base, GC_WORKERS, attempt_orphan, gc);
    for (size_t i = 0; i < NBUILTIN; i++)
        watch_add(gc, &builtin[i].gvr, builtin[i].kind, false);
    gc->crds = k1s_informer_factory_get(ctx->factory, &crds_gvr);
    k1s_informer_handlers_t h = {crd_add, crd_update, crd_delete, gc};
    k1s_informer_add_handlers(gc->crds, &h);
    return gc;
}

static void gc_stop(void *state)
{
    gc_t *gc = state;
    if (!gc)
        return;
    while (gc->ops) { /* attempts cut short by the stop: no callbacks come */
        gc_op_t *op = gc->ops;
        gc->ops = op->next;
        op_free(op);
    }
    k1s_workqueue_free(gc->q_delete);
    k1s_workqueue_free(gc->q_orphan);
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&gc->uids, &i, &k, &v);)
        free(v);
    k1s_strmap_free(&gc->uids);
    k1s_strmap_free(&gc->absent);
    for (size_t i = 0; i < gc->nw; i++) {
        gc_watch_t *w = gc->w[i];
        if (w->custom) {
            free((char *)w->gvr.group);
            free((char *)w->gvr.version);
            free((char *)w->gvr.resource);
            free(w->kind);
        }
        free(w);
    }
    free(gc->w);
    free(gc);
}

const k1s_controller_def_t k1s_ctrl_garbagecollector = {
    .name = "garbagecollector",
    .service_account = "generic-garbage-collector",
    .component = "garbage-collector-controller",
    .start = gc_start,
    .stop = gc_stop,
};
