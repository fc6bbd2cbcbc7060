/*
 * The table of built-in resources. Adding a built-in type is an entry here
 * plus, where Kubernetes has them, defaulting/validation functions
 * (defaults.c, validate.c) and printer columns (table.c).
 */
#include "api/registry.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"

#define NS true
#define CLUSTER false

static const k1s_resource_t resources[] = {
    /* core/v1 */
    {"", "v1", "Namespace", "namespaces", "namespace", {"ns"}, {0}, CLUSTER, K1S_SUB_STATUS, true,
     "io.k8s.api.core.v1.Namespace", {"status.phase"}, "namespaces"},
    {"", "v1", "Pod", "pods", "pod", {"po"}, {"all"}, NS, K1S_SUB_STATUS | K1S_SUB_BINDING | K1S_SUB_EVICTION,
     true, "io.k8s.api.core.v1.Pod",
     {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
      "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
     "pods"},
    {"", "v1", "Service", "services", "service", {"svc"}, {"all"}, NS, K1S_SUB_STATUS, true,
     "io.k8s.api.core.v1.Service", {"spec.clusterIP", "spec.type"}, "services"},
    {"", "v1", "Endpoints", "endpoints", "endpoints", {"ep"}, {0}, NS, 0, false,
     "io.k8s.api.core.v1.Endpoints", {0}, "endpoints"},
    {"", "v1", "ConfigMap", "configmaps", "configmap", {"cm"}, {0}, NS, 0, false,
     "io.k8s.api.core.v1.ConfigMap", {0}, "configmaps"},
    {"", "v1", "Secret", "secrets", "secret", {0}, {0}, NS, 0, false, "io.k8s.api.core.v1.Secret",
     {"type"}, "secrets"},
    {"", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", {"sa"}, {0}, NS, 0, false,
     "io.k8s.api.core.v1.ServiceAccount", {0}, "serviceaccounts"},
    {"", "v1", "Node", "nodes", "node", {"no"}, {0}, CLUSTER, K1S_SUB_STATUS, true,
     "io.k8s.api.core.v1.Node", {"spec.unschedulable"}, "nodes"},
    {"", "v1", "Event", "events", "event", {"ev"}, {0}, NS, 0, false, "io.k8s.api.core.v1.Event",
     {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
      "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
      "involvedObject.fieldPath", "reason"},
     "events"},
    {"", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", {"pv"}, {0}, CLUSTER,
     K1S_SUB_STATUS, true, "io.k8s.api.core.v1.PersistentVolume", {0}, "persistentvolumes"},
    {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", {"pvc"},
     {0}, NS, K1S_SUB_STATUS, true, "io.k8s.api.core.v1.PersistentVolumeClaim", {0},
     "persistentvolumeclaims"},
    {"", "v1", "LimitRange", "limitranges", "limitrange", {"limits"}, {0}, NS, 0, false,
     "io.k8s.api.core.v1.LimitRange", {0}, "limitranges"},
    {"", "v1", "ResourceQuota", "resourcequotas", "resourcequota", {"quota"}, {0}, NS,
     K1S_SUB_STATUS, true, "io.k8s.api.core.v1.ResourceQuota", {0}, "resourcequotas"},
    /* apps/v1 */
    {"apps", "v1", "Deployment", "deployments", "deployment", {"deploy"}, {"all"}, NS,
     K1S_SUB_STATUS | K1S_SUB_SCALE, true, "io.k8s.api.apps.v1.Deployment", {0}, "deployments"},
    {"apps", "v1", "ReplicaSet", "replicasets", "replicaset", {"rs"}, {"all"}, NS,
     K1S_SUB_STATUS | K1S_SUB_SCALE, true, "io.k8s.api.apps.v1.ReplicaSet", {0}, "replicasets"},
    {"apps", "v1", "StatefulSet", "statefulsets", "statefulset", {"sts"}, {"all"}, NS,
     K1S_SUB_STATUS | K1S_SUB_SCALE, true, "io.k8s.api.apps.v1.StatefulSet", {0}, "statefulsets"},
    {"apps", "v1", "DaemonSet", "daemonsets", "daemonset", {"ds"}, {"all"}, NS, K1S_SUB_STATUS,
     true, "io.k8s.api.apps.v1.DaemonSet", {0}, "daemonsets"},
    {"apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", {0}, {0}, NS,
     0, false, "io.k8s.api.apps.v1.ControllerRevision", {0}, "controllerrevisions"},
    /* batch/v1 */
    {"batch", "v1", "Job", "jobs", "job", {0}, {"all"}, NS, K1S_SUB_STATUS, true,
     "io.k8s.api.batch.v1.Job", {"status.successful"}, "jobs"},
    {"batch", "v1", "CronJob", "cronjobs", "cronjob", {"cj"}, {"all"}, NS, K1S_SUB_STATUS, true,
     "io.k8s.api.batch.v1.CronJob", {0}, "cronjobs"},
    /* networking.k8s.io/v1 */
    {"networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", {"ing"}, {0}, NS,
     K1S_SUB_STATUS, true, "io.k8s.api.networking.v1.Ingress", {0}, "ingresses"},
    {"networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", {0}, {0},
     CLUSTER, 0, false, "io.k8s.api.networking.v1.IngressClass", {0}, "ingressclasses"},
    {"networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", {"netpol"},
     {0}, NS, 0, false, "io.k8s.api.networking.v1.NetworkPolicy", {0}, "networkpolicies"},
    /* coordination.k8s.io/v1 */
    {"coordination.k8s.io", "v1", "Lease", "leases", "lease", {0}, {0}, NS, 0, false,
     "io.k8s.api.coordination.v1.Lease", {0}, "leases"},
    /* discovery.k8s.io/v1 */
    {"discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", {0}, {0}, NS, 0,
     false, "io.k8s.api.discovery.v1.EndpointSlice", {0}, "endpointslices"},
    /* events.k8s.io/v1: the same objects as core events in another shape (convert.c) */
    {"events.k8s.io", "v1", "Event", "events", "event", {"ev"}, {0}, NS, 0, false,
     "io.k8s.api.events.v1.Event", {0}, "events"},
    /* rbac.authorization.k8s.io/v1 */
    {"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
     "clusterrolebinding", {0}, {0}, CLUSTER, 0, false, "io.k8s.api.rbac.v1.ClusterRoleBinding",
     {0}, "clusterrolebindings"},
    {"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", {0}, {0},
     CLUSTER, 0, false, "io.k8s.api.rbac.v1.ClusterRole", {0}, "clusterroles"},
    {"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", {0}, {0}, NS,
     0, false, "io.k8s.api.rbac.v1.RoleBinding", {0}, "rolebindings"},
    {"rbac.authorization.k8s.io", "v1", "Role", "roles", "role", {0}, {0}, NS, 0, false,
     "io.k8s.api.rbac.v1.Role", {0}, "roles"},
    /* storage.k8s.io/v1 */
    {"storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", {"sc"}, {0},
     CLUSTER, 0, false, "io.k8s.api.storage.v1.StorageClass", {0}, "storageclasses"},
    /* policy/v1 */
    {"policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", {"pdb"},
     {0}, NS, K1S_SUB_STATUS, true, "io.k8s.api.policy.v1.PodDisruptionBudget", {0},
     "poddisruptionbudgets"},
    /* autoscaling/v2 */
    {"autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
     "horizontalpodautoscaler", {"hpa"}, {"all"}, NS, K1S_SUB_STATUS, true,
     "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", {0}, "horizontalpodautoscalers"},
    /* scheduling.k8s.io/v1 */
    {"scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", {"pc"}, {0},
     CLUSTER, 0, false, "io.k8s.api.scheduling.v1.PriorityClass", {0}, "priorityclasses"},
};

static const k1s_group_version_t group_versions[] = {
    {"", "v1"},
    {"apps", "v1"},
    {"events.k8s.io", "v1"},
    {"autoscaling", "v2"},
    {"batch", "v1"},
    {"networking.k8s.io", "v1"},
    {"policy", "v1"},
    {"rbac.authorization.k8s.io", "v1"},
    {"storage.k8s.io", "v1"},
    {"coordination.k8s.io", "v1"},
    {"discovery.k8s.io", "v1"},
    {"scheduling.k8s.io", "v1"},
};

const k1s_resource_t *k1s_registry_all(size_t *n)
{
    *n = K1S_ARRAY_SIZE(resources);
    return resources;
}

const k1s_group_version_t *k1s_registry_group_versions(size_t *n)
{
    *n = K1S_ARRAY_SIZE(group_versions);
    return group_versions;
}

const k1s_resource_t *k1s_registry_find(const char *group, const char *version, const char *plural)
{
    for (size_t i = 0; i < K1S_ARRAY_SIZE(resources); i++) {
        const k1s_resource_t *r = &resources[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0 &&
            strcmp(r->plural, plural) == 0)
            return r;
    }
    return NULL;
}

const k1s_resource_t *k1s_registry_find_kind(const char *group, const char *kind)
{
    for (size_t i = 0; i < K1S_ARRAY_SIZE(resources); i++) {
        const k1s_resource_t *r = &resources[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->kind, kind) == 0)
            return r;
    }
    return NULL;
}

const char *k1s_resource_api_version(const k1s_resource_t *r, char *buf, size_t len)
{
    if (r->group[0])
        snprintf(buf, len, "%s/%s", r->group, r->version);
    else
        snprintf(buf, len, "%s", r->version);
    return buf;
}
