/*
 * The eviction manager (kubelet's pkg/kubelet/eviction): watches the node's hard eviction
 * signals, reports MemoryPressure and DiskPressure, reclaims node-level resources and, when
 * that is not enough, evicts one pod per cycle.
 *
 * Signals, as kubelet computes them:
 *   memory.available    MemTotal - working set of the root cgroup (usage - inactive file;
 *                       /proc/meminfo's MemTotal - MemFree - Inactive(file) on cgroup v2)
 *   nodefs.available, nodefs.inodesFree     statvfs of <data-dir>/agent (the kubelet's root)
 *   imagefs.available, imagefs.inodesFree   the same filesystem (the image store lives there)
 *
 * A cycle (k1s_eviction_sync, run when the agent wakes for its node status sync, every 10 s
 * as kubelet's monitoring interval):
 *   1. observe; a threshold is met when the signal is below it (quantity, or % of capacity);
 *   2. a condition (MemoryPressure for memory, DiskPressure for the filesystem signals) is
 *      True while a threshold of it is met and for the pressure transition period after the
 *      last time it was (5 min), so that a node does not flap;
 *   3. image GC above its high threshold (the kubelet's own check);
 *   4. if a threshold is met now: a Warning EvictionThresholdMet event on the node, then for
 *      disk signals reclaim (delete unused images); if the signal is fine afterwards, stop;
 *   5. otherwise rank the active pods for the starved resource (k1s_eviction_rank) and evict
 *      the first that is not critical, with grace period 0; one pod per cycle.
 *
 * The parts that need the pod workers and the image store come from the kubelet through
 * k1s_eviction_ops_t; until it attaches, only the conditions are computed.
 */
#ifndef K1S_AGENT_EVICTION_H
#define K1S_AGENT_EVICTION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/kubelet-args.h"

/* One observed signal. */
typedef struct k1s_evict_obs {
    bool have;
    uint64_t available, capacity;
} k1s_evict_obs_t;

/* Reads the signals (dir: the agent dir). Signals that cannot be read have have = false. */
void k1s_eviction_observe(const char *dir, k1s_evict_obs_t obs[K1S_SIG_N]);

/* Which thresholds are met by obs (pure). Returns how many. */
int k1s_eviction_met(const k1s_evict_threshold_t hard[K1S_SIG_N],
                     const k1s_evict_obs_t obs[K1S_SIG_N], bool met[K1S_SIG_N]);

/* The threshold's value in bytes (or inodes) for a capacity. */
uint64_t k1s_evict_threshold_value(const k1s_evict_threshold_t *t, uint64_t capacity);

/* The resource a signal starves. */
typedef enum { K1S_RES_MEMORY, K1S_RES_EPHEMERAL_STORAGE, K1S_RES_INODES } k1s_evict_resource_t;
k1s_evict_resource_t k1s_evict_signal_resource(k1s_evict_signal_t s);
/* "memory", "ephemeral-storage", "inodes" (static). */
const char *k1s_evict_resource_name(k1s_evict_resource_t r);

/* A pod with its usage, as the kubelet measures it for ranking. */
typedef struct k1s_evict_ctr {
    char *name;
    bool have_memory, have_disk;
    uint64_t memory; /* working set */
    uint64_t disk;   /* rootfs (what it wrote) + logs */
} k1s_evict_ctr_t;

typedef struct k1s_evict_pod {
    json_t *pod; /* a reference held */
    bool has_stats;
    uint64_t memory; /* working set of its containers */
    uint64_t disk;   /* containers' rootfs and logs plus its local volumes (emptyDir) */
    uint64_t inodes; /* the same, in inodes */
    k1s_evict_ctr_t *ctrs;
    size_t nctrs;
} k1s_evict_pod_t;

void k1s_evict_pods_free(k1s_evict_pod_t *pods, size_t n);

/* The pod's request of r (kubelet's podRequest: max of the containers' sum and of each init
 * container), in bytes; 0 for inodes. */
uint64_t k1s_evict_pod_request(const json_t *pod, k1s_evict_resource_t r);

/*
 * Sorts pods in eviction order for r, as kubelet's rankMemoryPressure / rankDiskPressure:
 * pods without stats, then pods whose usage exceeds their request, first; then lower
 * spec.priority first; then larger usage above the request first.
 */
void k1s_eviction_rank(k1s_evict_pod_t *pods, size_t n, k1s_evict_resource_t r);

/* Whether kubelet never evicts pod (priority >= system-cluster-critical's 2000000000,
 * static pods). */
bool k1s_eviction_critical(const json_t *pod);

/*
 * The Evicted message, in kubelet's words: "The node was low on resource: ephemeral-storage.
 * Threshold quantity: 26843545Ki, available: 1024Ki. Container c was using 10Mi, request is
 * 0, has larger consumption of ephemeral-storage. " (new string).
 */
char *k1s_eviction_message(k1s_evict_resource_t r, const k1s_evict_pod_t *p,
                           const k1s_evict_threshold_t *t, const k1s_evict_obs_t *obs);

/* A byte count as Kubernetes prints a BinarySI quantity ("100Mi", "1536Ki", "1000"); new. */
char *k1s_evict_bytes_string(uint64_t bytes);

/*
 * Kubelet's eviction admission: under DiskPressure no pod may start, under MemoryPressure
 * only BestEffort pods (qos) that do not tolerate the memory-pressure taint are refused;
 * critical pods always start. Returns NULL to admit, or the rejection message (new string,
 * "The node had condition: [DiskPressure]. "; the pod then fails with reason Evicted).
 */
char *k1s_eviction_admit(bool memory, bool disk, const json_t *pod, const char *qos);

/* ---- the manager ---- */

typedef struct k1s_eviction_ops {
    void *arg;
    /* the kubelet's image GC above its high threshold (cheap when below) */
    void (*image_gc)(void *arg);
    /* removes every unused image; bytes freed; 0 or -errno */
    int (*reclaim_images)(void *arg, uint64_t *freed);
    /* the pods that run (not terminal, not being deleted), with usage; new array */
    size_t (*pods)(void *arg, k1s_evict_pod_t **out);
    /* kills pod with grace period 0 and marks it Failed/Evicted; 0 or -errno */
    int (*evict)(void *arg, const json_t *pod, const char *message);
    /* an Event about this Node */
    void (*node_event)(void *arg, const char *type, const char *reason, const char *message);
} k1s_eviction_ops_t;

typedef struct k1s_eviction k1s_eviction_t;

/* A manager for cfg (copied), node node_name, agent dir dir. */
k1s_eviction_t *k1s_eviction_new(const k1s_kubelet_config_t *cfg, const char *node_name,
                                 const char *dir);
void k1s_eviction_free(k1s_eviction_t *ev);
/* Attaches the kubelet (ops copied; NULL detaches). */
void k1s_eviction_set_ops(k1s_eviction_t *ev, const k1s_eviction_ops_t *ops);
/* One cycle (see above). Returns true when a pressure condition changed. */
bool k1s_eviction_sync(k1s_eviction_t *ev);
/* The pressure conditions as of the last cycle. */
void k1s_eviction_pressure(const k1s_eviction_t *ev, bool *memory, bool *disk);
const k1s_kubelet_config_t *k1s_eviction_config(const k1s_eviction_t *ev);

/* For tests: replaces the reading of the host's signals (k1s_eviction_observe). */
typedef void (*k1s_eviction_observe_fn)(const char *dir, k1s_evict_obs_t obs[K1S_SIG_N]);
void k1s_eviction_set_observer(k1s_eviction_t *ev, k1s_eviction_observe_fn fn);

#endif
