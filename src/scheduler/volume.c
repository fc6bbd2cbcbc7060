/*
 * VolumeBinding for unbound claims of WaitForFirstConsumer StorageClasses,
 * as kube-scheduler's volume binder decides it: a node fits when each such
 * claim either matches an available PersistentVolume whose node affinity
 * allows the node (FindMatchingVolume: not claimed by another claim, large
 * enough, same class, volume mode and access modes, selector; a PV
 * pre-bound to the claim first, else the smallest) or can be provisioned
 * there (the class has a provisioner other than kubernetes.io/no-provisioner
 * and its allowedTopologies admit the node). A claim already carrying
 * volume.kubernetes.io/selected-node only fits that node.
 */
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "lib/util.h"
#include "scheduler/sched-int.h"

#define NO_PROVISIONER "kubernetes.io/no-provisioner"
#define ANN_SELECTED_NODE "volume.kubernetes.io/selected-node"

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int64_t storage_of(const json_t *list)
{
    k1s_quantity_t q;
    const json_t *v = json_object_get(list, "storage");
    if (!v || k1s_quantity_from_json(v, &q, NULL) < 0)
        return 0;
    return k1s_quantity_value(&q);
}

static bool modes_cover(const json_t *have, const json_t *want)
{
    size_t i, j;
    const json_t *w, *h;
    json_array_foreach(want, i, w)
    {
        bool ok = false;
        json_array_foreach(have, j, h)
        {
            if (json_equal(w, h))
                ok = true;
        }
        if (!ok)
            return false;
    }
    return true;
}

static const char *volume_mode(const json_t *spec)
{
    const char *m = str(spec, "volumeMode");
    return m && *m ? m : "Filesystem";
}

/* IsVolumeBoundToClaim */
static bool bound_to_claim(const json_t *ref, const json_t *pvc)
{
    const json_t *md = json_object_get(pvc, "metadata");
    const char *uid = str(ref, "uid");
    return k1s_streq(str(ref, "name"), str(md, "name")) &&
           k1s_streq(str(ref, "namespace"), str(md, "namespace")) &&
           (!uid || !*uid || k1s_streq(uid, str(md, "uid")));
}

/* The node-independent part of FindMatchingVolume: 2 for a PV pre-bound to the claim, 1 for an
 * available PV that matches, 0 otherwise. */
static int candidate(const json_t *pv, const json_t *pvc, const char *cls, int64_t want)
{
    const json_t *spec = json_object_get(pv, "spec"), *cspec = json_object_get(pvc, "spec");
    const json_t *ref = json_object_get(spec, "claimRef");
    if (ref && !bound_to_claim(ref, pvc))
        return 0;
    if (storage_of(json_object_get(spec, "capacity")) < want)
        return 0;
    if (json_object_get(json_object_get(pv, "metadata"), "deletionTimestamp"))
        return 0;
    if (strcmp(volume_mode(spec), volume_mode(cspec)))
        return 0;
    if (ref)
        return 2;
    if (!k1s_streq(str(json_object_get(pv, "status"), "phase"), "Available"))
        return 0;
    const char *pcls = str(spec, "storageClassName");
    if (!k1s_streq(pcls ? pcls : "", cls))
        return 0;
    const json_t *selector = json_object_get(cspec, "selector");
    if (json_is_object(selector) && json_object_size(selector)) {
        k1s_err_t err = {0};
        k1s_label_selector_t *sel = k1s_label_selector_from_json(selector, &err);
        bool ok = sel && k1s_label_selector_matches(
                             sel, json_object_get(json_object_get(pv, "metadata"), "labels"));
        k1s_label_selector_free(sel);
        if (!ok)
            return 0;
    }
    if (!modes_cover(json_object_get(spec, "accessModes"), json_object_get(cspec, "accessModes")))
        return 0;
    return 1;
}

typedef struct {
    const json_t *pv;
    int rank;
    int64_t size;
} cand_t;

static int cand_cmp(const void *x, const void *y)
{
    const cand_t *a = x, *b = y;
    if (a->rank != b->rank)
        return b->rank - a->rank;
    if (a->size != b->size)
        return a->size < b->size ? -1 : 1;
    return strcmp(str(json_object_get(a->pv, "metadata"), "name"),
                  str(json_object_get(b->pv, "metadata"), "name"));
}

void k1s_sched_claim_prepare(const k1s_sched_cluster_t *c, k1s_sched_claim_t *cl, const json_t *pvc,
                             const json_t *sc)
{
    memset(cl, 0, sizeof(*cl));
    cl->pvc = pvc;
    cl->sc = sc;
    const json_t *md = json_object_get(pvc, "metadata");
    cl->name = str(md, "name");
    const char *sel = str(json_object_get(md, "annotations"), ANN_SELECTED_NODE);
    cl->selected_node = sel && *sel ? sel : NULL;
    const char *prov = str(sc, "provisioner");
    cl->provision = prov && *prov && strcmp(prov, NO_PROVISIONER);
    const char *cls = str(json_object_get(pvc, "spec"), "storageClassName");
    if (!c->list_pvs || !cls)
        return;
    const json_t **all = NULL;
    size_t n = c->list_pvs(c->lookup_arg, cls, &all);
    int64_t want = storage_of(
        json_object_get(json_object_get(json_object_get(pvc, "spec"), "resources"), "requests"));
    cand_t *cands = k1s_xcalloc(n ? n : 1, sizeof(*cands));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int rank = candidate(all[i], pvc, cls, want);
        if (rank)
            cands[k++] =
                (cand_t){all[i], rank,
                         storage_of(json_object_get(json_object_get(all[i], "spec"), "capacity"))};
    }
    free(all);
    qsort(cands, k, sizeof(*cands), cand_cmp);
    cl->pvs = k1s_xcalloc(k ? k : 1, sizeof(*cl->pvs));
    for (size_t i = 0; i < k; i++)
        cl->pvs[i] = cands[i].pv;
    cl->n_pvs = k;
    free(cands);
}

void k1s_sched_claims_free(k1s_sched_claim_t *cl, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(cl[i].pvs);
    free(cl);
}

/* MatchTopologySelectorTerms: no terms admit every node; else one term whose every
 * matchLabelExpressions entry has the node's label among its values. */
static bool topology_allows(const json_t *terms, const k1s_sched_node_t *n)
{
    if (!json_array_size(terms))
        return true;
    size_t i, j, k;
    const json_t *t, *e, *v;
    json_array_foreach(terms, i, t)
    {
        bool ok = true;
        json_array_foreach(json_object_get(t, "matchLabelExpressions"), j, e)
        {
            const char *have = k1s_sched_node_label(n, str(e, "key") ? str(e, "key") : "");
            bool in = false;
            json_array_foreach(json_object_get(e, "values"), k, v)
            {
                if (have && k1s_streq(json_string_value(v), have))
                    in = true;
            }
            if (!in)
                ok = false;
        }
        if (ok)
            return true;
    }
    return false;
}

bool k1s_sched_claims_fit(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                          const json_t **pvs_out)
{
    const json_t **chosen = k1s_xcalloc(p->n_claims ? p->n_claims : 1, sizeof(*chosen));
    bool ok = true;
    for (size_t k = 0; ok && k < p->n_claims; k++) {
        const k1s_sched_claim_t *cl = &p->claims[k];
        if (cl->selected_node) {
            ok = !strcmp(cl->selected_node, n->name) && cl->provision;
            continue;
        }
        for (size_t j = 0; j < cl->n_pvs && !chosen[k]; j++) {
            const json_t *pv = cl->pvs[j];
            bool taken = false;
            for (size_t x = 0; x < k; x++)
                if (chosen[x] == pv)
                    taken = true;
            const json_t *terms = json_object_get(
                json_object_get(json_object_get(json_object_get(pv, "spec"), "nodeAffinity"),
                                "required"),
                "nodeSelectorTerms");
            if (!taken && (!terms || k1s_sched_node_selector_terms_match(terms, n)))
                chosen[k] = pv;
        }
        if (!chosen[k])
            ok = cl->provision && topology_allows(json_object_get(cl->sc, "allowedTopologies"), n);
    }
    if (ok && pvs_out)
        memcpy(pvs_out, chosen, p->n_claims * sizeof(*chosen));
    free(chosen);
    return ok;
}

json_t *k1s_sched_volume_plan(const k1s_sched_cluster_t *c, const json_t *pod, size_t node)
{
    size_t i;
    const json_t *v;
    bool any = false;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "volumes"), i, v)
    {
        if (json_object_get(v, "persistentVolumeClaim") || json_object_get(v, "ephemeral"))
            any = true;
    }
    if (!any || node >= c->n_nodes)
        return NULL;
    char *pre = NULL;
    k1s_sched_pod_t *p = k1s_sched_pod_new(c, pod, &pre);
    free(pre);
    if (!p || !p->n_claims) {
        k1s_sched_pod_free(p);
        return NULL;
    }
    const json_t **pvs = k1s_xcalloc(p->n_claims, sizeof(*pvs));
    json_t *plan = NULL;
    if (k1s_sched_claims_fit(p, c->nodes[node], pvs)) {
        plan = json_array();
        for (size_t k = 0; k < p->n_claims; k++) {
            const char *pv = pvs[k] ? str(json_object_get(pvs[k], "metadata"), "name") : NULL;
            json_array_append_new(plan,
                                  json_pack("{s:s,s:s?}", "claim", p->claims[k].name, "pv", pv));
        }
    }
    free(pvs);
    k1s_sched_pod_free(p);
    return plan;
}
