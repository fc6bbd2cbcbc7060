/* Unit tests for status conditions as JSON (src/lib/conditions.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/conditions.h"

static void test_get(void **state)
{
    json_t *st = json_loads("{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},"
                            "{\"type\":7},{\"type\":\"Ready\",\"status\":\"False\"}]}",
                            0, NULL);
    json_t *c = k1s_cond_get(st, "Ready");
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
    assert_null(k1s_cond_get(st, "Available"));
    assert_null(k1s_cond_get(NULL, "Ready"));
    json_t *odd = json_loads("{\"conditions\":{}}", 0, NULL);
    assert_null(k1s_cond_get(odd, "Ready"));
    json_decref(odd);
    json_decref(st);
}

static void test_ensure(void **state)
{
    json_t *st = json_object();
    json_t *c = k1s_cond_ensure(st, "DisruptionAllowed");
    assert_string_equal(json_string_value(json_object_get(c, "type")), "DisruptionAllowed");
    assert_int_equal(json_object_size(c), 1);
    json_object_set_new(c, "status", json_string("True"));
    /* the same condition again, not a second one */
    assert_ptr_equal(k1s_cond_ensure(st, "DisruptionAllowed"), c);
    k1s_cond_ensure(st, "Other");
    assert_int_equal(json_array_size(json_object_get(st, "conditions")), 2);
    json_decref(st);

    /* a conditions member that is not a list is replaced */
    st = json_pack("{s:s}", "conditions", "bad");
    c = k1s_cond_ensure(st, "Ready");
    assert_ptr_equal(json_array_get(json_object_get(st, "conditions"), 0), c);
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_ensure),
    };
    return cmocka_run_group_tests_name("lib/conditions", tests, NULL, NULL);
}
