/*
 * What the Endpoints controller (endpoints.c), the EndpointSlice
 * controller (endpointslice.c) and the EndpointSlice mirroring controller
 * (endpointslicemirroring.c) share, as kube-controller-manager's
 * k8s.io/endpointslice/util and pkg/controller/util/endpoint do: which pods
 * a Service's endpoints list, their addresses and resolved ports, the
 * informer handlers that queue Services when their pods or slices change,
 * the work-queue function, the last-change-trigger-time tracker, a tracker of the controller's own
 * writes so that a sync never acts on a cache that has not seen them yet,
 * and the planning and writing of one owner's EndpointSlices (slice-plan.c).
 */
#ifndef K1S_CONTROLLERS_ENDPOINTS_INT_H
#define K1S_CONTROLLERS_ENDPOINTS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/informer.h"
#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"

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
 * The Services informer and work queue of a controller keyed by Service:
 * k1s_ep_watch_pods adds pod handlers (arg: w, which must outlive them)
 * that queue the Services selecting a pod when it comes, goes, or changes
 * in a way that can change endpoints.
 */
typedef struct {
    k1s_informer_t *services;
    k1s_workqueue_t *queue;
} k1s_ep_pod_watch_t;

void k1s_ep_watch_pods(k1s_informer_t *pods, k1s_ep_pod_watch_t *w);

/* The pods of ns (namespace-indexed) that a Service selector selects, borrowed, sorted by
 * name; returns the count, *out to free(). */
int k1s_ep_selected_pods(const k1s_informer_t *pods, const json_t *selector, const char *ns,
                         json_t ***out);
/* Orders objects (json_t *const *) by metadata.name. */
int k1s_ep_cmp_name(const void *a, const void *b);
/* Orders EndpointPorts (json_t *const *) by name, port, protocol. */
int k1s_ep_cmp_port(const void *a, const void *b);
/* Sorts a JSON array in place with cmp (over json_t *const *). */
void k1s_ep_sort_array(json_t *arr, int (*cmp)(const void *, const void *));
/* An ObjectReference to pod {kind, namespace, name, uid}; new object. */
json_t *k1s_ep_pod_ref(const json_t *pod);
/* A port {name, port, protocol (default TCP), appProtocol if any} from a Service or Endpoints
 * port sp, with port number num; name is left out if empty unless always_name. New object. */
json_t *k1s_ep_port(const json_t *sp, json_int_t num, bool always_name);
/* Whether two maps or arrays hold the same, a missing or empty one counting as empty. */
bool k1s_ep_same_or_empty(const json_t *a, const json_t *b);

/*
 * A controller's work-queue function over "namespace/name" keys: runs
 * sync(c, key, ns, name), which returns true when writes went out that will
 * mark the key done, false when the key is done now (it is then forgotten).
 */
typedef bool (*k1s_ep_sync_fn)(void *c, const char *key, const char *ns, const char *name);
void k1s_ep_run_sync(k1s_workqueue_t *q, const char *key, k1s_ep_sync_fn sync, void *c);

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

/* ---- EndpointSlice planning and writing, shared with the mirroring controller (slice-plan.c) */

#define K1S_ES_LABEL_SERVICE_NAME "kubernetes.io/service-name"
#define K1S_ES_LABEL_MANAGED_BY "endpointslice.kubernetes.io/managed-by"

/* A canonical string for a list of ports (any order, defaults applied); new string. */
char *k1s_es_ports_key(const json_t *ports);
/* Which endpoint this is across updates (address, pod, hostname); new string. */
char *k1s_es_endpoint_key(const json_t *ep);

typedef enum { K1S_ES_KEEP, K1S_ES_UPDATE, K1S_ES_DELETE, K1S_ES_CREATE } k1s_es_action_t;

typedef struct {
    json_t *slice; /* KEEP/DELETE: the cached slice (borrowed); UPDATE/CREATE: owned */
    k1s_es_action_t action;
    int group;
} k1s_es_slice_t;

/* The desired endpoints sharing one set of ports. */
typedef struct {
    char *key;
    json_t *ports;
    json_t *eps;          /* in the order added */
    k1s_strmap_t pending; /* endpoint key -> index + 1 into eps, not yet placed */
} k1s_es_group_t;

/* What to do to one owner's slices; zero-initialise. */
typedef struct {
    k1s_es_group_t *groups;
    size_t ngroups;
    k1s_es_slice_t *slices;
    size_t nslices;
} k1s_es_plan_t;

/*
 * Index function body for slices managed by managed_by: their Service's name
 * (the kubernetes.io/service-name label); 0 if not ours.
 */
int k1s_es_index_service(const json_t *slice, const char *managed_by, const char **out);
/* Slices of the informer index `index` for Service ns/name, borrowed, sorted by name; returns
 * the count, *out to free(). */
int k1s_es_owner_slices(const k1s_informer_t *slices, const char *index, const char *ns,
                        const char *name, json_t ***out);
/*
 * Slice handlers (arg: w, which must outlive them) for the controller whose
 * slices carry managed_by: an event of one of its slices queues
 * "namespace/<its Service>", and the old Service too when an update moved
 * the slice.
 */
typedef struct {
    k1s_workqueue_t *queue;
    const char *managed_by;
} k1s_es_slice_watch_t;

void k1s_es_watch_slices(k1s_informer_t *slices, k1s_es_slice_watch_t *w);

/* Adds a desired endpoint (a reference is taken) with its ports; a duplicate is ignored. */
void k1s_es_plan_endpoint(k1s_es_plan_t *p, const json_t *ports, json_t *ep);
/* Plans deleting slice (borrowed). */
void k1s_es_plan_delete(k1s_es_plan_t *p, json_t *slice);

typedef struct {
    const json_t *owner;       /* Service or Endpoints: controller ref, generateName */
    const json_t *labels;      /* every slice's labels */
    const json_t *annotations; /* every slice's annotations, or NULL to leave them */
    size_t max_per_slice;
    bool placeholder; /* keep one empty slice when there are no endpoints */
} k1s_es_plan_opts_t;

/*
 * Upstream's reconcileByPortMapping over the existing slices (borrowed,
 * sorted by name) and the endpoints added: unchanged endpoints stay where
 * they are, changed ones are replaced in place, new ones go first into
 * slices updated anyway, then into new full slices, the rest into the
 * fullest unchanged slice with room or a new one; emptied slices and
 * slices of other owners or address types are deleted.
 */
void k1s_es_plan_slices(k1s_es_plan_t *p, json_t *const *existing, int nexisting,
                        const k1s_es_plan_opts_t *o);
void k1s_es_plan_free(k1s_es_plan_t *p);

typedef struct k1s_es_op k1s_es_op_t;

/* Writes slices for a controller whose queue keys are "namespace/owner-name". */
typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_workqueue_t *queue;
    const char *name; /* for logs */
    k1s_ep_writes_t writes;
    k1s_es_op_t *ops; /* writes in flight */
} k1s_es_writer_t;

/*
 * Starts the plan's creates, then updates, then deletes for key; when the
 * last is answered the key is done (forgotten, or queued again with
 * back-off after a failure, with a Warning Event reason `fail_reason`
 * about `event_obj` unless NULL). trigger >= 0 sets the
 * last-change-trigger-time annotation on written slices, -1 removes it,
 * -2 leaves annotations alone. Returns false (key not done) if there was
 * nothing to write.
 */
bool k1s_es_apply(k1s_es_writer_t *w, const char *key, const char *ns, const json_t *event_obj,
                  const char *fail_reason, k1s_es_plan_t *p, int64_t trigger);
/*
 * Plans the owner's slices from existing (k1s_es_plan_slices with o) and
 * applies the plan for key (failures reported on o->owner with reason
 * FailedToUpdateEndpointSlices); with o NULL, deletes every existing slice
 * instead. Frees the plan; returns as k1s_es_apply.
 */
bool k1s_es_reconcile(k1s_es_writer_t *w, const char *key, const char *ns, k1s_es_plan_t *p,
                      json_t *const *existing, int nexisting, const k1s_es_plan_opts_t *o,
                      int64_t trigger);
/* Frees writes in flight (the client is gone) and the write tracker. */
void k1s_es_writer_free(k1s_es_writer_t *w);

#endif
