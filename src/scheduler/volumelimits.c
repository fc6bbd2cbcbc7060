/*
 * NodeVolumeLimits, kube-scheduler's CSILimits plugin: a node whose CSINode
 * (storage.k8s.io/v1, named after the node) gives a driver an
 * allocatable.count fits a pod only while the CSI volumes of that driver used
 * by the pods on the node, plus the pod's own new ones, stay within it. A
 * volume is "driver/volumeHandle" of the claim's bound PV, or, for a claim not
 * bound yet (or whose PV is gone), the StorageClass's provisioner with a
 * handle made from the claim, so one volume shared by several pods counts
 * once. Claims come from persistentVolumeClaim and generic ephemeral volumes.
 * A node without a CSINode, or drivers without a count, has no limit. In-tree
 * volumes migrated to CSI and VolumeAttachments are not counted (k1s has no
 * in-tree volume plugins).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "scheduler/sched-int.h"

#define ANN_BETA_CLASS "volume.beta.kubernetes.io/storage-class"
/* The handle prefix of claims without a PV; upstream uses a random string per scheduler, to stay
 * clear of real volume handles. */
#define UNBOUND_PREFIX "k1s-unbound-claim"

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* storagehelpers.GetPersistentVolumeClaimClass: the beta annotation wins over the field. */
static const char *claim_class(const json_t *pvc)
{
    const char *c =
        str(json_object_get(json_object_get(pvc, "metadata"), "annotations"), ANN_BETA_CLASS);
    if (c)
        return c;
    c = str(json_object_get(pvc, "spec"), "storageClassName");
    return c ? c : "";
}

/* getCSIDriverInfo: adds the claim's "driver/handle" -> driver to out, if it is a CSI volume. */
static void add_claim_volume(const k1s_sched_cluster_t *c, const json_t *pvc, json_t *out)
{
    const json_t *md = json_object_get(pvc, "metadata");
    const char *pv_name = str(json_object_get(pvc, "spec"), "volumeName");
    const json_t *pv =
        pv_name && *pv_name ? c->lookup(c->lookup_arg, "PersistentVolume", NULL, pv_name) : NULL;
    const char *driver, *handle;
    char *own = NULL;
    if (pv) {
        const json_t *csi = json_object_get(json_object_get(pv, "spec"), "csi");
        driver = str(csi, "driver");
        handle = str(csi, "volumeHandle");
    } else {
        /* not bound (WaitForFirstConsumer) or its PV is gone: the class's provisioner */
        const char *cls = claim_class(pvc);
        const json_t *sc = *cls ? c->lookup(c->lookup_arg, "StorageClass", NULL, cls) : NULL;
        driver = str(sc, "provisioner");
        own = k1s_xasprintf("%s-%s/%s", UNBOUND_PREFIX,
                            str(md, "namespace") ? str(md, "namespace") : "",
                            str(md, "name") ? str(md, "name") : "");
        handle = own;
    }
    if (driver && *driver && handle && *handle) {
        char *key = k1s_xasprintf("%s/%s", driver, handle);
        json_object_set_new(out, key, json_string(driver));
        free(key);
    }
    free(own);
}

/* filterAttachableVolumes: adds the CSI volumes of pod to out. Claims that cannot be used
 * (missing, or an ephemeral volume's claim that is not the pod's) are not counted: for the pod
 * being scheduled VolumeBinding's PreFilter has already refused them. */
static void pod_volumes(const k1s_sched_cluster_t *c, const json_t *pod, json_t *out)
{
    const char *ns = k1s_sched_pod_ns(pod);
    const char *pod_name = str(json_object_get(pod, "metadata"), "name");
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "volumes"), i, v)
    {
        const char *claim = str(json_object_get(v, "persistentVolumeClaim"), "claimName");
        char eph[512];
        bool is_eph = !claim && json_object_get(v, "ephemeral");
        if (is_eph) {
            snprintf(eph, sizeof(eph), "%s-%s", pod_name ? pod_name : "",
                     str(v, "name") ? str(v, "name") : "");
            claim = eph;
        }
        if (!claim || !*claim)
            continue;
        const json_t *pvc = c->lookup(c->lookup_arg, "PersistentVolumeClaim", ns, claim);
        if (pvc && (!is_eph || k1s_sched_claim_is_for_pod(pvc, pod)))
            add_claim_volume(c, pvc, out);
    }
}

void k1s_sched_csi_prepare(const k1s_sched_cluster_t *c, k1s_sched_pod_t *p)
{
    if (!c->lookup)
        return;
    bool any = false;
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(p->spec, "volumes"), i, v)
    {
        if (json_object_get(v, "persistentVolumeClaim") || json_object_get(v, "ephemeral"))
            any = true;
    }
    if (!any)
        return; /* PreFilter: Skip */
    p->csi_vols = json_object();
    pod_volumes(c, p->pod, p->csi_vols);
}

/* getVolumeLimits: driver -> allocatable.count of the node's CSINode, or NULL for no limits. */
static json_t *node_limits(const k1s_sched_cluster_t *c, const k1s_sched_node_t *n)
{
    const json_t *csinode = c->lookup(c->lookup_arg, "CSINode", NULL, n->name);
    json_t *limits = NULL;
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(json_object_get(csinode, "spec"), "drivers"), i, d)
    {
        const json_t *count = json_object_get(json_object_get(d, "allocatable"), "count");
        if (!json_is_integer(count) || !str(d, "name"))
            continue;
        if (!limits)
            limits = json_object();
        json_object_set(limits, str(d, "name"), (json_t *)count);
    }
    return limits;
}

bool k1s_sched_csi_fits(const k1s_sched_pod_t *p, const k1s_sched_node_t *n)
{
    const k1s_sched_cluster_t *c = p->c;
    if (!json_object_size(p->csi_vols))
        return true;
    json_t *limits = node_limits(c, n);
    if (!limits)
        return true;
    json_t *attached = json_object();
    for (size_t j = 0; j < n->n_pods; j++) {
        if (!n->pods[j].volumes)
            continue;
        json_t *pod = k1s_sched_pinfo_pod(&n->pods[j]);
        pod_volumes(c, pod, attached);
        json_decref(pod);
    }
    /* volumes already attached count once, and not as new */
    json_t *used = json_object(), *want = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(attached, k, v)
    {
        const char *d = json_string_value(v);
        json_object_set_new(used, d,
                            json_integer(json_integer_value(json_object_get(used, d)) + 1));
    }
    json_object_foreach(p->csi_vols, k, v)
    {
        if (json_object_get(attached, k))
            continue;
        const char *d = json_string_value(v);
        json_object_set_new(want, d,
                            json_integer(json_integer_value(json_object_get(want, d)) + 1));
    }
    bool ok = true;
    json_object_foreach(want, k, v)
    {
        const json_t *max = json_object_get(limits, k);
        if (max && json_integer_value(json_object_get(used, k)) + json_integer_value(v) >
                       json_integer_value(max))
            ok = false;
    }
    json_decref(attached);
    json_decref(used);
    json_decref(want);
    json_decref(limits);
    return ok;
}
