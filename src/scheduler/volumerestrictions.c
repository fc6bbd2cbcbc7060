/*
 * VolumeRestrictions, as kube-scheduler's plugin: a pod does not fit a node
 * where a pod already uses the same inline GCE PD (unless both mount it
 * read-only), AWS EBS volume, iSCSI IQN (unless both read-only) or RBD image
 * (a shared Ceph monitor, same pool and image, unless both read-only); and a
 * claim with the ReadWriteOncePod access mode that a pod anywhere in the
 * cluster already uses keeps the pod from every node (preemption may evict
 * the pod holding it). The use of such claims is counted once per attempt
 * (PreFilter) per node, so that a node summary standing in for a node in
 * preemption's dry runs counts its own pods instead.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "scheduler/sched-int.h"

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static bool read_only(const json_t *src)
{
    return json_is_true(json_object_get(src, "readOnly"));
}

/* RBD defaults (pool "rbd") as the API server would have applied them. */
static const char *rbd_pool(const json_t *rbd)
{
    const char *p = str(rbd, "pool");
    return *p ? p : "rbd";
}

static bool monitors_overlap(const json_t *a, const json_t *b)
{
    size_t i, j;
    const json_t *x, *y;
    json_array_foreach(a, i, x)
    {
        json_array_foreach(b, j, y)
        {
            if (json_is_string(x) && json_equal(x, y))
                return true;
        }
    }
    return false;
}

/* isVolumeConflict: volume v of the pod being placed against the volumes of an existing pod. */
static bool volume_conflicts(const json_t *v, const json_t *pod)
{
    const json_t *gce = json_object_get(v, "gcePersistentDisk");
    const json_t *ebs = json_object_get(v, "awsElasticBlockStore");
    const json_t *iscsi = json_object_get(v, "iscsi");
    const json_t *rbd = json_object_get(v, "rbd");
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "volumes"), i, e)
    {
        const json_t *x;
        if (gce && (x = json_object_get(e, "gcePersistentDisk")) &&
            !strcmp(str(gce, "pdName"), str(x, "pdName")) && !(read_only(gce) && read_only(x)))
            return true;
        if (ebs && (x = json_object_get(e, "awsElasticBlockStore")) &&
            !strcmp(str(ebs, "volumeID"), str(x, "volumeID")))
            return true;
        if (iscsi && (x = json_object_get(e, "iscsi")) &&
            !strcmp(str(iscsi, "iqn"), str(x, "iqn")) && !(read_only(iscsi) && read_only(x)))
            return true;
        if (rbd && (x = json_object_get(e, "rbd")) &&
            monitors_overlap(json_object_get(rbd, "monitors"), json_object_get(x, "monitors")) &&
            !strcmp(rbd_pool(rbd), rbd_pool(x)) && !strcmp(str(rbd, "image"), str(x, "image")) &&
            !(read_only(rbd) && read_only(x)))
            return true;
    }
    return false;
}

bool k1s_sched_disk_fits(const k1s_sched_pod_t *p, const k1s_sched_node_t *n)
{
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(p->spec, "volumes"), i, v)
    {
        if (!json_object_get(v, "gcePersistentDisk") &&
            !json_object_get(v, "awsElasticBlockStore") && !json_object_get(v, "iscsi") &&
            !json_object_get(v, "rbd"))
            continue;
        for (size_t j = 0; j < n->n_pods; j++) {
            if (!n->pods[j].volumes)
                continue;
            json_t *pod = k1s_sched_pinfo_pod(&n->pods[j]);
            bool conflict = volume_conflicts(v, pod);
            json_decref(pod);
            if (conflict)
                return false;
        }
    }
    return true;
}

/* How many uses of the pod's ReadWriteOncePod claims the pods on n make. */
static int64_t rwop_uses(const k1s_sched_pod_t *p, const k1s_sched_node_t *n)
{
    int64_t uses = 0;
    for (size_t j = 0; j < n->n_pods; j++) {
        if (!n->pods[j].volumes || strcmp(n->pods[j].ns, p->ns))
            continue;
        json_t *pod = k1s_sched_pinfo_pod(&n->pods[j]);
        size_t i;
        const json_t *v;
        json_array_foreach(json_object_get(json_object_get(pod, "spec"), "volumes"), i, v)
        {
            const char *claim = json_string_value(
                json_object_get(json_object_get(v, "persistentVolumeClaim"), "claimName"));
            if (claim && json_object_get(p->rwop_claims, claim))
                uses++;
        }
        json_decref(pod);
    }
    return uses;
}

void k1s_sched_restrictions_prepare(const k1s_sched_cluster_t *c, k1s_sched_pod_t *p)
{
    if (!c->lookup)
        return;
    size_t i, j;
    const json_t *v, *mode;
    json_array_foreach(json_object_get(p->spec, "volumes"), i, v)
    {
        const char *claim = json_string_value(
            json_object_get(json_object_get(v, "persistentVolumeClaim"), "claimName"));
        const json_t *pvc =
            claim ? c->lookup(c->lookup_arg, "PersistentVolumeClaim", p->ns, claim) : NULL;
        json_array_foreach(json_object_get(json_object_get(pvc, "spec"), "accessModes"), j, mode)
        {
            if (!k1s_streq(json_string_value(mode), "ReadWriteOncePod"))
                continue;
            if (!p->rwop_claims)
                p->rwop_claims = json_object();
            json_object_set_new(p->rwop_claims, claim, json_true());
        }
    }
    if (!p->rwop_claims)
        return;
    p->rwop_node_uses = json_object();
    for (size_t k = 0; k < c->n_nodes; k++) {
        int64_t uses = rwop_uses(p, c->nodes[k]);
        if (uses) {
            json_object_set_new(p->rwop_node_uses, c->nodes[k]->name, json_integer(uses));
            p->rwop_uses += uses;
        }
    }
}

bool k1s_sched_rwop_fits(const k1s_sched_pod_t *p, const k1s_sched_node_t *n)
{
    if (!p->rwop_uses && !p->rwop_claims)
        return true;
    /* the cluster's uses, with those of this node as it is now (a dry run may have removed
     * some) */
    int64_t uses = p->rwop_uses - json_integer_value(json_object_get(p->rwop_node_uses, n->name)) +
                   rwop_uses(p, n);
    return uses <= 0;
}
