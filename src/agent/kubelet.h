/*
 * The kubelet's pod workers: they run the pods bound to this node.
 *
 * Started by the agent once its Node is registered and has a pod CIDR
 * (k1s_agent_on_ready). It watches the pods with spec.nodeName = this node
 * and, per pod, drives the parts below it from the agent's event loop:
 *   network   a network namespace and CNI ADD (network/cni.h), hostNetwork skips it
 *   images    pulls by imagePullPolicy (runtime/image.h), rootfs by overlayfs (snapshot.h)
 *   runtime   one shim per container (runtime/runtime.h): init containers in order, then
 *             the app containers; restarts by restartPolicy with CrashLoopBackOff
 *             (10 s doubling to 5 min, reset after 10 min of running)
 *   status    phase, conditions, container statuses, pod IPs (PATCH pods/status) and the
 *             Events kubectl users read (Pulling, Pulled, Created, Started, Killing, BackOff)
 * Deleting a pod stops its containers (SIGTERM, then SIGKILL after the grace period),
 * tears its network down and removes the pod object (grace 0), as kubelet does.
 *
 * Crash-only: everything a pod has on the node is named by its UID (the
 * sandbox id, the namespace, labels on the containers), so a restarted agent
 * re-adopts running containers from the runtime's state instead of
 * restarting them, and cleans up what belongs to pods that went away.
 */
#ifndef K1S_AGENT_KUBELET_H
#define K1S_AGENT_KUBELET_H

#include "agent/agent.h"
#include "lib/err.h"

typedef struct k1s_kubelet k1s_kubelet_t;

/* Starts the pod workers of agent a (which must be ready). NULL with err set when the
 * runtime, the image store or the network cannot be set up. */
k1s_kubelet_t *k1s_kubelet_new(k1s_agent_t *a, k1s_err_t *err);
/* Stops watching and frees; containers keep running. Accepts NULL. */
void k1s_kubelet_free(k1s_kubelet_t *k);

#endif
