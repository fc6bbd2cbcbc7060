/*
 * The node lifecycle controller (kube-controller-manager's "nodelifecycle",
 * service account node-controller): notices
 * nodes whose kubelet went silent and taints nodes by their conditions.
 *
 * A node is alive while its Lease in kube-node-lease is renewed or its
 * Ready condition's lastHeartbeatTime moves. When neither has happened for
 * --node-monitor-grace-period (40 s), its Ready, MemoryPressure,
 * DiskPressure and PIDPressure conditions become Unknown with reason
 * NodeStatusUnknown ("Kubelet stopped posting node status."; a node that
 * never posted a Ready condition gets NodeStatusNeverUpdated after the
 * 60 s startup grace period), a NodeNotReady Event is recorded and the
 * pods on it are marked Ready=False (with NodeNotReady Events on them).
 *
 * Taints follow the conditions on every node change, as upstream's
 * taint-nodes-by-condition and taint-based-eviction passes: Ready=False
 * gives node.kubernetes.io/not-ready and Ready=Unknown
 * node.kubernetes.io/unreachable, each NoSchedule and NoExecute (with
 * timeAdded); MemoryPressure, DiskPressure, PIDPressure and
 * NetworkUnavailable give their NoSchedule taints, spec.unschedulable the
 * node.kubernetes.io/unschedulable one. When the node reports Ready again
 * its taints go. Evicting the pods of NoExecute-tainted nodes is the taint
 * eviction controller's work (tainteviction.c).
 *
 * New NoExecute taints are paced by zone as upstream: at most one every
 * 10 s per zone; none in a small zone where most nodes are down; and when
 * no node of the cluster is Ready (a control plane cut off from its nodes,
 * or a single-node cluster whose kubelet stalls) the NoExecute taints are
 * removed everywhere, so that nothing is evicted.
 *
 * Nothing polls: one timer is armed for the earliest moment a node can
 * miss its grace period, and re-armed from there.
 */
#include <event2/event.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

#define NODE_STARTUP_GRACE_S 60.0
#define LEASE_NS "kube-node-lease"

static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};
static const k1s_gvr_t leases_gvr = {"coordination.k8s.io", "v1", "leases", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};

/* What the controller saw of a node's kubelet (nodeHealthData). */
typedef struct {
    double probe;    /* when the kubelet was last seen alive (Unix seconds) */
    char *heartbeat; /* the Ready condition's lastHeartbeatTime seen */
    char *renew;     /* the Lease's spec.renewTime seen */
    bool has_ready;  /* the node had a Ready condition */
} health_t;

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *nodes, *leases, *pods;
    k1s_workqueue_t *queue;
    k1s_strmap_t health; /* node name -> health_t */
    struct event *timer;
    double grace;           /* seconds */
    k1s_strmap_t zones;     /* zone -> double*: when the next NoExecute taint may come */
    bool master_disruption; /* no node was Ready at the last look */
    int nready;             /* nodes in the cache with Ready=True */
} nodelife_t;

typedef struct {
    nodelife_t *nl;
    char *name;
    bool was_ready; /* the node was Ready before this status write */
} write_t;

static const char *cond_types[] = {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"};

/* ---------- health ---------- */

static health_t *health_of(nodelife_t *nl, const char *name)
{
    health_t *h = k1s_strmap_get(&nl->health, name);
    if (!h) {
        h = k1s_xcalloc(1, sizeof(*h));
        h->probe = k1s_ctrl_now();
        k1s_strmap_set(&nl->health, name, h);
    }
    return h;
}

static void health_free(health_t *h)
{
    if (!h)
        return;
    free(h->heartbeat);
    free(h->renew);
    free(h);
}

static json_t *node_condition(const json_t *node, const char *type)
{
    json_t *conds = json_object_get(json_object_get(node, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        if (!strcmp(k1s_ctrl_str(c, "type"), type))
            return c;
    }
    return NULL;
}

static double deadline_of(const nodelife_t *nl, const health_t *h)
{
    return h->probe + (h->has_ready ? nl->grace : NODE_STARTUP_GRACE_S);
}

/* Arms the timer for the earliest deadline still ahead, if it is not armed. */
static void arm_timer(nodelife_t *nl, double deadline)
{
    if (evtimer_pending(nl->timer, NULL))
        return;
    double d = deadline - k1s_ctrl_now();
    if (d < 0)
        d = 0;
    struct timeval tv = {.tv_sec = (time_t)d, .tv_usec = (suseconds_t)((d - floor(d)) * 1e6)};
    evtimer_add(nl->timer, &tv);
}

/* The kubelet of name was seen alive now. */
static void seen_alive(nodelife_t *nl, health_t *h)
{
    h->probe = k1s_ctrl_now();
    arm_timer(nl, deadline_of(nl, h));
}

/* Called when a node's deadline may have passed: queue the late ones, re-arm for the rest. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    nodelife_t *nl = arg;
    double now = k1s_ctrl_now(), next = -1;
    const char *name;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&nl->health, &i, &name, &v);) {
        double dl = deadline_of(nl, v);
        if (dl <= now)
            k1s_workqueue_add(nl->queue, name);
        else if (next < 0 || dl < next)
            next = dl;
    }
    if (next > 0)
        arm_timer(nl, next + 0.01);
}

/* ---------- handlers ---------- */

/* Queues every node: the cluster's disruption state changed. */
static void queue_all(nodelife_t *nl)
{
    json_t **nodes;
    size_t n = k1s_informer_list(nl->nodes, &nodes);
    for (size_t i = 0; i < n; i++)
        k1s_workqueue_add(nl->queue, k1s_ctrl_str(json_object_get(nodes[i], "metadata"), "name"));
    free(nodes);
}

static void node_seen(nodelife_t *nl, json_t *node)
{
    const char *name = k1s_ctrl_str(json_object_get(node, "metadata"), "name");
    health_t *h = health_of(nl, name);
    json_t *ready = node_condition(node, "Ready");
    const char *hb = ready ? k1s_ctrl_str(ready, "lastHeartbeatTime") : NULL;
    if (ready && (!h->has_ready || !h->heartbeat || strcmp(h->heartbeat, hb))) {
        free(h->heartbeat);
        h->heartbeat = k1s_xstrdup(hb);
        h->has_ready = true;
        seen_alive(nl, h);
    } else {
        arm_timer(nl, deadline_of(nl, h));
    }
    k1s_workqueue_add(nl->queue, name);
}

static const char *ready_status(const json_t *node)
{
    json_t *c = node_condition(node, "Ready");
    return c ? k1s_ctrl_str(c, "status") : "";
}

static int is_ready(const json_t *node)
{
    return !strcmp(ready_status(node), "True");
}

static void node_add(json_t *node, void *arg)
{
    nodelife_t *nl = arg;
    nl->nready += is_ready(node);
    const char *name = k1s_ctrl_str(json_object_get(node, "metadata"), "name");
    if (!k1s_strmap_get(&nl->health, name))
        k1s_recorder_event(nl->ctx->recorder, node, "Normal", "RegisteredNode",
                           "Node %s event: Registered Node %s in Controller", name, name);
    node_seen(nl, node);
}

static void node_update(json_t *old, json_t *node, void *arg)
{
    nodelife_t *nl = arg;
    nl->nready += is_ready(node) - is_ready(old);
    node_seen(nl, node);
    /* a node's readiness counts in its zone's disruption state: look at every node again */
    if (strcmp(ready_status(old), ready_status(node)))
        queue_all(nl);
}

static void node_delete(json_t *node, void *arg)
{
    nodelife_t *nl = arg;
    const char *name = k1s_ctrl_str(json_object_get(node, "metadata"), "name");
    nl->nready -= is_ready(node);
    k1s_recorder_event(nl->ctx->recorder, node, "Normal", "RemovingNode",
                       "Node %s event: Removing Node %s from Controller", name, name);
    health_free(k1s_strmap_del(&nl->health, name));
    queue_all(nl);
}

static void lease_seen(json_t *lease, void *arg)
{
    nodelife_t *nl = arg;
    const json_t *md = json_object_get(lease, "metadata");
    if (strcmp(k1s_ctrl_str(md, "namespace"), LEASE_NS))
        return;
    const char *renew = k1s_ctrl_str(json_object_get(lease, "spec"), "renewTime");
    const char *name = k1s_ctrl_str(md, "name");
    health_t *h = k1s_strmap_get(&nl->health, name);
    if (!h || !*renew || (h->renew && !strcmp(h->renew, renew)))
        return;
    free(h->renew);
    h->renew = k1s_xstrdup(renew);
    seen_alive(nl, h);
}

static void lease_update(json_t *old, json_t *lease, void *arg)
{
    lease_seen(lease, arg);
}

/* ---------- status ---------- */

/* Pods on the node turn Ready=False (MarkPodsNotReady). */
static void pod_status_done(const k1s_client_result_t *res, void *arg)
{
    char *key = arg;
    if (res->status >= 300 && res->status != 404)
        k1s_debug("node lifecycle: marking pod %s not ready: %d %s", key, res->status,
                  res->message);
    free(key);
}

static void mark_pods_not_ready(nodelife_t *nl, const char *node)
{
    json_t **pods;
    int n = k1s_informer_by_index(nl->pods, "nodeName", node, &pods);
    char ts[32];
    k1s_ctrl_format_time((int64_t)k1s_ctrl_now(), ts);
    for (int i = 0; i < n; i++) {
        json_t *conds = json_object_get(json_object_get(pods[i], "status"), "conditions");
        size_t j;
        json_t *c = NULL;
        json_array_foreach(conds, j, c)
        {
            if (!strcmp(k1s_ctrl_str(c, "type"), "Ready"))
                break;
        }
        if (j >= json_array_size(conds) || !strcmp(k1s_ctrl_str(c, "status"), "False"))
            continue;
        /* a patch of the one condition (conditions merge by type): the cached pod lacks status
         * fields no controller reads, which an update would wipe */
        json_t *patch = json_pack("{s:{s:[{s:s,s:s,s:s}]}}", "status", "conditions", "type",
                                  "Ready", "status", "False", "lastTransitionTime", ts);
        char *body = json_dumps(patch, JSON_COMPACT);
        json_decref(patch);
        const json_t *md = json_object_get(pods[i], "metadata");
        k1s_client_patch(nl->ctx->client, &pods_gvr, k1s_ctrl_str(md, "namespace"),
                         k1s_ctrl_str(md, "name"), "status", K1S_PATCH_STRATEGIC, body, false,
                         pod_status_done, k1s_ctrl_key(pods[i]));
        free(body);
        k1s_recorder_event(nl->ctx->recorder, pods[i], "Warning", "NodeNotReady",
                           "Node is not ready");
    }
    if (n >= 0)
        free(pods);
}

static void status_written(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    nodelife_t *nl = w->nl;
    if (res->status >= 200 && res->status < 300) {
        k1s_workqueue_forget(nl->queue, w->name);
        if (w->was_ready) {
            json_t *node = k1s_informer_get(nl->nodes, NULL, w->name);
            if (node)
                k1s_recorder_event(nl->ctx->recorder, node, "Normal", "NodeNotReady",
                                   "Node %s status is now: NodeNotReady", w->name);
            mark_pods_not_ready(nl, w->name);
        }
    } else if (res->status != 404) {
        k1s_debug("node lifecycle: writing node %s: %d %s", w->name, res->status, res->message);
        k1s_workqueue_add_rate_limited(nl->queue, w->name);
    }
    k1s_workqueue_done(nl->queue, w->name);
    free(w->name);
    free(w);
}

/*
 * If the kubelet of node missed its grace period, a copy of node with its
 * conditions Unknown (new reference), else NULL.
 */
static json_t *unknown_status(nodelife_t *nl, const json_t *node, const health_t *h)
{
    double now = k1s_ctrl_now();
    if (now < deadline_of(nl, h))
        return NULL;
    bool never = !node_condition(node, "Ready");
    json_t *copy = json_deep_copy(node);
    json_t *st = json_object_get(copy, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(copy, "status", st);
    }
    json_t *conds = json_object_get(st, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    char ts[32];
    k1s_ctrl_format_time((int64_t)now, ts);
    bool changed = false;
    for (size_t t = 0; t < sizeof(cond_types) / sizeof(cond_types[0]); t++) {
        json_t *c = node_condition(copy, cond_types[t]);
        if (!c) {
            json_array_append_new(
                conds,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", cond_types[t], "status",
                          "Unknown", "lastHeartbeatTime",
                          k1s_ctrl_str(json_object_get(node, "metadata"), "creationTimestamp"),
                          "lastTransitionTime", ts, "reason", "NodeStatusNeverUpdated", "message",
                          "Kubelet never posted node status."));
            changed = true;
        } else if (strcmp(k1s_ctrl_str(c, "status"), "Unknown")) {
            json_object_set_new(c, "status", json_string("Unknown"));
            json_object_set_new(
                c, "reason", json_string(never ? "NodeStatusNeverUpdated" : "NodeStatusUnknown"));
            json_object_set_new(c, "message",
                                json_string(never ? "Kubelet never posted node status."
                                                  : "Kubelet stopped posting node status."));
            json_object_set_new(c, "lastTransitionTime", json_string(ts));
            changed = true;
        }
    }
    if (!changed) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

/* ---------- taints ---------- */

typedef struct {
    const char *key, *effect;
} taint_t;

/* The taints the controller manages, and whether node should have each. */
static const taint_t managed[] = {
    {"node.kubernetes.io/not-ready", "NoSchedule"},
    {"node.kubernetes.io/unreachable", "NoSchedule"},
    {"node.kubernetes.io/not-ready", "NoExecute"},
    {"node.kubernetes.io/unreachable", "NoExecute"},
    {"node.kubernetes.io/memory-pressure", "NoSchedule"},
    {"node.kubernetes.io/disk-pressure", "NoSchedule"},
    {"node.kubernetes.io/pid-pressure", "NoSchedule"},
    {"node.kubernetes.io/network-unavailable", "NoSchedule"},
    {"node.kubernetes.io/unschedulable", "NoSchedule"},
};
#define NMANAGED (sizeof(managed) / sizeof(managed[0]))

static bool cond_is(const json_t *node, const char *type, const char *status)
{
    json_t *c = node_condition(node, type);
    return c && !strcmp(k1s_ctrl_str(c, "status"), status);
}

static void wanted_taints(const json_t *node, bool want[NMANAGED])
{
    bool ready_false = cond_is(node, "Ready", "False");
    bool ready_unknown = cond_is(node, "Ready", "Unknown");
    want[0] = want[2] = ready_false;
    want[1] = want[3] = ready_unknown;
    want[4] = cond_is(node, "MemoryPressure", "True");
    want[5] = cond_is(node, "DiskPressure", "True");
    want[6] = cond_is(node, "PIDPressure", "True");
    want[7] = cond_is(node, "NetworkUnavailable", "True");
    want[8] = json_is_true(json_object_get(json_object_get(node, "spec"), "unschedulable"));
}

static int managed_index(const json_t *taint)
{
    for (size_t i = 0; i < NMANAGED; i++) {
        if (!strcmp(k1s_ctrl_str(taint, "key"), managed[i].key) &&
            !strcmp(k1s_ctrl_str(taint, "effect"), managed[i].effect))
            return (int)i;
    }
    return -1;
}

/* What may happen to the NoExecute taints (not-ready, unreachable) in a pass. */
typedef enum {
    NOEXEC_FOLLOW, /* follow the Ready condition */
    NOEXEC_NO_NEW, /* keep or swap those there, add none (rate limit, zone disruption) */
    NOEXEC_CLEAR,  /* remove them: every node is down (master disruption mode) */
} noexec_mode_t;

static bool has_taint(const json_t *node, size_t m)
{
    const json_t *cur = json_object_get(json_object_get(node, "spec"), "taints");
    size_t i;
    json_t *t;
    json_array_foreach(cur, i, t)
    {
        if (managed_index(t) == (int)m)
            return true;
    }
    return false;
}

/* Whether following the Ready condition would put a NoExecute taint on a node that has none. */
static bool wants_new_noexec(const json_t *node)
{
    bool want[NMANAGED];
    wanted_taints(node, want);
    return (want[2] || want[3]) && !has_taint(node, 2) && !has_taint(node, 3);
}

/* The node's spec.taints as they should be, or NULL if they already are (new reference). */
static json_t *reconciled_taints(const json_t *node, noexec_mode_t mode)
{
    bool want[NMANAGED], have[NMANAGED] = {0};
    wanted_taints(node, want);
    if (mode == NOEXEC_CLEAR) {
        want[2] = want[3] = false;
    } else if (mode == NOEXEC_NO_NEW && !has_taint(node, 2) && !has_taint(node, 3)) {
        want[2] = want[3] = false;
    }
    const json_t *cur = json_object_get(json_object_get(node, "spec"), "taints");
    json_t *out = json_array();
    bool changed = false;
    size_t i;
    json_t *t;
    json_array_foreach(cur, i, t)
    {
        int m = managed_index(t);
        if (m >= 0 && (!want[m] || have[m])) {
            changed = true;
            continue;
        }
        if (m >= 0)
            have[m] = true;
        json_array_append(out, t);
    }
    char ts[32];
    k1s_ctrl_format_time((int64_t)k1s_ctrl_now(), ts);
    for (size_t m = 0; m < NMANAGED; m++) {
        if (!want[m] || have[m])
            continue;
        json_t *nt = json_pack("{s:s, s:s}", "key", managed[m].key, "effect", managed[m].effect);
        if (!strcmp(managed[m].effect, "NoExecute"))
            json_object_set_new(nt, "timeAdded", json_string(ts));
        json_array_append_new(out, nt);
        changed = true;
    }
    if (!changed) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static void taints_written(const k1s_client_result_t *res, void *arg)
{
    write_t *w = arg;
    nodelife_t *nl = w->nl;
    if (res->status >= 200 && res->status < 300) {
        k1s_workqueue_forget(nl->queue, w->name);
    } else if (res->status != 404) {
        k1s_debug("node lifecycle: tainting node %s: %d %s", w->name, res->status, res->message);
        k1s_workqueue_add_rate_limited(nl->queue, w->name);
    }
    k1s_workqueue_done(nl->queue, w->name);
    free(w->name);
    free(w);
}

/* ---------- disruption of zones ---------- */

/* The node's zone (region and zone labels), as GetZoneKey; new string. */
static char *zone_of(const json_t *node)
{
    const json_t *l = json_object_get(json_object_get(node, "metadata"), "labels");
    const char *region = k1s_ctrl_str(l, "topology.kubernetes.io/region");
    const char *zone = k1s_ctrl_str(l, "topology.kubernetes.io/zone");
    if (!*region)
        region = k1s_ctrl_str(l, "failure-domain.beta.kubernetes.io/region");
    if (!*zone)
        zone = k1s_ctrl_str(l, "failure-domain.beta.kubernetes.io/zone");
    return k1s_xasprintf("%s:%s", region, zone);
}

typedef struct {
    int size, not_ready;
} zone_counts_t;

/* Counts the nodes of zone, and those of them not Ready. */
static void count_zone(nodelife_t *nl, const char *zone, zone_counts_t *c)
{
    memset(c, 0, sizeof(*c));
    json_t **nodes;
    size_t n = k1s_informer_list(nl->nodes, &nodes);
    for (size_t i = 0; i < n; i++) {
        bool ready = cond_is(nodes[i], "Ready", "True");
        char *z = zone_of(nodes[i]);
        if (!strcmp(z, zone)) {
            c->size++;
            c->not_ready += !ready;
        }
        free(z);
    }
    free(nodes);
}

/*
 * How the NoExecute taints of node may change now, as kube-controller-
 * manager's zone states decide: every node down (master disruption mode:
 * the kubelets are more likely cut off from the control plane than dead)
 * removes them; a zone in partial disruption (more than 2 and at least
 * 55% of its nodes not Ready) of fewer than 50 nodes gets no new ones;
 * otherwise new ones come at most every 10 s per zone (100 s in a large
 * partially disrupted zone). *retry_s is set when a new taint has to wait.
 */
static noexec_mode_t noexec_mode(nodelife_t *nl, const json_t *node, double *retry_s)
{
    *retry_s = 0;
    bool full = nl->nready == 0;
    if (full != nl->master_disruption) {
        nl->master_disruption = full;
        if (full) {
            k1s_info("node lifecycle: no node is Ready; entering master disruption mode (no "
                     "taint-based evictions)");
        } else {
            /* nodes get a fresh grace period, as when exiting the mode upstream */
            double now = k1s_ctrl_now();
            const char *k;
            void *v;
            for (size_t i = 0; k1s_strmap_next(&nl->health, &i, &k, &v);)
                ((health_t *)v)->probe = now;
            k1s_info("node lifecycle: some nodes are Ready; exiting master disruption mode");
        }
        queue_all(nl);
    }
    noexec_mode_t mode = NOEXEC_FOLLOW;
    if (full) {
        mode = NOEXEC_CLEAR;
    } else if (wants_new_noexec(node)) {
        char *zone = zone_of(node);
        zone_counts_t c;
        count_zone(nl, zone, &c);
        bool partial = c.not_ready > 2 && (double)c.not_ready / (double)c.size >= 0.55;
        if (partial && c.size < 50) {
            mode = NOEXEC_NO_NEW;
        } else {
            double now = k1s_ctrl_now(), interval = partial ? 100.0 : 10.0;
            double *next = k1s_strmap_get(&nl->zones, zone);
            if (!next) {
                next = k1s_xcalloc(1, sizeof(*next));
                k1s_strmap_set(&nl->zones, zone, next);
            }
            if (now < *next) {
                mode = NOEXEC_NO_NEW;
                *retry_s = *next - now;
            } else {
                *next = now + interval;
            }
        }
        free(zone);
    }
    return mode;
}

static void sync_node(k1s_workqueue_t *q, const char *name, void *arg)
{
    nodelife_t *nl = arg;
    json_t *node = k1s_informer_get(nl->nodes, NULL, name);
    if (!node) {
        k1s_workqueue_forget(q, name);
        k1s_workqueue_done(q, name);
        return;
    }
    health_t *h = health_of(nl, name);
    json_t *st = unknown_status(nl, node, h);
    write_t *w;
    if (st) {
        w = k1s_xcalloc(1, sizeof(*w));
        w->nl = nl;
        w->name = k1s_xstrdup(name);
        w->was_ready = cond_is(node, "Ready", "True");
        k1s_debug("node lifecycle: node %s stopped posting status", name);
        k1s_client_update_status(nl->ctx->client, &nodes_gvr, NULL, st, status_written, w);
        json_decref(st);
        return; /* the taints follow when the new status comes back */
    }
    double retry_s;
    noexec_mode_t mode = noexec_mode(nl, node, &retry_s);
    if (retry_s > 0)
        k1s_workqueue_add_after(q, name, (uint64_t)(retry_s * 1000) + 10);
    json_t *taints = reconciled_taints(node, mode);
    if (!taints) {
        k1s_workqueue_forget(q, name);
        k1s_workqueue_done(q, name);
        return;
    }
    json_t *copy = json_deep_copy(node);
    json_t *spec = json_object_get(copy, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(copy, "spec", spec);
    }
    if (json_array_size(taints))
        json_object_set_new(spec, "taints", taints);
    else {
        json_decref(taints);
        json_object_del(spec, "taints");
    }
    w = k1s_xcalloc(1, sizeof(*w));
    w->nl = nl;
    w->name = k1s_xstrdup(name);
    k1s_client_update(nl->ctx->client, &nodes_gvr, NULL, copy, taints_written, w);
    json_decref(copy);
}

/* ---------- lifecycle ---------- */

static void *nodelife_start(k1s_ctrl_ctx_t *ctx)
{
    nodelife_t *nl = k1s_xcalloc(1, sizeof(*nl));
    nl->ctx = ctx;
    nl->grace = ctx->opts->node_monitor_grace_period_ms / 1000.0;
    nl->nodes = k1s_informer_factory_get(ctx->factory, &nodes_gvr);
    nl->leases = k1s_informer_factory_get(ctx->factory, &leases_gvr);
    nl->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    k1s_ctrl_index_node(nl->pods);
    nl->timer = evtimer_new(ctx->base, on_timer, nl);
    nl->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, sync_node, nl);
    k1s_informer_handlers_t nh = {
        .on_add = node_add, .on_update = node_update, .on_delete = node_delete, .arg = nl};
    k1s_informer_add_handlers(nl->nodes, &nh);
    k1s_informer_handlers_t lh = {.on_add = lease_seen, .on_update = lease_update, .arg = nl};
    k1s_informer_add_handlers(nl->leases, &lh);
    return nl;
}

static void nodelife_stop(void *state)
{
    nodelife_t *nl = state;
    if (!nl)
        return;
    k1s_workqueue_free(nl->queue);
    event_free(nl->timer);
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&nl->health, &i, &k, &v);)
        health_free(v);
    k1s_strmap_free(&nl->health);
    for (size_t i = 0; k1s_strmap_next(&nl->zones, &i, &k, &v);)
        free(v);
    k1s_strmap_free(&nl->zones);
    free(nl);
}

const k1s_controller_def_t k1s_ctrl_nodelifecycle = {
    .name = "nodelifecycle",
    .service_account = "node-controller",
    .component = "node-controller",
    .start = nodelife_start,
    .stop = nodelife_stop,
};
