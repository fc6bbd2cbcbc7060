/* Unit tests for src/runtime/spec.c: container settings -> OCI runtime spec. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/spec.h"

static char *sh_args[] = {"sh", "-c", "echo hi", NULL};

static json_t *build(const k1s_rt_config_t *c)
{
    json_t *s = NULL;
    k1s_err_t err = {0};
    int r = k1s_rt_spec_build(c, &s, &err);
    if (r < 0)
        fail_msg("build: %s", err.msg);
    return s;
}

static k1s_rt_config_t base(void)
{
    k1s_rt_config_t c = {0};
    c.args = sh_args;
    c.rootfs = "/var/lib/k1s/rootfs";
    c.cpu_request_milli = -1;
    return c;
}

static bool has_str(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (k1s_streq(json_string_value(v), s))
            return true;
    }
    return false;
}

static json_t *find_mount(json_t *spec, const char *dest)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(spec, "mounts"), i, m)
    {
        if (k1s_streq(json_string_value(json_object_get(m, "destination")), dest))
            return m;
    }
    return NULL;
}

static json_t *find_ns(json_t *spec, const char *type)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(json_object_get(spec, "linux"), "namespaces"), i, n)
    {
        if (k1s_streq(json_string_value(json_object_get(n, "type")), type))
            return n;
    }
    return NULL;
}

static void test_cpu_math(void **state)
{
    /* kubelet's MilliCPUToShares / MilliCPUToQuota */
    assert_int_equal(k1s_rt_cpu_shares(0), 2);
    assert_int_equal(k1s_rt_cpu_shares(1), 2);
    assert_int_equal(k1s_rt_cpu_shares(100), 102);
    assert_int_equal(k1s_rt_cpu_shares(250), 256);
    assert_int_equal(k1s_rt_cpu_shares(1000), 1024);
    assert_int_equal(k1s_rt_cpu_shares(1000000), 262144);
    assert_int_equal(k1s_rt_cpu_quota(0, 100000), 0);
    assert_int_equal(k1s_rt_cpu_quota(5, 100000), 1000);
    assert_int_equal(k1s_rt_cpu_quota(500, 100000), 50000);
    assert_int_equal(k1s_rt_cpu_quota(2000, 100000), 200000);
}

static void test_defaults(void **state)
{
    k1s_rt_config_t c = base();
    json_t *s = build(&c);
    json_t *p = json_object_get(s, "process");
    assert_string_equal(json_string_value(json_object_get(p, "cwd")), "/");
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "args"), 2)),
                        "echo hi");
    assert_true(has_str(json_object_get(p, "env"),
                        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    json_t *bounding = json_object_get(json_object_get(p, "capabilities"), "bounding");
    assert_int_equal(json_array_size(bounding), 14);
    assert_true(has_str(bounding, "CAP_NET_BIND_SERVICE"));
    assert_true(has_str(bounding, "CAP_AUDIT_WRITE"));
    assert_false(has_str(bounding, "CAP_SYS_ADMIN"));
    assert_false(json_is_true(json_object_get(p, "noNewPrivileges")));
    assert_false(json_is_true(json_object_get(json_object_get(s, "root"), "readonly")));
    /* default mounts */
    static const char *const dests[] = {"/proc",       "/dev", "/dev/pts",      "/dev/shm",
                                        "/dev/mqueue", "/sys", "/sys/fs/cgroup"};
    for (size_t i = 0; i < 7; i++)
        assert_non_null(find_mount(s, dests[i]));
    assert_null(find_mount(s, "/run"));
    assert_true(has_str(json_object_get(find_mount(s, "/sys"), "options"), "ro"));
    json_t *linux = json_object_get(s, "linux");
    assert_true(has_str(json_object_get(linux, "maskedPaths"), "/proc/kcore"));
    assert_true(has_str(json_object_get(linux, "readonlyPaths"), "/proc/sysrq-trigger"));
    /* new pid, ipc, uts, mount and network namespaces */
    assert_int_equal(json_array_size(json_object_get(linux, "namespaces")), 5);
    assert_null(json_object_get(find_ns(s, "network"), "path"));
    /* devices: deny all, then the default allow-list */
    json_t *devs = json_object_get(json_object_get(linux, "resources"), "devices");
    assert_false(json_is_true(json_object_get(json_array_get(devs, 0), "allow")));
    assert_true(json_array_size(devs) > 5);
    assert_null(json_object_get(linux, "seccomp"));
    assert_null(json_object_get(json_object_get(linux, "resources"), "cpu"));
    json_decref(s);
}

static void test_user_and_env(void **state)
{
    k1s_rt_config_t c = base();
    char *env[] = {"PATH=/bin", "A=b", NULL};
    uint32_t gids[] = {10, 20};
    c.env = env;
    c.cwd = "/work";
    c.uid = 1000;
    c.gid = 2000;
    c.additional_gids = gids;
    c.n_additional_gids = 2;
    c.hostname = "web-0";
    c.terminal = true;
    json_t *s = build(&c);
    json_t *p = json_object_get(s, "process");
    json_t *user = json_object_get(p, "user");
    assert_int_equal(json_integer_value(json_object_get(user, "uid")), 1000);
    assert_int_equal(json_integer_value(json_object_get(user, "gid")), 2000);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(user, "additionalGids"), 1)),
                     20);
    json_t *e = json_object_get(p, "env");
    assert_true(has_str(e, "PATH=/bin"));
    assert_true(has_str(e, "A=b"));
    assert_true(has_str(e, "HOSTNAME=web-0"));
    assert_true(has_str(e, "TERM=xterm"));
    assert_int_equal(json_array_size(e), 4);
    assert_string_equal(json_string_value(json_object_get(p, "cwd")), "/work");
    assert_true(json_is_true(json_object_get(p, "terminal")));
    assert_string_equal(json_string_value(json_object_get(s, "hostname")), "web-0");
    json_decref(s);
}

static void test_caps_add_drop(void **state)
{
    k1s_rt_config_t c = base();
    char *add[] = {"NET_ADMIN", "CAP_SYS_TIME", NULL};
    char *drop[] = {"net_raw", "KILL", NULL};
    c.cap_add = add;
    c.cap_drop = drop;
    json_t *s = build(&c);
    json_t *b =
        json_object_get(json_object_get(json_object_get(s, "process"), "capabilities"), "bounding");
    assert_true(has_str(b, "CAP_NET_ADMIN"));
    assert_true(has_str(b, "CAP_SYS_TIME"));
    assert_false(has_str(b, "CAP_NET_RAW"));
    assert_false(has_str(b, "CAP_KILL"));
    assert_int_equal(json_array_size(b), 14);
    json_decref(s);

    char *drop_all[] = {"ALL", NULL};
    char *add_one[] = {"NET_BIND_SERVICE", NULL};
    c.cap_drop = drop_all;
    c.cap_add = add_one;
    s = build(&c);
    b = json_object_get(json_object_get(json_object_get(s, "process"), "capabilities"),
                        "effective");
    assert_int_equal(json_array_size(b), 1);
    assert_string_equal(json_string_value(json_array_get(b, 0)), "CAP_NET_BIND_SERVICE");
    json_decref(s);

    char *bad[] = {"FLY", NULL};
    c.cap_add = bad;
    json_t *out = NULL;
    k1s_err_t err = {0};
    assert_int_equal(k1s_rt_spec_build(&c, &out, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "FLY"));
    assert_null(out);
}

static void test_privileged(void **state)
{
    k1s_rt_config_t c = base();
    c.privileged = true;
    c.seccomp = K1S_RT_SECCOMP_RUNTIME_DEFAULT;
    json_t *s = build(&c);
    json_t *b =
        json_object_get(json_object_get(json_object_get(s, "process"), "capabilities"), "bounding");
    assert_true(has_str(b, "CAP_SYS_ADMIN"));
    assert_true(json_array_size(b) > 30);
    json_t *linux = json_object_get(s, "linux");
    assert_null(json_object_get(linux, "maskedPaths"));
    assert_null(json_object_get(linux, "readonlyPaths"));
    assert_null(json_object_get(linux, "seccomp"));
    json_t *devs = json_object_get(json_object_get(linux, "resources"), "devices");
    assert_int_equal(json_array_size(devs), 1);
    assert_true(json_is_true(json_object_get(json_array_get(devs, 0), "allow")));
    assert_true(has_str(json_object_get(find_mount(s, "/sys"), "options"), "rw"));
    json_decref(s);
}

static json_t *find_rule(json_t *seccomp, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(seccomp, "syscalls"), i, r)
    {
        if (has_str(json_object_get(r, "names"), name))
            return r;
    }
    return NULL;
}

static void test_seccomp_and_nnp(void **state)
{
    k1s_rt_config_t c = base();
    c.seccomp = K1S_RT_SECCOMP_RUNTIME_DEFAULT;
    c.no_new_privileges = true;
    c.rootfs_readonly = true;
    json_t *s = build(&c);
    assert_true(json_is_true(json_object_get(json_object_get(s, "process"), "noNewPrivileges")));
    assert_true(json_is_true(json_object_get(json_object_get(s, "root"), "readonly")));
    json_t *sc = json_object_get(json_object_get(s, "linux"), "seccomp");
    assert_non_null(sc);
    assert_string_equal(json_string_value(json_object_get(sc, "defaultAction")), "SCMP_ACT_ERRNO");
    assert_non_null(find_rule(sc, "read"));
    assert_non_null(find_rule(sc, "chroot")); /* CAP_SYS_CHROOT is a default capability */
    assert_null(find_rule(sc, "mount"));      /* needs CAP_SYS_ADMIN */
    assert_null(find_rule(sc, "reboot"));
    json_t *clone = find_rule(sc, "clone");
    assert_non_null(clone);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(clone, "args"), 0), "op")),
        "SCMP_CMP_MASKED_EQ");
    json_t *clone3 = find_rule(sc, "clone3");
    assert_string_equal(json_string_value(json_object_get(clone3, "action")), "SCMP_ACT_ERRNO");
    json_decref(s);

    char *add[] = {"SYS_ADMIN", NULL};
    c.cap_add = add;
    s = build(&c);
    sc = json_object_get(json_object_get(s, "linux"), "seccomp");
    assert_non_null(find_rule(sc, "mount"));
    assert_string_equal(json_string_value(json_object_get(find_rule(sc, "clone3"), "action")),
                        "SCMP_ACT_ALLOW");
    json_decref(s);
}

static void test_namespaces(void **state)
{
    k1s_rt_config_t c = base();
    c.netns_path = "/var/run/netns/cni-1";
    c.pid_ns_path = "/proc/42/ns/pid";
    c.hostname = "pod";
    json_t *s = build(&c);
    assert_string_equal(json_string_value(json_object_get(find_ns(s, "network"), "path")),
                        "/var/run/netns/cni-1");
    assert_string_equal(json_string_value(json_object_get(find_ns(s, "pid"), "path")),
                        "/proc/42/ns/pid");
    json_decref(s);

    c = base();
    c.host_network = true;
    c.host_pid = true;
    c.host_ipc = true;
    c.hostname = "node";
    s = build(&c);
    assert_null(find_ns(s, "network"));
    assert_null(find_ns(s, "uts"));
    assert_null(find_ns(s, "pid"));
    assert_null(find_ns(s, "ipc"));
    assert_non_null(find_ns(s, "mount"));
    assert_null(json_object_get(s, "hostname"));
    json_decref(s);
}

static void test_resources(void **state)
{
    k1s_rt_config_t c = base();
    char *sysctls[] = {"net.ipv4.ip_unprivileged_port_start=0", NULL};
    c.cgroups_path = "/kubepods/burstable/podabc/ctr1";
    c.cpu_request_milli = 250;
    c.cpu_limit_milli = 500;
    c.memory_limit_bytes = 64 << 20;
    c.pids_limit = 100;
    c.oom_score_adj_set = true;
    c.oom_score_adj = 999;
    c.sysctls = sysctls;
    json_t *s = build(&c);
    json_t *linux = json_object_get(s, "linux");
    assert_string_equal(json_string_value(json_object_get(linux, "cgroupsPath")),
                        "/kubepods/burstable/podabc/ctr1");
    json_t *r = json_object_get(linux, "resources");
    json_t *cpu = json_object_get(r, "cpu");
    assert_int_equal(json_integer_value(json_object_get(cpu, "shares")), 256);
    assert_int_equal(json_integer_value(json_object_get(cpu, "quota")), 50000);
    assert_int_equal(json_integer_value(json_object_get(cpu, "period")), 100000);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "memory"), "limit")),
                     64 << 20);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "pids"), "limit")), 100);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(s, "process"), "oomScoreAdj")), 999);
    assert_string_equal(json_string_value(json_object_get(json_object_get(linux, "sysctl"),
                                                          "net.ipv4.ip_unprivileged_port_start")),
                        "0");
    json_decref(s);

    /* BestEffort: a zero request still writes the kubelet's minimum of 2 shares. */
    c = base();
    c.cpu_request_milli = 0;
    s = build(&c);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(json_object_get(s, "linux"), "resources"), "cpu"),
            "shares")),
        2);
    json_decref(s);
}

static void test_mounts(void **state)
{
    k1s_rt_config_t c = base();
    k1s_rt_mount_t m[] = {
        {.destination = "/data/sub", .source = "/host/sub", .type = "bind", .readonly = true},
        {.destination = "/data",
         .source = "/host/data",
         .propagation = K1S_RT_PROP_HOST_TO_CONTAINER},
        {.destination = "/dev/shm", .type = "tmpfs", .options = "size=1m"},
    };
    c.mounts = m;
    c.n_mounts = 3;
    json_t *s = build(&c);
    json_t *mounts = json_object_get(s, "mounts");
    /* /dev/shm replaced by the user's tmpfs; /data before /data/sub */
    int shm = 0, data = -1, sub = -1;
    size_t i;
    json_t *mo;
    json_array_foreach(mounts, i, mo)
    {
        const char *d = json_string_value(json_object_get(mo, "destination"));
        if (!strcmp(d, "/dev/shm"))
            shm++;
        if (!strcmp(d, "/data"))
            data = (int)i;
        if (!strcmp(d, "/data/sub"))
            sub = (int)i;
    }
    assert_int_equal(shm, 1);
    assert_true(data >= 0 && sub > data);
    json_t *o = json_object_get(find_mount(s, "/data/sub"), "options");
    assert_true(has_str(o, "rbind"));
    assert_true(has_str(o, "ro"));
    assert_true(has_str(o, "rprivate"));
    assert_true(has_str(json_object_get(find_mount(s, "/data"), "options"), "rslave"));
    json_t *shmm = find_mount(s, "/dev/shm");
    assert_string_equal(json_string_value(json_object_get(shmm, "type")), "tmpfs");
    assert_true(has_str(json_object_get(shmm, "options"), "size=1m"));
    json_decref(s);

    k1s_rt_mount_t bad = {.destination = "/x", .source = "relative"};
    c.mounts = &bad;
    c.n_mounts = 1;
    json_t *out = NULL;
    k1s_err_t err = {0};
    assert_int_equal(k1s_rt_spec_build(&c, &out, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "relative"));
}

static void test_errors_and_write(void **state)
{
    k1s_rt_config_t c = base();
    json_t *out = NULL;
    k1s_err_t err = {0};
    c.args = NULL;
    assert_int_equal(k1s_rt_spec_build(&c, &out, &err), -EINVAL);
    c = base();
    c.rootfs = "rootfs";
    assert_int_equal(k1s_rt_spec_build(&c, &out, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "absolute"));

    char dir[] = "/tmp/k1s-spec-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *bundle = k1s_xasprintf("%s/bundle", dir);
    c = base();
    assert_int_equal(k1s_rt_spec_write(&c, bundle, &err), 0);
    char *path = k1s_xasprintf("%s/config.json", bundle);
    json_error_t je;
    json_t *s = json_load_file(path, 0, &je);
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(s, "ociVersion")), "1.0.2");
    json_decref(s);
    unlink(path);
    rmdir(bundle);
    rmdir(dir);
    free(path);
    free(bundle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_math),     cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_user_and_env), cmocka_unit_test(test_caps_add_drop),
        cmocka_unit_test(test_privileged),   cmocka_unit_test(test_seccomp_and_nnp),
        cmocka_unit_test(test_namespaces),   cmocka_unit_test(test_resources),
        cmocka_unit_test(test_mounts),       cmocka_unit_test(test_errors_and_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
