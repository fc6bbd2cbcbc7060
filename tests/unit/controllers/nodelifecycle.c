/* Unit tests for the node lifecycle controller (src/controllers/nodelifecycle.c): taints that
 * follow the node's conditions, and the Unknown status of a node past its grace period. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/nodelifecycle.c"

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("bad JSON: %s", e.text);
    return j;
}

/* "key:effect" of each taint, comma-separated; new string. */
static char *taint_list(const json_t *taints)
{
    char *out = k1s_xstrdup("");
    size_t i;
    json_t *t;
    json_array_foreach(taints, i, t)
    {
        char *n = k1s_xasprintf("%s%s%s:%s", out, *out ? "," : "", k1s_ctrl_str(t, "key"),
                                k1s_ctrl_str(t, "effect"));
        free(out);
        out = n;
    }
    return out;
}

static void check_taints_mode(const char *node_json, noexec_mode_t mode, const char *want)
{
    json_t *node = parse(node_json);
    json_t *t = reconciled_taints(node, mode);
    if (!want) {
        assert_null(t);
    } else {
        assert_non_null(t);
        char *got = taint_list(t);
        assert_string_equal(got, want);
        free(got);
    }
    json_decref(t);
    json_decref(node);
}

static void check_taints(const char *node_json, const char *want)
{
    check_taints_mode(node_json, NOEXEC_FOLLOW, want);
}

static void test_taints_follow_conditions(void **state)
{
    /* a Ready node without taints: nothing to do */
    check_taints("{\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}]}}",
                 NULL);
    /* Unknown: the unreachable taints, NoExecute with timeAdded */
    check_taints(
        "{\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": \"Unknown\"}]}}",
        "node.kubernetes.io/unreachable:NoSchedule,node.kubernetes.io/unreachable:NoExecute");
    /* False instead: not-ready replaces unreachable, other taints stay */
    check_taints("{\"spec\": {\"taints\": [{\"key\": \"dedicated\", \"effect\": \"NoSchedule\"}, "
                 "{\"key\": \"node.kubernetes.io/unreachable\", \"effect\": \"NoExecute\"}]}, "
                 "\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": \"False\"}]}}",
                 "dedicated:NoSchedule,node.kubernetes.io/not-ready:NoSchedule,"
                 "node.kubernetes.io/not-ready:NoExecute");
    /* back to Ready: the controller's taints go */
    check_taints("{\"spec\": {\"taints\": [{\"key\": \"node.kubernetes.io/unreachable\", "
                 "\"effect\": \"NoExecute\"}, {\"key\": \"node.kubernetes.io/unreachable\", "
                 "\"effect\": \"NoSchedule\"}]}, "
                 "\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}]}}",
                 "");
    /* pressure conditions and cordon */
    check_taints("{\"spec\": {\"unschedulable\": true}, \"status\": {\"conditions\": ["
                 "{\"type\": \"Ready\", \"status\": \"True\"}, "
                 "{\"type\": \"DiskPressure\", \"status\": \"True\"}, "
                 "{\"type\": \"MemoryPressure\", \"status\": \"False\"}]}}",
                 "node.kubernetes.io/disk-pressure:NoSchedule,"
                 "node.kubernetes.io/unschedulable:NoSchedule");
    /* already right: nothing to write */
    check_taints("{\"spec\": {\"unschedulable\": true, \"taints\": [{\"key\": "
                 "\"node.kubernetes.io/unschedulable\", \"effect\": \"NoSchedule\"}]}, "
                 "\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}]}}",
                 NULL);
}

static void test_noexec_modes(void **state)
{
    const char *unknown =
        "{\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": \"Unknown\"}]}}";
    /* rate-limited or in a disrupted zone: no new NoExecute taint, NoSchedule still */
    check_taints_mode(unknown, NOEXEC_NO_NEW, "node.kubernetes.io/unreachable:NoSchedule");
    /* ... but a swap of the one there is no new taint */
    check_taints_mode("{\"spec\": {\"taints\": [{\"key\": \"node.kubernetes.io/not-ready\", "
                      "\"effect\": \"NoExecute\"}]}, \"status\": {\"conditions\": "
                      "[{\"type\": \"Ready\", \"status\": \"Unknown\"}]}}",
                      NOEXEC_NO_NEW,
                      "node.kubernetes.io/unreachable:NoSchedule,"
                      "node.kubernetes.io/unreachable:NoExecute");
    /* every node down: the NoExecute taints go */
    check_taints_mode("{\"spec\": {\"taints\": [{\"key\": \"node.kubernetes.io/unreachable\", "
                      "\"effect\": \"NoExecute\"}, {\"key\": \"node.kubernetes.io/unreachable\", "
                      "\"effect\": \"NoSchedule\"}]}, \"status\": {\"conditions\": "
                      "[{\"type\": \"Ready\", \"status\": \"Unknown\"}]}}",
                      NOEXEC_CLEAR, "node.kubernetes.io/unreachable:NoSchedule");
}

static void test_wants_new_noexec(void **state)
{
    json_t *n =
        parse("{\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": \"False\"}]}}");
    assert_true(wants_new_noexec(n));
    json_decref(n);
    n = parse("{\"spec\": {\"taints\": [{\"key\": \"node.kubernetes.io/unreachable\", "
              "\"effect\": \"NoExecute\"}]}, "
              "\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": \"False\"}]}}");
    assert_false(wants_new_noexec(n)); /* a swap */
    json_decref(n);
    n = parse("{\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}]}}");
    assert_false(wants_new_noexec(n));
    json_decref(n);
}

static void test_zone_of(void **state)
{
    json_t *n = parse("{\"metadata\": {\"labels\": {\"topology.kubernetes.io/zone\": \"z1\", "
                      "\"topology.kubernetes.io/region\": \"r\"}}}");
    char *z = zone_of(n);
    assert_string_equal(z, "r:z1");
    free(z);
    json_decref(n);
}

static void test_unknown_status(void **state)
{
    nodelife_t nl = {.grace = 40};
    json_t *node =
        parse("{\"metadata\": {\"name\": \"n\"}, \"status\": {\"conditions\": ["
              "{\"type\": \"Ready\", \"status\": \"True\", \"reason\": \"KubeletReady\", "
              "\"lastHeartbeatTime\": \"2026-01-01T00:00:00Z\"}, "
              "{\"type\": \"MemoryPressure\", \"status\": \"False\"}]}}");
    health_t h = {.probe = k1s_ctrl_now() - 10, .has_ready = true};
    assert_null(unknown_status(&nl, node, &h)); /* within the grace period */
    h.probe = k1s_ctrl_now() - 41;
    json_t *st = unknown_status(&nl, node, &h);
    assert_non_null(st);
    json_t *ready = node_condition(st, "Ready");
    assert_string_equal(k1s_ctrl_str(ready, "status"), "Unknown");
    assert_string_equal(k1s_ctrl_str(ready, "reason"), "NodeStatusUnknown");
    assert_string_equal(k1s_ctrl_str(ready, "message"), "Kubelet stopped posting node status.");
    /* the last heartbeat stays what the kubelet wrote */
    assert_string_equal(k1s_ctrl_str(ready, "lastHeartbeatTime"), "2026-01-01T00:00:00Z");
    assert_string_equal(k1s_ctrl_str(node_condition(st, "MemoryPressure"), "status"), "Unknown");
    /* conditions the kubelet never posted are added */
    json_t *disk = node_condition(st, "DiskPressure");
    assert_string_equal(k1s_ctrl_str(disk, "reason"), "NodeStatusNeverUpdated");
    assert_string_equal(k1s_ctrl_str(disk, "message"), "Kubelet never posted node status.");
    /* once Unknown, nothing more to write */
    assert_null(unknown_status(&nl, st, &h));
    json_decref(st);
    json_decref(node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taints_follow_conditions), cmocka_unit_test(test_noexec_modes),
        cmocka_unit_test(test_wants_new_noexec),         cmocka_unit_test(test_zone_of),
        cmocka_unit_test(test_unknown_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
