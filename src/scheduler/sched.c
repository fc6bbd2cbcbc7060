/*
 * One scheduling attempt: PreFilter, the filters on every node, the weighted
 * scores of the feasible nodes and the pick of the best (ties broken at
 * random, seedable), or, when nothing fits, the FailedScheduling message in
 * kube-scheduler's words and DefaultPreemption.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "scheduler/sched-int.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *k1s_sched_fit_error(size_t n_nodes, const k1s_sched_status_t *st, const char *prefilter,
                          const char *postfilter)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_printf(&b, "0/%zu nodes are available:", n_nodes);
    if (prefilter && *prefilter) {
        k1s_buf_printf(&b, " %s.", prefilter);
    } else {
        /* FitError.Error: "<count> <reason>" strings, sorted as strings, comma-joined */
        json_t *hist = json_object();
        for (size_t i = 0; i < n_nodes; i++)
            for (int r = 0; r < st[i].n_reasons; r++) {
                json_t *c = json_object_get(hist, st[i].reasons[r]);
                json_object_set_new(hist, st[i].reasons[r],
                                    json_integer((c ? json_integer_value(c) : 0) + 1));
            }
        size_t n = json_object_size(hist), k = 0;
        if (n) {
            char **items = k1s_xcalloc(n, sizeof(*items));
            const char *key;
            json_t *v;
            json_object_foreach(hist, key, v) items[k++] =
                k1s_xasprintf("%lld %s", (long long)json_integer_value(v), key);
            qsort(items, n, sizeof(*items), cmp_str);
            k1s_buf_puts(&b, " ");
            for (k = 0; k < n; k++) {
                k1s_buf_printf(&b, "%s%s", k ? ", " : "", items[k]);
                free(items[k]);
            }
            k1s_buf_puts(&b, ".");
            free(items);
        }
        json_decref(hist);
    }
    if (postfilter && *postfilter)
        k1s_buf_printf(&b, " %s.", postfilter);
    return k1s_buf_steal(&b);
}

uint64_t k1s_sched_rand(uint64_t *s)
{
    if (!*s)
        *s = 0x9e3779b97f4a7c15ULL;
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* addGeneralNominatedPods: the nodes where pods of higher or equal priority are nominated are
 * replaced, for this attempt, by copies holding those pods too. Returns the originals (NULL
 * where not replaced), or NULL when nothing was replaced. */
static k1s_sched_node_t **hold_nominated(k1s_sched_cluster_t *c, const json_t *pod)
{
    if (!c->n_nominated)
        return NULL;
    int64_t prio = k1s_sched_pod_priority(pod);
    const json_t *md = json_object_get(pod, "metadata");
    const char *ns = k1s_sched_pod_ns(pod), *name = json_string_value(json_object_get(md, "name"));
    k1s_sched_node_t **saved = NULL;
    for (size_t k = 0; k < c->n_nominated; k++) {
        const k1s_sched_nominated_t *e = &c->nominated[k];
        const json_t *emd = json_object_get(e->pod, "metadata");
        if (!strcmp(k1s_sched_pod_ns(e->pod), ns) &&
            k1s_streq(json_string_value(json_object_get(emd, "name")), name))
            continue;
        if (k1s_sched_pod_priority(e->pod) < prio)
            continue;
        size_t i;
        for (i = 0; i < c->n_nodes && strcmp(c->nodes[i]->name, e->node); i++)
            ;
        if (i == c->n_nodes)
            continue;
        if (!saved)
            saved = k1s_xcalloc(c->n_nodes, sizeof(*saved));
        if (!saved[i]) {
            saved[i] = c->nodes[i];
            k1s_sched_node_t *copy = k1s_sched_node_clone_empty(saved[i]);
            for (size_t j = 0; j < saved[i]->n_pods; j++)
                k1s_sched_node_add_pinfo(copy, &saved[i]->pods[j]);
            c->nodes[i] = copy;
        }
        k1s_sched_node_add_pod(c->nodes[i], (json_t *)e->pod);
    }
    return saved;
}

static void release_nominated(k1s_sched_cluster_t *c, k1s_sched_node_t **saved)
{
    if (!saved)
        return;
    for (size_t i = 0; i < c->n_nodes; i++)
        if (saved[i]) {
            k1s_sched_node_free(c->nodes[i]);
            c->nodes[i] = saved[i];
        }
    free(saved);
}

static void schedule(k1s_sched_cluster_t *c, const json_t *pod, k1s_sched_result_t *res);

void k1s_sched_schedule(k1s_sched_cluster_t *c, const json_t *pod, k1s_sched_result_t *res)
{
    memset(res, 0, sizeof(*res));
    if (!c->n_nodes) {
        res->message = k1s_xstrdup("no nodes available to schedule pods");
        return;
    }
    k1s_sched_node_t **saved = hold_nominated(c, pod);
    schedule(c, pod, res);
    release_nominated(c, saved);
}

static void schedule(k1s_sched_cluster_t *c, const json_t *pod, k1s_sched_result_t *res)
{
    k1s_sched_status_t *st = k1s_xcalloc(c->n_nodes, sizeof(*st));
    char *pre = NULL;
    k1s_sched_pod_t *p = k1s_sched_pod_new(c, pod, &pre);
    size_t *feasible = k1s_xcalloc(c->n_nodes, sizeof(*feasible));
    size_t nf = 0;
    if (!p) {
        for (size_t i = 0; i < c->n_nodes; i++) {
            st[i].code = K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE;
            st[i].plugin = K1S_SCHED_VOLUME_BINDING;
            st[i].reasons[st[i].n_reasons++] = k1s_xstrdup(pre);
        }
    } else {
        /* evaluateNominatedNode: a pod nominated by an earlier preemption goes there if it fits */
        const char *nnn =
            json_string_value(json_object_get(json_object_get(pod, "status"), "nominatedNodeName"));
        for (size_t i = 0; nnn && *nnn && i < c->n_nodes; i++) {
            if (strcmp(c->nodes[i]->name, nnn) || !k1s_sched_pod_prefilter_allows(p, c->nodes[i]))
                continue;
            k1s_sched_filter(c, p, i, &st[i]);
            if (st[i].code == K1S_SCHED_OK)
                feasible[nf++] = i;
            else
                k1s_sched_status_clear(&st[i]);
            break;
        }
    }
    if (p && !nf) {
        /* numFeasibleNodesToFind: with percentageOfNodesToScore unset, stop after an adaptive
         * share of the nodes (50% - n/125%, at least 5%, at least 100 nodes) fits, taking the
         * nodes round robin from where the last attempt stopped */
        size_t want = c->n_nodes;
        if (c->n_nodes >= 100) {
            long pct = 50 - (long)c->n_nodes / 125;
            if (pct < 5)
                pct = 5;
            want = c->n_nodes * (size_t)pct / 100;
            if (want < 100)
                want = 100;
        }
        size_t start = c->next_start % c->n_nodes, step;
        for (step = 0; step < c->n_nodes && nf < want; step++) {
            size_t i = (start + step) % c->n_nodes;
            if (!k1s_sched_pod_prefilter_allows(p, c->nodes[i])) {
                st[i].code = K1S_SCHED_UNSCHEDULABLE_UNRESOLVABLE;
                st[i].plugin = K1S_SCHED_NODE_AFFINITY;
                st[i].reasons[st[i].n_reasons++] =
                    k1s_xstrdup("node(s) didn't satisfy plugin(s) [NodeAffinity]");
                continue;
            }
            k1s_sched_filter(c, p, i, &st[i]);
            if (st[i].code == K1S_SCHED_OK)
                feasible[nf++] = i;
        }
        c->next_start = (start + step) % c->n_nodes;
    }
    if (p && nf) {
        int64_t *total = k1s_xcalloc(nf, sizeof(*total));
        int64_t *s = k1s_xcalloc(nf, sizeof(*s));
        if (nf > 1) {
            for (int pl = 0; pl < K1S_SCORE_N; pl++) {
                k1s_sched_score(c, p, (k1s_sched_score_plugin_t)pl, feasible, nf, s);
                for (size_t j = 0; j < nf; j++)
                    total[j] += s[j] * k1s_sched_score_weights[pl];
            }
        }
        /* selectHost: reservoir sampling among the nodes with the top score */
        size_t best = 0, ties = 1;
        for (size_t j = 1; j < nf; j++) {
            if (total[j] > total[best]) {
                best = j;
                ties = 1;
            } else if (total[j] == total[best]) {
                ties++;
                if (k1s_sched_rand(&c->rng) % ties == 0)
                    best = j;
            }
        }
        res->scheduled = true;
        res->node = feasible[best];
        res->score = total[best];
        free(total);
        free(s);
    } else {
        size_t node;
        json_t *victims = NULL;
        char *post = NULL;
        if (k1s_sched_preempt(c, pod, st, &node, &victims, &post, &res->clear_nomination)) {
            res->nominated = true;
            res->nominated_node = node;
            res->victims = victims;
        }
        res->message = k1s_sched_fit_error(c->n_nodes, st, pre, post);
        for (size_t i = 0; i < c->n_nodes; i++)
            if (st[i].code != K1S_SCHED_OK)
                res->rejected_by |= 1u << st[i].plugin;
        free(post);
    }
    for (size_t i = 0; i < c->n_nodes; i++)
        k1s_sched_status_clear(&st[i]);
    free(st);
    free(feasible);
    free(pre);
    k1s_sched_pod_free(p);
}

void k1s_sched_result_free(k1s_sched_result_t *res)
{
    free(res->message);
    json_decref(res->victims);
    memset(res, 0, sizeof(*res));
}
