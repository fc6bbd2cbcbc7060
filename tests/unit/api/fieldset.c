/*
 * Unit tests for src/api/fieldset.c (FieldsV1 encoding and set algebra) and
 * src/api/apply.c (field sets, comparison, merge and pruning of objects
 * driven by the built-in OpenAPI schemas and by CRD-style inline schemas
 * with x-kubernetes-list-type / x-kubernetes-map-type).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/apply.h"
#include "api/fieldset.h"
#include "api/openapi.h"
#include "lib/buf.h"

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s (col %d)", s, je.text, je.column);
    return v;
}

static void assert_json(const json_t *got, const char *want)
{
    json_t *w = J(want);
    if (!json_equal((json_t *)got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("got %s\nwant %s", g, want);
    }
    json_decref(w);
}

/* FieldsV1 -> set -> FieldsV1 */
static json_t *V1(const char *s)
{
    json_t *v1 = J(s), *set = NULL;
    k1s_err_t err = {0};
    assert_int_equal(k1s_fset_from_v1(v1, &set, &err), 0);
    json_decref(v1);
    return set;
}

static void assert_v1(const json_t *set, const char *want)
{
    json_t *v1 = k1s_fset_to_v1(set);
    assert_json(v1, want);
    json_decref(v1);
}

static void test_v1_roundtrip(void **state)
{
    (void)state;
    const char *text = "{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}},"
                       "\"f:spec\":{\"f:replicas\":{},\"f:template\":{\"f:spec\":{\"f:containers\":"
                       "{\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},\"f:image\":{}}}}}}}";
    json_t *set = V1(text);
    assert_v1(set, text);
    /* members become "." internally */
    json_t *rep = json_object_get(json_object_get(set, "f:spec"), "f:replicas");
    assert_non_null(json_object_get(rep, "."));
    json_decref(set);
}

static void test_v1_canonical_and_order(void **state)
{
    (void)state;
    /* keys re-encoded compact with sorted fields; output ordered . f: k: v: i: */
    json_t *set = V1("{\"i:1\":{},\"v:\\\"b\\\"\":{},\"k:{\\\"protocol\\\": \\\"TCP\\\", "
                     "\\\"containerPort\\\": 80}\":{},\"f:z\":{},\"f:a\":{}}");
    json_t *v1 = k1s_fset_to_v1(set);
    char *s = json_dumps(v1, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(s, "{\"f:a\":{},\"f:z\":{},\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":"
                           "\\\"TCP\\\"}\":{},\"v:\\\"b\\\"\":{},\"i:1\":{}}");
    free(s);
    json_decref(v1);
    json_decref(set);
}

static void test_v1_errors(void **state)
{
    (void)state;
    json_t *set = NULL;
    k1s_err_t err = {0};
    json_t *bad = J("{\"x:y\":{}}");
    assert_int_equal(k1s_fset_from_v1(bad, &set, &err), -EINVAL);
    json_decref(bad);
    bad = J("{\"k:[1]\":{}}");
    assert_int_equal(k1s_fset_from_v1(bad, &set, &err), -EINVAL);
    json_decref(bad);
    bad = J("{\"f:a\":1}");
    assert_int_equal(k1s_fset_from_v1(bad, &set, &err), -EINVAL);
    json_decref(bad);
    bad = J("[]");
    assert_int_equal(k1s_fset_from_v1(bad, &set, &err), -EINVAL);
    json_decref(bad);
    assert_null(set);
}

static void test_algebra(void **state)
{
    (void)state;
    json_t *a =
        V1("{\"f:spec\":{\"f:replicas\":{},\"f:paused\":{}},\"f:data\":{\".\":{},\"f:x\":{}}}");
    json_t *b = V1("{\"f:spec\":{\"f:replicas\":{},\"f:minReadySeconds\":{}},\"f:data\":{}}");
    json_t *u = k1s_fset_union(a, b);
    assert_v1(u, "{\"f:data\":{\".\":{},\"f:x\":{}},\"f:spec\":{\"f:minReadySeconds\":{},"
                 "\"f:paused\":{},\"f:replicas\":{}}}");
    json_t *d = k1s_fset_difference(a, b);
    /* b's member f:data removes only that member, not a's f:data.f:x */
    assert_v1(d, "{\"f:data\":{\"f:x\":{}},\"f:spec\":{\"f:paused\":{}}}");
    json_t *i = k1s_fset_intersection(a, b);
    assert_v1(i, "{\"f:data\":{},\"f:spec\":{\"f:replicas\":{}}}");
    json_t *e = k1s_fset_difference(a, a);
    assert_true(k1s_fset_empty(e));
    assert_false(k1s_fset_empty(a));
    const char *path[] = {"f:spec", "f:paused"};
    assert_true(k1s_fset_has(a, path, 2));
    assert_false(k1s_fset_has(b, path, 2));
    k1s_fset_insert(b, path, 2);
    assert_true(k1s_fset_has(b, path, 2));
    json_decref(a);
    json_decref(b);
    json_decref(u);
    json_decref(d);
    json_decref(i);
    json_decref(e);
}

static void collect(const char *path, void *arg)
{
    k1s_buf_t *b = arg;
    k1s_buf_printf(b, "%s;", path);
}

static void test_paths(void **state)
{
    (void)state;
    json_t *s =
        V1("{\"f:spec\":{\"f:replicas\":{},\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":"
           "{\".\":{},\"f:image\":{}}},\"f:ports\":{\"k:{\\\"port\\\":80,\\\"protocol\\\":"
           "\\\"TCP\\\"}\":{}},\"f:args\":{\"v:\\\"-v\\\"\":{},\"i:2\":{}}}}");
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_fset_foreach(s, collect, &b);
    assert_string_equal(b.data, ".spec.args[=\"-v\"];.spec.args[2];.spec.containers[name=\"web\"];"
                                ".spec.containers[name=\"web\"].image;"
                                ".spec.ports[port=80,protocol=\"TCP\"];.spec.replicas;");
    k1s_buf_free(&b);
    json_decref(s);
}

/* ---------- typed operations on built-in schemas ---------- */

static const json_t *deploy_schema(void)
{
    const json_t *s = k1s_openapi_schema("io.k8s.api.apps.v1.Deployment");
    assert_non_null(s);
    return s;
}

static void test_fieldset_deployment(void **state)
{
    (void)state;
    json_t *d =
        J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\","
          "\"labels\":{\"app\":\"w\"},\"finalizers\":[\"a/b\"]},\"spec\":{\"replicas\":2,"
          "\"selector\":{\"matchLabels\":{\"app\":\"w\"}},\"template\":{\"spec\":{"
          "\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"args\":[\"x\"],"
          "\"ports\":[{\"containerPort\":80}],\"resources\":{}}]}}}}");
    json_t *set = k1s_apply_fieldset(d, deploy_schema());
    /* selector is atomic (LabelSelector), args atomic, containers keyed by name,
     * ports by containerPort+protocol with protocol's default, finalizers a set */
    assert_v1(set, "{\"f:apiVersion\":{},\"f:kind\":{},\"f:metadata\":{\"f:finalizers\":{"
                   "\"v:\\\"a/b\\\"\":{}},\"f:labels\":{\"f:app\":{}},\"f:name\":{}},"
                   "\"f:spec\":{\"f:replicas\":{},\"f:selector\":{},\"f:template\":{\"f:spec\":{"
                   "\"f:containers\":{\"k:{\\\"name\\\":\\\"c\\\"}\":{\".\":{},\"f:args\":{},"
                   "\"f:image\":{},\"f:name\":{},\"f:ports\":{\"k:{\\\"containerPort\\\":80,"
                   "\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},\"f:containerPort\":{}}},"
                   "\"f:resources\":{}}}}}}}");
    json_decref(set);
    json_decref(d);
}

static void test_compare(void **state)
{
    (void)state;
    json_t *a = J("{\"metadata\":{\"name\":\"w\"},\"spec\":{\"replicas\":1,\"paused\":true,"
                  "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    json_t *b =
        J("{\"metadata\":{\"name\":\"w\",\"labels\":{\"x\":\"y\"}},\"spec\":{\"replicas\":2,"
          "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"},"
          "{\"name\":\"d\",\"image\":\"j\"}]}}}}");
    json_t *added = k1s_fset_new(), *modified = k1s_fset_new(), *removed = k1s_fset_new();
    k1s_apply_compare(a, b, deploy_schema(), added, modified, removed);
    /* a new map and list item count as added themselves ("."), a struct does not */
    assert_v1(added,
              "{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:x\":{}}},\"f:spec\":{"
              "\"f:template\":{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"d\\\"}\":{"
              "\".\":{},\"f:image\":{},\"f:name\":{}}}}}}}");
    assert_v1(modified, "{\"f:spec\":{\"f:replicas\":{}}}");
    assert_v1(removed, "{\"f:spec\":{\"f:paused\":{}}}");
    json_decref(added);
    json_decref(modified);
    json_decref(removed);
    json_decref(a);
    json_decref(b);
}

static void test_merge_builtin(void **state)
{
    (void)state;
    json_t *live =
        J("{\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"a\":\"1\",\"b\":\"2\"}},"
          "\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\","
          "\"args\":[\"x\",\"y\"]},{\"name\":\"b\",\"image\":\"2\"}]}}}}");
    json_t *cfg =
        J("{\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"1\"}},\"template\":{\"spec\":{"
          "\"containers\":[{\"name\":\"b\",\"image\":\"3\"},{\"name\":\"a\","
          "\"args\":[\"z\"]}]}}}}");
    json_t *m = k1s_apply_merge(live, cfg, deploy_schema());
    /* the atomic selector is replaced; containers merge by name in the applied order;
     * the atomic args list is replaced */
    assert_json(m, "{\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"a\":\"1\"}},"
                   "\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"3\"},"
                   "{\"name\":\"a\",\"image\":\"1\",\"args\":[\"z\"]}]}}}}");
    json_decref(m);
    json_decref(live);
    json_decref(cfg);
}

static void test_prune(void **state)
{
    (void)state;
    json_t *obj = J("{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}},\"spec\":{\"template\":{"
                    "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\",\"ports\":["
                    "{\"containerPort\":80,\"protocol\":\"TCP\"}]},{\"name\":\"b\",\"image\":"
                    "\"2\"}]}}}}");
    /* the applier stopped applying label b, container b and a's ports; container b's
     * image is owned by someone else, so container b stays */
    json_t *rm = V1("{\"f:metadata\":{\"f:labels\":{\"f:b\":{}}},\"f:spec\":{\"f:template\":{"
                    "\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"b\\\"}\":{\".\":{},"
                    "\"f:name\":{}},\"k:{\\\"name\\\":\\\"a\\\"}\":{\"f:ports\":{"
                    "\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},"
                    "\"f:containerPort\":{}}}}}}}}}");
    json_t *keep = V1("{\"f:spec\":{\"f:template\":{\"f:spec\":{\"f:containers\":{"
                      "\"k:{\\\"name\\\":\\\"b\\\"}\":{\"f:image\":{}}}}}}}");
    k1s_apply_prune(obj, rm, keep, deploy_schema());
    assert_json(obj, "{\"metadata\":{\"labels\":{\"a\":\"1\"}},\"spec\":{\"template\":{\"spec\":{"
                     "\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\","
                     "\"image\":\"2\"}]}}}}");
    json_decref(obj);
    json_decref(rm);
    json_decref(keep);
}

/* ---------- CRD-style inline schema ---------- */

static const char *crd_schema =
    "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
    "\"ports\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
    "\"x-kubernetes-list-map-keys\":[\"name\"],\"items\":{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\"},\"port\":{\"type\":\"integer\"}}}},"
    "\"tags\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"items\":{\"type\":"
    "\"string\"}},"
    "\"hosts\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"ref\":{\"type\":\"object\",\"x-kubernetes-map-type\":\"atomic\",\"properties\":{"
    "\"name\":{\"type\":\"string\"},\"kind\":{\"type\":\"string\"}}},"
    "\"extra\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}}}";

static void test_crd_list_types(void **state)
{
    (void)state;
    json_t *schema = J(crd_schema);
    json_t *obj = J("{\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80}],\"tags\":[\"a\",\"b\"],"
                    "\"hosts\":[\"x\"],\"ref\":{\"name\":\"n\",\"kind\":\"k\"},"
                    "\"extra\":{\"deep\":{\"list\":[1]}}}}");
    json_t *set = k1s_apply_fieldset(obj, schema);
    /* a field no schema declares is a member itself, as structured-merge-diff has it */
    assert_v1(set,
              "{\"f:spec\":{\"f:extra\":{\"f:deep\":{\".\":{},\"f:list\":{}}},\"f:hosts\":{},"
              "\"f:ports\":{\"k:{\\\"name\\\":\\\"http\\\"}\":{\".\":{},\"f:name\":{},"
              "\"f:port\":{}}},\"f:ref\":{},\"f:tags\":{\"v:\\\"a\\\"\":{},\"v:\\\"b\\\"\":{}}}}");
    json_decref(set);

    json_t *cfg =
        J("{\"spec\":{\"ports\":[{\"name\":\"grpc\",\"port\":90}],\"tags\":[\"c\"],"
          "\"hosts\":[\"y\"],\"ref\":{\"name\":\"m\"},\"extra\":{\"deep\":{\"more\":1}}}}");
    json_t *m = k1s_apply_merge(obj, cfg, schema);
    /* map list and set merge, atomic list and map replace, unknown objects merge */
    assert_json(m, "{\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80},{\"name\":\"grpc\","
                   "\"port\":90}],\"tags\":[\"a\",\"b\",\"c\"],\"hosts\":[\"y\"],"
                   "\"ref\":{\"name\":\"m\"},\"extra\":{\"deep\":{\"list\":[1],\"more\":1}}}}");
    json_decref(m);
    json_decref(cfg);
    json_decref(obj);
    json_decref(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_roundtrip), cmocka_unit_test(test_v1_canonical_and_order),
        cmocka_unit_test(test_v1_errors),    cmocka_unit_test(test_algebra),
        cmocka_unit_test(test_paths),        cmocka_unit_test(test_fieldset_deployment),
        cmocka_unit_test(test_compare),      cmocka_unit_test(test_merge_builtin),
        cmocka_unit_test(test_prune),        cmocka_unit_test(test_crd_list_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
