/*
 * Unit tests for src/network/cni.c and cni-exec.c: the conflist k1s writes,
 * loading the conf dir, each plugin's stdin (prevResult chaining, the
 * portMappings capability), CNI_ARGS, port specs, results and plugin
 * errors; then whole operations against fake plugins (shell scripts in a
 * temporary bin dir): chaining, the cache, rollback of a failed ADD,
 * idempotent DEL, timeouts. The real plugins run in tests/e2e/test_cni.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lib/util.h"
#include "network/cni-int.h"

static char *tmpdir(void)
{
    char *t = k1s_xstrdup("/tmp/k1s-cni-unit-XXXXXX");
    assert_non_null(mkdtemp(t));
    return t;
}

static void rm_rf(const char *dir)
{
    char *cmd = k1s_xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void write_text(const char *path, const char *text, int mode)
{
    assert_int_equal(k1s_write_file_atomic(path, text, strlen(text), mode), 0);
}

static void test_default_conflist(void **state)
{
    k1s_cni_netconf_opts_t o = {.pod_cidr = "10.42.3.0/24", .ipam_data_dir = "/d/networks"};
    k1s_err_t err = {0};
    char *s = k1s_cni_default_conflist(&o, &err);
    assert_non_null(s);
    json_t *c = json_loads(s, 0, NULL);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "cbr0");
    assert_string_equal(json_string_value(json_object_get(c, "cniVersion")), "1.0.0");
    json_t *pl = json_object_get(c, "plugins");
    assert_int_equal(json_array_size(pl), 2);
    json_t *br = json_array_get(pl, 0);
    assert_string_equal(json_string_value(json_object_get(br, "type")), "bridge");
    assert_string_equal(json_string_value(json_object_get(br, "bridge")), "cni0");
    assert_true(json_is_true(json_object_get(br, "isGateway")));
    assert_true(json_is_true(json_object_get(br, "ipMasq")));
    assert_true(json_is_true(json_object_get(br, "hairpinMode")));
    json_t *ipam = json_object_get(br, "ipam");
    assert_string_equal(json_string_value(json_object_get(ipam, "type")), "host-local");
    assert_string_equal(json_string_value(json_object_get(ipam, "dataDir")), "/d/networks");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_array_get(json_object_get(ipam, "ranges"), 0), 0), "subnet")),
        "10.42.3.0/24");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(ipam, "routes"), 0), "dst")),
                        "0.0.0.0/0");
    json_t *pm = json_array_get(pl, 1);
    assert_string_equal(json_string_value(json_object_get(pm, "type")), "portmap");
    assert_true(json_is_true(json_object_get(pm, "snat")));
    assert_true(json_is_true(json_object_get(json_object_get(pm, "capabilities"), "portMappings")));
    json_decref(c);
    free(s);

    o.pod_cidr = "fd00:42::/64";
    o.ipam_data_dir = NULL;
    o.no_ip_masq = true;
    o.mtu = 1450;
    s = k1s_cni_default_conflist(&o, &err);
    assert_non_null(s);
    assert_non_null(strstr(s, "\"::/0\""));
    assert_null(strstr(s, "dataDir"));
    assert_non_null(strstr(s, "\"ipMasq\": false"));
    assert_non_null(strstr(s, "\"mtu\": 1450"));
    free(s);

    o.pod_cidr = "10.42.0.0/24,fd00:42::/64";
    s = k1s_cni_default_conflist(&o, &err);
    assert_non_null(s);
    c = json_loads(s, 0, NULL);
    ipam = json_object_get(json_array_get(json_object_get(c, "plugins"), 0), "ipam");
    json_t *ranges = json_object_get(ipam, "ranges");
    assert_int_equal(json_array_size(ranges), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_array_get(ranges, 1), 0), "subnet")),
        "fd00:42::/64");
    assert_int_equal(json_array_size(json_object_get(ipam, "routes")), 2);
    json_decref(c);
    free(s);

    const char *bad[] = {"10.42.0.0",     "10.42.0.0/33",
                         "10.42.0.0/31",  "x/24",
                         "10.42.0.0/",    "",
                         "10.42.0.0/24,", "10.42.0.0/24,10.43.0.0/24",
                         ",10.42.0.0/24"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(bad); i++) {
        o.pod_cidr = bad[i];
        assert_null(k1s_cni_default_conflist(&o, &err));
        assert_int_equal(err.code, EINVAL);
        assert_non_null(strstr(err.msg, "pod CIDR"));
    }
}

static void test_write_conf_changed(void **state)
{
    char *t = tmpdir();
    char *dir = k1s_xasprintf("%s/etc/cni/net.d", t);
    k1s_cni_netconf_opts_t o = {.pod_cidr = "10.42.0.0/24"};
    bool changed = false;
    k1s_err_t err = {0};
    assert_int_equal(k1s_cni_write_conf(dir, &o, &changed, &err), 0);
    assert_true(changed);
    assert_int_equal(k1s_cni_write_conf(dir, &o, &changed, &err), 0);
    assert_false(changed);
    o.pod_cidr = "10.42.7.0/24";
    assert_int_equal(k1s_cni_write_conf(dir, &o, &changed, &err), 0);
    assert_true(changed);
    k1s_cni_opts_t co = {.conf_dir = dir, .cache_dir = t};
    k1s_cni_t *cni = k1s_cni_new(&co, &err);
    assert_non_null(cni);
    assert_string_equal(k1s_cni_network_name(cni), "cbr0");
    assert_non_null(strstr(k1s_cni_network_json(cni), "10.42.7.0/24"));
    k1s_cni_free(cni);
    free(dir);
    rm_rf(t);
    free(t);
}

static void test_load_dir(void **state)
{
    char *t = tmpdir();
    k1s_err_t err = {0};
    char *file = NULL;
    assert_null(cni_conf_load_dir(t, &file, &err));
    assert_int_equal(err.code, ENOENT);
    assert_non_null(strstr(err.msg, "no network config in"));

    char *p = k1s_xasprintf("%s/20-b.conflist", t);
    write_text(p, "{\"cniVersion\":\"1.0.0\",\"name\":\"b\",\"plugins\":[{\"type\":\"bridge\"}]}",
               0644);
    free(p);
    /* A single-plugin .conf sorts first and becomes a one-plugin list. */
    p = k1s_xasprintf("%s/05-a.conf", t);
    write_text(p, "{\"cniVersion\":\"0.4.0\",\"name\":\"a\",\"type\":\"ptp\",\"mtu\":1400}", 0644);
    free(p);
    p = k1s_xasprintf("%s/01-ignored.txt", t);
    write_text(p, "not json", 0644);
    free(p);
    json_t *l = cni_conf_load_dir(t, &file, &err);
    assert_non_null(l);
    assert_true(k1s_str_has_suffix(file, "/05-a.conf"));
    free(file);
    assert_string_equal(json_string_value(json_object_get(l, "name")), "a");
    assert_string_equal(json_string_value(json_object_get(l, "cniVersion")), "0.4.0");
    json_t *pl = json_array_get(json_object_get(l, "plugins"), 0);
    assert_string_equal(json_string_value(json_object_get(pl, "type")), "ptp");
    assert_int_equal(json_integer_value(json_object_get(pl, "mtu")), 1400);
    assert_null(json_object_get(pl, "name"));
    json_decref(l);

    /* Invalid configs say which file and what. */
    json_t *bad = json_loads("{\"name\":\"x\",\"plugins\":[{\"type\":\"../evil\"}]}", 0, NULL);
    assert_null(cni_conf_normalize(bad, "f.conflist", &err));
    assert_non_null(strstr(err.msg, "f.conflist: plugin 0 has no valid \"type\""));
    json_decref(bad);
    bad = json_loads("{\"name\":\"x\",\"plugins\":[]}", 0, NULL);
    assert_null(cni_conf_normalize(bad, "f", &err));
    assert_non_null(strstr(err.msg, "array of 1 to 32"));
    json_decref(bad);
    bad = json_loads("{\"plugins\":[{\"type\":\"bridge\"}]}", 0, NULL);
    assert_null(cni_conf_normalize(bad, "f", &err));
    assert_non_null(strstr(err.msg, "no network \"name\""));
    json_decref(bad);
    rm_rf(t);
    free(t);
}

static void test_plugin_conf(void **state)
{
    k1s_cni_netconf_opts_t o = {.pod_cidr = "10.42.0.0/24"};
    k1s_err_t err = {0};
    char *s = k1s_cni_default_conflist(&o, &err);
    json_t *parsed = json_loads(s, 0, NULL);
    json_t *list = cni_conf_normalize(parsed, "x", &err);
    json_decref(parsed);
    free(s);
    k1s_cni_port_t ports[] = {{8080, 80, NULL, NULL}, {5353, 53, "udp", "127.0.0.1"}};
    json_t *pj = cni_ports_json(ports, 2);
    json_t *prev = json_loads("{\"cniVersion\":\"1.0.0\",\"ips\":[]}", 0, NULL);

    json_t *c0 = cni_plugin_conf(list, 0, NULL, pj);
    assert_string_equal(json_string_value(json_object_get(c0, "name")), "cbr0");
    assert_string_equal(json_string_value(json_object_get(c0, "cniVersion")), "1.0.0");
    assert_string_equal(json_string_value(json_object_get(c0, "type")), "bridge");
    assert_null(json_object_get(c0, "prevResult"));
    assert_null(json_object_get(c0, "runtimeConfig")); /* no portMappings capability */
    json_decref(c0);

    json_t *c1 = cni_plugin_conf(list, 1, prev, pj);
    assert_ptr_equal(json_object_get(c1, "prevResult"), prev);
    json_t *pm = json_object_get(json_object_get(c1, "runtimeConfig"), "portMappings");
    assert_int_equal(json_array_size(pm), 2);
    json_t *m0 = json_array_get(pm, 0), *m1 = json_array_get(pm, 1);
    assert_int_equal(json_integer_value(json_object_get(m0, "hostPort")), 8080);
    assert_int_equal(json_integer_value(json_object_get(m0, "containerPort")), 80);
    assert_string_equal(json_string_value(json_object_get(m0, "protocol")), "tcp");
    assert_null(json_object_get(m0, "hostIP"));
    assert_string_equal(json_string_value(json_object_get(m1, "protocol")), "udp");
    assert_string_equal(json_string_value(json_object_get(m1, "hostIP")), "127.0.0.1");
    json_decref(c1);

    /* No ports: no runtimeConfig at all. */
    json_t *none = cni_ports_json(NULL, 0);
    c1 = cni_plugin_conf(list, 1, prev, none);
    assert_null(json_object_get(c1, "runtimeConfig"));
    json_decref(c1);
    json_decref(none);
    json_decref(pj);
    json_decref(prev);
    json_decref(list);
}

static void test_args_id_ports(void **state)
{
    k1s_err_t err = {0};
    k1s_cni_pod_t pod = {.id = "abc", .namespace_ = "default", .name = "web-0", .uid = "u-1"};
    char *a = k1s_cni_args(&pod, &err);
    assert_string_equal(a, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
                           "K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1");
    free(a);
    k1s_cni_pod_t bare = {.id = "abc"};
    a = k1s_cni_args(&bare, &err);
    assert_string_equal(a, "IgnoreUnknown=1;K8S_POD_INFRA_CONTAINER_ID=abc");
    free(a);
    pod.name = "a;b";
    assert_null(k1s_cni_args(&pod, &err));
    assert_non_null(strstr(err.msg, "K8S_POD_NAME"));

    assert_int_equal(k1s_cni_check_id("abc-1.2_x", &err), 0);
    assert_int_equal(k1s_cni_check_id("-abc", &err), -EINVAL);
    assert_int_equal(k1s_cni_check_id("a/b", &err), -EINVAL);
    assert_int_equal(k1s_cni_check_id("", &err), -EINVAL);
    assert_int_equal(k1s_cni_check_id(NULL, &err), -EINVAL);

    char buf[96];
    k1s_cni_port_t p;
    assert_int_equal(k1s_cni_port_parse("8080:80", buf, sizeof(buf), &p, &err), 0);
    assert_int_equal(p.host_port, 8080);
    assert_int_equal(p.container_port, 80);
    assert_null(p.protocol);
    assert_null(p.host_ip);
    assert_int_equal(k1s_cni_port_parse("127.0.0.1:53:5353/UDP", buf, sizeof(buf), &p, &err), 0);
    assert_string_equal(p.host_ip, "127.0.0.1");
    assert_string_equal(p.protocol, "udp");
    assert_int_equal(p.host_port, 53);
    assert_int_equal(p.container_port, 5353);
    assert_int_equal(k1s_cni_port_parse("[::1]:8443:443/tcp", buf, sizeof(buf), &p, &err), 0);
    assert_string_equal(p.host_ip, "::1");
    const char *bad[] = {"80", "0:80", "80:70000", "x:80", "1.2.3:80:80", "80:80/icmp", "80:"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(bad); i++)
        assert_int_equal(k1s_cni_port_parse(bad[i], buf, sizeof(buf), &p, &err), -EINVAL);
}

static void test_result_parse(void **state)
{
    const char *j =
        "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"cni0\",\"mac\":\"02:aa\"},"
        "{\"name\":\"veth1\"},{\"name\":\"eth0\",\"mac\":\"d6:bf\",\"sandbox\":\"/run/"
        "netns/p\"}],\"ips\":[{\"interface\":2,\"address\":\"10.42.0.2/24\","
        "\"gateway\":\"10.42.0.1\"},{\"address\":\"fd00::5/64\"}],\"routes\":[{"
        "\"dst\":\"0.0.0.0/0\"}],\"dns\":{}}";
    k1s_cni_result_t *r;
    k1s_err_t err = {0};
    assert_int_equal(k1s_cni_result_parse(j, strlen(j), &r, &err), 0);
    assert_string_equal(r->cni_version, "1.0.0");
    assert_int_equal(r->n_interfaces, 3);
    assert_string_equal(r->interfaces[2].sandbox, "/run/netns/p");
    assert_null(r->interfaces[1].mac);
    assert_int_equal(r->n_ips, 2);
    assert_int_equal(r->ips[0].family, 4);
    assert_int_equal(r->ips[0].interface, 2);
    assert_string_equal(r->ips[0].gateway, "10.42.0.1");
    assert_int_equal(r->ips[1].family, 6);
    assert_int_equal(r->ips[1].interface, -1);
    char buf[64];
    assert_string_equal(k1s_cni_result_pod_ip(r, 4, buf, sizeof(buf)), "10.42.0.2");
    assert_string_equal(k1s_cni_result_pod_ip(r, 6, buf, sizeof(buf)), "fd00::5");
    assert_string_equal(k1s_cni_result_pod_ip(r, 0, buf, sizeof(buf)), "10.42.0.2");
    k1s_cni_result_free(r);

    const char *single = "{\"cniVersion\":\"0.3.1\",\"ips\":[{\"version\":\"4\","
                         "\"address\":\"10.1.2.3/32\"}]}";
    assert_int_equal(k1s_cni_result_parse(single, strlen(single), &r, &err), 0);
    assert_string_equal(k1s_cni_result_pod_ip(r, 4, buf, sizeof(buf)), "10.1.2.3");
    assert_null(k1s_cni_result_pod_ip(r, 6, buf, sizeof(buf)));
    k1s_cni_result_free(r);

    const char *bad[] = {"", "[]", "{\"ips\":{}}", "{\"ips\":[{\"address\":\"nope\"}]}",
                         "{\"interfaces\":[{\"mac\":\"x\"}]}"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(bad); i++)
        assert_int_equal(k1s_cni_result_parse(bad[i], strlen(bad[i]), &r, &err), -EINVAL);
}

static void test_plugin_error_msg(void **state)
{
    const char *e = "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"failed to allocate for range "
                    "0\",\"details\":\"no IP addresses available\"}";
    char *m = cni_plugin_error_msg(e, strlen(e), "", 1);
    assert_string_equal(m, "failed to allocate for range 0: no IP addresses available");
    free(m);
    e = "{\"code\":100,\"msg\":\"boom\"}";
    m = cni_plugin_error_msg(e, strlen(e), NULL, 1);
    assert_string_equal(m, "boom");
    free(m);
    m = cni_plugin_error_msg("", 0, "some log\nfatal: iptables missing\n\n", 2);
    assert_string_equal(m, "exited with status 2: fatal: iptables missing");
    free(m);
    m = cni_plugin_error_msg(NULL, 0, NULL, -9);
    assert_string_equal(m, "killed by signal 9");
    free(m);
    m = cni_plugin_error_msg("garbage", 7, NULL, 3);
    assert_string_equal(m, "exited with status 3 and no error message");
    free(m);
}

static void test_version_ge(void **state)
{
    assert_true(cni_version_ge("1.0.0", 0, 4, 0));
    assert_true(cni_version_ge("0.4.0", 0, 4, 0));
    assert_true(cni_version_ge("0.10.0", 0, 4, 0));
    assert_false(cni_version_ge("0.3.1", 0, 4, 0));
    assert_false(cni_version_ge("0.2.0", 0, 3, 0));
    assert_false(cni_version_ge(NULL, 0, 4, 0));
    assert_false(cni_version_ge("x", 0, 4, 0));
}

/* ---- operations against fake plugins ---- */

typedef struct {
    char *dir, *bin, *conf, *cache, *log;
} fake_t;

/* A plugin that logs "<cmd> <type> <ifname> <prev|noprev> [ports] <netns>" and, on
 * ADD, prints a result whose address says whether it had a prevResult. */
static const char *fake_ok =
    "#!/bin/sh\n"
    "in=$(cat)\n"
    "t=$(basename \"$0\")\n"
    "case \"$in\" in *prevResult*) p=prev;; *) p=noprev;; esac\n"
    "case \"$in\" in *runtimeConfig*) p=\"$p ports\";; esac\n"
    "echo \"$CNI_COMMAND $t $CNI_IFNAME $p $CNI_NETNS\" >> \"$FAKE_CNI_LOG\"\n"
    "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
    "if [ \"$t\" = loopback ]; then echo "
    "'{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"lo\"}]}'; exit 0; fi\n"
    "case \"$in\" in *prevResult*) ip=10.9.0.8;; *) ip=10.9.0.7;; esac\n"
    "echo "
    "'{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"'\"$CNI_NETNS\"'"
    "\"}],"
    "\"ips\":[{\"address\":\"'$ip'/24\",\"gateway\":\"10.9.0.1\",\"interface\":0}]}'\n";

static const char *fake_fail = "#!/bin/sh\n"
                               "cat >/dev/null\n"
                               "echo \"$CNI_COMMAND fail $CNI_IFNAME\" >> \"$FAKE_CNI_LOG\"\n"
                               "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                               "echo '{\"code\":11,\"msg\":\"out of luck\",\"details\":\"try "
                               "later\"}'\n"
                               "echo 'log noise' >&2\n"
                               "exit 1\n";

static const char *fake_slow = "#!/bin/sh\n"
                               "echo \"$CNI_COMMAND slow $CNI_IFNAME\" >> \"$FAKE_CNI_LOG\"\n"
                               "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                               "exec sleep 20\n";

static void fake_setup(fake_t *f, const char *second_type)
{
    f->dir = tmpdir();
    f->bin = k1s_xasprintf("%s/bin", f->dir);
    f->conf = k1s_xasprintf("%s/net.d", f->dir);
    f->cache = k1s_xasprintf("%s/results", f->dir);
    f->log = k1s_xasprintf("%s/log", f->dir);
    assert_int_equal(k1s_mkdir_p(f->bin, 0755), 0);
    assert_int_equal(k1s_mkdir_p(f->conf, 0755), 0);
    const char *types[] = {"loopback", "first", "second", "fail", "slow", "portmap"};
    const char *bodies[] = {fake_ok, fake_ok, fake_ok, fake_fail, fake_slow, fake_ok};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(types); i++) {
        char *p = k1s_xasprintf("%s/%s", f->bin, types[i]);
        write_text(p, bodies[i], 0755);
        free(p);
    }
    char *p = k1s_xasprintf("%s/10-test.conflist", f->conf);
    char *c = k1s_xasprintf("{\"cniVersion\":\"1.0.0\",\"name\":\"testnet\",\"plugins\":["
                            "{\"type\":\"first\"},{\"type\":\"%s\",\"capabilities\":{"
                            "\"portMappings\":true}}]}",
                            second_type);
    write_text(p, c, 0644);
    free(c);
    free(p);
    setenv("FAKE_CNI_LOG", f->log, 1);
}

static void fake_teardown(fake_t *f)
{
    rm_rf(f->dir);
    free(f->dir);
    free(f->bin);
    free(f->conf);
    free(f->cache);
    free(f->log);
}

static char *fake_log(fake_t *f)
{
    char *s = NULL;
    size_t n;
    if (k1s_read_file(f->log, &s, &n) < 0)
        return k1s_xstrdup("");
    unlink(f->log);
    return s;
}

static k1s_cni_t *fake_cni(fake_t *f, int timeout_ms)
{
    k1s_cni_opts_t o = {.conf_dir = f->conf,
                        .bin_dirs = "/nonexistent:",
                        .cache_dir = f->cache,
                        .timeout_ms = timeout_ms};
    char *bins = k1s_xasprintf("/nonexistent:%s", f->bin);
    o.bin_dirs = bins;
    k1s_err_t err = {0};
    k1s_cni_t *cni = k1s_cni_new(&o, &err);
    free(bins);
    assert_non_null(cni);
    return cni;
}

static bool exists(const char *dir, const char *name)
{
    char *p = k1s_xasprintf("%s/%s", dir, name);
    bool r = access(p, F_OK) == 0;
    free(p);
    return r;
}

static void test_exec_add_del(void **state)
{
    fake_t f;
    fake_setup(&f, "second");
    k1s_cni_t *cni = fake_cni(&f, 10000);
    k1s_cni_port_t ports[] = {{8080, 80, "tcp", NULL}};
    k1s_cni_pod_t pod = {.id = "sb1",
                         .netns = "/run/netns/x",
                         .namespace_ = "default",
                         .name = "web",
                         .ports = ports,
                         .n_ports = 1};
    k1s_cni_result_t *res = NULL;
    k1s_err_t err = {0};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &pod, &res, &err), 0);
    char buf[64];
    /* The result is the last plugin's, which had the first one's as prevResult. */
    assert_string_equal(k1s_cni_result_pod_ip(res, 4, buf, sizeof(buf)), "10.9.0.8");
    k1s_cni_result_free(res);
    char *log = fake_log(&f);
    assert_string_equal(log, "ADD loopback lo noprev /run/netns/x\n"
                             "ADD first eth0 noprev /run/netns/x\n"
                             "ADD second eth0 prev ports /run/netns/x\n");
    free(log);
    assert_true(exists(f.cache, "testnet-sb1-eth0"));
    assert_true(exists(f.cache, "cni-loopback-sb1-lo"));

    /* CHECK gets the cached prevResult. */
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_CHECK, &pod, NULL, &err), 0);
    log = fake_log(&f);
    assert_string_equal(log, "CHECK loopback lo prev /run/netns/x\n"
                             "CHECK first eth0 prev /run/netns/x\n"
                             "CHECK second eth0 prev ports /run/netns/x\n");
    free(log);

    /* A new driver (an agent restart) and a DEL that gives only the id: the
     * cache supplies netns, ports and prevResult, in reverse order. */
    k1s_cni_free(cni);
    cni = fake_cni(&f, 10000);
    k1s_cni_pod_t del = {.id = "sb1"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_DEL, &del, NULL, &err), 0);
    log = fake_log(&f);
    assert_string_equal(log, "DEL second eth0 prev ports /run/netns/x\n"
                             "DEL first eth0 prev /run/netns/x\n"
                             "DEL loopback lo prev /run/netns/x\n");
    free(log);
    assert_false(exists(f.cache, "testnet-sb1-eth0"));
    assert_false(exists(f.cache, "cni-loopback-sb1-lo"));

    /* DEL again: nothing cached, still fine; CHECK now refuses. */
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_DEL, &del, NULL, &err), 0);
    log = fake_log(&f);
    assert_string_equal(log, "DEL second eth0 noprev \nDEL first eth0 noprev \n"
                             "DEL loopback lo noprev \n");
    free(log);
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_CHECK, &pod, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "CNI CHECK for pod default/web: no completed attachment"));

    /* A damaged cache entry is ignored, not trusted. */
    char *bad_cache = k1s_xasprintf("%s/testnet-g1-eth0", f.cache);
    write_text(bad_cache, "{\"containerId\":\"g1\",\"config\":{\"name\":\"x\",\"plugins\":[{}]}}",
               0600);
    k1s_cni_pod_t g1 = {.id = "g1"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_DEL, &g1, NULL, &err), 0);
    log = fake_log(&f);
    assert_string_equal(log, "DEL second eth0 noprev \nDEL first eth0 noprev \n"
                             "DEL loopback lo noprev \n");
    free(log);
    assert_int_equal(access(bad_cache, F_OK), -1);
    free(bad_cache);

    /* Bad requests fail at once. */
    k1s_cni_pod_t bad = {.id = "../x", .netns = "/x"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &bad, NULL, &err), -EINVAL);
    k1s_cni_pod_t nons = {.id = "x"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &nons, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no network namespace"));
    k1s_cni_free(cni);
    fake_teardown(&f);
}

/* portmap runs only for pods with port mappings (without, it would hand prevResult on, or do
 * nothing): the cached result is still the network's last. */
static void test_exec_portmap_only_with_ports(void **state)
{
    fake_t f;
    fake_setup(&f, "portmap");
    k1s_cni_t *cni = fake_cni(&f, 10000);
    k1s_cni_pod_t pod = {.id = "sb3", .netns = "/n", .namespace_ = "default", .name = "noports"};
    k1s_cni_result_t *res = NULL;
    k1s_err_t err = {0};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &pod, &res, &err), 0);
    char buf[64];
    assert_string_equal(k1s_cni_result_pod_ip(res, 4, buf, sizeof(buf)), "10.9.0.7");
    k1s_cni_result_free(res);
    char *log = fake_log(&f);
    assert_string_equal(log, "ADD loopback lo noprev /n\nADD first eth0 noprev /n\n");
    free(log);
    res = NULL;
    assert_int_equal(k1s_cni_cached_result(cni, "sb3", &res, &err), 0);
    assert_string_equal(k1s_cni_result_pod_ip(res, 4, buf, sizeof(buf)), "10.9.0.7");
    k1s_cni_result_free(res);
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_CHECK, &pod, NULL, &err), 0);
    log = fake_log(&f);
    assert_string_equal(log, "CHECK loopback lo prev /n\nCHECK first eth0 prev /n\n");
    free(log);
    k1s_cni_pod_t del = {.id = "sb3"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_DEL, &del, NULL, &err), 0);
    log = fake_log(&f);
    assert_string_equal(log, "DEL first eth0 prev /n\nDEL loopback lo prev /n\n");
    free(log);
    assert_false(exists(f.cache, "testnet-sb3-eth0"));

    /* with a hostPort it runs, on ADD and on the DEL that finds the ports in the cache */
    k1s_cni_port_t ports[] = {{8080, 80, "tcp", NULL}};
    k1s_cni_pod_t web = {.id = "sb4", .netns = "/n", .name = "web", .ports = ports, .n_ports = 1};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &web, NULL, &err), 0);
    log = fake_log(&f);
    assert_string_equal(log, "ADD loopback lo noprev /n\nADD first eth0 noprev /n\n"
                             "ADD portmap eth0 prev ports /n\n");
    free(log);
    k1s_cni_pod_t del4 = {.id = "sb4"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_DEL, &del4, NULL, &err), 0);
    log = fake_log(&f);
    assert_string_equal(log, "DEL portmap eth0 prev ports /n\nDEL first eth0 prev /n\n"
                             "DEL loopback lo prev /n\n");
    free(log);
    k1s_cni_free(cni);
    fake_teardown(&f);
}

static void test_exec_add_fails_rolls_back(void **state)
{
    fake_t f;
    fake_setup(&f, "fail");
    k1s_cni_t *cni = fake_cni(&f, 10000);
    k1s_cni_pod_t pod = {.id = "sb2", .netns = "/n", .namespace_ = "kube-system", .name = "dns"};
    k1s_cni_result_t *res = NULL;
    k1s_err_t err = {0};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &pod, &res, &err), -EIO);
    assert_null(res);
    assert_string_equal(err.msg, "CNI fail ADD for pod kube-system/dns: out of luck: try later");
    char *log = fake_log(&f);
    assert_string_equal(log, "ADD loopback lo noprev /n\nADD first eth0 noprev /n\n"
                             "ADD fail eth0\n"
                             "DEL fail eth0\nDEL first eth0 prev /n\nDEL loopback lo prev /n\n");
    free(log);
    assert_false(exists(f.cache, "testnet-sb2-eth0"));
    assert_false(exists(f.cache, "cni-loopback-sb2-lo"));
    k1s_cni_free(cni);
    fake_teardown(&f);
}

static void test_exec_missing_plugin_and_timeout(void **state)
{
    fake_t f;
    fake_setup(&f, "nosuchplugin");
    k1s_cni_t *cni = fake_cni(&f, 10000);
    k1s_cni_pod_t pod = {.id = "sb3", .netns = "/n"};
    k1s_err_t err = {0};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &pod, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "CNI nosuchplugin ADD for container sb3: plugin "
                                    "\"nosuchplugin\" not found in /nonexistent:"));
    k1s_cni_free(cni);
    fake_teardown(&f);

    fake_setup(&f, "slow");
    cni = fake_cni(&f, 300);
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &pod, NULL, &err), -ETIMEDOUT);
    assert_non_null(strstr(err.msg, "CNI slow ADD for container sb3: timed out after 300 ms"));
    char *log = fake_log(&f);
    /* The rollback still ran DEL over everything. */
    assert_non_null(strstr(log, "DEL slow eth0\nDEL first eth0"));
    assert_non_null(strstr(log, "DEL loopback lo"));
    free(log);
    k1s_cni_free(cni);
    fake_teardown(&f);
}

static void test_cache_queries_and_readd(void **state)
{
    fake_t f;
    fake_setup(&f, "second");
    k1s_cni_t *cni = fake_cni(&f, 10000);
    k1s_err_t err = {0};
    char **ids;
    size_t n;
    assert_int_equal(k1s_cni_list_ids(cni, &ids, &n, &err), 0);
    assert_int_equal(n, 0);
    k1s_cni_ids_free(ids);
    k1s_cni_pod_t a = {.id = "aa", .netns = "/na"}, b = {.id = "bb", .netns = "/nb"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &b, NULL, &err), 0);
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &a, NULL, &err), 0);
    assert_int_equal(k1s_cni_list_ids(cni, &ids, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "aa");
    assert_string_equal(ids[1], "bb");
    assert_null(ids[2]);
    k1s_cni_ids_free(ids);
    k1s_cni_result_t *res;
    assert_int_equal(k1s_cni_cached_result(cni, "bb", &res, &err), 0);
    assert_string_equal(res->interfaces[0].sandbox, "/nb");
    k1s_cni_result_free(res);
    assert_int_equal(k1s_cni_cached_result(cni, "cc", &res, &err), -ENOENT);
    /* A second ADD of an attached sandbox is refused and leaves it alone. */
    free(fake_log(&f));
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &a, NULL, &err), -EEXIST);
    assert_non_null(strstr(err.msg, "already attached to sandbox aa"));
    char *log = fake_log(&f);
    assert_string_equal(log, "");
    free(log);
    assert_int_equal(k1s_cni_cached_result(cni, "aa", &res, &err), 0);
    k1s_cni_result_free(res);
    k1s_cni_free(cni);
    fake_teardown(&f);
}

static void test_old_version_no_prev_on_del(void **state)
{
    fake_t f;
    fake_setup(&f, "second");
    char *p = k1s_xasprintf("%s/10-test.conflist", f.conf);
    write_text(p, "{\"cniVersion\":\"0.3.1\",\"name\":\"old\",\"plugins\":[{\"type\":\"first\"}]}",
               0644);
    free(p);
    k1s_cni_t *cni = fake_cni(&f, 10000);
    k1s_err_t err = {0};
    k1s_cni_pod_t pod = {.id = "o1", .netns = "/n"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &pod, NULL, &err), 0);
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_CHECK, &pod, NULL, &err), -ENOTSUP);
    assert_non_null(strstr(err.msg, "network old has cniVersion 0.3.1"));
    free(fake_log(&f));
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_DEL, &pod, NULL, &err), 0);
    char *log = fake_log(&f);
    assert_string_equal(log, "DEL first eth0 noprev /n\nDEL loopback lo prev /n\n");
    free(log);
    k1s_cni_free(cni);
    fake_teardown(&f);
}

static void test_no_config_yet(void **state)
{
    fake_t f;
    fake_setup(&f, "second");
    k1s_cni_t *cni = fake_cni(&f, 10000);
    k1s_err_t err = {0};
    k1s_cni_pod_t pod = {.id = "n1", .netns = "/n"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &pod, NULL, &err), 0);
    k1s_cni_free(cni);
    /* The config goes (an agent restarting before its node has a podCIDR). */
    char *p = k1s_xasprintf("%s/10-test.conflist", f.conf);
    assert_int_equal(unlink(p), 0);
    free(p);
    cni = fake_cni(&f, 10000);
    assert_null(k1s_cni_network_name(cni));
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_ADD, &pod, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "no network config in"));
    free(fake_log(&f));
    /* DEL still works, from the cache; an unknown id only runs loopback. */
    k1s_cni_pod_t del = {.id = "n1"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_DEL, &del, NULL, &err), 0);
    char *log = fake_log(&f);
    assert_string_equal(log, "DEL second eth0 prev /n\nDEL first eth0 prev /n\n"
                             "DEL loopback lo prev /n\n");
    free(log);
    k1s_cni_pod_t unknown = {.id = "n2"};
    assert_int_equal(k1s_cni_run(cni, K1S_CNI_DEL, &unknown, NULL, &err), 0);
    log = fake_log(&f);
    assert_string_equal(log, "DEL loopback lo noprev \n");
    free(log);
    /* An invalid config is an error at once. */
    p = k1s_xasprintf("%s/10-test.conflist", f.conf);
    write_text(p, "{\"name\": 1}", 0644);
    free(p);
    assert_int_equal(k1s_cni_reload(cni, &err), -EINVAL);
    k1s_cni_free(cni);
    k1s_cni_opts_t o = {.conf_dir = f.conf, .cache_dir = f.cache};
    assert_null(k1s_cni_new(&o, &err));
    assert_non_null(strstr(err.msg, "no network \"name\""));
    fake_teardown(&f);
}

typedef struct {
    int done;
    int failed;
    char ip[64];
} async_t;

static void async_cb(k1s_cni_result_t *result, const k1s_err_t *err, void *ud)
{
    async_t *a = ud;
    a->done++;
    if (err)
        a->failed++;
    if (result)
        k1s_cni_result_pod_ip(result, 4, a->ip, sizeof(a->ip));
    k1s_cni_result_free(result);
}

static void on_cancel_timer(evutil_socket_t fd, short what, void *arg)
{
    k1s_cni_op_cancel(arg);
}

static void test_async_concurrent_and_cancel(void **state)
{
    fake_t f;
    fake_setup(&f, "second");
    k1s_cni_t *cni = fake_cni(&f, 10000);
    struct event_base *base = event_base_new();
    async_t res[3] = {{0}};
    k1s_err_t err = {0};
    const char *ids[] = {"p0", "p1", "p2"};
    for (int i = 0; i < 3; i++) {
        k1s_cni_pod_t pod = {.id = ids[i], .netns = "/n"};
        assert_int_equal(k1s_cni_start(cni, base, K1S_CNI_ADD, &pod, async_cb, &res[i], NULL, &err),
                         0);
        assert_int_equal(res[i].done, 0); /* never called back from inside start */
    }
    while (res[0].done + res[1].done + res[2].done < 3)
        event_base_loop(base, EVLOOP_ONCE);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i].failed, 0);
        assert_string_equal(res[i].ip, "10.9.0.8");
    }
    k1s_cni_free(cni);
    fake_teardown(&f);

    /* Cancelling a slow ADD kills its plugin and never calls back. */
    fake_setup(&f, "slow");
    cni = fake_cni(&f, 60000);
    async_t slow = {0};
    k1s_cni_op_t *op = NULL;
    k1s_cni_pod_t pod = {.id = "s", .netns = "/n"};
    assert_int_equal(k1s_cni_start(cni, base, K1S_CNI_ADD, &pod, async_cb, &slow, &op, &err), 0);
    struct event *t = evtimer_new(base, on_cancel_timer, op);
    struct timeval tv = {0, 300000};
    evtimer_add(t, &tv);
    event_base_dispatch(base); /* returns once nothing is pending: the op is gone */
    assert_int_equal(slow.done, 0);
    char *log = fake_log(&f);
    assert_non_null(strstr(log, "ADD slow eth0"));
    free(log);
    event_free(t);
    event_base_free(base);
    k1s_cni_free(cni);
    fake_teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_conflist),
        cmocka_unit_test(test_write_conf_changed),
        cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_plugin_conf),
        cmocka_unit_test(test_args_id_ports),
        cmocka_unit_test(test_result_parse),
        cmocka_unit_test(test_plugin_error_msg),
        cmocka_unit_test(test_version_ge),
        cmocka_unit_test(test_exec_add_del),
        cmocka_unit_test(test_exec_portmap_only_with_ports),
        cmocka_unit_test(test_exec_add_fails_rolls_back),
        cmocka_unit_test(test_exec_missing_plugin_and_timeout),
        cmocka_unit_test(test_cache_queries_and_readd),
        cmocka_unit_test(test_old_version_no_prev_on_del),
        cmocka_unit_test(test_no_config_yet),
        cmocka_unit_test(test_async_concurrent_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
