/* Unit tests for the local-path provisioner (src/controllers/localpath.c, included to reach its
 * statics): the PersistentVolume it writes, and that it removes only its own directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../src/controllers/localpath.c"

static void test_new_volume(void **state)
{
    json_t *claim = json_pack("{s:{s:s,s:s,s:s,s:s},s:{s:{s:{s:s}},s:[s],s:s}}", "metadata", "name",
                              "data", "namespace", "ns", "uid", "u-1", "resourceVersion", "7",
                              "spec", "resources", "requests", "storage", "2Gi", "accessModes",
                              "ReadWriteOnce", "storageClassName", "local-path");
    json_t *sc =
        json_pack("{s:{s:s},s:s,s:s,s:[s]}", "metadata", "name", "local-path", "provisioner",
                  PROVISIONER, "reclaimPolicy", "Retain", "mountOptions", "noatime");
    json_t *pv = new_volume(claim, sc, "pvc-u-1", "/d/storage/pvc-u-1_ns_data", "n1", "host-1");
    assert_non_null(pv);
    json_t *want = json_pack(
        "{s:s,s:s,s:{s:s,s:{s:s,s:s},s:[s]},s:{s:{s:s},s:[s],s:s,s:s,s:s,s:{s:s,s:s},"
        "s:{s:s,s:s,s:s,s:s,s:s,s:s},s:[s],s:{s:{s:[{s:[{s:s,s:s,s:[s]}]}]}}}}",
        "apiVersion", "v1", "kind", "PersistentVolume", "metadata", "name", "pvc-u-1",
        "annotations", "pv.kubernetes.io/provisioned-by", PROVISIONER,
        "local.path.provisioner/selected-node", "n1", "finalizers", "kubernetes.io/pv-protection",
        "spec", "capacity", "storage", "2Gi", "accessModes", "ReadWriteOnce",
        "persistentVolumeReclaimPolicy", "Retain", "storageClassName", "local-path", "volumeMode",
        "Filesystem", "hostPath", "path", "/d/storage/pvc-u-1_ns_data", "type", "DirectoryOrCreate",
        "claimRef", "kind", "PersistentVolumeClaim", "namespace", "ns", "name", "data", "uid",
        "u-1", "apiVersion", "v1", "resourceVersion", "7", "mountOptions", "noatime",
        "nodeAffinity", "required", "nodeSelectorTerms", "matchExpressions", "key",
        "kubernetes.io/hostname", "operator", "In", "values", "host-1");
    assert_true(json_equal(pv, want));
    json_decref(pv);
    json_decref(want);
    /* no node: no affinity; no reclaim policy on the class: Delete */
    json_object_del(sc, "reclaimPolicy");
    pv = new_volume(claim, sc, "pvc-u-1", "/d/storage/x", NULL, NULL);
    assert_null(json_object_get(json_object_get(pv, "spec"), "nodeAffinity"));
    assert_string_equal(k1s_ctrl_str(json_object_get(pv, "spec"), "persistentVolumeReclaimPolicy"),
                        "Delete");
    json_decref(pv);
    json_decref(sc);
    json_decref(claim);
}

static void test_remove_dir(void **state)
{
    char tmpl[] = "/tmp/k1s-localpath-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    lp_t l = {.storage_dir = k1s_xasprintf("%s/storage", tmpl)};
    char *vol = k1s_xasprintf("%s/pvc-1_ns_c", l.storage_dir);
    char *sub = k1s_xasprintf("%s/sub", vol);
    char *file = k1s_xasprintf("%s/f", sub);
    assert_int_equal(k1s_mkdir_p(sub, 0755), 0);
    assert_int_equal(k1s_write_file_atomic(file, "x", 1, 0644), 0);
    /* only single directories right under storage_dir */
    char *outside = k1s_xasprintf("%s/other", tmpl);
    assert_int_equal(k1s_mkdir_p(outside, 0755), 0);
    char *dotdot = k1s_xasprintf("%s/..", l.storage_dir);
    char *deep = k1s_xasprintf("%s/pvc-1_ns_c/sub", l.storage_dir);
    char *prefix = k1s_xasprintf("%s-x/y", l.storage_dir);
    assert_int_equal(remove_dir(&l, outside), 0);
    assert_int_equal(remove_dir(&l, dotdot), 0);
    assert_int_equal(remove_dir(&l, deep), 0);
    assert_int_equal(remove_dir(&l, prefix), 0);
    assert_int_equal(remove_dir(&l, l.storage_dir), 0);
    struct stat st;
    assert_int_equal(stat(outside, &st), 0);
    assert_int_equal(stat(file, &st), 0);
    /* ours goes, and a missing one is no error */
    assert_int_equal(remove_dir(&l, vol), 0);
    assert_int_not_equal(stat(vol, &st), 0);
    assert_int_equal(remove_dir(&l, vol), 0);
    assert_int_equal(stat(l.storage_dir, &st), 0);
    rmdir(outside);
    rmdir(l.storage_dir);
    rmdir(tmpl);
    free(outside);
    free(dotdot);
    free(deep);
    free(prefix);
    free(file);
    free(sub);
    free(vol);
    free(l.storage_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_volume),
        cmocka_unit_test(test_remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
