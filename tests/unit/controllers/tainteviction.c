/* Unit tests for the taint eviction controller's toleration arithmetic (src/controllers/
 * tainteviction.c): which NoExecute taints a pod tolerates, and for how long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/tainteviction.c"

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    assert_non_null(j);
    return j;
}

static double tol_time(const char *tolerations, const char *taints)
{
    char *pod = k1s_xasprintf("{\"spec\": {\"tolerations\": %s}}", tolerations);
    json_t *p = parse(pod), *t = parse(taints);
    double v = toleration_time(p, t);
    json_decref(p);
    json_decref(t);
    free(pod);
    return v;
}

#define UNREACH "{\"key\": \"node.kubernetes.io/unreachable\", \"effect\": \"NoExecute\"}"

/* Whether the toleration (JSON) tolerates taint. */
static bool tol(const char *toleration, const json_t *taint)
{
    json_t *t = parse(toleration);
    bool v = tolerates(t, taint);
    json_decref(t);
    return v;
}

static void test_tolerates(void **state)
{
    json_t *taint = parse("{\"key\": \"foo\", \"value\": \"bar\", \"effect\": \"NoExecute\"}");
    /* Equal is the default */
    assert_true(tol("{\"key\": \"foo\", \"value\": \"bar\"}", taint));
    assert_false(tol("{\"key\": \"foo\", \"value\": \"baz\", \"operator\": \"Equal\"}", taint));
    assert_true(
        tol("{\"key\": \"foo\", \"operator\": \"Exists\", \"effect\": \"NoExecute\"}", taint));
    assert_false(
        tol("{\"key\": \"foo\", \"operator\": \"Exists\", \"effect\": \"NoSchedule\"}", taint));
    /* tolerates everything */
    assert_true(tol("{\"operator\": \"Exists\"}", taint));
    assert_false(tol("{\"key\": \"other\", \"operator\": \"Exists\"}", taint));
    assert_false(tol("{\"key\": \"foo\", \"operator\": \"Bogus\"}", taint));
    json_decref(taint);
}

static void test_toleration_time(void **state)
{
    /* not tolerated: at once */
    assert_true(tol_time("[]", "[" UNREACH "]") == 0);
    /* tolerated for ever */
    assert_true(
        tol_time("[{\"key\": \"node.kubernetes.io/unreachable\", \"operator\": \"Exists\"}]",
                 "[" UNREACH "]") < 0);
    /* the default toleration of the DefaultTolerationSeconds admission plugin */
    assert_true(tol_time("[{\"key\": \"node.kubernetes.io/unreachable\", \"operator\": \"Exists\", "
                         "\"effect\": \"NoExecute\", \"tolerationSeconds\": 300}]",
                         "[" UNREACH "]") == 300);
    /* the shortest of the tolerations used counts */
    assert_true(
        tol_time("[{\"key\": \"node.kubernetes.io/unreachable\", \"operator\": \"Exists\", "
                 "\"tolerationSeconds\": 300}, {\"key\": \"foo\", \"operator\": \"Exists\", "
                 "\"tolerationSeconds\": 20}]",
                 "[" UNREACH ", {\"key\": \"foo\", \"effect\": \"NoExecute\"}]") == 20);
    /* one untolerated taint among tolerated ones */
    assert_true(tol_time("[{\"key\": \"foo\", \"operator\": \"Exists\"}]",
                         "[" UNREACH ", {\"key\": \"foo\", \"effect\": \"NoExecute\"}]") == 0);
    /* zero or negative seconds mean at once */
    assert_true(
        tol_time("[{\"operator\": \"Exists\", \"tolerationSeconds\": -5}]", "[" UNREACH "]") == 0);
    /* no taints: nothing to tolerate (the caller cancels) */
    assert_true(tol_time("[]", "[]") < 0);
}

static void test_no_execute_taints(void **state)
{
    json_t *node = parse("{\"spec\": {\"taints\": [{\"key\": \"a\", \"effect\": \"NoSchedule\"}, "
                         "{\"key\": \"b\", \"effect\": \"NoExecute\"}]}}");
    json_t *t = no_execute_taints(node);
    assert_int_equal(json_array_size(t), 1);
    assert_string_equal(k1s_ctrl_str(json_array_get(t, 0), "key"), "b");
    json_decref(t);
    json_decref(node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tolerates),
        cmocka_unit_test(test_toleration_time),
        cmocka_unit_test(test_no_execute_taints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
