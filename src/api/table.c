/*
 * Server-side Table output; see table.h.
 *
 * This is a C transcription of kube-apiserver 1.32's printers
 * (pkg/printers/internalversion/printers.go): one column table and one cell
 * function per resource, found by group and plural. Column descriptions are
 * the 1.32 API field docs (the SwaggerDoc strings the printers reference),
 * kept verbatim so a Table from k1s is byte-for-byte what a real cluster sends.
 *
 * This file holds the column descriptions, the column tables and the printer
 * table that ties each resource to its columns and cell function; the cell
 * functions are in table-cells.c and the formatting helpers they share
 * (times and ages, labels, selectors, quantities) in table-format.c.
 */
#include "api/table.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/crd.h"
#include "api/table-int.h"
#include "lib/buf.h"
#include "lib/util.h"

/* ---- Column descriptions (k8s.io/api v0.32 SwaggerDoc, verbatim) ---- */

const char k1s_table_desc_name[] =
    "Name must be unique within a namespace. Is required when creating resources, "
    "although some resources may allow a client to request the generation of an "
    "appropriate name automatically. Name is primarily intended for creation idempotence "
    "and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
#define D_NAME k1s_table_desc_name
#define D_CREATED k1s_table_desc_created
const char k1s_table_desc_created[] =
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

static const col_t csinode_cols[] = {
    COL_NAME,
    {"Drivers", "integer", "", "Drivers indicates the number of CSI drivers registered on the node",
     0},
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

static const col_t webhookconfig_cols[] = {
    COL_NAME,
    {"Webhooks", "integer", "", "Webhooks indicates the number of webhooks in this configuration.",
     0},
    COL_AGE,
};

static const col_t endpointslice_cols[] = {
    COL_NAME,
    {"AddressType", "string", "", D_ES_ADDRESS_TYPE, 0},
    {"Ports", "string", "", D_ES_PORTS, 0},
    {"Endpoints", "string", "", D_ES_ENDPOINTS, 0},
    COL_AGE,
};

static const col_t csr_cols[] = {
    COL_NAME,
    COL_AGE,
    {"SignerName", "string", "",
     "signerName indicates the requested signer, and is a qualified name.", 0},
    {"Requestor", "string", "", "Name of the user who requested the CSR", 0},
    {"RequestedDuration", "string", "",
     "expirationSeconds is the requested duration of validity of the issued certificate.", 0},
    {"Condition", "string", "", "Current approval or denial status of the CSR", 0},
};

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
    PRINTER("", "pods", pod_cols, k1s_t_cells_pod),
    PRINTER("", "services", service_cols, k1s_t_cells_service),
    PRINTER("", "endpoints", endpoints_cols, k1s_t_cells_endpoints),
    PRINTER("", "nodes", node_cols, k1s_t_cells_node),
    PRINTER("", "events", event_cols, k1s_t_cells_event),
    PRINTER("", "namespaces", namespace_cols, k1s_t_cells_namespace),
    PRINTER("", "secrets", secret_cols, k1s_t_cells_secret),
    PRINTER("", "serviceaccounts", serviceaccount_cols, k1s_t_cells_serviceaccount),
    PRINTER("", "persistentvolumes", pv_cols, k1s_t_cells_pv),
    PRINTER("", "persistentvolumeclaims", pvc_cols, k1s_t_cells_pvc),
    PRINTER("", "configmaps", configmap_cols, k1s_t_cells_configmap),
    PRINTER("", "resourcequotas", resourcequota_cols, k1s_t_cells_resourcequota),
    PRINTER("apps", "deployments", deployment_cols, k1s_t_cells_deployment),
    PRINTER("apps", "replicasets", replicaset_cols, k1s_t_cells_replicaset),
    PRINTER("apps", "statefulsets", statefulset_cols, k1s_t_cells_statefulset),
    PRINTER("apps", "daemonsets", daemonset_cols, k1s_t_cells_daemonset),
    PRINTER("apps", "controllerrevisions", controllerrevision_cols, k1s_t_cells_controllerrevision),
    PRINTER("batch", "jobs", job_cols, k1s_t_cells_job),
    PRINTER("batch", "cronjobs", cronjob_cols, k1s_t_cells_cronjob),
    PRINTER("networking.k8s.io", "ingresses", ingress_cols, k1s_t_cells_ingress),
    PRINTER("networking.k8s.io", "ingressclasses", ingressclass_cols, k1s_t_cells_ingressclass),
    PRINTER("networking.k8s.io", "networkpolicies", networkpolicy_cols, k1s_t_cells_networkpolicy),
    PRINTER("coordination.k8s.io", "leases", lease_cols, k1s_t_cells_lease),
    PRINTER("discovery.k8s.io", "endpointslices", endpointslice_cols, k1s_t_cells_endpointslice),
    PRINTER("events.k8s.io", "events", event_cols, k1s_t_cells_events_event),
    PRINTER("rbac.authorization.k8s.io", "rolebindings", rolebinding_cols, k1s_t_cells_binding),
    PRINTER("rbac.authorization.k8s.io", "clusterrolebindings", clusterrolebinding_cols,
            k1s_t_cells_binding),
    PRINTER("storage.k8s.io", "storageclasses", storageclass_cols, k1s_t_cells_storageclass),
    PRINTER("storage.k8s.io", "csinodes", csinode_cols, k1s_t_cells_csinode),
    PRINTER("policy", "poddisruptionbudgets", pdb_cols, k1s_t_cells_pdb),
    PRINTER("autoscaling", "horizontalpodautoscalers", hpa_cols, k1s_t_cells_hpa),
    PRINTER("scheduling.k8s.io", "priorityclasses", priorityclass_cols, k1s_t_cells_priorityclass),
    PRINTER("certificates.k8s.io", "certificatesigningrequests", csr_cols, k1s_t_cells_csr),
    PRINTER("admissionregistration.k8s.io", "mutatingwebhookconfigurations", webhookconfig_cols,
            k1s_t_cells_webhookconfig),
    PRINTER("admissionregistration.k8s.io", "validatingwebhookconfigurations", webhookconfig_cols,
            k1s_t_cells_webhookconfig),
    /* roles, clusterroles and limitranges have no printer upstream: the default table */
};

static const printer_t default_printer = PRINTER("", "", default_cols, k1s_t_cells_default);

static const printer_t *find_printer(const k1s_resource_t *r)
{
    for (size_t i = 0; r && i < K1S_ARRAY_SIZE(printers); i++)
        if (k1s_streq(printers[i].group, r->group) && k1s_streq(printers[i].plural, r->plural))
            return &printers[i];
    return &default_printer;
}

json_t *k1s_table_columns(const k1s_resource_t *r)
{
    if (r && r->crd)
        return k1s_cr_table_columns(r);
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
    if (r && r->crd)
        return k1s_cr_table_cells(r, obj, now);
    const printer_t *p = find_printer(r);
    json_t *cells = json_array();
    k1s_assert(cells);
    p->cells(cells, json_is_object(obj) ? obj : NULL, now);
    k1s_assert(json_array_size(cells) == p->ncols);
    return cells;
}

json_t *k1s_table_row_conditions(const k1s_resource_t *r, const json_t *obj)
{
    if (find_printer(r)->cells != k1s_t_cells_pod)
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
