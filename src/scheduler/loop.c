/*
 * The scheduler proper (see loop.h): caches from informers, a work queue of
 * pods to place, binding, and the FailedScheduling condition and Event.
 */
#include "scheduler/loop.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/informer.h"
#include "client/leaderelection.h"
#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/events.h"
#include "lib/log.h"
#include "lib/util.h"
#include "scheduler/sched.h"

#define SCHEDULER_NAME "default-scheduler"

static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};
static const k1s_gvr_t pvcs_gvr = {"", "v1", "persistentvolumeclaims", true};
static const k1s_gvr_t pvs_gvr = {"", "v1", "persistentvolumes", false};
static const k1s_gvr_t scs_gvr = {"storage.k8s.io", "v1", "storageclasses", false};
static const k1s_gvr_t nss_gvr = {"", "v1", "namespaces", false};
static const k1s_gvr_t pdbs_gvr = {"policy", "v1", "poddisruptionbudgets", true};
static const k1s_gvr_t csinodes_gvr = {"storage.k8s.io", "v1", "csinodes", false};

#define ANN_SELECTED_NODE "volume.kubernetes.io/selected-node"
/* kube-scheduler's VolumeBinding bindTimeoutSeconds */
#define BIND_TIMEOUT_S 600

struct k1s_scheduler {
    struct event_base *base;
    k1s_http_handler_fn handler;
    void *handler_arg;
    k1s_client_t *le_client;
    k1s_leader_elector_t *le;
    /* while leading */
    k1s_client_t *client;
    k1s_informer_factory_t *factory;
    k1s_informer_t *nodes, *pods, *pvcs, *pvs, *scs, *nss, *pdbs, *csinodes;
    k1s_workqueue_t *queue;
    k1s_strmap_t node_map;      /* node name -> k1s_sched_node_t */
    k1s_strmap_t assigned;      /* pod key -> node name (malloc'd) whose summary holds it */
    k1s_strmap_t unschedulable; /* pod keys waiting for a cluster change (value unused) */
    k1s_strmap_t nominated;     /* pod key -> node name (malloc'd): pods nominated by a
                                   preemption, not bound yet */
    k1s_strmap_t waiting;       /* pod key -> wait_t: assumed on a node, its volumes being bound */
    k1s_strmap_t assumed_pvs;   /* PV name -> claim key: promised by a claimRef write in flight */
    k1s_recorder_t *recorder;
    struct pending *pending; /* writes in flight */
    k1s_sched_cluster_t cluster;
};

/* A write in flight: its context is freed by its callback, or, when the client is freed with the
 * write unanswered (stopping), by stopped_leading. Every context type starts with one. */
typedef struct pending {
    struct pending *prev, *next;
    bool linked;
    void (*free_fn)(void *ctx);
} pending_t;

/* A pod waiting in PreBind for its WaitForFirstConsumer claims to be bound. */
typedef struct {
    k1s_scheduler_t *s;
    char *key, *node;
    json_t *claims; /* claim names */
    struct event *timeout;
} wait_t;

static void pend(k1s_scheduler_t *s, pending_t *p, void (*free_fn)(void *))
{
    p->free_fn = free_fn;
    p->prev = NULL;
    p->next = s->pending;
    if (s->pending)
        s->pending->prev = p;
    s->pending = p;
    p->linked = true;
}

static void unpend(k1s_scheduler_t *s, pending_t *p)
{
    if (!p->linked)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else
        s->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->linked = false;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static char *pod_key(const json_t *pod)
{
    const json_t *md = json_object_get(pod, "metadata");
    return k1s_xasprintf("%s/%s", jstr(md, "namespace"), jstr(md, "name"));
}

static const char *pod_node(const json_t *pod)
{
    return jstr(json_object_get(pod, "spec"), "nodeName");
}

/* Whether the pod takes room on its node (bound and not finished). */
static bool pod_counts(const json_t *pod)
{
    const char *phase = jstr(json_object_get(pod, "status"), "phase");
    return *pod_node(pod) && strcmp(phase, "Succeeded") && strcmp(phase, "Failed");
}

/* Whether this scheduler should place the pod. */
static bool wants_scheduling(const json_t *pod)
{
    const json_t *spec = json_object_get(pod, "spec");
    const char *sn = jstr(spec, "schedulerName");
    if (*pod_node(pod) || (*sn && strcmp(sn, SCHEDULER_NAME)))
        return false;
    if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"))
        return false;
    if (json_array_size(json_object_get(spec, "schedulingGates")))
        return false; /* SchedulingGates: not before the gates are removed */
    const char *phase = jstr(json_object_get(pod, "status"), "phase");
    return strcmp(phase, "Succeeded") && strcmp(phase, "Failed");
}

static void wait_free(wait_t *w)
{
    if (w->timeout)
        event_free(w->timeout);
    json_decref(w->claims);
    free(w->key);
    free(w->node);
    free(w);
}

static void forget_waiting(k1s_scheduler_t *s, const char *key)
{
    wait_t *w = k1s_strmap_del(&s->waiting, key);
    if (w)
        wait_free(w);
}

/* Deletes the members of obj not named in keep (NULL-terminated). */
static void keep_only(json_t *obj, const char *const *keep)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v)
    {
        bool wanted = false;
        for (int i = 0; keep[i] && !wanted; i++)
            wanted = !strcmp(k, keep[i]);
        if (!wanted)
            json_object_del(obj, k);
    }
}

/* The scheduler's cache keeps of a pod only what scheduling, binding and its Events read: a
 * pod's image, env, mounts, probes, service account volume and container statuses are most of
 * its size, and the scheduler holds every pod of the cluster. */
static void trim_pod(json_t *pod)
{
    static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
    static const char *const meta[] = {"name",
                                       "namespace",
                                       "uid",
                                       "labels",
                                       "ownerReferences",
                                       "resourceVersion",
                                       "deletionTimestamp",
                                       NULL};
    static const char *const spec[] = {
        "nodeName",     "schedulerName",   "containers",        "initContainers",
        "overhead",     "priority",        "priorityClassName", "preemptionPolicy",
        "nodeSelector", "affinity",        "tolerations",       "topologySpreadConstraints",
        "volumes",      "schedulingGates", "hostNetwork",       NULL};
    static const char *const container[] = {"name", "resources", "ports", "restartPolicy", NULL};
    /* claims, and the inline disks VolumeRestrictions compares */
    static const char *const volume[] = {"name",
                                         "persistentVolumeClaim",
                                         "ephemeral",
                                         "gcePersistentDisk",
                                         "awsElasticBlockStore",
                                         "iscsi",
                                         "rbd",
                                         NULL};
    static const char *const status[] = {"phase", "conditions", "nominatedNodeName", "startTime",
                                         NULL};
    keep_only(pod, top);
    keep_only(json_object_get(pod, "metadata"), meta);
    json_t *sp = json_object_get(pod, "spec");
    keep_only(sp, spec);
    const char *lists[] = {"containers", "initContainers"};
    size_t i;
    json_t *c;
    for (int l = 0; l < 2; l++) {
        json_array_foreach(json_object_get(sp, lists[l]), i, c)
        {
            keep_only(c, container);
        }
    }
    json_t *vols = json_object_get(sp, "volumes");
    for (i = json_array_size(vols); i-- > 0;) {
        json_t *v = json_array_get(vols, i);
        keep_only(v, volume);
        if (json_object_size(v) == (json_object_get(v, "name") ? 1u : 0u))
            json_array_remove(vols, i);
    }
    json_t *st = json_object_get(pod, "status");
    keep_only(st, status);
    /* of the conditions, PodScheduled (FailedScheduling compares it) and DisruptionTarget
     * (preemption looks for it) */
    static const char *const cond[] = {"type", "status", "reason", "message", NULL};
    json_t *conds = json_object_get(st, "conditions");
    for (i = json_array_size(conds); i-- > 0;) {
        json_t *cd = json_array_get(conds, i);
        const char *t = jstr(cd, "type");
        if (strcmp(t, "PodScheduled") && strcmp(t, "DisruptionTarget"))
            json_array_remove(conds, i);
        else
            keep_only(cd, cond);
    }
}

/* Removes key from the node summary holding it; returns true if it was held. */
static bool untrack(k1s_scheduler_t *s, const char *key)
{
    char *node = k1s_strmap_del(&s->assigned, key);
    if (!node)
        return false;
    k1s_sched_node_t *n = k1s_strmap_get(&s->node_map, node);
    if (n) {
        const char *slash = strchr(key, '/');
        char *ns = strndup(key, (size_t)(slash - key));
        k1s_sched_node_remove_pod(n, ns, slash + 1);
        free(ns);
    }
    free(node);
    return true;
}

/* Brings the node summaries in line with pod; returns true if room was freed somewhere. */
static bool track(k1s_scheduler_t *s, json_t *pod)
{
    char *key = pod_key(pod);
    if (!*pod_node(pod) && k1s_strmap_has(&s->waiting, key) && wants_scheduling(pod)) {
        free(key); /* assumed on its node while its volumes are bound */
        return false;
    }
    const char *old = k1s_strmap_get(&s->assigned, key);
    bool freed = old && (!pod_counts(pod) || strcmp(old, pod_node(pod)));
    untrack(s, key);
    if (pod_counts(pod)) {
        k1s_sched_node_t *n = k1s_strmap_get(&s->node_map, pod_node(pod));
        if (n) {
            k1s_sched_node_add_pod(n, pod);
            k1s_strmap_set(&s->assigned, key, k1s_xstrdup(pod_node(pod)));
        }
    }
    free(key);
    return freed;
}

/* A cluster change that may help: the unschedulable pods go back to the queue, with back-off. */
static void retry_unschedulable(k1s_scheduler_t *s)
{
    size_t n = k1s_strmap_len(&s->unschedulable), j = 0;
    if (!n)
        return;
    char **keys = k1s_xmalloc(n * sizeof(*keys));
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&s->unschedulable, &i, &k, &v);)
        keys[j++] = k1s_xstrdup(k);
    for (size_t i = 0; i < j; i++) {
        k1s_strmap_del(&s->unschedulable, keys[i]);
        k1s_workqueue_add_rate_limited(s->queue, keys[i]);
        free(keys[i]);
    }
    free(keys);
}

/* Keeps s->nominated in line with the pod's status.nominatedNodeName while it waits. Returns
 * true when a nomination went away (the room it held is free). */
static bool track_nomination(k1s_scheduler_t *s, const json_t *pod, const char *key)
{
    const char *nnn = jstr(json_object_get(pod, "status"), "nominatedNodeName");
    char *old = NULL;
    if (wants_scheduling(pod) && *nnn) {
        const char *cur = k1s_strmap_get(&s->nominated, key);
        if (!cur || strcmp(cur, nnn))
            old = k1s_strmap_set(&s->nominated, key, k1s_xstrdup(nnn));
    } else {
        old = k1s_strmap_del(&s->nominated, key);
    }
    bool went = old != NULL;
    free(old);
    return went;
}

/* ---- node events ---- */

static void node_add(json_t *obj, void *arg)
{
    k1s_scheduler_t *s = arg;
    const char *name = jstr(json_object_get(obj, "metadata"), "name");
    k1s_sched_node_t *n = k1s_strmap_get(&s->node_map, name);
    if (n) {
        k1s_sched_node_set(n, obj);
    } else {
        k1s_strmap_set(&s->node_map, name, k1s_sched_node_new(obj));
        json_t **pods = NULL;
        int np = k1s_informer_by_index(s->pods, "nodeName", name, &pods);
        for (int i = 0; i < np; i++)
            track(s, pods[i]);
        free(pods);
    }
    retry_unschedulable(s);
}

static bool node_changed(const json_t *a, const json_t *b)
{
    const json_t *ma = json_object_get(a, "metadata"), *mb = json_object_get(b, "metadata");
    const json_t *sa = json_object_get(a, "status"), *sb = json_object_get(b, "status");
    return !json_equal(json_object_get(ma, "labels"), json_object_get(mb, "labels")) ||
           !json_equal(json_object_get(a, "spec"), json_object_get(b, "spec")) ||
           !json_equal(json_object_get(sa, "allocatable"), json_object_get(sb, "allocatable"));
}

static void node_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    k1s_scheduler_t *s = arg;
    k1s_sched_node_t *n =
        k1s_strmap_get(&s->node_map, jstr(json_object_get(new_obj, "metadata"), "name"));
    if (!n) {
        node_add(new_obj, arg);
        return;
    }
    k1s_sched_node_set(n, new_obj);
    if (node_changed(old_obj, new_obj))
        retry_unschedulable(s);
}

static void node_delete(json_t *obj, void *arg)
{
    k1s_scheduler_t *s = arg;
    const char *name = jstr(json_object_get(obj, "metadata"), "name");
    k1s_sched_node_t *n = k1s_strmap_del(&s->node_map, name);
    if (!n)
        return;
    /* forget which pods it held */
    size_t cap = k1s_strmap_len(&s->assigned), j = 0;
    char **keys = k1s_xmalloc((cap + 1) * sizeof(*keys));
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&s->assigned, &i, &k, &v);)
        if (!strcmp(v, name))
            keys[j++] = k1s_xstrdup(k);
    for (size_t i = 0; i < j; i++) {
        free(k1s_strmap_del(&s->assigned, keys[i]));
        free(keys[i]);
    }
    free(keys);
    k1s_sched_node_free(n);
}

/* ---- pod events ---- */

static void pod_add(json_t *obj, void *arg)
{
    k1s_scheduler_t *s = arg;
    track(s, obj);
    char *key = pod_key(obj);
    track_nomination(s, obj, key);
    if (wants_scheduling(obj))
        k1s_workqueue_add(s->queue, key);
    free(key);
}

static void pod_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    k1s_scheduler_t *s = arg;
    bool freed = track(s, new_obj);
    char *key = pod_key(new_obj);
    if (track_nomination(s, new_obj, key) || freed)
        retry_unschedulable(s);
    if (wants_scheduling(new_obj)) {
        /* an unschedulable pod waits for a cluster change, or a change of its own spec */
        if (!k1s_strmap_has(&s->unschedulable, key) ||
            !json_equal(json_object_get(old_obj, "spec"), json_object_get(new_obj, "spec"))) {
            k1s_strmap_del(&s->unschedulable, key);
            k1s_workqueue_add(s->queue, key);
        }
    } else {
        k1s_strmap_del(&s->unschedulable, key);
    }
    free(key);
}

static void pod_delete(json_t *obj, void *arg)
{
    k1s_scheduler_t *s = arg;
    char *key = pod_key(obj);
    k1s_strmap_del(&s->unschedulable, key);
    forget_waiting(s, key);
    bool freed = untrack(s, key);
    if (k1s_strmap_has(&s->nominated, key)) {
        free(k1s_strmap_del(&s->nominated, key));
        freed = true; /* the room it held for itself is free for others */
    }
    free(key);
    if (freed)
        retry_unschedulable(s);
}

/* ---- writes ---- */

static void ignore_result(const k1s_client_result_t *res, void *arg)
{
    if (res->status >= 300 || res->status == 0)
        k1s_debug("scheduler: %s write failed: %d %s", (const char *)arg ? (const char *)arg : "",
                  res->status, res->message);
}

/* updatePod: PodScheduled=False with the message, and status.nominatedNodeName set to nominate
 * (a node name, "" to clear it, NULL to leave it). */
static void mark_unschedulable(k1s_scheduler_t *s, const json_t *pod, const char *message,
                               const char *nominate)
{
    const json_t *md = json_object_get(pod, "metadata");
    const json_t *st = json_object_get(pod, "status");
    const json_t *conds = json_object_get(st, "conditions");
    bool nnn_update = nominate && strcmp(jstr(st, "nominatedNodeName"), nominate);
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        if (!strcmp(jstr(c, "type"), "PodScheduled") && !strcmp(jstr(c, "status"), "False") &&
            !strcmp(jstr(c, "reason"), "Unschedulable") && !strcmp(jstr(c, "message"), message) &&
            !nnn_update)
            return; /* already says so */
    }
    char ts[32];
    k1s_time_rfc3339(ts);
    json_t *patch = json_pack("{s:{s:[{s:s,s:s,s:s,s:s,s:n,s:s}]}}", "status", "conditions", "type",
                              "PodScheduled", "status", "False", "reason", "Unschedulable",
                              "message", message, "lastProbeTime", "lastTransitionTime", ts);
    if (nnn_update)
        json_object_set_new(json_object_get(patch, "status"), "nominatedNodeName",
                            *nominate ? json_string(nominate) : json_null());
    char *body = json_dumps(patch, JSON_COMPACT);
    json_decref(patch);
    k1s_client_patch(s->client, &pods_gvr, jstr(md, "namespace"), jstr(md, "name"), "status",
                     K1S_PATCH_STRATEGIC, body, false, ignore_result, "pod status");
    free(body);
}

typedef struct {
    pending_t link;
    k1s_scheduler_t *s;
    char *key;
    char *node;
} bind_ctx_t;

static void bind_ctx_free(void *arg)
{
    bind_ctx_t *b = arg;
    free(b->key);
    free(b->node);
    free(b);
}

static void bound(const k1s_client_result_t *res, void *arg)
{
    bind_ctx_t *b = arg;
    k1s_scheduler_t *s = b->s;
    unpend(s, &b->link);
    const char *slash = strchr(b->key, '/');
    char *ns = strndup(b->key, (size_t)(slash - b->key));
    json_t *pod = k1s_informer_get(s->pods, ns, slash + 1);
    if (res->status == 201 || res->status == 200) {
        k1s_workqueue_forget(s->queue, b->key);
        if (pod) {
            k1s_recorder_event(s->recorder, pod, "Normal", "Scheduled",
                               "Successfully assigned %s to %s", b->key, b->node);
        }
    } else {
        k1s_warn("scheduler: binding %s to %s failed: %d %s", b->key, b->node, res->status,
                 res->message);
        /* undo the assumption: the cache's view of the pod wins */
        if (pod)
            track(s, pod);
        else
            untrack(s, b->key);
        if (res->status != 404 && res->status != 409)
            k1s_workqueue_add_rate_limited(s->queue, b->key);
    }
    k1s_workqueue_done(s->queue, b->key);
    free(ns);
    bind_ctx_free(b);
}

/* ---- preemption (prepareCandidate) ---- */

typedef struct {
    pending_t link;
    k1s_scheduler_t *s;
    char *ns, *name, *uid;
} victim_ctx_t;

static void victim_ctx_free(void *arg)
{
    victim_ctx_t *v = arg;
    free(v->ns);
    free(v->name);
    free(v->uid);
    free(v);
}

static void victim_deleted(const k1s_client_result_t *res, void *arg)
{
    victim_ctx_t *v = arg;
    unpend(v->s, &v->link);
    if (res->status >= 300 && res->status != 404)
        k1s_warn("scheduler: deleting preemption victim %s/%s failed: %d %s", v->ns, v->name,
                 res->status, res->message);
    victim_ctx_free(v);
}

/* The DisruptionTarget condition is written (or was refused); now the victim is deleted. */
static void victim_marked(const k1s_client_result_t *res, void *arg)
{
    victim_ctx_t *v = arg;
    unpend(v->s, &v->link);
    if (res->status == 404) {
        victim_deleted(res, arg);
        return;
    }
    if (res->status >= 300 || res->status == 0)
        k1s_debug("scheduler: DisruptionTarget on %s/%s: %d %s", v->ns, v->name, res->status,
                  res->message);
    k1s_delete_opts_t opts = {.precondition_uid = v->uid, .grace_period_s = -1};
    pend(v->s, &v->link, victim_ctx_free);
    k1s_client_delete(v->s->client, &pods_gvr, v->ns, v->name, &opts, victim_deleted, v);
}

/* Acts on a preemption: victims get the DisruptionTarget condition and are deleted, with a
 * Preempted Event; lower-priority pods nominated to the node lose their nomination. */
static void preempt(k1s_scheduler_t *s, const json_t *pod, const char *key, const char *node,
                    const json_t *victims)
{
    const char *uid = jstr(json_object_get(pod, "metadata"), "uid");
    int64_t prio = json_integer_value(json_object_get(json_object_get(pod, "spec"), "priority"));
    char ts[32];
    k1s_time_rfc3339(ts);
    json_t *patch =
        json_pack("{s:{s:[{s:s,s:s,s:s,s:s,s:s}]}}", "status", "conditions", "type",
                  "DisruptionTarget", "status", "True", "reason", "PreemptionByScheduler",
                  "message", SCHEDULER_NAME ": preempting to accommodate a higher priority pod",
                  "lastTransitionTime", ts);
    char *body = json_dumps(patch, JSON_COMPACT);
    json_decref(patch);
    size_t i;
    const json_t *victim;
    json_array_foreach(victims, i, victim)
    {
        const json_t *vmd = json_object_get(victim, "metadata");
        k1s_info("scheduler: preempting %s/%s on %s for %s", jstr(vmd, "namespace"),
                 jstr(vmd, "name"), node, key);
        victim_ctx_t *v = k1s_xcalloc(1, sizeof(*v));
        v->s = s;
        v->ns = k1s_xstrdup(jstr(vmd, "namespace"));
        v->name = k1s_xstrdup(jstr(vmd, "name"));
        v->uid = k1s_xstrdup(jstr(vmd, "uid"));
        pend(s, &v->link, victim_ctx_free);
        k1s_client_patch(s->client, &pods_gvr, v->ns, v->name, "status", K1S_PATCH_STRATEGIC, body,
                         false, victim_marked, v);
        k1s_recorder_event(s->recorder, victim, "Normal", "Preempted",
                           "Preempted by pod %s on node %s", uid, node);
    }
    free(body);
    free(k1s_strmap_set(&s->nominated, key, k1s_xstrdup(node)));
    /* ClearNominatedNodeName of the lower-priority pods nominated to the node */
    size_t n = k1s_strmap_len(&s->nominated), j = 0;
    char **keys = k1s_xmalloc((n + 1) * sizeof(*keys));
    const char *k;
    void *val;
    for (size_t it = 0; k1s_strmap_next(&s->nominated, &it, &k, &val);)
        if (strcmp(k, key) && !strcmp(val, node))
            keys[j++] = k1s_xstrdup(k);
    for (size_t x = 0; x < j; x++) {
        const char *slash = strchr(keys[x], '/');
        char *ns = strndup(keys[x], (size_t)(slash - keys[x]));
        const json_t *other = k1s_informer_get(s->pods, ns, slash + 1);
        if (other && json_integer_value(
                         json_object_get(json_object_get(other, "spec"), "priority")) < prio) {
            free(k1s_strmap_del(&s->nominated, keys[x]));
            k1s_client_patch(s->client, &pods_gvr, ns, slash + 1, "status", K1S_PATCH_MERGE,
                             "{\"status\":{\"nominatedNodeName\":null}}", false, ignore_result,
                             "nomination");
        }
        free(ns);
        free(keys[x]);
    }
    free(keys);
}

/* Posts the Binding of pod to node (the pod is assumed there already). */
static void post_binding(k1s_scheduler_t *s, const char *key, const json_t *pod, const char *node)
{
    const json_t *md = json_object_get(pod, "metadata");
    json_t *binding = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}", "apiVersion", "v1",
                                "kind", "Binding", "metadata", "name", jstr(md, "name"),
                                "namespace", jstr(md, "namespace"), "uid", jstr(md, "uid"),
                                "target", "apiVersion", "v1", "kind", "Node", "name", node);
    char *body = json_dumps(binding, JSON_COMPACT);
    json_decref(binding);
    char *path = k1s_client_path(&pods_gvr, jstr(md, "namespace"), jstr(md, "name"), "binding");
    bind_ctx_t *b = k1s_xmalloc(sizeof(*b));
    b->s = s;
    b->key = k1s_xstrdup(key);
    b->node = k1s_xstrdup(node);
    pend(s, &b->link, bind_ctx_free);
    k1s_client_request(s->client, "POST", path, "application/json", body, bound, b);
    free(path);
}

/* ---- VolumeBinding's PreBind: claimRefs and selected-node written, then wait for the PV
 * controller to bind the claims ---- */

/* Unreserve: the pod leaves its node and is tried again, with the reason as FailedScheduling. */
static void volume_binding_failed(k1s_scheduler_t *s, const char *key, const char *why)
{
    char *k = k1s_xstrdup(key);
    forget_waiting(s, k);
    untrack(s, k);
    const char *slash = strchr(k, '/');
    char *ns = strndup(k, (size_t)(slash - k));
    const json_t *pod = k1s_informer_get(s->pods, ns, slash + 1);
    free(ns);
    if (pod) {
        k1s_recorder_event(s->recorder, pod, "Warning", "FailedScheduling",
                           "running PreBind plugin \"VolumeBinding\": binding volumes: %s", why);
        k1s_workqueue_add_rate_limited(s->queue, k);
    }
    free(k);
}

static void wait_timed_out(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wait_t *w = arg;
    volume_binding_failed(w->s, w->key, "context deadline exceeded");
}

/* checkBindings for every waiting pod: once all its claims are bound, the pod is bound. */
static void check_waiting(k1s_scheduler_t *s)
{
    size_t n = k1s_strmap_len(&s->waiting), j = 0;
    if (!n)
        return;
    char **keys = k1s_xmalloc(n * sizeof(*keys));
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&s->waiting, &i, &k, &v);)
        keys[j++] = k1s_xstrdup(k);
    for (size_t i = 0; i < j; i++) {
        wait_t *w = k1s_strmap_get(&s->waiting, keys[i]);
        const char *slash = strchr(keys[i], '/');
        char *ns = strndup(keys[i], (size_t)(slash - keys[i]));
        const json_t *pod = k1s_informer_get(s->pods, ns, slash + 1);
        bool ready = true, lost = false;
        size_t x;
        const json_t *c;
        json_array_foreach(w->claims, x, c)
        {
            const json_t *pvc = k1s_informer_get(s->pvcs, ns, json_string_value(c));
            if (!pvc || json_object_get(json_object_get(pvc, "metadata"), "deletionTimestamp"))
                lost = true;
            else if (!*jstr(json_object_get(pvc, "spec"), "volumeName") ||
                     strcmp(jstr(json_object_get(pvc, "status"), "phase"), "Bound"))
                ready = false;
        }
        free(ns);
        if (!pod || !wants_scheduling(pod)) {
            forget_waiting(s, keys[i]);
        } else if (lost) {
            volume_binding_failed(s, keys[i], "a claim is gone");
        } else if (ready) {
            char *node = k1s_xstrdup(w->node);
            forget_waiting(s, keys[i]);
            post_binding(s, keys[i], pod, node);
            free(node);
        }
        free(keys[i]);
    }
    free(keys);
}

typedef struct {
    pending_t link;
    k1s_scheduler_t *s;
    char *key, *pv;
} vol_write_t;

static void vol_write_free(void *arg)
{
    vol_write_t *vw = arg;
    free(vw->key);
    free(vw->pv);
    free(vw);
}

static void volume_written(const k1s_client_result_t *res, void *arg)
{
    vol_write_t *vw = arg;
    unpend(vw->s, &vw->link);
    if (res->status >= 300 || res->status == 0) {
        k1s_warn("scheduler: binding volumes of %s: %d %s", vw->key, res->status, res->message);
        if (vw->pv)
            free(k1s_strmap_del(&vw->s->assumed_pvs, vw->pv));
        if (k1s_strmap_has(&vw->s->waiting, vw->key))
            volume_binding_failed(vw->s, vw->key, res->message ? res->message : "write failed");
    }
    vol_write_free(vw);
}

/* BindPodVolumes: PVs chosen for claims get their claimRef, claims to provision get
 * volume.kubernetes.io/selected-node; the pod waits (assumed on the node) for the claims to be
 * bound. */
static void bind_volumes(k1s_scheduler_t *s, const char *key, const json_t *pod, const char *node,
                         const json_t *plan)
{
    const char *ns = jstr(json_object_get(pod, "metadata"), "namespace");
    wait_t *w = k1s_xcalloc(1, sizeof(*w));
    w->s = s;
    w->key = k1s_xstrdup(key);
    w->node = k1s_xstrdup(node);
    w->claims = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(plan, i, e)
    {
        const char *claim = jstr(e, "claim"), *pv = json_string_value(json_object_get(e, "pv"));
        json_array_append_new(w->claims, json_string(claim));
        const json_t *pvc = k1s_informer_get(s->pvcs, ns, claim);
        const json_t *md = json_object_get(pvc, "metadata");
        vol_write_t *vw = k1s_xcalloc(1, sizeof(*vw));
        vw->s = s;
        vw->key = k1s_xstrdup(key);
        json_t *patch;
        if (pv) {
            vw->pv = k1s_xstrdup(pv);
            free(k1s_strmap_set(&s->assumed_pvs, pv, k1s_xasprintf("%s/%s", ns, claim)));
            patch = json_pack("{s:{s:{s:s}},s:{s:{s:s,s:s,s:s,s:s,s:s,s:s}}}", "metadata",
                              "annotations", "pv.kubernetes.io/bound-by-controller", "yes", "spec",
                              "claimRef", "kind", "PersistentVolumeClaim", "apiVersion", "v1",
                              "namespace", ns, "name", claim, "uid", jstr(md, "uid"),
                              "resourceVersion", jstr(md, "resourceVersion"));
        } else {
            patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", ANN_SELECTED_NODE, node);
        }
        char *body = json_dumps(patch, JSON_COMPACT);
        json_decref(patch);
        k1s_debug("scheduler: %s: %s %s for node %s", key, pv ? "binding PV" : "provisioning",
                  pv ? pv : claim, node);
        pend(s, &vw->link, vol_write_free);
        if (pv)
            k1s_client_patch(s->client, &pvs_gvr, NULL, pv, NULL, K1S_PATCH_MERGE, body, false,
                             volume_written, vw);
        else
            k1s_client_patch(s->client, &pvcs_gvr, ns, claim, NULL, K1S_PATCH_MERGE, body, false,
                             volume_written, vw);
        free(body);
    }
    w->timeout = evtimer_new(s->base, wait_timed_out, w);
    struct timeval tv = {BIND_TIMEOUT_S, 0};
    evtimer_add(w->timeout, &tv);
    k1s_strmap_set(&s->waiting, key, w);
}

/* ---- volumes for the scheduling library ---- */

static const json_t *lookup(void *arg, const char *kind, const char *ns, const char *name)
{
    k1s_scheduler_t *s = arg;
    if (!strcmp(kind, "PersistentVolumeClaim"))
        return k1s_informer_get(s->pvcs, ns, name);
    if (!strcmp(kind, "PersistentVolume"))
        return k1s_informer_get(s->pvs, NULL, name);
    if (!strcmp(kind, "StorageClass"))
        return k1s_informer_get(s->scs, NULL, name);
    if (!strcmp(kind, "Namespace"))
        return k1s_informer_get(s->nss, NULL, name);
    if (!strcmp(kind, "CSINode"))
        return k1s_informer_get(s->csinodes, NULL, name);
    return NULL;
}

static size_t list_pvs(void *arg, const char *cls, const json_t ***out)
{
    k1s_scheduler_t *s = arg;
    json_t **all = NULL;
    int n = k1s_informer_by_index(s->pvs, "storageClassName", cls, &all);
    size_t k = 0;
    *out = k1s_xcalloc(n > 0 ? (size_t)n : 1, sizeof(**out));
    for (int i = 0; i < n; i++)
        if (!k1s_strmap_has(&s->assumed_pvs, jstr(json_object_get(all[i], "metadata"), "name")))
            (*out)[k++] = all[i];
    free(all);
    return k;
}

static int index_by_class(json_t *obj, const char **out)
{
    const char *c =
        json_string_value(json_object_get(json_object_get(obj, "spec"), "storageClassName"));
    if (!c)
        return 0;
    out[0] = c;
    return 1;
}

static void volume_add(json_t *obj, void *arg)
{
    k1s_scheduler_t *s = arg;
    if (k1s_strmap_len(&s->assumed_pvs) &&
        json_object_get(json_object_get(obj, "spec"), "claimRef") &&
        !strcmp(jstr(obj, "kind"), "PersistentVolume"))
        free(k1s_strmap_del(&s->assumed_pvs, jstr(json_object_get(obj, "metadata"), "name")));
    check_waiting(s);
    retry_unschedulable(s);
}

static void volume_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    volume_add(new_obj, arg);
}

static void class_add(json_t *obj, void *arg)
{
    (void)obj;
    retry_unschedulable(arg);
}

/* NodeVolumeLimits: a new CSINode, or one whose drivers changed, may make room. */
static void csinode_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    if (!json_equal(json_object_get(old_obj, "spec"), json_object_get(new_obj, "spec")))
        retry_unschedulable(arg);
}

/* ---- the worker ---- */

static void schedule_one(k1s_workqueue_t *q, const char *key, void *arg)
{
    k1s_scheduler_t *s = arg;
    if (!k1s_informer_factory_synced(s->factory)) {
        k1s_workqueue_add_after(q, key, 100);
        k1s_workqueue_done(q, key);
        return;
    }
    const char *slash = strchr(key, '/');
    char *ns = strndup(key, (size_t)(slash - key));
    json_t *pod = k1s_informer_get(s->pods, ns, slash + 1);
    free(ns);
    if (k1s_strmap_has(&s->waiting, key)) {
        k1s_workqueue_done(q, key); /* in PreBind: its volumes are being bound */
        return;
    }
    if (!pod || !wants_scheduling(pod)) {
        k1s_strmap_del(&s->unschedulable, key);
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
        return;
    }
    size_t n = k1s_strmap_len(&s->node_map), j = 0;
    k1s_sched_node_t **nodes = k1s_xmalloc((n + 1) * sizeof(*nodes));
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&s->node_map, &i, &k, &v);)
        nodes[j++] = v;
    s->cluster.nodes = nodes;
    s->cluster.n_nodes = j;
    size_t nn = k1s_strmap_len(&s->nominated), m = 0;
    k1s_sched_nominated_t *nom = nn ? k1s_xcalloc(nn, sizeof(*nom)) : NULL;
    for (size_t i = 0; k1s_strmap_next(&s->nominated, &i, &k, &v);) {
        const char *slash2 = strchr(k, '/');
        char *pns = strndup(k, (size_t)(slash2 - k));
        const json_t *np = k1s_informer_get(s->pods, pns, slash2 + 1);
        free(pns);
        if (np)
            nom[m++] = (k1s_sched_nominated_t){v, np};
    }
    s->cluster.nominated = nom;
    s->cluster.n_nominated = m;
    json_t **pdbs = NULL;
    s->cluster.n_pdbs = k1s_informer_len(s->pdbs) ? k1s_informer_list(s->pdbs, &pdbs) : 0;
    s->cluster.pdbs = (const json_t *const *)pdbs;
    k1s_sched_result_t res;
    k1s_sched_schedule(&s->cluster, pod, &res);
    s->cluster.nominated = NULL;
    s->cluster.n_nominated = 0;
    s->cluster.pdbs = NULL;
    s->cluster.n_pdbs = 0;
    free(pdbs);
    free(nom);
    if (res.scheduled) {
        const char *node = k1s_sched_node_name(nodes[res.node]);
        /* assume the pod on the node until the informer shows the binding */
        json_t *assumed = json_deep_copy(pod);
        json_object_set_new(json_object_get(assumed, "spec"), "nodeName", json_string(node));
        track(s, assumed);
        json_decref(assumed);
        json_t *plan = k1s_sched_volume_plan(&s->cluster, pod, res.node);
        if (plan) {
            bind_volumes(s, key, pod, node, plan);
            json_decref(plan);
            k1s_workqueue_done(q, key);
        } else {
            post_binding(s, key, pod, node);
        }
    } else {
        const char *msg = res.message ? res.message : "0/0 nodes are available.";
        const char *nominate = NULL;
        k1s_debug("scheduler: %s: %s", key, msg);
        if (res.nominated) {
            nominate = k1s_sched_node_name(nodes[res.nominated_node]);
            preempt(s, pod, key, nominate, res.victims);
        } else if (res.clear_nomination) {
            nominate = "";
            free(k1s_strmap_del(&s->nominated, key));
        }
        k1s_strmap_set(&s->unschedulable, key, s);
        mark_unschedulable(s, pod, msg, nominate);
        k1s_recorder_event(s->recorder, pod, "Warning", "FailedScheduling", "%s", msg);
        k1s_workqueue_done(q, key);
    }
    s->cluster.nodes = NULL;
    s->cluster.n_nodes = 0;
    k1s_sched_result_free(&res);
    free(nodes);
}

/* Won the Lease: build the caches and start placing pods. */
static void started_leading(void *arg)
{
    k1s_scheduler_t *s = arg;
    const char *groups[] = {"system:authenticated", NULL};
    s->client = k1s_client_new_inprocess(s->base, s->handler, s->handler_arg,
                                         "system:kube-scheduler", groups);
    k1s_client_set_user_agent(s->client, "kube-scheduler/v1.31.0 (linux/amd64) k1s");
    s->queue = k1s_workqueue_new(s->base, 1, schedule_one, s);
    s->recorder = k1s_recorder_new(s->client, SCHEDULER_NAME);
    s->factory = k1s_informer_factory_new(s->client);
    s->nodes = k1s_informer_factory_get(s->factory, &nodes_gvr);
    s->pods = k1s_informer_factory_get(s->factory, &pods_gvr);
    k1s_informer_set_transform(s->pods, trim_pod);
    k1s_informer_add_indexer(s->pods, "nodeName", k1s_index_by_node_name);
    s->pvcs = k1s_informer_factory_get(s->factory, &pvcs_gvr);
    s->pvs = k1s_informer_factory_get(s->factory, &pvs_gvr);
    s->scs = k1s_informer_factory_get(s->factory, &scs_gvr);
    s->nss = k1s_informer_factory_get(s->factory, &nss_gvr);
    s->pdbs = k1s_informer_factory_get(s->factory, &pdbs_gvr);
    s->csinodes = k1s_informer_factory_get(s->factory, &csinodes_gvr);
    k1s_informer_add_indexer(s->pvs, "storageClassName", index_by_class);
    k1s_informer_handlers_t vh = {volume_add, volume_update, NULL, s};
    k1s_informer_handlers_t ch = {class_add, NULL, NULL, s};
    k1s_informer_add_handlers(s->pvcs, &vh);
    k1s_informer_add_handlers(s->pvs, &vh);
    k1s_informer_add_handlers(s->scs, &ch);
    k1s_informer_handlers_t csh = {class_add, csinode_update, NULL, s};
    k1s_informer_add_handlers(s->csinodes, &csh);
    s->cluster.lookup = lookup;
    s->cluster.list_pvs = list_pvs;
    s->cluster.lookup_arg = s;
    k1s_informer_handlers_t nh = {node_add, node_update, node_delete, s};
    k1s_informer_handlers_t ph = {pod_add, pod_update, pod_delete, s};
    k1s_informer_add_handlers(s->nodes, &nh);
    k1s_informer_add_handlers(s->pods, &ph);
    k1s_informer_factory_start(s->factory);
    k1s_debug("scheduler: leading");
}

/* Lost the Lease (or stopping): drop everything; it is rebuilt if the Lease is won back. */
static void stopped_leading(void *arg)
{
    k1s_scheduler_t *s = arg;
    if (!s->factory)
        return;
    k1s_informer_factory_free(s->factory);
    s->factory = NULL;
    k1s_client_free(s->client);
    s->client = NULL;
    while (s->pending) { /* canceled with the client: their callbacks will not come */
        pending_t *p = s->pending;
        unpend(s, p);
        p->free_fn(p);
    }
    k1s_workqueue_free(s->queue);
    s->queue = NULL;
    k1s_recorder_free(s->recorder);
    s->recorder = NULL;
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&s->node_map, &i, &k, &v);)
        k1s_sched_node_free(v);
    for (size_t i = 0; k1s_strmap_next(&s->assigned, &i, &k, &v);)
        free(v);
    for (size_t i = 0; k1s_strmap_next(&s->nominated, &i, &k, &v);)
        free(v);
    k1s_strmap_free(&s->nominated);
    memset(&s->nominated, 0, sizeof(s->nominated));
    for (size_t i = 0; k1s_strmap_next(&s->waiting, &i, &k, &v);)
        wait_free(v);
    k1s_strmap_free(&s->waiting);
    memset(&s->waiting, 0, sizeof(s->waiting));
    for (size_t i = 0; k1s_strmap_next(&s->assumed_pvs, &i, &k, &v);)
        free(v);
    k1s_strmap_free(&s->assumed_pvs);
    memset(&s->assumed_pvs, 0, sizeof(s->assumed_pvs));
    k1s_strmap_free(&s->node_map);
    k1s_strmap_free(&s->assigned);
    k1s_strmap_free(&s->unschedulable);
    memset(&s->node_map, 0, sizeof(s->node_map));
    memset(&s->assigned, 0, sizeof(s->assigned));
    memset(&s->unschedulable, 0, sizeof(s->unschedulable));
}

k1s_scheduler_t *k1s_scheduler_start(struct event_base *base, k1s_http_handler_fn handler,
                                     void *handler_arg, const char *identity)
{
    k1s_scheduler_t *s = k1s_xcalloc(1, sizeof(*s));
    s->base = base;
    s->handler = handler;
    s->handler_arg = handler_arg;
    const char *groups[] = {"system:authenticated", NULL};
    s->le_client =
        k1s_client_new_inprocess(base, handler, handler_arg, "system:kube-scheduler", groups);
    k1s_client_set_user_agent(s->le_client, "kube-scheduler/v1.31.0 (linux/amd64) k1s");
    if (!identity) { /* no leader election: this is the only scheduler */
        started_leading(s);
        return s;
    }
    k1s_leader_election_config_t cfg = {.namespace_ = "kube-system",
                                        .name = "kube-scheduler",
                                        .identity = identity,
                                        .started_leading = started_leading,
                                        .stopped_leading = stopped_leading,
                                        .arg = s};
    s->le = k1s_leader_elector_new(s->le_client, &cfg);
    k1s_leader_elector_start(s->le);
    return s;
}

void k1s_scheduler_free(k1s_scheduler_t *s)
{
    if (!s)
        return;
    k1s_leader_elector_free(s->le);
    stopped_leading(s);
    k1s_client_free(s->le_client);
    free(s);
}
