/*
 * What the Endpoints controller (endpoints.c) and the EndpointSlice
 * controller (endpointslice.c) share, as kube-controller-manager's
 * k8s.io/endpointslice/util and pkg/controller/util/endpoint do: which pods
 * a Service's endpoints list, their addresses and resolved ports, the
 * last-change-trigger-time tracker, and a tracker of the controller's own
 * writes so that a sync never acts on a cache that has not seen them yet.
 */
#ifndef K1S_CONTROLLERS_ENDPOINTS_INT_H
#define K1S_CONTROLLERS_ENDPOINTS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/informer.h"
#include "client/strmap.h"
#include "client/workqueue.h"

#define K1S_EP_TRIGGER_ANNOTATION "endpoints.kubernetes.io/last-change-trigger-time"
#define K1S_EP_HEADLESS_LABEL "service.kubernetes.io/headless"

/*
 * ShouldPodBeInEndpoints: the pod is not Succeeded/Failed, has an IP, and
 * is not being deleted unless include_terminating.
 */
bool k1s_ep_pod_included(const json_t *pod, bool include_terminating);
/* The pod's IPv4 address (status.podIPs, else status.podIP), borrowed; NULL if none. */
const char *k1s_ep_pod_ipv4(const json_t *pod);
/* ShouldSetHostname: the pod has spec.hostname and its subdomain is the Service's name. */
bool k1s_ep_should_set_hostname(const json_t *pod, const json_t *svc);
/*
 * FindPort: the container port a Service port's targetPort means for pod
 * (a number as is; a name looked up in the pod's containers' ports with the
 * same protocol); -1 if a named port is not found.
 */
int k1s_ep_find_port(const json_t *pod, const json_t *svc_port);
/* The Service's spec.selector if it has a non-empty one (borrowed), else NULL. */
const json_t *k1s_ep_selector(const json_t *svc);
/* Whether a Service selector (a map of labels) selects the pod. */
bool k1s_ep_selects(const json_t *selector, const json_t *pod);
/* Whether a Service has no cluster IP (spec.clusterIP "None"). */
bool k1s_ep_headless(const json_t *svc);
/*
 * Whether a pod update can change endpoints (podEndpointsChanged); sets
 * *labels_changed when the Services selecting it may differ.
 */
bool k1s_ep_pod_changed(const json_t *old_pod, const json_t *new_pod, bool *labels_changed);
/* Queues the key of every Service in services (namespace-indexed) whose selector selects pod. */
void k1s_ep_queue_pod_services(k1s_informer_t *services, k1s_workqueue_t *q, const json_t *pod);

/*
 * TriggerTimeTracker: per Service, the pods' Ready transition times and
 * the Service's creation time last seen; compute() returns the earliest
 * of those that changed since the previous call (Unix seconds), or -1.
 */
typedef struct k1s_ep_trigger {
    k1s_strmap_t services; /* key -> per-service state */
} k1s_ep_trigger_t;

int64_t k1s_ep_trigger_compute(k1s_ep_trigger_t *t, const char *key, const json_t *svc,
                               json_t *const *pods, int npods);
void k1s_ep_trigger_forget(k1s_ep_trigger_t *t, const char *key);
void k1s_ep_trigger_free(k1s_ep_trigger_t *t);

/*
 * The controller's writes per Service key not yet seen by its informer:
 * the highest resourceVersion written and names deleted. A sync of a key
 * whose writes the cache has not caught up with waits (upstream's
 * EndpointSliceTracker and staleEndpointsTracker).
 */
typedef struct k1s_ep_writes {
    k1s_strmap_t keys; /* key -> pending writes */
} k1s_ep_writes_t;

/* A write of key answered with object obj (its resourceVersion is recorded). */
void k1s_ep_writes_wrote(k1s_ep_writes_t *w, const char *key, const json_t *obj);
/* A delete of object ns/name (of key) answered. */
void k1s_ep_writes_deleted(k1s_ep_writes_t *w, const char *key, const char *name);
/* Whether inf has seen every write of key (forgetting them if so). */
bool k1s_ep_writes_seen(k1s_ep_writes_t *w, const char *key, const k1s_informer_t *inf,
                        const char *ns);
void k1s_ep_writes_forget(k1s_ep_writes_t *w, const char *key);
void k1s_ep_writes_free(k1s_ep_writes_t *w);

#endif
