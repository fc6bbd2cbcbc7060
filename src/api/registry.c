/*
 * The table of built-in resources. Adding a built-in type is an entry here
 * plus, where Kubernetes has them, defaulting/validation functions
 * (defaults.c, validate.c) and printer columns (table.c). Custom resources
 * (crd.c) are added and withdrawn at run time through k1s_registry_claim;
 * readers see the served set through k1s_registry_all.
 */
#include "api/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define NS true
#define CLUSTER false

static const k1s_resource_t resources[] = {
    /* core/v1 */
    {"",
     "v1",
     "Namespace",
     "namespaces",
     "namespace",
     {"ns"},
     {0},
     CLUSTER,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.core.v1.Namespace",
     {"status.phase"},
     "namespaces"},
    {"",
     "v1",
     "Pod",
     "pods",
     "pod",
     {"po"},
     {"all"},
     NS,
     K1S_SUB_STATUS | K1S_SUB_BINDING | K1S_SUB_EVICTION,
     true,
     "io.k8s.api.core.v1.Pod",
     {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
      "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
     "pods"},
    {"",
     "v1",
     "Service",
     "services",
     "service",
     {"svc"},
     {"all"},
     NS,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.core.v1.Service",
     {"spec.clusterIP", "spec.type"},
     "services"},
    {"",
     "v1",
     "Endpoints",
     "endpoints",
     "endpoints",
     {"ep"},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.core.v1.Endpoints",
     {0},
     "endpoints"},
    {"",
     "v1",
     "ConfigMap",
     "configmaps",
     "configmap",
     {"cm"},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.core.v1.ConfigMap",
     {0},
     "configmaps"},
    {"",
     "v1",
     "Secret",
     "secrets",
     "secret",
     {0},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.core.v1.Secret",
     {"type"},
     "secrets"},
    {"",
     "v1",
     "ServiceAccount",
     "serviceaccounts",
     "serviceaccount",
     {"sa"},
     {0},
     NS,
     K1S_SUB_TOKEN,
     false,
     "io.k8s.api.core.v1.ServiceAccount",
     {0},
     "serviceaccounts"},
    {"",
     "v1",
     "Node",
     "nodes",
     "node",
     {"no"},
     {0},
     CLUSTER,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.core.v1.Node",
     {"spec.unschedulable"},
     "nodes"},
    {"",
     "v1",
     "Event",
     "events",
     "event",
     {"ev"},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.core.v1.Event",
     {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
      "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
      "involvedObject.fieldPath", "reason"},
     "events"},
    {"",
     "v1",
     "PersistentVolume",
     "persistentvolumes",
     "persistentvolume",
     {"pv"},
     {0},
     CLUSTER,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.core.v1.PersistentVolume",
     {0},
     "persistentvolumes"},
    {"",
     "v1",
     "PersistentVolumeClaim",
     "persistentvolumeclaims",
     "persistentvolumeclaim",
     {"pvc"},
     {0},
     NS,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.core.v1.PersistentVolumeClaim",
     {0},
     "persistentvolumeclaims"},
    {"",
     "v1",
     "LimitRange",
     "limitranges",
     "limitrange",
     {"limits"},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.core.v1.LimitRange",
     {0},
     "limitranges"},
    {"",
     "v1",
     "ResourceQuota",
     "resourcequotas",
     "resourcequota",
     {"quota"},
     {0},
     NS,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.core.v1.ResourceQuota",
     {0},
     "resourcequotas"},
    /* apps/v1 */
    {"apps",
     "v1",
     "Deployment",
     "deployments",
     "deployment",
     {"deploy"},
     {"all"},
     NS,
     K1S_SUB_STATUS | K1S_SUB_SCALE,
     true,
     "io.k8s.api.apps.v1.Deployment",
     {0},
     "deployments"},
    {"apps",
     "v1",
     "ReplicaSet",
     "replicasets",
     "replicaset",
     {"rs"},
     {"all"},
     NS,
     K1S_SUB_STATUS | K1S_SUB_SCALE,
     true,
     "io.k8s.api.apps.v1.ReplicaSet",
     {0},
     "replicasets"},
    {"apps",
     "v1",
     "StatefulSet",
     "statefulsets",
     "statefulset",
     {"sts"},
     {"all"},
     NS,
     K1S_SUB_STATUS | K1S_SUB_SCALE,
     true,
     "io.k8s.api.apps.v1.StatefulSet",
     {0},
     "statefulsets"},
    {"apps",
     "v1",
     "DaemonSet",
     "daemonsets",
     "daemonset",
     {"ds"},
     {"all"},
     NS,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.apps.v1.DaemonSet",
     {0},
     "daemonsets"},
    {"apps",
     "v1",
     "ControllerRevision",
     "controllerrevisions",
     "controllerrevision",
     {0},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.apps.v1.ControllerRevision",
     {0},
     "controllerrevisions"},
    /* batch/v1 */
    {"batch",
     "v1",
     "Job",
     "jobs",
     "job",
     {0},
     {"all"},
     NS,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.batch.v1.Job",
     {"status.successful"},
     "jobs"},
    {"batch",
     "v1",
     "CronJob",
     "cronjobs",
     "cronjob",
     {"cj"},
     {"all"},
     NS,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.batch.v1.CronJob",
     {0},
     "cronjobs"},
    /* networking.k8s.io/v1 */
    {"networking.k8s.io",
     "v1",
     "Ingress",
     "ingresses",
     "ingress",
     {"ing"},
     {0},
     NS,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.networking.v1.Ingress",
     {0},
     "ingresses"},
    {"networking.k8s.io",
     "v1",
     "IngressClass",
     "ingressclasses",
     "ingressclass",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.networking.v1.IngressClass",
     {0},
     "ingressclasses"},
    {"networking.k8s.io",
     "v1",
     "NetworkPolicy",
     "networkpolicies",
     "networkpolicy",
     {"netpol"},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.networking.v1.NetworkPolicy",
     {0},
     "networkpolicies"},
    /* coordination.k8s.io/v1 */
    {"coordination.k8s.io",
     "v1",
     "Lease",
     "leases",
     "lease",
     {0},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.coordination.v1.Lease",
     {0},
     "leases"},
    /* discovery.k8s.io/v1 */
    {"discovery.k8s.io",
     "v1",
     "EndpointSlice",
     "endpointslices",
     "endpointslice",
     {0},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.discovery.v1.EndpointSlice",
     {0},
     "endpointslices"},
    /* events.k8s.io/v1: the same objects as core events in another shape (convert.c) */
    {"events.k8s.io",
     "v1",
     "Event",
     "events",
     "event",
     {"ev"},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.events.v1.Event",
     {0},
     "events"},
    /* rbac.authorization.k8s.io/v1 */
    {"rbac.authorization.k8s.io",
     "v1",
     "ClusterRoleBinding",
     "clusterrolebindings",
     "clusterrolebinding",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.rbac.v1.ClusterRoleBinding",
     {0},
     "clusterrolebindings"},
    {"rbac.authorization.k8s.io",
     "v1",
     "ClusterRole",
     "clusterroles",
     "clusterrole",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.rbac.v1.ClusterRole",
     {0},
     "clusterroles"},
    {"rbac.authorization.k8s.io",
     "v1",
     "RoleBinding",
     "rolebindings",
     "rolebinding",
     {0},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.rbac.v1.RoleBinding",
     {0},
     "rolebindings"},
    {"rbac.authorization.k8s.io",
     "v1",
     "Role",
     "roles",
     "role",
     {0},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.rbac.v1.Role",
     {0},
     "roles"},
    /* storage.k8s.io/v1 */
    {"storage.k8s.io",
     "v1",
     "StorageClass",
     "storageclasses",
     "storageclass",
     {"sc"},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.storage.v1.StorageClass",
     {0},
     "storageclasses"},
    {"storage.k8s.io",
     "v1",
     "CSINode",
     "csinodes",
     "csinode",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.storage.v1.CSINode",
     {0},
     "csinodes"},
    /* policy/v1 */
    {"policy",
     "v1",
     "PodDisruptionBudget",
     "poddisruptionbudgets",
     "poddisruptionbudget",
     {"pdb"},
     {0},
     NS,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.policy.v1.PodDisruptionBudget",
     {0},
     "poddisruptionbudgets"},
    /* autoscaling/v2 */
    {"autoscaling",
     "v2",
     "HorizontalPodAutoscaler",
     "horizontalpodautoscalers",
     "horizontalpodautoscaler",
     {"hpa"},
     {"all"},
     NS,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
     {0},
     "horizontalpodautoscalers"},
    /* autoscaling/v1: the same objects in the older shape (convert.c) */
    {"autoscaling",
     "v1",
     "HorizontalPodAutoscaler",
     "horizontalpodautoscalers",
     "horizontalpodautoscaler",
     {"hpa"},
     {"all"},
     NS,
     K1S_SUB_STATUS,
     true,
     "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
     {0},
     "horizontalpodautoscalers"},
    /* certificates.k8s.io/v1 (signing: csr.c) */
    {"certificates.k8s.io",
     "v1",
     "CertificateSigningRequest",
     "certificatesigningrequests",
     "certificatesigningrequest",
     {"csr"},
     {0},
     CLUSTER,
     K1S_SUB_STATUS | K1S_SUB_APPROVAL,
     true,
     "io.k8s.api.certificates.v1.CertificateSigningRequest",
     {"spec.signerName"},
     "certificatesigningrequests"},
    /* apiextensions.k8s.io/v1 (the resources they define are added at run time, crd.c) */
    {"apiextensions.k8s.io",
     "v1",
     "CustomResourceDefinition",
     "customresourcedefinitions",
     "customresourcedefinition",
     {"crd", "crds"},
     {"api-extensions"},
     CLUSTER,
     K1S_SUB_STATUS,
     true,
     "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
     {0},
     "customresourcedefinitions"},
    /* scheduling.k8s.io/v1 */
    {"scheduling.k8s.io",
     "v1",
     "PriorityClass",
     "priorityclasses",
     "priorityclass",
     {"pc"},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.scheduling.v1.PriorityClass",
     {0},
     "priorityclasses"},
    /* authorization.k8s.io and authentication.k8s.io: reviews, create-only (review.c) */
    {"authorization.k8s.io",
     "v1",
     "SelfSubjectAccessReview",
     "selfsubjectaccessreviews",
     "selfsubjectaccessreview",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.authorization.v1.SelfSubjectAccessReview",
     {0},
     "selfsubjectaccessreviews",
     true},
    {"authorization.k8s.io",
     "v1",
     "SubjectAccessReview",
     "subjectaccessreviews",
     "subjectaccessreview",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.authorization.v1.SubjectAccessReview",
     {0},
     "subjectaccessreviews",
     true},
    {"authorization.k8s.io",
     "v1",
     "LocalSubjectAccessReview",
     "localsubjectaccessreviews",
     "localsubjectaccessreview",
     {0},
     {0},
     NS,
     0,
     false,
     "io.k8s.api.authorization.v1.LocalSubjectAccessReview",
     {0},
     "localsubjectaccessreviews",
     true},
    {"authorization.k8s.io",
     "v1",
     "SelfSubjectRulesReview",
     "selfsubjectrulesreviews",
     "selfsubjectrulesreview",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.authorization.v1.SelfSubjectRulesReview",
     {0},
     "selfsubjectrulesreviews",
     true},
    {"authentication.k8s.io",
     "v1",
     "SelfSubjectReview",
     "selfsubjectreviews",
     "selfsubjectreview",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.authentication.v1.SelfSubjectReview",
     {0},
     "selfsubjectreviews",
     true},
    {"authentication.k8s.io",
     "v1",
     "TokenReview",
     "tokenreviews",
     "tokenreview",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.authentication.v1.TokenReview",
     {0},
     "tokenreviews",
     true},
    {"authentication.k8s.io",
     "v1beta1",
     "SelfSubjectReview",
     "selfsubjectreviews",
     "selfsubjectreview",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.authentication.v1beta1.SelfSubjectReview",
     {0},
     "selfsubjectreviews",
     true},
    {"authentication.k8s.io",
     "v1alpha1",
     "SelfSubjectReview",
     "selfsubjectreviews",
     "selfsubjectreview",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.api.authentication.v1alpha1.SelfSubjectReview",
     {0},
     "selfsubjectreviews",
     true},
    /* admissionregistration.k8s.io/v1 (webhook.c calls them) */
    {"admissionregistration.k8s.io",
     "v1",
     "MutatingWebhookConfiguration",
     "mutatingwebhookconfigurations",
     "mutatingwebhookconfiguration",
     {0},
     {"api-extensions"},
     CLUSTER,
     0,
     false,
     "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
     {0},
     "mutatingwebhookconfigurations"},
    {"admissionregistration.k8s.io",
     "v1",
     "ValidatingWebhookConfiguration",
     "validatingwebhookconfigurations",
     "validatingwebhookconfiguration",
     {0},
     {"api-extensions"},
     CLUSTER,
     0,
     false,
     "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
     {0},
     "validatingwebhookconfigurations"},
    /* metrics.k8s.io/v1beta1: metrics-server's API, served from the kubelets (metrics.c) */
    {"metrics.k8s.io",
     "v1beta1",
     "NodeMetrics",
     "nodes",
     "",
     {0},
     {0},
     CLUSTER,
     0,
     false,
     "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics",
     {0},
     "metrics.k8s.io-nodes",
     false,
     NULL,
     true},
    {"metrics.k8s.io",
     "v1beta1",
     "PodMetrics",
     "pods",
     "",
     {0},
     {0},
     NS,
     0,
     false,
     "io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics",
     {0},
     "metrics.k8s.io-pods",
     false,
     NULL,
     true},
};

static const k1s_group_version_t group_versions[] = {
    {"", "v1"},
    {"apps", "v1"},
    {"events.k8s.io", "v1"},
    {"autoscaling", "v2"},
    {"autoscaling", "v1"},
    {"batch", "v1"},
    {"networking.k8s.io", "v1"},
    {"policy", "v1"},
    {"rbac.authorization.k8s.io", "v1"},
    {"storage.k8s.io", "v1"},
    {"coordination.k8s.io", "v1"},
    {"discovery.k8s.io", "v1"},
    {"scheduling.k8s.io", "v1"},
    {"authentication.k8s.io", "v1"},
    {"authentication.k8s.io", "v1beta1"},
    {"authentication.k8s.io", "v1alpha1"},
    {"authorization.k8s.io", "v1"},
    {"certificates.k8s.io", "v1"},
    {"admissionregistration.k8s.io", "v1"},
    {"apiextensions.k8s.io", "v1"},
    {"metrics.k8s.io", "v1beta1"},
};

/* Run-time entries (custom resources): heap-allocated, never freed. */
typedef struct dyn_entry {
    k1s_resource_t res; /* first: entries are handed out as k1s_resource_t * */
    bool served;
    unsigned long order; /* claim order, for a stable discovery order */
} dyn_entry_t;

static dyn_entry_t **dyn;
static size_t ndyn;
static unsigned long claims;

/* The published view: served resources and their group/versions. */
static const k1s_resource_t **served;
static size_t nserved;
static k1s_group_version_t *gvs;
static size_t ngvs;
static unsigned long generation;

/* Kubernetes' version priority: GA before beta before alpha, higher numbers first, then other
 * strings alphabetically (apimachinery's version.CompareKubeAwareVersionStrings). */
static int version_rank(const char *v, long *major, long *minor)
{
    char *end;
    *major = *minor = 0;
    if (v[0] != 'v' || v[1] < '1' || v[1] > '9')
        return 3;
    *major = strtol(v + 1, &end, 10);
    if (!*end)
        return 0;
    int rank = !strncmp(end, "beta", 4) ? 1 : !strncmp(end, "alpha", 5) ? 2 : 3;
    if (rank == 3)
        return 3;
    const char *num = end + (rank == 1 ? 4 : 5);
    if (*num < '1' || *num > '9')
        return 3;
    *minor = strtol(num, &end, 10);
    return *end ? 3 : rank;
}

int k1s_registry_version_cmp(const char *a, const char *b)
{
    long amaj, amin, bmaj, bmin;
    int ra = version_rank(a, &amaj, &amin), rb = version_rank(b, &bmaj, &bmin);
    if (ra != rb)
        return ra - rb;
    if (ra == 3)
        return strcmp(a, b);
    if (amaj != bmaj)
        return amaj > bmaj ? -1 : 1;
    if (amin != bmin)
        return amin > bmin ? -1 : 1;
    return 0;
}

static int dyn_cmp(const void *a, const void *b)
{
    const dyn_entry_t *x = *(dyn_entry_t *const *)a, *y = *(dyn_entry_t *const *)b;
    int c = strcmp(x->res.group, y->res.group);
    if (c)
        return c;
    c = k1s_registry_version_cmp(x->res.version, y->res.version);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void add_gv(const char *group, const char *version)
{
    for (size_t i = 0; i < ngvs; i++)
        if (!strcmp(gvs[i].group, group) && !strcmp(gvs[i].version, version))
            return;
    gvs = k1s_xrealloc(gvs, (ngvs + 1) * sizeof(*gvs));
    gvs[ngvs++] = (k1s_group_version_t){group, version};
}

void k1s_registry_update(void)
{
    size_t nb = K1S_ARRAY_SIZE(resources);
    size_t old_n = served ? nserved : 0;
    const k1s_resource_t **old = k1s_xcalloc(old_n + 1, sizeof(*old));
    if (old_n)
        memcpy(old, served, old_n * sizeof(*old));
    served = k1s_xrealloc(served, (nb + ndyn + 1) * sizeof(*served));
    nserved = 0;
    for (size_t i = 0; i < nb; i++)
        served[nserved++] = &resources[i];
    dyn_entry_t **sorted = k1s_xcalloc(ndyn + 1, sizeof(*sorted));
    size_t ns = 0;
    for (size_t i = 0; i < ndyn; i++)
        if (dyn[i]->served)
            sorted[ns++] = dyn[i];
    if (ns > 1)
        qsort(sorted, ns, sizeof(*sorted), dyn_cmp);
    for (size_t i = 0; i < ns; i++)
        served[nserved++] = &sorted[i]->res;
    ngvs = 0;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(group_versions); i++)
        add_gv(group_versions[i].group, group_versions[i].version);
    for (size_t i = 0; i < ns; i++)
        add_gv(sorted[i]->res.group, sorted[i]->res.version);
    free(sorted);
    /* readers cache on the generation: bump it only when the served set changed */
    if (old_n != nserved || memcmp(old, served, nserved * sizeof(*old)) || !generation)
        generation++;
    free(old);
}

static void ensure_published(void)
{
    if (!served)
        k1s_registry_update();
}

unsigned long k1s_registry_generation(void)
{
    ensure_published();
    return generation;
}

k1s_resource_t *k1s_registry_claim(const char *storage_name, const char *version)
{
    for (size_t i = 0; i < ndyn; i++)
        if (!strcmp(dyn[i]->res.storage_name, storage_name) &&
            !strcmp(dyn[i]->res.version, version))
            return &dyn[i]->res;
    dyn_entry_t *e = k1s_xcalloc(1, sizeof(*e));
    e->res.storage_name = k1s_xstrdup(storage_name);
    e->res.version = k1s_xstrdup(version);
    e->res.group = e->res.kind = e->res.plural = e->res.singular = "";
    e->order = claims++;
    dyn = k1s_xrealloc(dyn, (ndyn + 1) * sizeof(*dyn));
    dyn[ndyn++] = e;
    return &e->res;
}

static dyn_entry_t *dyn_of(const k1s_resource_t *r)
{
    for (size_t i = 0; i < ndyn; i++)
        if (&dyn[i]->res == r)
            return dyn[i];
    return NULL;
}

void k1s_registry_set_served(k1s_resource_t *r, bool on)
{
    dyn_entry_t *e = dyn_of(r);
    k1s_assert(e); /* only claimed entries */
    if (e)
        e->served = on;
}

bool k1s_registry_is_served(const k1s_resource_t *r)
{
    dyn_entry_t *e = dyn_of(r);
    return e ? e->served : r >= resources && r < resources + K1S_ARRAY_SIZE(resources);
}

const k1s_resource_t *const *k1s_registry_all(size_t *n)
{
    ensure_published();
    *n = nserved;
    return served;
}

const k1s_group_version_t *k1s_registry_group_versions(size_t *n)
{
    ensure_published();
    *n = ngvs;
    return gvs;
}

const k1s_resource_t *k1s_registry_find(const char *group, const char *version, const char *plural)
{
    ensure_published();
    for (size_t i = 0; i < nserved; i++) {
        const k1s_resource_t *r = served[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0 &&
            strcmp(r->plural, plural) == 0)
            return r;
    }
    return NULL;
}

const k1s_resource_t *k1s_registry_find_kind(const char *group, const char *kind)
{
    ensure_published();
    for (size_t i = 0; i < nserved; i++) {
        const k1s_resource_t *r = served[i];
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
