/*
 * The score plugins of kube-scheduler's default profile, each normalised to
 * 0..100 over the feasible nodes as the plugin's NormalizeScore does, with the
 * profile's weights: TaintToleration 3, NodeAffinity 2, NodeResourcesFit 1
 * (LeastAllocated on cpu and memory), PodTopologySpread 2, InterPodAffinity 2,
 * NodeResourcesBalancedAllocation 1, ImageLocality 1.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "scheduler/sched-int.h"

const int k1s_sched_score_weights[K1S_SCORE_N] = {
    [K1S_SCORE_TAINT_TOLERATION] = 3,   [K1S_SCORE_NODE_AFFINITY] = 2,
    [K1S_SCORE_RESOURCES_FIT] = 1,      [K1S_SCORE_TOPOLOGY_SPREAD] = 2,
    [K1S_SCORE_INTER_POD_AFFINITY] = 2, [K1S_SCORE_BALANCED_ALLOCATION] = 1,
    [K1S_SCORE_IMAGE_LOCALITY] = 1,
};

#define MAX_SCORE 100

/* helper.DefaultNormalizeScore */
static void default_normalize(int64_t *s, size_t n, bool reverse)
{
    int64_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] > max)
            max = s[i];
    if (max == 0) {
        if (reverse)
            for (size_t i = 0; i < n; i++)
                s[i] = MAX_SCORE;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t v = MAX_SCORE * s[i] / max;
        s[i] = reverse ? MAX_SCORE - v : v;
    }
}

static void score_taints(const k1s_sched_cluster_t *c, const k1s_sched_pod_t *p,
                         const size_t *feasible, size_t n, int64_t *out)
{
    /* only tolerations that can tolerate PreferNoSchedule count */
    json_t *tols = json_array();
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(p->spec, "tolerations"), i, t)
    {
        const char *e = json_string_value(json_object_get(t, "effect"));
        if (!e || !*e || !strcmp(e, "PreferNoSchedule"))
            json_array_append(tols, (json_t *)t);
    }
    for (size_t j = 0; j < n; j++) {
        const k1s_sched_node_t *node = c->nodes[feasible[j]];
        int64_t cnt = 0;
        json_array_foreach(json_object_get(json_object_get(node->node, "spec"), "taints"), i, t)
        {
            if (k1s_streq(json_string_value(json_object_get(t, "effect")), "PreferNoSchedule") &&
                !k1s_sched_tolerations_tolerate(tols, t))
                cnt++;
        }
        out[j] = cnt;
    }
    json_decref(tols);
    default_normalize(out, n, true);
}

static void score_node_affinity(const k1s_sched_cluster_t *c, const k1s_sched_pod_t *p,
                                const size_t *feasible, size_t n, int64_t *out)
{
    const json_t *pref =
        json_object_get(json_object_get(json_object_get(p->spec, "affinity"), "nodeAffinity"),
                        "preferredDuringSchedulingIgnoredDuringExecution");
    for (size_t j = 0; j < n; j++) {
        int64_t s = 0;
        size_t i;
        const json_t *t;
        json_array_foreach(pref, i, t)
        {
            json_int_t w = json_integer_value(json_object_get(t, "weight"));
            if (w && k1s_sched_node_selector_term_match(json_object_get(t, "preference"),
                                                        c->nodes[feasible[j]]))
                s += w;
        }
        out[j] = s;
    }
    default_normalize(out, n, false);
}

static int64_t least_requested(int64_t requested, int64_t capacity)
{
    if (capacity <= 0 || requested > capacity)
        return 0;
    return (capacity - requested) * MAX_SCORE / capacity;
}

static void score_least_allocated(const k1s_sched_cluster_t *c, const k1s_sched_pod_t *p,
                                  const size_t *feasible, size_t n, int64_t *out)
{
    for (size_t j = 0; j < n; j++) {
        const k1s_sched_node_t *node = c->nodes[feasible[j]];
        int64_t cpu =
            least_requested(node->nonzero.milli_cpu + p->nonzero.milli_cpu, node->alloc.milli_cpu);
        int64_t mem = least_requested(node->nonzero.memory + p->nonzero.memory, node->alloc.memory);
        out[j] = (cpu + mem) / 2;
    }
}

static void score_balanced(const k1s_sched_cluster_t *c, const k1s_sched_pod_t *p,
                           const size_t *feasible, size_t n, int64_t *out)
{
    for (size_t j = 0; j < n; j++) {
        const k1s_sched_node_t *node = c->nodes[feasible[j]];
        double f[2];
        int k = 0;
        if (node->alloc.milli_cpu > 0) {
            double v = (double)(node->requested.milli_cpu + p->req.milli_cpu) /
                       (double)node->alloc.milli_cpu;
            f[k++] = v > 1 ? 1 : v;
        }
        if (node->alloc.memory > 0) {
            double v =
                (double)(node->requested.memory + p->req.memory) / (double)node->alloc.memory;
            f[k++] = v > 1 ? 1 : v;
        }
        double std = k == 2 ? fabs(f[0] - f[1]) / 2 : 0;
        out[j] = (int64_t)((1 - std) * MAX_SCORE);
    }
}

/* ---------- ImageLocality ---------- */

#define MB (1024LL * 1024)
#define MIN_THRESHOLD (23 * MB)
#define MAX_CONTAINER_THRESHOLD (1000 * MB)

/* Kubernetes' normalizedImageName: a name without tag or digest means :latest. */
static char *normalized_image(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *last = slash ? slash + 1 : name;
    if (strchr(last, ':') || strchr(name, '@'))
        return k1s_xstrdup(name);
    return k1s_xasprintf("%s:latest", name);
}

/* Size of image on node (matching one of its names exactly, as kube-scheduler's ImageStates map
 * does: "nginx:latest" does not find "docker.io/library/nginx:latest"), or -1. */
static int64_t image_size(const k1s_sched_node_t *node, const char *image)
{
    const json_t *v = json_object_get(node->images, image);
    return v ? json_integer_value(v) : -1;
}

static void score_images(const k1s_sched_cluster_t *c, const k1s_sched_pod_t *p,
                         const size_t *feasible, size_t n, int64_t *out)
{
    /* init containers count too (kube-scheduler 1.29+) */
    const json_t *ics = json_object_get(p->spec, "initContainers");
    const json_t *cs = json_object_get(p->spec, "containers");
    size_t ni = json_array_size(ics), nc = ni + json_array_size(cs);
    char **imgs = k1s_xcalloc(nc ? nc : 1, sizeof(*imgs));
    int64_t *spread = k1s_xcalloc(nc ? nc : 1, sizeof(*spread));
    for (size_t i = 0; i < nc; i++) {
        const json_t *ctr = i < ni ? json_array_get(ics, i) : json_array_get(cs, i - ni);
        const char *im = json_string_value(json_object_get(ctr, "image"));
        imgs[i] = normalized_image(im ? im : "");
        for (size_t k = 0; k < c->n_nodes; k++)
            spread[i] += image_size(c->nodes[k], imgs[i]) >= 0;
    }
    int64_t max = MAX_CONTAINER_THRESHOLD * (int64_t)(nc ? nc : 1);
    for (size_t j = 0; j < n; j++) {
        int64_t sum = 0;
        for (size_t i = 0; i < nc; i++) {
            int64_t sz = image_size(c->nodes[feasible[j]], imgs[i]);
            if (sz > 0)
                sum += (int64_t)((double)sz * ((double)spread[i] / (double)c->n_nodes));
        }
        if (sum < MIN_THRESHOLD)
            sum = MIN_THRESHOLD;
        else if (sum > max)
            sum = max;
        out[j] = MAX_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD);
    }
    for (size_t i = 0; i < nc; i++)
        free(imgs[i]);
    free(imgs);
    free(spread);
}

/* ---------- InterPodAffinity (preferred terms, both directions) ---------- */

static const json_t *affinity_of(const json_t *pod, const char *kind, const char *when)
{
    return json_object_get(
        json_object_get(json_object_get(json_object_get(pod, "spec"), "affinity"), kind), when);
}

static void add_pair(json_t *m, const char *key, const char *val, int64_t d)
{
    char k[512];
    snprintf(k, sizeof(k), "%s\t%s", key, val);
    json_t *c = json_object_get(m, k);
    json_object_set_new(m, k, json_integer((c ? json_integer_value(c) : 0) + d));
}

static void score_inter_pod(const k1s_sched_cluster_t *c, const k1s_sched_pod_t *p,
                            const size_t *feasible, size_t n, int64_t *out)
{
    size_t npa, npn;
    k1s_sched_term_t *pa = k1s_sched_terms_parse(
        c, affinity_of(p->pod, "podAffinity", "preferredDuringSchedulingIgnoredDuringExecution"),
        true, 1, &npa);
    k1s_sched_term_t *pn = k1s_sched_terms_parse(
        c,
        affinity_of(p->pod, "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution"),
        true, -1, &npn);
    json_t *m = json_object();
    for (size_t i = 0; i < c->n_nodes; i++) {
        const k1s_sched_node_t *node = c->nodes[i];
        if (!npa && !npn && !node->n_affinity_pods)
            continue;
        for (size_t j = 0; j < node->n_pods; j++) {
            const k1s_sched_pinfo_t *e = &node->pods[j];
            for (size_t k = 0; k < npa + npn; k++) {
                const k1s_sched_term_t *t = k < npa ? &pa[k] : &pn[k - npa];
                const char *v = k1s_sched_node_label(node, t->topology_key);
                if (v && k1s_sched_term_matches(t, p->ns, e->ns, e->labels))
                    add_pair(m, t->topology_key, v, t->weight);
            }
            if (!e->affinity)
                continue;
            /* existing pods' terms that match the incoming pod; required affinity counts with
             * hardPodAffinityWeight 1 */
            static const struct {
                const char *kind, *when;
                bool weighted;
                int sign;
            } kinds[] = {
                {"podAffinity", "requiredDuringSchedulingIgnoredDuringExecution", false, 1},
                {"podAffinity", "preferredDuringSchedulingIgnoredDuringExecution", true, 1},
                {"podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", true, -1},
            };
            for (size_t q = 0; q < 3; q++) {
                size_t nt;
                k1s_sched_term_t *t = k1s_sched_terms_parse(
                    c, affinity_of(e->affinity_pod, kinds[q].kind, kinds[q].when),
                    kinds[q].weighted, kinds[q].sign, &nt);
                for (size_t k = 0; k < nt; k++) {
                    const char *v = k1s_sched_node_label(node, t[k].topology_key);
                    if (v && k1s_sched_term_matches(&t[k], e->ns, p->ns, p->labels))
                        add_pair(m, t[k].topology_key, v, t[k].weight);
                }
                k1s_sched_terms_free(t, nt);
            }
        }
    }
    k1s_sched_terms_free(pa, npa);
    k1s_sched_terms_free(pn, npn);
    int64_t min = INT64_MAX, max = INT64_MIN;
    for (size_t j = 0; j < n; j++) {
        int64_t s = 0;
        if (json_object_size(m)) {
            const char *key;
            const json_t *v;
            json_object_foreach((json_t *)c->nodes[feasible[j]]->labels, key, v)
            {
                char k[512];
                snprintf(k, sizeof(k), "%s\t%s", key,
                         json_string_value(v) ? json_string_value(v) : "");
                s += json_integer_value(json_object_get(m, k));
            }
        }
        out[j] = s;
        if (s < min)
            min = s;
        if (s > max)
            max = s;
    }
    json_decref(m);
    for (size_t j = 0; j < n; j++)
        out[j] = max > min
                     ? (int64_t)((double)MAX_SCORE * (double)(out[j] - min) / (double)(max - min))
                     : 0;
}

/* ---------- PodTopologySpread (ScheduleAnyway constraints) ---------- */

static bool spread_pod_matches(const k1s_sched_spread_t *s, const char *ns,
                               const k1s_sched_pinfo_t *e)
{
    if (strcmp(e->ns, ns) || e->terminating)
        return false;
    if (!s->sel)
        return k1s_streq(e->owner_uid, s->owner_uid);
    return k1s_label_selector_matches(s->sel, e->labels);
}

/* A small open-addressing map from a label value to a count, for one constraint's domains. The
 * keys point into the nodes' JSON, which outlives the attempt. */
typedef struct {
    const char *key;
    int64_t count;
} dom_t;

typedef struct {
    dom_t *slots;
    size_t cap, n;
} dommap_t;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot of key, created (count 0) when create is set; NULL if absent. */
static dom_t *dom_get(dommap_t *m, const char *key, bool create)
{
    if (create && (m->n + 1) * 2 > m->cap) {
        dommap_t g = {k1s_xcalloc(m->cap ? m->cap * 2 : 64, sizeof(dom_t)),
                      m->cap ? m->cap * 2 : 64, 0};
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key)
                *dom_get(&g, m->slots[i].key, true) = m->slots[i];
        free(m->slots);
        *m = g;
    }
    if (!m->cap)
        return NULL;
    for (size_t i = str_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        dom_t *d = &m->slots[i];
        if (!d->key) {
            if (!create)
                return NULL;
            d->key = key;
            m->n++;
            return d;
        }
        if (!strcmp(d->key, key))
            return d;
    }
}

static void score_spread(const k1s_sched_cluster_t *c, const k1s_sched_pod_t *p,
                         const size_t *feasible, size_t n, int64_t *out)
{
    size_t ns = 0;
    for (size_t k = 0; k < p->n_spread; k++)
        ns += !p->spread[k].do_not_schedule;
    if (!ns) {
        for (size_t j = 0; j < n; j++)
            out[j] = 0;
        return;
    }
    /* nodes lacking a key (non-default constraints) are ignored and score 0 */
    bool *ignored = k1s_xcalloc(n ? n : 1, sizeof(bool));
    dommap_t *dom = k1s_xcalloc(p->n_spread, sizeof(dommap_t));
    double *weight = k1s_xcalloc(p->n_spread, sizeof(double));
    for (size_t j = 0; j < n; j++) {
        const k1s_sched_node_t *node = c->nodes[feasible[j]];
        for (size_t k = 0; k < p->n_spread; k++) {
            const k1s_sched_spread_t *s = &p->spread[k];
            if (s->do_not_schedule)
                continue;
            const char *v = k1s_sched_node_label(node, s->topology_key);
            if (!v) {
                if (!p->spread_default)
                    ignored[j] = true;
                continue;
            }
            dom_get(&dom[k], v, true);
        }
    }
    for (size_t k = 0; k < p->n_spread; k++)
        weight[k] = log((double)dom[k].n + 2);
    /* count the matching pods in every scored domain, over the nodes the inclusion policies
     * admit (by default: those passing the pod's node affinity) */
    for (size_t i = 0; i < c->n_nodes; i++) {
        const k1s_sched_node_t *node = c->nodes[i];
        bool aff = k1s_sched_pod_matches_node_affinity(p->pod, node);
        int64_t default_cnt = -1;
        for (size_t k = 0; k < p->n_spread; k++) {
            const k1s_sched_spread_t *s = &p->spread[k];
            if (s->do_not_schedule || !k1s_sched_spread_includes(p, s, node, aff))
                continue;
            const char *v = k1s_sched_node_label(node, s->topology_key);
            dom_t *d = v ? dom_get(&dom[k], v, false) : NULL;
            if (!d)
                continue;
            int64_t cnt = 0;
            if (!s->sel) {
                /* the default constraints share one matcher: count once per node */
                if (default_cnt < 0)
                    default_cnt = k1s_sched_node_owner_count(node, s->owner_uid);
                cnt = default_cnt;
            } else {
                for (size_t j = 0; j < node->n_pods; j++)
                    cnt += spread_pod_matches(s, p->ns, &node->pods[j]);
            }
            d->count += cnt;
        }
    }
    int64_t min = INT64_MAX, max = INT64_MIN;
    for (size_t j = 0; j < n; j++) {
        if (ignored[j]) {
            out[j] = 0;
            continue;
        }
        const k1s_sched_node_t *node = c->nodes[feasible[j]];
        double sc = 0;
        for (size_t k = 0; k < p->n_spread; k++) {
            const k1s_sched_spread_t *s = &p->spread[k];
            if (s->do_not_schedule)
                continue;
            const char *v = k1s_sched_node_label(node, s->topology_key);
            dom_t *d = v ? dom_get(&dom[k], v, false) : NULL;
            if (!d)
                continue;
            sc += (double)d->count * weight[k] + (double)(s->max_skew - 1);
        }
        out[j] = (int64_t)llround(sc);
        if (out[j] < min)
            min = out[j];
        if (out[j] > max)
            max = out[j];
    }
    for (size_t j = 0; j < n; j++) {
        if (ignored[j])
            continue;
        if (max == 0) {
            out[j] = MAX_SCORE;
            continue;
        }
        out[j] = MAX_SCORE * (max + min - out[j]) / max;
    }
    for (size_t k = 0; k < p->n_spread; k++)
        free(dom[k].slots);
    free(dom);
    free(ignored);
    free(weight);
}

void k1s_sched_score(const k1s_sched_cluster_t *c, const k1s_sched_pod_t *p,
                     k1s_sched_score_plugin_t plugin, const size_t *feasible, size_t n,
                     int64_t *out)
{
    switch (plugin) {
    case K1S_SCORE_TAINT_TOLERATION: score_taints(c, p, feasible, n, out); break;
    case K1S_SCORE_NODE_AFFINITY: score_node_affinity(c, p, feasible, n, out); break;
    case K1S_SCORE_RESOURCES_FIT: score_least_allocated(c, p, feasible, n, out); break;
    case K1S_SCORE_TOPOLOGY_SPREAD: score_spread(c, p, feasible, n, out); break;
    case K1S_SCORE_INTER_POD_AFFINITY: score_inter_pod(c, p, feasible, n, out); break;
    case K1S_SCORE_BALANCED_ALLOCATION: score_balanced(c, p, feasible, n, out); break;
    case K1S_SCORE_IMAGE_LOCALITY: score_images(c, p, feasible, n, out); break;
    default:
        for (size_t j = 0; j < n; j++)
            out[j] = 0;
    }
}
