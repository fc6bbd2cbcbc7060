/* subPath mounts that cannot leave their volume (src/agent/subpath.c). Needs root (mounts). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/kubelet-int.h"

static void test_subpath(void **state)
{
    char dir[] = "/tmp/k1s-subpath-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char vol[300], path[400], target[400];
    snprintf(vol, sizeof(vol), "%s/vol", dir);
    assert_int_equal(k1s_mkdir_p(vol, 0770), 0);
    assert_int_equal(chown(vol, (uid_t)-1, 2000), 0);
    chmod(vol, 02770);
    k1s_err_t err = {0};

    /* missing directories are made with the root's mode and group */
    snprintf(target, sizeof(target), "%s/subpaths/a", dir);
    assert_int_equal(k1s_subpath_prepare(vol, "x/y", target, &err), 0);
    struct stat st, tst;
    snprintf(path, sizeof(path), "%s/x/y", vol);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_gid, 2000);
    assert_int_equal(st.st_mode & 07777, 02770);
    assert_int_equal(stat(target, &tst), 0);
    assert_true(tst.st_ino == st.st_ino);

    /* a file, through a symlink that stays inside */
    snprintf(path, sizeof(path), "%s/x/f", vol);
    assert_int_equal(k1s_write_file_atomic(path, "hi", 2, 0644), 0);
    snprintf(path, sizeof(path), "%s/link", vol);
    assert_int_equal(symlink("x/f", path), 0);
    snprintf(target, sizeof(target), "%s/subpaths/b", dir);
    assert_int_equal(k1s_subpath_prepare(vol, "link", target, &err), 0);
    char *data = NULL;
    assert_int_equal(k1s_read_file(target, &data, NULL), 0);
    assert_string_equal(data, "hi");
    free(data);

    /* symlinks out of the volume, absolute or relative, and a path through one */
    snprintf(path, sizeof(path), "%s/abs", vol);
    assert_int_equal(symlink("/etc", path), 0);
    snprintf(path, sizeof(path), "%s/rel", vol);
    assert_int_equal(symlink("../..", path), 0);
    snprintf(target, sizeof(target), "%s/subpaths/c", dir);
    assert_int_equal(k1s_subpath_prepare(vol, "abs", target, &err), -EXDEV);
    assert_non_null(strstr(err.msg, "outside the volume"));
    assert_int_equal(k1s_subpath_prepare(vol, "rel", target, &err), -EXDEV);
    assert_int_equal(k1s_subpath_prepare(vol, "abs/passwd", target, &err), -EXDEV);
    /* nor is anything made outside through one */
    assert_int_equal(k1s_subpath_prepare(vol, "rel/k1s-subpath-escape/z", target, &err), -EXDEV);
    snprintf(path, sizeof(path), "%s/../k1s-subpath-escape", dir);
    assert_int_equal(access(path, F_OK), -1);

    k1s_podspec_unmount_volumes(dir); /* "<dir>/volume..." only: ours are under subpaths/ */
    snprintf(target, sizeof(target), "%s/subpaths/a", dir);
    umount2(target, MNT_DETACH);
    snprintf(target, sizeof(target), "%s/subpaths/b", dir);
    umount2(target, MNT_DETACH);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("agent/subpath: skipped (needs root for bind mounts)\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_subpath)};
    return cmocka_run_group_tests_name("agent/subpath", tests, NULL, NULL);
}
