/*
 * OCI runtime spec generation: turns one container, described the way the
 * kubelet fills it in (arguments already resolved from the image and the pod
 * spec, env already expanded, volumes already prepared on the host), into the
 * config.json of an OCI bundle that runc or crun runs.
 *
 * The defaults are containerd's (CRI plugin) so that workloads see what they
 * would see under k3s: the default capability set, masked and read-only /proc
 * paths, the default device allow-list, /dev, /dev/pts, /dev/shm, /dev/mqueue,
 * /proc, /sys and /sys/fs/cgroup mounts, containerd's RuntimeDefault seccomp
 * profile, and cgroup resources computed from requests and limits as the
 * kubelet computes them (cpu shares from the request, CFS quota from the
 * limit).
 *
 * Everything here is pure and cheap (no process is started), so the agent
 * calls it on its event loop.
 */
#ifndef K1S_RUNTIME_SPEC_H
#define K1S_RUNTIME_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

typedef enum {
    K1S_RT_PROP_PRIVATE = 0,       /* rprivate (Kubernetes' None) */
    K1S_RT_PROP_HOST_TO_CONTAINER, /* rslave */
    K1S_RT_PROP_BIDIRECTIONAL,     /* rshared */
} k1s_rt_propagation_t;

/* One mount. type "bind" (source is a host path) or "tmpfs" (source ignored). */
typedef struct k1s_rt_mount {
    const char *destination;
    const char *type;
    const char *source;
    bool readonly;
    k1s_rt_propagation_t propagation; /* bind mounts only */
    const char *options; /* extra comma-separated options, e.g. "size=64m" for tmpfs; NULL */
} k1s_rt_mount_t;

typedef enum {
    K1S_RT_SECCOMP_UNCONFINED = 0,
    K1S_RT_SECCOMP_RUNTIME_DEFAULT,
} k1s_rt_seccomp_t;

/*
 * One container. All strings and arrays belong to the caller and are only
 * read; string arrays are NULL-terminated (NULL = empty). Zero-initialise and
 * fill in what applies: the zero value is a root process in "/" with new
 * namespaces, no limits and no seccomp filter.
 */
typedef struct k1s_rt_config {
    char *const *args; /* required: args[0] is the program (PATH lookup happens in the runtime) */
    char *const *env;  /* "NAME=value"; PATH is added when missing, as containerd does */
    const char *cwd;   /* NULL: "/" */
    uint32_t uid, gid;
    const uint32_t *additional_gids;
    size_t n_additional_gids;
    const char *hostname; /* NULL: none set (and no HOSTNAME variable) */
    bool terminal;        /* process gets a pty (and TERM=xterm) */

    const char *rootfs;   /* required: absolute path of the root filesystem */
    bool rootfs_readonly; /* readOnlyRootFilesystem */

    const k1s_rt_mount_t *mounts; /* a mount on a default mount's destination replaces it */
    size_t n_mounts;

    /* Namespaces. host_* share the host's; *_path joins an existing one (a pod's). */
    const char *netns_path; /* NULL and !host_network: a new, empty network namespace */
    bool host_network, host_pid, host_ipc;
    const char *pid_ns_path, *ipc_ns_path, *uts_ns_path;

    /* Capabilities: names with or without the CAP_ prefix, "ALL" allowed (as in Kubernetes). */
    char *const *cap_add;
    char *const *cap_drop;
    bool privileged;        /* all capabilities and devices, no masked/read-only paths, rw /sys */
    bool no_new_privileges; /* allowPrivilegeEscalation: false */
    k1s_rt_seccomp_t seccomp;

    const char
        *cgroups_path; /* e.g. "/kubepods/burstable/pod<uid>/<id>"; NULL: runtime's default */
    int64_t cpu_request_milli;  /* <0: unset (no shares written); 0: kubelet's minimum, 2 shares */
    int64_t cpu_limit_milli;    /* <=0: no quota */
    int64_t memory_limit_bytes; /* <=0: unlimited */
    int64_t pids_limit;         /* <=0: unlimited */
    bool oom_score_adj_set;
    int oom_score_adj;
    char *const *sysctls;     /* "name=value" */
    char *const *annotations; /* "key=value", copied to the spec's annotations */
} k1s_rt_config_t;

/* CFS period k1s uses for limits (the kubelet's default, 100 ms). */
#define K1S_RT_CPU_PERIOD 100000
/* The kubelet's MilliCPUToShares: milli*1024/1000, at least 2, at most 262144. */
uint64_t k1s_rt_cpu_shares(int64_t milli);
/* The kubelet's MilliCPUToQuota for the given period: 0 for no limit, else at least 1000. */
int64_t k1s_rt_cpu_quota(int64_t milli, uint64_t period);

/*
 * Builds the runtime spec as a JSON object (a new reference, never NULL on
 * success). Fails with -EINVAL and a message in err when the config cannot be
 * run (no args, relative rootfs, unknown capability, bad sysctl).
 */
int k1s_rt_spec_build(const k1s_rt_config_t *c, json_t **out, k1s_err_t *err);

/*
 * Builds the spec and writes it to <bundle_dir>/config.json atomically,
 * creating bundle_dir (0700). 0 or -errno with err set.
 */
int k1s_rt_spec_write(const k1s_rt_config_t *c, const char *bundle_dir, k1s_err_t *err);

/*
 * Returns a new reference to containerd's RuntimeDefault seccomp profile for
 * a process whose bounding set is `bounding` (a JSON array of "CAP_..."
 * strings): syscalls that need a capability are allowed when it is held.
 */
json_t *k1s_rt_seccomp_default(const json_t *bounding);

#endif
