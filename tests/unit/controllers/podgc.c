/* Unit tests for src/controllers/podgc.c's pure parts: the order terminated pods are deleted
 * in, and which nodes are out of service. Includes the .c to reach its statics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../src/controllers/podgc.c"

static json_t *pod(const char *name, const char *created, const char *phase, const char *reason)
{
    return json_pack("{s:{s:s,s:s},s:{s:s,s:s}}", "metadata", "name", name, "creationTimestamp",
                     created, "status", "phase", phase, "reason", reason ? reason : "");
}

static void test_order(void **state)
{
    json_t *pods[] = {
        pod("b", "2026-01-01T00:00:02Z", "Succeeded", NULL),
        pod("a", "2026-01-01T00:00:02Z", "Failed", NULL),
        pod("z", "2026-01-01T00:00:09Z", "Failed", "Evicted"),
        pod("old", "2026-01-01T00:00:01Z", "Succeeded", NULL),
    };
    qsort(pods, 4, sizeof(pods[0]), cmp_terminated);
    const char *want[] = {"z", "old", "a", "b"}; /* evicted first, then oldest, then by name */
    for (int i = 0; i < 4; i++) {
        assert_string_equal(str_at(pods[i], "metadata", "name"), want[i]);
        json_decref(pods[i]);
    }
}

static void test_out_of_service(void **state)
{
    json_t *n = json_loads("{\"spec\":{\"taints\":[{\"key\":\"node.kubernetes.io/out-of-service\","
                           "\"effect\":\"NoExecute\"}]},\"status\":{\"conditions\":[{\"type\":"
                           "\"Ready\",\"status\":\"False\"}]}}",
                           0, NULL);
    assert_true(out_of_service(n));
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(n, "status"), "conditions"), 0), "status",
        json_string("True"));
    assert_false(out_of_service(n)); /* a Ready node keeps its pods */
    json_decref(n);
    n = json_loads("{\"status\":{}}", 0, NULL);
    assert_false(out_of_service(n)); /* not ready, but not tainted */
    json_decref(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_out_of_service),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
