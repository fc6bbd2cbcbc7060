/* Unit tests for src/api/admit-quota.c and admit-res.c: what objects use, pod totals,
 * container constraints, scopes and the formatting of quota arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/admit-quota.c"

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s", s, je.text);
    return v;
}

static void assert_fmt(int64_t milli, k1s_quantity_format_t f, const char *want)
{
    char *s = k1s_res_format(milli, f);
    assert_string_equal(s, want);
    free(s);
}

static void test_format(void **state)
{
    assert_fmt(0, K1S_QTY_DECIMAL_SI, "0");
    assert_fmt(1000, K1S_QTY_DECIMAL_SI, "1");
    assert_fmt(2000, K1S_QTY_DECIMAL_SI, "2");
    assert_fmt(600, K1S_QTY_DECIMAL_SI, "600m");
    assert_fmt(1500, K1S_QTY_DECIMAL_SI, "1500m");
    assert_fmt(512LL * 1024 * 1024 * 1000, K1S_QTY_BINARY_SI, "512Mi");
    assert_fmt(1200LL * 1024 * 1024 * 1000, K1S_QTY_BINARY_SI, "1200Mi");
    assert_fmt(1024LL * 1024 * 1024 * 1000, K1S_QTY_BINARY_SI, "1Gi");
    assert_fmt(100LL * 1000 * 1000 * 1000, K1S_QTY_DECIMAL_SI, "100M");
}

static int64_t get(const json_t *u, const char *k)
{
    const json_t *v = json_object_get(u, k);
    if (!v)
        fail_msg("no %s", k);
    return json_integer_value(v);
}

static void test_pod_usage(void **state)
{
    json_t *pod =
        J("{\"spec\":{\"containers\":["
          "{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"},"
          "\"limits\":{\"cpu\":\"1\"}}},"
          "{\"name\":\"b\",\"resources\":{\"requests\":{\"cpu\":\"250m\"}}}],"
          "\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"2\"}}}],"
          "\"overhead\":{\"cpu\":\"100m\"}},\"status\":{\"phase\":\"Running\"}}");
    const k1s_resource_t *pods = k1s_registry_find("", "v1", "pods");
    json_t *u = usage_of(pods, pod);
    assert_int_equal(get(u, "pods"), 1000);
    assert_int_equal(get(u, "count/pods"), 1000);
    /* the init container (2) outweighs the sum of containers (500m); overhead adds */
    assert_int_equal(get(u, "requests.cpu"), 2100);
    assert_int_equal(get(u, "cpu"), 2100);
    assert_int_equal(get(u, "requests.memory"), 64LL * 1024 * 1024 * 1000);
    assert_int_equal(get(u, "limits.cpu"), 1100);
    assert_null(json_object_get(u, "limits.memory"));
    json_decref(u);
    /* finished pods use nothing */
    json_object_set_new(json_object_get(pod, "status"), "phase", json_string("Succeeded"));
    u = usage_of(pods, pod);
    assert_int_equal(json_object_size(u), 0);
    json_decref(u);
    json_decref(pod);
}

static void test_other_usage(void **state)
{
    json_t *svc =
        J("{\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":80},{\"port\":81}]}}");
    json_t *u = usage_of(k1s_registry_find("", "v1", "services"), svc);
    assert_int_equal(get(u, "services"), 1000);
    assert_int_equal(get(u, "services.loadbalancers"), 1000);
    assert_int_equal(get(u, "services.nodeports"), 2000);
    json_decref(u);
    json_decref(svc);
    json_t *pvc = J("{\"spec\":{\"storageClassName\":\"fast\",\"resources\":{\"requests\":"
                    "{\"storage\":\"10Gi\"}}}}");
    u = usage_of(k1s_registry_find("", "v1", "persistentvolumeclaims"), pvc);
    assert_int_equal(get(u, "requests.storage"), 10LL * 1024 * 1024 * 1024 * 1000);
    assert_int_equal(get(u, "fast.storageclass.storage.k8s.io/persistentvolumeclaims"), 1000);
    json_decref(u);
    json_decref(pvc);
    json_t *d = J("{\"spec\":{}}");
    u = usage_of(k1s_registry_find("apps", "v1", "deployments"), d);
    assert_int_equal(get(u, "count/deployments.apps"), 1000);
    assert_int_equal(json_object_size(u), 1);
    json_decref(u);
    json_decref(d);
}

static void test_constraints(void **state)
{
    json_t *pod = J("{\"spec\":{\"containers\":["
                    "{\"name\":\"b\",\"resources\":{\"requests\":{\"cpu\":\"1\"}}},"
                    "{\"name\":\"a\"}]}}");
    json_t *hard = J("{\"requests.cpu\":\"2\",\"limits.memory\":\"1Gi\",\"pods\":\"3\"}");
    char *msg = NULL;
    assert_int_equal(pod_constraints(pod, hard, &msg), -1);
    assert_string_equal(msg, "must specify limits.memory for: a,b; requests.cpu for: a");
    free(msg);
    json_decref(hard);
    hard = J("{\"pods\":\"3\"}");
    assert_int_equal(pod_constraints(pod, hard, &msg), 0);
    json_decref(hard);
    json_decref(pod);
}

static bool qm(const json_t *q, const k1s_resource_t *res, const json_t *obj)
{
    json_t *f = facts_of(res, obj);
    bool m = quota_matches(q, f);
    json_decref(f);
    return m;
}

static void test_scopes(void **state)
{
    const k1s_resource_t *pods = k1s_registry_find("", "v1", "pods");
    json_t *be = J("{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
    json_t *term = J("{\"spec\":{\"activeDeadlineSeconds\":10,\"containers\":[{\"name\":\"a\","
                     "\"resources\":{\"limits\":{\"cpu\":\"1\"}}}]}}");
    json_t *q = J("{\"spec\":{\"scopes\":[\"BestEffort\"]}}");
    assert_true(qm(q, pods, be));
    assert_false(qm(q, pods, term));
    json_decref(q);
    q = J("{\"spec\":{\"scopes\":[\"Terminating\",\"NotBestEffort\"]}}");
    assert_false(qm(q, pods, be));
    assert_true(qm(q, pods, term));
    /* scoped quotas do not track other kinds */
    assert_false(qm(q, k1s_registry_find("", "v1", "configmaps"), be));
    json_decref(q);
    q = J("{\"spec\":{\"scopeSelector\":{\"matchExpressions\":[{\"scopeName\":\"PriorityClass\","
          "\"operator\":\"In\",\"values\":[\"high\"]}]}}}");
    json_t *hi = J("{\"spec\":{\"priorityClassName\":\"high\"}}");
    assert_true(qm(q, pods, hi));
    assert_false(qm(q, pods, be));
    json_decref(q);
    json_decref(hi);
    json_decref(be);
    json_decref(term);
}

static void test_exceeded_message(void **state)
{
    json_t *hard = J("{\"requests.memory\":\"1Gi\",\"pods\":\"2\"}");
    json_t *req = J("{\"requests.memory\":536870912000,\"pods\":1000}");
    json_t *keys = J("[\"pods\",\"requests.memory\"]");
    k1s_buf_t b = K1S_BUF_INIT;
    print_list(&b, req, keys, hard);
    assert_string_equal(b.data, "pods=1,requests.memory=512Mi");
    k1s_buf_free(&b);
    json_decref(hard);
    json_decref(req);
    json_decref(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),      cmocka_unit_test(test_pod_usage),
        cmocka_unit_test(test_other_usage), cmocka_unit_test(test_constraints),
        cmocka_unit_test(test_scopes),      cmocka_unit_test(test_exceeded_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
