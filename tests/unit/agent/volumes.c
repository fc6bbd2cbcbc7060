/* Volume ownership (fsGroup) and hostPath type checks (src/agent/volumes.c). */
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
#include "agent/volumes.h"
#include "lib/util.h"

static json_t *vol(const char *path, const char *type)
{
    return json_pack("{s:s, s:{s:s, s:s}}", "name", "v", "hostPath", "path", path, "type", type);
}

static void check(const char *path, const char *type, int want, const char *msg)
{
    json_t *v = vol(path, type);
    k1s_err_t err = {0};
    assert_int_equal(k1s_vols_hostpath_check(v, &err), want);
    if (msg)
        assert_string_equal(err.msg, msg);
    json_decref(v);
}

static void test_hostpath_types(void **state)
{
    check("/dev/null", "CharDevice", 0, NULL);
    check("/dev/null", "", 0, NULL);
    check("/dev/null", "BlockDevice", -EINVAL,
          "hostPath type check failed: /dev/null is not a block device");
    check("/dev/null", "Directory", -EINVAL,
          "hostPath type check failed: /dev/null is not a directory");
    check("/dev", "File", -EINVAL, "hostPath type check failed: /dev is not a file");
    check("/dev", "Socket", -EINVAL, "hostPath type check failed: /dev is not a socket file");
    check("/dev", "CharDevice", -EINVAL,
          "hostPath type check failed: /dev is not a character device");
    check("/nonexistent-k1s", "Directory", -ENOENT,
          "hostPath type check failed: /nonexistent-k1s is not a directory");
    check("/dev", "Sideways", -EINVAL, "Sideways is an invalid volume type");
    char dir[] = "/tmp/k1s-hostpath-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/a/b", dir);
    check(path, "DirectoryOrCreate", 0, NULL);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    check(path, "DirectoryOrCreate", 0, NULL);  /* exists: fine */
    check(path, "FileOrCreate", -EINVAL, NULL); /* exists, but a directory */
    snprintf(path, sizeof(path), "%s/c/f", dir);
    check(path, "FileOrCreate", 0, NULL);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0644);
    check(path, "File", 0, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_ownership(void **state)
{
    char dir[] = "/tmp/k1s-own-XXXXXX";
    assert_non_null(mkdtemp(dir));
    chmod(dir, 0755);
    char sub[300], file[300], link[300];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    snprintf(file, sizeof(file), "%s/sub/f", dir);
    snprintf(link, sizeof(link), "%s/l", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(k1s_write_file_atomic(file, "x", 1, 0600), 0);
    assert_int_equal(symlink("sub/f", link), 0);
    json_t *pod = json_pack("{s:{s:{s:i}}}", "spec", "securityContext", "fsGroup", 2345);
    assert_int_equal(k1s_vols_fs_group(pod), 2345);
    k1s_err_t err = {0};
    assert_int_equal(k1s_vols_set_ownership(pod, dir, 2345, false, &err), 0);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_gid, 2345);
    assert_int_equal(st.st_mode & 07777, 02775);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_gid, 2345);
    assert_int_equal(st.st_mode & 07777, 02770);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_gid, 2345);
    assert_int_equal(st.st_mode & 07777, 0660);
    assert_int_equal(lstat(link, &st), 0);
    assert_int_equal(st.st_gid, 2345);

    /* read-only volumes get g+r only */
    assert_int_equal(chmod(file, 0600), 0);
    assert_int_equal(k1s_vols_set_ownership(pod, dir, 2345, true, &err), 0);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);

    /* OnRootMismatch: a root that matches leaves the rest alone */
    json_object_set_new(json_object_get(json_object_get(pod, "spec"), "securityContext"),
                        "fsGroupChangePolicy", json_string("OnRootMismatch"));
    assert_int_equal(chmod(file, 0600), 0);
    assert_int_equal(k1s_vols_set_ownership(pod, dir, 2345, false, &err), 0);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* a root of another group: everything again */
    assert_int_equal(k1s_vols_set_ownership(pod, dir, 2346, false, &err), 0);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_gid, 2346);
    assert_int_equal(st.st_mode & 07777, 0660);

    /* no fsGroup: nothing */
    json_t *none = json_pack("{s:{}}", "spec");
    assert_int_equal(k1s_vols_fs_group(none), -1);
    assert_int_equal(k1s_vols_set_ownership(none, "/nonexistent-k1s", -1, false, &err), 0);
    json_decref(none);
    json_decref(pod);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hostpath_types),
                                       cmocka_unit_test(test_ownership)};
    return cmocka_run_group_tests_name("agent/volumes", tests, NULL, NULL);
}
