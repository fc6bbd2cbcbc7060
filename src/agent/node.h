/*
 * The Node object a k1s agent registers and keeps current, built from what
 * the host says about itself, as kubelet builds it: capacity and
 * allocatable, addresses, nodeInfo, labels, taints and the Ready /
 * MemoryPressure / DiskPressure / PIDPressure conditions judged against
 * kubelet's default hard eviction thresholds (memory.available<100Mi,
 * nodefs.available<10%, nodefs.inodesFree<5%, imagefs.available<15%).
 *
 * The parsers and builders here are pure (text in, JSON out) so they can
 * be tested; k1s_node_facts_read() is the one that reads the host.
 */
#ifndef K1S_AGENT_NODE_H
#define K1S_AGENT_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

/* What the host has now. */
typedef struct k1s_node_facts {
    int cpus;               /* online CPUs */
    uint64_t mem_total;     /* bytes (MemTotal) */
    uint64_t mem_available; /* bytes (MemAvailable) */
    uint64_t fs_total;      /* bytes of the data directory's filesystem */
    uint64_t fs_available;  /* bytes available to unprivileged users */
    uint64_t inodes_total;
    uint64_t inodes_free;
} k1s_node_facts_t;

/* What does not change while the agent runs (nodeInfo and friends); strings owned. */
typedef struct k1s_node_identity {
    char *machine_id, *system_uuid, *boot_id, *kernel_version, *os_image;
    char *runtime_version; /* "runc://1.1.5" */
    const char *arch;      /* "amd64", "arm64", ... (static) */
} k1s_node_identity_t;

/*
 * Parses /proc/meminfo text: MemTotal and MemAvailable, in bytes. 0, or
 * -EINVAL if either is missing.
 */
int k1s_node_parse_meminfo(const char *text, uint64_t *total, uint64_t *available);
/* PRETTY_NAME of /etc/os-release text (unquoted), as a new string; "Linux" if absent. */
char *k1s_node_parse_os_release(const char *text);
/*
 * The runtime version kubelet reports from the output of `runc --version`
 * or `crun --version` ("runc version 1.1.5" -> "runc://1.1.5"); new string,
 * or NULL if the text has no version line.
 */
char *k1s_node_parse_runtime_version(const char *runtime, const char *text);
/* Go's GOARCH name for uname's machine ("x86_64" -> "amd64"). Static string. */
const char *k1s_node_goarch(const char *machine);

/*
 * Parses a --node-taint value "key=value:Effect" or "key:Effect" (Effect one
 * of NoSchedule, PreferNoSchedule, NoExecute) into a new Taint object.
 * Returns 0 or -EINVAL with err saying what is wrong.
 */
int k1s_node_parse_taint(const char *s, json_t **out, k1s_err_t *err);
/* Parses a --node-label value "key=value" (value may be empty). 0 or -EINVAL with err set. */
int k1s_node_parse_label(const char *s, char **key, char **value, k1s_err_t *err);

/* Reads the host's facts (data_dir for the filesystem). 0 or -errno with err set. */
int k1s_node_facts_read(const char *data_dir, k1s_node_facts_t *f, k1s_err_t *err);
/* Reads the host's identity (runs `<runtime> --version` once). Never fails: unknowns are "". */
void k1s_node_identity_read(k1s_node_identity_t *id, const char *runtime);
void k1s_node_identity_free(k1s_node_identity_t *id);

/* status.capacity and status.allocatable for f (new objects). */
json_t *k1s_node_capacity(const k1s_node_facts_t *f);
json_t *k1s_node_allocatable(const k1s_node_facts_t *f);
/* The same after hard eviction thresholds of mem_threshold and fs_threshold bytes (what
 * memory.available and nodefs.available are configured to). */
json_t *k1s_node_allocatable_evict(const k1s_node_facts_t *f, uint64_t mem_threshold,
                                   uint64_t fs_threshold);

/*
 * status.conditions for f (new array), kubelet's four with their reasons
 * and messages. lastHeartbeatTime is now; lastTransitionTime is kept from
 * old (the previous conditions array, may be NULL) for a condition whose
 * status did not change, else now. now is RFC 3339.
 */
json_t *k1s_node_conditions(const k1s_node_facts_t *f, const json_t *old, const char *now);

/*
 * The same with MemoryPressure and DiskPressure decided by the caller (the eviction manager,
 * with the configured thresholds and the pressure transition period).
 */
json_t *k1s_node_conditions_pressure(bool memory, bool disk, const json_t *old, const char *now);

/*
 * Whether two conditions arrays differ in anything but lastHeartbeatTime
 * (kubelet writes status when something changed, or when the report
 * frequency has passed).
 */
bool k1s_node_conditions_changed(const json_t *a, const json_t *b);

#endif
