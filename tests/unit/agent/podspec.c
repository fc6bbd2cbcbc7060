/* Pod and container spec -> runtime config and pod files (src/agent/podspec.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/kubelet-int.h"

static json_t *pod_with(const char *container_json)
{
    char buf[4096];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns1\",\"uid\":\"u1\","
             "\"labels\":{\"app\":\"x\"}},\"spec\":{\"nodeName\":\"n1\",\"containers\":[%s]}}",
             container_json);
    json_error_t e;
    json_t *p = json_loads(buf, 0, &e);
    assert_non_null(p);
    return p;
}

static int build(json_t *pod, k1s_image_config_t *img, k1s_ctr_build_t *b, k1s_err_t *err)
{
    k1s_pod_env_t e = {.pod = pod,
                       .pod_dir = "/tmp/k1s-podspec-test",
                       .netns = "/run/netns/x",
                       .pod_ip = "10.42.0.9",
                       .node_ip = "10.0.0.1",
                       .rootfs = "/tmp/rootfs",
                       .container = json_array_get(k1s_jpath(pod, "spec.containers"), 0),
                       .image = img};
    return k1s_podspec_container(&e, b, err);
}

static const char *env_of(const k1s_ctr_build_t *b, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; b->env && b->env[i]; i++)
        if (!strncmp(b->env[i], name, n) && b->env[i][n] == '=')
            return b->env[i] + n + 1;
    return NULL;
}

static char *ep[] = {"/entry", NULL};
static char *cmd[] = {"default-arg", NULL};
static char *ienv[] = {"PATH=/bin", "FROM_IMAGE=1", NULL};

static void test_command_and_args(void **state)
{
    k1s_image_config_t img = {.entrypoint = ep, .cmd = cmd, .env = ienv};
    k1s_err_t err = {0};
    k1s_ctr_build_t b;
    /* neither: the image's Entrypoint + Cmd */
    json_t *p = pod_with("{\"name\":\"c\",\"image\":\"i\"}");
    assert_int_equal(build(p, &img, &b, &err), 0);
    assert_string_equal(b.args[0], "/entry");
    assert_string_equal(b.args[1], "default-arg");
    assert_null(b.args[2]);
    k1s_ctr_build_clear(&b);
    json_decref(p);
    /* args only: Entrypoint + args */
    p = pod_with("{\"name\":\"c\",\"image\":\"i\",\"args\":[\"a\"]}");
    assert_int_equal(build(p, &img, &b, &err), 0);
    assert_string_equal(b.args[0], "/entry");
    assert_string_equal(b.args[1], "a");
    assert_null(b.args[2]);
    k1s_ctr_build_clear(&b);
    json_decref(p);
    /* command: replaces Entrypoint and drops Cmd */
    p = pod_with("{\"name\":\"c\",\"image\":\"i\",\"command\":[\"sh\"]}");
    assert_int_equal(build(p, &img, &b, &err), 0);
    assert_string_equal(b.args[0], "sh");
    assert_null(b.args[1]);
    k1s_ctr_build_clear(&b);
    json_decref(p);
}

static void test_env_expansion(void **state)
{
    k1s_image_config_t img = {.entrypoint = ep, .env = ienv};
    k1s_err_t err = {0};
    k1s_ctr_build_t b;
    json_t *p = pod_with(
        "{\"name\":\"c\",\"image\":\"i\",\"command\":[\"echo\",\"$(A)\",\"$$(A)\",\"$(NOPE)\"],"
        "\"env\":[{\"name\":\"A\",\"value\":\"x\"},{\"name\":\"B\",\"value\":\"$(A)-$(C)\"},"
        "{\"name\":\"C\",\"value\":\"c\"},"
        "{\"name\":\"IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
        "{\"name\":\"L\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['app']\"}}},"
        "{\"name\":\"FROM_IMAGE\",\"value\":\"2\"}]}");
    assert_int_equal(build(p, &img, &b, &err), 0);
    assert_string_equal(env_of(&b, "B"), "x-$(C)"); /* C is defined later: stays */
    assert_string_equal(env_of(&b, "IP"), "10.42.0.9");
    assert_string_equal(env_of(&b, "L"), "x");
    assert_string_equal(env_of(&b, "FROM_IMAGE"), "2");
    assert_string_equal(env_of(&b, "PATH"), "/bin");
    assert_string_equal(env_of(&b, "KUBERNETES_SERVICE_HOST"), "10.43.0.1");
    assert_string_equal(env_of(&b, "HOSTNAME"), "p");
    assert_string_equal(b.args[1], "x");
    assert_string_equal(b.args[2], "$(A)");
    assert_string_equal(b.args[3], "$(NOPE)");
    k1s_ctr_build_clear(&b);
    json_decref(p);
}

static void test_security_and_resources(void **state)
{
    k1s_image_config_t img = {.entrypoint = ep, .user = "0"};
    k1s_err_t err = {0};
    k1s_ctr_build_t b;
    json_t *p =
        pod_with("{\"name\":\"c\",\"image\":\"i\",\"securityContext\":{\"runAsNonRoot\":true}}");
    assert_int_equal(build(p, &img, &b, &err), -EPERM);
    assert_non_null(strstr(err.msg, "non-root"));
    k1s_ctr_build_clear(&b);
    json_decref(p);
    p = pod_with("{\"name\":\"c\",\"image\":\"i\",\"securityContext\":{\"runAsUser\":1000,"
                 "\"readOnlyRootFilesystem\":true,\"allowPrivilegeEscalation\":false},"
                 "\"resources\":{\"requests\":{\"cpu\":\"250m\"},\"limits\":{\"cpu\":\"1\","
                 "\"memory\":\"64Mi\"}}}");
    assert_int_equal(build(p, &img, &b, &err), 0);
    assert_int_equal(b.cfg.uid, 1000);
    assert_true(b.cfg.rootfs_readonly);
    assert_true(b.cfg.no_new_privileges);
    assert_int_equal(b.cfg.cpu_request_milli, 250);
    assert_int_equal(b.cfg.cpu_limit_milli, 1000);
    assert_int_equal(b.cfg.memory_limit_bytes, 64 * 1024 * 1024);
    assert_string_equal(k1s_podspec_qos(p), "Burstable");
    k1s_ctr_build_clear(&b);
    json_decref(p);
    p = pod_with("{\"name\":\"c\",\"image\":\"i\",\"resources\":{\"limits\":{\"cpu\":\"1\","
                 "\"memory\":\"64Mi\"}}}");
    assert_string_equal(k1s_podspec_qos(p), "Guaranteed");
    json_decref(p);
    p = pod_with("{\"name\":\"c\",\"image\":\"i\"}");
    assert_string_equal(k1s_podspec_qos(p), "BestEffort");
    json_decref(p);
}

/* fsGroup and supplementalGroups become the process's additional gids; subPathExpr expands
 * the container's env, and cannot go with subPath. */
static void test_groups_and_subpath_expr(void **state)
{
    k1s_image_config_t img = {.entrypoint = ep};
    k1s_err_t err = {0};
    k1s_ctr_build_t b;
    json_t *p = pod_with("{\"name\":\"c\",\"image\":\"i\",\"env\":[{\"name\":\"POD\","
                         "\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}],"
                         "\"volumeMounts\":[{\"name\":\"ed\",\"mountPath\":\"/data\","
                         "\"subPathExpr\":\"logs/$(POD)\"}]}");
    json_t *spec = json_object_get(p, "spec");
    json_object_set_new(
        spec, "securityContext",
        json_pack("{s:i, s:[i, i]}", "fsGroup", 2000, "supplementalGroups", 4000, 2000));
    json_object_set_new(spec, "volumes", json_pack("[{s:s, s:{}}]", "name", "ed", "emptyDir"));
    assert_int_equal(build(p, &img, &b, &err), 0);
    assert_int_equal(b.cfg.n_additional_gids, 2);
    assert_int_equal(b.cfg.additional_gids[0], 2000);
    assert_int_equal(b.cfg.additional_gids[1], 4000);
    bool found = false;
    for (size_t i = 0; i < b.cfg.n_mounts; i++)
        if (!strcmp(b.cfg.mounts[i].destination, "/data")) {
            assert_string_equal(b.cfg.mounts[i].source, "/tmp/k1s-podspec-test/volumes/ed/logs/p");
            found = true;
        }
    assert_true(found);
    k1s_ctr_build_clear(&b);
    json_t *vm = json_array_get(
        json_object_get(json_array_get(json_object_get(spec, "containers"), 0), "volumeMounts"), 0);
    json_object_set_new(vm, "subPath", json_string("other"));
    assert_int_equal(build(p, &img, &b, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "mutually exclusive"));
    k1s_ctr_build_clear(&b);
    json_object_set_new(json_object_get(spec, "securityContext"), "supplementalGroups",
                        json_pack("[i]", -1));
    assert_int_equal(build(p, &img, &b, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "supplementalGroups"));
    k1s_ctr_build_clear(&b);
    json_decref(p);
    assert_int_equal(system("rm -rf /tmp/k1s-podspec-test"), 0);
}

static void test_pod_files(void **state)
{
    char dir[] = "/tmp/k1s-podfiles-XXXXXX";
    assert_non_null(mkdtemp(dir));
    json_t *p = pod_with("{\"name\":\"c\",\"image\":\"i\"}");
    k1s_err_t err = {0};
    assert_int_equal(k1s_podspec_files(p, dir, "10.42.0.9", &err), 0);
    char path[256], *data = NULL;
    snprintf(path, sizeof(path), "%s/resolv.conf", dir);
    assert_int_equal(k1s_read_file(path, &data, NULL), 0);
    assert_non_null(strstr(data, "search ns1.svc.cluster.local svc.cluster.local cluster.local"));
    assert_non_null(strstr(data, "nameserver 10.43.0.10\n"));
    assert_non_null(strstr(data, "options ndots:5\n"));
    free(data);
    snprintf(path, sizeof(path), "%s/etc-hosts", dir);
    assert_int_equal(k1s_read_file(path, &data, NULL), 0);
    assert_non_null(strstr(data, "10.42.0.9\tp\n"));
    free(data);
    json_decref(p);
    char cmdline[300];
    snprintf(cmdline, sizeof(cmdline), "rm -rf %s", dir);
    assert_int_equal(system(cmdline), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_and_args), cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_security_and_resources),
        cmocka_unit_test(test_groups_and_subpath_expr), cmocka_unit_test(test_pod_files)};
    return cmocka_run_group_tests_name("agent/podspec", tests, NULL, NULL);
}
