/*
 * PodGC ("podgc", kube-controller-manager's pod-garbage-collector):
 * force-deletes pods nobody else will clean up, as upstream's gc passes do:
 * - terminated pods (Succeeded or Failed) beyond
 *   --terminated-pod-gc-threshold (0 disables), evicted ones first, then
 *   oldest first;
 * - pods bound to a node that no longer exists, once the node has been
 *   missing from the cache for the 40 s quarantine and a GET confirms it is
 *   gone (they are marked Failed with the DisruptionTarget condition,
 *   reason DeletionByPodGC, first);
 * - terminating pods on a node that is not Ready and carries the
 *   node.kubernetes.io/out-of-service taint;
 * - terminating pods that were never scheduled.
 *
 * Upstream runs these passes every 20 s; here they are driven by the pod
 * and node informers, with a timer only for the quarantine, so an idle
 * cluster costs nothing. A pod that is not yet Succeeded or Failed is
 * patched to Failed before its deletion with grace period 0.
 */
#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

#define QUARANTINE_MS 40000
#define KEY_TERMINATED "terminated"
#define TAINT_OUT_OF_SERVICE "node.kubernetes.io/out-of-service"

static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};
static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};

typedef struct podgc podgc_t;

/* A force deletion in flight: optional status patch to Failed, then delete. */
typedef struct podgc_op {
    struct podgc_op *prev, *next;
    podgc_t *pc;
    char *key; /* pod "ns/name" */
    char *ns, *name;
    json_t *patch; /* status patch still to send, or NULL */
    k1s_workqueue_t *q;
    char *qkey; /* the queue key to finish (node checks), or NULL */
} podgc_op_t;

struct podgc {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *pods, *nodes;
    k1s_workqueue_t *q;
    k1s_strmap_t terminated; /* keys of terminated pods (value unused) */
    k1s_strmap_t inflight;   /* keys of pods being force-deleted */
    podgc_op_t *ops;
    podgc_op_t *node_checks; /* node GETs in flight */
};

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    return k1s_ctrl_str(json_object_get(o, a), b);
}

static const char *node_of(const json_t *pod)
{
    return str_at(pod, "spec", "nodeName");
}

static bool node_ready(const json_t *node)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(node, "status"), "conditions"), i, c)
    {
        if (!strcmp(k1s_ctrl_str(c, "type"), "Ready"))
            return !strcmp(k1s_ctrl_str(c, "status"), "True");
    }
    return false;
}

static bool out_of_service(const json_t *node)
{
    if (node_ready(node))
        return false;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(json_object_get(node, "spec"), "taints"), i, t)
    {
        if (!strcmp(k1s_ctrl_str(t, "key"), TAINT_OUT_OF_SERVICE))
            return true;
    }
    return false;
}

/* ---- force deletion ---- */

static void op_free(podgc_op_t *op)
{
    free(op->key);
    free(op->ns);
    free(op->name);
    free(op->qkey);
    json_decref(op->patch);
    free(op);
}

static void op_end(podgc_op_t *op)
{
    podgc_t *pc = op->pc;
    if (op->prev)
        op->prev->next = op->next;
    else
        pc->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    k1s_strmap_del(&pc->inflight, op->key);
    op_free(op);
}

static void deleted(const k1s_client_result_t *res, void *arg)
{
    podgc_op_t *op = arg;
    if (res->status >= 300 && res->status != 404) {
        k1s_warn("pod garbage collector: deleting pod %s failed: %d %s", op->key, res->status,
                 res->message);
        k1s_workqueue_add_rate_limited(op->pc->q, op->qkey); /* the pass that chose it */
    } else {
        k1s_debug("pod garbage collector: force-deleted pod %s", op->key);
    }
    op_end(op);
}

static void send_delete(podgc_op_t *op)
{
    k1s_delete_opts_t o = {.grace_period_s = 0};
    k1s_client_delete(op->pc->ctx->client, &pods_gvr, op->ns, op->name, &o, deleted, op);
}

static void patched(const k1s_client_result_t *res, void *arg)
{
    podgc_op_t *op = arg;
    if (res->status == 404) {
        op_end(op);
        return;
    }
    if (res->status >= 300)
        k1s_debug("pod garbage collector: marking pod %s Failed: %d %s", op->key, res->status,
                  res->message);
    send_delete(op);
}

/*
 * Marks pod Failed (with condition cond, taken; may be NULL) unless it
 * already finished, then deletes it with grace period 0. A failure retries
 * the pass qkey.
 */
static void force_delete(podgc_t *pc, const json_t *pod, json_t *cond, const char *qkey)
{
    char *key = k1s_ctrl_key(pod);
    if (k1s_strmap_has(&pc->inflight, key)) {
        free(key);
        json_decref(cond);
        return;
    }
    podgc_op_t *op = k1s_xcalloc(1, sizeof(*op));
    op->pc = pc;
    op->key = key;
    op->qkey = k1s_xstrdup(qkey);
    k1s_ctrl_split_key(key, &op->ns, &op->name);
    k1s_strmap_set(&pc->inflight, key, op);
    op->next = pc->ops;
    if (pc->ops)
        pc->ops->prev = op;
    pc->ops = op;
    k1s_debug("pod garbage collector: force deleting pod %s", key);
    if (k1s_pod_is_terminated(pod)) {
        json_decref(cond);
        send_delete(op);
        return;
    }
    json_t *status = json_pack("{s:s}", "phase", "Failed");
    if (cond) {
        char ts[32];
        k1s_ctrl_format_time((int64_t)k1s_ctrl_now(), ts);
        json_object_set_new(cond, "lastTransitionTime", json_string(ts));
        json_object_set_new(status, "conditions", json_pack("[o]", cond));
    }
    json_t *p = json_pack("{s:{s:s},s:o}", "metadata", "uid", str_at(pod, "metadata", "uid"),
                          "status", status);
    char *s = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    k1s_client_patch(pc->ctx->client, &pods_gvr, op->ns, op->name, "status", K1S_PATCH_STRATEGIC, s,
                     false, patched, op);
    free(s);
}

/* ---- the passes ---- */

static bool evicted(const json_t *pod)
{
    return !strcmp(str_at(pod, "status", "phase"), "Failed") &&
           !strcmp(str_at(pod, "status", "reason"), "Evicted");
}

/* Evicted first, then by creation time, then by name (upstream's byEvictionAndCreationTimestamp).
 */
static int cmp_terminated(const void *a, const void *b)
{
    const json_t *pa = *(json_t *const *)a, *pb = *(json_t *const *)b;
    bool ea = evicted(pa), eb = evicted(pb);
    if (ea != eb)
        return ea ? -1 : 1;
    int64_t ta = k1s_ctrl_parse_time(str_at(pa, "metadata", "creationTimestamp"));
    int64_t tb = k1s_ctrl_parse_time(str_at(pb, "metadata", "creationTimestamp"));
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return strcmp(str_at(pa, "metadata", "name"), str_at(pb, "metadata", "name"));
}

static void gc_terminated(podgc_t *pc)
{
    int threshold = pc->ctx->opts->terminated_pod_gc_threshold;
    size_t count = k1s_strmap_len(&pc->terminated);
    if (threshold <= 0 || count <= (size_t)threshold)
        return;
    json_t **pods = k1s_xcalloc(count, sizeof(*pods));
    size_t n = 0;
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&pc->terminated, &i, &k, &v);) {
        json_t *pod = k1s_ctrl_get_by_key(pc->pods, k);
        if (pod)
            pods[n++] = pod;
    }
    if (n > (size_t)threshold) {
        size_t del = n - (size_t)threshold;
        k1s_debug("pod garbage collector: %zu terminated pods over the threshold of %d", del,
                  threshold);
        qsort(pods, n, sizeof(*pods), cmp_terminated);
        for (size_t i = 0; i < del; i++)
            force_delete(pc, pods[i], NULL, KEY_TERMINATED);
    }
    free(pods);
}

/* Pods on an out-of-service node that are being deleted: their kubelet will not finish it. */
static void gc_out_of_service(podgc_t *pc, const char *key)
{
    const char *node_name = key + 4;
    json_t *node = k1s_informer_get(pc->nodes, NULL, node_name);
    if (!node || !out_of_service(node))
        return;
    json_t **pods = NULL;
    int n = k1s_informer_by_index(pc->pods, "nodeName", node_name, &pods);
    for (int i = 0; i < n; i++)
        if (k1s_ctrl_deleting(pods[i]))
            force_delete(pc, pods[i], NULL, key);
    free(pods);
}

static void node_checked(const k1s_client_result_t *res, void *arg)
{
    podgc_op_t *op = arg;
    podgc_t *pc = op->pc;
    if (op->prev)
        op->prev->next = op->next;
    else
        pc->node_checks = op->next;
    if (op->next)
        op->next->prev = op->prev;
    const char *node_name = op->qkey + 5;
    if (res->status == 404) {
        json_t **pods = NULL;
        int n = k1s_informer_by_index(pc->pods, "nodeName", node_name, &pods);
        for (int i = 0; i < n; i++) {
            k1s_debug("pod garbage collector: pod %s/%s is bound to node %s, which is gone",
                      str_at(pods[i], "metadata", "namespace"), str_at(pods[i], "metadata", "name"),
                      node_name);
            force_delete(pc, pods[i],
                         json_pack("{s:s,s:s,s:s,s:s}", "type", "DisruptionTarget", "status",
                                   "True", "reason", "DeletionByPodGC", "message",
                                   "PodGC: node no longer exists"),
                         op->qkey);
        }
        free(pods);
        k1s_workqueue_forget(op->q, op->qkey);
    } else if (res->status != 200) {
        k1s_workqueue_add_rate_limited(op->q, op->qkey);
    }
    k1s_workqueue_done(op->q, op->qkey);
    op_free(op);
}

static void process(k1s_workqueue_t *q, const char *key, void *arg)
{
    podgc_t *pc = arg;
    if (!k1s_informer_has_synced(pc->pods) || !k1s_informer_has_synced(pc->nodes)) {
        k1s_workqueue_add_after(q, key, 200);
        k1s_workqueue_done(q, key);
        return;
    }
    if (!strcmp(key, KEY_TERMINATED)) {
        gc_terminated(pc);
    } else if (!strncmp(key, "oos/", 4)) {
        gc_out_of_service(pc, key);
    } else if (!strncmp(key, "pod/", 4)) {
        /* an unscheduled pod being deleted */
        json_t *pod = k1s_ctrl_get_by_key(pc->pods, key + 4);
        if (pod && k1s_ctrl_deleting(pod) && !*node_of(pod))
            force_delete(pc, pod, NULL, key);
    } else if (!strncmp(key, "node/", 5)) {
        /* the quarantine is over: is the node really gone? */
        const char *name = key + 5;
        json_t **pods = NULL;
        int n = k1s_informer_by_index(pc->pods, "nodeName", name, &pods);
        free(pods);
        if (n > 0 && !k1s_informer_get(pc->nodes, NULL, name)) {
            podgc_op_t *op = k1s_xcalloc(1, sizeof(*op));
            op->pc = pc;
            op->q = q;
            op->qkey = k1s_xstrdup(key);
            op->next = pc->node_checks;
            if (pc->node_checks)
                pc->node_checks->prev = op;
            pc->node_checks = op;
            k1s_client_get(pc->ctx->client, &nodes_gvr, NULL, name, node_checked, op);
            return;
        }
    }
    k1s_workqueue_forget(q, key);
    k1s_workqueue_done(q, key);
}

/* ---- informers ---- */

static void pod_changed(podgc_t *pc, const json_t *pod)
{
    char *key = k1s_ctrl_key(pod);
    if (k1s_pod_is_terminated(pod)) {
        if (!k1s_strmap_has(&pc->terminated, key)) {
            k1s_strmap_set(&pc->terminated, key, pc);
            int threshold = pc->ctx->opts->terminated_pod_gc_threshold;
            if (threshold > 0 && k1s_strmap_len(&pc->terminated) > (size_t)threshold)
                k1s_workqueue_add(pc->q, KEY_TERMINATED);
        }
    } else {
        k1s_strmap_del(&pc->terminated, key);
    }
    const char *node = node_of(pod);
    if (*node && !k1s_informer_get(pc->nodes, NULL, node)) {
        char *qk = k1s_xasprintf("node/%s", node);
        k1s_workqueue_add_after(pc->q, qk, QUARANTINE_MS);
        free(qk);
    }
    if (k1s_ctrl_deleting(pod)) {
        char *qk = *node ? k1s_xasprintf("oos/%s", node) : k1s_xasprintf("pod/%s", key);
        k1s_workqueue_add(pc->q, qk);
        free(qk);
    }
    free(key);
}

static void pod_add(json_t *pod, void *arg)
{
    pod_changed(arg, pod);
}

static void pod_update(json_t *old, json_t *pod, void *arg)
{
    (void)old;
    pod_changed(arg, pod);
}

static void pod_delete(json_t *pod, void *arg)
{
    podgc_t *pc = arg;
    char *key = k1s_ctrl_key(pod);
    k1s_strmap_del(&pc->terminated, key);
    free(key);
}

static void node_update(json_t *old, json_t *node, void *arg)
{
    podgc_t *pc = arg;
    if (out_of_service(node) && !out_of_service(old)) {
        char *qk = k1s_xasprintf("oos/%s", str_at(node, "metadata", "name"));
        k1s_workqueue_add(pc->q, qk);
        free(qk);
    }
}

static void node_delete(json_t *node, void *arg)
{
    podgc_t *pc = arg;
    char *qk = k1s_xasprintf("node/%s", str_at(node, "metadata", "name"));
    k1s_workqueue_add_after(pc->q, qk, QUARANTINE_MS);
    free(qk);
}

/* ---- lifecycle ---- */

static void *podgc_start(k1s_ctrl_ctx_t *ctx)
{
    podgc_t *pc = k1s_xcalloc(1, sizeof(*pc));
    pc->ctx = ctx;
    pc->q = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, process, pc);
    pc->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    pc->nodes = k1s_informer_factory_get(ctx->factory, &nodes_gvr);
    k1s_ctrl_index_node(pc->pods);
    k1s_informer_handlers_t ph = {pod_add, pod_update, pod_delete, pc};
    k1s_informer_handlers_t nh = {NULL, node_update, node_delete, pc};
    k1s_informer_add_handlers(pc->pods, &ph);
    k1s_informer_add_handlers(pc->nodes, &nh);
    return pc;
}

static void podgc_stop(void *state)
{
    podgc_t *pc = state;
    if (!pc)
        return;
    /* requests cut short by the stop: no callbacks come */
    while (pc->ops) {
        podgc_op_t *op = pc->ops;
        pc->ops = op->next;
        op_free(op);
    }
    while (pc->node_checks) {
        podgc_op_t *op = pc->node_checks;
        pc->node_checks = op->next;
        op_free(op);
    }
    k1s_workqueue_free(pc->q);
    k1s_strmap_free(&pc->terminated);
    k1s_strmap_free(&pc->inflight);
    free(pc);
}

const k1s_controller_def_t k1s_ctrl_podgc = {
    .name = "podgc",
    .service_account = "pod-garbage-collector",
    .component = "pod-garbage-collector",
    .start = podgc_start,
    .stop = podgc_stop,
};
