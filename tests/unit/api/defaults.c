/*
 * Unit tests for src/api/defaults.c: every default Kubernetes v1.32 applies
 * to the kinds k1s serves, compared field by field with what kube-apiserver
 * stores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/defaults.h"
#include "api/registry.h"
#include "api/validate.h"
#include "lib/util.h"

static json_t *load(const char *js)
{
    json_error_t e;
    json_t *o = json_loads(js, 0, &e);
    if (!o)
        fail_msg("bad JSON in test: %s: %s", e.text, js);
    return o;
}

static json_t *defaulted(const char *group, const char *kind, const char *js)
{
    const k1s_resource_t *r = k1s_registry_find_kind(group, kind);
    assert_non_null(r);
    json_t *o = load(js);
    k1s_defaults_apply(r, o);
    return o;
}

/* The value at a dotted path; "[n]" steps into arrays. NULL if absent. */
static json_t *at(json_t *o, const char *path)
{
    char *p = k1s_xstrdup(path), *save = NULL;
    for (char *t = strtok_r(p, ".", &save); t && o; t = strtok_r(NULL, ".", &save)) {
        char *br = strchr(t, '[');
        if (br)
            *br = 0;
        if (*t)
            o = json_object_get(o, t);
        while (br && o) {
            o = json_array_get(o, strtoul(br + 1, NULL, 10));
            br = strchr(br + 1, '[');
        }
    }
    free(p);
    return o;
}

/* Asserts that the value at path, as compact JSON, is want ("<absent>" for none). */
static void is(json_t *o, const char *path, const char *want)
{
    json_t *v = at(o, path);
    char *got = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS)
                  : k1s_xstrdup("<absent>");
    if (strcmp(got, want) != 0) {
        char *whole = json_dumps(o, JSON_COMPACT);
        fail_msg("%s: want %s, got %s in %s", path, want, got, whole);
    }
    free(got);
}

#define CTR "{\"name\":\"c\",\"image\":\"nginx\"}"

static void test_pod(void **state)
{
    json_t *p = defaulted(
        "", "Pod",
        "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":"
        "\"nginx:1.25\","
        "\"ports\":[{\"containerPort\":80}],\"resources\":{\"limits\":{\"cpu\":\"0.5\",\"memory\":"
        "\"1024Mi\"}},"
        "\"env\":[{\"name\":\"N\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}],"
        "\"livenessProbe\":{\"httpGet\":{\"port\":80}},\"readinessProbe\":{\"grpc\":{\"port\":9}},"
        "\"lifecycle\":{\"preStop\":{\"httpGet\":{\"port\":8080,\"path\":\"/quit\"}}}},"
        "{\"name\":\"b\",\"image\":\"busybox\",\"startupProbe\":{\"exec\":{\"command\":[\"true\"]},"
        "\"periodSeconds\":5}},"
        "{\"name\":\"c\",\"image\":\"registry.local:5000/team/app@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},"
        "{\"name\":\"d\",\"image\":\"app:latest\",\"imagePullPolicy\":\"Never\"}],"
        "\"initContainers\":[{\"name\":\"i\",\"image\":\"x:1\",\"resources\":{\"limits\":{\"cpu\":"
        "1}}}],"
        "\"volumes\":[{\"name\":\"empty\"},{\"name\":\"cm\",\"configMap\":{\"name\":\"x\"}},"
        "{\"name\":\"s\",\"secret\":{\"secretName\":\"x\",\"defaultMode\":256}},"
        "{\"name\":\"d\",\"downwardAPI\":{\"items\":[{\"path\":\"l\",\"fieldRef\":{\"fieldPath\":"
        "\"metadata.labels\"}}]}},"
        "{\"name\":\"pr\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"path\":\"t\"}}]}}"
        ","
        "{\"name\":\"h\",\"hostPath\":{\"path\":\"/"
        "x\"}},{\"name\":\"e\",\"emptyDir\":{\"sizeLimit\":\"1024Mi\"}},"
        "{\"name\":\"eph\",\"ephemeral\":{\"volumeClaimTemplate\":{\"spec\":{\"accessModes\":["
        "\"ReadWriteOnce\"]}}}}]},"
        "\"status\":{\"phase\":\"Pending\"}}");
    /* SetDefaults_PodSpec */
    is(p, "spec.dnsPolicy", "\"ClusterFirst\"");
    is(p, "spec.restartPolicy", "\"Always\"");
    is(p, "spec.securityContext", "{}");
    is(p, "spec.terminationGracePeriodSeconds", "30");
    is(p, "spec.schedulerName", "\"default-scheduler\"");
    /* SetDefaults_Pod */
    is(p, "spec.enableServiceLinks", "true");
    is(p, "spec.containers[0].resources.requests", "{\"cpu\":\"500m\",\"memory\":\"1Gi\"}");
    is(p, "spec.containers[0].resources.limits", "{\"cpu\":\"500m\",\"memory\":\"1Gi\"}");
    is(p, "spec.initContainers[0].resources.requests", "{\"cpu\":\"1\"}");
    /* containers */
    is(p, "spec.containers[0].imagePullPolicy", "\"IfNotPresent\"");
    is(p, "spec.containers[1].imagePullPolicy", "\"Always\"");
    is(p, "spec.containers[2].imagePullPolicy", "\"IfNotPresent\"");
    is(p, "spec.containers[3].imagePullPolicy", "\"Never\"");
    is(p, "spec.containers[0].terminationMessagePath", "\"/dev/termination-log\"");
    is(p, "spec.containers[0].terminationMessagePolicy", "\"File\"");
    is(p, "spec.containers[0].ports[0].protocol", "\"TCP\"");
    is(p, "spec.containers[0].ports[0].hostPort", "<absent>");
    is(p, "spec.containers[0].env[0].valueFrom.fieldRef.apiVersion", "\"v1\"");
    /* probes and handlers */
    is(p, "spec.containers[0].livenessProbe",
       "{\"failureThreshold\":3,\"httpGet\":{\"path\":\"/\",\"port\":80,\"scheme\":\"HTTP\"},"
       "\"periodSeconds\":10,\"successThreshold\":1,\"timeoutSeconds\":1}");
    is(p, "spec.containers[0].readinessProbe.grpc", "{\"port\":9,\"service\":\"\"}");
    is(p, "spec.containers[1].startupProbe.periodSeconds", "5");
    is(p, "spec.containers[0].lifecycle.preStop.httpGet",
       "{\"path\":\"/quit\",\"port\":8080,\"scheme\":\"HTTP\"}");
    /* volumes */
    is(p, "spec.volumes[0].emptyDir", "{}");
    is(p, "spec.volumes[1].configMap.defaultMode", "420");
    is(p, "spec.volumes[2].secret.defaultMode", "256");
    is(p, "spec.volumes[3].downwardAPI.defaultMode", "420");
    is(p, "spec.volumes[3].downwardAPI.items[0].fieldRef.apiVersion", "\"v1\"");
    is(p, "spec.volumes[4].projected.defaultMode", "420");
    is(p, "spec.volumes[4].projected.sources[0].serviceAccountToken.expirationSeconds", "3600");
    is(p, "spec.volumes[5].hostPath.type", "\"\"");
    is(p, "spec.volumes[6].emptyDir.sizeLimit", "\"1Gi\"");
    is(p, "spec.volumes[7].ephemeral.volumeClaimTemplate.spec.volumeMode", "\"Filesystem\"");
    /* the strategy's QoS class */
    is(p, "status.qosClass", "\"Burstable\"");
    is(p, "spec.tolerations", "<absent>");
    is(p, "spec.priority", "<absent>");
    json_decref(p);

    /* hostNetwork copies container ports to host ports; explicit values stay */
    p = defaulted(
        "", "Pod",
        "{\"spec\":{\"hostNetwork\":true,\"restartPolicy\":\"Never\",\"dnsPolicy\":\"Default\","
        "\"terminationGracePeriodSeconds\":0,\"enableServiceLinks\":false,\"containers\":[{"
        "\"name\":\"a\","
        "\"image\":\"x\",\"ports\":[{\"containerPort\":53,\"protocol\":\"UDP\"}]}]}}");
    is(p, "spec.containers[0].ports[0].hostPort", "53");
    is(p, "spec.containers[0].ports[0].protocol", "\"UDP\"");
    is(p, "spec.restartPolicy", "\"Never\"");
    is(p, "spec.dnsPolicy", "\"Default\"");
    is(p, "spec.terminationGracePeriodSeconds", "0");
    is(p, "spec.enableServiceLinks", "false");
    is(p, "status", "<absent>");
    json_decref(p);
}

static void test_deployment(void **state)
{
    json_t *d = defaulted(
        "apps", "Deployment",
        "{\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"x\"}},\"template\":{\"metadata\":"
        "{\"labels\":{\"app\":\"x\"}},\"spec\":{\"containers\":[" CTR "]}}}}");
    is(d, "spec.replicas", "1");
    is(d, "spec.strategy",
       "{\"rollingUpdate\":{\"maxSurge\":\"25%\",\"maxUnavailable\":\"25%\"},\"type\":"
       "\"RollingUpdate\"}");
    is(d, "spec.revisionHistoryLimit", "10");
    is(d, "spec.progressDeadlineSeconds", "600");
    is(d, "spec.template.spec.restartPolicy", "\"Always\"");
    is(d, "spec.template.spec.containers[0].imagePullPolicy", "\"Always\"");
    /* SetDefaults_Pod is for Pods only */
    is(d, "spec.template.spec.enableServiceLinks", "<absent>");
    json_decref(d);

    d = defaulted("apps", "Deployment",
                  "{\"spec\":{\"replicas\":0,\"strategy\":{\"type\":\"Recreate\"},"
                  "\"revisionHistoryLimit\":0}}");
    is(d, "spec.replicas", "0");
    is(d, "spec.strategy", "{\"type\":\"Recreate\"}");
    is(d, "spec.revisionHistoryLimit", "0");
    is(d, "spec.template.spec.dnsPolicy", "\"ClusterFirst\"");
    json_decref(d);

    d = defaulted("apps", "Deployment",
                  "{\"spec\":{\"strategy\":{\"rollingUpdate\":{\"maxSurge\":1}}}}");
    is(d, "spec.strategy.rollingUpdate", "{\"maxSurge\":1,\"maxUnavailable\":\"25%\"}");
    json_decref(d);

    d = defaulted("apps", "ReplicaSet", "{\"spec\":{}}");
    is(d, "spec.replicas", "1");
    is(d, "spec.template.spec.schedulerName", "\"default-scheduler\"");
    json_decref(d);
}

static void test_statefulset_daemonset(void **state)
{
    json_t *s =
        defaulted("apps", "StatefulSet",
                  "{\"spec\":{\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\"},\"spec\":"
                  "{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":"
                  "\"1024Mi\"}}}}]}}");
    is(s, "spec.replicas", "1");
    is(s, "spec.podManagementPolicy", "\"OrderedReady\"");
    is(s, "spec.updateStrategy",
       "{\"rollingUpdate\":{\"partition\":0},\"type\":\"RollingUpdate\"}");
    is(s, "spec.revisionHistoryLimit", "10");
    is(s, "spec.persistentVolumeClaimRetentionPolicy",
       "{\"whenDeleted\":\"Retain\",\"whenScaled\":\"Retain\"}");
    is(s, "spec.volumeClaimTemplates[0].apiVersion", "\"v1\"");
    is(s, "spec.volumeClaimTemplates[0].kind", "\"PersistentVolumeClaim\"");
    is(s, "spec.volumeClaimTemplates[0].spec.volumeMode", "\"Filesystem\"");
    is(s, "spec.volumeClaimTemplates[0].spec.resources.requests.storage", "\"1Gi\"");
    is(s, "spec.volumeClaimTemplates[0].status", "{\"phase\":\"Pending\"}");
    json_decref(s);

    s = defaulted("apps", "StatefulSet", "{\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\"}}}");
    is(s, "spec.updateStrategy", "{\"type\":\"OnDelete\"}");
    json_decref(s);
    s = defaulted("apps", "StatefulSet",
                  "{\"spec\":{\"updateStrategy\":{\"type\":\"RollingUpdate\"}}}");
    is(s, "spec.updateStrategy", "{\"type\":\"RollingUpdate\"}");
    json_decref(s);

    json_t *d = defaulted("apps", "DaemonSet", "{\"spec\":{}}");
    is(d, "spec.updateStrategy",
       "{\"rollingUpdate\":{\"maxSurge\":0,\"maxUnavailable\":1},\"type\":\"RollingUpdate\"}");
    is(d, "spec.revisionHistoryLimit", "10");
    is(d, "spec.template.spec.terminationGracePeriodSeconds", "30");
    json_decref(d);
    d = defaulted("apps", "DaemonSet", "{\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\"}}}");
    is(d, "spec.updateStrategy", "{\"type\":\"OnDelete\"}");
    json_decref(d);
}

static void test_job(void **state)
{
    json_t *j = defaulted(
        "batch", "Job",
        "{\"metadata\":{\"name\":\"pi\",\"uid\":\"8e4a\"},\"spec\":{\"template\":{\"spec\":"
        "{\"restartPolicy\":\"Never\",\"containers\":[" CTR "]}}}}");
    is(j, "spec.completions", "1");
    is(j, "spec.parallelism", "1");
    is(j, "spec.backoffLimit", "6");
    is(j, "spec.completionMode", "\"NonIndexed\"");
    is(j, "spec.suspend", "false");
    is(j, "spec.podReplacementPolicy", "\"TerminatingOrFailed\"");
    is(j, "spec.manualSelector", "<absent>");
    is(j, "spec.selector", "{\"matchLabels\":{\"batch.kubernetes.io/controller-uid\":\"8e4a\"}}");
    is(j, "spec.template.metadata.labels",
       "{\"batch.kubernetes.io/controller-uid\":\"8e4a\",\"batch.kubernetes.io/job-name\":\"pi\","
       "\"controller-uid\":\"8e4a\",\"job-name\":\"pi\"}");
    is(j, "metadata.labels",
       "{\"batch.kubernetes.io/controller-uid\":\"8e4a\",\"batch.kubernetes.io/job-name\":\"pi\","
       "\"controller-uid\":\"8e4a\",\"job-name\":\"pi\"}");
    is(j, "spec.template.spec.restartPolicy", "\"Never\"");
    json_decref(j);

    /* parallelism alone leaves completions unset; user labels win */
    j = defaulted("batch", "Job",
                  "{\"metadata\":{\"name\":\"w\",\"uid\":\"u\"},\"spec\":{\"parallelism\":3,"
                  "\"backoffLimitPerIndex\":1,"
                  "\"podFailurePolicy\":{\"rules\":[{\"action\":\"Ignore\",\"onPodConditions\":[{"
                  "\"type\":\"DisruptionTarget\"}]}]},"
                  "\"template\":{\"metadata\":{\"labels\":{\"app\":\"w\"}}}}}");
    is(j, "spec.completions", "<absent>");
    is(j, "spec.parallelism", "3");
    is(j, "spec.backoffLimit", "2147483647");
    is(j, "spec.podReplacementPolicy", "\"Failed\"");
    is(j, "spec.podFailurePolicy.rules[0].onPodConditions[0].status", "\"True\"");
    is(j, "metadata.labels", "{\"app\":\"w\"}");
    is(j, "spec.template.metadata.labels.app", "\"w\"");
    is(j, "spec.template.metadata.labels.job-name", "\"w\"");
    json_decref(j);

    /* a manual selector is left alone */
    j = defaulted("batch", "Job",
                  "{\"metadata\":{\"name\":\"m\",\"uid\":\"u\"},\"spec\":{\"manualSelector\":true,"
                  "\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":{\"metadata\":{"
                  "\"labels\":{\"a\":\"b\"}}}}}");
    is(j, "spec.selector", "{\"matchLabels\":{\"a\":\"b\"}}");
    is(j, "spec.template.metadata.labels", "{\"a\":\"b\"}");
    json_decref(j);

    json_t *c = defaulted(
        "batch", "CronJob",
        "{\"spec\":{\"schedule\":\"* * * * *\",\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":"
        "{\"containers\":[" CTR "],\"restartPolicy\":\"OnFailure\"}}}}}}");
    is(c, "spec.concurrencyPolicy", "\"Allow\"");
    is(c, "spec.suspend", "false");
    is(c, "spec.successfulJobsHistoryLimit", "3");
    is(c, "spec.failedJobsHistoryLimit", "1");
    is(c, "spec.jobTemplate.spec.template.spec.dnsPolicy", "\"ClusterFirst\"");
    is(c, "spec.jobTemplate.spec.backoffLimit", "<absent>");
    json_decref(c);
}

static void test_service(void **state)
{
    json_t *s = defaulted(
        "", "Service",
        "{\"spec\":{\"ports\":[{\"port\":80},{\"port\":443,\"targetPort\":\"https\",\"protocol\":"
        "\"UDP\"},"
        "{\"port\":8080,\"targetPort\":0}],\"sessionAffinityConfig\":{\"clientIP\":{}}}}");
    is(s, "spec.type", "\"ClusterIP\"");
    is(s, "spec.sessionAffinity", "\"None\"");
    is(s, "spec.sessionAffinityConfig", "<absent>");
    is(s, "spec.ports[0]", "{\"port\":80,\"protocol\":\"TCP\",\"targetPort\":80}");
    is(s, "spec.ports[1]", "{\"port\":443,\"protocol\":\"UDP\",\"targetPort\":\"https\"}");
    is(s, "spec.ports[2].targetPort", "8080");
    is(s, "spec.internalTrafficPolicy", "\"Cluster\"");
    is(s, "spec.externalTrafficPolicy", "<absent>");
    is(s, "spec.allocateLoadBalancerNodePorts", "<absent>");
    json_decref(s);

    s = defaulted("", "Service",
                  "{\"spec\":{\"type\":\"LoadBalancer\",\"sessionAffinity\":\"ClientIP\","
                  "\"clusterIP\":\"10.43.0.5\","
                  "\"ports\":[{\"port\":80}]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":"
                  "\"1.2.3.4\"}]}}}");
    is(s, "spec.externalTrafficPolicy", "\"Cluster\"");
    is(s, "spec.internalTrafficPolicy", "\"Cluster\"");
    is(s, "spec.allocateLoadBalancerNodePorts", "true");
    is(s, "spec.sessionAffinityConfig", "{\"clientIP\":{\"timeoutSeconds\":10800}}");
    is(s, "spec.clusterIPs", "[\"10.43.0.5\"]");
    is(s, "status.loadBalancer.ingress[0].ipMode", "\"VIP\"");
    json_decref(s);

    s = defaulted("", "Service",
                  "{\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"example.com\"}}");
    is(s, "spec.internalTrafficPolicy", "<absent>");
    is(s, "spec.externalTrafficPolicy", "<absent>");
    json_decref(s);
    s = defaulted("", "Service", "{\"spec\":{\"externalIPs\":[\"192.0.2.1\"]}}");
    is(s, "spec.externalTrafficPolicy", "\"Cluster\"");
    json_decref(s);
}

static void test_core_misc(void **state)
{
    json_t *o =
        defaulted("", "Secret",
                  "{\"metadata\":{\"name\":\"s\"},\"data\":{\"a\":\"b2xk\",\"keep\":\"eA==\"},"
                  "\"stringData\":{\"a\":\"new\",\"b\":\"hello!\"}}");
    is(o, "type", "\"Opaque\"");
    is(o, "data", "{\"a\":\"bmV3\",\"b\":\"aGVsbG8h\",\"keep\":\"eA==\"}");
    is(o, "stringData", "<absent>");
    json_decref(o);
    o = defaulted("", "Secret", "{\"type\":\"kubernetes.io/tls\"}");
    is(o, "type", "\"kubernetes.io/tls\"");
    json_decref(o);

    /* on create (no resourceVersion) the namespace gets the kubernetes finalizer */
    o = defaulted("", "Namespace", "{\"metadata\":{\"name\":\"team\"}}");
    is(o, "metadata.labels", "{\"kubernetes.io/metadata.name\":\"team\"}");
    is(o, "spec.finalizers", "[\"kubernetes\"]");
    is(o, "status.phase", "\"Active\"");
    json_decref(o);
    o = defaulted(
        "", "Namespace",
        "{\"metadata\":{\"name\":\"team\",\"resourceVersion\":\"7\",\"labels\":{\"kubernetes.io/"
        "metadata.name\":\"other\",\"x\":\"y\"}},\"spec\":{},\"status\":{\"phase\":\"Terminating\"}"
        "}");
    is(o, "metadata.labels", "{\"kubernetes.io/metadata.name\":\"team\",\"x\":\"y\"}");
    is(o, "spec.finalizers", "<absent>");
    is(o, "status.phase", "\"Terminating\"");
    json_decref(o);

    o = defaulted(
        "", "Node",
        "{\"status\":{\"capacity\":{\"cpu\":\"4\",\"memory\":\"8000000Ki\",\"pods\":\"110\"}}}");
    is(o, "status.allocatable", "{\"cpu\":\"4\",\"memory\":\"8000000Ki\",\"pods\":\"110\"}");
    json_decref(o);

    o = defaulted("", "PersistentVolume",
                  "{\"spec\":{\"capacity\":{\"storage\":\"1024Mi\"},\"hostPath\":{\"path\":\"/d\"},"
                  "\"rbd\":{\"monitors\":[\"m\"],\"image\":\"i\"}}}");
    is(o, "status.phase", "\"Pending\"");
    is(o, "spec.persistentVolumeReclaimPolicy", "\"Retain\"");
    is(o, "spec.volumeMode", "\"Filesystem\"");
    is(o, "spec.capacity.storage", "\"1Gi\"");
    is(o, "spec.hostPath.type", "\"\"");
    is(o, "spec.rbd.pool", "\"rbd\"");
    is(o, "spec.rbd.user", "\"admin\"");
    is(o, "spec.rbd.keyring", "\"/etc/ceph/keyring\"");
    json_decref(o);

    o = defaulted("", "PersistentVolumeClaim",
                  "{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"5e9\"}}}}");
    is(o, "status.phase", "\"Pending\"");
    is(o, "spec.volumeMode", "\"Filesystem\"");
    is(o, "spec.resources.requests.storage", "\"5e9\"");
    json_decref(o);

    o = defaulted("", "Endpoints", "{\"subsets\":[{\"ports\":[{\"port\":80}]}]}");
    is(o, "subsets[0].ports[0].protocol", "\"TCP\"");
    json_decref(o);

    o = defaulted("", "LimitRange",
                  "{\"spec\":{\"limits\":[{\"type\":\"Container\",\"max\":{\"cpu\":\"2\"},\"min\":{"
                  "\"memory\":\"64Mi\"}},"
                  "{\"type\":\"Pod\",\"max\":{\"cpu\":\"4\"}}]}}");
    is(o, "spec.limits[0].default", "{\"cpu\":\"2\"}");
    is(o, "spec.limits[0].defaultRequest", "{\"cpu\":\"2\",\"memory\":\"64Mi\"}");
    is(o, "spec.limits[1].default", "<absent>");
    json_decref(o);

    o = defaulted("", "ResourceQuota",
                  "{\"spec\":{\"hard\":{\"requests.cpu\":\"1000m\",\"pods\":10}}}");
    is(o, "spec.hard", "{\"pods\":\"10\",\"requests.cpu\":\"1\"}");
    json_decref(o);

    o = defaulted("", "ConfigMap", "{\"data\":{\"a\":\"b\"}}");
    is(o, "data", "{\"a\":\"b\"}");
    json_decref(o);
}

static void test_other_groups(void **state)
{
    json_t *o = defaulted("networking.k8s.io", "NetworkPolicy",
                          "{\"spec\":{\"ingress\":[{\"ports\":[{\"port\":80}]}],\"egress\":[{}]}}");
    is(o, "spec.policyTypes", "[\"Ingress\",\"Egress\"]");
    is(o, "spec.ingress[0].ports[0].protocol", "\"TCP\"");
    json_decref(o);
    o = defaulted("networking.k8s.io", "NetworkPolicy", "{\"spec\":{}}");
    is(o, "spec.policyTypes", "[\"Ingress\"]");
    json_decref(o);
    o = defaulted("networking.k8s.io", "IngressClass",
                  "{\"spec\":{\"parameters\":{\"kind\":\"K\",\"name\":\"n\"}}}");
    is(o, "spec.parameters.scope", "\"Cluster\"");
    json_decref(o);

    o = defaulted("autoscaling", "HorizontalPodAutoscaler", "{\"spec\":{\"maxReplicas\":5}}");
    is(o, "spec.minReplicas", "1");
    is(o, "spec.metrics",
       "[{\"resource\":{\"name\":\"cpu\",\"target\":{\"averageUtilization\":80,\"type\":"
       "\"Utilization\"}},"
       "\"type\":\"Resource\"}]");
    is(o, "spec.behavior", "<absent>");
    json_decref(o);
    o = defaulted("autoscaling", "HorizontalPodAutoscaler",
                  "{\"spec\":{\"behavior\":{\"scaleDown\":{\"stabilizationWindowSeconds\":60}}}}");
    is(o, "spec.behavior.scaleUp",
       "{\"policies\":[{\"periodSeconds\":15,\"type\":\"Pods\",\"value\":4},{\"periodSeconds\":15,"
       "\"type\":\"Percent\",\"value\":100}],\"selectPolicy\":\"Max\","
       "\"stabilizationWindowSeconds\":0}");
    is(o, "spec.behavior.scaleDown",
       "{\"policies\":[{\"periodSeconds\":15,\"type\":\"Percent\",\"value\":100}],\"selectPolicy\":"
       "\"Max\","
       "\"stabilizationWindowSeconds\":60}");
    json_decref(o);

    o = defaulted("scheduling.k8s.io", "PriorityClass", "{\"value\":10}");
    is(o, "preemptionPolicy", "\"PreemptLowerPriority\"");
    json_decref(o);
    o = defaulted("storage.k8s.io", "StorageClass", "{\"provisioner\":\"p\"}");
    is(o, "reclaimPolicy", "\"Delete\"");
    is(o, "volumeBindingMode", "\"Immediate\"");
    json_decref(o);

    o = defaulted("rbac.authorization.k8s.io", "RoleBinding",
                  "{\"roleRef\":{\"kind\":\"Role\",\"name\":\"r\"},\"subjects\":[{\"kind\":"
                  "\"ServiceAccount\","
                  "\"name\":\"sa\"},{\"kind\":\"User\",\"name\":\"u\"},{\"kind\":\"Group\","
                  "\"name\":\"g\"}]}");
    is(o, "roleRef.apiGroup", "\"rbac.authorization.k8s.io\"");
    is(o, "subjects[0].apiGroup", "<absent>");
    is(o, "subjects[1].apiGroup", "\"rbac.authorization.k8s.io\"");
    is(o, "subjects[2].apiGroup", "\"rbac.authorization.k8s.io\"");
    json_decref(o);

    o = defaulted("discovery.k8s.io", "EndpointSlice", "{\"ports\":[{\"port\":80}]}");
    is(o, "ports[0]", "{\"name\":\"\",\"port\":80,\"protocol\":\"TCP\"}");
    json_decref(o);

    /* kinds without defaults are untouched */
    o = defaulted("coordination.k8s.io", "Lease", "{\"spec\":{}}");
    is(o, "spec", "{}");
    json_decref(o);
}

static void test_pull_policy(void **state)
{
    static const struct {
        const char *image, *policy;
    } cases[] = {
        {"nginx", "Always"},
        {"nginx:latest", "Always"},
        {"library/nginx:1.25", "IfNotPresent"},
        {"localhost:5000/nginx", "Always"},
        {"localhost:5000/nginx:v2", "IfNotPresent"},
        {"docker.io/library/"
         "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         "IfNotPresent"},
        {"nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         "Always"},
        {"NGINX", "IfNotPresent"}, /* does not parse: Kubernetes sees no tag */
        {"", "IfNotPresent"},
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(cases); i++) {
        json_t *p = json_pack("{s:{s:[{s:s, s:s}]}}", "spec", "containers", "name", "c", "image",
                              cases[i].image);
        k1s_defaults_apply(k1s_registry_find_kind("", "Pod"), p);
        const char *got = json_string_value(at(p, "spec.containers[0].imagePullPolicy"));
        if (strcmp(got, cases[i].policy))
            fail_msg("%s: want %s, got %s", cases[i].image, cases[i].policy, got);
        json_decref(p);
    }
}

/* defaulting twice changes nothing (the REST layer may default an object already defaulted) */
static void test_idempotent(void **state)
{
    static const struct {
        const char *group, *kind, *js;
    } cases[] = {
        {"", "Pod",
         "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\","
         "\"resources\":{\"limits\":{\"cpu\":\"0.1\"}}}]},\"status\":{}}"},
        {"apps", "Deployment", "{\"spec\":{\"template\":{\"spec\":{\"containers\":[" CTR "]}}}}"},
        {"batch", "Job", "{\"metadata\":{\"name\":\"j\",\"uid\":\"u\"},\"spec\":{}}"},
        {"", "Service", "{\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":1}]}}"},
        {"", "Namespace", "{\"metadata\":{\"name\":\"n\",\"resourceVersion\":\"1\"}}"},
        {"apps", "StatefulSet", "{\"spec\":{\"volumeClaimTemplates\":[{\"spec\":{}}]}}"},
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(cases); i++) {
        const k1s_resource_t *r = k1s_registry_find_kind(cases[i].group, cases[i].kind);
        json_t *o = load(cases[i].js);
        k1s_defaults_apply(r, o);
        json_t *once = json_deep_copy(o);
        k1s_defaults_apply(r, o);
        if (!json_equal(once, o))
            fail_msg("%s is not idempotent", cases[i].kind);
        json_decref(once);
        json_decref(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod),
        cmocka_unit_test(test_deployment),
        cmocka_unit_test(test_statefulset_daemonset),
        cmocka_unit_test(test_job),
        cmocka_unit_test(test_service),
        cmocka_unit_test(test_core_misc),
        cmocka_unit_test(test_other_groups),
        cmocka_unit_test(test_pull_policy),
        cmocka_unit_test(test_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
