/* Unit tests for src/agent/eviction.c: thresholds met, requests, kubelet's ranking order and
 * its Evicted message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/eviction.h"

static json_t *mkpod(const char *name, int priority, const char *mem_req, const char *disk_req)
{
    json_t *res = json_object();
    json_t *req = json_object();
    if (mem_req)
        json_object_set_new(req, "memory", json_string(mem_req));
    if (disk_req)
        json_object_set_new(req, "ephemeral-storage", json_string(disk_req));
    json_object_set_new(res, "requests", req);
    json_t *p = json_pack("{s:{s:s,s:s},s:{s:[{s:s,s:o}]}}", "metadata", "name", name, "namespace",
                          "default", "spec", "containers", "name", "c", "resources", res);
    if (priority)
        json_object_set_new(json_object_get(p, "spec"), "priority", json_integer(priority));
    return p;
}

static void add(k1s_evict_pod_t *v, size_t i, json_t *pod, bool stats, uint64_t mem, uint64_t disk)
{
    v[i].pod = pod;
    v[i].has_stats = stats;
    v[i].memory = mem;
    v[i].disk = disk;
    v[i].inodes = disk / 4096;
    v[i].ctrs = calloc(1, sizeof(k1s_evict_ctr_t));
    v[i].ctrs[0] = (k1s_evict_ctr_t){strdup("c"), stats, stats, mem, disk};
    v[i].nctrs = 1;
}

static const char *name_of(const k1s_evict_pod_t *p)
{
    return json_string_value(json_object_get(json_object_get(p->pod, "metadata"), "name"));
}

static void test_rank_memory(void **state)
{
    (void)state;
    k1s_evict_pod_t *v = calloc(6, sizeof(*v));
    /* guaranteed-ish: under its request; high usage but within request */
    add(v, 0, mkpod("within", 0, "1Gi", NULL), true, 900u << 20, 0);
    /* best effort, small usage: exceeds its (zero) request */
    add(v, 1, mkpod("be-small", 0, NULL, NULL), true, 10u << 20, 0);
    /* best effort, large usage */
    add(v, 2, mkpod("be-large", 0, NULL, NULL), true, 200u << 20, 0);
    /* exceeds, but a higher priority: after the lower-priority ones that exceed */
    add(v, 3, mkpod("be-important", 1000, NULL, NULL), true, 500u << 20, 0);
    /* no stats: first of all */
    add(v, 4, mkpod("nostats", 0, NULL, NULL), false, 0, 0);
    /* burstable, exceeds its request by 50Mi */
    add(v, 5, mkpod("burst", 0, "100Mi", NULL), true, 150u << 20, 0);
    k1s_eviction_rank(v, 6, K1S_RES_MEMORY);
    const char *want[] = {"nostats", "be-large", "burst", "be-small", "be-important", "within"};
    for (int i = 0; i < 6; i++)
        assert_string_equal(name_of(&v[i]), want[i]);
    k1s_evict_pods_free(v, 6);
}

static void test_rank_disk(void **state)
{
    (void)state;
    k1s_evict_pod_t *v = calloc(3, sizeof(*v));
    add(v, 0, mkpod("req", 0, NULL, "1Gi"), true, 0, 500u << 20);
    add(v, 1, mkpod("be", 0, NULL, NULL), true, 0, 1u << 20);
    add(v, 2, mkpod("low-prio", -10, NULL, "1Gi"), true, 0, 10u << 20);
    k1s_eviction_rank(v, 3, K1S_RES_EPHEMERAL_STORAGE);
    /* only "be" exceeds its request; then lower priority first */
    assert_string_equal(name_of(&v[0]), "be");
    assert_string_equal(name_of(&v[1]), "low-prio");
    assert_string_equal(name_of(&v[2]), "req");
    k1s_evict_pods_free(v, 3);
}

static void test_request(void **state)
{
    (void)state;
    json_t *p = mkpod("p", 0, "100Mi", "1G");
    assert_true(k1s_evict_pod_request(p, K1S_RES_MEMORY) == 100ull << 20);
    assert_true(k1s_evict_pod_request(p, K1S_RES_EPHEMERAL_STORAGE) == 1000000000ull);
    assert_true(k1s_evict_pod_request(p, K1S_RES_INODES) == 0);
    /* an init container asking more than the app containers' sum sets the request */
    json_object_set_new(
        json_object_get(p, "spec"), "initContainers",
        json_pack("[{s:s,s:{s:{s:s}}}]", "name", "i", "resources", "requests", "memory", "1Gi"));
    assert_true(k1s_evict_pod_request(p, K1S_RES_MEMORY) == 1ull << 30);
    json_decref(p);
    json_t *crit = mkpod("crit", 2000001000, NULL, NULL);
    assert_true(k1s_eviction_critical(crit));
    json_decref(crit);
    json_t *plain = mkpod("plain", 0, NULL, NULL);
    assert_false(k1s_eviction_critical(plain));
    json_decref(plain);
}

static void test_met_and_message(void **state)
{
    (void)state;
    k1s_evict_threshold_t hard[K1S_SIG_N] = {0};
    hard[K1S_SIG_MEMORY_AVAILABLE] = (k1s_evict_threshold_t){true, 0, 100ull << 20};
    hard[K1S_SIG_NODEFS_AVAILABLE] = (k1s_evict_threshold_t){true, 0.10, 0};
    k1s_evict_obs_t obs[K1S_SIG_N] = {0};
    obs[K1S_SIG_MEMORY_AVAILABLE] = (k1s_evict_obs_t){true, 200ull << 20, 1ull << 30};
    obs[K1S_SIG_NODEFS_AVAILABLE] = (k1s_evict_obs_t){true, 50ull << 20, 1ull << 30};
    obs[K1S_SIG_IMAGEFS_AVAILABLE] = (k1s_evict_obs_t){true, 1, 1ull << 30}; /* no threshold */
    bool met[K1S_SIG_N];
    assert_int_equal(k1s_eviction_met(hard, obs, met), 1);
    assert_false(met[K1S_SIG_MEMORY_AVAILABLE]);
    assert_true(met[K1S_SIG_NODEFS_AVAILABLE]);
    assert_false(met[K1S_SIG_IMAGEFS_AVAILABLE]);
    obs[K1S_SIG_MEMORY_AVAILABLE].available = 99ull << 20;
    assert_int_equal(k1s_eviction_met(hard, obs, met), 2);
    assert_true(met[K1S_SIG_MEMORY_AVAILABLE]);

    k1s_evict_pod_t *v = calloc(1, sizeof(*v));
    add(v, 0, mkpod("be", 0, NULL, NULL), true, 0, 10u << 20);
    char *m = k1s_eviction_message(K1S_RES_EPHEMERAL_STORAGE, &v[0],
                                   &hard[K1S_SIG_NODEFS_AVAILABLE], &obs[K1S_SIG_NODEFS_AVAILABLE]);
    assert_string_equal(m, "The node was low on resource: ephemeral-storage. Threshold quantity: "
                           "107374182, available: 50Mi. Container c was using 10Mi, request is "
                           "0, has larger consumption of ephemeral-storage. ");
    free(m);
    k1s_evict_pods_free(v, 1);

    char *s = k1s_evict_bytes_string(100ull << 20);
    assert_string_equal(s, "100Mi");
    free(s);
    s = k1s_evict_bytes_string(1536ull * 1024);
    assert_string_equal(s, "1536Ki");
    free(s);
    s = k1s_evict_bytes_string(1000);
    assert_string_equal(s, "1000");
    free(s);
    s = k1s_evict_bytes_string(0);
    assert_string_equal(s, "0");
    free(s);
}

static void test_admit(void **state)
{
    (void)state;
    json_t *be = mkpod("be", 0, NULL, NULL);
    json_t *crit = mkpod("crit", 2000001000, NULL, NULL);
    assert_null(k1s_eviction_admit(false, false, be, "BestEffort"));
    char *m = k1s_eviction_admit(false, true, be, "Burstable");
    assert_string_equal(m, "The node had condition: [DiskPressure]. ");
    free(m);
    m = k1s_eviction_admit(true, false, be, "BestEffort");
    assert_string_equal(m, "The node had condition: [MemoryPressure]. ");
    free(m);
    m = k1s_eviction_admit(true, true, be, "Guaranteed");
    assert_string_equal(m, "The node had condition: [MemoryPressure DiskPressure]. ");
    free(m);
    /* memory pressure only: pods with requests, and BestEffort ones tolerating the taint */
    assert_null(k1s_eviction_admit(true, false, be, "Burstable"));
    json_object_set_new(json_object_get(be, "spec"), "tolerations",
                        json_pack("[{s:s,s:s,s:s}]", "key", "node.kubernetes.io/memory-pressure",
                                  "operator", "Exists", "effect", "NoSchedule"));
    assert_null(k1s_eviction_admit(true, false, be, "BestEffort"));
    /* critical pods always */
    assert_null(k1s_eviction_admit(true, true, crit, "BestEffort"));
    json_decref(be);
    json_decref(crit);
}

/* ---- the manager, with fake signals and a fake kubelet ---- */

static k1s_evict_obs_t fake_obs[K1S_SIG_N];
static int n_evicted, n_reclaim, n_gc;
static char evicted_name[64], last_message[512];
static char events[1024];
static bool reclaim_frees;

static void fake_observe(const char *dir, k1s_evict_obs_t obs[K1S_SIG_N])
{
    (void)dir;
    memcpy(obs, fake_obs, sizeof(fake_obs));
}

static void set_nodefs_pct(double pct)
{
    fake_obs[K1S_SIG_NODEFS_AVAILABLE] =
        (k1s_evict_obs_t){true, (uint64_t)(pct * (1ull << 30)), 1ull << 30};
}

static void op_gc(void *arg)
{
    (void)arg;
    n_gc++;
}

static int op_reclaim(void *arg, uint64_t *freed)
{
    (void)arg;
    n_reclaim++;
    if (!reclaim_frees)
        return 0;
    set_nodefs_pct(0.5);
    *freed = 1u << 20;
    return 1;
}

static size_t op_pods(void *arg, k1s_evict_pod_t **out)
{
    (void)arg;
    k1s_evict_pod_t *v = calloc(3, sizeof(*v));
    add(v, 0, mkpod("critical", 2000001000, NULL, NULL), false, 0, 0); /* ranks first */
    add(v, 1, mkpod("be", 0, NULL, NULL), true, 0, 50u << 20);
    add(v, 2, mkpod("req", 0, NULL, "1Gi"), true, 0, 1u << 20);
    *out = v;
    return 3;
}

static int op_evict(void *arg, const json_t *pod, const char *message)
{
    (void)arg;
    n_evicted++;
    snprintf(evicted_name, sizeof(evicted_name), "%s",
             json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")));
    snprintf(last_message, sizeof(last_message), "%s", message);
    return 0;
}

static void op_event(void *arg, const char *type, const char *reason, const char *message)
{
    (void)arg;
    (void)message;
    strncat(events, reason, sizeof(events) - strlen(events) - 2);
    strncat(events, " ", sizeof(events) - strlen(events) - 1);
}

static void test_manager(void **state)
{
    (void)state;
    k1s_kubelet_config_t cfg;
    k1s_kubelet_config_default(&cfg);
    cfg.pressure_transition_s = 1;
    memset(fake_obs, 0, sizeof(fake_obs));
    fake_obs[K1S_SIG_MEMORY_AVAILABLE] = (k1s_evict_obs_t){true, 8ull << 30, 16ull << 30};
    set_nodefs_pct(0.05); /* below nodefs.available<10% */
    k1s_eviction_t *ev = k1s_eviction_new(&cfg, "n1", "/nonexistent");
    k1s_eviction_set_observer(ev, fake_observe);
    bool mem, disk;
    /* before the kubelet attaches: conditions only */
    assert_true(k1s_eviction_sync(ev));
    k1s_eviction_pressure(ev, &mem, &disk);
    assert_false(mem);
    assert_true(disk);
    k1s_eviction_ops_t ops = {NULL, op_gc, op_reclaim, op_pods, op_evict, op_event};
    k1s_eviction_set_ops(ev, &ops);
    assert_non_null(strstr(events, "NodeHasDiskPressure"));
    /* images first, then one pod: the critical one is skipped */
    assert_false(k1s_eviction_sync(ev));
    assert_int_equal(n_gc, 1);
    assert_int_equal(n_reclaim, 1);
    assert_int_equal(n_evicted, 1);
    assert_string_equal(evicted_name, "be");
    assert_non_null(strstr(last_message, "The node was low on resource: ephemeral-storage. "));
    assert_non_null(strstr(events, "EvictionThresholdMet"));
    /* reclaiming images is enough: nobody is evicted */
    reclaim_frees = true;
    set_nodefs_pct(0.05);
    k1s_eviction_sync(ev);
    assert_int_equal(n_reclaim, 2);
    assert_int_equal(n_evicted, 1);
    /* the signal is fine now, but DiskPressure stays for the transition period */
    k1s_eviction_pressure(ev, &mem, &disk);
    assert_true(disk);
    assert_false(k1s_eviction_sync(ev));
    k1s_eviction_pressure(ev, &mem, &disk);
    assert_true(disk);
    assert_int_equal(n_reclaim, 2);
    sleep(2);
    assert_true(k1s_eviction_sync(ev));
    k1s_eviction_pressure(ev, &mem, &disk);
    assert_false(disk);
    assert_non_null(strstr(events, "NodeHasNoDiskPressure"));
    /* memory comes first, and is ranked by memory */
    fake_obs[K1S_SIG_MEMORY_AVAILABLE].available = 50ull << 20;
    set_nodefs_pct(0.05);
    reclaim_frees = false;
    assert_true(k1s_eviction_sync(ev));
    k1s_eviction_pressure(ev, &mem, &disk);
    assert_true(mem && disk);
    assert_int_equal(n_reclaim, 2); /* no image reclaim for memory */
    assert_int_equal(n_evicted, 2);
    assert_non_null(strstr(last_message, "The node was low on resource: memory. "));
    k1s_eviction_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_memory), cmocka_unit_test(test_rank_disk),
        cmocka_unit_test(test_request),     cmocka_unit_test(test_met_and_message),
        cmocka_unit_test(test_admit),       cmocka_unit_test(test_manager),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
