/* Unit tests for the disruption controller's arithmetic (src/controllers/disruption.c):
 * IntOrString values scaled against the expected pods, and the DisruptionAllowed condition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/disruption.c"

static void test_scaled_value(void **state)
{
    int64_t v;
    json_t *j = json_integer(3);
    assert_int_equal(scaled_value(j, 10, &v), 0);
    assert_int_equal(v, 3);
    json_decref(j);
    j = json_string("50%");
    assert_int_equal(scaled_value(j, 5, &v), 0);
    assert_int_equal(v, 3); /* rounded up */
    json_decref(j);
    j = json_string("0%");
    assert_int_equal(scaled_value(j, 5, &v), 0);
    assert_int_equal(v, 0);
    json_decref(j);
    j = json_string("100%");
    assert_int_equal(scaled_value(j, 4, &v), 0);
    assert_int_equal(v, 4);
    json_decref(j);
    j = json_string("5");
    assert_int_equal(scaled_value(j, 5, &v), -1);
    json_decref(j);
    j = json_string("x%");
    assert_int_equal(scaled_value(j, 5, &v), -1);
    json_decref(j);
}

static void test_condition(void **state)
{
    json_t *st = json_object();
    set_condition(st, true, "SufficientPods", "", 2);
    json_t *c = json_array_get(json_object_get(st, "conditions"), 0);
    assert_string_equal(k1s_ctrl_str(c, "status"), "True");
    assert_string_equal(k1s_ctrl_str(c, "reason"), "SufficientPods");
    assert_int_equal(json_integer_value(json_object_get(c, "observedGeneration")), 2);
    /* the transition time is kept while the status stays */
    json_object_set_new(c, "lastTransitionTime", json_string("2026-01-01T00:00:00Z"));
    set_condition(st, true, "SufficientPods", "", 3);
    assert_string_equal(k1s_ctrl_str(c, "lastTransitionTime"), "2026-01-01T00:00:00Z");
    set_condition(st, false, "InsufficientPods", "", 3);
    assert_int_equal(json_array_size(json_object_get(st, "conditions")), 1);
    assert_string_equal(k1s_ctrl_str(c, "status"), "False");
    assert_string_not_equal(k1s_ctrl_str(c, "lastTransitionTime"), "2026-01-01T00:00:00Z");
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaled_value),
        cmocka_unit_test(test_condition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
