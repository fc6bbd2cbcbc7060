/* Unit tests for the ControllerRevision helpers (src/controllers/history.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/controller.h"
#include "controllers/history.h"
#include "lib/util.h"

static json_t *owner(const char *image)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:{s:{s:{s:s}},s:{s:[{s:s,s:s}]}}}}",
                          "apiVersion", "apps/v1", "kind", "StatefulSet", "metadata", "name", "web",
                          "namespace", "ns", "uid", "u-1", "spec", "template", "metadata", "labels",
                          "app", "web", "spec", "containers", "name", "c", "image", image);
    json_object_set_new(json_object_get(o, "metadata"), "annotations",
                        json_pack("{s:s}", "kubernetes.io/change-cause", image));
    return o;
}

static void test_data_and_template(void **state)
{
    json_t *o = owner("a:1");
    json_t *data = k1s_history_data(o);
    const json_t *t = json_object_get(json_object_get(data, "spec"), "template");
    assert_string_equal(json_string_value(json_object_get(t, "$patch")), "replace");
    json_t *rev = json_pack("{s:O}", "data", data);
    json_t *back = k1s_history_template(rev);
    assert_null(json_object_get(back, "$patch"));
    assert_true(json_equal(back, json_object_get(json_object_get(o, "spec"), "template")));
    json_t *empty = json_object();
    assert_null(k1s_history_template(empty));
    json_decref(empty);
    json_decref(back), json_decref(rev), json_decref(data), json_decref(o);
}

static void test_new_and_find(void **state)
{
    json_t *o = owner("a:1"), *o2 = owner("a:2");
    json_t *d1 = k1s_history_data(o), *d2 = k1s_history_data(o2);
    char *h1, *h1b, *h1c, *h2;
    json_t *r1 = k1s_history_new(o, d1, 1, 0, "controller.kubernetes.io/hash", &h1);
    json_t *r1b = k1s_history_new(o, d1, 3, 0, "controller.kubernetes.io/hash", &h1b);
    json_t *r1c = k1s_history_new(o, d1, 1, 1, "controller.kubernetes.io/hash", &h1c);
    json_t *r2 = k1s_history_new(o2, d2, 2, 0, "controller.kubernetes.io/hash", &h2);
    /* same template, same name; collisions and other templates change it */
    assert_string_equal(h1, h1b);
    assert_string_not_equal(h1, h1c);
    assert_string_not_equal(h1, h2);
    const json_t *md = json_object_get(r1, "metadata");
    char *want = k1s_xasprintf("web-%s", h1);
    assert_string_equal(k1s_ctrl_str(md, "name"), want);
    free(want);
    assert_string_equal(k1s_ctrl_str(md, "namespace"), "ns");
    const json_t *labels = json_object_get(md, "labels");
    assert_string_equal(k1s_ctrl_str(labels, "app"), "web");
    assert_string_equal(k1s_ctrl_str(labels, "controller.kubernetes.io/hash"), h1);
    assert_string_equal(
        k1s_ctrl_str(json_object_get(md, "annotations"), "kubernetes.io/change-cause"), "a:1");
    const json_t *ref = k1s_ctrl_controller_ref(r1);
    assert_non_null(ref);
    assert_string_equal(k1s_ctrl_str(ref, "uid"), "u-1");
    assert_string_equal(k1s_ctrl_str(r1, "kind"), "ControllerRevision");
    assert_int_equal(k1s_history_revision(r1), 1);

    json_t *revs[] = {r1, r2, r1b};
    assert_int_equal(k1s_history_max(revs, 3), 3);
    assert_int_equal(k1s_history_max(revs, 0), 0);
    assert_ptr_equal(k1s_history_find_equal(revs, 3, d1), r1b); /* the newest of equals */
    assert_ptr_equal(k1s_history_find_equal(revs, 2, d2), r2);
    assert_null(k1s_history_find_equal(revs, 1, d2));
    assert_ptr_equal(
        k1s_history_find_name(revs, 3, k1s_ctrl_str(json_object_get(r2, "metadata"), "name")), r2);
    assert_null(k1s_history_find_name(revs, 3, "web-nope"));
    free(h1), free(h1b), free(h1c), free(h2);
    json_decref(r1), json_decref(r1b), json_decref(r1c), json_decref(r2);
    json_decref(d1), json_decref(d2), json_decref(o), json_decref(o2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_and_template),
        cmocka_unit_test(test_new_and_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
