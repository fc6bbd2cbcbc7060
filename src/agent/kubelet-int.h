/*
 * The kubelet's internals, shared by pods.c (the pod workers) and
 * podspec.c (pod and container spec -> files and runtime config).
 */
#ifndef K1S_AGENT_KUBELET_INT_H
#define K1S_AGENT_KUBELET_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "runtime/image.h"
#include "runtime/spec.h"

/* Cluster DNS and the kubernetes Service, as k3s's defaults. */
#define K1S_KUBELET_CLUSTER_DNS "10.43.0.10"
#define K1S_KUBELET_CLUSTER_DOMAIN "cluster.local"
#define K1S_KUBELET_API_SERVICE_IP "10.43.0.1"

/* Strings and arrays a k1s_rt_config_t points into; freed together. */
typedef struct k1s_ctr_build {
    k1s_rt_config_t cfg;
    char **args, **env, **cap_add, **cap_drop, **sysctls;
    char *cwd, *hostname, *rootfs, *cgroups_path;
    k1s_rt_mount_t *mounts;
    size_t n_mounts;
    uint32_t *gids; /* additional gids (fsGroup, supplementalGroups) */
    size_t n_gids;
    char **strs; /* other strings to free (mount paths) */
    size_t n_strs;
} k1s_ctr_build_t;

/* What podspec needs to know about the pod's place on the node. */
typedef struct k1s_pod_env {
    const json_t *pod;       /* the Pod object */
    const char *pod_dir;     /* <agent>/pods/<uid> */
    const char *netns;       /* the pod's network namespace path, NULL for hostNetwork */
    const char *pod_ip;      /* "" if none yet */
    const char *node_name;   /* spec.nodeName */
    const char *node_ip;     /* status.hostIP */
    const char *rootfs;      /* the container's root filesystem (mounted) */
    const char *cgroup;      /* cgroups path of the container */
    const char *log_dir;     /* unused by podspec; for callers */
    const json_t *container; /* the container's spec */
    const json_t *refs;      /* configMaps and Secrets for env (k1s_vols_refs), or NULL */
    const k1s_image_config_t *image;
} k1s_pod_env_t;

/*
 * Builds the runtime config of one container: command and args against the
 * image's Entrypoint and Cmd, env (image, then the container's value/
 * fieldRef/resourceFieldRef entries with $(VAR) expansion, then the
 * kubernetes Service variables), working dir, user, hostname, mounts
 * (/etc/hosts, /etc/hostname, /etc/resolv.conf, emptyDir and hostPath
 * volumes, the termination log), namespaces, capabilities, privileged,
 * readOnlyRootFilesystem, allowPrivilegeEscalation, seccomp and cgroup
 * resources. Returns 0, or -errno with err naming what is wrong (an env var
 * from a source not supported yet, a volume type not supported yet).
 */
int k1s_podspec_container(const k1s_pod_env_t *e, k1s_ctr_build_t *out, k1s_err_t *err);
void k1s_ctr_build_clear(k1s_ctr_build_t *b);

/* Writes <pod_dir>/etc-hosts, etc-hostname, resolv.conf for the pod (by dnsPolicy) and
 * creates its emptyDir volumes. 0 or -errno with err set. */
int k1s_podspec_files(const json_t *pod, const char *pod_dir, const char *pod_ip, k1s_err_t *err);

/*
 * kubelet's resourceFieldRef value (env and downwardAPI volumes): limits or requests of
 * cpu, memory or ephemeral-storage of container (or of ref's containerName in pod),
 * divided by ref's divisor and rounded up; a limit that is not set is the node's
 * allocatable (read from the host; pod_dir is on the node's filesystem). A new string in
 * *out, or -EINVAL with err set.
 */
int k1s_podspec_resource_value(const json_t *pod, const json_t *container, const json_t *ref,
                               const char *pod_dir, char **out, k1s_err_t *err);

/*
 * subpath.c: opens sub beneath the volume directory root (a path leaving the volume, by
 * ".." or a symlink, fails), makes its missing directories with root's mode and group,
 * and bind-mounts it on target (made as a directory or an empty file), replacing what
 * was mounted there. 0 or -errno with err set.
 */
int k1s_subpath_prepare(const char *root, const char *sub, const char *target, k1s_err_t *err);

/* A container's user as containerd resolves it (podspec-user.c). */
typedef struct k1s_ctr_user {
    uint32_t uid, gid;
    uint32_t *gids; /* additional gids: the primary group, then /etc/group memberships */
    size_t n_gids;
} k1s_ctr_user_t;

/*
 * Resolves user (a decimal uid, or a user name) in the image's /etc/passwd and /etc/group
 * under rootfs, without following symlinks out of it: a uid gets its passwd entry's group
 * (0 if it has none), a name must exist ("unable to find user ..." otherwise, -ENOENT).
 * run_as_group >= 0 replaces the primary group. out->gids is new memory the caller frees.
 */
int k1s_podspec_user(const char *rootfs, const char *user, int64_t run_as_group,
                     k1s_ctr_user_t *out, k1s_err_t *err);

/* Makes emptyDir volume vol of pod at path (its directory under <pod_dir>/volumes): a
 * directory, or a tmpfs for medium Memory (size from sizeLimit), group-owned by the pod's
 * fsGroup when made. 0 or -errno with err set. */
int k1s_podspec_empty_dir(const json_t *pod, const json_t *vol, const char *path, k1s_err_t *err);

/* kubelet's limit on a termination message (MaxContainerTerminationMessageLength). */
#define K1S_KUBELET_MAX_TERMINATION_MESSAGE 4096

/* The first 4096 bytes of a container's termination message file, as kubelet reads it;
 * a new string, or NULL when the file is missing or empty. */
char *k1s_podspec_termination_message(const char *path);

/* The size of a Memory emptyDir's tmpfs, as kubelet computes it: the smallest of the
 * node's allocatable memory, the pod's memory limit (when every container has one) and
 * the volume's sizeLimit; bytes, or -1 when nothing is known (dir: on the node's disk). */
int64_t k1s_podspec_memory_volume_size(const json_t *pod, const json_t *vol, const char *dir);

/* Unmounts what is mounted under <pod_dir>/volumes (Memory emptyDirs) and
 * <pod_dir>/volume-subpaths, before the pod's directory is removed. */
void k1s_podspec_unmount_volumes(const char *pod_dir);

/* The QoS class Kubernetes gives the pod: "Guaranteed", "Burstable" or "BestEffort". */
const char *k1s_podspec_qos(const json_t *pod);

/* Standard base64 (Secret data). 0 and a new *out, or -EINVAL. */
int k1s_b64_decode(const char *s, unsigned char **out, size_t *len);

/* ---- what the kubelet API's backend (kapi-backend.c) needs from the pod workers ---- */

typedef struct k1s_kubelet k1s_kubelet_t;
struct k1s_rt;
struct k1s_client;
struct k1s_kapi;

/* Container ctr (NULL or "": the first app container) of pod ns/name: its runtime id (NULL
 * if none yet), restart count (= its log file's number), running, the pod's netns ("" for
 * hostNetwork) and uid. 0, or -ENOENT/-EAGAIN with err set. Strings borrowed. */
typedef struct k1s_kubelet_ctr_info {
    const char *id, *netns, *uid, *name;
    int restarts;
    bool running;
} k1s_kubelet_ctr_info_t;
int k1s_kubelet_find(k1s_kubelet_t *k, const char *ns, const char *pod, const char *ctr,
                     k1s_kubelet_ctr_info_t *out, k1s_err_t *err);
/* Whether the container with runtime id `id` is running. */
bool k1s_kubelet_running(k1s_kubelet_t *k, const char *id);
/* The pods of this node as a PodList (new reference). */
json_t *k1s_kubelet_pod_list(k1s_kubelet_t *k);
/* The containers of this node's pods, for the stats (stats.h): a new array of *n entries
 * whose strings are borrowed from the pod workers until the next loop iteration. */
struct k1s_stats_ctr *k1s_kubelet_stats_ctrs(k1s_kubelet_t *k, size_t *n);
struct k1s_rt *k1s_kubelet_runtime(k1s_kubelet_t *k);
struct event_base *k1s_kubelet_base(k1s_kubelet_t *k);

/* kapi-backend.c: starts the kubelet API for k; NULL with err set. */
struct k1s_kapi *k1s_kubelet_api_start(k1s_kubelet_t *k, const char *agent_dir, int port,
                                       const char *node_name, struct k1s_client *api,
                                       k1s_err_t *err);
/* kapi-backend.c: a container exited (ends `logs -f` and friends). */
void k1s_kubelet_api_exited(k1s_kubelet_t *k, const char *id);

/* ---- what the eviction manager's glue (kubelet-pressure.c) needs ---- */

typedef struct k1s_kubelet_ctr_ref {
    const char *name, *id; /* the current runtime container */
    bool running;
} k1s_kubelet_ctr_ref_t;

typedef struct k1s_kubelet_pod_ref {
    const json_t *pod;
    const char *uid, *dir; /* dir: <agent>/pods/<uid> */
    k1s_kubelet_ctr_ref_t *ctrs;
    size_t nctrs;
} k1s_kubelet_pod_ref_t;

/* The pods that run (not terminal, not being deleted, not evicted): a new array (free each
 * ctrs and the array); the pointers in it are borrowed, valid until the loop runs again. */
size_t k1s_kubelet_active_pods(k1s_kubelet_t *k, k1s_kubelet_pod_ref_t **out);
/* Evicts the pod with that UID: Warning Evicted event, status Failed/Evicted with message,
 * containers killed with grace period 0. 0, or -ENOENT if it is not (or no longer) there. */
int k1s_kubelet_evict(k1s_kubelet_t *k, const char *uid, const char *message);

/* kubelet-pressure.c: attaches the kubelet to the agent's eviction manager (image GC above
 * its threshold, reclaim, pod stats, evictions, node events) until freed. */
typedef struct k1s_kpressure k1s_kpressure_t;
struct k1s_agent;
struct k1s_recorder;
k1s_kpressure_t *k1s_kpressure_new(k1s_kubelet_t *k, struct k1s_agent *a, k1s_image_store_t *st,
                                   struct k1s_rt *rt, struct k1s_recorder *rec);
void k1s_kpressure_free(k1s_kpressure_t *kp);

/* Short JSON accessors. */
const char *k1s_js(const json_t *o, const char *key);
const json_t *k1s_jpath(const json_t *o, const char *dotted);
const char *k1s_jpath_str(const json_t *o, const char *dotted);

#endif
