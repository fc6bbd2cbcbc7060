/*
 * sched-bench: the scheduler's decision logic (src/scheduler) on its own.
 * Builds a snapshot of 1,000 nodes (10 zones) with 30 pods bound to each,
 * from 100 ReplicaSets, then times k1s_sched_schedule per pod for several
 * kinds of pod; each scheduled pod is bound to its node, as the scheduler
 * would, so the cluster fills up as it goes. Prints one line per case, in
 * microseconds of this thread's CPU time (and the wall-clock mean beside it):
 *   sched_<case>_us_per_pod <mean> (cpu: p50 <p50>, max <max>; wall mean <w>; ...)
 * Usage: sched-bench [nodes] [pods per node] [pods per case]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scheduler/sched.h"

/* Wall-clock time, and the CPU time of this thread (what the figures use: on a shared machine
 * the wall clock also counts time spent waiting for a core). */
static double clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double now_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

static double cpu_us(void)
{
    return clock_us(CLOCK_THREAD_CPUTIME_ID);
}

static json_t *node_json(int i)
{
    char name[32], zone[32];
    snprintf(name, sizeof(name), "node-%04d", i);
    snprintf(zone, sizeof(zone), "zone-%d", i % 10);
    return json_pack(
        "{s:{s:s, s:{s:s, s:s, s:s}}, s:{}, s:{s:{s:s, s:s, s:s, s:s}, s:[{s:[s], s:i}, "
        "{s:[s], s:i}]}}",
        "metadata", "name", name, "labels", "kubernetes.io/hostname", name,
        "topology.kubernetes.io/zone", zone, "kubernetes.io/os", "linux", "spec", "status",
        "allocatable", "cpu", "64", "memory", "256Gi", "pods", "110", "ephemeral-storage", "500Gi",
        "images", "names", "docker.io/library/nginx:1.25", "sizeBytes", 70000000, "names",
        "docker.io/library/redis:7", "sizeBytes", 40000000);
}

/* A pod of ReplicaSet rs (rs < 0: none), with requests and an app label. */
static json_t *pod_json(const char *name, int rs, const char *cpu, const char *mem)
{
    char app[32], uid[64];
    snprintf(app, sizeof(app), "app-%d", rs < 0 ? 9999 : rs);
    snprintf(uid, sizeof(uid), "00000000-0000-0000-0000-%012d", rs < 0 ? 0 : rs);
    json_t *pod =
        json_pack("{s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s, s:{s:{s:s, s:s}}, s:[{s:i}]}], s:i}}",
                  "metadata", "name", name, "namespace", "default", "labels", "app", app, "spec",
                  "containers", "name", "c", "image", "nginx:1.25", "resources", "requests", "cpu",
                  cpu, "memory", mem, "ports", "containerPort", 80, "priority", 0);
    if (rs >= 0) {
        json_t *md = json_object_get(pod, "metadata");
        json_object_set_new(md, "ownerReferences",
                            json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "apps/v1",
                                      "kind", "ReplicaSet", "name", app, "uid", uid, "controller",
                                      1));
    }
    return pod;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef json_t *(*make_fn)(int i);

static json_t *mk_plain(int i)
{
    char n[32];
    snprintf(n, sizeof(n), "plain-%d", i);
    return pod_json(n, -1, "100m", "128Mi");
}

static json_t *mk_rs(int i)
{
    char n[32];
    snprintf(n, sizeof(n), "rs-%d", i);
    return pod_json(n, 7, "100m", "128Mi");
}

static json_t *mk_affinity(int i)
{
    char n[32];
    snprintf(n, sizeof(n), "aff-%d", i);
    json_t *p = pod_json(n, 8, "100m", "128Mi");
    json_t *spec = json_object_get(p, "spec");
    json_object_set_new(
        spec, "affinity",
        json_pack("{s:{s:[{s:{s:{s:s}}, s:s}]}, s:{s:{s:{s:[{s:[{s:s, s:s, s:[s,s,s]}]}]}}}}",
                  "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                  "labelSelector", "matchLabels", "app", "app-8", "topologyKey",
                  "kubernetes.io/hostname", "nodeAffinity",
                  "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms",
                  "matchExpressions", "key", "topology.kubernetes.io/zone", "operator", "In",
                  "values", "zone-1", "zone-2", "zone-3"));
    json_object_set_new(spec, "topologySpreadConstraints",
                        json_pack("[{s:i, s:s, s:s, s:{s:{s:s}}}]", "maxSkew", 1, "topologyKey",
                                  "topology.kubernetes.io/zone", "whenUnsatisfiable",
                                  "DoNotSchedule", "labelSelector", "matchLabels", "app", "app-8"));
    return p;
}

static json_t *mk_unschedulable(int i)
{
    char n[32];
    snprintf(n, sizeof(n), "big-%d", i);
    json_t *p = pod_json(n, -1, "100", "1Gi");
    json_object_set_new(json_object_get(p, "spec"), "priority", json_integer(1000));
    return p;
}

/* Fits only if lower-priority pods go: DefaultPreemption's dry run on every node. */
static json_t *mk_preemptor(int i)
{
    char n[32];
    snprintf(n, sizeof(n), "vip-%d", i);
    json_t *p = pod_json(n, -1, "60", "1Gi");
    json_object_set_new(json_object_get(p, "spec"), "priority", json_integer(1000));
    return p;
}

static void run(const char *label, k1s_sched_cluster_t *c, make_fn mk, int n, int bind)
{
    double *t = calloc((size_t)n, sizeof(double)), sum = 0, wall = 0;
    int failed = 0, nominated = 0;
    for (int i = 0; i < n; i++) {
        json_t *pod = mk(i);
        k1s_sched_result_t r;
        double w0 = now_us(), t0 = cpu_us();
        k1s_sched_schedule(c, pod, &r);
        t[i] = cpu_us() - t0;
        wall += now_us() - w0;
        sum += t[i];
        if (r.scheduled && bind)
            k1s_sched_node_add_pod(c->nodes[r.node], pod);
        if (!r.scheduled)
            failed++;
        if (r.nominated)
            nominated++;
        if (i == 0 && !r.scheduled && r.message)
            fprintf(stderr, "%s: %s\n", label, r.message);
        k1s_sched_result_free(&r);
        json_decref(pod);
    }
    qsort(t, (size_t)n, sizeof(double), cmp_d);
    printf("sched_%s_us_per_pod %.0f (cpu: p50 %.0f, max %.0f; wall mean %.0f; %d pods, %d "
           "unschedulable, %d nominated)\n",
           label, sum / n, t[n / 2], t[n - 1], wall / n, n, failed, nominated);
    free(t);
}

int main(int argc, char **argv)
{
    int nodes = argc > 1 ? atoi(argv[1]) : 1000;
    int per_node = argc > 2 ? atoi(argv[2]) : 30;
    int per_case = argc > 3 ? atoi(argv[3]) : 200;
    k1s_sched_cluster_t c = {0};
    c.nodes = calloc((size_t)nodes, sizeof(*c.nodes));
    c.rng = 1;
    double t0 = now_us();
    for (int i = 0; i < nodes; i++) {
        json_t *nj = node_json(i);
        c.nodes[i] = k1s_sched_node_new(nj);
        json_decref(nj);
        for (int j = 0; j < per_node; j++) {
            char name[48];
            snprintf(name, sizeof(name), "p-%d-%d", i, j);
            json_t *p = pod_json(name, (i * per_node + j) % 100, "250m", "256Mi");
            k1s_sched_node_add_pod(c.nodes[i], p);
            json_decref(p);
        }
    }
    c.n_nodes = (size_t)nodes;
    printf("sched_snapshot_build_ms %.1f (%d nodes, %d pods)\n", (now_us() - t0) / 1e3, nodes,
           nodes * per_node);
    run("plain", &c, mk_plain, per_case, 1);
    run("replicaset", &c, mk_rs, per_case, 1);
    run("affinity_spread", &c, mk_affinity, per_case / 4 ? per_case / 4 : 1, 1);
    run("unschedulable", &c, mk_unschedulable, per_case / 10 ? per_case / 10 : 1, 0);
    run("preemption", &c, mk_preemptor, per_case / 10 ? per_case / 10 : 1, 0);
    for (int i = 0; i < nodes; i++)
        k1s_sched_node_free(c.nodes[i]);
    free(c.nodes);
    return 0;
}
