/*
 * Unit tests for src/agent/stats.c: /proc/stat, /proc/meminfo and /proc/net/dev
 * parsing, cgroup v1 and v2 reading from a fake /sys/fs/cgroup in a temp dir,
 * the Summary with its CPU rates over two samples, and /metrics/resource.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/stats.h"
#include "lib/util.h"

static char tmp[64];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p) < 0 ? 0 : 0;
}

static int setup(void **state)
{
    snprintf(tmp, sizeof(tmp), "/tmp/k1s-stats-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    return 0;
}

static int teardown(void **state)
{
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void put(const char *rel, const char *text)
{
    char *path = k1s_xasprintf("%s/%s", tmp, rel);
    char *dir = k1s_xstrdup(path);
    *strrchr(dir, '/') = 0;
    assert_int_equal(k1s_mkdir_p(dir, 0755), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(dir);
    free(path);
}

static void test_proc_stat(void **state)
{
    uint64_t busy;
    int64_t btime;
    const char *t = "cpu  100 10 50 1000 7 3 2 1 0 0\ncpu0 1 2 3 4\nbtime 1700000000\n";
    assert_int_equal(k1s_stats_parse_proc_stat(t, 100, &busy, &btime), 0);
    /* user+nice+system+irq+softirq+steal = 166 ticks of 10 ms */
    assert_int_equal(busy, 1660000000ull);
    assert_int_equal(btime, 1700000000);
    assert_int_equal(k1s_stats_parse_proc_stat("intr 1 2\n", 100, &busy, &btime), -EINVAL);
    assert_int_equal(k1s_stats_parse_proc_stat("cpu  1 2\n", 100, &busy, &btime), -EINVAL);
}

static void test_meminfo(void **state)
{
    k1s_node_mem_t m;
    const char *t = "MemTotal:       1000 kB\nMemFree:         200 kB\nMemAvailable:    600 kB\n"
                    "Inactive(file):  300 kB\nAnonPages:       250 kB\n";
    assert_int_equal(k1s_stats_parse_meminfo(t, &m), 0);
    assert_int_equal(m.total, 1024000);
    assert_int_equal(m.usage, 800 * 1024);
    assert_int_equal(m.ws, 500 * 1024);
    assert_int_equal(m.rss, 250 * 1024);
    assert_int_equal(m.available, 500 * 1024);
    assert_int_equal(k1s_stats_parse_meminfo("MemFree: 1 kB\n", &m), -EINVAL);
}

static void test_net_dev(void **state)
{
    const char *t =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
        "drop fifo colls carrier compressed\n"
        "    lo: 35448 23424    0    0    0     0          0         0 35448 23424    0    0    0 "
        "    0       0          0\n"
        "  eth0: 685140504   22956    3    0    0     0          0         0  2703700   18966    4 "
        "   0    0     0       0          0\n";
    k1s_net_if_t ifs[4];
    assert_int_equal(k1s_stats_parse_net_dev(t, ifs, 4), 1);
    assert_string_equal(ifs[0].name, "eth0");
    assert_int_equal(ifs[0].rx_bytes, 685140504);
    assert_int_equal(ifs[0].rx_errors, 3);
    assert_int_equal(ifs[0].tx_bytes, 2703700);
    assert_int_equal(ifs[0].tx_errors, 4);
    assert_int_equal(k1s_stats_parse_net_dev("garbage\nmore\n", ifs, 4), -EINVAL);
}

static void test_cgroup_v1(void **state)
{
    put("cpuacct/kubepods/podU/cpuacct.usage", "2500000000\n");
    put("memory/kubepods/podU/memory.usage_in_bytes", "10485760\n");
    put("pids/kubepods/podU/pids.current", "3\n");
    put("memory/kubepods/podU/memory.stat",
        "cache 1\nrss 2\ninactive_file 99\ntotal_rss 4194304\ntotal_inactive_file 2097152\n"
        "total_pgfault 7\ntotal_pgmajfault 1\n");
    k1s_cg_stats_t st;
    assert_int_equal(k1s_stats_read_cgroup(tmp, "/kubepods/podU", &st), 0);
    assert_true(st.has_cpu && st.has_mem);
    assert_int_equal(st.cpu_ns, 2500000000ull);
    assert_int_equal(st.mem_usage, 10485760);
    assert_int_equal(st.mem_ws, 10485760 - 2097152); /* total_, not the cgroup's own */
    assert_int_equal(st.mem_rss, 4194304);
    assert_int_equal(st.pgfault, 7);
    assert_true(st.has_pids);
    assert_int_equal(st.pids, 3);
    assert_int_equal(k1s_stats_read_cgroup(tmp, "/kubepods/nosuch", &st), -ENOENT);
}

static void test_cgroup_v2(void **state)
{
    put("kubepods/burstable/podV/cgroup.controllers", "cpu memory pids\n");
    put("kubepods/burstable/podV/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n");
    put("kubepods/burstable/podV/memory.current", "8192\n");
    put("kubepods/burstable/podV/memory.stat", "anon 4096\nfile 4096\ninactive_file 1024\n");
    put("kubepods/burstable/podV/pids.current", "5\n");
    k1s_cg_stats_t st;
    assert_int_equal(k1s_stats_read_cgroup(tmp, "/kubepods/burstable/podV", &st), 0);
    assert_int_equal(st.cpu_ns, 1500000000ull);
    assert_int_equal(st.mem_usage, 8192);
    assert_int_equal(st.mem_ws, 7168);
    assert_int_equal(st.mem_rss, 4096);
    assert_int_equal(st.pids, 5);
}

/* A summary over a fake node (v1 cgroups), twice, with time passing: rates appear. */
static void test_summary_and_rates(void **state)
{
    put("proc/stat", "cpu  100 0 100 1000 0 0 0 0 0 0\nbtime 1700000000\n");
    put("proc/meminfo", "MemTotal: 2048 kB\nMemFree: 1024 kB\nInactive(file): 512 kB\n");
    put("proc/sys/kernel/pid_max", "4194304\n");
    put("cg/cpuacct/kubepods/besteffort/podP/cpuacct.usage", "1000000000\n");
    put("cg/memory/kubepods/besteffort/podP/memory.usage_in_bytes", "4096\n");
    put("cg/cpuacct/kubepods/besteffort/podP/abc/cpuacct.usage", "900000000\n");
    put("cg/memory/kubepods/besteffort/podP/abc/memory.usage_in_bytes", "2048\n");
    /* two volumes: a directory with 3 files, and a claim's link to its PersistentVolume */
    char big[20000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    put("pods/P/volumes/data/a", big);
    put("pods/P/volumes/data/sub/b", "b");
    put("pods/P/volumes/data/sub/c", "c");
    put("pv/disk", "d");
    char *pv = k1s_xasprintf("%s/pv", tmp), *claim = k1s_xasprintf("%s/pods/P/volumes/claim", tmp);
    assert_int_equal(symlink(pv, claim), 0);
    free(pv);
    free(claim);
    char *cg = k1s_xasprintf("%s/cg", tmp), *proc = k1s_xasprintf("%s/proc", tmp);
    k1s_stats_t *s = k1s_stats_new(&(k1s_stats_opts_t){
        .node_name = "n1", .fs_dir = tmp, .cgroup_root = cg, .proc_root = proc});
    k1s_stats_ctr_t ctrs[] = {
        {.ns = "default",
         .pod = "web",
         .uid = "P",
         .name = "c",
         .id = "abc",
         .running = true,
         .started_ns = 1700000100ll * 1000000000},
        {.ns = "default", .pod = "gone", .uid = "Q", .name = "c", .id = "def", .running = true},
    };
    json_t *j = k1s_stats_summary(s, ctrs, 2);
    json_t *node = json_object_get(j, "node");
    assert_string_equal(json_string_value(json_object_get(node, "nodeName")), "n1");
    assert_string_equal(json_string_value(json_object_get(node, "startTime")),
                        "2023-11-14T22:13:20Z");
    json_t *mem = json_object_get(node, "memory");
    assert_int_equal(json_integer_value(json_object_get(mem, "workingSetBytes")), 512 * 1024);
    assert_int_equal(json_integer_value(json_object_get(mem, "availableBytes")), 1536 * 1024);
    assert_non_null(json_object_get(json_object_get(node, "fs"), "capacityBytes"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(node, "rlimit"), "maxpid")),
                     4194304);
    /* first sample: no rate yet */
    assert_null(json_object_get(json_object_get(node, "cpu"), "usageNanoCores"));
    json_t *pods = json_object_get(j, "pods");
    assert_int_equal(json_array_size(pods), 1); /* pod Q has no cgroup */
    json_t *p = json_array_get(pods, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "podRef"), "name")),
                        "web");
    json_t *c = json_array_get(json_object_get(p, "containers"), 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(c, "cpu"), "usageCoreNanoSeconds")),
        900000000);
    json_t *vols = json_object_get(p, "volume");
    assert_int_equal(json_array_size(vols), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_array_get(vols, i);
        const char *name = json_string_value(json_object_get(v, "name"));
        json_int_t used = json_integer_value(json_object_get(v, "usedBytes"));
        json_int_t inodes = json_integer_value(json_object_get(v, "inodesUsed"));
        assert_non_null(json_object_get(v, "capacityBytes"));
        assert_non_null(json_object_get(v, "availableBytes"));
        if (!strcmp(name, "data")) {
            assert_true(used >= 20000);  /* the 20 kB file and the rest */
            assert_int_equal(inodes, 5); /* data, a, sub, b, c */
        } else {
            assert_string_equal(name, "claim");
            assert_int_equal(inodes, 2); /* pv, disk */
        }
    }
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(c, "memory"), "workingSetBytes")), 2048);

    char *text = k1s_stats_resource_metrics(j);
    assert_non_null(strstr(text, "\ncontainer_cpu_usage_seconds_total{container=\"c\","
                                 "namespace=\"default\",pod=\"web\"} 0.9 "));
    assert_non_null(strstr(text, "\ncontainer_memory_working_set_bytes{container=\"c\","
                                 "namespace=\"default\",pod=\"web\"} 2048 "));
    assert_non_null(strstr(text, "\ncontainer_start_time_seconds{container=\"c\","
                                 "namespace=\"default\",pod=\"web\"} 1700000100 "));
    assert_non_null(strstr(text, "\nnode_cpu_usage_seconds_total 2 "));
    assert_non_null(strstr(text, "\nnode_memory_working_set_bytes 524288 "));
    assert_non_null(strstr(text, "\nscrape_error 0\n"));
    free(text);
    json_decref(j);

    /* a second later the container used half a core more */
    sleep(1);
    put("cg/cpuacct/kubepods/besteffort/podP/abc/cpuacct.usage", "1500000000\n");
    j = k1s_stats_summary(s, ctrs, 1);
    c = json_array_get(json_object_get(json_array_get(json_object_get(j, "pods"), 0), "containers"),
                       0);
    json_int_t rate =
        json_integer_value(json_object_get(json_object_get(c, "cpu"), "usageNanoCores"));
    assert_true(rate > 200000000 && rate <= 600000000); /* 0.6 s of CPU over >= 1 s */
    json_decref(j);
    k1s_stats_free(s);
    free(cg);
    free(proc);
}

/* The same on a cgroup v2 host: the pod is found under its QoS directory of the one hierarchy,
 * and a container that is not running is not measured. */
static void test_summary_v2(void **state)
{
    put("cg/kubepods/burstable/podB/cgroup.controllers", "cpu memory\n");
    put("cg/kubepods/burstable/podB/cpu.stat", "usage_usec 3000000\n");
    put("cg/kubepods/burstable/podB/memory.current", "16384\n");
    put("cg/kubepods/burstable/podB/x1/cgroup.controllers", "cpu memory\n");
    put("cg/kubepods/burstable/podB/x1/cpu.stat", "usage_usec 2000000\n");
    put("cg/kubepods/burstable/podB/x1/memory.current", "8192\n");
    put("cg/kubepods/burstable/podB/x1/memory.stat", "anon 4096\ninactive_file 4096\n");
    char *cg = k1s_xasprintf("%s/cg", tmp), *proc = k1s_xasprintf("%s/proc", tmp);
    k1s_stats_t *s = k1s_stats_new(&(k1s_stats_opts_t){
        .node_name = "n2", .fs_dir = tmp, .cgroup_root = cg, .proc_root = proc});
    k1s_stats_ctr_t ctrs[] = {
        {.ns = "ns", .pod = "b", .uid = "B", .name = "app", .id = "x1", .running = true},
        {.ns = "ns", .pod = "b", .uid = "B", .name = "done", .id = "x0", .running = false},
    };
    json_t *j = k1s_stats_summary(s, ctrs, 2);
    /* no /proc here: the node has no cpu or memory, and /metrics/resource says so */
    assert_null(json_object_get(json_object_get(j, "node"), "cpu"));
    json_t *p = json_array_get(json_object_get(j, "pods"), 0);
    assert_non_null(p);
    assert_int_equal(json_array_size(json_object_get(p, "containers")), 1);
    json_t *c = json_array_get(json_object_get(p, "containers"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "app");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(c, "memory"), "workingSetBytes")), 4096);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(p, "cpu"), "usageCoreNanoSeconds")),
        3000000000ll);
    char *text = k1s_stats_resource_metrics(j);
    assert_non_null(strstr(text, "\nscrape_error 1\n"));
    free(text);
    json_decref(j);
    k1s_stats_free(s);
    free(cg);
    free(proc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proc_stat),
        cmocka_unit_test(test_meminfo),
        cmocka_unit_test(test_net_dev),
        cmocka_unit_test_setup_teardown(test_cgroup_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroup_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_and_rates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_v2, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
