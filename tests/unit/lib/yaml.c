/* Unit tests for src/lib/yaml.c: YAML -> JSON as Kubernetes decodes it, and JSON -> YAML. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lib/yaml.h"

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s", s, je.text);
    return v;
}

/* Converts yaml and compares with the expected JSON text. */
static void yj(const char *yaml, const char *want)
{
    json_t *v = NULL;
    k1s_err_t err = {0};
    if (k1s_yaml_to_json(yaml, strlen(yaml), &v, &err) < 0)
        fail_msg("yaml %s: %s", yaml, err.msg);
    json_t *w = J(want);
    if (!json_equal(v, w)) {
        char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER);
        fail_msg("yaml:\n%s\ngot  %s\nwant %s", yaml, got, want);
    }
    json_decref(v);
    json_decref(w);
}

static void yerr(const char *yaml, const char *want)
{
    json_t *v = NULL;
    k1s_err_t err = {0};
    int rc = k1s_yaml_to_json(yaml, strlen(yaml), &v, &err);
    if (rc == 0) {
        json_decref(v);
        fail_msg("yaml %s: converted, want error %s", yaml, want);
    }
    assert_int_equal(rc, -EINVAL);
    if (strcmp(err.msg, want) != 0)
        fail_msg("yaml %s: error\n  %s\nwant\n  %s", yaml, err.msg, want);
}

static void test_scalars(void **state)
{
    yj("a: 1\nb: -2\nc: +3\nd: 0x1F\ne: 010\nf: 0o17\ng: 0b101\nh: -0b101\ni: 1_000\n",
       "{\"a\":1,\"b\":-2,\"c\":3,\"d\":31,\"e\":8,\"f\":15,\"g\":5,\"h\":-5,\"i\":1000}");
    /* floats; integral ones print as integers, as Go's encoder does */
    yj("a: 1.5\nb: 1e3\nc: .5\nd: 1.0\ne: -2.5e-3\nf: 08\ng: 1.\n",
       "{\"a\":1.5,\"b\":1000,\"c\":0.5,\"d\":1,\"e\":-0.0025,\"f\":8,\"g\":1}");
    /* YAML 1.1 booleans and nulls */
    yj("a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: N\ng: true\nh: False\n",
       "{\"a\":true,\"b\":false,\"c\":true,\"d\":false,\"e\":true,\"f\":false,\"g\":true,"
       "\"h\":false}");
    yj("a: ~\nb: null\nc: NULL\nd:\ne: ''\n",
       "{\"a\":null,\"b\":null,\"c\":null,\"d\":null,\"e\":\"\"}");
    /* strings: quoted, not-quite-keywords, timestamps, versions */
    yj("a: \"yes\"\nb: '12'\nc: yEs\nd: 2001-12-14\ne: 1.2.3\nf: 0x\ng: 1e400\nh: 12abc\ni: -x\n",
       "{\"a\":\"yes\",\"b\":\"12\",\"c\":\"yEs\",\"d\":\"2001-12-14\",\"e\":\"1.2.3\",\"f\":"
       "\"0x\","
       "\"g\":\"1e400\",\"h\":\"12abc\",\"i\":\"-x\"}");
    yj("a: 9223372036854775807\nb: -9223372036854775808\n",
       "{\"a\":9223372036854775807,\"b\":-9223372036854775808}");
    /* explicit tags */
    yj("a: !!str 12\nb: !!float 3\nc: !!int \"7\"\nd: !!bool yes\ne: !custom x\nf: !!null ''\n",
       "{\"a\":\"12\",\"b\":3,\"c\":7,\"d\":true,\"e\":\"x\",\"f\":null}");
    yerr("a: !!int abc\n", "yaml: line 1: cannot decode !!str `abc` as a !!int");
    yerr("a: !!bool 1\n", "yaml: line 1: cannot decode !!int `1` as a !!bool");
    yerr("a: .inf\n", "yaml: line 1: json: unsupported value: +Inf");
    yerr("a:\n  - .nan\n", "yaml: line 2: json: unsupported value: NaN");
}

static void test_structure(void **state)
{
    yj("metadata:\n  name: web\n  labels:\n    app: web\nspec:\n  containers:\n  - name: c\n"
       "    image: nginx\n    ports:\n    - containerPort: 80\n      protocol: TCP\n",
       "{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
       "[{\"name\":\"c\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":80,\"protocol\":"
       "\"TCP\"}]}]}}");
    yj("a: [1, two, {x: 3}]\nb: {}\nc: []\n", "{\"a\":[1,\"two\",{\"x\":3}],\"b\":{},\"c\":[]}");
    /* block scalars */
    yj("a: |\n  line1\n  line2\nb: >\n  folded\n  text\nc: |-\n  strip\nd: |+\n  keep\n\ne: x\n",
       "{\"a\":\"line1\\nline2\\n\",\"b\":\"folded text\\n\",\"c\":\"strip\",\"d\":\"keep\\n\\n\","
       "\"e\":\"x\"}");
    yj("a: plain\n  continued\n", "{\"a\":\"plain continued\"}");
    /* JSON is YAML */
    yj("{\"a\": [1, 2.5, true, null, \"s\"]}", "{\"a\":[1,2.5,true,null,\"s\"]}");
    /* top-level scalars and lists */
    yj("hello", "\"hello\"");
    yj("- 1\n- 2\n", "[1,2]");
    /* duplicate keys: the last wins */
    yj("a: 1\na: 2\n", "{\"a\":2}");
    /* keys become strings */
    yj("1: a\ntrue: b\n1.5: c\nyes: d\n0x10: e\n\"q\": f\n",
       "{\"1\":\"a\",\"true\":\"d\",\"1.5\":\"c\",\"16\":\"e\",\"q\":\"f\"}");
    yj("1e6: big\n", "{\"1e+06\":\"big\"}");
    yerr("~: x\n", "yaml: line 1: unsupported map key: null");
    yerr("? [a]\n: x\n", "yaml: line 1: unsupported map key of type sequence");
}

static void test_anchors(void **state)
{
    yj("base: &b\n  x: 1\n  z: 2\nd:\n  <<: *b\n  z: 3\nl: &l [1, 2]\nm: *l\n",
       "{\"base\":{\"x\":1,\"z\":2},\"d\":{\"x\":1,\"z\":3},\"l\":[1,2],\"m\":[1,2]}");
    /* a list of merges: earlier maps win */
    yj("a: &a {k: 1, p: a}\nb: &b {k: 2, q: b}\nc:\n  <<: [*a, *b]\n",
       "{\"a\":{\"k\":1,\"p\":\"a\"},\"b\":{\"k\":2,\"q\":\"b\"},\"c\":{\"k\":1,\"q\":\"b\","
       "\"p\":\"a\"}}");
    /* a quoted "<<" is an ordinary key */
    yj("\"<<\": x\n", "{\"<<\":\"x\"}");
    /* anchored scalars, as values and keys */
    yj("a: &x key\nb: *x\n*x : 2\n", "{\"a\":\"key\",\"b\":\"key\",\"key\":2}");
    /* aliases are copies: changing one does not change the other */
    json_t *v;
    k1s_err_t err = {0};
    const char *y = "a: &a {x: 1}\nb: *a\n";
    assert_int_equal(k1s_yaml_to_json(y, strlen(y), &v, &err), 0);
    assert_ptr_not_equal(json_object_get(v, "a"), json_object_get(v, "b"));
    json_decref(v);
    yerr("a: *nope\n", "yaml: line 1: unknown anchor 'nope' referenced");
    yerr("a: &a 1\nb:\n  <<: *a\n",
         "yaml: line 3: map merge requires map or sequence of maps as the value");
    /* billion laughs */
    const char *bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
                       "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                       "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                       "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                       "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
    assert_int_equal(k1s_yaml_to_json(bomb, strlen(bomb), &v, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "excessive aliasing"));
}

static void test_errors(void **state)
{
    /* go-yaml's line numbering, quirks included */
    yerr("a: b: c\n", "yaml: mapping values are not allowed in this context");
    yerr("a: 1\nb: 2\n  c: 3\n", "yaml: line 3: mapping values are not allowed in this context");
    yerr("a:\n  b: 1\n c: 2\n", "yaml: line 2: did not find expected key");
    yerr("a: [1, 2\n", "yaml: line 1: did not find expected ',' or ']'");
    yerr("\tc: d\n", "yaml: found character that cannot start any token");
    yerr("a: \"unterminated\n", "yaml: line 2: found unexpected end of stream");
    yerr("a: 1\n---\nb: 2\n", "yaml: line 2: expected a single document, found more");
    /* deep nesting is refused, not a stack overflow */
    char deep[4100];
    memset(deep, '[', 4000);
    deep[4000] = 0;
    json_t *v;
    k1s_err_t err = {0};
    assert_int_equal(k1s_yaml_to_json(deep, strlen(deep), &v, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "exceeded max depth"));
}

static void test_documents(void **state)
{
    yj("", "null");
    yj("# just a comment\n", "null");
    yj("---\na: 1\n---\n", "{\"a\":1}");
    yj("---\n---\na: 1\n...\n", "{\"a\":1}");

    json_t *v;
    k1s_err_t err = {0};
    const char *y = "---\na: 1\n---\n# empty\n---\n- b\n---\nnull\n...\n";
    assert_int_equal(k1s_yaml_to_json_all(y, strlen(y), &v, &err), 0);
    json_t *w = J("[{\"a\":1},[\"b\"]]");
    assert_true(json_equal(v, w));
    json_decref(v);
    json_decref(w);
    y = "a: 1\n---\nb: [\n";
    assert_int_equal(k1s_yaml_to_json_all(y, strlen(y), &v, &err), -EINVAL);
    assert_int_equal(k1s_yaml_to_json(NULL, 0, &v, &err), 0);
    assert_true(json_is_null(v));
    json_decref(v);
    /* input need not be NUL-terminated */
    const char buf[] = {'a', ':', ' ', '1', 'x'};
    assert_int_equal(k1s_yaml_to_json(buf, 4, &v, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
}

/* Emits v as YAML, checks the text if want is given, and that it reads back equal. */
static void roundtrip(const char *json, const char *want)
{
    json_t *v = J(json);
    char *y = NULL;
    k1s_err_t err = {0};
    if (k1s_json_to_yaml(v, &y, &err) < 0)
        fail_msg("emit %s: %s", json, err.msg);
    if (want && strcmp(y, want) != 0)
        fail_msg("emit %s:\n%s\nwant\n%s", json, y, want);
    json_t *back = NULL;
    if (k1s_yaml_to_json(y, strlen(y), &back, &err) < 0)
        fail_msg("reading back\n%s: %s", y, err.msg);
    if (!json_equal(back, v))
        fail_msg("round trip of %s changed it:\n%s", json, y);
    free(y);
    json_decref(v);
    json_decref(back);
}

static void test_emit(void **state)
{
    roundtrip("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\"},"
              "\"spec\":{\"containers\":[{\"name\":\"c\",\"args\":[\"-x\",\"1\"]}]}}",
              "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n"
              "  - name: c\n    args:\n    - -x\n    - \"1\"\n");
    /* strings that would read back as other types are quoted */
    roundtrip("{\"a\":\"true\",\"b\":\"yes\",\"c\":\"123\",\"d\":\"\",\"e\":\"null\",\"f\":\"~\","
              "\"g\":\"1.5\",\"h\":\"0x10\",\"i\":\"n\",\"j\":\"2024-01-02\",\"k\":\"1_0\","
              "\"l\":\".inf\",\"yes\":1,\"<<\":2}",
              NULL);
    roundtrip("{\"a\":1,\"b\":-2.5,\"c\":1e300,\"d\":true,\"e\":null,\"f\":{},\"g\":[],"
              "\"h\":[[1,2],[]],\"i\":0.1}",
              "a: 1\nb: -2.5\nc: 1e+300\nd: true\ne: null\nf: {}\ng: []\nh:\n- - 1\n  - 2\n- []\n"
              "i: 0.1\n");
    /* an integral real stays a float in YAML (it reads back as an integer, as in Kubernetes) */
    json_t *r = J("{\"r\":2.0}");
    char *y;
    k1s_err_t err = {0};
    assert_int_equal(k1s_json_to_yaml(r, &y, &err), 0);
    assert_string_equal(y, "r: 2.0\n");
    free(y);
    json_decref(r);
    /* multi-line, special characters, unicode */
    roundtrip(
        "{\"script\":\"#!/bin/sh\\necho hi\\n\",\"s\":\"a: b\",\"t\":\"- x\",\"u\":\"héllo ✓\","
        "\"v\":\" lead\",\"w\":\"trail \",\"x\":\"tab\\there\",\"y\":\"#c\",\"z\":\"a\\u0000b\","
        "\"q\":\"'\\\"\",\"m\":\"x\\n\\n\",\"n\":\"\\n\"}",
        NULL);
    roundtrip("\"scalar\"", NULL);
    roundtrip("[1,\"a\"]", "- 1\n- a\n");
    roundtrip("null", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),   cmocka_unit_test(test_structure),
        cmocka_unit_test(test_anchors),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_documents), cmocka_unit_test(test_emit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
