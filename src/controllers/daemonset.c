/*
 * The DaemonSet controller, as kube-controller-manager's: one pod per
 * eligible node (the template's nodeSelector and required node affinity,
 * the node's NoSchedule/NoExecute taints against the template's
 * tolerations plus the ones every daemon pod gets), following nodes as
 * they join, leave and change. Pods are created with a required node
 * affinity to their node (matchFields metadata.name) and placed by the
 * scheduler. RollingUpdate replaces out-of-date pods with at most
 * maxUnavailable of them unavailable at once; OnDelete waits for pods to be
 * deleted. ControllerRevisions keep the template history for `kubectl
 * rollout history|undo`, pods carry their revision's hash in
 * controller-revision-hash, and the status is what `kubectl rollout status`
 * and `kubectl get daemonset` read.
 *
 * As the StatefulSet controller, a sync reads the informer caches and
 * issues writes; the key is done when they are answered, and expectations
 * keep the next sync from repeating creations and deletions the informer
 * has not shown yet. Pods are created in slow-start batches (1, 2, 4, ...)
 * that stop at the first refusal, as upstream's syncNodes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "controllers/history.h"
#include "lib/log.h"
#include "lib/util.h"
#include "scheduler/sched.h"
#include "scheduler/sched.h"

#define REVISION_LABEL "controller-revision-hash"
#define GENERATION_LABEL "pod-template-generation"
#define GENERATION_ANNOTATION "deprecated.daemonset.template.generation"

static const k1s_gvr_t ds_gvr = {"apps", "v1", "daemonsets", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};
static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_history_owner_t o; /* the DaemonSets, their pods and revisions, queue, expectations */
    k1s_informer_t *nodes;
    k1s_strmap_t backoff; /* "<ds key>/<node>" -> backoff_t, for failed pods */
} dsc_t;

typedef struct {
    uint64_t next_ns;  /* no deletion before */
    uint64_t delay_ms; /* the current back-off */
} backoff_t;

#define FAILED_BACKOFF_INITIAL_MS 1000
#define FAILED_BACKOFF_MAX_MS (15 * 60 * 1000)

/* The pod creations of a sync, started in slow-start batches. */
typedef struct {
    json_t *ds;
    json_t *pods; /* pod objects */
    size_t started;
    k1s_slow_start_t ss;
} creations_t;

typedef k1s_ctrl_op_t op_t;

typedef struct write {
    k1s_ctrl_write_t hdr; /* first */
    json_t *ds;
    char *pod;
    bool create;
} write_t;

static const json_t *spec_of(const json_t *o)
{
    return json_object_get(o, "spec");
}

/* ---- writes ---- */

static void creations_free(void *data)
{
    creations_t *cr = data;
    if (!cr)
        return;
    json_decref(cr->ds);
    json_decref(cr->pods);
    free(cr);
}

static void write_release(k1s_ctrl_write_t *hdr)
{
    write_t *w = (write_t *)hdr;
    json_decref(w->ds);
    free(w->pod);
    free(w);
}

static write_t *write_new(op_t *op, const json_t *ds, const char *pod)
{
    write_t *w = k1s_xcalloc(1, sizeof(*w));
    w->ds = json_incref((json_t *)ds);
    w->pod = pod ? k1s_xstrdup(pod) : NULL;
    k1s_ctrl_write_start(op, &w->hdr, write_release);
    return w;
}

static void write_free(write_t *w)
{
    k1s_ctrl_write_done(&w->hdr);
}

static void start_creations(op_t *op, int n);

static void created_cb(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    dsc_t *c = w->hdr.op->ctl;
    int skipped = 0;
    int next =
        k1s_slow_start_answered(&((creations_t *)w->hdr.op->data)->ss, k1s_ctrl_ok(res), &skipped);
    /* after a failed batch the rest is given up on (the op retries): not expected any more */
    for (; skipped > 0; skipped--)
        k1s_expect_observe_add(c->o.exp, w->hdr.op->key);
    start_creations(w->hdr.op, next);
    if (k1s_ctrl_ok(res)) {
        k1s_recorder_event(c->ctx->recorder, w->ds, "Normal", "SuccessfulCreate", "Created pod: %s",
                           k1s_ctrl_name(res->obj));
    } else {
        k1s_expect_observe_add(c->o.exp, w->hdr.op->key);
        w->hdr.op->failed = true;
        k1s_recorder_event(c->ctx->recorder, w->ds, "Warning", "FailedCreate", "Error creating: %s",
                           res->message);
    }
    write_free(w);
}

/* Starts the next n creations of op (a slow-start batch). */
static void start_creations(op_t *op, int n)
{
    creations_t *cr = op->data;
    for (; n > 0 && cr->started < json_array_size(cr->pods); n--) {
        write_t *w = write_new(op, cr->ds, NULL);
        k1s_client_create(((dsc_t *)op->ctl)->ctx->client, &pods_gvr, k1s_ctrl_namespace(cr->ds),
                          json_array_get(cr->pods, cr->started++), created_cb, w);
    }
}

static void deleted_cb(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    dsc_t *c = w->hdr.op->ctl;
    if (k1s_ctrl_ok(res)) {
        k1s_recorder_event(c->ctx->recorder, w->ds, "Normal", "SuccessfulDelete", "Deleted pod: %s",
                           w->pod);
    } else {
        k1s_expect_observe_del(c->o.exp, w->hdr.op->key);
        if (res->status != 404) {
            w->hdr.op->failed = true;
            k1s_recorder_event(c->ctx->recorder, w->ds, "Warning", "FailedDelete",
                               "Error deleting: %s", res->message);
        }
    }
    write_free(w);
}

static void other_cb(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    if (!k1s_ctrl_ok(res)) {
        k1s_debug("daemonset %s: write failed: %d %s", w->hdr.op->key, res->status, res->message);
        if (res->status != 404)
            w->hdr.op->failed = true;
    }
    write_free(w);
}

/*
 * Upstream's failedPodsBackoff: a failed daemon pod on a node is deleted
 * (and replaced) at once the first time, then after 1 s, 2 s, ... up to
 * 15 min, so that a pod failing at once does not spin. Returns whether a
 * deletion may happen now; if not, *wait_ms says when.
 */
static bool failed_backoff_allows(dsc_t *c, const char *key, const char *node, uint64_t *wait_ms)
{
    char *k = k1s_xasprintf("%s/%s", key, node);
    backoff_t *b = k1s_strmap_get(&c->backoff, k);
    uint64_t now = k1s_now_ns();
    if (b && now < b->next_ns) {
        *wait_ms = (b->next_ns - now) / 1000000 + 1;
        free(k);
        return false;
    }
    if (!b || now - b->next_ns > 2ull * FAILED_BACKOFF_MAX_MS * 1000000) {
        if (!b) {
            b = k1s_xcalloc(1, sizeof(*b));
            k1s_strmap_set(&c->backoff, k, b);
        }
        b->delay_ms = FAILED_BACKOFF_INITIAL_MS;
    } else {
        b->delay_ms =
            b->delay_ms * 2 > FAILED_BACKOFF_MAX_MS ? FAILED_BACKOFF_MAX_MS : b->delay_ms * 2;
    }
    b->next_ns = now + b->delay_ms * 1000000;
    free(k);
    return true;
}

/* ---- which nodes run a daemon pod ---- */

static void add_toleration(json_t *tols, const char *key, const char *effect)
{
    size_t i;
    json_t *t;
    json_array_foreach(tols, i, t)
    {
        if (!strcmp(k1s_ctrl_str(t, "key"), key) && !strcmp(k1s_ctrl_str(t, "effect"), effect))
            json_array_remove(tols, i--);
    }
    json_array_append_new(
        tols, json_pack("{s:s,s:s,s:s}", "key", key, "operator", "Exists", "effect", effect));
}

/* The tolerations every daemon pod gets (upstream's AddOrUpdateDaemonPodTolerations). */
static void add_daemon_tolerations(json_t *spec)
{
    json_t *tols = json_object_get(spec, "tolerations");
    if (!json_is_array(tols)) {
        tols = json_array();
        json_object_set_new(spec, "tolerations", tols);
    }
    add_toleration(tols, "node.kubernetes.io/not-ready", "NoExecute");
    add_toleration(tols, "node.kubernetes.io/unreachable", "NoExecute");
    add_toleration(tols, "node.kubernetes.io/disk-pressure", "NoSchedule");
    add_toleration(tols, "node.kubernetes.io/memory-pressure", "NoSchedule");
    add_toleration(tols, "node.kubernetes.io/pid-pressure", "NoSchedule");
    add_toleration(tols, "node.kubernetes.io/unschedulable", "NoSchedule");
    if (json_is_true(json_object_get(spec, "hostNetwork")))
        add_toleration(tols, "node.kubernetes.io/network-unavailable", "NoSchedule");
}

/*
 * Whether the daemon pod (template) should run on the node, and whether an
 * existing one should continue to (it tolerates the NoExecute taints).
 */
static void should_run(const json_t *pod, json_t *node, bool *run, bool *cont)
{
    *run = *cont = false;
    const json_t *spec = spec_of(pod);
    const char *nn = k1s_ctrl_str(spec, "nodeName");
    if (*nn && strcmp(nn, k1s_ctrl_name(node)))
        return;
    k1s_sched_node_t *n = k1s_sched_node_new(node);
    bool fits = k1s_sched_pod_matches_node_affinity(pod, n);
    k1s_sched_node_free(n);
    if (!fits)
        return;
    const json_t *tols = json_object_get(spec, "tolerations");
    bool no_schedule = false, no_execute = false;
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(spec_of(node), "taints"), i, t)
    {
        const char *effect = k1s_ctrl_str(t, "effect");
        bool exec = !strcmp(effect, "NoExecute");
        if (!exec && strcmp(effect, "NoSchedule"))
            continue;
        if (k1s_sched_tolerations_tolerate(tols, t))
            continue;
        no_schedule = true;
        no_execute |= exec;
    }
    *run = !no_schedule;
    *cont = !no_execute;
}

/* The node a daemon pod is for: spec.nodeName, or its matchFields metadata.name affinity. */
static const char *target_node(const json_t *pod)
{
    const json_t *spec = spec_of(pod);
    const char *nn = k1s_ctrl_str(spec, "nodeName");
    if (*nn)
        return nn;
    const json_t *terms = json_object_get(
        json_object_get(json_object_get(json_object_get(spec, "affinity"), "nodeAffinity"),
                        "requiredDuringSchedulingIgnoredDuringExecution"),
        "nodeSelectorTerms");
    size_t i, j;
    const json_t *term, *r;
    json_array_foreach(terms, i, term)
    {
        json_array_foreach(json_object_get(term, "matchFields"), j, r)
        {
            if (!strcmp(k1s_ctrl_str(r, "key"), "metadata.name") &&
                !strcmp(k1s_ctrl_str(r, "operator"), "In") &&
                json_array_size(json_object_get(r, "values")) == 1)
                return json_string_value(json_array_get(json_object_get(r, "values"), 0));
        }
    }
    return NULL;
}

typedef struct {
    dsc_t *c;
    op_t *op;
    const json_t *owner;
} claim_arg_t;

static void claim_start(const json_t *pod, char *body, void *arg)
{
    claim_arg_t *a = arg;
    const char *name = k1s_ctrl_str(json_object_get(pod, "metadata"), "name");
    write_t *w = write_new(a->op, a->owner, name);
    k1s_client_patch(a->c->ctx->client, &pods_gvr, k1s_ctrl_namespace(a->owner), name, NULL,
                     K1S_PATCH_STRATEGIC, body, false, other_cb, w);
    free(body);
}

/*
 * Adopts the orphans the DaemonSet selects (pods without a controller) and releases the pods it
 * controls that its selector no longer selects, as upstream's
 * ControllerRefManager (k1s_ctrl_claim_patch). Returns how many patches were
 * started.
 */
static int claim_pods(dsc_t *c, op_t *op, const json_t *owner)
{
    claim_arg_t a = {c, op, owner};
    return k1s_ctrl_claim_pods(c->o.pods, owner, NULL, NULL, claim_start, &a);
}

/* ---- the sync ---- */

/* Oldest first; on a tie, the further along phase first (upstream's
 * podByCreationTimestampAndPhase). */
static int by_age(const void *a, const void *b)
{
    const json_t *pa = *(json_t *const *)a, *pb = *(json_t *const *)b;
    int64_t ta =
        k1s_ctrl_parse_time(k1s_ctrl_str(json_object_get(pa, "metadata"), "creationTimestamp"));
    int64_t tb =
        k1s_ctrl_parse_time(k1s_ctrl_str(json_object_get(pb, "metadata"), "creationTimestamp"));
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return strcmp(k1s_ctrl_name(pa), k1s_ctrl_name(pb));
}

static bool pod_updated(const json_t *pod, const char *hash, const char *generation)
{
    const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
    if (generation && !strcmp(k1s_ctrl_str(labels, GENERATION_LABEL), generation))
        return true;
    return !strcmp(k1s_ctrl_str(labels, REVISION_LABEL), hash);
}

/* A new daemon pod for node from the template with hash. */
static json_t *new_pod(const json_t *ds, const json_t *tmpl, const char *node, const char *hash,
                       const char *generation)
{
    char *prefix = k1s_xasprintf("%s-", k1s_ctrl_name(ds));
    json_t *pod = k1s_ctrl_pod_from_template(tmpl, ds, prefix, NULL);
    free(prefix);
    json_t *md = json_object_get(pod, "metadata");
    json_t *labels = json_object_get(md, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(md, "labels", labels);
    }
    json_object_set_new(labels, REVISION_LABEL, json_string(hash));
    if (generation)
        json_object_set_new(labels, GENERATION_LABEL, json_string(generation));
    json_t *spec = json_object_get(pod, "spec");
    add_daemon_tolerations(spec);
    json_t *aff = json_object_get(spec, "affinity");
    if (!json_is_object(aff)) {
        aff = json_object();
        json_object_set_new(spec, "affinity", aff);
    }
    json_t *na = json_object_get(aff, "nodeAffinity");
    if (!json_is_object(na)) {
        na = json_object();
        json_object_set_new(aff, "nodeAffinity", na);
    }
    json_object_set_new(na, "requiredDuringSchedulingIgnoredDuringExecution",
                        json_pack("{s:[{s:[{s:s,s:s,s:[s]}]}]}", "nodeSelectorTerms", "matchFields",
                                  "key", "metadata.name", "operator", "In", "values", node));
    return pod;
}

static int64_t int_or_percent(const json_t *v, int64_t total, int64_t dflt)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    const char *s = json_string_value(v);
    if (!s || !*s)
        return dflt;
    char *end;
    double pct = strtod(s, &end);
    if (*end != '%')
        return atoll(s);
    return (int64_t)ceil(pct * (double)total / 100.0);
}

typedef struct {
    json_t *pods; /* node name -> array of the DaemonSet's pods */
} live_arg_t;

static bool revision_live(const json_t *rev, void *arg)
{
    const live_arg_t *a = arg;
    const char *hash =
        k1s_ctrl_str(json_object_get(json_object_get(rev, "metadata"), "labels"), REVISION_LABEL);
    const char *k;
    json_t *arr;
    json_object_foreach(a->pods, k, arr)
    {
        size_t i;
        json_t *p;
        json_array_foreach(arr, i, p)
        {
            if (!strcmp(k1s_ctrl_str(json_object_get(json_object_get(p, "metadata"), "labels"),
                                     REVISION_LABEL),
                        hash))
                return true;
        }
    }
    return false;
}

/* The revision of the current template, or NULL after starting the write that makes it. */
static json_t *ensure_revision(dsc_t *c, op_t *op, const json_t *ds, json_t **revs, int nrevs)
{
    write_t *w = write_new(op, ds, NULL);
    json_t *rev = k1s_history_ensure(c->ctx->client, c->o.revs, &ds_gvr, ds, revs, nrevs,
                                     REVISION_LABEL, other_cb, w);
    if (rev)
        write_free(w); /* no write needed */
    return rev;
}

static void set_count(json_t *st, const char *k, int64_t v, bool omit_zero)
{
    if (omit_zero && v == 0)
        json_object_del(st, k);
    else
        json_object_set_new(st, k, json_integer(v));
}

/* What one sync has found and decided. */
typedef struct {
    const json_t *probe; /* the template as a pod, with the daemon tolerations */
    json_t **nodes;
    size_t nn;
    json_t *by_node; /* node name -> the DaemonSet's pods for it */
    const char *hash, *generation;
    int min_ready;
    double now;
    int64_t desired;
    json_t *create_on; /* node names */
    json_t *to_delete; /* pods */
} plan_t;

static int64_t max_surge(const json_t *ds, int64_t desired)
{
    const json_t *st = json_object_get(spec_of(ds), "updateStrategy");
    if (!strcmp(k1s_ctrl_str(st, "type"), "OnDelete"))
        return 0;
    return int_or_percent(json_object_get(json_object_get(st, "rollingUpdate"), "maxSurge"),
                          desired, 0);
}

/* The node's up-to-date and old pods (not being deleted); false if it has two of a kind. */
static bool split_pods(const plan_t *pl, const json_t *pods, json_t **newp, json_t **oldp)
{
    *newp = *oldp = NULL;
    bool single = true;
    size_t j;
    json_t *p;
    json_array_foreach(pods, j, p)
    {
        if (k1s_ctrl_deleting(p))
            continue;
        json_t **slot = pod_updated(p, pl->hash, pl->generation) ? newp : oldp;
        if (*slot)
            single = false;
        *slot = p;
    }
    return single;
}

/*
 * Upstream's rollingUpdate: without maxSurge, old pods are deleted (and
 * recreated by the next sync) while at most maxUnavailable nodes lack an
 * available pod; with maxSurge, new pods start beside the old ones (at most
 * maxSurge at once) and an old pod goes once its node's new one is
 * available.
 */
static void rolling_update(const json_t *ds, plan_t *pl)
{
    const json_t *ru =
        json_object_get(json_object_get(spec_of(ds), "updateStrategy"), "rollingUpdate");
    const json_t *mu_v = json_object_get(ru, "maxUnavailable");
    int64_t mu = int_or_percent(mu_v, pl->desired, mu_v ? 0 : 1);
    int64_t ms = max_surge(ds, pl->desired);
    if (pl->desired > 0 && mu == 0 && ms == 0)
        mu = 1;
    json_t *candidates = json_array();
    if (ms > 0) {
        int64_t surge = 0;
        for (size_t i = 0; i < pl->nn; i++) {
            json_t *pods = json_object_get(pl->by_node, k1s_ctrl_name(pl->nodes[i]));
            json_t *newp, *oldp;
            if (!pods)
                continue;
            if (!split_pods(pl, pods, &newp, &oldp)) {
                surge++;
                continue;
            }
            if (!oldp)
                continue;
            bool run, cont;
            should_run(pl->probe, pl->nodes[i], &run, &cont);
            json_t *node = json_string(k1s_ctrl_name(pl->nodes[i]));
            if (newp) {
                if (k1s_pod_is_available(newp, pl->min_ready, pl->now))
                    json_array_append(pl->to_delete, oldp);
                else
                    surge++;
            } else if (!k1s_pod_is_available(oldp, pl->min_ready, pl->now)) {
                if (run)
                    json_array_append(pl->create_on, node);
                else
                    json_array_append(pl->to_delete, oldp);
            } else if (run && surge < ms) {
                json_array_append(candidates, node);
            }
            json_decref(node);
        }
        for (size_t j = 0; (int64_t)j < ms - surge && j < json_array_size(candidates); j++)
            json_array_append(pl->create_on, json_array_get(candidates, j));
        json_decref(candidates);
        return;
    }
    int64_t unavailable = 0;
    for (size_t i = 0; i < pl->nn; i++) {
        bool run, cont;
        should_run(pl->probe, pl->nodes[i], &run, &cont);
        if (!run)
            continue;
        json_t *pods = json_object_get(pl->by_node, k1s_ctrl_name(pl->nodes[i]));
        json_t *newp, *oldp;
        if (!split_pods(pl, pods, &newp, &oldp) || (!newp && !oldp) || (newp && oldp)) {
            unavailable++; /* the manage part of the sync sees to it */
        } else if (newp) {
            if (!k1s_pod_is_available(newp, pl->min_ready, pl->now))
                unavailable++;
        } else if (!k1s_pod_is_available(oldp, pl->min_ready, pl->now)) {
            json_array_append(pl->to_delete, oldp); /* not available anyway: replace it */
        } else if (unavailable < mu) {
            json_array_append(candidates, oldp);
        }
    }
    for (size_t j = 0; (int64_t)j < mu - unavailable && j < json_array_size(candidates); j++)
        json_array_append(pl->to_delete, json_array_get(candidates, j));
    json_decref(candidates);
}

/* The oldest of pods (a non-empty array). */
static json_t *oldest(json_t *pods)
{
    json_t *best = json_array_get(pods, 0);
    size_t j;
    json_t *p;
    json_array_foreach(pods, j, p)
    {
        if (by_age(&p, &best) < 0)
            best = p;
    }
    return best;
}

/*
 * What one node needs (upstream's podsShouldBeOnNode): a pod if it should
 * run one and has none; its failed pods replaced (with back-off) and all
 * but the oldest of its running ones deleted (with maxSurge, the oldest old
 * and the oldest new one are kept) if a pod may continue running there;
 * otherwise its pods deleted. Appends to create_on (node names) and
 * to_delete (pods); *wait gets a back-off's remaining seconds.
 */
static void manage_node(dsc_t *c, const json_t *ds, const char *key, const char *node, json_t *pods,
                        bool run, bool cont, const char *hash, const char *generation,
                        json_t *create_on, json_t *to_delete, double *wait)
{
    size_t np = json_array_size(pods);
    if (run && np == 0) {
        json_array_append_new(create_on, json_string(node));
        return;
    }
    if (!cont) {
        for (size_t j = 0; j < np; j++) {
            json_t *p = json_array_get(pods, j);
            if (!k1s_ctrl_deleting(p))
                json_array_append(to_delete, p);
        }
        return;
    }
    json_t **running = k1s_xmalloc((np + 1) * sizeof(*running));
    size_t nr = 0;
    for (size_t j = 0; j < np; j++) {
        json_t *p = json_array_get(pods, j);
        if (k1s_ctrl_deleting(p))
            continue;
        const char *phase = k1s_ctrl_str(json_object_get(p, "status"), "phase");
        if (!strcmp(phase, "Failed")) {
            uint64_t later;
            if (!failed_backoff_allows(c, key, node, &later)) {
                if (*wait == 0 || (double)later / 1000 < *wait)
                    *wait = (double)later / 1000;
                continue;
            }
            k1s_recorder_event(c->ctx->recorder, ds, "Warning", "FailedDaemonPod",
                               "Found failed daemon pod %s/%s on node %s, will try to kill it",
                               k1s_ctrl_namespace(p), k1s_ctrl_name(p), node);
            json_array_append(to_delete, p);
        } else if (!strcmp(phase, "Succeeded")) {
            json_array_append(to_delete, p);
        } else {
            running[nr++] = p;
        }
    }
    qsort(running, nr, sizeof(*running), by_age);
    bool surge = max_surge(ds, 1) > 0, kept_new = false, kept_old = false;
    for (size_t j = 0; j < nr; j++) {
        bool *kept = surge && pod_updated(running[j], hash, generation) ? &kept_new : &kept_old;
        if (*kept)
            json_array_append(to_delete, running[j]);
        *kept = true;
    }
    free(running);
}

static void sync_ds(k1s_workqueue_t *q, const char *key, void *arg)
{
    dsc_t *c = arg;
    json_t *ds = k1s_ctrl_sync_object(q, key, k1s_informer_factory_synced(c->ctx->factory),
                                      c->o.owners, c->o.exp);
    if (!ds)
        return;
    if (k1s_ctrl_deleting(ds)) {
        k1s_workqueue_done(q, key);
        return;
    }
    op_t *op = k1s_ctrl_op_new(&c->o.ops, c, key);
    json_t **revs = NULL;
    int nrevs = k1s_history_owned(c->o.revs, ds, &revs);
    if (nrevs < 0)
        nrevs = 0;
    json_t *rev = ensure_revision(c, op, ds, revs, nrevs);
    if (!rev) {
        free(revs);
        k1s_ctrl_op_unref(op);
        return;
    }
    if (claim_pods(c, op, ds) > 0) {
        /* adopted or released pods come back through the informer */
        free(revs);
        k1s_ctrl_op_unref(op);
        return;
    }
    const char *hash =
        k1s_ctrl_str(json_object_get(json_object_get(rev, "metadata"), "labels"), REVISION_LABEL);
    const char *generation = k1s_ctrl_str(
        json_object_get(json_object_get(ds, "metadata"), "annotations"), GENERATION_ANNOTATION);
    if (!*generation)
        generation = NULL;
    json_t *tmpl = k1s_history_template(rev);
    const json_t *spec = spec_of(ds);
    int min_ready = (int)json_integer_value(json_object_get(spec, "minReadySeconds"));
    double now = k1s_ctrl_now(), wait = 0;

    /* the DaemonSet's pods by node */
    const char *uid = k1s_ctrl_str(json_object_get(ds, "metadata"), "uid");
    json_t **owned = NULL;
    int n = k1s_informer_by_index(c->o.pods, "owner", uid, &owned);
    json_t *by_node = json_object();
    for (int i = 0; i < n; i++) {
        const json_t *ref = k1s_ctrl_controller_ref(owned[i]);
        if (!ref || strcmp(k1s_ctrl_str(ref, "uid"), uid))
            continue;
        const char *node = target_node(owned[i]);
        if (!node)
            continue;
        json_t *arr = json_object_get(by_node, node);
        if (!arr) {
            arr = json_array();
            json_object_set_new(by_node, node, arr);
        }
        json_array_append(arr, owned[i]);
    }
    free(owned);

    /* the template as a pod, with the daemon tolerations, to match nodes against */
    const json_t *tspec = json_object_get(tmpl, "spec");
    json_t *probe =
        json_pack("{s:o}", "spec", json_is_object(tspec) ? json_deep_copy(tspec) : json_object());
    add_daemon_tolerations(json_object_get(probe, "spec"));

    json_t **nodes = NULL;
    size_t nn = k1s_informer_list(c->nodes, &nodes);
    json_t *create_on = json_array();
    json_t *to_delete = json_array();
    int64_t desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
    json_t *seen = json_object();
    /* nothing is decided while creations and deletions are on their way */
    bool act = k1s_expect_satisfied(c->o.exp, key);
    for (size_t i = 0; i < nn; i++) {
        bool run, cont;
        should_run(probe, nodes[i], &run, &cont);
        const char *node = k1s_ctrl_name(nodes[i]);
        json_object_set_new(seen, node, json_true());
        json_t *pods = json_object_get(by_node, node);
        size_t np = json_array_size(pods);
        if (act)
            manage_node(c, ds, key, node, pods, run, cont, hash, generation, create_on, to_delete,
                        &wait);
        if (run) {
            desired++;
            if (!np)
                continue;
            current++;
            json_t *p = oldest(pods);
            if (k1s_pod_is_ready(p)) {
                ready++;
                if (k1s_pod_is_available(p, min_ready, now)) {
                    available++;
                } else {
                    double left = (double)k1s_pod_ready_since(p) + min_ready - now;
                    if (left > 0 && (wait == 0 || left < wait))
                        wait = left;
                }
            }
            if (pod_updated(p, hash, generation))
                updated++;
        } else if (np) {
            misscheduled++;
        }
    }
    /* unscheduled pods for nodes that are gone */
    const char *k;
    json_t *arr;
    json_object_foreach(by_node, k, arr)
    {
        if (!act || json_object_get(seen, k))
            continue;
        size_t j;
        json_t *p;
        json_array_foreach(arr, j, p)
        {
            if (!*k1s_ctrl_str(spec_of(p), "nodeName") && !k1s_ctrl_deleting(p))
                json_array_append(to_delete, p);
        }
    }

    /* rolling update, once nothing else is in flight */
    plan_t pl = {probe,     nodes, nn,      by_node,   hash,     generation,
                 min_ready, now,   desired, create_on, to_delete};
    if (act && json_array_size(create_on) == 0 && json_array_size(to_delete) == 0 &&
        strcmp(k1s_ctrl_str(json_object_get(spec, "updateStrategy"), "type"), "OnDelete"))
        rolling_update(ds, &pl);

    /* act */
    if (act) {
        k1s_expect(c->o.exp, key, (int)json_array_size(create_on), (int)json_array_size(to_delete));
        size_t j;
        json_t *v;
        if (json_array_size(create_on)) {
            creations_t *cr = k1s_xcalloc(1, sizeof(*cr));
            cr->ds = json_incref(ds);
            cr->pods = json_array();
            json_array_foreach(create_on, j, v)
            {
                json_array_append_new(cr->pods,
                                      new_pod(ds, tmpl, json_string_value(v), hash, generation));
            }
            op->data = cr;
            op->free_data = creations_free;
            start_creations(op, k1s_slow_start_begin(&cr->ss, (int)json_array_size(cr->pods)));
        }
        json_array_foreach(to_delete, j, v)
        {
            write_t *w = write_new(op, ds, k1s_ctrl_name(v));
            k1s_delete_opts_t opts = {.precondition_uid =
                                          k1s_ctrl_str(json_object_get(v, "metadata"), "uid"),
                                      .grace_period_s = -1};
            k1s_client_delete(c->ctx->client, &pods_gvr, k1s_ctrl_namespace(ds), k1s_ctrl_name(v),
                              &opts, deleted_cb, w);
        }
    }

    /* status */
    const json_t *old = json_object_get(ds, "status");
    json_t *st = json_is_object(old) ? json_deep_copy(old) : json_object();
    set_count(st, "currentNumberScheduled", current, false);
    set_count(st, "numberMisscheduled", misscheduled, false);
    set_count(st, "desiredNumberScheduled", desired, false);
    set_count(st, "numberReady", ready, false);
    set_count(st, "observedGeneration",
              json_integer_value(json_object_get(json_object_get(ds, "metadata"), "generation")),
              false);
    set_count(st, "updatedNumberScheduled", updated, true);
    set_count(st, "numberAvailable", available, true);
    set_count(st, "numberUnavailable", desired - available, true);
    if (!json_equal(st, (json_t *)old)) {
        json_t *copy = json_deep_copy(ds);
        json_object_set(copy, "status", st);
        write_t *w = write_new(op, ds, NULL);
        k1s_client_update_status(c->ctx->client, &ds_gvr, k1s_ctrl_namespace(ds), copy, other_cb,
                                 w);
        json_decref(copy);
    }
    json_decref(st);

    live_arg_t la = {by_node};
    const json_t *rhl = json_object_get(spec, "revisionHistoryLimit");
    k1s_history_truncate(c->ctx->client, revs, nrevs,
                         json_is_integer(rhl) ? json_integer_value(rhl) : 10, revision_live, &la);
    if (wait > 0)
        k1s_workqueue_add_after(q, key, (uint64_t)(wait * 1000) + 50);
    json_decref(seen);
    json_decref(create_on);
    json_decref(to_delete);
    json_decref(probe);
    json_decref(by_node);
    json_decref(tmpl);
    free(nodes);
    free(revs);
    k1s_ctrl_op_unref(op);
}

/* ---- informer handlers ---- */

static void enqueue_all(dsc_t *c)
{
    json_t **all = NULL;
    size_t n = k1s_informer_list(c->o.owners, &all);
    for (size_t i = 0; i < n; i++)
        k1s_ctrl_enqueue(c->o.queue, all[i]);
    free(all);
}

static void node_add(json_t *obj, void *arg)
{
    (void)obj;
    enqueue_all(arg);
}

/* Heartbeats change nothing a DaemonSet looks at: labels, taints and names do. */
static void node_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    const json_t *mo = json_object_get(old_obj, "metadata"),
                 *mn = json_object_get(new_obj, "metadata");
    if (json_equal(json_object_get(mo, "labels"), json_object_get(mn, "labels")) &&
        json_equal(json_object_get(spec_of(old_obj), "taints"),
                   json_object_get(spec_of(new_obj), "taints")))
        return;
    enqueue_all(arg);
}

static void *dsc_start(k1s_ctrl_ctx_t *ctx)
{
    dsc_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    k1s_history_owner_start(&c->o, ctx, &ds_gvr, "DaemonSet", sync_ds, c);
    c->nodes = k1s_informer_factory_get(ctx->factory, &nodes_gvr);
    k1s_informer_handlers_t nh = {node_add, node_update, node_add, c};
    k1s_informer_add_handlers(c->nodes, &nh);
    return c;
}

static void dsc_stop(void *state)
{
    dsc_t *c = state;
    if (!c)
        return;
    k1s_history_owner_stop(&c->o);
    k1s_ctrl_strmap_free_all(&c->backoff);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_daemonset = {
    .name = "daemonset",
    .service_account = "daemon-set-controller",
    .component = "daemonset-controller",
    .start = dsc_start,
    .stop = dsc_stop,
};
