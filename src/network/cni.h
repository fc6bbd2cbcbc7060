/*
 * The agent's CNI driver: the role of containerd's CRI network code and
 * go-cni/libcni. It writes the node's network configuration, runs the CNI
 * plugins (containernetworking-plugins: bridge, host-local, portmap,
 * loopback) for a pod's network namespace, and remembers each attachment's
 * result on disk so that a later DEL, even from a restarted agent, hands the
 * plugins the same config and prevResult.
 *
 * Every pod gets two networks, attached in this order and detached in the
 * reverse one:
 *   1. the built-in loopback network ("cni-loopback", interface lo);
 *   2. the node's network, the first *.conflist, *.conf or *.json file (in
 *      name order) of the conf dir, on interface eth0. k1s writes
 *      10-k1s.conflist there (k1s_cni_write_conf): network "cbr0", bridge
 *      plugin on cni0 (gateway, masquerade, hairpin) with host-local IPAM from
 *      the node's podCIDR and a default route, then portmap (hostPort). The
 *      agent masquerades for the whole node instead (k1s_cni_masq_ensure) and
 *      writes the bridge without ipMasq. portmap runs only for pods with
 *      port mappings: without any it does nothing, on ADD as on DEL.
 *
 * Plugins run as child processes (CNI spec 1.0: CNI_COMMAND, CNI_CONTAINERID,
 * CNI_NETNS, CNI_IFNAME, CNI_PATH, CNI_ARGS in the environment, the network
 * config on stdin, the result or an error object on stdout). k1s_cni_start
 * runs a whole ADD/DEL/CHECK on a libevent loop without blocking it (each
 * child is watched through a pidfd, its stdin written and stdout/stderr read
 * by events) and calls back once; k1s_cni_run is the blocking form for tools
 * and tests. Operations on different pods may run concurrently; the caller
 * serialises operations on the same pod (as kubelet's pod workers do). The
 * process must not reap children it did not start (waitpid(-1) in a SIGCHLD
 * handler): a plugin's exit status taken that way fails its step.
 *
 * ADD that fails part-way runs DEL over what it did before it reports the
 * error, so no address or veth is left behind. DEL is idempotent: a pod that
 * was never added, or was already deleted, succeeds; an attachment whose ADD
 * was interrupted (agent killed) is found in the cache and torn down with the
 * config it was made with, even after the podCIDR or the network changed.
 *
 * How the agent uses it (paths under <data-dir>/agent, as `k1s ctr net`):
 *
 *   start:    k1s_cni_write_conf(conf_dir, &(k1s_cni_netconf_opts_t){
 *                 .pod_cidr = node.spec.podCIDRs joined by ",",
 *                 .ipam_data_dir = "<agent>/cni/networks"}, &changed, &err);
 *             cni = k1s_cni_new(&(k1s_cni_opts_t){.conf_dir = "<agent>/etc/cni/net.d",
 *                 .cache_dir = "<agent>/cni/results"}, &err);
 *             k1s_cni_list_ids(): DEL those whose sandbox is gone; k1s_netns_cleanup()
 *   podCIDR changed: k1s_cni_write_conf() again, then k1s_cni_reload()
 *   new pod:  k1s_netns_create(NULL, NULL, &netns, &err);
 *             k1s_cni_start(cni, base, K1S_CNI_ADD, &(k1s_cni_pod_t){.id = sandbox id,
 *                 .netns = netns, .namespace_, .name, .uid, .ports = hostPorts}, cb, ...);
 *             cb: k1s_cni_result_pod_ip(result, 4, ...) is status.podIP
 *   restart:  k1s_cni_cached_result(cni, id, &result) gives the IP and netns
 *             (interfaces[].sandbox) back
 *   pod gone: k1s_cni_start(..., K1S_CNI_DEL, &(k1s_cni_pod_t){.id = sandbox id}, ...),
 *             then k1s_netns_remove(netns)
 */
#ifndef K1S_NETWORK_CNI_H
#define K1S_NETWORK_CNI_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

struct event_base;

#define K1S_CNI_BIN_DIR_DEFAULT "/usr/lib/cni"
#define K1S_CNI_CONF_FILE "10-k1s.conflist"
#define K1S_CNI_NETWORK_NAME "cbr0"
#define K1S_CNI_BRIDGE_DEFAULT "cni0"
#define K1S_CNI_IFNAME "eth0"
#define K1S_CNI_TIMEOUT_MS_DEFAULT 60000

/* ---- the node's network configuration ---- */

typedef struct k1s_cni_netconf_opts {
    const char *pod_cidr;      /* the node's podCIDRs, comma-separated: "10.42.0.0/24", an IPv6
                                  prefix, or one of each (dual-stack); required */
    const char *ipam_data_dir; /* host-local's dataDir; NULL: the plugin's /var/lib/cni/networks */
    const char *bridge;        /* NULL: cni0 */
    int mtu;                   /* 0: the bridge plugin's choice */
    bool no_ip_masq; /* true: the bridge does not masquerade traffic leaving the podCIDR (for an
                        overlay that masquerades only what leaves the cluster CIDR, as flannel) */
} k1s_cni_netconf_opts_t;

/*
 * Returns the conflist (a new string, pretty JSON) k1s uses for a node, or
 * NULL with err set if pod_cidr is not a valid CIDR.
 */
char *k1s_cni_default_conflist(const k1s_cni_netconf_opts_t *o, k1s_err_t *err);

/*
 * Writes the default conflist as conf_dir/10-k1s.conflist (creating the
 * directory), atomically and only if its content differs; *changed (if
 * non-NULL) says whether it did. Call again when the node's podCIDR changes,
 * then k1s_cni_reload: pods attached before keep their cached config for DEL.
 */
int k1s_cni_write_conf(const char *conf_dir, const k1s_cni_netconf_opts_t *o, bool *changed,
                       k1s_err_t *err);
/*
 * Masquerades what the node's pods (pod_cidr: one CIDR or a v4,v6 pair) send
 * beyond the pod network with one iptables chain for the whole node
 * (K1S-POSTRTG in the nat table, jumped to from POSTROUTING), so that a
 * conflist written with no_ip_masq adds and deletes pods without iptables.
 * Idempotent; blocks while iptables-restore and iptables run (a few ms).
 * Fails with err set if iptables is missing or refuses the rules.
 */
int k1s_cni_masq_ensure(const char *pod_cidr, k1s_err_t *err);

/* ---- the driver ---- */

typedef struct k1s_cni_opts {
    const char *conf_dir;  /* required: e.g. <data-dir>/agent/etc/cni/net.d */
    const char *bin_dirs;  /* ':'-separated plugin directories; NULL: /usr/lib/cni */
    const char *cache_dir; /* required: attachment results, e.g. <data-dir>/agent/cni/results */
    int timeout_ms;        /* limit for a whole operation; 0: 60 s */
} k1s_cni_opts_t;

typedef struct k1s_cni k1s_cni_t;

/*
 * Returns a new driver that has loaded the network config from conf_dir
 * (strings in opts are copied); plugin binaries are looked up when they run.
 * A conf dir with no config yet (the node has no podCIDR) is fine: ADD then
 * fails with "no network config in DIR" until k1s_cni_reload finds one, and
 * DEL works from the cache. NULL with err set if the config is invalid.
 */
k1s_cni_t *k1s_cni_new(const k1s_cni_opts_t *opts, k1s_err_t *err);
/* Re-reads the conf dir; on failure the previous config stays in use. */
int k1s_cni_reload(k1s_cni_t *cni, k1s_err_t *err);
/* Frees the driver; operations still running must have been cancelled. NULL is fine. */
void k1s_cni_free(k1s_cni_t *cni);
/* The loaded network's name ("cbr0") and config (JSON text), owned by cni; NULL while none. */
const char *k1s_cni_network_name(const k1s_cni_t *cni);
const char *k1s_cni_network_json(const k1s_cni_t *cni);

/* One hostPort mapping, as the portmap plugin's portMappings capability takes it. */
typedef struct k1s_cni_port {
    int host_port;
    int container_port;
    const char *protocol; /* "tcp" (NULL), "udp" or "sctp" */
    const char *host_ip;  /* NULL or "": all addresses */
} k1s_cni_port_t;

/* The pod an operation is for. Strings are copied by k1s_cni_start. */
typedef struct k1s_cni_pod {
    const char *id;    /* CNI_CONTAINERID: the sandbox id, [A-Za-z0-9][A-Za-z0-9_.-]*; required */
    const char *netns; /* CNI_NETNS, a namespace path; required for ADD and CHECK, DEL falls
                          back to the cached one */
    const char *namespace_, *name, *uid; /* K8S_POD_NAMESPACE, _NAME, _UID; may be NULL */
    const k1s_cni_port_t *ports;         /* hostPort mappings (ADD; DEL uses the cached ones) */
    size_t n_ports;
} k1s_cni_pod_t;

typedef enum { K1S_CNI_ADD, K1S_CNI_DEL, K1S_CNI_CHECK } k1s_cni_cmd_t;

/* The pod network's result (the last plugin's output of the eth0 network). */
typedef struct k1s_cni_ip {
    char *address; /* "10.42.0.5/24" */
    char *gateway; /* "10.42.0.1", or NULL */
    int interface; /* index into interfaces, -1 if not given */
    int family;    /* 4 or 6 */
} k1s_cni_ip_t;

typedef struct k1s_cni_iface {
    char *name, *mac, *sandbox; /* mac and sandbox may be NULL */
} k1s_cni_iface_t;

typedef struct k1s_cni_result {
    char *cni_version;
    k1s_cni_iface_t *interfaces;
    size_t n_interfaces;
    k1s_cni_ip_t *ips;
    size_t n_ips;
    char *json; /* the result as the plugin printed it (compact) */
} k1s_cni_result_t;

/*
 * Parses a CNI result (spec 0.3.0 to 1.0.0). Returns 0 and a new result, or
 * -EINVAL with err set.
 */
int k1s_cni_result_parse(const char *json, size_t len, k1s_cni_result_t **out, k1s_err_t *err);
void k1s_cni_result_free(k1s_cni_result_t *r);
/*
 * The pod IP of the given family (4 or 6; 0: the first) without its prefix
 * length, in buf; NULL if the result has none. Prefers an address on the
 * interface inside the sandbox.
 */
const char *k1s_cni_result_pod_ip(const k1s_cni_result_t *r, int family, char *buf, size_t size);

/*
 * Called once when an operation finishes, after the operation is freed (the
 * callback may free the loop or the driver). On success err is NULL and, for
 * ADD, result is the pod network's result, owned by the callback (free it
 * with k1s_cni_result_free); for DEL and CHECK result is NULL. On failure
 * err says what failed, e.g. "CNI bridge ADD for pod default/web-0: failed to
 * allocate for range 0: no IP addresses available in range set: ...".
 */
typedef void (*k1s_cni_cb)(k1s_cni_result_t *result, const k1s_err_t *err, void *ud);

typedef struct k1s_cni_op k1s_cni_op_t;

/*
 * Starts ADD, DEL or CHECK for a pod on base's loop. Returns 0 and (if
 * op_out) a handle valid until the callback runs; cb is never called from
 * inside this function. Returns -errno with err set, and no callback, for a
 * request that cannot start: a bad id, no netns for ADD or CHECK, nothing
 * cached for CHECK, or an ADD for an id whose ADD already completed (-EEXIST:
 * DEL it first, or use k1s_cni_cached_result).
 */
int k1s_cni_start(k1s_cni_t *cni, struct event_base *base, k1s_cni_cmd_t cmd,
                  const k1s_cni_pod_t *pod, k1s_cni_cb cb, void *ud, k1s_cni_op_t **op_out,
                  k1s_err_t *err);
/*
 * Stops an operation: kills the running plugin (SIGKILL), reaps it and frees
 * the op without calling back. A cancelled ADD may leave a half-made
 * attachment, which a later DEL removes.
 */
void k1s_cni_op_cancel(k1s_cni_op_t *op);

/*
 * The pod network's result that a completed ADD cached for id, e.g. to learn
 * a pod's IP after an agent restart without running any plugin. 0 and a new
 * *out, or -ENOENT (nothing, or only a half-made attachment, is cached).
 */
int k1s_cni_cached_result(k1s_cni_t *cni, const char *id, k1s_cni_result_t **out, k1s_err_t *err);
/*
 * The ids of every attachment in the cache, complete or half-made, sorted and
 * unique: what a restarted agent compares with its pods to DEL the ones that
 * went away while it was down. *ids_out is a new NULL-terminated array of new
 * strings (k1s_cni_ids_free). 0 or -errno.
 */
int k1s_cni_list_ids(k1s_cni_t *cni, char ***ids_out, size_t *n_out, k1s_err_t *err);
void k1s_cni_ids_free(char **ids);

/* Blocking form on a private loop: 0 and *result (ADD, if result non-NULL) or -errno. */
int k1s_cni_run(k1s_cni_t *cni, k1s_cni_cmd_t cmd, const k1s_cni_pod_t *pod,
                k1s_cni_result_t **result, k1s_err_t *err);

/* ---- helpers, exported for the CLI and tests ---- */

/* "ADD", "DEL" or "CHECK". */
const char *k1s_cni_cmd_name(k1s_cni_cmd_t cmd);
/*
 * Builds CNI_ARGS for a pod: "IgnoreUnknown=1;K8S_POD_NAMESPACE=..;
 * K8S_POD_NAME=..;K8S_POD_INFRA_CONTAINER_ID=..;K8S_POD_UID=.." (NULL fields
 * left out). Returns a new string, or NULL with err set if a value holds ';'
 * or '='.
 */
char *k1s_cni_args(const k1s_cni_pod_t *pod, k1s_err_t *err);
/* Checks a container id as the CNI spec restricts it. 0 or -EINVAL with err set. */
int k1s_cni_check_id(const char *id, k1s_err_t *err);
/*
 * Parses "[hostIP:]hostPort:containerPort[/protocol]" into *port (host_ip
 * and protocol point into buf, a copy the caller keeps alive). 0 or -EINVAL.
 */
int k1s_cni_port_parse(const char *spec, char *buf, size_t size, k1s_cni_port_t *port,
                       k1s_err_t *err);

#endif
