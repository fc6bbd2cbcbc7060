/* Unit tests for src/api/objects.c: the start-up scanner must give the same
 * selector fields as a full parse. Includes the .c to reach make_aux. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../src/api/objects.c"

static void same_as_full_parse(const char *key, const char *json)
{
    k1s_bytes_t *b = k1s_bytes_from_str(json);
    k1s_obj_aux_t *fast = make_aux(key, b, NULL);
    json_t *obj = json_loads(json, 0, NULL);
    assert_non_null(obj);
    const k1s_resource_t *r = resource_for_key(key);
    k1s_obj_aux_t *full = k1s_obj_aux_new(r, obj);
    assert_string_equal(fast->ns, full->ns);
    assert_string_equal(fast->name, full->name);
    assert_true((fast->labels == NULL && full->labels == NULL) ||
                json_equal(fast->labels, full->labels));
    for (int i = 0; i < 8; i++) {
        if (!full->fields[i]) {
            assert_null(fast->fields[i]);
            continue;
        }
        assert_string_equal(fast->fields[i], full->fields[i]);
    }
    k1s_obj_aux_free(fast);
    k1s_obj_aux_free(full);
    json_decref(obj);
    k1s_bytes_unref(b);
}

static void test_pod(void **state)
{
    same_as_full_parse(
        "/pods/default/web-1",
        "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web-1\",\"namespace\":"
        "\"default\",\"labels\":{\"app\":\"web\",\"q\\\"uote\":\"x\\\\y\"},\"annotations\":{\"a\":"
        "\"{not: json}\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"args\":[\"]\",\"}\"]}],"
        "\"nodeName\":\"n1\",\"hostNetwork\":true,\"restartPolicy\":\"Always\"},\"status\":{"
        "\"phase\":\"Running\",\"podIP\":\"10.42.0.5\"}}");
}

static void test_missing_fields_and_numbers(void **state)
{
    same_as_full_parse("/pods/ns/p", "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\"},"
                                     "\"spec\":{\"priority\":-5,\"x\":1.5e3,\"y\":null}}");
    same_as_full_parse("/events/ns/e", "{\"metadata\":{\"name\":\"e\",\"namespace\":\"ns\"},"
                                       "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p\"},"
                                       "\"reason\":\"Started\",\"count\":3}");
    same_as_full_parse("/nodes/n1", "{\"metadata\":{\"name\":\"n1\",\"labels\":{}},"
                                    "\"spec\":{\"unschedulable\":false}}");
}

static void test_malformed_falls_back(void **state)
{
    /* not what the scanner expects: it must not crash, and the full parse decides */
    k1s_bytes_t *b = k1s_bytes_from_str("{\"metadata\":[1,2,3]}");
    k1s_obj_aux_t *a = make_aux("/configmaps/ns/x", b, NULL);
    assert_non_null(a);
    assert_string_equal(a->name, "");
    k1s_obj_aux_free(a);
    k1s_bytes_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod),
        cmocka_unit_test(test_missing_fields_and_numbers),
        cmocka_unit_test(test_malformed_falls_back),
    };
    return cmocka_run_group_tests_name("api/objects", tests, NULL, NULL);
}
