/*
 * DefaultPreemption (PostFilter): for a pod that fits nowhere, find on the
 * nodes whose failure preemption could resolve the smallest set of
 * lower-priority pods whose eviction makes the pod fit (remove every lower
 * pod, then reprieve the most important ones that can stay, those whose
 * eviction a PodDisruptionBudget does not allow first), and pick the node as
 * pickOneNodeForPreemption does: fewest PDB violations, then lowest
 * highest-victim priority, then lowest sum of priorities, then fewest victims. When there is no
 * candidate, the message is "preemption: 0/N nodes are available: ..." with each node's reason, as
 * kube-scheduler 1.31+ words it (the FitError's own "." and the separator's make it end in "..", as
 * in real clusters).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "scheduler/sched-int.h"

static bool needs_cluster_state(const k1s_sched_pod_t *p)
{
    if (p->n_aff || p->n_anti || json_object_size(p->existing_anti))
        return true;
    for (size_t k = 0; k < p->n_spread; k++)
        if (p->spread[k].do_not_schedule)
            return true;
    return false;
}

/* Runs the filters for pod on node i of c, rebuilding the PreFilter state when it depends on
 * other nodes' pods. */
static bool fits(k1s_sched_cluster_t *c, const json_t *pod, k1s_sched_pod_t *base, size_t i,
                 k1s_sched_status_t *st)
{
    k1s_sched_pod_t *p = base;
    char *pre = NULL;
    if (needs_cluster_state(base)) {
        p = k1s_sched_pod_new(c, pod, &pre);
        if (!p) {
            free(pre);
            return false;
        }
    }
    k1s_sched_filter(c, p, i, st);
    if (p != base)
        k1s_sched_pod_free(p);
    return st->code == K1S_SCHED_OK;
}

/* MoreImportantPod: higher priority first, then the one that started earlier. */
static int importance_cmp(const void *x, const void *y)
{
    const k1s_sched_pinfo_t *a = *(const k1s_sched_pinfo_t *const *)x;
    const k1s_sched_pinfo_t *b = *(const k1s_sched_pinfo_t *const *)y;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    return strcmp(a->start_time, b->start_time);
}

typedef struct {
    size_t node;
    json_t *victims;
    int64_t max_prio, sum_prio;
    size_t violations; /* victims whose eviction a PodDisruptionBudget does not allow */
} candidate_t;

/* filterPodsWithPDBViolation: marks in violating[] the pods (in importance order) whose
 * eviction, after the ones before them, some matching PDB does not allow. */
static void pdb_violations(const k1s_sched_cluster_t *c, const k1s_sched_pinfo_t **pods, size_t n,
                           bool *violating)
{
    if (!c->n_pdbs)
        return;
    int64_t *allowed = k1s_xcalloc(c->n_pdbs, sizeof(*allowed));
    k1s_label_selector_t **sels = k1s_xcalloc(c->n_pdbs, sizeof(*sels));
    for (size_t k = 0; k < c->n_pdbs; k++) {
        const json_t *pdb = c->pdbs[k];
        allowed[k] = json_integer_value(
            json_object_get(json_object_get(pdb, "status"), "disruptionsAllowed"));
        const json_t *sel = json_object_get(json_object_get(pdb, "spec"), "selector");
        k1s_err_t err = {0};
        /* a nil or empty selector matches no pods */
        if (json_is_object(sel) && json_object_size(sel))
            sels[k] = k1s_label_selector_from_json(sel, &err);
    }
    for (size_t j = 0; j < n; j++) {
        for (size_t k = 0; k < c->n_pdbs; k++) {
            const json_t *pdb = c->pdbs[k];
            const char *ns =
                json_string_value(json_object_get(json_object_get(pdb, "metadata"), "namespace"));
            if (!sels[k] || !k1s_streq(ns, pods[j]->ns) ||
                !k1s_label_selector_matches(sels[k], pods[j]->labels))
                continue;
            /* a pod the PDB already counts as disrupted costs nothing more */
            if (json_object_get(json_object_get(json_object_get(pdb, "status"), "disruptedPods"),
                                pods[j]->name))
                continue;
            if (--allowed[k] < 0)
                violating[j] = true;
        }
    }
    for (size_t k = 0; k < c->n_pdbs; k++)
        k1s_label_selector_free(sels[k]);
    free(sels);
    free(allowed);
}

/* SelectVictimsOnNode. Returns a new array of victims, or NULL with st set; *violations is
 * how many of them a PDB does not allow to go. */
static json_t *select_victims(k1s_sched_cluster_t *c, const json_t *pod, k1s_sched_pod_t *p,
                              size_t i, k1s_sched_status_t *st, size_t *violations)
{
    *violations = 0;
    k1s_sched_node_t *orig = c->nodes[i];
    k1s_sched_node_t *clone = k1s_sched_node_clone_empty(orig);
    const k1s_sched_pinfo_t **potential =
        k1s_xcalloc(orig->n_pods ? orig->n_pods : 1, sizeof(*potential));
    size_t np = 0;
    for (size_t j = 0; j < orig->n_pods; j++) {
        if (orig->pods[j].priority < p->priority)
            potential[np++] = &orig->pods[j];
        else
            k1s_sched_node_add_pinfo(clone, &orig->pods[j]);
    }
    json_t *victims = NULL;
    if (!np) {
        st->code = K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE;
        st->reasons[st->n_reasons++] = k1s_xstrdup("No preemption victims found for incoming pod");
        goto out;
    }
    c->nodes[i] = clone;
    if (!fits(c, pod, p, i, st))
        goto restore;
    qsort(potential, np, sizeof(*potential), importance_cmp);
    bool *violating = k1s_xcalloc(np, sizeof(*violating));
    pdb_violations(c, potential, np, violating);
    victims = json_array();
    /* reprieve the pods whose eviction would violate a PDB first, then the others, each group
     * in importance order */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t j = 0; j < np; j++) {
            if (violating[j] != (pass == 0))
                continue;
            k1s_sched_node_add_pinfo(clone, potential[j]);
            k1s_sched_status_t tmp;
            if (fits(c, pod, p, i, &tmp))
                continue; /* reprieved */
            k1s_sched_status_clear(&tmp);
            k1s_sched_node_remove_pod(clone, potential[j]->ns, potential[j]->name);
            json_array_append_new(victims, k1s_sched_pinfo_pod(potential[j]));
            if (violating[j])
                (*violations)++;
        }
    }
    free(violating);
restore:
    c->nodes[i] = orig;
out:
    free(potential);
    k1s_sched_node_free(clone);
    return victims;
}

/* podTerminatingByPreemption: being deleted after a DisruptionTarget PreemptionByScheduler. */
static bool terminating_by_preemption(const k1s_sched_pinfo_t *pi)
{
    return pi->terminating && pi->preempted;
}

/* PodEligibleToPreemptOthers: not while victims of an earlier preemption are still terminating
 * on the nominated node (unless that node can no longer help at all). */
static bool waiting_for_victims(const k1s_sched_cluster_t *c, const json_t *pod,
                                const k1s_sched_status_t *st)
{
    const char *nnn =
        json_string_value(json_object_get(json_object_get(pod, "status"), "nominatedNodeName"));
    if (!nnn || !*nnn)
        return false;
    int64_t prio = k1s_sched_pod_priority(pod);
    for (size_t i = 0; i < c->n_nodes; i++) {
        const k1s_sched_node_t *n = c->nodes[i];
        if (strcmp(n->name, nnn))
            continue;
        if (st[i].code == K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE)
            return false;
        for (size_t j = 0; j < n->n_pods; j++)
            if (n->pods[j].priority < prio && terminating_by_preemption(&n->pods[j]))
                return true;
        return false;
    }
    return false;
}

bool k1s_sched_preempt(k1s_sched_cluster_t *c, const json_t *pod, k1s_sched_status_t *st,
                       size_t *node, json_t **victims, char **msg, bool *clear)
{
    const json_t *spec = json_object_get(pod, "spec");
    *msg = NULL;
    *clear = false;
    if (k1s_streq(json_string_value(json_object_get(spec, "preemptionPolicy")), "Never")) {
        *msg = k1s_xstrdup("preemption: not eligible due to preemptionPolicy=Never.");
        return false;
    }
    if (waiting_for_victims(c, pod, st)) {
        *msg = k1s_xstrdup("preemption: not eligible due to a terminating pod on the nominated "
                           "node.");
        return false;
    }
    char *pre = NULL;
    k1s_sched_pod_t *p = k1s_sched_pod_new(c, pod, &pre);
    free(pre);
    k1s_sched_status_t *pst = k1s_xcalloc(c->n_nodes, sizeof(*pst));
    bool *evaluated = k1s_xcalloc(c->n_nodes, sizeof(bool));
    candidate_t best = {0};
    bool found = false;
    /* GetOffsetAndNumCandidates: dry-run from a random node until max(100, 10%) candidates */
    size_t want = c->n_nodes / 10 < 100 ? 100 : c->n_nodes / 10, n_found = 0;
    size_t offset = (size_t)(k1s_sched_rand(&c->rng) % c->n_nodes);
    for (size_t step = 0; p && step < c->n_nodes && n_found < want; step++) {
        size_t i = (offset + step) % c->n_nodes;
        if (st[i].code != K1S_SCHED_UNSCHEDULABLE)
            continue;
        evaluated[i] = true;
        size_t violations;
        json_t *v = select_victims(c, pod, p, i, &pst[i], &violations);
        if (!v)
            continue;
        n_found++;
        candidate_t cand = {i, v, INT64_MIN, 0, violations};
        size_t k;
        const json_t *x;
        json_array_foreach(v, k, x)
        {
            int64_t pr = k1s_sched_pod_priority(x);
            if (pr > cand.max_prio)
                cand.max_prio = pr;
            cand.sum_prio += pr + 2147483648LL; /* MaxInt32+1 keeps negative priorities ordered */
        }
        /* ties keep the lowest node index, so that the pick does not depend on the offset */
        bool better = !found || cand.violations < best.violations ||
                      (cand.violations == best.violations && cand.max_prio < best.max_prio) ||
                      (cand.violations == best.violations && cand.max_prio == best.max_prio &&
                       (cand.sum_prio < best.sum_prio ||
                        (cand.sum_prio == best.sum_prio &&
                         (json_array_size(cand.victims) < json_array_size(best.victims) ||
                          (json_array_size(cand.victims) == json_array_size(best.victims) &&
                           i < best.node)))));
        if (better) {
            json_decref(best.victims);
            best = cand;
            found = true;
        } else {
            json_decref(v);
        }
    }
    if (found) {
        *node = best.node;
        *victims = best.victims;
    } else {
        for (size_t i = 0; i < c->n_nodes; i++) {
            if (evaluated[i])
                continue;
            pst[i].code = K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE;
            pst[i].reasons[pst[i].n_reasons++] =
                k1s_xstrdup("Preemption is not helpful for scheduling");
        }
        char *fe = k1s_sched_fit_error(c->n_nodes, pst, NULL, NULL);
        *msg = k1s_xasprintf("preemption: %s", fe);
        free(fe);
        *clear = true;
    }
    for (size_t i = 0; i < c->n_nodes; i++)
        k1s_sched_status_clear(&pst[i]);
    free(pst);
    free(evaluated);
    k1s_sched_pod_free(p);
    return found;
}
