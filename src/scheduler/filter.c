/*
 * The filters of kube-scheduler's default profile, in its order:
 * NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
 * NodeResourcesFit, VolumeRestrictions (volumerestrictions.c),
 * NodeVolumeLimits (volumelimits.c), VolumeBinding, VolumeZone (volumezone.c),
 * PodTopologySpread, InterPodAffinity. A
 * node fails at the first filter that rejects it, with that plugin's reason
 * strings and status code (UnschedulableAndUnresolvable where preemption
 * cannot help). The per-pod state (requests, ports, parsed terms, affinity
 * and spreading counts) is computed once per attempt, as PreFilter does.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "scheduler/sched-int.h"

k1s_sched_res_t k1s_sched_pod_nonzero_requests(const json_t *pod);
size_t k1s_sched_pod_ports(const json_t *pod, k1s_sched_port_t **out);
json_t *k1s_sched_pod_scalars(const json_t *pod);

void k1s_sched_status_clear(k1s_sched_status_t *st)
{
    for (int i = 0; i < st->n_reasons; i++)
        free(st->reasons[i]);
    memset(st, 0, sizeof(*st));
}

static void fail(k1s_sched_status_t *st, k1s_sched_code_t code, const char *reason)
{
    if (st->code < code)
        st->code = code;
    if (st->n_reasons < K1S_SCHED_MAX_REASONS)
        st->reasons[st->n_reasons++] = k1s_xstrdup(reason);
}

static void pair_key(char *buf, size_t len, const char *key, const char *val)
{
    snprintf(buf, len, "%s\t%s", key, val);
}

static void count_add(json_t *counts, const char *key, const char *val, int64_t d)
{
    char k[512];
    pair_key(k, sizeof(k), key, val);
    json_t *c = json_object_get(counts, k);
    json_object_set_new(counts, k, json_integer((c ? json_integer_value(c) : 0) + d));
}

static int64_t count_get(const json_t *counts, const char *key, const char *val)
{
    char k[512];
    pair_key(k, sizeof(k), key, val);
    return json_integer_value(json_object_get(counts, k));
}

static const json_t *pod_affinity(const json_t *pod, const char *kind, const char *when)
{
    return json_object_get(
        json_object_get(json_object_get(json_object_get(pod, "spec"), "affinity"), kind), when);
}

#define REQUIRED "requiredDuringSchedulingIgnoredDuringExecution"
#define PREFERRED "preferredDuringSchedulingIgnoredDuringExecution"

/* The uid of the pod's controller ownerReference, or NULL. */
static const char *controller_uid(const json_t *pod)
{
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(json_object_get(pod, "metadata"), "ownerReferences"), i, r)
    {
        if (!json_is_true(json_object_get(r, "controller")))
            continue;
        /* the default selector comes from ReplicaSets, ReplicationControllers and StatefulSets
         * (Services are not known here) */
        const char *kind = json_string_value(json_object_get(r, "kind"));
        if (k1s_streq(kind, "ReplicaSet") || k1s_streq(kind, "ReplicationController") ||
            k1s_streq(kind, "StatefulSet"))
            return json_string_value(json_object_get(r, "uid"));
        return NULL;
    }
    return NULL;
}

static bool spread_matches(const k1s_sched_spread_t *s, const char *ns, const k1s_sched_pinfo_t *e)
{
    if (strcmp(e->ns, ns) || e->terminating)
        return false;
    if (!s->sel)
        return k1s_streq(e->owner_uid, s->owner_uid);
    return k1s_label_selector_matches(s->sel, e->labels);
}

static void parse_spread(k1s_sched_pod_t *p)
{
    const json_t *cs = json_object_get(p->spec, "topologySpreadConstraints");
    size_t n = json_array_size(cs), i;
    const json_t *c;
    if (n) {
        p->spread = k1s_xcalloc(n, sizeof(*p->spread));
        json_array_foreach(cs, i, c)
        {
            /* matchLabelKeys add "key in (the pod's value)" to the selector */
            const json_t *ls = json_object_get(c, "labelSelector");
            json_t *sel_json = ls ? json_deep_copy(ls) : NULL;
            size_t k;
            const json_t *key;
            json_array_foreach(json_object_get(c, "matchLabelKeys"), k, key)
            {
                const char *val =
                    json_string_value(json_object_get(p->labels, json_string_value(key)));
                if (!sel_json || !val)
                    continue;
                json_t *ml = json_object_get(sel_json, "matchLabels");
                if (!ml) {
                    ml = json_object();
                    json_object_set_new(sel_json, "matchLabels", ml);
                }
                json_object_set_new(ml, json_string_value(key), json_string(val));
            }
            k1s_err_t err = {0};
            k1s_label_selector_t *sel = k1s_label_selector_from_json(sel_json, &err);
            json_decref(sel_json);
            if (!sel)
                continue;
            k1s_sched_spread_t *s = &p->spread[p->n_spread++];
            s->sel = sel;
            s->max_skew = (int)json_integer_value(json_object_get(c, "maxSkew"));
            s->topology_key = json_string_value(json_object_get(c, "topologyKey"));
            if (!s->topology_key)
                s->topology_key = "";
            s->do_not_schedule = k1s_streq(
                json_string_value(json_object_get(c, "whenUnsatisfiable")), "DoNotSchedule");
            json_int_t md = json_integer_value(json_object_get(c, "minDomains"));
            s->min_domains = md > 0 ? (int)md : 1;
            s->ignore_affinity =
                k1s_streq(json_string_value(json_object_get(c, "nodeAffinityPolicy")), "Ignore");
            s->honor_taints =
                k1s_streq(json_string_value(json_object_get(c, "nodeTaintsPolicy")), "Honor");
            s->self_match = k1s_label_selector_matches(sel, p->labels);
        }
        return;
    }
    /* The system default constraints spread the pods of one controller. */
    const char *uid = controller_uid(p->pod);
    if (!uid)
        return;
    p->spread = k1s_xcalloc(2, sizeof(*p->spread));
    p->n_spread = 2;
    p->spread_default = true;
    const char *keys[2] = {"kubernetes.io/hostname", "topology.kubernetes.io/zone"};
    for (int k = 0; k < 2; k++) {
        p->spread[k].owner_uid = uid;
        p->spread[k].topology_key = keys[k];
        p->spread[k].max_skew = k ? 5 : 3;
        p->spread[k].min_domains = 1;
        p->spread[k].self_match = true;
    }
}

/* Counts, for the DoNotSchedule constraints, the matching pods per domain over the nodes that
 * pass the pod's node affinity and carry every constraint's key (PodTopologySpread PreFilter). */
static void prepare_spread_filter(const k1s_sched_cluster_t *c, k1s_sched_pod_t *p)
{
    bool any = false;
    for (size_t k = 0; k < p->n_spread; k++)
        if (p->spread[k].do_not_schedule) {
            any = true;
            p->spread[k].counts = json_object();
        }
    if (!any)
        return;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const k1s_sched_node_t *n = c->nodes[i];
        bool aff = k1s_sched_pod_matches_node_affinity(p->pod, n);
        bool all = true;
        for (size_t k = 0; k < p->n_spread && all; k++)
            if (p->spread[k].do_not_schedule && !k1s_sched_node_label(n, p->spread[k].topology_key))
                all = false;
        if (!all)
            continue;
        for (size_t k = 0; k < p->n_spread; k++) {
            k1s_sched_spread_t *s = &p->spread[k];
            if (!s->do_not_schedule || !k1s_sched_spread_includes(p, s, n, aff))
                continue;
            int64_t cnt = 0;
            for (size_t j = 0; j < n->n_pods; j++)
                cnt += spread_matches(s, p->ns, &n->pods[j]);
            count_add(s->counts, s->topology_key, k1s_sched_node_label(n, s->topology_key), cnt);
        }
    }
    for (size_t k = 0; k < p->n_spread; k++) {
        k1s_sched_spread_t *s = &p->spread[k];
        if (!s->do_not_schedule)
            continue;
        int64_t min = INT64_MAX;
        const char *key;
        json_t *v;
        json_object_foreach(s->counts, key, v)
        {
            if (json_integer_value(v) < min)
                min = json_integer_value(v);
        }
        if (min == INT64_MAX || (int)json_object_size(s->counts) < s->min_domains)
            min = 0;
        s->min_match = min;
    }
}

bool k1s_sched_spread_includes(const k1s_sched_pod_t *p, const k1s_sched_spread_t *s,
                               const k1s_sched_node_t *n, bool aff)
{
    if (!s->ignore_affinity && !aff)
        return false;
    if (!s->honor_taints)
        return true;
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(json_object_get(n->node, "spec"), "taints"), i, t)
    {
        const char *effect = json_string_value(json_object_get(t, "effect"));
        if ((k1s_streq(effect, "NoSchedule") || k1s_streq(effect, "NoExecute")) &&
            !k1s_sched_tolerations_tolerate(json_object_get(p->spec, "tolerations"), t))
            return false;
    }
    return true;
}

static bool matches_all_terms(const k1s_sched_term_t *t, size_t n, const char *term_ns,
                              const char *ns, const json_t *labels)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!k1s_sched_term_matches(&t[i], term_ns, ns, labels))
            return false;
    return true;
}

/* InterPodAffinity PreFilter: topology pairs where the pod's affinity terms are satisfied, where
 * its anti-affinity terms are violated, and where existing pods' anti-affinity forbids it. */
static void prepare_affinity(const k1s_sched_cluster_t *c, k1s_sched_pod_t *p)
{
    p->aff = k1s_sched_terms_parse(c, pod_affinity(p->pod, "podAffinity", REQUIRED), false, 1,
                                   &p->n_aff);
    p->anti = k1s_sched_terms_parse(c, pod_affinity(p->pod, "podAntiAffinity", REQUIRED), false, 1,
                                    &p->n_anti);
    p->aff_counts = json_object();
    p->anti_counts = json_object();
    p->existing_anti = json_object();
    for (size_t i = 0; i < c->n_nodes; i++) {
        const k1s_sched_node_t *n = c->nodes[i];
        if (p->n_aff || p->n_anti) {
            for (size_t j = 0; j < n->n_pods; j++) {
                const k1s_sched_pinfo_t *e = &n->pods[j];
                if (p->n_aff && matches_all_terms(p->aff, p->n_aff, p->ns, e->ns, e->labels))
                    for (size_t k = 0; k < p->n_aff; k++) {
                        const char *v = k1s_sched_node_label(n, p->aff[k].topology_key);
                        if (v)
                            count_add(p->aff_counts, p->aff[k].topology_key, v, 1);
                    }
                for (size_t k = 0; k < p->n_anti; k++) {
                    const char *v = k1s_sched_node_label(n, p->anti[k].topology_key);
                    if (v && k1s_sched_term_matches(&p->anti[k], p->ns, e->ns, e->labels))
                        count_add(p->anti_counts, p->anti[k].topology_key, v, 1);
                }
            }
        }
        if (!n->n_affinity_pods)
            continue;
        for (size_t j = 0; j < n->n_pods; j++) {
            const k1s_sched_pinfo_t *e = &n->pods[j];
            if (!e->affinity)
                continue;
            const json_t *arr = pod_affinity(e->affinity_pod, "podAntiAffinity", REQUIRED);
            if (!json_array_size(arr))
                continue;
            size_t nt;
            k1s_sched_term_t *t = k1s_sched_terms_parse(c, arr, false, 1, &nt);
            for (size_t k = 0; k < nt; k++) {
                const char *v = k1s_sched_node_label(n, t[k].topology_key);
                if (v && k1s_sched_term_matches(&t[k], e->ns, p->ns, p->labels))
                    count_add(p->existing_anti, t[k].topology_key, v, 1);
            }
            k1s_sched_terms_free(t, nt);
        }
    }
    p->aff_no_match_anywhere = json_object_size(p->aff_counts) == 0;
}

bool k1s_sched_claim_is_for_pod(const json_t *pvc, const json_t *pod)
{
    const char *uid = json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(json_object_get(pvc, "metadata"), "ownerReferences"), i, r)
    {
        if (json_is_true(json_object_get(r, "controller")))
            return uid && k1s_streq(json_string_value(json_object_get(r, "uid")), uid);
    }
    return false;
}

/* VolumeBinding PreFilter (basic): every PVC must exist (a generic ephemeral volume's claim
 * "<pod>-<volume>" must be the pod's); bound claims contribute their PV's required node affinity
 * and zone labels; unbound claims must be of a WaitForFirstConsumer class (they are left to the
 * binder), else the pod waits for the PV controller. Then VolumeZone's PreFilter: every bound
 * claim's PV must exist. */
static char *prepare_volumes(const k1s_sched_cluster_t *c, k1s_sched_pod_t *p)
{
    size_t i;
    const json_t *v;
    const char *missing_pv = NULL;
    json_array_foreach(json_object_get(p->spec, "volumes"), i, v)
    {
        const char *claim = json_string_value(
            json_object_get(json_object_get(v, "persistentVolumeClaim"), "claimName"));
        char eph[512];
        bool is_eph = !claim && json_object_get(v, "ephemeral");
        if (is_eph) {
            const char *pod_name =
                json_string_value(json_object_get(json_object_get(p->pod, "metadata"), "name"));
            const char *vol_name = json_string_value(json_object_get(v, "name"));
            snprintf(eph, sizeof(eph), "%s-%s", pod_name ? pod_name : "", vol_name ? vol_name : "");
            claim = eph;
        }
        if (!claim || !c->lookup)
            continue;
        const json_t *pvc = c->lookup(c->lookup_arg, "PersistentVolumeClaim", p->ns, claim);
        if (!pvc && is_eph)
            return k1s_xasprintf("waiting for ephemeral volume controller to create the "
                                 "persistentvolumeclaim \"%s\"",
                                 claim);
        if (!pvc)
            return k1s_xasprintf("persistentvolumeclaim \"%s\" not found", claim);
        if (json_object_get(json_object_get(pvc, "metadata"), "deletionTimestamp"))
            return k1s_xasprintf("persistentvolumeclaim \"%s\" is being deleted", claim);
        if (is_eph && !k1s_sched_claim_is_for_pod(pvc, p->pod))
            return k1s_xasprintf(
                "PVC %s/%s was not created for pod %s/%s (pod is not owner)", p->ns, claim, p->ns,
                json_string_value(json_object_get(json_object_get(p->pod, "metadata"), "name")));
        const char *vol =
            json_string_value(json_object_get(json_object_get(pvc, "spec"), "volumeName"));
        if (!vol || !*vol) {
            /* unbound: fine for WaitForFirstConsumer classes, the binder's business; an
             * Immediate claim must be bound by the PV controller first */
            const char *cls = json_string_value(
                json_object_get(json_object_get(pvc, "spec"), "storageClassName"));
            if (!cls || !*cls)
                return k1s_xstrdup("pod has unbound immediate PersistentVolumeClaims");
            const json_t *sc = c->lookup(c->lookup_arg, "StorageClass", NULL, cls);
            if (!sc)
                return k1s_xasprintf("storageclass.storage.k8s.io \"%s\" not found", cls);
            if (!k1s_streq(json_string_value(json_object_get(sc, "volumeBindingMode")),
                           "WaitForFirstConsumer"))
                return k1s_xstrdup("pod has unbound immediate PersistentVolumeClaims");
            if (!p->claims)
                p->claims = k1s_xcalloc(json_array_size(json_object_get(p->spec, "volumes")),
                                        sizeof(*p->claims));
            k1s_sched_claim_prepare(c, &p->claims[p->n_claims++], pvc, sc);
            continue;
        }
        const json_t *pv = c->lookup(c->lookup_arg, "PersistentVolume", NULL, vol);
        if (!pv) {
            if (!missing_pv)
                missing_pv = vol;
            continue;
        }
        k1s_sched_zone_add_pv(p, pv);
        const json_t *terms = json_object_get(
            json_object_get(json_object_get(json_object_get(pv, "spec"), "nodeAffinity"),
                            "required"),
            "nodeSelectorTerms");
        if (!terms)
            continue;
        if (!p->pv_terms)
            p->pv_terms = json_array();
        json_array_append(p->pv_terms, (json_t *)terms);
    }
    if (missing_pv)
        return k1s_xasprintf("persistentvolume \"%s\" not found", missing_pv);
    return NULL;
}

/* NodeAffinity PreFilter: when every required term names nodes with matchFields metadata.name
 * In (intersected within a term, united over terms), only those nodes are evaluated. */
static void prepare_node_names(k1s_sched_pod_t *p)
{
    const json_t *terms = json_object_get(
        json_object_get(json_object_get(json_object_get(p->spec, "affinity"), "nodeAffinity"),
                        REQUIRED),
        "nodeSelectorTerms");
    if (!json_array_size(terms))
        return;
    json_t *all = json_object();
    size_t i, j, k;
    const json_t *t, *r, *v;
    json_array_foreach(terms, i, t)
    {
        json_t *term = NULL;
        json_array_foreach(json_object_get(t, "matchFields"), j, r)
        {
            if (!k1s_streq(json_string_value(json_object_get(r, "key")), "metadata.name") ||
                !k1s_streq(json_string_value(json_object_get(r, "operator")), "In"))
                continue;
            json_t *set = json_object();
            json_array_foreach(json_object_get(r, "values"), k, v)
            {
                if (json_is_string(v) && (!term || json_object_get(term, json_string_value(v))))
                    json_object_set_new(set, json_string_value(v), json_true());
            }
            json_decref(term);
            term = set;
        }
        if (!term) { /* a term without names allows every node */
            json_decref(all);
            return;
        }
        json_object_update(all, term);
        json_decref(term);
    }
    p->node_names = all;
}

bool k1s_sched_pod_prefilter_allows(const k1s_sched_pod_t *p, const k1s_sched_node_t *n)
{
    return !p->node_names || json_object_get(p->node_names, n->name);
}

k1s_sched_pod_t *k1s_sched_pod_new(const k1s_sched_cluster_t *c, const json_t *pod,
                                   char **prefilter_msg)
{
    k1s_sched_pod_t *p = k1s_xcalloc(1, sizeof(*p));
    p->c = c;
    p->pod = pod;
    p->ns = k1s_sched_pod_ns(pod);
    p->spec = json_object_get(pod, "spec");
    p->labels = json_object_get(json_object_get(pod, "metadata"), "labels");
    p->req = k1s_sched_pod_requests(pod);
    p->nonzero = k1s_sched_pod_nonzero_requests(pod);
    p->scalars = k1s_sched_pod_scalars(pod);
    p->n_ports = k1s_sched_pod_ports(pod, &p->ports);
    p->priority = k1s_sched_pod_priority(pod);
    char *msg = prepare_volumes(c, p);
    if (msg) {
        k1s_sched_pod_free(p);
        *prefilter_msg = msg;
        return NULL;
    }
    k1s_sched_restrictions_prepare(c, p);
    k1s_sched_csi_prepare(c, p);
    prepare_node_names(p);
    parse_spread(p);
    prepare_spread_filter(c, p);
    prepare_affinity(c, p);
    return p;
}

void k1s_sched_pod_free(k1s_sched_pod_t *p)
{
    if (!p)
        return;
    free(p->ports);
    k1s_sched_terms_free(p->aff, p->n_aff);
    k1s_sched_terms_free(p->anti, p->n_anti);
    json_decref(p->aff_counts);
    json_decref(p->anti_counts);
    json_decref(p->existing_anti);
    for (size_t k = 0; k < p->n_spread; k++) {
        k1s_label_selector_free(p->spread[k].sel);
        json_decref(p->spread[k].counts);
    }
    free(p->spread);
    json_decref(p->pv_terms);
    json_decref(p->pv_zones);
    json_decref(p->csi_vols);
    json_decref(p->rwop_claims);
    json_decref(p->rwop_node_uses);
    k1s_sched_claims_free(p->claims, p->n_claims);
    json_decref(p->node_names);
    json_decref(p->scalars);
    free(p);
}

/* ---------- the filters ---------- */

static void filter_unschedulable(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                                 k1s_sched_status_t *st)
{
    if (!json_is_true(json_object_get(json_object_get(n->node, "spec"), "unschedulable")))
        return;
    json_t *taint =
        json_pack("{s:s, s:s}", "key", "node.kubernetes.io/unschedulable", "effect", "NoSchedule");
    bool ok = k1s_sched_tolerations_tolerate(json_object_get(p->spec, "tolerations"), taint);
    json_decref(taint);
    if (!ok)
        fail(st, K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE, "node(s) were unschedulable");
}

static void filter_node_name(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                             k1s_sched_status_t *st)
{
    const char *want = json_string_value(json_object_get(p->spec, "nodeName"));
    if (want && *want && strcmp(want, n->name))
        fail(st, K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE,
             "node(s) didn't match the requested node name");
}

static void filter_taints(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                          k1s_sched_status_t *st)
{
    const json_t *tols = json_object_get(p->spec, "tolerations");
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(json_object_get(n->node, "spec"), "taints"), i, t)
    {
        const char *effect = json_string_value(json_object_get(t, "effect"));
        if (!k1s_streq(effect, "NoSchedule") && !k1s_streq(effect, "NoExecute"))
            continue;
        if (k1s_sched_tolerations_tolerate(tols, t))
            continue;
        const char *key = json_string_value(json_object_get(t, "key"));
        const char *val = json_string_value(json_object_get(t, "value"));
        char *r =
            k1s_xasprintf("node(s) had untolerated taint {%s: %s}", key ? key : "", val ? val : "");
        fail(st, K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE, r);
        free(r);
        return;
    }
}

static void filter_node_affinity(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                                 k1s_sched_status_t *st)
{
    if (!k1s_sched_pod_matches_node_affinity(p->pod, n))
        fail(st, K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE,
             "node(s) didn't match Pod's node affinity/selector");
}

static bool port_conflict(const k1s_sched_port_t *a, const k1s_sched_port_t *b)
{
    if (a->port != b->port || strcmp(a->proto, b->proto))
        return false;
    return !strcmp(a->ip, b->ip) || !strcmp(a->ip, "0.0.0.0") || !strcmp(b->ip, "0.0.0.0");
}

static void filter_ports(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                         k1s_sched_status_t *st)
{
    for (size_t i = 0; i < p->n_ports; i++)
        for (size_t j = 0; j < n->n_ports; j++)
            if (port_conflict(&p->ports[i], &n->ports[j])) {
                fail(st, K1S_SCHED_UNSCHEDULABLE,
                     "node(s) didn't have free ports for the requested pod ports");
                return;
            }
}

static void insufficient(k1s_sched_status_t *st, const char *reason, bool unresolvable)
{
    fail(st, unresolvable ? K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE : K1S_SCHED_UNSCHEDULABLE, reason);
}

static void filter_resources(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                             k1s_sched_status_t *st)
{
    if ((int64_t)n->n_pods + 1 > n->alloc_pods)
        insufficient(st, "Too many pods", false);
    const k1s_sched_res_t *r = &p->req, *a = &n->alloc, *u = &n->requested;
    if (r->milli_cpu > 0 && r->milli_cpu > a->milli_cpu - u->milli_cpu)
        insufficient(st, "Insufficient cpu", r->milli_cpu > a->milli_cpu);
    if (r->memory > 0 && r->memory > a->memory - u->memory)
        insufficient(st, "Insufficient memory", r->memory > a->memory);
    if (r->ephemeral > 0 && r->ephemeral > a->ephemeral - u->ephemeral)
        insufficient(st, "Insufficient ephemeral-storage", r->ephemeral > a->ephemeral);
    const char *k;
    json_t *v;
    json_object_foreach(p->scalars, k, v)
    {
        json_int_t want = json_integer_value(v);
        json_int_t have = json_integer_value(json_object_get(n->scalar_alloc, k));
        if (want > 0 && want > have - json_integer_value(json_object_get(n->scalar_req, k))) {
            char *reason = k1s_xasprintf("Insufficient %s", k);
            insufficient(st, reason, want > have);
            free(reason);
        }
    }
}

static void filter_volumes(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                           k1s_sched_status_t *st)
{
    size_t i;
    const json_t *terms;
    json_array_foreach(p->pv_terms, i, terms)
    {
        if (!k1s_sched_node_selector_terms_match(terms, n)) {
            fail(st, K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE,
                 "node(s) had volume node affinity conflict");
            return;
        }
    }
    if (p->n_claims && !k1s_sched_claims_fit(p, n, NULL))
        fail(st, K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE,
             "node(s) didn't find available persistent volumes to bind");
}

static void filter_volume_restrictions(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                                       k1s_sched_status_t *st)
{
    if (!k1s_sched_disk_fits(p, n))
        fail(st, K1S_SCHED_UNSCHEDULABLE, "node(s) had no available disk");
    else if (!k1s_sched_rwop_fits(p, n))
        fail(st, K1S_SCHED_UNSCHEDULABLE,
             "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod "
             "access mode");
}

static void filter_volume_limits(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                                 k1s_sched_status_t *st)
{
    if (!k1s_sched_csi_fits(p, n))
        fail(st, K1S_SCHED_UNSCHEDULABLE, "node(s) exceed max volume count");
}

static void filter_volume_zone(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                               k1s_sched_status_t *st)
{
    if (!k1s_sched_zone_fits(p, n))
        fail(st, K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE, "node(s) had no available volume zone");
}

static void filter_spread(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                          k1s_sched_status_t *st)
{
    for (size_t k = 0; k < p->n_spread; k++) {
        const k1s_sched_spread_t *s = &p->spread[k];
        if (!s->do_not_schedule)
            continue;
        const char *v = k1s_sched_node_label(n, s->topology_key);
        if (!v) {
            fail(st, K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE,
                 "node(s) didn't match pod topology spread constraints (missing required label)");
            return;
        }
        int64_t skew = count_get(s->counts, s->topology_key, v) + s->self_match - s->min_match;
        if (skew > s->max_skew) {
            fail(st, K1S_SCHED_UNSCHEDULABLE,
                 "node(s) didn't match pod topology spread constraints");
            return;
        }
    }
}

static void filter_inter_pod(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                             k1s_sched_status_t *st)
{
    if (p->n_aff) {
        bool exist = true;
        for (size_t k = 0; k < p->n_aff; k++) {
            const char *v = k1s_sched_node_label(n, p->aff[k].topology_key);
            if (!v) {
                exist = false;
                goto affinity_failed;
            }
            if (count_get(p->aff_counts, p->aff[k].topology_key, v) <= 0)
                exist = false;
        }
        /* The first pod of a group with affinity to itself may go anywhere with the keys. */
        if (!exist && !(p->aff_no_match_anywhere &&
                        matches_all_terms(p->aff, p->n_aff, p->ns, p->ns, p->labels))) {
        affinity_failed:
            fail(st, K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE,
                 "node(s) didn't match pod affinity rules");
            return;
        }
    }
    for (size_t k = 0; k < p->n_anti; k++) {
        const char *v = k1s_sched_node_label(n, p->anti[k].topology_key);
        if (v && count_get(p->anti_counts, p->anti[k].topology_key, v) > 0) {
            fail(st, K1S_SCHED_UNSCHEDULABLE, "node(s) didn't match pod anti-affinity rules");
            return;
        }
    }
    if (json_object_size(p->existing_anti)) {
        const char *k;
        const json_t *v;
        json_object_foreach(n->labels, k, v)
        {
            if (json_is_string(v) && count_get(p->existing_anti, k, json_string_value(v)) > 0) {
                fail(st, K1S_SCHED_UNSCHEDULABLE,
                     "node(s) didn't satisfy existing pods anti-affinity rules");
                return;
            }
        }
    }
}

typedef void (*filter_fn)(const k1s_sched_pod_t *, const k1s_sched_node_t *, k1s_sched_status_t *);

/* indexed by k1s_sched_plugin_t */
static const filter_fn filters[] = {
    filter_unschedulable,       filter_node_name,     filter_taints,
    filter_node_affinity,       filter_ports,         filter_resources,
    filter_volume_restrictions, filter_volume_limits, filter_volumes,
    filter_volume_zone,         filter_spread,        filter_inter_pod,
};
_Static_assert(sizeof(filters) / sizeof(filters[0]) == K1S_SCHED_N_FILTERS, "a filter per plugin");

void k1s_sched_filter(const k1s_sched_cluster_t *c, const k1s_sched_pod_t *p, size_t i,
                      k1s_sched_status_t *st)
{
    memset(st, 0, sizeof(*st));
    for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++) {
        filters[f](p, c->nodes[i], st);
        if (st->code != K1S_SCHED_OK) {
            st->plugin = (k1s_sched_plugin_t)f;
            return;
        }
    }
}
