/* Unit tests for the controllers' shared helpers (src/controllers/util.c, manager.c's
 * --controllers parsing) and k1s_parse_duration_ms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/controller.h"
#include "lib/util.h"

static void test_enabled(void **state)
{
    assert_true(k1s_ctrl_enabled(NULL, "deployment"));
    assert_true(k1s_ctrl_enabled("*", "deployment"));
    assert_false(k1s_ctrl_enabled("*,-deployment", "deployment"));
    assert_true(k1s_ctrl_enabled("*,-deployment", "daemonset"));
    assert_false(k1s_ctrl_enabled("job", "deployment"));
    assert_true(k1s_ctrl_enabled("job,deployment", "deployment"));
    assert_false(k1s_ctrl_enabled("-deploymentx,deploymen", "deployment"));
}

static void test_time(void **state)
{
    assert_int_equal(k1s_ctrl_parse_time("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(k1s_ctrl_parse_time("2026-11-30T08:00:00Z"), 1796025600);
    assert_int_equal(k1s_ctrl_parse_time("2026-11-30T08:00:00.123456Z"), 1796025600);
    assert_int_equal(k1s_ctrl_parse_time("2026-11-30T09:30:00+01:30"), 1796025600);
    assert_int_equal(k1s_ctrl_parse_time("2026-11-30"), -1);
    assert_int_equal(k1s_ctrl_parse_time("2026-11-30T08:00:00Zjunk"), -1);
    char out[32];
    k1s_ctrl_format_time(1796025600, out);
    assert_string_equal(out, "2026-11-30T08:00:00Z");
}

static void test_duration(void **state)
{
    int ms = -1;
    assert_int_equal(k1s_parse_duration_ms("40s", &ms), 0);
    assert_int_equal(ms, 40000);
    assert_int_equal(k1s_parse_duration_ms("1m30s", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(k1s_parse_duration_ms("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(k1s_parse_duration_ms("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(k1s_parse_duration_ms("10", &ms), -EINVAL);
    assert_int_equal(k1s_parse_duration_ms("", &ms), -EINVAL);
    assert_int_equal(k1s_parse_duration_ms("5x", &ms), -EINVAL);
}

static void test_hash(void **state)
{
    json_t *a =
        json_loads("{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"a\"}]}}", 0, NULL);
    json_t *b =
        json_loads("{\"spec\":{\"containers\":[{\"image\":\"a\",\"name\":\"c\"}]}}", 0, NULL);
    json_t *c =
        json_loads("{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"b\"}]}}", 0, NULL);
    char *ha = k1s_ctrl_hash(a, -1), *hb = k1s_ctrl_hash(b, -1), *hc = k1s_ctrl_hash(c, -1);
    char *ha1 = k1s_ctrl_hash(a, 1);
    assert_string_equal(ha, hb);
    assert_string_not_equal(ha, hc);
    assert_string_not_equal(ha, ha1);
    assert_true(strspn(ha, "bcdfghjklmnpqrstvwxz2456789") == strlen(ha));
    free(ha), free(hb), free(hc), free(ha1);
    json_decref(a), json_decref(b), json_decref(c);
}

static json_t *pod(const char *node, const char *phase, const char *ready, const char *created)
{
    json_t *p =
        json_pack("{s:{s:s,s:s},s:{s:s},s:{s:s,s:[{s:s,s:s,s:s}]}}", "metadata", "name", "p",
                  "creationTimestamp", created, "spec", "nodeName", node, "status", "phase", phase,
                  "conditions", "type", "Ready", "status", ready, "lastTransitionTime", created);
    return p;
}

static void test_pod_value(void **state)
{
    json_t *unassigned = pod("", "Pending", "False", "2026-01-01T00:00:00Z");
    json_t *pending = pod("n1", "Pending", "False", "2026-01-01T00:00:00Z");
    json_t *running = pod("n1", "Running", "False", "2026-01-01T00:00:00Z");
    json_t *ready_old = pod("n1", "Running", "True", "2026-01-01T00:00:00Z");
    json_t *ready_new = pod("n1", "Running", "True", "2026-01-02T00:00:00Z");
    assert_true(k1s_pod_cmp_value(unassigned, pending) < 0);
    assert_true(k1s_pod_cmp_value(pending, running) < 0);
    assert_true(k1s_pod_cmp_value(running, ready_old) < 0);
    assert_true(k1s_pod_cmp_value(ready_new, ready_old) < 0);
    assert_true(k1s_pod_cmp_value(ready_old, ready_new) > 0);
    assert_true(k1s_pod_is_ready(ready_old));
    assert_true(k1s_pod_is_available(ready_old, 10, 1767225600.0 + 10));
    assert_false(k1s_pod_is_available(ready_old, 10, 1767225600.0 + 9));
    json_decref(unassigned), json_decref(pending), json_decref(running);
    json_decref(ready_old), json_decref(ready_new);
}

static void test_template_and_selector(void **state)
{
    json_t *owner = json_loads("{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{"
                               "\"name\":\"web-1\",\"namespace\":\"ns\",\"uid\":\"u1\"}}",
                               0, NULL);
    json_t *tmpl =
        json_loads("{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
                   "[{\"name\":\"c\",\"image\":\"a\"}]}}",
                   0, NULL);
    json_t *p = k1s_ctrl_pod_from_template(tmpl, owner, "web-1-", NULL);
    const json_t *md = json_object_get(p, "metadata");
    assert_string_equal(k1s_ctrl_str(md, "generateName"), "web-1-");
    assert_string_equal(k1s_ctrl_str(md, "namespace"), "ns");
    json_t *ref = k1s_ctrl_controller_ref(p);
    assert_non_null(ref);
    assert_string_equal(k1s_ctrl_str(ref, "uid"), "u1");
    assert_string_equal(k1s_ctrl_str(ref, "kind"), "ReplicaSet");
    json_t *sel = json_loads("{\"matchLabels\":{\"app\":\"web\"}}", 0, NULL);
    json_t *other = json_loads("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"NotIn\","
                               "\"values\":[\"web\"]}]}",
                               0, NULL);
    assert_true(k1s_ctrl_selector_matches(sel, json_object_get(md, "labels")));
    assert_false(k1s_ctrl_selector_matches(other, json_object_get(md, "labels")));
    assert_false(k1s_ctrl_selector_matches(NULL, json_object_get(md, "labels")));
    char *key = k1s_ctrl_key(p), *ns, *name;
    assert_string_equal(key, "ns/");
    k1s_ctrl_split_key("ns/web", &ns, &name);
    assert_string_equal(ns, "ns");
    assert_string_equal(name, "web");
    free(key), free(ns), free(name);
    json_decref(sel), json_decref(other), json_decref(p), json_decref(tmpl), json_decref(owner);
}

static void test_expectations(void **state)
{
    k1s_expectations_t *e = k1s_expectations_new();
    assert_true(k1s_expect_satisfied(e, "ns/a"));
    k1s_expect(e, "ns/a", 2, 0);
    assert_false(k1s_expect_satisfied(e, "ns/a"));
    k1s_expect_observe_add(e, "ns/a");
    assert_false(k1s_expect_satisfied(e, "ns/a"));
    k1s_expect_observe_add(e, "ns/a");
    assert_true(k1s_expect_satisfied(e, "ns/a"));
    k1s_expect(e, "ns/a", 0, 1);
    assert_false(k1s_expect_satisfied(e, "ns/a"));
    k1s_expect_forget(e, "ns/a");
    assert_true(k1s_expect_satisfied(e, "ns/a"));
    k1s_expectations_free(e);
}

static void test_slow_start(void **state)
{
    (void)state;
    k1s_slow_start_t ss;
    int skipped = -1;
    /* 10 creations: batches 1, 2, 4, 3 */
    assert_int_equal(k1s_slow_start_begin(&ss, 10), 1);
    assert_int_equal(k1s_slow_start_answered(&ss, true, &skipped), 2);
    assert_int_equal(skipped, 0);
    assert_int_equal(k1s_slow_start_answered(&ss, true, NULL), 0);
    assert_int_equal(k1s_slow_start_answered(&ss, true, NULL), 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(k1s_slow_start_answered(&ss, true, NULL), 0);
    assert_int_equal(k1s_slow_start_answered(&ss, true, NULL), 3);
    for (int i = 0; i < 2; i++)
        assert_int_equal(k1s_slow_start_answered(&ss, true, NULL), 0);
    assert_int_equal(k1s_slow_start_answered(&ss, true, &skipped), 0);
    assert_int_equal(skipped, 0);
    assert_int_equal(ss.left, 0);
    /* a failure in the batch of 2 gives up the 7 not started, once the batch is answered */
    assert_int_equal(k1s_slow_start_begin(&ss, 10), 1);
    assert_int_equal(k1s_slow_start_answered(&ss, true, NULL), 2);
    assert_int_equal(k1s_slow_start_answered(&ss, false, &skipped), 0);
    assert_int_equal(skipped, 0);
    assert_int_equal(k1s_slow_start_answered(&ss, true, &skipped), 0);
    assert_int_equal(skipped, 7);
    assert_int_equal(ss.left, 0);
    /* nothing to do */
    assert_int_equal(k1s_slow_start_begin(&ss, 0), 0);
}

static void test_claim(void **state)
{
    (void)state;
    json_t *owner = json_loads("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{"
                               "\"name\":\"j\",\"namespace\":\"ns\",\"uid\":\"u1\"}}",
                               0, NULL);
    json_t *orphan = json_loads("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\","
                                "\"uid\":\"p1\"}}",
                                0, NULL);
    json_t *owned = json_deep_copy(orphan);
    json_object_set_new(json_object_get(owned, "metadata"), "ownerReferences",
                        json_pack("[o]", k1s_ctrl_new_controller_ref(owner)));
    json_t *other = json_deep_copy(orphan);
    json_object_set_new(json_object_get(other, "metadata"), "ownerReferences",
                        json_pack("[{s:s,s:s,s:s,s:s,s:b}]", "apiVersion", "apps/v1", "kind",
                                  "ReplicaSet", "name", "rs", "uid", "u2", "controller", 1));
    /* an orphan matched is adopted, with the finalizer */
    char *body = k1s_ctrl_claim_patch(owner, orphan, true, "f/x");
    json_t *p = json_loads(body, 0, NULL);
    const json_t *md = json_object_get(p, "metadata");
    assert_string_equal(k1s_ctrl_str(md, "uid"), "p1");
    assert_string_equal(
        k1s_ctrl_str(json_array_get(json_object_get(md, "ownerReferences"), 0), "uid"), "u1");
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(md, "ownerReferences"), 0), "controller")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(md, "finalizers"), 0)),
                        "f/x");
    json_decref(p);
    free(body);
    /* a pod owned and no longer matched is released */
    body = k1s_ctrl_claim_patch(owner, owned, false, NULL);
    p = json_loads(body, 0, NULL);
    md = json_object_get(p, "metadata");
    const json_t *ref = json_array_get(json_object_get(md, "ownerReferences"), 0);
    assert_string_equal(k1s_ctrl_str(ref, "$patch"), "delete");
    assert_string_equal(k1s_ctrl_str(ref, "uid"), "u1");
    assert_null(json_object_get(md, "$deleteFromPrimitiveList/finalizers"));
    json_decref(p);
    free(body);
    /* nothing to do */
    assert_null(k1s_ctrl_claim_patch(owner, orphan, false, NULL));
    assert_null(k1s_ctrl_claim_patch(owner, owned, true, NULL));
    assert_null(k1s_ctrl_claim_patch(owner, other, true, NULL));
    assert_null(k1s_ctrl_claim_patch(owner, other, false, NULL));
    /* owner keys */
    char *key = k1s_ctrl_owner_key(owned, "batch/v1", "Job");
    assert_string_equal(key, "ns/j");
    free(key);
    assert_null(k1s_ctrl_owner_key(owned, "batch/v1", "CronJob"));
    assert_null(k1s_ctrl_owner_key(orphan, "batch/v1", "Job"));
    assert_string_equal(k1s_ctrl_name(owned), "p");
    assert_string_equal(k1s_ctrl_namespace(owned), "ns");
    json_decref(owner), json_decref(orphan), json_decref(owned), json_decref(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enabled),      cmocka_unit_test(test_time),
        cmocka_unit_test(test_duration),     cmocka_unit_test(test_hash),
        cmocka_unit_test(test_pod_value),    cmocka_unit_test(test_template_and_selector),
        cmocka_unit_test(test_expectations), cmocka_unit_test(test_slow_start),
        cmocka_unit_test(test_claim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
