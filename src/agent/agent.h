/*
 * The node agent (`k1s agent`, also run by `k1s server` as a child
 * process): joins a server with the join token, keeps this node's
 * certificates, registers the Node and keeps its status and Lease current,
 * and learns the node's pod CIDR. Later parts (the kubelet pod workers)
 * run on the same event loop and use what is here through the accessors
 * below.
 *
 * Join (k3s's protocol, see server/join.h): the agent fetches /cacerts
 * without verification, checks its sha256 against the K10<hash> token (a
 * bare secret skips this check, trusting the first CA it sees), then trusts
 * only that CA and asks, with basic auth "node:<secret>", for a node client
 * certificate and a kubelet serving certificate for keys it generated
 * itself. Its node password (agent/node-password) proves on later joins
 * that it is the machine that first registered the name.
 *
 * Files under <data-dir>/agent/ (directory 0700, keys 0600):
 *   server-ca.crt                    the pinned server CA
 *   client-ca.crt                    the client CA (kubelet API client auth)
 *   client-kubelet.crt/.key          CN system:node:<name>, O system:nodes
 *   serving-kubelet.crt/.key         SANs: node name, localhost, 127.0.0.1, node IP
 *   node-password                    this machine's node password
 *   pod-cidr                         spec.podCIDR once the server assigned it
 *   private-registry                 the --private-registry path (for the image part)
 * Certificates are reused on restart and fetched again when they expire
 * within 90 days, no longer match the token's CA, or were made for another
 * node name or IP.
 *
 * While the server is unreachable the agent retries with back-off and logs
 * one line when the connection is lost and one when it is back.
 */
#ifndef K1S_AGENT_AGENT_H
#define K1S_AGENT_AGENT_H

#include <event2/event.h>
#include <stdbool.h>

#include "client/client.h"
#include "lib/err.h"

#define K1S_AGENT_MAX_LIST 32

typedef struct k1s_agent_config {
    char *server_url; /* --server https://host:6443 ($K1S_URL) */
    char *token;      /* --token ($K1S_TOKEN) */
    char *token_file; /* --token-file */
    char *node_name;  /* --node-name ($K1S_NODE_NAME), default: host name, lower-cased */
    char *node_ip;    /* --node-ip, default: the default route's interface address */
    char *node_labels[K1S_AGENT_MAX_LIST + 1]; /* --node-label key=value */
    char *node_taints[K1S_AGENT_MAX_LIST + 1]; /* --node-taint key=value:Effect */
    char *data_dir;                            /* --data-dir, default /var/lib/k1s */
    char *runtime;          /* --runtime runc|crun, default: what suits the host's cgroups */
    char *private_registry; /* --private-registry, default /etc/k1s/registries.yaml */
    int kubelet_port;       /* --kubelet-port, default 10250 */
    char *kubelet_args[K1S_AGENT_MAX_LIST + 1]; /* --kubelet-arg name=value (kubelet-args.h) */
    char *log_level;                            /* -v, default info */
} k1s_agent_config_t;

/* Fills the defaults (those that need the host, node name and IP, come in k1s_agent_new). */
void k1s_agent_config_init(k1s_agent_config_t *c);
void k1s_agent_config_free(k1s_agent_config_t *c);

typedef struct k1s_agent k1s_agent_t;

/*
 * Creates an agent on base from c (copied) and starts joining. Checks the
 * configuration first: returns NULL with err set (a message for the user)
 * for a missing token, a bad URL, labels or taints, or a data directory
 * that cannot be made. Everything else happens on the loop.
 */
k1s_agent_t *k1s_agent_new(struct event_base *base, const k1s_agent_config_t *c, k1s_err_t *err);
/* Stops everything (no callbacks afterwards) and frees. Accepts NULL. */
void k1s_agent_free(k1s_agent_t *a);

/*
 * Nonzero once the agent gave up for good (the server refused the token or
 * the node password, the CA does not match the token): the process exit
 * code; the message was logged. The loop is broken when this happens.
 */
int k1s_agent_failed(const k1s_agent_t *a);

/* This node's name. */
const char *k1s_agent_node_name(const k1s_agent_t *a);
/* The node's IP address (InternalIP). */
const char *k1s_agent_node_ip(const k1s_agent_t *a);
/* The OCI runtime chosen ("runc" or "crun"). */
const char *k1s_agent_runtime(const k1s_agent_t *a);
/* The kubelet API's port (--kubelet-port). */
int k1s_agent_kubelet_port(const k1s_agent_t *a);
/* <data-dir>/agent. */
const char *k1s_agent_dir(const k1s_agent_t *a);
/* The API client acting as system:node:<name>; NULL until the agent has joined. Borrowed. */
k1s_client_t *k1s_agent_client(k1s_agent_t *a);
/* spec.podCIDR of this node, NULL until the server assigned one. Borrowed. */
const char *k1s_agent_pod_cidr(const k1s_agent_t *a);
/* The eviction manager (agent/eviction.h), which the kubelet attaches to. Borrowed. */
struct k1s_eviction *k1s_agent_eviction(k1s_agent_t *a);
/* Whether the Node is registered and the server reachable now. */
bool k1s_agent_connected(const k1s_agent_t *a);

/*
 * Called once, from the loop (never from inside this call), when the Node is
 * registered and its pod CIDR is known (at once if that is already so):
 * where the pod workers start. Replaces an earlier callback.
 */
typedef void (*k1s_agent_ready_fn)(k1s_agent_t *a, void *arg);
void k1s_agent_on_ready(k1s_agent_t *a, k1s_agent_ready_fn fn, void *arg);

/* `k1s agent`: runs an agent until SIGINT/SIGTERM; returns the process exit code. */
int k1s_agent_run(const k1s_agent_config_t *c);

#endif
