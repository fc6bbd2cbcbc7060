/*
 * The taint eviction controller (kube-controller-manager's
 * "taint-eviction-controller", service account taint-eviction-controller):
 * deletes the pods of nodes with NoExecute taints they do not tolerate.
 *
 * A pod on a node with a NoExecute taint it does not tolerate is deleted at
 * once; one that tolerates every such taint, some for tolerationSeconds
 * only, is deleted when the shortest of those runs out, counted from when
 * the controller first saw it tainted; a pod that tolerates them forever
 * stays. Before deleting, the pod gets the DisruptionTarget condition
 * (reason DeletionByTaintManager) and a TaintManagerEviction Event
 * ("Marking for deletion Pod ns/name"). A scheduled deletion is cancelled
 * ("Cancelling deletion of Pod ns/name") when the taints go, the pod comes
 * to tolerate them forever, or the pod goes.
 *
 * Each scheduled deletion is one libevent timer; nothing else runs while
 * nothing changes.
 */
#include <event2/event.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};

typedef struct taintevict taintevict_t;

/* A scheduled (or done) deletion of one pod (TimedWorker). */
typedef struct {
    taintevict_t *te;
    char *key; /* ns/name */
    double created;
    struct event *timer; /* NULL once fired */
} work_t;

struct taintevict {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *nodes, *pods;
    k1s_strmap_t work; /* pod key -> work_t */
};

/* ---------- taints and tolerations ---------- */

static bool tolerates(const json_t *tol, const json_t *taint)
{
    const char *eff = k1s_ctrl_str(tol, "effect");
    if (*eff && strcmp(eff, k1s_ctrl_str(taint, "effect")))
        return false;
    const char *key = k1s_ctrl_str(tol, "key");
    if (*key && strcmp(key, k1s_ctrl_str(taint, "key")))
        return false;
    const char *op = k1s_ctrl_str(tol, "operator");
    if (!*op || !strcmp(op, "Equal"))
        return !strcmp(k1s_ctrl_str(tol, "value"), k1s_ctrl_str(taint, "value"));
    return !strcmp(op, "Exists");
}

static bool no_execute(const json_t *taint)
{
    return !strcmp(k1s_ctrl_str(taint, "effect"), "NoExecute");
}

/* The node's NoExecute taints (new array). */
static json_t *no_execute_taints(const json_t *node)
{
    json_t *out = json_array();
    const json_t *taints = json_object_get(json_object_get(node, "spec"), "taints");
    size_t i;
    json_t *t;
    json_array_foreach(taints, i, t)
    {
        if (no_execute(t))
            json_array_append(out, t);
    }
    return out;
}

/*
 * How long pod may stay on a node with these NoExecute taints, in seconds:
 * 0 if it does not tolerate them all (or a toleration's seconds are <= 0),
 * -1 for ever, else the shortest tolerationSeconds among the tolerations
 * used (GetMatchingTolerations + getMinTolerationTime).
 */
static double toleration_time(const json_t *pod, const json_t *taints)
{
    const json_t *tols = json_object_get(json_object_get(pod, "spec"), "tolerations");
    double min = -1;
    size_t i, j;
    json_t *taint, *tol;
    json_array_foreach(taints, i, taint)
    {
        json_t *used = NULL;
        json_array_foreach(tols, j, tol)
        {
            if (tolerates(tol, taint)) {
                used = tol;
                break;
            }
        }
        if (!used)
            return 0;
        json_t *secs = json_object_get(used, "tolerationSeconds");
        if (!json_is_integer(secs))
            continue;
        double s = (double)json_integer_value(secs);
        if (s <= 0)
            return 0;
        if (min < 0 || s < min)
            min = s;
    }
    return min;
}

/* ---------- the work ---------- */

static void work_free(work_t *w)
{
    if (!w)
        return;
    if (w->timer)
        event_free(w->timer);
    free(w->key);
    free(w);
}

/* Cancels key's deletion; with an Event if one was still to come. */
static void cancel_work(taintevict_t *te, const char *key, bool event)
{
    work_t *w = k1s_strmap_del(&te->work, key);
    if (!w)
        return;
    if (w->timer && event) {
        json_t *pod = k1s_ctrl_get_by_key(te->pods, key);
        if (pod)
            k1s_recorder_event(te->ctx->recorder, pod, "Normal", "TaintManagerEviction",
                               "Cancelling deletion of Pod %s", key);
    }
    work_free(w);
}

typedef struct {
    taintevict_t *te;
    char *ns, *name;
} del_t;

static void del_free(del_t *d)
{
    free(d->ns);
    free(d->name);
    free(d);
}

static void deleted(const k1s_client_result_t *res, void *arg)
{
    del_t *d = arg;
    if (res->status >= 300 && res->status != 404) {
        /* let a later change schedule it again (the TimedWorkerQueue forgets failed work) */
        k1s_debug("taint eviction: deleting pod %s/%s: %d %s", d->ns, d->name, res->status,
                  res->message);
        char *key = k1s_xasprintf("%s/%s", d->ns, d->name);
        cancel_work(d->te, key, false);
        free(key);
    }
    del_free(d);
}

static void condition_added(const k1s_client_result_t *res, void *arg)
{
    del_t *d = arg;
    if (res->status >= 300 && res->status != 404)
        k1s_debug("taint eviction: DisruptionTarget on pod %s/%s: %d %s", d->ns, d->name,
                  res->status, res->message);
    if (res->status == 404) {
        del_free(d);
        return;
    }
    k1s_client_delete(d->te->ctx->client, &pods_gvr, d->ns, d->name, NULL, deleted, d);
}

/* The deletion is due: DisruptionTarget condition, Event, delete. */
static void fire(evutil_socket_t fd, short what, void *arg)
{
    work_t *w = arg;
    taintevict_t *te = w->te;
    event_free(w->timer);
    w->timer = NULL; /* kept, done, so that it is not scheduled again */
    json_t *pod = k1s_ctrl_get_by_key(te->pods, w->key);
    if (!pod)
        return;
    k1s_debug("taint eviction: deleting pod %s", w->key);
    k1s_recorder_event(te->ctx->recorder, pod, "Normal", "TaintManagerEviction",
                       "Marking for deletion Pod %s", w->key);
    del_t *d = k1s_xcalloc(1, sizeof(*d));
    d->te = te;
    k1s_ctrl_split_key(w->key, &d->ns, &d->name);
    json_t *c = NULL, *x;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, x)
    {
        if (!strcmp(k1s_ctrl_str(x, "type"), "DisruptionTarget"))
            c = x;
    }
    if (c && !strcmp(k1s_ctrl_str(c, "status"), "True") &&
        !strcmp(k1s_ctrl_str(c, "reason"), "DeletionByTaintManager")) {
        k1s_client_delete(te->ctx->client, &pods_gvr, d->ns, d->name, NULL, deleted, d);
        return;
    }
    /* a strategic merge patch of the one condition, for the pod we saw (PatchPodStatus) */
    char ts[32];
    k1s_ctrl_format_time((int64_t)k1s_ctrl_now(), ts);
    json_t *patch = json_pack("{s:{s:s}, s:{s:[{s:s, s:s, s:s, s:s, s:s}]}}", "metadata", "uid",
                              k1s_ctrl_str(json_object_get(pod, "metadata"), "uid"), "status",
                              "conditions", "type", "DisruptionTarget", "status", "True",
                              "lastTransitionTime", ts, "reason", "DeletionByTaintManager",
                              "message", "Taint manager: deleting due to NoExecute taint");
    char *body = json_dumps(patch, JSON_COMPACT);
    json_decref(patch);
    k1s_client_patch(te->ctx->client, &pods_gvr, d->ns, d->name, "status", K1S_PATCH_STRATEGIC,
                     body, false, condition_added, d);
    free(body);
}

static void add_work(taintevict_t *te, const char *key, double created, double at)
{
    if (k1s_strmap_get(&te->work, key))
        return;
    work_t *w = k1s_xcalloc(1, sizeof(*w));
    w->te = te;
    w->key = k1s_xstrdup(key);
    w->created = created;
    w->timer = evtimer_new(te->ctx->base, fire, w);
    k1s_strmap_set(&te->work, key, w);
    double d = at - k1s_ctrl_now();
    if (d < 0)
        d = 0;
    struct timeval tv = {.tv_sec = (time_t)d, .tv_usec = (suseconds_t)((d - floor(d)) * 1e6)};
    evtimer_add(w->timer, &tv);
}

/* processPodOnNode */
static void process_pod(taintevict_t *te, const json_t *pod, const json_t *taints, double now)
{
    char *key = k1s_ctrl_key(pod);
    if (json_array_size(taints) == 0) {
        cancel_work(te, key, true);
        free(key);
        return;
    }
    double t = toleration_time(pod, taints);
    if (t == 0) {
        work_t *w = k1s_strmap_get(&te->work, key);
        if (!w || w->timer) {
            cancel_work(te, key, true);
            add_work(te, key, now, now);
        }
    } else if (t < 0) {
        cancel_work(te, key, true);
    } else {
        work_t *w = k1s_strmap_get(&te->work, key);
        if (!w || w->created >= now) {
            cancel_work(te, key, true);
            add_work(te, key, now, now + t);
        }
    }
    free(key);
}

/* ---------- handlers ---------- */

static void pod_changed(taintevict_t *te, const json_t *pod)
{
    const char *node_name = k1s_ctrl_str(json_object_get(pod, "spec"), "nodeName");
    if (!*node_name)
        return;
    json_t *node = k1s_informer_get(te->nodes, NULL, node_name);
    json_t *taints = node ? no_execute_taints(node) : json_array();
    if (json_array_size(taints) || node)
        process_pod(te, pod, taints, k1s_ctrl_now());
    json_decref(taints);
}

static void pod_add(json_t *pod, void *arg)
{
    pod_changed(arg, pod);
}

static void pod_update(json_t *old, json_t *pod, void *arg)
{
    const json_t *os = json_object_get(old, "spec"), *ns = json_object_get(pod, "spec");
    if (json_equal(json_object_get(os, "tolerations"), json_object_get(ns, "tolerations")) &&
        !strcmp(k1s_ctrl_str(os, "nodeName"), k1s_ctrl_str(ns, "nodeName")))
        return;
    pod_changed(arg, pod);
}

static void pod_delete(json_t *pod, void *arg)
{
    char *key = k1s_ctrl_key(pod);
    cancel_work(arg, key, true);
    free(key);
}

static void node_changed(taintevict_t *te, const json_t *node)
{
    json_t *taints = no_execute_taints(node);
    json_t **pods;
    int n = k1s_informer_by_index(te->pods, "nodeName",
                                  k1s_ctrl_str(json_object_get(node, "metadata"), "name"), &pods);
    double now = k1s_ctrl_now();
    for (int i = 0; i < n; i++)
        process_pod(te, pods[i], taints, now);
    if (n >= 0)
        free(pods);
    json_decref(taints);
}

static void node_add(json_t *node, void *arg)
{
    node_changed(arg, node);
}

static void node_update(json_t *old, json_t *node, void *arg)
{
    json_t *a = no_execute_taints(old), *b = no_execute_taints(node);
    bool same = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (!same)
        node_changed(arg, node);
}

/* ---------- lifecycle ---------- */

static void *taintevict_start(k1s_ctrl_ctx_t *ctx)
{
    taintevict_t *te = k1s_xcalloc(1, sizeof(*te));
    te->ctx = ctx;
    te->nodes = k1s_informer_factory_get(ctx->factory, &nodes_gvr);
    te->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    k1s_ctrl_index_node(te->pods);
    k1s_informer_handlers_t nh = {.on_add = node_add, .on_update = node_update, .arg = te};
    k1s_informer_add_handlers(te->nodes, &nh);
    k1s_informer_handlers_t ph = {
        .on_add = pod_add, .on_update = pod_update, .on_delete = pod_delete, .arg = te};
    k1s_informer_add_handlers(te->pods, &ph);
    return te;
}

static void taintevict_stop(void *state)
{
    taintevict_t *te = state;
    if (!te)
        return;
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&te->work, &i, &k, &v);)
        work_free(v);
    k1s_strmap_free(&te->work);
    free(te);
}

const k1s_controller_def_t k1s_ctrl_tainteviction = {
    .name = "taint-eviction-controller",
    .service_account = "taint-eviction-controller",
    .component = "taint-eviction-controller",
    .start = taintevict_start,
    .stop = taintevict_stop,
};
