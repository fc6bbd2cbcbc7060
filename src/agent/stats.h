/*
 * The kubelet's resource statistics: /stats/summary (the stats/v1alpha1
 * Summary kubelet serves) and /metrics/resource (the Prometheus text that
 * metrics-server scrapes), read from the node's cgroups and /proc as
 * kubelet's cadvisor does:
 *
 *   node       cpu from /proc/stat, memory from /proc/meminfo (working set =
 *              used - inactive file pages), fs and imageFs from statvfs of the
 *              agent's data directory, network from /proc/net/dev
 *   pods       the pod cgroup (kubepods[/burstable|/besteffort]/pod<uid>) and each
 *              container's (<pod cgroup>/<container id>), cgroup v1 (cpuacct,
 *              memory) or v2 (cpu.stat, memory.current, memory.stat); a pod's
 *              network from /proc/<pid>/net/dev of a process in it; its volumes
 *              (<pods_dir>/<uid>/volumes/<name>): used bytes and inodes from a walk
 *              of each, redone at most once a minute as kubelet's du, capacity and
 *              free space from statvfs
 *
 * Rates (usageNanoCores) need two samples: the previous cumulative CPU time
 * of every cgroup is kept and the rate computed when a summary is asked for
 * (no timers). A sample younger than a second is not replaced, so requests
 * in quick succession keep a meaningful window; samples of cgroups that went
 * away are dropped at the next summary.
 */
#ifndef K1S_AGENT_STATS_H
#define K1S_AGENT_STATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct k1s_stats k1s_stats_t;

typedef struct k1s_stats_opts {
    const char *node_name;
    const char *fs_dir;       /* the node's filesystem: the agent's data directory */
    const char *image_fs_dir; /* where images live (NULL: fs_dir) */
    const char *cgroup_root;  /* NULL: /sys/fs/cgroup (tests point it at a temp dir) */
    const char *proc_root;    /* NULL: /proc */
    const char *pods_dir;     /* the pods' directories, <uid>/volumes/<name>; NULL: fs_dir/pods */
} k1s_stats_opts_t;

/* One container of a pod on this node (strings borrowed for the call). */
typedef struct k1s_stats_ctr {
    const char *ns, *pod, *uid;       /* the pod */
    const char *name, *id;            /* the container, its runtime id (NULL: none, skipped) */
    int64_t pod_start_ns, started_ns; /* Unix ns, 0 if unknown */
    bool running;                     /* only running containers are measured */
} k1s_stats_ctr_t;

/* Creates the collector (copies opts' strings). */
k1s_stats_t *k1s_stats_new(const k1s_stats_opts_t *opts);
/* Accepts NULL. */
void k1s_stats_free(k1s_stats_t *s);

/*
 * The Summary (new reference) of the node and of the pods the containers
 * belong to (grouped by pod uid, in the order given). Figures that cannot be
 * read are left out, as kubelet leaves out what cadvisor does not have; a
 * pod whose cgroup is gone is left out.
 */
json_t *k1s_stats_summary(k1s_stats_t *s, const k1s_stats_ctr_t *ctrs, size_t n);

/* The /metrics/resource text (new string) for a summary made by k1s_stats_summary. */
char *k1s_stats_resource_metrics(const json_t *summary);

/* ---- parsers (exported for their unit tests) ---- */

/* A cgroup's figures. */
typedef struct k1s_cg_stats {
    bool has_cpu, has_mem;
    uint64_t cpu_ns;    /* cumulative CPU time */
    uint64_t mem_usage; /* memory.current / memory.usage_in_bytes */
    uint64_t mem_ws;    /* usage - inactive_file */
    uint64_t mem_rss;   /* anon / total_rss */
    uint64_t pgfault, pgmajfault;
    bool has_pids;
    uint64_t pids; /* pids.current: processes and threads */
} k1s_cg_stats_t;

/* Reads cgroup `path` ("/kubepods/pod<uid>") under root: v2 (root/path/cpu.stat,
 * memory.current, memory.stat, pids.current) if root/path/cgroup.controllers exists, else
 * v1 (root/cpuacct/path/cpuacct.usage, root/memory/path/memory.usage_in_bytes and
 * memory.stat, root/pids/path/pids.current). 0, or -ENOENT if neither has the cgroup. */
int k1s_stats_read_cgroup(const char *root, const char *path, k1s_cg_stats_t *out);

/* Cumulative busy CPU time of the node from /proc/stat's "cpu" line (user, nice, system,
 * irq, softirq, steal; ticks of clk_tck per second), and the boot time ("btime", Unix
 * seconds; 0 if absent). 0 or -EINVAL/-errno. */
int k1s_stats_parse_proc_stat(const char *text, long clk_tck, uint64_t *busy_ns, int64_t *btime);

/* The node's memory from /proc/meminfo: total, usage (total - free), working set (usage -
 * Inactive(file)), rss (AnonPages), available (total - working set, as kubelet). */
typedef struct k1s_node_mem {
    uint64_t total, usage, ws, rss, available;
} k1s_node_mem_t;
int k1s_stats_parse_meminfo(const char *text, k1s_node_mem_t *out);

/* One interface of /proc/net/dev. */
typedef struct k1s_net_if {
    char name[32];
    uint64_t rx_bytes, rx_errors, tx_bytes, tx_errors;
} k1s_net_if_t;
/* Parses /proc/net/dev into out (at most max, loopback left out); returns the count or
 * -EINVAL. */
int k1s_stats_parse_net_dev(const char *text, k1s_net_if_t *out, int max);

#endif
