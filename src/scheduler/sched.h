/*
 * The scheduler's decision logic: kube-scheduler's default profile as a pure
 * library. Given a pod and a snapshot of the cluster (nodes, and per node the
 * pods bound there, summarised once and updated incrementally), it runs the
 * filters (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
 * NodePorts, NodeResourcesFit, VolumeRestrictions, NodeVolumeLimits,
 * VolumeBinding, VolumeZone, PodTopologySpread, InterPodAffinity), scores the feasible nodes with
 * the default weights, picks the best (ties broken by a seedable random choice; on large clusters
 * only the adaptive share of nodes kube-scheduler scores), and when nothing fits words the
 * FailedScheduling message as kube-scheduler 1.31+ does and runs DefaultPreemption to find victims
 * and a nominated node.
 *
 * The scheduler proper (informers, binding, events, retry queue) fills a
 * k1s_sched_cluster_t from its caches and calls k1s_sched_schedule.
 */
#ifndef K1S_SCHEDULER_SCHED_H
#define K1S_SCHEDULER_SCHED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Requested or allocatable resources: cpu in millicores, bytes otherwise. */
typedef struct {
    int64_t milli_cpu;
    int64_t memory;
    int64_t ephemeral;
} k1s_sched_res_t;

/* A node and a summary of the pods bound to it (kube-scheduler's NodeInfo). */
typedef struct k1s_sched_node k1s_sched_node_t;

/* The filter plugins, in the order they run. */
typedef enum {
    K1S_SCHED_NODE_UNSCHEDULABLE,
    K1S_SCHED_NODE_NAME,
    K1S_SCHED_TAINT_TOLERATION,
    K1S_SCHED_NODE_AFFINITY,
    K1S_SCHED_NODE_PORTS,
    K1S_SCHED_NODE_RESOURCES_FIT,
    K1S_SCHED_VOLUME_RESTRICTIONS,
    K1S_SCHED_NODE_VOLUME_LIMITS,
    K1S_SCHED_VOLUME_BINDING,
    K1S_SCHED_VOLUME_ZONE,
    K1S_SCHED_POD_TOPOLOGY_SPREAD,
    K1S_SCHED_INTER_POD_AFFINITY,
    K1S_SCHED_N_FILTERS,
} k1s_sched_plugin_t;

/* Creates the summary of a v1 Node; keeps a copy of node. */
k1s_sched_node_t *k1s_sched_node_new(json_t *node);
void k1s_sched_node_free(k1s_sched_node_t *n);
/* Replaces the Node object (after an update); keeps the pods. Keeps a copy. */
void k1s_sched_node_set(k1s_sched_node_t *n, json_t *node);
/* Adds a pod bound to the node (keeps a copy of what the scheduler reads of it) / removes it
 * by namespace/name. Removing returns 0 or -ENOENT. */
void k1s_sched_node_add_pod(k1s_sched_node_t *n, json_t *pod);
int k1s_sched_node_remove_pod(k1s_sched_node_t *n, const char *ns, const char *name);
const char *k1s_sched_node_name(const k1s_sched_node_t *n);
const json_t *k1s_sched_node_obj(const k1s_sched_node_t *n);
size_t k1s_sched_node_pod_count(const k1s_sched_node_t *n);
/* True if pod's nodeSelector and required node affinity allow node (also used by the
 * DaemonSet controller to decide which nodes want a daemon pod). */
bool k1s_sched_pod_matches_node_affinity(const json_t *pod, const k1s_sched_node_t *n);
/* True if one of tolerations (a v1 Toleration array) tolerates taint. */
bool k1s_sched_tolerations_tolerate(const json_t *tolerations, const json_t *taint);

/* Sum of the requests of the pods on the node (what `kubectl describe node` shows). */
k1s_sched_res_t k1s_sched_node_requested(const k1s_sched_node_t *n);

/* The pod's effective requests: max(sum of containers and sidecars, any init container) plus
 * overhead, as kube-scheduler's computePodResourceRequest. */
k1s_sched_res_t k1s_sched_pod_requests(const json_t *pod);

/* Looks up an object by kind: "PersistentVolumeClaim" (ns, name), "PersistentVolume",
 * "StorageClass", "CSINode" or "Namespace" (ns NULL, name). Returns a borrowed object or NULL. */
typedef const json_t *(*k1s_sched_lookup_fn)(void *arg, const char *kind, const char *ns,
                                             const char *name);

/* A pod nominated to a node by an earlier preemption (status.nominatedNodeName), not bound yet:
 * its resources are held on that node for pods of lower or equal priority. */
typedef struct {
    const char *node;
    const json_t *pod;
} k1s_sched_nominated_t;

/* The snapshot one scheduling attempt runs against. The caller owns the nodes. */
typedef struct {
    k1s_sched_node_t **nodes;
    size_t n_nodes;
    k1s_sched_lookup_fn lookup; /* optional: PVCs and PVs for VolumeBinding, VolumeZone and
                                   NodeVolumeLimits, CSINodes (by node name) for the latter,
                                   Namespaces for affinity terms' namespaceSelector */
    void *lookup_arg;
    uint64_t rng;      /* tie-breaking state; any value, 0 is replaced by a fixed seed */
    size_t next_start; /* where the next attempt starts filtering (round robin, as
                          kube-scheduler's nextStartNodeIndex); keep it between attempts */
    const k1s_sched_nominated_t *nominated; /* optional: nominated pods (the attempt's own pod
                                               may be among them; it is skipped) */
    size_t n_nominated;
    /* optional, for VolumeBinding with WaitForFirstConsumer claims: the PersistentVolumes of a
     * StorageClass (borrowed objects; a new array in *out to free()), without those already
     * promised to a claim by an earlier attempt */
    size_t (*list_pvs)(void *arg, const char *storage_class, const json_t ***out);
    /* optional: the PodDisruptionBudgets, which preemption avoids violating */
    const json_t *const *pdbs;
    size_t n_pdbs;
} k1s_sched_cluster_t;

typedef struct {
    bool scheduled;        /* true: node is the chosen node */
    size_t node;           /* index into cluster->nodes */
    char *message;         /* when not scheduled: the FailedScheduling message (new string) */
    bool nominated;        /* preemption found room: */
    size_t nominated_node; /*   the node to nominate */
    json_t *victims;       /*   and the pods to evict (array, new reference); else NULL */
    int64_t score;         /* the winning node's total weighted score */
    unsigned rejected_by;  /* when not scheduled: 1 << k1s_sched_plugin_t of every plugin that
                              rejected a node, to decide which cluster events may help (the
                              queueing hints of kube-scheduler) */
    bool clear_nomination; /* preemption found no candidate: the pod's status.nominatedNodeName
                              (if any) is to be cleared; otherwise it is kept */
} k1s_sched_result_t;

/* Schedules pod against cluster. Always fills res (free it with k1s_sched_result_free). */
void k1s_sched_schedule(k1s_sched_cluster_t *cluster, const json_t *pod, k1s_sched_result_t *res);
void k1s_sched_result_free(k1s_sched_result_t *res);

/* ---- pieces, exposed for tests and for the scheduler proper ---- */

/* A filter's verdict on one node. */
typedef enum {
    K1S_SCHED_OK = 0,
    K1S_SCHED_UNSCHEDULABLE,              /* preemption may help */
    K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE, /* it cannot */
} k1s_sched_code_t;

#define K1S_SCHED_MAX_REASONS 4

typedef struct {
    k1s_sched_code_t code;
    k1s_sched_plugin_t plugin; /* the plugin that rejected the node */
    int n_reasons;
    char *reasons[K1S_SCHED_MAX_REASONS]; /* owned strings */
} k1s_sched_status_t;

void k1s_sched_status_clear(k1s_sched_status_t *st);

/* Per-attempt state computed once from the pod (kube-scheduler's PreFilter). */
typedef struct k1s_sched_pod k1s_sched_pod_t;

/* Prepares pod for a scheduling attempt against cluster. Returns NULL and sets *prefilter_msg (a
 * new string) when the pod cannot be scheduled anywhere (e.g. a missing PVC). */
k1s_sched_pod_t *k1s_sched_pod_new(const k1s_sched_cluster_t *cluster, const json_t *pod,
                                   char **prefilter_msg);
void k1s_sched_pod_free(k1s_sched_pod_t *p);

/* Runs the filters in kube-scheduler's order on cluster->nodes[i]; stops at the first failure. */
void k1s_sched_filter(const k1s_sched_cluster_t *cluster, const k1s_sched_pod_t *p, size_t i,
                      k1s_sched_status_t *st);

/* Score plugins, each giving 0..100 per feasible node after normalisation. */
typedef enum {
    K1S_SCORE_TAINT_TOLERATION,
    K1S_SCORE_NODE_AFFINITY,
    K1S_SCORE_RESOURCES_FIT,
    K1S_SCORE_TOPOLOGY_SPREAD,
    K1S_SCORE_INTER_POD_AFFINITY,
    K1S_SCORE_BALANCED_ALLOCATION,
    K1S_SCORE_IMAGE_LOCALITY,
    K1S_SCORE_N,
} k1s_sched_score_plugin_t;

/* The default profile's weights, indexed by k1s_sched_score_plugin_t. */
extern const int k1s_sched_score_weights[K1S_SCORE_N];

/* Scores the feasible nodes (indices feasible[0..n-1]) with plugin; out[j] is the normalised
 * score of feasible[j]. */
void k1s_sched_score(const k1s_sched_cluster_t *cluster, const k1s_sched_pod_t *p,
                     k1s_sched_score_plugin_t plugin, const size_t *feasible, size_t n,
                     int64_t *out);

/* Builds "0/N nodes are available: <counted reasons>." from the per-node statuses (or the
 * pre-filter message), with " <postfilter>." appended when postfilter is non-NULL. New string. */
char *k1s_sched_fit_error(size_t n_nodes, const k1s_sched_status_t *st, const char *prefilter,
                          const char *postfilter);

/* VolumeBinding's plan for placing pod on cluster->nodes[node]: an array of {"claim": name,
 * "pv": PV name, or null to provision} for each unbound WaitForFirstConsumer claim, or NULL when
 * the pod has none (or they no longer fit there). New reference. */
json_t *k1s_sched_volume_plan(const k1s_sched_cluster_t *cluster, const json_t *pod, size_t node);

/* DefaultPreemption for a pod that failed every node with statuses st. On success returns true
 * with the node and victims (new array). Otherwise returns false and sets *msg to the PostFilter
 * message ("preemption: 0/3 nodes are available: ..."), a new string, and *clear to whether the
 * pod's nomination is to be cleared (no candidate; kept when the pod is not eligible: policy
 * Never, or victims of its earlier preemption still terminating on its nominated node). */
bool k1s_sched_preempt(k1s_sched_cluster_t *cluster, const json_t *pod, k1s_sched_status_t *st,
                       size_t *node, json_t **victims, char **msg, bool *clear);

#endif
