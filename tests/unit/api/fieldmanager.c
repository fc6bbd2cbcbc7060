/*
 * Unit tests for src/api/fieldmanager.c's bookkeeping of managedFields
 * entries: decoding and encoding (Kubernetes' order, identities, empty sets
 * dropped), the cap of ten Update entries, and the fields no entry holds.
 * The request-level paths (fieldManager, apply, conflicts) run end to end in
 * tests/e2e/test_apply.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../src/api/fieldmanager.c"

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s (col %d)", s, je.text, je.column);
    return v;
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static char *dump_v1(const json_t *set)
{
    json_t *v1 = k1s_fset_to_v1(set);
    char *s = dump(v1);
    json_decref(v1);
    return s;
}

static void test_decode_encode_order(void **state)
{
    (void)state;
    json_t *arr = J("["
                    "{\"manager\":\"b\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
                    "\"time\":\"2024-01-02T00:00:00Z\",\"fieldsType\":\"FieldsV1\","
                    "\"fieldsV1\":{\"f:data\":{\"f:x\":{}}}},"
                    "{\"manager\":\"a\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
                    "\"time\":\"2024-01-03T00:00:00Z\",\"fieldsType\":\"FieldsV1\","
                    "\"fieldsV1\":{\"f:data\":{\"f:y\":{}}}},"
                    "{\"manager\":\"z\",\"operation\":\"Apply\",\"apiVersion\":\"v1\","
                    "\"time\":\"2024-01-04T00:00:00Z\",\"fieldsType\":\"FieldsV1\","
                    "\"fieldsV1\":{\"f:data\":{\"f:z\":{}}}},"
                    /* the same identity again merges; an empty set is dropped */
                    "{\"manager\":\"b\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
                    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{\"f:w\":{}}}},"
                    "{\"manager\":\"e\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
                    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{}},"
                    "{\"manager\":\"s\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
                    "\"subresource\":\"status\",\"time\":\"2024-01-01T00:00:00Z\","
                    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":{\"f:x\":{}}}}"
                    "]");
    mf_t m;
    assert_int_equal(mf_decode(arr, &m), 0);
    assert_int_equal(m.n, 5);
    json_t *obj = J("{\"metadata\":{}}");
    mf_store(&m, obj);
    char *s = dump(json_object_get(json_object_get(obj, "metadata"), "managedFields"));
    /* Apply first, then Updates by time, in Kubernetes' field order */
    assert_string_equal(
        s, "[{\"manager\":\"z\",\"operation\":\"Apply\",\"apiVersion\":\"v1\",\"time\":"
           "\"2024-01-04T00:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{"
           "\"f:z\":{}}}},"
           "{\"manager\":\"s\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"time\":"
           "\"2024-01-01T00:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":{"
           "\"f:x\":{}}},\"subresource\":\"status\"},"
           "{\"manager\":\"b\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"time\":"
           "\"2024-01-02T00:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{"
           "\"f:w\":{},\"f:x\":{}}}},"
           "{\"manager\":\"a\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"time\":"
           "\"2024-01-03T00:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{"
           "\"f:y\":{}}}}]");
    free(s);
    mf_free(&m);
    json_decref(arr);
    json_decref(obj);
}

static void test_decode_rejects(void **state)
{
    (void)state;
    mf_t m;
    const char *bad[] = {
        "{}",
        "[{\"manager\":\"a\",\"operation\":\"Patch\",\"fieldsType\":\"FieldsV1\"}]",
        "[{\"manager\":\"a\",\"operation\":\"Update\",\"fieldsType\":\"FieldsV2\"}]",
        "[{\"manager\":\"a\",\"operation\":\"Update\",\"fieldsV1\":{\"q:x\":{}}}]",
        "[1]",
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(bad); i++) {
        json_t *v = J(bad[i]);
        assert_int_equal(mf_decode(v, &m), -EINVAL);
        assert_int_equal(m.n, 0);
        json_decref(v);
    }
    /* no managedFields at all: nothing to decode */
    assert_int_equal(mf_decode(NULL, &m), 0);
    assert_int_equal(m.n, 0);
}

static void test_identity(void **state)
{
    (void)state;
    mf_t m = {0};
    mf_add(&m, "kubectl", "Apply", "apps/v1", NULL, NULL, k1s_fset_new());
    mf_add(&m, "kubectl", "Update", "apps/v1", NULL, "scale", k1s_fset_new());
    /* Apply entries are found whatever the API version; Update entries are per version */
    assert_ptr_equal(mf_find(&m, "kubectl", "Apply", "apps/v2", NULL), &m.v[0]);
    assert_null(mf_find(&m, "kubectl", "Update", "apps/v2", "scale"));
    assert_ptr_equal(mf_find(&m, "kubectl", "Update", "apps/v1", "scale"), &m.v[1]);
    assert_null(mf_find(&m, "kubectl", "Update", "apps/v1", NULL));
    mf_free(&m);
}

static void test_cap_updates(void **state)
{
    (void)state;
    mf_t m = {0};
    for (int i = 0; i < 12; i++) {
        char name[8], t[32];
        snprintf(name, sizeof(name), "m%02d", i);
        snprintf(t, sizeof(t), "2024-01-01T00:00:%02dZ", i);
        json_t *set = k1s_fset_new();
        const char *path[] = {"f:data", name};
        k1s_fset_insert(set, path, 2);
        mf_add(&m, name, "Update", "v1", t, NULL, set);
    }
    mf_add(&m, "applier", "Apply", "v1", "2024-01-01T00:00:00Z", NULL, k1s_fset_new());
    const char *p[] = {"f:x"};
    k1s_fset_insert(m.v[12].set, p, 1);
    cap_updates(&m);
    assert_int_equal(m.n, 11); /* ten Updates and the Apply */
    entry_t *a = mf_find(&m, ANCIENT, "Update", "v1", NULL);
    assert_non_null(a);
    /* the bucket counts as one of the ten: the three oldest went into it */
    const char *p0[] = {"f:data", "m00"}, *p2[] = {"f:data", "m02"}, *p3[] = {"f:data", "m03"};
    assert_true(k1s_fset_has(a->set, p0, 2));
    assert_true(k1s_fset_has(a->set, p2, 2));
    assert_false(k1s_fset_has(a->set, p3, 2));
    assert_string_equal(a->time, "2024-01-01T00:00:02Z");
    assert_null(mf_find(&m, "m00", "Update", "v1", NULL));
    assert_non_null(mf_find(&m, "m11", "Update", "v1", NULL));
    assert_non_null(mf_find(&m, "applier", "Apply", "v1", NULL));
    mf_free(&m);
}

static void test_filter(void **state)
{
    (void)state;
    const k1s_resource_t *deploy = k1s_registry_find("apps", "v1", "deployments");
    const k1s_resource_t *cm = k1s_registry_find("", "v1", "configmaps");
    assert_non_null(deploy);
    assert_non_null(cm);
    const char *text =
        "{\"f:apiVersion\":{},\"f:kind\":{},\"f:metadata\":{\".\":{},\"f:name\":{},"
        "\"f:namespace\":{},\"f:uid\":{},\"f:resourceVersion\":{},\"f:managedFields\":{},"
        "\"f:labels\":{\"f:a\":{}}},\"f:spec\":{\"f:replicas\":{}},\"f:status\":{\"f:x\":{}}}";
    json_t *v1 = J(text), *set;
    assert_int_equal(k1s_fset_from_v1(v1, &set, NULL), 0);
    json_t *s1 = json_deep_copy(set), *s2 = json_deep_copy(set), *s3 = json_deep_copy(set);
    filter(deploy, NULL, s1);
    char *d = dump_v1(s1);
    assert_string_equal(d, "{\"f:metadata\":{\"f:labels\":{\"f:a\":{}}},\"f:spec\":{"
                           "\"f:replicas\":{}}}");
    free(d);
    filter(deploy, "status", s2);
    d = dump_v1(s2);
    assert_string_equal(d, "{\"f:status\":{\"f:x\":{}}}");
    free(d);
    /* a type without a status subresource keeps status like any field */
    filter(cm, NULL, s3);
    assert_non_null(json_object_get(s3, "f:status"));
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    json_decref(set);
    json_decref(v1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_encode_order),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_cap_updates),
        cmocka_unit_test(test_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
