/* Unit tests for src/api/selector.c: label and field selectors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/selector.h"

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s", s, je.text);
    return v;
}

/* Parses sel and matches it against the labels object given as JSON. */
static bool lmatch(const char *sel, const char *labels)
{
    k1s_err_t err = {0};
    k1s_label_selector_t *s = k1s_label_selector_parse(sel, &err);
    if (!s)
        fail_msg("parse %s: %s", sel, err.msg);
    json_t *l = labels ? J(labels) : NULL;
    bool m = k1s_label_selector_matches(s, l);
    json_decref(l);
    k1s_label_selector_free(s);
    return m;
}

static void parse_err(const char *sel, const char *want)
{
    k1s_err_t err = {0};
    k1s_label_selector_t *s = k1s_label_selector_parse(sel, &err);
    if (s) {
        k1s_label_selector_free(s);
        fail_msg("selector %s parsed, want error %s", sel, want);
    }
    assert_int_equal(err.code, EINVAL);
    if (!strstr(err.msg, want))
        fail_msg("selector %s: error %s, want %s", sel, err.msg, want);
}

static char *canon(const char *sel)
{
    k1s_err_t err = {0};
    k1s_label_selector_t *s = k1s_label_selector_parse(sel, &err);
    if (!s)
        fail_msg("parse %s: %s", sel, err.msg);
    char *str = k1s_label_selector_string(s);
    k1s_label_selector_free(s);
    return str;
}

static void test_label_match(void **state)
{
    const char *l = "{\"app\":\"web\",\"tier\":\"front\",\"n\":\"5\",\"x.io/role\":\"db\"}";
    assert_true(lmatch("", l));
    assert_true(lmatch("   ", NULL));
    assert_true(lmatch("app=web", l));
    assert_true(lmatch("app==web", l));
    assert_false(lmatch("app=db", l));
    assert_true(lmatch("app!=db", l));
    assert_false(lmatch("app!=web", l));
    assert_true(lmatch("missing!=x", l));
    assert_true(lmatch("app in (web, db)", l));
    assert_false(lmatch("app in (db)", l));
    assert_true(lmatch("app notin (db,x)", l));
    assert_true(lmatch("missing notin (db)", l));
    assert_false(lmatch("app notin (web)", l));
    assert_true(lmatch("app", l));
    assert_false(lmatch("missing", l));
    assert_true(lmatch("!missing", l));
    assert_false(lmatch("!app", l));
    assert_true(lmatch("app=web,tier=front", l));
    assert_false(lmatch("app=web,tier=back", l));
    assert_true(lmatch("  app = web ,  tier in(front)  ,!missing", l));
    assert_true(lmatch("x.io/role=db", l));
    assert_true(lmatch("n>4", l));
    assert_false(lmatch("n>5", l));
    assert_true(lmatch("n<6", l));
    assert_false(lmatch("app>1", l));
    assert_false(lmatch("app=web", NULL));
    assert_true(lmatch("app!=web", NULL));
    /* "in" and "notin" are plain identifiers where a key or value is expected */
    assert_true(lmatch("in=notin", "{\"in\":\"notin\"}"));
    assert_true(lmatch("a in (in,notin)", "{\"a\":\"in\"}"));
    /* empty values */
    assert_true(lmatch("a=", "{\"a\":\"\"}"));
    assert_true(lmatch("a in (,x)", "{\"a\":\"\"}"));
    assert_true(lmatch("a in ()", "{\"a\":\"\"}"));
    assert_true(lmatch("a=,b", "{\"a\":\"\",\"b\":\"1\"}"));
    assert_true(lmatch("a==", "{\"a\":\"\"}"));
}

static void test_label_errors(void **state)
{
    parse_err("=a", "found '=', expected: !, identifier, or 'end of string'");
    parse_err("a=b c", "found 'c', expected: ',' or 'end of string'");
    parse_err("a=b,", "found '', expected: identifier after ','");
    parse_err("a=b,,c", "found ',', expected: identifier after ','");
    parse_err("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt");
    parse_err("a in x", "found 'x' expected: '('");
    parse_err("a in (x", "found '', expected: ',' or ')'");
    parse_err("a in (x y)", "found 'y', expected: ',' or ')'");
    parse_err("a in (=)", "found '=', expected: ',', ')' or identifier");
    parse_err("a in (x,=)", "found '=', expected: ',', or identifier");
    parse_err("a=(", "found '(', expected: identifier");
    parse_err("!", "found '', expected: identifier");
    parse_err("!a=b", "found '=', expected: ',' or 'end of string'");
    parse_err("a>b", "for 'Gt', 'Lt' operators, the value must be an integer");
    parse_err("a/b/c=d", "invalid label key \"a/b/c\": a qualified name must consist of");
    parse_err("-a=b", "invalid label key \"-a\": name part must consist of alphanumeric");
    parse_err("Example.com/a=b", "prefix part a lowercase RFC 1123 subdomain");
    parse_err("/a=b", "prefix part must be non-empty");
    parse_err("a/=b", "name part must be non-empty");
    parse_err("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=b",
              "name part must be no more than 63 characters");
    parse_err("a=-b", "invalid label value: \"-b\": at key: \"a\": a valid label must be");
    parse_err("a in (x,-y)", "invalid label value: \"-y\"");
    parse_err("a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
              "must be no more than 63 characters");
}

static void test_label_string(void **state)
{
    char *s = canon("tier in (b, a, b),app=web,!z,n>3,x,y!=2,c==d");
    assert_string_equal(s, "app=web,c==d,n>3,tier in (a,b),x,y!=2,!z");
    free(s);
    s = canon("");
    assert_string_equal(s, "");
    free(s);
}

static void test_label_accessors(void **state)
{
    k1s_err_t err = {0};
    k1s_label_selector_t *s = k1s_label_selector_parse("a in (y,x,y),!b", &err);
    assert_non_null(s);
    assert_int_equal(k1s_label_selector_count(s), 2);
    assert_string_equal(k1s_label_selector_key(s, 0), "a");
    assert_int_equal(k1s_label_selector_op(s, 0), K1S_LABEL_IN);
    size_t n;
    const char *const *v = k1s_label_selector_values(s, 0, &n);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "x");
    assert_string_equal(v[1], "y");
    assert_int_equal(k1s_label_selector_op(s, 1), K1S_LABEL_DOES_NOT_EXIST);
    assert_false(k1s_label_selector_empty(s));
    k1s_label_selector_free(s);
    k1s_label_selector_free(NULL);
}

static void test_label_from_json(void **state)
{
    k1s_err_t err = {0};
    json_t *js = J("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
                   "{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]},"
                   "{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\"]},"
                   "{\"key\":\"track\",\"operator\":\"Exists\"},"
                   "{\"key\":\"old\",\"operator\":\"DoesNotExist\"}]}");
    k1s_label_selector_t *s = k1s_label_selector_from_json(js, &err);
    assert_non_null(s);
    json_t *l = J("{\"app\":\"web\",\"tier\":\"b\",\"track\":\"x\"}");
    assert_true(k1s_label_selector_matches(s, l));
    json_object_set_new(l, "old", json_string("1"));
    assert_false(k1s_label_selector_matches(s, l));
    json_decref(l);
    char *str = k1s_label_selector_string(s);
    assert_string_equal(str, "app=web,env notin (prod),!old,tier in (a,b),track");
    free(str);
    k1s_label_selector_free(s);
    json_decref(js);

    /* nil selector: nothing; empty selector: everything */
    s = k1s_label_selector_from_json(NULL, &err);
    assert_true(k1s_label_selector_nothing(s));
    assert_false(k1s_label_selector_empty(s));
    assert_false(k1s_label_selector_matches(s, NULL));
    k1s_label_selector_free(s);
    js = J("{}");
    s = k1s_label_selector_from_json(js, &err);
    assert_true(k1s_label_selector_empty(s));
    assert_true(k1s_label_selector_matches(s, NULL));
    k1s_label_selector_free(s);
    json_decref(js);

    js = J("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Foo\"}]}");
    assert_null(k1s_label_selector_from_json(js, &err));
    assert_string_equal(err.msg, "\"Foo\" is not a valid label selector operator");
    json_decref(js);
    js = J("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}");
    assert_null(k1s_label_selector_from_json(js, &err));
    assert_string_equal(err.msg, "for 'in', 'notin' operators, values set can't be empty");
    json_decref(js);
    js = J("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}");
    assert_null(k1s_label_selector_from_json(js, &err));
    assert_string_equal(err.msg, "values set must be empty for exists and does not exist");
    json_decref(js);
    js = J("{\"matchLabels\":{\"a b\":\"x\"}}");
    assert_null(k1s_label_selector_from_json(js, &err));
    assert_non_null(strstr(err.msg, "invalid label key \"a b\""));
    json_decref(js);
}

static void test_label_validate(void **state)
{
    k1s_err_t err = {0};
    assert_int_equal(k1s_label_validate_key("app.kubernetes.io/name", &err), 0);
    assert_int_equal(k1s_label_validate_key("a_b.C-9", &err), 0);
    assert_int_equal(k1s_label_validate_key("a_", &err), -EINVAL);
    assert_int_equal(k1s_label_validate_value("", &err), 0);
    assert_int_equal(k1s_label_validate_value("v1.2_3-x", &err), 0);
    assert_int_equal(k1s_label_validate_value("a b", &err), -EINVAL);
}

static k1s_field_selector_t *fparse(const char *s)
{
    k1s_err_t err = {0};
    k1s_field_selector_t *f = k1s_field_selector_parse(s, &err);
    if (!f)
        fail_msg("field selector %s: %s", s, err.msg);
    return f;
}

static void test_field_parse(void **state)
{
    k1s_field_selector_t *f =
        fparse("status.phase=Running,spec.nodeName!=n1,metadata.name==a\\,b\\=c\\\\");
    assert_int_equal(k1s_field_selector_count(f), 3);
    /* terms are sorted as Kubernetes sorts them */
    assert_string_equal(k1s_field_selector_field(f, 0), "metadata.name");
    assert_int_equal(k1s_field_selector_op(f, 0), K1S_FIELD_EQUALS);
    assert_string_equal(k1s_field_selector_value(f, 0), "a,b=c\\");
    assert_string_equal(k1s_field_selector_field(f, 1), "spec.nodeName");
    assert_int_equal(k1s_field_selector_op(f, 1), K1S_FIELD_NOT_EQUALS);
    assert_string_equal(k1s_field_selector_value(f, 1), "n1");
    assert_string_equal(k1s_field_selector_field(f, 2), "status.phase");
    assert_string_equal(k1s_field_selector_exact(f, "status.phase"), "Running");
    assert_null(k1s_field_selector_exact(f, "spec.nodeName"));
    char *s = k1s_field_selector_string(f);
    assert_string_equal(s, "metadata.name=a\\,b\\=c\\\\,spec.nodeName!=n1,status.phase=Running");
    free(s);
    k1s_field_selector_free(f);

    f = fparse("");
    assert_true(k1s_field_selector_empty(f));
    k1s_field_selector_free(f);
    f = fparse("a=,,b=");
    assert_int_equal(k1s_field_selector_count(f), 2);
    assert_string_equal(k1s_field_selector_value(f, 0), "");
    k1s_field_selector_free(f);

    k1s_err_t err = {0};
    assert_null(k1s_field_selector_parse("foo", &err));
    assert_string_equal(err.msg, "can't understand 'foo'");
    assert_null(k1s_field_selector_parse("a=b=c", &err));
    assert_string_equal(err.msg, "unescaped character in value: '='");
    assert_null(k1s_field_selector_parse("a=b\\x", &err));
    assert_string_equal(err.msg, "invalid escape sequence: \\x");
    assert_null(k1s_field_selector_parse("a=b\\", &err));
    assert_string_equal(err.msg, "invalid escape sequence: \\");
}

static const char *lookup(const char *field, void *arg)
{
    if (!strcmp(field, "spec.nodeName"))
        return "n1";
    if (!strcmp(field, "metadata.name"))
        return "web";
    return NULL;
}

static void test_field_match(void **state)
{
    k1s_field_selector_t *f = fparse("spec.nodeName=n1,metadata.name!=db");
    assert_true(k1s_field_selector_matches(f, lookup, NULL));
    k1s_field_selector_free(f);
    f = fparse("spec.nodeName=n2");
    assert_false(k1s_field_selector_matches(f, lookup, NULL));
    k1s_field_selector_free(f);
    f = fparse("status.phase=");
    assert_true(k1s_field_selector_matches(f, lookup, NULL)); /* missing matches "" */
    k1s_field_selector_free(f);
    assert_true(k1s_field_selector_matches(NULL, lookup, NULL));

    json_t *pod =
        J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"nodeName\":\"n1\","
          "\"hostNetwork\":true,\"prio\":7,\"r\":1.5},\"status\":{\"phase\":\"Running\"}}");
    f = fparse("spec.hostNetwork=true,status.phase=Running,spec.prio=7,spec.r=1.5,spec.x!=y");
    assert_true(k1s_field_selector_matches_json(f, pod));
    k1s_field_selector_free(f);
    f = fparse("spec.hostNetwork=false");
    assert_false(k1s_field_selector_matches_json(f, pod));
    k1s_field_selector_free(f);

    char buf[64];
    assert_string_equal(k1s_json_field_string(pod, "metadata.name", buf, sizeof(buf)), "p");
    assert_string_equal(k1s_json_field_string(pod, "spec.prio", buf, sizeof(buf)), "7");
    assert_null(k1s_json_field_string(pod, "spec", buf, sizeof(buf)));
    assert_null(k1s_json_field_string(pod, "spec.nodeName.x", buf, sizeof(buf)));
    assert_null(k1s_json_field_string(pod, "nope.x", buf, sizeof(buf)));
    json_decref(pod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_match),     cmocka_unit_test(test_label_errors),
        cmocka_unit_test(test_label_string),    cmocka_unit_test(test_label_accessors),
        cmocka_unit_test(test_label_from_json), cmocka_unit_test(test_label_validate),
        cmocka_unit_test(test_field_parse),     cmocka_unit_test(test_field_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
