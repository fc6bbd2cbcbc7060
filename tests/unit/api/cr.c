/*
 * Unit tests for src/api/cr.c: the JSONPath subset of printer columns, Table
 * columns and cells from additionalPrinterColumns, the scale subresource's
 * paths, and defaulting/pruning/validation of a custom object through its
 * registry entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "api/crd.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return j;
}

static const char *OBJ =
    "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\","
    "\"namespace\":\"default\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"uid\":\"u\"},"
    "\"spec\":{\"size\":3,\"ratio\":1.5,\"on\":true,\"tags\":[\"a\",\"b\"],\"sel\":\"app=w\","
    "\"nested\":{\"x\":{\"y\":\"deep\"}},\"replicas\":2},"
    "\"status\":{\"replicas\":1,\"conditions\":[{\"type\":\"Synced\",\"status\":\"False\"},"
    "{\"type\":\"Ready\",\"status\":\"True\"}]}}";

static void test_jsonpath(void **state)
{
    json_t *o = parse(OBJ);
    assert_int_equal(json_integer_value(k1s_cr_jsonpath(o, ".spec.size")), 3);
    assert_string_equal(json_string_value(k1s_cr_jsonpath(o, "{.spec.nested.x.y}")), "deep");
    assert_string_equal(json_string_value(k1s_cr_jsonpath(o, ".spec.tags[1]")), "b");
    assert_string_equal(json_string_value(k1s_cr_jsonpath(o, ".spec.tags[-1]")), "b");
    assert_string_equal(
        json_string_value(k1s_cr_jsonpath(o, ".status.conditions[?(@.type==\"Ready\")].status")),
        "True");
    assert_string_equal(
        json_string_value(k1s_cr_jsonpath(o, ".status.conditions[?(@.type=='Synced')].status")),
        "False");
    assert_string_equal(json_string_value(k1s_cr_jsonpath(o, ".metadata['name']")), "w");
    assert_null(k1s_cr_jsonpath(o, ".status.conditions[?(@.type==\"Gone\")].status"));
    assert_null(k1s_cr_jsonpath(o, ".spec.missing.deeper"));
    assert_null(k1s_cr_jsonpath(o, ".spec.tags[5]"));
    json_decref(o);
}

/* A registry entry as crd.c makes one. */
static k1s_resource_t *make_res(k1s_crd_info_t *info, const char *columns, const char *schema)
{
    static k1s_resource_t r;
    memset(&r, 0, sizeof(r));
    memset(info, 0, sizeof(*info));
    info->crd_name = "widgets.example.com";
    info->storage_version = "v1";
    info->columns = columns ? parse(columns) : NULL;
    info->schema = schema ? parse(schema) : NULL;
    info->spec_replicas_path = ".spec.replicas";
    info->status_replicas_path = ".status.replicas";
    info->label_selector_path = ".spec.sel";
    r.group = "example.com";
    r.version = "v1";
    r.kind = "Widget";
    r.plural = "widgets";
    r.singular = "widget";
    r.namespaced = true;
    r.storage_name = "widgets.example.com";
    r.crd = info;
    return &r;
}

static void test_table(void **state)
{
    k1s_crd_info_t info;
    const k1s_resource_t *r = make_res(
        &info,
        "[{\"name\":\"Size\",\"type\":\"integer\",\"jsonPath\":\".spec.size\"},"
        "{\"name\":\"Ratio\",\"type\":\"number\",\"jsonPath\":\".spec.ratio\",\"priority\":1},"
        "{\"name\":\"On\",\"type\":\"boolean\",\"jsonPath\":\".spec.on\"},"
        "{\"name\":\"Tags\",\"type\":\"string\",\"jsonPath\":\".spec.tags\",\"description\":\"d\"},"
        "{\"name\":\"Ready\",\"type\":\"string\","
        "\"jsonPath\":\".status.conditions[?(@.type==\\\"Ready\\\")].status\"},"
        "{\"name\":\"Missing\",\"type\":\"string\",\"jsonPath\":\".spec.nope\"},"
        "{\"name\":\"Age\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"}]",
        NULL);
    json_t *cols = k1s_cr_table_columns(r);
    assert_int_equal(json_array_size(cols), 8);
    json_t *c0 = json_array_get(cols, 0), *c2 = json_array_get(cols, 2);
    assert_string_equal(json_string_value(json_object_get(c0, "name")), "Name");
    assert_string_equal(json_string_value(json_object_get(c0, "format")), "name");
    assert_int_equal(json_integer_value(json_object_get(c2, "priority")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "description")),
                        "Custom resource definition column (in JSONPath format): .spec.size");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 4), "description")),
                        "d");
    json_decref(cols);
    json_t *o = parse(OBJ);
    time_t now = 1767225600 + 3 * 86400; /* 2026-01-04T00:00:00Z */
    json_t *cells = k1s_cr_table_cells(r, o, now);
    char *s = json_dumps(cells, JSON_COMPACT | JSON_REAL_PRECISION(6));
    assert_string_equal(s, "[\"w\",3,1.5,true,\"[\\\"a\\\",\\\"b\\\"]\",\"True\",null,\"3d\"]");
    free(s);
    json_decref(cells);
    json_decref(o);
    json_decref(info.columns);

    /* no columns: NAME and AGE */
    r = make_res(&info, NULL, NULL);
    cols = k1s_cr_table_columns(r);
    assert_int_equal(json_array_size(cols), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "name")), "Age");
    json_decref(cols);
}

static void test_scale(void **state)
{
    k1s_crd_info_t info;
    const k1s_resource_t *r = make_res(&info, NULL, NULL);
    json_t *o = parse(OBJ);
    json_t *sc = k1s_cr_scale_of(r, o);
    assert_string_equal(json_string_value(json_object_get(sc, "kind")), "Scale");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(sc, "spec"), "replicas")),
                     2);
    json_t *st = json_object_get(sc, "status");
    assert_int_equal(json_integer_value(json_object_get(st, "replicas")), 1);
    assert_string_equal(json_string_value(json_object_get(st, "selector")), "app=w");
    json_decref(sc);
    k1s_cr_scale_set(r, o, 7);
    assert_int_equal(json_integer_value(k1s_cr_jsonpath(o, ".spec.replicas")), 7);
    json_decref(o);
    /* a path whose parents do not exist yet */
    o = parse("{\"metadata\":{\"name\":\"x\"}}");
    info.spec_replicas_path = ".spec.deep.count";
    k1s_cr_scale_set(r, o, 3);
    assert_int_equal(json_integer_value(k1s_cr_jsonpath(o, ".spec.deep.count")), 3);
    json_decref(o);
}

static void test_object_schema(void **state)
{
    k1s_crd_info_t info;
    const k1s_resource_t *r =
        make_res(&info, NULL,
                 "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
                 "\"properties\":{\"size\":{\"type\":\"integer\",\"default\":1}}}}}");
    json_t *o = parse("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":"
                      "{\"name\":\"Bad_Name\",\"namespace\":\"default\",\"junk\":1},"
                      "\"spec\":{\"extra\":true}}");
    json_t *unknown = json_array();
    assert_int_equal(k1s_cr_prune(r, o, unknown), 2);
    char *u = json_dumps(unknown, JSON_COMPACT);
    assert_string_equal(u, "[\"spec.extra\",\"metadata.junk\"]");
    free(u);
    json_decref(unknown);
    k1s_cr_default(r, o);
    assert_int_equal(json_integer_value(k1s_cr_jsonpath(o, ".spec.size")), 1);
    json_t *causes = json_array();
    assert_true(k1s_cr_validate(r, o, NULL, causes) > 0);
    const char *field = json_string_value(json_object_get(json_array_get(causes, 0), "field"));
    assert_string_equal(field, "metadata.name");
    json_decref(causes);
    json_decref(o);
    json_decref(info.schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonpath),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_object_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
