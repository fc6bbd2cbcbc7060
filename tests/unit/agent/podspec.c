/* Pod and container spec -> runtime config and pod files (src/agent/podspec.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    assert_non_null(strstr(err.msg, "image will run as root"));
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
    assert_int_equal(k1s_mkdir_p("/tmp/k1s-podspec-test/volumes/ed", 0777), 0);
    assert_int_equal(build(p, &img, &b, &err), 0);
    /* the primary group (0: the image has no /etc/passwd), fsGroup, supplementalGroups */
    assert_int_equal(b.cfg.n_additional_gids, 3);
    assert_int_equal(b.cfg.additional_gids[0], 0);
    assert_int_equal(b.cfg.additional_gids[1], 2000);
    assert_int_equal(b.cfg.additional_gids[2], 4000);
    bool found = false;
    for (size_t i = 0; i < b.cfg.n_mounts; i++)
        if (!strcmp(b.cfg.mounts[i].destination, "/data")) {
            /* bind-mounted from inside the volume onto the pod's volume-subpaths */
            assert_string_equal(b.cfg.mounts[i].source,
                                "/tmp/k1s-podspec-test/volume-subpaths/ed/c/0");
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
    struct stat st, vst;
    assert_int_equal(stat("/tmp/k1s-podspec-test/volume-subpaths/ed/c/0", &st), 0);
    assert_int_equal(stat("/tmp/k1s-podspec-test/volumes/ed/logs/p", &vst), 0);
    assert_true(st.st_ino == vst.st_ino && st.st_dev == vst.st_dev);
    k1s_podspec_unmount_volumes("/tmp/k1s-podspec-test");
    assert_int_equal(stat("/tmp/k1s-podspec-test/volume-subpaths/ed/c/0", &st), 0);
    assert_true(st.st_ino != vst.st_ino);
    assert_int_equal(system("rm -rf /tmp/k1s-podspec-test"), 0);
}

/* resourceFieldRef as kubelet computes it: divided by the divisor, rounded up; a limit that
 * is not set is the node's allocatable. */
static void test_resource_field_ref(void **state)
{
    k1s_image_config_t img = {.entrypoint = ep};
    k1s_err_t err = {0};
    k1s_ctr_build_t b;
    json_t *p = pod_with(
        "{\"name\":\"c\",\"image\":\"i\",\"resources\":{\"limits\":{\"cpu\":\"500m\","
        "\"memory\":\"64Mi\"},\"requests\":{\"cpu\":\"250m\"}},\"env\":["
        "{\"name\":\"A\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.cpu\"}}},"
        "{\"name\":\"B\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.cpu\","
        "\"divisor\":\"1m\"}}},"
        "{\"name\":\"C\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.memory\","
        "\"divisor\":\"1Mi\"}}},"
        "{\"name\":\"D\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":"
        "\"requests.memory\"}}},"
        "{\"name\":\"E\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"requests.cpu\"}}},"
        "{\"name\":\"F\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":"
        "\"limits.ephemeral-storage\",\"divisor\":\"1Mi\"}}}]}");
    assert_int_equal(build(p, &img, &b, &err), 0);
    assert_string_equal(env_of(&b, "A"), "1");
    assert_string_equal(env_of(&b, "B"), "500");
    assert_string_equal(env_of(&b, "C"), "64");
    assert_string_equal(env_of(&b, "D"), "0");
    assert_string_equal(env_of(&b, "E"), "1");
    assert_true(atoll(env_of(&b, "F")) > 0); /* the node's allocatable */
    k1s_ctr_build_clear(&b);
    json_decref(p);
    /* no memory limit: the node's allocatable memory */
    p = pod_with("{\"name\":\"c\",\"image\":\"i\",\"env\":[{\"name\":\"M\",\"valueFrom\":"
                 "{\"resourceFieldRef\":{\"resource\":\"limits.memory\"}}}]}");
    assert_int_equal(build(p, &img, &b, &err), 0);
    assert_true(atoll(env_of(&b, "M")) > 64 * 1024 * 1024);
    k1s_ctr_build_clear(&b);
    json_decref(p);
    p = pod_with("{\"name\":\"c\",\"image\":\"i\",\"env\":[{\"name\":\"M\",\"valueFrom\":"
                 "{\"resourceFieldRef\":{\"resource\":\"limits.gpu\"}}}]}");
    assert_int_equal(build(p, &img, &b, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "unsupported resource \"limits.gpu\""));
    k1s_ctr_build_clear(&b);
    json_decref(p);
}

/* A Localhost seccomp profile is refused, not run unconfined; termination messages are cut
 * at kubelet's 4096 bytes. */
static void test_seccomp_and_termination_message(void **state)
{
    k1s_image_config_t img = {.entrypoint = ep};
    k1s_err_t err = {0};
    k1s_ctr_build_t b;
    json_t *p = pod_with("{\"name\":\"c\",\"image\":\"i\",\"securityContext\":{"
                         "\"seccompProfile\":{\"type\":\"Localhost\",\"localhostProfile\":"
                         "\"audit.json\"}}}");
    assert_int_equal(build(p, &img, &b, &err), -ENOTSUP);
    assert_non_null(strstr(err.msg, "Localhost (\"audit.json\") is not supported"));
    k1s_ctr_build_clear(&b);
    json_decref(p);
    p = pod_with("{\"name\":\"c\",\"image\":\"i\",\"securityContext\":{"
                 "\"seccompProfile\":{\"type\":\"Unconfined\"}}}");
    assert_int_equal(build(p, &img, &b, &err), 0);
    assert_int_equal(b.cfg.seccomp, K1S_RT_SECCOMP_UNCONFINED);
    k1s_ctr_build_clear(&b);
    json_decref(p);

    char path[] = "/tmp/k1s-termmsg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_null(k1s_podspec_termination_message(path));
    char *big = k1s_xmalloc(10000);
    memset(big, 'm', 10000);
    assert_int_equal(k1s_write_file_atomic(path, big, 10000, 0644), 0);
    free(big);
    char *msg = k1s_podspec_termination_message(path);
    assert_int_equal(strlen(msg), 4096);
    free(msg);
    unlink(path);
    assert_null(k1s_podspec_termination_message(path));
}

/* A Memory emptyDir's size: the smallest of the node's allocatable memory, the pod's
 * memory limit and the sizeLimit. */
static void test_memory_volume_size(void **state)
{
    json_t *vol = json_pack("{s:s, s:{s:s}}", "name", "m", "emptyDir", "medium", "Memory");
    json_t *p = pod_with("{\"name\":\"c\",\"image\":\"i\"}");
    int64_t node = k1s_podspec_memory_volume_size(p, vol, "/");
    assert_true(node > 64 * 1024 * 1024); /* no limits anywhere: the node's allocatable */
    json_decref(p);
    p = pod_with("{\"name\":\"a\",\"image\":\"i\",\"resources\":{\"limits\":{\"memory\":"
                 "\"32Mi\"}}},{\"name\":\"b\",\"image\":\"i\",\"resources\":{\"limits\":{"
                 "\"memory\":\"16Mi\"}}}");
    assert_int_equal(k1s_podspec_memory_volume_size(p, vol, "/"), 48 * 1024 * 1024);
    json_object_set_new(json_object_get(vol, "emptyDir"), "sizeLimit", json_string("1Mi"));
    assert_int_equal(k1s_podspec_memory_volume_size(p, vol, "/"), 1024 * 1024);
    json_object_set_new(json_object_get(vol, "emptyDir"), "sizeLimit", json_string("1Gi"));
    assert_int_equal(k1s_podspec_memory_volume_size(p, vol, "/"), 48 * 1024 * 1024);
    json_decref(p);
    /* one container without a limit: the pod is not limited */
    p = pod_with("{\"name\":\"a\",\"image\":\"i\",\"resources\":{\"limits\":{\"memory\":"
                 "\"32Mi\"}}},{\"name\":\"b\",\"image\":\"i\"}");
    assert_int_equal(k1s_podspec_memory_volume_size(p, vol, "/"),
                     node < 1024LL * 1024 * 1024 ? node : 1024LL * 1024 * 1024);
    json_decref(p);
    json_decref(vol);
}

static void write_at(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(k1s_write_file_atomic(path, text, strlen(text), 0644), 0);
}

/* User names and uids resolved in the image's /etc/passwd and /etc/group, as containerd
 * does, and never in the node's through a symlink. */
static void test_image_user(void **state)
{
    char root[] = "/tmp/k1s-rootfs-XXXXXX";
    assert_non_null(mkdtemp(root));
    char etc[300];
    snprintf(etc, sizeof(etc), "%s/etc", root);
    assert_int_equal(k1s_mkdir_p(etc, 0755), 0);
    write_at(root, "etc/passwd",
             "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:102:nginx:/:/sbin/nologin\n"
             "bad line\nnobody:x:65534:65534::/:/bin/false\n");
    write_at(root, "etc/group",
             "root:x:0:\nnginx:x:102:nginx\nwww:x:33:nobody,nginx\nlogs:x:4:nginx\n"
             "other:x:9:root\n");
    k1s_ctr_user_t u;
    k1s_err_t err = {0};
    assert_int_equal(k1s_podspec_user(root, "nginx", -1, &u, &err), 0);
    assert_int_equal(u.uid, 101);
    assert_int_equal(u.gid, 102);
    assert_int_equal(u.n_gids, 3); /* 102, then www and logs */
    assert_int_equal(u.gids[0], 102);
    assert_int_equal(u.gids[1], 33);
    assert_int_equal(u.gids[2], 4);
    free(u.gids);
    /* a uid finds its entry too; runAsGroup replaces the group */
    assert_int_equal(k1s_podspec_user(root, "65534", 7, &u, &err), 0);
    assert_int_equal(u.uid, 65534);
    assert_int_equal(u.gid, 7);
    assert_int_equal(u.n_gids, 2);
    assert_int_equal(u.gids[1], 33);
    free(u.gids);
    /* an unknown uid: group 0; an unknown name: an error that says what to do */
    assert_int_equal(k1s_podspec_user(root, "4242", -1, &u, &err), 0);
    assert_int_equal(u.uid, 4242);
    assert_int_equal(u.gid, 0);
    free(u.gids);
    assert_int_equal(k1s_podspec_user(root, "postgres", -1, &u, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "unable to find user postgres"));
    assert_non_null(strstr(err.msg, "runAsUser"));
    /* /etc/passwd as a symlink to the node's: resolved inside the rootfs, where it is not */
    char path[400];
    snprintf(path, sizeof(path), "%s/etc/passwd", root);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    assert_int_equal(k1s_podspec_user(root, "root", -1, &u, &err), -ENOENT);
    /* and through a relative one that climbs out */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("../../../../../../../etc/passwd", path), 0);
    assert_int_equal(k1s_podspec_user(root, "root", -1, &u, &err), -ENOENT);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);

    /* runAsNonRoot with a user name cannot be verified, as kubelet says */
    k1s_image_config_t img = {.entrypoint = ep, .user = "nginx:nginx"};
    k1s_ctr_build_t b;
    json_t *p =
        pod_with("{\"name\":\"c\",\"image\":\"i\",\"securityContext\":{\"runAsNonRoot\":true}}");
    assert_int_equal(build(p, &img, &b, &err), -EPERM);
    assert_non_null(strstr(err.msg, "non-numeric user (nginx)"));
    k1s_ctr_build_clear(&b);
    json_decref(p);
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_command_and_args),
                                       cmocka_unit_test(test_env_expansion),
                                       cmocka_unit_test(test_security_and_resources),
                                       cmocka_unit_test(test_groups_and_subpath_expr),
                                       cmocka_unit_test(test_image_user),
                                       cmocka_unit_test(test_resource_field_ref),
                                       cmocka_unit_test(test_seccomp_and_termination_message),
                                       cmocka_unit_test(test_memory_volume_size),
                                       cmocka_unit_test(test_pod_files)};
    return cmocka_run_group_tests_name("agent/podspec", tests, NULL, NULL);
}
