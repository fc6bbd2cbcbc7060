/* Unit tests for the StatefulSet controller's pure parts (src/controllers/statefulset.c):
 * ordinals from pod names, the pods and claims it builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/statefulset.c"

static json_t *web(void)
{
    return json_loads(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"web\","
        "\"namespace\":\"ns\",\"uid\":\"u-1\"},\"spec\":{\"replicas\":3,\"serviceName\":\"nginx\","
        "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":"
        "{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"a\"}],"
        "\"volumes\":[{\"name\":\"www\",\"emptyDir\":{}},{\"name\":\"x\",\"emptyDir\":{}}]}},"
        "\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"www\",\"labels\":{\"tier\":\"db\"}},"
        "\"spec\":{\"accessModes\":[\"ReadWriteOnce\"]}}],"
        "\"persistentVolumeClaimRetentionPolicy\":{\"whenDeleted\":\"Delete\"}}}",
        0, NULL);
}

static json_t *named(const char *name)
{
    return json_pack("{s:{s:s}}", "metadata", "name", name);
}

static void test_ordinal(void **state)
{
    json_t *set = web();
    const char *names[] = {"web-0", "web-12", "web-01", "web-", "web-x", "webx-1", "web", "web-1a"};
    int64_t want[] = {0, 12, -1, -1, -1, -1, -1, -1};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(names); i++) {
        json_t *p = named(names[i]);
        assert_int_equal(pod_ordinal(set, p), want[i]);
        json_decref(p);
    }
    json_decref(set);
}

static void test_new_pod(void **state)
{
    json_t *set = web();
    const json_t *tmpl = json_object_get(json_object_get(set, "spec"), "template");
    json_t *pod = new_pod(set, tmpl, "web-abc", 2);
    const json_t *md = json_object_get(pod, "metadata");
    assert_string_equal(k1s_ctrl_str(md, "name"), "web-2");
    assert_string_equal(k1s_ctrl_str(md, "namespace"), "ns");
    const json_t *labels = json_object_get(md, "labels");
    assert_string_equal(k1s_ctrl_str(labels, "app"), "web");
    assert_string_equal(k1s_ctrl_str(labels, POD_NAME_LABEL), "web-2");
    assert_string_equal(k1s_ctrl_str(labels, POD_INDEX_LABEL), "2");
    assert_string_equal(k1s_ctrl_str(labels, REVISION_LABEL), "web-abc");
    const json_t *spec = json_object_get(pod, "spec");
    assert_string_equal(k1s_ctrl_str(spec, "hostname"), "web-2");
    assert_string_equal(k1s_ctrl_str(spec, "subdomain"), "nginx");
    /* the claim replaces the template's volume of the same name */
    const json_t *vols = json_object_get(spec, "volumes");
    assert_int_equal(json_array_size(vols), 2);
    assert_string_equal(k1s_ctrl_str(json_array_get(vols, 0), "name"), "x");
    const json_t *v = json_array_get(vols, 1);
    assert_string_equal(k1s_ctrl_str(v, "name"), "www");
    assert_string_equal(k1s_ctrl_str(json_object_get(v, "persistentVolumeClaim"), "claimName"),
                        "www-web-2");
    assert_non_null(k1s_ctrl_controller_ref(pod));
    json_decref(pod);
    json_decref(set);
}

static void test_new_claim_and_refs(void **state)
{
    json_t *set = web();
    const json_t *t =
        json_array_get(json_object_get(json_object_get(set, "spec"), "volumeClaimTemplates"), 0);
    char *cn = claim_name(t, set, 1);
    assert_string_equal(cn, "www-web-1");
    json_t *claim = new_claim(set, t, cn);
    const json_t *md = json_object_get(claim, "metadata");
    assert_string_equal(k1s_ctrl_str(md, "name"), "www-web-1");
    assert_string_equal(k1s_ctrl_str(json_object_get(md, "labels"), "tier"), "db");
    assert_string_equal(k1s_ctrl_str(json_object_get(md, "labels"), "app"), "web");
    /* whenDeleted: Delete - owned by the set, but not as its controller */
    const json_t *refs = json_object_get(md, "ownerReferences");
    assert_int_equal(json_array_size(refs), 1);
    assert_string_equal(k1s_ctrl_str(json_array_get(refs, 0), "uid"), "u-1");
    assert_null(json_object_get(json_array_get(refs, 0), "controller"));
    const json_t *modes = json_object_get(json_object_get(claim, "spec"), "accessModes");
    assert_string_equal(json_string_value(json_array_get(modes, 0)), "ReadWriteOnce");
    json_t *r = json_deep_copy(refs);
    assert_false(set_owner_ref(r, set, true));
    assert_true(set_owner_ref(r, set, false));
    assert_int_equal(json_array_size(r), 0);
    assert_false(set_owner_ref(r, set, false));
    assert_true(set_owner_ref(r, set, true));
    assert_int_equal(json_array_size(r), 1);
    json_decref(r);
    json_decref(claim);
    free(cn);
    json_decref(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinal),
        cmocka_unit_test(test_new_pod),
        cmocka_unit_test(test_new_claim_and_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
