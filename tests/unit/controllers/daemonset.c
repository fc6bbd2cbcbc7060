/* Unit tests for the DaemonSet controller's pure parts (src/controllers/daemonset.c): which
 * nodes run a daemon pod, the pods it builds, their target nodes, maxUnavailable/maxSurge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/daemonset.c"

static json_t *node(const char *name, const char *labels, const char *taints)
{
    char *s = k1s_xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":"
                            "\"%s\",\"labels\":%s},\"spec\":{\"taints\":%s},\"status\":{"
                            "\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"}}}",
                            name, labels, taints);
    json_t *n = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(n);
    return n;
}

static json_t *probe(const char *spec)
{
    json_t *p = json_pack("{s:o}", "spec", json_loads(spec, 0, NULL));
    add_daemon_tolerations(json_object_get(p, "spec"));
    return p;
}

static void check(const json_t *pod, json_t *n, bool run, bool cont)
{
    bool r, c;
    should_run(pod, n, &r, &c);
    assert_int_equal(r, run);
    assert_int_equal(c, cont);
}

static void test_should_run(void **state)
{
    json_t *plain = node("a", "{\"disk\":\"ssd\"}", "[]");
    json_t *hdd = node("b", "{\"disk\":\"hdd\"}", "[]");
    json_t *nosched = node("c", "{\"disk\":\"ssd\"}",
                           "[{\"key\":\"dedicated\",\"value\":\"x\",\"effect\":\"NoSchedule\"}]");
    json_t *noexec = node("d", "{\"disk\":\"ssd\"}",
                          "[{\"key\":\"dedicated\",\"value\":\"x\",\"effect\":\"NoExecute\"}]");
    json_t *notready = node("e", "{}",
                            "[{\"key\":\"node.kubernetes.io/not-ready\",\"effect\":\"NoExecute\"},"
                            "{\"key\":\"node.kubernetes.io/unschedulable\",\"effect\":"
                            "\"NoSchedule\"}]");
    json_t *netdown = node("f", "{}",
                           "[{\"key\":\"node.kubernetes.io/network-unavailable\",\"effect\":"
                           "\"NoSchedule\"}]");
    json_t *any = probe("{\"containers\":[]}");
    check(any, plain, true, true);
    check(any, nosched, false, true); /* an existing pod may stay */
    check(any, noexec, false, false);
    check(any, notready, true, true); /* the daemon tolerations */
    check(any, netdown, false, true);
    json_t *host = probe("{\"hostNetwork\":true}");
    check(host, netdown, true, true);
    json_t *sel = probe("{\"nodeSelector\":{\"disk\":\"ssd\"}}");
    check(sel, plain, true, true);
    check(sel, hdd, false, false);
    json_t *aff = probe("{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuring"
                        "Execution\":{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":"
                        "\"disk\",\"operator\":\"In\",\"values\":[\"hdd\"]}]}]}}}}");
    check(aff, plain, false, false);
    check(aff, hdd, true, true);
    json_t *tol = probe("{\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Exists\"}]}");
    check(tol, nosched, true, true);
    check(tol, noexec, true, true);
    json_t *named = probe("{\"nodeName\":\"b\"}");
    check(named, plain, false, false);
    check(named, hdd, true, true);
    json_t *objs[] = {plain, hdd,  nosched, noexec, notready, netdown,
                      any,   host, sel,     aff,    tol,      named};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(objs); i++)
        json_decref(objs[i]);
}

static void test_new_pod_and_target(void **state)
{
    json_t *ds = json_loads(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"agent\","
        "\"namespace\":\"ns\",\"uid\":\"u\"},\"spec\":{\"template\":{\"metadata\":{\"labels\":"
        "{\"app\":\"agent\"}},\"spec\":{\"containers\":[],\"tolerations\":[{\"key\":"
        "\"node.kubernetes.io/not-ready\",\"effect\":\"NoExecute\",\"operator\":\"Exists\","
        "\"tolerationSeconds\":5}],\"affinity\":{\"nodeAffinity\":{\"requiredDuringScheduling"
        "IgnoredDuringExecution\":{\"nodeSelectorTerms\":[{\"matchExpressions\":[]}]}}}}}}}",
        0, NULL);
    assert_non_null(ds);
    const json_t *tmpl = json_object_get(json_object_get(ds, "spec"), "template");
    json_t *pod = new_pod(ds, tmpl, "node-1", "h4sh", "7");
    const json_t *md = json_object_get(pod, "metadata");
    assert_string_equal(k1s_ctrl_str(md, "generateName"), "agent-");
    const json_t *labels = json_object_get(md, "labels");
    assert_string_equal(k1s_ctrl_str(labels, "app"), "agent");
    assert_string_equal(k1s_ctrl_str(labels, REVISION_LABEL), "h4sh");
    assert_string_equal(k1s_ctrl_str(labels, GENERATION_LABEL), "7");
    assert_string_equal(target_node(pod), "node-1");
    /* the not-ready toleration is replaced by the unbounded one, not duplicated */
    const json_t *tols = json_object_get(json_object_get(pod, "spec"), "tolerations");
    assert_int_equal(json_array_size(tols), 6);
    size_t i;
    const json_t *t;
    json_array_foreach(tols, i, t)
    {
        assert_null(json_object_get(t, "tolerationSeconds"));
    }
    assert_true(pod_updated(pod, "h4sh", NULL));
    assert_true(pod_updated(pod, "other", "7"));
    assert_false(pod_updated(pod, "other", "8"));
    json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_string("node-2"));
    assert_string_equal(target_node(pod), "node-2");
    json_t *bare = json_pack("{s:{}}", "spec");
    assert_null(target_node(bare));
    json_decref(bare);
    json_decref(pod);
    json_decref(ds);
}

static void test_int_or_percent(void **state)
{
    json_t *v = json_integer(2);
    assert_int_equal(int_or_percent(v, 10, 1), 2);
    json_decref(v);
    v = json_string("25%");
    assert_int_equal(int_or_percent(v, 3, 1), 1); /* rounded up */
    assert_int_equal(int_or_percent(v, 8, 1), 2);
    json_decref(v);
    v = json_string("0%");
    assert_int_equal(int_or_percent(v, 8, 1), 0);
    json_decref(v);
    assert_int_equal(int_or_percent(NULL, 8, 1), 1);
}

static void test_failed_backoff(void **state)
{
    dsc_t c;
    memset(&c, 0, sizeof(c));
    uint64_t wait = 0;
    assert_true(failed_backoff_allows(&c, "ns/ds", "n1", &wait)); /* the first at once */
    assert_false(failed_backoff_allows(&c, "ns/ds", "n1", &wait));
    assert_true(wait > 0 && wait <= FAILED_BACKOFF_INITIAL_MS + 1);
    assert_true(failed_backoff_allows(&c, "ns/ds", "n2", &wait)); /* per node */
    /* once the delay has passed, the next one doubles */
    backoff_t *b = k1s_strmap_get(&c.backoff, "ns/ds/n1");
    b->next_ns = k1s_now_ns() - 1;
    assert_true(failed_backoff_allows(&c, "ns/ds", "n1", &wait));
    assert_int_equal(b->delay_ms, 2 * FAILED_BACKOFF_INITIAL_MS);
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&c.backoff, &i, &k, &v);)
        free(v);
    k1s_strmap_free(&c.backoff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_should_run),
        cmocka_unit_test(test_new_pod_and_target),
        cmocka_unit_test(test_int_or_percent),
        cmocka_unit_test(test_failed_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
