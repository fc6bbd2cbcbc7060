/* Unit tests for src/agent/node.c: host facts parsing, taints and labels, capacity, conditions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/node.h"

static void test_meminfo(void **state)
{
    (void)state;
    const char *t = "MemTotal:       24684084 kB\nMemFree:         1000 kB\n"
                    "MemAvailable:   20000000 kB\nBuffers: 1 kB\n";
    uint64_t total = 0, avail = 0;
    assert_int_equal(k1s_node_parse_meminfo(t, &total, &avail), 0);
    assert_true(total == 24684084ull * 1024);
    assert_true(avail == 20000000ull * 1024);
    assert_int_equal(k1s_node_parse_meminfo("MemTotal: 5 kB\n", &total, &avail), -EINVAL);
    assert_int_equal(k1s_node_parse_meminfo("", &total, &avail), -EINVAL);
}

static void test_os_release_and_runtime(void **state)
{
    (void)state;
    char *s = k1s_node_parse_os_release("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 "
                                        "(bookworm)\"\nID=debian\n");
    assert_string_equal(s, "Debian GNU/Linux 12 (bookworm)");
    free(s);
    s = k1s_node_parse_os_release("PRETTY_NAME=Alpine\n");
    assert_string_equal(s, "Alpine");
    free(s);
    s = k1s_node_parse_os_release("ID=x\n");
    assert_string_equal(s, "Linux");
    free(s);
    s = k1s_node_parse_runtime_version("runc", "runc version 1.1.5\ncommit: v1.1.5\nspec: 1.0.2\n");
    assert_string_equal(s, "runc://1.1.5");
    free(s);
    s = k1s_node_parse_runtime_version("crun", "crun version 1.8.1\ncommit: abc\n");
    assert_string_equal(s, "crun://1.8.1");
    free(s);
    assert_null(k1s_node_parse_runtime_version("runc", "sh: runc: not found\n"));
    assert_string_equal(k1s_node_goarch("x86_64"), "amd64");
    assert_string_equal(k1s_node_goarch("aarch64"), "arm64");
}

static void test_taints(void **state)
{
    (void)state;
    json_t *t;
    k1s_err_t err = {0};
    assert_int_equal(k1s_node_parse_taint("k=v:NoSchedule", &t, &err), 0);
    assert_string_equal(json_string_value(json_object_get(t, "key")), "k");
    assert_string_equal(json_string_value(json_object_get(t, "value")), "v");
    assert_string_equal(json_string_value(json_object_get(t, "effect")), "NoSchedule");
    json_decref(t);
    assert_int_equal(k1s_node_parse_taint("example.com/gpu:NoExecute", &t, &err), 0);
    assert_string_equal(json_string_value(json_object_get(t, "key")), "example.com/gpu");
    assert_null(json_object_get(t, "value"));
    json_decref(t);
    assert_int_equal(k1s_node_parse_taint("k=v:PreferNoSchedule", &t, &err), 0);
    json_decref(t);
    assert_int_equal(k1s_node_parse_taint("k=v", &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "key=value:Effect"));
    assert_int_equal(k1s_node_parse_taint("k=v:Sometimes", &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "NoSchedule, PreferNoSchedule, NoExecute"));
    assert_int_equal(k1s_node_parse_taint("=v:NoSchedule", &t, &err), -EINVAL);
    assert_int_equal(k1s_node_parse_taint("k=v w:NoSchedule", &t, &err), -EINVAL);
}

static void test_labels(void **state)
{
    (void)state;
    char *k, *v;
    k1s_err_t err = {0};
    assert_int_equal(k1s_node_parse_label("a=b", &k, &v, &err), 0);
    assert_string_equal(k, "a");
    assert_string_equal(v, "b");
    free(k);
    free(v);
    assert_int_equal(k1s_node_parse_label("topology.kubernetes.io/zone=", &k, &v, &err), 0);
    assert_string_equal(v, "");
    free(k);
    free(v);
    assert_int_equal(k1s_node_parse_label("novalue", &k, &v, &err), -EINVAL);
    assert_int_equal(k1s_node_parse_label("a=b c", &k, &v, &err), -EINVAL);
}

static const k1s_node_facts_t facts = {.cpus = 4,
                                       .mem_total = 8ull << 30,
                                       .mem_available = 4ull << 30,
                                       .fs_total = 100ull << 30,
                                       .fs_available = 50ull << 30,
                                       .inodes_total = 1000,
                                       .inodes_free = 900};

static void test_capacity(void **state)
{
    (void)state;
    json_t *c = k1s_node_capacity(&facts);
    assert_string_equal(json_string_value(json_object_get(c, "cpu")), "4");
    assert_string_equal(json_string_value(json_object_get(c, "memory")), "8388608Ki");
    assert_string_equal(json_string_value(json_object_get(c, "pods")), "110");
    assert_string_equal(json_string_value(json_object_get(c, "hugepages-2Mi")), "0");
    assert_string_equal(json_string_value(json_object_get(c, "ephemeral-storage")), "104857600Ki");
    json_decref(c);
    json_t *a = k1s_node_allocatable(&facts);
    /* minus memory.available<100Mi and nodefs.available<10% */
    assert_string_equal(json_string_value(json_object_get(a, "memory")), "8286208Ki");
    char want[32];
    snprintf(want, sizeof(want), "%llu", (100ull << 30) - (100ull << 30) / 100 * 10);
    assert_string_equal(json_string_value(json_object_get(a, "ephemeral-storage")), want);
    json_decref(a);
}

static const char *cond(const json_t *conds, const char *type, const char *field)
{
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        if (!strcmp(json_string_value(json_object_get(c, "type")), type))
            return json_string_value(json_object_get(c, field));
    }
    return NULL;
}

static void test_conditions(void **state)
{
    (void)state;
    json_t *c1 = k1s_node_conditions(&facts, NULL, "2026-01-01T00:00:00Z");
    assert_int_equal(json_array_size(c1), 4);
    assert_string_equal(cond(c1, "Ready", "status"), "True");
    assert_string_equal(cond(c1, "Ready", "reason"), "KubeletReady");
    assert_string_equal(cond(c1, "MemoryPressure", "status"), "False");
    assert_string_equal(cond(c1, "DiskPressure", "reason"), "KubeletHasNoDiskPressure");
    assert_string_equal(cond(c1, "PIDPressure", "reason"), "KubeletHasSufficientPID");
    /* the same state later: heartbeat moves, transition stays, nothing "changed" */
    json_t *c2 = k1s_node_conditions(&facts, c1, "2026-01-01T00:01:00Z");
    assert_string_equal(cond(c2, "Ready", "lastHeartbeatTime"), "2026-01-01T00:01:00Z");
    assert_string_equal(cond(c2, "Ready", "lastTransitionTime"), "2026-01-01T00:00:00Z");
    assert_false(k1s_node_conditions_changed(c1, c2));
    /* low memory (under 100Mi) and a nearly full disk (under 10%, and under imagefs's 15%) */
    k1s_node_facts_t low = facts;
    low.mem_available = 50ull << 20;
    low.fs_available = 12ull << 30;
    json_t *c3 = k1s_node_conditions(&low, c2, "2026-01-01T00:02:00Z");
    assert_string_equal(cond(c3, "MemoryPressure", "status"), "True");
    assert_string_equal(cond(c3, "MemoryPressure", "reason"), "KubeletHasInsufficientMemory");
    assert_string_equal(cond(c3, "MemoryPressure", "lastTransitionTime"), "2026-01-01T00:02:00Z");
    assert_string_equal(cond(c3, "DiskPressure", "status"), "True");
    assert_string_equal(cond(c3, "Ready", "lastTransitionTime"), "2026-01-01T00:00:00Z");
    assert_true(k1s_node_conditions_changed(c2, c3));
    /* inodes count too */
    k1s_node_facts_t inodes = facts;
    inodes.inodes_free = 10;
    json_t *c4 = k1s_node_conditions(&inodes, NULL, "2026-01-01T00:03:00Z");
    assert_string_equal(cond(c4, "DiskPressure", "status"), "True");
    json_decref(c1);
    json_decref(c2);
    json_decref(c3);
    json_decref(c4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meminfo),  cmocka_unit_test(test_os_release_and_runtime),
        cmocka_unit_test(test_taints),   cmocka_unit_test(test_labels),
        cmocka_unit_test(test_capacity), cmocka_unit_test(test_conditions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
