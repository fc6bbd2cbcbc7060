/*
 * The disruption controller (kube-controller-manager's "disruption",
 * service account disruption-controller): keeps each PodDisruptionBudget's
 * status current for the eviction subresource (src/api/eviction.c) and for
 * `kubectl get pdb`.
 *
 * For a budget, the pods of its namespace its selector matches are counted:
 * currentHealthy is those Ready, not being deleted and not recently evicted
 * (status.disruptedPods, entries the eviction subresource adds, dropped once
 * the pod is gone or is being deleted, or after two minutes if it never
 * was); desiredHealthy comes from spec.minAvailable (an integer, or a
 * percentage of the expected pods) or expectedPods - spec.maxUnavailable;
 * expectedPods is the number of matched pods for an integer minAvailable,
 * else the sum of the scales of the pods' controllers (ReplicaSet,
 * Deployment, StatefulSet; percentages round up; k1s serves no
 * ReplicationControllers, and other kinds' scale subresources are not read).
 * disruptionsAllowed is currentHealthy - desiredHealthy (at least 0, and 0
 * when no pod is expected), with the DisruptionAllowed condition
 * (SufficientPods / InsufficientPods, or SyncFailed when the expected count
 * cannot be worked out).
 *
 * Pods and budgets drive the work queue; an expiring disruptedPods entry is
 * the only timer. The status is written only when it changes.
 *
 * A pod that got the DisruptionTarget condition (from an eviction or the
 * taint manager) but was still not being deleted two minutes later has the
 * condition set back to False, as upstream does for stale disruptions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/conditions.h"
#include "lib/log.h"
#include "lib/util.h"

/* kube-controller-manager's DeletionTimeout: how long an eviction may take to delete its pod */
#define DELETION_TIMEOUT_S 120
/* stalePodDisruptionTimeout: how long a pod may carry DisruptionTarget without being deleted */
#define STALE_DISRUPTION_S 120

static const k1s_gvr_t pdbs_gvr = {"policy", "v1", "poddisruptionbudgets", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};
static const k1s_gvr_t rss_gvr = {"apps", "v1", "replicasets", true};
static const k1s_gvr_t deps_gvr = {"apps", "v1", "deployments", true};
static const k1s_gvr_t stss_gvr = {"apps", "v1", "statefulsets", true};

typedef struct lookup lookup_t;

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *pdbs, *pods, *rss, *deps, *stss;
    k1s_workqueue_t *queue;
    k1s_workqueue_t *stale; /* pods whose DisruptionTarget condition may be stale */
    /* controllers of other kinds, through their scale subresource */
    k1s_strmap_t plurals; /* "group/version/Kind" -> plural (malloc'd; "" if not served) */
    k1s_strmap_t fetched; /* "pdb key\nuid" -> int64_t* scale (-1: no such controller) */
    lookup_t *lookups;    /* in flight (freed at stop) */
} disruption_t;

/* One controller's scale being read for a budget's sync (getScaleController). */
struct lookup {
    disruption_t *d;
    lookup_t *next, *prev;
    int *left; /* lookups of this sync still out (shared) */
    char *pdb_key, *uid, *group, *version, *kind, *ns, *name;
};

typedef struct {
    disruption_t *d;
    char *key;
} write_t;

/* ---------- event handlers ---------- */

/* Queues every budget in the pod's namespace whose selector matches it. */
static void enqueue_for_pod(disruption_t *d, const json_t *pod)
{
    k1s_ctrl_enqueue_selecting(d->pdbs, d->queue, pod);
}

/*
 * Whether the pod carries a DisruptionTarget=True condition of a disruption
 * that did not happen (the pod is not being deleted and not finished), and
 * when it turns stale: *wait_s from now (nonTerminatingPodHasStaleDisruptionCondition).
 */
static bool stale_disruption(const json_t *pod, double *wait_s)
{
    if (k1s_ctrl_deleting(pod) || k1s_pod_is_terminated(pod))
        return false;
    const json_t *c = k1s_cond_get(json_object_get(pod, "status"), "DisruptionTarget");
    if (!c || strcmp(k1s_ctrl_str(c, "status"), "True") ||
        !strcmp(k1s_ctrl_str(c, "reason"), "TerminationByKubelet"))
        return false;
    int64_t t = k1s_ctrl_parse_time(k1s_ctrl_str(c, "lastTransitionTime"));
    *wait_s = (t < 0 ? 0 : (double)t + STALE_DISRUPTION_S) - k1s_ctrl_now();
    if (*wait_s < 0)
        *wait_s = 0;
    return true;
}

static void check_stale(disruption_t *d, const json_t *pod)
{
    double wait_s;
    if (!stale_disruption(pod, &wait_s))
        return;
    char *key = k1s_ctrl_key(pod);
    k1s_workqueue_add_after(d->stale, key, (uint64_t)(wait_s * 1000));
    free(key);
}

static void pod_add(json_t *obj, void *arg)
{
    enqueue_for_pod(arg, obj);
    check_stale(arg, obj);
}

static void pod_delete(json_t *obj, void *arg)
{
    enqueue_for_pod(arg, obj);
}

static void stale_done(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    if (res->status >= 300 && res->status != 404) {
        k1s_debug("disruption: resetting DisruptionTarget of pod %s: %d %s", w->key, res->status,
                  res->message);
        k1s_workqueue_add_rate_limited(w->d->stale, w->key);
    } else {
        k1s_workqueue_forget(w->d->stale, w->key);
    }
    k1s_workqueue_done(w->d->stale, w->key);
    free(w->key);
    free(w);
}

/* syncStalePodDisruption: DisruptionTarget back to False on a pod that was not disrupted. */
static void sync_stale(k1s_workqueue_t *q, const char *key, void *arg)
{
    disruption_t *d = arg;
    json_t *pod = k1s_ctrl_get_by_key(d->pods, key);
    double wait_s;
    if (!pod || !stale_disruption(pod, &wait_s)) {
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
        return;
    }
    if (wait_s > 0) {
        k1s_workqueue_add_after(q, key, (uint64_t)(wait_s * 1000));
        k1s_workqueue_done(q, key);
        return;
    }
    char ts[32];
    k1s_ctrl_format_time((int64_t)k1s_ctrl_now(), ts);
    const json_t *md = json_object_get(pod, "metadata");
    json_t *patch = json_pack("{s:{s:s}, s:{s:[{s:s, s:s, s:s}]}}", "metadata", "uid",
                              k1s_ctrl_str(md, "uid"), "status", "conditions", "type",
                              "DisruptionTarget", "status", "False", "lastTransitionTime", ts);
    char *body = json_dumps(patch, JSON_COMPACT);
    json_decref(patch);
    write_t *w = k1s_xcalloc(1, sizeof(*w));
    w->d = d;
    w->key = k1s_xstrdup(key);
    k1s_debug("disruption: pod %s was not deleted after its disruption; resetting DisruptionTarget",
              key);
    k1s_client_patch(d->ctx->client, &pods_gvr, k1s_ctrl_str(md, "namespace"),
                     k1s_ctrl_str(md, "name"), "status", K1S_PATCH_STRATEGIC, body, false,
                     stale_done, w);
    free(body);
}

static void pod_update(json_t *old, json_t *obj, void *arg)
{
    disruption_t *d = arg;
    check_stale(d, obj);
    const json_t *ol = json_object_get(json_object_get(old, "metadata"), "labels");
    const json_t *nl = json_object_get(json_object_get(obj, "metadata"), "labels");
    if (!json_equal(ol, nl))
        enqueue_for_pod(d, old);
    enqueue_for_pod(d, obj);
}

/* ---------- the count ---------- */

/*
 * An IntOrString against total: integers as they are, "N%" as a share of
 * total rounded up. Returns 0, or -1 for a value that is neither.
 */
static int scaled_value(const json_t *v, int64_t total, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return -1;
    char *end;
    long pct = strtol(s, &end, 10);
    if (end == s || strcmp(end, "%"))
        return -1;
    *out = (int64_t)ceil((double)pct * (double)total / 100.0);
    return 0;
}

static int64_t replicas_of(const json_t *obj)
{
    json_t *r = json_object_get(json_object_get(obj, "spec"), "replicas");
    return json_is_integer(r) ? json_integer_value(r) : 1;
}

/* The object ns/name in inf if its uid is uid; borrowed. */
static json_t *owner_in(k1s_informer_t *inf, const char *ns, const json_t *ref)
{
    json_t *o = k1s_informer_get(inf, ns, k1s_ctrl_str(ref, "name"));
    if (!o)
        return NULL;
    const char *uid = k1s_ctrl_str(json_object_get(o, "metadata"), "uid");
    return strcmp(uid, k1s_ctrl_str(ref, "uid")) ? NULL : o;
}

static bool group_is(const json_t *ref, const char *group)
{
    const char *av = k1s_ctrl_str(ref, "apiVersion");
    const char *slash = strchr(av, '/');
    if (!slash)
        return !*group;
    return strlen(group) == (size_t)(slash - av) && !strncmp(av, group, (size_t)(slash - av));
}

/*
 * The controller and scale behind a pod's controller ref (as the finders of
 * kube-controller-manager): a ReplicaSet owned by a Deployment counts as
 * that Deployment; other kinds are read through their scale subresource:
 * their refs are added to to_fetch until fetch_scales() has read them for
 * the budget pdb_key. Returns the controller's uid (borrowed) and its
 * scale, or NULL when there is no such controller.
 */
static const char *find_scale(disruption_t *d, const char *pdb_key, const char *ns,
                              const json_t *ref, json_t *to_fetch, int64_t *scale)
{
    const char *kind = k1s_ctrl_str(ref, "kind");
    json_t *o = NULL;
    if (!strcmp(kind, "ReplicaSet") && group_is(ref, "apps")) {
        o = owner_in(d->rss, ns, ref);
        json_t *up = o ? k1s_ctrl_controller_ref(o) : NULL;
        if (up && !strcmp(k1s_ctrl_str(up, "kind"), "Deployment") && group_is(up, "apps")) {
            json_t *dep = owner_in(d->deps, ns, up);
            if (!dep)
                return NULL;
            o = dep;
        }
    } else if (!strcmp(kind, "StatefulSet") && group_is(ref, "apps")) {
        o = owner_in(d->stss, ns, ref);
    } else if (!strcmp(kind, "Deployment") && group_is(ref, "apps")) {
        o = owner_in(d->deps, ns, ref);
    } else {
        /* another kind: its scale subresource, read by fetch_scales() for this sync */
        char *fk = k1s_xasprintf("%s\n%s", pdb_key, k1s_ctrl_str(ref, "uid"));
        int64_t *v = k1s_strmap_get(&d->fetched, fk);
        free(fk);
        if (!v) {
            json_array_append(to_fetch, (json_t *)ref);
            *scale = 0;
            return k1s_ctrl_str(ref, "uid");
        }
        if (*v < 0)
            return NULL;
        *scale = *v;
        return k1s_ctrl_str(ref, "uid");
    }
    if (!o)
        return NULL;
    *scale = replicas_of(o);
    return k1s_ctrl_str(json_object_get(o, "metadata"), "uid");
}

/*
 * The expected number of pods: the sum of the scales of the pods'
 * controllers. Pods without a controller are counted in *unmanaged. On
 * failure returns -1 with *err set (new string).
 */
static int expected_scale(disruption_t *d, const char *pdb_key, const json_t *pdb, json_t **pods,
                          int n, json_t *to_fetch, int64_t *out, int *unmanaged, char **err)
{
    const char *ns = k1s_ctrl_str(json_object_get(pdb, "metadata"), "namespace");
    /* scales by the controller's uid: a Deployment's pods of several ReplicaSets count once */
    k1s_strmap_t scales = {0};
    int rc = 0;
    for (int i = 0; i < n; i++) {
        json_t *ref = k1s_ctrl_controller_ref(pods[i]);
        if (!ref) {
            (*unmanaged)++;
            continue;
        }
        if (k1s_strmap_get(&scales, k1s_ctrl_str(ref, "uid")))
            continue;
        int64_t scale = 0;
        const char *uid = find_scale(d, pdb_key, ns, ref, to_fetch, &scale);
        if (!uid) {
            *err = k1s_xasprintf("found no controllers for pod \"%s\"",
                                 k1s_ctrl_str(json_object_get(pods[i], "metadata"), "name"));
            k1s_recorder_event(d->ctx->recorder, pdb, "Warning", "NoControllers", "%s", *err);
            rc = -1;
            break;
        }
        int64_t *v = k1s_strmap_get(&scales, uid);
        if (!v) {
            v = k1s_xmalloc(sizeof(*v));
            k1s_strmap_set(&scales, uid, v);
        }
        *v = scale;
    }
    int64_t total = 0;
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&scales, &i, &k, &v);) {
        total += *(int64_t *)v;
        free(v);
    }
    k1s_strmap_free(&scales);
    if (rc == 0)
        *out = total;
    return rc;
}

typedef struct {
    int64_t expected, desired;
    int unmanaged;
} counts_t;

static int expected_counts(disruption_t *d, const char *pdb_key, const json_t *pdb, json_t **pods,
                           int n, json_t *to_fetch, counts_t *c, char **err)
{
    const json_t *spec = json_object_get(pdb, "spec");
    const json_t *max_un = json_object_get(spec, "maxUnavailable");
    const json_t *min_av = json_object_get(spec, "minAvailable");
    c->expected = c->desired = 0;
    if (max_un && !json_is_null(max_un)) {
        if (expected_scale(d, pdb_key, pdb, pods, n, to_fetch, &c->expected, &c->unmanaged, err) <
            0)
            return -1;
        int64_t mu;
        if (scaled_value(max_un, c->expected, &mu) < 0) {
            *err = k1s_xstrdup("invalid value for IntOrString: invalid type: string is not a "
                               "percentage");
            return -1;
        }
        c->desired = c->expected - mu;
        if (c->desired < 0)
            c->desired = 0;
    } else if (json_is_integer(min_av)) {
        c->desired = json_integer_value(min_av);
        c->expected = n;
    } else if (json_is_string(min_av)) {
        if (expected_scale(d, pdb_key, pdb, pods, n, to_fetch, &c->expected, &c->unmanaged, err) <
            0)
            return -1;
        if (scaled_value(min_av, c->expected, &c->desired) < 0) {
            *err = k1s_xstrdup("invalid value for IntOrString: invalid type: string is not a "
                               "percentage");
            return -1;
        }
    }
    return 0;
}

/* The selector as kubectl prints it ("app=web"); new string. */
static char *selector_string(const json_t *sel)
{
    k1s_err_t err = {0};
    k1s_label_selector_t *ls = k1s_label_selector_from_json(sel, &err);
    char *s = ls ? k1s_label_selector_string(ls) : k1s_xstrdup("");
    k1s_label_selector_free(ls);
    k1s_err_clear(&err);
    return s;
}

static bool pod_ready(const json_t *pod)
{
    return k1s_pod_is_ready(pod);
}

/* ---------- status ---------- */

static void now_str(char out[32])
{
    k1s_ctrl_format_time((int64_t)k1s_ctrl_now(), out);
}

/* Sets the DisruptionAllowed condition in st (status object), as UpdateDisruptionAllowedCondition.
 */
static void set_condition(json_t *st, bool allowed, const char *reason, const char *message,
                          int64_t observed)
{
    json_t *c = k1s_cond_ensure(st, "DisruptionAllowed");
    const char *status = allowed ? "True" : "False";
    if (strcmp(k1s_ctrl_str(c, "status"), status) || !json_object_get(c, "lastTransitionTime")) {
        char ts[32];
        now_str(ts);
        json_object_set_new(c, "lastTransitionTime", json_string(ts));
    }
    json_object_set_new(c, "status", json_string(status));
    json_object_set_new(c, "reason", json_string(reason));
    json_object_set_new(c, "message", json_string(message));
    json_object_set_new(c, "observedGeneration", json_integer(observed));
}

static void status_written(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    if (res->status >= 200 && res->status < 300) {
        k1s_workqueue_forget(w->d->queue, w->key);
    } else if (res->status != 404) {
        k1s_debug("disruption: updating status of %s: %d %s", w->key, res->status, res->message);
        k1s_workqueue_add_rate_limited(w->d->queue, w->key);
    }
    k1s_workqueue_done(w->d->queue, w->key);
    free(w->key);
    free(w);
}

/* Writes st (taken) as pdb's status if it differs; returns true if a write went out. */
static bool write_status(disruption_t *d, const char *key, const json_t *pdb, json_t *st)
{
    if (json_equal(st, json_object_get(pdb, "status"))) {
        json_decref(st);
        return false;
    }
    json_t *obj = json_deep_copy(pdb);
    json_object_set_new(obj, "status", st);
    const json_t *md = json_object_get(pdb, "metadata");
    write_t *w = k1s_xcalloc(1, sizeof(*w));
    w->d = d;
    w->key = k1s_xstrdup(key);
    k1s_client_update_status(d->ctx->client, &pdbs_gvr, k1s_ctrl_str(md, "namespace"), obj,
                             status_written, w);
    json_decref(obj);
    return true;
}

/* The status a budget gets when its expected count cannot be worked out (failSafe). */
static json_t *fail_safe_status(const json_t *pdb, const char *err)
{
    json_t *st = json_deep_copy(json_object_get(pdb, "status"));
    if (!json_is_object(st)) {
        json_decref(st);
        st = json_object();
    }
    int64_t gen =
        json_integer_value(json_object_get(json_object_get(pdb, "metadata"), "generation"));
    json_object_set_new(st, "disruptionsAllowed", json_integer(0));
    json_object_set_new(st, "observedGeneration", json_integer(gen));
    set_condition(st, false, "SyncFailed", err, gen);
    return st;
}

/* ---------- scales of other controllers ---------- */

/* Drops the scales read for the budget key (each is used by one sync only). */
static void forget_fetched(disruption_t *d, const char *key)
{
    size_t klen = strlen(key);
    const char *k;
    void *v;
    char **drop = NULL;
    size_t n = 0;
    for (size_t i = 0; k1s_strmap_next(&d->fetched, &i, &k, &v);) {
        if (!strncmp(k, key, klen) && k[klen] == '\n') {
            drop = k1s_xrealloc(drop, (n + 1) * sizeof(*drop));
            drop[n++] = k1s_xstrdup(k);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(k1s_strmap_del(&d->fetched, drop[i]));
        free(drop[i]);
    }
    free(drop);
}

static void lookup_free(lookup_t *l)
{
    free(l->pdb_key);
    free(l->uid);
    free(l->group);
    free(l->version);
    free(l->kind);
    free(l->ns);
    free(l->name);
    free(l);
}

/* The lookup is over with scale (-1: none): record it; the last one queues the sync again. */
static void lookup_done(lookup_t *l, int64_t scale)
{
    disruption_t *d = l->d;
    char *fk = k1s_xasprintf("%s\n%s", l->pdb_key, l->uid);
    int64_t *v = k1s_xmalloc(sizeof(*v));
    *v = scale;
    free(k1s_strmap_set(&d->fetched, fk, v));
    free(fk);
    K1S_LIST_DEL(d->lookups, l);
    if (--*l->left == 0) {
        free(l->left);
        k1s_workqueue_add(d->queue, l->pdb_key);
        k1s_workqueue_done(d->queue, l->pdb_key);
    }
    lookup_free(l);
}

static void scale_read(const k1s_client_result_t *res, void *arg)
{
    lookup_t *l = arg;
    int64_t scale = -1;
    const json_t *md = json_object_get(res->obj, "metadata");
    if (res->status == 200 && !strcmp(k1s_ctrl_str(md, "uid"), l->uid)) {
        json_t *r = json_object_get(json_object_get(res->obj, "spec"), "replicas");
        scale = json_is_integer(r) ? json_integer_value(r) : 0;
    } else if (res->status != 404) {
        k1s_debug("disruption: reading the scale of %s %s/%s: %d %s", l->kind, l->ns, l->name,
                  res->status, res->message);
    }
    lookup_done(l, scale);
}

static void read_scale(lookup_t *l, const char *plural)
{
    k1s_gvr_t gvr = {l->group, l->version, plural, true};
    char *path = k1s_client_path(&gvr, l->ns, l->name, "scale");
    k1s_client_request(l->d->ctx->client, "GET", path, NULL, NULL, scale_read, l);
    free(path);
}

static char *gvk_key(const lookup_t *l)
{
    return k1s_xasprintf("%s/%s/%s", l->group, l->version, l->kind);
}

/* Discovery of the controller's group version: which resource is its kind. */
static void discovered(const k1s_client_result_t *res, void *arg)
{
    lookup_t *l = arg;
    const char *plural = "";
    json_t *rs = json_object_get(res->obj, "resources");
    size_t i;
    json_t *r;
    json_array_foreach(rs, i, r)
    {
        const char *name = k1s_ctrl_str(r, "name");
        if (!strchr(name, '/') && !strcmp(k1s_ctrl_str(r, "kind"), l->kind) &&
            json_is_true(json_object_get(r, "namespaced"))) {
            plural = name;
            break;
        }
    }
    if (res->status == 200) {
        char *k = gvk_key(l);
        free(k1s_strmap_set(&l->d->plurals, k, k1s_xstrdup(plural)));
        free(k);
    }
    if (!*plural) {
        lookup_done(l, -1);
        return;
    }
    read_scale(l, plural);
}

/* Reads the scales of the controllers in refs for the budget key, then syncs it again. */
static void fetch_scales(disruption_t *d, const char *key, const json_t *refs)
{
    int *left = k1s_xmalloc(sizeof(*left));
    *left = (int)json_array_size(refs);
    char *ns, *name;
    k1s_ctrl_split_key(key, &ns, &name);
    size_t i;
    json_t *ref;
    json_array_foreach(refs, i, ref)
    {
        lookup_t *l = k1s_xcalloc(1, sizeof(*l));
        l->d = d;
        l->left = left;
        l->pdb_key = k1s_xstrdup(key);
        l->uid = k1s_xstrdup(k1s_ctrl_str(ref, "uid"));
        l->kind = k1s_xstrdup(k1s_ctrl_str(ref, "kind"));
        l->name = k1s_xstrdup(k1s_ctrl_str(ref, "name"));
        l->ns = k1s_xstrdup(ns);
        const char *av = k1s_ctrl_str(ref, "apiVersion");
        const char *slash = strchr(av, '/');
        l->group = slash ? k1s_xstrndup(av, (size_t)(slash - av)) : k1s_xstrdup("");
        l->version = k1s_xstrdup(slash ? slash + 1 : av);
        K1S_LIST_ADD(d->lookups, l);
        char *k = gvk_key(l);
        const char *plural = k1s_strmap_get(&d->plurals, k);
        free(k);
        if (plural && *plural) {
            read_scale(l, plural);
        } else if (plural) {
            lookup_done(l, -1);
        } else {
            char *path = *l->group ? k1s_xasprintf("/apis/%s/%s", l->group, l->version)
                                   : k1s_xasprintf("/api/%s", l->version);
            k1s_client_request(d->ctx->client, "GET", path, NULL, NULL, discovered, l);
            free(path);
        }
    }
    free(ns);
    free(name);
}

static void sync_pdb(k1s_workqueue_t *q, const char *key, void *arg)
{
    disruption_t *d = arg;
    if (!k1s_informer_has_synced(d->pods) || !k1s_informer_has_synced(d->rss) ||
        !k1s_informer_has_synced(d->deps) || !k1s_informer_has_synced(d->stss)) {
        /* counting from half-filled caches would report pods missing: wait for them */
        k1s_workqueue_add_after(q, key, 200);
        k1s_workqueue_done(q, key);
        return;
    }
    json_t *pdb = k1s_ctrl_get_by_key(d->pdbs, key);
    if (!pdb || k1s_ctrl_deleting(pdb)) {
        forget_fetched(d, key);
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
        return;
    }
    const json_t *md = json_object_get(pdb, "metadata");
    const char *ns = k1s_ctrl_str(md, "namespace");
    json_t *sel = json_object_get(json_object_get(pdb, "spec"), "selector");
    json_t **all;
    int nall = k1s_informer_by_index(d->pods, "namespace", ns, &all);
    json_t **pods = k1s_xcalloc((size_t)(nall > 0 ? nall : 0) + 1, sizeof(*pods));
    int n = 0;
    /* a missing selector selects nothing, {} every pod of the namespace (policy/v1) */
    k1s_err_t serr = {0};
    k1s_label_selector_t *ls =
        sel && !json_is_null(sel) ? k1s_label_selector_from_json(sel, &serr) : NULL;
    for (int i = 0; ls && i < nall; i++) {
        if (k1s_label_selector_matches(
                ls, json_object_get(json_object_get(all[i], "metadata"), "labels")))
            pods[n++] = all[i];
    }
    k1s_label_selector_free(ls);
    k1s_err_clear(&serr);
    if (nall >= 0)
        free(all);
    if (n == 0)
        k1s_recorder_event(d->ctx->recorder, pdb, "Normal", "NoPods", "No matching pods found");

    counts_t c = {0};
    char *err = NULL;
    json_t *st;
    double now = k1s_ctrl_now();
    double recheck = -1;
    json_t *to_fetch = json_array();
    int rc = expected_counts(d, key, pdb, pods, n, to_fetch, &c, &err);
    if (json_array_size(to_fetch) > 0) {
        /* some controllers' scales are to be read first; the sync runs again after */
        free(err);
        free(pods);
        fetch_scales(d, key, to_fetch);
        json_decref(to_fetch);
        return;
    }
    json_decref(to_fetch);
    forget_fetched(d, key);
    if (rc < 0) {
        k1s_recorder_event(d->ctx->recorder, pdb, "Warning", "CalculateExpectedPodCountFailed",
                           "Failed to calculate the number of expected pods: %s", err);
        st = fail_safe_status(pdb, err);
        free(err);
    } else {
        if (c.unmanaged > 0) {
            char *sel_str = selector_string(sel);
            k1s_recorder_event(
                d->ctx->recorder, pdb, "Warning", "UnmanagedPods",
                "Pods selected by this PodDisruptionBudget (selector: %s) were found to be "
                "unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
                "which may result in undefined behavior. To account for these pods please set "
                "\".spec.minAvailable\" field of the PDB to an integer value.",
                sel_str);
            free(sel_str);
        }
        /* buildDisruptedPodMap: evictions whose pods are not yet being deleted */
        const json_t *old_dp = json_object_get(json_object_get(pdb, "status"), "disruptedPods");
        json_t *dp = json_object();
        for (int i = 0; i < n; i++) {
            const json_t *pmd = json_object_get(pods[i], "metadata");
            const char *name = k1s_ctrl_str(pmd, "name");
            const char *t = json_string_value(json_object_get(old_dp, name));
            if (!t || k1s_ctrl_deleting(pods[i]))
                continue;
            int64_t at = k1s_ctrl_parse_time(t);
            double expires = (double)at + DELETION_TIMEOUT_S;
            if (at < 0 || expires < now) {
                k1s_debug("disruption: pod %s/%s was expected to be deleted at %s but it was not",
                          ns, name, t);
                continue;
            }
            json_object_set_new(dp, name, json_string(t));
            if (recheck < 0 || expires < recheck)
                recheck = expires;
        }
        int64_t healthy = 0;
        for (int i = 0; i < n; i++) {
            const char *name = k1s_ctrl_str(json_object_get(pods[i], "metadata"), "name");
            if (k1s_ctrl_deleting(pods[i]) || json_object_get(dp, name))
                continue;
            if (pod_ready(pods[i]))
                healthy++;
        }
        int64_t allowed = healthy - c.desired;
        if (c.expected <= 0 || allowed <= 0)
            allowed = 0;
        int64_t gen = json_integer_value(json_object_get(md, "generation"));
        st = json_deep_copy(json_object_get(pdb, "status"));
        if (!json_is_object(st)) {
            json_decref(st);
            st = json_object();
        }
        json_object_set_new(st, "currentHealthy", json_integer(healthy));
        json_object_set_new(st, "desiredHealthy", json_integer(c.desired));
        json_object_set_new(st, "expectedPods", json_integer(c.expected));
        json_object_set_new(st, "disruptionsAllowed", json_integer(allowed));
        if (json_object_size(dp) > 0)
            json_object_set(st, "disruptedPods", dp);
        else
            json_object_del(st, "disruptedPods");
        json_decref(dp);
        json_object_set_new(st, "observedGeneration", json_integer(gen));
        set_condition(st, allowed > 0, allowed > 0 ? "SufficientPods" : "InsufficientPods", "",
                      gen);
    }
    free(pods);
    if (recheck > 0) {
        double ms = (recheck - now) * 1000.0 + 100.0;
        k1s_workqueue_add_after(q, key, ms > 0 ? (uint64_t)ms : 0);
    }
    if (!write_status(d, key, pdb, st)) {
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
    }
}

/* ---------- lifecycle ---------- */

static void *disruption_start(k1s_ctrl_ctx_t *ctx)
{
    disruption_t *d = k1s_xcalloc(1, sizeof(*d));
    d->ctx = ctx;
    d->pdbs = k1s_informer_factory_get(ctx->factory, &pdbs_gvr);
    d->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    d->rss = k1s_informer_factory_get(ctx->factory, &rss_gvr);
    d->deps = k1s_informer_factory_get(ctx->factory, &deps_gvr);
    d->stss = k1s_informer_factory_get(ctx->factory, &stss_gvr);
    k1s_ctrl_index_namespace(d->pdbs);
    k1s_ctrl_index_namespace(d->pods);
    d->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, sync_pdb, d);
    d->stale = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, sync_stale, d);
    k1s_informer_handlers_t ph = {
        .on_add = k1s_ctrl_enqueue_obj, .on_update = k1s_ctrl_enqueue_new, .arg = d->queue};
    k1s_informer_add_handlers(d->pdbs, &ph);
    k1s_informer_handlers_t podh = {
        .on_add = pod_add, .on_update = pod_update, .on_delete = pod_delete, .arg = d};
    k1s_informer_add_handlers(d->pods, &podh);
    return d;
}

static void disruption_stop(void *state)
{
    disruption_t *d = state;
    if (!d)
        return;
    k1s_workqueue_free(d->queue);
    k1s_workqueue_free(d->stale);
    while (d->lookups) {
        lookup_t *l = d->lookups;
        d->lookups = l->next;
        if (--*l->left == 0)
            free(l->left);
        lookup_free(l);
    }
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&d->plurals, &i, &k, &v);)
        free(v);
    k1s_strmap_free(&d->plurals);
    for (size_t i = 0; k1s_strmap_next(&d->fetched, &i, &k, &v);)
        free(v);
    k1s_strmap_free(&d->fetched);
    free(d);
}

const k1s_controller_def_t k1s_ctrl_disruption = {
    .name = "disruption",
    .service_account = "disruption-controller",
    .component = "controllermanager",
    .start = disruption_start,
    .stop = disruption_stop,
};
