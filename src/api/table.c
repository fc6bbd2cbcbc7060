/*
 * Server-side Table output; see table.h.
 *
 * This is a C transcription of kube-apiserver 1.32's printers
 * (pkg/printers/internalversion/printers.go): one column table and one cell
 * function per resource, found by group and plural. Column descriptions are
 * the 1.32 API field docs (the SwaggerDoc strings the printers reference),
 * kept verbatim so a Table from k1s is byte-for-byte what a real cluster sends.
 *
 * kube-apiserver prints internal objects, which it gets by decoding the stored
 * versioned object with defaulting; the cell functions read versioned JSON, so
 * where a printed field has an API default the default is applied here when the
 * field is missing. Each cell function must append exactly one cell per column;
 * k1s_table_cells() checks that.
 */
#include "api/table.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"

/* ---- Column descriptions (k8s.io/api v0.32 SwaggerDoc, verbatim) ---- */

static const char D_NAME[] =
    "Name must be unique within a namespace. Is required when creating resources, "
    "although some resources may allow a client to request the generation of an "
    "appropriate name automatically. Name is primarily intended for creation idempotence "
    "and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
static const char D_CREATED[] =
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and "
    "is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#"
    "metadata";
static const char D_POD_IP[] =
    "podIP address allocated to the pod. Routable at least within the cluster. Empty if "
    "not yet allocated.";
static const char D_POD_NODE_NAME[] =
    "NodeName indicates in which node this pod is scheduled. If empty, this pod is a "
    "candidate for scheduling by the scheduler defined in schedulerName. Once this field "
    "is set, the kubelet for this node becomes responsible for the lifecycle of this "
    "pod. This field should not be used to express a desire for the pod to be scheduled "
    "on a specific node. "
    "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
static const char D_POD_NOMINATED[] =
    "nominatedNodeName is set only when this pod preempts other pods on the node, but it "
    "cannot be scheduled right away as preemption victims receive their graceful "
    "termination periods. This field does not guarantee that the pod will be scheduled "
    "on this node. Scheduler may decide to place the pod elsewhere if other nodes become "
    "available sooner. Scheduler may also decide to give the resources on this node to a "
    "higher priority pod that is created after preemption. As a result, this field may "
    "be different than PodSpec.nodeName when the pod is scheduled.";
static const char D_POD_READINESS_GATES[] =
    "If specified, all readiness gates will be evaluated for pod readiness. A pod is "
    "ready when all its containers are ready AND all conditions specified in the "
    "readiness gates have status equal to \"True\" More info: "
    "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
static const char D_POD_NODE_SELECTOR[] =
    "NodeSelector is a selector which must be true for the pod to fit on a node. "
    "Selector which must match a node's labels for the pod to be scheduled on that node. "
    "More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/";
static const char D_RS_REPLICAS[] =
    "Replicas is the number of desired replicas. This is a pointer to distinguish "
    "between explicit zero and unspecified. Defaults to 1. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#wha"
    "t-is-a-replicationcontroller";
static const char D_RS_STATUS_REPLICAS[] =
    "Replicas is the most recently observed number of replicas. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#wha"
    "t-is-a-replicationcontroller";
static const char D_RS_READY[] = "The number of ready replicas for this replica set.";
static const char D_RS_SELECTOR[] =
    "Selector is a label query over pods that should match the replica count. If the "
    "selector is empty, it is defaulted to the labels present on the pod template. Label "
    "keys and values that must match in order to be controlled by this replica set. More "
    "info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-sele"
    "ctors";
static const char D_DS_DESIRED[] =
    "The total number of nodes that should be running the daemon pod (including nodes "
    "correctly running the daemon pod). More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
static const char D_DS_CURRENT[] =
    "The number of nodes that are running at least 1 daemon pod and are supposed to run "
    "the daemon pod. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
static const char D_DS_READY[] =
    "The number of nodes that should be running the daemon pod and have one or more of "
    "the daemon pod running and ready.";
static const char D_DS_UPDATED[] = "The total number of nodes that are running updated daemon pod";
static const char D_DS_AVAILABLE[] =
    "The number of nodes that should be running the daemon pod and have one or more of "
    "the daemon pod running and available (ready for at least spec.minReadySeconds)";
static const char D_DS_SELECTOR[] =
    "A label query over pods that are managed by the daemon set. Must match in order to "
    "be controlled. If empty, defaulted to labels on Pod template. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-sele"
    "ctors";
static const char D_JOB_SUCCEEDED[] =
    "The number of pods which reached phase Succeeded. The value increases monotonically "
    "for a given spec. However, it may decrease in reaction to scale down of elastic "
    "indexed jobs.";
static const char D_JOB_SELECTOR[] =
    "A label query over pods that should match the pod count. Normally, the system sets "
    "this field for you. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-sele"
    "ctors";
static const char D_CJ_SCHEDULE[] =
    "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
static const char D_CJ_TIMEZONE[] =
    "The time zone name for the given schedule, see "
    "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, "
    "this will default to the time zone of the kube-controller-manager process. The set "
    "of valid time zone names and the time zone offset is loaded from the system-wide "
    "time zone database by the API server during CronJob validation and the controller "
    "manager during execution. If no system-wide time zone database can be found a "
    "bundled version of the database is used instead. If the time zone name becomes "
    "invalid during the lifetime of a CronJob or due to a change in host configuration, "
    "the controller will stop creating new new Jobs and will create a system event with "
    "the reason UnknownTimeZone. More information can be found in "
    "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";
static const char D_CJ_SUSPEND[] =
    "This flag tells the controller to suspend subsequent executions, it does not apply "
    "to already started executions.  Defaults to false.";
static const char D_CJ_ACTIVE[] = "A list of pointers to currently running jobs.";
static const char D_CJ_LAST_SCHEDULE[] =
    "Information when was the last time the job was successfully scheduled.";
static const char D_SVC_TYPE[] =
    "type determines how the Service is exposed. Defaults to ClusterIP. Valid options "
    "are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a "
    "cluster-internal IP address for load-balancing to endpoints. Endpoints are "
    "determined by the selector or if that is not specified, by manual construction of "
    "an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual "
    "IP is allocated and the endpoints are published as a set of endpoints rather than a "
    "virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node "
    "which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on "
    "NodePort and creates an external load-balancer (if supported in the current cloud) "
    "which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this "
    "service to the specified externalName. Several other fields do not apply to "
    "ExternalName services. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services"
    "-service-types";
static const char D_SVC_CLUSTER_IP[] =
    "clusterIP is the IP address of the service and is usually assigned randomly. If an "
    "address is specified manually, is in-range (as per system configuration), and is "
    "not in use, it will be allocated to the service; otherwise creation of the service "
    "will fail. This field may not be changed through updates unless the type field is "
    "also being changed to ExternalName (which requires this field to be blank) or the "
    "type field is being changed from ExternalName (in which case this field may "
    "optionally be specified, as describe above).  Valid values are \"None\", empty "
    "string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless "
    "service\" (no virtual IP), which is useful when direct endpoint connections are "
    "preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, "
    "and LoadBalancer. If this field is specified when creating a Service of type "
    "ExternalName, creation will fail. This field will be wiped when updating a Service "
    "to type ExternalName. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-ser"
    "vice-proxies";
static const char D_SVC_EXTERNAL_IPS[] =
    "externalIPs is a list of IP addresses for which nodes in the cluster will also "
    "accept traffic for this service.  These IPs are not managed by Kubernetes.  The "
    "user is responsible for ensuring that traffic arrives at a node with this IP.  A "
    "common example is external load-balancers that are not part of the Kubernetes "
    "system.";
static const char D_SVC_PORTS[] =
    "The list of ports that are exposed by this service. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-ser"
    "vice-proxies";
static const char D_SVC_SELECTOR[] =
    "Route service traffic to pods with label keys and values matching this selector. If "
    "empty or not present, the service is assumed to have an external process managing "
    "its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, "
    "NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/";
static const char D_EP_SUBSETS[] =
    "The set of all endpoints is the union of all subsets. Addresses are placed into "
    "subsets according to the IPs they share. A single address with multiple ports, some "
    "of which are ready and some of which are not (because they come from different "
    "containers) will result in the address being displayed in different subsets for the "
    "different ports. No address will appear in both Addresses and NotReadyAddresses in "
    "the same subset. Sets of addresses and ports that comprise a service.";
static const char D_NODE_KUBELET[] = "Kubelet Version reported by the node.";
static const char D_NODE_ADDRESSES[] =
    "List of addresses reachable to the node. Queried from cloud provider, if available. "
    "More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: "
    "This field is declared as mergeable, but the merge key is not sufficiently unique, "
    "which can cause data corruption when it is merged. Callers should instead use a "
    "full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers "
    "should assume that addresses can change during the lifetime of a Node. However, "
    "there are some exceptions where this may not be possible, such as Pods that inherit "
    "a Node's address in its own status or consumers of the downward API (status.hostIP).";
static const char D_NODE_OS_IMAGE[] =
    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 "
    "(wheezy)).";
static const char D_NODE_KERNEL[] =
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
static const char D_NODE_RUNTIME[] =
    "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
    "containerd://1.4.2).";
static const char D_EV_LAST[] =
    "The time at which the most recent occurrence of this event was recorded.";
static const char D_EV_TYPE[] =
    "Type of this event (Normal, Warning), new types could be added in the future";
static const char D_EV_REASON[] =
    "This should be a short, machine understandable string that gives the reason for the "
    "transition into the object's current status.";
static const char D_EV_OBJECT[] = "The object that this event is about.";
static const char D_EV_FIELD_PATH[] =
    "If referring to a piece of an object instead of an entire object, this string "
    "should contain a valid JSON/Go field access statement, such as "
    "desiredState.manifest.containers[2]. For example, if the object reference is to a "
    "container within a pod, this would take on a value like: \"spec.containers{name}\" "
    "(where \"name\" refers to the name of the container that triggered the event) or if "
    "no container name is specified \"spec.containers[2]\" (container with index 2 in "
    "this pod). This syntax is chosen only to have some well-defined way of referencing "
    "a part of an object.";
static const char D_EV_SOURCE[] =
    "The component reporting this event. Should be a short machine understandable string.";
static const char D_EV_MESSAGE[] = "A human-readable description of the status of this operation.";
static const char D_EV_FIRST[] =
    "The time at which the event was first recorded. (Time of server receipt is in "
    "TypeMeta.)";
static const char D_EV_COUNT[] = "The number of times this event has occurred.";
static const char D_SECRET_TYPE[] =
    "Used to facilitate programmatic handling of secret data. More info: "
    "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
static const char D_SECRET_DATA[] =
    "Data contains the secret data. Each key must consist of alphanumeric characters, "
    "'-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, "
    "representing the arbitrary (possibly non-string) data value here. Described in "
    "https://tools.ietf.org/html/rfc4648#section-4";
static const char D_SA_SECRETS[] =
    "Secrets is a list of the secrets in the same namespace that pods running using this "
    "ServiceAccount are allowed to use. Pods are only limited to this list if this "
    "service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to "
    "\"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated "
    "since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This "
    "field should not be used to find auto-generated service account token secrets for "
    "use outside of pods. Instead, tokens can be requested directly using the "
    "TokenRequest API, or service account token secrets can be manually created. More "
    "info: https://kubernetes.io/docs/concepts/configuration/secret";
static const char D_PV_CAPACITY[] =
    "capacity is the description of the persistent volume's resources and capacity. More "
    "info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity";
static const char D_PV_ACCESS_MODES[] =
    "accessModes contains all ways the volume can be mounted. More info: "
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes";
static const char D_PV_RECLAIM[] =
    "persistentVolumeReclaimPolicy defines what happens to a persistent volume when "
    "released from its claim. Valid options are Retain (default for manually created "
    "PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), "
    "and Recycle (deprecated). Recycle must be supported by the volume plugin underlying "
    "this PersistentVolume. More info: "
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming";
static const char D_PV_PHASE[] =
    "phase indicates if a volume is available, bound to a claim, or released by a claim. "
    "More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase";
static const char D_PV_CLAIM[] =
    "claimRef is part of a bi-directional binding between PersistentVolume and "
    "PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the "
    "authoritative bind between PV and PVC. More info: "
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding";
static const char D_PV_REASON[] =
    "reason is a brief CamelCase string that describes any failure and is meant for "
    "machine parsing and tidy display in the CLI.";
static const char D_PV_VOLUME_MODE[] =
    "volumeMode defines if a volume is intended to be used with a formatted filesystem "
    "or to remain in raw block state. Value of Filesystem is implied when not included "
    "in spec.";
static const char D_PVC_PHASE[] = "phase represents the current phase of PersistentVolumeClaim.";
static const char D_PVC_VOLUME[] =
    "volumeName is the binding reference to the PersistentVolume backing this claim.";
static const char D_PVC_CAPACITY[] =
    "capacity represents the actual resources of the underlying volume.";
static const char D_PVC_ACCESS_MODES[] =
    "accessModes contains the actual access modes the volume backing the PVC has. More "
    "info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1";
static const char D_PVC_VOLUME_MODE[] =
    "volumeMode defines what type of volume is required by the claim. Value of "
    "Filesystem is implied when not included in claim spec.";
static const char D_DEPLOY_UPDATED[] =
    "Total number of non-terminated pods targeted by this deployment that have the "
    "desired template spec.";
static const char D_DEPLOY_AVAILABLE[] =
    "Total number of available pods (ready for at least minReadySeconds) targeted by "
    "this deployment.";
static const char D_DEPLOY_SELECTOR[] =
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will "
    "be the ones affected by this deployment.";
static const char D_HPA_REF[] =
    "scaleTargetRef points to the target resource to scale, and is used to the pods for "
    "which metrics should be collected, as well as to actually change the replica count.";
static const char D_HPA_METRICS[] =
    "metrics contains the specifications for which to use to calculate the desired "
    "replica count (the maximum replica count across all metrics will be used).  The "
    "desired replica count is calculated multiplying the ratio between the target value "
    "and the current value by the current number of pods.  Ergo, metrics used must "
    "decrease as the pod count is increased, and vice-versa.  See the individual metric "
    "source types for more information about how each type of metric must respond.";
static const char D_HPA_MIN[] =
    "minReplicas is the lower limit for the number of replicas to which the autoscaler "
    "can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha "
    "feature gate HPAScaleToZero is enabled and at least one Object or External metric "
    "is configured.  Scaling is active as long as at least one metric value is available.";
static const char D_HPA_MAX[] =
    "maxReplicas is the upper limit for the number of replicas to which the autoscaler "
    "can scale up. It cannot be less that minReplicas.";
static const char D_HPA_CURRENT[] =
    "currentReplicas is current number of replicas of pods managed by this autoscaler, "
    "as last seen by the autoscaler.";
static const char D_CM_DATA[] =
    "Data contains the configuration data. Each key must consist of alphanumeric "
    "characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the "
    "BinaryData field. The keys stored in Data must not overlap with the keys in the "
    "BinaryData field, this is enforced during validation process.";
static const char D_NP_POD_SELECTOR[] =
    "Selects the pods to which this NetworkPolicy object applies.  The array of ingress "
    "rules is applied to any pods selected by this field. Multiple network policies can "
    "select the same set of pods.  In this case, the ingress rules for each are combined "
    "additively. This field is NOT optional and follows standard label selector "
    "semantics. An empty podSelector matches all pods in this namespace.";
static const char D_RB_ROLE[] =
    "RoleRef can reference a Role in the current namespace or a ClusterRole in the "
    "global namespace. If the RoleRef cannot be resolved, the Authorizer must return an "
    "error.";
static const char D_CRB_ROLE[] =
    "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef "
    "cannot be resolved, the Authorizer must return an error.";
static const char D_LEASE_HOLDER[] =
    "holderIdentity contains the identity of the holder of a current lease. If "
    "Coordinated Leader Election is used, the holder identity must be equal to the "
    "elected LeaseCandidate.metadata.name field.";
static const char D_SC_PROVISIONER[] = "provisioner indicates the type of the provisioner.";
static const char D_SC_RECLAIM[] =
    "reclaimPolicy controls the reclaimPolicy for dynamically provisioned "
    "PersistentVolumes of this storage class. Defaults to Delete.";
static const char D_SC_BINDING[] =
    "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and "
    "bound.  When unset, VolumeBindingImmediate is used. This field is only honored by "
    "servers that enable the VolumeScheduling feature.";
static const char D_SC_EXPANSION[] =
    "allowVolumeExpansion shows whether the storage class allow volume expand.";
static const char D_CR_REVISION[] =
    "Revision indicates the revision of the state represented by Data.";
static const char D_PC_VALUE[] =
    "value represents the integer value of this priority class. This is the actual "
    "priority that pods receive when they have the name of this class in their pod spec.";
static const char D_PC_GLOBAL[] =
    "globalDefault specifies whether this PriorityClass should be considered as the "
    "default priority for pods that do not have any priority class. Only one "
    "PriorityClass can be marked as `globalDefault`. However, if more than one "
    "PriorityClasses exists with their `globalDefault` field set to true, the smallest "
    "value of such global default PriorityClasses will be used as the default priority.";
static const char D_PC_PREEMPTION[] =
    "preemptionPolicy is the Policy for preempting pods with lower priority. One of "
    "Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.";
static const char D_ES_ADDRESS_TYPE[] =
    "addressType specifies the type of address carried by this EndpointSlice. All "
    "addresses in this slice must be the same type. This field is immutable after "
    "creation. The following address types are currently supported: * IPv4: Represents "
    "an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully "
    "Qualified Domain Name.";
static const char D_ES_PORTS[] =
    "ports specifies the list of network ports exposed by each endpoint in this slice. "
    "Each port must have a unique name. When ports is empty, it indicates that there are "
    "no defined ports. When a port is defined with a nil port value, it indicates \"all "
    "ports\". Each slice may include a maximum of 100 ports.";
static const char D_ES_ENDPOINTS[] =
    "endpoints is a list of unique endpoints in this slice. Each slice may include a "
    "maximum of 1000 endpoints.";

/* ---- JSON access: every helper accepts NULL and wrong types ---- */

/* Follows a dotted path of object members ("status.podIP"); NULL if any step is missing. */
static const json_t *jget(const json_t *o, const char *path)
{
    char key[64];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (!json_is_object(o) || n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_object_get(o, key);
        path += n + (dot ? 1 : 0);
    }
    return o;
}

static const json_t *jobj(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return json_is_object(v) ? v : NULL;
}

static const json_t *jarr(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return json_is_array(v) ? v : NULL;
}

/* The string at path, or "" (Go's zero value) when missing or not a string. */
static const char *jstr(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* True when path is present and not null (a non-nil pointer in Go). */
static bool jset(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return v && !json_is_null(v);
}

static long long jnum(const json_t *v, long long def)
{
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d > -9.2e18 && d < 9.2e18)
            return (long long)d;
    }
    return def;
}

static long long jint(const json_t *o, const char *path, long long def)
{
    return jnum(jget(o, path), def);
}

static bool jtrue(const json_t *o, const char *path)
{
    return json_is_true(jget(o, path));
}

/* Number of items of an array, or of members of an object, at path. */
static size_t jlen(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    if (json_is_array(v))
        return json_array_size(v);
    if (json_is_object(v))
        return json_object_size(v);
    return 0;
}

/* Value of key in the object at path (keys may contain dots, as annotation keys do). */
static const json_t *jkey(const json_t *o, const char *path, const char *key)
{
    const json_t *m = jobj(o, path);
    return m ? json_object_get(m, key) : NULL;
}

/* ---- Cells ---- */

static void cell_str(json_t *cells, const char *s)
{
    json_t *v = json_string(s ? s : "");
    /* Inputs come from parsed JSON and are valid UTF-8; stay safe regardless. */
    json_array_append_new(cells, v ? v : json_string(""));
}

static void cell_buf(json_t *cells, const k1s_buf_t *b)
{
    cell_str(cells, b->data ? b->data : "");
}

static void cell_int(json_t *cells, long long v)
{
    json_array_append_new(cells, json_integer((json_int_t)v));
}

static void cell_bool(json_t *cells, bool v)
{
    json_array_append_new(cells, json_boolean(v));
}

K1S_PRINTF(2, 3) static void cell_fmt(json_t *cells, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    cell_str(cells, s);
    free(s);
}

/* Replaces the contents of b. */
K1S_PRINTF(2, 3) static void bset(k1s_buf_t *b, const char *fmt, ...)
{
    k1s_buf_reset(b);
    va_list ap;
    va_start(ap, fmt);
    char *s = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    k1s_buf_puts(b, s);
    free(s);
}

static const char *bstr(const k1s_buf_t *b)
{
    return b->data ? b->data : "";
}

/* Appends s to b, preceded by sep unless b is empty. */
static void bjoin(k1s_buf_t *b, const char *sep, const char *s)
{
    if (b->len)
        k1s_buf_puts(b, sep);
    k1s_buf_puts(b, s);
}

/* ---- Time ---- */

/* Go's zero time.Time, 0001-01-01T00:00:00Z, in Unix seconds: a missing metav1.Time. */
#define ZERO_TIME (-62135596800.0)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* RFC 3339 (metav1.Time and MicroTime) to Unix seconds; ZERO_TIME when malformed. */
static double parse_time(const char *s)
{
    int Y, M, D, h, mi, sec;
    if (strlen(s) < 20 || !parse_digits(s, 4, &Y) || s[4] != '-' || !parse_digits(s + 5, 2, &M) ||
        s[7] != '-' || !parse_digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
        !parse_digits(s + 11, 2, &h) || s[13] != ':' || !parse_digits(s + 14, 2, &mi) ||
        s[16] != ':' || !parse_digits(s + 17, 2, &sec))
        return ZERO_TIME;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 59)
        return ZERO_TIME;
    const char *p = s + 19;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return ZERO_TIME;
        for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!parse_digits(p + 1, 2, &oh) || p[3] != ':' || !parse_digits(p + 4, 2, &om))
            return ZERO_TIME;
        off = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return ZERO_TIME;
    }
    if (*p)
        return ZERO_TIME;
    int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off;
    return (double)t + frac;
}

/* The metav1.Time at path; ZERO_TIME when unset. */
static double jtime(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return json_is_string(v) ? parse_time(json_string_value(v)) : ZERO_TIME;
}

/* translateTimestampSince: "<unknown>" for an unset time, else the age. */
static void since(char *out, size_t len, double t, time_t now)
{
    if (t == ZERO_TIME)
        snprintf(out, len, "<unknown>");
    else
        k1s_table_age(out, len, (double)now - t);
}

/* Go's t.UTC().Format(time.RFC3339). */
static void format_rfc3339(char *out, size_t len, double t)
{
    int64_t s = (int64_t)t;
    if ((double)s > t)
        s--;
    int64_t days = s / 86400, rem = s % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, len, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60));
}

/* A Go time.Duration saturates at about 292 years; time.Since() of an old time does too. */
static double clamp_duration(double seconds)
{
    if (seconds > 9223372036.854775807)
        return 9223372036.854775807;
    if (seconds < -9223372036.854775808)
        return -9223372036.854775808;
    return seconds;
}

void k1s_table_age(char *out, size_t len, double seconds)
{
    if (seconds != seconds) { /* NaN */
        snprintf(out, len, "<invalid>");
        return;
    }
    long long s = (long long)clamp_duration(seconds); /* int(d.Seconds()) truncates */
    if (s < -1) {
        snprintf(out, len, "<invalid>");
        return;
    }
    if (s < 0) {
        snprintf(out, len, "0s");
        return;
    }
    if (s < 60 * 2) {
        snprintf(out, len, "%llds", s);
        return;
    }
    long long minutes = s / 60;
    if (minutes < 10) {
        if (s % 60 == 0)
            snprintf(out, len, "%lldm", minutes);
        else
            snprintf(out, len, "%lldm%llds", minutes, s % 60);
        return;
    }
    if (minutes < 60 * 3) {
        snprintf(out, len, "%lldm", minutes);
        return;
    }
    long long hours = s / 3600;
    if (hours < 8) {
        if (minutes % 60 == 0)
            snprintf(out, len, "%lldh", hours);
        else
            snprintf(out, len, "%lldh%lldm", hours, minutes % 60);
    } else if (hours < 48) {
        snprintf(out, len, "%lldh", hours);
    } else if (hours < 24 * 8) {
        if (hours % 24 == 0)
            snprintf(out, len, "%lldd", hours / 24);
        else
            snprintf(out, len, "%lldd%lldh", hours / 24, hours % 24);
    } else if (hours < 24 * 365 * 2) {
        snprintf(out, len, "%lldd", hours / 24);
    } else if (hours < 24 * 365 * 8) {
        long long dy = hours / 24 % 365;
        if (dy == 0)
            snprintf(out, len, "%lldy", hours / 24 / 365);
        else
            snprintf(out, len, "%lldy%lldd", hours / 24 / 365, dy);
    } else {
        snprintf(out, len, "%lldy", hours / 24 / 365);
    }
}

void k1s_table_short_age(char *out, size_t len, double seconds)
{
    if (seconds != seconds) {
        snprintf(out, len, "<invalid>");
        return;
    }
    long long s = (long long)clamp_duration(seconds);
    if (s < -1)
        snprintf(out, len, "<invalid>");
    else if (s < 0)
        snprintf(out, len, "0s");
    else if (s < 60)
        snprintf(out, len, "%llds", s);
    else if (s / 60 < 60)
        snprintf(out, len, "%lldm", s / 60);
    else if (s / 3600 < 24)
        snprintf(out, len, "%lldh", s / 3600);
    else if (s / 3600 < 24 * 365)
        snprintf(out, len, "%lldd", s / 3600 / 24);
    else
        snprintf(out, len, "%lldy", s / 3600 / 24 / 365);
}

/* Appends the Age cell: translateTimestampSince(metadata.creationTimestamp). */
static void cell_age(json_t *cells, const json_t *o, time_t now)
{
    char buf[32];
    since(buf, sizeof(buf), jtime(o, "metadata.creationTimestamp"), now);
    cell_str(cells, buf);
}

/* Appends the "since" cell of the time at path. */
static void cell_since(json_t *cells, const json_t *o, const char *path, time_t now)
{
    char buf[32];
    since(buf, sizeof(buf), jtime(o, path), now);
    cell_str(cells, buf);
}

/* ---- Strings, labels and selectors ---- */

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A growable array of strings, sorted and joined like Go's sets.String.List(). */
typedef struct strv {
    const char **v;
    char **owned; /* strings to free */
    size_t n, cap, nowned;
} strv_t;

static void strv_add(strv_t *s, const char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = k1s_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = str;
}

/* Adds a copy of str that s owns. */
static void strv_add_owned(strv_t *s, char *str)
{
    s->owned = k1s_xrealloc(s->owned, (s->nowned + 1) * sizeof(*s->owned));
    s->owned[s->nowned++] = str;
    strv_add(s, str);
}

static void strv_sort(strv_t *s, bool unique)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof(*s->v), cmp_strp);
    if (unique && s->n > 1) {
        size_t j = 1;
        for (size_t i = 1; i < s->n; i++)
            if (strcmp(s->v[i], s->v[j - 1]) != 0)
                s->v[j++] = s->v[i];
        s->n = j;
    }
}

/* Appends the strings to b, separated by sep. */
static void strv_join(const strv_t *s, k1s_buf_t *b, const char *sep)
{
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            k1s_buf_puts(b, sep);
        k1s_buf_puts(b, s->v[i]);
    }
}

static void strv_free(strv_t *s)
{
    for (size_t i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* The keys of a JSON object, sorted. */
static void sorted_keys(strv_t *s, const json_t *o)
{
    json_t *mo = (json_t *)o; /* jansson's iterators are not const-qualified */
    if (!json_is_object(mo))
        return;
    for (void *it = json_object_iter(mo); it; it = json_object_iter_next(mo, it))
        strv_add(s, json_object_iter_key(it));
    strv_sort(s, false);
}

/* labels.FormatLabels(map): "k1=v1,k2=v2" sorted as whole strings, "<none>" when empty. */
static void format_labels(k1s_buf_t *b, const json_t *map)
{
    strv_t s = {0};
    json_t *mo = (json_t *)map;
    if (json_is_object(mo)) {
        for (void *it = json_object_iter(mo); it; it = json_object_iter_next(mo, it)) {
            const json_t *v = json_object_iter_value(it);
            strv_add_owned(&s, k1s_xasprintf("%s=%s", json_object_iter_key(it),
                                             json_is_string(v) ? json_string_value(v) : ""));
        }
    }
    strv_sort(&s, false);
    strv_join(&s, b, ",");
    if (!b->len)
        k1s_buf_puts(b, "<none>");
    strv_free(&s);
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A label name or value: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters. */
static bool valid_label_name(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

/* An RFC 1123 DNS subdomain: lower-case labels of [a-z0-9-] joined by dots, at most 253. */
static bool valid_dns_subdomain(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                return false;
            continue;
        }
        if (i == start || s[start] == '-' || s[i - 1] == '-')
            return false;
        start = i + 1;
    }
    return true;
}

/* validation.IsQualifiedName: [prefix/]name. */
static bool valid_label_key(const char *k)
{
    const char *slash = strchr(k, '/');
    if (!slash)
        return valid_label_name(k, strlen(k));
    if (strchr(slash + 1, '/'))
        return false;
    return valid_dns_subdomain(k, (size_t)(slash - k)) &&
           valid_label_name(slash + 1, strlen(slash + 1));
}

static bool valid_label_value(const char *v)
{
    return !*v || valid_label_name(v, strlen(v));
}

enum { OP_EQ, OP_IN, OP_NOTIN, OP_EXISTS, OP_DNE };

typedef struct req {
    const char *key;
    int op;
    const char *value;    /* OP_EQ */
    const json_t *values; /* OP_IN, OP_NOTIN */
} req_t;

/*
 * metav1.LabelSelectorAsSelector(sel).String(): requirements sorted by key,
 * "k=v", "k in (a,b)", "k notin (a,b)", "k", "!k", joined by ",". A nil
 * selector (labels.Nothing()) and an empty one (labels.Everything()) both print
 * as "". Returns false, leaving b unchanged, if the selector is invalid.
 */
static bool format_selector(k1s_buf_t *b, const json_t *sel)
{
    if (!json_is_object(sel))
        return true;
    json_t *ml = json_object_get(sel, "matchLabels");
    const json_t *me = json_object_get(sel, "matchExpressions");
    size_t nml = json_is_object(ml) ? json_object_size(ml) : 0;
    size_t nme = json_is_array(me) ? json_array_size(me) : 0;
    if (nml + nme == 0)
        return true;

    req_t *reqs = k1s_xcalloc(nml + nme, sizeof(*reqs));
    size_t n = 0;
    bool ok = true;
    for (void *it = nml ? json_object_iter(ml) : NULL; it; it = json_object_iter_next(ml, it)) {
        const json_t *v = json_object_iter_value(it);
        req_t *r = &reqs[n++];
        r->key = json_object_iter_key(it);
        r->op = OP_EQ;
        r->value = json_is_string(v) ? json_string_value(v) : "";
        if (!valid_label_key(r->key) || !valid_label_value(r->value))
            ok = false;
    }
    for (size_t i = 0; i < nme && ok; i++) {
        const json_t *e = json_array_get(me, i);
        const char *op = jstr(e, "operator");
        req_t *r = &reqs[n++];
        r->key = jstr(e, "key");
        r->values = jarr(e, "values");
        size_t nv = json_array_size(r->values);
        if (strcmp(op, "In") == 0)
            r->op = OP_IN;
        else if (strcmp(op, "NotIn") == 0)
            r->op = OP_NOTIN;
        else if (strcmp(op, "Exists") == 0)
            r->op = OP_EXISTS;
        else if (strcmp(op, "DoesNotExist") == 0)
            r->op = OP_DNE;
        else
            ok = false;
        if (!valid_label_key(r->key))
            ok = false;
        if ((r->op == OP_IN || r->op == OP_NOTIN) ? nv == 0 : nv != 0)
            ok = false;
        for (size_t j = 0; j < nv; j++) {
            const json_t *v = json_array_get(r->values, j);
            if (!json_is_string(v) || !valid_label_value(json_string_value(v)))
                ok = false;
        }
    }
    if (!ok) {
        free(reqs);
        return false;
    }

    /* Stable insertion sort by key, as selector.Add() sorts. */
    for (size_t i = 1; i < n; i++) {
        req_t r = reqs[i];
        size_t j = i;
        for (; j > 0 && strcmp(reqs[j - 1].key, r.key) > 0; j--)
            reqs[j] = reqs[j - 1];
        reqs[j] = r;
    }

    for (size_t i = 0; i < n; i++) {
        const req_t *r = &reqs[i];
        if (i)
            k1s_buf_putc(b, ',');
        if (r->op == OP_DNE)
            k1s_buf_putc(b, '!');
        k1s_buf_puts(b, r->key);
        if (r->op == OP_EQ) {
            k1s_buf_printf(b, "=%s", r->value);
        } else if (r->op == OP_IN || r->op == OP_NOTIN) {
            strv_t vals = {0};
            for (size_t j = 0; j < json_array_size(r->values); j++)
                strv_add(&vals, json_string_value(json_array_get(r->values, j)));
            strv_sort(&vals, false);
            k1s_buf_puts(b, r->op == OP_IN ? " in (" : " notin (");
            strv_join(&vals, b, ",");
            k1s_buf_putc(b, ')');
            strv_free(&vals);
        }
    }
    free(reqs);
    return true;
}

/* metav1.FormatLabelSelector: "<none>" when empty, "<error>" when invalid. */
static void cell_label_selector(json_t *cells, const json_t *sel)
{
    k1s_buf_t b = K1S_BUF_INIT;
    if (!format_selector(&b, sel))
        cell_str(cells, "<error>");
    else
        cell_str(cells, b.len ? b.data : "<none>");
    k1s_buf_free(&b);
}

/* layoutContainerCells: the Containers and Images cells of a pod template. */
static void cell_containers(json_t *cells, const json_t *containers)
{
    k1s_buf_t names = K1S_BUF_INIT, images = K1S_BUF_INIT;
    size_t n = json_array_size(containers);
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(containers, i);
        if (i) {
            k1s_buf_putc(&names, ',');
            k1s_buf_putc(&images, ',');
        }
        k1s_buf_puts(&names, jstr(c, "name"));
        k1s_buf_puts(&images, jstr(c, "image"));
    }
    cell_buf(cells, &names);
    cell_buf(cells, &images);
    k1s_buf_free(&names);
    k1s_buf_free(&images);
}

/* A resource.Quantity as its String(): stored quantities are already canonical text. */
static void format_quantity(k1s_buf_t *b, const json_t *q, const char *unset)
{
    if (json_is_string(q))
        k1s_buf_puts(b, json_string_value(q));
    else if (json_is_integer(q))
        k1s_buf_printf(b, "%lld", (long long)json_integer_value(q));
    else if (json_is_real(q))
        k1s_buf_printf(b, "%g", json_real_value(q));
    else
        k1s_buf_puts(b, unset);
}

/* The names of the set of load-balancer ingress points: IP, else hostname; sorted, unique. */
static void format_lb_ingress(k1s_buf_t *b, const json_t *ingress)
{
    strv_t s = {0};
    for (size_t i = 0; i < json_array_size(ingress); i++) {
        const json_t *in = json_array_get(ingress, i);
        const char *ip = jstr(in, "ip"), *host = jstr(in, "hostname");
        if (*ip)
            strv_add(&s, ip);
        else if (*host)
            strv_add(&s, host);
    }
    strv_sort(&s, true);
    strv_join(&s, b, ",");
    strv_free(&s);
}

/* The first condition of the given type in the array at path, or NULL. */
static const json_t *find_condition(const json_t *o, const char *path, const char *type)
{
    const json_t *conds = jarr(o, path);
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        if (strcmp(jstr(c, "type"), type) == 0)
            return c;
    }
    return NULL;
}

static bool condition_true(const json_t *o, const char *path, const char *type)
{
    return strcmp(jstr(find_condition(o, path, type), "status"), "True") == 0;
}

static void ascii_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* ---- Column tables ---- */

typedef struct col {
    const char *name, *type, *format, *description;
    int priority;
} col_t;

#define COL_NAME                                                                                   \
    {                                                                                              \
        "Name", "string", "name", D_NAME, 0                                                        \
    }
#define COL_AGE                                                                                    \
    {                                                                                              \
        "Age", "string", "", D_CREATED, 0                                                          \
    }
#define COL_CONTAINERS                                                                             \
    {                                                                                              \
        "Containers", "string", "", "Names of each container in the template.", 1                  \
    }
#define COL_IMAGES                                                                                 \
    {                                                                                              \
        "Images", "string", "", "Images referenced by each container in the template.", 1          \
    }

static const col_t default_cols[] = {
    COL_NAME,
    {"Created At", "date", "", D_CREATED, 0},
};

static const col_t pod_cols[] = {
    COL_NAME,
    {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0},
    {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
    {"Restarts", "string", "",
     "The number of times the containers in this pod have been restarted and when the last "
     "container in this pod has restarted.",
     0},
    COL_AGE,
    {"IP", "string", "", D_POD_IP, 1},
    {"Node", "string", "", D_POD_NODE_NAME, 1},
    {"Nominated Node", "string", "", D_POD_NOMINATED, 1},
    {"Readiness Gates", "string", "", D_POD_READINESS_GATES, 1},
};

static const col_t pdb_cols[] = {
    COL_NAME,
    {"Min Available", "string", "", "The minimum number of pods that must be available.", 0},
    {"Max Unavailable", "string", "", "The maximum number of pods that may be unavailable.", 0},
    {"Allowed Disruptions", "integer", "",
     "Calculated number of pods that may be disrupted at this time.", 0},
    COL_AGE,
};

static const col_t replicaset_cols[] = {
    COL_NAME,
    {"Desired", "integer", "", D_RS_REPLICAS, 0},
    {"Current", "integer", "", D_RS_STATUS_REPLICAS, 0},
    {"Ready", "integer", "", D_RS_READY, 0},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    {"Selector", "string", "", D_RS_SELECTOR, 1},
};

static const col_t daemonset_cols[] = {
    COL_NAME,
    {"Desired", "integer", "", D_DS_DESIRED, 0},
    {"Current", "integer", "", D_DS_CURRENT, 0},
    {"Ready", "integer", "", D_DS_READY, 0},
    {"Up-to-date", "integer", "", D_DS_UPDATED, 0},
    {"Available", "integer", "", D_DS_AVAILABLE, 0},
    {"Node Selector", "string", "", D_POD_NODE_SELECTOR, 0},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    {"Selector", "string", "", D_DS_SELECTOR, 1},
};

static const col_t job_cols[] = {
    COL_NAME,
    {"Status", "string", "", "Status of the job.", 0},
    {"Completions", "string", "", D_JOB_SUCCEEDED, 0},
    {"Duration", "string", "", "Time required to complete the job.", 0},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    {"Selector", "string", "", D_JOB_SELECTOR, 1},
};

static const col_t cronjob_cols[] = {
    COL_NAME,
    {"Schedule", "string", "", D_CJ_SCHEDULE, 0},
    {"Timezone", "string", "", D_CJ_TIMEZONE, 0},
    {"Suspend", "boolean", "", D_CJ_SUSPEND, 0},
    {"Active", "integer", "", D_CJ_ACTIVE, 0},
    {"Last Schedule", "string", "", D_CJ_LAST_SCHEDULE, 0},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    {"Selector", "string", "", D_JOB_SELECTOR, 1},
};

static const col_t service_cols[] = {
    COL_NAME,
    {"Type", "string", "", D_SVC_TYPE, 0},
    {"Cluster-IP", "string", "", D_SVC_CLUSTER_IP, 0},
    {"External-IP", "string", "", D_SVC_EXTERNAL_IPS, 0},
    {"Port(s)", "string", "", D_SVC_PORTS, 0},
    COL_AGE,
    {"Selector", "string", "", D_SVC_SELECTOR, 1},
};

static const col_t ingress_cols[] = {
    COL_NAME,
    {"Class", "string", "",
     "The name of the IngressClass resource that should be used for additional configuration", 0},
    {"Hosts", "string", "",
     "Hosts that incoming requests are matched against before the ingress rule", 0},
    {"Address", "string", "", "Address is a list containing ingress points for the load-balancer",
     0},
    {"Ports", "string", "", "Ports of TLS configurations that open", 0},
    COL_AGE,
};

static const col_t ingressclass_cols[] = {
    COL_NAME,
    {"Controller", "string", "", "Controller that is responsible for handling this class", 0},
    {"Parameters", "string", "", "A reference to a resource with additional parameters", 0},
    COL_AGE,
};

static const col_t statefulset_cols[] = {
    COL_NAME,   {"Ready", "string", "", "Number of the pod with ready state", 0},
    COL_AGE,    COL_CONTAINERS,
    COL_IMAGES,
};

static const col_t endpoints_cols[] = {
    COL_NAME,
    {"Endpoints", "string", "", D_EP_SUBSETS, 0},
    COL_AGE,
};

static const col_t node_cols[] = {
    COL_NAME,
    {"Status", "string", "", "The status of the node", 0},
    {"Roles", "string", "", "The roles of the node", 0},
    COL_AGE,
    {"Version", "string", "", D_NODE_KUBELET, 0},
    {"Internal-IP", "string", "", D_NODE_ADDRESSES, 1},
    {"External-IP", "string", "", D_NODE_ADDRESSES, 1},
    {"OS-Image", "string", "", D_NODE_OS_IMAGE, 1},
    {"Kernel-Version", "string", "", D_NODE_KERNEL, 1},
    {"Container-Runtime", "string", "", D_NODE_RUNTIME, 1},
};

static const col_t event_cols[] = {
    {"Last Seen", "string", "", D_EV_LAST, 0},       {"Type", "string", "", D_EV_TYPE, 0},
    {"Reason", "string", "", D_EV_REASON, 0},        {"Object", "string", "", D_EV_OBJECT, 0},
    {"Subobject", "string", "", D_EV_FIELD_PATH, 1}, {"Source", "string", "", D_EV_SOURCE, 1},
    {"Message", "string", "", D_EV_MESSAGE, 0},      {"First Seen", "string", "", D_EV_FIRST, 1},
    {"Count", "string", "", D_EV_COUNT, 1},          {"Name", "string", "name", D_NAME, 1},
};

static const col_t namespace_cols[] = {
    COL_NAME,
    {"Status", "string", "", "The status of the namespace", 0},
    COL_AGE,
};

static const col_t secret_cols[] = {
    COL_NAME,
    {"Type", "string", "", D_SECRET_TYPE, 0},
    {"Data", "string", "", D_SECRET_DATA, 0},
    COL_AGE,
};

static const col_t serviceaccount_cols[] = {
    COL_NAME,
    {"Secrets", "string", "", D_SA_SECRETS, 0},
    COL_AGE,
};

static const col_t pv_cols[] = {
    COL_NAME,
    {"Capacity", "string", "", D_PV_CAPACITY, 0},
    {"Access Modes", "string", "", D_PV_ACCESS_MODES, 0},
    {"Reclaim Policy", "string", "", D_PV_RECLAIM, 0},
    {"Status", "string", "", D_PV_PHASE, 0},
    {"Claim", "string", "", D_PV_CLAIM, 0},
    {"StorageClass", "string", "", "StorageClass of the pv", 0},
    {"VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pv", 0},
    {"Reason", "string", "", D_PV_REASON, 0},
    COL_AGE,
    {"VolumeMode", "string", "", D_PV_VOLUME_MODE, 1},
};

static const col_t pvc_cols[] = {
    COL_NAME,
    {"Status", "string", "", D_PVC_PHASE, 0},
    {"Volume", "string", "", D_PVC_VOLUME, 0},
    {"Capacity", "string", "", D_PVC_CAPACITY, 0},
    {"Access Modes", "string", "", D_PVC_ACCESS_MODES, 0},
    {"StorageClass", "string", "", "StorageClass of the pvc", 0},
    {"VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pvc", 0},
    COL_AGE,
    {"VolumeMode", "string", "", D_PVC_VOLUME_MODE, 1},
};

static const col_t deployment_cols[] = {
    COL_NAME,
    {"Ready", "string", "", "Number of the pod with ready state", 0},
    {"Up-to-date", "string", "", D_DEPLOY_UPDATED, 0},
    {"Available", "string", "", D_DEPLOY_AVAILABLE, 0},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    {"Selector", "string", "", D_DEPLOY_SELECTOR, 1},
};

static const col_t hpa_cols[] = {
    COL_NAME,
    {"Reference", "string", "", D_HPA_REF, 0},
    {"Targets", "string", "", D_HPA_METRICS, 0},
    {"MinPods", "string", "", D_HPA_MIN, 0},
    {"MaxPods", "string", "", D_HPA_MAX, 0},
    {"Replicas", "string", "", D_HPA_CURRENT, 0},
    COL_AGE,
};

static const col_t configmap_cols[] = {
    COL_NAME,
    {"Data", "string", "", D_CM_DATA, 0},
    COL_AGE,
};

static const col_t networkpolicy_cols[] = {
    COL_NAME,
    {"Pod-Selector", "string", "", D_NP_POD_SELECTOR, 0},
    COL_AGE,
};

static const col_t rolebinding_cols[] = {
    COL_NAME,
    {"Role", "string", "", D_RB_ROLE, 0},
    COL_AGE,
    {"Users", "string", "", "Users in the roleBinding", 1},
    {"Groups", "string", "", "Groups in the roleBinding", 1},
    {"ServiceAccounts", "string", "", "ServiceAccounts in the roleBinding", 1},
};

static const col_t clusterrolebinding_cols[] = {
    COL_NAME,
    {"Role", "string", "", D_CRB_ROLE, 0},
    COL_AGE,
    {"Users", "string", "", "Users in the clusterRoleBinding", 1},
    {"Groups", "string", "", "Groups in the clusterRoleBinding", 1},
    {"ServiceAccounts", "string", "", "ServiceAccounts in the clusterRoleBinding", 1},
};

static const col_t lease_cols[] = {
    COL_NAME,
    {"Holder", "string", "", D_LEASE_HOLDER, 0},
    COL_AGE,
};

static const col_t storageclass_cols[] = {
    COL_NAME,
    {"Provisioner", "string", "", D_SC_PROVISIONER, 0},
    {"ReclaimPolicy", "string", "", D_SC_RECLAIM, 0},
    {"VolumeBindingMode", "string", "", D_SC_BINDING, 0},
    {"AllowVolumeExpansion", "string", "", D_SC_EXPANSION, 0},
    COL_AGE,
};

static const col_t controllerrevision_cols[] = {
    COL_NAME,
    {"Controller", "string", "", "Controller of the object", 0},
    {"Revision", "string", "", D_CR_REVISION, 0},
    COL_AGE,
};

static const col_t resourcequota_cols[] = {
    COL_NAME,
    {"Request", "string", "",
     "Request represents a minimum amount of cpu/memory that a container may consume.", 0},
    {"Limit", "string", "",
     "Limits control the maximum amount of cpu/memory that a container may use independent of "
     "contention on the node.",
     0},
    COL_AGE,
};

static const col_t priorityclass_cols[] = {
    COL_NAME,
    {"Value", "integer", "", D_PC_VALUE, 0},
    {"Global-Default", "boolean", "", D_PC_GLOBAL, 0},
    COL_AGE,
    {"PreemptionPolicy", "string", "", D_PC_PREEMPTION, 0},
};

static const col_t endpointslice_cols[] = {
    COL_NAME,
    {"AddressType", "string", "", D_ES_ADDRESS_TYPE, 0},
    {"Ports", "string", "", D_ES_PORTS, 0},
    {"Endpoints", "string", "", D_ES_ENDPOINTS, 0},
    COL_AGE,
};

/* ---- Cell functions, one per printer ---- */

static void cells_default(json_t *cells, const json_t *o, time_t now)
{
    char buf[40];
    format_rfc3339(buf, sizeof(buf), jtime(o, "metadata.creationTimestamp"));
    cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, buf);
}

/* Whether the init container called name is a sidecar (restartPolicy: Always). */
static bool init_restartable(const json_t *inits, const char *name)
{
    bool restartable = false; /* the last spec entry of a name wins, as in upstream's map */
    for (size_t i = 0; i < json_array_size(inits); i++) {
        const json_t *c = json_array_get(inits, i);
        if (strcmp(jstr(c, "name"), name) == 0)
            restartable = strcmp(jstr(c, "restartPolicy"), "Always") == 0;
    }
    return restartable;
}

static bool pod_ready(const json_t *status)
{
    const json_t *conds = jarr(status, "conditions");
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        if (strcmp(jstr(c, "type"), "Ready") == 0 && strcmp(jstr(c, "status"), "True") == 0)
            return true;
    }
    return false;
}

/* The pod's STATUS column: kubectl's aggregate reason (printPod). */
static void pod_status(k1s_buf_t *reason, const json_t *o, long long *restarts_out,
                       long long *ready_out, long long *total_out, double *last_restart_out)
{
    const json_t *status = jobj(o, "status");
    const json_t *inits = jarr(o, "spec.initContainers");
    const char *phase = jstr(status, "phase"), *status_reason = jstr(status, "reason");
    long long restarts = 0, sidecar_restarts = 0, ready = 0;
    long long total = (long long)jlen(o, "spec.containers");
    double last_restart = ZERO_TIME, sidecar_last_restart = ZERO_TIME;

    bset(reason, "%s", *status_reason ? status_reason : phase);
    const json_t *conds = jarr(status, "conditions");
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        if (strcmp(jstr(c, "type"), "PodScheduled") == 0 &&
            strcmp(jstr(c, "reason"), "SchedulingGated") == 0)
            bset(reason, "SchedulingGated");
    }

    for (size_t i = 0; i < json_array_size(inits); i++)
        if (strcmp(jstr(json_array_get(inits, i), "restartPolicy"), "Always") == 0)
            total++;

    bool initializing = false;
    const json_t *ics = jarr(status, "initContainerStatuses");
    for (size_t i = 0; i < json_array_size(ics); i++) {
        const json_t *cs = json_array_get(ics, i);
        const json_t *term = jobj(cs, "state.terminated"), *wait = jobj(cs, "state.waiting");
        long long rc = jint(cs, "restartCount", 0);
        double finished = jtime(cs, "lastState.terminated.finishedAt");
        bool sidecar = init_restartable(inits, jstr(cs, "name"));
        restarts += rc;
        if (finished > last_restart)
            last_restart = finished;
        if (sidecar) {
            sidecar_restarts += rc;
            if (finished > sidecar_last_restart)
                sidecar_last_restart = finished;
        }
        if (term && jint(term, "exitCode", 0) == 0)
            continue;
        if (sidecar && jtrue(cs, "started")) {
            if (jtrue(cs, "ready"))
                ready++;
            continue;
        }
        const char *wait_reason = jstr(wait, "reason");
        if (term) {
            const char *r = jstr(term, "reason");
            if (*r)
                bset(reason, "Init:%s", r);
            else if (jint(term, "signal", 0) != 0)
                bset(reason, "Init:Signal:%lld", jint(term, "signal", 0));
            else
                bset(reason, "Init:ExitCode:%lld", jint(term, "exitCode", 0));
        } else if (wait && *wait_reason && strcmp(wait_reason, "PodInitializing") != 0) {
            bset(reason, "Init:%s", wait_reason);
        } else {
            bset(reason, "Init:%zu/%zu", i, json_array_size(inits));
        }
        initializing = true;
        break;
    }

    if (!initializing || condition_true(status, "conditions", "Initialized")) {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        bool has_running = false;
        const json_t *css = jarr(status, "containerStatuses");
        for (size_t i = json_array_size(css); i-- > 0;) {
            const json_t *cs = json_array_get(css, i);
            const json_t *term = jobj(cs, "state.terminated"), *wait = jobj(cs, "state.waiting");
            double finished = jtime(cs, "lastState.terminated.finishedAt");
            restarts += jint(cs, "restartCount", 0);
            if (finished > last_restart)
                last_restart = finished;
            if (wait && *jstr(wait, "reason")) {
                bset(reason, "%s", jstr(wait, "reason"));
            } else if (term && *jstr(term, "reason")) {
                bset(reason, "%s", jstr(term, "reason"));
            } else if (term) {
                if (jint(term, "signal", 0) != 0)
                    bset(reason, "Signal:%lld", jint(term, "signal", 0));
                else
                    bset(reason, "ExitCode:%lld", jint(term, "exitCode", 0));
            } else if (jtrue(cs, "ready") && jobj(cs, "state.running")) {
                has_running = true;
                ready++;
            }
        }
        /* a pod whose last container completed but others still run is not "Completed" */
        if (strcmp(bstr(reason), "Completed") == 0 && has_running)
            bset(reason, "%s", pod_ready(status) ? "Running" : "NotReady");
    }

    bool deleting = jset(o, "metadata.deletionTimestamp");
    if (deleting && strcmp(status_reason, "NodeLost") == 0)
        bset(reason, "Unknown");
    else if (deleting && strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0)
        bset(reason, "Terminating");

    *restarts_out = restarts;
    *ready_out = ready;
    *total_out = total;
    *last_restart_out = last_restart;
}

static void cells_pod(json_t *cells, const json_t *o, time_t now)
{
    k1s_buf_t reason = K1S_BUF_INIT;
    long long restarts, ready, total;
    double last_restart;
    pod_status(&reason, o, &restarts, &ready, &total, &last_restart);

    cell_str(cells, jstr(o, "metadata.name"));
    cell_fmt(cells, "%lld/%lld", ready, total);
    cell_buf(cells, &reason);
    if (restarts != 0 && last_restart != ZERO_TIME) {
        char ago[32];
        since(ago, sizeof(ago), last_restart, now);
        cell_fmt(cells, "%lld (%s ago)", restarts, ago);
    } else {
        cell_fmt(cells, "%lld", restarts);
    }
    cell_age(cells, o, now);
    k1s_buf_free(&reason);

    /* status.podIP wins over podIPs[0] when both are set, as the v1 conversion decides */
    const json_t *status = jobj(o, "status");
    const char *ip = jstr(status, "podIP");
    if (!*ip)
        ip = jstr(json_array_get(jarr(status, "podIPs"), 0), "ip");
    const char *node = jstr(o, "spec.nodeName"), *nominated = jstr(status, "nominatedNodeName");
    cell_str(cells, *ip ? ip : "<none>");
    cell_str(cells, *node ? node : "<none>");
    cell_str(cells, *nominated ? nominated : "<none>");

    const json_t *gates = jarr(o, "spec.readinessGates");
    if (json_array_size(gates)) {
        size_t n_true = 0;
        for (size_t i = 0; i < json_array_size(gates); i++) {
            const char *type = jstr(json_array_get(gates, i), "conditionType");
            const json_t *c = find_condition(status, "conditions", type);
            if (c && strcmp(jstr(c, "status"), "True") == 0)
                n_true++;
        }
        cell_fmt(cells, "%zu/%zu", n_true, json_array_size(gates));
    } else {
        cell_str(cells, "<none>");
    }
}

/* intstr.IntOrString.String(), or unset for a nil pointer. */
static void cell_int_or_string(json_t *cells, const json_t *v, const char *unset)
{
    if (json_is_string(v))
        cell_str(cells, json_string_value(v));
    else if (json_is_number(v))
        cell_fmt(cells, "%lld", jnum(v, 0));
    else
        cell_str(cells, unset);
}

static void cells_pdb(json_t *cells, const json_t *o, time_t now)
{
    cell_str(cells, jstr(o, "metadata.name"));
    cell_int_or_string(cells, jget(o, "spec.minAvailable"), "N/A");
    cell_int_or_string(cells, jget(o, "spec.maxUnavailable"), "N/A");
    cell_int(cells, jint(o, "status.disruptionsAllowed", 0));
    cell_age(cells, o, now);
}

static void cells_replicaset(json_t *cells, const json_t *o, time_t now)
{
    cell_str(cells, jstr(o, "metadata.name"));
    cell_int(cells, jint(o, "spec.replicas", 1));
    cell_int(cells, jint(o, "status.replicas", 0));
    cell_int(cells, jint(o, "status.readyReplicas", 0));
    cell_age(cells, o, now);
    cell_containers(cells, jarr(o, "spec.template.spec.containers"));
    cell_label_selector(cells, jget(o, "spec.selector"));
}

static void cells_daemonset(json_t *cells, const json_t *o, time_t now)
{
    k1s_buf_t node_selector = K1S_BUF_INIT;
    format_labels(&node_selector, jget(o, "spec.template.spec.nodeSelector"));
    cell_str(cells, jstr(o, "metadata.name"));
    cell_int(cells, jint(o, "status.desiredNumberScheduled", 0));
    cell_int(cells, jint(o, "status.currentNumberScheduled", 0));
    cell_int(cells, jint(o, "status.numberReady", 0));
    cell_int(cells, jint(o, "status.updatedNumberScheduled", 0));
    cell_int(cells, jint(o, "status.numberAvailable", 0));
    cell_buf(cells, &node_selector);
    cell_age(cells, o, now);
    cell_containers(cells, jarr(o, "spec.template.spec.containers"));
    cell_label_selector(cells, jget(o, "spec.selector"));
    k1s_buf_free(&node_selector);
}

static void cells_job(json_t *cells, const json_t *o, time_t now)
{
    long long succeeded = jint(o, "status.succeeded", 0);
    cell_str(cells, jstr(o, "metadata.name"));

    const char *status = "Running";
    if (condition_true(o, "status.conditions", "Complete"))
        status = "Complete";
    else if (condition_true(o, "status.conditions", "Failed"))
        status = "Failed";
    else if (jset(o, "metadata.deletionTimestamp"))
        status = "Terminating";
    else if (condition_true(o, "status.conditions", "Suspended"))
        status = "Suspended";
    else if (condition_true(o, "status.conditions", "FailureTarget"))
        status = "FailureTarget";
    cell_str(cells, status);

    if (jset(o, "spec.completions")) {
        cell_fmt(cells, "%lld/%lld", succeeded, jint(o, "spec.completions", 0));
    } else {
        long long parallelism = jint(o, "spec.parallelism", 1);
        if (parallelism > 1)
            cell_fmt(cells, "%lld/1 of %lld", succeeded, parallelism);
        else
            cell_fmt(cells, "%lld/1", succeeded);
    }

    char duration[32] = "";
    double start = jtime(o, "status.startTime"), done = jtime(o, "status.completionTime");
    if (start != ZERO_TIME)
        k1s_table_age(duration, sizeof(duration),
                      done != ZERO_TIME ? done - start : (double)now - start);
    cell_str(cells, duration);
    cell_age(cells, o, now);
    cell_containers(cells, jarr(o, "spec.template.spec.containers"));
    cell_label_selector(cells, jget(o, "spec.selector"));
}

static void cells_cronjob(json_t *cells, const json_t *o, time_t now)
{
    const json_t *tz = jget(o, "spec.timeZone");
    const json_t *suspend = jget(o, "spec.suspend");
    cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, jstr(o, "spec.schedule"));
    cell_str(cells, json_is_string(tz) ? json_string_value(tz) : "<none>");
    /* spec.suspend defaults to false */
    cell_str(cells, json_is_true(suspend) ? "True" : "False");
    cell_int(cells, (long long)jlen(o, "status.active"));
    if (jset(o, "status.lastScheduleTime"))
        cell_since(cells, o, "status.lastScheduleTime", now);
    else
        cell_str(cells, "<none>");
    cell_age(cells, o, now);
    cell_containers(cells, jarr(o, "spec.jobTemplate.spec.template.spec.containers"));
    cell_label_selector(cells, jget(o, "spec.jobTemplate.spec.selector"));
}

/* getServiceExternalIP(svc, wide=true). */
static void service_external_ip(k1s_buf_t *b, const json_t *o, const char *type)
{
    k1s_buf_t ext = K1S_BUF_INIT;
    const json_t *ips = jarr(o, "spec.externalIPs");
    for (size_t i = 0; i < json_array_size(ips); i++) {
        const json_t *ip = json_array_get(ips, i);
        if (i)
            k1s_buf_putc(&ext, ',');
        k1s_buf_puts(&ext, json_is_string(ip) ? json_string_value(ip) : "");
    }
    if (strcmp(type, "ClusterIP") == 0 || strcmp(type, "NodePort") == 0) {
        k1s_buf_puts(b, json_array_size(ips) ? bstr(&ext) : "<none>");
    } else if (strcmp(type, "LoadBalancer") == 0) {
        format_lb_ingress(b, jarr(o, "status.loadBalancer.ingress"));
        if (json_array_size(ips))
            bjoin(b, ",", bstr(&ext));
        else if (!b->len)
            k1s_buf_puts(b, "<pending>");
    } else if (strcmp(type, "ExternalName") == 0) {
        k1s_buf_puts(b, jstr(o, "spec.externalName"));
    } else {
        k1s_buf_puts(b, "<unknown>");
    }
    k1s_buf_free(&ext);
}

static void cells_service(json_t *cells, const json_t *o, time_t now)
{
    const char *type = jstr(o, "spec.type");
    if (!*type)
        type = "ClusterIP"; /* defaulted */

    /* spec.clusterIPs defaults from spec.clusterIP */
    const json_t *cips = jarr(o, "spec.clusterIPs");
    const char *cluster_ip =
        json_array_size(cips) ? jstr(json_array_get(cips, 0), "") : jstr(o, "spec.clusterIP");
    if (!json_array_size(cips) && !*cluster_ip)
        cluster_ip = "<none>";

    k1s_buf_t ext = K1S_BUF_INIT, ports = K1S_BUF_INIT, selector = K1S_BUF_INIT;
    service_external_ip(&ext, o, type);
    const json_t *pa = jarr(o, "spec.ports");
    for (size_t i = 0; i < json_array_size(pa); i++) {
        const json_t *p = json_array_get(pa, i);
        const char *proto = jstr(p, "protocol");
        long long node_port = jint(p, "nodePort", 0);
        if (i)
            k1s_buf_putc(&ports, ',');
        if (node_port > 0)
            k1s_buf_printf(&ports, "%lld:%lld/%s", jint(p, "port", 0), node_port,
                           *proto ? proto : "TCP");
        else
            k1s_buf_printf(&ports, "%lld/%s", jint(p, "port", 0), *proto ? proto : "TCP");
    }
    if (!ports.len)
        k1s_buf_puts(&ports, "<none>");
    format_labels(&selector, jget(o, "spec.selector"));

    cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, type);
    cell_str(cells, cluster_ip);
    cell_buf(cells, &ext);
    cell_buf(cells, &ports);
    cell_age(cells, o, now);
    cell_buf(cells, &selector);
    k1s_buf_free(&ext);
    k1s_buf_free(&ports);
    k1s_buf_free(&selector);
}

static void cells_ingress(json_t *cells, const json_t *o, time_t now)
{
    const json_t *cls = jget(o, "spec.ingressClassName");
    const json_t *rules = jarr(o, "spec.rules");
    k1s_buf_t hosts = K1S_BUF_INIT, address = K1S_BUF_INIT;
    size_t n = 0;
    bool more = false;
    for (size_t i = 0; i < json_array_size(rules); i++) {
        const char *host = jstr(json_array_get(rules, i), "host");
        if (n == 3)
            more = true;
        if (!more && *host) {
            bjoin(&hosts, ",", host);
            n++;
        }
    }
    if (n == 0)
        k1s_buf_puts(&hosts, "*");
    else if (more)
        k1s_buf_printf(&hosts, " + %zu more...", json_array_size(rules) - 3);
    format_lb_ingress(&address, jarr(o, "status.loadBalancer.ingress"));

    cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, json_is_string(cls) ? json_string_value(cls) : "<none>");
    cell_buf(cells, &hosts);
    cell_buf(cells, &address);
    cell_str(cells, jlen(o, "spec.tls") ? "80, 443" : "80");
    cell_age(cells, o, now);
    k1s_buf_free(&hosts);
    k1s_buf_free(&address);
}

static void cells_ingressclass(json_t *cells, const json_t *o, time_t now)
{
    const json_t *params = jobj(o, "spec.parameters");
    cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, jstr(o, "spec.controller"));
    if (params) {
        const json_t *group = json_object_get(params, "apiGroup");
        if (json_is_string(group))
            cell_fmt(cells, "%s.%s/%s", jstr(params, "kind"), json_string_value(group),
                     jstr(params, "name"));
        else
            cell_fmt(cells, "%s/%s", jstr(params, "kind"), jstr(params, "name"));
    } else {
        cell_str(cells, "<none>");
    }
    cell_age(cells, o, now);
}

static void cells_statefulset(json_t *cells, const json_t *o, time_t now)
{
    cell_str(cells, jstr(o, "metadata.name"));
    cell_fmt(cells, "%lld/%lld", jint(o, "status.readyReplicas", 0), jint(o, "spec.replicas", 1));
    cell_age(cells, o, now);
    cell_containers(cells, jarr(o, "spec.template.spec.containers"));
}

/* net.JoinHostPort */
static char *join_host_port(const char *host, long long port)
{
    return strchr(host, ':') ? k1s_xasprintf("[%s]:%lld", host, port)
                             : k1s_xasprintf("%s:%lld", host, port);
}

/* formatEndpoints(endpoints, nil): at most three addresses, then "+ N more...". */
static void cells_endpoints(json_t *cells, const json_t *o, time_t now)
{
    const json_t *subsets = jarr(o, "subsets");
    cell_str(cells, jstr(o, "metadata.name"));
    if (!json_array_size(subsets)) {
        cell_str(cells, "<none>");
        cell_age(cells, o, now);
        return;
    }
    strv_t list = {0};
    const size_t max = 3;
    bool more = false;
    size_t count = 0;
    for (size_t i = 0; i < json_array_size(subsets); i++) {
        const json_t *ss = json_array_get(subsets, i);
        const json_t *addrs = jarr(ss, "addresses"), *ports = jarr(ss, "ports");
        size_t na = json_array_size(addrs);
        if (!json_array_size(ports)) {
            /* headless services may have no ports */
            count += na;
            for (size_t j = 0; j < na; j++) {
                if (list.n == max) {
                    more = true;
                    break;
                }
                strv_add(&list, jstr(json_array_get(addrs, j), "ip"));
            }
            continue;
        }
        for (size_t p = 0; p < json_array_size(ports); p++) {
            long long port = jint(json_array_get(ports, p), "port", 0);
            count += na;
            for (size_t j = 0; j < na; j++) {
                if (list.n == max) {
                    more = true;
                    break;
                }
                strv_add_owned(&list, join_host_port(jstr(json_array_get(addrs, j), "ip"), port));
            }
        }
    }
    k1s_buf_t b = K1S_BUF_INIT;
    strv_join(&list, &b, ",");
    if (more)
        k1s_buf_printf(&b, " + %zu more...", count - max);
    cell_buf(cells, &b);
    cell_age(cells, o, now);
    k1s_buf_free(&b);
    strv_free(&list);
}

/* listWithMoreString */
static void list_with_more(k1s_buf_t *b, const strv_t *list, bool more, size_t count, size_t max)
{
    strv_join(list, b, ",");
    if (more)
        k1s_buf_printf(b, " + %zu more...", count - max);
    else if (!b->len)
        k1s_buf_puts(b, "<unset>");
}

static void cells_endpointslice(json_t *cells, const json_t *o, time_t now)
{
    const size_t max = 3;
    strv_t ports = {0}, addrs = {0};
    bool more_ports = false, more_addrs = false;
    size_t nports = 0, naddrs = 0;

    const json_t *pa = jarr(o, "ports");
    for (size_t i = 0; i < json_array_size(pa); i++, nports++) {
        const json_t *p = json_array_get(pa, i);
        if (ports.n < max) {
            const json_t *num = json_object_get(p, "port"), *name = json_object_get(p, "name");
            if (json_is_number(num))
                strv_add_owned(&ports, k1s_xasprintf("%lld", jnum(num, 0)));
            else if (json_is_string(name))
                strv_add(&ports, json_string_value(name));
            else
                strv_add(&ports, "*");
        } else if (ports.n == max) {
            more_ports = true;
        }
    }
    const json_t *eps = jarr(o, "endpoints");
    for (size_t i = 0; i < json_array_size(eps); i++) {
        const json_t *a = jarr(json_array_get(eps, i), "addresses");
        for (size_t j = 0; j < json_array_size(a); j++, naddrs++) {
            const json_t *addr = json_array_get(a, j);
            if (addrs.n < max)
                strv_add(&addrs, json_is_string(addr) ? json_string_value(addr) : "");
            else if (addrs.n == max)
                more_addrs = true;
        }
    }
    k1s_buf_t pb = K1S_BUF_INIT, ab = K1S_BUF_INIT;
    list_with_more(&pb, &ports, more_ports, nports, max);
    list_with_more(&ab, &addrs, more_addrs, naddrs, max);

    cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, jstr(o, "addressType"));
    cell_buf(cells, &pb);
    cell_buf(cells, &ab);
    cell_age(cells, o, now);
    k1s_buf_free(&pb);
    k1s_buf_free(&ab);
    strv_free(&ports);
    strv_free(&addrs);
}

static const char *node_address(const json_t *o, const char *type)
{
    const json_t *addrs = jarr(o, "status.addresses");
    for (size_t i = 0; i < json_array_size(addrs); i++) {
        const json_t *a = json_array_get(addrs, i);
        if (strcmp(jstr(a, "type"), type) == 0)
            return jstr(a, "address");
    }
    return "<none>";
}

static void cells_node(json_t *cells, const json_t *o, time_t now)
{
    /* the last Ready condition wins, as upstream keys conditions by type in a map */
    const json_t *ready = NULL, *conds = jarr(o, "status.conditions");
    for (size_t i = 0; i < json_array_size(conds); i++)
        if (strcmp(jstr(json_array_get(conds, i), "type"), "Ready") == 0)
            ready = json_array_get(conds, i);
    k1s_buf_t status = K1S_BUF_INIT, roles = K1S_BUF_INIT;
    if (!ready)
        k1s_buf_puts(&status, "Unknown");
    else
        k1s_buf_puts(&status, strcmp(jstr(ready, "status"), "True") == 0 ? "Ready" : "NotReady");
    if (jtrue(o, "spec.unschedulable"))
        k1s_buf_puts(&status, ",SchedulingDisabled");

    /* roles: node-role.kubernetes.io/<role> label keys and the kubernetes.io/role label value */
    strv_t rs = {0};
    json_t *labels = (json_t *)jobj(o, "metadata.labels");
    const char *prefix = "node-role.kubernetes.io/";
    for (void *it = labels ? json_object_iter(labels) : NULL; it;
         it = json_object_iter_next(labels, it)) {
        const char *k = json_object_iter_key(it);
        const json_t *v = json_object_iter_value(it);
        if (k1s_str_has_prefix(k, prefix)) {
            if (k[strlen(prefix)])
                strv_add(&rs, k + strlen(prefix));
        } else if (strcmp(k, "kubernetes.io/role") == 0 && json_is_string(v) &&
                   *json_string_value(v)) {
            strv_add(&rs, json_string_value(v));
        }
    }
    strv_sort(&rs, true);
    strv_join(&rs, &roles, ",");
    if (!roles.len)
        k1s_buf_puts(&roles, "<none>");

    const char *os = jstr(o, "status.nodeInfo.osImage");
    const char *kernel = jstr(o, "status.nodeInfo.kernelVersion");
    const char *runtime = jstr(o, "status.nodeInfo.containerRuntimeVersion");
    cell_str(cells, jstr(o, "metadata.name"));
    cell_buf(cells, &status);
    cell_buf(cells, &roles);
    cell_age(cells, o, now);
    cell_str(cells, jstr(o, "status.nodeInfo.kubeletVersion"));
    cell_str(cells, node_address(o, "InternalIP"));
    cell_str(cells, node_address(o, "ExternalIP"));
    cell_str(cells, *os ? os : "<unknown>");
    cell_str(cells, *kernel ? kernel : "<unknown>");
    cell_str(cells, *runtime ? runtime : "<unknown>");
    k1s_buf_free(&status);
    k1s_buf_free(&roles);
    strv_free(&rs);
}

/* Field names of an Event in core/v1 and in events.k8s.io/v1, which upstream serves from one store.
 */
typedef struct event_fields {
    const char *first, *last, *count, *regarding, *message, *source, *controller;
} event_fields_t;

static const event_fields_t core_event = {"firstTimestamp",    "lastTimestamp", "count",
                                          "involvedObject",    "message",       "source",
                                          "reportingComponent"};
static const event_fields_t events_event = {
    "deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount", "regarding", "note",
    "deprecatedSource",         "reportingController"};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void cells_event_with(json_t *cells, const json_t *o, time_t now, const event_fields_t *f)
{
    char first[32], last[32];
    double first_t = jtime(o, f->first), last_t = jtime(o, f->last);
    if (first_t != ZERO_TIME)
        since(first, sizeof(first), first_t, now);
    else
        since(first, sizeof(first), jtime(o, "eventTime"), now);
    if (last_t != ZERO_TIME)
        since(last, sizeof(last), last_t, now);
    else
        snprintf(last, sizeof(last), "%s", first);

    long long count = jint(o, f->count, 0);
    if (jset(o, "series")) {
        since(last, sizeof(last), jtime(o, "series.lastObservedTime"), now);
        count = jint(o, "series.count", 0);
    } else if (count == 0) {
        count = 1; /* singleton events have no count in the new API */
    }

    const json_t *ref = jobj(o, f->regarding);
    char *kind = k1s_xstrdup(jstr(ref, "kind"));
    ascii_lower(kind);
    const char *name = jstr(ref, "name");

    const char *component = jstr(jobj(o, f->source), "component");
    const char *host = jstr(jobj(o, f->source), "host");
    if (!*component)
        component = jstr(o, f->controller);
    if (!*host)
        host = jstr(o, "reportingInstance");

    const char *msg = jstr(o, f->message);
    size_t mlen = strlen(msg);
    while (mlen && is_space(msg[mlen - 1]))
        mlen--;
    while (mlen && is_space(*msg)) {
        msg++;
        mlen--;
    }

    cell_str(cells, last);
    cell_str(cells, jstr(o, "type"));
    cell_str(cells, jstr(o, "reason"));
    if (*name)
        cell_fmt(cells, "%s/%s", kind, name);
    else
        cell_str(cells, kind);
    cell_str(cells, jstr(ref, "fieldPath"));
    if (*host)
        cell_fmt(cells, "%s, %s", component, host);
    else
        cell_str(cells, component);
    cell_fmt(cells, "%.*s", (int)mlen, msg);
    cell_str(cells, first);
    cell_int(cells, count);
    cell_str(cells, jstr(o, "metadata.name"));
    free(kind);
}

static void cells_event(json_t *cells, const json_t *o, time_t now)
{
    cells_event_with(cells, o, now, &core_event);
}

static void cells_events_event(json_t *cells, const json_t *o, time_t now)
{
    cells_event_with(cells, o, now, &events_event);
}

static void cells_namespace(json_t *cells, const json_t *o, time_t now)
{
    const char *phase = jstr(o, "status.phase");
    cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, *phase ? phase : "Active"); /* defaulted */
    cell_age(cells, o, now);
}

static void cells_secret(json_t *cells, const json_t *o, time_t now)
{
    const char *type = jstr(o, "type");
    cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, *type ? type : "Opaque"); /* defaulted */
    cell_int(cells, (long long)jlen(o, "data"));
    cell_age(cells, o, now);
}

static void cells_serviceaccount(json_t *cells, const json_t *o, time_t now)
{
    cell_str(cells, jstr(o, "metadata.name"));
    cell_int(cells, (long long)jlen(o, "secrets"));
    cell_age(cells, o, now);
}

/* helper.GetAccessModesAsString */
static void cell_access_modes(json_t *cells, const json_t *modes)
{
    static const struct {
        const char *mode, *abbrev;
    } known[] = {{"ReadWriteOnce", "RWO"},
                 {"ReadOnlyMany", "ROX"},
                 {"ReadWriteMany", "RWX"},
                 {"ReadWriteOncePod", "RWOP"}};
    k1s_buf_t b = K1S_BUF_INIT;
    for (size_t k = 0; k < K1S_ARRAY_SIZE(known); k++) {
        for (size_t i = 0; i < json_array_size(modes); i++) {
            const json_t *m = json_array_get(modes, i);
            if (json_is_string(m) && strcmp(json_string_value(m), known[k].mode) == 0) {
                bjoin(&b, ",", known[k].abbrev);
                break;
            }
        }
    }
    cell_buf(cells, &b);
    k1s_buf_free(&b);
}

static void cell_quantity(json_t *cells, const json_t *q, const char *unset)
{
    k1s_buf_t b = K1S_BUF_INIT;
    format_quantity(&b, q, unset);
    cell_buf(cells, &b);
    k1s_buf_free(&b);
}

#define BETA_STORAGE_CLASS "volume.beta.kubernetes.io/storage-class"

static void cells_pv(json_t *cells, const json_t *o, time_t now)
{
    const json_t *claim = jobj(o, "spec.claimRef");
    const json_t *cls = jkey(o, "metadata.annotations", BETA_STORAGE_CLASS);
    const json_t *vac = jget(o, "spec.volumeAttributesClassName");
    const char *reclaim = jstr(o, "spec.persistentVolumeReclaimPolicy");
    const char *phase = jstr(o, "status.phase"), *mode = jstr(o, "spec.volumeMode");
    if (jset(o, "metadata.deletionTimestamp"))
        phase = "Terminating";

    cell_str(cells, jstr(o, "metadata.name"));
    cell_quantity(cells, jkey(o, "spec.capacity", "storage"), "0");
    cell_access_modes(cells, jarr(o, "spec.accessModes"));
    cell_str(cells, *reclaim ? reclaim : "Retain"); /* defaulted */
    cell_str(cells, *phase ? phase : "Pending");    /* defaulted */
    if (claim)
        cell_fmt(cells, "%s/%s", jstr(claim, "namespace"), jstr(claim, "name"));
    else
        cell_str(cells, "");
    cell_str(cells,
             json_is_string(cls) ? json_string_value(cls) : jstr(o, "spec.storageClassName"));
    cell_str(cells, json_is_string(vac) ? json_string_value(vac) : "<unset>");
    cell_str(cells, jstr(o, "status.reason"));
    cell_age(cells, o, now);
    cell_str(cells, *mode ? mode : "Filesystem"); /* defaulted */
}

static void cells_pvc(json_t *cells, const json_t *o, time_t now)
{
    const json_t *cls = jkey(o, "metadata.annotations", BETA_STORAGE_CLASS);
    const json_t *vac = jget(o, "spec.volumeAttributesClassName");
    const char *phase = jstr(o, "status.phase"), *mode = jstr(o, "spec.volumeMode");
    const char *volume = jstr(o, "spec.volumeName");
    if (jset(o, "metadata.deletionTimestamp"))
        phase = "Terminating";

    cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, *phase ? phase : "Pending"); /* defaulted */
    cell_str(cells, volume);
    if (*volume) {
        cell_quantity(cells, jkey(o, "status.capacity", "storage"), "0");
        cell_access_modes(cells, jarr(o, "status.accessModes"));
    } else {
        cell_str(cells, "");
        cell_str(cells, "");
    }
    cell_str(cells,
             json_is_string(cls) ? json_string_value(cls) : jstr(o, "spec.storageClassName"));
    cell_str(cells, json_is_string(vac) ? json_string_value(vac) : "<unset>");
    cell_age(cells, o, now);
    cell_str(cells, *mode ? mode : "Filesystem"); /* defaulted */
}

static void cells_deployment(json_t *cells, const json_t *o, time_t now)
{
    k1s_buf_t selector = K1S_BUF_INIT;
    bool valid = format_selector(&selector, jget(o, "spec.selector"));
    cell_str(cells, jstr(o, "metadata.name"));
    cell_fmt(cells, "%lld/%lld", jint(o, "status.readyReplicas", 0), jint(o, "spec.replicas", 1));
    cell_int(cells, jint(o, "status.updatedReplicas", 0));
    cell_int(cells, jint(o, "status.availableReplicas", 0));
    cell_age(cells, o, now);
    cell_containers(cells, jarr(o, "spec.template.spec.containers"));
    cell_str(cells, valid ? bstr(&selector) : "<invalid>");
    k1s_buf_free(&selector);
}

/* One entry of formatHPAMetrics for the metric spec and its status (may be NULL). */
static void hpa_metric(strv_t *list, const json_t *spec, const json_t *st)
{
    const char *type = jstr(spec, "type");
    k1s_buf_t cur = K1S_BUF_INIT, target = K1S_BUF_INIT;
    char *entry;
    if (strcmp(type, "External") == 0 || strcmp(type, "Object") == 0) {
        const char *field = type[0] == 'E' ? "external" : "object";
        const json_t *src = jobj(spec, field), *sst = jobj(st, field);
        if (jset(src, "target.averageValue")) {
            if (sst && jset(sst, "current.averageValue"))
                format_quantity(&cur, jget(sst, "current.averageValue"), "<nil>");
            else
                k1s_buf_puts(&cur, "<unknown>");
            format_quantity(&target, jget(src, "target.averageValue"), "<nil>");
            entry = k1s_xasprintf("%s/%s (avg)", bstr(&cur), bstr(&target));
        } else {
            if (sst)
                format_quantity(&cur, jget(sst, "current.value"), "<nil>");
            else
                k1s_buf_puts(&cur, "<unknown>");
            format_quantity(&target, jget(src, "target.value"), "<nil>");
            entry = k1s_xasprintf("%s/%s", bstr(&cur), bstr(&target));
        }
    } else if (strcmp(type, "Pods") == 0) {
        const json_t *sst = jobj(st, "pods");
        if (sst)
            format_quantity(&cur, jget(sst, "current.averageValue"), "<nil>");
        else
            k1s_buf_puts(&cur, "<unknown>");
        format_quantity(&target, jget(spec, "pods.target.averageValue"), "<nil>");
        entry = k1s_xasprintf("%s/%s", bstr(&cur), bstr(&target));
    } else if (strcmp(type, "Resource") == 0 || strcmp(type, "ContainerResource") == 0) {
        const char *field = type[0] == 'R' ? "resource" : "containerResource";
        const json_t *src = jobj(spec, field), *sst = jobj(st, field);
        if (jset(src, "target.averageValue")) {
            if (sst)
                format_quantity(&cur, jget(sst, "current.averageValue"), "<nil>");
            else
                k1s_buf_puts(&cur, "<unknown>");
            format_quantity(&target, jget(src, "target.averageValue"), "<nil>");
        } else {
            if (sst && json_is_number(jget(sst, "current.averageUtilization")))
                k1s_buf_printf(&cur, "%lld%%", jint(sst, "current.averageUtilization", 0));
            else
                k1s_buf_puts(&cur, "<unknown>");
            if (json_is_number(jget(src, "target.averageUtilization")))
                k1s_buf_printf(&target, "%lld%%", jint(src, "target.averageUtilization", 0));
            else
                k1s_buf_puts(&target, "<auto>");
        }
        entry = k1s_xasprintf("%s: %s/%s", jstr(src, "name"), bstr(&cur), bstr(&target));
    } else {
        entry = k1s_xstrdup("<unknown type>");
    }
    strv_add_owned(list, entry);
    k1s_buf_free(&cur);
    k1s_buf_free(&target);
}

static void cells_hpa(json_t *cells, const json_t *o, time_t now)
{
    const json_t *specs = jarr(o, "spec.metrics"), *statuses = jarr(o, "status.currentMetrics");
    json_t *dflt = NULL;
    if (!json_array_size(specs)) {
        /* autoscaling/v2 defaulting: 80% average CPU utilization */
        dflt = json_pack("[{s:s, s:{s:s, s:{s:s, s:i}}}]", "type", "Resource", "resource", "name",
                         "cpu", "target", "type", "Utilization", "averageUtilization", 80);
        k1s_assert(dflt);
        specs = dflt;
    }
    strv_t list = {0};
    for (size_t i = 0; i < json_array_size(specs); i++)
        hpa_metric(&list, json_array_get(specs, i), json_array_get(statuses, i));
    size_t count = list.n;
    if (list.n > 2)
        list.n = 2;
    k1s_buf_t metrics = K1S_BUF_INIT;
    strv_join(&list, &metrics, ", ");
    if (count > 2)
        k1s_buf_printf(&metrics, " + %zu more...", count - 2);

    cell_str(cells, jstr(o, "metadata.name"));
    cell_fmt(cells, "%s/%s", jstr(o, "spec.scaleTargetRef.kind"),
             jstr(o, "spec.scaleTargetRef.name"));
    cell_buf(cells, &metrics);
    cell_fmt(cells, "%lld", jint(o, "spec.minReplicas", 1)); /* defaulted */
    cell_int(cells, jint(o, "spec.maxReplicas", 0));
    cell_int(cells, jint(o, "status.currentReplicas", 0));
    cell_age(cells, o, now);
    k1s_buf_free(&metrics);
    strv_free(&list);
    json_decref(dflt);
}

static void cells_configmap(json_t *cells, const json_t *o, time_t now)
{
    cell_str(cells, jstr(o, "metadata.name"));
    cell_int(cells, (long long)(jlen(o, "data") + jlen(o, "binaryData")));
    cell_age(cells, o, now);
}

static void cells_networkpolicy(json_t *cells, const json_t *o, time_t now)
{
    cell_str(cells, jstr(o, "metadata.name"));
    cell_label_selector(cells, jget(o, "spec.podSelector"));
    cell_age(cells, o, now);
}

/* Role bindings and cluster role bindings: rbac.SubjectsStrings joined by ", ". */
static void cells_binding(json_t *cells, const json_t *o, time_t now)
{
    k1s_buf_t users = K1S_BUF_INIT, groups = K1S_BUF_INIT, sas = K1S_BUF_INIT;
    const json_t *subjects = jarr(o, "subjects");
    for (size_t i = 0; i < json_array_size(subjects); i++) {
        const json_t *s = json_array_get(subjects, i);
        const char *kind = jstr(s, "kind"), *name = jstr(s, "name");
        if (strcmp(kind, "ServiceAccount") == 0) {
            if (sas.len)
                k1s_buf_puts(&sas, ", ");
            k1s_buf_printf(&sas, "%s/%s", jstr(s, "namespace"), name);
        } else if (strcmp(kind, "User") == 0) {
            bjoin(&users, ", ", name);
        } else if (strcmp(kind, "Group") == 0) {
            bjoin(&groups, ", ", name);
        }
    }
    cell_str(cells, jstr(o, "metadata.name"));
    cell_fmt(cells, "%s/%s", jstr(o, "roleRef.kind"), jstr(o, "roleRef.name"));
    cell_age(cells, o, now);
    cell_buf(cells, &users);
    cell_buf(cells, &groups);
    cell_buf(cells, &sas);
    k1s_buf_free(&users);
    k1s_buf_free(&groups);
    k1s_buf_free(&sas);
}

static void cells_lease(json_t *cells, const json_t *o, time_t now)
{
    cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, jstr(o, "spec.holderIdentity"));
    cell_age(cells, o, now);
}

static void cells_storageclass(json_t *cells, const json_t *o, time_t now)
{
    const json_t *a =
        jkey(o, "metadata.annotations", "storageclass.kubernetes.io/is-default-class");
    const json_t *b =
        jkey(o, "metadata.annotations", "storageclass.beta.kubernetes.io/is-default-class");
    bool is_default = (json_is_string(a) && strcmp(json_string_value(a), "true") == 0) ||
                      (json_is_string(b) && strcmp(json_string_value(b), "true") == 0);
    const char *reclaim = jstr(o, "reclaimPolicy"), *binding = jstr(o, "volumeBindingMode");
    if (is_default)
        cell_fmt(cells, "%s (default)", jstr(o, "metadata.name"));
    else
        cell_str(cells, jstr(o, "metadata.name"));
    cell_str(cells, jstr(o, "provisioner"));
    cell_str(cells, *reclaim ? reclaim : "Delete");
    cell_str(cells, *binding ? binding : "Immediate");
    cell_bool(cells, jtrue(o, "allowVolumeExpansion"));
    cell_age(cells, o, now);
}

static void cells_controllerrevision(json_t *cells, const json_t *o, time_t now)
{
    const json_t *refs = jarr(o, "metadata.ownerReferences"), *ctrl = NULL;
    for (size_t i = 0; i < json_array_size(refs) && !ctrl; i++)
        if (jtrue(json_array_get(refs, i), "controller"))
            ctrl = json_array_get(refs, i);
    cell_str(cells, jstr(o, "metadata.name"));
    if (ctrl) {
        /* formatResourceName(GroupKind, name, true): "statefulset.apps/web" */
        const char *kind = jstr(ctrl, "kind"), *api_version = jstr(ctrl, "apiVersion");
        const char *slash = strchr(api_version, '/');
        size_t glen = slash ? (size_t)(slash - api_version) : 0;
        char *gk;
        if (!*kind && !glen)
            gk = NULL;
        else if (!glen)
            gk = k1s_xstrdup(kind);
        else
            gk = k1s_xasprintf("%s.%.*s", kind, (int)glen, api_version);
        if (gk) {
            ascii_lower(gk);
            cell_fmt(cells, "%s/%s", gk, jstr(ctrl, "name"));
            free(gk);
        } else {
            cell_str(cells, jstr(ctrl, "name"));
        }
    } else {
        cell_str(cells, "<none>");
    }
    cell_int(cells, jint(o, "revision", 0));
    cell_age(cells, o, now);
}

static void cells_resourcequota(json_t *cells, const json_t *o, time_t now)
{
    const json_t *hard = jobj(o, "status.hard");
    strv_t names = {0};
    sorted_keys(&names, hard);
    k1s_buf_t req = K1S_BUF_INIT, lim = K1S_BUF_INIT;
    for (size_t i = 0; i < names.n; i++) {
        k1s_buf_t *w = k1s_str_has_prefix(names.v[i], "limits.") ? &lim : &req;
        k1s_buf_printf(w, "%s: ", names.v[i]);
        format_quantity(w, jkey(o, "status.used", names.v[i]), "0");
        k1s_buf_putc(w, '/');
        format_quantity(w, json_object_get(hard, names.v[i]), "0");
        k1s_buf_puts(w, ", ");
    }
    /* strings.TrimSuffix(s, ", ") */
    if (req.len >= 2)
        req.data[req.len -= 2] = '\0';
    if (lim.len >= 2)
        lim.data[lim.len -= 2] = '\0';
    cell_str(cells, jstr(o, "metadata.name"));
    cell_buf(cells, &req);
    cell_buf(cells, &lim);
    cell_age(cells, o, now);
    k1s_buf_free(&req);
    k1s_buf_free(&lim);
    strv_free(&names);
}

static void cells_priorityclass(json_t *cells, const json_t *o, time_t now)
{
    const char *policy = jstr(o, "preemptionPolicy");
    cell_str(cells, jstr(o, "metadata.name"));
    cell_int(cells, jint(o, "value", 0));
    cell_bool(cells, jtrue(o, "globalDefault"));
    cell_age(cells, o, now);
    cell_str(cells, *policy ? policy : "PreemptLowerPriority"); /* defaulted */
}

/* ---- The printer table ---- */

typedef void (*cells_fn_t)(json_t *cells, const json_t *obj, time_t now);

typedef struct printer {
    const char *group, *plural;
    const col_t *cols;
    size_t ncols;
    cells_fn_t cells;
} printer_t;

#define PRINTER(group, plural, cols, fn)                                                           \
    {                                                                                              \
        group, plural, cols, K1S_ARRAY_SIZE(cols), fn                                              \
    }

static const printer_t printers[] = {
    PRINTER("", "pods", pod_cols, cells_pod),
    PRINTER("", "services", service_cols, cells_service),
    PRINTER("", "endpoints", endpoints_cols, cells_endpoints),
    PRINTER("", "nodes", node_cols, cells_node),
    PRINTER("", "events", event_cols, cells_event),
    PRINTER("", "namespaces", namespace_cols, cells_namespace),
    PRINTER("", "secrets", secret_cols, cells_secret),
    PRINTER("", "serviceaccounts", serviceaccount_cols, cells_serviceaccount),
    PRINTER("", "persistentvolumes", pv_cols, cells_pv),
    PRINTER("", "persistentvolumeclaims", pvc_cols, cells_pvc),
    PRINTER("", "configmaps", configmap_cols, cells_configmap),
    PRINTER("", "resourcequotas", resourcequota_cols, cells_resourcequota),
    PRINTER("apps", "deployments", deployment_cols, cells_deployment),
    PRINTER("apps", "replicasets", replicaset_cols, cells_replicaset),
    PRINTER("apps", "statefulsets", statefulset_cols, cells_statefulset),
    PRINTER("apps", "daemonsets", daemonset_cols, cells_daemonset),
    PRINTER("apps", "controllerrevisions", controllerrevision_cols, cells_controllerrevision),
    PRINTER("batch", "jobs", job_cols, cells_job),
    PRINTER("batch", "cronjobs", cronjob_cols, cells_cronjob),
    PRINTER("networking.k8s.io", "ingresses", ingress_cols, cells_ingress),
    PRINTER("networking.k8s.io", "ingressclasses", ingressclass_cols, cells_ingressclass),
    PRINTER("networking.k8s.io", "networkpolicies", networkpolicy_cols, cells_networkpolicy),
    PRINTER("coordination.k8s.io", "leases", lease_cols, cells_lease),
    PRINTER("discovery.k8s.io", "endpointslices", endpointslice_cols, cells_endpointslice),
    PRINTER("events.k8s.io", "events", event_cols, cells_events_event),
    PRINTER("rbac.authorization.k8s.io", "rolebindings", rolebinding_cols, cells_binding),
    PRINTER("rbac.authorization.k8s.io", "clusterrolebindings", clusterrolebinding_cols,
            cells_binding),
    PRINTER("storage.k8s.io", "storageclasses", storageclass_cols, cells_storageclass),
    PRINTER("policy", "poddisruptionbudgets", pdb_cols, cells_pdb),
    PRINTER("autoscaling", "horizontalpodautoscalers", hpa_cols, cells_hpa),
    PRINTER("scheduling.k8s.io", "priorityclasses", priorityclass_cols, cells_priorityclass),
    /* roles, clusterroles and limitranges have no printer upstream: the default table */
};

static const printer_t default_printer = PRINTER("", "", default_cols, cells_default);

static const printer_t *find_printer(const k1s_resource_t *r)
{
    for (size_t i = 0; r && i < K1S_ARRAY_SIZE(printers); i++)
        if (k1s_streq(printers[i].group, r->group) && k1s_streq(printers[i].plural, r->plural))
            return &printers[i];
    return &default_printer;
}

json_t *k1s_table_columns(const k1s_resource_t *r)
{
    const printer_t *p = find_printer(r);
    json_t *cols = json_array();
    k1s_assert(cols);
    for (size_t i = 0; i < p->ncols; i++) {
        const col_t *c = &p->cols[i];
        json_t *def =
            json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", c->name, "type", c->type, "format",
                      c->format, "description", c->description, "priority", c->priority);
        k1s_assert(def);
        json_array_append_new(cols, def);
    }
    return cols;
}

json_t *k1s_table_cells(const k1s_resource_t *r, const json_t *obj, time_t now)
{
    const printer_t *p = find_printer(r);
    json_t *cells = json_array();
    k1s_assert(cells);
    p->cells(cells, json_is_object(obj) ? obj : NULL, now);
    k1s_assert(json_array_size(cells) == p->ncols);
    return cells;
}

json_t *k1s_table_row_conditions(const k1s_resource_t *r, const json_t *obj)
{
    if (find_printer(r)->cells != cells_pod)
        return NULL;
    const char *phase = jstr(obj, "status.phase");
    const char *msg;
    if (strcmp(phase, "Succeeded") == 0)
        msg = "The pod has completed successfully.";
    else if (strcmp(phase, "Failed") == 0)
        msg = "The pod failed.";
    else
        return NULL;
    json_t *conds = json_pack("[{s:s, s:s, s:s, s:s}]", "type", "Completed", "status", "True",
                              "reason", phase, "message", msg);
    k1s_assert(conds);
    return conds;
}
